//! [`VppTestServer`]: a **wire-faithful VPP test server** — not VPP.
//!
//! No VPP can be installed where contiv-rs is tested, so the VPP backend
//! is proven against this server instead. It speaks VPP's real socket
//! protocol (16-byte frames, `sockclnt_create` with ids 15/16 and the
//! `<name>_<crc>` table, request/reply by context, dumps answered with
//! details then the `control_ping` reply, events to the clients that asked
//! for them), with message ids assigned the way VPP assigns them (modules
//! in order, `memclnt` first, from 1). It holds VPP's state for the
//! messages the backend uses — interfaces (TAP, BVI, VXLAN, VLAN
//! sub-interfaces, af_packet), tags, admin state, tables and bindings,
//! addresses, bridge domains and membership, l2fib, ARP termination,
//! neighbours, ACLs and their interface lists, cnat translations, policers
//! — answers their dumps, and refuses bad requests with the return values
//! VPP's handlers use (`crate::errno`). The official Python client
//! (vpp-papi) connects to it and completes calls: see the crate's tests.
//!
//! For tests it also records every message received, counts mutating
//! calls, injects failures, drops connections (a VPP crash) and restarts
//! empty (a VPP restart).

mod dispatch;
pub mod fuzz;
pub mod npol;
pub mod state;

pub use state::{Acl, Bd, IfKind, Iface, L2Port, L2fib, VppState};

use crate::api::MESSAGES;
use crate::client::{SOCKCLNT_CREATE_ID, SOCKCLNT_CREATE_REPLY_ID};
use crate::wire::{self, FRAME_HEADER_LEN, Frame};
use std::collections::{BTreeMap, HashMap};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{UnixListener, UnixStream};
use tokio::sync::mpsc;

/// How the test server presents itself.
#[derive(Clone, Debug)]
pub struct ServerConfig {
    /// Physical interfaces present at start (after `local0`).
    pub physical: Vec<String>,
    /// Messages announced with another CRC (a VPP of another API version).
    pub crc_overrides: BTreeMap<String, u32>,
    /// Messages not announced at all (a plugin not loaded).
    pub omit: Vec<String>,
}

impl Default for ServerConfig {
    fn default() -> Self {
        ServerConfig {
            physical: vec!["GigabitEthernet0/8/0".into()],
            crc_overrides: BTreeMap::new(),
            omit: Vec::new(),
        }
    }
}

/// The message-id table the server announces.
#[derive(Debug)]
pub(crate) struct ServerTable {
    /// name → id.
    pub ids: HashMap<&'static str, u16>,
    /// id → name.
    pub names: HashMap<u16, &'static str>,
    /// What `sockclnt_create_reply` carries.
    pub announced: Vec<(u16, String)>,
}

impl ServerTable {
    fn new(cfg: &ServerConfig) -> ServerTable {
        let mut t = ServerTable {
            ids: HashMap::new(),
            names: HashMap::new(),
            announced: Vec::new(),
        };
        for (i, m) in MESSAGES.iter().enumerate() {
            let id = u16::try_from(i + 1).unwrap_or(u16::MAX);
            if cfg.omit.iter().any(|o| o == m.name) {
                continue;
            }
            let crc = cfg.crc_overrides.get(m.name).copied().unwrap_or(m.crc);
            t.ids.insert(m.name, id);
            t.names.insert(id, m.name);
            t.announced.push((id, format!("{}_{crc:08x}", m.name)));
        }
        debug_assert_eq!(t.ids.get("sockclnt_create"), Some(&SOCKCLNT_CREATE_ID));
        debug_assert_eq!(
            t.ids.get("sockclnt_create_reply"),
            Some(&SOCKCLNT_CREATE_REPLY_ID)
        );
        t
    }
}

/// A failure to inject: the next `count` requests named `name` are
/// answered with `retval` and change nothing.
#[derive(Clone, Debug)]
struct Fault {
    name: String,
    retval: i32,
    count: u32,
}

struct ConnHandle {
    tx: mpsc::UnboundedSender<Vec<u8>>,
    task: tokio::task::AbortHandle,
}

pub(crate) struct Shared {
    pub state: Mutex<VppState>,
    pub table: ServerTable,
    physical: Vec<String>,
    log: Mutex<Vec<(String, Vec<u8>)>>,
    faults: Mutex<Vec<Fault>>,
    conns: Mutex<HashMap<u64, ConnHandle>>,
    /// Connections registered for interface events, with their pid.
    pub subscribers: Mutex<HashMap<u64, u32>>,
    next_conn: AtomicU64,
    unhandled: Mutex<BTreeMap<String, u64>>,
}

fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    m.lock().unwrap_or_else(PoisonError::into_inner)
}

impl Shared {
    /// Sends a message to every connection registered for events.
    pub fn broadcast_event(&self, raw_for: impl Fn(u32) -> Vec<u8>) {
        let subs = lock(&self.subscribers).clone();
        let conns = lock(&self.conns);
        for (conn, pid) in subs {
            if let Some(c) = conns.get(&conn)
                && let Ok(f) = wire::frame(&raw_for(pid))
            {
                let _ = c.tx.send(f);
            }
        }
    }

    fn take_fault(&self, name: &str) -> Option<i32> {
        let mut f = lock(&self.faults);
        let i = f.iter().position(|x| x.name == name)?;
        let rv = f[i].retval;
        f[i].count -= 1;
        if f[i].count == 0 {
            f.remove(i);
        }
        Some(rv)
    }
}

/// The wire-faithful VPP test server. Listens on a unix socket in a
/// private temporary directory; dropping it stops it and removes the
/// socket.
pub struct VppTestServer {
    _dir: tempfile::TempDir,
    socket: PathBuf,
    shared: Arc<Shared>,
    accept: tokio::task::JoinHandle<()>,
}

impl std::fmt::Debug for VppTestServer {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("VppTestServer")
            .field("socket", &self.socket)
            .finish()
    }
}

impl Drop for VppTestServer {
    fn drop(&mut self) {
        self.accept.abort();
        for (_, c) in lock(&self.shared.conns).drain() {
            c.task.abort();
        }
    }
}

/// Message names that only read state (everything else mutates).
pub fn is_read_only(name: &str) -> bool {
    name.ends_with("_dump")
        || name.contains("_get")
        || matches!(
            name,
            "control_ping" | "sockclnt_create" | "sockclnt_delete" | "want_interface_events"
        )
}

impl VppTestServer {
    /// Starts a server with the default configuration (one physical
    /// interface, `GigabitEthernet0/8/0`). Must run inside a tokio runtime.
    pub async fn start() -> std::io::Result<VppTestServer> {
        VppTestServer::start_with(ServerConfig::default()).await
    }

    /// Starts a server with `cfg`.
    pub async fn start_with(cfg: ServerConfig) -> std::io::Result<VppTestServer> {
        let dir = tempfile::Builder::new().prefix("vpp-test-").tempdir()?;
        let socket = dir.path().join("api.sock");
        let listener = UnixListener::bind(&socket)?;
        let phys: Vec<&str> = cfg.physical.iter().map(String::as_str).collect();
        let shared = Arc::new(Shared {
            state: Mutex::new(VppState::new(&phys)),
            table: ServerTable::new(&cfg),
            physical: cfg.physical.clone(),
            log: Mutex::new(Vec::new()),
            faults: Mutex::new(Vec::new()),
            conns: Mutex::new(HashMap::new()),
            subscribers: Mutex::new(HashMap::new()),
            next_conn: AtomicU64::new(1),
            unhandled: Mutex::new(BTreeMap::new()),
        });
        let accept = tokio::spawn(accept_loop(listener, shared.clone()));
        Ok(VppTestServer {
            _dir: dir,
            socket,
            shared,
            accept,
        })
    }

    /// The API socket path (what `--vpp-socket` would name).
    pub fn socket_path(&self) -> &Path {
        &self.socket
    }

    /// A copy of the state.
    pub fn state(&self) -> VppState {
        lock(&self.shared.state).clone()
    }

    /// Changes the state directly (what an operator or another agent would
    /// do behind the backend's back).
    pub fn with_state<R>(&self, f: impl FnOnce(&mut VppState) -> R) -> R {
        f(&mut lock(&self.shared.state))
    }

    /// Every message received so far (handshakes included), by name, raw
    /// (header included, frame stripped).
    pub fn received(&self) -> Vec<(String, Vec<u8>)> {
        lock(&self.shared.log).clone()
    }

    /// Forgets the received-message log.
    pub fn clear_log(&self) {
        lock(&self.shared.log).clear();
    }

    /// Received messages that change state (not dumps, pings, handshakes).
    pub fn mutations(&self) -> Vec<String> {
        lock(&self.shared.log)
            .iter()
            .filter(|(n, _)| !is_read_only(n))
            .map(|(n, _)| n.clone())
            .collect()
    }

    /// Messages the server received but does not model, by name.
    pub fn unhandled(&self) -> BTreeMap<String, u64> {
        lock(&self.shared.unhandled).clone()
    }

    /// The next `count` requests named `name` fail with `retval`.
    pub fn fail_next(&self, name: &str, retval: i32, count: u32) {
        lock(&self.shared.faults).push(Fault {
            name: name.to_owned(),
            retval,
            count,
        });
    }

    /// Closes every client connection (VPP crashed; state kept, as if it
    /// were restarted with a persisted configuration).
    pub fn drop_connections(&self) {
        for (_, c) in lock(&self.shared.conns).drain() {
            c.task.abort();
        }
        lock(&self.shared.subscribers).clear();
    }

    /// A VPP restart: connections closed and all configuration lost.
    pub fn restart(&self) {
        self.drop_connections();
        let phys: Vec<&str> = self.shared.physical.iter().map(String::as_str).collect();
        *lock(&self.shared.state) = VppState::new(&phys);
    }

    /// The id this server gives message `name`.
    pub fn msg_id(&self, name: &str) -> Option<u16> {
        self.shared.table.ids.get(name).copied()
    }
}

async fn accept_loop(listener: UnixListener, shared: Arc<Shared>) {
    loop {
        let Ok((stream, _)) = listener.accept().await else {
            continue;
        };
        let id = shared.next_conn.fetch_add(1, Ordering::Relaxed);
        let (tx, rx) = mpsc::unbounded_channel();
        let task = tokio::spawn(serve(stream, id, shared.clone(), tx.clone(), rx));
        lock(&shared.conns).insert(
            id,
            ConnHandle {
                tx,
                task: task.abort_handle(),
            },
        );
    }
}

async fn read_msg(r: &mut tokio::net::unix::OwnedReadHalf) -> Option<Vec<u8>> {
    let mut hdr = [0u8; FRAME_HEADER_LEN];
    r.read_exact(&mut hdr).await.ok()?;
    let len = Frame::new_unchecked(&hdr[..]).payload_len();
    if !(2..=wire::MAX_MESSAGE_LEN).contains(&len) {
        return None;
    }
    let mut buf = vec![0u8; len];
    r.read_exact(&mut buf).await.ok()?;
    Some(buf)
}

async fn serve(
    stream: UnixStream,
    conn: u64,
    shared: Arc<Shared>,
    tx: mpsc::UnboundedSender<Vec<u8>>,
    mut rx: mpsc::UnboundedReceiver<Vec<u8>>,
) {
    let (mut rd, mut wr) = stream.into_split();
    let writer = tokio::spawn(async move {
        while let Some(f) = rx.recv().await {
            if wr.write_all(&f).await.is_err() {
                break;
            }
        }
    });
    // VPP gives each socket client an index; we use the connection id.
    let client_index = u32::try_from(conn).unwrap_or(u32::MAX);
    while let Some(msg) = read_msg(&mut rd).await {
        let id = u16::from_be_bytes([msg[0], msg[1]]);
        let Some(name) = shared.table.names.get(&id).copied() else {
            // VPP logs and drops messages with unknown ids.
            *lock(&shared.unhandled)
                .entry(format!("id {id}"))
                .or_default() += 1;
            continue;
        };
        lock(&shared.log).push((name.to_owned(), msg.clone()));
        let fault = shared.take_fault(name);
        let replies = dispatch::handle(&shared, conn, client_index, name, &msg, fault);
        match replies {
            Ok(Some(rs)) => {
                for r in rs {
                    if let Ok(f) = wire::frame(&r) {
                        let _ = tx.send(f);
                    }
                }
            }
            Ok(None) => {
                *lock(&shared.unhandled).entry(name.to_owned()).or_default() += 1;
            }
            Err(e) => {
                // VPP drops messages it cannot decode (its length checks).
                tracing::debug!(%name, error = %e, "test server: undecodable message dropped");
            }
        }
        if name == "sockclnt_delete" {
            break;
        }
    }
    lock(&shared.subscribers).remove(&conn);
    lock(&shared.conns).remove(&conn);
    // Let queued replies (e.g. to sockclnt_delete) go out, then close.
    drop(tx);
    let _ = writer.await;
}
