//! External access's host side over the datapath's life: the host port,
//! its route and the nftables table come with the first network with
//! external access; a resync in sync writes nothing; the datapath going
//! away (SIGKILL: no cleanup) loses neither egress NAT nor a published
//! port, and its successor changes nothing; without external networks
//! nothing is left — no table, no veth, no route, no pinned link.
#![allow(clippy::unwrap_used)]

mod support;

use contiv_core::datapath::{Datapath, DesiredState, DpOp, PublishedPort, ServiceProtocol};
use contiv_core::ir::{Direction, Membership, PolicyDelta, RuleId};
use std::time::Duration;
use support::*;

const HOST: &str = "198.51.100.1";
const OUTSIDE: &str = "198.51.100.2";

fn host_links(h: &Host) -> Vec<String> {
    std::fs::read_dir(h.cfg.pin_root().join("links"))
        .unwrap()
        .flatten()
        .map(|e| e.file_name().to_string_lossy().into_owned())
        .filter(|n| n.starts_with("host_"))
        .collect()
}

fn has_table(h: &Host) -> bool {
    h.ns.exec(&["nft", "list", "table", "ip", "contiv_ebpf"])
        .status
        .success()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn host_port_lives_with_external_networks_and_survives_the_agent() {
    let mut host = Host::new("ex").await;
    let outside = Netns::new("eo");
    let (h, o) = (unique("oh"), unique("oo"));
    host.ns.ip(&[
        "link",
        "add",
        &h,
        "type",
        "veth",
        "peer",
        "name",
        &o,
        "netns",
        &outside.name,
    ]);
    host.ns
        .ip(&["addr", "add", &format!("{HOST}/24"), "dev", &h]);
    host.ns.ip(&["link", "set", &h, "up"]);
    outside.ip(&["addr", "add", &format!("{OUTSIDE}/24"), "dev", &o]);
    outside.ip(&["link", "set", &o, "up"]);

    let mut net = vxlan_net("t1:n", 1, 76, 7600);
    net.external = true;
    let a_ns = Netns::new("ec");
    let a = local_ep("a", &net, 2, 0, &a_ns);
    let desired = DesiredState {
        networks: vec![net.clone()],
        local_endpoints: vec![a.clone()],
        published: vec![PublishedPort {
            endpoint: "a".into(),
            protocol: ServiceProtocol::Tcp,
            host_ip: None,
            host_port: 18081,
            port: 9002,
        }],
        ..DesiredState::default()
    };
    host.dp().resync(&desired).await.unwrap();
    let _srv = outside.spawn(&["nc", "-l", "-k", "-p", "8080"]);
    let _pub = a_ns.spawn(&["nc", "-l", "-k", "-p", "9002"]);
    let works = |a_ns: &Netns, outside: &Netns| {
        eventually(Duration::from_secs(3), || a_ns.tcp(OUTSIDE, 8080))
            && eventually(Duration::from_secs(3), || outside.tcp(HOST, 18081))
    };
    assert!(works(&a_ns, &outside), "egress and the published port");
    assert!(has_table(&host));
    let route = host.ns.ip(&["route", "show", "dev", "contivbh0"]);
    assert!(route.contains(&format!("{} ", v4(&a))), "{route}");
    assert_eq!(host_links(&host).len(), 1);

    let r = host.dp().resync(&desired).await.unwrap();
    assert_eq!((r.added, r.removed), (0, 0), "in sync: {r:?}");

    // The agent dies; the host side and the programs keep working.
    host.dp = None;
    assert!(works(&a_ns, &outside), "external access survives the agent");
    host.start().await;
    let r = host.dp().resync(&desired).await.unwrap();
    assert_eq!((r.added, r.removed), (0, 0), "the successor: {r:?}");
    assert!(works(&a_ns, &outside));

    // Policy judges the outside like any peer without a group: a's `out`
    // rule stops new connections to the outside's port 8080 (not 8081),
    // its `in` rule those a published port DNATs to its port 9002.
    let _srv2 = outside.spawn(&["nc", "-l", "-k", "-p", "8081"]);
    let member = Membership {
        tenant: 1,
        ip: a.ipv4.unwrap().addr().into(),
        epg: 10,
    };
    host.apply(vec![DpOp::Policy(PolicyDelta {
        members_added: vec![member],
        rules_added: vec![
            deny_tcp(1, 10, Direction::Out, 8080),
            deny_tcp(2, 10, Direction::In, 9002),
        ],
        ..PolicyDelta::default()
    })])
    .await;
    assert!(eventually(Duration::from_secs(3), || a_ns.tcp(OUTSIDE, 8081)));
    assert!(!a_ns.tcp(OUTSIDE, 8080), "out rule: egress to 8080 denied");
    assert!(
        !outside.tcp(HOST, 18081),
        "in rule: the published port denied"
    );
    host.apply(vec![DpOp::Policy(PolicyDelta {
        rules_removed: vec![RuleId(1), RuleId(2)],
        ..PolicyDelta::default()
    })])
    .await;
    assert!(works(&a_ns, &outside), "allowed again without the rules");

    // No external network: nothing of the host side is left.
    let r = host.dp().resync(&DesiredState::default()).await.unwrap();
    assert!(r.removed > 0, "{r:?}");
    assert!(!has_table(&host), "the NAT table is gone");
    assert!(
        !host
            .ns
            .exec(&["ip", "link", "show", "contivbh0"])
            .status
            .success(),
        "the host port is gone"
    );
    assert!(host_links(&host).is_empty(), "its attachment is gone");
    assert!(!outside.tcp(HOST, 18081), "the published port is closed");
    let r = host.dp().resync(&DesiredState::default()).await.unwrap();
    assert_eq!((r.added, r.removed), (0, 0), "{r:?}");
}
