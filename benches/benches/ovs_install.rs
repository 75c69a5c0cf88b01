//! Side-by-side install harness: the same N pipeline flows installed into
//! the same real userspace OVS bridge (private ovsdb-server +
//! ovs-vswitchd) through our OpenFlow connection (one atomic bundle) and
//! through `ovs-ofctl -O OpenFlow13 --bundle add-flows`, interleaved, each
//! run starting from an empty table. Prints every run and the ratio of
//! median rates (ours / ovs-ofctl; the target is ≥ 0.9).
//!
//! The flows are the first N of the pipeline compiled from the synthetic
//! 100k-rule intent on the host view `ovs_flows` benches (policy,
//! classification, forwarding flows with
//! conjunctions, registers, ct); the text file `ovs-ofctl` reads is what
//! the bridge itself dumps after our install, so both sides install
//! exactly the same flows.
//!
//! Run: `benches/ovs_install.sh [N] [ROUNDS]` or
//! `cargo bench -p contiv-benches --bench ovs_install -- 100000 5`.

use contiv_dp_ovs::openflow::conn::Connection;
use contiv_dp_ovs::openflow::wire::{
    FlowMod, FlowStatsRequest, Message, MultipartReplyBody, MultipartRequestBody,
};
use contiv_dp_ovs::pipeline::{FlowChange, Pipeline};
use contiv_dp_ovs::testing::OvsInstance;
use contiv_policy::compile;
use contiv_policy::synthetic::{SyntheticSpec, generate};
use std::process::Command;
use std::time::{Duration, Instant};

mod common;

use common::host_state;

const BRIDGE: &str = "contivbr";

fn flows(n: usize) -> Vec<FlowMod> {
    let intent = generate(&SyntheticSpec::default());
    let ir = compile(&intent).expect("synthetic intent compiles");
    let (d, ports) = host_state(&intent, ir);
    let mut p = Pipeline::from_desired(&d, &ports);
    let changes = p.flush();
    let all: Vec<FlowMod> = changes
        .iter()
        .filter_map(|c| match c {
            FlowChange::Add(f) => Some(f.to_flow_mod()),
            FlowChange::Delete(_) => None,
        })
        .collect();
    assert!(
        all.len() >= n,
        "the synthetic pipeline has only {} flows",
        all.len()
    );
    all.into_iter().take(n).collect()
}

async fn flow_count(c: &Connection) -> u32 {
    match c
        .multipart(MultipartRequestBody::Aggregate(FlowStatsRequest::all()))
        .await
        .expect("aggregate stats")
    {
        MultipartReplyBody::Aggregate(a) => a.flow_count,
        other => panic!("unexpected reply {other:?}"),
    }
}

fn ofctl(ovs: &OvsInstance, args: &[&str]) -> Duration {
    let target = format!("unix:{}", ovs.mgmt_socket(BRIDGE).display());
    let start = Instant::now();
    let out = Command::new("ovs-ofctl")
        .args(["-O", "OpenFlow13"])
        .args(
            args.iter()
                .map(|a| if *a == "TARGET" { target.as_str() } else { a }),
        )
        .output()
        .expect("run ovs-ofctl");
    let t = start.elapsed();
    assert!(
        out.status.success(),
        "ovs-ofctl {args:?}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    t
}

fn median(mut v: Vec<f64>) -> f64 {
    v.sort_by(f64::total_cmp);
    v[v.len() / 2]
}

fn main() {
    let nums = contiv_benches::numeric_args();
    let n = nums.first().copied().unwrap_or(100_000);
    let rounds = nums.get(1).copied().unwrap_or(5).max(1);
    let fms = flows(n);
    let ovs = OvsInstance::start().expect("start OVS (openvswitch-switch must be installed)");
    ovs.add_bridge(BRIDGE).expect("add bridge");
    let dir = tempfile::tempdir().expect("tempdir");
    let file = dir.path().join("flows.txt");
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .expect("runtime");
    let (ours, theirs) = rt.block_on(async {
        let (c, _ev) = Connection::connect_unix(ovs.mgmt_socket(BRIDGE))
            .await
            .expect("connect to the bridge");
        let msgs: Vec<Message> = fms.iter().cloned().map(Message::FlowMod).collect();
        // Warm-up install; its dump is the text ovs-ofctl installs.
        c.send_in_bundle(&msgs).await.expect("install");
        assert_eq!(flow_count(&c).await as usize, n);
        let dump = ovs
            .ofctl13("dump-flows", BRIDGE, &["--no-stats"])
            .expect("dump-flows");
        let lines: Vec<&str> = dump.lines().filter(|l| l.contains("actions=")).collect();
        assert_eq!(lines.len(), n);
        std::fs::write(&file, lines.join("\n") + "\n").expect("write flows.txt");
        let (mut ours, mut theirs) = (Vec::new(), Vec::new());
        for r in 0..rounds {
            c.delete_all_flows().await.expect("del-flows");
            let start = Instant::now();
            c.send_in_bundle(&msgs).await.expect("install through our connection");
            let t_ours = start.elapsed();
            assert_eq!(flow_count(&c).await as usize, n);
            c.delete_all_flows().await.expect("del-flows");
            let path = file.display().to_string();
            let t_ofctl = ofctl(&ovs, &["--bundle", "add-flows", "TARGET", &path]);
            assert_eq!(flow_count(&c).await as usize, n);
            let (a, b) = (n as f64 / t_ours.as_secs_f64(), n as f64 / t_ofctl.as_secs_f64());
            println!(
                "round {r}: ours {t_ours:?} ({a:.0} flows/s)  ovs-ofctl --bundle {t_ofctl:?} ({b:.0} flows/s)  ratio {:.2}",
                a / b
            );
            ours.push(a);
            theirs.push(b);
        }
        (ours, theirs)
    });
    let (a, b) = (median(ours), median(theirs));
    println!(
        "ovs_install: {n} flows x {rounds} interleaved rounds: median ours {a:.0} flows/s, \
         ovs-ofctl --bundle add-flows {b:.0} flows/s, ratio {:.2} (target >= 0.9)",
        a / b
    );
}
