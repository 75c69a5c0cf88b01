//! In-process watch fan-out shared by the memory and embedded backends.
//!
//! Writers publish each committed batch of events (in revision order) to a
//! broadcast channel while holding the hub's lock, together with the
//! revision of the batch's last event. A watcher subscribes under the same
//! lock, so it learns the exact revision `P` after which the channel
//! delivers everything: catch-up from history covers `[from, P]`, the live
//! channel covers `(P, ∞)` — no gap and no duplicate at the seam.
//!
//! A watcher that falls more than the channel capacity behind ends with an
//! [`StoreError::Unavailable`] item naming the revision to resume from.

use contiv_core::store::{Revision, StoreError, WatchEvent, WatchStream};
use futures::StreamExt;
use std::collections::VecDeque;
use std::sync::{Arc, Mutex, PoisonError};
use tokio::sync::broadcast;

/// Default capacity of the live channel, in published batches.
pub const DEFAULT_WATCH_BUFFER: usize = 4096;

/// One message of the live channel.
#[derive(Clone, Debug)]
pub enum HubMsg {
    /// Events of one or more consecutive revisions, in order.
    Events(Arc<[WatchEvent]>),
    /// The store shut down; no more events will come.
    Closed,
}

/// The broadcast point of a store.
#[derive(Debug)]
pub struct WatchHub {
    tx: broadcast::Sender<HubMsg>,
    published: Mutex<Revision>,
}

impl WatchHub {
    /// A hub whose live channel holds `capacity` batches, starting after
    /// revision `published`.
    pub fn new(capacity: usize, published: Revision) -> Self {
        let (tx, _) = broadcast::channel(capacity.max(1));
        WatchHub {
            tx,
            published: Mutex::new(published),
        }
    }

    /// Publishes the events of a committed batch. Must be called in
    /// revision order; an empty batch only advances nothing.
    pub fn publish(&self, events: Vec<WatchEvent>) {
        let Some(last) = events.last().map(WatchEvent::revision) else {
            return;
        };
        let mut published = self
            .published
            .lock()
            .unwrap_or_else(PoisonError::into_inner);
        // No receiver is not an error: nobody is watching.
        let _ = self.tx.send(HubMsg::Events(events.into()));
        *published = last;
    }

    /// Tells every watcher the store is gone.
    pub fn close(&self) {
        let _guard = self
            .published
            .lock()
            .unwrap_or_else(PoisonError::into_inner);
        let _ = self.tx.send(HubMsg::Closed);
    }

    /// Subscribes to the live channel; returns the receiver and the revision
    /// after which it delivers every event.
    pub fn subscribe(&self) -> (broadcast::Receiver<HubMsg>, Revision) {
        let published = self
            .published
            .lock()
            .unwrap_or_else(PoisonError::into_inner);
        (self.tx.subscribe(), *published)
    }
}

struct LiveState {
    rx: broadcast::Receiver<HubMsg>,
    prefix: String,
    /// Events with a lower revision are skipped (already delivered by
    /// catch-up, or before the requested start).
    min_rev: Revision,
    pending: VecDeque<WatchEvent>,
    last_seen: Revision,
    done: bool,
}

/// Builds the stream of a watch: `catchup` (already filtered, in order)
/// followed by live events of `prefix` with revision `>= min_rev`.
pub fn watch_stream(
    catchup: Vec<WatchEvent>,
    rx: broadcast::Receiver<HubMsg>,
    prefix: String,
    min_rev: Revision,
) -> WatchStream {
    let last_seen = catchup
        .last()
        .map_or(min_rev.saturating_sub(1), WatchEvent::revision);
    let live = LiveState {
        rx,
        prefix,
        min_rev: min_rev.max(last_seen + 1),
        pending: VecDeque::new(),
        last_seen,
        done: false,
    };
    let live = futures::stream::unfold(live, |mut st| async move {
        loop {
            if st.done {
                return None;
            }
            if let Some(ev) = st.pending.pop_front() {
                st.last_seen = ev.revision();
                return Some((Ok(ev), st));
            }
            match st.rx.recv().await {
                Ok(HubMsg::Events(batch)) => {
                    st.pending.extend(
                        batch
                            .iter()
                            .filter(|ev| {
                                ev.revision() >= st.min_rev && ev.kv.key.starts_with(&st.prefix)
                            })
                            .cloned(),
                    );
                }
                Ok(HubMsg::Closed) | Err(broadcast::error::RecvError::Closed) => {
                    st.done = true;
                    return Some((Err(StoreError::Closed), st));
                }
                Err(broadcast::error::RecvError::Lagged(n)) => {
                    st.done = true;
                    let err = StoreError::Unavailable(format!(
                        "watch of prefix {:?} fell behind by {n} batches and was dropped; \
                         watch again from revision {}",
                        st.prefix,
                        st.last_seen + 1
                    ));
                    return Some((Err(err), st));
                }
            }
        }
    });
    futures::stream::iter(catchup.into_iter().map(Ok::<_, StoreError>))
        .chain(live)
        .boxed()
}
