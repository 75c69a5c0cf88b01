//! Forwarding names the tables do not know to upstream resolvers.
//!
//! The [`Forwarder`] sends queries through UDP sockets its owner opened —
//! in the **host** network namespace, so the host's resolvers (even a
//! loopback stub such as `127.0.0.53`) are reachable, while the server's
//! listening sockets live in the per-network DNS namespaces. One forwarder
//! serves every DNS endpoint of a host.
//!
//! * Each forwarded query gets a fresh, unpredictable message id (the
//!   client's is restored in the answer); an answer is accepted only from
//!   the upstream it was sent to, with that id and the same question.
//! * Upstreams are tried in order, each for at most
//!   [`ForwardConfig::timeout`]; a SERVFAIL or REFUSED answer moves on to
//!   the next one (the last such answer is relayed if no upstream does
//!   better). Unreachable or silent upstreams end in
//!   [`ForwardError::Timeout`] / [`ForwardError::Io`] (the server answers
//!   SERVFAIL).
//! * At most [`ForwardConfig::max_in_flight`] forwards run at once; beyond
//!   that [`Forwarder::try_reserve`] refuses (the server answers SERVFAIL at
//!   once instead of queueing without bound).
//! * For clients on TCP, an upstream UDP answer with TC set is fetched
//!   again over TCP from the same upstream. TCP connections are opened by
//!   the runtime's threads, which stay in the host namespace (the
//!   [`super::netns`] helpers never move them).

use super::resolv_conf;
use hickory_proto::op::{Header, MessageType, Query, ResponseCode};
use hickory_proto::serialize::binary::{BinDecodable, BinDecoder};
use std::collections::HashMap;
use std::hash::{BuildHasher, Hasher, RandomState};
use std::io;
use std::net::SocketAddr;
use std::path::Path;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, PoisonError};
use std::time::Duration;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpStream, UdpSocket};
use tokio::sync::{OwnedSemaphorePermit, Semaphore, oneshot};
use tokio::task::AbortHandle;
use tracing::{debug, warn};

/// Default time to wait for one upstream.
pub const DEFAULT_TIMEOUT: Duration = Duration::from_secs(2);

/// Default bound on concurrent forwards.
pub const DEFAULT_MAX_IN_FLIGHT: usize = 256;

/// Upper bound on [`ForwardConfig::max_in_flight`] (message ids are 16
/// bits; far fewer outstanding ones keep them unguessable).
pub const MAX_IN_FLIGHT_LIMIT: usize = 4096;

/// Where and how to forward.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ForwardConfig {
    /// Upstream resolvers, tried in order.
    pub upstreams: Vec<SocketAddr>,
    /// How long to wait for one upstream.
    pub timeout: Duration,
    /// Most forwards running at once (capped at [`MAX_IN_FLIGHT_LIMIT`]).
    pub max_in_flight: usize,
}

impl ForwardConfig {
    /// Forwarding to these upstreams with the default timeout and bound.
    pub fn new(upstreams: Vec<SocketAddr>) -> Self {
        ForwardConfig {
            upstreams,
            timeout: DEFAULT_TIMEOUT,
            max_in_flight: DEFAULT_MAX_IN_FLIGHT,
        }
    }

    /// Forwarding to the nameservers of a `resolv.conf` file (normally the
    /// host's `/etc/resolv.conf`). Fails if the file cannot be read or
    /// names no nameserver.
    pub fn from_resolv_conf(path: &Path) -> Result<Self, ForwardError> {
        let upstreams = resolv_conf::read(path).map_err(|source| ForwardError::ResolvConf {
            path: path.display().to_string(),
            source,
        })?;
        if upstreams.is_empty() {
            return Err(ForwardError::NoNameserver {
                path: path.display().to_string(),
            });
        }
        Ok(Self::new(upstreams))
    }
}

/// Why a query could not be forwarded.
#[derive(Debug, thiserror::Error)]
pub enum ForwardError {
    /// Reading `resolv.conf` failed.
    #[error("cannot read upstream resolvers from {path}: {source}")]
    ResolvConf {
        /// The file.
        path: String,
        /// The I/O error.
        source: io::Error,
    },
    /// `resolv.conf` has no usable `nameserver` line.
    #[error("{path} names no usable nameserver; configure DNS upstreams explicitly")]
    NoNameserver {
        /// The file.
        path: String,
    },
    /// No upstream of an address family the forwarding sockets can reach.
    #[error("no upstream resolver reachable through the forwarding sockets ({0:?})")]
    NoUpstream(Vec<SocketAddr>),
    /// Every upstream stayed silent for the timeout.
    #[error("no upstream resolver answered within {0:?}")]
    Timeout(Duration),
    /// Sending to or reading from the upstreams failed.
    #[error("forwarding failed: {0}")]
    Io(#[from] io::Error),
}

/// A reserved forwarding slot (see [`Forwarder::try_reserve`]).
#[derive(Debug)]
pub struct ForwardPermit(#[allow(dead_code)] OwnedSemaphorePermit);

/// A query waiting for its upstream answer.
struct Pending {
    upstream: SocketAddr,
    question: Query,
    tx: oneshot::Sender<Vec<u8>>,
}

struct Inner {
    /// Forwarding sockets with their address family (`true`: IPv6).
    sockets: Vec<(bool, Arc<UdpSocket>)>,
    config: ForwardConfig,
    pending: Mutex<HashMap<u16, Pending>>,
    ids: RandomState,
    counter: AtomicU64,
}

/// Forwards queries upstream; see the module docs. Dropping it stops its
/// receive tasks.
pub struct Forwarder {
    inner: Arc<Inner>,
    permits: Arc<Semaphore>,
    receivers: Vec<AbortHandle>,
}

impl std::fmt::Debug for Forwarder {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Forwarder")
            .field("config", &self.inner.config)
            .finish_non_exhaustive()
    }
}

impl Drop for Forwarder {
    fn drop(&mut self) {
        for r in &self.receivers {
            r.abort();
        }
    }
}

/// Removes a pending query when its forward ends, however it ends.
struct PendingGuard<'a> {
    inner: &'a Inner,
    id: u16,
}

impl Drop for PendingGuard<'_> {
    fn drop(&mut self) {
        self.inner.lock_pending().remove(&self.id);
    }
}

impl Forwarder {
    /// A forwarder sending through `sockets` (unconnected UDP sockets, at
    /// most one per address family is used; open them in the host
    /// namespace). Must be called inside a tokio runtime: it spawns one
    /// receive task per socket.
    pub fn new(sockets: Vec<UdpSocket>, mut config: ForwardConfig) -> Self {
        config.max_in_flight = config.max_in_flight.clamp(1, MAX_IN_FLIGHT_LIMIT);
        let sockets: Vec<(bool, Arc<UdpSocket>)> = sockets
            .into_iter()
            .filter_map(|s| match s.local_addr() {
                Ok(a) => Some((a.is_ipv6(), Arc::new(s))),
                Err(e) => {
                    warn!(error = %e, "forwarding socket has no local address; ignoring it");
                    None
                }
            })
            .collect();
        let permits = Arc::new(Semaphore::new(config.max_in_flight));
        let inner = Arc::new(Inner {
            sockets,
            config,
            pending: Mutex::new(HashMap::new()),
            ids: RandomState::new(),
            counter: AtomicU64::new(0),
        });
        let receivers = (0..inner.sockets.len())
            .map(|i| tokio::spawn(Inner::receive(inner.clone(), i)).abort_handle())
            .collect();
        Forwarder {
            inner,
            permits,
            receivers,
        }
    }

    /// The configuration in force.
    pub fn config(&self) -> &ForwardConfig {
        &self.inner.config
    }

    /// Reserves a forwarding slot, or `None` if
    /// [`ForwardConfig::max_in_flight`] forwards are running.
    pub fn try_reserve(&self) -> Option<ForwardPermit> {
        self.permits
            .clone()
            .try_acquire_owned()
            .ok()
            .map(ForwardPermit)
    }

    /// Forwards `packet` (a query whose only question is `question`) and
    /// returns the upstream's answer as received (its message id is the
    /// forwarder's, not the client's). `tcp_client`: refetch over TCP when
    /// the UDP answer is truncated.
    pub async fn forward(
        &self,
        _permit: ForwardPermit,
        packet: &[u8],
        question: &Query,
        tcp_client: bool,
    ) -> Result<Vec<u8>, ForwardError> {
        let inner = &self.inner;
        let mut last_err = None;
        let mut last_failure_answer = None;
        let mut tried = false;
        for &upstream in &inner.config.upstreams {
            let Some(socket) = inner.socket_for(upstream) else {
                continue;
            };
            tried = true;
            let answer = match inner.udp_exchange(socket, upstream, packet, question).await {
                Ok(a) => a,
                Err(e) => {
                    debug!(%upstream, error = %e, "upstream did not answer");
                    last_err = Some(e);
                    continue;
                }
            };
            let answer = if tcp_client && truncated(&answer) {
                match inner.tcp_exchange(upstream, packet, question).await {
                    Ok(a) => a,
                    Err(e) => {
                        debug!(%upstream, error = %e, "TCP refetch failed; relaying truncated answer");
                        answer
                    }
                }
            } else {
                answer
            };
            if matches!(
                rcode(&answer),
                ResponseCode::ServFail | ResponseCode::Refused
            ) {
                last_failure_answer = Some(answer);
                continue;
            }
            return Ok(answer);
        }
        if let Some(a) = last_failure_answer {
            return Ok(a);
        }
        if !tried {
            return Err(ForwardError::NoUpstream(inner.config.upstreams.clone()));
        }
        Err(last_err.unwrap_or(ForwardError::Timeout(inner.config.timeout)))
    }
}

impl Inner {
    fn lock_pending(&self) -> std::sync::MutexGuard<'_, HashMap<u16, Pending>> {
        self.pending.lock().unwrap_or_else(PoisonError::into_inner)
    }

    fn socket_for(&self, upstream: SocketAddr) -> Option<&Arc<UdpSocket>> {
        self.sockets
            .iter()
            .find(|(v6, _)| *v6 == upstream.is_ipv6())
            .map(|(_, s)| s)
    }

    fn random_u16(&self) -> u16 {
        let mut h = self.ids.build_hasher();
        h.write_u64(self.counter.fetch_add(1, Ordering::Relaxed));
        (h.finish() & 0xffff) as u16
    }

    /// Registers a pending query under a fresh id.
    fn register(
        &self,
        upstream: SocketAddr,
        question: &Query,
    ) -> (u16, oneshot::Receiver<Vec<u8>>) {
        let (tx, rx) = oneshot::channel();
        let mut pending = self.lock_pending();
        let mut id = self.random_u16();
        while pending.contains_key(&id) {
            id = self.random_u16();
        }
        pending.insert(
            id,
            Pending {
                upstream,
                question: question.clone(),
                tx,
            },
        );
        (id, rx)
    }

    async fn udp_exchange(
        &self,
        socket: &UdpSocket,
        upstream: SocketAddr,
        packet: &[u8],
        question: &Query,
    ) -> Result<Vec<u8>, ForwardError> {
        let (id, rx) = self.register(upstream, question);
        let _guard = PendingGuard { inner: self, id };
        let mut out = packet.to_vec();
        out[..2].copy_from_slice(&id.to_be_bytes());
        socket.send_to(&out, upstream).await?;
        match tokio::time::timeout(self.config.timeout, rx).await {
            Ok(Ok(answer)) => Ok(answer),
            Ok(Err(_)) | Err(_) => Err(ForwardError::Timeout(self.config.timeout)),
        }
    }

    async fn tcp_exchange(
        &self,
        upstream: SocketAddr,
        packet: &[u8],
        question: &Query,
    ) -> Result<Vec<u8>, ForwardError> {
        let timeout = self.config.timeout;
        let exchange = async {
            let mut stream = TcpStream::connect(upstream).await?;
            let id = self.random_u16();
            let mut out = Vec::with_capacity(packet.len() + 2);
            let len = u16::try_from(packet.len())
                .map_err(|_| io::Error::new(io::ErrorKind::InvalidInput, "query too long"))?;
            out.extend_from_slice(&len.to_be_bytes());
            out.extend_from_slice(packet);
            out[2..4].copy_from_slice(&id.to_be_bytes());
            stream.write_all(&out).await?;
            let len = stream.read_u16().await?;
            let mut answer = vec![0u8; usize::from(len)];
            stream.read_exact(&mut answer).await?;
            if !answers(&answer, id, question) {
                return Err(io::Error::new(
                    io::ErrorKind::InvalidData,
                    "upstream TCP answer does not match the query",
                ));
            }
            Ok::<_, io::Error>(answer)
        };
        match tokio::time::timeout(timeout, exchange).await {
            Ok(r) => Ok(r?),
            Err(_) => Err(ForwardError::Timeout(timeout)),
        }
    }

    /// Receives upstream answers on one socket and hands each to the query
    /// waiting for it.
    async fn receive(inner: Arc<Inner>, index: usize) {
        let Some((_, socket)) = inner.sockets.get(index).cloned() else {
            return;
        };
        let mut buf = vec![0u8; 65535];
        loop {
            match socket.recv_from(&mut buf).await {
                Ok((n, src)) => inner.deliver(&buf[..n], src),
                Err(e) => {
                    debug!(error = %e, "forwarding socket receive error");
                    tokio::time::sleep(Duration::from_millis(10)).await;
                }
            }
        }
    }

    fn deliver(&self, packet: &[u8], src: SocketAddr) {
        let Some(id) = packet.get(..2).map(|b| u16::from_be_bytes([b[0], b[1]])) else {
            return;
        };
        let mut pending = self.lock_pending();
        let Some(p) = pending.get(&id) else {
            return;
        };
        if p.upstream != src || !answers(packet, id, &p.question) {
            debug!(%src, "ignoring an upstream packet that answers nothing we asked");
            return;
        }
        if let Some(p) = pending.remove(&id) {
            let _ = p.tx.send(packet.to_vec());
        }
    }
}

/// Whether `packet` is a response with message id `id` to `question`.
/// Only the header and the question are read: a truncated answer need not
/// parse beyond them.
fn answers(packet: &[u8], id: u16, question: &Query) -> bool {
    let mut decoder = BinDecoder::new(packet);
    let Ok(header) = Header::read(&mut decoder) else {
        return false;
    };
    if header.metadata.message_type != MessageType::Response
        || header.metadata.id != id
        || header.counts.queries != 1
    {
        return false;
    }
    Query::read(&mut decoder).is_ok_and(|q| {
        q.name() == question.name()
            && q.query_type() == question.query_type()
            && q.query_class() == question.query_class()
    })
}

fn truncated(packet: &[u8]) -> bool {
    packet.get(2).is_some_and(|b| b & 0x02 != 0)
}

fn rcode(packet: &[u8]) -> ResponseCode {
    ResponseCode::from_low(packet.get(3).map_or(0, |b| b & 0x0f))
}
