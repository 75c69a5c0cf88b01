//! Fan-out of changes to many agents: a release netmaster (embedded store,
//! its own process) and N simulated agents in this process. Each agent is
//! registered as a node, heartbeats at the interval netmaster answers (a
//! third of the node TTL) over its own keep-alive connection, and follows
//! `GET /api/v1/watch?compact=true` like netplugin does (it looks at the
//! lines, it does not program a datapath).
//!
//! For every N it reports:
//! * connect: N streams opened at once until every one saw `synced`;
//! * memory per stream: netmaster's RSS with the N streams open and idle
//!   minus before they were opened, over N;
//! * rule POST → the rule's line at every agent: per delivery p50/p99 and
//!   per change "at all" (the last agent) p50/max, over RULES rule creates
//!   made one after another; the POST's own latency;
//! * netmaster CPU per change: CPU over the change phase minus the idle
//!   rate (heartbeats only, measured just before) over the same time, per
//!   change, with the user/system split;
//! * mass reconnect: every stream dropped and reopened at once for a fresh
//!   snapshot, until all are synced, with the heartbeat latencies in that
//!   window; and a resume (`from=`) reconnect of all of them.
//!
//! Run: `benches/fanout.sh [N,N,…] [RULES]` (builds the release netmaster,
//! then `cargo bench -p contiv-benches --bench fanout -- 10,100,1000,5000 20`).

#[path = "daemon/mod.rs"]
mod daemon;

use bytes::Bytes;
use daemon::{Daemon, ms, quantile};
use http_body_util::{BodyExt, Full};
use hyper::Request;
use hyper::client::conn::http1;
use hyper_util::rt::TokioIo;
use std::net::SocketAddr;
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};
use tokio::net::TcpStream;
use tokio::sync::Notify;

/// What every agent reports into.
struct Shared {
    start: Instant,
    n: usize,
    /// Agents synced since the counter was reset.
    synced: AtomicUsize,
    synced_all: Notify,
    /// Per rule: agents that saw it.
    seen: Vec<AtomicUsize>,
    seen_all: Notify,
    /// (rule, nanoseconds since `start`) of every delivery.
    deliveries: Mutex<Vec<(usize, u64)>>,
    /// (sent, latency) of every heartbeat.
    heartbeats: Mutex<Vec<(u64, u64)>>,
    /// The last revision each agent saw (for resuming).
    revs: Vec<AtomicU64>,
    /// Agents whose resumed stream answered.
    resumed: AtomicUsize,
}

impl Shared {
    fn now(&self) -> u64 {
        self.start.elapsed().as_nanos() as u64
    }
}

async fn connect(
    addr: SocketAddr,
) -> Option<(
    http1::SendRequest<Full<Bytes>>,
    http1::Connection<TokioIo<TcpStream>, Full<Bytes>>,
)> {
    let tcp = TcpStream::connect(addr).await.ok()?;
    tcp.set_nodelay(true).ok()?;
    http1::handshake(TokioIo::new(tcp)).await.ok()
}

fn request(
    method: &str,
    addr: SocketAddr,
    path: &str,
    body: Option<String>,
) -> Request<Full<Bytes>> {
    let mut b = Request::builder()
        .method(method)
        .uri(path)
        .header("host", addr.to_string());
    if body.is_some() {
        b = b.header("content-type", "application/json");
    }
    b.body(Full::new(Bytes::from(body.unwrap_or_default())))
        .expect("request")
}

/// Registers agent `i` and heartbeats forever (at a third of the TTL).
async fn heartbeat(addr: SocketAddr, i: usize, sh: Arc<Shared>, registered: Arc<AtomicUsize>) {
    let host = format!("h{i}");
    let body = format!(
        r#"{{"node":{{"hostname":"{host}","vtep_ip":"10.{}.{}.{}","vxlan_port":4789}}}}"#,
        (i >> 16) & 255,
        (i >> 8) & 255,
        i & 255
    );
    let path = format!("/api/v1/agent/nodes/{host}/");
    let mut first = true;
    loop {
        let Some((mut tx, conn)) = connect(addr).await else {
            tokio::time::sleep(Duration::from_millis(200)).await;
            continue;
        };
        let run = async {
            loop {
                let sent = sh.now();
                let r = tx
                    .send_request(request("POST", addr, &path, Some(body.clone())))
                    .await
                    .ok()?;
                let status = r.status().as_u16();
                let bytes = r.into_body().collect().await.ok()?.to_bytes();
                let lat = sh.now() - sent;
                let ttl_ms = serde_json::from_slice::<serde_json::Value>(&bytes)
                    .ok()
                    .and_then(|v| v["ttl_ms"].as_u64())
                    .unwrap_or(10_000);
                if status == 200 {
                    sh.heartbeats
                        .lock()
                        .expect("no panics while held")
                        .push((sent, lat));
                    if first {
                        first = false;
                        registered.fetch_add(1, Ordering::Relaxed);
                        // Spread the agents over the interval.
                        let jitter = (i as u64 * 7919) % (ttl_ms / 3).max(1);
                        tokio::time::sleep(Duration::from_millis(jitter)).await;
                        continue;
                    }
                }
                tokio::time::sleep(Duration::from_millis(ttl_ms / 3)).await;
            }
            #[allow(unreachable_code)]
            Some(())
        };
        tokio::select! {
            _ = conn => {},
            _ = run => {},
        }
    }
}

/// Follows the watch stream of agent `i` (snapshot when `from` is none).
async fn watch(addr: SocketAddr, i: usize, sh: Arc<Shared>, from: Option<u64>) {
    let Some((mut tx, conn)) = connect(addr).await else {
        panic!("agent {i}: cannot connect");
    };
    let path = match from {
        Some(r) => format!("/api/v1/watch?compact=true&from={r}"),
        None => "/api/v1/watch?compact=true".to_owned(),
    };
    let run = async {
        let resp = tx
            .send_request(request("GET", addr, &path, None))
            .await
            .expect("watch answered");
        assert_eq!(resp.status().as_u16(), 200);
        if from.is_some() {
            sh.resumed.fetch_add(1, Ordering::Relaxed);
            if sh.resumed.load(Ordering::Relaxed) == sh.n {
                sh.synced_all.notify_one();
            }
        }
        let mut body = resp.into_body();
        let mut partial: Vec<u8> = Vec::new();
        while let Some(Ok(frame)) = body.frame().await {
            let Some(data) = frame.data_ref() else {
                continue;
            };
            partial.extend_from_slice(data);
            let mut start = 0;
            while let Some(pos) = partial[start..].iter().position(|b| *b == b'\n') {
                line(&sh, i, &partial[start..start + pos]);
                start += pos + 1;
            }
            partial.drain(..start);
        }
    };
    tokio::select! {
        _ = conn => {},
        _ = run => {},
    }
}

fn rev_of(l: &[u8]) -> Option<u64> {
    let s = std::str::from_utf8(l).ok()?;
    let at = s.find("\"rev\":")? + 6;
    let digits: String = s[at..].chars().take_while(|c| c.is_ascii_digit()).collect();
    digits.parse().ok()
}

fn line(sh: &Shared, i: usize, l: &[u8]) {
    if let Some(r) = rev_of(l) {
        sh.revs[i].fetch_max(r, Ordering::Relaxed);
    }
    if l.starts_with(br#"{"type":"synced""#) {
        if sh.synced.fetch_add(1, Ordering::Relaxed) + 1 == sh.n {
            sh.synced_all.notify_one();
        }
        return;
    }
    const RULE: &[u8] = br#"{"type":"put","rev":"#;
    const KEY: &str = "\"key\":\"obj/rule/default:fan:r";
    if l.starts_with(RULE)
        && let Ok(s) = std::str::from_utf8(l)
        && let Some(at) = s.find(KEY)
    {
        let id: String = s[at + KEY.len()..]
            .chars()
            .take_while(|c| c.is_ascii_digit())
            .collect();
        if let Ok(k) = id.parse::<usize>()
            && let Some(c) = sh.seen.get(k)
        {
            sh.deliveries
                .lock()
                .expect("no panics while held")
                .push((k, sh.now()));
            if c.fetch_add(1, Ordering::Relaxed) + 1 == sh.n {
                sh.seen_all.notify_one();
            }
        }
    }
}

fn post_blocking(agent: &ureq::Agent, url: &str, body: &str) -> Duration {
    let t = Instant::now();
    let mut r = agent
        .post(url)
        .header("Content-Type", "application/json")
        .send(body)
        .expect("netmaster answers");
    let status = r.status().as_u16();
    let text = r.body_mut().read_to_string().unwrap_or_default();
    assert_eq!(status, 200, "POST {url}: {text}");
    t.elapsed()
}

fn pct(v: &mut [u64], q: f64) -> Duration {
    v.sort_unstable();
    Duration::from_nanos(quantile(v, q).unwrap_or(0))
}

async fn wait(n: &Notify, done: impl Fn() -> bool, limit: Duration) -> bool {
    let deadline = tokio::time::Instant::now() + limit;
    while !done() {
        if tokio::time::timeout_at(deadline, n.notified())
            .await
            .is_err()
        {
            return done();
        }
    }
    true
}

/// CPU (user, system) of netmaster's watch threads (`nm-watch-*`), from
/// `/proc/<pid>/task/*/stat`; zero for a netmaster without them.
fn thread_cpu(pid: u32) -> (Duration, Duration) {
    // SAFETY: sysconf has no preconditions.
    let hz = unsafe { libc::sysconf(libc::_SC_CLK_TCK) }.max(1) as f64;
    let mut user = 0u64;
    let mut sys = 0u64;
    let Ok(tasks) = std::fs::read_dir(format!("/proc/{pid}/task")) else {
        return (Duration::ZERO, Duration::ZERO);
    };
    for t in tasks.flatten() {
        let Ok(stat) = std::fs::read_to_string(t.path().join("stat")) else {
            continue;
        };
        let (Some(open), Some(close)) = (stat.find('('), stat.rfind(')')) else {
            continue;
        };
        if !stat[open + 1..close].starts_with("nm-watch") {
            continue;
        }
        let f: Vec<&str> = stat[close + 2..].split(' ').collect();
        user += f.get(11).and_then(|x| x.parse().ok()).unwrap_or(0);
        sys += f.get(12).and_then(|x| x.parse().ok()).unwrap_or(0);
    }
    (
        Duration::from_secs_f64(user as f64 / hz),
        Duration::from_secs_f64(sys as f64 / hz),
    )
}

/// The fair floor of a change's fan-out: the CPU one thread spends
/// writing a line of a rule event's size to `n` loopback TCP sockets (one
/// `write` each, the receivers reading them on the agents' runtime), per
/// round, median of `rounds`. On loopback the writer's system call also
/// runs the receiver's TCP input in softirq context, as netmaster's does.
fn loopback_floor(rt: &tokio::runtime::Runtime, n: usize, rounds: usize) -> Duration {
    use tokio::io::AsyncReadExt;
    let listener = std::net::TcpListener::bind("127.0.0.1:0").expect("bind");
    let addr = listener.local_addr().expect("addr");
    let got = Arc::new(AtomicUsize::new(0));
    let mut readers = Vec::new();
    let mut writers = Vec::new();
    for _ in 0..n {
        let c = std::net::TcpStream::connect(addr).expect("connect");
        c.set_nodelay(true).expect("nodelay");
        let (s, _) = listener.accept().expect("accept");
        s.set_nodelay(true).expect("nodelay");
        writers.push(s);
        c.set_nonblocking(true).expect("nonblocking");
        let got = got.clone();
        readers.push(rt.spawn(async move {
            let mut c = TcpStream::from_std(c).expect("register");
            let mut buf = vec![0u8; 4096];
            while let Ok(k) = c.read(&mut buf).await {
                if k == 0 {
                    break;
                }
                got.fetch_add(k, Ordering::Relaxed);
            }
        }));
    }
    // A rule's watch line with its chunk framing (~330 bytes).
    let line = vec![b'x'; 330];
    let mut per_round = Vec::new();
    for r in 0..rounds {
        let t0 = thread_rusage();
        for w in &mut writers {
            std::io::Write::write_all(w, &line).expect("write");
        }
        per_round.push((thread_rusage() - t0).as_nanos() as u64);
        let want = (r + 1) * n * line.len();
        let t = Instant::now();
        while got.load(Ordering::Relaxed) < want && t.elapsed() < Duration::from_secs(30) {
            std::thread::sleep(Duration::from_millis(1));
        }
        std::thread::sleep(Duration::from_millis(20));
    }
    drop(writers);
    for r in readers {
        r.abort();
    }
    pct(&mut per_round, 0.5)
}

/// CPU (user + system) of the calling thread.
fn thread_rusage() -> Duration {
    // SAFETY: getrusage fills the zeroed struct.
    let mut u: libc::rusage = unsafe { std::mem::zeroed() };
    // SAFETY: valid pointer to a rusage.
    unsafe { libc::getrusage(libc::RUSAGE_THREAD, &mut u) };
    let tv = |t: libc::timeval| Duration::new(t.tv_sec as u64, t.tv_usec as u32 * 1000);
    tv(u.ru_utime) + tv(u.ru_stime)
}

fn run_n(bin: &std::path::Path, n: usize, rules: usize) {
    let dir = tempfile::tempdir().expect("temp dir");
    let args: Vec<String> = [
        "--store".to_owned(),
        format!("embedded:{}", dir.path().join("nm.redb").display()),
        "--mode".into(),
        "test".into(),
        "--log-level".into(),
        "warn".into(),
        "--max-connections".into(),
        (4 * n + 100).to_string(),
    ]
    .to_vec();
    let nm = Daemon::start(bin, &args, Some(dir));
    let addr = nm.addr;
    let admin = daemon::ureq_agent();
    post_blocking(
        &admin,
        &format!("{}/api/v1/policys/default:fan/", nm.url()),
        r#"{"tenantName":"default","policyName":"fan"}"#,
    );
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .expect("runtime");
    let floor = loopback_floor(&rt, n, rules);
    let sh = Arc::new(Shared {
        start: Instant::now(),
        n,
        synced: AtomicUsize::new(0),
        synced_all: Notify::new(),
        seen: (0..rules + 1).map(|_| AtomicUsize::new(0)).collect(),
        seen_all: Notify::new(),
        deliveries: Mutex::new(Vec::new()),
        heartbeats: Mutex::new(Vec::new()),
        revs: (0..n).map(|_| AtomicU64::new(0)).collect(),
        resumed: AtomicUsize::new(0),
    });
    // Heartbeats on their own thread: an agent's heartbeat does not wait
    // for other agents' snapshot parsing (they are other hosts).
    let hb_rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(1)
        .thread_name("agent-heartbeat")
        .enable_all()
        .build()
        .expect("runtime");
    let registered = Arc::new(AtomicUsize::new(0));
    let _g = rt.enter();
    for i in 0..n {
        hb_rt.spawn(heartbeat(addr, i, sh.clone(), registered.clone()));
    }
    let t = Instant::now();
    while registered.load(Ordering::Relaxed) < n {
        assert!(
            t.elapsed() < Duration::from_secs(120),
            "nodes did not register"
        );
        std::thread::sleep(Duration::from_millis(20));
    }
    let reg_time = t.elapsed();
    std::thread::sleep(Duration::from_secs(2));
    let rss0 = nm.rss();

    // Connect all streams at once.
    let t = Instant::now();
    let mut streams: Vec<_> = (0..n)
        .map(|i| rt.spawn(watch(addr, i, sh.clone(), None)))
        .collect();
    let ok = rt.block_on(wait(
        &sh.synced_all,
        || sh.synced.load(Ordering::Relaxed) >= n,
        Duration::from_secs(120),
    ));
    assert!(
        ok,
        "only {} of {n} synced",
        sh.synced.load(Ordering::Relaxed)
    );
    let connect = t.elapsed();
    std::thread::sleep(Duration::from_secs(2));
    let rss1 = nm.rss();

    // Idle CPU (heartbeats only).
    let idle_window = Duration::from_secs(5);
    let (u0, s0) = nm.cpu();
    std::thread::sleep(idle_window);
    let (u1, s1) = nm.cpu();
    let idle_rate = ((u1 + s1) - (u0 + s0)).as_secs_f64() / idle_window.as_secs_f64();
    let idle_user_rate = (u1 - u0).as_secs_f64() / idle_window.as_secs_f64();

    // Rule changes, one after another.
    let rules_url = |k: usize| format!("{}/api/v1/rules/default:fan:r{k}/", nm.url());
    let mut posts = Vec::new();
    let mut at_all = Vec::new();
    let mut sent_at = Vec::new();
    // FANOUT_ATTACH='<command>': a tool attached to netmaster over the
    // change phase ({pid} and {n} replaced; stopped with SIGINT), e.g.
    // 'perf record -q -g -p {pid} -o /tmp/perf-{n}.data' or
    // 'strace -f -c -e trace=write,writev,sendmsg -o /tmp/st-{n} -p {pid}'.
    let attached = std::env::var("FANOUT_ATTACH").ok().and_then(|cmd| {
        let cmd = cmd
            .replace("{pid}", &nm.pid().to_string())
            .replace("{n}", &n.to_string());
        let mut words = cmd.split_whitespace();
        std::process::Command::new(words.next()?)
            .args(words)
            .stdout(std::process::Stdio::null())
            .spawn()
            .ok()
    });
    if attached.is_some() {
        std::thread::sleep(Duration::from_millis(1000));
    }
    let (cu0, cs0) = nm.cpu();
    let th0 = thread_cpu(nm.pid());
    let tc = Instant::now();
    for k in 0..rules {
        let body = format!(
            r#"{{"tenantName":"default","policyName":"fan","ruleId":"r{k}","direction":"in","action":"allow","protocol":"tcp","port":{},"priority":1}}"#,
            1000 + k
        );
        let t0 = sh.now();
        sent_at.push(t0);
        posts.push(post_blocking(&admin, &rules_url(k), &body).as_nanos() as u64);
        let ok = rt.block_on(wait(
            &sh.seen_all,
            || sh.seen[k].load(Ordering::Relaxed) >= n,
            Duration::from_secs(60),
        ));
        assert!(
            ok,
            "rule {k} reached {} of {n}",
            sh.seen[k].load(Ordering::Relaxed)
        );
        at_all.push(sh.now() - t0);
        std::thread::sleep(Duration::from_millis(50));
    }
    let change_window = tc.elapsed();
    let (cu1, cs1) = nm.cpu();
    let th1 = thread_cpu(nm.pid());
    if let Some(mut p) = attached {
        // SAFETY: SIGINT to the child we started (it writes its file).
        unsafe { libc::kill(p.id() as libc::pid_t, libc::SIGINT) };
        let _ = p.wait();
    }
    let per_change = |total: f64, rate: f64| {
        Duration::from_secs_f64(
            ((total - rate * change_window.as_secs_f64()) / rules as f64).max(0.0),
        )
    };
    let cpu_change = per_change(((cu1 + cs1) - (cu0 + cs0)).as_secs_f64(), idle_rate);
    let cpu_change_user = per_change((cu1 - cu0).as_secs_f64(), idle_user_rate);
    // The watch threads' share (idle rate not subtracted: idle streams
    // cost nothing but the progress line every 5 s).
    let watch_user = (th1.0 - th0.0).as_secs_f64() / rules as f64;
    let watch_sys = (th1.1 - th0.1).as_secs_f64() / rules as f64;
    let mut deliveries: Vec<u64> = sh
        .deliveries
        .lock()
        .expect("no panics while held")
        .iter()
        .filter(|(k, _)| *k < rules)
        .map(|(k, t)| t - sent_at[*k])
        .collect();

    // Mass reconnect: drop every stream, reopen all at once (snapshot).
    for s in streams.drain(..) {
        s.abort();
    }
    std::thread::sleep(Duration::from_millis(500));
    sh.synced.store(0, Ordering::Relaxed);
    let hb_from = sh.now();
    let t = Instant::now();
    let streams2: Vec<_> = (0..n)
        .map(|i| rt.spawn(watch(addr, i, sh.clone(), None)))
        .collect();
    let ok = rt.block_on(wait(
        &sh.synced_all,
        || sh.synced.load(Ordering::Relaxed) >= n,
        Duration::from_secs(120),
    ));
    assert!(
        ok,
        "reconnect: only {} synced",
        sh.synced.load(Ordering::Relaxed)
    );
    let reconnect = t.elapsed();
    let hb_to = sh.now() + 1_000_000_000;
    std::thread::sleep(Duration::from_secs(1));
    let mut hb_during: Vec<u64> = sh
        .heartbeats
        .lock()
        .expect("no panics while held")
        .iter()
        .filter(|(sent, _)| *sent >= hb_from && *sent <= hb_to)
        .map(|(_, l)| *l)
        .collect();
    let mut hb_all: Vec<u64> = sh
        .heartbeats
        .lock()
        .expect("no panics while held")
        .iter()
        .map(|(_, l)| *l)
        .collect();

    // Resume: drop again, reopen with from = last seen + 1.
    for s in streams2 {
        s.abort();
    }
    std::thread::sleep(Duration::from_millis(500));
    let t = Instant::now();
    let _streams3: Vec<_> = (0..n)
        .map(|i| {
            let from = sh.revs[i].load(Ordering::Relaxed) + 1;
            rt.spawn(watch(addr, i, sh.clone(), Some(from)))
        })
        .collect();
    let ok = rt.block_on(wait(
        &sh.synced_all,
        || sh.resumed.load(Ordering::Relaxed) >= n,
        Duration::from_secs(120),
    ));
    assert!(
        ok,
        "resume: only {} answered",
        sh.resumed.load(Ordering::Relaxed)
    );
    let resume = t.elapsed();
    // One more change reaches every resumed stream.
    let k = rules;
    let t0 = sh.now();
    post_blocking(
        &admin,
        &rules_url(k),
        &format!(
            r#"{{"tenantName":"default","policyName":"fan","ruleId":"r{k}","direction":"in","action":"allow","protocol":"tcp","port":999,"priority":1}}"#
        ),
    );
    let ok = rt.block_on(wait(
        &sh.seen_all,
        || sh.seen[k].load(Ordering::Relaxed) >= n,
        Duration::from_secs(60),
    ));
    assert!(
        ok,
        "the change after resuming reached {}",
        sh.seen[k].load(Ordering::Relaxed)
    );
    let after_resume = Duration::from_nanos(sh.now() - t0);

    let per_stream = rss1.saturating_sub(rss0) / n as u64;
    println!(
        "N={n:5} | register {:.2}s | connect+synced {:.3}s | rule→all deliveries p50 {} p99 {} ms | at-all p50 {} max {} ms | POST p50 {} p99 {} ms | CPU/change {} ms (user {} ms; idle {:.1}% of a core; watch threads user {:.2} sys {:.2} ms) | floor: {n} bare loopback writes {:.2} ms CPU | RSS {:.1}→{:.1} MB, {:.1} KB/stream | reconnect(snapshot) {:.3}s, heartbeats meanwhile p99 {} ms (n={}), all p99 {} ms | resume {:.3}s, next change at all {} ms | load {}",
        reg_time.as_secs_f64(),
        connect.as_secs_f64(),
        ms(pct(&mut deliveries, 0.5)),
        ms(pct(&mut deliveries, 0.99)),
        ms(pct(&mut at_all, 0.5)),
        ms(pct(&mut at_all, 1.0)),
        ms(pct(&mut posts, 0.5)),
        ms(pct(&mut posts, 0.99)),
        ms(cpu_change),
        ms(cpu_change_user),
        idle_rate * 100.0,
        watch_user * 1e3,
        watch_sys * 1e3,
        floor.as_secs_f64() * 1e3,
        rss0 as f64 / 1e6,
        rss1 as f64 / 1e6,
        per_stream as f64 / 1024.0,
        reconnect.as_secs_f64(),
        ms(pct(&mut hb_during, 0.99)),
        hb_during.len(),
        ms(pct(&mut hb_all, 0.99)),
        resume.as_secs_f64(),
        ms(after_resume),
        daemon::load_average(),
    );
    rt.shutdown_timeout(Duration::from_secs(1));
    hb_rt.shutdown_timeout(Duration::from_secs(1));
    drop(nm);
}

fn main() {
    // `cargo bench` passes `--bench`; take the numbers only.
    let args: Vec<String> = std::env::args()
        .skip(1)
        .filter(|a| !a.starts_with("--"))
        .collect();
    let ns: Vec<usize> = args
        .first()
        .map(|s| s.split(',').filter_map(|x| x.parse().ok()).collect())
        .unwrap_or_else(|| vec![10, 100, 1000, 5000]);
    let rules: usize = args.get(1).and_then(|s| s.parse().ok()).unwrap_or(20);
    let limit = daemon::raise_fd_limit();
    let max = ns.iter().copied().max().unwrap_or(0);
    assert!(
        limit as usize > 2 * max + 100,
        "open-file limit {limit} is too low for {max} agents"
    );
    let bin = daemon::bin_dir().join("netmaster");
    println!(
        "fanout: netmaster {} | load {}",
        bin.display(),
        daemon::load_average()
    );
    for n in ns {
        run_n(&bin, n, rules);
    }
}
