//! Flows of the fixed skeleton, networks, endpoints and memberships (all
//! but the policy rules). Pure functions of their inputs.

use super::build::{
    actions, actions_then, drop, eth, goto, multicast_dst, plain, set_bit, set_reg, tenant_zone,
};
use super::cookie::{CookieKind, stable_hash};
use super::flow::FlowKey;
use super::flow_table::Body;
use super::tables::{Table, flags, l4, network_tag, prio, reg};
use crate::openflow::wire::{
    Action, Ct, MacAddr, Masked, Match, Nat, NxmHeader, OxmField, RegMove, ct_state, ip_frag,
    port_no,
};
use contiv_core::datapath::{ArpMode, Encap, LocalEndpoint, NetworkSpec, RemoteEndpoint};
use contiv_core::ir::{EpgId, TenantId};
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};

type Entry = (FlowKey, Body);

/// `NXM_OF_IP_PROTO` (8 bits).
const NXM_IP_PROTO: NxmHeader = NxmHeader(0x0000_0c01);
/// `NXM_OF_UDP_DST` (16 bits).
const NXM_UDP_DST: NxmHeader = NxmHeader(0x0000_1802);

/// ICMPv6 types that bypass conntrack and policy: router solicitation and
/// advertisement, neighbour solicitation and advertisement, MLDv2 report.
pub const ICMPV6_BYPASS: [u8; 5] = [133, 134, 135, 136, 143];

/// The cookie of a network's flows.
pub fn network_cookie(key: &str) -> u64 {
    CookieKind::Network.cookie(stable_hash(&[key.as_bytes()]))
}

/// The cookie of a local endpoint's flows.
pub fn local_cookie(id: &str) -> u64 {
    CookieKind::LocalEndpoint.cookie(stable_hash(&[id.as_bytes()]))
}

/// The cookie of a remote endpoint's flows.
pub fn remote_cookie(id: &str) -> u64 {
    CookieKind::RemoteEndpoint.cookie(stable_hash(&[id.as_bytes()]))
}

/// The cookie of a membership's flows.
pub fn member_cookie(tenant: TenantId, ip: IpAddr) -> u64 {
    let ip_bytes: Vec<u8> = match ip {
        IpAddr::V4(a) => a.octets().to_vec(),
        IpAddr::V6(a) => a.octets().to_vec(),
    };
    CookieKind::Membership.cookie(stable_hash(&[&tenant.to_be_bytes(), &ip_bytes]))
}

pub(super) fn flag_set(m: Match, flag: u32) -> Match {
    m.reg_masked(reg::FLAGS, flag, flag)
}

pub(super) fn flag_clear(m: Match, flag: u32) -> Match {
    m.reg_masked(reg::FLAGS, 0, flag)
}

fn ip_match(family_v6: bool) -> Match {
    Match::new().eth_type(if family_v6 { eth::IPV6 } else { eth::IPV4 })
}

fn l4_proto_load(proto: u8) -> Action {
    Action::load(
        NxmHeader::reg(reg::L4),
        l4::PROTO_SHIFT as u16,
        8,
        u64::from(proto),
    )
}

/// `ct(zone=reg0[0..15], nat, table=CtState)`: the tenant's conntrack,
/// applying the translation of NATed connections (service DNAT, hairpin
/// and external SNAT are reversed for replies and repeated for later
/// packets).
fn ct_to_state_table() -> Action {
    Action::Ct(
        Ct::new()
            .zone(tenant_zone())
            .table(Table::CtState.id())
            .action(Action::Nat(Nat::reverse())),
    )
}

/// The fixed skeleton: table misses, protocol dispatch, conntrack, the
/// policy stage bypasses and the commit.
pub fn base_flows() -> Vec<Entry> {
    let c = CookieKind::Base.cookie(0);
    let mut v = vec![
        // Classify: multicast source MACs are never legitimate.
        plain(
            Table::Classify,
            prio::GUARD,
            Match::new().eth_src_masked(MacAddr([1, 0, 0, 0, 0, 0]), MacAddr([1, 0, 0, 0, 0, 0])),
            drop(),
            c,
        ),
        plain(Table::Classify, prio::MISS, Match::new(), drop(), c),
        plain(Table::SpoofGuard, prio::MISS, Match::new(), drop(), c),
        // ARP from tunnels/uplinks is never answered here: it floods to
        // the local ports (another host proxied it, or flood mode).
        plain(
            Table::Arp,
            prio::GUARD,
            flag_set(Match::new().eth_type(eth::ARP), flags::FROM_TUNNEL),
            goto(Table::L2Forward),
            c,
        ),
        plain(
            Table::Arp,
            prio::GUARD,
            flag_set(Match::new().eth_type(eth::ARP), flags::FROM_UPLINK),
            goto(Table::L2Forward),
            c,
        ),
        plain(
            Table::Arp,
            prio::DISPATCH,
            Match::new().eth_type(eth::ARP),
            goto(Table::L2Forward),
            c,
        ),
        plain(
            Table::Arp,
            prio::DISPATCH,
            ip_match(false),
            goto(Table::Conntrack),
            c,
        ),
        plain(
            Table::Arp,
            prio::DISPATCH,
            ip_match(true),
            goto(Table::Conntrack),
            c,
        ),
        plain(Table::Arp, prio::MISS, Match::new(), drop(), c),
    ];
    // Conntrack: ND/RS/RA/MLD bypass; L4 summary into reg6; ct.
    for t in ICMPV6_BYPASS {
        v.push(plain(
            Table::Conntrack,
            prio::GUARD,
            ip_match(true).ip_proto(58).field(OxmField::Icmpv6Type(t)),
            goto(Table::L2Forward),
            c,
        ));
    }
    for v6 in [false, true] {
        for (proto, port) in [(6u8, NxmHeader::TCP_DST), (17u8, NXM_UDP_DST)] {
            v.push(plain(
                Table::Conntrack,
                prio::DISPATCH + 10,
                ip_match(v6).ip_proto(proto),
                actions(vec![
                    Action::RegMove(RegMove {
                        n_bits: 16,
                        src_ofs: 0,
                        dst_ofs: 0,
                        src: port,
                        dst: NxmHeader::reg(reg::L4),
                    }),
                    l4_proto_load(proto),
                    ct_to_state_table(),
                ]),
                c,
            ));
        }
        let icmp = if v6 { 58 } else { 1 };
        v.push(plain(
            Table::Conntrack,
            prio::DISPATCH + 10,
            ip_match(v6).ip_proto(icmp),
            actions(vec![
                l4_proto_load(icmp),
                set_bit(reg::L4, l4::ICMP_BIT),
                ct_to_state_table(),
            ]),
            c,
        ));
        v.push(plain(
            Table::Conntrack,
            prio::DISPATCH,
            ip_match(v6),
            actions(vec![
                Action::RegMove(RegMove {
                    n_bits: 8,
                    src_ofs: 0,
                    dst_ofs: l4::PROTO_SHIFT as u16,
                    src: NXM_IP_PROTO,
                    dst: NxmHeader::reg(reg::L4),
                }),
                ct_to_state_table(),
            ]),
            c,
        ));
    }
    v.push(plain(Table::Conntrack, prio::MISS, Match::new(), drop(), c));
    // Connection state.
    let st = |bits: u32| Match::new().ct_state(ct_state::TRK | bits, ct_state::TRK | bits);
    v.extend([
        plain(Table::CtState, prio::GUARD, st(ct_state::INV), drop(), c),
        // Later packets of a connection (service ones were translated by
        // the conntrack stage and get the backend's MAC in service-fwd).
        plain(
            Table::CtState,
            prio::OBJECT,
            st(ct_state::EST),
            goto(Table::ServiceFwd),
            c,
        ),
        plain(
            Table::CtState,
            prio::OBJECT,
            st(ct_state::REL),
            goto(Table::L2Forward),
            c,
        ),
        plain(
            Table::CtState,
            prio::DISPATCH,
            st(ct_state::NEW),
            goto(Table::ServiceLb),
            c,
        ),
        plain(Table::CtState, prio::MISS, Match::new(), drop(), c),
    ]);
    // A new connection's destination port again, from the packet: after a
    // `ct()` that reassembled a datagram, OVS sends its fragments on with
    // the registers of the fragment that completed it (a later one, port
    // 0), while the first fragment keeps its ports (`OFPC_FRAG_NX_MATCH`).
    for v6 in [false, true] {
        for (proto, port) in [(6u8, NxmHeader::TCP_DST), (17u8, NXM_UDP_DST)] {
            v.push(plain(
                Table::CtState,
                prio::DISPATCH + 1,
                ip_match(v6)
                    .ip_proto(proto)
                    .ct_state(ct_state::TRK | ct_state::NEW, ct_state::TRK | ct_state::NEW),
                actions_then(
                    vec![Action::RegMove(RegMove {
                        n_bits: 16,
                        src_ofs: 0,
                        dst_ofs: 0,
                        src: port,
                        dst: NxmHeader::reg(reg::L4),
                    })],
                    Table::ServiceLb,
                ),
                c,
            ));
        }
    }
    // A later fragment (no ports) of a new datagram follows its first
    // fragment through policy to the commit: the `ct(commit)` holds the
    // datagram's fragments until all are there, and the first one arrives
    // only if the rules allowed it. So a datagram is judged whole, by its
    // first fragment's ports.
    for table in [Table::Egress, Table::Ingress] {
        let next = if table == Table::Egress {
            Table::Ingress
        } else {
            Table::Commit
        };
        for v6 in [false, true] {
            v.push(plain(
                table,
                prio::SKIP_STAGE,
                ip_match(v6).ip_frag(ip_frag::ANY | ip_frag::LATER, ip_frag::ANY | ip_frag::LATER),
                goto(next),
                c,
            ));
        }
    }
    v.extend([
        plain(
            Table::ServiceLb,
            prio::MISS,
            Match::new(),
            goto(Table::SrcEpg),
            c,
        ),
        plain(
            Table::ServiceFwd,
            prio::DISPATCH,
            st(ct_state::EST),
            goto(Table::L2Forward),
            c,
        ),
        plain(
            Table::ServiceFwd,
            prio::MISS,
            Match::new(),
            goto(Table::SrcEpg),
            c,
        ),
        plain(
            Table::SrcEpg,
            prio::MISS,
            Match::new(),
            goto(Table::DstEpg),
            c,
        ),
        plain(
            Table::DstEpg,
            prio::MISS,
            Match::new(),
            goto(Table::Egress),
            c,
        ),
        // Egress applies where the source is local, ingress where the
        // destination is.
        plain(
            Table::Egress,
            prio::SKIP_STAGE,
            flag_clear(Match::new(), flags::FROM_LOCAL),
            goto(Table::Ingress),
            c,
        ),
        plain(
            Table::Egress,
            prio::MISS,
            Match::new(),
            goto(Table::Ingress),
            c,
        ),
        plain(
            Table::Ingress,
            prio::SKIP_STAGE,
            flag_clear(Match::new(), flags::DST_LOCAL),
            goto(Table::Commit),
            c,
        ),
        plain(
            Table::Ingress,
            prio::MISS,
            Match::new(),
            goto(Table::Commit),
            c,
        ),
    ]);
    for v6 in [false, true] {
        v.push(plain(
            Table::Commit,
            prio::DISPATCH,
            ip_match(v6),
            actions_then(
                vec![Action::Ct(Ct::new().commit().zone(tenant_zone()))],
                Table::L2Forward,
            ),
            c,
        ));
    }
    // Service connections were committed with their DNAT by the group
    // bucket (hairpin ones get their SNAT from the service's own flow).
    v.push(plain(
        Table::Commit,
        prio::DISPATCH + 1,
        flag_set(Match::new(), flags::SERVICE),
        goto(Table::L2Forward),
        c,
    ));
    v.push(plain(Table::Commit, prio::MISS, Match::new(), drop(), c));
    v.push(plain(Table::L2Forward, prio::MISS, Match::new(), drop(), c));
    v.push(plain(
        Table::ExternalOut,
        prio::MISS,
        Match::new(),
        drop(),
        c,
    ));
    v
}

fn net_regs(net: &NetworkSpec, origin_bit: u16) -> Vec<Action> {
    vec![
        set_reg(reg::TENANT, net.tenant_id),
        set_reg(reg::NETWORK, tag_of(net)),
        set_bit(reg::FLAGS, origin_bit),
    ]
}

/// The network tag of `net`.
pub fn tag_of(net: &NetworkSpec) -> u32 {
    network_tag(net.encap, net.vlan, net.vni)
}

fn push_vlan(vlan: u16) -> [Action; 2] {
    [
        Action::PushVlan(eth::VLAN),
        Action::SetField(OxmField::VlanVid(Masked::exact(0x1000 | (vlan & 0x0fff)))),
    ]
}

fn set_tun(vni: u32) -> Action {
    Action::SetField(OxmField::TunnelId(Masked::exact(u64::from(vni))))
}

/// A network's flows: tunnel/uplink classification and flooding.
/// `local_ports` are the ofports of its local endpoints, `peer_ports` the
/// VXLAN ports of every peer, `uplink` the VLAN uplink's ofport.
pub fn network_flows(
    net: &NetworkSpec,
    local_ports: &[u32],
    peer_ports: &[u32],
    uplink: Option<u32>,
) -> Vec<Entry> {
    let c = network_cookie(&net.key);
    let tag = tag_of(net);
    let mut v = Vec::new();
    let local_out: Vec<Action> = local_ports.iter().map(|p| Action::output(*p)).collect();
    let bcast = multicast_dst(Match::new().reg(reg::NETWORK, tag));
    v.extend(gateway_flows(net, c));
    match net.encap {
        Encap::Vxlan => {
            let Some(vni) = net.vni else { return v };
            v.push(plain(
                Table::Classify,
                prio::OBJECT,
                Match::new().tunnel_id(u64::from(vni)),
                actions_then(net_regs(net, flags::bit::FROM_TUNNEL), Table::Arp),
                c,
            ));
            v.push(plain(
                Table::L2Forward,
                prio::FLOOD_REMOTE,
                flag_set(bcast.clone(), flags::FROM_TUNNEL),
                actions(local_out.clone()),
                c,
            ));
            let mut all = local_out;
            if !peer_ports.is_empty() {
                all.push(set_tun(vni));
                all.extend(peer_ports.iter().map(|p| Action::output(*p)));
            }
            v.push(plain(Table::L2Forward, prio::FLOOD, bcast, actions(all), c));
        }
        Encap::Vlan => {
            let mut all = local_out.clone();
            if let Some(up) = uplink {
                v.push(plain(
                    Table::Classify,
                    prio::OBJECT,
                    Match::new().in_port_is(up).vlan_vid(net.vlan),
                    actions_then(
                        std::iter::once(Action::PopVlan)
                            .chain(net_regs(net, flags::bit::FROM_UPLINK))
                            .collect(),
                        Table::Arp,
                    ),
                    c,
                ));
                v.push(plain(
                    Table::L2Forward,
                    prio::FLOOD_REMOTE,
                    flag_set(bcast.clone(), flags::FROM_UPLINK),
                    actions(local_out),
                    c,
                ));
                all.extend(push_vlan(net.vlan));
                all.push(Action::output(up));
                let tag_m = Match::new().reg(reg::NETWORK, tag);
                v.push(plain(
                    Table::L2Forward,
                    prio::UNKNOWN_UNICAST + 1,
                    flag_set(tag_m.clone(), flags::FROM_UPLINK),
                    drop(),
                    c,
                ));
                let mut to_uplink: Vec<Action> = push_vlan(net.vlan).into();
                to_uplink.push(Action::output(up));
                v.push(plain(
                    Table::L2Forward,
                    prio::UNKNOWN_UNICAST,
                    tag_m,
                    actions(to_uplink),
                    c,
                ));
            }
            v.push(plain(Table::L2Forward, prio::FLOOD, bcast, actions(all), c));
        }
    }
    v
}

/// The proxy-ARP answer for `ip` at `mac`, sent back out the port the
/// request came in on.
pub(super) fn arp_reply(net: &NetworkSpec, ip: Ipv4Addr, mac: MacAddr, cookie: u64) -> Entry {
    arp_reply_to(net, ip, mac, cookie, false)
}

/// [`arp_reply`], only for requests from local ports with `local_only`.
fn arp_reply_to(
    net: &NetworkSpec,
    ip: Ipv4Addr,
    mac: MacAddr,
    cookie: u64,
    local_only: bool,
) -> Entry {
    let m = Match::new()
        .eth_type(eth::ARP)
        .arp_op(1)
        .reg(reg::NETWORK, tag_of(net))
        .arp_tpa(ip);
    plain(
        Table::Arp,
        prio::OBJECT,
        if local_only {
            flag_set(m, flags::FROM_LOCAL)
        } else {
            m
        },
        actions(vec![
            Action::move_field(NxmHeader::ETH_SRC, NxmHeader::ETH_DST),
            Action::SetField(OxmField::EthSrc(Masked::exact(mac))),
            Action::SetField(OxmField::ArpOp(2)),
            Action::move_field(NxmHeader::ARP_SHA, NxmHeader::ARP_THA),
            Action::move_field(NxmHeader::ARP_SPA, NxmHeader::ARP_TPA),
            Action::SetField(OxmField::ArpSha(Masked::exact(mac))),
            Action::SetField(OxmField::ArpSpa(Masked::exact(ip))),
            Action::output(port_no::IN_PORT),
        ]),
        cookie,
    )
}

/// The MAC the gateway of a network answers with: `02:02` followed by the
/// gateway's IPv4 address (like an endpoint's, and never an endpoint's:
/// the gateway address is not allocated).
pub fn gateway_mac(gw: Ipv4Addr) -> MacAddr {
    MacAddr::from_ipv4(gw)
}

/// The MAC a network's gateway answers with, for both address families:
/// [`gateway_mac`] of the IPv4 gateway; for a network with only an IPv6
/// gateway, `02:03` followed by the last four bytes of it. `None` without
/// a gateway.
pub fn network_gateway_mac(net: &NetworkSpec) -> Option<MacAddr> {
    if let Some(gw) = net.gateway {
        return Some(gateway_mac(gw));
    }
    let o = net.gateway6?.octets();
    Some(MacAddr([0x02, 0x03, o[12], o[13], o[14], o[15]]))
}

/// The gateway of `net` answering its local endpoints: ARP for the
/// gateway address (in either ARP mode: nobody else answers for it) and
/// ICMP echo requests to it (an echo reply from the gateway MAC, sent back
/// out the port the request came in on). Requests from tunnels and
/// uplinks are left to the host they came from.
fn gateway_flows(net: &NetworkSpec, cookie: u64) -> Vec<Entry> {
    let mut v = super::gateway6::gateway6_flows(net, cookie);
    let Some(gw) = net.gateway else {
        return v;
    };
    let mac = gateway_mac(gw);
    let arp = arp_reply_to(net, gw, mac, cookie, true);
    let echo = plain(
        Table::Arp,
        prio::OBJECT,
        flag_set(
            Match::new()
                .eth_type(eth::IPV4)
                .reg(reg::NETWORK, tag_of(net))
                .ip_proto(1)
                .ipv4_dst(gw)
                .field(OxmField::Icmpv4Type(8)),
            flags::FROM_LOCAL,
        ),
        actions(vec![
            Action::move_field(NxmHeader::ETH_SRC, NxmHeader::ETH_DST),
            Action::SetField(OxmField::EthSrc(Masked::exact(mac))),
            Action::move_field(NxmHeader::IP_SRC, NxmHeader::IP_DST),
            Action::SetField(OxmField::Ipv4Src(Masked::exact(gw))),
            Action::SetField(OxmField::Icmpv4Type(0)),
            Action::output(port_no::IN_PORT),
        ]),
        cookie,
    );
    v.extend([arp, echo]);
    v
}

/// A local endpoint's flows: port classification, spoof guard (with DSCP
/// marking), proxy ARP (in proxy mode) and L2 delivery.
pub fn local_endpoint_flows(
    ep: &LocalEndpoint,
    net: &NetworkSpec,
    ofport: u32,
    arp: ArpMode,
) -> Vec<Entry> {
    let c = local_cookie(&ep.id);
    let mut v = vec![plain(
        Table::Classify,
        prio::OBJECT,
        Match::new().in_port_is(ofport),
        actions_then(net_regs(net, flags::bit::FROM_LOCAL), Table::SpoofGuard),
        c,
    )];
    let mark: Vec<Action> = match ep.qos {
        Some(q) if q.dscp != 0 => vec![Action::SetField(OxmField::IpDscp(q.dscp & 0x3f))],
        _ => Vec::new(),
    };
    let from = Match::new().in_port_is(ofport).eth_src(ep.mac);
    if let Some(a) = ep.ipv4 {
        let ip = a.addr();
        v.push(plain(
            Table::SpoofGuard,
            prio::OBJECT,
            from.clone().eth_type(eth::IPV4).ipv4_src(ip),
            actions_then(mark.clone(), Table::Arp),
            c,
        ));
        v.push(plain(
            Table::SpoofGuard,
            prio::OBJECT,
            from.clone().eth_type(eth::ARP).arp_spa(ip).arp_sha(ep.mac),
            goto(Table::Arp),
            c,
        ));
        if arp == ArpMode::Proxy {
            v.push(arp_reply(net, ip, ep.mac, c));
        }
    }
    if let Some(a) = ep.ipv6 {
        v.push(plain(
            Table::SpoofGuard,
            prio::OBJECT,
            from.clone()
                .eth_type(eth::IPV6)
                .field(OxmField::Ipv6Src(Masked::exact(a.addr()))),
            actions_then(mark, Table::Arp),
            c,
        ));
        // Link-local and unspecified sources only for ICMPv6 (neighbour
        // discovery, DAD, router solicitation, MLD).
        let ll = Ipv6Addr::new(0xfe80, 0, 0, 0, 0, 0, 0, 0);
        let ll_mask = Ipv6Addr::new(0xffc0, 0, 0, 0, 0, 0, 0, 0);
        v.push(plain(
            Table::SpoofGuard,
            prio::OBJECT,
            from.clone()
                .eth_type(eth::IPV6)
                .ip_proto(58)
                .field(OxmField::Ipv6Src(Masked::new(ll, ll_mask))),
            goto(Table::Arp),
            c,
        ));
        v.push(plain(
            Table::SpoofGuard,
            prio::OBJECT,
            from.eth_type(eth::IPV6)
                .ip_proto(58)
                .field(OxmField::Ipv6Src(Masked::exact(Ipv6Addr::UNSPECIFIED))),
            goto(Table::Arp),
            c,
        ));
    }
    v.push(plain(
        Table::L2Forward,
        prio::OBJECT,
        Match::new().reg(reg::NETWORK, tag_of(net)).eth_dst(ep.mac),
        actions(vec![Action::output(ofport)]),
        c,
    ));
    v
}

/// Where traffic to a remote endpoint leaves the switch.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum RemoteOut {
    /// The VXLAN port of the endpoint's VTEP.
    Tunnel(u32),
    /// The VLAN uplink.
    Uplink(u32),
}

/// A remote endpoint's flows: proxy ARP (in proxy mode) and L2 delivery
/// through its VTEP's tunnel (with the VNI) or the uplink (with the tag).
pub fn remote_endpoint_flows(
    ep: &RemoteEndpoint,
    net: &NetworkSpec,
    out: RemoteOut,
    arp: ArpMode,
) -> Vec<Entry> {
    let c = remote_cookie(&ep.id);
    let mut v = Vec::new();
    if let (Some(ip), ArpMode::Proxy) = (ep.ipv4, arp) {
        v.push(arp_reply(net, ip, ep.mac, c));
    }
    let Some(deliver) = remote_delivery(net, out) else {
        return v;
    };
    v.push(plain(
        Table::L2Forward,
        prio::OBJECT,
        Match::new().reg(reg::NETWORK, tag_of(net)).eth_dst(ep.mac),
        actions(deliver),
        c,
    ));
    v
}

/// The actions that take a packet of `net` to a remote endpoint through
/// `out`: the VNI and the peer's tunnel, or the tag and the uplink (`None`
/// when `out` does not fit the network's encapsulation).
pub fn remote_delivery(net: &NetworkSpec, out: RemoteOut) -> Option<Vec<Action>> {
    match (out, net.encap, net.vni) {
        (RemoteOut::Tunnel(p), Encap::Vxlan, Some(vni)) => {
            Some(vec![set_tun(vni), Action::output(p)])
        }
        (RemoteOut::Uplink(p), Encap::Vlan, _) => {
            let mut a: Vec<Action> = push_vlan(net.vlan).into();
            a.push(Action::output(p));
            Some(a)
        }
        _ => None,
    }
}

/// A membership's flows: (tenant, address) → source EPG and destination
/// EPG (with the "destination is local" flag when a local endpoint has the
/// address).
pub fn membership_flows(tenant: TenantId, ip: IpAddr, epg: EpgId, local: bool) -> Vec<Entry> {
    let c = member_cookie(tenant, ip);
    let base = Match::new().reg(reg::TENANT, tenant);
    let (src, dst) = match ip {
        IpAddr::V4(a) => (
            base.clone().eth_type(eth::IPV4).ipv4_src(a),
            base.eth_type(eth::IPV4).ipv4_dst(a),
        ),
        IpAddr::V6(a) => (
            base.clone()
                .eth_type(eth::IPV6)
                .field(OxmField::Ipv6Src(Masked::exact(a))),
            base.eth_type(eth::IPV6)
                .field(OxmField::Ipv6Dst(Masked::exact(a))),
        ),
    };
    let mut dst_actions = vec![set_reg(reg::DST_EPG, epg)];
    if local {
        dst_actions.push(set_bit(reg::FLAGS, flags::bit::DST_LOCAL));
    }
    vec![
        plain(
            Table::SrcEpg,
            prio::OBJECT,
            src,
            actions_then(vec![set_reg(reg::SRC_EPG, epg)], Table::DstEpg),
            c,
        ),
        plain(
            Table::DstEpg,
            prio::OBJECT,
            dst,
            actions_then(dst_actions, Table::Egress),
            c,
        ),
    ]
}
