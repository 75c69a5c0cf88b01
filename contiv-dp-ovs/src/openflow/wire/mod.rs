//! The OpenFlow 1.3 wire format, in the style of smoltcp's `wire` module.
//!
//! Two layers:
//!
//! * **Views** wrap a byte buffer and give typed access to fixed fields
//!   without copying: [`Header`] (the 8-byte `ofp_header` of every message),
//!   [`OxmTlv`] (one match field), [`ActionTlv`], [`InstructionTlv`]. Each
//!   has `new_unchecked`, `new_checked` (validates lengths so later field
//!   access cannot go out of bounds) and getters; setters when the buffer is
//!   mutable.
//! * **Reprs** are owned, high-level values with `parse(&view)`,
//!   `buffer_len()` and `emit(&mut view)`: [`Message`] (an enum over every
//!   message this crate speaks) and its parts — [`FlowMod`], [`Match`] /
//!   [`OxmField`], [`Instruction`], [`Action`] (including the Nicira
//!   extensions `ct`, `nat`, `resubmit`, `conjunction`, register move/load,
//!   `note`, `controller`), [`GroupMod`], [`PacketIn`], [`PacketOut`],
//!   multipart requests/replies, bundles, errors, port status and role.
//!
//! Decoders never panic on arbitrary input (there are property tests and
//! fuzz targets for that). Fields, actions, instructions and messages this
//! codec does not model are kept as typed `Unknown` values with their raw
//! payload instead of failing the whole message.
//!
//! [`encode`] and [`decode`] are the one-call helpers most code wants:
//!
//! ```
//! use contiv_dp_ovs::openflow::wire::{decode, encode, Message};
//!
//! let mut buf = Vec::new();
//! encode(&Message::BarrierRequest, 7, &mut buf).unwrap();
//! let (xid, msg, used) = decode(&buf).unwrap();
//! assert_eq!((xid, msg, used), (7, Message::BarrierRequest, 8));
//! ```

mod action;
pub(crate) mod buf;
mod bundle;
mod error_msg;
mod flow_mod;
mod group_mod;
mod header;
mod instruction;
mod message;
mod multipart;
mod nx;
mod oxm;
mod packet;
mod port;
mod switch;

pub use action::{Action, ActionTlv, RegLoad, RegMove};
pub use bundle::{BundleAdd, BundleControl, BundleCtrlType, bundle_flags};
pub use error_msg::{ErrorMsg, error_type};
pub use flow_mod::{FlowMod, FlowModCommand, FlowModView, flow_mod_flags};
pub use group_mod::{Bucket, GroupMod, GroupModCommand, GroupType};
pub use header::{Header, MsgType};
pub use instruction::{Instruction, InstructionTlv};
pub use message::{Message, decode, encode, encode_bundle_add, encode_bundle_flow_mod};
pub use multipart::{
    AggregateStats, Desc, FlowStats, FlowStatsRequest, GroupDesc, GroupStats, MultipartReply,
    MultipartReplyBody, MultipartRequest, MultipartRequestBody, PortStats, multipart_flags,
};
pub use nx::{Ct, CtZone, Nat, OFPC_FRAG_NX_MATCH, ct_flags, ct_state, ip_frag, nat_flags};
pub use oxm::{Masked, Match, NxmHeader, OxmField, OxmTlv, UnknownOxm, oxm_class};
pub use packet::{FlowRemoved, PacketIn, PacketOut, packet_in_reason};
pub use port::{Port, PortStatus, PortStatusReason};
pub use switch::{FeaturesReply, Hello, Role, RoleRequest, SwitchConfig};

pub use contiv_core::datapath::MacAddr;

/// The OpenFlow version byte this codec speaks: 1.3.
pub const OFP_VERSION: u8 = 0x04;

/// Nicira's experimenter id (`NX_VENDOR_ID`), used by OVS extensions.
pub const NX_EXPERIMENTER: u32 = 0x0000_2320;

/// The ONF experimenter id, used by the OpenFlow 1.3 bundle extension
/// (EXT-230) and ONF experimenter match fields.
pub const ONF_EXPERIMENTER: u32 = 0x4f4e_4600;

/// "No buffer": the packet is carried in the message itself.
pub const NO_BUFFER: u32 = 0xffff_ffff;

/// Reserved OpenFlow 1.3 port numbers.
pub mod port_no {
    /// Highest number of a physical port.
    pub const MAX: u32 = 0xffff_ff00;
    /// Send the packet out the input port.
    pub const IN_PORT: u32 = 0xffff_fff8;
    /// Submit the packet to the first flow table (packet-out only).
    pub const TABLE: u32 = 0xffff_fff9;
    /// Forward with the switch's normal L2/L3 processing.
    pub const NORMAL: u32 = 0xffff_fffa;
    /// Flood on all ports except the input port.
    pub const FLOOD: u32 = 0xffff_fffb;
    /// All ports except the input port.
    pub const ALL: u32 = 0xffff_fffc;
    /// Send to the controller.
    pub const CONTROLLER: u32 = 0xffff_fffd;
    /// The switch's local port (the bridge's own interface).
    pub const LOCAL: u32 = 0xffff_fffe;
    /// Wildcard ("any port") in requests and flow-mod `out_port`.
    pub const ANY: u32 = 0xffff_ffff;
}

/// Reserved group numbers.
pub mod group_no {
    /// Highest group number.
    pub const MAX: u32 = 0xffff_ff00;
    /// All groups (group delete, group stats).
    pub const ALL: u32 = 0xffff_fffc;
    /// Wildcard ("any group") in requests and flow-mod `out_group`.
    pub const ANY: u32 = 0xffff_ffff;
}

/// Reserved table numbers.
pub mod table_no {
    /// Highest table number.
    pub const MAX: u8 = 0xfe;
    /// All tables (flow delete, flow stats).
    pub const ALL: u8 = 0xff;
}

/// `max_len` for output to the controller meaning "send the whole packet".
pub const CONTROLLER_MAX_LEN_NO_BUFFER: u16 = 0xffff;

/// Codec errors. Each names the structure that failed so a user can tell a
/// truncated message from an unsupported one.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum Error {
    /// The buffer ends before the structure does.
    #[error("truncated {what}: need {need} bytes, have {have}")]
    Truncated {
        /// The structure being decoded.
        what: &'static str,
        /// Bytes needed.
        need: usize,
        /// Bytes available.
        have: usize,
    },
    /// A length or value inside the structure is inconsistent.
    #[error("malformed {what}: {why}")]
    Malformed {
        /// The structure being decoded.
        what: &'static str,
        /// What is wrong with it.
        why: &'static str,
    },
    /// The message is not OpenFlow 1.3 and is not a version-independent
    /// message (hello, error).
    #[error("OpenFlow version {0:#04x} is not supported by this codec (it speaks 1.3 = 0x04)")]
    Version(u8),
    /// An encoded length would not fit its 16-bit length field.
    #[error("encoded length {0} does not fit a 16-bit OpenFlow length field")]
    TooLong(usize),
    /// The output buffer passed to `emit` is smaller than `buffer_len()`.
    #[error("output buffer too small: need {need} bytes, have {have}")]
    BufferTooSmall {
        /// Bytes needed.
        need: usize,
        /// Bytes available.
        have: usize,
    },
    /// A value cannot be encoded (e.g. a register index above 15).
    #[error("cannot encode {what}: {why}")]
    Unencodable {
        /// The structure being encoded.
        what: &'static str,
        /// Why it cannot be encoded.
        why: &'static str,
    },
}

/// Result alias for codec operations.
pub type Result<T> = core::result::Result<T, Error>;
