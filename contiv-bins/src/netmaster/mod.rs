//! netmaster: the intent REST API, allocation and leader election.
//!
//! Layout:
//!
//! | module | what it holds |
//! |---|---|
//! | [`config`] | flags, environment, config file |
//! | [`cache`] | the in-memory view of the store, followed by a watch |
//! | [`error`] | API errors with meaningful status codes |
//! | [`collections`] | the REST collections and the generic create/update/delete/inspect flow |
//! | `objects` | per-object behaviour: the original's checks, allocation, delete guards |
//! | [`oper`] | the `Oper` half of `inspect` answers |
//! | [`endpoints`] | endpoint create/delete for agents (address + record in one txn) |
//! | [`nodes`] | node registration with leases, and cleanup of vanished nodes |
//! | [`reservations`] | address reservations for Docker's IPAM driver |
//! | [`watch`] | the agents' watch stream (snapshot, then ordered deltas) |
//! | [`fanout`] | the encoded change log every watch stream shares |
//! | [`writes`] | intent writes combined into group commits |
//! | [`http`] | the axum router: REST paths, auth, metrics, OpenAPI |
//! | [`leader`] | leader election by lease |
//! | [`fenced`] | the store every leader write goes through (fencing by type) |
//! | [`intents`] | changes larger than one transaction: a record recovery completes |
//! | [`auth`] | credentials: the admin token, per-node tokens, who may do what |
//! | [`serve`] | the accept loop: connection limit, timeouts, back-off |
//! | [`members`] | the netmasters of a cluster (`/info`) |
//! | [`forward`] | followers forward writes to the leader |
//! | [`server`] | running it all: store, election, leader duties, HTTP(S) |
//!
//! Only netmaster reads and writes the store. Every mutation of the model
//! runs under one lock, checks against the cache, and commits allocator
//! state, derived records and the object in **one** store transaction with
//! preconditions — nothing is half-written when a request fails — then waits
//! until the cache reflects the commit before answering.

pub mod absence;
pub mod agent_oper;
pub mod auth;
pub mod cache;
pub mod collections;
pub mod config;
pub mod endpoints;
pub mod error;
pub mod fanout;
pub mod fenced;
pub mod forward;
pub mod http;
pub mod intents;
pub mod leader;
pub mod members;
pub mod nodes;
mod objects;
pub mod openapi;
pub mod oper;
pub mod reservations;
pub mod serve;
pub mod server;
pub mod watch;
pub mod watch_threads;
pub mod writes;

pub use config::NetmasterConfig;
pub use error::{ApiError, ApiResult, ErrorKind};
pub use server::{Running, ServeError, run, start};

use cache::Cache;
use contiv_core::model::{Global, ModelObject, Tenant};
use contiv_core::store::keys::Keys;
use contiv_core::store::{Precondition, Revision, StateStore, StoreExt, TxnOp};
use contiv_ipam::Ipam;
use contiv_ipam::spec::IdRanges;
use contiv_ipam::{IdPool, Resource, VxlanPool};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;
use tokio::sync::Mutex;
use tracing::info;

/// How long a writer waits for its own commit to show up in the cache.
const CACHE_WAIT: Duration = Duration::from_secs(10);

/// Attempts after which a request that keeps losing races on its own
/// preconditions gives up (409).
const STALE_RETRIES: u32 = 5;

/// The largest tenant id (VRF ids are 16 bits in our datapaths).
pub const MAX_TENANT_ID: u32 = 0xffff;

fn not_leader() -> ApiError {
    ApiError::unavailable(
        "this netmaster is not the leader; retry (requests are forwarded to the leader when one is known)",
    )
}

/// Settings the running netmaster needs at request time.
#[derive(Clone, Debug)]
pub struct RuntimeSettings {
    /// Reported as `clusterMode`.
    pub cluster_mode: String,
    /// Node lease TTL.
    pub node_ttl: Duration,
    /// Grace period before a vanished node's endpoints are released.
    pub node_gc_grace: Duration,
    /// Forwarding mode for a freshly created global config.
    pub default_fwd_mode: String,
    /// Fabric type for a freshly created global config.
    pub default_infra: String,
    /// The network mode (`vxlan` or `vlan`), reported in `/info`.
    pub net_mode: String,
    /// This netmaster's name, reported in `/info`.
    pub name: String,
    /// The credentials: netmaster shows an agent's control API that
    /// host's node token (what the agent holds).
    pub credentials: auth::Credentials,
    /// Recent changes the watch streams' log holds (`--watch-window`).
    pub watch_window: usize,
}

impl RuntimeSettings {
    /// Settings from the daemon configuration.
    pub fn from_config(cfg: &NetmasterConfig) -> Self {
        RuntimeSettings {
            cluster_mode: cfg.mode.as_str().to_owned(),
            node_ttl: cfg.node_ttl,
            node_gc_grace: cfg.node_gc_grace,
            default_fwd_mode: cfg.fwd_mode.clone(),
            default_infra: cfg.infra.clone(),
            net_mode: cfg.net_mode.as_str().to_owned(),
            name: cfg.node_name(),
            credentials: auth::Credentials::new(cfg.token.clone(), cfg.node_token_key.clone()),
            watch_window: cfg.watch_window,
        }
    }
}

impl Default for RuntimeSettings {
    fn default() -> Self {
        RuntimeSettings {
            cluster_mode: "test".into(),
            node_ttl: Duration::from_secs(10),
            node_gc_grace: Duration::from_secs(600),
            default_fwd_mode: "bridge".into(),
            default_infra: "default".into(),
            net_mode: "vxlan".into(),
            name: String::new(),
            credentials: auth::Credentials::default(),
            watch_window: fanout::MAX_ENTRIES,
        }
    }
}

/// The netmaster service: store, cache, allocators and the model lock.
/// Transport-independent; [`http`] serves it over REST.
pub struct Netmaster {
    /// The store, fenced: every write needs the leadership
    /// ([`fenced::FencedStore`]).
    pub(crate) store: Arc<dyn StateStore>,
    pub(crate) keys: Keys,
    pub(crate) cache: Arc<Cache>,
    pub(crate) ipam: Ipam,
    pub(crate) model_lock: Mutex<()>,
    pub(crate) settings: RuntimeSettings,
    pub(crate) metrics: http::Metrics,
    pub(crate) election: Arc<leader::Election>,
    /// Turns true when the server stops (ends watch streams).
    pub(crate) shutdown: tokio::sync::watch::Sender<bool>,
    /// Endpoint creates waiting to be committed, per address pool.
    pub(crate) creates: endpoints::CreateQueues,
    /// This netmaster itself (to start background work from `&self`).
    pub(crate) me: std::sync::Weak<Netmaster>,
    /// True once this leader term has completed interrupted changes
    /// ([`Netmaster::initialize`]); model writes wait for it.
    pub(crate) ready: AtomicBool,
    /// A change staged an intent record that must be completed after its
    /// first transaction commits ([`intents`]).
    pub(crate) intent_staged: AtomicBool,
    /// Encoded watch snapshots shared by the streams that start together.
    pub(crate) snapshots: watch::Snapshots,
    /// Intent writes waiting for their group commit.
    pub(crate) writes: writes::WriteQueue,
}

impl Netmaster {
    /// Builds a netmaster over `store`: loads the cache and starts following
    /// the store. Every write goes through a [`fenced::FencedStore`] of
    /// `election`. Call [`Netmaster::initialize`] on the leader before
    /// serving writes (they are refused until it completed).
    pub async fn new(
        store: Arc<dyn StateStore>,
        keys: Keys,
        settings: RuntimeSettings,
        election: Arc<leader::Election>,
    ) -> ApiResult<Arc<Netmaster>> {
        let cache = Cache::start(store.clone(), keys.clone(), settings.watch_window).await?;
        let store: Arc<dyn StateStore> = fenced::FencedStore::new(store, election.clone());
        let ipam = Ipam::with_options(store.clone(), keys.clone(), Default::default());
        Ok(Arc::new_cyclic(|me| Netmaster {
            store,
            keys,
            cache,
            ipam,
            model_lock: Mutex::new(()),
            settings,
            metrics: http::Metrics::default(),
            election,
            shutdown: tokio::sync::watch::channel(false).0,
            creates: endpoints::CreateQueues::default(),
            me: me.clone(),
            ready: AtomicBool::new(false),
            intent_staged: AtomicBool::new(false),
            snapshots: watch::Snapshots::default(),
            writes: writes::WriteQueue::default(),
        }))
    }

    /// The store.
    pub fn store(&self) -> &Arc<dyn StateStore> {
        &self.store
    }

    /// The cache.
    pub fn cache(&self) -> &Arc<Cache> {
        &self.cache
    }

    /// The key layout.
    pub fn keys(&self) -> &Keys {
        &self.keys
    }

    /// The allocators.
    pub fn ipam(&self) -> &Ipam {
        &self.ipam
    }

    /// Starts a leader term: completes changes a previous leader left
    /// half-done ([`intents`]), creates what the original created at start
    /// when missing (the global settings, the cluster-wide id pools, the
    /// `default` tenant), and then opens model writes. Idempotent; safe to
    /// run on every leader start. Every write goes through the fenced
    /// store, so a deposed leader's initialisation writes nothing.
    pub async fn initialize(&self) -> ApiResult<()> {
        let _guard = self.model_lock.lock().await;
        let completed = self.complete_intents().await?;
        if completed > 0 {
            info!(
                changes = completed,
                "completed changes a previous leader left half-done"
            );
        }
        // Global settings.
        let global_key = self.keys.object(Global::TYPE, "global");
        let global = match self.store.get_json::<Global>(&global_key).await? {
            Some(g) => g.value,
            None => {
                let mut g = Global::default_config();
                g.fwd_mode = self.settings.default_fwd_mode.clone();
                g.network_infra_type = self.settings.default_infra.clone();
                g.validate()?;
                info!(fwd_mode = %g.fwd_mode, "creating default global config");
                let rev = self
                    .store
                    .put_json(&global_key, &g, contiv_core::store::PutOptions::absent())
                    .await;
                match rev {
                    Ok(_) => {}
                    // Another writer created it first (not: the fence failed).
                    Err(contiv_core::store::StoreError::PreconditionFailed { key })
                        if key == global_key => {}
                    Err(e) => return Err(self.commit_error(contiv_ipam::IpamError::Store(e))),
                }
                g
            }
        };
        // Cluster-wide pools.
        let vlans = IdRanges::parse(Resource::Vlan, &global.vlans)?;
        let vxlans = IdRanges::parse(Resource::Vxlan, &global.vxlans)?;
        self.ipam
            .vlans()
            .ensure(IdPool::new(Resource::Vlan, vlans)?)
            .await?;
        self.ipam.vxlans().ensure(VxlanPool::new(vxlans)?).await?;
        self.ipam
            .epg_ids()
            .ensure(IdPool::new(
                Resource::EpgId,
                IdRanges::new(Resource::EpgId, &[(1, contiv_core::ir::MAX_EPG_ID)])?,
            )?)
            .await?;
        self.ipam
            .tenant_ids()
            .ensure(IdPool::new(
                Resource::TenantId,
                IdRanges::new(Resource::TenantId, &[(1, MAX_TENANT_ID)])?,
            )?)
            .await?;
        self.ready.store(true, Ordering::SeqCst);
        drop(_guard);
        // The default tenant.
        if !self.cache.read().tenants.contains_key("default") {
            let t = Tenant {
                key: "default".into(),
                tenant_name: "default".into(),
                ..Default::default()
            };
            info!("creating default tenant");
            match self.upsert_object(t).await {
                Ok(_) => {}
                Err(e) if e.kind == ErrorKind::Conflict => {}
                Err(e) => return Err(e),
            }
        }
        Ok(())
    }

    /// True once this leader term's start completed: model writes are
    /// accepted.
    pub fn is_ready(&self) -> bool {
        self.ready.load(Ordering::SeqCst) && self.election.is_leader()
    }

    /// Closes model writes until the next [`Netmaster::initialize`] (this
    /// netmaster stopped leading).
    pub fn step_down(&self) {
        self.ready.store(false, Ordering::SeqCst);
    }

    /// Ends every watch stream (the server is stopping).
    pub fn shutdown(&self) {
        self.shutdown.send_replace(true);
        self.cache.fanout().close();
    }

    /// The runtime settings.
    pub fn settings(&self) -> &RuntimeSettings {
        &self.settings
    }

    /// The election (this netmaster's role).
    pub fn election(&self) -> &Arc<leader::Election> {
        &self.election
    }

    /// Refuses a write unless this netmaster leads and has completed its
    /// term's start ([`Netmaster::initialize`]).
    pub(crate) fn writable(&self) -> ApiResult<()> {
        if self.election.fence().is_none() {
            return Err(not_leader());
        }
        if !self.ready.load(Ordering::SeqCst) {
            return Err(ApiError::unavailable(
                "this netmaster is starting its leader term (completing interrupted changes); retry",
            ));
        }
        Ok(())
    }

    /// Starts a store transaction for a write: refused unless this
    /// netmaster leads and is ready. The fence is added by the store
    /// itself ([`fenced::FencedStore`]) when the transaction commits.
    pub(crate) fn begin(&self) -> ApiResult<contiv_ipam::AllocTxn> {
        self.writable()?;
        Ok(self.ipam.begin())
    }

    /// Commits `ops` (fenced by the store) and waits until the cache
    /// reflects them.
    pub(crate) async fn commit(&self, ops: Vec<TxnOp>) -> ApiResult<Revision> {
        let resp = self
            .store
            .txn(ops)
            .await
            .map_err(|e| self.commit_error(contiv_ipam::IpamError::Store(e)))?;
        self.settle(resp.revision).await;
        Ok(resp.revision)
    }

    /// Commits an allocator transaction (see
    /// [`Ipam::commit_or_retry`](contiv_ipam::Ipam::commit_or_retry)),
    /// reporting a failed leader fence as "not the leader".
    pub(crate) async fn commit_or_retry(
        &self,
        tx: contiv_ipam::AllocTxn,
        attempt: &mut u32,
    ) -> ApiResult<Option<Revision>> {
        match self.ipam.commit_or_retry(tx, attempt).await {
            Ok(r) => Ok(r),
            Err(e) if *attempt < STALE_RETRIES && self.lost_race_on_own_key(&e) => {
                // A precondition on an object or record failed: the cache
                // was behind the store (e.g. just after a leader change).
                // Catch up and let the caller re-check and rebuild.
                *attempt += 1;
                self.catch_up().await?;
                Ok(None)
            }
            Err(e) => Err(self.commit_error(e)),
        }
    }

    /// True if `e` is a failed precondition on a key other than the
    /// leader fence (allocator conflicts are retried by the allocator).
    fn lost_race_on_own_key(&self, e: &contiv_ipam::IpamError) -> bool {
        use contiv_core::store::StoreError;
        matches!(e, contiv_ipam::IpamError::Store(StoreError::PreconditionFailed { key })
            if key != self.election.key())
    }

    /// Waits until the cache reflects everything the store holds now.
    pub(crate) async fn catch_up(&self) -> ApiResult<()> {
        let rev = self.store.current_revision().await?;
        self.settle(rev).await;
        Ok(())
    }

    /// Maps a commit failure to an API error: a failed check of the leader
    /// key means this netmaster lost the leadership while the request was
    /// in flight (503, retry: the next attempt reaches the new leader).
    pub(crate) fn commit_error(&self, e: contiv_ipam::IpamError) -> ApiError {
        use contiv_core::store::StoreError;
        if let contiv_ipam::IpamError::Store(StoreError::PreconditionFailed { key }) = &e
            && key == self.election.key()
        {
            return ApiError::unavailable(
                "this netmaster lost the leadership while handling the request; nothing was written, retry",
            );
        }
        e.into()
    }

    /// Waits until the cache reflects `rev`.
    pub(crate) async fn settle(&self, rev: Revision) {
        if !self.cache.wait_for(rev, CACHE_WAIT).await {
            tracing::warn!(
                revision = rev,
                "cache did not catch up with a commit in time"
            );
        }
    }

    /// A precondition that the full store key still has the revision the
    /// cache saw (or is absent if the cache has no such key).
    pub(crate) fn unchanged(&self, full_key: &str) -> Precondition {
        match self.cache.read().rev(full_key) {
            Some(r) => Precondition::ModRevision(r),
            None => Precondition::Absent,
        }
    }
}
