//! `OFPT_PACKET_IN`, `OFPT_PACKET_OUT` and `OFPT_FLOW_REMOVED`.

use super::buf::{Reader, Writer};
use super::{Action, Match, NO_BUFFER, Result};

/// Packet-in reasons.
pub mod packet_in_reason {
    /// No matching flow (table-miss).
    pub const NO_MATCH: u8 = 0;
    /// An explicit output to the controller.
    pub const ACTION: u8 = 1;
    /// The packet's TTL was invalid.
    pub const INVALID_TTL: u8 = 2;
}

/// `OFPT_PACKET_IN`: a packet the switch sends to the controller.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct PacketIn {
    /// Buffer id on the switch, or [`NO_BUFFER`].
    pub buffer_id: u32,
    /// Full length of the frame (may exceed `data.len()`).
    pub total_len: u16,
    /// Why the packet was sent (see [`packet_in_reason`]).
    pub reason: u8,
    /// The table the packet was in.
    pub table_id: u8,
    /// The cookie of the flow that sent it.
    pub cookie: u64,
    /// Pipeline fields (in_port, metadata, registers, tunnel, …).
    pub r#match: Match,
    /// The frame (possibly truncated to `max_len`).
    pub data: Vec<u8>,
}

impl PacketIn {
    /// The ingress port from the match, if present.
    pub fn in_port(&self) -> Option<u32> {
        self.r#match.in_port()
    }

    /// Body size.
    pub fn body_len(&self) -> usize {
        16 + self.r#match.buffer_len() + 2 + self.data.len()
    }

    pub(crate) fn write_body(&self, w: &mut Writer<'_>) -> Result<()> {
        w.u32(self.buffer_id)?;
        w.u16(self.total_len)?;
        w.u8(self.reason)?;
        w.u8(self.table_id)?;
        w.u64(self.cookie)?;
        self.r#match.write(w)?;
        w.zeros(2)?;
        w.bytes(&self.data)
    }

    pub(crate) fn read_body(r: &mut Reader<'_>) -> Result<PacketIn> {
        let buffer_id = r.u32()?;
        let total_len = r.u16()?;
        let reason = r.u8()?;
        let table_id = r.u8()?;
        let cookie = r.u64()?;
        let m = Match::read(r)?;
        r.skip(2)?;
        Ok(PacketIn {
            buffer_id,
            total_len,
            reason,
            table_id,
            cookie,
            r#match: m,
            data: r.rest().to_vec(),
        })
    }
}

/// `OFPT_PACKET_OUT`: inject a packet.
///
/// ```
/// use contiv_dp_ovs::openflow::wire::{Action, PacketOut, port_no};
/// // Run a frame through the flow tables as if it came in on port 3.
/// let po = PacketOut::new(3, vec![Action::output(port_no::TABLE)], vec![0u8; 60]);
/// assert_eq!(po.in_port, 3);
/// ```
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct PacketOut {
    /// A switch buffer to send, or [`NO_BUFFER`] to send `data`.
    pub buffer_id: u32,
    /// The port the packet is considered to arrive on
    /// ([`port_no::CONTROLLER`](super::port_no::CONTROLLER) if none).
    pub in_port: u32,
    /// Actions to apply.
    pub actions: Vec<Action>,
    /// The frame (empty when `buffer_id` names a buffer).
    pub data: Vec<u8>,
}

impl PacketOut {
    /// A packet-out of `data` (no switch buffer).
    pub fn new(in_port: u32, actions: Vec<Action>, data: Vec<u8>) -> PacketOut {
        PacketOut {
            buffer_id: NO_BUFFER,
            in_port,
            actions,
            data,
        }
    }

    /// Body size.
    pub fn body_len(&self) -> usize {
        16 + Action::list_len(&self.actions) + self.data.len()
    }

    pub(crate) fn write_body(&self, w: &mut Writer<'_>) -> Result<()> {
        w.u32(self.buffer_id)?;
        w.u32(self.in_port)?;
        w.len16(Action::list_len(&self.actions))?;
        w.zeros(6)?;
        Action::write_list(&self.actions, w)?;
        w.bytes(&self.data)
    }

    pub(crate) fn read_body(r: &mut Reader<'_>) -> Result<PacketOut> {
        let buffer_id = r.u32()?;
        let in_port = r.u32()?;
        let alen = usize::from(r.u16()?);
        r.skip(6)?;
        let actions = Action::read_list(r.bytes(alen)?)?;
        Ok(PacketOut {
            buffer_id,
            in_port,
            actions,
            data: r.rest().to_vec(),
        })
    }
}

/// `OFPT_FLOW_REMOVED`.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct FlowRemoved {
    /// The flow's cookie.
    pub cookie: u64,
    /// The flow's priority.
    pub priority: u16,
    /// 0 idle timeout, 1 hard timeout, 2 delete, 3 group delete.
    pub reason: u8,
    /// The flow's table.
    pub table_id: u8,
    /// Seconds the flow was alive.
    pub duration_sec: u32,
    /// Nanoseconds beyond `duration_sec`.
    pub duration_nsec: u32,
    /// The flow's idle timeout.
    pub idle_timeout: u16,
    /// The flow's hard timeout.
    pub hard_timeout: u16,
    /// Packets that matched.
    pub packet_count: u64,
    /// Bytes that matched.
    pub byte_count: u64,
    /// The flow's match.
    pub r#match: Match,
}

impl FlowRemoved {
    /// Body size.
    pub fn body_len(&self) -> usize {
        40 + self.r#match.buffer_len()
    }

    pub(crate) fn write_body(&self, w: &mut Writer<'_>) -> Result<()> {
        w.u64(self.cookie)?;
        w.u16(self.priority)?;
        w.u8(self.reason)?;
        w.u8(self.table_id)?;
        w.u32(self.duration_sec)?;
        w.u32(self.duration_nsec)?;
        w.u16(self.idle_timeout)?;
        w.u16(self.hard_timeout)?;
        w.u64(self.packet_count)?;
        w.u64(self.byte_count)?;
        self.r#match.write(w)
    }

    pub(crate) fn read_body(r: &mut Reader<'_>) -> Result<FlowRemoved> {
        Ok(FlowRemoved {
            cookie: r.u64()?,
            priority: r.u16()?,
            reason: r.u8()?,
            table_id: r.u8()?,
            duration_sec: r.u32()?,
            duration_nsec: r.u32()?,
            idle_timeout: r.u16()?,
            hard_timeout: r.u16()?,
            packet_count: r.u64()?,
            byte_count: r.u64()?,
            r#match: Match::read(r)?,
        })
    }
}
