//! Plain data types of the [`StateStore`](super::StateStore) contract.

use super::StoreResult;
use futures::stream::BoxStream;
use serde::{Deserialize, Serialize};
use std::fmt;
use std::time::Duration;

/// A store-wide revision. Strictly increasing; every write (or transaction)
/// gets a new one. `0` means "before the first write".
pub type Revision = u64;

/// The most operations one [`TxnOp`] list may hold. Chosen to fit every
/// backend: etcd accepts 128 by default, Consul's `/v1/txn` 128, of which
/// the Consul backend needs a few for its revision counter and event log.
pub const MAX_TXN_OPS: usize = 64;

/// What one backend can hold, declared by
/// [`StateStore::limits`](super::StateStore::limits). Callers that batch work
/// (and the conformance suite) size their requests by these numbers instead
/// of assuming the most generous backend.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct StoreLimits {
    /// The most operations one transaction may hold (never above
    /// [`MAX_TXN_OPS`]).
    pub max_txn_ops: usize,
    /// The largest value one key may hold, in bytes.
    pub max_value_bytes: usize,
    /// The largest sum of the values one transaction may write, in bytes.
    pub max_txn_value_bytes: usize,
    /// The shortest lease TTL the backend grants; shorter requests are
    /// rounded up to it.
    pub min_lease_ttl: Duration,
    /// A lease that is no longer refreshed expires between its TTL and
    /// `lease_expiry_factor` × its TTL after the last refresh (1 where the
    /// backend expires exactly; Consul may wait up to twice the TTL).
    pub lease_expiry_factor: u32,
}

impl Default for StoreLimits {
    /// The limits every backend of this workspace meets: [`MAX_TXN_OPS`]
    /// operations, 1 MiB values and transactions, leases from one second,
    /// expiring on time.
    fn default() -> Self {
        StoreLimits {
            max_txn_ops: MAX_TXN_OPS,
            max_value_bytes: 1 << 20,
            max_txn_value_bytes: 1 << 20,
            min_lease_ttl: Duration::from_secs(1),
            lease_expiry_factor: 1,
        }
    }
}

impl StoreLimits {
    /// The latest a lease granted with `ttl` (after rounding up to
    /// [`Self::min_lease_ttl`]) expires after its last refresh.
    pub fn lease_expiry_bound(&self, ttl: Duration) -> Duration {
        ttl.max(self.min_lease_ttl) * self.lease_expiry_factor.max(1)
    }
}

/// The identity of a lease. Opaque: etcd uses a number, Consul a session
/// UUID; both fit in a string.
#[derive(Clone, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
pub struct LeaseId(pub String);

impl fmt::Display for LeaseId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

/// A granted lease.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Lease {
    /// Its identity, used to bind keys and to refresh/revoke it.
    pub id: LeaseId,
    /// The time-to-live the store granted (may be rounded up by a backend).
    pub ttl: Duration,
}

/// One stored key with its metadata.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct KeyValue {
    /// The full key.
    pub key: String,
    /// The value bytes (empty in delete events).
    pub value: Vec<u8>,
    /// Revision at which the key was created (since it last did not exist).
    pub create_revision: Revision,
    /// Revision of the last write to the key (for a delete event: the
    /// revision of the delete).
    pub mod_revision: Revision,
    /// Number of writes since creation (1 after the first put).
    pub version: u64,
    /// The lease the key is bound to, if any.
    pub lease: Option<LeaseId>,
}

/// The result of [`StateStore::list`](super::StateStore::list).
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct ListResponse {
    /// The keys under the prefix, sorted by key.
    pub kvs: Vec<KeyValue>,
    /// The store revision the listing reflects; watch from `revision + 1`
    /// to see every later change.
    pub revision: Revision,
}

/// A condition a write requires to hold, checked atomically with it.
#[derive(Clone, Debug, PartialEq, Eq, Default)]
pub enum Precondition {
    /// No condition.
    #[default]
    Any,
    /// The key must not exist.
    Absent,
    /// The key must exist and have been last written at exactly this revision.
    ModRevision(Revision),
}

/// Options of a single [`StateStore::put`](super::StateStore::put).
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct PutOptions {
    /// Condition checked atomically with the write.
    pub precondition: Precondition,
    /// Bind the key to this lease (it vanishes with the lease).
    pub lease: Option<LeaseId>,
}

impl PutOptions {
    /// A put that requires the key to be absent.
    pub fn absent() -> Self {
        PutOptions {
            precondition: Precondition::Absent,
            lease: None,
        }
    }
    /// A put that requires the key to be unchanged since `rev`.
    pub fn at_revision(rev: Revision) -> Self {
        PutOptions {
            precondition: Precondition::ModRevision(rev),
            lease: None,
        }
    }
}

/// One operation of an atomic transaction.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum TxnOp {
    /// Write `value` to `key` if `precondition` holds.
    Put {
        /// Key to write.
        key: String,
        /// Value bytes.
        value: Vec<u8>,
        /// Condition on the key's current state.
        precondition: Precondition,
        /// Optional lease to bind the key to.
        lease: Option<LeaseId>,
    },
    /// Delete `key` if `precondition` holds (a no-op if absent and the
    /// precondition is [`Precondition::Any`]).
    Delete {
        /// Key to delete.
        key: String,
        /// Condition on the key's current state.
        precondition: Precondition,
    },
    /// Only check `precondition` on `key` (no write): lets a transaction
    /// depend on keys it does not change.
    Check {
        /// Key to check.
        key: String,
        /// Condition that must hold.
        precondition: Precondition,
    },
}

impl TxnOp {
    /// The key this operation is about.
    pub fn key(&self) -> &str {
        match self {
            TxnOp::Put { key, .. } | TxnOp::Delete { key, .. } | TxnOp::Check { key, .. } => key,
        }
    }
    /// The precondition of this operation.
    pub fn precondition(&self) -> &Precondition {
        match self {
            TxnOp::Put { precondition, .. }
            | TxnOp::Delete { precondition, .. }
            | TxnOp::Check { precondition, .. } => precondition,
        }
    }
    /// An unconditional put.
    pub fn put(key: impl Into<String>, value: Vec<u8>) -> Self {
        TxnOp::Put {
            key: key.into(),
            value,
            precondition: Precondition::Any,
            lease: None,
        }
    }
    /// An unconditional delete.
    pub fn delete(key: impl Into<String>) -> Self {
        TxnOp::Delete {
            key: key.into(),
            precondition: Precondition::Any,
        }
    }
}

/// What happened to one operation of a successful transaction.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum OpOutcome {
    /// A put was applied.
    Written,
    /// A delete removed an existing key.
    Deleted,
    /// A delete found no key (nothing changed).
    Absent,
    /// A check held.
    Checked,
}

/// The result of a successful [`StateStore::txn`](super::StateStore::txn).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct TxnResponse {
    /// The revision of the transaction's writes (or the current revision if
    /// it changed nothing).
    pub revision: Revision,
    /// One outcome per operation, in order.
    pub outcomes: Vec<OpOutcome>,
}

/// Kind of a watch event.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum EventKind {
    /// The key was created or updated.
    Put,
    /// The key was deleted (explicitly or by lease expiry).
    Delete,
}

/// One change seen by a watch.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct WatchEvent {
    /// Put or delete.
    pub kind: EventKind,
    /// The key after the change (for a delete: empty value, `mod_revision` =
    /// the revision of the delete).
    pub kv: KeyValue,
}

impl WatchEvent {
    /// The revision of the change.
    pub fn revision(&self) -> Revision {
        self.kv.mod_revision
    }
}

/// A stream of watch events in revision order; an `Err` item ends it.
pub type WatchStream = BoxStream<'static, StoreResult<WatchEvent>>;
