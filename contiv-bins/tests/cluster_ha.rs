//! TriggerNetmasterSwitchover (reference §8.1) on a three-host namespace
//! cluster whose control plane is three netmasters on a three-member etcd
//! cluster — and, from the same body, on the Consul test server with three
//! agents — all in the hub namespace (leader lease 2 s). Three times: the
//! leader is killed with SIGKILL; the other two agree on a new leader; the
//! existing containers (VXLAN and VLAN) keep pinging across hosts; new
//! containers are created on every host (the agents fail over to a live
//! netmaster) and reach the old ones; an intent change (a network) made
//! through a follower works; the killed netmaster is restarted and rejoins
//! as a follower.

mod cluster;

use cluster::checks::{SETTLE, all_pairs_ping};
use cluster::{Attach, Cluster, ClusterSpec, Container, ControlKind};
use std::time::Duration;

/// A killed leader's lease (2 s) runs out and another netmaster takes
/// over well within this; the bound is a property, not a benchmark.
const ELECTION: Duration = Duration::from_secs(20);

fn switchover(c: &mut Cluster) {
    c.netctl(&[
        "net",
        "create",
        "-e",
        "vxlan",
        "-s",
        "10.90.0.0/24",
        "ha-vx",
    ]);
    c.netctl(&["net", "create", "-e", "vlan", "-s", "10.91.0.0/24", "ha-vl"]);
    let hosts = c.host_names();
    let mut vx: Vec<Container> = hosts
        .iter()
        .map(|h| c.run(h, &format!("vx0-{h}"), &Attach::net("ha-vx")))
        .collect();
    let mut vl: Vec<Container> = hosts
        .iter()
        .map(|h| c.run(h, &format!("vl0-{h}"), &Attach::net("ha-vl")))
        .collect();
    all_pairs_ping(&vx.iter().collect::<Vec<_>>());
    all_pairs_ping(&vl.iter().collect::<Vec<_>>());
    let mut leaders = Vec::new();
    for round in 1..=3 {
        let old = c.control.wait_leader(ELECTION);
        leaders.push(old);
        c.step(&format!("round {round}: kill -9 the leader netmaster{old}"));
        c.control.kill(old);
        let new = c.control.wait_leader(ELECTION);
        assert_ne!(new, old, "a killed netmaster cannot lead");
        c.step(&format!("netmaster{new} leads"));
        // Connectivity is kept.
        all_pairs_ping(&vx.iter().collect::<Vec<_>>());
        all_pairs_ping(&vl.iter().collect::<Vec<_>>());
        // Intent changes through whichever netmaster netctl reaches.
        let net = format!("ha-extra{round}");
        let subnet = format!("10.92.{round}.0/24");
        c.netctl(&["net", "create", "-s", &subnet, &net]);
        // New endpoints on every host, on both networks, reach the old
        // ones; the agents' watch streams and requests moved on.
        for h in &hosts {
            for (net, olds) in [("ha-vx", &mut vx), ("ha-vl", &mut vl)] {
                let n = c.run(h, &format!("{net}-{round}-{h}"), &Attach::net(net));
                for o in olds.iter() {
                    assert!(
                        n.ping_within(&o.ip.to_string(), SETTLE),
                        "new {} on {h} -> {} on {}",
                        n.name,
                        o.name,
                        o.host
                    );
                }
                olds.push(n);
            }
        }
        for h in &mut c.hosts {
            h.wait_agent_ready(SETTLE);
        }
        c.netctl(&["net", "rm", &net]);
        c.step(&format!("restart netmaster{old}"));
        c.control.restart(old);
        let now = c.control.wait_leader(ELECTION);
        assert_ne!(now, old, "netmaster{old} rejoined as a follower");
        let info = c
            .control
            .http(old, "GET", "/info", None)
            .unwrap_or_else(|e| panic!("{e}"))
            .json();
        assert_eq!(info["current-state"], "follower", "{info}");
    }
    // The containers made during the switchovers ping each other too.
    all_pairs_ping(&vx.iter().collect::<Vec<_>>());
    all_pairs_ping(&vl.iter().collect::<Vec<_>>());
    c.step(&format!("leaders killed in turn: {leaders:?}"));
    for ct in vx.into_iter().chain(vl) {
        ct.remove();
    }
    c.netctl(&["net", "rm", "ha-vx"]);
    c.netctl(&["net", "rm", "ha-vl"]);
}

fn switchover_on(kind: ControlKind) {
    let mut c = Cluster::start(ClusterSpec::new(3).ha_on(kind));
    cluster::run_cases(&mut c, &[("TriggerNetmasterSwitchover", switchover)]);
    c.teardown();
}

#[test]
fn cluster_netmaster_switchover_on_three_hosts_and_three_netmasters() {
    switchover_on(ControlKind::Etcd3);
}

#[test]
fn cluster_netmaster_switchover_on_consul() {
    switchover_on(ControlKind::Consul3);
}

#[test]
fn cluster_netmaster_switchover_on_three_hosts_and_three_netmasters_ebpf() {
    let mut c = Cluster::start(ClusterSpec::new(3).ha().ebpf());
    cluster::run_cases(&mut c, &[("TriggerNetmasterSwitchover", switchover)]);
    c.teardown();
}
