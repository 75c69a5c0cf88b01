//! VPP's npol-plugin semantics (FDio/vpp `src/plugins/npol/npol_match.c`),
//! applied to the npol state a VPP holds (here: the test server's),
//! written independently of the backend's compiler:
//!
//! * a packet an interface sends into VPP is judged by its RX policies,
//!   one VPP sends out of it by its TX policies (`invert_rx_tx` swaps);
//!   an interface without configuration allows everything;
//! * the policies are tried in order, each with its rules of that
//!   direction in order; the first rule that matches decides (`ALLOW`,
//!   `DENY`; `PASS` skips to the profiles); no match takes the policy
//!   default, then the profiles and their default;
//! * a rule matches if every filter holds (`L4_PROTO`: the protocol is /
//!   is not the value), and per side (source, destination): the address is
//!   in one of its positive CIDRs and one of its positive ipsets (if it
//!   has any), in none of its negated ones, and the port in one of its
//!   port ranges (if any); prefixes and set members of the other family
//!   never match;
//! * an allowed connection is a session: its replies pass unjudged.
//!
//! Delivery (tenant isolation) is the ACL model's: `vpp_acl::deliverable`.

use super::vpp_acl::{Pkt, deliverable};
use contiv_dp_vpp::api::types::{
    NpolEntryType, NpolPolicyDefault, NpolRule, NpolRuleAction, NpolRuleFilterType,
};
use contiv_dp_vpp::testing::VppState;
use std::net::IpAddr;

fn side_matches(st: &VppState, r: &NpolRule, is_src: bool, p: &Pkt) -> bool {
    let (ip, port): (IpAddr, u16) = if is_src {
        (p.src, p.sport)
    } else {
        (p.dst, p.dport)
    };
    let entries = |kind: NpolEntryType, not: bool| {
        r.matches
            .iter()
            .filter(move |e| e.is_src == is_src && e.is_not == not && e.r#type == kind)
    };
    let in_cidr = |e: &contiv_dp_vpp::api::types::NpolRuleEntry| {
        e.data
            .cidr()
            .net()
            .is_some_and(|n| n.addr().is_ipv4() == ip.is_ipv4() && n.contains(&ip))
    };
    let in_set = |e: &contiv_dp_vpp::api::types::NpolRuleEntry| {
        st.npol
            .ipsets
            .get(&e.data.set_id().set_id)
            .is_some_and(|s| s.contains(&ip))
    };
    let in_range = |e: &contiv_dp_vpp::api::types::NpolRuleEntry| {
        let r = e.data.port_range();
        (r.start..=r.end).contains(&port)
    };
    let positive = |kind, f: &dyn Fn(&contiv_dp_vpp::api::types::NpolRuleEntry) -> bool| {
        let mut it = entries(kind, false).peekable();
        it.peek().is_none() || it.any(f)
    };
    let negative = |kind, f: &dyn Fn(&contiv_dp_vpp::api::types::NpolRuleEntry) -> bool| {
        !entries(kind, true).any(f)
    };
    positive(NpolEntryType::NPOL_CIDR, &in_cidr)
        && negative(NpolEntryType::NPOL_CIDR, &in_cidr)
        && positive(NpolEntryType::NPOL_IP_SET, &in_set)
        && negative(NpolEntryType::NPOL_IP_SET, &in_set)
        && positive(NpolEntryType::NPOL_PORT_RANGE, &in_range)
        && negative(NpolEntryType::NPOL_PORT_RANGE, &in_range)
}

fn rule_matches(st: &VppState, r: &NpolRule, p: &Pkt) -> bool {
    let filters_hold = r.filters.iter().all(|f| match f.r#type {
        NpolRuleFilterType::NPOL_RULE_FILTER_L4_PROTO => {
            (f.value == u32::from(p.proto)) == (f.should_match != 0)
        }
        NpolRuleFilterType::NPOL_RULE_FILTER_NONE_TYPE => true,
        // The backend sends no ICMP type/code filters.
        _ => false,
    });
    filters_hold && side_matches(st, r, true, p) && side_matches(st, r, false, p)
}

/// The decision on interface `ifx` for a packet it sends into VPP (`rx`)
/// or VPP sends out of it.
pub fn judge(st: &VppState, ifx: u32, rx: bool, p: &Pkt) -> bool {
    let Some(cfg) = st.npol.interfaces.get(&ifx) else {
        return true;
    };
    let list = if rx != cfg.invert { &cfg.rx } else { &cfg.tx };
    let dir_rx = rx != cfg.invert;
    let (pol_default, prof_default) = if rx {
        (cfg.policy_default.0, cfg.profile_default.0)
    } else {
        (cfg.policy_default.1, cfg.profile_default.1)
    };
    let first = |ids: &[u32]| -> Option<NpolRuleAction> {
        for id in ids {
            let items = st.npol.policies.get(id).map_or(&[][..], Vec::as_slice);
            for it in items.iter().filter(|i| i.is_inbound == dir_rx) {
                if let Some(r) = st.npol.rules.get(&it.rule_id)
                    && rule_matches(st, r, p)
                {
                    return Some(r.action);
                }
            }
        }
        None
    };
    let to_profiles = match first(list) {
        Some(NpolRuleAction::NPOL_ALLOW) => return true,
        Some(NpolRuleAction::NPOL_DENY) => return false,
        Some(NpolRuleAction::NPOL_PASS) => true,
        _ => match pol_default {
            NpolPolicyDefault::NPOL_DEFAULT_ALLOW => return true,
            NpolPolicyDefault::NPOL_DEFAULT_DENY => return false,
            _ => true,
        },
    };
    debug_assert!(to_profiles);
    match first(&cfg.profiles) {
        Some(NpolRuleAction::NPOL_ALLOW) => true,
        Some(NpolRuleAction::NPOL_DENY) => false,
        _ => prof_default == NpolPolicyDefault::NPOL_DEFAULT_ALLOW,
    }
}

/// Verdicts of a connection's first packet and of its reply, as
/// [`super::vpp_acl::connection`].
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
    let ok = src_if.is_none_or(|a| judge(st, a, true, p))
        && dst_if.is_none_or(|b| judge(st, b, false, p));
    // Allowed: a session; its replies pass.
    (ok, ok)
}
