//! Watches: the event log replayed from the requested revision, then
//! followed with blocking queries on the revision counter.
//!
//! A watch survives agent failover and lost connections by itself (it
//! knows the next revision it needs and the log still holds it); it ends
//! with [`StoreError::Compacted`] when the log no longer holds that
//! revision, and with [`StoreError::Unavailable`] (naming the revision to
//! resume from) when no agent has answered for a while.

use super::api::{KvOp, KvPair, TxnOp as ConsulOp};
use super::client::encode_path;
use super::layout::{LogRecord, parse_counter};
use super::{Core, store_error};
use crate::contract::first_wanted;
use contiv_core::store::{Revision, StoreError, StoreResult, WatchEvent, WatchStream};
use futures::StreamExt;
use std::collections::VecDeque;
use std::sync::Arc;
use std::time::{Duration, Instant};

/// Log records read per request.
const BATCH: u64 = 64;
/// How long a watch keeps retrying while no agent answers.
const GIVE_UP_AFTER: Duration = Duration::from_secs(60);

struct State {
    core: Arc<Core>,
    prefix: String,
    /// The next revision to deliver.
    next: Revision,
    /// The latest revision known to exist.
    known: Revision,
    /// The index for the next blocking query on the counter.
    index: u64,
    pending: VecDeque<WatchEvent>,
    done: bool,
}

/// Opens a watch of `prefix` from `from` (see the contract).
pub async fn open(
    core: Arc<Core>,
    prefix: &str,
    from: Option<Revision>,
) -> StoreResult<WatchStream> {
    let snap = core.snapshot(&[]).await?;
    let next = match from {
        None => snap.rev + 1,
        Some(r) => {
            let r = first_wanted(r);
            let (_, _, compacted) = core.compaction(snap.rev).await?;
            if r <= compacted {
                return Err(StoreError::Compacted {
                    requested: r,
                    compacted,
                });
            }
            r
        }
    };
    let state = State {
        core,
        prefix: prefix.to_owned(),
        next,
        known: snap.rev,
        index: snap.rev_index,
        pending: VecDeque::new(),
        done: false,
    };
    Ok(futures::stream::unfold(state, |mut st| async move {
        loop {
            if st.done {
                return None;
            }
            if let Some(ev) = st.pending.pop_front() {
                return Some((Ok(ev), st));
            }
            let step = if st.next <= st.known {
                st.read_records().await
            } else {
                st.wait_for_writes().await
            };
            if let Err(e) = step {
                st.done = true;
                return Some((Err(e), st));
            }
        }
    })
    .boxed())
}

impl State {
    /// Reads the records `next..` (one batch) into `pending`.
    async fn read_records(&mut self) -> StoreResult<()> {
        let upto = self.known.min(self.next + BATCH - 1);
        let ops: Vec<ConsulOp> = (self.next..=upto)
            .map(|r| ConsulOp::from(KvOp::get_or_empty(self.core.layout.log(r))))
            .collect();
        let results = self
            .retrying(|core| {
                let ops = ops.clone();
                async move { core.read(ops).await }
            })
            .await?;
        for (rev, kv) in (self.next..=upto).zip(results.iter()) {
            if kv.modify_index == 0 {
                let (_, _, compacted) = self.core.compaction(self.known).await?;
                return Err(StoreError::Compacted {
                    requested: rev,
                    compacted: compacted.max(rev),
                });
            }
            let record = LogRecord::decode(&kv.key, rev, kv.value.as_deref().unwrap_or_default())?;
            self.pending.extend(
                record
                    .events
                    .into_iter()
                    .filter(|ev| ev.kv.key.starts_with(&self.prefix)),
            );
        }
        self.next = upto + 1;
        Ok(())
    }

    /// Blocks until the counter moves past `known` (or the wait ends).
    async fn wait_for_writes(&mut self) -> StoreResult<()> {
        let path = format!("/v1/kv/{}", encode_path(&self.core.layout.revision()));
        let (index, wait) = (self.index, self.core.options.watch_wait);
        let reply = self
            .retrying(|core| {
                let path = path.clone();
                async move {
                    core.client
                        .blocking_get(&path, index, wait)
                        .await
                        .map_err(|e| store_error("watch", e))
                }
            })
            .await?;
        let new_index = reply.index.unwrap_or(0);
        // An index that goes backwards restarts the blocking sequence.
        self.index = if new_index < self.index { 0 } else { new_index };
        let rev = match reply.status {
            404 => 0,
            200 => {
                let kvs: Vec<KvPair> = serde_json::from_slice(&reply.body)
                    .map_err(|e| StoreError::Backend(format!("Consul watch: bad reply: {e}")))?;
                match kvs.first() {
                    Some(kv) => parse_counter(&kv.key, kv.value.as_deref())?,
                    None => 0,
                }
            }
            other => {
                return Err(StoreError::Backend(format!(
                    "Consul watch: {other} {}",
                    String::from_utf8_lossy(&reply.body).trim()
                )));
            }
        };
        self.known = self.known.max(rev);
        Ok(())
    }

    /// Runs `f` until it succeeds, retrying `Unavailable` for up to
    /// [`GIVE_UP_AFTER`]; then fails naming the revision to resume from.
    async fn retrying<T, F, Fut>(&self, mut f: F) -> StoreResult<T>
    where
        F: FnMut(Arc<Core>) -> Fut,
        Fut: std::future::Future<Output = StoreResult<T>>,
    {
        let started = Instant::now();
        let mut backoff = Duration::from_millis(50);
        loop {
            match f(self.core.clone()).await {
                Err(StoreError::Unavailable(m)) if started.elapsed() < GIVE_UP_AFTER => {
                    tracing::debug!(error = %m, "Consul watch: retrying");
                    tokio::time::sleep(backoff).await;
                    backoff = (backoff * 2).min(Duration::from_secs(2));
                }
                Err(StoreError::Unavailable(m)) => {
                    return Err(StoreError::Unavailable(format!(
                        "watch of prefix {:?} lost Consul ({m}); watch again from revision {}",
                        self.prefix, self.next
                    )));
                }
                other => return other,
            }
        }
    }
}
