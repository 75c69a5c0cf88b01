//! The HTTP surface of the Consul test server: `/v1/kv`, `/v1/txn`,
//! `/v1/session/*` and `/v1/status/leader`, with Consul's status codes,
//! headers (`X-Consul-Index`, `X-Consul-KnownLeader`), blocking queries and
//! size limits.

use super::Shared;
use super::state::{KvRequest, Session, State};
use crate::consul::api::{
    INDEX_HEADER, KvPair, MAX_TXN_BODY_BYTES, MAX_TXN_OPS, MAX_VALUE_BYTES, SessionBehavior,
    SessionEntry, TOKEN_HEADER, TxnError, TxnReply, TxnResult, go_duration, parse_go_duration,
};
use axum::Router;
use axum::body::Bytes;
use axum::extract::{Path, Query, Request, State as AxState};
use axum::http::{HeaderValue, Method, StatusCode, header};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use axum::routing::{any, get, put};
use base64::Engine;
use serde_json::Value;
use std::collections::HashMap;
use std::sync::Arc;
use std::time::{Duration, Instant};

/// An early error answer (boxed: a `Response` is large).
type Early = Box<Response>;

type Params = Query<HashMap<String, String>>;

/// The router of one agent.
pub fn router(shared: Arc<Shared>) -> Router {
    Router::new()
        .route("/v1/kv/", any(kv_root))
        .route("/v1/kv/{*key}", any(kv))
        .route("/v1/txn", put(txn))
        .route("/v1/session/create", put(session_create))
        .route("/v1/session/destroy/{id}", put(session_destroy))
        .route("/v1/session/renew/{id}", put(session_renew))
        .route("/v1/session/info/{id}", get(session_info))
        .route("/v1/session/list", get(session_list))
        .route("/v1/session/node/{node}", get(session_node))
        .route("/v1/status/leader", get(status_leader))
        .layer(axum::middleware::from_fn_with_state(shared.clone(), acl))
        .with_state(shared)
}

fn text(status: StatusCode, body: impl Into<String>) -> Response {
    (
        status,
        [(header::CONTENT_TYPE, "text/plain; charset=utf-8")],
        body.into(),
    )
        .into_response()
}

fn json_reply(status: StatusCode, index: Option<u64>, body: &impl serde::Serialize) -> Response {
    let mut resp = (
        status,
        [(header::CONTENT_TYPE, "application/json")],
        serde_json::to_vec(body).unwrap_or_default(),
    )
        .into_response();
    let h = resp.headers_mut();
    if let Some(i) = index
        && let Ok(v) = HeaderValue::from_str(&i.max(1).to_string())
    {
        h.insert(INDEX_HEADER, v);
    }
    h.insert("X-Consul-KnownLeader", HeaderValue::from_static("true"));
    h.insert("X-Consul-LastContact", HeaderValue::from_static("0"));
    resp
}

/// ACL: with a token configured, every request must carry it
/// (`X-Consul-Token`, `Authorization: Bearer`, or `?token=`).
async fn acl(AxState(shared): AxState<Arc<Shared>>, req: Request, next: Next) -> Response {
    let Some(want) = &shared.config.acl_token else {
        return next.run(req).await;
    };
    let from_header = req
        .headers()
        .get(TOKEN_HEADER)
        .and_then(|v| v.to_str().ok())
        .map(str::to_owned);
    let from_bearer = req
        .headers()
        .get(header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.strip_prefix("Bearer "))
        .map(str::to_owned);
    let from_query = req.uri().query().and_then(|q| {
        q.split('&')
            .find_map(|kv| kv.strip_prefix("token=").map(str::to_owned))
    });
    match from_header.or(from_bearer).or(from_query) {
        Some(t) if &t == want => next.run(req).await,
        Some(_) => text(StatusCode::FORBIDDEN, "ACL not found"),
        None => text(StatusCode::FORBIDDEN, "Permission denied"),
    }
}

fn flag(q: &HashMap<String, String>, name: &str) -> bool {
    q.contains_key(name)
}

fn number(q: &HashMap<String, String>, name: &str) -> Result<Option<u64>, Early> {
    match q.get(name) {
        None => Ok(None),
        Some(v) => v.parse::<u64>().map(Some).map_err(|_| {
            Box::new(text(
                StatusCode::BAD_REQUEST,
                format!("Invalid {name} index: {v:?}"),
            ))
        }),
    }
}

/// Waits while `watched(state) <= min` (a blocking query), at most the
/// query's `wait` (default 5 minutes, at most 10).
async fn block(
    shared: &Shared,
    q: &HashMap<String, String>,
    watched: impl Fn(&State) -> u64,
) -> Result<(), Early> {
    let Some(min) = number(q, "index")? else {
        return Ok(());
    };
    if min == 0 {
        return Ok(());
    }
    let wait = match q.get("wait") {
        None => Duration::from_secs(300),
        Some(w) => parse_go_duration(w).ok_or_else(|| {
            Box::new(text(
                StatusCode::BAD_REQUEST,
                format!("Invalid wait time {w:?}"),
            ))
        })?,
    }
    .min(Duration::from_secs(600));
    let deadline = tokio::time::Instant::now() + wait;
    let mut rx = shared.changed.subscribe();
    loop {
        if watched(&shared.lock()) > min {
            return Ok(());
        }
        if tokio::time::timeout_at(deadline, rx.changed())
            .await
            .is_err()
        {
            return Ok(());
        }
    }
}

async fn kv_root(s: AxState<Arc<Shared>>, method: Method, q: Params, body: Bytes) -> Response {
    kv_impl(s.0, method, String::new(), q.0, body).await
}

async fn kv(
    s: AxState<Arc<Shared>>,
    method: Method,
    Path(key): Path<String>,
    q: Params,
    body: Bytes,
) -> Response {
    kv_impl(s.0, method, key, q.0, body).await
}

async fn kv_impl(
    shared: Arc<Shared>,
    method: Method,
    key: String,
    q: HashMap<String, String>,
    body: Bytes,
) -> Response {
    match method {
        Method::GET => kv_get(shared, key, q).await,
        Method::PUT => kv_put(&shared, key, q, body),
        Method::DELETE => kv_delete(&shared, key, q),
        _ => text(StatusCode::METHOD_NOT_ALLOWED, "method not allowed"),
    }
}

async fn kv_get(shared: Arc<Shared>, key: String, q: HashMap<String, String>) -> Response {
    let prefix = flag(&q, "recurse") || flag(&q, "keys");
    if let Err(r) = block(&shared, &q, |st| st.watched_index(&key, prefix)).await {
        return *r;
    }
    let st = shared.lock();
    if flag(&q, "keys") {
        let sep = q.get("separator").filter(|s| !s.is_empty());
        let mut keys: Vec<String> = Vec::new();
        for k in st
            .kv
            .range(key.clone()..)
            .take_while(|(k, _)| k.starts_with(&key))
            .map(|(k, _)| k)
        {
            let item = match sep.and_then(|s| k[key.len()..].find(s.as_str()).map(|i| (i, s))) {
                Some((i, s)) => k[..key.len() + i + s.len()].to_owned(),
                None => k.clone(),
            };
            if keys.last() != Some(&item) {
                keys.push(item);
            }
        }
        let index = st.prefix_index(&key);
        if keys.is_empty() {
            return json_reply(StatusCode::NOT_FOUND, Some(index), &Value::Null);
        }
        return json_reply(StatusCode::OK, Some(index), &keys);
    }
    if flag(&q, "recurse") {
        let entries: Vec<KvPair> = st
            .kv
            .range(key.clone()..)
            .take_while(|(k, _)| k.starts_with(&key))
            .map(|(k, e)| e.pair(k, true))
            .collect();
        let index = st.prefix_index(&key);
        if entries.is_empty() {
            return json_reply(StatusCode::NOT_FOUND, Some(index), &Value::Null);
        }
        return json_reply(StatusCode::OK, Some(index), &entries);
    }
    let index = st.kv_table_index();
    match st.kv.get(&key) {
        None => json_reply(StatusCode::NOT_FOUND, Some(index), &Value::Null),
        Some(e) if flag(&q, "raw") => {
            let mut resp = (StatusCode::OK, e.value.clone()).into_response();
            if let Ok(v) = HeaderValue::from_str(&index.to_string()) {
                resp.headers_mut().insert(INDEX_HEADER, v);
            }
            resp
        }
        Some(e) => json_reply(StatusCode::OK, Some(index), &[e.pair(&key, true)]),
    }
}

fn kv_put(shared: &Shared, key: String, q: HashMap<String, String>, body: Bytes) -> Response {
    if key.is_empty() {
        return text(StatusCode::BAD_REQUEST, "Missing key name");
    }
    if body.len() > MAX_VALUE_BYTES {
        return text(
            StatusCode::PAYLOAD_TOO_LARGE,
            format!(
                "Request body({} bytes) too large, max size: {MAX_VALUE_BYTES} bytes. See https://developer.hashicorp.com/docs/agent/config/config-files#kv_max_value_size.",
                body.len()
            ),
        );
    }
    let flags = match number(&q, "flags") {
        Ok(f) => f.unwrap_or(0),
        Err(r) => return *r,
    };
    let (verb, index, session) = if let Some(s) = q.get("acquire") {
        ("lock", 0, s.clone())
    } else if let Some(s) = q.get("release") {
        ("unlock", 0, s.clone())
    } else {
        match number(&q, "cas") {
            Ok(Some(i)) => ("cas", i, String::new()),
            Ok(None) => ("set", 0, String::new()),
            Err(r) => return *r,
        }
    };
    let op = KvRequest {
        verb: verb.to_owned(),
        key,
        value: Some(body.to_vec()),
        flags,
        index,
        session,
    };
    let mut st = shared.lock();
    let result = st.txn(std::slice::from_ref(&op));
    drop(st);
    match result {
        Ok(_) => {
            shared.notify();
            json_reply(StatusCode::OK, None, &true)
        }
        Err(errors) => {
            let what = errors.first().map(|e| e.1.as_str()).unwrap_or_default();
            if what.starts_with("invalid session") || what == "missing session" {
                text(StatusCode::INTERNAL_SERVER_ERROR, what)
            } else {
                json_reply(StatusCode::OK, None, &false)
            }
        }
    }
}

fn kv_delete(shared: &Shared, key: String, q: HashMap<String, String>) -> Response {
    let op = if flag(&q, "recurse") {
        KvRequest {
            verb: "delete-tree".into(),
            key,
            value: None,
            flags: 0,
            index: 0,
            session: String::new(),
        }
    } else {
        let cas = match number(&q, "cas") {
            Ok(c) => c,
            Err(r) => return *r,
        };
        KvRequest {
            verb: if cas.is_some() {
                "delete-cas"
            } else {
                "delete"
            }
            .into(),
            key,
            value: None,
            flags: 0,
            index: cas.unwrap_or(0),
            session: String::new(),
        }
    };
    let result = shared.lock().txn(std::slice::from_ref(&op));
    shared.notify();
    json_reply(StatusCode::OK, None, &result.is_ok())
}

/// Lower-cases object keys (Go's JSON decoding matches field names
/// case-insensitively; clients send `KV`/`Verb` or `kv`/`verb`).
fn lower_keys(v: Value) -> Value {
    match v {
        Value::Object(map) => Value::Object(
            map.into_iter()
                .map(|(k, v)| (k.to_ascii_lowercase(), lower_keys(v)))
                .collect(),
        ),
        Value::Array(items) => Value::Array(items.into_iter().map(lower_keys).collect()),
        other => other,
    }
}

fn parse_ops(body: &[u8]) -> Result<Vec<Result<KvRequest, String>>, String> {
    let raw: Value = serde_json::from_slice(body).map_err(|e| e.to_string())?;
    let Value::Array(items) = lower_keys(raw) else {
        return Err("json: cannot unmarshal object into Go value of type api.TxnOps".into());
    };
    items
        .into_iter()
        .map(|item| {
            let Some(kv) = item.get("kv").filter(|v| !v.is_null()) else {
                let kind = item
                    .as_object()
                    .and_then(|o| o.keys().next().cloned())
                    .unwrap_or_default();
                return Ok(Err(if kind.is_empty() {
                    "no operation specified".to_owned()
                } else {
                    format!("{kind} operations are not supported by this test server")
                }));
            };
            let s = |name: &str| {
                kv.get(name)
                    .and_then(Value::as_str)
                    .unwrap_or("")
                    .to_owned()
            };
            let n = |name: &str| kv.get(name).and_then(Value::as_u64).unwrap_or(0);
            let value = match kv.get("value") {
                None | Some(Value::Null) => None,
                Some(Value::String(b64)) => Some(
                    base64::engine::general_purpose::STANDARD
                        .decode(b64.as_bytes())
                        .map_err(|e| format!("failed to decode value: {e}"))?,
                ),
                Some(other) => return Err(format!("unexpected value type: {other}")),
            };
            Ok(Ok(KvRequest {
                verb: s("verb"),
                key: s("key"),
                value,
                flags: n("flags"),
                index: n("index"),
                session: s("session"),
            }))
        })
        .collect()
}

async fn txn(AxState(shared): AxState<Arc<Shared>>, body: Bytes) -> Response {
    if body.len() > MAX_TXN_BODY_BYTES {
        return text(
            StatusCode::PAYLOAD_TOO_LARGE,
            format!("Request body too large, max size: {MAX_TXN_BODY_BYTES} bytes"),
        );
    }
    let ops = match parse_ops(&body) {
        Ok(ops) => ops,
        Err(e) => {
            return text(
                StatusCode::BAD_REQUEST,
                format!("Failed to parse body: {e}"),
            );
        }
    };
    if ops.len() > MAX_TXN_OPS {
        return text(
            StatusCode::PAYLOAD_TOO_LARGE,
            format!(
                "Transaction contains too many operations ({} > {MAX_TXN_OPS})",
                ops.len()
            ),
        );
    }
    for op in ops.iter().flatten() {
        if let Some(v) = &op.value
            && v.len() > MAX_VALUE_BYTES
        {
            return text(
                StatusCode::PAYLOAD_TOO_LARGE,
                format!(
                    "Value for key {:?} is too large ({} > {MAX_VALUE_BYTES} bytes)",
                    op.key,
                    v.len()
                ),
            );
        }
    }
    let unsupported: Vec<TxnError> = ops
        .iter()
        .enumerate()
        .filter_map(|(i, op)| {
            op.as_ref().err().map(|what| TxnError {
                op_index: i,
                what: what.clone(),
            })
        })
        .collect();
    if !unsupported.is_empty() {
        let reply = TxnReply {
            results: None,
            errors: Some(unsupported),
        };
        return json_reply(StatusCode::CONFLICT, None, &reply);
    }
    let ops: Vec<KvRequest> = ops.into_iter().flatten().collect();
    let result = shared.lock().txn(&ops);
    match result {
        Ok(results) => {
            shared.notify();
            let reply = TxnReply {
                results: Some(
                    results
                        .into_iter()
                        .map(|kv| TxnResult { kv: Some(kv) })
                        .collect(),
                ),
                errors: None,
            };
            json_reply(StatusCode::OK, None, &reply)
        }
        Err(errors) => {
            let reply = TxnReply {
                results: None,
                errors: Some(
                    errors
                        .into_iter()
                        .map(|(op_index, what)| TxnError { op_index, what })
                        .collect(),
                ),
            };
            json_reply(StatusCode::CONFLICT, None, &reply)
        }
    }
}

/// Go-style duration or a bare number (seconds below 1000, else
/// nanoseconds — Consul's lock-delay fix-up).
fn lock_delay(v: &Value) -> Option<Duration> {
    match v {
        Value::String(s) => parse_go_duration(s),
        Value::Number(n) => {
            let n = n.as_u64()?;
            Some(if n < 1000 {
                Duration::from_secs(n)
            } else {
                Duration::from_nanos(n)
            })
        }
        _ => None,
    }
}

async fn session_create(AxState(shared): AxState<Arc<Shared>>, body: Bytes) -> Response {
    let req = if body.iter().all(u8::is_ascii_whitespace) {
        Value::Object(Default::default())
    } else {
        match serde_json::from_slice::<Value>(&body) {
            Ok(v) => lower_keys(v),
            Err(e) => {
                return text(
                    StatusCode::BAD_REQUEST,
                    format!("Request decode failed: {e}"),
                );
            }
        }
    };
    let s = |name: &str| req.get(name).and_then(Value::as_str).map(str::to_owned);
    let behavior = match s("behavior").as_deref() {
        None | Some("") | Some("release") => SessionBehavior::Release,
        Some("delete") => SessionBehavior::Delete,
        Some(other) => {
            return text(
                StatusCode::BAD_REQUEST,
                format!("Invalid Behavior setting '{other}'"),
            );
        }
    };
    let min = shared.config.session_ttl_min;
    let max = Duration::from_secs(86400);
    let ttl = match s("ttl").filter(|t| !t.is_empty()) {
        None => None,
        Some(t) => match parse_go_duration(&t) {
            Some(d) if d.is_zero() => None,
            Some(d) if d >= min && d <= max => Some(d),
            _ => {
                return text(
                    StatusCode::BAD_REQUEST,
                    format!(
                        "Invalid Session TTL '{t}', must be between [{}={}]",
                        go_duration(min),
                        "24h0m0s"
                    ),
                );
            }
        },
    };
    let delay = match req.get("lockdelay") {
        None => Duration::from_secs(15),
        Some(v) => match lock_delay(v) {
            Some(d) => d,
            None => return text(StatusCode::BAD_REQUEST, "Request decode failed: lock delay"),
        },
    };
    let checks: Vec<String> = match req.get("nodechecks").or_else(|| req.get("checks")) {
        None | Some(Value::Null) => vec!["serfHealth".to_owned()],
        Some(Value::Array(items)) => items
            .iter()
            .filter_map(|c| c.as_str().map(str::to_owned))
            .collect(),
        Some(_) => return text(StatusCode::BAD_REQUEST, "Request decode failed: checks"),
    };
    if let Some(bad) = checks.iter().find(|c| c.as_str() != "serfHealth") {
        return text(
            StatusCode::INTERNAL_SERVER_ERROR,
            format!("Missing check '{bad}' registration"),
        );
    }
    let node = s("node").unwrap_or_else(|| shared.node.clone());
    if node != shared.node {
        return text(
            StatusCode::INTERNAL_SERVER_ERROR,
            format!("Missing node registration: {node}"),
        );
    }
    let id = shared.new_uuid();
    let now = Instant::now();
    let session = Session {
        entry: SessionEntry {
            id: id.clone(),
            name: s("name").unwrap_or_default(),
            node,
            lock_delay: u64::try_from(delay.as_nanos()).unwrap_or(u64::MAX),
            behavior,
            ttl: ttl.map(go_duration).unwrap_or_default(),
            node_checks: Some(checks),
            service_checks: None,
            create_index: 0,
            modify_index: 0,
        },
        ttl,
        deadline: ttl.map(|t| now + t * 2),
        lock_delay: delay,
    };
    shared.lock().create_session(session);
    shared.notify();
    json_reply(StatusCode::OK, None, &serde_json::json!({ "ID": id }))
}

async fn session_destroy(
    AxState(shared): AxState<Arc<Shared>>,
    Path(id): Path<String>,
) -> Response {
    shared.lock().destroy_session(&id, Instant::now());
    shared.notify();
    json_reply(StatusCode::OK, None, &true)
}

async fn session_renew(AxState(shared): AxState<Arc<Shared>>, Path(id): Path<String>) -> Response {
    let renewed = shared.lock().renew_session(&id, Instant::now());
    match renewed {
        Some(entry) => json_reply(StatusCode::OK, None, &[entry]),
        None => text(
            StatusCode::NOT_FOUND,
            format!("Session id '{id}' not found"),
        ),
    }
}

async fn session_info(
    AxState(shared): AxState<Arc<Shared>>,
    Path(id): Path<String>,
    q: Params,
) -> Response {
    if let Err(r) = block(&shared, &q.0, |st| st.sessions_index).await {
        return *r;
    }
    let st = shared.lock();
    let found: Vec<SessionEntry> = st
        .sessions
        .get(&id)
        .map(|s| s.entry.clone())
        .into_iter()
        .collect();
    json_reply(StatusCode::OK, Some(st.sessions_index), &found)
}

async fn session_list(AxState(shared): AxState<Arc<Shared>>, q: Params) -> Response {
    if let Err(r) = block(&shared, &q.0, |st| st.sessions_index).await {
        return *r;
    }
    let st = shared.lock();
    let all: Vec<SessionEntry> = st.sessions.values().map(|s| s.entry.clone()).collect();
    json_reply(StatusCode::OK, Some(st.sessions_index), &all)
}

async fn session_node(
    AxState(shared): AxState<Arc<Shared>>,
    Path(node): Path<String>,
    q: Params,
) -> Response {
    if let Err(r) = block(&shared, &q.0, |st| st.sessions_index).await {
        return *r;
    }
    let st = shared.lock();
    let of_node: Vec<SessionEntry> = st
        .sessions
        .values()
        .filter(|s| s.entry.node == node)
        .map(|s| s.entry.clone())
        .collect();
    json_reply(StatusCode::OK, Some(st.sessions_index), &of_node)
}

async fn status_leader() -> Response {
    json_reply(StatusCode::OK, None, &"127.0.0.1:8300")
}
