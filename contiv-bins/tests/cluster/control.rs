//! The control plane, inside the hub namespace: one netmaster on its
//! embedded store, or three netmasters on a three-member etcd cluster or
//! on the Consul test server with three agents in the hub (leader election
//! by lease). Every process is started with `ip netns exec <hub>` (so its
//! pid is the daemon's) and stopped by pid; the Consul test server runs in
//! the test process, its listeners bound inside the hub.

use super::bins::Bins;
use super::http::{Resp, request};
use super::hub::{Hub, underlay_addr};
use super::sys::{Proc, eventually};
use contiv_store::testing::{ConsulServerConfig, ConsulTestServer};
use std::net::{Ipv4Addr, SocketAddr};
use std::path::{Path, PathBuf};
use std::time::Duration;

/// netmaster's REST port.
pub const NETMASTER_PORT: u16 = 9999;
/// etcd client port.
pub const ETCD_CLIENT_PORT: u16 = 2379;
/// etcd peer port.
pub const ETCD_PEER_PORT: u16 = 2380;
/// Consul HTTP port.
pub const CONSUL_PORT: u16 = 8500;
/// The leader lease of the HA netmasters: a killed leader is replaced
/// within about twice this.
pub const LEADER_TTL: &str = "2s";

/// Which control plane.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ControlKind {
    /// One netmaster on its embedded (redb) store.
    Embedded,
    /// Three netmasters on a three-member etcd cluster.
    Etcd3,
    /// Three netmasters on the Consul test server with three agents
    /// (`session_ttl_min` 1 s; each netmaster prefers its own agent).
    Consul3,
}

/// One netmaster process.
#[derive(Debug)]
pub struct Netmaster {
    /// Its index (0-based).
    pub index: usize,
    /// Its address on the underlay.
    pub addr: Ipv4Addr,
    proc: Option<Proc>,
    args: Vec<String>,
    env: Vec<(String, String)>,
    log: PathBuf,
}

impl Netmaster {
    /// `http://<addr>:9999`.
    pub fn url(&self) -> String {
        format!("http://{}:{NETMASTER_PORT}", self.addr)
    }

    /// Whether its process runs.
    pub fn running(&mut self) -> bool {
        match &mut self.proc {
            Some(p) => p.exited().is_none(),
            None => false,
        }
    }

    /// Its pid, if it runs.
    pub fn pid(&self) -> Option<u32> {
        self.proc.as_ref().and_then(Proc::pid)
    }

    /// The end of its log.
    pub fn log_tail(&self, n: usize) -> String {
        super::sys::tail(&self.log, n)
    }
}

/// One etcd member process.
#[derive(Debug)]
struct EtcdMember {
    addr: Ipv4Addr,
    proc: Option<Proc>,
    log: PathBuf,
}

/// Starts `nm`'s process with `ip netns exec <hub>` (every `CONTIV_*`
/// variable of the test environment removed).
fn spawn_netmaster(bins: &Bins, hub_name: &str, nm: &mut Netmaster) {
    let mut cmd = std::process::Command::new("ip");
    cmd.args(["netns", "exec", hub_name])
        .arg(&bins.netmaster)
        .args(&nm.args);
    for (k, _) in std::env::vars_os() {
        if k.to_string_lossy().starts_with("CONTIV_") {
            cmd.env_remove(k);
        }
    }
    cmd.envs(nm.env.iter().map(|(k, v)| (k, v)));
    nm.proc = Some(Proc::spawn(&format!("netmaster{}", nm.index), cmd, &nm.log));
}

/// The control plane. Field order is drop order: netmasters before etcd
/// and Consul.
#[derive(Debug)]
pub struct ControlPlane {
    /// The netmasters.
    pub netmasters: Vec<Netmaster>,
    etcd: Vec<EtcdMember>,
    consul: Option<ConsulTestServer>,
    hub_name: String,
    hub_path: PathBuf,
    bins: Bins,
}

/// One request to `addr` from inside the namespace at `ns_path`.
pub fn http_in(
    ns_path: &Path,
    addr: SocketAddr,
    method: &str,
    path: &str,
    body: Option<&str>,
) -> Result<Resp, String> {
    let body = body.map(str::to_owned);
    let path_owned = path.to_owned();
    let method_owned = method.to_owned();
    super::netns::in_netns(ns_path, move || {
        let s = std::net::TcpStream::connect_timeout(&addr, Duration::from_secs(2))?;
        s.set_read_timeout(Some(Duration::from_secs(20)))?;
        s.set_write_timeout(Some(Duration::from_secs(20)))?;
        request(
            s,
            &addr.to_string(),
            &method_owned,
            &path_owned,
            body.as_deref(),
        )
    })
    .map_err(|e| format!("{method} http://{addr}{path}: {e}"))
}

impl ControlPlane {
    /// Starts the control plane of `kind` in the hub (the hub gets the
    /// addresses `.250`, `.251`, `.252`), with agents' node leases of
    /// `node_ttl`; returns once every netmaster serves and one leads.
    pub fn start(
        kind: ControlKind,
        hub: &Hub,
        dir: &Path,
        bins: &Bins,
        node_ttl: Duration,
    ) -> ControlPlane {
        let n = match kind {
            ControlKind::Embedded => 1,
            ControlKind::Etcd3 | ControlKind::Consul3 => 3,
        };
        let addrs: Vec<Ipv4Addr> = (0..n).map(|i| underlay_addr(250 + i)).collect();
        for a in &addrs {
            hub.add_address(*a);
        }
        let mut cp = ControlPlane {
            netmasters: Vec::new(),
            etcd: Vec::new(),
            consul: None,
            hub_name: hub.ns.name().to_owned(),
            hub_path: hub.ns.path(),
            bins: bins.clone(),
        };
        let store = |i: usize| match kind {
            ControlKind::Embedded => format!("embedded:{}", dir.join("netmaster.redb").display()),
            ControlKind::Etcd3 => {
                let eps: Vec<String> = addrs
                    .iter()
                    .map(|a| format!("{a}:{ETCD_CLIENT_PORT}"))
                    .collect();
                format!("etcd://{}", eps.join(","))
            }
            ControlKind::Consul3 => {
                let mut agents: Vec<String> =
                    addrs.iter().map(|a| format!("{a}:{CONSUL_PORT}")).collect();
                agents.rotate_left(i);
                format!("consul://{}", agents.join(","))
            }
        };
        let mut env = Vec::new();
        match kind {
            ControlKind::Embedded => {}
            ControlKind::Etcd3 => cp.start_etcd(hub, dir, &addrs),
            ControlKind::Consul3 => {
                cp.start_consul(&addrs);
                env.push(("CONTIV_CONSUL_SESSION_TTL_MIN".to_owned(), "1s".to_owned()));
            }
        }
        let ttl = format!("{}ms", node_ttl.as_millis());
        for (i, a) in addrs.iter().enumerate() {
            let url = format!("http://{a}:{NETMASTER_PORT}");
            let args: Vec<String> = [
                "--listen-url",
                &format!("{a}:{NETMASTER_PORT}"),
                "--control-url",
                &url,
                "--name",
                &format!("netmaster{i}"),
                "--store",
                &store(i),
                "--mode",
                "test",
                "--node-ttl",
                &ttl,
                "--leader-ttl",
                LEADER_TTL,
                "--log-level",
                "info",
            ]
            .iter()
            .map(|s| (*s).to_owned())
            .collect();
            let mut nm = Netmaster {
                index: i,
                addr: *a,
                proc: None,
                args,
                env: env.clone(),
                log: dir.join(format!("netmaster{i}.log")),
            };
            spawn_netmaster(&cp.bins, &cp.hub_name, &mut nm);
            cp.netmasters.push(nm);
        }
        for i in 0..n {
            cp.wait_serving(usize::from(i));
        }
        cp.wait_leader(Duration::from_secs(30));
        cp
    }

    /// The Consul test server with one agent per address, listening
    /// inside the hub.
    fn start_consul(&mut self, addrs: &[Ipv4Addr]) {
        let mut server = ConsulTestServer::start_with(ConsulServerConfig {
            session_ttl_min: Duration::from_secs(1),
            ..ConsulServerConfig::default()
        })
        .expect("start the Consul test server");
        for a in addrs {
            let addr = SocketAddr::from((*a, CONSUL_PORT));
            let listener =
                super::netns::in_netns(&self.hub_path, move || std::net::TcpListener::bind(addr))
                    .unwrap_or_else(|e| panic!("bind a Consul agent at {addr} in the hub: {e}"));
            server.add_agent_on(listener).expect("add a Consul agent");
        }
        self.consul = Some(server);
    }

    fn start_etcd(&mut self, hub: &Hub, dir: &Path, addrs: &[Ipv4Addr]) {
        let initial: Vec<String> = addrs
            .iter()
            .enumerate()
            .map(|(i, a)| format!("m{i}=http://{a}:{ETCD_PEER_PORT}"))
            .collect();
        let initial = initial.join(",");
        for (i, a) in addrs.iter().enumerate() {
            let data = dir.join(format!("etcd{i}"));
            let mut cmd = hub.ns.command("etcd");
            cmd.args(["--name", &format!("m{i}")])
                .arg("--data-dir")
                .arg(&data)
                .args([
                    "--listen-client-urls",
                    &format!("http://{a}:{ETCD_CLIENT_PORT}"),
                    "--advertise-client-urls",
                    &format!("http://{a}:{ETCD_CLIENT_PORT}"),
                    "--listen-peer-urls",
                    &format!("http://{a}:{ETCD_PEER_PORT}"),
                    "--initial-advertise-peer-urls",
                    &format!("http://{a}:{ETCD_PEER_PORT}"),
                    "--initial-cluster",
                    &initial,
                    "--initial-cluster-token",
                    "contiv-cluster",
                    "--initial-cluster-state",
                    "new",
                    "--heartbeat-interval",
                    "50",
                    "--election-timeout",
                    "500",
                    "--log-level",
                    "warn",
                ]);
            let log = dir.join(format!("etcd{i}.log"));
            let proc = Proc::spawn(&format!("etcd m{i}"), cmd, &log);
            self.etcd.push(EtcdMember {
                addr: *a,
                proc: Some(proc),
                log,
            });
        }
        for m in &mut self.etcd {
            let addr = SocketAddr::from((m.addr, ETCD_CLIENT_PORT));
            let hub_path = hub.ns.path();
            let healthy = super::sys::within(Duration::from_secs(30), || {
                if let Some(p) = &mut m.proc
                    && let Some(st) = p.exited()
                {
                    panic!(
                        "etcd at {addr} exited ({st}):\n{}",
                        super::sys::tail(&m.log, 20)
                    );
                }
                http_in(&hub_path, addr, "GET", "/health", None)
                    .is_ok_and(|r| r.ok() && r.body.contains("true"))
            });
            assert!(
                healthy.is_some(),
                "etcd at {addr} not healthy within 30s:\n{}",
                super::sys::tail(&m.log, 20)
            );
        }
    }

    /// One request to netmaster `i`.
    pub fn http(
        &self,
        i: usize,
        method: &str,
        path: &str,
        body: Option<&str>,
    ) -> Result<Resp, String> {
        let nm = &self.netmasters[i];
        http_in(
            &self.hub_path,
            SocketAddr::from((nm.addr, NETMASTER_PORT)),
            method,
            path,
            body,
        )
    }

    /// Waits until netmaster `i` serves the default tenant.
    pub fn wait_serving(&mut self, i: usize) {
        let timeout = Duration::from_secs(30);
        let hub = self.hub_path.clone();
        let nm = &mut self.netmasters[i];
        let addr = SocketAddr::from((nm.addr, NETMASTER_PORT));
        let ok = super::sys::within(timeout, || {
            if let Some(p) = &mut nm.proc
                && let Some(st) = p.exited()
            {
                panic!(
                    "netmaster{i} exited ({st}):\n{}",
                    super::sys::tail(&nm.log, 30)
                );
            }
            http_in(&hub, addr, "GET", "/api/v1/tenants/default/", None)
                .is_ok_and(|r| r.status == 200)
        });
        assert!(
            ok.is_some(),
            "netmaster{i} did not serve within {timeout:?}:\n{}",
            super::sys::tail(&nm.log, 30)
        );
    }

    /// The index of the netmaster every running one names as leader.
    pub fn leader(&mut self) -> Option<usize> {
        let mut leaders = Vec::new();
        let mut named = std::collections::BTreeSet::new();
        for i in 0..self.netmasters.len() {
            if !self.netmasters[i].running() {
                continue;
            }
            let info = self.http(i, "GET", "/info", None).ok()?.json();
            // A leader counts once it accepts writes (it answers 503
            // while it completes its term's start).
            if info["current-state"] == "leader" && info["writable"] == true {
                leaders.push(i);
            }
            named.insert(info["leader-ip"].as_str()?.to_owned());
        }
        let [l] = leaders[..] else {
            return None;
        };
        (named.len() == 1 && named.contains(&self.netmasters[l].url())).then_some(l)
    }

    /// Waits until one netmaster leads and all running ones agree.
    pub fn wait_leader(&mut self, timeout: Duration) -> usize {
        eventually("an agreed netmaster leader", timeout, || self.leader())
    }

    /// Kills netmaster `i` with SIGKILL (a crash).
    pub fn kill(&mut self, i: usize) {
        if let Some(mut p) = self.netmasters[i].proc.take() {
            p.kill9();
        }
    }

    /// Starts netmaster `i` again (same store, address and flags) and
    /// waits until it serves.
    pub fn restart(&mut self, i: usize) {
        let nm = &mut self.netmasters[i];
        assert!(!nm.running(), "netmaster{i} is still running");
        spawn_netmaster(&self.bins, &self.hub_name, nm);
        self.wait_serving(i);
    }

    /// Pids of every running control-plane process (netmasters, etcd).
    pub fn pids(&self) -> Vec<u32> {
        self.netmasters
            .iter()
            .filter_map(Netmaster::pid)
            .chain(
                self.etcd
                    .iter()
                    .filter_map(|m| m.proc.as_ref().and_then(Proc::pid)),
            )
            .collect()
    }

    /// URLs of every netmaster (the agents' `--netmaster` list).
    pub fn urls(&self) -> Vec<String> {
        self.netmasters.iter().map(Netmaster::url).collect()
    }

    /// The URL of a running netmaster (the first one).
    pub fn live_url(&mut self) -> String {
        let i = (0..self.netmasters.len())
            .find(|&i| self.netmasters[i].running())
            .expect("a running netmaster");
        self.netmasters[i].url()
    }

    /// Index of a running netmaster.
    pub fn live(&mut self) -> usize {
        (0..self.netmasters.len())
            .find(|&i| self.netmasters[i].running())
            .expect("a running netmaster")
    }

    /// Log tails of every process, for a failure report.
    pub fn report(&self) -> String {
        let mut s = String::new();
        for nm in &self.netmasters {
            s.push_str(&format!(
                "--- netmaster{} ({}) log tail:\n{}\n",
                nm.index,
                nm.addr,
                nm.log_tail(25)
            ));
        }
        for (i, m) in self.etcd.iter().enumerate() {
            s.push_str(&format!(
                "--- etcd m{i} log tail:\n{}\n",
                super::sys::tail(&m.log, 10)
            ));
        }
        s
    }
}
