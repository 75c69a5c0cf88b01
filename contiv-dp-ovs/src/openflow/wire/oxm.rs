//! OXM match fields (`ofp_oxm` TLVs), including the Nicira/OVS NXM
//! extensions, and the `ofp_match` structure that carries them.

use super::buf::{Reader, Writer, pad8};
use super::{Error, MacAddr, ONF_EXPERIMENTER, Result};
use ipnet::{Ipv4Net, Ipv6Net};
use std::net::{Ipv4Addr, Ipv6Addr};

/// OXM classes.
pub mod oxm_class {
    /// Nicira NXM class 0 (`NXM_OF_*`: the OpenFlow 1.0 fields in NXM form).
    pub const NXM_0: u16 = 0x0000;
    /// Nicira NXM class 1 (`NXM_NX_*`: registers, conntrack, tunnel, …).
    pub const NXM_1: u16 = 0x0001;
    /// The standard OpenFlow basic class (`OXM_OF_*`).
    pub const OPENFLOW_BASIC: u16 = 0x8000;
    /// OpenFlow packet registers (`OXM_OF_PKT_REG<N>`, OVS's `xreg<N>`).
    pub const PACKET_REGS: u16 = 0x8001;
    /// Experimenter class: a 32-bit experimenter id follows the header.
    pub const EXPERIMENTER: u16 = 0xffff;
}

use oxm_class::{EXPERIMENTER, NXM_0, NXM_1, OPENFLOW_BASIC, PACKET_REGS};

/// A view of one OXM TLV: a 32-bit header (class, field, has-mask, length),
/// an experimenter id when the class is [`oxm_class::EXPERIMENTER`], then
/// the value and, when has-mask is set, a mask of the same size.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct OxmTlv<T: AsRef<[u8]>> {
    buffer: T,
}

impl<T: AsRef<[u8]>> OxmTlv<T> {
    /// Length of the OXM header.
    pub const HEADER_LEN: usize = 4;

    /// Wraps a buffer without checking it.
    pub const fn new_unchecked(buffer: T) -> Self {
        OxmTlv { buffer }
    }

    /// Wraps a buffer and checks it with [`OxmTlv::check_len`].
    pub fn new_checked(buffer: T) -> Result<Self> {
        let t = Self::new_unchecked(buffer);
        t.check_len()?;
        Ok(t)
    }

    /// Checks that the header, the experimenter id (if any) and the payload
    /// the length byte announces are all present.
    pub fn check_len(&self) -> Result<()> {
        let have = self.buffer.as_ref().len();
        if have < Self::HEADER_LEN {
            return Err(Error::Truncated {
                what: "OXM header",
                need: Self::HEADER_LEN,
                have,
            });
        }
        let need = self.total_len();
        if have < need {
            return Err(Error::Truncated {
                what: "OXM field",
                need,
                have,
            });
        }
        if self.class() == EXPERIMENTER && self.length() < 4 {
            return Err(Error::Malformed {
                what: "OXM field",
                why: "experimenter field shorter than its experimenter id",
            });
        }
        Ok(())
    }

    /// The raw 32-bit header.
    pub fn header(&self) -> u32 {
        let b = self.buffer.as_ref();
        u32::from_be_bytes([b[0], b[1], b[2], b[3]])
    }

    /// The OXM class.
    pub fn class(&self) -> u16 {
        (self.header() >> 16) as u16
    }

    /// The 7-bit field number.
    pub fn field(&self) -> u8 {
        ((self.header() >> 9) & 0x7f) as u8
    }

    /// Whether a mask follows the value.
    pub fn has_mask(&self) -> bool {
        self.header() & 0x100 != 0
    }

    /// The length byte: bytes after the header (experimenter id included).
    pub fn length(&self) -> u8 {
        (self.header() & 0xff) as u8
    }

    /// Header plus payload.
    pub fn total_len(&self) -> usize {
        Self::HEADER_LEN + usize::from(self.length())
    }

    /// The experimenter id for experimenter-class fields.
    pub fn experimenter(&self) -> Option<u32> {
        if self.class() == EXPERIMENTER {
            let b = self.buffer.as_ref();
            Some(u32::from_be_bytes([b[4], b[5], b[6], b[7]]))
        } else {
            None
        }
    }

    /// Value followed by the mask (if any); the experimenter id excluded.
    pub fn payload(&self) -> &[u8] {
        let start = if self.class() == EXPERIMENTER { 8 } else { 4 };
        &self.buffer.as_ref()[start..self.total_len()]
    }
}

/// A value with an optional bitwise mask (`None` = exact match).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct Masked<T> {
    /// The value.
    pub value: T,
    /// The mask: 1 bits must match `value`; `None` matches all bits.
    pub mask: Option<T>,
}

impl<T> Masked<T> {
    /// An exact match on `value`.
    pub const fn exact(value: T) -> Self {
        Masked { value, mask: None }
    }

    /// A match on the bits of `value` selected by `mask`.
    pub const fn new(value: T, mask: T) -> Self {
        Masked {
            value,
            mask: Some(mask),
        }
    }
}

impl<T> From<T> for Masked<T> {
    fn from(value: T) -> Self {
        Masked::exact(value)
    }
}

/// Fixed-size values that can be carried in an OXM payload.
trait OxmValue: Sized + Copy {
    const LEN: usize;
    fn read(r: &mut Reader<'_>) -> Result<Self>;
    fn write(&self, w: &mut Writer<'_>) -> Result<()>;
}

macro_rules! int_value {
    ($t:ty, $len:expr, $rd:ident) => {
        impl OxmValue for $t {
            const LEN: usize = $len;
            fn read(r: &mut Reader<'_>) -> Result<Self> {
                r.$rd()
            }
            fn write(&self, w: &mut Writer<'_>) -> Result<()> {
                w.$rd(*self)
            }
        }
    };
}
int_value!(u8, 1, u8);
int_value!(u16, 2, u16);
int_value!(u32, 4, u32);
int_value!(u64, 8, u64);
int_value!(u128, 16, u128);

impl OxmValue for MacAddr {
    const LEN: usize = 6;
    fn read(r: &mut Reader<'_>) -> Result<Self> {
        Ok(MacAddr(r.array()?))
    }
    fn write(&self, w: &mut Writer<'_>) -> Result<()> {
        w.bytes(&self.0)
    }
}

impl OxmValue for Ipv4Addr {
    const LEN: usize = 4;
    fn read(r: &mut Reader<'_>) -> Result<Self> {
        Ok(Ipv4Addr::from(r.array::<4>()?))
    }
    fn write(&self, w: &mut Writer<'_>) -> Result<()> {
        w.bytes(&self.octets())
    }
}

impl OxmValue for Ipv6Addr {
    const LEN: usize = 16;
    fn read(r: &mut Reader<'_>) -> Result<Self> {
        Ok(Ipv6Addr::from(r.array::<16>()?))
    }
    fn write(&self, w: &mut Writer<'_>) -> Result<()> {
        w.bytes(&self.octets())
    }
}

/// An OXM field this codec does not model, kept verbatim.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct UnknownOxm {
    /// OXM class.
    pub class: u16,
    /// Field number (7 bits).
    pub field: u8,
    /// Whether the payload holds a value and a mask.
    pub has_mask: bool,
    /// Experimenter id, for the experimenter class.
    pub experimenter: Option<u32>,
    /// Value (and mask) bytes.
    pub payload: Vec<u8>,
}

/// One match field (or a `set_field` target).
///
/// Standard OpenFlow 1.3 fields use the `OXM_OF_*` encoding; the Nicira/OVS
/// extensions use `NXM_NX_*` (class 1) or the ONF experimenter encoding as
/// OVS does for OpenFlow 1.3. Parsing accepts every encoding OVS emits for a
/// field (e.g. `tun_id` as `NXM_NX_TUN_ID` or `OXM_OF_TUNNEL_ID`;
/// `tcp_flags` as NXM, ONF experimenter or OF1.5 OXM).
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum OxmField {
    /// `in_port`: ingress OpenFlow port.
    InPort(u32),
    /// `in_phy_port`.
    InPhyPort(u32),
    /// `metadata` (64 bits, maskable).
    Metadata(Masked<u64>),
    /// `eth_dst` / `dl_dst`.
    EthDst(Masked<MacAddr>),
    /// `eth_src` / `dl_src`.
    EthSrc(Masked<MacAddr>),
    /// `eth_type` / `dl_type`.
    EthType(u16),
    /// `vlan_vid`: 12-bit VID plus `OFPVID_PRESENT` (0x1000).
    VlanVid(Masked<u16>),
    /// `vlan_pcp` (needs a VLAN).
    VlanPcp(u8),
    /// `ip_dscp` (6 bits).
    IpDscp(u8),
    /// `ip_ecn` (2 bits).
    IpEcn(u8),
    /// `ip_proto` / `nw_proto`.
    IpProto(u8),
    /// `ipv4_src` / `nw_src`.
    Ipv4Src(Masked<Ipv4Addr>),
    /// `ipv4_dst` / `nw_dst`.
    Ipv4Dst(Masked<Ipv4Addr>),
    /// `tcp_src` (OVS allows a mask).
    TcpSrc(Masked<u16>),
    /// `tcp_dst` (OVS allows a mask).
    TcpDst(Masked<u16>),
    /// `udp_src` (OVS allows a mask).
    UdpSrc(Masked<u16>),
    /// `udp_dst` (OVS allows a mask).
    UdpDst(Masked<u16>),
    /// `sctp_src`.
    SctpSrc(Masked<u16>),
    /// `sctp_dst`.
    SctpDst(Masked<u16>),
    /// `icmp_type` (ICMPv4).
    Icmpv4Type(u8),
    /// `icmp_code` (ICMPv4).
    Icmpv4Code(u8),
    /// `arp_op`.
    ArpOp(u16),
    /// `arp_spa`.
    ArpSpa(Masked<Ipv4Addr>),
    /// `arp_tpa`.
    ArpTpa(Masked<Ipv4Addr>),
    /// `arp_sha`.
    ArpSha(Masked<MacAddr>),
    /// `arp_tha`.
    ArpTha(Masked<MacAddr>),
    /// `ipv6_src`.
    Ipv6Src(Masked<Ipv6Addr>),
    /// `ipv6_dst`.
    Ipv6Dst(Masked<Ipv6Addr>),
    /// `ipv6_label` (20 bits).
    Ipv6Flabel(Masked<u32>),
    /// `icmpv6_type`.
    Icmpv6Type(u8),
    /// `icmpv6_code`.
    Icmpv6Code(u8),
    /// `nd_target`.
    Ipv6NdTarget(Ipv6Addr),
    /// `nd_sll`.
    Ipv6NdSll(MacAddr),
    /// `nd_tll`.
    Ipv6NdTll(MacAddr),
    /// `mpls_label` (20 bits).
    MplsLabel(u32),
    /// `mpls_tc` (3 bits).
    MplsTc(u8),
    /// `mpls_bos` (1 bit).
    MplsBos(u8),
    /// `tunnel_id` / `tun_id` (the VXLAN VNI for VXLAN ports).
    TunnelId(Masked<u64>),
    /// `ipv6_exthdr` pseudo-field.
    Ipv6Exthdr(Masked<u16>),
    /// `reg0`–`reg15` (Nicira, 32 bits each).
    Reg {
        /// Register number, 0..=15.
        index: u8,
        /// Value and mask.
        value: Masked<u32>,
    },
    /// `xreg0`–`xreg7` (`OXM_OF_PKT_REG<N>`, 64 bits each; xreg N aliases
    /// reg 2N (high half) and reg 2N+1 (low half)).
    Xreg {
        /// Register number, 0..=7.
        index: u8,
        /// Value and mask.
        value: Masked<u64>,
    },
    /// `tun_src`: outer IPv4 source of a tunnelled packet.
    TunIpv4Src(Masked<Ipv4Addr>),
    /// `tun_dst`: outer IPv4 destination of a tunnelled packet.
    TunIpv4Dst(Masked<Ipv4Addr>),
    /// `pkt_mark` (skb mark).
    PktMark(Masked<u32>),
    /// `tcp_flags` (12 bits, needs TCP).
    TcpFlags(Masked<u16>),
    /// `conj_id`: the id of a matched conjunctive flow.
    ConjId(u32),
    /// `nw_frag` (Nicira `NXM_NX_IP_FRAG`): bit 0 "a fragment", bit 1 "not
    /// the first fragment"; see [`ip_frag`](super::ip_frag). OVS passes a
    /// non-first fragment through the tables without ports.
    IpFrag(Masked<u8>),
    /// `ct_state`: see [`ct_state`](super::ct_state) for the bits.
    CtState(Masked<u32>),
    /// `ct_zone`.
    CtZone(u16),
    /// `ct_mark`.
    CtMark(Masked<u32>),
    /// `ct_label` (128 bits).
    CtLabel(Masked<u128>),
    /// A field this codec does not model.
    Unknown(UnknownOxm),
}

/// The header triple that identifies a field on the wire.
#[derive(Clone, Copy)]
struct Id {
    class: u16,
    field: u8,
    exp: Option<u32>,
}

const fn basic(field: u8) -> Id {
    Id {
        class: OPENFLOW_BASIC,
        field,
        exp: None,
    }
}

const fn nx(field: u8) -> Id {
    Id {
        class: NXM_1,
        field,
        exp: None,
    }
}

/// ONF experimenter field number of `tcp_flags` in OpenFlow 1.3.
const ONF_TCP_FLAGS: u8 = 42;

enum Val<'a> {
    U8(&'a u8),
    M8(&'a Masked<u8>),
    U16(&'a Masked<u16>),
    E16(&'a u16),
    U32(&'a Masked<u32>),
    E32(&'a u32),
    U64(&'a Masked<u64>),
    U128(&'a Masked<u128>),
    Mac(&'a Masked<MacAddr>),
    EMac(&'a MacAddr),
    V4(&'a Masked<Ipv4Addr>),
    V6(&'a Masked<Ipv6Addr>),
    EV6(&'a Ipv6Addr),
}

fn write_masked<T: OxmValue>(w: &mut Writer<'_>, m: &Masked<T>) -> Result<()> {
    m.value.write(w)?;
    if let Some(mask) = &m.mask {
        mask.write(w)?;
    }
    Ok(())
}

impl Val<'_> {
    fn len(&self) -> usize {
        fn ml<T: OxmValue>(m: &Masked<T>) -> usize {
            T::LEN * if m.mask.is_some() { 2 } else { 1 }
        }
        match self {
            Val::U8(_) => 1,
            Val::M8(m) => ml(*m),
            Val::E16(_) => 2,
            Val::E32(_) => 4,
            Val::EMac(_) => 6,
            Val::EV6(_) => 16,
            Val::U16(m) => ml(*m),
            Val::U32(m) => ml(*m),
            Val::U64(m) => ml(*m),
            Val::U128(m) => ml(*m),
            Val::Mac(m) => ml(*m),
            Val::V4(m) => ml(*m),
            Val::V6(m) => ml(*m),
        }
    }

    fn has_mask(&self) -> bool {
        match self {
            Val::M8(m) => m.mask.is_some(),
            Val::U16(m) => m.mask.is_some(),
            Val::U32(m) => m.mask.is_some(),
            Val::U64(m) => m.mask.is_some(),
            Val::U128(m) => m.mask.is_some(),
            Val::Mac(m) => m.mask.is_some(),
            Val::V4(m) => m.mask.is_some(),
            Val::V6(m) => m.mask.is_some(),
            _ => false,
        }
    }

    fn write(&self, w: &mut Writer<'_>) -> Result<()> {
        match self {
            Val::U8(v) => w.u8(**v),
            Val::M8(m) => write_masked(w, m),
            Val::E16(v) => w.u16(**v),
            Val::E32(v) => w.u32(**v),
            Val::EMac(v) => v.write(w),
            Val::EV6(v) => v.write(w),
            Val::U16(m) => write_masked(w, m),
            Val::U32(m) => write_masked(w, m),
            Val::U64(m) => write_masked(w, m),
            Val::U128(m) => write_masked(w, m),
            Val::Mac(m) => write_masked(w, m),
            Val::V4(m) => write_masked(w, m),
            Val::V6(m) => write_masked(w, m),
        }
    }
}

/// Decodes an exact value: `None` if a mask is present or the size is wrong.
fn exact<T: OxmValue>(payload: &[u8], has_mask: bool) -> Option<T> {
    if has_mask || payload.len() != T::LEN {
        return None;
    }
    T::read(&mut Reader::new(payload, "OXM value")).ok()
}

/// Decodes a value with an optional mask: `None` if the size is wrong.
fn masked<T: OxmValue>(payload: &[u8], has_mask: bool) -> Option<Masked<T>> {
    let want = T::LEN * if has_mask { 2 } else { 1 };
    if payload.len() != want {
        return None;
    }
    let mut r = Reader::new(payload, "OXM value");
    let value = T::read(&mut r).ok()?;
    let mask = if has_mask {
        Some(T::read(&mut r).ok()?)
    } else {
        None
    };
    Some(Masked { value, mask })
}

impl OxmField {
    fn id_and_value(&self) -> Option<(Id, Val<'_>)> {
        use OxmField::*;
        Some(match self {
            InPort(v) => (basic(0), Val::E32(v)),
            InPhyPort(v) => (basic(1), Val::E32(v)),
            Metadata(m) => (basic(2), Val::U64(m)),
            EthDst(m) => (basic(3), Val::Mac(m)),
            EthSrc(m) => (basic(4), Val::Mac(m)),
            EthType(v) => (basic(5), Val::E16(v)),
            VlanVid(m) => (basic(6), Val::U16(m)),
            VlanPcp(v) => (basic(7), Val::U8(v)),
            IpDscp(v) => (basic(8), Val::U8(v)),
            IpEcn(v) => (basic(9), Val::U8(v)),
            IpProto(v) => (basic(10), Val::U8(v)),
            Ipv4Src(m) => (basic(11), Val::V4(m)),
            Ipv4Dst(m) => (basic(12), Val::V4(m)),
            TcpSrc(m) => (basic(13), Val::U16(m)),
            TcpDst(m) => (basic(14), Val::U16(m)),
            UdpSrc(m) => (basic(15), Val::U16(m)),
            UdpDst(m) => (basic(16), Val::U16(m)),
            SctpSrc(m) => (basic(17), Val::U16(m)),
            SctpDst(m) => (basic(18), Val::U16(m)),
            Icmpv4Type(v) => (basic(19), Val::U8(v)),
            Icmpv4Code(v) => (basic(20), Val::U8(v)),
            ArpOp(v) => (basic(21), Val::E16(v)),
            ArpSpa(m) => (basic(22), Val::V4(m)),
            ArpTpa(m) => (basic(23), Val::V4(m)),
            ArpSha(m) => (basic(24), Val::Mac(m)),
            ArpTha(m) => (basic(25), Val::Mac(m)),
            Ipv6Src(m) => (basic(26), Val::V6(m)),
            Ipv6Dst(m) => (basic(27), Val::V6(m)),
            Ipv6Flabel(m) => (basic(28), Val::U32(m)),
            Icmpv6Type(v) => (basic(29), Val::U8(v)),
            Icmpv6Code(v) => (basic(30), Val::U8(v)),
            Ipv6NdTarget(v) => (basic(31), Val::EV6(v)),
            Ipv6NdSll(v) => (basic(32), Val::EMac(v)),
            Ipv6NdTll(v) => (basic(33), Val::EMac(v)),
            MplsLabel(v) => (basic(34), Val::E32(v)),
            MplsTc(v) => (basic(35), Val::U8(v)),
            MplsBos(v) => (basic(36), Val::U8(v)),
            TunnelId(m) => (basic(38), Val::U64(m)),
            Ipv6Exthdr(m) => (basic(39), Val::U16(m)),
            Reg { index, value } => (nx(*index), Val::U32(value)),
            Xreg { index, value } => (
                Id {
                    class: PACKET_REGS,
                    field: *index,
                    exp: None,
                },
                Val::U64(value),
            ),
            TunIpv4Src(m) => (nx(31), Val::V4(m)),
            TunIpv4Dst(m) => (nx(32), Val::V4(m)),
            PktMark(m) => (nx(33), Val::U32(m)),
            TcpFlags(m) => (
                Id {
                    class: EXPERIMENTER,
                    field: ONF_TCP_FLAGS,
                    exp: Some(ONF_EXPERIMENTER),
                },
                Val::U16(m),
            ),
            ConjId(v) => (nx(37), Val::E32(v)),
            IpFrag(m) => (nx(26), Val::M8(m)),
            CtState(m) => (nx(105), Val::U32(m)),
            CtZone(v) => (nx(106), Val::E16(v)),
            CtMark(m) => (nx(107), Val::U32(m)),
            CtLabel(m) => (nx(108), Val::U128(m)),
            Unknown(_) => return None,
        })
    }

    /// Encoded size: header, experimenter id (if any), value and mask.
    pub fn buffer_len(&self) -> usize {
        match self {
            OxmField::Unknown(u) => {
                4 + if u.experimenter.is_some() { 4 } else { 0 } + u.payload.len()
            }
            f => match f.id_and_value() {
                Some((id, v)) => 4 + if id.exp.is_some() { 4 } else { 0 } + v.len(),
                None => 4,
            },
        }
    }

    /// The 32-bit OXM header this field encodes to.
    pub fn header(&self) -> u32 {
        let (class, field, has_mask) = match self {
            OxmField::Unknown(u) => (u.class, u.field, u.has_mask),
            f => match f.id_and_value() {
                Some((id, v)) => (id.class, id.field, v.has_mask()),
                None => (0, 0, false),
            },
        };
        let len = (self.buffer_len() - 4) as u32 & 0xff;
        (u32::from(class) << 16) | (u32::from(field & 0x7f) << 9) | (u32::from(has_mask) << 8) | len
    }

    fn validate(&self) -> Result<()> {
        match self {
            OxmField::Reg { index, .. } if *index > 15 => Err(Error::Unencodable {
                what: "reg match field",
                why: "register index must be 0..=15",
            }),
            OxmField::Xreg { index, .. } if *index > 7 => Err(Error::Unencodable {
                what: "xreg match field",
                why: "xreg index must be 0..=7",
            }),
            OxmField::Unknown(u) => {
                if u.field > 0x7f {
                    return Err(Error::Unencodable {
                        what: "unknown OXM field",
                        why: "field number must fit 7 bits",
                    });
                }
                if (u.class == EXPERIMENTER) != u.experimenter.is_some() {
                    return Err(Error::Unencodable {
                        what: "unknown OXM field",
                        why: "an experimenter id is required exactly for class 0xffff",
                    });
                }
                if self.buffer_len() - 4 > 0xff {
                    return Err(Error::Unencodable {
                        what: "unknown OXM field",
                        why: "payload longer than 255 bytes",
                    });
                }
                Ok(())
            }
            _ => Ok(()),
        }
    }

    pub(crate) fn write(&self, w: &mut Writer<'_>) -> Result<()> {
        self.validate()?;
        w.u32(self.header())?;
        match self {
            OxmField::Unknown(u) => {
                if let Some(e) = u.experimenter {
                    w.u32(e)?;
                }
                w.bytes(&u.payload)
            }
            f => match f.id_and_value() {
                Some((id, v)) => {
                    if let Some(e) = id.exp {
                        w.u32(e)?;
                    }
                    v.write(w)
                }
                None => Ok(()),
            },
        }
    }

    /// Emits the field into `buf` (at least [`OxmField::buffer_len`] bytes).
    pub fn emit(&self, buf: &mut [u8]) -> Result<()> {
        self.write(&mut Writer::new(buf))
    }

    /// Parses the field a checked view holds. Known fields with an
    /// unexpected size or mask become [`OxmField::Unknown`].
    pub fn parse<T: AsRef<[u8]>>(tlv: &OxmTlv<T>) -> Result<OxmField> {
        tlv.check_len()?;
        let (class, field, hm, exp) =
            (tlv.class(), tlv.field(), tlv.has_mask(), tlv.experimenter());
        let p = tlv.payload();
        Ok(Self::decode(class, field, hm, exp, p).unwrap_or_else(|| {
            OxmField::Unknown(UnknownOxm {
                class,
                field,
                has_mask: hm,
                experimenter: exp,
                payload: p.to_vec(),
            })
        }))
    }

    fn decode(class: u16, field: u8, hm: bool, exp: Option<u32>, p: &[u8]) -> Option<OxmField> {
        use OxmField::*;
        match (class, exp) {
            (OPENFLOW_BASIC, _) => Some(match field {
                0 => InPort(exact(p, hm)?),
                1 => InPhyPort(exact(p, hm)?),
                2 => Metadata(masked(p, hm)?),
                3 => EthDst(masked(p, hm)?),
                4 => EthSrc(masked(p, hm)?),
                5 => EthType(exact(p, hm)?),
                6 => VlanVid(masked(p, hm)?),
                7 => VlanPcp(exact(p, hm)?),
                8 => IpDscp(exact(p, hm)?),
                9 => IpEcn(exact(p, hm)?),
                10 => IpProto(exact(p, hm)?),
                11 => Ipv4Src(masked(p, hm)?),
                12 => Ipv4Dst(masked(p, hm)?),
                13 => TcpSrc(masked(p, hm)?),
                14 => TcpDst(masked(p, hm)?),
                15 => UdpSrc(masked(p, hm)?),
                16 => UdpDst(masked(p, hm)?),
                17 => SctpSrc(masked(p, hm)?),
                18 => SctpDst(masked(p, hm)?),
                19 => Icmpv4Type(exact(p, hm)?),
                20 => Icmpv4Code(exact(p, hm)?),
                21 => ArpOp(exact(p, hm)?),
                22 => ArpSpa(masked(p, hm)?),
                23 => ArpTpa(masked(p, hm)?),
                24 => ArpSha(masked(p, hm)?),
                25 => ArpTha(masked(p, hm)?),
                26 => Ipv6Src(masked(p, hm)?),
                27 => Ipv6Dst(masked(p, hm)?),
                28 => Ipv6Flabel(masked(p, hm)?),
                29 => Icmpv6Type(exact(p, hm)?),
                30 => Icmpv6Code(exact(p, hm)?),
                31 => Ipv6NdTarget(exact(p, hm)?),
                32 => Ipv6NdSll(exact(p, hm)?),
                33 => Ipv6NdTll(exact(p, hm)?),
                34 => MplsLabel(exact(p, hm)?),
                35 => MplsTc(exact(p, hm)?),
                36 => MplsBos(exact(p, hm)?),
                38 => TunnelId(masked(p, hm)?),
                39 => Ipv6Exthdr(masked(p, hm)?),
                42 => TcpFlags(masked(p, hm)?),
                _ => return None,
            }),
            (PACKET_REGS, _) if field <= 7 => Some(Xreg {
                index: field,
                value: masked(p, hm)?,
            }),
            (NXM_1, _) => Some(match field {
                0..=15 => Reg {
                    index: field,
                    value: masked(p, hm)?,
                },
                16 => TunnelId(masked(p, hm)?),
                26 => IpFrag(masked(p, hm)?),
                31 => TunIpv4Src(masked(p, hm)?),
                32 => TunIpv4Dst(masked(p, hm)?),
                33 => PktMark(masked(p, hm)?),
                34 => TcpFlags(masked(p, hm)?),
                37 => ConjId(exact(p, hm)?),
                105 => CtState(masked(p, hm)?),
                106 => CtZone(exact(p, hm)?),
                107 => CtMark(masked(p, hm)?),
                108 => CtLabel(masked(p, hm)?),
                _ => return None,
            }),
            (EXPERIMENTER, Some(ONF_EXPERIMENTER)) if field == ONF_TCP_FLAGS => {
                Some(TcpFlags(masked(p, hm)?))
            }
            _ => None,
        }
    }

    /// Prerequisite rank: a field of rank N may depend only on fields of
    /// lower rank (eth_type before IP fields, ip_proto before ports, …).
    /// [`Match`] keeps its fields sorted by it, so emitted matches always
    /// list prerequisites first as OVS requires.
    fn rank(&self) -> u8 {
        use OxmField::*;
        match self {
            VlanPcp(_) | IpDscp(_) | IpEcn(_) | IpProto(_) | Ipv4Src(_) | Ipv4Dst(_) | ArpOp(_)
            | ArpSpa(_) | ArpTpa(_) | ArpSha(_) | ArpTha(_) | Ipv6Src(_) | Ipv6Dst(_)
            | Ipv6Flabel(_) | MplsLabel(_) | MplsTc(_) | MplsBos(_) | Ipv6Exthdr(_) | IpFrag(_) => {
                1
            }
            TcpSrc(_) | TcpDst(_) | UdpSrc(_) | UdpDst(_) | SctpSrc(_) | SctpDst(_)
            | Icmpv4Type(_) | Icmpv4Code(_) | Icmpv6Type(_) | Icmpv6Code(_) | TcpFlags(_) => 2,
            Ipv6NdTarget(_) | Ipv6NdSll(_) | Ipv6NdTll(_) => 3,
            Unknown(_) => 4,
            _ => 0,
        }
    }

    /// The total order [`Match`] keeps: prerequisite rank, then wire header
    /// without the length byte.
    fn sort_key(&self) -> (u8, u32, u32) {
        let exp = match self {
            OxmField::Unknown(u) => u.experimenter.unwrap_or(0),
            OxmField::TcpFlags(_) => ONF_EXPERIMENTER,
            _ => 0,
        };
        (self.rank(), self.header() & !0x1ff, exp)
    }
}

/// The `ofp_match` of OpenFlow 1.3 (`OFPMT_OXM`): a list of OXM fields.
///
/// Fields are kept in a canonical order (prerequisites first, then by wire
/// header), whatever order they were added or parsed in, so that emitted
/// matches are accepted by OVS and two matches with the same fields compare
/// equal.
///
/// ```
/// use contiv_dp_ovs::openflow::wire::{Match, OxmField};
/// let m = Match::new()
///     .tcp_dst(80)          // needs ip_proto=6, which needs eth_type=0x0800
///     .ip_proto(6)
///     .eth_type(0x0800);
/// assert_eq!(m.fields()[0], OxmField::EthType(0x0800));
/// ```
#[derive(Debug, Clone, Default, PartialEq, Eq, Hash)]
pub struct Match {
    fields: Vec<OxmField>,
}

/// `ofp_match.type` for OXM matches.
const OFPMT_OXM: u16 = 1;

impl Match {
    /// The empty match (matches every packet).
    pub fn new() -> Match {
        Match::default()
    }

    /// A match holding `fields`, put into canonical order.
    pub fn from_fields(mut fields: Vec<OxmField>) -> Match {
        fields.sort_by_key(OxmField::sort_key);
        Match { fields }
    }

    /// The fields, in canonical order.
    pub fn fields(&self) -> &[OxmField] {
        &self.fields
    }

    /// Consumes the match, returning its fields.
    pub fn into_fields(self) -> Vec<OxmField> {
        self.fields
    }

    /// Whether the match has no fields.
    pub fn is_empty(&self) -> bool {
        self.fields.is_empty()
    }

    /// Adds a field at its canonical position.
    pub fn push(&mut self, f: OxmField) {
        let key = f.sort_key();
        let at = self.fields.partition_point(|x| x.sort_key() <= key);
        self.fields.insert(at, f);
    }

    /// Builder form of [`Match::push`].
    pub fn field(mut self, f: OxmField) -> Match {
        self.push(f);
        self
    }

    /// The exact `in_port`, if matched.
    pub fn in_port(&self) -> Option<u32> {
        self.fields.iter().find_map(|f| match f {
            OxmField::InPort(p) => Some(*p),
            _ => None,
        })
    }

    /// The first field satisfying `pred`.
    pub fn find(&self, pred: impl Fn(&OxmField) -> bool) -> Option<&OxmField> {
        self.fields.iter().find(|f| pred(f))
    }

    /// Bytes of the OXM fields only.
    fn oxm_len(&self) -> usize {
        self.fields.iter().map(OxmField::buffer_len).sum()
    }

    /// Encoded size including the 4-byte `ofp_match` header and the padding
    /// to a multiple of 8.
    pub fn buffer_len(&self) -> usize {
        pad8(4 + self.oxm_len())
    }

    pub(crate) fn write(&self, w: &mut Writer<'_>) -> Result<()> {
        let len = 4 + self.oxm_len();
        w.u16(OFPMT_OXM)?;
        w.len16(len)?;
        for f in &self.fields {
            f.write(w)?;
        }
        w.zeros(pad8(len) - len)
    }

    /// Emits the `ofp_match` into `buf` (at least [`Match::buffer_len`]
    /// bytes).
    pub fn emit(&self, buf: &mut [u8]) -> Result<()> {
        self.write(&mut Writer::new(buf))
    }

    pub(crate) fn read(r: &mut Reader<'_>) -> Result<Match> {
        let ty = r.u16()?;
        let len = usize::from(r.u16()?);
        if ty != OFPMT_OXM {
            return Err(Error::Malformed {
                what: "ofp_match",
                why: "match type is not OFPMT_OXM (1)",
            });
        }
        if len < 4 {
            return Err(Error::Malformed {
                what: "ofp_match",
                why: "length is smaller than the 4-byte match header",
            });
        }
        let body = r.bytes(len - 4)?;
        // The padding may be missing at the very end of a buffer; accept it.
        let pad = (pad8(len) - len).min(r.remaining());
        r.skip(pad)?;
        let mut fields = Vec::new();
        let mut rest = body;
        while !rest.is_empty() {
            let tlv = OxmTlv::new_checked(rest)?;
            let n = tlv.total_len();
            fields.push(OxmField::parse(&tlv)?);
            rest = &rest[n..];
        }
        Ok(Match::from_fields(fields))
    }

    /// Parses an `ofp_match` at the start of `buf`; returns it and the bytes
    /// consumed (padding included).
    pub fn parse(buf: &[u8]) -> Result<(Match, usize)> {
        let mut r = Reader::new(buf, "ofp_match");
        let m = Match::read(&mut r)?;
        Ok((m, buf.len() - r.remaining()))
    }

    // ---- builder helpers -------------------------------------------------

    /// `in_port=<port>`.
    pub fn in_port_is(self, port: u32) -> Match {
        self.field(OxmField::InPort(port))
    }
    /// `metadata=<v>`.
    pub fn metadata(self, v: u64) -> Match {
        self.field(OxmField::Metadata(Masked::exact(v)))
    }
    /// `metadata=<v>/<mask>`.
    pub fn metadata_masked(self, v: u64, mask: u64) -> Match {
        self.field(OxmField::Metadata(Masked::new(v, mask)))
    }
    /// `dl_src=<mac>`.
    pub fn eth_src(self, mac: MacAddr) -> Match {
        self.field(OxmField::EthSrc(Masked::exact(mac)))
    }
    /// `dl_src=<mac>/<mask>`.
    pub fn eth_src_masked(self, mac: MacAddr, mask: MacAddr) -> Match {
        self.field(OxmField::EthSrc(Masked::new(mac, mask)))
    }
    /// `dl_dst=<mac>`.
    pub fn eth_dst(self, mac: MacAddr) -> Match {
        self.field(OxmField::EthDst(Masked::exact(mac)))
    }
    /// `dl_dst=<mac>/<mask>`.
    pub fn eth_dst_masked(self, mac: MacAddr, mask: MacAddr) -> Match {
        self.field(OxmField::EthDst(Masked::new(mac, mask)))
    }
    /// `dl_type=<ethertype>`.
    pub fn eth_type(self, t: u16) -> Match {
        self.field(OxmField::EthType(t))
    }
    /// `dl_vlan=<vid>`: a tagged packet with this VID (sets `OFPVID_PRESENT`).
    pub fn vlan_vid(self, vid: u16) -> Match {
        self.field(OxmField::VlanVid(Masked::exact(0x1000 | (vid & 0x0fff))))
    }
    /// Raw `vlan_vid` value/mask (include `OFPVID_PRESENT` = 0x1000 yourself).
    pub fn vlan_vid_masked(self, v: u16, mask: u16) -> Match {
        self.field(OxmField::VlanVid(Masked::new(v, mask)))
    }
    /// `nw_proto=<p>`.
    pub fn ip_proto(self, p: u8) -> Match {
        self.field(OxmField::IpProto(p))
    }
    /// `nw_src=<ip>`.
    pub fn ipv4_src(self, ip: Ipv4Addr) -> Match {
        self.field(OxmField::Ipv4Src(Masked::exact(ip)))
    }
    /// `nw_dst=<ip>`.
    pub fn ipv4_dst(self, ip: Ipv4Addr) -> Match {
        self.field(OxmField::Ipv4Dst(Masked::exact(ip)))
    }
    /// `nw_src=<net>`; a /32 becomes an exact match.
    pub fn ipv4_src_net(self, net: Ipv4Net) -> Match {
        self.field(OxmField::Ipv4Src(v4net(net)))
    }
    /// `nw_dst=<net>`; a /32 becomes an exact match.
    pub fn ipv4_dst_net(self, net: Ipv4Net) -> Match {
        self.field(OxmField::Ipv4Dst(v4net(net)))
    }
    /// `ipv6_src=<net>`; a /128 becomes an exact match.
    pub fn ipv6_src_net(self, net: Ipv6Net) -> Match {
        self.field(OxmField::Ipv6Src(v6net(net)))
    }
    /// `ipv6_dst=<net>`; a /128 becomes an exact match.
    pub fn ipv6_dst_net(self, net: Ipv6Net) -> Match {
        self.field(OxmField::Ipv6Dst(v6net(net)))
    }
    /// `tcp_src=<port>`.
    pub fn tcp_src(self, p: u16) -> Match {
        self.field(OxmField::TcpSrc(Masked::exact(p)))
    }
    /// `tcp_dst=<port>`.
    pub fn tcp_dst(self, p: u16) -> Match {
        self.field(OxmField::TcpDst(Masked::exact(p)))
    }
    /// `tcp_dst=<port>/<mask>`.
    pub fn tcp_dst_masked(self, p: u16, mask: u16) -> Match {
        self.field(OxmField::TcpDst(Masked::new(p, mask)))
    }
    /// `udp_src=<port>`.
    pub fn udp_src(self, p: u16) -> Match {
        self.field(OxmField::UdpSrc(Masked::exact(p)))
    }
    /// `udp_dst=<port>`.
    pub fn udp_dst(self, p: u16) -> Match {
        self.field(OxmField::UdpDst(Masked::exact(p)))
    }
    /// `udp_dst=<port>/<mask>`.
    pub fn udp_dst_masked(self, p: u16, mask: u16) -> Match {
        self.field(OxmField::UdpDst(Masked::new(p, mask)))
    }
    /// `icmp_type=<t>`.
    pub fn icmp_type(self, t: u8) -> Match {
        self.field(OxmField::Icmpv4Type(t))
    }
    /// `icmp_code=<c>`.
    pub fn icmp_code(self, c: u8) -> Match {
        self.field(OxmField::Icmpv4Code(c))
    }
    /// `arp_op=<op>`.
    pub fn arp_op(self, op: u16) -> Match {
        self.field(OxmField::ArpOp(op))
    }
    /// `arp_spa=<ip>`.
    pub fn arp_spa(self, ip: Ipv4Addr) -> Match {
        self.field(OxmField::ArpSpa(Masked::exact(ip)))
    }
    /// `arp_tpa=<ip>`.
    pub fn arp_tpa(self, ip: Ipv4Addr) -> Match {
        self.field(OxmField::ArpTpa(Masked::exact(ip)))
    }
    /// `arp_sha=<mac>`.
    pub fn arp_sha(self, mac: MacAddr) -> Match {
        self.field(OxmField::ArpSha(Masked::exact(mac)))
    }
    /// `arp_tha=<mac>`.
    pub fn arp_tha(self, mac: MacAddr) -> Match {
        self.field(OxmField::ArpTha(Masked::exact(mac)))
    }
    /// `tun_id=<id>`.
    pub fn tunnel_id(self, id: u64) -> Match {
        self.field(OxmField::TunnelId(Masked::exact(id)))
    }
    /// `reg<index>=<v>`.
    pub fn reg(self, index: u8, v: u32) -> Match {
        self.field(OxmField::Reg {
            index,
            value: Masked::exact(v),
        })
    }
    /// `reg<index>=<v>/<mask>`.
    pub fn reg_masked(self, index: u8, v: u32, mask: u32) -> Match {
        self.field(OxmField::Reg {
            index,
            value: Masked::new(v, mask),
        })
    }
    /// `xreg<index>=<v>/<mask>`.
    pub fn xreg_masked(self, index: u8, v: u64, mask: u64) -> Match {
        self.field(OxmField::Xreg {
            index,
            value: Masked::new(v, mask),
        })
    }
    /// `ct_state=<value>/<mask>` (see [`ct_state`](super::ct_state)); e.g.
    /// `+trk+new` is `ct_state(TRK | NEW, TRK | NEW)`.
    pub fn ct_state(self, value: u32, mask: u32) -> Match {
        self.field(OxmField::CtState(Masked::new(value, mask)))
    }
    /// `nw_frag=<value>/<mask>` (see [`ip_frag`](super::ip_frag)); e.g.
    /// `nw_frag=later` is `ip_frag(ANY | LATER, ANY | LATER)`. Both bits
    /// masked is sent as an exact match, the form OVS reports back.
    pub fn ip_frag(self, value: u8, mask: u8) -> Match {
        let both = super::ip_frag::ANY | super::ip_frag::LATER;
        self.field(OxmField::IpFrag(if mask & both == both {
            Masked::exact(value & both)
        } else {
            Masked::new(value & mask, mask & both)
        }))
    }
    /// `ct_zone=<zone>`.
    pub fn ct_zone(self, zone: u16) -> Match {
        self.field(OxmField::CtZone(zone))
    }
    /// `ct_mark=<v>/<mask>`.
    pub fn ct_mark_masked(self, v: u32, mask: u32) -> Match {
        self.field(OxmField::CtMark(Masked::new(v, mask)))
    }
    /// `ct_label=<v>/<mask>`.
    pub fn ct_label_masked(self, v: u128, mask: u128) -> Match {
        self.field(OxmField::CtLabel(Masked::new(v, mask)))
    }
    /// `conj_id=<id>`.
    pub fn conj_id(self, id: u32) -> Match {
        self.field(OxmField::ConjId(id))
    }
    /// `tun_src=<ip>`.
    pub fn tun_ipv4_src(self, ip: Ipv4Addr) -> Match {
        self.field(OxmField::TunIpv4Src(Masked::exact(ip)))
    }
    /// `tun_dst=<ip>`.
    pub fn tun_ipv4_dst(self, ip: Ipv4Addr) -> Match {
        self.field(OxmField::TunIpv4Dst(Masked::exact(ip)))
    }
    /// `tcp_flags=<value>/<mask>` (e.g. SYN without ACK: `0x002/0x012`).
    pub fn tcp_flags(self, value: u16, mask: u16) -> Match {
        self.field(OxmField::TcpFlags(Masked::new(value, mask)))
    }
}

fn v4net(net: Ipv4Net) -> Masked<Ipv4Addr> {
    if net.prefix_len() == 32 {
        Masked::exact(net.addr())
    } else {
        Masked::new(net.network(), net.netmask())
    }
}

fn v6net(net: Ipv6Net) -> Masked<Ipv6Addr> {
    if net.prefix_len() == 128 {
        Masked::exact(net.addr())
    } else {
        Masked::new(net.network(), net.netmask())
    }
}

/// Reference to a field by its 32-bit NXM/OXM header without the length
/// byte's mask bit, as used by `NXAST_REG_MOVE`, `NXAST_REG_LOAD` and the
/// zone of `ct`. Only 4-byte (non-experimenter) headers are supported.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct NxmHeader(pub u32);

impl NxmHeader {
    const fn make(class: u16, field: u8, len: u8) -> NxmHeader {
        NxmHeader(((class as u32) << 16) | ((field as u32) << 9) | len as u32)
    }
    /// `NXM_OF_IN_PORT` (16-bit port).
    pub const IN_PORT: NxmHeader = Self::make(NXM_0, 0, 2);
    /// `NXM_OF_ETH_DST`.
    pub const ETH_DST: NxmHeader = Self::make(NXM_0, 1, 6);
    /// `NXM_OF_ETH_SRC`.
    pub const ETH_SRC: NxmHeader = Self::make(NXM_0, 2, 6);
    /// `NXM_OF_ETH_TYPE`.
    pub const ETH_TYPE: NxmHeader = Self::make(NXM_0, 3, 2);
    /// `NXM_OF_VLAN_TCI`.
    pub const VLAN_TCI: NxmHeader = Self::make(NXM_0, 4, 2);
    /// `NXM_OF_IP_SRC`.
    pub const IP_SRC: NxmHeader = Self::make(NXM_0, 7, 4);
    /// `NXM_OF_IP_DST`.
    pub const IP_DST: NxmHeader = Self::make(NXM_0, 8, 4);
    /// `NXM_OF_TCP_SRC`.
    pub const TCP_SRC: NxmHeader = Self::make(NXM_0, 9, 2);
    /// `NXM_OF_TCP_DST`.
    pub const TCP_DST: NxmHeader = Self::make(NXM_0, 10, 2);
    /// `NXM_OF_ARP_OP`.
    pub const ARP_OP: NxmHeader = Self::make(NXM_0, 15, 2);
    /// `NXM_OF_ARP_SPA`.
    pub const ARP_SPA: NxmHeader = Self::make(NXM_0, 16, 4);
    /// `NXM_OF_ARP_TPA`.
    pub const ARP_TPA: NxmHeader = Self::make(NXM_0, 17, 4);
    /// `NXM_NX_TUN_ID`.
    pub const TUN_ID: NxmHeader = Self::make(NXM_1, 16, 8);
    /// `NXM_NX_ARP_SHA`.
    pub const ARP_SHA: NxmHeader = Self::make(NXM_1, 17, 6);
    /// `NXM_NX_ARP_THA`.
    pub const ARP_THA: NxmHeader = Self::make(NXM_1, 18, 6);
    /// `NXM_NX_TUN_IPV4_DST`.
    pub const TUN_IPV4_DST: NxmHeader = Self::make(NXM_1, 32, 4);
    /// `NXM_NX_IPV6_SRC`.
    pub const IPV6_SRC: NxmHeader = Self::make(NXM_1, 19, 16);
    /// `NXM_NX_IPV6_DST`.
    pub const IPV6_DST: NxmHeader = Self::make(NXM_1, 20, 16);
    /// `NXM_NX_CT_ZONE`.
    pub const CT_ZONE: NxmHeader = Self::make(NXM_1, 106, 2);
    /// `NXM_NX_CT_MARK`.
    pub const CT_MARK: NxmHeader = Self::make(NXM_1, 107, 4);
    /// `NXM_NX_CT_LABEL`.
    pub const CT_LABEL: NxmHeader = Self::make(NXM_1, 108, 16);
    /// `OXM_OF_METADATA`.
    pub const METADATA: NxmHeader = Self::make(OPENFLOW_BASIC, 2, 8);

    /// `NXM_NX_REG<n>` (n ≤ 15).
    pub const fn reg(n: u8) -> NxmHeader {
        Self::make(NXM_1, n & 0x0f, 4)
    }

    /// `OXM_OF_PKT_REG<n>` (OVS `xreg<n>`, n ≤ 7).
    pub const fn xreg(n: u8) -> NxmHeader {
        Self::make(PACKET_REGS, n & 0x07, 8)
    }

    /// The field's width in bits (from the length byte; halved when the
    /// header carries the has-mask bit).
    pub const fn n_bits(self) -> u16 {
        let len = (self.0 & 0xff) as u16;
        if self.0 & 0x100 != 0 {
            len * 4
        } else {
            len * 8
        }
    }

    /// The class.
    pub const fn class(self) -> u16 {
        (self.0 >> 16) as u16
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn hex(s: &str) -> Vec<u8> {
        (0..s.len())
            .step_by(2)
            .map(|i| u8::from_str_radix(&s[i..i + 2], 16).unwrap())
            .collect()
    }

    #[test]
    fn ovs_match_bytes_parse_to_typed_fields() {
        // The match ovs-ofctl sends for
        // conj_id=12,tcp,tcp_flags=+syn-ack,ct_state=+trk+new-est,
        // ct_mark=0x5/0xff,ct_zone=3,reg4=0x10/0xf0,tun_src=1.2.3.4
        let b = hex(
            "0001005500014a040000000c80000a0208008000140106ffff55084f4e46000002001200013e\
             04010203040001090800000010000000f00001d30800000021000000230001d40200030001d7\
             0800000005000000ff000000",
        );
        let (m, used) = Match::parse(&b).unwrap();
        assert_eq!(used, 88);
        let want = Match::new()
            .conj_id(12)
            .eth_type(0x0800)
            .ip_proto(6)
            .tcp_flags(0x002, 0x012)
            .tun_ipv4_src(Ipv4Addr::new(1, 2, 3, 4))
            .reg_masked(4, 0x10, 0xf0)
            .ct_state(0x21, 0x23)
            .ct_zone(3)
            .ct_mark_masked(5, 0xff);
        assert_eq!(m, want);
        // Our encoding differs from OVS's only in field order; re-parse it.
        let mut out = vec![0u8; want.buffer_len()];
        want.emit(&mut out).unwrap();
        assert_eq!(out.len(), 88);
        assert_eq!(Match::parse(&out).unwrap().0, want);
    }

    #[test]
    fn alternate_encodings_of_tun_id_and_tcp_flags_are_accepted() {
        // NXM_NX_TUN_ID, OXM_OF_TCP_FLAGS (OF1.5), NXM_NX_TCP_FLAGS
        for (h, want) in [
            (
                "000120080000000000001388",
                OxmField::TunnelId(Masked::exact(5000)),
            ),
            ("80005402 0012", OxmField::TcpFlags(Masked::exact(0x12))),
            ("00014402 0012", OxmField::TcpFlags(Masked::exact(0x12))),
        ] {
            let b = hex(&h.replace(' ', ""));
            let f = OxmField::parse(&OxmTlv::new_checked(&b[..]).unwrap()).unwrap();
            assert_eq!(f, want, "{h}");
        }
    }

    #[test]
    fn known_field_with_wrong_size_is_kept_as_unknown() {
        let b = hex("8000000500000001ff"); // in_port with 5-byte payload
        let f = OxmField::parse(&OxmTlv::new_checked(&b[..]).unwrap()).unwrap();
        assert!(matches!(
            f,
            OxmField::Unknown(UnknownOxm {
                class: 0x8000,
                field: 0,
                ..
            })
        ));
        let mut out = vec![0u8; f.buffer_len()];
        f.emit(&mut out).unwrap();
        assert_eq!(out, b);
    }

    #[test]
    fn ip_frag_is_nxm_26_after_eth_type_and_exact_when_both_bits_are_masked() {
        use super::super::ip_frag::{ANY, LATER};
        // `nw_frag=later` as ovs-ofctl and OVS's flow dumps carry it:
        // NXM_NX_IP_FRAG (class 1, field 26), no mask, value 3.
        let later = Match::new()
            .ip_frag(ANY | LATER, ANY | LATER)
            .eth_type(0x0800);
        assert_eq!(later.fields()[1], OxmField::IpFrag(Masked::exact(3)));
        let f = &later.fields()[1];
        let mut out = vec![0u8; f.buffer_len()];
        f.emit(&mut out).unwrap();
        assert_eq!(out, [0x00, 0x01, 26 << 1, 1, 3]);
        // `nw_frag=yes` (any fragment): value 1 under mask 1.
        let yes = Match::new().ip_frag(ANY, ANY);
        let f = &yes.fields()[0];
        let mut out = vec![0u8; f.buffer_len()];
        f.emit(&mut out).unwrap();
        assert_eq!(out, [0x00, 0x01, (26 << 1) | 1, 2, 1, 1]);
        let back = OxmField::parse(&OxmTlv::new_checked(&out[..]).unwrap()).unwrap();
        assert_eq!(&back, f);
    }

    #[test]
    fn prerequisites_are_emitted_first() {
        let m = Match::new()
            .tcp_dst(80)
            .ip_proto(6)
            .eth_type(0x0800)
            .reg(0, 1);
        let kinds: Vec<_> = m.fields().iter().map(|f| f.sort_key().0).collect();
        assert!(kinds.windows(2).all(|w| w[0] <= w[1]));
        assert_eq!(m.fields()[2], OxmField::IpProto(6));
        assert_eq!(m.fields()[3], OxmField::TcpDst(Masked::exact(80)));
    }

    #[test]
    fn cidr_helpers_mask_or_go_exact() {
        let m = Match::new().ipv4_dst_net("10.1.2.0/24".parse().unwrap());
        assert_eq!(
            m.fields()[0],
            OxmField::Ipv4Dst(Masked::new(
                Ipv4Addr::new(10, 1, 2, 0),
                Ipv4Addr::new(255, 255, 255, 0)
            ))
        );
        let m = Match::new().ipv4_dst_net("10.1.2.3/32".parse().unwrap());
        assert_eq!(
            m.fields()[0],
            OxmField::Ipv4Dst(Masked::exact(Ipv4Addr::new(10, 1, 2, 3)))
        );
    }

    #[test]
    fn bad_register_index_is_an_error_not_a_panic() {
        let m = Match::new().reg(16, 1);
        let mut out = vec![0u8; m.buffer_len()];
        assert!(matches!(m.emit(&mut out), Err(Error::Unencodable { .. })));
    }

    #[test]
    fn nxm_header_constants_match_ovs() {
        // From the bytes ovs-ofctl emits for move:NXM_OF_ETH_SRC[]->NXM_OF_ETH_DST[]
        // and load:…->NXM_NX_REG3[].
        assert_eq!(NxmHeader::ETH_SRC.0, 0x0000_0406);
        assert_eq!(NxmHeader::ETH_DST.0, 0x0000_0206);
        assert_eq!(NxmHeader::reg(3).0, 0x0001_0604);
        assert_eq!(NxmHeader::reg(4).0, 0x0001_0804);
        assert_eq!(NxmHeader::ETH_SRC.n_bits(), 48);
    }
}
