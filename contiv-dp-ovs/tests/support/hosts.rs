//! A small multi-host harness: "hosts" are network namespaces each running
//! their own ovsdb-server + ovs-vswitchd (private rundir) and an
//! [`OvsDatapath`]; "containers" are network namespaces the datapath plumbs
//! veths into; hosts are joined by a veth underlay (`br-phy` carrying the
//! VTEP address, REAL_COMPONENTS §4) or a trunk uplink. Everything created
//! is removed on drop — also when a test panics: namespaces by name,
//! processes by pid.
#![allow(dead_code, unused_imports)]

use contiv_core::linux::Netns;
use contiv_dp_ovs::datapath::{OvsConfig, OvsDatapath};
use contiv_dp_ovs::testing::{Netns as FixtureNetns, OvsInstance, OvsOptions};
use std::process::{Child, Command, Output, Stdio};
use std::time::{Duration, Instant};

pub use contiv_policy::conformance::fixture::unique;

/// Runs a command; panics with its output if it fails.
pub fn run(args: &[&str]) -> String {
    let out = Command::new(args[0])
        .args(&args[1..])
        .stdin(Stdio::null())
        .output()
        .unwrap_or_else(|e| panic!("cannot run {args:?}: {e}"));
    assert!(
        out.status.success(),
        "{args:?} failed: {}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout).into_owned()
}

/// A network namespace, deleted on drop.
#[derive(Debug)]
pub struct NetnsGuard {
    pub name: String,
}

impl NetnsGuard {
    /// `ip netns add <unique name>` with loopback up.
    pub fn new(prefix: &str) -> NetnsGuard {
        let name = unique(prefix);
        run(&["ip", "netns", "add", &name]);
        let g = NetnsGuard { name };
        g.ip(&["link", "set", "lo", "up"]);
        g
    }

    /// The namespace as the plumbing names it.
    pub fn netns(&self) -> Netns {
        Netns::named(&self.name)
    }

    /// Its path.
    pub fn path(&self) -> std::path::PathBuf {
        std::path::Path::new("/var/run/netns").join(&self.name)
    }

    /// `ip -n <ns> <args>` (must succeed).
    pub fn ip(&self, args: &[&str]) -> String {
        let mut v = vec!["ip", "-n", self.name.as_str()];
        v.extend_from_slice(args);
        run(&v)
    }

    /// `ip netns exec <ns> <args>`, output whatever the result.
    pub fn exec(&self, args: &[&str]) -> Output {
        Command::new("ip")
            .args(["netns", "exec", self.name.as_str()])
            .args(args)
            .stdin(Stdio::null())
            .output()
            .unwrap_or_else(|e| panic!("cannot run {args:?} in {}: {e}", self.name))
    }

    /// Starts a background process in the namespace, killed on drop.
    pub fn spawn(&self, args: &[&str]) -> ChildGuard {
        let child = Command::new("ip")
            .args(["netns", "exec", self.name.as_str()])
            .args(args)
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .unwrap_or_else(|e| panic!("cannot start {args:?} in {}: {e}", self.name));
        ChildGuard(Some(child))
    }

    /// Whether `count` pings to `ip` get answers (within a few seconds).
    pub fn ping(&self, ip: &str) -> bool {
        self.exec(&["ping", "-c", "2", "-i", "0.2", "-W", "2", ip])
            .status
            .success()
    }

    /// Pings until one answers (ARP and flows settle), up to `secs`.
    pub fn ping_eventually(&self, ip: &str, secs: u64) -> bool {
        let deadline = Instant::now() + Duration::from_secs(secs);
        while Instant::now() < deadline {
            if self
                .exec(&["ping", "-c", "1", "-W", "1", ip])
                .status
                .success()
            {
                return true;
            }
        }
        false
    }

    /// Whether a TCP connection to `ip:port` is accepted within 2 s.
    pub fn tcp_connects(&self, ip: &str, port: u16) -> bool {
        self.exec(&["nc", "-z", "-w", "2", ip, &port.to_string()])
            .status
            .success()
    }

    /// A TCP listener on `port` (all addresses), killed on drop.
    pub fn listen(&self, port: u16) -> ChildGuard {
        let g = self.spawn(&["nc", "-lk", &port.to_string()]);
        // Wait until it listens.
        let deadline = Instant::now() + Duration::from_secs(5);
        while Instant::now() < deadline {
            let out = self.exec(&["ss", "-ltn"]);
            if String::from_utf8_lossy(&out.stdout).contains(&format!(":{port} ")) {
                return g;
            }
            std::thread::sleep(Duration::from_millis(20));
        }
        panic!("nc did not start listening on {port} in {}", self.name);
    }
}

impl Drop for NetnsGuard {
    fn drop(&mut self) {
        let _ = Command::new("ip")
            .args(["netns", "delete", self.name.as_str()])
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .status();
    }
}

/// A child process killed (by pid) and reaped on drop.
#[derive(Debug)]
pub struct ChildGuard(Option<Child>);

impl Drop for ChildGuard {
    fn drop(&mut self) {
        if let Some(mut c) = self.0.take() {
            let _ = c.kill();
            let _ = c.wait();
        }
    }
}

/// A simulated host: a namespace with its own OVS. Field order is drop
/// order: the datapath, then OVS, then the namespace.
pub struct Host {
    pub dp: Option<OvsDatapath>,
    pub ovs: OvsInstance,
    pub ns: NetnsGuard,
    pub uplink: Option<String>,
}

impl Host {
    /// A host namespace running OVS (no datapath yet).
    pub fn new() -> Host {
        let ns = NetnsGuard::new("hst");
        let ovs = OvsInstance::start_with(OvsOptions {
            netns: FixtureNetns::Existing(ns.name.clone()),
        })
        .expect("start OVS in the host namespace");
        Host {
            dp: None,
            ovs,
            ns,
            uplink: None,
        }
    }

    /// The datapath configuration for this host.
    pub fn config(&self) -> OvsConfig {
        let mut c = OvsConfig::new(self.ovs.rundir());
        c.switch_netns = self.ns.netns();
        c.uplink = self.uplink.clone();
        c
    }

    /// Connects a datapath (replacing any previous one: the old one is
    /// dropped first, as if the agent had been killed).
    pub async fn connect(&mut self) {
        self.dp = None;
        let dp = OvsDatapath::connect(self.config())
            .await
            .expect("connect the OVS datapath");
        self.dp = Some(dp);
    }

    /// The connected datapath.
    pub fn dp(&self) -> &OvsDatapath {
        self.dp.as_ref().expect("datapath connected")
    }

    /// `ovs-appctl ofproto/trace contivbr <flow>` → the last `Datapath
    /// actions:` line.
    pub fn trace(&self, flow: &str, ct_next: Option<&str>) -> String {
        self.try_trace(flow, ct_next)
            .unwrap_or_else(|e| panic!("{e}"))
    }

    /// [`Host::trace`] returning errors instead of panicking.
    pub fn try_trace(&self, flow: &str, ct_next: Option<&str>) -> Result<String, String> {
        let mut args = vec!["ofproto/trace", "contivbr", flow];
        if let Some(ct) = ct_next {
            args.push("--ct-next");
            args.push(ct);
        }
        let out = self
            .ovs
            .appctl(&args)
            .map_err(|e| format!("ofproto/trace {flow}: {e}"))?;
        out.lines()
            .filter_map(|l| l.strip_prefix("Datapath actions: "))
            .next_back()
            .map(str::to_owned)
            .ok_or_else(|| format!("no `Datapath actions:` in trace:\n{out}"))
    }

    /// Gives the host a VTEP address on `br-phy` (with a veth as its
    /// "physical" port, going nowhere) and a static neighbour for `peer`,
    /// so OVS encapsulates towards `peer` without a real underlay (traces
    /// only).
    pub fn fake_underlay(&self, vtep: &str, peer: &str) {
        self.ovs
            .vsctl(&[
                "add-br",
                "br-phy",
                "--",
                "set",
                "bridge",
                "br-phy",
                "datapath_type=netdev",
            ])
            .expect("add br-phy");
        let phy = unique("ph");
        self.ns.ip(&[
            "link",
            "add",
            &phy,
            "type",
            "veth",
            "peer",
            "name",
            &format!("{phy}p"),
        ]);
        self.ns.ip(&["link", "set", &phy, "up"]);
        self.ns.ip(&["link", "set", &format!("{phy}p"), "up"]);
        self.ovs
            .vsctl(&["add-port", "br-phy", &phy])
            .expect("add the br-phy port");
        self.ns
            .ip(&["addr", "add", &format!("{vtep}/24"), "dev", "br-phy"]);
        self.ns.ip(&["link", "set", "br-phy", "up"]);
        let deadline = Instant::now() + Duration::from_secs(5);
        loop {
            let routes = self.ovs.appctl(&["ovs/route/show"]).unwrap_or_default();
            if routes.contains("br-phy") {
                break;
            }
            assert!(
                Instant::now() < deadline,
                "OVS did not learn the br-phy route: {routes}"
            );
            std::thread::sleep(Duration::from_millis(50));
        }
        self.ovs
            .appctl(&["tnl/arp/set", "br-phy", peer, "02:00:00:00:00:99"])
            .expect("tnl/arp/set");
    }
}

/// Whether a trace's `Datapath actions:` send the packet anywhere: some
/// top-level action is an output (a port number) or a tunnel push. `drop`
/// and a bare `ct(commit,…)` with nothing after it do not.
pub fn forwards(actions: &str) -> bool {
    let mut depth = 0i32;
    let mut tokens = Vec::new();
    let mut cur = String::new();
    for ch in actions.chars() {
        match ch {
            '(' => depth += 1,
            ')' => depth -= 1,
            ',' if depth == 0 => {
                tokens.push(std::mem::take(&mut cur));
                continue;
            }
            _ => {}
        }
        cur.push(ch);
    }
    tokens.push(cur);
    tokens
        .iter()
        .map(|t| t.trim())
        .any(|t| t.parse::<u32>().is_ok() || t.starts_with("tnl_push("))
}

/// Joins two hosts with a veth underlay: `br-phy` in each host carries the
/// VTEP address `172.31.<subnet>.{1,2}/24` (OVS routes VXLAN through it).
/// Returns the two VTEP addresses.
pub fn underlay(a: &Host, b: &Host, subnet: u8) -> (String, String) {
    let (ua, ub) = (unique("ua"), unique("ub"));
    run(&[
        "ip", "link", "add", &ua, "netns", &a.ns.name, "type", "veth", "peer", "name", &ub,
        "netns", &b.ns.name,
    ]);
    let mut vteps = Vec::new();
    for (h, dev, n) in [(a, &ua, 1), (b, &ub, 2)] {
        let mac = h.ns.ip(&["-br", "link", "show", dev]);
        let mac = mac
            .split_whitespace()
            .nth(2)
            .expect("MAC of the underlay veth")
            .to_owned();
        h.ovs
            .vsctl(&[
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
        h.ovs
            .vsctl(&["add-port", "br-phy", dev])
            .expect("add underlay port");
        h.ns.ip(&["link", "set", dev, "up"]);
        let vtep = format!("172.31.{subnet}.{n}");
        h.ns.ip(&["addr", "add", &format!("{vtep}/24"), "dev", "br-phy"]);
        h.ns.ip(&["link", "set", "br-phy", "up"]);
        vteps.push(vtep);
    }
    (vteps[0].clone(), vteps[1].clone())
}

/// Joins two hosts with a veth trunk; returns the interface name in each
/// host (to be used as the datapath uplink).
pub fn trunk(a: &Host, b: &Host) -> (String, String) {
    let (ua, ub) = (unique("ta"), unique("tb"));
    run(&[
        "ip", "link", "add", &ua, "netns", &a.ns.name, "type", "veth", "peer", "name", &ub,
        "netns", &b.ns.name,
    ]);
    for (h, dev) in [(a, &ua), (b, &ub)] {
        h.ns.ip(&["link", "set", dev, "up"]);
        let _ = h.ns.exec(&["ethtool", "-K", dev, "tx", "off"]);
    }
    (ua, ub)
}

/// Connects a new uplink of `h` to interface `ifname` in namespace
/// `netns` (a top-of-rack switch); returns the uplink's name in the host.
pub fn fabric(h: &Host, netns: &str, ifname: &str) -> String {
    let up = unique("fu");
    run(&[
        "ip", "link", "add", &up, "netns", &h.ns.name, "type", "veth", "peer", "name", ifname,
        "netns", netns,
    ]);
    h.ns.ip(&["link", "set", &up, "up"]);
    let _ = h.ns.exec(&["ethtool", "-K", &up, "tx", "off"]);
    run(&[
        "ip", "netns", "exec", netns, "ethtool", "-K", ifname, "tx", "off",
    ]);
    up
}
