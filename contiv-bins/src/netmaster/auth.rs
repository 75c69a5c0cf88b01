//! Credentials: who may call what.
//!
//! | credential | how it is made | what it may do |
//! |---|---|---|
//! | none configured (no `--token`) | — | everything (development on 127.0.0.1; a warning is logged when netmaster listens elsewhere) |
//! | **admin token** (`--token`) | chosen by the operator | everything: the intent API (`/api/v1/<collection>/…`, inspect, `/info`), the agent API for any host, `/metrics`, issuing node tokens |
//! | **node token** | issued by netmaster for one host: `GET /api/v1/credentials/nodes/<host>/` (admin) or `netmaster --print-node-token <host>` | only that host's agent calls: register/refresh/deregister `<host>`, create endpoints whose `host` is `<host>`, delete and demote endpoints recorded on `<host>`, reserve/adopt/release/sweep addresses for `<host>`, read agent network info, and the watch stream |
//!
//! `/version`, `/health` and `/api/v1/openapi.json` need no credential.
//!
//! A node token is `cn1:<host>:<hex HMAC-SHA256(key, "contiv-node-token/v1\0" ‖ host)>`,
//! keyed by `--node-token-key` (default: the admin token). Netmaster keeps
//! no list of tokens: any netmaster configured with the same key verifies
//! them, and changing the key revokes every node token at once. A holder
//! of a node token cannot act for another host: the host is inside the
//! token and the MAC binds it.
//!
//! Missing or wrong credentials are answered 401; a valid credential used
//! outside what it may do, 403. The tokens themselves (and who presents
//! them) are [`crate::auth`], which netplugin's control API shares; this
//! module is netmaster's middleware.

use super::ApiError;
use axum::extract::{Request, State};
use axum::http::header;
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use std::sync::Arc;

pub use crate::auth::{Credentials, ForeignHost, Identity, NODE_TOKEN_PREFIX, constant_time_eq};

/// True for the paths a node credential may use at all (its host is
/// checked by each handler).
fn node_path(method: &axum::http::Method, path: &str) -> bool {
    if path == "/api/v1/watch" || path == "/api/v1/watch/" {
        return true;
    }
    let Some(rest) = path.strip_prefix("/api/v1/agent/") else {
        return false;
    };
    // Listing every host's reservations is the admin's.
    let listing =
        method == axum::http::Method::GET && (rest == "reservations" || rest == "reservations/");
    !listing
}

/// The middleware: identifies the caller (401 without a valid credential),
/// keeps node credentials to the agent API (403), and hands the
/// [`Identity`] to the handlers as a request extension.
pub async fn middleware(
    State(creds): State<Arc<Credentials>>,
    mut req: Request,
    next: Next,
) -> Response {
    let token = req
        .headers()
        .get(header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.strip_prefix("Bearer "))
        .map(str::trim);
    let Some(who) = creds.identify(token) else {
        let mut resp = ApiError::unauthorized(if token.is_some() {
            "invalid bearer token"
        } else {
            "missing bearer token: send Authorization: Bearer <token> (the admin token, or this node's token for the agent API)"
        })
        .into_response();
        resp.headers_mut().insert(
            header::WWW_AUTHENTICATE,
            axum::http::HeaderValue::from_static("Bearer"),
        );
        return resp;
    };
    if let Identity::Node(host) = &who
        && !node_path(req.method(), req.uri().path())
    {
        return ApiError::forbidden(format!(
            "the node credential of {host} is for the agent API and the watch only; use the admin token"
        ))
        .into_response();
    }
    req.extensions_mut().insert(who);
    next.run(req).await
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn nodes_reach_only_the_agent_api() {
        use axum::http::Method;
        assert!(node_path(&Method::POST, "/api/v1/agent/endpoints/"));
        assert!(node_path(&Method::GET, "/api/v1/watch"));
        assert!(!node_path(&Method::GET, "/api/v1/agent/reservations/"));
        assert!(!node_path(&Method::GET, "/api/v1/tenants/"));
        assert!(!node_path(&Method::GET, "/metrics"));
        assert!(!node_path(&Method::GET, "/api/v1/credentials/nodes/n1/"));
    }
}
