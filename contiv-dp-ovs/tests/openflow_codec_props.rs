//! Property tests of the OpenFlow codec: `parse(emit(x)) == x` for every
//! Repr, and no decoder panics on arbitrary or corrupted bytes.

// Test code: a failed unwrap is a test failure with its message.
#![allow(clippy::unwrap_used)]

use contiv_dp_ovs::openflow::wire::*;
use proptest::collection::vec;
use proptest::prelude::*;
use std::net::{Ipv4Addr, Ipv6Addr};

fn mac() -> impl Strategy<Value = MacAddr> + Clone {
    any::<[u8; 6]>().prop_map(MacAddr)
}
fn v4() -> impl Strategy<Value = Ipv4Addr> + Clone {
    any::<u32>().prop_map(Ipv4Addr::from)
}
fn v6() -> impl Strategy<Value = Ipv6Addr> + Clone {
    any::<u128>().prop_map(Ipv6Addr::from)
}
fn masked<T: std::fmt::Debug + Clone>(
    s: impl Strategy<Value = T> + Clone,
) -> impl Strategy<Value = Masked<T>> {
    (s.clone(), proptest::option::of(s)).prop_map(|(value, mask)| Masked { value, mask })
}
fn ascii(max: usize) -> impl Strategy<Value = String> {
    proptest::string::string_regex(&format!("[a-zA-Z0-9_.-]{{0,{max}}}")).unwrap()
}

fn unknown_oxm() -> impl Strategy<Value = OxmField> {
    prop_oneof![
        (
            2u16..0x7fff,
            0u8..128,
            any::<bool>(),
            vec(any::<u8>(), 0..32)
        )
            .prop_map(
                |(class, field, has_mask, payload)| OxmField::Unknown(UnknownOxm {
                    class,
                    field,
                    has_mask,
                    experimenter: None,
                    payload
                })
            ),
        (
            0u8..128,
            any::<bool>(),
            0u32..0x2320,
            vec(any::<u8>(), 0..32)
        )
            .prop_map(
                |(field, has_mask, e, payload)| OxmField::Unknown(UnknownOxm {
                    class: oxm_class::EXPERIMENTER,
                    field,
                    has_mask,
                    experimenter: Some(e),
                    payload
                })
            ),
    ]
}

fn oxm() -> impl Strategy<Value = OxmField> {
    use OxmField::*;
    prop_oneof![
        any::<u32>().prop_map(InPort),
        any::<u32>().prop_map(InPhyPort),
        masked(any::<u64>()).prop_map(Metadata),
        masked(mac()).prop_map(EthDst),
        masked(mac()).prop_map(EthSrc),
        any::<u16>().prop_map(EthType),
        masked(any::<u16>()).prop_map(VlanVid),
        any::<u8>().prop_map(VlanPcp),
        any::<u8>().prop_map(IpDscp),
        any::<u8>().prop_map(IpEcn),
        any::<u8>().prop_map(IpProto),
        masked(v4()).prop_map(Ipv4Src),
        masked(v4()).prop_map(Ipv4Dst),
        masked(any::<u16>()).prop_map(TcpSrc),
        masked(any::<u16>()).prop_map(TcpDst),
        masked(any::<u16>()).prop_map(UdpSrc),
        masked(any::<u16>()).prop_map(UdpDst),
        masked(any::<u16>()).prop_map(SctpSrc),
        masked(any::<u16>()).prop_map(SctpDst),
        any::<u8>().prop_map(Icmpv4Type),
        any::<u8>().prop_map(Icmpv4Code),
        any::<u16>().prop_map(ArpOp),
        masked(v4()).prop_map(ArpSpa),
        masked(v4()).prop_map(ArpTpa),
        masked(mac()).prop_map(ArpSha),
        masked(mac()).prop_map(ArpTha),
        masked(v6()).prop_map(Ipv6Src),
        masked(v6()).prop_map(Ipv6Dst),
        masked(any::<u32>()).prop_map(Ipv6Flabel),
        any::<u8>().prop_map(Icmpv6Type),
        any::<u8>().prop_map(Icmpv6Code),
        v6().prop_map(Ipv6NdTarget),
        mac().prop_map(Ipv6NdSll),
        mac().prop_map(Ipv6NdTll),
        any::<u32>().prop_map(MplsLabel),
        any::<u8>().prop_map(MplsTc),
        any::<u8>().prop_map(MplsBos),
        masked(any::<u64>()).prop_map(TunnelId),
        masked(any::<u16>()).prop_map(Ipv6Exthdr),
        (0u8..16, masked(any::<u32>())).prop_map(|(index, value)| Reg { index, value }),
        (0u8..8, masked(any::<u64>())).prop_map(|(index, value)| Xreg { index, value }),
        masked(v4()).prop_map(TunIpv4Src),
        masked(v4()).prop_map(TunIpv4Dst),
        masked(any::<u32>()).prop_map(PktMark),
        masked(any::<u16>()).prop_map(TcpFlags),
        any::<u32>().prop_map(ConjId),
        masked(any::<u32>()).prop_map(CtState),
        any::<u16>().prop_map(CtZone),
        masked(any::<u32>()).prop_map(CtMark),
        masked(any::<u128>()).prop_map(CtLabel),
        unknown_oxm(),
    ]
}

fn a_match() -> impl Strategy<Value = Match> {
    vec(oxm(), 0..6).prop_map(Match::from_fields)
}

fn nxm() -> impl Strategy<Value = NxmHeader> {
    (1u32..).prop_map(NxmHeader)
}

fn nat() -> impl Strategy<Value = Nat> {
    (
        any::<u16>(),
        proptest::option::of(v4()),
        proptest::option::of(v4()),
        proptest::option::of(v6()),
        proptest::option::of(v6()),
        proptest::option::of(any::<u16>()),
        proptest::option::of(any::<u16>()),
    )
        .prop_map(|(flags, a, b, c, d, e, f)| Nat {
            flags,
            ipv4_min: a,
            ipv4_max: b,
            ipv6_min: c,
            ipv6_max: d,
            proto_min: e,
            proto_max: f,
        })
}

/// Actions without `ct` (which may only appear at the top level).
fn leaf_action() -> impl Strategy<Value = Action> {
    use Action::*;
    prop_oneof![
        (any::<u32>(), any::<u16>()).prop_map(|(port, max_len)| Output { port, max_len }),
        Just(CopyTtlOut),
        Just(CopyTtlIn),
        any::<u8>().prop_map(SetMplsTtl),
        Just(DecMplsTtl),
        any::<u16>().prop_map(PushVlan),
        Just(PopVlan),
        any::<u16>().prop_map(PushMpls),
        any::<u16>().prop_map(PopMpls),
        any::<u32>().prop_map(SetQueue),
        any::<u32>().prop_map(Group),
        any::<u8>().prop_map(SetNwTtl),
        Just(DecNwTtl),
        oxm().prop_map(SetField),
        any::<u16>().prop_map(PushPbb),
        Just(PopPbb),
        (any::<u16>(), proptest::option::of(0u8..0xff))
            .prop_map(|(in_port, table)| Resubmit { in_port, table }),
        (any::<u16>(), any::<u16>(), any::<u16>(), nxm(), nxm()).prop_map(
            |(n_bits, src_ofs, dst_ofs, src, dst)| RegMove(
                contiv_dp_ovs::openflow::wire::RegMove {
                    n_bits,
                    src_ofs,
                    dst_ofs,
                    src,
                    dst
                }
            )
        ),
        (0u16..1024, 1u16..=64, nxm(), any::<u64>()).prop_map(|(ofs, n_bits, dst, value)| {
            RegLoad(contiv_dp_ovs::openflow::wire::RegLoad {
                ofs,
                n_bits,
                dst,
                value,
            })
        }),
        (0usize..4, any::<u8>()).prop_map(|(k, b)| Note(vec![b; 6 + 8 * k])),
        (any::<u32>(), any::<u8>(), any::<u8>()).prop_map(|(id, clause, n_clauses)| Conjunction {
            id,
            clause,
            n_clauses
        }),
        nat().prop_map(Nat),
        (any::<u16>(), any::<u16>(), any::<u8>()).prop_map(|(max_len, id, reason)| Controller {
            max_len,
            id,
            reason
        }),
        Just(CtClear),
        (28u16..0xfff0, 0usize..3, any::<u8>()).prop_map(|(t, k, b)| Unknown {
            action_type: t,
            payload: vec![b; 4 + 8 * k]
        }),
    ]
}

fn ct() -> impl Strategy<Value = Ct> {
    let zone = prop_oneof![
        any::<u16>().prop_map(CtZone::Imm),
        (nxm(), 0u16..1024, 1u16..=64).prop_map(|(field, ofs, n_bits)| CtZone::Field {
            field,
            ofs,
            n_bits
        }),
    ];
    (
        any::<u16>(),
        zone,
        proptest::option::of(0u8..0xff),
        any::<u16>(),
        vec(leaf_action(), 0..3),
    )
        .prop_map(|(flags, zone, recirc_table, alg, actions)| Ct {
            flags,
            zone,
            recirc_table,
            alg,
            actions,
        })
}

fn action() -> impl Strategy<Value = Action> {
    prop_oneof![8 => leaf_action(), 1 => ct().prop_map(Action::Ct)]
}

fn instruction() -> impl Strategy<Value = Instruction> {
    use Instruction::*;
    prop_oneof![
        any::<u8>().prop_map(GotoTable),
        (any::<u64>(), any::<u64>()).prop_map(|(value, mask)| WriteMetadata { value, mask }),
        vec(action(), 0..4).prop_map(WriteActions),
        vec(action(), 0..4).prop_map(ApplyActions),
        Just(ClearActions),
        any::<u32>().prop_map(Meter),
        (7u16..0xffff, 0usize..3, any::<u8>()).prop_map(|(t, k, b)| Unknown {
            instruction_type: t,
            payload: vec![b; 4 + 8 * k]
        }),
    ]
}

fn flow_mod() -> impl Strategy<Value = FlowMod> {
    let cmd = prop_oneof![
        Just(FlowModCommand::Add),
        Just(FlowModCommand::Modify),
        Just(FlowModCommand::ModifyStrict),
        Just(FlowModCommand::Delete),
        Just(FlowModCommand::DeleteStrict),
        (5u8..).prop_map(FlowModCommand::Other),
    ];
    (
        (any::<u64>(), any::<u64>(), any::<u8>(), cmd),
        (any::<u16>(), any::<u16>(), any::<u16>(), any::<u32>()),
        (any::<u32>(), any::<u32>(), any::<u16>()),
        a_match(),
        vec(instruction(), 0..4),
    )
        .prop_map(
            |(
                (cookie, cookie_mask, table_id, command),
                (idle_timeout, hard_timeout, priority, buffer_id),
                (out_port, out_group, flags),
                r#match,
                instructions,
            )| FlowMod {
                cookie,
                cookie_mask,
                table_id,
                command,
                idle_timeout,
                hard_timeout,
                priority,
                buffer_id,
                out_port,
                out_group,
                flags,
                r#match,
                instructions,
            },
        )
}

fn bucket() -> impl Strategy<Value = Bucket> {
    (
        any::<u16>(),
        any::<u32>(),
        any::<u32>(),
        vec(action(), 0..3),
    )
        .prop_map(|(weight, watch_port, watch_group, actions)| Bucket {
            weight,
            watch_port,
            watch_group,
            actions,
        })
}

fn group_type() -> impl Strategy<Value = GroupType> {
    prop_oneof![
        Just(GroupType::All),
        Just(GroupType::Select),
        Just(GroupType::Indirect),
        Just(GroupType::FastFailover),
        (4u8..).prop_map(GroupType::Other),
    ]
}

fn group_mod() -> impl Strategy<Value = GroupMod> {
    let cmd = prop_oneof![
        Just(GroupModCommand::Add),
        Just(GroupModCommand::Modify),
        Just(GroupModCommand::Delete),
        (3u16..).prop_map(GroupModCommand::Other),
    ];
    (cmd, group_type(), any::<u32>(), vec(bucket(), 0..3)).prop_map(
        |(command, group_type, group_id, buckets)| GroupMod {
            command,
            group_type,
            group_id,
            buckets,
        },
    )
}

fn port() -> impl Strategy<Value = Port> {
    (any::<u32>(), mac(), ascii(15), any::<[u32; 8]>()).prop_map(|(port_no, hw_addr, name, v)| {
        Port {
            port_no,
            hw_addr,
            name,
            config: v[0],
            state: v[1],
            curr: v[2],
            advertised: v[3],
            supported: v[4],
            peer: v[5],
            curr_speed: v[6],
            max_speed: v[7],
        }
    })
}

fn flow_stats() -> impl Strategy<Value = FlowStats> {
    (
        (any::<u8>(), any::<u32>(), any::<u32>(), any::<u16>()),
        (any::<u16>(), any::<u16>(), any::<u16>(), any::<u64>()),
        (any::<u64>(), any::<u64>()),
        a_match(),
        vec(instruction(), 0..3),
    )
        .prop_map(
            |((t, ds, dn, p), (it, ht, fl, c), (pc, bc), m, i)| FlowStats {
                table_id: t,
                duration_sec: ds,
                duration_nsec: dn,
                priority: p,
                idle_timeout: it,
                hard_timeout: ht,
                flags: fl,
                cookie: c,
                packet_count: pc,
                byte_count: bc,
                r#match: m,
                instructions: i,
            },
        )
}

fn flow_stats_request() -> impl Strategy<Value = FlowStatsRequest> {
    (
        any::<u8>(),
        any::<u32>(),
        any::<u32>(),
        any::<u64>(),
        any::<u64>(),
        a_match(),
    )
        .prop_map(
            |(table_id, out_port, out_group, cookie, cookie_mask, r#match)| FlowStatsRequest {
                table_id,
                out_port,
                out_group,
                cookie,
                cookie_mask,
                r#match,
            },
        )
}

const KNOWN_MP: [u16; 7] = [0, 1, 2, 4, 6, 7, 13];

fn mp_request() -> impl Strategy<Value = MultipartRequest> {
    use MultipartRequestBody as B;
    let body = prop_oneof![
        Just(B::Desc),
        flow_stats_request().prop_map(B::Flow),
        flow_stats_request().prop_map(B::Aggregate),
        any::<u32>().prop_map(|port_no| B::PortStats { port_no }),
        any::<u32>().prop_map(|group_id| B::GroupStats { group_id }),
        Just(B::GroupDesc),
        Just(B::PortDesc),
        (
            any::<u16>().prop_filter("known type", |t| !KNOWN_MP.contains(t)),
            vec(any::<u8>(), 0..24)
        )
            .prop_map(|(mp_type, body)| B::Other { mp_type, body }),
    ];
    (any::<u16>(), body).prop_map(|(flags, body)| MultipartRequest { flags, body })
}

fn mp_reply() -> impl Strategy<Value = MultipartReply> {
    use MultipartReplyBody as B;
    let desc =
        (ascii(255), ascii(255), ascii(255), ascii(31), ascii(255)).prop_map(|(a, b, c, d, e)| {
            Desc {
                mfr_desc: a,
                hw_desc: b,
                sw_desc: c,
                serial_num: d,
                dp_desc: e,
            }
        });
    let port_stats =
        (any::<u32>(), any::<[u64; 12]>(), any::<u32>(), any::<u32>()).prop_map(|(p, c, s, n)| {
            PortStats {
                port_no: p,
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
                duration_sec: s,
                duration_nsec: n,
            }
        });
    let group_stats = (
        any::<[u32; 4]>(),
        any::<[u64; 2]>(),
        vec(any::<(u64, u64)>(), 0..3),
    )
        .prop_map(|(a, b, bs)| GroupStats {
            group_id: a[0],
            ref_count: a[1],
            packet_count: b[0],
            byte_count: b[1],
            duration_sec: a[2],
            duration_nsec: a[3],
            bucket_stats: bs,
        });
    let group_desc = (group_type(), any::<u32>(), vec(bucket(), 0..3)).prop_map(
        |(group_type, group_id, buckets)| GroupDesc {
            group_type,
            group_id,
            buckets,
        },
    );
    let body = prop_oneof![
        desc.prop_map(B::Desc),
        vec(flow_stats(), 0..3).prop_map(B::Flow),
        (any::<u64>(), any::<u64>(), any::<u32>()).prop_map(|(p, b, f)| B::Aggregate(
            AggregateStats {
                packet_count: p,
                byte_count: b,
                flow_count: f
            }
        )),
        vec(port_stats, 0..3).prop_map(B::PortStats),
        vec(group_stats, 0..3).prop_map(B::GroupStats),
        vec(group_desc, 0..3).prop_map(B::GroupDesc),
        vec(port(), 0..3).prop_map(B::PortDesc),
        (
            any::<u16>().prop_filter("known type", |t| !KNOWN_MP.contains(t)),
            vec(any::<u8>(), 0..24)
        )
            .prop_map(|(mp_type, body)| B::Other { mp_type, body }),
    ];
    (any::<u16>(), body).prop_map(|(flags, body)| MultipartReply { flags, body })
}

fn error_msg() -> impl Strategy<Value = ErrorMsg> {
    prop_oneof![
        (0u16..0xffff, any::<u16>(), vec(any::<u8>(), 0..40))
            .prop_map(|(t, c, d)| ErrorMsg::new(t, c, d)),
        (any::<u16>(), any::<u32>(), vec(any::<u8>(), 0..40)).prop_map(|(c, e, d)| ErrorMsg {
            err_type: error_type::EXPERIMENTER,
            code: c,
            experimenter: Some(e),
            data: d
        }),
    ]
}

fn bundle_ctrl_type() -> impl Strategy<Value = BundleCtrlType> {
    use BundleCtrlType::*;
    prop_oneof![
        Just(OpenRequest),
        Just(OpenReply),
        Just(CloseRequest),
        Just(CloseReply),
        Just(CommitRequest),
        Just(CommitReply),
        Just(DiscardRequest),
        Just(DiscardReply),
        (8u16..).prop_map(Other),
    ]
}

/// Messages that can travel inside a bundle add.
fn inner_message() -> impl Strategy<Value = Message> {
    prop_oneof![
        flow_mod().prop_map(Message::FlowMod),
        group_mod().prop_map(Message::GroupMod),
        Just(Message::BarrierRequest),
        vec(any::<u8>(), 0..16).prop_map(Message::EchoRequest),
    ]
}

fn message() -> impl Strategy<Value = Message> {
    use Message as M;
    let role = prop_oneof![
        Just(Role::NoChange),
        Just(Role::Equal),
        Just(Role::Master),
        Just(Role::Slave),
        (4u32..).prop_map(Role::Other)
    ];
    let role_req = (role, any::<u64>()).prop_map(|(role, generation_id)| RoleRequest {
        role,
        generation_id,
    });
    let reason = prop_oneof![
        Just(PortStatusReason::Add),
        Just(PortStatusReason::Delete),
        Just(PortStatusReason::Modify),
        (3u8..).prop_map(PortStatusReason::Other)
    ];
    prop_oneof![
        (any::<u8>(), vec(any::<u32>(), 0..3))
            .prop_map(|(version, bitmaps)| M::Hello(Hello { version, bitmaps })),
        error_msg().prop_map(M::Error),
        vec(any::<u8>(), 0..32).prop_map(M::EchoRequest),
        vec(any::<u8>(), 0..32).prop_map(M::EchoReply),
        Just(M::FeaturesRequest),
        (
            any::<u64>(),
            any::<u32>(),
            any::<u8>(),
            any::<u8>(),
            any::<u32>(),
            any::<u32>()
        )
            .prop_map(
                |(datapath_id, n_buffers, n_tables, auxiliary_id, capabilities, reserved)| {
                    M::FeaturesReply(FeaturesReply {
                        datapath_id,
                        n_buffers,
                        n_tables,
                        auxiliary_id,
                        capabilities,
                        reserved,
                    })
                }
            ),
        Just(M::GetConfigRequest),
        (any::<u16>(), any::<u16>()).prop_map(|(flags, miss_send_len)| M::GetConfigReply(
            SwitchConfig {
                flags,
                miss_send_len
            }
        )),
        (any::<u16>(), any::<u16>()).prop_map(|(flags, miss_send_len)| M::SetConfig(
            SwitchConfig {
                flags,
                miss_send_len
            }
        )),
        (
            any::<u32>(),
            any::<u16>(),
            any::<u8>(),
            any::<u8>(),
            any::<u64>(),
            a_match(),
            vec(any::<u8>(), 0..64)
        )
            .prop_map(
                |(buffer_id, total_len, reason, table_id, cookie, r#match, data)| M::PacketIn(
                    PacketIn {
                        buffer_id,
                        total_len,
                        reason,
                        table_id,
                        cookie,
                        r#match,
                        data
                    }
                )
            ),
        (
            (any::<u64>(), any::<u16>(), any::<u8>(), any::<u8>()),
            any::<[u32; 2]>(),
            any::<[u16; 2]>(),
            any::<[u64; 2]>(),
            a_match()
        )
            .prop_map(|((cookie, priority, reason, table_id), d, t, c, r#match)| {
                M::FlowRemoved(FlowRemoved {
                    cookie,
                    priority,
                    reason,
                    table_id,
                    duration_sec: d[0],
                    duration_nsec: d[1],
                    idle_timeout: t[0],
                    hard_timeout: t[1],
                    packet_count: c[0],
                    byte_count: c[1],
                    r#match,
                })
            }),
        (reason, port()).prop_map(|(reason, desc)| M::PortStatus(PortStatus { reason, desc })),
        (
            any::<u32>(),
            any::<u32>(),
            vec(action(), 0..3),
            vec(any::<u8>(), 0..64)
        )
            .prop_map(
                |(buffer_id, in_port, actions, data)| M::PacketOut(PacketOut {
                    buffer_id,
                    in_port,
                    actions,
                    data
                })
            ),
        flow_mod().prop_map(M::FlowMod),
        group_mod().prop_map(M::GroupMod),
        mp_request().prop_map(M::MultipartRequest),
        mp_reply().prop_map(M::MultipartReply),
        Just(M::BarrierRequest),
        Just(M::BarrierReply),
        role_req.clone().prop_map(M::RoleRequest),
        role_req.prop_map(M::RoleReply),
        (
            any::<u32>(),
            bundle_ctrl_type(),
            any::<u16>(),
            vec(any::<u8>(), 0..16)
        )
            .prop_map(
                |(bundle_id, ctrl_type, flags, properties)| M::BundleControl(BundleControl {
                    bundle_id,
                    ctrl_type,
                    flags,
                    properties
                })
            ),
        (any::<u32>(), any::<u16>(), inner_message()).prop_map(|(bundle_id, flags, m)| {
            M::BundleAdd(BundleAdd {
                bundle_id,
                flags,
                message: Box::new(m),
            })
        }),
        (
            any::<u32>().prop_filter("ONF", |e| *e != ONF_EXPERIMENTER),
            any::<u32>(),
            vec(any::<u8>(), 0..24)
        )
            .prop_map(|(experimenter, exp_type, data)| M::Experimenter {
                experimenter,
                exp_type,
                data
            }),
        (
            prop_oneof![
                Just(16u8),
                Just(17),
                Just(22),
                Just(23),
                Just(26),
                Just(27),
                Just(28),
                Just(29),
                30u8..
            ],
            vec(any::<u8>(), 0..24)
        )
            .prop_map(|(msg_type, body)| M::Unknown { msg_type, body }),
    ]
}

proptest! {
    #![proptest_config(ProptestConfig {
        cases: 512,
        // Failures are reported with their minimal input; no files are
        // written into the source tree.
        failure_persistence: None,
        ..ProptestConfig::default()
    })]

    /// The borrowed flow-mod (what the pipeline sends) encodes to exactly
    /// the bytes of the owned one, inside a bundle add, and decodes back.
    #[test]
    fn flow_mod_view_encodes_like_the_owned_flow_mod(
        fm in flow_mod(),
        xid in any::<u32>(),
        bundle in any::<u32>(),
        flags in any::<u16>(),
    ) {
        let mut owned = vec![0xaa];
        let r1 = encode_bundle_add(bundle, flags, xid, &Message::FlowMod(fm.clone()), &mut owned);
        let mut viewed = vec![0xaa];
        let r2 = encode_bundle_flow_mod(bundle, flags, xid, &fm.view(), &mut viewed);
        prop_assert_eq!(r1.is_ok(), r2.is_ok());
        prop_assert_eq!(&owned, &viewed);
        prop_assert_eq!(fm.view().to_owned(), fm.clone());
        if r1.is_ok() {
            let (x, m, n) = decode(&viewed[1..]).unwrap();
            prop_assert_eq!(x, xid);
            prop_assert_eq!(n, viewed.len() - 1);
            prop_assert_eq!(
                m,
                Message::BundleAdd(BundleAdd { bundle_id: bundle, flags, message: Box::new(Message::FlowMod(fm)) })
            );
        }
    }

    #[test]
    fn every_message_roundtrips(m in message(), xid in any::<u32>()) {
        let mut buf = Vec::new();
        encode(&m, xid, &mut buf).unwrap();
        prop_assert_eq!(buf.len(), m.buffer_len());
        let (x, back, used) = decode(&buf).unwrap();
        prop_assert_eq!(x, xid);
        prop_assert_eq!(used, buf.len());
        prop_assert_eq!(back, m);
    }

    #[test]
    fn every_oxm_field_roundtrips(f in oxm()) {
        let mut buf = vec![0u8; f.buffer_len()];
        f.emit(&mut buf).unwrap();
        let tlv = OxmTlv::new_checked(&buf[..]).unwrap();
        prop_assert_eq!(tlv.total_len(), buf.len());
        prop_assert_eq!(OxmField::parse(&tlv).unwrap(), f);
    }

    #[test]
    fn every_match_roundtrips(m in a_match()) {
        let mut buf = vec![0u8; m.buffer_len()];
        m.emit(&mut buf).unwrap();
        prop_assert_eq!(buf.len() % 8, 0);
        let (back, used) = Match::parse(&buf).unwrap();
        prop_assert_eq!(used, buf.len());
        prop_assert_eq!(back, m);
    }

    #[test]
    fn every_action_roundtrips(a in action()) {
        let mut buf = vec![0u8; a.buffer_len()];
        a.emit(&mut buf).unwrap();
        prop_assert_eq!(buf.len() % 8, 0);
        let tlv = ActionTlv::new_checked(&buf[..]).unwrap();
        prop_assert_eq!(Action::parse(&tlv).unwrap(), a);
    }

    #[test]
    fn every_instruction_roundtrips(i in instruction()) {
        let mut buf = vec![0u8; i.buffer_len()];
        i.emit(&mut buf).unwrap();
        let tlv = InstructionTlv::new_checked(&buf[..]).unwrap();
        prop_assert_eq!(Instruction::parse(&tlv).unwrap(), i);
    }

    #[test]
    fn match_field_order_does_not_matter(mut fields in vec(oxm(), 0..6)) {
        // Holds for matches without duplicate fields (OVS rejects those).
        let mut seen = std::collections::HashSet::new();
        fields.retain(|f| seen.insert(f.header() & !0x1ff));
        let mut rev = fields.clone();
        rev.reverse();
        prop_assert_eq!(Match::from_fields(fields), Match::from_fields(rev));
    }

    #[test]
    fn decoders_never_panic_on_arbitrary_bytes(b in vec(any::<u8>(), 0..512)) {
        let _ = decode(&b);
        let _ = Match::parse(&b);
        let _ = Action::read_list(&b);
        let _ = Instruction::read_list(&b);
        if let Ok(t) = OxmTlv::new_checked(&b[..]) {
            let _ = OxmField::parse(&t);
        }
        if let Ok(t) = ActionTlv::new_checked(&b[..]) {
            let _ = Action::parse(&t);
        }
        if let Ok(h) = Header::new_checked(&b[..]) {
            let _ = Message::parse(&h);
        }
    }

    #[test]
    fn decoders_never_panic_on_corrupted_messages(
        m in message(),
        flips in vec((any::<prop::sample::Index>(), any::<u8>()), 1..6),
        cut in any::<prop::sample::Index>(),
    ) {
        let mut buf = Vec::new();
        encode(&m, 1, &mut buf).unwrap();
        for (i, v) in flips {
            let i = i.index(buf.len());
            buf[i] = v;
        }
        let _ = decode(&buf);
        let n = cut.index(buf.len() + 1);
        let _ = decode(&buf[..n]);
    }

    #[test]
    fn truncating_a_message_is_an_error_not_a_panic(m in message(), cut in any::<prop::sample::Index>()) {
        let mut buf = Vec::new();
        encode(&m, 1, &mut buf).unwrap();
        let n = cut.index(buf.len());
        prop_assert!(decode(&buf[..n]).is_err());
    }
}
