//! The conformance suite: the behaviour of the
//! [`StateStore`] contract, checked the same way against every backend.
//!
//! Each case is a public async function taking a fresh, empty store; it
//! panics (like an `assert!`) on any deviation. Cases make no assumption
//! about absolute revision numbers (etcd starts at 1, our stores at 0) —
//! only about their order and sharing. Waits are bounded by a generous
//! [`WAIT`] so a hang fails instead of blocking the test run; nothing here
//! measures speed.
//!
//! Use [`conformance_tests!`](crate::conformance_tests) to get one
//! `#[tokio::test]` per case, or [`run_all`] to run every case in one test.

use super::{RestartHarness, TestStore};
use contiv_core::store::{
    EventKind, KeyValue, LeaseId, MAX_TXN_OPS, OpOutcome, Precondition, PutOptions, Revision,
    StateStore, StoreError, TxnOp, WatchEvent, WatchStream,
};
use futures::StreamExt;
use std::collections::BTreeSet;
use std::future::Future;
use std::sync::Arc;
use std::time::Duration;

/// The longest any case waits for an expected event before failing.
pub const WAIT: Duration = Duration::from_secs(20);

/// Every case that needs only a fresh store, by name.
pub const CASES: &[&str] = &[
    "get_put_delete",
    "put_preconditions",
    "delete_preconditions",
    "cas_race_single_winner",
    "cas_counter_no_lost_updates",
    "txn_all_or_nothing",
    "txn_shared_revision_and_outcomes",
    "txn_without_changes_creates_no_revision",
    "txn_rejects_duplicate_writes",
    "txn_max_ops",
    "list_sorted_with_revision",
    "prefix_isolation",
    "large_values",
    "watch_events_in_order",
    "watch_from_none_sees_only_later",
    "watch_resume_without_gap",
    "watch_seam_under_concurrent_writes",
    "watch_compacted",
    "compact_rejects_future_revision",
    "lease_expiry_deletes_keys",
    "lease_keep_alive_extends",
    "lease_revoke_and_unknown",
    "lease_rebinding",
    "lease_survives_a_check",
];

/// Runs the case called `name` (one of [`CASES`]) against `store`.
///
/// # Panics
/// On a deviation from the contract, or if `name` is not a case.
pub async fn run_case(name: &str, store: Arc<dyn StateStore>) {
    match name {
        "get_put_delete" => get_put_delete(store).await,
        "put_preconditions" => put_preconditions(store).await,
        "delete_preconditions" => delete_preconditions(store).await,
        "cas_race_single_winner" => cas_race_single_winner(store).await,
        "cas_counter_no_lost_updates" => cas_counter_no_lost_updates(store).await,
        "txn_all_or_nothing" => txn_all_or_nothing(store).await,
        "txn_shared_revision_and_outcomes" => txn_shared_revision_and_outcomes(store).await,
        "txn_without_changes_creates_no_revision" => {
            txn_without_changes_creates_no_revision(store).await
        }
        "txn_rejects_duplicate_writes" => txn_rejects_duplicate_writes(store).await,
        "txn_max_ops" => txn_max_ops(store).await,
        "list_sorted_with_revision" => list_sorted_with_revision(store).await,
        "prefix_isolation" => prefix_isolation(store).await,
        "large_values" => large_values(store).await,
        "watch_events_in_order" => watch_events_in_order(store).await,
        "watch_from_none_sees_only_later" => watch_from_none_sees_only_later(store).await,
        "watch_resume_without_gap" => watch_resume_without_gap(store).await,
        "watch_seam_under_concurrent_writes" => watch_seam_under_concurrent_writes(store).await,
        "watch_compacted" => watch_compacted(store).await,
        "compact_rejects_future_revision" => compact_rejects_future_revision(store).await,
        "lease_expiry_deletes_keys" => lease_expiry_deletes_keys(store).await,
        "lease_keep_alive_extends" => lease_keep_alive_extends(store).await,
        "lease_revoke_and_unknown" => lease_revoke_and_unknown(store).await,
        "lease_rebinding" => lease_rebinding(store).await,
        "lease_survives_a_check" => lease_survives_a_check(store).await,
        other => panic!("unknown conformance case {other:?}"),
    }
}

/// Runs every case of [`CASES`], each against a fresh store from `fresh`.
///
/// # Panics
/// On the first deviation, naming the case.
pub async fn run_all<F, Fut>(mut fresh: F)
where
    F: FnMut() -> Fut,
    Fut: Future<Output = TestStore>,
{
    for name in CASES {
        let (store, guard) = fresh().await.into_parts();
        let backend = store.backend_name();
        eprintln!("conformance[{backend}]: {name}");
        run_case(name, store).await;
        drop(guard);
    }
}

/// Generates one `#[tokio::test]` per conformance case.
///
/// `fresh` is a path to an `async fn() -> TestStore` giving a fresh, empty
/// store; the optional `restart` is a path to an
/// `async fn() -> impl RestartHarness` for
/// [`restart_durability`]. The calling crate needs `tokio` with the
/// `macros` and `rt-multi-thread` features as a dev-dependency.
///
/// ```no_run
/// use contiv_store::memory::MemoryStore;
/// use contiv_store::testing::TestStore;
/// use std::sync::Arc;
///
/// async fn fresh() -> TestStore {
///     TestStore::new(Arc::new(MemoryStore::new()))
/// }
///
/// contiv_store::conformance_tests!(fresh = fresh);
/// # fn main() {}
/// ```
#[macro_export]
macro_rules! conformance_tests {
    (fresh = $fresh:path $(, restart = $restart:path)? $(,)?) => {
        $crate::conformance_tests!(@cases $fresh;
            get_put_delete, put_preconditions, delete_preconditions,
            cas_race_single_winner, cas_counter_no_lost_updates,
            txn_all_or_nothing, txn_shared_revision_and_outcomes,
            txn_without_changes_creates_no_revision, txn_rejects_duplicate_writes,
            txn_max_ops, list_sorted_with_revision, prefix_isolation, large_values,
            watch_events_in_order, watch_from_none_sees_only_later,
            watch_resume_without_gap, watch_seam_under_concurrent_writes,
            watch_compacted, compact_rejects_future_revision,
            lease_expiry_deletes_keys, lease_keep_alive_extends,
            lease_revoke_and_unknown, lease_rebinding, lease_survives_a_check
        );
        $(
            #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
            async fn restart_durability() {
                let harness = $restart().await;
                $crate::testing::conformance::restart_durability(harness).await;
            }
        )?
    };
    (@cases $fresh:path; $($case:ident),* $(,)?) => {
        $(
            #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
            async fn $case() {
                let (store, guard) = $fresh().await.into_parts();
                $crate::testing::conformance::$case(store).await;
                drop(guard);
            }
        )*
    };
}

// ---------------------------------------------------------------- helpers

fn b(s: &str) -> Vec<u8> {
    s.as_bytes().to_vec()
}

async fn put(store: &dyn StateStore, key: &str, value: &[u8]) -> Revision {
    store
        .put(key, value.to_vec(), PutOptions::default())
        .await
        .unwrap_or_else(|e| panic!("put {key:?} failed: {e}"))
}

async fn get(store: &dyn StateStore, key: &str) -> Option<KeyValue> {
    store
        .get(key)
        .await
        .unwrap_or_else(|e| panic!("get {key:?} failed: {e}"))
}

async fn must_get(store: &dyn StateStore, key: &str) -> KeyValue {
    get(store, key)
        .await
        .unwrap_or_else(|| panic!("key {key:?} should exist"))
}

async fn current(store: &dyn StateStore) -> Revision {
    store
        .current_revision()
        .await
        .unwrap_or_else(|e| panic!("current_revision failed: {e}"))
}

async fn watch(store: &dyn StateStore, prefix: &str, from: Option<Revision>) -> WatchStream {
    store
        .watch(prefix, from)
        .await
        .unwrap_or_else(|e| panic!("watch {prefix:?} from {from:?} failed: {e}"))
}

/// The next event of a stream, failing on error, end or a [`WAIT`] timeout.
pub async fn next_event(stream: &mut WatchStream) -> WatchEvent {
    next_event_within(stream, WAIT).await
}

/// The next event of a stream, failing on error, end or after `wait`.
pub async fn next_event_within(stream: &mut WatchStream, wait: Duration) -> WatchEvent {
    match tokio::time::timeout(wait, stream.next()).await {
        Err(_) => panic!("no watch event within {wait:?}"),
        Ok(None) => panic!("watch stream ended unexpectedly"),
        Ok(Some(Err(e))) => panic!("watch stream failed: {e}"),
        Ok(Some(Ok(ev))) => ev,
    }
}

async fn next_events(stream: &mut WatchStream, n: usize) -> Vec<WatchEvent> {
    let mut out = Vec::with_capacity(n);
    for _ in 0..n {
        out.push(next_event(stream).await);
    }
    out
}

/// Asserts the next event is a write of `sentinel`: proves nothing else
/// was delivered before it (no sleep-and-hope).
async fn expect_sentinel_next(store: &dyn StateStore, stream: &mut WatchStream, sentinel: &str) {
    let rev = put(store, sentinel, b"sentinel").await;
    let ev = next_event(stream).await;
    assert_eq!(
        (ev.kind, ev.kv.key.as_str(), ev.revision()),
        (EventKind::Put, sentinel, rev),
        "expected only the sentinel write next, got {ev:?}"
    );
}

/// The error of a watch that must fail, whether the call or the first
/// stream item reports it.
async fn watch_error(store: &dyn StateStore, prefix: &str, from: Revision) -> StoreError {
    match store.watch(prefix, Some(from)).await {
        Err(e) => e,
        Ok(mut stream) => match tokio::time::timeout(WAIT, stream.next()).await {
            Err(_) => panic!("watch from {from} neither failed nor delivered within {WAIT:?}"),
            Ok(None) => panic!("watch from {from} ended without an error"),
            Ok(Some(Ok(ev))) => panic!("watch from {from} delivered {ev:?} instead of failing"),
            Ok(Some(Err(e))) => e,
        },
    }
}

fn assert_conflict<T: std::fmt::Debug>(result: Result<T, StoreError>, key: &str) {
    match result {
        Err(StoreError::PreconditionFailed { key: k }) => {
            assert_eq!(k, key, "the conflict must name the first failing key")
        }
        other => panic!("expected PreconditionFailed on {key:?}, got {other:?}"),
    }
}

fn assert_invalid<T: std::fmt::Debug>(result: Result<T, StoreError>, what: &str) {
    assert!(
        matches!(result, Err(StoreError::InvalidArgument(_))),
        "{what}: expected InvalidArgument, got {result:?}"
    );
}

fn assert_lease_not_found<T: std::fmt::Debug>(result: Result<T, StoreError>, what: &str) {
    assert!(
        matches!(result, Err(StoreError::LeaseNotFound(_))),
        "{what}: expected LeaseNotFound, got {result:?}"
    );
}

fn keys_of(kvs: &[KeyValue]) -> Vec<&str> {
    kvs.iter().map(|kv| kv.key.as_str()).collect()
}

// ------------------------------------------------------------------ cases

/// get/put/delete basics and key metadata (create/mod revision, version).
pub async fn get_put_delete(store: Arc<dyn StateStore>) {
    let s = store.as_ref();
    assert_eq!(get(s, "/basic/a").await, None);
    let start = current(s).await;

    let r1 = put(s, "/basic/a", b"one").await;
    assert!(r1 > start, "a write must advance the revision");
    assert_eq!(current(s).await, r1);
    let kv = must_get(s, "/basic/a").await;
    assert_eq!(
        (
            kv.value.as_slice(),
            kv.create_revision,
            kv.mod_revision,
            kv.version,
            kv.lease
        ),
        (&b"one"[..], r1, r1, 1, None)
    );

    let r2 = put(s, "/basic/a", b"two").await;
    assert!(r2 > r1);
    let kv = must_get(s, "/basic/a").await;
    assert_eq!(
        (
            kv.value.as_slice(),
            kv.create_revision,
            kv.mod_revision,
            kv.version
        ),
        (&b"two"[..], r1, r2, 2)
    );

    let deleted = s
        .delete("/basic/a", Precondition::Any)
        .await
        .expect("delete of an existing key");
    let r3 = deleted.expect("deleting an existing key reports its revision");
    assert!(r3 > r2);
    assert_eq!(get(s, "/basic/a").await, None);
    assert_eq!(current(s).await, r3);

    let again = s
        .delete("/basic/a", Precondition::Any)
        .await
        .expect("delete of a missing key");
    assert_eq!(again, None, "deleting a missing key deletes nothing");
    assert_eq!(current(s).await, r3, "a no-op delete creates no revision");

    let r4 = put(s, "/basic/a", b"three").await;
    let kv = must_get(s, "/basic/a").await;
    assert_eq!(
        (kv.create_revision, kv.mod_revision, kv.version),
        (r4, r4, 1),
        "a re-created key starts a new life"
    );
}

/// `Absent` and `ModRevision` preconditions of a single put.
pub async fn put_preconditions(store: Arc<dyn StateStore>) {
    let s = store.as_ref();
    let r1 = s
        .put("/cas/k", b("v1"), PutOptions::absent())
        .await
        .expect("Absent put of a new key");
    assert_conflict(
        s.put("/cas/k", b("x"), PutOptions::absent()).await,
        "/cas/k",
    );

    let r2 = s
        .put("/cas/k", b("v2"), PutOptions::at_revision(r1))
        .await
        .expect("ModRevision put at the current revision");
    assert_conflict(
        s.put("/cas/k", b("stale"), PutOptions::at_revision(r1))
            .await,
        "/cas/k",
    );
    assert_conflict(
        s.put("/cas/missing", b("x"), PutOptions::at_revision(r2))
            .await,
        "/cas/missing",
    );
    assert_conflict(
        s.put("/cas/missing", b("x"), PutOptions::at_revision(0))
            .await,
        "/cas/missing",
    );
    assert_eq!(current(s).await, r2, "failed puts create no revision");
    assert_eq!(get(s, "/cas/missing").await, None);
    let kv = must_get(s, "/cas/k").await;
    assert_eq!((kv.value, kv.mod_revision), (b("v2"), r2));
}

/// Preconditions of a single delete.
pub async fn delete_preconditions(store: Arc<dyn StateStore>) {
    let s = store.as_ref();
    let r1 = put(s, "/cad/k", b"v").await;
    assert_conflict(
        s.delete("/cad/k", Precondition::ModRevision(r1 + 100))
            .await,
        "/cad/k",
    );
    assert_conflict(s.delete("/cad/k", Precondition::Absent).await, "/cad/k");
    assert_eq!(must_get(s, "/cad/k").await.mod_revision, r1);
    let r2 = s
        .delete("/cad/k", Precondition::ModRevision(r1))
        .await
        .expect("delete at the current revision")
        .expect("the key existed");
    assert!(r2 > r1);
    assert_conflict(
        s.delete("/cad/k", Precondition::ModRevision(r1)).await,
        "/cad/k",
    );
    let absent = s
        .delete("/cad/k", Precondition::Absent)
        .await
        .expect("an Absent delete of a missing key holds");
    assert_eq!(absent, None);
    assert_eq!(current(s).await, r2);
}

/// Many tasks race to create one key with `Absent`: exactly one wins, every
/// other gets `PreconditionFailed`, and the stored value is the winner's.
pub async fn cas_race_single_winner(store: Arc<dyn StateStore>) {
    const TASKS: usize = 32;
    let barrier = Arc::new(tokio::sync::Barrier::new(TASKS));
    let mut handles = Vec::new();
    for i in 0..TASKS {
        let store = store.clone();
        let barrier = barrier.clone();
        handles.push(tokio::spawn(async move {
            barrier.wait().await;
            let r = store
                .put(
                    "/race/owner",
                    format!("task-{i}").into_bytes(),
                    PutOptions::absent(),
                )
                .await;
            (i, r)
        }));
    }
    let mut winners = Vec::new();
    for h in handles {
        let (i, r) = h.await.expect("race task panicked");
        match r {
            Ok(rev) => winners.push((i, rev)),
            Err(e) => assert!(e.is_conflict(), "a loser must see a conflict, got {e}"),
        }
    }
    assert_eq!(winners.len(), 1, "exactly one writer wins: {winners:?}");
    let (winner, rev) = winners[0];
    let kv = must_get(store.as_ref(), "/race/owner").await;
    assert_eq!(kv.value, format!("task-{winner}").into_bytes());
    assert_eq!(kv.mod_revision, rev);
}

/// Concurrent read-modify-write increments with `ModRevision` and retry:
/// no update is lost and every successful write has its own revision.
pub async fn cas_counter_no_lost_updates(store: Arc<dyn StateStore>) {
    const TASKS: u64 = 8;
    const INCREMENTS: u64 = 20;
    put(store.as_ref(), "/race/counter", b"0").await;
    let mut handles = Vec::new();
    for _ in 0..TASKS {
        let store = store.clone();
        handles.push(tokio::spawn(async move {
            let mut revs = Vec::new();
            for _ in 0..INCREMENTS {
                loop {
                    let kv = store
                        .get("/race/counter")
                        .await
                        .expect("get counter")
                        .expect("counter exists");
                    let n: u64 = String::from_utf8_lossy(&kv.value)
                        .parse()
                        .expect("counter is a number");
                    let next = (n + 1).to_string().into_bytes();
                    match store
                        .put(
                            "/race/counter",
                            next,
                            PutOptions::at_revision(kv.mod_revision),
                        )
                        .await
                    {
                        Ok(rev) => {
                            revs.push((rev, n + 1));
                            break;
                        }
                        Err(e) if e.is_conflict() => continue,
                        Err(e) => panic!("increment failed: {e}"),
                    }
                }
            }
            revs
        }));
    }
    let mut all = Vec::new();
    for h in handles {
        all.extend(h.await.expect("counter task panicked"));
    }
    all.sort_unstable();
    let total = TASKS * INCREMENTS;
    assert_eq!(all.len() as u64, total);
    let values: Vec<u64> = all.iter().map(|(_, v)| *v).collect();
    let expected: Vec<u64> = (1..=total).collect();
    assert_eq!(
        values, expected,
        "in revision order the counter goes 1..={total} with no lost or repeated value"
    );
    let kv = must_get(store.as_ref(), "/race/counter").await;
    assert_eq!(kv.value, total.to_string().into_bytes());
}

/// A transaction with a failing precondition writes nothing, creates no
/// revision and names the first failing key.
pub async fn txn_all_or_nothing(store: Arc<dyn StateStore>) {
    let s = store.as_ref();
    let rx = put(s, "/atom/x", b"x0").await;
    let ry = put(s, "/atom/y", b"y0").await;
    let before = current(s).await;
    let result = s
        .txn(vec![
            TxnOp::put("/atom/new", b("n")),
            TxnOp::Put {
                key: "/atom/x".into(),
                value: b("x1"),
                precondition: Precondition::ModRevision(rx),
                lease: None,
            },
            TxnOp::Delete {
                key: "/atom/y".into(),
                precondition: Precondition::Absent,
            },
            TxnOp::Put {
                key: "/atom/z".into(),
                value: b("z"),
                precondition: Precondition::ModRevision(ry + 1000),
                lease: None,
            },
        ])
        .await;
    assert_conflict(result, "/atom/y");
    assert_eq!(current(s).await, before, "a failed txn creates no revision");
    assert_eq!(get(s, "/atom/new").await, None);
    assert_eq!(get(s, "/atom/z").await, None);
    let x = must_get(s, "/atom/x").await;
    assert_eq!((x.value, x.mod_revision), (b("x0"), rx));
    assert_eq!(must_get(s, "/atom/y").await.mod_revision, ry);

    // A put bound to a lease that does not exist fails the whole txn too.
    let gone = s
        .grant_lease(Duration::from_secs(30))
        .await
        .expect("grant lease");
    s.revoke_lease(&gone.id).await.expect("revoke lease");
    let result = s
        .txn(vec![
            TxnOp::put("/atom/new", b("n")),
            TxnOp::Put {
                key: "/atom/leased".into(),
                value: b("l"),
                precondition: Precondition::Any,
                lease: Some(gone.id.clone()),
            },
        ])
        .await;
    assert_lease_not_found(result, "txn with a revoked lease");
    assert_eq!(get(s, "/atom/new").await, None);
    assert_eq!(get(s, "/atom/leased").await, None);
    assert_eq!(current(s).await, before);

    // The history shows no trace: the next event after `before` is the
    // next successful write.
    let mut stream = watch(s, "/atom/", Some(before + 1)).await;
    expect_sentinel_next(s, &mut stream, "/atom/sentinel").await;
}

/// A successful transaction applies every op under one new revision and
/// reports one outcome per op; its watch events share that revision and
/// come in op order.
pub async fn txn_shared_revision_and_outcomes(store: Arc<dyn StateStore>) {
    let s = store.as_ref();
    put(s, "/txn/del", b"d").await;
    let rk = put(s, "/txn/keep", b"k1").await;
    let before = current(s).await;
    let resp = s
        .txn(vec![
            TxnOp::Put {
                key: "/txn/new".into(),
                value: b("n"),
                precondition: Precondition::Absent,
                lease: None,
            },
            TxnOp::Put {
                key: "/txn/keep".into(),
                value: b("k2"),
                precondition: Precondition::ModRevision(rk),
                lease: None,
            },
            TxnOp::delete("/txn/del"),
            TxnOp::delete("/txn/missing"),
            TxnOp::Check {
                key: "/txn/keep".into(),
                precondition: Precondition::ModRevision(rk),
            },
        ])
        .await
        .expect("txn whose preconditions hold");
    assert_eq!(resp.revision, before + 1, "one txn, one new revision");
    assert_eq!(
        resp.outcomes,
        vec![
            OpOutcome::Written,
            OpOutcome::Written,
            OpOutcome::Deleted,
            OpOutcome::Absent,
            OpOutcome::Checked
        ]
    );
    let new = must_get(s, "/txn/new").await;
    assert_eq!(
        (new.create_revision, new.mod_revision, new.version),
        (resp.revision, resp.revision, 1)
    );
    let keep = must_get(s, "/txn/keep").await;
    assert_eq!(
        (keep.value, keep.mod_revision, keep.version),
        (b("k2"), resp.revision, 2)
    );
    assert_eq!(get(s, "/txn/del").await, None);
    assert_eq!(current(s).await, resp.revision);

    let mut stream = watch(s, "/txn/", Some(resp.revision)).await;
    let events = next_events(&mut stream, 3).await;
    let seen: Vec<(EventKind, &str, Revision)> = events
        .iter()
        .map(|e| (e.kind, e.kv.key.as_str(), e.revision()))
        .collect();
    assert_eq!(
        seen,
        vec![
            (EventKind::Put, "/txn/new", resp.revision),
            (EventKind::Put, "/txn/keep", resp.revision),
            (EventKind::Delete, "/txn/del", resp.revision),
        ]
    );
    expect_sentinel_next(s, &mut stream, "/txn/sentinel").await;
}

/// A transaction that changes nothing (checks, deletes of missing keys, or
/// no ops at all) succeeds without creating a revision.
pub async fn txn_without_changes_creates_no_revision(store: Arc<dyn StateStore>) {
    let s = store.as_ref();
    let r = put(s, "/noop/k", b"v").await;
    let resp = s
        .txn(vec![
            TxnOp::Check {
                key: "/noop/k".into(),
                precondition: Precondition::ModRevision(r),
            },
            TxnOp::delete("/noop/missing"),
            TxnOp::Check {
                key: "/noop/other".into(),
                precondition: Precondition::Absent,
            },
        ])
        .await
        .expect("checks that hold");
    assert_eq!(resp.revision, r);
    assert_eq!(
        resp.outcomes,
        vec![OpOutcome::Checked, OpOutcome::Absent, OpOutcome::Checked]
    );
    let empty = s.txn(Vec::new()).await.expect("an empty txn");
    assert_eq!((empty.revision, empty.outcomes.len()), (r, 0));
    assert_conflict(
        s.txn(vec![TxnOp::Check {
            key: "/noop/k".into(),
            precondition: Precondition::Absent,
        }])
        .await,
        "/noop/k",
    );
    assert_eq!(current(s).await, r);
}

/// Two writes to one key in a transaction are rejected before anything is
/// written; a check plus a write of the same key is fine.
pub async fn txn_rejects_duplicate_writes(store: Arc<dyn StateStore>) {
    let s = store.as_ref();
    let before = current(s).await;
    assert_invalid(
        s.txn(vec![
            TxnOp::put("/dup/other", b("o")),
            TxnOp::put("/dup/a", b("1")),
            TxnOp::put("/dup/a", b("2")),
        ])
        .await,
        "two puts of one key",
    );
    assert_invalid(
        s.txn(vec![TxnOp::put("/dup/a", b("1")), TxnOp::delete("/dup/a")])
            .await,
        "a put and a delete of one key",
    );
    assert_eq!(get(s, "/dup/a").await, None);
    assert_eq!(get(s, "/dup/other").await, None);
    assert_eq!(current(s).await, before);
    let resp = s
        .txn(vec![
            TxnOp::Check {
                key: "/dup/a".into(),
                precondition: Precondition::Absent,
            },
            TxnOp::Put {
                key: "/dup/a".into(),
                value: b("1"),
                precondition: Precondition::Absent,
                lease: None,
            },
        ])
        .await
        .expect("a check and a put of one key");
    assert_eq!(resp.outcomes, vec![OpOutcome::Checked, OpOutcome::Written]);
}

/// The backend's declared maximum of operations (at most `MAX_TXN_OPS`)
/// is accepted, one more is rejected whole.
pub async fn txn_max_ops(store: Arc<dyn StateStore>) {
    let s = store.as_ref();
    let max = s.limits().max_txn_ops;
    assert!(
        (1..=MAX_TXN_OPS).contains(&max),
        "declared max_txn_ops {max} out of range"
    );
    let ops: Vec<TxnOp> = (0..max)
        .map(|i| TxnOp::put(format!("/max/ok/{i:03}"), b("v")))
        .collect();
    let resp = s.txn(ops).await.expect("a txn of max_txn_ops puts");
    let listed = s.list("/max/ok/").await.expect("list");
    assert_eq!(listed.kvs.len(), max);
    assert!(listed.kvs.iter().all(|kv| kv.mod_revision == resp.revision));

    let ops: Vec<TxnOp> = (0..=max)
        .map(|i| TxnOp::put(format!("/max/over/{i:03}"), b("v")))
        .collect();
    assert_invalid(s.txn(ops).await, "a txn of max_txn_ops + 1 ops");
    assert!(s.list("/max/over/").await.expect("list").kvs.is_empty());
    assert_eq!(current(s).await, resp.revision);
}

/// `list` returns the keys of a prefix sorted, with the revision it reflects.
pub async fn list_sorted_with_revision(store: Arc<dyn StateStore>) {
    let s = store.as_ref();
    for key in ["/l/c", "/l/a", "/l/b/1", "/l/b", "/l/a/z", "/m/x"] {
        put(s, key, key.as_bytes()).await;
    }
    s.delete("/l/c", Precondition::Any).await.expect("delete");
    let resp = s.list("/l/").await.expect("list");
    assert_eq!(keys_of(&resp.kvs), vec!["/l/a", "/l/a/z", "/l/b", "/l/b/1"]);
    assert!(resp.kvs.iter().all(|kv| kv.value == kv.key.as_bytes()));
    assert_eq!(resp.revision, current(s).await);

    let empty = s.list("/nothing/").await.expect("list of an empty prefix");
    assert!(empty.kvs.is_empty());
    assert_eq!(empty.revision, resp.revision);

    // A watch from the listing's revision + 1 sees exactly the later writes.
    let mut stream = watch(s, "/l/", Some(resp.revision + 1)).await;
    expect_sentinel_next(s, &mut stream, "/l/after").await;
}

/// Prefixes match byte-wise: `/p/a` also matches `/p/ab`, `/p/a/` does
/// not; multi-byte UTF-8 and the empty prefix work.
pub async fn prefix_isolation(store: Arc<dyn StateStore>) {
    let s = store.as_ref();
    let keys = [
        "/p/a",
        "/p/a/x",
        "/p/ab",
        "/p/ab/y",
        "/p/b",
        "/p/ü/1",
        "/p/üb",
        "/p/\u{7f}",
        "/p/\u{ffff}",
    ];
    for key in keys {
        put(s, key, b"v").await;
    }
    let list = |prefix: &'static str| async move {
        let resp = s.list(prefix).await.expect("list");
        resp.kvs
            .into_iter()
            .map(|kv| kv.key)
            .collect::<Vec<String>>()
    };
    assert_eq!(
        list("/p/a").await,
        vec!["/p/a", "/p/a/x", "/p/ab", "/p/ab/y"]
    );
    assert_eq!(list("/p/a/").await, vec!["/p/a/x"]);
    assert_eq!(list("/p/ab/").await, vec!["/p/ab/y"]);
    assert_eq!(list("/p/ü").await, vec!["/p/ü/1", "/p/üb"]);
    assert_eq!(list("/p/ü/").await, vec!["/p/ü/1"]);
    assert_eq!(list("/p/\u{7f}").await, vec!["/p/\u{7f}"]);
    assert_eq!(list("/p/\u{ffff}").await, vec!["/p/\u{ffff}"]);
    assert_eq!(list("/p/c").await, Vec::<String>::new());
    let mut all: Vec<String> = keys.iter().map(|k| (*k).to_owned()).collect();
    all.sort();
    assert_eq!(list("").await, all, "the empty prefix lists everything");

    let mut stream = watch(s, "/p/a/", None).await;
    put(s, "/p/ab/z", b"no").await;
    put(s, "/p/a", b"no").await;
    let rev = put(s, "/p/a/w", b"yes").await;
    let ev = next_event(&mut stream).await;
    assert_eq!((ev.kv.key.as_str(), ev.revision()), ("/p/a/w", rev));
}

/// Values from 0 bytes to the backend's declared maximum (1 MiB where the
/// backend allows it) round-trip through put, get, list and watch; one
/// byte more is an invalid request that writes nothing.
pub async fn large_values(store: Arc<dyn StateStore>) {
    let s = store.as_ref();
    let limits = s.limits();
    let size = (1usize << 20)
        .min(limits.max_value_bytes)
        .min(limits.max_txn_value_bytes);
    assert!(size >= 64 << 10, "a backend must hold values of 64 KiB");
    if limits.max_value_bytes < (1 << 20) {
        let over = vec![7u8; limits.max_value_bytes + 1];
        assert_invalid(
            s.put("/big/over", over, PutOptions::default()).await,
            "a value above the declared maximum",
        );
        assert_eq!(get(s, "/big/over").await, None);
    }
    let big: Vec<u8> = (0..size).map(|i| (i % 251) as u8).collect();
    let mut stream = watch(s, "/big/", None).await;
    let r_empty = put(s, "/big/empty", b"").await;
    let r_big = put(s, "/big/mib", &big).await;
    assert_eq!(must_get(s, "/big/empty").await.value, Vec::<u8>::new());
    assert!(
        must_get(s, "/big/mib").await.value == big,
        "the large value differs after get"
    );
    let listed = s.list("/big/").await.expect("list");
    assert_eq!(keys_of(&listed.kvs), vec!["/big/empty", "/big/mib"]);
    assert!(
        listed.kvs[1].value == big,
        "the large value differs after list"
    );
    let e1 = next_event(&mut stream).await;
    assert_eq!((e1.revision(), e1.kv.value.len()), (r_empty, 0));
    let e2 = next_event(&mut stream).await;
    assert_eq!(e2.revision(), r_big);
    assert!(
        e2.kv.value == big,
        "the large value differs in the watch event"
    );
}

/// A watch delivers every put and delete of its prefix in revision order,
/// with the key metadata; txn events share their revision.
pub async fn watch_events_in_order(store: Arc<dyn StateStore>) {
    let s = store.as_ref();
    let mut stream = watch(s, "/w/", None).await;
    let r1 = put(s, "/w/a", b"a1").await;
    put(s, "/other/x", b"x").await;
    let r3 = put(s, "/w/b", b"b1").await;
    let r4 = s
        .txn(vec![TxnOp::put("/w/c", b("c1")), TxnOp::delete("/w/a")])
        .await
        .expect("txn")
        .revision;
    let r5 = put(s, "/w/b", b"b2").await;
    let r6 = s
        .delete("/w/b", Precondition::Any)
        .await
        .expect("delete")
        .expect("existed");
    let events = next_events(&mut stream, 6).await;
    let seen: Vec<(EventKind, &str, &[u8], Revision)> = events
        .iter()
        .map(|e| {
            (
                e.kind,
                e.kv.key.as_str(),
                e.kv.value.as_slice(),
                e.revision(),
            )
        })
        .collect();
    assert_eq!(
        seen,
        vec![
            (EventKind::Put, "/w/a", &b"a1"[..], r1),
            (EventKind::Put, "/w/b", &b"b1"[..], r3),
            (EventKind::Put, "/w/c", &b"c1"[..], r4),
            (EventKind::Delete, "/w/a", &b""[..], r4),
            (EventKind::Put, "/w/b", &b"b2"[..], r5),
            (EventKind::Delete, "/w/b", &b""[..], r6),
        ]
    );
    let b2 = &events[4].kv;
    assert_eq!((b2.create_revision, b2.version), (r3, 2));
    expect_sentinel_next(s, &mut stream, "/w/sentinel").await;
}

/// `from = None` delivers only events after the call.
pub async fn watch_from_none_sees_only_later(store: Arc<dyn StateStore>) {
    let s = store.as_ref();
    put(s, "/later/before1", b"x").await;
    put(s, "/later/before2", b"x").await;
    let mut stream = watch(s, "/later/", None).await;
    let r = put(s, "/later/after", b"y").await;
    let ev = next_event(&mut stream).await;
    assert_eq!((ev.kv.key.as_str(), ev.revision()), ("/later/after", r));
}

/// A watch dropped midway resumes from the last seen revision + 1 with no
/// gap and no duplicate; history stays replayable.
pub async fn watch_resume_without_gap(store: Arc<dyn StateStore>) {
    let s = store.as_ref();
    let mut revs = Vec::new();
    for i in 0..10 {
        revs.push(put(s, &format!("/resume/k{i}"), b"v").await);
    }
    let mut stream = watch(s, "/resume/", Some(revs[0])).await;
    let first = next_events(&mut stream, 4).await;
    assert_eq!(
        first.iter().map(WatchEvent::revision).collect::<Vec<_>>(),
        revs[..4]
    );
    let last_seen = first[3].revision();
    drop(stream);
    for i in 10..15 {
        revs.push(put(s, &format!("/resume/k{i}"), b"v").await);
    }
    let mut stream = watch(s, "/resume/", Some(last_seen + 1)).await;
    let rest = next_events(&mut stream, 11).await;
    assert_eq!(
        rest.iter().map(WatchEvent::revision).collect::<Vec<_>>(),
        revs[4..]
    );
    let keys: Vec<String> = rest.iter().map(|e| e.kv.key.clone()).collect();
    let expected: Vec<String> = (4..15).map(|i| format!("/resume/k{i}")).collect();
    assert_eq!(keys, expected);
    expect_sentinel_next(s, &mut stream, "/resume/sentinel").await;

    let mut replay = watch(s, "/resume/", Some(revs[0])).await;
    let all = next_events(&mut replay, 15).await;
    assert_eq!(
        all.iter().map(WatchEvent::revision).collect::<Vec<_>>(),
        revs
    );
}

/// A watch opened from an old revision while writes keep landing sees every
/// revision exactly once across the history/live seam.
pub async fn watch_seam_under_concurrent_writes(store: Arc<dyn StateStore>) {
    const WRITES: usize = 300;
    let first = put(store.as_ref(), "/seam/k-start", b"v").await;
    let (progress_tx, mut progress_rx) = tokio::sync::mpsc::unbounded_channel();
    let writer = {
        let store = store.clone();
        tokio::spawn(async move {
            let mut last = 0;
            for i in 0..WRITES {
                last = store
                    .put(&format!("/seam/k{i}"), b("v"), PutOptions::default())
                    .await
                    .expect("seam write");
                let _ = progress_tx.send(i);
            }
            last
        })
    };
    // Open the watch once the writer is well under way.
    while let Some(i) = progress_rx.recv().await {
        if i >= WRITES / 4 {
            break;
        }
    }
    let mut stream = watch(store.as_ref(), "/seam/", Some(first)).await;
    let last = writer.await.expect("writer task panicked");
    let mut seen = Vec::new();
    while seen.last().copied() != Some(last) {
        seen.push(next_event(&mut stream).await.revision());
    }
    let expected: Vec<Revision> = (first..=last).collect();
    assert_eq!(
        seen.len(),
        expected.len(),
        "events lost or duplicated at the seam"
    );
    assert_eq!(seen, expected);
}

/// After `compact(r)`, watching from `<= r` fails with `Compacted`; later
/// history and all data remain.
pub async fn watch_compacted(store: Arc<dyn StateStore>) {
    let s = store.as_ref();
    let mut revs = Vec::new();
    for i in 0..10 {
        revs.push(put(s, &format!("/compact/k{i}"), b"v").await);
    }
    let point = revs[4];
    s.compact(point).await.expect("compact");
    for (from, what) in [(point, "at the compaction point"), (revs[1], "below it")] {
        match watch_error(s, "/compact/", from).await {
            StoreError::Compacted {
                requested,
                compacted,
            } => {
                assert_eq!(requested, from, "watch {what}: requested revision");
                assert_eq!(compacted, point, "watch {what}: compaction point");
            }
            other => panic!("watch {what}: expected Compacted, got {other}"),
        }
    }
    let mut stream = watch(s, "/compact/", Some(point + 1)).await;
    let events = next_events(&mut stream, 5).await;
    assert_eq!(
        events.iter().map(WatchEvent::revision).collect::<Vec<_>>(),
        revs[5..]
    );
    assert_eq!(
        s.list("/compact/").await.expect("list").kvs.len(),
        10,
        "compaction drops history, not data"
    );
    assert_eq!(must_get(s, "/compact/k0").await.mod_revision, revs[0]);
    s.compact(revs[2])
        .await
        .expect("compacting to an older revision again is a no-op");
}

/// Compacting beyond the current revision is an invalid request.
pub async fn compact_rejects_future_revision(store: Arc<dyn StateStore>) {
    let s = store.as_ref();
    let r = put(s, "/cf/k", b"v").await;
    assert_invalid(s.compact(r + 10).await, "compact to a future revision");
    let mut stream = watch(s, "/cf/", Some(r)).await;
    assert_eq!(next_event(&mut stream).await.revision(), r);
}

/// An expired lease deletes its keys (one revision, with delete events) and
/// cannot be refreshed or bound any more; unbound keys stay.
pub async fn lease_expiry_deletes_keys(store: Arc<dyn StateStore>) {
    let s = store.as_ref();
    let lease = s
        .grant_lease(Duration::from_secs(1))
        .await
        .expect("grant lease");
    assert!(
        lease.ttl >= Duration::from_secs(1),
        "ttl may only be rounded up"
    );
    assert!(
        lease.ttl >= s.limits().min_lease_ttl,
        "a lease is granted at least the declared minimum TTL"
    );
    let mut stream = watch(s, "/exp/", None).await;
    for key in ["/exp/a", "/exp/b"] {
        s.put(
            key,
            b("v"),
            PutOptions {
                precondition: Precondition::Any,
                lease: Some(lease.id.clone()),
            },
        )
        .await
        .expect("put bound to a lease");
    }
    put(s, "/exp/plain", b"v").await;
    assert_eq!(
        must_get(s, "/exp/a").await.lease.as_ref(),
        Some(&lease.id),
        "the key reports its lease"
    );
    let puts = next_events(&mut stream, 3).await;
    assert!(puts.iter().all(|e| e.kind == EventKind::Put));
    let expiry = WAIT + s.limits().lease_expiry_bound(lease.ttl);
    let deletes = [
        next_event_within(&mut stream, expiry).await,
        next_event_within(&mut stream, expiry).await,
    ];
    let mut deleted: Vec<&str> = deletes.iter().map(|e| e.kv.key.as_str()).collect();
    deleted.sort_unstable();
    assert_eq!(deleted, vec!["/exp/a", "/exp/b"]);
    assert!(deletes.iter().all(|e| e.kind == EventKind::Delete));
    assert_eq!(
        deletes[0].revision(),
        deletes[1].revision(),
        "a lease's keys vanish in one revision"
    );
    assert_eq!(get(s, "/exp/a").await, None);
    assert_eq!(get(s, "/exp/b").await, None);
    assert!(get(s, "/exp/plain").await.is_some());
    assert_lease_not_found(
        s.keep_alive(&lease.id).await,
        "keep_alive of an expired lease",
    );
    assert_lease_not_found(
        s.put(
            "/exp/late",
            b("v"),
            PutOptions {
                precondition: Precondition::Any,
                lease: Some(lease.id.clone()),
            },
        )
        .await,
        "put bound to an expired lease",
    );
}

/// Refreshing a lease keeps its keys alive past the TTL; once refreshes
/// stop, the keys go.
pub async fn lease_keep_alive_extends(store: Arc<dyn StateStore>) {
    let s = store.as_ref();
    let lease = s
        .grant_lease(Duration::from_secs(2))
        .await
        .expect("grant lease");
    s.put(
        "/ka/k",
        b("v"),
        PutOptions {
            precondition: Precondition::Any,
            lease: Some(lease.id.clone()),
        },
    )
    .await
    .expect("put bound to a lease");
    let mut stream = watch(s, "/ka/", None).await;
    let until = tokio::time::Instant::now() + lease.ttl * 3;
    while tokio::time::Instant::now() < until {
        let ttl = s
            .keep_alive(&lease.id)
            .await
            .expect("keep_alive of a live lease");
        assert!(ttl > Duration::ZERO);
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    assert!(
        get(s, "/ka/k").await.is_some(),
        "a refreshed lease keeps its key past three TTLs"
    );
    let expiry = WAIT + s.limits().lease_expiry_bound(lease.ttl);
    let ev = next_event_within(&mut stream, expiry).await;
    assert_eq!((ev.kind, ev.kv.key.as_str()), (EventKind::Delete, "/ka/k"));
    assert_eq!(get(s, "/ka/k").await, None);
}

/// Revoking deletes the lease's keys with delete events; unknown leases are
/// `LeaseNotFound` everywhere.
pub async fn lease_revoke_and_unknown(store: Arc<dyn StateStore>) {
    let s = store.as_ref();
    let lease = s
        .grant_lease(Duration::from_secs(60))
        .await
        .expect("grant lease");
    let other = s
        .grant_lease(Duration::from_secs(60))
        .await
        .expect("grant second lease");
    assert_ne!(lease.id, other.id, "lease ids are unique");
    let opts = |id: &LeaseId| PutOptions {
        precondition: Precondition::Any,
        lease: Some(id.clone()),
    };
    s.put("/rv/a", b("v"), opts(&lease.id))
        .await
        .expect("put a");
    s.put("/rv/b", b("v"), opts(&lease.id))
        .await
        .expect("put b");
    s.put("/rv/other", b("v"), opts(&other.id))
        .await
        .expect("put other");
    let before = current(s).await;
    let mut stream = watch(s, "/rv/", None).await;
    s.revoke_lease(&lease.id).await.expect("revoke");
    let events = next_events(&mut stream, 2).await;
    let mut keys: Vec<&str> = events.iter().map(|e| e.kv.key.as_str()).collect();
    keys.sort_unstable();
    assert_eq!(keys, vec!["/rv/a", "/rv/b"]);
    assert!(
        events
            .iter()
            .all(|e| e.kind == EventKind::Delete && e.revision() == before + 1)
    );
    assert_eq!(get(s, "/rv/a").await, None);
    assert!(
        get(s, "/rv/other").await.is_some(),
        "other leases are untouched"
    );

    assert_lease_not_found(s.revoke_lease(&lease.id).await, "revoke twice");
    assert_lease_not_found(s.keep_alive(&lease.id).await, "keep_alive after revoke");
    assert_lease_not_found(
        s.put("/rv/c", b("v"), opts(&lease.id)).await,
        "put with a revoked lease",
    );
    let garbage = LeaseId("not-a-lease".to_owned());
    assert_lease_not_found(s.keep_alive(&garbage).await, "keep_alive of a malformed id");
    assert_lease_not_found(s.revoke_lease(&garbage).await, "revoke of a malformed id");
    assert_eq!(get(s, "/rv/c").await, None);

    // A lease without keys revokes without creating a revision.
    let rev = current(s).await;
    s.revoke_lease(&other.id).await.expect("revoke other");
    let empty = s.grant_lease(Duration::from_secs(60)).await.expect("grant");
    let rev_after_other = current(s).await;
    assert_eq!(rev_after_other, rev + 1, "revoking `other` deleted its key");
    s.revoke_lease(&empty.id).await.expect("revoke empty lease");
    assert_eq!(current(s).await, rev_after_other);
}

/// A put without a lease detaches a key from its lease; a put with another
/// lease moves it.
pub async fn lease_rebinding(store: Arc<dyn StateStore>) {
    let s = store.as_ref();
    let l1 = s
        .grant_lease(Duration::from_secs(60))
        .await
        .expect("grant l1");
    let l2 = s
        .grant_lease(Duration::from_secs(60))
        .await
        .expect("grant l2");
    let with = |id: &LeaseId| PutOptions {
        precondition: Precondition::Any,
        lease: Some(id.clone()),
    };
    s.put("/rb/detached", b("v"), with(&l1.id))
        .await
        .expect("put");
    s.put("/rb/moved", b("v"), with(&l1.id)).await.expect("put");
    s.put("/rb/stays", b("v"), with(&l1.id)).await.expect("put");
    put(s, "/rb/detached", b"v2").await;
    s.put("/rb/moved", b("v2"), with(&l2.id))
        .await
        .expect("rebind");
    assert_eq!(must_get(s, "/rb/detached").await.lease, None);
    assert_eq!(must_get(s, "/rb/moved").await.lease, Some(l2.id.clone()));

    s.revoke_lease(&l1.id).await.expect("revoke l1");
    assert!(
        get(s, "/rb/detached").await.is_some(),
        "detached key survives"
    );
    assert!(get(s, "/rb/moved").await.is_some(), "moved key follows l2");
    assert_eq!(get(s, "/rb/stays").await, None);
    s.revoke_lease(&l2.id).await.expect("revoke l2");
    assert_eq!(get(s, "/rb/moved").await, None);
    let left: BTreeSet<String> = s
        .list("/rb/")
        .await
        .expect("list")
        .kvs
        .into_iter()
        .map(|kv| kv.key)
        .collect();
    assert_eq!(left, BTreeSet::from(["/rb/detached".to_owned()]));
}

/// A transaction that only checks a leased key (a fenced write: the
/// leader key is checked, another leased key is written) leaves the
/// checked key bound to its lease: revoking that lease still deletes it.
pub async fn lease_survives_a_check(store: Arc<dyn StateStore>) {
    let s = store.as_ref();
    let fence = s
        .grant_lease(Duration::from_secs(60))
        .await
        .expect("grant the fence lease");
    let other = s
        .grant_lease(Duration::from_secs(60))
        .await
        .expect("grant the other lease");
    let rev = s
        .put(
            "/chk/fence",
            b("me"),
            PutOptions {
                precondition: Precondition::Absent,
                lease: Some(fence.id.clone()),
            },
        )
        .await
        .expect("put the fence");
    s.txn(vec![
        TxnOp::Check {
            key: "/chk/fence".into(),
            precondition: Precondition::ModRevision(rev),
        },
        TxnOp::Put {
            key: "/chk/node".into(),
            value: b("n"),
            precondition: Precondition::Any,
            lease: Some(other.id.clone()),
        },
    ])
    .await
    .expect("a fenced txn binding another key");
    assert_eq!(
        must_get(s, "/chk/fence").await.lease,
        Some(fence.id.clone()),
        "a check does not unbind the checked key"
    );
    s.revoke_lease(&fence.id).await.expect("revoke the fence");
    assert_eq!(
        get(s, "/chk/fence").await,
        None,
        "the checked key goes with its lease"
    );
    assert!(get(s, "/chk/node").await.is_some(), "the other key stays");
    s.revoke_lease(&other.id).await.expect("revoke the other");
}

/// Revision, data with metadata, watch history and leases survive a
/// restart of the backend; new writes continue the revision sequence.
pub async fn restart_durability(mut harness: impl RestartHarness) {
    let store = harness.store();
    let s = store.as_ref();
    let first = put(s, "/dur/a", b"1").await;
    s.txn(vec![
        TxnOp::put("/dur/b", b("2")),
        TxnOp::put("/dur/c", b("3")),
    ])
    .await
    .expect("txn");
    s.delete("/dur/c", Precondition::Any).await.expect("delete");
    let lease = s
        .grant_lease(Duration::from_secs(120))
        .await
        .expect("grant lease");
    s.put(
        "/dur/leased",
        b("l"),
        PutOptions {
            precondition: Precondition::Any,
            lease: Some(lease.id.clone()),
        },
    )
    .await
    .expect("put bound to a lease");
    put(s, "/dur/a", b"1b").await;
    let rev = current(s).await;
    let listing = s.list("/dur/").await.expect("list");
    let mut stream = watch(s, "/dur/", Some(first)).await;
    let history = next_events(&mut stream, 6).await;
    assert_eq!(history.last().map(WatchEvent::revision), Some(rev));
    drop(stream);
    drop(store);

    harness.restart().await;

    let store = harness.store();
    let s = store.as_ref();
    assert_eq!(current(s).await, rev, "the revision survives a restart");
    let relisted = s.list("/dur/").await.expect("list after restart");
    assert_eq!(
        relisted.kvs, listing.kvs,
        "data and metadata survive a restart"
    );
    let mut stream = watch(s, "/dur/", Some(first)).await;
    let replayed = next_events(&mut stream, 6).await;
    assert_eq!(replayed, history, "watch history survives a restart");

    s.keep_alive(&lease.id)
        .await
        .expect("the lease survives a restart");
    s.revoke_lease(&lease.id)
        .await
        .expect("revoke after restart");
    let ev = next_event(&mut stream).await;
    assert_eq!(
        (ev.kind, ev.kv.key.as_str(), ev.revision()),
        (EventKind::Delete, "/dur/leased", rev + 1)
    );
    let next = put(s, "/dur/new", b"n").await;
    assert_eq!(next, rev + 2, "revisions continue after a restart");
}
