//! Two hosts (namespaces, each with its own bpffs and datapath) joined by
//! a veth underlay (VXLAN between their `vxlan external gbp` devices):
//! `in` rules are judged where the destination lives with the source group
//! carried in VXLAN-GBP (the receiving host need not know the sender's
//! group), `out` rules where the source lives. (Plain two-host VXLAN and
//! VLAN forwarding is the conformance suite's.)
#![allow(clippy::unwrap_used)]

mod support;

use contiv_core::datapath::{DpOp, LocalEndpoint, NetworkSpec, VtepPeer};
use contiv_core::ir::{
    Action, Direction, IrRule, Membership, PeerMatch, PolicyDelta, PortRange, RuleId, RuleOrigin,
};
use std::net::IpAddr;
use support::*;

/// Two hosts linked by an underlay (10.<n>.0.1 and .2 on `ul0`) and a trunk
/// (`tr0` on both, the VLAN uplink).
async fn pair(n: u8) -> (Host, Host) {
    let mut a = Host::bare("ea");
    let mut b = Host::bare("eb");
    a.ns.ip(&[
        "link", "add", "ul0", "type", "veth", "peer", "name", "ul0", "netns", &b.ns.name,
    ]);
    a.ns.ip(&[
        "link", "add", "tr0", "type", "veth", "peer", "name", "tr0", "netns", &b.ns.name,
    ]);
    for (h, i) in [(&a, 1), (&b, 2)] {
        h.ns.ip(&["addr", "add", &format!("10.{n}.0.{i}/24"), "dev", "ul0"]);
        h.ns.ip(&["link", "set", "ul0", "up"]);
        h.ns.ip(&["link", "set", "tr0", "up"]);
    }
    a.cfg.uplink = Some("tr0".into());
    b.cfg.uplink = Some("tr0".into());
    a.start().await;
    b.start().await;
    (a, b)
}

fn vtep(n: u8, i: u8) -> IpAddr {
    format!("10.{n}.0.{i}").parse().unwrap()
}

fn members(ep: &LocalEndpoint, tenant: u32, epg: u32) -> Vec<Membership> {
    [
        ep.ipv4.map(|a| a.addr().into()),
        ep.ipv6.map(|a| a.addr().into()),
    ]
    .into_iter()
    .flatten()
    .map(|ip| Membership { tenant, ip, epg })
    .collect()
}

fn rule(id: u64, epg: u32, dir: Direction, peer: PeerMatch, port: Option<u16>) -> IrRule {
    IrRule {
        id: RuleId(id),
        tenant: 1,
        epg,
        direction: dir,
        peer,
        local: None,
        proto: port.map(|_| 6),
        ports: port.map(PortRange::single),
        priority: 1,
        action: Action::Deny,
        origin: RuleOrigin {
            policy: "t1:p".into(),
            rule: id.to_string(),
            epg: format!("t1:g{epg}"),
        },
    }
}

/// Host `h` gets network `net`, its local endpoint `l` and the other
/// host's endpoint `r` (at `vtep`).
async fn setup(h: &Host, net: &NetworkSpec, l: &LocalEndpoint, r: &LocalEndpoint, peer: IpAddr) {
    h.apply(vec![
        DpOp::AddNetwork(net.clone()),
        DpOp::AddPeer(VtepPeer {
            host: "peer".into(),
            ip: peer,
        }),
        DpOp::AddLocalEndpoint(l.clone()),
        DpOp::AddRemoteEndpoint(remote_of(r, peer)),
    ])
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn vxlan_carries_traffic_and_the_source_group() {
    let n = 66;
    let (ha, hb) = pair(n).await;
    let net = vxlan_net("t1:n", 1, 67, 6700);
    let a_ns = Netns::new("ec");
    let b_ns = Netns::new("ec");
    let a = local_ep("a", &net, 2, 10, &a_ns);
    let b = local_ep("b", &net, 3, 11, &b_ns);
    setup(&ha, &net, &a, &b, vtep(n, 2)).await;
    setup(&hb, &net, &b, &a, vtep(n, 1)).await;
    assert!(a_ns.ping(&v4(&b)), "a reaches b across the VXLAN underlay");
    assert!(
        eventually(std::time::Duration::from_secs(5), || b_ns.ping(&v6(&a))),
        "b reaches a over IPv6 (once duplicate address detection is done)"
    );
    let _l = b_ns.spawn(&["nc", "-l", "-k", "-p", "80"]);
    let _m = a_ns.spawn(&["nc", "-l", "-k", "-p", "81"]);
    assert!(
        eventually(std::time::Duration::from_secs(3), || a_ns.tcp(&v4(&b), 80)),
        "a connects to b:80"
    );

    // Host A knows a is in group 10; host B is told nothing about a's
    // group: b's rule "deny in from group 10" must still apply, with the
    // group taken from VXLAN-GBP.
    ha.apply(vec![DpOp::Policy(PolicyDelta {
        members_added: members(&a, 1, 10),
        ..PolicyDelta::default()
    })])
    .await;
    hb.apply(vec![DpOp::Policy(PolicyDelta {
        rules_added: vec![rule(1, 11, Direction::In, PeerMatch::Epg(10), None)],
        members_added: members(&b, 1, 11),
        ..PolicyDelta::default()
    })])
    .await;
    assert!(
        !a_ns.ping(&v4(&b)),
        "b's ingress rule drops a (group 10 from GBP)"
    );
    assert!(!a_ns.tcp(&v4(&b), 80));
    // b's own connections to a pass, and their replies come back.
    assert!(b_ns.ping(&v4(&a)), "b reaches a; the replies pass b's rule");
    assert!(b_ns.tcp(&v4(&a), 81));
    let c = hb.dp().counters().await.unwrap();
    assert!(
        c.rules.iter().any(|r| r.rule == "1" && r.drops >= 2),
        "{c:?}"
    );

    // An out rule is judged at the source: a (group 10) may not open
    // TCP 81 anywhere — host B's view of a does not matter.
    hb.apply(vec![DpOp::Policy(PolicyDelta {
        rules_removed: vec![RuleId(1)],
        ..PolicyDelta::default()
    })])
    .await;
    ha.apply(vec![DpOp::Policy(PolicyDelta {
        rules_added: vec![rule(2, 10, Direction::Out, PeerMatch::Any, Some(80))],
        ..PolicyDelta::default()
    })])
    .await;
    assert!(
        !a_ns.tcp(&v4(&b), 80),
        "a's out rule drops a -> b:80 at host A"
    );
    assert!(a_ns.ping(&v4(&b)), "ICMP still passes");
    let c = ha.dp().counters().await.unwrap();
    assert!(
        c.rules.iter().any(|r| r.rule == "2" && r.drops >= 1),
        "{c:?}"
    );
    let ea = c.endpoints.iter().find(|e| e.id == "a").unwrap();
    assert!(ea.tx_drops >= 1, "{ea:?}");
}
