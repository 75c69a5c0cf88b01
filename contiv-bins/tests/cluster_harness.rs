//! The cluster harness itself: a test that fails half-way still leaves
//! nothing behind — no namespace (hub, hosts, containers, the agents' DNS
//! namespaces), no process (netmaster, netplugin, OVS, a TCP listener), no
//! directory — and the failure helpers do what they say (a cut host is
//! unreachable, a restored one reachable again).

mod cluster;

use cluster::checks::SETTLE;
use cluster::{Attach, Cluster, ClusterSpec, Inventory};
use std::sync::{Arc, Mutex};

/// What the failing test created: the cluster's inventory and the pids of
/// its TCP listeners.
type Created = Arc<Mutex<Option<(Inventory, Vec<u32>)>>>;

#[test]
fn cluster_harness_removes_everything_when_a_test_panics() {
    removes_everything(ClusterSpec::new(2));
}

#[test]
fn cluster_harness_removes_everything_when_a_test_panics_ebpf() {
    removes_everything(ClusterSpec::new(2).ebpf());
}

fn removes_everything(spec: ClusterSpec) {
    let inv: Created = Arc::default();
    let seen = inv.clone();
    let r = std::panic::catch_unwind(move || {
        let mut c = Cluster::start(spec);
        c.netctl(&["net", "create", "-s", "10.120.0.0/24", "harness"]);
        let a = c.run("h1", "a", &Attach::net("harness"));
        let b = c.run("h2", "b", &Attach::net("harness"));
        assert!(a.ping_within(&b.ip.to_string(), SETTLE), "a -> b");
        let listeners = b.listen(&[7000], c.dir());
        assert!(a.connects(b.ip, 7000), "a -> b:7000");
        // A cut host is unreachable; restored, it is reachable again.
        c.cut("h2");
        assert!(!a.ping(&b.ip.to_string()), "h2 is cut off");
        c.restore("h2");
        assert!(
            a.ping_within(&b.ip.to_string(), SETTLE),
            "a -> b after restore"
        );
        let mut i = c.inventory();
        i.namespace(a.ns.name());
        i.namespace(b.ns.name());
        assert!(
            !c.host("h1").dns_namespaces().is_empty(),
            "the agent serves DNS from a namespace of its own"
        );
        let pids = listeners.iter().filter_map(|p| p.pid()).collect();
        *seen.lock().expect("lock") = Some((i, pids));
        panic!("deliberate failure with a running cluster");
    });
    let msg = r.expect_err("the closure panics");
    assert_eq!(
        msg.downcast_ref::<&str>().copied(),
        Some("deliberate failure with a running cluster")
    );
    let (inv, listeners) = inv.lock().expect("lock").take().expect("inventory taken");
    inv.assert_gone();
    for pid in listeners {
        assert!(
            !std::path::Path::new(&format!("/proc/{pid}")).exists(),
            "nc {pid}"
        );
    }
}

/// `Netns::net_command` (how the harness runs netctl in the hub) starts
/// the program in the namespace's network and nowhere else: its
/// `/proc/self/ns/net` is the namespace's file, not the test's.
#[test]
fn cluster_harness_net_command_joins_the_namespace_network() {
    use std::os::unix::fs::MetadataExt;
    let ns = cluster::netns::Netns::create("ctvnc");
    let inode = std::fs::metadata(ns.path()).expect("netns file").ino();
    let out = ns
        .net_command("readlink")
        .expect("open the namespace")
        .arg("/proc/self/ns/net")
        .output()
        .expect("run readlink");
    assert!(out.status.success(), "{out:?}");
    let seen = String::from_utf8_lossy(&out.stdout).trim().to_owned();
    assert_eq!(seen, format!("net:[{inode}]"));
    let own = std::fs::read_link("/proc/self/ns/net").expect("own netns");
    assert_ne!(seen, own.to_string_lossy(), "not the test's own namespace");
    // The program sees the namespace's links: only its loopback.
    let links = ns
        .net_command("ip")
        .expect("open the namespace")
        .args(["-o", "link", "show"])
        .output()
        .expect("run ip");
    let links = String::from_utf8_lossy(&links.stdout);
    assert_eq!(links.lines().count(), 1, "{links}");
    assert!(links.contains(": lo:"), "{links}");
}
