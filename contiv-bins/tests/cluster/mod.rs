//! The multi-host cluster harness shared by the `cluster_*` system tests
//! (and the scale bench): N hosts, each a network namespace with its own
//! Open vSwitch and its own `netplugin`, joined by an underlay through a
//! hub namespace, driven by one netmaster (embedded store) or three
//! (three-member etcd), with containers attached through `contiv-cni`.
//!
//! ```text
//!                        hub namespace
//!   netmaster(s) .250-.252 ─┐   ┌─ etcd members (HA)
//!        ┌──────────────── underlay bridge (172.31.200.0/24) ───────────┐
//!        │                  trunk bridge (tagged VLAN frames)           │
//!     h1u│h1v                                                      hNu│hNv
//!   ┌────┴┴──── host h1 ───────────┐           ┌──── host hN ──────────┴┴─┐
//!   │ ul0 ∈ br-phy (VTEP .1)        │    …      │ ul0 ∈ br-phy (VTEP .N)    │
//!   │ vl0 = trunk uplink of contivbr│           │ vl0 = uplink of contivbr  │
//!   │ ovsdb-server, ovs-vswitchd,   │           │ netplugin --datapath ovs  │
//!   │ netplugin --datapath ovs      │           │                           │
//!   └──┬─────────┬──────────────────┘           └──┬────────────────────────┘
//!   container  container  (namespaces plumbed by contiv-cni)
//! ```
//!
//! Everything the harness creates is removed when the [`Cluster`] (and
//! each [`Container`]) drops — also when a test panics: processes are
//! stopped by pid, namespaces deleted by name (links and bridges go with
//! them), OVS instances and temp directories removed. On a panic the
//! tails of every daemon's log are printed first; set
//! `CONTIV_CLUSTER_KEEP=1` to keep the directory with the full logs.
//!
//! Everything a test does goes through the real binaries: `netctl` in the
//! hub for intent, `contiv-cni` in a host for containers, `ping` and `nc`
//! in containers for traffic, `ovs-vsctl`/`ovs-ofctl` for a host's
//! datapath, SIGKILL/SIGSTOP/link-down for failures.

#![allow(dead_code)]

pub mod bins;
pub mod checks;
pub mod container;
pub mod control;
pub mod host;
pub mod http;
pub mod hub;
pub mod netns;
pub mod sys;
pub mod tor;

// Re-exports for the test files; each uses a different subset.
#[allow(unused_imports)]
pub use container::{Attach, Container, Runtime};
#[allow(unused_imports)]
pub use control::ControlKind;
#[allow(unused_imports)]
pub use host::{Datapath, Host};
#[allow(unused_imports)]
pub use sys::{eventually, within};

use bins::Bins;
use control::ControlPlane;
use hub::{Hub, underlay_addr};
use netns::Netns;
use serde_json::Value;
use std::collections::BTreeSet;
use std::net::Ipv4Addr;
use std::path::Path;
use std::time::{Duration, Instant};

/// What to build.
#[derive(Clone, Debug)]
pub struct ClusterSpec {
    /// Number of hosts (1..=200).
    pub hosts: usize,
    /// The control plane.
    pub control: ControlKind,
    /// Node lease TTL (`netmaster --node-ttl`): a silent agent's VTEP and
    /// endpoints vanish from its peers after about this long.
    pub node_ttl: Duration,
    /// Extra netplugin flags.
    pub agent_flags: Vec<String>,
    /// The agents' datapath.
    pub datapath: Datapath,
}

impl ClusterSpec {
    /// `hosts` hosts, one netmaster on its embedded store, node TTL 3 s.
    pub fn new(hosts: usize) -> ClusterSpec {
        ClusterSpec {
            hosts,
            control: ControlKind::Embedded,
            node_ttl: Duration::from_secs(3),
            agent_flags: Vec::new(),
            datapath: Datapath::Ovs,
        }
    }

    /// On the eBPF datapath.
    pub fn ebpf(mut self) -> ClusterSpec {
        self.datapath = Datapath::Ebpf;
        self
    }

    /// Three netmasters on a three-member etcd cluster.
    pub fn ha(self) -> ClusterSpec {
        self.ha_on(ControlKind::Etcd3)
    }

    /// Three netmasters on the store of `kind` (`Etcd3` or `Consul3`).
    pub fn ha_on(mut self, kind: ControlKind) -> ClusterSpec {
        self.control = kind;
        self
    }
}

/// A running cluster. Field order is drop order: hosts (agents, OVS,
/// namespaces), then the control plane, then the hub, then the directory.
pub struct Cluster {
    /// The hosts.
    pub hosts: Vec<Host>,
    /// netmaster(s) and etcd.
    pub control: ControlPlane,
    /// The hub namespace.
    pub hub: Hub,
    /// The binaries.
    pub bins: Bins,
    dir: Option<tempfile::TempDir>,
    started: Instant,
}

impl std::fmt::Debug for Cluster {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Cluster")
            .field("hosts", &self.hosts.len())
            .field("hub", &self.hub.ns.name())
            .finish()
    }
}

impl Cluster {
    /// Builds and starts the cluster; returns when every agent is ready
    /// and every host has a tunnel to every other one.
    pub fn start(spec: ClusterSpec) -> Cluster {
        assert!(
            (1..=200).contains(&spec.hosts),
            "1 to 200 hosts, not {}",
            spec.hosts
        );
        let bins = Bins::find().unwrap_or_else(|e| panic!("{e}"));
        let dir = tempfile::Builder::new()
            .prefix("contiv-cluster-")
            .tempdir()
            .expect("create the cluster directory");
        let hub = Hub::create();
        let control = ControlPlane::start(spec.control, &hub, dir.path(), &bins, spec.node_ttl);
        let mut c = Cluster {
            hosts: Vec::new(),
            control,
            hub,
            bins,
            dir: Some(dir),
            started: Instant::now(),
        };
        let urls = c.control.urls();
        let extra: Vec<&str> = spec.agent_flags.iter().map(String::as_str).collect();
        for i in 1..=spec.hosts {
            let ns = Netns::create("ctvh");
            let links = c.hub.attach(&ns, i);
            let octet = u8::try_from(i).expect("at most 200 hosts");
            let name = format!("h{i}");
            let hdir = c.dir().join(&name);
            let mut h = Host::create(
                &name,
                ns,
                links,
                underlay_addr(octet),
                &hdir,
                &c.bins,
                spec.datapath,
            );
            h.configure_agent(&urls, &extra);
            h.start_agent();
            c.hosts.push(h);
        }
        for h in &mut c.hosts {
            h.wait_agent_ready(Duration::from_secs(60));
        }
        c.wait_mesh(Duration::from_secs(30));
        c
    }

    /// The cluster's directory (logs, stores, host state).
    pub fn dir(&self) -> &Path {
        self.dir.as_ref().expect("directory").path()
    }

    /// The host named `name` (`h1`…).
    pub fn host(&self, name: &str) -> &Host {
        self.hosts
            .iter()
            .find(|h| h.name == name)
            .unwrap_or_else(|| panic!("no host {name}"))
    }

    /// The host named `name`, mutably.
    pub fn host_mut(&mut self, name: &str) -> &mut Host {
        self.hosts
            .iter_mut()
            .find(|h| h.name == name)
            .unwrap_or_else(|| panic!("no host {name}"))
    }

    /// Host names, in order.
    pub fn host_names(&self) -> Vec<String> {
        self.hosts.iter().map(|h| h.name.clone()).collect()
    }

    /// The container runtime of host `name`.
    pub fn runtime(&self, name: &str) -> Runtime {
        let h = self.host(name);
        Runtime {
            cni: self.bins.cni.clone(),
            host_ns: h.ns.name().to_owned(),
            host: h.name.clone(),
            socket: h.cni_socket(),
        }
    }

    /// Starts container `name` on host `host` attached as `at`.
    pub fn run(&self, host: &str, name: &str, at: &Attach) -> Container {
        Container::add(&self.runtime(host), name, at)
    }

    /// Runs `netctl --netmaster <a live netmaster> <args>` in the hub.
    pub fn try_netctl(&mut self, args: &[&str]) -> Result<String, String> {
        let url = self.control.live_url();
        // Only the hub's network: `ip netns exec` would add milliseconds
        // per call (see `Netns::net_command`), which the rule-add bench
        // would count as netctl's.
        let mut cmd = self
            .hub
            .ns
            .net_command(&self.bins.netctl)
            .map_err(|e| format!("cannot enter the hub's network namespace: {e}"))?;
        cmd.arg("--netmaster").arg(url).args(args);
        sys::run(&mut cmd)
    }

    /// [`Cluster::try_netctl`] that must succeed.
    pub fn netctl(&mut self, args: &[&str]) -> String {
        self.try_netctl(args).unwrap_or_else(|e| panic!("{e}"))
    }

    /// `GET <path>` on a live netmaster, as JSON (must answer 2xx).
    pub fn api_get(&mut self, path: &str) -> Value {
        let i = self.control.live();
        let r = self
            .control
            .http(i, "GET", path, None)
            .unwrap_or_else(|e| panic!("{e}"));
        assert!(r.ok(), "GET {path}: {} {}", r.status, r.body);
        r.json()
    }

    /// netmaster's view of endpoint `id` (`inspect`), if it has it.
    pub fn endpoint(&mut self, id: &str) -> Option<Value> {
        let i = self.control.live();
        let r = self
            .control
            .http(i, "GET", &format!("/api/v1/inspect/endpoints/{id}/"), None)
            .unwrap_or_else(|e| panic!("{e}"));
        match r.status {
            404 => None,
            s if (200..300).contains(&s) => Some(r.json()),
            s => panic!("inspect endpoint {id}: {s} {}", r.body),
        }
    }

    /// Deletes every rule, group, policy, network and tenant but `default`,
    /// and puts the ARP mode back to proxy (best effort: a failed case may
    /// leave things behind that the next case must not trip over).
    pub fn reset_intent(&mut self) {
        let i = self.control.live();
        for coll in ["rules", "endpointGroups", "policys", "networks", "tenants"] {
            let Ok(r) = self
                .control
                .http(i, "GET", &format!("/api/v1/{coll}/"), None)
            else {
                continue;
            };
            for o in r.json().as_array().into_iter().flatten() {
                let Some(key) = o["key"].as_str() else {
                    continue;
                };
                if coll == "tenants" && key == "default" {
                    continue;
                }
                let _ = self
                    .control
                    .http(i, "DELETE", &format!("/api/v1/{coll}/{key}/"), None);
            }
        }
        let _ = self.try_netctl(&["global", "set", "--arp-mode", "proxy"]);
    }

    /// Nodes netmaster knows (registered, lease alive).
    pub fn nodes(&mut self) -> BTreeSet<String> {
        self.api_get("/info")["netplugin-nodes"]
            .as_array()
            .into_iter()
            .flatten()
            .filter_map(|v| v.as_str().map(str::to_owned))
            .collect()
    }

    /// VTEPs of every host except `name`.
    pub fn vteps_except(&self, name: &str) -> BTreeSet<Ipv4Addr> {
        self.hosts
            .iter()
            .filter(|h| h.name != name)
            .map(|h| h.vtep)
            .collect()
    }

    /// Waits until every host has exactly one VXLAN port to every other
    /// host, and no other.
    pub fn wait_mesh(&self, timeout: Duration) {
        for h in &self.hosts {
            let want: Vec<Ipv4Addr> = self.vteps_except(&h.name).into_iter().collect();
            eventually(
                &format!("{} has tunnels to exactly {want:?}", h.name),
                timeout,
                || (h.tunnels() == want).then_some(()),
            );
        }
    }

    /// Cuts host `name`'s underlay and trunk (link down at the hub).
    pub fn cut(&self, name: &str) {
        self.hub.set_links(&self.host(name).links, false);
    }

    /// Restores host `name`'s links.
    pub fn restore(&self, name: &str) {
        self.hub.set_links(&self.host(name).links, true);
    }

    /// Seconds since the cluster started (for step logs).
    pub fn elapsed(&self) -> f64 {
        self.started.elapsed().as_secs_f64()
    }

    /// Prints a step marker (shown by `cargo test -- --nocapture` and in
    /// failure output).
    pub fn step(&self, what: &str) {
        eprintln!("[cluster {:7.1}s] {what}", self.elapsed());
    }

    /// Tails of every log, for failure reports.
    pub fn report(&self) -> String {
        let mut s = self.control.report();
        for h in &self.hosts {
            s.push_str(&format!(
                "--- netplugin on {} log tail:\n{}\n",
                h.name,
                h.agent_log(30)
            ));
        }
        s
    }
}

/// The namespaces under `/var/run/netns` now.
pub fn namespaces() -> BTreeSet<String> {
    std::fs::read_dir("/var/run/netns")
        .into_iter()
        .flatten()
        .flatten()
        .filter_map(|e| e.file_name().into_string().ok())
        .collect()
}

/// What a cluster created that must be gone after it: namespaces (hub,
/// hosts, the agents' DNS namespaces by prefix, containers added with
/// [`Inventory::namespace`]), processes, OVS run directories, the
/// cluster directory.
#[derive(Clone, Debug, Default)]
pub struct Inventory {
    names: Vec<String>,
    prefixes: Vec<String>,
    pids: Vec<u32>,
    dirs: Vec<std::path::PathBuf>,
}

impl Inventory {
    /// Also expects namespace `name` to be gone.
    pub fn namespace(&mut self, name: &str) {
        self.names.push(name.to_owned());
    }

    /// Panics naming whatever is still there.
    pub fn assert_gone(&self) {
        let left: Vec<String> = namespaces()
            .into_iter()
            .filter(|n| {
                self.names.contains(n) || self.prefixes.iter().any(|p| n.starts_with(p.as_str()))
            })
            .collect();
        assert!(left.is_empty(), "namespaces left behind: {left:?}");
        for d in &self.dirs {
            assert!(!d.exists(), "{} left behind", d.display());
        }
        for pid in &self.pids {
            assert!(
                !Path::new(&format!("/proc/{pid}")).exists(),
                "process {pid} still runs"
            );
        }
    }
}

impl Cluster {
    /// Everything this cluster created so far.
    pub fn inventory(&self) -> Inventory {
        let mut inv = Inventory {
            names: vec![self.hub.ns.name().to_owned()],
            pids: self.control.pids(),
            dirs: self.dir.iter().map(|d| d.path().to_owned()).collect(),
            ..Inventory::default()
        };
        for h in &self.hosts {
            inv.names.push(h.ns.name().to_owned());
            inv.prefixes.push(h.dns_netns_prefix());
            inv.dirs.push(h.datapath_dir());
            inv.pids.extend(h.agent_pid());
            inv.pids.extend(h.speaker_pid());
        }
        inv
    }

    /// Tears the cluster down and checks that nothing it created is left
    /// (see [`Inventory`]).
    pub fn teardown(self) {
        let inv = self.inventory();
        drop(self);
        inv.assert_gone();
    }
}

impl Drop for Cluster {
    fn drop(&mut self) {
        if std::thread::panicking() {
            eprintln!("cluster failed; log tails:\n{}", self.report());
        }
        // Agents first (they hold ports on their switches), then the rest
        // in field order.
        for h in &mut self.hosts {
            h.kill_agent();
        }
        self.hosts.clear();
        if std::env::var_os("CONTIV_CLUSTER_KEEP").is_some()
            && let Some(d) = self.dir.take()
        {
            eprintln!("keeping {}", d.keep().display());
        }
    }
}

/// A named system-test case run on a shared cluster.
pub type Case = (&'static str, fn(&mut Cluster));

/// Runs the named cases in order, each with `c`; a failing case is
/// reported and the next one still runs; at the end the test fails naming
/// every failed case. Each case's duration is printed.
pub fn run_cases(c: &mut Cluster, cases: &[Case]) {
    let mut failed = Vec::new();
    for (name, case) in cases {
        c.step(&format!("=== {name}"));
        let t = Instant::now();
        let r = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| case(c)));
        let secs = t.elapsed().as_secs_f64();
        match r {
            Ok(()) => c.step(&format!("=== {name}: ok ({secs:.1}s)")),
            Err(e) => {
                let msg = e
                    .downcast_ref::<String>()
                    .cloned()
                    .or_else(|| e.downcast_ref::<&str>().map(|s| (*s).to_owned()))
                    .unwrap_or_default();
                c.step(&format!("=== {name}: FAILED ({secs:.1}s): {msg}"));
                failed.push(format!("{name}: {msg}"));
                c.reset_intent();
            }
        }
    }
    if !failed.is_empty() {
        eprintln!("{}", c.report());
    }
    assert!(failed.is_empty(), "failed cases:\n{}", failed.join("\n"));
}
