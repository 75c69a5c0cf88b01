//! A short, honest tour of the embedded store (`make demo`).
//!
//! Opens an [`EmbeddedStore`] in a temporary directory, creates tenant
//! `default`, network `default:contiv-net` (10.1.2.0/24, vxlan) and EPG
//! `default:db` through the typed API, shows the revisions, a watch event
//! and a compare-and-swap conflict, closes the store, reopens the file and
//! checks that everything (objects, revision, history) came back. Exits
//! non-zero on any mismatch.

use contiv_core::model::{EndpointGroup, ModelObject, Network, Tenant};
use contiv_core::store::keys::Keys;
use contiv_core::store::{PutOptions, StateStore, StoreError, StoreExt, TypedKv};
use contiv_store::embedded::EmbeddedStore;
use futures::StreamExt;
use std::process::ExitCode;
use std::time::Duration;

/// Everything that can go wrong in the tour.
#[derive(Debug)]
enum TourError {
    Store(String, StoreError),
    Mismatch(String),
}

impl std::fmt::Display for TourError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            TourError::Store(what, e) => write!(f, "{what}: {e}"),
            TourError::Mismatch(m) => write!(f, "mismatch: {m}"),
        }
    }
}

fn ctx<T>(what: &str, r: Result<T, StoreError>) -> Result<T, TourError> {
    r.map_err(|e| TourError::Store(what.to_owned(), e))
}

fn check(cond: bool, what: impl Into<String>) -> Result<(), TourError> {
    if cond {
        Ok(())
    } else {
        Err(TourError::Mismatch(what.into()))
    }
}

/// Validates an object and checks its key against its key fields.
fn validated<T: ModelObject>(mut obj: T) -> Result<T, TourError> {
    obj.apply_defaults();
    obj.validate()
        .map_err(|e| TourError::Mismatch(format!("{} {:?} is invalid: {e}", T::TYPE, obj.key())))?;
    check(
        obj.derived_key() == obj.key(),
        format!("{} key {:?} != {:?}", T::TYPE, obj.key(), obj.derived_key()),
    )?;
    Ok(obj)
}

async fn create<T: ModelObject>(
    store: &EmbeddedStore,
    keys: &Keys,
    obj: &T,
) -> Result<u64, TourError> {
    let key = keys.object(T::TYPE, obj.key());
    let rev = ctx(
        &format!("create {key}"),
        store.put_json(&key, obj, PutOptions::absent()).await,
    )?;
    println!(
        "   created {:<15} {:<20} at revision {rev}",
        T::TYPE,
        obj.key()
    );
    Ok(rev)
}

async fn read_back<T>(store: &EmbeddedStore, keys: &Keys, want: &T) -> Result<TypedKv<T>, TourError>
where
    T: ModelObject + PartialEq + std::fmt::Debug,
{
    let key = keys.object(T::TYPE, want.key());
    let got = ctx(&format!("read {key}"), store.get_json::<T>(&key).await)?
        .ok_or_else(|| TourError::Mismatch(format!("{key} is missing after reopen")))?;
    check(
        &got.value == want,
        format!("{key}: read {:?}, wrote {want:?}", got.value),
    )?;
    println!(
        "   {:<15} {:<20} ok (mod_revision {})",
        T::TYPE,
        want.key(),
        got.mod_revision
    );
    Ok(got)
}

async fn tour() -> Result<(), TourError> {
    let dir = tempfile::tempdir()
        .map_err(|e| TourError::Mismatch(format!("cannot create a temp dir: {e}")))?;
    let path = dir.path().join("contiv-state.redb");
    let keys = Keys::default();

    let tenant = validated(Tenant {
        key: "default".into(),
        tenant_name: "default".into(),
        ..Tenant::default()
    })?;
    let mut network = validated(Network {
        key: "default:contiv-net".into(),
        tenant_name: "default".into(),
        network_name: "contiv-net".into(),
        subnet: "10.1.2.0/24".into(),
        encap: "vxlan".into(),
        ..Network::default()
    })?;
    let epg = validated(EndpointGroup {
        key: "default:db".into(),
        tenant_name: "default".into(),
        group_name: "db".into(),
        network_name: "contiv-net".into(),
        ..EndpointGroup::default()
    })?;

    println!("1. open {}", path.display());
    let store = ctx("open", EmbeddedStore::open(&path))?;
    let mut watch = ctx("watch", store.watch(&keys.all_objects(), None).await)?;
    println!(
        "   store revision {}",
        ctx("revision", store.current_revision().await)?
    );

    println!("2. create objects (each a put with precondition Absent)");
    create(&store, &keys, &tenant).await?;
    let net_rev = create(&store, &keys, &network).await?;
    create(&store, &keys, &epg).await?;

    println!("3. the watch on {} saw:", keys.all_objects());
    for _ in 0..3 {
        let ev = tokio::time::timeout(Duration::from_secs(10), watch.next())
            .await
            .map_err(|_| TourError::Mismatch("no watch event within 10 s".into()))?
            .ok_or_else(|| TourError::Mismatch("watch ended".into()))?;
        let ev = ctx("watch event", ev)?;
        println!(
            "   {:?} {} at revision {}",
            ev.kind,
            ev.kv.key,
            ev.revision()
        );
    }

    println!("4. compare-and-swap");
    let net_key = keys.object(Network::TYPE, network.key());
    network.gateway = "10.1.2.1".into();
    let network = validated(network)?;
    let upd = ctx(
        "update network",
        store
            .put_json(&net_key, &network, PutOptions::at_revision(net_rev))
            .await,
    )?;
    println!("   set gateway 10.1.2.1 with ModRevision({net_rev}): ok at revision {upd}");
    match store
        .put_json(&net_key, &network, PutOptions::at_revision(net_rev))
        .await
    {
        Err(e @ StoreError::PreconditionFailed { .. }) => {
            println!("   same write again with ModRevision({net_rev}): refused, as it must be: {e}")
        }
        other => {
            return Err(TourError::Mismatch(format!(
                "stale CAS write was not refused: {other:?}"
            )));
        }
    }
    let tenant_key = keys.object(Tenant::TYPE, tenant.key());
    match store
        .put_json(&tenant_key, &tenant, PutOptions::absent())
        .await
    {
        Err(StoreError::PreconditionFailed { .. }) => {
            println!("   create tenant default again with Absent: refused (it exists)")
        }
        other => {
            return Err(TourError::Mismatch(format!(
                "duplicate create was not refused: {other:?}"
            )));
        }
    }
    let rev = ctx("revision", store.current_revision().await)?;
    println!("   store revision {rev} (refused writes create none)");
    check(
        rev == upd,
        format!("revision {rev} after refused writes, expected {upd}"),
    )?;

    println!("5. close the store and reopen the file");
    drop(watch);
    drop(store);
    let store = ctx("reopen", EmbeddedStore::open(&path))?;
    let reopened = ctx("revision", store.current_revision().await)?;
    println!("   store revision {reopened}");
    check(
        reopened == rev,
        format!("revision {reopened} after reopen, expected {rev}"),
    )?;
    read_back(&store, &keys, &tenant).await?;
    let net = read_back(&store, &keys, &network).await?;
    check(
        net.mod_revision == upd,
        "the network keeps its mod_revision",
    )?;
    read_back(&store, &keys, &epg).await?;
    let (nets, at) = ctx(
        "list networks",
        store
            .list_json::<Network>(&keys.objects(Network::TYPE))
            .await,
    )?;
    check(
        nets.len() == 1 && at == rev,
        format!("list: {} networks at revision {at}", nets.len()),
    )?;

    let mut history = ctx(
        "watch history",
        store.watch(&keys.all_objects(), Some(1)).await,
    )?;
    let mut replayed = 0;
    while replayed < rev {
        let ev = tokio::time::timeout(Duration::from_secs(10), history.next())
            .await
            .map_err(|_| TourError::Mismatch("history replay stalled".into()))?
            .ok_or_else(|| TourError::Mismatch("history ended early".into()))?;
        replayed = ctx("history event", ev)?.revision();
    }
    println!("   watch from revision 1 replays history up to revision {replayed}");
    println!("tour ok: 3 objects, {rev} revisions, everything survived the reopen");
    Ok(())
}

#[tokio::main(flavor = "current_thread")]
async fn main() -> ExitCode {
    match tour().await {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("embedded-store-tour FAILED: {e}");
            ExitCode::FAILURE
        }
    }
}
