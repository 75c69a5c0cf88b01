//! The oracle against a brute-force reading of the intent: for random
//! policies × random packets, `evaluate(compile(intent), packet)` gives the
//! same action and the same deciding rule as `common::brute_verdict`, which
//! interprets the model objects directly (its own string parsing, no IR).
#![allow(clippy::unwrap_used)] // test code: a panic is a test failure

mod common;

use common::{brute_verdict, group, network, rule};
use contiv_core::model::Rule;
use contiv_policy::{ConnState, EndpointInput, Intent, Packet, PacketEnd, compile, evaluate};
use proptest::prelude::*;
use std::net::IpAddr;

/// Endpoint addresses (tenant t0, distinct) and outside addresses.
const EP_ADDRS: [&str; 8] = [
    "10.0.0.1",
    "10.0.0.2",
    "10.0.0.3",
    "10.0.1.1",
    "10.0.1.2",
    "fd00::1",
    "fd00::2",
    "fd00:1::1",
];
/// Outside addresses; 10.0.1.200 is in n1's prefix but not its allocation range.
const OUTSIDE: [&str; 5] = [
    "10.0.0.200",
    "192.168.1.1",
    "fd00::99",
    "20.0.0.1",
    "10.0.1.200",
];
const V6_FROM: usize = 5; // EP_ADDRS[5..] are IPv6

fn arb_rule() -> impl Strategy<Value = Rule> {
    (
        (0..3usize, 0..10usize, any::<bool>(), 0..10usize),
        (
            prop::sample::select(vec![0i64, 1, 2, 5, 100]),
            prop::sample::select(vec![
                "", "", "tcp", "tcp", "tcp", "udp", "icmp", "58", "47", "6",
            ]),
            prop::sample::select(vec![0i64, 80, 443]),
        ),
        (0..9usize, 0..4usize, 0..5usize),
    )
        .prop_map(
            |((p, id, inbound, act), (prio, proto, port), (peer, which, local))| {
                let port = if matches!(proto, "" | "tcp" | "udp" | "6") {
                    port
                } else {
                    0
                };
                let mut r = rule("t0", ["p0", "p1", "p2"][p], &format!("r{id}"))
                    .proto(proto)
                    .port(port)
                    .prio(prio);
                r = if inbound { r.inbound() } else { r.outbound() };
                r = if act < 6 { r.allow() } else { r.deny() };
                let g = format!("g{which}"); // g3 does not exist
                let n = ["n0", "n1", "n2", "n0"][which]; // n2 does not exist
                let c = ["10.0.0.0/30", "10.0.0.2", "fd00::/126", "192.168.0.0/16"][which];
                r = match (peer, inbound) {
                    (0..=2, _) => r,
                    (3..=4, true) => r.src_group(&g),
                    (3..=4, false) => r.dst_group(&g),
                    (5..=6, true) => r.src_net(n),
                    (5..=6, false) => r.dst_net(n),
                    (_, true) => r.src_ip(c),
                    (_, false) => r.dst_ip(c),
                };
                if inbound && local == 0 {
                    r = r.dst_ip(["10.0.0.1", "10.0.0.0/24", "fd00::/64", "10.0.1.0/24"][which]);
                }
                r.build()
            },
        )
}

fn arb_intent() -> impl Strategy<Value = Intent> {
    (
        prop::collection::vec(arb_rule(), 0..24),
        prop::collection::vec(prop::collection::vec(0..3usize, 1..3), 3),
        prop::collection::vec(
            prop_oneof![1 => Just(None), 6 => (0..4usize).prop_map(Some)],
            EP_ADDRS.len(),
        ),
        any::<bool>(),
    )
        .prop_map(|(rules, attach, groups, second_tenant)| {
            let mut i = Intent::default();
            i.insert_tenant("t0", 1);
            if second_tenant {
                i.insert_tenant("t1", 2);
            }
            i.insert_network(network("t0", "n0", "10.0.0.0/24", "fd00::/64"));
            i.insert_network(network("t0", "n1", "10.0.1.0-10.0.1.100/24", ""));
            i.insert_network(network("t1", "n0", "10.0.0.0/24", ""));
            for (k, ps) in attach.iter().enumerate() {
                let names: Vec<&str> = ps.iter().map(|p| ["p0", "p1", "p2"][*p]).collect();
                i.insert_epg(group("t0", &format!("g{k}"), "n0", &names), k as u32 + 1);
            }
            // A group of the other tenant with the same policy names.
            i.insert_epg(group("t1", "g0", "n0", &["p0"]), 10);
            for r in rules {
                i.insert_rule(r);
            }
            // One endpoint per address; group 3 does not exist.
            for (n, g) in groups.iter().enumerate() {
                let addr: IpAddr = EP_ADDRS[n].parse().unwrap();
                let g = g.map(|g| format!("g{g}"));
                i.insert_endpoint(EndpointInput::new(
                    format!("e{n}"),
                    "t0",
                    "n0",
                    g.as_deref(),
                    [addr],
                ));
            }
            i.insert_endpoint(EndpointInput::new(
                "x",
                "t1",
                "n0",
                Some("g0"),
                ["10.0.0.1".parse().unwrap()],
            ));
            i
        })
}

fn arb_end(v6: bool) -> impl Strategy<Value = IpAddr> {
    let (eps, outside): (Vec<&str>, Vec<&str>) = if v6 {
        (EP_ADDRS[V6_FROM..].to_vec(), vec![OUTSIDE[2]])
    } else {
        (
            EP_ADDRS[..V6_FROM].to_vec(),
            vec![OUTSIDE[0], OUTSIDE[1], OUTSIDE[3], OUTSIDE[4]],
        )
    };
    prop_oneof![
        4 => prop::sample::select(eps),
        1 => prop::sample::select(outside),
    ]
    .prop_map(|a| a.parse::<IpAddr>().unwrap())
}

fn arb_packet() -> impl Strategy<Value = Packet> {
    prop_oneof![3 => Just(false), 1 => Just(true)]
        .prop_flat_map(|v6| {
            (
                arb_end(v6),
                arb_end(v6),
                prop::sample::select(vec![6u8, 6, 6, 17, 1, 47]),
                prop::sample::select(vec![80u16, 443, 22]),
                prop::sample::select(vec![1u32, 1, 1, 1, 2]),
                0..10usize,
            )
        })
        .prop_map(|(src, dst, proto, port, dst_tenant, state)| {
            // icmp is ICMPv6 on IPv6
            let proto = if proto == 1 && dst.is_ipv6() {
                58
            } else {
                proto
            };
            let p = Packet::l4(
                PacketEnd::addr(1, src),
                PacketEnd::addr(dst_tenant, dst),
                proto,
                port,
            );
            if state == 0 {
                p.with_state(ConnState::Reply)
            } else {
                p
            }
        })
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 600, ..ProptestConfig::default() })]

    #[test]
    fn oracle_agrees_with_brute_force_intent_evaluation(
        intent in arb_intent(),
        packets in prop::collection::vec(arb_packet(), 1..40),
    ) {
        let ir = compile(&intent).expect("generated intents are valid");
        for p in &packets {
            let v = evaluate(&ir, p);
            let (action, origin) = brute_verdict(&intent, p);
            prop_assert_eq!(v.action, action, "packet {:?}: oracle says {}", p, v);
            let got = v.deciding_rule().map(|r| (r.origin.policy.clone(), r.origin.rule.clone(), r.origin.epg.clone()));
            prop_assert_eq!(got, origin, "packet {:?}: oracle says {}", p, v);
        }
    }
}

#[test]
fn brute_force_and_oracle_disagree_on_a_wrong_ir() {
    // The comparison above can fail: drop one compiled rule and the oracle
    // no longer agrees with the intent for a packet that rule decides.
    let mut i = Intent::default();
    i.insert_tenant("t0", 1);
    i.insert_epg(group("t0", "g0", "n0", &["p0"]), 1);
    i.insert_rule(rule("t0", "p0", "r0").inbound().tcp().deny().build());
    i.insert_endpoint(EndpointInput::new(
        "e0",
        "t0",
        "n0",
        Some("g0"),
        ["10.0.0.1".parse().unwrap()],
    ));
    let p = Packet::tcp(
        PacketEnd::addr(1, "10.0.0.2".parse().unwrap()),
        PacketEnd::addr(1, "10.0.0.1".parse().unwrap()),
        80,
    );
    let mut ir = compile(&i).unwrap();
    assert_eq!(evaluate(&ir, &p).action, brute_verdict(&i, &p).0);
    ir.rules.clear();
    assert_ne!(evaluate(&ir, &p).action, brute_verdict(&i, &p).0);
}
