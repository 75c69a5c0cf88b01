//! Policy on the host: the incremental compiler fed from the view, and the
//! host filter that keeps only what this host enforces.
//!
//! [`PolicyFeed`] owns a [`contiv_policy::Compiler`] over the whole intent
//! the agent sees (tenants, networks, groups, rules, endpoints) and turns
//! view changes into compiler updates, so each batch yields the compiler's
//! small, exact [`PolicyDelta`].
//!
//! [`HostPolicy`] narrows that IR to this host: the rules of the groups
//! that have local endpoints (`in` rules are judged where the destination
//! lives and `out` rules where the source lives, so rules of groups with no
//! local member are never consulted here), the address sets those rules
//! reference, and the memberships of every tenant with a local endpoint
//! (peers anywhere in the tenant must be classified). It is updated from
//! the compiler's delta and from changes of the local group/tenant sets,
//! touching only affected entries; [`filter`] computes the same from
//! scratch and the tests hold the two equal.

use super::view::{Change, HostView};
use contiv_core::ir::{AddrSetId, EpgId, PolicyDelta, PolicyIr, RuleId, TenantId};
use contiv_policy::{Compiler, EndpointInput};
use std::collections::{BTreeMap, BTreeSet};
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};
use tracing::warn;

/// The compiler fed from the view. Updates the compiler refuses are kept
/// and retried with every later batch (an object may become valid when
/// another arrives, e.g. a renumbered group).
#[derive(Debug, Default)]
pub struct PolicyFeed {
    compiler: Compiler,
    refused: BTreeSet<Change>,
}

impl PolicyFeed {
    /// A compiler loaded with everything in `view`.
    pub fn from_view(view: &HostView) -> Self {
        let mut f = PolicyFeed::default();
        let mut all = view.all_changes();
        // Tenants and groups first so rules and endpoints compile at once.
        all.sort_by_key(|c| match c {
            Change::Tenant(_) => 0,
            Change::Network(_) => 1,
            Change::Epg(_) => 2,
            Change::Rule(_) => 3,
            _ => 4,
        });
        let _ = f.update(view, &all);
        f
    }

    /// The full compiled IR.
    pub fn ir(&self) -> &PolicyIr {
        self.compiler.ir()
    }

    /// Feeds `changes` (already applied to `view`) to the compiler and
    /// returns the combined delta of the full IR.
    pub fn update(&mut self, view: &HostView, changes: &[Change]) -> PolicyDelta {
        let mut delta = PolicyDelta::default();
        let retry: Vec<Change> = std::mem::take(&mut self.refused).into_iter().collect();
        for c in changes.iter().chain(retry.iter()) {
            match self.one(view, c) {
                Ok(d) => delta.extend(d),
                Err(e) => {
                    if self.refused.insert(c.clone()) {
                        warn!(object = ?c, error = %e, "policy compiler refused an update; it will be retried");
                    }
                }
            }
        }
        delta
    }

    fn one(
        &mut self,
        view: &HostView,
        change: &Change,
    ) -> Result<PolicyDelta, contiv_policy::PolicyError> {
        let c = &mut self.compiler;
        match change {
            Change::Tenant(name) => match view.tenants.get(name) {
                Some(t) => c.upsert_tenant(name, t.tenant_id),
                None => c.remove_tenant(name),
            },
            Change::Network(key) => match view.networks.get(key) {
                Some(n) => c.upsert_network(n),
                None => c.remove_network(key),
            },
            Change::Epg(key) => match (view.epgs.get(key), view.epg_states.get(key)) {
                (Some(g), Some(s)) => c.upsert_epg(g, s.epg_id),
                _ => c.remove_epg(key),
            },
            Change::Rule(key) => match view.rules.get(key) {
                Some(r) => c.upsert_rule(r),
                None => c.remove_rule(key),
            },
            Change::Endpoint(key) => match view.endpoints.get(key) {
                Some(e) => {
                    let ips: Vec<IpAddr> = e
                        .ipv4
                        .map(IpAddr::V4)
                        .into_iter()
                        .chain(e.ipv6.map(IpAddr::V6))
                        .collect();
                    c.upsert_endpoint(&EndpointInput {
                        id: key.clone(),
                        tenant: e.tenant.clone(),
                        network: e.network_key(),
                        epg: e.group_key(),
                        ips,
                    })
                }
                None => c.remove_endpoint(key),
            },
            Change::Global
            | Change::Netprofile(_)
            | Change::Node(_)
            | Change::Service(_)
            | Change::Bgp(_) => Ok(PolicyDelta::default()),
        }
    }
}

fn tenant_range(t: TenantId) -> std::ops::RangeInclusive<(TenantId, IpAddr)> {
    (t, IpAddr::V4(Ipv4Addr::UNSPECIFIED))..=(t, IpAddr::V6(Ipv6Addr::from(u128::MAX)))
}

/// The part of `full` this host enforces, computed from scratch (see the
/// module docs).
pub fn filter(full: &PolicyIr, epgs: &BTreeSet<EpgId>, tenants: &BTreeSet<TenantId>) -> PolicyIr {
    let mut out = PolicyIr::default();
    for (id, r) in &full.rules {
        if epgs.contains(&r.epg) {
            out.rules.insert(*id, r.clone());
            for s in r.addr_sets() {
                if let Some(set) = full.addr_sets.get(s) {
                    out.addr_sets.insert(s.clone(), set.clone());
                }
            }
        }
    }
    for t in tenants {
        for (k, e) in full.members.range(tenant_range(*t)) {
            out.members.insert(*k, *e);
        }
    }
    out
}

/// The host's share of the policy, maintained incrementally.
#[derive(Debug, Default)]
pub struct HostPolicy {
    ir: PolicyIr,
    epgs: BTreeSet<EpgId>,
    tenants: BTreeSet<TenantId>,
    /// Rules of the full IR by owner group.
    by_epg: BTreeMap<EpgId, BTreeSet<RuleId>>,
    /// Owner group of every rule of the full IR.
    rule_epg: BTreeMap<RuleId, EpgId>,
    /// How many host rules reference each address set.
    set_refs: BTreeMap<AddrSetId, usize>,
}

impl HostPolicy {
    /// Built from scratch for the given local groups and tenants.
    pub fn new(full: &PolicyIr, epgs: BTreeSet<EpgId>, tenants: BTreeSet<TenantId>) -> Self {
        let mut hp = HostPolicy {
            ir: filter(full, &epgs, &tenants),
            epgs,
            tenants,
            ..HostPolicy::default()
        };
        for (id, r) in &full.rules {
            hp.by_epg.entry(r.epg).or_default().insert(*id);
            hp.rule_epg.insert(*id, r.epg);
        }
        for r in hp.ir.rules.values() {
            for s in r.addr_sets() {
                *hp.set_refs.entry(s.clone()).or_default() += 1;
            }
        }
        hp
    }

    /// The host IR.
    pub fn ir(&self) -> &PolicyIr {
        &self.ir
    }

    /// Brings the host IR up to date after the full IR changed by
    /// `full_delta` (already applied: `full` is the new IR) and the local
    /// groups/tenants became `epgs`/`tenants`. Returns the host delta.
    pub fn update(
        &mut self,
        full: &PolicyIr,
        full_delta: &PolicyDelta,
        epgs: &BTreeSet<EpgId>,
        tenants: &BTreeSet<TenantId>,
    ) -> PolicyDelta {
        // Keep the owner index of the full IR current.
        for id in full_delta
            .rules_removed
            .iter()
            .chain(full_delta.rules_added.iter().map(|r| &r.id))
        {
            if let Some(old) = self.rule_epg.remove(id)
                && let Some(s) = self.by_epg.get_mut(&old)
            {
                s.remove(id);
                if s.is_empty() {
                    self.by_epg.remove(&old);
                }
            }
            if let Some(r) = full.rules.get(id) {
                self.rule_epg.insert(*id, r.epg);
                self.by_epg.entry(r.epg).or_default().insert(*id);
            }
        }
        // Candidate rules: changed in the full IR, or owned by a group that
        // came or went here.
        let mut rules: BTreeSet<RuleId> = full_delta.rules_removed.iter().copied().collect();
        rules.extend(full_delta.rules_added.iter().map(|r| r.id));
        for e in epgs.symmetric_difference(&self.epgs) {
            if let Some(ids) = self.by_epg.get(e) {
                rules.extend(ids.iter().copied());
            }
            // Rules of a group that left may be gone from the index already.
            rules.extend(self.ir.rules.values().filter(|r| r.epg == *e).map(|r| r.id));
        }
        let mut sets: BTreeSet<AddrSetId> = full_delta.sets_removed.iter().cloned().collect();
        sets.extend(full_delta.sets_upserted.iter().map(|s| s.id.clone()));
        let mut d = PolicyDelta::default();
        for id in rules {
            let want = full.rules.get(&id).filter(|r| epgs.contains(&r.epg));
            let have = self.ir.rules.get(&id);
            if have == want {
                continue;
            }
            if let Some(h) = have {
                for s in h.addr_sets() {
                    sets.insert(s.clone());
                    if let Some(n) = self.set_refs.get_mut(s) {
                        *n -= 1;
                        if *n == 0 {
                            self.set_refs.remove(s);
                        }
                    }
                }
            }
            match want {
                Some(w) => {
                    for s in w.addr_sets() {
                        sets.insert(s.clone());
                        *self.set_refs.entry(s.clone()).or_default() += 1;
                    }
                    d.rules_added.push(w.clone());
                }
                None => d.rules_removed.push(id),
            }
        }
        for s in sets {
            let want = self
                .set_refs
                .contains_key(&s)
                .then(|| full.addr_sets.get(&s))
                .flatten();
            match (self.ir.addr_sets.get(&s), want) {
                (Some(h), Some(w)) if h == w => {}
                (_, Some(w)) => d.sets_upserted.push(w.clone()),
                (Some(_), None) => d.sets_removed.push(s),
                (None, None) => {}
            }
        }
        let mut members: BTreeSet<(TenantId, IpAddr)> = full_delta
            .members_removed
            .iter()
            .chain(full_delta.members_added.iter())
            .map(|m| (m.tenant, m.ip))
            .collect();
        for t in tenants.symmetric_difference(&self.tenants) {
            members.extend(full.members.range(tenant_range(*t)).map(|(k, _)| *k));
            members.extend(self.ir.members.range(tenant_range(*t)).map(|(k, _)| *k));
        }
        for k in members {
            let want = full.members.get(&k).filter(|_| tenants.contains(&k.0));
            match (self.ir.members.get(&k), want) {
                (Some(h), Some(w)) if h == w => {}
                (_, Some(&w)) => d.members_added.push(contiv_core::ir::Membership {
                    tenant: k.0,
                    ip: k.1,
                    epg: w,
                }),
                (Some(&h), None) => d.members_removed.push(contiv_core::ir::Membership {
                    tenant: k.0,
                    ip: k.1,
                    epg: h,
                }),
                (None, None) => {}
            }
        }
        self.ir.apply(&d);
        self.epgs = epgs.clone();
        self.tenants = tenants.clone();
        d
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use contiv_core::model::{EndpointGroup, Network, Rule};

    struct Rng(u64);
    impl Rng {
        fn next(&mut self, n: u64) -> u64 {
            self.0 ^= self.0 << 13;
            self.0 ^= self.0 >> 7;
            self.0 ^= self.0 << 17;
            self.0 % n
        }
    }

    fn group(t: &str, g: usize, policies: &[usize]) -> EndpointGroup {
        EndpointGroup {
            tenant_name: t.into(),
            group_name: format!("g{g}"),
            network_name: "n".into(),
            policies: policies.iter().map(|p| format!("p{p}")).collect(),
            ..EndpointGroup::default()
        }
    }

    fn rule(t: &str, p: usize, i: usize, rng: &mut Rng) -> Rule {
        let mut r = Rule {
            tenant_name: t.into(),
            policy_name: format!("p{p}"),
            rule_id: format!("r{i}"),
            direction: if rng.next(2) == 0 { "in" } else { "out" }.into(),
            protocol: "tcp".into(),
            port: rng.next(3) as i64 * 80,
            action: "deny".into(),
            priority: 1 + rng.next(5) as i64,
            ..Rule::default()
        };
        match rng.next(3) {
            0 if r.direction == "in" => r.from_network = "n".into(),
            0 => r.to_network = "n".into(),
            1 if r.direction == "in" => r.from_ip_address = format!("10.{}.0.0/16", rng.next(4)),
            1 => r.to_ip_address = format!("10.{}.0.0/16", rng.next(4)),
            _ => {}
        }
        r
    }

    /// Random intent changes and random changes of the local sets: the
    /// incrementally maintained host IR always equals the filter computed
    /// from scratch, and each returned delta turns the previous host IR
    /// into the new one.
    #[test]
    fn incremental_host_policy_equals_the_filter_from_scratch() {
        let mut rng = Rng(0x9e37_79b9_7f4a_7c15);
        let mut c = Compiler::new();
        let tenants = ["t1", "t2"];
        for (i, t) in tenants.iter().enumerate() {
            c.upsert_tenant(t, i as u32 + 1).unwrap();
            c.upsert_network(&Network {
                tenant_name: (*t).into(),
                network_name: "n".into(),
                subnet: format!("10.{i}.0.0/16"),
                encap: "vxlan".into(),
                ..Network::default()
            })
            .unwrap();
        }
        let mut hp = HostPolicy::new(c.ir(), BTreeSet::new(), BTreeSet::new());
        let mut epgs = BTreeSet::new();
        let mut local_tenants = BTreeSet::new();
        for step in 0..600 {
            let t = tenants[rng.next(2) as usize];
            let tid = if t == "t1" { 1 } else { 2 };
            let delta = match rng.next(6) {
                0 => {
                    let g = rng.next(4) as usize;
                    let pols: Vec<usize> = (0..rng.next(3) as usize)
                        .map(|_| rng.next(3) as usize)
                        .collect();
                    c.upsert_epg(&group(t, g, &pols), tid * 10 + g as u32 + 1)
                        .unwrap()
                }
                1 => c.remove_epg(&format!("{t}:g{}", rng.next(4))).unwrap(),
                2 => {
                    let r = rule(t, rng.next(3) as usize, rng.next(4) as usize, &mut rng);
                    c.upsert_rule(&r).unwrap_or_default()
                }
                3 => c
                    .remove_rule(&format!("{t}:p{}:r{}", rng.next(3), rng.next(4)))
                    .unwrap(),
                4 => {
                    let ip: IpAddr = format!("10.{}.0.{}", tid - 1, 1 + rng.next(20))
                        .parse()
                        .unwrap();
                    let g = format!("g{}", rng.next(4));
                    let ep = EndpointInput::new(format!("{t}-{ip}"), t, "n", Some(&g), [ip]);
                    c.upsert_endpoint(&ep).unwrap_or_default()
                }
                _ => c
                    .remove_endpoint(&format!("{t}-10.{}.0.{}", tid - 1, 1 + rng.next(20)))
                    .unwrap(),
            };
            if rng.next(3) == 0 {
                let e = tid * 10 + rng.next(4) as u32 + 1;
                if !epgs.remove(&e) {
                    epgs.insert(e);
                }
            }
            if rng.next(5) == 0 && !local_tenants.remove(&tid) {
                local_tenants.insert(tid);
            }
            let before = hp.ir().clone();
            let d = hp.update(c.ir(), &delta, &epgs, &local_tenants);
            let expected = filter(c.ir(), &epgs, &local_tenants);
            assert_eq!(hp.ir(), &expected, "step {step}");
            let mut replay = before;
            replay.apply(&d);
            assert_eq!(
                replay, expected,
                "step {step}: the delta does not reproduce the update"
            );
        }
        assert!(
            !hp.ir().rules.is_empty(),
            "the random walk never produced a host rule"
        );
    }

    #[test]
    fn feed_compiles_rules_of_groups_from_view_changes() {
        let mut v = HostView::default();
        let lines = serde_json::json!([
            ["oper/tenant/default", {"name":"default","tenant_id":1}],
            ["obj/endpointGroup/default:db", {"tenantName":"default","groupName":"db","networkName":"net","policies":["p"]}],
            ["obj/rule/default:p:1", {"tenantName":"default","policyName":"p","ruleId":"1","direction":"in","protocol":"tcp","action":"deny"}],
        ]);
        let mut changes = Vec::new();
        for l in lines.as_array().unwrap() {
            changes.push(v.apply_key(l[0].as_str().unwrap(), Some(&l[1])).unwrap());
        }
        let mut feed = PolicyFeed::default();
        let d = feed.update(&v, &changes);
        // The group has no id yet: nothing compiles.
        assert!(d.rules_added.is_empty());
        let c = v
            .apply_key(
                "oper/endpointGroup/default:db",
                Some(&serde_json::json!({"key":"default:db","epg_id":7})),
            )
            .unwrap();
        let d = feed.update(&v, &[c]);
        assert_eq!(d.rules_added.len(), 1);
        assert_eq!(d.rules_added[0].epg, 7);
        assert_eq!(PolicyFeed::from_view(&v).ir(), feed.ir());
    }
}
