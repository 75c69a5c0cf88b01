//! The VPP objects a host state needs, by stable key: what
//! [`compile`](Model::compile) derives from the [`HostState`] and what
//! [`observe`](super::observe) reads back from VPP, in one shape so the two
//! can be compared entry by entry.
//!
//! | contract | VPP |
//! |---|---|
//! | tenant | an IP table (v4 and v6) per tenant, id = tenant id (routing mode); in bridge mode one per network |
//! | network | a bridge domain (tag `cv:bd:<net>`), a BVI in the table with the gateway addresses, ARP termination in proxy-ARP mode |
//! | VXLAN network × peer | a VXLAN tunnel (this host's VTEP → peer, the VNI) in the bridge domain, split-horizon group 1 |
//! | VLAN network | a dot1q sub-interface of the uplink, tag popped, in the bridge domain |
//! | local endpoint | a TAP (container side in its namespace with MAC, addresses, gateway, MTU) in the bridge domain, a static l2fib entry, ARP-termination and neighbour entries, its group's ACLs, a policer for QoS |
//! | remote endpoint | a static l2fib entry to its VTEP's tunnel (or the uplink), ARP-termination and neighbour entries |
//! | policy | two ACLs per group with local members (see [`acl`]) |
//! | service | a cnat translation per VIP port (see [`services`]), an ARP-termination entry VIP → gateway MAC |

use super::acl;
use super::config::VppConfig;
use super::host::HostState;
use super::names::{self, AclKey, IfKey};
use crate::api::types::AclRule;
use contiv_core::datapath::{ArpMode, Attachment, Encap, FwdMode, NetworkSpec};
use contiv_core::ir::{NO_EPG, TenantId};
use ipnet::{IpNet, Ipv4Net, Ipv6Net};
use std::collections::{BTreeMap, BTreeSet};
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};

/// How an interface is created. A change means delete and create again.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Create {
    /// `bvi_create` with this MAC.
    Bvi {
        /// The gateway MAC.
        mac: [u8; 6],
    },
    /// `tap_create_v3`.
    Tap(TapSpec),
    /// `af_packet_create_v3` on an existing host interface.
    AfPacket {
        /// The host interface.
        host_if_name: String,
    },
    /// `vxlan_add_del_tunnel_v3`.
    Vxlan {
        /// This host's VTEP.
        src: IpAddr,
        /// The peer.
        dst: IpAddr,
        /// The VNI.
        vni: u32,
        /// UDP port.
        port: u16,
    },
    /// `create_vlan_subif` on the uplink.
    Vlan {
        /// The VLAN id.
        vlan: u16,
    },
}

/// A TAP's container side.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct TapSpec {
    /// Interface name on the host side (in the namespace).
    pub host_if_name: String,
    /// The namespace (`None`: the host's).
    pub host_ns: Option<String>,
    /// The container's MAC.
    pub host_mac: [u8; 6],
    /// IPv4 address/len.
    pub ip4: Option<Ipv4Net>,
    /// IPv6 address/len.
    pub ip6: Option<Ipv6Net>,
    /// IPv4 default gateway (not readable back from VPP).
    pub gw4: Option<Ipv4Addr>,
    /// IPv6 default gateway (not readable back from VPP).
    pub gw6: Option<Ipv6Addr>,
    /// MTU (0: VPP's default).
    pub mtu: u32,
}

impl TapSpec {
    /// Equal in everything VPP reports back (`sw_interface_tap_v2_dump`
    /// has no gateways: an observed TAP matches whatever gateway is
    /// desired).
    pub fn matches_observed(&self, observed: &TapSpec) -> bool {
        TapSpec {
            gw4: None,
            gw6: None,
            ..self.clone()
        } == TapSpec {
            gw4: None,
            gw6: None,
            ..observed.clone()
        }
    }
}

/// A policer (QoS of a local endpoint).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct PolicerSpec {
    /// Committed rate, kbit/s.
    pub cir_kbps: u32,
    /// Committed burst, bytes.
    pub cb_bytes: u64,
    /// DSCP to mark conforming packets with (0 = leave).
    pub dscp: u8,
}

/// One interface.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct IfSpec {
    /// How it is created.
    pub create: Create,
    /// IP table (both families), for BVIs.
    pub table: Option<u32>,
    /// Addresses (BVIs: the gateways).
    pub addrs: BTreeSet<IpNet>,
    /// Bridge membership: network, BVI port, split-horizon group.
    pub bridge: Option<(String, bool, u8)>,
    /// Pop one VLAN tag on ingress (VLAN sub-interfaces).
    pub pop1: bool,
    /// Input ACLs (traffic the endpoint sends).
    pub acl_in: Vec<AclKey>,
    /// Output ACLs (traffic to the endpoint).
    pub acl_out: Vec<AclKey>,
    /// Input policer.
    pub policer: Option<PolicerSpec>,
    /// Admin up.
    pub up: bool,
}

impl IfSpec {
    /// A spec with nothing but how it is created (admin down, unbridged).
    pub fn bare(create: Create) -> IfSpec {
        IfSpec {
            up: false,
            create,
            table: None,
            addrs: BTreeSet::new(),
            bridge: None,
            pop1: false,
            acl_in: Vec::new(),
            acl_out: Vec::new(),
            policer: None,
        }
    }

    fn new(create: Create) -> IfSpec {
        IfSpec {
            up: true,
            ..IfSpec::bare(create)
        }
    }
}

/// What identifies a cnat translation in VPP: VIP, port, IP protocol
/// (cnat keys its translations by these alone, in no table).
pub type CnatKey = (IpAddr, u16, u8);

/// One path of a cnat translation.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub struct CnatPath {
    /// The backend: address and port (`dst_ep`).
    pub backend: (IpAddr, u16),
    /// The source address the connection is translated to (`src_ep`;
    /// `None`: the client's is kept). This backend sets the service
    /// network's IPv4 gateway, so the backend's replies return through
    /// VPP, where cnat reverses the translation.
    pub snat: Option<IpAddr>,
}

/// One cnat translation (a contract service's port, see [`services`]):
/// its paths, sorted.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Translation {
    /// The paths (one per backend), sorted.
    pub paths: Vec<CnatPath>,
}

/// A bridge domain's settings (the rest are fixed: flood, unknown-unicast
/// flood, forward and learn on, no aging).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct BdSpec {
    /// ARP termination (proxy-ARP mode).
    pub arp_term: bool,
}

/// Everything, by key.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct Model {
    /// IP tables: (is_ip6, id) → name.
    pub tables: BTreeMap<(bool, u32), String>,
    /// Bridge domains by network.
    pub bds: BTreeMap<String, BdSpec>,
    /// Interfaces.
    pub ifaces: BTreeMap<IfKey, IfSpec>,
    /// Static l2fib: (network, MAC) → interface.
    pub l2fib: BTreeMap<(String, [u8; 6]), IfKey>,
    /// ARP termination: (network, IP) → MAC.
    pub arp: BTreeMap<(String, IpAddr), [u8; 6]>,
    /// Static neighbours on a network's BVI: (network, IP) → MAC.
    pub neigh: BTreeMap<(String, IpAddr), [u8; 6]>,
    /// ACLs.
    pub acls: BTreeMap<AclKey, Vec<AclRule>>,
    /// cnat translations by (VIP, port, protocol).
    pub services: BTreeMap<CnatKey, Translation>,
}

/// The table name of a VRF.
pub fn table_name(tenant: &str, id: u32) -> String {
    if id & 0x8000_0000 == 0 {
        names::tag("vrf", tenant)
    } else {
        names::tag("vrf", &format!("{tenant}/{id:x}"))
    }
}

fn net_vrf(h: &HostState, n: &NetworkSpec) -> u32 {
    names::vrf(
        h.global.fwd_mode == FwdMode::Routing,
        n.tenant_id,
        n.encap == Encap::Vxlan,
        n.vlan,
        n.vni,
    )
}

/// The default committed burst: 100 ms at the rate, at least one 1500-byte packet.
fn default_burst(kbps: u32) -> u64 {
    (u64::from(kbps) * 1000 / 8 / 10).max(1500)
}

impl Model {
    /// The topology part (everything but ACLs and ACL bindings): tables,
    /// bridge domains, interfaces, l2fib, ARP and neighbour entries, cnat
    /// translations.
    pub fn topology(h: &HostState, cfg: &VppConfig) -> Result<Model, String> {
        let mut m = Model::default();
        let proxy = h.global.arp_mode == ArpMode::Proxy;
        for n in h.networks.values() {
            let vrf = net_vrf(h, n);
            if vrf != 0 {
                for v6 in [false, true] {
                    m.tables.insert((v6, vrf), table_name(&n.tenant, vrf));
                }
            }
            m.bds.insert(n.key.clone(), BdSpec { arp_term: proxy });
            let mac = names::gateway_mac(&n.key);
            let mut bvi = IfSpec::new(Create::Bvi { mac });
            bvi.table = Some(vrf);
            if let (Some(s), Some(g)) = (n.subnet, n.gateway) {
                bvi.addrs.insert(IpNet::V4(
                    Ipv4Net::new(g, s.prefix_len()).map_err(|e| e.to_string())?,
                ));
                if proxy {
                    m.arp.insert((n.key.clone(), IpAddr::V4(g)), mac);
                }
            }
            if let (Some(s), Some(g)) = (n.subnet6, n.gateway6) {
                bvi.addrs.insert(IpNet::V6(
                    Ipv6Net::new(g, s.prefix_len()).map_err(|e| e.to_string())?,
                ));
                if proxy {
                    m.arp.insert((n.key.clone(), IpAddr::V6(g)), mac);
                }
            }
            bvi.bridge = Some((n.key.clone(), true, 0));
            m.ifaces.insert(IfKey::Bvi(n.key.clone()), bvi);
            match n.encap {
                Encap::Vlan if cfg.uplink.is_some() => {
                    let mut s = IfSpec::new(Create::Vlan { vlan: n.vlan });
                    s.bridge = Some((n.key.clone(), false, 0));
                    s.pop1 = true;
                    m.ifaces.insert(IfKey::Vlan(n.key.clone()), s);
                }
                Encap::Vlan => {}
                Encap::Vxlan => {
                    // One tunnel per peer (and per VTEP a remote endpoint
                    // names, should it not be a listed peer).
                    let vteps: BTreeSet<IpAddr> = h
                        .peers
                        .keys()
                        .copied()
                        .chain(
                            h.remote
                                .values()
                                .filter(|r| r.network == n.key)
                                .map(|r| r.vtep),
                        )
                        .filter(|ip| Some(*ip) != cfg.vtep_ip)
                        .collect();
                    if vteps.is_empty() {
                        continue;
                    }
                    let src = cfg.vtep_ip.ok_or_else(|| {
                        format!(
                            "network {} needs VXLAN tunnels to {} peer(s), but this host's VTEP address is not configured (--vtep-ip)",
                            n.key,
                            vteps.len()
                        )
                    })?;
                    for dst in vteps {
                        if dst.is_ipv4() != src.is_ipv4() {
                            return Err(format!(
                                "peer VTEP {dst} and this host's VTEP {src} are of different address families"
                            ));
                        }
                        let mut t = IfSpec::new(Create::Vxlan {
                            src,
                            dst,
                            vni: n.vni.unwrap_or(0),
                            port: cfg.vxlan_port,
                        });
                        // Split horizon: what came from one tunnel never
                        // floods back out another.
                        t.bridge = Some((n.key.clone(), false, 1));
                        m.ifaces.insert(IfKey::Vxlan(n.key.clone(), dst), t);
                    }
                }
            }
        }
        for e in h.local.values() {
            let Some(n) = h.networks.get(&e.network) else {
                continue;
            };
            let (key, create) = match &e.attachment {
                Attachment::Netns { netns, ifname } => (
                    IfKey::Tap(e.id.clone()),
                    Create::Tap(TapSpec {
                        host_if_name: ifname.clone(),
                        host_ns: Some(netns.to_string_lossy().into_owned()),
                        host_mac: e.mac.octets(),
                        ip4: e.ipv4,
                        ip6: e.ipv6,
                        gw4: n.gateway,
                        gw6: n.gateway6,
                        mtu: e.mtu,
                    }),
                ),
                Attachment::HostVeth { peer_name } => (
                    IfKey::Tap(e.id.clone()),
                    Create::Tap(TapSpec {
                        host_if_name: peer_name.clone(),
                        host_ns: None,
                        host_mac: e.mac.octets(),
                        ip4: None,
                        ip6: None,
                        gw4: None,
                        gw6: None,
                        mtu: e.mtu,
                    }),
                ),
                Attachment::Existing => (
                    IfKey::Host(e.id.clone()),
                    Create::AfPacket {
                        host_if_name: e.host_ifname.clone(),
                    },
                ),
            };
            let mut s = IfSpec::new(create);
            s.bridge = Some((n.key.clone(), false, 0));
            s.policer = e.qos.filter(|q| q.rate_kbps > 0 || q.dscp > 0).map(|q| {
                let cir = if q.rate_kbps == 0 {
                    u32::MAX
                } else {
                    q.rate_kbps
                };
                PolicerSpec {
                    cir_kbps: cir,
                    cb_bytes: if q.burst_kb == 0 {
                        default_burst(cir)
                    } else {
                        u64::from(q.burst_kb) * 1000 / 8
                    },
                    dscp: q.dscp,
                }
            });
            let mac = e.mac.octets();
            m.l2fib.insert((n.key.clone(), mac), key.clone());
            m.ifaces.insert(key, s);
            let ips = e
                .ipv4
                .map(|a| IpAddr::V4(a.addr()))
                .into_iter()
                .chain(e.ipv6.map(|a| IpAddr::V6(a.addr())));
            for ip in ips {
                if proxy {
                    m.arp.insert((n.key.clone(), ip), mac);
                }
                m.neigh.insert((n.key.clone(), ip), mac);
            }
        }
        for e in h.remote.values() {
            let Some(n) = h.networks.get(&e.network) else {
                continue;
            };
            let out = match n.encap {
                Encap::Vxlan if Some(e.vtep) != cfg.vtep_ip => {
                    Some(IfKey::Vxlan(n.key.clone(), e.vtep))
                }
                Encap::Vlan if cfg.uplink.is_some() => Some(IfKey::Vlan(n.key.clone())),
                _ => None,
            };
            let mac = e.mac.octets();
            if let Some(out) = out {
                m.l2fib.insert((n.key.clone(), mac), out);
            }
            let ips = e
                .ipv4
                .map(IpAddr::V4)
                .into_iter()
                .chain(e.ipv6.map(IpAddr::V6));
            for ip in ips {
                if proxy {
                    m.arp.insert((n.key.clone(), ip), mac);
                }
                m.neigh.insert((n.key.clone(), ip), mac);
            }
        }
        services(h, &mut m);
        Ok(m)
    }

    /// Binds each local endpoint's interface to its group's ACLs (input:
    /// the group's `out` rules, output: its `in` rules), for groups that
    /// have rules.
    pub fn bind_acls(&mut self, h: &HostState, groups_with_rules: &BTreeSet<(TenantId, u32)>) {
        for e in h.local.values() {
            let Some(n) = h.networks.get(&e.network) else {
                continue;
            };
            if e.epg == NO_EPG || !groups_with_rules.contains(&(n.tenant_id, e.epg)) {
                continue;
            }
            let key = match e.attachment {
                Attachment::Existing => IfKey::Host(e.id.clone()),
                _ => IfKey::Tap(e.id.clone()),
            };
            if let Some(s) = self.ifaces.get_mut(&key) {
                let (i, o) = acl::keys(n.tenant_id, e.epg);
                s.acl_in = vec![i];
                s.acl_out = vec![o];
            }
        }
    }

    /// The whole model of a host state.
    pub fn compile(h: &HostState, cfg: &VppConfig) -> Result<Model, String> {
        let mut m = Model::topology(h, cfg)?;
        let groups = acl::local_groups(h);
        let idx = acl::Index::new(&h.policy);
        for &(tenant, epg) in &groups {
            if idx.has_rules(tenant, epg) {
                for k in acl::keys_array(tenant, epg) {
                    m.acls.insert(k, idx.compile(&h.policy, k));
                }
            }
        }
        let with_rules: BTreeSet<_> = groups
            .into_iter()
            .filter(|(t, g)| idx.has_rules(*t, *g))
            .collect();
        m.bind_acls(h, &with_rules);
        Ok(m)
    }
}

/// The contract's services as cnat translations (added to `m`): one per
/// VIP port, its paths the backends' IPv4 addresses with the provider
/// port, their source translated to the network's IPv4 gateway (so the
/// backend's replies come back to VPP, where cnat reverses the
/// translation, instead of being bridged straight to a client on the
/// same network). The VIP gets an ARP-termination entry with the
/// gateway's MAC (termination switched on in either ARP mode: it floods
/// what it has no entry for), so clients send to the BVI.
///
/// Skipped (services are not a claimed capability of this backend: the
/// agent reports them as not enforced, and a service VPP cannot hold must
/// not fail the rest of the host's state): a service without backends
/// (nothing answers on its VIP, as the contract says), a service on a
/// network without an IPv4 gateway, and a VIP, port and protocol two
/// services name (cnat keys translations in no table: tenants with
/// overlapping addresses collide) — neither of those gets the translation.
pub fn services(h: &HostState, m: &mut Model) {
    let mut taken: BTreeMap<CnatKey, usize> = BTreeMap::new();
    for sv in h.services.values() {
        for p in &sv.ports {
            *taken
                .entry((IpAddr::V4(sv.vip), p.svc_port, p.protocol.ip_proto()))
                .or_default() += 1;
        }
    }
    for sv in h.services.values() {
        let Some(n) = h.networks.get(&sv.network) else {
            continue;
        };
        let Some(gw) = n.gateway else {
            continue;
        };
        let mut addrs: Vec<IpAddr> = sv
            .backends
            .iter()
            .filter_map(|b| h.endpoint_v4(b).and_then(|(_, a)| a).map(IpAddr::V4))
            .collect();
        addrs.sort();
        addrs.dedup();
        if addrs.is_empty() {
            continue;
        }
        let mut any = false;
        for p in &sv.ports {
            let key = (IpAddr::V4(sv.vip), p.svc_port, p.protocol.ip_proto());
            if taken.get(&key) != Some(&1) {
                continue;
            }
            let paths = addrs
                .iter()
                .map(|a| CnatPath {
                    backend: (*a, p.prov_port),
                    snat: Some(IpAddr::V4(gw)),
                })
                .collect();
            m.services.insert(key, Translation { paths });
            any = true;
        }
        if any {
            m.arp.insert(
                (n.key.clone(), IpAddr::V4(sv.vip)),
                names::gateway_mac(&n.key),
            );
            if let Some(bd) = m.bds.get_mut(&n.key) {
                bd.arp_term = true;
            }
        }
    }
}
