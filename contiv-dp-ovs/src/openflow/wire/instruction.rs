//! Flow instructions (`ofp_instruction`).

use super::buf::{Reader, Writer};
use super::{Action, Error, Result};

/// A view of one instruction TLV (`type`, `len`, body).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct InstructionTlv<T: AsRef<[u8]>> {
    buffer: T,
}

impl<T: AsRef<[u8]>> InstructionTlv<T> {
    /// Wraps a buffer without checking it.
    pub const fn new_unchecked(buffer: T) -> Self {
        InstructionTlv { buffer }
    }

    /// Wraps a buffer and checks it with [`InstructionTlv::check_len`].
    pub fn new_checked(buffer: T) -> Result<Self> {
        let i = Self::new_unchecked(buffer);
        i.check_len()?;
        Ok(i)
    }

    /// Checks the header is present, `len` is a multiple of 8 of at least 8
    /// and the buffer holds `len` bytes.
    pub fn check_len(&self) -> Result<()> {
        let have = self.buffer.as_ref().len();
        if have < 4 {
            return Err(Error::Truncated {
                what: "instruction header",
                need: 4,
                have,
            });
        }
        let len = usize::from(self.length());
        if len < 8 || !len.is_multiple_of(8) {
            return Err(Error::Malformed {
                what: "instruction",
                why: "length is not a multiple of 8 of at least 8",
            });
        }
        if have < len {
            return Err(Error::Truncated {
                what: "instruction",
                need: len,
                have,
            });
        }
        Ok(())
    }

    /// `OFPIT_*` type.
    pub fn instruction_type(&self) -> u16 {
        let b = self.buffer.as_ref();
        u16::from_be_bytes([b[0], b[1]])
    }

    /// Length, header included.
    pub fn length(&self) -> u16 {
        let b = self.buffer.as_ref();
        u16::from_be_bytes([b[2], b[3]])
    }

    /// Bytes after the 4-byte header, up to `len`.
    pub fn payload(&self) -> &[u8] {
        &self.buffer.as_ref()[4..usize::from(self.length())]
    }
}

mod ofpit {
    pub const GOTO_TABLE: u16 = 1;
    pub const WRITE_METADATA: u16 = 2;
    pub const WRITE_ACTIONS: u16 = 3;
    pub const APPLY_ACTIONS: u16 = 4;
    pub const CLEAR_ACTIONS: u16 = 5;
    pub const METER: u16 = 6;
}

/// One instruction of a flow entry.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum Instruction {
    /// `goto_table:<n>`.
    GotoTable(u8),
    /// `write_metadata:<value>/<mask>`.
    WriteMetadata {
        /// Value.
        value: u64,
        /// Mask (all ones = the whole field).
        mask: u64,
    },
    /// `write_actions(...)`: add to the action set.
    WriteActions(Vec<Action>),
    /// Apply these actions now (`actions=…` in ovs-ofctl).
    ApplyActions(Vec<Action>),
    /// `clear_actions`.
    ClearActions,
    /// `meter:<id>`.
    Meter(u32),
    /// An instruction this codec does not model, kept verbatim.
    Unknown {
        /// The instruction type.
        instruction_type: u16,
        /// Bytes after the type/length header.
        payload: Vec<u8>,
    },
}

impl Instruction {
    /// Encoded size.
    pub fn buffer_len(&self) -> usize {
        match self {
            Instruction::GotoTable(_) | Instruction::Meter(_) | Instruction::ClearActions => 8,
            Instruction::WriteMetadata { .. } => 24,
            Instruction::WriteActions(a) | Instruction::ApplyActions(a) => 8 + Action::list_len(a),
            Instruction::Unknown { payload, .. } => 4 + payload.len(),
        }
    }

    pub(crate) fn write(&self, w: &mut Writer<'_>) -> Result<()> {
        let len = self.buffer_len();
        match self {
            Instruction::GotoTable(t) => {
                w.u16(ofpit::GOTO_TABLE)?;
                w.u16(8)?;
                w.u8(*t)?;
                w.zeros(3)
            }
            Instruction::WriteMetadata { value, mask } => {
                w.u16(ofpit::WRITE_METADATA)?;
                w.u16(24)?;
                w.zeros(4)?;
                w.u64(*value)?;
                w.u64(*mask)
            }
            Instruction::WriteActions(a) | Instruction::ApplyActions(a) => {
                let t = if matches!(self, Instruction::WriteActions(_)) {
                    ofpit::WRITE_ACTIONS
                } else {
                    ofpit::APPLY_ACTIONS
                };
                w.u16(t)?;
                w.len16(len)?;
                w.zeros(4)?;
                Action::write_list(a, w)
            }
            Instruction::ClearActions => {
                w.u16(ofpit::CLEAR_ACTIONS)?;
                w.u16(8)?;
                w.zeros(4)
            }
            Instruction::Meter(m) => {
                w.u16(ofpit::METER)?;
                w.u16(8)?;
                w.u32(*m)
            }
            Instruction::Unknown {
                instruction_type,
                payload,
            } => {
                if !len.is_multiple_of(8) {
                    return Err(Error::Unencodable {
                        what: "unknown instruction",
                        why: "4 + payload length must be a multiple of 8",
                    });
                }
                w.u16(*instruction_type)?;
                w.len16(len)?;
                w.bytes(payload)
            }
        }
    }

    /// Emits the instruction into `buf` (at least `buffer_len()` bytes).
    pub fn emit(&self, buf: &mut [u8]) -> Result<()> {
        self.write(&mut Writer::new(buf))
    }

    /// Parses the instruction a view holds; unknown types or unexpected
    /// lengths become [`Instruction::Unknown`].
    pub fn parse<T: AsRef<[u8]>>(tlv: &InstructionTlv<T>) -> Result<Instruction> {
        tlv.check_len()?;
        let len = tlv.length();
        let mut r = Reader::new(tlv.payload(), "instruction");
        Ok(match (tlv.instruction_type(), len) {
            (ofpit::GOTO_TABLE, 8) => Instruction::GotoTable(r.u8()?),
            (ofpit::WRITE_METADATA, 24) => {
                r.skip(4)?;
                Instruction::WriteMetadata {
                    value: r.u64()?,
                    mask: r.u64()?,
                }
            }
            (ofpit::WRITE_ACTIONS, _) => {
                r.skip(4)?;
                Instruction::WriteActions(Action::read_list(r.rest())?)
            }
            (ofpit::APPLY_ACTIONS, _) => {
                r.skip(4)?;
                Instruction::ApplyActions(Action::read_list(r.rest())?)
            }
            (ofpit::CLEAR_ACTIONS, 8) => Instruction::ClearActions,
            (ofpit::METER, 8) => Instruction::Meter(r.u32()?),
            (t, _) => Instruction::Unknown {
                instruction_type: t,
                payload: tlv.payload().to_vec(),
            },
        })
    }

    /// Parses back-to-back instructions filling `buf`.
    pub fn read_list(mut buf: &[u8]) -> Result<Vec<Instruction>> {
        let mut out = Vec::new();
        while !buf.is_empty() {
            let tlv = InstructionTlv::new_checked(buf)?;
            let n = usize::from(tlv.length());
            out.push(Instruction::parse(&tlv)?);
            buf = &buf[n..];
        }
        Ok(out)
    }

    /// Encoded size of a list.
    pub fn list_len(list: &[Instruction]) -> usize {
        list.iter().map(Instruction::buffer_len).sum()
    }

    pub(crate) fn write_list(list: &[Instruction], w: &mut Writer<'_>) -> Result<()> {
        list.iter().try_for_each(|i| i.write(w))
    }
}
