//! The recording datapath: idempotent operations, the op log, refusals,
//! exact resync reports and convergence, and verdicts through the oracle —
//! also fed by the compiler's deltas, the way an agent drives a datapath.
#![allow(clippy::unwrap_used)] // test code: a panic is a test failure

mod common;

use common::{group, ip, network, rule};
use contiv_core::datapath::{
    Attachment, Capability, Datapath, DesiredState, DpError, DpOp, Encap, FwdMode, GlobalSpec,
    LocalEndpoint, MacAddr, NetworkSpec, RemoteEndpoint, ResyncReport, VtepPeer,
};
use contiv_core::ir::{AddrSet, AddrSetId, Membership, PolicyDelta};
use contiv_policy::{Compiler, EndpointInput, PROTO_TCP, Recorded, RecordingDatapath, evaluate};

fn net(key: &str, tenant_id: u32) -> NetworkSpec {
    NetworkSpec {
        key: key.into(),
        tenant: key.split(':').next().unwrap().into(),
        tenant_id,
        encap: Encap::Vxlan,
        vlan: 1,
        vni: Some(5000),
        subnet: Some("10.1.0.0/16".parse().unwrap()),
        gateway: None,
        subnet6: Some("fd00:1::/64".parse().unwrap()),
        gateway6: None,
        external: false,
    }
}

fn local(id: &str, network: &str, epg: u32, v4: &str) -> LocalEndpoint {
    LocalEndpoint {
        id: id.into(),
        network: network.into(),
        epg,
        ipv4: Some(format!("{v4}/16").parse().unwrap()),
        ipv6: None,
        mac: MacAddr::from_ipv4(v4.parse().unwrap()),
        host_ifname: format!("v{id}"),
        attachment: Attachment::Existing,
        mtu: 1450,
        qos: None,
    }
}

fn remote(id: &str, network: &str, epg: u32, v6: &str) -> RemoteEndpoint {
    RemoteEndpoint {
        id: id.into(),
        network: network.into(),
        epg,
        ipv4: None,
        ipv6: Some(v6.parse().unwrap()),
        mac: MacAddr([2, 2, 0, 0, 0, 9]),
        vtep: ip("192.0.2.2"),
    }
}

fn rt() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_current_thread()
        .build()
        .unwrap()
}

#[test]
fn operations_are_kept_idempotently_and_logged() {
    rt().block_on(async {
        let dp = RecordingDatapath::new();
        assert_eq!(dp.name(), "recording");
        let caps = dp.capabilities();
        assert!(
            caps.has(Capability::Vxlan)
                && !caps.has(Capability::ForwardsPackets)
                && !caps.has(Capability::QosBandwidth)
        );
        let ops = vec![
            DpOp::SetGlobal(GlobalSpec {
                fwd_mode: FwdMode::Routing,
                ..GlobalSpec::default()
            }),
            DpOp::AddNetwork(net("default:n", 1)),
            DpOp::AddLocalEndpoint(local("a", "default:n", 3, "10.1.0.1")),
            DpOp::AddRemoteEndpoint(remote("b", "default:n", 4, "fd00:1::2")),
            DpOp::AddPeer(VtepPeer {
                host: "h2".into(),
                ip: ip("192.0.2.2"),
            }),
        ];
        dp.apply(ops.clone()).await.unwrap();
        let once = dp.state();
        dp.apply(ops.clone()).await.unwrap();
        assert_eq!(dp.state(), once, "re-applying changes nothing");
        assert_eq!(dp.ops().len(), 10);
        assert_eq!(dp.ops()[..5], ops[..]);
        assert_eq!(once.global.fwd_mode, FwdMode::Routing);
        assert_eq!(once.local_endpoints.len(), 1);
        assert_eq!(once.remote_endpoints.len(), 1);
        assert_eq!(once.peers.len(), 1);

        // Replace, move between local and remote, remove (also of absent ids).
        dp.apply(vec![
            DpOp::AddLocalEndpoint(local("a", "default:n", 7, "10.1.0.1")),
            DpOp::AddLocalEndpoint(local("b", "default:n", 4, "10.1.0.2")),
            DpOp::RemovePeer(ip("192.0.2.2")),
            DpOp::RemovePeer(ip("192.0.2.3")),
            DpOp::RemoveRemoteEndpoint("nope".into()),
        ])
        .await
        .unwrap();
        let s = dp.state();
        assert_eq!(
            s.local_endpoints
                .iter()
                .map(|e| (e.id.as_str(), e.epg))
                .collect::<Vec<_>>(),
            [("a", 7), ("b", 4)]
        );
        assert!(s.remote_endpoints.is_empty() && s.peers.is_empty());

        // Removing a network takes its endpoints with it.
        dp.apply(vec![DpOp::RemoveNetwork("default:n".into())])
            .await
            .unwrap();
        let s = dp.state();
        assert!(s.networks.is_empty() && s.local_endpoints.is_empty());
        dp.clear_log();
        assert!(dp.log().is_empty());
        assert_eq!(dp.state(), s, "clearing the log keeps the state");
    });
}

#[test]
fn invalid_operations_are_refused_naming_the_operation() {
    rt().block_on(async {
        let dp = RecordingDatapath::new();
        let err = dp
            .apply(vec![
                DpOp::AddNetwork(net("default:n", 1)),
                DpOp::AddLocalEndpoint(local("a", "default:missing", 3, "10.1.0.1")),
                DpOp::AddPeer(VtepPeer { host: "h2".into(), ip: ip("192.0.2.2") }),
            ])
            .await
            .unwrap_err();
        assert_eq!(
            err,
            DpError::InvalidArgument(
                "operation 1 (AddLocalEndpoint a): endpoint a is on network default:missing, which was never added (add the network first)".into()
            )
        );
        // The op before the failing one is applied, the rest are not.
        assert_eq!(dp.ops().len(), 1);
        assert_eq!(dp.state().networks.len(), 1);
        assert!(dp.state().peers.is_empty());

        let mut vx = net("default:v", 1);
        vx.vni = None;
        let err = dp.apply(vec![DpOp::AddNetwork(vx)]).await.unwrap_err();
        assert!(err.to_string().contains("network default:v: a VXLAN network needs a VNI"), "{err}");

        // Policy deltas must leave every rule's address sets in place.
        let mut c = Compiler::new();
        c.upsert_tenant("default", 1).unwrap();
        c.upsert_epg(&group("default", "g", "n", &["p"]), 1).unwrap();
        let d = c.upsert_rule(&rule("default", "p", "1").src_ip("10.9.0.0/16").deny().build()).unwrap();
        let mut dangling = d.clone();
        dangling.sets_upserted.clear();
        let err = dp.apply(vec![DpOp::Policy(dangling)]).await.unwrap_err();
        assert!(err.to_string().contains("referencing address set cidr:10.9.0.0/16, which would not exist"), "{err}");
        dp.apply(vec![DpOp::Policy(d)]).await.unwrap();
        let pull_set = PolicyDelta {
            sets_removed: vec![AddrSetId("cidr:10.9.0.0/16".into())],
            ..PolicyDelta::default()
        };
        let err = dp.apply(vec![DpOp::Policy(pull_set)]).await.unwrap_err();
        assert!(err.to_string().contains("still referenced by rule"), "{err}");
        let zero = PolicyDelta {
            members_added: vec![Membership { tenant: 1, ip: ip("10.1.0.1"), epg: 0 }],
            ..PolicyDelta::default()
        };
        assert!(dp.apply(vec![DpOp::Policy(zero)]).await.is_err());
        assert_eq!(&dp.policy(), c.ir(), "refused deltas changed nothing");
    });
}

#[test]
fn compiler_deltas_drive_the_datapath_and_verdicts_follow() {
    rt().block_on(async {
        let dp = RecordingDatapath::new();
        dp.apply(vec![DpOp::AddNetwork(net("default:n", 1))])
            .await
            .unwrap();
        let mut c = Compiler::new();
        let mut deltas = vec![
            c.upsert_tenant("default", 1).unwrap(),
            c.upsert_network(&network("default", "n", "10.1.0.0/16", "fd00:1::/64"))
                .unwrap(),
            c.upsert_epg(&group("default", "db", "n", &["db-policy"]), 1)
                .unwrap(),
            c.upsert_rule(&rule("default", "db-policy", "1").tcp().deny().build())
                .unwrap(),
            c.upsert_rule(
                &rule("default", "db-policy", "2")
                    .tcp()
                    .port(8888)
                    .allow()
                    .prio(10)
                    .build(),
            )
            .unwrap(),
            c.upsert_endpoint(&EndpointInput::new(
                "db",
                "default",
                "n",
                Some("db"),
                [ip("10.1.0.1")],
            ))
            .unwrap(),
            c.upsert_endpoint(&EndpointInput::new(
                "web",
                "default",
                "n",
                None,
                [ip("10.1.0.2")],
            ))
            .unwrap(),
        ];
        for d in deltas.drain(..) {
            dp.apply(vec![DpOp::Policy(d)]).await.unwrap();
        }
        assert_eq!(&dp.policy(), c.ir());
        dp.apply(vec![
            DpOp::AddLocalEndpoint(local("db", "default:n", 1, "10.1.0.1")),
            DpOp::AddLocalEndpoint(local("web", "default:n", 0, "10.1.0.2")),
        ])
        .await
        .unwrap();
        let p = dp.packet_between("web", "db", PROTO_TCP, 8888).unwrap();
        assert!(dp.verdict(&p).allowed());
        let p = dp.packet_between("web", "db", PROTO_TCP, 8889).unwrap();
        let v = dp.verdict(&p);
        assert!(!v.allowed());
        assert_eq!(v, evaluate(c.ir(), &p));
        assert_eq!(v.deciding_rule().unwrap().origin.rule, "1");

        // Delete rule 1 through a delta: 8889 opens.
        let d = c.remove_rule("default:db-policy:1").unwrap();
        dp.apply(vec![DpOp::Policy(d)]).await.unwrap();
        assert!(dp.verdict(&p).allowed());
        assert_eq!(&dp.policy(), c.ir());
    });
}

#[test]
fn packet_between_classifies_like_a_datapath() {
    rt().block_on(async {
        let dp = RecordingDatapath::new();
        dp.apply(vec![
            DpOp::AddNetwork(net("blue:n", 2)),
            DpOp::AddNetwork(net("default:n", 1)),
            DpOp::AddLocalEndpoint(local("a", "default:n", 3, "10.1.0.1")),
            DpOp::AddRemoteEndpoint(remote("b", "default:n", 4, "fd00:1::2")),
            DpOp::AddLocalEndpoint(LocalEndpoint {
                ipv6: Some("fd00:1::1/64".parse().unwrap()),
                ..local("c", "blue:n", 5, "10.1.0.3")
            }),
        ])
        .await
        .unwrap();
        let p = dp.packet_between("c", "b", 6, 80).unwrap();
        assert_eq!((p.src.tenant, p.dst.tenant), (2, 1));
        assert_eq!((p.src.epg, p.dst.epg), (Some(5), Some(4)));
        assert_eq!((p.src.ip, p.dst.ip), (ip("fd00:1::1"), ip("fd00:1::2")));
        assert!(!dp.verdict(&p).allowed(), "different tenants");
        let p = dp.packet_between("c", "a", 6, 80).unwrap();
        assert_eq!(p.dst.ip, ip("10.1.0.1"));
        let err = dp.packet_between("a", "b", 6, 80).unwrap_err();
        assert_eq!(
            err,
            DpError::InvalidArgument("endpoints a and b share no address family".into())
        );
        let err = dp.packet_between("a", "zz", 6, 80).unwrap_err();
        assert_eq!(
            err,
            DpError::InvalidArgument("endpoint zz is not known to this datapath".into())
        );
    });
}

fn desired() -> DesiredState {
    let mut c = Compiler::new();
    c.upsert_tenant("default", 1).unwrap();
    c.upsert_epg(&group("default", "g", "n", &["p"]), 1)
        .unwrap();
    c.upsert_rule(
        &rule("default", "p", "1")
            .src_ip("10.9.0.0/16")
            .deny()
            .build(),
    )
    .unwrap();
    c.upsert_rule(&rule("default", "p", "2").tcp().port(80).build())
        .unwrap();
    c.upsert_endpoint(&EndpointInput::new(
        "a",
        "default",
        "n",
        Some("g"),
        [ip("10.1.0.1")],
    ))
    .unwrap();
    DesiredState {
        global: GlobalSpec::default(),
        networks: vec![net("default:n", 1)],
        local_endpoints: vec![local("a", "default:n", 1, "10.1.0.1")],
        remote_endpoints: vec![remote("b", "default:n", 0, "fd00:1::2")],
        peers: vec![VtepPeer {
            host: "h2".into(),
            ip: ip("192.0.2.2"),
        }],
        policy: c.into_ir(),
        ..DesiredState::default()
    }
}

#[test]
fn resync_reports_exactly_and_converges() {
    rt().block_on(async {
        let dp = RecordingDatapath::new();
        let want = desired();
        // Entries: global 1, network 1, local 1, remote 1, peer 1, rules 2,
        // address sets 1, memberships 1 = 9.
        let r = dp.resync(&want).await.unwrap();
        assert_eq!(
            r,
            ResyncReport {
                added: 8,
                removed: 0,
                unchanged: 1
            },
            "the default global was already right"
        );
        assert_eq!(dp.state(), want);
        assert_eq!(
            dp.resync(&want).await.unwrap(),
            ResyncReport {
                added: 0,
                removed: 0,
                unchanged: 9
            }
        );

        // Drift: a stale peer and endpoint, a changed endpoint, a lost rule.
        dp.apply(vec![
            DpOp::AddPeer(VtepPeer {
                host: "h3".into(),
                ip: ip("192.0.2.3"),
            }),
            DpOp::AddLocalEndpoint(local("stale", "default:n", 0, "10.1.0.9")),
            DpOp::AddLocalEndpoint(local("a", "default:n", 2, "10.1.0.1")),
            DpOp::Policy(PolicyDelta {
                rules_removed: vec![*want.policy.rules.keys().next().unwrap()],
                ..PolicyDelta::default()
            }),
        ])
        .await
        .unwrap();
        let r = dp.resync(&want).await.unwrap();
        assert_eq!(
            r,
            ResyncReport {
                added: 2,
                removed: 2,
                unchanged: 7
            }
        );
        assert_eq!(dp.state(), want);
        assert!(matches!(dp.log().last(), Some(Recorded::Resync(rep)) if *rep == r));

        // Resync to nothing removes everything but the global settings.
        let r = dp.resync(&DesiredState::default()).await.unwrap();
        assert_eq!(
            r,
            ResyncReport {
                added: 0,
                removed: 8,
                unchanged: 1
            }
        );
        assert_eq!(dp.state(), DesiredState::default());
    });
}

#[test]
fn resync_refuses_inconsistent_desired_state_and_keeps_the_current_one() {
    rt().block_on(async {
        let dp = RecordingDatapath::new();
        let want = desired();
        dp.resync(&want).await.unwrap();
        let mut bad = want.clone();
        bad.local_endpoints[0].network = "default:gone".into();
        assert!(
            dp.resync(&bad)
                .await
                .unwrap_err()
                .to_string()
                .contains("never added")
        );
        let mut bad = want.clone();
        bad.peers.push(bad.peers[0].clone());
        assert!(
            dp.resync(&bad)
                .await
                .unwrap_err()
                .to_string()
                .contains("listed twice")
        );
        let mut bad = want.clone();
        bad.remote_endpoints[0].id = "a".into();
        assert!(
            dp.resync(&bad)
                .await
                .unwrap_err()
                .to_string()
                .contains("both local and remote")
        );
        let mut bad = want.clone();
        bad.policy.addr_sets.clear();
        assert!(
            dp.resync(&bad)
                .await
                .unwrap_err()
                .to_string()
                .contains("which is missing")
        );
        let mut bad = want.clone();
        bad.policy.addr_sets.insert(
            AddrSetId("x".into()),
            AddrSet {
                id: AddrSetId("x".into()),
                prefixes: vec![],
            },
        );
        bad.policy.members.insert((1, ip("10.1.0.7")), 0);
        assert!(
            dp.resync(&bad)
                .await
                .unwrap_err()
                .to_string()
                .contains("group id 0")
        );
        assert_eq!(dp.state(), want);
    });
}
