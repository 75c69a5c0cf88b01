//! `open_store` opens every backend from its URL.

use contiv_core::store::{PutOptions, StateStore, StoreError};
use contiv_store::open_store;
use contiv_store::testing::EtcdServer;
use std::sync::Arc;

async fn roundtrip(store: Arc<dyn StateStore>) {
    let rev = store
        .put("/open/k", b"v".to_vec(), PutOptions::default())
        .await
        .expect("put through the opened store");
    let kv = store
        .get("/open/k")
        .await
        .expect("get")
        .expect("the key just written");
    assert_eq!((kv.value.as_slice(), kv.mod_revision), (&b"v"[..], rev));
}

#[tokio::test]
async fn memory_url() {
    let store = open_store("memory:").await.unwrap();
    assert_eq!(store.backend_name(), "memory");
    roundtrip(store).await;
}

#[tokio::test]
async fn embedded_url_persists() {
    let dir = tempfile::tempdir().expect("temp dir");
    let url = format!("embedded:{}", dir.path().join("s.redb").display());
    let store = open_store(&url).await.unwrap();
    assert_eq!(store.backend_name(), "embedded");
    roundtrip(store).await;
    let store = open_store(&url).await.unwrap();
    assert!(store.get("/open/k").await.unwrap().is_some());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn etcd_and_http_urls() {
    let server = tokio::task::block_in_place(EtcdServer::start).unwrap();
    let store = open_store(&server.store_url()).await.unwrap();
    assert_eq!(store.backend_name(), "etcd");
    roundtrip(store).await;
    let http = format!("http://{}", server.endpoints()[0]);
    let store = open_store(&http).await.unwrap();
    assert!(store.get("/open/k").await.unwrap().is_some());
}

#[tokio::test]
async fn bad_urls_are_invalid_arguments() {
    for url in ["", "redis://x:1", "embedded:", "etcd://nohost"] {
        let err = open_store(url).await.err().expect("must fail");
        assert!(
            matches!(err, StoreError::InvalidArgument(_)),
            "{url}: {err:?}"
        );
    }
}
