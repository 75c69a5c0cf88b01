//! Lowering one rule group to flows: build the match alternatives of each
//! dimension (owner EPG, peer, local address, L4), fold single-alternative
//! dimensions into the others, then emit either the cross product directly
//! (when it is no larger than a conjunction would be) or a conjunction.

use super::{GroupDef, RuleKey};
use crate::openflow::wire::{Masked, Match, OxmField};
use crate::pipeline::build::{drop as drop_flow, eth, goto};
use crate::pipeline::flow::FlowKey;
use crate::pipeline::flow_table::Body;
use crate::pipeline::fxhash::FxHashMap;
use crate::pipeline::ports::port_masks;
use crate::pipeline::tables::{Table, l4, reg, rule_priority};
use contiv_core::ir::{
    Action as IrAction, AddrSet, AddrSetId, Direction, EpgId, NO_EPG, PeerMatch,
};
use ipnet::IpNet;

/// Everything about one group the emitter needs.
pub(super) struct GroupView<'a> {
    pub def: GroupDef<'a>,
    pub owners: &'a [EpgId],
    pub conj_id: u32,
    pub cookie: u64,
    pub sets: &'a FxHashMap<AddrSetId, AddrSet>,
}

/// The policy table and register roles for a direction.
struct Roles {
    table: Table,
    next: Table,
    owner_reg: u8,
    peer_reg: u8,
    /// The peer's address is the packet's source (`in` rules).
    peer_is_src: bool,
}

fn roles(d: Direction) -> Roles {
    match d {
        Direction::In => Roles {
            table: Table::Ingress,
            next: Table::Commit,
            owner_reg: reg::DST_EPG,
            peer_reg: reg::SRC_EPG,
            peer_is_src: true,
        },
        Direction::Out => Roles {
            table: Table::Egress,
            next: Table::Ingress,
            owner_reg: reg::SRC_EPG,
            peer_reg: reg::DST_EPG,
            peer_is_src: false,
        },
    }
}

/// One alternative of a dimension: at most one field plus the ethertype
/// it needs (IP prefixes), or nothing at all (a /0 prefix: any address of
/// the family).
#[derive(Clone, Debug)]
struct Frag {
    eth: Option<u16>,
    field: Option<OxmField>,
}

impl Frag {
    fn field(f: OxmField) -> Frag {
        Frag {
            eth: None,
            field: Some(f),
        }
    }
}

/// A prefix as a match on the source or destination address.
fn prefix_frag(p: &IpNet, src: bool) -> Frag {
    match p {
        IpNet::V4(n) => Frag {
            eth: Some(eth::IPV4),
            field: (n.prefix_len() > 0).then(|| {
                let n = n.trunc();
                let v = if n.prefix_len() == 32 {
                    Masked::exact(n.addr())
                } else {
                    Masked::new(n.network(), n.netmask())
                };
                if src {
                    OxmField::Ipv4Src(v)
                } else {
                    OxmField::Ipv4Dst(v)
                }
            }),
        },
        IpNet::V6(n) => Frag {
            eth: Some(eth::IPV6),
            field: (n.prefix_len() > 0).then(|| {
                let n = n.trunc();
                let v = if n.prefix_len() == 128 {
                    Masked::exact(n.addr())
                } else {
                    Masked::new(n.network(), n.netmask())
                };
                if src {
                    OxmField::Ipv6Src(v)
                } else {
                    OxmField::Ipv6Dst(v)
                }
            }),
        },
    }
}

/// A dimension: `None` = matches everything (eliminated), `Some(v)` = one
/// of the alternatives must match (empty = nothing can match).
type Dim = Option<Vec<Frag>>;

fn reg_frag(index: u8, value: u32) -> Frag {
    Frag::field(OxmField::Reg {
        index,
        value: Masked::exact(value),
    })
}

fn set_dim(sets: &FxHashMap<AddrSetId, AddrSet>, id: &AddrSetId, src: bool) -> Vec<Frag> {
    sets.get(id)
        .map(|s| s.prefixes.iter().map(|p| prefix_frag(p, src)).collect())
        .unwrap_or_default()
}

/// The peer alternatives (`None`: a peer is `Any`, the dimension matches
/// everything).
fn peer_dim(v: &GroupView<'_>, r: &Roles) -> Dim {
    if v.def.peers().any(|p| matches!(p, PeerMatch::Any)) {
        return None;
    }
    let mut alts = Vec::with_capacity(v.def.peer_count());
    for p in v.def.peers() {
        match p {
            PeerMatch::Any => {}
            PeerMatch::Epg(g) if *g == NO_EPG => {}
            PeerMatch::Epg(g) => alts.push(reg_frag(r.peer_reg, *g)),
            PeerMatch::AddrSet(id) => alts.extend(set_dim(v.sets, id, r.peer_is_src)),
        }
    }
    Some(alts)
}

/// The single peer alternative when there is exactly one EPG peer (the
/// common case; no allocation).
fn single_epg_peer(v: &GroupView<'_>, r: &Roles) -> Option<Frag> {
    if v.def.peer_count() != 1 {
        return None;
    }
    match v.def.peers().next() {
        Some(PeerMatch::Epg(g)) if *g != NO_EPG => Some(reg_frag(r.peer_reg, *g)),
        _ => None,
    }
}

fn l4_frag(proto: u8, port: u16, port_mask: u16) -> Frag {
    let value = (u32::from(proto) << l4::PROTO_SHIFT) | u32::from(port & port_mask);
    let mask = l4::PROTO_MASK | u32::from(port_mask);
    Frag::field(OxmField::Reg {
        index: reg::L4,
        value: Masked::new(value, mask),
    })
}

fn l4_dim(k: &RuleKey) -> Dim {
    match (k.proto, k.ports) {
        (None, None) => None,
        (None, Some(r)) => Some(
            [6u8, 17]
                .iter()
                .flat_map(|p| {
                    port_masks(r)
                        .into_iter()
                        .map(move |(v, m)| l4_frag(*p, v, m))
                })
                .collect(),
        ),
        (Some(p @ (6 | 17)), Some(r)) => Some(
            port_masks(r)
                .into_iter()
                .map(|(v, m)| l4_frag(p, v, m))
                .collect(),
        ),
        (Some(_), Some(_)) => Some(Vec::new()),
        (Some(1), None) => Some(vec![Frag::field(OxmField::Reg {
            index: reg::L4,
            value: Masked::new(l4::ICMP_FLAG, l4::ICMP_FLAG),
        })]),
        (Some(p), None) => Some(vec![Frag::field(OxmField::Reg {
            index: reg::L4,
            value: Masked::new(u32::from(p) << l4::PROTO_SHIFT, l4::PROTO_MASK),
        })]),
    }
}

/// The match of `base` plus one alternative of each of `alts`; `None`
/// if they need different ethertypes (IPv4 and IPv6). Every dimension
/// constrains different fields, so the ethertype is the only possible
/// conflict.
fn combine(base: &Frags, alts: &[&Frag]) -> Option<Match> {
    let mut eth = base.eth;
    for a in alts {
        if let Some(e) = a.eth {
            match eth {
                Some(x) if x != e => return None,
                _ => eth = Some(e),
            }
        }
    }
    let mut fields = Vec::with_capacity(base.fields.len() + alts.len() + 1);
    if let Some(e) = eth {
        fields.push(OxmField::EthType(e));
    }
    fields.extend(base.fields.iter().cloned());
    fields.extend(alts.iter().filter_map(|a| a.field.clone()));
    Some(Match::from_fields(fields))
}

/// The folded single-alternative dimensions.
#[derive(Default)]
struct Frags {
    eth: Option<u16>,
    fields: Vec<OxmField>,
}

impl Frags {
    /// Folds one alternative in; `false` if its ethertype conflicts.
    fn add(&mut self, f: Frag) -> bool {
        if let Some(e) = f.eth {
            match self.eth {
                Some(x) if x != e => return false,
                _ => self.eth = Some(e),
            }
        }
        self.fields.extend(f.field);
        true
    }
}

/// The flows of one group.
pub(super) fn group_flows(v: &GroupView<'_>) -> Vec<(FlowKey, Body)> {
    let k = v.def.key;
    let r = roles(k.direction);
    let deny = k.action == IrAction::Deny;
    let priority = rule_priority(k.priority, deny);
    let verdict = if deny { drop_flow() } else { goto(r.next) };
    let mut base = Frags {
        eth: None,
        fields: Vec::with_capacity(4),
    };
    let mut multi: Vec<Vec<Frag>> = Vec::new();
    // Folds a dimension into the base (one alternative) or keeps it for
    // the product/conjunction; `false` when nothing can match.
    let mut dim = |d: Vec<Frag>, base: &mut Frags| -> bool {
        match d.len() {
            0 => false,
            1 => d.into_iter().all(|f| base.add(f)),
            _ => {
                multi.push(d);
                true
            }
        }
    };
    let owners = v.owners.iter().filter(|o| **o != NO_EPG);
    let ok = match v.owners {
        [o] if *o != NO_EPG => base.add(reg_frag(r.owner_reg, *o)),
        _ => dim(
            owners.map(|o| reg_frag(r.owner_reg, *o)).collect(),
            &mut base,
        ),
    };
    if !ok {
        return Vec::new();
    }
    let ok = match single_epg_peer(v, &r) {
        Some(f) => base.add(f),
        None => peer_dim(v, &r).is_none_or(|d| dim(d, &mut base)),
    };
    if !ok {
        return Vec::new();
    }
    let local: Dim = k
        .local
        .as_ref()
        .map(|id| set_dim(v.sets, id, !r.peer_is_src));
    if !local.is_none_or(|d| dim(d, &mut base)) || !l4_dim(k).is_none_or(|d| dim(d, &mut base)) {
        return Vec::new();
    }
    let table = r.table.id();
    let key = |m: Match| FlowKey {
        table,
        priority,
        r#match: m,
    };
    let product: usize = multi.iter().map(Vec::len).product();
    let sum: usize = multi.iter().map(Vec::len).sum();
    let plain = |m: Match| {
        (
            key(m),
            Body::Plain {
                instructions: verdict.clone(),
                cookie: v.cookie,
            },
        )
    };
    if multi.is_empty() {
        return combine(&base, &[]).map(plain).into_iter().collect();
    }
    if let [only] = multi.as_slice() {
        return only
            .iter()
            .filter_map(|alt| combine(&base, &[alt]))
            .map(plain)
            .collect();
    }
    if product <= sum + 1 {
        // Direct cross product (odometer over the multi dimensions).
        let mut out = Vec::with_capacity(product);
        let mut idx = vec![0usize; multi.len()];
        loop {
            let alts: Vec<&Frag> = multi.iter().zip(&idx).map(|(d, i)| &d[*i]).collect();
            if let Some(m) = combine(&base, &alts) {
                out.push((
                    key(m),
                    Body::Plain {
                        instructions: verdict.clone(),
                        cookie: v.cookie,
                    },
                ));
            }
            let mut pos = 0;
            loop {
                if pos == multi.len() {
                    return out;
                }
                idx[pos] += 1;
                if idx[pos] < multi[pos].len() {
                    break;
                }
                idx[pos] = 0;
                pos += 1;
            }
        }
    }
    // Conjunction: one clause flow per alternative, the base folded into
    // each, plus the conj_id flow carrying the verdict.
    let n = multi.len() as u8;
    let mut out = Vec::with_capacity(sum + 1);
    for (i, d) in multi.iter().enumerate() {
        for alt in d {
            if let Some(m) = combine(&base, &[alt]) {
                out.push((
                    key(m),
                    Body::Conj {
                        clauses: vec![(v.conj_id, i as u8, n)],
                        cookie: v.cookie,
                    },
                ));
            }
        }
    }
    out.push((
        key(Match::new().conj_id(v.conj_id)),
        Body::Plain {
            instructions: verdict,
            cookie: v.cookie,
        },
    ));
    out
}
