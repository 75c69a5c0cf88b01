//! Golden vectors from the official encoder: vpp-papi 2.4.2 (PyPI) packs
//! the values of every message the backend sends — taken from what the
//! test server received while the datapath programmed, changed and tore
//! down a host — and of every reply and details type it parses, to the
//! very bytes our encoder produced; and our decoder reads them back.

// Test code: a failed unwrap is a test failure with its message.
#![allow(clippy::unwrap_used)]

mod support;

use contiv_core::datapath::{
    ArpMode, Datapath, DpOp, FwdMode, GlobalSpec, PortSpec, ServiceProtocol, ServiceSpec,
};
use contiv_dp_vpp::api::types::{
    AclAction, AclRule, IfStatusFlags, IpProto, MessageTableEntry, Prefix,
};
use contiv_dp_vpp::api::{acl, interface, l2, memclnt, npol, papi_args, tapv2, vxlan};
use contiv_dp_vpp::datapath::npol::SENT_MESSAGES as NPOL_SENT;
use contiv_dp_vpp::datapath::plan::SENT_MESSAGES;
use contiv_dp_vpp::wire::{Dump, Message, MsgHeader, encode};
use std::collections::BTreeSet;
use support::{fixture, papi};

fn raw<M: Message>(m: &M, id: u16) -> (String, Vec<u8>) {
    let mut b = Vec::new();
    let hdr = MsgHeader {
        msg_id: id,
        client_index: 7,
        context: 0x1234,
    };
    encode(m, hdr, &mut b).unwrap();
    (M::NAME.to_owned(), b)
}

/// Everything the datapath sends over a host's life, as received.
async fn backend_traffic() -> Vec<(String, Vec<u8>)> {
    let (srv, dp) = fixture::start().await;
    let d = fixture::scenario();
    dp.resync(&d).await.unwrap();
    let mut web2 = d.local_endpoints[1].clone();
    web2.epg = 1;
    web2.qos = None;
    let mut pre = fixture::local("pre", &fixture::vxnet(), 30, 0);
    pre.attachment = contiv_core::datapath::Attachment::Existing;
    dp.apply(vec![
        DpOp::AddLocalEndpoint(web2),
        DpOp::AddLocalEndpoint(pre),
    ])
    .await
    .unwrap();
    // A service: one cnat translation per VIP port, created, updated
    // (a backend added) and, at the end, deleted.
    let svc = |backends: &[&str]| ServiceSpec {
        key: "t1:dns".into(),
        network: fixture::vxnet().key,
        vip: "10.1.0.53".parse().unwrap(),
        ports: vec![
            PortSpec {
                svc_port: 53,
                prov_port: 5353,
                protocol: ServiceProtocol::Udp,
            },
            PortSpec {
                svc_port: 53,
                prov_port: 53,
                protocol: ServiceProtocol::Tcp,
            },
        ],
        backends: backends.iter().map(|b| (*b).to_owned()).collect(),
    };
    dp.apply(vec![DpOp::AddService(svc(&["web1"]))])
        .await
        .unwrap();
    dp.apply(vec![DpOp::AddService(svc(&["web1", "web3"]))])
        .await
        .unwrap();
    dp.apply(vec![DpOp::SetGlobal(GlobalSpec {
        arp_mode: ArpMode::Flood,
        fwd_mode: FwdMode::Bridge,
        ..GlobalSpec::default()
    })])
    .await
    .unwrap();
    dp.apply(vec![DpOp::RemoveService("t1:dns".into())])
        .await
        .unwrap();
    // A stale interface of ours, seen only by a resync.
    srv.with_state(|s| {
        let i = s.add_iface(
            "bvi9".into(),
            contiv_dp_vpp::testing::IfKind::Bvi { instance: 9 },
            [2; 6],
        );
        s.tag(i, true, "cv:bvi:gone").unwrap();
    });
    dp.resync(&Default::default()).await.unwrap();
    srv.received()
}

#[tokio::test]
async fn every_message_the_backend_sends_packs_identically_in_vpp_papi() {
    let traffic = backend_traffic().await;
    // Every request type the datapath can send was exercised.
    let seen: BTreeSet<&str> = traffic.iter().map(|(n, _)| n.as_str()).collect();
    let missing: Vec<&&str> = SENT_MESSAGES
        .iter()
        .filter(|m| !seen.contains(**m))
        .collect();
    assert!(missing.is_empty(), "not exercised: {missing:?}");
    // Keep a bounded but varied sample: every distinct message.
    let mut uniq: Vec<(String, Vec<u8>)> = Vec::new();
    let mut seen_bytes = BTreeSet::new();
    for (n, b) in traffic {
        // Contexts and client indices differ per call: compare bodies.
        if seen_bytes.insert((n.clone(), b[10.min(b.len())..].to_vec())) {
            uniq.push((n, b));
        }
    }
    let checked = papi::assert_papi_packs_identically(&uniq);
    let names: BTreeSet<String> = checked.into_iter().collect();
    for m in SENT_MESSAGES {
        assert!(names.contains(*m), "{m} checked");
    }
    assert!(names.contains("sockclnt_create") && names.contains("control_ping"));
    // Decoding is exact: what we read re-encodes to the same bytes.
    for (n, b) in &uniq {
        let (hdr, v) = papi_args(n, b).unwrap().unwrap();
        assert!(v.is_object(), "{n} {hdr:?}");
    }
}

/// Everything the npol engine sends over a host's life, as received: sets
/// with v4 and v6 members, rules with every entry kind the engine emits
/// (ipset, CIDR on either side, port range, protocol filter), updates,
/// a member moving, and the teardown.
async fn npol_traffic() -> Vec<(String, Vec<u8>)> {
    let (srv, dp) = fixture::start_npol().await;
    let mut d = fixture::scenario();
    d.policy
        .members
        .insert((1, "fd00:1::11".parse().unwrap()), 2);
    let mut local_in = fixture::rule(
        9,
        1,
        1,
        contiv_core::ir::Direction::In,
        contiv_core::ir::PeerMatch::Epg(2),
        Some(17),
        Some(contiv_core::ir::PortRange { start: 53, end: 54 }),
        3,
        contiv_core::ir::Action::Allow,
    );
    let cidr = d.policy.addr_sets.keys().next().unwrap().clone();
    local_in.local = Some(cidr);
    d.policy.rules.insert(local_in.id, local_in);
    dp.resync(&d).await.unwrap();
    // A rule changes (update), one is added (create + policy update).
    let mut d2 = d.clone();
    d2.policy
        .rules
        .get_mut(&contiv_core::ir::RuleId(1))
        .unwrap()
        .action = contiv_core::ir::Action::Allow;
    let mut extra = d2.policy.rules[&contiv_core::ir::RuleId(2)].clone();
    extra.id = contiv_core::ir::RuleId(10);
    extra.priority = 20;
    d2.policy.rules.insert(extra.id, extra);
    dp.resync(&d2).await.unwrap();
    // web2 moves from group 2 to group 1 (members removed, interface
    // configured).
    let mut web2 = d2.local_endpoints[1].clone();
    web2.epg = 1;
    d2.local_endpoints[1] = web2;
    d2.policy
        .members
        .insert((1, "10.1.0.11".parse().unwrap()), 1);
    dp.resync(&d2).await.unwrap();
    // Everything goes: interfaces unconfigured, objects deleted.
    dp.resync(&Default::default()).await.unwrap();
    srv.received()
        .into_iter()
        .filter(|(n, _)| n.starts_with("npol_"))
        .collect()
}

#[tokio::test]
async fn every_npol_message_the_backend_sends_packs_identically_in_vpp_papi() {
    let traffic = npol_traffic().await;
    let seen: BTreeSet<&str> = traffic.iter().map(|(n, _)| n.as_str()).collect();
    let missing: Vec<&&str> = NPOL_SENT.iter().filter(|m| !seen.contains(**m)).collect();
    assert!(missing.is_empty(), "not exercised: {missing:?}");
    let mut uniq: Vec<(String, Vec<u8>)> = Vec::new();
    let mut seen_bytes = BTreeSet::new();
    for (n, b) in traffic {
        if seen_bytes.insert((n.clone(), b[10.min(b.len())..].to_vec())) {
            uniq.push((n, b));
        }
    }
    let names: BTreeSet<String> = papi::assert_papi_packs_identically(&uniq)
        .into_iter()
        .collect();
    for m in NPOL_SENT {
        assert!(names.contains(*m), "{m} checked");
    }
}

/// A reply or details message as VPP would send it, from the values our
/// client decoded out of the test server.
fn reply<M: Message>(m: &M) -> (String, Vec<u8>) {
    raw(m, 4242)
}

#[tokio::test]
async fn replies_and_details_the_client_parses_pack_identically() {
    let (srv, dp) = fixture::start().await;
    dp.resync(&fixture::scenario()).await.unwrap();
    let c = dp.client();
    let mut msgs = Vec::new();
    async fn all<M: Dump>(
        c: &contiv_dp_vpp::client::Client,
        m: M,
        out: &mut Vec<(String, Vec<u8>)>,
    ) {
        for d in c.dump(&m).await.unwrap() {
            out.push(reply(&d));
        }
    }
    all(c, interface::SwInterfaceDump::default(), &mut msgs).await;
    all(c, tapv2::SwInterfaceTapV2Dump::default(), &mut msgs).await;
    all(
        c,
        vxlan::VxlanTunnelV2Dump {
            sw_if_index: u32::MAX,
        },
        &mut msgs,
    )
    .await;
    all(
        c,
        l2::BridgeDomainDump {
            bd_id: u32::MAX,
            sw_if_index: u32::MAX,
        },
        &mut msgs,
    )
    .await;
    all(c, l2::L2FibTableDump { bd_id: u32::MAX }, &mut msgs).await;
    all(c, l2::BdIpMacDump { bd_id: u32::MAX }, &mut msgs).await;
    all(
        c,
        acl::AclDump {
            acl_index: u32::MAX,
        },
        &mut msgs,
    )
    .await;
    all(
        c,
        acl::AclInterfaceListDump {
            sw_if_index: u32::MAX,
        },
        &mut msgs,
    )
    .await;
    all(c, contiv_dp_vpp::api::ip::IpTableDump::default(), &mut msgs).await;
    all(
        c,
        contiv_dp_vpp::api::policer::PolicerDump::default(),
        &mut msgs,
    )
    .await;
    for af in [0u8, 1] {
        all(
            c,
            contiv_dp_vpp::api::ip_neighbor::IpNeighborDump {
                sw_if_index: u32::MAX,
                af: contiv_dp_vpp::api::types::AddressFamily(af),
            },
            &mut msgs,
        )
        .await;
    }
    let bvi = srv.state().by_tag("cv:bvi:t1:web").unwrap();
    all(
        c,
        contiv_dp_vpp::api::ip::IpAddressDump {
            sw_if_index: bvi,
            is_ipv6: true,
        },
        &mut msgs,
    )
    .await;
    // Replies with ids, errors and the handshake.
    msgs.push(reply(&memclnt::SockclntCreateReply {
        response: 0,
        index: 3,
        message_table: vec![
            MessageTableEntry {
                index: 15,
                name: "sockclnt_create_455fb9c4".into(),
            },
            MessageTableEntry {
                index: 16,
                name: "sockclnt_create_reply_35166268".into(),
            },
        ],
    }));
    msgs.push(reply(&memclnt::ControlPingReply {
        retval: 0,
        client_index: 3,
        vpe_pid: 4711,
    }));
    msgs.push(reply(&l2::BridgeDomainAddDelV2Reply {
        retval: -119,
        bd_id: 77,
    }));
    msgs.push(reply(&acl::AclAddReplaceReply {
        acl_index: 5,
        retval: 0,
    }));
    msgs.push(reply(&tapv2::TapCreateV3Reply {
        retval: -12,
        sw_if_index: u32::MAX,
    }));
    msgs.push(reply(&interface::SwInterfaceEvent {
        pid: 9,
        sw_if_index: 4,
        flags: IfStatusFlags(3),
        deleted: true,
    }));
    // npol replies: ids, errors.
    msgs.push(reply(&npol::NpolIpsetCreateReply {
        retval: 0,
        set_id: 3,
    }));
    msgs.push(reply(&npol::NpolRuleCreateReply {
        retval: -6,
        rule_id: u32::MAX,
    }));
    msgs.push(reply(&npol::NpolPolicyCreateReply {
        retval: 0,
        policy_id: 0x0102_0304,
    }));
    msgs.push(reply(&npol::NpolIpsetAddDelMembersReply { retval: -73 }));
    msgs.push(reply(&npol::NpolConfigurePoliciesReply { retval: 0 }));
    msgs.push(reply(&npol::NpolGetVersionReply { major: 0, minor: 1 }));
    // An ACL with every action, v4 and v6, a port range and ICMP codes.
    let rule = |a: u8, src: &str, dst: &str, p: u8| AclRule {
        is_permit: AclAction(a),
        src_prefix: Prefix::from_net(src.parse().unwrap()),
        dst_prefix: Prefix::from_net(dst.parse().unwrap()),
        proto: IpProto(p),
        srcport_or_icmptype_first: 0,
        srcport_or_icmptype_last: 255,
        dstport_or_icmpcode_first: 1000,
        dstport_or_icmpcode_last: 2000,
        tcp_flags_mask: 0x12,
        tcp_flags_value: 0x02,
    };
    msgs.push(reply(&acl::AclDetails {
        acl_index: 9,
        tag: "cv:acl:1:1:in".into(),
        r: vec![
            rule(0, "10.0.0.0/8", "0.0.0.0/0", 6),
            rule(1, "fd00::/8", "::/0", 58),
            rule(2, "1.2.3.4/32", "5.6.7.8/32", 17),
        ],
    }));
    let kinds: BTreeSet<&str> = msgs.iter().map(|(n, _)| n.as_str()).collect();
    for k in [
        "sw_interface_details",
        "sw_interface_tap_v2_details",
        "vxlan_tunnel_v2_details",
        "bridge_domain_details",
        "l2_fib_table_details",
        "bd_ip_mac_details",
        "acl_details",
        "acl_interface_list_details",
        "ip_table_details",
        "policer_details",
        "ip_neighbor_details",
        "ip_address_details",
    ] {
        assert!(kinds.contains(k), "no {k} in the sample");
    }
    papi::assert_papi_packs_identically(&msgs);
}
