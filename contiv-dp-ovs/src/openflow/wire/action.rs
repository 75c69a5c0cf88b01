//! Actions: the standard OpenFlow 1.3 set and the Nicira extensions the
//! pipeline needs.

use super::buf::{Reader, Writer, pad8};
use super::nx::{Ct, Nat, ofs_nbits, split_ofs_nbits};
use super::oxm::{NxmHeader, OxmField, OxmTlv};
use super::{Error, NX_EXPERIMENTER, Result, port_no};

/// A view of one action TLV: `type`, `len`, and for experimenter actions the
/// experimenter id and (Nicira) subtype.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ActionTlv<T: AsRef<[u8]>> {
    buffer: T,
}

impl<T: AsRef<[u8]>> ActionTlv<T> {
    /// Wraps a buffer without checking it.
    pub const fn new_unchecked(buffer: T) -> Self {
        ActionTlv { buffer }
    }

    /// Wraps a buffer and checks it with [`ActionTlv::check_len`].
    pub fn new_checked(buffer: T) -> Result<Self> {
        let a = Self::new_unchecked(buffer);
        a.check_len()?;
        Ok(a)
    }

    /// Checks that the 4-byte header is present, that `len` is a multiple of
    /// 8 of at least 8, and that the buffer holds `len` bytes.
    pub fn check_len(&self) -> Result<()> {
        let have = self.buffer.as_ref().len();
        if have < 4 {
            return Err(Error::Truncated {
                what: "action header",
                need: 4,
                have,
            });
        }
        let len = usize::from(self.length());
        if len < 8 || !len.is_multiple_of(8) {
            return Err(Error::Malformed {
                what: "action",
                why: "length is not a multiple of 8 of at least 8",
            });
        }
        if have < len {
            return Err(Error::Truncated {
                what: "action",
                need: len,
                have,
            });
        }
        Ok(())
    }

    /// The action type (`OFPAT_*`, 0xffff for experimenter).
    pub fn action_type(&self) -> u16 {
        let b = self.buffer.as_ref();
        u16::from_be_bytes([b[0], b[1]])
    }

    /// The action length, header included.
    pub fn length(&self) -> u16 {
        let b = self.buffer.as_ref();
        u16::from_be_bytes([b[2], b[3]])
    }

    /// The experimenter id of an experimenter action.
    pub fn experimenter(&self) -> Option<u32> {
        let b = self.buffer.as_ref();
        (self.action_type() == EXPERIMENTER && self.length() >= 8)
            .then(|| u32::from_be_bytes([b[4], b[5], b[6], b[7]]))
    }

    /// The Nicira subtype (`NXAST_*`) of a Nicira action.
    pub fn nx_subtype(&self) -> Option<u16> {
        let b = self.buffer.as_ref();
        (self.experimenter() == Some(NX_EXPERIMENTER) && self.length() >= 10)
            .then(|| u16::from_be_bytes([b[8], b[9]]))
    }

    /// Bytes after the 4-byte type/length header, up to `len`.
    pub fn payload(&self) -> &[u8] {
        &self.buffer.as_ref()[4..usize::from(self.length())]
    }
}

const EXPERIMENTER: u16 = 0xffff;

mod ofpat {
    pub const OUTPUT: u16 = 0;
    pub const COPY_TTL_OUT: u16 = 11;
    pub const COPY_TTL_IN: u16 = 12;
    pub const SET_MPLS_TTL: u16 = 15;
    pub const DEC_MPLS_TTL: u16 = 16;
    pub const PUSH_VLAN: u16 = 17;
    pub const POP_VLAN: u16 = 18;
    pub const PUSH_MPLS: u16 = 19;
    pub const POP_MPLS: u16 = 20;
    pub const SET_QUEUE: u16 = 21;
    pub const GROUP: u16 = 22;
    pub const SET_NW_TTL: u16 = 23;
    pub const DEC_NW_TTL: u16 = 24;
    pub const SET_FIELD: u16 = 25;
    pub const PUSH_PBB: u16 = 26;
    pub const POP_PBB: u16 = 27;
}

mod nxast {
    pub const RESUBMIT: u16 = 1;
    pub const REG_MOVE: u16 = 6;
    pub const REG_LOAD: u16 = 7;
    pub const NOTE: u16 = 8;
    pub const RESUBMIT_TABLE: u16 = 14;
    pub const CONTROLLER: u16 = 20;
    pub const CONJUNCTION: u16 = 34;
    pub const CT: u16 = 35;
    pub const NAT: u16 = 36;
    pub const CT_CLEAR: u16 = 43;
}

/// `NXAST_REG_MOVE`: copy `n_bits` bits from one field to another
/// (`move:NXM_OF_ETH_SRC[]->NXM_OF_ETH_DST[]`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct RegMove {
    /// Number of bits to copy.
    pub n_bits: u16,
    /// First source bit.
    pub src_ofs: u16,
    /// First destination bit.
    pub dst_ofs: u16,
    /// Source field.
    pub src: NxmHeader,
    /// Destination field.
    pub dst: NxmHeader,
}

impl RegMove {
    /// Copies the whole of `src` into `dst` (`move:SRC[]->DST[]`).
    pub fn whole(src: NxmHeader, dst: NxmHeader) -> RegMove {
        RegMove {
            n_bits: src.n_bits(),
            src_ofs: 0,
            dst_ofs: 0,
            src,
            dst,
        }
    }
}

/// `NXAST_REG_LOAD`: write an immediate value into bits of a field
/// (`load:0x5->NXM_NX_REG3[0..15]`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct RegLoad {
    /// First destination bit.
    pub ofs: u16,
    /// Number of bits (1..=64).
    pub n_bits: u16,
    /// Destination field.
    pub dst: NxmHeader,
    /// Value (its low `n_bits` bits are written).
    pub value: u64,
}

/// One action.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum Action {
    /// `output:<port>` (`max_len` matters only for the controller port).
    Output {
        /// Output port (see [`port_no`]).
        port: u32,
        /// Bytes to send to the controller.
        max_len: u16,
    },
    /// `copy_ttl_out`.
    CopyTtlOut,
    /// `copy_ttl_in`.
    CopyTtlIn,
    /// `set_mpls_ttl`.
    SetMplsTtl(u8),
    /// `dec_mpls_ttl`.
    DecMplsTtl,
    /// `push_vlan:<ethertype>`.
    PushVlan(u16),
    /// `pop_vlan`.
    PopVlan,
    /// `push_mpls:<ethertype>`.
    PushMpls(u16),
    /// `pop_mpls:<ethertype>`.
    PopMpls(u16),
    /// `set_queue:<id>`.
    SetQueue(u32),
    /// `group:<id>`.
    Group(u32),
    /// `set_nw_ttl`.
    SetNwTtl(u8),
    /// `dec_ttl`.
    DecNwTtl,
    /// `set_field:<value>-><field>` (any OXM field, unmasked in OF1.3).
    SetField(OxmField),
    /// `push_pbb`.
    PushPbb(u16),
    /// `pop_pbb`.
    PopPbb,
    /// `resubmit(<in_port>,<table>)` (`NXAST_RESUBMIT_TABLE`; plain
    /// `NXAST_RESUBMIT` parses with `table: None`).
    Resubmit {
        /// The 16-bit in_port to pretend; 0xfff8 (`OFPP_IN_PORT`) keeps it.
        in_port: u16,
        /// The table; `None` = the current table.
        table: Option<u8>,
    },
    /// `move:` (`NXAST_REG_MOVE`).
    RegMove(RegMove),
    /// `load:` (`NXAST_REG_LOAD`).
    RegLoad(RegLoad),
    /// `note:` — opaque bytes. On the wire the action is zero-padded to a
    /// multiple of 8 and the padding is part of the note when parsed back
    /// (OVS prints it too).
    Note(Vec<u8>),
    /// `conjunction(<id>, <clause+1>/<n_clauses>)`.
    Conjunction {
        /// Conjunction id (matched as `conj_id`).
        id: u32,
        /// 0-based clause index as on the wire (ovs-ofctl prints `clause+1`).
        clause: u8,
        /// Number of clauses (2..=64).
        n_clauses: u8,
    },
    /// `ct(...)`.
    Ct(Ct),
    /// `nat(...)` (inside `ct`).
    Nat(Nat),
    /// `controller(reason=…,id=…,max_len=…)` (`NXAST_CONTROLLER`).
    Controller {
        /// Bytes of the packet to send.
        max_len: u16,
        /// Controller connection id (0 = all).
        id: u16,
        /// Packet-in reason (see [`packet_in_reason`](super::packet_in_reason)).
        reason: u8,
    },
    /// `ct_clear`.
    CtClear,
    /// An action this codec does not model, kept verbatim.
    Unknown {
        /// The action type.
        action_type: u16,
        /// Bytes after the type/length header (experimenter id and padding
        /// included).
        payload: Vec<u8>,
    },
}

/// Nicira action header: type, len, experimenter, subtype.
const NX_HDR: usize = 10;

impl Action {
    /// `output:<port>`.
    pub fn output(port: u32) -> Action {
        Action::Output { port, max_len: 0 }
    }

    /// `output:CONTROLLER` sending the whole packet.
    pub fn to_controller() -> Action {
        Action::Output {
            port: port_no::CONTROLLER,
            max_len: super::CONTROLLER_MAX_LEN_NO_BUFFER,
        }
    }

    /// `resubmit(,<table>)`.
    pub fn resubmit(table: u8) -> Action {
        Action::Resubmit {
            in_port: 0xfff8,
            table: Some(table),
        }
    }

    /// `set_field:<value>-><field>`.
    pub fn set_field(f: OxmField) -> Action {
        Action::SetField(f)
    }

    /// `load:<value>->REG[ofs..ofs+n_bits-1]`.
    pub fn load(dst: NxmHeader, ofs: u16, n_bits: u16, value: u64) -> Action {
        Action::RegLoad(RegLoad {
            ofs,
            n_bits,
            dst,
            value,
        })
    }

    /// `move:SRC[]->DST[]`.
    pub fn move_field(src: NxmHeader, dst: NxmHeader) -> Action {
        Action::RegMove(RegMove::whole(src, dst))
    }

    /// `conjunction(id, k/n)` with `k` 1-based as ovs-ofctl writes it.
    pub fn conjunction(id: u32, k: u8, n: u8) -> Action {
        Action::Conjunction {
            id,
            clause: k.saturating_sub(1),
            n_clauses: n,
        }
    }

    /// Encoded size.
    pub fn buffer_len(&self) -> usize {
        use Action::*;
        match self {
            Output { .. } => 16,
            SetField(f) => pad8(4 + f.buffer_len()),
            Resubmit { .. } | Conjunction { .. } | Controller { .. } | CtClear => 16,
            RegMove(_) | RegLoad(_) => 24,
            Note(n) => pad8(NX_HDR + n.len()),
            Ct(ct) => ct.buffer_len(),
            Nat(n) => n.buffer_len(),
            Unknown { payload, .. } => 4 + payload.len(),
            _ => 8,
        }
    }

    fn nx_header(w: &mut Writer<'_>, len: usize, subtype: u16) -> Result<()> {
        w.u16(EXPERIMENTER)?;
        w.len16(len)?;
        w.u32(NX_EXPERIMENTER)?;
        w.u16(subtype)
    }

    pub(crate) fn write(&self, w: &mut Writer<'_>) -> Result<()> {
        use Action::*;
        let len = self.buffer_len();
        let simple = |w: &mut Writer<'_>, t: u16| -> Result<()> {
            w.u16(t)?;
            w.u16(8)
        };
        match self {
            Output { port, max_len } => {
                w.u16(ofpat::OUTPUT)?;
                w.u16(16)?;
                w.u32(*port)?;
                w.u16(*max_len)?;
                w.zeros(6)
            }
            CopyTtlOut => {
                simple(w, ofpat::COPY_TTL_OUT)?;
                w.zeros(4)
            }
            CopyTtlIn => {
                simple(w, ofpat::COPY_TTL_IN)?;
                w.zeros(4)
            }
            SetMplsTtl(t) => {
                simple(w, ofpat::SET_MPLS_TTL)?;
                w.u8(*t)?;
                w.zeros(3)
            }
            DecMplsTtl => {
                simple(w, ofpat::DEC_MPLS_TTL)?;
                w.zeros(4)
            }
            PushVlan(e) | PushMpls(e) | PopMpls(e) | PushPbb(e) => {
                let t = match self {
                    PushVlan(_) => ofpat::PUSH_VLAN,
                    PushMpls(_) => ofpat::PUSH_MPLS,
                    PopMpls(_) => ofpat::POP_MPLS,
                    _ => ofpat::PUSH_PBB,
                };
                simple(w, t)?;
                w.u16(*e)?;
                w.zeros(2)
            }
            PopVlan => {
                simple(w, ofpat::POP_VLAN)?;
                w.zeros(4)
            }
            PopPbb => {
                simple(w, ofpat::POP_PBB)?;
                w.zeros(4)
            }
            SetQueue(q) => {
                simple(w, ofpat::SET_QUEUE)?;
                w.u32(*q)
            }
            Group(g) => {
                simple(w, ofpat::GROUP)?;
                w.u32(*g)
            }
            SetNwTtl(t) => {
                simple(w, ofpat::SET_NW_TTL)?;
                w.u8(*t)?;
                w.zeros(3)
            }
            DecNwTtl => {
                simple(w, ofpat::DEC_NW_TTL)?;
                w.zeros(4)
            }
            SetField(f) => {
                w.u16(ofpat::SET_FIELD)?;
                w.len16(len)?;
                f.write(w)?;
                w.zeros(len - 4 - f.buffer_len())
            }
            Resubmit { in_port, table } => {
                Self::nx_header(w, len, nxast::RESUBMIT_TABLE)?;
                w.u16(*in_port)?;
                w.u8(table.unwrap_or(0xff))?;
                w.zeros(3)
            }
            RegMove(m) => {
                Self::nx_header(w, len, nxast::REG_MOVE)?;
                w.u16(m.n_bits)?;
                w.u16(m.src_ofs)?;
                w.u16(m.dst_ofs)?;
                w.u32(m.src.0)?;
                w.u32(m.dst.0)
            }
            RegLoad(l) => {
                Self::nx_header(w, len, nxast::REG_LOAD)?;
                w.u16(ofs_nbits(l.ofs, l.n_bits, "load action")?)?;
                w.u32(l.dst.0)?;
                w.u64(l.value)
            }
            Note(n) => {
                Self::nx_header(w, len, nxast::NOTE)?;
                w.bytes(n)?;
                w.zeros(len - NX_HDR - n.len())
            }
            Conjunction {
                id,
                clause,
                n_clauses,
            } => {
                Self::nx_header(w, len, nxast::CONJUNCTION)?;
                w.u8(*clause)?;
                w.u8(*n_clauses)?;
                w.u32(*id)
            }
            Ct(ct) => {
                Self::nx_header(w, len, nxast::CT)?;
                ct.write_body(w)
            }
            Nat(n) => {
                Self::nx_header(w, len, nxast::NAT)?;
                n.write_body(w)
            }
            Controller {
                max_len,
                id,
                reason,
            } => {
                Self::nx_header(w, len, nxast::CONTROLLER)?;
                w.u16(*max_len)?;
                w.u16(*id)?;
                w.u8(*reason)?;
                w.zeros(1)
            }
            CtClear => {
                Self::nx_header(w, len, nxast::CT_CLEAR)?;
                w.zeros(6)
            }
            Unknown {
                action_type,
                payload,
            } => {
                if !len.is_multiple_of(8) {
                    return Err(Error::Unencodable {
                        what: "unknown action",
                        why: "4 + payload length must be a multiple of 8",
                    });
                }
                w.u16(*action_type)?;
                w.len16(len)?;
                w.bytes(payload)
            }
        }
    }

    /// Emits the action into `buf` (at least [`Action::buffer_len`] bytes).
    pub fn emit(&self, buf: &mut [u8]) -> Result<()> {
        self.write(&mut Writer::new(buf))
    }

    /// Parses the action a view holds. Actions with an unknown type, an
    /// unknown experimenter or Nicira subtype, or an unexpected length for
    /// their type become [`Action::Unknown`].
    pub fn parse<T: AsRef<[u8]>>(tlv: &ActionTlv<T>) -> Result<Action> {
        tlv.check_len()?;
        let unknown = || Action::Unknown {
            action_type: tlv.action_type(),
            payload: tlv.payload().to_vec(),
        };
        let len = usize::from(tlv.length());
        let mut r = Reader::new(tlv.payload(), "action");
        let t = tlv.action_type();
        let fixed = |want: usize| len == want;
        let a = match t {
            ofpat::OUTPUT if fixed(16) => {
                let port = r.u32()?;
                let max_len = r.u16()?;
                Action::Output { port, max_len }
            }
            ofpat::COPY_TTL_OUT if fixed(8) => Action::CopyTtlOut,
            ofpat::COPY_TTL_IN if fixed(8) => Action::CopyTtlIn,
            ofpat::SET_MPLS_TTL if fixed(8) => Action::SetMplsTtl(r.u8()?),
            ofpat::DEC_MPLS_TTL if fixed(8) => Action::DecMplsTtl,
            ofpat::PUSH_VLAN if fixed(8) => Action::PushVlan(r.u16()?),
            ofpat::POP_VLAN if fixed(8) => Action::PopVlan,
            ofpat::PUSH_MPLS if fixed(8) => Action::PushMpls(r.u16()?),
            ofpat::POP_MPLS if fixed(8) => Action::PopMpls(r.u16()?),
            ofpat::SET_QUEUE if fixed(8) => Action::SetQueue(r.u32()?),
            ofpat::GROUP if fixed(8) => Action::Group(r.u32()?),
            ofpat::SET_NW_TTL if fixed(8) => Action::SetNwTtl(r.u8()?),
            ofpat::DEC_NW_TTL if fixed(8) => Action::DecNwTtl,
            ofpat::PUSH_PBB if fixed(8) => Action::PushPbb(r.u16()?),
            ofpat::POP_PBB if fixed(8) => Action::PopPbb,
            ofpat::SET_FIELD => {
                let oxm = OxmTlv::new_checked(r.rest())?;
                if pad8(4 + oxm.total_len()) != len {
                    return Ok(unknown());
                }
                Action::SetField(OxmField::parse(&oxm)?)
            }
            EXPERIMENTER => match tlv.nx_subtype() {
                Some(sub) => {
                    r.skip(6)?; // experimenter + subtype
                    match Self::parse_nx(sub, len, &mut r)? {
                        Some(a) => a,
                        None => unknown(),
                    }
                }
                None => unknown(),
            },
            _ => unknown(),
        };
        Ok(a)
    }

    fn parse_nx(sub: u16, len: usize, r: &mut Reader<'_>) -> Result<Option<Action>> {
        let a = match (sub, len) {
            (nxast::RESUBMIT, 16) => Action::Resubmit {
                in_port: r.u16()?,
                table: None,
            },
            (nxast::RESUBMIT_TABLE, 16) => {
                let in_port = r.u16()?;
                let t = r.u8()?;
                Action::Resubmit {
                    in_port,
                    table: (t != 0xff).then_some(t),
                }
            }
            (nxast::REG_MOVE, 24) => Action::RegMove(RegMove {
                n_bits: r.u16()?,
                src_ofs: r.u16()?,
                dst_ofs: r.u16()?,
                src: NxmHeader(r.u32()?),
                dst: NxmHeader(r.u32()?),
            }),
            (nxast::REG_LOAD, 24) => {
                let (ofs, n_bits) = split_ofs_nbits(r.u16()?);
                Action::RegLoad(RegLoad {
                    ofs,
                    n_bits,
                    dst: NxmHeader(r.u32()?),
                    value: r.u64()?,
                })
            }
            (nxast::NOTE, _) => Action::Note(r.rest().to_vec()),
            (nxast::CONJUNCTION, 16) => {
                let clause = r.u8()?;
                let n_clauses = r.u8()?;
                Action::Conjunction {
                    id: r.u32()?,
                    clause,
                    n_clauses,
                }
            }
            (nxast::CT, l) if l >= Ct::FIXED_LEN => Action::Ct(Ct::read_body(r)?),
            (nxast::NAT, l) if l >= 16 => {
                let nat = Nat::read_body(r)?;
                if nat.buffer_len() != len {
                    return Ok(None);
                }
                Action::Nat(nat)
            }
            (nxast::CONTROLLER, 16) => {
                let max_len = r.u16()?;
                let id = r.u16()?;
                Action::Controller {
                    max_len,
                    id,
                    reason: r.u8()?,
                }
            }
            (nxast::CT_CLEAR, 16) => Action::CtClear,
            _ => return Ok(None),
        };
        Ok(Some(a))
    }

    /// Parses a list of back-to-back actions filling `buf`.
    pub fn read_list(buf: &[u8]) -> Result<Vec<Action>> {
        Self::read_list_inner(buf, true)
    }

    /// Parses the actions nested in a `ct`: a nested `ct` is not valid
    /// there (OVS rejects it) and is kept as [`Action::Unknown`], which also
    /// bounds the decoder's recursion.
    pub(crate) fn read_nested_list(buf: &[u8]) -> Result<Vec<Action>> {
        Self::read_list_inner(buf, false)
    }

    fn read_list_inner(mut buf: &[u8], allow_ct: bool) -> Result<Vec<Action>> {
        let mut out = Vec::new();
        while !buf.is_empty() {
            let tlv = ActionTlv::new_checked(buf)?;
            let n = usize::from(tlv.length());
            let a = if !allow_ct && tlv.nx_subtype() == Some(nxast::CT) {
                Action::Unknown {
                    action_type: tlv.action_type(),
                    payload: tlv.payload().to_vec(),
                }
            } else {
                Action::parse(&tlv)?
            };
            out.push(a);
            buf = &buf[n..];
        }
        Ok(out)
    }

    /// Encoded size of a list of actions.
    pub fn list_len(actions: &[Action]) -> usize {
        actions.iter().map(Action::buffer_len).sum()
    }

    pub(crate) fn write_list(actions: &[Action], w: &mut Writer<'_>) -> Result<()> {
        actions.iter().try_for_each(|a| a.write(w))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::openflow::wire::{CtZone, MacAddr, Masked};
    use std::net::Ipv4Addr;

    fn hex(s: &str) -> Vec<u8> {
        let s: String = s.chars().filter(|c| !c.is_whitespace()).collect();
        (0..s.len())
            .step_by(2)
            .map(|i| u8::from_str_radix(&s[i..i + 2], 16).unwrap())
            .collect()
    }

    fn emit_list(a: &[Action]) -> Vec<u8> {
        let mut out = vec![0u8; Action::list_len(a)];
        Action::write_list(a, &mut Writer::new(&mut out)).unwrap();
        out
    }

    /// Bytes captured from `ovs-ofctl -O OpenFlow13 add-flow` for
    /// `resubmit(,5),move:NXM_OF_ETH_SRC[]->NXM_OF_ETH_DST[],
    /// load:0x5->NXM_NX_REG3[0..15],controller(reason=no_match,id=3,max_len=128),
    /// note:01.02.03,set_field:5->reg1,load:0x5->NXM_NX_REG2[0..7],
    /// set_field:7->tun_id,push_vlan:0x8100,pop_vlan,set_queue:3,output:5,ct_clear,dec_ttl`.
    const OVS_ACTIONS: &str = "ffff001000002320000efff805000000\
        ffff0018000023200006003000000000000004060000 0206\
        ffff0018000023200007000f000106040000000000000005\
        ffff0010000023200014008000030000\
        ffff0010000023200008010203000000\
        0019001000010204000000050000 0000\
        ffff0018000023200007000700010404 0000000000000005\
        0019001080004c080000000000000007\
        0011000881000000 0012000800000000 0015000800000003\
        00000010000000050000000000000000\
        ffff001000002320002b000000000000\
        0018000800000000";

    fn ovs_actions_repr() -> Vec<Action> {
        vec![
            Action::resubmit(5),
            Action::move_field(NxmHeader::ETH_SRC, NxmHeader::ETH_DST),
            Action::load(NxmHeader::reg(3), 0, 16, 5),
            Action::Controller {
                max_len: 128,
                id: 3,
                reason: 0,
            },
            Action::Note(vec![1, 2, 3, 0, 0, 0]),
            Action::SetField(OxmField::Reg {
                index: 1,
                value: Masked::exact(5),
            }),
            Action::load(NxmHeader::reg(2), 0, 8, 5),
            Action::SetField(OxmField::TunnelId(Masked::exact(7))),
            Action::PushVlan(0x8100),
            Action::PopVlan,
            Action::SetQueue(3),
            Action::output(5),
            Action::CtClear,
            Action::DecNwTtl,
        ]
    }

    #[test]
    fn ovs_action_bytes_parse_and_reemit_identically() {
        let b = hex(OVS_ACTIONS);
        let parsed = Action::read_list(&b).unwrap();
        assert_eq!(parsed, ovs_actions_repr());
        assert_eq!(emit_list(&parsed), b);
    }

    #[test]
    fn ct_with_nat_matches_ovs_bytes() {
        // ct(commit,zone=5,table=3,nat(src=10.0.0.1-10.0.0.5:100-200))
        let b = hex("ffff00380000232000230001000000000005030000000000\
             ffff00200000232000240000000100330a0000010a000005006400c800000000");
        let ct = Ct::new()
            .commit()
            .zone(CtZone::Imm(5))
            .table(3)
            .action(Action::Nat(
                Nat::snat(Ipv4Addr::new(10, 0, 0, 1))
                    .ipv4_range_to(Ipv4Addr::new(10, 0, 0, 5))
                    .ports(100, 200),
            ));
        let a = vec![Action::Ct(ct)];
        assert_eq!(Action::read_list(&b).unwrap(), a);
        assert_eq!(emit_list(&a), b);
    }

    #[test]
    fn ct_zone_from_register_and_exec_matches_ovs_bytes() {
        // ct(commit,force,zone=NXM_NX_REG4[0..15],alg=ftp,exec(set_field:0x1->ct_mark))
        let b = hex("ffff0028000023200023000300010804000fff0000000015\
             001900100001d6040000000100000000");
        let ct = Ct {
            flags: 3,
            zone: CtZone::Field {
                field: NxmHeader::reg(4),
                ofs: 0,
                n_bits: 16,
            },
            recirc_table: None,
            alg: 21,
            actions: vec![Action::SetField(OxmField::CtMark(Masked::exact(1)))],
        };
        assert_eq!(Action::read_list(&b).unwrap(), vec![Action::Ct(ct.clone())]);
        assert_eq!(emit_list(&[Action::Ct(ct)]), b);
    }

    #[test]
    fn conjunction_matches_ovs_bytes() {
        // conjunction(12,1/2)
        let b = hex("ffff001000002320002200020000000c");
        let a = vec![Action::conjunction(12, 1, 2)];
        assert_eq!(Action::read_list(&b).unwrap(), a);
        assert_eq!(emit_list(&a), b);
    }

    #[test]
    fn set_field_mac_matches_ovs_bytes() {
        // set_field:02:00:0a:aa:bb:cc->eth_dst
        let b = hex("00190010800006060200 0aaabbcc0000");
        let a = vec![Action::SetField(OxmField::EthDst(Masked::exact(MacAddr(
            [2, 0, 0x0a, 0xaa, 0xbb, 0xcc],
        ))))];
        assert_eq!(Action::read_list(&b).unwrap(), a);
        assert_eq!(emit_list(&a), b);
    }

    #[test]
    fn unknown_nicira_subtype_is_kept() {
        // NXAST_EXIT (17), 16 bytes.
        let b = hex("ffff0010000023200011000000000000");
        let a = Action::read_list(&b).unwrap();
        assert!(matches!(
            &a[0],
            Action::Unknown {
                action_type: 0xffff,
                ..
            }
        ));
        assert_eq!(emit_list(&a), b);
    }

    #[test]
    fn bad_lengths_are_errors() {
        assert!(Action::read_list(&hex("0000000c00000001")).is_err()); // len 12
        assert!(Action::read_list(&hex("00000010000000010000")).is_err()); // short
        assert!(Action::read_list(&hex("00000000")).is_err()); // len 0
    }
}
