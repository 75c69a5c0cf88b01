//! Leader election over the store, and the role a netmaster plays.
//!
//! One key, `<root>leader`, holds the control URL of the leader and is
//! bound to the leader's lease (TTL `--leader-ttl`). A candidate grants a
//! lease and writes the key with `Precondition::Absent`; the winner renews
//! the lease every TTL/3 and steps down as soon as a renewal fails. Losers
//! watch the key and try again when it disappears, so a killed leader is
//! replaced within about one TTL (at most two). A leader that stops
//! normally ([`Election::resign`]) revokes its lease, so the others take
//! over at once.
//!
//! Fencing: every transaction a leader commits carries a `Check` that the
//! leader key still has the revision the leader wrote ([`Election::fence`]).
//! The check is added by the store itself ([`super::fenced::FencedStore`],
//! the only store the netmaster service writes through), so no write path
//! can forget it. A deposed leader that has not noticed yet can therefore
//! never commit anything — no split-brain writes, and nothing acknowledged
//! by a leader is lost to a concurrent one.
//!
//! On a single-node store (embedded, memory) the netmaster is always the
//! leader and no key is written.

use contiv_core::store::{
    EventKind, LeaseId, Precondition, PutOptions, Revision, StateStore, StoreError, TxnOp,
};
use futures::StreamExt;
use std::sync::{Arc, Mutex, PoisonError};
use std::time::Duration;
use tokio::sync::watch;
use tokio::task::AbortHandle;
use tracing::{info, warn};

/// What this netmaster currently is.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Role {
    /// Not decided yet (starting, or between terms).
    Candidate,
    /// The leader; `fence` is the revision of its leader key (0 on a
    /// single-node store, which needs no fence).
    Leader {
        /// Revision of the leader key this term wrote.
        fence: Revision,
    },
    /// A follower; `leader` is the leader's control URL if known.
    Follower {
        /// The leader's control URL.
        leader: Option<String>,
    },
}

impl Role {
    /// The name `/info` reports as `current-state`.
    pub fn state_name(&self) -> &'static str {
        match self {
            Role::Candidate => "candidate",
            Role::Leader { .. } => "leader",
            Role::Follower { .. } => "follower",
        }
    }
}

/// The election: runs in the background and publishes the [`Role`].
pub struct Election {
    role: watch::Sender<Role>,
    key: String,
    me: String,
    store: Option<Arc<dyn StateStore>>,
    /// The lease of the current leader term, if this netmaster leads.
    lease: Mutex<Option<LeaseId>>,
    /// The campaign task, if one runs.
    task: Mutex<Option<AbortHandle>>,
}

impl Election {
    /// A netmaster that is always the leader (single-node stores); `me` is
    /// its control URL.
    pub fn single(key: String, me: String) -> Arc<Election> {
        let (role, _) = watch::channel(Role::Leader { fence: 0 });
        Arc::new(Election {
            role,
            key,
            me,
            store: None,
            lease: Mutex::new(None),
            task: Mutex::new(None),
        })
    }

    /// Starts campaigning for `key` with identity `me` (the control URL).
    pub fn start(
        store: Arc<dyn StateStore>,
        key: String,
        me: String,
        ttl: Duration,
    ) -> Arc<Election> {
        let (role, _) = watch::channel(Role::Candidate);
        let e = Arc::new(Election {
            role,
            key,
            me,
            store: Some(store.clone()),
            lease: Mutex::new(None),
            task: Mutex::new(None),
        });
        let e2 = e.clone();
        let handle = tokio::spawn(async move { e2.campaign(store, ttl).await });
        *e.task.lock().unwrap_or_else(PoisonError::into_inner) = Some(handle.abort_handle());
        e
    }

    /// The current role.
    pub fn role(&self) -> Role {
        self.role.borrow().clone()
    }

    /// True while this netmaster leads.
    pub fn is_leader(&self) -> bool {
        matches!(*self.role.borrow(), Role::Leader { .. })
    }

    /// This netmaster's identity (its control URL).
    pub fn me(&self) -> &str {
        &self.me
    }

    /// The leader's control URL, if one is known.
    pub fn leader_url(&self) -> Option<String> {
        match &*self.role.borrow() {
            Role::Leader { .. } => Some(self.me.clone()),
            Role::Follower { leader } => leader.clone(),
            Role::Candidate => None,
        }
    }

    /// The store key of the leader lock.
    pub fn key(&self) -> &str {
        &self.key
    }

    /// Subscribes to role changes.
    pub fn subscribe(&self) -> watch::Receiver<Role> {
        self.role.subscribe()
    }

    /// The fencing check every leader transaction must carry, or `None` if
    /// this netmaster is not the leader. Single-node leaders need no fence
    /// and get `Some(None)`.
    pub fn fence(&self) -> Option<Option<TxnOp>> {
        match &*self.role.borrow() {
            Role::Leader { fence: 0 } => Some(None),
            Role::Leader { fence } => Some(Some(TxnOp::Check {
                key: self.key.clone(),
                precondition: Precondition::ModRevision(*fence),
            })),
            _ => None,
        }
    }

    /// Stops campaigning and gives up the leadership (its lease is revoked,
    /// so another netmaster takes over at once). A single-node election
    /// keeps its role.
    pub async fn resign(&self) {
        let task = self
            .task
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .take();
        let Some(task) = task else {
            return;
        };
        task.abort();
        let lease = self
            .lease
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .take();
        self.set(Role::Candidate);
        if let (Some(store), Some(lease)) = (&self.store, lease) {
            match store.revoke_lease(&lease).await {
                Ok(()) | Err(StoreError::LeaseNotFound(_)) => info!("resigned the leadership"),
                Err(e) => {
                    warn!(error = %e, "cannot revoke the leader lease; it expires on its own")
                }
            }
        }
    }

    fn set(&self, r: Role) {
        self.role.send_if_modified(|cur| {
            if *cur != r {
                info!(role = ?r, "netmaster role changed");
                *cur = r;
                true
            } else {
                false
            }
        });
    }

    fn hold_lease(&self, lease: Option<LeaseId>) {
        *self.lease.lock().unwrap_or_else(PoisonError::into_inner) = lease;
    }

    async fn campaign(self: Arc<Self>, store: Arc<dyn StateStore>, ttl: Duration) {
        loop {
            match self.try_lead(&store, ttl).await {
                Ok(()) => {}
                Err(e) => {
                    warn!(error = %e, "election round failed");
                    self.set(Role::Candidate);
                    tokio::time::sleep(ttl / 4).await;
                }
            }
        }
    }

    async fn step_down(&self, store: &Arc<dyn StateStore>, lease: &LeaseId, why: &str) {
        warn!("{why}; stepping down");
        self.set(Role::Candidate);
        self.hold_lease(None);
        let _ = store.revoke_lease(lease).await;
    }

    /// One round: become leader and hold it, or follow until the key goes.
    async fn try_lead(&self, store: &Arc<dyn StateStore>, ttl: Duration) -> Result<(), StoreError> {
        let lease = store.grant_lease(ttl).await?;
        let put = store
            .put(
                &self.key,
                self.me.as_bytes().to_vec(),
                PutOptions {
                    precondition: Precondition::Absent,
                    lease: Some(lease.id.clone()),
                },
            )
            .await;
        match put {
            Ok(rev) => {
                self.hold_lease(Some(lease.id.clone()));
                self.set(Role::Leader { fence: rev });
                let period = (ttl / 3).max(Duration::from_millis(50));
                loop {
                    tokio::time::sleep(period).await;
                    if let Err(e) = store.keep_alive(&lease.id).await {
                        self.step_down(store, &lease.id, &format!("leader lease lost ({e})"))
                            .await;
                        return Ok(());
                    }
                    // The key must still be ours (nobody can delete it
                    // while our lease lives, but be certain).
                    match store.get(&self.key).await {
                        Ok(Some(kv)) if kv.mod_revision == rev => {}
                        Ok(_) => {
                            self.step_down(store, &lease.id, "leader key changed under us")
                                .await;
                            return Ok(());
                        }
                        Err(e) => {
                            self.step_down(
                                store,
                                &lease.id,
                                &format!("cannot read the leader key ({e})"),
                            )
                            .await;
                            return Ok(());
                        }
                    }
                }
            }
            Err(StoreError::PreconditionFailed { .. }) => {
                let _ = store.revoke_lease(&lease.id).await;
                self.follow(store).await
            }
            Err(e) => {
                let _ = store.revoke_lease(&lease.id).await;
                Err(e)
            }
        }
    }

    /// Follows the current leader until its key disappears.
    async fn follow(&self, store: &Arc<dyn StateStore>) -> Result<(), StoreError> {
        let Some(kv) = store.get(&self.key).await? else {
            return Ok(());
        };
        self.set(Role::Follower {
            leader: Some(String::from_utf8_lossy(&kv.value).into_owned()),
        });
        let mut events = store.watch(&self.key, Some(kv.mod_revision + 1)).await?;
        while let Some(ev) = events.next().await {
            let ev = ev?;
            if ev.kv.key != self.key {
                continue;
            }
            match ev.kind {
                EventKind::Delete => {
                    info!("the leader key is gone; campaigning");
                    return Ok(());
                }
                EventKind::Put => self.set(Role::Follower {
                    leader: Some(String::from_utf8_lossy(&ev.kv.value).into_owned()),
                }),
            }
        }
        info!("the watch of the leader key ended; campaigning again");
        Ok(())
    }
}
