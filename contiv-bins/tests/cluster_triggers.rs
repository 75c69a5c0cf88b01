//! Failure triggers of the original's system tests (reference §8.1) on a
//! three-host namespace cluster (one netmaster, embedded store, node
//! lease TTL 3 s), with a VXLAN and a VLAN network side by side:
//!
//! * TriggerNetpluginDisconnect — a host's netplugin killed with SIGKILL,
//!   and (second round) frozen with SIGSTOP: the other hosts drop its VTEP
//!   (tunnel port) and its endpoints (their flows) within 20 s; restarted
//!   (or resumed), everything comes back and pings work, including a new
//!   container on that host.
//! * TriggerNetPartition — a host's underlay and trunk cut for 25 s (at
//!   the hub): its peers drop it; restored, the cluster reconverges and
//!   every pair pings again.
//!
//! "Within 20 s" is the original's bound and a property here (the lease
//! TTL is 3 s), not a speed benchmark.

mod cluster;

use cluster::checks::{SETTLE, all_pairs_ping};
use cluster::{Attach, Cluster, ClusterSpec, Container, eventually};
use std::time::{Duration, Instant};

/// The original's bound for peers to forget a vanished node.
const FORGET: Duration = Duration::from_secs(20);
/// How long a restarted agent may take to be back everywhere.
const RETURN: Duration = Duration::from_secs(20);

/// One container per host on each network.
struct Workload {
    vx: Vec<Container>,
    vl: Vec<Container>,
}

impl Workload {
    fn start(c: &mut Cluster) -> Workload {
        c.netctl(&[
            "net",
            "create",
            "-e",
            "vxlan",
            "-s",
            "10.80.0.0/24",
            "trig-vx",
        ]);
        c.netctl(&[
            "net",
            "create",
            "-e",
            "vlan",
            "-s",
            "10.81.0.0/24",
            "trig-vl",
        ]);
        let hosts = c.host_names();
        let vx = hosts
            .iter()
            .map(|h| c.run(h, &format!("vx-{h}"), &Attach::net("trig-vx")))
            .collect();
        let vl = hosts
            .iter()
            .map(|h| c.run(h, &format!("vl-{h}"), &Attach::net("trig-vl")))
            .collect();
        let w = Workload { vx, vl };
        w.ping();
        w
    }

    fn ping(&self) {
        all_pairs_ping(&self.vx.iter().collect::<Vec<_>>());
        all_pairs_ping(&self.vl.iter().collect::<Vec<_>>());
    }

    /// The containers on `host`.
    fn on<'a>(&'a self, host: &'a str) -> impl Iterator<Item = &'a Container> + 'a {
        self.vx
            .iter()
            .chain(&self.vl)
            .filter(move |ct| ct.host == host)
    }
}

/// Every other host drops `gone`'s VTEP and endpoints, and netmaster's
/// node list loses it, within [`FORGET`]; returns how long it took.
fn assert_forgotten(c: &mut Cluster, w: &Workload, gone: &str) -> Duration {
    let start = Instant::now();
    let vtep = c.host(gone).vtep;
    let ids: Vec<String> = w.on(gone).map(Container::endpoint_id).collect();
    assert!(!ids.is_empty());
    for h in c.hosts.iter().filter(|h| h.name != gone) {
        eventually(
            &format!(
                "{} drops {gone}'s VTEP {vtep} and its endpoints {ids:?}",
                h.name
            ),
            FORGET.saturating_sub(start.elapsed()),
            || {
                (!h.tunnels().contains(&vtep) && ids.iter().all(|id| !h.has_remote_endpoint(id)))
                    .then_some(())
            },
        );
    }
    eventually(
        &format!("netmaster forgets node {gone}"),
        FORGET.saturating_sub(start.elapsed()),
        || (!c.nodes().contains(gone)).then_some(()),
    );
    start.elapsed()
}

/// Every host has a tunnel to every other one and the remote endpoints of
/// every other host's containers; then all pairs ping.
fn assert_back(c: &mut Cluster, w: &Workload) {
    c.wait_mesh(RETURN);
    for h in &c.hosts {
        for ct in w.vx.iter().chain(&w.vl).filter(|ct| ct.host != h.name) {
            let id = ct.endpoint_id();
            eventually(
                &format!("{} has remote endpoint {} of {}", h.name, ct.name, ct.host),
                RETURN,
                || h.has_remote_endpoint(&id).then_some(()),
            );
        }
    }
    eventually("netmaster lists every node", RETURN, || {
        (c.nodes().len() == c.hosts.len()).then_some(())
    });
    w.ping();
}

/// A new container on `host` (each network) reaches every existing one.
fn newcomer(c: &Cluster, w: &Workload, host: &str, tag: &str) {
    for (net, olds) in [("trig-vx", &w.vx), ("trig-vl", &w.vl)] {
        let n = c.run(host, &format!("new{tag}-{net}"), &Attach::net(net));
        for o in olds {
            assert!(
                n.ping_within(&o.ip.to_string(), SETTLE),
                "{} on {host} -> {} on {}",
                n.name,
                o.name,
                o.host
            );
        }
        n.remove();
    }
}

fn netplugin_disconnect(c: &mut Cluster) {
    let w = Workload::start(c);
    // Before: the peers hold h3's endpoints (the checks below can fail).
    for h in c.hosts.iter().filter(|h| h.name != "h3") {
        for ct in w.on("h3") {
            assert!(
                h.has_remote_endpoint(&ct.endpoint_id()),
                "{} lacks {}",
                h.name,
                ct.name
            );
        }
    }
    for round in 0..2 {
        c.step(&format!("round {round}: kill -9 netplugin on h3"));
        c.host_mut("h3").kill_agent();
        let took = assert_forgotten(c, &w, "h3");
        c.step(&format!("peers forgot h3 after {:.1}s", took.as_secs_f64()));
        c.step("restart netplugin on h3");
        let h3 = c.host_mut("h3");
        h3.start_agent();
        h3.wait_agent_ready(RETURN);
        assert_back(c, &w);
        newcomer(c, &w, "h3", &format!("k{round}"));
    }
    c.step("SIGSTOP netplugin on h2");
    c.host("h2").pause_agent();
    let took = assert_forgotten(c, &w, "h2");
    c.step(&format!("peers forgot h2 after {:.1}s", took.as_secs_f64()));
    c.step("SIGCONT netplugin on h2");
    c.host("h2").resume_agent();
    c.host_mut("h2").wait_agent_ready(RETURN);
    assert_back(c, &w);
    newcomer(c, &w, "h2", "s");
    cleanup(c, w);
}

fn net_partition(c: &mut Cluster) {
    let w = Workload::start(c);
    c.step("cut h2's underlay and trunk for 25s");
    let cut = Instant::now();
    c.cut("h2");
    let took = assert_forgotten(c, &w, "h2");
    c.step(&format!("peers forgot h2 after {:.1}s", took.as_secs_f64()));
    // h2's containers are unreachable from the others meanwhile.
    let h2_vx = w.vx.iter().find(|ct| ct.host == "h2").expect("vx on h2");
    let h1_vx = w.vx.iter().find(|ct| ct.host == "h1").expect("vx on h1");
    assert!(!h1_vx.ping(&h2_vx.ip.to_string()), "h2 is cut off");
    std::thread::sleep(Duration::from_secs(25).saturating_sub(cut.elapsed()));
    c.step("restore h2's links");
    c.restore("h2");
    c.host_mut("h2").wait_agent_ready(RETURN);
    assert_back(c, &w);
    newcomer(c, &w, "h2", "p");
    newcomer(c, &w, "h1", "p");
    cleanup(c, w);
}

fn cleanup(c: &mut Cluster, w: Workload) {
    for ct in w.vx.into_iter().chain(w.vl) {
        ct.remove();
    }
    c.netctl(&["net", "rm", "trig-vx"]);
    c.netctl(&["net", "rm", "trig-vl"]);
}

const TRIGGERS: [cluster::Case; 2] = [
    ("TriggerNetpluginDisconnect", netplugin_disconnect),
    ("TriggerNetPartition", net_partition),
];

#[test]
fn cluster_trigger_system_tests_on_three_hosts() {
    let mut c = Cluster::start(ClusterSpec::new(3));
    cluster::run_cases(&mut c, &TRIGGERS);
    c.teardown();
}

#[test]
fn cluster_trigger_system_tests_on_three_hosts_ebpf() {
    let mut c = Cluster::start(ClusterSpec::new(3).ebpf());
    cluster::run_cases(&mut c, &TRIGGERS);
    c.teardown();
}
