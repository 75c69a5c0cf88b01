//! The real `netmaster` binary as a child process: free loopback port,
//! log file in a temp dir, killed by pid (SIGKILL) when dropped.

use super::client::Client;
use std::fs::File;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, ExitStatus, Stdio};
use std::time::Duration;

/// Path of the built `netmaster` binary.
pub fn netmaster_bin() -> &'static str {
    env!("CARGO_BIN_EXE_netmaster")
}

/// Path of the built `netctl` binary.
pub fn netctl_bin() -> &'static str {
    env!("CARGO_BIN_EXE_netctl")
}

/// A running `netmaster` process.
pub struct NetmasterProcess {
    child: Option<Child>,
    /// `http://127.0.0.1:<port>` (or https).
    pub url: String,
    /// Its listen port.
    pub port: u16,
    /// stdout+stderr of the process.
    pub log: PathBuf,
}

impl NetmasterProcess {
    /// Starts `netmaster <args…>` with `--listen-url 127.0.0.1:<port>`
    /// added unless `port` is `None` (the args then choose), the given
    /// extra environment, and every `CONTIV_*` variable of the test
    /// environment removed. Logs go to `dir/<name>.log`.
    pub fn spawn(
        dir: &Path,
        name: &str,
        port: Option<u16>,
        args: &[&str],
        env: &[(&str, &str)],
    ) -> Self {
        Self::spawn_limited(dir, name, port, args, env, None)
    }

    /// [`NetmasterProcess::spawn`] with the process's open-file limit
    /// (`RLIMIT_NOFILE`) set to `nofile` (tests of running out of file
    /// descriptors).
    pub fn spawn_limited(
        dir: &Path,
        name: &str,
        port: Option<u16>,
        args: &[&str],
        env: &[(&str, &str)],
        nofile: Option<u64>,
    ) -> Self {
        let log = dir.join(format!("{name}.log"));
        let out = File::create(&log).expect("create the log file");
        let err = out.try_clone().expect("clone the log file");
        let mut cmd = Command::new(netmaster_bin());
        for (k, _) in std::env::vars_os() {
            if k.to_string_lossy().starts_with("CONTIV_") {
                cmd.env_remove(k);
            }
        }
        let listen;
        if let Some(p) = port {
            listen = format!("127.0.0.1:{p}");
            cmd.args(["--listen-url", &listen]);
        }
        cmd.args(args)
            .envs(env.iter().copied())
            .stdin(Stdio::null())
            .stdout(out)
            .stderr(err);
        if let Some(n) = nofile {
            use std::os::unix::process::CommandExt;
            // SAFETY: only setrlimit(2), which is async-signal-safe, runs
            // between fork and exec; the struct lives on this stack frame.
            unsafe {
                cmd.pre_exec(move || {
                    let lim = libc::rlimit {
                        rlim_cur: n,
                        rlim_max: n,
                    };
                    if libc::setrlimit(libc::RLIMIT_NOFILE, &lim) != 0 {
                        return Err(std::io::Error::last_os_error());
                    }
                    Ok(())
                });
            }
        }
        let child = cmd.spawn().expect("start the netmaster binary");
        let port = port.unwrap_or(0);
        NetmasterProcess {
            child: Some(child),
            url: format!("http://127.0.0.1:{port}"),
            port,
            log,
        }
    }

    /// The process id.
    pub fn pid(&self) -> u32 {
        self.child.as_ref().map(Child::id).unwrap_or(0)
    }

    /// A client of its API.
    pub fn client(&self) -> Client {
        Client::new(&self.url)
    }

    /// The log so far.
    pub fn log_text(&self) -> String {
        std::fs::read_to_string(&self.log).unwrap_or_default()
    }

    /// Waits until `GET /version` answers (and the process still runs).
    pub fn wait_listening(&mut self, timeout: Duration) {
        let client = self.client();
        let ok = super::wait_until(timeout, || {
            if let Some(status) = self.try_exit() {
                panic!(
                    "netmaster exited with {status} while starting:\n{}",
                    self.log_text()
                );
            }
            client
                .try_send("GET", "/version", None)
                .ok()
                .filter(|r| r.status == 200)
        });
        assert!(
            ok.is_some(),
            "netmaster did not listen within {timeout:?}:\n{}",
            self.log_text()
        );
    }

    /// Waits until the API serves the default tenant.
    pub fn wait_ready(&mut self, timeout: Duration) {
        self.wait_listening(timeout);
        let client = self.client();
        let ok = super::wait_until(timeout, || {
            client
                .try_send("GET", "/api/v1/tenants/default/", None)
                .ok()
                .filter(|r| r.status == 200)
        });
        assert!(
            ok.is_some(),
            "netmaster not ready within {timeout:?}:\n{}",
            self.log_text()
        );
    }

    /// The exit status if it has exited.
    pub fn try_exit(&mut self) -> Option<ExitStatus> {
        self.child
            .as_mut()
            .and_then(|c| c.try_wait().ok().flatten())
    }

    /// Waits for the process to exit (at most `timeout`).
    pub fn wait_exit(&mut self, timeout: Duration) -> ExitStatus {
        let st = super::wait_until(timeout, || self.try_exit());
        st.unwrap_or_else(|| {
            panic!(
                "netmaster did not exit within {timeout:?}:\n{}",
                self.log_text()
            )
        })
    }

    /// SIGKILL (a crash), then reap.
    pub fn kill9(&mut self) {
        if let Some(mut c) = self.child.take() {
            let _ = c.kill();
            let _ = c.wait();
        }
    }

    /// SIGTERM (a normal stop request); returns the exit status.
    pub fn terminate(&mut self, timeout: Duration) -> ExitStatus {
        let pid = libc::pid_t::try_from(self.pid()).expect("pid fits");
        // SAFETY: kill(2) has no memory-safety preconditions; the pid is
        // our own unreaped child, so it cannot name another process.
        let rc = unsafe { libc::kill(pid, libc::SIGTERM) };
        assert_eq!(rc, 0, "SIGTERM to netmaster {pid}");
        let st = self.wait_exit(timeout);
        self.child = None;
        st
    }
}

impl Drop for NetmasterProcess {
    fn drop(&mut self) {
        self.kill9();
    }
}

/// Runs `netmaster <args>` to completion (for flag errors, `--help`):
/// exit code, stdout, stderr. A process still running after 20 s is
/// killed and the test fails.
pub fn run_netmaster(args: &[&str], env: &[(&str, &str)]) -> (i32, String, String) {
    let dir = tempfile::tempdir().expect("temp dir");
    let out_path = dir.path().join("stdout");
    let err_path = dir.path().join("stderr");
    let mut cmd = Command::new(netmaster_bin());
    for (k, _) in std::env::vars_os() {
        if k.to_string_lossy().starts_with("CONTIV_") {
            cmd.env_remove(k);
        }
    }
    let child = cmd
        .args(args)
        .envs(env.iter().copied())
        .stdin(Stdio::null())
        .stdout(File::create(&out_path).expect("stdout file"))
        .stderr(File::create(&err_path).expect("stderr file"))
        .spawn()
        .expect("run netmaster");
    let mut p = NetmasterProcess {
        child: Some(child),
        url: String::new(),
        port: 0,
        log: err_path.clone(),
    };
    let status = p.wait_exit(Duration::from_secs(20));
    (
        status.code().unwrap_or(-1),
        std::fs::read_to_string(&out_path).unwrap_or_default(),
        std::fs::read_to_string(&err_path).unwrap_or_default(),
    )
}
