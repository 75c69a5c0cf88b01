//! HTTP over unix sockets: serving the agent's local APIs (the CNI socket
//! and the Docker plugin socket) and a small client (the Docker engine API,
//! tests).
//!
//! A socket is created under a temporary name, given its mode, then renamed
//! into place, so it is never reachable with looser permissions. A stale
//! socket left by a killed agent is replaced; a live one (another process
//! answers) is an error. The file is removed when the server stops
//! gracefully.

use axum::Router;
use axum::http::{Method, Request, StatusCode, header};
use bytes::Bytes;
use http_body_util::{BodyExt, Full};
use hyper_util::rt::TokioIo;
use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};
use std::time::Duration;
use tokio::net::UnixListener;
use tokio::task::JoinHandle;

/// A running server on a unix socket.
#[derive(Debug)]
pub struct UnixServer {
    path: PathBuf,
    stop: tokio::sync::watch::Sender<bool>,
    task: JoinHandle<()>,
}

fn prepare(path: &Path) -> Result<(), String> {
    if let Some(dir) = path.parent() {
        crate::daemon::create_private_dir(dir)
            .map_err(|e| format!("cannot create the socket directory {}: {e}", dir.display()))?;
    }
    if path.exists() {
        if std::os::unix::net::UnixStream::connect(path).is_ok() {
            return Err(format!(
                "{} is served by another process (is another netplugin running?)",
                path.display()
            ));
        }
        std::fs::remove_file(path)
            .map_err(|e| format!("cannot remove the stale socket {}: {e}", path.display()))?;
    }
    Ok(())
}

impl UnixServer {
    /// Serves `app` on `path` with permission bits `mode`.
    pub async fn bind(path: &Path, mode: u32, app: Router) -> Result<Self, String> {
        prepare(path)?;
        let name = path
            .file_name()
            .map(|n| n.to_string_lossy().into_owned())
            .unwrap_or_default();
        let tmp = path.with_file_name(format!(".{name}.{}.tmp", std::process::id()));
        let _ = std::fs::remove_file(&tmp);
        let listener = UnixListener::bind(&tmp)
            .map_err(|e| format!("cannot listen on {}: {e}", path.display()))?;
        std::fs::set_permissions(&tmp, std::fs::Permissions::from_mode(mode))
            .and_then(|()| std::fs::rename(&tmp, path))
            .map_err(|e| {
                let _ = std::fs::remove_file(&tmp);
                format!("cannot set up the socket {}: {e}", path.display())
            })?;
        let (stop, mut rx) = tokio::sync::watch::channel(false);
        let shown = path.display().to_string();
        let task = tokio::spawn(async move {
            let r = axum::serve(listener, app)
                .with_graceful_shutdown(async move {
                    let _ = rx.wait_for(|s| *s).await;
                })
                .await;
            if let Err(e) = r {
                tracing::error!(socket = %shown, error = %e, "local API server failed");
            }
        });
        Ok(UnixServer {
            path: path.to_owned(),
            stop,
            task,
        })
    }

    /// The socket path.
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// Stops serving (in-flight requests get a few seconds) and removes
    /// the socket.
    pub async fn shutdown(self) {
        let _ = self.stop.send(true);
        let mut task = self.task;
        if tokio::time::timeout(Duration::from_secs(5), &mut task)
            .await
            .is_err()
        {
            task.abort();
        }
        let _ = std::fs::remove_file(&self.path);
    }

    /// Stops at once, leaving the socket file behind (what a crash does);
    /// the returned handle completes once the listener is closed.
    pub fn abort(self) -> JoinHandle<()> {
        self.task.abort();
        self.task
    }
}

/// One HTTP/1.1 request over the unix socket at `socket`; returns the
/// status and body. `body` is sent as JSON.
pub async fn request(
    socket: &Path,
    method: Method,
    path: &str,
    body: Option<Vec<u8>>,
    timeout: Duration,
) -> Result<(StatusCode, Bytes), String> {
    let fut = async {
        let stream = tokio::net::UnixStream::connect(socket)
            .await
            .map_err(|e| format!("cannot connect to {}: {e}", socket.display()))?;
        let (mut sender, conn) = hyper::client::conn::http1::handshake(TokioIo::new(stream))
            .await
            .map_err(|e| format!("HTTP handshake with {} failed: {e}", socket.display()))?;
        tokio::spawn(async move {
            let _ = conn.await;
        });
        let mut b = Request::builder()
            .method(method)
            .uri(path)
            .header(header::HOST, "localhost");
        let payload = match body {
            Some(v) => {
                b = b.header(header::CONTENT_TYPE, "application/json");
                Full::new(Bytes::from(v))
            }
            None => Full::new(Bytes::new()),
        };
        let req = b
            .body(payload)
            .map_err(|e| format!("cannot build the request {path}: {e}"))?;
        let resp = sender
            .send_request(req)
            .await
            .map_err(|e| format!("request {path} to {} failed: {e}", socket.display()))?;
        let status = resp.status();
        let bytes = resp
            .into_body()
            .collect()
            .await
            .map_err(|e| format!("reading the answer to {path} failed: {e}"))?
            .to_bytes();
        Ok((status, bytes))
    };
    tokio::time::timeout(timeout, fut).await.map_err(|_| {
        format!(
            "{} did not answer {path} within {}s",
            socket.display(),
            timeout.as_secs()
        )
    })?
}
