//! The checks only the OVS datapath adds to the shared
//! [`HostState`](contiv_core::datapath::HostState) model: what this
//! switch's pipeline cannot realise.

use super::OvsDatapath;
use contiv_core::datapath::{DpError, DpResult, FabricSpec, GlobalSpec, NetworkSpec};

/// Checks the global settings this backend can realise.
pub fn check_global(g: &GlobalSpec) -> DpResult<()> {
    match g.refusal("ovs", &OvsDatapath::CAPABILITIES) {
        Some(m) => Err(DpError::Unsupported(m)),
        None => Ok(()),
    }
}

/// Checks a fabric: the shared checks plus an uplink to reach it through.
pub fn check_fabric(f: &FabricSpec, uplink: Option<&str>) -> DpResult<()> {
    contiv_core::datapath::check_fabric(f)?;
    if uplink.is_none() {
        return Err(DpError::Unsupported(format!(
            "the fabric router {} needs an uplink: the OVS datapath reaches the fabric through \
             the uplink's untagged segment (netplugin --vlan-if)",
            f.router
        )));
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
