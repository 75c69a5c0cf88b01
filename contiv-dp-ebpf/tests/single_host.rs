//! What only the eBPF datapath does on one host (the conformance suite,
//! `tests/conformance.rs`, covers forwarding, tenants, ARP/ND, the gateway
//! and policy): per-rule and per-endpoint counters with real packets, DSCP
//! marking and the sender's rate limit.
#![allow(clippy::unwrap_used)]

mod support;

use contiv_core::datapath::DpOp;
use support::*;

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
async fn rules_and_endpoints_count_what_they_decide() {
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
    // Another process reading the pinned maps (the cluster bench's
    // slow-sample report) sees the same drops by reason.
    let pinned = contiv_dp_ebpf::inspect::Pinned::new(&host.cfg.pin_root());
    let by_reason = pinned.drops().unwrap();
    let agent = c
        .drops
        .iter()
        .find(|d| d.reason == "policy")
        .unwrap()
        .packets;
    let policy = by_reason.iter().find(|d| d.0 == "policy").unwrap().1;
    assert!(
        policy >= 2 && policy >= agent,
        "{by_reason:?} vs {:?}",
        c.drops
    );
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
async fn dscp_is_marked_and_the_rate_is_shaped_or_policed() {
    use contiv_core::datapath::{Attachment, Qos};
    use support::frames;
    let host = Host::new("eh").await;
    let net = vxlan_net("t1:n", 1, 65, 6500);
    let a_ns = Netns::new("ec");
    let b_ns = Netns::new("ec");
    let qos = Qos {
        rate_kbps: 1000,
        burst_kb: 0,
        dscp: 46,
    };
    let mut a = local_ep("a", &net, 2, 0, &a_ns);
    a.qos = Some(qos);
    let b = local_ep("b", &net, 3, 0, &b_ns);
    // c: an interface made outside the datapath (no container side it
    // could shape).
    let mut c = local_ep("c", &net, 4, 0, &b_ns);
    c.host_ifname = unique("vx");
    c.attachment = Attachment::Existing;
    c.qos = Some(qos);
    host.ns.ip(&[
        "link",
        "add",
        &c.host_ifname,
        "type",
        "veth",
        "peer",
        "name",
        &format!("{}p", c.host_ifname),
    ]);
    host.apply(vec![
        DpOp::AddNetwork(net.clone()),
        DpOp::AddLocalEndpoint(a.clone()),
        DpOp::AddLocalEndpoint(b.clone()),
        DpOp::AddLocalEndpoint(c.clone()),
    ])
    .await;
    // a: tbf on both ends of its veth (what it receives, what it sends);
    // b: none; c: its host side only.
    assert!(
        host.ns.has_tbf(&a.host_ifname, "1Mbit"),
        "{}",
        host.ns.qdiscs(&a.host_ifname)
    );
    assert!(a_ns.has_tbf("eth0", "1Mbit"), "{}", a_ns.qdiscs("eth0"));
    assert!(!host.ns.qdiscs(&b.host_ifname).contains("tbf"));
    assert!(!b_ns.qdiscs("eth0").contains("tbf"));
    assert!(host.ns.has_tbf(&c.host_ifname, "1Mbit"));
    let frame = |from: &contiv_core::datapath::LocalEndpoint| {
        frames::ip_frame(
            from.mac,
            b.mac,
            from.ipv4.unwrap().addr().into(),
            b.ipv4.unwrap().addr().into(),
            frames::L4::Udp {
                sport: 5000,
                dport: 53,
            },
        )
    };
    let run = host.dp().run_packet("a", &frame(&a)).await.unwrap();
    assert!(run.forwarded());
    assert_eq!(run.frame[15] >> 2, 46, "DSCP EF marked");
    let burst = |ep: &'static str, f: Vec<u8>| {
        let dp = host.dp();
        async move {
            let mut big = f;
            big.resize(1500, 0);
            let mut passed = 0;
            for _ in 0..200 {
                if dp.run_packet(ep, &big).await.unwrap().forwarded() {
                    passed += 1;
                }
            }
            passed
        }
    };
    // a's tbf shapes what it sends: the programs do not police it twice.
    assert_eq!(burst("a", frame(&a)).await, 200);
    // c's sending side is policed in the program: 1000 kbit/s with the
    // minimum burst (64 KiB + a frame), a burst of 200 full frames
    // (~300 kB) cannot all pass.
    let passed = burst("c", frame(&c)).await;
    assert!(
        (40..=60).contains(&passed),
        "{passed} of 200 passed the policer"
    );
    let n = host.dp().counters().await.unwrap();
    assert!(n.drops_of("rate-limit") >= 140, "{n:?}");
    // The QoS goes: so do a's shapers; c removed: its interface stays,
    // unshaped.
    a.qos = None;
    host.apply(vec![
        DpOp::AddLocalEndpoint(a.clone()),
        DpOp::RemoveLocalEndpoint("c".into()),
    ])
    .await;
    assert!(!host.ns.qdiscs(&a.host_ifname).contains("tbf"));
    assert!(!a_ns.qdiscs("eth0").contains("tbf"));
    assert!(!host.ns.qdiscs(&c.host_ifname).contains("tbf"));
    assert!(a_ns.ping(&v4(&b)), "a still reaches b");
}
