//! The pipeline compiler without a switch: flow counts (the O(endpoints +
//! rules) target), the size of incremental changes, conjunction use, and
//! that any sequence of incremental changes ends in exactly the flows a
//! fresh compile of the final state gives.
// Test code: a failed unwrap is a failed test.
#![allow(clippy::unwrap_used)]

#[path = "support/model.rs"]
mod model;

use contiv_core::datapath::{ArpMode, DesiredState, GlobalSpec, LocalEndpoint, NetworkSpec};
use contiv_core::ir::{Action, Direction, Membership, PeerMatch, PolicyDelta, PolicyIr};
use contiv_dp_ovs::openflow::wire::{Action as OfAction, Instruction};
use contiv_dp_ovs::pipeline::{CookieKind, Flow, FlowChange, Pipeline, PortMap, Table};
use model::*;
use proptest::prelude::*;
use std::collections::{BTreeMap, HashMap};
use std::net::{IpAddr, Ipv4Addr};

fn count_kind(flows: &[Flow], kinds: &[CookieKind]) -> usize {
    flows
        .iter()
        .filter(|f| CookieKind::of(f.cookie).is_some_and(|k| kinds.contains(&k)))
        .count()
}

fn member_ip(i: usize) -> IpAddr {
    IpAddr::V4(Ipv4Addr::new(
        10,
        1 + (i / 62500) as u8,
        ((i / 250) % 250) as u8,
        (i % 250) as u8 + 1,
    ))
}

/// 100 EPGs × 100 endpoints each; every EPG allows TCP 8080 in from every
/// EPG (10 000 IR rules).
fn all_pairs(epgs: u32, per_epg: usize) -> PolicyIr {
    let mut ir = PolicyIr::default();
    for g in 1..=epgs {
        for h in 1..=epgs {
            let id = u64::from(g) * 1000 + u64::from(h);
            let r = rule(
                id,
                1,
                g,
                Direction::In,
                PeerMatch::Epg(h),
                Some(6),
                Some(8080),
                10,
                Action::Allow,
            );
            ir.rules.insert(r.id, r);
        }
        for k in 0..per_epg {
            ir.members
                .insert((1, member_ip((g as usize - 1) * per_epg + k)), g);
        }
    }
    ir
}

#[test]
fn all_pairs_of_100_epgs_with_100_endpoints_is_20_201_policy_flows() {
    let ir = all_pairs(100, 100);
    let desired = DesiredState {
        policy: ir,
        ..DesiredState::default()
    };
    let mut p = Pipeline::from_desired(&desired, &PortMap::default());
    let changes = p.flush();
    let flows = p.flows();
    assert_eq!(changes.len(), flows.len());
    let classification = count_kind(&flows, &[CookieKind::Membership]);
    let policy = count_kind(&flows, &[CookieKind::Rule, CookieKind::RuleGroup]);
    let base = count_kind(&flows, &[CookieKind::Base]);
    assert_eq!(classification, 20_000);
    // 100 owner clauses + 100 peer clauses + 1 conj_id flow.
    assert_eq!(policy, 201);
    assert_eq!(p.rule_group_count(), 1);
    assert_eq!(flows.len(), classification + policy + base);
    println!(
        "100 EPGs x 100 endpoints, all-pairs allow tcp/8080: {classification} classification + {policy} policy = {} (+ {base} fixed) = {} flows",
        classification + policy,
        flows.len()
    );
    let conj: Vec<&Flow> = flows
        .iter()
        .filter(|f| f.key.table == Table::Ingress.id() && f.key.priority == 120)
        .collect();
    assert_eq!(conj.len(), 201);
    assert!(conj.iter().any(|f| f.to_string().contains("conj_id=")));
    let c = conj_id_of(&conj);
    let texts: Vec<String> = conj.iter().map(ToString::to_string).collect();
    for want in [
        format!(
            "table=10 priority=120,reg3=0x7,reg6=0x61f90/0xffffff actions=conjunction({c},1/2)"
        ),
        format!(
            "table=10 priority=120,reg2=0x7,reg6=0x61f90/0xffffff actions=conjunction({c},2/2)"
        ),
        format!("table=10 priority=120,conj_id={c} actions=goto_table:11"),
    ] {
        assert!(texts.contains(&want), "{want} missing");
    }
}

fn conj_id_of(flows: &[&Flow]) -> u32 {
    flows
        .iter()
        .find_map(|f| {
            f.key.r#match.fields().iter().find_map(|x| match x {
                contiv_dp_ovs::openflow::wire::OxmField::ConjId(c) => Some(*c),
                _ => None,
            })
        })
        .expect("a conj_id flow")
}

#[test]
fn one_endpoint_joining_an_epg_changes_two_flows() {
    let desired = DesiredState {
        policy: all_pairs(20, 10),
        ..DesiredState::default()
    };
    let mut p = Pipeline::from_desired(&desired, &PortMap::default());
    p.flush();
    let before = p.flow_count();
    let m = Membership {
        tenant: 1,
        ip: "10.200.0.1".parse().unwrap(),
        epg: 7,
    };
    p.apply_policy(&PolicyDelta {
        members_added: vec![m],
        ..PolicyDelta::default()
    });
    let ch = p.flush();
    assert_eq!(ch.len(), 2, "{ch:#?}");
    assert!(ch.iter().all(|c| matches!(c, FlowChange::Add(_))));
    assert_eq!(p.flow_count(), before + 2);
    // Moving it to another EPG rewrites the same two flows.
    p.apply_policy(&PolicyDelta {
        members_added: vec![Membership { epg: 8, ..m }],
        ..PolicyDelta::default()
    });
    let ch = p.flush();
    assert_eq!(ch.len(), 2);
    // Leaving removes them.
    p.apply_policy(&PolicyDelta {
        members_removed: vec![Membership { epg: 8, ..m }],
        ..PolicyDelta::default()
    });
    let ch = p.flush();
    assert_eq!(ch.len(), 2);
    assert!(ch.iter().all(|c| matches!(c, FlowChange::Delete(_))));
    assert_eq!(p.flow_count(), before);
    // Nothing changed: no changes.
    assert!(p.flush().is_empty());
}

#[test]
fn seed_tutorial_rules_lower_to_one_flow_each() {
    // in tcp deny prio 1 + in tcp 8888 allow prio 10 on EPG 5.
    let mut ir = PolicyIr::default();
    for r in [
        rule(
            1,
            1,
            5,
            Direction::In,
            PeerMatch::Any,
            Some(6),
            None,
            1,
            Action::Deny,
        ),
        rule(
            2,
            1,
            5,
            Direction::In,
            PeerMatch::Any,
            Some(6),
            Some(8888),
            10,
            Action::Allow,
        ),
    ] {
        ir.rules.insert(r.id, r);
    }
    let mut p = Pipeline::from_desired(
        &DesiredState {
            policy: ir,
            ..DesiredState::default()
        },
        &PortMap::default(),
    );
    p.flush();
    let texts: Vec<String> = p
        .flows()
        .iter()
        .filter(|f| {
            f.key.table == Table::Ingress.id() && f.key.priority < 1000 && f.key.priority > 0
        })
        .map(|f| format!("{f:#}"))
        .collect();
    assert_eq!(
        texts,
        vec![
            "cookie=0x600000000000002 table=10 priority=120,reg3=0x5,reg6=0x622b8/0xffffff actions=goto_table:11",
            "cookie=0x600000000000001 table=10 priority=103,reg3=0x5,reg6=0x60000/0xff0000 actions=drop",
        ]
    );
}

#[test]
fn port_ranges_and_any_protocol_ports_expand_to_masks_on_reg6() {
    let mut ir = PolicyIr::default();
    let mut r = rule(
        1,
        1,
        5,
        Direction::Out,
        PeerMatch::Epg(6),
        None,
        None,
        5,
        Action::Deny,
    );
    r.ports = Some(contiv_core::ir::PortRange {
        start: 1024,
        end: 2047,
    });
    ir.rules.insert(r.id, r);
    let mut p = Pipeline::from_desired(
        &DesiredState {
            policy: ir,
            ..DesiredState::default()
        },
        &PortMap::default(),
    );
    p.flush();
    let texts: Vec<String> = p
        .flows()
        .iter()
        .filter(|f| CookieKind::of(f.cookie) == Some(CookieKind::Rule))
        .map(ToString::to_string)
        .collect();
    assert_eq!(
        texts,
        vec![
            "table=9 priority=111,reg2=0x5,reg3=0x6,reg6=0x110400/0xfffc00 actions=drop",
            "table=9 priority=111,reg2=0x5,reg3=0x6,reg6=0x60400/0xfffc00 actions=drop",
        ]
    );
}

#[test]
fn clause_flows_shared_by_two_conjunctions_carry_both() {
    // Owners {1,2,3} x peers {4,5,6} and owners {8,9,10} x peers
    // {4,5,6,7}, both on tcp/80 at the same priority: the peer clauses for
    // 4, 5 and 6 are the same keys and merge into one flow each with two
    // conjunction actions.
    let mut ir = PolicyIr::default();
    let mut id = 0;
    let groups: [(&[u32], &[u32]); 2] = [(&[1, 2, 3], &[4, 5, 6]), (&[8, 9, 10], &[4, 5, 6, 7])];
    for (owners, peers) in groups {
        for o in owners {
            for q in peers {
                id += 1;
                let r = rule(
                    id,
                    1,
                    *o,
                    Direction::In,
                    PeerMatch::Epg(*q),
                    Some(6),
                    Some(80),
                    9,
                    Action::Allow,
                );
                ir.rules.insert(r.id, r);
            }
        }
    }
    let mut p = Pipeline::from_desired(
        &DesiredState {
            policy: ir,
            ..DesiredState::default()
        },
        &PortMap::default(),
    );
    p.flush();
    assert_eq!(p.rule_group_count(), 2);
    let policy: Vec<Flow> = p
        .flows()
        .into_iter()
        .filter(|f| CookieKind::of(f.cookie) == Some(CookieKind::RuleGroup))
        .collect();
    // (3 + 3 + 1) + (3 + 4 + 1) - 3 shared.
    assert_eq!(policy.len(), 12, "{policy:#?}");
    let two_conj = |f: &Flow| {
        f.instructions.iter().any(|i| {
            matches!(i, Instruction::ApplyActions(a) if a.iter().filter(|x| matches!(x, OfAction::Conjunction { .. })).count() == 2)
        })
    };
    let merged: Vec<String> = policy
        .iter()
        .filter(|f| two_conj(f))
        .map(ToString::to_string)
        .collect();
    assert_eq!(merged.len(), 3, "{merged:#?}");
    assert!(merged.iter().all(|m| {
        ["reg2=0x4,", "reg2=0x5,", "reg2=0x6,"]
            .iter()
            .any(|r| m.contains(r))
    }));
    // Dropping the second group un-merges them.
    let ids: Vec<contiv_core::ir::RuleId> = (10..=21).map(contiv_core::ir::RuleId).collect();
    p.apply_policy(&PolicyDelta {
        rules_removed: ids,
        ..PolicyDelta::default()
    });
    let ch = p.flush();
    // 8 flows of the second group go: 5 deleted, 3 shared ones rewritten.
    assert_eq!(
        ch.iter()
            .filter(|c| matches!(c, FlowChange::Delete(_)))
            .count(),
        5
    );
    assert_eq!(
        ch.iter()
            .filter(|c| matches!(c, FlowChange::Add(_)))
            .count(),
        3
    );
    assert!(!p.flows().iter().any(two_conj));
}

// ---- incremental == fresh ------------------------------------------------

#[derive(Clone, Debug)]
enum Op {
    Net(usize),
    DropNet(usize),
    Local(usize, usize, u8),
    DropLocal(usize),
    Remote(usize, usize, u8),
    DropRemote(usize),
    Peer(u8, Option<u32>),
    Uplink(Option<u32>),
    Arp(bool),
    Rule(u64, u32, bool, u8, u8, u8, bool),
    DropRule(u64),
    Set(u8, u8),
    Member(usize, Option<u32>),
}

fn nets() -> Vec<NetworkSpec> {
    vec![
        vxlan_net("t1", 1, "a", 5001, "10.1.0.0/24"),
        vxlan_net("t1", 1, "b", 5002, "10.1.1.0/24"),
        vlan_net("t2", 2, "c", 100, "10.1.0.0/24"),
    ]
}

fn ep_ip(n: usize, k: usize) -> String {
    format!("10.1.{}.{}", n % 2, k + 10)
}

fn op() -> impl Strategy<Value = Op> {
    prop_oneof![
        (0..3usize).prop_map(Op::Net),
        (0..3usize).prop_map(Op::DropNet),
        (0..6usize, 0..3usize, 0..3u8).prop_map(|(a, b, c)| Op::Local(a, b, c)),
        (0..6usize).prop_map(Op::DropLocal),
        (0..6usize, 0..3usize, 0..2u8).prop_map(|(a, b, c)| Op::Remote(a, b, c)),
        (0..6usize).prop_map(Op::DropRemote),
        (0..2u8, proptest::option::of(20..23u32)).prop_map(|(a, b)| Op::Peer(a, b)),
        proptest::option::of(30..32u32).prop_map(Op::Uplink),
        any::<bool>().prop_map(Op::Arp),
        (
            0..8u64,
            1..4u32,
            any::<bool>(),
            0..5u8,
            1..4u8,
            0..3u8,
            any::<bool>()
        )
            .prop_map(|(a, b, c, d, e, f, g)| Op::Rule(a, b, c, d, e, f, g)),
        (0..8u64).prop_map(Op::DropRule),
        (0..2u8, 0..3u8).prop_map(|(a, b)| Op::Set(a, b)),
        (0..6usize, proptest::option::of(1..4u32)).prop_map(|(a, b)| Op::Member(a, b)),
    ]
}

/// Applies `op` to both the pipeline and the reference desired state.
fn apply(p: &mut Pipeline, d: &mut DesiredState, ports: &mut PortMap, op: &Op) {
    let all = nets();
    let peer_ip = |i: u8| -> IpAddr { format!("172.31.0.{}", i + 1).parse().unwrap() };
    match op {
        Op::Net(i) => {
            d.networks.retain(|n| n.key != all[*i].key);
            d.networks.push(all[*i].clone());
            p.upsert_network(all[*i].clone());
        }
        Op::DropNet(i) => {
            d.networks.retain(|n| n.key != all[*i].key);
            p.remove_network(&all[*i].key);
        }
        Op::Local(k, n, port) => {
            let id = format!("ep{k}");
            let mut e: LocalEndpoint = local_ep(&id, &all[*n], &ep_ip(*n, *k), 0, &format!("v{k}"));
            e.qos = (*port == 2).then_some(contiv_core::datapath::Qos {
                rate_kbps: 0,
                burst_kb: 0,
                dscp: 10,
            });
            d.remote_endpoints.retain(|x| x.id != id);
            d.local_endpoints.retain(|x| x.id != id);
            d.local_endpoints.push(e.clone());
            let of = (*port > 0).then_some(u32::from(*port) + (*k as u32) * 3);
            match of {
                Some(o) => ports.endpoints.insert(id.clone(), o),
                None => ports.endpoints.remove(&id),
            };
            p.upsert_local(e, of);
        }
        Op::DropLocal(k) => {
            let id = format!("ep{k}");
            d.local_endpoints.retain(|x| x.id != id);
            ports.endpoints.remove(&id);
            p.remove_local(&id);
        }
        Op::Remote(k, n, v) => {
            let id = format!("ep{k}");
            let e = remote_ep(&id, &all[*n], &ep_ip(*n, *k), 0, &peer_ip(*v).to_string());
            d.local_endpoints.retain(|x| x.id != id);
            d.remote_endpoints.retain(|x| x.id != id);
            d.remote_endpoints.push(e.clone());
            ports.endpoints.remove(&id);
            p.upsert_remote(e);
        }
        Op::DropRemote(k) => {
            let id = format!("ep{k}");
            d.remote_endpoints.retain(|x| x.id != id);
            p.remove_remote(&id);
        }
        Op::Peer(i, port) => {
            match port {
                Some(o) => ports.peers.insert(peer_ip(*i), *o),
                None => ports.peers.remove(&peer_ip(*i)),
            };
            p.set_peer_port(peer_ip(*i), *port);
        }
        Op::Uplink(u) => {
            ports.uplink = *u;
            p.set_uplink(*u);
        }
        Op::Arp(flood) => {
            let g = GlobalSpec {
                arp_mode: if *flood {
                    ArpMode::Flood
                } else {
                    ArpMode::Proxy
                },
                ..GlobalSpec::default()
            };
            d.global = g.clone();
            p.set_global(g);
        }
        Op::Rule(id, epg, inbound, peer, prio, proto, deny) => {
            let peer = match peer {
                0 => PeerMatch::Any,
                1 | 2 => PeerMatch::Epg(u32::from(*peer)),
                3 => PeerMatch::AddrSet(contiv_core::ir::AddrSetId("s0".into())),
                _ => PeerMatch::AddrSet(contiv_core::ir::AddrSetId("s1".into())),
            };
            let (proto, port) = match proto {
                0 => (Some(6), Some(80)),
                1 => (None, None),
                _ => (Some(1), None),
            };
            let r = rule(
                *id,
                1,
                *epg,
                if *inbound {
                    Direction::In
                } else {
                    Direction::Out
                },
                peer,
                proto,
                port,
                *prio,
                if *deny { Action::Deny } else { Action::Allow },
            );
            let delta = PolicyDelta {
                rules_added: vec![r],
                ..PolicyDelta::default()
            };
            d.policy.apply(&delta);
            p.apply_policy(&delta);
        }
        Op::DropRule(id) => {
            let delta = PolicyDelta {
                rules_removed: vec![contiv_core::ir::RuleId(*id)],
                ..PolicyDelta::default()
            };
            d.policy.apply(&delta);
            p.apply_policy(&delta);
        }
        Op::Set(s, v) => {
            let cidrs: &[&str] = match v {
                0 => &[],
                1 => &["10.1.0.0/24"],
                _ => &["10.1.1.0/25", "fd00::/64", "0.0.0.0/0"],
            };
            let delta = PolicyDelta {
                sets_upserted: vec![addr_set(&format!("s{s}"), cidrs)],
                ..PolicyDelta::default()
            };
            d.policy.apply(&delta);
            p.apply_policy(&delta);
        }
        Op::Member(k, epg) => {
            let n = k % 2;
            let m_ip: IpAddr = ep_ip(n, *k).parse().unwrap();
            let tenant = 1 + (*k as u32 % 2);
            let old = d.policy.members.get(&(tenant, m_ip)).copied();
            let mut delta = PolicyDelta::default();
            match (old, epg) {
                (Some(o), None) => delta.members_removed.push(Membership {
                    tenant,
                    ip: m_ip,
                    epg: o,
                }),
                (_, Some(e)) => delta.members_added.push(Membership {
                    tenant,
                    ip: m_ip,
                    epg: *e,
                }),
                (None, None) => {}
            }
            d.policy.apply(&delta);
            p.apply_policy(&delta);
        }
    }
}

fn snapshot(p: &Pipeline) -> BTreeMap<String, u64> {
    p.flows()
        .iter()
        .map(|f| (f.to_string(), f.cookie))
        .collect()
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 200, ..ProptestConfig::default() })]
    #[test]
    fn incremental_changes_end_where_a_fresh_compile_starts(
        ops in proptest::collection::vec(op(), 1..60),
        flush_every in 1..8usize,
    ) {
        let mut p = Pipeline::new();
        let mut d = DesiredState::default();
        let mut ports = PortMap::default();
        // The installed view, updated only through the reported changes.
        let mut installed: HashMap<std::sync::Arc<contiv_dp_ovs::pipeline::FlowKey>, Flow> = HashMap::new();
        let absorb = |changes: Vec<FlowChange>, installed: &mut HashMap<_, Flow>| {
            for c in changes {
                match c {
                    FlowChange::Add(f) => { installed.insert(f.key.clone(), f); }
                    FlowChange::Delete(k) => { prop_assert!(installed.remove(&k).is_some(), "delete of a flow never added"); }
                }
            }
            Ok(())
        };
        for (i, o) in ops.iter().enumerate() {
            apply(&mut p, &mut d, &mut ports, o);
            if i % flush_every == 0 {
                absorb(p.flush(), &mut installed)?;
            }
        }
        absorb(p.flush(), &mut installed)?;
        let mut fresh = Pipeline::from_desired(&d, &ports);
        fresh.flush();
        prop_assert_eq!(snapshot(&p), snapshot(&fresh));
        let inst: BTreeMap<String, u64> = installed.values().map(|f| (f.to_string(), f.cookie)).collect();
        prop_assert_eq!(inst, snapshot(&fresh));
        prop_assert!(p.flush().is_empty());
    }
}

/// Routing mode and external access together: what an external network's
/// endpoints send to an address no endpoint or route claims leaves L3 for
/// external-out (SNAT to the host) instead of the L3 miss; a network
/// without external access, bridge mode, or no host port get no such flow.
#[test]
fn routing_mode_sends_the_rest_of_an_external_network_to_external_out() {
    use contiv_core::datapath::FwdMode;
    let mut ext = vxlan_net("t1", 1, "a", 5001, "10.1.0.0/24");
    ext.external = true;
    ext.gateway = Some(Ipv4Addr::new(10, 1, 0, 1));
    let mut internal = vxlan_net("t1", 1, "b", 5002, "10.1.1.0/24");
    internal.gateway = Some(Ipv4Addr::new(10, 1, 1, 1));
    let compile = |fwd_mode: FwdMode, host: Option<u32>| {
        let desired = DesiredState {
            global: GlobalSpec {
                fwd_mode,
                ..GlobalSpec::default()
            },
            networks: vec![ext.clone(), internal.clone()],
            ..DesiredState::default()
        };
        let ports = PortMap {
            host,
            ..PortMap::default()
        };
        let mut p = Pipeline::from_desired(&desired, &ports);
        p.flush();
        p.flows()
            .into_iter()
            .filter(|f| f.key.table == Table::L3Forward.id())
            .map(|f| f.to_string())
            .filter(|t| t.contains(&format!("goto_table:{}", Table::ExternalOut.id())))
            .collect::<Vec<_>>()
    };
    let routed = compile(FwdMode::Routing, Some(9));
    assert_eq!(routed.len(), 1, "{routed:#?}");
    assert!(routed[0].contains("reg1=0x1001389"), "{}", routed[0]);
    assert!(compile(FwdMode::Bridge, Some(9)).is_empty());
    assert!(compile(FwdMode::Routing, None).is_empty());
    // Distinct tables: l3-forward comes before external-out (goto_table
    // only goes forward).
    assert!(Table::L3Forward.id() < Table::ExternalOut.id());
}
