//! What the Consul backend adds beyond the shared conformance suite:
//! failover across agents (watches included), the ACL token, HTTPS with a
//! private CA, leases reaped by another store after their session expired,
//! size limits enforced before anything is sent, foreign data reported, and
//! `open_store` with `consul://` URLs — all on the Consul test server.

use contiv_core::store::{EventKind, PutOptions, StateStore, StoreError};
use contiv_store::consul::client::{Client, ClientConfig};
use contiv_store::consul::{ConsulOptions, ConsulStore, MAX_VALUE_BYTES, api};
use contiv_store::testing::conformance::next_event;
use contiv_store::testing::{ConsulServerConfig, ConsulTestServer};
use std::time::Duration;

async fn store_on(addresses: Vec<String>) -> ConsulStore {
    let mut options = ConsulOptions::new(addresses);
    options.min_lease_ttl = Duration::from_secs(1);
    ConsulStore::connect(options).await.expect("connect")
}

fn short_ttl_server() -> ConsulTestServer {
    ConsulTestServer::start_with(ConsulServerConfig {
        session_ttl_min: Duration::from_secs(1),
        ..ConsulServerConfig::default()
    })
    .expect("start the Consul test server")
}

async fn put(store: &ConsulStore, key: &str, value: &str) -> u64 {
    store
        .put(key, value.as_bytes().to_vec(), PutOptions::default())
        .await
        .unwrap_or_else(|e| panic!("put {key}: {e}"))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn failover_between_agents_keeps_writes_and_watches_going() {
    let mut server = short_ttl_server();
    server.add_agent().expect("second agent");
    let store = store_on(server.addresses()).await;
    let mut stream = store.watch("/fo/", None).await.expect("watch");
    let mut revs = vec![put(&store, "/fo/0", "a").await];
    // The first agent goes away: its port refuses, its connections close.
    server.stop_agent(0);
    for i in 1..5 {
        revs.push(put(&store, &format!("/fo/{i}"), "b").await);
    }
    // Back on the first one.
    server.start_agent(0).expect("restart agent 0");
    server.stop_agent(1);
    for i in 5..8 {
        revs.push(put(&store, &format!("/fo/{i}"), "c").await);
    }
    let mut seen = Vec::new();
    for _ in 0..revs.len() {
        seen.push(next_event(&mut stream).await.revision());
    }
    assert_eq!(
        seen, revs,
        "the watch delivered every write across failovers"
    );
    // No agent: a clear Unavailable, not a hang.
    server.stop_agent(0);
    let err = store.get("/fo/0").await.expect_err("no agent answers");
    assert!(matches!(err, StoreError::Unavailable(_)), "{err:?}");
    server.start_agent(1).expect("restart agent 1");
    assert!(store.get("/fo/7").await.expect("get").is_some());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn acl_token_is_required_and_sent() {
    let server = ConsulTestServer::start_with(ConsulServerConfig {
        acl_token: Some("s3cret".into()),
        ..ConsulServerConfig::default()
    })
    .expect("start");
    let err = ConsulStore::connect(ConsulOptions::new(server.addresses()))
        .await
        .expect_err("no token");
    assert!(
        matches!(&err, StoreError::Backend(m) if m.contains("permission denied") && m.contains("ACL token")),
        "{err:?}"
    );
    let mut options = ConsulOptions::new(server.addresses());
    options.token = Some("s3cret".into());
    let store = ConsulStore::connect(options).await.expect("with the token");
    let rev = put(&store, "/acl/k", "v").await;
    assert_eq!(
        store.get("/acl/k").await.unwrap().unwrap().mod_revision,
        rev
    );
    let lease = store.grant_lease(Duration::from_secs(10)).await.unwrap();
    store.revoke_lease(&lease.id).await.unwrap();
}

fn openssl(dir: &std::path::Path, args: &[&str]) {
    let out = std::process::Command::new("openssl")
        .current_dir(dir)
        .args(args)
        .output()
        .expect("run openssl (make deps installs it)");
    assert!(
        out.status.success(),
        "openssl {args:?}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
}

/// A private CA and a certificate for 127.0.0.1 it signed, made with the
/// openssl CLI: (CA file, certificate, key).
fn certificates(
    dir: &std::path::Path,
) -> (std::path::PathBuf, std::path::PathBuf, std::path::PathBuf) {
    let ec = [
        "-newkey",
        "ec",
        "-pkeyopt",
        "ec_paramgen_curve:P-256",
        "-nodes",
    ];
    let mut ca = vec!["req", "-x509", "-days", "1", "-subj", "/CN=test-ca"];
    ca.extend(ec);
    ca.extend(["-keyout", "ca.key", "-out", "ca.pem"]);
    openssl(dir, &ca);
    let mut csr = vec!["req", "-new", "-subj", "/CN=consul-test"];
    csr.extend(ec);
    csr.extend(["-keyout", "agent.key", "-out", "agent.csr"]);
    openssl(dir, &csr);
    std::fs::write(dir.join("ext.cnf"), "subjectAltName=IP:127.0.0.1\n").expect("write ext.cnf");
    openssl(
        dir,
        &[
            "x509",
            "-req",
            "-in",
            "agent.csr",
            "-CA",
            "ca.pem",
            "-CAkey",
            "ca.key",
            "-CAcreateserial",
            "-days",
            "1",
            "-extfile",
            "ext.cnf",
            "-out",
            "agent.pem",
        ],
    );
    (
        dir.join("ca.pem"),
        dir.join("agent.pem"),
        dir.join("agent.key"),
    )
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn https_with_a_private_ca() {
    let dir = tempfile::tempdir().unwrap();
    let (ca, cert, key) = certificates(dir.path());
    let server = ConsulTestServer::start_with(ConsulServerConfig {
        tls: Some((cert, key)),
        ..ConsulServerConfig::default()
    })
    .expect("start with TLS");
    assert!(server.store_url().starts_with("consuls://"));
    let mut options = ConsulOptions::new(server.addresses());
    options.tls = true;
    let err = ConsulStore::connect(options.clone())
        .await
        .expect_err("HTTPS needs a CA file");
    assert!(matches!(&err, StoreError::InvalidArgument(m) if m.contains("CONSUL_CACERT")));
    options.ca_file = Some(ca);
    let store = ConsulStore::connect(options).await.expect("HTTPS");
    let rev = put(&store, "/tls/k", "v").await;
    assert_eq!(
        store.get("/tls/k").await.unwrap().unwrap().mod_revision,
        rev
    );
    // Plain HTTP to the HTTPS agent fails clearly.
    let plain = ConsulStore::connect(ConsulOptions::new(server.addresses())).await;
    assert!(plain.is_err());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn another_store_reaps_a_lease_whose_session_expired() {
    let server = short_ttl_server();
    let owner = store_on(server.addresses()).await;
    let observer = store_on(server.addresses()).await;
    let lease = owner.grant_lease(Duration::from_secs(1)).await.unwrap();
    assert_eq!(lease.ttl, Duration::from_secs(1));
    for key in ["/reap/a", "/reap/b"] {
        owner
            .put(
                key,
                b"v".to_vec(),
                PutOptions {
                    lease: Some(lease.id.clone()),
                    ..PutOptions::default()
                },
            )
            .await
            .unwrap();
    }
    put(&owner, "/reap/plain", "v").await;
    let mut stream = observer.watch("/reap/", None).await.unwrap();
    // The owner dies without revoking: nobody renews the session.
    drop(owner);
    let a = next_event(&mut stream).await;
    let b = next_event(&mut stream).await;
    assert_eq!((a.kind, b.kind), (EventKind::Delete, EventKind::Delete));
    assert_eq!(
        a.revision(),
        b.revision(),
        "a lease's keys go in one revision"
    );
    let mut keys = [a.kv.key, b.kv.key];
    keys.sort();
    assert_eq!(keys, ["/reap/a".to_owned(), "/reap/b".to_owned()]);
    assert!(observer.get("/reap/a").await.unwrap().is_none());
    assert!(observer.get("/reap/plain").await.unwrap().is_some());
    assert!(matches!(
        observer.keep_alive(&lease.id).await,
        Err(StoreError::LeaseNotFound(_))
    ));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn limits_are_enforced_before_anything_is_sent() {
    let server = short_ttl_server();
    let store = store_on(server.addresses()).await;
    let limits = store.limits();
    assert_eq!(limits.max_value_bytes, MAX_VALUE_BYTES);
    assert_eq!(limits.lease_expiry_factor, 2);
    assert_eq!(limits.min_lease_ttl, Duration::from_secs(1));
    let before = server.index();
    let err = store
        .put("/big", vec![0; MAX_VALUE_BYTES + 1], PutOptions::default())
        .await
        .unwrap_err();
    assert!(
        matches!(&err, StoreError::InvalidArgument(m) if m.contains("at most")),
        "{err}"
    );
    let half = vec![1u8; MAX_VALUE_BYTES / 2 + 1];
    let err = store
        .txn(vec![
            contiv_core::store::TxnOp::put("/big/a", half.clone()),
            contiv_core::store::TxnOp::put("/big/b", half),
        ])
        .await
        .unwrap_err();
    assert!(
        matches!(&err, StoreError::InvalidArgument(m) if m.contains("split")),
        "{err}"
    );
    assert_eq!(server.index(), before, "nothing reached Consul");
    // The largest value fits through Consul's 512 KiB request limit.
    store
        .put(
            "/big/max",
            vec![0xAB; MAX_VALUE_BYTES],
            PutOptions::default(),
        )
        .await
        .expect("a value of MAX_VALUE_BYTES");
    // A lease below the declared minimum is rounded up.
    let mut options = ConsulOptions::new(server.addresses());
    options.min_lease_ttl = Duration::from_secs(10);
    let strict = ConsulStore::connect(options).await.unwrap();
    let lease = strict
        .grant_lease(Duration::from_millis(300))
        .await
        .unwrap();
    assert_eq!(lease.ttl, Duration::from_secs(10));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn foreign_data_under_the_prefix_is_reported() {
    let server = short_ttl_server();
    let store = store_on(server.addresses()).await;
    let raw = Client::new(&ClientConfig {
        addresses: server.addresses(),
        tls: false,
        ca_file: None,
        client_cert: None,
        token: None,
        connect_timeout: Duration::from_secs(2),
        request_timeout: Duration::from_secs(5),
    })
    .unwrap();
    let op = api::TxnOp::from(api::KvOp::set("contiv-store/data/x", b"plain".to_vec(), 0));
    raw.txn(&[op]).await.expect("raw write");
    let err = store.get("/x").await.unwrap_err();
    assert!(
        matches!(&err, StoreError::Backend(m) if m.contains("not written by contiv-store")),
        "{err}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn open_store_takes_consul_urls() {
    let mut server = short_ttl_server();
    server.add_agent().unwrap();
    let url = server.store_url();
    assert_eq!(url.matches(',').count(), 1, "{url}");
    let store = contiv_store::open_store(&url).await.expect("open");
    assert_eq!(store.backend_name(), "consul");
    let rev = store
        .put("/open/k", b"v".to_vec(), PutOptions::default())
        .await
        .unwrap();
    assert_eq!(store.current_revision().await.unwrap(), rev);
    let Err(err) = contiv_store::open_store("consul://127.0.0.1:1").await else {
        panic!("nothing listens on port 1");
    };
    assert!(matches!(err, StoreError::Unavailable(_)), "{err:?}");
}
