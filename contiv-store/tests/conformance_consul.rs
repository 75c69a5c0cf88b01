//! The conformance suite against [`ConsulStore`] on the wire-faithful
//! Consul test server (Consul's defaults: `session_ttl_min` 10 s, sessions
//! invalidated up to twice their TTL after the last renewal — the suite
//! takes both from the backend's declared limits). Every case starts its
//! own server; restart durability restarts its agent on the same state.

use async_trait::async_trait;
use contiv_core::store::StateStore;
use contiv_store::consul::{ConsulOptions, ConsulStore};
use contiv_store::testing::{ConsulTestServer, RestartHarness, TestStore};
use std::sync::Arc;

async fn connect(server: &ConsulTestServer) -> ConsulStore {
    ConsulStore::connect(ConsulOptions::new(server.addresses()))
        .await
        .expect("connect to the Consul test server")
}

async fn fresh() -> TestStore {
    let server = ConsulTestServer::start().expect("start the Consul test server");
    let store = connect(&server).await;
    TestStore::with_guard(Arc::new(store), server)
}

struct Restart {
    // Field order: the client goes before the server.
    store: Option<ConsulStore>,
    server: ConsulTestServer,
}

#[async_trait]
impl RestartHarness for Restart {
    fn store(&self) -> Arc<dyn StateStore> {
        Arc::new(self.store.clone().expect("connected"))
    }

    async fn restart(&mut self) {
        self.store = None;
        self.server.restart().expect("restart the agent");
        self.store = Some(connect(&self.server).await);
    }
}

async fn restartable() -> Restart {
    let server = ConsulTestServer::start().expect("start the Consul test server");
    Restart {
        store: Some(connect(&server).await),
        server,
    }
}

contiv_store::conformance_tests!(fresh = fresh, restart = restartable);
