//! The JSON-RPC 1.0 OVSDB client: requests with ids, `transact`, `monitor`
//! with an update stream, and answers to the server's `echo`.

use super::OvsdbError;
use super::framing::JsonSplitter;
use super::ops::{OpResult, Operation};
use super::value::{Row, Uuid, row_from_json};
use serde_json::{Value as Json, json};
use std::collections::{BTreeMap, HashMap};
use std::path::Path;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::Duration;
use tokio::io::{AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt};
use tokio::sync::{mpsc, oneshot, watch};
use tokio::task::JoinHandle;

/// Tunables of a [`Client`].
#[derive(Debug, Clone)]
pub struct ClientConfig {
    /// How long a request waits for its response (a `wait` operation's own
    /// timeout should be shorter).
    pub request_timeout: Duration,
}

impl Default for ClientConfig {
    fn default() -> Self {
        ClientConfig {
            request_timeout: Duration::from_secs(60),
        }
    }
}

/// What a monitor reports for one table: old and new contents per row.
pub type TableUpdates = BTreeMap<String, BTreeMap<Uuid, RowUpdate>>;

/// One row's change in a monitor update.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct RowUpdate {
    /// Before (absent for inserts and the initial contents).
    pub old: Option<Row>,
    /// After (absent for deletes).
    pub new: Option<Row>,
}

/// Which columns and changes to monitor on one table.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MonitorRequest {
    /// Columns (`None` = all).
    pub columns: Option<Vec<String>>,
    /// Send the current contents in the reply.
    pub initial: bool,
    /// Report inserts.
    pub insert: bool,
    /// Report deletes.
    pub delete: bool,
    /// Report modifications.
    pub modify: bool,
}

impl MonitorRequest {
    /// Everything: current contents and every change, all columns.
    pub fn all() -> MonitorRequest {
        MonitorRequest {
            columns: None,
            initial: true,
            insert: true,
            delete: true,
            modify: true,
        }
    }

    /// Everything, restricted to `columns`.
    pub fn columns(columns: &[&str]) -> MonitorRequest {
        MonitorRequest {
            columns: Some(columns.iter().map(|c| c.to_string()).collect()),
            ..MonitorRequest::all()
        }
    }

    fn to_json(&self) -> Json {
        let mut o = serde_json::Map::new();
        if let Some(c) = &self.columns {
            o.insert("columns".into(), json!(c));
        }
        o.insert(
            "select".into(),
            json!({"initial": self.initial, "insert": self.insert,
                   "delete": self.delete, "modify": self.modify}),
        );
        Json::Object(o)
    }
}

/// Parses a `<table-updates>` object.
pub fn parse_table_updates(j: &Json) -> Result<TableUpdates, OvsdbError> {
    let mut out = TableUpdates::new();
    let tables = j
        .as_object()
        .ok_or_else(|| OvsdbError::Protocol(format!("table-updates is not an object: {j}")))?;
    for (t, rows) in tables {
        let rows = rows.as_object().ok_or_else(|| {
            OvsdbError::Protocol(format!("table-update is not an object: {rows}"))
        })?;
        let mut m = BTreeMap::new();
        for (u, upd) in rows {
            let get = |k: &str| upd.get(k).map(row_from_json).transpose();
            m.insert(
                Uuid::parse(u)?,
                RowUpdate {
                    old: get("old")?,
                    new: get("new")?,
                },
            );
        }
        out.insert(t.clone(), m);
    }
    Ok(out)
}

type Waiter = oneshot::Sender<Result<Json, OvsdbError>>;

#[derive(Default)]
struct State {
    waiters: HashMap<u64, (String, Waiter)>,
    monitors: HashMap<String, mpsc::UnboundedSender<TableUpdates>>,
    closed: Option<String>,
}

struct Shared {
    config: ClientConfig,
    tx: mpsc::UnboundedSender<Vec<u8>>,
    next_id: AtomicU64,
    state: Mutex<State>,
    closed_tx: watch::Sender<bool>,
}

impl Shared {
    fn state(&self) -> MutexGuard<'_, State> {
        self.state.lock().unwrap_or_else(|e| e.into_inner())
    }

    fn close(&self, reason: String) {
        let (waiters, _monitors) = {
            let mut s = self.state();
            if s.closed.is_some() {
                return;
            }
            s.closed = Some(reason.clone());
            (
                std::mem::take(&mut s.waiters),
                std::mem::take(&mut s.monitors),
            )
        };
        for (_, (_, w)) in waiters {
            let _ = w.send(Err(OvsdbError::Closed(reason.clone())));
        }
        self.closed_tx.send_replace(true);
    }

    fn send_json(&self, j: &Json) -> Result<(), OvsdbError> {
        self.tx
            .send(j.to_string().into_bytes())
            .map_err(|_| OvsdbError::Closed("writer stopped".into()))
    }

    fn dispatch(&self, msg: Json) {
        let method = msg.get("method").and_then(Json::as_str).map(str::to_owned);
        let id = msg.get("id").cloned().unwrap_or(Json::Null);
        match method.as_deref() {
            Some("echo") => {
                let params = msg.get("params").cloned().unwrap_or(json!([]));
                let _ = self.send_json(&json!({"id": id, "result": params, "error": null}));
            }
            Some("update") => {
                let params = msg.get("params").and_then(Json::as_array);
                let (Some(mid), Some(upd)) = (
                    params.and_then(|p| p.first()),
                    params.and_then(|p| p.get(1)),
                ) else {
                    tracing::warn!(%msg, "malformed OVSDB update notification");
                    return;
                };
                match parse_table_updates(upd) {
                    Ok(u) => {
                        let tx = self.state().monitors.get(&mid.to_string()).cloned();
                        if let Some(tx) = tx {
                            let _ = tx.send(u);
                        }
                    }
                    Err(e) => tracing::warn!(error = %e, "undecodable OVSDB update"),
                }
            }
            Some(other) => {
                tracing::debug!(method = other, "ignoring OVSDB notification");
            }
            None => {
                let Some(id) = id.as_u64() else {
                    tracing::warn!(%msg, "OVSDB response with an unknown id");
                    return;
                };
                let w = self.state().waiters.remove(&id);
                let Some((method, w)) = w else {
                    return;
                };
                let err = msg.get("error").cloned().unwrap_or(Json::Null);
                let res = if err.is_null() {
                    Ok(msg.get("result").cloned().unwrap_or(Json::Null))
                } else {
                    Err(OvsdbError::Rpc { method, error: err })
                };
                let _ = w.send(res);
            }
        }
    }
}

struct Tasks {
    shared: Arc<Shared>,
    handles: Vec<JoinHandle<()>>,
}

impl Drop for Tasks {
    fn drop(&mut self) {
        self.shared.close("client dropped".into());
        for h in &self.handles {
            h.abort();
        }
    }
}

/// An OVSDB (RFC 7047) client over one connection. Cheap to clone.
///
/// ```no_run
/// # async fn demo() -> Result<(), contiv_dp_ovs::ovsdb::OvsdbError> {
/// use contiv_dp_ovs::ovsdb::{Client, Condition, Operation, Value};
/// let c = Client::connect_unix("/run/openvswitch/db.sock").await?;
/// let r = c
///     .transact("Open_vSwitch", vec![Operation::select(
///         "Bridge",
///         vec![Condition::eq("name", Value::string("br-int"))],
///         Some(&["_uuid", "ports"]),
///     )])
///     .await?;
/// println!("{} bridge(s) named br-int", r[0].rows().len());
/// # Ok(()) }
/// ```
#[derive(Clone)]
pub struct Client {
    shared: Arc<Shared>,
    tasks: Arc<Tasks>,
}

impl std::fmt::Debug for Client {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Client")
            .field("closed", &self.is_closed())
            .finish()
    }
}

impl Client {
    /// Connects to a unix socket (`<rundir>/db.sock`).
    pub async fn connect_unix(path: impl AsRef<Path>) -> Result<Client, OvsdbError> {
        Self::connect_unix_with(path, ClientConfig::default()).await
    }

    /// [`Client::connect_unix`] with settings.
    pub async fn connect_unix_with(
        path: impl AsRef<Path>,
        config: ClientConfig,
    ) -> Result<Client, OvsdbError> {
        let s = tokio::net::UnixStream::connect(path.as_ref())
            .await
            .map_err(|e| OvsdbError::Io {
                what: "connecting to the OVSDB socket",
                message: format!("{}: {e}", path.as_ref().display()),
            })?;
        Ok(Self::from_stream(s, config))
    }

    /// Connects to an OVSDB target: `unix:<path>` or `tcp:<ip>:<port>`.
    pub async fn connect(target: &str) -> Result<Client, OvsdbError> {
        if let Some(p) = target.strip_prefix("unix:") {
            return Self::connect_unix(p).await;
        }
        if let Some(a) = target.strip_prefix("tcp:") {
            let s = tokio::net::TcpStream::connect(a)
                .await
                .map_err(|e| OvsdbError::Io {
                    what: "connecting to OVSDB over TCP",
                    message: format!("{a}: {e}"),
                })?;
            return Ok(Self::from_stream(s, ClientConfig::default()));
        }
        Err(OvsdbError::Invalid(format!(
            "unsupported OVSDB target {target:?}: use unix:<path> or tcp:<ip>:<port>"
        )))
    }

    /// Runs the client over an established byte stream.
    pub fn from_stream<S>(stream: S, config: ClientConfig) -> Client
    where
        S: AsyncRead + AsyncWrite + Send + 'static,
    {
        let (rd, wr) = tokio::io::split(stream);
        let (tx, rx) = mpsc::unbounded_channel();
        let (closed_tx, _) = watch::channel(false);
        let shared = Arc::new(Shared {
            config,
            tx,
            next_id: AtomicU64::new(1),
            state: Mutex::new(State::default()),
            closed_tx,
        });
        let w = tokio::spawn(writer(shared.clone(), wr, rx));
        let r = tokio::spawn(reader(shared.clone(), rd));
        Client {
            tasks: Arc::new(Tasks {
                shared: shared.clone(),
                handles: vec![w, r],
            }),
            shared,
        }
    }

    /// Whether the connection is closed.
    pub fn is_closed(&self) -> bool {
        *self.shared.closed_tx.borrow()
    }

    /// Closes the connection: pending requests fail, monitors end.
    pub fn close(&self) {
        self.shared.close("closed by the client".into());
        for h in &self.tasks.handles {
            h.abort();
        }
    }

    /// Resolves when the connection closes.
    pub async fn closed(&self) {
        let mut rx = self.shared.closed_tx.subscribe();
        let _ = rx.wait_for(|c| *c).await;
    }

    /// Sends a JSON-RPC request and returns its `result`.
    pub async fn request(&self, method: &str, params: Json) -> Result<Json, OvsdbError> {
        self.request_timeout(method, params, self.shared.config.request_timeout)
            .await
    }

    /// [`Client::request`] with its own timeout.
    pub async fn request_timeout(
        &self,
        method: &str,
        params: Json,
        after: Duration,
    ) -> Result<Json, OvsdbError> {
        let id = self.shared.next_id.fetch_add(1, Ordering::Relaxed);
        let (tx, rx) = oneshot::channel();
        {
            let mut s = self.shared.state();
            if let Some(r) = &s.closed {
                return Err(OvsdbError::Closed(r.clone()));
            }
            s.waiters.insert(id, (method.to_owned(), tx));
        }
        let msg = json!({"method": method, "params": params, "id": id});
        if let Err(e) = self.shared.send_json(&msg) {
            self.shared.state().waiters.remove(&id);
            return Err(e);
        }
        match tokio::time::timeout(after, rx).await {
            Ok(Ok(r)) => r,
            Ok(Err(_)) => Err(OvsdbError::Closed("connection closed".into())),
            Err(_) => {
                self.shared.state().waiters.remove(&id);
                Err(OvsdbError::Timeout {
                    what: method.to_owned(),
                    after,
                })
            }
        }
    }

    /// `list_dbs`.
    pub async fn list_dbs(&self) -> Result<Vec<String>, OvsdbError> {
        let r = self.request("list_dbs", json!([])).await?;
        serde_json::from_value(r.clone()).map_err(|_| {
            OvsdbError::Protocol(format!("list_dbs result is not a list of names: {r}"))
        })
    }

    /// `get_schema` (the schema JSON).
    pub async fn get_schema(&self, db: &str) -> Result<Json, OvsdbError> {
        self.request("get_schema", json!([db])).await
    }

    /// `echo`: a liveness check.
    pub async fn echo(&self) -> Result<(), OvsdbError> {
        let r = self.request("echo", json!(["contiv"])).await?;
        if r == json!(["contiv"]) {
            Ok(())
        } else {
            Err(OvsdbError::Protocol(format!("echo returned {r}")))
        }
    }

    /// `transact`: runs `ops` atomically. On failure the error names the
    /// failing operation (index and description) and the server's error
    /// and details; an error after the last operation (e.g. a constraint or
    /// referential-integrity violation at commit) is
    /// [`OvsdbError::Commit`].
    pub async fn transact(
        &self,
        db: &str,
        ops: Vec<Operation>,
    ) -> Result<Vec<OpResult>, OvsdbError> {
        self.transact_timeout(db, ops, self.shared.config.request_timeout)
            .await
    }

    /// [`Client::transact`] with its own response timeout (for
    /// transactions with long `wait` operations).
    pub async fn transact_timeout(
        &self,
        db: &str,
        ops: Vec<Operation>,
        after: Duration,
    ) -> Result<Vec<OpResult>, OvsdbError> {
        let mut params = vec![json!(db)];
        params.extend(ops.iter().map(Operation::to_json));
        let r = self
            .request_timeout("transact", Json::Array(params), after)
            .await?;
        let results = r
            .as_array()
            .ok_or_else(|| OvsdbError::Protocol(format!("transact result is not an array: {r}")))?;
        for (i, res) in results.iter().enumerate() {
            if let Some(err) = res.get("error") {
                let error = err.as_str().unwrap_or("unknown error").to_owned();
                let details = res.get("details").and_then(Json::as_str).map(str::to_owned);
                return Err(match ops.get(i) {
                    Some(op) => OvsdbError::Transaction {
                        index: i,
                        op: op.describe(),
                        error,
                        details,
                    },
                    None => OvsdbError::Commit { error, details },
                });
            }
        }
        if results.len() < ops.len() {
            return Err(OvsdbError::Protocol(format!(
                "transact returned {} results for {} operations",
                results.len(),
                ops.len()
            )));
        }
        results[..ops.len()]
            .iter()
            .map(OpResult::from_json)
            .collect()
    }

    /// `monitor`: the current contents of the requested tables and a
    /// stream of every later change.
    pub async fn monitor(
        &self,
        db: &str,
        requests: &BTreeMap<String, MonitorRequest>,
    ) -> Result<Monitor, OvsdbError> {
        let id = format!("m{}", self.shared.next_id.fetch_add(1, Ordering::Relaxed));
        let key = Json::String(id.clone()).to_string();
        let (tx, rx) = mpsc::unbounded_channel();
        // Registered before the request: updates right after the reply
        // cannot be lost.
        self.shared.state().monitors.insert(key.clone(), tx);
        let reqs: serde_json::Map<String, Json> = requests
            .iter()
            .map(|(t, r)| (t.clone(), r.to_json()))
            .collect();
        let res = self
            .request("monitor", json!([db, id, Json::Object(reqs)]))
            .await
            .and_then(|r| parse_table_updates(&r));
        match res {
            Ok(initial) => Ok(Monitor {
                initial,
                rx,
                id,
                key,
                client: self.clone(),
            }),
            Err(e) => {
                self.shared.state().monitors.remove(&key);
                Err(e)
            }
        }
    }
}

/// A running monitor. Dropping it stops delivery locally; [`Monitor::cancel`]
/// also tells the server.
#[derive(Debug)]
pub struct Monitor {
    /// The contents at the time the monitor started (if `initial` was
    /// requested).
    pub initial: TableUpdates,
    rx: mpsc::UnboundedReceiver<TableUpdates>,
    id: String,
    key: String,
    client: Client,
}

impl Monitor {
    /// The next update, or `None` once the connection closed.
    pub async fn next(&mut self) -> Option<TableUpdates> {
        self.rx.recv().await
    }

    /// `monitor_cancel`.
    pub async fn cancel(self) -> Result<(), OvsdbError> {
        self.client.shared.state().monitors.remove(&self.key);
        self.client
            .request("monitor_cancel", json!([self.id]))
            .await
            .map(|_| ())
    }
}

impl Drop for Monitor {
    fn drop(&mut self) {
        self.client.shared.state().monitors.remove(&self.key);
    }
}

async fn writer<W: AsyncWrite + Unpin>(
    shared: Arc<Shared>,
    mut wr: W,
    mut rx: mpsc::UnboundedReceiver<Vec<u8>>,
) {
    while let Some(mut buf) = rx.recv().await {
        while let Ok(more) = rx.try_recv() {
            buf.extend_from_slice(&more);
        }
        if let Err(e) = wr.write_all(&buf).await {
            shared.close(format!("write failed: {e}"));
            return;
        }
    }
}

async fn reader<R: AsyncRead + Unpin>(shared: Arc<Shared>, mut rd: R) {
    let mut split = JsonSplitter::new();
    let mut chunk = vec![0u8; 64 * 1024];
    let reason = loop {
        let n = match rd.read(&mut chunk).await {
            Ok(0) => break "server closed the connection".to_owned(),
            Ok(n) => n,
            Err(e) => break format!("read failed: {e}"),
        };
        split.push(&chunk[..n]);
        loop {
            match split.next_message() {
                Ok(Some(raw)) => match serde_json::from_slice::<Json>(&raw) {
                    Ok(j) => shared.dispatch(j),
                    Err(e) => {
                        shared.close(format!("invalid JSON from the server: {e}"));
                        return;
                    }
                },
                Ok(None) => break,
                Err(e) => {
                    shared.close(e.to_string());
                    return;
                }
            }
        }
    };
    shared.close(reason);
}
