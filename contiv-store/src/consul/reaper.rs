//! Turns ended sessions into delete events: the keys bound to a lease
//! whose session is gone are deleted in one revision, logged like any
//! write.
//!
//! Every [`ConsulStore`](super::ConsulStore) runs one reaper task: a
//! blocking query on `/v1/session/list` wakes it when a session is created,
//! destroyed or invalidated, and it also sweeps whenever the query returns
//! after its wait without a change, so a key bound to a session that ended
//! during a racing write is still reaped. Several reapers (one per
//! netmaster) are safe: each reap is a counter-`cas` write; the loser
//! re-reads and finds nothing left.

use super::api::{KvOp, TxnOp as ConsulOp};
use super::layout::{Envelope, LogRecord};
use super::{Core, delete_event, nonce, store_error};
use contiv_core::store::{StoreError, StoreResult};
use std::collections::HashSet;
use std::sync::Weak;
use std::time::Duration;

/// Stops the reaper task when dropped.
pub struct Guard(tokio::task::JoinHandle<()>);

impl Drop for Guard {
    fn drop(&mut self) {
        self.0.abort();
    }
}

/// Starts the reaper of `core`.
pub fn spawn(core: Weak<Core>) -> Guard {
    Guard(tokio::spawn(run(core)))
}

async fn run(weak: Weak<Core>) {
    let mut index = 0u64;
    loop {
        let Some(core) = weak.upgrade() else { return };
        let wait = core.options.watch_wait;
        let listed = core.client.session_list(index, wait).await;
        match listed {
            Ok((sessions, new_index)) => {
                // An index that goes backwards (another agent, a restart)
                // restarts the blocking sequence.
                index = if new_index < index { 0 } else { new_index };
                let live: HashSet<String> = sessions.into_iter().map(|s| s.id).collect();
                if let Err(e) = sweep(&core, &live).await {
                    tracing::warn!(error = %e, "Consul lease reaper: sweep failed; retrying");
                    tokio::time::sleep(Duration::from_secs(1)).await;
                }
            }
            Err(e) => {
                tracing::debug!(error = %e, "Consul lease reaper: session list failed");
                index = 0;
                drop(core);
                tokio::time::sleep(Duration::from_secs(1)).await;
            }
        }
    }
}

/// Reaps every lease of the index that is not among `live` (confirmed gone
/// with a consistent lookup, since the listing may be older than the index).
async fn sweep(core: &Core, live: &HashSet<String>) -> StoreResult<()> {
    let (index, _) = core.lease_index().await?;
    for lease in index.keys() {
        if live.contains(lease) {
            continue;
        }
        let gone = core
            .client
            .session_info(lease)
            .await
            .map_err(|e| store_error("session info", e))?
            .is_none();
        if gone {
            tracing::info!(lease = %lease, "lease ended; deleting its keys");
            reap(core, lease).await?;
        }
    }
    Ok(())
}

/// Deletes the keys bound to the ended lease `lease` (one revision, with
/// delete events) and drops it from the lease index.
pub async fn reap(core: &Core, lease: &str) -> StoreResult<()> {
    // Room for the counter, log record, history trim and index update.
    const MAX_KEYS: usize = super::api::MAX_TXN_OPS - 4;
    loop {
        let snap = core.snapshot(&[]).await?;
        let (mut index, index_mod) = core.lease_index().await?;
        let Some(bound) = index.remove(lease) else {
            return Ok(());
        };
        // Which of them are still bound to it (the index may be stale).
        let mut victims = Vec::new();
        let keys: Vec<&String> = bound.iter().collect();
        for chunk in keys.chunks(super::api::MAX_TXN_OPS) {
            let results = core
                .read(
                    chunk
                        .iter()
                        .map(|k| ConsulOp::from(KvOp::get_or_empty(core.layout.data(k))))
                        .collect(),
                )
                .await?;
            for kv in &results {
                if kv.modify_index == 0 {
                    continue;
                }
                let env = Envelope::decode(&kv.key, kv.value.as_deref().unwrap_or_default())?;
                if env.lease.as_ref().is_some_and(|l| l.0 == lease)
                    && let Some(key) = core.layout.key_of(&kv.key)
                {
                    victims.push(key.to_owned());
                }
            }
        }
        if victims.is_empty() {
            let ops = [ConsulOp::from(KvOp::cas(
                core.layout.leases(),
                super::layout::encode_leases(&index),
                index_mod,
            ))];
            match core.client.txn(&ops).await {
                Ok(super::client::TxnOutcome::Applied(_)) => return Ok(()),
                Ok(super::client::TxnOutcome::RolledBack(_)) => continue,
                Err(e) => return Err(store_error("lease index", e)),
            }
        }
        let rest = victims.split_off(victims.len().min(MAX_KEYS));
        if !rest.is_empty() {
            index.insert(lease.to_owned(), rest.into_iter().collect());
        }
        let new_rev = snap.rev + 1;
        let nonce = nonce();
        let record = LogRecord {
            nonce,
            events: victims
                .iter()
                .map(|k| delete_event(k.clone(), new_rev))
                .collect(),
        };
        let mut ops = core.write_head(snap.rev, snap.rev_index, &record);
        ops.extend(
            victims
                .iter()
                .map(|k| ConsulOp::from(KvOp::delete(core.layout.data(k)))),
        );
        ops.push(ConsulOp::from(KvOp::set(
            core.layout.leases(),
            super::layout::encode_leases(&index),
            0,
        )));
        match core.commit(&ops, new_rev, nonce).await {
            Ok(true) if index.contains_key(lease) => continue,
            Ok(true) => return Ok(()),
            Ok(false) => tokio::time::sleep(Duration::from_millis(2)).await,
            Err(StoreError::InvalidArgument(m)) => return Err(StoreError::Backend(m)),
            Err(e) => return Err(e),
        }
    }
}
