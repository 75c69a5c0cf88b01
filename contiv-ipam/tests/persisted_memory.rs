//! The persisted allocators on the in-process MemoryStore: commit protocol,
//! round trips, transactions with caller records, group pools, errors, and
//! the concurrency scenario.

#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use common::{Counting, hammer};
use contiv_core::store::keys::Keys;
use contiv_core::store::{Precondition, StateStore, StoreError, TxnOp};
use contiv_ipam::{
    IdPool, IdRanges, Ipam, IpamError, Ipv4Pool, Ipv4Range, Ipv4Spec, Ipv6Pool, Resource,
    RetryPolicy, VxlanPool,
};
use contiv_store::memory::MemoryStore;
use std::net::Ipv4Addr;
use std::sync::Arc;
use std::sync::atomic::Ordering;

fn mem() -> Arc<dyn StateStore> {
    Arc::new(MemoryStore::new())
}

fn a(s: &str) -> Ipv4Addr {
    s.parse().unwrap()
}

async fn network(ipam: &Ipam, key: &str, spec: &str, gw: Option<&str>) {
    ipam.network_v4(key)
        .create(Ipv4Pool::new(Ipv4Spec::parse(spec).unwrap(), gw.map(a)).unwrap())
        .await
        .unwrap();
}

#[tokio::test]
async fn allocations_persist_and_a_second_process_sees_them() {
    let store = mem();
    let ipam = Ipam::new(store.clone());
    network(&ipam, "default:orange", "10.1.1.0/24", Some("10.1.1.254")).await;
    let net = ipam.network_v4("default:orange");
    for i in 1..=3 {
        assert_eq!(net.allocate(None).await.unwrap(), a(&format!("10.1.1.{i}")));
    }
    // Another Ipam (another process) on the same store.
    let other = Ipam::new(store.clone());
    let net2 = other.network_v4("default:orange");
    assert_eq!(
        net2.read(|p| p.allocated_summary()).await.unwrap(),
        "10.1.1.1-10.1.1.3, 10.1.1.254"
    );
    assert_eq!(net2.allocate(None).await.unwrap(), a("10.1.1.4"));
    // The first handle's cache is stale; its next allocation loses the CAS,
    // re-reads, and still does not hand out .4.
    assert_eq!(net.allocate(None).await.unwrap(), a("10.1.1.5"));
    assert!(net2.release(a("10.1.1.2")).await.unwrap());
    assert_eq!(net.allocate(None).await.unwrap(), a("10.1.1.2"));
    // Requested addresses are checked against the stored state.
    let e = net2.allocate(Some(a("10.1.1.2"))).await.unwrap_err();
    assert!(matches!(e, IpamError::AlreadyTaken { .. }), "{e}");
    // The key is the documented layout.
    assert!(
        store
            .get(&Keys::default().alloc("ipv4", "default:orange"))
            .await
            .unwrap()
            .is_some()
    );
}

#[tokio::test]
async fn an_uncontended_allocation_is_one_round_trip() {
    let counting = Counting::new(mem());
    let ipam = Ipam::new(counting.clone());
    network(&ipam, "t:n", "10.2.0.0/16", None).await;
    let net = ipam.network_v4("t:n");
    let before = counting.round_trips();
    for _ in 0..100 {
        net.allocate(None).await.unwrap();
    }
    assert_eq!(
        counting.round_trips() - before,
        100,
        "one txn per allocation"
    );
    // Creating the pool filled the cache: no read at all.
    assert_eq!(counting.gets.load(Ordering::SeqCst), 0);
    // A new handle (a restarted process) reads once, then one txn each.
    let restarted = Ipam::new(counting.clone());
    let net2 = restarted.network_v4("t:n");
    let before = counting.round_trips();
    for _ in 0..10 {
        net2.allocate(None).await.unwrap();
    }
    assert_eq!(counting.round_trips() - before, 11);
    assert_eq!(counting.gets.load(Ordering::SeqCst), 1);
    // A failure is confirmed with one read (no write) when the cache is
    // current...
    let txns_before_failures = counting.txns.load(Ordering::SeqCst);
    let before = counting.round_trips();
    let e = net2.allocate(Some(a("10.2.0.1"))).await.unwrap_err();
    assert!(matches!(e, IpamError::AlreadyTaken { .. }), "{e}");
    assert_eq!(counting.round_trips() - before, 1);
    assert_eq!(counting.txns.load(Ordering::SeqCst), txns_before_failures);
    // ...while a stale cache (the first handle missed net2's writes)
    // believes 10.2.0.102 is free: its conditional write loses, the state
    // is re-read, and the request is refused — never a duplicate.
    let before = counting.round_trips();
    let e = net.allocate(Some(a("10.2.0.102"))).await.unwrap_err();
    assert!(matches!(e, IpamError::AlreadyTaken { .. }), "{e}");
    assert_eq!(counting.round_trips() - before, 2);
    assert_eq!(
        counting.txns.load(Ordering::SeqCst),
        txns_before_failures + 1
    );
}

/// A caller that gives up while its commit is in flight leaves no trace in
/// the cache: the next allocation re-reads the store instead of trusting a
/// state that was never written (which would leak the address).
#[tokio::test]
async fn a_cancelled_allocation_does_not_leak() {
    let counting = Counting::new(mem());
    let ipam = Ipam::new(counting.clone());
    network(&ipam, "t:cancel", "10.10.0.0/24", None).await;
    let net = ipam.network_v4("t:cancel");
    *counting.txn_delay.lock().unwrap() = std::time::Duration::from_millis(200);
    let r = tokio::time::timeout(std::time::Duration::from_millis(20), net.allocate(None)).await;
    assert!(r.is_err(), "the allocation should have been cut off");
    *counting.txn_delay.lock().unwrap() = std::time::Duration::ZERO;
    assert_eq!(net.allocate(None).await.unwrap(), a("10.10.0.1"));
    let fresh = Ipam::new(counting.inner.clone());
    assert_eq!(
        fresh
            .network_v4("t:cancel")
            .read(|p| p.allocated_summary())
            .await
            .unwrap(),
        "10.10.0.1"
    );
}

/// Concurrent allocations on one pool are combined into few commits.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn concurrent_updates_of_one_pool_share_commits() {
    let counting = Counting::new(mem());
    let ipam = Ipam::new(counting.clone());
    network(&ipam, "t:burst", "10.9.0.0/16", None).await;
    *counting.txn_delay.lock().unwrap() = std::time::Duration::from_millis(2);
    let before = counting.txns.load(Ordering::SeqCst);
    let joins: Vec<_> = (0..200)
        .map(|_| {
            let net = ipam.network_v4("t:burst");
            tokio::spawn(async move { net.allocate(None).await.unwrap() })
        })
        .collect();
    let mut got = Vec::new();
    for j in joins {
        got.push(j.await.unwrap());
    }
    got.sort();
    let want: Vec<Ipv4Addr> = (1..=200u32)
        .map(|i| Ipv4Addr::from(0x0a09_0000 + i))
        .collect();
    assert_eq!(got, want, "every address once, lowest first");
    let txns = counting.txns.load(Ordering::SeqCst) - before;
    eprintln!("{txns} commits for 200 concurrent allocations");
    assert!(txns <= 20, "{txns} commits for 200 concurrent allocations");
    let fresh = Ipam::new(counting.inner.clone());
    assert_eq!(
        fresh
            .network_v4("t:burst")
            .read(|p| p.allocated_summary())
            .await
            .unwrap(),
        "10.9.0.1-10.9.0.200"
    );
}

#[tokio::test]
async fn address_and_endpoint_record_commit_together() {
    let store = mem();
    let ipam = Ipam::new(store.clone());
    network(&ipam, "t:n", "10.3.0.0/24", None).await;
    let net = ipam.network_v4("t:n");
    let rec = ipam.keys().endpoint("t:n", "c1");
    let put_record = |ip: Ipv4Addr| TxnOp::Put {
        key: rec.clone(),
        value: ip.to_string().into_bytes(),
        precondition: Precondition::Absent,
        lease: None,
    };
    let (net_ref, put_ref) = (&net, &put_record);
    let (ip, rev) = ipam
        .transact(|mut tx| {
            Box::pin(async move {
                let ip = tx.stage(net_ref, |p| p.allocate()).await?;
                tx.push(put_ref(ip));
                Ok((tx, ip))
            })
        })
        .await
        .unwrap();
    assert_eq!(ip, a("10.3.0.1"));
    let kv = store.get(&rec).await.unwrap().unwrap();
    assert_eq!(kv.value, b"10.3.0.1");
    assert_eq!(kv.mod_revision, rev);
    // The record exists now: a second create fails on the record's
    // precondition and allocates nothing.
    let e = ipam
        .transact(|mut tx| {
            Box::pin(async move {
                let ip = tx.stage(net_ref, |p| p.allocate()).await?;
                tx.push(put_ref(ip));
                Ok((tx, ip))
            })
        })
        .await
        .unwrap_err();
    assert_eq!(
        e,
        IpamError::Store(StoreError::PreconditionFailed { key: rec.clone() })
    );
    let fresh = Ipam::new(store.clone());
    assert_eq!(
        fresh
            .network_v4("t:n")
            .read(|p| p.allocated_summary())
            .await
            .unwrap(),
        "10.3.0.1"
    );
    // And the failed attempt left no stale cache behind in the first handle.
    assert_eq!(net.allocate(None).await.unwrap(), a("10.3.0.2"));
    // Release + record delete, together.
    let rec_ref = &rec;
    ipam.transact(|mut tx| {
        Box::pin(async move {
            tx.stage(net_ref, |p| p.release(ip)).await?;
            tx.push(TxnOp::Delete {
                key: rec_ref.clone(),
                precondition: Precondition::Any,
            });
            Ok((tx, ()))
        })
    })
    .await
    .unwrap();
    assert!(store.get(&rec).await.unwrap().is_none());
    assert_eq!(net.allocate(None).await.unwrap(), a("10.3.0.1"));
}

/// A caller that runs the store transaction itself: take the ops, commit
/// them with its own, then report the revision.
#[tokio::test]
async fn ops_can_be_committed_by_the_caller() {
    let store = mem();
    let ipam = Ipam::new(store.clone());
    network(&ipam, "t:own", "10.8.0.0/24", None).await;
    let net = ipam.network_v4("t:own");
    let mut tx = ipam.begin();
    let ip = tx.stage(&net, |p| p.allocate()).await.unwrap();
    let mut ops = tx.ops();
    assert_eq!(ops.len(), 1);
    assert!(matches!(
        ops[0].precondition(),
        Precondition::ModRevision(_)
    ));
    ops.push(TxnOp::put("/elsewhere/rec", ip.to_string().into_bytes()));
    let resp = store.txn(ops).await.unwrap();
    tx.committed(resp.revision);
    // The cache was kept and is current: the next allocation needs no read.
    assert_eq!(net.allocate(None).await.unwrap(), a("10.8.0.2"));
    // Dropping a staged transaction without committing discards the change.
    let mut tx = ipam.begin();
    assert_eq!(
        tx.stage(&net, |p| p.allocate()).await.unwrap(),
        a("10.8.0.3")
    );
    drop(tx);
    assert_eq!(net.allocate(None).await.unwrap(), a("10.8.0.3"));
}

#[tokio::test]
async fn v4_and_v6_and_record_in_one_transaction() {
    let store = mem();
    let ipam = Ipam::new(store.clone());
    network(&ipam, "t:dual", "10.4.0.0/24", Some("10.4.0.254")).await;
    ipam.network_v6("t:dual")
        .create(
            Ipv6Pool::new(
                "2001:db8::/64".parse().unwrap(),
                Some("2001:db8::fe".parse().unwrap()),
            )
            .unwrap(),
        )
        .await
        .unwrap();
    let v4 = ipam.network_v4("t:dual");
    let v6 = ipam.network_v6("t:dual");
    let rec = ipam.keys().endpoint("t:dual", "c1");
    let (v4r, v6r, recr) = (&v4, &v6, &rec);
    let ((ip4, ip6), _) = ipam
        .transact(|mut tx| {
            Box::pin(async move {
                let ip4 = tx.stage(v4r, |p| p.allocate()).await?;
                let ip6 = tx.stage(v6r, |p| p.allocate()).await?;
                tx.push(TxnOp::put(
                    recr.clone(),
                    format!("{ip4} {ip6}").into_bytes(),
                ));
                Ok((tx, (ip4, ip6)))
            })
        })
        .await
        .unwrap();
    assert_eq!(ip4, a("10.4.0.1"));
    assert_eq!(ip6, "2001:db8::1".parse::<std::net::Ipv6Addr>().unwrap());
    // IPv6 addresses are released like IPv4 ones (the original leaked them).
    assert!(v6.release(ip6).await.unwrap());
    assert_eq!(v6.allocate(None).await.unwrap(), ip6);
}

#[tokio::test]
async fn group_pools_are_carved_atomically_and_refuse_deletion_while_used() {
    let ipam = Ipam::new(mem());
    network(&ipam, "t:net", "10.1.0.0/16", Some("10.1.1.254")).await;
    let net = ipam.network_v4("t:net");
    let grp = ipam.group_v4("t:epg1");
    net.allocate(Some(a("10.1.0.5"))).await.unwrap();
    let range = Ipv4Range::parse("10.1.0.1-10.1.0.10").unwrap();
    // .5 is taken: the carve is refused and no group pool is created.
    let e = ipam.create_group_pool(&net, &grp, range).await.unwrap_err();
    assert!(matches!(e, IpamError::AlreadyTaken { .. }), "{e}");
    assert!(!grp.exists().await.unwrap());
    net.release(a("10.1.0.5")).await.unwrap();
    ipam.create_group_pool(&net, &grp, range).await.unwrap();
    assert_eq!(grp.allocate(None).await.unwrap(), a("10.1.0.1"));
    assert_eq!(net.allocate(None).await.unwrap(), a("10.1.0.11"));
    // Creating it again fails with PoolExists and leaves the network alone.
    let other = Ipv4Range::parse("10.1.5.1-10.1.5.2").unwrap();
    let e = ipam.create_group_pool(&net, &grp, other).await.unwrap_err();
    assert!(matches!(e, IpamError::PoolExists { .. }), "{e}");
    assert!(net.allocate(Some(a("10.1.5.1"))).await.is_ok());
    let e = ipam.delete_group_pool(&net, &grp).await.unwrap_err();
    assert_eq!(
        e.to_string(),
        format!(
            "pool {} still has 1 allocated addresses: release them first",
            grp.key()
        )
    );
    grp.release(a("10.1.0.1")).await.unwrap();
    ipam.delete_group_pool(&net, &grp).await.unwrap();
    assert!(!grp.exists().await.unwrap());
    assert_eq!(net.allocate(None).await.unwrap(), a("10.1.0.1"));
}

#[tokio::test]
async fn global_id_pools_persist_range_changes() {
    let ipam = Ipam::new(mem());
    let vlans = ipam.vlans();
    let ranges = IdRanges::parse(Resource::Vlan, "1-4094").unwrap();
    assert!(
        vlans
            .ensure(IdPool::new(Resource::Vlan, ranges.clone()).unwrap())
            .await
            .unwrap()
    );
    assert!(
        !vlans
            .ensure(IdPool::new(Resource::Vlan, ranges).unwrap())
            .await
            .unwrap()
    );
    assert_eq!(vlans.allocate(None).await.unwrap(), 1);
    vlans.allocate(Some(300)).await.unwrap();
    let e = vlans
        .set_ranges(IdRanges::parse(Resource::Vlan, "2-4094").unwrap())
        .await
        .unwrap_err();
    assert!(matches!(e, IpamError::RangeOrphans { .. }), "{e}");
    vlans
        .set_ranges(IdRanges::parse(Resource::Vlan, "1-300").unwrap())
        .await
        .unwrap();
    let fresh = Ipam::new(ipam.store().clone());
    assert_eq!(fresh.vlans().read(|p| p.summary()).await.unwrap(), "1, 300");
    assert_eq!(
        fresh
            .vlans()
            .read(|p| p.ranges().to_string())
            .await
            .unwrap(),
        "1-300"
    );

    let vx = ipam.vxlans();
    vx.create(VxlanPool::new(IdRanges::parse(Resource::Vxlan, "1-10000").unwrap()).unwrap())
        .await
        .unwrap();
    assert_eq!(vx.allocate(None).await.unwrap(), (1, 1));
    assert_eq!(vx.allocate(Some(1000)).await.unwrap(), (1000, 2));
    assert_eq!(vx.release(1).await.unwrap(), Some(1));
    assert_eq!(fresh.vxlans().allocate(None).await.unwrap(), (1, 1));

    // EPG ids come from a persisted pool: a restarted netmaster (a new
    // Ipam) continues where the old one stopped instead of restarting at 1.
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
    for want in 1..=3 {
        assert_eq!(epg.allocate(None).await.unwrap(), want);
    }
    let restarted = Ipam::new(ipam.store().clone());
    assert_eq!(restarted.epg_ids().allocate(None).await.unwrap(), 4);
}

#[tokio::test]
async fn errors_are_typed() {
    let store = mem();
    let ipam = Ipam::new(store.clone());
    // Unknown pool.
    let e = ipam.network_v4("t:none").allocate(None).await.unwrap_err();
    assert!(matches!(e, IpamError::UnknownPool { .. }), "{e}");
    // Exists.
    network(&ipam, "t:small", "10.5.0.0/30", None).await;
    let e = ipam
        .network_v4("t:small")
        .create(Ipv4Pool::new(Ipv4Spec::parse("10.5.0.0/30").unwrap(), None).unwrap())
        .await
        .unwrap_err();
    assert!(matches!(e, IpamError::PoolExists { .. }), "{e}");
    // Exhausted, with the original's text.
    let small = ipam.network_v4("t:small");
    small.allocate(None).await.unwrap();
    small.allocate(None).await.unwrap();
    assert_eq!(
        small.allocate(None).await.unwrap_err().to_string(),
        "auto allocation failed - address exhaustion in subnet 10.5.0.0/30"
    );
    // In use.
    assert!(matches!(
        small.delete().await,
        Err(IpamError::PoolInUse { count: 2, .. })
    ));
    // Wrong state type under a key.
    let e = ipam
        .network_v4("t:x")
        .create(
            Ipv4Pool::new_group(
                &Ipv4Spec::parse("10.6.0.0/24").unwrap(),
                Ipv4Range::parse("10.6.0.1-10.6.0.5").unwrap(),
            )
            .unwrap(),
        )
        .await
        .unwrap_err();
    assert!(matches!(e, IpamError::InvalidSpec { .. }), "{e}");
    // Corrupt bytes in the store.
    let key = ipam.keys().alloc("ipv4", "t:bad");
    store
        .put(&key, vec![1, 1, 0xff], Default::default())
        .await
        .unwrap();
    let e = ipam.network_v4("t:bad").allocate(None).await.unwrap_err();
    match e {
        IpamError::Corrupt { key: k, .. } => assert_eq!(k, key),
        other => panic!("expected Corrupt, got {other}"),
    }
    // A VLAN state under the EPG key is refused on load.
    let vkey = ipam.keys().alloc("epg", "global");
    let vlan_state = IdPool::new(
        Resource::Vlan,
        IdRanges::parse(Resource::Vlan, "1-10").unwrap(),
    )
    .unwrap();
    store
        .put(
            &vkey,
            contiv_ipam::AllocState::encode(&vlan_state),
            Default::default(),
        )
        .await
        .unwrap();
    assert!(matches!(
        ipam.epg_ids().allocate(None).await,
        Err(IpamError::Corrupt { .. })
    ));
}

#[tokio::test]
async fn a_write_that_never_wins_gives_a_contention_error() {
    let counting = Counting::new(mem());
    let policy = RetryPolicy {
        max_attempts: 4,
        ..RetryPolicy::default()
    };
    let ipam = Ipam::with_options(counting.clone(), Keys::default(), policy);
    network(&ipam, "t:busy", "10.7.0.0/24", None).await;
    *counting.fail_prefix.lock().unwrap() = Some(ipam.keys().alloc("ipv4", "t:busy"));
    let before = counting.txns.load(Ordering::SeqCst);
    let e = ipam.network_v4("t:busy").allocate(None).await.unwrap_err();
    assert_eq!(
        e,
        IpamError::Contention {
            key: ipam.keys().alloc("ipv4", "t:busy"),
            attempts: 4
        }
    );
    assert_eq!(counting.txns.load(Ordering::SeqCst) - before, 4);
    *counting.fail_prefix.lock().unwrap() = None;
    // Nothing was allocated by the failed attempts.
    assert_eq!(
        ipam.network_v4("t:busy").allocate(None).await.unwrap(),
        a("10.7.0.1")
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn concurrent_allocators_on_the_memory_store_never_duplicate() {
    let store = mem();
    hammer(vec![store.clone(), store], "t:hammer", 8, 60).await;
}
