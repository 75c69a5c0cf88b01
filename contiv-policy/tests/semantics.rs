//! Table-driven tests of the policy semantics, end to end: model objects →
//! compiler → IR → oracle. Includes the seed tutorial and the original
//! system tests (TestPolicyBasic, TestPolicyAddDeleteRule,
//! TestPolicyFromEPG, TestPolicyFeatures) restated in our stateful
//! semantics.
#![allow(clippy::unwrap_used)] // test code: a panic is a test failure

mod common;

use common::{group, ip, network, rule};
use contiv_core::ir::Action;
use contiv_policy::{
    Cause, Compiler, EndpointInput, Packet, PacketEnd, Stage, Verdict, compile, evaluate,
};

const T: u32 = 1;

fn at(addr: &str) -> PacketEnd {
    PacketEnd::addr(T, ip(addr))
}

fn tcp(src: &str, dst: &str, port: u16) -> Packet {
    Packet::tcp(at(src), at(dst), port)
}

fn udp(src: &str, dst: &str, port: u16) -> Packet {
    Packet::udp(at(src), at(dst), port)
}

fn ping(src: &str, dst: &str) -> Packet {
    Packet::icmp(at(src), at(dst))
}

/// A compiler with tenant `default` (id 1), networks `private`
/// (10.1.0.0/16, fd00:1::/64) and `dummy` (20.1.0.0/16).
struct Lab {
    c: Compiler,
}

impl Lab {
    fn new() -> Self {
        let mut c = Compiler::new();
        c.upsert_tenant("default", T).unwrap();
        c.upsert_network(&network("default", "private", "10.1.0.0/16", "fd00:1::/64"))
            .unwrap();
        c.upsert_network(&network("default", "dummy", "20.1.0.0/16", ""))
            .unwrap();
        Lab { c }
    }

    fn group(&mut self, name: &str, id: u32, policies: &[&str]) -> &mut Self {
        self.c
            .upsert_epg(&group("default", name, "private", policies), id)
            .unwrap();
        self
    }

    fn endpoint(&mut self, id: &str, group: Option<&str>, ips: &[&str]) -> &mut Self {
        let ep = EndpointInput::new(id, "default", "private", group, ips.iter().map(|s| ip(s)));
        self.c.upsert_endpoint(&ep).unwrap();
        self
    }

    fn add(&mut self, r: common::RuleB) -> &mut Self {
        self.c.upsert_rule(&r.build()).unwrap();
        self
    }

    fn del(&mut self, policy: &str, id: &str) -> &mut Self {
        let d = self
            .c
            .remove_rule(&format!("default:{policy}:{id}"))
            .unwrap();
        assert!(
            !d.rules_removed.is_empty(),
            "rule {policy}:{id} was compiled"
        );
        self
    }

    fn v(&self, p: Packet) -> Verdict {
        evaluate(self.c.ir(), &p)
    }
}

/// Asserts the action and the deciding rule id (`None` = no rule decided).
#[track_caller]
fn expect(v: &Verdict, allowed: bool, rule: Option<&str>) {
    assert_eq!(v.allowed(), allowed, "verdict: {v}");
    assert_eq!(
        v.deciding_rule().map(|r| r.origin.rule.as_str()),
        rule,
        "verdict: {v}"
    );
}

// ----- the seed tutorial --------------------------------------------------

#[test]
fn seed_tutorial_db_policy_allows_only_8888_into_db() {
    let mut lab = Lab::new();
    lab.add(rule("default", "db-policy", "1").inbound().tcp().deny())
        .add(
            rule("default", "db-policy", "2")
                .inbound()
                .tcp()
                .port(8888)
                .allow()
                .prio(10),
        )
        .group("db", 1, &["db-policy"])
        .endpoint("contiv-db", Some("db"), &["10.1.2.7"])
        .endpoint("contiv-web", None, &["10.1.2.8"]);
    let (web, db) = ("10.1.2.8", "10.1.2.7");
    // nc -nzvw 1 10.1.2.7 8890 / 8889: timed out; 8888: open.
    expect(&lab.v(tcp(web, db, 8890)), false, Some("1"));
    expect(&lab.v(tcp(web, db, 8889)), false, Some("1"));
    let open = lab.v(tcp(web, db, 8888));
    expect(&open, true, Some("2"));
    // ...and the handshake's replies flow back.
    expect(&lab.v(tcp(web, db, 8888).reply()), true, None);
    // UDP and ping are not "tcp": default allow.
    expect(&lab.v(udp(web, db, 8889)), true, None);
    expect(&lab.v(ping(web, db)), true, None);
    // db's own outbound tcp is not incoming tcp; its replies pass too.
    expect(&lab.v(tcp(db, web, 80)), true, None);
    expect(&lab.v(tcp(db, web, 80).reply()), true, None);
}

// ----- TestPolicyBasic / TestPolicyAddDeleteRule ---------------------------

fn basic_lab() -> Lab {
    let mut lab = Lab::new();
    lab.add(rule("default", "pol", "1").inbound().tcp().deny().prio(1))
        .add(
            rule("default", "pol", "2")
                .inbound()
                .tcp()
                .port(8000)
                .allow()
                .prio(100),
        )
        .group("epg1", 1, &["pol"])
        .group("epg2", 2, &["pol"])
        .endpoint("c1", Some("epg1"), &["10.1.1.1"])
        .endpoint("c2", Some("epg2"), &["10.1.1.2"]);
    lab
}

#[test]
fn policy_basic_8000_open_8001_blocked_both_ways() {
    let lab = basic_lab();
    for (s, d) in [("10.1.1.1", "10.1.1.2"), ("10.1.1.2", "10.1.1.1")] {
        expect(&lab.v(tcp(s, d, 8000)), true, Some("2"));
        expect(&lab.v(tcp(s, d, 8001)), false, Some("1"));
    }
}

#[test]
fn policy_add_delete_rule_opens_and_closes_8001_repeatedly() {
    let mut lab = basic_lab();
    for _ in 0..3 {
        let d = lab
            .c
            .upsert_rule(
                &rule("default", "pol", "3")
                    .inbound()
                    .tcp()
                    .port(8001)
                    .allow()
                    .prio(100)
                    .build(),
            )
            .unwrap();
        // pol is attached to two groups: one compiled rule each.
        assert_eq!(d.rules_added.len(), 2);
        assert_eq!(d.len(), 2);
        expect(&lab.v(tcp("10.1.1.2", "10.1.1.1", 8001)), true, Some("3"));
        let d = lab.c.remove_rule("default:pol:3").unwrap();
        assert_eq!(d.rules_removed.len(), 2);
        assert_eq!(d.len(), 2);
        expect(&lab.v(tcp("10.1.1.2", "10.1.1.1", 8001)), false, Some("1"));
    }
}

// ----- TestPolicyFromEPG ----------------------------------------------------

#[test]
fn policy_from_epg_8001_only_from_common() {
    let mut lab = Lab::new();
    for (pol, g, id) in [("polA", "epgA", 1), ("polB", "epgB", 2)] {
        lab.add(rule("default", pol, "1").inbound().tcp().deny())
            .add(
                rule("default", pol, "2")
                    .inbound()
                    .tcp()
                    .port(8000)
                    .allow()
                    .prio(10),
            )
            .add(
                rule("default", pol, "3")
                    .inbound()
                    .tcp()
                    .port(8001)
                    .src_group("common")
                    .allow()
                    .prio(10),
            )
            .group(g, id, &[pol]);
    }
    lab.group("common", 3, &[])
        .endpoint("a", Some("epgA"), &["10.1.1.1"])
        .endpoint("b", Some("epgB"), &["10.1.1.2"])
        .endpoint("k", Some("common"), &["10.1.1.3"]);
    let (a, b, k) = ("10.1.1.1", "10.1.1.2", "10.1.1.3");
    for (src, dst) in [(b, a), (k, a), (a, b), (k, b)] {
        expect(&lab.v(tcp(src, dst, 8000)), true, Some("2"));
        expect(&lab.v(tcp(src, dst, 8002)), false, Some("1"));
    }
    expect(&lab.v(tcp(k, a, 8001)), true, Some("3"));
    expect(&lab.v(tcp(k, b, 8001)), true, Some("3"));
    expect(&lab.v(tcp(b, a, 8001)), false, Some("1"));
    expect(&lab.v(tcp(a, b, 8001)), false, Some("1"));
    // common has no policy: everything into it is open.
    expect(&lab.v(tcp(a, k, 8001)), true, None);
}

// ----- TestPolicyFeatures, restated statefully ------------------------------

#[test]
fn policy_features_matrix() {
    let (c1, c2, c3, outside) = ("10.1.1.1", "10.1.1.2", "10.1.1.3", "20.1.1.1");
    let mut lab = Lab::new();
    lab.group("epg1", 1, &["pol1"])
        .group("epg2", 2, &[])
        .endpoint("c1", Some("epg1"), &[c1, "fd00:1::1"])
        .endpoint("c2", Some("epg2"), &[c2, "fd00:1::2"])
        .endpoint("c3", None, &[c3])
        .endpoint("d1", None, &[outside]);

    // No rules: everything passes by default.
    expect(&lab.v(tcp(c2, c1, 8000)), true, None);
    expect(&lab.v(ping(c1, c2)), true, None);

    // in deny tcp
    lab.add(rule("default", "pol1", "1").inbound().tcp().deny());
    expect(&lab.v(tcp(c2, c1, 8000)), false, Some("1"));
    expect(&lab.v(tcp(c1, c2, 8000)), true, None);
    expect(&lab.v(tcp(c1, c2, 8000).reply()), true, None);

    // allow port
    lab.add(
        rule("default", "pol1", "2")
            .inbound()
            .tcp()
            .port(8000)
            .allow()
            .prio(10),
    );
    expect(&lab.v(tcp(c2, c1, 8000)), true, Some("2"));
    expect(&lab.v(tcp(c2, c1, 8001)), false, Some("1"));
    lab.del("pol1", "2");

    // from-group
    lab.add(
        rule("default", "pol1", "3")
            .inbound()
            .tcp()
            .src_group("epg2")
            .allow()
            .prio(10),
    );
    expect(&lab.v(tcp(c2, c1, 8001)), true, Some("3"));
    expect(&lab.v(tcp(c3, c1, 8001)), false, Some("1"));
    lab.del("pol1", "3");

    // from-network: allow private (prio 10) vs deny dummy (prio 100)
    lab.add(
        rule("default", "pol1", "4")
            .inbound()
            .tcp()
            .src_net("private")
            .allow()
            .prio(10),
    )
    .add(
        rule("default", "pol1", "5")
            .inbound()
            .tcp()
            .src_net("dummy")
            .deny()
            .prio(100),
    );
    expect(&lab.v(tcp(c2, c1, 8001)), true, Some("4"));
    expect(&lab.v(tcp(outside, c1, 8001)), false, Some("5"));
    lab.del("pol1", "4").del("pol1", "5");

    // from-ip: allow c2 (prio 10) vs deny the dummy subnet (prio 100)
    lab.add(
        rule("default", "pol1", "6")
            .inbound()
            .tcp()
            .src_ip(c2)
            .allow()
            .prio(10),
    )
    .add(
        rule("default", "pol1", "7")
            .inbound()
            .tcp()
            .src_ip("20.1.0.0/16")
            .deny()
            .prio(100),
    );
    expect(&lab.v(tcp(c2, c1, 8001)), true, Some("6"));
    expect(&lab.v(tcp(outside, c1, 8001)), false, Some("7"));
    expect(&lab.v(tcp(c3, c1, 8001)), false, Some("1"));
    lab.del("pol1", "6").del("pol1", "7").del("pol1", "1");

    // out deny tcp
    lab.add(rule("default", "pol1", "8").outbound().tcp().deny());
    let v = lab.v(tcp(c1, c2, 8000));
    expect(&v, false, Some("8"));
    assert_eq!(v.deciding_stage().unwrap().stage, Stage::Egress);
    expect(&lab.v(tcp(c2, c1, 8000)), true, None);
    expect(&lab.v(tcp(c2, c1, 8000).reply()), true, None);

    // out allow port
    lab.add(
        rule("default", "pol1", "9")
            .outbound()
            .tcp()
            .port(8000)
            .allow()
            .prio(10),
    );
    expect(&lab.v(tcp(c1, c2, 8000)), true, Some("9"));
    expect(&lab.v(tcp(c1, c2, 8001)), false, Some("8"));
    lab.del("pol1", "9");

    // to-group
    lab.add(
        rule("default", "pol1", "10")
            .outbound()
            .tcp()
            .dst_group("epg2")
            .allow()
            .prio(10),
    );
    expect(&lab.v(tcp(c1, c2, 8001)), true, Some("10"));
    expect(&lab.v(tcp(c1, c3, 8001)), false, Some("8"));
    lab.del("pol1", "10");

    // to-network
    lab.add(
        rule("default", "pol1", "11")
            .outbound()
            .tcp()
            .dst_net("private")
            .allow()
            .prio(10),
    );
    expect(&lab.v(tcp(c1, c3, 8001)), true, Some("11"));
    expect(&lab.v(tcp(c1, outside, 8001)), false, Some("8"));
    lab.del("pol1", "11");

    // to-ip
    lab.add(
        rule("default", "pol1", "12")
            .outbound()
            .tcp()
            .dst_ip(c2)
            .allow()
            .prio(10),
    );
    expect(&lab.v(tcp(c1, c2, 8001)), true, Some("12"));
    expect(&lab.v(tcp(c1, c3, 8001)), false, Some("8"));
    lab.del("pol1", "12").del("pol1", "8");

    // in deny icmp: pings *to* c1 fail (v4 and v6). Unlike the stateless
    // original, c1's own pings and their echo replies pass.
    lab.add(rule("default", "pol1", "13").inbound().icmp().deny());
    expect(&lab.v(ping(c2, c1)), false, Some("13"));
    expect(&lab.v(ping("fd00:1::2", "fd00:1::1")), false, Some("13"));
    expect(&lab.v(ping(c1, c2)), true, None);
    expect(&lab.v(ping(c1, c2).reply()), true, None);

    // icmp allow from-ip restores pings from c2 only
    lab.add(
        rule("default", "pol1", "14")
            .inbound()
            .icmp()
            .src_ip(c2)
            .allow()
            .prio(10),
    );
    expect(&lab.v(ping(c2, c1)), true, Some("14"));
    expect(&lab.v(ping(c3, c1)), false, Some("13"));

    // deleting the rules restores everything
    lab.del("pol1", "13").del("pol1", "14");
    assert!(lab.c.ir().rules.is_empty());
    assert!(lab.c.ir().addr_sets.is_empty());
    for (s, d) in [(c2, c1), (c1, c2), (c3, c1), (outside, c1)] {
        expect(&lab.v(tcp(s, d, 8001)), true, None);
        expect(&lab.v(ping(s, d)), true, None);
    }
}

// ----- individual semantic points -------------------------------------------

/// One group `g` (id 1) holding 10.1.1.1 with policy `p`, a peer group `h`
/// (id 2) holding 10.1.1.2, and the given rules in `p`.
fn one_group(rules: Vec<common::RuleB>) -> Lab {
    let mut lab = Lab::new();
    lab.group("g", 1, &["p"])
        .group("h", 2, &[])
        .endpoint("e1", Some("g"), &["10.1.1.1", "fd00:1::1"])
        .endpoint("e2", Some("h"), &["10.1.1.2", "fd00:1::2"]);
    for r in rules {
        lab.add(r);
    }
    lab
}

#[test]
fn priority_higher_wins_and_deny_wins_ties() {
    let p = |id: &str| rule("default", "p", id).inbound().tcp();
    let cases: Vec<(Vec<common::RuleB>, bool, &str)> = vec![
        (
            vec![p("a").deny().prio(5), p("b").allow().prio(6)],
            true,
            "b",
        ),
        (
            vec![p("a").deny().prio(6), p("b").allow().prio(5)],
            false,
            "a",
        ),
        (
            vec![p("a").deny().prio(5), p("b").allow().prio(5)],
            false,
            "a",
        ),
        (
            vec![p("a").allow().prio(5), p("b").deny().prio(5)],
            false,
            "b",
        ),
        (vec![p("a").allow(), p("b").deny().port(9)], true, "a"), // deny does not match port 80
        (
            vec![p("a").allow().prio(0), p("b").deny().prio(1)],
            false,
            "b",
        ), // 0 = default 1
        (
            vec![p("a").allow().prio(100), p("b").deny().prio(99)],
            true,
            "a",
        ),
    ];
    for (rules, allowed, decider) in cases {
        let names: Vec<String> = rules.iter().map(|r| format!("{:?}", r.0)).collect();
        let lab = one_group(rules);
        let v = lab.v(tcp("10.1.1.2", "10.1.1.1", 80));
        assert_eq!(v.allowed(), allowed, "{names:?}: {v}");
        assert_eq!(
            v.deciding_rule().unwrap().origin.rule,
            decider,
            "{names:?}: {v}"
        );
    }
}

#[test]
fn equal_priority_and_action_reports_the_smaller_rule_id() {
    let lab = one_group(vec![
        rule("default", "p", "a").inbound().tcp().deny().prio(3),
        rule("default", "p", "b").inbound().tcp().deny().prio(3),
    ]);
    let v = lab.v(tcp("10.1.1.2", "10.1.1.1", 80));
    let ids: Vec<_> = lab.c.ir().rules.keys().copied().collect();
    assert_eq!(v.deciding_rule().unwrap().id, *ids.iter().min().unwrap());
}

#[test]
fn protocol_and_port_matching() {
    let deny = |proto: &str, port: i64| {
        one_group(vec![
            rule("default", "p", "x")
                .inbound()
                .proto(proto)
                .port(port)
                .deny(),
        ])
    };
    let (src, dst, src6, dst6) = ("10.1.1.2", "10.1.1.1", "fd00:1::2", "fd00:1::1");
    let gre = Packet::l4(at(src), at(dst), 47, 0);
    // (rule protocol, rule port, packet, denied?)
    let table: Vec<(&str, i64, Packet, bool)> = vec![
        ("", 0, tcp(src, dst, 1), true),
        ("", 0, gre, true),
        ("tcp", 0, tcp(src, dst, 1), true),
        ("tcp", 0, udp(src, dst, 1), false),
        ("udp", 53, udp(src, dst, 53), true),
        ("udp", 53, udp(src, dst, 54), false),
        ("udp", 53, tcp(src, dst, 53), false),
        // a port with an empty protocol: TCP and UDP to that port
        ("", 53, tcp(src, dst, 53), true),
        ("", 53, udp(src, dst, 53), true),
        ("", 53, tcp(src, dst, 54), false),
        ("", 53, ping(src, dst), false),
        ("", 53, gre, false),
        // icmp covers ICMPv6 on IPv6; 58 is ICMPv6 only
        ("icmp", 0, ping(src, dst), true),
        ("icmp", 0, ping(src6, dst6), true),
        ("1", 0, ping(src6, dst6), true),
        ("58", 0, ping(src6, dst6), true),
        ("58", 0, ping(src, dst), false),
        ("icmp", 0, tcp(src, dst, 1), false),
        // numeric protocols
        ("47", 0, gre, true),
        ("47", 0, tcp(src, dst, 1), false),
        ("6", 80, tcp(src, dst, 80), true),
        // the port is the destination port of the new connection
        ("tcp", 80, tcp(src, dst, 80), true),
        (
            "tcp",
            80,
            Packet {
                src_port: 80,
                dst_port: 1234,
                ..tcp(src, dst, 1234)
            },
            false,
        ),
    ];
    for (proto, port, pkt, denied) in table {
        let v = deny(proto, port).v(pkt);
        assert_eq!(
            !v.allowed(),
            denied,
            "rule proto {proto:?} port {port}, packet {pkt:?}: {v}"
        );
    }
}

#[test]
fn peers_group_network_and_cidr_in_both_families() {
    // (rule, source address, matches?)
    let cases: Vec<(common::RuleB, &str, bool)> = vec![
        (rule("default", "p", "x").src_group("h"), "10.1.1.2", true),
        (rule("default", "p", "x").src_group("h"), "fd00:1::2", true),
        (rule("default", "p", "x").src_group("h"), "10.1.1.3", false),
        (rule("default", "p", "x").src_group("g"), "10.1.1.2", false),
        (
            rule("default", "p", "x").src_net("private"),
            "10.1.200.9",
            true,
        ),
        (
            rule("default", "p", "x").src_net("private"),
            "fd00:1::77",
            true,
        ),
        (
            rule("default", "p", "x").src_net("private"),
            "20.1.0.1",
            false,
        ),
        (rule("default", "p", "x").src_net("dummy"), "20.1.0.1", true),
        (
            rule("default", "p", "x").src_ip("10.1.1.0/30"),
            "10.1.1.2",
            true,
        ),
        (
            rule("default", "p", "x").src_ip("10.1.1.0/31"),
            "10.1.1.2",
            false,
        ),
        (
            rule("default", "p", "x").src_ip("fd00:1::2"),
            "fd00:1::2",
            true,
        ),
        (
            rule("default", "p", "x").src_ip("fd00:1::2"),
            "fd00:1::3",
            false,
        ),
        (rule("default", "p", "x"), "30.3.3.3", true),
    ];
    for (r, src, matches) in cases {
        let desc = format!("{:?}", r.0);
        let lab = one_group(vec![r.inbound().deny()]);
        let dst = if src.contains(':') {
            "fd00:1::1"
        } else {
            "10.1.1.1"
        };
        let v = lab.v(tcp(src, dst, 80));
        assert_eq!(!v.allowed(), matches, "{desc} from {src}: {v}");
    }
}

#[test]
fn to_ip_address_of_an_in_rule_narrows_the_protected_endpoints() {
    let mut lab = one_group(vec![
        rule("default", "p", "x")
            .inbound()
            .dst_ip("10.1.1.1")
            .deny(),
    ]);
    lab.endpoint("e3", Some("g"), &["10.1.1.3"]);
    expect(&lab.v(tcp("10.1.1.2", "10.1.1.1", 80)), false, Some("x"));
    expect(&lab.v(tcp("10.1.1.2", "10.1.1.3", 80)), true, None);
}

#[test]
fn tenants_never_reach_each_other_even_with_allow_rules() {
    let lab = one_group(vec![rule("default", "p", "x").inbound().allow().prio(100)]);
    let other = PacketEnd::addr(2, ip("10.1.1.2"));
    for state in [
        contiv_policy::ConnState::New,
        contiv_policy::ConnState::Reply,
    ] {
        let v = lab.v(Packet::tcp(other, at("10.1.1.1"), 80).with_state(state));
        assert!(!v.allowed());
        assert_eq!(v.cause, Cause::TenantIsolation { src: 2, dst: 1 });
        assert_eq!(
            v.to_string(),
            "deny: source tenant id 2 and destination tenant id 1 differ; tenants never reach each other"
        );
    }
}

#[test]
fn replies_pass_whatever_the_rules_say() {
    let lab = one_group(vec![
        rule("default", "p", "x").inbound().deny().prio(100),
        rule("default", "p", "y").outbound().deny().prio(100),
    ]);
    let new = tcp("10.1.1.2", "10.1.1.1", 80);
    expect(&lab.v(new), false, Some("x"));
    let v = lab.v(new.reply());
    expect(&v, true, None);
    assert_eq!(v.cause, Cause::Reply);
    assert_eq!(v.to_string(), "allow: reply of an allowed connection");
}

#[test]
fn both_stages_must_allow_and_egress_is_reported_first() {
    let mut lab = one_group(vec![rule("default", "p", "out-deny").outbound().deny()]);
    lab.c
        .upsert_epg(&group("default", "h", "private", &["q"]), 2)
        .unwrap();
    lab.add(rule("default", "q", "in-deny").inbound().deny());
    let v = lab.v(tcp("10.1.1.1", "10.1.1.2", 80));
    expect(&v, false, Some("out-deny"));
    let Cause::Policy { egress, ingress } = &v.cause else {
        panic!("{v}")
    };
    assert_eq!(egress.action, Action::Deny);
    assert_eq!(ingress.action, Action::Deny);
    assert_eq!(ingress.rule.as_ref().unwrap().origin.rule, "in-deny");
    // Allow at egress by a rule, deny at ingress: ingress decides.
    lab.add(
        rule("default", "p", "out-allow")
            .outbound()
            .allow()
            .prio(50),
    );
    let v = lab.v(tcp("10.1.1.1", "10.1.1.2", 80));
    expect(&v, false, Some("in-deny"));
    assert_eq!(v.deciding_stage().unwrap().stage, Stage::Ingress);
    // Allowed by rules at both stages: the ingress rule is reported.
    lab.add(rule("default", "q", "in-allow").inbound().allow().prio(50));
    let v = lab.v(tcp("10.1.1.1", "10.1.1.2", 80));
    expect(&v, true, Some("in-allow"));
}

#[test]
fn endpoints_in_no_group_have_no_rules_and_groups_can_be_given_explicitly() {
    let lab = one_group(vec![rule("default", "p", "x").inbound().deny()]);
    // 10.1.1.9 is in no group.
    let v = lab.v(tcp("10.1.1.2", "10.1.1.9", 80));
    expect(&v, true, None);
    assert_eq!(
        v.to_string(),
        "allow: no rule matched (default allow); egress: no rule of group id 2 matched (default allow); \
         ingress: destination is in no group, no rules apply (allow)"
    );
    // The datapath classified the destination into group 1 itself.
    let p = Packet::tcp(at("10.1.1.2"), PacketEnd::in_epg(T, ip("10.1.1.9"), 1), 80);
    expect(&lab.v(p), false, Some("x"));
    // ...or into no group, overriding membership.
    let p = Packet::tcp(at("10.1.1.2"), PacketEnd::in_epg(T, ip("10.1.1.1"), 0), 80);
    expect(&lab.v(p), true, None);
}

#[test]
fn a_rule_naming_a_missing_group_matches_nothing_until_it_exists() {
    let mut lab = one_group(vec![
        rule("default", "p", "x")
            .inbound()
            .src_group("later")
            .deny(),
    ]);
    assert!(
        lab.c.ir().rules.is_empty(),
        "unresolved peer compiles to nothing"
    );
    lab.endpoint("e9", Some("later"), &["10.1.1.9"]);
    expect(&lab.v(tcp("10.1.1.9", "10.1.1.1", 80)), true, None);
    let d = lab
        .c
        .upsert_epg(&group("default", "later", "private", &[]), 9)
        .unwrap();
    // The rule appears, and the waiting endpoint's membership with it.
    assert_eq!(d.rules_added.len(), 1);
    assert_eq!(d.members_added.len(), 1);
    expect(&lab.v(tcp("10.1.1.9", "10.1.1.1", 80)), false, Some("x"));
}

#[test]
fn explanation_names_stage_rule_policy_and_group() {
    let lab = one_group(vec![
        rule("default", "p", "x").inbound().tcp().deny().prio(7),
    ]);
    let v = lab.v(tcp("10.1.1.2", "10.1.1.1", 80));
    let r = v.deciding_rule().unwrap();
    assert_eq!(r.origin.policy, "default:p");
    assert_eq!(r.origin.epg, "default:g");
    assert_eq!(r.priority, 7);
    assert_eq!(
        v.to_string(),
        format!(
            "deny: decided at ingress: rule x of policy default:p on group default:g (priority 7, id {}) denies; \
             egress: no rule of group id 2 matched (default allow)",
            r.id
        )
    );
    // The verdict serialises for a "why was this dropped" API.
    let json = serde_json::to_value(&v).unwrap();
    assert_eq!(json["action"], "deny");
    assert_eq!(
        json["cause"]["Policy"]["ingress"]["rule"]["origin"]["rule"],
        "x"
    );
}

#[test]
fn from_scratch_compile_gives_the_same_verdicts_as_the_incremental_lab() {
    // The lab drives the incremental compiler; rebuild the same intent and
    // compile it from scratch: identical IR.
    let lab = basic_lab();
    let mut intent = contiv_policy::Intent::default();
    intent.insert_tenant("default", T);
    intent.insert_network(network("default", "private", "10.1.0.0/16", "fd00:1::/64"));
    intent.insert_network(network("default", "dummy", "20.1.0.0/16", ""));
    intent.insert_rule(
        rule("default", "pol", "1")
            .inbound()
            .tcp()
            .deny()
            .prio(1)
            .build(),
    );
    intent.insert_rule(
        rule("default", "pol", "2")
            .inbound()
            .tcp()
            .port(8000)
            .allow()
            .prio(100)
            .build(),
    );
    intent.insert_epg(group("default", "epg1", "private", &["pol"]), 1);
    intent.insert_epg(group("default", "epg2", "private", &["pol"]), 2);
    intent.insert_endpoint(EndpointInput::new(
        "c1",
        "default",
        "private",
        Some("epg1"),
        [ip("10.1.1.1")],
    ));
    intent.insert_endpoint(EndpointInput::new(
        "c2",
        "default",
        "private",
        Some("epg2"),
        [ip("10.1.1.2")],
    ));
    assert_eq!(&compile(&intent).unwrap(), lab.c.ir());
}
