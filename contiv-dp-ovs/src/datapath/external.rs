//! The host's side of external access and of bandwidth: the host port
//! (a veth between the bridge and the host's stack), its routes to local
//! endpoints, the host's NAT rules (one nftables table this datapath
//! owns), and each endpoint's `tbf` shapers — derived from the
//! [`HostState`] and converged like flows: read, compared, written only
//! when different, removed when no longer wanted.

use super::config::OvsConfig;
use contiv_core::datapath::{DpError, HostState, LocalEndpoint};
use contiv_core::linux::host_port::{self, HostPort};
use contiv_core::linux::shaping;

pub use host_port::{Applied, Writes, wanted};

fn err(e: contiv_core::linux::PlumbError) -> DpError {
    DpError::Plumbing(e.to_string())
}

/// The switch's host port.
pub fn port(cfg: &OvsConfig) -> HostPort {
    HostPort {
        ns: cfg.switch_netns.clone(),
        host: cfg.host_port.clone(),
        peer: cfg.host_port_peer(),
        table: cfg.nat_table(),
    }
}

/// Makes the host end of the host port, its routes and the NAT table what
/// `state` needs (the bridge's end is the switch's business). The flows
/// SNAT every tenant into the private subnet, which the host masquerades.
/// With nothing external, removes the table.
pub async fn converge(
    cfg: &OvsConfig,
    state: &HostState,
    applied: &mut Applied,
) -> Result<Writes, DpError> {
    host_port::converge(
        &port(cfg),
        state,
        vec![state.global.private_subnet],
        applied,
    )
    .await
    .map_err(err)
}

/// Makes `ep`'s shapers what its QoS asks, on the ends
/// [`shaping::endpoint_sides`] names (the host side lives in the switch
/// namespace). Returns the number of qdiscs written.
pub async fn shape(cfg: &OvsConfig, ep: &LocalEndpoint) -> Result<usize, DpError> {
    shaping::converge_endpoint(&cfg.switch_netns, ep)
        .await
        .map_err(err)
}
