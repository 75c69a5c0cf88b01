//! The gobgpd process: started by the agent in the switch namespace (where
//! the router address lives), in its own session so it outlives the agent,
//! its API on a unix socket in `<state-dir>/bgp/`, its pid in a file next
//! to it. A restarted agent adopts the running one (checked by pid, by
//! `/proc/<pid>/cmdline` naming our socket, and by the API answering), so
//! sessions and routes survive agent restarts; a dead one is started
//! again.

use contiv_core::linux::Netns;
use std::os::unix::process::CommandExt;
use std::path::{Path, PathBuf};
use std::time::Duration;
use tracing::{info, warn};

/// The files of one speaker.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct SpeakerFiles {
    /// The directory (`<state-dir>/bgp`).
    pub dir: PathBuf,
}

impl SpeakerFiles {
    /// The files under `<state_dir>/bgp`.
    pub fn new(state_dir: &Path) -> SpeakerFiles {
        SpeakerFiles {
            dir: state_dir.join("bgp"),
        }
    }

    /// The API socket.
    pub fn socket(&self) -> PathBuf {
        self.dir.join("gobgpd.sock")
    }

    /// The pid file.
    pub fn pidfile(&self) -> PathBuf {
        self.dir.join("gobgpd.pid")
    }

    /// The log file (appended to by every start).
    pub fn log(&self) -> PathBuf {
        self.dir.join("gobgpd.log")
    }

    /// The pid of the gobgpd serving our socket, if one runs.
    pub fn running_pid(&self) -> Option<u32> {
        let pid: u32 = std::fs::read_to_string(self.pidfile())
            .ok()?
            .trim()
            .parse()
            .ok()?;
        let cmdline = std::fs::read(format!("/proc/{pid}/cmdline")).ok()?;
        let cmdline = String::from_utf8_lossy(&cmdline);
        let sock = self.socket();
        (cmdline.contains("gobgpd") && cmdline.contains(&*sock.to_string_lossy())).then_some(pid)
    }
}

/// Starts gobgpd for `files` in `ns` (its own session; stdout and stderr
/// appended to the log) and records its pid. Returns the pid.
pub fn spawn(gobgpd: &Path, files: &SpeakerFiles, ns: &Netns) -> Result<u32, String> {
    std::fs::create_dir_all(&files.dir)
        .map_err(|e| format!("cannot create {}: {e}", files.dir.display()))?;
    let _ = std::fs::remove_file(files.socket());
    let log = std::fs::OpenOptions::new()
        .create(true)
        .append(true)
        .open(files.log())
        .map_err(|e| format!("cannot open {}: {e}", files.log().display()))?;
    let log2 = log
        .try_clone()
        .map_err(|e| format!("cannot open {}: {e}", files.log().display()))?;
    let api = format!("unix://{}", files.socket().display());
    let mut cmd = match ns {
        Netns::Current => std::process::Command::new(gobgpd),
        Netns::Path(p) => {
            let mut c = std::process::Command::new("nsenter");
            c.arg(format!("--net={}", p.display()))
                .arg("--")
                .arg(gobgpd);
            c
        }
    };
    cmd.args([
        "--api-hosts",
        &api,
        "--pprof-disable",
        "--log-plain",
        "-l",
        "info",
    ])
    .stdin(std::process::Stdio::null())
    .stdout(log)
    .stderr(log2);
    // Its own session: signals to the agent's process group (a terminal's
    // ^C, a supervisor stopping the agent) do not reach it.
    // SAFETY: setsid is async-signal-safe and touches no memory of ours.
    unsafe {
        cmd.pre_exec(|| {
            if libc::setsid() < 0 {
                return Err(std::io::Error::last_os_error());
            }
            Ok(())
        });
    }
    let child = cmd.spawn().map_err(|e| {
        format!(
            "cannot start {} (install gobgpd: make deps): {e}",
            gobgpd.display()
        )
    })?;
    let pid = child.id();
    // The child is reaped by whoever is its parent when it exits; keeping
    // the handle would only make the agent its reaper while it lives.
    std::thread::spawn(move || {
        let mut child = child;
        let _ = child.wait();
    });
    std::fs::write(files.pidfile(), format!("{pid}\n"))
        .map_err(|e| format!("cannot write {}: {e}", files.pidfile().display()))?;
    info!(pid, socket = %files.socket().display(), "gobgpd started");
    Ok(pid)
}

/// Waits until the API socket exists (gobgpd listens), up to `timeout`.
pub async fn wait_socket(files: &SpeakerFiles, timeout: Duration) -> bool {
    let deadline = tokio::time::Instant::now() + timeout;
    while tokio::time::Instant::now() < deadline {
        if files.socket().exists() {
            return true;
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    false
}

/// Stops the gobgpd of `files` (SIGTERM, then SIGKILL after 2 s) and
/// removes its files.
pub async fn stop(files: &SpeakerFiles) {
    if let Some(pid) = files.running_pid() {
        let p = pid as libc::pid_t;
        // SAFETY: plain syscall on a pid we checked is our gobgpd.
        unsafe {
            libc::kill(p, libc::SIGTERM);
        }
        let deadline = tokio::time::Instant::now() + Duration::from_secs(2);
        while Path::new(&format!("/proc/{pid}")).exists() && tokio::time::Instant::now() < deadline
        {
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
        if Path::new(&format!("/proc/{pid}")).exists() {
            warn!(pid, "gobgpd did not stop on SIGTERM; killing it");
            // SAFETY: as above.
            unsafe {
                libc::kill(p, libc::SIGKILL);
            }
        }
        info!(pid, "gobgpd stopped");
    }
    let _ = std::fs::remove_file(files.pidfile());
    let _ = std::fs::remove_file(files.socket());
}
