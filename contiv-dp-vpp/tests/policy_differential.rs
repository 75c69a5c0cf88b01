//! Policy differential on programmed state: random policies are resynced
//! into the test server; the ACLs and bindings VPP then holds are
//! evaluated with VPP's documented ACL semantics (`support::vpp_acl`:
//! first match in list order, permit+reflect sessions, no match denies)
//! for random packets, and every verdict — of the first packet and of the
//! reply — must equal the contiv-policy oracle's.

// Test code: a failed unwrap is a test failure with its message.
#![allow(clippy::unwrap_used)]

mod support;

use contiv_core::datapath::{ArpMode, Datapath, DesiredState, FwdMode, GlobalSpec, NetworkSpec};
use contiv_core::ir::{
    Action, AddrSet, AddrSetId, Direction, EpgId, IrRule, PeerMatch, PolicyIr, PortRange, RuleId,
    RuleOrigin,
};
use contiv_dp_vpp::datapath::{PolicyEngine, VppDatapath};
use contiv_dp_vpp::testing::VppTestServer;
use contiv_policy::{Packet, PacketEnd, evaluate};
use ipnet::IpNet;
use proptest::prelude::*;
use std::net::IpAddr;
use support::vpp_acl::{Pkt, connection};
use support::{fixture, vpp_npol};

/// An endpoint of the test topology: tenant, network, address, group.
#[derive(Clone, Debug)]
struct Ep {
    id: String,
    tenant: u32,
    net: usize,
    v4: IpAddr,
    v6: Option<IpAddr>,
    epg: EpgId,
}

fn nets() -> Vec<NetworkSpec> {
    let mut a = fixture::vxnet();
    a.key = "t1:a".into();
    let mut b = fixture::vlannet();
    b.key = "t1:b".into();
    let mut c = fixture::vxnet();
    c.key = "t2:a".into();
    c.tenant = "t2".into();
    c.tenant_id = 2;
    c.vni = Some(6000);
    c.vlan = 11;
    vec![a, b, c]
}

/// Local endpoints: three on t1:a, three on t1:b, two on t2:a (the same
/// subnet as t1:a: tenants may overlap).
fn endpoints(groups: &[EpgId]) -> Vec<Ep> {
    let spots: [(u32, usize, &str, Option<&str>); 8] = [
        (1, 0, "10.1.0.10", Some("fd00:1::10")),
        (1, 0, "10.1.0.11", Some("fd00:1::11")),
        (1, 0, "10.1.0.12", None),
        (1, 1, "10.2.0.20", None),
        (1, 1, "10.2.0.21", None),
        (1, 1, "10.2.0.22", None),
        (2, 2, "10.1.0.30", None),
        (2, 2, "10.1.0.31", None),
    ];
    spots
        .iter()
        .enumerate()
        .map(|(i, (t, n, v4, v6))| Ep {
            id: format!("ep{i}"),
            tenant: *t,
            net: *n,
            v4: v4.parse().unwrap(),
            v6: v6.map(|s| s.parse().unwrap()),
            // Tenant 1 groups 0..=3, tenant 2 groups 0, 4, 5.
            epg: if *t == 1 {
                groups[i] % 4
            } else {
                [0, 4, 5][groups[i] as usize % 3]
            },
        })
        .collect()
}

/// A generated rule: owner index, `in`?, peer kind, peer index, protocol,
/// ports kind, priority, allow?, local set index.
type RawRule = (u8, bool, u8, u8, Option<u8>, u8, u8, bool, Option<u8>);

const EXTERNAL: [&str; 3] = ["192.168.7.7", "10.1.0.99", "fd00:1::99"];
const CIDRS: [&str; 6] = [
    "10.1.0.0/24",
    "10.2.0.0/24",
    "10.1.0.8/29",
    "192.168.0.0/16",
    "fd00:1::/64",
    "0.0.0.0/0",
];

fn arb_rule() -> impl Strategy<Value = RawRule> {
    (
        0u8..5,                                   // owner group index
        any::<bool>(),                            // direction in?
        prop::sample::select(vec![0u8, 1, 1, 2]), // peer kind: any, group (×2), set
        0u8..8,                                   // peer group or cidr index
        prop::option::of(prop::sample::select(vec![6u8, 6, 17, 1, 58, 47])),
        0u8..4,                   // ports kind
        1u8..5,                   // priority
        any::<bool>(),            // allow?
        prop::option::of(0u8..6), // local set (in rules)
    )
}

fn build_ir(eps: &[Ep], raw: &[RawRule]) -> PolicyIr {
    let mut ir = PolicyIr::default();
    for e in eps.iter().filter(|e| e.epg != 0) {
        ir.members.insert((e.tenant, e.v4), e.epg);
        if let Some(v6) = e.v6 {
            ir.members.insert((e.tenant, v6), e.epg);
        }
    }
    let owners: [(u32, EpgId); 5] = [(1, 1), (1, 2), (1, 3), (2, 4), (2, 5)];
    for (i, &(o, is_in, pk, pi, proto, ports, prio, allow, local)) in raw.iter().enumerate() {
        let (tenant, epg) = owners[o as usize];
        let mut set = |c: &str| {
            let id = AddrSetId(format!("cidr:{c}"));
            ir.addr_sets.insert(
                id.clone(),
                AddrSet {
                    id: id.clone(),
                    prefixes: vec![c.parse::<IpNet>().unwrap()],
                },
            );
            id
        };
        let peer = match pk {
            0 => PeerMatch::Any,
            1 => PeerMatch::Epg(if tenant == 1 {
                1 + u32::from(pi % 3)
            } else {
                4 + u32::from(pi % 2)
            }),
            _ => PeerMatch::AddrSet(set(CIDRS[pi as usize % CIDRS.len()])),
        };
        let local = match (is_in, local) {
            (true, Some(l)) => Some(set(CIDRS[l as usize])),
            _ => None,
        };
        let tcp_udp = matches!(proto, None | Some(6) | Some(17));
        let ports = match ports {
            1 if tcp_udp => Some(PortRange::single(80)),
            2 if tcp_udp => Some(PortRange {
                start: 1000,
                end: 2000,
            }),
            _ => None,
        };
        let r = IrRule {
            id: RuleId(1000 + i as u64),
            tenant,
            epg,
            direction: if is_in { Direction::In } else { Direction::Out },
            peer,
            local,
            proto,
            ports,
            priority: prio,
            action: if allow { Action::Allow } else { Action::Deny },
            origin: RuleOrigin {
                policy: "p".into(),
                rule: i.to_string(),
                epg: format!("g{epg}"),
            },
        };
        ir.rules.insert(r.id, r);
    }
    ir
}

fn desired(eps: &[Ep], ir: PolicyIr) -> DesiredState {
    let nets = nets();
    DesiredState {
        global: GlobalSpec {
            arp_mode: ArpMode::Proxy,
            fwd_mode: FwdMode::Routing,
            ..GlobalSpec::default()
        },
        local_endpoints: eps
            .iter()
            .map(|e| {
                let n = &nets[e.net];
                let IpAddr::V4(a) = e.v4 else { unreachable!() };
                let mut l = fixture::local(&e.id, n, a.octets()[3], e.epg);
                l.ipv6 =
                    e.v6.map(|v| IpNet::new(v, 64).unwrap())
                        .and_then(|n| match n {
                            IpNet::V6(n) => Some(n),
                            IpNet::V4(_) => None,
                        });
                l
            })
            .collect(),
        networks: nets,
        policy: ir,
        ..DesiredState::default()
    }
}

fn end(eps: &[Ep], i: usize) -> (Option<&Ep>, Option<IpAddr>) {
    if i < eps.len() {
        (Some(&eps[i]), None)
    } else {
        (
            None,
            Some(EXTERNAL[(i - eps.len()) % EXTERNAL.len()].parse().unwrap()),
        )
    }
}

/// One case: `groups` place the endpoints, `raw` are the rules, the
/// packets are judged on the state `engine` programmed.
fn differential(
    engine: PolicyEngine,
    groups: &[u32],
    raw: &[RawRule],
    packets: Vec<(usize, usize, u8, u16, bool)>,
) -> Result<(), TestCaseError> {
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    let eps = endpoints(groups);
    let ir = build_ir(&eps, raw);
    let st = rt.block_on(async {
        let srv = VppTestServer::start().await.unwrap();
        let mut cfg = fixture::config(&srv);
        cfg.policy = engine;
        let dp = VppDatapath::connect(cfg).await.unwrap();
        dp.resync(&desired(&eps, ir.clone())).await.unwrap();
        srv.state()
    });
    let ifx = |e: &Ep| st.by_tag(&format!("cv:tap:{}", e.id)).unwrap();
    for (s, d, proto, port, v6) in packets {
        let (se, sx) = end(&eps, s);
        let (de, dx) = end(&eps, d);
        if se.is_none() && de.is_none() {
            continue;
        }
        // Addresses of one family; externals take the tenant of the other end.
        let pick = |e: Option<&Ep>, x: Option<IpAddr>| -> Option<IpAddr> {
            match (e, x) {
                (Some(e), _) if v6 => e.v6,
                (Some(e), _) => Some(e.v4),
                (None, Some(x)) if x.is_ipv6() == v6 => Some(x),
                _ => None,
            }
        };
        let (Some(sip), Some(dip)) = (pick(se, sx), pick(de, dx)) else {
            continue;
        };
        if sip == dip {
            continue;
        }
        let tenant_of = |e: Option<&Ep>, other: Option<&Ep>| e.or(other).map_or(1, |e| e.tenant);
        let src = match se {
            Some(e) => PacketEnd::in_epg(e.tenant, sip, e.epg),
            None => PacketEnd::addr(tenant_of(de, se), sip),
        };
        let dst = match de {
            Some(e) => PacketEnd::in_epg(e.tenant, dip, e.epg),
            None => PacketEnd::addr(tenant_of(se, de), dip),
        };
        let proto = match proto {
            1 if v6 => 58,
            58 if !v6 => 1,
            p => p,
        };
        let p = if proto == 1 || proto == 58 {
            Packet::icmp(src, dst)
        } else {
            Packet::l4(src, dst, proto, port)
        };
        let oracle_new = evaluate(&ir, &p).allowed();
        let pkt = Pkt {
            src: sip,
            dst: dip,
            proto,
            sport: if proto == 1 {
                8
            } else if proto == 58 {
                128
            } else {
                40000
            },
            dport: if proto == 1 || proto == 58 { 0 } else { port },
        };
        let (vpp_new, vpp_reply) = match engine {
            PolicyEngine::Npol => vpp_npol::connection(&st, se.map(ifx), de.map(ifx), &pkt),
            _ => connection(&st, se.map(ifx), de.map(ifx), &pkt),
        };
        prop_assert_eq!(
            vpp_new,
            oracle_new,
            "first packet {:?}: oracle says {}",
            p,
            evaluate(&ir, &p)
        );
        if oracle_new {
            prop_assert!(
                vpp_reply,
                "the reply of allowed {:?} must pass (stateful)",
                p
            );
        }
    }
    Ok(())
}

/// Random packets: source and destination index (endpoints, then
/// externals), protocol, port, IPv6?
fn arb_packets() -> impl Strategy<Value = Vec<(usize, usize, u8, u16, bool)>> {
    prop::collection::vec(
        (
            0usize..11,
            0usize..11,
            prop::sample::select(vec![6u8, 6, 17, 1, 47]),
            prop::sample::select(vec![80u16, 80, 1500, 2500]),
            prop::bool::weighted(0.2),
        ),
        80,
    )
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 48, ..ProptestConfig::default() })]

    #[test]
    fn programmed_acls_decide_like_the_oracle(
        groups in prop::collection::vec(0u32..6, 8),
        raw in prop::collection::vec(arb_rule(), 0..40),
        packets in arb_packets(),
    ) {
        differential(PolicyEngine::Acl, &groups, &raw, packets)?;
    }

    /// The same with the npol engine: its ipsets, rules, policies and
    /// interface configurations judged with npol's matching.
    #[test]
    fn programmed_npol_policies_decide_like_the_oracle(
        groups in prop::collection::vec(0u32..6, 8),
        raw in prop::collection::vec(arb_rule(), 0..40),
        packets in arb_packets(),
    ) {
        differential(PolicyEngine::Npol, &groups, &raw, packets)?;
    }
}

/// The statefulness case spelled out: group 1 denies all its outgoing TCP
/// and has an `in` rule that does not match; a connection *to* a member
/// is allowed by default, and its replies (outgoing TCP from the member)
/// must still pass.
#[test]
fn replies_pass_the_receivers_own_out_rules() {
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    let eps = endpoints(&[1, 0, 0, 0, 0, 0, 0, 0]);
    // owner 0 = group 1; out, any peer, tcp, no ports, deny; in, udp 80, allow.
    let raw = vec![
        (0u8, false, 0u8, 0u8, Some(6u8), 0u8, 1u8, false, None),
        (0u8, true, 0u8, 0u8, Some(17u8), 1u8, 1u8, true, None),
    ];
    let ir = build_ir(&eps, &raw);
    let st = rt.block_on(async {
        let (srv, dp) = fixture::start().await;
        dp.resync(&desired(&eps, ir.clone())).await.unwrap();
        srv.state()
    });
    let a = st.by_tag("cv:tap:ep0").unwrap();
    let b = st.by_tag("cv:tap:ep1").unwrap();
    let pkt = Pkt {
        src: eps[1].v4,
        dst: eps[0].v4,
        proto: 6,
        sport: 40000,
        dport: 80,
    };
    let p = Packet::tcp(
        PacketEnd::in_epg(1, eps[1].v4, 0),
        PacketEnd::in_epg(1, eps[0].v4, 1),
        80,
    );
    assert!(evaluate(&ir, &p).allowed());
    assert_eq!(connection(&st, Some(b), Some(a), &pkt), (true, true));
    // The member's own new connection out is denied.
    assert!(!connection(&st, Some(a), Some(b), &pkt.reply()).0);
}
