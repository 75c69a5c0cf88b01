//! Endpoint create/delete for agents.
//!
//! Create allocates the IPv4 address (from the group's ip-pool if it has
//! one, else the network), the IPv6 address if the network has a v6 subnet,
//! derives the MAC (`02:02:<ipv4>`) and writes the endpoint record — all in
//! one store transaction, with preconditions that the network and group
//! still exist unchanged. A crash or failure at any point leaves either
//! everything or nothing. Re-creating an endpoint that exists with the same
//! request returns it unchanged (idempotent); delete of an absent endpoint
//! succeeds (idempotent) and releases exactly what the record holds.
//!
//! Creates are combined: requests that allocate from the same address pool
//! at the same time are queued, and one runner task per pool commits them
//! together — one allocator update and one record per endpoint in a single
//! store transaction (up to [`BATCH_MAX`] endpoints). Each request keeps its
//! own outcome: a requested address that is taken fails that request only.
//! With N concurrent creates on one network this costs about one commit
//! (one fsync on the embedded store) per batch instead of one per endpoint.

use super::auth::Identity;
use super::fenced::MAX_FENCED_OPS;
use super::{ApiError, ApiResult, Netmaster};
use crate::api::{EndpointRequest, EndpointResponse, NetworkInfo};
use contiv_core::datapath::MacAddr;
use contiv_core::ir::{EpgId, NO_EPG};
use contiv_core::model::validate::{check_endpoint_id, check_host_name, is_valid_name};
use contiv_core::model::{EndpointGroup, ModelObject, Network};
use contiv_core::records::EndpointRecord;
use contiv_core::store::{Precondition, TxnOp};
use std::collections::{BTreeSet, HashMap, VecDeque};
use std::sync::{Arc, Mutex, PoisonError};
use tokio::sync::oneshot;
use tracing::{info, warn};

/// Most endpoints committed in one transaction.
pub const BATCH_MAX: usize = 48;

/// Operations of a batch that are not per endpoint: the IPv4 and IPv6
/// pools and the network check (the store adds the leader fence).
const BATCH_FIXED_OPS: usize = 3;

/// Where a create request allocates, resolved from the cache.
#[derive(Clone, Debug)]
struct Plan {
    net_key: String,
    group_key: Option<String>,
    epg_id: EpgId,
    /// The IPv4 pool: the group's ip-pool, or the network's.
    group_pool: bool,
    info: NetworkInfo,
}

/// A create waiting for its pool's runner.
struct Pending {
    req: EndpointRequest,
    done: oneshot::Sender<ApiResult<EndpointResponse>>,
}

#[derive(Default)]
struct PoolQueue {
    pending: VecDeque<Pending>,
    running: bool,
}

/// What became of one request of a batch.
enum Outcome {
    /// Answered.
    Done(Box<ApiResult<EndpointResponse>>),
    /// Did not fit in the transaction: goes back to the queue.
    Requeue,
}

fn done(r: ApiResult<EndpointResponse>) -> Outcome {
    Outcome::Done(Box::new(r))
}

fn store_failure(e: &contiv_ipam::IpamError) -> bool {
    matches!(
        e,
        contiv_ipam::IpamError::Store(_) | contiv_ipam::IpamError::Corrupt { .. }
    )
}

/// Per-pool queues of endpoint creates.
#[derive(Default)]
pub struct CreateQueues {
    pools: Mutex<HashMap<String, PoolQueue>>,
}

impl std::fmt::Debug for CreateQueues {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("CreateQueues").finish_non_exhaustive()
    }
}

impl CreateQueues {
    fn lock(&self) -> std::sync::MutexGuard<'_, HashMap<String, PoolQueue>> {
        self.pools.lock().unwrap_or_else(PoisonError::into_inner)
    }
}

impl Netmaster {
    /// The network info agents need, from the cache.
    pub fn network_info(&self, network_key: &str) -> ApiResult<NetworkInfo> {
        let v = self.cache.read();
        let n = v
            .networks
            .get(network_key)
            .ok_or_else(|| ApiError::not_found(format!("network {network_key} not found")))?;
        let st = v.network_states.get(network_key).ok_or_else(|| {
            ApiError::unavailable(format!("network {network_key} has no allocated tags yet"))
        })?;
        let plan = n.address_plan()?;
        Ok(NetworkInfo {
            key: network_key.to_owned(),
            tenant: n.tenant_name.clone(),
            tenant_id: st.tenant_id,
            encap: st.encap,
            pkt_tag: st.pkt_tag,
            ext_pkt_tag: st.ext_pkt_tag,
            subnet: plan.subnet(),
            gateway: plan.gateway,
            subnet6: plan.v6,
            gateway6: plan.gateway6,
        })
    }

    /// Refuses a node credential's delete or demote of an endpoint another
    /// host holds (403). An absent endpoint is anyone's to "delete".
    pub(crate) fn check_endpoint_owner(
        &self,
        who: &Identity,
        network_key: &str,
        id: &str,
    ) -> ApiResult<()> {
        if who.node().is_none() {
            return Ok(());
        }
        let host = self
            .cache
            .read()
            .endpoints
            .get(&format!("{network_key}/{id}"))
            .map(|e| e.host.clone());
        match host {
            Some(h) => Ok(who.may_act_for(&h)?),
            None => Ok(()),
        }
    }

    /// Checks the fields of an agent request every endpoint path shares:
    /// the id and the host (no NUL, newline, `/` or `..` can reach a store
    /// key, a URL or an agent's file names).
    pub(crate) fn check_endpoint_request(req: &EndpointRequest) -> ApiResult<()> {
        check_endpoint_id("endpoint id", &req.id)?;
        if req.host.is_empty() {
            return Err(ApiError::invalid("endpoint host is required"));
        }
        check_host_name("host", &req.host)?;
        contiv_core::datapath::PublishedPort::check_set(&req.id, &req.published)
            .map_err(ApiError::invalid)?;
        Ok(())
    }

    /// Checks a request and fills its defaults (tenant, network from the
    /// group).
    fn normalise(&self, mut req: EndpointRequest) -> ApiResult<EndpointRequest> {
        if req.tenant.is_empty() {
            req.tenant = "default".into();
        }
        Self::check_endpoint_request(&req)?;
        if !req.group.is_empty() && req.network.is_empty() {
            let key = format!("{}:{}", req.tenant, req.group);
            if let Some(g) = self.cache.read().epgs.get(&key) {
                req.network = g.network_name.clone();
            }
        }
        Ok(req)
    }

    /// Resolves network, group and pool of a request from the cache.
    fn plan(&self, req: &EndpointRequest) -> ApiResult<Plan> {
        let (net_key, group_key, epg_id, group_pool) = {
            let v = self.cache.read();
            let group = if req.group.is_empty() {
                None
            } else {
                let key = format!("{}:{}", req.tenant, req.group);
                let g = v.epgs.get(&key).ok_or_else(|| {
                    ApiError::not_found(format!("endpoint group {key} not found"))
                })?;
                if g.network_name != req.network {
                    return Err(ApiError::invalid(format!(
                        "endpoint group {} belongs to network {}, not {}",
                        req.group, g.network_name, req.network
                    )));
                }
                let id = v.epg_states.get(&key).map(|s| s.epg_id).ok_or_else(|| {
                    ApiError::unavailable(format!("endpoint group {key} has no id yet"))
                })?;
                Some((key, id, !g.ip_pool.is_empty()))
            };
            if !is_valid_name(&req.network) {
                return Err(ApiError::invalid(format!(
                    "invalid network name {:?}",
                    req.network
                )));
            }
            let net_key = format!("{}:{}", req.tenant, req.network);
            if !v.networks.contains_key(&net_key) {
                return Err(ApiError::not_found(format!("network {net_key} not found")));
            }
            match group {
                Some((k, id, pool)) => (net_key, Some(k), id, pool),
                None => (net_key, None, NO_EPG, false),
            }
        };
        let info = self.network_info(&net_key)?;
        if let Some(v6) = req.ipv6
            && info.subnet6.is_none()
        {
            return Err(ApiError::invalid(format!(
                "IPv6 address {v6} requested, but network {net_key} has no ipv6Subnet"
            )));
        }
        Ok(Plan {
            net_key,
            group_key,
            epg_id,
            group_pool,
            info,
        })
    }

    /// The key of the IPv4 pool a plan allocates from (the queue key).
    fn v4_pool_key(&self, plan: &Plan) -> String {
        match (&plan.group_key, plan.group_pool) {
            (Some(g), true) => self.ipam.group_v4(g).key().to_owned(),
            _ => self.ipam.network_v4(&plan.net_key).key().to_owned(),
        }
    }

    /// Creates an endpoint (see the module docs).
    pub async fn create_endpoint(&self, req: EndpointRequest) -> ApiResult<EndpointResponse> {
        let req = self.normalise(req)?;
        // Fail fast on requests that cannot work; the runner checks again.
        let plan = self.plan(&req)?;
        if self.election.fence().is_none() {
            return Err(super::not_leader());
        }
        let pool = self.v4_pool_key(&plan);
        let (tx, rx) = oneshot::channel();
        let start = {
            let mut pools = self.creates.lock();
            let q = pools.entry(pool.clone()).or_default();
            q.pending.push_back(Pending { req, done: tx });
            !std::mem::replace(&mut q.running, true)
        };
        if start {
            match self.me.upgrade() {
                Some(nm) => {
                    tokio::spawn(async move { nm.run_creates(pool).await });
                }
                None => {
                    return Err(ApiError::unavailable("netmaster is shutting down"));
                }
            }
        }
        rx.await.unwrap_or_else(|_| {
            Err(ApiError::internal(
                "the endpoint allocator stopped before answering; check the endpoint and retry",
            ))
        })
    }

    /// The runner of one pool's queue: takes batches until it is empty.
    async fn run_creates(self: Arc<Self>, pool: String) {
        loop {
            let batch: Vec<Pending> = {
                let mut pools = self.creates.lock();
                let Some(q) = pools.get_mut(&pool) else {
                    return;
                };
                if q.pending.is_empty() {
                    q.running = false;
                    pools.remove(&pool);
                    return;
                }
                let mut ids = BTreeSet::new();
                let mut batch = Vec::new();
                let mut rest = VecDeque::new();
                while let Some(p) = q.pending.pop_front() {
                    // Two creates of one id go to different batches (the
                    // second then sees the first's record).
                    if batch.len() < BATCH_MAX
                        && ids.insert((
                            p.req.tenant.clone(),
                            p.req.network.clone(),
                            p.req.id.clone(),
                        ))
                    {
                        batch.push(p);
                    } else {
                        rest.push_back(p);
                    }
                }
                q.pending = rest;
                batch
            };
            self.commit_creates(&pool, batch).await;
        }
    }

    /// Commits one batch (retrying on conflicts) and answers every request.
    async fn commit_creates(&self, pool: &str, mut batch: Vec<Pending>) {
        let mut attempt = 1u32;
        loop {
            batch.retain(|p| !p.done.is_closed());
            if batch.is_empty() {
                return;
            }
            match self.try_batch(pool, &batch, &mut attempt).await {
                Ok(Some(results)) => {
                    let mut requeue = Vec::new();
                    for (p, r) in batch.into_iter().zip(results) {
                        match r {
                            Outcome::Done(r) => {
                                let _ = p.done.send(*r);
                            }
                            Outcome::Requeue => requeue.push(p),
                        }
                    }
                    if !requeue.is_empty() {
                        let mut pools = self.creates.lock();
                        let q = pools.entry(pool.to_owned()).or_default();
                        for p in requeue.into_iter().rev() {
                            q.pending.push_front(p);
                        }
                    }
                    return;
                }
                Ok(None) => continue,
                Err(e) => {
                    for p in batch {
                        let _ = p.done.send(Err(e.clone()));
                    }
                    return;
                }
            }
        }
    }

    /// One attempt at a batch: per-request outcomes, `None` to rebuild
    /// and retry, or an error for all.
    async fn try_batch(
        &self,
        pool: &str,
        batch: &[Pending],
        attempt: &mut u32,
    ) -> ApiResult<Option<Vec<Outcome>>> {
        let mut tx = self.begin()?;
        let mut results: Vec<Option<Outcome>> = Vec::with_capacity(batch.len());
        let mut records: Vec<(usize, EndpointRecord, NetworkInfo)> = Vec::new();
        let mut checks: BTreeSet<String> = BTreeSet::new();
        let mut ops = BATCH_FIXED_OPS;
        for p in batch {
            let req = &p.req;
            let plan = match self.plan(req) {
                Ok(plan) => plan,
                Err(e) => {
                    results.push(Some(done(Err(e))));
                    continue;
                }
            };
            if self.v4_pool_key(&plan) != pool {
                results.push(Some(done(Err(ApiError::conflict(
                    "the endpoint's group or network changed while it was being created; retry",
                )))));
                continue;
            }
            // Idempotent re-create.
            let existing = self
                .cache
                .read()
                .endpoints
                .get(&format!("{}/{}", plan.net_key, req.id))
                .cloned();
            if let Some(existing) = existing {
                let same = existing.host == req.host
                    && existing.group == req.group
                    && req.ipv4.is_none_or(|a| existing.ipv4 == Some(a))
                    && existing.published == req.published
                    && req.ipv6.is_none_or(|a| existing.ipv6 == Some(a));
                results.push(Some(done(if same {
                    Ok(EndpointResponse {
                        endpoint: (*existing).clone(),
                        network: plan.info,
                    })
                } else {
                    Err(ApiError::conflict(format!(
                        "endpoint {} already exists on host {} with other parameters",
                        req.id, existing.host
                    )))
                })));
                continue;
            }
            let group_check = plan
                .group_key
                .as_ref()
                .map(|k| self.keys.object(EndpointGroup::TYPE, k))
                .filter(|k| !checks.contains(k));
            if ops + 1 + usize::from(group_check.is_some()) > MAX_FENCED_OPS {
                results.push(Some(Outcome::Requeue));
                continue;
            }
            let v4_pool = if plan.group_pool {
                self.ipam
                    .group_v4(plan.group_key.as_deref().unwrap_or_default())
            } else {
                self.ipam.network_v4(&plan.net_key)
            };
            let ipv4 = match tx.stage(&v4_pool, |p| p.allocate_with(req.ipv4)).await {
                Ok(a) => a,
                Err(e) if store_failure(&e) => return Err(self.commit_error(e)),
                Err(e) => {
                    results.push(Some(done(Err(e.into()))));
                    continue;
                }
            };
            let ipv6 = if plan.info.subnet6.is_some() {
                let v6 = tx
                    .stage(&self.ipam.network_v6(&plan.net_key), |p| {
                        p.allocate_with(req.ipv6)
                    })
                    .await;
                match v6 {
                    Ok(a) => Some(a),
                    Err(e) => {
                        // Give the IPv4 address back within the batch.
                        tx.stage(&v4_pool, |p| p.release(ipv4).map(|_| ())).await?;
                        if store_failure(&e) {
                            return Err(self.commit_error(e));
                        }
                        results.push(Some(done(Err(e.into()))));
                        continue;
                    }
                }
            } else {
                None
            };
            let rec = EndpointRecord {
                id: req.id.clone(),
                tenant: req.tenant.clone(),
                network: req.network.clone(),
                group: req.group.clone(),
                epg_id: plan.epg_id,
                ipv4: Some(ipv4),
                ipv4_prefix: plan.info.subnet.prefix_len(),
                ipv6,
                ipv6_prefix: plan
                    .info
                    .subnet6
                    .map(|n| n.prefix_len())
                    .unwrap_or_default(),
                mac: MacAddr::from_ipv4(ipv4),
                host: req.host.clone(),
                intf_name: req.intf_name.clone(),
                container_id: req.container_id.clone(),
                container_name: req.container_name.clone(),
                labels: req.labels.clone(),
                published: req.published.clone(),
            };
            let value = serde_json::to_vec(&rec)
                .map_err(|e| ApiError::internal(format!("cannot encode endpoint: {e}")))?;
            tx.push(TxnOp::Put {
                key: self.keys.endpoint(&plan.net_key, &req.id),
                value,
                precondition: Precondition::Absent,
                lease: None,
            });
            ops += 1;
            let net_check = self.keys.object(Network::TYPE, &plan.net_key);
            for k in [Some(net_check), group_check].into_iter().flatten() {
                if checks.insert(k.clone()) {
                    tx.push(TxnOp::Check {
                        precondition: self.unchanged(&k),
                        key: k,
                    });
                    ops += 1;
                }
            }
            records.push((results.len(), rec, plan.info));
            results.push(None);
        }
        if !records.is_empty() {
            match self.commit_or_retry(tx, attempt).await? {
                Some(rev) => self.settle(rev).await,
                None => return Ok(None),
            }
        }
        for (i, rec, info) in records {
            self.metrics.endpoints_created.inc();
            info!(endpoint = %rec.id, network = %info.key, ip = ?rec.ipv4, host = %rec.host, "endpoint created");
            results[i] = Some(done(Ok(EndpointResponse {
                endpoint: rec,
                network: info,
            })));
        }
        Ok(Some(
            results
                .into_iter()
                .map(|r| {
                    r.unwrap_or_else(|| {
                        done(Err(ApiError::internal("endpoint create lost its result")))
                    })
                })
                .collect(),
        ))
    }

    /// Deletes an endpoint and releases its addresses (idempotent).
    pub async fn delete_endpoint(&self, network_key: &str, id: &str) -> ApiResult<bool> {
        let rec_key = self.keys.endpoint(network_key, id);
        let mut attempt = 1u32;
        loop {
            let Some(rec) = self
                .cache
                .read()
                .endpoints
                .get(&format!("{network_key}/{id}"))
                .cloned()
            else {
                return Ok(false);
            };
            let group_pool = rec.group_key().and_then(|k| {
                let v = self.cache.read();
                v.epgs.get(&k).filter(|g| !g.ip_pool.is_empty()).map(|_| k)
            });
            let mut tx = self.begin()?;
            if let Some(a) = rec.ipv4 {
                let pool = match &group_pool {
                    Some(g) => self.ipam.group_v4(g),
                    None => self.ipam.network_v4(network_key),
                };
                release(tx.stage(&pool, |p| p.release(a).map(|_| ())).await)?;
            }
            if let Some(a) = rec.ipv6 {
                release(
                    tx.stage(&self.ipam.network_v6(network_key), |p| {
                        p.release(a).map(|_| ())
                    })
                    .await,
                )?;
            }
            tx.push(TxnOp::Delete {
                precondition: self.unchanged(&rec_key),
                key: rec_key.clone(),
            });
            if let Some(rev) = self.commit_or_retry(tx, &mut attempt).await? {
                self.settle(rev).await;
                self.metrics.endpoints_deleted.inc();
                info!(endpoint = %id, network = %network_key, "endpoint deleted");
                return Ok(true);
            }
        }
    }
}

/// Releasing from a pool that no longer exists, or an address the pool
/// does not hold, must not keep the record alive: log and go on.
fn release(r: contiv_ipam::IpamResult<()>) -> ApiResult<()> {
    use contiv_ipam::IpamError as E;
    match r {
        Ok(()) => Ok(()),
        Err(e @ (E::UnknownPool { .. } | E::NotReleasable { .. } | E::OutOfRange { .. })) => {
            warn!(error = %e, "endpoint delete: nothing to release");
            Ok(())
        }
        Err(e) => Err(e.into()),
    }
}
