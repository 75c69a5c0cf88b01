//! Allocator benchmarks (contiv-ipam).
//!
//! In memory (layer 1, no store):
//! * `ipam/inmem/ipv4_alloc_release` — one allocate + one release on a
//!   `/16` with 1 000 addresses in use (the steady state of a busy network);
//! * `ipam/inmem/ipv4_allocate` — lowest-first allocation filling a `/8`;
//! * `ipam/inmem/ipv6_allocate` — allocation in a `/64`;
//! * `ipam/inmem/vni_allocate` — VNI allocation over the 24-bit range;
//! * `ipam/inmem/encode_ipv4_16` — the state encoding every commit writes.
//!
//! Committed through a store (layer 2, one conditional write each):
//! * `ipam/commit/<backend>/sequential` — one task allocating (and
//!   releasing every other round) on one network: one commit each;
//! * `ipam/commit/<backend>/parallel16` — 16 tasks on 16 networks at once
//!   (one allocate + release per round each);
//! * `ipam/commit/<backend>/burst64` — 64 tasks allocating on one network
//!   at once, combined into shared commits.
//!
//! Backends: `memory`, `embedded` (redb file in a temp dir, fsync per
//! commit with group commit), `etcd` (a real single-member etcd on
//! loopback started by the bench).
//!
//! Run: `cargo bench -p contiv-benches --bench ipam`.

use contiv_core::store::StateStore;
use contiv_ipam::{AllocState, IdPool, IdRanges, Ipam, Ipv4Pool, Ipv4Spec, Ipv6Pool, Resource};
use contiv_store::embedded::EmbeddedStore;
use contiv_store::etcd::EtcdStore;
use contiv_store::memory::MemoryStore;
use contiv_store::testing::EtcdServer;
use criterion::{BatchSize, Criterion, Throughput, criterion_group, criterion_main};
use std::hint::black_box;
use std::sync::Arc;
use std::time::{Duration, Instant};

fn inmem(c: &mut Criterion) {
    let mut g = c.benchmark_group("ipam/inmem");
    g.throughput(Throughput::Elements(1));

    g.bench_function("ipv4_alloc_release", |b| {
        let mut pool = Ipv4Pool::new(
            Ipv4Spec::parse("10.1.0.0/16").expect("spec"),
            Some("10.1.255.254".parse().expect("gw")),
        )
        .expect("pool");
        for _ in 0..1000 {
            pool.allocate().expect("fill");
        }
        b.iter(|| {
            let a = pool.allocate().expect("allocate");
            pool.release(black_box(a)).expect("release");
        });
    });

    g.bench_function("ipv4_allocate", |b| {
        let fresh =
            || Ipv4Pool::new(Ipv4Spec::parse("10.0.0.0/8").expect("spec"), None).expect("pool");
        let mut pool = fresh();
        b.iter_custom(|iters| {
            let mut total = Duration::ZERO;
            let mut left = iters;
            while left > 0 {
                if pool.free_count() == 0 {
                    pool = fresh();
                }
                let n = left.min(u64::from(pool.free_count()));
                let start = Instant::now();
                for _ in 0..n {
                    black_box(pool.allocate().expect("allocate"));
                }
                total += start.elapsed();
                left -= n;
            }
            total
        });
    });

    g.bench_function("ipv6_allocate", |b| {
        b.iter_batched_ref(
            || Ipv6Pool::new("2001:db8::/64".parse().expect("net"), None).expect("pool"),
            |pool| black_box(pool.allocate().expect("allocate")),
            BatchSize::NumIterations(100_000),
        );
    });

    g.bench_function("vni_allocate", |b| {
        let fresh = || {
            IdPool::new(
                Resource::Vxlan,
                IdRanges::new(Resource::Vxlan, &[(1, (1 << 24) - 1)]).expect("ranges"),
            )
            .expect("pool")
        };
        let mut pool = fresh();
        b.iter_custom(|iters| {
            let mut total = Duration::ZERO;
            let mut left = iters;
            while left > 0 {
                let free = pool.capacity() - u64::from(pool.allocated_count());
                if free == 0 {
                    pool = fresh();
                    continue;
                }
                let n = left.min(free);
                let start = Instant::now();
                for _ in 0..n {
                    black_box(pool.allocate().expect("allocate"));
                }
                total += start.elapsed();
                left -= n;
            }
            total
        });
    });

    g.bench_function("encode_ipv4_16", |b| {
        let mut pool =
            Ipv4Pool::new(Ipv4Spec::parse("10.1.0.0/16").expect("spec"), None).expect("pool");
        for _ in 0..30_000 {
            pool.allocate().expect("fill");
        }
        for i in (0..30_000u32).step_by(97) {
            let _ = pool.release(std::net::Ipv4Addr::from(0x0a01_0000 + 1 + i));
        }
        b.iter(|| black_box(pool.encode()));
    });
    g.finish();
}

/// Committed allocations through `store`: sequential on one network and 16
/// tasks on 16 networks.
fn commit_bench(
    c: &mut Criterion,
    backend: &str,
    store: impl FnOnce(&tokio::runtime::Runtime) -> Arc<dyn StateStore>,
) {
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .expect("runtime");
    // The store is built on the runtime that drives it (etcd's client
    // spawns its connection tasks there).
    let ipam = Ipam::new(store(&rt));
    let mut g = c.benchmark_group(format!("ipam/commit/{backend}"));
    g.throughput(Throughput::Elements(1));
    g.sample_size(10);
    g.measurement_time(Duration::from_secs(5));

    let net = ipam.network_v4("bench:seq");
    rt.block_on(
        net.create(
            Ipv4Pool::new(Ipv4Spec::parse("10.0.0.0/8").expect("spec"), None).expect("pool"),
        ),
    )
    .expect("create");
    g.bench_function("sequential", |b| {
        b.iter_custom(|iters| {
            rt.block_on(async {
                let start = Instant::now();
                let mut held = Vec::new();
                for i in 0..iters {
                    if i % 2 == 1
                        && let Some(a) = held.pop()
                    {
                        net.release(a).await.expect("release");
                        continue;
                    }
                    held.push(net.allocate(None).await.expect("allocate"));
                }
                start.elapsed()
            })
        });
    });

    let nets: Vec<_> = (0..16)
        .map(|i| {
            let p = ipam.network_v4(&format!("bench:par{i}"));
            rt.block_on(
                p.create(
                    Ipv4Pool::new(
                        Ipv4Spec::parse(&format!("10.{}.0.0/16", 100 + i)).expect("spec"),
                        None,
                    )
                    .expect("pool"),
                ),
            )
            .expect("create");
            p
        })
        .collect();
    g.bench_function("parallel16", |b| {
        b.iter_custom(|iters| {
            rt.block_on(async {
                let per = iters.div_ceil(16);
                let start = Instant::now();
                let joins: Vec<_> = nets
                    .iter()
                    .cloned()
                    .map(|p| {
                        tokio::spawn(async move {
                            for _ in 0..per {
                                let a = p.allocate(None).await.expect("allocate");
                                p.release(a).await.expect("release");
                            }
                        })
                    })
                    .collect();
                for j in joins {
                    j.await.expect("join");
                }
                // Two committed operations per round.
                start
                    .elapsed()
                    .mul_f64(iters as f64 / (per * 16 * 2) as f64)
            })
        });
    });
    let burst = ipam.network_v4("bench:burst");
    rt.block_on(burst.create(
        Ipv4Pool::new(Ipv4Spec::parse("10.200.0.0/16").expect("spec"), None).expect("pool"),
    ))
    .expect("create");
    g.bench_function("burst64", |b| {
        b.iter_custom(|iters| {
            rt.block_on(async {
                let mut total = Duration::ZERO;
                let mut left = iters;
                while left > 0 {
                    // At most 64 x 500 addresses at a time so the /16 never
                    // fills; they are given back untimed.
                    let per = left.div_ceil(64).min(500);
                    let start = Instant::now();
                    let joins: Vec<_> = (0..64)
                        .map(|_| {
                            let p = burst.clone();
                            tokio::spawn(async move {
                                let mut mine = Vec::new();
                                for _ in 0..per {
                                    mine.push(p.allocate(None).await.expect("allocate"));
                                }
                                mine
                            })
                        })
                        .collect();
                    let mut all = Vec::new();
                    for j in joins {
                        all.extend(j.await.expect("join"));
                    }
                    let done = all.len() as u64;
                    total += start.elapsed().mul_f64(left.min(done) as f64 / done as f64);
                    left = left.saturating_sub(done);
                    burst
                        .update(move |s| {
                            for a in &all {
                                s.release(*a)?;
                            }
                            Ok(())
                        })
                        .await
                        .expect("release");
                }
                total
            })
        });
    });
    g.finish();
}

fn commits(c: &mut Criterion) {
    commit_bench(c, "memory", |_| Arc::new(MemoryStore::new()));

    let dir = tempfile::tempdir().expect("tempdir");
    let path = dir.path().join("bench.redb");
    commit_bench(c, "embedded", |_| {
        Arc::new(EmbeddedStore::open(&path).expect("embedded store"))
    });

    // A real etcd on loopback, stopped when `server` is dropped.
    let server = EtcdServer::start().expect("etcd (install etcd-server or set ETCD_BIN)");
    commit_bench(c, "etcd", |rt| {
        Arc::new(
            rt.block_on(EtcdStore::connect(server.endpoints()))
                .expect("etcd client"),
        )
    });
    drop(server);
}

criterion_group!(benches, inmem, commits);
criterion_main!(benches);
