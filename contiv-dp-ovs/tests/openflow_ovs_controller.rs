//! The connection as a controller OVS connects to ([`Listener`]), and the
//! reconnecting wrapper: packet-ins are never lost while replies are
//! awaited, port-status events arrive, OVS's echo probes are answered, and
//! a vswitchd restart triggers reconnect + resync.

// Test code: a failed unwrap is a test failure with its message.
#![allow(clippy::unwrap_used)]

use contiv_dp_ovs::openflow::conn::{
    AsyncMessage, Backoff, ConnConfig, Connection, Events, Listener, ReconnectEvent, Reconnecting,
};
use contiv_dp_ovs::openflow::wire::*;
use contiv_dp_ovs::testing::OvsInstance;
use std::collections::BTreeSet;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

async fn controller(ovs: &OvsInstance, bridge: &str) -> (Listener, Connection, Events) {
    controller_with(ovs, bridge, ConnConfig::default()).await
}

async fn controller_with(
    ovs: &OvsInstance,
    bridge: &str,
    cfg: ConnConfig,
) -> (Listener, Connection, Events) {
    let l = Listener::bind_unix(ovs.rundir().join("contiv-ctl.sock")).unwrap();
    ovs.vsctl(&["set-controller", bridge, &l.target()]).unwrap();
    let (c, ev) = tokio::time::timeout(Duration::from_secs(10), l.accept(cfg))
        .await
        .expect("OVS did not connect to the controller socket")
        .expect("handshake with OVS");
    (l, c, ev)
}

fn frame(i: u32) -> Vec<u8> {
    let mut f = vec![0xff; 6]; // broadcast dst
    f.extend_from_slice(&[0x02, 0, 0, 0, 0, 1]);
    f.extend_from_slice(&[0x88, 0xb5]); // local experimental ethertype
    f.extend_from_slice(&i.to_be_bytes());
    f.resize(60, 0xab);
    f
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn packet_ins_are_not_lost_while_replies_are_awaited() {
    let ovs = OvsInstance::start().unwrap();
    ovs.add_bridge("br0").unwrap();
    ovs.add_internal_port("br0", "p1", 1).unwrap();
    let (_l, c, mut ev) = controller(&ovs, "br0").await;
    assert_eq!(c.version(), OFP_VERSION);
    c.send_flow_mods_in_bundle(vec![
        FlowMod::add(0, 0)
            .cookie(0x77)
            .apply(vec![Action::to_controller()]),
    ])
    .await
    .unwrap();

    let n = 300u32;
    // Keep requests in flight on the same connection the whole time.
    let busy = {
        let c = c.clone();
        tokio::spawn(async move {
            let mut rounds = 0;
            for _ in 0..60 {
                c.barrier().await.unwrap();
                let s = c.flow_stats(FlowStatsRequest::all()).await.unwrap();
                assert_eq!(s.len(), 1);
                rounds += 1;
            }
            rounds
        })
    };
    let outs: Vec<Message> = (0..n)
        .map(|i| {
            Message::PacketOut(PacketOut::new(
                1,
                vec![Action::output(port_no::TABLE)],
                frame(i),
            ))
        })
        .collect();
    c.send_all(&outs).await.unwrap();

    let mut seen = BTreeSet::new();
    while seen.len() < n as usize {
        let m = tokio::time::timeout(Duration::from_secs(10), ev.recv())
            .await
            .expect("packet-in missing")
            .expect("event stream ended");
        match m {
            AsyncMessage::PacketIn { msg, .. } => {
                assert_eq!(msg.reason, packet_in_reason::ACTION);
                assert_eq!((msg.table_id, msg.cookie), (0, 0x77));
                assert_eq!(msg.in_port(), Some(1));
                assert_eq!(msg.data.len(), 60);
                let i = u32::from_be_bytes(msg.data[14..18].try_into().unwrap());
                assert_eq!(msg.data, frame(i));
                assert!(seen.insert(i), "packet-in {i} delivered twice");
            }
            other => panic!("unexpected event {other:?}"),
        }
    }
    assert_eq!(busy.await.unwrap(), 60);
    assert_eq!(seen.len() as u32, n);
}

#[tokio::test]
async fn port_status_events_follow_port_changes() {
    let ovs = OvsInstance::start().unwrap();
    ovs.add_bridge("br0").unwrap();
    let (_l, _c, mut ev) = controller(&ovs, "br0").await;
    ovs.add_internal_port("br0", "p7", 7).unwrap();
    let mut added = false;
    while !added {
        match tokio::time::timeout(Duration::from_secs(10), ev.recv()).await {
            Ok(Some(AsyncMessage::PortStatus(ps))) => {
                if ps.reason == PortStatusReason::Add {
                    assert_eq!((ps.desc.port_no, ps.desc.name.as_str()), (7, "p7"));
                    added = true;
                }
            }
            other => panic!("expected a port-status add, got {other:?}"),
        }
    }
    ovs.vsctl(&["del-port", "br0", "p7"]).unwrap();
    loop {
        match tokio::time::timeout(Duration::from_secs(10), ev.recv()).await {
            Ok(Some(AsyncMessage::PortStatus(ps))) if ps.reason == PortStatusReason::Delete => {
                assert_eq!(ps.desc.name, "p7");
                break;
            }
            Ok(Some(AsyncMessage::PortStatus(_))) => {}
            other => panic!("expected a port-status delete, got {other:?}"),
        }
    }
}

#[tokio::test]
async fn flow_removed_and_role_replies_from_ovs() {
    let ovs = OvsInstance::start().unwrap();
    ovs.add_bridge("br0").unwrap();
    let (_l, c, mut ev) = controller(&ovs, "br0").await;
    let m = Match::new()
        .eth_type(0x0800)
        .ipv4_dst("10.9.9.9".parse().unwrap());
    c.send_flow_mods_in_bundle(vec![
        FlowMod::add(2, 33)
            .cookie(0x99)
            .flags(flow_mod_flags::SEND_FLOW_REM)
            .matching(m.clone())
            .goto(3),
    ])
    .await
    .unwrap();
    c.send_checked(&[Message::FlowMod(
        FlowMod::delete_strict(2, 33).matching(m.clone()),
    )])
    .await
    .unwrap();
    let removed = loop {
        match tokio::time::timeout(Duration::from_secs(10), ev.recv()).await {
            Ok(Some(AsyncMessage::FlowRemoved(f))) => break f,
            Ok(Some(AsyncMessage::PortStatus(_))) => {}
            other => panic!("expected a flow-removed, got {other:?}"),
        }
    };
    assert_eq!(
        (
            removed.cookie,
            removed.priority,
            removed.table_id,
            removed.reason
        ),
        (0x99, 33, 2, 2)
    );
    assert_eq!(removed.r#match, m);

    let r = c.role(Role::Master, 7).await.unwrap();
    assert_eq!((r.role, r.generation_id), (Role::Master, 7));
    let q = c.role(Role::NoChange, 0).await.unwrap();
    assert_eq!(q.role, Role::Master);
    // A stale generation id is refused, and the error is this request's.
    let err = c.role(Role::Master, 3).await.unwrap_err();
    match err {
        contiv_dp_ovs::openflow::conn::ConnError::Switch { what, error } => {
            assert_eq!(what, "role request");
            assert_eq!(error.name(), Some("OFPRRFC_STALE"));
        }
        e => panic!("expected OFPRRFC_STALE, got {e:?}"),
    }
}

#[tokio::test]
async fn ovs_inactivity_probes_are_answered() {
    let ovs = OvsInstance::start().unwrap();
    ovs.add_bridge("br0").unwrap();
    // Our own keep-alive is off for this test, so the connection stays
    // silent and only OVS probes: after 5 s idle (its minimum) it sends an
    // echo request and drops the controller if no reply comes within
    // another 5 s.
    let cfg = ConnConfig {
        echo_interval: Duration::from_secs(3600),
        ..ConnConfig::default()
    };
    let (_l, c, _ev) = controller_with(&ovs, "br0", cfg).await;
    ovs.appctl(&["vlog/set", "rconn:file:dbg"]).unwrap();
    ovs.vsctl(&["set", "controller", "br0", "inactivity_probe=5000"])
        .unwrap();
    tokio::time::sleep(Duration::from_millis(11_500)).await;
    assert!(!c.is_closed(), "closed: {:?}", c.close_reason());
    let log = std::fs::read_to_string(ovs.rundir().join("ovs-vswitchd.log")).unwrap();
    assert!(
        log.contains("sending inactivity probe"),
        "OVS never probed the controller: {log}"
    );
    assert!(
        !log.contains("no response to inactivity probe"),
        "OVS dropped the controller: {log}"
    );
    c.barrier().await.unwrap();
}

async fn next(ev: &mut tokio::sync::mpsc::UnboundedReceiver<ReconnectEvent>) -> ReconnectEvent {
    tokio::time::timeout(Duration::from_secs(20), ev.recv())
        .await
        .expect("no reconnect event")
        .expect("supervisor stopped")
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn reconnecting_connection_resyncs_after_vswitchd_restart() {
    let mut ovs = OvsInstance::start().unwrap();
    ovs.add_bridge("br0").unwrap();
    let resyncs = Arc::new(AtomicUsize::new(0));
    let r = resyncs.clone();
    let (rc, mut ev) = Reconnecting::unix(
        ovs.mgmt_socket("br0"),
        ConnConfig::default(),
        Backoff {
            initial: Duration::from_millis(20),
            max: Duration::from_millis(200),
        },
        move |conn| {
            let r = r.clone();
            Box::pin(async move {
                conn.send_flow_mods_in_bundle(vec![FlowMod::add(0, 5).cookie(0x5).goto(1)])
                    .await?;
                r.fetch_add(1, Ordering::SeqCst);
                Ok(())
            })
        },
    );
    assert!(matches!(
        next(&mut ev).await,
        ReconnectEvent::Connected { generation: 1, .. }
    ));
    let c1 = rc.connected(Duration::from_secs(5)).await.unwrap();
    assert_eq!(
        ovs.dump_flow_strings("br0").unwrap(),
        vec!["table=0 priority=5 actions=goto_table:1"]
    );

    ovs.restart_vswitchd().unwrap();
    assert!(matches!(
        next(&mut ev).await,
        ReconnectEvent::Disconnected { .. }
    ));
    assert!(c1.is_closed());
    assert!(matches!(
        next(&mut ev).await,
        ReconnectEvent::Connected { generation: 2, .. }
    ));
    assert_eq!(resyncs.load(Ordering::SeqCst), 2);
    assert_eq!(rc.generation(), 2);
    // The restarted vswitchd came back without flows; the resync put ours back.
    assert_eq!(
        ovs.dump_flow_strings("br0").unwrap(),
        vec!["table=0 priority=5 actions=goto_table:1"]
    );
    let c2 = rc.current().expect("connected");
    c2.barrier().await.unwrap();
    rc.shutdown();
    tokio::time::timeout(Duration::from_secs(5), c2.closed())
        .await
        .unwrap();
}
