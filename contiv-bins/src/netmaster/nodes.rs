//! Node (agent) registration with leases, and cleanup of vanished nodes.
//!
//! An agent registers with `POST /api/v1/agent/nodes/<host>/` and repeats
//! the call as its heartbeat. The node record is bound to a store lease of
//! `--node-ttl`: if heartbeats stop, the record vanishes with the lease and
//! every other agent drops the node's VTEP and remote endpoints. The
//! node's endpoint records stay for `--node-gc-grace` (a node that comes
//! back in time keeps its addresses); after that the leader deletes them
//! and releases their addresses. The grace period is measured from when
//! any leader first saw the node gone ([`super::absence`]), so a leader
//! change does not restart it.

use super::{ApiError, ApiResult, Netmaster};
use crate::api::{NodeLease, NodeRegistration};
use contiv_core::model::validate::is_valid_host_name;
use contiv_core::store::{PutOptions, StoreError};
use std::collections::{BTreeSet, HashMap};
use std::sync::Arc;
use std::time::Duration;
use tracing::{info, warn};

/// What one pass of [`Netmaster::gc_vanished`] released.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct GcReport {
    /// Endpoints deleted (their addresses released).
    pub endpoints: usize,
    /// Addresses released from reservations.
    pub reservations: usize,
}

impl Netmaster {
    /// Registers or refreshes a node.
    pub async fn register_node(&self, host: &str, reg: NodeRegistration) -> ApiResult<NodeLease> {
        if !is_valid_host_name(host) || reg.node.hostname != host {
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

    /// One pass of the vanished-node cleanup: hosts that hold endpoints or
    /// address reservations but have no node record are absent; the time
    /// each was first seen absent is kept in the store (see
    /// [`super::absence`]), so a new leader continues the grace period. What
    /// a host absent longer than `--node-gc-grace` holds is released.
    pub async fn gc_vanished(&self) -> GcReport {
        let orphan_endpoints: HashMap<String, Vec<(String, String)>> = {
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
            by_host
        };
        let orphan_reservations = match self.orphan_reservations().await {
            Ok(r) => r,
            Err(e) => {
                warn!(error = %e, "cannot list reservations for cleanup; trying again next pass");
                return GcReport::default();
            }
        };
        let absent: BTreeSet<String> = orphan_endpoints
            .keys()
            .cloned()
            .chain(orphan_reservations.iter().map(|r| r.host.clone()))
            .collect();
        let absent_for = match self.note_absent_hosts(&absent).await {
            Ok(d) => d,
            Err(e) => {
                warn!(error = %e, "cannot record vanished nodes; trying again next pass");
                return GcReport::default();
            }
        };
        let expired = |host: &str| {
            absent_for
                .get(host)
                .is_some_and(|d| *d >= self.settings.node_gc_grace)
        };
        let mut report = GcReport::default();
        for (host, eps) in orphan_endpoints {
            if !expired(&host) {
                continue;
            }
            warn!(
                host,
                endpoints = eps.len(),
                "node gone longer than the grace period: releasing its endpoints"
            );
            for (net, id) in eps {
                match self.delete_endpoint(&net, &id).await {
                    Ok(_) => report.endpoints += 1,
                    Err(e) => {
                        warn!(host, endpoint = %id, error = %e, "cannot release endpoint of vanished node")
                    }
                }
            }
        }
        let expired_reservations = orphan_reservations
            .into_iter()
            .filter(|r| expired(&r.host))
            .collect();
        report.reservations = self.release_reservations(expired_reservations).await;
        report
    }

    /// Runs [`Netmaster::gc_vanished`] periodically until `stop` resolves
    /// (the leader runs this).
    pub async fn run_node_gc(
        self: Arc<Self>,
        period: Duration,
        stop: tokio::sync::watch::Receiver<bool>,
    ) {
        let mut stop = stop;
        loop {
            tokio::select! {
                _ = tokio::time::sleep(period) => {
                    self.gc_vanished().await;
                }
                r = stop.changed() => if r.is_err() || *stop.borrow() { return },
            }
        }
    }
}
