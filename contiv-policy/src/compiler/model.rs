//! The compiler's copy of the intent and the indexes that let every update
//! find exactly the (group, rule) pairs and endpoints it affects.

use crate::PolicyError;
use crate::emit::{Owner, ir_rule};
use crate::rule_id::rule_id;
use crate::spec::{EndpointSpec, EpgSpec, RuleSpec, SetSource};
use contiv_core::ir::{EpgId, IrRule, Membership, RuleId, TenantId};
use ipnet::IpNet;
use std::collections::{BTreeSet, HashMap};
use std::net::IpAddr;
use std::sync::Arc;

/// A set of keys; ordered so that deltas come out in a deterministic order.
pub(super) type KeySet = BTreeSet<Arc<str>>;

/// The intent, indexed.
#[derive(Default)]
pub(super) struct Model {
    /// Tenant name → id.
    pub tenant_ids: HashMap<Arc<str>, TenantId>,
    /// Tenant id → name (ids are unique).
    pub tenant_by_id: HashMap<TenantId, Arc<str>>,
    /// Tenant name → keys of its groups.
    pub tenant_epgs: HashMap<Arc<str>, KeySet>,
    /// Tenant name → ids of its endpoints.
    pub tenant_endpoints: HashMap<Arc<str>, KeySet>,
    /// Network key → prefixes.
    pub networks: HashMap<Arc<str>, Vec<IpNet>>,
    /// Group key → group.
    pub epgs: HashMap<Arc<str>, EpgSpec>,
    /// Group id → key (ids are unique).
    pub epg_by_id: HashMap<EpgId, Arc<str>>,
    /// Policy key → keys of the groups it is attached to.
    pub policy_epgs: HashMap<Arc<str>, KeySet>,
    /// Rule key → rule.
    pub rules: HashMap<Arc<str>, RuleSpec>,
    /// Policy key → keys of its rules.
    pub policy_rules: HashMap<Arc<str>, KeySet>,
    /// Group key → keys of the rules naming it as peer (whether or not the
    /// group exists).
    pub peer_rules: HashMap<Arc<str>, KeySet>,
    /// Endpoint id → endpoint.
    pub endpoints: HashMap<Arc<str>, EndpointSpec>,
    /// Group key → ids of the endpoints naming it (whether or not the group
    /// exists).
    pub epg_endpoints: HashMap<Arc<str>, KeySet>,
    /// Tenant name → address → owning endpoint id.
    pub addr_owner: HashMap<Arc<str>, HashMap<IpAddr, Arc<str>>>,
    /// Every potential (group, rule) pair — group attaches the rule's
    /// policy — by its rule id, resolved or not, to refuse collisions
    /// before they can happen.
    pub pair_ids: HashMap<RuleId, (Arc<str>, Arc<str>)>,
}

/// Adds `v` to the set at `k`.
pub(super) fn index_add(map: &mut HashMap<Arc<str>, KeySet>, k: &str, v: &Arc<str>) {
    match map.get_mut(k) {
        Some(set) => {
            set.insert(v.clone());
        }
        None => {
            map.insert(Arc::from(k), KeySet::from([v.clone()]));
        }
    }
}

/// Removes `v` from the set at `k`, dropping the set when it empties.
pub(super) fn index_remove(map: &mut HashMap<Arc<str>, KeySet>, k: &str, v: &str) {
    if let Some(set) = map.get_mut(k) {
        set.remove(v);
        if set.is_empty() {
            map.remove(k);
        }
    }
}

impl Model {
    /// What the pair (group `epg_key`, rule `rule_key`) compiles to now,
    /// with the rule it came from; `None` if either is missing, the group
    /// does not attach the rule's policy, the tenant has no id, or the
    /// peer group does not exist.
    pub fn compile_pair(&self, epg_key: &str, rule_key: &str) -> Option<(IrRule, &RuleSpec)> {
        let epg = self.epgs.get(epg_key)?;
        let spec = self.rules.get(rule_key)?;
        if !epg.policies.contains(spec.policy_key()) {
            return None;
        }
        let tenant_id = *self.tenant_ids.get(&*epg.tenant)?;
        let owner = Owner {
            key: &epg.key,
            id: epg.id,
            tenant_id,
        };
        let rule = ir_rule(spec, owner, |k| self.epgs.get(k).map(|e| e.id))?;
        Some((rule, spec))
    }

    /// The memberships endpoint `id` should have now.
    pub fn memberships(&self, id: &str) -> Vec<Membership> {
        let Some(ep) = self.endpoints.get(id) else {
            return Vec::new();
        };
        let (Some(&tenant), Some(epg)) = (self.tenant_ids.get(&*ep.tenant), &ep.epg) else {
            return Vec::new();
        };
        let Some(epg) = self.epgs.get(&**epg) else {
            return Vec::new();
        };
        ep.ips
            .iter()
            .map(|&ip| Membership {
                tenant,
                ip,
                epg: epg.id,
            })
            .collect()
    }

    /// The prefixes of an address set now.
    pub fn set_prefixes(&self, source: &SetSource) -> Vec<IpNet> {
        match source {
            SetSource::Network(key) => self.networks.get(&**key).cloned().unwrap_or_default(),
            SetSource::Cidr(net) => vec![*net],
        }
    }

    /// Refuses if any of the new pairs (`epg_key`, r) for the given rules
    /// would take a rule id already held by another pair (or by another
    /// new pair).
    pub fn check_new_pairs<'a>(
        &self,
        epg_key: &str,
        rules: impl IntoIterator<Item = &'a RuleSpec>,
    ) -> Result<(), PolicyError> {
        // Usually one or a handful: a linear scan beats a map.
        let mut fresh: Vec<(RuleId, &str)> = Vec::new();
        for spec in rules {
            let id = rule_id(epg_key, spec.policy_key(), spec.rule_id());
            let held = self
                .pair_ids
                .get(&id)
                .filter(|(e, r)| !(**e == *epg_key && **r == *spec.key))
                .map(|(e, r)| (e.to_string(), r.to_string()))
                .or_else(|| {
                    fresh
                        .iter()
                        .find(|(f, r)| *f == id && **r != *spec.key)
                        .map(|(_, r)| (epg_key.to_owned(), (*r).to_owned()))
                });
            if let Some((other_epg, other_rule)) = held {
                return Err(PolicyError::RuleIdCollision {
                    id,
                    epg: epg_key.to_owned(),
                    rule: spec.key.to_string(),
                    other_epg,
                    other_rule,
                });
            }
            fresh.push((id, &spec.key));
        }
        Ok(())
    }

    /// The rules of policy `policy_key`.
    pub fn rules_of<'a>(&'a self, policy_key: &str) -> impl Iterator<Item = &'a RuleSpec> + 'a {
        self.policy_rules
            .get(policy_key)
            .into_iter()
            .flatten()
            .filter_map(|k| self.rules.get(k))
    }

    /// Registers (`register` true) or forgets the pairs of group `epg_key`
    /// with the rules of `policy_key`.
    pub fn register_pairs(&mut self, epg_key: &Arc<str>, policy_key: &str, register: bool) {
        let pairs: Vec<(RuleId, Arc<str>)> = self
            .rules_of(policy_key)
            .map(|s| (rule_id(epg_key, s.policy_key(), s.rule_id()), s.key.clone()))
            .collect();
        for (id, rule) in pairs {
            if register {
                self.pair_ids.insert(id, (epg_key.clone(), rule));
            } else {
                self.pair_ids.remove(&id);
            }
        }
    }
}
