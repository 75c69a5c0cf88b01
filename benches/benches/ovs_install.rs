//! Side-by-side install harness: the same N pipeline flows installed into
//! the same real userspace OVS bridge (private ovsdb-server +
//! ovs-vswitchd) through our OpenFlow connection (one atomic bundle) and
//! through `ovs-ofctl -O OpenFlow13 --bundle add-flows`, interleaved, each
//! run starting from an empty table. Prints every run and the ratio of
//! median rates (ours / ovs-ofctl; the target is ≥ 0.9).
//!
//! The flows are the first N of the pipeline compiled from the synthetic
//! 100k-rule intent (policy, classification, forwarding flows with
//! conjunctions, registers, ct); the text file `ovs-ofctl` reads is what
//! the bridge itself dumps after our install, so both sides install
//! exactly the same flows.
//!
//! Run: `benches/ovs_install.sh [N] [ROUNDS]` or
//! `cargo bench -p contiv-benches --bench ovs_install -- 100000 5`.

use contiv_core::datapath::{
    Attachment, DesiredState, Encap, LocalEndpoint, MacAddr, NetworkSpec, RemoteEndpoint, VtepPeer,
};
use contiv_dp_ovs::openflow::conn::Connection;
use contiv_dp_ovs::openflow::wire::{
    FlowMod, FlowStatsRequest, Message, MultipartReplyBody, MultipartRequestBody,
};
use contiv_dp_ovs::pipeline::{FlowChange, Pipeline, PortMap};
use contiv_dp_ovs::testing::OvsInstance;
use contiv_policy::compile;
use contiv_policy::synthetic::{SyntheticSpec, generate};
use std::net::{IpAddr, Ipv4Addr};
use std::process::Command;
use std::time::{Duration, Instant};

const BRIDGE: &str = "contivbr";

fn flows(n: usize) -> Vec<FlowMod> {
    let intent = generate(&SyntheticSpec::default());
    let ir = compile(&intent).expect("synthetic intent compiles");
    let mut d = DesiredState {
        policy: ir,
        ..DesiredState::default()
    };
    let mut ports = PortMap::default();
    for (i, (key, net)) in intent.networks.iter().enumerate() {
        d.networks.push(NetworkSpec {
            key: key.clone(),
            tenant: net.tenant_name.clone(),
            tenant_id: intent.tenants[&net.tenant_name],
            encap: Encap::Vxlan,
            vlan: i as u16 + 1,
            vni: Some(10_000 + i as u32),
            subnet: net.subnet.parse().ok(),
            gateway: None,
            subnet6: None,
            gateway6: None,
        });
    }
    for p in 0..16u8 {
        let ip = IpAddr::V4(Ipv4Addr::new(172, 31, p, 2));
        d.peers.push(VtepPeer {
            host: format!("h{p}"),
            ip,
        });
        ports.peers.insert(ip, 10 + u32::from(p));
    }
    for (i, e) in intent.endpoints.values().enumerate() {
        let Some(a) = e.ips.iter().find_map(|ip| match ip {
            IpAddr::V4(a) => Some(*a),
            IpAddr::V6(_) => None,
        }) else {
            continue;
        };
        if i < 200 {
            d.local_endpoints.push(LocalEndpoint {
                id: e.id.clone(),
                network: e.network.clone(),
                epg: 0,
                ipv4: Some(ipnet::Ipv4Net::new(a, 20).expect("prefix")),
                ipv6: None,
                mac: MacAddr::from_ipv4(a),
                host_ifname: format!("vh{i}"),
                attachment: Attachment::Existing,
                mtu: 1450,
                qos: None,
            });
            ports.endpoints.insert(e.id.clone(), 100 + i as u32);
        } else {
            d.remote_endpoints.push(RemoteEndpoint {
                id: e.id.clone(),
                network: e.network.clone(),
                epg: 0,
                ipv4: Some(a),
                ipv6: None,
                mac: MacAddr::from_ipv4(a),
                vtep: IpAddr::V4(Ipv4Addr::new(172, 31, (i % 16) as u8, 2)),
            });
        }
    }
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
    let nums: Vec<usize> = std::env::args()
        .skip(1)
        .filter(|a| !a.starts_with('-'))
        .filter_map(|a| a.parse().ok())
        .collect();
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
