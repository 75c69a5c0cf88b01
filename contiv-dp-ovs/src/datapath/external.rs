//! The host's side of external access and of bandwidth: the host port
//! (a veth between the bridge and the host's stack), its routes to local
//! endpoints, the host's NAT rules (one nftables table this datapath
//! owns), and each endpoint's `tbf` shapers — derived from the
//! [`HostState`] and converged like flows: read, compared, written only
//! when different, removed when no longer wanted.

use super::config::OvsConfig;
use crate::pipeline::nat::{host_addr, host_mac};
use contiv_core::datapath::{DpError, HostState, LocalEndpoint, MacAddr};
use contiv_core::linux as plumbing;
use contiv_core::linux::netfilter::{self, Dnat, NatRules};
use contiv_core::linux::shaping;
use ipnet::Ipv4Net;

fn err(e: contiv_core::linux::PlumbError) -> DpError {
    DpError::Plumbing(e.to_string())
}

/// Whether the host needs the host port: some network has external
/// access.
pub fn wanted(state: &HostState) -> bool {
    state.networks.values().any(|n| n.external)
}

/// The host's NAT rules for `state`.
pub fn nat_rules(cfg: &OvsConfig, state: &HostState) -> NatRules {
    let mut dnat: Vec<Dnat> = state
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
    dnat.sort();
    NatRules {
        table: cfg.nat_table(),
        host_ifname: cfg.host_port.clone(),
        masquerade: vec![state.global.private_subnet],
        dnat,
    }
}

/// The host's routes into the bridge: every local endpoint of a network
/// with external access (`/32`).
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
/// changed between two `apply` calls).
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
/// `state` needs (the bridge's end is the switch's business). With
/// nothing external, removes them.
pub async fn converge(
    cfg: &OvsConfig,
    state: &HostState,
    applied: &mut Applied,
) -> Result<Writes, DpError> {
    let ns = &cfg.switch_netns;
    let mut w = Writes::default();
    if !wanted(state) {
        if netfilter::remove(ns, &cfg.nat_table()).await.map_err(err)? {
            w.removed += 1;
        }
        *applied = Applied::default();
        return Ok(w);
    }
    let pvt = state.global.private_subnet;
    if applied.pvt != Some(pvt) {
        let addr = Ipv4Net::new(host_addr(pvt), pvt.prefix_len())
            .map_err(|e| DpError::InvalidArgument(format!("private subnet {pvt}: {e}")))?;
        if plumbing::ensure_host_port(
            ns,
            &cfg.host_port,
            &cfg.host_port_peer(),
            MacAddr(host_mac(pvt).0),
            addr,
        )
        .await
        .map_err(err)?
        {
            w.added += 1;
        }
        applied.pvt = Some(pvt);
        applied.routes = None;
    }
    let want = routes(state);
    if applied.routes.as_ref() != Some(&want) {
        let (a, r) = plumbing::sync_link_routes(ns, &cfg.host_port, &want)
            .await
            .map_err(err)?;
        w.added += a;
        w.removed += r;
        applied.routes = Some(want);
    }
    let rules = nat_rules(cfg, state);
    if applied.rules.as_ref() != Some(&rules) {
        if netfilter::ensure(ns, &rules).await.map_err(err)? {
            w.added += 1;
        }
        applied.rules = Some(rules);
    }
    Ok(w)
}

/// Makes `ep`'s shapers what its QoS asks, on the ends
/// [`shaping::endpoint_sides`] names (the host side lives in the switch
/// namespace). Returns the number of qdiscs written.
pub async fn shape(cfg: &OvsConfig, ep: &LocalEndpoint) -> Result<usize, DpError> {
    shaping::converge_endpoint(&cfg.switch_netns, ep)
        .await
        .map_err(err)
}
