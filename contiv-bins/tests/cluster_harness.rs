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
