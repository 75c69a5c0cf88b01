//! `OFPT_MULTIPART_REQUEST` / `OFPT_MULTIPART_REPLY`: switch description,
//! flow, aggregate, port, port-description, group and group-description
//! statistics.

use super::buf::{Reader, Writer};
use super::group_mod::{Bucket, GroupType};
use super::{Error, Instruction, Match, Port, Result, group_no, port_no, table_no};

/// Multipart flags.
pub mod multipart_flags {
    /// More request/reply messages follow this one.
    pub const MORE: u16 = 1;
}

mod mp {
    pub const DESC: u16 = 0;
    pub const FLOW: u16 = 1;
    pub const AGGREGATE: u16 = 2;
    pub const PORT_STATS: u16 = 4;
    pub const GROUP: u16 = 6;
    pub const GROUP_DESC: u16 = 7;
    pub const PORT_DESC: u16 = 13;
}

/// Which flows a flow-stats or aggregate request selects.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct FlowStatsRequest {
    /// Table (255 = all).
    pub table_id: u8,
    /// Only flows that output to this port ([`port_no::ANY`] = any).
    pub out_port: u32,
    /// Only flows that output to this group ([`group_no::ANY`] = any).
    pub out_group: u32,
    /// Cookie to match under `cookie_mask`.
    pub cookie: u64,
    /// Cookie bits that must match (0 = any cookie).
    pub cookie_mask: u64,
    /// Non-strict match: flows at least as specific as this.
    pub r#match: Match,
}

impl Default for FlowStatsRequest {
    fn default() -> Self {
        FlowStatsRequest {
            table_id: table_no::ALL,
            out_port: port_no::ANY,
            out_group: group_no::ANY,
            cookie: 0,
            cookie_mask: 0,
            r#match: Match::new(),
        }
    }
}

impl FlowStatsRequest {
    /// Every flow in every table.
    pub fn all() -> Self {
        Self::default()
    }

    fn body_len(&self) -> usize {
        32 + self.r#match.buffer_len()
    }

    fn write(&self, w: &mut Writer<'_>) -> Result<()> {
        w.u8(self.table_id)?;
        w.zeros(3)?;
        w.u32(self.out_port)?;
        w.u32(self.out_group)?;
        w.zeros(4)?;
        w.u64(self.cookie)?;
        w.u64(self.cookie_mask)?;
        self.r#match.write(w)
    }

    fn read(r: &mut Reader<'_>) -> Result<Self> {
        let table_id = r.u8()?;
        r.skip(3)?;
        let out_port = r.u32()?;
        let out_group = r.u32()?;
        r.skip(4)?;
        Ok(FlowStatsRequest {
            table_id,
            out_port,
            out_group,
            cookie: r.u64()?,
            cookie_mask: r.u64()?,
            r#match: Match::read(r)?,
        })
    }
}

/// The body of a multipart request.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum MultipartRequestBody {
    /// `OFPMP_DESC`.
    Desc,
    /// `OFPMP_FLOW`.
    Flow(FlowStatsRequest),
    /// `OFPMP_AGGREGATE`.
    Aggregate(FlowStatsRequest),
    /// `OFPMP_PORT_STATS` for one port or [`port_no::ANY`].
    PortStats {
        /// The port.
        port_no: u32,
    },
    /// `OFPMP_GROUP` for one group or [`group_no::ALL`].
    GroupStats {
        /// The group.
        group_id: u32,
    },
    /// `OFPMP_GROUP_DESC`.
    GroupDesc,
    /// `OFPMP_PORT_DESC`.
    PortDesc,
    /// Any other multipart type, body kept verbatim.
    Other {
        /// The `OFPMP_*` type.
        mp_type: u16,
        /// The body after the multipart header.
        body: Vec<u8>,
    },
}

/// `OFPT_MULTIPART_REQUEST`.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct MultipartRequest {
    /// [`multipart_flags`] bits.
    pub flags: u16,
    /// What is requested.
    pub body: MultipartRequestBody,
}

impl From<MultipartRequestBody> for MultipartRequest {
    fn from(body: MultipartRequestBody) -> Self {
        MultipartRequest { flags: 0, body }
    }
}

impl MultipartRequest {
    fn mp_type(&self) -> u16 {
        match &self.body {
            MultipartRequestBody::Desc => mp::DESC,
            MultipartRequestBody::Flow(_) => mp::FLOW,
            MultipartRequestBody::Aggregate(_) => mp::AGGREGATE,
            MultipartRequestBody::PortStats { .. } => mp::PORT_STATS,
            MultipartRequestBody::GroupStats { .. } => mp::GROUP,
            MultipartRequestBody::GroupDesc => mp::GROUP_DESC,
            MultipartRequestBody::PortDesc => mp::PORT_DESC,
            MultipartRequestBody::Other { mp_type, .. } => *mp_type,
        }
    }

    /// Body size (after the 8-byte message header).
    pub fn body_len(&self) -> usize {
        8 + match &self.body {
            MultipartRequestBody::Desc
            | MultipartRequestBody::GroupDesc
            | MultipartRequestBody::PortDesc => 0,
            MultipartRequestBody::Flow(f) | MultipartRequestBody::Aggregate(f) => f.body_len(),
            MultipartRequestBody::PortStats { .. } | MultipartRequestBody::GroupStats { .. } => 8,
            MultipartRequestBody::Other { body, .. } => body.len(),
        }
    }

    pub(crate) fn write_body(&self, w: &mut Writer<'_>) -> Result<()> {
        w.u16(self.mp_type())?;
        w.u16(self.flags)?;
        w.zeros(4)?;
        match &self.body {
            MultipartRequestBody::Desc
            | MultipartRequestBody::GroupDesc
            | MultipartRequestBody::PortDesc => Ok(()),
            MultipartRequestBody::Flow(f) | MultipartRequestBody::Aggregate(f) => f.write(w),
            MultipartRequestBody::PortStats { port_no: v }
            | MultipartRequestBody::GroupStats { group_id: v } => {
                w.u32(*v)?;
                w.zeros(4)
            }
            MultipartRequestBody::Other { body, .. } => w.bytes(body),
        }
    }

    pub(crate) fn read_body(r: &mut Reader<'_>) -> Result<MultipartRequest> {
        let mp_type = r.u16()?;
        let flags = r.u16()?;
        r.skip(4)?;
        let body = match mp_type {
            mp::DESC if r.remaining() == 0 => MultipartRequestBody::Desc,
            mp::GROUP_DESC if r.remaining() == 0 => MultipartRequestBody::GroupDesc,
            mp::PORT_DESC if r.remaining() == 0 => MultipartRequestBody::PortDesc,
            mp::FLOW => MultipartRequestBody::Flow(FlowStatsRequest::read(r)?),
            mp::AGGREGATE => MultipartRequestBody::Aggregate(FlowStatsRequest::read(r)?),
            mp::PORT_STATS if r.remaining() == 8 => {
                let port_no = r.u32()?;
                MultipartRequestBody::PortStats { port_no }
            }
            mp::GROUP if r.remaining() == 8 => {
                let group_id = r.u32()?;
                MultipartRequestBody::GroupStats { group_id }
            }
            t => MultipartRequestBody::Other {
                mp_type: t,
                body: r.rest().to_vec(),
            },
        };
        Ok(MultipartRequest { flags, body })
    }
}

/// `OFPMP_DESC` reply: switch description strings.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Default)]
pub struct Desc {
    /// Manufacturer.
    pub mfr_desc: String,
    /// Hardware description.
    pub hw_desc: String,
    /// Software description (OVS version).
    pub sw_desc: String,
    /// Serial number.
    pub serial_num: String,
    /// Datapath description.
    pub dp_desc: String,
}

const DESC_STR_LEN: usize = 256;
const SERIAL_NUM_LEN: usize = 32;

fn write_fixed_str(w: &mut Writer<'_>, s: &str, len: usize) -> Result<()> {
    let b = s.as_bytes();
    if b.len() >= len || b.contains(&0) {
        return Err(Error::Unencodable {
            what: "description string",
            why: "string too long for its fixed field or contains NUL",
        });
    }
    w.bytes(b)?;
    w.zeros(len - b.len())
}

fn read_fixed_str(r: &mut Reader<'_>, len: usize) -> Result<String> {
    let raw = r.bytes(len)?;
    let end = raw.iter().position(|b| *b == 0).unwrap_or(len);
    Ok(String::from_utf8_lossy(&raw[..end]).into_owned())
}

/// One entry of a flow-stats reply.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct FlowStats {
    /// Table.
    pub table_id: u8,
    /// Seconds the flow has been alive.
    pub duration_sec: u32,
    /// Nanoseconds beyond `duration_sec`.
    pub duration_nsec: u32,
    /// Priority.
    pub priority: u16,
    /// Idle timeout.
    pub idle_timeout: u16,
    /// Hard timeout.
    pub hard_timeout: u16,
    /// `OFPFF_*` flags.
    pub flags: u16,
    /// Cookie.
    pub cookie: u64,
    /// Packets matched.
    pub packet_count: u64,
    /// Bytes matched.
    pub byte_count: u64,
    /// Match.
    pub r#match: Match,
    /// Instructions.
    pub instructions: Vec<Instruction>,
}

impl FlowStats {
    const FIXED_LEN: usize = 48;

    fn buffer_len(&self) -> usize {
        Self::FIXED_LEN + self.r#match.buffer_len() + Instruction::list_len(&self.instructions)
    }

    fn write(&self, w: &mut Writer<'_>) -> Result<()> {
        w.len16(self.buffer_len())?;
        w.u8(self.table_id)?;
        w.zeros(1)?;
        w.u32(self.duration_sec)?;
        w.u32(self.duration_nsec)?;
        w.u16(self.priority)?;
        w.u16(self.idle_timeout)?;
        w.u16(self.hard_timeout)?;
        w.u16(self.flags)?;
        w.zeros(4)?;
        w.u64(self.cookie)?;
        w.u64(self.packet_count)?;
        w.u64(self.byte_count)?;
        self.r#match.write(w)?;
        Instruction::write_list(&self.instructions, w)
    }

    fn read(entry: &[u8]) -> Result<FlowStats> {
        let mut r = Reader::new(entry, "flow stats entry");
        r.skip(2)?;
        let table_id = r.u8()?;
        r.skip(1)?;
        let duration_sec = r.u32()?;
        let duration_nsec = r.u32()?;
        let priority = r.u16()?;
        let idle_timeout = r.u16()?;
        let hard_timeout = r.u16()?;
        let flags = r.u16()?;
        r.skip(4)?;
        let cookie = r.u64()?;
        let packet_count = r.u64()?;
        let byte_count = r.u64()?;
        let m = Match::read(&mut r)?;
        Ok(FlowStats {
            table_id,
            duration_sec,
            duration_nsec,
            priority,
            idle_timeout,
            hard_timeout,
            flags,
            cookie,
            packet_count,
            byte_count,
            r#match: m,
            instructions: Instruction::read_list(r.rest())?,
        })
    }
}

/// `OFPMP_AGGREGATE` reply.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
pub struct AggregateStats {
    /// Packets matched.
    pub packet_count: u64,
    /// Bytes matched.
    pub byte_count: u64,
    /// Number of flows.
    pub flow_count: u32,
}

/// One entry of a port-stats reply.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
pub struct PortStats {
    /// Port.
    pub port_no: u32,
    /// Received packets.
    pub rx_packets: u64,
    /// Transmitted packets.
    pub tx_packets: u64,
    /// Received bytes.
    pub rx_bytes: u64,
    /// Transmitted bytes.
    pub tx_bytes: u64,
    /// Packets dropped on receive.
    pub rx_dropped: u64,
    /// Packets dropped on transmit.
    pub tx_dropped: u64,
    /// Receive errors.
    pub rx_errors: u64,
    /// Transmit errors.
    pub tx_errors: u64,
    /// Frame alignment errors.
    pub rx_frame_err: u64,
    /// Overruns.
    pub rx_over_err: u64,
    /// CRC errors.
    pub rx_crc_err: u64,
    /// Collisions.
    pub collisions: u64,
    /// Seconds the port has been alive.
    pub duration_sec: u32,
    /// Nanoseconds beyond `duration_sec`.
    pub duration_nsec: u32,
}

impl PortStats {
    const LEN: usize = 112;

    fn counters(&self) -> [u64; 12] {
        [
            self.rx_packets,
            self.tx_packets,
            self.rx_bytes,
            self.tx_bytes,
            self.rx_dropped,
            self.tx_dropped,
            self.rx_errors,
            self.tx_errors,
            self.rx_frame_err,
            self.rx_over_err,
            self.rx_crc_err,
            self.collisions,
        ]
    }

    fn write(&self, w: &mut Writer<'_>) -> Result<()> {
        w.u32(self.port_no)?;
        w.zeros(4)?;
        for c in self.counters() {
            w.u64(c)?;
        }
        w.u32(self.duration_sec)?;
        w.u32(self.duration_nsec)
    }

    fn read(r: &mut Reader<'_>) -> Result<PortStats> {
        let port_no = r.u32()?;
        r.skip(4)?;
        let mut c = [0u64; 12];
        for v in c.iter_mut() {
            *v = r.u64()?;
        }
        Ok(PortStats {
            port_no,
            rx_packets: c[0],
            tx_packets: c[1],
            rx_bytes: c[2],
            tx_bytes: c[3],
            rx_dropped: c[4],
            tx_dropped: c[5],
            rx_errors: c[6],
            tx_errors: c[7],
            rx_frame_err: c[8],
            rx_over_err: c[9],
            rx_crc_err: c[10],
            collisions: c[11],
            duration_sec: r.u32()?,
            duration_nsec: r.u32()?,
        })
    }
}

/// One entry of a group-stats reply.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Default)]
pub struct GroupStats {
    /// Group.
    pub group_id: u32,
    /// Flows or groups that forward to it.
    pub ref_count: u32,
    /// Packets processed.
    pub packet_count: u64,
    /// Bytes processed.
    pub byte_count: u64,
    /// Seconds the group has been alive.
    pub duration_sec: u32,
    /// Nanoseconds beyond `duration_sec`.
    pub duration_nsec: u32,
    /// Per bucket (packets, bytes).
    pub bucket_stats: Vec<(u64, u64)>,
}

impl GroupStats {
    fn buffer_len(&self) -> usize {
        40 + 16 * self.bucket_stats.len()
    }

    fn write(&self, w: &mut Writer<'_>) -> Result<()> {
        w.len16(self.buffer_len())?;
        w.zeros(2)?;
        w.u32(self.group_id)?;
        w.u32(self.ref_count)?;
        w.zeros(4)?;
        w.u64(self.packet_count)?;
        w.u64(self.byte_count)?;
        w.u32(self.duration_sec)?;
        w.u32(self.duration_nsec)?;
        for (p, b) in &self.bucket_stats {
            w.u64(*p)?;
            w.u64(*b)?;
        }
        Ok(())
    }

    fn read(entry: &[u8]) -> Result<GroupStats> {
        let mut r = Reader::new(entry, "group stats entry");
        r.skip(4)?;
        let group_id = r.u32()?;
        let ref_count = r.u32()?;
        r.skip(4)?;
        let packet_count = r.u64()?;
        let byte_count = r.u64()?;
        let duration_sec = r.u32()?;
        let duration_nsec = r.u32()?;
        let mut bucket_stats = Vec::new();
        while r.remaining() >= 16 {
            bucket_stats.push((r.u64()?, r.u64()?));
        }
        Ok(GroupStats {
            group_id,
            ref_count,
            packet_count,
            byte_count,
            duration_sec,
            duration_nsec,
            bucket_stats,
        })
    }
}

/// One entry of a group-description reply.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct GroupDesc {
    /// Group type.
    pub group_type: GroupType,
    /// Group id.
    pub group_id: u32,
    /// Buckets.
    pub buckets: Vec<Bucket>,
}

impl GroupDesc {
    fn buffer_len(&self) -> usize {
        8 + self.buckets.iter().map(Bucket::buffer_len).sum::<usize>()
    }

    fn write(&self, w: &mut Writer<'_>) -> Result<()> {
        w.len16(self.buffer_len())?;
        w.u8(self.group_type.to_u8())?;
        w.zeros(1)?;
        w.u32(self.group_id)?;
        self.buckets.iter().try_for_each(|b| b.write(w))
    }

    fn read(entry: &[u8]) -> Result<GroupDesc> {
        let mut r = Reader::new(entry, "group desc entry");
        r.skip(2)?;
        let group_type = GroupType::from_u8(r.u8()?);
        r.skip(1)?;
        let group_id = r.u32()?;
        Ok(GroupDesc {
            group_type,
            group_id,
            buckets: Bucket::read_list(r.rest())?,
        })
    }
}

/// The body of a multipart reply.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum MultipartReplyBody {
    /// `OFPMP_DESC`.
    Desc(Desc),
    /// `OFPMP_FLOW`.
    Flow(Vec<FlowStats>),
    /// `OFPMP_AGGREGATE`.
    Aggregate(AggregateStats),
    /// `OFPMP_PORT_STATS`.
    PortStats(Vec<PortStats>),
    /// `OFPMP_GROUP`.
    GroupStats(Vec<GroupStats>),
    /// `OFPMP_GROUP_DESC`.
    GroupDesc(Vec<GroupDesc>),
    /// `OFPMP_PORT_DESC`.
    PortDesc(Vec<Port>),
    /// Any other multipart type, body kept verbatim.
    Other {
        /// The `OFPMP_*` type.
        mp_type: u16,
        /// The body after the multipart header.
        body: Vec<u8>,
    },
}

impl MultipartReplyBody {
    /// Appends the entries of a continuation (`more`) reply of the same
    /// type. Returns `false` (and changes nothing) when the types differ or
    /// the type is not a list.
    pub fn merge(&mut self, next: MultipartReplyBody) -> bool {
        use MultipartReplyBody as B;
        match (self, next) {
            (B::Flow(a), B::Flow(b)) => a.extend(b),
            (B::PortStats(a), B::PortStats(b)) => a.extend(b),
            (B::GroupStats(a), B::GroupStats(b)) => a.extend(b),
            (B::GroupDesc(a), B::GroupDesc(b)) => a.extend(b),
            (B::PortDesc(a), B::PortDesc(b)) => a.extend(b),
            (
                B::Other {
                    mp_type: t,
                    body: a,
                },
                B::Other {
                    mp_type: u,
                    body: b,
                },
            ) if *t == u => a.extend(b),
            _ => return false,
        }
        true
    }
}

/// `OFPT_MULTIPART_REPLY`.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct MultipartReply {
    /// [`multipart_flags`] bits (`MORE` = another reply follows).
    pub flags: u16,
    /// The statistics.
    pub body: MultipartReplyBody,
}

/// Reads length-prefixed entries (u16 length first) filling `buf`.
fn read_entries<T>(
    mut buf: &[u8],
    min: usize,
    what: &'static str,
    f: impl Fn(&[u8]) -> Result<T>,
) -> Result<Vec<T>> {
    let mut out = Vec::new();
    while !buf.is_empty() {
        let len = usize::from(Reader::new(buf, what).u16()?);
        if len < min || len > buf.len() {
            return Err(Error::Malformed {
                what,
                why: "entry length is too small or overruns the reply",
            });
        }
        out.push(f(&buf[..len])?);
        buf = &buf[len..];
    }
    Ok(out)
}

impl MultipartReply {
    fn mp_type(&self) -> u16 {
        match &self.body {
            MultipartReplyBody::Desc(_) => mp::DESC,
            MultipartReplyBody::Flow(_) => mp::FLOW,
            MultipartReplyBody::Aggregate(_) => mp::AGGREGATE,
            MultipartReplyBody::PortStats(_) => mp::PORT_STATS,
            MultipartReplyBody::GroupStats(_) => mp::GROUP,
            MultipartReplyBody::GroupDesc(_) => mp::GROUP_DESC,
            MultipartReplyBody::PortDesc(_) => mp::PORT_DESC,
            MultipartReplyBody::Other { mp_type, .. } => *mp_type,
        }
    }

    /// Whether another reply with the same xid follows.
    pub fn more(&self) -> bool {
        self.flags & multipart_flags::MORE != 0
    }

    /// Body size (after the 8-byte message header).
    pub fn body_len(&self) -> usize {
        8 + match &self.body {
            MultipartReplyBody::Desc(_) => 4 * DESC_STR_LEN + SERIAL_NUM_LEN,
            MultipartReplyBody::Flow(v) => v.iter().map(FlowStats::buffer_len).sum(),
            MultipartReplyBody::Aggregate(_) => 24,
            MultipartReplyBody::PortStats(v) => v.len() * PortStats::LEN,
            MultipartReplyBody::GroupStats(v) => v.iter().map(GroupStats::buffer_len).sum(),
            MultipartReplyBody::GroupDesc(v) => v.iter().map(GroupDesc::buffer_len).sum(),
            MultipartReplyBody::PortDesc(v) => v.len() * Port::LEN,
            MultipartReplyBody::Other { body, .. } => body.len(),
        }
    }

    pub(crate) fn write_body(&self, w: &mut Writer<'_>) -> Result<()> {
        w.u16(self.mp_type())?;
        w.u16(self.flags)?;
        w.zeros(4)?;
        match &self.body {
            MultipartReplyBody::Desc(d) => {
                write_fixed_str(w, &d.mfr_desc, DESC_STR_LEN)?;
                write_fixed_str(w, &d.hw_desc, DESC_STR_LEN)?;
                write_fixed_str(w, &d.sw_desc, DESC_STR_LEN)?;
                write_fixed_str(w, &d.serial_num, SERIAL_NUM_LEN)?;
                write_fixed_str(w, &d.dp_desc, DESC_STR_LEN)
            }
            MultipartReplyBody::Flow(v) => v.iter().try_for_each(|e| e.write(w)),
            MultipartReplyBody::Aggregate(a) => {
                w.u64(a.packet_count)?;
                w.u64(a.byte_count)?;
                w.u32(a.flow_count)?;
                w.zeros(4)
            }
            MultipartReplyBody::PortStats(v) => v.iter().try_for_each(|e| e.write(w)),
            MultipartReplyBody::GroupStats(v) => v.iter().try_for_each(|e| e.write(w)),
            MultipartReplyBody::GroupDesc(v) => v.iter().try_for_each(|e| e.write(w)),
            MultipartReplyBody::PortDesc(v) => v.iter().try_for_each(|e| e.write(w)),
            MultipartReplyBody::Other { body, .. } => w.bytes(body),
        }
    }

    pub(crate) fn read_body(r: &mut Reader<'_>) -> Result<MultipartReply> {
        let mp_type = r.u16()?;
        let flags = r.u16()?;
        r.skip(4)?;
        let body = match mp_type {
            mp::DESC => MultipartReplyBody::Desc(Desc {
                mfr_desc: read_fixed_str(r, DESC_STR_LEN)?,
                hw_desc: read_fixed_str(r, DESC_STR_LEN)?,
                sw_desc: read_fixed_str(r, DESC_STR_LEN)?,
                serial_num: read_fixed_str(r, SERIAL_NUM_LEN)?,
                dp_desc: read_fixed_str(r, DESC_STR_LEN)?,
            }),
            mp::FLOW => MultipartReplyBody::Flow(read_entries(
                r.rest(),
                FlowStats::FIXED_LEN,
                "flow stats entry",
                FlowStats::read,
            )?),
            mp::AGGREGATE => {
                let packet_count = r.u64()?;
                let byte_count = r.u64()?;
                let flow_count = r.u32()?;
                MultipartReplyBody::Aggregate(AggregateStats {
                    packet_count,
                    byte_count,
                    flow_count,
                })
            }
            mp::PORT_STATS => {
                let mut v = Vec::new();
                while r.remaining() > 0 {
                    v.push(PortStats::read(r)?);
                }
                MultipartReplyBody::PortStats(v)
            }
            mp::GROUP => MultipartReplyBody::GroupStats(read_entries(
                r.rest(),
                40,
                "group stats entry",
                GroupStats::read,
            )?),
            mp::GROUP_DESC => MultipartReplyBody::GroupDesc(read_entries(
                r.rest(),
                8,
                "group desc entry",
                GroupDesc::read,
            )?),
            mp::PORT_DESC => {
                let mut v = Vec::new();
                while r.remaining() > 0 {
                    v.push(Port::read(r)?);
                }
                MultipartReplyBody::PortDesc(v)
            }
            t => MultipartReplyBody::Other {
                mp_type: t,
                body: r.rest().to_vec(),
            },
        };
        Ok(MultipartReply { flags, body })
    }
}
