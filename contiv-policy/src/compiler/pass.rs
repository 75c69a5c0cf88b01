//! Re-deriving the compiled output of the affected pairs and endpoints,
//! and recording exactly what changed.
//!
//! Every recompute is idempotent: it compares what the pair (or endpoint)
//! compiles to *now* with what the IR holds and changes only the
//! difference. An update therefore only has to name a superset of what it
//! affects; the [`Journal`] keeps the first "before" state of each touched
//! entry and [`Journal::finish`] emits the net, minimal delta.

use super::model::Model;
use crate::rule_id::rule_id;
use crate::spec::{RuleSpec, SetSource, network_set_id};
use contiv_core::ir::{
    AddrSet, AddrSetId, EpgId, IrRule, Membership, PolicyDelta, PolicyIr, RuleId, TenantId,
};
use std::collections::{BTreeMap, HashMap};
use std::net::IpAddr;
use std::sync::Arc;

/// The compiled output the compiler maintains.
#[derive(Default)]
pub(super) struct Output {
    /// The full IR, always equal to compiling the current intent.
    pub ir: PolicyIr,
    /// How many compiled rules reference each address set (a set is in the
    /// IR exactly while this is positive).
    pub set_refs: HashMap<AddrSetId, usize>,
    /// Memberships currently in the IR, by endpoint id.
    pub members: HashMap<Arc<str>, Vec<Membership>>,
}

/// The "before" state of every IR entry an update touched.
#[derive(Default)]
pub(super) struct Journal {
    record: bool,
    rules: BTreeMap<RuleId, Option<IrRule>>,
    sets: BTreeMap<AddrSetId, Option<AddrSet>>,
    members: BTreeMap<(TenantId, IpAddr), Option<EpgId>>,
}

impl Journal {
    /// A journal; with `record` false it keeps nothing and yields empty
    /// deltas (bulk loading).
    pub fn new(record: bool) -> Self {
        Journal {
            record,
            ..Journal::default()
        }
    }

    fn rule(&mut self, ir: &PolicyIr, id: RuleId) {
        if self.record {
            self.rules
                .entry(id)
                .or_insert_with(|| ir.rules.get(&id).cloned());
        }
    }

    fn set(&mut self, ir: &PolicyIr, id: &AddrSetId) {
        if self.record && !self.sets.contains_key(id) {
            self.sets.insert(id.clone(), ir.addr_sets.get(id).cloned());
        }
    }

    fn member(&mut self, ir: &PolicyIr, key: (TenantId, IpAddr)) {
        if self.record {
            self.members
                .entry(key)
                .or_insert_with(|| ir.members.get(&key).copied());
        }
    }

    /// The net change from the recorded "before" states to `ir`.
    pub fn finish(self, ir: &PolicyIr) -> PolicyDelta {
        let mut d = PolicyDelta::default();
        for (id, before) in self.rules {
            let after = ir.rules.get(&id);
            if before.as_ref() != after {
                match after {
                    Some(r) => d.rules_added.push(r.clone()),
                    None => d.rules_removed.push(id),
                }
            }
        }
        for (id, before) in self.sets {
            let after = ir.addr_sets.get(&id);
            if before.as_ref() != after {
                match after {
                    Some(s) => d.sets_upserted.push(s.clone()),
                    None => d.sets_removed.push(id),
                }
            }
        }
        for ((tenant, ip), before) in self.members {
            let after = ir.members.get(&(tenant, ip)).copied();
            match (before, after) {
                (b, a) if b == a => {}
                (_, Some(epg)) => d.members_added.push(Membership { tenant, ip, epg }),
                (Some(epg), None) => d.members_removed.push(Membership { tenant, ip, epg }),
                (None, None) => {}
            }
        }
        d
    }
}

/// One recompute pass over a consistent model.
pub(super) struct Pass<'a> {
    pub model: &'a Model,
    pub out: &'a mut Output,
    pub journal: &'a mut Journal,
}

impl Pass<'_> {
    /// Recomputes the pair (group `epg_key`, rule `spec.key`). `spec` may be
    /// a rule that was just removed (only its names are used for the id).
    pub fn pair(&mut self, epg_key: &str, spec: &RuleSpec) {
        let id = rule_id(epg_key, spec.policy_key(), spec.rule_id());
        let new = self.model.compile_pair(epg_key, &spec.key);
        if self.out.ir.rules.get(&id) == new.as_ref().map(|(r, _)| r) {
            return;
        }
        self.journal.rule(&self.out.ir, id);
        if let Some(old) = self.out.ir.rules.remove(&id) {
            for s in old.addr_sets() {
                self.unref_set(s);
            }
        }
        if let Some((rule, current)) = new {
            // `IrRule::addr_sets` and `RuleSpec::sets` both list the peer's set, then
            // the local one.
            for (set, source) in rule.addr_sets().zip(current.sets()) {
                self.ref_set(set, source);
            }
            self.out.ir.rules.insert(id, rule);
        }
    }

    /// Recomputes the pairs of group `epg_key` with the rules of each of
    /// `policies`.
    pub fn epg_policies<'p>(
        &mut self,
        epg_key: &str,
        policies: impl IntoIterator<Item = &'p Arc<str>>,
    ) {
        let model = self.model;
        for policy in policies {
            for spec in model.rules_of(policy) {
                self.pair(epg_key, spec);
            }
        }
    }

    /// Recomputes every pair whose rule names group `epg_key` as peer.
    pub fn peer_of(&mut self, epg_key: &str) {
        let model = self.model;
        for rule_key in model.peer_rules.get(epg_key).into_iter().flatten() {
            let Some(spec) = model.rules.get(rule_key) else {
                continue;
            };
            self.owners_of(spec);
        }
    }

    /// Recomputes the pairs of `spec` with every group attaching its policy.
    pub fn owners_of(&mut self, spec: &RuleSpec) {
        let model = self.model;
        for owner in model
            .policy_epgs
            .get(spec.policy_key())
            .into_iter()
            .flatten()
        {
            self.pair(owner, spec);
        }
    }

    /// Recomputes the memberships of every endpoint naming group `epg_key`.
    pub fn members_of_epg(&mut self, epg_key: &str) {
        let model = self.model;
        for ep in model.epg_endpoints.get(epg_key).into_iter().flatten() {
            self.members(ep);
        }
    }

    /// Recomputes the memberships of endpoint `id`.
    pub fn members(&mut self, id: &Arc<str>) {
        let desired = self.model.memberships(id);
        let old = self.out.members.remove(id).unwrap_or_default();
        for m in &old {
            if !desired.iter().any(|d| d.tenant == m.tenant && d.ip == m.ip) {
                self.journal.member(&self.out.ir, (m.tenant, m.ip));
                self.out.ir.members.remove(&(m.tenant, m.ip));
            }
        }
        for m in &desired {
            if self.out.ir.members.get(&(m.tenant, m.ip)) != Some(&m.epg) {
                self.journal.member(&self.out.ir, (m.tenant, m.ip));
                self.out.ir.members.insert((m.tenant, m.ip), m.epg);
            }
        }
        if !desired.is_empty() {
            self.out.members.insert(id.clone(), desired);
        }
    }

    /// Refreshes the content of network `key`'s address set, if compiled
    /// rules reference it.
    pub fn network_set(&mut self, key: &str) {
        let id = network_set_id(key);
        if !self.out.set_refs.contains_key(&id) {
            return;
        }
        let prefixes = self.model.set_prefixes(&SetSource::Network(Arc::from(key)));
        if self.out.ir.addr_sets.get(&id).map(|s| &s.prefixes) == Some(&prefixes) {
            return;
        }
        self.journal.set(&self.out.ir, &id);
        self.out
            .ir
            .addr_sets
            .insert(id.clone(), AddrSet { id, prefixes });
    }

    fn ref_set(&mut self, id: &AddrSetId, source: SetSource) {
        if let Some(count) = self.out.set_refs.get_mut(id) {
            *count += 1;
        } else {
            self.out.set_refs.insert(id.clone(), 1);
            self.journal.set(&self.out.ir, id);
            let prefixes = self.model.set_prefixes(&source);
            self.out.ir.addr_sets.insert(
                id.clone(),
                AddrSet {
                    id: id.clone(),
                    prefixes,
                },
            );
        }
    }

    fn unref_set(&mut self, id: &AddrSetId) {
        let Some(count) = self.out.set_refs.get_mut(id) else {
            return;
        };
        *count -= 1;
        if *count == 0 {
            self.out.set_refs.remove(id);
            self.journal.set(&self.out.ir, id);
            self.out.ir.addr_sets.remove(id);
        }
    }
}
