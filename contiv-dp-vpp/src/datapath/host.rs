//! What the datapath was told: contiv-core's [`HostState`] (the one host
//! model every backend shares), plus the limits VPP adds on top, checked
//! before anything is sent (so a refused operation changes nothing).

pub use contiv_core::datapath::HostState;

use super::VppDatapath;
use contiv_core::datapath::{
    Attachment, DesiredState, DpError, DpOp, DpResult, LocalEndpoint, NetworkSpec, check_claimed,
    check_desired_claimed,
};

fn invalid(m: String) -> DpError {
    DpError::InvalidArgument(m)
}

/// VPP's limits on a network: table ids with the top bit are the
/// per-network tables of bridge mode, so tenant ids stay below 2^31.
pub fn check_network(n: &NetworkSpec) -> DpResult<()> {
    if n.tenant_id >= 0x8000_0000 {
        return Err(invalid(format!(
            "network {}: tenant id {} is not below 2^31 (VPP table ids with the top bit are reserved for bridge mode)",
            n.key, n.tenant_id
        )));
    }
    Ok(())
}

/// VPP's limits on a local endpoint: `tap_create_v3` takes the namespace
/// and the container-side name as fixed strings.
pub fn check_local(e: &LocalEndpoint) -> DpResult<()> {
    let name = match &e.attachment {
        Attachment::Netns { netns, ifname } => {
            let ns = netns.to_string_lossy();
            if ns.is_empty() || ns.len() > 63 || !ns.is_ascii() {
                return Err(invalid(format!(
                    "endpoint {}: VPP takes a TAP's namespace as an ASCII path of at most 63 bytes, not {ns:?}",
                    e.id
                )));
            }
            ifname
        }
        Attachment::HostVeth { peer_name } => peer_name,
        Attachment::Existing => &e.host_ifname,
    };
    if name.is_empty() || name.len() > 15 || !name.is_ascii() {
        return Err(invalid(format!(
            "endpoint {}: interface name {name:?} must be 1 to 15 ASCII bytes",
            e.id
        )));
    }
    Ok(())
}

/// The VPP limits of one operation.
pub fn check_op(op: &DpOp) -> DpResult<()> {
    match op {
        DpOp::AddNetwork(n) => check_network(n),
        DpOp::AddLocalEndpoint(e) => check_local(e),
        // A fabric router and routes learned from it are not realised
        // here: refused, never accepted silently.
        _ => check_claimed(op, "VPP", &VppDatapath::CAPABILITIES),
    }
}

/// Checks a desired state (contiv-core's rules, then VPP's) and builds it.
pub fn from_desired(d: &DesiredState) -> DpResult<HostState> {
    let h = HostState::from_desired(d)?;
    check_desired_claimed(d, "VPP", &VppDatapath::CAPABILITIES)?;
    for n in &d.networks {
        check_network(n)?;
    }
    for e in &d.local_endpoints {
        check_local(e)?;
    }
    Ok(h)
}
