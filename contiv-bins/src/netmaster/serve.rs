//! The accept loop of netmaster's HTTP and HTTPS listeners.
//!
//! * **Connection limit** (`--max-connections`): a connection holds a
//!   permit from accept to close; at the limit the loop stops accepting
//!   (new connections wait in the kernel's backlog) instead of running out
//!   of file descriptors.
//! * **Back-off**: when `accept` fails for lack of resources (out of file
//!   descriptors, memory or buffers) the loop waits — 10 ms, doubling up to
//!   1 s — instead of retrying at once, and logs such failures at most once
//!   a second with a count of the suppressed ones. Per-connection failures
//!   (a client that reset before being accepted) are retried at once.
//! * **Header timeout** (`--header-timeout`): a client must send a
//!   request's headers within this time, also between the requests of a
//!   keep-alive connection, or the connection is closed (HTTP/1.1; a
//!   half-open connection cannot be held forever).
//! * **TLS handshake timeout** (`--tls-handshake-timeout`).
//! * **Watch connections apart**: a plain-HTTP connection whose first
//!   request is `GET /api/v1/watch` is served on the lower-priority watch
//!   threads ([`super::watch_threads`]) so that agents' streams never delay
//!   REST answers and heartbeats.
//!
//! Stopping ends the loop; open connections finish their current request
//! (watch streams end with the server, [`super::Netmaster::shutdown`]) and
//! are dropped after a grace period.

use super::watch_threads::WatchThreads;
use axum::Router;
use hyper_util::rt::{TokioIo, TokioTimer};
use hyper_util::server::graceful::GracefulShutdown;
use hyper_util::service::TowerToHyperService;
use std::io;
use std::sync::Arc;
use std::time::{Duration, Instant};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::{Semaphore, watch};
use tracing::{debug, warn};

/// Limits of the HTTP(S) server.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Limits {
    /// Most connections open at once.
    pub max_connections: usize,
    /// Time a client has to send a request's headers.
    pub header_timeout: Duration,
    /// Time a client has to complete the TLS handshake.
    pub tls_handshake_timeout: Duration,
}

impl Default for Limits {
    fn default() -> Self {
        Limits {
            max_connections: 1000,
            header_timeout: Duration::from_secs(10),
            tls_handshake_timeout: Duration::from_secs(10),
        }
    }
}

/// How long open connections may finish after the server stops.
const DRAIN: Duration = Duration::from_secs(3);

/// Shortest and longest wait after a failed accept.
const BACKOFF_MIN: Duration = Duration::from_millis(10);
const BACKOFF_MAX: Duration = Duration::from_secs(1);

/// True if an accept error means the process or system is out of a
/// resource (back off), false if only that one connection failed.
fn resource_exhausted(e: &io::Error) -> bool {
    matches!(
        e.raw_os_error(),
        Some(libc::EMFILE | libc::ENFILE | libc::ENOBUFS | libc::ENOMEM)
    ) || !matches!(
        e.kind(),
        io::ErrorKind::ConnectionAborted
            | io::ErrorKind::ConnectionReset
            | io::ErrorKind::ConnectionRefused
            | io::ErrorKind::Interrupted
            | io::ErrorKind::WouldBlock
    )
}

/// Exponential back-off with rate-limited logging.
struct Backoff {
    next: Duration,
    last_log: Option<Instant>,
    suppressed: u64,
}

impl Backoff {
    fn new() -> Self {
        Backoff {
            next: BACKOFF_MIN,
            last_log: None,
            suppressed: 0,
        }
    }

    fn reset(&mut self) {
        self.next = BACKOFF_MIN;
    }

    /// Logs (at most once a second) and returns how long to wait.
    fn failed(&mut self, e: &io::Error) -> Duration {
        let now = Instant::now();
        if self
            .last_log
            .is_none_or(|t| now.duration_since(t) >= Duration::from_secs(1))
        {
            warn!(
                error = %e,
                suppressed = self.suppressed,
                retry_in_ms = self.next.as_millis() as u64,
                "accept failed (out of file descriptors or memory?); backing off"
            );
            self.last_log = Some(now);
            self.suppressed = 0;
        } else {
            self.suppressed += 1;
        }
        let wait = self.next;
        self.next = (self.next * 2).min(BACKOFF_MAX);
        wait
    }
}

/// What a watch connection's first bytes are.
const WATCH_REQUEST: &[u8] = b"GET /api/v1/watch";

/// Whether the connection's first request is a watch (looked at without
/// consuming it); `None` if the client sent nothing within `limit` or the
/// connection failed.
async fn first_request_is_watch(tcp: &TcpStream, limit: Duration) -> Option<bool> {
    let mut buf = [0u8; WATCH_REQUEST.len()];
    let n = tokio::time::timeout(limit, tcp.peek(&mut buf))
        .await
        .ok()?
        .ok()?;
    // A first segment shorter than the prefix is served on the main
    // runtime (correct, only not isolated).
    (n > 0).then(|| buf[..n] == *WATCH_REQUEST)
}

/// Serves one plain-HTTP connection.
async fn serve_plain(
    tcp: TcpStream,
    app: Router,
    limits: Limits,
    watcher: hyper_util::server::graceful::Watcher,
) -> Result<(), hyper::Error> {
    let mut http = hyper::server::conn::http1::Builder::new();
    http.timer(TokioTimer::new())
        .header_read_timeout(limits.header_timeout);
    let conn = http.serve_connection(TokioIo::new(tcp), TowerToHyperService::new(app));
    watcher.watch(conn).await
}

/// Serves a watch connection on the watch threads, until it ends (aborted
/// there when this future is dropped).
async fn serve_on(
    threads: &WatchThreads,
    tcp: TcpStream,
    app: Router,
    limits: Limits,
    watcher: hyper_util::server::graceful::Watcher,
) -> Result<(), hyper::Error> {
    struct AbortOnDrop(tokio::task::AbortHandle);
    impl Drop for AbortOnDrop {
        fn drop(&mut self) {
            self.0.abort();
        }
    }
    // Registered again with the watch thread's reactor.
    let Ok(std_tcp) = tcp.into_std() else {
        return Ok(());
    };
    let task = threads.spawn(async move {
        match TcpStream::from_std(std_tcp) {
            Ok(tcp) => serve_plain(tcp, app, limits, watcher).await,
            Err(e) => {
                debug!(error = %e, "cannot move a watch connection to the watch threads");
                Ok(())
            }
        }
    });
    let _guard = AbortOnDrop(task.abort_handle());
    task.await.unwrap_or(Ok(()))
}

/// Serves `app` on `listener` (HTTPS with `tls`) until `stop` turns true;
/// plain-HTTP watch connections on `watch_threads` when given.
pub async fn serve(
    listener: TcpListener,
    app: Router,
    tls: Option<tokio_rustls::TlsAcceptor>,
    limits: Limits,
    watch_threads: Option<Arc<WatchThreads>>,
    mut stop: watch::Receiver<bool>,
) {
    let permits = Arc::new(Semaphore::new(limits.max_connections.max(1)));
    let graceful = GracefulShutdown::new();
    let mut conns = tokio::task::JoinSet::new();
    let mut backoff = Backoff::new();
    loop {
        let permit = tokio::select! {
            p = permits.clone().acquire_owned() => match p {
                Ok(p) => p,
                Err(_) => break,
            },
            _ = stop.wait_for(|s| *s) => break,
        };
        let accepted = tokio::select! {
            r = listener.accept() => r,
            _ = stop.wait_for(|s| *s) => break,
        };
        let (tcp, peer) = match accepted {
            Ok(x) => {
                backoff.reset();
                x
            }
            Err(e) if resource_exhausted(&e) => {
                drop(permit);
                let wait = backoff.failed(&e);
                tokio::select! {
                    _ = tokio::time::sleep(wait) => {}
                    _ = stop.wait_for(|s| *s) => break,
                }
                continue;
            }
            Err(e) => {
                debug!(error = %e, "a connection failed before it was accepted");
                continue;
            }
        };
        let _ = tcp.set_nodelay(true);
        let app = app.clone();
        let tls = tls.clone();
        let watcher = graceful.watcher();
        let watch_threads = watch_threads.clone();
        // Reap finished connection tasks as we go.
        while conns.try_join_next().is_some() {}
        conns.spawn(async move {
            let _permit = permit;
            let result = match tls {
                None => match &watch_threads {
                    Some(threads) => {
                        match first_request_is_watch(&tcp, limits.header_timeout).await {
                            None => {
                                debug!(%peer, "no request in time; connection closed");
                                return;
                            }
                            Some(true) => serve_on(threads, tcp, app, limits, watcher).await,
                            Some(false) => serve_plain(tcp, app, limits, watcher).await,
                        }
                    }
                    None => serve_plain(tcp, app, limits, watcher).await,
                },
                Some(acceptor) => {
                    let svc = TowerToHyperService::new(app);
                    let mut http = hyper::server::conn::http1::Builder::new();
                    http.timer(TokioTimer::new())
                        .header_read_timeout(limits.header_timeout);
                    let stream = match tokio::time::timeout(
                        limits.tls_handshake_timeout,
                        acceptor.accept(tcp),
                    )
                    .await
                    {
                        Ok(Ok(s)) => s,
                        Ok(Err(e)) => {
                            warn!(%peer, error = %e, "TLS handshake failed");
                            return;
                        }
                        Err(_) => {
                            debug!(%peer, "TLS handshake timed out; connection closed");
                            return;
                        }
                    };
                    let conn = http.serve_connection(TokioIo::new(stream), svc);
                    watcher.watch(conn).await
                }
            };
            if let Err(e) = result {
                if e.is_timeout() {
                    debug!(%peer, "no request headers in time; connection closed");
                } else if !e.is_incomplete_message() && !e.is_closed() {
                    debug!(%peer, error = %e, "connection error");
                }
            }
        });
    }
    drop(listener);
    // Let open connections finish their current request, then drop them.
    if tokio::time::timeout(DRAIN, graceful.shutdown())
        .await
        .is_err()
    {
        debug!("connections still open after the drain period; dropping them");
    }
    conns.abort_all();
}
