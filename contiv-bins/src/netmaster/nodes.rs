//! Node (agent) registration with leases, and cleanup of vanished nodes.
//!
//! An agent registers with `POST /api/v1/agent/nodes/<host>/` and repeats
//! the call as its heartbeat. The node record is bound to a store lease of
//! `--node-ttl`: if heartbeats stop, the record vanishes with the lease and
//! every other agent drops the node's VTEP and remote endpoints. The
//! node's endpoint records stay for `--node-gc-grace` (a node that comes
//! back in time keeps its addresses); after that the leader deletes them
//! and releases their addresses.

use super::{ApiError, ApiResult, Netmaster};
use crate::api::{NodeLease, NodeRegistration};
use contiv_core::model::validate::is_valid_name;
use contiv_core::store::{PutOptions, StoreError};
use std::collections::HashMap;
use std::sync::Arc;
use std::time::{Duration, Instant};
use tracing::{info, warn};

impl Netmaster {
    /// Registers or refreshes a node.
    pub async fn register_node(&self, host: &str, reg: NodeRegistration) -> ApiResult<NodeLease> {
        if !is_valid_name(host) || reg.node.hostname != host {
            return Err(ApiError::invalid(format!(
                "invalid node registration: hostname {:?} must be a valid name and match the URL",
                reg.node.hostname
            )));
        }
        let key = self.keys.node(host);
        let ttl = self.settings.node_ttl;
        let value = serde_json::to_vec(&reg.node)
            .map_err(|e| ApiError::internal(format!("cannot encode node: {e}")))?;
        // Refresh the existing lease when there is one.
        if let Some(kv) = self.store.get(&key).await?
            && let Some(lease) = kv.lease.clone()
        {
            match self.store.keep_alive(&lease).await {
                Ok(_) => {
                    if kv.value != value {
                        let rev = self
                            .store
                            .put(
                                &key,
                                value,
                                PutOptions {
                                    precondition: contiv_core::store::Precondition::ModRevision(
                                        kv.mod_revision,
                                    ),
                                    lease: Some(lease),
                                },
                            )
                            .await?;
                        self.settle(rev).await;
                    }
                    return Ok(NodeLease {
                        ttl_ms: ttl.as_millis() as u64,
                    });
                }
                Err(StoreError::LeaseNotFound(_)) => {}
                Err(e) => return Err(e.into()),
            }
        }
        let lease = self.store.grant_lease(ttl).await?;
        let rev = self
            .store
            .put(
                &key,
                value,
                PutOptions {
                    precondition: contiv_core::store::Precondition::Any,
                    lease: Some(lease.id),
                },
            )
            .await?;
        self.settle(rev).await;
        info!(host, vtep = %reg.node.vtep_ip, "node registered");
        Ok(NodeLease {
            ttl_ms: lease.ttl.as_millis() as u64,
        })
    }

    /// Deregisters a node now (its lease is revoked).
    pub async fn deregister_node(&self, host: &str) -> ApiResult<()> {
        let key = self.keys.node(host);
        if let Some(kv) = self.store.get(&key).await? {
            match kv.lease {
                Some(l) => match self.store.revoke_lease(&l).await {
                    Ok(()) | Err(StoreError::LeaseNotFound(_)) => {}
                    Err(e) => return Err(e.into()),
                },
                None => {
                    self.store
                        .delete(&key, contiv_core::store::Precondition::Any)
                        .await?;
                }
            }
            info!(host, "node deregistered");
        }
        Ok(())
    }

    /// One pass of the vanished-node cleanup: hosts that hold endpoints but
    /// have no node record are noted; once absent longer than the grace
    /// period, their endpoints are deleted. `absent_since` carries state
    /// between passes.
    pub async fn gc_vanished_nodes(&self, absent_since: &mut HashMap<String, Instant>) {
        let now = Instant::now();
        let orphans: Vec<(String, Vec<(String, String)>)> = {
            let v = self.cache.read();
            let mut by_host: HashMap<String, Vec<(String, String)>> = HashMap::new();
            for e in v.endpoints.values() {
                if !v.nodes.contains_key(&e.host) {
                    by_host
                        .entry(e.host.clone())
                        .or_default()
                        .push((e.network_key(), e.id.clone()));
                }
            }
            by_host.into_iter().collect()
        };
        absent_since.retain(|h, _| orphans.iter().any(|(o, _)| o == h));
        for (host, eps) in orphans {
            let since = *absent_since.entry(host.clone()).or_insert(now);
            if now.duration_since(since) < self.settings.node_gc_grace {
                continue;
            }
            warn!(
                host,
                endpoints = eps.len(),
                "node gone longer than the grace period: releasing its endpoints"
            );
            for (net, id) in eps {
                if let Err(e) = self.delete_endpoint(&net, &id).await {
                    warn!(host, endpoint = %id, error = %e, "cannot release endpoint of vanished node");
                }
            }
            absent_since.remove(&host);
        }
    }

    /// Runs [`Netmaster::gc_vanished_nodes`] periodically until `stop`
    /// resolves (the leader runs this).
    pub async fn run_node_gc(
        self: Arc<Self>,
        period: Duration,
        stop: tokio::sync::watch::Receiver<bool>,
    ) {
        let mut absent = HashMap::new();
        let mut absent_reservations = HashMap::new();
        let mut stop = stop;
        loop {
            tokio::select! {
                _ = tokio::time::sleep(period) => {
                    self.gc_vanished_nodes(&mut absent).await;
                    self.gc_vanished_reservations(&mut absent_reservations).await;
                }
                r = stop.changed() => if r.is_err() || *stop.borrow() { return },
            }
        }
    }
}
