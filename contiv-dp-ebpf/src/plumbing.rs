//! Interfaces the datapath creates (temporary, minimal: the shared
//! plumbing of `contiv-core` replaces the veth part once it lands): the
//! veth pair of a local endpoint and the host's `vxlan external gbp`
//! device. Host sides live in this process's network namespace, where the
//! classifiers attach.

use crate::netns::Netns;
use contiv_core::datapath::{Attachment, LocalEndpoint, MacAddr, NetworkSpec};
use futures::TryStreamExt;
use rtnetlink::packet_route::address::{AddressAttribute, AddressFlags};
use rtnetlink::packet_route::link::{
    InfoData, InfoKind, InfoVeth, InfoVxlan, LinkAttribute, LinkInfo, LinkMessage,
};
use rtnetlink::{Handle, LinkUnspec, LinkVeth, LinkVxlan, RouteMessageBuilder};
use std::fs::File;
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};
use std::os::fd::AsRawFd;
use std::path::Path;

/// A plumbing failure, as text naming the interface.
pub type PlumbResult<T> = Result<T, String>;

fn errno(e: &rtnetlink::Error) -> Option<i32> {
    match e {
        rtnetlink::Error::NetlinkError(m) => m.code.map(|c| -c.get()),
        _ => None,
    }
}

fn fail(what: &str, name: &str, e: &rtnetlink::Error) -> String {
    format!("netlink: {what} {name}: {e}")
}

async fn netlink_in(path: &Path) -> PlumbResult<Handle> {
    crate::netns::netlink_at(Some(path)).await
}

async fn link_index(h: &Handle, name: &str) -> PlumbResult<Option<u32>> {
    Ok(get_link(h, name).await?.map(|m| m.header.index))
}

async fn get_link(h: &Handle, name: &str) -> PlumbResult<Option<LinkMessage>> {
    let mut s = h.link().get().match_name(name.to_owned()).execute();
    match s.try_next().await {
        Ok(m) => Ok(m),
        Err(e) if errno(&e) == Some(libc::ENODEV) => Ok(None),
        Err(e) => Err(fail("looking up", name, &e)),
    }
}

async fn configure(
    h: &Handle,
    i: u32,
    name: &str,
    mac: Option<MacAddr>,
    mtu: u32,
) -> PlumbResult<()> {
    let mut b = LinkUnspec::new_with_index(i);
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

async fn add_address(h: &Handle, i: u32, name: &str, ip: IpAddr, len: u8) -> PlumbResult<()> {
    let mut req = h.address().add(i, ip, len);
    if ip.is_ipv6() {
        // Addresses come from the allocator: no duplicate to detect.
        req.message_mut()
            .attributes
            .push(AddressAttribute::Flags(AddressFlags::Nodad));
    }
    match req.execute().await {
        Ok(()) => Ok(()),
        Err(e) if errno(&e) == Some(libc::EEXIST) => Ok(()),
        Err(e) => Err(fail(&format!("adding {ip}/{len} to"), name, &e)),
    }
}

async fn default_route(h: &Handle, gw: IpAddr) -> PlumbResult<()> {
    let r = match gw {
        IpAddr::V4(g) => {
            h.route()
                .add(RouteMessageBuilder::<Ipv4Addr>::new().gateway(g).build())
                .execute()
                .await
        }
        IpAddr::V6(g) => {
            h.route()
                .add(RouteMessageBuilder::<Ipv6Addr>::new().gateway(g).build())
                .execute()
                .await
        }
    };
    match r {
        Ok(()) => Ok(()),
        Err(e) if errno(&e) == Some(libc::EEXIST) => Ok(()),
        Err(e) => Err(fail(&format!("adding the default route via {gw}"), "", &e)),
    }
}

async fn delete_index(h: &Handle, i: u32, name: &str) -> PlumbResult<bool> {
    match h.link().del(i).execute().await {
        Ok(()) => Ok(true),
        Err(e) if errno(&e) == Some(libc::ENODEV) => Ok(false),
        Err(e) => Err(fail("deleting", name, &e)),
    }
}

/// Creates and removes the datapath's interfaces.
#[derive(Clone, Debug)]
pub struct Plumber {
    host: Handle,
}

impl Plumber {
    /// A plumber for the namespace `ns` (needs a tokio runtime).
    pub async fn new(ns: &Netns) -> PlumbResult<Plumber> {
        Ok(Plumber {
            host: ns.netlink().await?,
        })
    }

    /// The index of `name` in the datapath's namespace (`None` if none).
    pub async fn index_of(&self, name: &str) -> PlumbResult<Option<u32>> {
        link_index(&self.host, name).await
    }

    /// Makes `ep`'s interfaces exist with its configuration; returns the
    /// host side's ifindex and whether the datapath created (owns) it.
    pub async fn ensure(&self, ep: &LocalEndpoint, net: &NetworkSpec) -> PlumbResult<(u32, bool)> {
        let host = &self.host;
        let owned = match &ep.attachment {
            Attachment::Existing => {
                if self.index_of(&ep.host_ifname).await?.is_none() {
                    return Err(format!(
                        "interface {} does not exist (attachment `Existing` only attaches it)",
                        ep.host_ifname
                    ));
                }
                false
            }
            Attachment::HostVeth { peer_name } => {
                if self.index_of(&ep.host_ifname).await?.is_none() {
                    host.link()
                        .add(LinkVeth::new(&ep.host_ifname, peer_name).build())
                        .execute()
                        .await
                        .map_err(|e| {
                            fail(
                                &format!("creating the veth pair with {peer_name}"),
                                &ep.host_ifname,
                                &e,
                            )
                        })?;
                }
                if let Some(p) = self.index_of(peer_name).await? {
                    configure(host, p, peer_name, Some(ep.mac), ep.mtu).await?;
                }
                true
            }
            Attachment::Netns { netns, ifname } => {
                let ctr = netlink_in(netns).await?;
                let have_host = self.index_of(&ep.host_ifname).await?;
                let have_ctr = link_index(&ctr, ifname).await?;
                match (have_host, have_ctr) {
                    (Some(_), Some(_)) => {}
                    (Some(i), None) => {
                        delete_index(host, i, &ep.host_ifname).await?;
                        self.create_into(ep, netns, ifname).await?;
                    }
                    (None, Some(_)) => {
                        return Err(format!(
                            "interface {ifname} already exists in {} and is not ours (no host side {})",
                            netns.display(),
                            ep.host_ifname
                        ));
                    }
                    (None, None) => self.create_into(ep, netns, ifname).await?,
                }
                let i = link_index(&ctr, ifname)
                    .await?
                    .ok_or_else(|| format!("{ifname} vanished from {}", netns.display()))?;
                configure(&ctr, i, ifname, Some(ep.mac), ep.mtu).await?;
                if let Some(a) = ep.ipv4 {
                    add_address(&ctr, i, ifname, a.addr().into(), a.prefix_len()).await?;
                    if let Some(gw) = net.gateway.filter(|g| a.contains(g) && *g != a.addr()) {
                        default_route(&ctr, gw.into()).await?;
                    }
                }
                if let Some(a) = ep.ipv6 {
                    add_address(&ctr, i, ifname, a.addr().into(), a.prefix_len()).await?;
                    if let Some(gw) = net.gateway6.filter(|g| a.contains(g) && *g != a.addr()) {
                        default_route(&ctr, gw.into()).await?;
                    }
                }
                true
            }
        };
        let i = self
            .index_of(&ep.host_ifname)
            .await?
            .ok_or_else(|| format!("{} vanished", ep.host_ifname))?;
        configure(host, i, &ep.host_ifname, None, ep.mtu).await?;
        Ok((i, owned))
    }

    async fn create_into(&self, ep: &LocalEndpoint, netns: &Path, ifname: &str) -> PlumbResult<()> {
        let f = File::open(netns)
            .map_err(|e| format!("cannot open network namespace {}: {e}", netns.display()))?;
        let mut msg = LinkVeth::new(&ep.host_ifname, ifname).build();
        for attr in &mut msg.attributes {
            if let LinkAttribute::LinkInfo(infos) = attr {
                for info in infos.iter_mut() {
                    if let LinkInfo::Data(InfoData::Veth(InfoVeth::Peer(peer))) = info {
                        peer.attributes.push(LinkAttribute::NetNsFd(f.as_raw_fd()));
                    }
                }
            }
        }
        self.host.link().add(msg).execute().await.map_err(|e| {
            fail(
                &format!(
                    "creating the veth pair with {ifname} in {}",
                    netns.display()
                ),
                &ep.host_ifname,
                &e,
            )
        })
    }

    /// Removes `ep`'s veth pair (nothing for `Existing`).
    pub async fn remove(&self, ep: &LocalEndpoint) -> PlumbResult<()> {
        if matches!(ep.attachment, Attachment::Existing) {
            return Ok(());
        }
        if let Some(i) = self.index_of(&ep.host_ifname).await? {
            delete_index(&self.host, i, &ep.host_ifname).await?;
        }
        Ok(())
    }

    /// Deletes interface `ifindex` if it is a veth (a stale endpoint's
    /// host side).
    pub async fn delete_veth(&self, ifindex: u32) -> PlumbResult<bool> {
        let mut s = self.host.link().get().match_index(ifindex).execute();
        let m = match s.try_next().await {
            Ok(Some(m)) => m,
            Ok(None) => return Ok(false),
            Err(e) if errno(&e) == Some(libc::ENODEV) => return Ok(false),
            Err(e) => return Err(fail("looking up", &ifindex.to_string(), &e)),
        };
        let is_veth = m.attributes.iter().any(|a| {
            matches!(a, LinkAttribute::LinkInfo(i) if i.iter().any(|x| matches!(x, LinkInfo::Kind(InfoKind::Veth))))
        });
        if !is_veth {
            return Ok(false);
        }
        delete_index(&self.host, ifindex, &ifindex.to_string()).await
    }

    /// Makes `name` a `vxlan external gbp` device on UDP `port`, up;
    /// returns its ifindex. An existing device of another kind or setting
    /// is replaced.
    pub async fn ensure_vxlan(&self, name: &str, port: u16) -> PlumbResult<u32> {
        if let Some(m) = get_link(&self.host, name).await? {
            let mut vxlan = false;
            let (mut external, mut gbp, mut dport) = (false, false, 0u16);
            for a in &m.attributes {
                if let LinkAttribute::LinkInfo(infos) = a {
                    for i in infos {
                        match i {
                            LinkInfo::Kind(InfoKind::Vxlan) => vxlan = true,
                            LinkInfo::Data(InfoData::Vxlan(d)) => {
                                for x in d {
                                    match x {
                                        InfoVxlan::CollectMetadata(v) => external = *v,
                                        InfoVxlan::Gbp => gbp = true,
                                        InfoVxlan::Port(p) => dport = *p,
                                        _ => {}
                                    }
                                }
                            }
                            _ => {}
                        }
                    }
                }
            }
            if vxlan && external && gbp && dport == port {
                configure(&self.host, m.header.index, name, None, 0).await?;
                return Ok(m.header.index);
            }
            tracing::warn!(
                device = name,
                "replacing a VXLAN device with other settings"
            );
            delete_index(&self.host, m.header.index, name).await?;
        }
        let msg = LinkVxlan::new(name, 0)
            .port(port)
            .collect_metadata(true)
            .learning(false)
            .gbp()
            .up()
            .build();
        // `new(name, 0)` adds VNI 0, which an external device must not have.
        let msg = strip_vni(msg);
        self.host.link().add(msg).execute().await.map_err(|e| {
            fail(
                &format!("creating the vxlan device (external, gbp, port {port})"),
                name,
                &e,
            )
        })?;
        self.index_of(name)
            .await?
            .ok_or_else(|| format!("{name} did not appear"))
    }

    /// Deletes interface `name` if it exists.
    pub async fn delete_named(&self, name: &str) -> PlumbResult<bool> {
        match self.index_of(name).await? {
            Some(i) => delete_index(&self.host, i, name).await,
            None => Ok(false),
        }
    }
}

fn strip_vni(mut msg: LinkMessage) -> LinkMessage {
    for a in &mut msg.attributes {
        if let LinkAttribute::LinkInfo(infos) = a {
            for i in infos.iter_mut() {
                if let LinkInfo::Data(InfoData::Vxlan(d)) = i {
                    d.retain(|x| !matches!(x, InfoVxlan::Id(_)));
                }
            }
        }
    }
    msg
}
