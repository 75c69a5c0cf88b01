//! [`copy`]: moves the keys under a prefix from one store to another
//! (embedded → etcd → Consul, or back), for the `contiv-store copy`
//! command.
//!
//! The source is read in one listing (one revision, a consistent
//! snapshot). Keys bound to a lease are skipped: they are ephemeral (the
//! leader lock, node registrations) and their owners write them again.
//! Everything is checked against the destination's declared
//! [`StoreLimits`](contiv_core::store::StoreLimits) before the first write;
//! the destination must hold nothing under the prefix unless `overwrite`
//! is set. Keys are written in transactions sized to the destination's
//! limits, each key with `Absent` (or no precondition when overwriting),
//! so a concurrent writer is a conflict, not a silent mix. Afterwards the
//! destination is listed again and compared with what was copied.
//!
//! Stop every netmaster using either store while copying.

use contiv_core::store::{
    KeyValue, Precondition, Revision, StateStore, StoreError, StoreResult, TxnOp,
};

/// What to copy.
#[derive(Clone, Debug, Default)]
pub struct CopyOptions {
    /// Only keys starting with this prefix (empty: every key).
    pub prefix: String,
    /// Allow keys under the prefix in the destination (they are
    /// overwritten; keys only the destination has stay).
    pub overwrite: bool,
}

/// What a copy did.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct CopyReport {
    /// Keys written to the destination.
    pub copied: usize,
    /// Bytes of values written.
    pub bytes: usize,
    /// Lease-bound keys left out.
    pub skipped_leased: usize,
    /// The source revision the copy reflects.
    pub source_revision: Revision,
    /// Transactions used.
    pub transactions: usize,
}

/// Copies the keys under `options.prefix` from `src` to `dst`.
pub async fn copy(
    src: &dyn StateStore,
    dst: &dyn StateStore,
    options: &CopyOptions,
) -> StoreResult<CopyReport> {
    let listing = src.list(&options.prefix).await?;
    let (leased, keys): (Vec<KeyValue>, Vec<KeyValue>) =
        listing.kvs.into_iter().partition(|kv| kv.lease.is_some());
    let limits = dst.limits();
    if let Some(big) = keys
        .iter()
        .find(|kv| kv.value.len() > limits.max_value_bytes)
    {
        return Err(StoreError::InvalidArgument(format!(
            "key {:?} holds {} bytes; the {} destination takes at most {} per value — nothing was copied",
            big.key,
            big.value.len(),
            dst.backend_name(),
            limits.max_value_bytes
        )));
    }
    let existing = dst.list(&options.prefix).await?;
    if !options.overwrite && !existing.kvs.is_empty() {
        return Err(StoreError::InvalidArgument(format!(
            "the destination already holds {} keys under {:?} (first: {:?}); copy into an empty store or pass --overwrite",
            existing.kvs.len(),
            options.prefix,
            existing.kvs[0].key
        )));
    }
    let precondition = if options.overwrite {
        Precondition::Any
    } else {
        Precondition::Absent
    };
    let mut report = CopyReport {
        skipped_leased: leased.len(),
        source_revision: listing.revision,
        ..CopyReport::default()
    };
    let max_ops = limits.max_txn_ops.max(1);
    let mut batch: Vec<TxnOp> = Vec::new();
    let mut batch_bytes = 0usize;
    for kv in &keys {
        if !batch.is_empty()
            && (batch.len() >= max_ops || batch_bytes + kv.value.len() > limits.max_txn_value_bytes)
        {
            dst.txn(std::mem::take(&mut batch)).await?;
            report.transactions += 1;
            batch_bytes = 0;
        }
        batch.push(TxnOp::Put {
            key: kv.key.clone(),
            value: kv.value.clone(),
            precondition: precondition.clone(),
            lease: None,
        });
        batch_bytes += kv.value.len();
        report.copied += 1;
        report.bytes += kv.value.len();
    }
    if !batch.is_empty() {
        dst.txn(batch).await?;
        report.transactions += 1;
    }
    // Check what landed.
    let copied = dst.list(&options.prefix).await?;
    let mut landed = copied.kvs.iter().filter(|kv| kv.lease.is_none());
    for kv in &keys {
        let found = landed.find(|d| d.key == kv.key);
        match found {
            Some(d) if d.value == kv.value => {}
            _ => {
                return Err(StoreError::Backend(format!(
                    "after copying, key {:?} differs in the destination (was a netmaster writing?)",
                    kv.key
                )));
            }
        }
    }
    Ok(report)
}
