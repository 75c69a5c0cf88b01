//! The `Datapath` contract: host-local desired state handed to a backend.
//!
//! The agent (netplugin) tells a datapath what must exist on this host as
//! idempotent operations ([`DpOp`], applied in batches with
//! [`Datapath::apply`]): the global modes, networks (tenant/VRF, encap,
//! VLAN/VNI, subnet, gateway, [external access](NetworkSpec::external)),
//! local endpoints (interface, addresses, MAC, EPG, [QoS](Qos)), remote
//! endpoints (addresses, MAC, VTEP), peer VTEPs, compiled policy deltas
//! ([`crate::ir::PolicyDelta`]), [services](ServiceSpec),
//! [published ports](PublishedPort) and, in routing mode with a BGP
//! hand-off, the host's router on the fabric ([`FabricSpec`]) and the
//! routes learned from it ([`ExternalRoute`]). After a restart or reconnect
//! it calls [`Datapath::resync`] with the full [`DesiredState`]: the backend
//! converges to exactly that state and removes everything stale it owns.
//!
//! Every operation is idempotent: adding what exists (with the same
//! content) changes nothing, removing what does not exist succeeds. Adding
//! an object whose id exists with different content replaces it.
//!
//! Backends declare what they can do in [`Capabilities`]; callers check
//! instead of assuming.
//!
//! [`HostState`] is the one model of host state every backend, the
//! recording reference and the agent share: apply/check an operation,
//! build and check the target of a resync, diff against a
//! [`DesiredState`], snapshot, and count what a resync changes.

pub mod counters;
mod host;
mod types;

pub use crate::model::{PortSpec, ServiceProtocol};
pub use host::{
    HostState, check_claimed, check_desired_claimed, check_fabric, check_network, in_op, op_name,
};
pub use types::{
    ArpMode, Attachment, Capabilities, Capability, DEFAULT_PRIVATE_SUBNET, DesiredState, DpError,
    DpOp, DpResult, Encap, ExternalRoute, FabricSpec, FwdMode, GlobalSpec, LocalEndpoint, MacAddr,
    NetworkSpec, PublishedKey, PublishedPort, Qos, RemoteEndpoint, ResyncReport, ServiceSpec,
    VtepPeer,
};

use async_trait::async_trait;

/// A datapath backend (OVS, eBPF, VPP, or the recording reference in
/// `contiv-policy`). See the [module documentation](self).
#[async_trait]
pub trait Datapath: Send + Sync + 'static {
    /// A short name (`"ovs"`, `"ebpf"`, `"vpp"`, `"recording"`).
    fn name(&self) -> &'static str;

    /// What this backend supports.
    fn capabilities(&self) -> Capabilities;

    /// Applies operations in order. Each is idempotent. On error, the
    /// operations before the failing one may have been applied; the error
    /// names the failing one. Callers retry or resync.
    async fn apply(&self, ops: Vec<DpOp>) -> DpResult<()>;

    /// Converges to exactly `desired`: creates what is missing, updates what
    /// differs, removes what this backend owns but `desired` does not name.
    /// When nothing differs, changes nothing (e.g. sends no flow-mods).
    async fn resync(&self, desired: &DesiredState) -> DpResult<ResyncReport>;
}

/// A shared datapath is a datapath (the agent and a test can hold the same
/// backend).
#[async_trait]
impl<T: Datapath + ?Sized> Datapath for std::sync::Arc<T> {
    fn name(&self) -> &'static str {
        (**self).name()
    }
    fn capabilities(&self) -> Capabilities {
        (**self).capabilities()
    }
    async fn apply(&self, ops: Vec<DpOp>) -> DpResult<()> {
        (**self).apply(ops).await
    }
    async fn resync(&self, desired: &DesiredState) -> DpResult<ResyncReport> {
        (**self).resync(desired).await
    }
}
