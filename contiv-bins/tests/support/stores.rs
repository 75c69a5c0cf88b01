//! Where a test netmaster keeps its state: an embedded store file in a
//! fresh temp dir, a real etcd on loopback, or the wire-faithful Consul
//! test server, the last two shared by the tests of one binary (each test
//! under its own key root). The shared servers are reference counted: the
//! etcd is killed (by pid), the Consul test server stopped, when the last
//! test using it drops its handle, so nothing outlives the tests.

use contiv_store::testing::{ConsulServerConfig, ConsulTestServer, EtcdServer};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, Weak};
use std::time::Duration;
use tempfile::TempDir;

/// The store backends the suites run on.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Backend {
    /// A redb file in a temp dir.
    Embedded,
    /// A real single-member etcd on loopback.
    Etcd,
    /// The Consul test server on loopback.
    Consul,
}

static SHARED_ETCD: Mutex<Weak<EtcdServer>> = Mutex::new(Weak::new());
static SHARED_CONSUL: Mutex<Weak<ConsulTestServer>> = Mutex::new(Weak::new());

/// The `session_ttl_min` of the test Consul servers: netmaster leases of a
/// second or two (tests) need a Consul configured below its 10 s default.
pub const CONSUL_SESSION_TTL_MIN: &str = "1s";

/// A Consul test server with [`CONSUL_SESSION_TTL_MIN`] and `agents`
/// agents (listeners on one state).
pub fn consul_server(agents: usize) -> ConsulTestServer {
    let mut server = ConsulTestServer::start_with(ConsulServerConfig {
        session_ttl_min: Duration::from_secs(1),
        ..ConsulServerConfig::default()
    })
    .expect("start the Consul test server");
    for _ in 1..agents {
        server.add_agent().expect("add a Consul agent");
    }
    server
}

/// The environment a netmaster process on a test Consul needs.
pub fn consul_env() -> Vec<(&'static str, &'static str)> {
    vec![("CONTIV_CONSUL_SESSION_TTL_MIN", CONSUL_SESSION_TTL_MIN)]
}

/// The Consul test server shared by the tests of this binary.
pub fn shared_consul() -> Arc<ConsulTestServer> {
    let mut slot = SHARED_CONSUL.lock().unwrap_or_else(|p| p.into_inner());
    if let Some(c) = slot.upgrade() {
        return c;
    }
    let c = Arc::new(consul_server(1));
    *slot = Arc::downgrade(&c);
    c
}
static NEXT_ROOT: AtomicU64 = AtomicU64::new(1);

/// The etcd shared by the tests of this binary (started on first use).
pub fn shared_etcd() -> Arc<EtcdServer> {
    let mut slot = SHARED_ETCD.lock().unwrap_or_else(|p| p.into_inner());
    if let Some(e) = slot.upgrade() {
        return e;
    }
    let e = Arc::new(EtcdServer::start().expect("start etcd (it must be installed)"));
    *slot = Arc::downgrade(&e);
    e
}

/// A key root no other test of this process uses.
pub fn unique_root() -> String {
    format!(
        "/contiv-test-{}-{}/",
        std::process::id(),
        NEXT_ROOT.fetch_add(1, Ordering::Relaxed)
    )
}

/// A store location: URL, key root, and what keeps it alive.
pub struct StoreSpot {
    /// `embedded:<path>` or `etcd://…`.
    pub url: String,
    /// The key root.
    pub root: String,
    /// The temp dir (embedded file, logs).
    pub dir: TempDir,
    /// The etcd server, if any.
    pub etcd: Option<Arc<EtcdServer>>,
    /// The Consul test server, if any.
    pub consul: Option<Arc<ConsulTestServer>>,
}

impl StoreSpot {
    /// A fresh spot on `backend`.
    pub fn new(backend: Backend) -> Self {
        let dir = tempfile::Builder::new()
            .prefix("contiv-nm-test-")
            .tempdir()
            .expect("temp dir");
        match backend {
            Backend::Embedded => StoreSpot {
                url: format!("embedded:{}", dir.path().join("netmaster.redb").display()),
                root: unique_root(),
                dir,
                etcd: None,
                consul: None,
            },
            Backend::Etcd => {
                let etcd = shared_etcd();
                StoreSpot {
                    url: etcd.store_url(),
                    root: unique_root(),
                    dir,
                    etcd: Some(etcd),
                    consul: None,
                }
            }
            Backend::Consul => {
                let consul = shared_consul();
                StoreSpot {
                    url: consul.store_url(),
                    root: unique_root(),
                    dir,
                    etcd: None,
                    consul: Some(consul),
                }
            }
        }
    }
}
