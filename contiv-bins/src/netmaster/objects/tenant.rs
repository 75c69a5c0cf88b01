//! tenant: allocates the tenant's VRF id; updates are refused; delete is
//! guarded by everything the tenant still holds.

use super::{Handler, refuse_update};
use crate::netmaster::cache::{ClusterView, Map};
use crate::netmaster::{ApiError, ApiResult, Netmaster, oper};
use async_trait::async_trait;
use contiv_core::model::{ModelObject, Tenant};
use contiv_core::records::TenantState;
use contiv_ipam::AllocTxn;
use serde_json::Value;

#[async_trait]
impl Handler for Tenant {
    fn map(view: &ClusterView) -> &Map<Self> {
        &view.tenants
    }

    async fn create(nm: &Netmaster, obj: &Self, tx: &mut AllocTxn) -> ApiResult<()> {
        if obj.tenant_name.is_empty() {
            return Err(ApiError::invalid("Invalid tenant name"));
        }
        let pool = nm.ipam.tenant_ids();
        let id = tx.stage(&pool, |p| p.allocate()).await?;
        nm.put_oper(
            tx,
            Tenant::TYPE,
            &obj.tenant_name,
            &TenantState {
                name: obj.tenant_name.clone(),
                tenant_id: id,
            },
        )
    }

    async fn update(
        _nm: &Netmaster,
        _old: &Self,
        _new: &Self,
        _tx: &mut AllocTxn,
    ) -> ApiResult<()> {
        Err(refuse_update(
            "Cant change tenant parameters after its created",
        ))
    }

    async fn delete(nm: &Netmaster, obj: &Self, tx: &mut AllocTxn) -> ApiResult<()> {
        let name = obj.tenant_name.as_str();
        let id = {
            let v = nm.cache.read();
            let count = |n: usize, what: &str| -> ApiResult<()> {
                if n != 0 {
                    return Err(ApiError::conflict(format!(
                        "cannot delete {name} has {n} {what}"
                    )));
                }
                Ok(())
            };
            let profs = v
                .app_profiles
                .values()
                .filter(|p| p.tenant_name == name)
                .count();
            if profs != 0 {
                return Err(ApiError::conflict(format!(
                    "cannot delete {name}, has {profs} app profiles"
                )));
            }
            count(
                v.epgs.values().filter(|g| g.tenant_name == name).count(),
                "endpoint groups",
            )?;
            count(
                v.policies
                    .values()
                    .filter(|p| p.tenant_name == name)
                    .count(),
                "policies",
            )?;
            let profiles = v
                .netprofiles
                .values()
                .filter(|p| p.tenant_name == name)
                .count();
            if profiles != 0 {
                return Err(ApiError::conflict(format!(
                    "Cannot delete {name} has {profiles} netprofiles"
                )));
            }
            count(v.networks_of(name).count(), "networks")?;
            count(
                v.service_lbs
                    .values()
                    .filter(|s| s.tenant_name == name)
                    .count(),
                "services",
            )?;
            v.tenant_states.get(name).map(|s| s.tenant_id)
        };
        if let Some(id) = id {
            let pool = nm.ipam.tenant_ids();
            tx.stage(&pool, |p| {
                p.release(id);
                Ok(())
            })
            .await?;
        }
        nm.delete_oper(tx, Tenant::TYPE, name);
        Ok(())
    }

    async fn oper(nm: &Netmaster, obj: &Self) -> ApiResult<Option<Value>> {
        oper::tenant(nm, obj).await.map(Some)
    }
}
