//! A small typed Consul HTTP client: KV reads, `/v1/txn`, sessions and
//! blocking queries, over HTTP/1.1 or HTTPS (rustls), with an ACL token and
//! failover across several agent addresses.
//!
//! Connections are kept alive and reused per agent. A request goes to the
//! agent that answered last; when that agent cannot be reached the next one
//! is tried. A request that may have reached an agent is sent again only if
//! it is idempotent (reads, blocking queries, renewals); for a write the
//! caller gets [`ClientError::Ambiguous`] and decides.

use super::api::{
    INDEX_HEADER, SessionCreate, SessionEntry, SessionId, TOKEN_HEADER, TxnOp, TxnReply,
};
use bytes::Bytes;
use http_body_util::{BodyExt, Full};
use hyper::client::conn::http1::SendRequest;
use hyper::{Method, Request, StatusCode};
use hyper_util::rt::TokioIo;
use std::path::PathBuf;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex, PoisonError};
use std::time::Duration;

/// Where and how to reach Consul.
#[derive(Clone, Debug)]
pub struct ClientConfig {
    /// Agent addresses, `host:port`, tried in order on failure.
    pub addresses: Vec<String>,
    /// Speak HTTPS (then [`Self::ca_file`] is required).
    pub tls: bool,
    /// PEM file of the CAs that sign the agents' certificates.
    pub ca_file: Option<PathBuf>,
    /// PEM client certificate and key, for agents that verify clients.
    pub client_cert: Option<(PathBuf, PathBuf)>,
    /// ACL token sent as `X-Consul-Token`.
    pub token: Option<String>,
    /// How long connecting to one agent may take.
    pub connect_timeout: Duration,
    /// How long a (non-blocking) request may take.
    pub request_timeout: Duration,
}

/// How a request failed.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ClientError {
    /// No agent could be reached; nothing was delivered.
    #[error("no Consul agent reachable ({0})")]
    Unreachable(String),
    /// A write may or may not have been applied (the connection failed
    /// after it was sent).
    #[error("Consul request outcome unknown: {0}")]
    Ambiguous(String),
    /// The agent answered with an error status.
    #[error("Consul answered {status}: {body}")]
    Status {
        /// The HTTP status.
        status: u16,
        /// The body (Consul's message).
        body: String,
    },
    /// The reply could not be decoded.
    #[error("unexpected Consul reply: {0}")]
    Decode(String),
    /// Bad configuration (TLS files, addresses).
    #[error("Consul client configuration: {0}")]
    Config(String),
}

/// A reply: status, `X-Consul-Index` and body.
#[derive(Debug, Clone)]
pub struct Reply {
    /// HTTP status.
    pub status: u16,
    /// The index the reply reflects, if the agent sent one.
    pub index: Option<u64>,
    /// The body.
    pub body: Bytes,
}

impl Reply {
    fn json<T: serde::de::DeserializeOwned>(&self) -> Result<T, ClientError> {
        serde_json::from_slice(&self.body).map_err(|e| {
            ClientError::Decode(format!("{e} in {}", String::from_utf8_lossy(&self.body)))
        })
    }

    fn ok(self) -> Result<Reply, ClientError> {
        if (200..300).contains(&self.status) {
            Ok(self)
        } else {
            Err(self.into_status_error())
        }
    }

    fn into_status_error(self) -> ClientError {
        ClientError::Status {
            status: self.status,
            body: String::from_utf8_lossy(&self.body).trim().to_owned(),
        }
    }
}

/// The outcome of a `/v1/txn` request that reached Consul.
#[derive(Debug, Clone)]
pub enum TxnOutcome {
    /// 200: applied (or read); one result per op that produces one.
    Applied(TxnReply),
    /// 409: rolled back; the reply's `Errors` say why.
    RolledBack(TxnReply),
}

type Sender = SendRequest<Full<Bytes>>;

struct Agent {
    host: String,
    port: u16,
    authority: String,
    idle: Mutex<Vec<Sender>>,
}

/// A Consul HTTP client. Cheap to clone.
#[derive(Clone)]
pub struct Client {
    inner: Arc<Inner>,
}

struct Inner {
    agents: Vec<Agent>,
    current: AtomicUsize,
    tls: Option<tokio_rustls::TlsConnector>,
    token: Option<String>,
    connect_timeout: Duration,
    request_timeout: Duration,
}

impl std::fmt::Debug for Client {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("consul::Client")
            .field(
                "agents",
                &self
                    .inner
                    .agents
                    .iter()
                    .map(|a| a.authority.as_str())
                    .collect::<Vec<_>>(),
            )
            .field("tls", &self.inner.tls.is_some())
            .field("token", &self.inner.token.as_ref().map(|_| "<set>"))
            .finish()
    }
}

/// A request to send.
struct Call<'a> {
    method: Method,
    path: &'a str,
    body: Option<Bytes>,
    idempotent: bool,
    timeout: Duration,
}

enum Attempt {
    Done(Reply),
    /// Not delivered: try the next agent.
    NotSent(String),
    /// Maybe delivered.
    Broken(String),
}

fn tls_connector(cfg: &ClientConfig) -> Result<tokio_rustls::TlsConnector, ClientError> {
    use rustls_pki_types::pem::PemObject;
    use rustls_pki_types::{CertificateDer, PrivateKeyDer};
    let ca = cfg.ca_file.as_ref().ok_or_else(|| {
        ClientError::Config(
            "HTTPS to Consul needs the CA file that signs the agents' certificates (CONSUL_CACERT)"
                .to_owned(),
        )
    })?;
    let mut roots = rustls::RootCertStore::empty();
    let certs: Vec<CertificateDer<'static>> = CertificateDer::pem_file_iter(ca)
        .map_err(|e| ClientError::Config(format!("cannot read CA file {}: {e}", ca.display())))?
        .collect::<Result<_, _>>()
        .map_err(|e| ClientError::Config(format!("bad certificate in {}: {e}", ca.display())))?;
    if certs.is_empty() {
        return Err(ClientError::Config(format!(
            "no certificate in CA file {}",
            ca.display()
        )));
    }
    for c in certs {
        roots
            .add(c)
            .map_err(|e| ClientError::Config(format!("unusable CA in {}: {e}", ca.display())))?;
    }
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let builder = rustls::ClientConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .map_err(|e| ClientError::Config(format!("TLS setup: {e}")))?
        .with_root_certificates(roots);
    let config = match &cfg.client_cert {
        None => builder.with_no_client_auth(),
        Some((cert, key)) => {
            let chain: Vec<CertificateDer<'static>> = CertificateDer::pem_file_iter(cert)
                .map_err(|e| {
                    ClientError::Config(format!("cannot read client cert {}: {e}", cert.display()))
                })?
                .collect::<Result<_, _>>()
                .map_err(|e| {
                    ClientError::Config(format!("bad client cert {}: {e}", cert.display()))
                })?;
            let key = PrivateKeyDer::from_pem_file(key).map_err(|e| {
                ClientError::Config(format!("cannot read client key {}: {e}", key.display()))
            })?;
            builder
                .with_client_auth_cert(chain, key)
                .map_err(|e| ClientError::Config(format!("client certificate: {e}")))?
        }
    };
    Ok(tokio_rustls::TlsConnector::from(Arc::new(config)))
}

/// Splits `host:port` (IPv6 in brackets).
fn split_address(addr: &str) -> Result<(String, u16), ClientError> {
    let (host, port) = addr
        .rsplit_once(':')
        .ok_or_else(|| ClientError::Config(format!("address {addr:?} has no :port")))?;
    let port = port
        .parse::<u16>()
        .map_err(|_| ClientError::Config(format!("address {addr:?} has a bad port")))?;
    let host = host.trim_start_matches('[').trim_end_matches(']');
    if host.is_empty() {
        return Err(ClientError::Config(format!("address {addr:?} has no host")));
    }
    Ok((host.to_owned(), port))
}

impl Client {
    /// A client for `config` (nothing is connected yet).
    pub fn new(config: &ClientConfig) -> Result<Self, ClientError> {
        if config.addresses.is_empty() {
            return Err(ClientError::Config(
                "at least one agent address is needed".to_owned(),
            ));
        }
        let agents = config
            .addresses
            .iter()
            .map(|a| {
                let (host, port) = split_address(a)?;
                Ok(Agent {
                    authority: a.clone(),
                    host,
                    port,
                    idle: Mutex::new(Vec::new()),
                })
            })
            .collect::<Result<Vec<_>, ClientError>>()?;
        let tls = if config.tls {
            Some(tls_connector(config)?)
        } else {
            None
        };
        Ok(Client {
            inner: Arc::new(Inner {
                agents,
                current: AtomicUsize::new(0),
                tls,
                token: config.token.clone(),
                connect_timeout: config.connect_timeout,
                request_timeout: config.request_timeout,
            }),
        })
    }

    /// The agent addresses, in failover order.
    pub fn addresses(&self) -> Vec<String> {
        self.inner
            .agents
            .iter()
            .map(|a| a.authority.clone())
            .collect()
    }

    async fn connect(&self, agent: &Agent) -> Result<Sender, String> {
        let tcp = tokio::time::timeout(
            self.inner.connect_timeout,
            tokio::net::TcpStream::connect((agent.host.as_str(), agent.port)),
        )
        .await
        .map_err(|_| format!("connecting to {} timed out", agent.authority))?
        .map_err(|e| format!("connecting to {}: {e}", agent.authority))?;
        let _ = tcp.set_nodelay(true);
        match &self.inner.tls {
            None => {
                let (sender, conn) = hyper::client::conn::http1::handshake(TokioIo::new(tcp))
                    .await
                    .map_err(|e| format!("HTTP handshake with {}: {e}", agent.authority))?;
                tokio::spawn(async move {
                    let _ = conn.await;
                });
                Ok(sender)
            }
            Some(tls) => {
                let name = rustls_pki_types::ServerName::try_from(agent.host.clone())
                    .map_err(|e| format!("invalid TLS name {}: {e}", agent.host))?;
                let stream =
                    tokio::time::timeout(self.inner.connect_timeout, tls.connect(name, tcp))
                        .await
                        .map_err(|_| format!("TLS handshake with {} timed out", agent.authority))?
                        .map_err(|e| format!("TLS handshake with {}: {e}", agent.authority))?;
                let (sender, conn) = hyper::client::conn::http1::handshake(TokioIo::new(stream))
                    .await
                    .map_err(|e| format!("HTTP handshake with {}: {e}", agent.authority))?;
                tokio::spawn(async move {
                    let _ = conn.await;
                });
                Ok(sender)
            }
        }
    }

    fn take_idle(agent: &Agent) -> Option<Sender> {
        let mut idle = agent.idle.lock().unwrap_or_else(PoisonError::into_inner);
        while let Some(s) = idle.pop() {
            if s.is_ready() && !s.is_closed() {
                return Some(s);
            }
        }
        None
    }

    async fn attempt(&self, agent: &Agent, call: &Call<'_>) -> Attempt {
        let (mut sender, pooled) = match Self::take_idle(agent) {
            Some(s) => (s, true),
            None => match self.connect(agent).await {
                Ok(s) => (s, false),
                Err(e) => return Attempt::NotSent(e),
            },
        };
        let mut builder = Request::builder()
            .method(call.method.clone())
            .uri(call.path)
            .header(hyper::header::HOST, agent.authority.as_str());
        if let Some(token) = &self.inner.token {
            builder = builder.header(TOKEN_HEADER, token.as_str());
        }
        if call.body.is_some() {
            builder = builder.header(hyper::header::CONTENT_TYPE, "application/json");
        }
        let req = match builder.body(Full::new(call.body.clone().unwrap_or_default())) {
            Ok(r) => r,
            Err(e) => return Attempt::NotSent(format!("bad request {}: {e}", call.path)),
        };
        let exchange = async {
            let resp = sender.send_request(req).await?;
            let status = resp.status();
            let index = resp
                .headers()
                .get(INDEX_HEADER)
                .and_then(|v| v.to_str().ok())
                .and_then(|v| v.parse::<u64>().ok());
            let body = resp.into_body().collect().await?.to_bytes();
            Ok::<_, hyper::Error>((status, index, body))
        };
        match tokio::time::timeout(call.timeout, exchange).await {
            Err(_) => Attempt::Broken(format!(
                "{} {} to {} timed out after {:?}",
                call.method, call.path, agent.authority, call.timeout
            )),
            Ok(Err(e)) => {
                // A pooled connection the agent closed while idle fails
                // before anything was read: the request was not processed.
                if pooled && e.is_canceled() {
                    Attempt::NotSent(format!("stale connection to {}: {e}", agent.authority))
                } else {
                    Attempt::Broken(format!(
                        "{} {} to {}: {e}",
                        call.method, call.path, agent.authority
                    ))
                }
            }
            Ok(Ok((status, index, body))) => {
                agent
                    .idle
                    .lock()
                    .unwrap_or_else(PoisonError::into_inner)
                    .push(sender);
                Attempt::Done(Reply {
                    status: status.as_u16(),
                    index,
                    body,
                })
            }
        }
    }

    /// Sends `call`, failing over between agents.
    async fn send(&self, call: Call<'_>) -> Result<Reply, ClientError> {
        let n = self.inner.agents.len();
        let start = self.inner.current.load(Ordering::Relaxed) % n;
        let mut errors = Vec::new();
        for round in 0..2 {
            for i in 0..n {
                let idx = (start + i) % n;
                let agent = &self.inner.agents[idx];
                match self.attempt(agent, &call).await {
                    Attempt::Done(reply) => {
                        // 5xx: the agent has no leader / cannot serve; a
                        // read may be served by another agent.
                        if reply.status >= 500 && call.idempotent {
                            errors.push(format!(
                                "{}: {} {}",
                                agent.authority,
                                reply.status,
                                String::from_utf8_lossy(&reply.body).trim()
                            ));
                            continue;
                        }
                        if idx != start {
                            tracing::info!(agent = %agent.authority, "Consul requests now go to this agent");
                        }
                        self.inner.current.store(idx, Ordering::Relaxed);
                        return Ok(reply);
                    }
                    Attempt::NotSent(e) => errors.push(e),
                    Attempt::Broken(e) if call.idempotent => errors.push(e),
                    Attempt::Broken(e) => {
                        // Try another agent next time.
                        self.inner.current.store((idx + 1) % n, Ordering::Relaxed);
                        return Err(ClientError::Ambiguous(e));
                    }
                }
            }
            if round == 0 {
                tokio::time::sleep(Duration::from_millis(50)).await;
            }
        }
        Err(ClientError::Unreachable(errors.join("; ")))
    }

    /// `GET path` (idempotent).
    pub async fn get(&self, path: &str) -> Result<Reply, ClientError> {
        self.send(Call {
            method: Method::GET,
            path,
            body: None,
            idempotent: true,
            timeout: self.inner.request_timeout,
        })
        .await
    }

    /// A blocking `GET path?…&index=index&wait=…`: returns when the watched
    /// data changed past `index` or after `wait`.
    pub async fn blocking_get(
        &self,
        path: &str,
        index: u64,
        wait: Duration,
    ) -> Result<Reply, ClientError> {
        let sep = if path.contains('?') { '&' } else { '?' };
        let full = format!(
            "{path}{sep}index={index}&wait={}",
            super::api::go_duration(wait)
        );
        self.send(Call {
            method: Method::GET,
            path: &full,
            body: None,
            idempotent: true,
            // Consul adds up to wait/16 of jitter.
            timeout: wait + wait / 16 + self.inner.request_timeout,
        })
        .await
    }

    /// `PUT /v1/txn` with `ops`. A transaction of only reads is idempotent.
    pub async fn txn(&self, ops: &[TxnOp]) -> Result<TxnOutcome, ClientError> {
        let body = serde_json::to_vec(ops).map_err(|e| ClientError::Decode(e.to_string()))?;
        let idempotent = ops.iter().all(|op| !op.kv.verb.is_write());
        let reply = self
            .send(Call {
                method: Method::PUT,
                path: "/v1/txn",
                body: Some(body.into()),
                idempotent,
                timeout: self.inner.request_timeout,
            })
            .await?;
        match StatusCode::from_u16(reply.status) {
            Ok(StatusCode::OK) => Ok(TxnOutcome::Applied(reply.json()?)),
            Ok(StatusCode::CONFLICT) => Ok(TxnOutcome::RolledBack(reply.json()?)),
            _ => Err(reply.into_status_error()),
        }
    }

    /// The size `/v1/txn` would receive for `ops`.
    pub fn txn_body_len(ops: &[TxnOp]) -> usize {
        serde_json::to_vec(ops).map_or(usize::MAX, |b| b.len())
    }

    /// `PUT /v1/session/create`: the new session's id.
    pub async fn session_create(&self, req: &SessionCreate) -> Result<String, ClientError> {
        let body = serde_json::to_vec(req).map_err(|e| ClientError::Decode(e.to_string()))?;
        let reply = self
            .send(Call {
                method: Method::PUT,
                path: "/v1/session/create",
                body: Some(body.into()),
                idempotent: false,
                timeout: self.inner.request_timeout,
            })
            .await?
            .ok()?;
        Ok(reply.json::<SessionId>()?.id)
    }

    /// `PUT /v1/session/renew/<id>`: the renewed session, `None` if it does
    /// not exist (404).
    pub async fn session_renew(&self, id: &str) -> Result<Option<SessionEntry>, ClientError> {
        let path = format!("/v1/session/renew/{}", encode_path(id));
        let reply = self
            .send(Call {
                method: Method::PUT,
                path: &path,
                body: None,
                idempotent: true,
                timeout: self.inner.request_timeout,
            })
            .await?;
        if reply.status == 404 {
            return Ok(None);
        }
        let entries: Vec<SessionEntry> = reply.ok()?.json()?;
        Ok(entries.into_iter().next())
    }

    /// `GET /v1/session/info/<id>`: the session, `None` if it does not exist.
    pub async fn session_info(&self, id: &str) -> Result<Option<SessionEntry>, ClientError> {
        let path = format!("/v1/session/info/{}", encode_path(id));
        let entries: Vec<SessionEntry> = self.get(&path).await?.ok()?.json()?;
        Ok(entries.into_iter().next())
    }

    /// `PUT /v1/session/destroy/<id>` (idempotent: destroying twice is fine).
    pub async fn session_destroy(&self, id: &str) -> Result<(), ClientError> {
        let path = format!("/v1/session/destroy/{}", encode_path(id));
        self.send(Call {
            method: Method::PUT,
            path: &path,
            body: None,
            idempotent: true,
            timeout: self.inner.request_timeout,
        })
        .await?
        .ok()?;
        Ok(())
    }

    /// A blocking `GET /v1/session/list`: every session and the index.
    pub async fn session_list(
        &self,
        index: u64,
        wait: Duration,
    ) -> Result<(Vec<SessionEntry>, u64), ClientError> {
        let reply = if index == 0 {
            self.get("/v1/session/list").await?
        } else {
            self.blocking_get("/v1/session/list", index, wait).await?
        };
        let index = reply.index.unwrap_or(0);
        Ok((reply.ok()?.json()?, index))
    }
}

/// Percent-encodes a key for a URL path (keeps `/` and unreserved bytes).
pub fn encode_path(key: &str) -> String {
    let mut out = String::with_capacity(key.len());
    for b in key.bytes() {
        if b.is_ascii_alphanumeric() || matches!(b, b'-' | b'_' | b'.' | b'~' | b'/') {
            out.push(char::from(b));
        } else {
            out.push_str(&format!("%{b:02X}"));
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn paths_are_percent_encoded() {
        assert_eq!(encode_path("a/b c"), "a/b%20c");
        assert_eq!(encode_path("x/ü?&"), "x/%C3%BC%3F%26");
    }

    #[test]
    fn addresses() {
        assert_eq!(
            split_address("127.0.0.1:8500").unwrap(),
            ("127.0.0.1".into(), 8500)
        );
        assert_eq!(split_address("[::1]:8500").unwrap(), ("::1".into(), 8500));
        assert!(split_address("host").is_err());
        assert!(split_address(":1").is_err());
    }
}
