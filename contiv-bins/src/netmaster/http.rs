//! The REST front end (axum): the original's `/api/v1/` paths (with or
//! without the trailing slash), the agent API, the watch stream, health,
//! `/version`, `/info`, Prometheus `/metrics`, `/api/v1/openapi.json`,
//! credentials ([`super::auth`]: the admin token, per-node tokens), the
//! JSON-only rule for request bodies and request logging.
//!
//! **Request bodies must be JSON**: a `POST`, `PUT` or `PATCH` whose
//! `Content-Type` is not `application/json` (or `…+json`) is refused with
//! 415 before anything else happens. A web page can make a browser send a
//! cross-site `text/plain` or form POST without asking first; it cannot
//! send `application/json` without a CORS preflight, which netmaster never
//! grants — so no page a user visits can change the network behind their
//! back, token or not. Every client of the original (netctl, the agents)
//! sends `application/json`.

use super::auth::{Credentials, Identity};
use super::collections::Collection;
use super::{ApiError, Netmaster, oper};
use crate::api::{EndpointRequest, NodeRegistration};
use axum::body::{Body, Bytes};
use axum::extract::{Extension, Path, Query, Request, State};
use axum::http::{HeaderValue, Method, StatusCode, header};
use axum::middleware::{self, Next};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::{Json, Router};
use contiv_core::model::validate::{check_endpoint_id, check_host_name};
use futures::StreamExt;
use serde::Deserialize;
use serde_json::{Value, json};
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Instant;
use tracing::info;

/// A monotonically increasing counter.
#[derive(Debug, Default)]
pub struct Counter(AtomicU64);

impl Counter {
    /// Adds one.
    pub fn inc(&self) {
        self.0.fetch_add(1, Ordering::Relaxed);
    }
    /// The current value.
    pub fn get(&self) -> u64 {
        self.0.load(Ordering::Relaxed)
    }
}

/// Counters exported at `/metrics`.
#[derive(Debug, Default)]
pub struct Metrics {
    /// Requests answered 2xx.
    pub requests_ok: Counter,
    /// Requests answered 4xx.
    pub requests_client_error: Counter,
    /// Requests answered 5xx.
    pub requests_server_error: Counter,
    /// Sum of request latencies in microseconds.
    pub request_micros: Counter,
    /// Endpoints created.
    pub endpoints_created: Counter,
    /// Endpoints deleted.
    pub endpoints_deleted: Counter,
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        let status =
            StatusCode::from_u16(self.status()).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
        // Text body with a trailing newline, as the original's http.Error.
        (
            status,
            [(header::CONTENT_TYPE, "text/plain; charset=utf-8")],
            format!("{}\n", self.message),
        )
            .into_response()
    }
}

type Shared = Arc<Netmaster>;

/// Per-server options of the HTTP layer.
#[derive(Clone, Debug, Default)]
pub struct HttpOptions {
    /// The credentials requests must carry (none configured: open).
    pub credentials: Arc<Credentials>,
    /// How followers reach the leader.
    pub forwarder: super::forward::Forwarder,
}

/// Builds the router.
pub fn router(nm: Arc<Netmaster>, opts: HttpOptions) -> Router {
    let api = Router::new()
        .route("/api/v1/watch", get(watch))
        .route("/api/v1/agent/endpoints", post(create_endpoint))
        .route("/api/v1/agent/endpoints/", post(create_endpoint))
        .route(
            "/api/v1/agent/endpoints/{net}/{id}",
            axum::routing::delete(delete_endpoint),
        )
        .route(
            "/api/v1/agent/endpoints/{net}/{id}/",
            axum::routing::delete(delete_endpoint),
        )
        .route("/api/v1/agent/networks/{net}", get(network_info))
        .route("/api/v1/agent/networks/{net}/", get(network_info))
        .route(
            "/api/v1/agent/nodes/{host}",
            post(register_node).delete(deregister_node),
        )
        .route(
            "/api/v1/agent/nodes/{host}/",
            post(register_node).delete(deregister_node),
        )
        .route("/api/v1/inspect/endpoints/{key}", get(inspect_endpoint))
        .route("/api/v1/inspect/endpoints/{key}/", get(inspect_endpoint))
        .route("/api/v1/inspect/{coll}/{key}", get(inspect))
        .route("/api/v1/inspect/{coll}/{key}/", get(inspect))
        .route("/api/v1/{coll}", get(list))
        .route("/api/v1/{coll}/", get(list))
        .route(
            "/api/v1/{coll}/{key}",
            get(get_obj).post(upsert).put(upsert).delete(delete_obj),
        )
        .route(
            "/api/v1/{coll}/{key}/",
            get(get_obj).post(upsert).put(upsert).delete(delete_obj),
        )
        .route("/info", get(info_handler))
        .route("/metrics", get(metrics))
        .route("/api/v1/credentials/nodes/{host}", get(node_credential))
        .route("/api/v1/credentials/nodes/{host}/", get(node_credential))
        .merge(super::reservations::routes())
        .route_layer(middleware::from_fn_with_state(
            opts.credentials.clone(),
            super::auth::middleware,
        ));
    Router::new()
        .merge(api)
        .route("/api/v1/openapi.json", get(openapi))
        .route("/version", get(version))
        .route("/health", get(health))
        .layer(middleware::from_fn_with_state(
            (nm.clone(), opts.forwarder.clone()),
            super::forward::middleware,
        ))
        .layer(middleware::from_fn(json_bodies_only))
        .layer(axum::Extension(opts.credentials))
        .layer(middleware::from_fn_with_state(nm.clone(), log_requests))
        .with_state(nm)
}

/// True if `content_type` is JSON: `application/json` or
/// `application/<something>+json`, any parameters.
fn is_json(content_type: &str) -> bool {
    let media = content_type
        .split(';')
        .next()
        .unwrap_or_default()
        .trim()
        .to_ascii_lowercase();
    media == "application/json" || (media.starts_with("application/") && media.ends_with("+json"))
}

/// Refuses `POST`, `PUT` and `PATCH` requests whose body is not declared
/// JSON (see the module docs): 415.
async fn json_bodies_only(req: Request, next: Next) -> Response {
    let carries_body = matches!(*req.method(), Method::POST | Method::PUT | Method::PATCH);
    if carries_body {
        let ct = req
            .headers()
            .get(header::CONTENT_TYPE)
            .and_then(|v| v.to_str().ok());
        if !ct.is_some_and(is_json) {
            return ApiError::unsupported_media_type(format!(
                "request bodies must be JSON: send Content-Type: application/json (got {})",
                ct.map_or_else(|| "no Content-Type".to_owned(), |c| format!("{c:?}"))
            ))
            .into_response();
        }
    }
    next.run(req).await
}

/// `GET /api/v1/credentials/nodes/<host>/` (admin): the node token of
/// `host` for its agent's `--token`.
async fn node_credential(
    Extension(who): Extension<Identity>,
    Extension(creds): Extension<Arc<Credentials>>,
    Path(host): Path<String>,
) -> Result<Json<Value>, ApiError> {
    if who != Identity::Admin {
        return Err(if who == Identity::Open {
            ApiError::conflict(
                "netmaster runs without credentials (--token): there are no node tokens to issue",
            )
        } else {
            ApiError::forbidden("only the admin token may issue node tokens")
        });
    }
    check_host_name("host", &host)?;
    let token = creds
        .node_token(&host)
        .ok_or_else(|| ApiError::internal("cannot derive a node token"))?;
    Ok(Json(json!({ "host": host, "token": token })))
}

async fn log_requests(State(nm): State<Shared>, req: Request, next: Next) -> Response {
    let method = req.method().clone();
    let path = req.uri().path().to_owned();
    let start = Instant::now();
    let resp = next.run(req).await;
    let status = resp.status();
    let micros = start.elapsed().as_micros() as u64;
    nm.metrics
        .request_micros
        .0
        .fetch_add(micros, Ordering::Relaxed);
    if status.is_success() {
        nm.metrics.requests_ok.inc();
    } else if status.is_client_error() {
        nm.metrics.requests_client_error.inc();
    } else if status.is_server_error() {
        nm.metrics.requests_server_error.inc();
    }
    // The watch stream and agent heartbeats are frequent; keep them at debug.
    if method == Method::GET || path.starts_with("/api/v1/agent/nodes") {
        tracing::debug!(%method, %path, status = status.as_u16(), micros, "request");
    } else {
        info!(%method, %path, status = status.as_u16(), micros, "request");
    }
    resp
}

fn collection(name: &str) -> Result<Collection, ApiError> {
    Collection::from_path(name).ok_or_else(|| Netmaster::unknown_collection(name))
}

/// A JSON body already encoded.
fn json_bytes(body: Bytes) -> Response {
    (
        [(
            header::CONTENT_TYPE,
            HeaderValue::from_static("application/json"),
        )],
        body,
    )
        .into_response()
}

async fn list(State(nm): State<Shared>, Path(coll): Path<String>) -> Result<Response, ApiError> {
    Ok(json_bytes(nm.list(collection(&coll)?)?))
}

async fn get_obj(
    State(nm): State<Shared>,
    Path((coll, key)): Path<(String, String)>,
) -> Result<Response, ApiError> {
    Ok(json_bytes(nm.get(collection(&coll)?, &key)?))
}

async fn upsert(
    State(nm): State<Shared>,
    Path((coll, key)): Path<(String, String)>,
    body: Bytes,
) -> Result<Json<Value>, ApiError> {
    Ok(Json(nm.upsert(collection(&coll)?, &key, &body).await?))
}

async fn delete_obj(
    State(nm): State<Shared>,
    Path((coll, key)): Path<(String, String)>,
) -> Result<Json<Value>, ApiError> {
    nm.delete(collection(&coll)?, &key).await?;
    Ok(Json(json!({})))
}

async fn inspect(
    State(nm): State<Shared>,
    Path((coll, key)): Path<(String, String)>,
) -> Result<Json<Value>, ApiError> {
    Ok(Json(nm.inspect(collection(&coll)?, &key).await?))
}

async fn inspect_endpoint(
    State(nm): State<Shared>,
    Path(key): Path<String>,
) -> Result<Json<Value>, ApiError> {
    Ok(Json(oper::endpoint(&nm, &key)?))
}

fn json_body<T: serde::de::DeserializeOwned>(body: &[u8], what: &str) -> Result<T, ApiError> {
    serde_json::from_slice(body).map_err(|e| ApiError::invalid(format!("invalid {what} body: {e}")))
}

async fn create_endpoint(
    State(nm): State<Shared>,
    Extension(who): Extension<Identity>,
    body: Bytes,
) -> Result<Json<Value>, ApiError> {
    let req: EndpointRequest = json_body(&body, "endpoint")?;
    who.may_act_for(&req.host)?;
    let resp = nm.create_endpoint(req).await?;
    serde_json::to_value(resp)
        .map(Json)
        .map_err(|e| ApiError::internal(e.to_string()))
}

async fn delete_endpoint(
    State(nm): State<Shared>,
    Extension(who): Extension<Identity>,
    Path((net, id)): Path<(String, String)>,
) -> Result<Json<Value>, ApiError> {
    check_endpoint_id("endpoint id", &id)?;
    nm.check_endpoint_owner(&who, &net, &id)?;
    let deleted = nm.delete_endpoint(&net, &id).await?;
    Ok(Json(json!({ "deleted": deleted })))
}

async fn network_info(
    State(nm): State<Shared>,
    Path(net): Path<String>,
) -> Result<Json<Value>, ApiError> {
    serde_json::to_value(nm.network_info(&net)?)
        .map(Json)
        .map_err(|e| ApiError::internal(e.to_string()))
}

async fn register_node(
    State(nm): State<Shared>,
    Extension(who): Extension<Identity>,
    Path(host): Path<String>,
    body: Bytes,
) -> Result<Json<Value>, ApiError> {
    who.may_act_for(&host)?;
    let reg: NodeRegistration = json_body(&body, "node registration")?;
    let lease = nm.register_node(&host, reg).await?;
    serde_json::to_value(lease)
        .map(Json)
        .map_err(|e| ApiError::internal(e.to_string()))
}

async fn deregister_node(
    State(nm): State<Shared>,
    Extension(who): Extension<Identity>,
    Path(host): Path<String>,
) -> Result<Json<Value>, ApiError> {
    who.may_act_for(&host)?;
    check_host_name("host", &host)?;
    nm.deregister_node(&host).await?;
    Ok(Json(json!({})))
}

/// Query of `GET /api/v1/watch`.
#[derive(Debug, Deserialize)]
struct WatchQuery {
    from: Option<u64>,
    /// Nodes as one compact `nodes` line in the snapshot.
    #[serde(default)]
    compact: bool,
}

async fn watch(State(nm): State<Shared>, Query(q): Query<WatchQuery>) -> Response {
    let lines = nm
        .watch_stream(q.from, q.compact)
        .await
        .map(Ok::<_, std::convert::Infallible>);
    let mut resp = Response::new(Body::from_stream(lines));
    resp.headers_mut().insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("application/x-ndjson"),
    );
    resp
}

async fn version() -> Json<Value> {
    Json(json!({
        "Version": env!("CARGO_PKG_VERSION"),
        "GitCommit": option_env!("CONTIV_GIT_COMMIT").unwrap_or("unknown"),
        "BuildTime": option_env!("CONTIV_BUILD_TIME").unwrap_or("unknown"),
    }))
}

async fn health(State(nm): State<Shared>) -> Json<Value> {
    Json(json!({ "status": "ok", "revision": nm.cache.revision() }))
}

/// `GET /info`: the original's fields (`local-ip`, `leader-ip`,
/// `current-state`, `netplugin-nodes`, `netmaster-nodes`; the "ips" are
/// control URLs here) plus the store, its revision and the modes.
async fn info_handler(State(nm): State<Shared>) -> Result<Json<Value>, ApiError> {
    let role = nm.election.role();
    let me = nm.election.me().to_owned();
    let masters = if matches!(nm.store.backend_name(), "etcd" | "consul") {
        super::members::list(nm.store.as_ref(), &nm.keys).await?
    } else {
        vec![me.clone()]
    };
    let v = nm.cache.read();
    let nodes: Vec<&str> = v.nodes.keys().map(|s| s.as_str()).collect();
    Ok(Json(json!({
        "local-ip": me,
        "leader-ip": nm.election.leader_url().unwrap_or_default(),
        "current-state": role.state_name(),
        "writable": nm.writable().is_ok(),
        "netplugin-nodes": nodes,
        "netmaster-nodes": masters,
        "name": nm.settings.name,
        "store": nm.store.backend_name(),
        "revision": v.revision,
        "cluster-mode": nm.settings.cluster_mode,
        "network-mode": nm.settings.net_mode,
    })))
}

async fn metrics(State(nm): State<Shared>) -> Response {
    let m = &nm.metrics;
    let (nets, eps, nodes, rev) = {
        let v = nm.cache.read();
        (
            v.networks.len(),
            v.endpoints.len(),
            v.nodes.len(),
            v.revision,
        )
    };
    let body = format!(
        "# HELP contiv_netmaster_requests_total HTTP requests answered, by status class.\n\
         # TYPE contiv_netmaster_requests_total counter\n\
         contiv_netmaster_requests_total{{class=\"2xx\"}} {}\n\
         contiv_netmaster_requests_total{{class=\"4xx\"}} {}\n\
         contiv_netmaster_requests_total{{class=\"5xx\"}} {}\n\
         # HELP contiv_netmaster_request_seconds_total Time spent answering requests.\n\
         # TYPE contiv_netmaster_request_seconds_total counter\n\
         contiv_netmaster_request_seconds_total {:.6}\n\
         # HELP contiv_netmaster_endpoints_created_total Endpoints created.\n\
         # TYPE contiv_netmaster_endpoints_created_total counter\n\
         contiv_netmaster_endpoints_created_total {}\n\
         # HELP contiv_netmaster_endpoints_deleted_total Endpoints deleted.\n\
         # TYPE contiv_netmaster_endpoints_deleted_total counter\n\
         contiv_netmaster_endpoints_deleted_total {}\n\
         # HELP contiv_netmaster_networks Networks in the model.\n\
         # TYPE contiv_netmaster_networks gauge\n\
         contiv_netmaster_networks {nets}\n\
         # HELP contiv_netmaster_endpoints Endpoints recorded.\n\
         # TYPE contiv_netmaster_endpoints gauge\n\
         contiv_netmaster_endpoints {eps}\n\
         # HELP contiv_netmaster_nodes Registered nodes.\n\
         # TYPE contiv_netmaster_nodes gauge\n\
         contiv_netmaster_nodes {nodes}\n\
         # HELP contiv_netmaster_store_revision Store revision the cache reflects.\n\
         # TYPE contiv_netmaster_store_revision gauge\n\
         contiv_netmaster_store_revision {rev}\n",
        m.requests_ok.get(),
        m.requests_client_error.get(),
        m.requests_server_error.get(),
        m.request_micros.get() as f64 / 1e6,
        m.endpoints_created.get(),
        m.endpoints_deleted.get(),
    );
    ([(header::CONTENT_TYPE, "text/plain; version=0.0.4")], body).into_response()
}

async fn openapi() -> Json<Value> {
    Json(super::openapi::document())
}
