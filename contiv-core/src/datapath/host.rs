//! [`HostState`]: the one model of what a host's datapath holds — used by
//! every backend (what it was told and must realise), by the recording
//! reference, and by the agent (what it last handed the datapath).
//!
//! * [`HostState::check`] validates an operation against the state without
//!   changing anything; [`HostState::apply`] checks, then
//!   [`HostState::record`]s it. A refused operation changes nothing.
//! * [`HostState::from_desired`] builds (and checks) the state a
//!   [`Datapath::resync`](super::Datapath::resync) must reach;
//!   [`HostState::snapshot`] turns a state back into a [`DesiredState`].
//! * [`HostState::diff`] lists the operations that turn this state into a
//!   desired one, in an order every backend accepts;
//!   [`HostState::report`] counts, entry by entry, what a resync from this
//!   state to another creates or updates, removes and leaves alone.
//!
//! The rules are the contract's (see [`super`]): endpoint ids are one
//! namespace (a local endpoint replaces a remote one with the same id and
//! vice versa), removing a network removes what is still on it (endpoints,
//! services), removing an endpoint removes it from the services it backs
//! and drops its published ports, an endpoint must be on a network the
//! state holds, a service's backends must be endpoints on its network the
//! state holds, and a published port must lead to a local endpoint of a
//! network with external access.
//!
//! Backend-specific limits (a conntrack zone that only has 16 bits, a mode
//! the backend cannot realise) are the backend's to check on top.
//!
//! ```
//! use contiv_core::datapath::{DesiredState, DpOp, GlobalSpec, HostState};
//! let mut applied = HostState::default();
//! let desired = DesiredState::default();
//! // Nothing differs: nothing to send.
//! assert!(applied.diff_full(&desired).is_empty());
//! applied.apply(&DpOp::SetGlobal(GlobalSpec::default())).unwrap();
//! assert_eq!(applied.snapshot(), desired);
//! ```

use super::types::{
    Capabilities, Capability, DesiredState, DpError, DpOp, DpResult, Encap, ExternalRoute,
    FabricSpec, GlobalSpec, LocalEndpoint, NetworkSpec, PublishedKey, PublishedPort,
    RemoteEndpoint, ResyncReport, ServiceSpec, VtepPeer,
};
use crate::ir::{PolicyDelta, PolicyIr};
use ipnet::Ipv4Net;
use std::collections::{BTreeMap, BTreeSet};
use std::net::{IpAddr, Ipv4Addr};

/// What a host's datapath holds: the one model every backend, the
/// recording reference and the agent share (see the [`datapath`](super)
/// module documentation).
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
    /// The host's router on the fabric.
    pub fabric: Option<FabricSpec>,
    /// Routes learned from the fabric, by prefix.
    pub routes: BTreeMap<Ipv4Net, ExternalRoute>,
    /// Services by key.
    pub services: BTreeMap<String, ServiceSpec>,
    /// Published ports by key.
    pub published: BTreeMap<PublishedKey, PublishedPort>,
}

fn invalid(m: impl Into<String>) -> DpError {
    DpError::InvalidArgument(m.into())
}

/// Checks a network spec on its own: a key, a VNI in `1..=16777215` for
/// VXLAN, a VLAN id in `1..=4094` for VLAN. ([`NetworkSpec::vlan`] of a
/// VXLAN network is not looked at.)
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

/// Checks a fabric spec on its own: a router address that is a usable
/// host address of its subnet (not the network or broadcast address of a
/// subnet shorter than /31, not in 127/8, not multicast or unspecified).
pub fn check_fabric(f: &FabricSpec) -> DpResult<()> {
    let a = f.router.addr();
    let plen = f.router.prefix_len();
    if a.is_loopback() || a.is_multicast() || a.is_unspecified() || a.is_broadcast() {
        return Err(invalid(format!(
            "fabric router address {} is not a usable unicast address",
            f.router
        )));
    }
    if plen < 31 && (a == f.router.network() || a == f.router.broadcast()) {
        return Err(invalid(format!(
            "fabric router address {} is the network or broadcast address of its subnet",
            f.router
        )));
    }
    Ok(())
}

/// Refuses an operation that needs a capability the datapath `datapath`
/// (with `caps`) does not claim: a router on the fabric and the routes
/// learned from it need [`Capability::RoutedUplink`]. A backend calls this
/// before anything else, so what it does not realise is never recorded.
pub fn check_claimed(op: &DpOp, datapath: &str, caps: &Capabilities) -> DpResult<()> {
    match op {
        DpOp::SetFabric(Some(_)) | DpOp::AddRoute(_) => no_routed_uplink(datapath, caps),
        _ => Ok(()),
    }
}

/// [`check_claimed`] for a whole desired state.
pub fn check_desired_claimed(
    d: &DesiredState,
    datapath: &str,
    caps: &Capabilities,
) -> DpResult<()> {
    if d.fabric.is_some() || !d.routes.is_empty() {
        return no_routed_uplink(datapath, caps);
    }
    Ok(())
}

fn no_routed_uplink(datapath: &str, caps: &Capabilities) -> DpResult<()> {
    if caps.has(Capability::RoutedUplink) {
        return Ok(());
    }
    Err(DpError::Unsupported(format!(
        "the {datapath} datapath does not route to a fabric (it lacks {})",
        Capability::RoutedUplink.name()
    )))
}

/// A short description of an operation for error messages and logs
/// (`AddLocalEndpoint ep-a`, `Policy (3 entries)`).
pub fn op_name(op: &DpOp) -> String {
    match op {
        DpOp::SetGlobal(_) => "SetGlobal".into(),
        DpOp::AddNetwork(n) => format!("AddNetwork {}", n.key),
        DpOp::RemoveNetwork(k) => format!("RemoveNetwork {k}"),
        DpOp::AddLocalEndpoint(e) => format!("AddLocalEndpoint {}", e.id),
        DpOp::RemoveLocalEndpoint(id) => format!("RemoveLocalEndpoint {id}"),
        DpOp::AddRemoteEndpoint(e) => format!("AddRemoteEndpoint {}", e.id),
        DpOp::RemoveRemoteEndpoint(id) => format!("RemoveRemoteEndpoint {id}"),
        DpOp::AddPeer(p) => format!("AddPeer {}", p.ip),
        DpOp::RemovePeer(ip) => format!("RemovePeer {ip}"),
        DpOp::Policy(d) => format!("Policy ({} entries)", d.len()),
        DpOp::SetFabric(Some(f)) => format!("SetFabric {}", f.router),
        DpOp::SetFabric(None) => "SetFabric none".into(),
        DpOp::AddRoute(r) => format!("AddRoute {} via {}", r.prefix, r.next_hop),
        DpOp::RemoveRoute(p) => format!("RemoveRoute {p}"),
        DpOp::AddService(sv) => format!("AddService {}", sv.key),
        DpOp::RemoveService(k) => format!("RemoveService {k}"),
        DpOp::AddPublishedPort(p) => format!("AddPublishedPort {}", p.key()),
        DpOp::RemovePublishedPort(k) => format!("RemovePublishedPort {k}"),
    }
}

/// Prefixes an error with the operation (index `i` of its batch) that
/// failed, keeping its kind.
pub fn in_op(i: usize, op: &DpOp, e: DpError) -> DpError {
    let ctx = format!("operation {i} ({})", op_name(op));
    match e {
        DpError::InvalidArgument(m) => DpError::InvalidArgument(format!("{ctx}: {m}")),
        DpError::Unsupported(m) => DpError::Unsupported(format!("{ctx}: {m}")),
        DpError::Plumbing(m) => DpError::Plumbing(format!("{ctx}: {m}")),
        DpError::Backend(m) => DpError::Backend(format!("{ctx}: {m}")),
    }
}

impl HostState {
    /// Local endpoints of networks with external access whose IPv4
    /// address another such endpoint has, in another tenant (overlapping
    /// subnets), by id. A datapath without
    /// [`Capability::EgressNatOverlapping`](super::Capability::EgressNatOverlapping)
    /// cannot take them all to the outside; the agent reports them.
    pub fn external_address_clashes(&self) -> BTreeSet<String> {
        let mut by_addr: BTreeMap<Ipv4Addr, Vec<(&str, &str)>> = BTreeMap::new();
        for e in self.local.values() {
            let Some(n) = self.networks.get(&e.network).filter(|n| n.external) else {
                continue;
            };
            if let Some(a) = e.ipv4 {
                by_addr
                    .entry(a.addr())
                    .or_default()
                    .push((e.id.as_str(), n.tenant.as_str()));
            }
        }
        let mut out = BTreeSet::new();
        for eps in by_addr.values() {
            let tenants: BTreeSet<&str> = eps.iter().map(|(_, t)| *t).collect();
            if tenants.len() > 1 {
                out.extend(eps.iter().map(|(id, _)| (*id).to_owned()));
            }
        }
        out
    }

    /// Checks `op` against the state; changes nothing.
    pub fn check(&self, op: &DpOp) -> DpResult<()> {
        match op {
            DpOp::AddNetwork(n) => check_network(n),
            DpOp::AddLocalEndpoint(e) => self.check_local(e),
            DpOp::AddRemoteEndpoint(e) => self.check_remote(e),
            DpOp::Policy(d) => self.check_delta(d),
            DpOp::SetFabric(Some(f)) => check_fabric(f),
            DpOp::AddRoute(r) => self.check_route(r),
            DpOp::AddService(sv) => self.check_service(sv),
            DpOp::AddPublishedPort(p) => self.check_published(p),
            DpOp::SetFabric(None)
            | DpOp::RemoveRoute(_)
            | DpOp::SetGlobal(_)
            | DpOp::RemoveNetwork(_)
            | DpOp::RemoveLocalEndpoint(_)
            | DpOp::RemoveRemoteEndpoint(_)
            | DpOp::AddPeer(_)
            | DpOp::RemovePeer(_)
            | DpOp::RemoveService(_)
            | DpOp::RemovePublishedPort(_) => Ok(()),
        }
    }

    /// Checks `op`, then records it; a refused operation changes nothing.
    pub fn apply(&mut self, op: &DpOp) -> DpResult<()> {
        self.check(op)?;
        self.record(op);
        Ok(())
    }

    /// Records that `op` was applied, without checking it (for a caller
    /// that knows the datapath accepted it).
    pub fn record(&mut self, op: &DpOp) {
        match op {
            DpOp::SetGlobal(g) => self.global = g.clone(),
            DpOp::AddNetwork(n) => {
                self.networks.insert(n.key.clone(), n.clone());
            }
            DpOp::RemoveNetwork(k) => {
                self.networks.remove(k);
                let gone: Vec<String> = self
                    .local
                    .values()
                    .filter(|e| e.network == *k)
                    .map(|e| e.id.clone())
                    .chain(
                        self.remote
                            .values()
                            .filter(|e| e.network == *k)
                            .map(|e| e.id.clone()),
                    )
                    .collect();
                for id in &gone {
                    self.forget_endpoint(id);
                }
                self.services.retain(|_, sv| sv.network != *k);
            }
            DpOp::AddLocalEndpoint(e) => {
                if self.remote.remove(&e.id).is_some() {
                    self.forget_backend(&e.id);
                }
                self.local.insert(e.id.clone(), e.clone());
            }
            DpOp::RemoveLocalEndpoint(id) => {
                if self.local.contains_key(id) {
                    self.forget_endpoint(id);
                }
            }
            DpOp::AddRemoteEndpoint(e) => {
                if self.local.contains_key(&e.id) {
                    self.forget_endpoint(&e.id);
                }
                self.remote.insert(e.id.clone(), e.clone());
            }
            DpOp::RemoveRemoteEndpoint(id) => {
                if self.remote.contains_key(id) {
                    self.forget_endpoint(id);
                }
            }
            DpOp::AddService(sv) => {
                self.services.insert(sv.key.clone(), sv.clone());
            }
            DpOp::RemoveService(k) => {
                self.services.remove(k);
            }
            DpOp::AddPublishedPort(p) => {
                self.published.insert(p.key(), p.clone());
            }
            DpOp::RemovePublishedPort(k) => {
                self.published.remove(k);
            }
            DpOp::AddPeer(p) => {
                self.peers.insert(p.ip, p.clone());
            }
            DpOp::RemovePeer(ip) => {
                self.peers.remove(ip);
            }
            DpOp::Policy(d) => self.policy.apply(d),
            DpOp::SetFabric(f) => {
                // Routes whose next hop left the fabric subnet go with it.
                match f {
                    Some(f) => self.routes.retain(|_, r| f.router.contains(&r.next_hop)),
                    None => self.routes.clear(),
                }
                self.fabric = *f;
            }
            DpOp::AddRoute(r) => {
                self.routes.insert(r.prefix, *r);
            }
            DpOp::RemoveRoute(p) => {
                self.routes.remove(p);
            }
        }
    }

    /// Checks a route against the state: a prefix without host bits, a
    /// fabric to route through, a next hop on the fabric subnet that is
    /// not the router itself.
    pub fn check_route(&self, r: &ExternalRoute) -> DpResult<()> {
        check_route_prefix(r)?;
        let Some(f) = &self.fabric else {
            return Err(invalid(format!(
                "route {} via {}: the host has no router on the fabric (SetFabric first)",
                r.prefix, r.next_hop
            )));
        };
        check_route_on(f, r)
    }

    /// Removes endpoint `id` (local or remote) with what hangs on it: its
    /// place among the backends of every service and its published ports.
    pub fn forget_endpoint(&mut self, id: &str) {
        self.local.remove(id);
        self.remote.remove(id);
        self.forget_backend(id);
        self.published.retain(|_, p| p.endpoint != id);
    }

    /// Takes endpoint `id` out of every service's backends.
    fn forget_backend(&mut self, id: &str) {
        for sv in self.services.values_mut() {
            sv.backends.retain(|b| b != id);
        }
    }

    /// The network key and IPv4 address of endpoint `id` (local or
    /// remote).
    pub fn endpoint_v4(&self, id: &str) -> Option<(&str, Option<Ipv4Addr>)> {
        if let Some(e) = self.local.get(id) {
            return Some((&e.network, e.ipv4.map(|a| a.addr())));
        }
        let e = self.remote.get(id)?;
        Some((&e.network, e.ipv4))
    }

    /// Checks a service against the state: its network is known and the
    /// VIP is inside the network's subnet (and not its gateway); at least
    /// one port, none 0, no `(protocol, svc_port)` twice; every backend an
    /// endpoint on the service's network with an IPv4 address, listed once;
    /// no other service of the tenant with the same VIP.
    pub fn check_service(&self, sv: &ServiceSpec) -> DpResult<()> {
        if sv.key.is_empty() {
            return Err(invalid("the service key is empty"));
        }
        let net = self.networks.get(&sv.network).ok_or_else(|| {
            invalid(format!(
                "service {}: network {} was never added",
                sv.key, sv.network
            ))
        })?;
        match net.subnet {
            Some(s) if s.contains(&sv.vip) && net.gateway != Some(sv.vip) => {}
            _ => {
                return Err(invalid(format!(
                    "service {}: VIP {} is not a host address of network {}'s subnet",
                    sv.key, sv.vip, sv.network
                )));
            }
        }
        if sv.ports.is_empty() {
            return Err(invalid(format!("service {}: no ports", sv.key)));
        }
        let mut seen = BTreeSet::new();
        for p in &sv.ports {
            if p.svc_port == 0 || p.prov_port == 0 {
                return Err(invalid(format!("service {}: port {p} uses port 0", sv.key)));
            }
            if !seen.insert((p.protocol, p.svc_port)) {
                return Err(invalid(format!(
                    "service {}: {} port {} is listed twice",
                    sv.key, p.protocol, p.svc_port
                )));
            }
        }
        let mut ids = BTreeSet::new();
        for b in &sv.backends {
            if !ids.insert(b.as_str()) {
                return Err(invalid(format!(
                    "service {}: backend {b} is listed twice",
                    sv.key
                )));
            }
            match self.endpoint_v4(b) {
                None => {
                    return Err(invalid(format!(
                        "service {}: backend {b} is not an endpoint this host knows",
                        sv.key
                    )));
                }
                Some((n, _)) if n != sv.network => {
                    return Err(invalid(format!(
                        "service {}: backend {b} is on network {n}, not on the service's network {}",
                        sv.key, sv.network
                    )));
                }
                Some((_, None)) => {
                    return Err(invalid(format!(
                        "service {}: backend {b} has no IPv4 address",
                        sv.key
                    )));
                }
                Some(_) => {}
            }
        }
        if let Some(other) = self.services.values().find(|o| {
            o.key != sv.key
                && o.vip == sv.vip
                && self.networks.get(&o.network).map(|n| n.tenant_id) == Some(net.tenant_id)
        }) {
            return Err(invalid(format!(
                "service {}: VIP {} is already service {}'s",
                sv.key, sv.vip, other.key
            )));
        }
        Ok(())
    }

    /// Checks a published port: ports not 0, a local endpoint with an IPv4
    /// address on a network with external access.
    pub fn check_published(&self, p: &PublishedPort) -> DpResult<()> {
        let k = p.key();
        if p.host_port == 0 || p.port == 0 {
            return Err(invalid(format!("published port {k}: port 0")));
        }
        let e = self.local.get(&p.endpoint).ok_or_else(|| {
            invalid(format!(
                "published port {k}: {} is not a local endpoint",
                p.endpoint
            ))
        })?;
        if e.ipv4.is_none() {
            return Err(invalid(format!(
                "published port {k}: endpoint {} has no IPv4 address",
                p.endpoint
            )));
        }
        match self.networks.get(&e.network) {
            Some(n) if n.external => Ok(()),
            _ => Err(invalid(format!(
                "published port {k}: network {} of endpoint {} has no external access",
                e.network, p.endpoint
            ))),
        }
    }

    /// Checks a local endpoint against the state: a known network, a host
    /// interface name of 1 to 15 bytes no other endpoint uses, an MTU of 0
    /// (default) or `68..=65535`.
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

    /// Checks a remote endpoint against the state (a known network).
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

    /// Refuses a delta that would leave a rule referencing a missing
    /// address set, or a membership in group 0 ([`PolicyIr::check_delta`]).
    pub fn check_delta(&self, d: &PolicyDelta) -> DpResult<()> {
        self.policy.check_delta(d).map_err(invalid)
    }

    /// Builds the state `desired` describes, refusing inconsistent input
    /// (an id listed twice, an endpoint on a network not listed, an
    /// invalid network or endpoint, an inconsistent policy).
    pub fn from_desired(desired: &DesiredState) -> DpResult<HostState> {
        let mut s = HostState {
            global: desired.global.clone(),
            ..HostState::default()
        };
        for n in &desired.networks {
            check_network(n)?;
            if s.networks.insert(n.key.clone(), n.clone()).is_some() {
                return Err(invalid(format!("network {} is listed twice", n.key)));
            }
        }
        for e in &desired.local_endpoints {
            s.check_local(e)?;
            if s.local.insert(e.id.clone(), e.clone()).is_some() {
                return Err(invalid(format!("local endpoint {} is listed twice", e.id)));
            }
        }
        for e in &desired.remote_endpoints {
            s.check_remote(e)?;
            if s.local.contains_key(&e.id) {
                return Err(invalid(format!(
                    "endpoint {} is listed as both local and remote",
                    e.id
                )));
            }
            if s.remote.insert(e.id.clone(), e.clone()).is_some() {
                return Err(invalid(format!("remote endpoint {} is listed twice", e.id)));
            }
        }
        for p in &desired.peers {
            if s.peers.insert(p.ip, p.clone()).is_some() {
                return Err(invalid(format!("peer {} is listed twice", p.ip)));
            }
        }
        desired.policy.check().map_err(invalid)?;
        s.policy = desired.policy.clone();
        if let Some(f) = &desired.fabric {
            check_fabric(f)?;
        }
        s.fabric = desired.fabric;
        for r in &desired.routes {
            s.check_route(r)?;
            if s.routes.insert(r.prefix, *r).is_some() {
                return Err(invalid(format!("route {} is listed twice", r.prefix)));
            }
        }
        for sv in &desired.services {
            s.check_service(sv)?;
            if s.services.insert(sv.key.clone(), sv.clone()).is_some() {
                return Err(invalid(format!("service {} is listed twice", sv.key)));
            }
        }
        for p in &desired.published {
            s.check_published(p)?;
            if s.published.insert(p.key(), p.clone()).is_some() {
                return Err(invalid(format!(
                    "published port {} is listed twice",
                    p.key()
                )));
            }
        }
        Ok(s)
    }

    /// The state `desired` describes, taken as given (for a caller whose
    /// datapath just accepted it in a resync). Later duplicates win.
    pub fn from_desired_unchecked(desired: &DesiredState) -> HostState {
        HostState {
            global: desired.global.clone(),
            networks: desired
                .networks
                .iter()
                .map(|n| (n.key.clone(), n.clone()))
                .collect(),
            local: desired
                .local_endpoints
                .iter()
                .map(|e| (e.id.clone(), e.clone()))
                .collect(),
            remote: desired
                .remote_endpoints
                .iter()
                .map(|e| (e.id.clone(), e.clone()))
                .collect(),
            peers: desired.peers.iter().map(|p| (p.ip, p.clone())).collect(),
            policy: desired.policy.clone(),
            fabric: desired.fabric,
            routes: desired.routes.iter().map(|r| (r.prefix, *r)).collect(),
            services: desired
                .services
                .iter()
                .map(|s| (s.key.clone(), s.clone()))
                .collect(),
            published: desired
                .published
                .iter()
                .map(|p| (p.key(), p.clone()))
                .collect(),
        }
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
            fabric: self.fabric,
            routes: self.routes.values().copied().collect(),
            services: self.services.values().cloned().collect(),
            published: self.published.values().cloned().collect(),
        }
    }

    /// Counts, entry by entry (the global settings, each network,
    /// endpoint, peer, compiled rule, address set, membership, service and
    /// published port), what
    /// turning `self` into `target` creates or updates, removes, and leaves
    /// alone.
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
        match (&self.fabric, &target.fabric) {
            (a, b) if a == b => r.unchanged += usize::from(b.is_some()),
            (Some(_), None) => r.removed += 1,
            _ => r.added += 1,
        }
        tally(&mut r, &self.routes, &target.routes);
        tally(&mut r, &self.services, &target.services);
        tally(&mut r, &self.published, &target.published);
        r
    }

    /// The operations that turn `self` into `desired`, with the policy
    /// reached by applying `policy` to `self.policy` (callers that compile
    /// incrementally pass their delta; [`HostState::diff_full`] computes
    /// it). The order is one every backend accepts: global, networks, the
    /// fabric (set or changed), peers, endpoint removals, endpoint
    /// additions, route removals and additions, service removals and
    /// additions, published-port removals and additions, policy, then peer
    /// removals, the fabric (removed) and network removals. Empty when
    /// nothing differs.
    pub fn diff(&self, desired: &DesiredState, policy: PolicyDelta) -> Vec<DpOp> {
        let mut ops = Vec::new();
        if self.global != desired.global {
            ops.push(DpOp::SetGlobal(desired.global.clone()));
        }
        let nets: BTreeMap<&str, &NetworkSpec> = desired
            .networks
            .iter()
            .map(|n| (n.key.as_str(), n))
            .collect();
        for n in &desired.networks {
            if self.networks.get(&n.key) != Some(n) {
                ops.push(DpOp::AddNetwork(n.clone()));
            }
        }
        if desired.fabric.is_some() && self.fabric != desired.fabric {
            ops.push(DpOp::SetFabric(desired.fabric));
        }
        let peers: BTreeMap<IpAddr, &VtepPeer> = desired.peers.iter().map(|p| (p.ip, p)).collect();
        for p in &desired.peers {
            if self.peers.get(&p.ip) != Some(p) {
                ops.push(DpOp::AddPeer(p.clone()));
            }
        }
        let local: BTreeMap<&str, &LocalEndpoint> = desired
            .local_endpoints
            .iter()
            .map(|e| (e.id.as_str(), e))
            .collect();
        let remote: BTreeMap<&str, &RemoteEndpoint> = desired
            .remote_endpoints
            .iter()
            .map(|e| (e.id.as_str(), e))
            .collect();
        for id in self.local.keys() {
            if !local.contains_key(id.as_str()) && !remote.contains_key(id.as_str()) {
                ops.push(DpOp::RemoveLocalEndpoint(id.clone()));
            }
        }
        for id in self.remote.keys() {
            if !remote.contains_key(id.as_str()) && !local.contains_key(id.as_str()) {
                ops.push(DpOp::RemoveRemoteEndpoint(id.clone()));
            }
        }
        for e in &desired.local_endpoints {
            if self.local.get(&e.id) != Some(e) {
                ops.push(DpOp::AddLocalEndpoint(e.clone()));
            }
        }
        for e in &desired.remote_endpoints {
            if self.remote.get(&e.id) != Some(e) {
                ops.push(DpOp::AddRemoteEndpoint(e.clone()));
            }
        }
        if desired.fabric.is_some() {
            // Routes a changed fabric dropped are added back below.
            let kept = |r: &ExternalRoute| {
                desired
                    .fabric
                    .is_some_and(|f| self.fabric == Some(f) || f.router.contains(&r.next_hop))
            };
            let routes: BTreeMap<Ipv4Net, &ExternalRoute> =
                desired.routes.iter().map(|r| (r.prefix, r)).collect();
            for (p, r) in &self.routes {
                if !routes.contains_key(p) && kept(r) {
                    ops.push(DpOp::RemoveRoute(*p));
                }
            }
            for r in &desired.routes {
                let have = self.routes.get(&r.prefix).filter(|h| kept(h));
                if have != Some(r) {
                    ops.push(DpOp::AddRoute(*r));
                }
            }
        }
        let services: BTreeMap<&str, &ServiceSpec> = desired
            .services
            .iter()
            .map(|s| (s.key.as_str(), s))
            .collect();
        for k in self.services.keys() {
            if !services.contains_key(k.as_str()) {
                ops.push(DpOp::RemoveService(k.clone()));
            }
        }
        for sv in &desired.services {
            if self.services.get(&sv.key) != Some(sv) {
                ops.push(DpOp::AddService(sv.clone()));
            }
        }
        let published: BTreeMap<PublishedKey, &PublishedPort> =
            desired.published.iter().map(|p| (p.key(), p)).collect();
        for k in self.published.keys() {
            if !published.contains_key(k) {
                ops.push(DpOp::RemovePublishedPort(*k));
            }
        }
        for p in &desired.published {
            if self.published.get(&p.key()) != Some(p) {
                ops.push(DpOp::AddPublishedPort(p.clone()));
            }
        }
        if !policy.is_empty() {
            ops.push(DpOp::Policy(policy));
        }
        for ip in self.peers.keys() {
            if !peers.contains_key(ip) {
                ops.push(DpOp::RemovePeer(*ip));
            }
        }
        if desired.fabric.is_none() && self.fabric.is_some() {
            ops.push(DpOp::SetFabric(None));
        }
        for k in self.networks.keys() {
            if !nets.contains_key(k.as_str()) {
                ops.push(DpOp::RemoveNetwork(k.clone()));
            }
        }
        ops
    }

    /// [`HostState::diff`] with the policy delta computed from the two
    /// policies.
    pub fn diff_full(&self, desired: &DesiredState) -> Vec<DpOp> {
        self.diff(desired, self.policy.diff(&desired.policy))
    }
}

fn check_route_prefix(r: &ExternalRoute) -> DpResult<()> {
    if r.prefix.trunc() != r.prefix {
        return Err(invalid(format!(
            "route {}: the prefix has host bits set (did you mean {}?)",
            r.prefix,
            r.prefix.trunc()
        )));
    }
    Ok(())
}

fn check_route_on(f: &FabricSpec, r: &ExternalRoute) -> DpResult<()> {
    if !f.router.contains(&r.next_hop) || r.next_hop == f.router.addr() {
        return Err(invalid(format!(
            "route {} via {}: the next hop must be another address of the fabric subnet {}",
            r.prefix,
            r.next_hop,
            f.router.trunc()
        )));
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

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;
    use crate::datapath::{Attachment, MacAddr};

    fn net(key: &str, vni: u32) -> NetworkSpec {
        NetworkSpec {
            key: key.into(),
            tenant: "t".into(),
            tenant_id: 1,
            encap: Encap::Vxlan,
            vlan: 0,
            vni: Some(vni),
            subnet: Some("10.1.0.0/24".parse().unwrap()),
            gateway: None,
            subnet6: None,
            gateway6: None,
            external: false,
        }
    }

    fn local(id: &str, network: &str, ifname: &str) -> LocalEndpoint {
        LocalEndpoint {
            id: id.into(),
            network: network.into(),
            epg: 0,
            ipv4: Some("10.1.0.2/24".parse().unwrap()),
            ipv6: None,
            mac: MacAddr([2, 2, 10, 1, 0, 2]),
            host_ifname: ifname.into(),
            attachment: Attachment::Existing,
            mtu: 1450,
            qos: None,
        }
    }

    fn remote(id: &str, network: &str) -> RemoteEndpoint {
        RemoteEndpoint {
            id: id.into(),
            network: network.into(),
            epg: 0,
            ipv4: Some("10.1.0.9".parse().unwrap()),
            ipv6: None,
            mac: MacAddr([2, 2, 10, 1, 0, 9]),
            vtep: "192.0.2.9".parse().unwrap(),
        }
    }

    fn desired() -> DesiredState {
        DesiredState {
            networks: vec![net("t:a", 10), net("t:b", 11)],
            local_endpoints: vec![local("l1", "t:a", "vh1")],
            remote_endpoints: vec![remote("r1", "t:b")],
            peers: vec![VtepPeer {
                host: "h2".into(),
                ip: "192.0.2.9".parse().unwrap(),
            }],
            ..DesiredState::default()
        }
    }

    #[test]
    fn external_address_clashes_are_across_tenants_with_external_access() {
        let mut s = HostState::default();
        for (key, tenant, external) in [("t:a", "t", true), ("u:a", "u", true), ("v:a", "v", false)]
        {
            let mut n = net(key, 10);
            n.tenant = tenant.into();
            n.external = external;
            s.networks.insert(key.into(), n);
        }
        // Same address in t and v (v has no external access): no clash.
        for (id, network) in [("l1", "t:a"), ("l3", "v:a")] {
            s.local.insert(id.into(), local(id, network, id));
        }
        assert!(s.external_address_clashes().is_empty());
        // And in u, with external access: t's and u's clash.
        s.local.insert("l2".into(), local("l2", "u:a", "l2"));
        let want: BTreeSet<String> = ["l1", "l2"].map(String::from).into();
        assert_eq!(s.external_address_clashes(), want);
        // Another address in u: no clash any more.
        let mut l2 = local("l2", "u:a", "l2");
        l2.ipv4 = Some("10.1.0.3/24".parse().unwrap());
        s.local.insert("l2".into(), l2);
        assert!(s.external_address_clashes().is_empty());
    }

    #[test]
    fn diff_reaches_the_target_and_is_empty_when_equal() {
        let d = desired();
        let mut s = HostState::default();
        let ops = s.diff_full(&d);
        assert!(matches!(ops[0], DpOp::AddNetwork(_)), "{ops:?}");
        for op in &ops {
            s.apply(op).unwrap();
        }
        assert_eq!(s, HostState::from_desired(&d).unwrap());
        assert_eq!(s.snapshot(), d);
        assert!(s.diff_full(&d).is_empty());
        assert_eq!(s.report(&s.clone()).added, 0);

        // Network b goes: its remote endpoint and the peer go first.
        let mut d2 = d.clone();
        d2.networks.truncate(1);
        d2.remote_endpoints.clear();
        d2.peers.clear();
        let ops = s.diff_full(&d2);
        assert_eq!(
            ops,
            vec![
                DpOp::RemoveRemoteEndpoint("r1".into()),
                DpOp::RemovePeer("192.0.2.9".parse().unwrap()),
                DpOp::RemoveNetwork("t:b".into()),
            ]
        );
        let r = s.report(&HostState::from_desired(&d2).unwrap());
        assert_eq!((r.added, r.removed), (0, 3));
    }

    #[test]
    fn refused_operations_change_nothing_and_say_why() {
        let mut s = HostState::default();
        let e = s
            .apply(&DpOp::AddLocalEndpoint(local("l1", "t:a", "vh1")))
            .unwrap_err();
        assert!(e.to_string().contains("never added"), "{e}");
        assert_eq!(s, HostState::default());
        let mut bad = net("t:a", 1);
        bad.vni = None;
        assert!(s.apply(&DpOp::AddNetwork(bad)).is_err());
        bad = net("t:a", 1);
        bad.encap = Encap::Vlan;
        bad.vlan = 4095;
        assert!(
            s.apply(&DpOp::AddNetwork(bad))
                .unwrap_err()
                .to_string()
                .contains("VLAN 4095")
        );
        s.apply(&DpOp::AddNetwork(net("t:a", 1))).unwrap();
        s.apply(&DpOp::AddLocalEndpoint(local("l1", "t:a", "vh1")))
            .unwrap();
        let e = s
            .apply(&DpOp::AddLocalEndpoint(local("l2", "t:a", "vh1")))
            .unwrap_err();
        assert!(e.to_string().contains("already used by endpoint l1"), "{e}");
        let e = s
            .apply(&DpOp::AddLocalEndpoint(local(
                "l2",
                "t:a",
                "a-very-long-name",
            )))
            .unwrap_err();
        assert!(e.to_string().contains("1 to 15 bytes"), "{e}");
        // One id namespace: the remote replaces the local.
        s.apply(&DpOp::AddRemoteEndpoint(remote("l1", "t:a")))
            .unwrap();
        assert!(s.local.is_empty() && s.remote.len() == 1);
        // Removing a network takes its endpoints.
        s.apply(&DpOp::RemoveNetwork("t:a".into())).unwrap();
        assert_eq!(s, HostState::default());
        let e = in_op(3, &DpOp::RemoveNetwork("x".into()), invalid("boom"));
        assert_eq!(
            e.to_string(),
            "invalid datapath operation: operation 3 (RemoveNetwork x): boom"
        );
    }

    fn fabric(router: &str) -> FabricSpec {
        FabricSpec {
            tenant_id: 1,
            router: router.parse().unwrap(),
        }
    }

    fn route(prefix: &str, nh: &str) -> ExternalRoute {
        ExternalRoute {
            prefix: prefix.parse().unwrap(),
            next_hop: nh.parse().unwrap(),
        }
    }

    #[test]
    fn fabric_operations_need_a_routed_uplink() {
        let none = Capabilities::of(&[Capability::Vxlan]);
        let routed = Capabilities::of(&[Capability::Routing, Capability::RoutedUplink]);
        let f = DpOp::SetFabric(Some(fabric("50.1.1.1/24")));
        let r = DpOp::AddRoute(route("192.0.2.0/24", "50.1.1.254"));
        for op in [&f, &r] {
            let e = check_claimed(op, "x", &none).unwrap_err();
            assert!(
                matches!(&e, DpError::Unsupported(m) if m.contains("x datapath") && m.contains("routed_uplink")),
                "{e}"
            );
            check_claimed(op, "x", &routed).unwrap();
        }
        // Removing is always fine; so is a state without a fabric.
        check_claimed(&DpOp::SetFabric(None), "x", &none).unwrap();
        check_desired_claimed(&DesiredState::default(), "x", &none).unwrap();
        let d = DesiredState {
            fabric: Some(fabric("50.1.1.1/24")),
            ..DesiredState::default()
        };
        assert!(check_desired_claimed(&d, "x", &none).is_err());
        check_desired_claimed(&d, "x", &routed).unwrap();
    }

    #[test]
    fn routes_need_the_fabric_and_go_with_it() {
        let mut s = HostState::default();
        let r = route("60.1.1.0/24", "50.1.1.254");
        let e = s.apply(&DpOp::AddRoute(r)).unwrap_err();
        assert!(e.to_string().contains("no router on the fabric"), "{e}");
        assert!(
            s.apply(&DpOp::SetFabric(Some(fabric("127.0.0.1/8"))))
                .is_err()
        );
        assert!(
            s.apply(&DpOp::SetFabric(Some(fabric("50.1.1.0/24"))))
                .is_err()
        );
        s.apply(&DpOp::SetFabric(Some(fabric("50.1.1.1/24"))))
            .unwrap();
        s.apply(&DpOp::AddRoute(r)).unwrap();
        let e = s
            .apply(&DpOp::AddRoute(route("60.1.1.1/24", "50.1.1.254")))
            .unwrap_err();
        assert!(e.to_string().contains("host bits"), "{e}");
        let e = s
            .apply(&DpOp::AddRoute(route("70.0.0.0/8", "50.1.2.254")))
            .unwrap_err();
        assert!(e.to_string().contains("fabric subnet 50.1.1.0/24"), "{e}");

        // The diff sets the fabric before its routes and removes it after.
        let mut d = desired();
        d.fabric = Some(fabric("50.1.1.1/24"));
        d.routes = vec![r, route("0.0.0.0/0", "50.1.1.254")];
        let mut h = HostState::default();
        let ops = h.diff_full(&d);
        let at = |want: &dyn Fn(&DpOp) -> bool| ops.iter().position(want).unwrap();
        assert!(
            at(&|o| matches!(o, DpOp::SetFabric(Some(_))))
                < at(&|o| matches!(o, DpOp::AddRoute(_)))
        );
        for op in &ops {
            h.apply(op).unwrap();
        }
        assert_eq!(h, HostState::from_desired(&d).unwrap());
        assert!(h.diff_full(&d).is_empty());
        // A new router address on another subnet takes the routes away;
        // the diff adds back those still wanted.
        let mut d2 = d.clone();
        d2.fabric = Some(fabric("50.2.1.1/24"));
        d2.routes = vec![route("60.1.1.0/24", "50.2.1.254")];
        for op in h.diff_full(&d2) {
            h.apply(&op).unwrap();
        }
        assert_eq!(h, HostState::from_desired(&d2).unwrap());
        // No fabric: the routes go first, then the fabric.
        let mut d3 = d2.clone();
        d3.fabric = None;
        d3.routes.clear();
        let ops = h.diff_full(&d3);
        assert_eq!(ops, vec![DpOp::SetFabric(None)]);
        h.apply(&ops[0]).unwrap();
        assert!(h.routes.is_empty() && h.fabric.is_none());
        let r = HostState::from_desired(&d2).unwrap().report(&h);
        assert_eq!((r.added, r.removed), (0, 2));
    }

    #[test]
    fn from_desired_refuses_duplicates() {
        let mut d = desired();
        d.peers.push(d.peers[0].clone());
        assert!(
            HostState::from_desired(&d)
                .unwrap_err()
                .to_string()
                .contains("listed twice")
        );
        let mut d = desired();
        let mut r = remote("l1", "t:a");
        r.id = "l1".into();
        d.remote_endpoints.push(r);
        assert!(
            HostState::from_desired(&d)
                .unwrap_err()
                .to_string()
                .contains("both local and remote")
        );
        assert_eq!(
            HostState::from_desired_unchecked(&desired()),
            HostState::from_desired(&desired()).unwrap()
        );
    }

    fn service(key: &str, backends: &[&str]) -> ServiceSpec {
        ServiceSpec {
            key: key.into(),
            network: "t:a".into(),
            vip: "10.1.0.100".parse().unwrap(),
            ports: vec![crate::model::PortSpec {
                svc_port: 80,
                prov_port: 8080,
                protocol: crate::model::ServiceProtocol::Tcp,
            }],
            backends: backends.iter().map(|b| (*b).to_owned()).collect(),
        }
    }

    #[test]
    fn services_follow_their_endpoints_and_are_checked() {
        let mut d = desired();
        d.services = vec![service("t:web", &["l1"])];
        let mut s = HostState::from_desired(&d).unwrap();
        assert_eq!(s.snapshot(), d);
        // A remote backend of the tenant joins: one AddService.
        let mut r = remote("r2", "t:a");
        r.ipv4 = Some("10.1.0.20".parse().unwrap());
        s.apply(&DpOp::AddRemoteEndpoint(r)).unwrap();
        let mut d2 = s.snapshot();
        d2.services[0].backends.push("r2".into());
        let ops = s.diff_full(&d2);
        assert_eq!(ops, vec![DpOp::AddService(d2.services[0].clone())]);
        s.apply(&ops[0]).unwrap();
        // Removing an endpoint takes it out of the service.
        s.apply(&DpOp::RemoveLocalEndpoint("l1".into())).unwrap();
        assert_eq!(s.services["t:web"].backends, ["r2"]);
        // Refusals: unknown backend, other tenant, VIP outside the subnet,
        // duplicate ports, VIP taken by another service.
        let e = s.check_service(&service("t:x", &["nobody"])).unwrap_err();
        assert!(e.to_string().contains("not an endpoint"), "{e}");
        let e = s.check_service(&service("t:x", &["r1"])).unwrap_err();
        assert!(
            e.to_string().contains("not on the service's network"),
            "{e}"
        );
        let mut bad = service("t:x", &[]);
        bad.vip = "10.9.9.9".parse().unwrap();
        assert!(
            s.check_service(&bad)
                .unwrap_err()
                .to_string()
                .contains("subnet")
        );
        let mut bad = service("t:x", &[]);
        bad.ports.push(bad.ports[0]);
        assert!(
            s.check_service(&bad)
                .unwrap_err()
                .to_string()
                .contains("twice")
        );
        let e = s.check_service(&service("t:x", &[])).unwrap_err();
        assert!(e.to_string().contains("already service t:web"), "{e}");
        // Removing the network removes the service.
        s.apply(&DpOp::RemoveNetwork("t:a".into())).unwrap();
        assert!(s.services.is_empty());
    }

    #[test]
    fn published_ports_need_a_local_endpoint_with_external_access() {
        use crate::model::ServiceProtocol;
        let mut d = desired();
        let p = PublishedPort {
            endpoint: "l1".into(),
            protocol: ServiceProtocol::Tcp,
            host_ip: None,
            host_port: 9099,
            port: 9099,
        };
        d.published = vec![p.clone()];
        let e = HostState::from_desired(&d).unwrap_err();
        assert!(e.to_string().contains("no external access"), "{e}");
        d.networks[0].external = true;
        let s0 = HostState::from_desired(&d).unwrap();
        let mut s = s0.clone();
        assert_eq!(p.key().to_string(), "tcp/*:9099");
        let mut remote_p = p.clone();
        remote_p.endpoint = "r1".into();
        assert!(s.check_published(&remote_p).is_err());
        // The endpoint goes: so do its published ports.
        let mut d2 = d.clone();
        d2.local_endpoints.clear();
        d2.published.clear();
        s.apply(&DpOp::RemoveLocalEndpoint("l1".into())).unwrap();
        assert_eq!(s.snapshot(), d2);
        assert!(s.diff_full(&d2).is_empty());
        assert_eq!(s.report(&s0).added, 2);
    }
}
