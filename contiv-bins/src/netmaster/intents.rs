//! Changes too large for one store transaction, made all-or-nothing
//! across a crash with an intent record that recovery completes.
//!
//! A store transaction holds at most [`MAX_TXN_OPS`] operations (Consul's
//! limit; etcd's default is 128). Deleting a policy deletes its rules too,
//! and a policy may hold thousands. Such a change is committed as:
//!
//! 1. **the deciding transaction**: the change's main object (the policy)
//!    is deleted with its preconditions, as many dependent deletes as fit,
//!    and an intent record `<root>state/intent/<kind>/<key>` listing every
//!    remaining delete is written — all in one fenced transaction. Before
//!    it commits the store is unchanged; once it commits the change is
//!    decided and will be completed;
//! 2. **roll-forward**: the remaining deletes in chunks (each delete is
//!    idempotent: `Precondition::Any` on a key only this change removes),
//!    then the record is deleted.
//!
//! A leader that dies between the two steps leaves the record; the next
//! leader term completes every record in [`Netmaster::initialize`] before
//! it accepts any model write (`Netmaster::writable`), so no request can
//! ever see or build on a half-deleted policy once a leader serves writes,
//! and after a crash the store ends up exactly "before" or "after" each
//! change. (The crash-consistency test kills netmaster at random points of
//! such deletes and checks this.)
//!
//! Records live under `state/`, which is neither cached nor streamed to
//! agents.

use super::fenced::MAX_FENCED_OPS;
use super::{ApiError, ApiResult, Netmaster};
use contiv_core::store::{MAX_TXN_OPS, Precondition, TxnOp, decode_json};
use contiv_ipam::AllocTxn;
use serde::{Deserialize, Serialize};
use std::sync::atomic::Ordering;
use tracing::{info, warn};

/// The stored intent: what remains to be done to complete a change.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct IntentRecord {
    /// What the change is, for logs (`delete policy default:p`).
    pub what: String,
    /// Full store keys still to delete.
    pub deletes: Vec<String>,
}

/// Deletes per roll-forward transaction (the last one also deletes the
/// record).
const DELETES_PER_TXN: usize = MAX_FENCED_OPS - 1;

/// Unconditional deletes of `keys` (each key is removed only by the change
/// that names it, so a repeated delete is harmless).
fn deletes<'a>(keys: impl IntoIterator<Item = &'a String>) -> Vec<TxnOp> {
    keys.into_iter()
        .map(|k| TxnOp::Delete {
            key: k.clone(),
            precondition: Precondition::Any,
        })
        .collect()
}

impl Netmaster {
    /// The prefix of intent records.
    fn intent_prefix(&self) -> String {
        self.keys.state("intent/")
    }

    /// Stages the deletes of `keys` as part of the change in `tx`: those
    /// that fit in the transaction (it holds `tx_ops` operations besides
    /// them, counting the change's own object) go in it; if some do not,
    /// an intent record `intent/<kind>/<id>` with the rest goes in it
    /// instead, and [`Netmaster::finish_staged_intents`] completes it after
    /// the commit.
    pub(crate) fn stage_deletes(
        &self,
        tx: &mut AllocTxn,
        kind: &str,
        id: &str,
        what: String,
        keys: Vec<String>,
        tx_ops: usize,
    ) -> ApiResult<()> {
        let room = MAX_FENCED_OPS.saturating_sub(tx_ops);
        let (now, later) = if keys.len() <= room {
            (keys, Vec::new())
        } else {
            let mut keys = keys;
            // One slot for the record itself.
            let later = keys.split_off(room.saturating_sub(1));
            (keys, later)
        };
        for op in deletes(&now) {
            tx.push(op);
        }
        if later.is_empty() {
            return Ok(());
        }
        let record = IntentRecord {
            what,
            deletes: later,
        };
        let value = serde_json::to_vec(&record)
            .map_err(|e| ApiError::internal(format!("cannot encode an intent record: {e}")))?;
        tx.push(TxnOp::Put {
            key: format!("{}{kind}/{id}", self.intent_prefix()),
            value,
            precondition: Precondition::Absent,
            lease: None,
        });
        self.intent_staged.store(true, Ordering::SeqCst);
        Ok(())
    }

    /// Forgets a staged intent whose transaction did not commit (the
    /// attempt is rebuilt or failed).
    pub(crate) fn unstage_intents(&self) {
        self.intent_staged.store(false, Ordering::SeqCst);
    }

    /// After the deciding transaction committed: completes what it staged.
    /// A failure here (lost leadership, store down) leaves the record for
    /// the next leader term, which completes it before serving writes; the
    /// change itself is committed either way.
    pub(crate) async fn finish_staged_intents(&self) {
        if !self.intent_staged.swap(false, Ordering::SeqCst) {
            return;
        }
        if let Err(e) = self.complete_intents().await {
            warn!(error = %e, "cannot complete a committed change now; the next leader term completes it");
        }
    }

    /// Completes every intent record in the store (see the module docs);
    /// returns how many there were. Callers hold the model lock.
    pub(crate) async fn complete_intents(&self) -> ApiResult<usize> {
        let list = self.store.list(&self.intent_prefix()).await?;
        let mut done = 0;
        for kv in &list.kvs {
            let record: IntentRecord = decode_json(kv).map_err(|e| {
                ApiError::internal(format!("undecodable intent record {}: {e}", kv.key))
            })?;
            let mut rev = kv.mod_revision;
            let mut rest = record.deletes.as_slice();
            while rest.len() > DELETES_PER_TXN {
                let (chunk, tail) = rest.split_at(DELETES_PER_TXN);
                let mut ops = deletes(chunk);
                // Progress is recorded with the chunk, so a crash never
                // redoes more than one chunk (and redoing is harmless).
                let remaining = IntentRecord {
                    what: record.what.clone(),
                    deletes: tail.to_vec(),
                };
                let value = serde_json::to_vec(&remaining).map_err(|e| {
                    ApiError::internal(format!("cannot encode an intent record: {e}"))
                })?;
                ops.push(TxnOp::Put {
                    key: kv.key.clone(),
                    value,
                    precondition: Precondition::ModRevision(rev),
                    lease: None,
                });
                debug_assert!(ops.len() < MAX_TXN_OPS);
                rev = self
                    .store
                    .txn(ops)
                    .await
                    .map_err(|e| self.commit_error(contiv_ipam::IpamError::Store(e)))?
                    .revision;
                rest = tail;
            }
            let mut ops = deletes(rest);
            ops.push(TxnOp::Delete {
                key: kv.key.clone(),
                precondition: Precondition::ModRevision(rev),
            });
            self.commit(ops).await?;
            info!(change = %record.what, deletes = record.deletes.len(), "change completed");
            done += 1;
        }
        Ok(done)
    }

    /// The intent records in the store (tests and diagnostics).
    pub async fn intent_records(&self) -> ApiResult<Vec<IntentRecord>> {
        let list = self.store.list(&self.intent_prefix()).await?;
        list.kvs
            .iter()
            .map(|kv| {
                decode_json(kv).map_err(|e| {
                    ApiError::internal(format!("undecodable intent record {}: {e}", kv.key))
                })
            })
            .collect()
    }
}
