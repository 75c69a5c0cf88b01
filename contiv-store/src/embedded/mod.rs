//! [`EmbeddedStore`]: a durable [`StateStore`] in one redb file — the
//! zero-setup default backend.
//!
//! * **Durable**: a write is acknowledged only after the redb transaction
//!   that holds it committed with `Durability::Immediate` (fsync).
//! * **Group commit**: one writer thread takes every queued request, applies
//!   them in order in one write transaction (each successful txn still gets
//!   its own revision and sees the earlier ones of the batch), commits once
//!   and answers every caller. Concurrent writers therefore share fsyncs.
//! * **Persistent revision, history and leases**: the revision counter,
//!   the watch history (revision → events) and leases live in the file.
//!   History keeps the last [`EmbeddedOptions::history_revisions`]
//!   revisions (auto-compaction) and can be compacted explicitly. After a
//!   restart every lease gets its full TTL again, as with etcd.
//! * **Watch**: committed batches are broadcast in-process; a watch from an
//!   older revision is served from the history table up to the revision the
//!   live channel starts after — no gap, no duplicate at the seam.
//! * **Reads** (`get`, `list`, `current_revision`) use their own read
//!   transaction (a consistent snapshot) and never wait for the writer.
//!
//! The file is released when the last clone of the store is dropped (the
//! drop waits for the writer thread to finish its current batch).

mod batch;
mod codec;
mod tables;
mod writer;

use crate::contract::first_wanted;
use crate::contract::validate_ops;
use crate::hub::{DEFAULT_WATCH_BUFFER, WatchHub, watch_stream};
use async_trait::async_trait;
use contiv_core::store::{
    KeyValue, Lease, LeaseId, ListResponse, Revision, StateStore, StoreError, StoreResult, TxnOp,
    TxnResponse, WatchStream,
};
use redb::{Database, ReadableTable};
use std::path::{Path, PathBuf};
use std::sync::atomic::Ordering;
use std::sync::{Arc, mpsc};
use std::thread::JoinHandle;
use std::time::Duration;
use tables::{FORMAT_VERSION, HISTORY, KV, LEASE_KEYS, LEASES, META, META_FORMAT, err};
use writer::{Counters, Reply, Request, Writer, WriterState};

/// Tuning of an [`EmbeddedStore`].
#[derive(Clone, Debug)]
pub struct EmbeddedOptions {
    /// Watch history kept, in revisions (older history is compacted
    /// automatically). Default 10 000.
    pub history_revisions: u64,
    /// Most requests applied in one commit. Default 1024.
    pub max_batch: usize,
    /// Capacity of the live watch channel in committed batches; a watcher
    /// further behind is dropped with an error naming the revision to resume
    /// from. Default 4096.
    pub watch_buffer: usize,
    /// redb page cache size in bytes. Default 4 MiB.
    ///
    /// The cache holds pages the writer touched (the key-value table and
    /// the watch history) and grows up to this bound; readers of a
    /// contiv control plane are served from the daemon's own cache, so a
    /// larger page cache only costs resident memory. With the former
    /// 64 MiB, netmaster's RSS grew by 2–3 MB with every cycle of 1,000
    /// network creates and deletes; with 4 MiB it levels off once the
    /// history reaches [`history_revisions`](Self::history_revisions),
    /// and intent writes are as fast (BENCHMARKS.md, issue 19).
    pub cache_bytes: usize,
}

impl Default for EmbeddedOptions {
    fn default() -> Self {
        EmbeddedOptions {
            history_revisions: 10_000,
            max_batch: 1024,
            watch_buffer: DEFAULT_WATCH_BUFFER,
            cache_bytes: 4 << 20,
        }
    }
}

/// Activity counters of an [`EmbeddedStore`] since it was opened.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct EmbeddedStats {
    /// redb write transactions committed (each one fsync).
    pub commits: u64,
    /// Requests (txns, lease and compaction operations) those commits
    /// answered; `requests / commits` is the average group-commit size.
    pub requests: u64,
}

#[derive(Debug)]
struct Inner {
    path: PathBuf,
    counters: Arc<Counters>,
    db: Arc<Database>,
    hub: Arc<WatchHub>,
    tx: Option<mpsc::Sender<Request>>,
    writer: Option<JoinHandle<()>>,
}

impl Drop for Inner {
    fn drop(&mut self) {
        // Closing the channel stops the writer after its current batch;
        // waiting for it releases the file before the drop returns.
        self.tx.take();
        if let Some(handle) = self.writer.take()
            && handle.join().is_err()
        {
            tracing::error!(path = %self.path.display(), "embedded store writer thread panicked");
        }
    }
}

/// A store in one redb file. Cloning is cheap; all clones share the file,
/// the writer thread and the watchers.
#[derive(Clone, Debug)]
pub struct EmbeddedStore {
    inner: Arc<Inner>,
}

impl EmbeddedStore {
    /// Opens (or creates) the store file at `path` with default options.
    /// Blocks while the file is opened (and, after a crash, repaired).
    pub fn open(path: impl AsRef<Path>) -> StoreResult<Self> {
        EmbeddedStore::open_with(path, EmbeddedOptions::default())
    }

    /// Opens (or creates) the store file at `path`.
    ///
    /// A new store file is created with mode 0600 (owner only: it holds
    /// the whole cluster's state), and missing parent directories with
    /// mode 0700, whatever the umask. An existing file keeps its mode.
    pub fn open_with(path: impl AsRef<Path>, options: EmbeddedOptions) -> StoreResult<Self> {
        let path = path.as_ref().to_path_buf();
        let context = format!("opening embedded store {}", path.display());
        create_private(&path).map_err(|e| StoreError::Backend(format!("{context}: {e}")))?;
        let db = Database::builder()
            .set_cache_size(options.cache_bytes)
            .create(&path)
            .map_err(err(&context))?;
        init_tables(&db, &context)?;
        let state = WriterState::load(&db)?;
        let db = Arc::new(db);
        let hub = Arc::new(WatchHub::new(options.watch_buffer, state.revision()));
        let (tx, rx) = mpsc::channel();
        let counters = Arc::new(Counters::default());
        let writer = Writer {
            counters: counters.clone(),
            db: db.clone(),
            hub: hub.clone(),
            rx,
            state,
            max_batch: options.max_batch.max(1),
            history_revisions: options.history_revisions.max(1),
        };
        let handle = std::thread::Builder::new()
            .name("contiv-store-writer".to_owned())
            .spawn(move || writer.run())
            .map_err(|e| {
                StoreError::Backend(format!("{context}: cannot start the writer thread: {e}"))
            })?;
        Ok(EmbeddedStore {
            inner: Arc::new(Inner {
                path,
                counters,
                db,
                hub,
                tx: Some(tx),
                writer: Some(handle),
            }),
        })
    }

    /// The path of the store file.
    pub fn path(&self) -> &Path {
        &self.inner.path
    }

    /// Commits and requests so far (how well group commit batches).
    pub fn stats(&self) -> EmbeddedStats {
        EmbeddedStats {
            commits: self.inner.counters.commits.load(Ordering::Relaxed),
            requests: self.inner.counters.requests.load(Ordering::Relaxed),
        }
    }

    /// Sends a request to the writer and waits for its answer.
    async fn request<T>(&self, make: impl FnOnce(Reply<T>) -> Request) -> StoreResult<T> {
        let (reply, answer) = tokio::sync::oneshot::channel();
        let tx = self.inner.tx.as_ref().ok_or(StoreError::Closed)?;
        tx.send(make(reply)).map_err(|_| StoreError::Closed)?;
        answer.await.map_err(|_| StoreError::Closed)?
    }

    /// Runs a read off the async threads when a Tokio runtime is present.
    async fn read<T: Send + 'static>(
        &self,
        f: impl FnOnce(&Database) -> StoreResult<T> + Send + 'static,
    ) -> StoreResult<T> {
        let inner = self.inner.clone();
        match tokio::runtime::Handle::try_current() {
            Ok(handle) => handle
                .spawn_blocking(move || f(&inner.db))
                .await
                .map_err(|e| {
                    StoreError::Backend(format!("embedded store read task failed: {e}"))
                })?,
            Err(_) => f(&inner.db),
        }
    }
}

/// Creates the tables of a new file and checks the layout version of an
/// existing one.
/// Creates `path` (empty, mode 0600) and its missing parent directories
/// (mode 0700) unless it exists; redb initialises an empty file.
fn create_private(path: &Path) -> std::io::Result<()> {
    use std::os::unix::fs::{DirBuilderExt, OpenOptionsExt};
    if let Some(dir) = path.parent().filter(|d| !d.as_os_str().is_empty()) {
        std::fs::DirBuilder::new()
            .recursive(true)
            .mode(0o700)
            .create(dir)?;
    }
    match std::fs::OpenOptions::new()
        .write(true)
        .create_new(true)
        .mode(0o600)
        .open(path)
    {
        Ok(_) => Ok(()),
        Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => Ok(()),
        Err(e) => Err(e),
    }
}

fn init_tables(db: &Database, context: &str) -> StoreResult<()> {
    let wtx = db.begin_write().map_err(err(context))?;
    {
        wtx.open_table(KV).map_err(err(context))?;
        wtx.open_table(HISTORY).map_err(err(context))?;
        wtx.open_table(LEASES).map_err(err(context))?;
        wtx.open_table(LEASE_KEYS).map_err(err(context))?;
        let mut meta = wtx.open_table(META).map_err(err(context))?;
        let format = meta
            .get(META_FORMAT)
            .map_err(err(context))?
            .map(|g| g.value());
        match format {
            None => {
                meta.insert(META_FORMAT, FORMAT_VERSION)
                    .map_err(err(context))?;
            }
            Some(FORMAT_VERSION) => {}
            Some(other) => {
                return Err(StoreError::Backend(format!(
                    "{context}: the file has layout version {other}, this build reads version {FORMAT_VERSION}"
                )));
            }
        }
    }
    wtx.commit().map_err(err(context))
}

#[async_trait]
impl StateStore for EmbeddedStore {
    fn backend_name(&self) -> &'static str {
        "embedded"
    }

    async fn get(&self, key: &str) -> StoreResult<Option<KeyValue>> {
        tables::get(&self.inner.db, key)
    }

    async fn list(&self, prefix: &str) -> StoreResult<ListResponse> {
        let prefix = prefix.to_owned();
        self.read(move |db| tables::list(db, &prefix)).await
    }

    async fn current_revision(&self) -> StoreResult<Revision> {
        tables::revision(&self.inner.db)
    }

    async fn txn(&self, ops: Vec<TxnOp>) -> StoreResult<TxnResponse> {
        // Reject malformed requests before they reach the writer.
        validate_ops(&ops)?;
        self.request(|reply| Request::Txn(ops, reply)).await
    }

    async fn watch(&self, prefix: &str, from: Option<Revision>) -> StoreResult<WatchStream> {
        let (rx, published) = self.inner.hub.subscribe();
        match from {
            None => Ok(watch_stream(
                Vec::new(),
                rx,
                prefix.to_owned(),
                published + 1,
            )),
            Some(from) => {
                let owned = prefix.to_owned();
                let catchup = self
                    .read(move |db| tables::catch_up(db, &owned, from, published))
                    .await?;
                let min_rev = first_wanted(from).max(published + 1);
                Ok(watch_stream(catchup, rx, prefix.to_owned(), min_rev))
            }
        }
    }

    async fn grant_lease(&self, ttl: Duration) -> StoreResult<Lease> {
        if ttl.is_zero() {
            return Err(StoreError::InvalidArgument(
                "a lease needs a positive time-to-live".to_owned(),
            ));
        }
        self.request(|reply| Request::Grant(ttl, reply)).await
    }

    async fn keep_alive(&self, lease: &LeaseId) -> StoreResult<Duration> {
        let lease = lease.clone();
        self.request(|reply| Request::KeepAlive(lease, reply)).await
    }

    async fn revoke_lease(&self, lease: &LeaseId) -> StoreResult<()> {
        let lease = lease.clone();
        self.request(|reply| Request::Revoke(lease, reply)).await
    }

    async fn compact(&self, revision: Revision) -> StoreResult<()> {
        self.request(|reply| Request::Compact(revision, reply))
            .await
    }
}
