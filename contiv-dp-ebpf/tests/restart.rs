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

/// The kernel id of the pinned `from_endpoint`.
fn ep_prog(h: &Host) -> u32 {
    let p = h.cfg.pin_root().join("progs").join("from_endpoint");
    aya::programs::SchedClassifier::from_pin(p)
        .unwrap()
        .info()
        .unwrap()
        .id()
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
    // Endpoints run the classifier as a netlink filter, not a pinned link.
    let prog = ep_prog(&host);
    for e in [&a, &b] {
        assert_eq!(host.ns.ep_filter(&e.host_ifname), Some(prog), "{}", e.id);
    }
    assert!(!pins.iter().any(|p| p.starts_with("ep_")), "{pins:?}");

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
    for e in [&a, &b] {
        assert_eq!(host.ns.ep_filter(&e.host_ifname), Some(prog), "adopted");
    }
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
        1,
        "the VXLAN device's link: {:?}",
        links(&host)
    );
    assert_eq!(host.ns.ep_filter(&a.host_ifname), Some(ep_prog(&host)));
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
    let old = ep_prog(&host);
    // As if an older version had pinned other programs.
    for p in ["from_endpoint", "from_vxlan", "from_uplink", "from_host"] {
        std::fs::remove_file(host.cfg.pin_root().join("progs").join(p)).unwrap();
    }
    host.start().await;
    assert_eq!(host.dp().load_report().programs_replaced, 4);
    let new = ep_prog(&host);
    assert_ne!(old, new);
    for e in [&a, &b] {
        assert_eq!(
            host.ns.ep_filter(&e.host_ifname),
            Some(new),
            "{}'s filter runs the new program",
            e.id
        );
    }
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

/// What an agent of the previous version left: `from_endpoint` on a tcx
/// link pinned as `links/ep_<ifindex>`, no filter.
fn legacy_tcx_link(host: &Host, ifname: &str) {
    use aya::programs::links::FdLink;
    use aya::programs::tc::TcAttachOptions;
    use aya::programs::{LinkOrder, SchedClassifier, TcAttachType};
    let root = host.cfg.pin_root();
    // `<index>: <name>@...`
    let line = host.ns.ip(&["-o", "link", "show", "dev", ifname]);
    let ifindex: u32 = line.split(':').next().unwrap().trim().parse().unwrap();
    host.ns.exec(&[
        "tc", "filter", "del", "dev", ifname, "ingress", "pref", "1", "handle", "1", "bpf",
    ]);
    assert_eq!(host.ns.ep_filter(ifname), None);
    let pin = root.join("links").join(format!("ep_{ifindex}"));
    let prog_pin = root.join("progs").join("from_endpoint");
    let ns = contiv_core::linux::Netns::Path(host.ns.path());
    contiv_dp_ebpf::plumbing::in_ns(&ns, move || {
        let mut p = SchedClassifier::from_pin(prog_pin).unwrap();
        let id = p
            .attach_with_options(
                ifname,
                TcAttachType::Ingress,
                TcAttachOptions::TcxOrder(LinkOrder::default()),
            )
            .unwrap();
        let fd: FdLink = p.take_link(id).unwrap().try_into().unwrap();
        fd.pin(pin).unwrap();
    })
    .unwrap();
}

/// tcx programs on `ifname`'s ingress, by kernel id.
fn tcx_progs(host: &Host, ifname: &str) -> Vec<u32> {
    use aya::programs::{SchedClassifier, TcAttachType};
    let ns = contiv_core::linux::Netns::Path(host.ns.path());
    contiv_dp_ebpf::plumbing::in_ns(&ns, || {
        SchedClassifier::query_tcx(ifname, TcAttachType::Ingress)
            .map(|(_, v)| v.iter().map(|p| p.id()).collect())
            .unwrap_or_default()
    })
    .unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_upgrade_replaces_the_previous_versions_pinned_tcx_links() {
    let mut host = Host::new("er").await;
    let net = vxlan_net("t1:n", 1, 76, 7600);
    let a_ns = Netns::new("ec");
    let b_ns = Netns::new("ec");
    let c_ns = Netns::new("ec");
    let a = local_ep("a", &net, 2, 10, &a_ns);
    let b = local_ep("b", &net, 3, 11, &b_ns);
    let c = local_ep("c", &net, 4, 12, &c_ns);
    host.dp()
        .resync(&state(&net, &[&a, &b, &c], false))
        .await
        .unwrap();
    let prog = ep_prog(&host);
    host.dp = None;
    // The previous version's agent ran a and c on pinned tcx links.
    for e in [&a, &c] {
        legacy_tcx_link(&host, &e.host_ifname);
        assert_eq!(tcx_progs(&host, &e.host_ifname), vec![prog]);
    }
    assert!(a_ns.ping(&v4(&b)), "the tcx link forwards");
    let before = links(&host);
    assert_eq!(before.iter().filter(|p| p.starts_with("ep_")).count(), 2);

    // The new agent adopts a (filter made, tcx link gone) and, c being
    // deleted meanwhile, removes c's link and veth; b is untouched.
    host.start().await;
    let r = host
        .dp()
        .resync(&state(&net, &[&a, &b], false))
        .await
        .unwrap();
    assert!(r.added >= 1 && r.removed >= 2, "{r:?}");
    assert_eq!(host.ns.ep_filter(&a.host_ifname), Some(prog));
    assert_eq!(host.ns.ep_filter(&b.host_ifname), Some(prog));
    assert!(
        eventually(Duration::from_secs(2), || tcx_progs(&host, &a.host_ifname)
            .is_empty()),
        "a runs once"
    );
    assert!(
        !links(&host).iter().any(|p| p.starts_with("ep_")),
        "{:?}",
        links(&host)
    );
    assert!(
        !host.ns.ip(&["-br", "link"]).contains(&c.host_ifname),
        "c's veth is gone"
    );
    assert!(a_ns.ping(&v4(&b)), "a forwards on its filter");
    assert!(b_ns.ping(&v4(&a)));
    let st = host.dp().stats().await;
    assert_eq!(st.attaches, 1, "only a was attached: {st:?}");
    // In sync now: nothing changes.
    let r = host
        .dp()
        .resync(&state(&net, &[&a, &b], false))
        .await
        .unwrap();
    assert_eq!((r.added, r.removed), (0, 0), "{r:?}");
}

/// Pins of the release before `flood_stats` existed (ABI 3 without that
/// map): a new agent adopts every other map, creates the missing one,
/// replaces the programs (they use it) and forwards on; the flood
/// counters read from the new map.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn pins_without_the_flood_counters_are_adopted() {
    let mut host = Host::new("er").await;
    let net = vxlan_net("t1:n", 1, 77, 7700);
    let a_ns = Netns::new("ec");
    let b_ns = Netns::new("ec");
    let a = local_ep("a", &net, 2, 10, &a_ns);
    let b = local_ep("b", &net, 3, 11, &b_ns);
    let desired = state(&net, &[&a, &b], false);
    host.dp().resync(&desired).await.unwrap();
    assert!(eventually(Duration::from_secs(3), || a_ns.ping(&v4(&b))));
    host.dp = None;
    let pin = host.cfg.pin_root().join("maps").join("flood_stats");
    std::fs::remove_file(&pin).unwrap();
    assert!(a_ns.ping(&v4(&b)), "the running programs keep their map");

    host.start().await;
    let lr = host.dp().load_report();
    assert_eq!(lr.maps_created, 1, "only flood_stats is new: {lr:?}");
    assert!(lr.programs_replaced >= 1, "{lr:?}");
    assert!(pin.exists());
    let r = host.dp().resync(&desired).await.unwrap();
    assert_eq!((r.added, r.removed), (0, 0), "{r:?}");
    assert!(a_ns.ping(&v4(&b)), "forwards on the new programs");
    let pinned = contiv_dp_ebpf::inspect::Pinned::new(&host.cfg.pin_root());
    assert_eq!(pinned.floods().unwrap(), host.dp().floods().await.unwrap());
}
