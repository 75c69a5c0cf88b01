//! Routing-mode scenarios: L3 within a tenant across its networks (one
//! host, two hosts over VXLAN), tenants with the same subnets isolated,
//! the seed tutorial's policy on routed traffic, and the host's router on
//! the fabric (the BGP hand-off, without BGP: routes are given directly).

use super::fixture::{Container, ip, local_ep, remote_ep, vxlan_net};
use super::{Harness, Outcome, gate, host, start};
use contiv_core::datapath::{
    Capability, Datapath, DpOp, ExternalRoute, FabricSpec, FwdMode, GlobalSpec, NetworkSpec,
    VtepPeer,
};
use contiv_core::ir::{Membership, PolicyDelta, PolicyIr};

fn routing() -> DpOp {
    DpOp::SetGlobal(GlobalSpec {
        fwd_mode: FwdMode::Routing,
        ..GlobalSpec::default()
    })
}

/// A VXLAN network with gateway `.254` of its /24.
fn net(tenant: &str, tenant_id: u32, name: &str, vni: u32, prefix: &str) -> NetworkSpec {
    let mut n = vxlan_net(tenant, tenant_id, name, vni, &format!("{prefix}.0/24"));
    n.gateway = format!("{prefix}.254").parse().ok();
    n
}

/// The TTL of the first echo reply from `dst`, if one comes within about
/// 2 s (retried for up to `secs`: ARP and flows settle).
async fn reply_ttl(c: &Container, dst: &str, secs: u64) -> Option<u8> {
    reply_ttl_from(c, None, dst, secs).await
}

/// [`reply_ttl`] with the echo request sent from address `src`.
async fn reply_ttl_from(c: &Container, src: Option<&str>, dst: &str, secs: u64) -> Option<u8> {
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(secs);
    let mut args = vec!["ping", "-c", "1", "-W", "1"];
    if let Some(s) = src {
        args.extend(["-I", s]);
    }
    args.push(dst);
    loop {
        let out = c.exec(&args).await;
        let text = String::from_utf8_lossy(&out.stdout);
        if let Some(ttl) = text
            .split_whitespace()
            .find_map(|w| w.strip_prefix("ttl="))
            .and_then(|t| t.parse().ok())
        {
            return Some(ttl);
        }
        if std::time::Instant::now() >= deadline {
            return None;
        }
    }
}

/// Listens once on `port` in `server`, connects from `client` (from its
/// address `src`, if given) to `addr:port`, and returns the peer address
/// the server accepted (what its socket saw: a NAT would show up here).
async fn accepted_from(
    server: &Container,
    client: &Container,
    src: Option<&str>,
    addr: &str,
    port: u16,
) -> Option<String> {
    let p = port.to_string();
    let listener = tokio::process::Command::new("ip")
        .args(["netns", "exec", server.name(), "timeout", "10"])
        .args(["nc", "-l", "-v", "-n", &p])
        .stdin(std::process::Stdio::null())
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::piped())
        .kill_on_drop(true)
        .spawn()
        .unwrap_or_else(|e| panic!("cannot start nc in {}: {e}", server.name()));
    let want = format!(":{port} ");
    for _ in 0..250 {
        let out = server.exec(&["ss", "-ltnH"]).await;
        if String::from_utf8_lossy(&out.stdout).contains(&want) {
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(20)).await;
    }
    let mut args = vec!["nc", "-z", "-w", "2"];
    if let Some(s) = src {
        args.extend(["-s", s]);
    }
    args.extend([addr, p.as_str()]);
    if !client.exec(&args).await.status.success() {
        return None;
    }
    let out = listener.wait_with_output().await.ok()?;
    // netcat-openbsd: "Connection received on <addr> <port>".
    let text = String::from_utf8_lossy(&out.stderr).into_owned();
    text.lines()
        .find_map(|l| l.split_once("received on "))
        .and_then(|(_, rest)| rest.split_whitespace().next())
        .map(str::to_owned)
}

fn members(tenant: u32, list: &[(&str, u32)]) -> PolicyDelta {
    PolicyDelta {
        members_added: list
            .iter()
            .map(|(a, g)| Membership {
                tenant,
                ip: ip(a),
                epg: *g,
            })
            .collect(),
        ..PolicyDelta::default()
    }
}

/// One host, two tenants with the same two subnets. In bridge mode the
/// networks of a tenant do not reach each other; in routing mode they do,
/// through the gateways (the reply's TTL shows the one routed hop), while
/// nothing crosses tenants; with stateful policy, the seed tutorial's
/// rules hold for routed traffic (web on one network, db on the other);
/// back in bridge mode the networks are apart again.
pub async fn routing_within_tenant<H: Harness>(h: &H) -> Outcome {
    let caps = match gate(h, "routing_within_tenant") {
        Ok(c) => c,
        Err(o) => return o,
    };
    let mut host = host(h).await;
    let a1 = net("ta", 1, "one", 5301, "10.31.1");
    let a2 = net("ta", 1, "two", 5302, "10.31.2");
    let b1 = net("tb", 2, "one", 5303, "10.31.1");
    let b2 = net("tb", 2, "two", 5304, "10.31.2");
    let ctrs = [
        Container::new(true).await,
        Container::new(true).await,
        Container::new(true).await,
        Container::new(true).await,
    ];
    let [ca1, ca2, cb1, cb2] = &ctrs;
    let dp = start(h, &mut host).await;
    dp.apply(vec![
        DpOp::AddNetwork(a1.clone()),
        DpOp::AddNetwork(a2.clone()),
        DpOp::AddNetwork(b1.clone()),
        DpOp::AddNetwork(b2.clone()),
        DpOp::AddLocalEndpoint(local_ep("db", &a1, "10.31.1.2", 1, ca1)),
        DpOp::AddLocalEndpoint(local_ep("web", &a2, "10.31.2.2", 0, ca2)),
        // Tenant b: the same addresses as tenant a's, plus one more.
        DpOp::AddLocalEndpoint(local_ep("b1", &b1, "10.31.1.2", 0, cb1)),
        DpOp::AddLocalEndpoint(local_ep("b2", &b2, "10.31.2.3", 0, cb2)),
    ])
    .await
    .expect("apply");
    assert!(
        ca1.ping_eventually("10.31.1.254", 10).await,
        "the gateway answers in bridge mode"
    );
    assert!(
        !ca1.ping("10.31.2.2").await,
        "bridge mode: another network of the tenant is not reachable"
    );

    dp.apply(vec![routing()]).await.expect("routing mode");
    assert_eq!(
        reply_ttl(ca1, "10.31.2.2", 10).await,
        Some(63),
        "db -> web across networks: routed, one hop"
    );
    assert_eq!(
        reply_ttl(ca2, "10.31.1.2", 5).await,
        Some(63),
        "web -> db across networks"
    );
    assert!(
        cb1.ping_eventually("10.31.2.3", 10).await,
        "tenant b routes between its own networks"
    );
    assert!(
        !ca1.ping("10.31.2.3").await,
        "tenant a reached tenant b's endpoint"
    );
    assert!(
        !cb1.ping("10.31.2.2").await,
        "tenant b reached tenant a's endpoint"
    );
    // 10.31.1.2 exists in both tenants: each reaches its own.
    let _l = cb1.listen(5555, false).await;
    assert!(
        cb2.tcp_connects("10.31.1.2", 5555).await,
        "tenant b's 10.31.1.2 is its own"
    );
    assert!(
        !ca2.tcp_connects("10.31.1.2", 5555).await,
        "tenant a's 10.31.1.2 is not tenant b's"
    );

    if caps.has(Capability::StatefulPolicy) {
        // The seed tutorial on routed traffic: db (group 1) in network
        // one, web in network two.
        let ir = super::single_host::tutorial("10.31.1.2", "10.31.2.2", &[]);
        dp.apply(vec![DpOp::Policy(PolicyIr::default().diff(&ir))])
            .await
            .expect("tutorial policy");
        let _l = [
            ca1.listen(8888, false).await,
            ca1.listen(8889, false).await,
            ca2.listen(80, false).await,
        ];
        assert!(
            ca2.tcp_connects("10.31.1.2", 8888).await,
            "routed web -> db:8888 must connect"
        );
        assert!(
            !ca2.tcp_connects("10.31.1.2", 8889).await,
            "routed web -> db:8889 must be refused"
        );
        assert!(
            ca1.tcp_connects("10.31.2.2", 80).await,
            "routed db -> web:80: replies must pass"
        );
    }

    dp.apply(vec![DpOp::SetGlobal(GlobalSpec::default())])
        .await
        .expect("bridge mode again");
    assert!(
        !ca1.ping("10.31.2.2").await,
        "bridge mode again: the networks are apart"
    );
    Outcome::Passed
}

/// Two hosts over VXLAN in routing mode: an endpoint on one network of a
/// tenant reaches an endpoint on another network of the tenant on the
/// other host (routed once, on the sending host; the receiving host
/// delivers it on the destination network's VNI); another tenant with the
/// same subnet and address on the far host stays apart; with stateful
/// policy, an ingress rule of the destination's group holds where it
/// lands.
pub async fn routing_two_hosts<H: Harness>(h: &H) -> Outcome {
    let caps = match gate(h, "routing_two_hosts") {
        Ok(c) => c,
        Err(o) => return o,
    };
    let (mut ha, mut hb) = (host(h).await, host(h).await);
    let (vtep_a, vtep_b) = h
        .join_underlay(&mut ha, &mut hb)
        .await
        .unwrap_or_else(|e| panic!("join the underlays: {e}"));
    let n1 = net("default", 1, "one", 5311, "10.32.1");
    let n2 = net("default", 1, "two", 5312, "10.32.2");
    let other = net("other", 2, "two", 5313, "10.32.2");
    let (ca, cb, cc) = (
        Container::new(true).await,
        Container::new(true).await,
        Container::new(true).await,
    );
    let peer = |name: &str, ip| VtepPeer {
        host: name.into(),
        ip,
    };
    let policy_members = members(1, &[("10.32.1.2", 1), ("10.32.2.2", 2)]);
    let (dpa, dpb) = (start(h, &mut ha).await, start(h, &mut hb).await);
    let nets = [n1.clone(), n2.clone(), other.clone()].map(DpOp::AddNetwork);
    let mut ops_a = vec![routing()];
    ops_a.extend(nets.iter().cloned());
    ops_a.extend([
        DpOp::AddPeer(peer("b", vtep_b)),
        DpOp::AddLocalEndpoint(local_ep("ep-a", &n1, "10.32.1.2", 1, &ca)),
        DpOp::AddRemoteEndpoint(remote_ep("ep-b", &n2, "10.32.2.2", 2, vtep_b)),
        DpOp::AddRemoteEndpoint(remote_ep("ep-c", &other, "10.32.2.2", 0, vtep_b)),
        DpOp::Policy(policy_members.clone()),
    ]);
    dpa.apply(ops_a).await.expect("apply on a");
    let mut ops_b = vec![routing()];
    ops_b.extend(nets.iter().cloned());
    ops_b.extend([
        DpOp::AddPeer(peer("a", vtep_a)),
        DpOp::AddLocalEndpoint(local_ep("ep-b", &n2, "10.32.2.2", 2, &cb)),
        // Tenant other: the same address as ep-b.
        DpOp::AddLocalEndpoint(local_ep("ep-c", &other, "10.32.2.2", 0, &cc)),
        DpOp::AddRemoteEndpoint(remote_ep("ep-a", &n1, "10.32.1.2", 1, vtep_a)),
        DpOp::Policy(policy_members),
    ]);
    dpb.apply(ops_b).await.expect("apply on b");
    assert_eq!(
        reply_ttl(&ca, "10.32.2.2", 15).await,
        Some(63),
        "a -> b: routed across hosts"
    );
    assert_eq!(
        reply_ttl(&cb, "10.32.1.2", 5).await,
        Some(63),
        "b -> a: routed across hosts"
    );
    assert!(
        !cc.ping("10.32.1.2").await,
        "tenant other reached tenant default across hosts"
    );
    if !caps.has(Capability::StatefulPolicy) {
        return Outcome::Passed;
    }
    // Routed traffic meets the destination's ingress rules where it lands.
    let _l = super::multi_host::ingress_rule_holds_on_b(&dpa, &dpb, &ca, &cb, "10.32.2.2").await;
    Outcome::Passed
}

/// The host's router on the fabric, with a top-of-rack switch played by a
/// namespace on the host's uplink: the ToR reaches the router address
/// (what BGP needs) and a container, the container reaches a prefix behind
/// the ToR through the route it was given — both ways without NAT (the ToR
/// sees the container's own address); another tenant with the same subnet
/// does not; without the route, or without the fabric, nothing passes.
pub async fn fabric_routes_without_nat<H: Harness>(h: &H) -> Outcome {
    if let Err(o) = gate(h, "fabric_routes_without_nat") {
        return o;
    }
    let mut host = host(h).await;
    let tor = Container::new(true).await;
    h.join_fabric(&mut host, tor.name(), "fab0")
        .await
        .unwrap_or_else(|e| panic!("connect the ToR to the uplink: {e}"));
    tor.ip(&["addr", "add", "50.33.0.254/24", "dev", "fab0"])
        .await;
    tor.ip(&["link", "set", "fab0", "up"]).await;
    // The "outside" network behind the ToR, and the ToR's route to the
    // containers (what BGP would install).
    tor.ip(&["addr", "add", "60.33.0.1/24", "dev", "lo"]).await;
    tor.ip(&["route", "add", "10.33.1.0/24", "via", "50.33.0.1"])
        .await;
    let n = net("default", 1, "net", 5321, "10.33.1");
    let other = net("other", 2, "net", 5322, "10.33.1");
    let (ca, co) = (Container::new(true).await, Container::new(true).await);
    let fabric = FabricSpec {
        tenant_id: 1,
        router: "50.33.0.1/24".parse().unwrap_or_else(|_| unreachable!()),
    };
    let route = ExternalRoute {
        prefix: "60.33.0.0/24".parse().unwrap_or_else(|_| unreachable!()),
        next_hop: "50.33.0.254".parse().unwrap_or_else(|_| unreachable!()),
    };
    let dp = start(h, &mut host).await;
    dp.apply(vec![
        routing(),
        DpOp::AddNetwork(n.clone()),
        DpOp::AddNetwork(other.clone()),
        DpOp::AddLocalEndpoint(local_ep("ep-a", &n, "10.33.1.2", 0, &ca)),
        DpOp::AddLocalEndpoint(local_ep("ep-o", &other, "10.33.1.3", 0, &co)),
        DpOp::SetFabric(Some(fabric)),
        DpOp::AddRoute(route),
    ])
    .await
    .expect("apply");
    assert!(
        tor.ping_eventually("50.33.0.1", 10).await,
        "the ToR reaches the router address"
    );
    assert!(
        ca.ping_eventually("60.33.0.1", 10).await,
        "the container reaches the prefix behind the ToR"
    );
    // From the outside address: the fabric subnet itself is not routed
    // to (the ToR would advertise it if it were).
    assert_eq!(
        reply_ttl_from(&tor, Some("60.33.0.1"), "10.33.1.2", 5).await,
        Some(63),
        "the outside reaches the container, routed once"
    );
    // No NAT either way: each side sees the other's own address.
    assert_eq!(
        accepted_from(&tor, &ca, None, "60.33.0.1", 7000)
            .await
            .as_deref(),
        Some("10.33.1.2"),
        "the ToR must see the container's own address"
    );
    assert_eq!(
        accepted_from(&ca, &tor, Some("60.33.0.1"), "10.33.1.2", 7001)
            .await
            .as_deref(),
        Some("60.33.0.1"),
        "the container must see the ToR's own address"
    );
    assert!(
        !co.ping("60.33.0.1").await,
        "another tenant used the fabric"
    );
    assert_eq!(
        reply_ttl_from(&tor, Some("60.33.0.1"), "10.33.1.3", 0).await,
        None,
        "the fabric reached another tenant"
    );
    dp.apply(vec![DpOp::RemoveRoute(route.prefix)])
        .await
        .expect("remove the route");
    assert!(
        !ca.ping("60.33.0.1").await,
        "no route: the prefix is unreachable"
    );
    dp.apply(vec![DpOp::SetFabric(None)])
        .await
        .expect("remove the fabric");
    assert_eq!(
        reply_ttl_from(&tor, Some("60.33.0.1"), "10.33.1.2", 0).await,
        None,
        "no fabric: the outside does not reach the container"
    );
    Outcome::Passed
}
