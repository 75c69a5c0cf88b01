//! The datapath's state and how each operation changes it: the host state
//! as told, the interfaces and attachments realised for it, each object's
//! map entries, the rule and flood lists marked for rewriting.

use super::EbpfDatapath;
use crate::abi::{self, IpKey, ListKey};
use crate::compile::{self, Contrib, RuleOrder};
use crate::config::EbpfConfig;
use crate::kernel::attach::{self, Hook};
use crate::kernel::load::Programs;
use crate::kernel::maps::Maps;
use crate::plumbing::Devices;
use crate::sets::{SetIds, name_hash};
use crate::sync::Tables;
use crate::tables::Counts;
use contiv_core::datapath::{
    ArpMode, Attachment, DpError, DpOp, DpResult, Encap, GlobalSpec, HostState, LocalEndpoint,
    NetworkSpec, check_claimed, check_network,
};
use contiv_core::ir::{AddrSetId, RuleId, TenantId};
use contiv_core::linux::host_port;
use contiv_core::linux::{Netns, shaping};
use std::collections::{BTreeMap, HashMap, HashSet};
use std::net::IpAddr;
use std::path::PathBuf;

/// An object that puts entries in the maps.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub enum Obj {
    /// A network (by key).
    Network(String),
    /// A local endpoint (by id).
    Local(String),
    /// A remote endpoint (by id).
    Remote(String),
    /// A membership.
    Member(TenantId, IpAddr),
    /// An address set.
    Set(AddrSetId),
    /// A rule (its counters).
    Rule(RuleId),
    /// The subnets never reached through the host port.
    Internal,
    /// A service (by key).
    Service(String),
}

/// A local endpoint's realised host side.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct HostSide {
    /// Its ifindex.
    pub ifindex: u32,
    /// The datapath created it.
    pub owned: bool,
}

/// Counters of what the datapath did.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct EbpfStats {
    /// Map entries written (puts, list entries and heads).
    pub map_writes: u64,
    /// Map entries deleted.
    pub map_deletes: u64,
    /// Classifier attachments created.
    pub attaches: u64,
    /// Resyncs completed.
    pub resyncs: u64,
}

/// The mutable heart of the datapath.
pub struct Inner {
    pub(crate) maps: Maps,
    pub(crate) progs: Programs,
    pub(crate) devices: Devices,
    pub(crate) ns: Netns,
    pub(crate) links: PathBuf,
    pub(crate) state: HostState,
    pub(crate) sides: HashMap<String, HostSide>,
    pub(crate) contribs: HashMap<Obj, Contrib>,
    pub(crate) tables: Tables,
    pub(crate) sets: SetIds,
    pub(crate) groups: HashMap<ListKey, BTreeMap<RuleOrder, RuleId>>,
    pub(crate) dirty_groups: HashSet<ListKey>,
    pub(crate) dirty_floods: HashSet<u32>,
    pub(crate) dirty_vteps: bool,
    /// Services' backend slots must be recomputed (a service or an
    /// endpoint changed).
    pub(crate) dirty_services: bool,
    pub(crate) vxlan_ifindex: u32,
    pub(crate) uplink_ifindex: u32,
    pub(crate) config: abi::Config,
    pub(crate) stats: EbpfStats,
    /// The datapath's end of the host port (0: none).
    pub(crate) host_ifindex: u32,
    /// The MAC of the host's end of the host port.
    pub(crate) host_mac: [u8; 6],
    /// What the host side (port, routes, NAT table) was last made.
    pub(crate) host: host_port::Applied,
}

/// Whether two versions of a local endpoint need different interfaces.
pub fn replumb_needed(a: &LocalEndpoint, b: &LocalEndpoint) -> bool {
    a.host_ifname != b.host_ifname
        || a.attachment != b.attachment
        || a.mac != b.mac
        || a.ipv4 != b.ipv4
        || a.ipv6 != b.ipv6
        || a.mtu != b.mtu
        || a.network != b.network
}

fn plumb_err(e: String) -> DpError {
    DpError::Plumbing(e)
}

/// Logs when local endpoint `ep` has external access and an address
/// another one with external access has (tenants may overlap): the host
/// has one route per address, so only one of them (the last written)
/// reaches the outside; the other's packets to the outside are dropped,
/// never delivered to the wrong tenant.
fn warn_shared_address(state: &HostState, ep: &LocalEndpoint) {
    let external = |e: &LocalEndpoint| state.networks.get(&e.network).is_some_and(|n| n.external);
    let Some(a) = ep.ipv4.filter(|_| external(ep)) else {
        return;
    };
    for o in state.local.values() {
        if o.id != ep.id && o.ipv4.map(|b| b.addr()) == Some(a.addr()) && external(o) {
            tracing::warn!(
                address = %a.addr(),
                endpoints = %format!("{}, {}", o.id, ep.id),
                "two endpoints with external access share an address: only one of them reaches the outside"
            );
        }
    }
}

/// Checks the global settings this backend realises (`routing` needs
/// [`Capability::Routing`](contiv_core::datapath::Capability::Routing),
/// which this backend does not claim).
pub fn check_global(g: &GlobalSpec) -> DpResult<()> {
    match g.refusal("eBPF", &EbpfDatapath::CAPABILITIES) {
        Some(m) => Err(DpError::Unsupported(m)),
        None => Ok(()),
    }
}

impl Inner {
    /// The config entry the state asks for.
    pub fn wanted_config(&self, cfg: &EbpfConfig) -> abi::Config {
        let t = &cfg.conntrack;
        let services = if self.state.services.is_empty() {
            0
        } else {
            crate::service::CFG_SERVICES
        };
        abi::Config {
            flags: services
                | if self.state.global.arp_mode == ArpMode::Proxy {
                    abi::CFG_ARP_PROXY
                } else {
                    0
                },
            vxlan_ifindex: self.vxlan_ifindex,
            uplink_ifindex: self.uplink_ifindex,
            ct_tcp_syn: t.tcp_syn.as_secs().max(1) as u32,
            ct_tcp_est: t.tcp_established.as_secs().max(1) as u32,
            ct_tcp_close: t.tcp_closing.as_secs().max(1) as u32,
            ct_udp: t.udp.as_secs().max(1) as u32,
            ct_other: t.other.as_secs().max(1) as u32,
            host_ifindex: self.host_ifindex,
            host_mac: if self.host_ifindex == 0 {
                [0; 6]
            } else {
                self.host_mac
            },
            pad: [0; 2],
        }
    }

    /// The `SET_INTERNAL` entries of the state.
    fn internal_contrib(&self) -> Contrib {
        compile::internal_contrib(
            self.state
                .networks
                .values()
                .filter_map(|n| n.subnet)
                .chain([self.state.global.private_subnet]),
        )
    }

    fn refresh_internal(&mut self) {
        let c = self.internal_contrib();
        self.set_contrib(Obj::Internal, c);
    }

    /// Makes the host port, its routes, the NAT table and the `from_host`
    /// attachment what the state needs (all removed when no network has
    /// external access). `force`: read everything back (resync), else
    /// trust what was last made.
    pub(crate) async fn converge_host(
        &mut self,
        cfg: &EbpfConfig,
        force: bool,
    ) -> DpResult<host_port::Writes> {
        let port = cfg.host_port();
        let wanted = host_port::wanted(&self.state);
        if force {
            self.host = host_port::Applied::default();
        } else if !wanted && self.host_ifindex == 0 {
            return Ok(host_port::Writes::default());
        }
        let host_err = |e: contiv_core::linux::PlumbError| plumb_err(e.to_string());
        let before = self.host_ifindex;
        let masquerade = host_port::external_subnets(&self.state);
        let mut w = host_port::converge(&port, &self.state, masquerade, &mut self.host)
            .await
            .map_err(host_err)?;
        let mut keep = 0;
        if wanted {
            self.host_mac = host_port::host_mac(self.state.global.private_subnet).0;
            if force || self.host_ifindex == 0 {
                let idx = self
                    .devices
                    .index_of(&port.peer)
                    .await
                    .map_err(plumb_err)?
                    .ok_or_else(|| plumb_err(format!("the host port {} vanished", port.peer)))?;
                let p = &mut self.progs.host;
                if attach::ensure(
                    &self.ns,
                    &mut p.prog,
                    p.id,
                    &self.links,
                    Hook::Host,
                    &port.peer,
                    idx,
                )? {
                    self.stats.attaches += 1;
                    w.added += 1;
                }
                self.host_ifindex = idx;
            }
            keep = self.host_ifindex;
        } else {
            w.removed += host_port::remove(&port).await.map_err(host_err)?;
            self.host_ifindex = 0;
        }
        // Stale `from_host` attachments can only exist after a restart
        // (read back by a forced converge) or when the port changed: not
        // worth a scan of every pinned link on each batch.
        if force || self.host_ifindex != before {
            for a in attach::list(&self.links)? {
                if a.hook == Hook::Host && a.ifindex != keep {
                    attach::remove(&self.links, a)?;
                    w.removed += 1;
                }
            }
        }
        Ok(w)
    }

    pub(crate) fn set_contrib(&mut self, obj: Obj, new: Contrib) {
        let old = self.contribs.remove(&obj).unwrap_or_default();
        self.tables.apply(&old, &new);
        if new != Contrib::default() {
            self.contribs.insert(obj, new);
        }
    }

    fn local_contrib(&self, ep: &LocalEndpoint) -> Contrib {
        match (self.state.networks.get(&ep.network), self.sides.get(&ep.id)) {
            (Some(n), Some(s)) => compile::local_contrib(ep, n, s.ifindex, s.owned),
            _ => Contrib::default(),
        }
    }

    /// Recomputes the entries of every endpoint on network `key`.
    fn refresh_endpoints_of(&mut self, key: &str) {
        let locals: Vec<LocalEndpoint> = self
            .state
            .local
            .values()
            .filter(|e| e.network == key)
            .cloned()
            .collect();
        for e in locals {
            let c = self.local_contrib(&e);
            self.set_contrib(Obj::Local(e.id.clone()), c);
        }
        let remotes: Vec<_> = self
            .state
            .remote
            .values()
            .filter(|e| e.network == key)
            .cloned()
            .collect();
        for e in remotes {
            let c = match self.state.networks.get(key) {
                Some(n) => compile::remote_contrib(&e, n),
                None => Contrib::default(),
            };
            self.set_contrib(Obj::Remote(e.id.clone()), c);
        }
    }

    /// Attaches `from_endpoint` to a local endpoint's host side.
    pub(crate) async fn attach_endpoint(&mut self, ifindex: u32) -> DpResult<bool> {
        let p = &self.progs.endpoint;
        let made =
            attach::ensure_endpoint(self.devices.netlink(), &p.prog, p.id, &self.links, ifindex)
                .await?;
        if made {
            self.stats.attaches += 1;
        }
        Ok(made)
    }

    /// Removes local endpoint `id`: unplumbed, and (`forget`: it is gone,
    /// not about to be re-plumbed) out of every service and published port,
    /// as the contract's cascade says.
    async fn remove_local(&mut self, id: &str, forget: bool) -> DpResult<()> {
        let Some(ep) = self.state.local.get(id).cloned() else {
            return Ok(());
        };
        self.set_contrib(Obj::Local(id.to_owned()), Contrib::default());
        if let Some(n) = self.state.networks.get(&ep.network) {
            self.dirty_floods.insert(compile::net_tag(n));
        }
        if let Some(s) = self.sides.remove(id) {
            attach::remove_endpoint(self.devices.netlink(), &self.links, s.ifindex, s.owned)
                .await?;
        }
        self.devices.remove_endpoint(&ep).await.map_err(plumb_err)?;
        if !Inner::owns(&ep) && shaping::reshape_needed(Some(&ep), &ep) {
            // An interface the datapath did not make stays: its shaper goes.
            let bare = LocalEndpoint { qos: None, ..ep };
            shaping::converge_endpoint(&self.ns, &bare)
                .await
                .map_err(|e| plumb_err(e.to_string()))?;
        }
        if forget {
            self.state.forget_endpoint(id);
        } else {
            self.state.local.remove(id);
        }
        Ok(())
    }

    async fn add_local(&mut self, ep: LocalEndpoint) -> DpResult<()> {
        self.state.check_local(&ep)?;
        let net = self
            .state
            .networks
            .get(&ep.network)
            .cloned()
            .ok_or_else(|| DpError::InvalidArgument(format!("unknown network {}", ep.network)))?;
        if let Some(old) = self.state.local.get(&ep.id) {
            if *old == ep && self.sides.contains_key(&ep.id) {
                return Ok(());
            }
            if replumb_needed(old, &ep) {
                let id = ep.id.clone();
                self.remove_local(&id, false).await?;
            }
        }
        if self.state.remote.contains_key(&ep.id) {
            self.state.forget_endpoint(&ep.id);
            self.set_contrib(Obj::Remote(ep.id.clone()), Contrib::default());
            self.dirty_vteps = true;
        }
        let (ifindex, owned) = self
            .devices
            .ensure_endpoint(&ep, &net)
            .await
            .map_err(plumb_err)?;
        let mut shaped = Ok(0);
        if shaping::reshape_needed(self.state.local.get(&ep.id), &ep) {
            shaped = shaping::converge_endpoint(&self.ns, &ep)
                .await
                .map_err(|e| plumb_err(e.to_string()));
        }
        let attached = match shaped {
            Ok(_) => self.attach_endpoint(ifindex).await,
            Err(e) => Err(e),
        };
        if let Err(e) = attached {
            // Do not leave a veth nobody owns.
            if owned {
                let _ = self.devices.remove_endpoint(&ep).await;
            }
            return Err(e);
        }
        self.sides
            .insert(ep.id.clone(), HostSide { ifindex, owned });
        self.dirty_floods.insert(compile::net_tag(&net));
        self.state.local.insert(ep.id.clone(), ep.clone());
        warn_shared_address(&self.state, &ep);
        let c = self.local_contrib(&ep);
        self.set_contrib(Obj::Local(ep.id.clone()), c);
        Ok(())
    }

    fn mark_vxlan_floods(&mut self) {
        for n in self.state.networks.values() {
            if n.encap == Encap::Vxlan {
                self.dirty_floods.insert(compile::net_tag(n));
            }
        }
    }

    /// Applies one operation to the state and the wanted tables (the
    /// kernel is written by [`Inner::flush`]).
    pub async fn apply_op(&mut self, op: DpOp) -> DpResult<()> {
        // A fabric router and routes learned from it are not realised
        // here (no `routed_uplink`): refused, never accepted silently.
        check_claimed(&op, "eBPF", &EbpfDatapath::CAPABILITIES)?;
        if !matches!(op, DpOp::Policy(_) | DpOp::AddPeer(_) | DpOp::RemovePeer(_)) {
            self.dirty_services = true;
        }
        match op {
            DpOp::SetGlobal(g) => {
                check_global(&g)?;
                self.state.global = g;
                self.refresh_internal();
            }
            DpOp::AddNetwork(n) => self.add_network(n).await?,
            DpOp::RemoveNetwork(key) => {
                let locals: Vec<String> = self
                    .state
                    .local
                    .values()
                    .filter(|e| e.network == key)
                    .map(|e| e.id.clone())
                    .collect();
                for id in locals {
                    self.remove_local(&id, true).await?;
                }
                let remotes: Vec<String> = self
                    .state
                    .remote
                    .values()
                    .filter(|e| e.network == key)
                    .map(|e| e.id.clone())
                    .collect();
                for id in remotes {
                    self.set_contrib(Obj::Remote(id.clone()), Contrib::default());
                    self.state.forget_endpoint(&id);
                    self.dirty_vteps = true;
                }
                self.state.services.retain(|_, sv| sv.network != key);
                if let Some(n) = self.state.networks.remove(&key) {
                    self.dirty_floods.insert(compile::net_tag(&n));
                }
                self.set_contrib(Obj::Network(key), Contrib::default());
                self.refresh_internal();
            }
            DpOp::AddLocalEndpoint(e) => self.add_local(e).await?,
            DpOp::RemoveLocalEndpoint(id) => self.remove_local(&id, true).await?,
            DpOp::AddRemoteEndpoint(e) => {
                self.state.check_remote(&e)?;
                if self.state.local.contains_key(&e.id) {
                    let id = e.id.clone();
                    self.remove_local(&id, true).await?;
                }
                let c = match self.state.networks.get(&e.network) {
                    Some(n) => compile::remote_contrib(&e, n),
                    None => Contrib::default(),
                };
                self.set_contrib(Obj::Remote(e.id.clone()), c);
                self.state.remote.insert(e.id.clone(), e);
                self.dirty_vteps = true;
            }
            DpOp::RemoveRemoteEndpoint(id) => {
                if self.state.remote.contains_key(&id) {
                    self.state.forget_endpoint(&id);
                    self.set_contrib(Obj::Remote(id), Contrib::default());
                    self.dirty_vteps = true;
                }
            }
            DpOp::AddPeer(p) => {
                if self.state.peers.insert(p.ip, p).is_none() {
                    self.dirty_vteps = true;
                    self.mark_vxlan_floods();
                }
            }
            DpOp::RemovePeer(ip) => {
                if self.state.peers.remove(&ip).is_some() {
                    self.dirty_vteps = true;
                    self.mark_vxlan_floods();
                }
            }
            DpOp::Policy(d) => {
                self.state.check_delta(&d)?;
                self.apply_policy(&d);
                self.state.policy.apply(&d);
            }
            // Realised from the state at the next flush (service.rs).
            DpOp::AddService(sv) => {
                crate::service::check(&sv)?;
                self.state.apply(&DpOp::AddService(sv))?;
            }
            op @ DpOp::RemoveService(_) => self.state.apply(&op)?,
            // The host's NAT table follows the state (`converge_host`).
            op @ (DpOp::AddPublishedPort(_) | DpOp::RemovePublishedPort(_)) => {
                self.state.apply(&op)?
            }
            // Only the removals get here (`check_claimed` refused the
            // rest): nothing was realised, the state forgets them.
            op @ (DpOp::SetFabric(_) | DpOp::AddRoute(_) | DpOp::RemoveRoute(_)) => {
                self.state.apply(&op)?
            }
        }
        Ok(())
    }

    async fn add_network(&mut self, n: NetworkSpec) -> DpResult<()> {
        check_network(&n)?;
        let old = self.state.networks.insert(n.key.clone(), n.clone());
        self.set_contrib(Obj::Network(n.key.clone()), compile::network_contrib(&n));
        self.refresh_internal();
        self.dirty_floods.insert(compile::net_tag(&n));
        if let Some(old) = old {
            if compile::net_tag(&old) != compile::net_tag(&n)
                || old.tenant_id != n.tenant_id
                || old.encap != n.encap
                || old.external != n.external
            {
                self.dirty_floods.insert(compile::net_tag(&old));
                self.refresh_endpoints_of(&n.key);
            }
            if old.gateway != n.gateway || old.gateway6 != n.gateway6 {
                // Routes in the containers follow the gateway.
                let eps: Vec<LocalEndpoint> = self
                    .state
                    .local
                    .values()
                    .filter(|e| e.network == n.key)
                    .cloned()
                    .collect();
                for e in eps {
                    self.devices
                        .ensure_endpoint(&e, &n)
                        .await
                        .map_err(plumb_err)?;
                }
            }
        }
        Ok(())
    }

    fn group_remove(&mut self, id: RuleId) {
        if let Some(r) = self.state.policy.rules.get(&id) {
            let g = compile::rule_group(r);
            let order = compile::rule_order(r);
            if let Some(m) = self.groups.get_mut(&g) {
                m.remove(&order);
                if m.is_empty() {
                    self.groups.remove(&g);
                }
            }
            self.dirty_groups.insert(g);
        }
    }

    fn apply_policy(&mut self, d: &contiv_core::ir::PolicyDelta) {
        for id in &d.rules_removed {
            self.group_remove(*id);
            self.set_contrib(Obj::Rule(*id), Contrib::default());
        }
        for s in &d.sets_removed {
            self.set_contrib(Obj::Set(s.clone()), Contrib::default());
            self.sets.release(s);
        }
        for m in &d.members_removed {
            if self.state.policy.members.get(&(m.tenant, m.ip)) == Some(&m.epg) {
                self.set_contrib(Obj::Member(m.tenant, m.ip), Contrib::default());
            }
        }
        for r in &d.rules_added {
            self.group_remove(r.id);
            let g = compile::rule_group(r);
            self.groups
                .entry(g)
                .or_default()
                .insert(compile::rule_order(r), r.id);
            self.dirty_groups.insert(g);
            self.set_contrib(Obj::Rule(r.id), compile::rule_contrib(r));
        }
        for s in &d.sets_upserted {
            if let Some(id) = self.sets.assign(&s.id) {
                let c = compile::set_contrib(s, id, name_hash(&s.id.0));
                self.set_contrib(Obj::Set(s.id.clone()), c);
            }
        }
        for m in &d.members_added {
            self.set_contrib(
                Obj::Member(m.tenant, m.ip),
                compile::member_contrib(m.tenant, m.ip, m.epg),
            );
        }
    }

    /// The rule list of group `g` (rules are in `state.policy`).
    fn rule_list(&self, g: &ListKey) -> Vec<abi::Rule> {
        let Some(m) = self.groups.get(g) else {
            return Vec::new();
        };
        let mut v: Vec<abi::Rule> = m
            .values()
            .filter_map(|id| self.state.policy.rules.get(id))
            .filter_map(|r| compile::rule_entry(r, &self.sets))
            .collect();
        v.truncate(abi::MAX_LIST);
        v
    }

    /// The flood list of the network with tag `tag`.
    fn flood_list(&self, tag: u32) -> Vec<abi::Target> {
        let Some(n) = self
            .state
            .networks
            .values()
            .find(|n| compile::net_tag(n) == tag)
        else {
            return Vec::new();
        };
        let locals = self
            .state
            .local
            .values()
            .filter(|e| e.network == n.key)
            .filter_map(|e| self.sides.get(&e.id).map(|s| (s.ifindex, e.mac)));
        compile::flood_list(
            n,
            locals,
            self.state.peers.keys().copied(),
            self.uplink_ifindex != 0,
        )
    }

    fn vteps(&self) -> HashMap<IpKey, u32> {
        self.state
            .peers
            .keys()
            .copied()
            .chain(self.state.remote.values().map(|e| e.vtep))
            .map(|ip| (IpKey::of(ip), 1))
            .collect()
    }

    /// Recomputes every service's entries (backends follow endpoints).
    fn refresh_services(&mut self) {
        let gone: Vec<Obj> = self
            .contribs
            .keys()
            .filter(|o| matches!(o, Obj::Service(k) if !self.state.services.contains_key(k)))
            .cloned()
            .collect();
        for o in gone {
            self.set_contrib(o, Contrib::default());
        }
        let svcs: Vec<_> = self.state.services.values().cloned().collect();
        for sv in svcs {
            let c = crate::service::contrib(&sv, &self.state);
            self.set_contrib(Obj::Service(sv.key.clone()), c);
        }
    }

    /// Recomputes the dirty lists and writes every change to the kernel.
    pub fn flush(&mut self, cfg: &EbpfConfig) -> DpResult<Counts> {
        if std::mem::take(&mut self.dirty_services) {
            self.refresh_services();
        }
        for g in std::mem::take(&mut self.dirty_groups) {
            let l = self.rule_list(&g);
            self.tables.rules.set(g, l);
        }
        for t in std::mem::take(&mut self.dirty_floods) {
            let l = self.flood_list(t);
            self.tables.flood.set(ListKey { k: [t, 0, 0] }, l);
        }
        if std::mem::take(&mut self.dirty_vteps) {
            let v = self.vteps();
            self.tables.vteps.set_all(v);
        }
        let mut c = self.write_config(cfg)?;
        c += self.tables.flush(&mut self.maps)?;
        self.sets.settle();
        self.stats.map_writes += c.added as u64;
        self.stats.map_deletes += c.removed as u64;
        Ok(c)
    }

    /// Writes the config entry if it differs from the kernel's.
    pub fn write_config(&mut self, cfg: &EbpfConfig) -> DpResult<Counts> {
        let want = self.wanted_config(cfg);
        self.put_config(want)
    }

    /// At start, before the state is known: the config entry as
    /// configured, but with the kernel's flags kept (they follow the state
    /// — ARP mode, services — which the first resync brings; clearing them
    /// meanwhile would stop what the pinned maps still forward).
    pub fn adopt_config(&mut self, cfg: &EbpfConfig) -> DpResult<Counts> {
        let mut want = self.wanted_config(cfg);
        if let Ok(have) = self.maps.config.get(&0, 0) {
            want.flags = have.flags;
        }
        self.put_config(want)
    }

    fn put_config(&mut self, want: abi::Config) -> DpResult<Counts> {
        let have = self.maps.config.get(&0, 0).ok();
        let mut c = Counts::default();
        if have == Some(want) {
            c.unchanged = 1;
        } else {
            self.maps
                .config
                .set(0, want, 0)
                .map_err(|e| DpError::Backend(format!("writing map config: {e}")))?;
            c.added = 1;
        }
        self.config = want;
        Ok(c)
    }

    /// Every full list and table for `self.state` (after a resync rebuilt
    /// the per-object entries).
    pub fn full(&mut self) -> crate::sync::Full {
        let mut f = crate::sync::Full::default();
        for c in self.contribs.values() {
            f.add(c);
        }
        f.vteps = self.vteps();
        let groups: Vec<ListKey> = self.groups.keys().copied().collect();
        for g in groups {
            let l = self.rule_list(&g);
            if !l.is_empty() {
                f.rules.insert(g, l);
            }
        }
        let tags: Vec<u32> = self.state.networks.values().map(compile::net_tag).collect();
        for t in tags {
            let l = self.flood_list(t);
            if !l.is_empty() {
                f.flood.insert(ListKey { k: [t, 0, 0] }, l);
            }
        }
        self.dirty_groups.clear();
        self.dirty_floods.clear();
        self.dirty_vteps = false;
        self.dirty_services = false;
        f
    }

    /// Rebuilds every object's entries from `self.state` and `self.sides`
    /// (sets re-adopt their ids from the kernel registry).
    pub fn rebuild(&mut self, kernel_set_ids: Vec<(u32, u64)>) {
        self.contribs.clear();
        self.groups.clear();
        self.sets = SetIds::adopt(kernel_set_ids);
        let st = self.state.clone();
        let c = self.internal_contrib();
        self.contribs.insert(Obj::Internal, c);
        for n in st.networks.values() {
            self.contribs
                .insert(Obj::Network(n.key.clone()), compile::network_contrib(n));
        }
        for e in st.local.values() {
            let c = self.local_contrib(e);
            self.contribs.insert(Obj::Local(e.id.clone()), c);
        }
        for e in st.remote.values() {
            if let Some(n) = st.networks.get(&e.network) {
                self.contribs
                    .insert(Obj::Remote(e.id.clone()), compile::remote_contrib(e, n));
            }
        }
        for (&(t, ip), &epg) in &st.policy.members {
            self.contribs
                .insert(Obj::Member(t, ip), compile::member_contrib(t, ip, epg));
        }
        for s in st.policy.addr_sets.values() {
            if let Some(id) = self.sets.assign(&s.id) {
                self.contribs.insert(
                    Obj::Set(s.id.clone()),
                    compile::set_contrib(s, id, name_hash(&s.id.0)),
                );
            }
        }
        self.sets.drop_unclaimed();
        for r in st.policy.rules.values() {
            self.groups
                .entry(compile::rule_group(r))
                .or_default()
                .insert(compile::rule_order(r), r.id);
            self.contribs
                .insert(Obj::Rule(r.id), compile::rule_contrib(r));
        }
        for sv in st.services.values() {
            self.contribs.insert(
                Obj::Service(sv.key.clone()),
                crate::service::contrib(sv, &st),
            );
        }
    }

    /// Interfaces of endpoints that are not `Existing` and were created by
    /// the datapath (by ifindex), from the kernel's interfaces map.
    pub fn owned_in_kernel(&self) -> HashMap<u32, bool> {
        use crate::tables::KvMap;
        self.maps
            .interfaces
            .entries()
            .unwrap_or_default()
            .into_iter()
            .map(|(i, f)| (i, f.flags & abi::IF_OWNED != 0))
            .collect()
    }

    /// Whether `ep`'s attachment kind means the datapath owns its veth.
    pub fn owns(ep: &LocalEndpoint) -> bool {
        !matches!(ep.attachment, Attachment::Existing)
    }
}
