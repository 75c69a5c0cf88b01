//! The oracle differential: random policies × random packets; the real
//! dataplane's verdict ([`Harness::probe`]) must equal the policy oracle's
//! ([`crate::evaluate`]) for exactly the stages this host enforces.
//!
//! One host with local endpoints in two tenants (IPv4, some IPv6) and
//! remote endpoints behind a VXLAN peer (a second host on the underlay).
//! A packet between two local endpoints meets both policy stages here;
//! one to a remote endpoint only the egress stage (the other host does
//! ingress); one arriving through the tunnel only the ingress stage.
//! Packets of established connections must always pass within a tenant.

use super::fixture::{Container, ip, remote_ep, vxlan_net};
use super::{Harness, Outcome, Probe, ProbeIngress, gate, host, start};
use crate::{Cause, ConnState, Packet, PacketEnd, evaluate};
use contiv_core::datapath::{Datapath, DpOp, LocalEndpoint, MacAddr, NetworkSpec, VtepPeer};
use contiv_core::ir::{
    Action, AddrSet, AddrSetId, Direction, EpgId, IrRule, PeerMatch, PolicyIr, PortRange, RuleId,
    RuleOrigin, TenantId,
};
use proptest::prelude::*;
use proptest::strategy::ValueTree;
use proptest::test_runner::{Config, TestCaseError, TestRunner};
use std::net::IpAddr;

fn addr_set(name: &str, cidrs: &[&str]) -> AddrSet {
    let mut prefixes: Vec<ipnet::IpNet> = cidrs
        .iter()
        .map(|c| c.parse().unwrap_or_else(|e| panic!("{c}: {e}")))
        .collect();
    prefixes.sort();
    prefixes.dedup();
    AddrSet {
        id: AddrSetId(name.into()),
        prefixes,
    }
}

/// An endpoint of the scenario.
#[derive(Clone, Debug)]
struct Ep {
    id: &'static str,
    tenant: TenantId,
    v4: &'static str,
    v6: Option<&'static str>,
    local: bool,
}

const EPS: [Ep; 8] = [
    Ep {
        id: "l1",
        tenant: 1,
        v4: "10.60.0.2",
        v6: Some("fd60::2"),
        local: true,
    },
    Ep {
        id: "l2",
        tenant: 1,
        v4: "10.60.0.3",
        v6: Some("fd60::3"),
        local: true,
    },
    Ep {
        id: "l3",
        tenant: 1,
        v4: "10.60.0.4",
        v6: None,
        local: true,
    },
    Ep {
        id: "l4",
        tenant: 1,
        v4: "10.60.0.5",
        v6: None,
        local: true,
    },
    Ep {
        id: "r1",
        tenant: 1,
        v4: "10.60.0.10",
        v6: Some("fd60::10"),
        local: false,
    },
    Ep {
        id: "r2",
        tenant: 1,
        v4: "10.60.0.11",
        v6: None,
        local: false,
    },
    Ep {
        id: "l5",
        tenant: 2,
        v4: "10.60.0.7",
        v6: None,
        local: true,
    },
    Ep {
        id: "l6",
        tenant: 2,
        v4: "10.60.0.8",
        v6: None,
        local: true,
    },
];

fn nets() -> [NetworkSpec; 2] {
    let mut n1 = vxlan_net("t1", 1, "n1", 6000, "10.60.0.0/24");
    n1.subnet6 = "fd60::/64".parse().ok();
    let n2 = vxlan_net("t2", 2, "n2", 6001, "10.60.0.0/24");
    [n1, n2]
}

fn mac_of(e: &Ep) -> MacAddr {
    match ip(e.v4) {
        IpAddr::V4(a) => MacAddr::from_ipv4(a),
        IpAddr::V6(_) => unreachable!("EPS have IPv4 addresses"),
    }
}

fn sets() -> Vec<contiv_core::ir::AddrSet> {
    vec![
        addr_set("cidr:a", &["10.60.0.0/30"]),
        addr_set("cidr:b", &["10.60.0.4/31", "fd60::/120"]),
        addr_set("cidr:c", &["10.60.0.10/32"]),
        addr_set("cidr:any", &["0.0.0.0/0"]),
        addr_set("cidr:v6", &["fd60::2/128"]),
        addr_set("net:t1:n1", &["10.60.0.0/24", "fd60::/64"]),
    ]
}

const SET_NAMES: [&str; 6] = [
    "cidr:a",
    "cidr:b",
    "cidr:c",
    "cidr:any",
    "cidr:v6",
    "net:t1:n1",
];

/// EPGs 1..=3 are tenant 1's, 4 is tenant 2's.
fn tenant_of_epg(g: EpgId) -> TenantId {
    if g == 4 { 2 } else { 1 }
}

#[derive(Clone, Debug)]
struct RuleSpec {
    owner: EpgId,
    inbound: bool,
    peer: u8,
    local_set: Option<u8>,
    proto: u8,
    ports: u8,
    priority: u8,
    deny: bool,
}

fn rule_spec() -> impl Strategy<Value = RuleSpec> {
    (
        1..=4u32,
        any::<bool>(),
        0..10u8,
        proptest::option::weighted(0.15, 0..6u8),
        0..6u8,
        0..4u8,
        1..=6u8,
        any::<bool>(),
    )
        .prop_map(
            |(owner, inbound, peer, local_set, proto, ports, priority, deny)| RuleSpec {
                owner,
                inbound,
                peer,
                local_set,
                proto,
                ports,
                priority,
                deny,
            },
        )
}

fn ir_rule(i: usize, s: &RuleSpec) -> IrRule {
    let tenant = tenant_of_epg(s.owner);
    let same_tenant: Vec<EpgId> = (1..=4).filter(|g| tenant_of_epg(*g) == tenant).collect();
    let peer = match s.peer {
        0 | 1 => PeerMatch::Any,
        2..=4 => PeerMatch::Epg(same_tenant[usize::from(s.peer) % same_tenant.len()]),
        n => PeerMatch::AddrSet(AddrSetId(
            SET_NAMES[usize::from(n - 4) % SET_NAMES.len()].into(),
        )),
    };
    let (proto, ports) = match (s.proto, s.ports) {
        (0, p) => (
            Some(6),
            match p {
                0 => None,
                1 => Some(PortRange::single(80)),
                2 => Some(PortRange {
                    start: 8000,
                    end: 8100,
                }),
                _ => Some(PortRange::single(22)),
            },
        ),
        (1, p) => (Some(17), (p % 2 == 1).then_some(PortRange::single(53))),
        (2, _) => (Some(1), None),
        (3, _) => (None, None),
        (4, p) => (None, (p > 1).then_some(PortRange::single(80))),
        _ => (Some(47), None),
    };
    IrRule {
        id: RuleId(1000 + i as u64),
        tenant,
        epg: s.owner,
        direction: if s.inbound {
            Direction::In
        } else {
            Direction::Out
        },
        peer,
        local: s
            .local_set
            .filter(|_| s.inbound)
            .map(|k| AddrSetId(SET_NAMES[usize::from(k)].into())),
        proto,
        ports,
        priority: s.priority,
        action: if s.deny { Action::Deny } else { Action::Allow },
        origin: RuleOrigin {
            policy: "p".into(),
            rule: i.to_string(),
            epg: format!("g{}", s.owner),
        },
    }
}

#[derive(Clone, Debug)]
struct Pkt {
    src: usize,
    dst: usize,
    v6: bool,
    proto: u8,
    port: u16,
    reply: bool,
}

fn pkt() -> impl Strategy<Value = Pkt> {
    // Mostly tenant 1 (where the rules and groups are); tenant 2 enough to
    // keep isolation in the mix.
    let end = || prop_oneof![6 => 0..6usize, 1 => 6..8usize];
    (
        end(),
        end(),
        any::<bool>(),
        prop_oneof![Just(6u8), Just(17), Just(1), Just(47)],
        prop_oneof![
            Just(80u16),
            Just(22),
            Just(53),
            Just(8050),
            Just(8100),
            Just(8101),
            Just(443)
        ],
        proptest::bool::weighted(0.15),
    )
        .prop_map(|(src, dst, v6, proto, port, reply)| Pkt {
            src,
            dst,
            v6,
            proto,
            port,
            reply,
        })
}

fn policy(epgs: &[EpgId], rules: &[RuleSpec]) -> PolicyIr {
    let mut ir = PolicyIr::default();
    for s in sets() {
        ir.addr_sets.insert(s.id.clone(), s);
    }
    for (i, s) in rules.iter().enumerate() {
        let r = ir_rule(i, s);
        ir.rules.insert(r.id, r);
    }
    for (e, g) in EPS.iter().zip(epgs) {
        if *g == 0 {
            continue;
        }
        ir.members.insert((e.tenant, ip(e.v4)), *g);
        if let Some(v6) = e.v6 {
            ir.members.insert((e.tenant, ip(v6)), *g);
        }
    }
    ir
}

fn epg_choice(e: &Ep) -> BoxedStrategy<EpgId> {
    if e.tenant == 1 {
        prop_oneof![Just(0u32), Just(1), Just(2), Just(3)].boxed()
    } else {
        prop_oneof![Just(0u32), Just(4)].boxed()
    }
}

/// The probe of a packet entering this host (from a local endpoint or
/// the tunnel), `None` if the families do not match.
fn probe_of(p: &Pkt, peer: IpAddr) -> Option<Probe> {
    let (s, d) = (&EPS[p.src], &EPS[p.dst]);
    let v6 = p.v6 && s.v6.is_some() && d.v6.is_some();
    let (src, dst) = if v6 {
        (ip(s.v6?), ip(d.v6?))
    } else {
        (ip(s.v4), ip(d.v4))
    };
    let ports = matches!(p.proto, 6 | 17);
    Some(Probe {
        ingress: if s.local {
            ProbeIngress::Endpoint(s.id.into())
        } else {
            ProbeIngress::Tunnel { peer, vni: 6000 }
        },
        src_mac: mac_of(s),
        dst_mac: mac_of(d),
        src,
        dst,
        proto: if p.proto == 1 && v6 { 58 } else { p.proto },
        src_port: if ports { 40000 } else { 0 },
        dst_port: if ports { p.port } else { 0 },
        established: p.reply,
    })
}

/// The oracle's verdict for the stages this host enforces.
fn expected(ir: &PolicyIr, p: &Pkt, probe: &Probe) -> bool {
    let (s, d) = (&EPS[p.src], &EPS[p.dst]);
    let mut pk = Packet::l4(
        PacketEnd::addr(s.tenant, probe.src),
        PacketEnd::addr(d.tenant, probe.dst),
        probe.proto,
        probe.dst_port,
    );
    if p.reply {
        pk = pk.with_state(ConnState::Reply);
    }
    let v = evaluate(ir, &pk);
    match &v.cause {
        Cause::Policy { egress, ingress } => {
            let eg = !s.local || egress.action == Action::Allow;
            let ing = !d.local || ingress.action == Action::Allow;
            eg && ing
        }
        _ => v.allowed(),
    }
}

/// Random policies × random packets: the dataplane's verdict equals the
/// oracle's. Needs [`Harness::probe`].
pub async fn oracle_differential<H: Harness>(h: &H) -> Outcome {
    if let Err(o) = gate(h, "oracle_differential") {
        return o;
    }
    let (mut ha, mut hb) = (host(h).await, host(h).await);
    let (_vtep_a, peer) = h
        .join_underlay(&mut ha, &mut hb)
        .await
        .unwrap_or_else(|e| panic!("join the underlays: {e}"));
    let [n1, n2] = nets();
    let mut ops = vec![
        DpOp::AddNetwork(n1.clone()),
        DpOp::AddNetwork(n2.clone()),
        DpOp::AddPeer(VtepPeer {
            host: "far".into(),
            ip: peer,
        }),
    ];
    let mut ctrs = Vec::new();
    for e in &EPS {
        let net = if e.tenant == 1 { &n1 } else { &n2 };
        if e.local {
            let c = Container::new(true).await;
            let mut ep: LocalEndpoint = super::fixture::local_ep(e.id, net, e.v4, 0, &c);
            if let Some(v6) = e.v6 {
                ep = super::fixture::with_v6(ep, net, v6);
            }
            ops.push(DpOp::AddLocalEndpoint(ep));
            ctrs.push(c);
        } else {
            let mut r = remote_ep(e.id, net, e.v4, 0, peer);
            r.ipv6 = e.v6.and_then(|a| a.parse().ok());
            ops.push(DpOp::AddRemoteEndpoint(r));
        }
    }
    let dp = start(h, &mut ha).await;
    dp.apply(ops).await.expect("set up the scenario");
    // The probe must exist and exercise the dataplane.
    let sanity = Pkt {
        src: 0,
        dst: 1,
        v6: false,
        proto: 6,
        port: 80,
        reply: false,
    };
    let first = probe_of(&sanity, peer).unwrap_or_else(|| unreachable!());
    match h.probe(&ha, &dp, &first).await {
        Ok(Some(true)) => {}
        Ok(Some(false)) => panic!("with no policy, l1 -> l2 must be forwarded"),
        Ok(None) => panic!(
            "a forwarding backend claiming stateful_policy must supply Harness::probe \
             (the oracle differential needs the real dataplane's verdicts)"
        ),
        Err(e) => panic!("probe: {e}"),
    }

    let mut installed = PolicyIr::default();
    let epgs = EPS.iter().map(epg_choice).collect::<Vec<_>>();
    let strategy = (
        epgs,
        proptest::collection::vec(rule_spec(), 0..20),
        proptest::collection::vec(pkt(), 12..20),
    );
    let mut runner = TestRunner::new(Config {
        failure_persistence: None,
        ..Config::default()
    });
    // The dataplane is async and the runner is not: draw the cases first,
    // then check them in order (a failure prints the whole case).
    let cases: Vec<_> = (0..96)
        .map(|_| {
            strategy
                .new_tree(&mut runner)
                .unwrap_or_else(|e| panic!("drawing a case: {e}"))
                .current()
        })
        .collect();
    let (mut compared, mut denied, mut by_rule) = (0usize, 0usize, 0usize);
    for (epgs, rules, pkts) in cases {
        let ir = policy(&epgs, &rules);
        dp.apply(vec![DpOp::Policy(installed.diff(&ir))])
            .await
            .unwrap_or_else(|e| panic!("apply: {e}"));
        installed = ir.clone();
        for p in &pkts {
            // Both ends elsewhere, or a packet to itself: not this host's
            // business.
            if (!EPS[p.src].local && !EPS[p.dst].local) || p.src == p.dst {
                continue;
            }
            let Some(probe) = probe_of(p, peer) else {
                continue;
            };
            let got = match h.probe(&ha, &dp, &probe).await {
                Ok(Some(v)) => v,
                Ok(None) => panic!("the probe stopped answering"),
                Err(e) => panic!("probe {probe:?}: {e}"),
            };
            let want = expected(&ir, p, &probe);
            compared += 1;
            denied += usize::from(!want);
            let same_tenant = EPS[p.src].tenant == EPS[p.dst].tenant;
            by_rule += usize::from(!want && same_tenant && !p.reply);
            let result: Result<(), TestCaseError> = (|| {
                prop_assert_eq!(
                    got,
                    want,
                    "packet {:?}\nprobe {:?}\nrules: {:#?}\nmembers: {:?}",
                    p,
                    probe,
                    ir.rules.values().collect::<Vec<_>>(),
                    ir.members
                );
                Ok(())
            })();
            if let Err(e) = result {
                panic!("the dataplane disagrees with the oracle: {e}");
            }
        }
    }
    println!(
        "conformance: compared {compared} packets with the oracle ({denied} denied, {by_rule} of them by a rule)"
    );
    assert!(
        compared > 800 && by_rule > 30 && compared - denied > 150,
        "the run must exercise both outcomes and rule denies: {compared} compared / {denied} denied / {by_rule} by rules"
    );
    drop(ctrs);
    Outcome::Passed
}
