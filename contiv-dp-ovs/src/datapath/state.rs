//! The checks only the OVS datapath adds to the shared
//! [`HostState`](contiv_core::datapath::HostState) model: what this
//! switch's pipeline cannot realise.

use contiv_core::datapath::{DpError, DpResult, FwdMode, GlobalSpec, NetworkSpec};

/// Checks the global settings this backend can realise.
pub fn check_global(g: &GlobalSpec) -> DpResult<()> {
    if g.fwd_mode == FwdMode::Routing {
        return Err(DpError::Unsupported(
            "forwarding mode `routing` is not implemented by the OVS datapath (bridge mode only)"
                .into(),
        ));
    }
    Ok(())
}

/// Checks a network spec: the shared checks plus the tenant id, which
/// the pipeline uses as a 15-bit conntrack zone (the top bit marks the
/// tenant's NAT zone).
pub fn check_network(n: &NetworkSpec) -> DpResult<()> {
    contiv_core::datapath::check_network(n)?;
    if n.tenant_id > 0x7fff {
        return Err(DpError::InvalidArgument(format!(
            "network {}: tenant id {} does not fit the 15-bit conntrack zone of the OVS datapath (ids 0..=32767)",
            n.key, n.tenant_id
        )));
    }
    Ok(())
}
