//! The VPP binary-API wire format, in the style of smoltcp's `wire`.
//!
//! Two layers, as in `contiv-dp-ovs`'s OpenFlow codec:
//!
//! * **Views** wrap a byte buffer and give typed access to fixed fields
//!   without copying: [`Frame`] (the 16-byte socket header `>QII` — zero,
//!   big-endian payload length, zero — and the payload) and [`MsgView`]
//!   (the message header: `_vl_msg_id`, then `client_index` and/or
//!   `context` depending on the message, see [`HeaderKind`]). Each has
//!   `new_unchecked`, `new_checked` and getters; setters when mutable.
//! * **Reprs** are the generated message structs of [`crate::api`]: each
//!   implements [`Message`] — `parse_body`/`emit_body` of everything after
//!   the header. [`encode`] and [`decode`] add and check the header.
//!
//! Every message is identified on a connection by a 16-bit id that the
//! server assigns; the client learns them from the `sockclnt_create_reply`
//! table, keyed by `<name>_<crc>` ([`Message::name_crc`]) so that a message
//! whose definition differs (another CRC) is never sent.
//!
//! ```
//! use contiv_dp_vpp::api::interface::SwInterfaceSetFlags;
//! use contiv_dp_vpp::api::types::IfStatusFlags;
//! use contiv_dp_vpp::wire::{decode, encode, MsgHeader};
//!
//! let msg = SwInterfaceSetFlags { sw_if_index: 3, flags: IfStatusFlags::IF_STATUS_API_FLAG_ADMIN_UP };
//! let hdr = MsgHeader { msg_id: 610, client_index: 1, context: 7 };
//! let mut buf = Vec::new();
//! encode(&msg, hdr, &mut buf).unwrap();
//! assert_eq!(buf, [0x02, 0x62, 0, 0, 0, 1, 0, 0, 0, 7, 0, 0, 0, 3, 0, 0, 0, 1]);
//! assert_eq!(decode::<SwInterfaceSetFlags>(&buf).unwrap(), (hdr, msg));
//! ```

mod buf;
mod frame;
#[cfg(feature = "testing")]
pub mod papi;

pub use buf::{Codec, Reader, Writer};
pub use frame::{FRAME_HEADER_LEN, Frame, MAX_MESSAGE_LEN, MsgView, frame, split_frame};

use std::fmt::Debug;

/// Codec errors. Each says what failed, so a truncated message can be told
/// from an unsupported one.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum Error {
    /// The buffer ends before the structure does.
    #[error("truncated VPP message: need {need} bytes, have {have}")]
    Truncated {
        /// Bytes needed.
        need: usize,
        /// Bytes available.
        have: usize,
    },
    /// A length or count inside the message is inconsistent.
    #[error("malformed {what}: {why}")]
    Malformed {
        /// The structure being decoded.
        what: &'static str,
        /// What is wrong with it.
        why: &'static str,
    },
    /// A value cannot be encoded (a string too long for its field, too
    /// many elements for a count field…).
    #[error("cannot encode {what}: {why}")]
    Unencodable {
        /// The field being encoded.
        what: &'static str,
        /// Why not.
        why: &'static str,
    },
}

/// Result alias for codec operations.
pub type Result<T> = core::result::Result<T, Error>;

/// Which header fields follow `_vl_msg_id` in a message (as declared in
/// its `.api.json`): requests carry `client_index` and `context`, replies
/// and details `context`, events `client_index`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum HeaderKind {
    /// `u16 _vl_msg_id; u32 client_index; u32 context` (requests).
    ClientContext,
    /// `u16 _vl_msg_id; u32 client_index` (events, some control messages).
    Client,
    /// `u16 _vl_msg_id; u32 context` (replies, details).
    Context,
    /// `u16 _vl_msg_id` only.
    Bare,
}

impl HeaderKind {
    /// Length of the header in bytes.
    pub const fn header_len(self) -> usize {
        match self {
            HeaderKind::ClientContext => 10,
            HeaderKind::Client | HeaderKind::Context => 6,
            HeaderKind::Bare => 2,
        }
    }

    /// Offset of `context`, if the header has one.
    pub const fn context_offset(self) -> Option<usize> {
        match self {
            HeaderKind::ClientContext => Some(6),
            HeaderKind::Context => Some(2),
            HeaderKind::Client | HeaderKind::Bare => None,
        }
    }

    /// Offset of `client_index`, if the header has one.
    pub const fn client_index_offset(self) -> Option<usize> {
        match self {
            HeaderKind::ClientContext | HeaderKind::Client => Some(2),
            HeaderKind::Context | HeaderKind::Bare => None,
        }
    }
}

/// One message definition as the API files declare it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct MessageInfo {
    /// Message name, e.g. `acl_add_replace`.
    pub name: &'static str,
    /// CRC of its definition.
    pub crc: u32,
    /// The API module (file) it comes from.
    pub module: &'static str,
    /// Its header layout.
    pub header: HeaderKind,
}

impl MessageInfo {
    /// `<name>_<crc as 8 hex digits>`, the key of the message-id table.
    pub fn name_crc(&self) -> String {
        format!("{}_{:08x}", self.name, self.crc)
    }
}

/// The header values of one message. Fields its [`HeaderKind`] lacks are
/// written nowhere and read as 0.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash)]
pub struct MsgHeader {
    /// The connection's id for this message type.
    pub msg_id: u16,
    /// The sender's client index (requests, events).
    pub client_index: u32,
    /// The request context a reply echoes.
    pub context: u32,
}

/// A generated message type.
pub trait Message: Sized + Clone + Debug + PartialEq + Send + Sync + 'static {
    /// The message name.
    const NAME: &'static str;
    /// The CRC of its definition.
    const CRC: u32;
    /// Its header layout.
    const HEADER: HeaderKind;
    /// Appends everything after the header.
    fn emit_body(&self, w: &mut Writer<'_>) -> Result<()>;
    /// Reads everything after the header (trailing bytes are ignored, as
    /// VPP and vpp-papi do).
    fn parse_body(r: &mut Reader<'_>) -> Result<Self>;
    /// The reply's `retval`, for messages that have one.
    fn retval(&self) -> Option<i32> {
        None
    }
    /// `<name>_<crc>`.
    fn name_crc() -> String {
        format!("{}_{:08x}", Self::NAME, Self::CRC)
    }
}

/// A request answered by exactly one reply.
pub trait Request: Message {
    /// The reply type.
    type Reply: Message;
}

/// A dump answered by any number of details, ended (on the socket
/// transport) by the reply to a `control_ping` sent after it.
pub trait Dump: Message {
    /// The details type.
    type Details: Message;
}

/// Appends `msg` with header `hdr` to `out` (no socket frame; see
/// [`frame`]).
pub fn encode<M: Message>(msg: &M, hdr: MsgHeader, out: &mut Vec<u8>) -> Result<()> {
    let start = out.len();
    let mut w = Writer::new(out);
    hdr.msg_id.emit(&mut w)?;
    match M::HEADER {
        HeaderKind::ClientContext => {
            hdr.client_index.emit(&mut w)?;
            hdr.context.emit(&mut w)?;
        }
        HeaderKind::Client => hdr.client_index.emit(&mut w)?,
        HeaderKind::Context => hdr.context.emit(&mut w)?,
        HeaderKind::Bare => {}
    }
    if let Err(e) = msg.emit_body(&mut w) {
        out.truncate(start);
        return Err(e);
    }
    Ok(())
}

/// Decodes one message of type `M` (no socket frame). The message id is
/// returned, not checked: the caller knows which id it expects.
pub fn decode<M: Message>(buf: &[u8]) -> Result<(MsgHeader, M)> {
    let view = MsgView::new_checked(buf, M::HEADER)?;
    let hdr = view.header();
    let mut r = Reader::new(view.body());
    Ok((hdr, M::parse_body(&mut r)?))
}
