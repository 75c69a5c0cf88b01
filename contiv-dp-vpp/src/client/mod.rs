//! An async client of VPP's binary API over its unix socket
//! (`/run/vpp/api.sock`, the `socksvr` of `startup.conf`).
//!
//! * **Connect**: `sockclnt_create` (id 15) → `sockclnt_create_reply` (id
//!   16) with the client index and the `<name>_<crc>` → id table; every
//!   message id is resolved from it and checked against this build's CRC
//!   ([`MsgTable`]), so a VPP with a different definition of a message is
//!   refused by name instead of being sent bytes it would misread.
//! * **Requests** ([`Client::request`]): a fresh context per call; the
//!   reader task routes each reply to its caller by context, so calls from
//!   many tasks run concurrently on one socket. A non-zero `retval` is
//!   [`ClientError::Api`] with VPP's error name.
//! * **Dumps** ([`Client::dump`]): the dump and a `control_ping` are written
//!   together with one context; details are collected until the ping's
//!   reply, which VPP sends after the last detail.
//! * **Events** ([`Client::events`]): messages without a context (e.g.
//!   `sw_interface_event` after `want_interface_events`) go to a broadcast
//!   channel that survives reconnects.
//! * **Reconnect**: when the socket fails, pending calls fail with
//!   [`ClientError::Disconnected`]; the next call connects again (new
//!   handshake, ids re-resolved) and [`Client::generation`] increases, so a
//!   caller knows VPP may have restarted and its state must be resynced.
//!
//! ```no_run
//! # async fn demo() -> Result<(), contiv_dp_vpp::client::ClientError> {
//! use contiv_dp_vpp::api::interface::SwInterfaceDump;
//! use contiv_dp_vpp::client::Client;
//! let vpp = Client::connect("/run/vpp/api.sock", "contiv").await?;
//! for i in vpp.dump(&SwInterfaceDump::default()).await? {
//!     println!("{} {}", i.sw_if_index, i.interface_name);
//! }
//! # Ok(()) }
//! ```

mod conn;
mod table;

pub use conn::{SOCKCLNT_CREATE_ID, SOCKCLNT_CREATE_REPLY_ID};
pub use table::MsgTable;

use crate::api::memclnt::{ControlPing, ControlPingReply};
use crate::wire::{self, Dump, Message, Request};
use conn::Conn;
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, PoisonError};
use std::time::Duration;
use tokio::sync::broadcast;

/// Client failures.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ClientError {
    /// The socket could not be opened, read or written.
    #[error("VPP API socket: {0}")]
    Io(String),
    /// The connection closed (VPP exited or restarted) while a call was
    /// pending; the next call reconnects.
    #[error("VPP closed the API connection")]
    Disconnected,
    /// No reply within the client's timeout.
    #[error("no reply from VPP to {name} within {timeout:?}")]
    Timeout {
        /// The request.
        name: &'static str,
        /// The timeout.
        timeout: Duration,
    },
    /// VPP answered with a non-zero `retval`.
    #[error("VPP refused {name}: retval {retval} ({})", crate::errno::describe(*.retval).unwrap_or("unknown error"))]
    Api {
        /// The request.
        name: &'static str,
        /// VPP's return value (see [`crate::errno`]).
        retval: i32,
    },
    /// This VPP does not have the message at all (plugin not loaded?).
    #[error("this VPP does not offer {name} (is its plugin loaded?)")]
    Unsupported {
        /// The message.
        name: &'static str,
    },
    /// This VPP defines the message differently (another API version).
    #[error("VPP's {name} has CRC {theirs:08x}, this build speaks {ours:08x}: API versions differ")]
    CrcMismatch {
        /// The message.
        name: &'static str,
        /// Our CRC.
        ours: u32,
        /// The server's.
        theirs: u32,
    },
    /// A message could not be encoded or decoded.
    #[error("VPP API codec: {0}")]
    Codec(#[from] wire::Error),
    /// The peer broke the protocol (unexpected reply type…).
    #[error("VPP API protocol violation: {0}")]
    Protocol(String),
}

impl ClientError {
    /// The `retval` of an [`ClientError::Api`] error.
    pub fn retval(&self) -> Option<i32> {
        match self {
            ClientError::Api { retval, .. } => Some(*retval),
            _ => None,
        }
    }
}

/// A message VPP sent without a context (an event), or a reply that
/// arrived after its caller gave up.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Event {
    /// Its id on the connection it arrived on.
    pub msg_id: u16,
    /// Its name, if this build knows the message.
    pub name: Option<&'static str>,
    /// The whole message (header included).
    pub bytes: Vec<u8>,
}

impl Event {
    /// Decodes the event as `M`, if it is one.
    pub fn decode<M: Message>(&self) -> Option<M> {
        (self.name == Some(M::NAME))
            .then(|| wire::decode::<M>(&self.bytes).ok().map(|(_, m)| m))
            .flatten()
    }
}

/// Counters of a client.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct ClientStats {
    /// Requests sent, by message name (dumps included; the control pings
    /// that end dumps are not counted).
    pub sent: BTreeMap<&'static str, u64>,
    /// Connections made (the first one included).
    pub connects: u64,
}

impl ClientStats {
    /// Requests sent in total.
    pub fn total(&self) -> u64 {
        self.sent.values().sum()
    }
}

/// The VPP API client. Cheap to share (`Arc` it); every method takes
/// `&self`.
pub struct Client {
    path: PathBuf,
    name: String,
    timeout: Duration,
    conn: tokio::sync::Mutex<Option<Arc<Conn>>>,
    generation: AtomicU64,
    events: broadcast::Sender<Event>,
    stats: Mutex<ClientStats>,
}

impl std::fmt::Debug for Client {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Client")
            .field("path", &self.path)
            .field("name", &self.name)
            .field("generation", &self.generation())
            .finish()
    }
}

impl Client {
    /// Connects to the API socket at `path`, registering as `name`.
    pub async fn connect(path: impl AsRef<Path>, name: &str) -> Result<Client, ClientError> {
        let c = Client::new(path, name);
        c.conn().await?;
        Ok(c)
    }

    /// A client that connects on its first call.
    pub fn new(path: impl AsRef<Path>, name: &str) -> Client {
        let (events, _) = broadcast::channel(1024);
        Client {
            path: path.as_ref().to_owned(),
            name: name.to_owned(),
            timeout: Duration::from_secs(10),
            conn: tokio::sync::Mutex::new(None),
            generation: AtomicU64::new(0),
            events,
            stats: Mutex::new(ClientStats::default()),
        }
    }

    /// Sets the per-call reply timeout (default 10 s).
    pub fn with_timeout(mut self, timeout: Duration) -> Client {
        self.timeout = timeout;
        self
    }

    /// The socket path.
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// How many times a connection was established (0 before the first):
    /// a change means VPP may have restarted since the caller last looked.
    pub fn generation(&self) -> u64 {
        self.generation.load(Ordering::Acquire)
    }

    /// Counters.
    pub fn stats(&self) -> ClientStats {
        self.stats
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .clone()
    }

    /// Events from now on (across reconnects).
    pub fn events(&self) -> broadcast::Receiver<Event> {
        self.events.subscribe()
    }

    /// The message table of the current connection (connecting if needed).
    pub async fn table(&self) -> Result<MsgTable, ClientError> {
        Ok(self.conn().await?.table.clone())
    }

    /// True if a connection is established and has not failed (no call is
    /// made: a peer that closed the socket is noticed by the reader).
    pub async fn is_connected(&self) -> bool {
        self.conn.lock().await.as_ref().is_some_and(|c| c.is_open())
    }

    /// Drops the current connection (the next call reconnects).
    pub async fn disconnect(&self) {
        self.conn.lock().await.take();
    }

    async fn conn(&self) -> Result<Arc<Conn>, ClientError> {
        let mut g = self.conn.lock().await;
        if let Some(c) = g.as_ref().filter(|c| c.is_open()) {
            return Ok(c.clone());
        }
        *g = None;
        let c = Arc::new(Conn::open(&self.path, &self.name, self.events.clone()).await?);
        self.generation.fetch_add(1, Ordering::AcqRel);
        self.stats
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .connects += 1;
        tracing::debug!(path = %self.path.display(), announced = c.table.announced(), "connected to the VPP API");
        *g = Some(c.clone());
        Ok(c)
    }

    fn count(&self, name: &'static str) {
        *self
            .stats
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .sent
            .entry(name)
            .or_default() += 1;
    }

    /// Sends `msg` and waits for its reply. A non-zero `retval` is an
    /// error.
    pub async fn request<M: Request>(&self, msg: &M) -> Result<M::Reply, ClientError> {
        let conn = self.conn().await?;
        let reply_id = conn.table.id::<M::Reply>()?;
        let ctx = conn.context();
        let mut frames = Vec::new();
        conn.request_frame(msg, ctx, &mut frames)?;
        let mut rx = conn.register(ctx);
        self.count(M::NAME);
        let res = async {
            conn.write(&frames).await?;
            let raw = tokio::time::timeout(self.timeout, rx.recv())
                .await
                .map_err(|_| ClientError::Timeout {
                    name: M::NAME,
                    timeout: self.timeout,
                })?
                .ok_or(ClientError::Disconnected)?;
            expect_id(&raw, reply_id, <M::Reply as Message>::NAME)?;
            let (_, reply) = wire::decode::<M::Reply>(&raw)?;
            match reply.retval() {
                Some(rv) if rv != 0 => Err(ClientError::Api {
                    name: M::NAME,
                    retval: rv,
                }),
                _ => Ok(reply),
            }
        }
        .await;
        conn.unregister(ctx);
        res
    }

    /// Sends a dump and collects its details (ended by a control ping).
    pub async fn dump<M: Dump>(&self, msg: &M) -> Result<Vec<M::Details>, ClientError> {
        let conn = self.conn().await?;
        let details_id = conn.table.id::<M::Details>()?;
        let ping_reply_id = conn.table.id::<ControlPingReply>()?;
        let ctx = conn.context();
        let mut frames = Vec::new();
        conn.request_frame(msg, ctx, &mut frames)?;
        conn.request_frame(&ControlPing {}, ctx, &mut frames)?;
        let mut rx = conn.register(ctx);
        self.count(M::NAME);
        let res = async {
            conn.write(&frames).await?;
            let mut out = Vec::new();
            let deadline = tokio::time::Instant::now() + self.timeout;
            loop {
                let raw = tokio::time::timeout_at(deadline, rx.recv())
                    .await
                    .map_err(|_| ClientError::Timeout {
                        name: M::NAME,
                        timeout: self.timeout,
                    })?
                    .ok_or(ClientError::Disconnected)?;
                let id = u16::from_be_bytes([raw[0], raw[1]]);
                if id == details_id {
                    out.push(wire::decode::<M::Details>(&raw)?.1);
                } else if id == ping_reply_id {
                    return Ok(out);
                } else {
                    return Err(ClientError::Protocol(format!(
                        "{} answered with message id {id}, neither {} nor control_ping_reply",
                        M::NAME,
                        <M::Details as Message>::NAME
                    )));
                }
            }
        }
        .await;
        conn.unregister(ctx);
        res
    }
}

fn expect_id(raw: &[u8], id: u16, name: &str) -> Result<(), ClientError> {
    let got = raw
        .get(..2)
        .map(|b| u16::from_be_bytes([b[0], b[1]]))
        .ok_or_else(|| ClientError::Protocol("empty message".into()))?;
    if got != id {
        return Err(ClientError::Protocol(format!(
            "expected {name} (id {id}), got message id {got}"
        )));
    }
    Ok(())
}
