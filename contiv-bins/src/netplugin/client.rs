//! The agent's client of netmaster: JSON over HTTP/1.1 or HTTPS (rustls,
//! verified against `--netmaster-ca`) to a list of netmaster URLs with
//! failover, and the watch stream. The agent authenticates with
//! `--token`: its node token (or the admin token).
//!
//! Requests go to the netmaster that answered last; on a connection
//! failure, a timeout or a 503 (no leader yet, not serving) the next URL is
//! tried, once around the list. Any netmaster will do: followers forward
//! writes to the leader. Error statuses map to [`AgentErrorKind`]s with
//! netmaster's message kept.

use super::error::{AgentError, AgentErrorKind, AgentResult};
use crate::api::{
    DemoteRequest, EndpointRequest, EndpointResponse, NodeLease, NodeRegistration, ReleaseResponse,
    Reservation, ReservationRequest, SweepRequest,
};
use crate::tls::HttpsConnector;
use axum::http::{Method, Request, StatusCode, header};
use bytes::Bytes;
use http_body_util::{BodyExt, Full};
use hyper::body::Incoming;
use hyper_util::client::legacy::Client;
use hyper_util::rt::TokioExecutor;
use serde::Serialize;
use serde::de::DeserializeOwned;
use std::net::Ipv4Addr;
use std::path::Path;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

/// Timeout of one request (netmaster may wait up to 10 s for its cache).
const REQUEST_TIMEOUT: Duration = Duration::from_secs(15);

/// Normalises a netmaster URL: `host:port` gets `http://`, trailing
/// slashes go; `https://` is kept.
pub fn normalize_url(u: &str) -> Result<String, String> {
    let u = u.trim().trim_end_matches('/');
    if u.is_empty() {
        return Err("empty netmaster URL".into());
    }
    let full = if u.starts_with("http://") || u.starts_with("https://") {
        u.to_owned()
    } else if u.contains("://") {
        return Err(format!("netmaster URL {u}: use http:// or https://"));
    } else {
        format!("http://{u}")
    };
    full.parse::<axum::http::Uri>()
        .map_err(|e| format!("invalid netmaster URL {u}: {e}"))?;
    Ok(full)
}

/// The netmaster client (cheap to share behind an `Arc`).
pub struct NetmasterClient {
    urls: Vec<String>,
    current: AtomicUsize,
    token: Option<String>,
    http: Client<HttpsConnector, Full<Bytes>>,
    /// For the watch stream: a new connection each time (netmaster serves
    /// a connection whose first request is the watch on its lower-priority
    /// watch threads; a pooled connection would keep it with the requests).
    watch_http: Client<HttpsConnector, Full<Bytes>>,
}

impl std::fmt::Debug for NetmasterClient {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("NetmasterClient")
            .field("urls", &self.urls)
            .finish()
    }
}

fn status_kind(s: StatusCode) -> AgentErrorKind {
    match s.as_u16() {
        400 | 401 | 403 | 405 | 422 => AgentErrorKind::Invalid,
        404 => AgentErrorKind::NotFound,
        409 => AgentErrorKind::Conflict,
        502..=504 => AgentErrorKind::Unavailable,
        _ => AgentErrorKind::Internal,
    }
}

impl NetmasterClient {
    /// A client of `urls` (see [`normalize_url`]) over plain HTTP.
    pub fn new(urls: &[String], token: Option<String>) -> Result<Self, String> {
        Self::with_tls(urls, token, None)
    }

    /// A client of `urls` that also speaks HTTPS, trusting the CA
    /// certificates of the PEM file `ca` (required for `https://` URLs).
    pub fn with_tls(
        urls: &[String],
        token: Option<String>,
        ca: Option<&Path>,
    ) -> Result<Self, String> {
        let urls = urls
            .iter()
            .map(|u| normalize_url(u))
            .collect::<Result<Vec<_>, _>>()?;
        if urls.is_empty() {
            return Err("no netmaster URL given (--netmaster)".into());
        }
        let tls = match ca {
            Some(ca) => Some(crate::tls::client_config(ca)?),
            None => None,
        };
        if tls.is_none()
            && let Some(u) = urls.iter().find(|u| u.starts_with("https://"))
        {
            return Err(format!(
                "netmaster URL {u} is HTTPS: give the CA certificate that signed netmaster's certificate with --netmaster-ca"
            ));
        }
        if token.is_some()
            && let Some(u) = urls
                .iter()
                .find(|u| u.starts_with("http://") && !is_loopback_url(u))
        {
            tracing::warn!(
                url = %u,
                "the agent's token travels in clear text to {u}; use https:// with --netmaster-ca"
            );
        }
        // Idle connections are closed before netmaster's header timeout
        // (10 s by default) would close them under a request.
        let http = Client::builder(TokioExecutor::new())
            .pool_idle_timeout(Duration::from_secs(5))
            .build(HttpsConnector::new(tls.clone(), Duration::from_secs(3)));
        let watch_http = Client::builder(TokioExecutor::new())
            .pool_max_idle_per_host(0)
            .build(HttpsConnector::new(tls, Duration::from_secs(3)));
        Ok(NetmasterClient {
            urls,
            current: AtomicUsize::new(0),
            token,
            http,
            watch_http,
        })
    }

    /// The configured URLs.
    pub fn urls(&self) -> &[String] {
        &self.urls
    }

    /// The URL requests go to now.
    pub fn current_url(&self) -> &str {
        &self.urls[self.current.load(Ordering::Relaxed) % self.urls.len()]
    }

    fn build(
        &self,
        base: &str,
        method: &Method,
        path: &str,
        body: &Option<Bytes>,
    ) -> AgentResult<Request<Full<Bytes>>> {
        let mut b = Request::builder()
            .method(method.clone())
            .uri(format!("{base}{path}"))
            .header(header::ACCEPT, "application/json");
        if let Some(t) = &self.token {
            b = b.header(header::AUTHORIZATION, format!("Bearer {t}"));
        }
        let body = match body {
            Some(bytes) => {
                b = b.header(header::CONTENT_TYPE, "application/json");
                Full::new(bytes.clone())
            }
            None => Full::new(Bytes::new()),
        };
        b.body(body)
            .map_err(|e| AgentError::internal(format!("cannot build a request for {path}: {e}")))
    }

    /// Sends a request, failing over between netmasters; returns the
    /// response of the first that answered with something other than a
    /// 503. With `whole_timeout`, the body must arrive in time too.
    async fn send(
        &self,
        method: Method,
        path: &str,
        body: Option<Bytes>,
    ) -> AgentResult<(StatusCode, Incoming)> {
        self.send_on(&self.http, method, path, body).await
    }

    /// [`send`](Self::send) on the client `http`.
    async fn send_on(
        &self,
        http: &Client<HttpsConnector, Full<Bytes>>,
        method: Method,
        path: &str,
        body: Option<Bytes>,
    ) -> AgentResult<(StatusCode, Incoming)> {
        let n = self.urls.len();
        let start = self.current.load(Ordering::Relaxed);
        let mut errors = Vec::new();
        for i in 0..n {
            let idx = (start + i) % n;
            let base = &self.urls[idx];
            let req = self.build(base, &method, path, &body)?;
            match tokio::time::timeout(REQUEST_TIMEOUT, http.request(req)).await {
                Err(_) => errors.push(format!(
                    "{base}: no answer within {}s",
                    REQUEST_TIMEOUT.as_secs()
                )),
                Ok(Err(e)) => errors.push(format!("{base}: {}", connect_error(&e))),
                Ok(Ok(resp)) if resp.status() == StatusCode::SERVICE_UNAVAILABLE => {
                    let msg = read_text(resp.into_body()).await;
                    errors.push(format!("{base}: {}", msg.trim()));
                }
                Ok(Ok(resp)) => {
                    self.current.store(idx, Ordering::Relaxed);
                    return Ok((resp.status(), resp.into_body()));
                }
            }
        }
        Err(AgentError::unavailable(format!(
            "netmaster is unavailable ({}); retry later",
            errors.join("; ")
        )))
    }

    /// A JSON request: `body` serialised, the answer decoded as `T`.
    pub async fn json<B: Serialize, T: DeserializeOwned>(
        &self,
        method: Method,
        path: &str,
        body: Option<&B>,
    ) -> AgentResult<T> {
        let bytes = match body {
            Some(b) => Some(Bytes::from(serde_json::to_vec(b).map_err(|e| {
                AgentError::internal(format!("cannot encode the request to {path}: {e}"))
            })?)),
            None => None,
        };
        let (status, body) = self.send(method, path, bytes).await?;
        let bytes = tokio::time::timeout(REQUEST_TIMEOUT, body.collect())
            .await
            .map_err(|_| {
                AgentError::unavailable(format!(
                    "netmaster's answer to {path} did not complete in time"
                ))
            })?
            .map_err(|e| {
                AgentError::unavailable(format!("netmaster's answer to {path} broke off: {e}"))
            })?
            .to_bytes();
        if !status.is_success() {
            let text = String::from_utf8_lossy(&bytes).trim().to_owned();
            return Err(AgentError::new(
                status_kind(status),
                format!(
                    "netmaster: {}",
                    if text.is_empty() {
                        status.to_string()
                    } else {
                        text
                    }
                ),
            ));
        }
        serde_json::from_slice(&bytes).map_err(|e| {
            AgentError::internal(format!("cannot decode netmaster's answer to {path}: {e}"))
        })
    }

    /// Opens the watch stream (`from` = first revision wanted, or a
    /// snapshot). The body streams NDJSON lines.
    pub async fn watch(&self, from: Option<u64>) -> AgentResult<Incoming> {
        // Snapshots with the nodes in their compact form (one line).
        let path = match from {
            Some(r) => format!("/api/v1/watch?from={r}&compact=true"),
            None => "/api/v1/watch?compact=true".to_owned(),
        };
        let (status, body) = self
            .send_on(&self.watch_http, Method::GET, &path, None)
            .await?;
        if !status.is_success() {
            let text = read_text(body).await;
            return Err(AgentError::new(
                status_kind(status),
                format!("netmaster refused the watch: {}", text.trim()),
            ));
        }
        Ok(body)
    }

    /// Registers (or refreshes) this node.
    pub async fn register_node(
        &self,
        host: &str,
        reg: &NodeRegistration,
    ) -> AgentResult<NodeLease> {
        self.json(
            Method::POST,
            &format!("/api/v1/agent/nodes/{host}/"),
            Some(reg),
        )
        .await
    }

    /// Creates an endpoint (idempotent at netmaster).
    pub async fn create_endpoint(&self, req: &EndpointRequest) -> AgentResult<EndpointResponse> {
        self.json(Method::POST, "/api/v1/agent/endpoints/", Some(req))
            .await
    }

    /// Deletes an endpoint (idempotent); true if it existed.
    pub async fn delete_endpoint(&self, network_key: &str, id: &str) -> AgentResult<bool> {
        let v: serde_json::Value = self
            .json::<(), _>(
                Method::DELETE,
                &format!("/api/v1/agent/endpoints/{network_key}/{id}/"),
                None,
            )
            .await?;
        Ok(v.get("deleted").and_then(|d| d.as_bool()).unwrap_or(false))
    }

    /// Reserves an address (Docker IPAM).
    pub async fn reserve(&self, req: &ReservationRequest) -> AgentResult<Reservation> {
        self.json(Method::POST, "/api/v1/agent/reservations/", Some(req))
            .await
    }

    /// Creates an endpoint that adopts the reservation of its address.
    pub async fn adopt(&self, req: &EndpointRequest) -> AgentResult<EndpointResponse> {
        self.json(Method::POST, "/api/v1/agent/reservations/adopt/", Some(req))
            .await
    }

    /// Turns an endpoint back into a reservation of its address.
    pub async fn demote(&self, req: &DemoteRequest) -> AgentResult<ReleaseResponse> {
        self.json(
            Method::POST,
            "/api/v1/agent/reservations/demote/",
            Some(req),
        )
        .await
    }

    /// Releases whatever holds `ip` on `network_key` for `host`.
    pub async fn release(
        &self,
        network_key: &str,
        ip: Ipv4Addr,
        host: &str,
    ) -> AgentResult<ReleaseResponse> {
        self.json::<(), _>(
            Method::DELETE,
            &format!("/api/v1/agent/reservations/{network_key}/{ip}/?host={host}"),
            None,
        )
        .await
    }

    /// Releases the reservations of `host` not made by `keep_owner`.
    pub async fn sweep(&self, req: &SweepRequest) -> AgentResult<ReleaseResponse> {
        self.json(Method::POST, "/api/v1/agent/reservations/sweep/", Some(req))
            .await
    }
}

/// True if the URL's host is `localhost` or a loopback address.
fn is_loopback_url(u: &str) -> bool {
    let Ok(uri) = u.parse::<axum::http::Uri>() else {
        return false;
    };
    let host = uri.host().unwrap_or_default().trim_matches(['[', ']']);
    host.eq_ignore_ascii_case("localhost")
        || host
            .parse::<std::net::IpAddr>()
            .is_ok_and(|ip| ip.is_loopback())
}

fn connect_error(e: &hyper_util::client::legacy::Error) -> String {
    let mut msg = e.to_string();
    let mut src = std::error::Error::source(e);
    while let Some(s) = src {
        msg = format!("{msg}: {s}");
        src = s.source();
    }
    msg
}

async fn read_text(body: Incoming) -> String {
    match tokio::time::timeout(Duration::from_secs(5), body.collect()).await {
        Ok(Ok(b)) => String::from_utf8_lossy(&b.to_bytes()).into_owned(),
        _ => String::new(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn urls_are_normalised_and_https_needs_a_ca() {
        assert_eq!(
            normalize_url("127.0.0.1:9999").unwrap(),
            "http://127.0.0.1:9999"
        );
        assert_eq!(normalize_url("http://h:1/").unwrap(), "http://h:1");
        assert_eq!(normalize_url("https://h:1/").unwrap(), "https://h:1");
        assert!(normalize_url("ftp://h:1").is_err());
        assert!(normalize_url("").is_err());
        assert!(NetmasterClient::new(&[], None).is_err());
        let e = NetmasterClient::new(&["https://h:1".into()], None).unwrap_err();
        assert!(e.contains("--netmaster-ca"), "{e}");
        assert!(is_loopback_url("http://127.0.0.1:9"));
        assert!(!is_loopback_url("http://10.0.0.1:9"));
    }
}
