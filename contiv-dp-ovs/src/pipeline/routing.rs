//! Routing mode (`fwdMode=routing`): L3 within a tenant across its
//! networks, and the host's router on the fabric (the BGP hand-off).
//!
//! * **Into L3.** A packet a local endpoint sends to its network gateway's
//!   MAC ([`network_gateway_mac`]) is marked `ROUTED` in [`Table::Arp`]
//!   (the gateway's own ARP/ND/ping answers, at a higher priority, still
//!   win). A packet from the fabric (the uplink's untagged segment) to the
//!   host's router MAC is classified into the fabric's tenant, `ROUTED`.
//!   Both then meet conntrack and policy exactly like bridged traffic:
//!   classification is by tenant and address, so a routed packet is judged
//!   by its source and destination EPGs.
//! * **L3 lookup** ([`Table::L3Forward`], reached from [`Table::L2Forward`]
//!   for `ROUTED` packets): (tenant, destination address) of an endpoint →
//!   source MAC = the gateway MAC of the destination's network, destination
//!   MAC = the endpoint's, `dec_ttl`, then its port, or its VTEP's tunnel
//!   with the destination network's VNI, or the uplink with its VLAN tag.
//!   The receiving host delivers it like any L2 packet of that network
//!   (routing happens once, on the sending host). Prefixes learned from
//!   the fabric → router MAC → next hop MAC, `dec_ttl`, out the uplink
//!   untagged; the longest prefix wins and every endpoint wins over any
//!   prefix. A network with external access sends the rest of its IPv4
//!   to [`Table::ExternalOut`] (as bridge mode does for its gateway MAC).
//!   No match: drop. Tenants never meet: every L3 flow matches the
//!   tenant register.
//! * **The fabric segment.** The router port (an internal port holding
//!   the router address in the switch's namespace, so BGP runs over it) and
//!   the uplink's untagged segment are joined: everything untagged from the
//!   uplink that is not a routed packet goes to the router port (ARP,
//!   BGP to the router address), everything from the router port goes out
//!   the uplink.

use super::build::{actions, actions_then, drop, eth, goto, plain, set_bit, set_reg};
use super::cookie::{CookieKind, stable_hash};
use super::flow::FlowKey;
use super::flow_table::Body;
use super::forwarding::{network_gateway_mac, tag_of};
use super::tables::{Table, flags, prio, reg};
use crate::openflow::wire::{Action, MacAddr, Masked, Match, OxmField};
use contiv_core::datapath::{
    ExternalRoute, FabricSpec, LocalEndpoint, NetworkSpec, RemoteEndpoint,
};
use ipnet::Ipv4Net;
use std::net::{IpAddr, Ipv6Addr};

type Entry = (FlowKey, Body);

/// `vlan_vid` of an untagged packet (`OFPVID_NONE`).
const NO_VLAN: u16 = 0x0000;

/// The cookie of the fabric's flows.
pub fn fabric_cookie() -> u64 {
    CookieKind::Fabric.cookie(0)
}

/// The cookie of an external route's flows.
pub fn route_cookie(prefix: Ipv4Net) -> u64 {
    CookieKind::Route.cookie(stable_hash(&[
        &prefix.network().octets(),
        &[prefix.prefix_len()],
    ]))
}

/// The fixed routing flows: `ROUTED` packets leave L2 for L3; L3 misses
/// drop. Harmless in bridge mode (nothing is marked `ROUTED` there).
pub fn base_flows() -> Vec<Entry> {
    let c = CookieKind::Base.cookie(0);
    vec![
        plain(
            Table::L2Forward,
            prio::GUARD,
            Match::new().reg_masked(reg::FLAGS, flags::ROUTED, flags::ROUTED),
            goto(Table::L3Forward),
            c,
        ),
        plain(Table::L3Forward, prio::MISS, Match::new(), drop(), c),
    ]
}

/// A network's routing flows: what its endpoints send to the gateway MAC
/// (IPv4 and IPv6) is routed. Below the gateway's own answers (ARP, ND,
/// ping), above the protocol dispatch.
pub fn network_flows(net: &NetworkSpec, cookie: u64) -> Vec<Entry> {
    let Some(mac) = network_gateway_mac(net) else {
        return Vec::new();
    };
    [eth::IPV4, eth::IPV6]
        .into_iter()
        .map(|et| {
            plain(
                Table::Arp,
                prio::DISPATCH + 1,
                Match::new()
                    .eth_type(et)
                    .reg(reg::NETWORK, tag_of(net))
                    .reg_masked(reg::FLAGS, flags::FROM_LOCAL, flags::FROM_LOCAL)
                    .eth_dst(mac),
                actions_then(
                    vec![set_bit(reg::FLAGS, flags::bit::ROUTED)],
                    Table::Conntrack,
                ),
                cookie,
            )
        })
        .collect()
}

/// A network's flows in routing mode with external access (there is a
/// host port): IPv4 from it that no endpoint or external route claims
/// goes to [`Table::ExternalOut`] (SNAT to the host) rather than the L3
/// miss. Endpoint and fabric routes win over it.
pub fn external_flows(net: &NetworkSpec, cookie: u64) -> Vec<Entry> {
    if !net.external || net.gateway.is_none() {
        return Vec::new();
    }
    vec![plain(
        Table::L3Forward,
        prio::DISPATCH,
        Match::new()
            .reg(reg::NETWORK, tag_of(net))
            .eth_type(eth::IPV4),
        goto(Table::ExternalOut),
        cookie,
    )]
}

fn dst_match(tenant: u32, ip: IpAddr) -> Match {
    let m = Match::new().reg(reg::TENANT, tenant);
    match ip {
        IpAddr::V4(a) => m.eth_type(eth::IPV4).ipv4_dst(a),
        IpAddr::V6(a) => m
            .eth_type(eth::IPV6)
            .field(OxmField::Ipv6Dst(Masked::exact(a))),
    }
}

fn rewrite(src: MacAddr, dst: MacAddr) -> Vec<Action> {
    vec![
        Action::SetField(OxmField::EthSrc(Masked::exact(src))),
        Action::SetField(OxmField::EthDst(Masked::exact(dst))),
        Action::DecNwTtl,
    ]
}

fn endpoint_routes(
    net: &NetworkSpec,
    ips: impl Iterator<Item = IpAddr>,
    mac: MacAddr,
    deliver: &[Action],
    cookie: u64,
) -> Vec<Entry> {
    // A network without a gateway has no router MAC: its endpoints are not
    // routed to (they could not answer anyway: their default route needs
    // the gateway).
    let Some(gw) = network_gateway_mac(net) else {
        return Vec::new();
    };
    ips.map(|ip| {
        let mut a = rewrite(gw, mac);
        a.extend_from_slice(deliver);
        plain(
            Table::L3Forward,
            prio::OBJECT,
            dst_match(net.tenant_id, ip),
            actions(a),
            cookie,
        )
    })
    .collect()
}

fn ips(v4: Option<std::net::Ipv4Addr>, v6: Option<Ipv6Addr>) -> impl Iterator<Item = IpAddr> {
    v4.map(IpAddr::V4).into_iter().chain(v6.map(IpAddr::V6))
}

/// A local endpoint's L3 flows: its addresses in its tenant → its port.
pub fn local_flows(ep: &LocalEndpoint, net: &NetworkSpec, ofport: u32, cookie: u64) -> Vec<Entry> {
    endpoint_routes(
        net,
        ips(ep.ipv4.map(|a| a.addr()), ep.ipv6.map(|a| a.addr())),
        ep.mac,
        &[Action::output(ofport)],
        cookie,
    )
}

/// A remote endpoint's L3 flows: its addresses in its tenant → `deliver`
/// (its network's VNI and its VTEP's tunnel, or the tag and the uplink).
pub fn remote_flows(
    ep: &RemoteEndpoint,
    net: &NetworkSpec,
    deliver: &[Action],
    cookie: u64,
) -> Vec<Entry> {
    endpoint_routes(net, ips(ep.ipv4, ep.ipv6), ep.mac, deliver, cookie)
}

fn untagged_from(port: u32) -> Match {
    Match::new()
        .in_port_is(port)
        .vlan_vid_masked(NO_VLAN, 0x1fff)
}

/// The fabric's flows: routed packets from the fabric into the tenant; the
/// rest of the uplink's untagged segment joined with the router port.
pub fn fabric_flows(f: &FabricSpec, router_port: u32, uplink: u32) -> Vec<Entry> {
    let c = fabric_cookie();
    let rmac = f.router_mac();
    let to_router = untagged_from(uplink).eth_dst(rmac);
    vec![
        // BGP (and anything else) to the router address itself.
        plain(
            Table::Classify,
            prio::OBJECT + 2,
            to_router
                .clone()
                .eth_type(eth::IPV4)
                .ipv4_dst(f.router.addr()),
            actions(vec![Action::output(router_port)]),
            c,
        ),
        // Routed into the fabric's tenant.
        plain(
            Table::Classify,
            prio::OBJECT + 1,
            to_router.eth_type(eth::IPV4),
            actions_then(
                vec![
                    set_reg(reg::TENANT, f.tenant_id),
                    set_bit(reg::FLAGS, flags::bit::FROM_UPLINK),
                    set_bit(reg::FLAGS, flags::bit::ROUTED),
                ],
                Table::Arp,
            ),
            c,
        ),
        plain(
            Table::Classify,
            prio::OBJECT,
            untagged_from(uplink),
            actions(vec![Action::output(router_port)]),
            c,
        ),
        plain(
            Table::Classify,
            prio::OBJECT,
            Match::new().in_port_is(router_port),
            actions(vec![Action::output(uplink)]),
            c,
        ),
    ]
}

/// An external route's flow: the fabric tenant's packets to the prefix go
/// to the next hop (at `nh_mac`) through the uplink, untagged.
pub fn route_flows(r: &ExternalRoute, f: &FabricSpec, nh_mac: MacAddr, uplink: u32) -> Vec<Entry> {
    let mut a = rewrite(f.router_mac(), nh_mac);
    a.push(Action::output(uplink));
    let mut m = Match::new()
        .reg(reg::TENANT, f.tenant_id)
        .eth_type(eth::IPV4);
    // A default route matches every address (OVS drops an all-zero mask).
    if r.prefix.prefix_len() > 0 {
        m = m.ipv4_dst_net(r.prefix);
    }
    vec![plain(
        Table::L3Forward,
        prio::ROUTE_BASE + u16::from(r.prefix.prefix_len()),
        m,
        actions(a),
        route_cookie(r.prefix),
    )]
}
