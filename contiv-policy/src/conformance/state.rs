//! State-level scenarios every backend runs (the recording datapath too):
//! resync convergence, restart adoption, refusals. With a forwarding
//! backend they also check the containers' interfaces and packets.

use super::fixture::{Container, RuleBuilder, ip, local_ep, remote_ep, vlan_net, vxlan_net};
use super::{Harness, Outcome, gate, host, start};
use contiv_core::datapath::{
    Capabilities, Capability, Datapath, DesiredState, DpError, DpOp, FabricSpec, HostState,
    NetworkSpec, VtepPeer,
};
use contiv_core::ir::{Membership, PolicyDelta, PolicyIr};

/// The network state-level scenarios use: VXLAN if claimed, else VLAN.
fn network(caps: &Capabilities) -> NetworkSpec {
    if caps.has(Capability::Vxlan) || !caps.has(Capability::Vlan) {
        vxlan_net("default", 1, "blue", 5200, "10.1.3.0/24")
    } else {
        vlan_net("default", 1, "blue", 120, "10.1.3.0/24")
    }
}

const FAR: &str = "192.0.2.99";

/// A host's worth of state: a network, `a` (group 7) and `b` (group 8)
/// local, a remote endpoint behind a peer (VXLAN only), and a rule
/// (group 8 refuses tcp/22 from group 7) with its memberships.
fn sample(caps: &Capabilities, a: &Container, b: &Container) -> DesiredState {
    let net = network(caps);
    let vxlan = net.vni.is_some();
    let mut policy = PolicyIr::default();
    let r = RuleBuilder::new(1, 1, 8)
        .peer_epg(7)
        .proto(6)
        .port(22)
        .priority(5)
        .deny()
        .build();
    policy.rules.insert(r.id, r);
    policy.members.insert((1, ip("10.1.3.2")), 7);
    policy.members.insert((1, ip("10.1.3.3")), 8);
    let mut d = DesiredState {
        networks: vec![net.clone()],
        local_endpoints: vec![
            local_ep("ep-a", &net, "10.1.3.2", 7, a),
            local_ep("ep-b", &net, "10.1.3.3", 8, b),
        ],
        ..DesiredState::default()
    };
    if vxlan {
        d.remote_endpoints = vec![remote_ep("far", &net, "10.1.3.99", 7, ip(FAR))];
        d.peers = vec![VtepPeer {
            host: "far".into(),
            ip: ip(FAR),
        }];
        policy.members.insert((1, ip("10.1.3.99")), 7);
    }
    d.policy = policy;
    d
}

/// Resync converges, and when nothing differs it changes (and writes)
/// nothing — also from a restarted agent; repeated operations write
/// nothing either.
pub async fn resync_changes_nothing_when_in_sync<H: Harness>(h: &H) -> Outcome {
    let caps = match gate(h, "resync_changes_nothing_when_in_sync") {
        Ok(c) => c,
        Err(o) => return o,
    };
    let real = caps.has(Capability::ForwardsPackets);
    let mut host = host(h).await;
    let (a, b) = (Container::new(real).await, Container::new(real).await);
    let d = sample(&caps, &a, &b);
    let dp = start(h, &mut host).await;
    let r1 = dp.resync(&d).await.expect("first resync");
    assert!(r1.added > 0 && r1.removed == 0, "a fresh install: {r1:?}");
    if real {
        assert!(
            a.ping_eventually("10.1.3.3", 10).await,
            "a -> b after resync"
        );
    }
    let w0 = h.writes(&host, &dp).await;
    let r2 = dp.resync(&d).await.expect("second resync");
    assert_eq!((r2.added, r2.removed), (0, 0), "in sync: {r2:?}");
    assert!(r2.unchanged > 0, "{r2:?}");
    assert_eq!(
        h.writes(&host, &dp).await,
        w0,
        "an in-sync resync writes nothing"
    );
    // The same operations again: idempotent, nothing written.
    let ops = HostState::default().diff_full(&d);
    dp.apply(ops).await.expect("the same operations again");
    assert_eq!(
        h.writes(&host, &dp).await,
        w0,
        "repeated operations write nothing"
    );
    let r3 = dp.resync(&d).await.expect("resync after repeats");
    assert_eq!((r3.added, r3.removed), (0, 0), "{r3:?}");

    // Agent restart with nothing changed: the new instance adopts the
    // host and changes nothing.
    drop(dp);
    let dp = start(h, &mut host).await;
    let w1 = h.writes(&host, &dp).await;
    let r4 = dp.resync(&d).await.expect("resync after restart");
    assert_eq!((r4.added, r4.removed), (0, 0), "after a restart: {r4:?}");
    assert_eq!(
        h.writes(&host, &dp).await,
        w1,
        "nothing written after restart"
    );
    if real {
        assert!(a.ping("10.1.3.3").await, "traffic survives the restart");
    }
    Outcome::Passed
}

/// After an agent restart, a resync removes what the new desired state
/// no longer names (an endpoint, its interfaces and its membership) and
/// keeps the rest working.
pub async fn stale_state_removed_after_restart<H: Harness>(h: &H) -> Outcome {
    let caps = match gate(h, "stale_state_removed_after_restart") {
        Ok(c) => c,
        Err(o) => return o,
    };
    let real = caps.has(Capability::ForwardsPackets);
    let mut host = host(h).await;
    let (a, b, c) = (
        Container::new(real).await,
        Container::new(real).await,
        Container::new(real).await,
    );
    let d = sample(&caps, &a, &b);
    let net = d.networks[0].clone();
    let dp = start(h, &mut host).await;
    dp.resync(&d).await.expect("resync");
    dp.apply(vec![
        DpOp::AddLocalEndpoint(local_ep("ep-c", &net, "10.1.3.4", 8, &c)),
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
    .expect("add ep-c");
    if real {
        assert!(a.ping_eventually("10.1.3.4", 10).await, "a -> c");
    }
    // The agent dies; the next one does not know ep-c.
    drop(dp);
    let dp = start(h, &mut host).await;
    let r = dp.resync(&d).await.expect("resync after restart");
    assert!(r.removed >= 1, "ep-c is stale: {r:?}");
    if real {
        assert!(!c.has_link("eth0").await, "ep-c's interface is removed");
        assert!(!a.ping("10.1.3.4").await, "ep-c is unreachable");
        assert!(
            a.ping_eventually("10.1.3.3", 10).await,
            "a -> b still works"
        );
    }
    let r = dp.resync(&d).await.expect("resync again");
    assert_eq!((r.added, r.removed), (0, 0), "converged: {r:?}");
    Outcome::Passed
}

fn invalid(e: &DpError) -> &str {
    match e {
        DpError::InvalidArgument(m) => m,
        other => panic!("expected InvalidArgument, got {other:?}"),
    }
}

/// Refused operations name the operation and change nothing; the
/// operations before a refused one stay applied; an inconsistent resync
/// is refused as a whole; a backend without a routed uplink refuses a
/// fabric router.
pub async fn refused_operations_change_nothing<H: Harness>(h: &H) -> Outcome {
    let caps = match gate(h, "refused_operations_change_nothing") {
        Ok(c) => c,
        Err(o) => return o,
    };
    let real = caps.has(Capability::ForwardsPackets);
    let mut host = host(h).await;
    let (a, b) = (Container::new(real).await, Container::new(real).await);
    let net = network(&caps);
    let ea = local_ep("ep-a", &net, "10.1.3.2", 0, &a);
    let eb = local_ep("ep-b", &net, "10.1.3.3", 0, &b);
    let dp = start(h, &mut host).await;

    let e = dp
        .apply(vec![DpOp::AddLocalEndpoint(ea.clone())])
        .await
        .expect_err("an endpoint on a network never added");
    let m = invalid(&e);
    assert!(
        m.contains("operation 0") && m.contains("ep-a"),
        "the error names the operation: {m}"
    );
    let mut bad = net.clone();
    bad.key = "default:bad".into();
    bad.vni = bad.vni.map(|_| 0);
    bad.vlan = if bad.vni.is_some() { 0 } else { 4095 };
    let e = dp
        .apply(vec![DpOp::AddNetwork(net.clone()), DpOp::AddNetwork(bad)])
        .await
        .expect_err("an invalid network");
    assert!(invalid(&e).contains("operation 1"), "{e}");
    // Operation 0 was applied: its network takes endpoints.
    dp.apply(vec![
        DpOp::AddLocalEndpoint(ea.clone()),
        DpOp::AddLocalEndpoint(eb.clone()),
    ])
    .await
    .expect("endpoints on the network operation 0 added");
    // A policy delta with a rule whose address set does not exist.
    let mut dangling = RuleBuilder::new(9, 1, 3).deny().build();
    dangling.peer =
        contiv_core::ir::PeerMatch::AddrSet(contiv_core::ir::AddrSetId("cidr:missing".into()));
    let e = dp
        .apply(vec![DpOp::Policy(PolicyDelta {
            rules_added: vec![dangling],
            ..PolicyDelta::default()
        })])
        .await
        .expect_err("a rule referencing a missing address set");
    invalid(&e);
    // An inconsistent desired state is refused as a whole.
    let mut broken = DesiredState {
        networks: vec![net.clone()],
        local_endpoints: vec![ea.clone(), eb.clone()],
        ..DesiredState::default()
    };
    let mut lost = eb.clone();
    lost.id = "ep-lost".into();
    lost.network = "default:missing".into();
    broken.local_endpoints.push(lost);
    let e = dp.resync(&broken).await.expect_err("an inconsistent state");
    invalid(&e);
    // A backend that does not claim a routed uplink refuses a router on
    // the fabric (and a resync with one) instead of recording it.
    if !caps.has(Capability::RoutedUplink) {
        let fabric = FabricSpec {
            tenant_id: net.tenant_id,
            router: "50.1.1.1/24".parse().expect("router"),
        };
        let e = dp
            .apply(vec![DpOp::SetFabric(Some(fabric))])
            .await
            .expect_err("a fabric without routed_uplink");
        assert!(
            matches!(&e, DpError::Unsupported(m) if m.contains("routed_uplink")),
            "{e:?}"
        );
        let mut with_fabric = broken.clone();
        with_fabric.local_endpoints.pop();
        with_fabric.fabric = Some(fabric);
        let e = dp
            .resync(&with_fabric)
            .await
            .expect_err("a desired fabric without routed_uplink");
        assert!(matches!(e, DpError::Unsupported(_)), "{e:?}");
    }
    // Nothing of the refusals stuck: the state is exactly network + a + b.
    broken.local_endpoints.pop();
    let r = dp
        .resync(&broken)
        .await
        .expect("resync to what was applied");
    assert_eq!((r.added, r.removed), (0, 0), "refusals left traces: {r:?}");
    if real {
        assert!(a.ping_eventually("10.1.3.3", 10).await, "a -> b");
    }
    Outcome::Passed
}
