//! Example (e): `contiv-ipam` allocating addresses on a `StateStore` of your
//! own.
//!
//! [`MapStore`] is a complete-enough store in ~100 lines: a sorted map with
//! a revision counter and atomic, preconditioned transactions — all the
//! allocator needs (every change is one conditional write). Watches and
//! leases, which the allocator never uses, are refused with a clear error;
//! a store for netmaster must have them (run `contiv-store`'s conformance
//! suite, feature `testing`, on it).
//!
//! Two allocators (two "netmasters") share the store and allocate at the
//! same time: they never hand out one address twice; a requested address
//! that is taken is refused, naming the holder; a released address is the
//! next one handed out.

use async_trait::async_trait;
use contiv_core::store::{
    KeyValue, Lease, LeaseId, ListResponse, OpOutcome, Precondition, Revision, StateStore,
    StoreError, StoreResult, TxnOp, TxnResponse, WatchStream,
};
use contiv_ipam::{Ipam, IpamError, Ipv4Pool, Ipv4Spec};
use std::collections::{BTreeMap, BTreeSet};
use std::net::Ipv4Addr;
use std::process::ExitCode;
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};
use std::time::Duration;

type Error = Box<dyn std::error::Error>;

/// A sorted map with revisions: your own store.
#[derive(Default)]
struct MapStore {
    inner: Mutex<(Revision, BTreeMap<String, KeyValue>)>,
}

impl MapStore {
    fn lock(&self) -> MutexGuard<'_, (Revision, BTreeMap<String, KeyValue>)> {
        self.inner.lock().unwrap_or_else(PoisonError::into_inner)
    }
}

fn holds(p: &Precondition, kv: Option<&KeyValue>) -> bool {
    match p {
        Precondition::Any => true,
        Precondition::Absent => kv.is_none(),
        Precondition::ModRevision(r) => kv.is_some_and(|kv| kv.mod_revision == *r),
    }
}

fn unsupported(what: &str) -> StoreError {
    StoreError::InvalidArgument(format!("MapStore does not support {what}"))
}

#[async_trait]
impl StateStore for MapStore {
    fn backend_name(&self) -> &'static str {
        "map"
    }

    async fn get(&self, key: &str) -> StoreResult<Option<KeyValue>> {
        Ok(self.lock().1.get(key).cloned())
    }

    async fn list(&self, prefix: &str) -> StoreResult<ListResponse> {
        let g = self.lock();
        let kvs =
            g.1.range(prefix.to_owned()..)
                .take_while(|(k, _)| k.starts_with(prefix))
                .map(|(_, kv)| kv.clone())
                .collect();
        Ok(ListResponse { kvs, revision: g.0 })
    }

    async fn current_revision(&self) -> StoreResult<Revision> {
        Ok(self.lock().0)
    }

    /// All preconditions first, then every write at one new revision.
    async fn txn(&self, ops: Vec<TxnOp>) -> StoreResult<TxnResponse> {
        let mut g = self.lock();
        let mut seen = BTreeSet::new();
        for op in &ops {
            if !matches!(op, TxnOp::Check { .. }) && !seen.insert(op.key()) {
                return Err(StoreError::InvalidArgument(format!(
                    "key {} written twice in one transaction",
                    op.key()
                )));
            }
            if !holds(op.precondition(), g.1.get(op.key())) {
                return Err(StoreError::PreconditionFailed {
                    key: op.key().to_owned(),
                });
            }
        }
        let writes = ops.iter().any(|op| match op {
            TxnOp::Put { .. } => true,
            TxnOp::Delete { key, .. } => g.1.contains_key(key),
            TxnOp::Check { .. } => false,
        });
        let revision = if writes { g.0 + 1 } else { g.0 };
        g.0 = revision;
        let mut outcomes = Vec::with_capacity(ops.len());
        for op in ops {
            outcomes.push(match op {
                TxnOp::Put {
                    key, value, lease, ..
                } => {
                    if lease.is_some() {
                        return Err(unsupported("leases"));
                    }
                    let old = g.1.get(&key);
                    let kv = KeyValue {
                        create_revision: old.map_or(revision, |o| o.create_revision),
                        version: old.map_or(1, |o| o.version + 1),
                        key: key.clone(),
                        value,
                        mod_revision: revision,
                        lease: None,
                    };
                    g.1.insert(key, kv);
                    OpOutcome::Written
                }
                TxnOp::Delete { key, .. } => match g.1.remove(&key) {
                    Some(_) => OpOutcome::Deleted,
                    None => OpOutcome::Absent,
                },
                TxnOp::Check { .. } => OpOutcome::Checked,
            });
        }
        Ok(TxnResponse { revision, outcomes })
    }

    async fn watch(&self, _prefix: &str, _from: Option<Revision>) -> StoreResult<WatchStream> {
        Err(unsupported("watches"))
    }

    async fn grant_lease(&self, _ttl: Duration) -> StoreResult<Lease> {
        Err(unsupported("leases"))
    }

    async fn keep_alive(&self, lease: &LeaseId) -> StoreResult<Duration> {
        Err(StoreError::LeaseNotFound(lease.clone()))
    }

    async fn revoke_lease(&self, lease: &LeaseId) -> StoreResult<()> {
        Err(StoreError::LeaseNotFound(lease.clone()))
    }

    async fn compact(&self, _revision: Revision) -> StoreResult<()> {
        Ok(())
    }
}

async fn run() -> Result<(), Error> {
    let store: Arc<dyn StateStore> = Arc::new(MapStore::default());
    let (a, b) = (Ipam::new(Arc::clone(&store)), Ipam::new(Arc::clone(&store)));
    let gateway: Ipv4Addr = "10.1.2.254".parse()?;
    let pool = Ipv4Pool::new(Ipv4Spec::parse("10.1.2.0/24")?, Some(gateway))?;
    a.network_v4("default:contiv-net").create(pool).await?;
    println!("pool default:contiv-net created (10.1.2.0/24, gateway {gateway})");

    // Two allocators, 20 addresses each, at the same time.
    let take = |ipam: Ipam| async move {
        let net = ipam.network_v4("default:contiv-net");
        let mut got = Vec::new();
        for _ in 0..20 {
            got.push(net.allocate(None).await?);
        }
        Ok::<_, IpamError>(got)
    };
    let (ga, gb) = tokio::join!(tokio::spawn(take(a.clone())), tokio::spawn(take(b.clone())));
    let all: Vec<Ipv4Addr> = ga??.into_iter().chain(gb??).collect();
    let distinct: BTreeSet<_> = all.iter().collect();
    let (lo, hi) = (
        distinct.first().ok_or("nothing allocated")?,
        distinct.last().ok_or("nothing allocated")?,
    );
    println!(
        "two allocators handed out {} addresses, {} distinct, {lo} to {hi}",
        all.len(),
        distinct.len(),
    );
    if distinct.len() != 40 {
        return Err("an address was handed out twice".into());
    }

    // A taken address is refused, naming why.
    let net = b.network_v4("default:contiv-net");
    match net.allocate(Some(gateway)).await {
        Err(e) => println!("requesting {gateway}: refused: {e}"),
        Ok(_) => return Err("the gateway address was handed out".into()),
    }

    // Released addresses come back first.
    let freed: Ipv4Addr = "10.1.2.7".parse()?;
    net.release(freed).await?;
    let again = a.network_v4("default:contiv-net").allocate(None).await?;
    println!("released {freed}; the next allocation got {again}");
    if again != freed {
        return Err("the released address was not reused first".into());
    }
    println!(
        "ipam-own-store ok: store at revision {}",
        store.current_revision().await?
    );
    Ok(())
}

#[tokio::main(flavor = "multi_thread", worker_threads = 2)]
async fn main() -> ExitCode {
    match run().await {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("ipam-own-store: {e}");
            ExitCode::FAILURE
        }
    }
}
