//! Data types of the [`Datapath`](super::Datapath) contract.

use crate::ir::{EpgId, PolicyDelta, PolicyIr, TenantId};
use ipnet::{Ipv4Net, Ipv6Net};
use serde::{Deserialize, Serialize};
use std::fmt;
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};
use std::path::PathBuf;
use std::str::FromStr;

/// Result alias for datapath operations.
pub type DpResult<T> = Result<T, DpError>;

/// Datapath failures.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum DpError {
    /// The operation is malformed or refers to something unknown (e.g. an
    /// endpoint on a network that was never added).
    #[error("invalid datapath operation: {0}")]
    InvalidArgument(String),
    /// The backend does not support this (see [`Capabilities`]).
    #[error("not supported by this datapath: {0}")]
    Unsupported(String),
    /// The host refused an interface operation (netns missing, name taken…).
    #[error("interface plumbing failed: {0}")]
    Plumbing(String),
    /// The switch/dataplane is unreachable or returned an error.
    #[error("datapath backend error: {0}")]
    Backend(String),
}

/// A 48-bit Ethernet address. Serialised as `aa:bb:cc:dd:ee:ff`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, Default)]
pub struct MacAddr(pub [u8; 6]);

impl MacAddr {
    /// Contiv's endpoint MAC: `02:02:` followed by the four IPv4 bytes.
    pub fn from_ipv4(ip: Ipv4Addr) -> Self {
        let o = ip.octets();
        MacAddr([0x02, 0x02, o[0], o[1], o[2], o[3]])
    }
    /// The raw bytes.
    pub fn octets(&self) -> [u8; 6] {
        self.0
    }
}

impl fmt::Display for MacAddr {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let b = self.0;
        write!(
            f,
            "{:02x}:{:02x}:{:02x}:{:02x}:{:02x}:{:02x}",
            b[0], b[1], b[2], b[3], b[4], b[5]
        )
    }
}

/// Error parsing a [`MacAddr`].
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("invalid MAC address {0:?}: expected six hex bytes separated by ':'")]
pub struct MacParseError(pub String);

impl FromStr for MacAddr {
    type Err = MacParseError;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let mut out = [0u8; 6];
        let mut parts = s.split([':', '-']);
        for b in out.iter_mut() {
            let p = parts.next().ok_or_else(|| MacParseError(s.to_owned()))?;
            if p.is_empty() || p.len() > 2 {
                return Err(MacParseError(s.to_owned()));
            }
            *b = u8::from_str_radix(p, 16).map_err(|_| MacParseError(s.to_owned()))?;
        }
        if parts.next().is_some() {
            return Err(MacParseError(s.to_owned()));
        }
        Ok(MacAddr(out))
    }
}

impl Serialize for MacAddr {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.collect_str(self)
    }
}

impl<'de> Deserialize<'de> for MacAddr {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let s = String::deserialize(d)?;
        s.parse().map_err(serde::de::Error::custom)
    }
}

/// ARP handling mode (global `arpMode`).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Default, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum ArpMode {
    /// Answer ARP for known endpoints in the datapath (default).
    #[default]
    Proxy,
    /// Flood ARP like any broadcast.
    Flood,
}

/// Forwarding mode (global `fwdMode`).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Default, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum FwdMode {
    /// L2 per network; no routing between networks.
    #[default]
    Bridge,
    /// L3 within a tenant (VRF).
    Routing,
}

/// Cluster-wide settings that affect every network on the host.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct GlobalSpec {
    /// ARP mode.
    pub arp_mode: ArpMode,
    /// Forwarding mode.
    pub fwd_mode: FwdMode,
}

impl FwdMode {
    /// The name used in the intent (`bridge`, `routing`).
    pub fn name(self) -> &'static str {
        match self {
            FwdMode::Bridge => "bridge",
            FwdMode::Routing => "routing",
        }
    }

    /// The capabilities realising this mode takes ([`Capability::Routing`]
    /// for `routing`, nothing for `bridge`).
    pub fn needs(self) -> &'static [Capability] {
        match self {
            FwdMode::Bridge => &[],
            FwdMode::Routing => &[Capability::Routing],
        }
    }
}

impl fmt::Display for FwdMode {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

impl GlobalSpec {
    /// The capabilities a datapath needs to realise these settings: what
    /// the agent checks before reporting ready, netmaster before accepting
    /// a mode switch, and a backend before accepting
    /// [`DpOp::SetGlobal`].
    pub fn needs(&self) -> &'static [Capability] {
        self.fwd_mode.needs()
    }

    /// Why a datapath called `datapath` with `caps` cannot realise these
    /// settings (`None`: it can). The message names the mode and the
    /// missing capabilities.
    pub fn refusal(&self, datapath: &str, caps: &Capabilities) -> Option<String> {
        let missing = caps.missing(self.needs());
        if missing.is_empty() {
            return None;
        }
        let names: Vec<&str> = missing.iter().map(|c| c.name()).collect();
        Some(format!(
            "forwarding mode {} is not implemented by the {datapath} datapath (it lacks {})",
            self.fwd_mode,
            names.join(", ")
        ))
    }
}

/// The host's router on the fabric (routing mode with a BGP hand-off): an
/// address on the uplink's untagged segment that the top-of-rack switch
/// peers with and routes the host's endpoints to. Traffic from the fabric
/// to an endpoint of `tenant_id` is routed in (no NAT); traffic of that
/// tenant to a prefix of an [`ExternalRoute`] leaves through the uplink.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct FabricSpec {
    /// The tenant (VRF) the fabric reaches: only its endpoints are
    /// routed to and from the fabric.
    pub tenant_id: TenantId,
    /// The router address with the fabric subnet's prefix length (the
    /// `Bgp` object's `routerip`, e.g. `50.1.1.1/24`).
    pub router: Ipv4Net,
}

impl FabricSpec {
    /// The MAC the host's router answers with on the fabric: `02:01`
    /// followed by the router's IPv4 address (never an endpoint's or a
    /// gateway's, which start `02:02`).
    pub fn router_mac(&self) -> MacAddr {
        let o = self.router.addr().octets();
        MacAddr([0x02, 0x01, o[0], o[1], o[2], o[3]])
    }
}

/// A route to an external prefix, learned from the fabric (BGP): traffic of
/// the fabric's tenant to `prefix` leaves through the uplink to
/// `next_hop`, which must be on the fabric subnet.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
pub struct ExternalRoute {
    /// The destination prefix (no host bits set).
    pub prefix: Ipv4Net,
    /// The next hop on the fabric subnet (the BGP neighbor).
    pub next_hop: Ipv4Addr,
}

/// Network encapsulation.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Encap {
    /// 802.1Q VLAN on the uplink.
    Vlan,
    /// VXLAN between VTEPs.
    Vxlan,
}

/// A network as a datapath needs it.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct NetworkSpec {
    /// The network key, `tenant:network`.
    pub key: String,
    /// The tenant name.
    pub tenant: String,
    /// The tenant's VRF id (cluster-wide, allocated by netmaster).
    pub tenant_id: TenantId,
    /// Encapsulation.
    pub encap: Encap,
    /// For `Vlan`: the 802.1Q VLAN id on the wire (`1..=4094`). For
    /// `Vxlan`: not used (the agent sends 0; a backend that needs a
    /// host-local VLAN inside its switch allocates it itself).
    pub vlan: u16,
    /// For `Vxlan`: the VNI.
    pub vni: Option<u32>,
    /// IPv4 subnet.
    pub subnet: Option<Ipv4Net>,
    /// IPv4 gateway, if the network has one.
    pub gateway: Option<Ipv4Addr>,
    /// IPv6 subnet.
    pub subnet6: Option<Ipv6Net>,
    /// IPv6 gateway.
    pub gateway6: Option<Ipv6Addr>,
}

/// How a local endpoint's interface reaches its container.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub enum Attachment {
    /// The datapath creates a veth pair, moves the container side into the
    /// network namespace at `netns`, renames it `ifname`, sets MAC, MTU,
    /// addresses and a default route via the network gateway (CNI).
    Netns {
        /// Path of the network namespace (e.g. `/var/run/netns/x`).
        netns: PathBuf,
        /// Interface name inside the namespace (e.g. `eth0`).
        ifname: String,
    },
    /// The datapath creates a veth pair and leaves the container side,
    /// named `peer_name`, in the host namespace with MAC and MTU set; the
    /// container runtime moves and addresses it (Docker CNM).
    HostVeth {
        /// Name of the container-side veth in the host namespace.
        peer_name: String,
    },
    /// The interface already exists on the host with this name (tests,
    /// pre-plumbed ports); the datapath only attaches it.
    Existing,
}

/// Ingress rate limit and DSCP marking (a netprofile).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Default, Serialize, Deserialize)]
pub struct Qos {
    /// Rate in kbit/s (0 = unlimited).
    pub rate_kbps: u32,
    /// Burst in kbit (0 = backend default).
    pub burst_kb: u32,
    /// DSCP to mark (0 = leave unchanged).
    pub dscp: u8,
}

impl Qos {
    /// The rate limit and marking of a netprofile (`None` if it asks for
    /// neither, or is invalid — validation refused it at creation).
    pub fn from_netprofile(p: &crate::model::Netprofile) -> Option<Qos> {
        let rate = p.bandwidth_kbps().ok().flatten().unwrap_or(0);
        let q = Qos {
            rate_kbps: u32::try_from(rate).unwrap_or(u32::MAX),
            burst_kb: u32::try_from(p.burst.max(0)).unwrap_or(u32::MAX),
            dscp: p.dscp_value().unwrap_or(0),
        };
        (q.rate_kbps != 0 || q.dscp != 0).then_some(q)
    }

    /// The capabilities enforcing this takes: [`Capability::QosBandwidth`]
    /// for a rate, [`Capability::QosDscp`] for a DSCP mark.
    pub fn needs(&self) -> Vec<Capability> {
        let mut v = Vec::new();
        if self.rate_kbps != 0 {
            v.push(Capability::QosBandwidth);
        }
        if self.dscp != 0 {
            v.push(Capability::QosDscp);
        }
        v
    }

    /// What of this a datapath with `caps` does not enforce.
    pub fn not_enforced(&self, caps: &Capabilities) -> Vec<Capability> {
        caps.missing(&self.needs())
    }
}

/// An endpoint on this host.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct LocalEndpoint {
    /// Endpoint id, unique in the cluster.
    pub id: String,
    /// The network key, `tenant:network`.
    pub network: String,
    /// The endpoint's EPG ([`crate::ir::NO_EPG`] if none).
    pub epg: EpgId,
    /// IPv4 address with the network's prefix length.
    pub ipv4: Option<Ipv4Net>,
    /// IPv6 address with prefix length.
    pub ipv6: Option<Ipv6Net>,
    /// MAC address.
    pub mac: MacAddr,
    /// Name of the host-side interface the switch attaches (≤ 15 bytes).
    pub host_ifname: String,
    /// How the container side is plumbed.
    pub attachment: Attachment,
    /// MTU of the container interface.
    pub mtu: u32,
    /// Optional rate limit / marking.
    pub qos: Option<Qos>,
}

/// An endpoint on another host.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct RemoteEndpoint {
    /// Endpoint id, unique in the cluster.
    pub id: String,
    /// The network key, `tenant:network`.
    pub network: String,
    /// The endpoint's EPG ([`crate::ir::NO_EPG`] if none).
    pub epg: EpgId,
    /// IPv4 address.
    pub ipv4: Option<Ipv4Addr>,
    /// IPv6 address.
    pub ipv6: Option<Ipv6Addr>,
    /// MAC address.
    pub mac: MacAddr,
    /// The VTEP (underlay address) of the host it lives on.
    pub vtep: IpAddr,
}

/// Another host's VTEP.
#[derive(Clone, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
pub struct VtepPeer {
    /// The peer's hostname (for naming and logs).
    pub host: String,
    /// Its underlay address.
    pub ip: IpAddr,
}

/// One idempotent datapath operation.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub enum DpOp {
    /// Set the global modes.
    SetGlobal(GlobalSpec),
    /// Add or replace a network.
    AddNetwork(NetworkSpec),
    /// Remove a network (by key) and anything still attached to it.
    RemoveNetwork(String),
    /// Add or replace a local endpoint.
    AddLocalEndpoint(LocalEndpoint),
    /// Remove a local endpoint (by id), including its interfaces.
    RemoveLocalEndpoint(String),
    /// Add or replace a remote endpoint.
    AddRemoteEndpoint(RemoteEndpoint),
    /// Remove a remote endpoint (by id).
    RemoveRemoteEndpoint(String),
    /// Add a peer VTEP.
    AddPeer(VtepPeer),
    /// Remove a peer VTEP (by address).
    RemovePeer(IpAddr),
    /// Apply a compiled-policy delta.
    Policy(PolicyDelta),
    /// Set (`Some`) or remove (`None`) the host's router on the fabric;
    /// removing it removes every [`ExternalRoute`].
    SetFabric(Option<FabricSpec>),
    /// Add or replace the route to a prefix (needs the fabric).
    AddRoute(ExternalRoute),
    /// Remove the route to a prefix.
    RemoveRoute(Ipv4Net),
}

/// Everything a host should have, for [`Datapath::resync`](super::Datapath::resync).
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct DesiredState {
    /// Global modes.
    pub global: GlobalSpec,
    /// Networks present on the host.
    pub networks: Vec<NetworkSpec>,
    /// Endpoints on this host.
    pub local_endpoints: Vec<LocalEndpoint>,
    /// Endpoints elsewhere that this host must reach.
    pub remote_endpoints: Vec<RemoteEndpoint>,
    /// Peer VTEPs.
    pub peers: Vec<VtepPeer>,
    /// The compiled policy relevant to this host.
    pub policy: PolicyIr,
    /// The host's router on the fabric (routing mode with BGP).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub fabric: Option<FabricSpec>,
    /// Routes learned from the fabric.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub routes: Vec<ExternalRoute>,
}

/// What a resync changed. Units are backend-defined (flows, map entries,
/// ports); zero `added` and `removed` means nothing was touched.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct ResyncReport {
    /// Entries created or updated.
    pub added: usize,
    /// Stale entries removed.
    pub removed: usize,
    /// Entries found already correct.
    pub unchanged: usize,
}

/// One thing a backend can do. A backend claims it in its
/// [`Capabilities`] only if the conformance suite (`contiv-policy`, feature
/// `testing`) shows it; what a backend does not claim, the agent reports
/// as not enforced instead of pretending.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
#[non_exhaustive]
pub enum Capability {
    /// Forwards real packets between endpoints (false for the recording
    /// reference, which only keeps state).
    ForwardsPackets,
    /// VXLAN networks across hosts (one tunnel per peer VTEP).
    Vxlan,
    /// VLAN networks over an uplink trunk.
    Vlan,
    /// Stateful (connection-tracking) policy: rules judge new connections,
    /// replies pass.
    StatefulPolicy,
    /// IPv6 endpoints, forwarding and rules.
    Ipv6,
    /// `arpMode=proxy`: the datapath answers ARP for known endpoints.
    ProxyArp,
    /// `arpMode=flood`: ARP is flooded like any broadcast.
    FloodArp,
    /// The network's IPv4 gateway address answers ARP and ping from the
    /// network's endpoints.
    Gateway,
    /// The network's IPv6 gateway address answers neighbour solicitations
    /// and ping from the network's endpoints.
    Gateway6,
    /// A netprofile's bandwidth is enforced on the endpoint.
    QosBandwidth,
    /// A netprofile's DSCP is marked on the endpoint's traffic.
    QosDscp,
    /// `fwdMode=routing`: L3 forwarding within a tenant (VRF) across its
    /// networks, through the networks' gateways, on one host and across
    /// hosts; tenants stay isolated and policy is judged by EPG as in
    /// bridge mode.
    Routing,
    /// The host's router on the fabric ([`FabricSpec`]) and routes learned
    /// from it ([`ExternalRoute`]): the BGP hand-off to a top-of-rack
    /// switch, no NAT either way.
    RoutedUplink,
}

impl Capability {
    /// Every capability, in declaration order.
    pub const ALL: [Capability; 13] = [
        Capability::ForwardsPackets,
        Capability::Vxlan,
        Capability::Vlan,
        Capability::StatefulPolicy,
        Capability::Ipv6,
        Capability::ProxyArp,
        Capability::FloodArp,
        Capability::Gateway,
        Capability::Gateway6,
        Capability::QosBandwidth,
        Capability::QosDscp,
        Capability::Routing,
        Capability::RoutedUplink,
    ];

    /// The name used in JSON, logs and `netctl` (`qos_bandwidth`).
    pub fn name(self) -> &'static str {
        match self {
            Capability::ForwardsPackets => "forwards_packets",
            Capability::Vxlan => "vxlan",
            Capability::Vlan => "vlan",
            Capability::StatefulPolicy => "stateful_policy",
            Capability::Ipv6 => "ipv6",
            Capability::ProxyArp => "proxy_arp",
            Capability::FloodArp => "flood_arp",
            Capability::Gateway => "gateway",
            Capability::Gateway6 => "gateway6",
            Capability::QosBandwidth => "qos_bandwidth",
            Capability::QosDscp => "qos_dscp",
            Capability::Routing => "routing",
            Capability::RoutedUplink => "routed_uplink",
        }
    }

    const fn bit(self) -> u64 {
        1 << (self as u32)
    }
}

impl fmt::Display for Capability {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

/// What a backend supports: a set of [`Capability`]. Serialised as the
/// list of names (`["vxlan", "vlan", …]`).
///
/// ```
/// use contiv_core::datapath::{Capabilities, Capability};
/// let caps = Capabilities::of(&[Capability::ForwardsPackets, Capability::Vxlan]);
/// assert!(caps.has(Capability::Vxlan) && !caps.has(Capability::QosBandwidth));
/// assert_eq!(caps.missing(&[Capability::Vxlan, Capability::Ipv6]), vec![Capability::Ipv6]);
/// ```
#[derive(Clone, Copy, Default, PartialEq, Eq, Hash)]
pub struct Capabilities(u64);

impl Capabilities {
    /// Nothing.
    pub const NONE: Capabilities = Capabilities(0);

    /// The set of `caps`.
    pub const fn of(caps: &[Capability]) -> Capabilities {
        let mut bits = 0;
        let mut i = 0;
        while i < caps.len() {
            bits |= caps[i].bit();
            i += 1;
        }
        Capabilities(bits)
    }

    /// This set plus `c`.
    pub const fn with(self, c: Capability) -> Capabilities {
        Capabilities(self.0 | c.bit())
    }

    /// This set without `c`.
    pub fn without(self, c: Capability) -> Capabilities {
        Capabilities(self.0 & !c.bit())
    }

    /// Whether `c` is in the set.
    pub fn has(&self, c: Capability) -> bool {
        self.0 & c.bit() != 0
    }

    /// The members of `needed` not in the set, in order.
    pub fn missing(&self, needed: &[Capability]) -> Vec<Capability> {
        needed.iter().copied().filter(|c| !self.has(*c)).collect()
    }

    /// The members, in [`Capability::ALL`] order.
    pub fn iter(&self) -> impl Iterator<Item = Capability> + '_ {
        Capability::ALL.into_iter().filter(|c| self.has(*c))
    }
}

impl fmt::Debug for Capabilities {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_set().entries(self.iter()).finish()
    }
}

impl Serialize for Capabilities {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.collect_seq(self.iter())
    }
}

impl<'de> Deserialize<'de> for Capabilities {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let v = Vec::<Capability>::deserialize(d)?;
        Ok(Capabilities::of(&v))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn mac_roundtrip_and_contiv_derivation() {
        let m = MacAddr::from_ipv4("10.1.2.3".parse().unwrap());
        assert_eq!(m.to_string(), "02:02:0a:01:02:03");
        assert_eq!("02:02:0a:01:02:03".parse::<MacAddr>().unwrap(), m);
        assert!("02:02:0a:01:02".parse::<MacAddr>().is_err());
        assert!("02:02:0a:01:02:03:04".parse::<MacAddr>().is_err());
        assert!("zz:02:0a:01:02:03".parse::<MacAddr>().is_err());
        let j = serde_json::to_string(&m).unwrap();
        assert_eq!(j, "\"02:02:0a:01:02:03\"");
        assert_eq!(serde_json::from_str::<MacAddr>(&j).unwrap(), m);
    }

    #[test]
    fn capabilities_are_a_set_serialised_by_name() {
        let c = Capabilities::of(&[Capability::Vxlan, Capability::QosDscp]);
        assert_eq!(
            serde_json::to_string(&c).unwrap(),
            r#"["vxlan","qos_dscp"]"#
        );
        let back: Capabilities = serde_json::from_str(r#"["qos_dscp","vxlan"]"#).unwrap();
        assert_eq!(back, c);
        assert!(!c.without(Capability::Vxlan).has(Capability::Vxlan));
        for (i, x) in Capability::ALL.iter().enumerate() {
            assert_eq!(*x as usize, i);
            assert_eq!(
                serde_json::to_string(x).unwrap(),
                format!("\"{}\"", x.name())
            );
        }
    }
}
