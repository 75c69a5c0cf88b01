//! Nicira conntrack extensions: the `ct` action (`NXAST_CT`), the `nat`
//! action (`NXAST_NAT`) and the bits of the `ct_state` match field.

use super::buf::{Reader, Writer, pad8};
use super::{Action, Error, NxmHeader, Result};
use std::net::{Ipv4Addr, Ipv6Addr};

/// Bits of the `ct_state` match field (`+trk+new` = `TRK | NEW`).
pub mod ct_state {
    /// `new`: the start of a new connection.
    pub const NEW: u32 = 0x01;
    /// `est`: part of an established connection.
    pub const EST: u32 = 0x02;
    /// `rel`: related to an established connection (e.g. ICMP errors).
    pub const REL: u32 = 0x04;
    /// `rpl`: in the reply direction.
    pub const RPL: u32 = 0x08;
    /// `inv`: invalid (conntrack could not make sense of it).
    pub const INV: u32 = 0x10;
    /// `trk`: the packet went through conntrack.
    pub const TRK: u32 = 0x20;
    /// `snat`: source NAT was applied.
    pub const SNAT: u32 = 0x40;
    /// `dnat`: destination NAT was applied.
    pub const DNAT: u32 = 0x80;
}

/// Bits of the `nw_frag` match field (`nw_frag=later` = `ANY | LATER`
/// under the mask `ANY | LATER`).
pub mod ip_frag {
    /// The packet is a fragment.
    pub const ANY: u8 = 0x01;
    /// The fragment is not the first (offset > 0: no L4 header).
    pub const LATER: u8 = 0x02;
}

/// The `OFPT_SET_CONFIG` fragment handling this crate asks for
/// (`OFPC_FRAG_NX_MATCH`, Nicira): the first fragment of a datagram keeps
/// its ports for matching, later ones have none (`nw_frag=later`).
pub const OFPC_FRAG_NX_MATCH: u16 = 3;

/// Flags of the `ct` action.
pub mod ct_flags {
    /// `commit`: create the connection entry.
    pub const COMMIT: u16 = 0x0001;
    /// `force`: with `commit`, replace an entry seen in the other direction.
    pub const FORCE: u16 = 0x0002;
}

/// Flags of the `nat` action.
pub mod nat_flags {
    /// `src`: source NAT.
    pub const SRC: u16 = 0x0001;
    /// `dst`: destination NAT.
    pub const DST: u16 = 0x0002;
    /// `persistent`.
    pub const PERSISTENT: u16 = 0x0004;
    /// `hash`: pick the port by hash.
    pub const PROTO_HASH: u16 = 0x0008;
    /// `random`: pick the port randomly.
    pub const PROTO_RANDOM: u16 = 0x0010;
}

/// `NX_CT_RECIRC_NONE`: `ct` without `table=`.
const RECIRC_NONE: u8 = 0xff;

/// Where the conntrack zone of a `ct` action comes from.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum CtZone {
    /// An immediate zone (`zone=5`).
    Imm(u16),
    /// Bits of a field (`zone=NXM_NX_REG4[0..15]`).
    Field {
        /// The field.
        field: NxmHeader,
        /// First bit.
        ofs: u16,
        /// Number of bits (1..=64).
        n_bits: u16,
    },
}

impl Default for CtZone {
    fn default() -> Self {
        CtZone::Imm(0)
    }
}

/// The `ct` action: send the packet through the connection tracker.
///
/// ```
/// use contiv_dp_ovs::openflow::wire::{Ct, CtZone};
/// // ct(commit,zone=1,table=5)
/// let ct = Ct::new().commit().zone(CtZone::Imm(1)).table(5);
/// assert_eq!(ct.recirc_table, Some(5));
/// ```
#[derive(Debug, Clone, Default, PartialEq, Eq, Hash)]
pub struct Ct {
    /// [`ct_flags`] bits.
    pub flags: u16,
    /// The zone.
    pub zone: CtZone,
    /// `table=`: recirculate the packet to this table after conntrack.
    pub recirc_table: Option<u8>,
    /// `alg=`: application-layer gateway port (21 = ftp, 69 = tftp), 0 = none.
    pub alg: u16,
    /// `exec(...)` / `nat(...)`: actions applied to the connection entry.
    pub actions: Vec<Action>,
}

impl Ct {
    /// Fixed part of `nx_action_conntrack`.
    pub(crate) const FIXED_LEN: usize = 24;

    /// `ct()` in zone 0 without recirculation.
    pub fn new() -> Ct {
        Ct::default()
    }
    /// Adds `commit`.
    pub fn commit(mut self) -> Ct {
        self.flags |= ct_flags::COMMIT;
        self
    }
    /// Adds `force`.
    pub fn force(mut self) -> Ct {
        self.flags |= ct_flags::FORCE;
        self
    }
    /// Sets the zone.
    pub fn zone(mut self, zone: CtZone) -> Ct {
        self.zone = zone;
        self
    }
    /// Sets `table=`.
    pub fn table(mut self, table: u8) -> Ct {
        self.recirc_table = Some(table);
        self
    }
    /// Adds a nested action (`exec(set_field:…->ct_mark)` or a [`Nat`]).
    pub fn action(mut self, a: Action) -> Ct {
        self.actions.push(a);
        self
    }

    pub(crate) fn buffer_len(&self) -> usize {
        Self::FIXED_LEN + self.actions.iter().map(Action::buffer_len).sum::<usize>()
    }

    /// Writes the part after the 10-byte Nicira action header.
    pub(crate) fn write_body(&self, w: &mut Writer<'_>) -> Result<()> {
        w.u16(self.flags)?;
        match self.zone {
            CtZone::Imm(z) => {
                w.u32(0)?;
                w.u16(z)?;
            }
            CtZone::Field { field, ofs, n_bits } => {
                if field.0 == 0 {
                    return Err(Error::Unencodable {
                        what: "ct action",
                        why: "a zone field header of 0 means an immediate zone; use CtZone::Imm",
                    });
                }
                w.u32(field.0)?;
                w.u16(ofs_nbits(ofs, n_bits, "ct action zone")?)?;
            }
        }
        w.u8(self.recirc_table.unwrap_or(RECIRC_NONE))?;
        w.zeros(3)?;
        w.u16(self.alg)?;
        for a in &self.actions {
            a.write(w)?;
        }
        Ok(())
    }

    /// Reads the part after the 10-byte Nicira action header.
    pub(crate) fn read_body(r: &mut Reader<'_>) -> Result<Ct> {
        let flags = r.u16()?;
        let zone_src = r.u32()?;
        let zone_val = r.u16()?;
        let recirc = r.u8()?;
        r.skip(3)?;
        let alg = r.u16()?;
        let zone = if zone_src == 0 {
            CtZone::Imm(zone_val)
        } else {
            let (ofs, n_bits) = split_ofs_nbits(zone_val);
            CtZone::Field {
                field: NxmHeader(zone_src),
                ofs,
                n_bits,
            }
        };
        let actions = Action::read_nested_list(r.rest())?;
        Ok(Ct {
            flags,
            zone,
            recirc_table: (recirc != RECIRC_NONE).then_some(recirc),
            alg,
            actions,
        })
    }
}

/// The `nat` action (only valid inside [`Ct::actions`]).
///
/// ```
/// use contiv_dp_ovs::openflow::wire::{Nat, nat_flags};
/// // nat(src=10.0.0.1-10.0.0.5:100-200)
/// let nat = Nat::snat("10.0.0.1".parse().unwrap())
///     .ipv4_range_to("10.0.0.5".parse().unwrap())
///     .ports(100, 200);
/// assert_eq!(nat.flags, nat_flags::SRC);
/// ```
#[derive(Debug, Clone, Default, PartialEq, Eq, Hash)]
pub struct Nat {
    /// [`nat_flags`] bits.
    pub flags: u16,
    /// Lowest IPv4 address of the range.
    pub ipv4_min: Option<Ipv4Addr>,
    /// Highest IPv4 address of the range.
    pub ipv4_max: Option<Ipv4Addr>,
    /// Lowest IPv6 address of the range.
    pub ipv6_min: Option<Ipv6Addr>,
    /// Highest IPv6 address of the range.
    pub ipv6_max: Option<Ipv6Addr>,
    /// Lowest L4 port.
    pub proto_min: Option<u16>,
    /// Highest L4 port.
    pub proto_max: Option<u16>,
}

mod range {
    pub const IPV4_MIN: u16 = 1 << 0;
    pub const IPV4_MAX: u16 = 1 << 1;
    pub const IPV6_MIN: u16 = 1 << 2;
    pub const IPV6_MAX: u16 = 1 << 3;
    pub const PROTO_MIN: u16 = 1 << 4;
    pub const PROTO_MAX: u16 = 1 << 5;
}

impl Nat {
    /// Fixed part of `nx_action_nat` (header, pad, flags, range_present).
    const FIXED_LEN: usize = 16;

    /// `nat` without arguments: apply the NAT recorded in the connection.
    pub fn reverse() -> Nat {
        Nat::default()
    }
    /// `nat(src=<ip>)`.
    pub fn snat(ip: Ipv4Addr) -> Nat {
        Nat {
            flags: nat_flags::SRC,
            ipv4_min: Some(ip),
            ..Nat::default()
        }
    }
    /// `nat(dst=<ip>)`.
    pub fn dnat(ip: Ipv4Addr) -> Nat {
        Nat {
            flags: nat_flags::DST,
            ipv4_min: Some(ip),
            ..Nat::default()
        }
    }
    /// Extends the IPv4 range up to `ip`.
    pub fn ipv4_range_to(mut self, ip: Ipv4Addr) -> Nat {
        self.ipv4_max = Some(ip);
        self
    }
    /// Sets the port range.
    pub fn ports(mut self, min: u16, max: u16) -> Nat {
        self.proto_min = Some(min);
        self.proto_max = Some(max);
        self
    }

    fn ranges_len(&self) -> usize {
        4 * (usize::from(self.ipv4_min.is_some()) + usize::from(self.ipv4_max.is_some()))
            + 16 * (usize::from(self.ipv6_min.is_some()) + usize::from(self.ipv6_max.is_some()))
            + 2 * (usize::from(self.proto_min.is_some()) + usize::from(self.proto_max.is_some()))
    }

    pub(crate) fn buffer_len(&self) -> usize {
        pad8(Self::FIXED_LEN + self.ranges_len())
    }

    /// Writes the part after the 10-byte Nicira action header.
    pub(crate) fn write_body(&self, w: &mut Writer<'_>) -> Result<()> {
        let mut present = 0u16;
        for (set, bit) in [
            (self.ipv4_min.is_some(), range::IPV4_MIN),
            (self.ipv4_max.is_some(), range::IPV4_MAX),
            (self.ipv6_min.is_some(), range::IPV6_MIN),
            (self.ipv6_max.is_some(), range::IPV6_MAX),
            (self.proto_min.is_some(), range::PROTO_MIN),
            (self.proto_max.is_some(), range::PROTO_MAX),
        ] {
            if set {
                present |= bit;
            }
        }
        w.zeros(2)?;
        w.u16(self.flags)?;
        w.u16(present)?;
        for ip in [self.ipv4_min, self.ipv4_max].into_iter().flatten() {
            w.bytes(&ip.octets())?;
        }
        for ip in [self.ipv6_min, self.ipv6_max].into_iter().flatten() {
            w.bytes(&ip.octets())?;
        }
        for p in [self.proto_min, self.proto_max].into_iter().flatten() {
            w.u16(p)?;
        }
        let used = Self::FIXED_LEN + self.ranges_len();
        w.zeros(pad8(used) - used)
    }

    /// Reads the part after the 10-byte Nicira action header.
    pub(crate) fn read_body(r: &mut Reader<'_>) -> Result<Nat> {
        r.skip(2)?;
        let flags = r.u16()?;
        let present = r.u16()?;
        if present & !0x3f != 0 {
            return Err(Error::Malformed {
                what: "nat action",
                why: "unknown range_present bits",
            });
        }
        let has = |b: u16| present & b != 0;
        let mut nat = Nat {
            flags,
            ..Nat::default()
        };
        if has(range::IPV4_MIN) {
            nat.ipv4_min = Some(Ipv4Addr::from(r.array::<4>()?));
        }
        if has(range::IPV4_MAX) {
            nat.ipv4_max = Some(Ipv4Addr::from(r.array::<4>()?));
        }
        if has(range::IPV6_MIN) {
            nat.ipv6_min = Some(Ipv6Addr::from(r.array::<16>()?));
        }
        if has(range::IPV6_MAX) {
            nat.ipv6_max = Some(Ipv6Addr::from(r.array::<16>()?));
        }
        if has(range::PROTO_MIN) {
            nat.proto_min = Some(r.u16()?);
        }
        if has(range::PROTO_MAX) {
            nat.proto_max = Some(r.u16()?);
        }
        Ok(nat)
    }
}

/// Packs (offset, bit count) into the `ofs_nbits` encoding Nicira actions
/// use: `ofs << 6 | (n_bits - 1)`.
pub(crate) fn ofs_nbits(ofs: u16, n_bits: u16, what: &'static str) -> Result<u16> {
    if n_bits == 0 || n_bits > 64 || ofs > 0x3ff {
        return Err(Error::Unencodable {
            what,
            why: "bit range must have 1..=64 bits starting below bit 1024",
        });
    }
    Ok((ofs << 6) | (n_bits - 1))
}

/// Splits an `ofs_nbits` value into (offset, bit count).
pub(crate) fn split_ofs_nbits(v: u16) -> (u16, u16) {
    (v >> 6, (v & 0x3f) + 1)
}
