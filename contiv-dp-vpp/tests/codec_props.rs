//! Property tests of the codec (run by `make test`; the same properties
//! are fuzzed by `fuzz/`): arbitrary bytes never make a decoder panic and
//! what decodes re-encodes identically; structured values round-trip;
//! frames survive any split of the byte stream.

// Test code: a failed unwrap is a test failure with its message.
#![allow(clippy::unwrap_used)]

use contiv_dp_vpp::api::acl::AclAddReplace;
use contiv_dp_vpp::api::interface::SwInterfaceDetails;
use contiv_dp_vpp::api::types::{AclAction, AclRule, IfStatusFlags, IpProto, Prefix};
use contiv_dp_vpp::testing::fuzz;
use contiv_dp_vpp::wire::{MsgHeader, decode, encode, frame, split_frame};
use proptest::prelude::*;
use std::net::IpAddr;

fn arb_rule() -> impl Strategy<Value = AclRule> {
    (
        any::<u8>(),
        any::<[u8; 4]>(),
        0u8..=32,
        any::<[u8; 16]>(),
        0u8..=128,
        any::<u8>(),
        any::<(u16, u16, u16, u16)>(),
    )
        .prop_map(|(a, v4, l4, v6, l6, p, (sf, sl, df, dl))| AclRule {
            is_permit: AclAction(a % 3),
            src_prefix: Prefix::from_net(ipnet::IpNet::new(IpAddr::from(v4), l4).unwrap()),
            dst_prefix: Prefix::from_net(ipnet::IpNet::new(IpAddr::from(v6), l6).unwrap()),
            proto: IpProto(p),
            srcport_or_icmptype_first: sf,
            srcport_or_icmptype_last: sl,
            dstport_or_icmpcode_first: df,
            dstport_or_icmpcode_last: dl,
            tcp_flags_mask: 0,
            tcp_flags_value: 0,
        })
}

proptest! {
    #[test]
    fn arbitrary_bytes_never_panic_and_round_trip(data in prop::collection::vec(any::<u8>(), 0..600)) {
        fuzz::every_reply_type(&data);
        fuzz::stream(&data);
    }

    #[test]
    fn acl_messages_round_trip(tag in "[ -~]{0,63}", rules in prop::collection::vec(arb_rule(), 0..20), ctx in any::<u32>()) {
        let m = AclAddReplace { acl_index: ctx, tag, r: rules };
        let hdr = MsgHeader { msg_id: 7, client_index: 1, context: ctx };
        let mut b = Vec::new();
        encode(&m, hdr, &mut b).unwrap();
        // header, acl_index, tag[64], count, 48 bytes per rule (vl_api_acl_rule_t).
        prop_assert_eq!(b.len(), 10 + 4 + 64 + 4 + 48 * m.r.len());
        prop_assert_eq!(decode::<AclAddReplace>(&b).unwrap(), (hdr, m));
    }

    #[test]
    fn details_round_trip(name in "[a-zA-Z0-9/._-]{0,63}", tag in "[ -~]{0,63}", idx in any::<u32>(), flags in any::<u32>(), mtu in any::<[u32; 4]>()) {
        let m = SwInterfaceDetails { sw_if_index: idx, interface_name: name, tag, flags: IfStatusFlags(flags), mtu, ..Default::default() };
        let hdr = MsgHeader { msg_id: 9, client_index: 0, context: 3 };
        let mut b = Vec::new();
        encode(&m, hdr, &mut b).unwrap();
        prop_assert_eq!(decode::<SwInterfaceDetails>(&b).unwrap(), (hdr, m));
    }

    #[test]
    fn frames_survive_any_split(msgs in prop::collection::vec(prop::collection::vec(any::<u8>(), 2..100), 1..8), cut in any::<prop::sample::Index>()) {
        let stream: Vec<u8> = msgs.iter().flat_map(|m| frame(m).unwrap()).collect();
        let cut = cut.index(stream.len() + 1);
        // What a reader sees: the first part, then all of it.
        let mut got = Vec::new();
        let mut buf = stream[..cut].to_vec();
        while let Some((p, used)) = split_frame(&buf).unwrap() {
            got.push(p.to_vec());
            buf.drain(..used);
        }
        buf.extend_from_slice(&stream[cut..]);
        while let Some((p, used)) = split_frame(&buf).unwrap() {
            got.push(p.to_vec());
            buf.drain(..used);
        }
        prop_assert!(buf.is_empty());
        prop_assert_eq!(got, msgs);
    }
}
