//! Following netmaster's watch stream (`GET /api/v1/watch`, NDJSON).
//!
//! The first connection asks for a snapshot: `put` lines up to `synced`
//! are collected into a fresh [`HostView`] that replaces the reconciler's
//! (with a datapath resync). Later lines are applied in batches — every
//! line that has arrived is applied before the datapath is touched once.
//! After a disconnect the watch resumes with `from=<last complete
//! revision + 1>` (a revision's lines may span a cut, so the last,
//! possibly partial revision is replayed; applying a line twice changes
//! nothing) and the datapath is resynced. A `resync` line, or a stream
//! silent for three progress intervals, means starting over: a snapshot
//! without `from`.

use super::core::Core;
use super::view::HostView;
use crate::api::WatchLine;
use futures::FutureExt;
use http_body_util::BodyExt;
use std::sync::Arc;
use std::sync::atomic::Ordering;
use std::time::Duration;
use tracing::{debug, info, warn};

/// A stream silent this long is considered dead.
pub const IDLE_TIMEOUT: Duration = Duration::from_secs(15);

enum Outcome {
    /// Reconnect with `from`.
    Resume(String),
    /// Reconnect for a fresh snapshot.
    Restart(String),
}

/// Runs the watch forever.
pub async fn run(core: Arc<Core>) {
    let mut complete: Option<u64> = None;
    let mut recovered = false;
    let mut backoff = Duration::from_millis(100);
    loop {
        let from = complete.map(|r| r + 1);
        let body = match core.client.watch(from).await {
            Ok(b) => b,
            Err(e) => {
                core.connected.store(false, Ordering::Relaxed);
                warn!(error = %e, "cannot open netmaster's watch stream; retrying");
                tokio::time::sleep(backoff).await;
                backoff = (backoff * 2).min(Duration::from_secs(3));
                continue;
            }
        };
        backoff = Duration::from_millis(100);
        info!(from = ?from, netmaster = %core.client.current_url(), "watching netmaster");
        if from.is_some() {
            core.connected.store(true, Ordering::Relaxed);
            core.recon.resync().await;
        }
        let outcome = follow(&core, body, &mut complete, &mut recovered).await;
        core.connected.store(false, Ordering::Relaxed);
        match outcome {
            Outcome::Resume(why) => warn!(reason = %why, "watch stream interrupted; resuming"),
            Outcome::Restart(why) => {
                warn!(reason = %why, "watch stream cannot resume; asking for a fresh snapshot");
                complete = None;
            }
        }
    }
}

async fn follow(
    core: &Arc<Core>,
    mut body: hyper::body::Incoming,
    complete: &mut Option<u64>,
    recovered: &mut bool,
) -> Outcome {
    let mut snapshot = if complete.is_none() {
        Some(HostView::default())
    } else {
        None
    };
    let mut current = complete.unwrap_or(0);
    let mut buf: Vec<u8> = Vec::new();
    loop {
        match tokio::time::timeout(IDLE_TIMEOUT, body.frame()).await {
            Err(_) => return Outcome::Resume(format!("no line for {}s", IDLE_TIMEOUT.as_secs())),
            Ok(None) => return Outcome::Resume("the stream ended".into()),
            Ok(Some(Err(e))) => return Outcome::Resume(format!("the stream broke: {e}")),
            Ok(Some(Ok(f))) => {
                if let Some(d) = f.data_ref() {
                    buf.extend_from_slice(d);
                }
            }
        }
        // Everything that has already arrived joins this batch.
        while let Some(Some(Ok(f))) = body.frame().now_or_never() {
            if let Some(d) = f.data_ref() {
                buf.extend_from_slice(d);
            }
        }
        let mut batch: Vec<WatchLine> = Vec::new();
        while let Some(pos) = buf.iter().position(|b| *b == b'\n') {
            let raw: Vec<u8> = buf.drain(..=pos).collect();
            if raw.iter().all(|b| b.is_ascii_whitespace()) {
                continue;
            }
            let line: WatchLine = match serde_json::from_slice(&raw) {
                Ok(l) => l,
                Err(e) => {
                    warn!(error = %e, "ignoring an undecodable watch line");
                    continue;
                }
            };
            match &line {
                WatchLine::Put { rev, .. } | WatchLine::Delete { rev, .. } => {
                    if let Some(s) = snapshot.as_mut() {
                        s.apply(&line);
                    } else {
                        if *rev > current {
                            *complete = Some(current);
                            current = *rev;
                        }
                        batch.push(line);
                    }
                }
                WatchLine::Synced { rev } => {
                    flush(core, &mut batch).await;
                    if let Some(mut s) = snapshot.take() {
                        s.revision = *rev;
                        core.recon.install_snapshot(s).await;
                        core.connected.store(true, Ordering::Relaxed);
                        if !*recovered {
                            *recovered = true;
                            let c = core.clone();
                            tokio::spawn(async move { c.recover().await });
                        }
                    }
                    *complete = Some(*rev);
                    current = *rev;
                }
                WatchLine::Progress { rev } => {
                    flush(core, &mut batch).await;
                    if snapshot.is_none() && *rev >= current {
                        *complete = Some(*rev);
                        current = *rev;
                        core.recon.set_revision(*rev).await;
                    }
                }
                WatchLine::Nodes { rev, nodes } => {
                    // Sent in snapshots only; anywhere else it stands for
                    // one put per node.
                    if let Some(s) = snapshot.as_mut() {
                        s.apply(&line);
                    } else {
                        for n in nodes {
                            match serde_json::to_value(n.record()) {
                                Ok(value) => batch.push(WatchLine::Put {
                                    rev: *rev,
                                    key: format!("node/{}", n.0),
                                    value,
                                }),
                                Err(e) => warn!(error = %e, "cannot re-encode a node entry"),
                            }
                        }
                    }
                }
                WatchLine::Resync { reason } => {
                    flush(core, &mut batch).await;
                    return Outcome::Restart(reason.clone());
                }
            }
        }
        flush(core, &mut batch).await;
    }
}

async fn flush(core: &Arc<Core>, batch: &mut Vec<WatchLine>) {
    if batch.is_empty() {
        return;
    }
    debug!(lines = batch.len(), "applying watch lines");
    core.recon.apply_lines(batch).await;
    batch.clear();
}
