//! A release netmaster as a child process, and what the benches read of it
//! from `/proc` (CPU time, resident memory). Shared by the control-plane
//! benches (`fanout`, `control_plane`); each uses a part of it.
#![allow(dead_code)]

use std::net::{SocketAddr, TcpListener};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

/// The directory of the release binaries (`CONTIV_BIN_DIR`, default
/// `target/release`).
pub fn bin_dir() -> PathBuf {
    std::env::var_os("CONTIV_BIN_DIR")
        .map(PathBuf::from)
        .unwrap_or_else(|| Path::new(env!("CARGO_MANIFEST_DIR")).join("../target/release"))
}

/// A running netmaster process (stopped with SIGTERM on drop).
pub struct Daemon {
    child: Child,
    /// Where it listens.
    pub addr: SocketAddr,
    _dir: Option<tempfile::TempDir>,
}

impl Daemon {
    /// Starts `bin` with `args` plus `--listen-url 127.0.0.1:<free port>`
    /// and waits until the default tenant can be read (netmaster
    /// initialised; works for the original too). `dir` (kept alive with
    /// the process) holds its store.
    pub fn start(bin: &Path, args: &[String], dir: Option<tempfile::TempDir>) -> Daemon {
        assert!(
            bin.exists(),
            "{} is missing: build it first (`cargo build --release -p contiv-bins --bin netmaster`)",
            bin.display()
        );
        let port = free_port();
        let addr: SocketAddr = format!("127.0.0.1:{port}").parse().expect("address");
        let child = Command::new(bin)
            .args(args)
            .arg("--listen-url")
            .arg(addr.to_string())
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::inherit())
            .spawn()
            .unwrap_or_else(|e| panic!("cannot start {}: {e}", bin.display()));
        let d = Daemon {
            child,
            addr,
            _dir: dir,
        };
        let deadline = Instant::now() + Duration::from_secs(60);
        loop {
            if let Ok(mut r) = ureq_agent()
                .get(&format!("http://{addr}/api/v1/tenants/default/"))
                .call()
                && r.status().as_u16() == 200
            {
                let _ = r.body_mut().read_to_string();
                break;
            }
            assert!(Instant::now() < deadline, "netmaster did not come up");
            std::thread::sleep(Duration::from_millis(50));
        }
        d
    }

    /// The process id.
    pub fn pid(&self) -> u32 {
        self.child.id()
    }

    /// CPU time used so far (user, system).
    pub fn cpu(&self) -> (Duration, Duration) {
        cpu_of(self.pid())
    }

    /// Resident memory in bytes.
    pub fn rss(&self) -> u64 {
        rss_of(self.pid())
    }

    /// Base URL.
    pub fn url(&self) -> String {
        format!("http://{}", self.addr)
    }
}

impl Drop for Daemon {
    fn drop(&mut self) {
        // SIGTERM by pid, then wait; SIGKILL if it does not stop.
        let pid = self.child.id() as libc::pid_t;
        // SAFETY: kill(2) on our own child's pid.
        unsafe {
            libc::kill(pid, libc::SIGTERM);
        }
        let deadline = Instant::now() + Duration::from_secs(10);
        while Instant::now() < deadline {
            if let Ok(Some(_)) = self.child.try_wait() {
                return;
            }
            std::thread::sleep(Duration::from_millis(20));
        }
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// A free loopback TCP port (bound and released; good enough for a bench).
pub fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .expect("a free port")
        .port()
}

/// A single-member etcd (Debian's `etcd`) in a temp dir, with the v2 API
/// enabled (the original netmaster speaks v2).
pub struct Etcd {
    child: Child,
    /// `http://127.0.0.1:<port>`.
    pub url: String,
    _dir: tempfile::TempDir,
}

impl Etcd {
    /// Starts etcd and waits until it answers.
    pub fn start() -> Etcd {
        let dir = tempfile::tempdir().expect("temp dir");
        let (c, p) = (free_port(), free_port());
        let url = format!("http://127.0.0.1:{c}");
        let peer = format!("http://127.0.0.1:{p}");
        let child = Command::new("etcd")
            .args(["--name", "bench", "--data-dir"])
            .arg(dir.path().join("data"))
            .args([
                "--listen-client-urls",
                &url,
                "--advertise-client-urls",
                &url,
            ])
            .args([
                "--listen-peer-urls",
                &peer,
                "--initial-advertise-peer-urls",
                &peer,
            ])
            .args(["--initial-cluster", &format!("bench={peer}")])
            .args(["--enable-v2", "--log-level", "warn", "--logger", "zap"])
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("etcd (apt-get install etcd-server) starts");
        let e = Etcd {
            child,
            url,
            _dir: dir,
        };
        let deadline = Instant::now() + Duration::from_secs(30);
        loop {
            if let Ok(mut r) = ureq_agent().get(&format!("{}/health", e.url)).call()
                && r.status().as_u16() == 200
            {
                let _ = r.body_mut().read_to_string();
                break;
            }
            assert!(Instant::now() < deadline, "etcd did not come up");
            std::thread::sleep(Duration::from_millis(50));
        }
        e
    }
}

impl Drop for Etcd {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// CPU time of a process (user, system) from `/proc/<pid>/stat`.
pub fn cpu_of(pid: u32) -> (Duration, Duration) {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).unwrap_or_default();
    // Fields after the command (which may hold spaces) in parentheses.
    let rest = stat.rsplit_once(')').map_or("", |(_, r)| r);
    let f: Vec<&str> = rest.split_whitespace().collect();
    // SAFETY: sysconf has no preconditions.
    let hz = unsafe { libc::sysconf(libc::_SC_CLK_TCK) }.max(1) as f64;
    let ticks = |i: usize| f.get(i).and_then(|s| s.parse::<f64>().ok()).unwrap_or(0.0);
    // utime and stime are fields 14 and 15 of stat: 11 and 12 after ')'.
    (
        Duration::from_secs_f64(ticks(11) / hz),
        Duration::from_secs_f64(ticks(12) / hz),
    )
}

/// Resident memory of a process in bytes (`VmRSS`).
pub fn rss_of(pid: u32) -> u64 {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).unwrap_or_default();
    status
        .lines()
        .find_map(|l| l.strip_prefix("VmRSS:"))
        .and_then(|v| v.split_whitespace().next())
        .and_then(|kb| kb.parse::<u64>().ok())
        .map_or(0, |kb| kb * 1024)
}

/// The 1-minute load average.
pub fn load_average() -> String {
    std::fs::read_to_string("/proc/loadavg")
        .ok()
        .and_then(|s| {
            s.split_whitespace()
                .take(3)
                .collect::<Vec<_>>()
                .join(" ")
                .into()
        })
        .unwrap_or_default()
}

/// A blocking HTTP client with keep-alive that returns every status.
pub fn ureq_agent() -> ureq::Agent {
    ureq::Agent::config_builder()
        .http_status_as_error(false)
        .proxy(None)
        .timeout_global(Some(Duration::from_secs(120)))
        .build()
        .into()
}

/// Raises the open-file limit to its hard limit (thousands of sockets).
pub fn raise_fd_limit() -> u64 {
    let mut lim = libc::rlimit {
        rlim_cur: 0,
        rlim_max: 0,
    };
    // SAFETY: getrlimit/setrlimit with a valid pointer.
    unsafe {
        libc::getrlimit(libc::RLIMIT_NOFILE, &mut lim);
        lim.rlim_cur = lim.rlim_max;
        libc::setrlimit(libc::RLIMIT_NOFILE, &lim);
    }
    lim.rlim_cur
}

/// The value at quantile `q` (0..=1) of sorted samples.
pub fn quantile<T: Copy>(sorted: &[T], q: f64) -> Option<T> {
    if sorted.is_empty() {
        return None;
    }
    let i = ((sorted.len() - 1) as f64 * q).round() as usize;
    sorted.get(i).copied()
}

/// Milliseconds with two decimals.
pub fn ms(d: Duration) -> String {
    format!("{:.2}", d.as_secs_f64() * 1e3)
}
