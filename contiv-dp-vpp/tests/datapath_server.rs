//! The VPP datapath against the wire-faithful test server: what it
//! programs, that a resync of an unchanged state sends nothing, that
//! changes cost O(1) calls, stale objects, VPP restarts and refusals.

// Test code: a failed unwrap is a test failure with its message.
#![allow(clippy::unwrap_used)]

mod support;

use contiv_core::datapath::{ArpMode, Datapath, DpError, DpOp, FwdMode, GlobalSpec};
use contiv_dp_vpp::api::types::L2PortType;
use contiv_dp_vpp::errno;
use contiv_dp_vpp::testing::{IfKind, VppState};
use std::net::IpAddr;
use support::fixture::{self, scenario};

fn by_tag<'a>(st: &'a VppState, tag: &str) -> (u32, &'a contiv_dp_vpp::testing::Iface) {
    st.interfaces
        .iter()
        .find(|(_, i)| i.tag == tag)
        .map(|(k, i)| (*k, i))
        .unwrap_or_else(|| panic!("no interface tagged {tag}: {:#?}", st.interfaces))
}

fn bd_of(st: &VppState, tag: &str) -> u32 {
    st.bds
        .iter()
        .find(|(_, b)| b.tag == tag)
        .map(|(k, _)| *k)
        .unwrap_or_else(|| panic!("no bridge domain tagged {tag}"))
}

#[tokio::test]
async fn resync_programs_the_whole_host_and_a_second_resync_sends_nothing() {
    let (srv, dp) = fixture::start().await;
    let d = scenario();
    let r = dp.resync(&d).await.unwrap();
    assert!(r.added > 0 && r.removed == 0, "{r:?}");
    let st = srv.state();
    // Tenant VRF in both families.
    assert!(st.tables.contains_key(&(false, 1)) && st.tables.contains_key(&(true, 1)));
    // Bridge domains with ARP termination; BVI gateways in the VRF.
    let web_bd = bd_of(&st, "cv:bd:t1:web");
    let db_bd = bd_of(&st, "cv:bd:t1:db");
    assert!(st.bds[&web_bd].arp_term && st.bds[&db_bd].arp_term);
    let (_, bvi) = by_tag(&st, "cv:bvi:t1:web");
    assert!(bvi.admin_up && bvi.table4 == 1 && bvi.table6 == 1);
    let addrs: Vec<String> = bvi.addrs.iter().map(ToString::to_string).collect();
    assert_eq!(addrs, ["10.1.0.1/24", "fd00:1::1/64"]);
    assert_eq!(
        bvi.l2.map(|l| (l.bd_id, l.port_type)),
        Some((web_bd, L2PortType::L2_API_PORT_TYPE_BVI))
    );
    // The same gateway MAC on every host.
    assert_eq!(
        bvi.mac,
        contiv_dp_vpp::datapath::names::gateway_mac("t1:web")
    );
    // TAPs: the container side as asked.
    let (web1, tap) = by_tag(&st, "cv:tap:web1");
    let IfKind::Tap { host, .. } = &tap.kind else {
        panic!("web1 is not a TAP: {tap:?}")
    };
    assert_eq!(
        (host.if_name.as_str(), host.namespace.as_str(), host.mtu),
        ("eth0", "/var/run/netns/web1", 1450)
    );
    assert_eq!(
        host.ip4.map(|n| n.to_string()).as_deref(),
        Some("10.1.0.10/24")
    );
    assert_eq!(host.ip4_gw, Some("10.1.0.1".parse().unwrap()));
    assert_eq!(tap.l2.map(|l| l.bd_id), Some(web_bd));
    // One VXLAN tunnel per peer, split horizon 1, from our VTEP.
    let tunnels: Vec<_> = st
        .interfaces
        .values()
        .filter_map(|i| match &i.kind {
            IfKind::Vxlan(k) => Some((k.src, k.dst, k.vni, i.l2.map(|l| (l.bd_id, l.shg)))),
            _ => None,
        })
        .collect();
    let vtep: IpAddr = fixture::VTEP.parse().unwrap();
    assert_eq!(
        tunnels,
        [
            (vtep, "192.0.2.2".parse().unwrap(), 5010, Some((web_bd, 1))),
            (vtep, "192.0.2.3".parse().unwrap(), 5010, Some((web_bd, 1)))
        ]
    );
    // VLAN sub-interface on the uplink, tag popped.
    let (_, sub) = by_tag(&st, "cv:vlan:t1:db");
    assert!(matches!(
        sub.kind,
        IfKind::VlanSubif {
            vlan: 100,
            parent: 1
        }
    ));
    assert_eq!((sub.vtr_op, sub.l2.map(|l| l.bd_id)), (3, Some(db_bd)));
    // Static l2fib: local to TAPs, remote to the tunnel of their VTEP.
    let web3_mac = contiv_core::datapath::MacAddr::from_ipv4("10.1.0.12".parse().unwrap()).octets();
    let via = st.l2fib[&(web_bd, web3_mac)].sw_if_index;
    assert!(
        matches!(&st.interfaces[&via].kind, IfKind::Vxlan(k) if k.dst == "192.0.2.2".parse::<IpAddr>().unwrap())
    );
    let web1_mac = contiv_core::datapath::MacAddr::from_ipv4("10.1.0.10".parse().unwrap()).octets();
    assert_eq!(st.l2fib[&(web_bd, web1_mac)].sw_if_index, web1);
    // ARP termination and neighbours for every endpoint and the gateway.
    assert!(
        st.bd_ip_mac
            .contains_key(&(web_bd, "10.1.0.13".parse().unwrap()))
    );
    assert!(
        st.bd_ip_mac
            .contains_key(&(web_bd, "10.1.0.1".parse().unwrap()))
    );
    assert!(
        st.bd_ip_mac
            .contains_key(&(web_bd, "fd00:1::10".parse().unwrap()))
    );
    // ACLs: group 1 has rules and a local member; group 2 has none.
    let acl_in = &st.interfaces[&web1].acl_in;
    let acl_out = &st.interfaces[&web1].acl_out;
    assert_eq!((acl_in.len(), acl_out.len()), (1, 1));
    assert_eq!(st.acls[&acl_in[0]].tag, "cv:acl:1:1:out");
    let ingress = &st.acls[&acl_out[0]];
    assert_eq!(ingress.tag, "cv:acl:1:1:in");
    // Decision order: rule 2 (prio 10, from group 2's two members), rule 4
    // (prio 5, icmp v4 + icmpv6 from any), rule 1 (prio 1, deny tcp any),
    // then the default permit+reflect pair.
    let acts: Vec<u8> = ingress.rules.iter().map(|r| r.is_permit.0).collect();
    assert_eq!(acts, [2, 2, 2, 2, 0, 0, 2, 2]);
    assert_eq!(
        ingress.rules[0].src_prefix.net().unwrap().to_string(),
        "10.1.0.11/32"
    );
    assert_eq!(ingress.rules[0].dstport_or_icmpcode_first, 80);
    assert_eq!(ingress.rules[3].proto.0, 58);
    let (web2, _) = by_tag(&st, "cv:tap:web2");
    assert!(
        st.interfaces[&web2].acl_in.is_empty(),
        "group 2 has no rules"
    );
    // QoS: a policer marking EF, bound to web2's input.
    let pname = st.interfaces[&web2]
        .policer_in
        .clone()
        .expect("policer bound");
    let p = &st.policers[&pname];
    assert_eq!((p.config.cir, p.config.conform_action.dscp), (10_000, 46));
    // Docker-style endpoint: TAP in the host namespace, named for Docker.
    let (_, db1) = by_tag(&st, "cv:tap:db1");
    assert!(
        matches!(&db1.kind, IfKind::Tap { host, .. } if host.if_name == "db1-c" && host.namespace.is_empty())
    );
    assert!(srv.unhandled().is_empty(), "{:?}", srv.unhandled());

    // Nothing differs: a resync reads but sends nothing.
    srv.clear_log();
    let r = dp.resync(&d).await.unwrap();
    assert_eq!(srv.mutations(), Vec::<String>::new());
    assert_eq!((r.added, r.removed), (0, 0));
    assert!(r.unchanged > 20, "{r:?}");
    // And the same from a fresh datapath (a restarted agent).
    let dp2 = contiv_dp_vpp::datapath::VppDatapath::connect(fixture::config(&srv))
        .await
        .unwrap();
    let r = dp2.resync(&d).await.unwrap();
    assert_eq!(
        srv.mutations(),
        Vec::<String>::new(),
        "a restarted agent changes nothing"
    );
    assert_eq!((r.added, r.removed), (0, 0));
}

#[tokio::test]
async fn changes_cost_a_constant_number_of_calls() {
    let (srv, dp) = fixture::start().await;
    let d = scenario();
    dp.resync(&d).await.unwrap();
    let vx = fixture::vxnet();
    // An existing endpoint of group 2 joins group 1: its membership entry
    // changes and its interface gets group 1's ACLs. Group 1's `in` ACL
    // names group 2 as a peer, so it is rewritten too (one call).
    srv.clear_log();
    fixture::move_web2_to_group_1(&dp, &d).await;
    assert_eq!(
        srv.mutations(),
        ["acl_add_replace", "acl_interface_set_acl_list"],
        "one ACL naming the old group, one binding"
    );
    // A new endpoint in group 1: a fixed set of calls, none per rule.
    srv.clear_log();
    let new = fixture::local("web9", &vx, 99, 1);
    dp.apply(vec![DpOp::AddLocalEndpoint(new.clone())])
        .await
        .unwrap();
    let m = srv.mutations();
    assert_eq!(
        m,
        [
            "tap_create_v3",
            "sw_interface_set_l2_bridge",
            "acl_interface_set_acl_list",
            "sw_interface_set_flags",
            "l2fib_add_del",
            "bd_ip_mac_add_del",
            "ip_neighbor_add_del"
        ]
    );
    // Removing it removes exactly what it added.
    srv.clear_log();
    dp.apply(vec![DpOp::RemoveLocalEndpoint("web9".into())])
        .await
        .unwrap();
    assert_eq!(
        srv.mutations(),
        [
            "l2fib_add_del",
            "bd_ip_mac_add_del",
            "ip_neighbor_add_del",
            "tap_delete_v2"
        ]
    );
    // Switching to ARP flooding turns ARP termination off and removes
    // the entries.
    srv.clear_log();
    dp.apply(vec![DpOp::SetGlobal(GlobalSpec {
        arp_mode: ArpMode::Flood,
        fwd_mode: FwdMode::Routing,
        ..GlobalSpec::default()
    })])
    .await
    .unwrap();
    let st = srv.state();
    assert!(st.bd_ip_mac.is_empty());
    assert!(
        st.bds
            .values()
            .filter(|b| b.tag.starts_with("cv:"))
            .all(|b| !b.arp_term)
    );
}

#[tokio::test]
async fn resync_removes_what_is_stale_and_leaves_the_rest_alone() {
    let (srv, dp) = fixture::start().await;
    let d = scenario();
    dp.resync(&d).await.unwrap();
    // Someone else's interface and ACL, and a stale object of ours.
    let foreign = srv.with_state(|s| {
        let i = s.add_iface(
            "loop7".into(),
            IfKind::Bvi { instance: 7 },
            [2, 0, 0, 0, 0, 7],
        );
        s.acl_add_replace(u32::MAX, "operator", vec![]).unwrap();
        i
    });
    let mut smaller = d.clone();
    smaller.local_endpoints.retain(|e| e.id != "web1");
    smaller.remote_endpoints.retain(|e| e.id != "web4");
    smaller.peers.retain(|p| p.host != "h3");
    smaller.networks.retain(|n| n.key != "t1:db");
    smaller.local_endpoints.retain(|e| e.network != "t1:db");
    smaller.remote_endpoints.retain(|e| e.network != "t1:db");
    let r = dp.resync(&smaller).await.unwrap();
    assert!(r.removed > 0, "{r:?}");
    let st = srv.state();
    assert!(
        st.interfaces.contains_key(&foreign),
        "foreign interface kept"
    );
    assert!(
        st.acls.values().any(|a| a.tag == "operator"),
        "foreign ACL kept"
    );
    assert!(
        st.interfaces
            .values()
            .all(|i| i.tag != "cv:tap:web1" && i.tag != "cv:vlan:t1:db")
    );
    assert_eq!(
        st.interfaces
            .values()
            .filter(|i| matches!(i.kind, IfKind::Vxlan(_)))
            .count(),
        1
    );
    assert!(st.bds.values().all(|b| b.tag != "cv:bd:t1:db"));
    // Group 1 lost its only local member: its ACLs are gone.
    assert!(st.acls.values().all(|a| !a.tag.starts_with("cv:acl:1:1")));
    // Back to nothing: only what is not ours remains.
    dp.resync(&Default::default()).await.unwrap();
    let st = srv.state();
    let left: Vec<&str> = st.interfaces.values().map(|i| i.name.as_str()).collect();
    assert_eq!(left, ["local0", fixture::UPLINK, "loop7"]);
    assert_eq!(st.bds.len(), 1);
    assert!(st.l2fib.is_empty() && st.bd_ip_mac.is_empty() && st.neighbors.is_empty());
    assert_eq!(st.acls.len(), 1);
    assert_eq!(st.tables.len(), 2);
    assert!(st.policers.is_empty());
}

#[tokio::test]
async fn a_restarted_vpp_is_reprogrammed_from_the_held_state() {
    let (srv, dp) = fixture::start().await;
    let d = scenario();
    dp.resync(&d).await.unwrap();
    let before = srv.state();
    srv.restart();
    // The next operation finds the connection gone, reconnects, reads an
    // empty VPP and programs everything again (plus the change).
    dp.apply(vec![
        DpOp::RemoveRemoteEndpoint("web4".into()),
        DpOp::RemovePeer("192.0.2.3".parse().unwrap()),
    ])
    .await
    .unwrap();
    let after = srv.state();
    assert_eq!(
        after.interfaces.len(),
        before.interfaces.len() - 1,
        "all but one tunnel again"
    );
    assert_eq!(after.acls.len(), before.acls.len());
    assert_eq!(
        after.l2fib.len(),
        before.l2fib.len() - 1,
        "web4's entry is gone"
    );
    assert_eq!(after.bd_ip_mac.len(), before.bd_ip_mac.len() - 1);
    // An operation that changes nothing still notices a restart.
    srv.restart();
    tokio::time::sleep(std::time::Duration::from_millis(50)).await;
    dp.apply(vec![]).await.unwrap();
    assert_eq!(srv.state().interfaces.len(), after.interfaces.len());
    assert_eq!(dp.stats().await.reconnect_resyncs, 2);
}

#[tokio::test]
async fn refusals_name_the_call_and_the_next_apply_converges() {
    let (srv, dp) = fixture::start().await;
    let d = scenario();
    srv.fail_next("acl_add_replace", errno::INVALID_VALUE, 1);
    let e = dp.resync(&d).await.unwrap_err();
    assert!(
        matches!(&e, DpError::Backend(m) if m.contains("acl_add_replace") && m.contains("Invalid value")),
        "{e}"
    );
    dp.apply(vec![]).await.unwrap();
    srv.clear_log();
    dp.resync(&d).await.unwrap();
    assert!(
        srv.mutations().is_empty(),
        "converged: {:?}",
        srv.mutations()
    );
    // An invalid operation changes nothing and names itself.
    let mut bad = fixture::local("x", &fixture::vxnet(), 50, 0);
    bad.network = "t1:nope".into();
    srv.clear_log();
    let e = dp
        .apply(vec![DpOp::AddLocalEndpoint(bad)])
        .await
        .unwrap_err();
    assert!(
        matches!(&e, DpError::InvalidArgument(m) if m.contains("operation 0") && m.contains("t1:nope")),
        "{e}"
    );
    assert!(srv.mutations().is_empty());
}
