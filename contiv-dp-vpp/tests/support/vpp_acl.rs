//! VPP's documented ACL-plugin semantics, applied to the state a VPP holds
//! (here: the test server's), written independently of the backend's
//! compiler:
//!
//! * an interface's input ACL list judges packets it sends into VPP, its
//!   output list packets VPP sends to it; the lists are checked in order,
//!   each ACL rule by rule, and the **first matching rule** decides; no
//!   match denies; an empty list lets everything through;
//! * a rule matches a packet of its family whose source and destination
//!   lie in its prefixes, whose protocol equals the rule's (0 = any, and
//!   then ports are not looked at); for TCP/UDP the ports lie in the
//!   ranges, for ICMP/ICMPv6 the type and code;
//! * `permit+reflect` creates a session on that interface: the
//!   connection's packets in the other direction on that interface pass
//!   without the rules; a plain `permit` creates none.
//!
//! Delivery (tenant isolation) is read from the same state: two interfaces
//! reach each other if they share a bridge domain, or their bridge
//! domains' BVIs are in the same IP table.

use contiv_dp_vpp::api::types::AclRule;
use contiv_dp_vpp::testing::VppState;
use std::net::IpAddr;

/// A packet as the ACL plugin sees it.
#[derive(Clone, Copy, Debug)]
pub struct Pkt {
    /// Source address.
    pub src: IpAddr,
    /// Destination address.
    pub dst: IpAddr,
    /// IP protocol.
    pub proto: u8,
    /// Source port (ICMP: type).
    pub sport: u16,
    /// Destination port (ICMP: code).
    pub dport: u16,
}

impl Pkt {
    /// The reply: addresses and ports swapped (ICMP echo reply: type 0).
    pub fn reply(&self) -> Pkt {
        if self.proto == 1 || self.proto == 58 {
            let t = if self.proto == 1 { 0 } else { 129 };
            return Pkt {
                src: self.dst,
                dst: self.src,
                sport: t,
                dport: 0,
                ..*self
            };
        }
        Pkt {
            src: self.dst,
            dst: self.src,
            proto: self.proto,
            sport: self.dport,
            dport: self.sport,
        }
    }
}

fn rule_matches(r: &AclRule, p: &Pkt) -> bool {
    let (Some(s), Some(d)) = (r.src_prefix.net(), r.dst_prefix.net()) else {
        return false;
    };
    if s.addr().is_ipv4() != p.src.is_ipv4() || !s.contains(&p.src) || !d.contains(&p.dst) {
        return false;
    }
    let proto = r.proto.0;
    if proto == 0 {
        return true;
    }
    if proto != p.proto {
        return false;
    }
    match proto {
        6 | 17 | 1 | 58 => {
            (r.srcport_or_icmptype_first..=r.srcport_or_icmptype_last).contains(&p.sport)
                && (r.dstport_or_icmpcode_first..=r.dstport_or_icmpcode_last).contains(&p.dport)
        }
        _ => true,
    }
}

/// The first matching rule's action over a list of ACLs (`None`: no
/// match).
fn first_match(st: &VppState, list: &[u32], p: &Pkt) -> Option<u8> {
    list.iter()
        .filter_map(|i| st.acls.get(i))
        .flat_map(|a| a.rules.iter())
        .find(|r| rule_matches(r, p))
        .map(|r| r.is_permit.0)
}

/// One hop's judgement: (passes, creates a session).
fn judge(st: &VppState, list: &[u32], p: &Pkt) -> (bool, bool) {
    if list.is_empty() {
        return (true, false);
    }
    match first_match(st, list, p) {
        Some(2) => (true, true),
        Some(1) => (true, false),
        _ => (false, false),
    }
}

/// The table an interface routes in: its bridge domain's BVI's.
fn table_of(st: &VppState, ifx: u32, v6: bool) -> Option<u32> {
    let bd = st.interfaces.get(&ifx)?.l2?.bd_id;
    st.interfaces
        .values()
        .find(|i| i.l2.is_some_and(|l| l.bd_id == bd && l.port_type.0 == 1))
        .map(|b| if v6 { b.table6 } else { b.table4 })
}

/// True if VPP can deliver between the two interfaces at all.
pub fn deliverable(st: &VppState, a: u32, b: u32, v6: bool) -> bool {
    let bd = |i: u32| st.interfaces.get(&i).and_then(|x| x.l2).map(|l| l.bd_id);
    (bd(a).is_some() && bd(a) == bd(b))
        || (table_of(st, a, v6).is_some() && table_of(st, a, v6) == table_of(st, b, v6))
}

/// Verdicts of a connection's first packet and of its reply. `src_if` /
/// `dst_if`: the local interfaces of the ends (`None`: outside this host,
/// e.g. behind the uplink).
pub fn connection(
    st: &VppState,
    src_if: Option<u32>,
    dst_if: Option<u32>,
    p: &Pkt,
) -> (bool, bool) {
    if let (Some(a), Some(b)) = (src_if, dst_if)
        && !deliverable(st, a, b, p.src.is_ipv6())
    {
        return (false, false);
    }
    let input = |i: u32| st.interfaces[&i].acl_in.clone();
    let output = |i: u32| st.interfaces[&i].acl_out.clone();
    // Forward: out of the source's interface (its input list), into the
    // destination's (its output list).
    let mut sessions = (false, false);
    if let Some(a) = src_if {
        let (ok, s) = judge(st, &input(a), p);
        if !ok {
            return (false, false);
        }
        sessions.0 = s;
    }
    if let Some(b) = dst_if {
        let (ok, s) = judge(st, &output(b), p);
        if !ok {
            return (false, false);
        }
        sessions.1 = s;
    }
    // Reply: into the destination's interface input, out of the
    // source's output; a session lets it through without the rules.
    let r = p.reply();
    let back_ok = dst_if.is_none_or(|b| sessions.1 || judge(st, &input(b), &r).0)
        && src_if.is_none_or(|a| sessions.0 || judge(st, &output(a), &r).0);
    (true, back_ok)
}
