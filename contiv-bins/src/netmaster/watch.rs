//! The agents' watch stream: `GET /api/v1/watch[?from=<rev>]`.
//!
//! Newline-delimited JSON [`WatchLine`]s. Without `from` (or `from=0`) the
//! stream starts with a snapshot — a `put` for every object, derived record,
//! endpoint and node — then `synced` with the snapshot's revision, then every
//! later change in revision order. With `from=r` it resumes at revision `r`
//! (a client passes the last revision it saw + 1). If `r` was compacted
//! away the stream sends one `resync` line and ends: the client reconnects
//! without `from`. Idle streams carry a `progress` line every few seconds.
//! Allocator state is never streamed (agents do not need it).

use super::Netmaster;
use crate::api::WatchLine;
use contiv_core::store::{EventKind, KeyValue, StoreError};
use futures::stream::{self, BoxStream, StreamExt};
use std::time::Duration;

/// Interval of `progress` lines on an idle stream.
pub const PROGRESS_INTERVAL: Duration = Duration::from_secs(5);

fn streamed(rel: &str) -> bool {
    rel.starts_with("obj/")
        || rel.starts_with("oper/")
        || rel.starts_with("ep/")
        || rel.starts_with("node/")
}

fn put_line(root: &str, kv: &KeyValue) -> Option<WatchLine> {
    let rel = kv.key.strip_prefix(root)?;
    if !streamed(rel) {
        return None;
    }
    let value = serde_json::from_slice(&kv.value).ok()?;
    Some(WatchLine::Put {
        rev: kv.mod_revision,
        key: rel.to_owned(),
        value,
    })
}

impl Netmaster {
    /// The watch stream from `from` (see the module docs).
    pub async fn watch_stream(&self, from: Option<u64>) -> BoxStream<'static, WatchLine> {
        let root = self.keys.root().to_owned();
        let store = self.store.clone();
        let (head, start): (Vec<WatchLine>, u64) = match from.filter(|r| *r > 0) {
            Some(r) => (Vec::new(), r),
            None => match store.list(&root).await {
                Ok(list) => {
                    let mut lines: Vec<WatchLine> = list
                        .kvs
                        .iter()
                        .filter_map(|kv| put_line(&root, kv))
                        .collect();
                    lines.push(WatchLine::Synced { rev: list.revision });
                    (lines, list.revision + 1)
                }
                Err(e) => {
                    return stream::iter([WatchLine::Resync {
                        reason: format!("cannot read the store: {e}"),
                    }])
                    .boxed();
                }
            },
        };
        let events = match store.watch(&root, Some(start)).await {
            Ok(s) => s,
            Err(StoreError::Compacted { compacted, .. }) => {
                return stream::iter([WatchLine::Resync {
                    reason: format!(
                        "revision {start} was compacted (history starts after {compacted}); reconnect without from"
                    ),
                }])
                .boxed();
            }
            Err(e) => {
                return stream::iter([WatchLine::Resync {
                    reason: format!("cannot watch the store: {e}"),
                }])
                .boxed();
            }
        };
        let root2 = root.clone();
        let cache = self.cache.clone();
        let shutdown = self.shutdown.subscribe();
        let live = stream::unfold(
            (events, start.saturating_sub(1), false, shutdown),
            move |(mut events, mut last, done, mut shutdown)| {
                let root = root2.clone();
                let cache = cache.clone();
                async move {
                    if done {
                        return None;
                    }
                    loop {
                        let next = tokio::select! {
                            biased;
                            _ = shutdown.wait_for(|s| *s) => return None,
                            r = tokio::time::timeout(PROGRESS_INTERVAL, events.next()) => r,
                        };
                        let state = |events, last, done, shutdown| (events, last, done, shutdown);
                        match next {
                            Err(_) => {
                                last = last.max(cache.revision());
                                return Some((
                                    Some(WatchLine::Progress { rev: last }),
                                    state(events, last, false, shutdown),
                                ));
                            }
                            Ok(None) => {
                                return Some((
                                    Some(WatchLine::Resync {
                                        reason: "the store watch ended; reconnect with from".into(),
                                    }),
                                    state(events, last, true, shutdown),
                                ));
                            }
                            Ok(Some(Err(e))) => {
                                return Some((
                                    Some(WatchLine::Resync {
                                        reason: format!("the store watch failed: {e}"),
                                    }),
                                    state(events, last, true, shutdown),
                                ));
                            }
                            Ok(Some(Ok(ev))) => {
                                last = ev.revision();
                                let Some(rel) = ev.kv.key.strip_prefix(&root) else {
                                    continue;
                                };
                                if !streamed(rel) {
                                    continue;
                                }
                                let line = match ev.kind {
                                    EventKind::Put => put_line(&root, &ev.kv),
                                    EventKind::Delete => Some(WatchLine::Delete {
                                        rev: ev.revision(),
                                        key: rel.to_owned(),
                                    }),
                                };
                                if let Some(line) = line {
                                    return Some((
                                        Some(line),
                                        state(events, last, false, shutdown),
                                    ));
                                }
                            }
                        }
                    }
                }
            },
        )
        .filter_map(|x| async move { x });
        stream::iter(head).chain(live).boxed()
    }
}
