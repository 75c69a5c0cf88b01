//! The conformance suite against [`EtcdStore`] on a real etcd: every case
//! starts its own etcd process (temp dir, free loopback ports), stopped when
//! the case ends. Restart durability restarts that etcd on its data dir.

use async_trait::async_trait;
use contiv_core::store::StateStore;
use contiv_store::etcd::EtcdStore;
use contiv_store::testing::{EtcdServer, RestartHarness, TestStore};
use std::sync::Arc;

async fn start_etcd() -> EtcdServer {
    tokio::task::spawn_blocking(EtcdServer::start)
        .await
        .expect("fixture task")
        .expect("start a real etcd")
}

async fn fresh() -> TestStore {
    let server = start_etcd().await;
    let store = EtcdStore::connect(server.endpoints())
        .await
        .expect("connect to etcd");
    TestStore::with_guard(Arc::new(store), server)
}

struct Restart {
    // Field order: the client goes before the server.
    store: Option<EtcdStore>,
    server: EtcdServer,
}

#[async_trait]
impl RestartHarness for Restart {
    fn store(&self) -> Arc<dyn StateStore> {
        Arc::new(self.store.clone().expect("connected"))
    }

    async fn restart(&mut self) {
        self.store = None;
        tokio::task::block_in_place(|| self.server.restart()).expect("restart etcd");
        self.store = Some(
            EtcdStore::connect(self.server.endpoints())
                .await
                .expect("reconnect to etcd"),
        );
    }
}

async fn restartable() -> Restart {
    let server = start_etcd().await;
    let store = EtcdStore::connect(server.endpoints())
        .await
        .expect("connect to etcd");
    Restart {
        store: Some(store),
        server,
    }
}

contiv_store::conformance_tests!(fresh = fresh, restart = restartable);
