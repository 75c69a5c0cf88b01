//! The incremental compiler; see [`Compiler`].

mod model;
mod pass;

use crate::PolicyError;
use crate::intent::{EndpointInput, Intent};
use crate::spec::{EndpointSpec, EpgSpec, RuleSpec, check_name, network_prefixes};
use contiv_core::ir::{EpgId, PolicyDelta, PolicyIr, TenantId};
use contiv_core::model::{EndpointGroup, Network, Rule};
use model::{Model, index_add, index_remove};
use pass::{Journal, Output, Pass};
use std::fmt;
use std::sync::Arc;

/// The incremental policy compiler: intent changes in, [`PolicyDelta`]s out.
///
/// It holds the intent (indexed) and the compiled
/// [`PolicyIr`]. Each update validates its input, changes the model, then
/// recomputes only what the change can affect, found through indexes:
///
/// | update | recomputed |
/// |---|---|
/// | endpoint joins/leaves/moves | that endpoint's memberships (one per address) |
/// | rule added/changed/removed | the rule × the groups attaching its policy |
/// | policy attached/detached | the group × that policy's rules |
/// | group created/renumbered/removed | its own pairs, the pairs of rules naming it as peer, its endpoints' memberships |
/// | network subnets changed | the one address set `net:<tenant>:<net>` (if referenced) |
/// | tenant renumbered | the tenant's pairs and memberships |
///
/// Nothing else is visited, so an update costs in proportion to what it
/// changes, not to the size of the policy set; an endpoint joining a group
/// is one membership entry however many rules name the group. The
/// returned delta is exact and minimal: applied to the previous IR it
/// yields the new one, and it names only entries that differ.
///
/// A refused update (any `Err`) leaves the compiler unchanged.
///
/// ```
/// use contiv_core::model::{EndpointGroup, Rule};
/// use contiv_policy::{Compiler, EndpointInput};
///
/// let mut c = Compiler::new();
/// c.upsert_tenant("default", 1)?;
/// let db = EndpointGroup {
///    tenant_name: "default".into(),
///    group_name: "db".into(),
///    network_name: "contiv-net".into(),
///    policies: vec!["db-policy".into()],
///    ..EndpointGroup::default()
/// };
/// c.upsert_epg(&db, 7)?;
/// let deny_tcp = Rule {
///    tenant_name: "default".into(),
///    policy_name: "db-policy".into(),
///    rule_id: "1".into(),
///    direction: "in".into(),
///    protocol: "tcp".into(),
///    action: "deny".into(),
///    ..Rule::default()
/// };
/// let delta = c.upsert_rule(&deny_tcp)?;
/// assert_eq!(delta.rules_added.len(), 1);
///
/// // An endpoint joining the group is one membership entry.
/// let ep = EndpointInput::new("ep1", "default", "contiv-net", Some("db"),
///                            ["10.1.2.7".parse().unwrap()]);
/// let delta = c.upsert_endpoint(&ep)?;
/// assert_eq!(delta.len(), 1);
/// assert_eq!(delta.members_added[0].epg, 7);
/// # Ok::<(), contiv_policy::PolicyError>(())
/// ```
#[derive(Default)]
pub struct Compiler {
    model: Model,
    out: Output,
}

impl fmt::Debug for Compiler {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Compiler")
            .field("tenants", &self.model.tenant_ids.len())
            .field("networks", &self.model.networks.len())
            .field("epgs", &self.model.epgs.len())
            .field("rules", &self.model.rules.len())
            .field("endpoints", &self.model.endpoints.len())
            .field("ir_rules", &self.out.ir.rules.len())
            .field("ir_sets", &self.out.ir.addr_sets.len())
            .field("ir_members", &self.out.ir.members.len())
            .finish()
    }
}

/// Runs a recompute pass over the (already updated) model and returns the
/// net delta.
fn run(
    model: &Model,
    out: &mut Output,
    record: bool,
    body: impl FnOnce(&mut Pass<'_>),
) -> PolicyDelta {
    let mut journal = Journal::new(record);
    let mut pass = Pass {
        model,
        out,
        journal: &mut journal,
    };
    body(&mut pass);
    journal.finish(&out.ir)
}

impl Compiler {
    /// An empty compiler.
    pub fn new() -> Self {
        Compiler::default()
    }

    /// Loads a whole intent into a new compiler (the cold start). Fails on
    /// the first object the incremental updates would refuse.
    pub fn from_intent(intent: &Intent) -> Result<Self, PolicyError> {
        let mut c = Compiler::new();
        let m = &mut c.model;
        m.rules.reserve(intent.rules.len());
        m.pair_ids.reserve(intent.rules.len());
        m.epgs.reserve(intent.epgs.len());
        m.epg_by_id.reserve(intent.epgs.len());
        m.endpoints.reserve(intent.endpoints.len());
        c.out.members.reserve(intent.endpoints.len());
        for (name, &id) in &intent.tenants {
            c.tenant(name, id, false)?;
        }
        for net in intent.networks.values() {
            c.network(net, false)?;
        }
        for e in intent.epgs.values() {
            c.epg(EpgSpec::parse(&e.group, e.id)?, false)?;
        }
        for r in intent.rules.values() {
            c.rule(RuleSpec::parse(r)?, false)?;
        }
        for ep in intent.endpoints.values() {
            c.endpoint(EndpointSpec::parse(ep)?, false)?;
        }
        Ok(c)
    }

    /// The compiled IR; always equal to [`compile`](crate::compile) of the
    /// current intent.
    pub fn ir(&self) -> &PolicyIr {
        &self.out.ir
    }

    /// Consumes the compiler, returning the IR.
    pub fn into_ir(self) -> PolicyIr {
        self.out.ir
    }

    /// Sets (or changes) the id of tenant `name`. Everything of the tenant
    /// compiles only once its tenant has an id.
    pub fn upsert_tenant(&mut self, name: &str, id: TenantId) -> Result<PolicyDelta, PolicyError> {
        self.tenant(name, id, true)
    }

    /// Forgets tenant `name`'s id: its rules and memberships leave the IR
    /// (its groups, rules and endpoints are kept and come back with an id).
    pub fn remove_tenant(&mut self, name: &str) -> Result<PolicyDelta, PolicyError> {
        let Some((name, old)) = self.model.tenant_ids.remove_entry(name) else {
            return Ok(PolicyDelta::default());
        };
        self.model.tenant_by_id.remove(&old);
        Ok(self.refresh_tenant(&name, true))
    }

    /// Adds or replaces a network (only its subnets matter to policy).
    pub fn upsert_network(&mut self, network: &Network) -> Result<PolicyDelta, PolicyError> {
        self.network(network, true)
    }

    /// Removes network `key` (`tenant:network`): rules naming it match
    /// nothing until it comes back.
    pub fn remove_network(&mut self, key: &str) -> Result<PolicyDelta, PolicyError> {
        if self.model.networks.remove(key).is_none() {
            return Ok(PolicyDelta::default());
        }
        Ok(run(&self.model, &mut self.out, true, |p| {
            p.network_set(key)
        }))
    }

    /// Adds or replaces a group with the id netmaster gave it; its
    /// `policies` are the attached policies (attach/detach by diffing).
    pub fn upsert_epg(
        &mut self,
        group: &EndpointGroup,
        id: EpgId,
    ) -> Result<PolicyDelta, PolicyError> {
        self.epg(EpgSpec::parse(group, id)?, true)
    }

    /// Removes group `key` (`tenant:group`).
    pub fn remove_epg(&mut self, key: &str) -> Result<PolicyDelta, PolicyError> {
        let Some(old) = self.model.epgs.remove(key) else {
            return Ok(PolicyDelta::default());
        };
        let m = &mut self.model;
        m.epg_by_id.remove(&old.id);
        index_remove(&mut m.tenant_epgs, &old.tenant, &old.key);
        for p in &old.policies {
            index_remove(&mut m.policy_epgs, p, &old.key);
            m.register_pairs(&old.key, p, false);
        }
        Ok(run(&self.model, &mut self.out, true, |p| {
            p.epg_policies(&old.key, &old.policies);
            p.peer_of(&old.key);
            p.members_of_epg(&old.key);
        }))
    }

    /// Attaches policy `policy` (a name in the group's tenant) to group
    /// `epg_key`.
    pub fn attach_policy(
        &mut self,
        epg_key: &str,
        policy: &str,
    ) -> Result<PolicyDelta, PolicyError> {
        self.change_policies(epg_key, policy, true)
    }

    /// Detaches policy `policy` from group `epg_key`.
    pub fn detach_policy(
        &mut self,
        epg_key: &str,
        policy: &str,
    ) -> Result<PolicyDelta, PolicyError> {
        self.change_policies(epg_key, policy, false)
    }

    /// Adds or replaces a rule.
    pub fn upsert_rule(&mut self, rule: &Rule) -> Result<PolicyDelta, PolicyError> {
        self.rule(RuleSpec::parse(rule)?, true)
    }

    /// Removes rule `key` (`tenant:policy:ruleId`).
    pub fn remove_rule(&mut self, key: &str) -> Result<PolicyDelta, PolicyError> {
        let Some(old) = self.model.rules.remove(key) else {
            return Ok(PolicyDelta::default());
        };
        let m = &mut self.model;
        index_remove(&mut m.policy_rules, old.policy_key(), &old.key);
        if let Some(peer) = old.peer_epg() {
            index_remove(&mut m.peer_rules, peer, &old.key);
        }
        for owner in m.policy_epgs.get(old.policy_key()).into_iter().flatten() {
            m.pair_ids
                .remove(&crate::rule_id(owner, old.policy_key(), old.rule_id()));
        }
        Ok(run(&self.model, &mut self.out, true, |p| p.owners_of(&old)))
    }

    /// Adds or replaces an endpoint (joins, leaves or moves between groups,
    /// changes addresses).
    pub fn upsert_endpoint(
        &mut self,
        endpoint: &EndpointInput,
    ) -> Result<PolicyDelta, PolicyError> {
        self.endpoint(EndpointSpec::parse(endpoint)?, true)
    }

    /// Removes endpoint `id`.
    pub fn remove_endpoint(&mut self, id: &str) -> Result<PolicyDelta, PolicyError> {
        let Some((id, old)) = self.model.endpoints.remove_entry(id) else {
            return Ok(PolicyDelta::default());
        };
        self.unindex_endpoint(&old);
        Ok(run(&self.model, &mut self.out, true, |p| p.members(&id)))
    }

    // ----- the updates proper -------------------------------------------

    fn tenant(
        &mut self,
        name: &str,
        id: TenantId,
        record: bool,
    ) -> Result<PolicyDelta, PolicyError> {
        check_name("tenant name", name).map_err(|reason| PolicyError::InvalidTenant {
            tenant: name.to_owned(),
            reason,
        })?;
        if let Some(owner) = self.model.tenant_by_id.get(&id)
            && **owner != *name
        {
            return Err(PolicyError::TenantIdInUse {
                id,
                tenant: name.to_owned(),
                owner: owner.to_string(),
            });
        }
        let m = &mut self.model;
        let name: Arc<str> = match m.tenant_ids.get_key_value(name) {
            Some((_, &old)) if old == id => return Ok(PolicyDelta::default()),
            Some((k, &old)) => {
                let k = k.clone();
                m.tenant_by_id.remove(&old);
                k
            }
            None => Arc::from(name),
        };
        m.tenant_ids.insert(name.clone(), id);
        m.tenant_by_id.insert(id, name.clone());
        Ok(self.refresh_tenant(&name, record))
    }

    fn refresh_tenant(&mut self, name: &str, record: bool) -> PolicyDelta {
        let model = &self.model;
        run(model, &mut self.out, record, |p| {
            for epg_key in model.tenant_epgs.get(name).into_iter().flatten() {
                if let Some(e) = model.epgs.get(epg_key) {
                    p.epg_policies(&e.key, &e.policies);
                }
            }
            for ep in model.tenant_endpoints.get(name).into_iter().flatten() {
                p.members(ep);
            }
        })
    }

    fn network(&mut self, network: &Network, record: bool) -> Result<PolicyDelta, PolicyError> {
        let prefixes = network_prefixes(network)?;
        let key = format!("{}:{}", network.tenant_name, network.network_name);
        if self.model.networks.get(key.as_str()) == Some(&prefixes) {
            return Ok(PolicyDelta::default());
        }
        self.model
            .networks
            .insert(Arc::from(key.as_str()), prefixes);
        Ok(run(&self.model, &mut self.out, record, |p| {
            p.network_set(&key)
        }))
    }

    fn epg(&mut self, mut spec: EpgSpec, record: bool) -> Result<PolicyDelta, PolicyError> {
        let m = &mut self.model;
        if let Some(owner) = m.epg_by_id.get(&spec.id)
            && **owner != *spec.key
        {
            return Err(PolicyError::EpgIdInUse {
                id: spec.id,
                epg: spec.key.to_string(),
                owner: owner.to_string(),
            });
        }
        let old = m.epgs.get(&*spec.key);
        if old == Some(&spec) {
            return Ok(PolicyDelta::default());
        }
        let attached: Vec<Arc<str>> = spec
            .policies
            .iter()
            .filter(|p| old.is_none_or(|o| !o.policies.contains(*p)))
            .cloned()
            .collect();
        let detached: Vec<Arc<str>> = old
            .map(|o| o.policies.difference(&spec.policies).cloned().collect())
            .unwrap_or_default();
        m.check_new_pairs(&spec.key, attached.iter().flat_map(|p| m.rules_of(p)))?;

        let renumbered = old.is_none_or(|o| o.id != spec.id);
        if let Some(o) = old {
            spec.key = o.key.clone();
            if o.id != spec.id {
                m.epg_by_id.remove(&o.id);
            }
        }
        let key = spec.key.clone();
        m.epg_by_id.insert(spec.id, key.clone());
        index_add(&mut m.tenant_epgs, &spec.tenant, &key);
        for p in &detached {
            index_remove(&mut m.policy_epgs, p, &key);
            m.register_pairs(&key, p, false);
        }
        for p in &attached {
            index_add(&mut m.policy_epgs, p, &key);
            m.register_pairs(&key, p, true);
        }
        let all_policies: Vec<Arc<str>> = spec.policies.iter().cloned().collect();
        m.epgs.insert(key.clone(), spec);

        Ok(run(&self.model, &mut self.out, record, |p| {
            if renumbered {
                p.epg_policies(&key, &all_policies);
                p.peer_of(&key);
                p.members_of_epg(&key);
            } else {
                p.epg_policies(&key, &attached);
            }
            p.epg_policies(&key, &detached);
        }))
    }

    fn change_policies(
        &mut self,
        epg_key: &str,
        policy: &str,
        attach: bool,
    ) -> Result<PolicyDelta, PolicyError> {
        let Some(current) = self.model.epgs.get(epg_key) else {
            return Err(PolicyError::UnknownEpg {
                epg: epg_key.to_owned(),
            });
        };
        check_name("policy", policy).map_err(|reason| PolicyError::InvalidEpg {
            epg: epg_key.to_owned(),
            reason,
        })?;
        let mut spec = current.clone();
        let policy_key: Arc<str> = Arc::from(format!("{}:{policy}", spec.tenant));
        if attach {
            spec.policies.insert(policy_key);
        } else {
            spec.policies.remove(&policy_key);
        }
        self.epg(spec, true)
    }

    fn rule(&mut self, spec: RuleSpec, record: bool) -> Result<PolicyDelta, PolicyError> {
        let m = &mut self.model;
        let old = m.rules.get(&*spec.key);
        if old == Some(&spec) {
            return Ok(PolicyDelta::default());
        }
        let is_new = old.is_none();
        let owners = m.policy_epgs.get(spec.policy_key());
        if is_new {
            for owner in owners.into_iter().flatten() {
                m.check_new_pairs(owner, [&spec])?;
            }
        }
        let owners: Vec<Arc<str>> = owners.into_iter().flatten().cloned().collect();
        let old_peer = old.and_then(|o| o.peer_epg().cloned());
        if old_peer.as_ref() != spec.peer_epg() {
            if let Some(p) = &old_peer {
                index_remove(&mut m.peer_rules, p, &spec.key);
            }
            if let Some(p) = spec.peer_epg() {
                index_add(&mut m.peer_rules, p, &spec.key);
            }
        }
        if is_new {
            index_add(&mut m.policy_rules, spec.policy_key(), &spec.key);
            for owner in &owners {
                m.pair_ids.insert(
                    crate::rule_id(owner, spec.policy_key(), spec.rule_id()),
                    (owner.clone(), spec.key.clone()),
                );
            }
        }
        let key = spec.key.clone();
        m.rules.insert(key.clone(), spec);
        let model = &self.model;
        Ok(run(model, &mut self.out, record, |p| {
            if let Some(spec) = model.rules.get(&key) {
                p.owners_of(spec);
            }
        }))
    }

    fn endpoint(&mut self, spec: EndpointSpec, record: bool) -> Result<PolicyDelta, PolicyError> {
        let m = &self.model;
        if let Some(owned) = m.addr_owner.get(&*spec.tenant) {
            for ip in &spec.ips {
                if let Some(owner) = owned.get(ip)
                    && **owner != *spec.id
                {
                    return Err(PolicyError::AddressInUse {
                        ip: *ip,
                        tenant: spec.tenant.to_string(),
                        endpoint: spec.id.to_string(),
                        owner: owner.to_string(),
                    });
                }
            }
        }
        if m.endpoints.get(&*spec.id) == Some(&spec) {
            return Ok(PolicyDelta::default());
        }
        if let Some(old) = self.model.endpoints.remove(&*spec.id) {
            self.unindex_endpoint(&old);
        }
        let m = &mut self.model;
        let id = spec.id.clone();
        index_add(&mut m.tenant_endpoints, &spec.tenant, &id);
        if let Some(g) = &spec.epg {
            index_add(&mut m.epg_endpoints, g, &id);
        }
        let owned = m.addr_owner.entry(spec.tenant.clone()).or_default();
        for ip in &spec.ips {
            owned.insert(*ip, id.clone());
        }
        m.endpoints.insert(id.clone(), spec);
        Ok(run(&self.model, &mut self.out, record, |p| p.members(&id)))
    }

    fn unindex_endpoint(&mut self, old: &EndpointSpec) {
        let m = &mut self.model;
        index_remove(&mut m.tenant_endpoints, &old.tenant, &old.id);
        if let Some(g) = &old.epg {
            index_remove(&mut m.epg_endpoints, g, &old.id);
        }
        if let Some(owned) = m.addr_owner.get_mut(&*old.tenant) {
            for ip in &old.ips {
                owned.remove(ip);
            }
            if owned.is_empty() {
                m.addr_owner.remove(&*old.tenant);
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn group(name: &str, policies: &[&str]) -> EndpointGroup {
        EndpointGroup {
            tenant_name: "t".into(),
            group_name: name.into(),
            policies: policies.iter().map(|p| (*p).to_owned()).collect(),
            ..EndpointGroup::default()
        }
    }

    fn rule(policy: &str, id: &str) -> Rule {
        Rule {
            tenant_name: "t".into(),
            policy_name: policy.into(),
            rule_id: id.into(),
            direction: "in".into(),
            action: "deny".into(),
            ..Rule::default()
        }
    }

    /// A genuine FNV collision cannot be found in a test, so plant a
    /// foreign pair on the id the next pair would get.
    #[test]
    fn a_rule_id_collision_is_refused_before_anything_changes() {
        let mut c = Compiler::new();
        c.upsert_tenant("t", 1).unwrap();
        c.upsert_epg(&group("g", &["p"]), 1).unwrap();
        c.upsert_rule(&rule("q", "z")).unwrap();
        let planted = crate::rule_id("t:g", "t:p", "r");
        c.model
            .pair_ids
            .insert(planted, (Arc::from("t:other"), Arc::from("t:o:x")));
        let before = c.out.ir.clone();

        let err = c.upsert_rule(&rule("p", "r")).unwrap_err();
        assert_eq!(
            err,
            PolicyError::RuleIdCollision {
                id: planted,
                epg: "t:g".into(),
                rule: "t:p:r".into(),
                other_epg: "t:other".into(),
                other_rule: "t:o:x".into(),
            }
        );
        assert!(!c.model.rules.contains_key("t:p:r"));
        assert_eq!(c.out.ir, before);

        // Attaching a policy whose rule would collide is refused too.
        let planted = crate::rule_id("t:g", "t:q", "z");
        c.model
            .pair_ids
            .insert(planted, (Arc::from("t:other"), Arc::from("t:o:x")));
        let err = c.attach_policy("t:g", "q").unwrap_err();
        assert!(matches!(err, PolicyError::RuleIdCollision { .. }), "{err}");
        assert!(!c.model.epgs["t:g"].policies.contains("t:q"));
        assert_eq!(c.out.ir, before);
    }

    #[test]
    fn indexes_shrink_back_when_objects_go() {
        let mut c = Compiler::new();
        c.upsert_tenant("t", 1).unwrap();
        c.upsert_epg(&group("g", &["p"]), 1).unwrap();
        let mut r = rule("p", "r");
        r.from_endpoint_group = "h".into();
        c.upsert_rule(&r).unwrap();
        c.upsert_endpoint(&EndpointInput::new(
            "e",
            "t",
            "n",
            Some("g"),
            ["10.0.0.1".parse().unwrap()],
        ))
        .unwrap();
        c.remove_endpoint("e").unwrap();
        c.remove_rule("t:p:r").unwrap();
        c.remove_epg("t:g").unwrap();
        c.remove_tenant("t").unwrap();
        let m = &c.model;
        assert!(m.tenant_epgs.is_empty() && m.tenant_endpoints.is_empty());
        assert!(m.policy_epgs.is_empty() && m.policy_rules.is_empty());
        assert!(m.peer_rules.is_empty() && m.epg_endpoints.is_empty());
        assert!(m.addr_owner.is_empty() && m.pair_ids.is_empty());
        assert!(m.epg_by_id.is_empty() && m.tenant_by_id.is_empty());
        assert!(c.out.set_refs.is_empty() && c.out.members.is_empty());
        assert_eq!(c.out.ir, PolicyIr::default());
    }
}
