//! External access with real packets: egress to an "outside" namespace
//! SNATed to the host's address (also for tenants whose endpoints share an
//! address), and a published port reached from outside.

use super::fixture::{Container, local_ep, vxlan_net};
use super::{Harness, OUTSIDE_ADDR, OUTSIDE_HOST_ADDR, Outcome, gate, host, start};
use contiv_core::datapath::{Datapath, DpOp, PublishedPort, ServiceProtocol};

/// A host joined to a new "outside" namespace.
async fn host_with_outside<H: Harness>(h: &H) -> (H::Host, Container) {
    let mut host = host(h).await;
    let outside = Container::new(true).await;
    h.join_outside(&mut host, &outside)
        .await
        .unwrap_or_else(|e| panic!("join the outside: {e}"));
    (host, outside)
}

/// A network with external access reaches a server outside the cluster,
/// which sees the host's address; a network without it does not get out;
/// an endpoint of another tenant on the same host is not reachable
/// through the host.
pub async fn egress_nat_to_outside<H: Harness>(h: &H) -> Outcome {
    if let Err(o) = gate(h, "egress_nat_to_outside") {
        return o;
    }
    let (mut host, outside) = host_with_outside(h).await;
    let mut net = vxlan_net("default", 1, "data", 5401, "10.1.30.0/24");
    net.gateway = "10.1.30.254".parse().ok();
    net.external = true;
    let mut infra = vxlan_net("default", 1, "infra", 5402, "10.1.31.0/24");
    infra.gateway = "10.1.31.254".parse().ok();
    let mut other = vxlan_net("blue", 2, "data", 5403, "10.1.32.0/24");
    other.gateway = "10.1.32.254".parse().ok();
    other.external = true;
    let (a, b, c) = (
        Container::new(true).await,
        Container::new(true).await,
        Container::new(true).await,
    );
    let dp = start(h, &mut host).await;
    dp.apply(vec![
        DpOp::AddNetwork(net.clone()),
        DpOp::AddNetwork(infra.clone()),
        DpOp::AddNetwork(other.clone()),
        DpOp::AddLocalEndpoint(local_ep("ep-a", &net, "10.1.30.2", 0, &a)),
        DpOp::AddLocalEndpoint(local_ep("ep-b", &infra, "10.1.31.2", 0, &b)),
        DpOp::AddLocalEndpoint(local_ep("ep-c", &other, "10.1.32.2", 0, &c)),
    ])
    .await
    .expect("apply");
    let _srv = outside.serve(8080, None).await;
    let _in_c = c.serve(8080, Some("tenant blue")).await;
    assert!(
        a.ping_eventually(OUTSIDE_ADDR, 10).await,
        "a reaches the outside"
    );
    assert_eq!(
        a.read_line(OUTSIDE_ADDR, 8080).await.as_deref(),
        Some(OUTSIDE_HOST_ADDR),
        "the outside sees the host's address"
    );
    assert!(
        c.read_line(OUTSIDE_ADDR, 8080).await.is_some(),
        "another tenant gets out too"
    );
    assert!(
        !b.ping(OUTSIDE_ADDR).await,
        "a network without external access stays inside"
    );
    assert!(
        a.read_line("10.1.32.2", 8080).await.is_none(),
        "tenant default reached tenant blue through the host"
    );
    // External access switched off: a stays inside.
    let mut off = net.clone();
    off.external = false;
    dp.apply(vec![DpOp::AddNetwork(off)]).await.expect("off");
    assert!(
        a.unreachable_within(OUTSIDE_ADDR, 5).await,
        "external access is off"
    );
    Outcome::Passed
}

/// Two tenants with the same subnet, each with an endpoint at the same
/// address on one host, both with external access: both reach the
/// outside (which sees the host's address), each gets its own replies,
/// and neither reaches the other through the host.
pub async fn egress_nat_overlapping_tenants<H: Harness>(h: &H) -> Outcome {
    if let Err(o) = gate(h, "egress_nat_overlapping_tenants") {
        return o;
    }
    let (mut host, outside) = host_with_outside(h).await;
    let mut red = vxlan_net("red", 3, "data", 5421, "10.1.34.0/24");
    red.gateway = "10.1.34.254".parse().ok();
    red.external = true;
    let mut blue = vxlan_net("blue", 4, "data", 5422, "10.1.34.0/24");
    blue.gateway = "10.1.34.254".parse().ok();
    blue.external = true;
    let (r, b) = (Container::new(true).await, Container::new(true).await);
    let dp = start(h, &mut host).await;
    dp.apply(vec![
        DpOp::AddNetwork(red.clone()),
        DpOp::AddNetwork(blue.clone()),
        DpOp::AddLocalEndpoint(local_ep("ep-red", &red, "10.1.34.2", 0, &r)),
        DpOp::AddLocalEndpoint(local_ep("ep-blue", &blue, "10.1.34.2", 0, &b)),
    ])
    .await
    .expect("apply");
    let _srv = outside.serve(8080, None).await;
    assert!(
        r.ping_eventually(OUTSIDE_ADDR, 10).await,
        "tenant red reaches the outside"
    );
    assert!(
        b.ping_eventually(OUTSIDE_ADDR, 10).await,
        "tenant blue, with the same address on the same host, reaches the outside too"
    );
    for (c, who) in [(&r, "red"), (&b, "blue"), (&r, "red again")] {
        assert_eq!(
            c.read_line(OUTSIDE_ADDR, 8080).await.as_deref(),
            Some(OUTSIDE_HOST_ADDR),
            "{who}: a TCP connection to the outside, seen from the host's address"
        );
    }
    let _in_b = b.serve(8081, Some("tenant blue")).await;
    assert!(
        r.read_line("10.1.34.2", 8081).await.is_none(),
        "tenant red reached tenant blue's endpoint"
    );
    Outcome::Passed
}

/// A published port (host `18080` → endpoint `8080`) is reached from
/// outside at the host's address; the endpoint sees the outside's
/// address; removed, the port is closed.
pub async fn published_port_from_outside<H: Harness>(h: &H) -> Outcome {
    if let Err(o) = gate(h, "published_port_from_outside") {
        return o;
    }
    let (mut host, outside) = host_with_outside(h).await;
    let mut net = vxlan_net("default", 1, "data", 5411, "10.1.33.0/24");
    net.gateway = "10.1.33.254".parse().ok();
    net.external = true;
    let e = Container::new(true).await;
    let port = PublishedPort {
        endpoint: "ep-e".into(),
        protocol: ServiceProtocol::Tcp,
        host_ip: None,
        host_port: 18080,
        port: 8080,
    };
    let dp = start(h, &mut host).await;
    dp.apply(vec![
        DpOp::AddNetwork(net.clone()),
        DpOp::AddLocalEndpoint(local_ep("ep-e", &net, "10.1.33.2", 0, &e)),
        DpOp::AddPublishedPort(port.clone()),
    ])
    .await
    .expect("apply");
    let _srv = e.serve(8080, None).await;
    let mut got = None;
    for _ in 0..20 {
        got = outside.read_line(OUTSIDE_HOST_ADDR, 18080).await;
        if got.is_some() {
            break;
        }
    }
    assert_eq!(
        got.as_deref(),
        Some(OUTSIDE_ADDR),
        "the published port answers, and the endpoint sees the outside's address"
    );
    dp.apply(vec![DpOp::RemovePublishedPort(port.key())])
        .await
        .expect("unpublish");
    assert!(
        outside.read_line(OUTSIDE_HOST_ADDR, 18080).await.is_none(),
        "an unpublished port is closed"
    );
    Outcome::Passed
}
