//! Services ([`ServiceSpec`]): select groups and `ct(nat)` flows.
//!
//! For a service with VIP `V` on network `N` of tenant `T` (conntrack zone
//! `T`, NAT zone [`nat_zone`]`(T)`):
//!
//! | table | flow |
//! |---|---|
//! | arp | `arp_op=1, reg1=N, arp_tpa=V` → ARP reply with the VIP MAC (`02:02:` + `V`) |
//! | conntrack | `reg0=T, nw_dst=V`, reverse SNAT not done yet → mark it done, `ct(zone=nat(T), nat, table=conntrack)`: a hairpin reply (backend → `V`) gets its destination back before the tenant's conntrack sees it |
//! | service-lb | `reg0=T, reg1=N, proto, nw_dst=V, tp_dst=svc_port` → `reg5=V`, `SERVICE` flag, `group:G` |
//! | group `G` (select) | one bucket per backend `B`: `prov_port` into the L4 summary (`reg6`), `ct(commit, zone=T, nat(dst=B:prov_port), table=service-fwd)` |
//! | service-fwd | `SERVICE`, `reg0=T, nw_dst=B` → `eth_dst=MAC(B)` → src-epg; with `nw_src=B` too: also the `HAIRPIN` flag |
//! | service-fwd | `+est`, `reg0=T, nw_dst=B` → `eth_dst=MAC(B)` → l2-forward (later packets, translated by the conntrack stage, still carry the VIP's MAC; so do hairpin replies); with `nw_src=B` too, the hairpin SNAT is repeated (`ct(zone=nat(T), nat)`) |
//! | commit | `SERVICE+HAIRPIN, reg0=T, reg5=V` → `ct(commit, zone=nat(T), nat(src=V), table=l2-forward)` |
//!
//! The DNAT is committed by the bucket, before policy: the translated
//! packet then meets classification and policy as a packet to the backend
//! (its group, its `in` rules where it lives), and a denied connection's
//! entry simply never sees a reply. Later packets and replies are
//! translated by the `nat` of the conntrack stage. A service without
//! backends has a group without buckets: connections to it are dropped.
//!
//! **Fragments are not translated** (the backend does not claim
//! `service_fragments`): the userspace datapath reassembles IPv4 fragments
//! only inside a `ct()` action and then sends the fragments on one by
//! one, so the OpenFlow tables see each fragment alone. A later fragment
//! carries no ports, misses the service-lb flow and never meets the NAT
//! its first fragment got in the group's bucket, so the datagram is lost
//! (and leaves no conntrack entry that would break the flow's later
//! datagrams: `a_fragmented_datagram_to_a_vip_is_dropped_and_leaves_no_entry`).
//! `OFPC_FRAG_REASM` is not implemented by OVS. The agent reports UDP
//! services on this datapath as not enforced (`service_fragments`); the
//! eBPF datapath translates fragments.
//!
//! Group ids are stable hashes of (service, protocol, port), probed past
//! collisions; the groups are compared with the switch's at resync like
//! flows.

use super::build::{actions, actions_then, eth, plain, set_bit, set_reg, tenant_zone};
use super::cookie::{CookieKind, stable_hash};
use super::flow::FlowKey;
use super::flow_table::Body;
use super::forwarding::{arp_reply, flag_clear, flag_set, tag_of};
use super::tables::{Table, flags, prio, reg};
use crate::openflow::wire::{
    Action, Bucket, Ct, CtZone, GroupType, MacAddr, Masked, Match, Nat, NxmHeader, OxmField,
    ct_state,
};
use contiv_core::datapath::{NetworkSpec, PortSpec, ServiceProtocol, ServiceSpec};
use contiv_core::ir::TenantId;
use std::net::Ipv4Addr;

type Entry = (FlowKey, Body);

/// The conntrack zone of a tenant's SNAT (external access, hairpin): the
/// tenant id with the top bit set. Tenant ids are below `0x8000` (the
/// datapath refuses others), so it never meets a tenant's own zone.
pub const fn nat_zone(tenant: TenantId) -> u16 {
    0x8000 | (tenant as u16 & 0x7fff)
}

/// The MAC the VIP answers ARP with: `02:02:` + the VIP (a VIP is never an
/// endpoint's address, so never an endpoint's MAC).
pub fn vip_mac(vip: Ipv4Addr) -> MacAddr {
    MacAddr::from_ipv4(vip)
}

/// The cookie of a service's flows.
pub fn service_cookie(key: &str) -> u64 {
    CookieKind::Service.cookie(stable_hash(&[key.as_bytes()]))
}

/// The preferred group id of a service port (a stable hash; the
/// pipeline probes past collisions).
pub fn preferred_group_id(key: &str, port: &PortSpec) -> u32 {
    let h = stable_hash(&[
        key.as_bytes(),
        &[port.protocol.ip_proto()],
        &port.svc_port.to_be_bytes(),
    ]);
    // 1..=0x7fff_ffff: never 0, never a reserved id.
    ((h as u32) & 0x7fff_ffff).max(1)
}

/// A backend as the flows need it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct BackendAddr {
    /// Its IPv4 address.
    pub ip: Ipv4Addr,
    /// Its MAC.
    pub mac: MacAddr,
}

/// A select group the pipeline wants in the switch.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct GroupSpec {
    /// The group type (always `select` here).
    pub group_type: GroupType,
    /// The buckets.
    pub buckets: Vec<Bucket>,
}

/// The select group of one service port: a bucket per backend that
/// commits the DNAT in the tenant's zone and recirculates to
/// [`Table::ServiceFwd`].
pub fn service_group(port: &PortSpec, backends: &[BackendAddr]) -> GroupSpec {
    let buckets = backends
        .iter()
        .map(|b| {
            let nat = Nat {
                proto_min: Some(port.prov_port),
                proto_max: Some(port.prov_port),
                ..Nat::dnat(b.ip)
            };
            // Policy judges the backend's port: the L4 summary gets it.
            let mut bucket = Bucket::new(vec![
                Action::load(NxmHeader::reg(reg::L4), 0, 16, u64::from(port.prov_port)),
                Action::Ct(
                    Ct::new()
                        .commit()
                        .zone(tenant_zone())
                        .table(Table::ServiceFwd.id())
                        .action(Action::Nat(nat)),
                ),
            ]);
            bucket.weight = 100;
            bucket
        })
        .collect();
    GroupSpec {
        group_type: GroupType::Select,
        buckets,
    }
}

/// A service's flows (see the [module documentation](self)); `groups` are
/// the group ids of its ports, in `sv.ports` order.
pub fn service_flows(
    sv: &ServiceSpec,
    net: &NetworkSpec,
    backends: &[BackendAddr],
    groups: &[u32],
) -> Vec<Entry> {
    let c = service_cookie(&sv.key);
    let t = net.tenant_id;
    let v = sv.vip;
    let mut out = vec![arp_reply(net, v, vip_mac(v), c)];
    // Hairpin replies: reverse the SNAT to the VIP first.
    out.push(plain(
        Table::Conntrack,
        prio::GUARD,
        flag_clear(
            Match::new()
                .reg(reg::TENANT, t)
                .eth_type(eth::IPV4)
                .ipv4_dst(v),
            flags::UNSNAT_DONE,
        ),
        actions(vec![
            set_bit(reg::FLAGS, flags::bit::UNSNAT_DONE),
            Action::Ct(
                Ct::new()
                    .zone(CtZone::Imm(nat_zone(t)))
                    .table(Table::Conntrack.id())
                    .action(Action::Nat(Nat::reverse())),
            ),
        ]),
        c,
    ));
    for (p, g) in sv.ports.iter().zip(groups) {
        let m = Match::new()
            .reg(reg::TENANT, t)
            .reg(reg::NETWORK, tag_of(net))
            .eth_type(eth::IPV4)
            .ip_proto(p.protocol.ip_proto())
            .ipv4_dst(v);
        let m = match p.protocol {
            ServiceProtocol::Tcp => m.tcp_dst(p.svc_port),
            ServiceProtocol::Udp => m.udp_dst(p.svc_port),
        };
        out.push(plain(
            Table::ServiceLb,
            prio::OBJECT,
            m,
            actions(vec![
                set_reg(reg::VIP, u32::from(v)),
                set_bit(reg::FLAGS, flags::bit::SERVICE),
                Action::Group(*g),
            ]),
            c,
        ));
    }
    for b in backends {
        out.extend(backend_flows(t, *b, c));
    }
    out.push(plain(
        Table::Commit,
        prio::OBJECT,
        flag_set(
            Match::new()
                .reg(reg::TENANT, t)
                .reg(reg::VIP, u32::from(v))
                .eth_type(eth::IPV4),
            flags::SERVICE | flags::HAIRPIN,
        ),
        // Recirculated: the translated packet goes on in l2-forward.
        actions(vec![Action::Ct(
            Ct::new()
                .commit()
                .zone(CtZone::Imm(nat_zone(t)))
                .table(Table::L2Forward.id())
                .action(Action::Nat(Nat::snat(v))),
        )]),
        c,
    ));
    out
}

/// The service-fwd flows of one backend (identical for every service of
/// the tenant it backs: the flow table merges them): the first packet of
/// a connection DNATed to it (hairpin when it is its own client), and
/// every later packet addressed to it (the conntrack stage translated the
/// address, the MAC is still the VIP's) — a hairpin connection's packets
/// get their SNAT to the VIP repeated.
fn backend_flows(t: TenantId, b: BackendAddr, c: u64) -> Vec<Entry> {
    let base = Match::new()
        .reg(reg::TENANT, t)
        .eth_type(eth::IPV4)
        .ipv4_dst(b.ip);
    let to_b = Action::SetField(OxmField::EthDst(Masked::exact(b.mac)));
    // A hairpin packet leaves through the port it came in on: OpenFlow
    // drops that unless the in_port is cleared first.
    let any_port = Action::load(NxmHeader::IN_PORT, 0, 16, 0);
    let est = |m: Match| m.ct_state(ct_state::TRK | ct_state::EST, ct_state::TRK | ct_state::EST);
    vec![
        plain(
            Table::ServiceFwd,
            prio::OBJECT + 1,
            flag_set(base.clone().ipv4_src(b.ip), flags::SERVICE),
            actions_then(
                vec![
                    to_b.clone(),
                    any_port.clone(),
                    set_bit(reg::FLAGS, flags::bit::HAIRPIN),
                ],
                Table::SrcEpg,
            ),
            c,
        ),
        plain(
            Table::ServiceFwd,
            prio::OBJECT,
            flag_set(base.clone(), flags::SERVICE),
            actions_then(vec![to_b.clone()], Table::SrcEpg),
            c,
        ),
        plain(
            Table::ServiceFwd,
            prio::OBJECT + 1,
            est(base.clone().ipv4_src(b.ip)),
            actions(vec![
                to_b.clone(),
                any_port.clone(),
                Action::Ct(
                    Ct::new()
                        .zone(CtZone::Imm(nat_zone(t)))
                        .table(Table::L2Forward.id())
                        .action(Action::Nat(Nat::reverse())),
                ),
            ]),
            c,
        ),
        plain(
            Table::ServiceFwd,
            prio::OBJECT,
            est(base),
            actions_then(vec![to_b, any_port], Table::L2Forward),
            c,
        ),
    ]
}
