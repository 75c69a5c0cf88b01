//! What the datapath was told, and the checks an operation must pass
//! before anything is sent to VPP (so a refused operation changes nothing).

use contiv_core::datapath::{
    Attachment, DesiredState, DpOp, Encap, GlobalSpec, LocalEndpoint, NetworkSpec, RemoteEndpoint,
    VtepPeer,
};
use contiv_core::ir::{Membership, PolicyDelta, PolicyIr};
use std::collections::BTreeMap;
use std::net::IpAddr;

/// The host state as told (VPP realises it).
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

/// Checks a network spec.
pub fn check_network(n: &NetworkSpec) -> Result<(), String> {
    if n.key.is_empty() {
        return Err("the network key is empty".into());
    }
    if n.tenant_id >= 0x8000_0000 {
        return Err(format!(
            "network {}: tenant id {} is above 2^31 (VRF ids with the top bit are reserved for bridge mode)",
            n.key, n.tenant_id
        ));
    }
    match n.encap {
        Encap::Vxlan => match n.vni {
            Some(v) if (1..=0x00ff_ffff).contains(&v) => Ok(()),
            Some(v) => Err(format!(
                "network {}: VNI {v} is outside 1..=16777215",
                n.key
            )),
            None => Err(format!("network {}: a VXLAN network needs a VNI", n.key)),
        },
        Encap::Vlan if (1..=4094).contains(&n.vlan) => Ok(()),
        Encap::Vlan => Err(format!(
            "network {}: VLAN {} is outside 1..=4094",
            n.key, n.vlan
        )),
    }
}

impl HostState {
    fn check_endpoint(&self, id: &str, network: &str) -> Result<(), String> {
        if id.is_empty() {
            return Err("the endpoint id is empty".into());
        }
        if !self.networks.contains_key(network) {
            return Err(format!(
                "endpoint {id} is on network {network}, which was never added (add the network first)"
            ));
        }
        Ok(())
    }

    /// Checks a local endpoint against the state.
    pub fn check_local(&self, e: &LocalEndpoint) -> Result<(), String> {
        self.check_endpoint(&e.id, &e.network)?;
        let host_name = match &e.attachment {
            Attachment::Netns { netns, ifname } => {
                let ns = netns.to_string_lossy();
                if ns.is_empty() || ns.len() > 63 || !ns.is_ascii() {
                    return Err(format!(
                        "endpoint {}: VPP takes a TAP's namespace as an ASCII path of at most 63 bytes, not {ns:?}",
                        e.id
                    ));
                }
                ifname
            }
            Attachment::HostVeth { peer_name } => peer_name,
            Attachment::Existing => &e.host_ifname,
        };
        if host_name.is_empty() || host_name.len() > 15 || !host_name.is_ascii() {
            return Err(format!(
                "endpoint {}: interface name {host_name:?} must be 1 to 15 ASCII bytes",
                e.id
            ));
        }
        if e.mtu != 0 && !(68..=65535).contains(&e.mtu) {
            return Err(format!(
                "endpoint {}: MTU {} is outside 68..=65535",
                e.id, e.mtu
            ));
        }
        Ok(())
    }

    /// Applies one operation, or refuses it without changing anything.
    pub fn apply(&mut self, op: &DpOp) -> Result<(), String> {
        match op {
            DpOp::SetGlobal(g) => self.global = g.clone(),
            DpOp::AddNetwork(n) => {
                check_network(n)?;
                self.networks.insert(n.key.clone(), n.clone());
            }
            DpOp::RemoveNetwork(k) => {
                self.networks.remove(k);
                self.local.retain(|_, e| e.network != *k);
                self.remote.retain(|_, e| e.network != *k);
            }
            DpOp::AddLocalEndpoint(e) => {
                self.check_local(e)?;
                self.remote.remove(&e.id);
                self.local.insert(e.id.clone(), e.clone());
            }
            DpOp::RemoveLocalEndpoint(id) => {
                self.local.remove(id);
            }
            DpOp::AddRemoteEndpoint(e) => {
                self.check_endpoint(&e.id, &e.network)?;
                self.local.remove(&e.id);
                self.remote.insert(e.id.clone(), e.clone());
            }
            DpOp::RemoveRemoteEndpoint(id) => {
                self.remote.remove(id);
            }
            DpOp::AddPeer(p) => {
                self.peers.insert(p.ip, p.clone());
            }
            DpOp::RemovePeer(ip) => {
                self.peers.remove(ip);
            }
            DpOp::Policy(d) => {
                self.policy.check_delta(d)?;
                self.policy.apply(d);
            }
        }
        Ok(())
    }

    /// Builds and checks the state a resync must reach.
    pub fn from_desired(d: &DesiredState) -> Result<HostState, String> {
        let mut s = HostState {
            global: d.global.clone(),
            ..HostState::default()
        };
        for n in &d.networks {
            check_network(n)?;
            if s.networks.insert(n.key.clone(), n.clone()).is_some() {
                return Err(format!("network {} is listed twice", n.key));
            }
        }
        for e in &d.local_endpoints {
            s.check_local(e)?;
            if s.local.insert(e.id.clone(), e.clone()).is_some() {
                return Err(format!("local endpoint {} is listed twice", e.id));
            }
        }
        for e in &d.remote_endpoints {
            s.check_endpoint(&e.id, &e.network)?;
            if s.local.contains_key(&e.id) || s.remote.insert(e.id.clone(), e.clone()).is_some() {
                return Err(format!("endpoint {} is listed twice", e.id));
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
        PolicyIr::default().check_delta(&full)?;
        s.policy = d.policy.clone();
        Ok(s)
    }

    /// The state as a [`DesiredState`] (collections sorted by key).
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
