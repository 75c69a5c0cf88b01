//! [`ConsulStore`]: the [`StateStore`] contract on Consul's HTTP API.
//!
//! Consul's KV has what compare-and-swap needs (`/v1/txn` with `cas`) but
//! not the rest of the contract: its index is shared with sessions and the
//! catalog (so it is not dense and moves without KV writes), keys carry no
//! version, and a blocking query returns a whole listing — neither deletes
//! nor intermediate values. The backend therefore keeps its own revision and
//! an event log **in Consul, written in the same transaction as the data**:
//!
//! | contract | Consul |
//! |---|---|
//! | revision | a counter key; every write transaction `cas`es it from `r` to `r + 1` (the serialisation point: a writer that loses the race re-reads and retries) |
//! | `txn` | one read-only `/v1/txn` (`get-or-empty` of the counter and every key), preconditions checked against that snapshot, then one write `/v1/txn`: counter `cas`, the data `set`/`delete`s, the revision's log record, the lease index |
//! | key metadata | an envelope in front of the value: create/mod revision, version, lease |
//! | `watch(prefix, from)` | the log records `from..` (read in batches with `get-or-empty`), then a blocking query (`?index=`) on the counter; **every** put and delete, with values, in revision order, resumable from any revision still in the log |
//! | history / `compact` | the log keeps the last [`ConsulOptions::history`] revisions (each write deletes the record that falls out); `compact(r)` drops records `<= r`; older `from` is a clear [`StoreError::Compacted`] |
//! | leases | sessions with a TTL (`/v1/session/create`, `renew`, `destroy`); keys name their lease in the envelope and in a lease index; when a session is gone, a reaper deletes its keys in **one** revision, with delete events |
//!
//! Why not `Behavior=delete` sessions: Consul would then delete the keys
//! itself, outside the log, so watchers would never see those deletes.
//! Sessions here hold no locks; the reaper (running in every `ConsulStore`,
//! woken by a blocking query on `/v1/session/list` and at least every
//! [`ConsulOptions::watch_wait`]) turns a session's end into delete events.
//! A revoke reaps at once.
//!
//! Limits ([`StateStore::limits`]): 64 operations per transaction (Consul
//! allows 128; the backend adds up to four of its own); values and the
//! values of one transaction up to [`MAX_VALUE_BYTES`] (each value travels
//! twice in base64 — data and log — inside Consul's 512 KiB request limit);
//! lease TTLs from [`ConsulOptions::min_lease_ttl`] (Consul's
//! `session_ttl_min`, 10 s by default), and Consul expires a session up to
//! twice its TTL after the last renewal.
//!
//! Every writer under the prefix must be a `ConsulStore`: a write made with
//! another Consul client bypasses the counter and the log, so preconditions
//! and watches would not see it.
//!
//! Connections: several agent addresses with failover, an ACL token
//! (`X-Consul-Token`), HTTPS with a private CA and optional client
//! certificate (see [`ConsulOptions::from_env`]).

pub mod api;
pub mod client;
mod layout;
mod reaper;
mod watch;

use crate::contract::{conflict, leases_of, precondition_holds, validate_ops};
use api::{KvOp, KvPair, SessionBehavior, SessionCreate, TxnOp as ConsulOp};
use async_trait::async_trait;
use client::{Client, ClientConfig, ClientError, TxnOutcome};
use contiv_core::store::{
    EventKind, KeyValue, Lease, LeaseId, ListResponse, OpOutcome, Revision, StateStore, StoreError,
    StoreLimits, StoreResult, TxnOp, TxnResponse, WatchEvent, WatchStream,
};
use layout::{Envelope, Layout, LogRecord};
use std::collections::HashMap;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

/// The largest value (and sum of values in one transaction) the backend
/// accepts: each value is sent twice, base64-encoded, in one `/v1/txn`
/// body of at most 512 KiB.
pub const MAX_VALUE_BYTES: usize = 160 * 1024;

/// Settings of a [`ConsulStore`].
#[derive(Clone, Debug)]
pub struct ConsulOptions {
    /// Agent addresses (`host:port`), tried in order when one fails.
    pub addresses: Vec<String>,
    /// Use HTTPS (needs [`Self::ca_file`]).
    pub tls: bool,
    /// PEM CA file for HTTPS.
    pub ca_file: Option<PathBuf>,
    /// PEM client certificate and key for HTTPS agents that verify clients.
    pub client_cert: Option<(PathBuf, PathBuf)>,
    /// ACL token (`X-Consul-Token`).
    pub token: Option<String>,
    /// Consul key prefix of everything this store writes. Default
    /// `contiv-store/`.
    pub prefix: String,
    /// The shortest session TTL the servers accept (their
    /// `session_ttl_min`); shorter lease requests are rounded up. Default
    /// 10 s, Consul's default.
    pub min_lease_ttl: Duration,
    /// Revisions of history kept in the log. Default 10 000.
    pub history: u64,
    /// How long connecting to one agent may take. Default 5 s.
    pub connect_timeout: Duration,
    /// How long one request may take. Default 10 s.
    pub request_timeout: Duration,
    /// The `wait` of blocking queries (watches, the reaper). Default 30 s.
    pub watch_wait: Duration,
}

impl ConsulOptions {
    /// Defaults for the given agent addresses.
    pub fn new(addresses: Vec<String>) -> Self {
        ConsulOptions {
            addresses,
            tls: false,
            ca_file: None,
            client_cert: None,
            token: None,
            prefix: "contiv-store/".to_owned(),
            min_lease_ttl: Duration::from_secs(10),
            history: 10_000,
            connect_timeout: Duration::from_secs(5),
            request_timeout: Duration::from_secs(10),
            watch_wait: Duration::from_secs(30),
        }
    }

    /// Fills token and TLS files from Consul's own environment variables:
    /// `CONSUL_HTTP_TOKEN` (or `CONSUL_HTTP_TOKEN_FILE`), `CONSUL_CACERT`,
    /// `CONSUL_CLIENT_CERT` + `CONSUL_CLIENT_KEY`; and the minimum TTL from
    /// `CONTIV_CONSUL_SESSION_TTL_MIN` (a Go duration, e.g. `1s`, for
    /// servers with a lower `session_ttl_min`). Values already set win.
    pub fn from_env(mut self) -> StoreResult<Self> {
        let var = |name: &str| std::env::var(name).ok().filter(|v| !v.trim().is_empty());
        if self.token.is_none() {
            self.token = match (var("CONSUL_HTTP_TOKEN"), var("CONSUL_HTTP_TOKEN_FILE")) {
                (Some(t), _) => Some(t.trim().to_owned()),
                (None, Some(f)) => Some(
                    std::fs::read_to_string(&f)
                        .map_err(|e| {
                            StoreError::InvalidArgument(format!("CONSUL_HTTP_TOKEN_FILE {f}: {e}"))
                        })?
                        .trim()
                        .to_owned(),
                ),
                (None, None) => None,
            };
        }
        if self.ca_file.is_none() {
            self.ca_file = var("CONSUL_CACERT").map(PathBuf::from);
        }
        if self.client_cert.is_none()
            && let (Some(c), Some(k)) = (var("CONSUL_CLIENT_CERT"), var("CONSUL_CLIENT_KEY"))
        {
            self.client_cert = Some((c.into(), k.into()));
        }
        if let Some(min) = var("CONTIV_CONSUL_SESSION_TTL_MIN") {
            self.min_lease_ttl = api::parse_go_duration(&min).ok_or_else(|| {
                StoreError::InvalidArgument(format!(
                    "CONTIV_CONSUL_SESSION_TTL_MIN {min:?} is not a duration like 10s"
                ))
            })?;
        }
        Ok(self)
    }
}

/// What the store shares with its watches and reaper.
struct Core {
    client: Client,
    layout: Layout,
    options: ConsulOptions,
}

/// A store on Consul. Cloning is cheap; the reaper stops with the last
/// clone.
#[derive(Clone)]
pub struct ConsulStore {
    core: Arc<Core>,
    _reaper: Arc<reaper::Guard>,
}

impl std::fmt::Debug for ConsulStore {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ConsulStore")
            .field("client", &self.core.client)
            .field("prefix", &self.core.layout.prefix())
            .finish()
    }
}

/// Maps a client error onto the contract.
fn store_error(what: &str, e: ClientError) -> StoreError {
    match e {
        ClientError::Unreachable(m) => StoreError::Unavailable(format!("Consul {what}: {m}")),
        ClientError::Ambiguous(m) => StoreError::Unavailable(format!(
            "Consul {what}: {m}; it may or may not have been applied"
        )),
        ClientError::Status { status: 403, body } => StoreError::Backend(format!(
            "Consul {what}: permission denied ({body}); check the ACL token (CONSUL_HTTP_TOKEN)"
        )),
        ClientError::Status { status: 413, body } => {
            StoreError::InvalidArgument(format!("Consul {what}: too large: {body}"))
        }
        ClientError::Status { status, body } if status >= 500 => {
            StoreError::Unavailable(format!("Consul {what}: {status} {body}"))
        }
        ClientError::Status { status, body } => {
            StoreError::Backend(format!("Consul {what}: {status} {body}"))
        }
        ClientError::Decode(m) => StoreError::Backend(format!("Consul {what}: {m}")),
        ClientError::Config(m) => StoreError::InvalidArgument(m),
    }
}

/// A random number (per-process random keys of the std hasher, plus time
/// and a counter).
fn nonce() -> u64 {
    use std::hash::{BuildHasher, Hasher};
    use std::sync::atomic::{AtomicU64, Ordering};
    static COUNTER: AtomicU64 = AtomicU64::new(0);
    let mut h = std::collections::hash_map::RandomState::new().build_hasher();
    h.write_u64(COUNTER.fetch_add(1, Ordering::Relaxed));
    h.write_u128(
        std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map_or(0, |d| d.as_nanos()),
    );
    h.finish()
}

/// Whether `id` has the shape of a Consul session id (a UUID).
fn is_session_id(id: &str) -> bool {
    id.len() == 36
        && id.char_indices().all(|(i, c)| match i {
            8 | 13 | 18 | 23 => c == '-',
            _ => c.is_ascii_hexdigit(),
        })
}

/// The counter and the entries of a consistent read.
struct Snapshot {
    rev: Revision,
    rev_index: u64,
    entries: HashMap<String, Envelope>,
}

impl Core {
    /// A read-only transaction: one `KvPair` per `get-or-empty`, then the
    /// entries of a `get-tree` if it is last.
    async fn read(&self, ops: Vec<ConsulOp>) -> StoreResult<Vec<KvPair>> {
        match self.client.txn(&ops).await {
            Ok(TxnOutcome::Applied(reply)) => Ok(reply
                .results
                .unwrap_or_default()
                .into_iter()
                .filter_map(|r| r.kv)
                .collect()),
            Ok(TxnOutcome::RolledBack(reply)) => Err(StoreError::Backend(format!(
                "Consul refused a read: {:?}",
                reply.errors.unwrap_or_default()
            ))),
            Err(e) => Err(store_error("read", e)),
        }
    }

    fn decode_entry(&self, kv: &KvPair) -> StoreResult<Option<(String, Envelope)>> {
        if kv.modify_index == 0 {
            return Ok(None);
        }
        let Some(key) = self.layout.key_of(&kv.key) else {
            return Ok(None);
        };
        let env = Envelope::decode(&kv.key, kv.value.as_deref().unwrap_or_default())?;
        Ok(Some((key.to_owned(), env)))
    }

    /// The counter and the given keys, read in one snapshot.
    async fn snapshot(&self, keys: &[&str]) -> StoreResult<Snapshot> {
        let mut ops = vec![ConsulOp::from(KvOp::get_or_empty(self.layout.revision()))];
        ops.extend(
            keys.iter()
                .map(|k| ConsulOp::from(KvOp::get_or_empty(self.layout.data(k)))),
        );
        let results = self.read(ops).await?;
        let Some((counter, rest)) = results.split_first() else {
            return Err(StoreError::Backend("Consul returned no results".into()));
        };
        let rev = layout::parse_counter(&counter.key, counter.value.as_deref())?;
        let mut entries = HashMap::new();
        for kv in rest {
            if let Some((k, env)) = self.decode_entry(kv)? {
                entries.insert(k, env);
            }
        }
        Ok(Snapshot {
            rev,
            rev_index: counter.modify_index,
            entries,
        })
    }

    /// The lease index (and the index of its Consul key).
    async fn lease_index(&self) -> StoreResult<(layout::LeaseIndex, u64)> {
        let key = self.layout.leases();
        let results = self
            .read(vec![ConsulOp::from(KvOp::get_or_empty(key.clone()))])
            .await?;
        let kv = results.first();
        Ok((
            layout::decode_leases(&key, kv.and_then(|kv| kv.value.as_deref()))?,
            kv.map_or(0, |kv| kv.modify_index),
        ))
    }

    /// Whether a session exists.
    async fn lease_alive(&self, lease: &LeaseId) -> StoreResult<bool> {
        if !is_session_id(&lease.0) {
            return Ok(false);
        }
        Ok(self
            .client
            .session_info(&lease.0)
            .await
            .map_err(|e| store_error("session info", e))?
            .is_some())
    }

    /// The fixed part of a write at `new_rev`: counter `cas`, log record,
    /// and the deletion of the record that falls out of the history.
    fn write_head(&self, snap_rev: Revision, rev_index: u64, record: &LogRecord) -> Vec<ConsulOp> {
        let new_rev = snap_rev + 1;
        let mut ops = vec![
            ConsulOp::from(KvOp::cas(
                self.layout.revision(),
                new_rev.to_string().into_bytes(),
                rev_index,
            )),
            ConsulOp::from(KvOp::set(self.layout.log(new_rev), record.encode(), 0)),
        ];
        if new_rev > self.options.history {
            ops.push(ConsulOp::from(KvOp::delete(
                self.layout.log(new_rev - self.options.history),
            )));
        }
        ops
    }

    /// Sends a write whose first op is the counter `cas`. `Ok(true)`:
    /// applied; `Ok(false)`: another writer moved the counter first (re-read
    /// and retry).
    async fn commit(&self, ops: &[ConsulOp], new_rev: Revision, nonce: u64) -> StoreResult<bool> {
        if Client::txn_body_len(ops) > api::MAX_TXN_BODY_BYTES {
            return Err(StoreError::InvalidArgument(format!(
                "the transaction is too large for Consul's 512 KiB request limit; \
                 values (together) may hold at most {MAX_VALUE_BYTES} bytes"
            )));
        }
        match self.client.txn(ops).await {
            Ok(TxnOutcome::Applied(_)) => Ok(true),
            Ok(TxnOutcome::RolledBack(reply)) => {
                let errors = reply.errors.unwrap_or_default();
                if !errors.is_empty() && errors.iter().all(|e| e.op_index == 0) {
                    return Ok(false);
                }
                Err(StoreError::Backend(format!(
                    "Consul rolled the transaction back: {}",
                    errors
                        .iter()
                        .map(|e| format!("op {}: {}", e.op_index, e.what))
                        .collect::<Vec<_>>()
                        .join("; ")
                )))
            }
            Err(ClientError::Ambiguous(m)) => match self.was_applied(new_rev, nonce).await {
                Some(applied) => Ok(applied),
                None => Err(store_error("txn", ClientError::Ambiguous(m))),
            },
            Err(e) => Err(store_error("txn", e)),
        }
    }

    /// After a write whose answer was lost: `Some(true)` if revision
    /// `new_rev` is ours, `Some(false)` if another writer's (ours then can
    /// never apply), `None` if that is not known yet.
    async fn was_applied(&self, new_rev: Revision, nonce: u64) -> Option<bool> {
        let key = self.layout.log(new_rev);
        let results = self
            .read(vec![ConsulOp::from(KvOp::get_or_empty(key.clone()))])
            .await
            .ok()?;
        let kv = results.first()?;
        if kv.modify_index == 0 {
            return None;
        }
        let record = LogRecord::decode(&key, new_rev, kv.value.as_deref()?).ok()?;
        Some(record.nonce == nonce)
    }

    /// The explicit compaction point, its key's index, and the effective
    /// one (also counting what fell out of the history) at revision `rev`.
    async fn compaction(&self, rev: Revision) -> StoreResult<(Revision, u64, Revision)> {
        let key = self.layout.compacted();
        let results = self
            .read(vec![ConsulOp::from(KvOp::get_or_empty(key.clone()))])
            .await?;
        let kv = results.first();
        let explicit = layout::parse_counter(&key, kv.and_then(|kv| kv.value.as_deref()))?;
        Ok((
            explicit,
            kv.map_or(0, |kv| kv.modify_index),
            explicit.max(rev.saturating_sub(self.options.history)),
        ))
    }
}

impl ConsulStore {
    /// Connects with `options` and checks that Consul answers.
    pub async fn connect(options: ConsulOptions) -> StoreResult<Self> {
        let client = Client::new(&ClientConfig {
            addresses: options.addresses.clone(),
            tls: options.tls,
            ca_file: options.ca_file.clone(),
            client_cert: options.client_cert.clone(),
            token: options.token.clone(),
            connect_timeout: options.connect_timeout,
            request_timeout: options.request_timeout,
        })
        .map_err(|e| store_error("client", e))?;
        let core = Arc::new(Core {
            client,
            layout: Layout::new(&options.prefix),
            options,
        });
        core.snapshot(&[]).await.map_err(|e| match e {
            StoreError::Unavailable(m) => StoreError::Unavailable(format!(
                "connecting to Consul at {}: {m}",
                core.options.addresses.join(",")
            )),
            other => other,
        })?;
        let guard = reaper::spawn(Arc::downgrade(&core));
        Ok(ConsulStore {
            core,
            _reaper: Arc::new(guard),
        })
    }

    /// The agent addresses, in failover order.
    pub fn addresses(&self) -> Vec<String> {
        self.core.client.addresses()
    }

    fn check_sizes(&self, ops: &[TxnOp]) -> StoreResult<()> {
        let mut total = 0usize;
        for op in ops {
            if let TxnOp::Put { key, value, .. } = op {
                if value.len() > MAX_VALUE_BYTES {
                    return Err(StoreError::InvalidArgument(format!(
                        "value of {key:?} has {} bytes; the Consul backend holds at most {MAX_VALUE_BYTES}",
                        value.len()
                    )));
                }
                total += value.len();
            }
        }
        if total > MAX_VALUE_BYTES {
            return Err(StoreError::InvalidArgument(format!(
                "the transaction writes {total} bytes of values; the Consul backend takes at most {MAX_VALUE_BYTES} per transaction, split it"
            )));
        }
        Ok(())
    }
}

#[async_trait]
impl StateStore for ConsulStore {
    fn backend_name(&self) -> &'static str {
        "consul"
    }

    fn limits(&self) -> StoreLimits {
        StoreLimits {
            max_txn_ops: contiv_core::store::MAX_TXN_OPS,
            max_value_bytes: MAX_VALUE_BYTES,
            max_txn_value_bytes: MAX_VALUE_BYTES,
            min_lease_ttl: self.core.options.min_lease_ttl,
            lease_expiry_factor: 2,
        }
    }

    async fn get(&self, key: &str) -> StoreResult<Option<KeyValue>> {
        let results = self
            .core
            .read(vec![ConsulOp::from(KvOp::get_or_empty(
                self.core.layout.data(key),
            ))])
            .await?;
        match results.first() {
            None => Ok(None),
            Some(kv) => Ok(self.core.decode_entry(kv)?.map(|(k, env)| env.into_kv(k))),
        }
    }

    async fn list(&self, prefix: &str) -> StoreResult<ListResponse> {
        let results = self
            .core
            .read(vec![
                ConsulOp::from(KvOp::get_or_empty(self.core.layout.revision())),
                ConsulOp::from(KvOp::get_tree(self.core.layout.data(prefix))),
            ])
            .await?;
        let Some((counter, rest)) = results.split_first() else {
            return Err(StoreError::Backend("Consul returned no results".into()));
        };
        let revision = layout::parse_counter(&counter.key, counter.value.as_deref())?;
        let mut kvs = Vec::with_capacity(rest.len());
        for kv in rest {
            if let Some((k, env)) = self.core.decode_entry(kv)? {
                kvs.push(env.into_kv(k));
            }
        }
        kvs.sort_by(|a, b| a.key.cmp(&b.key));
        Ok(ListResponse { kvs, revision })
    }

    async fn current_revision(&self) -> StoreResult<Revision> {
        Ok(self.core.snapshot(&[]).await?.rev)
    }

    async fn txn(&self, ops: Vec<TxnOp>) -> StoreResult<TxnResponse> {
        validate_ops(&ops)?;
        self.check_sizes(&ops)?;
        let core = &self.core;
        for lease in leases_of(&ops) {
            if !core.lease_alive(lease).await? {
                return Err(StoreError::LeaseNotFound(lease.clone()));
            }
        }
        let mut keys: Vec<&str> = Vec::with_capacity(ops.len());
        for op in &ops {
            if !keys.contains(&op.key()) {
                keys.push(op.key());
            }
        }
        let nonce = nonce();
        let mut backoff = Duration::from_millis(1);
        for _attempt in 0..10_000 {
            let snap = core.snapshot(&keys).await?;
            for op in &ops {
                let current = snap.entries.get(op.key()).map(|e| e.mod_revision);
                if !precondition_holds(op.precondition(), current) {
                    return Err(conflict(op.key()));
                }
            }
            let new_rev = snap.rev + 1;
            let mut outcomes = Vec::with_capacity(ops.len());
            let mut events = Vec::new();
            let mut data = Vec::new();
            let mut bindings_change = false;
            for op in &ops {
                let prev = snap.entries.get(op.key());
                match op {
                    TxnOp::Put {
                        key, value, lease, ..
                    } => {
                        let env = Envelope {
                            create_revision: prev.map_or(new_rev, |p| p.create_revision),
                            mod_revision: new_rev,
                            version: prev.map_or(1, |p| p.version + 1),
                            lease: lease.clone(),
                            value: value.clone(),
                        };
                        bindings_change |=
                            lease.is_some() || prev.is_some_and(|p| p.lease.is_some());
                        data.push(ConsulOp::from(KvOp::set(
                            core.layout.data(key),
                            env.encode(),
                            new_rev,
                        )));
                        events.push(WatchEvent {
                            kind: EventKind::Put,
                            kv: env.into_kv(key.clone()),
                        });
                        outcomes.push(OpOutcome::Written);
                    }
                    TxnOp::Delete { key, .. } => match prev {
                        Some(p) => {
                            bindings_change |= p.lease.is_some();
                            data.push(ConsulOp::from(KvOp::delete(core.layout.data(key))));
                            events.push(delete_event(key.clone(), new_rev));
                            outcomes.push(OpOutcome::Deleted);
                        }
                        None => outcomes.push(OpOutcome::Absent),
                    },
                    TxnOp::Check { .. } => outcomes.push(OpOutcome::Checked),
                }
            }
            if events.is_empty() {
                return Ok(TxnResponse {
                    revision: snap.rev,
                    outcomes,
                });
            }
            let record = LogRecord { nonce, events };
            let mut consul_ops = core.write_head(snap.rev, snap.rev_index, &record);
            consul_ops.extend(data);
            if bindings_change {
                // Read after the snapshot: the counter `cas` fails if any
                // write came in between, so this is consistent with it.
                let (mut index, _) = core.lease_index().await?;
                for op in &ops {
                    // A check reads a key; it must not unbind it.
                    if matches!(op, TxnOp::Check { .. }) {
                        continue;
                    }
                    let key = op.key();
                    if let Some(old) = snap.entries.get(key).and_then(|p| p.lease.as_ref())
                        && let Some(set) = index.get_mut(&old.0)
                    {
                        set.remove(key);
                    }
                    if let TxnOp::Put {
                        lease: Some(new), ..
                    } = op
                    {
                        index
                            .entry(new.0.clone())
                            .or_default()
                            .insert(key.to_owned());
                    }
                }
                index.retain(|_, keys| !keys.is_empty());
                consul_ops.push(ConsulOp::from(KvOp::set(
                    core.layout.leases(),
                    layout::encode_leases(&index),
                    0,
                )));
            }
            if core.commit(&consul_ops, new_rev, nonce).await? {
                return Ok(TxnResponse {
                    revision: new_rev,
                    outcomes,
                });
            }
            // Another writer committed first: re-read and try again.
            tokio::time::sleep(backoff).await;
            backoff = (backoff * 2).min(Duration::from_millis(20));
        }
        Err(StoreError::Unavailable(
            "Consul txn: gave up after too many concurrent-write retries".into(),
        ))
    }

    async fn watch(&self, prefix: &str, from: Option<Revision>) -> StoreResult<WatchStream> {
        watch::open(self.core.clone(), prefix, from).await
    }

    async fn grant_lease(&self, ttl: Duration) -> StoreResult<Lease> {
        if ttl.is_zero() {
            return Err(StoreError::InvalidArgument(
                "a lease needs a positive TTL".into(),
            ));
        }
        let ttl = ttl.max(self.core.options.min_lease_ttl);
        // Whole seconds, rounded up.
        let secs = ttl.as_secs() + u64::from(ttl.subsec_nanos() > 0);
        let ttl = Duration::from_secs(secs);
        let id = self
            .core
            .client
            .session_create(&SessionCreate {
                name: Some("contiv-store lease".to_owned()),
                ttl: Some(api::go_duration(ttl)),
                behavior: Some(SessionBehavior::Release),
                lock_delay: Some("0s".to_owned()),
                node_checks: Some(Vec::new()),
                ..SessionCreate::default()
            })
            .await
            .map_err(|e| store_error("session create", e))?;
        Ok(Lease {
            id: LeaseId(id),
            ttl,
        })
    }

    async fn keep_alive(&self, lease: &LeaseId) -> StoreResult<Duration> {
        if !is_session_id(&lease.0) {
            return Err(StoreError::LeaseNotFound(lease.clone()));
        }
        match self
            .core
            .client
            .session_renew(&lease.0)
            .await
            .map_err(|e| store_error("session renew", e))?
        {
            None => Err(StoreError::LeaseNotFound(lease.clone())),
            Some(entry) => Ok(api::parse_go_duration(&entry.ttl).unwrap_or_default()),
        }
    }

    async fn revoke_lease(&self, lease: &LeaseId) -> StoreResult<()> {
        if !self.core.lease_alive(lease).await? {
            return Err(StoreError::LeaseNotFound(lease.clone()));
        }
        self.core
            .client
            .session_destroy(&lease.0)
            .await
            .map_err(|e| store_error("session destroy", e))?;
        reaper::reap(&self.core, &lease.0).await
    }

    async fn compact(&self, revision: Revision) -> StoreResult<()> {
        let core = &self.core;
        loop {
            let rev = core.snapshot(&[]).await?.rev;
            if revision > rev {
                return Err(StoreError::InvalidArgument(format!(
                    "cannot compact to revision {revision}: the store is at {rev}"
                )));
            }
            let (explicit, index, effective) = core.compaction(rev).await?;
            if revision <= explicit {
                return Ok(());
            }
            let set = ConsulOp::from(KvOp::cas(
                core.layout.compacted(),
                revision.to_string().into_bytes(),
                index,
            ));
            match core.client.txn(&[set]).await {
                Ok(TxnOutcome::Applied(_)) => {}
                Ok(TxnOutcome::RolledBack(_)) => continue,
                Err(e) => return Err(store_error("compact", e)),
            }
            // Drop the records the point now covers.
            let gone: Vec<Revision> = (effective + 1..=revision).collect();
            for chunk in gone.chunks(api::MAX_TXN_OPS) {
                let ops: Vec<ConsulOp> = chunk
                    .iter()
                    .map(|r| ConsulOp::from(KvOp::delete(core.layout.log(*r))))
                    .collect();
                match core.client.txn(&ops).await {
                    Ok(TxnOutcome::Applied(_)) => {}
                    Ok(TxnOutcome::RolledBack(r)) => {
                        return Err(StoreError::Backend(format!(
                            "Consul refused to delete compacted log records: {:?}",
                            r.errors
                        )));
                    }
                    Err(e) => return Err(store_error("compact", e)),
                }
            }
            return Ok(());
        }
    }
}

/// A delete event of `key` at `rev`.
fn delete_event(key: String, rev: Revision) -> WatchEvent {
    WatchEvent {
        kind: EventKind::Delete,
        kv: KeyValue {
            key,
            value: Vec::new(),
            create_revision: 0,
            mod_revision: rev,
            version: 0,
            lease: None,
        },
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn session_ids() {
        assert!(is_session_id("adf4238a-882b-9ddc-4a9d-5b6758e4159e"));
        assert!(!is_session_id("not-a-lease"));
        assert!(!is_session_id("adf4238a-882b-9ddc-4a9d-5b6758e4159"));
        assert!(!is_session_id("adf4238a_882b-9ddc-4a9d-5b6758e4159e"));
    }

    #[test]
    fn nonces_differ() {
        assert_ne!(nonce(), nonce());
    }
}
