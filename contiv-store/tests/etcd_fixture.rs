//! The real-etcd fixtures and the etcd backend's behaviour around process
//! failures: a 3-member cluster surviving a leader crash, a member
//! rejoining, a single server killed and started again, connection errors
//! reported as `Unavailable`, and a clear error when the binary is missing.

use contiv_core::store::{PutOptions, StateStore, StoreError};
use contiv_store::etcd::{EtcdOptions, EtcdStore};
use contiv_store::testing::{EtcdCluster, EtcdServer, FixtureError};
use std::path::Path;
use std::time::{Duration, Instant};

const DEADLINE: Duration = Duration::from_secs(30);

/// Retries a put while the cluster is electing a new leader.
async fn put_until_ok(store: &EtcdStore, key: &str, value: &[u8]) -> u64 {
    let deadline = Instant::now() + DEADLINE;
    loop {
        match store.put(key, value.to_vec(), PutOptions::default()).await {
            Ok(rev) => return rev,
            Err(StoreError::Unavailable(m)) if Instant::now() < deadline => {
                eprintln!("retrying after: {m}");
                tokio::time::sleep(Duration::from_millis(100)).await;
            }
            Err(e) => panic!("put {key} failed: {e}"),
        }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn cluster_survives_a_leader_crash_and_the_member_rejoins() {
    let mut cluster = tokio::task::block_in_place(|| EtcdCluster::start(3)).expect("start cluster");
    assert_eq!(cluster.size(), 3);
    let leader = tokio::task::block_in_place(|| cluster.wait_for_leader(DEADLINE)).unwrap();
    let store = EtcdStore::connect(cluster.endpoints()).await.unwrap();
    let r1 = put_until_ok(&store, "/ha/a", b"1").await;

    tokio::task::block_in_place(|| cluster.kill_member(leader)).unwrap();
    assert!(!cluster.is_running(leader));
    let r2 = put_until_ok(&store, "/ha/b", b"2").await;
    assert!(r2 > r1);
    let new_leader = tokio::task::block_in_place(|| cluster.wait_for_leader(DEADLINE)).unwrap();
    assert_ne!(new_leader, leader, "a killed member cannot lead");
    // The killed member is still one of the client's endpoints: reads must
    // not surface its refused connections.
    for _ in 0..20 {
        assert_eq!(store.get("/ha/a").await.unwrap().unwrap().value, b"1");
        assert_eq!(store.list("/ha/").await.unwrap().kvs.len(), 2);
    }

    tokio::task::block_in_place(|| cluster.restart_member(leader)).unwrap();
    let only_rejoined = EtcdStore::connect(vec![cluster.endpoint(leader).unwrap()])
        .await
        .unwrap();
    let kv = only_rejoined
        .get("/ha/b")
        .await
        .unwrap()
        .expect("rejoined member serves new data");
    assert_eq!((kv.value.as_slice(), kv.mod_revision), (&b"2"[..], r2));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn killed_server_is_unavailable_then_serves_its_data_again() {
    let mut server = tokio::task::block_in_place(EtcdServer::start).unwrap();
    assert!(server.pid().is_some());
    let options = EtcdOptions {
        request_timeout: Duration::from_secs(3),
        connect_timeout: Duration::from_secs(3),
        ..EtcdOptions::default()
    };
    let store = EtcdStore::connect_with(server.endpoints(), options.clone())
        .await
        .unwrap();
    let rev = store
        .put("/k", b"v".to_vec(), PutOptions::default())
        .await
        .unwrap();

    tokio::task::block_in_place(|| server.kill()).unwrap();
    assert_eq!(server.pid(), None);
    match store.get("/k").await {
        Err(StoreError::Unavailable(_)) => {}
        other => panic!("a dead etcd must be Unavailable, got {other:?}"),
    }
    match EtcdStore::connect_with(server.endpoints(), options.clone()).await {
        Err(StoreError::Unavailable(m)) => assert!(m.contains("127.0.0.1"), "{m}"),
        other => panic!("connecting to a dead etcd must be Unavailable, got {other:?}"),
    }

    tokio::task::block_in_place(|| server.start_again()).unwrap();
    let store = EtcdStore::connect_with(server.endpoints(), options)
        .await
        .unwrap();
    assert_eq!(store.get("/k").await.unwrap().unwrap().mod_revision, rev);
    assert_eq!(store.current_revision().await.unwrap(), rev);
}

#[test]
fn missing_binary_is_a_clear_error_not_a_skip() {
    match EtcdServer::start_binary(Path::new("/nonexistent/bin/etcd")) {
        Err(e @ FixtureError::BinaryMissing(_)) => {
            let msg = e.to_string();
            assert!(
                msg.contains("/nonexistent/bin/etcd") && msg.contains("install"),
                "{msg}"
            );
        }
        other => panic!("expected BinaryMissing, got {other:?}"),
    }
}

#[test]
fn cluster_member_index_is_checked() {
    let mut cluster = EtcdCluster::start(1).unwrap();
    assert!(matches!(
        cluster.kill_member(5),
        Err(FixtureError::Misuse(_))
    ));
    assert!(
        matches!(cluster.restart_member(0), Err(FixtureError::Misuse(_))),
        "still running"
    );
    assert_eq!(cluster.wait_for_leader(DEADLINE).unwrap(), 0);
}
