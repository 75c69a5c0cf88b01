//! Services: state-level (backends follow endpoints, resync, restart) and
//! real packets (VIP, spread over backends, a removed backend, hairpin,
//! policy judged on the backend).

use super::fixture::{Container, RuleBuilder, ip, local_ep, vxlan_net};
use super::{Harness, Outcome, gate, host, start};
use contiv_core::datapath::{
    Capabilities, Capability, Datapath, DesiredState, DpOp, HostState, NetworkSpec, PortSpec,
    PublishedPort, ServiceProtocol, ServiceSpec,
};
use contiv_core::ir::{Membership, PolicyDelta};
use std::collections::BTreeMap;

fn network(caps: &Capabilities, seg: u32, subnet: &str, gw: &str) -> NetworkSpec {
    let mut n = if caps.has(Capability::Vxlan) || !caps.has(Capability::Vlan) {
        vxlan_net("default", 1, "svc", 5300 + seg, subnet)
    } else {
        super::fixture::vlan_net("default", 1, "svc", 300 + seg as u16, subnet)
    };
    n.gateway = gw.parse().ok();
    n
}

fn web(net: &NetworkSpec, vip: &str, backends: &[&str]) -> ServiceSpec {
    ServiceSpec {
        key: "default:web".into(),
        network: net.key.clone(),
        vip: vip.parse().unwrap_or_else(|e| panic!("{vip}: {e}")),
        ports: vec![PortSpec {
            svc_port: 80,
            prov_port: 8080,
            protocol: ServiceProtocol::Tcp,
        }],
        backends: backends.iter().map(|b| (*b).to_owned()).collect(),
    }
}

/// State: a service and a published port converge by resync and stay in
/// sync after a restart; a backend endpoint that goes leaves the service
/// (and its published port goes); refusals: a backend on another network,
/// a VIP outside the network.
pub async fn services_follow_endpoints<H: Harness>(h: &H) -> Outcome {
    let caps = match gate(h, "services_follow_endpoints") {
        Ok(c) => c,
        Err(o) => return o,
    };
    let real = caps.has(Capability::ForwardsPackets);
    let mut host = host(h).await;
    let mut net = network(&caps, 1, "10.1.20.0/24", "10.1.20.254");
    net.external = true;
    let other = vxlan_net("default", 1, "other", 5399, "10.1.21.0/24");
    let (a, b, c) = (
        Container::new(real).await,
        Container::new(real).await,
        Container::new(real).await,
    );
    let d = DesiredState {
        networks: vec![net.clone(), other.clone()],
        local_endpoints: vec![
            local_ep("ep-a", &net, "10.1.20.2", 0, &a),
            local_ep("ep-b", &net, "10.1.20.3", 0, &b),
            local_ep("ep-c", &other, "10.1.21.3", 0, &c),
        ],
        services: vec![web(&net, "10.1.20.100", &["ep-a", "ep-b"])],
        published: vec![PublishedPort {
            endpoint: "ep-b".into(),
            protocol: ServiceProtocol::Tcp,
            host_ip: None,
            host_port: 18080,
            port: 8080,
        }],
        ..DesiredState::default()
    };
    let dp = start(h, &mut host).await;
    let r = dp.resync(&d).await.expect("resync");
    assert!(r.added > 0 && r.removed == 0, "{r:?}");
    let r = dp.resync(&d).await.expect("resync again");
    assert_eq!((r.added, r.removed), (0, 0), "in sync: {r:?}");
    drop(dp);
    let dp = start(h, &mut host).await;
    let r = dp.resync(&d).await.expect("resync after restart");
    assert_eq!((r.added, r.removed), (0, 0), "after a restart: {r:?}");

    // ep-b goes: it leaves the service, its published port goes.
    dp.apply(vec![DpOp::RemoveLocalEndpoint("ep-b".into())])
        .await
        .expect("remove ep-b");
    let mut want = HostState::from_desired(&d).expect("valid");
    want.forget_endpoint("ep-b");
    let after = want.snapshot();
    assert_eq!(after.services[0].backends, ["ep-a"]);
    assert!(after.published.is_empty());
    let r = dp.resync(&after).await.expect("resync to the cascade");
    assert_eq!(
        (r.added, r.removed),
        (0, 0),
        "the cascade is the contract's: {r:?}"
    );

    // Refusals change nothing.
    let e = dp
        .apply(vec![DpOp::AddService(web(&net, "10.1.20.100", &["ep-c"]))])
        .await
        .expect_err("a backend on another network");
    assert!(
        e.to_string().contains("not on the service's network"),
        "{e}"
    );
    let e = dp
        .apply(vec![DpOp::AddService(web(&net, "10.9.9.9", &["ep-a"]))])
        .await
        .expect_err("a VIP outside the network");
    assert!(e.to_string().contains("subnet"), "{e}");
    let r = dp.resync(&after).await.expect("resync");
    assert_eq!((r.added, r.removed), (0, 0), "refusals left traces: {r:?}");
    Outcome::Passed
}

fn assert_spread(t: &BTreeMap<String, usize>, names: &[&str], n: usize) {
    for name in names {
        let got = t.get(*name).copied().unwrap_or(0);
        assert!(
            got * 100 >= n * 15,
            "backend {name} got {got} of {n} connections (< 15 %): {t:?}"
        );
    }
    let sum: usize = names.iter().map(|b| t.get(*b).copied().unwrap_or(0)).sum();
    assert_eq!(sum, n, "every connection reached a backend: {t:?}");
}

/// Packets: a client on the service's network reaches the VIP (which
/// answers ARP with its own MAC); 300 connections spread over three
/// backends (each ≥ 15 %); a backend removed from the service and a
/// backend endpoint removed get no new connection; a backend reaching its
/// own service reaches itself when it is the only backend (hairpin);
/// policy is judged on the backend (its `in` rule refuses the client).
pub async fn service_load_balancing<H: Harness>(h: &H) -> Outcome {
    let caps = match gate(h, "service_load_balancing") {
        Ok(c) => c,
        Err(o) => return o,
    };
    let mut host = host(h).await;
    let net = network(&caps, 2, "10.1.22.0/24", "10.1.22.254");
    let ctrs = [
        Container::new(true).await,
        Container::new(true).await,
        Container::new(true).await,
        Container::new(true).await,
    ];
    let [client, b1, b2, b3] = &ctrs;
    let dp = start(h, &mut host).await;
    let vip = "10.1.22.100";
    dp.apply(vec![
        DpOp::AddNetwork(net.clone()),
        DpOp::AddLocalEndpoint(local_ep("client", &net, "10.1.22.2", 0, client)),
        DpOp::AddLocalEndpoint(local_ep("b1", &net, "10.1.22.11", 5, b1)),
        DpOp::AddLocalEndpoint(local_ep("b2", &net, "10.1.22.12", 5, b2)),
        DpOp::AddLocalEndpoint(local_ep("b3", &net, "10.1.22.13", 5, b3)),
        DpOp::Policy(PolicyDelta {
            members_added: ["10.1.22.11", "10.1.22.12", "10.1.22.13"]
                .iter()
                .map(|a| Membership {
                    tenant: 1,
                    ip: ip(a),
                    epg: 5,
                })
                .collect(),
            ..PolicyDelta::default()
        }),
        DpOp::AddService(web(&net, vip, &["b1", "b2", "b3"])),
    ])
    .await
    .expect("apply");
    let _s = [
        b1.serve(8080, Some("b1")).await,
        b2.serve(8080, Some("b2")).await,
        b3.serve(8080, Some("b3")).await,
    ];
    assert!(
        client.ping_eventually("10.1.22.11", 10).await,
        "client -> b1 directly"
    );
    let mut first = None;
    for _ in 0..50 {
        first = client.read_line(vip, 80).await;
        if first.is_some() {
            break;
        }
    }
    assert!(first.is_some(), "the VIP must answer on port 80");
    let neigh = client.neigh(vip).await;
    assert!(
        neigh.contains(&contiv_core::datapath::MacAddr::from_ipv4(ip_v4(vip)).to_string()),
        "the VIP answers ARP with its own MAC: {neigh}"
    );
    assert!(
        client.read_line(vip, 81).await.is_none(),
        "a port the service does not have"
    );

    let t = client.tally(vip, 80, 300).await;
    assert_spread(&t, &["b1", "b2", "b3"], 300);

    // b3 leaves the service: no new connection reaches it.
    dp.apply(vec![DpOp::AddService(web(&net, vip, &["b1", "b2"]))])
        .await
        .expect("update");
    let t = client.tally(vip, 80, 60).await;
    assert_eq!(
        t.get("b3"),
        None,
        "a removed backend got connections: {t:?}"
    );
    assert_spread(&t, &["b1", "b2"], 60);
    // b2's endpoint goes: the service follows.
    dp.apply(vec![DpOp::RemoveLocalEndpoint("b2".into())])
        .await
        .expect("remove b2");
    let t = client.tally(vip, 80, 20).await;
    assert_eq!(t.get("b1"), Some(&20), "only b1 is left: {t:?}");

    // Hairpin: b1 reaches its own service, i.e. itself.
    assert_eq!(
        b1.read_line(vip, 80).await.as_deref(),
        Some("b1"),
        "hairpin: a backend reaching its own service"
    );

    // Policy is judged on the backend's group: group 5 refuses tcp 8080.
    if caps.has(Capability::StatefulPolicy) {
        dp.apply(vec![DpOp::Policy(PolicyDelta {
            rules_added: vec![RuleBuilder::new(1, 1, 5).proto(6).port(8080).deny().build()],
            ..PolicyDelta::default()
        })])
        .await
        .expect("rule");
        assert!(
            client.read_line(vip, 80).await.is_none(),
            "the backend's in rule must refuse the connection through the VIP"
        );
    }
    Outcome::Passed
}

/// Packets: UDP datagrams larger than the MTU through a VIP. The client
/// sends 4,000-byte datagrams (three IPv4 fragments each, only the first
/// with a UDP header) to a UDP service; each reaches one of two backends
/// whole, and the backend's longer answer (also fragmented) reaches the
/// client whole, from the VIP and the service port. The backends' group
/// denies everything inbound but UDP to the backend port: the later
/// fragments (no ports) are judged as their datagram, not dropped.
pub async fn service_udp_fragments<H: Harness>(h: &H) -> Outcome {
    let caps = match gate(h, "service_udp_fragments") {
        Ok(c) => c,
        Err(o) => return o,
    };
    let mut host = host(h).await;
    let net = network(&caps, 3, "10.1.23.0/24", "10.1.23.254");
    let ctrs = [
        Container::new(true).await,
        Container::new(true).await,
        Container::new(true).await,
    ];
    let [client, b1, b2] = &ctrs;
    let dp = start(h, &mut host).await;
    let vip = "10.1.23.100";
    let mut svc = web(&net, vip, &["b1", "b2"]);
    svc.ports = vec![PortSpec {
        svc_port: 5000,
        prov_port: 8080,
        protocol: ServiceProtocol::Udp,
    }];
    dp.apply(vec![
        DpOp::AddNetwork(net.clone()),
        DpOp::AddLocalEndpoint(local_ep("client", &net, "10.1.23.2", 0, client)),
        DpOp::AddLocalEndpoint(local_ep("b1", &net, "10.1.23.11", 5, b1)),
        DpOp::AddLocalEndpoint(local_ep("b2", &net, "10.1.23.12", 5, b2)),
        DpOp::Policy(PolicyDelta {
            members_added: ["10.1.23.11", "10.1.23.12"]
                .iter()
                .map(|a| Membership {
                    tenant: 1,
                    ip: ip(a),
                    epg: 5,
                })
                .collect(),
            rules_added: vec![
                RuleBuilder::new(1, 1, 5).priority(1).deny().build(),
                RuleBuilder::new(2, 1, 5)
                    .priority(2)
                    .proto(17)
                    .port(8080)
                    .build(),
            ],
            ..PolicyDelta::default()
        }),
        DpOp::AddService(svc),
    ])
    .await
    .expect("apply");
    let _s = [b1.udp_echo(8080, "b1").await, b2.udp_echo(8080, "b2").await];
    // Small datagrams first, until one is answered (the client resolves
    // the VIP): the service answers UDP at all.
    let mut t = Default::default();
    for _ in 0..5 {
        t = client.udp_tally(vip, 5000, 100, 1).await;
        if t.contains_key("b1") || t.contains_key("b2") {
            break;
        }
    }
    assert!(
        t.contains_key("b1") || t.contains_key("b2"),
        "a 100-byte datagram through the VIP: {t:?}"
    );
    let n = 20;
    let t = client.udp_tally(vip, 5000, 4000, n).await;
    let whole = t.get("b1").copied().unwrap_or(0) + t.get("b2").copied().unwrap_or(0);
    assert_eq!(
        whole, n,
        "every 4,000-byte datagram answered whole from the VIP by a backend: {t:?}"
    );
    println!("conformance: fragmented datagrams through the VIP: {t:?}");
    Outcome::Passed
}

fn ip_v4(s: &str) -> std::net::Ipv4Addr {
    s.parse().unwrap_or_else(|e| panic!("{s}: {e}"))
}
