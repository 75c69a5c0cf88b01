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
/// the pipeline uses as a 16-bit conntrack zone.
pub fn check_network(n: &NetworkSpec) -> DpResult<()> {
    contiv_core::datapath::check_network(n)?;
    if n.tenant_id > 0xffff {
        return Err(DpError::InvalidArgument(format!(
            "network {}: tenant id {} does not fit a 16-bit conntrack zone (ids 0..=65535)",
            n.key, n.tenant_id
        )));
    }
    Ok(())
}
