//! [`Connection`]: handshake, reader/writer/keep-alive tasks, request/reply
//! matching, checked batches and bundles.

use super::{AsyncMessage, BatchError, ConnConfig, ConnError};
use crate::openflow::wire::{
    self, BundleControl, BundleCtrlType, Desc, ErrorMsg, FeaturesReply, FlowMod, FlowStats,
    FlowStatsRequest, Header, Hello, Message, MultipartReplyBody, MultipartRequest,
    MultipartRequestBody, OFP_VERSION, Port, PortStats, Role, RoleRequest, bundle_flags,
    error_type,
};
use std::collections::HashMap;
use std::path::Path;
use std::sync::atomic::{AtomicU32, AtomicU64, Ordering};
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::{Duration, Instant};
use tokio::io::{AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt};
use tokio::sync::{mpsc, oneshot, watch};
use tokio::task::JoinHandle;

/// The stream of asynchronous messages of one connection. It ends (`recv`
/// returns `None`) when the connection closes.
#[derive(Debug)]
pub struct Events {
    rx: mpsc::UnboundedReceiver<AsyncMessage>,
}

impl Events {
    /// The next asynchronous message, or `None` once the connection closed
    /// and everything was received.
    pub async fn recv(&mut self) -> Option<AsyncMessage> {
        self.rx.recv().await
    }

    /// A message if one is queued.
    pub fn try_recv(&mut self) -> Option<AsyncMessage> {
        self.rx.try_recv().ok()
    }
}

type Reply = Result<Message, ConnError>;

enum Waiter {
    Single(oneshot::Sender<Reply>),
    Multipart {
        acc: Option<MultipartReplyBody>,
        tx: oneshot::Sender<Result<MultipartReplyBody, ConnError>>,
    },
}

/// A range of xids whose errors are collected instead of being reported as
/// asynchronous messages.
struct Batch {
    id: u64,
    start: u32,
    end: u32,
    errors: Vec<(u32, ErrorMsg)>,
}

#[derive(Default)]
struct Pending {
    waiters: HashMap<u32, Waiter>,
    batches: Vec<Batch>,
    next_batch: u64,
    closed: Option<String>,
}

struct Shared {
    version: u8,
    config: ConnConfig,
    tx: mpsc::Sender<Vec<u8>>,
    prio_tx: mpsc::UnboundedSender<Vec<u8>>,
    next_xid: AtomicU32,
    next_bundle: AtomicU32,
    pending: Mutex<Pending>,
    closed_tx: watch::Sender<bool>,
    start: Instant,
    last_rx_ms: AtomicU64,
}

impl Shared {
    fn pending(&self) -> MutexGuard<'_, Pending> {
        // A panic while holding this lock cannot leave the map inconsistent
        // in a way that matters more than losing the connection; recover.
        self.pending.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Reserves `n` consecutive xids that do not wrap around; never 0.
    fn reserve_xids(&self, n: u32) -> u32 {
        let mut cur = self.next_xid.load(Ordering::Relaxed);
        loop {
            let start = if cur == 0 || u64::from(cur) + u64::from(n) > u64::from(u32::MAX) {
                1
            } else {
                cur
            };
            let next = start + n;
            match self.next_xid.compare_exchange_weak(
                cur,
                next,
                Ordering::Relaxed,
                Ordering::Relaxed,
            ) {
                Ok(_) => return start,
                Err(actual) => cur = actual,
            }
        }
    }

    fn closed_reason(&self) -> Option<String> {
        self.pending().closed.clone()
    }

    /// Marks the connection closed and fails everything pending.
    fn close(&self, reason: String) {
        let waiters = {
            let mut p = self.pending();
            if p.closed.is_some() {
                return;
            }
            p.closed = Some(reason.clone());
            p.batches.clear();
            std::mem::take(&mut p.waiters)
        };
        for (_, w) in waiters {
            match w {
                Waiter::Single(tx) => {
                    let _ = tx.send(Err(ConnError::Closed(reason.clone())));
                }
                Waiter::Multipart { tx, .. } => {
                    let _ = tx.send(Err(ConnError::Closed(reason.clone())));
                }
            }
        }
        self.closed_tx.send_replace(true);
    }

    fn register(&self, xid: u32, w: Waiter) -> Result<(), ConnError> {
        let mut p = self.pending();
        if let Some(r) = &p.closed {
            return Err(ConnError::Closed(r.clone()));
        }
        p.waiters.insert(xid, w);
        Ok(())
    }

    fn touch(&self) {
        let ms = self.start.elapsed().as_millis() as u64;
        self.last_rx_ms.store(ms, Ordering::Relaxed);
    }

    fn idle_for(&self) -> Duration {
        let now = self.start.elapsed().as_millis() as u64;
        Duration::from_millis(now.saturating_sub(self.last_rx_ms.load(Ordering::Relaxed)))
    }

    /// Routes one received message.
    fn dispatch(&self, xid: u32, msg: Message, events: &mpsc::UnboundedSender<AsyncMessage>) {
        match msg {
            Message::EchoRequest(data) => {
                let mut buf = Vec::new();
                if wire::encode(&Message::EchoReply(data), xid, &mut buf).is_ok() {
                    let _ = self.prio_tx.send(buf);
                }
            }
            Message::PacketIn(p) => {
                let _ = events.send(AsyncMessage::PacketIn { xid, msg: p });
            }
            Message::PortStatus(p) => {
                let _ = events.send(AsyncMessage::PortStatus(p));
            }
            Message::FlowRemoved(f) => {
                let _ = events.send(AsyncMessage::FlowRemoved(f));
            }
            Message::Hello(_) => {}
            Message::Error(e) => {
                let mut p = self.pending();
                if let Some(w) = p.waiters.remove(&xid) {
                    drop(p);
                    let err = ConnError::Switch {
                        what: "request",
                        error: e,
                    };
                    match w {
                        Waiter::Single(tx) => {
                            let _ = tx.send(Err(err));
                        }
                        Waiter::Multipart { tx, .. } => {
                            let _ = tx.send(Err(err));
                        }
                    }
                } else if let Some(b) = p
                    .batches
                    .iter_mut()
                    .find(|b| (b.start..b.end).contains(&xid))
                {
                    b.errors.push((xid, e));
                } else {
                    drop(p);
                    let _ = events.send(AsyncMessage::Error { xid, error: e });
                }
            }
            Message::MultipartReply(r) => {
                let mut p = self.pending();
                match p.waiters.remove(&xid) {
                    Some(Waiter::Multipart { acc, tx }) => {
                        let more = r.more();
                        let acc = match acc {
                            None => Some(r.body),
                            Some(mut a) => {
                                if !a.merge(r.body) {
                                    drop(p);
                                    let _ = tx.send(Err(ConnError::UnexpectedReply {
                                        what: "multipart request",
                                        got: wire::MsgType::MultipartReply as u8,
                                    }));
                                    return;
                                }
                                Some(a)
                            }
                        };
                        if more {
                            p.waiters.insert(xid, Waiter::Multipart { acc, tx });
                        } else if let Some(body) = acc {
                            drop(p);
                            let _ = tx.send(Ok(body));
                        }
                    }
                    Some(Waiter::Single(tx)) => {
                        drop(p);
                        let _ = tx.send(Ok(Message::MultipartReply(r)));
                    }
                    None => {
                        drop(p);
                        let _ = events.send(AsyncMessage::Other {
                            xid,
                            msg: Message::MultipartReply(r),
                        });
                    }
                }
            }
            msg => {
                let w = self.pending().waiters.remove(&xid);
                match w {
                    Some(Waiter::Single(tx)) => {
                        let _ = tx.send(Ok(msg));
                    }
                    Some(Waiter::Multipart { tx, .. }) => {
                        let _ = tx.send(Err(ConnError::UnexpectedReply {
                            what: "multipart request",
                            got: msg.msg_type(),
                        }));
                    }
                    None => {
                        let _ = events.send(AsyncMessage::Other { xid, msg });
                    }
                }
            }
        }
    }

    /// A message that failed to decode: fail its waiter, or report it.
    fn undecodable(
        &self,
        xid: u32,
        msg_type: u8,
        error: wire::Error,
        events: &mpsc::UnboundedSender<AsyncMessage>,
    ) {
        let w = self.pending().waiters.remove(&xid);
        match w {
            Some(Waiter::Single(tx)) => {
                let _ = tx.send(Err(ConnError::Codec(error)));
            }
            Some(Waiter::Multipart { tx, .. }) => {
                let _ = tx.send(Err(ConnError::Codec(error)));
            }
            None => {
                let _ = events.send(AsyncMessage::Undecodable {
                    xid,
                    msg_type,
                    error,
                });
            }
        }
    }
}

/// Aborts the connection's tasks when the last [`Connection`] clone goes.
struct Tasks {
    shared: Arc<Shared>,
    handles: Vec<JoinHandle<()>>,
}

impl Drop for Tasks {
    fn drop(&mut self) {
        self.shared.close("connection handle dropped".into());
        for h in &self.handles {
            h.abort();
        }
    }
}

/// An OpenFlow 1.3 connection. Cheap to clone; all clones share one
/// socket. See the [module documentation](super).
#[derive(Clone)]
pub struct Connection {
    shared: Arc<Shared>,
    tasks: Arc<Tasks>,
    features: FeaturesReply,
}

impl std::fmt::Debug for Connection {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Connection")
            .field("version", &self.shared.version)
            .field(
                "datapath_id",
                &format_args!("{:#018x}", self.features.datapath_id),
            )
            .field("closed", &self.is_closed())
            .finish()
    }
}

fn io_err(what: &'static str) -> impl FnOnce(std::io::Error) -> ConnError {
    move |e| ConnError::Io {
        what,
        message: e.to_string(),
    }
}

/// Reads until one whole message is buffered; returns its bytes.
async fn read_one<R: AsyncRead + Unpin>(
    r: &mut R,
    buf: &mut Vec<u8>,
) -> Result<Vec<u8>, ConnError> {
    loop {
        if buf.len() >= Header::<&[u8]>::LEN {
            let len = usize::from(Header::new_unchecked(&buf[..]).length());
            if len < Header::<&[u8]>::LEN {
                return Err(ConnError::Handshake(
                    "peer sent a message with a length below 8".into(),
                ));
            }
            if buf.len() >= len {
                let rest = buf.split_off(len);
                return Ok(std::mem::replace(buf, rest));
            }
        }
        let mut chunk = [0u8; 4096];
        let n = r
            .read(&mut chunk)
            .await
            .map_err(io_err("reading the peer's hello"))?;
        if n == 0 {
            return Err(ConnError::Closed("peer closed during the handshake".into()));
        }
        buf.extend_from_slice(&chunk[..n]);
    }
}

impl Connection {
    /// Connects to a unix socket (a bridge's `.mgmt` socket or a `punix:`
    /// controller target) with default settings.
    pub async fn connect_unix(path: impl AsRef<Path>) -> Result<(Connection, Events), ConnError> {
        Self::connect_unix_with(path, ConnConfig::default()).await
    }

    /// [`Connection::connect_unix`] with explicit settings.
    pub async fn connect_unix_with(
        path: impl AsRef<Path>,
        config: ConnConfig,
    ) -> Result<(Connection, Events), ConnError> {
        let s = tokio::net::UnixStream::connect(path.as_ref())
            .await
            .map_err(io_err("connecting to the unix socket"))?;
        Self::from_stream(s, config).await
    }

    /// Connects over TCP (an OVS `ptcp:` target in the same namespace).
    pub async fn connect_tcp(
        addr: std::net::SocketAddr,
        config: ConnConfig,
    ) -> Result<(Connection, Events), ConnError> {
        let s = tokio::net::TcpStream::connect(addr)
            .await
            .map_err(io_err("connecting over TCP"))?;
        let _ = s.set_nodelay(true);
        Self::from_stream(s, config).await
    }

    /// Runs the handshake (HELLO with version negotiation, then
    /// FEATURES_REQUEST) on an established byte stream and starts the
    /// connection's tasks. Works for both directions: we send our HELLO
    /// first and accept the peer's whenever it arrives.
    pub async fn from_stream<S>(
        stream: S,
        config: ConnConfig,
    ) -> Result<(Connection, Events), ConnError>
    where
        S: AsyncRead + AsyncWrite + Send + 'static,
    {
        let (mut rd, mut wr) = tokio::io::split(stream);
        let ours = Hello::v13();
        let mut hello = Vec::new();
        wire::encode(&Message::Hello(ours.clone()), 0, &mut hello)?;
        wr.write_all(&hello)
            .await
            .map_err(io_err("sending hello"))?;
        let mut buf = Vec::new();
        let deadline = config.request_timeout;
        let theirs = tokio::time::timeout(deadline, async {
            loop {
                let raw = read_one(&mut rd, &mut buf).await?;
                let h = Header::new_checked(&raw[..])?;
                if h.msg_type() == wire::MsgType::Hello as u8
                    && let Message::Hello(hh) = Message::parse(&h)?
                {
                    return Ok::<Hello, ConnError>(hh);
                }
                if h.msg_type() == wire::MsgType::Error as u8
                    && let Ok(Message::Error(e)) = Message::parse(&h)
                {
                    return Err(ConnError::Handshake(format!("peer sent an error: {e}")));
                }
            }
        })
        .await
        .map_err(|_| ConnError::Timeout {
            what: "hello",
            after: deadline,
        })??;
        if theirs.negotiate(&ours) != Some(OFP_VERSION) {
            let mut err = Vec::new();
            let msg = Message::Error(ErrorMsg::new(
                error_type::HELLO_FAILED,
                0,
                b"this controller speaks OpenFlow 1.3 only".to_vec(),
            ));
            if wire::encode(&msg, 0, &mut err).is_ok() {
                let _ = wr.write_all(&err).await;
            }
            return Err(ConnError::Handshake(format!(
                "peer does not speak OpenFlow 1.3 (its hello: version {:#04x}, bitmap {:x?}); \
                 set the bridge's protocols to include OpenFlow13",
                theirs.version, theirs.bitmaps
            )));
        }

        // Bounded: at most 64 batches (≈ 64 × `batch_bytes`) queued for the writer.
        let (tx, rx) = mpsc::channel::<Vec<u8>>(64);
        let (prio_tx, prio_rx) = mpsc::unbounded_channel::<Vec<u8>>();
        let (ev_tx, ev_rx) = mpsc::unbounded_channel();
        let (closed_tx, _) = watch::channel(false);
        let shared = Arc::new(Shared {
            version: OFP_VERSION,
            config,
            tx,
            prio_tx,
            next_xid: AtomicU32::new(1),
            next_bundle: AtomicU32::new(1),
            pending: Mutex::new(Pending::default()),
            closed_tx,
            start: Instant::now(),
            last_rx_ms: AtomicU64::new(0),
        });
        let writer = tokio::spawn(writer_task(shared.clone(), wr, rx, prio_rx));
        let reader = tokio::spawn(reader_task(shared.clone(), rd, buf, ev_tx));
        let keepalive = tokio::spawn(keepalive_task(shared.clone()));
        let tasks = Arc::new(Tasks {
            shared: shared.clone(),
            handles: vec![writer, reader, keepalive],
        });
        let mut conn = Connection {
            shared,
            tasks,
            features: FeaturesReply::default(),
        };
        conn.features = match conn
            .request(Message::FeaturesRequest, "features request")
            .await?
        {
            Message::FeaturesReply(f) => f,
            other => {
                return Err(ConnError::UnexpectedReply {
                    what: "features request",
                    got: other.msg_type(),
                });
            }
        };
        Ok((conn, Events { rx: ev_rx }))
    }

    /// The negotiated OpenFlow version (always 1.3 = 0x04).
    pub fn version(&self) -> u8 {
        self.shared.version
    }

    /// The switch's features reply from the handshake.
    pub fn features(&self) -> &FeaturesReply {
        &self.features
    }

    /// The switch's datapath id.
    pub fn datapath_id(&self) -> u64 {
        self.features.datapath_id
    }

    /// Whether the connection is closed.
    pub fn is_closed(&self) -> bool {
        *self.shared.closed_tx.borrow()
    }

    /// Why the connection closed, if it did.
    pub fn close_reason(&self) -> Option<String> {
        self.shared.closed_reason()
    }

    /// Resolves when the connection closes.
    pub async fn closed(&self) {
        let mut rx = self.shared.closed_tx.subscribe();
        let _ = rx.wait_for(|c| *c).await;
    }

    /// Closes the connection: pending requests fail, tasks stop, the
    /// event stream ends.
    pub fn shutdown(&self) {
        self.shared.close("shut down by the controller".into());
        for h in &self.tasks.handles {
            h.abort();
        }
    }

    fn closed_err(&self) -> ConnError {
        ConnError::Closed(
            self.shared
                .closed_reason()
                .unwrap_or_else(|| "writer stopped".into()),
        )
    }

    async fn push(&self, buf: Vec<u8>) -> Result<(), ConnError> {
        self.shared
            .tx
            .send(buf)
            .await
            .map_err(|_| self.closed_err())
    }

    /// Sends one message without waiting for anything. An error the switch
    /// reports for it arrives on [`Events`] as [`AsyncMessage::Error`] with
    /// the returned xid.
    pub async fn send(&self, msg: &Message) -> Result<u32, ConnError> {
        let xid = self.shared.reserve_xids(1);
        let mut buf = Vec::with_capacity(msg.buffer_len());
        wire::encode(msg, xid, &mut buf)?;
        self.push(buf).await?;
        Ok(xid)
    }

    /// Sends many messages, a large buffer per write, without waiting.
    /// Returns the first xid; message `i` has xid `first + i`.
    pub async fn send_all(&self, msgs: &[Message]) -> Result<u32, ConnError> {
        let n = u32::try_from(msgs.len()).map_err(|_| wire::Error::TooLong(msgs.len()))?;
        let first = self.shared.reserve_xids(n.max(1));
        let mut buf = Vec::new();
        for (i, m) in msgs.iter().enumerate() {
            wire::encode(m, first + i as u32, &mut buf)?;
            if buf.len() >= self.shared.config.batch_bytes {
                self.push(std::mem::take(&mut buf)).await?;
            }
        }
        if !buf.is_empty() {
            self.push(buf).await?;
        }
        Ok(first)
    }

    /// Sends a request and waits for the reply with the same xid. An error
    /// reply becomes [`ConnError::Switch`].
    pub async fn request(&self, msg: Message, what: &'static str) -> Result<Message, ConnError> {
        let xid = self.shared.reserve_xids(1);
        let mut buf = Vec::with_capacity(msg.buffer_len());
        wire::encode(&msg, xid, &mut buf)?;
        let (tx, rx) = oneshot::channel();
        self.shared.register(xid, Waiter::Single(tx))?;
        self.await_reply(xid, buf, rx, what).await
    }

    async fn await_reply<T>(
        &self,
        xid: u32,
        buf: Vec<u8>,
        rx: oneshot::Receiver<Result<T, ConnError>>,
        what: &'static str,
    ) -> Result<T, ConnError> {
        if let Err(e) = self.push(buf).await {
            self.shared.pending().waiters.remove(&xid);
            return Err(e);
        }
        self.wait(xid, rx, what).await
    }

    async fn wait<T>(
        &self,
        xid: u32,
        rx: oneshot::Receiver<Result<T, ConnError>>,
        what: &'static str,
    ) -> Result<T, ConnError> {
        let after = self.shared.config.request_timeout;
        match tokio::time::timeout(after, rx).await {
            Ok(Ok(r)) => r.map_err(|e| match e {
                ConnError::Switch { error, .. } => ConnError::Switch { what, error },
                e => e,
            }),
            Ok(Err(_)) => Err(self.closed_err()),
            Err(_) => {
                self.shared.pending().waiters.remove(&xid);
                Err(ConnError::Timeout { what, after })
            }
        }
    }

    /// Sends a barrier and waits for its reply: every message sent before it
    /// has been processed.
    pub async fn barrier(&self) -> Result<(), ConnError> {
        match self.request(Message::BarrierRequest, "barrier").await? {
            Message::BarrierReply => Ok(()),
            m => Err(ConnError::UnexpectedReply {
                what: "barrier",
                got: m.msg_type(),
            }),
        }
    }

    /// Sends an echo request and waits for the reply.
    pub async fn echo(&self, data: Vec<u8>) -> Result<Vec<u8>, ConnError> {
        match self.request(Message::EchoRequest(data), "echo").await? {
            Message::EchoReply(d) => Ok(d),
            m => Err(ConnError::UnexpectedReply {
                what: "echo",
                got: m.msg_type(),
            }),
        }
    }

    /// Sends a multipart request and returns the reply bodies of all
    /// `more` parts merged into one.
    pub async fn multipart(
        &self,
        body: MultipartRequestBody,
    ) -> Result<MultipartReplyBody, ConnError> {
        let xid = self.shared.reserve_xids(1);
        let msg = Message::MultipartRequest(MultipartRequest::from(body));
        let mut buf = Vec::with_capacity(msg.buffer_len());
        wire::encode(&msg, xid, &mut buf)?;
        let (tx, rx) = oneshot::channel();
        self.shared
            .register(xid, Waiter::Multipart { acc: None, tx })?;
        self.await_reply(xid, buf, rx, "multipart request").await
    }

    /// Flow statistics (all parts).
    pub async fn flow_stats(&self, req: FlowStatsRequest) -> Result<Vec<FlowStats>, ConnError> {
        match self.multipart(MultipartRequestBody::Flow(req)).await? {
            MultipartReplyBody::Flow(v) => Ok(v),
            _ => Err(ConnError::UnexpectedReply {
                what: "flow stats request",
                got: wire::MsgType::MultipartReply as u8,
            }),
        }
    }

    /// Port descriptions.
    pub async fn port_desc(&self) -> Result<Vec<Port>, ConnError> {
        match self.multipart(MultipartRequestBody::PortDesc).await? {
            MultipartReplyBody::PortDesc(v) => Ok(v),
            _ => Err(ConnError::UnexpectedReply {
                what: "port desc request",
                got: wire::MsgType::MultipartReply as u8,
            }),
        }
    }

    /// Port counters ([`wire::port_no::ANY`] for all ports).
    pub async fn port_stats(&self, port: u32) -> Result<Vec<PortStats>, ConnError> {
        match self
            .multipart(MultipartRequestBody::PortStats { port_no: port })
            .await?
        {
            MultipartReplyBody::PortStats(v) => Ok(v),
            _ => Err(ConnError::UnexpectedReply {
                what: "port stats request",
                got: wire::MsgType::MultipartReply as u8,
            }),
        }
    }

    /// The switch description.
    pub async fn desc(&self) -> Result<Desc, ConnError> {
        match self.multipart(MultipartRequestBody::Desc).await? {
            MultipartReplyBody::Desc(d) => Ok(d),
            _ => Err(ConnError::UnexpectedReply {
                what: "desc request",
                got: wire::MsgType::MultipartReply as u8,
            }),
        }
    }

    /// Sets (or with [`Role::NoChange`] queries) this controller's role.
    pub async fn role(&self, role: Role, generation_id: u64) -> Result<RoleRequest, ConnError> {
        let req = RoleRequest {
            role,
            generation_id,
        };
        match self
            .request(Message::RoleRequest(req), "role request")
            .await?
        {
            Message::RoleReply(r) => Ok(r),
            m => Err(ConnError::UnexpectedReply {
                what: "role request",
                got: m.msg_type(),
            }),
        }
    }

    /// Registers a batch collecting errors for xids `start..end`.
    fn open_batch(&self, start: u32, end: u32) -> Result<u64, ConnError> {
        let mut p = self.shared.pending();
        if let Some(r) = &p.closed {
            return Err(ConnError::Closed(r.clone()));
        }
        let id = p.next_batch;
        p.next_batch += 1;
        p.batches.push(Batch {
            id,
            start,
            end,
            errors: Vec::new(),
        });
        Ok(id)
    }

    fn close_batch(&self, id: u64) -> Vec<(u32, ErrorMsg)> {
        let mut p = self.shared.pending();
        match p.batches.iter().position(|b| b.id == id) {
            Some(i) => p.batches.swap_remove(i).errors,
            None => Vec::new(),
        }
    }

    /// Sends `msgs` pipelined (large buffers, no per-message round trip),
    /// then a barrier, and reports which messages the switch rejected.
    /// Messages that succeeded stay applied: this is not atomic (see
    /// [`Connection::send_in_bundle`] for that).
    pub async fn send_checked(&self, msgs: &[Message]) -> Result<(), ConnError> {
        let n = u32::try_from(msgs.len()).map_err(|_| wire::Error::TooLong(msgs.len()))?;
        let start = self.shared.reserve_xids(n + 1);
        let barrier_xid = start + n;
        let batch = self.open_batch(start, barrier_xid)?;
        let res = self.send_checked_inner(msgs, start, barrier_xid).await;
        let errors = self.close_batch(batch);
        res?;
        if errors.is_empty() {
            Ok(())
        } else {
            Err(BatchError {
                bundle: false,
                failures: errors
                    .into_iter()
                    .map(|(xid, e)| ((xid - start) as usize, e))
                    .collect(),
                commit: None,
            }
            .into())
        }
    }

    async fn send_checked_inner(
        &self,
        msgs: &[Message],
        start: u32,
        barrier_xid: u32,
    ) -> Result<(), ConnError> {
        let (tx, rx) = oneshot::channel();
        self.shared.register(barrier_xid, Waiter::Single(tx))?;
        let mut buf = Vec::new();
        for (i, m) in msgs.iter().enumerate() {
            if let Err(e) = wire::encode(m, start + i as u32, &mut buf) {
                self.shared.pending().waiters.remove(&barrier_xid);
                return Err(e.into());
            }
            if buf.len() >= self.shared.config.batch_bytes {
                self.push(std::mem::take(&mut buf)).await?;
            }
        }
        wire::encode(&Message::BarrierRequest, barrier_xid, &mut buf)?;
        match self.await_reply(barrier_xid, buf, rx, "barrier").await? {
            Message::BarrierReply => Ok(()),
            m => Err(ConnError::UnexpectedReply {
                what: "barrier",
                got: m.msg_type(),
            }),
        }
    }

    /// Installs flow-mods atomically: see [`Connection::send_in_bundle`].
    pub async fn send_flow_mods_in_bundle(&self, flows: Vec<FlowMod>) -> Result<(), ConnError> {
        let msgs: Vec<Message> = flows.into_iter().map(Message::FlowMod).collect();
        self.send_in_bundle(&msgs).await
    }

    /// Applies `msgs` (flow-mods, group-mods, …) as one atomic, ordered
    /// bundle: open, all adds pipelined in large writes, a barrier, then
    /// commit with `ATOMIC | ORDERED`. Either every message is applied or
    /// none is; on failure the [`BatchError`] names the offending
    /// message(s) by index. If an add is rejected before commit, the bundle
    /// is discarded instead of committed.
    pub async fn send_in_bundle(&self, msgs: &[Message]) -> Result<(), ConnError> {
        if msgs.is_empty() {
            return Ok(());
        }
        let n = u32::try_from(msgs.len()).map_err(|_| wire::Error::TooLong(msgs.len()))?;
        let flags = bundle_flags::ATOMIC | bundle_flags::ORDERED;
        let bundle_id = self.shared.next_bundle.fetch_add(1, Ordering::Relaxed);
        // xids: open, n adds, barrier.
        let open_xid = self.shared.reserve_xids(n + 2);
        let first_add = open_xid + 1;
        let barrier_xid = first_add + n;
        let batch = self.open_batch(first_add, barrier_xid)?;
        let res = self
            .bundle_inner(msgs, bundle_id, flags, open_xid, barrier_xid)
            .await;
        let errors = self.close_batch(batch);
        let failures: Vec<(usize, ErrorMsg)> = errors
            .into_iter()
            .map(|(xid, e)| ((xid - first_add) as usize, e))
            .collect();
        match res {
            Ok(()) if failures.is_empty() => Ok(()),
            Ok(()) => Err(BatchError {
                bundle: true,
                failures,
                commit: None,
            }
            .into()),
            Err(ConnError::Switch { error, .. }) => Err(BatchError {
                bundle: true,
                failures,
                commit: Some(error),
            }
            .into()),
            Err(e) => Err(e),
        }
    }

    async fn bundle_ctrl(
        &self,
        bundle_id: u32,
        t: BundleCtrlType,
        flags: u16,
        what: &'static str,
    ) -> Result<(), ConnError> {
        let want = match t {
            BundleCtrlType::CommitRequest => BundleCtrlType::CommitReply,
            BundleCtrlType::DiscardRequest => BundleCtrlType::DiscardReply,
            BundleCtrlType::CloseRequest => BundleCtrlType::CloseReply,
            _ => BundleCtrlType::OpenReply,
        };
        match self
            .request(
                Message::BundleControl(BundleControl::new(bundle_id, t, flags)),
                what,
            )
            .await?
        {
            Message::BundleControl(b) if b.ctrl_type == want && b.bundle_id == bundle_id => Ok(()),
            m => Err(ConnError::UnexpectedReply {
                what,
                got: m.msg_type(),
            }),
        }
    }

    async fn bundle_inner(
        &self,
        msgs: &[Message],
        bundle_id: u32,
        flags: u16,
        open_xid: u32,
        barrier_xid: u32,
    ) -> Result<(), ConnError> {
        let first_add = open_xid + 1;
        let (open_tx, open_rx) = oneshot::channel();
        self.shared.register(open_xid, Waiter::Single(open_tx))?;
        let (bar_tx, bar_rx) = oneshot::channel();
        self.shared.register(barrier_xid, Waiter::Single(bar_tx))?;
        let cleanup = |s: &Shared| {
            let mut p = s.pending();
            p.waiters.remove(&open_xid);
            p.waiters.remove(&barrier_xid);
        };
        let mut buf = Vec::with_capacity(self.shared.config.batch_bytes.min(msgs.len() * 128 + 64));
        let open = Message::BundleControl(BundleControl::new(
            bundle_id,
            BundleCtrlType::OpenRequest,
            flags,
        ));
        let encoded: Result<(), ConnError> = async {
            wire::encode(&open, open_xid, &mut buf)?;
            for (i, m) in msgs.iter().enumerate() {
                wire::encode_bundle_add(bundle_id, flags, first_add + i as u32, m, &mut buf)?;
                if buf.len() >= self.shared.config.batch_bytes {
                    self.push(std::mem::take(&mut buf)).await?;
                }
            }
            wire::encode(&Message::BarrierRequest, barrier_xid, &mut buf)?;
            self.push(buf).await
        }
        .await;
        if let Err(e) = encoded {
            cleanup(&self.shared);
            // Best effort: the switch drops an unfinished bundle on its own
            // when the connection closes; discard it if we still can.
            let _ = self
                .bundle_ctrl(
                    bundle_id,
                    BundleCtrlType::DiscardRequest,
                    flags,
                    "bundle discard",
                )
                .await;
            return Err(e);
        }
        let opened = self.wait(open_xid, open_rx, "bundle open").await;
        let barrier = self
            .wait(barrier_xid, bar_rx, "barrier after bundle adds")
            .await;
        match opened? {
            Message::BundleControl(b) if b.ctrl_type == BundleCtrlType::OpenReply => {}
            m => {
                return Err(ConnError::UnexpectedReply {
                    what: "bundle open",
                    got: m.msg_type(),
                });
            }
        }
        barrier?;
        let add_failed = self
            .shared
            .pending()
            .batches
            .iter()
            .any(|b| b.start == first_add && !b.errors.is_empty());
        if add_failed {
            let _ = self
                .bundle_ctrl(
                    bundle_id,
                    BundleCtrlType::DiscardRequest,
                    flags,
                    "bundle discard",
                )
                .await;
            return Ok(()); // failures are reported by the caller
        }
        self.bundle_ctrl(
            bundle_id,
            BundleCtrlType::CommitRequest,
            flags,
            "bundle commit",
        )
        .await
    }

    /// Deletes every flow in every table (`del-flows`), then waits for it.
    pub async fn delete_all_flows(&self) -> Result<(), ConnError> {
        self.send_checked(&[Message::FlowMod(FlowMod::delete(wire::table_no::ALL))])
            .await
    }

    /// Sends a packet-out.
    pub async fn packet_out(&self, po: wire::PacketOut) -> Result<u32, ConnError> {
        self.send(&Message::PacketOut(po)).await
    }
}

async fn writer_task<W: AsyncWrite + Unpin>(
    shared: Arc<Shared>,
    mut wr: W,
    mut rx: mpsc::Receiver<Vec<u8>>,
    mut prio_rx: mpsc::UnboundedReceiver<Vec<u8>>,
) {
    const COALESCE: usize = 256 * 1024;
    let mut closed = shared.closed_tx.subscribe();
    loop {
        let first = tokio::select! {
            biased;
            _ = closed.wait_for(|c| *c) => break,
            Some(b) = prio_rx.recv() => b,
            b = rx.recv() => match b {
                Some(b) => b,
                None => break,
            },
        };
        let mut out = first;
        // Coalesce what is already queued into one write.
        while out.len() < COALESCE {
            let next = match prio_rx.try_recv() {
                Ok(b) => b,
                Err(_) => match rx.try_recv() {
                    Ok(b) => b,
                    Err(_) => break,
                },
            };
            out.extend_from_slice(&next);
        }
        if let Err(e) = wr.write_all(&out).await {
            shared.close(format!("write failed: {e}"));
            return;
        }
    }
    let _ = wr.shutdown().await;
}

async fn reader_task<R: AsyncRead + Unpin>(
    shared: Arc<Shared>,
    mut rd: R,
    mut buf: Vec<u8>,
    events: mpsc::UnboundedSender<AsyncMessage>,
) {
    let mut start = 0usize;
    let mut closed = shared.closed_tx.subscribe();
    buf.reserve(64 * 1024);
    let reason = loop {
        // Dispatch every complete message in the buffer.
        while buf.len() - start >= 8 {
            let h = Header::new_unchecked(&buf[start..]);
            let len = usize::from(h.length());
            if len < 8 {
                shared.close("peer sent a message with a length below 8".into());
                return;
            }
            if buf.len() - start < len {
                break;
            }
            let raw = &buf[start..start + len];
            let h = Header::new_unchecked(raw);
            let (xid, t) = (h.xid(), h.msg_type());
            match Message::parse(&h) {
                Ok(m) => shared.dispatch(xid, m, &events),
                Err(e) => {
                    tracing::warn!(xid, msg_type = t, error = %e, "undecodable OpenFlow message");
                    shared.undecodable(xid, t, e, &events);
                }
            }
            start += len;
        }
        if start > 0 && (start == buf.len() || start > 32 * 1024) {
            buf.drain(..start);
            start = 0;
        }
        if buf.capacity() - buf.len() < 16 * 1024 {
            buf.reserve(64 * 1024);
        }
        tokio::select! {
            r = rd.read_buf(&mut buf) => match r {
                Ok(0) => break "peer closed the connection".to_owned(),
                Ok(_) => shared.touch(),
                Err(e) => break format!("read failed: {e}"),
            },
            _ = closed.wait_for(|c| *c) => return,
        }
    };
    shared.close(reason);
}

async fn keepalive_task(shared: Arc<Shared>) {
    let interval = shared.config.echo_interval;
    let mut closed = shared.closed_tx.subscribe();
    loop {
        tokio::select! {
            _ = tokio::time::sleep(interval) => {}
            _ = closed.wait_for(|c| *c) => return,
        }
        if shared.idle_for() < interval {
            continue;
        }
        let xid = shared.reserve_xids(1);
        let mut buf = Vec::new();
        if wire::encode(&Message::EchoRequest(b"keepalive".to_vec()), xid, &mut buf).is_err() {
            return;
        }
        let (tx, rx) = oneshot::channel();
        if shared.register(xid, Waiter::Single(tx)).is_err() {
            return;
        }
        if shared.prio_tx.send(buf).is_err() {
            return;
        }
        match tokio::time::timeout(shared.config.echo_timeout, rx).await {
            // Any answer (even an error) shows the peer is alive.
            Ok(Ok(_)) => {}
            // The connection closed meanwhile.
            Ok(Err(_)) => return,
            Err(_) => {
                shared.close(format!(
                    "peer did not answer an echo request within {:?}",
                    shared.config.echo_timeout
                ));
                return;
            }
        }
    }
}
