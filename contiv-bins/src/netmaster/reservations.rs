//! Address reservations for Docker's IPAM driver.
//!
//! Docker asks for an address (`IpamDriver.RequestAddress`) before it
//! creates the endpoint, without an endpoint id, and gives it back
//! (`ReleaseAddress`) after the endpoint is gone. The original allocated
//! at the first call and released at `DeleteEndpoint`, leaking whenever a
//! step in between failed (CONTIV.md §9.1 #1133, §9.2.4). Here every state
//! of an address is a record written in the same transaction as the
//! allocator change:
//!
//! | call | transaction |
//! |---|---|
//! | reserve | allocate the address + write `state/reservation/<net>/<ip>` |
//! | adopt (CreateEndpoint) | delete the reservation + write the endpoint record (no allocation) |
//! | demote (DeleteEndpoint) | delete the endpoint record + write a reservation (no release) |
//! | release (ReleaseAddress) | free the address + delete whatever held it on that host: a reservation, else an endpoint; nothing → no-op |
//! | sweep (agent start) | release the host's reservations made by an older agent instance |
//!
//! Reservations are not streamed to agents and not in the cache; they are
//! read from the store. [`Netmaster::gc_vanished`] releases
//! those of hosts that have no node record for longer than the node GC
//! grace, like the endpoints of vanished nodes.

use super::auth::Identity;
use super::{ApiError, ApiResult, Netmaster};
use crate::api::{
    DemoteRequest, EndpointRequest, EndpointResponse, ReleaseResponse, Released, Reservation,
    ReservationRequest, SweepRequest,
};
use axum::body::Bytes;
use axum::extract::{Extension, Path, Query, State};
use axum::routing::{delete, post};
use axum::{Json, Router};
use contiv_core::datapath::MacAddr;
use contiv_core::ir::NO_EPG;
use contiv_core::model::validate::{check_endpoint_id, check_host_name};
use contiv_core::model::{EndpointGroup, ModelObject, Network};
use contiv_core::records::EndpointRecord;
use contiv_core::store::{KeyValue, Precondition, TxnOp, decode_json};
use std::net::Ipv4Addr;
use std::sync::Arc;
use tracing::{info, warn};

/// Releasing from a pool that is gone, or an address it does not hold,
/// must not keep a record alive.
fn tolerant(r: contiv_ipam::IpamResult<bool>) -> ApiResult<()> {
    use contiv_ipam::IpamError as E;
    match r {
        Ok(_) => Ok(()),
        Err(e @ (E::UnknownPool { .. } | E::NotReleasable { .. } | E::OutOfRange { .. })) => {
            warn!(error = %e, "reservation release: nothing to release");
            Ok(())
        }
        Err(e) => Err(e.into()),
    }
}

/// Where an address of a network/group comes from.
struct PoolChoice {
    network: String,
    net_key: String,
    group_key: Option<String>,
    pool_group: Option<String>,
    epg_id: u32,
    prefix: u8,
}

impl Netmaster {
    fn reservation_key(&self, net_key: &str, ip: Ipv4Addr) -> String {
        self.keys.state(&format!("reservation/{net_key}/{ip}"))
    }

    /// Every reservation.
    pub async fn reservations(&self) -> ApiResult<Vec<Reservation>> {
        let list = self.store.list(&self.keys.state("reservation/")).await?;
        Ok(list
            .kvs
            .iter()
            .filter_map(|kv| decode_json::<Reservation>(kv).ok())
            .collect())
    }

    fn choose_pool(&self, tenant: &str, network: &str, group: &str) -> ApiResult<PoolChoice> {
        let v = self.cache.read();
        let mut network = network.to_owned();
        let (group_key, pool_group, epg_id) = if group.is_empty() {
            (None, None, NO_EPG)
        } else {
            let key = format!("{tenant}:{group}");
            let g = v
                .epgs
                .get(&key)
                .ok_or_else(|| ApiError::not_found(format!("endpoint group {key} not found")))?;
            if network.is_empty() {
                network = g.network_name.clone();
            } else if g.network_name != network {
                return Err(ApiError::invalid(format!(
                    "endpoint group {group} belongs to network {}, not {network}",
                    g.network_name
                )));
            }
            let id = v.epg_states.get(&key).map(|s| s.epg_id).ok_or_else(|| {
                ApiError::unavailable(format!("endpoint group {key} has no id yet"))
            })?;
            let pool = (!g.ip_pool.is_empty()).then(|| key.clone());
            (Some(key), pool, id)
        };
        if network.is_empty() {
            return Err(ApiError::invalid("a network (or a group) is required"));
        }
        let net_key = format!("{tenant}:{network}");
        drop(v);
        let info = self.network_info(&net_key)?;
        Ok(PoolChoice {
            network,
            net_key,
            group_key,
            pool_group,
            epg_id,
            prefix: info.subnet.prefix_len(),
        })
    }

    fn pool_of(
        &self,
        net_key: &str,
        pool_group: &Option<String>,
    ) -> contiv_ipam::Pool<contiv_ipam::Ipv4Pool> {
        match pool_group {
            Some(g) => self.ipam.group_v4(g),
            None => self.ipam.network_v4(net_key),
        }
    }

    /// Reserves an address (see the module docs).
    pub async fn reserve_address(&self, mut req: ReservationRequest) -> ApiResult<Reservation> {
        if req.tenant.is_empty() {
            req.tenant = "default".into();
        }
        if req.host.is_empty() {
            return Err(ApiError::invalid("the reservation's host is required"));
        }
        check_host_name("host", &req.host)?;
        let c = self.choose_pool(&req.tenant, &req.network, &req.group)?;
        let net_obj = self.keys.object(Network::TYPE, &c.net_key);
        let mut attempt = 1u32;
        loop {
            let mut tx = self.begin()?;
            let pool = self.pool_of(&c.net_key, &c.pool_group);
            let ip = tx.stage(&pool, |p| p.allocate_with(req.ipv4)).await?;
            let rec = Reservation {
                network_key: c.net_key.clone(),
                tenant: req.tenant.clone(),
                network: c.network.clone(),
                group: req.group.clone(),
                pool_group: c.pool_group.clone(),
                host: req.host.clone(),
                owner: req.owner.clone(),
                ipv4: ip,
                ipv4_prefix: c.prefix,
            };
            let value = serde_json::to_vec(&rec)
                .map_err(|e| ApiError::internal(format!("cannot encode a reservation: {e}")))?;
            tx.push(TxnOp::Put {
                key: self.reservation_key(&c.net_key, ip),
                value,
                precondition: Precondition::Absent,
                lease: None,
            });
            tx.push(TxnOp::Check {
                precondition: self.unchanged(&net_obj),
                key: net_obj.clone(),
            });
            if self.commit_or_retry(tx, &mut attempt).await?.is_some() {
                info!(network = %c.net_key, ip = %ip, host = %rec.host, "address reserved");
                return Ok(rec);
            }
        }
    }

    async fn reservation(
        &self,
        net_key: &str,
        ip: Ipv4Addr,
    ) -> ApiResult<Option<(KeyValue, Reservation)>> {
        let Some(kv) = self.store.get(&self.reservation_key(net_key, ip)).await? else {
            return Ok(None);
        };
        let r = decode_json::<Reservation>(&kv)
            .map_err(|e| ApiError::internal(format!("undecodable reservation {}: {e}", kv.key)))?;
        Ok(Some((kv, r)))
    }

    /// Creates an endpoint adopting the reservation of its address in one
    /// transaction; without a reservation this is
    /// [`create_endpoint`](Netmaster::create_endpoint).
    pub async fn adopt_reservation(&self, mut req: EndpointRequest) -> ApiResult<EndpointResponse> {
        if req.tenant.is_empty() {
            req.tenant = "default".into();
        }
        let Some(ip) = req.ipv4 else {
            return self.create_endpoint(req).await;
        };
        Self::check_endpoint_request(&req)?;
        let mut attempt = 1u32;
        loop {
            let c = self.choose_pool(&req.tenant, &req.network, &req.group)?;
            req.network = c.network.clone();
            let exists = self
                .cache
                .read()
                .endpoints
                .contains_key(&format!("{}/{}", c.net_key, req.id));
            let found = if exists {
                None
            } else {
                self.reservation(&c.net_key, ip).await?
            };
            let Some((kv, res)) = found else {
                return self.create_endpoint(req).await;
            };
            if res.host != req.host {
                return Err(ApiError::conflict(format!(
                    "address {ip} of {} is reserved for host {}, not {}",
                    c.net_key, res.host, req.host
                )));
            }
            if res.pool_group != c.pool_group {
                return Err(ApiError::conflict(format!(
                    "address {ip} was reserved from {}, but endpoint {} takes its address from {}",
                    res.pool_group.as_deref().unwrap_or("the network's pool"),
                    req.id,
                    c.pool_group.as_deref().unwrap_or("the network's pool")
                )));
            }
            let info = self.network_info(&c.net_key)?;
            if let Some(v6) = req.ipv6
                && info.subnet6.is_none()
            {
                return Err(ApiError::invalid(format!(
                    "IPv6 address {v6} requested, but network {} has no ipv6Subnet",
                    c.net_key
                )));
            }
            let mut tx = self.begin()?;
            let ipv6 = match info.subnet6 {
                Some(_) => Some(
                    tx.stage(&self.ipam.network_v6(&c.net_key), |p| {
                        p.allocate_with(req.ipv6)
                    })
                    .await?,
                ),
                None => None,
            };
            let rec = EndpointRecord {
                id: req.id.clone(),
                tenant: req.tenant.clone(),
                network: c.network.clone(),
                group: req.group.clone(),
                epg_id: c.epg_id,
                ipv4: Some(ip),
                ipv4_prefix: info.subnet.prefix_len(),
                ipv6,
                ipv6_prefix: info.subnet6.map(|n| n.prefix_len()).unwrap_or_default(),
                mac: MacAddr::from_ipv4(ip),
                host: req.host.clone(),
                intf_name: req.intf_name.clone(),
                container_id: req.container_id.clone(),
                container_name: req.container_name.clone(),
                labels: req.labels.clone(),
                published: req.published.clone(),
            };
            let value = serde_json::to_vec(&rec)
                .map_err(|e| ApiError::internal(format!("cannot encode endpoint: {e}")))?;
            tx.push(TxnOp::Delete {
                key: kv.key.clone(),
                precondition: Precondition::ModRevision(kv.mod_revision),
            });
            tx.push(TxnOp::Put {
                key: self.keys.endpoint(&c.net_key, &req.id),
                value,
                precondition: Precondition::Absent,
                lease: None,
            });
            let net_obj = self.keys.object(Network::TYPE, &c.net_key);
            tx.push(TxnOp::Check {
                precondition: self.unchanged(&net_obj),
                key: net_obj,
            });
            if let Some(g) = &c.group_key {
                let k = self.keys.object(EndpointGroup::TYPE, g);
                tx.push(TxnOp::Check {
                    precondition: self.unchanged(&k),
                    key: k,
                });
            }
            if let Some(rev) = self.commit_or_retry(tx, &mut attempt).await? {
                self.settle(rev).await;
                info!(endpoint = %rec.id, network = %c.net_key, ip = %ip, "endpoint created from a reservation");
                return Ok(EndpointResponse {
                    endpoint: rec,
                    network: info,
                });
            }
        }
    }

    /// Turns an endpoint back into a reservation of its IPv4 address (its
    /// IPv6 address is freed). Idempotent.
    pub async fn demote_endpoint(&self, req: DemoteRequest) -> ApiResult<ReleaseResponse> {
        let mut attempt = 1u32;
        loop {
            let Some(rec) = self
                .cache
                .read()
                .endpoints
                .get(&format!("{}/{}", req.network_key, req.id))
                .cloned()
            else {
                return Ok(ReleaseResponse {
                    released: Released::None,
                    count: 0,
                });
            };
            let Some(ip) = rec.ipv4 else {
                self.delete_endpoint(&req.network_key, &req.id).await?;
                return Ok(ReleaseResponse {
                    released: Released::Endpoint,
                    count: 1,
                });
            };
            let pool_group = rec.group_key().filter(|k| {
                self.cache
                    .read()
                    .epgs
                    .get(k)
                    .is_some_and(|g| !g.ip_pool.is_empty())
            });
            let res = Reservation {
                network_key: req.network_key.clone(),
                tenant: rec.tenant.clone(),
                network: rec.network.clone(),
                group: rec.group.clone(),
                pool_group,
                host: rec.host.clone(),
                owner: req.owner.clone(),
                ipv4: ip,
                ipv4_prefix: rec.ipv4_prefix,
            };
            let mut tx = self.begin()?;
            if let Some(a) = rec.ipv6 {
                tolerant(
                    tx.stage(&self.ipam.network_v6(&req.network_key), |p| p.release(a))
                        .await,
                )?;
            }
            let ep_key = self.keys.endpoint(&req.network_key, &req.id);
            tx.push(TxnOp::Delete {
                precondition: self.unchanged(&ep_key),
                key: ep_key,
            });
            tx.push(TxnOp::Put {
                key: self.reservation_key(&req.network_key, ip),
                value: serde_json::to_vec(&res)
                    .map_err(|e| ApiError::internal(format!("cannot encode a reservation: {e}")))?,
                precondition: Precondition::Absent,
                lease: None,
            });
            if let Some(rev) = self.commit_or_retry(tx, &mut attempt).await? {
                self.settle(rev).await;
                info!(endpoint = %req.id, network = %req.network_key, ip = %ip, "endpoint demoted to a reservation");
                return Ok(ReleaseResponse {
                    released: Released::Endpoint,
                    count: 1,
                });
            }
        }
    }

    /// Releases whatever holds `ip` on `net_key` (for `host`, if given): a
    /// reservation, else an endpoint. Idempotent.
    pub async fn release_address(
        &self,
        net_key: &str,
        ip: Ipv4Addr,
        host: Option<&str>,
    ) -> ApiResult<ReleaseResponse> {
        let mut attempt = 1u32;
        loop {
            if let Some((kv, res)) = self.reservation(net_key, ip).await? {
                if let Some(h) = host
                    && res.host != h
                {
                    return Err(ApiError::conflict(format!(
                        "address {ip} of {net_key} is reserved for host {}, not {h}",
                        res.host
                    )));
                }
                let mut tx = self.begin()?;
                let pool = self.pool_of(net_key, &res.pool_group);
                tolerant(tx.stage(&pool, |p| p.release(ip)).await)?;
                tx.push(TxnOp::Delete {
                    key: kv.key.clone(),
                    precondition: Precondition::ModRevision(kv.mod_revision),
                });
                if self.commit_or_retry(tx, &mut attempt).await?.is_some() {
                    info!(network = %net_key, ip = %ip, "address reservation released");
                    return Ok(ReleaseResponse {
                        released: Released::Reservation,
                        count: 1,
                    });
                }
                continue;
            }
            let holder = self
                .cache
                .read()
                .endpoints_on(net_key)
                .find(|e| e.ipv4 == Some(ip) && host.is_none_or(|h| e.host == h))
                .map(|e| e.id.clone());
            return match holder {
                Some(id) => {
                    self.delete_endpoint(net_key, &id).await?;
                    Ok(ReleaseResponse {
                        released: Released::Endpoint,
                        count: 1,
                    })
                }
                None => Ok(ReleaseResponse {
                    released: Released::None,
                    count: 0,
                }),
            };
        }
    }

    /// Releases the reservations of `req.host` not owned by
    /// `req.keep_owner`.
    pub async fn sweep_reservations(&self, req: SweepRequest) -> ApiResult<ReleaseResponse> {
        let mut count = 0;
        for r in self.reservations().await? {
            if r.host == req.host && r.owner != req.keep_owner {
                let out = self
                    .release_address(&r.network_key, r.ipv4, Some(&r.host))
                    .await?;
                count += out.count;
            }
        }
        Ok(ReleaseResponse {
            released: if count > 0 {
                Released::Reservation
            } else {
                Released::None
            },
            count,
        })
    }

    /// Reservations whose host has no node record.
    pub(crate) async fn orphan_reservations(&self) -> ApiResult<Vec<Reservation>> {
        let all = self.reservations().await?;
        let v = self.cache.read();
        Ok(all
            .into_iter()
            .filter(|r| !v.nodes.contains_key(&r.host))
            .collect())
    }

    /// Releases the addresses of `expired` reservations (hosts gone longer
    /// than the grace period; see [`Netmaster::gc_vanished`]). Returns how
    /// many were released.
    pub(crate) async fn release_reservations(&self, expired: Vec<Reservation>) -> usize {
        let mut released = 0;
        for r in expired {
            match self
                .release_address(&r.network_key, r.ipv4, Some(&r.host))
                .await
            {
                Ok(out) => released += out.count,
                Err(e) => {
                    warn!(host = %r.host, ip = %r.ipv4, error = %e, "cannot release a reservation of a vanished node")
                }
            }
        }
        released
    }
}

type Shared = Arc<Netmaster>;

fn body<T: serde::de::DeserializeOwned>(b: &[u8], what: &str) -> ApiResult<T> {
    serde_json::from_slice(b).map_err(|e| ApiError::invalid(format!("invalid {what} body: {e}")))
}

async fn reserve(
    State(nm): State<Shared>,
    Extension(who): Extension<Identity>,
    b: Bytes,
) -> ApiResult<Json<Reservation>> {
    let req: ReservationRequest = body(&b, "reservation")?;
    who.may_act_for(&req.host)?;
    Ok(Json(nm.reserve_address(req).await?))
}

async fn list(State(nm): State<Shared>) -> ApiResult<Json<Vec<Reservation>>> {
    Ok(Json(nm.reservations().await?))
}

async fn adopt(
    State(nm): State<Shared>,
    Extension(who): Extension<Identity>,
    b: Bytes,
) -> ApiResult<Json<EndpointResponse>> {
    let req: EndpointRequest = body(&b, "endpoint")?;
    who.may_act_for(&req.host)?;
    Ok(Json(nm.adopt_reservation(req).await?))
}

async fn demote(
    State(nm): State<Shared>,
    Extension(who): Extension<Identity>,
    b: Bytes,
) -> ApiResult<Json<ReleaseResponse>> {
    let req: DemoteRequest = body(&b, "demote")?;
    check_endpoint_id("endpoint id", &req.id)?;
    nm.check_endpoint_owner(&who, &req.network_key, &req.id)?;
    Ok(Json(nm.demote_endpoint(req).await?))
}

async fn sweep(
    State(nm): State<Shared>,
    Extension(who): Extension<Identity>,
    b: Bytes,
) -> ApiResult<Json<ReleaseResponse>> {
    let req: SweepRequest = body(&b, "sweep")?;
    check_host_name("host", &req.host)?;
    who.may_act_for(&req.host)?;
    Ok(Json(nm.sweep_reservations(req).await?))
}

/// Query of a release.
#[derive(Debug, serde::Deserialize)]
struct HostQuery {
    host: Option<String>,
}

async fn release(
    State(nm): State<Shared>,
    Extension(who): Extension<Identity>,
    Path((net, ip)): Path<(String, String)>,
    Query(q): Query<HostQuery>,
) -> ApiResult<Json<ReleaseResponse>> {
    let ip: Ipv4Addr = ip
        .parse()
        .map_err(|_| ApiError::invalid(format!("invalid IPv4 address {ip:?}")))?;
    if let Some(h) = &q.host {
        check_host_name("host", h)?;
    }
    // A node releases only what it holds: it must name itself.
    if let Some(me) = who.node()
        && q.host.as_deref() != Some(me)
    {
        return Err(ApiError::forbidden(format!(
            "the node credential of {me} releases only its own addresses: add ?host={me}"
        )));
    }
    Ok(Json(nm.release_address(&net, ip, q.host.as_deref()).await?))
}

/// The reservation routes (merged into netmaster's API router).
pub fn routes() -> Router<Shared> {
    Router::new()
        .route("/api/v1/agent/reservations", post(reserve).get(list))
        .route("/api/v1/agent/reservations/", post(reserve).get(list))
        .route("/api/v1/agent/reservations/adopt", post(adopt))
        .route("/api/v1/agent/reservations/adopt/", post(adopt))
        .route("/api/v1/agent/reservations/demote", post(demote))
        .route("/api/v1/agent/reservations/demote/", post(demote))
        .route("/api/v1/agent/reservations/sweep", post(sweep))
        .route("/api/v1/agent/reservations/sweep/", post(sweep))
        .route("/api/v1/agent/reservations/{net}/{ip}", delete(release))
        .route("/api/v1/agent/reservations/{net}/{ip}/", delete(release))
}
