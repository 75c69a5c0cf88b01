//! Policy in VPP's ACL plugin.
//!
//! VPP's semantics (acl plugin): the ACLs bound to an interface's input
//! (packets it sends into VPP) or output (packets VPP sends to it) are
//! checked in list order and within an ACL rule by rule; the **first
//! matching rule decides**; no match denies. `permit+reflect` permits and
//! creates a session, and the session lets the connection's later packets
//! pass **in both directions on that interface** without consulting the
//! rules again. Each rule matches a source and a destination prefix of one
//! family, an IP protocol (0 = any; then ports are not looked at), and for
//! TCP/UDP source and destination port ranges (for ICMP: type and code).
//!
//! The realisation, per group G with rules and local members:
//!
//! * two ACLs, `cv:acl:<tenant>:<G>:out` (G's `out` rules; bound as the
//!   **input** ACL of G's members: what they send) and `…:in` (G's `in`
//!   rules; bound as the **output** ACL: what they receive). Binding a new
//!   member is one `acl_interface_set_acl_list`, however many rules there
//!   are;
//! * the rules in decision order — priority descending, deny before allow
//!   at equal priority, then rule id — so VPP's first match is the
//!   oracle's deciding rule; allow = `permit+reflect` (stateful), deny =
//!   `deny`;
//! * each rule expanded to entries: the peer (any: `0.0.0.0/0` and `::/0`;
//!   a group: each member address of the tenant as /32 or /128; an address
//!   set: its prefixes) × the protected side (`any`, or the rule's local
//!   set for `in` rules) of the same family × the protocol (any: 0; with a
//!   port and no protocol: TCP and UDP; ICMP: 1 for IPv4 and 58 for IPv6);
//! * last, `permit+reflect` any → any for both families: no matching rule
//!   allows, and every allowed connection gets a session, so its replies
//!   are not judged by the receiving group's own rules.
//!
//! An `out` rule then judges a connection where its source lives, an `in`
//! rule where its destination lives, and only new connections are judged.

use super::host::HostState;
use super::names::AclKey;
use crate::api::types::{AclAction, AclRule, IpProto, Prefix};
use contiv_core::ir::{
    Action, AddrSetId, Direction, EpgId, IrRule, NO_EPG, PeerMatch, PolicyIr, RuleId, TenantId,
};
use ipnet::IpNet;
use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::net::IpAddr;

const TCP: u8 = 6;
const UDP: u8 = 17;
const ICMP: u8 = 1;
const ICMP6: u8 = 58;

/// The (input, output) ACL keys of a group: its `out` rules judge what its
/// members send, its `in` rules what they receive.
pub fn keys(tenant: TenantId, epg: EpgId) -> (AclKey, AclKey) {
    (
        AclKey {
            tenant,
            epg,
            dir: Direction::Out,
        },
        AclKey {
            tenant,
            epg,
            dir: Direction::In,
        },
    )
}

/// Both ACL keys of a group.
pub fn keys_array(tenant: TenantId, epg: EpgId) -> [AclKey; 2] {
    let (a, b) = keys(tenant, epg);
    [a, b]
}

/// Groups (tenant, group) with at least one local member.
pub fn local_groups(h: &HostState) -> BTreeSet<(TenantId, EpgId)> {
    h.local
        .values()
        .filter(|e| e.epg != NO_EPG)
        .filter_map(|e| h.networks.get(&e.network).map(|n| (n.tenant_id, e.epg)))
        .collect()
}

/// Rules by owner group and direction, and group members by group: built
/// once per compilation.
#[derive(Debug, Default)]
pub struct Index {
    rules: HashMap<AclKey, Vec<RuleId>>,
    members: HashMap<(TenantId, EpgId), Vec<IpAddr>>,
}

impl Index {
    /// Indexes `ir`.
    pub fn new(ir: &PolicyIr) -> Index {
        let mut idx = Index::default();
        for r in ir.rules.values() {
            idx.rules
                .entry(AclKey {
                    tenant: r.tenant,
                    epg: r.epg,
                    dir: r.direction,
                })
                .or_default()
                .push(r.id);
        }
        for (&(t, ip), &g) in &ir.members {
            idx.members.entry((t, g)).or_default().push(ip);
        }
        idx
    }

    /// True if the group has rules in either direction.
    pub fn has_rules(&self, tenant: TenantId, epg: EpgId) -> bool {
        keys_array(tenant, epg)
            .iter()
            .any(|k| self.rules.get(k).is_some_and(|v| !v.is_empty()))
    }

    /// The ACL `key` stands for.
    pub fn compile(&self, ir: &PolicyIr, key: AclKey) -> Vec<AclRule> {
        let mut rules: Vec<&IrRule> = self
            .rules
            .get(&key)
            .into_iter()
            .flatten()
            .filter_map(|id| ir.rules.get(id))
            .collect();
        rules.sort_by(|a, b| decision_order(a, b));
        let mut out = Vec::new();
        for r in rules {
            self.expand(ir, r, &mut out);
        }
        for any in [any_v4(), any_v6()] {
            out.push(entry(
                AclAction::ACL_ACTION_API_PERMIT_REFLECT,
                any,
                any,
                0,
                None,
            ));
        }
        out
    }

    fn set(ir: &PolicyIr, id: &AddrSetId) -> Vec<IpNet> {
        ir.addr_sets
            .get(id)
            .map(|s| s.prefixes.clone())
            .unwrap_or_default()
    }

    fn expand(&self, ir: &PolicyIr, r: &IrRule, out: &mut Vec<AclRule>) {
        let peers: Vec<IpNet> = match &r.peer {
            PeerMatch::Any => vec![any_v4(), any_v6()],
            PeerMatch::Epg(g) if *g == NO_EPG => Vec::new(),
            PeerMatch::Epg(g) => {
                let mut v: Vec<IpNet> = self
                    .members
                    .get(&(r.tenant, *g))
                    .into_iter()
                    .flatten()
                    .map(|ip| IpNet::from(*ip))
                    .collect();
                v.sort();
                v
            }
            PeerMatch::AddrSet(id) => Index::set(ir, id),
        };
        let locals: Vec<IpNet> = match (&r.direction, &r.local) {
            (Direction::In, Some(id)) => Index::set(ir, id),
            _ => vec![any_v4(), any_v6()],
        };
        let action = match r.action {
            Action::Allow => AclAction::ACL_ACTION_API_PERMIT_REFLECT,
            Action::Deny => AclAction::ACL_ACTION_API_DENY,
        };
        for peer in &peers {
            for local in locals
                .iter()
                .filter(|l| l.addr().is_ipv4() == peer.addr().is_ipv4())
            {
                // `in`: the peer is the source; `out`: the destination.
                let (src, dst) = match r.direction {
                    Direction::In => (*peer, *local),
                    Direction::Out => (*local, *peer),
                };
                let v6 = peer.addr().is_ipv6();
                let protos: Vec<u8> = match (r.proto, r.ports) {
                    (None, None) => vec![0],
                    (None, Some(_)) => vec![TCP, UDP],
                    (Some(ICMP), _) => vec![if v6 { ICMP6 } else { ICMP }],
                    (Some(p), _) => vec![p],
                };
                for p in protos {
                    if r.ports.is_some() && p != TCP && p != UDP {
                        // A port only matches TCP and UDP connections.
                        continue;
                    }
                    out.push(entry(
                        action,
                        src,
                        dst,
                        p,
                        r.ports.map(|x| (x.start, x.end)),
                    ));
                }
            }
        }
    }
}

/// The oracle's deciding order: higher priority first, deny before allow,
/// then the smaller rule id.
pub fn decision_order(a: &IrRule, b: &IrRule) -> std::cmp::Ordering {
    b.priority
        .cmp(&a.priority)
        .then_with(|| (b.action == Action::Deny).cmp(&(a.action == Action::Deny)))
        .then_with(|| a.id.cmp(&b.id))
}

fn any_v4() -> IpNet {
    IpNet::V4(ipnet::Ipv4Net::default())
}

fn any_v6() -> IpNet {
    IpNet::V6(ipnet::Ipv6Net::default())
}

/// One ACL rule. Ports: `None` = all; for ICMP the type and code ranges
/// are the whole 0..=255.
fn entry(
    action: AclAction,
    src: IpNet,
    dst: IpNet,
    proto: u8,
    dports: Option<(u16, u16)>,
) -> AclRule {
    let (sf, sl, df, dl) = match (proto, dports) {
        (ICMP | ICMP6, _) => (0, 255, 0, 255),
        (_, Some((a, b))) => (0, 65535, a, b),
        _ => (0, 65535, 0, 65535),
    };
    AclRule {
        is_permit: action,
        src_prefix: Prefix::from_net(src.trunc()),
        dst_prefix: Prefix::from_net(dst.trunc()),
        proto: IpProto(proto),
        srcport_or_icmptype_first: sf,
        srcport_or_icmptype_last: sl,
        dstport_or_icmpcode_first: df,
        dstport_or_icmpcode_last: dl,
        tcp_flags_mask: 0,
        tcp_flags_value: 0,
    }
}

/// The groups whose ACLs a policy delta may change: owners of added or
/// removed rules, owners of rules naming a changed address set, owners of
/// rules naming a group whose membership changed.
pub fn dirty_groups(
    before: &PolicyIr,
    after: &PolicyIr,
    d: &contiv_core::ir::PolicyDelta,
) -> BTreeSet<(TenantId, EpgId)> {
    let mut dirty = BTreeSet::new();
    let mut sets: BTreeSet<&AddrSetId> = d.sets_removed.iter().collect();
    sets.extend(d.sets_upserted.iter().map(|s| &s.id));
    let mut groups: BTreeSet<(TenantId, EpgId)> = BTreeSet::new();
    for m in d.members_added.iter().chain(&d.members_removed) {
        groups.insert((m.tenant, m.epg));
        // A changed membership also leaves the old group.
        if let Some(old) = before.members.get(&(m.tenant, m.ip)) {
            groups.insert((m.tenant, *old));
        }
    }
    for id in &d.rules_removed {
        if let Some(r) = before.rules.get(id) {
            dirty.insert((r.tenant, r.epg));
        }
    }
    for r in &d.rules_added {
        dirty.insert((r.tenant, r.epg));
        if let Some(old) = before.rules.get(&r.id) {
            dirty.insert((old.tenant, old.epg));
        }
    }
    if !sets.is_empty() || !groups.is_empty() {
        for r in after.rules.values() {
            let names_set = r.addr_sets().any(|s| sets.contains(s));
            let names_group =
                matches!(r.peer, PeerMatch::Epg(g) if groups.contains(&(r.tenant, g)));
            if names_set || names_group {
                dirty.insert((r.tenant, r.epg));
            }
        }
    }
    dirty
}

/// Entries of every ACL, for reports.
pub fn entry_count(acls: &BTreeMap<AclKey, Vec<AclRule>>) -> usize {
    acls.values().map(Vec::len).sum()
}
