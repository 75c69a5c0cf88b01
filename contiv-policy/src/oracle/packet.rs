//! The packet description the oracle judges.

use crate::spec::{PROTO_ICMP, PROTO_ICMPV6, PROTO_TCP, PROTO_UDP};
use contiv_core::ir::{EpgId, TenantId};
use serde::{Deserialize, Serialize};
use std::net::IpAddr;

/// Where a packet is in its connection's life.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum ConnState {
    /// The first packet of a connection (TCP SYN, first UDP datagram, ICMP
    /// echo request…): judged by the rules.
    New,
    /// A packet of a connection that was allowed (either direction after
    /// the first packet): passes.
    Reply,
}

/// One side of a packet.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct PacketEnd {
    /// The tenant (VRF) the address is in.
    pub tenant: TenantId,
    /// The address.
    pub ip: IpAddr,
    /// The side's group as the datapath classified it; `None` = look the
    /// address up in the IR's membership (no entry = in no group).
    pub epg: Option<EpgId>,
}

impl PacketEnd {
    /// An address whose group is looked up in the IR.
    pub fn addr(tenant: TenantId, ip: IpAddr) -> Self {
        PacketEnd {
            tenant,
            ip,
            epg: None,
        }
    }

    /// An address with its group given explicitly (e.g. classified by
    /// ingress port). [`NO_EPG`](contiv_core::ir::NO_EPG) means "in no
    /// group".
    pub fn in_epg(tenant: TenantId, ip: IpAddr, epg: EpgId) -> Self {
        PacketEnd {
            tenant,
            ip,
            epg: Some(epg),
        }
    }
}

/// A packet, as much of it as policy looks at.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct Packet {
    /// Sender.
    pub src: PacketEnd,
    /// Receiver.
    pub dst: PacketEnd,
    /// IP protocol number (6 tcp, 17 udp, 1 icmp, 58 icmpv6, …).
    pub proto: u8,
    /// Source port (TCP/UDP; ignored otherwise).
    pub src_port: u16,
    /// Destination port (TCP/UDP; ignored otherwise).
    pub dst_port: u16,
    /// New connection or reply.
    pub state: ConnState,
}

impl Packet {
    /// A new TCP connection to `dst_port` (source port 40000).
    pub fn tcp(src: PacketEnd, dst: PacketEnd, dst_port: u16) -> Self {
        Packet::l4(src, dst, PROTO_TCP, dst_port)
    }

    /// A new UDP flow to `dst_port` (source port 40000).
    pub fn udp(src: PacketEnd, dst: PacketEnd, dst_port: u16) -> Self {
        Packet::l4(src, dst, PROTO_UDP, dst_port)
    }

    /// A new ICMP echo: protocol 1 for IPv4, 58 (ICMPv6) for IPv6.
    pub fn icmp(src: PacketEnd, dst: PacketEnd) -> Self {
        let proto = if dst.ip.is_ipv6() {
            PROTO_ICMPV6
        } else {
            PROTO_ICMP
        };
        Packet {
            src,
            dst,
            proto,
            src_port: 0,
            dst_port: 0,
            state: ConnState::New,
        }
    }

    /// A new connection of any protocol.
    pub fn l4(src: PacketEnd, dst: PacketEnd, proto: u8, dst_port: u16) -> Self {
        Packet {
            src,
            dst,
            proto,
            src_port: 40000,
            dst_port,
            state: ConnState::New,
        }
    }

    /// The reply to this packet: ends and ports swapped, state `Reply`.
    pub fn reply(&self) -> Self {
        Packet {
            src: self.dst,
            dst: self.src,
            proto: self.proto,
            src_port: self.dst_port,
            dst_port: self.src_port,
            state: ConnState::Reply,
        }
    }

    /// The same packet with connection state `state`.
    pub fn with_state(mut self, state: ConnState) -> Self {
        self.state = state;
        self
    }
}
