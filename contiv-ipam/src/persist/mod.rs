//! Layer 2: allocator state persisted in a [`StateStore`], every change a
//! conditional write.
//!
//! ## Commit protocol
//!
//! * Each pool lives under one key, `Keys::alloc(kind, scope)`:
//!   `ipv4/<tenant:network>`, `ipv4-pool/<tenant:group>` (EPG ip-pools),
//!   `ipv6/<tenant:network>`, and the global `vlan/global`,
//!   `vxlan/global`, `epg/global`, `tenant/global`. The value is the
//!   binary encoding of [`crate::codec`].
//! * A [`Pool`] handle caches the decoded state and the key's
//!   `mod_revision`. An operation computes from the cache and commits with
//!   `Precondition::ModRevision(cached)`: **one store round trip** when
//!   nobody else wrote in between.
//! * If another writer (another process, or another [`Ipam`] on a second
//!   store handle) won, the store answers `PreconditionFailed`; the cache
//!   is dropped, the state re-read, and the operation retried (with
//!   jittered backoff after the first immediate retry) up to
//!   [`RetryPolicy::max_attempts`], then [`IpamError::Contention`].
//!   Because every write is conditional on the exact revision that was
//!   read, two writers can never both hand out the same value — threads or
//!   processes, embedded store or etcd.
//! * Inside one process the operations on one pool are serialised by an
//!   async mutex per key (shared by every handle from the same [`Ipam`]), so
//!   in-process concurrency queues instead of causing CAS storms; and
//!   [`Pool::update`] (behind `allocate`/`release`) **combines** the updates
//!   that queue up while a commit is in flight into the next single write
//!   (see the `combine` module), so N concurrent allocations on one pool
//!   cost about one store transaction per batch.
//! * A lost race, a store error or a dropped transaction discards the
//!   cached state; the next operation re-reads it. A refusal computed from
//!   the cache (exhausted, already taken) is confirmed against the key's
//!   latest revision before it is reported, so it never comes from a stale
//!   cache.
//! * [`AllocTxn`] / [`Ipam::transact`] commit allocator changes together
//!   with the caller's own operations — "allocate address + write endpoint
//!   record" is one store transaction, so a crash between the two cannot
//!   leak an address, and a failed record write (its own precondition)
//!   allocates nothing. If a store error leaves it unknown whether the
//!   transaction was applied (e.g. a timeout), the record written in the
//!   same transaction tells: look for it before retrying.

mod combine;
mod retry;
mod txn;

pub use retry::RetryPolicy;
pub use txn::AllocTxn;

use crate::error::{IpamError, IpamResult, Resource};
use crate::ids::IdPool;
use crate::ipv4::Ipv4Pool;
use crate::ipv6::Ipv6Pool;
use crate::spec::Ipv4Range;
use crate::state::AllocState;
use crate::vxlan::VxlanPool;
use contiv_core::store::keys::Keys;
use contiv_core::store::{Revision, StateStore};
use std::any::Any;
use std::collections::HashMap;
use std::fmt;
use std::future::Future;
use std::net::{Ipv4Addr, Ipv6Addr};
use std::pin::Pin;
use std::sync::{Arc, Mutex as StdMutex, PoisonError};
use tokio::sync::Mutex;

/// The future a [`Ipam::transact`] body returns.
pub type TxnFuture<'a, T> = Pin<Box<dyn Future<Output = IpamResult<T>> + Send + 'a>>;

/// The scope of the cluster-wide pools (VLANs, VXLANs, EPG and tenant ids).
pub const GLOBAL_SCOPE: &str = "global";

pub(crate) struct Cached<S> {
    pub(crate) state: S,
    pub(crate) rev: Revision,
}

/// The cache of one key, behind its async mutex.
pub(crate) struct Slot<S> {
    pub(crate) cached: Option<Cached<S>>,
}

/// What every handle of one key in one [`Ipam`] shares: the cache behind
/// its async mutex, and the queue of single-pool updates waiting to be
/// combined into the next commit (see [`Pool::update`]).
pub(crate) struct Shared<S> {
    pub(crate) slot: Arc<Mutex<Slot<S>>>,
    pub(crate) pending: StdMutex<Vec<Box<dyn combine::Pending<S>>>>,
}

type AnySlot = Arc<dyn Any + Send + Sync>;

struct Inner {
    store: Arc<dyn StateStore>,
    keys: Keys,
    retry: RetryPolicy,
    slots: StdMutex<HashMap<String, AnySlot>>,
}

/// Persisted allocators over one store handle. Cheap to clone; clones share
/// the caches and per-key locks. Two `Ipam`s (e.g. in two processes) share
/// nothing but the store and stay correct through its preconditions.
#[derive(Clone)]
pub struct Ipam {
    inner: Arc<Inner>,
}

impl fmt::Debug for Ipam {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Ipam")
            .field("backend", &self.inner.store.backend_name())
            .field("root", &self.inner.keys.root())
            .finish()
    }
}

impl Ipam {
    /// Allocators over `store` with the default key layout and retry policy.
    pub fn new(store: Arc<dyn StateStore>) -> Self {
        Ipam::with_options(store, Keys::default(), RetryPolicy::default())
    }

    /// Allocators with an explicit key layout and retry policy.
    pub fn with_options(store: Arc<dyn StateStore>, keys: Keys, retry: RetryPolicy) -> Self {
        Ipam {
            inner: Arc::new(Inner {
                store,
                keys,
                retry,
                slots: StdMutex::new(HashMap::new()),
            }),
        }
    }

    /// The store.
    pub fn store(&self) -> &Arc<dyn StateStore> {
        &self.inner.store
    }

    /// The key layout.
    pub fn keys(&self) -> &Keys {
        &self.inner.keys
    }

    /// A handle to the pool stored under `Keys::alloc(kind, scope)`. `kind`
    /// must be what the state's [`AllocState::kind`] reports.
    pub fn pool<S: AllocState>(&self, kind: &'static str, scope: &str) -> Pool<S> {
        let key = self.inner.keys.alloc(kind, scope);
        let mut slots = self
            .inner
            .slots
            .lock()
            .unwrap_or_else(PoisonError::into_inner);
        let shared = slots
            .get(&key)
            .and_then(|s| s.clone().downcast::<Shared<S>>().ok());
        let shared = match shared {
            Some(s) => s,
            None => {
                let s = Arc::new(Shared::<S> {
                    slot: Arc::new(Mutex::new(Slot { cached: None })),
                    pending: StdMutex::new(Vec::new()),
                });
                slots.insert(key.clone(), s.clone());
                s
            }
        };
        Pool {
            ipam: self.clone(),
            key,
            kind,
            shared,
        }
    }

    /// The IPv4 pool of a network (`scope` = the network key,
    /// `tenant:network`).
    pub fn network_v4(&self, network_key: &str) -> Pool<Ipv4Pool> {
        self.pool("ipv4", network_key)
    }

    /// The IPv4 pool of an endpoint group's ip-pool (`tenant:group`).
    pub fn group_v4(&self, group_key: &str) -> Pool<Ipv4Pool> {
        self.pool("ipv4-pool", group_key)
    }

    /// The IPv6 pool of a network.
    pub fn network_v6(&self, network_key: &str) -> Pool<Ipv6Pool> {
        self.pool("ipv6", network_key)
    }

    /// The global VLAN pool.
    pub fn vlans(&self) -> Pool<IdPool> {
        self.pool("vlan", GLOBAL_SCOPE)
    }

    /// The global VXLAN pool (VNIs and local VLANs).
    pub fn vxlans(&self) -> Pool<VxlanPool> {
        self.pool("vxlan", GLOBAL_SCOPE)
    }

    /// The global EPG id pool.
    pub fn epg_ids(&self) -> Pool<IdPool> {
        self.pool("epg", GLOBAL_SCOPE)
    }

    /// The global tenant id pool.
    pub fn tenant_ids(&self) -> Pool<IdPool> {
        self.pool("tenant", GLOBAL_SCOPE)
    }

    /// The id pool of `resource` under `scope`.
    pub fn ids(&self, resource: Resource, scope: &str) -> Pool<IdPool> {
        let kind = match resource {
            Resource::Vlan => "vlan",
            Resource::Vxlan => "vni",
            Resource::LocalVlan => "local-vlan",
            Resource::EpgId => "epg",
            Resource::TenantId => "tenant",
            Resource::Address => "address",
        };
        self.pool(kind, scope)
    }

    /// Starts a transaction (commit it yourself; no retry).
    pub fn begin(&self) -> AllocTxn {
        AllocTxn::new(self.inner.store.clone())
    }

    /// Runs `body` in a fresh [`AllocTxn`] and commits it, retrying the
    /// whole body when another writer changed one of the staged pools.
    /// An error from `body` (e.g. exhaustion) or a failed precondition on a
    /// caller's own operation is returned at once. Returns the body's value
    /// and the commit revision.
    ///
    /// The body takes the transaction by value and hands it back with its
    /// result, in a boxed `Send` future ([`TxnFuture`]), so the whole call
    /// can run inside spawned tasks and request handlers. Capture what the
    /// body needs by reference (`let net = &net;`) and use `async move`:
    ///
    /// ```no_run
    /// # use contiv_ipam::persist::Ipam;
    /// # use contiv_core::store::{TxnOp, Precondition};
    /// # async fn demo(ipam: Ipam) -> contiv_ipam::IpamResult<()> {
    /// let net = &ipam.network_v4("default:contiv-net");
    /// let key = &ipam.keys().endpoint("default:contiv-net", "c1");
    /// let (ip, _rev) = ipam
    ///     .transact(|mut tx| {
    ///         Box::pin(async move {
    ///             let ip = tx.stage(net, |p| p.allocate()).await?;
    ///             tx.push(TxnOp::Put {
    ///                 key: key.clone(),
    ///                 value: format!("{{\"ipAddress\":\"{ip}\"}}").into_bytes(),
    ///                 precondition: Precondition::Absent,
    ///                 lease: None,
    ///             });
    ///             Ok((tx, ip))
    ///         })
    ///     })
    ///     .await?;
    /// # let _ = ip; Ok(()) }
    /// ```
    pub async fn transact<'env, T, F>(&self, mut body: F) -> IpamResult<(T, Revision)>
    where
        F: FnMut(AllocTxn) -> TxnFuture<'env, (AllocTxn, T)>,
    {
        let mut attempt = 1u32;
        loop {
            let (tx, value) = body(self.begin()).await?;
            if let Some(rev) = self.commit_or_retry(tx, &mut attempt).await? {
                return Ok((value, rev));
            }
        }
    }

    /// One step of a hand-written retry loop: commits `tx`; returns
    /// `Some(revision)` on success, `None` if another writer changed a
    /// staged pool and the caller should build the transaction again (the
    /// backoff has already been waited), or the error. `attempt` starts at
    /// 1 and is advanced here; after [`RetryPolicy::max_attempts`] the
    /// result is [`IpamError::Contention`].
    pub async fn commit_or_retry(
        &self,
        tx: AllocTxn,
        attempt: &mut u32,
    ) -> IpamResult<Option<Revision>> {
        let policy = &self.inner.retry;
        match tx.commit_inner().await {
            Ok(rev) => Ok(Some(rev)),
            Err(f) => match f.conflict {
                Some(key) if *attempt >= policy.max_attempts.max(1) => Err(IpamError::Contention {
                    key,
                    attempts: *attempt,
                }),
                Some(_) => {
                    *attempt += 1;
                    let d = policy.delay(*attempt);
                    if !d.is_zero() {
                        tokio::time::sleep(d).await;
                    }
                    Ok(None)
                }
                None => Err(f.error),
            },
        }
    }

    /// Carves the endpoint-group ip-pool `range` out of `network` and
    /// creates the group's pool, atomically.
    pub async fn create_group_pool(
        &self,
        network: &Pool<Ipv4Pool>,
        group: &Pool<Ipv4Pool>,
        range: Ipv4Range,
    ) -> IpamResult<Revision> {
        let (_, rev) = self
            .transact(|mut tx| {
                Box::pin(async move {
                    let spec = tx
                        .stage(network, |n| {
                            n.reserve_group_pool(range)?;
                            Ok(*n.spec())
                        })
                        .await?;
                    tx.create(group, Ipv4Pool::new_group(&spec, range)?).await?;
                    Ok((tx, ()))
                })
            })
            .await?;
        Ok(rev)
    }

    /// Deletes a group's ip-pool (refused while addresses are allocated from
    /// it) and gives its range back to `network`, atomically.
    pub async fn delete_group_pool(
        &self,
        network: &Pool<Ipv4Pool>,
        group: &Pool<Ipv4Pool>,
    ) -> IpamResult<Revision> {
        let (_, rev) = self
            .transact(|mut tx| {
                Box::pin(async move {
                    // Lock order: network, then group.
                    tx.stage(network, |_| Ok(())).await?;
                    let range = tx.stage(group, |g| Ok(g.spec().range())).await?;
                    tx.delete(group).await?;
                    tx.stage(network, |n| n.release_group_pool(range)).await?;
                    Ok((tx, ()))
                })
            })
            .await?;
        Ok(rev)
    }
}

/// A handle to one persisted pool. Cheap to clone.
pub struct Pool<S: AllocState> {
    ipam: Ipam,
    key: String,
    kind: &'static str,
    shared: Arc<Shared<S>>,
}

impl<S: AllocState> Clone for Pool<S> {
    fn clone(&self) -> Self {
        Pool {
            ipam: self.ipam.clone(),
            key: self.key.clone(),
            kind: self.kind,
            shared: self.shared.clone(),
        }
    }
}

impl<S: AllocState> fmt::Debug for Pool<S> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Pool").field("key", &self.key).finish()
    }
}

impl<S: AllocState> Pool<S> {
    /// The store key.
    pub fn key(&self) -> &str {
        &self.key
    }

    /// The [`Ipam`] it belongs to.
    pub fn ipam(&self) -> &Ipam {
        &self.ipam
    }

    fn check_kind(&self, state: &S) -> IpamResult<()> {
        if state.kind() != self.kind {
            return Err(IpamError::invalid(
                "pool state",
                &self.key,
                format!(
                    "a {} state cannot be stored under a {} key",
                    state.kind(),
                    self.kind
                ),
            ));
        }
        Ok(())
    }

    pub(crate) async fn ensure_loaded(&self, slot: &mut Slot<S>) -> IpamResult<()> {
        if slot.cached.is_some() {
            return Ok(());
        }
        let Some(kv) = self.ipam.inner.store.get(&self.key).await? else {
            return Err(IpamError::UnknownPool {
                pool: self.key.clone(),
            });
        };
        let state = S::decode(&kv.value).map_err(|e| e.at(&self.key))?;
        if state.kind() != self.kind {
            return Err(IpamError::Corrupt {
                key: self.key.clone(),
                why: format!("it holds {} state, expected {}", state.kind(), self.kind),
            });
        }
        slot.cached = Some(Cached {
            state,
            rev: kv.mod_revision,
        });
        Ok(())
    }

    /// Creates the pool with `state` ([`IpamError::PoolExists`] if it
    /// exists).
    pub async fn create(&self, state: S) -> IpamResult<Revision> {
        let mut tx = self.ipam.begin();
        tx.create(self, state).await?;
        tx.commit().await
    }

    /// Creates the pool with `state` unless it exists; returns true if it
    /// was created.
    pub async fn ensure(&self, state: S) -> IpamResult<bool> {
        match self.create(state).await {
            Ok(_) => Ok(true),
            Err(IpamError::PoolExists { .. }) => Ok(false),
            Err(e) => Err(e),
        }
    }

    /// Deletes the pool; refused with [`IpamError::PoolInUse`] while values
    /// are allocated.
    pub async fn delete(&self) -> IpamResult<Revision> {
        let mut attempt = 1u32;
        loop {
            let mut tx = self.ipam.begin();
            tx.delete(self).await?;
            if let Some(rev) = self.ipam.commit_or_retry(tx, &mut attempt).await? {
                return Ok(rev);
            }
        }
    }

    /// Runs `f` on the cached state (loading it if needed) without writing.
    /// The cache may lag behind other writers; use
    /// [`refresh`](Self::refresh) first for an up-to-date view.
    pub async fn read<T>(&self, f: impl FnOnce(&S) -> T) -> IpamResult<T> {
        let mut slot = self.shared.slot.lock().await;
        self.ensure_loaded(&mut slot).await?;
        match slot.cached.as_ref() {
            Some(c) => Ok(f(&c.state)),
            None => Err(IpamError::UnknownPool {
                pool: self.key.clone(),
            }),
        }
    }

    /// Drops the cached state so the next operation re-reads the store.
    pub async fn refresh(&self) {
        self.shared.slot.lock().await.cached = None;
    }

    /// True if the pool exists in the store (a fresh read).
    pub async fn exists(&self) -> IpamResult<bool> {
        Ok(self.ipam.inner.store.get(&self.key).await?.is_some())
    }
}

impl Pool<Ipv4Pool> {
    /// Allocates an address (`req`, or the lowest free) and commits.
    pub async fn allocate(&self, req: Option<Ipv4Addr>) -> IpamResult<Ipv4Addr> {
        self.update(move |p| p.allocate_with(req)).await
    }

    /// Releases an address and commits; false if it was already free.
    pub async fn release(&self, addr: Ipv4Addr) -> IpamResult<bool> {
        self.update(move |p| p.release(addr)).await
    }
}

impl Pool<Ipv6Pool> {
    /// Allocates an address (`req`, or the lowest free) and commits.
    pub async fn allocate(&self, req: Option<Ipv6Addr>) -> IpamResult<Ipv6Addr> {
        self.update(move |p| p.allocate_with(req)).await
    }

    /// Releases an address and commits; false if it was already free.
    pub async fn release(&self, addr: Ipv6Addr) -> IpamResult<bool> {
        self.update(move |p| p.release(addr)).await
    }
}

impl Pool<IdPool> {
    /// Allocates an id (`req`, or the lowest free) and commits.
    pub async fn allocate(&self, req: Option<u32>) -> IpamResult<u32> {
        self.update(move |p| p.allocate_with(req)).await
    }

    /// Releases an id and commits; false if it was free.
    pub async fn release(&self, id: u32) -> IpamResult<bool> {
        self.update(move |p| Ok(p.release(id))).await
    }

    /// Changes the ranges (refused if an id in use would fall outside).
    pub async fn set_ranges(&self, ranges: crate::spec::IdRanges) -> IpamResult<()> {
        self.update(move |p| p.set_ranges(ranges.clone())).await
    }
}

impl Pool<VxlanPool> {
    /// Allocates a VNI (`req`, or the lowest free) with its local VLAN.
    pub async fn allocate(&self, req: Option<u32>) -> IpamResult<(u32, u32)> {
        self.update(move |p| p.allocate(req)).await
    }

    /// Releases a VNI and its local VLAN; returns the local VLAN, `None` if
    /// the VNI was not allocated.
    pub async fn release(&self, vni: u32) -> IpamResult<Option<u32>> {
        self.update(move |p| Ok(p.release(vni))).await
    }

    /// Changes the VNI ranges (refused if a VNI in use would fall outside).
    pub async fn set_vni_ranges(&self, ranges: crate::spec::IdRanges) -> IpamResult<()> {
        self.update(move |p| p.set_vni_ranges(ranges.clone())).await
    }
}
