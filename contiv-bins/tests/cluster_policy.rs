//! The original's policy system tests (reference §8.1) on a two-host
//! namespace cluster (one netmaster, embedded store), each in a VXLAN and
//! a VLAN variant, with traffic always crossing hosts: PolicyBasic,
//! PolicyAddDeleteRule, PolicyFromEPG and PolicyFeatures — the last in
//! our stateful semantics (DESIGN §3.4): rules judge new connections,
//! replies of allowed connections pass, so "in deny icmp" on a group
//! blocks pings *to* it while its own pings out still get their replies
//! (the original, stateless, broke those too), and "in deny tcp" never
//! breaks the group's own outbound connections. `in` rules are enforced
//! where the destination lives, so they hold for traffic from the other
//! host. One cluster serves every case, in sequence.

mod cluster;

use cluster::checks::{Encap, Expect, SETTLE, tcp};
use cluster::sys::Proc;
use cluster::{Attach, Cluster, ClusterSpec, Container};

/// Ports every container listens on.
const PORTS: [u16; 2] = [8000, 8001];

/// `netctl policy rule-add <policy> <id> <flags…>` in the seeds' Go
/// style (`-direction=in`).
fn rule(c: &mut Cluster, policy: &str, id: &str, flags: &[&str]) {
    let mut args = vec!["policy", "rule-add", policy, id];
    args.extend_from_slice(flags);
    c.netctl(&args);
}

fn rule_rm(c: &mut Cluster, policy: &str, id: &str) {
    c.netctl(&["policy", "rule-rm", policy, id]);
}

/// A network for the case: `pol-<encap>` on `10.7x.0.0/24`.
fn network(c: &mut Cluster, e: Encap, n: u8) -> String {
    let name = format!("pol{n}-{}", e.as_str());
    let subnet = format!("10.{}.{n}.0/24", if e == Encap::Vxlan { 70 } else { 71 });
    c.netctl(&["net", "create", "-e", e.as_str(), "-s", &subnet, &name]);
    name
}

/// A container `name` on `host` in `group` of `net`, listening on
/// [`PORTS`].
fn member(c: &Cluster, host: &str, name: &str, net: &str, group: &str) -> (Container, Vec<Proc>) {
    let ct = c.run(host, name, &Attach::net(net).group(group));
    let l = ct.listen(&PORTS, c.dir());
    (ct, l)
}

/// Removes the containers, then the groups, policies and networks named.
fn cleanup(
    c: &mut Cluster,
    cs: Vec<(Container, Vec<Proc>)>,
    groups: &[&str],
    policies: &[&str],
    nets: &[&str],
) {
    for (ct, l) in cs {
        drop(l);
        ct.remove();
    }
    for g in groups {
        c.netctl(&["group", "rm", g]);
    }
    for p in policies {
        c.netctl(&["policy", "rm", p]);
    }
    for n in nets {
        c.netctl(&["net", "rm", n]);
    }
}

/// The common setup of PolicyBasic and PolicyAddDeleteRule: policy `pb`
/// with `1: in tcp deny` (priority 1) and `2: in tcp 8000 allow`
/// (priority 100); four containers, two per host, each in its own group
/// carrying the policy.
fn basic_setup(c: &mut Cluster, e: Encap) -> (String, Vec<(Container, Vec<Proc>)>) {
    let net = network(c, e, 0);
    c.netctl(&["policy", "create", "pb"]);
    rule(
        c,
        "pb",
        "1",
        &["-direction=in", "-protocol=tcp", "-action=deny"],
    );
    rule(
        c,
        "pb",
        "2",
        &[
            "-direction=in",
            "-protocol=tcp",
            "-port=8000",
            "-action=allow",
            "-priority=100",
        ],
    );
    let mut cs = Vec::new();
    for (i, h) in ["h1", "h1", "h2", "h2"].iter().enumerate() {
        let g = format!("pbg{i}");
        c.netctl(&["group", "create", "-p", "pb", &net, &g]);
        cs.push(member(c, h, &format!("pb{i}"), &net, &g));
    }
    (net, cs)
}

/// Each container to the next one on the other host: 8000 open, 8001
/// blocked (or open, with `open_8001`).
fn ring(cs: &[(Container, Vec<Proc>)], open_8001: bool) {
    let n = cs.len();
    let mut exp = Vec::new();
    for i in 0..n {
        let (a, b) = (&cs[i].0, &cs[(i + 2) % n].0);
        assert_ne!(a.host, b.host);
        exp.push((a, b, 8000, true));
        exp.push((a, b, 8001, open_8001));
    }
    tcp(&exp);
}

fn basic_cleanup(c: &mut Cluster, net: &str, cs: Vec<(Container, Vec<Proc>)>) {
    let groups: Vec<String> = (0..cs.len()).map(|i| format!("pbg{i}")).collect();
    let groups: Vec<&str> = groups.iter().map(String::as_str).collect();
    cleanup(c, cs, &groups, &["pb"], &[net]);
}

/// TestPolicyBasic: TCP 8000 reaches every container, 8001 is blocked —
/// from the other host, where the `in` rules are enforced at the
/// destination.
fn policy_basic(c: &mut Cluster, e: Encap) {
    let (net, cs) = basic_setup(c, e);
    ring(&cs, false);
    basic_cleanup(c, &net, cs);
}

/// TestPolicyAddDeleteRule: three times, add `3: in tcp 8001 allow`
/// (priority 100) → 8001 opens; delete it → blocked again.
fn policy_add_delete_rule(c: &mut Cluster, e: Encap) {
    let (net, cs) = basic_setup(c, e);
    ring(&cs, false);
    for round in 0..3 {
        c.step(&format!("round {round}: add rule 3"));
        rule(
            c,
            "pb",
            "3",
            &[
                "-direction=in",
                "-protocol=tcp",
                "-port=8001",
                "-action=allow",
                "-priority=100",
            ],
        );
        ring(&cs, true);
        c.step(&format!("round {round}: delete rule 3"));
        rule_rm(c, "pb", "3");
        ring(&cs, false);
    }
    basic_cleanup(c, &net, cs);
}

/// TestPolicyFromEPG: groups `g1`, `g2` each with a policy of deny tcp
/// (1), allow 8000 (10) and allow 8001 from group `common` (10); `common`
/// has no policy. 8000 is open to all; 8001 only from `common` members,
/// on either host.
fn policy_from_epg(c: &mut Cluster, e: Encap) {
    let net = network(c, e, 1);
    c.netctl(&["group", "create", &net, "common"]);
    for g in ["g1", "g2"] {
        let p = format!("p{g}");
        c.netctl(&["policy", "create", &p]);
        rule(
            c,
            &p,
            "1",
            &["-direction=in", "-protocol=tcp", "-action=deny"],
        );
        rule(
            c,
            &p,
            "2",
            &[
                "-direction=in",
                "-protocol=tcp",
                "-port=8000",
                "-action=allow",
                "-priority=10",
            ],
        );
        rule(
            c,
            &p,
            "3",
            &[
                "-direction=in",
                "-protocol=tcp",
                "-port=8001",
                "-from-group=common",
                "-action=allow",
                "-priority=10",
            ],
        );
        c.netctl(&["group", "create", "-p", &p, &net, g]);
    }
    let ca = member(c, "h1", "common-a", &net, "common");
    let cb = member(c, "h2", "common-b", &net, "common");
    let c1 = member(c, "h1", "epg1", &net, "g1");
    let c2 = member(c, "h2", "epg2", &net, "g2");
    tcp(&[
        (&cb.0, &c1.0, 8001, true),
        (&ca.0, &c2.0, 8001, true),
        (&c2.0, &c1.0, 8001, false),
        (&c1.0, &c2.0, 8001, false),
        (&c2.0, &c1.0, 8000, true),
        (&c1.0, &c2.0, 8000, true),
        (&c1.0, &cb.0, 8001, true),
    ]);
    // Rules naming `common` go before the group.
    rule_rm(c, "pg1", "3");
    rule_rm(c, "pg2", "3");
    cleanup(
        c,
        vec![ca, cb, c1, c2],
        &["g1", "g2", "common"],
        &["pg1", "pg2"],
        &[&net],
    );
}

/// TestPolicyFeatures, in our stateful semantics: `c1` (h1, group `f1`,
/// policy `pf1`), `c2` (h2, `f2`, `pf2`), `c3` (h1, `f3`, no policy); a
/// `dummy` network for the "does not match" rules. Each step adds rules,
/// checks, deletes them, and checks everything is open again.
/// Addresses in rules are bare (`10.70.2.1`): the original's validation
/// rejects `/32`.
fn policy_features(c: &mut Cluster, e: Encap) {
    let net = network(c, e, 2);
    let dummy = network(c, e, 3);
    let dummy_subnet = if e == Encap::Vxlan {
        "10.70.3.0/24"
    } else {
        "10.71.3.0/24"
    };
    for (g, p) in [("f1", Some("pf1")), ("f2", Some("pf2")), ("f3", None)] {
        match p {
            Some(p) => {
                c.netctl(&["policy", "create", p]);
                c.netctl(&["group", "create", "-p", p, &net, g]);
            }
            None => {
                c.netctl(&["group", "create", &net, g]);
            }
        }
    }
    let m1 = member(c, "h1", "feat1", &net, "f1");
    let m2 = member(c, "h2", "feat2", &net, "f2");
    let m3 = member(c, "h1", "feat3", &net, "f3");
    let (c1, c2, c3) = (&m1.0, &m2.0, &m3.0);
    let (ip1, ip2) = (c1.ip.to_string(), c2.ip.to_string());
    let open = |_: &str| {
        tcp(&[
            (c1, c2, 8001, true),
            (c3, c2, 8001, true),
            (c2, c1, 8001, true),
            (c1, c3, 8001, true),
        ]);
    };
    // Every step: (what, policy, rules, checks). Rules are netctl flags.
    type Rules<'a> = Vec<(&'a str, Vec<String>)>;
    type Step<'a> = (&'a str, &'a str, Rules<'a>, Vec<Expect<'a>>);
    let s = |v: &[&str]| v.iter().map(|x| (*x).to_owned()).collect::<Vec<String>>();
    let from_net = format!("-from-network={net}");
    let from_dummy = format!("-from-network={dummy}");
    let to_net = format!("-to-network={net}");
    let to_dummy = format!("-to-network={dummy}");
    let from_ip1 = format!("-from-ip-address={ip1}");
    let from_dummy_ip = format!("-from-ip-address={dummy_subnet}");
    let to_ip2 = format!("-to-ip-address={ip2}");
    let to_dummy_ip = format!("-to-ip-address={dummy_subnet}");
    let deny_in = s(&["-direction=in", "-protocol=tcp", "-action=deny"]);
    let deny_out = s(&["-direction=out", "-protocol=tcp", "-action=deny"]);
    let steps: Vec<Step<'_>> = vec![
        (
            "in deny tcp (c2's own outbound connections still work)",
            "pf2",
            vec![("1", deny_in.clone())],
            vec![
                (c1, c2, 8000, false),
                (c3, c2, 8001, false),
                (c2, c1, 8001, true),
                (c2, c3, 8000, true),
            ],
        ),
        (
            "in allow port 8000",
            "pf2",
            vec![
                ("1", deny_in.clone()),
                (
                    "2",
                    s(&[
                        "-direction=in",
                        "-protocol=tcp",
                        "-port=8000",
                        "-action=allow",
                        "-priority=10",
                    ]),
                ),
            ],
            vec![(c1, c2, 8000, true), (c1, c2, 8001, false)],
        ),
        (
            "in allow from-group f1",
            "pf2",
            vec![
                ("1", deny_in.clone()),
                (
                    "2",
                    s(&[
                        "-direction=in",
                        "-protocol=tcp",
                        "-from-group=f1",
                        "-action=allow",
                        "-priority=10",
                    ]),
                ),
            ],
            vec![(c1, c2, 8001, true), (c3, c2, 8001, false)],
        ),
        (
            "in allow from-network (prio 10) vs deny from the dummy network (prio 100)",
            "pf2",
            vec![
                ("1", deny_in.clone()),
                (
                    "3",
                    s(&[
                        "-direction=in",
                        "-protocol=tcp",
                        &from_dummy,
                        "-action=deny",
                        "-priority=100",
                    ]),
                ),
                (
                    "2",
                    s(&[
                        "-direction=in",
                        "-protocol=tcp",
                        &from_net,
                        "-action=allow",
                        "-priority=10",
                    ]),
                ),
            ],
            vec![(c1, c2, 8001, true), (c3, c2, 8000, true)],
        ),
        (
            "in allow from-ip c1 (prio 10) vs deny from the dummy subnet (prio 100)",
            "pf2",
            vec![
                ("1", deny_in.clone()),
                (
                    "3",
                    s(&[
                        "-direction=in",
                        "-protocol=tcp",
                        &from_dummy_ip,
                        "-action=deny",
                        "-priority=100",
                    ]),
                ),
                (
                    "2",
                    s(&[
                        "-direction=in",
                        "-protocol=tcp",
                        &from_ip1,
                        "-action=allow",
                        "-priority=10",
                    ]),
                ),
            ],
            vec![(c1, c2, 8001, true), (c3, c2, 8001, false)],
        ),
        (
            "out deny tcp (c1's incoming connections still work)",
            "pf1",
            vec![("1", deny_out.clone())],
            vec![
                (c1, c2, 8000, false),
                (c1, c3, 8001, false),
                (c2, c1, 8001, true),
            ],
        ),
        (
            "out allow port 8000",
            "pf1",
            vec![
                ("1", deny_out.clone()),
                (
                    "2",
                    s(&[
                        "-direction=out",
                        "-protocol=tcp",
                        "-port=8000",
                        "-action=allow",
                        "-priority=10",
                    ]),
                ),
            ],
            vec![(c1, c2, 8000, true), (c1, c2, 8001, false)],
        ),
        (
            "out allow to-group f2",
            "pf1",
            vec![
                ("1", deny_out.clone()),
                (
                    "2",
                    s(&[
                        "-direction=out",
                        "-protocol=tcp",
                        "-to-group=f2",
                        "-action=allow",
                        "-priority=10",
                    ]),
                ),
            ],
            vec![(c1, c2, 8001, true), (c1, c3, 8001, false)],
        ),
        (
            "out allow to-network (prio 10) vs deny to the dummy network (prio 100)",
            "pf1",
            vec![
                ("1", deny_out.clone()),
                (
                    "3",
                    s(&[
                        "-direction=out",
                        "-protocol=tcp",
                        &to_dummy,
                        "-action=deny",
                        "-priority=100",
                    ]),
                ),
                (
                    "2",
                    s(&[
                        "-direction=out",
                        "-protocol=tcp",
                        &to_net,
                        "-action=allow",
                        "-priority=10",
                    ]),
                ),
            ],
            vec![(c1, c2, 8001, true), (c1, c3, 8000, true)],
        ),
        (
            "out allow to-ip c2 (prio 10) vs deny to the dummy subnet (prio 100)",
            "pf1",
            vec![
                ("1", deny_out.clone()),
                (
                    "3",
                    s(&[
                        "-direction=out",
                        "-protocol=tcp",
                        &to_dummy_ip,
                        "-action=deny",
                        "-priority=100",
                    ]),
                ),
                (
                    "2",
                    s(&[
                        "-direction=out",
                        "-protocol=tcp",
                        &to_ip2,
                        "-action=allow",
                        "-priority=10",
                    ]),
                ),
            ],
            vec![(c1, c2, 8001, true), (c1, c3, 8001, false)],
        ),
    ];
    open("initially");
    // Each step: the baseline deny first, and wait until it is in force
    // (c1 -> c2:8001 blocked — by c2's `in` rules or c1's `out` rules);
    // then the other rules, "does not match" denies before the allows, so
    // once an allow works every rule before it is in force too (the
    // agents apply changes in stream order); then the step's checks.
    for (what, policy, rules, checks) in &steps {
        c.step(what);
        for (n, (id, flags)) in rules.iter().enumerate() {
            let f: Vec<&str> = flags.iter().map(String::as_str).collect();
            rule(c, policy, id, &f);
            if n == 0 {
                tcp(&[(c1, c2, 8001, false)]);
            }
        }
        tcp(checks);
        for (id, _) in rules {
            rule_rm(c, policy, id);
        }
        open(what);
    }
    // ICMP, stateful: "in deny icmp" on c1 blocks pings to c1; c1's own
    // pings get their replies (the original dropped them too); allowing
    // icmp from c2's address restores c2's pings; deleting restores all.
    c.step("in deny icmp");
    let (s1, s2, s3) = (c1.ip.to_string(), c2.ip.to_string(), c3.ip.to_string());
    rule(
        c,
        "pf1",
        "1",
        &["-direction=in", "-protocol=icmp", "-action=deny"],
    );
    let blocked = cluster::within(SETTLE, || !c2.ping(&s1) && !c3.ping(&s1));
    assert!(
        blocked.is_some(),
        "pings to c1 still answered under in deny icmp"
    );
    assert!(c1.ping(&s2), "c1's own ping to c2 must get its replies");
    assert!(c1.ping(&s3), "c1's own ping to c3 must get its replies");
    c.step("in allow icmp from c2's address");
    let from_ip2 = format!("-from-ip-address={ip2}");
    rule(
        c,
        "pf1",
        "2",
        &[
            "-direction=in",
            "-protocol=icmp",
            &from_ip2,
            "-action=allow",
            "-priority=10",
        ],
    );
    assert!(c2.ping_within(&s1, SETTLE), "c2 -> c1 allowed by rule 2");
    assert!(!c3.ping(&s1), "c3 -> c1 still denied");
    rule_rm(c, "pf1", "2");
    rule_rm(c, "pf1", "1");
    assert!(
        c3.ping_within(&s1, SETTLE),
        "c3 -> c1 after the rules are gone"
    );
    assert!(c2.ping(&s1), "c2 -> c1 after the rules are gone");
    open("after icmp");
    cleanup(
        c,
        vec![m1, m2, m3],
        &["f1", "f2", "f3"],
        &["pf1", "pf2"],
        &[&net, &dummy],
    );
}

fn basic_vxlan(c: &mut Cluster) {
    policy_basic(c, Encap::Vxlan);
}
fn basic_vlan(c: &mut Cluster) {
    policy_basic(c, Encap::Vlan);
}
fn add_delete_vxlan(c: &mut Cluster) {
    policy_add_delete_rule(c, Encap::Vxlan);
}
fn add_delete_vlan(c: &mut Cluster) {
    policy_add_delete_rule(c, Encap::Vlan);
}
fn from_epg_vxlan(c: &mut Cluster) {
    policy_from_epg(c, Encap::Vxlan);
}
fn from_epg_vlan(c: &mut Cluster) {
    policy_from_epg(c, Encap::Vlan);
}
fn features_vxlan(c: &mut Cluster) {
    policy_features(c, Encap::Vxlan);
}
fn features_vlan(c: &mut Cluster) {
    policy_features(c, Encap::Vlan);
}

fn policy_cases() -> Vec<cluster::Case> {
    vec![
        ("PolicyBasicVXLAN", basic_vxlan),
        ("PolicyBasicVLAN", basic_vlan),
        ("PolicyAddDeleteRuleVXLAN", add_delete_vxlan),
        ("PolicyAddDeleteRuleVLAN", add_delete_vlan),
        ("PolicyFromEPGVXLAN", from_epg_vxlan),
        ("PolicyFromEPGVLAN", from_epg_vlan),
        ("PolicyFeaturesVXLAN", features_vxlan),
        ("PolicyFeaturesVLAN", features_vlan),
    ]
}

#[test]
fn cluster_policy_system_tests_across_two_hosts() {
    let mut c = Cluster::start(ClusterSpec::new(2));
    cluster::run_cases(&mut c, &policy_cases());
    c.teardown();
}

#[test]
fn cluster_policy_system_tests_across_two_hosts_ebpf() {
    let mut c = Cluster::start(ClusterSpec::new(2).ebpf());
    cluster::run_cases(&mut c, &policy_cases());
    c.teardown();
}
