//! What the recording datapath holds, how an operation changes it, and how
//! a resync converges it.

use contiv_core::datapath::{
    DesiredState, DpOp, GlobalSpec, LocalEndpoint, NetworkSpec, RemoteEndpoint, ResyncReport,
    VtepPeer,
};
use contiv_core::ir::{PolicyDelta, PolicyIr};
use std::collections::BTreeMap;
use std::net::IpAddr;

/// The host state as a datapath would realise it.
#[derive(Clone, Debug, Default, PartialEq)]
pub(super) struct HostState {
    pub global: GlobalSpec,
    pub networks: BTreeMap<String, NetworkSpec>,
    pub local: BTreeMap<String, LocalEndpoint>,
    pub remote: BTreeMap<String, RemoteEndpoint>,
    pub peers: BTreeMap<IpAddr, VtepPeer>,
    pub policy: PolicyIr,
}

impl HostState {
    /// Applies one operation, or refuses it without changing anything.
    pub fn apply(&mut self, op: &DpOp) -> Result<(), String> {
        match op {
            DpOp::SetGlobal(g) => self.global = g.clone(),
            DpOp::AddNetwork(n) => {
                check_network(n)?;
                self.networks.insert(n.key.clone(), n.clone());
            }
            DpOp::RemoveNetwork(key) => {
                self.networks.remove(key);
                self.local.retain(|_, e| e.network != *key);
                self.remote.retain(|_, e| e.network != *key);
            }
            DpOp::AddLocalEndpoint(e) => {
                self.check_endpoint(&e.id, &e.network)?;
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
            DpOp::Policy(delta) => {
                self.check_delta(delta)?;
                self.policy.apply(delta);
            }
        }
        Ok(())
    }

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

    /// Refuses a delta that would leave a rule referencing a missing
    /// address set, or a membership in group 0 ([`PolicyIr::check_delta`]).
    fn check_delta(&self, d: &PolicyDelta) -> Result<(), String> {
        self.policy.check_delta(d)
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

    /// Builds the state `desired` describes, refusing inconsistent input.
    pub fn from_desired(desired: &DesiredState) -> Result<Self, String> {
        let mut s = HostState {
            global: desired.global.clone(),
            ..HostState::default()
        };
        for n in &desired.networks {
            check_network(n)?;
            if s.networks.insert(n.key.clone(), n.clone()).is_some() {
                return Err(format!("network {} is listed twice", n.key));
            }
        }
        for e in &desired.local_endpoints {
            s.check_endpoint(&e.id, &e.network)?;
            if s.local.insert(e.id.clone(), e.clone()).is_some() {
                return Err(format!("local endpoint {} is listed twice", e.id));
            }
        }
        for e in &desired.remote_endpoints {
            s.check_endpoint(&e.id, &e.network)?;
            if s.local.contains_key(&e.id) {
                return Err(format!(
                    "endpoint {} is listed as both local and remote",
                    e.id
                ));
            }
            if s.remote.insert(e.id.clone(), e.clone()).is_some() {
                return Err(format!("remote endpoint {} is listed twice", e.id));
            }
        }
        for p in &desired.peers {
            if s.peers.insert(p.ip, p.clone()).is_some() {
                return Err(format!("peer {} is listed twice", p.ip));
            }
        }
        desired.policy.check()?;
        s.policy = desired.policy.clone();
        Ok(s)
    }

    /// Counts, entry by entry, what turning `self` into `target` creates or
    /// updates, removes, and leaves alone.
    pub fn report(&self, target: &HostState) -> ResyncReport {
        let mut r = ResyncReport::default();
        if self.global == target.global {
            r.unchanged += 1;
        } else {
            r.added += 1;
        }
        tally(&mut r, &self.networks, &target.networks);
        tally(&mut r, &self.local, &target.local);
        tally(&mut r, &self.remote, &target.remote);
        tally(&mut r, &self.peers, &target.peers);
        tally(&mut r, &self.policy.rules, &target.policy.rules);
        tally(&mut r, &self.policy.addr_sets, &target.policy.addr_sets);
        tally(&mut r, &self.policy.members, &target.policy.members);
        r
    }
}

fn check_network(n: &NetworkSpec) -> Result<(), String> {
    if n.key.is_empty() {
        return Err("the network key is empty".into());
    }
    if n.encap == contiv_core::datapath::Encap::Vxlan && n.vni.is_none() {
        return Err(format!("vxlan network {} has no VNI", n.key));
    }
    Ok(())
}

fn tally<K: Ord, V: PartialEq>(r: &mut ResyncReport, have: &BTreeMap<K, V>, want: &BTreeMap<K, V>) {
    for (k, v) in want {
        match have.get(k) {
            Some(h) if h == v => r.unchanged += 1,
            _ => r.added += 1,
        }
    }
    r.removed += have.keys().filter(|k| !want.contains_key(*k)).count();
}
