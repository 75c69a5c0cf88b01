//! What the datapath was told (temporary: replaced by the shared host-state
//! model of `contiv-core` once it lands), and the checks an operation must
//! pass before anything is touched.

use contiv_core::datapath::{
    DesiredState, DpError, DpResult, Encap, FwdMode, GlobalSpec, LocalEndpoint, NetworkSpec,
    RemoteEndpoint, VtepPeer,
};
use contiv_core::ir::{Membership, PolicyDelta, PolicyIr};
use std::collections::BTreeMap;
use std::net::IpAddr;

fn invalid(m: impl Into<String>) -> DpError {
    DpError::InvalidArgument(m.into())
}

/// The host state as told.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct HostState {
    /// Global modes.
    pub global: GlobalSpec,
    /// Networks by key.
    pub networks: BTreeMap<String, NetworkSpec>,
    /// Local endpoints by id.
    pub local: BTreeMap<String, LocalEndpoint>,
    /// Remote endpoints by id.
    pub remote: BTreeMap<String, RemoteEndpoint>,
    /// Peers by address.
    pub peers: BTreeMap<IpAddr, VtepPeer>,
    /// The compiled policy.
    pub policy: PolicyIr,
}

/// Checks the global settings this backend realises.
pub fn check_global(g: &GlobalSpec) -> DpResult<()> {
    if g.fwd_mode == FwdMode::Routing {
        return Err(DpError::Unsupported(
            "forwarding mode `routing` is not implemented by the eBPF datapath (bridge mode only)"
                .into(),
        ));
    }
    Ok(())
}

/// Checks a network spec.
pub fn check_network(n: &NetworkSpec) -> DpResult<()> {
    if n.key.is_empty() {
        return Err(invalid("the network key is empty"));
    }
    match n.encap {
        Encap::Vxlan => match n.vni {
            Some(v) if (1..=0x00ff_ffff).contains(&v) => Ok(()),
            Some(v) => Err(invalid(format!(
                "network {}: VNI {v} is outside 1..=16777215",
                n.key
            ))),
            None => Err(invalid(format!(
                "network {}: a VXLAN network needs a VNI",
                n.key
            ))),
        },
        Encap::Vlan if (1..=4094).contains(&n.vlan) => Ok(()),
        Encap::Vlan => Err(invalid(format!(
            "network {}: VLAN {} is outside 1..=4094",
            n.key, n.vlan
        ))),
    }
}

impl HostState {
    /// Checks a local endpoint against the state.
    pub fn check_local(&self, e: &LocalEndpoint) -> DpResult<()> {
        self.check_endpoint(&e.id, &e.network)?;
        if e.host_ifname.is_empty() || e.host_ifname.len() > 15 {
            return Err(invalid(format!(
                "endpoint {}: host interface name {:?} must be 1 to 15 bytes",
                e.id, e.host_ifname
            )));
        }
        if let Some(other) = self
            .local
            .values()
            .find(|o| o.id != e.id && o.host_ifname == e.host_ifname)
        {
            return Err(invalid(format!(
                "endpoint {}: host interface {} is already used by endpoint {}",
                e.id, e.host_ifname, other.id
            )));
        }
        if e.mtu != 0 && !(68..=65535).contains(&e.mtu) {
            return Err(invalid(format!(
                "endpoint {}: MTU {} is outside 68..=65535",
                e.id, e.mtu
            )));
        }
        Ok(())
    }

    /// Checks a remote endpoint against the state.
    pub fn check_remote(&self, e: &RemoteEndpoint) -> DpResult<()> {
        self.check_endpoint(&e.id, &e.network)
    }

    fn check_endpoint(&self, id: &str, network: &str) -> DpResult<()> {
        if id.is_empty() {
            return Err(invalid("the endpoint id is empty"));
        }
        if !self.networks.contains_key(network) {
            return Err(invalid(format!(
                "endpoint {id} is on network {network}, which was never added (add the network first)"
            )));
        }
        Ok(())
    }

    /// Refuses a delta that would leave the IR inconsistent.
    pub fn check_delta(&self, d: &PolicyDelta) -> DpResult<()> {
        self.policy.check_delta(d).map_err(invalid)
    }

    /// Builds and checks the state a resync must reach.
    pub fn from_desired(d: &DesiredState) -> DpResult<HostState> {
        check_global(&d.global)?;
        let mut s = HostState {
            global: d.global.clone(),
            ..HostState::default()
        };
        for n in &d.networks {
            check_network(n)?;
            if s.networks.insert(n.key.clone(), n.clone()).is_some() {
                return Err(invalid(format!("network {} is listed twice", n.key)));
            }
        }
        for e in &d.local_endpoints {
            s.check_local(e)?;
            if s.local.insert(e.id.clone(), e.clone()).is_some() {
                return Err(invalid(format!("local endpoint {} is listed twice", e.id)));
            }
        }
        for e in &d.remote_endpoints {
            s.check_remote(e)?;
            if s.local.contains_key(&e.id) || s.remote.insert(e.id.clone(), e.clone()).is_some() {
                return Err(invalid(format!("endpoint {} is listed twice", e.id)));
            }
        }
        for p in &d.peers {
            s.peers.insert(p.ip, p.clone());
        }
        let full = PolicyDelta {
            rules_added: d.policy.rules.values().cloned().collect(),
            sets_upserted: d.policy.addr_sets.values().cloned().collect(),
            members_added: d
                .policy
                .members
                .iter()
                .map(|(&(tenant, ip), &epg)| Membership { tenant, ip, epg })
                .collect(),
            ..PolicyDelta::default()
        };
        s.check_delta(&full)?;
        s.policy = d.policy.clone();
        Ok(s)
    }

    /// The state as a [`DesiredState`].
    pub fn snapshot(&self) -> DesiredState {
        DesiredState {
            global: self.global.clone(),
            networks: self.networks.values().cloned().collect(),
            local_endpoints: self.local.values().cloned().collect(),
            remote_endpoints: self.remote.values().cloned().collect(),
            peers: self.peers.values().cloned().collect(),
            policy: self.policy.clone(),
        }
    }
}
