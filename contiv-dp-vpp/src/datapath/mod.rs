//! [`VppDatapath`]: the [`Datapath`] contract realised in VPP over its
//! binary API (the Contiv-VPP / Calico-VPP way; see [`model`] for the
//! object mapping, [`acl`] and [`npol`] for policy).
//!
//! * Policy has two engines ([`PolicyEngine`], [`VppConfig::policy`]):
//!   the ACL plugin (**the default**: every object dumpable, so resync
//!   reads VPP back) or the npol plugin (ipsets: a join is O(1) calls;
//!   `Auto` picks npol when VPP announces it).
//! * [`Datapath::apply`] validates the operations, derives the VPP objects
//!   the new state needs ([`Model`], ACLs recompiled only for the groups a
//!   policy delta touches), compares them with what it knows VPP holds and
//!   sends only the difference ([`plan`]): an endpoint joining a group is
//!   one `acl_interface_set_acl_list` plus one `acl_add_replace` per local
//!   group whose rules name the joined group (ACL engine), or one
//!   `npol_ipset_add_del_members` plus at most one
//!   `npol_configure_policies` (npol engine), however many rules there are.
//! * [`Datapath::resync`] dumps VPP (interfaces, TAPs, tunnels, bridge
//!   domains, l2fib, ARP termination, neighbours, tables, ACLs and their
//!   interface lists, policers, cnat translations), recognises its objects
//!   by their `cv:` tags, and sends exactly the changes: **no call at all
//!   when nothing differs**; stale objects of ours are removed, everything
//!   else in VPP is left alone.
//! * When VPP restarts or the socket drops, the client reconnects on the
//!   next call and the datapath resyncs from the state it holds.
//! * Services ([`DpOp::AddService`]) are cnat translations, one per VIP
//!   port, with the backends as paths ([`model::services`]): a backend
//!   coming or going is one `cnat_translation_update` per VIP port.
//!   [`Capability::Services`] is **not** claimed: cnat matches VIPs in
//!   table 0 only, and its interface feature does not source-NAT, so a
//!   tenant's clients would not be translated or their replies would
//!   bypass the reverse translation; where it does translate, hairpin
//!   connections come from the gateway and only the backend's port and
//!   any-peer rules judge them (the crate README has the details).
//!
//! ```no_run
//! # async fn demo() -> Result<(), contiv_core::datapath::DpError> {
//! use contiv_core::datapath::{Datapath, DesiredState};
//! use contiv_dp_vpp::datapath::{VppConfig, VppDatapath};
//! let dp = VppDatapath::connect(VppConfig::new("/run/vpp/api.sock")).await?;
//! let report = dp.resync(&DesiredState::default()).await?;
//! println!("{report:?}");
//! # Ok(()) }
//! ```

pub mod acl;
mod config;
pub mod host;
pub mod model;
pub mod names;
pub mod npol;
pub mod observe;
pub mod plan;

pub use config::VppConfig;
pub use model::Model;
pub use npol::PolicyEngine;

use crate::api::types::AclRule;
use crate::client::{Client, ClientError};
use async_trait::async_trait;
use contiv_core::datapath::{
    Capabilities, Capability, Datapath, DesiredState, DpError, DpOp, DpResult, ResyncReport, in_op,
};
use contiv_core::ir::{EpgId, PolicyIr, TenantId};
use host::HostState;
use names::AclKey;
use observe::Observed;
use plan::Action;
use std::collections::{BTreeMap, BTreeSet};
use tokio::sync::Mutex;

/// Counters of what the datapath sent.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct VppStats {
    /// State-changing API calls sent (dumps not counted).
    pub calls: u64,
    /// Resyncs completed (explicit and after reconnects).
    pub resyncs: u64,
    /// Resyncs forced by a reconnect (VPP restarted or the socket dropped).
    pub reconnect_resyncs: u64,
}

struct Inner {
    host: HostState,
    /// What VPP holds; `None` when unknown (start, failure, reconnect).
    obs: Option<Observed>,
    /// The client generation `obs` was read on.
    generation: u64,
    /// Desired ACLs, kept between applies (recompiled per dirty group).
    acls: Acls,
    /// Local groups that have rules (their members' interfaces get ACLs).
    bound: BTreeSet<(TenantId, EpgId)>,
    /// The npol objects this connection created (npol cannot be dumped).
    npol: npol::Ledger,
    stats: VppStats,
}

/// The VPP datapath. See the [module documentation](self).
pub struct VppDatapath {
    cfg: VppConfig,
    client: Client,
    inner: Mutex<Inner>,
}

impl std::fmt::Debug for VppDatapath {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("VppDatapath")
            .field("socket", &self.cfg.socket)
            .finish()
    }
}

fn backend(what: &str, e: ClientError) -> DpError {
    DpError::Backend(format!("VPP {what}: {e}"))
}

/// Desired ACLs by key.
type Acls = BTreeMap<AclKey, Vec<AclRule>>;

/// ACLs of the local groups with rules, compiled from scratch, and those
/// groups.
fn all_acls(h: &HostState) -> (Acls, BTreeSet<(TenantId, EpgId)>) {
    let idx = acl::Index::new(&h.policy);
    let mut acls = BTreeMap::new();
    let mut bound = BTreeSet::new();
    for (t, g) in acl::local_groups(h) {
        if idx.has_rules(t, g) {
            bound.insert((t, g));
            for k in acl::keys_array(t, g) {
                acls.insert(k, idx.compile(&h.policy, k));
            }
        }
    }
    (acls, bound)
}

impl VppDatapath {
    /// What this backend claims (see [`Datapath::capabilities`]).
    pub const CAPABILITIES: Capabilities = Capabilities::of(&[
        Capability::Vxlan,
        Capability::Vlan,
        Capability::StatefulPolicy,
        Capability::Ipv6,
        Capability::ProxyArp,
        Capability::FloodArp,
        Capability::Gateway,
        Capability::Gateway6,
        Capability::QosBandwidth,
        Capability::QosDscp,
    ]);

    /// Connects to VPP's API socket. Nothing is changed: call
    /// [`Datapath::resync`] with the full state next (until then,
    /// [`Datapath::apply`] reads VPP first and adds to what it holds).
    pub async fn connect(cfg: VppConfig) -> DpResult<VppDatapath> {
        let client = Client::new(&cfg.socket, &cfg.client_name).with_timeout(cfg.timeout);
        let table = client.table().await.map_err(|e| {
            DpError::Backend(format!(
                "cannot connect to VPP's API socket {} (is VPP running with `socksvr`?): {e}",
                cfg.socket.display()
            ))
        })?;
        let has_npol = npol::announced(&table);
        let mut cfg = cfg;
        cfg.policy = match (cfg.policy, has_npol) {
            (PolicyEngine::Npol, false) => {
                return Err(DpError::Backend(format!(
                    "VPP at {} does not announce the npol plugin's messages (is `npol_plugin.so` \
                     enabled, in this version?): use the ACL policy engine",
                    cfg.socket.display()
                )));
            }
            (PolicyEngine::Auto, true) | (PolicyEngine::Npol, true) => PolicyEngine::Npol,
            _ => PolicyEngine::Acl,
        };
        tracing::info!(engine = ?cfg.policy, "VPP policy engine");
        Ok(VppDatapath {
            cfg,
            client,
            inner: Mutex::new(Inner {
                host: HostState::default(),
                obs: None,
                generation: 0,
                acls: BTreeMap::new(),
                bound: BTreeSet::new(),
                npol: npol::Ledger::default(),
                stats: VppStats::default(),
            }),
        })
    }

    /// The configuration ([`VppConfig::policy`] resolved at connect: `Acl`
    /// or `Npol`).
    pub fn config(&self) -> &VppConfig {
        &self.cfg
    }

    /// The API client (for reads and diagnostics).
    pub fn client(&self) -> &Client {
        &self.client
    }

    /// Counters.
    pub async fn stats(&self) -> VppStats {
        self.inner.lock().await.stats
    }

    /// The VPP objects the current state needs.
    pub async fn model(&self) -> DpResult<Model> {
        let g = self.inner.lock().await;
        self.desired(&g)
    }

    fn desired(&self, g: &Inner) -> DpResult<Model> {
        let mut m = Model::topology(&g.host, &self.cfg).map_err(DpError::InvalidArgument)?;
        m.acls = g.acls.clone();
        m.bind_acls(&g.host, &g.bound);
        Ok(m)
    }

    /// Brings VPP to the held state: reads VPP first if what it holds is
    /// unknown or the connection changed, then sends the difference. A
    /// connection lost on the way (VPP restarted) is re-established and the
    /// whole state resynced, once.
    async fn sync(&self, g: &mut Inner) -> DpResult<()> {
        let want = self.desired(g)?;
        let mut retried = false;
        loop {
            let lost = !self.client.is_connected().await;
            let fresh = lost || g.obs.is_none() || g.generation != self.client.generation();
            if fresh {
                if g.generation != 0
                    && (retried || lost || g.generation != self.client.generation())
                {
                    g.stats.reconnect_resyncs += 1;
                    tracing::warn!(
                        "the VPP API connection was re-established; resyncing from the held state"
                    );
                }
                g.obs = None;
                let obs = observe::read(&self.client, &want, self.cfg.uplink.as_deref())
                    .await
                    .map_err(|e| backend("dump", e))?;
                g.generation = self.client.generation();
                g.obs = Some(obs);
            }
            let Some(obs) = g.obs.as_mut() else {
                return Err(DpError::Backend("internal: VPP state unknown".into()));
            };
            let actions = plan::plan(&want, obs);
            let res = execute(&self.client, obs, &actions).await;
            g.stats.calls += res.as_ref().map_or_else(|f| f.sent, |n| *n) as u64;
            let res = match res {
                Ok(n) if self.cfg.policy == PolicyEngine::Npol => {
                    let Inner {
                        host,
                        obs,
                        npol: ledger,
                        stats,
                        ..
                    } = &mut *g;
                    npol_step(&self.client, ledger, host, obs.as_ref(), &actions, stats)
                        .await
                        .map(|()| n)
                }
                r => r,
            };
            match res {
                Ok(_) => {
                    if fresh {
                        g.stats.resyncs += 1;
                    }
                    return Ok(());
                }
                Err(f) => {
                    // What VPP holds is no longer certain: read it again.
                    g.obs = None;
                    if f.connection_lost && !retried {
                        retried = true;
                        continue;
                    }
                    return Err(f.error);
                }
            }
        }
    }
}

/// After a plan: brings the npol plugin to the held state (engine
/// `Npol`). A failure leaves the ledger with what succeeded.
async fn npol_step(
    client: &Client,
    ledger: &mut npol::Ledger,
    host: &HostState,
    obs: Option<&Observed>,
    actions: &[Action],
    stats: &mut VppStats,
) -> Result<(), Failed> {
    let Some(obs) = obs else {
        return Err(Failed {
            sent: 0,
            error: DpError::Backend("internal: VPP state unknown".into()),
            connection_lost: false,
        });
    };
    let recreated: BTreeSet<names::IfKey> = actions
        .iter()
        .filter_map(|a| match a {
            Action::Create { key, .. } => Some(key.clone()),
            _ => None,
        })
        .collect();
    let want = npol::compile(host);
    match npol::sync(client, ledger, &want, &obs.ifs, &recreated).await {
        Ok(n) => {
            stats.calls += n;
            Ok(())
        }
        Err((n, e)) => {
            stats.calls += n;
            Err(Failed {
                sent: n as usize,
                connection_lost: matches!(e, ClientError::Disconnected | ClientError::Io(_)),
                error: backend("npol", e),
            })
        }
    }
}

/// Why a plan stopped.
struct Failed {
    /// Calls sent (the failing one included).
    sent: usize,
    error: DpError,
    /// The socket failed (VPP gone or restarted), rather than a refusal.
    connection_lost: bool,
}

/// Sends `actions` in order; returns how many were sent.
async fn execute(client: &Client, obs: &mut Observed, actions: &[Action]) -> Result<usize, Failed> {
    for (i, a) in actions.iter().enumerate() {
        let call = plan::build(a, obs).map_err(|e| Failed {
            sent: i,
            error: DpError::Backend(e),
            connection_lost: false,
        })?;
        let id = call.send(client).await.map_err(|e| Failed {
            sent: i + 1,
            connection_lost: matches!(e, ClientError::Disconnected | ClientError::Io(_)),
            error: backend(call.name(), e),
        })?;
        tracing::trace!(call = call.name(), ?a, "VPP");
        obs.record(a, id);
    }
    Ok(actions.len())
}

#[async_trait]
impl Datapath for VppDatapath {
    fn name(&self) -> &'static str {
        "vpp"
    }

    /// What VPP realises in its state, each shown at state level against
    /// the VPP test server: VXLAN (a tunnel per peer, static l2fib), VLAN
    /// (uplink sub-interfaces), stateful policy (ACL plugin, permit+reflect;
    /// `tests/policy_differential.rs`), IPv6, proxy ARP (ARP termination)
    /// and flooding, the gateways (BVI addresses), QoS bandwidth and DSCP
    /// (policers). **Not** `services` (programmed as cnat translations,
    /// but cnat matches VIPs in table 0 only; see the module docs).
    /// **Not** `forwards_packets`: no VPP runs where this is
    /// tested, so no packet was shown to pass (see the crate README); the
    /// conformance suite's packet scenarios are exempt.
    fn capabilities(&self) -> Capabilities {
        Self::CAPABILITIES
    }

    async fn apply(&self, ops: Vec<DpOp>) -> DpResult<()> {
        let mut g = self.inner.lock().await;
        let before_groups = acl::local_groups(&g.host);
        let mut dirty: BTreeSet<(TenantId, EpgId)> = BTreeSet::new();
        let mut refused = None;
        for (i, op) in ops.iter().enumerate() {
            let prev: Option<PolicyIr> =
                matches!(op, DpOp::Policy(_)).then(|| g.host.policy.clone());
            if let Err(e) = host::check_op(op).and_then(|()| g.host.apply(op)) {
                refused = Some(in_op(i, op, e));
                break;
            }
            if let (DpOp::Policy(d), Some(prev)) = (op, prev) {
                dirty.extend(acl::dirty_groups(&prev, &g.host.policy, d));
            }
        }
        // Groups that gained or lost their last local member.
        let after_groups = acl::local_groups(&g.host);
        dirty.extend(before_groups.symmetric_difference(&after_groups).copied());
        if !dirty.is_empty() && self.cfg.policy == PolicyEngine::Acl {
            let idx = acl::Index::new(&g.host.policy);
            for (t, e) in dirty {
                let keep = after_groups.contains(&(t, e)) && idx.has_rules(t, e);
                for k in acl::keys_array(t, e) {
                    if keep {
                        let rules = idx.compile(&g.host.policy, k);
                        g.acls.insert(k, rules);
                    } else {
                        g.acls.remove(&k);
                    }
                }
                if keep {
                    g.bound.insert((t, e));
                } else {
                    g.bound.remove(&(t, e));
                }
            }
        }
        self.sync(&mut g).await?;
        match refused {
            Some(e) => Err(e),
            None => Ok(()),
        }
    }

    async fn resync(&self, desired: &DesiredState) -> DpResult<ResyncReport> {
        let host = host::from_desired(desired)?;
        let mut g = self.inner.lock().await;
        let (acls, bound) = if self.cfg.policy == PolicyEngine::Acl {
            all_acls(&host)
        } else {
            Default::default()
        };
        g.host = host;
        g.acls = acls;
        g.bound = bound;
        let want = self.desired(&g)?;
        let obs = observe::read(&self.client, &want, self.cfg.uplink.as_deref())
            .await
            .map_err(|e| backend("dump", e))?;
        g.generation = self.client.generation();
        let mut obs = obs;
        let actions = plan::plan(&want, &obs);
        let removed = actions.iter().filter(|a| a.is_removal()).count();
        let res = execute(&self.client, &mut obs, &actions).await;
        g.stats.calls += res.as_ref().map_or_else(|f| f.sent, |n| *n) as u64;
        let mut npol_calls = 0;
        let res = match res {
            Ok(n) if self.cfg.policy == PolicyEngine::Npol => {
                let before = g.stats.calls;
                let Inner {
                    host,
                    npol: ledger,
                    stats,
                    ..
                } = &mut *g;
                let r = npol_step(&self.client, ledger, host, Some(&obs), &actions, stats)
                    .await
                    .map(|()| n);
                npol_calls = (g.stats.calls - before) as usize;
                r
            }
            r => r,
        };
        match res {
            Ok(_) => {
                g.obs = Some(obs);
                g.stats.resyncs += 1;
            }
            Err(f) => {
                g.obs = None;
                return Err(f.error);
            }
        }
        // npol objects are not dumpable: its calls (diffed against what
        // this connection created) count as added.
        let added = actions.len() - removed + npol_calls;
        let total = g.npol.sets.len()
            + g.npol.rules.len()
            + g.npol.policies.len()
            + want.tables.len()
            + want.bds.len()
            + want.ifaces.len()
            + want.l2fib.len()
            + want.arp.len()
            + want.neigh.len()
            + want.acls.len()
            + want.services.len();
        Ok(ResyncReport {
            added,
            removed,
            unchanged: total.saturating_sub(added),
        })
    }
}
