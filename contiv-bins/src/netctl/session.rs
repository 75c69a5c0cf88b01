//! The state one netctl invocation works with: the transport to netmaster,
//! standard output, and the log stream (standard error), plus the request
//! helpers every command uses.

use super::error::NetctlError;
use super::json_out::{OrderedJson, marshal_indent};
use super::logline::{Level, format_line};
use super::request::Request;
use super::transport::{Response, Transport};
use serde::Serialize;
use serde::de::DeserializeOwned;
use std::io::Write;
use std::time::{Instant, SystemTime};

/// One listed object: the typed view (for tables and filters) and the raw
/// JSON netmaster sent (for `-j`, printed as received).
#[derive(Clone, Debug)]
pub struct Listed<T> {
    /// Typed object.
    pub obj: T,
    /// The object exactly as received.
    pub raw: OrderedJson,
}

/// Transport, output streams and log format of one invocation.
pub struct Session<'a> {
    transport: &'a mut dyn Transport,
    out: &'a mut dyn Write,
    log: &'a mut dyn Write,
    log_is_tty: bool,
    started: Instant,
}

impl<'a> Session<'a> {
    /// A session writing results to `out` and log lines to `log` (coloured
    /// terminal format when `log_is_tty`).
    pub fn new(
        transport: &'a mut dyn Transport,
        out: &'a mut dyn Write,
        log: &'a mut dyn Write,
        log_is_tty: bool,
    ) -> Self {
        Session {
            transport,
            out,
            log,
            log_is_tty,
            started: Instant::now(),
        }
    }

    /// Sends a request; a non-2xx answer becomes [`NetctlError::Http`]
    /// carrying the server's message.
    pub fn call(&mut self, req: &Request) -> Result<Vec<u8>, NetctlError> {
        let resp = self.transport.send(req)?;
        if resp.is_success() {
            Ok(resp.body)
        } else {
            Err(http_error(&resp))
        }
    }

    /// Sends a request and returns the raw answer, whatever its status.
    pub fn call_raw(&mut self, req: &Request) -> Result<Response, NetctlError> {
        self.transport.send(req)
    }

    /// Sends a GET and decodes the JSON answer.
    pub fn fetch<T: DeserializeOwned>(&mut self, req: &Request) -> Result<T, NetctlError> {
        let body = self.call(req)?;
        serde_json::from_slice(&body).map_err(|e| bad_response(req, &e))
    }

    /// Sends a GET for a list and decodes every element, keeping the raw
    /// JSON of each. A `null` body is an empty list.
    pub fn fetch_list<T: DeserializeOwned>(
        &mut self,
        req: &Request,
    ) -> Result<Vec<Listed<T>>, NetctlError> {
        let body = self.call(req)?;
        let raw = OrderedJson::parse(&body).map_err(|e| bad_response(req, &e))?;
        let items = match raw {
            OrderedJson::Null => Vec::new(),
            OrderedJson::Array(items) => items,
            _ => {
                return Err(NetctlError::BadResponse {
                    path: req.path.clone(),
                    reason: "expected a JSON array".into(),
                });
            }
        };
        items
            .into_iter()
            .map(|raw| {
                let value = serde_json::to_value(&raw).map_err(|e| bad_response(req, &e))?;
                let obj = serde_json::from_value(value).map_err(|e| bad_response(req, &e))?;
                Ok(Listed { obj, raw })
            })
            .collect()
    }

    /// GET of an inspect path, printed as pretty JSON exactly as received.
    pub fn print_inspect(&mut self, req: &Request) -> Result<(), NetctlError> {
        let body = self.call(req)?;
        let raw = OrderedJson::parse(&body).map_err(|e| bad_response(req, &e))?;
        self.print_json(&raw)
    }

    /// Checks that a tenant exists (`GET /api/v1/tenants/<t>/`), as the
    /// original did before every tenant-scoped listing.
    pub fn ensure_tenant(&mut self, tenant: &str) -> Result<(), NetctlError> {
        self.call(&Request::get::<contiv_core::model::Tenant>(tenant))
            .map(|_| ())
    }

    /// Writes text to standard output.
    pub fn print(&mut self, text: &str) -> Result<(), NetctlError> {
        self.out
            .write_all(text.as_bytes())
            .map_err(|e| NetctlError::io("writing output", e))
    }

    /// Writes `json.MarshalIndent(v, "", "  ")` and a newline.
    pub fn print_json<T: Serialize + ?Sized>(&mut self, v: &T) -> Result<(), NetctlError> {
        let text = marshal_indent(v).map_err(|e| {
            NetctlError::io(
                "encoding JSON output",
                std::io::Error::new(std::io::ErrorKind::InvalidData, e),
            )
        })?;
        self.print(&text)?;
        self.print("\n")
    }

    /// Writes an info line to the log stream.
    pub fn info(&mut self, msg: &str) -> Result<(), NetctlError> {
        self.log_line(Level::Info, msg)
    }

    /// Writes an error line to the log stream.
    pub fn error(&mut self, msg: &str) -> Result<(), NetctlError> {
        self.log_line(Level::Error, msg)
    }

    /// Writes raw text to the log stream (help after a usage error).
    pub fn log_raw(&mut self, text: &str) -> Result<(), NetctlError> {
        self.log
            .write_all(text.as_bytes())
            .map_err(|e| NetctlError::io("writing to standard error", e))
    }

    fn log_line(&mut self, level: Level, msg: &str) -> Result<(), NetctlError> {
        let line = format_line(
            level,
            msg,
            self.log_is_tty,
            self.started.elapsed().as_secs(),
            SystemTime::now(),
        );
        self.log_raw(&line)
    }

    /// Flushes both streams.
    pub fn flush(&mut self) -> Result<(), NetctlError> {
        self.out
            .flush()
            .map_err(|e| NetctlError::io("writing output", e))?;
        self.log
            .flush()
            .map_err(|e| NetctlError::io("writing to standard error", e))
    }
}

fn bad_response(req: &Request, e: &dyn std::fmt::Display) -> NetctlError {
    NetctlError::BadResponse {
        path: req.path.clone(),
        reason: e.to_string(),
    }
}

/// The error for a non-2xx answer. The message is the server's: the body
/// text (the original netmaster sent plain text), or the `error`/`message`
/// member of a JSON body; an empty body falls back to the original client's
/// wording for 404/403, or the status code.
pub fn http_error(resp: &Response) -> NetctlError {
    let text = String::from_utf8_lossy(&resp.body).into_owned();
    let from_json = serde_json::from_slice::<serde_json::Value>(&resp.body)
        .ok()
        .and_then(|v| {
            ["error", "message"]
                .iter()
                .find_map(|k| v.get(k).and_then(|m| m.as_str()).map(str::to_owned))
        });
    let message = match from_json {
        Some(m) => m,
        None if !text.trim().is_empty() => text,
        None => match resp.status {
            404 => "Page not found!".to_owned(),
            403 => "Access denied!".to_owned(),
            s => format!("netmaster answered HTTP {s}"),
        },
    };
    NetctlError::Http {
        status: resp.status,
        message,
    }
}
