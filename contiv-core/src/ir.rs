//! The datapath-neutral policy IR.
//!
//! `contiv-policy` compiles the intent (policies, rules, EPG membership,
//! networks, endpoints) into this form; every datapath realises it; the
//! reference evaluator in `contiv-policy` computes packet verdicts from it.
//!
//! The IR has three parts, kept apart so that a change touches only one:
//!
//! * **rules** ([`IrRule`]) — one per (protected EPG, model rule): owner EPG,
//!   direction, peer (any / EPG / address set), protocol, destination port
//!   range, priority, action. Identified by a stable [`RuleId`].
//! * **address sets** ([`AddrSet`]) — named prefix sets (a network's subnets,
//!   a CIDR) referenced by rules, so a network's subnets are one object no
//!   matter how many rules name it.
//! * **membership** ([`Membership`]) — endpoint address → EPG id, per tenant.
//!   An endpoint joining an EPG is exactly one membership entry, however many
//!   rules reference that EPG.
//!
//! Semantics (stated fully in `contiv-policy`'s crate docs): `in` rules of the
//! destination's EPG and `out` rules of the source's EPG judge **new**
//! connections; replies of an allowed connection pass; the highest priority
//! matching rule decides, deny wins ties; no matching rule allows; tenants
//! never reach each other.

use ipnet::IpNet;
use serde::{Deserialize, Serialize};
use std::collections::{BTreeMap, HashSet};
use std::fmt;
use std::net::IpAddr;

/// An endpoint-group id, cluster-wide unique, allocated by netmaster from a
/// persisted bitmap. `0` ([`NO_EPG`]) means "not in any group".
pub type EpgId = u32;

/// The EPG id of endpoints that belong to no group.
pub const NO_EPG: EpgId = 0;

/// The largest EPG id (16 bits, enough for 65535 groups).
pub const MAX_EPG_ID: EpgId = 0xffff;

/// A tenant (VRF) id, cluster-wide unique, allocated by netmaster.
pub type TenantId = u32;

/// Which traffic a rule governs, seen from the owner EPG's endpoints.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Direction {
    /// Connections arriving at the owner EPG's endpoints.
    In,
    /// Connections the owner EPG's endpoints open.
    Out,
}

/// What a matching rule does with a new connection.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Action {
    /// Let the connection (and its replies) through.
    Allow,
    /// Drop the connection attempt.
    Deny,
}

/// An inclusive range of L4 destination ports.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
pub struct PortRange {
    /// First port.
    pub start: u16,
    /// Last port (>= start).
    pub end: u16,
}

impl PortRange {
    /// A single port.
    pub fn single(port: u16) -> Self {
        PortRange {
            start: port,
            end: port,
        }
    }
    /// True if `port` lies in the range.
    pub fn contains(&self, port: u16) -> bool {
        self.start <= port && port <= self.end
    }
}

/// Name of an address set, unique within a [`PolicyIr`]. By convention
/// `net:<tenant>:<network>` for a network's subnets and `cidr:<prefix>` for a
/// literal CIDR.
#[derive(Clone, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
pub struct AddrSetId(pub String);

impl fmt::Display for AddrSetId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

/// A named set of IP prefixes (v4 and/or v6).
#[derive(Clone, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct AddrSet {
    /// Its name.
    pub id: AddrSetId,
    /// The prefixes, kept sorted and de-duplicated.
    pub prefixes: Vec<IpNet>,
}

impl AddrSet {
    /// True if `ip` lies in one of the prefixes.
    pub fn contains(&self, ip: IpAddr) -> bool {
        self.prefixes.iter().any(|p| p.contains(&ip))
    }
}

/// The other side of a connection, as a rule matches it.
#[derive(Clone, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
pub enum PeerMatch {
    /// Any peer.
    Any,
    /// Peers that are members of this EPG.
    Epg(EpgId),
    /// Peers whose address lies in this address set.
    AddrSet(AddrSetId),
}

/// Stable identity of a compiled rule: the same (owner EPG, model rule)
/// always gets the same id, across restarts and recompiles, so datapaths
/// can use it as a flow cookie / map key and express changes as deltas.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
pub struct RuleId(pub u64);

impl fmt::Display for RuleId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{:016x}", self.0)
    }
}

/// Where a compiled rule came from, for explanations ("why was this packet
/// dropped").
#[derive(Clone, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct RuleOrigin {
    /// The policy key (`tenant:policy`).
    pub policy: String,
    /// The rule id within the policy.
    pub rule: String,
    /// The EPG key the policy is attached to (`tenant:group`).
    pub epg: String,
}

/// One compiled rule.
#[derive(Clone, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct IrRule {
    /// Stable identity.
    pub id: RuleId,
    /// The tenant of the owner EPG.
    pub tenant: TenantId,
    /// The EPG whose endpoints the rule protects.
    pub epg: EpgId,
    /// `In`: judged where the destination (a member of `epg`) lives;
    /// `Out`: judged where the source (a member of `epg`) lives.
    pub direction: Direction,
    /// The remote side: the source for `In`, the destination for `Out`.
    pub peer: PeerMatch,
    /// For `In` rules with a `toIpAddress`: the protected endpoint's address
    /// must also lie in this set.
    pub local: Option<AddrSetId>,
    /// IP protocol number; `None` = any protocol.
    pub proto: Option<u8>,
    /// Destination port range of the connection (TCP/UDP only); `None` = any.
    pub ports: Option<PortRange>,
    /// 1..=100, higher wins.
    pub priority: u8,
    /// Allow or deny.
    pub action: Action,
    /// Where it came from.
    pub origin: RuleOrigin,
}

impl IrRule {
    /// The address sets the rule references: the peer's set (if the peer is
    /// one), then the local set (if any).
    pub fn addr_sets(&self) -> impl Iterator<Item = &AddrSetId> {
        let peer = match &self.peer {
            PeerMatch::AddrSet(id) => Some(id),
            PeerMatch::Any | PeerMatch::Epg(_) => None,
        };
        peer.into_iter().chain(self.local.as_ref())
    }
}

/// One endpoint address's group membership.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
pub struct Membership {
    /// The endpoint's tenant.
    pub tenant: TenantId,
    /// One of the endpoint's addresses.
    pub ip: IpAddr,
    /// Its EPG (never [`NO_EPG`]: endpoints without a group have no entry).
    pub epg: EpgId,
}

/// The full compiled policy (what `resync` hands a datapath).
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct PolicyIr {
    /// Compiled rules by id.
    pub rules: BTreeMap<RuleId, IrRule>,
    /// Address sets by id.
    pub addr_sets: BTreeMap<AddrSetId, AddrSet>,
    /// Membership: (tenant, address) → EPG.
    pub members: BTreeMap<(TenantId, IpAddr), EpgId>,
}

/// A change to a [`PolicyIr`]. Applying it to the IR it was computed from
/// yields the new IR ([`PolicyIr::apply`]). Removals are applied before
/// additions; an address set in `sets_upserted` replaces the old one.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct PolicyDelta {
    /// Rules to remove.
    pub rules_removed: Vec<RuleId>,
    /// Rules to add (or replace, if the id exists).
    pub rules_added: Vec<IrRule>,
    /// Address sets to remove.
    pub sets_removed: Vec<AddrSetId>,
    /// Address sets to add or replace.
    pub sets_upserted: Vec<AddrSet>,
    /// Memberships to remove.
    pub members_removed: Vec<Membership>,
    /// Memberships to add (or change the EPG of).
    pub members_added: Vec<Membership>,
}

impl PolicyDelta {
    /// True if the delta changes nothing.
    pub fn is_empty(&self) -> bool {
        self.rules_removed.is_empty()
            && self.rules_added.is_empty()
            && self.sets_removed.is_empty()
            && self.sets_upserted.is_empty()
            && self.members_removed.is_empty()
            && self.members_added.is_empty()
    }

    /// Number of entries in the delta.
    pub fn len(&self) -> usize {
        self.rules_removed.len()
            + self.rules_added.len()
            + self.sets_removed.len()
            + self.sets_upserted.len()
            + self.members_removed.len()
            + self.members_added.len()
    }

    /// Appends `other` after `self` (the result applies both in order).
    pub fn extend(&mut self, other: PolicyDelta) {
        self.rules_removed.extend(other.rules_removed);
        self.rules_added.extend(other.rules_added);
        self.sets_removed.extend(other.sets_removed);
        self.sets_upserted.extend(other.sets_upserted);
        self.members_removed.extend(other.members_removed);
        self.members_added.extend(other.members_added);
    }
}

impl PolicyIr {
    /// Applies a delta in place: removals first, then additions.
    pub fn apply(&mut self, delta: &PolicyDelta) {
        for id in &delta.rules_removed {
            self.rules.remove(id);
        }
        for id in &delta.sets_removed {
            self.addr_sets.remove(id);
        }
        for m in &delta.members_removed {
            if self.members.get(&(m.tenant, m.ip)) == Some(&m.epg) {
                self.members.remove(&(m.tenant, m.ip));
            }
        }
        for r in &delta.rules_added {
            self.rules.insert(r.id, r.clone());
        }
        for s in &delta.sets_upserted {
            self.addr_sets.insert(s.id.clone(), s.clone());
        }
        for m in &delta.members_added {
            self.members.insert((m.tenant, m.ip), m.epg);
        }
    }

    /// The delta that turns `self` into `target` (used by resync and tests).
    pub fn diff(&self, target: &PolicyIr) -> PolicyDelta {
        let mut d = PolicyDelta::default();
        for (id, r) in &self.rules {
            match target.rules.get(id) {
                None => d.rules_removed.push(*id),
                Some(t) if t != r => d.rules_added.push(t.clone()),
                _ => {}
            }
        }
        for (id, r) in &target.rules {
            if !self.rules.contains_key(id) {
                d.rules_added.push(r.clone());
            }
        }
        for (id, s) in &self.addr_sets {
            match target.addr_sets.get(id) {
                None => d.sets_removed.push(id.clone()),
                Some(t) if t != s => d.sets_upserted.push(t.clone()),
                _ => {}
            }
        }
        for (id, s) in &target.addr_sets {
            if !self.addr_sets.contains_key(id) {
                d.sets_upserted.push(s.clone());
            }
        }
        for (&(tenant, ip), &epg) in &self.members {
            match target.members.get(&(tenant, ip)) {
                None => d.members_removed.push(Membership { tenant, ip, epg }),
                Some(&t) if t != epg => d.members_added.push(Membership { tenant, ip, epg: t }),
                _ => {}
            }
        }
        for (&(tenant, ip), &epg) in &target.members {
            if !self.members.contains_key(&(tenant, ip)) {
                d.members_added.push(Membership { tenant, ip, epg });
            }
        }
        d
    }

    /// The EPG of `ip` in `tenant`, or [`NO_EPG`].
    pub fn epg_of(&self, tenant: TenantId, ip: IpAddr) -> EpgId {
        self.members.get(&(tenant, ip)).copied().unwrap_or(NO_EPG)
    }

    /// Checks that the IR is self-consistent: every rule references address
    /// sets that exist, and no membership maps to [`NO_EPG`]. The error says
    /// which rule or membership is wrong.
    pub fn check(&self) -> Result<(), String> {
        for r in self.rules.values() {
            if let Some(s) = r.addr_sets().find(|s| !self.addr_sets.contains_key(*s)) {
                return Err(format!(
                    "rule {} (rule {} of policy {} on group {}) references address set {s}, which is missing",
                    r.id, r.origin.rule, r.origin.policy, r.origin.epg
                ));
            }
        }
        if let Some(((t, ip), _)) = self.members.iter().find(|(_, e)| **e == NO_EPG) {
            return Err(format!(
                "membership of {ip} in tenant {t} names group id 0 (endpoints in no group have no entry)"
            ));
        }
        Ok(())
    }

    /// Checks that applying `d` keeps the IR consistent: no rule (added or
    /// kept) would reference an address set that does not exist afterwards,
    /// and no membership is added to [`NO_EPG`]. Datapaths refuse such a
    /// delta before touching anything.
    pub fn check_delta(&self, d: &PolicyDelta) -> Result<(), String> {
        if let Some(m) = d.members_added.iter().find(|m| m.epg == NO_EPG) {
            return Err(format!(
                "policy delta maps {} in tenant {} to group id 0 (endpoints in no group have no membership)",
                m.ip, m.tenant
            ));
        }
        let upserted: HashSet<&AddrSetId> = d.sets_upserted.iter().map(|s| &s.id).collect();
        let removed: HashSet<&AddrSetId> = d.sets_removed.iter().collect();
        let present_after = |id: &AddrSetId| {
            upserted.contains(id) || (self.addr_sets.contains_key(id) && !removed.contains(id))
        };
        for r in &d.rules_added {
            if let Some(s) = r.addr_sets().find(|s| !present_after(s)) {
                return Err(format!(
                    "policy delta adds rule {} (rule {} of policy {} on group {}) referencing address set {s}, which would not exist",
                    r.id, r.origin.rule, r.origin.policy, r.origin.epg
                ));
            }
        }
        if !removed.is_empty() {
            let replaced: HashSet<RuleId> = d
                .rules_removed
                .iter()
                .copied()
                .chain(d.rules_added.iter().map(|r| r.id))
                .collect();
            for r in self.rules.values().filter(|r| !replaced.contains(&r.id)) {
                if let Some(s) = r.addr_sets().find(|s| !present_after(s)) {
                    return Err(format!(
                        "policy delta removes address set {s}, still referenced by rule {} (rule {} of policy {} on group {})",
                        r.id, r.origin.rule, r.origin.policy, r.origin.epg
                    ));
                }
            }
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn rule(id: u64, epg: EpgId) -> IrRule {
        IrRule {
            id: RuleId(id),
            tenant: 1,
            epg,
            direction: Direction::In,
            peer: PeerMatch::Any,
            local: None,
            proto: Some(6),
            ports: Some(PortRange::single(80)),
            priority: 1,
            action: Action::Deny,
            origin: RuleOrigin {
                policy: "default:p".into(),
                rule: id.to_string(),
                epg: "default:g".into(),
            },
        }
    }

    #[test]
    fn diff_then_apply_reaches_target() {
        let mut a = PolicyIr::default();
        a.rules.insert(RuleId(1), rule(1, 5));
        a.rules.insert(RuleId(2), rule(2, 5));
        a.members.insert((1, "10.0.0.1".parse().unwrap()), 5);
        let mut b = PolicyIr::default();
        b.rules.insert(RuleId(2), rule(2, 6));
        b.rules.insert(RuleId(3), rule(3, 5));
        b.members.insert((1, "10.0.0.1".parse().unwrap()), 6);
        b.members.insert((1, "10.0.0.2".parse().unwrap()), 5);
        b.addr_sets.insert(
            AddrSetId("cidr:10.0.0.0/8".into()),
            AddrSet {
                id: AddrSetId("cidr:10.0.0.0/8".into()),
                prefixes: vec!["10.0.0.0/8".parse().unwrap()],
            },
        );
        let d = a.diff(&b);
        let mut c = a.clone();
        c.apply(&d);
        assert_eq!(c, b);
        assert!(b.diff(&b).is_empty());
    }

    fn set(id: &str) -> AddrSet {
        AddrSet {
            id: AddrSetId(id.into()),
            prefixes: vec!["10.0.0.0/8".parse().unwrap()],
        }
    }

    fn rule_with_peer_set(id: u64, set: &str) -> IrRule {
        IrRule {
            peer: PeerMatch::AddrSet(AddrSetId(set.into())),
            ..rule(id, 5)
        }
    }

    #[test]
    fn addr_sets_lists_peer_then_local() {
        let mut r = rule_with_peer_set(1, "cidr:a");
        r.local = Some(AddrSetId("cidr:b".into()));
        let sets: Vec<&str> = r.addr_sets().map(|s| s.0.as_str()).collect();
        assert_eq!(sets, ["cidr:a", "cidr:b"]);
        assert_eq!(rule(2, 5).addr_sets().count(), 0);
    }

    #[test]
    fn check_names_the_dangling_rule_and_the_group_zero_member() {
        let mut ir = PolicyIr::default();
        ir.rules.insert(RuleId(7), rule_with_peer_set(7, "cidr:x"));
        let e = ir.check().unwrap_err();
        assert!(e.contains("cidr:x") && e.contains("default:p"), "{e}");
        ir.addr_sets
            .insert(AddrSetId("cidr:x".into()), set("cidr:x"));
        assert_eq!(ir.check(), Ok(()));
        ir.members.insert((1, "10.0.0.9".parse().unwrap()), NO_EPG);
        assert!(ir.check().unwrap_err().contains("10.0.0.9"));
    }

    #[test]
    fn check_delta_refuses_what_would_dangle_and_accepts_replacements() {
        let mut ir = PolicyIr::default();
        ir.addr_sets
            .insert(AddrSetId("cidr:x".into()), set("cidr:x"));
        ir.rules.insert(RuleId(1), rule_with_peer_set(1, "cidr:x"));
        // Removing a set a kept rule uses.
        let remove = PolicyDelta {
            sets_removed: vec![AddrSetId("cidr:x".into())],
            ..PolicyDelta::default()
        };
        assert!(
            ir.check_delta(&remove)
                .unwrap_err()
                .contains("still referenced by rule")
        );
        // ... is fine when the rule goes too.
        let remove_both = PolicyDelta {
            rules_removed: vec![RuleId(1)],
            ..remove.clone()
        };
        assert_eq!(ir.check_delta(&remove_both), Ok(()));
        // Adding a rule on a set that does not exist, or comes in the delta.
        let add = PolicyDelta {
            rules_added: vec![rule_with_peer_set(2, "cidr:y")],
            ..PolicyDelta::default()
        };
        assert!(ir.check_delta(&add).unwrap_err().contains("cidr:y"));
        let add_with_set = PolicyDelta {
            sets_upserted: vec![set("cidr:y")],
            ..add
        };
        assert_eq!(ir.check_delta(&add_with_set), Ok(()));
        // Group 0 memberships are refused.
        let zero = PolicyDelta {
            members_added: vec![Membership {
                tenant: 1,
                ip: "10.0.0.1".parse().unwrap(),
                epg: NO_EPG,
            }],
            ..PolicyDelta::default()
        };
        assert!(ir.check_delta(&zero).unwrap_err().contains("group id 0"));
    }
}
