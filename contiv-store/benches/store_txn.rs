//! Txn throughput of the store backends, in the shape of an allocation:
//! one small `Put` with a `ModRevision` precondition on the writer's own key.
//!
//! * `embedded/1_writer` — sequential txns: every txn waits for its own
//!   commit (fsync-bound).
//! * `embedded/N_writers` — N concurrent writers: group commit shares fsyncs.
//! * `memory/…` — the in-process reference.
//! * `etcd/…` — a real single-member etcd on loopback (the fixture of the
//!   `testing` feature); with one writer, the time per txn is the latency.
//! * `consul-test-server/…` — the Consul backend against the wire-faithful
//!   Consul test server of the `testing` feature, in process on loopback.
//!   Not a real Consul (no Raft, no disk): the rows measure the backend's
//!   two round trips per txn (snapshot read + counter-`cas` write with the
//!   event log) and its retries when writers race for the counter.
//!
//! Run: `cargo bench -p contiv-store --bench store_txn`.
//! Criterion reports time per txn and txn/s ("thrpt").

use contiv_core::store::{PutOptions, StateStore};
use contiv_store::embedded::EmbeddedStore;
use contiv_store::memory::MemoryStore;
use criterion::{Criterion, Throughput, criterion_group, criterion_main};
use std::sync::Arc;
use std::time::{Duration, Instant};
use tokio::runtime::Runtime;

fn runtime() -> Runtime {
    tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .expect("tokio runtime")
}

/// Runs `total` CAS txns split over `writers` tasks; returns the wall time.
async fn cas_round(store: Arc<dyn StateStore>, writers: u64, total: u64) -> Duration {
    let start = Instant::now();
    let mut tasks = Vec::new();
    for w in 0..writers {
        let store = store.clone();
        let n = total / writers + u64::from(w < total % writers);
        tasks.push(tokio::spawn(async move {
            let key = format!("/bench/alloc/w{w}");
            let mut rev = match store.get(&key).await.expect("get") {
                Some(kv) => kv.mod_revision,
                None => store
                    .put(&key, vec![0; 8], PutOptions::absent())
                    .await
                    .expect("create"),
            };
            for i in 0..n {
                rev = store
                    .put(&key, i.to_le_bytes().to_vec(), PutOptions::at_revision(rev))
                    .await
                    .expect("own key, no conflict");
            }
        }));
    }
    for t in tasks {
        t.await.expect("writer task");
    }
    start.elapsed()
}

fn bench_backend(
    c: &mut Criterion,
    rt: &Runtime,
    name: &str,
    store: Arc<dyn StateStore>,
    writers: &[u64],
) {
    let mut group = c.benchmark_group(name);
    group.throughput(Throughput::Elements(1));
    group.sample_size(20);
    group.measurement_time(Duration::from_secs(8));
    for &w in writers {
        // Warm the writers' keys outside the measurement.
        rt.block_on(cas_round(store.clone(), w, w));
        group.bench_function(format!("{w}_writers"), |b| {
            b.iter_custom(|iters| rt.block_on(cas_round(store.clone(), w, iters.max(w))))
        });
    }
    group.finish();
}

fn embedded(c: &mut Criterion) {
    // On the real filesystem (not tmpfs), so commits really fsync.
    let dir = tempfile::Builder::new()
        .prefix("contiv-store-bench-")
        .tempdir_in(env!("CARGO_TARGET_TMPDIR"))
        .expect("temp dir");
    let store = EmbeddedStore::open(dir.path().join("bench.redb")).expect("open");
    bench_backend(c, &runtime(), "embedded", Arc::new(store), &[1, 8, 64]);
}

fn memory(c: &mut Criterion) {
    bench_backend(
        c,
        &runtime(),
        "memory",
        Arc::new(MemoryStore::new()),
        &[1, 8],
    );
}

fn etcd(c: &mut Criterion) {
    use contiv_store::etcd::EtcdStore;
    use contiv_store::testing::EtcdServer;
    let server = EtcdServer::start().expect("start etcd (is it installed?)");
    let rt = runtime();
    let store = rt
        .block_on(EtcdStore::connect(server.endpoints()))
        .expect("connect");
    bench_backend(c, &rt, "etcd", Arc::new(store), &[1, 8]);
    drop(server);
}

fn consul(c: &mut Criterion) {
    use contiv_store::consul::{ConsulOptions, ConsulStore};
    use contiv_store::testing::ConsulTestServer;
    let server = ConsulTestServer::start().expect("start the Consul test server");
    let rt = runtime();
    let store = rt
        .block_on(ConsulStore::connect(ConsulOptions::new(server.addresses())))
        .expect("connect");
    bench_backend(c, &rt, "consul-test-server", Arc::new(store), &[1, 8]);
    drop(server);
}

criterion_group!(benches, embedded, memory, etcd, consul);
criterion_main!(benches);
