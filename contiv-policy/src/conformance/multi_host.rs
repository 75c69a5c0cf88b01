//! Two-host scenarios: VXLAN over an underlay, VLAN over a trunk.

use super::fixture::{Container, RuleBuilder, ip, local_ep, remote_ep, vlan_net, vxlan_net};
use super::{Harness, Outcome, gate, host, start};
use contiv_core::datapath::{Capability, Datapath, DpOp, VtepPeer};
use contiv_core::ir::{Membership, PolicyDelta};
use std::net::IpAddr;

fn peer(name: &str, ip: IpAddr) -> VtepPeer {
    VtepPeer {
        host: name.into(),
        ip,
    }
}

/// Two hosts joined by an underlay: endpoints ping across the VXLAN
/// tunnel; with stateful policy, an ingress rule on the destination's
/// group holds for traffic arriving through the tunnel (enforced where
/// the destination lives), and replies to the destination's own
/// connections come back.
pub async fn two_host_vxlan<H: Harness>(h: &H) -> Outcome {
    let caps = match gate(h, "two_host_vxlan") {
        Ok(c) => c,
        Err(o) => return o,
    };
    let (mut ha, mut hb) = (host(h).await, host(h).await);
    let (vtep_a, vtep_b) = h
        .join_underlay(&mut ha, &mut hb)
        .await
        .unwrap_or_else(|e| panic!("join the underlays: {e}"));
    let net = vxlan_net("default", 1, "blue", 5000, "10.81.0.0/24");
    let (ca, cb) = (Container::new(true).await, Container::new(true).await);
    let members = PolicyDelta {
        members_added: vec![
            Membership {
                tenant: 1,
                ip: ip("10.81.0.1"),
                epg: 1,
            },
            Membership {
                tenant: 1,
                ip: ip("10.81.0.2"),
                epg: 2,
            },
        ],
        ..PolicyDelta::default()
    };
    let (dpa, dpb) = (start(h, &mut ha).await, start(h, &mut hb).await);
    dpa.apply(vec![
        DpOp::AddNetwork(net.clone()),
        DpOp::AddPeer(peer("b", vtep_b)),
        DpOp::AddLocalEndpoint(local_ep("ep-a", &net, "10.81.0.1", 1, &ca)),
        DpOp::AddRemoteEndpoint(remote_ep("ep-b", &net, "10.81.0.2", 2, vtep_b)),
        DpOp::Policy(members.clone()),
    ])
    .await
    .expect("apply on a");
    dpb.apply(vec![
        DpOp::AddNetwork(net.clone()),
        DpOp::AddPeer(peer("a", vtep_a)),
        DpOp::AddLocalEndpoint(local_ep("ep-b", &net, "10.81.0.2", 2, &cb)),
        DpOp::AddRemoteEndpoint(remote_ep("ep-a", &net, "10.81.0.1", 1, vtep_a)),
        DpOp::Policy(members),
    ])
    .await
    .expect("apply on b");
    assert!(
        ca.ping_eventually("10.81.0.2", 15).await,
        "a -> b over VXLAN"
    );
    assert!(cb.ping("10.81.0.1").await, "b -> a over VXLAN");
    if !caps.has(Capability::StatefulPolicy) {
        return Outcome::Passed;
    }
    let _l = ingress_rule_holds_on_b(&dpa, &dpb, &ca, &cb, "10.81.0.2").await;
    let _l2 = ca.listen(8889, false).await;
    assert!(
        cb.tcp_connects("10.81.0.1", 8889).await,
        "b -> a:8889: replies come back"
    );
    Outcome::Passed
}

/// Two hosts joined by a trunk: endpoints of a VLAN network ping across;
/// another VLAN network with the same subnet (another tenant) stays apart.
pub async fn vlan_over_trunk<H: Harness>(h: &H) -> Outcome {
    if let Err(o) = gate(h, "vlan_over_trunk") {
        return o;
    }
    let (mut ha, mut hb) = (host(h).await, host(h).await);
    h.join_trunk(&mut ha, &mut hb)
        .await
        .unwrap_or_else(|e| panic!("join the hosts with a trunk: {e}"));
    let red = vlan_net("default", 1, "red", 100, "10.90.0.0/24");
    let green = vlan_net("other", 2, "green", 200, "10.90.0.0/24");
    let (c1, c2, c3) = (
        Container::new(true).await,
        Container::new(true).await,
        Container::new(true).await,
    );
    let nowhere = ip("0.0.0.0");
    let (dpa, dpb) = (start(h, &mut ha).await, start(h, &mut hb).await);
    dpa.apply(vec![
        DpOp::AddNetwork(red.clone()),
        DpOp::AddNetwork(green.clone()),
        DpOp::AddLocalEndpoint(local_ep("r1", &red, "10.90.0.1", 0, &c1)),
        DpOp::AddRemoteEndpoint(remote_ep("r2", &red, "10.90.0.2", 0, nowhere)),
    ])
    .await
    .expect("apply on a");
    dpb.apply(vec![
        DpOp::AddNetwork(red.clone()),
        DpOp::AddNetwork(green.clone()),
        DpOp::AddLocalEndpoint(local_ep("r2", &red, "10.90.0.2", 0, &c2)),
        DpOp::AddLocalEndpoint(local_ep("g3", &green, "10.90.0.3", 0, &c3)),
        DpOp::AddRemoteEndpoint(remote_ep("r1", &red, "10.90.0.1", 0, nowhere)),
    ])
    .await
    .expect("apply on b");
    assert!(
        c1.ping_eventually("10.90.0.2", 10).await,
        "r1 -> r2 over the trunk"
    );
    assert!(c2.ping("10.90.0.1").await, "r2 -> r1 over the trunk");
    assert!(!c3.ping("10.90.0.1").await, "green reached red");
    assert!(!c1.ping("10.90.0.3").await, "red reached green");
    Outcome::Passed
}

/// Gives both hosts an ingress policy of b's group (tenant 1, group 2):
/// tcp denied except 8888 from group 1 — only b's host can enforce it (a
/// has no `out` rules) — and checks that container `ca` (group 1) reaches
/// `b_ip:8888` in `cb` but not `b_ip:8889`. Returns the listeners in `cb`.
pub(super) async fn ingress_rule_holds_on_b<D: Datapath>(
    dpa: &D,
    dpb: &D,
    ca: &Container,
    cb: &Container,
    b_ip: &str,
) -> [super::fixture::Listener; 2] {
    let policy = PolicyDelta {
        rules_added: vec![
            RuleBuilder::new(10, 1, 2).proto(6).deny().build(),
            RuleBuilder::new(11, 1, 2)
                .peer_epg(1)
                .proto(6)
                .port(8888)
                .priority(10)
                .build(),
        ],
        ..PolicyDelta::default()
    };
    dpa.apply(vec![DpOp::Policy(policy.clone())])
        .await
        .expect("policy on a");
    dpb.apply(vec![DpOp::Policy(policy)])
        .await
        .expect("policy on b");
    let l = [cb.listen(8888, false).await, cb.listen(8889, false).await];
    assert!(
        ca.tcp_connects_eventually(b_ip, 8888, 10).await,
        "a -> b:8888 must connect"
    );
    assert!(
        !ca.tcp_connects(b_ip, 8889).await,
        "a -> b:8889 must be refused (where b lives)"
    );
    l
}
