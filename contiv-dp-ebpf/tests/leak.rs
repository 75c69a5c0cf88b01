//! Endpoint add/remove cycles leave no map entry, no attachment, no pinned
//! object and no interface behind: cycles of the datapath's part of CNI
//! ADD/DEL (classifier attached and detached, endpoint, membership,
//! flood-list and service-backend entries written and deleted) on pre-made veths, then full
//! ones (the veth created into a container namespace and deleted). Each
//! veth deletion costs the kernel an RCU grace period, so this stays short;
//! the 1,000-cycle run through the real CNI plugin and agent is
//! `contiv-bins/tests/e2e_leak_ebpf.rs`.
#![allow(clippy::unwrap_used)]

mod support;

use contiv_core::datapath::{DpOp, PortSpec, ServiceProtocol, ServiceSpec};
use contiv_core::ir::{Membership, PolicyDelta};
use std::time::{Duration, Instant};
use support::*;

fn pins(h: &Host) -> Vec<String> {
    let mut v = Vec::new();
    for d in ["links", "progs", "maps"] {
        for e in std::fs::read_dir(h.cfg.pin_root().join(d))
            .unwrap()
            .flatten()
        {
            v.push(format!("{d}/{}", e.file_name().to_string_lossy()));
        }
    }
    v.sort();
    v
}

/// Cycles on pre-made veths.
const CYCLES: u32 = 100;
/// Cycles that create and delete the veth.
const FULL: u32 = 10;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn add_del_cycles_leave_nothing_behind() {
    let host = Host::new("el").await;
    let net = vxlan_net("t1:n", 1, 75, 7500);
    let ctr = Netns::new("ec");
    host.apply(vec![DpOp::AddNetwork(net.clone())]).await;
    let sizes0 = host.dp().map_sizes().await.unwrap();
    let pins0 = pins(&host);
    // Ten veths made outside the datapath (attachment `Existing`).
    let pool: Vec<String> = (0..10).map(|_| unique("lk")).collect();
    for p in &pool {
        host.ns.ip(&[
            "link",
            "add",
            p,
            "type",
            "veth",
            "peer",
            "name",
            &format!("{p}p"),
        ]);
    }
    let links0 = host.ns.ip(&["-br", "link"]);
    let start = Instant::now();
    for i in 0..CYCLES + FULL {
        let mut ep = local_ep(&format!("ep{i}"), &net, 2 + (i % 200) as u8, 10, &ctr);
        if i < CYCLES {
            ep.host_ifname = pool[i as usize % pool.len()].clone();
            ep.attachment = contiv_core::datapath::Attachment::Existing;
        }
        let m = Membership {
            tenant: 1,
            ip: ep.ipv4.unwrap().addr().into(),
            epg: 10,
        };
        // Each endpoint backs a service while it lives (its removal takes
        // it out of the service); the service goes at the end.
        host.apply(vec![
            DpOp::AddLocalEndpoint(ep.clone()),
            DpOp::Policy(PolicyDelta {
                members_added: vec![m],
                ..PolicyDelta::default()
            }),
            DpOp::AddService(ServiceSpec {
                key: "t1:svc".into(),
                network: net.key.clone(),
                vip: "10.75.0.250".parse().unwrap(),
                ports: vec![PortSpec {
                    svc_port: 80,
                    prov_port: 8080,
                    protocol: ServiceProtocol::Tcp,
                }],
                backends: vec![ep.id.clone()],
            }),
        ])
        .await;
        host.apply(vec![
            DpOp::RemoveLocalEndpoint(ep.id.clone()),
            DpOp::Policy(PolicyDelta {
                members_removed: vec![m],
                ..PolicyDelta::default()
            }),
        ])
        .await;
    }
    host.apply(vec![DpOp::RemoveService("t1:svc".into())]).await;
    eprintln!("{} cycles in {:?}", CYCLES + FULL, start.elapsed());
    tokio::time::sleep(Duration::from_millis(50)).await;
    assert_eq!(host.dp().map_sizes().await.unwrap(), sizes0, "map entries");
    assert_eq!(pins(&host), pins0, "pinned objects");
    let links = host.ns.ip(&["-br", "link"]);
    let names = |s: &str| {
        s.lines()
            .map(|l| l.split_whitespace().next().unwrap_or("").to_owned())
            .collect::<Vec<_>>()
    };
    assert_eq!(names(&links), names(&links0), "host interfaces");
    // The veths the datapath did not make keep neither its filter nor the
    // clsact qdisc it added for it.
    for p in &pool {
        assert_eq!(host.ns.ep_filter(p), None, "{p}");
        let q = host.ns.qdiscs(p);
        assert!(!q.contains("clsact"), "{p}: {q}");
    }
    assert_eq!(
        ctr.ip(&["-br", "link"]).lines().count(),
        1,
        "only lo in the container"
    );
    let st = host.dp().stats().await;
    assert!(st.attaches >= u64::from(CYCLES + FULL), "{st:?}");
}
