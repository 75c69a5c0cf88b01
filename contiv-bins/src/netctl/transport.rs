//! Sending [`Request`]s: the [`Transport`] trait and its HTTP(S)
//! implementation.
//!
//! Commands only see the trait, so tests can script netmaster's answers and
//! record what was sent. [`HttpTransport`] uses `ureq` (blocking, rustls):
//! netctl sends a handful of sequential requests and exits, so an async
//! runtime would only add start-up and compile time.

use super::config::ClientConfig;
use super::error::NetctlError;
use super::request::{Method, Request};
use std::time::Duration;

/// A response: status code and raw body.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Response {
    /// HTTP status code.
    pub status: u16,
    /// Response body.
    pub body: Vec<u8>,
}

impl Response {
    /// A response with a status and a body.
    pub fn new(status: u16, body: impl Into<Vec<u8>>) -> Self {
        Response {
            status,
            body: body.into(),
        }
    }

    /// True for 2xx.
    pub fn is_success(&self) -> bool {
        (200..300).contains(&self.status)
    }
}

/// Something that can deliver a request to netmaster.
pub trait Transport {
    /// Sends one request. Any answer, whatever its status, is `Ok`; `Err`
    /// means no answer was received ([`NetctlError::Request`]).
    fn send(&mut self, req: &Request) -> Result<Response, NetctlError>;
}

/// Largest response body read (inspect of a big tenant is far below this).
const MAX_BODY: u64 = 64 * 1024 * 1024;

/// HTTP/HTTPS transport to a netmaster (or an auth_proxy in front of it).
pub struct HttpTransport {
    agent: ureq::Agent,
    cfg: ClientConfig,
}

impl HttpTransport {
    /// A transport for the resolved settings: TLS verification against
    /// `--cacert` (else the public web roots), off with `insecure`; proxies
    /// from the environment except for loopback hosts.
    pub fn new(cfg: ClientConfig) -> Self {
        let mut tls = ureq::tls::TlsConfig::builder().disable_verification(cfg.insecure);
        if !cfg.ca_certs.is_empty() {
            let roots: Vec<ureq::tls::Certificate<'static>> = cfg
                .ca_certs
                .iter()
                .map(|der| ureq::tls::Certificate::from_der(der).to_owned())
                .collect();
            tls = tls.root_certs(ureq::tls::RootCerts::new_with_certs(&roots));
        }
        let tls = tls.build();
        let mut builder = ureq::Agent::config_builder()
            .http_status_as_error(false)
            .tls_config(tls)
            .timeout_connect(Some(Duration::from_secs(10)))
            .timeout_global(Some(Duration::from_secs(120)))
            .user_agent(concat!("netctl/", env!("CARGO_PKG_VERSION")));
        if cfg.is_loopback() {
            builder = builder.proxy(None);
        }
        HttpTransport {
            agent: builder.build().into(),
            cfg,
        }
    }

    fn with_auth<B>(&self, rb: ureq::RequestBuilder<B>) -> ureq::RequestBuilder<B> {
        let rb = rb.header("Accept", "application/json");
        match &self.cfg.token {
            // Our netmaster takes a bearer token; the original's auth_proxy
            // took `X-Auth-Token`. Both carry the same token.
            Some(token) => rb
                .header("Authorization", format!("Bearer {token}"))
                .header("X-Auth-Token", token.as_str()),
            None => rb,
        }
    }
}

impl Transport for HttpTransport {
    fn send(&mut self, req: &Request) -> Result<Response, NetctlError> {
        let url = self.cfg.url(&req.path);
        let failed = |e: ureq::Error| NetctlError::Request {
            url: url.clone(),
            reason: e.to_string(),
        };
        let result = match req.method {
            Method::Get => self.with_auth(self.agent.get(&url)).call(),
            Method::Delete => self.with_auth(self.agent.delete(&url)).call(),
            Method::Post => self
                .with_auth(self.agent.post(&url))
                .header("Content-Type", "application/json")
                .send(req.body.as_deref().unwrap_or("")),
        };
        let mut resp = result.map_err(failed)?;
        let status = resp.status().as_u16();
        let body = resp
            .body_mut()
            .with_config()
            .limit(MAX_BODY)
            .read_to_vec()
            .map_err(failed)?;
        Ok(Response { status, body })
    }
}
