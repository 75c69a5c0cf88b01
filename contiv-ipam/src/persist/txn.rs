//! [`AllocTxn`]: changes to several allocator states plus the caller's own
//! store operations, committed as one store transaction.

use super::{Cached, Pool, Slot};
use crate::error::{IpamError, IpamResult};
use crate::state::AllocState;
use contiv_core::store::{Precondition, Revision, StateStore, StoreError, TxnOp};
use std::any::Any;
use std::sync::Arc;
use tokio::sync::OwnedMutexGuard;

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Action {
    /// Put the changed state if it is still at the cached revision.
    Update,
    /// Put a new state; the key must be absent.
    Create,
    /// Delete the state if it is still at the cached revision.
    Delete,
}

/// One allocator state locked and changed by a transaction.
trait Staged: Send {
    fn key(&self) -> &str;
    fn action(&self) -> Action;
    fn op(&self) -> TxnOp;
    fn committed(&mut self, rev: Revision);
    fn as_any_mut(&mut self) -> &mut dyn Any;
}

struct StagedSlot<S: AllocState> {
    key: String,
    action: Action,
    guard: OwnedMutexGuard<Slot<S>>,
    done: bool,
}

impl<S: AllocState> Drop for StagedSlot<S> {
    fn drop(&mut self) {
        // Not committed (error, conflict, or dropped): the cached state was
        // changed in place and is no longer what the store holds.
        if !self.done {
            self.guard.cached = None;
        }
    }
}

impl<S: AllocState> Staged for StagedSlot<S> {
    fn key(&self) -> &str {
        &self.key
    }

    fn action(&self) -> Action {
        self.action
    }

    fn op(&self) -> TxnOp {
        let (bytes, rev) = match &self.guard.cached {
            Some(c) => (c.state.encode(), c.rev),
            None => (Vec::new(), 0),
        };
        match self.action {
            Action::Update => TxnOp::Put {
                key: self.key.clone(),
                value: bytes,
                precondition: Precondition::ModRevision(rev),
                lease: None,
            },
            Action::Create => TxnOp::Put {
                key: self.key.clone(),
                value: bytes,
                precondition: Precondition::Absent,
                lease: None,
            },
            Action::Delete => TxnOp::Delete {
                key: self.key.clone(),
                precondition: Precondition::ModRevision(rev),
            },
        }
    }

    fn committed(&mut self, rev: Revision) {
        match self.action {
            Action::Update | Action::Create => {
                if let Some(c) = self.guard.cached.as_mut() {
                    c.rev = rev;
                }
            }
            Action::Delete => self.guard.cached = None,
        }
        self.done = true;
    }

    fn as_any_mut(&mut self) -> &mut dyn Any {
        self
    }
}

/// A transaction over allocator states.
///
/// Each pool touched is locked (its in-process async mutex) until the
/// transaction is committed or dropped, its state is loaded (or taken from
/// the cache) and changed in place; [`commit`](Self::commit) writes every
/// changed state with a `ModRevision` precondition (a created pool with
/// `Absent`, a deleted one as a conditional delete) together with the
/// operations added by [`push`](Self::push), in one store transaction.
///
/// If the commit fails or the transaction is dropped, every touched pool's
/// cache is discarded (the next operation re-reads it), so nothing half-done
/// survives. Closures given to [`stage`](Self::stage) must leave the state
/// unchanged when they return an error (every method of the pools does), so
/// a transaction can, for example, fall back from a taken requested address
/// to automatic allocation.
///
/// Lock order: a task that stages several pools must stage them in a fixed
/// order (e.g. network before group, IPv4 before IPv6), like any code that
/// takes several locks; [`Ipam`](super::Ipam)'s helpers do. While a pool is
/// staged its lock is held: change it through [`stage`](Self::stage), not
/// through the [`Pool`]'s own methods (which would wait for the lock).
///
/// Use [`Ipam::transact`](super::Ipam::transact) to retry automatically
/// when another writer wins the race.
pub struct AllocTxn {
    store: Arc<dyn StateStore>,
    staged: Vec<Box<dyn Staged + Send>>,
    extra: Vec<TxnOp>,
    /// Allocator changes made so far ([`changes`](Self::changes)).
    changes: u64,
}

/// Why a commit failed, and whether a retry with fresh state may succeed.
pub(super) struct CommitFailure {
    pub(super) error: IpamError,
    /// The conflicting allocator key if another writer changed it.
    pub(super) conflict: Option<String>,
}

impl AllocTxn {
    pub(super) fn new(store: Arc<dyn StateStore>) -> Self {
        AllocTxn {
            store,
            staged: Vec::new(),
            extra: Vec::new(),
            changes: 0,
        }
    }

    /// Index of `pool`'s staged entry, locking and loading it if needed.
    async fn entry<S: AllocState>(&mut self, pool: &Pool<S>, load: bool) -> IpamResult<usize> {
        if let Some(i) = self.staged.iter().position(|s| s.key() == pool.key) {
            return Ok(i);
        }
        let mut guard = pool.shared.slot.clone().lock_owned().await;
        if load {
            pool.ensure_loaded(&mut guard).await?;
        }
        self.staged.push(Box::new(StagedSlot {
            key: pool.key.clone(),
            action: Action::Update,
            guard,
            done: false,
        }));
        Ok(self.staged.len() - 1)
    }

    fn slot_at<S: AllocState>(&mut self, i: usize, key: &str) -> IpamResult<&mut StagedSlot<S>> {
        self.staged
            .get_mut(i)
            .and_then(|s| s.as_any_mut().downcast_mut::<StagedSlot<S>>())
            .ok_or_else(|| IpamError::Corrupt {
                key: key.to_owned(),
                why: "the key is used for two different allocator types".into(),
            })
    }

    /// Locks and loads `pool` (once per transaction) and applies `f` to its
    /// state; the change is written by [`commit`](Self::commit).
    pub async fn stage<S, T, F>(&mut self, pool: &Pool<S>, f: F) -> IpamResult<T>
    where
        S: AllocState,
        F: FnOnce(&mut S) -> IpamResult<T>,
    {
        let i = self.entry(pool, true).await?;
        let slot = self.slot_at::<S>(i, &pool.key)?;
        if slot.action == Action::Delete {
            return Err(IpamError::UnknownPool {
                pool: format!("{} (deleted earlier in this transaction)", pool.key),
            });
        }
        let r = match slot.guard.cached.as_mut() {
            Some(c) => f(&mut c.state),
            None => Err(IpamError::UnknownPool {
                pool: pool.key.clone(),
            }),
        };
        if r.is_ok() {
            self.changes += 1;
        }
        r
    }

    /// Creates `pool` with `state`; the commit fails with
    /// [`IpamError::PoolExists`] if the key exists.
    pub async fn create<S: AllocState>(&mut self, pool: &Pool<S>, state: S) -> IpamResult<()> {
        pool.check_kind(&state)?;
        if self.staged.iter().any(|s| s.key() == pool.key) {
            return Err(IpamError::PoolExists {
                pool: pool.key.clone(),
            });
        }
        let i = self.entry(pool, false).await?;
        let slot = self.slot_at::<S>(i, &pool.key)?;
        slot.action = Action::Create;
        slot.guard.cached = Some(Cached { state, rev: 0 });
        self.changes += 1;
        Ok(())
    }

    /// Deletes `pool`; refused with [`IpamError::PoolInUse`] while values
    /// are allocated from it.
    pub async fn delete<S: AllocState>(&mut self, pool: &Pool<S>) -> IpamResult<()> {
        let i = self.entry(pool, true).await?;
        let slot = self.slot_at::<S>(i, &pool.key)?;
        if slot.action == Action::Create {
            return Err(IpamError::PoolExists {
                pool: format!("{} (created in this transaction)", pool.key),
            });
        }
        let Some(c) = slot.guard.cached.as_ref() else {
            return Err(IpamError::UnknownPool {
                pool: pool.key.clone(),
            });
        };
        let count = c.state.in_use();
        if count > 0 {
            return Err(IpamError::PoolInUse {
                pool: pool.key.clone(),
                count,
                what: c.state.in_use_noun(),
            });
        }
        slot.action = Action::Delete;
        self.changes += 1;
        Ok(())
    }

    /// Adds one of the caller's own operations (e.g. the endpoint record
    /// that holds the allocated address). A failed precondition on it fails
    /// the commit with [`IpamError::Store`] and is not retried.
    pub fn push(&mut self, op: TxnOp) {
        self.extra.push(op);
    }

    /// How many allocator changes were staged so far (successful
    /// [`stage`](Self::stage), [`create`](Self::create) and
    /// [`delete`](Self::delete) calls). A caller combining several requests
    /// in one transaction compares it before and after a request to know
    /// whether a failed request left allocator state changed (then the
    /// whole transaction must be dropped) or only its own operations
    /// (which [`take_extra`](Self::take_extra) removes).
    pub fn changes(&self) -> u64 {
        self.changes
    }

    /// Removes and returns the operations added by [`push`](Self::push)
    /// so far (allocator states stay staged).
    pub fn take_extra(&mut self) -> Vec<TxnOp> {
        std::mem::take(&mut self.extra)
    }

    /// The number of operations [`ops`](Self::ops) would return, without
    /// encoding anything.
    pub fn op_count(&self) -> usize {
        self.staged.len() + self.extra.len()
    }

    /// The operations [`commit`](Self::commit) would send, allocator states
    /// first. For callers that run the store transaction themselves; after
    /// doing so they must call [`committed`](Self::committed) on success (a
    /// dropped transaction discards the caches).
    pub fn ops(&self) -> Vec<TxnOp> {
        self.staged
            .iter()
            .map(|s| s.op())
            .chain(self.extra.iter().cloned())
            .collect()
    }

    /// Records that [`ops`](Self::ops) were committed at `revision` (keeps
    /// the caches, releases the locks).
    pub fn committed(mut self, revision: Revision) {
        for s in &mut self.staged {
            s.committed(revision);
        }
    }

    /// Commits every change in one store transaction; returns its revision.
    pub async fn commit(self) -> IpamResult<Revision> {
        self.commit_inner().await.map_err(|f| f.error)
    }

    pub(super) async fn commit_inner(mut self) -> Result<Revision, CommitFailure> {
        let ops = self.ops();
        if ops.is_empty() {
            return Ok(0);
        }
        match self.store.txn(ops).await {
            Ok(resp) => {
                for s in &mut self.staged {
                    s.committed(resp.revision);
                }
                Ok(resp.revision)
            }
            Err(StoreError::PreconditionFailed { key }) => {
                let action = self
                    .staged
                    .iter()
                    .find(|s| s.key() == key)
                    .map(|s| s.action());
                Err(match action {
                    Some(Action::Create) => CommitFailure {
                        error: IpamError::PoolExists { pool: key },
                        conflict: None,
                    },
                    Some(_) => CommitFailure {
                        error: IpamError::Store(StoreError::PreconditionFailed {
                            key: key.clone(),
                        }),
                        conflict: Some(key),
                    },
                    None => CommitFailure {
                        error: IpamError::Store(StoreError::PreconditionFailed { key }),
                        conflict: None,
                    },
                })
            }
            Err(e) => Err(CommitFailure {
                error: IpamError::Store(e),
                conflict: None,
            }),
        }
    }
}
