//! `ofp_port` descriptions and `OFPT_PORT_STATUS`.

use super::buf::{Reader, Writer};
use super::{Error, MacAddr, Result};

/// Maximum port name length on the wire (16 bytes, NUL-terminated).
const NAME_LEN: usize = 16;

/// A port description (`ofp_port`).
#[derive(Debug, Clone, PartialEq, Eq, Hash, Default)]
pub struct Port {
    /// OpenFlow port number.
    pub port_no: u32,
    /// Ethernet address.
    pub hw_addr: MacAddr,
    /// Interface name (at most 15 bytes).
    pub name: String,
    /// `OFPPC_*` bits (1 = port down administratively).
    pub config: u32,
    /// `OFPPS_*` bits (1 = link down).
    pub state: u32,
    /// Current features.
    pub curr: u32,
    /// Advertised features.
    pub advertised: u32,
    /// Supported features.
    pub supported: u32,
    /// Features advertised by the peer.
    pub peer: u32,
    /// Current speed in kbps.
    pub curr_speed: u32,
    /// Maximum speed in kbps.
    pub max_speed: u32,
}

impl Port {
    /// Encoded size of `ofp_port`.
    pub const LEN: usize = 64;

    /// Whether the link is up and the port is not administratively down.
    pub fn is_up(&self) -> bool {
        self.config & 1 == 0 && self.state & 1 == 0
    }

    pub(crate) fn write(&self, w: &mut Writer<'_>) -> Result<()> {
        let name = self.name.as_bytes();
        if name.len() >= NAME_LEN || name.contains(&0) {
            return Err(Error::Unencodable {
                what: "port description",
                why: "port name must be at most 15 bytes without NUL",
            });
        }
        w.u32(self.port_no)?;
        w.zeros(4)?;
        w.bytes(&self.hw_addr.0)?;
        w.zeros(2)?;
        w.bytes(name)?;
        w.zeros(NAME_LEN - name.len())?;
        for v in [
            self.config,
            self.state,
            self.curr,
            self.advertised,
            self.supported,
            self.peer,
            self.curr_speed,
            self.max_speed,
        ] {
            w.u32(v)?;
        }
        Ok(())
    }

    pub(crate) fn read(r: &mut Reader<'_>) -> Result<Port> {
        let port_no = r.u32()?;
        r.skip(4)?;
        let hw_addr = MacAddr(r.array()?);
        r.skip(2)?;
        let raw = r.bytes(NAME_LEN)?;
        let end = raw.iter().position(|b| *b == 0).unwrap_or(NAME_LEN);
        let name = String::from_utf8_lossy(&raw[..end]).into_owned();
        Ok(Port {
            port_no,
            hw_addr,
            name,
            config: r.u32()?,
            state: r.u32()?,
            curr: r.u32()?,
            advertised: r.u32()?,
            supported: r.u32()?,
            peer: r.u32()?,
            curr_speed: r.u32()?,
            max_speed: r.u32()?,
        })
    }
}

/// Why a port-status message was sent.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum PortStatusReason {
    /// The port was added.
    Add,
    /// The port was removed.
    Delete,
    /// Some attribute changed.
    Modify,
    /// A reason number this codec does not know.
    Other(u8),
}

impl PortStatusReason {
    fn to_u8(self) -> u8 {
        match self {
            PortStatusReason::Add => 0,
            PortStatusReason::Delete => 1,
            PortStatusReason::Modify => 2,
            PortStatusReason::Other(v) => v,
        }
    }
    fn from_u8(v: u8) -> Self {
        match v {
            0 => PortStatusReason::Add,
            1 => PortStatusReason::Delete,
            2 => PortStatusReason::Modify,
            v => PortStatusReason::Other(v),
        }
    }
}

/// `OFPT_PORT_STATUS`.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct PortStatus {
    /// Why.
    pub reason: PortStatusReason,
    /// The port.
    pub desc: Port,
}

impl PortStatus {
    /// Body size.
    pub const BODY_LEN: usize = 8 + Port::LEN;

    pub(crate) fn write_body(&self, w: &mut Writer<'_>) -> Result<()> {
        w.u8(self.reason.to_u8())?;
        w.zeros(7)?;
        self.desc.write(w)
    }

    pub(crate) fn read_body(r: &mut Reader<'_>) -> Result<PortStatus> {
        let reason = PortStatusReason::from_u8(r.u8()?);
        r.skip(7)?;
        Ok(PortStatus {
            reason,
            desc: Port::read(r)?,
        })
    }
}
