//! Link-scope routes inside a network namespace, over rtnetlink: the
//! containers' route to the DNS endpoint (`169.254.53.53/32 dev eth0
//! scope link`) and the DNS endpoint's routes back to its network's
//! subnets. Adding a route that exists succeeds (`NLM_F_REPLACE`).

use super::netns::{NetnsError, netlink_in_netns};
use futures::TryStreamExt;
use ipnet::Ipv4Net;
use rtnetlink::RouteMessageBuilder;
use rtnetlink::packet_route::route::RouteScope;
use std::net::Ipv4Addr;
use std::path::{Path, PathBuf};

/// Why a route could not be added.
#[derive(Debug, thiserror::Error)]
pub enum RouteError {
    /// The namespace could not be entered.
    #[error(transparent)]
    Netns(#[from] NetnsError),
    /// The interface does not exist.
    #[error("interface {ifname} does not exist in {netns}")]
    NoInterface {
        /// The namespace.
        netns: PathBuf,
        /// The interface.
        ifname: String,
    },
    /// The kernel refused.
    #[error("netlink: {what} in {netns}: {message}")]
    Netlink {
        /// What was being done.
        what: String,
        /// The namespace.
        netns: PathBuf,
        /// The kernel's answer.
        message: String,
    },
}

/// Adds (or replaces) link-scope routes to `dsts` via interface `ifname`
/// inside the namespace at `netns`.
pub async fn add_link_routes(
    netns: &Path,
    ifname: &str,
    dsts: &[Ipv4Net],
) -> Result<(), RouteError> {
    let handle = netlink_in_netns(netns)?;
    let fail = |what: String, e: rtnetlink::Error| RouteError::Netlink {
        what,
        netns: netns.to_owned(),
        message: e.to_string(),
    };
    let link = handle
        .link()
        .get()
        .match_name(ifname.to_owned())
        .execute()
        .try_next()
        .await;
    let index = match link {
        Ok(Some(m)) => m.header.index,
        _ => {
            return Err(RouteError::NoInterface {
                netns: netns.to_owned(),
                ifname: ifname.to_owned(),
            });
        }
    };
    for d in dsts {
        let msg = RouteMessageBuilder::<Ipv4Addr>::new()
            .destination_prefix(d.network(), d.prefix_len())
            .output_interface(index)
            .scope(RouteScope::Link)
            .build();
        handle
            .route()
            .add(msg)
            .replace()
            .execute()
            .await
            .map_err(|e| fail(format!("adding the route {d} dev {ifname}"), e))?;
    }
    Ok(())
}
