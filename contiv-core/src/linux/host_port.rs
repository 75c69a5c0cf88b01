//! The host's side of external access every backend shares: the **host
//! port** (a veth between the datapath and the host's own stack), the
//! host's `/32` routes through it to local endpoints with external access,
//! and the host's NAT rules ([`netfilter`]: masquerade, published ports,
//! forward guard) — derived from a [`HostState`] and converged like flows:
//! read, compared, written only when different, removed when no longer
//! wanted.
//!
//! What differs between backends is passed in: the port's names and
//! table ([`HostPort`]) and which sources the host masquerades (OVS SNATs
//! each tenant to a private address first and masquerades the private
//! subnet; a backend routing endpoint addresses to the host masquerades
//! the external networks' subnets).

use super::netfilter::{self, Dnat, NatRules};
use super::{Netns, PlumbError};
use crate::datapath::{HostState, MacAddr};
use ipnet::Ipv4Net;
use std::net::Ipv4Addr;

/// One datapath's host port.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct HostPort {
    /// The namespace of the host's stack (and of the datapath's end).
    pub ns: Netns,
    /// The host's end (carries the host's address on the private subnet,
    /// `NOARP`; the routes to endpoints point at it).
    pub host: String,
    /// The datapath's end.
    pub peer: String,
    /// The nftables table (family `ip`) of the host's NAT rules.
    pub table: String,
}

/// The host's address on the host port: the private subnet's last usable
/// address (`172.19.255.254` for the default `172.19.0.0/16`).
pub fn host_addr(pvt: Ipv4Net) -> Ipv4Addr {
    Ipv4Addr::from(u32::from(pvt.broadcast()).saturating_sub(1))
}

/// The MAC of the host's end of the host port (`02:02:` + its address).
pub fn host_mac(pvt: Ipv4Net) -> MacAddr {
    MacAddr::from_ipv4(host_addr(pvt))
}

/// Whether the host needs the host port: some network has external
/// access.
pub fn wanted(state: &HostState) -> bool {
    state.networks.values().any(|n| n.external)
}

/// The subnets of the networks with external access (sorted).
pub fn external_subnets(state: &HostState) -> Vec<Ipv4Net> {
    let mut v: Vec<Ipv4Net> = state
        .networks
        .values()
        .filter(|n| n.external)
        .filter_map(|n| n.subnet)
        .collect();
    v.sort();
    v.dedup();
    v
}

/// The published ports as DNAT rules (those of endpoints this host has,
/// with an IPv4 address), sorted.
pub fn dnat(state: &HostState) -> Vec<Dnat> {
    let mut v: Vec<Dnat> = state
        .published
        .values()
        .filter_map(|p| {
            let ep = state.local.get(&p.endpoint)?;
            Some(Dnat {
                protocol: p.protocol,
                host_ip: p.host_ip,
                host_port: p.host_port,
                to: ep.ipv4?.addr(),
                to_port: p.port,
                tag: p.endpoint.clone(),
            })
        })
        .collect();
    v.sort();
    v
}

/// The host's NAT rules for `state`, masquerading `masquerade`.
pub fn nat_rules(port: &HostPort, state: &HostState, masquerade: Vec<Ipv4Net>) -> NatRules {
    NatRules {
        table: port.table.clone(),
        host_ifname: port.host.clone(),
        masquerade,
        dnat: dnat(state),
    }
}

/// The host's routes into the datapath: every local endpoint of a network
/// with external access (`/32`), sorted.
pub fn routes(state: &HostState) -> Vec<Ipv4Net> {
    let mut v: Vec<Ipv4Net> = state
        .local
        .values()
        .filter(|e| state.networks.get(&e.network).is_some_and(|n| n.external))
        .filter_map(|e| e.ipv4)
        .filter_map(|a| Ipv4Net::new(a.addr(), 32).ok())
        .collect();
    v.sort();
    v.dedup();
    v
}

/// What the host side was last made to be (to skip work when nothing
/// changed between two converges; [`Applied::default`] makes the next
/// converge read everything back).
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Applied {
    /// The rules last ensured (`None`: unknown or removed).
    pub rules: Option<NatRules>,
    /// The routes last ensured.
    pub routes: Option<Vec<Ipv4Net>>,
    /// The private subnet the host port last got.
    pub pvt: Option<Ipv4Net>,
}

/// Writes made while converging (counted into a resync's report).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Writes {
    /// Things created or rewritten.
    pub added: usize,
    /// Things removed.
    pub removed: usize,
}

/// Makes the host end of the host port, its routes and the NAT table what
/// `state` needs (`masquerade`: the sources the host masquerades). With
/// nothing external, removes the NAT table (the veth is the caller's to
/// remove, see [`remove`]: its datapath end may still be attached).
pub async fn converge(
    port: &HostPort,
    state: &HostState,
    masquerade: Vec<Ipv4Net>,
    applied: &mut Applied,
) -> Result<Writes, PlumbError> {
    let ns = &port.ns;
    let mut w = Writes::default();
    if !wanted(state) {
        if netfilter::remove(ns, &port.table).await? {
            w.removed += 1;
        }
        *applied = Applied::default();
        return Ok(w);
    }
    let pvt = state.global.private_subnet;
    if applied.pvt != Some(pvt) {
        let addr = Ipv4Net::new(host_addr(pvt), pvt.prefix_len())
            .map_err(|e| PlumbError::Invalid(format!("private subnet {pvt}: {e}")))?;
        if super::ensure_host_port(ns, &port.host, &port.peer, host_mac(pvt), addr).await? {
            w.added += 1;
        }
        applied.pvt = Some(pvt);
        applied.routes = None;
    }
    let want = routes(state);
    if applied.routes.as_ref() != Some(&want) {
        let (a, r) = super::sync_link_routes(ns, &port.host, &want).await?;
        w.added += a;
        w.removed += r;
        applied.routes = Some(want);
    }
    let rules = nat_rules(port, state, masquerade);
    if applied.rules.as_ref() != Some(&rules) {
        if netfilter::ensure(ns, &rules).await? {
            w.added += 1;
        }
        applied.rules = Some(rules);
    }
    Ok(w)
}

/// Removes the NAT table and the host port (its routes go with it);
/// returns how many of the two existed.
pub async fn remove(port: &HostPort) -> Result<usize, PlumbError> {
    let mut n = usize::from(netfilter::remove(&port.ns, &port.table).await?);
    let h = super::netns::netlink(&port.ns).await?;
    n += usize::from(super::link::delete(&h, &port.host).await?);
    Ok(n)
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    #[test]
    fn private_address_and_routes_of_external_endpoints() {
        let pvt: Ipv4Net = "172.19.0.0/16".parse().unwrap();
        assert_eq!(host_addr(pvt), Ipv4Addr::new(172, 19, 255, 254));
        assert_eq!(host_mac(pvt).0, [2, 2, 172, 19, 255, 254]);
        let mut st = HostState::default();
        assert!(!wanted(&st));
        for (key, vni, subnet, external) in [
            ("t:ext", 10, "10.9.0.0/24", true),
            ("t:int", 11, "10.9.1.0/24", false),
        ] {
            let n = serde_json::json!({"key": key, "tenant": "t", "tenant_id": 1,
                "encap": "vxlan", "vlan": 0, "vni": vni, "subnet": subnet,
                "gateway": null, "subnet6": null, "gateway6": null, "external": external});
            st.networks
                .insert(key.into(), serde_json::from_value(n).unwrap());
        }
        for (id, network, ip) in [("a", "t:ext", "10.9.0.2/24"), ("b", "t:int", "10.9.1.2/24")] {
            let e = serde_json::json!({"id": id, "network": network, "epg": 0, "ipv4": ip,
                "ipv6": null, "mac": "02:02:0a:09:00:02", "host_ifname": id,
                "attachment": "Existing", "mtu": 1450, "qos": null});
            st.local
                .insert(id.into(), serde_json::from_value(e).unwrap());
        }
        assert!(wanted(&st));
        assert_eq!(routes(&st), vec!["10.9.0.2/32".parse::<Ipv4Net>().unwrap()]);
        assert_eq!(
            external_subnets(&st),
            vec!["10.9.0.0/24".parse::<Ipv4Net>().unwrap()]
        );
    }
}
