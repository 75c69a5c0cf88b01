//! The objects with little behaviour: netprofile, appProfile, serviceLB,
//! Bgp, extContractsGroup and aciGw.

use super::network::ignore_unknown;
use super::{Handler, Stage, require_tenant, unnamed_tenant};
use crate::netmaster::cache::{ClusterView, Map};
use crate::netmaster::{ApiError, ApiResult, Netmaster, oper};
use async_trait::async_trait;
use contiv_core::model::{
    AciGw, AppProfile, Bgp, EndpointGroup, ExtContractsGroup, ModelObject, Netprofile, Network,
    ServiceLB,
};
use contiv_core::records::ServiceState;
use serde_json::Value;

#[async_trait]
impl Handler for Netprofile {
    fn map(view: &ClusterView) -> &Map<Self> {
        &view.netprofiles
    }
    async fn create(s: &mut Stage<'_>, obj: &Self) -> ApiResult<()> {
        require_tenant(s, &obj.tenant_name).map_err(unnamed_tenant)
    }
    // Agents re-read the profile of every group that uses it.
    async fn delete(s: &mut Stage<'_>, obj: &Self) -> ApiResult<()> {
        let used = s
            .view
            .epgs
            .values()
            .any(|g| g.tenant_name == obj.tenant_name && g.net_profile == obj.profile_name);
        if used {
            return Err(ApiError::conflict("NetProfile is being used"));
        }
        Ok(())
    }
}

fn check_app_groups(s: &mut Stage<'_>, obj: &AppProfile) -> ApiResult<()> {
    require_tenant(s, &obj.tenant_name)?;
    for g in &obj.endpoint_groups {
        let key = format!("{}:{g}", obj.tenant_name);
        if !s.view.epgs.contains_key(&key) {
            return Err(ApiError::not_found(format!(
                "EndpointGroup {key} not found"
            )));
        }
        s.require(EndpointGroup::TYPE, &key);
    }
    Ok(())
}

#[async_trait]
impl Handler for AppProfile {
    fn map(view: &ClusterView) -> &Map<Self> {
        &view.app_profiles
    }
    async fn create(s: &mut Stage<'_>, obj: &Self) -> ApiResult<()> {
        check_app_groups(s, obj)
    }
    async fn update(s: &mut Stage<'_>, _old: &Self, new: &Self) -> ApiResult<()> {
        check_app_groups(s, new)
    }
}

/// Stages the VIP of a service: the preferred address if given, else the
/// lowest free one of the service's network.
async fn allocate_vip(s: &mut Stage<'_>, obj: &ServiceLB) -> ApiResult<()> {
    let key = obj.derived_key();
    let net_key = format!("{}:{}", obj.tenant_name, obj.network_name);
    if !s.view.networks.contains_key(&net_key) {
        return Err(ApiError::not_found(format!(
            "Network {} not found",
            obj.network_name
        )));
    }
    s.require(Network::TYPE, &net_key);
    let preferred = obj.preferred_ip()?;
    let vip =
        s.tx.stage(&s.nm.ipam.network_v4(&net_key), |p| {
            p.allocate_with(preferred)
        })
        .await?;
    s.put_oper(
        ServiceLB::TYPE,
        &key,
        &ServiceState {
            key: key.clone(),
            vip,
        },
    )
}

async fn release_vip(s: &mut Stage<'_>, obj: &ServiceLB) -> ApiResult<()> {
    let key = obj.derived_key();
    let net_key = format!("{}:{}", obj.tenant_name, obj.network_name);
    let vip = s.view.service_states.get(&key).map(|s| s.vip);
    if let Some(vip) = vip {
        s.tx.stage(&s.nm.ipam.network_v4(&net_key), |p| {
            p.release(vip).map(|_| ())
        })
        .await
        .or_else(ignore_unknown)?;
    }
    s.delete_oper(ServiceLB::TYPE, &key);
    Ok(())
}

#[async_trait]
impl Handler for ServiceLB {
    fn map(view: &ClusterView) -> &Map<Self> {
        &view.service_lbs
    }
    async fn create(s: &mut Stage<'_>, obj: &Self) -> ApiResult<()> {
        if obj.service_name.is_empty() {
            return Err(ApiError::invalid("Invalid service name"));
        }
        if obj.selectors.is_empty() {
            return Err(ApiError::invalid("Invalid selector options"));
        }
        require_tenant(s, &obj.tenant_name)?;
        allocate_vip(s, obj).await
    }
    async fn update(s: &mut Stage<'_>, old: &Self, new: &Self) -> ApiResult<()> {
        if new.selectors.is_empty() {
            return Err(ApiError::invalid("Invalid selector options"));
        }
        if old.network_name != new.network_name || old.ip_address != new.ip_address {
            // Update = delete and re-create, as the original (the VIP moves).
            release_vip(s, old).await?;
            allocate_vip(s, new).await?;
        }
        Ok(())
    }
    async fn delete(s: &mut Stage<'_>, obj: &Self) -> ApiResult<()> {
        release_vip(s, obj).await
    }
    async fn oper(nm: &Netmaster, obj: &Self) -> ApiResult<Option<Value>> {
        oper::service_lb(nm, obj).map(Some)
    }
}

#[async_trait]
impl Handler for Bgp {
    fn map(view: &ClusterView) -> &Map<Self> {
        &view.bgps
    }
    async fn create(_s: &mut Stage<'_>, obj: &Self) -> ApiResult<()> {
        if obj.hostname.is_empty() {
            return Err(ApiError::invalid("Invalid host name"));
        }
        Ok(())
    }
    async fn oper(nm: &Netmaster, obj: &Self) -> ApiResult<Option<Value>> {
        // Live, from the host's agent (its BGP speaker).
        let oper = crate::netmaster::agent_oper::bgp(nm, &obj.hostname).await;
        serde_json::to_value(oper)
            .map(Some)
            .map_err(|e| ApiError::internal(format!("cannot encode BGP state: {e}")))
    }
}

#[async_trait]
impl Handler for ExtContractsGroup {
    fn map(view: &ClusterView) -> &Map<Self> {
        &view.ext_contracts
    }
    async fn create(s: &mut Stage<'_>, obj: &Self) -> ApiResult<()> {
        require_tenant(s, &obj.tenant_name)
    }
    async fn delete(s: &mut Stage<'_>, obj: &Self) -> ApiResult<()> {
        let user = s.view.epgs.values().find_map(|g| {
            (g.tenant_name == obj.tenant_name
                && g.ext_contracts_grps.contains(&obj.contracts_group_name))
            .then(|| g.group_name.clone())
        });
        if let Some(g) = user {
            return Err(ApiError::conflict(format!(
                "External contracts group {} is in use by endpoint group {g}",
                obj.contracts_group_name
            )));
        }
        Ok(())
    }
}

#[async_trait]
impl Handler for AciGw {
    fn map(view: &ClusterView) -> &Map<Self> {
        &view.aci_gws
    }
    async fn create(_s: &mut Stage<'_>, _obj: &Self) -> ApiResult<()> {
        Ok(())
    }
    async fn delete(s: &mut Stage<'_>, _obj: &Self) -> ApiResult<()> {
        let n = s.view.app_profiles.len();
        if n != 0 {
            return Err(ApiError::conflict(format!(
                "{n} App-Profiles found. Delete them first"
            )));
        }
        Ok(())
    }
    async fn oper(nm: &Netmaster, _obj: &Self) -> ApiResult<Option<Value>> {
        let n = nm.cache.read().app_profiles.len();
        Ok(Some(serde_json::json!({ "numAppProfiles": n })))
    }
}
