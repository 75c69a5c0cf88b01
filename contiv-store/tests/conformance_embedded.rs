//! The conformance suite against [`EmbeddedStore`] (a redb file in a temp
//! dir), including restart durability (close and reopen the file).

use async_trait::async_trait;
use contiv_core::store::StateStore;
use contiv_store::embedded::EmbeddedStore;
use contiv_store::testing::{RestartHarness, TestStore};
use std::path::PathBuf;
use std::sync::Arc;
use tempfile::TempDir;

async fn fresh() -> TestStore {
    let dir = tempfile::tempdir().expect("temp dir");
    let store = EmbeddedStore::open(dir.path().join("state.redb")).expect("open store");
    TestStore::with_guard(Arc::new(store), dir)
}

struct Reopen {
    // Field order: the store is dropped before the directory.
    store: Option<EmbeddedStore>,
    path: PathBuf,
    _dir: TempDir,
}

#[async_trait]
impl RestartHarness for Reopen {
    fn store(&self) -> Arc<dyn StateStore> {
        Arc::new(self.store.clone().expect("store is open"))
    }

    async fn restart(&mut self) {
        // Dropping the last handle joins the writer thread and closes the file.
        self.store = None;
        self.store = Some(EmbeddedStore::open(&self.path).expect("reopen the store file"));
    }
}

async fn restartable() -> Reopen {
    let dir = tempfile::tempdir().expect("temp dir");
    let path = dir.path().join("state.redb");
    Reopen {
        store: Some(EmbeddedStore::open(&path).expect("open store")),
        path,
        _dir: dir,
    }
}

contiv_store::conformance_tests!(fresh = fresh, restart = restartable);
