//! [`EbpfDatapath`]: the [`Datapath`] realised with tc classifiers and maps.
//!
//! * **connect**: mounts the bpffs if needed, loads the embedded object
//!   with every map pinned (adopting existing pins), keeps or replaces the
//!   pinned programs, makes the `vxlan external gbp` device and attaches
//!   `from_vxlan` to it and `from_uplink` to the uplink. No endpoint entry
//!   is touched: the maps keep forwarding as they were until `resync`
//!   (the host port too).
//! * **external access** (a network with `external`): the host port — a
//!   veth `<host_port>` ↔ `<host_port>p` whose datapath end runs
//!   `from_host` — with the host's `/32` routes to local endpoints of such
//!   networks and the host's nftables table (masquerade of their subnets,
//!   DNAT of published ports, a forward guard that never lets traffic turn
//!   around on the host port but to a published port), all derived from
//!   the host state by `contiv_core::linux::host_port` (shared with OVS)
//!   and removed when no network has external access.
//! * **apply**: each operation changes the wanted tables (and plumbs or
//!   unplumbs interfaces); one flush then writes exactly the entries that
//!   changed — puts, then list switches, then deletes.
//! * **resync**: plumbs and attaches every local endpoint, removes stale
//!   attachments (and the veths the datapath made for them), reads every
//!   map back and writes only the difference — nothing at all when nothing
//!   differs.

mod host;

pub use host::EbpfStats;

use crate::config::EbpfConfig;
use crate::kernel::attach::{self, Hook};
use crate::kernel::bpffs;
use crate::kernel::load::{self, LoadReport};
use crate::plumbing::Devices;
use crate::stats;
use crate::sync::Tables;
use crate::tables::KvMap;
use async_trait::async_trait;
use contiv_core::datapath::counters::Counters;
use contiv_core::datapath::{
    Capabilities, Capability, Datapath, DesiredState, DpError, DpOp, DpResult, HostState,
    ResyncReport, check_desired_claimed, in_op,
};
use contiv_core::linux::{Netns, shaping};
use host::{HostSide, Inner};
use std::collections::{BTreeSet, HashMap, HashSet};
use std::path::PathBuf;
use std::sync::Arc;
use tokio::sync::Mutex;

/// What [`EbpfDatapath::run_packet`] saw the classifier do.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct PacketRun {
    /// The tc verdict: `TC_ACT_REDIRECT` (7) forwarded, `TC_ACT_SHOT` (2)
    /// dropped.
    pub verdict: i32,
    /// The frame after the program (answers are written in place).
    pub frame: Vec<u8>,
}

impl PacketRun {
    /// `TC_ACT_REDIRECT`.
    pub const REDIRECT: i32 = 7;
    /// `TC_ACT_SHOT`.
    pub const SHOT: i32 = 2;

    /// The program forwarded (or answered) the frame.
    pub fn forwarded(&self) -> bool {
        self.verdict == Self::REDIRECT
    }
}

/// The eBPF datapath. See the [module documentation](self).
pub struct EbpfDatapath {
    cfg: EbpfConfig,
    root: PathBuf,
    load: LoadReport,
    inner: Arc<Mutex<Inner>>,
    gc: Option<tokio::task::JoinHandle<()>>,
}

impl std::fmt::Debug for EbpfDatapath {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("EbpfDatapath")
            .field("root", &self.root)
            .finish()
    }
}

impl Drop for EbpfDatapath {
    fn drop(&mut self) {
        if let Some(t) = self.gc.take() {
            t.abort();
        }
    }
}

impl EbpfDatapath {
    /// What this datapath does, as the conformance suite shows
    /// (`tests/conformance.rs`). A netprofile's bandwidth is shaped with
    /// `tbf` on both ends of the endpoint's veth
    /// ([`shaping::endpoint_sides`]); delivery to a shaped endpoint goes
    /// through its host side's egress qdisc (`bpf_redirect`, not `_peer`).
    pub const CAPABILITIES: Capabilities = Capabilities::of(&[
        Capability::QosBandwidth,
        Capability::ForwardsPackets,
        Capability::Vxlan,
        Capability::Vlan,
        Capability::StatefulPolicy,
        Capability::Ipv6,
        Capability::ProxyArp,
        Capability::FloodArp,
        Capability::Gateway,
        Capability::Gateway6,
        Capability::QosDscp,
        Capability::EgressNat,
        Capability::PublishedPorts,
        Capability::Services,
        Capability::ServiceFragments,
    ]);

    /// Loads (or adopts) the datapath's objects and hooks the VXLAN device
    /// and the uplink. Endpoint state is untouched until
    /// [`Datapath::resync`]. Needs a tokio runtime, root (CAP_BPF,
    /// CAP_NET_ADMIN, CAP_SYS_ADMIN to mount the bpffs).
    pub async fn connect(cfg: EbpfConfig) -> DpResult<EbpfDatapath> {
        bpffs::ensure_mounted(&cfg.bpffs)?;
        let root = cfg.pin_root();
        let (mut maps, mut progs, report) = load::load(&root)?;
        let ns = cfg.netns.clone().map(Netns::Path).unwrap_or_default();
        let devices = Devices::new(ns.clone()).await.map_err(DpError::Plumbing)?;
        let links = load::links_dir(&root);
        // Programs that replaced older ones take over every pinned link.
        for a in attach::list(&links)? {
            let p = match a.hook {
                Hook::Endpoint => &mut progs.endpoint,
                Hook::Vxlan => &mut progs.vxlan,
                Hook::Uplink => &mut progs.uplink,
                Hook::Host => &mut progs.host,
            };
            if p.replaced {
                attach::repoint(&mut p.prog, &links, a)?;
            }
        }
        // Endpoint filters too (each replaced in place).
        if progs.endpoint.replaced {
            let h = devices.netlink();
            for i in attach::endpoints(h, &links, &maps.ids).await? {
                let p = &progs.endpoint;
                attach::ensure_endpoint(h, &p.prog, p.id, &links, i).await?;
            }
        }
        let vxlan_ifindex = devices
            .ensure_vxlan(&cfg.vxlan_device, cfg.vxlan_port)
            .await
            .map_err(DpError::Plumbing)?;
        attach::ensure(
            &ns,
            &mut progs.vxlan.prog,
            progs.vxlan.id,
            &links,
            Hook::Vxlan,
            &cfg.vxlan_device,
            vxlan_ifindex,
        )?;
        let mut uplink_ifindex = 0;
        if let Some(up) = &cfg.uplink {
            uplink_ifindex = devices
                .index_of(up)
                .await
                .map_err(DpError::Plumbing)?
                .ok_or_else(|| {
                    DpError::InvalidArgument(format!("the VLAN uplink {up} does not exist"))
                })?;
            attach::ensure(
                &ns,
                &mut progs.uplink.prog,
                progs.uplink.id,
                &links,
                Hook::Uplink,
                up,
                uplink_ifindex,
            )?;
        }
        // The host port keeps forwarding until resync decides about it: the
        // kernel's config entry names it as long as it is the same device.
        let (host_ifindex, host_mac) = match maps.config.get(&0, 0) {
            Ok(c) if c.host_ifindex != 0 => {
                let peer = cfg.host_port().peer;
                let now = devices.index_of(&peer).await.map_err(DpError::Plumbing)?;
                if now == Some(c.host_ifindex) {
                    (c.host_ifindex, c.host_mac)
                } else {
                    (0, [0; 6])
                }
            }
            _ => (0, [0; 6]),
        };
        let kernel_sets = maps.set_ids.entries().map_err(DpError::Backend)?;
        let mut tables = Tables::default();
        tables.adopt_lists(&mut maps)?;
        let mut inner = Inner {
            maps,
            progs,
            devices,
            ns,
            links,
            state: HostState::default(),
            sides: HashMap::new(),
            contribs: HashMap::new(),
            tables,
            sets: crate::sets::SetIds::adopt(kernel_sets),
            groups: HashMap::new(),
            dirty_groups: HashSet::new(),
            dirty_floods: HashSet::new(),
            dirty_vteps: false,
            dirty_services: false,
            vxlan_ifindex,
            uplink_ifindex,
            config: Default::default(),
            stats: EbpfStats::default(),
            host_ifindex,
            host_mac,
            host: Default::default(),
        };
        inner.adopt_config(&cfg)?;
        let inner = Arc::new(Mutex::new(inner));
        let gc = if cfg.gc_interval.is_zero() {
            None
        } else {
            let dir = load::maps_dir(&root);
            let every = cfg.gc_interval;
            let timeouts = cfg.conntrack;
            Some(tokio::spawn(async move {
                let mut t = tokio::time::interval(every);
                t.tick().await;
                loop {
                    t.tick().await;
                    let dir = dir.clone();
                    let r = tokio::task::spawn_blocking(move || {
                        crate::gc::sweep_pinned(&dir, &timeouts)
                    })
                    .await;
                    match r {
                        Ok(Ok(n)) if n > 0 => {
                            tracing::debug!(removed = n, "conntrack garbage collection")
                        }
                        Ok(Err(e)) => {
                            tracing::warn!(error = %e, "conntrack garbage collection failed")
                        }
                        _ => {}
                    }
                }
            }))
        };
        tracing::info!(
            root = %root.display(),
            maps_created = report.maps_created,
            maps_adopted = report.maps_adopted,
            programs_replaced = report.programs_replaced,
            "eBPF datapath loaded"
        );
        Ok(EbpfDatapath {
            cfg,
            root,
            load: report,
            inner,
            gc,
        })
    }

    /// Deletes the list generations a flush retired, shortly after it
    /// (once no program run can still read them).
    fn reap_later(&self) {
        let weak = Arc::downgrade(&self.inner);
        tokio::spawn(async move {
            tokio::time::sleep(std::time::Duration::from_millis(5)).await;
            if let Some(inner) = weak.upgrade() {
                let mut g = inner.lock().await;
                let inner = &mut *g;
                if let Err(e) = inner.tables.reap_all(&mut inner.maps) {
                    tracing::warn!(error = %e, "deleting retired list entries failed");
                }
            }
        });
    }

    /// The configuration.
    pub fn config(&self) -> &EbpfConfig {
        &self.cfg
    }

    /// The pin directory of this datapath's objects.
    pub fn pin_root(&self) -> &std::path::Path {
        &self.root
    }

    /// What loading found (maps adopted or created, programs replaced).
    pub fn load_report(&self) -> LoadReport {
        self.load
    }

    /// What the datapath has done so far.
    pub async fn stats(&self) -> EbpfStats {
        self.inner.lock().await.stats
    }

    /// The state the datapath holds.
    pub async fn state(&self) -> DesiredState {
        self.inner.lock().await.state.snapshot()
    }

    /// The host-side ifindex of local endpoint `id`.
    pub async fn ifindex_of(&self, id: &str) -> Option<u32> {
        self.inner.lock().await.sides.get(id).map(|s| s.ifindex)
    }

    /// Packet counters: per endpoint, per rule, drops by reason.
    pub async fn counters(&self) -> DpResult<Counters> {
        let g = self.inner.lock().await;
        let eps: Vec<(String, u32)> = g
            .sides
            .iter()
            .map(|(id, s)| (id.clone(), s.ifindex))
            .collect();
        let rules: Vec<contiv_core::ir::RuleId> = g.state.policy.rules.keys().copied().collect();
        stats::read(&g.maps, &eps, &rules, &g.state.policy)
    }

    /// How many frames the programs flooded (copied to every endpoint of a
    /// network, and to its peers) and how many copies they sent.
    pub async fn floods(&self) -> DpResult<crate::abi::FloodStats> {
        stats::floods(&self.inner.lock().await.maps.flood_stats)
    }

    /// Deletes expired conntrack entries (and the service NAT of
    /// connections gone, and fragment entries past the reassembly time)
    /// now; returns how many.
    pub async fn gc(&self) -> DpResult<usize> {
        let mut g = self.inner.lock().await;
        let g = &mut *g;
        let n = crate::gc::sweep(&mut g.maps.conntrack, &self.cfg.conntrack)?;
        let n = n + crate::gc::sweep_nat(&mut g.maps.svc_nat, &g.maps.conntrack)?;
        Ok(n + crate::gc::sweep_frags(&mut g.maps.svc_frags)?)
    }

    /// Runs `frame` (an Ethernet frame) through the loaded `from_endpoint`
    /// classifier as if local endpoint `id` had sent it
    /// (`BPF_PROG_TEST_RUN`: the verdict and the frame as the program left
    /// it; nothing is sent). It has the effects a real packet has on the
    /// maps: a new connection it allows is tracked, counters count.
    pub async fn run_packet(&self, id: &str, frame: &[u8]) -> DpResult<PacketRun> {
        self.time_packet(id, frame, 1).await.map(|(r, _)| r)
    }

    /// [`EbpfDatapath::run_packet`] `repeat` times in the kernel; returns
    /// the last run and the mean time of one run (what a packet of this
    /// kind costs the classifier).
    pub async fn time_packet(
        &self,
        id: &str,
        frame: &[u8],
        repeat: u32,
    ) -> DpResult<(PacketRun, std::time::Duration)> {
        let g = self.inner.lock().await;
        let ifindex = g
            .sides
            .get(id)
            .ok_or_else(|| DpError::InvalidArgument(format!("no local endpoint {id}")))?
            .ifindex;
        // struct __sk_buff up to `ifindex` (offset 40): the packet arrives
        // on the endpoint's host side.
        let mut ctx = [0u8; 44];
        ctx[40..44].copy_from_slice(&ifindex.to_ne_bytes());
        let mut out = vec![0u8; frame.len().max(128) + 64];
        let prog = &g.progs.endpoint.prog;
        let r = crate::plumbing::in_ns(&g.ns, || {
            use aya::programs::{TestRun, TestRunOptions};
            let opts = TestRunOptions {
                data_in: Some(frame),
                data_out: Some(&mut out),
                ctx_in: Some(&ctx),
                repeat: repeat.max(1),
                ..TestRunOptions::default()
            };
            prog.test_run(opts)
                .map(|r| (r.return_value, r.data_size_out, r.duration))
        })
        .map_err(DpError::Backend)?
        .map_err(|e| DpError::Backend(format!("BPF_PROG_TEST_RUN: {e}")))?;
        out.truncate(r.1 as usize);
        Ok((
            PacketRun {
                verdict: r.0 as i32,
                frame: out,
            },
            r.2,
        ))
    }

    /// Tracks the connection (`src`, `sport`) → (`dst`, `dport`) of
    /// protocol `proto` in `tenant` as an allowed, answered one: its
    /// packets, both ways, pass without meeting the rules (ICMP echo: the
    /// ports are its id). For probes and tests of established traffic.
    pub async fn track(
        &self,
        tenant: contiv_core::ir::TenantId,
        proto: u8,
        src: std::net::IpAddr,
        sport: u16,
        dst: std::net::IpAddr,
        dport: u16,
    ) -> DpResult<()> {
        let (k, src_first) = crate::gc::key_of(tenant, proto, src, sport, dst, dport);
        let now = crate::gc::monotonic_ns();
        let e = crate::abi::CtEntry {
            created_ns: now,
            seen_ns: now,
            flags: crate::abi::CT_SEEN_REPLY | if src_first { crate::abi::CT_A_INIT } else { 0 },
            pad: 0,
        };
        let mut g = self.inner.lock().await;
        g.maps
            .conntrack
            .insert(k, e, 0)
            .map_err(|e| DpError::Backend(format!("writing conntrack: {e}")))
    }

    /// Deletes every conntrack entry: existing connections are judged by
    /// the rules again at their next packet. Returns how many were deleted.
    pub async fn flush_conntrack(&self) -> DpResult<usize> {
        let mut g = self.inner.lock().await;
        crate::gc::flush(&mut g.maps.svc_nat)?;
        crate::gc::flush(&mut g.maps.svc_frags)?;
        crate::gc::flush(&mut g.maps.conntrack)
    }

    /// Number of entries in every map, by name (for leak checks and the
    /// status API).
    pub async fn map_sizes(&self) -> DpResult<Vec<(&'static str, usize)>> {
        let g = self.inner.lock().await;
        stats::sizes(&g.maps)
    }
}

#[async_trait]
impl Datapath for EbpfDatapath {
    fn name(&self) -> &'static str {
        "ebpf"
    }

    fn capabilities(&self) -> Capabilities {
        EbpfDatapath::CAPABILITIES
    }

    async fn apply(&self, ops: Vec<DpOp>) -> DpResult<()> {
        let mut g = self.inner.lock().await;
        let mut failed = None;
        for (i, op) in ops.into_iter().enumerate() {
            let shown = op.clone();
            if let Err(e) = g.apply_op(op).await {
                failed = Some(in_op(i, &shown, e));
                break;
            }
        }
        // The host port first: the config entry the flush writes names it.
        if let Err(e) = g.converge_host(&self.cfg, false).await
            && failed.is_none()
        {
            failed = Some(e);
        }
        // Whatever was applied before a failure is realised.
        let flushed = g.flush(&self.cfg);
        if g.tables.has_retired() {
            self.reap_later();
        }
        match failed {
            Some(e) => Err(e),
            None => flushed.map(|_| ()),
        }
    }

    async fn resync(&self, desired: &DesiredState) -> DpResult<ResyncReport> {
        host::check_global(&desired.global)?;
        check_desired_claimed(desired, "eBPF", &EbpfDatapath::CAPABILITIES)?;
        for sv in &desired.services {
            crate::service::check(sv)?;
        }
        let target = HostState::from_desired(desired)?;
        let mut g = self.inner.lock().await;
        let mut added = 0;
        let mut removed = 0;
        let owned_before = g.owned_in_kernel();
        // Interfaces: plumb and attach every wanted endpoint.
        let mut failed: Vec<(String, DpError)> = Vec::new();
        let mut sides = HashMap::new();
        let mut state = target.clone();
        for ep in target.local.values() {
            let Some(net) = target.networks.get(&ep.network) else {
                continue;
            };
            if let Some(old) = g.state.local.get(&ep.id)
                && host::replumb_needed(old, ep)
            {
                let old = old.clone();
                g.devices
                    .remove_endpoint(&old)
                    .await
                    .map_err(DpError::Plumbing)?;
            }
            match g.devices.ensure_endpoint(ep, net).await {
                Ok((ifindex, owned)) => match g.attach_endpoint(ifindex).await {
                    Ok(made) => {
                        added += usize::from(made);
                        // Shapers from the QoS asked now: adopted when they
                        // are as wanted, removed when it went away.
                        match shaping::converge_endpoint(&g.ns, ep).await {
                            Ok(n) if ep.qos.is_some_and(|q| q.rate_kbps > 0) => added += n,
                            Ok(n) => removed += n,
                            Err(e) => {
                                failed.push((ep.id.clone(), DpError::Plumbing(e.to_string())));
                                continue;
                            }
                        }
                        sides.insert(ep.id.clone(), HostSide { ifindex, owned });
                    }
                    Err(e) => failed.push((ep.id.clone(), e)),
                },
                Err(e) => failed.push((ep.id.clone(), DpError::Plumbing(e))),
            }
        }
        for (id, _) in &failed {
            state.local.remove(id);
        }
        // Attachments nobody wants go; so do the veths the datapath made
        // for endpoints that are gone.
        let wanted: BTreeSet<u32> = sides.values().map(|s| s.ifindex).collect();
        let links = g.links.clone();
        for a in attach::list(&links)? {
            let keep = match a.hook {
                // Endpoints: below.
                Hook::Endpoint => true,
                Hook::Vxlan => a.ifindex == g.vxlan_ifindex,
                Hook::Uplink => a.ifindex == g.uplink_ifindex && g.uplink_ifindex != 0,
                // The host port's converge decides.
                Hook::Host => true,
            };
            if !keep {
                attach::remove(&links, a)?;
                removed += 1;
            }
        }
        let attached = attach::endpoints(g.devices.netlink(), &links, &g.maps.ids).await?;
        for i in attached.difference(&wanted) {
            let owned = owned_before.get(i) == Some(&true);
            attach::remove_endpoint(g.devices.netlink(), &links, *i, owned).await?;
            removed += 1;
            if owned {
                let deleted = g.devices.delete_veth(*i).await.map_err(DpError::Plumbing)?;
                removed += usize::from(deleted);
            }
        }
        let gone: Vec<_> = g
            .state
            .local
            .values()
            .filter(|e| !target.local.contains_key(&e.id) && Inner::owns(e))
            .cloned()
            .collect();
        for e in gone {
            g.devices
                .remove_endpoint(&e)
                .await
                .map_err(DpError::Plumbing)?;
        }
        // Maps: every object's entries from the new state, then the diff.
        g.state = state;
        g.sides = sides;
        // The host side is read back, not trusted from memory.
        let hw = g.converge_host(&self.cfg, true).await?;
        added += hw.added;
        removed += hw.removed;
        let kernel_sets = g.maps.set_ids.entries().map_err(DpError::Backend)?;
        g.rebuild(kernel_sets);
        let full = g.full();
        let inner = &mut *g;
        let mut c = inner.tables.resync(&mut inner.maps, full)?;
        c += inner.write_config(&self.cfg)?;
        inner.sets.settle();
        inner.stats.map_writes += c.added as u64;
        inner.stats.map_deletes += c.removed as u64;
        inner.stats.resyncs += 1;
        if inner.tables.has_retired() {
            self.reap_later();
        }
        if let Some((id, e)) = failed.first() {
            let more = match failed.len() {
                1 => String::new(),
                n => format!(" (and {} more endpoints)", n - 1),
            };
            return Err(match e {
                DpError::Plumbing(m) => {
                    DpError::Plumbing(format!("resync: endpoint {id}: {m}{more}"))
                }
                DpError::Backend(m) => {
                    DpError::Backend(format!("resync: endpoint {id}: {m}{more}"))
                }
                other => other.clone(),
            });
        }
        Ok(ResyncReport {
            added: added + c.added,
            removed: removed + c.removed,
            unchanged: c.unchanged,
        })
    }
}
