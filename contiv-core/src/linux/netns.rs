//! Network namespaces: naming them ([`Netns`]), creating and deleting
//! named ones (what `ip netns add` / `del` do, without a child process),
//! and doing things inside one.
//!
//! A socket belongs to the network namespace of the thread that created
//! it, for its whole life. [`run_in`] (async) and [`run_in_netns`]
//! (blocking) run a closure on a short-lived dedicated thread that first
//! joins the namespace (`setns`), so no thread of the caller — typically a
//! tokio worker — ever changes namespace; sockets the closure creates (a
//! netlink socket, an ioctl socket, a UDP socket bound inside) stay in the
//! namespace after the thread is gone. The std sockets returned by
//! [`udp_socket_in_netns`] / [`tcp_listener_in_netns`] are non-blocking,
//! ready for `tokio::net::UdpSocket::from_std` / `TcpListener::from_std`.

use super::PlumbError;
use std::fs::File;
use std::io;
use std::net::{SocketAddr, TcpListener, UdpSocket};
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
    /// The namespace `ip netns add <name>` (or [`create_named_netns`])
    /// created.
    pub fn named(name: &str) -> Netns {
        Netns::Path(named_netns_path(name))
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

/// Where `ip netns add NAME` puts a named namespace.
pub fn named_netns_path(name: &str) -> PathBuf {
    Path::new("/var/run/netns").join(name)
}

/// Why something could not be done inside a namespace.
#[derive(Debug, thiserror::Error)]
pub enum NetnsError {
    /// The namespace file cannot be opened.
    #[error("cannot open network namespace {path}: {source}")]
    Open {
        /// The namespace path.
        path: PathBuf,
        /// The I/O error.
        source: io::Error,
    },
    /// Joining the namespace failed (not a network namespace, or no
    /// CAP_SYS_ADMIN).
    #[error("cannot enter network namespace {path}: {source}")]
    Enter {
        /// The namespace path.
        path: PathBuf,
        /// The OS error.
        source: io::Error,
    },
    /// The socket could not be opened or bound inside the namespace.
    #[error("cannot bind {addr} in network namespace {path}: {source}")]
    Bind {
        /// The namespace path.
        path: PathBuf,
        /// The address.
        addr: SocketAddr,
        /// The I/O error.
        source: io::Error,
    },
    /// The helper thread could not start or panicked.
    #[error("network namespace helper thread failed: {0}")]
    Thread(String),
}

/// Where named namespaces live.
pub const NETNS_RUN_DIR: &str = "/var/run/netns";

/// Makes `/var/run/netns` a shared mount point, as `ip netns add` does, so
/// namespaces mounted there are seen by every mount namespace.
fn share_run_dir(dir: &Path) -> io::Result<()> {
    let c = cpath(dir)?;
    let none = cpath(Path::new("none"))?;
    let mut made_mount = false;
    loop {
        // SAFETY: all pointers are valid NUL-terminated strings that live
        // across the call; a null `data` is allowed.
        let rc = unsafe {
            libc::mount(
                none.as_ptr(),
                c.as_ptr(),
                none.as_ptr(),
                libc::MS_SHARED | libc::MS_REC,
                std::ptr::null(),
            )
        };
        if rc == 0 {
            return Ok(());
        }
        let e = io::Error::last_os_error();
        if e.raw_os_error() != Some(libc::EINVAL) || made_mount {
            return Err(e);
        }
        // Not a mount point yet: bind it onto itself, then retry.
        // SAFETY: as above.
        let rc = unsafe {
            libc::mount(
                c.as_ptr(),
                c.as_ptr(),
                none.as_ptr(),
                libc::MS_BIND | libc::MS_REC,
                std::ptr::null(),
            )
        };
        if rc != 0 {
            return Err(io::Error::last_os_error());
        }
        made_mount = true;
    }
}

fn cpath(p: &Path) -> io::Result<std::ffi::CString> {
    use std::os::unix::ffi::OsStrExt;
    std::ffi::CString::new(p.as_os_str().as_bytes())
        .map_err(|_| io::Error::new(io::ErrorKind::InvalidInput, "path contains a NUL byte"))
}

/// Whether `path` is a mounted network namespace (a namespace file, not
/// the empty placeholder an interrupted creation leaves).
fn is_netns(path: &Path) -> bool {
    let Ok(f) = File::open(path) else {
        return false;
    };
    // SAFETY: fstatfs only writes into the zeroed struct we pass.
    let mut st: libc::statfs = unsafe { std::mem::zeroed() };
    // SAFETY: `f` is an open descriptor for the duration of the call.
    let rc = unsafe { libc::fstatfs(f.as_raw_fd(), &mut st) };
    // NSFS_MAGIC
    rc == 0 && st.f_type as i64 == 0x6e73_6673
}

/// Creates the named network namespace `name` (like `ip netns add`) with
/// its loopback down, or returns the existing one. Returns its path.
pub fn create_named_netns(name: &str) -> Result<PathBuf, NetnsError> {
    if name.is_empty() || name.contains('/') || name == "." || name == ".." {
        return Err(NetnsError::Thread(format!(
            "invalid network namespace name {name:?}"
        )));
    }
    let dir = Path::new(NETNS_RUN_DIR);
    let path = dir.join(name);
    if is_netns(&path) {
        return Ok(path);
    }
    let enter = |source: io::Error| NetnsError::Enter {
        path: path.clone(),
        source,
    };
    std::fs::create_dir_all(dir).map_err(enter)?;
    share_run_dir(dir).map_err(enter)?;
    // The mount point: an empty file.
    std::fs::OpenOptions::new()
        .create(true)
        .truncate(false)
        .write(true)
        .open(&path)
        .map_err(enter)?;
    let target = cpath(&path).map_err(enter)?;
    let made = std::thread::scope(|scope| {
        std::thread::Builder::new()
            .name("contiv-netns-add".into())
            .spawn_scoped(scope, || -> io::Result<()> {
                // SAFETY: unshare(2) takes no pointers; it gives this
                // dedicated, short-lived thread a new network namespace.
                if unsafe { libc::unshare(libc::CLONE_NEWNET) } != 0 {
                    return Err(io::Error::last_os_error());
                }
                let src = cpath(Path::new("/proc/thread-self/ns/net"))?;
                let none = cpath(Path::new("none"))?;
                // SAFETY: valid NUL-terminated strings living across the
                // call; a null `data` is allowed.
                let rc = unsafe {
                    libc::mount(
                        src.as_ptr(),
                        target.as_ptr(),
                        none.as_ptr(),
                        libc::MS_BIND,
                        std::ptr::null(),
                    )
                };
                if rc != 0 {
                    return Err(io::Error::last_os_error());
                }
                Ok(())
            })
            .map_err(|e| NetnsError::Thread(e.to_string()))?
            .join()
            .map_err(|_| NetnsError::Thread("the namespace thread panicked".into()))
    })?;
    if let Err(e) = made {
        let _ = std::fs::remove_file(&path);
        return Err(enter(e));
    }
    Ok(path)
}

/// Deletes the named network namespace `name` (like `ip netns del`);
/// succeeds if it does not exist. Interfaces inside go with it once no
/// process and no socket uses it any more.
pub fn delete_named_netns(name: &str) -> Result<(), NetnsError> {
    if name.is_empty() || name.contains('/') || name == "." || name == ".." {
        return Ok(());
    }
    let path = Path::new(NETNS_RUN_DIR).join(name);
    if !path.exists() {
        return Ok(());
    }
    let c = cpath(&path).map_err(|source| NetnsError::Enter {
        path: path.clone(),
        source,
    })?;
    // SAFETY: a valid NUL-terminated path living across the call. A
    // failure (not mounted) is fine: the file is removed below.
    unsafe {
        libc::umount2(c.as_ptr(), libc::MNT_DETACH);
    }
    match std::fs::remove_file(&path) {
        Ok(()) => Ok(()),
        Err(e) if e.kind() == io::ErrorKind::NotFound => Ok(()),
        Err(source) => Err(NetnsError::Enter { path, source }),
    }
}

/// Names of the namespaces under `/var/run/netns` starting with `prefix`.
pub fn named_netns_with_prefix(prefix: &str) -> Vec<String> {
    let Ok(rd) = std::fs::read_dir(NETNS_RUN_DIR) else {
        return Vec::new();
    };
    let mut v: Vec<String> = rd
        .flatten()
        .filter_map(|e| e.file_name().into_string().ok())
        .filter(|n| n.starts_with(prefix))
        .collect();
    v.sort();
    v
}

/// Runs `f` on a dedicated thread inside the network namespace at `netns`
/// (e.g. `/var/run/netns/NAME` or `/proc/PID/ns/net`) and returns its
/// result. The calling thread's namespace is not touched.
pub fn run_in_netns<T, F>(netns: &Path, f: F) -> Result<T, NetnsError>
where
    T: Send,
    F: FnOnce() -> T + Send,
{
    let file = File::open(netns).map_err(|source| NetnsError::Open {
        path: netns.to_owned(),
        source,
    })?;
    std::thread::scope(|scope| {
        let worker = std::thread::Builder::new()
            .name("contiv-netns".into())
            .spawn_scoped(scope, move || {
                // SAFETY: `file` is an open descriptor owned by this closure
                // for the duration of the call; setns only changes the
                // network namespace of this (dedicated, short-lived) thread.
                let rc = unsafe { libc::setns(file.as_raw_fd(), libc::CLONE_NEWNET) };
                if rc != 0 {
                    return Err(io::Error::last_os_error());
                }
                Ok(f())
            })
            .map_err(|e| NetnsError::Thread(e.to_string()))?;
        match worker.join() {
            Ok(Ok(v)) => Ok(v),
            Ok(Err(source)) => Err(NetnsError::Enter {
                path: netns.to_owned(),
                source,
            }),
            Err(_) => Err(NetnsError::Thread("the closure panicked".into())),
        }
    })
}

/// A non-blocking UDP socket bound to `addr` inside the namespace.
pub fn udp_socket_in_netns(netns: &Path, addr: SocketAddr) -> Result<UdpSocket, NetnsError> {
    let bind = || -> io::Result<UdpSocket> {
        let s = UdpSocket::bind(addr)?;
        s.set_nonblocking(true)?;
        Ok(s)
    };
    run_in_netns(netns, bind)?.map_err(|source| NetnsError::Bind {
        path: netns.to_owned(),
        addr,
        source,
    })
}

/// A non-blocking TCP listener bound to `addr` inside the namespace.
pub fn tcp_listener_in_netns(netns: &Path, addr: SocketAddr) -> Result<TcpListener, NetnsError> {
    let bind = || -> io::Result<TcpListener> {
        let s = TcpListener::bind(addr)?;
        s.set_nonblocking(true)?;
        Ok(s)
    };
    run_in_netns(netns, bind)?.map_err(|source| NetnsError::Bind {
        path: netns.to_owned(),
        addr,
        source,
    })
}
