//! netmaster's intent API against a release netmaster process (its CPU and
//! memory read from `/proc`), side by side with the original Go netmaster
//! when `CONTIV_ORIGINAL_NETMASTER` names its binary (built from its public
//! source; it runs on an etcd with the v2 API, started here).
//!
//! * `list N[,N…] [GETS]` — `GET /api/v1/networks/` with N networks:
//!   client-side median and p90 of GETS requests on one keep-alive
//!   connection (body read, not parsed), and server CPU per GET;
//! * `writes CLIENTS[,…] [SECONDS] [RUNS]` — intent writes per second:
//!   each client (its own keep-alive connection) repeatedly creates a
//!   policy, two rules and an endpoint group using the policy (4 objects,
//!   each answered before the next is sent); runs interleaved, the median
//!   of RUNS reported;
//! * `rss [CYCLES] [N]` — netmaster's resident memory after each of CYCLES
//!   rounds of creating then deleting N networks (embedded store).
//!
//! Targets: our embedded store and our etcd store for every measure
//! (`--store`), the original on etcd for `list` and `writes`.
//!
//! Run: `benches/control_plane.sh list 1000,10000`, `… writes 1,8`,
//! `… rss 10 1000` (it builds the release netmaster first).

#[path = "daemon/mod.rs"]
mod daemon;

use daemon::{Daemon, Etcd, ms, quantile, ureq_agent};
use std::path::PathBuf;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::time::{Duration, Instant};

/// Which netmaster.
#[derive(Clone, Copy, Debug, PartialEq)]
enum Kind {
    Embedded,
    Etcd,
    Original,
}

impl Kind {
    fn name(self) -> &'static str {
        match self {
            Kind::Embedded => "ours, embedded",
            Kind::Etcd => "ours, etcd",
            Kind::Original => "original (Go), etcd",
        }
    }
}

struct Server {
    nm: Daemon,
    _etcd: Option<Etcd>,
}

fn original() -> Option<PathBuf> {
    std::env::var_os("CONTIV_ORIGINAL_NETMASTER").map(PathBuf::from)
}

fn kinds() -> Vec<Kind> {
    let mut k = vec![Kind::Embedded, Kind::Etcd];
    if original().is_some() {
        k.push(Kind::Original);
    }
    k
}

fn start(kind: Kind) -> Server {
    match kind {
        Kind::Embedded => {
            let dir = tempfile::tempdir().expect("temp dir");
            let args = vec![
                "--store".into(),
                format!("embedded:{}", dir.path().join("nm.redb").display()),
                "--mode".into(),
                "test".into(),
                "--log-level".into(),
                "warn".into(),
            ];
            Server {
                nm: Daemon::start(&daemon::bin_dir().join("netmaster"), &args, Some(dir)),
                _etcd: None,
            }
        }
        Kind::Etcd => {
            let etcd = Etcd::start();
            let args = vec![
                "--store".into(),
                format!("etcd://{}", etcd.url.trim_start_matches("http://")),
                "--mode".into(),
                "test".into(),
                "--log-level".into(),
                "warn".into(),
            ];
            Server {
                nm: Daemon::start(&daemon::bin_dir().join("netmaster"), &args, None),
                _etcd: Some(etcd),
            }
        }
        Kind::Original => {
            let etcd = Etcd::start();
            let ctrl = daemon::free_port();
            let args = vec![
                "--etcd".into(),
                etcd.url.clone(),
                // Like ours: no container runtime behind it.
                "--mode".into(),
                "test".into(),
                "--netmode".into(),
                "vxlan".into(),
                // The original refuses bridge forwarding with vxlan.
                "--fwdmode".into(),
                "routing".into(),
                "--control-url".into(),
                format!("127.0.0.1:{ctrl}"),
                "--log-level".into(),
                "error".into(),
            ];
            let bin = original().expect("CONTIV_ORIGINAL_NETMASTER");
            Server {
                nm: Daemon::start(&bin, &args, None),
                _etcd: Some(etcd),
            }
        }
    }
}

fn post(agent: &ureq::Agent, url: &str, body: &str) {
    let mut r = agent
        .post(url)
        .header("Content-Type", "application/json")
        .send(body)
        .expect("netmaster answers");
    let status = r.status().as_u16();
    let text = r.body_mut().read_to_string().unwrap_or_default();
    assert_eq!(status, 200, "POST {url}: {text}");
}

fn delete(agent: &ureq::Agent, url: &str) {
    let mut r = agent.delete(url).call().expect("netmaster answers");
    let status = r.status().as_u16();
    let text = r.body_mut().read_to_string().unwrap_or_default();
    assert_eq!(status, 200, "DELETE {url}: {text}");
}

fn network_body(i: usize) -> String {
    format!(
        r#"{{"tenantName":"default","networkName":"n{i}","encap":"vxlan","subnet":"10.{}.{}.0/24","gateway":"10.{}.{}.1"}}"#,
        10 + i / 256,
        i % 256,
        10 + i / 256,
        i % 256
    )
}

/// Creates networks `from..to` with `par` parallel clients (the original
/// crashes — "concurrent map iteration and map write" — with concurrent
/// network creates, so it gets one).
fn create_networks(base: &str, from: usize, to: usize, par: usize) {
    let next = AtomicU64::new(from as u64);
    std::thread::scope(|s| {
        for _ in 0..par {
            s.spawn(|| {
                let a = ureq_agent();
                loop {
                    let i = next.fetch_add(1, Ordering::Relaxed) as usize;
                    if i >= to {
                        return;
                    }
                    post(
                        &a,
                        &format!("{base}/api/v1/networks/default:n{i}/"),
                        &network_body(i),
                    );
                }
            });
        }
    });
}

fn delete_networks(base: &str, from: usize, to: usize) {
    let next = AtomicU64::new(from as u64);
    std::thread::scope(|s| {
        for _ in 0..8 {
            s.spawn(|| {
                let a = ureq_agent();
                loop {
                    let i = next.fetch_add(1, Ordering::Relaxed) as usize;
                    if i >= to {
                        return;
                    }
                    delete(&a, &format!("{base}/api/v1/networks/default:n{i}/"));
                }
            });
        }
    });
}

fn list(ns: &[usize], gets: usize) {
    for kind in kinds() {
        let srv = start(kind);
        let base = srv.nm.url();
        let mut have = 0;
        for &n in ns {
            let par = if kind == Kind::Original { 1 } else { 8 };
            create_networks(&base, have, n, par);
            have = n;
            let a = ureq_agent();
            let url = format!("{base}/api/v1/networks/");
            let mut size = 0;
            for _ in 0..gets.min(20) {
                let mut r = a.get(&url).call().expect("GET");
                size = r.body_mut().read_to_vec().expect("body").len();
            }
            let (u0, s0) = srv.nm.cpu();
            let mut t: Vec<Duration> = Vec::with_capacity(gets);
            for _ in 0..gets {
                let start = Instant::now();
                let mut r = a.get(&url).call().expect("GET");
                let body = r.body_mut().read_to_vec().expect("body");
                t.push(start.elapsed());
                assert!(body.len() > n * 50, "a list of {n} networks");
            }
            let (u1, s1) = srv.nm.cpu();
            t.sort_unstable();
            let cpu = ((u1 + s1) - (u0 + s0)) / gets as u32;
            println!(
                "list | {:22} | networks {n:6} | body {:8} B | GET p50 {} ms p90 {} ms | server CPU/GET {} ms | RSS {:.1} MB | load {}",
                kind.name(),
                size,
                ms(quantile(&t, 0.5).unwrap_or_default()),
                ms(quantile(&t, 0.9).unwrap_or_default()),
                ms(cpu),
                srv.nm.rss() as f64 / 1e6,
                daemon::load_average(),
            );
        }
    }
}

/// One client's loop: policy, 2 rules, group; returns objects written.
fn writer(base: &str, client: usize, round: usize, stop: &AtomicBool) -> u64 {
    let a = ureq_agent();
    let mut objects = 0;
    let mut i = 0usize;
    while !stop.load(Ordering::Relaxed) {
        let p = format!("r{round}c{client}p{i}");
        post(
            &a,
            &format!("{base}/api/v1/policys/default:{p}/"),
            &format!(r#"{{"tenantName":"default","policyName":"{p}"}}"#),
        );
        for r in 1..=2 {
            post(
                &a,
                &format!("{base}/api/v1/rules/default:{p}:{r}/"),
                &format!(
                    r#"{{"tenantName":"default","policyName":"{p}","ruleId":"{r}","direction":"in","action":"allow","protocol":"tcp","port":{},"priority":1}}"#,
                    1000 + r
                ),
            );
        }
        post(
            &a,
            &format!("{base}/api/v1/endpointGroups/default:{p}g/"),
            &format!(
                r#"{{"tenantName":"default","groupName":"{p}g","networkName":"w{client}","policies":["{p}"]}}"#
            ),
        );
        objects += 4;
        i += 1;
    }
    objects
}

fn writes(clients: &[usize], secs: u64, runs: usize) {
    for kind in kinds() {
        let srv = start(kind);
        let base = srv.nm.url();
        let a = ureq_agent();
        let max = clients.iter().copied().max().unwrap_or(1);
        for c in 0..max {
            post(
                &a,
                &format!("{base}/api/v1/networks/default:w{c}/"),
                &format!(
                    r#"{{"tenantName":"default","networkName":"w{c}","encap":"vxlan","subnet":"10.200.{c}.0/24","gateway":"10.200.{c}.1"}}"#
                ),
            );
        }
        let mut rates: Vec<Vec<f64>> = vec![Vec::new(); clients.len()];
        let mut round = 0;
        for _ in 0..runs {
            for (ci, &n) in clients.iter().enumerate() {
                round += 1;
                let stop = AtomicBool::new(false);
                let t = Instant::now();
                let total: u64 = std::thread::scope(|s| {
                    let hs: Vec<_> = (0..n)
                        .map(|c| {
                            let (base, stop) = (&base, &stop);
                            // Fresh names every round.
                            s.spawn(move || writer(base, c, round, stop))
                        })
                        .collect();
                    std::thread::sleep(Duration::from_secs(secs));
                    stop.store(true, Ordering::Relaxed);
                    hs.into_iter().map(|h| h.join().expect("writer")).sum()
                });
                rates[ci].push(total as f64 / t.elapsed().as_secs_f64());
            }
        }
        for (ci, &n) in clients.iter().enumerate() {
            let mut r = rates[ci].clone();
            r.sort_by(f64::total_cmp);
            let median = r[r.len() / 2];
            let single = {
                let mut r0 = rates[0].clone();
                r0.sort_by(f64::total_cmp);
                r0[r0.len() / 2]
            };
            println!(
                "writes | {:22} | clients {n:2} | objects/s median {:7.1} (runs {:?}) | {:.2}× the {}-client rate | load {}",
                kind.name(),
                median,
                r.iter().map(|x| x.round() as u64).collect::<Vec<_>>(),
                median / single,
                clients[0],
                daemon::load_average(),
            );
        }
    }
}

fn rss(cycles: usize, n: usize) {
    let srv = start(Kind::Embedded);
    let base = srv.nm.url();
    let mut out = Vec::new();
    let before = srv.nm.rss();
    for c in 0..cycles {
        create_networks(&base, 0, n, 8);
        let full = srv.nm.rss();
        delete_networks(&base, 0, n);
        std::thread::sleep(Duration::from_millis(500));
        let empty = srv.nm.rss();
        out.push((full, empty));
        println!(
            "rss | cycle {:2} | with {n} networks {:.1} MB | after deleting them {:.1} MB | load {}",
            c + 1,
            full as f64 / 1e6,
            empty as f64 / 1e6,
            daemon::load_average()
        );
    }
    let fulls: Vec<u64> = out.iter().map(|x| x.0).collect();
    let (lo, hi) = (
        *fulls.iter().min().unwrap_or(&0),
        *fulls.iter().max().unwrap_or(&0),
    );
    println!(
        "rss | before {:.1} MB | with {n} networks: min {:.1} MB, max {:.1} MB, spread {:.1} % of the first cycle",
        before as f64 / 1e6,
        lo as f64 / 1e6,
        hi as f64 / 1e6,
        (hi - lo) as f64 * 100.0 / fulls[0].max(1) as f64
    );
}

fn main() {
    let args: Vec<String> = std::env::args()
        .skip(1)
        .filter(|a| !a.starts_with("--"))
        .collect();
    let nums = |i: usize, d: &[usize]| -> Vec<usize> {
        args.get(i)
            .map(|s| s.split(',').filter_map(|x| x.parse().ok()).collect())
            .unwrap_or_else(|| d.to_vec())
    };
    println!("control_plane | load {}", daemon::load_average());
    match args.first().map(String::as_str) {
        Some("list") => list(&nums(1, &[1000, 10_000]), nums(2, &[200])[0]),
        Some("writes") => writes(
            &nums(1, &[1, 8]),
            nums(2, &[10])[0] as u64,
            nums(3, &[3])[0],
        ),
        Some("rss") => rss(nums(1, &[10])[0], nums(2, &[1000])[0]),
        _ => {
            list(&[1000, 10_000], 200);
            writes(&[1, 8], 10, 3);
            rss(10, 1000);
        }
    }
}
