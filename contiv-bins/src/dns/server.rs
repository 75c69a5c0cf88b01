//! The DNS servers: one UDP socket (and optionally one TCP listener) per
//! DNS endpoint, i.e. per (tenant, network), all answering from one shared
//! [`SharedNames`] and forwarding through one shared [`Forwarder`].
//!
//! Each query is answered from the tables when they know the name
//! (see [`super::names`]); otherwise it is forwarded. Without a forwarder,
//! unknown names get NXDOMAIN; when forwarding fails (no upstream answered,
//! too many forwards in flight) they get SERVFAIL — NXDOMAIN only ever comes
//! from an upstream that says so.
//!
//! The serve futures run until dropped; [`DnsServer::spawn`] runs them as
//! tasks behind a [`ServeHandle`] that stops them when dropped.

use super::forward::{ForwardPermit, Forwarder};
use super::names::SharedNames;
use super::reply::{self, Action, ForwardRequest, Transport};
use hickory_proto::op::ResponseCode;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream, UdpSocket};
use tokio::sync::Semaphore;
use tokio::task::{JoinHandle, JoinSet};
use tracing::debug;

/// Most concurrent TCP connections per listener; more are closed at once.
pub const MAX_TCP_CONNECTIONS: usize = 64;

/// A TCP connection idle this long is closed.
pub const TCP_IDLE_TIMEOUT: Duration = Duration::from_secs(10);

/// Largest UDP query read (larger datagrams are cut and then fail to
/// parse, so they are dropped).
const UDP_RECV_BUFFER: usize = 4096;

/// Whose queries a socket receives: the tenant and network of its DNS
/// endpoint.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct DnsContext {
    /// Tenant name.
    pub tenant: String,
    /// Network name (within the tenant).
    pub network: String,
}

impl DnsContext {
    /// The context of the DNS endpoint of `network` in `tenant`.
    pub fn new(tenant: impl Into<String>, network: impl Into<String>) -> Self {
        DnsContext {
            tenant: tenant.into(),
            network: network.into(),
        }
    }
}

/// The DNS server: the shared name tables and forwarder.
#[derive(Debug)]
pub struct DnsServer {
    names: SharedNames,
    forwarder: Option<Forwarder>,
}

/// Running serve tasks; dropping the handle stops them.
#[derive(Debug)]
pub struct ServeHandle {
    tasks: Vec<JoinHandle<()>>,
}

impl ServeHandle {
    /// Stops serving and waits until the tasks have ended (their sockets are
    /// closed when this returns).
    pub async fn stop(mut self) {
        for t in &self.tasks {
            t.abort();
        }
        for t in self.tasks.drain(..) {
            let _ = t.await;
        }
    }
}

impl Drop for ServeHandle {
    fn drop(&mut self) {
        for t in &self.tasks {
            t.abort();
        }
    }
}

impl DnsServer {
    /// A server answering from `names` and forwarding unknown names through
    /// `forwarder` (`None`: unknown names get NXDOMAIN).
    pub fn new(names: SharedNames, forwarder: Option<Forwarder>) -> Self {
        DnsServer { names, forwarder }
    }

    /// The tables the server answers from (apply updates through them).
    pub fn names(&self) -> &SharedNames {
        &self.names
    }

    /// Decides about one packet from the tables alone (no forwarding).
    pub fn answer_locally(&self, ctx: &DnsContext, packet: &[u8], transport: Transport) -> Action {
        let tables = self.names.read();
        reply::answer_locally(&tables, &ctx.tenant, &ctx.network, packet, transport)
    }

    /// Serves `udp` (and `tcp`, if given) for `ctx` as spawned tasks.
    pub fn spawn(
        self: &Arc<Self>,
        ctx: DnsContext,
        udp: UdpSocket,
        tcp: Option<TcpListener>,
    ) -> ServeHandle {
        let mut tasks = vec![tokio::spawn(self.clone().serve_udp(ctx.clone(), udp))];
        if let Some(tcp) = tcp {
            tasks.push(tokio::spawn(self.clone().serve_tcp(ctx, tcp)));
        }
        ServeHandle { tasks }
    }

    /// Answers the queries arriving on `socket` for `ctx`, forever (drop
    /// the future to stop; forwards still in flight are cancelled with it).
    pub async fn serve_udp(self: Arc<Self>, ctx: DnsContext, socket: UdpSocket) {
        let socket = Arc::new(socket);
        let ctx = Arc::new(ctx);
        let mut forwards = JoinSet::new();
        let mut buf = vec![0u8; UDP_RECV_BUFFER];
        loop {
            while forwards.try_join_next().is_some() {}
            let (n, peer) = match socket.recv_from(&mut buf).await {
                Ok(r) => r,
                Err(e) => {
                    debug!(error = %e, "DNS socket receive error");
                    tokio::time::sleep(Duration::from_millis(10)).await;
                    continue;
                }
            };
            let packet = &buf[..n];
            let reply = match self.answer_locally(&ctx, packet, Transport::Udp) {
                Action::Reply(r) => r,
                Action::Drop => continue,
                Action::Forward(req) => match self.start_forward(&req) {
                    Start::Done(Some(r)) => r,
                    Start::Done(None) => continue,
                    Start::Go(permit) => {
                        let (me, sock, packet) = (self.clone(), socket.clone(), packet.to_vec());
                        forwards.spawn(async move {
                            let fwd = me.forwarder.as_ref();
                            if let Some(r) = forwarded(fwd, permit, &packet, &req, false).await {
                                send_udp(&sock, &r, peer).await;
                            }
                        });
                        continue;
                    }
                },
            };
            send_udp(&socket, &reply, peer).await;
        }
    }

    /// Accepts TCP connections on `listener` for `ctx`, forever (drop the
    /// future to stop; its connections are closed with it).
    pub async fn serve_tcp(self: Arc<Self>, ctx: DnsContext, listener: TcpListener) {
        let ctx = Arc::new(ctx);
        let slots = Arc::new(Semaphore::new(MAX_TCP_CONNECTIONS));
        let mut conns = JoinSet::new();
        loop {
            while conns.try_join_next().is_some() {}
            let (stream, peer) = match listener.accept().await {
                Ok(c) => c,
                Err(e) => {
                    debug!(error = %e, "DNS TCP accept error");
                    tokio::time::sleep(Duration::from_millis(10)).await;
                    continue;
                }
            };
            let Ok(slot) = slots.clone().try_acquire_owned() else {
                debug!(%peer, "too many DNS TCP connections; closing");
                continue;
            };
            let (me, ctx) = (self.clone(), ctx.clone());
            conns.spawn(async move {
                let _slot = slot;
                if let Err(e) = me.tcp_connection(&ctx, stream).await {
                    debug!(%peer, error = %e, "DNS TCP connection ended");
                }
            });
        }
    }

    /// Serves one TCP connection: length-prefixed queries, one at a time,
    /// until the client closes it, idles, or sends something unparseable.
    async fn tcp_connection(&self, ctx: &DnsContext, mut stream: TcpStream) -> std::io::Result<()> {
        loop {
            let len = match tokio::time::timeout(TCP_IDLE_TIMEOUT, stream.read_u16()).await {
                Ok(Ok(len)) => len,
                Ok(Err(e)) if e.kind() == std::io::ErrorKind::UnexpectedEof => return Ok(()),
                Ok(Err(e)) => return Err(e),
                Err(_) => return Ok(()),
            };
            let mut packet = vec![0u8; usize::from(len)];
            match tokio::time::timeout(TCP_IDLE_TIMEOUT, stream.read_exact(&mut packet)).await {
                Ok(r) => r?,
                Err(_) => return Ok(()),
            };
            let reply = match self.answer_locally(ctx, &packet, Transport::Tcp) {
                Action::Reply(r) => Some(r),
                Action::Drop => return Ok(()),
                Action::Forward(req) => match self.start_forward(&req) {
                    Start::Done(r) => r,
                    Start::Go(permit) => {
                        forwarded(self.forwarder.as_ref(), permit, &packet, &req, true).await
                    }
                },
            };
            let Some(reply) = reply else {
                return Ok(());
            };
            let Ok(len) = u16::try_from(reply.len()) else {
                return Ok(());
            };
            let mut out = Vec::with_capacity(reply.len() + 2);
            out.extend_from_slice(&len.to_be_bytes());
            out.extend_from_slice(&reply);
            stream.write_all(&out).await?;
        }
    }

    /// The immediate answer when a query cannot be forwarded, or a permit
    /// to forward it.
    fn start_forward(&self, req: &ForwardRequest) -> Start {
        let Some(fwd) = &self.forwarder else {
            return Start::Done(reply::error_reply(
                &req.query,
                ResponseCode::NXDomain,
                req.limit,
            ));
        };
        match fwd.try_reserve() {
            Some(permit) => Start::Go(permit),
            None => {
                debug!("too many DNS forwards in flight; answering SERVFAIL");
                Start::Done(reply::error_reply(
                    &req.query,
                    ResponseCode::ServFail,
                    req.limit,
                ))
            }
        }
    }
}

/// What [`DnsServer::start_forward`] decided.
enum Start {
    /// Answer with this (or nothing).
    Done(Option<Vec<u8>>),
    /// Forward with this permit.
    Go(ForwardPermit),
}

/// Forwards and prepares the answer for the client (SERVFAIL on failure).
async fn forwarded(
    fwd: Option<&Forwarder>,
    permit: ForwardPermit,
    packet: &[u8],
    req: &ForwardRequest,
    tcp: bool,
) -> Option<Vec<u8>> {
    let (Some(fwd), Some(question)) = (fwd, req.query.queries.first()) else {
        return reply::error_reply(&req.query, ResponseCode::ServFail, req.limit);
    };
    match fwd.forward(permit, packet, question, tcp).await {
        Ok(answer) => reply::relay(answer, &req.query, req.limit),
        Err(e) => {
            debug!(name = %question.name(), error = %e, "forwarding failed");
            reply::error_reply(&req.query, ResponseCode::ServFail, req.limit)
        }
    }
}

async fn send_udp(socket: &UdpSocket, reply: &[u8], peer: SocketAddr) {
    if let Err(e) = socket.send_to(reply, peer).await {
        debug!(%peer, error = %e, "cannot send DNS answer");
    }
}
