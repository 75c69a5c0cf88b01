//! [`OvsDatapath`]: the [`Datapath`] realised on Open vSwitch.
//!
//! * **Switch configuration** over OVSDB ([`crate::ovsdb::vswitch`]): the
//!   integration bridge (`fail_mode=secure`, userspace datapath by
//!   default), one port per local endpoint, one VXLAN port per peer
//!   (`key=flow`), the VLAN uplink; every port marked with the owner.
//! * **Interfaces** ([`contiv_core::linux`]): veth pairs into container
//!   namespaces with addresses, MAC, MTU, routes, TX checksum offload off.
//! * **Flows** over OpenFlow 1.3 on the bridge's management socket: the
//!   [`pipeline`](crate::pipeline) compiles the state; every
//!   [`Datapath::apply`] sends exactly the flows that changed, as one
//!   atomic bundle; [`Datapath::resync`] reads the switch's flows back and
//!   sends only the difference (nothing at all when nothing differs).
//!
//! After a restart, connect and call `resync` with the full state: ports,
//! interfaces and flows converge, stale ones (by owner mark and cookie)
//! are removed, and what is already right is not touched. If the switch
//! restarts underneath (the OpenFlow connection drops), the next call
//! reconnects and resyncs from the state the datapath holds.
//!
//! ```no_run
//! # async fn demo() -> Result<(), contiv_core::datapath::DpError> {
//! use contiv_core::datapath::{Datapath, DesiredState};
//! use contiv_dp_ovs::datapath::{OvsConfig, OvsDatapath};
//! let dp = OvsDatapath::connect(OvsConfig::new("/run/openvswitch")).await?;
//! let report = dp.resync(&DesiredState::default()).await?;
//! println!("{report:?}");
//! # Ok(()) }
//! ```

mod config;
pub mod external;
pub mod install;
mod next_hops;
pub mod state;
pub mod switch;

pub use config::OvsConfig;

use crate::openflow::conn::Connection;
use crate::ovsdb::vswitch::Vswitch;
use crate::pipeline::{Flow, Pipeline, PortMap};
use async_trait::async_trait;
use contiv_core::datapath::{
    Attachment, Capabilities, Capability, Datapath, DesiredState, DpError, DpOp, DpResult,
    FabricSpec, HostState, LocalEndpoint, ResyncReport, in_op,
};
use contiv_core::linux::{Plumber, link, netns, shaping};
use state::{check_fabric, check_global, check_network};
use std::collections::BTreeSet;
use std::net::{IpAddr, Ipv4Addr};
use tokio::sync::Mutex;

/// Counters of what the datapath sent to the switch.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct OvsStats {
    /// Flow-mods sent (adds, replaces and deletes).
    pub flow_mods: u64,
    /// Bundles committed.
    pub bundles: u64,
    /// Resyncs completed (explicit and after reconnects).
    pub resyncs: u64,
    /// OpenFlow reconnects.
    pub reconnects: u64,
}

struct Inner {
    vs: Vswitch,
    of: Connection,
    plumber: Plumber,
    state: HostState,
    ports: PortMap,
    pipeline: Pipeline,
    /// The switch's flows are not known to match the pipeline (after a
    /// reconnect or a failed bundle): the next flush is a full resync.
    needs_resync: bool,
    stats: OvsStats,
    /// What the host side (host port, routes, NAT table) was last made.
    host: external::Applied,
}

/// The OVS datapath. See the [module documentation](self).
pub struct OvsDatapath {
    cfg: OvsConfig,
    inner: std::sync::Arc<Mutex<Inner>>,
    /// The background task resolving external routes' next hops
    /// ([`next_hops`]); aborted on drop.
    resolver: tokio::task::AbortHandle,
}

impl Drop for OvsDatapath {
    fn drop(&mut self) {
        self.resolver.abort();
    }
}

impl std::fmt::Debug for OvsDatapath {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("OvsDatapath")
            .field("bridge", &self.cfg.bridge)
            .field("rundir", &self.cfg.rundir)
            .finish()
    }
}

fn plumbing(e: contiv_core::linux::PlumbError) -> DpError {
    DpError::Plumbing(e.to_string())
}

async fn connect_of(cfg: &OvsConfig) -> Result<Connection, DpError> {
    let path = cfg.mgmt_path();
    let (c, _events) = Connection::connect_unix(&path).await.map_err(|e| {
        DpError::Backend(format!(
            "OpenFlow: cannot connect to {} (is ovs-vswitchd running with bridge {}?): {e}",
            path.display(),
            cfg.bridge
        ))
    })?;
    frag_nx_match(&c).await.map_err(|e| {
        DpError::Backend(format!(
            "OpenFlow: cannot set the fragment handling of bridge {}: {e}",
            cfg.bridge
        ))
    })?;
    Ok(c)
}

/// Asks the switch to match first fragments on their ports
/// (`OFPC_FRAG_NX_MATCH`, kept miss_send_len): with OVS's default
/// (`normal`) every fragment has ports 0, so a port rule could never allow
/// a datagram larger than the MTU. The setting lives in ovs-vswitchd, not
/// in OVSDB: every (re)connection sets it again.
async fn frag_nx_match(c: &Connection) -> Result<(), crate::openflow::conn::ConnError> {
    use crate::openflow::wire::{Message, OFPC_FRAG_NX_MATCH, SwitchConfig};
    let miss_send_len = match c.request(Message::GetConfigRequest, "get config").await? {
        Message::GetConfigReply(cfg) => cfg.miss_send_len,
        _ => 0xffff,
    };
    c.send_checked(&[Message::SetConfig(SwitchConfig {
        flags: OFPC_FRAG_NX_MATCH,
        miss_send_len,
    })])
    .await
}

/// Whether two versions of a local endpoint need different interfaces.
fn replumb_needed(a: &LocalEndpoint, b: &LocalEndpoint) -> bool {
    a.host_ifname != b.host_ifname
        || a.attachment != b.attachment
        || a.mac != b.mac
        || a.ipv4 != b.ipv4
        || a.ipv6 != b.ipv6
        || a.mtu != b.mtu
        || a.network != b.network
}

impl OvsDatapath {
    /// What the conformance suite (`tests/conformance.rs`) shows on the
    /// userspace datapath.
    pub const CAPABILITIES: Capabilities = Capabilities::of(&[
        Capability::ForwardsPackets,
        Capability::Vxlan,
        Capability::Vlan,
        Capability::StatefulPolicy,
        Capability::Ipv6,
        Capability::ProxyArp,
        Capability::FloodArp,
        Capability::Gateway,
        Capability::Gateway6,
        Capability::Routing,
        Capability::RoutedUplink,
        Capability::Services,
        Capability::EgressNat,
        Capability::PublishedPorts,
        Capability::EgressNatOverlapping,
        Capability::QosBandwidth,
        Capability::QosDscp,
    ]);

    /// Connects to OVSDB and the bridge (creating the bridge and attaching
    /// the uplink if needed). No flows are touched: call
    /// [`Datapath::resync`] with the full state next (until then,
    /// [`Datapath::apply`] adds to whatever the switch holds).
    pub async fn connect(cfg: OvsConfig) -> DpResult<OvsDatapath> {
        let db = cfg.db_path();
        let vs = Vswitch::connect_unix(&db).await.map_err(|e| {
            DpError::Backend(format!(
                "OVSDB: cannot connect to {} (is ovsdb-server running?): {e}",
                db.display()
            ))
        })?;
        switch::ensure_bridge(&vs, &cfg).await?;
        vs.sync(cfg.port_timeout).await.map_err(switch::backend(
            "waiting for ovs-vswitchd to create the bridge",
        ))?;
        let of = connect_of(&cfg).await?;
        let mut pipeline = Pipeline::new();
        let mut ports = PortMap::default();
        if let Some(up) = &cfg.uplink {
            let p = switch::ensure_uplink_port(&vs, &cfg, up).await?;
            ports.uplink = Some(p);
            pipeline.set_uplink(Some(p));
        }
        let inner = Inner {
            vs,
            of,
            plumber: Plumber::new(cfg.switch_netns.clone()),
            state: HostState::default(),
            ports,
            pipeline,
            needs_resync: false,
            stats: OvsStats::default(),
            host: external::Applied::default(),
        };
        let inner = std::sync::Arc::new(Mutex::new(inner));
        let resolver = tokio::spawn(next_hops::run(
            std::sync::Arc::downgrade(&inner),
            cfg.clone(),
        ))
        .abort_handle();
        Ok(OvsDatapath {
            cfg,
            inner,
            resolver,
        })
    }

    /// The configuration.
    pub fn config(&self) -> &OvsConfig {
        &self.cfg
    }

    /// What has been sent so far.
    pub async fn stats(&self) -> OvsStats {
        self.inner.lock().await.stats
    }

    /// The compiled flows (what the switch holds when in sync), sorted.
    pub async fn flows(&self) -> Vec<Flow> {
        self.inner.lock().await.pipeline.flows()
    }

    /// The OpenFlow port of a local endpoint.
    pub async fn ofport_of(&self, endpoint: &str) -> Option<u32> {
        self.inner
            .lock()
            .await
            .ports
            .endpoints
            .get(endpoint)
            .copied()
    }

    /// The OpenFlow port of a peer's VXLAN port.
    pub async fn peer_ofport(&self, peer: IpAddr) -> Option<u32> {
        self.inner.lock().await.ports.peers.get(&peer).copied()
    }

    /// The state the datapath holds.
    pub async fn state(&self) -> DesiredState {
        self.inner.lock().await.state.snapshot()
    }

    /// The OpenFlow port of the fabric router port, if the fabric is set.
    pub async fn router_ofport(&self) -> Option<u32> {
        self.inner.lock().await.ports.router
    }

    /// The uplink's OpenFlow port, if configured.
    pub async fn uplink_ofport(&self) -> Option<u32> {
        self.inner.lock().await.ports.uplink
    }
}

/// Creates (or converges) the fabric router port with the router MAC and
/// makes the router address its only IPv4 address, link up.
async fn ensure_router(vs: &Vswitch, cfg: &OvsConfig, f: &FabricSpec) -> DpResult<u32> {
    let mac = f.router_mac();
    let port = switch::ensure_router_port(vs, cfg, mac).await?;
    let h = netns::netlink(&cfg.switch_netns).await.map_err(plumbing)?;
    let name = &cfg.router_port;
    let index = link::index(&h, name)
        .await
        .map_err(plumbing)?
        .ok_or_else(|| {
            DpError::Plumbing(format!(
                "the fabric router port {name} has no interface in {}",
                cfg.switch_netns.describe()
            ))
        })?;
    link::configure(&h, index, name, Some(mac), 0)
        .await
        .map_err(plumbing)?;
    link::set_only_address_v4(&h, index, name, f.router)
        .await
        .map_err(plumbing)?;
    Ok(port)
}

impl Inner {
    /// Records the MAC of a next hop (`None`: not known; routes through it
    /// lose their flows until it is).
    fn set_next_hop(&mut self, ip: Ipv4Addr, mac: Option<contiv_core::datapath::MacAddr>) {
        match mac {
            Some(m) => self.ports.next_hops.insert(ip, m),
            None => self.ports.next_hops.remove(&ip),
        };
        self.pipeline.set_next_hop_mac(ip, mac);
    }

    /// Reconnects OpenFlow (and OVSDB) if the switch went away; a
    /// reconnect means the flows are unknown, so a resync follows.
    async fn ensure_connected(&mut self, cfg: &OvsConfig) -> DpResult<()> {
        if self.vs.client().is_closed() {
            self.vs = Vswitch::connect_unix(cfg.db_path())
                .await
                .map_err(switch::backend("reconnecting"))?;
        }
        if self.of.is_closed() {
            switch::ensure_bridge(&self.vs, cfg).await?;
            self.of = connect_of(cfg).await?;
            self.stats.reconnects += 1;
            self.needs_resync = true;
        }
        Ok(())
    }

    async fn remove_local(&mut self, cfg: &OvsConfig, id: &str) -> DpResult<()> {
        let Some(ep) = self.state.local.get(id).cloned() else {
            return Ok(());
        };
        self.pipeline.remove_local(id);
        self.ports.endpoints.remove(id);
        switch::remove_port(&self.vs, cfg, &ep.host_ifname).await?;
        self.plumber.remove(&ep).await.map_err(plumbing)?;
        self.forget_endpoint(id);
        Ok(())
    }

    /// Drops endpoint `id` from the state with what hangs on it (its
    /// place in services, its published ports), keeping the pipeline's
    /// services in step.
    fn forget_endpoint(&mut self, id: &str) {
        let backed: Vec<String> = self
            .state
            .services
            .values()
            .filter(|s| s.backends.iter().any(|b| b == id))
            .map(|s| s.key.clone())
            .collect();
        self.state.forget_endpoint(id);
        for k in backed {
            if let Some(sv) = self.state.services.get(&k) {
                self.pipeline.upsert_service(sv.clone());
            }
        }
    }

    async fn add_local(&mut self, cfg: &OvsConfig, ep: LocalEndpoint) -> DpResult<()> {
        self.state.check_local(&ep)?;
        let net = self
            .state
            .networks
            .get(&ep.network)
            .cloned()
            .ok_or_else(|| DpError::InvalidArgument(format!("unknown network {}", ep.network)))?;
        if let Some(old) = self.state.local.get(&ep.id) {
            if *old == ep && self.ports.endpoints.contains_key(&ep.id) {
                return Ok(());
            }
            if replumb_needed(old, &ep) {
                let id = ep.id.clone();
                self.remove_local(cfg, &id).await?;
            }
        }
        if self.state.remote.remove(&ep.id).is_some() {
            self.pipeline.remove_remote(&ep.id);
        }
        self.plumber.ensure(&ep, &net).await.map_err(plumbing)?;
        let ofport = match switch::ensure_endpoint_port(&self.vs, cfg, &ep).await {
            Ok(p) => p,
            Err(e) => {
                // Do not leave a veth nobody owns.
                let _ = switch::remove_port(&self.vs, cfg, &ep.host_ifname).await;
                let _ = self.plumber.remove(&ep).await;
                return Err(e);
            }
        };
        if shaping::reshape_needed(self.state.local.get(&ep.id), &ep) {
            external::shape(cfg, &ep).await?;
        }
        self.ports.endpoints.insert(ep.id.clone(), ofport);
        self.pipeline.upsert_local(ep.clone(), Some(ofport));
        self.state.local.insert(ep.id.clone(), ep);
        Ok(())
    }

    async fn apply_op(&mut self, cfg: &OvsConfig, op: DpOp) -> DpResult<()> {
        match op {
            DpOp::SetGlobal(g) => {
                check_global(&g)?;
                self.pipeline.set_global(g.clone());
                self.state.global = g;
            }
            DpOp::AddNetwork(n) => {
                check_network(&n)?;
                let replumb: Vec<LocalEndpoint> = match self.state.networks.get(&n.key) {
                    Some(old) if old.gateway != n.gateway || old.gateway6 != n.gateway6 => self
                        .state
                        .local
                        .values()
                        .filter(|e| e.network == n.key)
                        .cloned()
                        .collect(),
                    _ => Vec::new(),
                };
                self.pipeline.upsert_network(n.clone());
                self.state.networks.insert(n.key.clone(), n.clone());
                for e in replumb {
                    self.plumber.ensure(&e, &n).await.map_err(plumbing)?;
                }
            }
            DpOp::RemoveNetwork(key) => {
                let locals: Vec<String> = self
                    .state
                    .local
                    .values()
                    .filter(|e| e.network == key)
                    .map(|e| e.id.clone())
                    .collect();
                for id in locals {
                    self.remove_local(cfg, &id).await?;
                }
                let remotes: Vec<String> = self
                    .state
                    .remote
                    .values()
                    .filter(|e| e.network == key)
                    .map(|e| e.id.clone())
                    .collect();
                for id in remotes {
                    self.pipeline.remove_remote(&id);
                    self.forget_endpoint(&id);
                }
                let services: Vec<String> = self
                    .state
                    .services
                    .values()
                    .filter(|s| s.network == key)
                    .map(|s| s.key.clone())
                    .collect();
                for k in services {
                    self.pipeline.remove_service(&k);
                    self.state.services.remove(&k);
                }
                self.pipeline.remove_network(&key);
                self.state.networks.remove(&key);
            }
            DpOp::AddLocalEndpoint(e) => self.add_local(cfg, e).await?,
            DpOp::RemoveLocalEndpoint(id) => self.remove_local(cfg, &id).await?,
            DpOp::AddRemoteEndpoint(e) => {
                self.state.check_remote(&e)?;
                if self.state.local.contains_key(&e.id) {
                    let id = e.id.clone();
                    self.remove_local(cfg, &id).await?;
                }
                self.pipeline.upsert_remote(e.clone());
                self.state.remote.insert(e.id.clone(), e);
            }
            DpOp::RemoveRemoteEndpoint(id) => {
                self.pipeline.remove_remote(&id);
                if self.state.remote.contains_key(&id) {
                    self.forget_endpoint(&id);
                }
            }
            DpOp::AddPeer(p) => {
                if !self.ports.peers.contains_key(&p.ip) {
                    let port = switch::ensure_peer_port(&self.vs, cfg, p.ip).await?;
                    self.ports.peers.insert(p.ip, port);
                    self.pipeline.set_peer_port(p.ip, Some(port));
                }
                self.state.peers.insert(p.ip, p);
            }
            DpOp::RemovePeer(ip) => {
                self.pipeline.set_peer_port(ip, None);
                self.ports.peers.remove(&ip);
                switch::remove_port(&self.vs, cfg, &switch::peer_port_name(ip)).await?;
                self.state.peers.remove(&ip);
            }
            DpOp::Policy(d) => {
                self.state.check_delta(&d)?;
                self.pipeline.apply_policy(&d);
                self.state.policy.apply(&d);
            }
            DpOp::SetFabric(Some(f)) => {
                check_fabric(&f, cfg.uplink.as_deref())?;
                let port = ensure_router(&self.vs, cfg, &f).await?;
                self.ports.router = Some(port);
                for r in self.state.routes.values() {
                    if !f.router.contains(&r.next_hop) {
                        self.pipeline.remove_route(r.prefix);
                    }
                }
                self.pipeline.set_fabric(Some(f), Some(port));
                self.state.record(&DpOp::SetFabric(Some(f)));
            }
            DpOp::SetFabric(None) => {
                self.pipeline.set_fabric(None, None);
                self.ports.router = None;
                switch::remove_port(&self.vs, cfg, &cfg.router_port).await?;
                self.state.record(&DpOp::SetFabric(None));
            }
            DpOp::AddRoute(r) => {
                // Flows follow once the next hop's MAC is known: now if
                // the kernel knows it, else from the resolver.
                self.state.check_route(&r)?;
                self.pipeline.upsert_route(r);
                self.state.record(&DpOp::AddRoute(r));
                if !self.ports.next_hops.contains_key(&r.next_hop) {
                    let mac = next_hops::lookup(cfg, r.next_hop).await?;
                    self.set_next_hop(r.next_hop, mac);
                }
            }
            DpOp::RemoveRoute(p) => {
                self.pipeline.remove_route(p);
                self.state.record(&DpOp::RemoveRoute(p));
            }
            DpOp::AddService(sv) => {
                self.state.check_service(&sv)?;
                self.pipeline.upsert_service(sv.clone());
                self.state.record(&DpOp::AddService(sv));
            }
            DpOp::RemoveService(k) => {
                self.pipeline.remove_service(&k);
                self.state.services.remove(&k);
            }
            op @ (DpOp::AddPublishedPort(_) | DpOp::RemovePublishedPort(_)) => {
                // Realised by the host's NAT table at the flush.
                self.state.apply(&op)?;
            }
        }
        Ok(())
    }

    /// Sends what the pipeline changed (or resyncs if the switch's flows
    /// are unknown).
    async fn flush(&mut self, cfg: &OvsConfig) -> DpResult<()> {
        self.converge_host(cfg).await?;
        if self.needs_resync {
            self.resync_flows().await?;
            return Ok(());
        }
        let changes = self.pipeline.flush();
        let groups = self.pipeline.take_group_changes();
        match install::send_bundle_with_groups(&self.of, &groups, &changes).await {
            Ok(0) => Ok(()),
            Ok(n) => {
                self.stats.flow_mods += n as u64;
                self.stats.bundles += 1;
                Ok(())
            }
            Err(e) => {
                self.needs_resync = true;
                Err(e)
            }
        }
    }

    /// Makes the host side (host port with its bridge port, routes, NAT
    /// table) what the state needs; returns what it wrote.
    async fn converge_host(&mut self, cfg: &OvsConfig) -> DpResult<external::Writes> {
        let mut w = external::converge(cfg, &self.state, &mut self.host).await?;
        if external::wanted(&self.state) {
            if self.ports.host.is_none() {
                let p = switch::ensure_host_port(&self.vs, cfg).await?;
                self.ports.host = Some(p);
                self.pipeline.set_host_port(Some(p));
                w.added += 1;
            }
        } else if self.ports.host.take().is_some() {
            self.pipeline.set_host_port(None);
            switch::remove_port(&self.vs, cfg, &cfg.host_port_peer()).await?;
            self.plumber
                .delete_host_link(&cfg.host_port)
                .await
                .map_err(plumbing)?;
            w.removed += 1;
        }
        Ok(w)
    }

    /// Compares the compiled flows and groups with the switch's and sends
    /// the difference in one bundle.
    async fn resync_flows(&mut self) -> DpResult<install::Diff> {
        self.pipeline.flush();
        self.pipeline.mark_all_groups();
        let _ = self.pipeline.take_group_changes();
        let have = install::installed(&self.of).await?;
        let have_groups = install::installed_groups(&self.of).await?;
        let mut d = install::diff(self.pipeline.flows_unordered(), &have);
        let g = install::diff_groups(self.pipeline.groups(), &have_groups);
        d.added += g.upserts.len();
        d.removed += g.deletes.len();
        d.unchanged += self.pipeline.groups().len() - g.upserts.len();
        let n = install::send_bundle_with_groups(&self.of, &g, &d.changes).await?;
        if n > 0 {
            self.stats.flow_mods += n as u64;
            self.stats.bundles += 1;
        }
        d.changes.clear();
        self.needs_resync = false;
        self.stats.resyncs += 1;
        Ok(d)
    }

    /// Converges ports and interfaces to `target`; returns (created,
    /// removed) port counts and the endpoints that could not be realised
    /// (they get no port and no flows; the rest converges regardless).
    async fn resync_switch(
        &mut self,
        cfg: &OvsConfig,
        target: &HostState,
    ) -> DpResult<(usize, usize, Vec<(String, DpError)>)> {
        switch::ensure_bridge(&self.vs, cfg).await?;
        let owned = switch::owned_ports(&self.vs, cfg).await?;
        let owned_names: BTreeSet<&str> = owned.iter().map(|p| p.name.as_str()).collect();
        let mut ports = PortMap::default();
        let mut wanted: BTreeSet<String> = BTreeSet::new();
        let mut created = 0;
        if let Some(up) = &cfg.uplink {
            ports.uplink = Some(switch::ensure_uplink_port(&self.vs, cfg, up).await?);
            wanted.insert(up.clone());
        }
        let mut failed = Vec::new();
        for ep in target.local.values() {
            let net = target.networks.get(&ep.network).ok_or_else(|| {
                DpError::InvalidArgument(format!("unknown network {}", ep.network))
            })?;
            // An endpoint that was plumbed differently before starts over.
            if let Some(old) = self.state.local.get(&ep.id)
                && replumb_needed(old, ep)
            {
                self.plumber.remove(old).await.map_err(plumbing)?;
            }
            wanted.insert(ep.host_ifname.clone());
            if let Err(e) = self.plumber.ensure(ep, net).await {
                failed.push((format!("endpoint {}", ep.id), plumbing(e)));
                continue;
            }
            if !owned_names.contains(ep.host_ifname.as_str()) {
                created += 1;
            }
            match switch::ensure_endpoint_port(&self.vs, cfg, ep).await {
                Ok(p) => {
                    ports.endpoints.insert(ep.id.clone(), p);
                }
                Err(e) => failed.push((format!("endpoint {}", ep.id), e)),
            }
        }
        for ip in target.peers.keys() {
            let name = switch::peer_port_name(*ip);
            if !owned_names.contains(name.as_str()) {
                created += 1;
            }
            ports
                .peers
                .insert(*ip, switch::ensure_peer_port(&self.vs, cfg, *ip).await?);
            wanted.insert(name);
        }
        if let Some(f) = &target.fabric {
            check_fabric(f, cfg.uplink.as_deref())?;
            if !owned_names.contains(cfg.router_port.as_str()) {
                created += 1;
            }
            ports.router = Some(ensure_router(&self.vs, cfg, f).await?);
            wanted.insert(cfg.router_port.clone());
            let hops: BTreeSet<Ipv4Addr> = target.routes.values().map(|r| r.next_hop).collect();
            for nh in hops {
                if let Some(m) = next_hops::lookup(cfg, nh).await? {
                    ports.next_hops.insert(nh, m);
                }
            }
        }
        if external::wanted(target) {
            // Re-attached (its veth is made by the host-side converge).
            wanted.insert(cfg.host_port_peer());
            if owned_names.contains(cfg.host_port_peer().as_str())
                && self
                    .plumber
                    .host_link_exists(&cfg.host_port_peer())
                    .await
                    .map_err(plumbing)?
            {
                ports.host = Some(switch::ensure_host_port(&self.vs, cfg).await?);
            }
        }
        let mut removed = 0;
        for p in owned.iter().filter(|p| !wanted.contains(&p.name)) {
            switch::remove_port(&self.vs, cfg, &p.name).await?;
            if p.external_ids.get(switch::VETH_KEY).map(String::as_str) == Some("true") {
                self.plumber
                    .delete_host_link(&p.name)
                    .await
                    .map_err(plumbing)?;
            }
            removed += 1;
        }
        // Endpoints we plumbed that never got a port (interrupted adds).
        for old in self.state.local.values() {
            if !target.local.contains_key(&old.id)
                && !matches!(old.attachment, Attachment::Existing)
                && !wanted.contains(&old.host_ifname)
            {
                self.plumber.remove(old).await.map_err(plumbing)?;
            }
        }
        self.ports = ports;
        Ok((created, removed, failed))
    }
}

#[async_trait]
impl Datapath for OvsDatapath {
    fn name(&self) -> &'static str {
        "ovs"
    }

    fn capabilities(&self) -> Capabilities {
        OvsDatapath::CAPABILITIES
    }

    async fn apply(&self, ops: Vec<DpOp>) -> DpResult<()> {
        let mut g = self.inner.lock().await;
        g.ensure_connected(&self.cfg).await?;
        let mut failed = None;
        for (i, op) in ops.into_iter().enumerate() {
            let shown = op.clone();
            if let Err(e) = g.apply_op(&self.cfg, op).await {
                failed = Some(in_op(i, &shown, e));
                break;
            }
        }
        // Whatever was applied before a failure is realised.
        let flushed = g.flush(&self.cfg).await;
        match failed {
            Some(e) => Err(e),
            None => flushed,
        }
    }

    async fn resync(&self, desired: &DesiredState) -> DpResult<ResyncReport> {
        check_global(&desired.global)?;
        for n in &desired.networks {
            check_network(n)?;
        }
        let target = HostState::from_desired(desired).map_err(|e| match e {
            DpError::InvalidArgument(m) => DpError::InvalidArgument(format!("desired state: {m}")),
            other => other,
        })?;
        let mut g = self.inner.lock().await;
        g.ensure_connected(&self.cfg).await?;
        let (ports_added, ports_removed, failed) = g.resync_switch(&self.cfg, &target).await?;
        g.state = target;
        // The host side is read back, not trusted from memory.
        g.host = external::Applied::default();
        let host = g.converge_host(&self.cfg).await?;
        let mut qdiscs = 0;
        for ep in g.state.local.values() {
            // Every endpoint: shapers a QoS left behind go too.
            if g.ports.endpoints.contains_key(&ep.id) {
                qdiscs += external::shape(&self.cfg, ep).await?;
            }
        }
        let ports = g.ports.clone();
        g.pipeline = Pipeline::from_desired(desired, &ports);
        let d = g.resync_flows().await?;
        if let Some((id, e)) = failed.first() {
            // Everything else converged; the failed endpoints have no
            // flows until a later resync or AddLocalEndpoint succeeds.
            let more = match failed.len() {
                1 => String::new(),
                n => format!(" (and {} more)", n - 1),
            };
            return Err(match e {
                DpError::Plumbing(m) => DpError::Plumbing(format!("resync: {id}: {m}{more}")),
                DpError::Backend(m) => DpError::Backend(format!("resync: {id}: {m}{more}")),
                other => other.clone(),
            });
        }
        Ok(ResyncReport {
            added: d.added + ports_added + host.added + qdiscs,
            removed: d.removed + ports_removed + host.removed,
            unchanged: d.unchanged,
        })
    }
}
