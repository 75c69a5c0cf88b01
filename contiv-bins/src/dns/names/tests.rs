use super::*;
use contiv_core::datapath::MacAddr;
use contiv_core::records::ServiceState;
use std::collections::HashSet;

fn ep(id: &str, tenant: &str, network: &str, group: &str, name: &str, v4: &str) -> EndpointRecord {
    let ipv4: Ipv4Addr = v4.parse().unwrap();
    EndpointRecord {
        id: id.to_owned(),
        tenant: tenant.to_owned(),
        network: network.to_owned(),
        group: group.to_owned(),
        epg_id: 0,
        ipv4: Some(ipv4),
        ipv4_prefix: 24,
        ipv6: None,
        ipv6_prefix: 0,
        mac: MacAddr::from_ipv4(ipv4),
        host: "host1".to_owned(),
        intf_name: String::new(),
        container_id: format!("cid-{id}"),
        container_name: name.to_owned(),
        labels: Default::default(),
        published: Vec::new(),
    }
}

fn v4(s: &str) -> IpAddr {
    IpAddr::V4(s.parse().unwrap())
}

fn found(l: Lookup) -> Vec<IpAddr> {
    match l {
        Lookup::Found(a) => a,
        other => panic!("expected an answer, got {other:?}"),
    }
}

fn svc(tenant: &str, name: &str, network: Option<&str>, vip: &str) -> ServiceEntry {
    ServiceEntry {
        tenant: tenant.to_owned(),
        name: name.to_owned(),
        network: network.map(str::to_owned),
        vip: vip.parse().unwrap(),
    }
}

fn group(tenant: &str, name: &str, network: &str) -> GroupEntry {
    GroupEntry {
        tenant: tenant.to_owned(),
        name: name.to_owned(),
        network: network.to_owned(),
    }
}

/// Two tenants with a container called `db` each, overlapping subnets.
fn two_tenants() -> NameTables {
    let eps = [
        ep("a1", "blue", "net", "web", "/db", "10.1.1.2"),
        ep("b1", "red", "net", "web", "db", "10.1.1.2"),
        ep("b2", "red", "net", "app", "cache", "10.1.1.3"),
    ];
    NameTables::from_records(&eps, [], [])
}

#[test]
fn container_name_resolves_with_leading_slash_stripped() {
    let t = two_tenants();
    assert_eq!(
        found(t.resolve("blue", "net", "db", QueryKind::A)),
        vec![v4("10.1.1.2")]
    );
}

#[test]
fn names_never_cross_tenants() {
    let t = two_tenants();
    // `cache` is red's; blue must not see it, whatever the form.
    assert_eq!(
        t.resolve("blue", "net", "cache", QueryKind::A),
        Lookup::Unknown
    );
    assert_eq!(
        t.resolve("blue", "net", "cache.net", QueryKind::A),
        Lookup::Unknown
    );
    assert_eq!(
        t.resolve("blue", "net", "app", QueryKind::A),
        Lookup::Unknown
    );
    assert_eq!(
        found(t.resolve("red", "net", "cache", QueryKind::A)),
        vec![v4("10.1.1.3")]
    );
    // A tenant the tables have never heard of knows nothing.
    assert_eq!(
        t.resolve("green", "net", "db", QueryKind::A),
        Lookup::Unknown
    );
}

#[test]
fn trailing_dot_and_case_are_ignored() {
    let t = two_tenants();
    for q in ["db", "db.", "DB", "Db.", "WEB.NET."] {
        assert!(
            matches!(t.resolve("blue", "net", q, QueryKind::A), Lookup::Found(_)),
            "{q} should resolve"
        );
    }
    // Only one trailing dot is a root marker; `db..` is not `db`.
    assert_eq!(
        t.resolve("blue", "net", "db..", QueryKind::A),
        Lookup::Unknown
    );
    assert_eq!(t.resolve("blue", "net", ".", QueryKind::A), Lookup::Unknown);
    assert_eq!(t.resolve("blue", "net", "", QueryKind::A), Lookup::Unknown);
}

#[test]
fn object_names_with_capitals_match_lowercase_queries() {
    let eps = [ep("e1", "t", "Net1", "WebTier", "Front", "10.0.0.5")];
    let t = NameTables::from_records(&eps, [], []);
    assert_eq!(
        found(t.resolve("t", "net1", "webtier", QueryKind::A)),
        vec![v4("10.0.0.5")]
    );
    assert_eq!(
        found(t.resolve("t", "net1", "front", QueryKind::A)),
        vec![v4("10.0.0.5")]
    );
    assert_eq!(
        found(t.resolve("t", "x", "webtier.net1", QueryKind::A)),
        vec![v4("10.0.0.5")]
    );
}

#[test]
fn service_then_group_then_container() {
    let eps = [
        ep("e1", "t", "net", "web", "web", "10.0.0.2"),
        ep("e2", "t", "net", "other", "web2", "10.0.0.3"),
    ];
    // `web` is a container name and a group: the group wins.
    let mut t = NameTables::from_records(&eps, [], []);
    assert_eq!(
        found(t.resolve("t", "net", "web", QueryKind::A)),
        vec![v4("10.0.0.2")]
    );
    // A container named like a group of other endpoints: the group wins.
    t.put_endpoint(&ep("e3", "t", "net", "", "other", "10.0.0.9"));
    assert_eq!(
        found(t.resolve("t", "net", "other", QueryKind::A)),
        vec![v4("10.0.0.3")]
    );
    // A service of that name wins over both.
    t.put_service(&svc("t", "web", Some("net"), "10.0.0.200"));
    assert_eq!(
        found(t.resolve("t", "net", "web", QueryKind::A)),
        vec![v4("10.0.0.200")]
    );
    // The service has no IPv6 address: the name exists, no AAAA record.
    assert_eq!(
        t.resolve("t", "net", "web", QueryKind::Aaaa),
        Lookup::NoData
    );
    t.delete_service("t", "web");
    assert_eq!(
        found(t.resolve("t", "net", "web", QueryKind::A)),
        vec![v4("10.0.0.2")]
    );
}

#[test]
fn group_answers_rotate_across_queries_and_cover_all_members() {
    let eps: Vec<_> = (1..=4)
        .map(|i| {
            ep(
                &format!("e{i}"),
                "t",
                "net",
                "web",
                &format!("c{i}"),
                &format!("10.0.0.{i}"),
            )
        })
        .collect();
    let t = NameTables::from_records(&eps, [], []);
    let mut firsts = Vec::new();
    for _ in 0..4 {
        let a = found(t.resolve("t", "net", "web", QueryKind::A));
        assert_eq!(a.len(), 4, "every member in each answer");
        let set: HashSet<_> = a.iter().collect();
        assert_eq!(set.len(), 4);
        firsts.push(a[0]);
    }
    // Four queries start at four different members.
    let distinct: HashSet<_> = firsts.iter().collect();
    assert_eq!(distinct.len(), 4, "rotation: {firsts:?}");
    // And the order is a rotation of one stable order.
    let a = found(t.resolve("t", "net", "web", QueryKind::A));
    let b = found(t.resolve("t", "net", "web", QueryKind::A));
    assert_eq!(b[0], a[1]);
    assert_eq!(b[3], a[0]);
}

#[test]
fn group_answers_are_capped_at_ten_and_rotate_over_all() {
    let eps: Vec<_> = (1..=25)
        .map(|i| {
            ep(
                &format!("e{i:02}"),
                "t",
                "net",
                "big",
                "",
                &format!("10.0.1.{i}"),
            )
        })
        .collect();
    let t = NameTables::from_records(&eps, [], []);
    let mut seen = HashSet::new();
    for _ in 0..25 {
        let a = found(t.resolve("t", "net", "big", QueryKind::A));
        assert_eq!(a.len(), MAX_ANSWERS);
        seen.extend(a);
    }
    assert_eq!(seen.len(), 25, "rotation reaches every member");
    // ANY counts records, not endpoints.
    let mut t = t;
    let mut dual = ep("e99", "t", "net", "big", "", "10.0.1.99");
    dual.ipv6 = Some("fd00::99".parse().unwrap());
    t.put_endpoint(&dual);
    assert!(found(t.resolve("t", "net", "big", QueryKind::Any)).len() <= MAX_ANSWERS);
}

#[test]
fn aaaa_and_any() {
    let mut e = ep("e1", "t", "net", "web", "c1", "10.0.0.2");
    e.ipv6 = Some("fd00::2".parse().unwrap());
    let only4 = ep("e2", "t", "net", "v4only", "c2", "10.0.0.3");
    let t = NameTables::from_records([&e, &only4], [], []);
    let v6: IpAddr = "fd00::2".parse().unwrap();
    assert_eq!(
        found(t.resolve("t", "net", "web", QueryKind::Aaaa)),
        vec![v6]
    );
    let any = found(t.resolve("t", "net", "c1", QueryKind::Any));
    assert_eq!(any, vec![v4("10.0.0.2"), v6]);
    assert_eq!(
        t.resolve("t", "net", "v4only", QueryKind::Aaaa),
        Lookup::NoData
    );
    assert_eq!(
        t.resolve("t", "net", "c2", QueryKind::Other),
        Lookup::NoData
    );
}

#[test]
fn group_resolves_as_group_dot_network_from_other_networks() {
    let eps = [
        ep("e1", "t", "contiv-net", "web", "w1", "10.0.0.2"),
        ep("e2", "t", "backend", "db", "d1", "10.9.0.2"),
    ];
    let t = NameTables::from_records(&eps, [group("t", "web", "contiv-net")], []);
    assert_eq!(
        found(t.resolve("t", "backend", "web.contiv-net", QueryKind::A)),
        vec![v4("10.0.0.2")]
    );
    // The group is not on `backend`: `web.backend` is unknown here.
    assert_eq!(
        t.resolve("t", "backend", "web.backend", QueryKind::A),
        Lookup::Unknown
    );
    // Containers too: `<container>.<network>`.
    assert_eq!(
        found(t.resolve("t", "contiv-net", "d1.backend", QueryKind::A)),
        vec![v4("10.9.0.2")]
    );
    assert_eq!(
        t.resolve("t", "contiv-net", "d1.contiv-net", QueryKind::A),
        Lookup::Unknown
    );
    // Not across tenants.
    assert_eq!(
        t.resolve("u", "backend", "web.contiv-net", QueryKind::A),
        Lookup::Unknown
    );
}

#[test]
fn services_resolve_qualified_by_their_network() {
    let t = NameTables::from_records(
        [],
        [],
        [
            svc("t", "lb", Some("net1"), "10.0.0.100"),
            svc("t", "nonet", None, "10.0.0.101"),
        ],
    );
    assert_eq!(
        found(t.resolve("t", "net2", "lb", QueryKind::A)),
        vec![v4("10.0.0.100")]
    );
    assert_eq!(
        found(t.resolve("t", "net2", "lb.net1", QueryKind::A)),
        vec![v4("10.0.0.100")]
    );
    assert_eq!(
        t.resolve("t", "net2", "lb.net2", QueryKind::A),
        Lookup::Unknown
    );
    assert_eq!(
        found(t.resolve("t", "net1", "nonet", QueryKind::A)),
        vec![v4("10.0.0.101")]
    );
    assert_eq!(
        t.resolve("t", "net1", "nonet.net1", QueryKind::A),
        Lookup::Unknown
    );
}

#[test]
fn dotted_names_prefer_the_whole_name_then_the_last_dot() {
    let eps = [
        ep("e1", "t", "n", "", "a.b", "10.0.0.1"),
        ep("e2", "t", "b", "", "a", "10.0.0.2"),
        ep("e3", "t", "b.c", "", "a", "10.0.0.3"),
        ep("e4", "t", "c", "", "a.b", "10.0.0.4"),
    ];
    let t = NameTables::from_records(&eps, [], []);
    // Whole name first: the container called `a.b` (on the querier's net).
    assert_eq!(
        found(t.resolve("t", "n", "a.b", QueryKind::A)),
        vec![v4("10.0.0.1")]
    );
    // `a.b.c`: split at the last dot first → `a.b` on network `c`.
    assert_eq!(
        found(t.resolve("t", "n", "a.b.c", QueryKind::A)),
        vec![v4("10.0.0.4")]
    );
    let mut t = t;
    t.delete_endpoint("e4");
    // …then at the earlier dot → `a` on network `b.c`.
    assert_eq!(
        found(t.resolve("t", "n", "a.b.c", QueryKind::A)),
        vec![v4("10.0.0.3")]
    );
}

#[test]
fn container_names_prefer_the_queriers_network() {
    // One container attached to two networks of the tenant.
    let eps = [
        ep("x1", "t", "front", "", "multi", "10.1.0.5"),
        ep("x2", "t", "back", "", "multi", "10.2.0.5"),
    ];
    let t = NameTables::from_records(&eps, [], []);
    for _ in 0..3 {
        assert_eq!(
            found(t.resolve("t", "front", "multi", QueryKind::A)),
            vec![v4("10.1.0.5")]
        );
        assert_eq!(
            found(t.resolve("t", "back", "multi", QueryKind::A)),
            vec![v4("10.2.0.5")]
        );
    }
    // From a third network both are candidates.
    let a = found(t.resolve("t", "other", "multi", QueryKind::A));
    assert_eq!(a.len(), 2);
}

#[test]
fn empty_declared_group_is_known_but_has_no_records() {
    let mut t = NameTables::from_records([], [group("t", "db", "net")], []);
    assert_eq!(t.resolve("t", "net", "db", QueryKind::A), Lookup::NoData);
    assert_eq!(
        t.resolve("t", "other", "db.net", QueryKind::A),
        Lookup::NoData
    );
    assert_eq!(
        t.resolve("t", "other", "db.other", QueryKind::A),
        Lookup::Unknown
    );
    t.delete_group("t", "db");
    assert_eq!(t.resolve("t", "net", "db", QueryKind::A), Lookup::Unknown);
}

#[test]
fn incremental_updates_replace_and_remove() {
    let mut t = NameTables::new();
    t.put_endpoint(&ep("e1", "t", "net", "web", "c1", "10.0.0.2"));
    assert_eq!(
        found(t.resolve("t", "net", "c1", QueryKind::A)),
        vec![v4("10.0.0.2")]
    );
    // Same id, new name, group and address: the old ones are gone.
    t.put_endpoint(&ep("e1", "t", "net", "api", "c1b", "10.0.0.7"));
    assert_eq!(t.resolve("t", "net", "c1", QueryKind::A), Lookup::Unknown);
    assert_eq!(t.resolve("t", "net", "web", QueryKind::A), Lookup::Unknown);
    assert_eq!(
        found(t.resolve("t", "net", "api", QueryKind::A)),
        vec![v4("10.0.0.7")]
    );
    assert_eq!(t.endpoint_count(), 1);
    t.delete_endpoint("e1");
    assert_eq!(t.resolve("t", "net", "c1b", QueryKind::A), Lookup::Unknown);
    assert_eq!(t.endpoint_count(), 0);
    // Deleting again, or something unknown, is harmless.
    t.delete_endpoint("e1");
    t.delete_service("nope", "nope");
    t.delete_group("nope", "nope");
    assert!(t.tenants.is_empty(), "empty tenants are dropped");
}

#[test]
fn services_join_their_vips_and_groups_exist_without_endpoints() {
    let e = ep("e1", "t", "net", "web", "c1", "10.0.0.2");
    let lb = ServiceLB {
        service_name: "lb".into(),
        tenant_name: "t".into(),
        network_name: "net".into(),
        ..Default::default()
    };
    let state = ServiceState {
        key: "t:lb".into(),
        vip: "10.0.0.250".parse().unwrap(),
    };
    let empty = EndpointGroup {
        group_name: "empty".into(),
        tenant_name: "t".into(),
        network_name: "net".into(),
        ..Default::default()
    };
    let services = ServiceEntry::from_state(&state, Some(&lb));
    let t = NameTables::from_records([&e], [GroupEntry::from(&empty)], services);
    assert_eq!(
        found(t.resolve("t", "net", "lb.net", QueryKind::A)),
        vec![v4("10.0.0.250")]
    );
    assert_eq!(
        found(t.resolve("t", "net", "web", QueryKind::A)),
        vec![v4("10.0.0.2")]
    );
    assert_eq!(t.resolve("t", "net", "empty", QueryKind::A), Lookup::NoData);
    // Without the serviceLB object the network is unknown: the bare name
    // resolves, the network-qualified one does not.
    let bare = NameTables::from_records([], [], ServiceEntry::from_state(&state, None));
    assert_eq!(
        found(bare.resolve("t", "net", "lb", QueryKind::A)),
        vec![v4("10.0.0.250")]
    );
    assert_eq!(
        bare.resolve("t", "net", "lb.net", QueryKind::A),
        Lookup::Unknown
    );
}

#[test]
fn service_state_with_a_bad_key_is_skipped() {
    let st = ServiceState {
        key: "nocolon".into(),
        vip: "10.0.0.1".parse().unwrap(),
    };
    assert_eq!(ServiceEntry::from_state(&st, None), None);
    let st = ServiceState {
        key: "t:".into(),
        vip: "10.0.0.1".parse().unwrap(),
    };
    assert_eq!(ServiceEntry::from_state(&st, None), None);
}

#[test]
fn shared_names_see_updates() {
    let shared = SharedNames::default();
    assert_eq!(
        shared.resolve("t", "net", "c1", QueryKind::A),
        Lookup::Unknown
    );
    shared
        .write()
        .put_endpoint(&ep("e1", "t", "net", "", "c1", "10.0.0.2"));
    assert_eq!(
        found(shared.resolve("t", "net", "c1", QueryKind::A)),
        vec![v4("10.0.0.2")]
    );
    shared.replace(NameTables::new());
    assert_eq!(
        shared.resolve("t", "net", "c1", QueryKind::A),
        Lookup::Unknown
    );
}
