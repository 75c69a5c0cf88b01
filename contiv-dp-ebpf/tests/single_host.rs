//! One host, real packets: containers in namespaces plumbed by the eBPF
//! datapath ping and connect; policy drops and passes; the gateway and
//! ARP/ND are answered in BPF.
#![allow(clippy::unwrap_used)]

mod support;

use contiv_core::datapath::{DpOp, GlobalSpec};
use support::*;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_containers_reach_each_other_and_the_gateway() {
    let host = Host::new("eh").await;
    let net = vxlan_net("t1:n1", 1, 61, 6100);
    let a_ns = Netns::new("ec");
    let b_ns = Netns::new("ec");
    let a = local_ep("a", &net, 2, 0, &a_ns);
    let b = local_ep("b", &net, 3, 0, &b_ns);
    host.apply(vec![
        DpOp::SetGlobal(GlobalSpec::default()),
        DpOp::AddNetwork(net.clone()),
        DpOp::AddLocalEndpoint(a.clone()),
        DpOp::AddLocalEndpoint(b.clone()),
    ])
    .await;
    assert!(a_ns.ping(&v4(&b)), "a pings b");
    assert!(b_ns.ping(&v4(&a)), "b pings a");
    assert!(a_ns.ping("10.61.0.1"), "a pings the gateway");
    assert!(a_ns.ping(&v6(&b)), "a pings b over IPv6");
    assert!(a_ns.ping("fd3d::1"), "a pings the IPv6 gateway");
    let c = host.dp().counters().await.unwrap();
    eprintln!("{c:#?}");
}

fn rule(
    id: u64,
    epg: u32,
    dir: contiv_core::ir::Direction,
    proto: Option<u8>,
    port: Option<u16>,
    priority: u8,
    action: contiv_core::ir::Action,
) -> contiv_core::ir::IrRule {
    contiv_core::ir::IrRule {
        id: contiv_core::ir::RuleId(id),
        tenant: 1,
        epg,
        direction: dir,
        peer: contiv_core::ir::PeerMatch::Any,
        local: None,
        proto,
        ports: port.map(contiv_core::ir::PortRange::single),
        priority,
        action,
        origin: contiv_core::ir::RuleOrigin {
            policy: "t1:p".into(),
            rule: id.to_string(),
            epg: format!("t1:g{epg}"),
        },
    }
}

fn members(
    eps: &[(&contiv_core::datapath::LocalEndpoint, u32)],
) -> Vec<contiv_core::ir::Membership> {
    eps.iter()
        .flat_map(|(e, g)| {
            [
                e.ipv4.map(|a| a.addr().into()),
                e.ipv6.map(|a| a.addr().into()),
            ]
            .into_iter()
            .flatten()
            .map(move |ip| contiv_core::ir::Membership {
                tenant: 1,
                ip,
                epg: *g,
            })
        })
        .collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn policy_judges_new_connections_and_replies_pass() {
    use contiv_core::ir::{Action::*, Direction::*, PolicyDelta};
    let host = Host::new("eh").await;
    let net = vxlan_net("t1:n1", 1, 62, 6200);
    let a_ns = Netns::new("ec");
    let b_ns = Netns::new("ec");
    let a = local_ep("a", &net, 2, 10, &a_ns);
    let b = local_ep("b", &net, 3, 11, &b_ns);
    // b (group 11): incoming TCP denied, but 8080 allowed at a higher
    // priority; a (group 10): all incoming TCP denied.
    let deny_b = rule(1, 11, In, Some(6), None, 1, Deny);
    let allow_b = rule(2, 11, In, Some(6), Some(8080), 10, Allow);
    let deny_a = rule(3, 10, In, Some(6), None, 1, Deny);
    host.apply(vec![
        DpOp::AddNetwork(net.clone()),
        DpOp::AddLocalEndpoint(a.clone()),
        DpOp::AddLocalEndpoint(b.clone()),
        DpOp::Policy(PolicyDelta {
            rules_added: vec![deny_b.clone(), allow_b.clone(), deny_a.clone()],
            members_added: members(&[(&a, 10), (&b, 11)]),
            ..PolicyDelta::default()
        }),
    ])
    .await;
    let _l1 = b_ns.spawn(&["nc", "-l", "-k", "-p", "8080"]);
    let _l2 = b_ns.spawn(&["nc", "-l", "-k", "-p", "9000"]);
    let _l3 = a_ns.spawn(&["nc", "-l", "-k", "-p", "9000"]);
    let bip = v4(&b);
    assert!(
        eventually(std::time::Duration::from_secs(3), || a_ns.tcp(&bip, 8080)),
        "a reaches b:8080 (allowed at priority 10)"
    );
    assert!(!a_ns.tcp(&bip, 9000), "a must not reach b:9000 (denied)");
    // a's own connection out: its replies are not "incoming TCP".
    assert!(a_ns.tcp(&bip, 8080));
    // b -> a:9000 is incoming TCP for a: denied.
    assert!(!b_ns.tcp(&v4(&a), 9000), "b must not reach a:9000");
    assert!(a_ns.ping(&bip), "ICMP is not governed by the TCP rules");
    // The deny rules counted what they dropped.
    let c = host.dp().counters().await.unwrap();
    let by_rule = |r: &str| c.rules.iter().find(|x| x.rule == r).unwrap().clone();
    assert!(by_rule("1").drops >= 1, "{c:?}");
    assert!(by_rule("3").drops >= 1, "{c:?}");
    assert!(
        by_rule("2").packets >= 2 && by_rule("2").drops == 0,
        "{c:?}"
    );
    let eb = c.endpoints.iter().find(|e| e.id == "b").unwrap();
    assert!(eb.rx_drops >= 1 && eb.rx_packets > 0, "{eb:?}");
    // Removing the deny opens 9000.
    host.apply(vec![DpOp::Policy(PolicyDelta {
        rules_removed: vec![deny_b.id],
        ..PolicyDelta::default()
    })])
    .await;
    assert!(
        a_ns.tcp(&bip, 9000),
        "a reaches b:9000 once the deny is gone"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn tenants_with_overlapping_subnets_stay_apart() {
    let host = Host::new("eh").await;
    let n1 = vxlan_net("t1:n", 1, 63, 6301);
    let n2 = vxlan_net("t2:n", 2, 63, 6302);
    let ns: Vec<Netns> = (0..4).map(|_| Netns::new("ec")).collect();
    let a1 = local_ep("a1", &n1, 2, 0, &ns[0]);
    let b1 = local_ep("b1", &n1, 3, 0, &ns[1]);
    let a2 = local_ep("a2", &n2, 2, 0, &ns[2]);
    let c2 = local_ep("c2", &n2, 4, 0, &ns[3]);
    host.apply(vec![
        DpOp::AddNetwork(n1.clone()),
        DpOp::AddNetwork(n2.clone()),
        DpOp::AddLocalEndpoint(a1.clone()),
        DpOp::AddLocalEndpoint(b1.clone()),
        DpOp::AddLocalEndpoint(a2.clone()),
        DpOp::AddLocalEndpoint(c2.clone()),
    ])
    .await;
    // The same address in both tenants; each reaches its own.
    assert!(ns[1].ping("10.63.0.2"), "b1 reaches a1");
    assert!(ns[3].ping("10.63.0.2"), "c2 reaches a2");
    // 10.63.0.4 exists only in tenant 2.
    assert!(!ns[0].ping("10.63.0.4"), "a1 must not reach tenant 2's c2");
    assert!(ns[2].ping("10.63.0.4"), "a2 reaches c2");
    // Proxy ARP never answers with another tenant's endpoint.
    let neigh = ns[0].ip(&["neigh", "show", "10.63.0.4"]);
    assert!(!neigh.contains("02:02:0a:3f:00:04"), "{neigh}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn arp_is_proxied_or_flooded_by_mode() {
    use contiv_core::datapath::{ArpMode, RemoteEndpoint, VtepPeer};
    let host = Host::new("eh").await;
    let net = vxlan_net("t1:n", 1, 64, 6400);
    let a_ns = Netns::new("ec");
    let b_ns = Netns::new("ec");
    let a = local_ep("a", &net, 2, 0, &a_ns);
    let b = local_ep("b", &net, 3, 0, &b_ns);
    // A remote endpoint: no container answers for it here.
    let r = RemoteEndpoint {
        id: "r".into(),
        network: net.key.clone(),
        epg: 0,
        ipv4: Some("10.64.0.9".parse().unwrap()),
        ipv6: None,
        mac: "02:02:0a:40:00:09".parse().unwrap(),
        vtep: "192.0.2.50".parse().unwrap(),
    };
    host.apply(vec![
        DpOp::AddNetwork(net.clone()),
        DpOp::AddPeer(VtepPeer {
            host: "p".into(),
            ip: "192.0.2.50".parse().unwrap(),
        }),
        DpOp::AddLocalEndpoint(a.clone()),
        DpOp::AddLocalEndpoint(b.clone()),
        DpOp::AddRemoteEndpoint(r),
    ])
    .await;
    // Proxy mode: the datapath answers for the remote endpoint.
    let _ = a_ns.ping("10.64.0.9");
    let neigh = a_ns.ip(&["neigh", "show", "10.64.0.9"]);
    assert!(neigh.contains("02:02:0a:40:00:09"), "proxied: {neigh}");
    // Flood mode: requests reach the other containers, who answer for
    // themselves; nobody answers for the remote endpoint here.
    host.apply(vec![DpOp::SetGlobal(GlobalSpec {
        arp_mode: ArpMode::Flood,
        ..GlobalSpec::default()
    })])
    .await;
    a_ns.ip(&["neigh", "flush", "all"]);
    b_ns.ip(&["neigh", "flush", "all"]);
    assert!(a_ns.ping(&v4(&b)), "a reaches b with flooded ARP");
    let neigh = a_ns.ip(&["neigh", "show", &v4(&b)]);
    assert!(neigh.contains("02:02:0a:40:00:03"), "b answered: {neigh}");
    let _ = a_ns.ping("10.64.0.9");
    let neigh = a_ns.ip(&["neigh", "show", "10.64.0.9"]);
    assert!(
        !neigh.contains("02:02:0a:40:00:09"),
        "flood mode: the datapath no longer answers for the remote endpoint: {neigh}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn dscp_is_marked_and_the_rate_is_policed() {
    use contiv_core::datapath::Qos;
    use support::frames;
    let host = Host::new("eh").await;
    let net = vxlan_net("t1:n", 1, 65, 6500);
    let a_ns = Netns::new("ec");
    let b_ns = Netns::new("ec");
    let mut a = local_ep("a", &net, 2, 0, &a_ns);
    a.qos = Some(Qos {
        rate_kbps: 1000,
        burst_kb: 0,
        dscp: 46,
    });
    let b = local_ep("b", &net, 3, 0, &b_ns);
    host.apply(vec![
        DpOp::AddNetwork(net.clone()),
        DpOp::AddLocalEndpoint(a.clone()),
        DpOp::AddLocalEndpoint(b.clone()),
    ])
    .await;
    let frame = frames::ip_frame(
        a.mac,
        b.mac,
        a.ipv4.unwrap().addr().into(),
        b.ipv4.unwrap().addr().into(),
        frames::L4::Udp {
            sport: 5000,
            dport: 53,
        },
    );
    let run = host.dp().run_packet("a", &frame).await.unwrap();
    assert!(run.forwarded());
    assert_eq!(run.frame[15] >> 2, 46, "DSCP EF marked");
    // 1000 kbit/s with the minimum burst (64 KiB + a frame): a burst of
    // 200 full frames (~300 kB) cannot all pass.
    let mut big = frame.clone();
    big.resize(1500, 0);
    let mut passed = 0;
    for _ in 0..200 {
        if host.dp().run_packet("a", &big).await.unwrap().forwarded() {
            passed += 1;
        }
    }
    assert!(
        (40..=60).contains(&passed),
        "{passed} of 200 passed the policer"
    );
    let c = host.dp().counters().await.unwrap();
    assert!(
        c.drops.iter().any(|(r, n)| r == "rate-limit" && *n >= 140),
        "{c:?}"
    );
}
