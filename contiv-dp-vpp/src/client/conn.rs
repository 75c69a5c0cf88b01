//! One socket connection: the `sockclnt_create` handshake, the reader
//! task that routes replies by context, and the writer.

use super::table::MsgTable;
use super::{ClientError, Event};
use crate::api::memclnt::{SockclntCreate, SockclntCreateReply};
use crate::wire::{self, FRAME_HEADER_LEN, Frame, Message, MsgHeader, MsgView};
use std::collections::HashMap;
use std::path::Path;
use std::sync::atomic::{AtomicBool, AtomicU32, Ordering};
use std::sync::{Arc, Mutex, PoisonError};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::UnixStream;
use tokio::net::unix::{OwnedReadHalf, OwnedWriteHalf};
use tokio::sync::{broadcast, mpsc};

/// The fixed ids of the handshake (VPP registers `memclnt`'s messages
/// first, so `sockclnt_create` is 15 and its reply 16 on every VPP;
/// vpp-papi relies on the same).
pub const SOCKCLNT_CREATE_ID: u16 = 15;
/// See [`SOCKCLNT_CREATE_ID`].
pub const SOCKCLNT_CREATE_REPLY_ID: u16 = 16;

type Pending = Arc<Mutex<HashMap<u32, mpsc::UnboundedSender<Vec<u8>>>>>;

/// A live connection.
pub(super) struct Conn {
    pub table: MsgTable,
    pub client_index: u32,
    writer: tokio::sync::Mutex<OwnedWriteHalf>,
    pending: Pending,
    next_context: AtomicU32,
    closed: Arc<AtomicBool>,
    reader: tokio::task::JoinHandle<()>,
}

impl Drop for Conn {
    fn drop(&mut self) {
        self.reader.abort();
    }
}

/// Reads one frame's payload.
async fn read_frame(r: &mut OwnedReadHalf) -> Result<Vec<u8>, ClientError> {
    let mut hdr = [0u8; FRAME_HEADER_LEN];
    r.read_exact(&mut hdr).await.map_err(io)?;
    let len = Frame::new_unchecked(&hdr[..]).payload_len();
    if len > wire::MAX_MESSAGE_LEN {
        return Err(ClientError::Protocol(format!(
            "frame announces {len} bytes, above the 64 MiB limit"
        )));
    }
    let mut buf = vec![0u8; len];
    r.read_exact(&mut buf).await.map_err(io)?;
    Ok(buf)
}

fn io(e: std::io::Error) -> ClientError {
    if e.kind() == std::io::ErrorKind::UnexpectedEof {
        ClientError::Disconnected
    } else {
        ClientError::Io(e.to_string())
    }
}

impl Conn {
    /// Connects and performs the `sockclnt_create` handshake.
    pub async fn open(
        path: &Path,
        name: &str,
        events: broadcast::Sender<Event>,
    ) -> Result<Conn, ClientError> {
        let stream = UnixStream::connect(path)
            .await
            .map_err(|e| ClientError::Io(format!("connect {}: {e}", path.display())))?;
        let (mut rd, mut wr) = stream.into_split();
        let mut msg = Vec::new();
        wire::encode(
            &SockclntCreate {
                name: name.to_owned(),
            },
            MsgHeader {
                msg_id: SOCKCLNT_CREATE_ID,
                client_index: 0,
                context: 124,
            },
            &mut msg,
        )?;
        wr.write_all(&wire::frame(&msg)?).await.map_err(io)?;
        let reply = read_frame(&mut rd).await?;
        let id = MsgView::new_checked(&reply[..], SockclntCreateReply::HEADER)?.msg_id();
        if id != SOCKCLNT_CREATE_REPLY_ID {
            return Err(ClientError::Protocol(format!(
                "expected sockclnt_create_reply (id {SOCKCLNT_CREATE_REPLY_ID}), got message id {id}"
            )));
        }
        let (_, r) = wire::decode::<SockclntCreateReply>(&reply)?;
        if r.response != 0 {
            return Err(ClientError::Api {
                name: SockclntCreate::NAME,
                retval: r.response,
            });
        }
        let table = MsgTable::new(r.message_table.into_iter().map(|e| (e.name, e.index)));
        let pending: Pending = Arc::default();
        let closed = Arc::new(AtomicBool::new(false));
        let reader = tokio::spawn(read_loop(
            rd,
            table.clone(),
            pending.clone(),
            closed.clone(),
            events,
        ));
        Ok(Conn {
            table,
            client_index: r.index,
            writer: tokio::sync::Mutex::new(wr),
            pending,
            next_context: AtomicU32::new(1),
            closed,
            reader,
        })
    }

    /// False once the socket failed or the peer closed it.
    pub fn is_open(&self) -> bool {
        !self.closed.load(Ordering::Acquire)
    }

    /// A fresh context (never 0: 0 marks events).
    pub fn context(&self) -> u32 {
        loop {
            let c = self.next_context.fetch_add(1, Ordering::Relaxed);
            if c != 0 {
                return c;
            }
        }
    }

    /// Registers a context; replies with it arrive on the receiver.
    pub fn register(&self, ctx: u32) -> mpsc::UnboundedReceiver<Vec<u8>> {
        let (tx, rx) = mpsc::unbounded_channel();
        self.pending
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .insert(ctx, tx);
        rx
    }

    /// Forgets a context.
    pub fn unregister(&self, ctx: u32) {
        self.pending
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .remove(&ctx);
    }

    /// Writes already framed bytes (one or more frames, atomically with
    /// respect to other writers).
    pub async fn write(&self, frames: &[u8]) -> Result<(), ClientError> {
        let mut w = self.writer.lock().await;
        if let Err(e) = w.write_all(frames).await {
            self.closed.store(true, Ordering::Release);
            return Err(io(e));
        }
        Ok(())
    }

    /// Encodes and frames a request for this connection.
    pub fn request_frame<M: Message>(
        &self,
        msg: &M,
        ctx: u32,
        out: &mut Vec<u8>,
    ) -> Result<(), ClientError> {
        let id = self.table.id::<M>()?;
        let mut body = Vec::new();
        wire::encode(
            msg,
            MsgHeader {
                msg_id: id,
                client_index: self.client_index,
                context: ctx,
            },
            &mut body,
        )?;
        out.extend_from_slice(&wire::frame(&body)?);
        Ok(())
    }
}

async fn read_loop(
    mut rd: OwnedReadHalf,
    table: MsgTable,
    pending: Pending,
    closed: Arc<AtomicBool>,
    events: broadcast::Sender<Event>,
) {
    loop {
        let msg = match read_frame(&mut rd).await {
            Ok(m) => m,
            Err(e) => {
                tracing::debug!(error = %e, "VPP API socket closed");
                break;
            }
        };
        if msg.len() < 2 {
            tracing::warn!("VPP sent a message shorter than its id; closing");
            break;
        }
        let id = u16::from_be_bytes([msg[0], msg[1]]);
        let kind = table.header_of(id);
        let ctx = MsgView::new_checked(&msg[..], kind)
            .map(|v| v.context())
            .unwrap_or(0);
        let target = if ctx == 0 {
            None
        } else {
            pending
                .lock()
                .unwrap_or_else(PoisonError::into_inner)
                .get(&ctx)
                .cloned()
        };
        match target {
            Some(tx) => {
                let _ = tx.send(msg);
            }
            None => {
                // Events (no context), and replies nobody waits for any
                // more (timed out) — the latter are dropped by receivers
                // that do not expect them.
                let _ = events.send(Event {
                    msg_id: id,
                    name: table.info(id).map(|m| m.name),
                    bytes: msg,
                });
            }
        }
    }
    closed.store(true, Ordering::Release);
    // Wake every waiter: their senders go away.
    pending
        .lock()
        .unwrap_or_else(PoisonError::into_inner)
        .clear();
}
