//! endpointGroup: references must exist, no name clash with a network,
//! the ip-pool is carved out of the network atomically, an EPG id comes
//! from the persisted pool; network and ip-pool cannot change; delete is
//! guarded by app profiles, endpoints and rules that name the group.

use super::network::ignore_unknown;
use super::{Handler, Stage};
use crate::netmaster::cache::{ClusterView, Map};
use crate::netmaster::{ApiError, ApiResult, Netmaster, oper};
use async_trait::async_trait;
use contiv_core::model::{
    EndpointGroup, ExtContractsGroup, ModelObject, Netprofile, Network, Policy, Tenant,
};
use contiv_core::records::EpgState;
use contiv_ipam::{Ipv4Pool, Ipv4Range, Ipv4Spec};
use serde_json::Value;

/// Checks that everything `g` refers to (besides tenant and network)
/// exists, and adds preconditions on them.
fn check_refs(s: &mut Stage<'_>, g: &EndpointGroup) -> ApiResult<()> {
    {
        let v = s.view.clone();
        for p in &g.policies {
            if !v.policies.contains_key(&format!("{}:{}", g.tenant_name, p)) {
                return Err(ApiError::not_found("Policy not found"));
            }
        }
        if !g.net_profile.is_empty()
            && !v
                .netprofiles
                .contains_key(&format!("{}:{}", g.tenant_name, g.net_profile))
        {
            return Err(ApiError::not_found("netprofile not found"));
        }
        for c in &g.ext_contracts_grps {
            if !v
                .ext_contracts
                .contains_key(&format!("{}:{}", g.tenant_name, c))
            {
                return Err(ApiError::not_found(format!(
                    "External contracts group {c} not found"
                )));
            }
        }
    }
    for p in &g.policies {
        s.require(Policy::TYPE, &format!("{}:{}", g.tenant_name, p));
    }
    if !g.net_profile.is_empty() {
        s.require(
            Netprofile::TYPE,
            &format!("{}:{}", g.tenant_name, g.net_profile),
        );
    }
    for c in &g.ext_contracts_grps {
        s.require(ExtContractsGroup::TYPE, &format!("{}:{}", g.tenant_name, c));
    }
    Ok(())
}

fn pool_range(g: &EndpointGroup) -> ApiResult<Option<Ipv4Range>> {
    Ok(match g.ip_pool_range()? {
        Some((a, b)) => Some(Ipv4Range::new(a, b)?),
        None => None,
    })
}

#[async_trait]
impl Handler for EndpointGroup {
    fn map(view: &ClusterView) -> &Map<Self> {
        &view.epgs
    }

    async fn create(s: &mut Stage<'_>, obj: &Self) -> ApiResult<()> {
        let key = obj.derived_key();
        let net_key = format!("{}:{}", obj.tenant_name, obj.network_name);
        let network = {
            let v = s.view.clone();
            if !v.tenants.contains_key(&obj.tenant_name) {
                return Err(ApiError::not_found("Tenant not found"));
            }
            let Some(network) = v.networks.get(&net_key).cloned() else {
                return Err(ApiError::not_found(format!(
                    "Network {} not found",
                    obj.network_name
                )));
            };
            if let Some(n) = v.networks.get(&key) {
                return Err(ApiError::conflict(format!(
                    "Network {} conflicts with the endpointGroup name",
                    n.network_name
                )));
            }
            network
        };
        s.require(Tenant::TYPE, &obj.tenant_name);
        s.require(Network::TYPE, &net_key);
        s.require(Network::TYPE, &key);
        check_refs(s, obj)?;

        if let Some(range) = pool_range(obj)? {
            let spec = Ipv4Spec::from_subnet(&network.ipv4_subnet()?)?;
            let group_state = Ipv4Pool::new_group(&spec, range)?;
            s.tx.stage(&s.nm.ipam.network_v4(&net_key), |p| {
                p.reserve_group_pool(range)
            })
            .await?;
            s.tx.create(&s.nm.ipam.group_v4(&key), group_state).await?;
        }
        let epg_id = s.tx.stage(&s.nm.ipam.epg_ids(), |p| p.allocate()).await?;
        s.put_oper(
            EndpointGroup::TYPE,
            &key,
            &EpgState {
                key: key.clone(),
                epg_id,
            },
        )
    }

    async fn update(s: &mut Stage<'_>, old: &Self, new: &Self) -> ApiResult<()> {
        if old.network_name != new.network_name {
            return Err(ApiError::conflict(
                "Cannot change network association after epg is created.",
            ));
        }
        if old.ip_pool != new.ip_pool {
            return Err(ApiError::conflict(
                "Cannot change IP pool after epg is created.",
            ));
        }
        check_refs(s, new)
    }

    async fn delete(s: &mut Stage<'_>, obj: &Self) -> ApiResult<()> {
        let key = obj.derived_key();
        let net_key = format!("{}:{}", obj.tenant_name, obj.network_name);
        let epg_id = {
            let v = s.view.clone();
            if let Some(p) = v.app_profiles.values().find(|p| {
                p.tenant_name == obj.tenant_name && p.endpoint_groups.contains(&obj.group_name)
            }) {
                return Err(ApiError::conflict(format!(
                    "Cannot delete {}, associated to appProfile {}",
                    obj.group_name,
                    p.derived_key()
                )));
            }
            let eps = v
                .endpoints_in_group(&obj.tenant_name, &obj.group_name)
                .count();
            if eps != 0 {
                return Err(ApiError::conflict(format!(
                    "Error: EndpointGroup {} has {eps} active endpoints",
                    obj.group_name
                )));
            }
            if let Some(r) = v.rules.values().find(|r| {
                r.tenant_name == obj.tenant_name
                    && (r.from_endpoint_group == obj.group_name
                        || r.to_endpoint_group == obj.group_name)
            }) {
                return Err(ApiError::conflict(format!(
                    "Cannot delete {}: rule {} of policy {} refers to it; delete the rule first",
                    obj.group_name, r.rule_id, r.policy_name
                )));
            }
            v.epg_states.get(&key).map(|s| s.epg_id)
        };
        if let Some(range) = pool_range(obj)? {
            s.tx.stage(&s.nm.ipam.network_v4(&net_key), |p| {
                p.release_group_pool(range)
            })
            .await
            .or_else(ignore_unknown)?;
            s.tx.delete(&s.nm.ipam.group_v4(&key))
                .await
                .or_else(ignore_unknown)?;
        }
        if let Some(id) = epg_id {
            s.tx.stage(&s.nm.ipam.epg_ids(), |p| {
                p.release(id);
                Ok(())
            })
            .await?;
        }
        s.delete_oper(EndpointGroup::TYPE, &key);
        Ok(())
    }

    async fn oper(nm: &Netmaster, obj: &Self) -> ApiResult<Option<Value>> {
        oper::endpoint_group(nm, obj).await.map(Some)
    }
}
