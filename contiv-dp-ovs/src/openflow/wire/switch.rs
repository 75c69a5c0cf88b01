//! Session messages: hello (version negotiation), features, switch config
//! and role.

use super::buf::{Reader, Writer, pad8};
use super::{Error, OFP_VERSION, Result};

/// `OFPHET_VERSIONBITMAP`.
const HELLO_ELEM_VERSIONBITMAP: u16 = 1;

/// `OFPT_HELLO`. The header's version byte travels in `version`; the
/// version bitmap element (if any) in `bitmaps` (bit N of word 0 = version
/// N, as in the spec).
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct Hello {
    /// The header version: the highest version the sender speaks.
    pub version: u8,
    /// Words of the `OFPHET_VERSIONBITMAP` element; empty = no element.
    pub bitmaps: Vec<u32>,
}

impl Default for Hello {
    fn default() -> Self {
        Hello::v13()
    }
}

impl Hello {
    /// A hello that offers OpenFlow 1.3 only.
    pub fn v13() -> Hello {
        Hello {
            version: OFP_VERSION,
            bitmaps: vec![1 << OFP_VERSION],
        }
    }

    /// Whether the sender of this hello supports `version`.
    pub fn supports(&self, version: u8) -> bool {
        if self.bitmaps.is_empty() {
            return version <= self.version;
        }
        let word = usize::from(version / 32);
        self.bitmaps
            .get(word)
            .is_some_and(|w| w & (1 << (version % 32)) != 0)
    }

    /// The version both sides speak, per OpenFlow's negotiation rules: the
    /// highest version in both bitmaps, or without bitmaps the smaller of
    /// the two header versions if both support it.
    pub fn negotiate(&self, ours: &Hello) -> Option<u8> {
        let top = self.version.max(ours.version);
        (1..=top)
            .rev()
            .find(|v| self.supports(*v) && ours.supports(*v))
    }

    /// Body size.
    pub fn body_len(&self) -> usize {
        if self.bitmaps.is_empty() {
            0
        } else {
            pad8(4 + 4 * self.bitmaps.len())
        }
    }

    pub(crate) fn write_body(&self, w: &mut Writer<'_>) -> Result<()> {
        if self.bitmaps.is_empty() {
            return Ok(());
        }
        let len = 4 + 4 * self.bitmaps.len();
        w.u16(HELLO_ELEM_VERSIONBITMAP)?;
        w.len16(len)?;
        for b in &self.bitmaps {
            w.u32(*b)?;
        }
        w.zeros(pad8(len) - len)
    }

    pub(crate) fn read_body(version: u8, r: &mut Reader<'_>) -> Result<Hello> {
        let mut bitmaps = Vec::new();
        while r.remaining() >= 4 {
            let t = r.u16()?;
            let len = usize::from(r.u16()?);
            if len < 4 {
                return Err(Error::Malformed {
                    what: "hello element",
                    why: "element length is smaller than its 4-byte header",
                });
            }
            let body = r.bytes(len - 4)?;
            r.skip((pad8(len) - len).min(r.remaining()))?;
            if t == HELLO_ELEM_VERSIONBITMAP && bitmaps.is_empty() {
                let mut br = Reader::new(body, "hello version bitmap");
                while br.remaining() >= 4 {
                    bitmaps.push(br.u32()?);
                }
            }
        }
        Ok(Hello { version, bitmaps })
    }
}

/// `OFPT_FEATURES_REPLY`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
pub struct FeaturesReply {
    /// Datapath id (low 48 bits usually the bridge MAC).
    pub datapath_id: u64,
    /// Packets the switch can buffer.
    pub n_buffers: u32,
    /// Number of flow tables.
    pub n_tables: u8,
    /// Auxiliary connection id (0 = main connection).
    pub auxiliary_id: u8,
    /// `OFPC_*` capability bits.
    pub capabilities: u32,
    /// Reserved.
    pub reserved: u32,
}

impl FeaturesReply {
    /// Body size.
    pub const BODY_LEN: usize = 24;

    pub(crate) fn write_body(&self, w: &mut Writer<'_>) -> Result<()> {
        w.u64(self.datapath_id)?;
        w.u32(self.n_buffers)?;
        w.u8(self.n_tables)?;
        w.u8(self.auxiliary_id)?;
        w.zeros(2)?;
        w.u32(self.capabilities)?;
        w.u32(self.reserved)
    }

    pub(crate) fn read_body(r: &mut Reader<'_>) -> Result<FeaturesReply> {
        let datapath_id = r.u64()?;
        let n_buffers = r.u32()?;
        let n_tables = r.u8()?;
        let auxiliary_id = r.u8()?;
        r.skip(2)?;
        Ok(FeaturesReply {
            datapath_id,
            n_buffers,
            n_tables,
            auxiliary_id,
            capabilities: r.u32()?,
            reserved: r.u32()?,
        })
    }
}

/// Body of `OFPT_GET_CONFIG_REPLY` / `OFPT_SET_CONFIG`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
pub struct SwitchConfig {
    /// `OFPC_FRAG_*` bits.
    pub flags: u16,
    /// Bytes of a table-miss packet sent to the controller (0xffff = all).
    pub miss_send_len: u16,
}

impl SwitchConfig {
    /// Body size.
    pub const BODY_LEN: usize = 4;

    pub(crate) fn write_body(&self, w: &mut Writer<'_>) -> Result<()> {
        w.u16(self.flags)?;
        w.u16(self.miss_send_len)
    }

    pub(crate) fn read_body(r: &mut Reader<'_>) -> Result<SwitchConfig> {
        Ok(SwitchConfig {
            flags: r.u16()?,
            miss_send_len: r.u16()?,
        })
    }
}

/// Controller roles.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Role {
    /// Query the current role.
    NoChange,
    /// Full access, shared with other equal controllers.
    Equal,
    /// Full access; others become slaves.
    Master,
    /// Read-only access.
    Slave,
    /// A role number this codec does not know.
    Other(u32),
}

impl Role {
    fn to_u32(self) -> u32 {
        match self {
            Role::NoChange => 0,
            Role::Equal => 1,
            Role::Master => 2,
            Role::Slave => 3,
            Role::Other(v) => v,
        }
    }
    fn from_u32(v: u32) -> Self {
        match v {
            0 => Role::NoChange,
            1 => Role::Equal,
            2 => Role::Master,
            3 => Role::Slave,
            v => Role::Other(v),
        }
    }
}

/// Body of `OFPT_ROLE_REQUEST` / `OFPT_ROLE_REPLY`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct RoleRequest {
    /// The requested (or granted) role.
    pub role: Role,
    /// Master election generation id.
    pub generation_id: u64,
}

impl RoleRequest {
    /// Body size.
    pub const BODY_LEN: usize = 16;

    pub(crate) fn write_body(&self, w: &mut Writer<'_>) -> Result<()> {
        w.u32(self.role.to_u32())?;
        w.zeros(4)?;
        w.u64(self.generation_id)
    }

    pub(crate) fn read_body(r: &mut Reader<'_>) -> Result<RoleRequest> {
        let role = Role::from_u32(r.u32()?);
        r.skip(4)?;
        Ok(RoleRequest {
            role,
            generation_id: r.u64()?,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn negotiation_picks_highest_common_version() {
        // OVS with protocols=OpenFlow10,OpenFlow13 sends version 4, bitmap 0x12.
        let ovs = Hello {
            version: 4,
            bitmaps: vec![0x12],
        };
        assert_eq!(ovs.negotiate(&Hello::v13()), Some(4));
        // An OF1.5 switch without a bitmap: 1.3 is implied.
        let old = Hello {
            version: 6,
            bitmaps: vec![],
        };
        assert_eq!(old.negotiate(&Hello::v13()), Some(4));
        // OF1.0-only switch: nothing in common.
        let of10 = Hello {
            version: 1,
            bitmaps: vec![0x02],
        };
        assert_eq!(of10.negotiate(&Hello::v13()), None);
    }
}
