//! Fixtures of the end-to-end tests: the real `netplugin` and `contiv-cni`
//! binaries on a real Open vSwitch.
//!
//! * [`Switch`]: a private ovsdb-server + ovs-vswitchd (userspace
//!   datapath) in a namespace of its own, stopped and removed on drop;
//! * [`Plugin`]: the `netplugin` binary with `--datapath ovs` on that
//!   switch, killed by pid on drop (and on demand with SIGKILL, as
//!   `kill -9`);
//! * [`Ctr`]: a "container" — a network namespace, deleted on drop;
//! * [`cni`]: one `contiv-cni` invocation as a runtime makes it
//!   (environment + netconf on stdin).
//!
//! netmaster runs in-process (see `netplugin_support`).

#![allow(dead_code)]

use axum::http::Method;
use contiv_bins::netplugin::unix;
use contiv_dp_ovs::openflow::dump::FlowLine;
use contiv_dp_ovs::testing::OvsInstance;
use serde_json::{Value, json};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Output, Stdio};
use std::sync::atomic::{AtomicU32, Ordering};
use std::time::{Duration, Instant};
use tokio::io::AsyncWriteExt;

/// The netplugin binary.
pub const NETPLUGIN: &str = env!("CARGO_BIN_EXE_netplugin");
/// The CNI plugin binary.
pub const CONTIV_CNI: &str = env!("CARGO_BIN_EXE_contiv-cni");
/// The bridge netplugin creates.
pub const BRIDGE: &str = "contivbr";

static NEXT: AtomicU32 = AtomicU32::new(0);

/// A unique short name: `<prefix><pid % 100000>-<n>`.
pub fn unique(prefix: &str) -> String {
    format!(
        "{prefix}{}-{}",
        std::process::id() % 100_000,
        NEXT.fetch_add(1, Ordering::Relaxed)
    )
}

/// A private Open vSwitch, in its own network namespace or in the host's.
pub struct Switch {
    pub ovs: OvsInstance,
    /// The bridge netplugin is told to use.
    pub bridge: String,
}

impl Switch {
    /// Starts ovsdb-server and ovs-vswitchd in a namespace of their own (a
    /// missing OVS is a failure); bridge [`BRIDGE`].
    pub fn start() -> Switch {
        Switch {
            ovs: OvsInstance::start().expect("start a private Open vSwitch (make deps)"),
            bridge: BRIDGE.into(),
        }
    }

    /// Starts them in the host namespace (where a Docker engine finds the
    /// container-side veths), with a bridge name unique to this process
    /// (the userspace bridge's tap device lives in the host namespace).
    pub fn start_in_host() -> Switch {
        let ovs = OvsInstance::start_with(contiv_dp_ovs::testing::OvsOptions {
            netns: contiv_dp_ovs::testing::Netns::Host,
        })
        .expect("start a private Open vSwitch (make deps)");
        Switch {
            ovs,
            bridge: format!("ctvb{}", std::process::id() % 100_000),
        }
    }

    /// Deletes a bridge left in the host namespace (its userspace tap
    /// device is persistent) and the datapath's nftables table of that
    /// bridge (`ip contiv_<bridge>`: kept across agent restarts by design,
    /// so the switch's owner removes it).
    fn remove_host_bridge(&self) {
        if self.netns_opt().is_none() {
            let _ = Command::new("nft")
                .args(["delete", "table", "ip", &format!("contiv_{}", self.bridge)])
                .stdout(Stdio::null())
                .stderr(Stdio::null())
                .status();
            let _ = self.ovs.vsctl(&["--if-exists", "del-br", &self.bridge]);
            for link in [self.bridge.clone(), self.host_port()] {
                let _ = Command::new("ip")
                    .args(["link", "del", &link])
                    .stdout(Stdio::null())
                    .stderr(Stdio::null())
                    .status();
            }
        }
    }

    /// The host port's host end netplugin is told to use (`--ovs-host-port`):
    /// derived from the bridge, so concurrent runs do not share it.
    pub fn host_port(&self) -> String {
        let tail = self.bridge.trim_start_matches("ctvb");
        let mut name = format!("ctvh{tail}");
        name.truncate(14);
        name
    }

    /// The namespace the switch runs in (`None`: the host's).
    pub fn netns_opt(&self) -> Option<String> {
        self.ovs.netns().map(str::to_owned)
    }

    /// The namespace the switch runs in (a private one).
    pub fn netns(&self) -> String {
        self.netns_opt().expect("private netns")
    }

    /// Ports of the bridge (empty if it does not exist yet).
    pub fn ports(&self) -> Vec<String> {
        match self.ovs.vsctl(&["list-ports", &self.bridge]) {
            Ok(s) => s.lines().map(str::to_owned).collect(),
            Err(_) => Vec::new(),
        }
    }

    /// The bridge's flows.
    pub fn flows(&self) -> Vec<FlowLine> {
        self.ovs.dump_flows(&self.bridge).expect("dump-flows")
    }

    /// How many flows carry `cookie`.
    pub fn flows_with_cookie(&self, cookie: u64) -> usize {
        self.flows().iter().filter(|f| f.cookie == cookie).count()
    }

    /// OpenFlow port numbers by interface name (from OVSDB).
    pub fn ofports(&self) -> std::collections::BTreeMap<String, u32> {
        let out = self
            .ovs
            .vsctl(&[
                "--format=csv",
                "--no-headings",
                "--columns=name,ofport",
                "list",
                "Interface",
            ])
            .expect("list interfaces");
        out.lines()
            .filter_map(|l| {
                let (n, p) = l.split_once(',')?;
                Some((n.trim_matches('"').to_owned(), p.trim().parse().ok()?))
            })
            .collect()
    }

    /// The bridge's flows read back over OpenFlow, each as the pipeline
    /// prints a flow (`{:#}`: with cookie), sorted.
    pub async fn openflow_flows(&self) -> Vec<String> {
        use contiv_dp_ovs::openflow::conn::Connection;
        use contiv_dp_ovs::openflow::wire::FlowStatsRequest;
        use contiv_dp_ovs::pipeline::Flow;
        let (c, _) = Connection::connect_unix(self.ovs.mgmt_socket(&self.bridge))
            .await
            .expect("connect to the bridge");
        let stats = c
            .flow_stats(FlowStatsRequest::all())
            .await
            .expect("flow stats");
        let mut v: Vec<String> = stats
            .iter()
            .map(|s| format!("{:#}", Flow::from_stats(s)))
            .collect();
        v.sort();
        v
    }

    /// A fresh compile of `desired` with the switch's port numbers, in the
    /// form of [`Switch::openflow_flows`].
    pub fn fresh_compile(&self, desired: &contiv_core::datapath::DesiredState) -> Vec<String> {
        use contiv_dp_ovs::pipeline::{Pipeline, PortMap};
        let ofports = self.ofports();
        let ports = PortMap {
            endpoints: desired
                .local_endpoints
                .iter()
                .map(|e| {
                    let p = *ofports
                        .get(&e.host_ifname)
                        .unwrap_or_else(|| panic!("no port {} for {}", e.host_ifname, e.id));
                    (e.id.clone(), p)
                })
                .collect(),
            // The host port (external access), when the switch has it.
            host: ofports.get(&format!("{}o", self.host_port())).copied(),
            ..PortMap::default()
        };
        let mut p = Pipeline::from_desired(desired, &ports);
        p.flush();
        let mut v: Vec<String> = p.flows().iter().map(|f| format!("{f:#}")).collect();
        v.sort();
        v
    }

    /// Whether a link exists in the switch namespace.
    pub fn has_link(&self, name: &str) -> bool {
        let mut c = Command::new("ip");
        if let Some(ns) = self.netns_opt() {
            c.args(["-n", &ns]);
        }
        c.args(["link", "show", name])
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .status()
            .is_ok_and(|s| s.success())
    }
}

impl Drop for Switch {
    fn drop(&mut self) {
        self.remove_host_bridge();
    }
}

/// A host for the eBPF datapath: a namespace of its own for the host sides
/// of the veths and the VXLAN device, and a private bpffs the agent pins
/// into; both removed on drop.
pub struct BpfHost {
    /// The namespace.
    pub ns: String,
    /// The bpffs mount point.
    pub bpffs: tempfile::TempDir,
}

impl BpfHost {
    /// Creates the namespace and mounts the bpffs.
    pub fn start() -> BpfHost {
        let ns = unique("cbh");
        let out = Command::new("ip")
            .args(["netns", "add", &ns])
            .output()
            .expect("ip");
        assert!(out.status.success(), "ip netns add {ns}");
        let bpffs = tempfile::Builder::new()
            .prefix("contiv-bpffs")
            .tempdir()
            .expect("tempdir");
        contiv_dp_ebpf::kernel::bpffs::mount(bpffs.path()).expect("mount a bpffs");
        BpfHost { ns, bpffs }
    }

    /// Where the agent pins (default pin name).
    pub fn pin_root(&self) -> PathBuf {
        let mut c = contiv_dp_ebpf::EbpfConfig::new();
        c.bpffs = self.bpffs.path().to_owned();
        c.pin_root()
    }

    /// The pinned tcx attachments of endpoints (`ep_<ifindex>`) that
    /// versions before the `cls_bpf` attach made.
    pub fn endpoint_links(&self) -> Vec<String> {
        std::fs::read_dir(self.pin_root().join("links"))
            .into_iter()
            .flatten()
            .flatten()
            .filter_map(|e| e.file_name().into_string().ok())
            .filter(|n| n.starts_with("ep_"))
            .collect()
    }

    /// Interfaces in the namespace that still carry the endpoint program
    /// (a `cls_bpf` filter named `contiv_from_endpoint`, read with `tc`,
    /// independently of the datapath's own netlink code).
    pub fn endpoint_filters(&self) -> Vec<String> {
        self.links()
            .into_iter()
            .filter(|dev| {
                let out = Command::new("tc")
                    .args(["-n", &self.ns, "filter", "show", "dev", dev, "ingress"])
                    .output()
                    .expect("tc");
                String::from_utf8_lossy(&out.stdout).contains("contiv_from_endpoint")
            })
            .collect()
    }

    /// The number of entries of every map, by name.
    pub fn map_sizes(&self) -> Vec<(&'static str, usize)> {
        contiv_dp_ebpf::inspect::Pinned::new(&self.pin_root())
            .sizes()
            .unwrap_or_default()
    }

    /// Interfaces in the namespace (names).
    pub fn links(&self) -> Vec<String> {
        let out = Command::new("ip")
            .args(["-n", &self.ns, "-o", "link", "show"])
            .output()
            .expect("ip");
        String::from_utf8_lossy(&out.stdout)
            .lines()
            .filter_map(|l| l.split(": ").nth(1))
            .map(|n| n.split('@').next().unwrap_or(n).to_owned())
            .collect()
    }
}

impl Drop for BpfHost {
    fn drop(&mut self) {
        let _ = contiv_dp_ebpf::kernel::bpffs::unmount(self.bpffs.path());
        let _ = Command::new("ip")
            .args(["netns", "delete", &self.ns])
            .output();
    }
}

/// The netplugin binary driving a [`Switch`].
pub struct Plugin {
    child: Option<Child>,
    pub dir: PathBuf,
    pub sock: PathBuf,
    pub host: String,
    args: Vec<String>,
    starts: u32,
}

impl Plugin {
    /// Starts `netplugin --datapath ovs` for host `host` on `sw`, talking
    /// to netmaster at `url`, with sockets and state under `dir`, plus
    /// `extra` flags.
    pub fn start(url: &str, dir: &Path, sw: &Switch, host: &str, extra: &[&str]) -> Plugin {
        let mut backend: Vec<String> = vec![
            "--ovs-rundir".into(),
            sw.ovs.rundir().display().to_string(),
            "--ovs-bridge".into(),
            sw.bridge.clone(),
            "--ovs-host-port".into(),
            sw.host_port(),
        ];
        if let Some(ns) = sw.netns_opt() {
            backend.extend(["--ovs-netns".to_owned(), ns]);
        }
        Plugin::launch("ovs", backend, url, dir, host, extra)
    }

    /// Starts `netplugin --datapath ebpf` for host `host` with its
    /// interfaces and pins on `bh`, talking to netmaster at `url`, with
    /// sockets and state under `dir`, plus `extra` flags.
    pub fn start_ebpf(url: &str, dir: &Path, bh: &BpfHost, host: &str, extra: &[&str]) -> Plugin {
        let backend: Vec<String> = vec![
            "--bpf-fs".into(),
            bh.bpffs.path().display().to_string(),
            "--bpf-netns".into(),
            bh.ns.clone(),
        ];
        Plugin::launch("ebpf", backend, url, dir, host, extra)
    }

    /// Starts `netplugin --datapath <datapath>` with the flags every test
    /// agent gets, then `backend`'s and `extra`.
    fn launch(
        datapath: &str,
        backend: Vec<String>,
        url: &str,
        dir: &Path,
        host: &str,
        extra: &[&str],
    ) -> Plugin {
        std::fs::create_dir_all(dir).expect("plugin dir");
        let mut args: Vec<String> = vec![
            "--datapath".into(),
            datapath.into(),
            "--host".into(),
            host.into(),
            "--netmaster".into(),
            url.into(),
        ];
        args.extend(backend);
        args.extend([
            "--cni-socket".into(),
            dir.join("cni.sock").display().to_string(),
            "--docker-plugin-dir".into(),
            dir.display().to_string(),
            "--state-dir".into(),
            dir.join("state").display().to_string(),
            "--log-level".into(),
            "info".into(),
        ]);
        args.extend(extra.iter().map(|s| (*s).to_owned()));
        let mut p = Plugin {
            child: None,
            dir: dir.to_owned(),
            sock: dir.join("cni.sock"),
            host: host.to_owned(),
            args,
            starts: 0,
        };
        p.spawn();
        p
    }

    /// Starts the process (again, after [`Plugin::kill9`]).
    pub fn spawn(&mut self) {
        assert!(self.child.is_none(), "netplugin already running");
        self.starts += 1;
        let log = std::fs::File::create(self.log_path(self.starts)).expect("log file");
        let child = Command::new(NETPLUGIN)
            .args(&self.args)
            .env_remove("CONTIV_NETPLUGIN_FAULTS")
            .env_remove("CONTIV_NETPLUGIN_CONFIG")
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(log)
            .spawn()
            .expect("netplugin starts");
        self.child = Some(child);
    }

    fn log_path(&self, n: u32) -> PathBuf {
        self.dir.join(format!("netplugin-{n}.log"))
    }

    /// The log of the current (or last) run.
    pub fn log(&self) -> String {
        std::fs::read_to_string(self.log_path(self.starts)).unwrap_or_default()
    }

    /// The process id.
    pub fn pid(&self) -> Option<u32> {
        self.child.as_ref().map(Child::id)
    }

    /// Waits until `/status` says ready (panics with the log otherwise).
    pub async fn wait_ready(&mut self) {
        let deadline = Instant::now() + Duration::from_secs(60);
        while Instant::now() < deadline {
            if let Some(c) = self.child.as_mut()
                && let Ok(Some(st)) = c.try_wait()
            {
                panic!("netplugin exited ({st}):\n{}", self.log());
            }
            if let Ok(v) = self.status().await
                && v["ready"] == true
            {
                return;
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
        panic!("netplugin did not become ready:\n{}", self.log());
    }

    /// `GET /status` on the CNI socket.
    pub async fn status(&self) -> Result<Value, String> {
        let (s, b) = unix::request(
            &self.sock,
            Method::GET,
            "/status",
            None,
            Duration::from_secs(5),
        )
        .await
        .map_err(|e| e.to_string())?;
        if !s.is_success() {
            return Err(format!("status {s}"));
        }
        serde_json::from_slice(&b).map_err(|e| e.to_string())
    }

    /// The agent's desired state (`GET /debug/desired`).
    pub async fn desired(&self) -> contiv_core::datapath::DesiredState {
        let (s, b) = unix::request(
            &self.sock,
            Method::GET,
            "/debug/desired",
            None,
            Duration::from_secs(10),
        )
        .await
        .expect("desired state");
        assert!(s.is_success(), "GET /debug/desired: {s}");
        serde_json::from_slice::<contiv_bins::agent_api::wire::DesiredDump>(&b)
            .expect("desired state JSON")
            .into_state()
    }

    /// A call on the CNI socket: status and JSON body.
    pub async fn api(&self, path: &str, body: Value) -> (u16, Value) {
        let (s, b) = unix::request(
            &self.sock,
            Method::POST,
            path,
            Some(serde_json::to_vec(&body).expect("json")),
            Duration::from_secs(60),
        )
        .await
        .expect("CNI socket answers");
        (
            s.as_u16(),
            serde_json::from_slice(&b).unwrap_or(Value::Null),
        )
    }

    /// Kills the process with SIGKILL (as `kill -9`), by pid, and reaps it.
    pub fn kill9(&mut self) {
        if let Some(mut c) = self.child.take() {
            let _ = c.kill();
            let _ = c.wait();
        }
    }

    /// Stops the process with SIGTERM and waits for it (up to 10 s).
    pub fn stop(&mut self) {
        if let Some(mut c) = self.child.take() {
            if let Ok(pid) = libc::pid_t::try_from(c.id()) {
                // SAFETY: kill(2) has no memory-safety preconditions; the
                // pid is our own unreaped child.
                unsafe {
                    libc::kill(pid, libc::SIGTERM);
                }
            }
            let deadline = Instant::now() + Duration::from_secs(10);
            while Instant::now() < deadline {
                if let Ok(Some(_)) = c.try_wait() {
                    return;
                }
                std::thread::sleep(Duration::from_millis(20));
            }
            let _ = c.kill();
            let _ = c.wait();
        }
    }
}

impl Plugin {
    /// The prefix of this agent's DNS namespaces.
    pub fn dns_netns_prefix(&self) -> String {
        use contiv_bins::netplugin::dns::{agent_identity, netns_prefix};
        netns_prefix(&agent_identity(&self.host, &self.dir.join("state")))
    }
}

impl Drop for Plugin {
    fn drop(&mut self) {
        self.kill9();
        // A killed agent leaves its DNS namespaces.
        for ns in contiv_bins::dns::netns::named_netns_with_prefix(&self.dns_netns_prefix()) {
            let _ = contiv_bins::dns::netns::delete_named_netns(&ns);
        }
    }
}

/// A "container": a network namespace, deleted on drop.
pub struct Ctr {
    pub name: String,
    pub path: PathBuf,
}

impl Ctr {
    /// `ip netns add <unique>` with loopback up.
    pub fn new(tag: &str) -> Ctr {
        let name = unique(&format!("cte{tag}-"));
        let st = Command::new("ip")
            .args(["netns", "add", &name])
            .status()
            .expect("ip runs");
        assert!(st.success(), "ip netns add {name}");
        let c = Ctr {
            path: PathBuf::from(format!("/var/run/netns/{name}")),
            name,
        };
        let st = Command::new("ip")
            .args(["-n", &c.name, "link", "set", "lo", "up"])
            .status()
            .expect("ip runs");
        assert!(st.success());
        c
    }

    /// Runs `args` inside the namespace.
    pub async fn exec(&self, args: &[&str]) -> Output {
        tokio::process::Command::new("ip")
            .args(["netns", "exec", &self.name])
            .args(args)
            .stdin(Stdio::null())
            .output()
            .await
            .unwrap_or_else(|e| panic!("cannot run {args:?} in {}: {e}", self.name))
    }

    /// The stdout of `args` inside the namespace (must succeed).
    pub async fn run(&self, args: &[&str]) -> String {
        let o = self.exec(args).await;
        assert!(
            o.status.success(),
            "{args:?} in {} failed: {}{}",
            self.name,
            String::from_utf8_lossy(&o.stdout),
            String::from_utf8_lossy(&o.stderr)
        );
        String::from_utf8_lossy(&o.stdout).into_owned()
    }

    /// Two pings to `target` get answers.
    pub async fn ping(&self, target: &str) -> bool {
        self.exec(&["ping", "-c", "2", "-i", "0.2", "-W", "2", target])
            .await
            .status
            .success()
    }

    /// One ping to `target` answers within `secs` (ARP and flows settle).
    pub async fn ping_eventually(&self, target: &str, secs: u64) -> bool {
        let deadline = Instant::now() + Duration::from_secs(secs);
        while Instant::now() < deadline {
            if self
                .exec(&["ping", "-c", "1", "-W", "1", target])
                .await
                .status
                .success()
            {
                return true;
            }
        }
        false
    }

    /// Whether a TCP connection to `ip:port` is accepted within `secs`.
    pub async fn tcp_connects(&self, ip: &str, port: u16, secs: u32) -> bool {
        self.exec(&["nc", "-z", "-w", &secs.to_string(), ip, &port.to_string()])
            .await
            .status
            .success()
    }

    /// Makes `ip netns exec` processes in this namespace use `server` as
    /// their resolver (`/etc/netns/<name>/resolv.conf`, removed on drop).
    pub fn use_resolver(&self, server: &str) {
        let dir = Path::new("/etc/netns").join(&self.name);
        std::fs::create_dir_all(&dir).expect("create /etc/netns/<name>");
        std::fs::write(
            dir.join("resolv.conf"),
            format!("nameserver {server}\noptions timeout:2 attempts:2\n"),
        )
        .expect("write resolv.conf");
    }

    /// Whether `name` is a link in the namespace.
    pub async fn has_link(&self, name: &str) -> bool {
        self.exec(&["ip", "link", "show", name])
            .await
            .status
            .success()
    }

    /// A background process in the namespace, killed (by pid) on drop.
    pub fn spawn(&self, args: &[&str]) -> ChildGuard {
        let child = Command::new("ip")
            .args(["netns", "exec", &self.name])
            .args(args)
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .unwrap_or_else(|e| panic!("cannot start {args:?} in {}: {e}", self.name));
        ChildGuard(Some(child))
    }

    /// A TCP listener bound inside the namespace (blocking std socket).
    pub fn tcp_listener(&self, port: u16) -> std::net::TcpListener {
        contiv_bins::dns::netns::run_in_netns(&self.path, || {
            std::net::TcpListener::bind(("0.0.0.0", port))
        })
        .expect("enter the namespace")
        .expect("bind")
    }

    /// A TCP connection made from inside the namespace (blocking std
    /// socket, 2 s read timeout).
    pub fn tcp_connect(&self, ip: &str, port: u16) -> std::net::TcpStream {
        let addr: std::net::SocketAddr = format!("{ip}:{port}").parse().expect("address");
        let s = contiv_bins::dns::netns::run_in_netns(&self.path, || {
            std::net::TcpStream::connect_timeout(&addr, Duration::from_secs(5))
        })
        .expect("enter the namespace")
        .expect("connect");
        s.set_read_timeout(Some(Duration::from_secs(2)))
            .expect("timeout");
        s
    }

    /// A TCP listener on `port` (`nc -lk`), killed on drop.
    pub async fn listen(&self, port: u16) -> ChildGuard {
        let g = self.spawn(&["nc", "-lk", &port.to_string()]);
        let deadline = Instant::now() + Duration::from_secs(5);
        while Instant::now() < deadline {
            let out = self.exec(&["ss", "-ltn"]).await;
            if String::from_utf8_lossy(&out.stdout).contains(&format!(":{port} ")) {
                return g;
            }
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
        panic!("nc did not listen on {port} in {}", self.name);
    }
}

impl Drop for Ctr {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(Path::new("/etc/netns").join(&self.name));
        let _ = Command::new("ip")
            .args(["netns", "delete", &self.name])
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .status();
    }
}

/// A child process killed (by pid) and reaped on drop.
pub struct ChildGuard(pub Option<Child>);

impl Drop for ChildGuard {
    fn drop(&mut self) {
        if let Some(mut c) = self.0.take() {
            let _ = c.kill();
            let _ = c.wait();
        }
    }
}

/// What one `contiv-cni` invocation printed and returned.
#[derive(Debug)]
pub struct CniOut {
    pub code: i32,
    pub json: Value,
    pub raw: String,
}

impl CniOut {
    /// The first IPv4 address of an ADD result, without prefix.
    pub fn ip(&self) -> String {
        let a = self.json["ips"][0]["address"]
            .as_str()
            .unwrap_or_else(|| panic!("no address in {}", self.raw));
        a.split('/').next().unwrap_or_default().to_owned()
    }
}

/// A netconf for `contiv-cni` using the agent socket `sock`; `extra`
/// fields are merged in.
pub fn netconf(sock: &Path, extra: Value) -> Value {
    let mut c = json!({"cniVersion": "1.0.0", "name": "contiv-net", "type": "contiv-cni",
                       "network": "contiv-net", "socket": sock.display().to_string()});
    for (k, v) in extra.as_object().expect("object") {
        c[k] = v.clone();
    }
    c
}

/// Runs `contiv-cni` with `CNI_COMMAND=cmd`, the CNI variables of
/// container `cid` in `ctr` (interface `eth0`), `CNI_ARGS=args`, and
/// `conf` on stdin.
pub async fn cni(cmd: &str, ctr: &Ctr, cid: &str, args: &str, conf: &Value) -> CniOut {
    let mut c = tokio::process::Command::new(CONTIV_CNI);
    c.env_clear()
        .env("CNI_COMMAND", cmd)
        .env("CNI_PATH", "/nonexistent")
        .env("CNI_CONTAINERID", cid)
        .env("CNI_NETNS", &ctr.path)
        .env("CNI_IFNAME", "eth0")
        .env("CNI_ARGS", args)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped());
    let mut child = c.spawn().expect("contiv-cni runs");
    let mut si = child.stdin.take().expect("stdin");
    si.write_all(conf.to_string().as_bytes())
        .await
        .expect("write stdin");
    drop(si);
    let out = child.wait_with_output().await.expect("contiv-cni exits");
    let raw = String::from_utf8_lossy(&out.stdout).into_owned();
    CniOut {
        code: out.status.code().unwrap_or(-1),
        json: serde_json::from_str(raw.trim()).unwrap_or(Value::Null),
        raw,
    }
}

/// ADD of container `cid` named `name` into `ctr`; must succeed.
pub async fn add(sock: &Path, ctr: &Ctr, cid: &str, name: &str, extra: Value) -> CniOut {
    let out = cni(
        "ADD",
        ctr,
        cid,
        &format!("IgnoreUnknown=1;K8S_POD_NAME={name}"),
        &netconf(sock, extra),
    )
    .await;
    assert_eq!(out.code, 0, "ADD {cid}: {}", out.raw);
    out
}

/// DEL of container `cid`; must succeed.
pub async fn del(sock: &Path, ctr: &Ctr, cid: &str, extra: Value) {
    let out = cni("DEL", ctr, cid, "IgnoreUnknown=1", &netconf(sock, extra)).await;
    assert_eq!(out.code, 0, "DEL {cid}: {}", out.raw);
}

/// Imports a busybox image built offline from busybox-static: lays its root
/// out under `dir` and pipes it as a tar into `import`, a container
/// engine's import command that reads the tar from standard input.
pub fn import_busybox(dir: &Path, mut import: Command) {
    let root = dir.join("bbroot");
    for d in ["bin", "etc", "proc", "sys", "dev", "tmp", "root"] {
        std::fs::create_dir_all(root.join(d)).expect("image root directory");
    }
    std::fs::copy("/bin/busybox", root.join("bin/busybox"))
        .expect("busybox-static is installed (make deps)");
    let st = Command::new("chroot")
        .arg(&root)
        .args(["/bin/busybox", "--install", "-s", "/bin"])
        .status()
        .expect("chroot runs");
    assert!(st.success());
    std::fs::write(root.join("etc/passwd"), "root:x:0:0:root:/root:/bin/sh\n")
        .expect("write /etc/passwd");
    std::fs::write(root.join("etc/group"), "root:x:0:\n").expect("write /etc/group");
    let mut tar = Command::new("tar")
        .arg("-C")
        .arg(&root)
        .args(["-c", "."])
        .stdout(Stdio::piped())
        .spawn()
        .expect("tar runs");
    let out = import
        .stdin(tar.stdout.take().expect("tar's stdout"))
        .output()
        .expect("the import command runs");
    assert!(
        tar.wait().expect("tar ends").success(),
        "tar of the image root"
    );
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
}
