//! Linux host plumbing every backend shares (feature `linux`): network
//! namespaces ([`netns`]), rtnetlink requests ([`link`]), the kernel's
//! neighbour table ([`neigh`]), the one ethtool
//! switch a userspace datapath needs ([`ethtool`]), bandwidth shaping
//! ([`shaping`]: `tbf` on either end of a veth), the host's NAT rules for
//! external access ([`netfilter`]: an nftables table per owner) and the
//! host port they work through ([`host_port`]: veth, routes, rules derived
//! from the host state), and
//! [`Plumber`], which
//! realises a [`LocalEndpoint`]'s interfaces — the veth pair between the
//! switch and a container, its addresses, MAC, MTU and default routes, and
//! TX checksum offload turned off on both ends (a userspace datapath's
//! conntrack needs full checksums, see [`ethtool`]).
//!
//! The host side of every veth lives in the *switch namespace* (where the
//! dataplane runs — ovs-vswitchd, the tc programs; normally this process's
//! own) so the dataplane can open it by name. Every operation is idempotent: creating what exists
//! re-applies its configuration, removing what is gone succeeds.
//!
//! * [`Attachment::Netns`]: create `host_ifname` ↔ `ifname` with the peer
//!   created directly in the container namespace (no move), set MAC,
//!   MTU, addresses, bring it up, add default routes via the network's
//!   gateways.
//! * [`Attachment::HostVeth`]: create `host_ifname` ↔ `peer_name`, both in
//!   the switch namespace, MAC and MTU on the peer (the runtime moves it).
//! * [`Attachment::Existing`]: the interface exists; only bring it up and
//!   turn its TX checksum offload off.

pub mod ethtool;
pub mod host_port;
pub mod link;
pub mod neigh;
pub mod netfilter;
pub mod netns;
pub mod shaping;

pub use netns::Netns;

use crate::datapath::{Attachment, LocalEndpoint, NetworkSpec};
use std::os::fd::AsRawFd;

/// Plumbing failures, naming the interface and namespace involved.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum PlumbError {
    /// A netlink request failed.
    #[error("netlink: {what} {ifname}: {message}")]
    Netlink {
        /// What was being done.
        what: String,
        /// The interface.
        ifname: String,
        /// The kernel's answer.
        message: String,
    },
    /// A namespace could not be opened or joined.
    #[error("{netns}: {message}")]
    Netns {
        /// The namespace.
        netns: String,
        /// What went wrong.
        message: String,
    },
    /// The ethtool ioctl failed.
    #[error("ethtool on {ifname}: {message}")]
    Ethtool {
        /// The interface.
        ifname: String,
        /// What went wrong.
        message: String,
    },
    /// The request cannot be carried out as asked.
    #[error("{0}")]
    Invalid(String),
}

/// Creates and removes endpoint interfaces. Cheap to clone.
#[derive(Clone, Debug, Default)]
pub struct Plumber {
    switch_ns: Netns,
    /// Leave TX checksum offload as the kernel sets it (see
    /// [`Plumber::keep_checksum_offload`]).
    keep_offload: bool,
}

/// Temporary name of the container side before it is moved and renamed:
/// unique per endpoint id, at most 15 bytes.
fn temp_name(id: &str) -> String {
    // FNV-1a: stable across runs and builds.
    let h = id.bytes().fold(0x811c_9dc5u32, |h, b| {
        (h ^ u32::from(b)).wrapping_mul(0x0100_0193)
    });
    format!("ctmp{h:08x}")
}

fn check_name(what: &str, name: &str) -> Result<(), PlumbError> {
    if name.is_empty() || name.len() > 15 || name.contains(['/', ' ']) {
        return Err(PlumbError::Invalid(format!(
            "{what} {name:?} is not a valid interface name (1 to 15 bytes, no '/' or spaces)"
        )));
    }
    Ok(())
}

impl Plumber {
    /// A plumber whose veth host sides live in `switch_ns` (the namespace
    /// ovs-vswitchd runs in).
    pub fn new(switch_ns: Netns) -> Plumber {
        Plumber {
            switch_ns,
            keep_offload: false,
        }
    }

    /// Leaves TX checksum offload on: for a kernel dataplane (tc
    /// programs), which needs no complete checksums — turning it off would
    /// also turn off TSO and cost most of the throughput.
    pub fn keep_checksum_offload(mut self) -> Plumber {
        self.keep_offload = true;
        self
    }

    async fn tx_checksum_off(&self, ns: &Netns, ifname: &str) -> Result<(), PlumbError> {
        if self.keep_offload {
            return Ok(());
        }
        ethtool::set_tx_checksum(ns, ifname, false).await
    }

    /// The switch namespace.
    pub fn switch_ns(&self) -> &Netns {
        &self.switch_ns
    }

    /// Makes `ep`'s interfaces exist and carry its configuration (see the
    /// [module documentation](self)). `net` supplies the gateways.
    pub async fn ensure(&self, ep: &LocalEndpoint, net: &NetworkSpec) -> Result<(), PlumbError> {
        check_name("host interface", &ep.host_ifname)?;
        let host = netns::netlink(&self.switch_ns).await?;
        match &ep.attachment {
            Attachment::Existing => {
                let Some(i) = link::index(&host, &ep.host_ifname).await? else {
                    return Err(PlumbError::Invalid(format!(
                        "interface {} does not exist in {} (attachment `Existing` only attaches it)",
                        ep.host_ifname,
                        self.switch_ns.describe()
                    )));
                };
                link::configure(&host, i, &ep.host_ifname, None, 0).await?;
                self.tx_checksum_off(&self.switch_ns, &ep.host_ifname)
                    .await?;
            }
            Attachment::HostVeth { peer_name } => {
                check_name("peer interface", peer_name)?;
                if link::index(&host, &ep.host_ifname).await?.is_none() {
                    link::add_veth(&host, &ep.host_ifname, peer_name).await?;
                }
                if let Some(p) = link::index(&host, peer_name).await? {
                    link::configure(&host, p, peer_name, Some(ep.mac), ep.mtu).await?;
                    self.tx_checksum_off(&self.switch_ns, peer_name).await?;
                }
                self.host_side_up(&host, ep).await?;
            }
            Attachment::Netns {
                netns: path,
                ifname,
            } => {
                check_name("container interface", ifname)?;
                let cns = Netns::Path(path.clone());
                let ctr = netns::netlink(&cns).await?;
                let host_idx = link::index(&host, &ep.host_ifname).await?;
                let ctr_idx = link::index(&ctr, ifname).await?;
                match (host_idx, ctr_idx) {
                    (Some(_), Some(_)) => {}
                    (Some(_), None) => {
                        // Half a pair (the container side went away):
                        // start over.
                        link::delete(&host, &ep.host_ifname).await?;
                        self.create_into_netns(&host, &ctr, ep, path, ifname)
                            .await?;
                    }
                    (None, Some(_)) => {
                        return Err(PlumbError::Invalid(format!(
                            "interface {ifname} already exists in {} and is not ours \
                             (no host side {} in {})",
                            cns.describe(),
                            ep.host_ifname,
                            self.switch_ns.describe()
                        )));
                    }
                    (None, None) => {
                        self.create_into_netns(&host, &ctr, ep, path, ifname)
                            .await?;
                    }
                }
                let i = link::index(&ctr, ifname).await?.ok_or_else(|| {
                    PlumbError::Invalid(format!("{ifname} vanished from {}", cns.describe()))
                })?;
                link::configure(&ctr, i, ifname, Some(ep.mac), ep.mtu).await?;
                if let Some(a) = ep.ipv4 {
                    link::add_address(&ctr, i, ifname, a.addr().into(), a.prefix_len()).await?;
                    if let Some(gw) = net.gateway.filter(|g| a.contains(g) && *g != a.addr()) {
                        link::add_default_route_v4(&ctr, gw).await?;
                    }
                }
                if let Some(a) = ep.ipv6 {
                    link::add_address(&ctr, i, ifname, a.addr().into(), a.prefix_len()).await?;
                    if let Some(gw) = net.gateway6.filter(|g| a.contains(g) && *g != a.addr()) {
                        link::add_default_route_v6(&ctr, gw).await?;
                    }
                }
                self.tx_checksum_off(&cns, ifname).await?;
                self.host_side_up(&host, ep).await?;
            }
        }
        Ok(())
    }

    async fn host_side_up(
        &self,
        host: &rtnetlink::Handle,
        ep: &LocalEndpoint,
    ) -> Result<(), PlumbError> {
        let i = link::index(host, &ep.host_ifname).await?.ok_or_else(|| {
            PlumbError::Invalid(format!(
                "{} vanished from {}",
                ep.host_ifname,
                self.switch_ns.describe()
            ))
        })?;
        link::configure(host, i, &ep.host_ifname, None, ep.mtu).await?;
        self.tx_checksum_off(&self.switch_ns, &ep.host_ifname).await
    }

    async fn create_into_netns(
        &self,
        host: &rtnetlink::Handle,
        ctr: &rtnetlink::Handle,
        ep: &LocalEndpoint,
        path: &std::path::Path,
        ifname: &str,
    ) -> Result<(), PlumbError> {
        // A leftover temporary from an interrupted attempt (older runs
        // created the peer under a temporary name and moved it).
        link::delete(host, &temp_name(&ep.id)).await?;
        // The container side is created in its namespace under its final
        // name, in the same request as the host side.
        let f = netns::open(path)?;
        link::add_veth_peer_in_netns(host, &ep.host_ifname, ifname, f.as_raw_fd()).await?;
        if link::index(ctr, ifname).await?.is_none() {
            let _ = link::delete(host, &ep.host_ifname).await;
            return Err(PlumbError::Invalid(format!(
                "{ifname} did not appear in {}",
                path.display()
            )));
        }
        Ok(())
    }

    /// Removes `ep`'s interfaces (the veth pair; nothing for `Existing`).
    pub async fn remove(&self, ep: &LocalEndpoint) -> Result<(), PlumbError> {
        if matches!(ep.attachment, Attachment::Existing) {
            return Ok(());
        }
        let host = netns::netlink(&self.switch_ns).await?;
        link::delete(&host, &ep.host_ifname).await.map(|_| ())
    }

    /// Deletes a host-side interface by name, if it exists (cleanup of
    /// stale ports found at resync).
    pub async fn delete_host_link(&self, name: &str) -> Result<bool, PlumbError> {
        let host = netns::netlink(&self.switch_ns).await?;
        link::delete(&host, name).await
    }

    /// Whether a host-side interface exists.
    pub async fn host_link_exists(&self, name: &str) -> Result<bool, PlumbError> {
        let host = netns::netlink(&self.switch_ns).await?;
        Ok(link::index(&host, name).await?.is_some())
    }
}

/// Adds (or replaces) link-scope routes to `dsts` via interface `ifname`
/// inside `ns` — e.g. a container's route to a link-local service address
/// (`169.254.53.53/32 dev eth0 scope link`) and that service's routes back
/// to the network's subnets.
pub async fn add_link_routes(
    ns: &Netns,
    ifname: &str,
    dsts: &[ipnet::Ipv4Net],
) -> Result<(), PlumbError> {
    let h = netns::netlink(ns).await?;
    let Some(index) = link::index(&h, ifname).await? else {
        return Err(PlumbError::Invalid(format!(
            "interface {ifname} does not exist in {}",
            ns.describe()
        )));
    };
    for d in dsts {
        link::replace_link_route_v4(&h, index, ifname, *d).await?;
    }
    Ok(())
}

/// Makes the link-scope IPv4 routes through `ifname` in `ns` exactly
/// `want` (static routes the caller owns on an interface it owns; the
/// kernel's connected routes are left alone). Returns (added, removed).
pub async fn sync_link_routes(
    ns: &Netns,
    ifname: &str,
    want: &[ipnet::Ipv4Net],
) -> Result<(usize, usize), PlumbError> {
    let h = netns::netlink(ns).await?;
    let Some(index) = link::index(&h, ifname).await? else {
        return Err(PlumbError::Invalid(format!(
            "interface {ifname} does not exist in {}",
            ns.describe()
        )));
    };
    let have = link::link_routes_v4(&h, index, ifname).await?;
    let mut removed = 0;
    for r in &have {
        if !want.contains(r) {
            link::delete_link_route_v4(&h, index, ifname, *r).await?;
            removed += 1;
        }
    }
    let mut added = 0;
    for r in want {
        if !have.contains(r) {
            link::replace_link_route_v4(&h, index, ifname, *r).await?;
            added += 1;
        }
    }
    Ok((added, removed))
}

/// Makes the host end of a datapath's host port: the veth `host` ↔ `peer`
/// in `ns` (created if missing), `host` with `mac`, `addr`, ARP off and
/// up, `peer` up with TX checksum offload off on both. Forwarding is
/// turned on in `ns` (the host routes between the port and its uplinks)
/// and `host` accepts `127/8` sources (published ports reached from
/// `localhost`). Returns whether the pair was created.
pub async fn ensure_host_port(
    ns: &Netns,
    host: &str,
    peer: &str,
    mac: crate::datapath::MacAddr,
    addr: ipnet::Ipv4Net,
) -> Result<bool, PlumbError> {
    check_name("host port", host)?;
    check_name("host port peer", peer)?;
    let h = netns::netlink(ns).await?;
    let created = if link::index(&h, host).await?.is_none() {
        let _ = link::delete(&h, peer).await?;
        link::add_veth(&h, host, peer).await?;
        true
    } else {
        false
    };
    let hi = link::index(&h, host)
        .await?
        .ok_or_else(|| PlumbError::Invalid(format!("{host} vanished")))?;
    let pi = link::index(&h, peer)
        .await?
        .ok_or_else(|| PlumbError::Invalid(format!("{host} has no peer {peer}")))?;
    link::configure(&h, hi, host, Some(mac), 0).await?;
    link::set_noarp(&h, hi, host).await?;
    link::add_address(&h, hi, host, addr.addr().into(), addr.prefix_len()).await?;
    link::configure(&h, pi, peer, None, 0).await?;
    ethtool::set_tx_checksum(ns, host, false).await?;
    ethtool::set_tx_checksum(ns, peer, false).await?;
    netfilter::sysctl(ns, "net/ipv4/ip_forward", "1").await?;
    netfilter::sysctl(ns, &format!("net/ipv4/conf/{host}/route_localnet"), "1").await?;
    Ok(created)
}
