//! External access ([`NetworkSpec::external`]) through the **host port**:
//! a veth between the bridge and the host's own stack. The host carries
//! the private subnet's last usable address (`pvt`, the global
//! `pvtSubnet`, default `172.19.0.0/16`: `172.19.255.254`) on its end and
//! does the rest with its own routing and netfilter (masquerade,
//! published ports — see `contiv_core::linux::netfilter`).
//!
//! * **Out** (l2-forward → external-out): IPv4 to the gateway MAC of a
//!   network with external access. Replies of connections the host opened
//!   (`+rpl` in the tenant's zone: published ports, the host reaching an
//!   endpoint) go to the host port as they are. Everything else bound for
//!   a network subnet or the private subnet drops (tenants never meet
//!   through the host); the rest is SNATed, in the tenant's NAT zone, to
//!   the tenant's private address `pvt + tenant id` (overlapping tenants
//!   stay apart in the host, which masquerades it on its way out).
//! * **In** (classify, `in_port=host`): to a tenant's private address →
//!   reverse the SNAT in the tenant's NAT zone, then classify again; to a
//!   local endpoint's address (of a network with external access) → that
//!   endpoint's tenant and network, from the gateway's MAC to the
//!   endpoint's, through conntrack and policy like any packet (the
//!   endpoint's `in` rules hold for the outside too).
//!
//! The host's end is `NOARP`: frames from the host carry its own MAC as
//! destination, and the flows never look at it.

use super::build::{actions, actions_then, eth, plain, set_bit, set_reg};
use super::cookie::{CookieKind, stable_hash};
use super::flow::FlowKey;
use super::flow_table::Body;
use super::forwarding::{flag_clear, flag_set, gateway_mac, tag_of};
use super::service::nat_zone;
use super::tables::{Table, flags, prio, reg};
use crate::openflow::wire::{Action, Ct, CtZone, MacAddr, Masked, Match, Nat, OxmField, ct_state};
use contiv_core::datapath::{LocalEndpoint, NetworkSpec};
use contiv_core::ir::TenantId;
use ipnet::Ipv4Net;
use std::net::Ipv4Addr;

type Entry = (FlowKey, Body);

pub use contiv_core::linux::host_port::host_addr;

/// The MAC of the host's end of the host port (`02:02:` + its address).
pub fn host_mac(pvt: Ipv4Net) -> MacAddr {
    MacAddr::from_ipv4(host_addr(pvt))
}

/// A tenant's private address: the private subnet's network address plus
/// the tenant id. `None` if it does not fit (tenant id too large for the
/// subnet).
pub fn tenant_addr(pvt: Ipv4Net, tenant: TenantId) -> Option<Ipv4Addr> {
    let a = u32::from(pvt.network()).checked_add(tenant)?;
    let ip = Ipv4Addr::from(a);
    (tenant > 0 && pvt.contains(&ip) && ip < host_addr(pvt)).then_some(ip)
}

/// The cookie of the host port's own flows.
pub fn external_cookie() -> u64 {
    CookieKind::External.cookie(0)
}

/// The cookie of one tenant's external-access flows.
pub fn tenant_cookie(tenant: TenantId) -> u64 {
    CookieKind::External.cookie(stable_hash(&[&tenant.to_be_bytes()]) | 1)
}

fn to_host(pvt: Ipv4Net, host_port: u32) -> [Action; 2] {
    [
        Action::SetField(OxmField::EthDst(Masked::exact(host_mac(pvt)))),
        Action::output(host_port),
    ]
}

/// The host port's own flows: replies of host-opened connections go back
/// as they are; nothing goes to the private subnet.
pub fn host_port_flows(pvt: Ipv4Net, host_port: u32) -> Vec<Entry> {
    let c = external_cookie();
    vec![
        plain(
            Table::ExternalOut,
            prio::GUARD,
            Match::new()
                .eth_type(eth::IPV4)
                .ct_state(ct_state::TRK | ct_state::RPL, ct_state::TRK | ct_state::RPL),
            actions(to_host(pvt, host_port).to_vec()),
            c,
        ),
        plain(
            Table::ExternalOut,
            prio::OBJECT,
            Match::new().eth_type(eth::IPV4).ipv4_dst_net(pvt),
            actions(vec![]),
            c,
        ),
        plain(
            Table::ExternalOut,
            prio::GUARD + 1,
            flag_set(Match::new().eth_type(eth::IPV4), flags::SNAT_DONE),
            actions(to_host(pvt, host_port).to_vec()),
            c,
        ),
    ]
}

/// A tenant's flows (it has a network with external access): replies to
/// its private address get their destination back; its traffic out is
/// SNATed to that address.
pub fn tenant_flows(tenant: TenantId, pvt: Ipv4Net, host_port: u32) -> Vec<Entry> {
    let Some(addr) = tenant_addr(pvt, tenant) else {
        return Vec::new();
    };
    let c = tenant_cookie(tenant);
    let zone = CtZone::Imm(nat_zone(tenant));
    // SNAT, recirculated back here (the translated packet), then out.
    let out_actions = vec![
        set_bit(reg::FLAGS, flags::bit::SNAT_DONE),
        Action::Ct(
            Ct::new()
                .commit()
                .zone(zone)
                .table(Table::ExternalOut.id())
                .action(Action::Nat(Nat::snat(addr))),
        ),
    ];
    vec![
        plain(
            Table::Classify,
            prio::OBJECT + 2,
            flag_clear(
                Match::new()
                    .in_port_is(host_port)
                    .eth_type(eth::IPV4)
                    .ipv4_dst(addr),
                flags::UNSNAT_DONE,
            ),
            actions(vec![
                set_reg(reg::TENANT, tenant),
                set_bit(reg::FLAGS, flags::bit::UNSNAT_DONE),
                Action::Ct(
                    Ct::new()
                        .zone(zone)
                        .table(Table::Classify.id())
                        .action(Action::Nat(Nat::reverse())),
                ),
            ]),
            c,
        ),
        plain(
            Table::ExternalOut,
            prio::DISPATCH,
            flag_clear(
                Match::new().reg(reg::TENANT, tenant).eth_type(eth::IPV4),
                flags::SNAT_DONE,
            ),
            actions(out_actions),
            c,
        ),
    ]
}

/// A network's external-access flows (with a host port): its subnet is
/// never a destination out of the host port; with external access, IPv4
/// to its gateway's MAC goes to external-out.
pub fn network_flows(net: &NetworkSpec, cookie: u64) -> Vec<Entry> {
    let mut v = Vec::new();
    if let Some(s) = net.subnet {
        v.push(plain(
            Table::ExternalOut,
            prio::OBJECT,
            Match::new().eth_type(eth::IPV4).ipv4_dst_net(s),
            actions(vec![]),
            cookie,
        ));
    }
    if let (true, Some(gw)) = (net.external, net.gateway) {
        v.push(plain(
            Table::L2Forward,
            prio::OBJECT,
            Match::new()
                .reg(reg::NETWORK, tag_of(net))
                .eth_dst(gateway_mac(gw))
                .eth_type(eth::IPV4),
            super::build::goto(Table::ExternalOut),
            cookie,
        ));
    }
    v
}

/// A local endpoint's flows from the host port (its network has external
/// access): traffic to its address enters its tenant and network, from the
/// gateway's MAC (the host's, without a gateway) to its own.
pub fn endpoint_flows(
    ep: &LocalEndpoint,
    net: &NetworkSpec,
    pvt: Ipv4Net,
    host_port: u32,
    cookie: u64,
) -> Vec<Entry> {
    let Some(a) = ep.ipv4 else {
        return Vec::new();
    };
    if !net.external {
        return Vec::new();
    }
    let src = net.gateway.map_or_else(|| host_mac(pvt), gateway_mac);
    let enter = vec![
        set_reg(reg::TENANT, net.tenant_id),
        set_reg(reg::NETWORK, tag_of(net)),
        set_bit(reg::FLAGS, flags::bit::FROM_HOST),
        Action::SetField(OxmField::EthSrc(Masked::exact(src))),
        Action::SetField(OxmField::EthDst(Masked::exact(ep.mac))),
    ];
    let m = Match::new()
        .in_port_is(host_port)
        .eth_type(eth::IPV4)
        .ipv4_dst(a.addr());
    vec![
        // After the reverse SNAT the tenant is known (overlapping
        // addresses of other tenants do not matter).
        plain(
            Table::Classify,
            prio::OBJECT + 1,
            flag_set(
                m.clone().reg(reg::TENANT, net.tenant_id),
                flags::UNSNAT_DONE,
            ),
            actions_then(enter.clone(), Table::Arp),
            cookie,
        ),
        plain(
            Table::Classify,
            prio::OBJECT,
            m,
            actions_then(enter, Table::Arp),
            cookie,
        ),
    ]
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn private_addresses() {
        let pvt: Ipv4Net = "172.19.0.0/16".parse().unwrap_or_else(|_| unreachable!());
        assert_eq!(host_addr(pvt), Ipv4Addr::new(172, 19, 255, 254));
        assert_eq!(tenant_addr(pvt, 1), Some(Ipv4Addr::new(172, 19, 0, 1)));
        assert_eq!(tenant_addr(pvt, 300), Some(Ipv4Addr::new(172, 19, 1, 44)));
        assert_eq!(tenant_addr(pvt, 0), None);
        assert_eq!(tenant_addr(pvt, 65534), None);
        assert_ne!(tenant_cookie(1), external_cookie());
    }
}
