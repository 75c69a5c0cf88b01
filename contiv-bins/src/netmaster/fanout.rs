//! The encoded change log every watch stream reads: each change is encoded
//! as its watch line **once** (by the cache follower) and the bytes are
//! shared by every agent's stream.
//!
//! The log holds the most recent lines (at most [`MAX_ENTRIES`] lines or
//! [`MAX_BYTES`] bytes) in revision order, each a [`Bytes`] slice of the
//! batch it was encoded in. A stream is a [`Cursor`] into it: reading
//! copies no line (a single pending line is handed to the socket as it is;
//! several are joined into one write) and costs the stream nothing while
//! it waits. Memory per stream is the cursor and a notification receiver.
//!
//! Coverage: every line with a revision above [`Fanout::cursor_after`]'s
//! `base` is in the log. A stream resuming from an older revision reads
//! the store's history until it reaches the log (see [`super::watch`]). A
//! stream that falls so far behind that its next line was evicted is ended
//! (the agent resumes with `from`); a cache reload (after a compaction)
//! starts a new epoch and every stream is told to resync.
//!
//! Progress: one ticker appends a `progress` line when no line was
//! appended for a progress interval, so idle streams carry no timers.

use bytes::{BufMut, Bytes, BytesMut};
use contiv_core::store::{EventKind, Revision, WatchEvent};
use std::collections::VecDeque;
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};
use std::time::{Duration, Instant};
use tokio::sync::watch;

/// Most lines the log keeps by default (`--watch-window`).
pub const MAX_ENTRIES: usize = 8192;

/// Most bytes of lines the log keeps.
pub const MAX_BYTES: usize = 8 << 20;

/// Most bytes one read hands to a stream (a stream far behind catches up
/// in several writes rather than one huge one).
const MAX_READ: usize = 256 << 10;

/// True for the keys (relative to the root) agents follow.
pub fn streamed(rel: &str) -> bool {
    rel.starts_with("obj/")
        || rel.starts_with("oper/")
        || rel.starts_with("ep/")
        || rel.starts_with("node/")
}

/// One encoded line.
#[derive(Clone, Debug)]
pub struct LogEntry {
    /// The store revision of the change (for `progress`: the revision
    /// every earlier line is complete up to).
    pub rev: Revision,
    /// The line, with its newline.
    pub line: Bytes,
}

/// Writes a JSON string.
fn json_str(out: &mut BytesMut, s: &str) {
    let mut w = out.writer();
    // Writing a str to memory cannot fail.
    let _ = serde_json::to_writer(&mut w, s);
}

/// Appends a `put` line whose value is already JSON (`value` must be one
/// line of valid JSON).
pub fn put_line_raw(out: &mut BytesMut, rev: Revision, rel: &str, value: &[u8]) {
    out.put_slice(b"{\"type\":\"put\",\"rev\":");
    out.put_slice(rev.to_string().as_bytes());
    out.put_slice(b",\"key\":");
    json_str(out, rel);
    out.put_slice(b",\"value\":");
    out.put_slice(value);
    out.put_slice(b"}\n");
}

/// Appends a `put` line for a typed value.
pub fn put_line<T: serde::Serialize>(out: &mut BytesMut, rev: Revision, rel: &str, value: &T) {
    out.put_slice(b"{\"type\":\"put\",\"rev\":");
    out.put_slice(rev.to_string().as_bytes());
    out.put_slice(b",\"key\":");
    json_str(out, rel);
    out.put_slice(b",\"value\":");
    let mut w = out.writer();
    // Our record types always serialise.
    let _ = serde_json::to_writer(&mut w, value);
    w.get_mut().put_slice(b"}\n");
}

/// Appends a `delete` line.
pub fn delete_line(out: &mut BytesMut, rev: Revision, rel: &str) {
    out.put_slice(b"{\"type\":\"delete\",\"rev\":");
    out.put_slice(rev.to_string().as_bytes());
    out.put_slice(b",\"key\":");
    json_str(out, rel);
    out.put_slice(b"}\n");
}

/// Appends any line.
pub fn line(out: &mut BytesMut, l: &crate::api::WatchLine) {
    let mut w = out.writer();
    let _ = serde_json::to_writer(&mut w, l);
    w.get_mut().put_u8(b'\n');
}

/// The line a store event becomes, if agents follow its key. The stored
/// JSON is copied as it is (checked to be one line of valid JSON; a value
/// that is not JSON is not streamed).
pub fn encode_event(root: &str, ev: &WatchEvent) -> Option<LogEntry> {
    let rel = ev.kv.key.strip_prefix(root)?;
    if !streamed(rel) {
        return None;
    }
    let rev = ev.revision();
    let mut out = BytesMut::with_capacity(64 + rel.len() + ev.kv.value.len());
    match ev.kind {
        EventKind::Put => {
            let raw = &ev.kv.value;
            if serde_json::from_slice::<serde::de::IgnoredAny>(raw).is_err() {
                return None;
            }
            if raw.iter().any(|b| *b == b'\n' || *b == b'\r') {
                // Pretty-printed by some other writer: re-encode compactly.
                let v: serde_json::Value = serde_json::from_slice(raw).ok()?;
                put_line(&mut out, rev, rel, &v);
            } else {
                put_line_raw(&mut out, rev, rel, raw);
            }
        }
        EventKind::Delete => delete_line(&mut out, rev, rel),
    }
    Some(LogEntry {
        rev,
        line: out.freeze(),
    })
}

struct Log {
    entries: VecDeque<LogEntry>,
    /// Sequence number of `entries[0]`.
    first_seq: u64,
    /// Every line with a revision above this is in `entries` (or not yet
    /// appended).
    base: Revision,
    /// Every line with a revision up to this has been appended.
    covered: Revision,
    bytes: usize,
    epoch: u64,
    closed: bool,
    last_append: Instant,
    /// Most entries kept.
    window: usize,
}

impl Log {
    fn tail_seq(&self) -> u64 {
        self.first_seq + self.entries.len() as u64
    }

    fn evict(&mut self) {
        while self.entries.len() > self.window || self.bytes > MAX_BYTES {
            let Some(e) = self.entries.pop_front() else {
                break;
            };
            self.first_seq += 1;
            self.bytes -= e.line.len();
            self.base = self.base.max(e.rev);
            // A revision leaves the log whole.
            while self.entries.front().is_some_and(|f| f.rev <= self.base) {
                if let Some(f) = self.entries.pop_front() {
                    self.first_seq += 1;
                    self.bytes -= f.line.len();
                }
            }
        }
    }
}

/// A stream's position in the log.
#[derive(Clone, Debug)]
pub struct Cursor {
    seq: u64,
    /// Lines at or below this revision are skipped (the stream's snapshot
    /// or resume point already covers them).
    skip_through: Revision,
    epoch: u64,
    /// The revision of the last line handed out.
    pub last: Revision,
}

/// What a read found.
#[derive(Debug)]
pub enum Read {
    /// Lines to send (one or more, joined), the last one's revision.
    Lines(Bytes),
    /// Nothing new: wait for a notification.
    Pending,
    /// The stream fell behind the log's window: end it (the client resumes
    /// with `from`).
    Lagged,
    /// The cache was reloaded: the client must take a fresh snapshot.
    Reset,
    /// The server is stopping.
    Closed,
}

/// The shared log (see the module docs).
pub struct Fanout {
    log: Mutex<Log>,
    notify: watch::Sender<u64>,
}

impl Default for Fanout {
    fn default() -> Self {
        Self::new()
    }
}

impl std::fmt::Debug for Fanout {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let l = self.lock();
        f.debug_struct("Fanout")
            .field("entries", &l.entries.len())
            .field("bytes", &l.bytes)
            .field("base", &l.base)
            .field("covered", &l.covered)
            .finish()
    }
}

impl Fanout {
    /// An empty log of the default window.
    pub fn new() -> Self {
        Self::with_window(MAX_ENTRIES)
    }

    /// An empty log holding at most `window` lines (and [`MAX_BYTES`]).
    pub fn with_window(window: usize) -> Self {
        Fanout {
            log: Mutex::new(Log {
                entries: VecDeque::new(),
                first_seq: 0,
                base: 0,
                covered: 0,
                bytes: 0,
                epoch: 0,
                closed: false,
                last_append: Instant::now(),
                window: window.max(1),
            }),
            notify: watch::channel(0).0,
        }
    }

    fn lock(&self) -> MutexGuard<'_, Log> {
        self.log.lock().unwrap_or_else(PoisonError::into_inner)
    }

    fn wake(&self) {
        self.notify.send_modify(|n| *n = n.wrapping_add(1));
    }

    /// Appends the lines of a batch the cache applied; `covered` is the
    /// batch's revision (every line up to it is now in the log).
    pub fn append(&self, lines: Vec<LogEntry>, covered: Revision) {
        {
            let mut l = self.lock();
            l.covered = l.covered.max(covered);
            if lines.is_empty() {
                return;
            }
            for e in lines {
                l.bytes += e.line.len();
                l.entries.push_back(e);
            }
            l.last_append = Instant::now();
            l.evict();
        }
        self.wake();
    }

    /// Starts a new epoch at `rev` (the cache was reloaded from a listing):
    /// existing streams are told to resync.
    pub fn reset(&self, rev: Revision) {
        {
            let mut l = self.lock();
            l.epoch += 1;
            l.first_seq = l.tail_seq();
            l.entries.clear();
            l.bytes = 0;
            l.base = rev;
            l.covered = rev;
        }
        self.wake();
    }

    /// Ends every stream (the server stops).
    pub fn close(&self) {
        self.lock().closed = true;
        self.wake();
    }

    /// A receiver woken on every append (subscribe before reading).
    pub fn subscribe(&self) -> watch::Receiver<u64> {
        self.notify.subscribe()
    }

    /// Receivers subscribed to the log's wake-ups (one relay per thread
    /// that serves streams, see [`super::watch`]).
    pub fn subscribers(&self) -> usize {
        self.notify.receiver_count()
    }

    /// The lowest revision the log covers from: lines above it are all in
    /// the log.
    pub fn base(&self) -> Revision {
        self.lock().base
    }

    /// Lines appended after revision `rev`, counted (for deciding whether a
    /// cached snapshot is still worth reusing); `None` if the log no longer
    /// covers `rev`.
    pub fn lines_after(&self, rev: Revision) -> Option<usize> {
        let l = self.lock();
        if rev < l.base {
            return None;
        }
        let idx = l.entries.partition_point(|e| e.rev <= rev);
        Some(l.entries.len() - idx)
    }

    /// A cursor that reads every line with a revision above `rev`, or
    /// `None` if some of them already left the log.
    pub fn cursor_after(&self, rev: Revision) -> Option<Cursor> {
        let l = self.lock();
        if rev < l.base {
            return None;
        }
        let idx = l.entries.partition_point(|e| e.rev <= rev);
        Some(Cursor {
            seq: l.first_seq + idx as u64,
            skip_through: rev,
            epoch: l.epoch,
            last: rev,
        })
    }

    /// Reads what is new for `cur`.
    pub fn read(&self, cur: &mut Cursor) -> Read {
        let l = self.lock();
        if l.closed {
            return Read::Closed;
        }
        if l.epoch != cur.epoch {
            return Read::Reset;
        }
        if cur.seq < l.first_seq {
            return Read::Lagged;
        }
        let start = (cur.seq - l.first_seq) as usize;
        let mut first: Option<&Bytes> = None;
        let mut joined: Option<BytesMut> = None;
        let mut seq = cur.seq;
        for e in l.entries.range(start..) {
            seq += 1;
            if e.rev <= cur.skip_through {
                continue;
            }
            cur.last = cur.last.max(e.rev);
            match (&mut joined, first) {
                (Some(j), _) => j.put_slice(&e.line),
                (None, None) => first = Some(&e.line),
                (None, Some(f)) => {
                    let mut j = BytesMut::with_capacity(f.len() + e.line.len() * 4);
                    j.put_slice(f);
                    j.put_slice(&e.line);
                    joined = Some(j);
                }
            }
            if joined.as_ref().is_some_and(|j| j.len() >= MAX_READ) {
                break;
            }
        }
        cur.seq = seq;
        match (joined, first) {
            (Some(j), _) => Read::Lines(j.freeze()),
            (None, Some(f)) => Read::Lines(f.clone()),
            (None, None) => Read::Pending,
        }
    }

    /// Reads everything new for `cur` at once (no size cap) and the
    /// revision every line up to which it now holds: what a stream sends
    /// between its snapshot and `synced`. Closed, reset or lagged cursors
    /// get nothing (their next [`read`](Self::read) reports it).
    pub fn drain(&self, cur: &mut Cursor) -> (Bytes, Revision) {
        let l = self.lock();
        let covered = l.covered.max(cur.skip_through);
        if l.closed || l.epoch != cur.epoch || cur.seq < l.first_seq {
            return (Bytes::new(), cur.skip_through);
        }
        let start = (cur.seq - l.first_seq) as usize;
        let mut out = BytesMut::new();
        for e in l.entries.range(start..) {
            if e.rev > cur.skip_through {
                out.put_slice(&e.line);
                cur.last = cur.last.max(e.rev);
            }
        }
        cur.seq = l.tail_seq();
        (out.freeze(), covered.max(cur.last))
    }

    /// Appends a `progress` line whenever no line was appended for
    /// `interval`; runs until aborted.
    pub async fn tick_progress(me: Arc<Fanout>, interval: Duration) {
        let mut tick = tokio::time::interval(interval / 5);
        tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        loop {
            tick.tick().await;
            let appended = {
                let mut l = me.lock();
                if l.closed {
                    return;
                }
                if l.last_append.elapsed() < interval {
                    false
                } else {
                    let rev = l.covered;
                    let mut out = BytesMut::with_capacity(48);
                    line(&mut out, &crate::api::WatchLine::Progress { rev });
                    let line = out.freeze();
                    l.bytes += line.len();
                    l.entries.push_back(LogEntry { rev, line });
                    l.last_append = Instant::now();
                    l.evict();
                    true
                }
            };
            if appended {
                self::Fanout::wake(&me);
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn entry(rev: Revision, s: &str) -> LogEntry {
        LogEntry {
            rev,
            line: Bytes::from(format!("{s}\n")),
        }
    }

    fn lines(r: Read) -> String {
        match r {
            Read::Lines(b) => String::from_utf8(b.to_vec()).unwrap(),
            other => panic!("expected lines, got {other:?}"),
        }
    }

    #[test]
    fn cursors_read_in_order_skip_what_they_cover_and_share_bytes() {
        let f = Fanout::new();
        f.reset(10);
        f.append(vec![entry(11, "a"), entry(11, "b"), entry(12, "c")], 12);
        let mut all = f.cursor_after(10).unwrap();
        let mut late = f.cursor_after(11).unwrap();
        assert_eq!(lines(f.read(&mut all)), "a\nb\nc\n");
        assert_eq!(lines(f.read(&mut late)), "c\n");
        assert!(matches!(f.read(&mut all), Read::Pending));
        f.append(vec![entry(13, "d")], 13);
        // A single line is handed out as the shared bytes themselves.
        let (Read::Lines(x), Read::Lines(y)) = (f.read(&mut all), f.read(&mut late)) else {
            panic!()
        };
        assert_eq!(x.as_ptr(), y.as_ptr());
        assert_eq!(all.last, 13);
        // A cursor after a revision the log does not hold yet still sees
        // only later lines once they arrive.
        let mut ahead = f.cursor_after(14).unwrap();
        f.append(vec![entry(14, "e"), entry(15, "f")], 15);
        assert_eq!(lines(f.read(&mut ahead)), "f\n");
    }

    #[test]
    fn eviction_moves_the_base_by_whole_revisions_and_lags_slow_cursors() {
        let f = Fanout::with_window(100);
        f.reset(0);
        let mut slow = f.cursor_after(0).unwrap();
        for r in 1..=110 {
            f.append(vec![entry(r, "x"), entry(r, "y")], r);
        }
        let base = f.base();
        assert!(base > 0);
        assert!(f.cursor_after(base - 1).is_none());
        let mut fresh = f.cursor_after(base).unwrap();
        assert!(matches!(f.read(&mut slow), Read::Lagged));
        assert!(matches!(f.read(&mut fresh), Read::Lines(_)));
        assert_eq!(f.lines_after(base - 1), None);
    }

    #[test]
    fn drain_takes_everything_since_and_the_covered_revision() {
        let f = Fanout::new();
        f.reset(10);
        let mut c = f.cursor_after(10).unwrap();
        f.append(vec![entry(11, "a"), entry(12, "b")], 14);
        assert_eq!(f.drain(&mut c), (Bytes::from("a\nb\n"), 14));
        assert!(matches!(f.read(&mut c), Read::Pending));
        f.append(vec![entry(15, "c")], 15);
        assert_eq!(lines(f.read(&mut c)), "c\n");
    }

    #[test]
    fn reset_and_close_end_streams() {
        let f = Fanout::new();
        f.reset(5);
        let mut c = f.cursor_after(5).unwrap();
        f.reset(9);
        assert!(matches!(f.read(&mut c), Read::Reset));
        let mut c = f.cursor_after(9).unwrap();
        f.close();
        assert!(matches!(f.read(&mut c), Read::Closed));
    }

    #[test]
    fn encoded_lines_parse_as_watch_lines() {
        use crate::api::WatchLine;
        use contiv_core::store::KeyValue;
        let kv = |v: &[u8]| KeyValue {
            key: "/contiv/obj/network/default:n\"1".into(),
            value: v.to_vec(),
            create_revision: 3,
            mod_revision: 7,
            version: 1,
            lease: None,
        };
        let put = WatchEvent {
            kind: EventKind::Put,
            kv: kv(b"{\"a\":\n 1}"),
        };
        let e = encode_event("/contiv/", &put).unwrap();
        let l: WatchLine = serde_json::from_slice(&e.line).unwrap();
        assert_eq!(
            l,
            WatchLine::Put {
                rev: 7,
                key: "obj/network/default:n\"1".into(),
                value: serde_json::json!({"a": 1})
            }
        );
        assert_eq!(e.line.iter().filter(|b| **b == b'\n').count(), 1);
        let bad = WatchEvent {
            kind: EventKind::Put,
            kv: kv(b"not json"),
        };
        assert!(encode_event("/contiv/", &bad).is_none());
        let del = WatchEvent {
            kind: EventKind::Delete,
            kv: kv(b""),
        };
        let l: WatchLine =
            serde_json::from_slice(&encode_event("/contiv/", &del).unwrap().line).unwrap();
        assert!(matches!(l, WatchLine::Delete { rev: 7, .. }));
        let other = WatchEvent {
            kind: EventKind::Put,
            kv: KeyValue {
                key: "/contiv/alloc/x".into(),
                ..kv(b"{}")
            },
        };
        assert!(encode_event("/contiv/", &other).is_none());
    }
}
