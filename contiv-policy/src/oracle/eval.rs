//! The evaluation itself: a direct reading of the semantics, rule by rule.

use super::packet::{ConnState, Packet, PacketEnd};
use super::verdict::{Cause, DecidingRule, Stage, StageVerdict, Verdict};
use crate::spec::{PROTO_ICMP, PROTO_ICMPV6, PROTO_TCP, PROTO_UDP};
use contiv_core::ir::{Action, AddrSetId, Direction, EpgId, IrRule, NO_EPG, PeerMatch, PolicyIr};
use std::cmp::Ordering;
use std::net::IpAddr;

/// Judges `packet` against `ir` (see the crate docs for the semantics).
///
/// ```
/// use contiv_core::ir::PolicyIr;
/// use contiv_policy::{evaluate, Packet, PacketEnd};
/// let a = PacketEnd::addr(1, "10.1.1.1".parse().unwrap());
/// let b = PacketEnd::addr(1, "10.1.1.2".parse().unwrap());
/// let v = evaluate(&PolicyIr::default(), &Packet::tcp(a, b, 80));
/// assert!(v.allowed());
/// assert!(v.deciding_rule().is_none()); // nothing matched: default allow
/// let other_tenant = PacketEnd::addr(2, "10.1.1.2".parse().unwrap());
/// assert!(!evaluate(&PolicyIr::default(), &Packet::tcp(a, other_tenant, 80)).allowed());
/// ```
pub fn evaluate(ir: &PolicyIr, packet: &Packet) -> Verdict {
    if packet.src.tenant != packet.dst.tenant {
        return Verdict {
            action: Action::Deny,
            cause: Cause::TenantIsolation {
                src: packet.src.tenant,
                dst: packet.dst.tenant,
            },
        };
    }
    if packet.state == ConnState::Reply {
        return Verdict {
            action: Action::Allow,
            cause: Cause::Reply,
        };
    }
    let tenant = packet.src.tenant;
    let src = (group_of(ir, &packet.src), packet.src.ip);
    let dst = (group_of(ir, &packet.dst), packet.dst.ip);
    // One pass over the rules serves both stages: the source group's `out`
    // rules (peer = destination) and the destination group's `in` rules
    // (peer = source).
    let mut best: [Option<&IrRule>; 2] = [None, None];
    if src.0 != NO_EPG || dst.0 != NO_EPG {
        for r in ir.rules.values() {
            let (slot, local, peer) = match r.direction {
                Direction::Out if src.0 != NO_EPG && r.epg == src.0 => (0, src, dst),
                Direction::In if dst.0 != NO_EPG && r.epg == dst.0 => (1, dst, src),
                _ => continue,
            };
            if r.tenant == tenant
                && matches(ir, r, packet, local.1, peer)
                && best[slot].is_none_or(|b| outranks(r, b))
            {
                best[slot] = Some(r);
            }
        }
    }
    let egress = stage_verdict(Stage::Egress, src.0, best[0]);
    let ingress = stage_verdict(Stage::Ingress, dst.0, best[1]);
    let action = if egress.action == Action::Allow && ingress.action == Action::Allow {
        Action::Allow
    } else {
        Action::Deny
    };
    Verdict {
        action,
        cause: Cause::Policy { egress, ingress },
    }
}

fn group_of(ir: &PolicyIr, end: &PacketEnd) -> EpgId {
    end.epg.unwrap_or_else(|| ir.epg_of(end.tenant, end.ip))
}

/// A stage's outcome from its deciding rule (none: default allow).
fn stage_verdict(stage: Stage, epg: EpgId, rule: Option<&IrRule>) -> StageVerdict {
    StageVerdict {
        stage,
        epg,
        action: rule.map_or(Action::Allow, |r| r.action),
        rule: rule.map(DecidingRule::from),
    }
}

/// `a` decides over `b`: higher priority; at equal priority deny over
/// allow; at equal priority and action the smaller rule id (so the answer
/// does not depend on iteration order).
fn outranks(a: &IrRule, b: &IrRule) -> bool {
    let deny_first = |r: &IrRule| r.action == Action::Deny;
    match a.priority.cmp(&b.priority) {
        Ordering::Greater => true,
        Ordering::Less => false,
        Ordering::Equal => match deny_first(a).cmp(&deny_first(b)) {
            Ordering::Greater => true,
            Ordering::Less => false,
            Ordering::Equal => a.id < b.id,
        },
    }
}

fn in_set(ir: &PolicyIr, id: &AddrSetId, ip: IpAddr) -> bool {
    ir.addr_sets.get(id).is_some_and(|s| s.contains(ip))
}

fn matches(ir: &PolicyIr, r: &IrRule, p: &Packet, local_ip: IpAddr, peer: (EpgId, IpAddr)) -> bool {
    let peer_ok = match &r.peer {
        PeerMatch::Any => true,
        PeerMatch::Epg(g) => *g != NO_EPG && peer.0 == *g,
        PeerMatch::AddrSet(id) => in_set(ir, id, peer.1),
    };
    let local_ok = r.local.as_ref().is_none_or(|id| in_set(ir, id, local_ip));
    let proto_ok = match r.proto {
        None => true,
        Some(PROTO_ICMP) => {
            p.proto == PROTO_ICMP || (p.proto == PROTO_ICMPV6 && p.dst.ip.is_ipv6())
        }
        Some(n) => p.proto == n,
    };
    let ports_ok = r.ports.is_none_or(|range| {
        (p.proto == PROTO_TCP || p.proto == PROTO_UDP) && range.contains(p.dst_port)
    });
    peer_ok && local_ok && proto_ok && ports_ok
}
