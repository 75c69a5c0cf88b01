//! The agent's control API over TCP (`--ctrl-listen`): what netmaster
//! reads from the agent live, as the original's netplugin port 9090 did.
//! Read-only; it requires the cluster's bearer token when the agent has
//! one (`--token`). The address is announced in the node record
//! (`ctrl_addr`).
//!
//! | call | answers |
//! |---|---|
//! | `GET /inspect/bgp` | the BGP speaker's state ([`contiv_core::model::BgpOper`]), or 404 without a speaker |
//! | `GET /status` | the agent's status (as on the CNI socket) |

use super::core::Core;
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
    token: Option<String>,
}

fn authorized(ctx: &Ctx, headers: &HeaderMap) -> bool {
    let Some(t) = &ctx.token else {
        return true;
    };
    headers
        .get(header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.strip_prefix("Bearer "))
        .is_some_and(|v| v == t)
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
        .with_state(Ctx { core, token });
    let task = tokio::spawn(async move {
        if let Err(e) = axum::serve(listener, app).await {
            tracing::error!(error = %e, "control API server failed");
        }
    });
    Ok((bound, task))
}
