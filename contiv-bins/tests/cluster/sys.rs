//! Processes, commands, names and waiting: the small tools every other
//! part of the harness uses.
//!
//! * [`Proc`]: a child process with its output in a log file, stopped by
//!   pid (SIGKILL) when dropped — also while a test unwinds from a panic;
//!   it can be paused (SIGSTOP) and resumed, or stopped gracefully.
//! * [`run`] / [`must`]: run a command to completion.
//! * [`unique`]: names that cannot collide with another test process.
//! * [`eventually`]: poll until something holds, or fail saying what.

use std::fs::{File, OpenOptions};
use std::io::Read;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, ExitStatus, Stdio};
use std::sync::atomic::{AtomicU32, Ordering};
use std::time::{Duration, Instant};

static NEXT: AtomicU32 = AtomicU32::new(0);

/// A name no other test process uses: `<prefix><pid>x<n>`.
pub fn unique(prefix: &str) -> String {
    format!(
        "{prefix}{}x{}",
        std::process::id(),
        NEXT.fetch_add(1, Ordering::Relaxed)
    )
}

/// Runs `cmd` to completion: its stdout, or an error with the command
/// line, the exit status and stderr.
pub fn run(cmd: &mut Command) -> Result<String, String> {
    let shown = format!("{cmd:?}");
    let out = cmd
        .stdin(Stdio::null())
        .output()
        .map_err(|e| format!("cannot run {shown}: {e}"))?;
    if !out.status.success() {
        return Err(format!(
            "{shown} failed ({}): {}{}",
            out.status,
            String::from_utf8_lossy(&out.stdout).trim(),
            String::from_utf8_lossy(&out.stderr).trim()
        ));
    }
    Ok(String::from_utf8_lossy(&out.stdout).into_owned())
}

/// Runs `args` (program first) to completion; panics if it fails.
pub fn must(args: &[&str]) -> String {
    let (prog, rest) = args.split_first().expect("a command line");
    run(Command::new(prog).args(rest)).unwrap_or_else(|e| panic!("{e}"))
}

/// Runs `args` and ignores the outcome (cleanup paths).
pub fn quiet(args: &[&str]) {
    if let Some((prog, rest)) = args.split_first() {
        let _ = Command::new(prog)
            .args(rest)
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .status();
    }
}

/// Polls `f` every 50 ms until it returns `Some`; panics after `timeout`
/// saying `what` did not happen.
pub fn eventually<T>(what: &str, timeout: Duration, mut f: impl FnMut() -> Option<T>) -> T {
    let start = Instant::now();
    loop {
        if let Some(v) = f() {
            return v;
        }
        assert!(start.elapsed() < timeout, "{what}: not within {timeout:?}");
        std::thread::sleep(Duration::from_millis(50));
    }
}

/// Like [`eventually`] without panicking: whether `f` held within
/// `timeout`, and how long it took.
pub fn within(timeout: Duration, mut f: impl FnMut() -> bool) -> Option<Duration> {
    let start = Instant::now();
    loop {
        if f() {
            return Some(start.elapsed());
        }
        if start.elapsed() >= timeout {
            return None;
        }
        std::thread::sleep(Duration::from_millis(50));
    }
}

/// The last `n` lines of a text file (empty if unreadable).
pub fn tail(path: &Path, n: usize) -> String {
    let mut s = String::new();
    if let Ok(mut f) = File::open(path) {
        let _ = f.read_to_string(&mut s);
    }
    let lines: Vec<&str> = s.lines().collect();
    lines[lines.len().saturating_sub(n)..].join("\n")
}

/// Sends `sig` to `pid` (our own unreaped child).
fn signal(pid: u32, sig: libc::c_int) {
    if let Ok(pid) = libc::pid_t::try_from(pid) {
        // SAFETY: kill(2) has no memory-safety preconditions; the pid is a
        // child we hold the `Child` of and have not reaped, so it cannot
        // name another process.
        unsafe {
            libc::kill(pid, sig);
        }
    }
}

/// A child process whose stdout and stderr go to a log file; killed by pid
/// (SIGKILL) and reaped when dropped.
#[derive(Debug)]
pub struct Proc {
    child: Option<Child>,
    /// What it is, for messages.
    pub what: String,
    /// Its log file.
    pub log: PathBuf,
}

impl Proc {
    /// Starts `cmd`, appending its output to `log`.
    pub fn spawn(what: &str, mut cmd: Command, log: &Path) -> Proc {
        let out = OpenOptions::new()
            .create(true)
            .append(true)
            .open(log)
            .unwrap_or_else(|e| panic!("cannot open {}: {e}", log.display()));
        let err = out.try_clone().expect("clone the log file handle");
        let child = cmd
            .stdin(Stdio::null())
            .stdout(out)
            .stderr(err)
            .spawn()
            .unwrap_or_else(|e| panic!("cannot start {what} ({cmd:?}): {e}"));
        Proc {
            child: Some(child),
            what: what.to_owned(),
            log: log.to_owned(),
        }
    }

    /// Its pid while it has not been reaped.
    pub fn pid(&self) -> Option<u32> {
        self.child.as_ref().map(Child::id)
    }

    /// Its exit status if it has exited (reaping it).
    pub fn exited(&mut self) -> Option<ExitStatus> {
        self.child
            .as_mut()
            .and_then(|c| c.try_wait().ok().flatten())
    }

    /// SIGKILL (a crash) and reap.
    pub fn kill9(&mut self) {
        if let Some(mut c) = self.child.take() {
            let _ = c.kill();
            let _ = c.wait();
        }
    }

    /// SIGTERM, up to `grace` to exit, then SIGKILL; reaped.
    pub fn terminate(&mut self, grace: Duration) {
        let Some(mut c) = self.child.take() else {
            return;
        };
        signal(c.id(), libc::SIGCONT);
        signal(c.id(), libc::SIGTERM);
        let deadline = Instant::now() + grace;
        while Instant::now() < deadline {
            if let Ok(Some(_)) = c.try_wait() {
                return;
            }
            std::thread::sleep(Duration::from_millis(20));
        }
        let _ = c.kill();
        let _ = c.wait();
    }

    /// SIGSTOP: the process freezes (a hung daemon) but keeps its sockets.
    pub fn pause(&self) {
        if let Some(pid) = self.pid() {
            signal(pid, libc::SIGSTOP);
        }
    }

    /// SIGCONT after [`Proc::pause`].
    pub fn resume(&self) {
        if let Some(pid) = self.pid() {
            signal(pid, libc::SIGCONT);
        }
    }

    /// The last `n` lines of its log.
    pub fn log_tail(&self, n: usize) -> String {
        tail(&self.log, n)
    }
}

impl Drop for Proc {
    fn drop(&mut self) {
        self.kill9();
    }
}
