//! The state of the Consul test server: one global Raft-like index, the KV
//! table with tombstones, sessions with TTL timers, lock delays — and the
//! KV semantics of Consul's state store (set, CAS, acquire/release, the
//! transaction verbs with Consul's error messages).

use crate::consul::api::{KvPair, SessionBehavior, SessionEntry};
use std::collections::{BTreeMap, HashMap};
use std::time::{Duration, Instant};

/// One stored key.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Entry {
    /// Index of its creation.
    pub create_index: u64,
    /// Index of its last write.
    pub modify_index: u64,
    /// Times a session acquired it.
    pub lock_index: u64,
    /// Opaque flags.
    pub flags: u64,
    /// The value.
    pub value: Vec<u8>,
    /// The session holding its lock.
    pub session: Option<String>,
}

impl Entry {
    /// The wire form, with or without the value.
    pub fn pair(&self, key: &str, with_value: bool) -> KvPair {
        KvPair {
            create_index: self.create_index,
            modify_index: self.modify_index,
            lock_index: self.lock_index,
            key: key.to_owned(),
            flags: self.flags,
            value: with_value.then(|| self.value.clone()),
            session: self.session.clone(),
        }
    }
}

/// One session.
#[derive(Clone, Debug)]
pub struct Session {
    /// What the API shows.
    pub entry: SessionEntry,
    /// Its TTL, if any.
    pub ttl: Option<Duration>,
    /// When it is invalidated unless renewed (Consul waits twice the TTL).
    pub deadline: Option<Instant>,
    /// Lock delay applied to keys it held when it is invalidated.
    pub lock_delay: Duration,
}

/// Everything the server stores.
#[derive(Debug, Default)]
pub struct State {
    /// The global index: every write (KV or session) takes the next one.
    pub index: u64,
    /// The KV table.
    pub kv: BTreeMap<String, Entry>,
    /// Index at which each deleted key was deleted.
    pub tombstones: BTreeMap<String, u64>,
    /// Index of the last KV change (writes and deletes).
    pub kvs_index: u64,
    /// Sessions by id.
    pub sessions: BTreeMap<String, Session>,
    /// Index of the last session change.
    pub sessions_index: u64,
    /// Keys that cannot be acquired until the instant (lock delay).
    pub lock_delays: HashMap<String, Instant>,
}

/// A KV operation to apply (the verbs of `/v1/txn` and the KV endpoint).
#[derive(Clone, Debug)]
pub struct KvRequest {
    /// The verb, as Consul spells it.
    pub verb: String,
    /// Key or prefix.
    pub key: String,
    /// Value for writes.
    pub value: Option<Vec<u8>>,
    /// Flags for writes.
    pub flags: u64,
    /// Index for CAS verbs.
    pub index: u64,
    /// Session for lock verbs.
    pub session: String,
}

/// The change a write makes to one key.
enum Change {
    Put(Entry),
    Delete,
}

/// A transaction in progress: changes over a view of the state.
pub struct Txn<'a> {
    state: &'a State,
    idx: u64,
    overlay: BTreeMap<String, Change>,
    now: Instant,
}

impl<'a> Txn<'a> {
    /// A transaction whose writes take index `idx`.
    pub fn new(state: &'a State, idx: u64) -> Self {
        Txn {
            state,
            idx,
            overlay: BTreeMap::new(),
            now: Instant::now(),
        }
    }

    fn get(&self, key: &str) -> Option<Entry> {
        match self.overlay.get(key) {
            Some(Change::Put(e)) => Some(e.clone()),
            Some(Change::Delete) => None,
            None => self.state.kv.get(key).cloned(),
        }
    }

    fn tree(&self, prefix: &str) -> Vec<(String, Entry)> {
        let mut out: BTreeMap<String, Entry> = self
            .state
            .kv
            .range(prefix.to_owned()..)
            .take_while(|(k, _)| k.starts_with(prefix))
            .map(|(k, e)| (k.clone(), e.clone()))
            .collect();
        for (k, change) in self
            .overlay
            .range(prefix.to_owned()..)
            .take_while(|(k, _)| k.starts_with(prefix))
        {
            match change {
                Change::Put(e) => {
                    out.insert(k.clone(), e.clone());
                }
                Change::Delete => {
                    out.remove(k);
                }
            }
        }
        out.into_iter().collect()
    }

    fn write(&mut self, key: &str, value: Vec<u8>, flags: u64, session: Option<Option<String>>) {
        let existing = self.get(key);
        let (create_index, lock_index, old_session) =
            existing.as_ref().map_or((self.idx, 0, None), |e| {
                (e.create_index, e.lock_index, e.session.clone())
            });
        let (session, lock_index) = match session {
            // A plain write keeps the lock.
            None => (old_session, lock_index),
            Some(Some(s)) => {
                let bump = old_session.as_deref() != Some(s.as_str());
                (Some(s), lock_index + u64::from(bump))
            }
            Some(None) => (None, lock_index),
        };
        self.overlay.insert(
            key.to_owned(),
            Change::Put(Entry {
                create_index,
                modify_index: self.idx,
                lock_index,
                flags,
                value,
                session,
            }),
        );
    }

    fn session_valid(&self, session: &str) -> Result<(), String> {
        if session.is_empty() {
            return Err("missing session".to_owned());
        }
        if !self.state.sessions.contains_key(session) {
            return Err(format!("invalid session {session:?}"));
        }
        Ok(())
    }

    /// Applies one operation; `Ok` carries its results (entries).
    pub fn apply(&mut self, op: &KvRequest) -> Result<Vec<KvPair>, String> {
        let key = op.key.as_str();
        let value = || op.value.clone().unwrap_or_default();
        let bare = |e: &Entry| vec![e.pair(key, false)];
        match op.verb.as_str() {
            "set" => {
                self.write(key, value(), op.flags, None);
                Ok(self.get(key).map(|e| bare(&e)).unwrap_or_default())
            }
            "cas" => {
                let ok = match (op.index, self.get(key)) {
                    (0, existing) => existing.is_none(),
                    (i, Some(e)) => e.modify_index == i,
                    (_, None) => false,
                };
                if !ok {
                    return Err(format!("failed to set key {key:?}, index is stale"));
                }
                self.write(key, value(), op.flags, None);
                Ok(self.get(key).map(|e| bare(&e)).unwrap_or_default())
            }
            "lock" => {
                self.session_valid(&op.session)?;
                let existing = self.get(key);
                let held_by_other = existing
                    .as_ref()
                    .and_then(|e| e.session.as_deref())
                    .is_some_and(|s| s != op.session);
                let delayed = self
                    .state
                    .lock_delays
                    .get(key)
                    .is_some_and(|until| *until > self.now);
                if held_by_other || delayed {
                    return Err(format!("failed to lock key {key:?}, lock is already held"));
                }
                self.write(key, value(), op.flags, Some(Some(op.session.clone())));
                Ok(self.get(key).map(|e| bare(&e)).unwrap_or_default())
            }
            "unlock" => {
                let held = self
                    .get(key)
                    .and_then(|e| e.session)
                    .is_some_and(|s| s == op.session);
                if !held {
                    return Err(format!(
                        "failed to unlock key {key:?}, lock isn't held, or is held by another session"
                    ));
                }
                self.write(key, value(), op.flags, Some(None));
                Ok(self.get(key).map(|e| bare(&e)).unwrap_or_default())
            }
            "get" => match self.get(key) {
                Some(e) => Ok(vec![e.pair(key, true)]),
                None => Err(format!("key {key:?} doesn't exist")),
            },
            "get-or-empty" => Ok(vec![match self.get(key) {
                Some(e) => e.pair(key, true),
                None => KvPair {
                    key: key.to_owned(),
                    flags: op.flags,
                    session: (!op.session.is_empty()).then(|| op.session.clone()),
                    ..KvPair::default()
                },
            }]),
            "get-tree" => Ok(self
                .tree(key)
                .into_iter()
                .map(|(k, e)| e.pair(&k, true))
                .collect()),
            "check-index" => match self.get(key) {
                None => Err(format!("key {key:?} doesn't exist")),
                Some(e) if e.modify_index != op.index => Err(format!(
                    "current modify index {} != {}",
                    e.modify_index, op.index
                )),
                Some(e) => Ok(bare(&e)),
            },
            "check-session" => match self.get(key) {
                None => Err(format!("key {key:?} doesn't exist")),
                Some(e) if e.session.as_deref().unwrap_or("") != op.session => Err(format!(
                    "failed session check for key {key:?}, current session {:?} != {:?}",
                    e.session.as_deref().unwrap_or(""),
                    op.session
                )),
                Some(e) => Ok(bare(&e)),
            },
            "check-not-exists" => match self.get(key) {
                Some(_) => Err(format!("key {key:?} exists")),
                None => Ok(Vec::new()),
            },
            "delete" => {
                if self.get(key).is_some() {
                    self.overlay.insert(key.to_owned(), Change::Delete);
                }
                Ok(Vec::new())
            }
            "delete-cas" => {
                let ok = match self.get(key) {
                    None => op.index == 0,
                    Some(e) => e.modify_index == op.index,
                };
                if !ok {
                    return Err(format!("failed to delete key {key:?}, index is stale"));
                }
                if self.get(key).is_some() {
                    self.overlay.insert(key.to_owned(), Change::Delete);
                }
                Ok(Vec::new())
            }
            "delete-tree" => {
                for (k, _) in self.tree(key) {
                    self.overlay.insert(k, Change::Delete);
                }
                Ok(Vec::new())
            }
            other => Err(format!("unknown KV verb {other:?}")),
        }
    }

    /// Whether the transaction changed anything.
    pub fn has_changes(&self) -> bool {
        !self.overlay.is_empty()
    }

    fn into_changes(self) -> BTreeMap<String, Change> {
        self.overlay
    }
}

/// Whether a verb writes.
pub fn is_write(verb: &str) -> bool {
    matches!(
        verb,
        "set" | "cas" | "lock" | "unlock" | "delete" | "delete-tree" | "delete-cas"
    )
}

impl State {
    /// Applies `ops` atomically; on success returns the results (and the
    /// index of the write, if it wrote), else every op's error.
    pub fn txn(&mut self, ops: &[KvRequest]) -> Result<Vec<KvPair>, Vec<(usize, String)>> {
        let writes = ops.iter().any(|op| is_write(&op.verb));
        let idx = self.index + 1;
        let mut txn = Txn::new(self, idx);
        let mut results = Vec::new();
        let mut errors = Vec::new();
        for (i, op) in ops.iter().enumerate() {
            match txn.apply(op) {
                Ok(r) => results.extend(r),
                Err(e) => errors.push((i, e)),
            }
        }
        if !errors.is_empty() {
            return Err(errors);
        }
        let changed = txn.has_changes();
        let changes = txn.into_changes();
        if writes {
            // A write goes through Raft and takes an index even if it
            // changed nothing.
            self.index = idx;
            if changed {
                self.kvs_index = idx;
            }
            for (key, change) in changes {
                match change {
                    Change::Put(e) => {
                        self.tombstones.remove(&key);
                        self.kv.insert(key, e);
                    }
                    Change::Delete => {
                        self.kv.remove(&key);
                        self.tombstones.insert(key, idx);
                    }
                }
            }
        }
        Ok(results)
    }

    /// The index a query of one key reports (the KV table's).
    pub fn kv_table_index(&self) -> u64 {
        self.kvs_index.max(1)
    }

    /// The index of the data a key or prefix query watches: the latest
    /// write or delete under it (so a blocking query wakes only for it).
    pub fn watched_index(&self, key: &str, prefix: bool) -> u64 {
        if !prefix {
            let live = self.kv.get(key).map_or(0, |e| e.modify_index);
            let dead = self.tombstones.get(key).copied().unwrap_or(0);
            return live.max(dead);
        }
        let live = self
            .kv
            .range(key.to_owned()..)
            .take_while(|(k, _)| k.starts_with(key))
            .map(|(_, e)| e.modify_index)
            .max()
            .unwrap_or(0);
        let dead = self
            .tombstones
            .range(key.to_owned()..)
            .take_while(|(k, _)| k.starts_with(key))
            .map(|(_, i)| *i)
            .max()
            .unwrap_or(0);
        live.max(dead)
    }

    /// The index a prefix listing reports (Consul: the latest change under
    /// the prefix, or the table index if there is none).
    pub fn prefix_index(&self, prefix: &str) -> u64 {
        match self.watched_index(prefix, true) {
            0 => self.kv_table_index(),
            i => i,
        }
    }

    /// Creates a session (already validated); returns its id.
    pub fn create_session(&mut self, mut session: Session) -> String {
        self.index += 1;
        self.sessions_index = self.index;
        session.entry.create_index = self.index;
        session.entry.modify_index = self.index;
        let id = session.entry.id.clone();
        self.sessions.insert(id.clone(), session);
        id
    }

    /// Renews a session's TTL timer; `None` if it does not exist.
    pub fn renew_session(&mut self, id: &str, now: Instant) -> Option<SessionEntry> {
        let s = self.sessions.get_mut(id)?;
        // Consul invalidates a session twice its TTL after the last renewal.
        s.deadline = s.ttl.map(|ttl| now + ttl * 2);
        Some(s.entry.clone())
    }

    /// Invalidates a session: releases or deletes the keys it holds and
    /// starts their lock delay. `false` if it did not exist.
    pub fn destroy_session(&mut self, id: &str, now: Instant) -> bool {
        let Some(session) = self.sessions.remove(id) else {
            return false;
        };
        self.index += 1;
        let idx = self.index;
        self.sessions_index = idx;
        let held: Vec<String> = self
            .kv
            .iter()
            .filter(|(_, e)| e.session.as_deref() == Some(id))
            .map(|(k, _)| k.clone())
            .collect();
        for key in held {
            if !session.lock_delay.is_zero() {
                self.lock_delays
                    .insert(key.clone(), now + session.lock_delay);
            }
            match session.entry.behavior {
                SessionBehavior::Delete => {
                    self.kv.remove(&key);
                    self.tombstones.insert(key, idx);
                }
                SessionBehavior::Release => {
                    if let Some(e) = self.kv.get_mut(&key) {
                        e.session = None;
                        e.modify_index = idx;
                    }
                }
            }
            self.kvs_index = idx;
        }
        true
    }

    /// Invalidates every session whose TTL ran out; whether any did.
    pub fn expire_sessions(&mut self, now: Instant) -> bool {
        let expired: Vec<String> = self
            .sessions
            .iter()
            .filter(|(_, s)| s.deadline.is_some_and(|d| d <= now))
            .map(|(id, _)| id.clone())
            .collect();
        for id in &expired {
            self.destroy_session(id, now);
        }
        !expired.is_empty()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn op(verb: &str, key: &str, value: &str, index: u64) -> KvRequest {
        KvRequest {
            verb: verb.into(),
            key: key.into(),
            value: Some(value.as_bytes().to_vec()),
            flags: 0,
            index,
            session: String::new(),
        }
    }

    #[test]
    fn txn_is_atomic_and_reports_every_failure() {
        let mut s = State::default();
        s.txn(&[op("set", "a", "1", 0)]).unwrap();
        assert_eq!((s.index, s.kv["a"].modify_index), (1, 1));
        let err = s
            .txn(&[
                op("set", "b", "2", 0),
                op("cas", "a", "x", 7),
                op("check-not-exists", "a", "", 0),
            ])
            .unwrap_err();
        assert_eq!(
            err,
            vec![
                (1, "failed to set key \"a\", index is stale".into()),
                (2, "key \"a\" exists".into())
            ]
        );
        assert!(!s.kv.contains_key("b"));
        assert_eq!(s.index, 1, "a rolled-back txn takes no index");
        // Ops see the effects of earlier ops in the same txn.
        let r = s
            .txn(&[op("set", "b", "2", 0), op("get", "b", "", 0)])
            .unwrap();
        assert_eq!(r[1].value.as_deref(), Some(&b"2"[..]));
        s.txn(&[op("delete", "a", "", 0)]).unwrap();
        assert_eq!(s.watched_index("a", false), 3);
        assert_eq!(s.prefix_index("zzz"), 3);
    }
}
