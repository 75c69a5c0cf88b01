//! The [`Message`] enum over every message this codec speaks, with
//! parse/emit against a [`Header`] view.

use super::buf::{Reader, Writer};
use super::bundle::{ONFT_BUNDLE_ADD_MESSAGE, ONFT_BUNDLE_CONTROL};
use super::header::MsgType;
use super::{
    BundleAdd, BundleControl, Error, ErrorMsg, FeaturesReply, FlowMod, FlowModView, FlowRemoved,
    GroupMod, Header, Hello, MultipartReply, MultipartRequest, OFP_VERSION, ONF_EXPERIMENTER,
    PacketIn, PacketOut, PortStatus, Result, RoleRequest, SwitchConfig,
};

/// One OpenFlow 1.3 message (without its xid, which the connection owns).
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum Message {
    /// `OFPT_HELLO`.
    Hello(Hello),
    /// `OFPT_ERROR`.
    Error(ErrorMsg),
    /// `OFPT_ECHO_REQUEST` with arbitrary data.
    EchoRequest(Vec<u8>),
    /// `OFPT_ECHO_REPLY` echoing the request's data.
    EchoReply(Vec<u8>),
    /// `OFPT_FEATURES_REQUEST`.
    FeaturesRequest,
    /// `OFPT_FEATURES_REPLY`.
    FeaturesReply(FeaturesReply),
    /// `OFPT_GET_CONFIG_REQUEST`.
    GetConfigRequest,
    /// `OFPT_GET_CONFIG_REPLY`.
    GetConfigReply(SwitchConfig),
    /// `OFPT_SET_CONFIG`.
    SetConfig(SwitchConfig),
    /// `OFPT_PACKET_IN`.
    PacketIn(PacketIn),
    /// `OFPT_FLOW_REMOVED`.
    FlowRemoved(FlowRemoved),
    /// `OFPT_PORT_STATUS`.
    PortStatus(PortStatus),
    /// `OFPT_PACKET_OUT`.
    PacketOut(PacketOut),
    /// `OFPT_FLOW_MOD`.
    FlowMod(FlowMod),
    /// `OFPT_GROUP_MOD`.
    GroupMod(GroupMod),
    /// `OFPT_MULTIPART_REQUEST`.
    MultipartRequest(MultipartRequest),
    /// `OFPT_MULTIPART_REPLY`.
    MultipartReply(MultipartReply),
    /// `OFPT_BARRIER_REQUEST`.
    BarrierRequest,
    /// `OFPT_BARRIER_REPLY`.
    BarrierReply,
    /// `OFPT_ROLE_REQUEST`.
    RoleRequest(RoleRequest),
    /// `OFPT_ROLE_REPLY`.
    RoleReply(RoleRequest),
    /// ONF bundle control (experimenter message).
    BundleControl(BundleControl),
    /// ONF bundle add (experimenter message).
    BundleAdd(BundleAdd),
    /// Any other experimenter message (e.g. Nicira extensions).
    Experimenter {
        /// Experimenter id.
        experimenter: u32,
        /// Experimenter-defined type.
        exp_type: u32,
        /// The rest of the body.
        data: Vec<u8>,
    },
    /// A message type this codec does not model (port-mod, meter-mod, …).
    Unknown {
        /// The raw type byte.
        msg_type: u8,
        /// The body.
        body: Vec<u8>,
    },
}

impl Message {
    /// The raw `ofp_header.type` byte.
    pub fn msg_type(&self) -> u8 {
        use Message::*;
        let t = match self {
            Hello(_) => MsgType::Hello,
            Error(_) => MsgType::Error,
            EchoRequest(_) => MsgType::EchoRequest,
            EchoReply(_) => MsgType::EchoReply,
            FeaturesRequest => MsgType::FeaturesRequest,
            FeaturesReply(_) => MsgType::FeaturesReply,
            GetConfigRequest => MsgType::GetConfigRequest,
            GetConfigReply(_) => MsgType::GetConfigReply,
            SetConfig(_) => MsgType::SetConfig,
            PacketIn(_) => MsgType::PacketIn,
            FlowRemoved(_) => MsgType::FlowRemoved,
            PortStatus(_) => MsgType::PortStatus,
            PacketOut(_) => MsgType::PacketOut,
            FlowMod(_) => MsgType::FlowMod,
            GroupMod(_) => MsgType::GroupMod,
            MultipartRequest(_) => MsgType::MultipartRequest,
            MultipartReply(_) => MsgType::MultipartReply,
            BarrierRequest => MsgType::BarrierRequest,
            BarrierReply => MsgType::BarrierReply,
            RoleRequest(_) => MsgType::RoleRequest,
            RoleReply(_) => MsgType::RoleReply,
            BundleControl(_) | BundleAdd(_) | Experimenter { .. } => MsgType::Experimenter,
            Unknown { msg_type, .. } => return *msg_type,
        };
        t as u8
    }

    /// The header version this message is sent with: the hello's own
    /// version for [`Message::Hello`], 1.3 otherwise.
    pub fn version(&self) -> u8 {
        match self {
            Message::Hello(h) => h.version,
            _ => OFP_VERSION,
        }
    }

    fn body_len(&self) -> usize {
        use Message::*;
        match self {
            Hello(h) => h.body_len(),
            Error(e) => e.body_len(),
            EchoRequest(d) | EchoReply(d) => d.len(),
            FeaturesRequest | GetConfigRequest | BarrierRequest | BarrierReply => 0,
            FeaturesReply(_) => super::FeaturesReply::BODY_LEN,
            GetConfigReply(_) | SetConfig(_) => super::SwitchConfig::BODY_LEN,
            PacketIn(p) => p.body_len(),
            FlowRemoved(f) => f.body_len(),
            PortStatus(_) => super::PortStatus::BODY_LEN,
            PacketOut(p) => p.body_len(),
            FlowMod(f) => f.body_len(),
            GroupMod(g) => g.body_len(),
            MultipartRequest(m) => m.body_len(),
            MultipartReply(m) => m.body_len(),
            RoleRequest(_) | RoleReply(_) => super::RoleRequest::BODY_LEN,
            BundleControl(b) => 8 + b.body_len(),
            BundleAdd(b) => 8 + b.body_len(),
            Experimenter { data, .. } => 8 + data.len(),
            Unknown { body, .. } => body.len(),
        }
    }

    /// Encoded size, header included.
    pub fn buffer_len(&self) -> usize {
        Header::<&[u8]>::LEN + self.body_len()
    }

    fn write(&self, xid: u32, w: &mut Writer<'_>) -> Result<()> {
        use Message::*;
        let len = self.buffer_len();
        let start = w.pos();
        w.u8(self.version())?;
        w.u8(self.msg_type())?;
        w.len16(len)?;
        w.u32(xid)?;
        match self {
            Hello(h) => h.write_body(w)?,
            Error(e) => e.write_body(w)?,
            EchoRequest(d) | EchoReply(d) => w.bytes(d)?,
            FeaturesRequest | GetConfigRequest | BarrierRequest | BarrierReply => {}
            FeaturesReply(f) => f.write_body(w)?,
            GetConfigReply(c) | SetConfig(c) => c.write_body(w)?,
            PacketIn(p) => p.write_body(w)?,
            FlowRemoved(f) => f.write_body(w)?,
            PortStatus(p) => p.write_body(w)?,
            PacketOut(p) => p.write_body(w)?,
            FlowMod(f) => f.write_body(w)?,
            GroupMod(g) => g.write_body(w)?,
            MultipartRequest(m) => m.write_body(w)?,
            MultipartReply(m) => m.write_body(w)?,
            RoleRequest(r) | RoleReply(r) => r.write_body(w)?,
            BundleControl(b) => {
                w.u32(ONF_EXPERIMENTER)?;
                w.u32(ONFT_BUNDLE_CONTROL)?;
                b.write_body(w)?;
            }
            BundleAdd(b) => {
                if matches!(*b.message, BundleAdd(_) | BundleControl(_)) {
                    return Err(super::Error::Unencodable {
                        what: "bundle add",
                        why: "a bundle message cannot carry another bundle message",
                    });
                }
                w.u32(ONF_EXPERIMENTER)?;
                w.u32(ONFT_BUNDLE_ADD_MESSAGE)?;
                w.u32(b.bundle_id)?;
                w.zeros(2)?;
                w.u16(b.flags)?;
                b.message.write(xid, w)?;
            }
            Experimenter {
                experimenter,
                exp_type,
                data,
            } => {
                w.u32(*experimenter)?;
                w.u32(*exp_type)?;
                w.bytes(data)?;
            }
            Unknown { body, .. } => w.bytes(body)?,
        }
        if w.pos() - start != len {
            return Err(super::Error::Unencodable {
                what: "message",
                why: "encoder wrote a different length than buffer_len() (codec bug)",
            });
        }
        Ok(())
    }

    /// Emits the message with transaction id `xid` into the buffer behind
    /// `header` (at least [`Message::buffer_len`] bytes; the rest is left
    /// untouched).
    pub fn emit<T: AsRef<[u8]> + AsMut<[u8]>>(
        &self,
        xid: u32,
        header: &mut Header<T>,
    ) -> Result<()> {
        let len = self.buffer_len();
        if len > usize::from(u16::MAX) {
            return Err(Error::TooLong(len));
        }
        let buf = header.as_mut_slice();
        let have = buf.len();
        let buf = buf
            .get_mut(..len)
            .ok_or(Error::BufferTooSmall { need: len, have })?;
        self.write(xid, &mut Writer::new(buf))
    }

    /// Parses a checked message view. Hello and error messages are accepted
    /// in any version; everything else must be OpenFlow 1.3.
    pub fn parse<T: AsRef<[u8]>>(header: &Header<T>) -> Result<Message> {
        header.check_len()?;
        Self::parse_inner(header, true)
    }

    fn parse_inner<T: AsRef<[u8]>>(header: &Header<T>, allow_bundle: bool) -> Result<Message> {
        let t = header.msg_type();
        let v = header.version();
        let is_versionless = t == MsgType::Hello as u8 || t == MsgType::Error as u8;
        if !is_versionless && v != OFP_VERSION {
            return Err(Error::Version(v));
        }
        let mut r = Reader::new(header.body(), "message body");
        let r = &mut r;
        use Message as M;
        let Some(ty) = MsgType::from_u8(t) else {
            return Ok(M::Unknown {
                msg_type: t,
                body: r.rest().to_vec(),
            });
        };
        Ok(match ty {
            MsgType::Hello => M::Hello(super::Hello::read_body(v, r)?),
            MsgType::Error => M::Error(ErrorMsg::read_body(r)?),
            MsgType::EchoRequest => M::EchoRequest(r.rest().to_vec()),
            MsgType::EchoReply => M::EchoReply(r.rest().to_vec()),
            MsgType::FeaturesRequest => M::FeaturesRequest,
            MsgType::FeaturesReply => M::FeaturesReply(super::FeaturesReply::read_body(r)?),
            MsgType::GetConfigRequest => M::GetConfigRequest,
            MsgType::GetConfigReply => M::GetConfigReply(super::SwitchConfig::read_body(r)?),
            MsgType::SetConfig => M::SetConfig(super::SwitchConfig::read_body(r)?),
            MsgType::PacketIn => M::PacketIn(super::PacketIn::read_body(r)?),
            MsgType::FlowRemoved => M::FlowRemoved(super::FlowRemoved::read_body(r)?),
            MsgType::PortStatus => M::PortStatus(super::PortStatus::read_body(r)?),
            MsgType::PacketOut => M::PacketOut(super::PacketOut::read_body(r)?),
            MsgType::FlowMod => M::FlowMod(super::FlowMod::read_body(r)?),
            MsgType::GroupMod => M::GroupMod(super::GroupMod::read_body(r)?),
            MsgType::MultipartRequest => {
                M::MultipartRequest(super::MultipartRequest::read_body(r)?)
            }
            MsgType::MultipartReply => M::MultipartReply(super::MultipartReply::read_body(r)?),
            MsgType::BarrierRequest => M::BarrierRequest,
            MsgType::BarrierReply => M::BarrierReply,
            MsgType::RoleRequest => M::RoleRequest(super::RoleRequest::read_body(r)?),
            MsgType::RoleReply => M::RoleReply(super::RoleRequest::read_body(r)?),
            MsgType::Experimenter => {
                let experimenter = r.u32()?;
                let exp_type = r.u32()?;
                match (experimenter, exp_type) {
                    (ONF_EXPERIMENTER, ONFT_BUNDLE_CONTROL | ONFT_BUNDLE_ADD_MESSAGE)
                        if !allow_bundle =>
                    {
                        return Err(Error::Malformed {
                            what: "bundle add",
                            why: "a bundle message cannot carry another bundle message",
                        });
                    }
                    (ONF_EXPERIMENTER, ONFT_BUNDLE_CONTROL) => {
                        M::BundleControl(BundleControl::read_body(r)?)
                    }
                    (ONF_EXPERIMENTER, ONFT_BUNDLE_ADD_MESSAGE) => {
                        let bundle_id = r.u32()?;
                        r.skip(2)?;
                        let flags = r.u16()?;
                        let inner = Header::new_checked(r.rest())?;
                        if inner.xid() != header.xid() {
                            return Err(super::Error::Malformed {
                                what: "bundle add",
                                why: "the inner message's xid differs from the bundle add's \
                                      (OFPBFC_MSG_BAD_XID)",
                            });
                        }
                        let message = Self::parse_inner(&inner, false)?;
                        M::BundleAdd(BundleAdd {
                            bundle_id,
                            flags,
                            message: Box::new(message),
                        })
                    }
                    _ => M::Experimenter {
                        experimenter,
                        exp_type,
                        data: r.rest().to_vec(),
                    },
                }
            }
            _ => M::Unknown {
                msg_type: t,
                body: r.rest().to_vec(),
            },
        })
    }
}

/// Appends the encoding of `msg` with transaction id `xid` to `out`.
///
/// On error `out` is left as it was.
pub fn encode(msg: &Message, xid: u32, out: &mut Vec<u8>) -> Result<()> {
    let start = out.len();
    let len = msg.buffer_len();
    out.resize(start + len, 0);
    let res = msg.emit(xid, &mut Header::new_unchecked(&mut out[start..]));
    if res.is_err() {
        out.truncate(start);
    }
    res
}

/// Appends an `ONFT_BUNDLE_ADD_MESSAGE` carrying `inner` to `out`, without
/// cloning `inner` into a [`BundleAdd`]. The outer and inner xids are both
/// `xid` (as `ovs-ofctl --bundle` does), so an error OVS reports for the
/// inner message at commit time names that xid.
pub fn encode_bundle_add(
    bundle_id: u32,
    flags: u16,
    xid: u32,
    inner: &Message,
    out: &mut Vec<u8>,
) -> Result<()> {
    if matches!(inner, Message::BundleAdd(_) | Message::BundleControl(_)) {
        return Err(super::Error::Unencodable {
            what: "bundle add",
            why: "a bundle message cannot carry another bundle message",
        });
    }
    bundle_add_with(bundle_id, flags, xid, inner.buffer_len(), out, |w| {
        inner.write(xid, w)
    })
}

/// [`encode_bundle_add`] of a flow-mod given as a [`FlowModView`]: the same
/// bytes as `encode_bundle_add(.., &Message::FlowMod(view.to_owned()), ..)`
/// without cloning the match and instructions.
pub fn encode_bundle_flow_mod(
    bundle_id: u32,
    flags: u16,
    xid: u32,
    fm: &FlowModView<'_>,
    out: &mut Vec<u8>,
) -> Result<()> {
    let inner_len = Header::<&[u8]>::LEN + fm.body_len();
    bundle_add_with(bundle_id, flags, xid, inner_len, out, |w| {
        let start = w.pos();
        w.u8(OFP_VERSION)?;
        w.u8(MsgType::FlowMod as u8)?;
        w.len16(inner_len)?;
        w.u32(xid)?;
        fm.write_body(w)?;
        if w.pos() - start != inner_len {
            return Err(super::Error::Unencodable {
                what: "flow mod",
                why: "encoder wrote a different length than body_len() (codec bug)",
            });
        }
        Ok(())
    })
}

/// Appends a bundle-add header for an inner message of `inner_len` bytes
/// and lets `write_inner` write that message; on error `out` is left as
/// it was.
fn bundle_add_with(
    bundle_id: u32,
    flags: u16,
    xid: u32,
    inner_len: usize,
    out: &mut Vec<u8>,
    write_inner: impl FnOnce(&mut Writer<'_>) -> Result<()>,
) -> Result<()> {
    let len = 24 + inner_len;
    if len > usize::from(u16::MAX) {
        return Err(super::Error::TooLong(len));
    }
    let start = out.len();
    out.resize(start + len, 0);
    let res = (|| {
        let mut w = Writer::new(&mut out[start..]);
        w.u8(OFP_VERSION)?;
        w.u8(MsgType::Experimenter as u8)?;
        w.len16(len)?;
        w.u32(xid)?;
        w.u32(ONF_EXPERIMENTER)?;
        w.u32(ONFT_BUNDLE_ADD_MESSAGE)?;
        w.u32(bundle_id)?;
        w.zeros(2)?;
        w.u16(flags)?;
        write_inner(&mut w)
    })();
    if res.is_err() {
        out.truncate(start);
    }
    res
}

/// Decodes the first message in `buf`: returns its xid, the message and the
/// number of bytes it occupied.
pub fn decode(buf: &[u8]) -> Result<(u32, Message, usize)> {
    let h = Header::new_checked(buf)?;
    let msg = Message::parse(&h)?;
    Ok((h.xid(), msg, usize::from(h.length())))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::openflow::wire::{
        Action, BundleCtrlType, Instruction, Masked, Match, OxmField, bundle_flags,
    };
    use std::net::Ipv4Addr;

    fn hex(s: &str) -> Vec<u8> {
        let s: String = s.chars().filter(|c| !c.is_whitespace()).collect();
        (0..s.len())
            .step_by(2)
            .map(|i| u8::from_str_radix(&s[i..i + 2], 16).unwrap())
            .collect()
    }

    /// `ovs-ofctl -O OpenFlow13 add-flow` of
    /// `table=1,priority=100,ip,nw_dst=10.0.0.1,
    ///  actions=set_field:02:00:0a:aa:bb:cc->eth_dst,goto_table:2`.
    const OVS_FLOW_MOD: &str = "040e006800000006000000000000000000000000000000000100000000000064\
        ffffffffffffffffffffffff000000000001001280000a020800800018040a000001000000000000\
        00040018000000000019001080000606 02000aaabbcc00000001000802000000";

    fn ovs_flow_mod_repr() -> FlowMod {
        FlowMod::add(1, 100)
            .matching(
                Match::new()
                    .eth_type(0x0800)
                    .ipv4_dst(Ipv4Addr::new(10, 0, 0, 1)),
            )
            .apply(vec![Action::SetField(OxmField::EthDst(Masked::exact(
                crate::openflow::wire::MacAddr([2, 0, 0x0a, 0xaa, 0xbb, 0xcc]),
            )))])
            .goto(2)
    }

    #[test]
    fn flow_mod_matches_ovs_ofctl_bytes() {
        let b = hex(OVS_FLOW_MOD);
        let (xid, msg, used) = decode(&b).unwrap();
        assert_eq!((xid, used), (6, b.len()));
        assert_eq!(msg, Message::FlowMod(ovs_flow_mod_repr()));
        let mut out = Vec::new();
        encode(&msg, 6, &mut out).unwrap();
        assert_eq!(out, b);
    }

    #[test]
    fn bundle_add_matches_ovs_ofctl_bytes() {
        // open, add (in_port=1 goto_table:1, xid 6), commit — as ovs-ofctl --bundle sends them.
        let open = hex("04040018000000084f4e4600000008fc0000000000000003");
        let (_, m, _) = decode(&open).unwrap();
        assert_eq!(
            m,
            Message::BundleControl(BundleControl::new(
                0,
                BundleCtrlType::OpenRequest,
                bundle_flags::ATOMIC | bundle_flags::ORDERED
            ))
        );
        let add = hex(
            "04040060000000064f4e4600000008fd0000000000000003040e00480000000600000000000000\
             000000000000000000000000000000000affffffffffffffffffffffff000000000001000c800000\
             0400000001000000000001000801000000",
        );
        let (xid, m, _) = decode(&add).unwrap();
        let want = Message::BundleAdd(BundleAdd {
            bundle_id: 0,
            flags: 3,
            message: Box::new(Message::FlowMod(
                FlowMod::add(0, 10)
                    .matching(Match::new().in_port_is(1))
                    .instruction(Instruction::GotoTable(1)),
            )),
        });
        assert_eq!((xid, &m), (6, &want));
        let mut out = Vec::new();
        encode(&want, 6, &mut out).unwrap();
        assert_eq!(out, add);
    }

    #[test]
    fn errors_ovs_sent_for_a_failed_bundle_commit_parse() {
        let e = hex(
            "04010074000000070002000904040068000000074f4e4600000008fd0000000000000003040e0050\
             0000000700000000000000000000000000000000000000000000000cffffffffffffffffffffffff\
             000000000001000c80000004000000020000000000040010000000000016000800000063",
        );
        let (xid, m, _) = decode(&e).unwrap();
        let Message::Error(err) = m else {
            panic!("not an error: {m:?}")
        };
        assert_eq!(xid, 7);
        assert_eq!(err.name(), Some("OFPBAC_BAD_OUT_GROUP"));
        assert_eq!(err.failed_xid(), Some(7));
        let c =
            hex("040100280000000bffff09094f4e4600040400180000000b4f4e4600000008fc0000000000040003");
        let (xid, m, _) = decode(&c).unwrap();
        let Message::Error(err) = m else {
            panic!("not an error: {m:?}")
        };
        assert_eq!(xid, 11);
        assert!(err.is_bundle_msg_failed());
    }

    #[test]
    fn hello_from_ovs_and_version_checks() {
        let (_, m, _) = decode(&hex("04000010000000010001000800000012")).unwrap();
        assert_eq!(
            m,
            Message::Hello(Hello {
                version: 4,
                bitmaps: vec![0x12]
            })
        );
        // An OF1.0 barrier is refused with a version error, not misparsed.
        assert_eq!(
            decode(&hex("0112000800000001")).unwrap_err(),
            Error::Version(1)
        );
    }

    #[test]
    fn emit_into_short_buffer_is_an_error() {
        let mut b = [0u8; 4];
        assert!(matches!(
            Message::BarrierRequest.emit(1, &mut Header::new_unchecked(&mut b[..])),
            Err(Error::BufferTooSmall { need: 8, have: 4 })
        ));
        let big = Message::EchoRequest(vec![0; 70_000]);
        assert_eq!(
            encode(&big, 1, &mut Vec::new()),
            Err(Error::TooLong(70_008))
        );
    }

    #[test]
    fn encode_bundle_add_equals_the_repr_encoding() {
        let fm = Message::FlowMod(FlowMod::add(0, 10).matching(Match::new().in_port_is(1)));
        let mut a = Vec::new();
        encode_bundle_add(9, 3, 42, &fm, &mut a).unwrap();
        let mut b = Vec::new();
        let repr = Message::BundleAdd(BundleAdd {
            bundle_id: 9,
            flags: 3,
            message: Box::new(fm),
        });
        encode(&repr, 42, &mut b).unwrap();
        assert_eq!(a, b);
    }

    #[test]
    fn nested_bundle_is_rejected() {
        let inner = Message::BundleControl(BundleControl::new(1, BundleCtrlType::OpenRequest, 0));
        let outer = Message::BundleAdd(BundleAdd {
            bundle_id: 1,
            flags: 0,
            message: Box::new(inner),
        });
        assert!(encode(&outer, 1, &mut Vec::new()).is_err());
    }

    #[test]
    fn bundle_add_with_a_different_inner_xid_is_rejected() {
        // ovs-ofctl ofp-print calls this OFPBFC_MSG_BAD_XID.
        let add = Message::BundleAdd(BundleAdd {
            bundle_id: 1,
            flags: 3,
            message: Box::new(Message::FlowMod(FlowMod::add(0, 1).goto(1))),
        });
        let mut b = Vec::new();
        encode(&add, 1, &mut b).unwrap();
        assert_eq!(&b[24..26], &[4, 14]); // the inner flow-mod's header
        assert_eq!(decode(&b).unwrap().1, add);
        b[28..32].copy_from_slice(&9u32.to_be_bytes());
        assert!(matches!(decode(&b), Err(Error::Malformed { .. })));
    }
}
