//! Intent writes (create, update, delete of model objects) combined into
//! group commits.
//!
//! Every write is checked against a view and committed with the
//! preconditions it relies on, under the model lock (see
//! [`super::collections`]). Concurrent writes are queued and one runner
//! takes them in groups: under the model lock it checks and stages each
//! one **against the cache plus the changes staged before it in the same
//! group** (a speculative [`ClusterView`], O(1) to clone), all into one
//! allocator transaction, and commits the group as one store transaction
//! — one fsync on the embedded store, one round trip to etcd — then
//! answers each writer with its own outcome. Because every check of a
//! later write saw the earlier ones, the group is exactly as if the writes
//! had run one after another; because the commit is one transaction, it
//! is all-or-nothing across a crash.
//!
//! A write is taken out of a group (and goes into the next one) when it
//! touches a key an earlier write of the group changed (its preconditions
//! could not name a revision yet) or when the transaction would exceed the
//! store's operation limit. A write whose checks fail is answered with its
//! error and leaves nothing in the group — unless it had already changed
//! allocator state, in which case the group is dropped and its writes run
//! one by one. If a group's commit fails, its writes also run one by one,
//! each with the retries a lone write gets (allocator races, a cache that
//! was behind). A change that needs an intent record (a policy with more
//! rules than one transaction holds) closes its group; global settings
//! always go alone.

use super::cache::ClusterView;
use super::fenced::MAX_FENCED_OPS;
use super::objects::{Handler, Stage};
use super::{ApiError, ApiResult, Netmaster};
use async_trait::async_trait;
use contiv_core::model::{Global, ModelObject};
use contiv_core::store::{EventKind, KeyValue, Revision, TxnOp};
use std::collections::{HashSet, VecDeque};
use std::marker::PhantomData;
use std::sync::atomic::Ordering;
use std::sync::{Arc, Mutex, PoisonError};
use tokio::sync::oneshot;
use tracing::{debug, info};

/// Most writes in one group.
pub const MAX_GROUP: usize = 32;

/// The revision a speculative view gives keys written by the group (never
/// a real one; a write depending on such a key waits for the next group).
const PENDING: Revision = Revision::MAX;

/// One queued write.
#[async_trait]
pub(crate) trait Write: Send {
    /// Checks the write against `s.view` and stages it into `s.tx`:
    /// `Ok(true)` if it changes something, `Ok(false)` if there is nothing
    /// to do (an identical re-send). May be called again after a failed
    /// group.
    async fn stage(&mut self, s: &mut Stage<'_>) -> ApiResult<bool>;

    /// Answers the writer: committed at a revision, unchanged, or failed.
    fn answer(self: Box<Self>, outcome: ApiResult<Option<Revision>>);

    /// True if the write must be committed alone.
    fn alone(&self) -> bool {
        false
    }

    /// Commit attempts so far (for the retry limit of lone writes).
    fn attempt(&mut self) -> &mut u32;
}

/// Create or update of an object.
pub(crate) struct Upsert<T> {
    obj: T,
    created: bool,
    attempt: u32,
    done: oneshot::Sender<ApiResult<T>>,
}

#[async_trait]
impl<T: Handler + Send + Sync + 'static> Write for Upsert<T> {
    async fn stage(&mut self, s: &mut Stage<'_>) -> ApiResult<bool> {
        let full_key = s.nm.keys.object(T::TYPE, self.obj.key());
        let old = T::map(&s.view).get(self.obj.key()).cloned();
        match &old {
            None => T::create(s, &self.obj).await?,
            Some(old) if **old == self.obj => return Ok(false),
            Some(old) => T::update(s, old, &self.obj).await?,
        }
        self.created = old.is_none();
        let value = serde_json::to_vec(&self.obj)
            .map_err(|e| ApiError::internal(format!("cannot encode {}: {e}", T::TYPE)))?;
        let precondition = s.unchanged(&full_key);
        s.tx.push(TxnOp::Put {
            key: full_key,
            value,
            precondition,
            lease: None,
        });
        Ok(true)
    }

    fn answer(self: Box<Self>, outcome: ApiResult<Option<Revision>>) {
        let r = match outcome {
            Ok(Some(rev)) => {
                info!(
                    kind = T::TYPE,
                    key = self.obj.key(),
                    revision = rev,
                    "{}",
                    if self.created { "created" } else { "updated" }
                );
                Ok(self.obj)
            }
            Ok(None) => Ok(self.obj),
            Err(e) => Err(e),
        };
        let _ = self.done.send(r);
    }

    fn alone(&self) -> bool {
        T::TYPE == Global::TYPE
    }

    fn attempt(&mut self) -> &mut u32 {
        &mut self.attempt
    }
}

/// Delete of an object.
pub(crate) struct Delete<T> {
    key: String,
    attempt: u32,
    done: oneshot::Sender<ApiResult<()>>,
    ty: PhantomData<fn() -> T>,
}

#[async_trait]
impl<T: Handler + Send + Sync + 'static> Write for Delete<T> {
    async fn stage(&mut self, s: &mut Stage<'_>) -> ApiResult<bool> {
        let Some(obj) = T::map(&s.view).get(&self.key).cloned() else {
            return Err(ApiError::not_found(format!("{} not found", T::TYPE)));
        };
        T::delete(s, &obj).await?;
        let full_key = s.nm.keys.object(T::TYPE, &self.key);
        let precondition = s.unchanged(&full_key);
        s.tx.push(TxnOp::Delete {
            key: full_key,
            precondition,
        });
        Ok(true)
    }

    fn answer(self: Box<Self>, outcome: ApiResult<Option<Revision>>) {
        if let Ok(Some(rev)) = &outcome {
            info!(kind = T::TYPE, key = %self.key, revision = rev, "deleted");
        }
        let _ = self.done.send(outcome.map(|_| ()));
    }

    fn alone(&self) -> bool {
        T::TYPE == Global::TYPE
    }

    fn attempt(&mut self) -> &mut u32 {
        &mut self.attempt
    }
}

#[derive(Default)]
struct Queue {
    pending: VecDeque<Box<dyn Write>>,
    running: bool,
}

/// The queue of intent writes waiting for the runner.
#[derive(Default)]
pub struct WriteQueue {
    q: Mutex<Queue>,
}

impl std::fmt::Debug for WriteQueue {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("WriteQueue").finish_non_exhaustive()
    }
}

impl WriteQueue {
    fn lock(&self) -> std::sync::MutexGuard<'_, Queue> {
        self.q.lock().unwrap_or_else(PoisonError::into_inner)
    }
}

fn stopped() -> ApiError {
    ApiError::unavailable("netmaster is stopping; retry")
}

/// What became of one write of a group being built.
struct Member {
    write: Box<dyn Write>,
    /// `Ok(true)`: staged; `Ok(false)`: nothing to do; `Err`: refused.
    staged: ApiResult<bool>,
}

/// Applies a group member's operations to the speculative view.
fn apply_ops(nm: &Netmaster, view: &mut ClusterView, ops: &[TxnOp]) {
    for op in ops {
        let (kind, key, value) = match op {
            TxnOp::Put { key, value, .. } => (EventKind::Put, key, value.clone()),
            TxnOp::Delete { key, .. } => (EventKind::Delete, key, Vec::new()),
            TxnOp::Check { .. } => continue,
        };
        let kv = KeyValue {
            key: key.clone(),
            value,
            create_revision: PENDING,
            mod_revision: PENDING,
            version: 1,
            lease: None,
        };
        view.apply(&nm.keys, kind, &kv);
    }
}

fn is_write(op: &TxnOp) -> bool {
    !matches!(op, TxnOp::Check { .. })
}

impl Netmaster {
    /// Queues `write` (see the module docs) and starts the runner if none
    /// is running.
    fn submit(&self, write: Box<dyn Write>) {
        let start = {
            let mut q = self.writes.lock();
            q.pending.push_back(write);
            !std::mem::replace(&mut q.running, true)
        };
        if start {
            match self.me.upgrade() {
                Some(nm) => {
                    tokio::spawn(async move { nm.run_writes().await });
                }
                None => {
                    let mut q = self.writes.lock();
                    q.running = false;
                    for w in q.pending.drain(..) {
                        w.answer(Err(stopped()));
                    }
                }
            }
        }
    }

    /// Creates or updates `obj` through the write queue.
    pub(crate) async fn write_upsert<T: Handler + Send + Sync + 'static>(
        &self,
        obj: T,
    ) -> ApiResult<T> {
        let (done, rx) = oneshot::channel();
        self.submit(Box::new(Upsert {
            obj,
            created: false,
            attempt: 1,
            done,
        }));
        rx.await.unwrap_or_else(|_| Err(stopped()))
    }

    /// Deletes the object `key` of type `T` through the write queue.
    pub(crate) async fn write_delete<T: Handler + Send + Sync + 'static>(
        &self,
        key: &str,
    ) -> ApiResult<()> {
        let (done, rx) = oneshot::channel();
        self.submit(Box::new(Delete::<T> {
            key: key.to_owned(),
            attempt: 1,
            done,
            ty: PhantomData,
        }));
        rx.await.unwrap_or_else(|_| Err(stopped()))
    }

    /// The runner: commits groups until the queue is empty.
    async fn run_writes(self: Arc<Self>) {
        // Writes that must run one by one (from a failed group), at the
        // front of the queue.
        let mut solo = 0usize;
        loop {
            let guard = self.model_lock.lock().await;
            let batch: VecDeque<Box<dyn Write>> = {
                let mut q = self.writes.lock();
                if q.pending.is_empty() {
                    q.running = false;
                    return;
                }
                let n = if solo > 0 {
                    1
                } else {
                    q.pending.len().min(MAX_GROUP)
                };
                q.pending.drain(..n).collect()
            };
            solo = solo.saturating_sub(1);
            let (rest, again_alone) = self.commit_group(batch).await;
            drop(guard);
            if !rest.is_empty() {
                let mut q = self.writes.lock();
                for w in rest.into_iter().rev() {
                    q.pending.push_front(w);
                }
            }
            solo += again_alone;
        }
    }

    /// Builds one group from the front of `batch`, commits it and answers
    /// its writes. Returns the writes not taken (to go back to the front of
    /// the queue) and how many of them must run alone.
    async fn commit_group(
        &self,
        mut batch: VecDeque<Box<dyn Write>>,
    ) -> (VecDeque<Box<dyn Write>>, usize) {
        if let Err(e) = self.writable() {
            for w in batch {
                w.answer(Err(e.clone()));
            }
            return (VecDeque::new(), 0);
        }
        let mut s = Stage {
            nm: self,
            view: self.cache.read(),
            tx: self.ipam.begin(),
        };
        let mut ops: Vec<TxnOp> = Vec::new();
        let mut written: HashSet<String> = HashSet::new();
        let mut members: Vec<Member> = Vec::new();
        let mut writers = 0usize;
        let mut abort = false;
        self.unstage_intents();
        while let Some(mut w) = batch.pop_front() {
            if !members.is_empty() && w.alone() {
                batch.push_front(w);
                break;
            }
            let before = s.tx.changes();
            let r = w.stage(&mut s).await;
            let new_ops = s.tx.take_extra();
            let pools_changed = s.tx.changes() != before;
            let intent = self.intent_staged.load(Ordering::SeqCst);
            match r {
                Err(e) if pools_changed && writers > 0 => {
                    // Allocator state of the group is changed for nothing:
                    // drop the group, run its writes one by one.
                    debug!(error = %e, "a write of a group failed after allocating; running the group's writes alone");
                    batch.push_front(w);
                    abort = true;
                    break;
                }
                Err(e) => {
                    if intent {
                        self.unstage_intents();
                    }
                    members.push(Member {
                        write: w,
                        staged: Err(e),
                    });
                    if pools_changed {
                        // Alone in its group: the transaction is dropped.
                        break;
                    }
                    continue;
                }
                Ok(false) => {
                    members.push(Member {
                        write: w,
                        staged: Ok(false),
                    });
                    continue;
                }
                Ok(true) => {}
            }
            let conflict = new_ops.iter().any(|op| written.contains(op.key()));
            let too_big = s.tx.op_count() + ops.len() + new_ops.len() > MAX_FENCED_OPS;
            if writers > 0 && (conflict || too_big) {
                if pools_changed || intent {
                    batch.push_front(w);
                    abort = true;
                } else {
                    // Into the next group.
                    batch.push_front(w);
                }
                break;
            }
            for op in &new_ops {
                if is_write(op) {
                    written.insert(op.key().to_owned());
                }
            }
            apply_ops(self, Arc::make_mut(&mut s.view), &new_ops);
            for op in new_ops {
                let duplicate_check = matches!(&op, TxnOp::Check { .. }) && ops.contains(&op);
                if !duplicate_check {
                    ops.push(op);
                }
            }
            writers += 1;
            members.push(Member {
                write: w,
                staged: Ok(true),
            });
            if intent || members.last().is_some_and(|m| m.write.alone()) {
                break;
            }
        }
        if abort {
            drop(s);
            self.unstage_intents();
            let n = members.len() + 1;
            for m in members.into_iter().rev() {
                batch.push_front(m.write);
            }
            return (batch, n);
        }
        if writers == 0 {
            drop(s);
            for m in members {
                let outcome = m.staged.map(|_| None);
                m.write.answer(outcome);
            }
            return (batch, 0);
        }
        for op in ops {
            s.tx.push(op);
        }
        let lone = members.len() == 1;
        let mut group_attempt = 1u32;
        let attempt = if lone {
            members[0].write.attempt()
        } else {
            &mut group_attempt
        };
        match self.commit_or_retry(s.tx, attempt).await {
            Ok(Some(rev)) => {
                self.settle(rev).await;
                if members.len() > 1 {
                    debug!(writes = members.len(), revision = rev, "group commit");
                }
                // A change larger than one transaction: complete it before
                // answering (its writer sees it whole).
                self.finish_staged_intents().await;
                for m in members {
                    let outcome = m.staged.map(|w| w.then_some(rev));
                    m.write.answer(outcome);
                }
                (batch, 0)
            }
            Ok(None) => {
                // Lost a race (allocator or a cache that was behind; the
                // retry delay was waited): again, alone.
                self.unstage_intents();
                let n = members.len();
                for m in members.into_iter().rev() {
                    batch.push_front(m.write);
                }
                (batch, n)
            }
            Err(e) if lone => {
                self.unstage_intents();
                for m in members {
                    m.write.answer(Err(e.clone()));
                }
                (batch, 0)
            }
            Err(e) => {
                debug!(error = %e, writes = members.len(), "group commit failed; running its writes alone");
                self.unstage_intents();
                let n = members.len();
                for m in members.into_iter().rev() {
                    batch.push_front(m.write);
                }
                (batch, n)
            }
        }
    }
}
