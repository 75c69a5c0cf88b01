//! The conformance suite against [`MemoryStore`].

use contiv_store::memory::{MemoryOptions, MemoryStore};
use contiv_store::testing::TestStore;
use contiv_store::testing::conformance;
use std::sync::Arc;

async fn fresh() -> TestStore {
    TestStore::new(Arc::new(MemoryStore::new()))
}

contiv_store::conformance_tests!(fresh = fresh);

/// `run_all` drives every case by name (what other backends' crates use).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn run_all_cases_by_name() {
    conformance::run_all(fresh).await;
}

/// History beyond `history_revisions` is compacted automatically.
#[tokio::test]
async fn history_is_bounded() {
    use contiv_core::store::{PutOptions, StateStore, StoreError};
    let store = MemoryStore::with_options(MemoryOptions {
        history_revisions: 5,
        ..MemoryOptions::default()
    });
    for i in 0..12u8 {
        store
            .put("/h/k", vec![i], PutOptions::default())
            .await
            .unwrap();
    }
    match store.watch("/h/", Some(7)).await {
        Err(StoreError::Compacted {
            requested: 7,
            compacted: 7,
        }) => {}
        Err(e) => panic!("unexpected error {e}"),
        Ok(_) => panic!("history below the kept window must be compacted"),
    }
    assert!(store.watch("/h/", Some(8)).await.is_ok());
}

/// Dropping the last handle ends its watch streams with `Closed`.
#[tokio::test]
async fn watch_ends_with_closed_when_the_store_is_dropped() {
    use contiv_core::store::{PutOptions, StateStore, StoreError};
    use futures::StreamExt;
    let store = MemoryStore::new();
    let mut stream = store.watch("/", None).await.unwrap();
    store
        .put("/x", vec![], PutOptions::default())
        .await
        .unwrap();
    drop(store);
    assert_eq!(stream.next().await.unwrap().unwrap().kv.key, "/x");
    assert_eq!(stream.next().await.unwrap(), Err(StoreError::Closed));
    assert!(stream.next().await.is_none());
}
