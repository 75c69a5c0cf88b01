//! Restarts: the datapath object going away (as when the agent is killed
//! with SIGKILL: no cleanup runs) loses no forwarding and no policy; a new
//! one adopts the pinned maps, programs and links, a resync of the same
//! state changes nothing, and one of a smaller state removes exactly what
//! is stale.
#![allow(clippy::unwrap_used)]

mod support;

use contiv_core::datapath::{Datapath, DesiredState, DpOp, LocalEndpoint};
use contiv_core::ir::{Direction, Membership, PolicyIr};
use std::time::Duration;
use support::*;

fn state(
    net: &contiv_core::datapath::NetworkSpec,
    eps: &[&LocalEndpoint],
    rule: bool,
) -> DesiredState {
    let mut policy = PolicyIr::default();
    for e in eps {
        policy
            .members
            .insert((1, e.ipv4.unwrap().addr().into()), e.epg);
    }
    if rule {
        let r = deny_tcp(7, 11, Direction::In, 9000);
        policy.rules.insert(r.id, r);
    }
    DesiredState {
        networks: vec![net.clone()],
        local_endpoints: eps.iter().map(|e| (*e).clone()).collect(),
        policy,
        ..DesiredState::default()
    }
}

fn links(h: &Host) -> Vec<String> {
    let dir = h.cfg.pin_root().join("links");
    let mut v: Vec<String> = std::fs::read_dir(dir)
        .unwrap()
        .flatten()
        .map(|e| e.file_name().to_string_lossy().into_owned())
        .collect();
    v.sort();
    v
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_killed_datapath_keeps_forwarding_and_its_successor_changes_nothing() {
    let mut host = Host::new("er").await;
    let net = vxlan_net("t1:n", 1, 72, 7200);
    let a_ns = Netns::new("ec");
    let b_ns = Netns::new("ec");
    let mut a = local_ep("a", &net, 2, 10, &a_ns);
    a.qos = Some(contiv_core::datapath::Qos {
        rate_kbps: 20_000,
        burst_kb: 0,
        dscp: 0,
    });
    let b = local_ep("b", &net, 3, 11, &b_ns);
    let mut desired = state(&net, &[&a, &b], true);
    // A service whose backend is b: its maps and config flag survive too.
    let vip = "10.72.0.100";
    desired.services = vec![contiv_core::datapath::ServiceSpec {
        key: "t1:web".into(),
        network: net.key.clone(),
        vip: vip.parse().unwrap(),
        ports: vec![contiv_core::datapath::PortSpec {
            svc_port: 80,
            prov_port: 9001,
            protocol: contiv_core::datapath::ServiceProtocol::Tcp,
        }],
        backends: vec!["b".into()],
    }];
    host.dp().resync(&desired).await.unwrap();
    let shaped = |host: &Host| {
        (
            host.ns.has_tbf(&a.host_ifname, "20Mbit"),
            a_ns.has_tbf("eth0", "20Mbit"),
        )
    };
    assert_eq!(shaped(&host), (true, true), "a's shapers, both ends");
    let _l = b_ns.spawn(&["nc", "-l", "-k", "-p", "9000"]);
    let _m = b_ns.spawn(&["nc", "-l", "-k", "-p", "9001"]);
    assert!(eventually(Duration::from_secs(3), || a_ns.tcp(&v4(&b), 9001)));
    assert!(!a_ns.tcp(&v4(&b), 9000));
    assert!(a_ns.tcp(vip, 80), "the service");
    let ifindex_b = host.dp().ifindex_of("b").await.unwrap();
    let pins = links(&host);

    // The agent dies: nothing is cleaned up; forwarding and policy stay.
    host.dp = None;
    assert!(a_ns.ping(&v4(&b)), "forwarding survives the datapath");
    assert!(a_ns.tcp(&v4(&b), 9001));
    assert!(!a_ns.tcp(&v4(&b), 9000), "policy survives the datapath");
    assert!(a_ns.tcp(vip, 80), "the service survives the datapath");

    // Its successor adopts everything and a resync of the same state
    // writes nothing.
    host.start().await;
    let lr = host.dp().load_report();
    assert_eq!((lr.maps_created, lr.programs_replaced), (0, 0), "{lr:?}");
    assert!(a_ns.tcp(vip, 80), "the successor's start keeps the service");
    let r = host.dp().resync(&desired).await.unwrap();
    assert_eq!((r.added, r.removed), (0, 0), "{r:?}");
    assert!(r.unchanged > 10, "{r:?}");
    assert_eq!(host.dp().ifindex_of("b").await, Some(ifindex_b));
    assert_eq!(links(&host), pins);
    assert_eq!(shaped(&host), (true, true), "a's shapers adopted");
    assert!(a_ns.ping(&v4(&b)));
    assert!(!a_ns.tcp(&v4(&b), 9000));

    // It dies again; a's netprofile loses its bandwidth meanwhile: the
    // next successor removes both stale shapers and delivers to a
    // without its host side's qdisc (a's two address entries and its MAC
    // entry rewritten), nothing else.
    host.dp = None;
    host.start().await;
    let mut a2 = a.clone();
    a2.qos = None;
    let mut d2 = state(&net, &[&a2, &b], true);
    d2.services = desired.services.clone();
    let r = host.dp().resync(&d2).await.unwrap();
    assert_eq!((r.added, r.removed), (3, 2), "{r:?}");
    assert_eq!(shaped(&host), (false, false), "stale shapers removed");
    assert!(b_ns.ping(&v4(&a)), "b reaches a");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_successor_removes_only_what_went_stale_while_it_was_down() {
    let mut host = Host::new("er").await;
    let net = vxlan_net("t1:n", 1, 73, 7300);
    let a_ns = Netns::new("ec");
    let b_ns = Netns::new("ec");
    let a = local_ep("a", &net, 2, 10, &a_ns);
    let b = local_ep("b", &net, 3, 11, &b_ns);
    host.dp()
        .resync(&state(&net, &[&a, &b], true))
        .await
        .unwrap();
    let ifindex_a = host.dp().ifindex_of("a").await.unwrap();
    let before = host.dp().map_sizes().await.unwrap();
    host.dp = None;

    // While the agent was down, b and the rule were deleted.
    host.start().await;
    let r = host.dp().resync(&state(&net, &[&a], false)).await.unwrap();
    assert!(
        r.removed >= 6,
        "b's entries, link, veth and the rule went: {r:?}"
    );
    // Only the network's flood list (now a alone: one entry and its head)
    // is rewritten.
    assert_eq!(r.added, 2, "nothing of a was rewritten: {r:?}");
    assert_eq!(host.dp().ifindex_of("a").await, Some(ifindex_a));
    let hostlinks = host.ns.ip(&["-br", "link"]);
    assert!(
        !hostlinks.contains(&b.host_ifname),
        "b's veth is gone:\n{hostlinks}"
    );
    assert!(
        hostlinks.contains(&a.host_ifname),
        "a's veth stays:\n{hostlinks}"
    );
    assert!(
        !b_ns.ip(&["-br", "link"]).contains("eth0"),
        "b's container side went with it"
    );
    assert!(a_ns.ping("10.73.0.1"), "a still works");
    // (Retired list generations are deleted moments after the resync.)
    tokio::time::sleep(Duration::from_millis(50)).await;
    let after = host.dp().map_sizes().await.unwrap();
    let size = |v: &[(&str, usize)], m: &str| v.iter().find(|(n, _)| *n == m).unwrap().1;
    for (m, delta) in [
        ("interfaces", 1),
        ("endpoints", 2),
        ("macs", 1),
        ("membership", 1),
        ("rule_heads", 1),
        ("rules", 1),
        ("rule_stats", 1),
        ("ep_stats", 1),
        ("flood", 1),
    ] {
        assert_eq!(
            size(&before, m) - size(&after, m),
            delta,
            "{m}: {before:?} -> {after:?}"
        );
    }
    assert_eq!(
        links(&host).len(),
        2,
        "a's link and the VXLAN device's: {:?}",
        links(&host)
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_new_program_takes_over_the_pinned_links() {
    let mut host = Host::new("er").await;
    let net = vxlan_net("t1:n", 1, 74, 7400);
    let a_ns = Netns::new("ec");
    let b_ns = Netns::new("ec");
    let a = local_ep("a", &net, 2, 0, &a_ns);
    let b = local_ep("b", &net, 3, 0, &b_ns);
    host.apply(vec![
        DpOp::AddNetwork(net.clone()),
        DpOp::AddLocalEndpoint(a.clone()),
        DpOp::AddLocalEndpoint(b.clone()),
        DpOp::Policy(contiv_core::ir::PolicyDelta {
            members_added: vec![Membership {
                tenant: 1,
                ip: a.ipv4.unwrap().addr().into(),
                epg: 5,
            }],
            ..Default::default()
        }),
    ])
    .await;
    host.dp = None;
    // As if an older version had pinned other programs.
    for p in ["from_endpoint", "from_vxlan", "from_uplink", "from_host"] {
        std::fs::remove_file(host.cfg.pin_root().join("progs").join(p)).unwrap();
    }
    host.start().await;
    assert_eq!(host.dp().load_report().programs_replaced, 4);
    assert!(a_ns.ping(&v4(&b)), "the links run the new program");
    let mut d = state(&net, &[&a], false);
    d.local_endpoints.push(b.clone());
    d.policy.members.clear();
    d.policy
        .members
        .insert((1, a.ipv4.unwrap().addr().into()), 5);
    let r = host.dp().resync(&d).await.unwrap();
    assert_eq!((r.added, r.removed), (0, 0), "{r:?}");
}
