//! The objects with little behaviour: netprofile, appProfile, serviceLB,
//! Bgp, extContractsGroup and aciGw.

use super::network::ignore_unknown;
use super::{Handler, require_tenant, unnamed_tenant};
use crate::netmaster::cache::ClusterView;
use crate::netmaster::{ApiError, ApiResult, Netmaster, oper};
use async_trait::async_trait;
use contiv_core::model::{
    AciGw, AppProfile, Bgp, EndpointGroup, ExtContractsGroup, ModelObject, Netprofile, Network,
    ServiceLB,
};
use contiv_core::records::ServiceState;
use contiv_ipam::AllocTxn;
use serde_json::Value;
use std::collections::BTreeMap;

#[async_trait]
impl Handler for Netprofile {
    fn map(view: &ClusterView) -> &BTreeMap<String, Self> {
        &view.netprofiles
    }
    async fn create(nm: &Netmaster, obj: &Self, tx: &mut AllocTxn) -> ApiResult<()> {
        require_tenant(nm, &obj.tenant_name, tx).map_err(unnamed_tenant)
    }
    // Agents re-read the profile of every group that uses it.
    async fn delete(nm: &Netmaster, obj: &Self, _tx: &mut AllocTxn) -> ApiResult<()> {
        let used = nm
            .cache
            .read()
            .epgs
            .values()
            .any(|g| g.tenant_name == obj.tenant_name && g.net_profile == obj.profile_name);
        if used {
            return Err(ApiError::conflict("NetProfile is being used"));
        }
        Ok(())
    }
}

fn check_app_groups(nm: &Netmaster, obj: &AppProfile, tx: &mut AllocTxn) -> ApiResult<()> {
    require_tenant(nm, &obj.tenant_name, tx)?;
    for g in &obj.endpoint_groups {
        let key = format!("{}:{g}", obj.tenant_name);
        if !nm.cache.read().epgs.contains_key(&key) {
            return Err(ApiError::not_found(format!(
                "EndpointGroup {key} not found"
            )));
        }
        nm.require(tx, EndpointGroup::TYPE, &key);
    }
    Ok(())
}

#[async_trait]
impl Handler for AppProfile {
    fn map(view: &ClusterView) -> &BTreeMap<String, Self> {
        &view.app_profiles
    }
    async fn create(nm: &Netmaster, obj: &Self, tx: &mut AllocTxn) -> ApiResult<()> {
        check_app_groups(nm, obj, tx)
    }
    async fn update(nm: &Netmaster, _old: &Self, new: &Self, tx: &mut AllocTxn) -> ApiResult<()> {
        check_app_groups(nm, new, tx)
    }
}

/// Stages the VIP of a service: the preferred address if given, else the
/// lowest free one of the service's network.
async fn allocate_vip(nm: &Netmaster, obj: &ServiceLB, tx: &mut AllocTxn) -> ApiResult<()> {
    let key = obj.derived_key();
    let net_key = format!("{}:{}", obj.tenant_name, obj.network_name);
    if !nm.cache.read().networks.contains_key(&net_key) {
        return Err(ApiError::not_found(format!(
            "Network {} not found",
            obj.network_name
        )));
    }
    nm.require(tx, Network::TYPE, &net_key);
    let preferred = obj.preferred_ip()?;
    let vip = tx
        .stage(&nm.ipam.network_v4(&net_key), |p| {
            p.allocate_with(preferred)
        })
        .await?;
    nm.put_oper(
        tx,
        ServiceLB::TYPE,
        &key,
        &ServiceState {
            key: key.clone(),
            vip,
        },
    )
}

async fn release_vip(nm: &Netmaster, obj: &ServiceLB, tx: &mut AllocTxn) -> ApiResult<()> {
    let key = obj.derived_key();
    let net_key = format!("{}:{}", obj.tenant_name, obj.network_name);
    let vip = nm.cache.read().service_states.get(&key).map(|s| s.vip);
    if let Some(vip) = vip {
        tx.stage(&nm.ipam.network_v4(&net_key), |p| {
            p.release(vip).map(|_| ())
        })
        .await
        .or_else(ignore_unknown)?;
    }
    nm.delete_oper(tx, ServiceLB::TYPE, &key);
    Ok(())
}

#[async_trait]
impl Handler for ServiceLB {
    fn map(view: &ClusterView) -> &BTreeMap<String, Self> {
        &view.service_lbs
    }
    async fn create(nm: &Netmaster, obj: &Self, tx: &mut AllocTxn) -> ApiResult<()> {
        if obj.service_name.is_empty() {
            return Err(ApiError::invalid("Invalid service name"));
        }
        if obj.selectors.is_empty() {
            return Err(ApiError::invalid("Invalid selector options"));
        }
        require_tenant(nm, &obj.tenant_name, tx)?;
        allocate_vip(nm, obj, tx).await
    }
    async fn update(nm: &Netmaster, old: &Self, new: &Self, tx: &mut AllocTxn) -> ApiResult<()> {
        if new.selectors.is_empty() {
            return Err(ApiError::invalid("Invalid selector options"));
        }
        if old.network_name != new.network_name || old.ip_address != new.ip_address {
            // Update = delete and re-create, as the original (the VIP moves).
            release_vip(nm, old, tx).await?;
            allocate_vip(nm, new, tx).await?;
        }
        Ok(())
    }
    async fn delete(nm: &Netmaster, obj: &Self, tx: &mut AllocTxn) -> ApiResult<()> {
        release_vip(nm, obj, tx).await
    }
    async fn oper(nm: &Netmaster, obj: &Self) -> ApiResult<Option<Value>> {
        oper::service_lb(nm, obj).map(Some)
    }
}

#[async_trait]
impl Handler for Bgp {
    fn map(view: &ClusterView) -> &BTreeMap<String, Self> {
        &view.bgps
    }
    async fn create(_nm: &Netmaster, obj: &Self, _tx: &mut AllocTxn) -> ApiResult<()> {
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
    fn map(view: &ClusterView) -> &BTreeMap<String, Self> {
        &view.ext_contracts
    }
    async fn create(nm: &Netmaster, obj: &Self, tx: &mut AllocTxn) -> ApiResult<()> {
        require_tenant(nm, &obj.tenant_name, tx)
    }
    async fn delete(nm: &Netmaster, obj: &Self, _tx: &mut AllocTxn) -> ApiResult<()> {
        let user = nm.cache.read().epgs.values().find_map(|g| {
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
    fn map(view: &ClusterView) -> &BTreeMap<String, Self> {
        &view.aci_gws
    }
    async fn create(_nm: &Netmaster, _obj: &Self, _tx: &mut AllocTxn) -> ApiResult<()> {
        Ok(())
    }
    async fn delete(nm: &Netmaster, _obj: &Self, _tx: &mut AllocTxn) -> ApiResult<()> {
        let n = nm.cache.read().app_profiles.len();
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
