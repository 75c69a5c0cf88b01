//! Cluster scale bench: H namespace hosts (default 3) × N endpoints per
//! host (default 300), all in one group of one VXLAN network, on the
//! system-test harness (`contiv-bins/tests/cluster/`: real netmaster,
//! netplugin with `--datapath ovs`, contiv-cni, one Open vSwitch per host).
//! Two latencies, as distributions (p50/p90/p99/max):
//!
//! * **rule realised everywhere**: from the start of `netctl policy
//!   rule-add` (a new `in tcp <port> allow` rule of the group's policy) to
//!   the rule's flow (cookie = the compiled rule's id) being installed in
//!   every host's switch — polled over OpenFlow (flow-stats filtered by
//!   cookie) on each host's bridge; then the same for `rule-rm` until the
//!   flow is gone everywhere. `netctl` runs in the hub's network
//!   namespace through setns(2), not `ip netns exec` (whose mount
//!   namespace copy would be counted as netctl's time); beside it the
//!   bench prints netmaster's own handler time for the POSTs (from its
//!   request log) and what starting a process in the hub costs both ways.
//! * **endpoint reachable cluster-wide**: from the start of a CNI ADD on
//!   host A (a requested address) to the first ICMP echo reply to it from a
//!   container on host B (`ping -D -i 0.002`, a static neighbour entry in
//!   the prober so kernel ARP timers are not measured); the ADD's own
//!   duration is reported alongside. A sample slower than 300 ms is
//!   printed with what tells its cause apart: the ping line of the first
//!   reply (`icmp_seq` = which request was answered, `time=` = how long
//!   its reply took: a late request vs a held reply), on eBPF the drop
//!   counters by reason that grew on both hosts meanwhile, and the new
//!   container's neighbour table (`probes`) and `eth0` counters.
//!
//! Not a criterion bench: what matters is the tail of a latency
//! distribution over a live cluster, so it prints percentiles.
//!
//! Run (needs root, Open vSwitch, release binaries):
//! `benches/cluster.sh [hosts] [endpoints per host] [rule samples] [endpoint samples]`,
//! which builds `contiv-bins` in release mode and runs
//! `cargo bench -p contiv-benches --bench cluster -- …`.

#![allow(clippy::unwrap_used)]

#[path = "../../contiv-bins/tests/cluster/mod.rs"]
#[allow(missing_docs)]
mod cluster;

use cluster::{Attach, Cluster, ClusterSpec, Container};
use contiv_dp_ovs::openflow::conn::Connection;
use contiv_dp_ovs::openflow::wire::FlowStatsRequest;
use contiv_dp_ovs::pipeline::cookie::CookieKind;
use std::io::{BufRead, BufReader};
use std::net::Ipv4Addr;
use std::process::Stdio;
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

const NET: &str = "scale";
const GROUP: &str = "scale-g";
const POLICY: &str = "scale-p";

/// Where a rule shows up on every host: OVS flows (by cookie, over
/// OpenFlow) or the eBPF datapath's pinned rule lists (the rule's id in
/// the active generation).
enum Watch {
    Ovs(Switches),
    Ebpf(Vec<contiv_dp_ebpf::inspect::Pinned>),
}

impl Watch {
    fn connect(c: &Cluster) -> Watch {
        match c.hosts[0].datapath() {
            cluster::Datapath::Ovs => Watch::Ovs(Switches::connect(c)),
            cluster::Datapath::Ebpf => Watch::Ebpf(
                c.hosts
                    .iter()
                    .map(|h| match &h.switch {
                        cluster::host::Switch::Ebpf(b) => {
                            contiv_dp_ebpf::inspect::Pinned::new(&b.pin_root())
                        }
                        cluster::host::Switch::Ovs(_) => unreachable!("one datapath per cluster"),
                    })
                    .collect(),
            ),
        }
    }

    /// The time from `t0` until compiled rule `rid` is (`present`) or is
    /// no longer in force on every host.
    fn wait_rule(&self, rid: u64, present: bool, t0: Instant) -> Duration {
        match self {
            Watch::Ovs(sw) => sw.wait_cookie(CookieKind::Rule.cookie(rid), present, t0),
            Watch::Ebpf(hosts) => std::thread::scope(|s| {
                let waits: Vec<_> = hosts
                    .iter()
                    .map(|p| {
                        s.spawn(move || {
                            let deadline = Instant::now() + Duration::from_secs(30);
                            loop {
                                if p.rule_enforced(rid).unwrap_or(false) == present {
                                    return t0.elapsed();
                                }
                                assert!(
                                    Instant::now() < deadline,
                                    "rule {rid:#x} not {present} within 30s"
                                );
                                std::thread::sleep(Duration::from_micros(500));
                            }
                        })
                    })
                    .collect();
                waits
                    .into_iter()
                    .map(|w| w.join().unwrap())
                    .max()
                    .unwrap_or_default()
            }),
        }
    }
}

/// OpenFlow connections to every host's integration bridge.
struct Switches {
    conns: Vec<Connection>,
    _events: Vec<contiv_dp_ovs::openflow::conn::Events>,
    rt: tokio::runtime::Runtime,
}

impl Switches {
    fn connect(c: &Cluster) -> Switches {
        let rt = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(2)
            .enable_all()
            .build()
            .unwrap();
        let mut conns = Vec::new();
        let mut events = Vec::new();
        for h in &c.hosts {
            let path = h
                .ovs()
                .expect("an OVS host")
                .mgmt_socket(cluster::host::BRIDGE);
            let (conn, ev) = rt
                .block_on(Connection::connect_unix(&path))
                .unwrap_or_else(|e| panic!("OpenFlow to {}: {e}", path.display()));
            conns.push(conn);
            events.push(ev);
        }
        Switches {
            conns,
            _events: events,
            rt,
        }
    }

    /// Waits until every switch has (`present`) or lacks a flow with
    /// `cookie`; returns when the last one got there, measured from `t0`.
    fn wait_cookie(&self, cookie: u64, present: bool, t0: Instant) -> Duration {
        self.rt.block_on(async {
            let waits = self.conns.iter().map(|conn| async move {
                let req = FlowStatsRequest {
                    cookie,
                    cookie_mask: u64::MAX,
                    ..FlowStatsRequest::default()
                };
                let deadline = Instant::now() + Duration::from_secs(30);
                loop {
                    let flows = conn.flow_stats(req.clone()).await.expect("flow stats");
                    if flows.is_empty() != present {
                        return t0.elapsed();
                    }
                    assert!(
                        Instant::now() < deadline,
                        "cookie {cookie:#x} not {present} within 30s"
                    );
                    tokio::time::sleep(Duration::from_micros(500)).await;
                }
            });
            futures::future::join_all(waits)
                .await
                .into_iter()
                .max()
                .unwrap_or_default()
        })
    }
}

fn rule_latency(c: &mut Cluster, samples: usize) {
    let sw = Watch::connect(c);
    let (mut add, mut add_cli, mut rm) = (Vec::new(), Vec::new(), Vec::new());
    for i in 0..samples {
        let id = format!("{}", 100 + i);
        let port = format!("-port={}", 10000 + i);
        let rid = contiv_policy::rule_id(
            &format!("default:{GROUP}"),
            &format!("default:{POLICY}"),
            &id,
        );
        let t0 = Instant::now();
        c.netctl(&[
            "policy",
            "rule-add",
            POLICY,
            &id,
            "-direction=in",
            "-protocol=tcp",
            &port,
            "-action=allow",
            "-priority=50",
        ]);
        add_cli.push(t0.elapsed());
        add.push(sw.wait_rule(rid.0, true, t0));
        let t1 = Instant::now();
        c.netctl(&["policy", "rule-rm", POLICY, &id]);
        rm.push(sw.wait_rule(rid.0, false, t1));
    }
    contiv_benches::print_percentiles("netctl rule-add returns", add_cli);
    contiv_benches::print_percentiles("rule-add -> in force on every host", add);
    contiv_benches::print_percentiles("rule-rm -> gone from every host", rm);
    contiv_benches::print_percentiles(
        "  netmaster's POST /rules handler (its log)",
        handler_times(c, "POST", "/api/v1/rules/"),
    );
    spawn_overhead(c, samples.min(100));
}

/// The time netmaster spent answering each `method` request under
/// `path`, from the `micros=` of its request log lines (`--log-level
/// info` logs every write).
fn handler_times(c: &Cluster, method: &str, path: &str) -> Vec<Duration> {
    let log = std::fs::read_to_string(c.dir().join("netmaster0.log")).unwrap_or_default();
    log.lines()
        .filter(|l| {
            l.contains(" request ")
                && l.contains(&format!("method={method}"))
                && l.contains(&format!("path={path}"))
        })
        .filter_map(|l| {
            let us = l.split("micros=").nth(1)?.split_whitespace().next()?;
            us.parse().ok().map(Duration::from_micros)
        })
        .collect()
}

/// What starting a process in the hub costs the harness, beside netctl:
/// `/bin/true` through `ip netns exec` (a private mount namespace, a
/// copy of every netns mount) and through setns(2) before exec (how the
/// harness runs netctl).
fn spawn_overhead(c: &Cluster, samples: usize) {
    let time = |mut cmd: std::process::Command| {
        let t = Instant::now();
        let st = cmd.stdin(Stdio::null()).status().unwrap();
        assert!(st.success());
        t.elapsed()
    };
    let (mut ipns, mut setns) = (Vec::new(), Vec::new());
    for _ in 0..samples {
        ipns.push(time(c.hub.ns.command("/bin/true")));
        setns.push(time(c.hub.ns.net_command("/bin/true").unwrap()));
    }
    contiv_benches::print_percentiles("  spawn /bin/true via `ip netns exec` (hub)", ipns);
    contiv_benches::print_percentiles("  spawn /bin/true via setns (hub)", setns);
}

/// Pings `ip` from `prober` every 2 ms until the first reply; its wall
/// clock time.
fn first_reply(prober: &Container, ip: Ipv4Addr) -> std::process::Child {
    prober
        .ns
        .command("ping")
        .args(["-D", "-n", "-i", "0.002", "-w", "20", &ip.to_string()])
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .unwrap()
}

/// The eBPF drop counters of hosts `a` and `b` (none on OVS).
fn drops(c: &Cluster, a: usize, b: usize) -> Vec<(String, Vec<(&'static str, u64)>)> {
    [a, b]
        .iter()
        .filter_map(|&i| match &c.hosts[i].switch {
            cluster::host::Switch::Ebpf(e) => Some((
                c.hosts[i].name.clone(),
                contiv_dp_ebpf::inspect::Pinned::new(&e.pin_root())
                    .drops()
                    .unwrap_or_default(),
            )),
            cluster::host::Switch::Ovs(_) => None,
        })
        .collect()
}

fn endpoint_latency(c: &mut Cluster, samples: usize) {
    let hosts = c.host_names();
    let probers: Vec<Container> = hosts
        .iter()
        .map(|h| c.run(h, &format!("prober-{h}"), &Attach::net(NET).group(GROUP)))
        .collect();
    let (mut reach, mut adds) = (Vec::new(), Vec::new());
    for i in 0..samples {
        let a = i % hosts.len();
        let b = (a + 1) % hosts.len();
        let ip = Ipv4Addr::new(10, 100, 250, u8::try_from(1 + i % 250).unwrap());
        let mac = format!("02:02:0a:64:fa:{:02x}", ip.octets()[3]);
        let prober = &probers[b];
        prober.ns.must(&[
            "ip",
            "neigh",
            "replace",
            &ip.to_string(),
            "lladdr",
            &mac,
            "dev",
            "eth0",
        ]);
        let mut ping = first_reply(prober, ip);
        let out = ping.stdout.take().unwrap();
        let reader = std::thread::spawn(move || {
            for line in BufReader::new(out).lines().map_while(Result::ok) {
                if line.contains("bytes from") {
                    let ts = line.trim_start_matches('[').split(']').next()?.to_owned();
                    return Some((ts.parse::<f64>().ok()?, line));
                }
            }
            None
        });
        let drops_before = drops(c, a, b);
        std::thread::sleep(Duration::from_millis(20));
        let t0 = SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .unwrap()
            .as_secs_f64();
        let start = Instant::now();
        let ct = c.run(
            &hosts[a],
            &format!("ep{i}"),
            &Attach::net(NET).group(GROUP).with_ip(ip),
        );
        adds.push(start.elapsed());
        assert_eq!(ct.mac, mac, "the MAC netmaster derives from the address");
        let (t, line) = reader.join().unwrap().expect("a reply within 20s");
        let _ = ping.kill();
        let _ = ping.wait();
        let took = Duration::from_secs_f64((t - t0).max(0.0));
        if took > Duration::from_millis(300) {
            // Which echo request was answered, and how long its reply
            // took (`time=`), tell a dropped request from a held reply.
            println!(
                "  slow sample {i} ({ip}, {} -> {}): {took:?}; {line}",
                hosts[b], hosts[a]
            );
            for ((h, before), (_, after)) in drops_before.iter().zip(drops(c, a, b)) {
                let d: Vec<String> = before
                    .iter()
                    .zip(after)
                    .filter(|(x, y)| y.1 > x.1)
                    .map(|(x, y)| format!("{}+{}", x.0, y.1 - x.1))
                    .collect();
                println!("    drops on {h}: {}", d.join(" "));
            }
            let neigh = ct.ns.command("ip").args(["-s", "neigh"]).output().unwrap();
            println!(
                "    neighbours of the new container: {}",
                String::from_utf8_lossy(&neigh.stdout)
                    .trim()
                    .replace('\n', " | ")
            );
            let link = ct
                .ns
                .command("ip")
                .args(["-s", "-s", "-d", "link", "show", "eth0"])
                .output()
                .unwrap();
            println!(
                "    its eth0: {}",
                String::from_utf8_lossy(&link.stdout)
                    .trim()
                    .replace('\n', " | ")
            );
        }
        reach.push(took);
        prober
            .ns
            .must(&["ip", "neigh", "del", &ip.to_string(), "dev", "eth0"]);
        ct.remove();
    }
    contiv_benches::print_percentiles("CNI ADD on host A returns", adds);
    contiv_benches::print_percentiles("CNI ADD start -> first reply from host B", reach);
    for p in probers {
        p.remove();
    }
}

fn main() {
    let nums = contiv_benches::numeric_args();
    let hosts = nums.first().copied().unwrap_or(3);
    let per_host = nums.get(1).copied().unwrap_or(300);
    let rule_samples = nums.get(2).copied().unwrap_or(200);
    let ep_samples = nums.get(3).copied().unwrap_or(100);
    println!(
        "cluster bench: {hosts} hosts x {per_host} endpoints, {rule_samples} rule samples, {ep_samples} endpoint samples"
    );
    let mut spec = ClusterSpec::new(hosts);
    // DATAPATH=ebpf runs the cluster on the eBPF datapath.
    if std::env::var("DATAPATH").as_deref() == Ok("ebpf") {
        spec = spec.ebpf();
    }
    println!("datapath: {}", spec.datapath.as_str());
    spec.node_ttl = Duration::from_secs(10);
    spec.agent_flags = vec!["--log-level".into(), "warn".into()];
    let mut c = Cluster::start(spec);
    c.netctl(&["net", "create", "-s", "10.100.0.0/16", NET]);
    c.netctl(&["policy", "create", POLICY]);
    c.netctl(&[
        "policy",
        "rule-add",
        POLICY,
        "1",
        "-direction=in",
        "-protocol=tcp",
        "-action=deny",
    ]);
    c.netctl(&["group", "create", "-p", POLICY, NET, GROUP]);
    let t = Instant::now();
    let runtimes: Vec<_> = c
        .host_names()
        .iter()
        .map(|h| (h.clone(), c.runtime(h)))
        .collect();
    let all: Vec<Vec<Container>> = std::thread::scope(|s| {
        let hs: Vec<_> = runtimes
            .iter()
            .map(|(h, rt)| {
                s.spawn(move || {
                    (0..per_host)
                        .map(|i| {
                            Container::add(rt, &format!("s{h}-{i}"), &Attach::net(NET).group(GROUP))
                        })
                        .collect::<Vec<_>>()
                })
            })
            .collect();
        hs.into_iter().map(|h| h.join().unwrap()).collect()
    });
    let n: usize = all.iter().map(Vec::len).sum();
    println!(
        "{n} endpoints created in {:.1}s ({:.0}/s, {hosts} hosts in parallel)",
        t.elapsed().as_secs_f64(),
        n as f64 / t.elapsed().as_secs_f64()
    );
    for h in &c.hosts {
        println!("{}: {} flows on its switch", h.name, h.flows().len());
    }
    rule_latency(&mut c, rule_samples);
    endpoint_latency(&mut c, ep_samples);
    drop(all);
    c.teardown();
}
