//! The OpenFlow 1.3 bundle extension (ONF EXT-230), as OVS implements it:
//! `ONFT_BUNDLE_CONTROL` (2300) and `ONFT_BUNDLE_ADD_MESSAGE` (2301)
//! experimenter messages with the ONF experimenter id.

use super::buf::{Reader, Writer};
use super::{Message, Result};

/// ONF experimenter message type of bundle control.
pub(crate) const ONFT_BUNDLE_CONTROL: u32 = 2300;
/// ONF experimenter message type of bundle add.
pub(crate) const ONFT_BUNDLE_ADD_MESSAGE: u32 = 2301;

/// Bundle flags.
pub mod bundle_flags {
    /// All messages succeed or none is applied.
    pub const ATOMIC: u16 = 1;
    /// Apply messages in the order they were added.
    pub const ORDERED: u16 = 2;
}

/// Bundle control message types.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum BundleCtrlType {
    /// Open a bundle.
    OpenRequest,
    /// The bundle is open.
    OpenReply,
    /// Close a bundle (no more adds).
    CloseRequest,
    /// The bundle is closed.
    CloseReply,
    /// Apply the bundle.
    CommitRequest,
    /// The bundle was applied.
    CommitReply,
    /// Drop the bundle.
    DiscardRequest,
    /// The bundle was dropped.
    DiscardReply,
    /// A type number this codec does not know.
    Other(u16),
}

impl BundleCtrlType {
    fn to_u16(self) -> u16 {
        use BundleCtrlType::*;
        match self {
            OpenRequest => 0,
            OpenReply => 1,
            CloseRequest => 2,
            CloseReply => 3,
            CommitRequest => 4,
            CommitReply => 5,
            DiscardRequest => 6,
            DiscardReply => 7,
            Other(v) => v,
        }
    }
    fn from_u16(v: u16) -> Self {
        use BundleCtrlType::*;
        match v {
            0 => OpenRequest,
            1 => OpenReply,
            2 => CloseRequest,
            3 => CloseReply,
            4 => CommitRequest,
            5 => CommitReply,
            6 => DiscardRequest,
            7 => DiscardReply,
            v => Other(v),
        }
    }
}

/// `ONFT_BUNDLE_CONTROL`.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct BundleControl {
    /// The bundle id chosen by the controller.
    pub bundle_id: u32,
    /// Open/close/commit/discard request or reply.
    pub ctrl_type: BundleCtrlType,
    /// [`bundle_flags`] bits.
    pub flags: u16,
    /// Bundle properties, verbatim.
    pub properties: Vec<u8>,
}

impl BundleControl {
    /// A control request without properties.
    pub fn new(bundle_id: u32, ctrl_type: BundleCtrlType, flags: u16) -> BundleControl {
        BundleControl {
            bundle_id,
            ctrl_type,
            flags,
            properties: Vec::new(),
        }
    }

    /// Size after the experimenter header.
    pub(crate) fn body_len(&self) -> usize {
        8 + self.properties.len()
    }

    pub(crate) fn write_body(&self, w: &mut Writer<'_>) -> Result<()> {
        w.u32(self.bundle_id)?;
        w.u16(self.ctrl_type.to_u16())?;
        w.u16(self.flags)?;
        w.bytes(&self.properties)
    }

    pub(crate) fn read_body(r: &mut Reader<'_>) -> Result<BundleControl> {
        Ok(BundleControl {
            bundle_id: r.u32()?,
            ctrl_type: BundleCtrlType::from_u16(r.u16()?),
            flags: r.u16()?,
            properties: r.rest().to_vec(),
        })
    }
}

/// `ONFT_BUNDLE_ADD_MESSAGE`: one message (e.g. a flow-mod) added to an
/// open bundle. The inner message is sent with the bundle add's own xid
/// (the spec requires it; OVS answers anything else with
/// `OFPBFC_MSG_BAD_XID`), and OVS reports an error for it at commit time
/// under that xid.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct BundleAdd {
    /// The bundle id.
    pub bundle_id: u32,
    /// [`bundle_flags`] bits (the same as at open).
    pub flags: u16,
    /// The inner message (not itself a bundle message).
    pub message: Box<Message>,
}

impl BundleAdd {
    /// Size after the experimenter header.
    pub(crate) fn body_len(&self) -> usize {
        8 + self.message.buffer_len()
    }
}
