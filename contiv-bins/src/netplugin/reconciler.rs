//! The reconciler: the only writer of the datapath.
//!
//! It holds the view, the policy compiler, the host policy, the local
//! plumbing intents and what the datapath was last given ([`HostState`]).
//! After each batch of watch lines (or a change of intents) it computes
//! the desired state, diffs it against what was applied and sends the
//! difference as one [`Datapath::apply`] call. When a snapshot is
//! installed, and after every reconnect, it calls [`Datapath::resync`] with
//! the full desired state.
//!
//! If a batch fails, its operations are retried one by one so the failing
//! one is known: a refused `AddLocalEndpoint` of an endpoint the agent was
//! asked to plumb marks that intent failed (the waiting ADD sees the
//! error and rolls back); any other failure is retried later with
//! backoff, and a policy failure switches to a full policy diff until the
//! datapath has caught up.

use super::bgp::BgpSpeaker;
use super::desired::{HostDesired, HostIdentity, LocalIntent, desired, global_spec};
use super::dns::DnsAgent;
use super::error::{AgentError, AgentResult};
use super::policy::{HostPolicy, PolicyFeed};
use super::view::{Change, HostView};
use crate::api::WatchLine;
use contiv_core::datapath::{
    Attachment, Datapath, DesiredState, DpOp, LocalEndpoint, ResyncReport,
};
use contiv_core::datapath::{Capability, HostState};
use contiv_core::ir::PolicyDelta;
use std::collections::{BTreeMap, BTreeSet};
use std::sync::{Arc, Mutex as StdMutex};
use std::time::{Duration, Instant};
use tokio::sync::{Mutex, MutexGuard, watch};
use tracing::{debug, info, warn};

/// How long a `Removing` intent is kept at most.
const TOMBSTONE_TTL: Duration = Duration::from_secs(300);

/// A summary of the reconciler's state (for status reports and tests).
#[derive(Clone, Debug, Default, PartialEq)]
pub struct ReconcilerStatus {
    /// A snapshot has been installed.
    pub synced: bool,
    /// The last store revision applied.
    pub revision: u64,
    /// Resyncs done so far.
    pub resyncs: u64,
    /// The report of the last resync.
    pub last_resync: Option<ResyncReport>,
    /// Operations applied so far (outside resyncs).
    pub ops_applied: u64,
    /// Operations the datapath refused so far.
    pub ops_failed: u64,
    /// A retry is pending after a failure.
    pub retry_pending: bool,
    /// Local endpoints whose intent (their netprofile, their network's
    /// external access) the datapath does not enforce, and services
    /// (`service <key>`) it does not realise, with the capabilities it
    /// lacks.
    pub not_enforced: BTreeMap<String, Vec<Capability>>,
    /// Why the datapath cannot realise the global settings (a forwarding
    /// mode it lacks), if it cannot: the agent is then not ready.
    pub mode_refused: Option<String>,
}

struct State {
    view: HostView,
    feed: PolicyFeed,
    host_policy: HostPolicy,
    applied: HostState,
    policy_in_sync: bool,
    intents: BTreeMap<String, LocalIntent>,
    /// Local endpoints to remove even if not applied (a failed plumbing
    /// may have left parts behind).
    purge: BTreeSet<String>,
    resync_needed: bool,
    retry_at: Option<Instant>,
    retry_delay: Duration,
    status: ReconcilerStatus,
}

/// See the [module documentation](self).
pub struct Reconciler {
    dp: Arc<dyn Datapath>,
    me: HostIdentity,
    dns: Option<Arc<DnsAgent>>,
    bgp: Option<Arc<BgpSpeaker>>,
    state: Mutex<State>,
    generation: watch::Sender<u64>,
    status: StdMutex<ReconcilerStatus>,
}

impl std::fmt::Debug for Reconciler {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Reconciler")
            .field("datapath", &self.dp.name())
            .field("host", &self.me.host)
            .finish()
    }
}

impl Reconciler {
    /// A reconciler for host `me` driving `dp`. Nothing is sent to the
    /// datapath before the first snapshot is installed.
    pub fn new(dp: Arc<dyn Datapath>, me: HostIdentity) -> Self {
        Reconciler {
            dp,
            me,
            dns: None,
            bgp: None,
            state: Mutex::new(State {
                view: HostView::default(),
                feed: PolicyFeed::default(),
                host_policy: HostPolicy::default(),
                applied: HostState::default(),
                policy_in_sync: false,
                intents: BTreeMap::new(),
                purge: BTreeSet::new(),
                resync_needed: true,
                retry_at: None,
                retry_delay: Duration::from_millis(200),
                status: ReconcilerStatus::default(),
            }),
            generation: watch::channel(0).0,
            status: StdMutex::new(ReconcilerStatus::default()),
        }
    }

    /// Adds the built-in DNS: its endpoints join the desired state and its
    /// name tables follow the view (see [`super::dns`]).
    pub fn with_dns(mut self, dns: Arc<DnsAgent>) -> Self {
        self.dns = Some(dns);
        self
    }

    /// The built-in DNS, if served.
    pub fn dns(&self) -> Option<&Arc<DnsAgent>> {
        self.dns.as_ref()
    }

    /// Adds the BGP speaker: the fabric and the routes it learned join the
    /// desired state, and it is told what the datapath holds after every
    /// pass (see [`super::bgp`]).
    pub fn with_bgp(mut self, bgp: Arc<BgpSpeaker>) -> Self {
        self.bgp = Some(bgp);
        self
    }

    /// The BGP speaker, if any.
    pub fn bgp(&self) -> Option<&Arc<BgpSpeaker>> {
        self.bgp.as_ref()
    }

    /// This host.
    pub fn identity(&self) -> &HostIdentity {
        &self.me
    }

    /// The desired state of `st` with the DNS endpoints; `create` makes
    /// their namespaces exist first (before the datapath is told).
    fn host_desired(&self, st: &State, create: bool) -> HostDesired {
        let mut hd = desired(&st.view, &self.me, &st.intents);
        if let Some(d) = &self.dns {
            d.augment(&mut hd.state, self.me.mtu, create);
        }
        if let Some(b) = &self.bgp {
            b.augment(&mut hd.state, &st.view);
        }
        hd
    }

    /// The datapath.
    pub fn datapath(&self) -> &Arc<dyn Datapath> {
        &self.dp
    }

    /// The current status (never blocks on a running pass).
    pub fn status(&self) -> ReconcilerStatus {
        self.status
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .clone()
    }

    /// Runs `f` on the current view.
    pub async fn with_view<T>(&self, f: impl FnOnce(&HostView) -> T) -> T {
        f(&self.state.lock().await.view)
    }

    /// What the datapath was last given.
    pub async fn applied(&self) -> HostState {
        self.state.lock().await.applied.clone()
    }

    /// The full desired state now (policy included).
    pub async fn desired_state(&self) -> DesiredState {
        let st = self.state.lock().await;
        let mut d = self.host_desired(&st, false).state;
        d.policy = st.host_policy.ir().clone();
        d
    }

    /// The published ports of the desired state now: those of endpoints
    /// being removed are gone already, although their records may still
    /// be in the view.
    pub async fn desired_published(&self) -> Vec<contiv_core::datapath::PublishedPort> {
        let st = self.state.lock().await;
        self.host_desired(&st, false).state.published
    }

    /// Replaces the view with a fresh snapshot, rebuilds the compiler and
    /// resyncs the datapath.
    pub async fn install_snapshot(&self, view: HostView) {
        let mut st = self.state.lock().await;
        info!(
            revision = view.revision,
            endpoints = view.endpoints.len(),
            "installing a snapshot of netmaster's state"
        );
        // Tombstones of endpoints the snapshot no longer has are done.
        let present: BTreeSet<&str> = view.endpoints.values().map(|e| e.id.as_str()).collect();
        st.intents.retain(|id, i| {
            !matches!(i, LocalIntent::Removing { .. }) || present.contains(id.as_str())
        });
        st.feed = PolicyFeed::from_view(&view);
        if let Some(d) = &self.dns {
            d.rebuild(&view);
        }
        st.view = view;
        let hd = self.host_desired(&st, true);
        st.host_policy = HostPolicy::new(
            st.feed.ir(),
            hd.local_epgs.clone(),
            hd.local_tenants.clone(),
        );
        st.status.synced = true;
        st.resync_needed = true;
        self.pass(&mut st, hd, PolicyDelta::default()).await;
    }

    /// Applies watch lines and realises the result.
    pub async fn apply_lines(&self, lines: &[WatchLine]) {
        let mut st = self.state.lock().await;
        let mut changes = Vec::new();
        for l in lines {
            if let Some(c) = st.view.apply(l) {
                if let (WatchLine::Delete { .. }, Change::Endpoint(k)) = (l, &c)
                    && let Some((_, id)) = k.split_once('/')
                    && matches!(st.intents.get(id), Some(LocalIntent::Removing { .. }))
                {
                    st.intents.remove(id);
                }
                changes.push(c);
            }
        }
        if let Some(d) = &self.dns {
            d.update(&st.view, &changes);
        }
        if !st.status.synced {
            return;
        }
        let full_delta = {
            let State { view, feed, .. } = &mut *st;
            feed.update(view, &changes)
        };
        let hd = self.host_desired(&st, true);
        self.pass(&mut st, hd, full_delta).await;
    }

    /// Notes that the stream reached `rev` (progress lines).
    pub async fn set_revision(&self, rev: u64) {
        let mut st = self.state.lock().await;
        st.view.revision = st.view.revision.max(rev);
        st.status.revision = st.view.revision;
        self.publish(&st);
    }

    /// Resyncs the datapath with the full desired state now (after a
    /// reconnect).
    pub async fn resync(&self) {
        let mut st = self.state.lock().await;
        if !st.status.synced {
            return;
        }
        st.resync_needed = true;
        let hd = self.host_desired(&st, true);
        self.pass(&mut st, hd, PolicyDelta::default()).await;
    }

    /// Re-evaluates the desired state (after an intent changed, or to
    /// retry after a failure).
    pub async fn kick(&self) {
        let mut st = self.state.lock().await;
        if !st.status.synced {
            return;
        }
        let hd = self.host_desired(&st, true);
        self.pass(&mut st, hd, PolicyDelta::default()).await;
    }

    /// Periodic housekeeping: retries after failures, expires old
    /// tombstones.
    pub async fn tick(&self) {
        let due = {
            let mut st = self.state.lock().await;
            let now = Instant::now();
            let before = st.intents.len();
            let State { intents, view, .. } = &mut *st;
            intents.retain(|id, i| match i {
                // A tombstone stays while netmaster still has the record.
                LocalIntent::Removing { since } => {
                    now.duration_since(*since) < TOMBSTONE_TTL || view.endpoint_by_id(id).is_some()
                }
                LocalIntent::Plumb { .. } => true,
            });
            let expired = before != st.intents.len();
            expired || st.retry_at.is_some_and(|t| t <= now)
        };
        if due {
            self.kick().await;
        }
    }

    /// Sets the plumbing intent of endpoint `id` (before it is created at
    /// netmaster, so the stream finds it).
    /// Returns the previous intent.
    pub async fn set_intent(&self, id: &str, intent: LocalIntent) -> Option<LocalIntent> {
        let mut st = self.state.lock().await;
        st.intents.insert(id.to_owned(), intent)
    }

    /// Puts back an intent [`set_intent`](Self::set_intent) replaced
    /// (`None`: no intent) and re-evaluates.
    pub async fn restore_intent(&self, id: &str, previous: Option<LocalIntent>) {
        {
            let mut st = self.state.lock().await;
            match previous {
                Some(i) => st.intents.insert(id.to_owned(), i),
                None => st.intents.remove(id),
            };
        }
        self.kick().await;
    }

    /// Marks endpoint `id` as being removed and removes it from the
    /// datapath (also if it was never fully plumbed). Waits for the pass.
    pub async fn remove_local(&self, id: &str) -> AgentResult<()> {
        let mut st = self.state.lock().await;
        st.intents.insert(
            id.to_owned(),
            LocalIntent::Removing {
                since: Instant::now(),
            },
        );
        st.purge.insert(id.to_owned());
        if !st.status.synced {
            // The first resync converges without it (it is excluded).
            return Ok(());
        }
        let hd = self.host_desired(&st, true);
        self.pass(&mut st, hd, PolicyDelta::default()).await;
        if st.applied.local.contains_key(id) || st.purge.contains(id) {
            return Err(AgentError::datapath(format!(
                "the datapath did not remove endpoint {id} yet; it will be retried"
            )));
        }
        Ok(())
    }

    /// Forgets a `Plumb` intent (its endpoint is gone).
    pub async fn forget_plumb(&self, id: &str) {
        let mut st = self.state.lock().await;
        if matches!(st.intents.get(id), Some(LocalIntent::Plumb { .. })) {
            st.intents.remove(id);
        }
    }

    /// Forgets the `Removing` tombstone of `id` if the view has no record
    /// of it (nothing late can bring it back).
    pub async fn forget_if_absent(&self, id: &str) {
        let mut st = self.state.lock().await;
        if st.view.endpoint_by_id(id).is_none()
            && matches!(st.intents.get(id), Some(LocalIntent::Removing { .. }))
        {
            st.intents.remove(id);
        }
    }

    /// Waits until endpoint `id` is plumbed as intended (and, if given,
    /// with address `ipv4`), or its plumbing failed, or `timeout`.
    pub async fn wait_plumbed(
        &self,
        id: &str,
        ipv4: Option<std::net::Ipv4Addr>,
        timeout: Duration,
    ) -> AgentResult<LocalEndpoint> {
        let mut rx = self.generation.subscribe();
        let deadline = tokio::time::Instant::now() + timeout;
        loop {
            rx.borrow_and_update();
            {
                let st = self.state.lock().await;
                match st.intents.get(id) {
                    Some(LocalIntent::Plumb { error: Some(e), .. }) => {
                        return Err(AgentError::datapath(format!(
                            "the datapath could not plumb endpoint {id}: {e}"
                        )));
                    }
                    Some(LocalIntent::Plumb { attachment, .. }) => {
                        if let Some(le) = st.applied.local.get(id)
                            && le.attachment == *attachment
                            && ipv4.is_none_or(|a| le.ipv4.map(|n| n.addr()) == Some(a))
                        {
                            return Ok(le.clone());
                        }
                    }
                    Some(LocalIntent::Removing { .. }) => {
                        return Err(AgentError::conflict(format!(
                            "endpoint {id} is being removed by a concurrent request"
                        )));
                    }
                    None => {}
                }
            }
            if tokio::time::timeout_at(deadline, rx.changed())
                .await
                .is_err()
            {
                return Err(AgentError::unavailable(format!(
                    "endpoint {id} was not realised within {}s (is netmaster's watch stream flowing?); retry",
                    timeout.as_secs()
                )));
            }
        }
    }

    /// The applied local endpoint `id`, if any.
    pub async fn local_endpoint(&self, id: &str) -> Option<LocalEndpoint> {
        self.state.lock().await.applied.local.get(id).cloned()
    }

    fn publish(&self, st: &State) {
        *self.status.lock().unwrap_or_else(|e| e.into_inner()) = st.status.clone();
        self.generation.send_modify(|g| *g += 1);
    }

    fn schedule_retry(st: &mut State) {
        let now = Instant::now();
        st.retry_at = Some(now + st.retry_delay);
        st.retry_delay = (st.retry_delay * 2).min(Duration::from_secs(30));
        st.status.retry_pending = true;
    }

    fn clear_retry(st: &mut State) {
        st.retry_at = None;
        st.retry_delay = Duration::from_millis(200);
        st.status.retry_pending = false;
    }

    /// One reconciliation pass (the lock is held by the caller): the
    /// datapath, then the DNS servers of what it holds, then the status.
    async fn pass(&self, st: &mut MutexGuard<'_, State>, hd: HostDesired, full_delta: PolicyDelta) {
        self.pass_datapath(st, hd, full_delta).await;
        if let Some(d) = &self.dns {
            d.realise(&st.applied).await;
        }
        if let Some(b) = &self.bgp {
            b.realise(&st.applied, &st.view);
        }
        self.track_not_enforced(st);
        self.track_mode(st);
        self.publish(st);
    }

    /// Records whether the datapath can realise the global settings, and
    /// says so once when that changes.
    fn track_mode(&self, st: &mut State) {
        let refused = global_spec(&st.view).refusal(self.dp.name(), &self.dp.capabilities());
        if refused != st.status.mode_refused {
            match &refused {
                Some(why) => warn!(
                    datapath = self.dp.name(),
                    "{why}: the agent reports not ready until the mode changes"
                ),
                None if st.status.mode_refused.is_some() => {
                    info!("the datapath realises the forwarding mode again")
                }
                None => {}
            }
            st.status.mode_refused = refused;
        }
    }

    /// Records which applied endpoints ask for what the datapath does not
    /// enforce, and says so once per endpoint (again if it changes).
    fn track_not_enforced(&self, st: &mut State) {
        let caps = self.dp.capabilities();
        let applied = &st.applied;
        let clashes = if caps.has(Capability::EgressNatOverlapping) {
            BTreeSet::new()
        } else {
            applied.external_address_clashes()
        };
        let mut now: BTreeMap<String, Vec<Capability>> = applied
            .local
            .values()
            .filter_map(|e| {
                let mut missing = e.qos.map(|q| q.not_enforced(&caps)).unwrap_or_default();
                if applied.networks.get(&e.network).is_some_and(|n| n.external) {
                    missing
                        .extend(caps.missing(&[Capability::EgressNat, Capability::PublishedPorts]));
                }
                if clashes.contains(&e.id) {
                    missing.push(Capability::EgressNatOverlapping);
                }
                (!missing.is_empty()).then(|| (e.id.clone(), missing))
            })
            .collect();
        // Services are realised where their clients are: on every host.
        // A UDP service also needs its fragmented datagrams translated.
        for (k, svc) in &applied.services {
            let missing = if !caps.has(Capability::Services) {
                vec![Capability::Services]
            } else if svc
                .ports
                .iter()
                .any(|p| p.protocol == contiv_core::datapath::ServiceProtocol::Udp)
            {
                caps.missing(&[Capability::ServiceFragments])
            } else {
                Vec::new()
            };
            if !missing.is_empty() {
                now.insert(format!("service {k}"), missing);
            }
        }
        for (id, missing) in &now {
            if st.status.not_enforced.get(id) != Some(missing) {
                let names: Vec<&str> = missing.iter().map(|c| c.name()).collect();
                warn!(
                    endpoint = %id,
                    datapath = self.dp.name(),
                    not_enforced = %names.join(","),
                    "not enforced by this datapath (the endpoint's netprofile or external access, or a service)"
                );
            }
        }
        st.status.not_enforced = now;
    }

    /// The datapath part of [`pass`](Self::pass).
    async fn pass_datapath(
        &self,
        st: &mut MutexGuard<'_, State>,
        hd: HostDesired,
        full_delta: PolicyDelta,
    ) {
        let policy_delta = {
            let State {
                feed, host_policy, ..
            } = &mut **st;
            host_policy.update(feed.ir(), &full_delta, &hd.local_epgs, &hd.local_tenants)
        };
        let mut target = hd.state;
        st.status.revision = st.view.revision;
        if st.resync_needed {
            target.policy = st.host_policy.ir().clone();
            self.do_resync(st, target).await;
            return;
        }
        let pol = if st.policy_in_sync {
            policy_delta
        } else {
            st.applied.policy.diff(st.host_policy.ir())
        };
        let mut ops = st.applied.diff(&target, pol);
        let wanted: BTreeSet<&str> = target
            .local_endpoints
            .iter()
            .map(|e| e.id.as_str())
            .collect();
        let purge: Vec<String> = st
            .purge
            .iter()
            .filter(|id| !wanted.contains(id.as_str()) && !st.applied.local.contains_key(*id))
            .cloned()
            .collect();
        for id in purge.iter().rev() {
            ops.insert(0, DpOp::RemoveLocalEndpoint(id.clone()));
        }
        if ops.is_empty() {
            st.purge.clear();
            Self::clear_retry(st);
            return;
        }
        debug!(ops = ops.len(), "applying datapath operations");
        let n = ops.len() as u64;
        match self.dp.apply(ops.clone()).await {
            Ok(()) => {
                for op in &ops {
                    st.applied.record(op);
                }
                st.policy_in_sync = true;
                st.purge.clear();
                st.status.ops_applied += n;
                Self::clear_retry(st);
            }
            Err(e) => {
                warn!(error = %e, "datapath refused a batch; retrying its operations one by one");
                let mut failed = false;
                for op in ops {
                    match self.dp.apply(vec![op.clone()]).await {
                        Ok(()) => {
                            if let DpOp::RemoveLocalEndpoint(id) = &op {
                                st.purge.remove(id);
                            }
                            if matches!(op, DpOp::Policy(_)) {
                                st.policy_in_sync = true;
                            }
                            st.applied.record(&op);
                            st.status.ops_applied += 1;
                        }
                        Err(e) => {
                            st.status.ops_failed += 1;
                            failed |= self.failed_op(st, &op, &e.to_string());
                        }
                    }
                }
                if failed {
                    Self::schedule_retry(st);
                } else {
                    Self::clear_retry(st);
                }
            }
        }
    }

    /// Handles a refused operation; true if it should be retried later.
    fn failed_op(&self, st: &mut State, op: &DpOp, err: &str) -> bool {
        match op {
            DpOp::AddLocalEndpoint(le) => match st.intents.get_mut(&le.id) {
                Some(LocalIntent::Plumb { error, .. }) => {
                    warn!(endpoint = %le.id, error = err, "the datapath refused to plumb an endpoint");
                    *error = Some(err.to_owned());
                    false
                }
                _ => {
                    warn!(endpoint = %le.id, error = err, "the datapath refused an existing endpoint; will retry");
                    true
                }
            },
            DpOp::Policy(_) => {
                warn!(
                    error = err,
                    "the datapath refused a policy delta; will retry with a full diff"
                );
                st.policy_in_sync = false;
                true
            }
            other => {
                warn!(op = ?std::mem::discriminant(other), error = err, "a datapath operation failed; will retry");
                true
            }
        }
    }

    async fn do_resync(&self, st: &mut State, mut target: DesiredState) {
        for attempt in 0..2 {
            match self.dp.resync(&target).await {
                Ok(report) => {
                    info!(
                        added = report.added,
                        removed = report.removed,
                        unchanged = report.unchanged,
                        "datapath resynced"
                    );
                    st.applied = HostState::from_desired_unchecked(&target);
                    st.policy_in_sync = true;
                    st.resync_needed = false;
                    st.purge.clear();
                    st.status.resyncs += 1;
                    st.status.last_resync = Some(report);
                    Self::clear_retry(st);
                    return;
                }
                Err(e) => {
                    warn!(error = %e, "datapath resync failed");
                    // Fresh plumbing requests are the likely culprits: fail
                    // them (their ADDs roll back) and try once more.
                    let mut dropped = false;
                    if attempt == 0 {
                        for le in &target.local_endpoints {
                            if le.attachment != Attachment::Existing
                                && let Some(LocalIntent::Plumb { error, .. }) =
                                    st.intents.get_mut(&le.id)
                                && error.is_none()
                            {
                                *error = Some(format!("resync failed: {e}"));
                                dropped = true;
                            }
                        }
                    }
                    if !dropped {
                        break;
                    }
                    let keep: BTreeSet<String> = st
                        .intents
                        .iter()
                        .filter(|(_, i)| matches!(i, LocalIntent::Plumb { error: Some(_), .. }))
                        .map(|(k, _)| k.clone())
                        .collect();
                    target.local_endpoints.retain(|e| !keep.contains(&e.id));
                }
            }
        }
        st.resync_needed = true;
        Self::schedule_retry(st);
    }
}
