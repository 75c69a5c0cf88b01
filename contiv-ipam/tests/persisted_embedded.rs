//! The persisted allocators on the durable embedded (redb) store.

#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use common::hammer;
use contiv_core::store::StateStore;
use contiv_ipam::{IdPool, IdRanges, Ipam, Ipv4Pool, Ipv4Spec, Resource};
use contiv_store::embedded::EmbeddedStore;
use std::net::Ipv4Addr;
use std::sync::Arc;

/// 8 tasks on each of 2 `Ipam`s (separate caches, as two processes would
/// have; redb allows one open handle per file, so both share it) hammer one
/// network: no duplicates, and the stored pool equals the live set.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn concurrent_allocators_on_the_embedded_store_never_duplicate() {
    let dir = tempfile::tempdir().unwrap();
    let store: Arc<dyn StateStore> =
        Arc::new(EmbeddedStore::open(dir.path().join("state.redb")).unwrap());
    let (_, lost) = hammer(vec![store.clone(), store], "t:hammer", 8, 30).await;
    // The two handles really raced (and the losers retried correctly).
    assert!(lost > 0, "no compare-and-swap race happened");
}

/// Allocations survive a restart of the store (close and reopen the file),
/// and allocation continues lowest-first from the persisted state.
#[tokio::test]
async fn allocations_survive_a_restart() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("state.redb");
    {
        let store: Arc<dyn StateStore> = Arc::new(EmbeddedStore::open(&path).unwrap());
        let ipam = Ipam::new(store);
        let net = ipam.network_v4("t:n");
        net.create(
            Ipv4Pool::new(
                Ipv4Spec::parse("10.1.1.0/24").unwrap(),
                Some("10.1.1.254".parse().unwrap()),
            )
            .unwrap(),
        )
        .await
        .unwrap();
        for _ in 0..3 {
            net.allocate(None).await.unwrap();
        }
        net.release("10.1.1.2".parse().unwrap()).await.unwrap();
        let epg = ipam.epg_ids();
        epg.create(
            IdPool::new(
                Resource::EpgId,
                IdRanges::new(Resource::EpgId, &[(1, 65535)]).unwrap(),
            )
            .unwrap(),
        )
        .await
        .unwrap();
        assert_eq!(epg.allocate(None).await.unwrap(), 1);
    }
    let store: Arc<dyn StateStore> = Arc::new(EmbeddedStore::open(&path).unwrap());
    let ipam = Ipam::new(store);
    let net = ipam.network_v4("t:n");
    assert_eq!(
        net.read(|p| p.allocated_summary()).await.unwrap(),
        "10.1.1.1, 10.1.1.3, 10.1.1.254"
    );
    assert_eq!(
        net.allocate(None).await.unwrap(),
        "10.1.1.2".parse::<Ipv4Addr>().unwrap()
    );
    // EPG ids continue after a restart instead of starting at 1 again.
    assert_eq!(ipam.epg_ids().allocate(None).await.unwrap(), 2);
}
