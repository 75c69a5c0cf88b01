//! The incremental compiler's update behaviour: delta contents and sizes
//! per kind of change, stable ids, idempotence, refused updates.
#![allow(clippy::unwrap_used)] // test code: a panic is a test failure

mod common;

use common::{group, ip, network, rule};
use contiv_core::ir::{AddrSetId, Membership, PeerMatch, PolicyDelta};
use contiv_policy::{Compiler, EndpointInput, PolicyError, rule_id};

fn ep(id: &str, g: Option<&str>, ips: &[&str]) -> EndpointInput {
    EndpointInput::new(id, "default", "net", g, ips.iter().map(|s| ip(s)))
}

/// Tenant `default` (1), network `net`, group `db` (id 1, no policy) and
/// `n` groups `w<k>` (ids 10+k) whose policy `pw<k>` holds `rules` rules,
/// all naming `db` as peer.
fn referenced_db(n: usize, rules: usize) -> Compiler {
    let mut c = Compiler::new();
    c.upsert_tenant("default", 1).unwrap();
    c.upsert_network(&network("default", "net", "10.1.0.0/16", ""))
        .unwrap();
    c.upsert_epg(&group("default", "db", "net", &[]), 1)
        .unwrap();
    for k in 0..n {
        let pol = format!("pw{k}");
        c.upsert_epg(
            &group("default", &format!("w{k}"), "net", &[&pol]),
            10 + k as u32,
        )
        .unwrap();
        for r in 0..rules {
            c.upsert_rule(
                &rule("default", &pol, &format!("r{r}"))
                    .outbound()
                    .dst_group("db")
                    .tcp()
                    .port(1000 + r as i64)
                    .build(),
            )
            .unwrap();
        }
    }
    assert_eq!(c.ir().rules.len(), n * rules);
    c
}

#[test]
fn endpoint_join_leave_and_move_are_one_membership_entry_each() {
    let mut c = referenced_db(20, 10); // db is named by 200 compiled rules
    let join = c
        .upsert_endpoint(&ep("e1", Some("db"), &["10.1.0.5"]))
        .unwrap();
    assert_eq!(
        join,
        PolicyDelta {
            members_added: vec![Membership {
                tenant: 1,
                ip: ip("10.1.0.5"),
                epg: 1
            }],
            ..PolicyDelta::default()
        }
    );
    let moved = c
        .upsert_endpoint(&ep("e1", Some("w3"), &["10.1.0.5"]))
        .unwrap();
    assert_eq!(moved.len(), 1);
    assert_eq!(moved.members_added[0].epg, 13);
    let second_ip = c
        .upsert_endpoint(&ep("e1", Some("w3"), &["10.1.0.5", "fd00::5"]))
        .unwrap();
    assert_eq!(second_ip.len(), 1);
    assert_eq!(second_ip.members_added[0].ip, ip("fd00::5"));
    let leave = c
        .upsert_endpoint(&ep("e1", None, &["10.1.0.5", "fd00::5"]))
        .unwrap();
    assert_eq!(leave.members_removed.len(), 2);
    assert_eq!(leave.len(), 2);
    let rejoin = c
        .upsert_endpoint(&ep("e1", Some("db"), &["10.1.0.5"]))
        .unwrap();
    assert_eq!(rejoin.len(), 1);
    let gone = c.remove_endpoint("e1").unwrap();
    assert_eq!(
        gone.members_removed,
        vec![Membership {
            tenant: 1,
            ip: ip("10.1.0.5"),
            epg: 1
        }]
    );
    assert!(c.ir().members.is_empty());
}

#[test]
fn network_subnet_change_is_one_address_set_update() {
    let mut c = Compiler::new();
    c.upsert_tenant("default", 1).unwrap();
    c.upsert_network(&network("default", "net", "10.1.0.0/16", ""))
        .unwrap();
    c.upsert_network(&network("default", "other", "10.2.0.0/16", ""))
        .unwrap();
    c.upsert_epg(&group("default", "g", "net", &["p"]), 1)
        .unwrap();
    for r in 0..20 {
        c.upsert_rule(
            &rule("default", "p", &format!("r{r}"))
                .src_net("net")
                .port(r + 1)
                .tcp()
                .build(),
        )
        .unwrap();
    }
    let set = AddrSetId("net:default:net".into());
    assert_eq!(
        c.ir().addr_sets[&set].prefixes,
        vec!["10.1.0.0/16".parse().unwrap()]
    );

    let d = c
        .upsert_network(&network("default", "net", "10.1.0.0/16", "fd00:1::/64"))
        .unwrap();
    assert_eq!(d.len(), 1, "{d:?}");
    assert_eq!(d.sets_upserted[0].id, set);
    assert_eq!(d.sets_upserted[0].prefixes.len(), 2);

    // A network no rule names: nothing to tell the datapath.
    assert!(
        c.upsert_network(&network("default", "other", "10.3.0.0/16", ""))
            .unwrap()
            .is_empty()
    );

    // Removing the network empties the set; the rules stay (they match nothing).
    let d = c.remove_network("default:net").unwrap();
    assert_eq!(d.len(), 1);
    assert!(d.sets_upserted[0].prefixes.is_empty());
    assert_eq!(c.ir().rules.len(), 20);
}

#[test]
fn address_sets_live_while_a_compiled_rule_references_them() {
    let mut c = Compiler::new();
    c.upsert_tenant("default", 1).unwrap();
    c.upsert_epg(&group("default", "g", "net", &["p"]), 1)
        .unwrap();
    let a = rule("default", "p", "a").src_ip("10.0.0.7/8").build();
    let b = rule("default", "p", "b")
        .src_ip("10.0.0.0/8")
        .dst_ip("10.5.5.5")
        .deny()
        .build();
    let d = c.upsert_rule(&a).unwrap();
    assert_eq!(d.rules_added.len(), 1);
    let cidr = AddrSetId("cidr:10.0.0.0/8".into());
    assert_eq!(
        d.sets_upserted.iter().map(|s| &s.id).collect::<Vec<_>>(),
        vec![&cidr]
    );
    assert_eq!(d.rules_added[0].peer, PeerMatch::AddrSet(cidr.clone()));
    // b shares the peer set and adds its local set.
    let d = c.upsert_rule(&b).unwrap();
    assert_eq!(d.sets_upserted.len(), 1);
    assert_eq!(d.sets_upserted[0].id, AddrSetId("cidr:10.5.5.5/32".into()));
    let d = c.remove_rule("default:p:a").unwrap();
    assert!(d.sets_removed.is_empty(), "still used by b: {d:?}");
    let d = c.remove_rule("default:p:b").unwrap();
    let mut removed = d.sets_removed.clone();
    removed.sort();
    assert_eq!(removed, vec![cidr, AddrSetId("cidr:10.5.5.5/32".into())]);
    assert!(c.ir().addr_sets.is_empty());
}

#[test]
fn attach_and_detach_touch_only_that_policy() {
    let mut c = Compiler::new();
    c.upsert_tenant("default", 1).unwrap();
    for r in 0..5 {
        c.upsert_rule(
            &rule("default", "p1", &format!("r{r}"))
                .port(r + 1)
                .tcp()
                .build(),
        )
        .unwrap();
    }
    for r in 0..3 {
        c.upsert_rule(
            &rule("default", "p2", &format!("r{r}"))
                .port(r + 1)
                .udp()
                .build(),
        )
        .unwrap();
    }
    assert!(
        c.ir().rules.is_empty(),
        "policies attached nowhere compile to nothing"
    );
    assert_eq!(
        c.upsert_epg(&group("default", "g", "net", &["p1"]), 4)
            .unwrap()
            .rules_added
            .len(),
        5
    );
    let d = c.attach_policy("default:g", "p2").unwrap();
    assert_eq!((d.rules_added.len(), d.len()), (3, 3));
    let d = c.detach_policy("default:g", "p1").unwrap();
    assert_eq!((d.rules_removed.len(), d.len()), (5, 5));
    // The same through upsert_epg: the policy list is diffed.
    let d = c
        .upsert_epg(&group("default", "g", "net", &["p1", "p2"]), 4)
        .unwrap();
    assert_eq!((d.rules_added.len(), d.len()), (5, 5));
    assert!(c.attach_policy("default:g", "p1").unwrap().is_empty());
    assert_eq!(
        c.attach_policy("default:nope", "p1"),
        Err(PolicyError::UnknownEpg {
            epg: "default:nope".into()
        })
    );
}

#[test]
fn a_changed_rule_is_replaced_under_the_same_id() {
    let mut c = Compiler::new();
    c.upsert_tenant("default", 1).unwrap();
    c.upsert_epg(&group("default", "g", "net", &["p"]), 4)
        .unwrap();
    let d1 = c
        .upsert_rule(&rule("default", "p", "1").tcp().deny().build())
        .unwrap();
    let d2 = c
        .upsert_rule(&rule("default", "p", "1").tcp().allow().prio(9).build())
        .unwrap();
    assert!(d2.rules_removed.is_empty());
    assert_eq!(d2.rules_added.len(), 1);
    assert_eq!(d1.rules_added[0].id, d2.rules_added[0].id);
    assert_eq!(d2.rules_added[0].id, rule_id("default:g", "default:p", "1"));
    assert_eq!(d2.rules_added[0].priority, 9);
    // Repeating an update is an empty delta.
    assert!(
        c.upsert_rule(&rule("default", "p", "1").tcp().allow().prio(9).build())
            .unwrap()
            .is_empty()
    );
    assert!(
        c.upsert_epg(&group("default", "g", "net", &["p"]), 4)
            .unwrap()
            .is_empty()
    );
    assert!(c.upsert_tenant("default", 1).unwrap().is_empty());
    assert!(c.remove_rule("default:p:nope").unwrap().is_empty());
}

#[test]
fn renumbering_a_group_updates_its_rules_peers_and_members_only() {
    let mut c = referenced_db(3, 4);
    c.upsert_endpoint(&ep("e1", Some("db"), &["10.1.0.5"]))
        .unwrap();
    c.upsert_endpoint(&ep("e2", Some("w0"), &["10.1.0.6"]))
        .unwrap();
    c.upsert_epg(&group("default", "db", "net", &["pdb"]), 1)
        .unwrap();
    c.upsert_rule(&rule("default", "pdb", "x").tcp().deny().build())
        .unwrap();
    let d = c
        .upsert_epg(&group("default", "db", "net", &["pdb"]), 2)
        .unwrap();
    // 12 rules name db as peer + db's own rule, all replaced; e1 moves.
    assert_eq!(d.rules_added.len(), 13);
    assert!(
        d.rules_added
            .iter()
            .all(|r| r.epg == 2 || r.peer == PeerMatch::Epg(2))
    );
    assert_eq!(
        d.members_added,
        vec![Membership {
            tenant: 1,
            ip: ip("10.1.0.5"),
            epg: 2
        }]
    );
    assert_eq!(d.len(), 14);
    // Removing the group withdraws all of that.
    let d = c.remove_epg("default:db").unwrap();
    assert_eq!(d.rules_removed.len(), 13);
    assert_eq!(d.members_removed.len(), 1);
    assert_eq!(c.ir().rules.len(), 0);
    assert_eq!(c.ir().members.len(), 1, "e2 in w0 is untouched");
}

#[test]
fn renumbering_a_tenant_moves_only_that_tenant() {
    let mut c = referenced_db(2, 2);
    c.upsert_endpoint(&ep("e1", Some("db"), &["10.1.0.5"]))
        .unwrap();
    c.upsert_tenant("blue", 7).unwrap();
    c.upsert_epg(&group("blue", "g", "n", &["p"]), 99).unwrap();
    c.upsert_rule(&rule("blue", "p", "1").build()).unwrap();
    let d = c.upsert_tenant("default", 3).unwrap();
    assert_eq!(d.rules_added.len(), 4);
    assert!(d.rules_added.iter().all(|r| r.tenant == 3));
    assert_eq!(
        d.members_added,
        vec![Membership {
            tenant: 3,
            ip: ip("10.1.0.5"),
            epg: 1
        }]
    );
    assert_eq!(
        d.members_removed,
        vec![Membership {
            tenant: 1,
            ip: ip("10.1.0.5"),
            epg: 1
        }]
    );
    assert_eq!(d.len(), 6);
    // Without an id nothing of the tenant compiles; with it back, all returns.
    let d = c.remove_tenant("default").unwrap();
    assert_eq!(d.rules_removed.len(), 4);
    assert_eq!(c.ir().rules.len(), 1, "blue's rule stays");
    assert_eq!(c.upsert_tenant("default", 1).unwrap().len(), 5);
}

#[test]
fn refused_updates_change_nothing_and_say_what_to_do() {
    let mut c = referenced_db(2, 2);
    c.upsert_endpoint(&ep("e1", Some("db"), &["10.1.0.5"]))
        .unwrap();
    c.upsert_tenant("blue", 2).unwrap();
    let before = c.ir().clone();

    let e = c
        .upsert_epg(&group("default", "x", "net", &[]), 1)
        .unwrap_err();
    assert_eq!(
        e.to_string(),
        "endpoint group id 1 is already used by default:db; remove or renumber default:db before giving the id to default:x"
    );
    let e = c.upsert_tenant("red", 2).unwrap_err();
    assert_eq!(
        e.to_string(),
        "tenant id 2 is already used by tenant blue; remove or renumber blue before giving the id to red"
    );
    let e = c
        .upsert_endpoint(&ep("e2", Some("w0"), &["10.1.0.9", "10.1.0.5"]))
        .unwrap_err();
    assert_eq!(
        e.to_string(),
        "address 10.1.0.5 in tenant default already belongs to endpoint e1; remove e1 before adding e2"
    );
    let bad_group = EndpointInput::new("e3", "default", "net", None, [ip("10.1.0.8")]);
    let bad_group = EndpointInput {
        epg: Some("blue:g".into()),
        ..bad_group
    };
    assert_eq!(
        c.upsert_endpoint(&bad_group).unwrap_err().to_string(),
        "endpoint e3: group \"blue:g\" is not a key of tenant default: expected \"default:<name>\""
    );
    let e = c
        .upsert_rule(&rule("default", "pw0", "bad").icmp().port(80).build())
        .unwrap_err();
    assert!(
        e.to_string()
            .starts_with("rule default:pw0:bad: a port only applies to tcp or udp"),
        "{e}"
    );
    let e = c
        .upsert_epg(&group("default", "big", "net", &[]), 70000)
        .unwrap_err();
    assert_eq!(
        e.to_string(),
        "endpoint group default:big: group id 70000 is out of range: ids are 1..65535"
    );
    let e = c
        .upsert_network(&network("default", "net", "10.1.0/16", ""))
        .unwrap_err();
    assert!(
        e.to_string()
            .starts_with("network default:net: invalid subnet \"10.1.0/16\""),
        "{e}"
    );

    assert_eq!(c.ir(), &before);
    // ...and the compiler still works normally afterwards.
    assert_eq!(
        c.upsert_endpoint(&ep("e2", Some("w0"), &["10.1.0.9"]))
            .unwrap()
            .len(),
        1
    );
}

#[test]
fn rule_ids_are_stable_across_compilers_and_load_orders() {
    let rules = [
        rule("default", "p", "1").tcp().deny().build(),
        rule("default", "p", "2")
            .tcp()
            .port(80)
            .allow()
            .prio(5)
            .build(),
    ];
    let mut a = Compiler::new();
    a.upsert_tenant("default", 1).unwrap();
    a.upsert_epg(&group("default", "g", "net", &["p"]), 5)
        .unwrap();
    for r in &rules {
        a.upsert_rule(r).unwrap();
    }
    let mut b = Compiler::new();
    for r in rules.iter().rev() {
        b.upsert_rule(r).unwrap();
    }
    b.upsert_epg(&group("default", "g", "net", &["p"]), 5)
        .unwrap();
    b.upsert_tenant("default", 1).unwrap();
    assert_eq!(a.ir(), b.ir());
    let ids: Vec<u64> = a.ir().rules.keys().map(|id| id.0).collect();
    let mut want = vec![
        rule_id("default:g", "default:p", "1").0,
        rule_id("default:g", "default:p", "2").0,
    ];
    want.sort();
    assert_eq!(ids, want);
}
