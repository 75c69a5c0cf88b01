//! Text rendering of matches and instructions in the `ovs-ofctl` style
//! (`tcp,reg3=0x5,nw_src=10.0.0.0/8 actions=conjunction(7,1/2)`), for
//! logs, assertions and `Display`. Fields and actions the pipeline never
//! emits fall back to their debug form.

use crate::openflow::wire::{
    Action, CtZone, Instruction, Masked, Match, NxmHeader, OxmField, ct_flags, ct_state, port_no,
};
use std::fmt::Write;
use std::net::{Ipv4Addr, Ipv6Addr};

/// The match as `ovs-ofctl` would write it (without `priority=`).
pub fn match_text(m: &Match) -> String {
    let mut parts: Vec<String> = Vec::new();
    let eth = m.fields().iter().find_map(|f| match f {
        OxmField::EthType(t) => Some(*t),
        _ => None,
    });
    let proto = m.fields().iter().find_map(|f| match f {
        OxmField::IpProto(p) => Some(*p),
        _ => None,
    });
    let mut proto_shown = false;
    match eth {
        Some(0x0800) => {
            parts.push(
                match proto {
                    Some(6) => "tcp",
                    Some(17) => "udp",
                    Some(1) => "icmp",
                    _ => "ip",
                }
                .into(),
            );
            proto_shown = matches!(proto, Some(6 | 17 | 1));
        }
        Some(0x86dd) => {
            parts.push(
                match proto {
                    Some(6) => "tcp6",
                    Some(17) => "udp6",
                    Some(58) => "icmp6",
                    _ => "ipv6",
                }
                .into(),
            );
            proto_shown = matches!(proto, Some(6 | 17 | 58));
        }
        Some(0x0806) => parts.push("arp".into()),
        Some(t) => parts.push(format!("dl_type={t:#06x}")),
        None => {}
    }
    for f in m.fields() {
        match f {
            OxmField::EthType(_) => {}
            OxmField::IpProto(_) if proto_shown => {}
            f => parts.push(field_text(f)),
        }
    }
    parts.join(",")
}

fn hex(v: u32) -> String {
    if v == 0 {
        "0".into()
    } else {
        format!("{v:#x}")
    }
}

fn hex_masked32(name: &str, v: &Masked<u32>) -> String {
    match v.mask {
        Some(m) => format!("{name}={}/{m:#x}", hex(v.value)),
        None => format!("{name}={}", hex(v.value)),
    }
}

fn v4(name: &str, v: &Masked<Ipv4Addr>) -> String {
    match v.mask {
        None => format!("{name}={}", v.value),
        Some(m) => {
            let bits = u32::from(m);
            if bits.leading_ones() + bits.trailing_zeros() == 32 {
                format!("{name}={}/{}", v.value, bits.leading_ones())
            } else {
                format!("{name}={}/{m}", v.value)
            }
        }
    }
}

fn v6(name: &str, v: &Masked<Ipv6Addr>) -> String {
    match v.mask {
        None => format!("{name}={}", v.value),
        Some(m) => {
            let bits = u128::from(m);
            if bits.leading_ones() + bits.trailing_zeros() == 128 {
                format!("{name}={}/{}", v.value, bits.leading_ones())
            } else {
                format!("{name}={}/{m}", v.value)
            }
        }
    }
}

fn port(name: &str, v: &Masked<u16>) -> String {
    match v.mask {
        None => format!("{name}={}", v.value),
        Some(m) => format!("{name}={:#x}/{m:#x}", v.value),
    }
}

fn ct_state_text(v: &Masked<u32>) -> String {
    let mask = v.mask.unwrap_or(u32::MAX);
    let mut s = String::from("ct_state=");
    for (bit, name) in [
        (ct_state::NEW, "new"),
        (ct_state::EST, "est"),
        (ct_state::REL, "rel"),
        (ct_state::RPL, "rpl"),
        (ct_state::INV, "inv"),
        (ct_state::TRK, "trk"),
        (ct_state::SNAT, "snat"),
        (ct_state::DNAT, "dnat"),
    ] {
        if mask & bit != 0 {
            s.push(if v.value & bit != 0 { '+' } else { '-' });
            s.push_str(name);
        }
    }
    s
}

/// `nw_frag=` as ovs-ofctl writes it (`no`, `yes`, `first`, `later`,
/// `not_later`), else value/mask.
fn ip_frag_text(v: &Masked<u8>) -> String {
    let word = match (v.value, v.mask.unwrap_or(3) & 3) {
        (0, 3) => "no",
        (1, 1) => "yes",
        (1, 3) => "first",
        (3, 3) => "later",
        (0, 2) => "not_later",
        (value, mask) => return format!("nw_frag={value:#x}/{mask:#x}"),
    };
    format!("nw_frag={word}")
}

fn field_text(f: &OxmField) -> String {
    match f {
        OxmField::InPort(p) => format!("in_port={}", port_name(*p)),
        OxmField::EthSrc(m) => mac("dl_src", m),
        OxmField::EthDst(m) => mac("dl_dst", m),
        OxmField::VlanVid(m) if m.mask.is_none() && m.value & 0x1000 != 0 => {
            format!("dl_vlan={}", m.value & 0x0fff)
        }
        OxmField::VlanVid(m) => format!(
            "vlan_tci={:#06x}/{:#06x}",
            m.value,
            m.mask.unwrap_or(0x1fff)
        ),
        OxmField::IpProto(p) => format!("nw_proto={p}"),
        OxmField::Ipv4Src(m) => v4("nw_src", m),
        OxmField::Ipv4Dst(m) => v4("nw_dst", m),
        OxmField::Ipv6Src(m) => v6("ipv6_src", m),
        OxmField::Ipv6Dst(m) => v6("ipv6_dst", m),
        OxmField::TcpDst(m) | OxmField::UdpDst(m) => port("tp_dst", m),
        OxmField::TcpSrc(m) | OxmField::UdpSrc(m) => port("tp_src", m),
        OxmField::Icmpv4Type(t) | OxmField::Icmpv6Type(t) => format!("icmp_type={t}"),
        OxmField::Icmpv4Code(c) | OxmField::Icmpv6Code(c) => format!("icmp_code={c}"),
        OxmField::ArpOp(o) => format!("arp_op={o}"),
        OxmField::ArpSpa(m) => v4("arp_spa", m),
        OxmField::ArpTpa(m) => v4("arp_tpa", m),
        OxmField::ArpSha(m) => mac("arp_sha", m),
        OxmField::ArpTha(m) => mac("arp_tha", m),
        OxmField::TunnelId(m) => match m.mask {
            None => format!("tun_id={:#x}", m.value),
            Some(k) => format!("tun_id={:#x}/{k:#x}", m.value),
        },
        OxmField::Reg { index, value } => hex_masked32(&format!("reg{index}"), value),
        OxmField::CtState(m) => ct_state_text(m),
        OxmField::CtZone(z) => format!("ct_zone={z}"),
        OxmField::IpFrag(m) => ip_frag_text(m),
        OxmField::ConjId(c) => format!("conj_id={c}"),
        OxmField::Metadata(m) => match m.mask {
            None => format!("metadata={:#x}", m.value),
            Some(k) => format!("metadata={:#x}/{k:#x}", m.value),
        },
        other => format!("{other:?}"),
    }
}

fn mac(name: &str, m: &Masked<crate::openflow::wire::MacAddr>) -> String {
    match m.mask {
        None => format!("{name}={}", m.value),
        Some(k) => format!("{name}={}/{k}", m.value),
    }
}

fn port_name(p: u32) -> String {
    match p {
        port_no::IN_PORT => "IN_PORT".into(),
        port_no::NORMAL => "NORMAL".into(),
        port_no::FLOOD => "FLOOD".into(),
        port_no::ALL => "ALL".into(),
        port_no::CONTROLLER => "CONTROLLER".into(),
        port_no::LOCAL => "LOCAL".into(),
        p => p.to_string(),
    }
}

/// A field reference as `ovs-ofctl` names it (`NXM_NX_REG3`).
fn nxm_name(h: NxmHeader) -> String {
    let class = h.class();
    let field = (h.0 >> 9) & 0x7f;
    match (class, field) {
        (0x0001, 0..=15) => format!("NXM_NX_REG{field}"),
        (0x0000, 0) => "NXM_OF_IN_PORT".into(),
        (0x0000, 1) => "NXM_OF_ETH_DST".into(),
        (0x0000, 2) => "NXM_OF_ETH_SRC".into(),
        (0x0000, 6) => "NXM_OF_IP_PROTO".into(),
        (0x0000, 10) => "NXM_OF_TCP_DST".into(),
        (0x0000, 12) => "NXM_OF_UDP_DST".into(),
        (0x0000, 16) => "NXM_OF_ARP_SPA".into(),
        (0x0000, 17) => "NXM_OF_ARP_TPA".into(),
        (0x0001, 17) => "NXM_NX_ARP_SHA".into(),
        (0x0001, 18) => "NXM_NX_ARP_THA".into(),
        (0x0001, 16) => "NXM_NX_TUN_ID".into(),
        _ => format!("{:#010x}", h.0),
    }
}

fn bits(h: NxmHeader, ofs: u16, n_bits: u16) -> String {
    if ofs == 0 && n_bits == h.n_bits() {
        format!("{}[]", nxm_name(h))
    } else if n_bits == 1 {
        format!("{}[{ofs}]", nxm_name(h))
    } else {
        format!("{}[{ofs}..{}]", nxm_name(h), ofs + n_bits - 1)
    }
}

fn set_field_text(f: &OxmField) -> String {
    let (value, name) = match f {
        OxmField::Reg { index, value } => (format!("{:#x}", value.value), format!("reg{index}")),
        OxmField::TunnelId(m) => (format!("{:#x}", m.value), "tun_id".into()),
        OxmField::EthSrc(m) => (m.value.to_string(), "eth_src".into()),
        OxmField::EthDst(m) => (m.value.to_string(), "eth_dst".into()),
        OxmField::ArpOp(o) => (o.to_string(), "arp_op".into()),
        OxmField::ArpSha(m) => (m.value.to_string(), "arp_sha".into()),
        OxmField::ArpSpa(m) => (m.value.to_string(), "arp_spa".into()),
        OxmField::VlanVid(m) => (m.value.to_string(), "vlan_vid".into()),
        OxmField::IpDscp(d) => (d.to_string(), "ip_dscp".into()),
        other => return format!("set_field:{other:?}"),
    };
    format!("set_field:{value}->{name}")
}

fn action_text(a: &Action) -> String {
    match a {
        Action::Output { port, .. } => match *port {
            port_no::IN_PORT => "IN_PORT".into(),
            p if p >= port_no::MAX => port_name(p),
            p => format!("output:{p}"),
        },
        Action::PushVlan(t) => format!("push_vlan:{t:#06x}"),
        Action::PopVlan => "pop_vlan".into(),
        Action::SetField(f) => set_field_text(f),
        Action::RegLoad(l) => format!("load:{:#x}->{}", l.value, bits(l.dst, l.ofs, l.n_bits)),
        Action::RegMove(m) => format!(
            "move:{}->{}",
            bits(m.src, m.src_ofs, m.n_bits),
            bits(m.dst, m.dst_ofs, m.n_bits)
        ),
        Action::Conjunction {
            id,
            clause,
            n_clauses,
        } => format!("conjunction({id},{}/{n_clauses})", clause + 1),
        Action::Ct(ct) => {
            let mut s = String::from("ct(");
            let mut parts = Vec::new();
            if ct.flags & ct_flags::COMMIT != 0 {
                parts.push("commit".to_owned());
            }
            if let Some(t) = ct.recirc_table {
                parts.push(format!("table={t}"));
            }
            match ct.zone {
                CtZone::Imm(z) => parts.push(format!("zone={z}")),
                CtZone::Field { field, ofs, n_bits } => {
                    parts.push(format!("zone={}", bits(field, ofs, n_bits)))
                }
            }
            s.push_str(&parts.join(","));
            s.push(')');
            s
        }
        Action::Resubmit { table, .. } => match table {
            Some(t) => format!("resubmit(,{t})"),
            None => "resubmit".into(),
        },
        other => format!("{other:?}"),
    }
}

/// The instructions as `ovs-ofctl` writes them after `actions=` (`drop`
/// for none).
pub fn instructions_text(ins: &[Instruction]) -> String {
    let mut out = String::new();
    for i in ins {
        let piece = match i {
            Instruction::ApplyActions(actions) => actions
                .iter()
                .map(action_text)
                .collect::<Vec<_>>()
                .join(","),
            Instruction::GotoTable(t) => format!("goto_table:{t}"),
            Instruction::WriteMetadata { value, mask } => {
                format!("write_metadata:{value:#x}/{mask:#x}")
            }
            other => format!("{other:?}"),
        };
        if piece.is_empty() {
            continue;
        }
        if !out.is_empty() {
            out.push(',');
        }
        let _ = write!(out, "{piece}");
    }
    if out.is_empty() {
        out.push_str("drop");
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::openflow::wire::Ct;

    #[test]
    fn renders_like_ovs_ofctl() {
        let m = Match::new()
            .eth_type(0x0800)
            .ip_proto(6)
            .reg_masked(4, 0, 1)
            .ipv4_src_net("10.1.0.0/16".parse().unwrap())
            .tcp_dst_masked(0x1000, 0xf000);
        assert_eq!(
            match_text(&m),
            "tcp,reg4=0/0x1,nw_src=10.1.0.0/16,tp_dst=0x1000/0xf000"
        );
        let ins = vec![
            Instruction::ApplyActions(vec![
                Action::load(NxmHeader::reg(4), 3, 1, 1),
                Action::Ct(Ct::new().commit().zone(CtZone::Field {
                    field: NxmHeader::reg(0),
                    ofs: 0,
                    n_bits: 16,
                })),
            ]),
            Instruction::GotoTable(10),
        ];
        assert_eq!(
            instructions_text(&ins),
            "load:0x1->NXM_NX_REG4[3],ct(commit,zone=NXM_NX_REG0[0..15]),goto_table:10"
        );
        assert_eq!(instructions_text(&[]), "drop");
    }
}
