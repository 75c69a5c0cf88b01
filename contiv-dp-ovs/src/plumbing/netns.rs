//! Doing things inside a network namespace: a short-lived thread joins the
//! namespace (`setns`), creates what must live there (a netlink socket, an
//! ioctl socket) and exits, so no thread of the runtime ever changes
//! namespace.

use super::PlumbError;
use std::fs::File;
use std::os::fd::AsRawFd;
use std::path::{Path, PathBuf};

/// A network namespace.
#[derive(Clone, Debug, Default, PartialEq, Eq, Hash)]
pub enum Netns {
    /// The namespace of this process.
    #[default]
    Current,
    /// A namespace file (`/var/run/netns/<name>`, `/proc/<pid>/ns/net`).
    Path(PathBuf),
}

impl Netns {
    /// The namespace `ip netns add <name>` created.
    pub fn named(name: &str) -> Netns {
        Netns::Path(Path::new("/var/run/netns").join(name))
    }

    /// For messages.
    pub fn describe(&self) -> String {
        match self {
            Netns::Current => "the current network namespace".into(),
            Netns::Path(p) => format!("network namespace {}", p.display()),
        }
    }
}

/// Opens a namespace file (to join it, or to move a link into it).
pub fn open(path: &Path) -> Result<File, PlumbError> {
    File::open(path).map_err(|e| PlumbError::Netns {
        netns: path.display().to_string(),
        message: format!("cannot open it: {e}"),
    })
}

fn join(path: &Path) -> Result<(), PlumbError> {
    let f = open(path)?;
    // SAFETY: setns(2) only reads the file descriptor, which `f` keeps open
    // for the duration of the call; it changes the namespace of the calling
    // thread only, and this thread is a private one that exits afterwards.
    let rc = unsafe { libc::setns(f.as_raw_fd(), libc::CLONE_NEWNET) };
    if rc != 0 {
        return Err(PlumbError::Netns {
            netns: path.display().to_string(),
            message: format!("setns failed: {}", std::io::Error::last_os_error()),
        });
    }
    Ok(())
}

/// Runs `f` inside `ns` and returns its result. For [`Netns::Current`] it
/// runs in place; otherwise on a fresh thread that joins the namespace
/// first.
pub async fn run_in<T, F>(ns: &Netns, f: F) -> Result<T, PlumbError>
where
    T: Send + 'static,
    F: FnOnce() -> Result<T, PlumbError> + Send + 'static,
{
    let path = match ns {
        Netns::Current => return f(),
        Netns::Path(p) => p.clone(),
    };
    let (tx, rx) = tokio::sync::oneshot::channel();
    let shown = path.display().to_string();
    std::thread::Builder::new()
        .name("contiv-netns".into())
        .spawn(move || {
            let r = join(&path).and_then(|()| f());
            let _ = tx.send(r);
        })
        .map_err(|e| PlumbError::Netns {
            netns: shown.clone(),
            message: format!("cannot start a thread: {e}"),
        })?;
    rx.await.map_err(|_| PlumbError::Netns {
        netns: shown,
        message: "the namespace thread died".into(),
    })?
}

/// A netlink (rtnetlink) handle whose socket lives in `ns`. Its connection
/// task runs on the current tokio runtime until the handle is dropped.
pub async fn netlink(ns: &Netns) -> Result<rtnetlink::Handle, PlumbError> {
    let rt = tokio::runtime::Handle::current();
    let what = ns.describe();
    run_in(ns, move || {
        let _guard = rt.enter();
        let (conn, handle, _) = rtnetlink::new_connection().map_err(|e| PlumbError::Netns {
            netns: what,
            message: format!("cannot open a netlink socket: {e}"),
        })?;
        rt.spawn(conn);
        Ok(handle)
    })
    .await
}
