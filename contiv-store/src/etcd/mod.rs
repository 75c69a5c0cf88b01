//! [`EtcdStore`]: the [`StateStore`] contract on etcd v3 (etcd-client).
//!
//! | contract | etcd |
//! |---|---|
//! | `txn` | one `Txn`: compares on `create_revision`/`mod_revision`/`version`, puts and deletes on success, a keys-only `Range` of every key on failure to name the first failing key |
//! | `list` | `Range` over the prefix, paged at one revision |
//! | `watch(prefix, from)` | `Watch` with `start_revision`; a compacted start ends the stream with [`StoreError::Compacted`] |
//! | leases | `LeaseGrant` (TTL rounded up to whole seconds, and to etcd's minimum), `LeaseKeepAlive` (each call is one short-lived stream: it refreshes the lease and reads back the renewed TTL; no background keeper), `LeaseRevoke` |
//! | `compact(r)` | `Compact(r + 1)`: etcd keeps revision `r + 1` onwards, so watching from `<= r` fails as the contract says |
//!
//! Differences that stem from etcd itself:
//! * an empty etcd is at revision 1, not 0;
//! * etcd cannot compact past its current revision: `compact(current)`
//!   compacts to `current`, and the event at `current` stays watchable;
//! * lease TTLs have one-second granularity and a server minimum.
//!
//! The client connects to **all** given endpoints and balances across
//! them; a request that could not reach a member (one that is down but
//! still in the balancer) is sent again, to the others; reads are also
//! retried after other connection failures, writes are not (they may have
//! been applied).
//! Connection failures are [`StoreError::Unavailable`] (retry).

mod convert;
mod txn;
mod watch;

use crate::contract::first_wanted;
use crate::contract::validate_ops;
use async_trait::async_trait;
use contiv_core::store::{
    KeyValue, Lease, LeaseId, ListResponse, Revision, StateStore, StoreError, StoreResult, TxnOp,
    TxnResponse, WatchStream,
};
use convert::{error, etcd_rev, lease_num, prefix_end, prefix_start, rev, with_lease};
use etcd_client::{Client, ConnectOptions, GetOptions, WatchOptions};
use std::future::Future;
use std::time::{Duration, Instant};

/// Keys per page of a `list`.
const LIST_PAGE: i64 = 1000;
/// Largest gRPC reply accepted (a page of 1 MiB values, a txn reply).
const MAX_REPLY_BYTES: usize = 256 << 20;

/// Tuning of an [`EtcdStore`].
#[derive(Clone, Debug)]
pub struct EtcdOptions {
    /// How long connecting (and the first probe) may take. Default 5 s.
    pub connect_timeout: Duration,
    /// How long one request may take before it is `Unavailable`. Watches
    /// are not limited. Default 10 s.
    pub request_timeout: Duration,
    /// HTTP/2 keep-alive ping interval and timeout, which detect a dead
    /// member under a long-lived watch. Default 10 s / 5 s.
    pub keep_alive: (Duration, Duration),
}

impl Default for EtcdOptions {
    fn default() -> Self {
        EtcdOptions {
            connect_timeout: Duration::from_secs(5),
            request_timeout: Duration::from_secs(10),
            keep_alive: (Duration::from_secs(10), Duration::from_secs(5)),
        }
    }
}

/// A store on an etcd v3 cluster. Cloning is cheap (the connection is
/// shared).
#[derive(Clone)]
pub struct EtcdStore {
    client: Client,
    endpoints: Vec<String>,
    options: EtcdOptions,
}

impl std::fmt::Debug for EtcdStore {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("EtcdStore")
            .field("endpoints", &self.endpoints)
            .finish_non_exhaustive()
    }
}

impl EtcdStore {
    /// Connects to every endpoint (`host:port` or `http://host:port`) with
    /// default options and checks that the cluster answers.
    pub async fn connect(endpoints: Vec<String>) -> StoreResult<Self> {
        EtcdStore::connect_with(endpoints, EtcdOptions::default()).await
    }

    /// Connects with the given options and checks that the cluster answers.
    pub async fn connect_with(endpoints: Vec<String>, options: EtcdOptions) -> StoreResult<Self> {
        if endpoints.is_empty() {
            return Err(StoreError::InvalidArgument(
                "etcd store needs at least one endpoint".to_owned(),
            ));
        }
        let urls: Vec<String> = endpoints
            .iter()
            .map(|e| {
                if e.starts_with("http://") || e.starts_with("https://") {
                    e.clone()
                } else {
                    format!("http://{e}")
                }
            })
            .collect();
        let connect = ConnectOptions::new()
            .with_connect_timeout(options.connect_timeout)
            .with_keep_alive(options.keep_alive.0, options.keep_alive.1)
            .with_keep_alive_while_idle(true);
        let context = format!("connecting to etcd at {}", urls.join(","));
        let client = match tokio::time::timeout(
            options.connect_timeout,
            Client::connect(urls.clone(), Some(connect)),
        )
        .await
        {
            Err(_) => {
                return Err(StoreError::Unavailable(format!(
                    "{context}: no answer within {:?}",
                    options.connect_timeout
                )));
            }
            Ok(result) => result.map_err(|e| error(&context, e))?,
        };
        let store = EtcdStore {
            client,
            endpoints: urls,
            options,
        };
        store.current_revision().await.map_err(|e| match e {
            StoreError::Unavailable(m) => StoreError::Unavailable(format!("{context}: {m}")),
            other => other,
        })?;
        Ok(store)
    }

    /// The endpoints this store was given (as URLs).
    pub fn endpoints(&self) -> &[String] {
        &self.endpoints
    }

    /// Runs one request under the request timeout, mapping errors.
    async fn call<T, F>(&self, what: &str, fut: F) -> StoreResult<T>
    where
        F: Future<Output = Result<T, etcd_client::Error>>,
    {
        match tokio::time::timeout(self.options.request_timeout, fut).await {
            Err(_) => Err(StoreError::Unavailable(format!(
                "etcd {what}: no answer within {:?} from {}",
                self.options.request_timeout,
                self.endpoints.join(",")
            ))),
            Ok(result) => result.map_err(|e| error(&format!("etcd {what}"), e)),
        }
    }

    /// Runs a request, trying again while it fails without having reached
    /// a member (a member that is down is still in the balancer until its
    /// connection is noticed as gone): `make` builds a fresh request each
    /// time. A request that may have been delivered is retried only when
    /// `idempotent`. Retries stop after two per endpoint or when the request
    /// timeout runs out, whichever comes first.
    async fn call_retrying<T, F, Fut>(
        &self,
        what: &str,
        idempotent: bool,
        mut make: F,
    ) -> StoreResult<T>
    where
        F: FnMut() -> Fut,
        Fut: Future<Output = Result<T, etcd_client::Error>>,
    {
        let deadline = Instant::now() + self.options.request_timeout;
        let attempts = 2 * self.endpoints.len().max(1);
        let mut backoff = Duration::from_millis(20);
        for attempt in 1.. {
            let remaining = deadline.saturating_duration_since(Instant::now());
            let e = match tokio::time::timeout(remaining, make()).await {
                Err(_) => {
                    return Err(StoreError::Unavailable(format!(
                        "etcd {what}: no answer within {:?} from {}",
                        self.options.request_timeout,
                        self.endpoints.join(",")
                    )));
                }
                Ok(Ok(v)) => return Ok(v),
                Ok(Err(e)) => e,
            };
            let undelivered = convert::never_delivered(&e);
            let mapped = error(&format!("etcd {what}"), e);
            let retryable =
                undelivered || (idempotent && matches!(mapped, StoreError::Unavailable(_)));
            if !retryable || attempt >= attempts || Instant::now() + backoff >= deadline {
                return Err(mapped);
            }
            tracing::debug!(what, attempt, error = %mapped, "etcd request failed before reaching a member; trying again");
            tokio::time::sleep(backoff).await;
            backoff = (backoff * 2).min(Duration::from_millis(500));
        }
        unreachable!("the retry loop returns")
    }

    fn kv(&self) -> etcd_client::KvClient {
        self.client
            .kv_client()
            .max_decoding_message_size(MAX_REPLY_BYTES)
    }

    /// Which of the leases a failed txn named is gone (etcd does not say).
    async fn missing_lease(&self, ops: &[TxnOp]) -> Option<LeaseId> {
        let leases = crate::contract::leases_of(ops);
        if leases.len() == 1 {
            return leases.into_iter().next().cloned();
        }
        for id in leases {
            let Ok(n) = lease_num(id) else {
                return Some(id.clone());
            };
            let mut lc = self.client.lease_client();
            match self
                .call("lease time-to-live", lc.time_to_live(n, None))
                .await
            {
                Ok(resp) if resp.ttl() <= 0 => return Some(id.clone()),
                _ => {}
            }
        }
        None
    }

    /// One page-by-page listing at a single revision.
    async fn list_once(&self, prefix: &str) -> StoreResult<ListResponse> {
        let end = prefix_end(prefix.as_bytes());
        let mut from = prefix_start(prefix);
        let mut at: Option<i64> = None;
        let mut kvs = Vec::new();
        loop {
            let mut opts = GetOptions::new()
                .with_range(end.clone())
                .with_limit(LIST_PAGE);
            if let Some(r) = at {
                opts = opts.with_revision(r);
            }
            let resp = self
                .call_retrying("list", true, || {
                    let mut kv = self.kv();
                    let (from, opts) = (from.clone(), opts.clone());
                    async move { kv.get(from, Some(opts)).await }
                })
                .await?;
            if at.is_none() {
                at = Some(resp.header().map_or(0, |h| h.revision()));
            }
            for item in resp.kvs() {
                kvs.push(convert::kv(item)?);
            }
            match (resp.more(), resp.kvs().last()) {
                (true, Some(last)) => {
                    from = last.key().to_vec();
                    from.push(0);
                }
                _ => break,
            }
        }
        Ok(ListResponse {
            kvs,
            revision: rev(at.unwrap_or(0)),
        })
    }
}

#[async_trait]
impl StateStore for EtcdStore {
    fn backend_name(&self) -> &'static str {
        "etcd"
    }

    async fn get(&self, key: &str) -> StoreResult<Option<KeyValue>> {
        let resp = self
            .call_retrying("get", true, || {
                let mut kv = self.kv();
                async move { kv.get(key, None).await }
            })
            .await?;
        resp.kvs().first().map(convert::kv).transpose()
    }

    async fn list(&self, prefix: &str) -> StoreResult<ListResponse> {
        let mut attempts = 0;
        loop {
            match self.list_once(prefix).await {
                // A compaction between two pages: list again at a newer revision.
                Err(StoreError::Backend(m)) if m.contains("compacted") && attempts < 3 => {
                    attempts += 1;
                }
                other => return other,
            }
        }
    }

    async fn current_revision(&self) -> StoreResult<Revision> {
        let resp = self
            .call_retrying("revision", true, || {
                let mut kv = self.kv();
                async move {
                    kv.get(vec![0u8], Some(GetOptions::new().with_count_only()))
                        .await
                }
            })
            .await?;
        Ok(rev(resp.header().map_or(0, |h| h.revision())))
    }

    async fn txn(&self, ops: Vec<TxnOp>) -> StoreResult<TxnResponse> {
        validate_ops(&ops)?;
        let request = txn::build(&ops)?;
        let resp = match self
            .call_retrying("txn", false, || {
                let mut kv = self.kv();
                let request = request.clone();
                async move { kv.txn(request).await }
            })
            .await
        {
            Ok(resp) => resp,
            Err(StoreError::LeaseNotFound(_)) => {
                let id = self
                    .missing_lease(&ops)
                    .await
                    .unwrap_or_else(|| LeaseId(String::new()));
                return Err(StoreError::LeaseNotFound(id));
            }
            Err(e) => return Err(e),
        };
        let responses = resp.op_responses();
        if !resp.succeeded() {
            return Err(txn::failure(&ops, &responses));
        }
        Ok(TxnResponse {
            revision: rev(resp.header().map_or(0, |h| h.revision())),
            outcomes: txn::outcomes(&ops, &responses)?,
        })
    }

    async fn watch(&self, prefix: &str, from: Option<Revision>) -> StoreResult<WatchStream> {
        let requested = from.map(first_wanted);
        let mut opts = WatchOptions::new().with_prefix();
        if let Some(r) = requested {
            opts = opts.with_start_revision(etcd_rev(r)?);
        }
        let mut wc = self
            .client
            .watch_client()
            .max_decoding_message_size(MAX_REPLY_BYTES);
        let mut inner = self.call("watch", wc.watch(prefix, Some(opts))).await?;
        let created = self.call("watch", inner.message()).await?.ok_or_else(|| {
            StoreError::Unavailable("etcd watch: the stream closed before it was created".into())
        })?;
        if created.canceled() {
            let compact = created.compact_revision();
            if compact > 0 {
                return Err(StoreError::Compacted {
                    requested: requested.unwrap_or(0),
                    compacted: rev(compact).saturating_sub(1),
                });
            }
            return Err(StoreError::Backend(format!(
                "etcd refused the watch of {prefix:?}: {}",
                created.cancel_reason()
            )));
        }
        let last_seen = match requested {
            Some(r) => r - 1,
            None => rev(created.header().map_or(0, |h| h.revision())),
        };
        Ok(watch::stream(watch::Watch {
            inner,
            prefix: prefix.to_owned(),
            requested: requested.unwrap_or(last_seen + 1),
            last_seen,
        }))
    }

    async fn grant_lease(&self, ttl: Duration) -> StoreResult<Lease> {
        if ttl.is_zero() {
            return Err(StoreError::InvalidArgument(
                "a lease needs a positive time-to-live".to_owned(),
            ));
        }
        let secs = i64::try_from(ttl.as_secs() + u64::from(ttl.subsec_nanos() > 0))
            .unwrap_or(i64::MAX)
            .max(1);
        let resp = self
            .call_retrying("lease grant", false, || {
                let mut lc = self.client.lease_client();
                async move { lc.grant(secs, None).await }
            })
            .await?;
        if !resp.error().is_empty() {
            return Err(StoreError::Backend(format!(
                "etcd lease grant: {}",
                resp.error()
            )));
        }
        Ok(Lease {
            id: LeaseId(resp.id().to_string()),
            ttl: Duration::from_secs(u64::try_from(resp.ttl()).unwrap_or(0)),
        })
    }

    async fn keep_alive(&self, lease: &LeaseId) -> StoreResult<Duration> {
        let n = lease_num(lease)?;
        let mut lc = self.client.lease_client();
        // The first refresh happens when the stream opens (and fails for an
        // unknown lease); the second reports the renewed TTL.
        let (mut keeper, mut replies) = self
            .call("lease keep-alive", lc.keep_alive(n))
            .await
            .map_err(|e| with_lease(e, lease))?;
        self.call("lease keep-alive", keeper.keep_alive())
            .await
            .map_err(|e| with_lease(e, lease))?;
        let reply = self
            .call("lease keep-alive", replies.message())
            .await
            .map_err(|e| with_lease(e, lease))?;
        match reply {
            Some(r) if r.ttl() > 0 => Ok(Duration::from_secs(u64::try_from(r.ttl()).unwrap_or(0))),
            Some(_) => Err(StoreError::LeaseNotFound(lease.clone())),
            None => Err(StoreError::Unavailable(
                "etcd lease keep-alive: the stream closed without a reply".to_owned(),
            )),
        }
    }

    async fn revoke_lease(&self, lease: &LeaseId) -> StoreResult<()> {
        let n = lease_num(lease)?;
        self.call_retrying("lease revoke", false, || {
            let mut lc = self.client.lease_client();
            async move { lc.revoke(n).await }
        })
        .await
        .map_err(|e| with_lease(e, lease))?;
        Ok(())
    }

    async fn compact(&self, revision: Revision) -> StoreResult<()> {
        let mut kv = self.kv();
        let target = etcd_rev(revision.saturating_add(1))?;
        match self.call("compact", kv.compact(target, None)).await {
            Ok(_) => Ok(()),
            Err(StoreError::Backend(m)) if m.contains("compacted") => Ok(()),
            Err(StoreError::InvalidArgument(m)) if m.contains("future revision") => {
                // `revision` may be the current one: etcd cannot compact
                // past it, so compact to it (its own event stays).
                let current = self.current_revision().await?;
                if revision > current {
                    return Err(StoreError::InvalidArgument(format!(
                        "cannot compact to revision {revision}: the current revision is {current}"
                    )));
                }
                let mut kv = self.kv();
                match self
                    .call("compact", kv.compact(etcd_rev(revision)?, None))
                    .await
                {
                    Ok(_) => Ok(()),
                    Err(StoreError::Backend(m)) if m.contains("compacted") => Ok(()),
                    Err(e) => Err(e),
                }
            }
            Err(e) => Err(e),
        }
    }
}
