//! etcd watches as [`WatchStream`]s.
//!
//! The watch is created before [`StateStore::watch`](contiv_core::store::StateStore::watch)
//! returns (its `created` reply is awaited), so `from = None` sees exactly
//! the changes after the call. A cancellation by etcd ends the stream with
//! an error: [`StoreError::Compacted`] if history was compacted away,
//! [`StoreError::Unavailable`] otherwise (connection lost, member gone),
//! naming the revision to resume from.

use super::convert::{error, key_string, kv, rev};
use contiv_core::store::{EventKind, KeyValue, Revision, StoreError, WatchEvent, WatchStream};
use etcd_client::EventType;
use futures::StreamExt;
use std::collections::VecDeque;

/// A created etcd watch and what the stream needs to report errors.
pub struct Watch {
    /// The etcd stream (holding its request sender keeps it open).
    pub inner: etcd_client::WatchStream,
    /// The prefix, for messages.
    pub prefix: String,
    /// The first revision the caller asked for (for `Compacted`).
    pub requested: Revision,
    /// The last revision delivered so far (or the one before the start).
    pub last_seen: Revision,
}

struct State {
    watch: Watch,
    pending: VecDeque<WatchEvent>,
    done: bool,
}

fn convert(ev: &etcd_client::Event) -> Result<Option<WatchEvent>, StoreError> {
    let Some(k) = ev.kv() else {
        return Ok(None);
    };
    Ok(Some(match ev.event_type() {
        EventType::Put => WatchEvent {
            kind: EventKind::Put,
            kv: kv(k)?,
        },
        EventType::Delete => WatchEvent {
            kind: EventKind::Delete,
            kv: KeyValue {
                key: key_string(k.key())?,
                value: Vec::new(),
                create_revision: 0,
                mod_revision: rev(k.mod_revision()),
                version: 0,
                lease: None,
            },
        },
    }))
}

impl State {
    fn resume_hint(&self) -> String {
        format!(
            "watch of prefix {:?} ended; watch again from revision {}",
            self.watch.prefix,
            self.watch.last_seen + 1
        )
    }

    /// Handles one etcd reply; `Err` ends the stream.
    fn absorb(&mut self, resp: &etcd_client::WatchResponse) -> Result<(), StoreError> {
        if resp.canceled() {
            let compact = resp.compact_revision();
            if compact > 0 {
                return Err(StoreError::Compacted {
                    requested: self.watch.requested.max(self.watch.last_seen + 1),
                    compacted: rev(compact).saturating_sub(1),
                });
            }
            let reason = resp.cancel_reason();
            return Err(StoreError::Unavailable(format!(
                "{} (etcd canceled it{})",
                self.resume_hint(),
                if reason.is_empty() {
                    String::new()
                } else {
                    format!(": {reason}")
                }
            )));
        }
        for ev in resp.events() {
            if let Some(ev) = convert(ev)? {
                self.pending.push_back(ev);
            }
        }
        Ok(())
    }
}

/// Turns a created watch into a stream of events.
pub fn stream(watch: Watch) -> WatchStream {
    let state = State {
        watch,
        pending: VecDeque::new(),
        done: false,
    };
    futures::stream::unfold(state, |mut st| async move {
        loop {
            if st.done {
                return None;
            }
            if let Some(ev) = st.pending.pop_front() {
                st.watch.last_seen = ev.revision();
                return Some((Ok(ev), st));
            }
            let outcome = match st.watch.inner.message().await {
                Ok(Some(resp)) => st.absorb(&resp),
                Ok(None) => Err(StoreError::Unavailable(format!(
                    "{} (etcd closed the stream)",
                    st.resume_hint()
                ))),
                Err(e) => Err(match error("etcd watch", e) {
                    StoreError::Unavailable(m) | StoreError::Backend(m) => {
                        StoreError::Unavailable(format!("{}: {m}", st.resume_hint()))
                    }
                    other => other,
                }),
            };
            if let Err(e) = outcome {
                st.done = true;
                return Some((Err(e), st));
            }
        }
    })
    .boxed()
}
