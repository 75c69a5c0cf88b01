//! tenant: allocates the tenant's VRF id; updates are refused; delete is
//! guarded by everything the tenant still holds.

use super::{Handler, Stage, refuse_update};
use crate::netmaster::cache::{ClusterView, Map};
use crate::netmaster::{ApiError, ApiResult, Netmaster, oper};
use async_trait::async_trait;
use contiv_core::model::{ModelObject, Tenant};
use contiv_core::records::TenantState;
use serde_json::Value;

#[async_trait]
impl Handler for Tenant {
    fn map(view: &ClusterView) -> &Map<Self> {
        &view.tenants
    }

    async fn create(s: &mut Stage<'_>, obj: &Self) -> ApiResult<()> {
        if obj.tenant_name.is_empty() {
            return Err(ApiError::invalid("Invalid tenant name"));
        }
        let pool = s.nm.ipam.tenant_ids();
        let id = s.tx.stage(&pool, |p| p.allocate()).await?;
        s.put_oper(
            Tenant::TYPE,
            &obj.tenant_name,
            &TenantState {
                name: obj.tenant_name.clone(),
                tenant_id: id,
            },
        )
    }

    async fn update(_s: &mut Stage<'_>, _old: &Self, _new: &Self) -> ApiResult<()> {
        Err(refuse_update(
            "Cant change tenant parameters after its created",
        ))
    }

    async fn delete(s: &mut Stage<'_>, obj: &Self) -> ApiResult<()> {
        let name = obj.tenant_name.as_str();
        let id = {
            let v = s.view.clone();
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
            let pool = s.nm.ipam.tenant_ids();
            s.tx.stage(&pool, |p| {
                p.release(id);
                Ok(())
            })
            .await?;
        }
        s.delete_oper(Tenant::TYPE, name);
        Ok(())
    }

    async fn oper(nm: &Netmaster, obj: &Self) -> ApiResult<Option<Value>> {
        oper::tenant(nm, obj).await.map(Some)
    }
}
