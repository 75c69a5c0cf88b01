//! Real etcd processes for tests: [`EtcdServer`] (one member) and
//! [`EtcdCluster`] (several members on loopback).
//!
//! Each fixture lives in its own temporary directory (data dirs and the
//! process logs), listens on free `127.0.0.1` ports, waits until every
//! member reports `/health` true, and kills its processes by pid when
//! dropped (also when a test panics). The binary is `$ETCD_BIN` if set,
//! else `etcd` on `PATH`; if it cannot be found the fixture returns
//! [`FixtureError::BinaryMissing`] — tests fail, they never skip.
//!
//! Timing flags are tuned for tests: heartbeat 50 ms, election timeout
//! 500 ms (so etcd's minimum lease TTL is 1 s).

use super::http;
use std::fs::File;
use std::io::Read;
use std::net::{Ipv4Addr, SocketAddr, SocketAddrV4, TcpListener};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};
use tempfile::TempDir;

/// How long a member may take to become healthy.
const HEALTH_TIMEOUT: Duration = Duration::from_secs(30);
/// How long a graceful stop may take before SIGKILL.
const STOP_TIMEOUT: Duration = Duration::from_secs(10);
/// Attempts with fresh ports when a member dies at start (port race).
const START_ATTEMPTS: usize = 3;

/// Why a fixture could not start or serve.
#[derive(Debug, thiserror::Error)]
pub enum FixtureError {
    /// No etcd binary.
    #[error(
        "etcd binary not found ({0}); install it (Debian: apt-get install etcd-server, or `make deps`) or set ETCD_BIN"
    )]
    BinaryMissing(String),
    /// A system call failed (temp dir, ports, spawn, signals).
    #[error("etcd fixture I/O error while {what}: {source}")]
    Io {
        /// What the fixture was doing.
        what: String,
        /// The underlying error.
        source: std::io::Error,
    },
    /// A member exited or never became healthy.
    #[error("etcd member {member} did not become healthy: {reason}; last log lines:\n{log}")]
    Unhealthy {
        /// The member name.
        member: String,
        /// What went wrong.
        reason: String,
        /// The tail of the member's log.
        log: String,
    },
    /// A member index out of range or in the wrong state.
    #[error("etcd fixture misuse: {0}")]
    Misuse(String),
}

fn io_err(what: impl Into<String>) -> impl FnOnce(std::io::Error) -> FixtureError {
    let what = what.into();
    move |source| FixtureError::Io { what, source }
}

/// Checks an explicitly named binary.
fn explicit_binary(p: PathBuf, origin: &str) -> Result<PathBuf, FixtureError> {
    if p.is_file() {
        Ok(p)
    } else {
        Err(FixtureError::BinaryMissing(format!(
            "{origin}{} is not a file",
            p.display()
        )))
    }
}

/// Finds the etcd binary: `$ETCD_BIN`, else `etcd` on `PATH`.
fn etcd_binary() -> Result<PathBuf, FixtureError> {
    if let Some(p) = std::env::var_os("ETCD_BIN") {
        return explicit_binary(PathBuf::from(p), "ETCD_BIN=");
    }
    let path = std::env::var_os("PATH").unwrap_or_default();
    std::env::split_paths(&path)
        .map(|dir| dir.join("etcd"))
        .find(|p| p.is_file())
        .ok_or_else(|| FixtureError::BinaryMissing("no `etcd` on PATH".to_owned()))
}

/// A free TCP port on 127.0.0.1 (the OS picks it; the listener is closed
/// before etcd binds it, so a start can race — callers retry).
fn free_port() -> Result<u16, FixtureError> {
    let l = TcpListener::bind((Ipv4Addr::LOCALHOST, 0)).map_err(io_err("finding a free port"))?;
    Ok(l.local_addr()
        .map_err(io_err("finding a free port"))?
        .port())
}

fn loopback(port: u16) -> SocketAddr {
    SocketAddr::V4(SocketAddrV4::new(Ipv4Addr::LOCALHOST, port))
}

/// The last lines of a log file, for error messages.
fn log_tail(path: &Path) -> String {
    let mut text = String::new();
    if let Ok(mut f) = File::open(path) {
        let _ = f.read_to_string(&mut text);
    }
    let lines: Vec<&str> = text.lines().collect();
    lines[lines.len().saturating_sub(15)..].join("\n")
}

/// Sends a signal to a child by pid.
fn signal(child: &Child, sig: libc::c_int) -> Result<(), FixtureError> {
    let pid = libc::pid_t::try_from(child.id())
        .map_err(|_| FixtureError::Misuse(format!("pid {} out of range", child.id())))?;
    // SAFETY: kill(2) has no memory-safety preconditions; `pid` is our own
    // child, which has not been reaped (we hold its `Child`), so the pid
    // cannot have been reused by another process.
    let rc = unsafe { libc::kill(pid, sig) };
    if rc == 0 {
        Ok(())
    } else {
        Err(FixtureError::Io {
            what: format!("sending signal {sig} to etcd pid {pid}"),
            source: std::io::Error::last_os_error(),
        })
    }
}

/// One etcd process and everything needed to (re)start it.
#[derive(Debug)]
struct Member {
    bin: PathBuf,
    name: String,
    client: SocketAddr,
    peer: SocketAddr,
    data_dir: PathBuf,
    log: PathBuf,
    initial_cluster: String,
    token: String,
    child: Option<Child>,
}

impl Member {
    fn new(bin: &Path, dir: &Path, name: &str, token: &str) -> Result<Self, FixtureError> {
        Ok(Member {
            bin: bin.to_path_buf(),
            name: name.to_owned(),
            client: loopback(free_port()?),
            peer: loopback(free_port()?),
            data_dir: dir.join(format!("{name}.etcd")),
            log: dir.join(format!("{name}.log")),
            initial_cluster: String::new(),
            token: token.to_owned(),
            child: None,
        })
    }

    fn peer_url(&self) -> String {
        format!("http://{}", self.peer)
    }

    fn client_url(&self) -> String {
        format!("http://{}", self.client)
    }

    fn spawn(&mut self, state: &str) -> Result<(), FixtureError> {
        let bin = explicit_binary(self.bin.clone(), "")?;
        let log = File::options()
            .create(true)
            .append(true)
            .open(&self.log)
            .map_err(io_err(format!("opening {}", self.log.display())))?;
        let log2 = log
            .try_clone()
            .map_err(io_err(format!("opening {}", self.log.display())))?;
        let child = Command::new(&bin)
            .arg("--name")
            .arg(&self.name)
            .arg("--data-dir")
            .arg(&self.data_dir)
            .args(["--listen-client-urls", &self.client_url()])
            .args(["--advertise-client-urls", &self.client_url()])
            .args(["--listen-peer-urls", &self.peer_url()])
            .args(["--initial-advertise-peer-urls", &self.peer_url()])
            .args(["--initial-cluster", &self.initial_cluster])
            .args(["--initial-cluster-token", &self.token])
            .args(["--initial-cluster-state", state])
            .args(["--heartbeat-interval", "50", "--election-timeout", "500"])
            .args(["--logger", "zap", "--log-level", "warn"])
            .stdin(Stdio::null())
            .stdout(log)
            .stderr(log2)
            .spawn()
            .map_err(io_err(format!("starting {}", bin.display())))?;
        self.child = Some(child);
        Ok(())
    }

    fn unhealthy(&self, reason: impl Into<String>) -> FixtureError {
        FixtureError::Unhealthy {
            member: self.name.clone(),
            reason: reason.into(),
            log: log_tail(&self.log),
        }
    }

    /// Waits until `/health` says true; fails if the process exits.
    fn wait_healthy(&mut self, deadline: Instant) -> Result<(), FixtureError> {
        loop {
            let exited = match self.child.as_mut() {
                None => return Err(self.unhealthy("the member is not running")),
                Some(child) => child
                    .try_wait()
                    .map_err(io_err("checking the etcd process"))?,
            };
            if let Some(status) = exited {
                self.child = None;
                return Err(self.unhealthy(format!("the process exited with {status}")));
            }
            if let Ok((200, body)) =
                http::request(self.client, "GET", "/health", "", Duration::from_secs(2))
                && body.contains("\"health\":\"true\"")
            {
                return Ok(());
            }
            if Instant::now() > deadline {
                return Err(self.unhealthy(format!("no healthy /health within {HEALTH_TIMEOUT:?}")));
            }
            std::thread::sleep(Duration::from_millis(50));
        }
    }

    fn is_running(&mut self) -> bool {
        match self.child.as_mut() {
            None => false,
            Some(c) => matches!(c.try_wait(), Ok(None)),
        }
    }

    /// SIGKILL and reap.
    fn kill(&mut self) -> Result<(), FixtureError> {
        if let Some(mut child) = self.child.take()
            && matches!(child.try_wait(), Ok(None))
        {
            signal(&child, libc::SIGKILL)?;
            child.wait().map_err(io_err("reaping etcd"))?;
        }
        Ok(())
    }

    /// SIGTERM, wait, then SIGKILL if it lingers.
    fn stop(&mut self) -> Result<(), FixtureError> {
        let Some(mut child) = self.child.take() else {
            return Ok(());
        };
        if matches!(child.try_wait(), Ok(Some(_))) {
            return Ok(());
        }
        signal(&child, libc::SIGTERM)?;
        let deadline = Instant::now() + STOP_TIMEOUT;
        while Instant::now() < deadline {
            if child
                .try_wait()
                .map_err(io_err("waiting for etcd"))?
                .is_some()
            {
                return Ok(());
            }
            std::thread::sleep(Duration::from_millis(20));
        }
        signal(&child, libc::SIGKILL)?;
        child.wait().map_err(io_err("reaping etcd"))?;
        Ok(())
    }

    /// `(member_id, leader_id)` from `/v3/maintenance/status`.
    fn status(&self) -> Option<(String, String)> {
        let (code, body) = http::request(
            self.client,
            "POST",
            "/v3/maintenance/status",
            "{}",
            Duration::from_secs(2),
        )
        .ok()?;
        if code != 200 {
            return None;
        }
        let v: serde_json::Value = serde_json::from_str(&body).ok()?;
        let member = v.get("header")?.get("member_id")?.as_str()?.to_owned();
        let leader = v.get("leader")?.as_str()?.to_owned();
        Some((member, leader))
    }
}

impl Drop for Member {
    fn drop(&mut self) {
        let _ = self.kill();
    }
}

fn start_members(bin: &Path, count: usize) -> Result<(TempDir, Vec<Member>), FixtureError> {
    let mut last_err = None;
    for _ in 0..START_ATTEMPTS {
        let dir = tempfile::Builder::new()
            .prefix("contiv-etcd-")
            .tempdir()
            .map_err(io_err("creating a temp dir"))?;
        let token = format!(
            "contiv-test-{}",
            dir.path()
                .file_name()
                .map(|n| n.to_string_lossy().into_owned())
                .unwrap_or_default()
        );
        let mut members = (0..count)
            .map(|i| Member::new(bin, dir.path(), &format!("m{i}"), &token))
            .collect::<Result<Vec<_>, _>>()?;
        let cluster = members
            .iter()
            .map(|m| format!("{}={}", m.name, m.peer_url()))
            .collect::<Vec<_>>()
            .join(",");
        for m in &mut members {
            m.initial_cluster = cluster.clone();
        }
        let started = (|| {
            for m in &mut members {
                m.spawn("new")?;
            }
            let deadline = Instant::now() + HEALTH_TIMEOUT;
            for m in &mut members {
                m.wait_healthy(deadline)?;
            }
            Ok::<(), FixtureError>(())
        })();
        match started {
            Ok(()) => return Ok((dir, members)),
            // A member that died at once most likely lost a port race:
            // try again with fresh ports.
            Err(e @ FixtureError::Unhealthy { .. }) => {
                for m in &mut members {
                    let _ = m.kill();
                }
                last_err = Some(e);
            }
            Err(e) => return Err(e),
        }
    }
    Err(last_err.unwrap_or_else(|| FixtureError::Misuse("no start attempt made".to_owned())))
}

/// A single-member etcd on free loopback ports in a temporary directory.
#[derive(Debug)]
pub struct EtcdServer {
    // Field order: the member (process) goes before its directory.
    member: Member,
    dir: TempDir,
}

impl EtcdServer {
    /// Starts etcd (`$ETCD_BIN`, else `etcd` on `PATH`) and waits until it
    /// is healthy.
    pub fn start() -> Result<Self, FixtureError> {
        EtcdServer::start_binary(&etcd_binary()?)
    }

    /// Starts the etcd binary at `bin` and waits until it is healthy.
    pub fn start_binary(bin: &Path) -> Result<Self, FixtureError> {
        let bin = explicit_binary(bin.to_path_buf(), "")?;
        let (dir, mut members) = start_members(&bin, 1)?;
        let member = members
            .pop()
            .ok_or_else(|| FixtureError::Misuse("no member started".to_owned()))?;
        Ok(EtcdServer { member, dir })
    }

    /// The client endpoint, `127.0.0.1:<port>`, as a one-element list.
    pub fn endpoints(&self) -> Vec<String> {
        vec![self.member.client.to_string()]
    }

    /// A store URL for [`open_store`](crate::open_store):
    /// `etcd://127.0.0.1:<port>`.
    pub fn store_url(&self) -> String {
        format!("etcd://{}", self.member.client)
    }

    /// The temporary directory holding the data dir and the log.
    pub fn dir(&self) -> &Path {
        self.dir.path()
    }

    /// The process id of the running etcd, if any.
    pub fn pid(&self) -> Option<u32> {
        self.member.child.as_ref().map(Child::id)
    }

    /// Stops etcd gracefully (SIGTERM; SIGKILL after 10 s).
    pub fn stop(&mut self) -> Result<(), FixtureError> {
        self.member.stop()
    }

    /// Kills etcd (SIGKILL), as a crash would.
    pub fn kill(&mut self) -> Result<(), FixtureError> {
        self.member.kill()
    }

    /// Starts a stopped or killed etcd again on the same data dir and ports
    /// and waits until it is healthy.
    pub fn start_again(&mut self) -> Result<(), FixtureError> {
        if self.member.is_running() {
            return Err(FixtureError::Misuse("etcd is still running".to_owned()));
        }
        self.member.spawn("existing")?;
        self.member.wait_healthy(Instant::now() + HEALTH_TIMEOUT)
    }

    /// Stops etcd gracefully and starts it again on the same data dir.
    pub fn restart(&mut self) -> Result<(), FixtureError> {
        self.stop()?;
        self.start_again()
    }
}

/// A multi-member etcd cluster on loopback (one temp dir, free ports).
#[derive(Debug)]
pub struct EtcdCluster {
    members: Vec<Member>,
    dir: TempDir,
}

impl EtcdCluster {
    /// Starts `size` members as a new cluster and waits until all are
    /// healthy.
    pub fn start(size: usize) -> Result<Self, FixtureError> {
        if size == 0 {
            return Err(FixtureError::Misuse(
                "a cluster needs at least one member".to_owned(),
            ));
        }
        let (dir, members) = start_members(&etcd_binary()?, size)?;
        Ok(EtcdCluster { members, dir })
    }

    /// Number of members (running or not).
    pub fn size(&self) -> usize {
        self.members.len()
    }

    /// The client endpoints of every member (`127.0.0.1:<port>`), including
    /// members that are currently down.
    pub fn endpoints(&self) -> Vec<String> {
        self.members.iter().map(|m| m.client.to_string()).collect()
    }

    /// The client endpoint of member `i`.
    pub fn endpoint(&self, i: usize) -> Result<String, FixtureError> {
        Ok(self.member(i)?.client.to_string())
    }

    /// A store URL naming every member: `etcd://a:p,b:q,…`.
    pub fn store_url(&self) -> String {
        format!("etcd://{}", self.endpoints().join(","))
    }

    /// The temporary directory holding data dirs and logs.
    pub fn dir(&self) -> &Path {
        self.dir.path()
    }

    fn member(&self, i: usize) -> Result<&Member, FixtureError> {
        self.members.get(i).ok_or_else(|| {
            FixtureError::Misuse(format!(
                "no member {i} in a cluster of {}",
                self.members.len()
            ))
        })
    }

    fn member_mut(&mut self, i: usize) -> Result<&mut Member, FixtureError> {
        let n = self.members.len();
        self.members
            .get_mut(i)
            .ok_or_else(|| FixtureError::Misuse(format!("no member {i} in a cluster of {n}")))
    }

    /// Kills member `i` with SIGKILL (a crash: no leadership hand-over).
    pub fn kill_member(&mut self, i: usize) -> Result<(), FixtureError> {
        self.member_mut(i)?.kill()
    }

    /// Stops member `i` gracefully (SIGTERM: a leader hands over first).
    pub fn stop_member(&mut self, i: usize) -> Result<(), FixtureError> {
        self.member_mut(i)?.stop()
    }

    /// Starts member `i` again (it rejoins with its data dir) and waits
    /// until it is healthy.
    pub fn restart_member(&mut self, i: usize) -> Result<(), FixtureError> {
        let m = self.member_mut(i)?;
        if m.is_running() {
            return Err(FixtureError::Misuse(format!("member {i} is still running")));
        }
        m.spawn("existing")?;
        m.wait_healthy(Instant::now() + HEALTH_TIMEOUT)
    }

    /// Whether member `i` is running.
    pub fn is_running(&mut self, i: usize) -> bool {
        self.members.get_mut(i).is_some_and(Member::is_running)
    }

    /// The index of the current leader as a running member reports it, or
    /// `None` if no running member knows a leader among the running ones.
    pub fn leader_index(&mut self) -> Option<usize> {
        let mut ids = Vec::with_capacity(self.members.len());
        for m in &mut self.members {
            let running = m.is_running();
            ids.push(if running { m.status() } else { None });
        }
        let leader = ids
            .iter()
            .flatten()
            .map(|(_, l)| l.clone())
            .find(|l| l != "0")?;
        ids.iter()
            .position(|s| s.as_ref().is_some_and(|(member, _)| *member == leader))
    }

    /// Waits until a running member is leader; returns its index.
    pub fn wait_for_leader(&mut self, timeout: Duration) -> Result<usize, FixtureError> {
        let deadline = Instant::now() + timeout;
        loop {
            if let Some(i) = self.leader_index() {
                return Ok(i);
            }
            if Instant::now() > deadline {
                return Err(FixtureError::Unhealthy {
                    member: "cluster".to_owned(),
                    reason: format!("no leader within {timeout:?}"),
                    log: String::new(),
                });
            }
            std::thread::sleep(Duration::from_millis(50));
        }
    }
}
