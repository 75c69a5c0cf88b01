//! The vanished-node cleanup across a leader change: the grace period is
//! measured from when the first leader saw the host gone, not restarted by
//! each new leader (a dead host's addresses were otherwise kept for as long
//! as leaders kept changing). Two in-process netmasters share one store;
//! the second plays the leader that takes over.

use contiv_bins::api::EndpointRequest;
use contiv_bins::api::NodeRegistration;
use contiv_bins::netmaster::collections::Collection;
use contiv_bins::netmaster::leader::Election;
use contiv_bins::netmaster::{Netmaster, RuntimeSettings};
use contiv_core::records::NodeRecord;
use contiv_core::store::StateStore;
use contiv_core::store::keys::Keys;
use contiv_store::memory::MemoryStore;
use std::sync::Arc;
use std::time::Duration;

const GRACE: Duration = Duration::from_millis(1500);

async fn netmaster(store: &Arc<dyn StateStore>, name: &str) -> Arc<Netmaster> {
    let keys = Keys::default();
    let settings = RuntimeSettings {
        node_gc_grace: GRACE,
        node_ttl: Duration::from_secs(30),
        ..RuntimeSettings::default()
    };
    let election = Election::single(keys.leader(), format!("http://{name}"));
    let nm = Netmaster::new(store.clone(), keys, settings, election)
        .await
        .expect("netmaster");
    nm.initialize().await.expect("initialize");
    nm
}

/// Registers `host` and waits until the netmaster's cache has it (the
/// cleanup judges by the cache).
async fn register(nm: &Netmaster, host: &str, vtep: &str) {
    let reg = NodeRegistration {
        node: NodeRecord {
            hostname: host.into(),
            vtep_ip: vtep.parse().expect("a VTEP address"),
            vxlan_port: 4789,
            ctrl_addr: String::new(),
            version: String::new(),
            capabilities: None,
        },
    };
    nm.register_node(host, reg).await.expect("register");
    for _ in 0..200 {
        if nm.cache().read().nodes.contains_key(host) {
            return;
        }
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    panic!("the cache never saw node {host}");
}

fn endpoint(id: &str, host: &str) -> EndpointRequest {
    EndpointRequest {
        id: id.into(),
        network: "n1".into(),
        host: host.into(),
        ..EndpointRequest::default()
    }
}

fn endpoint_ids(nm: &Netmaster) -> Vec<String> {
    let mut ids: Vec<String> = nm
        .cache()
        .read()
        .endpoints
        .values()
        .map(|e| e.id.clone())
        .collect();
    ids.sort();
    ids
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_new_leader_continues_the_grace_period_of_a_vanished_host() {
    let store: Arc<dyn StateStore> = Arc::new(MemoryStore::new());
    let first = netmaster(&store, "nm1").await;
    first
        .upsert(
            Collection::Networks,
            "default:n1",
            br#"{"tenantName":"default","networkName":"n1","encap":"vxlan","subnet":"10.1.1.0/24","gateway":"10.1.1.254"}"#,
        )
        .await
        .expect("network");
    // `ghost` never registers (or its lease is long gone); `alive` has a
    // node record.
    register(&first, "alive", "192.0.2.2").await;
    first
        .create_endpoint(endpoint("g1", "ghost"))
        .await
        .unwrap();
    first
        .create_endpoint(endpoint("a1", "alive"))
        .await
        .unwrap();

    // The first leader notices the ghost and keeps its endpoint.
    assert_eq!(first.gc_vanished().await.endpoints, 0);
    assert_eq!(endpoint_ids(&first), ["a1", "g1"]);
    tokio::time::sleep(GRACE + Duration::from_millis(200)).await;

    // A different netmaster takes over after the grace period has run out:
    // its very first pass releases the ghost's endpoint (a leader that
    // started the clock afresh would wait another grace period).
    first.shutdown();
    drop(first);
    let second = netmaster(&store, "nm2").await;
    let report = second.gc_vanished().await;
    assert_eq!(report.endpoints, 1, "{report:?}");
    assert_eq!(endpoint_ids(&second), ["a1"]);
    let summary = second
        .inspect(Collection::Networks, "default:n1")
        .await
        .expect("inspect");
    assert_eq!(
        summary["Oper"]["allocatedIPAddresses"], "10.1.1.2, 10.1.1.254",
        "the ghost's address is released: {summary}"
    );

    // Nothing is absent any more: the next pass empties the record, so a
    // host that vanishes later gets a full grace period of its own.
    assert_eq!(second.gc_vanished().await.endpoints, 0);
    let record = store
        .get(&Keys::default().state("node-absence"))
        .await
        .unwrap()
        .expect("absence record");
    let record: serde_json::Value = serde_json::from_slice(&record.value).unwrap();
    assert_eq!(record, serde_json::json!({"sinceMs": {}}));
    second
        .create_endpoint(endpoint("g2", "ghost"))
        .await
        .unwrap();
    assert_eq!(second.gc_vanished().await.endpoints, 0);
    assert_eq!(endpoint_ids(&second), ["a1", "g2"]);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_host_that_comes_back_starts_a_fresh_grace_period_next_time() {
    let store: Arc<dyn StateStore> = Arc::new(MemoryStore::new());
    let nm = netmaster(&store, "nm1").await;
    nm.upsert(
        Collection::Networks,
        "default:n1",
        br#"{"tenantName":"default","networkName":"n1","encap":"vxlan","subnet":"10.1.1.0/24"}"#,
    )
    .await
    .expect("network");
    nm.create_endpoint(endpoint("e1", "h1")).await.unwrap();
    assert_eq!(
        nm.gc_vanished().await.endpoints,
        0,
        "h1 is absent: clock starts"
    );
    tokio::time::sleep(GRACE / 2).await;

    // h1 registers: it is no longer absent and the clock is dropped.
    register(&nm, "h1", "192.0.2.1").await;
    assert_eq!(nm.gc_vanished().await.endpoints, 0);
    nm.deregister_node("h1").await.expect("deregister");

    // Gone again: more than the grace period after the first absence
    // started, but the new absence is younger than it.
    tokio::time::sleep(GRACE / 2 + Duration::from_millis(200)).await;
    assert_eq!(nm.gc_vanished().await.endpoints, 0, "fresh grace period");
    assert_eq!(endpoint_ids(&nm), ["e1"]);
    tokio::time::sleep(GRACE).await;
    assert_eq!(nm.gc_vanished().await.endpoints, 1);
    assert!(endpoint_ids(&nm).is_empty());
}
