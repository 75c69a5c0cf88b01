//! Test fixture: a private Open vSwitch (ovsdb-server + ovs-vswitchd with
//! the userspace datapath) per test.
//!
//! [`OvsInstance::start`] creates a temporary run directory, a fresh
//! `conf.db`, and starts both daemons with `OVS_RUNDIR`, `OVS_LOGDIR` and
//! `OVS_DBDIR` pointing at it, inside a network namespace (`ip netns
//! exec`): by default a private one the instance creates, or one the caller
//! names (one instance per simulated host). The userspace datapath creates
//! a tap device per bridge in that namespace, so instances never collide on
//! bridge names and nothing is left in the host namespace. Dropping the
//! instance — also while unwinding from a panic — stops both daemons by pid
//! (SIGTERM, then SIGKILL), deletes a namespace it created, and removes the
//! directory. Several instances can run at once; nothing is shared.
//!
//! Missing OVS binaries are a [`FixtureError::MissingBinary`], never a
//! silent skip.
//!
//! ```no_run
//! use contiv_dp_ovs::testing::OvsInstance;
//! let ovs = OvsInstance::start().unwrap();
//! ovs.add_bridge("br0").unwrap();
//! let flows = ovs.dump_flows("br0").unwrap();
//! assert!(flows.is_empty()); // fail_mode=secure: no default NORMAL flow
//! ```

use crate::openflow::dump::{FlowLine, normalize};
use std::fs::File;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

/// Where Debian installs the vswitch schema.
const SCHEMA: &str = "/usr/share/openvswitch/vswitch.ovsschema";

/// Fixture failures, with enough context to act on.
#[derive(Debug, thiserror::Error)]
pub enum FixtureError {
    /// An OVS program is not installed.
    #[error("{0} not found in PATH or /usr/sbin: install openvswitch-switch (`make deps`)")]
    MissingBinary(&'static str),
    /// The vswitch schema file is missing.
    #[error("OVS schema {0} not found: install openvswitch-common (`make deps`)")]
    MissingSchema(&'static str),
    /// Creating files or processes failed.
    #[error("{what}: {source}")]
    Io {
        /// What was being done.
        what: String,
        /// The OS error.
        source: std::io::Error,
    },
    /// A daemon did not come up in time.
    #[error("{daemon} did not become ready within {secs}s; log tail:\n{log}")]
    NotReady {
        /// Which daemon.
        daemon: &'static str,
        /// Seconds waited.
        secs: u64,
        /// The end of its log.
        log: String,
    },
    /// A helper command exited with a failure.
    #[error("`{cmd}` failed ({status}): {stderr}")]
    Command {
        /// The command line.
        cmd: String,
        /// Its exit status.
        status: String,
        /// Its standard error.
        stderr: String,
    },
}

/// Which network namespace the daemons run in.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub enum Netns {
    /// A fresh namespace created for (and deleted with) the instance.
    #[default]
    Private,
    /// An existing namespace the caller manages (`ip netns add <name>`).
    Existing(String),
    /// The namespace of the test process itself (bridges' tap devices
    /// appear there; only one instance may use a given bridge name).
    Host,
}

/// Options for [`OvsInstance::start_with`].
#[derive(Debug, Clone, Default)]
pub struct OvsOptions {
    /// Where the daemons run.
    pub netns: Netns,
}

/// A private ovsdb-server + ovs-vswitchd pair. See the
/// [module documentation](self).
#[derive(Debug)]
pub struct OvsInstance {
    dir: Option<tempfile::TempDir>,
    rundir: PathBuf,
    netns: Option<String>,
    owns_netns: bool,
    ovsdb: Option<Child>,
    vswitchd: Option<Child>,
}

fn find_binary(name: &'static str) -> Result<PathBuf, FixtureError> {
    let path = std::env::var_os("PATH").unwrap_or_default();
    std::env::split_paths(&path)
        .chain(["/usr/sbin", "/usr/bin", "/sbin", "/usr/local/sbin"].map(PathBuf::from))
        .map(|d| d.join(name))
        .find(|p| p.is_file())
        .ok_or(FixtureError::MissingBinary(name))
}

fn io(what: impl Into<String>) -> impl FnOnce(std::io::Error) -> FixtureError {
    let what = what.into();
    move |source| FixtureError::Io { what, source }
}

fn log_tail(path: &Path) -> String {
    let s = std::fs::read_to_string(path).unwrap_or_default();
    let lines: Vec<&str> = s.lines().collect();
    lines[lines.len().saturating_sub(15)..].join("\n")
}

/// Runs a command to completion, returning stdout or a [`FixtureError::Command`].
fn run(mut cmd: Command) -> Result<String, FixtureError> {
    let shown = format!("{cmd:?}");
    let out = cmd
        .stdin(Stdio::null())
        .output()
        .map_err(io(format!("running {shown}")))?;
    if !out.status.success() {
        return Err(FixtureError::Command {
            cmd: shown,
            status: out.status.to_string(),
            stderr: String::from_utf8_lossy(&out.stderr).trim().to_owned(),
        });
    }
    Ok(String::from_utf8_lossy(&out.stdout).into_owned())
}

/// Sends `sig` to `pid`.
fn signal(pid: u32, sig: libc::c_int) {
    if let Ok(pid) = libc::pid_t::try_from(pid) {
        // SAFETY: kill(2) has no memory-safety preconditions; the pid is one
        // of our own children that has not been reaped yet.
        unsafe {
            libc::kill(pid, sig);
        }
    }
}

/// Stops a child: SIGTERM, up to 5 s grace, then SIGKILL; always reaped.
fn stop_child(child: &mut Child) {
    if let Ok(Some(_)) = child.try_wait() {
        return;
    }
    signal(child.id(), libc::SIGTERM);
    let deadline = Instant::now() + Duration::from_secs(5);
    while Instant::now() < deadline {
        if let Ok(Some(_)) = child.try_wait() {
            return;
        }
        std::thread::sleep(Duration::from_millis(20));
    }
    let _ = child.kill();
    let _ = child.wait();
}

impl OvsInstance {
    /// Starts an instance in the current network namespace.
    pub fn start() -> Result<OvsInstance, FixtureError> {
        Self::start_with(OvsOptions::default())
    }

    /// Starts an instance with options (e.g. inside a network namespace).
    pub fn start_with(opts: OvsOptions) -> Result<OvsInstance, FixtureError> {
        for b in [
            "ip",
            "ovsdb-tool",
            "ovsdb-server",
            "ovs-vswitchd",
            "ovs-vsctl",
            "ovs-ofctl",
            "ovs-appctl",
        ] {
            find_binary(b)?;
        }
        if !Path::new(SCHEMA).is_file() {
            return Err(FixtureError::MissingSchema(SCHEMA));
        }
        let dir = tempfile::Builder::new()
            .prefix("ovs-")
            .tempdir()
            .map_err(io("creating the OVS run directory"))?;
        let rundir = dir.path().to_path_buf();
        let (netns, owns_netns) = match opts.netns {
            Netns::Private => (Some(create_private_netns()?), true),
            Netns::Existing(n) => (Some(n), false),
            Netns::Host => (None, false),
        };
        let mut me = OvsInstance {
            dir: Some(dir),
            rundir,
            netns,
            owns_netns,
            ovsdb: None,
            vswitchd: None,
        };
        let mut create = Command::new(find_binary("ovsdb-tool")?);
        create
            .arg("create")
            .arg(me.rundir.join("conf.db"))
            .arg(SCHEMA);
        run(create)?;
        me.start_ovsdb()?;
        me.vsctl(&["--no-wait", "init"])?;
        me.start_vswitchd()?;
        Ok(me)
    }

    fn daemon(&self, bin: &'static str, args: &[String], log: &str) -> Result<Child, FixtureError> {
        let exe = find_binary(bin)?;
        let mut cmd = match &self.netns {
            Some(ns) => {
                let mut c = Command::new(find_binary("ip")?);
                c.args(["netns", "exec", ns.as_str()]).arg(exe);
                c
            }
            None => Command::new(exe),
        };
        let stderr = File::create(self.rundir.join(format!("{log}.stderr")))
            .map_err(io("creating a daemon stderr file"))?;
        cmd.args(args)
            .env("OVS_RUNDIR", &self.rundir)
            .env("OVS_LOGDIR", &self.rundir)
            .env("OVS_DBDIR", &self.rundir)
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(stderr);
        cmd.spawn().map_err(io(format!("starting {bin}")))
    }

    fn wait_for_socket(
        &self,
        path: &Path,
        daemon: &'static str,
        log: &str,
    ) -> Result<(), FixtureError> {
        let secs = 10;
        let deadline = Instant::now() + Duration::from_secs(secs);
        while Instant::now() < deadline {
            if std::os::unix::net::UnixStream::connect(path).is_ok() {
                return Ok(());
            }
            std::thread::sleep(Duration::from_millis(10));
        }
        let mut tail = log_tail(&self.rundir.join(format!("{log}.log")));
        tail.push_str(&log_tail(&self.rundir.join(format!("{log}.stderr"))));
        Err(FixtureError::NotReady {
            daemon,
            secs,
            log: tail,
        })
    }

    fn start_ovsdb(&mut self) -> Result<(), FixtureError> {
        let d = |f: &str| self.rundir.join(f).display().to_string();
        let args = vec![
            d("conf.db"),
            format!("--remote=punix:{}", d("db.sock")),
            format!("--unixctl={}", d("ovsdb-server.ctl")),
            format!("--log-file={}", d("ovsdb-server.log")),
            "--no-chdir".into(),
        ];
        let child = self.daemon("ovsdb-server", &args, "ovsdb-server")?;
        self.ovsdb = Some(child);
        self.wait_for_socket(&self.db_socket(), "ovsdb-server", "ovsdb-server")
    }

    fn start_vswitchd(&mut self) -> Result<(), FixtureError> {
        let d = |f: &str| self.rundir.join(f).display().to_string();
        let args = vec![
            format!("unix:{}", d("db.sock")),
            format!("--unixctl={}", d("ovs-vswitchd.ctl")),
            format!("--log-file={}", d("ovs-vswitchd.log")),
            "--no-chdir".into(),
        ];
        let child = self.daemon("ovs-vswitchd", &args, "ovs-vswitchd")?;
        self.vswitchd = Some(child);
        self.wait_for_socket(&self.appctl_socket(), "ovs-vswitchd", "ovs-vswitchd")?;
        // Ready means it has read the database too.
        self.appctl(&["version"]).map(|_| ())
    }

    /// Stops ovs-vswitchd (bridges stay in the database).
    pub fn stop_vswitchd(&mut self) {
        if let Some(mut c) = self.vswitchd.take() {
            stop_child(&mut c);
        }
    }

    /// Restarts ovs-vswitchd: every OpenFlow connection drops and the
    /// bridges come back empty of flows (for reconnect/resync tests).
    pub fn restart_vswitchd(&mut self) -> Result<(), FixtureError> {
        self.stop_vswitchd();
        self.start_vswitchd()
    }

    /// The run directory (sockets, logs, database).
    pub fn rundir(&self) -> &Path {
        &self.rundir
    }

    /// The network namespace the daemons run in (`None` = the host's).
    pub fn netns(&self) -> Option<&str> {
        self.netns.as_deref()
    }

    /// The OVSDB unix socket (`<rundir>/db.sock`).
    pub fn db_socket(&self) -> PathBuf {
        self.rundir.join("db.sock")
    }

    /// A bridge's OpenFlow management socket (`<rundir>/<bridge>.mgmt`).
    pub fn mgmt_socket(&self, bridge: &str) -> PathBuf {
        self.rundir.join(format!("{bridge}.mgmt"))
    }

    /// ovs-vswitchd's control socket.
    pub fn appctl_socket(&self) -> PathBuf {
        self.rundir.join("ovs-vswitchd.ctl")
    }

    /// Runs `ovs-vsctl --db=unix:<db.sock> --timeout=10 <args>`.
    pub fn vsctl(&self, args: &[&str]) -> Result<String, FixtureError> {
        let mut c = Command::new(find_binary("ovs-vsctl")?);
        c.arg(format!("--db=unix:{}", self.db_socket().display()))
            .arg("--timeout=10")
            .args(args);
        run(c)
    }

    /// Runs `ovs-ofctl <args>` (pass `-O OpenFlow13` and targets yourself,
    /// or use [`OvsInstance::ofctl13`]).
    pub fn ofctl(&self, args: &[&str]) -> Result<String, FixtureError> {
        let mut c = Command::new(find_binary("ovs-ofctl")?);
        c.args(args);
        run(c)
    }

    /// Runs `ovs-ofctl -O OpenFlow13 <cmd> unix:<bridge.mgmt> <args>`.
    pub fn ofctl13(&self, cmd: &str, bridge: &str, args: &[&str]) -> Result<String, FixtureError> {
        let target = format!("unix:{}", self.mgmt_socket(bridge).display());
        let mut all = vec!["-O", "OpenFlow13", cmd, target.as_str()];
        all.extend_from_slice(args);
        self.ofctl(&all)
    }

    /// Runs `ovs-appctl -t <ovs-vswitchd.ctl> <args>`.
    pub fn appctl(&self, args: &[&str]) -> Result<String, FixtureError> {
        let mut c = Command::new(find_binary("ovs-appctl")?);
        c.arg("-t").arg(self.appctl_socket()).args(args);
        run(c)
    }

    /// Creates a bridge the way contiv does: `datapath_type=netdev`,
    /// `fail_mode=secure`, OpenFlow 1.0 and 1.3 (idempotent).
    pub fn add_bridge(&self, name: &str) -> Result<(), FixtureError> {
        self.vsctl(&[
            "--may-exist",
            "add-br",
            name,
            "--",
            "set",
            "bridge",
            name,
            "datapath_type=netdev",
            "fail_mode=secure",
            "protocols=OpenFlow10,OpenFlow13",
        ])
        .map(|_| ())
    }

    /// Adds an internal port with a requested OpenFlow port number.
    pub fn add_internal_port(
        &self,
        bridge: &str,
        port: &str,
        ofport: u16,
    ) -> Result<(), FixtureError> {
        let req = format!("ofport_request={ofport}");
        self.vsctl(&[
            "add-port",
            bridge,
            port,
            "--",
            "set",
            "interface",
            port,
            "type=internal",
            &req,
        ])
        .map(|_| ())
    }

    /// The bridge's flows as normalised lines (see
    /// [`crate::openflow::dump`]).
    pub fn dump_flows(&self, bridge: &str) -> Result<Vec<FlowLine>, FixtureError> {
        Ok(normalize(&self.ofctl13("dump-flows", bridge, &[])?))
    }

    /// [`OvsInstance::dump_flows`] rendered as strings.
    pub fn dump_flow_strings(&self, bridge: &str) -> Result<Vec<String>, FixtureError> {
        Ok(self
            .dump_flows(bridge)?
            .iter()
            .map(ToString::to_string)
            .collect())
    }

    /// Runs `ofproto/trace <bridge> <flow>` and returns its output.
    pub fn trace(&self, bridge: &str, flow: &str) -> Result<String, FixtureError> {
        self.appctl(&["ofproto/trace", bridge, flow])
    }

    /// The `Datapath actions:` line of an `ofproto/trace`, e.g. `drop` or
    /// `set(eth(dst=…)),7`.
    pub fn trace_verdict(&self, bridge: &str, flow: &str) -> Result<String, FixtureError> {
        let out = self.trace(bridge, flow)?;
        out.lines()
            .find_map(|l| l.strip_prefix("Datapath actions: "))
            .map(str::to_owned)
            .ok_or_else(|| FixtureError::Command {
                cmd: format!("ovs-appctl ofproto/trace {bridge} {flow}"),
                status: "no `Datapath actions:` line".into(),
                stderr: out.clone(),
            })
    }
}

impl Drop for OvsInstance {
    fn drop(&mut self) {
        if let Some(mut c) = self.vswitchd.take() {
            stop_child(&mut c);
        }
        if let Some(mut c) = self.ovsdb.take() {
            stop_child(&mut c);
        }
        if self.owns_netns
            && let Some(ns) = &self.netns
            && let Ok(ip) = find_binary("ip")
        {
            let _ = Command::new(ip)
                .args(["netns", "delete", ns.as_str()])
                .stdin(Stdio::null())
                .stdout(Stdio::null())
                .stderr(Stdio::null())
                .status();
        }
        if let Some(d) = self.dir.take() {
            let _ = d.close();
        }
    }
}

/// Creates `ovst-<pid>-<n>` with its loopback up.
fn create_private_netns() -> Result<String, FixtureError> {
    use std::sync::atomic::{AtomicU32, Ordering};
    static NEXT: AtomicU32 = AtomicU32::new(0);
    let name = format!(
        "ovst-{}-{}",
        std::process::id(),
        NEXT.fetch_add(1, Ordering::Relaxed)
    );
    let ip = find_binary("ip")?;
    let mut add = Command::new(&ip);
    add.args(["netns", "add", name.as_str()]);
    run(add)?;
    let mut lo = Command::new(&ip);
    lo.args(["-n", name.as_str(), "link", "set", "lo", "up"]);
    if let Err(e) = run(lo) {
        let mut del = Command::new(&ip);
        del.args(["netns", "delete", name.as_str()]);
        let _ = run(del);
        return Err(e);
    }
    Ok(name)
}
