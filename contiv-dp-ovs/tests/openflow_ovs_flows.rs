//! The OpenFlow codec and connection against a real ovs-vswitchd (userspace
//! datapath, private rundir): flows we emit are accepted and dump as the
//! expected text, what OVS sends back (flow/group/port stats, errors)
//! parses, bundles are atomic and name the failing message.

// Test code: a failed unwrap is a test failure with its message.
#![allow(clippy::unwrap_used)]

use contiv_dp_ovs::openflow::conn::{AsyncMessage, ConnError, Connection, Events};
use contiv_dp_ovs::openflow::wire::*;
use contiv_dp_ovs::testing::OvsInstance;
use std::net::Ipv4Addr;
use std::time::Duration;

fn ip(s: &str) -> Ipv4Addr {
    s.parse().unwrap()
}

fn mac(s: &str) -> MacAddr {
    s.parse().unwrap()
}

async fn bridge() -> (OvsInstance, Connection, Events) {
    let ovs = OvsInstance::start().expect("start OVS");
    ovs.add_bridge("br0").expect("add bridge");
    let (c, ev) = Connection::connect_unix(ovs.mgmt_socket("br0"))
        .await
        .expect("connect to br0.mgmt");
    (ovs, c, ev)
}

/// Flows covering what the pipeline needs (ofnet's table layout, conntrack,
/// NAT, conjunction, an ARP responder, VXLAN/VLAN forwarding, registers),
/// paired with how `ovs-ofctl -O OpenFlow13 dump-flows` prints them.
fn pipeline_flows() -> Vec<(FlowMod, &'static str)> {
    let router = mac("00:00:11:11:11:11");
    vec![
        (
            FlowMod::add(0, 100).matching(
                Match::new().eth_src_masked(mac("01:00:00:00:00:00"), mac("01:00:00:00:00:00")),
            ),
            "table=0 priority=100,dl_src=01:00:00:00:00:00/01:00:00:00:00:00 actions=drop",
        ),
        (
            FlowMod::add(0, 100)
                .matching(Match::new().eth_type(0x0806).arp_op(1))
                .apply(vec![Action::to_controller()]),
            "table=0 priority=100,arp,arp_op=1 actions=CONTROLLER:65535",
        ),
        (
            FlowMod::add(0, 1).goto(1),
            "table=0 priority=1 actions=goto_table:1",
        ),
        (
            FlowMod::add(1, 10)
                .matching(Match::new().in_port_is(12))
                .write_metadata(0x1_0064_0000, 0xff_7fff_0000)
                .goto(3),
            "table=1 priority=10,in_port=12 actions=write_metadata:0x100640000/0xff7fff0000,goto_table:3",
        ),
        (
            FlowMod::add(1, 10)
                .matching(Match::new().in_port_is(14))
                .apply(vec![
                    Action::PushVlan(0x8100),
                    Action::SetField(OxmField::VlanVid(Masked::exact(0x1001))),
                ])
                .write_metadata(0x1_0000_0000, 0xff_0000_0000)
                .goto(3),
            "table=1 priority=10,in_port=14 actions=push_vlan:0x8100,set_field:4097->vlan_vid,\
             write_metadata:0x100000000/0xff00000000,goto_table:3",
        ),
        (
            FlowMod::add(4, 100)
                .matching(
                    Match::new()
                        .eth_type(0x0800)
                        .metadata_masked(0x1_0000_0000, 0xff_0000_0000)
                        .ipv4_dst(ip("10.2.2.2")),
                )
                .write_metadata(0xc8, 0xfffe)
                .goto(5),
            "table=4 priority=100,ip,metadata=0x100000000/0xff00000000,nw_dst=10.2.2.2 \
             actions=write_metadata:0xc8/0xfffe,goto_table:5",
        ),
        (
            FlowMod::add(5, 110)
                .matching(
                    Match::new()
                        .eth_type(0x0800)
                        .ip_proto(6)
                        .metadata_masked(0x64_0190, 0x7fff_fffe)
                        .ipv4_src_net("10.10.10.0/24".parse().unwrap())
                        .ipv4_dst_net("10.1.1.0/24".parse().unwrap())
                        .tcp_src(200)
                        .tcp_dst(100),
                )
                .goto(6),
            "table=5 priority=110,tcp,metadata=0x640190/0x7ffffffe,nw_src=10.10.10.0/24,\
             nw_dst=10.1.1.0/24,tp_src=200,tp_dst=100 actions=goto_table:6",
        ),
        (
            FlowMod::add(5, 50).matching(
                Match::new()
                    .eth_type(0x0800)
                    .ip_proto(6)
                    .tcp_flags(0x002, 0x012),
            ),
            "table=5 priority=50,tcp,tcp_flags=+syn-ack actions=drop",
        ),
        (
            FlowMod::add(2, 10)
                .matching(Match::new().eth_type(0x0800))
                .apply(vec![Action::Ct(Ct::new().zone(CtZone::Imm(1)).table(3))]),
            "table=2 priority=10,ip actions=ct(table=3,zone=1)",
        ),
        (
            FlowMod::add(3, 100)
                .matching(
                    Match::new()
                        .eth_type(0x0800)
                        .ct_state(ct_state::TRK | ct_state::EST, ct_state::TRK | ct_state::EST),
                )
                .goto(6),
            "table=3 priority=100,ct_state=+est+trk,ip actions=goto_table:6",
        ),
        (
            FlowMod::add(3, 50)
                .matching(
                    Match::new()
                        .eth_type(0x0800)
                        .ip_proto(6)
                        .ct_state(ct_state::TRK | ct_state::NEW, ct_state::TRK | ct_state::NEW)
                        .ipv4_dst(ip("10.0.0.2"))
                        .tcp_dst(8888),
                )
                .apply(vec![
                    Action::Ct(Ct::new().commit().zone(CtZone::Imm(1))),
                    Action::output(port_no::NORMAL),
                ]),
            "table=3 priority=50,ct_state=+new+trk,tcp,nw_dst=10.0.0.2,tp_dst=8888 \
             actions=ct(commit,zone=1),NORMAL",
        ),
        (
            FlowMod::add(3, 10)
                .matching(
                    Match::new()
                        .eth_type(0x0800)
                        .ct_state(ct_state::TRK | ct_state::NEW, ct_state::TRK | ct_state::NEW),
                )
                .apply(vec![Action::Ct(
                    Ct::new()
                        .commit()
                        .zone(CtZone::Imm(2))
                        .action(Action::Nat(Nat::dnat(ip("10.0.0.9")))),
                )]),
            "table=3 priority=10,ct_state=+new+trk,ip actions=ct(commit,zone=2,nat(dst=10.0.0.9))",
        ),
        (
            FlowMod::add(3, 9)
                .matching(Match::new().eth_type(0x0800).ip_proto(6))
                .apply(vec![Action::Ct(
                    Ct::new()
                        .commit()
                        .zone(CtZone::Imm(2))
                        .table(4)
                        .action(Action::Nat(
                            Nat::snat(ip("10.0.0.1"))
                                .ipv4_range_to(ip("10.0.0.5"))
                                .ports(100, 200),
                        )),
                )]),
            "table=3 priority=9,tcp actions=ct(commit,table=4,zone=2,nat(src=10.0.0.1-10.0.0.5:100-200))",
        ),
        (
            FlowMod::add(3, 8)
                .matching(Match::new().eth_type(0x0800))
                .apply(vec![Action::Ct(
                    Ct::new()
                        .commit()
                        .force()
                        .zone(CtZone::Field {
                            field: NxmHeader::reg(4),
                            ofs: 0,
                            n_bits: 16,
                        })
                        .action(Action::SetField(OxmField::CtMark(Masked::exact(1)))),
                )]),
            "table=3 priority=8,ip actions=ct(commit,force,zone=NXM_NX_REG4[0..15],exec(set_field:0x1->ct_mark))",
        ),
        (
            FlowMod::add(5, 20)
                .matching(
                    Match::new()
                        .eth_type(0x0800)
                        .ipv4_src_net("10.0.0.0/8".parse().unwrap()),
                )
                .apply(vec![Action::conjunction(7, 1, 2)]),
            "table=5 priority=20,ip,nw_src=10.0.0.0/8 actions=conjunction(7,1/2)",
        ),
        (
            FlowMod::add(5, 20)
                .matching(Match::new().eth_type(0x0800).ip_proto(6).tcp_dst(80))
                .apply(vec![Action::conjunction(7, 2, 2)]),
            "table=5 priority=20,tcp,tp_dst=80 actions=conjunction(7,2/2)",
        ),
        (
            FlowMod::add(5, 20)
                .matching(Match::new().eth_type(0x0800).conj_id(7))
                .goto(6),
            "table=5 priority=20,conj_id=7,ip actions=goto_table:6",
        ),
        (
            FlowMod::add(0, 200)
                .matching(
                    Match::new()
                        .eth_type(0x0806)
                        .arp_op(1)
                        .arp_tpa(ip("10.0.0.1")),
                )
                .apply(vec![
                    Action::move_field(NxmHeader::ETH_SRC, NxmHeader::ETH_DST),
                    Action::SetField(OxmField::EthSrc(Masked::exact(router))),
                    Action::SetField(OxmField::ArpOp(2)),
                    Action::move_field(NxmHeader::ARP_SHA, NxmHeader::ARP_THA),
                    Action::move_field(NxmHeader::ARP_SPA, NxmHeader::ARP_TPA),
                    Action::SetField(OxmField::ArpSha(Masked::exact(router))),
                    Action::SetField(OxmField::ArpSpa(Masked::exact(ip("10.0.0.1")))),
                    Action::output(port_no::IN_PORT),
                ]),
            "table=0 priority=200,arp,arp_tpa=10.0.0.1,arp_op=1 \
             actions=move:NXM_OF_ETH_SRC[]->NXM_OF_ETH_DST[],set_field:00:00:11:11:11:11->eth_src,\
             set_field:2->arp_op,move:NXM_NX_ARP_SHA[]->NXM_NX_ARP_THA[],\
             move:NXM_OF_ARP_SPA[]->NXM_OF_ARP_TPA[],set_field:00:00:11:11:11:11->arp_sha,\
             set_field:10.0.0.1->arp_spa,IN_PORT",
        ),
        (
            FlowMod::add(9, 10)
                .matching(Match::new().vlan_vid(1).metadata_masked(0, 1))
                .apply(vec![Action::Group(1)]),
            "table=9 priority=10,metadata=0/0x1,dl_vlan=1 actions=group:1",
        ),
        (
            FlowMod::add(9, 100)
                .matching(Match::new().vlan_vid(1).eth_dst(mac("02:02:0a:01:01:01")))
                .apply(vec![Action::PopVlan, Action::output(3)]),
            "table=9 priority=100,dl_vlan=1,dl_dst=02:02:0a:01:01:01 actions=pop_vlan,output:3",
        ),
        (
            FlowMod::add(9, 100)
                .matching(Match::new().vlan_vid(1).eth_dst(mac("02:02:0a:01:01:02")))
                .apply(vec![
                    Action::PopVlan,
                    Action::SetField(OxmField::TunnelId(Masked::exact(5000))),
                    Action::output(4),
                ]),
            "table=9 priority=100,dl_vlan=1,dl_dst=02:02:0a:01:01:02 \
             actions=pop_vlan,set_field:0x1388->tun_id,output:4",
        ),
        (
            FlowMod::add(6, 5)
                .cookie(0xabc)
                .timeouts(30, 0)
                .matching(
                    Match::new()
                        .eth_type(0x0800)
                        .reg_masked(0, 5, 0xff)
                        .ct_mark_masked(1, 1)
                        .ct_zone(3)
                        .tunnel_id(5000)
                        .tun_ipv4_src(ip("172.31.77.2")),
                )
                .apply(vec![
                    Action::resubmit(7),
                    Action::Controller {
                        max_len: 128,
                        id: 3,
                        reason: packet_in_reason::NO_MATCH,
                    },
                    Action::Note(vec![1, 2, 3, 4, 5, 6]),
                    Action::load(NxmHeader::reg(3), 0, 16, 5),
                    Action::SetField(OxmField::Reg {
                        index: 1,
                        value: Masked::exact(9),
                    }),
                    Action::DecNwTtl,
                    Action::SetQueue(3),
                    Action::CtClear,
                ]),
            "table=6 idle_timeout=30 priority=5,ct_zone=3,ct_mark=0x1/0x1,ip,reg0=0x5/0xff,\
             tun_id=0x1388,tun_src=172.31.77.2 actions=resubmit(,7),\
             controller(reason=no_match,max_len=128,id=3),note:01.02.03.04.05.06,\
             load:0x5->NXM_NX_REG3[0..15],set_field:0x9->reg1,dec_ttl,set_queue:3,ct_clear",
        ),
        (
            FlowMod::add(4, 100)
                .matching(
                    Match::new()
                        .eth_type(0x86dd)
                        .ipv6_dst_net("fd00::1/128".parse().unwrap()),
                )
                .goto(5),
            "table=4 priority=100,ipv6,ipv6_dst=fd00::1 actions=goto_table:5",
        ),
        (
            FlowMod::add(5, 30)
                .matching(
                    Match::new()
                        .eth_type(0x0800)
                        .ip_proto(17)
                        .udp_dst_masked(0x1000, 0xf000),
                )
                .goto(6),
            "table=5 priority=30,udp,tp_dst=0x1000/0xf000 actions=goto_table:6",
        ),
        (
            FlowMod::add(5, 31).matching(
                Match::new()
                    .eth_type(0x0800)
                    .ip_proto(1)
                    .icmp_type(8)
                    .icmp_code(0),
            ),
            "table=5 priority=31,icmp,icmp_type=8,icmp_code=0 actions=drop",
        ),
    ]
}

fn flood_group() -> GroupMod {
    GroupMod::add(
        1,
        GroupType::All,
        vec![
            Bucket::new(vec![Action::output(3)]),
            Bucket::new(vec![
                Action::SetField(OxmField::TunnelId(Masked::exact(5000))),
                Action::output(4),
            ]),
        ],
    )
}

fn sorted(mut v: Vec<String>) -> Vec<String> {
    v.sort();
    v
}

#[tokio::test]
async fn emitted_flows_are_accepted_and_dump_as_expected() {
    let (ovs, c, _ev) = bridge().await;
    c.send_checked(&[Message::GroupMod(flood_group())])
        .await
        .unwrap();
    let flows = pipeline_flows();
    c.send_flow_mods_in_bundle(flows.iter().map(|(f, _)| f.clone()).collect())
        .await
        .unwrap();
    let got = ovs.dump_flow_strings("br0").unwrap();
    let want: Vec<String> = flows.iter().map(|(_, s)| s.to_string()).collect();
    assert_eq!(sorted(got), sorted(want));
    let cookies: Vec<u64> = ovs
        .dump_flows("br0")
        .unwrap()
        .iter()
        .filter(|f| f.table == 6)
        .map(|f| f.cookie)
        .collect();
    assert_eq!(cookies, vec![0xabc]);
    let groups = ovs.ofctl13("dump-groups", "br0", &[]).unwrap();
    assert!(
        groups.contains(
            "group_id=1,type=all,bucket=actions=output:3,\
             bucket=actions=set_field:0x1388->tun_id,output:4"
        ),
        "{groups}"
    );
}

#[tokio::test]
async fn flow_stats_from_ovs_parse_back_to_the_flows_we_sent() {
    let (_ovs, c, _ev) = bridge().await;
    c.send_checked(&[Message::GroupMod(flood_group())])
        .await
        .unwrap();
    let flows: Vec<FlowMod> = pipeline_flows().into_iter().map(|(f, _)| f).collect();
    c.send_flow_mods_in_bundle(flows.clone()).await.unwrap();
    let stats = c.flow_stats(FlowStatsRequest::all()).await.unwrap();
    assert_eq!(stats.len(), flows.len());
    for f in &flows {
        let s = stats
            .iter()
            .find(|s| {
                s.table_id == f.table_id && s.priority == f.priority && s.r#match == f.r#match
            })
            .unwrap_or_else(|| panic!("no flow-stats entry parses to the match {:?}", f.r#match));
        assert_eq!(s.instructions, f.instructions, "{f:?}");
        assert_eq!((s.cookie, s.idle_timeout), (f.cookie, f.idle_timeout));
    }
    // Selecting by table and cookie.
    let only = c
        .flow_stats(FlowStatsRequest {
            cookie: 0xabc,
            cookie_mask: u64::MAX,
            ..FlowStatsRequest::all()
        })
        .await
        .unwrap();
    assert_eq!(only.len(), 1);
    assert_eq!(only[0].table_id, 6);
    // xreg matches come back as the two 32-bit registers they alias.
    c.send_flow_mods_in_bundle(vec![FlowMod::add(7, 1).matching(Match::new().xreg_masked(
        2,
        0x0000_0001_0000_0010,
        0x0000_00ff_0000_00ff,
    ))])
    .await
    .unwrap();
    let x = c
        .flow_stats(FlowStatsRequest {
            table_id: 7,
            ..FlowStatsRequest::all()
        })
        .await
        .unwrap();
    assert_eq!(
        x[0].r#match,
        Match::new()
            .reg_masked(4, 1, 0xff)
            .reg_masked(5, 0x10, 0xff)
    );
}

#[tokio::test]
async fn multipart_flow_stats_spanning_many_replies_are_assembled() {
    let (ovs, c, _ev) = bridge().await;
    let n = 3000u32;
    let flows: Vec<FlowMod> = (0..n)
        .map(|i| {
            FlowMod::add(1, 100)
                .cookie(u64::from(i))
                .matching(
                    Match::new()
                        .eth_type(0x0800)
                        .ipv4_dst(Ipv4Addr::from(0x0a00_0000 + i)),
                )
                .apply(vec![Action::output(2)])
        })
        .collect();
    c.send_flow_mods_in_bundle(flows).await.unwrap();
    let stats = c.flow_stats(FlowStatsRequest::all()).await.unwrap();
    // ~100 bytes per entry: OVS splits this into several replies (≤ 64 KiB
    // each) flagged MORE; all of them are here, each once.
    assert_eq!(stats.len() as u32, n);
    let mut cookies: Vec<u64> = stats.iter().map(|s| s.cookie).collect();
    cookies.sort_unstable();
    cookies.dedup();
    assert_eq!(cookies.len() as u32, n);
    let agg = c
        .multipart(MultipartRequestBody::Aggregate(FlowStatsRequest::all()))
        .await
        .unwrap();
    assert!(
        matches!(agg, MultipartReplyBody::Aggregate(a) if a.flow_count == n),
        "{agg:?}"
    );
    assert_eq!(ovs.dump_flows("br0").unwrap().len() as u32, n);
}

#[tokio::test]
async fn failed_bundle_commit_names_the_message_and_applies_nothing() {
    let (ovs, c, _ev) = bridge().await;
    let mut flows: Vec<FlowMod> = (0..10u32)
        .map(|i| {
            FlowMod::add(0, 10)
                .matching(Match::new().in_port_is(i + 1))
                .goto(1)
        })
        .collect();
    // Group 99 does not exist: OVS only finds out at commit time.
    flows[7] = FlowMod::add(0, 12)
        .matching(Match::new().in_port_is(100))
        .apply(vec![Action::Group(99)]);
    let err = c.send_flow_mods_in_bundle(flows).await.unwrap_err();
    let ConnError::Batch(b) = err else {
        panic!("expected a batch error, got {err:?}")
    };
    assert!(b.bundle);
    assert_eq!(b.failures.len(), 1, "{b:?}");
    assert_eq!(b.failures[0].0, 7);
    assert_eq!(b.failures[0].1.name(), Some("OFPBAC_BAD_OUT_GROUP"));
    assert!(b.commit.as_ref().is_some_and(|c| c.is_bundle_msg_failed()));
    assert!(
        b.to_string().contains("message #7") && b.to_string().contains("nothing was applied"),
        "{b}"
    );
    assert!(ovs.dump_flows("br0").unwrap().is_empty());
    // The connection is still usable and a good bundle commits.
    c.send_flow_mods_in_bundle(vec![FlowMod::add(0, 1).goto(1)])
        .await
        .unwrap();
    assert_eq!(
        ovs.dump_flow_strings("br0").unwrap(),
        vec!["table=0 priority=1 actions=goto_table:1"]
    );
}

#[tokio::test]
async fn bundle_add_rejected_before_commit_is_discarded() {
    let (ovs, c, _ev) = bridge().await;
    let flows = vec![
        FlowMod::add(0, 10).goto(1),
        // dec_ttl needs an IP match: rejected when added to the bundle.
        FlowMod::add(0, 11).apply(vec![Action::DecNwTtl]),
        FlowMod::add(0, 12).goto(2),
    ];
    let Err(ConnError::Batch(b)) = c.send_flow_mods_in_bundle(flows).await else {
        panic!("expected a batch error")
    };
    assert_eq!(b.failures.len(), 1);
    assert_eq!(b.failures[0].0, 1);
    assert_eq!(b.failures[0].1.name(), Some("OFPBAC_MATCH_INCONSISTENT"));
    assert!(b.commit.is_none());
    assert!(ovs.dump_flows("br0").unwrap().is_empty());
}

#[tokio::test]
async fn checked_batch_reports_each_failure_and_keeps_the_rest() {
    let (ovs, c, _ev) = bridge().await;
    let msgs = vec![
        Message::FlowMod(FlowMod::add(0, 10).goto(1)),
        Message::FlowMod(FlowMod::add(0, 11).apply(vec![Action::Group(42)])),
        Message::FlowMod(FlowMod::add(0, 12).goto(2)),
        Message::FlowMod(FlowMod::add(0, 13).goto(0)), // goto must go forward
    ];
    let Err(ConnError::Batch(b)) = c.send_checked(&msgs).await else {
        panic!("expected a batch error")
    };
    assert!(!b.bundle);
    let idx: Vec<usize> = b.failures.iter().map(|(i, _)| *i).collect();
    assert_eq!(idx, vec![1, 3]);
    assert_eq!(b.failures[0].1.name(), Some("OFPBAC_BAD_OUT_GROUP"));
    assert_eq!(b.failures[1].1.name(), Some("OFPBIC_BAD_TABLE_ID"));
    assert_eq!(
        ovs.dump_flow_strings("br0").unwrap(),
        vec![
            "table=0 priority=12 actions=goto_table:2",
            "table=0 priority=10 actions=goto_table:1"
        ]
    );
}

#[tokio::test]
async fn delete_by_cookie_removes_only_that_owner() {
    let (ovs, c, _ev) = bridge().await;
    let owner_a = 0x0a00_0000_0000_0000u64;
    let owner_b = 0x0b00_0000_0000_0000u64;
    let mask = 0xff00_0000_0000_0000u64;
    let mut flows = Vec::new();
    for i in 0..5u64 {
        flows.push(FlowMod::add(1, 10 + i as u16).cookie(owner_a | i).goto(2));
        flows.push(FlowMod::add(2, 10 + i as u16).cookie(owner_b | i).goto(3));
    }
    c.send_flow_mods_in_bundle(flows).await.unwrap();
    c.send_checked(&[Message::FlowMod(FlowMod::delete_by_cookie(owner_a, mask))])
        .await
        .unwrap();
    let left = ovs.dump_flows("br0").unwrap();
    assert_eq!(left.len(), 5);
    assert!(
        left.iter()
            .all(|f| f.cookie & mask == owner_b && f.table == 2)
    );
    c.delete_all_flows().await.unwrap();
    assert!(ovs.dump_flows("br0").unwrap().is_empty());
}

#[tokio::test]
async fn group_port_and_desc_replies_from_ovs_parse() {
    let (ovs, c, _ev) = bridge().await;
    ovs.add_internal_port("br0", "p1", 1).unwrap();
    ovs.add_internal_port("br0", "p2", 2).unwrap();
    let g = flood_group();
    c.send_checked(&[Message::GroupMod(g.clone())])
        .await
        .unwrap();
    let MultipartReplyBody::GroupDesc(descs) =
        c.multipart(MultipartRequestBody::GroupDesc).await.unwrap()
    else {
        panic!("not a group desc reply")
    };
    assert_eq!(descs.len(), 1);
    assert_eq!(
        (descs[0].group_id, descs[0].group_type),
        (1, GroupType::All)
    );
    // OVS assigns bucket ids but keeps our actions, weights and watches.
    assert_eq!(descs[0].buckets, g.buckets);
    let MultipartReplyBody::GroupStats(gs) = c
        .multipart(MultipartRequestBody::GroupStats {
            group_id: group_no::ALL,
        })
        .await
        .unwrap()
    else {
        panic!("not a group stats reply")
    };
    assert_eq!(
        (gs.len(), gs[0].group_id, gs[0].bucket_stats.len()),
        (1, 1, 2)
    );

    let ports = c.port_desc().await.unwrap();
    let mut names: Vec<(u32, String)> = ports.iter().map(|p| (p.port_no, p.name.clone())).collect();
    names.sort();
    assert_eq!(
        names,
        vec![
            (1, "p1".to_owned()),
            (2, "p2".to_owned()),
            (port_no::LOCAL, "br0".to_owned())
        ]
    );
    let stats = c.port_stats(port_no::ANY).await.unwrap();
    assert_eq!(stats.len(), 3);
    let d = c.desc().await.unwrap();
    assert_eq!(d.hw_desc, "Open vSwitch");
    let dpid = ovs.vsctl(&["get", "bridge", "br0", "datapath_id"]).unwrap();
    assert_eq!(
        u64::from_str_radix(dpid.trim().trim_matches('"'), 16).unwrap(),
        c.datapath_id()
    );
    assert_eq!(c.features().n_tables, 254);
}

#[tokio::test]
async fn errors_go_to_the_request_or_to_the_event_stream() {
    let (_ovs, c, mut ev) = bridge().await;
    // A tracked request: the error is the request's result.
    let err = c
        .multipart(MultipartRequestBody::Other {
            mp_type: 0x7777,
            body: vec![],
        })
        .await
        .unwrap_err();
    match err {
        ConnError::Switch { error, .. } => assert_eq!(error.err_type, error_type::BAD_REQUEST),
        e => panic!("expected a switch error, got {e:?}"),
    }
    // Untracked: it arrives on the event stream with the message's xid.
    let xid = c
        .send(&Message::FlowMod(FlowMod::add(0, 1).goto(0)))
        .await
        .unwrap();
    c.barrier().await.unwrap();
    let got = tokio::time::timeout(Duration::from_secs(5), ev.recv())
        .await
        .unwrap()
        .unwrap();
    match got {
        AsyncMessage::Error { xid: x, error } => {
            assert_eq!(x, xid);
            assert_eq!(error.name(), Some("OFPBIC_BAD_TABLE_ID"));
            assert_eq!(error.failed_xid(), Some(xid));
        }
        m => panic!("expected an error event, got {m:?}"),
    }
    assert_eq!(c.echo(b"still up".to_vec()).await.unwrap(), b"still up");
}
