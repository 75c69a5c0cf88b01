//! The netmasters of a cluster, for `/info`'s `netmaster-nodes`.
//!
//! On a shared store every netmaster publishes its control URL under
//! `<root>state/netmasters/<host:port>`, bound to a lease of the leader TTL
//! that it renews every third of the TTL (the original's service registry
//! entry `netmaster`). A netmaster that dies drops out within one TTL; one
//! that stops normally revokes its lease at once. A single-node netmaster
//! (embedded or memory store) registers nothing and is the only member.

use contiv_core::store::keys::Keys;
use contiv_core::store::{LeaseId, Precondition, PutOptions, StateStore, StoreError, StoreResult};
use std::sync::Arc;
use std::time::Duration;
use tokio::sync::watch;
use tracing::{debug, warn};

/// Prefix of the member keys.
pub fn prefix(keys: &Keys) -> String {
    keys.state("netmasters/")
}

/// The member key of the netmaster whose control URL is `me`.
pub fn key(keys: &Keys, me: &str) -> String {
    let id = me.rsplit("://").next().unwrap_or(me).replace('/', "_");
    format!("{}{id}", prefix(keys))
}

/// The control URLs of every registered netmaster, sorted.
pub async fn list(store: &dyn StateStore, keys: &Keys) -> StoreResult<Vec<String>> {
    let resp = store.list(&prefix(keys)).await?;
    let mut urls: Vec<String> = resp
        .kvs
        .iter()
        .map(|kv| String::from_utf8_lossy(&kv.value).into_owned())
        .collect();
    urls.sort();
    Ok(urls)
}

async fn register(
    store: &dyn StateStore,
    key: &str,
    me: &str,
    ttl: Duration,
) -> StoreResult<LeaseId> {
    let lease = store.grant_lease(ttl).await?;
    store
        .put(
            key,
            me.as_bytes().to_vec(),
            PutOptions {
                precondition: Precondition::Any,
                lease: Some(lease.id.clone()),
            },
        )
        .await?;
    debug!(key, "registered as a netmaster member");
    Ok(lease.id)
}

/// Keeps this netmaster registered until `stop` turns true, then revokes
/// the registration.
pub async fn run(
    store: Arc<dyn StateStore>,
    keys: Keys,
    me: String,
    ttl: Duration,
    mut stop: watch::Receiver<bool>,
) {
    let key = key(&keys, &me);
    let period = (ttl / 3).max(Duration::from_millis(50));
    let mut lease: Option<LeaseId> = None;
    loop {
        if lease.is_none() {
            match register(store.as_ref(), &key, &me, ttl).await {
                Ok(l) => lease = Some(l),
                Err(e) => warn!(error = %e, "cannot register as a netmaster member; retrying"),
            }
        } else if let Some(l) = &lease {
            match store.keep_alive(l).await {
                Ok(_) => {}
                Err(StoreError::LeaseNotFound(_)) => lease = None,
                Err(e) => warn!(error = %e, "cannot renew the netmaster member lease"),
            }
        }
        tokio::select! {
            _ = tokio::time::sleep(period) => {}
            r = stop.wait_for(|s| *s) => {
                let _ = r;
                break;
            }
        }
    }
    if let Some(l) = lease {
        let _ = store.revoke_lease(&l).await;
    }
}
