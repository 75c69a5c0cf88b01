//! Running netctl against a scripted netmaster, without a network.
//!
//! [`ScriptedNetmaster`] answers requests from a table of canned responses
//! and records every request it receives; [`ScriptedNetmaster::run`] runs a
//! whole netctl command line through [`super::run`] and returns what it
//! printed, its exit status and the requests it sent. Used by netctl's own
//! tests and usable by anyone checking scripts that drive netctl.

use super::config::ClientConfig;
use super::error::Exit;
use super::request::{Method, Request};
use super::transport::{Response, Transport};
use super::{Env, run};
use std::cell::RefCell;
use std::ffi::OsString;
use std::path::PathBuf;
use std::rc::Rc;

/// A canned netmaster: `(method, path) → response`, recording requests.
#[derive(Clone, Debug, Default)]
pub struct ScriptedNetmaster {
    routes: Vec<(Method, String, Response)>,
    fallback: Option<Response>,
    home: Option<PathBuf>,
    stdin: Vec<u8>,
}

/// What one netctl run did.
#[derive(Clone, Debug)]
pub struct Outcome {
    /// Exit status.
    pub exit: Exit,
    /// Everything written to standard output.
    pub stdout: String,
    /// Everything written to standard error.
    pub stderr: String,
    /// Requests sent, in order.
    pub requests: Vec<Request>,
    /// The connection settings netctl resolved (None if it never connected).
    pub config: Option<ClientConfig>,
}

impl ScriptedNetmaster {
    /// A netmaster with no routes: every request gets a 404.
    pub fn new() -> Self {
        Self::default()
    }

    /// Answers `method path` with `status` and `body`.
    pub fn on(mut self, method: Method, path: &str, status: u16, body: &str) -> Self {
        self.routes
            .push((method, path.to_owned(), Response::new(status, body)));
        self
    }

    /// Answers `GET path` with 200 and `body`.
    pub fn get(self, path: &str, body: &str) -> Self {
        self.on(Method::Get, path, 200, body)
    }

    /// Answers every request without a route with `status` and `body`
    /// (instead of a 404).
    pub fn fallback(mut self, status: u16, body: &str) -> Self {
        self.fallback = Some(Response::new(status, body));
        self
    }

    /// Uses `home` as the home directory (for `~/.netctl/config.json`).
    pub fn home(mut self, home: PathBuf) -> Self {
        self.home = Some(home);
        self
    }

    /// Feeds `input` to standard input (for `netctl login`).
    pub fn stdin(mut self, input: &str) -> Self {
        self.stdin = input.as_bytes().to_vec();
        self
    }

    /// Runs `netctl <args…>` against this netmaster.
    pub fn run(&self, args: &[&str]) -> Outcome {
        let requests = Rc::new(RefCell::new(Vec::new()));
        let config = Rc::new(RefCell::new(None));
        let mut out = Vec::new();
        let mut err = Vec::new();
        let mut input: &[u8] = &self.stdin;
        let argv: Vec<OsString> = std::iter::once("netctl")
            .chain(args.iter().copied())
            .map(OsString::from)
            .collect();
        let env = Env {
            out: &mut out,
            err: &mut err,
            err_is_tty: false,
            input: &mut input,
            input_is_tty: false,
            home: self.home.clone(),
        };
        let routes = self.routes.clone();
        let fallback = self.fallback.clone();
        let (log, seen) = (Rc::clone(&requests), Rc::clone(&config));
        let mut connect = move |cfg: &ClientConfig| -> Box<dyn Transport> {
            *seen.borrow_mut() = Some(cfg.clone());
            Box::new(Scripted {
                routes: routes.clone(),
                fallback: fallback.clone(),
                log: Rc::clone(&log),
            })
        };
        let exit = run(argv, env, &mut connect);
        let requests = requests.borrow().clone();
        let config = config.borrow().clone();
        Outcome {
            exit,
            stdout: String::from_utf8_lossy(&out).into_owned(),
            stderr: String::from_utf8_lossy(&err).into_owned(),
            requests,
            config,
        }
    }
}

struct Scripted {
    routes: Vec<(Method, String, Response)>,
    fallback: Option<Response>,
    log: Rc<RefCell<Vec<Request>>>,
}

impl Transport for Scripted {
    fn send(&mut self, req: &Request) -> Result<Response, super::error::NetctlError> {
        self.log.borrow_mut().push(req.clone());
        let found = self
            .routes
            .iter()
            .find(|(m, p, _)| *m == req.method && *p == req.path);
        Ok(match found {
            Some((_, _, resp)) => resp.clone(),
            None => match &self.fallback {
                Some(resp) => resp.clone(),
                None => Response::new(404, format!("no scripted response for {req}")),
            },
        })
    }
}
