//! The data of a [`MemoryStore`](super::MemoryStore) and the pure logic that
//! changes it. Everything here runs under the store's mutex.

use crate::contract::first_wanted;
use crate::contract::{conflict, precondition_holds, validate_ops};
use contiv_core::store::{
    EventKind, KeyValue, LeaseId, ListResponse, OpOutcome, Revision, StoreError, StoreResult,
    TxnOp, TxnResponse, WatchEvent,
};
use std::collections::{BTreeMap, BTreeSet, HashMap, VecDeque};
use std::time::Duration;
use tokio::time::Instant;

/// One granted lease.
#[derive(Debug)]
pub(super) struct LeaseEntry {
    pub ttl: Duration,
    pub deadline: Instant,
    pub keys: BTreeSet<String>,
}

/// Everything a memory store holds.
#[derive(Debug, Default)]
pub(super) struct State {
    pub kvs: BTreeMap<String, KeyValue>,
    pub rev: Revision,
    /// Events with revision `> compacted`, in order.
    pub history: VecDeque<WatchEvent>,
    pub compacted: Revision,
    pub history_revisions: u64,
    pub leases: HashMap<u64, LeaseEntry>,
    pub next_lease: u64,
}

/// Parses a lease id of this backend (a decimal number).
pub(super) fn lease_number(id: &LeaseId) -> StoreResult<u64> {
    id.0.parse::<u64>()
        .map_err(|_| StoreError::LeaseNotFound(id.clone()))
}

impl State {
    pub fn new(history_revisions: u64) -> Self {
        State {
            history_revisions: history_revisions.max(1),
            next_lease: 1,
            ..State::default()
        }
    }

    pub fn get(&self, key: &str) -> Option<KeyValue> {
        self.kvs.get(key).cloned()
    }

    pub fn list(&self, prefix: &str) -> ListResponse {
        let kvs = self
            .kvs
            .range::<str, _>((
                std::ops::Bound::Included(prefix),
                std::ops::Bound::Unbounded,
            ))
            .take_while(|(k, _)| k.starts_with(prefix))
            .map(|(_, kv)| kv.clone())
            .collect();
        ListResponse {
            kvs,
            revision: self.rev,
        }
    }

    /// Applies a transaction; returns the response and the events to publish.
    pub fn apply_txn(&mut self, ops: Vec<TxnOp>) -> StoreResult<(TxnResponse, Vec<WatchEvent>)> {
        validate_ops(&ops)?;
        for op in &ops {
            let current = self.kvs.get(op.key()).map(|kv| kv.mod_revision);
            if !precondition_holds(op.precondition(), current) {
                return Err(conflict(op.key()));
            }
        }
        let mut changes = false;
        for op in &ops {
            match op {
                TxnOp::Put { lease, .. } => {
                    if let Some(lease) = lease
                        && !self.leases.contains_key(&lease_number(lease)?)
                    {
                        return Err(StoreError::LeaseNotFound(lease.clone()));
                    }
                    changes = true;
                }
                TxnOp::Delete { key, .. } => changes |= self.kvs.contains_key(key),
                TxnOp::Check { .. } => {}
            }
        }
        if !changes {
            let outcomes = ops
                .iter()
                .map(|op| match op {
                    TxnOp::Check { .. } => OpOutcome::Checked,
                    _ => OpOutcome::Absent,
                })
                .collect();
            return Ok((
                TxnResponse {
                    revision: self.rev,
                    outcomes,
                },
                Vec::new(),
            ));
        }
        let rev = self.rev + 1;
        let mut outcomes = Vec::with_capacity(ops.len());
        let mut events = Vec::with_capacity(ops.len());
        for op in ops {
            match op {
                TxnOp::Put {
                    key, value, lease, ..
                } => {
                    let lease_num = match &lease {
                        Some(l) => Some(lease_number(l)?),
                        None => None,
                    };
                    let (create_revision, version, old_lease) = match self.kvs.get(&key) {
                        Some(old) => (old.create_revision, old.version + 1, old.lease.clone()),
                        None => (rev, 1, None),
                    };
                    if let Some(old) = old_lease {
                        self.unbind(&old, &key);
                    }
                    if let Some(n) = lease_num
                        && let Some(entry) = self.leases.get_mut(&n)
                    {
                        entry.keys.insert(key.clone());
                    }
                    let kv = KeyValue {
                        key: key.clone(),
                        value,
                        create_revision,
                        mod_revision: rev,
                        version,
                        lease,
                    };
                    events.push(WatchEvent {
                        kind: EventKind::Put,
                        kv: kv.clone(),
                    });
                    self.kvs.insert(key, kv);
                    outcomes.push(OpOutcome::Written);
                }
                TxnOp::Delete { key, .. } => match self.delete_key(&key, rev) {
                    Some(ev) => {
                        events.push(ev);
                        outcomes.push(OpOutcome::Deleted);
                    }
                    None => outcomes.push(OpOutcome::Absent),
                },
                TxnOp::Check { .. } => outcomes.push(OpOutcome::Checked),
            }
        }
        self.commit_revision(rev, &events);
        Ok((
            TxnResponse {
                revision: rev,
                outcomes,
            },
            events,
        ))
    }

    fn unbind(&mut self, lease: &LeaseId, key: &str) {
        if let Ok(n) = lease_number(lease)
            && let Some(entry) = self.leases.get_mut(&n)
        {
            entry.keys.remove(key);
        }
    }

    /// Removes a key at `rev`; returns its delete event if it existed.
    fn delete_key(&mut self, key: &str, rev: Revision) -> Option<WatchEvent> {
        let old = self.kvs.remove(key)?;
        if let Some(lease) = &old.lease {
            self.unbind(lease, key);
        }
        Some(WatchEvent {
            kind: EventKind::Delete,
            kv: KeyValue {
                key: old.key,
                value: Vec::new(),
                create_revision: 0,
                mod_revision: rev,
                version: 0,
                lease: None,
            },
        })
    }

    /// Records a new revision and its events, trimming history to the
    /// configured number of revisions.
    fn commit_revision(&mut self, rev: Revision, events: &[WatchEvent]) {
        self.rev = rev;
        self.history.extend(events.iter().cloned());
        if rev.saturating_sub(self.compacted) > self.history_revisions {
            self.compact_to(rev - self.history_revisions);
        }
    }

    /// Drops history up to and including `rev` (which must be `<= self.rev`).
    pub fn compact_to(&mut self, rev: Revision) {
        if rev <= self.compacted {
            return;
        }
        while self.history.front().is_some_and(|ev| ev.revision() <= rev) {
            self.history.pop_front();
        }
        self.compacted = rev;
    }

    /// Explicit compaction as the `compact` operation defines it.
    pub fn compact(&mut self, rev: Revision) -> StoreResult<()> {
        if rev > self.rev {
            return Err(StoreError::InvalidArgument(format!(
                "cannot compact to revision {rev}: the current revision is {}",
                self.rev
            )));
        }
        self.compact_to(rev);
        Ok(())
    }

    /// History events of `prefix` with revision `>= from`, or `Compacted`.
    pub fn catch_up(&self, prefix: &str, from: Revision) -> StoreResult<Vec<WatchEvent>> {
        let from = first_wanted(from);
        if from <= self.compacted {
            return Err(StoreError::Compacted {
                requested: from,
                compacted: self.compacted,
            });
        }
        Ok(self
            .history
            .iter()
            .filter(|ev| ev.revision() >= from && ev.kv.key.starts_with(prefix))
            .cloned()
            .collect())
    }

    pub fn grant(&mut self, ttl: Duration, now: Instant) -> u64 {
        let id = self.next_lease;
        self.next_lease += 1;
        self.leases.insert(
            id,
            LeaseEntry {
                ttl,
                deadline: now + ttl,
                keys: BTreeSet::new(),
            },
        );
        id
    }

    pub fn keep_alive(&mut self, id: &LeaseId, now: Instant) -> StoreResult<Duration> {
        let entry = self
            .leases
            .get_mut(&lease_number(id)?)
            .ok_or_else(|| StoreError::LeaseNotFound(id.clone()))?;
        entry.deadline = now + entry.ttl;
        Ok(entry.ttl)
    }

    /// Removes a lease and deletes its keys in one revision; returns the
    /// delete events (empty if it had no keys).
    pub fn revoke(&mut self, id: &LeaseId) -> StoreResult<Vec<WatchEvent>> {
        let num = lease_number(id)?;
        let entry = self
            .leases
            .remove(&num)
            .ok_or_else(|| StoreError::LeaseNotFound(id.clone()))?;
        Ok(self.delete_lease_keys(entry.keys))
    }

    fn delete_lease_keys(&mut self, keys: BTreeSet<String>) -> Vec<WatchEvent> {
        if keys.is_empty() {
            return Vec::new();
        }
        let rev = self.rev + 1;
        let events: Vec<WatchEvent> = keys
            .iter()
            .filter_map(|key| self.delete_key(key, rev))
            .collect();
        if !events.is_empty() {
            self.commit_revision(rev, &events);
        }
        events
    }

    /// Expires every lease whose deadline passed: each expired lease's keys
    /// are deleted in a revision of their own. Returns the events.
    pub fn expire_due(&mut self, now: Instant) -> Vec<WatchEvent> {
        let mut due: Vec<u64> = self
            .leases
            .iter()
            .filter(|(_, l)| l.deadline <= now)
            .map(|(id, _)| *id)
            .collect();
        due.sort_unstable();
        let mut events = Vec::new();
        for id in due {
            if let Some(entry) = self.leases.remove(&id) {
                events.extend(self.delete_lease_keys(entry.keys));
            }
        }
        events
    }

    /// The earliest lease deadline, if any lease exists.
    pub fn next_deadline(&self) -> Option<Instant> {
        self.leases.values().map(|l| l.deadline).min()
    }
}
