//! [`MemoryStore`]: an in-process [`StateStore`] with the full contract —
//! revisions, CAS, atomic transactions, watch history with compaction and
//! leases with expiry. Nothing survives the process; use it in tests and
//! single-process tools.
//!
//! Lease expiry is checked lazily on every operation and by a reaper task
//! that runs on the Tokio runtime while leases exist (started by the first
//! [`StateStore::grant_lease`]), so delete events of expired leases arrive
//! without any further calls.

mod reaper;
mod state;

use crate::contract::first_wanted;
use crate::hub::{DEFAULT_WATCH_BUFFER, WatchHub, watch_stream};
use async_trait::async_trait;
use contiv_core::store::{
    KeyValue, Lease, LeaseId, ListResponse, Revision, StateStore, StoreError, StoreResult, TxnOp,
    TxnResponse, WatchEvent, WatchStream,
};
use state::State;
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};
use std::time::Duration;
use tokio::sync::Notify;
use tokio::time::Instant;

/// Tuning of a [`MemoryStore`].
#[derive(Clone, Debug)]
pub struct MemoryOptions {
    /// Watch history kept, in revisions; older history is compacted
    /// automatically. Default 10 000.
    pub history_revisions: u64,
    /// Capacity of the live watch channel in revisions; a watcher further
    /// behind is dropped with an error naming the revision to resume from.
    /// Default 4096.
    pub watch_buffer: usize,
}

impl Default for MemoryOptions {
    fn default() -> Self {
        MemoryOptions {
            history_revisions: 10_000,
            watch_buffer: DEFAULT_WATCH_BUFFER,
        }
    }
}

#[derive(Debug)]
struct Shared {
    state: Mutex<State>,
    hub: WatchHub,
    /// Wakes the reaper when a lease is granted (its deadline may be the
    /// earliest).
    lease_added: Arc<Notify>,
    reaper_running: Mutex<bool>,
}

impl Drop for Shared {
    fn drop(&mut self) {
        // The last handle is gone: end every watch with `Closed`.
        self.hub.close();
    }
}

/// An in-process store. Cloning is cheap and every clone sees the same data.
#[derive(Clone, Debug)]
pub struct MemoryStore {
    shared: Arc<Shared>,
}

impl Default for MemoryStore {
    fn default() -> Self {
        MemoryStore::new()
    }
}

impl MemoryStore {
    /// An empty store with default options.
    pub fn new() -> Self {
        MemoryStore::with_options(MemoryOptions::default())
    }

    /// An empty store with the given options.
    pub fn with_options(options: MemoryOptions) -> Self {
        MemoryStore {
            shared: Arc::new(Shared {
                state: Mutex::new(State::new(options.history_revisions)),
                hub: WatchHub::new(options.watch_buffer, 0),
                lease_added: Arc::new(Notify::new()),
                reaper_running: Mutex::new(false),
            }),
        }
    }

    /// Locks the state after expiring due leases (their delete events are
    /// published before the caller's own changes).
    fn lock(&self) -> MutexGuard<'_, State> {
        let mut state = self
            .shared
            .state
            .lock()
            .unwrap_or_else(PoisonError::into_inner);
        let expired = state.expire_due(Instant::now());
        self.shared.hub.publish(expired);
        state
    }

    fn ensure_reaper(&self) {
        let mut running = self
            .shared
            .reaper_running
            .lock()
            .unwrap_or_else(PoisonError::into_inner);
        if *running {
            self.shared.lease_added.notify_one();
            return;
        }
        // Without a Tokio runtime expiry stays lazy (checked on every call).
        if let Ok(handle) = tokio::runtime::Handle::try_current() {
            *running = true;
            handle.spawn(reaper::run(Arc::downgrade(&self.shared)));
        }
    }
}

/// Publishes events while the state lock is held, keeping revision order.
fn publish(shared: &Shared, _state: &MutexGuard<'_, State>, events: Vec<WatchEvent>) {
    shared.hub.publish(events);
}

#[async_trait]
impl StateStore for MemoryStore {
    fn backend_name(&self) -> &'static str {
        "memory"
    }

    async fn get(&self, key: &str) -> StoreResult<Option<KeyValue>> {
        Ok(self.lock().get(key))
    }

    async fn list(&self, prefix: &str) -> StoreResult<ListResponse> {
        Ok(self.lock().list(prefix))
    }

    async fn current_revision(&self) -> StoreResult<Revision> {
        Ok(self.lock().rev)
    }

    async fn txn(&self, ops: Vec<TxnOp>) -> StoreResult<TxnResponse> {
        let mut state = self.lock();
        let (resp, events) = state.apply_txn(ops)?;
        publish(&self.shared, &state, events);
        Ok(resp)
    }

    async fn watch(&self, prefix: &str, from: Option<Revision>) -> StoreResult<WatchStream> {
        let state = self.lock();
        // Under the state lock the hub has published exactly up to
        // `state.rev`, so the live channel continues right after it.
        let (rx, _published) = self.shared.hub.subscribe();
        let (catchup, min_rev) = match from {
            None => (Vec::new(), state.rev + 1),
            Some(from) => (state.catch_up(prefix, from)?, first_wanted(from)),
        };
        drop(state);
        Ok(watch_stream(catchup, rx, prefix.to_owned(), min_rev))
    }

    async fn grant_lease(&self, ttl: Duration) -> StoreResult<Lease> {
        if ttl.is_zero() {
            return Err(StoreError::InvalidArgument(
                "a lease needs a positive time-to-live".to_owned(),
            ));
        }
        let id = self.lock().grant(ttl, Instant::now());
        self.ensure_reaper();
        Ok(Lease {
            id: LeaseId(id.to_string()),
            ttl,
        })
    }

    async fn keep_alive(&self, lease: &LeaseId) -> StoreResult<Duration> {
        self.lock().keep_alive(lease, Instant::now())
    }

    async fn revoke_lease(&self, lease: &LeaseId) -> StoreResult<()> {
        let mut state = self.lock();
        let events = state.revoke(lease)?;
        publish(&self.shared, &state, events);
        Ok(())
    }

    async fn compact(&self, revision: Revision) -> StoreResult<()> {
        self.lock().compact(revision)
    }
}
