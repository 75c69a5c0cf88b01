//! Packet scenarios on one host: forwarding, tenant isolation, policy
//! (the seed tutorial, stateful replies, ICMP, IPv6), ARP modes.

use super::fixture::{
    Container, RuleBuilder, ip, local_ep, remote_ep, vlan_net, vxlan_net, with_v6,
};
use super::{Harness, Outcome, gate, host, start};
use contiv_core::datapath::{
    ArpMode, Capabilities, Capability, Datapath, DpOp, GlobalSpec, MacAddr, NetworkSpec, VtepPeer,
};
use contiv_core::ir::{PolicyDelta, PolicyIr};

/// A network for one-host scenarios: VXLAN if claimed, else VLAN.
fn network(
    caps: &Capabilities,
    tenant: &str,
    tenant_id: u32,
    seg: u32,
    subnet: &str,
) -> NetworkSpec {
    if caps.has(Capability::Vxlan) || !caps.has(Capability::Vlan) {
        vxlan_net(tenant, tenant_id, "net", 5000 + seg, subnet)
    } else {
        vlan_net(tenant, tenant_id, "net", 100 + seg as u16, subnet)
    }
}

fn mac(v4: &str) -> String {
    MacAddr::from_ipv4(v4.parse().unwrap_or_else(|e| panic!("{v4}: {e}"))).to_string()
}

/// Two endpoints on one network ping each other; the container side is
/// plumbed as [`Attachment::Netns`](contiv_core::datapath::Attachment)
/// promises (name, MAC, MTU, address, default route via the gateway);
/// repeating the operations writes nothing; removing an endpoint removes
/// its interface and its reachability.
pub async fn ping_on_one_network<H: Harness>(h: &H) -> Outcome {
    let caps = match gate(h, "ping_on_one_network") {
        Ok(c) => c,
        Err(o) => return o,
    };
    let mut host = host(h).await;
    let mut net = network(&caps, "default", 1, 1, "10.1.1.0/24");
    net.gateway = Some("10.1.1.254".parse().unwrap_or_else(|_| unreachable!()));
    let (a, b) = (Container::new(true).await, Container::new(true).await);
    let ea = local_ep("ep-a", &net, "10.1.1.2", 0, &a);
    let eb = local_ep("ep-b", &net, "10.1.1.3", 0, &b);
    let dp = start(h, &mut host).await;
    let ops = vec![
        DpOp::SetGlobal(GlobalSpec::default()),
        DpOp::AddNetwork(net.clone()),
        DpOp::AddLocalEndpoint(ea.clone()),
        DpOp::AddLocalEndpoint(eb.clone()),
    ];
    dp.apply(ops.clone()).await.expect("apply");
    assert!(a.ping_eventually("10.1.1.3", 10).await, "a cannot ping b");
    assert!(b.ping("10.1.1.2").await, "b cannot ping a");

    let link = a.ip(&["-br", "link", "show", "eth0"]).await;
    assert!(link.contains(&mac("10.1.1.2")), "MAC: {link}");
    let detail = a.ip(&["link", "show", "eth0"]).await;
    assert!(detail.contains("mtu 1450"), "MTU: {detail}");
    let addr = a.ip(&["-br", "addr", "show", "eth0"]).await;
    assert!(addr.contains("10.1.1.2/24"), "address: {addr}");
    let route = a.ip(&["route", "show", "default"]).await;
    assert!(route.contains("via 10.1.1.254 dev eth0"), "route: {route}");

    let w = h.writes(&host, &dp).await;
    dp.apply(ops).await.expect("the same operations again");
    assert_eq!(
        h.writes(&host, &dp).await,
        w,
        "repeated operations write nothing"
    );

    dp.apply(vec![DpOp::RemoveLocalEndpoint("ep-b".into())])
        .await
        .expect("remove b");
    assert!(!b.has_link("eth0").await, "b's interface is removed");
    assert!(!a.ping("10.1.1.3").await, "b is unreachable");
    dp.apply(vec![DpOp::RemoveLocalEndpoint("ep-b".into())])
        .await
        .expect("removing it again succeeds");
    Outcome::Passed
}

/// Two tenants with the same subnet and addresses: each reaches its own
/// endpoints and nothing of the other, not even by ARP.
pub async fn overlapping_tenants_isolated<H: Harness>(h: &H) -> Outcome {
    let caps = match gate(h, "overlapping_tenants_isolated") {
        Ok(c) => c,
        Err(o) => return o,
    };
    let mut host = host(h).await;
    let na = network(&caps, "ta", 1, 1, "10.1.1.0/24");
    let nb = network(&caps, "tb", 2, 2, "10.1.1.0/24");
    let ctrs = [
        Container::new(true).await,
        Container::new(true).await,
        Container::new(true).await,
        Container::new(true).await,
    ];
    let [a1, a2, b1, b2] = &ctrs;
    let dp = start(h, &mut host).await;
    dp.apply(vec![
        DpOp::AddNetwork(na.clone()),
        DpOp::AddNetwork(nb.clone()),
        DpOp::AddLocalEndpoint(local_ep("a1", &na, "10.1.1.2", 0, a1)),
        DpOp::AddLocalEndpoint(local_ep("a2", &na, "10.1.1.3", 0, a2)),
        // Same address as a1, other tenant.
        DpOp::AddLocalEndpoint(local_ep("b1", &nb, "10.1.1.2", 0, b1)),
        DpOp::AddLocalEndpoint(local_ep("b2", &nb, "10.1.1.4", 0, b2)),
    ])
    .await
    .expect("apply");
    assert!(a1.ping_eventually("10.1.1.3", 10).await, "a1 -> a2");
    assert!(b1.ping_eventually("10.1.1.4", 10).await, "b1 -> b2");
    assert!(b2.ping("10.1.1.2").await, "b2 -> b1 (not a1)");
    let neigh = b2.neigh("10.1.1.2").await;
    assert!(neigh.contains(&mac("10.1.1.2")), "{neigh}");
    assert!(!a1.ping("10.1.1.4").await, "a1 reached tenant b");
    assert!(!b2.ping("10.1.1.3").await, "b2 reached tenant a");
    let neigh = a1.neigh("10.1.1.4").await;
    assert!(
        !neigh.contains("lladdr"),
        "a1 learned a MAC of tenant b: {neigh}"
    );
    Outcome::Passed
}

/// The seed tutorial: `db-policy` on group `db` with `in tcp deny`
/// (priority 1) and `in tcp 8888 allow` (priority 10), compiled by
/// [`crate::compile`] from the intent.
pub(crate) fn tutorial(db_ip: &str, web_ip: &str, extra: &[(&str, i64, &str, i64)]) -> PolicyIr {
    use crate::{EndpointInput, Intent, compile};
    use contiv_core::model::{EndpointGroup, Rule};
    let mut intent = Intent::default();
    intent.insert_tenant("default", 1);
    let rule = |id: &str, port: i64, action: &str, priority: i64| Rule {
        tenant_name: "default".into(),
        policy_name: "db-policy".into(),
        rule_id: id.into(),
        direction: "in".into(),
        protocol: "tcp".into(),
        port,
        action: action.into(),
        priority,
        ..Rule::default()
    };
    intent.insert_rule(rule("1", 0, "deny", 1));
    intent.insert_rule(rule("2", 8888, "allow", 10));
    for (id, port, action, prio) in extra {
        intent.insert_rule(rule(id, *port, action, *prio));
    }
    intent.insert_epg(
        EndpointGroup {
            tenant_name: "default".into(),
            group_name: "db".into(),
            network_name: "contiv-net".into(),
            policies: vec!["db-policy".into()],
            ..EndpointGroup::default()
        },
        1,
    );
    intent.insert_endpoint(EndpointInput::new(
        "contiv-db",
        "default",
        "contiv-net",
        Some("db"),
        [ip(db_ip)],
    ));
    intent.insert_endpoint(EndpointInput::new(
        "contiv-web",
        "default",
        "contiv-net",
        None,
        [ip(web_ip)],
    ));
    compile(&intent).unwrap_or_else(|e| panic!("compile the tutorial policy: {e}"))
}

/// The seed tutorial's policy: web → db:8888 connects, db:8889 is
/// refused, ping passes, db's own connections get their replies; rules
/// added and removed at runtime take effect.
pub async fn tutorial_policy<H: Harness>(h: &H) -> Outcome {
    let caps = match gate(h, "tutorial_policy") {
        Ok(c) => c,
        Err(o) => return o,
    };
    let mut host = host(h).await;
    let mut net = network(&caps, "default", 1, 100, "10.1.2.0/24");
    net.key = "default:contiv-net".into();
    let (db, web) = (Container::new(true).await, Container::new(true).await);
    let ir = tutorial("10.1.2.7", "10.1.2.8", &[]);
    let dp = start(h, &mut host).await;
    dp.apply(vec![
        DpOp::AddNetwork(net.clone()),
        DpOp::AddLocalEndpoint(local_ep("contiv-db", &net, "10.1.2.7", 1, &db)),
        DpOp::AddLocalEndpoint(local_ep("contiv-web", &net, "10.1.2.8", 0, &web)),
        DpOp::Policy(PolicyIr::default().diff(&ir)),
    ])
    .await
    .expect("apply");
    let _l = [
        db.listen(8888, false).await,
        db.listen(8889, false).await,
        web.listen(80, false).await,
    ];
    assert!(
        web.ping_eventually("10.1.2.7", 10).await,
        "icmp is not tcp: allowed"
    );
    assert!(
        web.tcp_connects("10.1.2.7", 8888).await,
        "web -> db:8888 must connect"
    );
    assert!(
        !web.tcp_connects("10.1.2.7", 8889).await,
        "web -> db:8889 must be refused"
    );
    assert!(
        db.tcp_connects("10.1.2.8", 80).await,
        "db -> web:80: replies must pass"
    );

    // netctl policy rule-add db-policy 3 -direction=in -protocol=tcp -port=8889 -action=allow -priority=10
    let added = tutorial("10.1.2.7", "10.1.2.8", &[("3", 8889, "allow", 10)]);
    dp.apply(vec![DpOp::Policy(ir.diff(&added))])
        .await
        .expect("rule-add at runtime");
    assert!(
        web.tcp_connects("10.1.2.7", 8889).await,
        "8889 allowed after rule-add"
    );
    // netctl policy rule-rm db-policy 2: 8888 falls under the deny.
    let mut removed = added.clone();
    removed.rules.retain(|_, r| r.origin.rule != "2");
    dp.apply(vec![DpOp::Policy(added.diff(&removed))])
        .await
        .expect("rule-rm at runtime");
    assert!(
        !web.tcp_connects("10.1.2.7", 8888).await,
        "8888 refused after rule-rm"
    );
    assert!(
        web.tcp_connects("10.1.2.7", 8889).await,
        "8889 still allowed"
    );
    Outcome::Passed
}

fn members(list: &[(&str, u32)]) -> PolicyDelta {
    PolicyDelta {
        members_added: list
            .iter()
            .map(|(a, g)| contiv_core::ir::Membership {
                tenant: 1,
                ip: ip(a),
                epg: *g,
            })
            .collect(),
        ..PolicyDelta::default()
    }
}

/// Rules judge new connections; replies pass. Group 1 refuses incoming
/// tcp, yet its own connections out work; an `out` rule refuses one of
/// its outgoing ports.
pub async fn stateful_replies_pass<H: Harness>(h: &H) -> Outcome {
    let caps = match gate(h, "stateful_replies_pass") {
        Ok(c) => c,
        Err(o) => return o,
    };
    let mut host = host(h).await;
    let net = network(&caps, "default", 1, 3, "10.1.4.0/24");
    let (a, b) = (Container::new(true).await, Container::new(true).await);
    let dp = start(h, &mut host).await;
    dp.apply(vec![
        DpOp::AddNetwork(net.clone()),
        DpOp::AddLocalEndpoint(local_ep("ep-a", &net, "10.1.4.2", 1, &a)),
        DpOp::AddLocalEndpoint(local_ep("ep-b", &net, "10.1.4.3", 2, &b)),
        DpOp::Policy(members(&[("10.1.4.2", 1), ("10.1.4.3", 2)])),
        DpOp::Policy(PolicyDelta {
            rules_added: vec![
                RuleBuilder::new(1, 1, 1).proto(6).deny().build(),
                RuleBuilder::new(2, 1, 1)
                    .outbound()
                    .proto(6)
                    .port(9000)
                    .deny()
                    .build(),
            ],
            ..PolicyDelta::default()
        }),
    ])
    .await
    .expect("apply");
    let _l = [
        a.listen(80, false).await,
        b.listen(80, false).await,
        b.listen(9000, false).await,
    ];
    assert!(a.ping_eventually("10.1.4.3", 10).await, "a -> b ping");
    assert!(
        !b.tcp_connects("10.1.4.2", 80).await,
        "b -> a:80 must be refused"
    );
    assert!(
        a.tcp_connects("10.1.4.3", 80).await,
        "a -> b:80: replies must pass"
    );
    assert!(
        !a.tcp_connects("10.1.4.3", 9000).await,
        "a -> b:9000 refused by the out rule"
    );
    Outcome::Passed
}

/// IPv4 datagrams larger than the MTU meet a port rule as whole
/// datagrams: group 2 refuses everything inbound but UDP to port 8080, and
/// 4,000-byte datagrams (three fragments, only the first with ports) to
/// that port arrive whole and their fragmented answers come back whole;
/// to another port, none arrives.
pub async fn udp_fragments_meet_port_rules<H: Harness>(h: &H) -> Outcome {
    let caps = match gate(h, "udp_fragments_meet_port_rules") {
        Ok(c) => c,
        Err(o) => return o,
    };
    let mut host = host(h).await;
    let net = network(&caps, "default", 1, 9, "10.1.9.0/24");
    let (a, b) = (Container::new(true).await, Container::new(true).await);
    let dp = start(h, &mut host).await;
    dp.apply(vec![
        DpOp::AddNetwork(net.clone()),
        DpOp::AddLocalEndpoint(local_ep("ep-a", &net, "10.1.9.2", 1, &a)),
        DpOp::AddLocalEndpoint(local_ep("ep-b", &net, "10.1.9.3", 2, &b)),
        DpOp::Policy(members(&[("10.1.9.2", 1), ("10.1.9.3", 2)])),
        DpOp::Policy(PolicyDelta {
            rules_added: vec![
                RuleBuilder::new(1, 1, 2).priority(1).deny().build(),
                RuleBuilder::new(2, 1, 2)
                    .priority(2)
                    .proto(17)
                    .port(8080)
                    .build(),
            ],
            ..PolicyDelta::default()
        }),
    ])
    .await
    .expect("apply");
    let _s = [b.udp_echo(8080, "b").await, b.udp_echo(8081, "b").await];
    let mut t = Default::default();
    for _ in 0..5 {
        t = a.udp_tally("10.1.9.3", 8080, 100, 1).await;
        if t.contains_key("b") {
            break;
        }
    }
    assert_eq!(t.get("b"), Some(&1), "a 100-byte datagram to b:8080: {t:?}");
    let t = a.udp_tally("10.1.9.3", 8080, 4000, 10).await;
    assert_eq!(
        t.get("b"),
        Some(&10),
        "every 4,000-byte datagram to b:8080 answered whole: {t:?}"
    );
    let t = a.udp_tally("10.1.9.3", 8081, 4000, 2).await;
    assert_eq!(t.get(""), Some(&2), "b:8081 is refused: {t:?}");
    Outcome::Passed
}

/// An ICMP rule: group 1 refuses incoming ICMP; its own pings get their
/// replies; TCP is untouched.
pub async fn icmp_policy<H: Harness>(h: &H) -> Outcome {
    let caps = match gate(h, "icmp_policy") {
        Ok(c) => c,
        Err(o) => return o,
    };
    let mut host = host(h).await;
    let net = network(&caps, "default", 1, 4, "10.1.5.0/24");
    let (a, b) = (Container::new(true).await, Container::new(true).await);
    let dp = start(h, &mut host).await;
    dp.apply(vec![
        DpOp::AddNetwork(net.clone()),
        DpOp::AddLocalEndpoint(local_ep("ep-a", &net, "10.1.5.2", 1, &a)),
        DpOp::AddLocalEndpoint(local_ep("ep-b", &net, "10.1.5.3", 2, &b)),
        DpOp::Policy(members(&[("10.1.5.2", 1), ("10.1.5.3", 2)])),
    ])
    .await
    .expect("apply");
    assert!(
        b.ping_eventually("10.1.5.2", 10).await,
        "b -> a before the rule"
    );
    dp.apply(vec![DpOp::Policy(PolicyDelta {
        rules_added: vec![RuleBuilder::new(1, 1, 1).proto(1).deny().build()],
        ..PolicyDelta::default()
    })])
    .await
    .expect("icmp rule");
    let _l = a.listen(80, false).await;
    assert!(!b.ping("10.1.5.2").await, "b -> a ping must be refused");
    assert!(a.ping("10.1.5.3").await, "a -> b: echo replies pass");
    assert!(b.tcp_connects("10.1.5.2", 80).await, "tcp is not icmp");
    Outcome::Passed
}

/// IPv6: endpoints with IPv6 addresses ping each other (neighbour
/// discovery included) and a TCP rule over IPv6 holds.
pub async fn ipv6_forwarding_and_policy<H: Harness>(h: &H) -> Outcome {
    let caps = match gate(h, "ipv6_forwarding_and_policy") {
        Ok(c) => c,
        Err(o) => return o,
    };
    let mut host = host(h).await;
    let mut net = network(&caps, "default", 1, 6, "10.1.6.0/24");
    net.subnet6 = Some("fd00:6::/64".parse().unwrap_or_else(|_| unreachable!()));
    let (a, b) = (Container::new(true).await, Container::new(true).await);
    let ea = with_v6(local_ep("ep-a", &net, "10.1.6.2", 1, &a), &net, "fd00:6::2");
    let eb = with_v6(local_ep("ep-b", &net, "10.1.6.3", 2, &b), &net, "fd00:6::3");
    let dp = start(h, &mut host).await;
    dp.apply(vec![
        DpOp::AddNetwork(net.clone()),
        DpOp::AddLocalEndpoint(ea),
        DpOp::AddLocalEndpoint(eb),
        DpOp::Policy(members(&[
            ("10.1.6.2", 1),
            ("fd00:6::2", 1),
            ("10.1.6.3", 2),
            ("fd00:6::3", 2),
        ])),
        DpOp::Policy(PolicyDelta {
            rules_added: vec![
                RuleBuilder::new(1, 1, 2).proto(6).deny().build(),
                RuleBuilder::new(2, 1, 2)
                    .proto(6)
                    .port(8888)
                    .priority(10)
                    .build(),
            ],
            ..PolicyDelta::default()
        }),
    ])
    .await
    .expect("apply");
    let addr = a.ip(&["-br", "-6", "addr", "show", "eth0"]).await;
    assert!(addr.contains("fd00:6::2/64"), "{addr}");
    assert!(a.ping_eventually("fd00:6::3", 15).await, "a -> b over IPv6");
    assert!(b.ping("fd00:6::2").await, "b -> a over IPv6");
    let _l = [b.listen(8888, true).await, b.listen(8889, true).await];
    assert!(
        a.tcp_connects("fd00:6::3", 8888).await,
        "a -> [b]:8888 must connect"
    );
    assert!(
        !a.tcp_connects("fd00:6::3", 8889).await,
        "a -> [b]:8889 must be refused"
    );
    Outcome::Passed
}

const GHOST: &str = "10.1.7.9";
const GHOST_VTEP: &str = "192.0.2.77";

/// One local container `a`, one local `b`, and a remote endpoint (the
/// ghost) whose host does not exist: only the datapath can answer ARP
/// for it.
async fn arp_setup<H: Harness>(h: &H, arp: ArpMode) -> (H::Host, H::Dp, Container, Container) {
    let mut host = host(h).await;
    let net = vxlan_net("default", 1, "net", 5007, "10.1.7.0/24");
    let (a, b) = (Container::new(true).await, Container::new(true).await);
    let dp = start(h, &mut host).await;
    dp.apply(vec![
        DpOp::SetGlobal(GlobalSpec {
            arp_mode: arp,
            ..GlobalSpec::default()
        }),
        DpOp::AddNetwork(net.clone()),
        DpOp::AddPeer(VtepPeer {
            host: "ghost".into(),
            ip: ip(GHOST_VTEP),
        }),
        DpOp::AddLocalEndpoint(local_ep("ep-a", &net, "10.1.7.2", 0, &a)),
        DpOp::AddLocalEndpoint(local_ep("ep-b", &net, "10.1.7.3", 0, &b)),
        DpOp::AddRemoteEndpoint(remote_ep("ghost", &net, GHOST, 0, ip(GHOST_VTEP))),
    ])
    .await
    .expect("apply");
    (host, dp, a, b)
}

/// Proxy ARP: the datapath answers ARP for every endpoint it knows — also
/// one whose host is unreachable — with the endpoint's MAC.
pub async fn arp_proxy<H: Harness>(h: &H) -> Outcome {
    if let Err(o) = gate(h, "arp_proxy") {
        return o;
    }
    let (_host, _dp, a, _b) = arp_setup(h, ArpMode::Proxy).await;
    assert!(a.ping_eventually("10.1.7.3", 10).await, "a -> b");
    let neigh = a.neigh("10.1.7.3").await;
    assert!(neigh.contains(&mac("10.1.7.3")), "{neigh}");
    // Nobody is there to answer for the ghost but the datapath.
    let _ = a.ping(GHOST).await;
    let neigh = a.neigh(GHOST).await;
    assert!(
        neigh.contains(&mac(GHOST)),
        "proxy ARP must answer for the remote endpoint: {neigh}"
    );
    Outcome::Passed
}

/// Flood mode: ARP is flooded and answered by the endpoints themselves —
/// nothing answers for the ghost; back in proxy mode the datapath does.
pub async fn arp_flood<H: Harness>(h: &H) -> Outcome {
    let caps = match gate(h, "arp_flood") {
        Ok(c) => c,
        Err(o) => return o,
    };
    let (_host, dp, a, _b) = arp_setup(h, ArpMode::Flood).await;
    assert!(
        a.ping_eventually("10.1.7.3", 10).await,
        "a -> b with flooded ARP"
    );
    let neigh = a.neigh("10.1.7.3").await;
    assert!(neigh.contains(&mac("10.1.7.3")), "{neigh}");
    let _ = a.ping(GHOST).await;
    let neigh = a.neigh(GHOST).await;
    assert!(
        !neigh.contains("lladdr"),
        "in flood mode nobody answers for the ghost: {neigh}"
    );
    if caps.has(Capability::ProxyArp) {
        dp.apply(vec![DpOp::SetGlobal(GlobalSpec::default())])
            .await
            .expect("back to proxy mode");
        a.ip(&["neigh", "flush", "dev", "eth0"]).await;
        let _ = a.ping(GHOST).await;
        let neigh = a.neigh(GHOST).await;
        assert!(neigh.contains(&mac(GHOST)), "proxy mode again: {neigh}");
    }
    Outcome::Passed
}

/// The network's gateway answers its endpoints: ARP (any MAC) and ping
/// for the IPv4 gateway — the container's default route works as far as
/// the first hop — while an unused address of the subnet stays silent.
pub async fn gateway_answers_arp_and_ping<H: Harness>(h: &H) -> Outcome {
    let caps = match gate(h, "gateway_answers_arp_and_ping") {
        Ok(c) => c,
        Err(o) => return o,
    };
    let mut host = host(h).await;
    let mut net = network(&caps, "default", 1, 8, "10.1.8.0/24");
    net.gateway = "10.1.8.254".parse().ok();
    let a = Container::new(true).await;
    let dp = start(h, &mut host).await;
    dp.apply(vec![
        DpOp::AddNetwork(net.clone()),
        DpOp::AddLocalEndpoint(local_ep("ep-a", &net, "10.1.8.2", 0, &a)),
    ])
    .await
    .expect("apply");
    assert!(
        a.ping_eventually("10.1.8.254", 10).await,
        "the gateway must answer ping"
    );
    let neigh = a.neigh("10.1.8.254").await;
    assert!(
        neigh.contains("lladdr"),
        "the gateway must answer ARP: {neigh}"
    );
    assert!(!a.ping("10.1.8.200").await, "an unused address answered");
    // The gateway answers in flood mode too (nobody else would).
    if caps.has(Capability::FloodArp) {
        dp.apply(vec![DpOp::SetGlobal(GlobalSpec {
            arp_mode: ArpMode::Flood,
            ..GlobalSpec::default()
        })])
        .await
        .expect("flood mode");
        a.ip(&["neigh", "flush", "dev", "eth0"]).await;
        assert!(
            a.ping_eventually("10.1.8.254", 10).await,
            "the gateway must answer in flood mode"
        );
    }
    Outcome::Passed
}

/// The network's IPv6 gateway answers neighbour discovery and ping6.
pub async fn gateway6_answers_nd_and_ping<H: Harness>(h: &H) -> Outcome {
    let caps = match gate(h, "gateway6_answers_nd_and_ping") {
        Ok(c) => c,
        Err(o) => return o,
    };
    let mut host = host(h).await;
    let mut net = network(&caps, "default", 1, 9, "10.1.9.0/24");
    net.subnet6 = "fd00:9::/64".parse().ok();
    net.gateway6 = "fd00:9::1".parse().ok();
    let a = Container::new(true).await;
    let dp = start(h, &mut host).await;
    dp.apply(vec![
        DpOp::AddNetwork(net.clone()),
        DpOp::AddLocalEndpoint(with_v6(
            local_ep("ep-a", &net, "10.1.9.2", 0, &a),
            &net,
            "fd00:9::2",
        )),
    ])
    .await
    .expect("apply");
    assert!(
        a.ping_eventually("fd00:9::1", 15).await,
        "the IPv6 gateway must answer ping6"
    );
    let neigh = a.neigh("fd00:9::1").await;
    assert!(
        neigh.contains("lladdr"),
        "the gateway must answer ND: {neigh}"
    );
    Outcome::Passed
}
