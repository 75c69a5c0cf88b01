//! CNI side by side: ADD and DEL latency of `contiv-cni` (with the
//! `netplugin` agent on a real userspace Open vSwitch, and on the eBPF
//! datapath — each agent with a netmaster of its own) and of the reference
//! `bridge` + `host-local` plugins (Debian's containernetworking-plugins,
//! `/usr/lib/cni`), run the same way: the same runtime (our libcni harness,
//! `contiv-bins/tests/cni_support/libcni_harness.go`, built with Debian's
//! libcni), from inside the same kind of "host" namespace, into the same
//! fresh container namespaces, interleaved rounds of ADD on every namespace
//! then DEL on every namespace. Each call is one plugin exec by libcni, as a
//! container runtime makes it (for contiv: plugin → agent socket →
//! netmaster → datapath plumbing → answer).
//!
//! Prints every round and, per plugin and operation, the median and p99
//! over all calls (the first round of each plugin is a warm-up and not
//! counted).
//!
//! Release builds: run `benches/cni.sh [ROUNDS] [NAMESPACES]`, or
//! `cargo build --release -p contiv-bins --bins` and then
//! `cargo bench -p contiv-benches --bench cni -- 5 20`. The binaries are
//! taken from `CONTIV_BIN_DIR` (default `target/release`). Needs root,
//! openvswitch-switch, containernetworking-plugins, golang-go and
//! golang-github-appc-cni-dev (`make deps`); the harness starts and removes
//! its own OVS, namespaces and processes.

use clap::Parser;
use contiv_bins::netmaster::{NetmasterConfig, start};
use contiv_dp_ovs::testing::OvsInstance;
use serde_json::{Value, json};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

#[derive(Parser)]
struct Cli {
    #[command(flatten)]
    cfg: NetmasterConfig,
}

/// Namespaces created by the bench, deleted on drop.
struct Namespaces(Vec<String>);

impl Namespaces {
    fn add(&mut self, name: &str) -> PathBuf {
        run(&["ip", "netns", "add", name]);
        self.0.push(name.to_owned());
        run(&["ip", "-n", name, "link", "set", "lo", "up"]);
        Path::new("/var/run/netns").join(name)
    }
}

impl Drop for Namespaces {
    fn drop(&mut self) {
        for n in self.0.iter().rev() {
            let _ = Command::new("ip").args(["netns", "delete", n]).status();
        }
    }
}

/// A child process killed by pid on drop.
struct Proc(Child);

impl Drop for Proc {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

fn run(args: &[&str]) -> String {
    let out = Command::new(args[0])
        .args(&args[1..])
        .stdin(Stdio::null())
        .output()
        .unwrap_or_else(|e| panic!("cannot run {args:?}: {e}"));
    assert!(
        out.status.success(),
        "{args:?}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout).into_owned()
}

fn build_harness(dir: &Path) -> PathBuf {
    let src_file = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../contiv-bins/tests/cni_support/libcni_harness.go");
    let src = dir.join("src");
    std::fs::create_dir_all(&src).expect("src dir");
    std::fs::copy(&src_file, src.join("libcni_harness.go")).expect("copy the harness");
    let bin = dir.join("libcni_harness");
    let out = Command::new("go")
        .args(["build", "-o"])
        .arg(&bin)
        .arg("./libcni_harness.go")
        .current_dir(&src)
        .env(
            "GOPATH",
            format!("{}:/usr/share/gocode", dir.join("gopath").display()),
        )
        .env("GO111MODULE", "off")
        .env("GOFLAGS", "")
        .env("GOPROXY", "off")
        .env("GOCACHE", dir.join("gocache"))
        .output()
        .expect("go runs (make deps installs golang-go)");
    assert!(
        out.status.success(),
        "building the libcni harness: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    bin
}

/// One `bench` run of the harness inside `host_ns`: (ADD ns, DEL ns).
fn round(
    harness: &Path,
    host_ns: &str,
    conflist: &Path,
    cni_path: &str,
    cache: &Path,
    netns: &[PathBuf],
) -> (Vec<u64>, Vec<u64>) {
    let mut cmd = Command::new("ip");
    cmd.args(["netns", "exec", host_ns])
        .arg(harness)
        .arg("bench")
        .arg(conflist)
        .arg("1")
        .args(netns)
        .env("CNI_PATH", cni_path)
        .env("CNI_CACHE_DIR", cache);
    let out = cmd.output().expect("harness runs");
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(out.status.success(), "harness: {text}");
    let v: Value = serde_json::from_str(text.trim()).expect("harness JSON");
    let list = |k: &str| -> Vec<u64> {
        v[k].as_array()
            .expect("array")
            .iter()
            .filter_map(Value::as_u64)
            .collect()
    };
    (list("add"), list("del"))
}

fn quantile(v: &mut [u64], q: f64) -> f64 {
    v.sort_unstable();
    let i = ((v.len() as f64 - 1.0) * q).round() as usize;
    v[i] as f64 / 1e6
}

fn main() {
    let args: Vec<String> = std::env::args()
        .skip(1)
        .filter(|a| !a.starts_with('-'))
        .collect();
    let rounds: usize = args.first().and_then(|s| s.parse().ok()).unwrap_or(5);
    let n_ns: usize = args.get(1).and_then(|s| s.parse().ok()).unwrap_or(20);
    let bins = std::env::var_os("CONTIV_BIN_DIR")
        .map(PathBuf::from)
        .unwrap_or_else(|| Path::new(env!("CARGO_MANIFEST_DIR")).join("../target/release"));
    let (netplugin, contiv_cni) = (bins.join("netplugin"), bins.join("contiv-cni"));
    assert!(
        netplugin.is_file() && contiv_cni.is_file(),
        "{} has no netplugin/contiv-cni: run `cargo build --release -p contiv-bins --bins` first (benches/cni.sh does)",
        bins.display()
    );
    let dir = tempfile::Builder::new()
        .prefix("cni-bench-")
        .tempdir()
        .expect("tempdir");
    let t = dir.path();
    let harness = build_harness(t);
    let cni_bin = t.join("cni-bin");
    std::fs::create_dir_all(&cni_bin).expect("cni-bin dir");
    std::os::unix::fs::symlink(&contiv_cni, cni_bin.join("contiv-cni")).expect("link contiv-cni");
    let cni_path = format!("{}:/usr/lib/cni", cni_bin.display());

    // netmasters (in-process, embedded store), OVS, netplugins (release).
    let rt = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .expect("runtime");
    let (nm, url) = netmaster(&rt, &t.join("nm.redb"));
    let (nm2, url2) = netmaster(&rt, &t.join("nm2.redb"));
    let ovs = OvsInstance::start().expect("start a private Open vSwitch (make deps)");
    let sock = t.join("cni.sock");
    let _agent = agent(
        &rt,
        &netplugin,
        &url,
        &sock,
        &t.join("ovs-agent"),
        &[
            "--datapath".into(),
            "ovs".into(),
            "--ovs-rundir".into(),
            ovs.rundir().display().to_string(),
            "--ovs-netns".into(),
            ovs.netns().expect("private netns").to_owned(),
        ],
    );
    // The eBPF agent: its interfaces in a namespace of its own, its pins
    // on a private bpffs.
    let pid = std::process::id() % 100_000;
    let mut nss = Namespaces(Vec::new());
    let bpf_ns = format!("cbe{pid}");
    nss.add(&bpf_ns);
    let bpffs = t.join("bpffs");
    std::fs::create_dir_all(&bpffs).expect("bpffs dir");
    contiv_dp_ebpf::kernel::bpffs::mount(&bpffs).expect("mount a bpffs");
    let sock2 = t.join("cni-ebpf.sock");
    let _agent2 = agent(
        &rt,
        &netplugin,
        &url2,
        &sock2,
        &t.join("ebpf-agent"),
        &[
            "--datapath".into(),
            "ebpf".into(),
            "--bpf-fs".into(),
            bpffs.display().to_string(),
            "--bpf-netns".into(),
            bpf_ns.clone(),
        ],
    );

    // The "host" namespace both runtimes run in, and the containers.
    let host_ns = format!("cbh{pid}");
    nss.add(&host_ns);
    let containers: Vec<PathBuf> = (0..n_ns)
        .map(|i| nss.add(&format!("cbc{pid}-{i}")))
        .collect();
    let contiv_list = t.join("contiv.conflist");
    std::fs::write(
        &contiv_list,
        json!({"cniVersion": "1.0.0", "name": "contiv-net", "plugins": [
            {"type": "contiv-cni", "network": "contiv-net", "socket": sock.display().to_string()}]})
        .to_string(),
    )
    .expect("write the contiv conflist");
    let ebpf_list = t.join("contiv-ebpf.conflist");
    std::fs::write(
        &ebpf_list,
        json!({"cniVersion": "1.0.0", "name": "contiv-net", "plugins": [
            {"type": "contiv-cni", "network": "contiv-net", "socket": sock2.display().to_string()}]})
        .to_string(),
    )
    .expect("write the contiv eBPF conflist");
    let ref_list = t.join("reference.conflist");
    std::fs::write(
        &ref_list,
        json!({"cniVersion": "1.0.0", "name": "refnet", "plugins": [
            {"type": "bridge", "bridge": format!("cbr{pid}"), "isGateway": true,
             "ipam": {"type": "host-local", "subnet": "10.79.0.0/16",
                      "dataDir": t.join("host-local").display().to_string()}}]})
        .to_string(),
    )
    .expect("write the reference conflist");
    let cache = t.join("cache");

    println!(
        "CNI ADD/DEL latency, {n_ns} namespaces x {rounds} rounds (+1 warm-up), one plugin exec per call via libcni; load average {}",
        std::fs::read_to_string("/proc/loadavg")
            .unwrap_or_default()
            .trim()
    );
    let mut all: [(Vec<u64>, Vec<u64>); 3] = Default::default();
    let lists = [
        ("contiv-cni + netplugin (OVS)", &contiv_list),
        ("contiv-cni + netplugin (eBPF)", &ebpf_list),
        ("bridge + host-local", &ref_list),
    ];
    for r in 0..=rounds {
        for (k, (name, list)) in lists.iter().enumerate() {
            let (mut add, mut del) =
                round(&harness, &host_ns, list, &cni_path, &cache, &containers);
            println!(
                "round {r}{}: {name:<30} ADD median {:7.2} ms  DEL median {:7.2} ms",
                if r == 0 { " (warm-up)" } else { "" },
                quantile(&mut add.clone(), 0.5),
                quantile(&mut del.clone(), 0.5)
            );
            if r > 0 {
                all[k].0.append(&mut add);
                all[k].1.append(&mut del);
            }
        }
    }
    println!();
    println!("| plugin | ADD median | ADD p99 | DEL median | DEL p99 | calls |");
    println!("|---|---|---|---|---|---|");
    let mut medians = [0.0; 3];
    for (k, (name, _)) in lists.iter().enumerate() {
        let (add, del) = &mut all[k];
        medians[k] = quantile(add, 0.5);
        println!(
            "| {name} | {:.2} ms | {:.2} ms | {:.2} ms | {:.2} ms | {} |",
            medians[k],
            quantile(add, 0.99),
            quantile(del, 0.5),
            quantile(del, 0.99),
            add.len()
        );
    }
    println!();
    println!(
        "ADD median ratio contiv (OVS) / reference = {:.2} (target <= 1.00)",
        medians[0] / medians[2]
    );
    println!(
        "ADD median ratio contiv (eBPF) / reference = {:.2} (target <= 0.60)",
        medians[1] / medians[2]
    );
    // The reference bridge lives in the bench's host namespace, removed
    // with it; the agents and OVS stop on drop.
    drop(nss);
    drop(ovs);
    let _ = contiv_dp_ebpf::kernel::bpffs::unmount(&bpffs);
    rt.block_on(nm.stop());
    rt.block_on(nm2.stop());
}

/// An in-process netmaster on its own embedded store, with network
/// `default:contiv-net`; returns it and its URL.
fn netmaster(
    rt: &tokio::runtime::Runtime,
    store: &Path,
) -> (contiv_bins::netmaster::Running, String) {
    let store = format!("embedded:{}", store.display());
    let cfg = Cli::parse_from([
        "netmaster",
        "--store",
        &store,
        "--listen-url",
        "127.0.0.1:0",
        "--mode",
        "test",
        "--log-level",
        "warn",
    ])
    .cfg;
    let nm = rt.block_on(start(cfg)).expect("netmaster starts");
    let url = format!("http://{}", nm.addr);
    let http = ureq::Agent::config_builder()
        .http_status_as_error(false)
        .proxy(None)
        .build();
    let http: ureq::Agent = http.into();
    let deadline = Instant::now() + Duration::from_secs(30);
    loop {
        let ok = http
            .post(&format!("{url}/api/v1/networks/default:contiv-net/"))
            .header("Content-Type", "application/json")
            .send(
                json!({"tenantName": "default", "networkName": "contiv-net", "encap": "vxlan",
                       "subnet": "10.1.0.0/16", "gateway": "10.1.255.254"})
                .to_string(),
            )
            .map(|r| r.status().as_u16() == 200)
            .unwrap_or(false);
        if ok {
            break;
        }
        assert!(Instant::now() < deadline, "netmaster did not come up");
        std::thread::sleep(Duration::from_millis(100));
    }
    (nm, url)
}

/// A release `netplugin` with `datapath` flags, serving CNI on `sock`,
/// state in `dir`; waits until it is ready.
fn agent(
    rt: &tokio::runtime::Runtime,
    netplugin: &Path,
    url: &str,
    sock: &Path,
    dir: &Path,
    datapath: &[String],
) -> Proc {
    std::fs::create_dir_all(dir).expect("agent dir");
    let log = std::fs::File::create(dir.join("netplugin.log")).expect("log file");
    let p = Proc(
        Command::new(netplugin)
            .args(datapath)
            .args(["--host", "bench", "--netmaster", url])
            .arg("--cni-socket")
            .arg(sock)
            .arg("--docker-plugin-dir")
            .arg(dir)
            .arg("--state-dir")
            .arg(dir.join("state"))
            .args(["--log-level", "warn"])
            .stdout(Stdio::null())
            .stderr(log)
            .spawn()
            .expect("netplugin starts"),
    );
    let deadline = Instant::now() + Duration::from_secs(60);
    while !rt.block_on(async {
        contiv_bins::netplugin::unix::request(
            sock,
            axum::http::Method::GET,
            "/status",
            None,
            Duration::from_secs(2),
        )
        .await
        .ok()
        .and_then(|(_, b)| serde_json::from_slice::<Value>(&b).ok())
        .is_some_and(|v| v["ready"] == true)
    }) {
        assert!(
            Instant::now() < deadline,
            "netplugin not ready: {}",
            std::fs::read_to_string(dir.join("netplugin.log")).unwrap_or_default()
        );
        std::thread::sleep(Duration::from_millis(50));
    }
    p
}
