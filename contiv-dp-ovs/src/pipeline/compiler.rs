//! [`Pipeline`]: the host's desired state compiled to flows, kept up to
//! date incrementally. Each change marks the owners it affects; [`flush`]
//! recomputes only those and returns the flow changes.
//!
//! [`flush`]: Pipeline::flush

use super::flow::Flow;
use super::flow_table::{FlowChange, FlowTable, Owner};
use super::forwarding::{
    RemoteOut, base_flows, local_endpoint_flows, membership_flows, network_flows,
    remote_endpoint_flows,
};
use super::forwarding::{network_cookie, remote_delivery};
use super::fxhash::FxHashMap;
use super::policy::PolicyLowering;
use super::routing;
use super::service::{BackendAddr, GroupSpec, preferred_group_id, service_flows, service_group};
use crate::openflow::wire::MacAddr;
use contiv_core::datapath::{
    DesiredState, Encap, ExternalRoute, FabricSpec, FwdMode, GlobalSpec, LocalEndpoint,
    NetworkSpec, RemoteEndpoint, ServiceSpec,
};
use contiv_core::ir::{EpgId, NO_EPG, PolicyDelta, PolicyIr, TenantId};
use ipnet::Ipv4Net;
use std::collections::{BTreeMap, BTreeSet};
use std::net::{IpAddr, Ipv4Addr};
use std::sync::Arc;

/// Switch port numbers the flows refer to, resolved by the datapath.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct PortMap {
    /// Local endpoint id → ofport of its host-side interface.
    pub endpoints: BTreeMap<String, u32>,
    /// Peer VTEP address → ofport of its VXLAN port.
    pub peers: BTreeMap<IpAddr, u32>,
    /// The VLAN uplink's ofport.
    pub uplink: Option<u32>,
    /// The fabric router port's ofport.
    pub router: Option<u32>,
    /// Resolved MACs of the external routes' next hops.
    pub next_hops: BTreeMap<Ipv4Addr, MacAddr>,
    /// The host port's ofport (external access).
    pub host: Option<u32>,
}

/// Group changes since the last [`Pipeline::take_group_changes`].
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct GroupChanges {
    /// Groups to create (`true`) or modify (`false`), by id.
    pub upserts: Vec<(u32, GroupSpec, bool)>,
    /// Groups to delete.
    pub deletes: Vec<u32>,
}

impl GroupChanges {
    /// Whether nothing changed.
    pub fn is_empty(&self) -> bool {
        self.upserts.is_empty() && self.deletes.is_empty()
    }
}

/// A service port's identity: (service key, IP protocol, VIP port).
type PortKey = (Arc<str>, u8, u16);

#[derive(Debug)]
struct LocalEntry {
    ep: LocalEndpoint,
    ofport: Option<u32>,
}

/// The incremental pipeline compiler. See the [module documentation](self).
#[derive(Debug)]
pub struct Pipeline {
    global: GlobalSpec,
    networks: BTreeMap<String, NetworkSpec>,
    locals: BTreeMap<Arc<str>, LocalEntry>,
    remotes: BTreeMap<Arc<str>, RemoteEndpoint>,
    peers: BTreeMap<IpAddr, u32>,
    uplink: Option<u32>,
    fabric: Option<FabricSpec>,
    router_port: Option<u32>,
    routes: BTreeMap<Ipv4Net, ExternalRoute>,
    next_hops: BTreeMap<Ipv4Addr, MacAddr>,
    net_locals: FxHashMap<String, BTreeSet<Arc<str>>>,
    net_remotes: FxHashMap<String, BTreeSet<Arc<str>>>,
    vtep_remotes: FxHashMap<IpAddr, BTreeSet<Arc<str>>>,
    members: FxHashMap<(TenantId, IpAddr), EpgId>,
    local_ips: FxHashMap<(TenantId, IpAddr), u32>,
    policy: PolicyLowering,
    table: FlowTable,
    dirty: BTreeSet<Owner>,
    host_port: Option<u32>,
    services: BTreeMap<Arc<str>, ServiceSpec>,
    /// Endpoint id → the services it backs.
    backend_of: FxHashMap<String, BTreeSet<Arc<str>>>,
    group_ids: BTreeMap<PortKey, u32>,
    group_keys: BTreeMap<u32, PortKey>,
    groups: BTreeMap<u32, GroupSpec>,
    groups_flushed: BTreeMap<u32, GroupSpec>,
    groups_dirty: BTreeSet<u32>,
}

impl Default for Pipeline {
    fn default() -> Self {
        Pipeline::new()
    }
}

impl Pipeline {
    /// A pipeline holding only the fixed skeleton (after [`Pipeline::flush`]).
    pub fn new() -> Pipeline {
        let mut dirty = BTreeSet::new();
        dirty.insert(Owner::Base);
        Pipeline {
            global: GlobalSpec::default(),
            networks: BTreeMap::new(),
            locals: BTreeMap::new(),
            remotes: BTreeMap::new(),
            peers: BTreeMap::new(),
            uplink: None,
            fabric: None,
            router_port: None,
            routes: BTreeMap::new(),
            next_hops: BTreeMap::new(),
            net_locals: FxHashMap::default(),
            net_remotes: FxHashMap::default(),
            vtep_remotes: FxHashMap::default(),
            members: FxHashMap::default(),
            local_ips: FxHashMap::default(),
            policy: PolicyLowering::new(),
            table: FlowTable::new(),
            dirty,
            host_port: None,
            services: BTreeMap::new(),
            backend_of: FxHashMap::default(),
            group_ids: BTreeMap::new(),
            group_keys: BTreeMap::new(),
            groups: BTreeMap::new(),
            groups_flushed: BTreeMap::new(),
            groups_dirty: BTreeSet::new(),
        }
    }

    /// Compiles a whole desired state with the given ports (the changes of
    /// the first [`Pipeline::flush`] are every flow).
    pub fn from_desired(desired: &DesiredState, ports: &PortMap) -> Pipeline {
        let mut p = Pipeline::new();
        let endpoints = desired.local_endpoints.len() + desired.remote_endpoints.len();
        p.table.reserve(
            2 * desired.policy.rules.len()
                + 2 * desired.policy.members.len()
                + 10 * endpoints
                + 4 * desired.networks.len()
                + 64,
            desired.policy.rules.len() + desired.policy.members.len() + endpoints + 64,
        );
        p.set_global(desired.global.clone());
        p.set_uplink(ports.uplink);
        p.set_host_port(ports.host);
        for (ip, port) in &ports.peers {
            p.set_peer_port(*ip, Some(*port));
        }
        for n in &desired.networks {
            p.upsert_network(n.clone());
        }
        for e in &desired.local_endpoints {
            p.upsert_local(e.clone(), ports.endpoints.get(&e.id).copied());
        }
        for e in &desired.remote_endpoints {
            p.upsert_remote(e.clone());
        }
        p.load_policy(&desired.policy);
        p.set_fabric(desired.fabric, ports.router);
        for (ip, mac) in &ports.next_hops {
            p.set_next_hop_mac(*ip, Some(*mac));
        }
        for r in &desired.routes {
            p.upsert_route(*r);
        }
        for sv in &desired.services {
            p.upsert_service(sv.clone());
        }
        p
    }

    // ---- state changes -------------------------------------------------

    /// Sets the global modes (the ARP mode changes every endpoint's flows,
    /// the forwarding mode every network's and endpoint's, the private
    /// subnet every external-access flow).
    pub fn set_global(&mut self, g: GlobalSpec) {
        if g.arp_mode != self.global.arp_mode {
            self.mark_all_endpoints();
        }
        if g.fwd_mode != self.global.fwd_mode {
            self.mark_all_endpoints();
            let keys: Vec<Arc<str>> = self
                .networks
                .keys()
                .map(|k| Arc::from(k.as_str()))
                .collect();
            self.dirty.extend(keys.into_iter().map(Owner::Network));
        }
        let pvt_changed = g.private_subnet != self.global.private_subnet;
        self.global = g;
        if pvt_changed {
            self.mark_external();
        }
    }

    /// Everything the host port and the private subnet shape.
    fn mark_external(&mut self) {
        self.dirty.insert(Owner::External);
        let tenants: BTreeSet<TenantId> = self.networks.values().map(|n| n.tenant_id).collect();
        for t in tenants {
            self.dirty.insert(Owner::ExternalTenant(t));
        }
        let nets: Vec<Arc<str>> = self
            .networks
            .keys()
            .map(|k| Arc::from(k.as_str()))
            .collect();
        for k in nets {
            self.dirty.insert(Owner::Network(k));
        }
        let locals: Vec<Owner> = self
            .locals
            .keys()
            .map(|k| Owner::Local(k.clone()))
            .collect();
        self.dirty.extend(locals);
    }

    /// Sets (or with `None` removes) the host port's ofport.
    pub fn set_host_port(&mut self, ofport: Option<u32>) {
        if self.host_port != ofport {
            self.host_port = ofport;
            self.mark_external();
        }
    }

    /// Whether any network has external access (the host port is needed).
    pub fn needs_host_port(&self) -> bool {
        self.networks.values().any(|n| n.external)
    }

    fn mark_services_of(&mut self, endpoint: &str) {
        let keys: Vec<Arc<str>> = self
            .backend_of
            .get(endpoint)
            .map(|s| s.iter().cloned().collect())
            .unwrap_or_default();
        for k in keys {
            self.mark_service(&k);
        }
    }

    fn mark_service(&mut self, key: &Arc<str>) {
        self.dirty.insert(Owner::Service(key.clone()));
        let ids: Vec<u32> = self
            .group_ids
            .range((key.clone(), 0, 0)..=(key.clone(), u8::MAX, u16::MAX))
            .map(|(_, g)| *g)
            .collect();
        self.groups_dirty.extend(ids);
    }

    /// Adds or replaces a service.
    pub fn upsert_service(&mut self, sv: ServiceSpec) {
        let key: Arc<str> = Arc::from(sv.key.as_str());
        if self.services.get(&key) == Some(&sv) {
            return;
        }
        self.remove_service(&sv.key);
        for b in &sv.backends {
            self.backend_of
                .entry(b.clone())
                .or_default()
                .insert(key.clone());
        }
        for p in &sv.ports {
            let pk: PortKey = (key.clone(), p.protocol.ip_proto(), p.svc_port);
            let mut id = preferred_group_id(&sv.key, p);
            while self.group_keys.contains_key(&id) {
                id = if id >= 0x7fff_ffff { 1 } else { id + 1 };
            }
            self.group_keys.insert(id, pk.clone());
            self.group_ids.insert(pk, id);
        }
        if let Some(n) = self.networks.get(&sv.network) {
            let t = n.tenant_id;
            self.dirty.insert(Owner::ExternalTenant(t));
        }
        self.services.insert(key.clone(), sv);
        self.mark_service(&key);
    }

    /// Removes a service (and its groups).
    pub fn remove_service(&mut self, key: &str) {
        let Some((k, sv)) = self.services.remove_entry(key) else {
            return;
        };
        for b in &sv.backends {
            if let Some(s) = self.backend_of.get_mut(b) {
                s.remove(&k);
                if s.is_empty() {
                    self.backend_of.remove(b);
                }
            }
        }
        let ids: Vec<(PortKey, u32)> = self
            .group_ids
            .range((k.clone(), 0, 0)..=(k.clone(), u8::MAX, u16::MAX))
            .map(|(pk, g)| (pk.clone(), *g))
            .collect();
        for (pk, g) in ids {
            self.group_ids.remove(&pk);
            self.group_keys.remove(&g);
            self.groups_dirty.insert(g);
        }
        self.dirty.insert(Owner::Service(k));
    }

    /// The backends of `sv` this pipeline can reach (known endpoints on
    /// its network with an IPv4 address), in the service's order.
    fn backend_addrs(&self, sv: &ServiceSpec) -> Vec<BackendAddr> {
        sv.backends
            .iter()
            .filter_map(|id| {
                if let Some(e) = self.locals.get(id.as_str()) {
                    (e.ep.network == sv.network && e.ofport.is_some())
                        .then_some(())
                        .and(e.ep.ipv4.map(|a| BackendAddr {
                            ip: a.addr(),
                            mac: crate::openflow::wire::MacAddr(e.ep.mac.octets()),
                        }))
                } else {
                    let e = self.remotes.get(id.as_str())?;
                    (e.network == sv.network).then_some(())?;
                    e.ipv4.map(|ip| BackendAddr {
                        ip,
                        mac: crate::openflow::wire::MacAddr(e.mac.octets()),
                    })
                }
            })
            .collect()
    }

    /// The group `id` should be, if any.
    fn group_spec(&self, id: u32) -> Option<GroupSpec> {
        let (key, proto, port) = self.group_keys.get(&id)?;
        let sv = self.services.get(key)?;
        let p = sv
            .ports
            .iter()
            .find(|p| p.protocol.ip_proto() == *proto && p.svc_port == *port)?;
        Some(service_group(p, &self.backend_addrs(sv)))
    }

    /// The groups changed since the last call (compute them after
    /// [`Pipeline::flush`]).
    pub fn take_group_changes(&mut self) -> GroupChanges {
        let mut out = GroupChanges::default();
        for id in std::mem::take(&mut self.groups_dirty) {
            match self.group_spec(id) {
                Some(g) => {
                    let before = self.groups_flushed.get(&id);
                    if before != Some(&g) {
                        out.upserts.push((id, g.clone(), before.is_none()));
                        self.groups_flushed.insert(id, g.clone());
                    }
                    self.groups.insert(id, g);
                }
                None => {
                    self.groups.remove(&id);
                    if self.groups_flushed.remove(&id).is_some() {
                        out.deletes.push(id);
                    }
                }
            }
        }
        out
    }

    /// Every group the switch should hold (as of the last
    /// [`Pipeline::take_group_changes`]).
    pub fn groups(&self) -> &BTreeMap<u32, GroupSpec> {
        &self.groups
    }

    /// Forgets what was flushed: the next [`Pipeline::take_group_changes`]
    /// after [`Pipeline::mark_all_groups`] reports every group as new (a
    /// resync compares them with the switch itself).
    pub fn mark_all_groups(&mut self) {
        self.groups_flushed.clear();
        let ids: Vec<u32> = self.group_keys.keys().copied().collect();
        self.groups_dirty.extend(ids);
    }

    /// Number of services.
    pub fn service_count(&self) -> usize {
        self.services.len()
    }

    fn routing(&self) -> bool {
        self.global.fwd_mode == FwdMode::Routing
    }

    /// Sets (or with `None` removes) the host's router on the fabric and
    /// its port; removing it removes every route.
    pub fn set_fabric(&mut self, f: Option<FabricSpec>, router_port: Option<u32>) {
        if f.is_none() {
            let routes: Vec<Ipv4Net> = self.routes.keys().copied().collect();
            for p in routes {
                self.remove_route(p);
            }
        }
        if self.fabric == f && self.router_port == router_port {
            return;
        }
        self.fabric = f;
        self.router_port = router_port;
        self.mark_fabric();
    }

    fn mark_fabric(&mut self) {
        self.dirty.insert(Owner::Fabric);
        self.dirty
            .extend(self.routes.keys().map(|p| Owner::Route(*p)));
    }

    /// Adds or replaces an external route.
    pub fn upsert_route(&mut self, r: ExternalRoute) {
        if self.routes.insert(r.prefix, r) != Some(r) {
            self.dirty.insert(Owner::Route(r.prefix));
        }
    }

    /// Removes an external route.
    pub fn remove_route(&mut self, prefix: Ipv4Net) {
        if self.routes.remove(&prefix).is_some() {
            self.dirty.insert(Owner::Route(prefix));
        }
    }

    /// Sets (or with `None` forgets) the MAC of a next hop; routes through
    /// it get flows only while it is known.
    pub fn set_next_hop_mac(&mut self, ip: Ipv4Addr, mac: Option<MacAddr>) {
        let changed = match mac {
            Some(m) => self.next_hops.insert(ip, m) != Some(m),
            None => self.next_hops.remove(&ip).is_some(),
        };
        if changed {
            let affected: Vec<Ipv4Net> = self
                .routes
                .values()
                .filter(|r| r.next_hop == ip)
                .map(|r| r.prefix)
                .collect();
            self.dirty.extend(affected.into_iter().map(Owner::Route));
        }
    }

    /// The next hops of the routes whose MAC is not known.
    pub fn unresolved_next_hops(&self) -> BTreeSet<Ipv4Addr> {
        self.routes
            .values()
            .map(|r| r.next_hop)
            .filter(|ip| !self.next_hops.contains_key(ip))
            .collect()
    }

    fn mark_all_endpoints(&mut self) {
        let locals: Vec<Owner> = self
            .locals
            .keys()
            .map(|k| Owner::Local(k.clone()))
            .collect();
        let remotes: Vec<Owner> = self
            .remotes
            .keys()
            .map(|k| Owner::Remote(k.clone()))
            .collect();
        self.dirty.extend(locals);
        self.dirty.extend(remotes);
    }

    /// Adds or replaces a network.
    pub fn upsert_network(&mut self, n: NetworkSpec) {
        let key = n.key.clone();
        let locals: Vec<Arc<str>> = self
            .net_locals
            .get(&key)
            .map(|s| s.iter().cloned().collect())
            .unwrap_or_default();
        for id in &locals {
            self.reindex_local(id, -1);
        }
        if let Some(old) = self.networks.get(&key) {
            self.dirty.insert(Owner::ExternalTenant(old.tenant_id));
        }
        self.dirty.insert(Owner::ExternalTenant(n.tenant_id));
        self.dirty.insert(Owner::External);
        self.networks.insert(key.clone(), n);
        for id in &locals {
            self.reindex_local(id, 1);
        }
        self.mark_network(&key);
    }

    /// Removes a network (endpoints still on it keep their state but get no
    /// flows until it comes back).
    pub fn remove_network(&mut self, key: &str) {
        let locals: Vec<Arc<str>> = self
            .net_locals
            .get(key)
            .map(|s| s.iter().cloned().collect())
            .unwrap_or_default();
        for id in &locals {
            self.reindex_local(id, -1);
        }
        if let Some(old) = self.networks.remove(key) {
            self.dirty.insert(Owner::ExternalTenant(old.tenant_id));
            self.dirty.insert(Owner::External);
        }
        self.mark_network(key);
    }

    fn mark_network(&mut self, key: &str) {
        let on_it: Vec<Arc<str>> = self
            .services
            .iter()
            .filter(|(_, sv)| sv.network == key)
            .map(|(k, _)| k.clone())
            .collect();
        for k in on_it {
            self.mark_service(&k);
        }
        self.dirty.insert(Owner::Network(Arc::from(key)));
        for id in self.net_locals.get(key).into_iter().flatten() {
            self.dirty.insert(Owner::Local(id.clone()));
        }
        for id in self.net_remotes.get(key).into_iter().flatten() {
            self.dirty.insert(Owner::Remote(id.clone()));
        }
    }

    /// The (tenant, address) pairs a local endpoint makes local.
    fn local_keys(&self, id: &str) -> Vec<(TenantId, IpAddr)> {
        let Some(e) = self.locals.get(id) else {
            return Vec::new();
        };
        let Some(n) = self.networks.get(&e.ep.network) else {
            return Vec::new();
        };
        e.ep.ipv4
            .map(|a| IpAddr::V4(a.addr()))
            .into_iter()
            .chain(e.ep.ipv6.map(|a| IpAddr::V6(a.addr())))
            .map(|ip| (n.tenant_id, ip))
            .collect()
    }

    /// Adds (`+1`) or removes (`-1`) a local endpoint's addresses from the
    /// "local address" index; memberships whose locality flips get dirty.
    fn reindex_local(&mut self, id: &str, delta: i32) {
        for k in self.local_keys(id) {
            let c = self.local_ips.entry(k).or_insert(0);
            let before = *c > 0;
            if delta > 0 {
                *c += 1;
            } else {
                *c = c.saturating_sub(1);
            }
            let after = *c > 0;
            if *c == 0 {
                self.local_ips.remove(&k);
            }
            if before != after {
                self.dirty.insert(Owner::Member(k.0, k.1));
            }
        }
    }

    /// Adds or replaces a local endpoint; `ofport` is its switch port
    /// (`None` while the port is not up: no flows yet).
    pub fn upsert_local(&mut self, ep: LocalEndpoint, ofport: Option<u32>) {
        let id: Arc<str> = Arc::from(ep.id.as_str());
        self.remove_remote(&ep.id);
        if let Some(old) = self.locals.get(&id) {
            if old.ep == ep && old.ofport == ofport {
                return;
            }
            let old_net = old.ep.network.clone();
            self.reindex_local(&id, -1);
            if let Some(s) = self.net_locals.get_mut(&old_net) {
                s.remove(&id);
            }
            self.dirty
                .insert(Owner::Network(Arc::from(old_net.as_str())));
        }
        let net = ep.network.clone();
        self.locals.insert(id.clone(), LocalEntry { ep, ofport });
        self.net_locals
            .entry(net.clone())
            .or_default()
            .insert(id.clone());
        self.reindex_local(&id, 1);
        self.dirty.insert(Owner::Network(Arc::from(net.as_str())));
        self.mark_services_of(&id);
        self.dirty.insert(Owner::Local(id));
    }

    /// Removes a local endpoint.
    pub fn remove_local(&mut self, id: &str) {
        if !self.locals.contains_key(id) {
            return;
        }
        self.reindex_local(id, -1);
        if let Some(e) = self.locals.remove(id) {
            if let Some(s) = self.net_locals.get_mut(&e.ep.network) {
                s.remove(id);
            }
            self.dirty
                .insert(Owner::Network(Arc::from(e.ep.network.as_str())));
        }
        self.mark_services_of(id);
        self.dirty.insert(Owner::Local(Arc::from(id)));
    }

    /// Adds or replaces a remote endpoint.
    pub fn upsert_remote(&mut self, ep: RemoteEndpoint) {
        if self.locals.contains_key(ep.id.as_str()) {
            self.remove_local(&ep.id);
        }
        let id: Arc<str> = Arc::from(ep.id.as_str());
        if let Some(old) = self.remotes.get(&id) {
            if *old == ep {
                return;
            }
            let (n, v) = (old.network.clone(), old.vtep);
            self.unindex_remote(&id, &n, v);
        }
        self.net_remotes
            .entry(ep.network.clone())
            .or_default()
            .insert(id.clone());
        self.vtep_remotes
            .entry(ep.vtep)
            .or_default()
            .insert(id.clone());
        self.remotes.insert(id.clone(), ep);
        self.mark_services_of(&id);
        self.dirty.insert(Owner::Remote(id));
    }

    fn unindex_remote(&mut self, id: &Arc<str>, network: &str, vtep: IpAddr) {
        if let Some(s) = self.net_remotes.get_mut(network) {
            s.remove(id);
        }
        if let Some(s) = self.vtep_remotes.get_mut(&vtep) {
            s.remove(id);
        }
    }

    /// Removes a remote endpoint.
    pub fn remove_remote(&mut self, id: &str) {
        let Some((k, e)) = self.remotes.remove_entry(id) else {
            return;
        };
        self.unindex_remote(&k, &e.network, e.vtep);
        self.mark_services_of(&k);
        self.dirty.insert(Owner::Remote(k));
    }

    /// Sets (or with `None` removes) the VXLAN port of peer `ip`.
    pub fn set_peer_port(&mut self, ip: IpAddr, ofport: Option<u32>) {
        let changed = match ofport {
            Some(p) => self.peers.insert(ip, p) != Some(p),
            None => self.peers.remove(&ip).is_some(),
        };
        if !changed {
            return;
        }
        let vx: Vec<String> = self
            .networks
            .values()
            .filter(|n| n.encap == Encap::Vxlan)
            .map(|n| n.key.clone())
            .collect();
        for k in vx {
            self.dirty.insert(Owner::Network(Arc::from(k.as_str())));
        }
        for id in self.vtep_remotes.get(&ip).into_iter().flatten() {
            self.dirty.insert(Owner::Remote(id.clone()));
        }
    }

    /// Sets the VLAN uplink's ofport.
    pub fn set_uplink(&mut self, ofport: Option<u32>) {
        if self.uplink == ofport {
            return;
        }
        self.uplink = ofport;
        self.mark_fabric();
        let vl: Vec<String> = self
            .networks
            .values()
            .filter(|n| n.encap == Encap::Vlan)
            .map(|n| n.key.clone())
            .collect();
        for k in vl {
            self.mark_network(&k);
        }
    }

    /// Replaces the whole policy (rules, address sets, memberships) in one
    /// pass — the fast path for a full compile.
    pub fn load_policy(&mut self, ir: &PolicyIr) {
        let old: Vec<(TenantId, IpAddr)> = self.members.keys().copied().collect();
        for (t, ip) in old {
            if !ir.members.contains_key(&(t, ip)) {
                self.members.remove(&(t, ip));
                self.dirty.insert(Owner::Member(t, ip));
            }
        }
        for (&(t, ip), &epg) in &ir.members {
            if self.members.insert((t, ip), epg) != Some(epg) {
                self.dirty.insert(Owner::Member(t, ip));
            }
        }
        self.policy.load(ir);
    }

    /// Applies a policy delta (memberships, rules, address sets).
    pub fn apply_policy(&mut self, d: &PolicyDelta) {
        for m in &d.members_removed {
            if self.members.get(&(m.tenant, m.ip)) == Some(&m.epg) {
                self.members.remove(&(m.tenant, m.ip));
                self.dirty.insert(Owner::Member(m.tenant, m.ip));
            }
        }
        for m in &d.members_added {
            if self.members.insert((m.tenant, m.ip), m.epg) != Some(m.epg) {
                self.dirty.insert(Owner::Member(m.tenant, m.ip));
            }
        }
        self.policy.apply(d);
    }

    // ---- compilation ---------------------------------------------------

    fn owner_flows(&self, owner: &Owner) -> Vec<(super::flow::FlowKey, super::flow_table::Body)> {
        match owner {
            Owner::Base => {
                let mut v = base_flows();
                v.extend(routing::base_flows());
                v
            }
            Owner::Network(key) => {
                let Some(n) = self.networks.get(key.as_ref()) else {
                    return Vec::new();
                };
                let mut ports: Vec<u32> = self
                    .net_locals
                    .get(key.as_ref())
                    .into_iter()
                    .flatten()
                    .filter_map(|id| self.locals.get(id).and_then(|e| e.ofport))
                    .collect();
                ports.sort_unstable();
                ports.dedup();
                let peers: Vec<u32> = self.peers.values().copied().collect();
                let mut v = network_flows(n, &ports, &peers, self.uplink);
                if self.routing() {
                    v.extend(routing::network_flows(n, network_cookie(&n.key)));
                }
                if self.host_port.is_some() {
                    v.extend(super::nat::network_flows(n, network_cookie(&n.key)));
                    if self.routing() {
                        v.extend(routing::external_flows(n, network_cookie(&n.key)));
                    }
                }
                v
            }
            Owner::Local(id) => {
                let Some(e) = self.locals.get(id) else {
                    return Vec::new();
                };
                match (self.networks.get(&e.ep.network), e.ofport) {
                    (Some(n), Some(p)) => {
                        let mut v = local_endpoint_flows(&e.ep, n, p, self.global.arp_mode);
                        let c = super::forwarding::local_cookie(&e.ep.id);
                        if self.routing() {
                            v.extend(routing::local_flows(&e.ep, n, p, c));
                        }
                        if let Some(hp) = self.host_port {
                            v.extend(super::nat::endpoint_flows(
                                &e.ep,
                                n,
                                self.global.private_subnet,
                                hp,
                                c,
                            ));
                        }
                        v
                    }
                    _ => Vec::new(),
                }
            }
            Owner::Remote(id) => {
                let Some(e) = self.remotes.get(id) else {
                    return Vec::new();
                };
                let Some(n) = self.networks.get(&e.network) else {
                    return Vec::new();
                };
                let out = match n.encap {
                    Encap::Vxlan => self.peers.get(&e.vtep).map(|p| RemoteOut::Tunnel(*p)),
                    Encap::Vlan => self.uplink.map(RemoteOut::Uplink),
                };
                let Some(o) = out else {
                    return Vec::new();
                };
                let mut v = remote_endpoint_flows(e, n, o, self.global.arp_mode);
                if self.routing()
                    && let Some(deliver) = remote_delivery(n, o)
                {
                    let c = super::forwarding::remote_cookie(&e.id);
                    v.extend(routing::remote_flows(e, n, &deliver, c));
                }
                v
            }
            Owner::Member(t, ip) => match self.members.get(&(*t, *ip)) {
                Some(&epg) if epg != NO_EPG => {
                    membership_flows(*t, *ip, epg, self.local_ips.contains_key(&(*t, *ip)))
                }
                _ => Vec::new(),
            },
            Owner::Group(c) => self.policy.group_flows(*c),
            Owner::Fabric => match (&self.fabric, self.router_port, self.uplink) {
                (Some(f), Some(r), Some(u)) => routing::fabric_flows(f, r, u),
                _ => Vec::new(),
            },
            Owner::Route(p) => {
                let (Some(r), Some(f), Some(u)) = (self.routes.get(p), &self.fabric, self.uplink)
                else {
                    return Vec::new();
                };
                match self.next_hops.get(&r.next_hop) {
                    Some(mac) => routing::route_flows(r, f, *mac, u),
                    None => Vec::new(),
                }
            }
            Owner::Service(key) => {
                let Some(sv) = self.services.get(key) else {
                    return Vec::new();
                };
                let Some(n) = self.networks.get(&sv.network) else {
                    return Vec::new();
                };
                let groups: Vec<u32> = sv
                    .ports
                    .iter()
                    .filter_map(|p| {
                        self.group_ids
                            .get(&(key.clone(), p.protocol.ip_proto(), p.svc_port))
                            .copied()
                    })
                    .collect();
                service_flows(sv, n, &self.backend_addrs(sv), &groups)
            }
            Owner::External => match self.host_port {
                Some(hp) if self.needs_host_port() => {
                    super::nat::host_port_flows(self.global.private_subnet, hp)
                }
                _ => Vec::new(),
            },
            Owner::ExternalTenant(t) => match self.host_port {
                Some(hp)
                    if self
                        .networks
                        .values()
                        .any(|n| n.tenant_id == *t && n.external) =>
                {
                    super::nat::tenant_flows(*t, self.global.private_subnet, hp)
                }
                _ => Vec::new(),
            },
        }
    }

    /// Recomputes what changed since the last call and returns the flow
    /// changes (empty when the flows are what they were).
    pub fn flush(&mut self) -> Vec<FlowChange> {
        let dirty = std::mem::take(&mut self.dirty);
        for owner in dirty {
            let flows = self.owner_flows(&owner);
            self.table.replace(&owner, flows);
        }
        let (dirty, all) = self.policy.take_dirty_all();
        for c in dirty {
            if all && self.policy.has_group(c) {
                continue; // done below
            }
            let owner = Owner::Group(c);
            let flows = self.owner_flows(&owner);
            self.table.replace(&owner, flows);
        }
        if all {
            let table = &mut self.table;
            self.policy
                .each_group_flows(|c, flows| table.replace(&Owner::Group(c), flows));
        }
        self.table.take_changes()
    }

    // ---- inspection ----------------------------------------------------

    /// Number of flows (as of the last flush).
    pub fn flow_count(&self) -> usize {
        self.table.len()
    }

    /// Every flow, sorted by table, descending priority, then text.
    pub fn flows(&self) -> Vec<Flow> {
        let mut v: Vec<(String, Flow)> = self.table.flows().map(|f| (f.to_string(), f)).collect();
        v.sort_by(|a, b| {
            (a.1.key.table, std::cmp::Reverse(a.1.key.priority), &a.0).cmp(&(
                b.1.key.table,
                std::cmp::Reverse(b.1.key.priority),
                &b.0,
            ))
        });
        v.into_iter().map(|(_, f)| f).collect()
    }

    /// Every flow, unsorted (cheap).
    pub fn flows_unordered(&self) -> impl Iterator<Item = Flow> + '_ {
        self.table.flows()
    }

    /// The flow table (for lookups by key).
    pub fn table(&self) -> &FlowTable {
        &self.table
    }

    /// Number of rule groups the policy lowered to.
    pub fn rule_group_count(&self) -> usize {
        self.policy.group_count()
    }

    /// The flows of one owner.
    pub fn flows_of(&self, owner: &Owner) -> Vec<Flow> {
        self.table.flows_of(owner)
    }
}
