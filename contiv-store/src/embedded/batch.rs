//! One group-commit batch: every change of a batch is applied to the tables
//! of a single redb write transaction. Each request is evaluated against the
//! state including the earlier requests of the batch, and each successful
//! transaction (or lease revocation) gets its own revision.

use super::codec::{RecordMeta, decode_meta, encode_event, encode_record, lease_id};
use super::tables::{
    HISTORY, KV, LEASE_KEYS, LEASES, META, META_COMPACTED, META_NEXT_LEASE, META_REVISION, err,
};
use crate::contract::{conflict, precondition_holds, validate_ops};
use contiv_core::store::{
    EventKind, KeyValue, LeaseId, OpOutcome, Revision, StoreError, StoreResult, TxnOp, TxnResponse,
    WatchEvent,
};
use redb::{ReadableTable, Table, WriteTransaction};

/// Parses a lease id of this backend (a decimal number, never 0).
pub fn lease_number(id: &LeaseId) -> StoreResult<u64> {
    match id.0.parse::<u64>() {
        Ok(n) if n != 0 => Ok(n),
        _ => Err(StoreError::LeaseNotFound(id.clone())),
    }
}

/// The open tables of a write transaction plus the counters of the batch.
pub struct Batch<'t> {
    kv: Table<'t, &'static str, &'static [u8]>,
    history: Table<'t, u64, &'static [u8]>,
    meta: Table<'t, &'static str, u64>,
    leases: Table<'t, u64, u64>,
    lease_keys: Table<'t, (u64, &'static str), ()>,
    /// The revision after the batch's latest change.
    pub rev: Revision,
    /// The compaction point after the batch.
    pub compacted: Revision,
    /// The next lease number.
    pub next_lease: u64,
    /// Every event of the batch, in revision order.
    pub events: Vec<WatchEvent>,
}

impl<'t> Batch<'t> {
    /// Opens the tables of `wtx`, starting from the given counters.
    pub fn open(
        wtx: &'t WriteTransaction,
        rev: Revision,
        compacted: Revision,
        next_lease: u64,
    ) -> StoreResult<Self> {
        Ok(Batch {
            kv: wtx.open_table(KV).map_err(err("opening kv"))?,
            history: wtx.open_table(HISTORY).map_err(err("opening history"))?,
            meta: wtx.open_table(META).map_err(err("opening meta"))?,
            leases: wtx.open_table(LEASES).map_err(err("opening leases"))?,
            lease_keys: wtx
                .open_table(LEASE_KEYS)
                .map_err(err("opening lease_keys"))?,
            rev,
            compacted,
            next_lease,
            events: Vec::new(),
        })
    }

    fn current(&self, key: &str) -> StoreResult<Option<RecordMeta>> {
        match self.kv.get(key).map_err(err("reading a key"))? {
            None => Ok(None),
            Some(g) => decode_meta(g.value()).map(Some),
        }
    }

    /// Whether lease `n` exists.
    pub fn lease_exists(&self, n: u64) -> StoreResult<bool> {
        Ok(self.leases.get(n).map_err(err("reading leases"))?.is_some())
    }

    /// Records the events of a new revision in history and in the batch.
    fn record(&mut self, rev: Revision, events: Vec<WatchEvent>) -> StoreResult<()> {
        let mut row = Vec::new();
        for ev in &events {
            encode_event(&mut row, ev)?;
        }
        self.history
            .insert(rev, row.as_slice())
            .map_err(err("writing history"))?;
        self.rev = rev;
        self.events.extend(events);
        Ok(())
    }

    fn unbind(&mut self, lease: u64, key: &str) -> StoreResult<()> {
        if lease != 0 {
            self.lease_keys
                .remove((lease, key))
                .map_err(err("updating lease_keys"))?;
        }
        Ok(())
    }

    fn delete_event(key: &str, rev: Revision) -> WatchEvent {
        WatchEvent {
            kind: EventKind::Delete,
            kv: KeyValue {
                key: key.to_owned(),
                value: Vec::new(),
                create_revision: 0,
                mod_revision: rev,
                version: 0,
                lease: None,
            },
        }
    }

    /// Applies one transaction: all preconditions (and leases) first, then
    /// every write under one new revision.
    pub fn txn(&mut self, ops: Vec<TxnOp>) -> StoreResult<TxnResponse> {
        validate_ops(&ops)?;
        let mut before = Vec::with_capacity(ops.len());
        for op in &ops {
            if let TxnOp::Put { value, .. } = op
                && u32::try_from(value.len()).is_err()
            {
                return Err(StoreError::InvalidArgument(format!(
                    "value of key {:?} is {} bytes; the embedded store takes at most 4 GiB",
                    op.key(),
                    value.len()
                )));
            }
            let cur = self.current(op.key())?;
            if !precondition_holds(op.precondition(), cur.map(|m| m.mod_revision)) {
                return Err(conflict(op.key()));
            }
            before.push(cur);
        }
        let mut changes = false;
        let mut lease_nums = Vec::with_capacity(ops.len());
        for (op, cur) in ops.iter().zip(&before) {
            let mut n = 0;
            match op {
                TxnOp::Put { lease, .. } => {
                    if let Some(id) = lease {
                        n = lease_number(id)?;
                        if !self.lease_exists(n)? {
                            return Err(StoreError::LeaseNotFound(id.clone()));
                        }
                    }
                    changes = true;
                }
                TxnOp::Delete { .. } => changes |= cur.is_some(),
                TxnOp::Check { .. } => {}
            }
            lease_nums.push(n);
        }
        if !changes {
            let outcomes = ops
                .iter()
                .map(|op| match op {
                    TxnOp::Check { .. } => OpOutcome::Checked,
                    _ => OpOutcome::Absent,
                })
                .collect();
            return Ok(TxnResponse {
                revision: self.rev,
                outcomes,
            });
        }
        let rev = self.rev + 1;
        let mut outcomes = Vec::with_capacity(ops.len());
        let mut events = Vec::with_capacity(ops.len());
        for ((op, cur), lease) in ops.into_iter().zip(before).zip(lease_nums) {
            match op {
                TxnOp::Put {
                    key,
                    value,
                    lease: lease_ref,
                    ..
                } => {
                    let meta = match cur {
                        Some(old) => {
                            if old.lease != lease {
                                self.unbind(old.lease, &key)?;
                            }
                            RecordMeta {
                                create_revision: old.create_revision,
                                mod_revision: rev,
                                version: old.version + 1,
                                lease,
                            }
                        }
                        None => RecordMeta {
                            create_revision: rev,
                            mod_revision: rev,
                            version: 1,
                            lease,
                        },
                    };
                    if lease != 0 {
                        self.lease_keys
                            .insert((lease, key.as_str()), ())
                            .map_err(err("updating lease_keys"))?;
                    }
                    self.kv
                        .insert(key.as_str(), encode_record(&meta, &value).as_slice())
                        .map_err(err("writing a key"))?;
                    debug_assert_eq!(lease_id(lease), lease_ref);
                    events.push(WatchEvent {
                        kind: EventKind::Put,
                        kv: KeyValue {
                            key,
                            value,
                            create_revision: meta.create_revision,
                            mod_revision: rev,
                            version: meta.version,
                            lease: lease_ref,
                        },
                    });
                    outcomes.push(OpOutcome::Written);
                }
                TxnOp::Delete { key, .. } => match cur {
                    Some(old) => {
                        self.kv
                            .remove(key.as_str())
                            .map_err(err("deleting a key"))?;
                        self.unbind(old.lease, &key)?;
                        events.push(Self::delete_event(&key, rev));
                        outcomes.push(OpOutcome::Deleted);
                    }
                    None => outcomes.push(OpOutcome::Absent),
                },
                TxnOp::Check { .. } => outcomes.push(OpOutcome::Checked),
            }
        }
        self.record(rev, events)?;
        Ok(TxnResponse {
            revision: rev,
            outcomes,
        })
    }

    /// Grants a lease with a TTL in milliseconds; returns its number.
    pub fn grant(&mut self, ttl_ms: u64) -> StoreResult<u64> {
        let n = self.next_lease.max(1);
        self.leases
            .insert(n, ttl_ms)
            .map_err(err("writing leases"))?;
        self.next_lease = n + 1;
        Ok(n)
    }

    /// Removes lease `n` and deletes its keys in one revision. Returns
    /// `false` if it did not exist.
    pub fn revoke(&mut self, n: u64) -> StoreResult<bool> {
        if self
            .leases
            .remove(n)
            .map_err(err("writing leases"))?
            .is_none()
        {
            return Ok(false);
        }
        let mut keys = Vec::new();
        for item in self
            .lease_keys
            .range((n, "")..)
            .map_err(err("reading lease_keys"))?
        {
            let (k, _) = item.map_err(err("reading lease_keys"))?;
            let (lease, key) = k.value();
            if lease != n {
                break;
            }
            keys.push(key.to_owned());
        }
        if keys.is_empty() {
            return Ok(true);
        }
        let rev = self.rev + 1;
        let mut events = Vec::with_capacity(keys.len());
        for key in keys {
            self.lease_keys
                .remove((n, key.as_str()))
                .map_err(err("updating lease_keys"))?;
            if self
                .kv
                .remove(key.as_str())
                .map_err(err("deleting a key"))?
                .is_some()
            {
                events.push(Self::delete_event(&key, rev));
            }
        }
        if !events.is_empty() {
            self.record(rev, events)?;
        }
        Ok(true)
    }

    /// Drops history up to and including `rev`.
    pub fn compact(&mut self, rev: Revision) -> StoreResult<()> {
        if rev > self.rev {
            return Err(StoreError::InvalidArgument(format!(
                "cannot compact to revision {rev}: the current revision is {}",
                self.rev
            )));
        }
        if rev <= self.compacted {
            return Ok(());
        }
        self.history
            .retain_in(..=rev, |_, _| false)
            .map_err(err("compacting history"))?;
        self.compacted = rev;
        Ok(())
    }

    /// Keeps at most `keep` revisions of history.
    pub fn auto_compact(&mut self, keep: u64) -> StoreResult<()> {
        let keep = keep.max(1);
        if self.rev.saturating_sub(self.compacted) > keep {
            self.compact(self.rev - keep)?;
        }
        Ok(())
    }

    /// Writes the counters; the caller commits the transaction.
    pub fn finish(mut self) -> StoreResult<(Revision, Revision, u64, Vec<WatchEvent>)> {
        self.meta
            .insert(META_REVISION, self.rev)
            .map_err(err("writing meta"))?;
        self.meta
            .insert(META_COMPACTED, self.compacted)
            .map_err(err("writing meta"))?;
        self.meta
            .insert(META_NEXT_LEASE, self.next_lease)
            .map_err(err("writing meta"))?;
        Ok((self.rev, self.compacted, self.next_lease, self.events))
    }
}
