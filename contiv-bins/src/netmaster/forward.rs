//! Followers answer reads themselves (their cache follows the store) and
//! forward writes — model changes and agent requests — to the leader's
//! control URL, over HTTP or HTTPS.
//!
//! Read-your-writes through a follower: the leader stamps the answer to a
//! write with `X-Contiv-Revision` (its cache's revision once the write is
//! visible there); the follower waits until its own cache has reached that
//! revision before it passes the answer on, so a client that wrote through
//! a follower reads its write back from the same follower.

use super::Netmaster;
use super::leader::Role;
use crate::tls::HttpsConnector;
use axum::body::Body;
use axum::extract::{Request, State};
use axum::http::{HeaderValue, Method, StatusCode, Uri, header};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use hyper_util::client::legacy::Client;
use hyper_util::rt::TokioExecutor;
use std::path::Path;
use std::sync::Arc;
use std::time::Duration;
use tracing::warn;

/// Header carrying the leader's cache revision after a write.
pub const REVISION_HEADER: &str = "x-contiv-revision";

/// How long a forwarded request may take.
const FORWARD_TIMEOUT: Duration = Duration::from_secs(30);

/// How long a follower waits for its cache to reach a forwarded write.
const CATCH_UP: Duration = Duration::from_secs(5);

/// How long connecting to the leader may take.
const CONNECT_TIMEOUT: Duration = Duration::from_secs(3);

/// Idle pooled connections are closed before the leader's header timeout
/// would close them under a request.
const POOL_IDLE: Duration = Duration::from_secs(5);

/// Sends requests to the leader (HTTP, or HTTPS verified against the
/// configured CA certificates), over pooled connections.
#[derive(Clone)]
pub struct Forwarder {
    client: Client<HttpsConnector, Body>,
    https: bool,
}

impl std::fmt::Debug for Forwarder {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Forwarder")
            .field("https", &self.https)
            .finish()
    }
}

impl Default for Forwarder {
    fn default() -> Self {
        Forwarder::http_only()
    }
}

impl Forwarder {
    fn with(tls: Option<Arc<rustls::ClientConfig>>) -> Self {
        let https = tls.is_some();
        let client = Client::builder(TokioExecutor::new())
            .pool_idle_timeout(POOL_IDLE)
            .build(HttpsConnector::new(tls, CONNECT_TIMEOUT));
        Forwarder { client, https }
    }

    /// A forwarder for plain HTTP leaders only.
    pub fn http_only() -> Self {
        Forwarder::with(None)
    }

    /// A forwarder that also reaches HTTPS leaders, trusting the
    /// certificates (CAs) in the PEM file `roots`.
    pub fn with_tls_roots(roots: &Path) -> Result<Self, String> {
        Ok(Forwarder::with(Some(crate::tls::client_config(roots)?)))
    }

    /// Sends `req` to the leader at `leader` (its control URL).
    async fn send(&self, leader: &str, req: Request) -> Response {
        let path = req
            .uri()
            .path_and_query()
            .map(|p| p.as_str().to_owned())
            .unwrap_or_else(|| "/".into());
        let target: Uri = match format!("{}{}", leader.trim_end_matches('/'), path).parse() {
            Ok(u) => u,
            Err(e) => {
                return unavailable(
                    StatusCode::BAD_GATEWAY,
                    format!("bad leader URL {leader}: {e}"),
                );
            }
        };
        if target.scheme_str() == Some("https") && !self.https {
            return unavailable(
                StatusCode::SERVICE_UNAVAILABLE,
                format!(
                    "cannot reach the leader at {leader}: it serves HTTPS; start this netmaster with --tls-cert/--tls-key (and --tls-ca if the leader's certificate is signed by another CA)"
                ),
            );
        }
        let (mut parts, body) = req.into_parts();
        parts.headers.remove(header::HOST);
        if let Some(a) = target.authority()
            && let Ok(v) = HeaderValue::from_str(a.as_str())
        {
            parts.headers.insert(header::HOST, v);
        }
        parts.uri = target;
        let fwd = Request::from_parts(parts, body);
        match tokio::time::timeout(FORWARD_TIMEOUT, self.client.request(fwd)).await {
            Ok(Ok(resp)) => resp.map(Body::new),
            Ok(Err(e)) => unavailable(
                StatusCode::SERVICE_UNAVAILABLE,
                format!("cannot reach the leader at {leader}: {}; retry", chain(&e)),
            ),
            Err(_) => unavailable(
                StatusCode::SERVICE_UNAVAILABLE,
                format!("cannot reach the leader at {leader}: timed out; retry"),
            ),
        }
    }
}

/// An error with its sources, for a message.
fn chain(e: &dyn std::error::Error) -> String {
    let mut msg = e.to_string();
    let mut src = e.source();
    while let Some(s) = src {
        msg = format!("{msg}: {s}");
        src = s.source();
    }
    msg
}

fn unavailable(status: StatusCode, msg: String) -> Response {
    (
        status,
        [(header::CONTENT_TYPE, "text/plain; charset=utf-8")],
        format!("{msg}\n"),
    )
        .into_response()
}

fn is_write(m: &Method) -> bool {
    m != Method::GET && m != Method::HEAD && m != Method::OPTIONS
}

/// The middleware: leaders handle everything and stamp writes with their
/// revision; followers forward writes to the leader and wait for their own
/// cache to catch up with the answer.
pub async fn middleware(
    State((nm, fwd)): State<(Arc<Netmaster>, Forwarder)>,
    req: Request,
    next: Next,
) -> Response {
    if !is_write(req.method()) {
        return next.run(req).await;
    }
    match nm.election.role() {
        Role::Leader { .. } => {
            let mut resp = next.run(req).await;
            if let Ok(v) = HeaderValue::from_str(&nm.cache.revision().to_string()) {
                resp.headers_mut().insert(REVISION_HEADER, v);
            }
            resp
        }
        Role::Follower { leader: Some(url) } if url != nm.election.me() => {
            let resp = fwd.send(&url, req).await;
            let rev = resp
                .headers()
                .get(REVISION_HEADER)
                .and_then(|v| v.to_str().ok())
                .and_then(|v| v.parse::<u64>().ok());
            if let Some(rev) = rev
                && !nm.cache.wait_for(rev, CATCH_UP).await
            {
                warn!(
                    revision = rev,
                    "cache did not reach a forwarded write in time"
                );
            }
            resp
        }
        _ => unavailable(
            StatusCode::SERVICE_UNAVAILABLE,
            "no netmaster leader is elected right now; retry".to_owned(),
        ),
    }
}
