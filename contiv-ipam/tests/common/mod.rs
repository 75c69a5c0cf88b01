//! Shared helpers of the persisted-allocator tests.

#![allow(dead_code, clippy::unwrap_used, clippy::expect_used)]

use async_trait::async_trait;
use contiv_core::store::{
    KeyValue, Lease, LeaseId, ListResponse, Revision, StateStore, StoreError, StoreResult, TxnOp,
    TxnResponse, WatchStream,
};
use contiv_ipam::{Ipam, Ipv4Pool, Ipv4Spec};
use std::collections::HashSet;
use std::net::Ipv4Addr;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

/// A store wrapper that counts round trips and can make every txn touching
/// a key with `fail_prefix` lose its precondition.
pub struct Counting {
    pub inner: Arc<dyn StateStore>,
    pub gets: AtomicU64,
    pub txns: AtomicU64,
    /// Txns that failed a precondition (lost compare-and-swap races).
    pub conflicts: AtomicU64,
    pub fail_prefix: Mutex<Option<String>>,
    /// Latency added to every txn (like a disk sync or a network hop).
    pub txn_delay: Mutex<Duration>,
}

impl Counting {
    pub fn new(inner: Arc<dyn StateStore>) -> Arc<Self> {
        Arc::new(Counting {
            inner,
            gets: AtomicU64::new(0),
            txns: AtomicU64::new(0),
            conflicts: AtomicU64::new(0),
            fail_prefix: Mutex::new(None),
            txn_delay: Mutex::new(Duration::ZERO),
        })
    }
    pub fn round_trips(&self) -> u64 {
        self.gets.load(Ordering::SeqCst) + self.txns.load(Ordering::SeqCst)
    }
}

#[async_trait]
impl StateStore for Counting {
    fn backend_name(&self) -> &'static str {
        "counting"
    }
    async fn get(&self, key: &str) -> StoreResult<Option<KeyValue>> {
        self.gets.fetch_add(1, Ordering::SeqCst);
        self.inner.get(key).await
    }
    async fn list(&self, prefix: &str) -> StoreResult<ListResponse> {
        self.inner.list(prefix).await
    }
    async fn current_revision(&self) -> StoreResult<Revision> {
        self.inner.current_revision().await
    }
    async fn txn(&self, ops: Vec<TxnOp>) -> StoreResult<TxnResponse> {
        self.txns.fetch_add(1, Ordering::SeqCst);
        let delay = *self.txn_delay.lock().unwrap();
        if !delay.is_zero() {
            tokio::time::sleep(delay).await;
        }
        let fail = self.fail_prefix.lock().unwrap().clone();
        if let Some(p) = fail
            && let Some(op) = ops.iter().find(|o| o.key().starts_with(&p))
        {
            return Err(StoreError::PreconditionFailed {
                key: op.key().to_owned(),
            });
        }
        let r = self.inner.txn(ops).await;
        if matches!(&r, Err(e) if e.is_conflict()) {
            self.conflicts.fetch_add(1, Ordering::SeqCst);
        }
        r
    }
    async fn watch(&self, prefix: &str, from: Option<Revision>) -> StoreResult<WatchStream> {
        self.inner.watch(prefix, from).await
    }
    async fn grant_lease(&self, ttl: Duration) -> StoreResult<Lease> {
        self.inner.grant_lease(ttl).await
    }
    async fn keep_alive(&self, lease: &LeaseId) -> StoreResult<Duration> {
        self.inner.keep_alive(lease).await
    }
    async fn revoke_lease(&self, lease: &LeaseId) -> StoreResult<()> {
        self.inner.revoke_lease(lease).await
    }
    async fn compact(&self, revision: Revision) -> StoreResult<()> {
        self.inner.compact(revision).await
    }
}

/// The concurrency acceptance scenario: `tasks` tasks on each of the given
/// `Ipam`s (each its own cache, as separate processes would have) hammer
/// one network with allocate / release. Every allocation must be absent
/// from the live set when it is handed out (no duplicates); at the end the
/// stored pool's allocations must equal the live set exactly.
///
/// The stores are wrapped in [`Counting`]; the returned numbers are
/// (committed txns, lost races) over both handles, so callers can check that
/// the two handles really raced.
pub async fn hammer(
    stores: Vec<Arc<dyn StateStore>>,
    network: &str,
    tasks: usize,
    rounds: usize,
) -> (u64, u64) {
    let counters: Vec<Arc<Counting>> = stores.into_iter().map(Counting::new).collect();
    let ipams: Vec<Ipam> = counters.iter().map(|c| Ipam::new(c.clone())).collect();
    let spec = Ipv4Spec::parse("10.99.0.0/22").unwrap();
    ipams[0]
        .network_v4(network)
        .create(Ipv4Pool::new(spec, Some("10.99.3.254".parse().unwrap())).unwrap())
        .await
        .unwrap();
    let live: Arc<Mutex<HashSet<Ipv4Addr>>> = Arc::new(Mutex::new(HashSet::new()));
    let handed_out = Arc::new(AtomicU64::new(0));
    let mut joins = Vec::new();
    for (h, ipam) in ipams.iter().enumerate() {
        for t in 0..tasks {
            let pool = ipam.network_v4(network);
            let live = live.clone();
            let handed_out = handed_out.clone();
            joins.push(tokio::spawn(async move {
                let mut mine: Vec<Ipv4Addr> = Vec::new();
                for r in 0..rounds {
                    // Every third round releases the oldest address held.
                    if r % 3 == 2 && !mine.is_empty() {
                        let a = mine.remove(0);
                        assert!(
                            live.lock().unwrap().remove(&a),
                            "{a} not live before release"
                        );
                        assert!(pool.release(a).await.unwrap(), "{a} was not allocated");
                        continue;
                    }
                    let a = pool.allocate(None).await.unwrap();
                    handed_out.fetch_add(1, Ordering::SeqCst);
                    assert!(
                        live.lock().unwrap().insert(a),
                        "duplicate: {a} handed out twice (handle {h}, task {t})"
                    );
                    mine.push(a);
                }
            }));
        }
    }
    for j in joins {
        j.await.unwrap();
    }
    // Fresh view from the store, through a new handle with no cache.
    let check = Ipam::new(ipams[0].store().clone());
    let stored: HashSet<Ipv4Addr> = check
        .network_v4(network)
        .read(|p| p.allocated_addresses())
        .await
        .unwrap()
        .into_iter()
        .collect();
    let live = live.lock().unwrap().clone();
    assert_eq!(stored, live, "stored pool differs from the live set");
    let expected = ipams.len() * tasks * (rounds - rounds / 3);
    assert_eq!(handed_out.load(Ordering::SeqCst) as usize, expected);
    let txns = counters.iter().map(|c| c.txns.load(Ordering::SeqCst)).sum();
    let conflicts = counters
        .iter()
        .map(|c| c.conflicts.load(Ordering::SeqCst))
        .sum();
    eprintln!("hammer {network}: {txns} txns, {conflicts} lost races");
    (txns, conflicts)
}
