//! Decoding requests, applying them to the state, encoding the replies.

use super::state::{Bd, IfKind, Iface, L2Port, L2fib, TapHost, VxlanKey};
use super::{Shared, lock};
use crate::api::types::{
    Address, BdIpMac, BridgeDomainSwIf, IfStatusFlags, IfType, Ip4Prefix, Ip6Prefix, IpNeighbor,
    IpNeighborFlags, IpTable, L2PortType, MessageTableEntry, Prefix, SubIfFlags,
};
use crate::api::{
    acl, af_packet, cnat, interface, ip, ip_neighbor, l2, memclnt, npol, policer, tapv2, vxlan,
};
use crate::errno;
use crate::wire::{self, Message, MsgHeader};
use ipnet::IpNet;
use std::net::IpAddr;

/// Collects encoded replies.
struct Out<'a> {
    shared: &'a Shared,
    context: u32,
    client_index: u32,
    msgs: Vec<Vec<u8>>,
}

impl Out<'_> {
    fn push<M: Message>(&mut self, m: &M) {
        let Some(id) = self.shared.table.ids.get(M::NAME).copied() else {
            return;
        };
        let mut b = Vec::new();
        let hdr = MsgHeader {
            msg_id: id,
            client_index: self.client_index,
            context: self.context,
        };
        if wire::encode(m, hdr, &mut b).is_ok() {
            self.msgs.push(b);
        }
    }
}

fn rv(r: Result<(), i32>) -> i32 {
    r.err().unwrap_or(errno::OK)
}

fn mac_or_random(mac: [u8; 6], random: bool, seed: u32) -> [u8; 6] {
    if random || mac == [0; 6] {
        let s = seed.to_be_bytes();
        [0x02, 0xfe, s[0], s[1], s[2], s[3]]
    } else {
        mac
    }
}

/// Handles one message. `Ok(None)`: a message the server does not model
/// (no reply, as VPP for unknown ids). `fault`: answer with this retval
/// instead of acting.
pub(super) fn handle(
    shared: &Shared,
    conn: u64,
    client_index: u32,
    name: &str,
    raw: &[u8],
    fault: Option<i32>,
) -> wire::Result<Option<Vec<Vec<u8>>>> {
    let kind = crate::api::MESSAGES
        .iter()
        .find(|m| m.name == name)
        .map_or(wire::HeaderKind::Bare, |m| m.header);
    let context = wire::MsgView::new_checked(raw, kind)?.context();
    let mut out = Out {
        shared,
        context,
        client_index,
        msgs: Vec::new(),
    };
    let mut events: Vec<(u32, bool, bool)> = Vec::new();
    {
        let mut st = lock(&shared.state);
        macro_rules! msg {
            ($t:ty) => {
                wire::decode::<$t>(raw)?.1
            };
        }
        // A failing request changes nothing: the fault replaces the action.
        macro_rules! act {
            ($e:expr) => {
                match fault {
                    Some(f) => f,
                    None => rv($e),
                }
            };
        }
        match name {
            "sockclnt_create" => {
                let _ = msg!(memclnt::SockclntCreate);
                out.push(&memclnt::SockclntCreateReply {
                    response: 0,
                    index: client_index,
                    message_table: shared
                        .table
                        .announced
                        .iter()
                        .map(|(id, n)| MessageTableEntry {
                            index: *id,
                            name: n.clone(),
                        })
                        .collect(),
                });
            }
            "sockclnt_delete" => out.push(&memclnt::SockclntDeleteReply { response: 0 }),
            "control_ping" => out.push(&memclnt::ControlPingReply {
                retval: 0,
                client_index,
                vpe_pid: std::process::id(),
            }),
            "want_interface_events" => {
                let m = msg!(interface::WantInterfaceEvents);
                let mut subs = lock(&shared.subscribers);
                if m.enable_disable != 0 {
                    subs.insert(conn, m.pid);
                } else {
                    subs.remove(&conn);
                }
                out.push(&interface::WantInterfaceEventsReply { retval: 0 });
            }
            "sw_interface_dump" => {
                let m = msg!(interface::SwInterfaceDump);
                for (idx, i) in &st.interfaces {
                    if m.sw_if_index != u32::MAX && m.sw_if_index != *idx {
                        continue;
                    }
                    if m.name_filter_valid && !i.name.contains(&m.name_filter) {
                        continue;
                    }
                    out.push(&iface_details(*idx, i));
                }
            }
            "sw_interface_set_flags" => {
                let m = msg!(interface::SwInterfaceSetFlags);
                let r = act!(st.set_flags(m.sw_if_index, m.flags));
                if r == 0 {
                    events.push((m.sw_if_index, m.flags.0 & 1 != 0, false));
                }
                out.push(&interface::SwInterfaceSetFlagsReply { retval: r });
            }
            "sw_interface_tag_add_del" => {
                let m = msg!(interface::SwInterfaceTagAddDel);
                let r = act!(st.tag(m.sw_if_index, m.is_add, &m.tag));
                out.push(&interface::SwInterfaceTagAddDelReply { retval: r });
            }
            "sw_interface_set_table" => {
                let m = msg!(interface::SwInterfaceSetTable);
                let r = act!(st.set_table(m.sw_if_index, m.is_ipv6, m.vrf_id));
                out.push(&interface::SwInterfaceSetTableReply { retval: r });
            }
            "sw_interface_add_del_address" => {
                let m = msg!(interface::SwInterfaceAddDelAddress);
                let r = match m.prefix.net() {
                    Some(p) => act!(st.address(m.sw_if_index, m.is_add, m.del_all, p)),
                    None if m.del_all => {
                        act!(st.address(m.sw_if_index, m.is_add, true, IpNet::default()))
                    }
                    None => errno::INVALID_VALUE,
                };
                out.push(&interface::SwInterfaceAddDelAddressReply { retval: r });
            }
            "sw_interface_get_table" => {
                let m = msg!(interface::SwInterfaceGetTable);
                let (r, vrf) = match st.interfaces.get(&m.sw_if_index) {
                    Some(i) => (0, if m.is_ipv6 { i.table6 } else { i.table4 }),
                    None => (errno::INVALID_SW_IF_INDEX, 0),
                };
                out.push(&interface::SwInterfaceGetTableReply {
                    retval: r,
                    vrf_id: vrf,
                });
            }
            "ip_address_dump" => {
                let m = msg!(ip::IpAddressDump);
                if let Some(i) = st.interfaces.get(&m.sw_if_index) {
                    for a in i.addrs.iter().filter(|a| a.addr().is_ipv6() == m.is_ipv6) {
                        out.push(&ip::IpAddressDetails {
                            sw_if_index: m.sw_if_index,
                            prefix: Prefix::from_net(*a),
                        });
                    }
                }
            }
            "create_vlan_subif" => {
                let m = msg!(interface::CreateVlanSubif);
                let r = match fault {
                    Some(f) => Err(f),
                    None => create_vlan_subif(&mut st, m.sw_if_index, m.vlan_id),
                };
                out.push(&interface::CreateVlanSubifReply {
                    retval: r.err().unwrap_or(0),
                    sw_if_index: r.unwrap_or(u32::MAX),
                });
            }
            "delete_subif" => {
                let m = msg!(interface::DeleteSubif);
                let r = match st.interfaces.get(&m.sw_if_index).map(|i| &i.kind) {
                    _ if fault.is_some() => fault.unwrap_or(0),
                    Some(IfKind::VlanSubif { .. }) => {
                        st.remove_iface(m.sw_if_index);
                        events.push((m.sw_if_index, false, true));
                        0
                    }
                    _ => errno::INVALID_SW_IF_INDEX,
                };
                out.push(&interface::DeleteSubifReply { retval: r });
            }
            "ip_table_add_del" => {
                let m = msg!(ip::IpTableAddDel);
                let r = match fault {
                    Some(f) => f,
                    None => {
                        st.table_add_del(m.is_add, m.table.is_ip6, m.table.table_id, &m.table.name);
                        0
                    }
                };
                out.push(&ip::IpTableAddDelReply { retval: r });
            }
            "ip_table_dump" => {
                let _ = msg!(ip::IpTableDump);
                for (v6, id, name) in st.visible_tables() {
                    out.push(&ip::IpTableDetails {
                        table: IpTable {
                            table_id: id,
                            is_ip6: v6,
                            name,
                        },
                    });
                }
            }
            "bridge_domain_add_del_v2" => {
                let m = msg!(l2::BridgeDomainAddDelV2);
                let bd = Bd {
                    flood: m.flood,
                    uu_flood: m.uu_flood,
                    forward: m.forward,
                    learn: m.learn,
                    arp_term: m.arp_term,
                    arp_ufwd: m.arp_ufwd,
                    mac_age: m.mac_age,
                    tag: m.bd_tag.clone(),
                };
                let (r, id) = match fault {
                    Some(f) => (f, m.bd_id),
                    None => match st.bd_add_del(m.is_add, m.bd_id, bd) {
                        Ok(id) => (0, id),
                        Err((r, id)) => (r, id),
                    },
                };
                out.push(&l2::BridgeDomainAddDelV2Reply {
                    retval: r,
                    bd_id: id,
                });
            }
            "bridge_domain_dump" => {
                let m = msg!(l2::BridgeDomainDump);
                for (id, bd) in &st.bds {
                    if *id == 0 || (m.bd_id != u32::MAX && m.bd_id != *id) {
                        continue;
                    }
                    let members: Vec<(u32, &Iface)> = st
                        .interfaces
                        .iter()
                        .filter(|(_, i)| i.l2.is_some_and(|l| l.bd_id == *id))
                        .map(|(k, i)| (*k, i))
                        .collect();
                    if m.sw_if_index != u32::MAX
                        && !members.iter().any(|(k, _)| *k == m.sw_if_index)
                    {
                        continue;
                    }
                    let bvi = members
                        .iter()
                        .find(|(_, i)| {
                            i.l2.is_some_and(|l| l.port_type == L2PortType::L2_API_PORT_TYPE_BVI)
                        })
                        .map_or(u32::MAX, |(k, _)| *k);
                    out.push(&l2::BridgeDomainDetails {
                        bd_id: *id,
                        flood: bd.flood,
                        uu_flood: bd.uu_flood,
                        forward: bd.forward,
                        learn: bd.learn,
                        arp_term: bd.arp_term,
                        arp_ufwd: bd.arp_ufwd,
                        mac_age: bd.mac_age,
                        bd_tag: bd.tag.clone(),
                        bvi_sw_if_index: bvi,
                        uu_fwd_sw_if_index: u32::MAX,
                        sw_if_details: members
                            .iter()
                            .map(|(k, i)| BridgeDomainSwIf {
                                context: 0,
                                sw_if_index: *k,
                                shg: i.l2.map_or(0, |l| l.shg),
                            })
                            .collect(),
                    });
                }
            }
            "bridge_flags" => {
                let m = msg!(l2::BridgeFlags);
                let r = match (fault, st.bds.get_mut(&m.bd_id)) {
                    (Some(f), _) => f,
                    (None, Some(b)) if m.bd_id != 0 => {
                        let f = m.flags.0;
                        for (bit, flag) in [
                            (1, &mut b.learn),
                            (2, &mut b.forward),
                            (4, &mut b.flood),
                            (8, &mut b.uu_flood),
                            (16, &mut b.arp_term),
                            (32, &mut b.arp_ufwd),
                        ] {
                            if f & bit != 0 {
                                *flag = m.is_set;
                            }
                        }
                        0
                    }
                    (None, Some(_)) => errno::BD_NOT_MODIFIABLE,
                    (None, None) => errno::NO_SUCH_ENTRY,
                };
                let bitmap = st.bds.get(&m.bd_id).map_or(0, |b| {
                    u32::from(b.learn)
                        | u32::from(b.forward) << 1
                        | u32::from(b.flood) << 2
                        | u32::from(b.uu_flood) << 3
                        | u32::from(b.arp_term) << 4
                        | u32::from(b.arp_ufwd) << 5
                });
                out.push(&l2::BridgeFlagsReply {
                    retval: r,
                    resulting_feature_bitmap: bitmap,
                });
            }
            "sw_interface_set_l2_bridge" => {
                let m = msg!(l2::SwInterfaceSetL2Bridge);
                let port = L2Port {
                    bd_id: m.bd_id,
                    port_type: m.port_type,
                    shg: m.shg,
                };
                let r = act!(st.set_l2_bridge(m.rx_sw_if_index, m.enable, port));
                out.push(&l2::SwInterfaceSetL2BridgeReply { retval: r });
            }
            "l2_interface_vlan_tag_rewrite" => {
                let m = msg!(l2::L2InterfaceVlanTagRewrite);
                let r = match (fault, st.interfaces.get_mut(&m.sw_if_index)) {
                    (Some(f), _) => f,
                    (None, Some(i)) => {
                        i.vtr_op = m.vtr_op;
                        0
                    }
                    (None, None) => errno::INVALID_SW_IF_INDEX,
                };
                out.push(&l2::L2InterfaceVlanTagRewriteReply { retval: r });
            }
            "bvi_create" => {
                let m = msg!(l2::BviCreate);
                let r = match fault {
                    Some(f) => Err(f),
                    None => bvi_create(&mut st, m.mac, m.user_instance),
                };
                out.push(&l2::BviCreateReply {
                    retval: r.err().unwrap_or(0),
                    sw_if_index: r.unwrap_or(u32::MAX),
                });
            }
            "bvi_delete" => {
                let m = msg!(l2::BviDelete);
                let r = delete_kind(&mut st, m.sw_if_index, fault, |k| {
                    matches!(k, IfKind::Bvi { .. })
                });
                if r == 0 {
                    events.push((m.sw_if_index, false, true));
                }
                out.push(&l2::BviDeleteReply { retval: r });
            }
            "l2fib_add_del" => {
                let m = msg!(l2::L2fibAddDel);
                let e = L2fib {
                    sw_if_index: m.sw_if_index,
                    static_mac: m.static_mac,
                    bvi_mac: m.bvi_mac,
                };
                let r = act!(st.l2fib(m.is_add, m.bd_id, m.mac, m.sw_if_index, e));
                out.push(&l2::L2fibAddDelReply { retval: r });
            }
            "l2_fib_table_dump" => {
                let m = msg!(l2::L2FibTableDump);
                for ((bd, mac), e) in &st.l2fib {
                    if m.bd_id != u32::MAX && m.bd_id != *bd {
                        continue;
                    }
                    out.push(&l2::L2FibTableDetails {
                        bd_id: *bd,
                        mac: *mac,
                        sw_if_index: e.sw_if_index,
                        static_mac: e.static_mac,
                        filter_mac: false,
                        bvi_mac: e.bvi_mac,
                    });
                }
            }
            "bd_ip_mac_add_del" => {
                let m = msg!(l2::BdIpMacAddDel);
                let r = match m.entry.ip.ip() {
                    Some(ip) => act!(st.bd_ip_mac(m.is_add, m.entry.bd_id, ip, m.entry.mac)),
                    None => errno::INVALID_ADDRESS_FAMILY,
                };
                out.push(&l2::BdIpMacAddDelReply { retval: r });
            }
            "bd_ip_mac_dump" => {
                let m = msg!(l2::BdIpMacDump);
                for ((bd, ip), mac) in &st.bd_ip_mac {
                    if m.bd_id != u32::MAX && m.bd_id != *bd {
                        continue;
                    }
                    out.push(&l2::BdIpMacDetails {
                        entry: BdIpMac {
                            bd_id: *bd,
                            ip: Address::from_ip(*ip),
                            mac: *mac,
                        },
                    });
                }
            }
            "vxlan_add_del_tunnel_v3" => {
                let m = msg!(vxlan::VxlanAddDelTunnelV3);
                let r = match fault {
                    Some(f) => Err(f),
                    None => vxlan_add_del(&mut st, &m),
                };
                if let (Ok(idx), false) = (r, m.is_add) {
                    events.push((idx, false, true));
                }
                out.push(&vxlan::VxlanAddDelTunnelV3Reply {
                    retval: r.err().unwrap_or(0),
                    sw_if_index: r.unwrap_or(u32::MAX),
                });
            }
            "vxlan_tunnel_v2_dump" => {
                let m = msg!(vxlan::VxlanTunnelV2Dump);
                for (idx, i) in &st.interfaces {
                    if let IfKind::Vxlan(k) = &i.kind
                        && (m.sw_if_index == u32::MAX || m.sw_if_index == *idx)
                    {
                        out.push(&vxlan::VxlanTunnelV2Details {
                            sw_if_index: *idx,
                            instance: k.instance,
                            src_address: Address::from_ip(k.src),
                            dst_address: Address::from_ip(k.dst),
                            src_port: k.src_port,
                            dst_port: k.dst_port,
                            mcast_sw_if_index: u32::MAX,
                            encap_vrf_id: k.encap_vrf_id,
                            decap_next_index: k.decap_next_index,
                            vni: k.vni,
                        });
                    }
                }
            }
            "tap_create_v3" => {
                let m = msg!(tapv2::TapCreateV3);
                let r = match fault {
                    Some(f) => Err(f),
                    None => tap_create(&mut st, &m),
                };
                out.push(&tapv2::TapCreateV3Reply {
                    retval: r.err().unwrap_or(0),
                    sw_if_index: r.unwrap_or(u32::MAX),
                });
            }
            "tap_delete_v2" => {
                let m = msg!(tapv2::TapDeleteV2);
                let r = delete_kind(&mut st, m.sw_if_index, fault, |k| {
                    matches!(k, IfKind::Tap { .. })
                });
                if r == 0 {
                    events.push((m.sw_if_index, false, true));
                }
                out.push(&tapv2::TapDeleteV2Reply { retval: r });
            }
            "sw_interface_tap_v2_dump" => {
                let m = msg!(tapv2::SwInterfaceTapV2Dump);
                for (idx, i) in &st.interfaces {
                    if let IfKind::Tap { id, host } = &i.kind
                        && (m.sw_if_index == u32::MAX || m.sw_if_index == *idx)
                    {
                        out.push(&tap_details(*idx, &i.name, *id, host));
                    }
                }
            }
            "af_packet_create_v3" => {
                let m = msg!(af_packet::AfPacketCreateV3);
                let r = match fault {
                    Some(f) => Err(f),
                    None => {
                        let name = format!("host-{}", m.host_if_name);
                        if m.host_if_name.is_empty() {
                            Err(errno::INVALID_VALUE)
                        } else if st.by_name(&name).is_some() {
                            Err(errno::IF_ALREADY_EXISTS)
                        } else {
                            let seed = st.interfaces.len() as u32;
                            let mac = mac_or_random(m.hw_addr, m.use_random_hw_addr, seed);
                            Ok(st.add_iface(
                                name,
                                IfKind::AfPacket {
                                    host_if_name: m.host_if_name.clone(),
                                },
                                mac,
                            ))
                        }
                    }
                };
                out.push(&af_packet::AfPacketCreateV3Reply {
                    retval: r.err().unwrap_or(0),
                    sw_if_index: r.unwrap_or(u32::MAX),
                });
            }
            "af_packet_delete" => {
                let m = msg!(af_packet::AfPacketDelete);
                let r = match (fault, st.by_name(&format!("host-{}", m.host_if_name))) {
                    (Some(f), _) => f,
                    (None, Some(idx)) => {
                        st.remove_iface(idx);
                        events.push((idx, false, true));
                        0
                    }
                    (None, None) => errno::INVALID_SW_IF_INDEX,
                };
                out.push(&af_packet::AfPacketDeleteReply { retval: r });
            }
            "af_packet_dump" => {
                let _ = msg!(af_packet::AfPacketDump);
                for (idx, i) in &st.interfaces {
                    if let IfKind::AfPacket { host_if_name } = &i.kind {
                        out.push(&af_packet::AfPacketDetails {
                            sw_if_index: *idx,
                            host_if_name: host_if_name.clone(),
                        });
                    }
                }
            }
            "npol_get_version" => out.push(&npol::NpolGetVersionReply { major: 0, minor: 0 }),
            "npol_ipset_create" => {
                let m = msg!(npol::NpolIpsetCreate);
                let r = match fault {
                    Some(f) => Err(f),
                    None => st.npol.ipset_create(m.r#type),
                };
                out.push(&npol::NpolIpsetCreateReply {
                    retval: r.err().unwrap_or(0),
                    set_id: r.unwrap_or(u32::MAX),
                });
            }
            "npol_ipset_add_del_members" => {
                let m = msg!(npol::NpolIpsetAddDelMembers);
                let r = act!(st.npol.ipset_members(m.set_id, m.is_add, &m.members));
                out.push(&npol::NpolIpsetAddDelMembersReply { retval: r });
            }
            "npol_ipset_delete" => {
                let m = msg!(npol::NpolIpsetDelete);
                let r = act!(st.npol.ipset_delete(m.set_id));
                out.push(&npol::NpolIpsetDeleteReply { retval: r });
            }
            "npol_rule_create" => {
                let m = msg!(npol::NpolRuleCreate);
                let r = match fault {
                    Some(f) => Err(f),
                    None => st.npol.rule_create(m.rule),
                };
                out.push(&npol::NpolRuleCreateReply {
                    retval: r.err().unwrap_or(0),
                    rule_id: r.unwrap_or(u32::MAX),
                });
            }
            "npol_rule_update" => {
                let m = msg!(npol::NpolRuleUpdate);
                let r = act!(st.npol.rule_update(m.rule_id, m.rule));
                out.push(&npol::NpolRuleUpdateReply { retval: r });
            }
            "npol_rule_delete" => {
                let m = msg!(npol::NpolRuleDelete);
                let r = act!(st.npol.rule_delete(m.rule_id));
                out.push(&npol::NpolRuleDeleteReply { retval: r });
            }
            "npol_policy_create" => {
                let m = msg!(npol::NpolPolicyCreate);
                let r = match fault {
                    Some(f) => Err(f),
                    None => st.npol.policy_create(m.rules),
                };
                out.push(&npol::NpolPolicyCreateReply {
                    retval: r.err().unwrap_or(0),
                    policy_id: r.unwrap_or(u32::MAX),
                });
            }
            "npol_policy_update" => {
                let m = msg!(npol::NpolPolicyUpdate);
                let r = act!(st.npol.policy_update(m.policy_id, m.rules));
                out.push(&npol::NpolPolicyUpdateReply { retval: r });
            }
            "npol_policy_delete" => {
                let m = msg!(npol::NpolPolicyDelete);
                let r = act!(st.npol.policy_delete(m.policy_id));
                out.push(&npol::NpolPolicyDeleteReply { retval: r });
            }
            "npol_configure_policies" => {
                let m = msg!(npol::NpolConfigurePolicies);
                let exists = st.interfaces.contains_key(&m.sw_if_index);
                let r = act!(st.npol.configure(exists, &m));
                out.push(&npol::NpolConfigurePoliciesReply { retval: r });
            }
            "acl_add_replace" => {
                let m = msg!(acl::AclAddReplace);
                let r = match fault {
                    Some(f) => Err(f),
                    None => st.acl_add_replace(m.acl_index, &m.tag, m.r),
                };
                out.push(&acl::AclAddReplaceReply {
                    acl_index: r.unwrap_or(m.acl_index),
                    retval: r.err().unwrap_or(0),
                });
            }
            "acl_del" => {
                let m = msg!(acl::AclDel);
                let r = act!(st.acl_del(m.acl_index));
                out.push(&acl::AclDelReply { retval: r });
            }
            "acl_dump" => {
                let m = msg!(acl::AclDump);
                for (idx, a) in &st.acls {
                    if m.acl_index == u32::MAX || m.acl_index == *idx {
                        out.push(&acl::AclDetails {
                            acl_index: *idx,
                            tag: a.tag.clone(),
                            r: a.rules.clone(),
                        });
                    }
                }
            }
            "acl_interface_set_acl_list" => {
                let m = msg!(acl::AclInterfaceSetAclList);
                let r = act!(st.set_acl_list(m.sw_if_index, usize::from(m.n_input), &m.acls));
                out.push(&acl::AclInterfaceSetAclListReply { retval: r });
            }
            "acl_interface_list_dump" => {
                let m = msg!(acl::AclInterfaceListDump);
                for (idx, i) in &st.interfaces {
                    if (m.sw_if_index != u32::MAX && m.sw_if_index != *idx)
                        || (i.acl_in.is_empty()
                            && i.acl_out.is_empty()
                            && m.sw_if_index == u32::MAX)
                    {
                        continue;
                    }
                    out.push(&acl::AclInterfaceListDetails {
                        sw_if_index: *idx,
                        n_input: u8::try_from(i.acl_in.len()).unwrap_or(u8::MAX),
                        acls: i.acl_in.iter().chain(&i.acl_out).copied().collect(),
                    });
                }
            }
            "ip_neighbor_add_del" => {
                let m = msg!(ip_neighbor::IpNeighborAddDel);
                let n = &m.neighbor;
                let r = match n.ip_address.ip() {
                    Some(ip) => {
                        act!(st.neighbor(m.is_add, n.sw_if_index, ip, n.mac_address, n.flags.0))
                    }
                    None => errno::INVALID_ADDRESS_FAMILY,
                };
                out.push(&ip_neighbor::IpNeighborAddDelReply {
                    retval: r,
                    stats_index: 0,
                });
            }
            "ip_neighbor_dump" => {
                let m = msg!(ip_neighbor::IpNeighborDump);
                for ((idx, ip), (mac, flags)) in &st.neighbors {
                    let v6 = m.af.0 == 1;
                    if ip.is_ipv6() != v6 || (m.sw_if_index != u32::MAX && m.sw_if_index != *idx) {
                        continue;
                    }
                    out.push(&ip_neighbor::IpNeighborDetails {
                        age: 0.0,
                        neighbor: IpNeighbor {
                            sw_if_index: *idx,
                            flags: IpNeighborFlags(*flags),
                            mac_address: *mac,
                            ip_address: Address::from_ip(*ip),
                        },
                    });
                }
            }
            "cnat_translation_update" => {
                let m = msg!(cnat::CnatTranslationUpdate);
                let (r, id) = match fault {
                    Some(f) => (f, u32::MAX),
                    None => match st.cnat_update(m.translation) {
                        Ok(id) => (0, id),
                        Err(r) => (r, u32::MAX),
                    },
                };
                out.push(&cnat::CnatTranslationUpdateReply { retval: r, id });
            }
            "cnat_translation_del" => {
                let m = msg!(cnat::CnatTranslationDel);
                let r = act!(st.cnat_del(m.id));
                out.push(&cnat::CnatTranslationDelReply { retval: r });
            }
            "cnat_translation_dump" => {
                let _ = msg!(cnat::CnatTranslationDump);
                for t in st.cnat.values() {
                    out.push(&cnat::CnatTranslationDetails {
                        translation: t.clone(),
                    });
                }
            }
            "policer_add_del" => {
                let m = msg!(policer::PolicerAddDel);
                let cfg = m.config();
                let r = match fault {
                    Some(f) => Err(f),
                    None => st.policer_add_del(m.is_add, &m.name, cfg),
                };
                out.push(&policer::PolicerAddDelReply {
                    retval: r.err().unwrap_or(0),
                    policer_index: r.unwrap_or(u32::MAX),
                });
            }
            "policer_input" => {
                let m = msg!(policer::PolicerInput);
                let r = act!(st.policer_input(&m.name, m.sw_if_index, m.apply));
                out.push(&policer::PolicerInputReply { retval: r });
            }
            "policer_dump" => {
                let m = msg!(policer::PolicerDump);
                for (name, p) in &st.policers {
                    if m.match_name_valid && *name != m.match_name {
                        continue;
                    }
                    let c = &p.config;
                    out.push(&policer::PolicerDetails {
                        name: name.clone(),
                        cir: c.cir,
                        eir: c.eir,
                        cb: c.cb,
                        eb: c.eb,
                        rate_type: c.rate_type,
                        round_type: c.round_type,
                        r#type: c.r#type,
                        conform_action: c.conform_action,
                        exceed_action: c.exceed_action,
                        violate_action: c.violate_action,
                        single_rate: c.r#type.0 <= 1,
                        color_aware: c.color_aware,
                        ..Default::default()
                    });
                }
            }
            _ => return Ok(None),
        }
    }
    for (idx, up, deleted) in events {
        let Some(id) = shared
            .table
            .ids
            .get(interface::SwInterfaceEvent::NAME)
            .copied()
        else {
            continue;
        };
        shared.broadcast_event(|pid| {
            let ev = interface::SwInterfaceEvent {
                pid,
                sw_if_index: idx,
                flags: IfStatusFlags(if up { 3 } else { 0 }),
                deleted,
            };
            let mut b = Vec::new();
            let hdr = MsgHeader {
                msg_id: id,
                client_index,
                context: 0,
            };
            let _ = wire::encode(&ev, hdr, &mut b);
            b
        });
    }
    Ok(Some(out.msgs))
}

fn iface_details(idx: u32, i: &Iface) -> interface::SwInterfaceDetails {
    let (dev, sup, sub) = match &i.kind {
        IfKind::Local => ("local", idx, None),
        IfKind::Ethernet => ("dpdk", idx, None),
        IfKind::Bvi { .. } => ("Loopback", idx, None),
        IfKind::Tap { .. } => ("virtio", idx, None),
        IfKind::Vxlan(_) => ("VXLAN", idx, None),
        IfKind::VlanSubif { parent, vlan } => ("dpdk", *parent, Some(*vlan)),
        IfKind::AfPacket { .. } => ("af_packet", idx, None),
    };
    let flags = if i.admin_up { 3 } else { 0 };
    interface::SwInterfaceDetails {
        sw_if_index: idx,
        sup_sw_if_index: sup,
        l2_address: i.mac,
        flags: IfStatusFlags(flags),
        r#type: if sub.is_some() {
            IfType::IF_API_TYPE_SUB
        } else {
            IfType::IF_API_TYPE_HARDWARE
        },
        link_mtu: 9000,
        mtu: [9000, 9000, 9000, 9000],
        sub_id: sub.map_or(0, u32::from),
        sub_number_of_tags: u8::from(sub.is_some()),
        sub_outer_vlan_id: sub.unwrap_or(0),
        sub_if_flags: if sub.is_some() {
            SubIfFlags(
                SubIfFlags::SUB_IF_API_FLAG_ONE_TAG.0 | SubIfFlags::SUB_IF_API_FLAG_EXACT_MATCH.0,
            )
        } else {
            SubIfFlags(0)
        },
        vtr_op: i.vtr_op,
        interface_name: i.name.clone(),
        interface_dev_type: dev.into(),
        tag: i.tag.clone(),
        ..Default::default()
    }
}

fn tap_details(idx: u32, name: &str, id: u32, h: &TapHost) -> tapv2::SwInterfaceTapV2Details {
    let ip4 = h.ip4.and_then(|n| match n {
        IpNet::V4(n) => Some(Ip4Prefix::from_net(n)),
        IpNet::V6(_) => None,
    });
    let ip6 = h.ip6.and_then(|n| match n {
        IpNet::V6(n) => Some(Ip6Prefix::from_net(n)),
        IpNet::V4(_) => None,
    });
    tapv2::SwInterfaceTapV2Details {
        sw_if_index: idx,
        id,
        tx_ring_sz: 256,
        rx_ring_sz: 256,
        host_mtu_size: h.mtu,
        host_mac_addr: h.mac,
        host_ip4_prefix: ip4.unwrap_or_default(),
        host_ip6_prefix: ip6.unwrap_or_default(),
        dev_name: name.to_owned(),
        host_if_name: h.if_name.clone(),
        host_namespace: h.namespace.clone(),
        ..Default::default()
    }
}

fn delete_kind(
    st: &mut super::VppState,
    idx: u32,
    fault: Option<i32>,
    is_kind: impl Fn(&IfKind) -> bool,
) -> i32 {
    if let Some(f) = fault {
        return f;
    }
    match st.interfaces.get(&idx) {
        Some(i) if is_kind(&i.kind) => {
            st.remove_iface(idx);
            0
        }
        _ => errno::INVALID_SW_IF_INDEX,
    }
}

fn create_vlan_subif(st: &mut super::VppState, parent: u32, vlan: u32) -> Result<u32, i32> {
    let p = st
        .interfaces
        .get(&parent)
        .ok_or(errno::INVALID_SW_IF_INDEX)?;
    if vlan == 0 || vlan > 4095 {
        return Err(errno::INVALID_VLAN);
    }
    let vlan = vlan as u16;
    let exists = st
        .interfaces
        .values()
        .any(|i| i.kind == IfKind::VlanSubif { parent, vlan });
    if exists {
        return Err(errno::VLAN_ALREADY_EXISTS);
    }
    let name = format!("{}.{vlan}", p.name);
    let mac = p.mac;
    Ok(st.add_iface(name, IfKind::VlanSubif { parent, vlan }, mac))
}

fn bvi_create(st: &mut super::VppState, mac: [u8; 6], user_instance: u32) -> Result<u32, i32> {
    let used: Vec<u32> = st
        .interfaces
        .values()
        .filter_map(|i| match i.kind {
            IfKind::Bvi { instance } => Some(instance),
            _ => None,
        })
        .collect();
    let instance = if user_instance == u32::MAX {
        (0..).find(|i| !used.contains(i)).unwrap_or(u32::MAX)
    } else if used.contains(&user_instance) {
        return Err(errno::INSTANCE_IN_USE);
    } else {
        user_instance
    };
    let seed = 0x0b00_0000 | instance;
    let mac = mac_or_random(mac, false, seed);
    Ok(st.add_iface(format!("bvi{instance}"), IfKind::Bvi { instance }, mac))
}

fn vxlan_add_del(st: &mut super::VppState, m: &vxlan::VxlanAddDelTunnelV3) -> Result<u32, i32> {
    let (Some(src), Some(dst)) = (m.src_address.ip(), m.dst_address.ip()) else {
        return Err(errno::INVALID_ADDRESS_FAMILY);
    };
    let same = |k: &VxlanKey| {
        k.src == src
            && k.dst == dst
            && k.vni == m.vni
            && k.encap_vrf_id == m.encap_vrf_id
            && k.src_port == m.src_port
            && k.dst_port == m.dst_port
    };
    let existing = st.interfaces.iter().find_map(|(idx, i)| match &i.kind {
        IfKind::Vxlan(k) if same(k) => Some(*idx),
        _ => None,
    });
    if !m.is_add {
        let idx = existing.ok_or(errno::NO_SUCH_ENTRY)?;
        st.remove_iface(idx);
        return Ok(idx);
    }
    if existing.is_some() {
        return Err(errno::TUNNEL_EXIST);
    }
    if src == dst {
        return Err(errno::SAME_SRC_DST);
    }
    if src.is_ipv6() != dst.is_ipv6() {
        return Err(errno::INVALID_VALUE);
    }
    let used: Vec<u32> = st
        .interfaces
        .values()
        .filter_map(|i| match &i.kind {
            IfKind::Vxlan(k) => Some(k.instance),
            _ => None,
        })
        .collect();
    let instance = if m.instance == u32::MAX {
        (0..).find(|i| !used.contains(i)).unwrap_or(u32::MAX)
    } else if used.contains(&m.instance) {
        return Err(errno::INSTANCE_IN_USE);
    } else {
        m.instance
    };
    // VPP: "if not set explicitly, default to l2" (VXLAN_INPUT_NEXT_L2_INPUT).
    let decap_next_index = if m.decap_next_index == u32::MAX {
        1
    } else if m.decap_next_index > 1 {
        return Err(errno::INVALID_DECAP_NEXT);
    } else {
        m.decap_next_index
    };
    let key = VxlanKey {
        instance,
        src,
        dst,
        src_port: m.src_port,
        dst_port: m.dst_port,
        vni: m.vni,
        encap_vrf_id: m.encap_vrf_id,
        decap_next_index,
    };
    let mac = mac_or_random([0; 6], true, 0x0c00_0000 | instance);
    Ok(st.add_iface(format!("vxlan_tunnel{instance}"), IfKind::Vxlan(key), mac))
}

fn tap_create(st: &mut super::VppState, m: &tapv2::TapCreateV3) -> Result<u32, i32> {
    let used: Vec<u32> = st
        .interfaces
        .values()
        .filter_map(|i| match &i.kind {
            IfKind::Tap { id, .. } => Some(*id),
            _ => None,
        })
        .collect();
    let id = if m.id == u32::MAX {
        (0..).find(|i| !used.contains(i)).unwrap_or(u32::MAX)
    } else if used.contains(&m.id) {
        return Err(errno::INVALID_VALUE);
    } else {
        m.id
    };
    if m.host_if_name_set {
        let taken = st.interfaces.values().any(|i| match &i.kind {
            IfKind::Tap { host, .. } => {
                host.if_name == m.host_if_name && host.namespace == m.host_namespace
            }
            _ => false,
        });
        if taken {
            // The kernel refuses a second interface of that name.
            return Err(errno::SYSCALL_ERROR_2);
        }
    }
    let net4 = |p: &Ip4Prefix| p.net().map(IpNet::V4);
    let net6 = |p: &Ip6Prefix| p.net().map(IpNet::V6);
    let host = TapHost {
        if_name: if m.host_if_name_set {
            m.host_if_name.clone()
        } else {
            format!("tap{id}")
        },
        namespace: if m.host_namespace_set {
            m.host_namespace.clone()
        } else {
            String::new()
        },
        mac: if m.host_mac_addr_set {
            m.host_mac_addr
        } else {
            [0x02, 0xfe, 0xee, 0, 0, id as u8]
        },
        ip4: m
            .host_ip4_prefix_set
            .then(|| net4(&m.host_ip4_prefix))
            .flatten(),
        ip6: m
            .host_ip6_prefix_set
            .then(|| net6(&m.host_ip6_prefix))
            .flatten(),
        ip4_gw: m.host_ip4_gw_set.then(|| IpAddr::from(m.host_ip4_gw)),
        ip6_gw: m.host_ip6_gw_set.then(|| IpAddr::from(m.host_ip6_gw)),
        mtu: if m.host_mtu_set { m.host_mtu_size } else { 0 },
    };
    let mac = mac_or_random(m.mac_address, m.use_random_mac, 0x0a00_0000 | id);
    let idx = st.add_iface(format!("tap{id}"), IfKind::Tap { id, host }, mac);
    if !m.tag.is_empty() {
        let _ = st.tag(idx, true, &m.tag);
    }
    Ok(idx)
}
