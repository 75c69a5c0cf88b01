//! [`RecordingDatapath`]: an in-memory [`Datapath`] that keeps what it is
//! told, records every operation, and answers packet verdicts through the
//! oracle — so agents and daemons can be tested without root, and every
//! real backend has a reference to be compared with.
//!
//! Semantics (the contract every backend follows, made checkable):
//! * operations are idempotent; adding an object whose id exists replaces
//!   it; removing what does not exist succeeds;
//! * endpoint ids are one namespace: adding a local endpoint replaces a
//!   remote one with the same id (the endpoint moved here) and vice versa;
//! * removing a network removes the endpoints and services still on it;
//!   removing an endpoint removes it from the services it backs and drops
//!   its published ports;
//! * it refuses (with [`DpError::InvalidArgument`], naming the operation)
//!   an endpoint on a network it never received, a VXLAN network without
//!   VNI, a policy delta that would leave a rule referencing a missing
//!   address set or map an address to group 0, a service whose VIP is
//!   outside its network or whose backends are not endpoints of its
//!   tenant, and a published port of an endpoint that is not local or
//!   whose network has no external access. Operations before the
//!   refused one stay applied; the refused one changes nothing;
//! * `resync` converges to exactly the desired state and reports, entry by
//!   entry (the global settings, each network, endpoint, peer, compiled
//!   rule, address set and membership), what it created or updated,
//!   removed, and found unchanged.

use crate::oracle::{Packet, PacketEnd, Verdict, evaluate};
use async_trait::async_trait;
use contiv_core::datapath::{
    Capabilities, Capability, Datapath, DesiredState, DpError, DpOp, DpResult, HostState,
    ResyncReport, check_claimed, check_desired_claimed, in_op,
};
use contiv_core::ir::{EpgId, PolicyIr};
use serde::{Deserialize, Serialize};
use std::net::IpAddr;
use std::sync::{Mutex, MutexGuard, PoisonError};

/// One entry of the recording's log.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub enum Recorded {
    /// An operation that was applied.
    Op(DpOp),
    /// A resync that completed, with its report.
    Resync(ResyncReport),
}

#[derive(Default)]
struct Inner {
    state: HostState,
    log: Vec<Recorded>,
}

/// The recording reference datapath. See the [module docs](self).
///
/// ```
/// use contiv_core::datapath::{Datapath, DpOp};
/// use contiv_core::ir::PolicyDelta;
/// use contiv_policy::RecordingDatapath;
/// # tokio_test_block_on(async {
/// let dp = RecordingDatapath::new();
/// dp.apply(vec![DpOp::Policy(PolicyDelta::default())]).await.unwrap();
/// assert_eq!(dp.ops().len(), 1);
/// # });
/// # fn tokio_test_block_on<F: std::future::Future>(f: F) -> F::Output {
/// #     tokio::runtime::Builder::new_current_thread().build().unwrap().block_on(f)
/// # }
/// ```
#[derive(Default)]
pub struct RecordingDatapath {
    inner: Mutex<Inner>,
}

impl std::fmt::Debug for RecordingDatapath {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let g = self.lock();
        f.debug_struct("RecordingDatapath")
            .field("networks", &g.state.networks.len())
            .field("local_endpoints", &g.state.local.len())
            .field("remote_endpoints", &g.state.remote.len())
            .field("peers", &g.state.peers.len())
            .field("rules", &g.state.policy.rules.len())
            .field("log", &g.log.len())
            .finish()
    }
}

impl RecordingDatapath {
    /// An empty recording datapath.
    pub fn new() -> Self {
        RecordingDatapath::default()
    }

    fn lock(&self) -> MutexGuard<'_, Inner> {
        // The state is only changed after validation, so a panic elsewhere
        // while the lock was held cannot have left it half-updated.
        self.inner.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// Everything recorded so far, in order.
    pub fn log(&self) -> Vec<Recorded> {
        self.lock().log.clone()
    }

    /// The applied operations, in order (resyncs left out).
    pub fn ops(&self) -> Vec<DpOp> {
        self.lock()
            .log
            .iter()
            .filter_map(|r| match r {
                Recorded::Op(op) => Some(op.clone()),
                Recorded::Resync(_) => None,
            })
            .collect()
    }

    /// Clears the log (the state is kept).
    pub fn clear_log(&self) {
        self.lock().log.clear();
    }

    /// The current state, as a [`DesiredState`] with every collection
    /// sorted by key.
    pub fn state(&self) -> DesiredState {
        self.lock().state.snapshot()
    }

    /// The current compiled policy.
    pub fn policy(&self) -> PolicyIr {
        self.lock().state.policy.clone()
    }

    /// The oracle's verdict on `packet` under the current policy.
    pub fn verdict(&self, packet: &Packet) -> Verdict {
        evaluate(&self.lock().state.policy, packet)
    }

    /// A new-connection packet from endpoint `src` to endpoint `dst`
    /// (local or remote) as this datapath classifies it: tenants from the
    /// endpoints' networks, groups from the endpoint records, IPv4 if both
    /// have an IPv4 address, else IPv6.
    pub fn packet_between(
        &self,
        src: &str,
        dst: &str,
        proto: u8,
        dst_port: u16,
    ) -> DpResult<Packet> {
        let g = self.lock();
        let s = endpoint_view(&g.state, src)?;
        let d = endpoint_view(&g.state, dst)?;
        let (sip, dip) = match (s.v4, d.v4, s.v6, d.v6) {
            (Some(a), Some(b), _, _) => (IpAddr::V4(a), IpAddr::V4(b)),
            (_, _, Some(a), Some(b)) => (IpAddr::V6(a), IpAddr::V6(b)),
            _ => {
                return Err(DpError::InvalidArgument(format!(
                    "endpoints {src} and {dst} share no address family"
                )));
            }
        };
        Ok(Packet::l4(
            PacketEnd::in_epg(s.tenant, sip, s.epg),
            PacketEnd::in_epg(d.tenant, dip, d.epg),
            proto,
            dst_port,
        ))
    }
}

/// An endpoint as policy sees it.
struct EndpointView {
    tenant: contiv_core::ir::TenantId,
    epg: EpgId,
    v4: Option<std::net::Ipv4Addr>,
    v6: Option<std::net::Ipv6Addr>,
}

fn endpoint_view(st: &HostState, id: &str) -> DpResult<EndpointView> {
    let (network, epg, v4, v6) = if let Some(e) = st.local.get(id) {
        (
            &e.network,
            e.epg,
            e.ipv4.map(|n| n.addr()),
            e.ipv6.map(|n| n.addr()),
        )
    } else if let Some(e) = st.remote.get(id) {
        (&e.network, e.epg, e.ipv4, e.ipv6)
    } else {
        return Err(DpError::InvalidArgument(format!(
            "endpoint {id} is not known to this datapath"
        )));
    };
    let tenant = st
        .networks
        .get(network)
        .map(|n| n.tenant_id)
        .ok_or_else(|| {
            DpError::InvalidArgument(format!("endpoint {id} is on unknown network {network}"))
        })?;
    Ok(EndpointView {
        tenant,
        epg,
        v4,
        v6,
    })
}

#[async_trait]
impl Datapath for RecordingDatapath {
    fn name(&self) -> &'static str {
        "recording"
    }

    /// Only state: it keeps VXLAN and VLAN networks, services, external
    /// access and published ports (the conformance suite's state-level
    /// scenarios show that) and enforces nothing; it refuses a fabric
    /// router (no routed uplink).
    fn capabilities(&self) -> Capabilities {
        Capabilities::of(&[
            Capability::Vxlan,
            Capability::Vlan,
            Capability::Services,
            Capability::EgressNat,
            Capability::PublishedPorts,
            Capability::EgressNatOverlapping,
        ])
    }

    async fn apply(&self, ops: Vec<DpOp>) -> DpResult<()> {
        let mut g = self.lock();
        for (i, op) in ops.into_iter().enumerate() {
            check_claimed(&op, self.name(), &self.capabilities())
                .and_then(|()| g.state.apply(&op))
                .map_err(|e| in_op(i, &op, e))?;
            g.log.push(Recorded::Op(op));
        }
        Ok(())
    }

    async fn resync(&self, desired: &DesiredState) -> DpResult<ResyncReport> {
        check_desired_claimed(desired, self.name(), &self.capabilities())?;
        let target = HostState::from_desired(desired).map_err(|e| match e {
            DpError::InvalidArgument(m) => DpError::InvalidArgument(format!("desired state: {m}")),
            other => other,
        })?;
        let mut g = self.lock();
        let report = g.state.report(&target);
        g.state = target;
        g.log.push(Recorded::Resync(report));
        Ok(report)
    }
}
