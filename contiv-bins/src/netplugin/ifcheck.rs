//! CHECK inside the container: what a container interface should look like
//! ([`Expected`]), what its network namespace actually holds ([`observe`],
//! read over rtnetlink), and every way the two differ ([`differences`]).
//!
//! What is expected follows the CNI spec (1.0.0, `CHECK`): the plugin checks
//! what it created and the previous result lists, and allows a later
//! plugin of the chain to have changed it.
//!
//! * the interface `CNI_IFNAME` exists in `CNI_NETNS` and is up;
//! * its MAC and MTU are the ones the previous result lists (a later
//!   plugin may have changed them and reported it), else the endpoint's;
//! * it carries every address of the endpoint, with its prefix length;
//! * the routes ADD created (default routes via the gateways, the link route
//!   to the built-in DNS `169.254.53.53/32`) that the previous result still
//!   lists go out of that interface, via the same next hop.
//!
//! Extra addresses and routes (an IPv6 link-local address, a route another
//! plugin added) are not differences.

use super::error::{AgentError, AgentResult};
use crate::agent_api::wire::{CniAddResponse, ListedInterface, Route};
use contiv_core::datapath::MacAddr;
use contiv_core::linux::PlumbError;
use contiv_core::linux::netns::{Netns, netlink};
use futures::TryStreamExt;
use ipnet::IpNet;
use rtnetlink::RouteMessageBuilder;
use rtnetlink::packet_route::address::AddressAttribute;
use rtnetlink::packet_route::link::{LinkAttribute, LinkFlags};
use rtnetlink::packet_route::route::{RouteAddress, RouteAttribute, RouteHeader, RouteMessage};
use std::fmt;
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};
use std::path::{Path, PathBuf};
use tracing::warn;

/// What a container interface should look like.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Expected {
    /// The interface name in the container.
    pub ifname: String,
    /// Its MAC.
    pub mac: MacAddr,
    /// Its MTU.
    pub mtu: u32,
    /// Addresses it must carry.
    pub addresses: Vec<IpNet>,
    /// Routes that must go out of it.
    pub routes: Vec<Route>,
}

impl Expected {
    /// What CHECK expects of the interface ADD answered `added` for, given
    /// what the previous result lists for it (`None`: no previous result).
    /// Fails with a message when the previous result names an address the
    /// endpoint does not have: then the two records disagree, whatever the
    /// namespace holds.
    pub fn new(added: &CniAddResponse, listed: Option<&ListedInterface>) -> Result<Self, String> {
        let addresses = added.addresses();
        let mut routes = added.routes();
        if let Some(l) = listed {
            if let Some(a) = l
                .addresses
                .iter()
                .find(|a| !addresses.iter().any(|b| b.addr() == a.addr()))
            {
                let has: Vec<String> = addresses.iter().map(IpNet::to_string).collect();
                return Err(format!(
                    "endpoint {} does not have address {a} of the previous result (it has {})",
                    added.endpoint_id,
                    if has.is_empty() {
                        "none".to_owned()
                    } else {
                        has.join(", ")
                    }
                ));
            }
            routes.retain(|r| l.routes.contains(r));
        }
        let mac = added.mac.parse().map_err(|e| {
            format!(
                "endpoint {} has an invalid MAC {:?}: {e}",
                added.endpoint_id, added.mac
            )
        })?;
        Ok(Expected {
            ifname: added.ifname.clone(),
            mac: listed.and_then(|l| l.mac).unwrap_or(mac),
            mtu: listed.and_then(|l| l.mtu).unwrap_or(added.mtu),
            addresses,
            routes,
        })
    }
}

/// What the namespace holds for one interface name.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Observed {
    /// The namespace file does not exist (the container is gone).
    NoNetns,
    /// No interface of that name in the namespace.
    NoInterface,
    /// The interface.
    Interface(Interface),
}

/// An interface as the kernel reports it.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Interface {
    /// Administratively up.
    pub up: bool,
    /// Its MAC, if it has an Ethernet address.
    pub mac: Option<MacAddr>,
    /// Its MTU.
    pub mtu: Option<u32>,
    /// Its addresses with their prefix lengths.
    pub addresses: Vec<IpNet>,
    /// Routes of the main table going out of it.
    pub routes: Vec<Route>,
}

/// One way the container differs from what is expected.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Difference {
    /// The namespace is gone.
    NoNetns(PathBuf),
    /// The interface is gone.
    NoInterface(String),
    /// The interface is down.
    Down(String),
    /// Another MAC.
    Mac {
        /// Expected.
        want: MacAddr,
        /// Found, if any.
        have: Option<MacAddr>,
    },
    /// Another MTU.
    Mtu {
        /// Expected.
        want: u32,
        /// Found, if any.
        have: Option<u32>,
    },
    /// An address is missing.
    MissingAddress(IpNet),
    /// A route is missing.
    MissingRoute(Route),
}

impl fmt::Display for Difference {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let shown = |v: Option<String>| v.unwrap_or_else(|| "none".into());
        match self {
            Difference::NoNetns(p) => {
                write!(f, "network namespace {} does not exist", p.display())
            }
            Difference::NoInterface(i) => write!(f, "interface {i} does not exist"),
            Difference::Down(i) => write!(f, "interface {i} is down"),
            Difference::Mac { want, have } => write!(
                f,
                "MAC is {}, expected {want}",
                shown(have.map(|m| m.to_string()))
            ),
            Difference::Mtu { want, have } => write!(
                f,
                "MTU is {}, expected {want}",
                shown(have.map(|m| m.to_string()))
            ),
            Difference::MissingAddress(a) => write!(f, "address {a} is missing"),
            Difference::MissingRoute(r) => write!(f, "route {r} is missing"),
        }
    }
}

/// Every way `have` differs from `want`, in a stable order: namespace,
/// interface, MAC, MTU, addresses, routes. Empty when they agree.
pub fn differences(netns: &Path, want: &Expected, have: &Observed) -> Vec<Difference> {
    let i = match have {
        Observed::NoNetns => return vec![Difference::NoNetns(netns.to_owned())],
        Observed::NoInterface => return vec![Difference::NoInterface(want.ifname.clone())],
        Observed::Interface(i) => i,
    };
    let mut out = Vec::new();
    if !i.up {
        out.push(Difference::Down(want.ifname.clone()));
    }
    if i.mac != Some(want.mac) {
        out.push(Difference::Mac {
            want: want.mac,
            have: i.mac,
        });
    }
    if i.mtu != Some(want.mtu) {
        out.push(Difference::Mtu {
            want: want.mtu,
            have: i.mtu,
        });
    }
    for a in &want.addresses {
        if !i.addresses.contains(a) {
            out.push(Difference::MissingAddress(*a));
        }
    }
    for r in &want.routes {
        if !i.routes.contains(r) {
            out.push(Difference::MissingRoute(*r));
        }
    }
    out
}

/// Reads the namespace at `netns` and fails with an
/// [`AgentErrorKind::Misconfigured`](super::AgentErrorKind::Misconfigured)
/// error naming every difference from `want` (also logged), or an internal
/// error if the namespace cannot be read.
pub async fn verify(netns: &Path, want: &Expected) -> AgentResult<()> {
    let seen = observe(netns, &want.ifname)
        .await
        .map_err(|e| AgentError::internal(e.to_string()))?;
    let diffs = differences(netns, want, &seen);
    if diffs.is_empty() {
        return Ok(());
    }
    let what: Vec<String> = diffs.iter().map(ToString::to_string).collect();
    let what = what.join("; ");
    warn!(netns = %netns.display(), ifname = %want.ifname, differences = %what,
        "CHECK: the container's interface is not as ADD left it");
    Err(AgentError::misconfigured(format!(
        "{} in {} is not as ADD left it: {what}",
        want.ifname,
        netns.display()
    )))
}

/// Why a namespace could not be read.
#[derive(Debug, thiserror::Error)]
pub enum ObserveError {
    /// The namespace could not be entered.
    #[error(transparent)]
    Netns(#[from] PlumbError),
    /// The kernel refused a request.
    #[error("netlink: {what} in {netns}: {message}")]
    Netlink {
        /// What was being read.
        what: String,
        /// The namespace.
        netns: PathBuf,
        /// The kernel's answer.
        message: String,
    },
}

/// Reads interface `ifname` of the namespace at `netns`: flags, MAC, MTU,
/// addresses, and the main-table routes going out of it.
pub async fn observe(netns: &Path, ifname: &str) -> Result<Observed, ObserveError> {
    if !netns.exists() {
        return Ok(Observed::NoNetns);
    }
    let h = netlink(&Netns::Path(netns.to_owned())).await?;
    let fail = |what: &str, e: rtnetlink::Error| ObserveError::Netlink {
        what: format!("{what} {ifname}"),
        netns: netns.to_owned(),
        message: e.to_string(),
    };
    let link = match h
        .link()
        .get()
        .match_name(ifname.to_owned())
        .execute()
        .try_next()
        .await
    {
        Ok(Some(l)) => l,
        Ok(None) => return Ok(Observed::NoInterface),
        Err(rtnetlink::Error::NetlinkError(m))
            if m.code.map(|c| -c.get()) == Some(libc::ENODEV) =>
        {
            return Ok(Observed::NoInterface);
        }
        Err(e) => return Err(fail("reading the link", e)),
    };
    let index = link.header.index;
    let mut out = Interface {
        up: link.header.flags.contains(LinkFlags::Up),
        ..Interface::default()
    };
    for a in &link.attributes {
        match a {
            LinkAttribute::Address(b) => {
                out.mac = <[u8; 6]>::try_from(b.as_slice()).ok().map(MacAddr)
            }
            LinkAttribute::Mtu(m) => out.mtu = Some(*m),
            _ => {}
        }
    }
    let mut addrs = h.address().get().set_link_index_filter(index).execute();
    while let Some(m) = addrs
        .try_next()
        .await
        .map_err(|e| fail("reading the addresses of", e))?
    {
        // IPv4 carries the interface's own address in IFA_LOCAL (IFA_ADDRESS
        // is the peer on point-to-point links); IPv6 only has IFA_ADDRESS.
        let local = m.attributes.iter().find_map(|a| match a {
            AddressAttribute::Local(ip) => Some(*ip),
            _ => None,
        });
        let addr = local.or_else(|| {
            m.attributes.iter().find_map(|a| match a {
                AddressAttribute::Address(ip) => Some(*ip),
                _ => None,
            })
        });
        if let Some(net) = addr.and_then(|ip| IpNet::new(ip, m.header.prefix_len).ok()) {
            out.addresses.push(net);
        }
    }
    let dumps = [
        RouteMessageBuilder::<Ipv4Addr>::new().build(),
        RouteMessageBuilder::<Ipv6Addr>::new().build(),
    ];
    for req in dumps {
        let mut routes = h.route().get(req).execute();
        while let Some(m) = routes
            .try_next()
            .await
            .map_err(|e| fail("reading the routes of", e))?
        {
            if let Some(r) = main_route_via(&m, index) {
                out.routes.push(r);
            }
        }
    }
    Ok(Observed::Interface(out))
}

/// The route of `m` if it is in the main table and goes out of interface
/// `index`.
fn main_route_via(m: &RouteMessage, index: u32) -> Option<Route> {
    let mut table = u32::from(m.header.table);
    let (mut dst, mut gw, mut oif) = (None, None, None);
    for a in &m.attributes {
        match a {
            RouteAttribute::Table(t) => table = *t,
            RouteAttribute::Destination(d) => dst = ip_of(d),
            RouteAttribute::Gateway(g) => gw = ip_of(g),
            RouteAttribute::Oif(i) => oif = Some(*i),
            _ => {}
        }
    }
    if table != u32::from(RouteHeader::RT_TABLE_MAIN) || oif != Some(index) {
        return None;
    }
    let len = m.header.destination_prefix_length;
    let dst = match dst {
        Some(d) => IpNet::new(d, len).ok()?,
        None if m.header.address_family == rtnetlink::packet_route::AddressFamily::Inet6 => {
            IpNet::new(IpAddr::V6(Ipv6Addr::UNSPECIFIED), len).ok()?
        }
        None => IpNet::new(IpAddr::V4(Ipv4Addr::UNSPECIFIED), len).ok()?,
    };
    Some(Route { dst, gw })
}

fn ip_of(a: &RouteAddress) -> Option<IpAddr> {
    match a {
        RouteAddress::Inet(v4) => Some(IpAddr::V4(*v4)),
        RouteAddress::Inet6(v6) => Some(IpAddr::V6(*v6)),
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn added() -> CniAddResponse {
        CniAddResponse {
            endpoint_id: "c1-eth0".into(),
            network_key: "default:n".into(),
            group: String::new(),
            host_ifname: "vp1".into(),
            ifname: "eth0".into(),
            netns: "/run/netns/x".into(),
            mac: "02:02:0a:01:02:03".into(),
            mtu: 1450,
            ipv4: Some("10.1.2.3/24".parse().unwrap()),
            gateway: Some("10.1.2.254".parse().unwrap()),
            ipv6: None,
            gateway6: None,
            dns: Some("169.254.53.53".parse().unwrap()),
        }
    }

    fn route(dst: &str, gw: Option<&str>) -> Route {
        Route {
            dst: dst.parse().unwrap(),
            gw: gw.map(|g| g.parse().unwrap()),
        }
    }

    fn healthy(want: &Expected) -> Interface {
        Interface {
            up: true,
            mac: Some(want.mac),
            mtu: Some(want.mtu),
            addresses: vec![
                want.addresses[0],
                "fe80::2:aff:fe01:203/64".parse().unwrap(),
            ],
            routes: vec![
                route("10.1.2.0/24", None),
                route("0.0.0.0/0", Some("10.1.2.254")),
                route("169.254.53.53/32", None),
            ],
        }
    }

    #[test]
    fn the_record_alone_expects_everything_add_created() {
        let want = Expected::new(&added(), None).unwrap();
        assert_eq!(want.addresses, vec!["10.1.2.3/24".parse().unwrap()]);
        assert_eq!(
            want.routes,
            vec![
                route("0.0.0.0/0", Some("10.1.2.254")),
                route("169.254.53.53/32", None)
            ]
        );
        let p = Path::new("/run/netns/x");
        assert!(differences(p, &want, &Observed::Interface(healthy(&want))).is_empty());
    }

    #[test]
    fn the_previous_result_narrows_routes_and_updates_mac_and_mtu() {
        let listed = ListedInterface {
            mac: Some("02:00:00:00:00:09".parse().unwrap()),
            mtu: Some(1400),
            addresses: vec!["10.1.2.3/24".parse().unwrap()],
            routes: vec![route("0.0.0.0/0", Some("10.1.2.254"))],
        };
        let want = Expected::new(&added(), Some(&listed)).unwrap();
        assert_eq!(want.mac, listed.mac.unwrap());
        assert_eq!(want.mtu, 1400);
        assert_eq!(want.routes, listed.routes, "no DNS route: not listed");
        // An address the endpoint does not have: the records disagree.
        let wrong = ListedInterface {
            addresses: vec!["10.1.2.200/24".parse().unwrap()],
            ..listed
        };
        let e = Expected::new(&added(), Some(&wrong)).unwrap_err();
        assert!(
            e.contains("10.1.2.200/24") && e.contains("10.1.2.3/24"),
            "{e}"
        );
    }

    #[test]
    fn each_defect_is_named() {
        let want = Expected::new(&added(), None).unwrap();
        let p = Path::new("/run/netns/x");
        let d = |i: Interface| {
            differences(p, &want, &Observed::Interface(i))
                .iter()
                .map(ToString::to_string)
                .collect::<Vec<_>>()
        };
        let ok = healthy(&want);
        assert_eq!(
            d(Interface {
                addresses: vec![],
                routes: vec![],
                ..ok.clone()
            }),
            [
                "address 10.1.2.3/24 is missing",
                "route 0.0.0.0/0 via 10.1.2.254 is missing",
                "route 169.254.53.53/32 (link) is missing"
            ]
        );
        assert_eq!(
            d(Interface {
                up: false,
                mtu: Some(1400),
                mac: None,
                ..ok.clone()
            }),
            [
                "interface eth0 is down",
                "MAC is none, expected 02:02:0a:01:02:03",
                "MTU is 1400, expected 1450"
            ]
        );
        // A default route via another next hop is not the one ADD made.
        let mut other = ok.clone();
        other.routes[1] = route("0.0.0.0/0", Some("10.1.2.1"));
        assert_eq!(d(other), ["route 0.0.0.0/0 via 10.1.2.254 is missing"]);
        assert_eq!(
            differences(p, &want, &Observed::NoInterface)[0].to_string(),
            "interface eth0 does not exist"
        );
        assert_eq!(
            differences(p, &want, &Observed::NoNetns)[0].to_string(),
            "network namespace /run/netns/x does not exist"
        );
    }
}
