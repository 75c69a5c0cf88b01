//! `copy::copy` moves a store through every backend — memory → embedded →
//! etcd → Consul — with values, without lease-bound keys, refusing a
//! non-empty destination (unless overwriting) and values the destination
//! cannot hold, before anything is written.

use contiv_core::store::{PutOptions, StateStore, StoreError};
use contiv_store::consul::{ConsulOptions, ConsulStore, MAX_VALUE_BYTES};
use contiv_store::copy::{CopyOptions, copy};
use contiv_store::embedded::EmbeddedStore;
use contiv_store::etcd::EtcdStore;
use contiv_store::memory::MemoryStore;
use contiv_store::testing::{ConsulTestServer, EtcdServer};
use std::collections::BTreeMap;
use std::time::Duration;

async fn contents(store: &dyn StateStore, prefix: &str) -> BTreeMap<String, Vec<u8>> {
    store
        .list(prefix)
        .await
        .expect("list")
        .kvs
        .into_iter()
        .map(|kv| (kv.key, kv.value))
        .collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn copies_through_every_backend() {
    let src = MemoryStore::new();
    let mut expected = BTreeMap::new();
    for i in 0..150u32 {
        let key = format!("/contiv/v1/obj/network/t:n{i:03}");
        let value = format!("{{\"n\":{i}}}").into_bytes();
        src.put(&key, value.clone(), PutOptions::default())
            .await
            .unwrap();
        expected.insert(key, value);
    }
    let big = vec![9u8; 100 * 1024];
    src.put(
        "/contiv/v1/alloc/ipv4/t:n",
        big.clone(),
        PutOptions::default(),
    )
    .await
    .unwrap();
    expected.insert("/contiv/v1/alloc/ipv4/t:n".into(), big);
    src.put("/other/app", b"x".to_vec(), PutOptions::default())
        .await
        .unwrap();
    let lease = src.grant_lease(Duration::from_secs(60)).await.unwrap();
    src.put(
        "/contiv/v1/leader",
        b"http://nm1".to_vec(),
        PutOptions {
            lease: Some(lease.id),
            ..PutOptions::default()
        },
    )
    .await
    .unwrap();
    let opts = CopyOptions {
        prefix: "/contiv/v1/".into(),
        overwrite: false,
    };

    let dir = tempfile::tempdir().unwrap();
    let embedded = EmbeddedStore::open(dir.path().join("s.redb")).unwrap();
    let r = copy(&src, &embedded, &opts)
        .await
        .expect("memory -> embedded");
    assert_eq!((r.copied, r.skipped_leased), (151, 1));
    assert!(r.transactions >= 3, "64 ops per transaction at most");
    assert_eq!(contents(&embedded, "").await, expected);

    let etcd_server = tokio::task::block_in_place(EtcdServer::start).expect("etcd");
    let etcd = EtcdStore::connect(etcd_server.endpoints()).await.unwrap();
    copy(&embedded, &etcd, &opts)
        .await
        .expect("embedded -> etcd");
    assert_eq!(contents(&etcd, "/contiv/v1/").await, expected);

    let consul_server = ConsulTestServer::start().expect("consul test server");
    let consul = ConsulStore::connect(ConsulOptions::new(consul_server.addresses()))
        .await
        .unwrap();
    let r = copy(&etcd, &consul, &opts).await.expect("etcd -> consul");
    assert_eq!(r.copied, 151);
    assert_eq!(contents(&consul, "").await, expected);

    // A second copy into a non-empty destination is refused…
    let err = copy(&etcd, &consul, &opts).await.unwrap_err();
    assert!(
        matches!(&err, StoreError::InvalidArgument(m) if m.contains("--overwrite")),
        "{err}"
    );
    // …unless overwriting.
    copy(
        &etcd,
        &consul,
        &CopyOptions {
            overwrite: true,
            ..opts.clone()
        },
    )
    .await
    .expect("overwrite");
    assert_eq!(contents(&consul, "").await, expected);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_value_the_destination_cannot_hold_stops_the_copy_before_writing() {
    let src = MemoryStore::new();
    src.put("/contiv/v1/a", b"small".to_vec(), PutOptions::default())
        .await
        .unwrap();
    src.put(
        "/contiv/v1/b",
        vec![0; MAX_VALUE_BYTES + 1],
        PutOptions::default(),
    )
    .await
    .unwrap();
    let server = ConsulTestServer::start().expect("consul test server");
    let consul = ConsulStore::connect(ConsulOptions::new(server.addresses()))
        .await
        .unwrap();
    let err = copy(
        &src,
        &consul,
        &CopyOptions {
            prefix: "/contiv/v1/".into(),
            overwrite: false,
        },
    )
    .await
    .unwrap_err();
    assert!(
        matches!(&err, StoreError::InvalidArgument(m) if m.contains("nothing was copied")),
        "{err}"
    );
    assert!(contents(&consul, "").await.is_empty());
}
