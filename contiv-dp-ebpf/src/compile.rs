//! From the host state to map entries: what each object contributes
//! ([`Contrib`]), the flood list of a network and the rule list of a group.
//! Pure functions of their inputs.

use crate::abi::{self, *};
use crate::sets::SetIds;
use crate::tables::SetEntry;
use contiv_core::datapath::{Encap, LocalEndpoint, MacAddr, NetworkSpec, Qos, RemoteEndpoint};
use contiv_core::ir::{AddrSet, Direction, IrRule, PeerMatch, TenantId};
use contiv_core::linux::shaping;
use std::net::IpAddr;

/// The key of a network in the maps.
pub fn net_tag(n: &NetworkSpec) -> u32 {
    match n.encap {
        Encap::Vxlan => NET_TAG_VXLAN | (n.vni.unwrap_or(0) & 0x00ff_ffff),
        Encap::Vlan => NET_TAG_VLAN | u32::from(n.vlan & 0x0fff),
    }
}

/// The gateway's MAC: `02:02:` + the IPv4 gateway (as contiv derives
/// endpoint MACs), else + the last four bytes of the IPv6 gateway. The same
/// on every host, so a moved container keeps a valid neighbour entry.
pub fn gateway_mac(n: &NetworkSpec) -> Option<MacAddr> {
    if let Some(g) = n.gateway {
        return Some(MacAddr::from_ipv4(g));
    }
    n.gateway6.map(|g| {
        let o = g.octets();
        MacAddr([0x02, 0x02, o[12], o[13], o[14], o[15]])
    })
}

/// The network entry.
pub fn network(n: &NetworkSpec) -> Network {
    let mut e = Network {
        tenant: n.tenant_id,
        vni: n.vni.unwrap_or(0),
        ..Network::default()
    };
    if n.encap == Encap::Vlan {
        e.vlan = n.vlan;
        e.flags |= NET_VLAN;
    }
    if let Some(g) = n.gateway {
        e.flags |= NET_GW4;
        e.gw4 = ip4_word(g);
    }
    if let Some(g) = n.gateway6 {
        e.flags |= NET_GW6;
        e.gw6 = IpKey::of(g.into());
    }
    if let Some(m) = gateway_mac(n) {
        e.gw_mac = m.0;
    }
    e
}

/// Token bucket parameters of a QoS spec: (bytes/s, burst bytes), for the
/// programs' policer of what an endpoint without a shaped container side
/// sends. The burst is at least 64 KiB + one frame, so a full GSO packet
/// can pass.
pub fn bucket(q: &Qos) -> (u64, u64) {
    let rate = u64::from(q.rate_kbps) * 1000 / 8;
    let burst = if q.burst_kb == 0 {
        rate / 10
    } else {
        u64::from(q.burst_kb) * 1000 / 8
    };
    (rate, burst.max(65536 + 1514))
}

/// What one object puts in the maps.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct Contrib {
    /// `interfaces`.
    pub ifaces: Vec<(u32, Iface)>,
    /// `networks`.
    pub networks: Vec<(u32, Network)>,
    /// `vnis`.
    pub vnis: Vec<(u32, u32)>,
    /// `endpoints`.
    pub endpoints: Vec<(EpKey, Target)>,
    /// `macs`.
    pub macs: Vec<(MacKey, Target)>,
    /// `membership`.
    pub members: Vec<(MemberKey, u32)>,
    /// `addr_sets`.
    pub sets: Vec<(SetEntry, u32)>,
    /// `set_ids`.
    pub set_ids: Vec<(u32, u64)>,
    /// `ep_stats` keys.
    pub ep_stats: Vec<(u32, ())>,
    /// `rule_stats` keys.
    pub rule_stats: Vec<(u64, ())>,
    /// `buckets` keys.
    pub buckets: Vec<(u32, ())>,
    /// `services` (see [`crate::service`]).
    pub services: Vec<(crate::service::SvcKey, crate::service::Svc)>,
    /// `svc_vips`.
    pub vips: Vec<(EpKey, u32)>,
}

/// Entries of the `SET_INTERNAL` address set: the subnets no packet
/// reaches through the host port (every network's, the private subnet).
/// One object contributes them all (tenants may share a subnet).
pub fn internal_contrib(subnets: impl IntoIterator<Item = ipnet::Ipv4Net>) -> Contrib {
    let all: std::collections::BTreeSet<ipnet::Ipv4Net> =
        subnets.into_iter().map(|n| n.trunc()).collect();
    Contrib {
        sets: all
            .into_iter()
            .map(|n| {
                let data = SetData {
                    set: SET_INTERNAL,
                    ip: IpKey::of(IpAddr::V4(n.network())),
                };
                ((32 + 96 + u32::from(n.prefix_len()), data), 1)
            })
            .collect(),
        ..Contrib::default()
    }
}

/// A network's entries.
pub fn network_contrib(n: &NetworkSpec) -> Contrib {
    let tag = net_tag(n);
    let mut c = Contrib {
        networks: vec![(tag, network(n))],
        ..Contrib::default()
    };
    if n.encap == Encap::Vxlan
        && let Some(v) = n.vni
    {
        c.vnis.push((v, tag));
    }
    c
}

fn ep_addrs(v4: Option<IpAddr>, v6: Option<IpAddr>) -> impl Iterator<Item = IpAddr> {
    v4.into_iter().chain(v6)
}

/// A local endpoint's entries (its host side is `ifindex`); with external
/// access also its `{NET_TAG_HOST, IPv4}` entry.
pub fn local_contrib(ep: &LocalEndpoint, n: &NetworkSpec, ifindex: u32, owned: bool) -> Contrib {
    let tag = net_tag(n);
    let mut iface = Iface {
        net: tag,
        tenant: n.tenant_id,
        epg: ep.epg,
        mac: ep.mac.0,
        ..Iface::default()
    };
    if let Some(a) = ep.ipv4 {
        iface.flags |= IF_V4;
        iface.ip4 = ip4_word(a.addr());
    }
    if let Some(a) = ep.ipv6 {
        iface.flags |= IF_V6;
        iface.ip6 = IpKey::of(a.addr().into());
    }
    if owned {
        iface.flags |= IF_OWNED;
    }
    let mut c = Contrib::default();
    let mut flags = 0;
    if let Some(q) = &ep.qos {
        iface.dscp = q.dscp & 0x3f;
        if q.rate_kbps > 0 {
            // What it receives: a tbf on the host side's egress, which
            // delivery must then pass through.
            flags |= TARGET_F_QDISC;
            // What it sends: a tbf on its container side where there is
            // one to shape; the programs police it where there is not.
            if !shaping::shapes_what_it_sends(ep) {
                let (rate, burst) = bucket(q);
                iface.rate_bps = rate;
                iface.burst = burst;
                c.buckets.push((ifindex, ()));
            }
        }
    }
    let t = Target {
        kind: TARGET_LOCAL,
        ifindex,
        epg: ep.epg,
        mac: ep.mac.0,
        flags,
        ..Target::default()
    };
    c.ifaces.push((ifindex, iface));
    for ip in ep_addrs(
        ep.ipv4.map(|a| a.addr().into()),
        ep.ipv6.map(|a| a.addr().into()),
    ) {
        c.endpoints.push((
            EpKey {
                net: tag,
                ip: IpKey::of(ip),
            },
            t,
        ));
    }
    // External access: reachable from (and sending through) the host port.
    if n.external
        && let Some(a) = ep.ipv4
    {
        c.endpoints.push((
            EpKey {
                net: NET_TAG_HOST,
                ip: IpKey::of(a.addr().into()),
            },
            t,
        ));
    }
    c.macs.push((mac_key(tag, ep.mac), t));
    c.ep_stats.push((ifindex, ()));
    c
}

fn mac_key(net: u32, m: MacAddr) -> MacKey {
    MacKey {
        net,
        mac: m.0,
        pad: [0; 2],
    }
}

/// A remote endpoint's entries: behind its VTEP (VXLAN) or the uplink
/// (VLAN).
pub fn remote_contrib(ep: &RemoteEndpoint, n: &NetworkSpec) -> Contrib {
    let tag = net_tag(n);
    let t = Target {
        kind: match n.encap {
            Encap::Vxlan => TARGET_VXLAN,
            Encap::Vlan => TARGET_UPLINK,
        },
        epg: ep.epg,
        mac: ep.mac.0,
        vtep: IpKey::of(ep.vtep),
        ..Target::default()
    };
    let mut c = Contrib::default();
    for ip in ep_addrs(ep.ipv4.map(IpAddr::V4), ep.ipv6.map(IpAddr::V6)) {
        c.endpoints.push((
            EpKey {
                net: tag,
                ip: IpKey::of(ip),
            },
            t,
        ));
    }
    c.macs.push((mac_key(tag, ep.mac), t));
    c
}

/// A membership entry.
pub fn member_contrib(tenant: TenantId, ip: IpAddr, epg: u32) -> Contrib {
    Contrib {
        members: vec![(
            MemberKey {
                tenant,
                ip: IpKey::of(ip),
            },
            epg,
        )],
        ..Contrib::default()
    }
}

/// An address set's LPM entries and registry entry (its id is `id`).
pub fn set_contrib(s: &AddrSet, id: u32, name_hash: u64) -> Contrib {
    let mut c = Contrib {
        set_ids: vec![(id, name_hash)],
        ..Contrib::default()
    };
    for p in &s.prefixes {
        let (set, len) = match p {
            ipnet::IpNet::V4(n) => (id, 32 + 96 + u32::from(n.prefix_len())),
            ipnet::IpNet::V6(n) => (id | SET_V6, 32 + u32::from(n.prefix_len())),
        };
        let data = SetData {
            set,
            ip: IpKey::of(p.network()),
        };
        c.sets.push(((len, data), 1));
    }
    c
}

/// A rule's counters.
pub fn rule_contrib(r: &IrRule) -> Contrib {
    Contrib {
        rule_stats: vec![(r.id.0, ())],
        ..Contrib::default()
    }
}

/// The list a rule belongs to: {tenant, owner EPG, direction}.
pub fn rule_group(r: &IrRule) -> ListKey {
    let dir = match r.direction {
        Direction::In => DIR_IN,
        Direction::Out => DIR_OUT,
    };
    ListKey {
        k: [r.tenant, r.epg, dir],
    }
}

/// The order within a group: priority descending, deny before allow, id
/// ascending — so the first match is the oracle's deciding rule.
pub type RuleOrder = (std::cmp::Reverse<u8>, u8, u64);

/// The sort key of a rule.
pub fn rule_order(r: &IrRule) -> RuleOrder {
    let deny_first = match r.action {
        contiv_core::ir::Action::Deny => 0,
        contiv_core::ir::Action::Allow => 1,
    };
    (std::cmp::Reverse(r.priority), deny_first, r.id.0)
}

/// The list entry of a rule; `None` if a set it names has no id (the IR
/// check refuses such rules before they get here).
pub fn rule_entry(r: &IrRule, sets: &SetIds) -> Option<abi::Rule> {
    let mut e = abi::Rule {
        id: r.id.0,
        priority: r.priority,
        action: match r.action {
            contiv_core::ir::Action::Allow => ACT_ALLOW,
            contiv_core::ir::Action::Deny => ACT_DENY,
        },
        ..abi::Rule::default()
    };
    match &r.peer {
        PeerMatch::Any => e.peer_kind = PEER_ANY,
        PeerMatch::Epg(g) => {
            e.peer_kind = PEER_EPG;
            e.peer = *g;
        }
        PeerMatch::AddrSet(s) => {
            e.peer_kind = PEER_SET;
            e.peer = sets.get(s)?;
        }
    }
    if let Some(s) = &r.local {
        e.local_set = sets.get(s)?;
    }
    if let Some(p) = r.proto {
        e.flags |= RULE_PROTO;
        e.proto = p;
    }
    if let Some(p) = r.ports {
        e.flags |= RULE_PORTS;
        e.port_lo = p.start;
        e.port_hi = p.end;
    }
    Some(e)
}

/// A network's flood list: its local endpoints (by ifindex), then every
/// peer VTEP (VXLAN) or the uplink (VLAN).
pub fn flood_list(
    n: &NetworkSpec,
    locals: impl Iterator<Item = (u32, MacAddr)>,
    peers: impl Iterator<Item = IpAddr>,
    uplink: bool,
) -> Vec<Target> {
    let mut v: Vec<Target> = locals
        .map(|(ifindex, mac)| Target {
            kind: TARGET_LOCAL,
            ifindex,
            mac: mac.0,
            ..Target::default()
        })
        .collect();
    v.sort_by_key(|t| t.ifindex);
    match n.encap {
        Encap::Vxlan => {
            let mut p: Vec<IpAddr> = peers.collect();
            p.sort();
            v.extend(p.into_iter().map(|ip| Target {
                kind: TARGET_VXLAN,
                vtep: IpKey::of(ip),
                ..Target::default()
            }));
        }
        Encap::Vlan if uplink => v.push(Target {
            kind: TARGET_UPLINK,
            ..Target::default()
        }),
        Encap::Vlan => {}
    }
    v.truncate(MAX_LIST);
    v
}
