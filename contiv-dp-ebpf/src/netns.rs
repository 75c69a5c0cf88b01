//! The network namespace the datapath works in: this process's, or one
//! named in the configuration. Calls that resolve interface names in the
//! caller's namespace (tcx attach, `if_nametoindex`) run on a short-lived
//! thread that joins it, so no runtime thread ever changes namespace.

use std::fs::File;
use std::os::fd::AsRawFd;
use std::path::{Path, PathBuf};

/// Where the datapath's interfaces live.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Netns {
    path: Option<PathBuf>,
}

/// Joins the namespace at `path` (this thread only).
pub fn join(path: &Path) -> Result<(), String> {
    let f = File::open(path)
        .map_err(|e| format!("cannot open network namespace {}: {e}", path.display()))?;
    // SAFETY: setns(2) reads the fd `f` keeps open; it changes the calling
    // thread only, a private one that exits afterwards.
    let rc = unsafe { libc::setns(f.as_raw_fd(), libc::CLONE_NEWNET) };
    if rc != 0 {
        return Err(format!(
            "setns {}: {}",
            path.display(),
            std::io::Error::last_os_error()
        ));
    }
    Ok(())
}

impl Netns {
    /// This process's namespace (`None`) or the one at `path`.
    pub fn new(path: Option<PathBuf>) -> Netns {
        Netns { path }
    }

    /// The namespace file, if not this process's.
    pub fn path(&self) -> Option<&Path> {
        self.path.as_deref()
    }

    /// Runs `f` inside the namespace (in place for this process's).
    pub fn run<T: Send, F: FnOnce() -> T + Send>(&self, f: F) -> Result<T, String> {
        let Some(p) = &self.path else {
            return Ok(f());
        };
        std::thread::scope(|s| {
            s.spawn(|| join(p).map(|()| f()))
                .join()
                .map_err(|_| "a namespace thread panicked".to_string())?
        })
    }

    /// Runs `f` on a fresh thread inside `path` (asynchronously).
    pub async fn run_async<T, F>(path: &Path, f: F) -> Result<T, String>
    where
        T: Send + 'static,
        F: FnOnce() -> Result<T, String> + Send + 'static,
    {
        let path: PathBuf = path.to_owned();
        let (tx, rx) = tokio::sync::oneshot::channel();
        std::thread::Builder::new()
            .name("contiv-netns".into())
            .spawn(move || {
                let _ = tx.send(join(&path).and_then(|()| f()));
            })
            .map_err(|e| format!("cannot start a thread: {e}"))?;
        rx.await
            .map_err(|_| "the namespace thread died".to_string())?
    }

    /// A netlink handle whose socket lives in the namespace.
    pub async fn netlink(&self) -> Result<rtnetlink::Handle, String> {
        netlink_at(self.path.as_deref()).await
    }
}

/// A netlink handle whose socket lives in the namespace at `path` (this
/// process's for `None`); its connection runs on the current runtime.
pub async fn netlink_at(path: Option<&Path>) -> Result<rtnetlink::Handle, String> {
    let rt = tokio::runtime::Handle::current();
    let make = move || {
        let _g = rt.enter();
        let (conn, handle, _) =
            rtnetlink::new_connection().map_err(|e| format!("netlink socket: {e}"))?;
        rt.spawn(conn);
        Ok(handle)
    };
    match path {
        None => make(),
        Some(p) => Netns::run_async(p, make).await,
    }
}
