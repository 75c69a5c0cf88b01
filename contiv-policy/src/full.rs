//! Compiling a whole [`Intent`] from scratch: the plain, obviously-right
//! loop over groups × attached policies × rules. It is the reference the
//! incremental [`Compiler`](crate::Compiler) is checked against, and what a
//! caller uses when it only needs the IR once (e.g. to build a
//! [`DesiredState`](contiv_core::datapath::DesiredState) for `resync`).

use crate::PolicyError;
use crate::emit::{Owner, ir_rule};
use crate::intent::Intent;
use crate::rule_id::rule_id;
use crate::spec::{EndpointSpec, EpgSpec, RuleSpec, SetSource, check_name, network_prefixes};
use contiv_core::ir::{AddrSet, EpgId, PolicyIr, RuleId, TenantId};
use ipnet::IpNet;
use std::collections::HashMap;
use std::net::IpAddr;

/// Compiles `intent` into the full IR.
///
/// Fails on the same inputs the incremental compiler refuses: malformed
/// objects, two tenants or two groups with one id, two endpoints of a
/// tenant with one address, colliding rule ids.
pub fn compile(intent: &Intent) -> Result<PolicyIr, PolicyError> {
    let mut tenant_owner: HashMap<TenantId, &str> = HashMap::new();
    for (name, &id) in &intent.tenants {
        check_name("tenant name", name).map_err(|reason| PolicyError::InvalidTenant {
            tenant: name.clone(),
            reason,
        })?;
        if let Some(owner) = tenant_owner.insert(id, name) {
            return Err(PolicyError::TenantIdInUse {
                id,
                tenant: name.clone(),
                owner: owner.to_owned(),
            });
        }
    }

    let mut networks: HashMap<String, Vec<IpNet>> = HashMap::new();
    for net in intent.networks.values() {
        networks.insert(
            format!("{}:{}", net.tenant_name, net.network_name),
            network_prefixes(net)?,
        );
    }

    let mut epgs: Vec<EpgSpec> = Vec::with_capacity(intent.epgs.len());
    let mut epg_ids: HashMap<&str, EpgId> = HashMap::with_capacity(intent.epgs.len());
    let mut id_owner: HashMap<EpgId, String> = HashMap::with_capacity(intent.epgs.len());
    for e in intent.epgs.values() {
        let spec = EpgSpec::parse(&e.group, e.id)?;
        if let Some(owner) = id_owner.insert(spec.id, spec.key.to_string()) {
            return Err(PolicyError::EpgIdInUse {
                id: spec.id,
                epg: spec.key.to_string(),
                owner,
            });
        }
        epgs.push(spec);
    }
    for e in &epgs {
        epg_ids.insert(&e.key, e.id);
    }

    let mut by_policy: HashMap<String, Vec<RuleSpec>> = HashMap::new();
    for r in intent.rules.values() {
        let spec = RuleSpec::parse(r)?;
        // Most rules share their policy with the previous ones: look the
        // key up before allocating it.
        match by_policy.get_mut(spec.policy_key()) {
            Some(v) => v.push(spec),
            None => {
                by_policy.insert(spec.policy_key().to_owned(), vec![spec]);
            }
        }
    }

    let mut ir = PolicyIr::default();
    // Collected, then built into the map in one sorted pass (cheaper than
    // inserting in hash order; the result is the same map).
    let mut compiled: Vec<(RuleId, contiv_core::ir::IrRule)> =
        Vec::with_capacity(intent.rules.len());
    let mut pair_of: HashMap<RuleId, (&str, &str)> = HashMap::with_capacity(intent.rules.len());
    let mut sets: HashMap<contiv_core::ir::AddrSetId, SetSource> = HashMap::new();
    for e in &epgs {
        let tenant_id = intent.tenants.get(&*e.tenant).copied();
        for policy in &e.policies {
            let Some(rules) = by_policy.get(&**policy) else {
                continue;
            };
            for spec in rules {
                let id = rule_id(&e.key, spec.policy_key(), spec.rule_id());
                if let Some((oe, or)) = pair_of.insert(id, (&e.key, &spec.key)) {
                    return Err(PolicyError::RuleIdCollision {
                        id,
                        epg: e.key.to_string(),
                        rule: spec.key.to_string(),
                        other_epg: oe.to_owned(),
                        other_rule: or.to_owned(),
                    });
                }
                let Some(tenant_id) = tenant_id else { continue };
                let owner = Owner {
                    key: &e.key,
                    id: e.id,
                    tenant_id,
                };
                if let Some(rule) = ir_rule(spec, owner, |k| epg_ids.get(k).copied()) {
                    // `IrRule::addr_sets` and `RuleSpec::sets` both list the
                    // peer's set, then the local one: reuse the rule's ids.
                    for (id, s) in rule.addr_sets().zip(spec.sets()) {
                        if !sets.contains_key(id) {
                            sets.insert(id.clone(), s);
                        }
                    }
                    compiled.push((rule.id, rule));
                }
            }
        }
    }
    ir.rules = compiled.into_iter().collect();
    for (id, source) in sets {
        let prefixes = match &source {
            SetSource::Network(key) => networks.get(&**key).cloned().unwrap_or_default(),
            SetSource::Cidr(net) => vec![*net],
        };
        ir.addr_sets.insert(id.clone(), AddrSet { id, prefixes });
    }

    let mut addr_owner: HashMap<(&str, IpAddr), &str> = HashMap::new();
    for ep in intent.endpoints.values() {
        let spec = EndpointSpec::parse(ep)?;
        for &ip in &spec.ips {
            if let Some(owner) = addr_owner.insert((&ep.tenant, ip), &ep.id) {
                return Err(PolicyError::AddressInUse {
                    ip,
                    tenant: ep.tenant.clone(),
                    endpoint: ep.id.clone(),
                    owner: owner.to_owned(),
                });
            }
        }
        let (Some(&tenant_id), Some(epg)) = (intent.tenants.get(&ep.tenant), &spec.epg) else {
            continue;
        };
        let Some(&epg_id) = epg_ids.get(&**epg) else {
            continue;
        };
        for ip in spec.ips {
            ir.members.insert((tenant_id, ip), epg_id);
        }
    }
    Ok(ir)
}
