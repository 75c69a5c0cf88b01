//! netmaster's in-memory view of the store, kept current by a store watch.
//!
//! Every netmaster (leader or follower) loads the whole key space under the
//! root prefix once, then follows a watch from the listing's revision. Reads
//! (REST GET, inspect, validation of new requests) are answered from here.
//! A writer commits to the store and then waits until the cache has seen its
//! revision ([`Cache::wait_for`]), so a client reads its own writes and the
//! cache stays the single view every check runs against.
//!
//! **Reads take no lock while they read.** The view is an immutable
//! [`ClusterView`] behind an `Arc`: [`Cache::read`] clones the `Arc` (a
//! pointer copy under a lock held for nanoseconds) and the reader keeps that
//! snapshot as long as it likes — a list of 10,000 networks being encoded
//! never delays the follower that applies the next commit. The follower
//! builds the next view from the current one: the maps are persistent
//! ([`imbl::OrdMap`] with `Arc` values), so a clone is O(1) and applying a
//! change copies only the path to it.
//!
//! **Watch lines are encoded here, once.** While applying a batch of store
//! events the follower encodes each streamed change as its watch line and,
//! after publishing the new revision (which answers the writers waiting in
//! [`Cache::wait_for`] first), appends the lines to the shared
//! [`Fanout`] log every agent's stream reads from (see [`super::watch`]).

use super::fanout::{Fanout, LogEntry};
use contiv_core::model::{
    AciGw, AppProfile, Bgp, EndpointGroup, ExtContractsGroup, Global, ModelObject, Netprofile,
    Network, Policy, Rule, ServiceLB, Tenant,
};
use contiv_core::records::{
    EndpointRecord, EpgState, NetworkState, NodeRecord, ServiceState, TenantState,
};
use contiv_core::store::keys::Keys;
use contiv_core::store::{
    EventKind, KeyValue, Revision, StateStore, StoreError, StoreResult, decode_json,
};
use futures::{FutureExt, StreamExt};
use serde::de::DeserializeOwned;
use std::sync::{Arc, RwLock};
use std::time::Duration;
use tokio::sync::watch;
use tracing::{debug, info, warn};

/// A map of the view: object key → value, in key order, persistent (a
/// clone shares every node; see the module docs).
pub type Map<T> = imbl::OrdMap<String, Arc<T>>;

/// Everything netmaster knows, as typed maps keyed by object key.
#[derive(Clone, Debug, Default)]
pub struct ClusterView {
    /// Tenants by name.
    pub tenants: Map<Tenant>,
    /// Networks by `tenant:network`.
    pub networks: Map<Network>,
    /// Endpoint groups by `tenant:group`.
    pub epgs: Map<EndpointGroup>,
    /// Policies by `tenant:policy`.
    pub policies: Map<Policy>,
    /// Rules by `tenant:policy:rule`.
    pub rules: Map<Rule>,
    /// App profiles by `tenant:name`.
    pub app_profiles: Map<AppProfile>,
    /// Netprofiles by `tenant:name`.
    pub netprofiles: Map<Netprofile>,
    /// Services by `tenant:name`.
    pub service_lbs: Map<ServiceLB>,
    /// BGP configs by hostname.
    pub bgps: Map<Bgp>,
    /// External contract groups by `tenant:name`.
    pub ext_contracts: Map<ExtContractsGroup>,
    /// Global settings (key `global`).
    pub globals: Map<Global>,
    /// ACI gateway settings (key `aciGw`).
    pub aci_gws: Map<AciGw>,
    /// Tenant ids by tenant name.
    pub tenant_states: Map<TenantState>,
    /// Allocated tags by network key.
    pub network_states: Map<NetworkState>,
    /// EPG ids by group key.
    pub epg_states: Map<EpgState>,
    /// Service VIPs by service key.
    pub service_states: Map<ServiceState>,
    /// Endpoints by `tenant:network/endpoint-id`.
    pub endpoints: Map<EndpointRecord>,
    /// Registered nodes by hostname.
    pub nodes: Map<NodeRecord>,
    /// Mod revision of every key above, by full store key (for
    /// compare-and-swap preconditions).
    pub revs: imbl::HashMap<String, Revision>,
    /// The store revision this view reflects.
    pub revision: Revision,
}

impl ClusterView {
    /// The global settings (`None` before netmaster initialised them).
    pub fn global(&self) -> Option<&Global> {
        self.globals.get("global").map(|g| &**g)
    }

    /// Networks of a tenant.
    pub fn networks_of<'a>(&'a self, tenant: &'a str) -> impl Iterator<Item = &'a Network> + 'a {
        values(&self.networks).filter(move |n| n.tenant_name == tenant)
    }

    /// Endpoint groups on a network (by network key).
    pub fn epgs_on<'a>(
        &'a self,
        tenant: &'a str,
        network: &'a str,
    ) -> impl Iterator<Item = &'a EndpointGroup> + 'a {
        values(&self.epgs).filter(move |g| g.tenant_name == tenant && g.network_name == network)
    }

    /// Endpoint groups that attach a policy.
    pub fn epgs_using_policy<'a>(
        &'a self,
        tenant: &'a str,
        policy: &'a str,
    ) -> impl Iterator<Item = &'a EndpointGroup> + 'a {
        values(&self.epgs)
            .filter(move |g| g.tenant_name == tenant && g.policies.iter().any(|p| p == policy))
    }

    /// Rules of a policy (by tenant and policy name).
    pub fn rules_of<'a>(
        &'a self,
        tenant: &'a str,
        policy: &'a str,
    ) -> impl Iterator<Item = &'a Rule> + 'a {
        prefixed(&self.rules, format!("{tenant}:{policy}:"))
    }

    /// Endpoints on a network.
    pub fn endpoints_on<'a>(
        &'a self,
        network_key: &str,
    ) -> impl Iterator<Item = &'a EndpointRecord> + 'a {
        prefixed(&self.endpoints, format!("{network_key}/"))
    }

    /// Endpoints in an endpoint group.
    pub fn endpoints_in_group<'a>(
        &'a self,
        tenant: &'a str,
        group: &'a str,
    ) -> impl Iterator<Item = &'a EndpointRecord> + 'a {
        values(&self.endpoints).filter(move |e| e.tenant == tenant && e.group == group)
    }

    /// Endpoints of a tenant.
    pub fn endpoints_of_tenant<'a>(
        &'a self,
        tenant: &'a str,
    ) -> impl Iterator<Item = &'a EndpointRecord> + 'a {
        values(&self.endpoints).filter(move |e| e.tenant == tenant)
    }

    /// The mod revision of a full store key, if the view holds it.
    pub fn rev(&self, key: &str) -> Option<Revision> {
        self.revs.get(key).copied()
    }

    /// Applies one store change. Returns false if the key is not ours.
    pub(crate) fn apply(&mut self, keys: &Keys, kind: EventKind, kv: &KeyValue) -> bool {
        let applied = self.apply_typed(keys, kind, kv);
        if applied {
            if kind == EventKind::Put {
                self.revs.insert(kv.key.clone(), kv.mod_revision);
            } else {
                self.revs.remove(&kv.key);
            }
        }
        applied
    }

    fn apply_typed(&mut self, keys: &Keys, kind: EventKind, kv: &KeyValue) -> bool {
        let Some(rest) = kv.key.strip_prefix(keys.root()) else {
            return false;
        };
        let put = kind == EventKind::Put;
        if let Some(obj) = rest.strip_prefix("obj/") {
            let Some((ty, key)) = obj.split_once('/') else {
                return false;
            };
            match ty {
                Tenant::TYPE => upsert(&mut self.tenants, key, put, kv),
                Network::TYPE => upsert(&mut self.networks, key, put, kv),
                EndpointGroup::TYPE => upsert(&mut self.epgs, key, put, kv),
                Policy::TYPE => upsert(&mut self.policies, key, put, kv),
                Rule::TYPE => upsert(&mut self.rules, key, put, kv),
                AppProfile::TYPE => upsert(&mut self.app_profiles, key, put, kv),
                Netprofile::TYPE => upsert(&mut self.netprofiles, key, put, kv),
                ServiceLB::TYPE => upsert(&mut self.service_lbs, key, put, kv),
                Bgp::TYPE => upsert(&mut self.bgps, key, put, kv),
                ExtContractsGroup::TYPE => upsert(&mut self.ext_contracts, key, put, kv),
                Global::TYPE => upsert(&mut self.globals, key, put, kv),
                AciGw::TYPE => upsert(&mut self.aci_gws, key, put, kv),
                _ => return false,
            }
        } else if let Some(oper) = rest.strip_prefix("oper/") {
            let Some((ty, key)) = oper.split_once('/') else {
                return false;
            };
            match ty {
                Tenant::TYPE => upsert(&mut self.tenant_states, key, put, kv),
                Network::TYPE => upsert(&mut self.network_states, key, put, kv),
                EndpointGroup::TYPE => upsert(&mut self.epg_states, key, put, kv),
                ServiceLB::TYPE => upsert(&mut self.service_states, key, put, kv),
                _ => return false,
            }
        } else if let Some(ep) = rest.strip_prefix("ep/") {
            upsert(&mut self.endpoints, ep, put, kv)
        } else if let Some(node) = rest.strip_prefix("node/") {
            upsert(&mut self.nodes, node, put, kv)
        } else {
            return false;
        }
        true
    }
}

/// The values of a map, by reference.
pub fn values<T>(map: &Map<T>) -> impl Iterator<Item = &T> + '_ {
    map.values().map(|v| &**v)
}

/// The values of a map whose keys start with `prefix`, in key order.
fn prefixed<T>(map: &Map<T>, prefix: String) -> impl Iterator<Item = &T> + '_ {
    map.range(prefix.clone()..)
        .take_while(move |(k, _)| k.starts_with(&prefix))
        .map(|(_, v)| &**v)
}

fn upsert<T: DeserializeOwned>(map: &mut Map<T>, key: &str, put: bool, kv: &KeyValue) {
    if !put {
        map.remove(key);
        return;
    }
    match decode_json::<T>(kv) {
        Ok(v) => {
            map.insert(key.to_owned(), Arc::new(v));
        }
        // A value we cannot decode is logged and skipped, never fatal: one
        // bad record must not take the control plane down.
        Err(e) => warn!(key = %kv.key, error = %e, "ignoring undecodable record"),
    }
}

/// The cache: the current [`ClusterView`] snapshot, a revision notifier
/// and the encoded change log of the watch streams.
pub struct Cache {
    view: RwLock<Arc<ClusterView>>,
    rev_tx: watch::Sender<Revision>,
    keys: Keys,
    fanout: Arc<Fanout>,
    /// The tasks that follow the store and tick progress lines.
    tasks: std::sync::Mutex<Vec<tokio::task::AbortHandle>>,
}

impl Cache {
    /// Loads everything under the layout's root and starts following the
    /// store; the watch streams' log holds the last `window` lines. The
    /// returned cache is current as of the load.
    pub async fn start(
        store: Arc<dyn StateStore>,
        keys: Keys,
        window: usize,
    ) -> StoreResult<Arc<Cache>> {
        let (rev_tx, _) = watch::channel(0);
        let cache = Arc::new(Cache {
            view: RwLock::new(Arc::new(ClusterView::default())),
            rev_tx,
            keys,
            fanout: Arc::new(Fanout::with_window(window)),
            tasks: std::sync::Mutex::new(Vec::new()),
        });
        let rev = cache.reload(store.as_ref()).await?;
        let follower = cache.clone();
        let follow = tokio::spawn(async move { follower.follow(store, rev).await });
        let ticker = tokio::spawn(Fanout::tick_progress(
            cache.fanout.clone(),
            super::watch::PROGRESS_INTERVAL,
        ));
        *cache
            .tasks
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner) =
            vec![follow.abort_handle(), ticker.abort_handle()];
        Ok(cache)
    }

    /// Stops following the store (the view stays as it is) and ends every
    /// watch stream. The follower task holds the store; stopping it lets an
    /// embedded store file close.
    pub fn stop(&self) {
        for t in self
            .tasks
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .drain(..)
        {
            t.abort();
        }
        self.fanout.close();
    }

    /// Replaces the view with a fresh listing; returns its revision. Watch
    /// streams cannot be continued across it (they are told to resync).
    async fn reload(&self, store: &dyn StateStore) -> StoreResult<Revision> {
        let list = store.list(self.keys.root()).await?;
        let mut view = ClusterView::default();
        for kv in &list.kvs {
            view.apply(&self.keys, EventKind::Put, kv);
        }
        view.revision = list.revision;
        let rev = list.revision;
        let count = list.kvs.len();
        *self.view.write().unwrap_or_else(|p| p.into_inner()) = Arc::new(view);
        self.rev_tx.send_replace(rev);
        self.fanout.reset(rev);
        info!(revision = rev, keys = count, "cache loaded");
        Ok(rev)
    }

    /// Follows the store forever: applies watch events; on a compacted
    /// watch, re-lists; on a broken one, resumes from the last revision.
    ///
    /// Events that are ready together are applied to one new view, which
    /// is published once the stream has nothing more ready, so a waiter
    /// never sees half of a transaction (backends deliver a transaction's
    /// events together). The batch's watch lines are appended to the
    /// fan-out log after the revision is published.
    async fn follow(self: Arc<Self>, store: Arc<dyn StateStore>, mut rev: Revision) {
        let root = self.keys.root().to_owned();
        loop {
            let mut reload = false;
            match store.watch(&root, Some(rev + 1)).await {
                Ok(mut stream) => {
                    while let Some(first) = stream.next().await {
                        let mut batch = vec![first];
                        while batch.len() < 4096 {
                            match stream.next().now_or_never() {
                                Some(Some(item)) => batch.push(item),
                                _ => break,
                            }
                        }
                        let mut failed = None;
                        let mut lines: Vec<LogEntry> = Vec::new();
                        let mut view = ClusterView::clone(&self.read());
                        for item in batch {
                            match item {
                                Ok(ev) => {
                                    view.apply(&self.keys, ev.kind, &ev.kv);
                                    rev = rev.max(ev.revision());
                                    if let Some(line) = super::fanout::encode_event(&root, &ev) {
                                        lines.push(line);
                                    }
                                }
                                Err(e) => {
                                    failed = Some(e);
                                    break;
                                }
                            }
                        }
                        view.revision = rev;
                        *self.view.write().unwrap_or_else(|p| p.into_inner()) = Arc::new(view);
                        // Writers waiting for their commit go first; then
                        // the agents' streams.
                        self.publish(rev);
                        self.fanout.append(lines, rev);
                        match failed {
                            None => {}
                            Some(StoreError::Compacted { .. }) => {
                                warn!("cache watch fell behind compaction; reloading");
                                reload = true;
                                break;
                            }
                            Some(e) => {
                                warn!(error = %e, "cache watch broke; resuming");
                                break;
                            }
                        }
                    }
                }
                Err(StoreError::Compacted { .. }) => reload = true,
                Err(e) => {
                    warn!(error = %e, "cannot watch the store; retrying");
                    tokio::time::sleep(Duration::from_millis(200)).await;
                }
            }
            if reload {
                match self.reload(store.as_ref()).await {
                    Ok(r) => rev = r,
                    Err(e) => {
                        warn!(error = %e, "reload failed; retrying");
                        tokio::time::sleep(Duration::from_millis(200)).await;
                    }
                }
            }
            debug!(revision = rev, "cache watch resuming");
        }
    }

    fn publish(&self, rev: Revision) {
        self.rev_tx.send_if_modified(|cur| {
            if *cur < rev {
                *cur = rev;
                true
            } else {
                false
            }
        });
    }

    /// The current view: a snapshot the caller may keep as long as it
    /// likes (it never blocks the follower).
    pub fn read(&self) -> Arc<ClusterView> {
        self.view.read().unwrap_or_else(|p| p.into_inner()).clone()
    }

    /// The revision the view reflects.
    pub fn revision(&self) -> Revision {
        *self.rev_tx.borrow()
    }

    /// Waits until the view reflects `rev` (e.g. the revision of a write
    /// just committed), at most `timeout`. Returns false on timeout.
    pub async fn wait_for(&self, rev: Revision, timeout: Duration) -> bool {
        let mut rx = self.rev_tx.subscribe();
        let fut = rx.wait_for(|cur| *cur >= rev);
        matches!(tokio::time::timeout(timeout, fut).await, Ok(Ok(_)))
    }

    /// The key layout.
    pub fn keys(&self) -> &Keys {
        &self.keys
    }

    /// The encoded change log the watch streams read.
    pub fn fanout(&self) -> &Arc<Fanout> {
        &self.fanout
    }
}
