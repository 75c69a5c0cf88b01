//! The persisted allocators on a real etcd (started by the test on free
//! loopback ports in a temporary directory, stopped when dropped). A
//! missing `etcd` binary fails the test.

#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use common::{Counting, hammer};
use contiv_core::store::StateStore;
use contiv_ipam::{Ipam, IpamError, Ipv4Pool, Ipv4Spec};
use contiv_store::etcd::EtcdStore;
use contiv_store::testing::EtcdServer;
use std::sync::Arc;
use std::sync::atomic::Ordering;

async fn client(server: &EtcdServer) -> Arc<dyn StateStore> {
    Arc::new(EtcdStore::connect(server.endpoints()).await.unwrap())
}

/// 8 tasks on each of 2 etcd clients (two connections, two caches) hammer
/// one network: no duplicates, and the stored pool equals the live set.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn concurrent_allocators_on_etcd_never_duplicate() {
    let server = EtcdServer::start().unwrap();
    let a = client(&server).await;
    let b = client(&server).await;
    let (_, lost) = hammer(vec![a, b], "t:hammer", 8, 30).await;
    // The two handles really raced (and the losers retried correctly).
    assert!(lost > 0, "no compare-and-swap race happened");
}

/// One etcd round trip per uncontended allocation, and a stale cache is
/// caught by etcd's compare on the key's mod revision.
#[tokio::test]
async fn one_round_trip_per_allocation_and_cas_on_etcd() {
    let server = EtcdServer::start().unwrap();
    let counting = Counting::new(client(&server).await);
    let ipam = Ipam::new(counting.clone());
    let net = ipam.network_v4("t:n");
    net.create(Ipv4Pool::new(Ipv4Spec::parse("10.20.0.0/16").unwrap(), None).unwrap())
        .await
        .unwrap();
    let before = counting.round_trips();
    for _ in 0..50 {
        net.allocate(None).await.unwrap();
    }
    assert_eq!(counting.round_trips() - before, 50);
    // A second client allocates behind the first one's back.
    let other = Ipam::new(client(&server).await);
    assert_eq!(
        other
            .network_v4("t:n")
            .allocate(None)
            .await
            .unwrap()
            .to_string(),
        "10.20.0.51"
    );
    let before = counting.txns.load(Ordering::SeqCst);
    assert_eq!(net.allocate(None).await.unwrap().to_string(), "10.20.0.52");
    // The stale attempt lost its compare, the state was re-read, and the
    // second attempt won.
    assert_eq!(counting.txns.load(Ordering::SeqCst) - before, 2);
    // Typed errors come through etcd as well.
    let e = net
        .allocate(Some("10.20.0.52".parse().unwrap()))
        .await
        .unwrap_err();
    assert!(matches!(e, IpamError::AlreadyTaken { .. }), "{e}");
}
