//! Ethernet frames for `BPF_PROG_TEST_RUN` (the classifiers do not check
//! L3/L4 checksums, so they are left zero).
#![allow(dead_code)]

use contiv_core::datapath::MacAddr;
use std::net::IpAddr;

/// An IP packet's L4 part.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum L4 {
    /// TCP with these flags (0x02 SYN, 0x12 SYN-ACK, 0x10 ACK).
    Tcp { sport: u16, dport: u16, flags: u8 },
    /// UDP.
    Udp { sport: u16, dport: u16 },
    /// ICMP (v4 or v6 by the addresses) echo request (`reply` false) or
    /// reply.
    Echo { id: u16, reply: bool },
    /// Any other protocol, 8 bytes of payload.
    Other(u8),
}

/// An Ethernet frame `src` → `dst` (addresses of one family).
pub fn ip_frame(smac: MacAddr, dmac: MacAddr, src: IpAddr, dst: IpAddr, l4: L4) -> Vec<u8> {
    let v6 = src.is_ipv6();
    let (proto, body): (u8, Vec<u8>) = match l4 {
        L4::Tcp {
            sport,
            dport,
            flags,
        } => {
            let mut b = vec![0u8; 20];
            b[0..2].copy_from_slice(&sport.to_be_bytes());
            b[2..4].copy_from_slice(&dport.to_be_bytes());
            b[12] = 5 << 4;
            b[13] = flags;
            b[14..16].copy_from_slice(&64240u16.to_be_bytes());
            (6, b)
        }
        L4::Udp { sport, dport } => {
            let mut b = vec![0u8; 16];
            b[0..2].copy_from_slice(&sport.to_be_bytes());
            b[2..4].copy_from_slice(&dport.to_be_bytes());
            b[4..6].copy_from_slice(&16u16.to_be_bytes());
            (17, b)
        }
        L4::Echo { id, reply } => {
            let mut b = vec![0u8; 16];
            b[0] = match (v6, reply) {
                (false, false) => 8,
                (false, true) => 0,
                (true, false) => 128,
                (true, true) => 129,
            };
            b[4..6].copy_from_slice(&id.to_be_bytes());
            b[6..8].copy_from_slice(&1u16.to_be_bytes());
            (if v6 { 58 } else { 1 }, b)
        }
        L4::Other(p) => (p, vec![0u8; 8]),
    };
    let mut f = Vec::with_capacity(14 + 40 + body.len());
    f.extend_from_slice(&dmac.0);
    f.extend_from_slice(&smac.0);
    match (src, dst) {
        (IpAddr::V4(s), IpAddr::V4(d)) => {
            f.extend_from_slice(&0x0800u16.to_be_bytes());
            let total = (20 + body.len()) as u16;
            let mut h = [0u8; 20];
            h[0] = 0x45;
            h[2..4].copy_from_slice(&total.to_be_bytes());
            h[6] = 0x40; // DF
            h[8] = 64;
            h[9] = proto;
            h[12..16].copy_from_slice(&s.octets());
            h[16..20].copy_from_slice(&d.octets());
            f.extend_from_slice(&h);
        }
        (IpAddr::V6(s), IpAddr::V6(d)) => {
            f.extend_from_slice(&0x86ddu16.to_be_bytes());
            let mut h = [0u8; 40];
            h[0] = 0x60;
            h[4..6].copy_from_slice(&(body.len() as u16).to_be_bytes());
            h[6] = proto;
            h[7] = 64;
            h[8..24].copy_from_slice(&s.octets());
            h[24..40].copy_from_slice(&d.octets());
            f.extend_from_slice(&h);
        }
        _ => panic!("mixed address families"),
    }
    f.extend_from_slice(&body);
    f
}

/// An ARP request from `smac`/`sip` for `tip`.
pub fn arp_request(smac: MacAddr, sip: [u8; 4], tip: [u8; 4]) -> Vec<u8> {
    let mut f = vec![0xff; 6];
    f.extend_from_slice(&smac.0);
    f.extend_from_slice(&0x0806u16.to_be_bytes());
    f.extend_from_slice(&[0, 1, 0x08, 0, 6, 4, 0, 1]);
    f.extend_from_slice(&smac.0);
    f.extend_from_slice(&sip);
    f.extend_from_slice(&[0; 6]);
    f.extend_from_slice(&tip);
    f
}

/// The one's-complement sum of `data` as 16-bit big-endian words (an odd
/// last byte padded), added to `acc` (Internet checksum, RFC 1071).
pub fn sum16(data: &[u8], mut acc: u32) -> u32 {
    for c in data.chunks(2) {
        let w = if c.len() == 2 {
            u16::from_be_bytes([c[0], c[1]])
        } else {
            u16::from(c[0]) << 8
        };
        acc += u32::from(w);
    }
    acc
}

/// The checksum of a [`sum16`] total: folded to 16 bits and complemented
/// (0 when a sum includes a right checksum).
pub fn fold(mut acc: u32) -> u16 {
    while acc > 0xffff {
        acc = (acc & 0xffff) + (acc >> 16);
    }
    !(acc as u16)
}
