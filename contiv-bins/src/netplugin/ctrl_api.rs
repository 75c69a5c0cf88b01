//! The agent's control API over TCP (`--ctrl-listen`): what netmaster
//! reads from the agent live, as the original's netplugin port 9090 did.
//! Read-only; when the agent has a credential (`--token`) a request must
//! present `Authorization: Bearer …` with the agent's node token, which
//! netmaster derives for the host. An agent given its node token accepts
//! exactly that token; an agent given the admin token accepts it and the
//! node token derived from it (netmaster's default `--node-token-key`).
//! The address is announced in the node record (`ctrl_addr`).
//!
//! | call | answers |
//! |---|---|
//! | `GET /inspect/bgp` | the BGP speaker's state ([`contiv_core::model::BgpOper`]), or 404 without a speaker |
//! | `GET /status` | the agent's status (as on the CNI socket) |

use super::core::Core;
use crate::auth::{Credentials, NODE_TOKEN_PREFIX, constant_time_eq};
use axum::extract::State;
use axum::http::{HeaderMap, StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use axum::{Json, Router};
use std::net::SocketAddr;
use std::sync::Arc;
use tokio::task::JoinHandle;

/// The path netmaster reads a host's BGP state from.
pub const INSPECT_BGP: &str = "/inspect/bgp";

#[derive(Clone)]
struct Ctx {
    core: Arc<Core>,
    /// The bearer tokens accepted; empty: the API is open.
    accepted: Arc<Vec<String>>,
}

/// The tokens the control API accepts for an agent of `host` holding
/// `token`: the token itself and, if it is not a node token (so it is the
/// admin token), the node token netmaster derives from it for `host`.
fn accepted_tokens(token: Option<&str>, host: &str) -> Vec<String> {
    let Some(t) = token.filter(|t| !t.is_empty()) else {
        return Vec::new();
    };
    let mut accepted = vec![t.to_owned()];
    if !t.starts_with(NODE_TOKEN_PREFIX)
        && let Some(node) = Credentials::new(Some(t.to_owned()), None).node_token(host)
    {
        accepted.push(node);
    }
    accepted
}

fn authorized(ctx: &Ctx, headers: &HeaderMap) -> bool {
    if ctx.accepted.is_empty() {
        return true;
    }
    headers
        .get(header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.strip_prefix("Bearer "))
        .is_some_and(|v| {
            ctx.accepted
                .iter()
                .any(|t| constant_time_eq(v.as_bytes(), t.as_bytes()))
        })
}

fn unauthorized() -> Response {
    (
        StatusCode::UNAUTHORIZED,
        "missing or wrong bearer token (the agent was started with --token)",
    )
        .into_response()
}

async fn inspect_bgp(State(ctx): State<Ctx>, headers: HeaderMap) -> Response {
    if !authorized(&ctx, &headers) {
        return unauthorized();
    }
    match ctx.core.reconciler().bgp() {
        Some(b) => Json(b.oper().await).into_response(),
        None => (
            StatusCode::NOT_FOUND,
            "this agent runs no BGP speaker".to_owned(),
        )
            .into_response(),
    }
}

async fn status(State(ctx): State<Ctx>, headers: HeaderMap) -> Response {
    if !authorized(&ctx, &headers) {
        return unauthorized();
    }
    Json(super::local_api::agent_status(&ctx.core)).into_response()
}

/// Serves the control API on `addr`; returns the bound address and the
/// server task (aborted when the agent stops).
pub async fn serve(
    addr: SocketAddr,
    core: Arc<Core>,
    token: Option<String>,
) -> Result<(SocketAddr, JoinHandle<()>), String> {
    let listener = tokio::net::TcpListener::bind(addr)
        .await
        .map_err(|e| format!("cannot listen on {addr} for the control API (--ctrl-listen): {e}"))?;
    let bound = listener
        .local_addr()
        .map_err(|e| format!("cannot read the control API's address: {e}"))?;
    let app = Router::new()
        .route(INSPECT_BGP, get(inspect_bgp))
        .route("/status", get(status))
        .with_state(Ctx {
            accepted: Arc::new(accepted_tokens(token.as_deref(), &core.identity().host)),
            core,
        });
    let task = tokio::spawn(async move {
        if let Err(e) = axum::serve(listener, app).await {
            tracing::error!(error = %e, "control API server failed");
        }
    });
    Ok((bound, task))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_agent_with_its_node_token_accepts_only_that_token() {
        let node = Credentials::new(Some("admin".into()), None)
            .node_token("h1")
            .unwrap();
        assert_eq!(accepted_tokens(Some(&node), "h1"), vec![node]);
    }

    #[test]
    fn an_agent_with_the_admin_token_accepts_the_node_token_netmaster_derives() {
        let derived = Credentials::new(Some("admin".into()), None)
            .node_token("h1")
            .unwrap();
        let other = Credentials::new(Some("admin".into()), None)
            .node_token("h2")
            .unwrap();
        let acc = accepted_tokens(Some("admin"), "h1");
        assert!(acc.contains(&"admin".to_owned()) && acc.contains(&derived));
        assert!(!acc.contains(&other));
    }

    #[test]
    fn no_token_leaves_the_api_open() {
        assert!(accepted_tokens(None, "h1").is_empty());
        assert!(accepted_tokens(Some(""), "h1").is_empty());
    }
}
