//! Single-pool updates, combined: while one commit of a pool is in flight,
//! the updates that queue up behind it are applied together and written
//! with the next single conditional put.
//!
//! Every [`Pool::update`] pushes its closure onto the pool's queue and then
//! waits for either its result or the pool's lock. Whoever gets the lock
//! drains the queue and starts a *leader* task that holds the lock, applies
//! every queued closure in order to the cached state (each gets its own
//! result; a failing closure leaves the state unchanged), and commits the
//! state once with the cached revision as precondition. On a lost race it
//! re-reads and re-applies all of them; results are handed out only after
//! the commit succeeded. With N concurrent updates of one pool this costs
//! about one store transaction per batch instead of N — the difference
//! between one fsync per allocation and one per batch on the embedded
//! store.
//!
//! A leader with other callers' updates in its batch runs as its own task,
//! so a caller that gives up (drops its future) cannot abandon the others
//! half-way; a caller alone in its batch commits inline (no task hop). A caller that gives up
//! before its closure was taken from the queue is skipped; one that gives up
//! later has its change committed anyway (like any request cancelled after
//! it was sent).
//!
//! Errors are confirmed before they are reported: if any closure failed
//! against a cached state that was not read in this round, the leader
//! checks the key's revision first and re-runs on fresh state if another
//! writer changed it — so "exhausted" or "already taken" is never the
//! result of a stale cache.

use super::{Pool, Slot};
use crate::error::{IpamError, IpamResult};
use crate::state::AllocState;
use contiv_core::store::{Precondition, StoreError, TxnOp};
use std::marker::PhantomData;
use std::sync::PoisonError;
use std::sync::atomic::{AtomicU64, Ordering};
use tokio::sync::{OwnedMutexGuard, oneshot};

/// Most updates applied in one commit.
const MAX_BATCH: usize = 1024;

static NEXT_ID: AtomicU64 = AtomicU64::new(1);

/// One queued update of a pool's state.
pub(crate) trait Pending<S>: Send {
    /// A process-unique id of the request.
    fn id(&self) -> u64;
    /// The caller stopped waiting.
    fn cancelled(&self) -> bool;
    /// Runs the update on `state`, keeping its result; true if it succeeded.
    fn apply(&mut self, state: &mut S) -> bool;
    /// Hands the kept result to the caller, or `err` if the commit failed.
    fn finish(self: Box<Self>, err: Option<IpamError>);
}

struct Req<S, T, F> {
    id: u64,
    f: F,
    result: Option<IpamResult<T>>,
    tx: oneshot::Sender<IpamResult<T>>,
    _state: PhantomData<fn(&mut S)>,
}

impl<S, T, F> Pending<S> for Req<S, T, F>
where
    S: AllocState,
    T: Send + 'static,
    F: FnMut(&mut S) -> IpamResult<T> + Send + 'static,
{
    fn id(&self) -> u64 {
        self.id
    }

    fn cancelled(&self) -> bool {
        self.tx.is_closed()
    }

    fn apply(&mut self, state: &mut S) -> bool {
        let r = (self.f)(state);
        let ok = r.is_ok();
        self.result = Some(r);
        ok
    }

    fn finish(self: Box<Self>, err: Option<IpamError>) {
        let out = match (err, self.result) {
            (Some(e), _) => Err(e),
            (None, Some(r)) => r,
            (None, None) => Err(interrupted()),
        };
        // The caller may have stopped waiting; nothing to do then.
        let _ = self.tx.send(out);
    }
}

/// Holds a pool's lock; discards its cached state when dropped before
/// `done` is set.
struct ClearUnlessDone<S> {
    guard: OwnedMutexGuard<Slot<S>>,
    done: bool,
}

impl<S> Drop for ClearUnlessDone<S> {
    fn drop(&mut self) {
        if !self.done {
            self.guard.cached = None;
        }
    }
}

fn interrupted() -> IpamError {
    IpamError::Store(StoreError::Unavailable(
        "the allocator task was interrupted before the change was committed; check the state and retry"
            .into(),
    ))
}

impl<S: AllocState> Pool<S> {
    /// Applies `f` to the pool's state and commits the result, combined
    /// with other updates of the same pool that are waiting at the same
    /// time: while one commit is in flight, the updates queued behind it
    /// are applied in order and written by the next single conditional put
    /// (each keeps its own result; results are handed out only after the
    /// commit). Retried with fresh state when another writer wins; a
    /// failure computed from a cached state is confirmed against the
    /// latest revision before it is reported. `f` may run more than once and must leave the
    /// state unchanged when it returns an error (every method of the pools
    /// does). It must own what it uses (`move` closures), because it may run
    /// on the leader task.
    pub async fn update<T, F>(&self, f: F) -> IpamResult<T>
    where
        T: Send + 'static,
        F: FnMut(&mut S) -> IpamResult<T> + Send + 'static,
    {
        let (tx, mut rx) = oneshot::channel();
        let id = NEXT_ID.fetch_add(1, Ordering::Relaxed);
        self.shared
            .pending
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .push(Box::new(Req {
                id,
                f,
                result: None,
                tx,
                _state: PhantomData,
            }));
        loop {
            tokio::select! {
                biased;
                r = &mut rx => return r.unwrap_or_else(|_| Err(interrupted())),
                guard = self.shared.slot.clone().lock_owned() => {
                    let batch = self.drain();
                    if batch.is_empty() {
                        // Our update was taken by a leader that has finished
                        // (it held the lock): the result is there.
                        drop(guard);
                        return rx.await.unwrap_or_else(|_| Err(interrupted()));
                    }
                    if batch.len() == 1 && batch[0].id() == id {
                        // Alone: run inline (no task hop); only our own
                        // update depends on this future.
                        self.lead(guard, batch).await;
                    } else {
                        let pool = self.clone();
                        tokio::spawn(async move { pool.lead(guard, batch).await });
                    }
                }
            }
        }
    }

    fn drain(&self) -> Vec<Box<dyn Pending<S>>> {
        let mut q = self
            .shared
            .pending
            .lock()
            .unwrap_or_else(PoisonError::into_inner);
        let n = q.len().min(MAX_BATCH);
        q.drain(..n).collect()
    }

    async fn lead(&self, guard: OwnedMutexGuard<Slot<S>>, mut batch: Vec<Box<dyn Pending<S>>>) {
        batch.retain(|r| !r.cancelled());
        if batch.is_empty() {
            return;
        }
        // If this future is dropped or a closure panics half-way, the cached
        // state may hold uncommitted changes: drop it then.
        let mut armed = ClearUnlessDone { guard, done: false };
        let err = self.run(&mut armed.guard, &mut batch).await.err();
        armed.done = true;
        for r in batch {
            r.finish(err.clone());
        }
    }

    async fn run(&self, slot: &mut Slot<S>, batch: &mut [Box<dyn Pending<S>>]) -> IpamResult<()> {
        let store = self.ipam.inner.store.clone();
        let policy = &self.ipam.inner.retry;
        let mut attempt = 1u32;
        loop {
            let fresh = slot.cached.is_none();
            self.ensure_loaded(slot).await?;
            let Some(c) = slot.cached.as_mut() else {
                return Err(IpamError::UnknownPool {
                    pool: self.key.clone(),
                });
            };
            let (mut any_ok, mut any_err) = (false, false);
            for r in batch.iter_mut() {
                if r.apply(&mut c.state) {
                    any_ok = true;
                } else {
                    any_err = true;
                }
            }
            let conflict = if any_err && !fresh {
                // Confirm failures against the latest revision.
                match store.get(&self.key).await {
                    Ok(Some(kv)) if kv.mod_revision == c.rev => false,
                    Ok(_) => true,
                    Err(e) => {
                        slot.cached = None;
                        return Err(e.into());
                    }
                }
            } else {
                false
            };
            if !conflict {
                if !any_ok {
                    return Ok(());
                }
                let op = TxnOp::Put {
                    key: self.key.clone(),
                    value: c.state.encode(),
                    precondition: Precondition::ModRevision(c.rev),
                    lease: None,
                };
                match store.txn(vec![op]).await {
                    Ok(resp) => {
                        c.rev = resp.revision;
                        return Ok(());
                    }
                    Err(e) if e.is_conflict() => {}
                    Err(e) => {
                        slot.cached = None;
                        return Err(e.into());
                    }
                }
            }
            // Another writer changed the pool: re-read and re-apply.
            slot.cached = None;
            if attempt >= policy.max_attempts.max(1) {
                return Err(IpamError::Contention {
                    key: self.key.clone(),
                    attempts: attempt,
                });
            }
            attempt += 1;
            let d = policy.delay(attempt);
            if !d.is_zero() {
                tokio::time::sleep(d).await;
            }
        }
    }
}
