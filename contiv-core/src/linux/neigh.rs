//! The kernel's neighbour table: the link-layer address of an on-link
//! IPv4 neighbour ([`lookup_v4`]), and a probe that makes the kernel
//! resolve one ([`probe_v4`], [`resolve_v4`]). A datapath that sends
//! routed packets to a next hop itself (a switch without an ARP client)
//! reads the MAC the host's own stack learned.

use super::netns::{self, Netns};
use super::{PlumbError, link};
use crate::datapath::MacAddr;
use futures::TryStreamExt;
use rtnetlink::packet_route::AddressFamily;
use rtnetlink::packet_route::neighbour::{NeighbourAddress, NeighbourAttribute, NeighbourState};
use std::net::{Ipv4Addr, SocketAddrV4, UdpSocket};
use std::time::Duration;

/// The MAC the kernel knows for `ip` on interface `ifname` in `ns`
/// (`None`: no usable entry — absent, incomplete or failed — or no such
/// interface).
pub async fn lookup_v4(
    ns: &Netns,
    ifname: &str,
    ip: Ipv4Addr,
) -> Result<Option<MacAddr>, PlumbError> {
    let h = netns::netlink(ns).await?;
    let Some(index) = link::index(&h, ifname).await? else {
        return Ok(None);
    };
    let mut dump = h
        .neighbours()
        .get()
        .set_address_family(AddressFamily::Inet)
        .execute();
    loop {
        let msg = match dump.try_next().await {
            Ok(Some(m)) => m,
            Ok(None) => return Ok(None),
            Err(e) => {
                return Err(PlumbError::Netlink {
                    what: "reading the neighbour table of".into(),
                    ifname: ifname.to_owned(),
                    message: e.to_string(),
                });
            }
        };
        if msg.header.ifindex != index
            || matches!(
                msg.header.state,
                NeighbourState::Incomplete | NeighbourState::Failed | NeighbourState::None
            )
        {
            continue;
        }
        let mut dst = None;
        let mut lladdr = None;
        for a in &msg.attributes {
            match a {
                NeighbourAttribute::Destination(NeighbourAddress::Inet(d)) => dst = Some(*d),
                NeighbourAttribute::LinkLayerAddress(b) if b.len() == 6 => {
                    let mut m = [0u8; 6];
                    m.copy_from_slice(b);
                    lladdr = Some(MacAddr(m));
                }
                _ => {}
            }
        }
        if dst == Some(ip) && lladdr.is_some() {
            return Ok(lladdr);
        }
    }
}

/// Makes the kernel in `ns` resolve `ip` (sends one empty UDP datagram to
/// its discard port; the kernel ARPs for the next hop first). Fails only
/// if no socket can be made; an unreachable address is not an error.
pub async fn probe_v4(ns: &Netns, ip: Ipv4Addr) -> Result<(), PlumbError> {
    let what = ns.describe();
    netns::run_in(ns, move || {
        let s = UdpSocket::bind((Ipv4Addr::UNSPECIFIED, 0)).map_err(|e| PlumbError::Netns {
            netns: what,
            message: format!("cannot open a UDP socket to probe {ip}: {e}"),
        })?;
        let _ = s.send_to(&[], SocketAddrV4::new(ip, 9));
        Ok(())
    })
    .await
}

/// [`lookup_v4`]; if the kernel has no entry, [`probe_v4`] and look again
/// every 20 ms for up to `wait`.
pub async fn resolve_v4(
    ns: &Netns,
    ifname: &str,
    ip: Ipv4Addr,
    wait: Duration,
) -> Result<Option<MacAddr>, PlumbError> {
    if let Some(m) = lookup_v4(ns, ifname, ip).await? {
        return Ok(Some(m));
    }
    probe_v4(ns, ip).await?;
    let deadline = tokio::time::Instant::now() + wait;
    loop {
        tokio::time::sleep(Duration::from_millis(20)).await;
        if let Some(m) = lookup_v4(ns, ifname, ip).await? {
            return Ok(Some(m));
        }
        if tokio::time::Instant::now() >= deadline {
            return Ok(None);
        }
    }
}
