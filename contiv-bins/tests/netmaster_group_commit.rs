//! Intent writes that arrive together are committed together (one store
//! transaction per group), each checked against the writes before it: the
//! outcome is the one they would have had one after another.
//!
//! The writes are started on a current-thread runtime before netmaster's
//! write runner gets to run, so they land in one queue drain and the
//! grouping is deterministic.

use contiv_bins::netmaster::collections::Collection;
use contiv_bins::netmaster::leader::Election;
use contiv_bins::netmaster::{ApiResult, ErrorKind, Netmaster, RuntimeSettings};
use contiv_core::store::StateStore;
use contiv_core::store::keys::Keys;
use contiv_store::memory::MemoryStore;
use futures::future::join_all;
use serde_json::{Value, json};
use std::collections::BTreeSet;
use std::sync::Arc;

async fn netmaster() -> Arc<Netmaster> {
    let store: Arc<dyn StateStore> = Arc::new(MemoryStore::new());
    let keys = Keys::default();
    let election = Election::single(keys.leader(), "http://nm".into());
    let nm = Netmaster::new(store, keys, RuntimeSettings::default(), election)
        .await
        .expect("netmaster");
    nm.initialize().await.expect("initialize");
    nm
}

async fn put(nm: &Netmaster, c: Collection, key: &str, body: Value) -> ApiResult<Value> {
    nm.upsert(c, key, body.to_string().as_bytes()).await
}

fn rule(policy: &str, id: usize) -> (String, Value) {
    (
        format!("default:{policy}:r{id}"),
        json!({"tenantName": "default", "policyName": policy, "ruleId": format!("r{id}"),
               "direction": "in", "action": "allow", "protocol": "tcp", "port": 1000 + id,
               "priority": 1}),
    )
}

/// Revisions at which the cache holds the objects of type `ty` with `keys`.
fn revisions(nm: &Netmaster, ty: &str, keys: &[String]) -> BTreeSet<u64> {
    let v = nm.cache().read();
    keys.iter()
        .map(|k| {
            v.rev(&nm.keys().object(ty, k))
                .unwrap_or_else(|| panic!("{ty} {k} not in the cache"))
        })
        .collect()
}

#[tokio::test]
async fn concurrent_writes_share_one_commit_and_a_refused_one_leaves_no_trace() {
    let nm = netmaster().await;
    put(
        &nm,
        Collection::Policys,
        "default:p",
        json!({"tenantName": "default", "policyName": "p"}),
    )
    .await
    .expect("policy");
    let mut writes: Vec<(String, Value)> = (0..16).map(|i| rule("p", i)).collect();
    // One of them names a policy that does not exist.
    writes.insert(7, rule("missing", 99));
    let results = join_all(
        writes
            .iter()
            .map(|(k, b)| put(&nm, Collection::Rules, k, b.clone())),
    )
    .await;
    for (i, r) in results.iter().enumerate() {
        if i == 7 {
            let e = r.as_ref().expect_err("a rule of a missing policy");
            assert_eq!(e.kind, ErrorKind::NotFound, "{e}");
        } else {
            r.as_ref().expect("rule created");
        }
    }
    let created: Vec<String> = writes
        .iter()
        .enumerate()
        .filter(|(i, _)| *i != 7)
        .map(|(_, (k, _))| k.clone())
        .collect();
    assert_eq!(
        revisions(&nm, "rule", &created).len(),
        1,
        "16 concurrent rule creates are one commit"
    );
    assert!(!nm.cache().read().rules.contains_key("default:missing:r99"));
    // Identical re-sends are answered without a write, in a group too.
    let before = nm.cache().revision();
    let again = join_all(
        writes[..4]
            .iter()
            .map(|(k, b)| put(&nm, Collection::Rules, k, b.clone())),
    )
    .await;
    assert!(again.iter().all(|r| r.is_ok()));
    assert_eq!(nm.cache().revision(), before);
}

#[tokio::test]
async fn each_write_of_a_group_is_checked_against_the_ones_before_it() {
    let nm = netmaster().await;
    let net = |name: &str, subnet: &str| json!({"tenantName": "default", "networkName": name, "encap": "vxlan", "subnet": subnet});
    let results = join_all([
        put(
            &nm,
            Collection::Networks,
            "default:a",
            net("a", "10.9.0.0/16"),
        ),
        // Overlaps a: refused, as it would be after a.
        put(
            &nm,
            Collection::Networks,
            "default:b",
            net("b", "10.9.1.0/24"),
        ),
        put(
            &nm,
            Collection::Networks,
            "default:c",
            net("c", "10.10.0.0/16"),
        ),
        // A group named like network c: refused.
        put(
            &nm,
            Collection::EndpointGroups,
            "default:c",
            json!({"tenantName": "default", "groupName": "c", "networkName": "a"}),
        ),
    ])
    .await;
    results[0].as_ref().expect("a");
    let e = results[1].as_ref().expect_err("b overlaps a");
    assert_eq!(e.kind, ErrorKind::Conflict, "{e}");
    assert!(e.message.contains("conflicts with subnet"), "{e}");
    results[2].as_ref().expect("c");
    let e = results[3]
        .as_ref()
        .expect_err("group c clashes with network c");
    assert_eq!(e.kind, ErrorKind::Conflict, "{e}");
    // a and c got different VXLAN tags from the shared pool in one commit.
    let v = nm.cache().read();
    let (ta, tc) = (
        v.network_states["default:a"].ext_pkt_tag,
        v.network_states["default:c"].ext_pkt_tag,
    );
    assert_ne!(ta, tc);
    assert_eq!(
        revisions(&nm, "network", &["default:a".into(), "default:c".into()]).len(),
        1
    );
    drop(v);

    // A write that depends on one staged in the same group (a network in
    // a tenant created alongside) waits for the next group and succeeds.
    let results = join_all([
        put(
            &nm,
            Collection::Tenants,
            "t2",
            json!({"tenantName": "t2"}),
        ),
        put(
            &nm,
            Collection::Networks,
            "t2:n",
            json!({"tenantName": "t2", "networkName": "n", "encap": "vxlan", "subnet": "10.20.0.0/24"}),
        ),
    ])
    .await;
    results[0].as_ref().expect("tenant");
    results[1].as_ref().expect("network in the new tenant");
    let v = nm.cache().read();
    assert!(
        v.rev(&nm.keys().object("tenant", "t2")).unwrap()
            < v.rev(&nm.keys().object("network", "t2:n")).unwrap()
    );
    drop(v);

    // Deletes group too, and a delete refused by a guard leaves the others.
    let results = join_all([
        nm.delete(Collection::Networks, "default:a"),
        nm.delete(Collection::Networks, "default:c"),
        nm.delete(Collection::Tenants, "t2"),
    ])
    .await;
    results[0].as_ref().expect("delete a");
    results[1].as_ref().expect("delete c");
    let e = results[2].as_ref().expect_err("t2 still holds a network");
    assert_eq!(e.kind, ErrorKind::Conflict, "{e}");
    let v = nm.cache().read();
    assert!(v.networks.get("default:a").is_none() && v.networks.get("default:c").is_none());
    assert!(v.tenants.contains_key("t2"));
}
