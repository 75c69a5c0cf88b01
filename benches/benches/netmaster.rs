//! netmaster REST throughput: endpoint creates per second through the HTTP
//! API (`POST /api/v1/agent/endpoints/`) of a real netmaster, with N
//! concurrent clients (blocking HTTP/1.1 clients with keep-alive, one
//! thread each) on one `/8` network, once per store:
//!
//! * `netmaster/endpoint_create/embedded/clients=N` — a redb file in a temp
//!   dir, fsync per commit;
//! * `netmaster/endpoint_create/etcd/clients=N` — a real single-member etcd
//!   on loopback;
//! * `netmaster/endpoint_create/consul-test-server/clients=N` — the Consul
//!   backend against the in-process wire-faithful Consul test server (not a
//!   real Consul: its numbers show the backend's round trips and CPU, not
//!   Raft).
//!
//! Each iteration is one endpoint create (address allocation + endpoint
//! record in one store transaction, answered after the cache has the
//! write).
//!
//! Run: `cargo bench -p contiv-benches --bench netmaster` (one store's
//! rows: append e.g. `-- consul`; every store is started either way).

use clap::Parser;
use contiv_bins::netmaster::{NetmasterConfig, start};
use criterion::{Criterion, Throughput, criterion_group, criterion_main};
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

#[derive(Parser)]
struct Cli {
    #[command(flatten)]
    cfg: NetmasterConfig,
}

fn agent() -> ureq::Agent {
    ureq::Agent::config_builder()
        .http_status_as_error(false)
        .proxy(None)
        .timeout_global(Some(Duration::from_secs(60)))
        .build()
        .into()
}

fn post(agent: &ureq::Agent, url: &str, body: &str) {
    let mut r = agent
        .post(url)
        .header("Content-Type", "application/json")
        .send(body)
        .expect("netmaster answers");
    let status = r.status().as_u16();
    let text = r.body_mut().read_to_string().expect("read the answer");
    assert_eq!(status, 200, "POST {url}: {text}");
}

fn embedded(c: &mut Criterion) {
    let dir = tempfile::tempdir().expect("temp dir");
    let store = format!("embedded:{}", dir.path().join("bench.redb").display());
    endpoint_creates(c, "embedded", &store);
}

fn etcd(c: &mut Criterion) {
    let server = contiv_store::testing::EtcdServer::start().expect("start etcd (make deps)");
    endpoint_creates(c, "etcd", &server.store_url());
}

fn consul(c: &mut Criterion) {
    let server = contiv_store::testing::ConsulTestServer::start().expect("Consul test server");
    endpoint_creates(c, "consul-test-server", &server.store_url());
}

fn endpoint_creates(c: &mut Criterion, name: &str, store: &str) {
    let cfg = Cli::parse_from([
        "netmaster",
        "--store",
        store,
        "--listen-url",
        "127.0.0.1:0",
        "--mode",
        "test",
        "--log-level",
        "warn",
    ])
    .cfg;
    let rt = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .expect("runtime");
    let running = rt.block_on(start(cfg)).expect("netmaster starts");
    let base = format!("http://{}", running.addr);
    // Wait for the defaults, then one big network.
    let a = agent();
    let deadline = Instant::now() + Duration::from_secs(30);
    while a
        .get(&format!("{base}/api/v1/tenants/default/"))
        .call()
        .map(|r| r.status().as_u16())
        .unwrap_or(0)
        != 200
    {
        assert!(Instant::now() < deadline, "netmaster not ready");
        std::thread::sleep(Duration::from_millis(20));
    }
    post(
        &a,
        &format!("{base}/api/v1/networks/default:bench/"),
        r#"{"tenantName":"default","networkName":"bench","encap":"vxlan","subnet":"10.0.0.0/8"}"#,
    );

    let next_id = Arc::new(AtomicU64::new(0));
    let url = format!("{base}/api/v1/agent/endpoints/");
    let mut g = c.benchmark_group(format!("netmaster/endpoint_create/{name}"));
    g.throughput(Throughput::Elements(1));
    g.sample_size(10);
    g.measurement_time(Duration::from_secs(10));
    for clients in [1usize, 8, 32] {
        let agents: Vec<ureq::Agent> = (0..clients).map(|_| agent()).collect();
        g.bench_function(format!("clients={clients}"), |b| {
            b.iter_custom(|iters| {
                let per = iters.div_ceil(clients as u64);
                let start = Instant::now();
                std::thread::scope(|s| {
                    for a in &agents {
                        let next_id = next_id.clone();
                        let url = url.clone();
                        s.spawn(move || {
                            for _ in 0..per {
                                let id = next_id.fetch_add(1, Ordering::Relaxed);
                                let body = format!(
                                    r#"{{"id":"ep-{id}","network":"bench","host":"h{}"}}"#,
                                    id % 16
                                );
                                post(a, &url, &body);
                            }
                        });
                    }
                });
                // Report the time of `iters` creates (we ran per×clients).
                start
                    .elapsed()
                    .mul_f64(iters as f64 / (per * clients as u64) as f64)
            })
        });
    }
    g.finish();
    rt.block_on(running.stop());
}

criterion_group!(benches, embedded, etcd, consul);
criterion_main!(benches);
