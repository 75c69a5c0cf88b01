//! netmaster's in-memory view of the store, kept current by a store watch.
//!
//! Every netmaster (leader or follower) loads the whole key space under the
//! root prefix once, then follows a watch from the listing's revision. Reads
//! (REST GET, inspect, validation of new requests) are answered from here.
//! A writer commits to the store and then waits until the cache has seen its
//! revision ([`Cache::wait_for`]), so a client reads its own writes and the
//! cache stays the single view every check runs against.

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
use std::collections::{BTreeMap, HashMap};
use std::sync::{Arc, RwLock, RwLockReadGuard};
use std::time::Duration;
use tokio::sync::watch;
use tracing::{debug, info, warn};

/// Everything netmaster knows, as typed maps keyed by object key.
#[derive(Clone, Debug, Default)]
pub struct ClusterView {
    /// Tenants by name.
    pub tenants: BTreeMap<String, Tenant>,
    /// Networks by `tenant:network`.
    pub networks: BTreeMap<String, Network>,
    /// Endpoint groups by `tenant:group`.
    pub epgs: BTreeMap<String, EndpointGroup>,
    /// Policies by `tenant:policy`.
    pub policies: BTreeMap<String, Policy>,
    /// Rules by `tenant:policy:rule`.
    pub rules: BTreeMap<String, Rule>,
    /// App profiles by `tenant:name`.
    pub app_profiles: BTreeMap<String, AppProfile>,
    /// Netprofiles by `tenant:name`.
    pub netprofiles: BTreeMap<String, Netprofile>,
    /// Services by `tenant:name`.
    pub service_lbs: BTreeMap<String, ServiceLB>,
    /// BGP configs by hostname.
    pub bgps: BTreeMap<String, Bgp>,
    /// External contract groups by `tenant:name`.
    pub ext_contracts: BTreeMap<String, ExtContractsGroup>,
    /// Global settings (key `global`).
    pub globals: BTreeMap<String, Global>,
    /// ACI gateway settings (key `aciGw`).
    pub aci_gws: BTreeMap<String, AciGw>,
    /// Tenant ids by tenant name.
    pub tenant_states: BTreeMap<String, TenantState>,
    /// Allocated tags by network key.
    pub network_states: BTreeMap<String, NetworkState>,
    /// EPG ids by group key.
    pub epg_states: BTreeMap<String, EpgState>,
    /// Service VIPs by service key.
    pub service_states: BTreeMap<String, ServiceState>,
    /// Endpoints by `tenant:network/endpoint-id`.
    pub endpoints: BTreeMap<String, EndpointRecord>,
    /// Registered nodes by hostname.
    pub nodes: BTreeMap<String, NodeRecord>,
    /// Mod revision of every key above, by full store key (for
    /// compare-and-swap preconditions).
    pub revs: HashMap<String, Revision>,
    /// The store revision this view reflects.
    pub revision: Revision,
}

impl ClusterView {
    /// The global settings (`None` before netmaster initialised them).
    pub fn global(&self) -> Option<&Global> {
        self.globals.get("global")
    }

    /// Networks of a tenant.
    pub fn networks_of<'a>(&'a self, tenant: &'a str) -> impl Iterator<Item = &'a Network> + 'a {
        self.networks
            .values()
            .filter(move |n| n.tenant_name == tenant)
    }

    /// Endpoint groups on a network (by network key).
    pub fn epgs_on<'a>(
        &'a self,
        tenant: &'a str,
        network: &'a str,
    ) -> impl Iterator<Item = &'a EndpointGroup> + 'a {
        self.epgs
            .values()
            .filter(move |g| g.tenant_name == tenant && g.network_name == network)
    }

    /// Endpoint groups that attach a policy.
    pub fn epgs_using_policy<'a>(
        &'a self,
        tenant: &'a str,
        policy: &'a str,
    ) -> impl Iterator<Item = &'a EndpointGroup> + 'a {
        self.epgs
            .values()
            .filter(move |g| g.tenant_name == tenant && g.policies.iter().any(|p| p == policy))
    }

    /// Rules of a policy (by tenant and policy name).
    pub fn rules_of<'a>(
        &'a self,
        tenant: &'a str,
        policy: &'a str,
    ) -> impl Iterator<Item = &'a Rule> + 'a {
        let prefix = format!("{tenant}:{policy}:");
        self.rules
            .range(prefix.clone()..)
            .take_while(move |(k, _)| k.starts_with(&prefix))
            .map(|(_, r)| r)
    }

    /// Endpoints on a network.
    pub fn endpoints_on<'a>(
        &'a self,
        network_key: &str,
    ) -> impl Iterator<Item = &'a EndpointRecord> + 'a {
        let prefix = format!("{network_key}/");
        self.endpoints
            .range(prefix.clone()..)
            .take_while(move |(k, _)| k.starts_with(&prefix))
            .map(|(_, e)| e)
    }

    /// Endpoints in an endpoint group.
    pub fn endpoints_in_group<'a>(
        &'a self,
        tenant: &'a str,
        group: &'a str,
    ) -> impl Iterator<Item = &'a EndpointRecord> + 'a {
        self.endpoints
            .values()
            .filter(move |e| e.tenant == tenant && e.group == group)
    }

    /// Endpoints of a tenant.
    pub fn endpoints_of_tenant<'a>(
        &'a self,
        tenant: &'a str,
    ) -> impl Iterator<Item = &'a EndpointRecord> + 'a {
        self.endpoints.values().filter(move |e| e.tenant == tenant)
    }

    /// The mod revision of a full store key, if the view holds it.
    pub fn rev(&self, key: &str) -> Option<Revision> {
        self.revs.get(key).copied()
    }

    /// Applies one store change. Returns false if the key is not ours.
    fn apply(&mut self, keys: &Keys, kind: EventKind, kv: &KeyValue) -> bool {
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

fn upsert<T: DeserializeOwned>(map: &mut BTreeMap<String, T>, key: &str, put: bool, kv: &KeyValue) {
    if !put {
        map.remove(key);
        return;
    }
    match decode_json::<T>(kv) {
        Ok(v) => {
            map.insert(key.to_owned(), v);
        }
        // A value we cannot decode is logged and skipped, never fatal: one
        // bad record must not take the control plane down.
        Err(e) => warn!(key = %kv.key, error = %e, "ignoring undecodable record"),
    }
}

/// The cache: a [`ClusterView`] behind a lock plus a revision notifier.
pub struct Cache {
    view: RwLock<ClusterView>,
    rev_tx: watch::Sender<Revision>,
    keys: Keys,
    /// The task that follows the store.
    task: std::sync::Mutex<Option<tokio::task::AbortHandle>>,
}

impl Cache {
    /// Loads everything under the layout's root and starts following the
    /// store. The returned cache is current as of the load.
    pub async fn start(store: Arc<dyn StateStore>, keys: Keys) -> StoreResult<Arc<Cache>> {
        let (rev_tx, _) = watch::channel(0);
        let cache = Arc::new(Cache {
            view: RwLock::new(ClusterView::default()),
            rev_tx,
            keys,
            task: std::sync::Mutex::new(None),
        });
        let rev = cache.reload(store.as_ref()).await?;
        let follower = cache.clone();
        let handle = tokio::spawn(async move { follower.follow(store, rev).await });
        *cache
            .task
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner) = Some(handle.abort_handle());
        Ok(cache)
    }

    /// Stops following the store (the view stays as it is). The follower
    /// task holds the store; stopping it lets an embedded store file close.
    pub fn stop(&self) {
        if let Some(t) = self
            .task
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .take()
        {
            t.abort();
        }
    }

    /// Replaces the view with a fresh listing; returns its revision.
    async fn reload(&self, store: &dyn StateStore) -> StoreResult<Revision> {
        let list = store.list(self.keys.root()).await?;
        let mut view = ClusterView::default();
        for kv in &list.kvs {
            view.apply(&self.keys, EventKind::Put, kv);
        }
        view.revision = list.revision;
        let rev = list.revision;
        let count = list.kvs.len();
        *self.view.write().unwrap_or_else(|p| p.into_inner()) = view;
        self.rev_tx.send_replace(rev);
        info!(revision = rev, keys = count, "cache loaded");
        Ok(rev)
    }

    /// Follows the store forever: applies watch events; on a compacted
    /// watch, re-lists; on a broken one, resumes from the last revision.
    ///
    /// Events that are ready together are applied under one lock and the
    /// revision is published only once the stream has nothing more ready,
    /// so a waiter never sees half of a transaction (backends deliver a
    /// transaction's events together).
    async fn follow(self: Arc<Self>, store: Arc<dyn StateStore>, mut rev: Revision) {
        loop {
            let mut reload = false;
            match store.watch(self.keys.root(), Some(rev + 1)).await {
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
                        {
                            let mut view = self.view.write().unwrap_or_else(|p| p.into_inner());
                            for item in batch {
                                match item {
                                    Ok(ev) => {
                                        view.apply(&self.keys, ev.kind, &ev.kv);
                                        rev = rev.max(ev.revision());
                                    }
                                    Err(e) => {
                                        failed = Some(e);
                                        break;
                                    }
                                }
                            }
                            view.revision = rev;
                        }
                        self.publish(rev);
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

    /// Read access to the current view.
    pub fn read(&self) -> RwLockReadGuard<'_, ClusterView> {
        self.view.read().unwrap_or_else(|p| p.into_inner())
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
}
