//! Decoder properties shared by the fuzz targets (`fuzz/`) and the
//! property tests: whatever the bytes, decoding never panics, and whatever
//! decodes re-encodes to bytes that decode to the same value.

use crate::api::{
    acl, af_packet, cnat, interface, ip, ip_neighbor, l2, memclnt, policer, tapv2, vxlan,
};
use crate::wire::{self, Message, MsgHeader, split_frame};

/// Decodes `msg` as `M`; if it decodes and re-encodes, the re-encoding
/// must decode to the same value and header.
pub fn round_trip<M: Message>(msg: &[u8]) {
    let Ok((hdr, m)) = wire::decode::<M>(msg) else {
        return;
    };
    let mut again = Vec::new();
    if wire::encode(&m, hdr, &mut again).is_err() {
        // e.g. a string that was not ASCII: our encoder refuses it.
        return;
    }
    let (h2, m2) = wire::decode::<M>(&again).expect("our own encoding must decode");
    assert_eq!(h2, hdr, "{}", M::NAME);
    // Compare values, but a float field may hold a NaN (NaN != NaN), so
    // fall back to the bytes: re-encoding the decoded value must give the
    // same bytes again.
    if m2 != m {
        let mut third = Vec::new();
        wire::encode(&m2, h2, &mut third).expect("a decoded value must re-encode");
        assert_eq!(third, again, "{}: decode/encode is not stable", M::NAME);
    }
}

/// Every reply, details and event type the client and the datapath parse.
pub fn every_reply_type(msg: &[u8]) {
    round_trip::<memclnt::SockclntCreateReply>(msg);
    round_trip::<memclnt::ControlPingReply>(msg);
    round_trip::<interface::SwInterfaceDetails>(msg);
    round_trip::<interface::SwInterfaceEvent>(msg);
    round_trip::<interface::SwInterfaceGetTableReply>(msg);
    round_trip::<interface::CreateVlanSubifReply>(msg);
    round_trip::<tapv2::SwInterfaceTapV2Details>(msg);
    round_trip::<tapv2::TapCreateV3Reply>(msg);
    round_trip::<af_packet::AfPacketDetails>(msg);
    round_trip::<vxlan::VxlanTunnelV2Details>(msg);
    round_trip::<vxlan::VxlanAddDelTunnelV3Reply>(msg);
    round_trip::<l2::BridgeDomainDetails>(msg);
    round_trip::<l2::BridgeDomainAddDelV2Reply>(msg);
    round_trip::<l2::L2FibTableDetails>(msg);
    round_trip::<l2::BdIpMacDetails>(msg);
    round_trip::<l2::BviCreateReply>(msg);
    round_trip::<ip::IpTableDetails>(msg);
    round_trip::<ip::IpAddressDetails>(msg);
    round_trip::<ip_neighbor::IpNeighborDetails>(msg);
    round_trip::<acl::AclDetails>(msg);
    round_trip::<acl::AclInterfaceListDetails>(msg);
    round_trip::<acl::AclAddReplaceReply>(msg);
    round_trip::<policer::PolicerDetails>(msg);
    round_trip::<policer::PolicerAddDelReply>(msg);
    round_trip::<cnat::CnatTranslationDetails>(msg);
    round_trip::<cnat::CnatTranslationUpdateReply>(msg);
}

/// A byte stream as the client reads it: frames split off one by one,
/// each payload decoded as every reply type.
pub fn stream(data: &[u8]) {
    let mut rest = data;
    while let Ok(Some((payload, used))) = split_frame(rest) {
        every_reply_type(payload);
        rest = &rest[used..];
    }
    let _ = MsgHeader::default();
}
