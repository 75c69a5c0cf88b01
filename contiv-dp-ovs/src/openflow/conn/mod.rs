//! An async OpenFlow 1.3 connection (tokio).
//!
//! * [`Connection::connect_unix`] connects to a bridge's management socket
//!   (`<rundir>/<bridge>.mgmt`, which speaks OpenFlow 1.0–1.5; 1.3 is
//!   negotiated with HELLO) or to a `punix:` controller target.
//! * [`Listener`] accepts connections from OVS when the bridge's controller
//!   is `unix:<path>` (the socket must be inside that ovs-vswitchd's run
//!   directory) or `tcp:<ip>:<port>`.
//! * [`Reconnecting`] keeps a connection up and calls a user callback
//!   ("resync now") after every (re)connect.
//!
//! One reader task demultiplexes replies by xid (multipart replies are
//! assembled across `more` flags), routes an `OFPT_ERROR` to the request
//! that caused it, answers the switch's echo requests, and pushes
//! asynchronous messages (packet-in, port-status, flow-removed, errors for
//! untracked requests) onto an unbounded [`Events`] stream, so none is lost
//! while a caller awaits a reply. One writer task owns the socket's write
//! half; callers hand it whole batches (many messages encoded into one
//! buffer, one write per batch), so installing many flows never waits for a
//! round trip per message. An idle connection is probed with echo requests
//! and closed when the peer stops answering.

mod connection;
mod listener;
mod reconnect;

pub use connection::{Connection, Events};
pub use listener::Listener;
pub use reconnect::{Backoff, BoxFuture, ReconnectEvent, Reconnecting};

use crate::openflow::wire::{self, ErrorMsg, FlowRemoved, Message, PacketIn, PortStatus};
use std::time::Duration;

/// Tunables of a [`Connection`].
#[derive(Debug, Clone)]
pub struct ConnConfig {
    /// How long a request waits for its reply (barriers and bundle commits
    /// of large batches included).
    pub request_timeout: Duration,
    /// Probe the peer with an echo request after this much silence.
    pub echo_interval: Duration,
    /// Close the connection when an echo request is not answered in time.
    pub echo_timeout: Duration,
    /// Target size of one write when sending batches.
    pub batch_bytes: usize,
}

impl Default for ConnConfig {
    fn default() -> Self {
        ConnConfig {
            request_timeout: Duration::from_secs(60),
            echo_interval: Duration::from_secs(5),
            echo_timeout: Duration::from_secs(15),
            batch_bytes: 1 << 20,
        }
    }
}

/// Something the switch sent that no request was waiting for.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum AsyncMessage {
    /// A packet for the controller.
    PacketIn {
        /// The message's xid (0 for switch-initiated messages).
        xid: u32,
        /// The packet-in.
        msg: PacketIn,
    },
    /// A port was added, removed or changed.
    PortStatus(PortStatus),
    /// A flow with `send_flow_rem` expired or was deleted.
    FlowRemoved(FlowRemoved),
    /// An error for a message sent without tracking
    /// ([`Connection::send`]); `xid` is that message's xid.
    Error {
        /// xid of the failed message.
        xid: u32,
        /// The error.
        error: ErrorMsg,
    },
    /// Any other unsolicited message.
    Other {
        /// Its xid.
        xid: u32,
        /// The message.
        msg: Message,
    },
    /// A message that could not be decoded (the connection stays up).
    Undecodable {
        /// Its xid.
        xid: u32,
        /// Its raw type byte.
        msg_type: u8,
        /// Why it could not be decoded.
        error: wire::Error,
    },
}

/// Connection failures.
#[derive(Debug, Clone, thiserror::Error)]
pub enum ConnError {
    /// Connecting, reading or writing failed.
    #[error("OpenFlow connection I/O error while {what}: {message}")]
    Io {
        /// What was being done.
        what: &'static str,
        /// The OS error text.
        message: String,
    },
    /// Version negotiation failed.
    #[error("OpenFlow handshake failed: {0}")]
    Handshake(String),
    /// A message could not be encoded or a reply could not be decoded.
    #[error("OpenFlow codec error: {0}")]
    Codec(#[from] wire::Error),
    /// The connection is closed (the peer went away, a keep-alive failed,
    /// or it was shut down).
    #[error("OpenFlow connection closed: {0}")]
    Closed(String),
    /// No reply in time.
    #[error("no reply to {what} within {after:?}")]
    Timeout {
        /// The request.
        what: &'static str,
        /// The timeout.
        after: Duration,
    },
    /// The switch answered the request with an error.
    #[error("switch rejected {what}: {error}")]
    Switch {
        /// The request.
        what: &'static str,
        /// The switch's error.
        error: ErrorMsg,
    },
    /// The switch answered with an unexpected message type.
    #[error("unexpected reply to {what}: message type {got}")]
    UnexpectedReply {
        /// The request.
        what: &'static str,
        /// The raw type byte received.
        got: u8,
    },
    /// Some messages of a checked batch or bundle failed.
    #[error("{0}")]
    Batch(#[from] BatchError),
}

/// Which messages of a batch or bundle the switch rejected.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{}", describe_batch(self))]
pub struct BatchError {
    /// Whether this was an (atomic) bundle: if so, nothing was applied.
    pub bundle: bool,
    /// (index into the submitted messages, the switch's error), in order.
    pub failures: Vec<(usize, ErrorMsg)>,
    /// The error the bundle commit (or open) itself got, if any.
    pub commit: Option<ErrorMsg>,
}

fn describe_batch(e: &BatchError) -> String {
    let what = if e.bundle { "bundle" } else { "batch" };
    let mut s = match e.failures.first() {
        Some((i, err)) => format!(
            "{what}: message #{i} was rejected: {err}{}",
            if e.failures.len() > 1 {
                format!(" (and {} more)", e.failures.len() - 1)
            } else {
                String::new()
            }
        ),
        None => format!("{what} failed"),
    };
    if let Some(c) = &e.commit {
        s.push_str(&format!("; commit: {c}"));
    }
    if e.bundle {
        s.push_str("; nothing was applied");
    }
    s
}
