//! The OVS datapath on one host with real packets: a private ovsdb-server +
//! ovs-vswitchd (userspace datapath) in a host namespace, containers as
//! namespaces the datapath plumbs veths into.
// Test code: a failed unwrap is a failed test.
#![allow(clippy::unwrap_used)]

#[path = "support/hosts.rs"]
mod hosts;
#[path = "support/model.rs"]
mod model;

use contiv_core::datapath::{
    Attachment, Datapath, DesiredState, DpError, DpOp, GlobalSpec, LocalEndpoint, NetworkSpec,
};
use contiv_core::ir::{Membership, PolicyDelta, PolicyIr};
use contiv_core::linux::ethtool;
use contiv_dp_ovs::pipeline::{Flow, Pipeline, PortMap};
use hosts::{Host, NetnsGuard, unique};
use model::*;

/// A container namespace and the endpoint plumbed into it.
struct Ctr {
    ns: NetnsGuard,
    ep: LocalEndpoint,
}

fn container(net: &NetworkSpec, id: &str, ip: &str, epg: u32) -> Ctr {
    let ns = NetnsGuard::new("ctr");
    let mut ep = local_ep(id, net, ip, epg, &unique("vh"));
    ep.attachment = Attachment::Netns {
        netns: ns.path(),
        ifname: "eth0".into(),
    };
    Ctr { ns, ep }
}

fn ip_of(c: &Ctr) -> String {
    c.ep.ipv4.unwrap().addr().to_string()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn plumbing_offloads_conntrack_and_flows_of_one_network() {
    let mut host = Host::new();
    let mut net = vxlan_net("default", 1, "blue", 5000, "10.1.1.0/24");
    net.gateway = Some("10.1.1.1".parse().unwrap());
    let a = container(&net, "ep-a", "10.1.1.2", 0);
    let b = container(&net, "ep-b", "10.1.1.3", 0);
    host.connect().await;
    host.dp()
        .apply(vec![
            DpOp::SetGlobal(GlobalSpec::default()),
            DpOp::AddNetwork(net.clone()),
            DpOp::AddLocalEndpoint(a.ep.clone()),
            DpOp::AddLocalEndpoint(b.ep.clone()),
        ])
        .await
        .expect("apply");
    assert!(a.ns.ping_eventually(&ip_of(&b), 10), "a cannot ping b");
    assert!(b.ns.ping(&ip_of(&a)), "b cannot ping a");

    // The container side: name, MAC, MTU, address, default route, no TX
    // checksum offload; the host side: offload off too.
    let link = a.ns.ip(&["-br", "link", "show", "eth0"]);
    assert!(link.contains("02:02:0a:01:01:02"), "{link}");
    let detail = a.ns.ip(&["link", "show", "eth0"]);
    assert!(detail.contains("mtu 1450"), "{detail}");
    let addr = a.ns.ip(&["-br", "addr", "show", "eth0"]);
    assert!(addr.contains("10.1.1.2/24"), "{addr}");
    let route = a.ns.ip(&["route", "show", "default"]);
    assert!(route.contains("via 10.1.1.1 dev eth0"), "{route}");
    assert!(!ethtool::tx_checksum(&a.ns.netns(), "eth0").await.unwrap());
    assert!(
        !ethtool::tx_checksum(&host.ns.netns(), &a.ep.host_ifname)
            .await
            .unwrap()
    );
    // Conntrack sees valid packets (the `+inv` drop never hit).
    let inv = host
        .ovs
        .ofctl13("dump-flows", "contivbr", &["table=4,ct_state=+inv+trk"])
        .unwrap();
    assert!(inv.contains("n_packets=0,"), "{inv}");

    // Proxy ARP answered from the switch: b's neighbour entry for a is
    // a's MAC, and no ARP request reached a.
    let neigh = b.ns.ip(&["neigh", "show", &ip_of(&a)]);
    assert!(neigh.contains("02:02:0a:01:01:02"), "{neigh}");

    // A forged frame to another tenant's MAC (same subnet) is dropped in
    // the switch; the same trace to b is forwarded.
    let other = vxlan_net("other", 2, "blue", 5001, "10.1.1.0/24");
    let o = container(&other, "ep-o", "10.1.1.4", 0);
    host.dp()
        .apply(vec![
            DpOp::AddNetwork(other),
            DpOp::AddLocalEndpoint(o.ep.clone()),
        ])
        .await
        .expect("other tenant");
    let a_port = host.dp().ofport_of("ep-a").await.unwrap();
    for (dst, dip, fwd) in [
        ("02:02:0a:01:01:04", "10.1.1.4", false),
        ("02:02:0a:01:01:03", "10.1.1.3", true),
    ] {
        let verdict = host.trace(
            &format!(
                "in_port={a_port},dl_src=02:02:0a:01:01:02,dl_dst={dst},icmp,nw_src=10.1.1.2,nw_dst={dip}"
            ),
            Some("trk,new"),
        );
        assert_eq!(hosts::forwards(&verdict), fwd, "to {dst}: {verdict}");
    }
    host.dp()
        .apply(vec![DpOp::RemoveNetwork("other:blue".into())])
        .await
        .expect("remove the other tenant");

    // Idempotent: the same ops again change nothing.
    let before = host.dp().stats().await;
    host.dp()
        .apply(vec![
            DpOp::AddNetwork(net.clone()),
            DpOp::AddLocalEndpoint(a.ep.clone()),
            DpOp::AddLocalEndpoint(b.ep.clone()),
        ])
        .await
        .unwrap();
    assert_eq!(host.dp().stats().await.flow_mods, before.flow_mods);

    // Removing an endpoint removes its veth, port and flows.
    let n_flows = host.dp().flows().await.len();
    host.dp()
        .apply(vec![DpOp::RemoveLocalEndpoint("ep-b".into())])
        .await
        .unwrap();
    assert!(!b.ns.exec(&["ip", "link", "show", "eth0"]).status.success());
    let ports = host.ovs.vsctl(&["list-ports", "contivbr"]).unwrap();
    assert!(!ports.contains(&b.ep.host_ifname), "{ports}");
    assert!(host.dp().flows().await.len() < n_flows);
    assert!(!a.ns.ping(&ip_of(&b)));
    // Removing it again is fine.
    host.dp()
        .apply(vec![DpOp::RemoveLocalEndpoint("ep-b".into())])
        .await
        .unwrap();
}

fn snapshot(flows: &[Flow]) -> Vec<String> {
    let mut v: Vec<String> = flows.iter().map(|f| format!("{f:#}")).collect();
    v.sort();
    v
}

async fn switch_flows(host: &Host) -> Vec<String> {
    let (c, _) =
        contiv_dp_ovs::openflow::conn::Connection::connect_unix(host.ovs.mgmt_socket("contivbr"))
            .await
            .unwrap();
    let stats = c
        .flow_stats(contiv_dp_ovs::openflow::wire::FlowStatsRequest::all())
        .await
        .unwrap();
    let flows: Vec<Flow> = stats.iter().map(Flow::from_stats).collect();
    snapshot(&flows)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn restart_resync_sends_nothing_when_in_sync_and_removes_what_is_stale() {
    let mut host = Host::new();
    let net = vxlan_net("default", 1, "blue", 5200, "10.1.3.0/24");
    let a = container(&net, "ep-a", "10.1.3.2", 7);
    let b = container(&net, "ep-b", "10.1.3.3", 8);
    let c = container(&net, "ep-c", "10.1.3.4", 8);
    let mut ir = PolicyIr::default();
    let r = rule(
        1,
        1,
        8,
        contiv_core::ir::Direction::In,
        contiv_core::ir::PeerMatch::Epg(7),
        Some(6),
        Some(22),
        5,
        contiv_core::ir::Action::Deny,
    );
    ir.rules.insert(r.id, r);
    let desired = DesiredState {
        global: GlobalSpec::default(),
        networks: vec![net.clone()],
        local_endpoints: vec![a.ep.clone(), b.ep.clone()],
        remote_endpoints: vec![remote_ep("far", &net, "10.1.3.99", 7, "172.31.9.9")],
        peers: vec![contiv_core::datapath::VtepPeer {
            host: "far".into(),
            ip: "172.31.9.9".parse().unwrap(),
        }],
        policy: {
            let mut p = ir.clone();
            p.members.insert((1, ip("10.1.3.2")), 7);
            p.members.insert((1, ip("10.1.3.3")), 8);
            p.members.insert((1, ip("10.1.3.99")), 7);
            p
        },
        ..DesiredState::default()
    };
    // First run: a fresh install by resync.
    host.connect().await;
    let r1 = host.dp().resync(&desired).await.unwrap();
    assert!(r1.added > 30 && r1.removed == 0, "{r1:?}");
    // Plus an endpoint the next run will not know about, and a flow
    // somebody else left behind.
    host.dp()
        .apply(vec![
            DpOp::AddLocalEndpoint(c.ep.clone()),
            DpOp::Policy(PolicyDelta {
                members_added: vec![Membership {
                    tenant: 1,
                    ip: ip("10.1.3.4"),
                    epg: 8,
                }],
                ..PolicyDelta::default()
            }),
        ])
        .await
        .unwrap();
    assert!(a.ns.ping_eventually("10.1.3.3", 10));
    let fresh = {
        let mut p = Pipeline::from_desired(
            &desired,
            &PortMap {
                endpoints: [
                    (
                        "ep-a".to_owned(),
                        host.dp().ofport_of("ep-a").await.unwrap(),
                    ),
                    (
                        "ep-b".to_owned(),
                        host.dp().ofport_of("ep-b").await.unwrap(),
                    ),
                ]
                .into(),
                peers: [(
                    ip("172.31.9.9"),
                    host.dp().peer_ofport(ip("172.31.9.9")).await.unwrap(),
                )]
                .into(),
                ..PortMap::default()
            },
        );
        p.flush();
        snapshot(&p.flows())
    };
    host.ovs
        .ofctl13(
            "add-flow",
            "contivbr",
            &["table=10,priority=77,cookie=0x99,ip,nw_dst=1.2.3.4,actions=drop"],
        )
        .unwrap();

    // "Kill" the agent: drop the datapath; a new one connects and resyncs.
    host.dp = None;
    host.connect().await;
    let r2 = host.dp().resync(&desired).await.unwrap();
    // Stale: ep-c's port, its 7 flows (classification, 2 spoof guard,
    // proxy ARP, L2, and its membership's 2) and the foreign flow; the
    // network's 2 flood flows are rewritten without ep-c's port.
    assert_eq!((r2.added, r2.removed), (2, 1 + 7 + 1), "{r2:?}");
    assert!(
        !c.ns.exec(&["ip", "link", "show", "eth0"]).status.success(),
        "ep-c's veth is gone"
    );
    let ports = host.ovs.vsctl(&["list-ports", "contivbr"]).unwrap();
    assert!(!ports.contains(&c.ep.host_ifname), "{ports}");
    assert_eq!(switch_flows(&host).await, fresh, "switch == fresh compile");
    assert!(a.ns.ping("10.1.3.3"), "traffic survives the agent restart");

    // In sync: a resync sends nothing.
    let before = host.dp().stats().await;
    let r3 = host.dp().resync(&desired).await.unwrap();
    assert_eq!((r3.added, r3.removed), (0, 0), "{r3:?}");
    assert_eq!(r3.unchanged, fresh.len());
    assert_eq!(host.dp().stats().await.flow_mods, before.flow_mods);

    // Another agent restart with nothing changed: zero flow-mods.
    host.dp = None;
    host.connect().await;
    let r4 = host.dp().resync(&desired).await.unwrap();
    assert_eq!((r4.added, r4.removed), (0, 0), "{r4:?}");
    assert_eq!(host.dp().stats().await.flow_mods, 0);

    // The switch restarts (flows lost): the next call reconnects and
    // reinstalls from the state the datapath holds.
    host.dp = None;
    host.ovs.restart_vswitchd().expect("restart ovs-vswitchd");
    host.connect().await;
    host.dp().resync(&desired).await.unwrap();
    host.ovs
        .restart_vswitchd()
        .expect("restart ovs-vswitchd again");
    host.dp().apply(vec![]).await.expect("reconnect and resync");
    assert!(host.dp().stats().await.reconnects >= 1);
    assert_eq!(switch_flows(&host).await, fresh);
    assert!(
        a.ns.ping_eventually("10.1.3.3", 10),
        "traffic after the switch restart"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn refused_operations_name_the_operation_and_change_nothing() {
    let mut host = Host::new();
    let net = vxlan_net("default", 1, "blue", 5300, "10.1.4.0/24");
    let a = container(&net, "ep-a", "10.1.4.2", 0);
    host.connect().await;
    let err = host
        .dp()
        .apply(vec![DpOp::AddLocalEndpoint(a.ep.clone())])
        .await
        .unwrap_err();
    assert!(
        matches!(&err, DpError::InvalidArgument(m) if m.contains("operation 0 (AddLocalEndpoint ep-a)") && m.contains("never added")),
        "{err}"
    );
    let mut bad = net.clone();
    bad.vni = None;
    let err = host
        .dp()
        .apply(vec![DpOp::AddNetwork(net.clone()), DpOp::AddNetwork(bad)])
        .await
        .unwrap_err();
    assert!(
        matches!(&err, DpError::InvalidArgument(m) if m.contains("operation 1") && m.contains("VNI")),
        "{err}"
    );
    // Operation 0 was applied.
    assert_eq!(host.dp().state().await.networks.len(), 1);
    // A fabric needs an uplink, and this host has none.
    let err = host
        .dp()
        .apply(vec![DpOp::SetFabric(Some(
            contiv_core::datapath::FabricSpec {
                tenant_id: 1,
                router: "50.1.1.1/24".parse().unwrap(),
            },
        ))])
        .await
        .unwrap_err();
    assert!(
        matches!(&err, DpError::Unsupported(m) if m.contains("needs an uplink")),
        "{err}"
    );
    assert_eq!(host.dp().state().await.fabric, None);

    // A resync with one endpoint that cannot be realised converges the
    // rest and names the broken one.
    let mut broken = local_ep("ep-x", &net, "10.1.4.9", 0, "nosuchif9");
    broken.attachment = Attachment::Existing;
    let b = container(&net, "ep-b", "10.1.4.3", 0);
    let desired = DesiredState {
        networks: vec![net.clone()],
        local_endpoints: vec![a.ep.clone(), b.ep.clone(), broken],
        ..DesiredState::default()
    };
    let err = host.dp().resync(&desired).await.unwrap_err();
    assert!(
        matches!(&err, DpError::Plumbing(m) if m.contains("endpoint ep-x") && m.contains("nosuchif9")),
        "{err}"
    );
    assert!(host.dp().ofport_of("ep-x").await.is_none());
    assert!(
        a.ns.ping_eventually("10.1.4.3", 10),
        "the healthy endpoints work"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn flood_mode_arp_and_netprofile_qos() {
    let mut host = Host::new();
    let net = vxlan_net("default", 1, "blue", 5400, "10.1.5.0/24");
    let a = container(&net, "ep-a", "10.1.5.2", 0);
    let mut b = container(&net, "ep-b", "10.1.5.3", 0);
    b.ep.qos = Some(contiv_core::datapath::Qos {
        rate_kbps: 10_000,
        burst_kb: 1_000,
        dscp: 10,
    });
    host.connect().await;
    host.dp()
        .apply(vec![
            DpOp::SetGlobal(GlobalSpec {
                arp_mode: contiv_core::datapath::ArpMode::Flood,
                ..GlobalSpec::default()
            }),
            DpOp::AddNetwork(net),
            DpOp::AddLocalEndpoint(a.ep.clone()),
            DpOp::AddLocalEndpoint(b.ep.clone()),
        ])
        .await
        .unwrap();
    // No proxy-ARP flows; ARP is flooded and answered by the container.
    let flows = host.ovs.dump_flow_strings("contivbr").unwrap();
    assert!(!flows.iter().any(|f| f.contains("arp_op=1")), "{flows:#?}");
    assert!(
        a.ns.ping_eventually("10.1.5.3", 10),
        "a -> b with flooded ARP"
    );
    // The netprofile's bandwidth is enforced with tbf qdiscs on both ends
    // of the veth (tc police, behind OVS's ingress policing, is absent
    // here: the policing rate stays 0); DSCP is marked in the spoof guard.
    let rate = host
        .ovs
        .vsctl(&[
            "get",
            "interface",
            &b.ep.host_ifname,
            "ingress_policing_rate",
        ])
        .unwrap();
    assert_eq!(rate.trim(), "0");
    assert!(
        b.ep.qos
            .unwrap()
            .not_enforced(&host.dp().capabilities())
            .is_empty()
    );
    let tc = host
        .ns
        .exec(&["tc", "qdisc", "show", "dev", &b.ep.host_ifname]);
    let tc = String::from_utf8_lossy(&tc.stdout).into_owned();
    assert!(tc.contains("tbf"), "towards the container: {tc}");
    let tc = b.ns.exec(&["tc", "qdisc", "show", "dev", "eth0"]);
    let tc = String::from_utf8_lossy(&tc.stdout).into_owned();
    assert!(tc.contains("tbf"), "from the container: {tc}");
    let port = host.dp().ofport_of("ep-b").await.unwrap();
    let marked = flows
        .iter()
        .find(|f| {
            f.starts_with("table=1 ")
                && f.contains(&format!("in_port={port},"))
                && f.contains(",ip,")
        })
        .unwrap_or_else(|| panic!("no spoof-guard flow for port {port}: {flows:#?}"));
    assert!(marked.contains("ip_dscp"), "{marked}");
    // Back to proxy mode: the switch answers again.
    host.dp()
        .apply(vec![DpOp::SetGlobal(GlobalSpec::default())])
        .await
        .unwrap();
    let flows = host.ovs.dump_flow_strings("contivbr").unwrap();
    assert_eq!(
        flows.iter().filter(|f| f.contains("arp_op=1")).count(),
        2,
        "{flows:#?}"
    );
}
