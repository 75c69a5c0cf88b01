//! The `StateStore` contract: a revisioned key-value store.
//!
//! The shape is the one etcd v3 and Consul's KV API both support:
//!
//! * every write gets a store-wide, strictly increasing [`Revision`]; all
//!   operations of one transaction share a revision;
//! * [`StateStore::get`] / [`StateStore::list`] read keys (a list reports the
//!   revision it reflects, so a watch can continue exactly after it);
//! * writes carry a [`Precondition`] (`Any`, `Absent`, `ModRevision(r)`) — the
//!   compare-and-swap that makes concurrent allocators safe;
//! * [`StateStore::txn`] applies several conditional puts/deletes atomically:
//!   either every precondition holds and every write is applied under one
//!   revision, or nothing is written and the first failed key is reported;
//! * [`StateStore::watch`] streams put/delete events of a prefix in revision
//!   order, starting at any revision still in history; asking for a revision
//!   that was compacted away is a clear [`StoreError::Compacted`] error;
//! * leases: keys bound to a lease vanish (with delete events) when the lease
//!   expires or is revoked.
//!
//! Mapping to backends: etcd — `Txn` with `Compare` on `mod_revision`/
//! `create_revision`, `Watch` with `start_revision`, `Lease*`; Consul —
//! `/v1/txn` guarded by a revision counter with `cas`, an event log written
//! in the same transaction (Consul's blocking queries alone report neither
//! deletes nor intermediate values), sessions with a TTL for leases. Limits
//! differ per backend: [`StateStore::limits`] declares them.
//!
//! Keys are UTF-8 strings; a prefix is matched byte-wise (`/a` does **not**
//! match `/ab/…` unless the caller's prefix is `/a`; use a trailing `/` to
//! list a directory). Values are opaque bytes; [`StoreExt`] adds typed JSON
//! helpers and [`keys`] documents the layout contiv-rs uses.

mod error;
pub mod keys;
mod typed;
mod types;

pub use error::{StoreError, StoreResult};
pub use typed::{StoreExt, TypedKv, decode_json, encode_json};
pub use types::{
    EventKind, KeyValue, Lease, LeaseId, ListResponse, MAX_TXN_OPS, OpOutcome, Precondition,
    PutOptions, Revision, StoreLimits, TxnOp, TxnResponse, WatchEvent, WatchStream,
};

use async_trait::async_trait;
use std::time::Duration;

/// A revisioned key-value store with CAS, atomic transactions, resumable
/// watches and leases. See the [module documentation](self) for semantics.
///
/// Implementations must be cheap to share (`Arc<dyn StateStore>`) and safe to
/// call from many tasks at once.
#[async_trait]
pub trait StateStore: Send + Sync + 'static {
    /// A short name of the backend (`"memory"`, `"embedded"`, `"etcd"`, …),
    /// used in logs and `/info`.
    fn backend_name(&self) -> &'static str;

    /// What this backend can hold (transaction size, value size, lease
    /// TTLs). The default is [`StoreLimits::default`]; a backend with
    /// tighter limits (Consul) overrides it.
    fn limits(&self) -> StoreLimits {
        StoreLimits::default()
    }

    /// Reads one key. `Ok(None)` if the key does not exist.
    async fn get(&self, key: &str) -> StoreResult<Option<KeyValue>>;

    /// Lists every key that starts with `prefix` (byte-wise), sorted by key,
    /// together with the store revision the listing reflects.
    async fn list(&self, prefix: &str) -> StoreResult<ListResponse>;

    /// The current store revision (the revision of the latest write, or 0 on
    /// an empty store).
    async fn current_revision(&self) -> StoreResult<Revision>;

    /// Applies `ops` atomically. Every precondition is checked first; if one
    /// fails nothing is written and
    /// [`StoreError::PreconditionFailed`] names the key. On success every
    /// write shares the returned revision. A delete of an absent key with
    /// [`Precondition::Any`] is a no-op; a transaction that changes nothing
    /// (only checks / no-op deletes) does not create a revision and returns
    /// the current one. At most [`MAX_TXN_OPS`] operations per transaction;
    /// two writes to the same key in one transaction are rejected with
    /// [`StoreError::InvalidArgument`].
    async fn txn(&self, ops: Vec<TxnOp>) -> StoreResult<TxnResponse>;

    /// Writes one key under a precondition, optionally bound to a lease.
    /// Returns the revision of the write.
    async fn put(&self, key: &str, value: Vec<u8>, opts: PutOptions) -> StoreResult<Revision> {
        let resp = self
            .txn(vec![TxnOp::Put {
                key: key.to_owned(),
                value,
                precondition: opts.precondition,
                lease: opts.lease,
            }])
            .await?;
        Ok(resp.revision)
    }

    /// Deletes one key under a precondition. Returns `Some(revision)` if a
    /// key was deleted, `None` if it did not exist (and the precondition
    /// allowed that).
    async fn delete(&self, key: &str, precondition: Precondition) -> StoreResult<Option<Revision>> {
        let resp = self
            .txn(vec![TxnOp::Delete {
                key: key.to_owned(),
                precondition,
            }])
            .await?;
        Ok(match resp.outcomes.first() {
            Some(OpOutcome::Deleted) => Some(resp.revision),
            _ => None,
        })
    }

    /// Streams put/delete events for keys under `prefix`, in revision order.
    ///
    /// `from = Some(r)` delivers every event with revision `>= r` that is
    /// still in history, then live events; `from = None` delivers only events
    /// after the call. If `r` is at or below the compaction point, the call
    /// (or the first stream item) fails with [`StoreError::Compacted`] — the
    /// caller must re-list and watch from the listing's revision + 1.
    /// A stream ends with an error item if the backend loses the watch; the
    /// caller resumes from the last revision it saw + 1.
    ///
    /// Deletes are events like puts on every backend, lease expiry
    /// included: etcd reports them natively; the Consul backend, whose
    /// blocking queries return listings without deletes or intermediate
    /// values, synthesises every event from an event log it writes in the
    /// same `/v1/txn` as the data (never by diffing listings), and reports
    /// [`StoreError::Compacted`] for revisions that left that log.
    async fn watch(&self, prefix: &str, from: Option<Revision>) -> StoreResult<WatchStream>;

    /// Grants a lease with the given time-to-live.
    async fn grant_lease(&self, ttl: Duration) -> StoreResult<Lease>;

    /// Refreshes a lease once; returns the TTL it was renewed for.
    /// [`StoreError::LeaseNotFound`] if it expired or was revoked.
    async fn keep_alive(&self, lease: &LeaseId) -> StoreResult<Duration>;

    /// Revokes a lease now, deleting every key bound to it (with delete
    /// events). Revoking an unknown lease is [`StoreError::LeaseNotFound`].
    async fn revoke_lease(&self, lease: &LeaseId) -> StoreResult<()>;

    /// Discards watch history up to and including `revision`. Watches from a
    /// revision `<= revision` then fail with [`StoreError::Compacted`].
    /// Backends that keep no history of their own may treat this as a no-op
    /// and document it.
    async fn compact(&self, revision: Revision) -> StoreResult<()>;
}
