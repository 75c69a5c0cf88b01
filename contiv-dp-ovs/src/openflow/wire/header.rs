//! The `ofp_header` view shared by every OpenFlow message, and message types.

use super::{Error, Result};

/// Message type numbers of OpenFlow 1.3 (`ofp_type`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[repr(u8)]
pub enum MsgType {
    /// `OFPT_HELLO`
    Hello = 0,
    /// `OFPT_ERROR`
    Error = 1,
    /// `OFPT_ECHO_REQUEST`
    EchoRequest = 2,
    /// `OFPT_ECHO_REPLY`
    EchoReply = 3,
    /// `OFPT_EXPERIMENTER`
    Experimenter = 4,
    /// `OFPT_FEATURES_REQUEST`
    FeaturesRequest = 5,
    /// `OFPT_FEATURES_REPLY`
    FeaturesReply = 6,
    /// `OFPT_GET_CONFIG_REQUEST`
    GetConfigRequest = 7,
    /// `OFPT_GET_CONFIG_REPLY`
    GetConfigReply = 8,
    /// `OFPT_SET_CONFIG`
    SetConfig = 9,
    /// `OFPT_PACKET_IN`
    PacketIn = 10,
    /// `OFPT_FLOW_REMOVED`
    FlowRemoved = 11,
    /// `OFPT_PORT_STATUS`
    PortStatus = 12,
    /// `OFPT_PACKET_OUT`
    PacketOut = 13,
    /// `OFPT_FLOW_MOD`
    FlowMod = 14,
    /// `OFPT_GROUP_MOD`
    GroupMod = 15,
    /// `OFPT_PORT_MOD`
    PortMod = 16,
    /// `OFPT_TABLE_MOD`
    TableMod = 17,
    /// `OFPT_MULTIPART_REQUEST`
    MultipartRequest = 18,
    /// `OFPT_MULTIPART_REPLY`
    MultipartReply = 19,
    /// `OFPT_BARRIER_REQUEST`
    BarrierRequest = 20,
    /// `OFPT_BARRIER_REPLY`
    BarrierReply = 21,
    /// `OFPT_QUEUE_GET_CONFIG_REQUEST`
    QueueGetConfigRequest = 22,
    /// `OFPT_QUEUE_GET_CONFIG_REPLY`
    QueueGetConfigReply = 23,
    /// `OFPT_ROLE_REQUEST`
    RoleRequest = 24,
    /// `OFPT_ROLE_REPLY`
    RoleReply = 25,
    /// `OFPT_GET_ASYNC_REQUEST`
    GetAsyncRequest = 26,
    /// `OFPT_GET_ASYNC_REPLY`
    GetAsyncReply = 27,
    /// `OFPT_SET_ASYNC`
    SetAsync = 28,
    /// `OFPT_METER_MOD`
    MeterMod = 29,
}

impl MsgType {
    /// The type for a raw `ofp_header.type` byte, if it is an OpenFlow 1.3
    /// type.
    pub fn from_u8(v: u8) -> Option<MsgType> {
        use MsgType::*;
        Some(match v {
            0 => Hello,
            1 => Error,
            2 => EchoRequest,
            3 => EchoReply,
            4 => Experimenter,
            5 => FeaturesRequest,
            6 => FeaturesReply,
            7 => GetConfigRequest,
            8 => GetConfigReply,
            9 => SetConfig,
            10 => PacketIn,
            11 => FlowRemoved,
            12 => PortStatus,
            13 => PacketOut,
            14 => FlowMod,
            15 => GroupMod,
            16 => PortMod,
            17 => TableMod,
            18 => MultipartRequest,
            19 => MultipartReply,
            20 => BarrierRequest,
            21 => BarrierReply,
            22 => QueueGetConfigRequest,
            23 => QueueGetConfigReply,
            24 => RoleRequest,
            25 => RoleReply,
            26 => GetAsyncRequest,
            27 => GetAsyncReply,
            28 => SetAsync,
            29 => MeterMod,
            _ => return None,
        })
    }
}

/// A read/write view of an OpenFlow message: the 8-byte `ofp_header`
/// (version, type, length, xid) followed by the body.
///
/// [`Header::new_checked`] guarantees the buffer holds at least the 8-byte
/// header and the whole message its `length` field announces, so
/// [`Header::body`] never goes out of bounds.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Header<T: AsRef<[u8]>> {
    buffer: T,
}

mod field {
    use core::ops::Range;
    pub const VERSION: usize = 0;
    pub const TYPE: usize = 1;
    pub const LENGTH: Range<usize> = 2..4;
    pub const XID: Range<usize> = 4..8;
}

impl<T: AsRef<[u8]>> Header<T> {
    /// Length of the `ofp_header`.
    pub const LEN: usize = 8;

    /// Wraps a buffer without checking it.
    pub const fn new_unchecked(buffer: T) -> Header<T> {
        Header { buffer }
    }

    /// Wraps a buffer and checks it with [`Header::check_len`].
    pub fn new_checked(buffer: T) -> Result<Header<T>> {
        let h = Self::new_unchecked(buffer);
        h.check_len()?;
        Ok(h)
    }

    /// Checks that the buffer holds the header and the whole message the
    /// `length` field announces, and that `length` is at least 8.
    pub fn check_len(&self) -> Result<()> {
        let have = self.buffer.as_ref().len();
        if have < Self::LEN {
            return Err(Error::Truncated {
                what: "ofp_header",
                need: Self::LEN,
                have,
            });
        }
        let len = usize::from(self.length());
        if len < Self::LEN {
            return Err(Error::Malformed {
                what: "ofp_header",
                why: "length field is smaller than the 8-byte header",
            });
        }
        if have < len {
            return Err(Error::Truncated {
                what: "OpenFlow message",
                need: len,
                have,
            });
        }
        Ok(())
    }

    /// Returns the underlying buffer.
    pub fn into_inner(self) -> T {
        self.buffer
    }

    /// The protocol version byte.
    pub fn version(&self) -> u8 {
        self.buffer.as_ref()[field::VERSION]
    }

    /// The raw message type byte.
    pub fn msg_type(&self) -> u8 {
        self.buffer.as_ref()[field::TYPE]
    }

    /// The message length, header included.
    pub fn length(&self) -> u16 {
        let b = self.buffer.as_ref();
        u16::from_be_bytes([b[field::LENGTH.start], b[field::LENGTH.start + 1]])
    }

    /// The transaction id.
    pub fn xid(&self) -> u32 {
        let b = &self.buffer.as_ref()[field::XID];
        u32::from_be_bytes([b[0], b[1], b[2], b[3]])
    }

    /// The body: bytes 8..length.
    pub fn body(&self) -> &[u8] {
        let len = usize::from(self.length()).max(Self::LEN);
        &self.buffer.as_ref()[Self::LEN..len]
    }

    /// The whole message: bytes 0..length.
    pub fn message(&self) -> &[u8] {
        &self.buffer.as_ref()[..usize::from(self.length())]
    }
}

impl<T: AsRef<[u8]> + AsMut<[u8]>> Header<T> {
    /// Sets the version byte.
    pub fn set_version(&mut self, v: u8) {
        self.buffer.as_mut()[field::VERSION] = v;
    }

    /// Sets the message type byte.
    pub fn set_msg_type(&mut self, v: u8) {
        self.buffer.as_mut()[field::TYPE] = v;
    }

    /// Sets the length field.
    pub fn set_length(&mut self, v: u16) {
        self.buffer.as_mut()[field::LENGTH].copy_from_slice(&v.to_be_bytes());
    }

    /// Sets the transaction id.
    pub fn set_xid(&mut self, v: u32) {
        self.buffer.as_mut()[field::XID].copy_from_slice(&v.to_be_bytes());
    }

    /// The whole mutable buffer, header included.
    pub fn as_mut_slice(&mut self) -> &mut [u8] {
        self.buffer.as_mut()
    }

    /// The mutable buffer after the header (everything past byte 8).
    pub fn body_mut(&mut self) -> &mut [u8] {
        &mut self.buffer.as_mut()[Self::LEN..]
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn checked_rejects_short_and_lying_lengths() {
        assert!(matches!(
            Header::new_checked(&[4u8, 0, 0][..]),
            Err(Error::Truncated { .. })
        ));
        // length 4 < 8
        assert!(matches!(
            Header::new_checked(&[4u8, 0, 0, 4, 0, 0, 0, 1][..]),
            Err(Error::Malformed { .. })
        ));
        // length 16 but only 8 bytes
        assert!(matches!(
            Header::new_checked(&[4u8, 0, 0, 16, 0, 0, 0, 1][..]),
            Err(Error::Truncated { need: 16, .. })
        ));
        let h = Header::new_checked(&[4u8, 20, 0, 8, 0, 0, 1, 2, 0xaa][..]).unwrap();
        assert_eq!(
            (h.version(), h.msg_type(), h.length(), h.xid()),
            (4, 20, 8, 0x102)
        );
        assert!(h.body().is_empty());
        assert_eq!(
            MsgType::from_u8(h.msg_type()),
            Some(MsgType::BarrierRequest)
        );
    }

    #[test]
    fn setters_write_big_endian() {
        let mut b = [0u8; 8];
        let mut h = Header::new_unchecked(&mut b[..]);
        h.set_version(4);
        h.set_msg_type(14);
        h.set_length(0x68);
        h.set_xid(0x0102_0304);
        assert_eq!(b, [4, 14, 0, 0x68, 1, 2, 3, 4]);
    }
}
