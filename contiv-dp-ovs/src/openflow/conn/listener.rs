//! [`Listener`]: accept OpenFlow connections from OVS (the controller side).

use super::{ConnConfig, ConnError, Connection, Events};
use std::path::{Path, PathBuf};

enum Inner {
    Unix {
        listener: tokio::net::UnixListener,
        path: PathBuf,
    },
    Tcp(tokio::net::TcpListener),
}

/// Listens for OVS connecting to its controller.
///
/// With `ovs-vsctl set-controller <br> unix:<path>` OVS connects to a unix
/// socket we listen on; vswitchd only allows such paths inside its own run
/// directory ("possibility for remote exploit" otherwise). With
/// `tcp:127.0.0.1:<port>` it connects over TCP (same network namespace).
///
/// ```no_run
/// # async fn demo() -> Result<(), contiv_dp_ovs::openflow::conn::ConnError> {
/// use contiv_dp_ovs::openflow::conn::{ConnConfig, Listener};
/// let l = Listener::bind_unix("/run/openvswitch/contiv-ctl.sock")?;
/// // ovs-vsctl set-controller br-int unix:/run/openvswitch/contiv-ctl.sock
/// let (conn, mut events) = l.accept(ConnConfig::default()).await?;
/// println!("switch {:#x} connected", conn.datapath_id());
/// # Ok(()) }
/// ```
pub struct Listener {
    inner: Inner,
}

impl std::fmt::Debug for Listener {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match &self.inner {
            Inner::Unix { path, .. } => write!(f, "Listener(unix:{})", path.display()),
            Inner::Tcp(l) => write!(f, "Listener(tcp:{:?})", l.local_addr().ok()),
        }
    }
}

impl Listener {
    /// Binds a unix socket at `path`, replacing a stale socket file. The
    /// file is removed again when the listener is dropped.
    pub fn bind_unix(path: impl AsRef<Path>) -> Result<Listener, ConnError> {
        let path = path.as_ref().to_path_buf();
        if path.exists() {
            std::fs::remove_file(&path).map_err(|e| ConnError::Io {
                what: "removing a stale controller socket",
                message: e.to_string(),
            })?;
        }
        let listener = tokio::net::UnixListener::bind(&path).map_err(|e| ConnError::Io {
            what: "binding the controller socket",
            message: e.to_string(),
        })?;
        Ok(Listener {
            inner: Inner::Unix { listener, path },
        })
    }

    /// Binds a TCP listener (e.g. `127.0.0.1:0`).
    pub async fn bind_tcp(addr: std::net::SocketAddr) -> Result<Listener, ConnError> {
        let l = tokio::net::TcpListener::bind(addr)
            .await
            .map_err(|e| ConnError::Io {
                what: "binding the controller TCP port",
                message: e.to_string(),
            })?;
        Ok(Listener {
            inner: Inner::Tcp(l),
        })
    }

    /// The OVS controller target for this listener (`unix:<path>` or
    /// `tcp:<ip>:<port>`), to pass to `set-controller` / the OVSDB
    /// `Controller.target` column.
    pub fn target(&self) -> String {
        match &self.inner {
            Inner::Unix { path, .. } => format!("unix:{}", path.display()),
            Inner::Tcp(l) => match l.local_addr() {
                Ok(a) => format!("tcp:{}:{}", a.ip(), a.port()),
                Err(_) => "tcp:?".into(),
            },
        }
    }

    /// Accepts the next switch connection and runs the handshake.
    pub async fn accept(&self, config: ConnConfig) -> Result<(Connection, Events), ConnError> {
        match &self.inner {
            Inner::Unix { listener, .. } => {
                let (s, _) = listener.accept().await.map_err(|e| ConnError::Io {
                    what: "accepting a switch connection",
                    message: e.to_string(),
                })?;
                Connection::from_stream(s, config).await
            }
            Inner::Tcp(l) => {
                let (s, _) = l.accept().await.map_err(|e| ConnError::Io {
                    what: "accepting a switch connection",
                    message: e.to_string(),
                })?;
                let _ = s.set_nodelay(true);
                Connection::from_stream(s, config).await
            }
        }
    }
}

impl Drop for Listener {
    fn drop(&mut self) {
        if let Inner::Unix { path, .. } = &self.inner {
            let _ = std::fs::remove_file(path);
        }
    }
}
