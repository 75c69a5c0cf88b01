//! Leader fencing as a type: the store every leader write goes through.
//!
//! [`FencedStore`] wraps the netmaster's store. Reads and watches pass
//! through; every write — a transaction, a put, a delete, a lease grant,
//! renewal or revocation, a compaction — is refused unless this netmaster
//! leads right now, and every transaction carries the leader fence (a
//! `Check` that the leader key still has the revision this term wrote), so
//! a deposed leader that has not noticed yet cannot commit anything, by
//! accident or otherwise. The netmaster service, its allocators, the
//! initial objects, the interrupted-change recovery, node registration and
//! the node-absence clock all hold only this store; the raw store is kept
//! by the election, the membership registry and the cache (which only
//! reads).
//!
//! A refused write fails with [`StoreError::PreconditionFailed`] on the
//! leader key — the same error a fenced transaction gets when the store
//! finds the fence stale — so callers see one "not the leader" outcome
//! (netmaster answers 503: retry, the next attempt reaches the leader).
//!
//! Lease operations cannot carry a fence in a transaction (etcd and Consul
//! have none for them); they are refused when this netmaster is not the
//! leader at the time of the call.

use super::leader::Election;
use async_trait::async_trait;
use contiv_core::store::{
    Lease, LeaseId, ListResponse, MAX_TXN_OPS, Revision, StateStore, StoreError, StoreResult,
    TxnOp, TxnResponse, WatchStream,
};
use std::sync::Arc;
use std::time::Duration;

/// Operations the fence adds to a transaction (so callers budget
/// [`MAX_TXN_OPS`] − this for their own).
pub const FENCE_OPS: usize = 1;

/// The most operations a caller may put in one fenced transaction.
pub const MAX_FENCED_OPS: usize = MAX_TXN_OPS - FENCE_OPS;

/// A store whose writes only the current leader can make (see the module
/// docs).
pub struct FencedStore {
    inner: Arc<dyn StateStore>,
    election: Arc<Election>,
}

impl FencedStore {
    /// Wraps `inner`, fencing writes with `election`.
    pub fn new(inner: Arc<dyn StateStore>, election: Arc<Election>) -> Arc<Self> {
        Arc::new(FencedStore { inner, election })
    }

    /// The refusal of a write by a netmaster that does not lead.
    fn not_leader(&self) -> StoreError {
        StoreError::PreconditionFailed {
            key: self.election.key().to_owned(),
        }
    }

    /// The fence operation of the current term (`None` on a single-node
    /// store, which needs none), or the refusal.
    fn fence(&self) -> StoreResult<Option<TxnOp>> {
        self.election.fence().ok_or_else(|| self.not_leader())
    }

    /// Refuses unless this netmaster leads now.
    fn leading(&self) -> StoreResult<()> {
        self.fence().map(|_| ())
    }
}

#[async_trait]
impl StateStore for FencedStore {
    fn backend_name(&self) -> &'static str {
        self.inner.backend_name()
    }

    async fn get(&self, key: &str) -> StoreResult<Option<contiv_core::store::KeyValue>> {
        self.inner.get(key).await
    }

    async fn list(&self, prefix: &str) -> StoreResult<ListResponse> {
        self.inner.list(prefix).await
    }

    async fn current_revision(&self) -> StoreResult<Revision> {
        self.inner.current_revision().await
    }

    async fn txn(&self, mut ops: Vec<TxnOp>) -> StoreResult<TxnResponse> {
        let Some(fence) = self.fence()? else {
            return self.inner.txn(ops).await;
        };
        if ops.len() > MAX_FENCED_OPS {
            return Err(StoreError::InvalidArgument(format!(
                "transaction has {} operations; a fenced one holds at most {MAX_FENCED_OPS}, split it",
                ops.len()
            )));
        }
        ops.push(fence);
        let mut resp = self.inner.txn(ops).await?;
        // The caller sees the outcomes of its own operations only.
        resp.outcomes.pop();
        Ok(resp)
    }

    // `put` and `delete` are the trait's defaults: one-operation
    // transactions through `txn` above, so they are fenced too.

    async fn watch(&self, prefix: &str, from: Option<Revision>) -> StoreResult<WatchStream> {
        self.inner.watch(prefix, from).await
    }

    async fn grant_lease(&self, ttl: Duration) -> StoreResult<Lease> {
        self.leading()?;
        self.inner.grant_lease(ttl).await
    }

    async fn keep_alive(&self, lease: &LeaseId) -> StoreResult<Duration> {
        self.leading()?;
        self.inner.keep_alive(lease).await
    }

    async fn revoke_lease(&self, lease: &LeaseId) -> StoreResult<()> {
        self.leading()?;
        self.inner.revoke_lease(lease).await
    }

    async fn compact(&self, revision: Revision) -> StoreResult<()> {
        self.leading()?;
        self.inner.compact(revision).await
    }
}
