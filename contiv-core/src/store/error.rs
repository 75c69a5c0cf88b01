//! Errors of the [`StateStore`](super::StateStore) contract.

use super::{LeaseId, Revision};

/// Result alias for store operations.
pub type StoreResult<T> = Result<T, StoreError>;

/// Everything a store operation can fail with. Backends map their native
/// errors onto these variants so callers can react without knowing the
/// backend.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum StoreError {
    /// A precondition of a put/delete/txn did not hold; nothing was written.
    /// This is the normal outcome of losing a compare-and-swap race: re-read
    /// and retry.
    #[error("precondition failed on key {key:?}: it was changed concurrently")]
    PreconditionFailed {
        /// The first key whose precondition failed.
        key: String,
    },
    /// A watch asked for history that was compacted away.
    #[error(
        "watch from revision {requested} is no longer possible: history up to revision {compacted} was compacted; re-list and watch from the listing's revision"
    )]
    Compacted {
        /// The revision the caller asked for.
        requested: Revision,
        /// The store's compaction point (history `<=` this is gone).
        compacted: Revision,
    },
    /// The lease does not exist (expired, revoked or never granted).
    #[error("lease {0} not found (expired or revoked)")]
    LeaseNotFound(LeaseId),
    /// The request is malformed (too many ops, duplicate keys in a txn, …).
    #[error("invalid store request: {0}")]
    InvalidArgument(String),
    /// The backend cannot be reached right now; the operation may be retried.
    #[error("store unavailable: {0}")]
    Unavailable(String),
    /// The store was closed (shut down) while the operation was in flight.
    #[error("store closed")]
    Closed,
    /// A value could not be encoded or decoded by a typed helper.
    #[error("cannot decode value of key {key:?}: {message}")]
    Codec {
        /// The key whose value was bad.
        key: String,
        /// What was wrong.
        message: String,
    },
    /// Any other backend failure (I/O error, corrupted file, server error).
    #[error("store backend error: {0}")]
    Backend(String),
}

impl StoreError {
    /// True for [`StoreError::PreconditionFailed`]: the caller lost a race and
    /// should re-read and retry.
    pub fn is_conflict(&self) -> bool {
        matches!(self, StoreError::PreconditionFailed { .. })
    }
}
