//! A simulated host: a network namespace with its own datapath and its
//! own `netplugin`, linked to the hub. The datapath is the cluster's
//! ([`Datapath`]; every system test runs on both):
//!
//! * **OVS** (REAL_COMPONENTS §4): a private Open vSwitch (ovsdb-server +
//!   ovs-vswitchd, private run directory, userspace datapath); `br-phy`, an
//!   OVS bridge in standalone mode, holds the underlay veth
//!   [`HOST_UNDERLAY_IF`] and the VTEP address on its internal port (so OVS
//!   routes VXLAN through it and the agent reaches netmaster over it);
//!   `contivbr`, the integration bridge netplugin creates, has the VLAN
//!   uplink [`HOST_TRUNK_IF`] as a trunk (`--vlan-if`).
//! * **eBPF**: the VTEP address on [`HOST_UNDERLAY_IF`] itself; a private
//!   bpffs mounted in the host directory (`--bpf-fs`, so the agent's pins
//!   outlive a killed agent and are gone with the host); the agent makes
//!   its `vxlan external` device and hooks [`HOST_TRUNK_IF`] (`--vlan-if`).
//!
//! The datapath-specific reads (tunnels, endpoints present, ARP mode) are
//! here, one variant per datapath.

use super::bins::Bins;
use super::http::unix_request;
use super::hub::{HOST_TRUNK_IF, HOST_UNDERLAY_IF, HostLinks};
use super::netns::Netns;
use super::sys::{Proc, within};
use contiv_dp_ovs::openflow::dump::FlowLine;
use contiv_dp_ovs::testing::{Netns as OvsNetns, OvsInstance, OvsOptions};
use serde_json::Value;
use std::collections::HashMap;
use std::net::{IpAddr, Ipv4Addr};
use std::path::{Path, PathBuf};
use std::sync::Mutex;
use std::time::Duration;

/// The datapath the agents drive.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Datapath {
    /// Open vSwitch, userspace datapath.
    Ovs,
    /// tc/BPF.
    Ebpf,
}

impl Datapath {
    /// `CONTIV_CLUSTER_DATAPATH` (`ovs` or `ebpf`), OVS if unset.
    pub fn from_env() -> Datapath {
        match std::env::var("CONTIV_CLUSTER_DATAPATH").as_deref() {
            Ok("ebpf") => Datapath::Ebpf,
            Ok("ovs") | Ok("") | Err(_) => Datapath::Ovs,
            Ok(other) => panic!("CONTIV_CLUSTER_DATAPATH={other}: use ovs or ebpf"),
        }
    }

    /// `--datapath` value.
    pub fn as_str(self) -> &'static str {
        match self {
            Datapath::Ovs => "ovs",
            Datapath::Ebpf => "ebpf",
        }
    }
}

/// A private bpffs mount, unmounted on drop.
#[derive(Debug)]
pub struct BpfMount {
    /// The mount point.
    pub dir: PathBuf,
}

impl BpfMount {
    fn new(dir: PathBuf) -> BpfMount {
        std::fs::create_dir_all(&dir).expect("create the bpffs directory");
        contiv_dp_ebpf::kernel::bpffs::mount(&dir).expect("mount a bpffs");
        BpfMount { dir }
    }

    /// Where the agent pins its objects (default pin name).
    pub fn pin_root(&self) -> PathBuf {
        let mut c = contiv_dp_ebpf::EbpfConfig::new();
        c.bpffs = self.dir.clone();
        c.pin_root()
    }
}

impl Drop for BpfMount {
    fn drop(&mut self) {
        let _ = contiv_dp_ebpf::kernel::bpffs::unmount(&self.dir);
    }
}

/// A host's datapath.
#[derive(Debug)]
pub enum Switch {
    /// Its Open vSwitch.
    Ovs(OvsInstance),
    /// Its bpffs (the agent loads the programs).
    Ebpf(BpfMount),
}

/// The integration bridge netplugin creates.
pub const BRIDGE: &str = "contivbr";

/// One host. Dropping it kills the agent and deletes its DNS namespaces;
/// then the fields drop in order: OVS, then the namespace.
#[derive(Debug)]
pub struct Host {
    /// Its name in the cluster (`--host`), `h1`, `h2`, …
    pub name: String,
    /// Its VTEP address on the underlay.
    pub vtep: Ipv4Addr,
    agent: Option<Proc>,
    agent_args: Vec<String>,
    starts: u32,
    netplugin: PathBuf,
    /// Its datapath.
    pub switch: Switch,
    /// Endpoint addresses seen in the agent's desired state (eBPF maps are
    /// keyed by address, not by endpoint id).
    seen: Mutex<HashMap<String, (contiv_core::datapath::NetworkSpec, Vec<IpAddr>)>>,
    /// The host-side names of its links in the hub.
    pub links: HostLinks,
    /// Its namespace.
    pub ns: Netns,
    /// Its directory (CNI socket, agent state, logs).
    pub dir: PathBuf,
}

impl Host {
    /// Creates host `name` in namespace `ns` (already attached to the hub
    /// as `links`) with VTEP `vtep` and its datapath (OVS with `br-phy`, or
    /// a bpffs). The agent is not started yet.
    pub fn create(
        name: &str,
        ns: Netns,
        links: HostLinks,
        vtep: Ipv4Addr,
        dir: &Path,
        bins: &Bins,
        datapath: Datapath,
    ) -> Host {
        std::fs::create_dir_all(dir).expect("create the host directory");
        let switch = match datapath {
            Datapath::Ovs => Switch::Ovs(Self::start_ovs(&ns, vtep)),
            Datapath::Ebpf => {
                ns.ip(&[
                    "addr",
                    "add",
                    &format!("{vtep}/24"),
                    "dev",
                    HOST_UNDERLAY_IF,
                ]);
                ns.ip(&["link", "set", HOST_UNDERLAY_IF, "up"]);
                Switch::Ebpf(BpfMount::new(dir.join("bpffs")))
            }
        };
        Host {
            name: name.to_owned(),
            vtep,
            agent: None,
            agent_args: Vec::new(),
            starts: 0,
            netplugin: bins.netplugin.clone(),
            switch,
            seen: Mutex::new(HashMap::new()),
            links,
            ns,
            dir: dir.to_owned(),
        }
    }

    /// Starts a private OVS in `ns` with `br-phy` carrying the VTEP.
    fn start_ovs(ns: &Netns, vtep: Ipv4Addr) -> OvsInstance {
        let ovs = OvsInstance::start_with(OvsOptions {
            netns: OvsNetns::Existing(ns.name().to_owned()),
        })
        .unwrap_or_else(|e| panic!("start Open vSwitch in {}: {e}", ns.name()));
        let mac = ns.ip(&["-br", "link", "show", HOST_UNDERLAY_IF]);
        let mac = mac
            .split_whitespace()
            .nth(2)
            .expect("the MAC of the underlay veth")
            .to_owned();
        ovs.vsctl(&[
            "add-br",
            "br-phy",
            "--",
            "set",
            "bridge",
            "br-phy",
            "datapath_type=netdev",
            "fail_mode=standalone",
            &format!("other_config:hwaddr={mac}"),
        ])
        .expect("add br-phy");
        ovs.vsctl(&["add-port", "br-phy", HOST_UNDERLAY_IF])
            .expect("add the underlay port to br-phy");
        ns.ip(&["addr", "add", &format!("{vtep}/24"), "dev", "br-phy"]);
        ns.ip(&["link", "set", "br-phy", "up"]);
        ovs
    }

    /// The datapath.
    pub fn datapath(&self) -> Datapath {
        match self.switch {
            Switch::Ovs(_) => Datapath::Ovs,
            Switch::Ebpf(_) => Datapath::Ebpf,
        }
    }

    /// Its Open vSwitch (OVS hosts only).
    pub fn ovs(&self) -> Option<&OvsInstance> {
        match &self.switch {
            Switch::Ovs(o) => Some(o),
            Switch::Ebpf(_) => None,
        }
    }

    /// Directories the datapath keeps (removed with the host).
    pub fn datapath_dir(&self) -> PathBuf {
        match &self.switch {
            Switch::Ovs(o) => o.rundir().to_owned(),
            Switch::Ebpf(b) => b.dir.clone(),
        }
    }

    /// The agent's CNI socket.
    pub fn cni_socket(&self) -> PathBuf {
        self.dir.join("cni.sock")
    }

    /// Sets the agent's flags: this host, its VTEP, every netmaster, the
    /// host's datapath, the VLAN uplink, sockets and state in the host
    /// directory, no Docker plugin; `extra` appended.
    pub fn configure_agent(&mut self, netmasters: &[String], extra: &[&str]) {
        let mut args: Vec<String> = vec![
            "--datapath".into(),
            self.datapath().as_str().into(),
            "--host".into(),
            self.name.clone(),
            "--vtep-ip".into(),
            self.vtep.to_string(),
            "--netmaster".into(),
            netmasters.join(","),
        ];
        match &self.switch {
            Switch::Ovs(o) => {
                args.push("--ovs-rundir".into());
                args.push(o.rundir().display().to_string());
            }
            Switch::Ebpf(b) => {
                args.push("--bpf-fs".into());
                args.push(b.dir.display().to_string());
            }
        }
        args.extend([
            "--vlan-if".to_string(),
            HOST_TRUNK_IF.into(),
            "--cni-socket".into(),
            self.cni_socket().display().to_string(),
            "--state-dir".into(),
            self.dir.join("state").display().to_string(),
            "--docker-plugin-dir".into(),
            self.dir.display().to_string(),
            "--no-docker-plugin".into(),
            "--log-level".into(),
            "info".into(),
        ]);
        args.extend(extra.iter().map(|s| (*s).to_owned()));
        self.agent_args = args;
    }

    /// Starts netplugin inside the host namespace (a new log file per
    /// start); panics if it is already running.
    pub fn start_agent(&mut self) {
        assert!(
            self.agent.is_none(),
            "netplugin on {} already runs",
            self.name
        );
        self.starts += 1;
        let mut cmd = self.ns.command(&self.netplugin);
        cmd.args(&self.agent_args);
        for (k, _) in std::env::vars_os() {
            if k.to_string_lossy().starts_with("CONTIV_") {
                cmd.env_remove(k);
            }
        }
        let log = self.agent_log_path();
        self.agent = Some(Proc::spawn(
            &format!("netplugin on {}", self.name),
            cmd,
            &log,
        ));
    }

    fn agent_log_path(&self) -> PathBuf {
        self.dir.join(format!("netplugin-{}.log", self.starts))
    }

    /// The end of the current (or last) agent log.
    pub fn agent_log(&self, n: usize) -> String {
        super::sys::tail(&self.agent_log_path(), n)
    }

    /// The agent's `/status`, if it answers.
    pub fn agent_status(&self) -> Option<Value> {
        let r = unix_request(
            &self.cni_socket(),
            "GET",
            "/status",
            None,
            Duration::from_secs(3),
        )
        .ok()?;
        r.ok().then(|| r.json())
    }

    /// Waits until the agent says it is ready (registered and synced).
    pub fn wait_agent_ready(&mut self, timeout: Duration) {
        let ok = within(timeout, || {
            if let Some(p) = &mut self.agent
                && let Some(st) = p.exited()
            {
                panic!(
                    "netplugin on {} exited ({st}):\n{}",
                    self.name,
                    self.agent_log(40)
                );
            }
            self.agent_status().is_some_and(|v| v["ready"] == true)
        });
        assert!(
            ok.is_some(),
            "netplugin on {} not ready within {timeout:?} (status {:?}):\n{}",
            self.name,
            self.agent_status(),
            self.agent_log(40)
        );
    }

    /// Kills the agent with SIGKILL (`kill -9`).
    pub fn kill_agent(&mut self) {
        if let Some(mut p) = self.agent.take() {
            p.kill9();
        }
    }

    /// Stops the agent with SIGTERM.
    pub fn stop_agent(&mut self) {
        if let Some(mut p) = self.agent.take() {
            p.terminate(Duration::from_secs(10));
        }
    }

    /// Freezes the agent (SIGSTOP): it holds its sockets but does nothing.
    pub fn pause_agent(&self) {
        self.agent.as_ref().expect("agent runs").pause();
    }

    /// Resumes a frozen agent (SIGCONT).
    pub fn resume_agent(&self) {
        self.agent.as_ref().expect("agent runs").resume();
    }

    /// The agent's pid, if it runs.
    pub fn agent_pid(&self) -> Option<u32> {
        self.agent.as_ref().and_then(Proc::pid)
    }

    /// The pid of the agent's BGP speaker (gobgpd, which outlives agent
    /// restarts), if one runs.
    pub fn speaker_pid(&self) -> Option<u32> {
        let pid: u32 = std::fs::read_to_string(self.dir.join("state/bgp/gobgpd.pid"))
            .ok()?
            .trim()
            .parse()
            .ok()?;
        Path::new(&format!("/proc/{pid}")).exists().then_some(pid)
    }

    /// Stops the BGP speaker (after the agent: it outlives the agent).
    fn kill_speaker(&self) {
        if let Some(pid) = self.speaker_pid() {
            super::sys::quiet(&["kill", "-9", &pid.to_string()]);
            // Until it is reaped (its parent, the killed agent, is gone:
            // init reaps it).
            within(Duration::from_secs(5), || {
                !Path::new(&format!("/proc/{pid}")).exists()
            });
        }
    }

    /// Whether the agent process runs.
    pub fn agent_running(&mut self) -> bool {
        self.agent.as_mut().is_some_and(|p| p.exited().is_none())
    }

    /// The remote VTEP of every tunnel of this host, sorted: OVS's VXLAN
    /// ports (a peer with two ports would appear twice), the eBPF
    /// datapath's accepted VTEPs.
    pub fn tunnels(&self) -> Vec<Ipv4Addr> {
        let ovs = match &self.switch {
            Switch::Ovs(o) => o,
            Switch::Ebpf(b) => {
                let p = contiv_dp_ebpf::inspect::Pinned::new(&b.pin_root());
                if !p.exists() {
                    return Vec::new();
                }
                let mut v: Vec<Ipv4Addr> = p
                    .vteps()
                    .unwrap_or_default()
                    .into_iter()
                    .filter_map(|ip| match ip {
                        IpAddr::V4(a) => Some(a),
                        IpAddr::V6(_) => None,
                    })
                    .collect();
                v.sort();
                return v;
            }
        };
        let out = ovs
            .vsctl(&[
                "--bare",
                "--columns=options",
                "find",
                "Interface",
                "type=vxlan",
            ])
            .unwrap_or_default();
        let mut v = out
            .lines()
            .filter_map(|l| {
                let (_, rest) = l.split_once("remote_ip=")?;
                let v = rest.split([' ', ',', '}']).next()?;
                v.trim_matches('"').parse().ok()
            })
            .collect::<Vec<Ipv4Addr>>();
        v.sort();
        v
    }

    /// The integration bridge's flows (OVS; empty if it does not exist
    /// yet or for eBPF).
    pub fn flows(&self) -> Vec<FlowLine> {
        self.ovs()
            .and_then(|o| o.dump_flows(BRIDGE).ok())
            .unwrap_or_default()
    }

    /// Whether the datapath answers ARP for known addresses (proxy mode):
    /// OVS has ARP responder flows (table 2, requests for a known address
    /// answered in the switch); the eBPF datapath has the proxy flag set.
    /// `None` while it cannot tell.
    pub fn arp_proxy(&self) -> Option<bool> {
        match &self.switch {
            Switch::Ovs(_) => {
                let n = self
                    .flows()
                    .iter()
                    .filter(|f| {
                        f.table == 2
                            && f.matches.contains("arp_op=1")
                            && f.matches.contains("arp_tpa=")
                    })
                    .count();
                // Responders exist for every known address in proxy mode.
                Some(n >= 2)
            }
            Switch::Ebpf(b) => contiv_dp_ebpf::inspect::Pinned::new(&b.pin_root())
                .arp_proxy()
                .ok(),
        }
    }

    /// The agent's desired state (`GET /debug/desired`), if it answers.
    fn desired(&self) -> Option<contiv_core::datapath::DesiredState> {
        let r = unix_request(
            &self.cni_socket(),
            "GET",
            "/debug/desired",
            None,
            Duration::from_secs(3),
        )
        .ok()?;
        if !r.ok() {
            return None;
        }
        let d: contiv_bins::agent_api::wire::DesiredDump = serde_json::from_str(&r.body).ok()?;
        Some(d.state)
    }

    /// eBPF: whether endpoint `id`'s addresses are in the datapath's
    /// endpoint map as local (`local`) or remote entries. Addresses are
    /// learnt from the agent's desired state while it names the endpoint,
    /// so a removed endpoint is checked by the addresses it had.
    fn ebpf_has(&self, b: &BpfMount, id: &str, local: bool) -> bool {
        if let Some(d) = self.desired() {
            let nets: HashMap<&str, &contiv_core::datapath::NetworkSpec> =
                d.networks.iter().map(|n| (n.key.as_str(), n)).collect();
            let mut seen = self.seen.lock().expect("seen");
            for e in &d.local_endpoints {
                if let Some(n) = nets.get(e.network.as_str()) {
                    let ips = [
                        e.ipv4.map(|a| a.addr().into()),
                        e.ipv6.map(|a| a.addr().into()),
                    ]
                    .into_iter()
                    .flatten()
                    .collect();
                    seen.insert(e.id.clone(), ((*n).clone(), ips));
                }
            }
            for e in &d.remote_endpoints {
                if let Some(n) = nets.get(e.network.as_str()) {
                    let ips = [e.ipv4.map(IpAddr::V4), e.ipv6.map(IpAddr::V6)]
                        .into_iter()
                        .flatten()
                        .collect();
                    seen.insert(e.id.clone(), ((*n).clone(), ips));
                }
            }
        }
        let Some((net, ips)) = self.seen.lock().expect("seen").get(id).cloned() else {
            return false;
        };
        let p = contiv_dp_ebpf::inspect::Pinned::new(&b.pin_root());
        ips.iter().any(|ip| {
            use contiv_dp_ebpf::inspect::Location;
            match p.locate(&net, *ip) {
                Ok(Some(Location::Local(_))) => local,
                Ok(Some(Location::Remote)) => !local,
                _ => false,
            }
        })
    }

    /// Whether the datapath holds remote endpoint `id` (OVS: flows with
    /// its cookie; eBPF: its addresses in the endpoint map, remote).
    pub fn has_remote_endpoint(&self, id: &str) -> bool {
        match &self.switch {
            Switch::Ovs(_) => {
                let c = contiv_dp_ovs::pipeline::forwarding::remote_cookie(id);
                self.flows().iter().any(|f| f.cookie == c)
            }
            Switch::Ebpf(b) => self.ebpf_has(b, id, false),
        }
    }

    /// Whether the datapath holds local endpoint `id`.
    pub fn has_local_endpoint(&self, id: &str) -> bool {
        match &self.switch {
            Switch::Ovs(_) => {
                let c = contiv_dp_ovs::pipeline::forwarding::local_cookie(id);
                self.flows().iter().any(|f| f.cookie == c)
            }
            Switch::Ebpf(b) => self.ebpf_has(b, id, true),
        }
    }

    /// The prefix of the namespaces the agent's built-in DNS creates (one
    /// per network with a local endpoint; they outlive the agent so a
    /// restart finds them).
    pub fn dns_netns_prefix(&self) -> String {
        use contiv_bins::netplugin::dns::{agent_identity, netns_prefix};
        netns_prefix(&agent_identity(&self.name, &self.dir.join("state")))
    }

    /// Names of the agent's DNS namespaces that exist now.
    pub fn dns_namespaces(&self) -> Vec<String> {
        let prefix = self.dns_netns_prefix();
        std::fs::read_dir("/var/run/netns")
            .into_iter()
            .flatten()
            .flatten()
            .filter_map(|e| e.file_name().into_string().ok())
            .filter(|n| n.starts_with(&prefix))
            .collect()
    }

    /// Ports of the integration bridge (OVS).
    pub fn ports(&self) -> Vec<String> {
        self.ovs()
            .and_then(|o| o.vsctl(&["list-ports", BRIDGE]).ok())
            .map(|s| s.lines().map(str::to_owned).collect())
            .unwrap_or_default()
    }
}

impl Drop for Host {
    fn drop(&mut self) {
        self.kill_agent();
        self.kill_speaker();
        for ns in self.dns_namespaces() {
            super::sys::quiet(&["ip", "netns", "delete", &ns]);
        }
    }
}
