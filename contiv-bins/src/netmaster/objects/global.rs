//! global: forwarding mode and private subnet cannot change while networks
//! exist; VLAN/VXLAN range changes keep every tag in use; never deleted.

use super::{Handler, Stage};
use crate::netmaster::cache::{ClusterView, Map};
use crate::netmaster::{ApiError, ApiResult, Netmaster, oper};
use async_trait::async_trait;
use contiv_core::datapath::{Encap, GlobalSpec};
use contiv_core::model::Global;
use contiv_ipam::{IdPool, IdRanges, Resource, VxlanPool};
use serde_json::Value;

/// "N vlans and M vxlans" the way the original counted networks in use.
fn networks_in_use(v: &ClusterView) -> (usize, usize) {
    let vlans = v
        .network_states
        .values()
        .filter(|s| s.encap == Encap::Vlan)
        .count();
    (vlans, v.network_states.len() - vlans)
}

fn describe(vlans: usize, vxlans: usize) -> String {
    match (vlans, vxlans) {
        (0, x) => format!("{x} vxlans"),
        (v, 0) => format!("{v} vlans"),
        (v, x) => format!("{v} vlans and {x} vxlans"),
    }
}

async fn stage_ranges(s: &mut Stage<'_>, g: &Global, old: Option<&Global>) -> ApiResult<()> {
    if old.is_none_or(|o| o.vlans != g.vlans) {
        let ranges = IdRanges::parse(Resource::Vlan, &g.vlans)?;
        let pool = s.nm.ipam.vlans();
        if old.is_none() && !pool.exists().await? {
            s.tx.create(&pool, IdPool::new(Resource::Vlan, ranges)?)
                .await?;
        } else {
            s.tx.stage(&pool, |p| p.set_ranges(ranges)).await?;
        }
    }
    if old.is_none_or(|o| o.vxlans != g.vxlans) {
        let ranges = IdRanges::parse(Resource::Vxlan, &g.vxlans)?;
        let pool = s.nm.ipam.vxlans();
        if old.is_none() && !pool.exists().await? {
            s.tx.create(&pool, VxlanPool::new(ranges)?).await?;
        } else {
            s.tx.stage(&pool, |p| p.set_vni_ranges(ranges)).await?;
        }
    }
    Ok(())
}

#[async_trait]
impl Handler for Global {
    fn map(view: &ClusterView) -> &Map<Self> {
        &view.globals
    }

    async fn create(s: &mut Stage<'_>, obj: &Self) -> ApiResult<()> {
        stage_ranges(s, obj, None).await
    }

    async fn update(s: &mut Stage<'_>, old: &Self, new: &Self) -> ApiResult<()> {
        {
            let v = s.view.clone();
            let (vlans, vxlans) = networks_in_use(&v);
            if old.fwd_mode_kind()? != new.fwd_mode_kind()? {
                if vlans + vxlans > 0 {
                    return Err(ApiError::conflict(format!(
                        "Unable to update forwarding mode due to existing {}",
                        describe(vlans, vxlans)
                    )));
                }
                if old.fwd_mode == "routing" && !v.bgps.is_empty() {
                    return Err(ApiError::conflict(
                        "Unable to update forwarding mode: please delete existing Bgp configs",
                    ));
                }
                // Every connected host must be able to realise the mode.
                let spec = GlobalSpec {
                    fwd_mode: new.fwd_mode_kind()?,
                    ..GlobalSpec::default()
                };
                for (host, n) in &v.nodes {
                    let missing = n.capabilities.map(|c| c.missing(spec.needs()));
                    if let Some(m) = missing.filter(|m| !m.is_empty()) {
                        let names: Vec<&str> = m.iter().map(|c| c.name()).collect();
                        return Err(ApiError::conflict(format!(
                            "Unable to update forwarding mode to {}: the datapath of host {host} \
                             cannot realise it (it lacks {})",
                            spec.fwd_mode,
                            names.join(", ")
                        )));
                    }
                }
            }
            if old.pvt_subnet != new.pvt_subnet && vlans + vxlans > 0 {
                return Err(ApiError::conflict(format!(
                    "Unable to update private subnet due to existing {}",
                    describe(vlans, vxlans)
                )));
            }
        }
        stage_ranges(s, new, Some(old)).await
    }

    async fn delete(_s: &mut Stage<'_>, _obj: &Self) -> ApiResult<()> {
        Err(ApiError::conflict(
            "the global settings cannot be deleted; change them with netctl global set",
        ))
    }

    async fn oper(nm: &Netmaster, obj: &Self) -> ApiResult<Option<Value>> {
        oper::global(nm, obj).await.map(Some)
    }
}
