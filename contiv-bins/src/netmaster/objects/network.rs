//! network: overlap checks per tenant, name clash with groups, VLAN or
//! VXLAN tag allocation, the address pools; updates refused; delete guarded
//! by groups, services, endpoints and rules that name the network.

use super::{Handler, Stage, refuse_update};
use crate::netmaster::cache::{ClusterView, Map};
use crate::netmaster::{ApiError, ApiResult, Netmaster, oper};
use async_trait::async_trait;
use contiv_core::datapath::Encap;
use contiv_core::model::{EndpointGroup, Family, ModelObject, Network, Tenant};
use contiv_core::records::NetworkState;
use contiv_ipam::{Ipv4Pool, Ipv4Spec, Ipv6Pool};
use serde_json::Value;

#[async_trait]
impl Handler for Network {
    fn map(view: &ClusterView) -> &Map<Self> {
        &view.networks
    }

    async fn create(s: &mut Stage<'_>, obj: &Self) -> ApiResult<()> {
        let key = obj.derived_key();
        let plan = obj.address_plan()?;
        let encap = obj.encap_kind()?;
        let tenant_id = {
            let v = s.view.clone();
            if obj.tenant_name.is_empty() {
                return Err(ApiError::invalid("Invalid tenant name"));
            }
            if !v.tenants.contains_key(&obj.tenant_name) {
                return Err(ApiError::not_found("Tenant not found"));
            }
            let Some(ts) = v.tenant_states.get(&obj.tenant_name) else {
                return Err(ApiError::unavailable(format!(
                    "tenant {} has no allocated id yet; retry",
                    obj.tenant_name
                )));
            };
            if v.global().is_none() {
                return Err(ApiError::unavailable(
                    "the global configuration is not initialised yet; retry",
                ));
            }
            for other in v.networks_of(&obj.tenant_name) {
                let Ok(theirs) = other.address_plan() else {
                    continue;
                };
                match plan.clash(&theirs) {
                    Some(Family::V6) => {
                        return Err(ApiError::conflict(format!(
                            "network {} conflicts with subnetv6  {}",
                            other.network_name, obj.ipv6_subnet
                        )));
                    }
                    Some(Family::V4) => {
                        return Err(ApiError::conflict(format!(
                            "network {} conflicts with subnet {}",
                            other.network_name, obj.subnet
                        )));
                    }
                    None => {}
                }
            }
            if let Some(g) = v.epgs.get(&key) {
                return Err(ApiError::conflict(format!(
                    "EndpointGroup {} conflicts with the network name",
                    g.group_name
                )));
            }
            ts.tenant_id
        };
        s.require(Tenant::TYPE, &obj.tenant_name);
        s.require(EndpointGroup::TYPE, &key);

        let requested = (obj.pkt_tag > 0).then_some(obj.pkt_tag as u32);
        let (pkt_tag, ext_pkt_tag) = match encap {
            Encap::Vlan => {
                let pool = s.nm.ipam.vlans();
                let vlan = s.tx.stage(&pool, |p| p.allocate_with(requested)).await?;
                (vlan, vlan)
            }
            Encap::Vxlan => {
                let pool = s.nm.ipam.vxlans();
                let (vni, local) = s.tx.stage(&pool, |p| p.allocate(requested)).await?;
                (local, vni)
            }
        };
        let v4 = Ipv4Pool::new(Ipv4Spec::from_subnet(&plan.v4)?, plan.gateway)?;
        s.tx.create(&s.nm.ipam.network_v4(&key), v4).await?;
        if let Some(net6) = plan.v6 {
            let p6 = Ipv6Pool::new(net6, plan.gateway6)?;
            s.tx.create(&s.nm.ipam.network_v6(&key), p6).await?;
        }
        let pkt_tag = u16::try_from(pkt_tag)
            .map_err(|_| ApiError::internal(format!("allocated VLAN {pkt_tag} out of range")))?;
        s.put_oper(
            Network::TYPE,
            &key,
            &NetworkState {
                key: key.clone(),
                tenant_id,
                encap,
                pkt_tag,
                ext_pkt_tag,
            },
        )
    }

    async fn update(_s: &mut Stage<'_>, _old: &Self, _new: &Self) -> ApiResult<()> {
        Err(refuse_update(
            "Cant change network parameters after its created",
        ))
    }

    async fn delete(s: &mut Stage<'_>, obj: &Self) -> ApiResult<()> {
        let key = obj.derived_key();
        let state = {
            let v = s.view.clone();
            let epgs = v.epgs_on(&obj.tenant_name, &obj.network_name).count();
            if epgs != 0 {
                return Err(ApiError::conflict(format!(
                    "cannot delete {} has {epgs} endpoint groups",
                    obj.network_name
                )));
            }
            let svcs = v
                .service_lbs
                .values()
                .filter(|s| s.tenant_name == obj.tenant_name && s.network_name == obj.network_name)
                .count();
            if svcs != 0 {
                return Err(ApiError::conflict(format!(
                    "cannot delete {} has {svcs} services",
                    obj.network_name
                )));
            }
            if v.endpoints_on(&key).next().is_some() {
                return Err(ApiError::conflict("Error: Network has active endpoints"));
            }
            if let Some(r) = v.rules.values().find(|r| {
                r.tenant_name == obj.tenant_name
                    && (r.from_network == obj.network_name || r.to_network == obj.network_name)
            }) {
                return Err(ApiError::conflict(format!(
                    "Cannot delete {}: rule {} of policy {} refers to it; delete the rule first",
                    obj.network_name, r.rule_id, r.policy_name
                )));
            }
            v.network_states.get(&key).cloned()
        };
        if let Some(st) = state {
            match st.encap {
                Encap::Vlan => {
                    let pool = s.nm.ipam.vlans();
                    s.tx.stage(&pool, |p| {
                        p.release(st.ext_pkt_tag);
                        Ok(())
                    })
                    .await?;
                }
                Encap::Vxlan => {
                    let pool = s.nm.ipam.vxlans();
                    s.tx.stage(&pool, |p| {
                        p.release(st.ext_pkt_tag);
                        Ok(())
                    })
                    .await?;
                }
            }
        }
        // A concurrent endpoint create changes the pool's revision, so this
        // conditional delete fails instead of orphaning an address.
        s.tx.delete(&s.nm.ipam.network_v4(&key))
            .await
            .or_else(ignore_unknown)?;
        if obj.ipv6_subnet()?.is_some() {
            s.tx.delete(&s.nm.ipam.network_v6(&key))
                .await
                .or_else(ignore_unknown)?;
        }
        s.delete_oper(Network::TYPE, &key);
        Ok(())
    }

    async fn oper(nm: &Netmaster, obj: &Self) -> ApiResult<Option<Value>> {
        oper::network(nm, obj).await.map(Some)
    }
}

/// Deleting a pool that is already gone is fine (idempotent cleanup).
pub(super) fn ignore_unknown(e: contiv_ipam::IpamError) -> Result<(), contiv_ipam::IpamError> {
    match e {
        contiv_ipam::IpamError::UnknownPool { .. } => Ok(()),
        e => Err(e),
    }
}
