//! A simulated host: a network namespace with its own Open vSwitch
//! (ovsdb-server + ovs-vswitchd, private run directory, userspace
//! datapath) and its own `netplugin --datapath ovs`, linked to the hub.
//!
//! Inside the host namespace (REAL_COMPONENTS §4):
//! * `br-phy`, an OVS bridge in standalone mode holding the underlay veth
//!   [`HOST_UNDERLAY_IF`]; the VTEP address sits on `br-phy`'s internal
//!   port, so OVS routes VXLAN through it and the agent reaches netmaster
//!   over it;
//! * `contivbr`, the integration bridge netplugin creates, with the VLAN
//!   uplink [`HOST_TRUNK_IF`] as a trunk (`--vlan-if`).
//!
//! The datapath-specific reads (tunnel ports, flows) are here; a later
//! datapath adds its own variant of these few methods.

use super::bins::Bins;
use super::http::unix_request;
use super::hub::{HOST_TRUNK_IF, HOST_UNDERLAY_IF, HostLinks};
use super::netns::Netns;
use super::sys::{Proc, within};
use contiv_dp_ovs::openflow::dump::FlowLine;
use contiv_dp_ovs::testing::{Netns as OvsNetns, OvsInstance, OvsOptions};
use serde_json::Value;
use std::net::Ipv4Addr;
use std::path::{Path, PathBuf};
use std::time::Duration;

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
    /// Its Open vSwitch.
    pub ovs: OvsInstance,
    /// The host-side names of its links in the hub.
    pub links: HostLinks,
    /// Its namespace.
    pub ns: Netns,
    /// Its directory (CNI socket, agent state, logs).
    pub dir: PathBuf,
}

impl Host {
    /// Creates host `name` in namespace `ns` (already attached to the hub
    /// as `links`) with VTEP `vtep`: starts OVS and builds `br-phy`. The
    /// agent is not started yet.
    pub fn create(
        name: &str,
        ns: Netns,
        links: HostLinks,
        vtep: Ipv4Addr,
        dir: &Path,
        bins: &Bins,
    ) -> Host {
        std::fs::create_dir_all(dir).expect("create the host directory");
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
        Host {
            name: name.to_owned(),
            vtep,
            agent: None,
            agent_args: Vec::new(),
            starts: 0,
            netplugin: bins.netplugin.clone(),
            ovs,
            links,
            ns,
            dir: dir.to_owned(),
        }
    }

    /// The agent's CNI socket.
    pub fn cni_socket(&self) -> PathBuf {
        self.dir.join("cni.sock")
    }

    /// Sets the agent's flags: this host, its VTEP, every netmaster, the
    /// host's OVS, the VLAN uplink, sockets and state in the host
    /// directory, no Docker plugin; `extra` appended.
    pub fn configure_agent(&mut self, netmasters: &[String], extra: &[&str]) {
        let mut args: Vec<String> = vec![
            "--datapath".into(),
            "ovs".into(),
            "--host".into(),
            self.name.clone(),
            "--vtep-ip".into(),
            self.vtep.to_string(),
            "--netmaster".into(),
            netmasters.join(","),
            "--ovs-rundir".into(),
            self.ovs.rundir().display().to_string(),
            "--vlan-if".into(),
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
        ];
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

    /// The remote VTEP of every VXLAN port of this host, sorted (a peer
    /// with two ports would appear twice).
    pub fn tunnels(&self) -> Vec<Ipv4Addr> {
        let out = self
            .ovs
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

    /// The integration bridge's flows (empty if it does not exist yet).
    pub fn flows(&self) -> Vec<FlowLine> {
        self.ovs.dump_flows(BRIDGE).unwrap_or_default()
    }

    /// Whether flows for remote endpoint `id` are installed.
    pub fn has_remote_endpoint(&self, id: &str) -> bool {
        let c = contiv_dp_ovs::pipeline::forwarding::remote_cookie(id);
        self.flows().iter().any(|f| f.cookie == c)
    }

    /// Whether flows for local endpoint `id` are installed.
    pub fn has_local_endpoint(&self, id: &str) -> bool {
        let c = contiv_dp_ovs::pipeline::forwarding::local_cookie(id);
        self.flows().iter().any(|f| f.cookie == c)
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

    /// Ports of the integration bridge.
    pub fn ports(&self) -> Vec<String> {
        self.ovs
            .vsctl(&["list-ports", BRIDGE])
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
