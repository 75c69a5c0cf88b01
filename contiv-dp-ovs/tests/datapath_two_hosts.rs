//! Two hosts, each a namespace with its own OVS and datapath, joined by a
//! veth underlay (VXLAN) or a veth trunk (VLAN); containers ping across
//! and policy is enforced where the traffic lands.
// Test code: a failed unwrap is a failed test.
#![allow(clippy::unwrap_used)]

#[path = "support/hosts.rs"]
mod hosts;
#[path = "support/model.rs"]
mod model;

use contiv_core::datapath::{Attachment, Datapath, DpOp, LocalEndpoint, NetworkSpec, VtepPeer};
use contiv_core::ir::{Action, Direction, Membership, PeerMatch, PolicyDelta};
use hosts::{Host, NetnsGuard, forwards, trunk, underlay, unique};
use model::*;

fn plumbed(net: &NetworkSpec, id: &str, ip: &str, epg: u32) -> (NetnsGuard, LocalEndpoint) {
    let ns = NetnsGuard::new("ctr");
    let mut ep = local_ep(id, net, ip, epg, &unique("vh"));
    ep.attachment = Attachment::Netns {
        netns: ns.path(),
        ifname: "eth0".into(),
    };
    (ns, ep)
}

fn peer(name: &str, ip: &str) -> VtepPeer {
    VtepPeer {
        host: name.into(),
        ip: ip.parse().unwrap(),
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn vxlan_endpoints_on_two_hosts_ping_and_ingress_policy_holds_across_the_tunnel() {
    let mut a = Host::new();
    let mut b = Host::new();
    let (vtep_a, vtep_b) = underlay(&a, &b, 77);
    let net = vxlan_net("default", 1, "blue", 5000, "10.81.0.0/24");
    let (ca, ea) = plumbed(&net, "ep-a", "10.81.0.1", 1);
    let (cb, eb) = plumbed(&net, "ep-b", "10.81.0.2", 2);
    let remote_a = remote_ep("ep-a", &net, "10.81.0.1", 1, &vtep_a);
    let remote_b = remote_ep("ep-b", &net, "10.81.0.2", 2, &vtep_b);
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
    a.connect().await;
    b.connect().await;
    a.dp()
        .apply(vec![
            DpOp::AddNetwork(net.clone()),
            DpOp::AddPeer(peer("b", &vtep_b)),
            DpOp::AddLocalEndpoint(ea.clone()),
            DpOp::AddRemoteEndpoint(remote_b),
            DpOp::Policy(members.clone()),
        ])
        .await
        .unwrap();
    b.dp()
        .apply(vec![
            DpOp::AddNetwork(net.clone()),
            DpOp::AddPeer(peer("a", &vtep_a)),
            DpOp::AddLocalEndpoint(eb.clone()),
            DpOp::AddRemoteEndpoint(remote_a),
            DpOp::Policy(members),
        ])
        .await
        .unwrap();
    assert!(ca.ns_ping("10.81.0.2"), "a -> b over VXLAN");
    assert!(cb.ping("10.81.0.1"), "b -> a over VXLAN");
    // The traffic really is encapsulated with the VNI.
    let dp_flows = a.ovs.appctl(&["dpctl/dump-flows"]).unwrap();
    assert!(
        dp_flows.contains("vxlan(") && dp_flows.contains("vni=0x1388"),
        "{dp_flows}"
    );

    // Ingress policy on b's group: tcp denied except 8888. Both hosts get
    // the same IR; only b can enforce it (a has no `out` rules).
    let deny = rule(
        10,
        1,
        2,
        Direction::In,
        PeerMatch::Any,
        Some(6),
        None,
        1,
        Action::Deny,
    );
    let allow = rule(
        11,
        1,
        2,
        Direction::In,
        PeerMatch::Epg(1),
        Some(6),
        Some(8888),
        10,
        Action::Allow,
    );
    let policy = PolicyDelta {
        rules_added: vec![deny, allow],
        ..PolicyDelta::default()
    };
    a.dp()
        .apply(vec![DpOp::Policy(policy.clone())])
        .await
        .unwrap();
    b.dp().apply(vec![DpOp::Policy(policy)]).await.unwrap();
    let _l1 = cb.listen(8888);
    let _l2 = cb.listen(8889);
    assert!(
        ca.tcp_connects("10.81.0.2", 8888),
        "a -> b:8888 must connect"
    );
    assert!(
        !ca.tcp_connects("10.81.0.2", 8889),
        "a -> b:8889 must be refused"
    );
    // Host a lets the SYN to 8889 into the tunnel: the refusal is b's
    // ingress stage on traffic that arrived through the tunnel.
    let port = a.dp().ofport_of("ep-a").await.unwrap();
    let verdict = a.trace(
        &format!(
            "in_port={port},dl_src=02:02:0a:51:00:01,dl_dst=02:02:0a:51:00:02,tcp,nw_src=10.81.0.1,nw_dst=10.81.0.2,tp_src=40000,tp_dst=8889"
        ),
        Some("trk,new"),
    );
    assert!(
        forwards(&verdict) && verdict.contains("tnl_push"),
        "{verdict}"
    );
    let vx = b.dp().peer_ofport(vtep_a.parse().unwrap()).await.unwrap();
    let verdict = b.trace(
        &format!(
            "in_port={vx},tun_id=5000,dl_src=02:02:0a:51:00:01,dl_dst=02:02:0a:51:00:02,tcp,nw_src=10.81.0.1,nw_dst=10.81.0.2,tp_src=40000,tp_dst=8889"
        ),
        Some("trk,new"),
    );
    assert!(!forwards(&verdict), "b must drop it: {verdict}");
    // b's own connections out to a get their replies back through the tunnel.
    let _l3 = ca.listen(8889);
    assert!(
        cb.tcp_connects("10.81.0.1", 8889),
        "b -> a:8889 replies must pass"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn vlan_networks_over_a_trunk_uplink_between_two_switches() {
    let mut a = Host::new();
    let mut b = Host::new();
    let (up_a, up_b) = trunk(&a, &b);
    a.uplink = Some(up_a);
    b.uplink = Some(up_b);
    let red = vlan_net("default", 1, "red", 100, "10.90.0.0/24");
    // Same subnet on another VLAN (another tenant): must stay apart.
    let green = vlan_net("other", 2, "green", 200, "10.90.0.0/24");
    let (c1, e1) = plumbed(&red, "r1", "10.90.0.1", 0);
    let (c2, e2) = plumbed(&red, "r2", "10.90.0.2", 0);
    let (c3, e3) = plumbed(&green, "g3", "10.90.0.3", 0);
    a.connect().await;
    b.connect().await;
    a.dp()
        .apply(vec![
            DpOp::AddNetwork(red.clone()),
            DpOp::AddNetwork(green.clone()),
            DpOp::AddLocalEndpoint(e1),
            DpOp::AddRemoteEndpoint(remote_ep("r2", &red, "10.90.0.2", 0, "0.0.0.0")),
        ])
        .await
        .unwrap();
    b.dp()
        .apply(vec![
            DpOp::AddNetwork(red.clone()),
            DpOp::AddNetwork(green.clone()),
            DpOp::AddLocalEndpoint(e2),
            DpOp::AddLocalEndpoint(e3),
            DpOp::AddRemoteEndpoint(remote_ep("r1", &red, "10.90.0.1", 0, "0.0.0.0")),
        ])
        .await
        .unwrap();
    assert!(
        c1.ping_eventually("10.90.0.2", 10),
        "r1 -> r2 over the trunk"
    );
    assert!(c2.ping("10.90.0.1"), "r2 -> r1 over the trunk");
    assert!(!c3.ping("10.90.0.1"), "green reached red");
    assert!(!c1.ping("10.90.0.3"), "red reached green");
    // On the wire the frames carry the VLAN tag, and the containers see
    // none.
    let port = a.dp().ofport_of("r1").await.unwrap();
    let verdict = a.trace(
        &format!(
            "in_port={port},dl_src=02:02:0a:5a:00:01,dl_dst=02:02:0a:5a:00:02,icmp,nw_src=10.90.0.1,nw_dst=10.90.0.2"
        ),
        Some("trk,new"),
    );
    assert!(verdict.contains("push_vlan(vid=100"), "{verdict}");
    let link = c1.ip(&["-d", "link", "show", "eth0"]);
    assert!(!link.contains("vlan"), "{link}");
}

/// `NetnsGuard::ping_eventually` for the first ping across hosts (ARP,
/// tunnel neighbour resolution in OVS).
trait PingFirst {
    fn ns_ping(&self, ip: &str) -> bool;
}

impl PingFirst for NetnsGuard {
    fn ns_ping(&self, ip: &str) -> bool {
        self.ping_eventually(ip, 15)
    }
}
