//! BGP hand-off bench, on the system-test harness
//! (`contiv-bins/tests/cluster/`): one namespace host in routing mode
//! (netmaster, netplugin `--datapath ovs`, its gobgpd, contiv-cni) peering
//! with FRR `bgpd` + `zebra` playing the top-of-rack switch.
//!
//! * **CNI ADD → route in the ToR's RIB**: from the start of a CNI ADD to
//!   the container's `/32` being in FRR's BGP table (polled with `vtysh
//!   show bgp ipv4 unicast <prefix> json`, one query per ~5 ms plus its own
//!   cost), sequential ADDs; the ADD's own duration alongside.
//! * **Convergence after a netplugin restart with SCALE endpoints
//!   advertised**: SIGKILL the agent, start it again, time until the agent
//!   is ready and its speaker reports the session Established with all
//!   SCALE prefixes sent (*warm*: gobgpd is adopted; the ToR's count of
//!   UPDATEs from the host is checked unchanged), and — with gobgpd killed
//!   as well (*cold*) — until the ToR holds all SCALE prefixes again.
//! * **CNI DEL → route withdrawn**: for the first ADDS containers, from
//!   the start of the CNI DEL until the `/32` is gone from FRR's table
//!   (and, printed apart, until the CNI DEL itself returned).
//!
//! * **Where the time goes**: the CPU seconds netplugin, gobgpd and the
//!   datapath's daemon (ovs-vswitchd; none on eBPF) used during the bulk
//!   ADDs and during the DELs (from `/proc/<pid>/stat`), so the growth at
//!   SCALE endpoints can be put on the speaker or on the datapath.
//!
//! Not a criterion bench: it prints percentiles and durations of a live
//! system. Run (needs root, OVS, gobgpd, FRR, release binaries):
//! `benches/bgp.sh [adds] [scale]`; `DATAPATH=ebpf` (the harness's
//! `CONTIV_CLUSTER_DATAPATH`) runs the host on the eBPF datapath.

#![allow(clippy::unwrap_used)]

#[path = "../../contiv-bins/tests/cluster/mod.rs"]
#[allow(missing_docs)]
mod cluster;

use cluster::tor::{self, Speaker, TOR_AS, TOR_IP, Tor};
use cluster::{Attach, Cluster, ClusterSpec, Container, eventually};
use ipnet::Ipv4Net;
use std::time::{Duration, Instant};

const NET: &str = "bgpnet";

fn loadavg() -> String {
    std::fs::read_to_string("/proc/loadavg")
        .unwrap_or_default()
        .split_whitespace()
        .take(3)
        .collect::<Vec<_>>()
        .join(" ")
}

/// CPU seconds (user + system, with reaped children) of `pid`.
fn cpu_secs(pid: Option<u32>) -> f64 {
    // NaN (printed as such) when the process is not found.
    let Some(pid) = pid else { return f64::NAN };
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).unwrap_or_default();
    // Fields after the command (which may hold spaces) in parentheses.
    let rest = stat.rsplit_once(')').map(|(_, r)| r).unwrap_or_default();
    let f: Vec<f64> = rest
        .split_whitespace()
        .map(|x| x.parse().unwrap_or(0.0))
        .collect();
    // utime, stime, cutime, cstime are fields 14-17 (11-14 after the command).
    f.get(11..15).map_or(0.0, |v| v.iter().sum::<f64>()) / 100.0
}

/// The processes whose CPU the bench splits: netplugin, gobgpd, the
/// datapath's daemon.
fn cpu_split(c: &Cluster) -> [f64; 3] {
    let h = c.host("h1");
    let vswitchd = h.ovs().and_then(|o| {
        std::fs::read_to_string(o.rundir().join("ovs-vswitchd.pid"))
            .ok()?
            .trim()
            .parse()
            .ok()
    });
    [
        cpu_secs(h.agent_pid()),
        cpu_secs(h.speaker_pid()),
        cpu_secs(vswitchd),
    ]
}

fn print_cpu(what: &str, before: [f64; 3], after: [f64; 3]) {
    println!(
        "CPU during {what}: netplugin {:.1} s, gobgpd {:.1} s, ovs-vswitchd {:.1} s",
        after[0] - before[0],
        after[1] - before[1],
        after[2] - before[2]
    );
}

fn main() {
    let nums = contiv_benches::numeric_args();
    let adds = nums.first().copied().unwrap_or(100);
    let scale = nums.get(1).copied().unwrap_or(1000).max(adds);
    println!(
        "bgp bench: {adds} timed ADDs, {scale} endpoints for the restart (load {})",
        loadavg()
    );
    let mut spec = ClusterSpec::new(1);
    spec.datapath = cluster::host::Datapath::from_env();
    println!("datapath {}", spec.datapath.as_str());
    spec.agent_flags = [
        "--log-level",
        "warn",
        "--bgp-connect-retry",
        "1s",
        "--bgp-hold-time",
        "9s",
    ]
    .map(str::to_owned)
    .to_vec();
    let mut c = Cluster::start(spec);
    c.netctl(&["global", "set", "--fwd-mode", "routing"]);
    c.netctl(&[
        "net",
        "create",
        "-s",
        "10.50.0.0/16",
        "-g",
        "10.50.255.254",
        NET,
    ]);
    let tor = Tor::start(&c.hub, Speaker::Frr, 1);
    let router = tor::router_ip(1);
    c.netctl(&[
        "bgp",
        "create",
        "h1",
        "--router-ip",
        &format!("{router}/{}", tor::FABRIC_LEN),
        "--as",
        &tor::host_as(1).to_string(),
        "--neighbor-as",
        &TOR_AS.to_string(),
        "--neighbor",
        &TOR_IP.to_string(),
    ]);
    eventually(
        "the session is Established",
        Duration::from_secs(60),
        || tor.established(router).then_some(()),
    );
    let rt = c.runtime("h1");

    // CNI ADD → route in the ToR's RIB.
    let mut total = Vec::new();
    let mut add_only = Vec::new();
    let mut ctrs: Vec<Container> = Vec::new();
    for i in 0..adds {
        let t = Instant::now();
        let ctr = Container::add(&rt, &format!("b{i}"), &Attach::net(NET));
        add_only.push(t.elapsed());
        let p = Ipv4Net::from(ctr.ip);
        while !tor.has_route(p) {
            assert!(
                t.elapsed() < Duration::from_secs(30),
                "{p} never reached the ToR"
            );
            std::thread::sleep(Duration::from_millis(5));
        }
        total.push(t.elapsed());
        ctrs.push(ctr);
    }
    println!("load average {}", loadavg());
    contiv_benches::print_percentiles("CNI ADD (answered)", add_only);
    contiv_benches::print_percentiles("CNI ADD -> /32 in the ToR's BGP RIB", total);

    // Up to SCALE endpoints, two ADDs at a time.
    let cpu0 = cpu_split(&c);
    let t = Instant::now();
    let more: Vec<Container> = std::thread::scope(|s| {
        let rt = &rt;
        let hs: Vec<_> = (0..2)
            .map(|w| {
                s.spawn(move || {
                    (adds..scale)
                        .filter(|i| i % 2 == w)
                        .map(|i| Container::add(rt, &format!("b{i}"), &Attach::net(NET)))
                        .collect::<Vec<_>>()
                })
            })
            .collect();
        hs.into_iter().flat_map(|h| h.join().unwrap()).collect()
    });
    ctrs.extend(more);
    let want = ctrs.len() as u64;
    if cluster::sys::within(Duration::from_secs(120), || {
        tor.prefixes_from(router) == want
    })
    .is_none()
    {
        let rib = tor.rib();
        let mine: std::collections::BTreeSet<Ipv4Net> =
            ctrs.iter().map(|c| Ipv4Net::from(c.ip)).collect();
        let missing: Vec<_> = mine.iter().filter(|p| !rib.contains_key(p)).collect();
        let extra: Vec<_> = rib
            .iter()
            .filter(|(p, nh)| **nh == router && !mine.contains(p))
            .map(|(p, _)| p)
            .collect();
        panic!(
            "every endpoint in the ToR's RIB: not within 120s: the ToR counts {} from {router} (want {want}); missing {missing:?}; not ours {extra:?}",
            tor.prefixes_from(router)
        );
    }
    println!(
        "{want} endpoints created and advertised in {:.1}s (load {})",
        t.elapsed().as_secs_f64(),
        loadavg()
    );
    print_cpu(
        &format!("the {} bulk ADDs", want as usize - adds),
        cpu0,
        cpu_split(&c),
    );

    // Warm restart: the agent is killed and started again; gobgpd is adopted.
    let updates = tor.updates_from(router);
    c.host_mut("h1").kill_agent();
    let t = Instant::now();
    c.host_mut("h1").start_agent();
    c.host_mut("h1").wait_agent_ready(Duration::from_secs(120));
    let ready = t.elapsed();
    eventually(
        "the speaker reports every prefix sent",
        Duration::from_secs(120),
        || {
            let out = c.netctl(&["bgp", "inspect", "h1"]);
            let v: serde_json::Value = serde_json::from_str(&out).ok()?;
            (v["Oper"]["neighborStatus"] == "Established" && v["Oper"]["prefixesSent"] == want)
                .then_some(())
        },
    );
    let converged = t.elapsed();
    std::thread::sleep(Duration::from_secs(3));
    println!(
        "warm restart, {want} endpoints: agent ready {:.0} ms, speaker converged {:.0} ms, UPDATEs sent to the ToR meanwhile: {} (load {})",
        ready.as_secs_f64() * 1e3,
        converged.as_secs_f64() * 1e3,
        tor.updates_from(router) - updates,
        loadavg()
    );

    // Cold restart: gobgpd goes too; the session and every route come back.
    c.host_mut("h1").kill_agent();
    if let Some(pid) = c.host("h1").speaker_pid() {
        cluster::sys::quiet(&["kill", "-9", &pid.to_string()]);
    }
    eventually(
        "the ToR withdrew the host's routes",
        Duration::from_secs(60),
        || (tor.prefixes_from(router) == 0).then_some(()),
    );
    let t = Instant::now();
    c.host_mut("h1").start_agent();
    c.host_mut("h1").wait_agent_ready(Duration::from_secs(120));
    let ready = t.elapsed();
    eventually(
        "every route back in the ToR's RIB",
        Duration::from_secs(180),
        || (tor.prefixes_from(router) == want).then_some(()),
    );
    println!(
        "cold restart (gobgpd killed too), {want} endpoints: agent ready {:.0} ms, all routes in the ToR's RIB {:.0} ms (load {})",
        ready.as_secs_f64() * 1e3,
        t.elapsed().as_secs_f64() * 1e3,
        loadavg()
    );

    // CNI DEL → the /32 withdrawn from the ToR's RIB, for the first ADDS.
    let mut withdrawn = Vec::new();
    let mut answered = Vec::new();
    let rest = ctrs.split_off(adds.min(ctrs.len()));
    let cpu0 = cpu_split(&c);
    for ctr in ctrs {
        let p = Ipv4Net::from(ctr.ip);
        let t = Instant::now();
        ctr.remove();
        answered.push(t.elapsed());
        while tor.has_route(p) {
            assert!(
                t.elapsed() < Duration::from_secs(30),
                "{p} never left the ToR"
            );
            std::thread::sleep(Duration::from_millis(5));
        }
        withdrawn.push(t.elapsed());
    }
    println!("load average {}", loadavg());
    print_cpu(&format!("the {adds} DELs"), cpu0, cpu_split(&c));
    contiv_benches::print_percentiles("CNI DEL (answered)", answered);
    contiv_benches::print_percentiles("CNI DEL -> /32 withdrawn from the ToR's BGP RIB", withdrawn);
    drop(rest);
    drop(tor);
    c.teardown();
}
