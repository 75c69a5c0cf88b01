//! The writer thread of the embedded store.
//!
//! Every change goes through one dedicated OS thread fed by a channel, so
//! the async runtime never waits on disk. The thread group-commits: it takes
//! every queued request (up to `max_batch`), applies them in order in one
//! redb write transaction (each successful txn with its own revision, each
//! seeing the earlier ones), commits once (one fsync), publishes the batch's
//! events to watchers, and only then answers the callers. It also expires
//! leases at their deadlines.

use super::batch::{Batch, lease_number};
use super::tables::{LEASES, META, META_COMPACTED, META_NEXT_LEASE, META_REVISION, err};
use crate::hub::WatchHub;
use contiv_core::store::{Lease, LeaseId, Revision, StoreError, StoreResult, TxnOp, TxnResponse};
use redb::{Database, ReadableDatabase, ReadableTable};
use std::collections::HashMap;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::mpsc::{Receiver, RecvTimeoutError};
use std::time::{Duration, Instant};
use tokio::sync::oneshot;

/// Where a request's answer goes.
pub type Reply<T> = oneshot::Sender<StoreResult<T>>;

/// A request to the writer.
pub enum Request {
    /// Apply a transaction.
    Txn(Vec<TxnOp>, Reply<TxnResponse>),
    /// Grant a lease.
    Grant(Duration, Reply<Lease>),
    /// Refresh a lease.
    KeepAlive(LeaseId, Reply<Duration>),
    /// Revoke a lease.
    Revoke(LeaseId, Reply<()>),
    /// Compact history.
    Compact(Revision, Reply<()>),
}

/// An answer held until the batch commits.
enum Pending {
    Txn(Reply<TxnResponse>, StoreResult<TxnResponse>),
    Grant(Reply<Lease>, StoreResult<Lease>),
    KeepAlive(Reply<Duration>, StoreResult<Duration>),
    Revoke(Reply<()>, StoreResult<()>),
    Compact(Reply<()>, StoreResult<()>),
}

impl Pending {
    /// Replaces the result with `e` (the batch did not commit).
    fn fail(self, e: &StoreError) -> Self {
        match self {
            Pending::Txn(r, _) => Pending::Txn(r, Err(e.clone())),
            Pending::Grant(r, _) => Pending::Grant(r, Err(e.clone())),
            Pending::KeepAlive(r, _) => Pending::KeepAlive(r, Err(e.clone())),
            Pending::Revoke(r, _) => Pending::Revoke(r, Err(e.clone())),
            Pending::Compact(r, _) => Pending::Compact(r, Err(e.clone())),
        }
    }

    fn backend_error(&self) -> Option<&StoreError> {
        let e = match self {
            Pending::Txn(_, Err(e)) => e,
            Pending::Grant(_, Err(e)) => e,
            Pending::KeepAlive(_, Err(e)) => e,
            Pending::Revoke(_, Err(e)) => e,
            Pending::Compact(_, Err(e)) => e,
            _ => return None,
        };
        matches!(e, StoreError::Backend(_) | StoreError::Unavailable(_)).then_some(e)
    }

    /// Sends the answer; a caller that went away is not an error.
    fn answer(self) {
        match self {
            Pending::Txn(r, v) => drop(r.send(v)),
            Pending::Grant(r, v) => drop(r.send(v)),
            Pending::KeepAlive(r, v) => drop(r.send(v)),
            Pending::Revoke(r, v) => drop(r.send(v)),
            Pending::Compact(r, v) => drop(r.send(v)),
        }
    }
}

/// A lease's in-memory clock (deadlines are not persisted: after a restart
/// every lease gets its full TTL again, as with etcd).
#[derive(Clone, Copy, Debug)]
struct LeaseClock {
    ttl: Duration,
    deadline: Instant,
}

/// The counters and lease clocks the writer keeps in memory.
#[derive(Debug)]
pub struct WriterState {
    rev: Revision,
    compacted: Revision,
    next_lease: u64,
    clocks: HashMap<u64, LeaseClock>,
}

impl WriterState {
    /// Loads counters and leases from the file.
    pub fn load(db: &Database) -> StoreResult<Self> {
        let tx = db.begin_read().map_err(err("starting a read"))?;
        let meta = tx.open_table(META).map_err(err("opening meta"))?;
        let get = |name: &str| -> StoreResult<u64> {
            Ok(meta
                .get(name)
                .map_err(err("reading meta"))?
                .map_or(0, |g| g.value()))
        };
        let (rev, compacted, next_lease) = (
            get(META_REVISION)?,
            get(META_COMPACTED)?,
            get(META_NEXT_LEASE)?,
        );
        let leases = tx.open_table(LEASES).map_err(err("opening leases"))?;
        let now = Instant::now();
        let mut clocks = HashMap::new();
        for item in leases.iter().map_err(err("reading leases"))? {
            let (id, ttl_ms) = item.map_err(err("reading leases"))?;
            let ttl = Duration::from_millis(ttl_ms.value());
            clocks.insert(
                id.value(),
                LeaseClock {
                    ttl,
                    deadline: now + ttl,
                },
            );
        }
        Ok(WriterState {
            rev,
            compacted,
            next_lease: next_lease.max(1),
            clocks,
        })
    }

    /// The store revision.
    pub fn revision(&self) -> Revision {
        self.rev
    }
}

/// Counters of the writer, readable from any thread.
#[derive(Debug, Default)]
pub struct Counters {
    /// Committed write transactions (batches).
    pub commits: AtomicU64,
    /// Requests answered from committed batches.
    pub requests: AtomicU64,
}

/// The writer thread's state.
pub struct Writer {
    /// Commit counters.
    pub counters: Arc<Counters>,
    /// The file.
    pub db: Arc<Database>,
    /// Where committed events go.
    pub hub: Arc<WatchHub>,
    /// Incoming requests.
    pub rx: Receiver<Request>,
    /// Counters and lease clocks.
    pub state: WriterState,
    /// Most requests per commit.
    pub max_batch: usize,
    /// History kept, in revisions.
    pub history_revisions: u64,
}

impl Writer {
    /// Runs until every sender is gone, then tells watchers the store closed.
    pub fn run(mut self) {
        loop {
            let first = match self.next_deadline() {
                Some(deadline) => {
                    let wait = deadline.saturating_duration_since(Instant::now());
                    match self.rx.recv_timeout(wait) {
                        Ok(r) => Some(r),
                        Err(RecvTimeoutError::Timeout) => None,
                        Err(RecvTimeoutError::Disconnected) => break,
                    }
                }
                None => match self.rx.recv() {
                    Ok(r) => Some(r),
                    Err(_) => break,
                },
            };
            let mut batch = Vec::new();
            if let Some(r) = first {
                batch.push(r);
                while batch.len() < self.max_batch {
                    match self.rx.try_recv() {
                        Ok(r) => batch.push(r),
                        Err(_) => break,
                    }
                }
            }
            self.process(batch);
        }
        self.hub.close();
    }

    fn next_deadline(&self) -> Option<Instant> {
        self.state.clocks.values().map(|c| c.deadline).min()
    }

    fn due_leases(&self, now: Instant) -> Vec<u64> {
        let mut due: Vec<u64> = self
            .state
            .clocks
            .iter()
            .filter(|(_, c)| c.deadline <= now)
            .map(|(id, _)| *id)
            .collect();
        due.sort_unstable();
        due
    }

    fn keep_alive(&mut self, id: &LeaseId, now: Instant) -> StoreResult<Duration> {
        let n = lease_number(id)?;
        let clock = self
            .state
            .clocks
            .get_mut(&n)
            .ok_or_else(|| StoreError::LeaseNotFound(id.clone()))?;
        clock.deadline = now + clock.ttl;
        Ok(clock.ttl)
    }

    /// Applies a batch of requests (and due lease expiries) in one commit.
    fn process(&mut self, requests: Vec<Request>) {
        let now = Instant::now();
        let due = self.due_leases(now);
        if due.is_empty() && requests.iter().all(|r| matches!(r, Request::KeepAlive(..))) {
            for r in requests {
                if let Request::KeepAlive(id, reply) = r {
                    let result = self.keep_alive(&id, now);
                    Pending::KeepAlive(reply, result).answer();
                }
            }
            return;
        }
        match self.apply(requests, &due, now) {
            Ok((pending, events)) => {
                self.counters.commits.fetch_add(1, Ordering::Relaxed);
                self.counters
                    .requests
                    .fetch_add(pending.len() as u64, Ordering::Relaxed);
                self.hub.publish(events);
                for p in pending {
                    p.answer();
                }
            }
            Err((pending, e)) => {
                tracing::error!(error = %e, "embedded store: batch not committed");
                // Our in-memory counters and clocks may be ahead of the file.
                match WriterState::load(&self.db) {
                    Ok(state) => self.state = state,
                    Err(reload) => {
                        tracing::error!(error = %reload, "embedded store: cannot reload state");
                    }
                }
                for p in pending {
                    p.fail(&e).answer();
                }
            }
        }
    }

    #[allow(clippy::type_complexity)]
    fn apply(
        &mut self,
        requests: Vec<Request>,
        due: &[u64],
        now: Instant,
    ) -> Result<(Vec<Pending>, Vec<contiv_core::store::WatchEvent>), (Vec<Pending>, StoreError)>
    {
        let mut pending = Vec::with_capacity(requests.len());
        let wtx = match self.db.begin_write().map_err(err("starting a write")) {
            Ok(w) => w,
            Err(e) => {
                return Err((requests.into_iter().map(unanswered).collect(), e));
            }
        };
        let mut batch = match Batch::open(
            &wtx,
            self.state.rev,
            self.state.compacted,
            self.state.next_lease,
        ) {
            Ok(b) => b,
            Err(e) => return Err((requests.into_iter().map(unanswered).collect(), e)),
        };
        let mut fatal: Option<StoreError> = None;
        for &n in due {
            self.state.clocks.remove(&n);
            if let Err(e) = batch.revoke(n) {
                fatal = Some(e);
            }
        }
        let mut requests = requests.into_iter();
        for req in requests.by_ref() {
            if fatal.is_some() {
                pending.push(unanswered(req));
                continue;
            }
            let p = match req {
                Request::Txn(ops, reply) => Pending::Txn(reply, batch.txn(ops)),
                Request::Grant(ttl, reply) => {
                    let ttl_ms = u64::try_from(ttl.as_millis()).unwrap_or(u64::MAX).max(1);
                    let result = batch.grant(ttl_ms).map(|n| {
                        let ttl = Duration::from_millis(ttl_ms);
                        self.state.clocks.insert(
                            n,
                            LeaseClock {
                                ttl,
                                deadline: now + ttl,
                            },
                        );
                        Lease {
                            id: LeaseId(n.to_string()),
                            ttl,
                        }
                    });
                    Pending::Grant(reply, result)
                }
                Request::KeepAlive(id, reply) => {
                    let result = self.keep_alive(&id, now);
                    Pending::KeepAlive(reply, result)
                }
                Request::Revoke(id, reply) => {
                    let result = lease_number(&id).and_then(|n| match batch.revoke(n) {
                        Ok(true) => {
                            self.state.clocks.remove(&n);
                            Ok(())
                        }
                        Ok(false) => Err(StoreError::LeaseNotFound(id.clone())),
                        Err(e) => Err(e),
                    });
                    Pending::Revoke(reply, result)
                }
                Request::Compact(rev, reply) => Pending::Compact(reply, batch.compact(rev)),
            };
            if let Some(e) = p.backend_error() {
                fatal = Some(e.clone());
            }
            pending.push(p);
        }
        if fatal.is_none()
            && let Err(e) = batch.auto_compact(self.history_revisions)
        {
            fatal = Some(e);
        }
        if let Some(e) = fatal {
            drop(batch);
            let _ = wtx.abort();
            return Err((pending, e));
        }
        let (rev, compacted, next_lease, events) = match batch.finish() {
            Ok(done) => done,
            Err(e) => return Err((pending, e)),
        };
        if let Err(e) = wtx.commit().map_err(err("committing")) {
            return Err((pending, e));
        }
        self.state.rev = rev;
        self.state.compacted = compacted;
        self.state.next_lease = next_lease;
        Ok((pending, events))
    }
}

/// A request that was not applied (its answer will be the batch's error).
fn unanswered(req: Request) -> Pending {
    match req {
        Request::Txn(_, r) => Pending::Txn(r, Err(StoreError::Closed)),
        Request::Grant(_, r) => Pending::Grant(r, Err(StoreError::Closed)),
        Request::KeepAlive(_, r) => Pending::KeepAlive(r, Err(StoreError::Closed)),
        Request::Revoke(_, r) => Pending::Revoke(r, Err(StoreError::Closed)),
        Request::Compact(_, r) => Pending::Compact(r, Err(StoreError::Closed)),
    }
}
