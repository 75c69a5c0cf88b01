//! The host interfaces of the datapath: endpoint veths through the shared
//! plumbing of `contiv-core` (TX checksum offload left on — the programs
//! need no complete checksums), plus what only this datapath has: the
//! `vxlan external gbp` device, ifindex lookups, deleting a stale veth by
//! index. Everything lives in the datapath's namespace ([`Netns`]).

use contiv_core::datapath::{LocalEndpoint, NetworkSpec};
use contiv_core::linux::{Netns, Plumber, link, netns};
use futures::TryStreamExt;
use rtnetlink::Handle;
use rtnetlink::LinkVxlan;
use rtnetlink::packet_route::link::{
    InfoData, InfoKind, InfoVxlan, LinkAttribute, LinkInfo, LinkMessage,
};

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

/// Runs `f` (which resolves interface names in the caller's namespace,
/// e.g. a tcx attach) inside `ns`.
pub fn in_ns<T: Send, F: FnOnce() -> T + Send>(ns: &Netns, f: F) -> Result<T, String> {
    match ns {
        Netns::Current => Ok(f()),
        Netns::Path(p) => netns::run_in_netns(p, f).map_err(|e| e.to_string()),
    }
}

/// Creates and removes the datapath's interfaces.
#[derive(Clone, Debug)]
pub struct Devices {
    ns: Netns,
    host: Handle,
    veths: Plumber,
}

impl Devices {
    /// The devices of namespace `ns` (needs a tokio runtime).
    pub async fn new(ns: Netns) -> PlumbResult<Devices> {
        let host = netns::netlink(&ns).await.map_err(|e| e.to_string())?;
        Ok(Devices {
            veths: Plumber::new(ns.clone()).keep_checksum_offload(),
            ns,
            host,
        })
    }

    /// The rtnetlink handle of the namespace.
    pub fn netlink(&self) -> &Handle {
        &self.host
    }

    /// The namespace.
    pub fn netns(&self) -> &Netns {
        &self.ns
    }

    /// The index of `name`, if it exists.
    pub async fn index_of(&self, name: &str) -> PlumbResult<Option<u32>> {
        link::index(&self.host, name)
            .await
            .map_err(|e| e.to_string())
    }

    /// Makes `ep`'s interfaces exist with its configuration; returns the
    /// host side's ifindex and whether the datapath made (owns) it.
    pub async fn ensure_endpoint(
        &self,
        ep: &LocalEndpoint,
        net: &NetworkSpec,
    ) -> PlumbResult<(u32, bool)> {
        self.veths
            .ensure(ep, net)
            .await
            .map_err(|e| e.to_string())?;
        let i = self
            .index_of(&ep.host_ifname)
            .await?
            .ok_or_else(|| format!("{} vanished", ep.host_ifname))?;
        let owned = !matches!(ep.attachment, contiv_core::datapath::Attachment::Existing);
        Ok((i, owned))
    }

    /// Removes `ep`'s veth pair (nothing for `Existing`).
    pub async fn remove_endpoint(&self, ep: &LocalEndpoint) -> PlumbResult<()> {
        self.veths.remove(ep).await.map_err(|e| e.to_string())
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
        match self.host.link().del(ifindex).execute().await {
            Ok(()) => Ok(true),
            Err(e) if errno(&e) == Some(libc::ENODEV) => Ok(false),
            Err(e) => Err(fail("deleting", &ifindex.to_string(), &e)),
        }
    }

    /// Makes `name` a `vxlan external gbp` device on UDP `port`, up;
    /// returns its ifindex. A device of another kind or setting is
    /// replaced.
    pub async fn ensure_vxlan(&self, name: &str, port: u16) -> PlumbResult<u32> {
        let mut s = self.host.link().get().match_name(name.to_owned()).execute();
        let existing = match s.try_next().await {
            Ok(m) => m,
            Err(e) if errno(&e) == Some(libc::ENODEV) => None,
            Err(e) => return Err(fail("looking up", name, &e)),
        };
        if let Some(m) = existing {
            if is_our_vxlan(&m, port) {
                link::configure(&self.host, m.header.index, name, None, 0)
                    .await
                    .map_err(|e| e.to_string())?;
                return Ok(m.header.index);
            }
            tracing::warn!(
                device = name,
                "replacing a device that is not `vxlan external gbp dstport {port}`"
            );
            link::delete(&self.host, name)
                .await
                .map_err(|e| e.to_string())?;
        }
        let mut msg = LinkVxlan::new(name, 0)
            .port(port)
            .collect_metadata(true)
            .learning(false)
            .gbp()
            .up()
            .build();
        // An external device carries no VNI of its own.
        for a in &mut msg.attributes {
            if let LinkAttribute::LinkInfo(infos) = a {
                for i in infos.iter_mut() {
                    if let LinkInfo::Data(InfoData::Vxlan(d)) = i {
                        d.retain(|x| !matches!(x, InfoVxlan::Id(_)));
                    }
                }
            }
        }
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
}

fn is_our_vxlan(m: &LinkMessage, port: u16) -> bool {
    let (mut vxlan, mut external, mut gbp, mut dport) = (false, false, false, 0u16);
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
    vxlan && external && gbp && dport == port
}
