//! rtnetlink requests the plumbing needs, with errors that name the
//! interface and treat "already there" / "already gone" as success where
//! that is what idempotence means.

use super::PlumbError;
use crate::datapath::MacAddr;
use futures::TryStreamExt;
use ipnet::Ipv4Net;
use rtnetlink::packet_route::route::RouteScope;
use rtnetlink::{Handle, LinkUnspec, LinkVeth, RouteMessageBuilder};
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};
use std::os::fd::RawFd;

const ENODEV: i32 = libc::ENODEV;
const EEXIST: i32 = libc::EEXIST;

fn errno(e: &rtnetlink::Error) -> Option<i32> {
    match e {
        rtnetlink::Error::NetlinkError(m) => m.code.map(|c| -c.get()),
        _ => None,
    }
}

fn fail(what: &str, name: &str, e: &rtnetlink::Error) -> PlumbError {
    PlumbError::Netlink {
        what: what.to_owned(),
        ifname: name.to_owned(),
        message: e.to_string(),
    }
}

/// The index of link `name`, `None` if there is none.
pub async fn index(h: &Handle, name: &str) -> Result<Option<u32>, PlumbError> {
    let mut s = h.link().get().match_name(name.to_owned()).execute();
    match s.try_next().await {
        Ok(Some(m)) => Ok(Some(m.header.index)),
        Ok(None) => Ok(None),
        Err(e) if errno(&e) == Some(ENODEV) => Ok(None),
        Err(e) => Err(fail("looking up", name, &e)),
    }
}

/// Creates the veth pair `a` ↔ `b` (both in the handle's namespace).
pub async fn add_veth(h: &Handle, a: &str, b: &str) -> Result<(), PlumbError> {
    h.link()
        .add(LinkVeth::new(a, b).build())
        .execute()
        .await
        .map_err(|e| fail(&format!("creating the veth pair with peer {b}"), a, &e))
}

/// Creates the veth pair `a` ↔ `b` with `b` created directly inside the
/// namespace open at `fd` (one request: no later move, which costs the
/// kernel an RCU grace period of tens of milliseconds).
pub async fn add_veth_peer_in_netns(
    h: &Handle,
    a: &str,
    b: &str,
    fd: RawFd,
) -> Result<(), PlumbError> {
    use rtnetlink::packet_route::link::{InfoData, InfoVeth, LinkAttribute, LinkInfo};
    let mut msg = LinkVeth::new(a, b).build();
    for attr in &mut msg.attributes {
        if let LinkAttribute::LinkInfo(infos) = attr {
            for info in infos.iter_mut() {
                if let LinkInfo::Data(InfoData::Veth(InfoVeth::Peer(peer))) = info {
                    peer.attributes.push(LinkAttribute::NetNsFd(fd));
                }
            }
        }
    }
    h.link().add(msg).execute().await.map_err(|e| {
        fail(
            &format!("creating the veth pair with peer {b} in the container namespace"),
            a,
            &e,
        )
    })
}

/// Deletes link `name` if it exists (a veth takes its peer with it).
pub async fn delete(h: &Handle, name: &str) -> Result<bool, PlumbError> {
    let Some(i) = index(h, name).await? else {
        return Ok(false);
    };
    match h.link().del(i).execute().await {
        Ok(()) => Ok(true),
        Err(e) if errno(&e) == Some(ENODEV) => Ok(false),
        Err(e) => Err(fail("deleting", name, &e)),
    }
}

/// Moves link `index` (named `name`) into the namespace open at `fd`.
pub async fn move_to_netns(
    h: &Handle,
    index: u32,
    name: &str,
    fd: RawFd,
) -> Result<(), PlumbError> {
    h.link()
        .set(LinkUnspec::new_with_index(index).setns_by_fd(fd).build())
        .execute()
        .await
        .map_err(|e| fail("moving into the container namespace", name, &e))
}

/// Renames link `index` (it must be down).
pub async fn rename(h: &Handle, index: u32, from: &str, to: &str) -> Result<(), PlumbError> {
    h.link()
        .set(
            LinkUnspec::new_with_index(index)
                .name(to.to_owned())
                .build(),
        )
        .execute()
        .await
        .map_err(|e| fail(&format!("renaming to {to}"), from, &e))
}

/// Sets MAC (if given) and MTU (if non-zero) and brings the link up.
pub async fn configure(
    h: &Handle,
    index: u32,
    name: &str,
    mac: Option<MacAddr>,
    mtu: u32,
) -> Result<(), PlumbError> {
    let mut b = LinkUnspec::new_with_index(index);
    if let Some(m) = mac {
        b = b.address(m.octets().to_vec());
    }
    if mtu > 0 {
        b = b.mtu(mtu);
    }
    h.link()
        .set(b.up().build())
        .execute()
        .await
        .map_err(|e| fail("setting MAC/MTU/up on", name, &e))
}

/// Adds an address (already present is fine).
pub async fn add_address(
    h: &Handle,
    index: u32,
    name: &str,
    ip: IpAddr,
    prefix_len: u8,
) -> Result<(), PlumbError> {
    match h.address().add(index, ip, prefix_len).execute().await {
        Ok(()) => Ok(()),
        Err(e) if errno(&e) == Some(EEXIST) => Ok(()),
        Err(e) => Err(fail(
            &format!("adding address {ip}/{prefix_len} to"),
            name,
            &e,
        )),
    }
}

/// Adds the IPv4 default route via `gw` (already present is fine).
pub async fn add_default_route_v4(h: &Handle, gw: Ipv4Addr) -> Result<(), PlumbError> {
    let msg = RouteMessageBuilder::<Ipv4Addr>::new().gateway(gw).build();
    match h.route().add(msg).execute().await {
        Ok(()) => Ok(()),
        Err(e) if errno(&e) == Some(EEXIST) => Ok(()),
        Err(e) => Err(fail(&format!("adding the default route via {gw}"), "", &e)),
    }
}

/// Adds the IPv6 default route via `gw` (already present is fine).
pub async fn add_default_route_v6(h: &Handle, gw: Ipv6Addr) -> Result<(), PlumbError> {
    let msg = RouteMessageBuilder::<Ipv6Addr>::new().gateway(gw).build();
    match h.route().add(msg).execute().await {
        Ok(()) => Ok(()),
        Err(e) if errno(&e) == Some(EEXIST) => Ok(()),
        Err(e) => Err(fail(&format!("adding the default route via {gw}"), "", &e)),
    }
}

/// Adds or replaces the link-scope route `dst dev <index>` (`NLM_F_REPLACE`:
/// an existing route is fine).
pub async fn replace_link_route_v4(
    h: &Handle,
    index: u32,
    name: &str,
    dst: Ipv4Net,
) -> Result<(), PlumbError> {
    let msg = RouteMessageBuilder::<Ipv4Addr>::new()
        .destination_prefix(dst.network(), dst.prefix_len())
        .output_interface(index)
        .scope(RouteScope::Link)
        .build();
    h.route()
        .add(msg)
        .replace()
        .execute()
        .await
        .map_err(|e| fail(&format!("adding the route {dst} dev"), name, &e))
}

/// Makes `addr` the only IPv4 address of link `index` (other IPv4
/// addresses are deleted; IPv6 ones are left alone).
pub async fn set_only_address_v4(
    h: &Handle,
    index: u32,
    name: &str,
    addr: Ipv4Net,
) -> Result<(), PlumbError> {
    use rtnetlink::packet_route::address::AddressAttribute;
    let mut have = Vec::new();
    let mut dump = h.address().get().set_link_index_filter(index).execute();
    while let Some(m) = dump
        .try_next()
        .await
        .map_err(|e| fail("listing the addresses of", name, &e))?
    {
        let ip = m.attributes.iter().find_map(|a| match a {
            AddressAttribute::Address(IpAddr::V4(v)) => Some(*v),
            _ => None,
        });
        if let Some(ip) = ip {
            have.push((ip, m.header.prefix_len, m));
        }
    }
    for (ip, plen, m) in have {
        if ip == addr.addr() && plen == addr.prefix_len() {
            continue;
        }
        h.address()
            .del(m)
            .execute()
            .await
            .map_err(|e| fail(&format!("deleting address {ip}/{plen} from"), name, &e))?;
    }
    add_address(h, index, name, addr.addr().into(), addr.prefix_len()).await
}

/// The IPv4 destinations of the routes through interface `index` in the
/// main table that this module's callers own: link-scope, static
/// (`proto boot`) ones — the kernel's own connected route of an address
/// (`proto kernel`) is left out.
pub async fn link_routes_v4(
    h: &Handle,
    index: u32,
    name: &str,
) -> Result<Vec<Ipv4Net>, PlumbError> {
    use rtnetlink::packet_route::route::{RouteAttribute, RouteProtocol};
    let msg = RouteMessageBuilder::<Ipv4Addr>::new().build();
    let mut s = h.route().get(msg).execute();
    let mut out = Vec::new();
    while let Some(r) = s
        .try_next()
        .await
        .map_err(|e| fail("listing the routes of", name, &e))?
    {
        if r.header.protocol == RouteProtocol::Kernel || r.header.table != 254 {
            continue;
        }
        let mut oif = None;
        let mut dst = None;
        for a in &r.attributes {
            match a {
                RouteAttribute::Oif(i) => oif = Some(*i),
                RouteAttribute::Destination(
                    rtnetlink::packet_route::route::RouteAddress::Inet(d),
                ) => dst = Some(*d),
                _ => {}
            }
        }
        if oif == Some(index)
            && let Some(d) = dst
            && let Ok(n) = Ipv4Net::new(d, r.header.destination_prefix_length)
        {
            out.push(n);
        }
    }
    out.sort();
    Ok(out)
}

/// Deletes the link-scope route `dst dev <index>` (gone already is fine).
pub async fn delete_link_route_v4(
    h: &Handle,
    index: u32,
    name: &str,
    dst: Ipv4Net,
) -> Result<(), PlumbError> {
    let msg = RouteMessageBuilder::<Ipv4Addr>::new()
        .destination_prefix(dst.network(), dst.prefix_len())
        .output_interface(index)
        .scope(RouteScope::Link)
        .build();
    match h.route().del(msg).execute().await {
        Ok(()) => Ok(()),
        Err(e) if errno(&e) == Some(libc::ESRCH) => Ok(()),
        Err(e) => Err(fail(&format!("deleting the route {dst} dev"), name, &e)),
    }
}

/// Turns ARP off on link `index` (`NOARP`: the kernel sends to the
/// link's own MAC and never asks).
pub async fn set_noarp(h: &Handle, index: u32, name: &str) -> Result<(), PlumbError> {
    h.link()
        .set(LinkUnspec::new_with_index(index).arp(false).build())
        .execute()
        .await
        .map_err(|e| fail("turning ARP off on", name, &e))
}
