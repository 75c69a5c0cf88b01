//! The agents' watch stream: `GET /api/v1/watch[?from=<rev>][&compact=true]`.
//!
//! Newline-delimited JSON [`WatchLine`]s. Without
//! `from` (or `from=0`) the stream starts with a snapshot — a `put` for
//! every object, derived record, endpoint and node — then `synced` with the
//! snapshot's revision, then every later change in revision order. With
//! `compact=true` the snapshot carries the nodes as one `nodes` line
//! ([`NodeEntry`]: host, VTEP, port) instead of one
//! `put` each. With `from=r` it resumes at revision `r` (a client passes
//! the last revision it saw + 1). If `r` was compacted away the stream
//! sends one `resync` line and ends: the client reconnects without `from`.
//! Idle streams carry a `progress` line every few seconds. Allocator state
//! is never streamed (agents do not need it).
//!
//! How it scales to thousands of streams:
//!
//! * every change is encoded once, by the cache follower, into the shared
//!   [`Fanout`] log; a stream only hands those bytes
//!   to its socket (no per-stream parsing or encoding, no per-stream store
//!   watch, a few hundred bytes of state);
//! * streams are served on the watch threads ([`super::watch_threads`]);
//!   a change wakes each thread once (a relay task per thread), which
//!   wakes that thread's streams without a system call each;
//! * a snapshot is encoded once from the cache's view and reused by every
//!   stream that starts while the log still holds the changes since
//!   (those follow as ordinary lines);
//! * a writer's answer does not wait behind the streams: the follower
//!   publishes a revision to waiting writers before it appends the lines;
//! * a stream resuming from a revision older than the log's window reads
//!   the store's history for the gap (encoding per stream — rare) and then
//!   joins the log.

use super::Netmaster;
use super::cache::{ClusterView, Map, values};
use super::fanout::{self, Cursor, Fanout, Read};
use crate::api::{NodeEntry, WatchLine};
use bytes::{Bytes, BytesMut};
use contiv_core::model::{
    AciGw, AppProfile, Bgp, EndpointGroup, ExtContractsGroup, Global, ModelObject, Netprofile,
    Network, Policy, Rule, ServiceLB, Tenant,
};
use contiv_core::store::{Revision, StoreError, WatchStream};
use futures::stream::{self, BoxStream, StreamExt};
use std::sync::Arc;
use std::time::Duration;

/// Interval of `progress` lines on an idle stream.
pub const PROGRESS_INTERVAL: Duration = Duration::from_secs(5);

/// A cached snapshot is reused while at most this many lines followed it
/// (they are sent after it); beyond, a fresh one is encoded.
const SNAPSHOT_REUSE_LINES: usize = 4096;

/// Encoded snapshots, one per format, reused across streams.
#[derive(Default)]
pub struct Snapshots {
    slots: tokio::sync::Mutex<[Option<(Revision, Bytes)>; 2]>,
}

impl std::fmt::Debug for Snapshots {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Snapshots").finish_non_exhaustive()
    }
}

fn one_line(l: &WatchLine) -> Bytes {
    let mut out = BytesMut::with_capacity(96);
    fanout::line(&mut out, l);
    out.freeze()
}

fn resync(reason: String) -> Bytes {
    one_line(&WatchLine::Resync { reason })
}

/// Appends a `put` for every value of `map` under `area` (`obj/network/`).
fn puts<T: serde::Serialize>(
    out: &mut BytesMut,
    root: &str,
    area: &str,
    map: &Map<T>,
    v: &ClusterView,
) {
    let mut rel = String::new();
    let mut full = String::new();
    for (k, val) in map.iter() {
        rel.clear();
        rel.push_str(area);
        rel.push_str(k);
        full.clear();
        full.push_str(root);
        full.push_str(&rel);
        let rev = v.rev(&full).unwrap_or(v.revision);
        fanout::put_line(out, rev, &rel, &**val);
    }
}

/// Encodes a snapshot of `v`: a line for every streamed key (the `synced`
/// line is added per stream, after the changes since the snapshot).
pub fn encode_snapshot(root: &str, v: &ClusterView, compact: bool) -> Bytes {
    let mut out = BytesMut::with_capacity(64 << 10);
    puts(&mut out, root, "ep/", &v.endpoints, v);
    if compact {
        let nodes = values(&v.nodes).map(NodeEntry::of).collect();
        fanout::line(
            &mut out,
            &WatchLine::Nodes {
                rev: v.revision,
                nodes,
            },
        );
    } else {
        puts(&mut out, root, "node/", &v.nodes, v);
    }
    macro_rules! objects {
        ($($t:ty => $m:ident),* $(,)?) => {
            $( puts(&mut out, root, &format!("obj/{}/", <$t>::TYPE), &v.$m, v); )*
        };
    }
    objects!(
        AciGw => aci_gws,
        AppProfile => app_profiles,
        Bgp => bgps,
        EndpointGroup => epgs,
        ExtContractsGroup => ext_contracts,
        Global => globals,
        Netprofile => netprofiles,
        Network => networks,
        Policy => policies,
        Rule => rules,
        ServiceLB => service_lbs,
        Tenant => tenants,
    );
    puts(
        &mut out,
        root,
        &format!("oper/{}/", EndpointGroup::TYPE),
        &v.epg_states,
        v,
    );
    puts(
        &mut out,
        root,
        &format!("oper/{}/", Network::TYPE),
        &v.network_states,
        v,
    );
    puts(
        &mut out,
        root,
        &format!("oper/{}/", ServiceLB::TYPE),
        &v.service_states,
        v,
    );
    puts(
        &mut out,
        root,
        &format!("oper/{}/", Tenant::TYPE),
        &v.tenant_states,
        v,
    );
    out.freeze()
}

/// A stream reading the shared log.
struct Live {
    fanout: Arc<Fanout>,
    cur: Cursor,
    rx: tokio::sync::watch::Receiver<u64>,
    done: bool,
}

thread_local! {
    /// Per thread and log: a receiver of this thread's relay (see
    /// [`local_subscribe`]).
    static RELAYS: std::cell::RefCell<Vec<(std::sync::Weak<Fanout>, tokio::sync::watch::Receiver<u64>)>> =
        const { std::cell::RefCell::new(Vec::new()) };
}

/// A receiver woken on every append to `fanout`, through one relay task
/// per thread: the log wakes the relay (one cross-thread wake-up, an
/// eventfd write, per thread and change) and the relay, running on this
/// thread, wakes this thread's streams (local wake-ups, no system call).
/// On a current-thread runtime (the watch threads) the relay runs where
/// its streams do.
fn local_subscribe(fanout: &Arc<Fanout>) -> tokio::sync::watch::Receiver<u64> {
    RELAYS.with(|r| {
        let mut r = r.borrow_mut();
        // Drop the relays of dropped logs and of relays that are gone (their
        // runtime stopped: the sender was dropped).
        r.retain(|(f, rx)| f.strong_count() > 0 && rx.has_changed().is_ok());
        if let Some((_, rx)) = r
            .iter()
            .find(|(f, _)| std::ptr::eq(f.as_ptr(), Arc::as_ptr(fanout)))
        {
            return rx.clone();
        }
        let mut upstream = fanout.subscribe();
        let (tx, rx) = tokio::sync::watch::channel(0u64);
        tokio::spawn(async move {
            // Ends when the log is dropped (its sender goes) or with the
            // runtime; the entry kept above holds a receiver, so sending
            // does not fail before.
            while upstream.changed().await.is_ok() {
                if tx.send(*upstream.borrow_and_update()).is_err() {
                    return;
                }
            }
        });
        r.push((Arc::downgrade(fanout), rx.clone()));
        rx
    })
}

fn live(fanout: Arc<Fanout>, cur: Cursor) -> BoxStream<'static, Bytes> {
    let rx = local_subscribe(&fanout);
    let st = Live {
        fanout,
        cur,
        rx,
        done: false,
    };
    stream::unfold(st, |mut st| async move {
        if st.done {
            return None;
        }
        loop {
            st.rx.borrow_and_update();
            match st.fanout.read(&mut st.cur) {
                Read::Lines(b) => return Some((b, st)),
                Read::Pending => {
                    if st.rx.changed().await.is_err() {
                        return None;
                    }
                }
                // The client resumes with `from` (from the store's history
                // if the log no longer holds it).
                Read::Lagged | Read::Closed => return None,
                Read::Reset => {
                    st.done = true;
                    let line = resync(
                        "netmaster reloaded its view of the store; take a fresh snapshot".into(),
                    );
                    return Some((line, st));
                }
            }
        }
    })
    .boxed()
}

/// A stream catching up from the store's history until it reaches the
/// log's window.
struct CatchUp {
    events: WatchStream,
    /// Every line up to this revision must come from the store; above it,
    /// from the log.
    bound: Revision,
    /// The last revision sent.
    last: Revision,
    root: String,
    fanout: Arc<Fanout>,
    shutdown: tokio::sync::watch::Receiver<bool>,
}

enum Phase {
    CatchUp(Box<CatchUp>),
    Live(BoxStream<'static, Bytes>),
    Done,
}

fn catch_up(c: CatchUp) -> BoxStream<'static, Bytes> {
    stream::unfold(Phase::CatchUp(Box::new(c)), |phase| async move {
        match phase {
            Phase::Done => None,
            Phase::Live(mut s) => s.next().await.map(|b| (b, Phase::Live(s))),
            Phase::CatchUp(mut c) => loop {
                let next = tokio::select! {
                    biased;
                    _ = c.shutdown.wait_for(|s| *s) => return None,
                    r = tokio::time::timeout(PROGRESS_INTERVAL, c.events.next()) => r,
                };
                match next {
                    Err(_) => {
                        // The store had nothing more for a whole interval:
                        // everything up to the bound was sent.
                        let through = c.bound.max(c.last);
                        if let Some(cur) = c.fanout.cursor_after(through) {
                            let s = live(c.fanout.clone(), cur);
                            let progress = one_line(&WatchLine::Progress { rev: through });
                            return Some((progress, Phase::Live(s)));
                        }
                        c.bound = c.fanout.base();
                        return Some((
                            one_line(&WatchLine::Progress { rev: c.last }),
                            Phase::CatchUp(c),
                        ));
                    }
                    Ok(None) => {
                        return Some((
                            resync("the store watch ended; reconnect with from".into()),
                            Phase::Done,
                        ));
                    }
                    Ok(Some(Err(e))) => {
                        return Some((resync(format!("the store watch failed: {e}")), Phase::Done));
                    }
                    Ok(Some(Ok(ev))) => {
                        let rev = ev.revision();
                        if rev > c.bound {
                            match c.fanout.cursor_after(c.bound) {
                                Some(cur) => {
                                    // The log holds this change and all
                                    // after it.
                                    let mut s = live(c.fanout.clone(), cur);
                                    drop(c);
                                    return s.next().await.map(|b| (b, Phase::Live(s)));
                                }
                                None => c.bound = c.fanout.base(),
                            }
                        }
                        c.last = c.last.max(rev);
                        if let Some(e) = fanout::encode_event(&c.root, &ev) {
                            return Some((e.line, Phase::CatchUp(c)));
                        }
                    }
                }
            },
        }
    })
    .boxed()
}

impl Netmaster {
    /// Subscribers to the change log's wake-ups: one per thread serving
    /// live streams, however many streams it serves.
    pub fn watch_subscribers(&self) -> usize {
        self.cache.fanout().subscribers()
    }

    /// The snapshot a stream starts with and a cursor after it: the cached
    /// snapshot while the log still holds every change since (they are
    /// sent after it, before `synced`), else a fresh one from the view.
    async fn snapshot(&self, compact: bool) -> (Bytes, Cursor) {
        let fanout = self.cache.fanout().clone();
        let mut slots = self.snapshots.slots.lock().await;
        let slot = &mut slots[usize::from(compact)];
        loop {
            if let Some((rev, bytes)) = slot.as_ref()
                && fanout
                    .lines_after(*rev)
                    .is_some_and(|n| n <= SNAPSHOT_REUSE_LINES)
                && let Some(cur) = fanout.cursor_after(*rev)
            {
                return (bytes.clone(), cur);
            }
            let view = self.cache.read();
            let bytes = encode_snapshot(self.keys.root(), &view, compact);
            *slot = Some((view.revision, bytes));
            if fanout.cursor_after(view.revision).is_none() {
                // The log moved past the view meanwhile (a reload): again.
                tokio::task::yield_now().await;
            }
        }
    }

    /// The watch stream from `from` (see the module docs), as encoded
    /// NDJSON chunks.
    pub async fn watch_stream(
        &self,
        from: Option<u64>,
        compact: bool,
    ) -> BoxStream<'static, Bytes> {
        let fanout = self.cache.fanout().clone();
        let Some(r) = from.filter(|r| *r > 0) else {
            let (snapshot, mut cur) = self.snapshot(compact).await;
            // The changes since the snapshot belong to it: the stream is
            // synced at the revision the log covers now.
            let (since, synced) = fanout.drain(&mut cur);
            let mut tail = BytesMut::from(&since[..]);
            fanout::line(&mut tail, &WatchLine::Synced { rev: synced });
            let head = stream::iter([snapshot, tail.freeze()]);
            return head.chain(live(fanout, cur)).boxed();
        };
        if let Some(cur) = fanout.cursor_after(r - 1) {
            return live(fanout, cur);
        }
        // Older than the log: the store's history first.
        let bound = fanout.base();
        let root = self.keys.root().to_owned();
        match self.store.watch(&root, Some(r)).await {
            Ok(events) => catch_up(CatchUp {
                events,
                bound,
                last: r - 1,
                root,
                fanout,
                shutdown: self.shutdown.subscribe(),
            }),
            Err(StoreError::Compacted { compacted, .. }) => stream::iter([resync(format!(
                "revision {r} was compacted (history starts after {compacted}); reconnect without from"
            ))])
            .boxed(),
            Err(e) => {
                stream::iter([resync(format!("cannot watch the store: {e}"))]).boxed()
            }
        }
    }
}
