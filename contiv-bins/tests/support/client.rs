//! A small blocking HTTP client over `ureq` that never treats a status as
//! an error, so tests assert on status and body themselves.

use serde_json::Value;
use std::io::{BufRead, BufReader};
use std::time::Duration;

/// One answer.
#[derive(Clone, Debug)]
pub struct Resp {
    /// Status code.
    pub status: u16,
    /// Body as text.
    pub body: String,
    /// `Content-Type`.
    pub content_type: String,
}

impl Resp {
    /// The body as JSON (panics with the body if it is not JSON).
    pub fn json(&self) -> Value {
        serde_json::from_str(&self.body)
            .unwrap_or_else(|e| panic!("body is not JSON ({e}): {:?}", self.body))
    }
}

/// A client of one base URL.
#[derive(Clone)]
pub struct Client {
    base: String,
    agent: ureq::Agent,
    token: Option<String>,
}

fn agent(tls: Option<ureq::tls::TlsConfig>) -> ureq::Agent {
    let mut b = ureq::Agent::config_builder()
        .http_status_as_error(false)
        .proxy(None)
        .timeout_global(Some(Duration::from_secs(60)))
        // A fresh connection per request: a pooled connection the server
        // closed after an early error answer must not turn into "no answer".
        .max_idle_connections(0);
    if let Some(t) = tls {
        b = b.tls_config(t);
    }
    b.build().into()
}

impl Client {
    /// A client of `base` (e.g. `http://127.0.0.1:9999`).
    pub fn new(base: &str) -> Self {
        Client {
            base: base.trim_end_matches('/').to_owned(),
            agent: agent(None),
            token: None,
        }
    }

    /// A client of an HTTPS `base` trusting the PEM certificate `ca_pem`.
    pub fn with_ca(base: &str, ca_pem: &[u8]) -> Self {
        let cert = ureq::tls::Certificate::from_pem(ca_pem)
            .expect("parse the CA certificate")
            .to_owned();
        let tls = ureq::tls::TlsConfig::builder()
            .root_certs(ureq::tls::RootCerts::new_with_certs(&[cert]))
            .build();
        Client {
            base: base.trim_end_matches('/').to_owned(),
            agent: agent(Some(tls)),
            token: None,
        }
    }

    /// The same client sending `Authorization: Bearer <token>`.
    pub fn with_token(mut self, token: &str) -> Self {
        self.token = Some(token.to_owned());
        self
    }

    /// The base URL.
    pub fn base(&self) -> &str {
        &self.base
    }

    fn url(&self, path: &str) -> String {
        format!("{}{path}", self.base)
    }

    fn auth<B>(&self, rb: ureq::RequestBuilder<B>) -> ureq::RequestBuilder<B> {
        match &self.token {
            Some(t) => rb.header("Authorization", format!("Bearer {t}")),
            None => rb,
        }
    }

    fn finish(r: Result<ureq::http::Response<ureq::Body>, ureq::Error>) -> Result<Resp, String> {
        let mut resp = r.map_err(|e| e.to_string())?;
        let status = resp.status().as_u16();
        let content_type = resp
            .headers()
            .get("content-type")
            .and_then(|v| v.to_str().ok())
            .unwrap_or_default()
            .to_owned();
        let body = resp
            .body_mut()
            .with_config()
            .limit(256 << 20)
            .read_to_string()
            .map_err(|e| e.to_string())?;
        Ok(Resp {
            status,
            body,
            content_type,
        })
    }

    /// Sends a request; `Err` only if no answer was received.
    pub fn try_send(&self, method: &str, path: &str, body: Option<&str>) -> Result<Resp, String> {
        let url = self.url(path);
        let r = match method {
            "GET" => self.auth(self.agent.get(&url)).call(),
            "DELETE" => self.auth(self.agent.delete(&url)).call(),
            "POST" => self
                .auth(self.agent.post(&url))
                .header("Content-Type", "application/json")
                .send(body.unwrap_or("")),
            "PATCH" => self
                .auth(self.agent.patch(&url))
                .header("Content-Type", "application/json")
                .send(body.unwrap_or("")),
            "PUT" => self
                .auth(self.agent.put(&url))
                .header("Content-Type", "application/json")
                .send(body.unwrap_or("")),
            other => return Err(format!("unsupported method {other}")),
        };
        Self::finish(r)
    }

    /// Sends a request (panics if no answer was received).
    pub fn send(&self, method: &str, path: &str, body: Option<&str>) -> Resp {
        self.try_send(method, path, body)
            .unwrap_or_else(|e| panic!("{method} {path}: no answer: {e}"))
    }

    /// `GET path`.
    pub fn get(&self, path: &str) -> Resp {
        self.send("GET", path, None)
    }

    /// `POST path` with a JSON body.
    pub fn post(&self, path: &str, body: &Value) -> Resp {
        self.send("POST", path, Some(&body.to_string()))
    }

    /// `PUT path` with a JSON body.
    pub fn put(&self, path: &str, body: &Value) -> Resp {
        self.send("PUT", path, Some(&body.to_string()))
    }

    /// `DELETE path`.
    pub fn delete(&self, path: &str) -> Resp {
        self.send("DELETE", path, None)
    }

    /// Opens a streaming `GET` (the watch stream): returns the status and a
    /// channel of lines, read by a background thread until the stream ends
    /// (the channel then closes).
    pub fn stream_lines(&self, path: &str) -> (u16, std::sync::mpsc::Receiver<String>) {
        let url = self.url(path);
        let resp = self
            .auth(self.agent.get(&url))
            .config()
            .timeout_global(None)
            .build()
            .call()
            .unwrap_or_else(|e| panic!("GET {path}: {e}"));
        let status = resp.status().as_u16();
        let (tx, rx) = std::sync::mpsc::channel();
        let reader = resp.into_body().into_reader();
        std::thread::spawn(move || {
            for line in BufReader::new(reader).lines() {
                match line {
                    Ok(l) => {
                        if tx.send(l).is_err() {
                            return;
                        }
                    }
                    Err(_) => return,
                }
            }
        });
        (status, rx)
    }
}
