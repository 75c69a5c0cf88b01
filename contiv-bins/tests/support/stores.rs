//! Where a test netmaster keeps its state: an embedded store file in a
//! fresh temp dir, or a real etcd on loopback shared by the tests of one
//! binary (each test under its own key root). The shared etcd is reference
//! counted: it is killed (by pid) when the last test using it drops its
//! handle, so no process outlives the tests.

use contiv_store::testing::EtcdServer;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, Weak};
use tempfile::TempDir;

/// The store backends the suites run on.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Backend {
    /// A redb file in a temp dir.
    Embedded,
    /// A real single-member etcd on loopback.
    Etcd,
}

static SHARED_ETCD: Mutex<Weak<EtcdServer>> = Mutex::new(Weak::new());
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
            },
            Backend::Etcd => {
                let etcd = shared_etcd();
                StoreSpot {
                    url: etcd.store_url(),
                    root: unique_root(),
                    dir,
                    etcd: Some(etcd),
                }
            }
        }
    }
}
