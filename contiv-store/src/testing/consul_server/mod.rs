//! A wire-faithful Consul test server (no Consul server can be installed
//! here): the parts of Consul's HTTP API the Consul backend uses, built
//! from Consul's published API and checked with an independent client
//! (PyPI's `py-consul`, in `tests/consul_server_pyconsul.rs`).
//!
//! * KV: `GET/PUT/DELETE /v1/kv/<key>` with `?recurse`, `?keys`
//!   (`&separator=`), `?raw`, `?cas=`, `?flags=`, `?acquire=`, `?release=`;
//!   blocking queries (`?index=&wait=`) with `X-Consul-Index`; 404 for
//!   missing keys; 413 above 512 KiB.
//! * `/v1/txn`: Consul's KV verbs (`set`, `cas`, `lock`, `unlock`, `get`,
//!   `get-or-empty`, `get-tree`, `check-index`, `check-session`,
//!   `check-not-exists`, `delete`, `delete-tree`, `delete-cas`), at most 128
//!   operations, 409 with `{"Results": null, "Errors": [{"OpIndex", "What"}]}`
//!   and Consul's messages on rollback, 413 for too many operations or too
//!   large a body or value.
//! * Sessions: `create` (TTL between `session_ttl_min` and 24 h, `Behavior`
//!   release/delete, `LockDelay`, node checks), `renew` (404 when gone),
//!   `destroy`, `info`, `list`, `node`; a session is invalidated twice its
//!   TTL after the last renewal, as Consul does; invalidation releases or
//!   deletes held keys and starts their lock delay.
//! * One global index shared by KV writes and session changes.
//! * Optional ACL token (403 without it) and HTTPS.
//!
//! Each server runs on its own runtime thread, so sync and async tests can
//! use it. Several "agents" (listeners) can serve one state, to test
//! failover; an agent can be stopped and started again on its port.

mod http;
mod state;

use std::net::{SocketAddr, TcpListener};
use std::path::PathBuf;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};
use std::time::{Duration, Instant};

pub use state::{Entry, KvRequest, State};

/// How the test server behaves.
#[derive(Clone, Debug)]
pub struct ConsulServerConfig {
    /// The shortest session TTL accepted (Consul's `session_ttl_min`,
    /// default 10 s).
    pub session_ttl_min: Duration,
    /// An ACL token every request must carry.
    pub acl_token: Option<String>,
    /// Serve HTTPS with this PEM certificate chain and key.
    pub tls: Option<(PathBuf, PathBuf)>,
}

impl Default for ConsulServerConfig {
    fn default() -> Self {
        ConsulServerConfig {
            session_ttl_min: Duration::from_secs(10),
            acl_token: None,
            tls: None,
        }
    }
}

/// What every agent of one server shares.
pub struct Shared {
    state: Mutex<State>,
    changed: tokio::sync::watch::Sender<u64>,
    config: ConsulServerConfig,
    node: String,
    seed: u64,
    uuids: AtomicU64,
}

impl Shared {
    fn lock(&self) -> MutexGuard<'_, State> {
        self.state.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// Wakes blocking queries.
    fn notify(&self) {
        let index = self.lock().index;
        self.changed.send_replace(index);
    }

    fn new_uuid(&self) -> String {
        use std::hash::{BuildHasher, Hasher};
        let n = self.uuids.fetch_add(1, Ordering::Relaxed);
        let mut h = std::collections::hash_map::RandomState::new().build_hasher();
        h.write_u64(self.seed ^ n);
        let a = h.finish();
        h.write_u64(n);
        let b = h.finish();
        format!(
            "{:08x}-{:04x}-4{:03x}-{:04x}-{:012x}",
            a >> 32,
            (a >> 16) & 0xffff,
            a & 0xfff,
            0x8000 | ((b >> 48) & 0x3fff),
            b & 0xffff_ffff_ffff
        )
    }
}

struct Agent {
    addr: SocketAddr,
    task: Option<Serving>,
}

/// A serving agent: its task, and the signal that stops it (the task then
/// closes every connection and its listener before it ends).
struct Serving {
    task: tokio::task::JoinHandle<()>,
    stop: tokio::sync::oneshot::Sender<()>,
}

/// A running Consul test server (one or more agents on loopback). Stops
/// when dropped.
pub struct ConsulTestServer {
    shared: Arc<Shared>,
    runtime: Option<tokio::runtime::Runtime>,
    agents: Vec<Agent>,
    tls: Option<tokio_rustls::TlsAcceptor>,
}

impl std::fmt::Debug for ConsulTestServer {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ConsulTestServer")
            .field("agents", &self.addresses())
            .finish()
    }
}

fn tls_acceptor(cert: &PathBuf, key: &PathBuf) -> std::io::Result<tokio_rustls::TlsAcceptor> {
    use rustls_pki_types::pem::PemObject;
    use rustls_pki_types::{CertificateDer, PrivateKeyDer};
    let bad = |e: String| std::io::Error::new(std::io::ErrorKind::InvalidInput, e);
    let chain: Vec<CertificateDer<'static>> = CertificateDer::pem_file_iter(cert)
        .map_err(|e| bad(e.to_string()))?
        .collect::<Result<_, _>>()
        .map_err(|e| bad(e.to_string()))?;
    let key = PrivateKeyDer::from_pem_file(key).map_err(|e| bad(e.to_string()))?;
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let config = rustls::ServerConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .map_err(|e| bad(e.to_string()))?
        .with_no_client_auth()
        .with_single_cert(chain, key)
        .map_err(|e| bad(e.to_string()))?;
    Ok(tokio_rustls::TlsAcceptor::from(Arc::new(config)))
}

impl ConsulTestServer {
    /// Starts a server with Consul's defaults and one agent.
    pub fn start() -> std::io::Result<Self> {
        ConsulTestServer::start_with(ConsulServerConfig::default())
    }

    /// Starts a server with `config` and one agent.
    pub fn start_with(config: ConsulServerConfig) -> std::io::Result<Self> {
        let runtime = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(2)
            .thread_name("consul-test-server")
            .enable_all()
            .build()?;
        let tls = match &config.tls {
            Some((cert, key)) => Some(tls_acceptor(cert, key)?),
            None => None,
        };
        let (changed, _) = tokio::sync::watch::channel(0);
        let shared = Arc::new(Shared {
            state: Mutex::new(State::default()),
            changed,
            config,
            node: format!("consul-test-{}", std::process::id()),
            seed: std::time::SystemTime::now()
                .duration_since(std::time::UNIX_EPOCH)
                .map_or(0, |d| d.as_nanos() as u64),
            uuids: AtomicU64::new(1),
        });
        // Session TTL timers.
        let weak = Arc::downgrade(&shared);
        runtime.spawn(async move {
            loop {
                tokio::time::sleep(Duration::from_millis(50)).await;
                let Some(shared) = weak.upgrade() else { return };
                let expired = shared.lock().expire_sessions(Instant::now());
                if expired {
                    shared.notify();
                }
            }
        });
        let mut server = ConsulTestServer {
            shared,
            runtime: Some(runtime),
            agents: Vec::new(),
            tls,
        };
        server.add_agent()?;
        Ok(server)
    }

    fn serve(&self, listener: TcpListener) -> std::io::Result<Serving> {
        let Some(runtime) = &self.runtime else {
            return Err(std::io::Error::other("server stopped"));
        };
        let _enter = runtime.enter();
        listener.set_nonblocking(true)?;
        let listener = tokio::net::TcpListener::from_std(listener)?;
        let router = http::router(self.shared.clone());
        let tls = self.tls.clone();
        let (stop, mut stopped) = tokio::sync::oneshot::channel::<()>();
        let task = runtime.spawn(async move {
            // Connections live in this set: stopping the agent ends them.
            let mut conns = tokio::task::JoinSet::new();
            loop {
                tokio::select! {
                    _ = &mut stopped => {
                        // Every connection closed before the task ends
                        // (and drops the listener).
                        conns.shutdown().await;
                        return;
                    }
                    accepted = listener.accept() => {
                        let Ok((stream, _)) = accepted else { continue };
                        let _ = stream.set_nodelay(true);
                        let svc = hyper_util::service::TowerToHyperService::new(router.clone());
                        let tls = tls.clone();
                        conns.spawn(async move {
                            let builder = hyper::server::conn::http1::Builder::new();
                            match tls {
                                None => {
                                    let io = hyper_util::rt::TokioIo::new(stream);
                                    let _ = builder.serve_connection(io, svc).await;
                                }
                                Some(acceptor) => {
                                    let Ok(stream) = acceptor.accept(stream).await else { return };
                                    let io = hyper_util::rt::TokioIo::new(stream);
                                    let _ = builder.serve_connection(io, svc).await;
                                }
                            }
                        });
                    }
                    Some(_) = conns.join_next(), if !conns.is_empty() => {}
                }
            }
        });
        Ok(Serving { task, stop })
    }

    /// Adds an agent (a listener on a free loopback port) serving the same
    /// state; returns its index.
    pub fn add_agent(&mut self) -> std::io::Result<usize> {
        self.add_agent_on(TcpListener::bind("127.0.0.1:0")?)
    }

    /// Adds an agent serving on `listener` (bound by the caller, e.g. inside
    /// a network namespace); returns its index.
    pub fn add_agent_on(&mut self, listener: TcpListener) -> std::io::Result<usize> {
        let addr = listener.local_addr()?;
        let task = self.serve(listener)?;
        self.agents.push(Agent {
            addr,
            task: Some(task),
        });
        Ok(self.agents.len() - 1)
    }

    /// Stops agent `i`: its port refuses connections and its open
    /// connections are closed. The state stays.
    /// Returns once they are (within 5 s), so a request made next cannot
    /// be answered by it.
    pub fn stop_agent(&mut self, i: usize) {
        let Some(serving) = self.agents.get_mut(i).and_then(|a| a.task.take()) else {
            return;
        };
        let _ = serving.stop.send(());
        let Some(runtime) = &self.runtime else {
            serving.task.abort();
            return;
        };
        let (done_tx, done_rx) = std::sync::mpsc::channel();
        let task = serving.task;
        runtime.spawn(async move {
            let _ = task.await;
            let _ = done_tx.send(());
        });
        let _ = done_rx.recv_timeout(Duration::from_secs(5));
    }

    /// Starts a stopped agent again on the same port.
    pub fn start_agent(&mut self, i: usize) -> std::io::Result<()> {
        let Some(addr) = self.agents.get(i).map(|a| a.addr) else {
            return Err(std::io::Error::other("no such agent"));
        };
        if self.agents[i].task.is_some() {
            return Ok(());
        }
        // The stopped agent's listener closes once its task is cancelled
        // on the runtime: wait for the port briefly.
        let deadline = Instant::now() + Duration::from_secs(5);
        let listener = loop {
            match TcpListener::bind(addr) {
                Ok(l) => break l,
                Err(e)
                    if e.kind() == std::io::ErrorKind::AddrInUse && Instant::now() < deadline =>
                {
                    std::thread::sleep(Duration::from_millis(10));
                }
                Err(e) => return Err(e),
            }
        };
        let task = self.serve(listener)?;
        self.agents[i].task = Some(task);
        Ok(())
    }

    /// Restarts every agent (the state survives, as Consul's Raft state
    /// survives an agent restart).
    pub fn restart(&mut self) -> std::io::Result<()> {
        for i in 0..self.agents.len() {
            self.stop_agent(i);
        }
        for i in 0..self.agents.len() {
            self.start_agent(i)?;
        }
        Ok(())
    }

    /// The agents' `host:port` addresses.
    pub fn addresses(&self) -> Vec<String> {
        self.agents.iter().map(|a| a.addr.to_string()).collect()
    }

    /// The store URL naming every agent: `consul://a,b` (`consuls://` with
    /// TLS).
    pub fn store_url(&self) -> String {
        let scheme = if self.tls.is_some() {
            "consuls"
        } else {
            "consul"
        };
        format!("{scheme}://{}", self.addresses().join(","))
    }

    /// The current global index.
    pub fn index(&self) -> u64 {
        self.shared.lock().index
    }

    /// Runs `f` on the server's state (for assertions).
    pub fn with_state<T>(&self, f: impl FnOnce(&State) -> T) -> T {
        f(&self.shared.lock())
    }
}

impl Drop for ConsulTestServer {
    fn drop(&mut self) {
        for i in 0..self.agents.len() {
            self.stop_agent(i);
        }
        if let Some(rt) = self.runtime.take() {
            rt.shutdown_background();
        }
    }
}
