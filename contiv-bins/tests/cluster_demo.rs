//! `make demo-cluster` stays true: runs `scripts/demo-cluster.sh` (the
//! seeds' two-node walk-through on namespace hosts) with the binaries of
//! this build, and checks that every step behaved as the tutorial says
//! (the script checks each expectation and exits non-zero otherwise),
//! that the key moments are in its output, and that it left nothing
//! behind: no namespace of its own, none of its agents' DNS namespaces.

mod cluster;

use cluster::bins::Bins;
use cluster::sys::Proc;
use std::path::Path;
use std::process::Command;
use std::time::{Duration, Instant};

#[test]
fn cluster_demo_script_walks_the_tutorial_and_cleans_up() {
    demo("ovs", "VXLAN, flags [I] (0x08), vni");
}

/// On the eBPF datapath the VXLAN header also has the G flag: the source
/// group travels in VXLAN-GBP.
#[test]
fn cluster_demo_script_walks_the_tutorial_and_cleans_up_ebpf() {
    demo("ebpf", "VXLAN, flags [I] (0x88), vni");
}

fn demo(datapath: &str, vxlan_header: &str) {
    let bins = Bins::find().expect("binaries");
    let bin_dir = bins.netmaster.parent().expect("bin dir").to_owned();
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("..");
    let out_dir = tempfile::tempdir().expect("temp dir");
    let log = out_dir.path().join("demo.log");
    let mut cmd = Command::new(root.join("scripts/demo-cluster.sh"));
    cmd.env("BIN_DIR", &bin_dir)
        .env("DATAPATH", datapath)
        .env_remove("KEEP");
    let mut p = Proc::spawn("demo-cluster.sh", cmd, &log);
    let start = Instant::now();
    let status = loop {
        if let Some(st) = p.exited() {
            break st;
        }
        if start.elapsed() > Duration::from_secs(300) {
            // SIGTERM lets the script's trap remove what it created.
            p.terminate(Duration::from_secs(60));
            panic!("demo-cluster.sh ran over 300s:\n{}", p.log_tail(60));
        }
        std::thread::sleep(Duration::from_millis(100));
    };
    let text = std::fs::read_to_string(&log).expect("read the demo output");
    assert!(
        status.success(),
        "demo-cluster.sh failed ({status}):\n{text}"
    );
    for want in [
        "web / # ping -c 2 db",
        vxlan_header,
        "contiv-c1's MAC is",
        "ethertype 802.1Q (0x8100), length 102: vlan 112",
        "Connection to ",
        "timed out: blocked by the policy, as expected",
        "the VIP is DNATed on the client's host",
        "demo-cluster: all steps behaved as the tutorial says",
    ] {
        assert!(
            text.contains(want),
            "{want:?} missing from the demo output:\n{text}"
        );
    }
    // What it created is gone.
    let line = text
        .lines()
        .find(|l| l.contains("# work directory "))
        .expect("the work directory line");
    let rest = line.split("# work directory ").nth(1).expect("dir");
    let (dir, ns) = rest.split_once(", namespaces ").expect("namespaces");
    let prefix = ns.trim().trim_end_matches('*');
    assert!(!Path::new(dir).exists(), "{dir} left behind");
    let dns: Vec<String> = ["node1", "node2"]
        .iter()
        .map(|n| {
            use contiv_bins::netplugin::dns::{agent_identity, netns_prefix};
            netns_prefix(&agent_identity(n, &Path::new(dir).join(n).join("state")))
        })
        .collect();
    let left: Vec<String> = cluster::namespaces()
        .into_iter()
        .filter(|n| n.starts_with(prefix) || dns.iter().any(|d| n.starts_with(d.as_str())))
        .collect();
    assert!(left.is_empty(), "namespaces left behind: {left:?}");
}
