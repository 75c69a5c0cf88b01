//! policy and rule: references must exist; a policy in use cannot be
//! deleted and takes its rules with it — in one transaction, or, for more
//! rules than one holds, through an intent record recovery completes
//! ([`crate::netmaster::intents`]); rules cannot be updated.

use super::{Handler, Stage, refuse_update, require_tenant, unnamed_tenant};
use crate::netmaster::cache::{ClusterView, Map};
use crate::netmaster::{ApiError, ApiResult, Netmaster, oper};
use async_trait::async_trait;
use contiv_core::model::{EndpointGroup, ModelObject, Network, Policy, Rule};
use serde_json::Value;

#[async_trait]
impl Handler for Policy {
    fn map(view: &ClusterView) -> &Map<Self> {
        &view.policies
    }

    async fn create(s: &mut Stage<'_>, obj: &Self) -> ApiResult<()> {
        require_tenant(s, &obj.tenant_name).map_err(unnamed_tenant)
    }

    // Every field of a policy is part of its key: nothing to change.

    async fn delete(s: &mut Stage<'_>, obj: &Self) -> ApiResult<()> {
        let rule_keys: Vec<String> = {
            let v = s.view.clone();
            if v.epgs_using_policy(&obj.tenant_name, &obj.policy_name)
                .next()
                .is_some()
            {
                return Err(ApiError::conflict("Policy is being used"));
            }
            v.rules_of(&obj.tenant_name, &obj.policy_name)
                .map(|r| r.derived_key())
                .collect()
        };
        let keys = rule_keys
            .iter()
            .map(|k| s.nm.keys.object(Rule::TYPE, k))
            .collect();
        // The transaction holds the policy's own delete besides the rules.
        let own = s.tx.op_count() + 1;
        s.nm.stage_deletes(
            &mut s.tx,
            Policy::TYPE,
            &obj.derived_key(),
            format!("delete policy {}", obj.derived_key()),
            keys,
            own,
        )
    }

    async fn oper(nm: &Netmaster, obj: &Self) -> ApiResult<Option<Value>> {
        oper::policy(nm, obj).map(Some)
    }
}

#[async_trait]
impl Handler for Rule {
    fn map(view: &ClusterView) -> &Map<Self> {
        &view.rules
    }

    async fn create(s: &mut Stage<'_>, obj: &Self) -> ApiResult<()> {
        let t = &obj.tenant_name;
        let policy_key = format!("{t}:{}", obj.policy_name);
        {
            let v = s.view.clone();
            let group = if !obj.from_endpoint_group.is_empty() {
                Some(&obj.from_endpoint_group)
            } else if !obj.to_endpoint_group.is_empty() {
                Some(&obj.to_endpoint_group)
            } else {
                None
            };
            if let Some(g) = group
                && !v.epgs.contains_key(&format!("{t}:{g}"))
            {
                return Err(ApiError::not_found("endpoint group not found"));
            }
            if !obj.from_network.is_empty()
                && !v
                    .networks
                    .contains_key(&format!("{t}:{}", obj.from_network))
            {
                return Err(ApiError::not_found("from Network not found"));
            }
            if !obj.to_network.is_empty()
                && !v.networks.contains_key(&format!("{t}:{}", obj.to_network))
            {
                return Err(ApiError::not_found("to Network not found"));
            }
            if !v.policies.contains_key(&policy_key) {
                return Err(ApiError::not_found("Policy not found"));
            }
            if obj.direction == "in" && !obj.to_ip_address.is_empty() {
                // The original's k8s special case: the address must be an
                // endpoint of the one group the policy is attached to.
                let groups: Vec<&EndpointGroup> =
                    v.epgs_using_policy(t, &obj.policy_name).collect();
                if groups.len() != 1 {
                    return Err(ApiError::conflict(format!(
                        "failed to configure {}, {} endpoint groups linked to policy {} (an incoming rule with a to-ip-address needs exactly one)",
                        obj.to_ip_address,
                        groups.len(),
                        obj.policy_name,
                    )));
                }
                let net = obj.to_ip_net()?;
                let found = v.endpoints_in_group(t, &groups[0].group_name).any(|e| {
                    net.is_some_and(|n| {
                        e.ipv4.is_some_and(|a| n.contains(&std::net::IpAddr::V4(a)))
                            || e.ipv6.is_some_and(|a| n.contains(&std::net::IpAddr::V6(a)))
                    })
                });
                if !found {
                    return Err(ApiError::conflict(format!(
                        "failed to configure {}, ip address is not in epg {}:{}",
                        obj.to_ip_address, groups[0].group_name, t
                    )));
                }
            }
        }
        s.require(Policy::TYPE, &policy_key);
        for g in [&obj.from_endpoint_group, &obj.to_endpoint_group] {
            if !g.is_empty() {
                s.require(EndpointGroup::TYPE, &format!("{t}:{g}"));
            }
        }
        for n in [&obj.from_network, &obj.to_network] {
            if !n.is_empty() {
                s.require(Network::TYPE, &format!("{t}:{n}"));
            }
        }
        Ok(())
    }

    async fn update(_s: &mut Stage<'_>, _old: &Self, _new: &Self) -> ApiResult<()> {
        Err(refuse_update("can not update a rule after its created"))
    }
}
