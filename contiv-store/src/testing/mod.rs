//! Test support shared by every backend (feature `testing`).
//!
//! * [`conformance`] — the behaviour every [`StateStore`] must show, as
//!   public async functions (one per case) plus [`conformance::run_all`] and
//!   the [`conformance_tests!`](crate::conformance_tests) macro that turns
//!   the cases into one `#[tokio::test]` each.
//! * [`EtcdServer`] / [`EtcdCluster`] — real `etcd` processes on free
//!   loopback ports in a temporary directory, stopped (by pid) when dropped.
//!   A missing `etcd` binary is an error, never a skip.
//! * [`ConsulTestServer`] — a wire-faithful Consul test server (KV, `/v1/txn`,
//!   sessions, blocking queries) for the Consul backend, checked with
//!   PyPI's `py-consul`.

pub mod conformance;
pub mod consul_server;
mod etcd_fixture;
mod http;

pub use consul_server::{ConsulServerConfig, ConsulTestServer};
pub use etcd_fixture::{EtcdCluster, EtcdServer, FixtureError};

use async_trait::async_trait;
use contiv_core::store::StateStore;
use std::any::Any;
use std::sync::Arc;

/// A store under test together with whatever keeps it alive (a temporary
/// directory, an etcd process). The store handle is dropped before the
/// guard.
pub struct TestStore {
    /// The store the cases run against.
    pub store: Arc<dyn StateStore>,
    guard: Option<Box<dyn Any + Send + Sync>>,
}

impl TestStore {
    /// A store that needs nothing else to stay alive.
    pub fn new(store: Arc<dyn StateStore>) -> Self {
        TestStore { store, guard: None }
    }

    /// A store that lives as long as `guard` (dropped after the store).
    pub fn with_guard(store: Arc<dyn StateStore>, guard: impl Any + Send + Sync) -> Self {
        TestStore {
            store,
            guard: Some(Box::new(guard)),
        }
    }

    /// Splits into the store and its guard (drop the guard last).
    pub fn into_parts(self) -> (Arc<dyn StateStore>, Option<Box<dyn Any + Send + Sync>>) {
        (self.store, self.guard)
    }
}

/// A backend that can be shut down and brought back on the same persisted
/// state (embedded: close and reopen the file; etcd: restart the process
/// on the same data directory). Used by
/// [`conformance::restart_durability`].
#[async_trait]
pub trait RestartHarness: Send {
    /// A handle to the store as currently running.
    fn store(&self) -> Arc<dyn StateStore>;

    /// Shuts the backend down and starts it again on the same state. The
    /// caller has dropped every handle it got from [`Self::store`].
    async fn restart(&mut self);
}
