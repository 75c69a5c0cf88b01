//! Field-level validation of every model object against the cases of the
//! original's unit tests (`netmaster/objApi/objapi_test.go`, CONTIV.md
//! §8.2), plus the deliberate changes documented in `contiv_core::model`.
//!
//! Each invalid case also names the field the error must point at, so a
//! case cannot pass by failing for an unrelated reason (e.g. a bad key).

use contiv_core::datapath::{ArpMode, Encap, FwdMode};
use contiv_core::ir::{Action, Direction};
use contiv_core::model::validate::{
    is_valid_name, is_valid_object_name, is_valid_tag, parse_ipv4_subnet,
};
use contiv_core::model::*;
use ipnet::{IpNet, Ipv4Net, Ipv6Net};
use std::net::{Ipv4Addr, Ipv6Addr};

/// Applies defaults, sets the derived key, and validates.
fn check<T: ModelObject>(mut o: T) -> Result<T, ValidationError> {
    o.apply_defaults();
    o.set_key(o.derived_key());
    o.validate().map(|()| o)
}

fn expect_ok<T: ModelObject + std::fmt::Debug>(case: &str, o: T) -> T {
    match check(o) {
        Ok(o) => o,
        Err(e) => panic!("{case}: expected valid, got {e:?}"),
    }
}

fn expect_err<T: ModelObject + std::fmt::Debug>(case: &str, field: &str, o: T) -> ValidationError {
    match check(o) {
        Ok(o) => panic!("{case}: expected an error on {field}, but {o:?} validated"),
        Err(e) => {
            assert_eq!(e.field, field, "{case}: wrong field in {e:?}");
            assert!(!e.message.is_empty());
            e
        }
    }
}

// ---------------------------------------------------------------- network

#[allow(clippy::too_many_arguments)]
fn net(
    tenant: &str,
    name: &str,
    nw_type: &str,
    encap: &str,
    subnet: &str,
    gw: &str,
    tag: i64,
    v6: &str,
    v6gw: &str,
    cfgd_tag: &str,
) -> Network {
    Network {
        tenant_name: tenant.into(),
        network_name: name.into(),
        nw_type: nw_type.into(),
        encap: encap.into(),
        subnet: subnet.into(),
        gateway: gw.into(),
        pkt_tag: tag,
        ipv6_subnet: v6.into(),
        ipv6_gateway: v6gw.into(),
        cfgd_tag: cfgd_tag.into(),
        ..Default::default()
    }
}

fn simple_net(encap: &str, subnet: &str, gw: &str) -> Network {
    net(
        "default", "contiv", "data", encap, subnet, gw, 1, "", "", "",
    )
}

#[test]
fn network_valid_cases_of_test_network_add_delete() {
    let cases = [
        net(
            "default",
            "contiv",
            "",
            "vlan",
            "10.1.1.0/24",
            "10.1.1.254",
            1,
            "",
            "",
            "",
        ),
        net(
            "default",
            "contiv",
            "",
            "vxlan",
            "10.1.0.0/16",
            "10.1.1.254",
            1,
            "",
            "",
            "",
        ),
        net(
            "default",
            "contiv-valid",
            "",
            "vxlan",
            "10.1.0.0/16",
            "10.1.1.254",
            1,
            "",
            "",
            "",
        ),
        net(
            "default",
            "contiv-gw",
            "",
            "vxlan",
            "10.1.0.0/16",
            "",
            1,
            "",
            "",
            "",
        ),
        net(
            "default",
            "contiv-ipv6",
            "",
            "vxlan",
            "10.1.0.0/16",
            "",
            1,
            "2016:0617::/120",
            "",
            "",
        ),
        net(
            "default",
            "infraNw",
            "infra",
            "vlan",
            "10.1.1.0/24",
            "10.1.1.254",
            1,
            "",
            "",
            "",
        ),
        simple_net("vxlan", "10.1.1.10-10.1.1.20/24", "10.1.1.254"),
        simple_net("vxlan", "10.1.1.10-10.1.5.254/16", "10.1.254.254"),
        net(
            "default",
            "contiv",
            "data",
            "vxlan",
            "10.1.1.0/24",
            "10.1.1.254",
            1,
            "",
            "",
            "contiv-net",
        ),
        net(
            "default",
            "contiv",
            "data",
            "vxlan",
            "10.1.1.0/24",
            "10.1.1.254",
            1,
            "",
            "",
            "io.contiv.network.test",
        ),
        // networks of TestOverlappingSubnets, each valid on its own
        simple_net("vlan", "20.1.1.0-20.1.1.9/24", ""),
        simple_net("vlan", "20.1.1.46-20.1.1.100/24", ""),
        net(
            "default",
            "contiv",
            "",
            "vlan",
            "20.1.1.0/24",
            "",
            1,
            "2001:db8:1::/64",
            "",
            "",
        ),
        net(
            "default",
            "contiv",
            "",
            "vlan",
            "20.1.1.0/24",
            "",
            1,
            "1::/64",
            "",
            "",
        ),
        net(
            "default",
            "contiv",
            "",
            "vxlan",
            "10.1.0.0/16",
            "",
            1,
            "2001:2000::/32",
            "",
            "",
        ),
        net(
            "default",
            "contiv",
            "",
            "vlan",
            "10.1.1.0/24",
            "",
            1,
            "fd00:ffff:ffff::/48",
            "",
            "",
        ),
        // auto-allocated tag, and the largest VLAN id
        simple_net("vxlan", "10.1.1.0/24", "10.1.1.254").with_tag(0),
        simple_net("vlan", "10.1.1.0/24", "10.1.1.254").with_tag(4094),
        // a vxlan tag outside the global range is netmaster's to reject
        simple_net("vxlan", "10.1.1.0/24", "10.1.1.254").with_tag(20000),
        simple_net("vxlan", "10.0.0.0/8", "").with_tag(16_777_216),
    ];
    for (i, n) in cases.into_iter().enumerate() {
        expect_ok(&format!("valid network #{i}"), n);
    }
}

trait WithTag {
    fn with_tag(self, tag: i64) -> Self;
}
impl WithTag for Network {
    fn with_tag(mut self, tag: i64) -> Self {
        self.pkt_tag = tag;
        self
    }
}

#[test]
fn network_invalid_cases_of_test_network_add_delete() {
    let bad_name = |name: &str| {
        net(
            "default",
            name,
            "infra",
            "vlan",
            "10.1.1.0/24",
            "10.1.1.254",
            1,
            "",
            "",
            "",
        )
    };
    let bad_type = |t: &str| {
        net(
            "default",
            "infraNw",
            t,
            "vlan",
            "10.1.1.0/24",
            "10.1.1.254",
            1,
            "",
            "",
            "",
        )
    };
    let bad_tag = |t: &str| {
        net(
            "default",
            "contiv",
            "data",
            "vxlan",
            "10.1.1.0/24",
            "10.1.1.254",
            1,
            "",
            "",
            t,
        )
    };
    let cases: Vec<(&str, &str, Network)> = vec![
        (
            "name contiv:invalid",
            "networkName",
            bad_name("contiv:invalid"),
        ),
        (
            "name contiv|invalid",
            "networkName",
            bad_name("contiv|invalid"),
        ),
        ("name -invalid", "networkName", bad_name("-invalid")),
        ("nwType infratest", "nwType", bad_type("infratest")),
        ("nwType testinfra", "nwType", bad_type("testinfra")),
        ("nwType testdata", "nwType", bad_type("testdata")),
        ("nwType datatest", "nwType", bad_type("datatest")),
        (
            "range end not an address",
            "subnet",
            simple_net("vxlan", "10.1.1.10-20/24", "10.1.1.254"),
        ),
        (
            "range end 3 octets",
            "subnet",
            simple_net("vxlan", "10.1.1.10-10.1.20/24", "10.1.1.254"),
        ),
        (
            "range reversed",
            "subnet",
            simple_net("vxlan", "10.1.1.10-10.1.1.1/24", "10.1.1.254"),
        ),
        (
            "range end outside /24",
            "subnet",
            simple_net("vxlan", "10.1.1.10-10.1.2.30/24", "10.1.1.254"),
        ),
        (
            "range end outside /16",
            "subnet",
            simple_net("vxlan", "10.1.1.10-10.2.1.30/16", "10.1.1.254"),
        ),
        (
            "range end 5 octets",
            "subnet",
            simple_net("vxlan", "10.1.1.10-10.1.1.1.30/24", "10.1.1.254"),
        ),
        (
            "subnet 3 octets",
            "subnet",
            simple_net("vxlan", "10.1.1/24", "10.1.1.254"),
        ),
        (
            "octet 256",
            "subnet",
            simple_net("vxlan", "10.1.1.256/24", "10.1.1.254"),
        ),
        ("tag with =", "cfgdTag", bad_tag("tag=contiv-net")),
        ("tag with /", "cfgdTag", bad_tag("io.contiv.network/test")),
        (
            "short range form",
            "subnet",
            simple_net("vxlan", "10.1.1.1-70/26", "10.1.1.63"),
        ),
        (
            "/32",
            "subnet",
            simple_net("vxlan", "10.1.1.1/32", "10.1.1.1"),
        ),
        (
            "v6 /128",
            "ipv6Subnet",
            net(
                "default",
                "contiv",
                "data",
                "vxlan",
                "10.1.1.0/24",
                "10.1.1.1",
                1,
                "2016:0617::/128",
                "",
                "",
            ),
        ),
        (
            "encap vvvv",
            "encap",
            simple_net("vvvv", "10.1.1.0/24", "10.1.1.254"),
        ),
        (
            "vlan tag 5000",
            "pktTag",
            simple_net("vlan", "10.1.1.0/24", "10.1.1.254").with_tag(5000),
        ),
        (
            "gateway outside",
            "gateway",
            simple_net("vxlan", "10.1.1.0/24", "10.1.2.254"),
        ),
        (
            "gateway outside, short range",
            "subnet",
            simple_net("vxlan", "10.1.1.65-70/26", "10.1.1.1"),
        ),
    ];
    for (case, field, n) in cases {
        expect_err(case, field, n);
    }
}

#[test]
fn network_limits_beyond_the_original_tests() {
    let cases: Vec<(&str, &str, Network)> = vec![
        ("missing subnet", "subnet", simple_net("vxlan", "", "")),
        ("missing encap", "encap", simple_net("", "10.1.1.0/24", "")),
        ("/7", "subnet", simple_net("vxlan", "10.0.0.0/7", "")),
        (
            "leading zero octet",
            "subnet",
            simple_net("vxlan", "10.01.1.0/24", ""),
        ),
        (
            "vlan 4095",
            "pktTag",
            simple_net("vlan", "10.1.1.0/24", "").with_tag(4095),
        ),
        (
            "negative tag",
            "pktTag",
            simple_net("vxlan", "10.1.1.0/24", "").with_tag(-1),
        ),
        (
            "tag above 2^24",
            "pktTag",
            simple_net("vxlan", "10.1.1.0/24", "").with_tag(16_777_217),
        ),
        (
            "gateway = network address",
            "gateway",
            simple_net("vxlan", "10.1.1.0/24", "10.1.1.0"),
        ),
        (
            "gateway = broadcast",
            "gateway",
            simple_net("vxlan", "10.1.1.0/24", "10.1.1.255"),
        ),
        (
            "gateway syntax",
            "gateway",
            simple_net("vxlan", "10.1.1.0/24", "10.1.1"),
        ),
        (
            "v6 gateway outside",
            "ipv6Gateway",
            net(
                "default",
                "n",
                "",
                "vxlan",
                "10.1.1.0/24",
                "",
                1,
                "2001:db8::/64",
                "2001:db9::1",
                "",
            ),
        ),
        (
            "v6 gateway without subnet",
            "ipv6Gateway",
            net(
                "default",
                "n",
                "",
                "vxlan",
                "10.1.1.0/24",
                "",
                1,
                "",
                "2001:db8::1",
                "",
            ),
        ),
        (
            "v6 /15",
            "ipv6Subnet",
            net(
                "default",
                "n",
                "",
                "vxlan",
                "10.1.1.0/24",
                "",
                1,
                "2001::/15",
                "",
                "",
            ),
        ),
        (
            "v6 embedded v4",
            "ipv6Subnet",
            net(
                "default",
                "n",
                "",
                "vxlan",
                "10.1.1.0/24",
                "",
                1,
                "::ffff:1.2.3.4/120",
                "",
                "",
            ),
        ),
        (
            "dotted network name",
            "networkName",
            net(
                "default",
                "web.prod",
                "",
                "vxlan",
                "10.1.1.0/24",
                "",
                1,
                "",
                "",
                "",
            ),
        ),
        (
            "dotted tenant name",
            "tenantName",
            net(
                "blue.red",
                "n",
                "",
                "vxlan",
                "10.1.1.0/24",
                "",
                1,
                "",
                "",
                "",
            ),
        ),
        (
            "missing tenant",
            "tenantName",
            net("", "n", "", "vxlan", "10.1.1.0/24", "", 1, "", "", ""),
        ),
        (
            "name of 65 bytes",
            "networkName",
            net(
                "default",
                &"n".repeat(65),
                "",
                "vxlan",
                "10.1.1.0/24",
                "",
                1,
                "",
                "",
                "",
            ),
        ),
    ];
    for (case, field, n) in cases {
        expect_err(case, field, n);
    }
}

#[test]
fn ipv6_prefix_holes_of_the_original_regex_are_fixed() {
    for len in [108, 109, 118, 119, 16, 64, 127] {
        let n = net(
            "default",
            "v6",
            "",
            "vxlan",
            "10.1.1.0/24",
            "",
            1,
            &format!("2001::/{len}"),
            "",
            "",
        );
        let n = expect_ok(&format!("/{len}"), n);
        assert_eq!(n.ipv6_subnet().unwrap().unwrap().prefix_len(), len);
    }
}

#[test]
fn network_wrong_key_is_invalid_key() {
    let mut n = simple_net("vxlan", "10.1.1.0/24", "");
    n.key = "default:other".into();
    let e = n.validate().unwrap_err();
    assert_eq!(e.field, "key");
    assert!(e.message.starts_with("Invalid Key"), "{}", e.message);
    assert!(e.message.contains("\"default:contiv\""), "{}", e.message);
}

#[test]
fn network_messages_name_the_value_and_the_rule() {
    let e = expect_err("3 octets", "subnet", simple_net("vxlan", "10.1.1/24", ""));
    assert_eq!(
        e.message,
        "invalid subnet \"10.1.1/24\": expected A.B.C.D/len or A.B.C.D-E.F.G.H/len with len 8..30"
    );
    let e = expect_err(
        "vlan 5000",
        "pktTag",
        simple_net("vlan", "10.1.1.0/24", "").with_tag(5000),
    );
    assert!(e.message.contains("1..4094"), "{}", e.message);
    let e = expect_err(
        "outside",
        "gateway",
        simple_net("vxlan", "10.1.1.0/24", "10.1.2.254"),
    );
    assert!(
        e.message.contains("outside the subnet 10.1.1.0/24"),
        "{}",
        e.message
    );
}

#[test]
fn network_accessors_return_typed_values() {
    let n = expect_ok(
        "full",
        net(
            "default",
            "contiv",
            "",
            "vlan",
            "10.1.1.10-10.1.1.20/24",
            "10.1.1.254",
            112,
            "2001:db8::/64",
            "2001:db8::1",
            "",
        ),
    );
    assert_eq!(n.nw_type, "data", "nwType defaults to data");
    assert_eq!(n.encap_kind().unwrap(), Encap::Vlan);
    let s = n.ipv4_subnet().unwrap();
    assert_eq!(s.net, "10.1.1.0/24".parse::<Ipv4Net>().unwrap());
    assert_eq!(s.first, Ipv4Addr::new(10, 1, 1, 10));
    assert_eq!(s.last, Ipv4Addr::new(10, 1, 1, 20));
    assert_eq!(
        n.ipv4_gateway().unwrap(),
        Some(Ipv4Addr::new(10, 1, 1, 254))
    );
    assert_eq!(
        n.ipv6_subnet().unwrap(),
        Some("2001:db8::/64".parse::<Ipv6Net>().unwrap())
    );
    assert_eq!(
        n.ipv6_gateway().unwrap(),
        Some("2001:db8::1".parse::<Ipv6Addr>().unwrap())
    );

    let n = expect_ok("plain", simple_net("vxlan", "10.1.0.0/16", ""));
    assert_eq!(n.encap_kind().unwrap(), Encap::Vxlan);
    let s = n.ipv4_subnet().unwrap();
    assert_eq!(
        (s.first, s.last),
        (Ipv4Addr::new(10, 1, 0, 0), Ipv4Addr::new(10, 1, 255, 255))
    );
    assert_eq!(n.ipv4_gateway().unwrap(), None);
    assert_eq!(n.ipv6_subnet().unwrap(), None);
    assert_eq!(n.ipv6_gateway().unwrap(), None);

    let bad = simple_net("vxlan", "10.1.1/24", "10.1.1.1");
    assert_eq!(bad.ipv4_subnet().unwrap_err().field, "subnet");
    assert_eq!(bad.ipv4_gateway().unwrap_err().field, "subnet");
    assert_eq!(
        parse_ipv4_subnet("subnet", "10.1.1.0/24").unwrap(),
        expect_ok("x", simple_net("vxlan", "10.1.1.0/24", ""))
            .ipv4_subnet()
            .unwrap()
    );
}

// ---------------------------------------------------------------- names

#[test]
fn names_accept_underscores_and_objects_reject_dots() {
    // (a): the seed documents' policy name
    assert!(is_valid_name("prod_web"));
    // the original's TestEpgnpTenant expected `in_valid` to fail; it is valid now
    expect_ok(
        "group in_valid",
        EndpointGroup {
            tenant_name: "default".into(),
            network_name: "np-net".into(),
            group_name: "in_valid".into(),
            ..Default::default()
        },
    );
    // (b): dots stay allowed in tags and other names
    assert!(is_valid_tag("io.contiv.network.test"));
    assert!(is_valid_name("policy.v1"));
    assert!(!is_valid_object_name("web.prod"));
    expect_ok(
        "dotted policy",
        Policy {
            tenant_name: "default".into(),
            policy_name: "policy.v1".into(),
            ..Default::default()
        },
    );
}

#[test]
fn tenant_names_of_test_tenant_add_delete() {
    expect_ok(
        "tenant-valid",
        Tenant {
            tenant_name: "tenant-valid".into(),
            ..Default::default()
        },
    );
    expect_ok(
        "tenant1",
        Tenant {
            tenant_name: "tenant1".into(),
            ..Default::default()
        },
    );
    for bad in [
        "tenant:invalid",
        "tenant|invalid",
        "tenant\\invalid",
        "tenant#invalid",
        "-tenant",
        "tenant@invalid",
        "tenant!invalid",
        "tenant~invalid",
        "tenant*invalid",
        "tenant^invalid",
        "blue.red",
        "",
    ] {
        expect_err(
            bad,
            "tenantName",
            Tenant {
                tenant_name: bad.into(),
                ..Default::default()
            },
        );
    }
    expect_err(
        "dotted default network",
        "defaultNetwork",
        Tenant {
            tenant_name: "t".into(),
            default_network: "a.b".into(),
            ..Default::default()
        },
    );
}

// ---------------------------------------------------------------- rules

#[allow(clippy::too_many_arguments)]
fn rule(
    id: &str,
    dir: &str,
    fnet: &str,
    fepg: &str,
    fip: &str,
    tnet: &str,
    tepg: &str,
    tip: &str,
    proto: &str,
    action: &str,
    prio: i64,
    port: i64,
) -> Rule {
    Rule {
        tenant_name: "default".into(),
        policy_name: "policy1".into(),
        rule_id: id.into(),
        direction: dir.into(),
        from_network: fnet.into(),
        from_endpoint_group: fepg.into(),
        from_ip_address: fip.into(),
        to_network: tnet.into(),
        to_endpoint_group: tepg.into(),
        to_ip_address: tip.into(),
        protocol: proto.into(),
        action: action.into(),
        priority: prio,
        port,
        ..Default::default()
    }
}

#[test]
fn rule_matrix_of_test_policy_rules() {
    let valid = [
        rule("1", "in", "", "", "", "", "", "", "tcp", "allow", 1, 80),
        rule("2", "in", "", "", "", "", "", "", "", "deny", 1, 0),
        rule("3", "out", "", "", "", "", "", "", "tcp", "allow", 1, 80),
        rule(
            "4",
            "in",
            "",
            "",
            "10.1.1.1/24",
            "",
            "",
            "",
            "tcp",
            "allow",
            1,
            80,
        ),
        rule(
            "5",
            "out",
            "",
            "",
            "",
            "",
            "",
            "10.1.1.1/24",
            "tcp",
            "allow",
            1,
            80,
        ),
        rule("6", "in", "", "group1", "", "", "", "", "", "deny", 1, 0),
        rule(
            "7", "out", "", "", "", "", "group1", "", "tcp", "allow", 1, 80,
        ),
        // `in` with a toIpAddress (k8s); the EPG check is netmaster's
        rule(
            "to-ip",
            "in",
            "",
            "",
            "10.2.1.11",
            "",
            "",
            "10.1.1.15",
            "tcp",
            "allow",
            1,
            80,
        ),
        // TestEpgPolicies: network peers
        rule(
            "1", "in", "contiv", "", "", "", "", "", "tcp", "allow", 1, 80,
        ),
        rule(
            "3", "out", "", "", "", "contiv", "", "", "tcp", "allow", 1, 80,
        ),
        // peers that do not exist are netmaster's to reject
        rule(
            "100", "in", "invalid", "", "", "", "", "", "tcp", "allow", 1, 80,
        ),
        rule(
            "100", "out", "", "", "", "", "invalid", "", "tcp", "allow", 1, 80,
        ),
    ];
    for (i, r) in valid.into_iter().enumerate() {
        expect_ok(&format!("valid rule #{i}"), r);
    }
    let invalid: Vec<(&str, &str, Rule)> = vec![
        (
            "direction both",
            "direction",
            rule("100", "both", "", "", "", "", "", "", "tcp", "allow", 1, 0),
        ),
        (
            "direction xyz",
            "direction",
            rule("100", "xyz", "", "", "", "", "", "", "tcp", "allow", 1, 0),
        ),
        (
            "protocol xyz",
            "protocol",
            rule("100", "in", "", "", "", "", "", "", "xyz", "allow", 1, 80),
        ),
        (
            "action xyz",
            "action",
            rule("100", "in", "", "", "", "", "", "", "tcp", "xyz", 1, 80),
        ),
        (
            "action accept",
            "action",
            rule("100", "in", "", "", "", "", "", "", "tcp", "accept", 1, 80),
        ),
        (
            "in + to-network",
            "toNetwork",
            rule(
                "100", "in", "", "", "", "invalid", "", "", "tcp", "allow", 1, 80,
            ),
        ),
        (
            "in + to-group",
            "toEndpointGroup",
            rule(
                "100", "in", "", "", "", "", "invalid", "", "tcp", "allow", 1, 80,
            ),
        ),
        (
            "out + from-network",
            "fromNetwork",
            rule(
                "100", "out", "invalid", "", "", "", "", "", "tcp", "allow", 1, 80,
            ),
        ),
        (
            "out + from-group",
            "fromEndpointGroup",
            rule(
                "100", "out", "", "invalid", "", "", "", "", "tcp", "allow", 1, 80,
            ),
        ),
        (
            "out + from-ip",
            "fromIpAddress",
            rule(
                "100", "out", "", "", "invalid", "", "", "", "tcp", "allow", 1, 80,
            ),
        ),
        (
            "in: from-network + from-ip",
            "fromIpAddress",
            rule(
                "100",
                "in",
                "contiv",
                "",
                "10.1.1.1/24",
                "",
                "",
                "",
                "tcp",
                "allow",
                1,
                80,
            ),
        ),
        (
            "out: to-network + to-ip",
            "toIpAddress",
            rule(
                "100",
                "out",
                "",
                "",
                "",
                "contiv",
                "",
                "10.1.1.1/24",
                "tcp",
                "allow",
                1,
                80,
            ),
        ),
        (
            "in: from-network + from-group",
            "fromEndpointGroup",
            rule(
                "100", "in", "contiv", "group1", "", "", "", "", "tcp", "allow", 1, 80,
            ),
        ),
        (
            "out: to-network + to-group",
            "toEndpointGroup",
            rule(
                "100", "out", "", "", "", "contiv", "group1", "", "tcp", "allow", 1, 80,
            ),
        ),
    ];
    for (case, field, r) in invalid {
        expect_err(case, field, r);
    }
}

#[test]
fn rule_peer_errors_use_the_original_messages() {
    let cases = [
        (
            rule("1", "in", "", "", "", "n", "", "", "", "allow", 1, 0),
            "can not specify 'to' parameters in incoming rule",
        ),
        (
            rule("1", "in", "n", "", "1.2.3.4", "", "", "", "", "allow", 1, 0),
            "can not specify both from network and from ip address",
        ),
        (
            rule("1", "in", "n", "g", "", "", "", "", "", "allow", 1, 0),
            "can not specify both from network and from EndpointGroup",
        ),
        (
            rule("1", "out", "", "g", "", "", "", "", "", "allow", 1, 0),
            "can not specify 'from' parameters in outgoing rule",
        ),
        (
            rule(
                "1", "out", "", "", "", "n", "", "1.2.3.4", "", "allow", 1, 0,
            ),
            "can not specify both to-network and to-ip address",
        ),
        (
            rule("1", "out", "", "", "", "n", "g", "", "", "allow", 1, 0),
            "can not specify both to-network and to-EndpointGroup",
        ),
    ];
    for (r, msg) in cases {
        assert_eq!(check(r).unwrap_err().message, msg);
    }
}

#[test]
fn rule_fields_and_accessors() {
    let r = expect_ok(
        "defaults",
        rule(
            "1",
            "in",
            "",
            "",
            "10.1.1.1/24",
            "",
            "",
            "",
            "tcp",
            "deny",
            0,
            80,
        ),
    );
    assert_eq!(r.priority, 1, "priority 0 becomes 1");
    assert_eq!(r.direction_kind().unwrap(), Direction::In);
    assert_eq!(r.action_kind().unwrap(), Action::Deny);
    assert_eq!(r.protocol_number().unwrap(), Some(6));
    assert_eq!(r.priority_value().unwrap(), 1);
    assert_eq!(r.port_number().unwrap(), Some(80));
    assert_eq!(
        r.from_ip_net().unwrap(),
        Some("10.1.1.0/24".parse::<IpNet>().unwrap())
    );
    assert_eq!(r.to_ip_net().unwrap(), None);

    let r = expect_ok(
        "out",
        rule(
            "2",
            "out",
            "",
            "",
            "",
            "",
            "",
            "192.168.0.7",
            "",
            "allow",
            100,
            0,
        ),
    );
    assert_eq!(r.direction_kind().unwrap(), Direction::Out);
    assert_eq!(r.action_kind().unwrap(), Action::Allow);
    assert_eq!(r.protocol_number().unwrap(), None);
    assert_eq!(r.port_number().unwrap(), None);
    assert_eq!(r.priority_value().unwrap(), 100);
    assert_eq!(
        r.to_ip_net().unwrap(),
        Some("192.168.0.7/32".parse::<IpNet>().unwrap())
    );

    for (proto, number) in [
        ("udp", Some(17)),
        ("icmp", Some(1)),
        ("255", Some(255)),
        ("47", Some(47)),
        ("0", None),
        ("", None),
    ] {
        let r = expect_ok(
            proto,
            rule("p", "in", "", "", "", "", "", "", proto, "allow", 1, 0),
        );
        assert_eq!(r.protocol_number().unwrap(), number, "{proto}");
    }
    let invalid: Vec<(&str, &str, Rule)> = vec![
        (
            "protocol 256",
            "protocol",
            rule("p", "in", "", "", "", "", "", "", "256", "allow", 1, 0),
        ),
        (
            "protocol TCP",
            "protocol",
            rule("p", "in", "", "", "", "", "", "", "TCP", "allow", 1, 0),
        ),
        (
            "priority 101",
            "priority",
            rule("p", "in", "", "", "", "", "", "", "", "allow", 101, 0),
        ),
        (
            "priority -1",
            "priority",
            rule("p", "in", "", "", "", "", "", "", "", "allow", -1, 0),
        ),
        (
            "port 65536",
            "port",
            rule("p", "in", "", "", "", "", "", "", "tcp", "allow", 1, 65536),
        ),
        (
            "port -1",
            "port",
            rule("p", "in", "", "", "", "", "", "", "tcp", "allow", 1, -1),
        ),
        (
            "ip range form",
            "fromIpAddress",
            rule(
                "p",
                "in",
                "",
                "",
                "10.1.1.1-20",
                "",
                "",
                "",
                "",
                "allow",
                1,
                0,
            ),
        ),
        (
            "ip range form with len",
            "toIpAddress",
            rule(
                "p",
                "out",
                "",
                "",
                "",
                "",
                "",
                "10.1.1.1-20/24",
                "",
                "allow",
                1,
                0,
            ),
        ),
        (
            "ip /32",
            "fromIpAddress",
            rule(
                "p",
                "in",
                "",
                "",
                "10.1.1.1/32",
                "",
                "",
                "",
                "",
                "allow",
                1,
                0,
            ),
        ),
        (
            "ip garbage",
            "fromIpAddress",
            rule("p", "in", "", "", "ten.one", "", "", "", "", "allow", 1, 0),
        ),
        (
            "dotted group ref",
            "fromEndpointGroup",
            rule("p", "in", "", "web.prod", "", "", "", "", "", "allow", 1, 0),
        ),
        (
            "rule id with :",
            "ruleId",
            rule("a:b", "in", "", "", "", "", "", "", "", "allow", 1, 0),
        ),
        (
            "missing rule id",
            "ruleId",
            rule("", "in", "", "", "", "", "", "", "", "allow", 1, 0),
        ),
        (
            "missing direction",
            "direction",
            rule("p", "", "", "", "", "", "", "", "", "allow", 1, 0),
        ),
        (
            "missing action",
            "action",
            rule("p", "in", "", "", "", "", "", "", "", "", 1, 0),
        ),
    ];
    for (case, field, r) in invalid {
        expect_err(case, field, r);
    }
    let e = expect_err(
        "range",
        "fromIpAddress",
        rule(
            "p",
            "in",
            "",
            "",
            "10.1.1.1-20",
            "",
            "",
            "",
            "",
            "allow",
            1,
            0,
        ),
    );
    assert!(
        e.message.contains("range form is not supported"),
        "{}",
        e.message
    );
}

// ---------------------------------------------------------------- global

fn global(infra: &str, vlans: &str, vxlans: &str, fwd: &str, arp: &str, pvt: &str) -> Global {
    Global {
        name: "global".into(),
        network_infra_type: infra.into(),
        vlans: vlans.into(),
        vxlans: vxlans.into(),
        fwd_mode: fwd.into(),
        arp_mode: arp.into(),
        pvt_subnet: pvt.into(),
        ..Default::default()
    }
}

#[test]
fn global_settings_of_test_global_setting() {
    let valid = [
        global(
            "default",
            "1-4094",
            "1-10000",
            "bridge",
            "proxy",
            "172.19.0.0/16",
        ),
        global(
            "default",
            "1-4094",
            "1-10000",
            "bridge",
            "proxy",
            "172.20.0.0/16",
        ),
        global(
            "aci",
            "1-4094",
            "1-10000",
            "bridge",
            "flood",
            "172.20.0.0/16",
        ),
        global(
            "default",
            "1-1000",
            "1001-2000",
            "bridge",
            "proxy",
            "172.20.0.0/16",
        ),
        global(
            "default",
            "9-301",
            "1000-2500",
            "routing",
            "proxy",
            "172.21.0.0/16",
        ),
        global(
            "aci-opflex",
            "100-1000",
            "1001-2000",
            "",
            "",
            "172.19.0.0/16",
        ),
    ];
    for (i, g) in valid.into_iter().enumerate() {
        expect_ok(&format!("valid global #{i}"), g);
    }
    let invalid: Vec<(&str, &str, Global)> = vec![
        (
            "fabric xyz",
            "networkInfraType",
            global(
                "xyz",
                "1-4094",
                "1-10000",
                "bridge",
                "proxy",
                "172.20.0.0/16",
            ),
        ),
        (
            "vlans 1-5000",
            "vlans",
            global(
                "default",
                "1-5000",
                "1-10000",
                "bridge",
                "proxy",
                "172.20.0.0/16",
            ),
        ),
        (
            "vlans 0-4094",
            "vlans",
            global(
                "default",
                "0-4094",
                "1-10000",
                "bridge",
                "proxy",
                "172.20.0.0/16",
            ),
        ),
        (
            "vlans 1",
            "vlans",
            global(
                "default",
                "1",
                "1-10000",
                "bridge",
                "proxy",
                "172.20.0.0/16",
            ),
        ),
        (
            "vlans 1?2",
            "vlans",
            global(
                "default",
                "1?2",
                "1-10000",
                "bridge",
                "proxy",
                "172.20.0.0/16",
            ),
        ),
        (
            "vlans abcd",
            "vlans",
            global(
                "default",
                "abcd",
                "1-10000",
                "bridge",
                "proxy",
                "172.20.0.0/16",
            ),
        ),
        (
            "vxlans 1-100000",
            "vxlans",
            global(
                "default",
                "1-4094",
                "1-100000",
                "bridge",
                "proxy",
                "172.20.0.0/16",
            ),
        ),
        (
            "vxlans 1-20000",
            "vxlans",
            global(
                "default",
                "1-4094",
                "1-20000",
                "bridge",
                "proxy",
                "172.20.0.0/16",
            ),
        ),
        (
            "pvt /24",
            "pvtSubnet",
            global(
                "default",
                "1-4094",
                "1-10000",
                "bridge",
                "proxy",
                "172.21.0.0/24",
            ),
        ),
        (
            "vlans 900-500",
            "vlans",
            global(
                "default",
                "900-500",
                "1-10000",
                "bridge",
                "proxy",
                "172.19.0.0/16",
            ),
        ),
        (
            "two vlan ranges",
            "vlans",
            global(
                "default",
                "100-400,500-900",
                "1-10000",
                "bridge",
                "proxy",
                "172.19.0.0/16",
            ),
        ),
        (
            "fwd xyz",
            "fwdMode",
            global(
                "default",
                "1-4094",
                "1-10000",
                "xyz",
                "proxy",
                "172.19.0.0/16",
            ),
        ),
        (
            "arp xyz",
            "arpMode",
            global(
                "default",
                "1-4094",
                "1-10000",
                "bridge",
                "xyz",
                "172.19.0.0/16",
            ),
        ),
        (
            "missing vlans",
            "vlans",
            global("default", "", "1-10000", "bridge", "proxy", "172.19.0.0/16"),
        ),
        (
            "missing pvt",
            "pvtSubnet",
            global("default", "1-4094", "1-10000", "bridge", "proxy", ""),
        ),
    ];
    for (case, field, g) in invalid {
        expect_err(case, field, g);
    }
    let mut g = global(
        "default",
        "1-4094",
        "1-10000",
        "bridge",
        "proxy",
        "172.19.0.0/16",
    );
    g.name = "other".into();
    expect_err("name other", "name", g);
}

#[test]
fn global_defaults_and_accessors() {
    let g = Global::default_config();
    g.validate().unwrap();
    assert_eq!(g.key, "global");
    assert_eq!(g.vlan_range().unwrap(), (1, 4094));
    assert_eq!(g.vxlan_range().unwrap(), (1, 10000));
    assert_eq!(
        g.pvt_subnet_net().unwrap(),
        "172.19.0.0/16".parse::<Ipv4Net>().unwrap()
    );
    assert_eq!(g.arp_mode_kind().unwrap(), ArpMode::Proxy);
    assert_eq!(g.fwd_mode_kind().unwrap(), FwdMode::Bridge);
    let g = global(
        "",
        "100-200",
        "5000-6000",
        "routing",
        "flood",
        "172.21.5.0/16",
    );
    assert_eq!(g.vlan_range().unwrap(), (100, 200));
    assert_eq!(g.vxlan_range().unwrap(), (5000, 6000));
    assert_eq!(
        g.pvt_subnet_net().unwrap(),
        "172.21.0.0/16".parse::<Ipv4Net>().unwrap()
    );
    assert_eq!(g.arp_mode_kind().unwrap(), ArpMode::Flood);
    assert_eq!(g.fwd_mode_kind().unwrap(), FwdMode::Routing);
}

// ---------------------------------------------------------------- netprofile

fn profile(dscp: i64, burst: i64, bandwidth: &str) -> Netprofile {
    Netprofile {
        tenant_name: "default".into(),
        profile_name: "profile3".into(),
        dscp,
        burst,
        bandwidth: bandwidth.into(),
        ..Default::default()
    }
}

#[test]
fn netprofiles_of_test_netprofile() {
    for bw in [
        "2gbps", "5gbps", "", "20mbps", "10 Gbps", "10 Gb", "10 gb", "5Gb", "6gb", "3gbps",
        "3Gbps", "4g", "4G", "13mb", "5Mb", "900Mb", "20mb", "10kbps", "100 Mbps", "1g", "18Mb",
        "6 Mbps", "16Mbps", "6 K",
    ] {
        expect_ok(bw, profile(5, 1500, bw));
    }
    for bw in [
        "invalid", "10 Gkms", "10 G12ms", "10 ms", "10 bms", "Gkms", "Gbps", "0 Gbps", " 10 Gbps",
        "10  Gbps", "10 1bps", "10 {", "010g", "10GB", "10 gbit",
    ] {
        expect_err(bw, "bandwidth", profile(5, 1500, bw));
    }
    expect_err("DSCP 72", "DSCP", profile(72, 1500, "2gbps"));
    expect_err("DSCP -1", "DSCP", profile(-1, 1500, "2gbps"));
    expect_ok("DSCP 63", profile(63, 1500, "2gbps"));
    let e = expect_err("burst 1", "burst", profile(22, 1, "2gbps"));
    assert!(
        e.message
            .starts_with("Invalid Burst size. burst size > 1500 bytes"),
        "{}",
        e.message
    );
    expect_err("burst 10487", "burst", profile(22, 10487, "2gbps"));
    expect_err("burst -2", "burst", profile(22, -2, "2gbps"));
    expect_ok("burst 10486", profile(22, 10486, "2gbps"));
    expect_ok("burst 0", profile(0, 0, "20mb"));
    expect_ok("burst 2", profile(0, 2, ""));
    let mut p = profile(0, 0, "");
    p.profile_name = "a:b".into();
    expect_err("profile name with :", "profileName", p);
}

#[test]
fn netprofile_bandwidth_conversion_and_display() {
    let cases = [
        ("10kbps", 10, "10Kbps"),
        ("100 Mbps", 104_857, "100Mbps"),
        ("1g", 1_073_741, "1Gbps"),
        ("18Mb", 18_874, "18Mbps"),
        ("6 Mbps", 6_291, "6Mbps"),
        ("2gbps", 2_147_483, "2Gbps"),
    ];
    for (bw, kbps, shown) in cases {
        let p = expect_ok(bw, profile(0, 0, bw));
        assert_eq!(p.bandwidth_kbps().unwrap(), Some(kbps), "{bw}");
        assert_eq!(
            p.bandwidth_display().unwrap().as_deref(),
            Some(shown),
            "{bw}"
        );
    }
    let p = profile(7, 0, "");
    assert_eq!(p.bandwidth_kbps().unwrap(), None);
    assert_eq!(p.bandwidth_display().unwrap(), None);
    assert_eq!(p.dscp_value().unwrap(), 7);
}

// ---------------------------------------------------------------- serviceLB

fn service(ports: &[&str], selectors: &[&str], ip: &str) -> ServiceLB {
    ServiceLB {
        tenant_name: "default".into(),
        network_name: "yellow".into(),
        service_name: "redis".into(),
        ip_address: ip.into(),
        ports: ports.iter().map(|s| s.to_string()).collect(),
        selectors: selectors.iter().map(|s| s.to_string()).collect(),
        ..Default::default()
    }
}

#[test]
fn service_ports_and_selectors() {
    let labels = ["key1=value1", "key2=value2", "key3=value3", "key4=value4"];
    let s = expect_ok(
        "two ports",
        service(&["80:8080:TCP", "643:7070:UDP"], &labels, "10.1.1.3"),
    );
    let specs = s.port_specs().unwrap();
    assert_eq!(specs.len(), 2);
    assert_eq!(
        (specs[0].svc_port, specs[0].prov_port, specs[0].protocol),
        (80, 8080, ServiceProtocol::Tcp)
    );
    assert_eq!(
        (specs[1].svc_port, specs[1].prov_port, specs[1].protocol),
        (643, 7070, ServiceProtocol::Udp)
    );
    assert_eq!(s.selector_pairs().unwrap()[1], ("key2", "value2"));
    assert_eq!(s.preferred_ip().unwrap(), Some(Ipv4Addr::new(10, 1, 1, 3)));
    expect_ok(
        "lower-case protocol",
        service(&["80:8080:tcp", "53:53:uDP"], &labels[..1], ""),
    );

    let invalid: Vec<(&str, &str, ServiceLB)> = vec![
        (
            "no selectors",
            "selectors",
            service(&["80:8080:TCP"], &[], ""),
        ),
        ("no ports", "ports", service(&[], &labels, "")),
        // the original checked only the first entry
        (
            "bad second port",
            "ports",
            service(&["80:8080:TCP", "81:x:TCP"], &labels, ""),
        ),
        (
            "bad second protocol",
            "ports",
            service(&["80:8080:TCP", "81:81:SCTP"], &labels, ""),
        ),
        // the original indexed past the end of these
        ("one part", "ports", service(&["80"], &labels, "")),
        ("two parts", "ports", service(&["80:8080"], &labels, "")),
        (
            "four parts",
            "ports",
            service(&["80:8080:TCP:x"], &labels, ""),
        ),
        ("port 0", "ports", service(&["0:8080:TCP"], &labels, "")),
        (
            "port 65536",
            "ports",
            service(&["80:65536:TCP"], &labels, ""),
        ),
        (
            "selector a=b=c",
            "selectors",
            service(&["80:8080:TCP"], &["a=b=c"], ""),
        ),
        (
            "selector without =",
            "selectors",
            service(&["80:8080:TCP"], &["key1"], ""),
        ),
        (
            "vip",
            "ipAddress",
            service(&["80:8080:TCP"], &labels, "10.1.1.300"),
        ),
    ];
    for (case, field, s) in invalid {
        expect_err(case, field, s);
    }
    let mut s = service(&["80:8080:TCP"], &labels, "");
    s.service_name = String::new();
    expect_err("no service name", "serviceName", s);
}

// ---------------------------------------------------------------- endpoint group

fn group(name: &str, pool: &str) -> EndpointGroup {
    EndpointGroup {
        tenant_name: "default".into(),
        network_name: "contiv-net".into(),
        group_name: name.into(),
        ip_pool: pool.into(),
        policies: vec!["prod_web".into()],
        ..Default::default()
    }
}

#[test]
fn endpoint_groups_and_pools() {
    let g = expect_ok("pool", group("web", "10.36.0.1-10.36.0.10"));
    assert_eq!(
        g.ip_pool_range().unwrap(),
        Some((Ipv4Addr::new(10, 36, 0, 1), Ipv4Addr::new(10, 36, 0, 10)))
    );
    let g = expect_ok("one address", group("web", "10.36.0.5"));
    assert_eq!(
        g.ip_pool_range().unwrap(),
        Some((Ipv4Addr::new(10, 36, 0, 5), Ipv4Addr::new(10, 36, 0, 5)))
    );
    assert_eq!(
        expect_ok("no pool", group("web", ""))
            .ip_pool_range()
            .unwrap(),
        None
    );
    for pool in [
        "10.36.0.10-10.36.0.1",
        "10.36.0.1-",
        "10.36.0.1/24",
        "10.36.0.1-10.36.0",
        "x",
    ] {
        expect_err(pool, "ipPool", group("web", pool));
    }
    expect_err("dotted group", "groupName", group("web.v1", ""));
    let mut g = group("web", "");
    g.network_name = "net.blue".into();
    expect_err("dotted network ref", "networkName", g);
    let mut g = group("web", "");
    g.cfgd_tag = "tag=x".into();
    expect_err("bad tag", "cfgdTag", g);
    let mut g = group("web", "");
    g.policies.push("bad|policy".into());
    expect_err("bad policy entry", "policies", g);
    let mut g = group("web", "");
    g.net_profile = "a/b".into();
    expect_err("bad netprofile ref", "netProfile", g);
    let mut g = group("web", "");
    g.tenant_name = String::new();
    expect_err("no tenant", "tenantName", g);
}

// ---------------------------------------------------------------- Bgp, ACI

fn bgp(routerip: &str, as_: &str, neighbor_as: &str, neighbor: &str) -> Bgp {
    Bgp {
        hostname: "netplugin-node1".into(),
        routerip: routerip.into(),
        as_: as_.into(),
        neighbor_as: neighbor_as.into(),
        neighbor: neighbor.into(),
        ..Default::default()
    }
}

#[test]
fn bgp_hosts() {
    let b = expect_ok("bgp", bgp("50.1.1.1/24", "65002", "500", "50.1.1.2"));
    assert_eq!(
        b.router_ip().unwrap(),
        "50.1.1.1/24".parse::<Ipv4Net>().unwrap()
    );
    assert_eq!(b.router_ip().unwrap().addr(), Ipv4Addr::new(50, 1, 1, 1));
    assert_eq!(b.neighbor_ip().unwrap(), Some(Ipv4Addr::new(50, 1, 1, 2)));
    assert_eq!(b.as_number().unwrap(), Some(65002));
    assert_eq!(b.neighbor_as_number().unwrap(), Some(500));
    let invalid: Vec<(&str, &str, Bgp)> = vec![
        (
            "routerip range",
            "routerip",
            bgp("50.1.1.1-5/24", "65002", "500", "50.1.1.2"),
        ),
        (
            "routerip without len",
            "routerip",
            bgp("50.1.1.1", "65002", "500", "50.1.1.2"),
        ),
        (
            "as text",
            "as",
            bgp("50.1.1.1/24", "abc", "500", "50.1.1.2"),
        ),
        ("as 0", "as", bgp("50.1.1.1/24", "0", "500", "50.1.1.2")),
        (
            "as too big",
            "as",
            bgp("50.1.1.1/24", "4294967296", "500", "50.1.1.2"),
        ),
        (
            "neighbor-as text",
            "neighbor-as",
            bgp("50.1.1.1/24", "1", "x", "50.1.1.2"),
        ),
        (
            "neighbor",
            "neighbor",
            bgp("50.1.1.1/24", "1", "2", "50.1.1"),
        ),
    ];
    for (case, field, b) in invalid {
        expect_err(case, field, b);
    }
}

fn aci(enforce: &str, common: &str, paths: &str, nodes: &str, domain: &str) -> AciGw {
    AciGw {
        name: "aciGw".into(),
        enforce_policies: enforce.into(),
        include_common_tenant: common.into(),
        path_bindings: paths.into(),
        node_bindings: nodes.into(),
        physical_domain: domain.into(),
        ..Default::default()
    }
}

#[test]
fn aci_gateway_of_test_aci_gw_setting() {
    let p1 = "topology/pod-1/paths-101/pathep-[eth1/14]";
    let p2 = "topology/pod-1/paths-101/pathep-[eth1/15]";
    let valid = [
        aci("yes", "yes", p1, "", "testDom"),
        aci("yes", "no", p1, "", "testDom"),
        aci("yes", "no", &format!("{p1},{p2}"), "", "testDom"),
        aci(
            "yes",
            "yes",
            &format!("{p1},{p2}"),
            "topology/pod-1/node-101",
            "testDom",
        ),
        aci(
            "yes",
            "yes",
            &format!(
                "{p1},{p2},topology/pod-1/paths-102/pathep-[eth1/5],topology/pod-1/paths-101/pathep-[eth1/6]"
            ),
            "topology/pod-1/node-101,topology/pod-1/node-102,topology/pod-1/node-103",
            "testDom",
        ),
    ];
    for (i, a) in valid.into_iter().enumerate() {
        expect_ok(&format!("valid aciGw #{i}"), a);
    }
    let invalid: Vec<(&str, &str, AciGw)> = vec![
        (
            "path without topology",
            "pathBindings",
            aci(
                "yes",
                "yes",
                "pod-1/paths-101/pathep-[eth1/14]",
                "",
                "testDom",
            ),
        ),
        (
            "second path without topology",
            "pathBindings",
            aci(
                "yes",
                "no",
                &format!("{p1},pod-1/paths-101/pathep-[eth1/15]"),
                "",
                "testDom",
            ),
        ),
        (
            "tor node",
            "nodeBindings",
            aci("yes", "yes", p1, "topology/tor-1/node-101", "testDom"),
        ),
        (
            "enforce maybe",
            "enforcePolicies",
            aci("maybe", "yes", p1, "", "testDom"),
        ),
        (
            "common empty",
            "includeCommonTenant",
            aci("yes", "", p1, "", "testDom"),
        ),
        ("no domain", "physicalDomain", aci("yes", "yes", p1, "", "")),
    ];
    for (case, field, a) in invalid {
        expect_err(case, field, a);
    }
    let mut a = aci("yes", "yes", "", "", "testDom");
    a.name = "aci".into();
    expect_err("name", "name", a);
}

#[test]
fn external_contracts_and_app_profiles() {
    let ext = |t: &str| ExtContractsGroup {
        tenant_name: "default".into(),
        contracts_group_name: "ext-contracts-prov".into(),
        contracts_type: t.into(),
        contracts: vec!["uni/tn-common/brc-default".into()],
        ..Default::default()
    };
    expect_ok("provided", ext("provided"));
    expect_ok("consumed", ext("consumed"));
    let e = expect_err("something", "contractsType", ext("something"));
    assert_eq!(
        e.message,
        "Contracts group need to be either 'provided' or 'consumed'"
    );

    let prof = |groups: &[&str]| AppProfile {
        tenant_name: "default".into(),
        app_profile_name: "profile3".into(),
        endpoint_groups: groups.iter().map(|s| s.to_string()).collect(),
        ..Default::default()
    };
    expect_ok("empty profile", prof(&[]));
    expect_ok("profile", prof(&["group1", "group3"]));
    expect_err("dotted group", "endpointGroups", prof(&["group1", "g.x"]));
}

// ------------------------------------------- issue 12: gaps that were accepted

/// Deliberate changes (o), (p): subnets that cannot hold container
/// addresses, and the one prefix-length limit shared with the allocator.
#[test]
fn network_subnets_that_cannot_hold_containers_are_refused() {
    for (case, field, n) in [
        (
            "host bits",
            "subnet",
            simple_net("vxlan", "10.5.1.1/24", ""),
        ),
        (
            "multicast",
            "subnet",
            simple_net("vxlan", "224.0.0.0/24", ""),
        ),
        (
            "loopback",
            "subnet",
            simple_net("vxlan", "127.0.0.0/24", ""),
        ),
        (
            "link-local",
            "subnet",
            simple_net("vxlan", "169.254.1.0/24", ""),
        ),
        (
            "broadcast",
            "subnet",
            simple_net("vxlan", "255.255.255.0/24", ""),
        ),
        (
            "this network",
            "subnet",
            simple_net("vxlan", "0.0.0.0/8", ""),
        ),
        ("/31", "subnet", simple_net("vxlan", "10.1.1.0/31", "")),
        (
            "v6 link-local",
            "ipv6Subnet",
            net(
                "default",
                "contiv",
                "",
                "vxlan",
                "10.1.1.0/24",
                "",
                1,
                "fe80::/64",
                "",
                "",
            ),
        ),
        (
            "v6 multicast",
            "ipv6Subnet",
            net(
                "default",
                "contiv",
                "",
                "vxlan",
                "10.1.1.0/24",
                "",
                1,
                "ff02::/16",
                "",
                "",
            ),
        ),
        (
            "v6 host bits",
            "ipv6Subnet",
            net(
                "default",
                "contiv",
                "",
                "vxlan",
                "10.1.1.0/24",
                "",
                1,
                "2001:db8::5/64",
                "",
                "",
            ),
        ),
    ] {
        expect_err(case, field, n);
    }
    // The largest accepted prefix, with its plan.
    let n = expect_ok("/30", simple_net("vxlan", "10.1.1.4/30", "10.1.1.5"));
    let plan = n.address_plan().unwrap();
    assert_eq!(plan.subnet(), "10.1.1.4/30".parse::<Ipv4Net>().unwrap());
    assert_eq!(plan.gateway, Some(Ipv4Addr::new(10, 1, 1, 5)));
    assert!(!plan.has_ipv6());
    assert_eq!(plan.prefixes().len(), 1);
}

/// Deliberate change (q): a rule with two peers, or a port without a
/// protocol that has ports, is refused by the model (the policy compiler
/// refused it forever before).
#[test]
fn rules_no_datapath_can_realise_are_refused() {
    let base = || Rule {
        key: "default:p:1".into(),
        tenant_name: "default".into(),
        policy_name: "p".into(),
        rule_id: "1".into(),
        direction: "in".into(),
        action: "deny".into(),
        ..Default::default()
    };
    let mut r = base();
    r.from_endpoint_group = "web".into();
    r.from_ip_address = "10.1.1.0/24".into();
    let e = expect_err("group + ip", "fromIpAddress", r);
    assert!(e.message.contains("at most one peer"), "{}", e.message);
    let mut r = base();
    r.direction = "out".into();
    r.to_endpoint_group = "web".into();
    r.to_ip_address = "10.1.1.5".into();
    expect_err("out group + ip", "toIpAddress", r);
    let mut r = base();
    r.protocol = "icmp".into();
    r.port = 80;
    expect_err("icmp port", "port", r);
    // (r): IPv6 rule addresses are accepted and typed.
    let mut r = base();
    r.from_ip_address = "2001:db8::7/64".into();
    let shape = expect_ok("v6 peer", r).shape().unwrap();
    assert_eq!(
        shape.peer,
        contiv_core::model::RulePeer::Cidr("2001:db8::/64".parse().unwrap())
    );
}

/// Deliberate change (s).
#[test]
fn contradictory_service_selectors_are_refused() {
    let s = ServiceLB {
        key: "default:svc".into(),
        tenant_name: "default".into(),
        service_name: "svc".into(),
        network_name: "net".into(),
        selectors: vec!["a=b".into(), "a=c".into()],
        ports: vec!["80:8080:TCP".into()],
        ..Default::default()
    };
    expect_err("a=b a=c", "selectors", s);
}
