//! The underlay: a hub namespace with two Linux bridges, and a pair of
//! veths from every host into it.
//!
//! * `underlay` (L3, [`UNDERLAY_PREFIX`]`.0/24`): each host's VTEP address
//!   and the control plane (netmasters and etcd listen on the hub's own
//!   addresses on this bridge) — VXLAN and every REST/watch call between
//!   hosts and netmaster cross it;
//! * `trunk` (L2 only, no address, no VLAN filtering): each host's VLAN
//!   uplink, so tagged frames of VLAN networks pass between hosts and
//!   `tcpdump -e` on a hub port shows the tag.
//!
//! Cutting a host's links (both, at the hub side) partitions it from the
//! data and control planes at once, as pulling its cables would.

use super::netns::Netns;
use super::sys::Proc;
use std::net::Ipv4Addr;
use std::path::Path;
use std::time::{Duration, Instant};

/// The underlay subnet's first three octets (only ever used inside the
/// namespaces the harness creates).
pub const UNDERLAY_PREFIX: [u8; 3] = [172, 31, 200];
/// The L3 bridge in the hub.
pub const UNDERLAY_BRIDGE: &str = "underlay";
/// The VLAN trunk bridge in the hub.
pub const TRUNK_BRIDGE: &str = "trunk";
/// A host's underlay interface (in the host namespace).
pub const HOST_UNDERLAY_IF: &str = "ul0";
/// A host's VLAN uplink interface (in the host namespace).
pub const HOST_TRUNK_IF: &str = "vl0";

/// The underlay address with last octet `n`.
pub fn underlay_addr(n: u8) -> Ipv4Addr {
    let [a, b, c] = UNDERLAY_PREFIX;
    Ipv4Addr::new(a, b, c, n)
}

/// The hub namespace and its bridges.
#[derive(Debug)]
pub struct Hub {
    /// The namespace.
    pub ns: Netns,
}

/// The hub-side names of one host's links.
#[derive(Clone, Debug)]
pub struct HostLinks {
    /// Underlay veth, hub side.
    pub underlay: String,
    /// Trunk veth, hub side.
    pub trunk: String,
}

impl Hub {
    /// Creates the namespace and both bridges (up).
    pub fn create() -> Hub {
        let ns = Netns::create("ctvhub");
        for br in [UNDERLAY_BRIDGE, TRUNK_BRIDGE] {
            ns.ip(&["link", "add", br, "type", "bridge"]);
            ns.ip(&["link", "set", br, "up"]);
        }
        Hub { ns }
    }

    /// Adds `addr/24` on the underlay bridge (a control-plane address).
    pub fn add_address(&self, addr: Ipv4Addr) {
        self.ns
            .ip(&["addr", "add", &format!("{addr}/24"), "dev", UNDERLAY_BRIDGE]);
    }

    /// Connects host `index` (namespace `host`): veth [`HOST_UNDERLAY_IF`]
    /// ↔ `h<index>u` on the underlay bridge and [`HOST_TRUNK_IF`] ↔
    /// `h<index>v` on the trunk bridge, all up, TX checksum offload off on
    /// the host ends (OVS's userspace datapath and conntrack need complete
    /// checksums).
    pub fn attach(&self, host: &Netns, index: usize) -> HostLinks {
        let links = HostLinks {
            underlay: format!("h{index}u"),
            trunk: format!("h{index}v"),
        };
        for (host_if, hub_if, br) in [
            (HOST_UNDERLAY_IF, &links.underlay, UNDERLAY_BRIDGE),
            (HOST_TRUNK_IF, &links.trunk, TRUNK_BRIDGE),
        ] {
            super::sys::must(&[
                "ip",
                "link",
                "add",
                host_if,
                "netns",
                host.name(),
                "type",
                "veth",
                "peer",
                "name",
                hub_if,
                "netns",
                self.ns.name(),
            ]);
            self.ns.ip(&["link", "set", hub_if, "master", br]);
            self.ns.ip(&["link", "set", hub_if, "up"]);
            host.ip(&["link", "set", host_if, "up"]);
            host.must(&["ethtool", "-K", host_if, "tx", "off"]);
        }
        links
    }

    /// Sets the hub side of `links` down (`up == false`) or up.
    pub fn set_links(&self, links: &HostLinks, up: bool) {
        let state = if up { "up" } else { "down" };
        for l in [&links.underlay, &links.trunk] {
            self.ns.ip(&["link", "set", l, state]);
        }
    }

    /// Starts `tcpdump -e -n -l -i <iface> <filter>` in the hub, writing to
    /// `out`; returns once it is capturing.
    pub fn capture(&self, iface: &str, filter: &str, out: &Path) -> Proc {
        let mut cmd = self.ns.command("tcpdump");
        cmd.args(["-e", "-n", "-l", "-i", iface]);
        cmd.args(filter.split_whitespace());
        let p = Proc::spawn(&format!("tcpdump on {iface}"), cmd, out);
        let deadline = Instant::now() + Duration::from_secs(10);
        while Instant::now() < deadline {
            if std::fs::read_to_string(out).is_ok_and(|s| s.contains("listening on")) {
                return p;
            }
            std::thread::sleep(Duration::from_millis(20));
        }
        panic!("tcpdump did not start on {iface}: {}", p.log_tail(5));
    }
}
