//! Behaviour specific to the embedded (redb) backend: group commit, history
//! bounds that persist, lease clocks after a restart, file locking, and
//! watchers on shutdown or when they fall behind.

use contiv_core::store::{EventKind, Precondition, PutOptions, StateStore, StoreError, TxnOp};
use contiv_store::embedded::{EmbeddedOptions, EmbeddedStore};
use futures::StreamExt;
use std::time::Duration;

fn tmp() -> tempfile::TempDir {
    tempfile::tempdir().expect("temp dir")
}

/// Hundreds of txns submitted at once are answered from far fewer commits,
/// and CAS inside a batch still sees the earlier txns of that batch.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn concurrent_txns_share_commits_and_see_each_other() {
    let dir = tmp();
    let store = EmbeddedStore::open(dir.path().join("s.redb")).unwrap();
    const N: usize = 256;
    // join_all polls every future once before any completes, so all
    // requests are queued while the writer is busy with the first commit.
    let distinct = (0..N).map(|i| {
        let store = store.clone();
        async move {
            store
                .put(&format!("/gc/k{i}"), vec![1], PutOptions::absent())
                .await
        }
    });
    let results = futures::future::join_all(distinct).await;
    let mut revs: Vec<u64> = results.into_iter().map(|r| r.unwrap()).collect();
    revs.sort_unstable();
    revs.dedup();
    assert_eq!(revs.len(), N, "every successful txn has its own revision");
    assert_eq!(revs, (1..=N as u64).collect::<Vec<_>>());
    let stats = store.stats();
    assert_eq!(stats.requests, N as u64);
    assert!(
        stats.commits <= (N / 4) as u64,
        "{N} queued txns should share commits, got {stats:?}"
    );

    // Same key, same precondition, one batch: exactly one wins.
    let same = (0..N).map(|i| {
        let store = store.clone();
        async move {
            store
                .put("/gc/one", i.to_string().into_bytes(), PutOptions::absent())
                .await
        }
    });
    let results = futures::future::join_all(same).await;
    let wins = results.iter().filter(|r| r.is_ok()).count();
    assert_eq!(wins, 1);
    assert!(
        results
            .iter()
            .filter_map(|r| r.as_ref().err())
            .all(StoreError::is_conflict)
    );
}

/// Auto-compaction keeps the configured window, and the compaction point
/// survives a reopen.
#[tokio::test]
async fn history_window_is_bounded_and_persistent() {
    let dir = tmp();
    let path = dir.path().join("s.redb");
    let opts = EmbeddedOptions {
        history_revisions: 5,
        ..EmbeddedOptions::default()
    };
    let store = EmbeddedStore::open_with(&path, opts.clone()).unwrap();
    for i in 0..12u8 {
        store
            .put("/h/k", vec![i], PutOptions::default())
            .await
            .unwrap();
    }
    let expect_compacted = |r: Result<_, StoreError>| match r {
        Err(StoreError::Compacted {
            requested: 7,
            compacted: 7,
        }) => {}
        Err(e) => panic!("unexpected error {e}"),
        Ok(_) => panic!("history below the kept window must be compacted"),
    };
    expect_compacted(store.watch("/h/", Some(7)).await);
    drop(store);
    let store = EmbeddedStore::open_with(&path, opts).unwrap();
    expect_compacted(store.watch("/h/", Some(7)).await);
    let mut stream = store.watch("/h/", Some(8)).await.unwrap();
    let ev = stream.next().await.unwrap().unwrap();
    assert_eq!((ev.revision(), ev.kv.value.clone()), (8, vec![7]));
}

/// After a restart a lease gets its full TTL again (its deadline is not
/// persisted), then expires normally.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn lease_gets_full_ttl_after_reopen() {
    let dir = tmp();
    let path = dir.path().join("s.redb");
    let store = EmbeddedStore::open(&path).unwrap();
    let lease = store.grant_lease(Duration::from_secs(2)).await.unwrap();
    store
        .put(
            "/l/k",
            b"v".to_vec(),
            PutOptions {
                precondition: Precondition::Any,
                lease: Some(lease.id.clone()),
            },
        )
        .await
        .unwrap();
    drop(store);
    // Longer than the TTL while the store is closed.
    tokio::time::sleep(Duration::from_millis(2500)).await;
    let store = EmbeddedStore::open(&path).unwrap();
    let mut stream = store.watch("/l/", None).await.unwrap();
    assert!(
        store.get("/l/k").await.unwrap().is_some(),
        "the lease restarted its TTL"
    );
    assert_eq!(
        store.keep_alive(&lease.id).await.unwrap(),
        Duration::from_secs(2)
    );
    let ev = tokio::time::timeout(Duration::from_secs(20), stream.next())
        .await
        .expect("the lease expires after its TTL")
        .unwrap()
        .unwrap();
    assert_eq!((ev.kind, ev.kv.key.as_str()), (EventKind::Delete, "/l/k"));
    assert!(store.get("/l/k").await.unwrap().is_none());
}

/// A file open in this process cannot be opened twice; the error says why.
#[tokio::test]
async fn second_open_is_refused_until_the_first_is_dropped() {
    let dir = tmp();
    let path = dir.path().join("s.redb");
    let store = EmbeddedStore::open(&path).unwrap();
    let clone = store.clone();
    match EmbeddedStore::open(&path) {
        Err(StoreError::Unavailable(msg)) => assert!(msg.contains("already open"), "{msg}"),
        other => panic!("expected Unavailable, got {other:?}"),
    }
    drop(store);
    assert!(
        EmbeddedStore::open(&path).is_err(),
        "a clone still holds it"
    );
    drop(clone);
    let reopened = EmbeddedStore::open(&path).unwrap();
    assert_eq!(reopened.current_revision().await.unwrap(), 0);
}

/// Dropping the store ends its watch streams with `Closed`.
#[tokio::test]
async fn watch_ends_with_closed_when_the_store_is_dropped() {
    let dir = tmp();
    let store = EmbeddedStore::open(dir.path().join("s.redb")).unwrap();
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

/// A watcher that falls further behind than the live buffer gets an error
/// naming the revision to resume from, and resuming there loses nothing.
#[tokio::test]
async fn lagging_watcher_is_told_where_to_resume() {
    let dir = tmp();
    let store = EmbeddedStore::open_with(
        dir.path().join("s.redb"),
        EmbeddedOptions {
            watch_buffer: 2,
            ..EmbeddedOptions::default()
        },
    )
    .unwrap();
    let mut stream = store.watch("/lag/", None).await.unwrap();
    for i in 0..10u8 {
        store
            .put("/lag/k", vec![i], PutOptions::default())
            .await
            .unwrap();
    }
    let mut seen = Vec::new();
    let resume = loop {
        match stream
            .next()
            .await
            .expect("stream ends with an error, not silently")
        {
            Ok(ev) => seen.push(ev.revision()),
            Err(StoreError::Unavailable(msg)) => {
                let rev: u64 = msg
                    .rsplit(' ')
                    .next()
                    .and_then(|s| s.parse().ok())
                    .unwrap_or_else(|| panic!("no revision in {msg:?}"));
                break rev;
            }
            Err(e) => panic!("unexpected error {e}"),
        }
    };
    assert!(stream.next().await.is_none(), "an error ends the stream");
    assert_eq!(resume, seen.last().map_or(1, |r| r + 1));
    let mut stream = store.watch("/lag/", Some(resume)).await.unwrap();
    for rev in resume..=10 {
        seen.push(stream.next().await.unwrap().unwrap().revision());
        assert_eq!(seen.last(), Some(&rev));
    }
    assert_eq!(seen, (1..=10).collect::<Vec<_>>());
}

/// A txn whose value is fine but which names a lease of another store
/// format (not a number) is `LeaseNotFound`, and nothing is written.
#[tokio::test]
async fn malformed_lease_id_in_txn() {
    let dir = tmp();
    let store = EmbeddedStore::open(dir.path().join("s.redb")).unwrap();
    let r = store
        .txn(vec![
            TxnOp::put("/m/a", vec![]),
            TxnOp::Put {
                key: "/m/b".into(),
                value: vec![],
                precondition: Precondition::Any,
                lease: Some(contiv_core::store::LeaseId("abc".into())),
            },
        ])
        .await;
    assert!(matches!(r, Err(StoreError::LeaseNotFound(_))), "{r:?}");
    assert!(store.get("/m/a").await.unwrap().is_none());
}

/// Issue 12 point 8: the store file holds the whole cluster's state; it is
/// created owner-only (0600) and its new directories 0700, even under a
/// permissive umask (it was 0644 under umask 022).
#[tokio::test]
async fn a_new_store_file_is_private() {
    use std::os::unix::fs::PermissionsExt;
    let dir = tmp();
    let path = dir.path().join("new/sub/state.redb");
    // SAFETY: umask(2) only changes this process's file-creation mask.
    let old = unsafe { libc::umask(0o000) };
    let store = EmbeddedStore::open(&path);
    // SAFETY: as above; restores the previous mask.
    unsafe { libc::umask(old) };
    let store = store.expect("open");
    let mode =
        |p: &std::path::Path| std::fs::metadata(p).expect("stat").permissions().mode() & 0o777;
    assert_eq!(mode(&path), 0o600, "store file mode");
    assert_eq!(
        mode(&dir.path().join("new/sub")),
        0o700,
        "new directory mode"
    );
    assert_eq!(mode(&dir.path().join("new")), 0o700, "new directory mode");
    store
        .put("/k", b"v".to_vec(), PutOptions::default())
        .await
        .expect("put");
    drop(store);
    // Reopening keeps working (an existing file is opened, not recreated).
    let again = EmbeddedStore::open(&path).expect("reopen");
    assert_eq!(
        again.get("/k").await.expect("get").expect("kept").value,
        b"v"
    );
}
