//! A top-of-rack switch for the routing-mode tests: a namespace on the
//! hub's trunk bridge — untagged, so it shares the fabric segment of every
//! host's uplink (`50.40.0.0/24`: the ToR `.254`, host `hN` `.N`) — running
//! a real BGP speaker that installs what it learns into its own kernel:
//! FRR (`zebra` + `bgpd`) or BIRD 2. Behind it, an "outside" namespace
//! (`60.40.0.2`, the ToR `60.40.0.1`), a server the fabric reaches and
//! that reaches the containers, without NAT.
//!
//! The daemons are stopped by pid and both namespaces deleted on drop.

use super::hub::{Hub, TRUNK_BRIDGE};
use super::netns::Netns;
use super::sys::{eventually, must};
use ipnet::Ipv4Net;
use std::collections::BTreeMap;
use std::net::Ipv4Addr;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::Duration;

/// The ToR's AS.
pub const TOR_AS: u32 = 65000;
/// The ToR's fabric address.
pub const TOR_IP: Ipv4Addr = Ipv4Addr::new(50, 40, 0, 254);
/// The fabric subnet's prefix length.
pub const FABRIC_LEN: u8 = 24;
/// The outside server's address.
pub const OUTSIDE_IP: Ipv4Addr = Ipv4Addr::new(60, 40, 0, 2);
/// The outside subnet (what the ToR advertises).
pub const OUTSIDE_NET: &str = "60.40.0.0/24";

/// Host `n`'s router address on the fabric.
pub fn router_ip(n: u8) -> Ipv4Addr {
    Ipv4Addr::new(50, 40, 0, n)
}

/// Host `n`'s AS.
pub fn host_as(n: u8) -> u32 {
    TOR_AS + u32::from(n)
}

/// Which BGP implementation plays the ToR.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Speaker {
    /// FRR 8 `bgpd` with `zebra`.
    Frr,
    /// BIRD 2.
    Bird,
}

/// A running ToR. See the [module documentation](self).
#[derive(Debug)]
pub struct Tor {
    /// Its BGP speaker.
    pub speaker: Speaker,
    /// The ToR's namespace.
    pub ns: Netns,
    /// The outside server's namespace.
    pub outside: Netns,
    dir: tempfile::TempDir,
}

fn pid_of(file: &Path) -> Option<i32> {
    std::fs::read_to_string(file).ok()?.trim().parse().ok()
}

impl Tor {
    /// Starts a ToR on `hub`'s trunk peering with hosts `1..=hosts`.
    pub fn start(hub: &Hub, speaker: Speaker, hosts: u8) -> Tor {
        let ns = Netns::create("ctvtor");
        let outside = Netns::create("ctvout");
        let dir = tempfile::Builder::new()
            .prefix("contiv-tor-")
            .tempdir()
            .expect("ToR directory");
        let tor = Tor {
            speaker,
            ns,
            outside,
            dir,
        };
        // Fabric: tor0 on the hub's trunk bridge (untagged).
        must(&[
            "ip",
            "link",
            "add",
            "tor0",
            "netns",
            tor.ns.name(),
            "type",
            "veth",
            "peer",
            "name",
            "htor",
            "netns",
            hub.ns.name(),
        ]);
        hub.ns.ip(&["link", "set", "htor", "master", TRUNK_BRIDGE]);
        hub.ns.ip(&["link", "set", "htor", "up"]);
        tor.ns.ip(&[
            "addr",
            "add",
            &format!("{TOR_IP}/{FABRIC_LEN}"),
            "dev",
            "tor0",
        ]);
        tor.ns.ip(&["link", "set", "tor0", "up"]);
        // Outside: tor1 <-> out0.
        must(&[
            "ip",
            "link",
            "add",
            "tor1",
            "netns",
            tor.ns.name(),
            "type",
            "veth",
            "peer",
            "name",
            "out0",
            "netns",
            tor.outside.name(),
        ]);
        tor.ns.ip(&["addr", "add", "60.40.0.1/24", "dev", "tor1"]);
        tor.ns.ip(&["link", "set", "tor1", "up"]);
        tor.outside
            .ip(&["addr", "add", &format!("{OUTSIDE_IP}/24"), "dev", "out0"]);
        tor.outside.ip(&["link", "set", "out0", "up"]);
        tor.outside
            .ip(&["route", "add", "default", "via", "60.40.0.1"]);
        for (n, dev) in [(&tor.ns, "tor0"), (&tor.ns, "tor1"), (&tor.outside, "out0")] {
            n.must(&["ethtool", "-K", dev, "tx", "off"]);
        }
        tor.ns.must(&["sysctl", "-qw", "net.ipv4.ip_forward=1"]);
        match speaker {
            Speaker::Frr => tor.start_frr(hosts),
            Speaker::Bird => tor.start_bird(hosts),
        }
        tor
    }

    fn path(&self, f: &str) -> PathBuf {
        self.dir.path().join(f)
    }

    fn start_frr(&self, hosts: u8) {
        let mut conf = format!(
            "frr defaults traditional\nhostname tor\nlog file {}\n!\nrouter bgp {TOR_AS}\n \
             bgp router-id {TOR_IP}\n no bgp ebgp-requires-policy\n no bgp network import-check\n \
             timers bgp 3 9\n",
            self.path("bgpd.log").display()
        );
        for n in 1..=hosts {
            conf.push_str(&format!(
                " neighbor {} remote-as {}\n neighbor {} timers connect 1\n",
                router_ip(n),
                host_as(n),
                router_ip(n)
            ));
        }
        conf.push_str(&format!(
            " address-family ipv4 unicast\n  network {OUTSIDE_NET}\n exit-address-family\n!\n"
        ));
        std::fs::write(self.path("bgpd.conf"), conf).expect("bgpd.conf");
        std::fs::write(self.path("zebra.conf"), "").expect("zebra.conf");
        // zebra drops to the frr user (root is not in the frrvty group):
        // it must own the directory.
        must(&["chown", "frr:frr", &self.dir.path().display().to_string()]);
        let d = self.dir.path().display().to_string();
        self.ns.must(&[
            "/usr/lib/frr/zebra",
            "-d",
            "-f",
            &format!("{d}/zebra.conf"),
            "-i",
            &format!("{d}/zebra.pid"),
            "-z",
            &format!("{d}/zserv.api"),
            "--vty_socket",
            &d,
            "-P",
            "0",
            "-u",
            "frr",
            "-g",
            "frr",
        ]);
        eventually("zebra's API socket", Duration::from_secs(10), || {
            self.path("zserv.api").exists().then_some(())
        });
        self.ns.must(&[
            "/usr/lib/frr/bgpd",
            "-d",
            "-S",
            "-f",
            &format!("{d}/bgpd.conf"),
            "-i",
            &format!("{d}/bgpd.pid"),
            "-z",
            &format!("{d}/zserv.api"),
            "--vty_socket",
            &d,
            "-P",
            "0",
        ]);
        eventually("bgpd's vty", Duration::from_secs(10), || {
            self.path("bgpd.vty").exists().then_some(())
        });
    }

    fn start_bird(&self, hosts: u8) {
        let mut conf = format!(
            "log \"{}\" all;\nrouter id {TOR_IP};\nprotocol device {{ scan time 2; }}\n\
             protocol direct {{ ipv4; interface \"tor1\"; }}\n\
             protocol kernel {{ ipv4 {{ import none; export where source = RTS_BGP; }}; }}\n",
            self.path("bird.log").display()
        );
        for n in 1..=hosts {
            conf.push_str(&format!(
                "protocol bgp h{n} {{\n  local {TOR_IP} as {TOR_AS};\n  neighbor {} as {};\n  \
                 connect retry time 1;\n  hold time 9;\n  ipv4 {{ import all; export all; }};\n}}\n",
                router_ip(n),
                host_as(n)
            ));
        }
        std::fs::write(self.path("bird.conf"), conf).expect("bird.conf");
        let d = self.dir.path().display().to_string();
        self.ns.must(&[
            "bird",
            "-c",
            &format!("{d}/bird.conf"),
            "-s",
            &format!("{d}/bird.ctl"),
            "-P",
            &format!("{d}/bird.pid"),
        ]);
        eventually("BIRD's control socket", Duration::from_secs(10), || {
            self.path("bird.ctl").exists().then_some(())
        });
    }

    fn vtysh(&self, cmd: &str) -> String {
        let d = self.dir.path().display().to_string();
        self.ns
            .must(&["vtysh", "--vty_socket", &d, "-d", "bgpd", "-c", cmd])
    }

    fn birdc(&self, cmd: &str) -> String {
        let sock = self.path("bird.ctl").display().to_string();
        let mut args = vec!["birdc", "-s", sock.as_str()];
        args.extend(cmd.split_whitespace());
        self.ns.must(&args)
    }

    fn neighbor_json(&self, peer: Ipv4Addr) -> serde_json::Value {
        let out = self.vtysh(&format!("show bgp neighbors {peer} json"));
        let v: serde_json::Value = serde_json::from_str(&out).unwrap_or_default();
        v[peer.to_string()].clone()
    }

    /// Whether the session with `peer` is Established.
    pub fn established(&self, peer: Ipv4Addr) -> bool {
        match self.speaker {
            Speaker::Frr => self.neighbor_json(peer)["bgpState"] == "Established",
            Speaker::Bird => {
                let name = format!("h{}", peer.octets()[3]);
                self.birdc(&format!("show protocols {name}"))
                    .contains("Established")
            }
        }
    }

    /// UPDATE messages received from `peer` so far (FRR), or the import
    /// updates BIRD counted from it: a flap (withdraw and re-announce)
    /// raises it.
    pub fn updates_from(&self, peer: Ipv4Addr) -> u64 {
        match self.speaker {
            Speaker::Frr => self.neighbor_json(peer)["messageStats"]["updatesRecv"]
                .as_u64()
                .unwrap_or(0),
            Speaker::Bird => {
                let name = format!("h{}", peer.octets()[3]);
                let out = self.birdc(&format!("show protocols all {name}"));
                let mut total = 0;
                for l in out.lines() {
                    let l = l.trim();
                    for what in ["Import updates:", "Import withdraws:"] {
                        if let Some(rest) = l.strip_prefix(what) {
                            total += rest
                                .split_whitespace()
                                .next()
                                .and_then(|n| n.parse::<u64>().ok())
                                .unwrap_or(0);
                        }
                    }
                }
                total
            }
        }
    }

    /// The ToR's BGP RIB: prefix → next hop, for routes learned over BGP.
    pub fn rib(&self) -> BTreeMap<Ipv4Net, Ipv4Addr> {
        let mut out = BTreeMap::new();
        match self.speaker {
            Speaker::Frr => {
                let v: serde_json::Value =
                    serde_json::from_str(&self.vtysh("show bgp ipv4 unicast json"))
                        .unwrap_or_default();
                for (p, paths) in v["routes"].as_object().into_iter().flatten() {
                    let Ok(prefix) = p.parse::<Ipv4Net>() else {
                        continue;
                    };
                    for path in paths.as_array().into_iter().flatten() {
                        if path["bestpath"] != true {
                            continue;
                        }
                        let nh = path["nexthops"][0]["ip"]
                            .as_str()
                            .and_then(|s| s.parse::<Ipv4Addr>().ok());
                        if let Some(nh) = nh.filter(|a| !a.is_unspecified()) {
                            out.insert(prefix, nh);
                        }
                    }
                }
            }
            Speaker::Bird => {
                let mut cur: Option<Ipv4Net> = None;
                for l in self.birdc("show route").lines() {
                    if let Some(first) = l.split_whitespace().next()
                        && !l.starts_with(char::is_whitespace)
                    {
                        cur = first.parse().ok();
                        continue;
                    }
                    let mut w = l.split_whitespace();
                    if w.next() == Some("via")
                        && let (Some(p), Some(nh)) =
                            (cur, w.next().and_then(|s| s.parse::<Ipv4Addr>().ok()))
                    {
                        out.insert(p, nh);
                    }
                }
            }
        }
        out
    }

    /// Whether the ToR's BGP RIB holds `prefix` (one cheap query, for
    /// latency polling; FRR only).
    pub fn has_route(&self, prefix: Ipv4Net) -> bool {
        match self.speaker {
            Speaker::Frr => {
                let out = self.vtysh(&format!("show bgp ipv4 unicast {prefix} json"));
                let v: serde_json::Value = serde_json::from_str(&out).unwrap_or_default();
                v["paths"].as_array().is_some_and(|p| !p.is_empty())
            }
            Speaker::Bird => self.rib().contains_key(&prefix),
        }
    }

    /// How many prefixes the ToR holds from `peer` (FRR's `pfxRcd`;
    /// BIRD's imported routes).
    pub fn prefixes_from(&self, peer: Ipv4Addr) -> u64 {
        match self.speaker {
            Speaker::Frr => {
                let v: serde_json::Value =
                    serde_json::from_str(&self.vtysh("show bgp ipv4 unicast summary json"))
                        .unwrap_or_default();
                v["peers"][peer.to_string()]["pfxRcd"].as_u64().unwrap_or(0)
            }
            Speaker::Bird => {
                let name = format!("h{}", peer.octets()[3]);
                let out = self.birdc(&format!("show protocols all {name}"));
                out.lines()
                    .find_map(|l| l.trim().strip_prefix("Routes:"))
                    .and_then(|r| r.split_whitespace().next())
                    .and_then(|n| n.parse().ok())
                    .unwrap_or(0)
            }
        }
    }

    /// The ToR kernel's route to `ip` (`ip route get`), to see what was
    /// installed.
    pub fn kernel_route(&self, ip: Ipv4Addr) -> String {
        self.ns.ip(&["route", "get", &ip.to_string()])
    }

    /// The speaker's log tail.
    pub fn log_tail(&self) -> String {
        let f = match self.speaker {
            Speaker::Frr => "bgpd.log",
            Speaker::Bird => "bird.log",
        };
        super::sys::tail(&self.path(f), 30)
    }
}

impl Drop for Tor {
    fn drop(&mut self) {
        for f in ["bgpd.pid", "zebra.pid", "bird.pid"] {
            if let Some(pid) = pid_of(&self.path(f)) {
                let _ = Command::new("kill").arg(pid.to_string()).status();
                for _ in 0..100 {
                    if !Path::new(&format!("/proc/{pid}")).exists() {
                        break;
                    }
                    std::thread::sleep(Duration::from_millis(20));
                }
                let _ = Command::new("kill")
                    .args(["-9", &pid.to_string()])
                    .stderr(std::process::Stdio::null())
                    .status();
            }
        }
    }
}
