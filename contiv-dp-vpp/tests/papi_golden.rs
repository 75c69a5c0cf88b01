//! Golden vectors: vpp-papi packs the same values to the same bytes.

// Test code: a failed unwrap is a test failure with its message.
#![allow(clippy::unwrap_used)]
mod support;
use contiv_dp_vpp::api::{acl, interface, l2, types, vxlan};
use contiv_dp_vpp::wire::{Message, MsgHeader, encode};
use support::papi;

fn raw<M: Message>(m: &M, id: u16) -> (String, Vec<u8>) {
    let mut b = Vec::new();
    encode(
        m,
        MsgHeader {
            msg_id: id,
            client_index: 7,
            context: 0x1234,
        },
        &mut b,
    )
    .unwrap();
    (M::NAME.to_owned(), b)
}

#[test]
fn smoke() {
    let rule = types::AclRule {
        is_permit: types::AclAction::ACL_ACTION_API_PERMIT_REFLECT,
        src_prefix: types::Prefix::from_net("10.1.0.0/16".parse().unwrap()),
        dst_prefix: types::Prefix::from_net("fd00::/8".parse().unwrap()),
        proto: types::IpProto::IP_API_PROTO_TCP,
        srcport_or_icmptype_first: 0,
        srcport_or_icmptype_last: 65535,
        dstport_or_icmpcode_first: 80,
        dstport_or_icmpcode_last: 80,
        tcp_flags_mask: 0,
        tcp_flags_value: 0,
    };
    let msgs = vec![
        raw(
            &interface::SwInterfaceSetFlags {
                sw_if_index: 3,
                flags: types::IfStatusFlags(1),
            },
            12,
        ),
        raw(
            &acl::AclAddReplace {
                acl_index: u32::MAX,
                tag: "contiv".into(),
                r: vec![rule, rule],
            },
            900,
        ),
        raw(
            &l2::BridgeDomainAddDelV2 {
                bd_id: 5,
                flood: true,
                bd_tag: "x".into(),
                ..Default::default()
            },
            77,
        ),
        raw(
            &vxlan::VxlanAddDelTunnelV3 {
                vni: 10,
                ..Default::default()
            },
            78,
        ),
        raw(
            &interface::SwInterfaceDetails {
                interface_name: "tap0".into(),
                mtu: [1, 2, 3, 4],
                ..Default::default()
            },
            79,
        ),
    ];
    papi::assert_papi_packs_identically(&msgs);
}
