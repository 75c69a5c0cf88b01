//! Data types of the [`Datapath`](super::Datapath) contract.

use crate::ir::{EpgId, PolicyDelta, PolicyIr, TenantId};
use crate::model::{PortSpec, ServiceProtocol};
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
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct GlobalSpec {
    /// ARP mode.
    pub arp_mode: ArpMode,
    /// Forwarding mode.
    pub fwd_mode: FwdMode,
    /// The host-private subnet (global `pvtSubnet`, default
    /// `172.19.0.0/16`) a backend may use on the host for
    /// [external access](NetworkSpec::external) — e.g. one address per
    /// tenant to keep overlapping tenants apart before the host's own
    /// SNAT. It never appears on the wire outside the host.
    #[serde(default = "default_private_subnet")]
    pub private_subnet: Ipv4Net,
}

/// The original's default `pvtSubnet`.
pub const DEFAULT_PRIVATE_SUBNET: Ipv4Net = match Ipv4Net::new(Ipv4Addr::new(172, 19, 0, 0), 16) {
    Ok(n) => n,
    Err(_) => panic!("a valid constant"),
};

fn default_private_subnet() -> Ipv4Net {
    DEFAULT_PRIVATE_SUBNET
}

impl Default for GlobalSpec {
    fn default() -> Self {
        GlobalSpec {
            arp_mode: ArpMode::default(),
            fwd_mode: FwdMode::default(),
            private_subnet: DEFAULT_PRIVATE_SUBNET,
        }
    }
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
    /// External access (on for the original's `data` networks, off for
    /// `infra` ones): IPv4 traffic from the network's local endpoints to
    /// addresses outside every network the host knows leaves through the
    /// host with its source translated to the host's address (the address
    /// of the interface the host routes it out of; stateful — replies come
    /// back), and the host reaches the network's local endpoints by their
    /// addresses (what [published ports](PublishedPort) and CNI's `portmap`
    /// plugin DNAT to). Traffic to another network's subnet — of this
    /// tenant or any other — never takes this path. Needs
    /// [`Capability::EgressNat`] (egress) and [`Capability::PublishedPorts`]
    /// (the host reaching in).
    #[serde(default)]
    pub external: bool,
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

/// Rate limit and DSCP marking (a netprofile).
///
/// * **Bandwidth** ([`Capability::QosBandwidth`]): the endpoint's traffic
///   is shaped to `rate_kbps` in **each** direction — what it sends and
///   what it receives — with bursts of up to `burst_kb` above the rate.
///   Excess is queued, then dropped (a shaper, so TCP settles at the rate).
/// * **DSCP** ([`Capability::QosDscp`]): the IPv4/IPv6 packets the endpoint
///   sends carry `dscp` in their DS field, on every hop the datapath
///   forwards them over (VXLAN copies it to the outer header).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Default, Serialize, Deserialize)]
pub struct Qos {
    /// Rate in kbit/s (0 = unlimited).
    pub rate_kbps: u32,
    /// Burst in kbit (0 = backend default: at least one MTU-sized packet
    /// and about 10 ms at the rate).
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

/// A load-balanced service (a serviceLB): connections to `vip` on one of
/// its `ports` go to one of its `backends`.
///
/// Semantics every backend realises (capability [`Capability::Services`]):
/// * **DNAT, stateful, one backend per connection**: the first packet of a
///   connection from any endpoint on the service's network to `vip:svc_port`
///   (protocol as given) picks one backend and is rewritten to
///   `backend:prov_port`; every later packet of that connection goes to the
///   same backend, and replies come back with the source rewritten to
///   `vip:svc_port` (reverse translation). Connections are spread over the
///   backends (not necessarily evenly).
/// * **Backends follow the endpoints**: a backend is an endpoint (local or
///   remote) on the service's network, by id; its address is the
///   endpoint's IPv4 address. (The network is the service's L2 domain:
///   clients and backends meet there, whatever the forwarding mode.) Removing
///   the endpoint removes it from every service (no new connection goes to
///   it); an updated backend list takes effect for new connections only —
///   established ones stay where they are until they end.
/// * **Policy is judged on the backend**: the translated packet meets the
///   policy as a packet from the client to the backend (the backend's
///   endpoint group, its `in` rules where it lives, the client's `out`
///   rules towards the backend's group), as the original did.
/// * **Hairpin**: a backend reaching its own service works, also when it
///   is picked itself (the backend then sees the connection coming from
///   the VIP).
/// * The VIP answers ARP on its network; a VIP port not in `ports` and a
///   service without backends get no answer.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct ServiceSpec {
    /// The service key, `tenant:service`.
    pub key: String,
    /// The network key the VIP belongs to (`tenant:network`); the service
    /// serves that network's endpoints.
    pub network: String,
    /// The virtual IP (inside the network's IPv4 subnet).
    pub vip: Ipv4Addr,
    /// Port mappings `svc_port` → `prov_port`, each TCP or UDP.
    pub ports: Vec<PortSpec>,
    /// The backends: ids of endpoints on the service's network that have
    /// an IPv4 address, in any order, each once.
    pub backends: Vec<String>,
}

/// What identifies a [`PublishedPort`] on a host: protocol, host address
/// (`None` = every address of the host) and host port.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
pub struct PublishedKey {
    /// TCP or UDP.
    pub protocol: ServiceProtocol,
    /// The host address it is bound to (`None`: all of them).
    pub host_ip: Option<Ipv4Addr>,
    /// The host port.
    pub host_port: u16,
}

impl fmt::Display for PublishedKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let proto = match self.protocol {
            ServiceProtocol::Tcp => "tcp",
            ServiceProtocol::Udp => "udp",
        };
        match self.host_ip {
            Some(ip) => write!(f, "{proto}/{ip}:{}", self.host_port),
            None => write!(f, "{proto}/*:{}", self.host_port),
        }
    }
}

/// A port of the host published to a local endpoint (Docker `-p
/// host_port:port`): connections to the host's address on `host_port`
/// (from outside the host or from the host itself) are translated to the
/// endpoint's IPv4 address and `port`; replies are translated back. The
/// endpoint's network must have [external access](NetworkSpec::external).
/// Capability [`Capability::PublishedPorts`].
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct PublishedPort {
    /// The local endpoint's id.
    pub endpoint: String,
    /// TCP or UDP.
    pub protocol: ServiceProtocol,
    /// The host address (`None`: every address of the host).
    pub host_ip: Option<Ipv4Addr>,
    /// The host port (not 0).
    pub host_port: u16,
    /// The endpoint's port (not 0).
    pub port: u16,
}

impl PublishedPort {
    /// Its identity on the host.
    pub fn key(&self) -> PublishedKey {
        PublishedKey {
            protocol: self.protocol,
            host_ip: self.host_ip,
            host_port: self.host_port,
        }
    }

    /// Checks the published ports of endpoint `endpoint` as a set: each
    /// names `endpoint`, neither port is 0, and no two
    /// [overlap](PublishedKey::overlaps) on the host. The message says
    /// which port is wrong.
    pub fn check_set(endpoint: &str, ports: &[PublishedPort]) -> Result<(), String> {
        for (i, p) in ports.iter().enumerate() {
            let k = p.key();
            if p.endpoint != endpoint {
                return Err(format!(
                    "published port {k} names endpoint {}, not {endpoint}",
                    p.endpoint
                ));
            }
            if p.host_port == 0 || p.port == 0 {
                return Err(format!(
                    "published port {k}: the host port and the endpoint's port must not be 0"
                ));
            }
            if let Some(q) = ports[..i].iter().find(|q| q.key().overlaps(&k)) {
                return Err(format!(
                    "published port {k} overlaps {} on the host",
                    q.key()
                ));
            }
        }
        Ok(())
    }
}

impl PublishedKey {
    /// Whether two published ports would take the same connections: same
    /// protocol and host port, and the same host address or either on
    /// every address.
    pub fn overlaps(&self, other: &PublishedKey) -> bool {
        self.protocol == other.protocol
            && self.host_port == other.host_port
            && (self.host_ip.is_none() || other.host_ip.is_none() || self.host_ip == other.host_ip)
    }
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
    /// Add or replace a service (by key).
    AddService(ServiceSpec),
    /// Remove a service (by key).
    RemoveService(String),
    /// Add or replace a published port (by [`PublishedKey`]).
    AddPublishedPort(PublishedPort),
    /// Remove a published port.
    RemovePublishedPort(PublishedKey),
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
    /// Services.
    #[serde(default)]
    pub services: Vec<ServiceSpec>,
    /// Published ports of local endpoints.
    #[serde(default)]
    pub published: Vec<PublishedPort>,
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
    /// Services: stateful DNAT from a VIP to backends, one backend per
    /// connection, hairpin (see [`ServiceSpec`]).
    Services,
    /// External access out: traffic to outside the cluster's networks is
    /// SNATed to the host's address (see [`NetworkSpec::external`]).
    EgressNat,
    /// External access in: [published ports](PublishedPort), and the host
    /// reaching local endpoints of networks with external access (CNI
    /// `portmap`).
    PublishedPorts,
    /// External access out keeps tenants apart when their endpoints share
    /// an address on one host (overlapping subnets): each reaches the
    /// outside, and the replies come back to the right one. Without it,
    /// only one endpoint of such an address gets out; the agent reports
    /// the others as not enforced.
    EgressNatOverlapping,
    /// IPv4 datagrams larger than the MTU through a service: every
    /// fragment of a datagram to a VIP reaches the backend its first
    /// fragment chose, translated, and a fragmented answer comes back from
    /// the VIP. Without it, a UDP service answers only datagrams that fit
    /// in one packet; the agent reports its UDP services as not enforced
    /// (`service_fragments`).
    ServiceFragments,
}

impl Capability {
    /// Every capability, in declaration order.
    pub const ALL: [Capability; 18] = [
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
        Capability::Services,
        Capability::EgressNat,
        Capability::PublishedPorts,
        Capability::EgressNatOverlapping,
        Capability::ServiceFragments,
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
            Capability::Services => "services",
            Capability::EgressNat => "egress_nat",
            Capability::PublishedPorts => "published_ports",
            Capability::EgressNatOverlapping => "egress_nat_overlapping",
            Capability::ServiceFragments => "service_fragments",
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
