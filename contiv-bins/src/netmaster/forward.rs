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
use axum::body::Body;
use axum::extract::{Request, State};
use axum::http::{HeaderValue, Method, StatusCode, Uri, header};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use hyper_util::client::legacy::Client;
use hyper_util::client::legacy::connect::HttpConnector;
use hyper_util::rt::{TokioExecutor, TokioIo};
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

/// Sends requests to the leader.
#[derive(Clone)]
pub struct Forwarder {
    http: Client<HttpConnector, Body>,
    tls: Option<tokio_rustls::TlsConnector>,
}

impl std::fmt::Debug for Forwarder {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Forwarder")
            .field("https", &self.tls.is_some())
            .finish()
    }
}

impl Default for Forwarder {
    fn default() -> Self {
        Forwarder::http_only()
    }
}

impl Forwarder {
    /// A forwarder for plain HTTP leaders only.
    pub fn http_only() -> Self {
        Forwarder {
            http: Client::builder(TokioExecutor::new()).build(HttpConnector::new()),
            tls: None,
        }
    }

    /// A forwarder that also reaches HTTPS leaders, trusting the
    /// certificates (CAs) in the PEM file `roots`.
    pub fn with_tls_roots(roots: &Path) -> Result<Self, String> {
        use rustls_pki_types::CertificateDer;
        use rustls_pki_types::pem::PemObject;
        let mut store = rustls::RootCertStore::empty();
        let certs: Vec<CertificateDer<'static>> = CertificateDer::pem_file_iter(roots)
            .map_err(|e| format!("cannot read TLS CA file {}: {e}", roots.display()))?
            .collect::<Result<_, _>>()
            .map_err(|e| format!("invalid certificate in {}: {e}", roots.display()))?;
        if certs.is_empty() {
            return Err(format!("no certificate in TLS CA file {}", roots.display()));
        }
        for c in certs {
            store
                .add(c)
                .map_err(|e| format!("unusable CA certificate in {}: {e}", roots.display()))?;
        }
        let provider = Arc::new(rustls::crypto::ring::default_provider());
        let config = rustls::ClientConfig::builder_with_provider(provider)
            .with_safe_default_protocol_versions()
            .map_err(|e| format!("TLS client setup failed: {e}"))?
            .with_root_certificates(store)
            .with_no_client_auth();
        Ok(Forwarder {
            tls: Some(tokio_rustls::TlsConnector::from(Arc::new(config))),
            ..Forwarder::http_only()
        })
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
        let (mut parts, body) = req.into_parts();
        parts.headers.remove(header::HOST);
        let https = target.scheme_str() == Some("https");
        let result = if https {
            self.send_tls(&target, parts, body).await
        } else {
            parts.uri = target;
            let fwd = Request::from_parts(parts, body);
            match tokio::time::timeout(FORWARD_TIMEOUT, self.http.request(fwd)).await {
                Ok(Ok(resp)) => Ok(resp.map(Body::new)),
                Ok(Err(e)) => Err(e.to_string()),
                Err(_) => Err("timed out".to_owned()),
            }
        };
        match result {
            Ok(resp) => resp,
            Err(e) => unavailable(
                StatusCode::SERVICE_UNAVAILABLE,
                format!("cannot reach the leader at {leader}: {e}; retry"),
            ),
        }
    }

    async fn send_tls(
        &self,
        target: &Uri,
        mut parts: axum::http::request::Parts,
        body: Body,
    ) -> Result<Response, String> {
        let Some(tls) = &self.tls else {
            return Err(
                "the leader serves HTTPS; start this netmaster with --tls-cert/--tls-key (and --tls-ca if the leader's certificate is signed by another CA)"
                    .to_owned(),
            );
        };
        let host = target
            .host()
            .ok_or("the leader URL has no host")?
            .to_owned();
        let port = target.port_u16().unwrap_or(443);
        let name = rustls_pki_types::ServerName::try_from(host.trim_matches(['[', ']']).to_owned())
            .map_err(|e| format!("invalid leader host {host}: {e}"))?;
        let fut = async {
            let tcp = tokio::net::TcpStream::connect((host.trim_matches(['[', ']']), port))
                .await
                .map_err(|e| e.to_string())?;
            let stream = tls.connect(name, tcp).await.map_err(|e| e.to_string())?;
            let (mut sender, conn) = hyper::client::conn::http1::handshake(TokioIo::new(stream))
                .await
                .map_err(|e| e.to_string())?;
            tokio::spawn(async move {
                if let Err(e) = conn.await {
                    warn!(error = %e, "forwarding connection failed");
                }
            });
            let authority = target
                .authority()
                .map(|a| a.as_str().to_owned())
                .unwrap_or_default();
            if let Ok(v) = HeaderValue::from_str(&authority) {
                parts.headers.insert(header::HOST, v);
            }
            parts.uri = target
                .path_and_query()
                .map(|p| p.as_str())
                .unwrap_or("/")
                .parse()
                .map_err(|e: axum::http::uri::InvalidUri| e.to_string())?;
            let resp = sender
                .send_request(Request::from_parts(parts, body))
                .await
                .map_err(|e| e.to_string())?;
            Ok::<_, String>(resp.map(Body::new))
        };
        match tokio::time::timeout(FORWARD_TIMEOUT, fut).await {
            Ok(r) => r,
            Err(_) => Err("timed out".to_owned()),
        }
    }
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
