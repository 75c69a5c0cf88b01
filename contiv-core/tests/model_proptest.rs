//! Arbitrary input never panics validation or the typed accessors, and an
//! object that validates has accessors that all succeed.

use contiv_core::model::validate::{
    is_valid_name, is_valid_object_name, is_valid_tag, parse_bandwidth, parse_ipv4_subnet,
    parse_ipv6_subnet, parse_port_spec, parse_selector, parse_vlan_range, parse_vxlan_range,
};
use contiv_core::model::*;
use proptest::prelude::*;

/// Strings that reach deep into the parsers: arbitrary Unicode, printable
/// ASCII, and concatenations of tokens the grammars care about.
fn field() -> impl Strategy<Value = String> {
    let tokens = prop::sample::select(vec![
        "10",
        "1",
        "0",
        "255",
        "256",
        "4094",
        "65535",
        "16000",
        "24",
        "31",
        "127",
        ".",
        "-",
        "/",
        ":",
        "::",
        "=",
        "_",
        " ",
        "ff",
        "a",
        "vlan",
        "vxlan",
        "tcp",
        "udp",
        "icmp",
        "in",
        "out",
        "allow",
        "deny",
        "k",
        "M",
        "g",
        "bps",
        "b",
        "TCP",
        "global",
        "aciGw",
        "yes",
        "no",
        "topology/pod-1/node-1",
        "[eth1/1]",
        "10.1.1.1",
        "2001:db8::",
        "\u{e9}",
        "",
    ]);
    prop_oneof![
        any::<String>(),
        "[ -~]{0,24}",
        prop::collection::vec(tokens, 0..8).prop_map(|v| v.concat()),
    ]
}

fn number() -> impl Strategy<Value = i64> {
    prop_oneof![any::<i64>(), -3i64..70_000]
}

fn list() -> impl Strategy<Value = Vec<String>> {
    prop::collection::vec(field(), 0..4)
}

/// Sets the derived key half of the time, so validation goes past the key.
fn keyed<T: ModelObject>(mut o: T, derive: bool) -> T {
    if derive {
        o.set_key(o.derived_key());
    }
    o
}

/// Validates before and after defaults; returns whether it validated after.
fn validates<T: ModelObject>(o: &T) -> bool {
    let _ = o.validate();
    let mut d = o.clone();
    d.apply_defaults();
    d.validate().is_ok()
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(512))]

    #[test]
    fn network_never_panics(
        s in prop::array::uniform9(field()), tag in number(), derive in any::<bool>()
    ) {
        let [tenant, name, nw_type, encap, subnet, gw, v6, v6gw, cfgd] = s;
        let mut n = keyed(Network {
            tenant_name: tenant, network_name: name, nw_type, encap, subnet, gateway: gw,
            ipv6_subnet: v6, ipv6_gateway: v6gw, cfgd_tag: cfgd, pkt_tag: tag, ..Default::default()
        }, derive);
        let ok = validates(&n);
        n.apply_defaults();
        let acc = (n.ipv4_subnet(), n.ipv4_gateway(), n.ipv6_subnet(), n.ipv6_gateway(), n.encap_kind());
        if ok {
            prop_assert!(acc.0.is_ok() && acc.1.is_ok() && acc.2.is_ok() && acc.3.is_ok() && acc.4.is_ok());
        }
    }

    #[test]
    fn rule_never_panics(
        s in prop::array::uniform12(field()), prio in number(), port in number(), derive in any::<bool>()
    ) {
        let [tenant, policy, id, dir, fnet, fepg, fip, tnet, tepg, tip, proto, action] = s;
        let mut r = keyed(Rule {
            tenant_name: tenant, policy_name: policy, rule_id: id, direction: dir,
            from_network: fnet, from_endpoint_group: fepg, from_ip_address: fip,
            to_network: tnet, to_endpoint_group: tepg, to_ip_address: tip,
            protocol: proto, action, priority: prio, port, ..Default::default()
        }, derive);
        let ok = validates(&r);
        r.apply_defaults();
        let all_ok = r.direction_kind().is_ok() && r.action_kind().is_ok()
            && r.protocol_number().is_ok() && r.priority_value().is_ok()
            && r.port_number().is_ok() && r.from_ip_net().is_ok() && r.to_ip_net().is_ok();
        if ok {
            prop_assert!(all_ok);
        }
    }

    #[test]
    fn global_never_panics(s in prop::array::uniform7(field()), derive in any::<bool>()) {
        let [name, infra, vlans, vxlans, fwd, arp, pvt] = s;
        let g = keyed(Global {
            name, network_infra_type: infra, vlans, vxlans, fwd_mode: fwd, arp_mode: arp,
            pvt_subnet: pvt, ..Default::default()
        }, derive);
        let ok = validates(&g);
        let all_ok = g.vlan_range().is_ok() && g.vxlan_range().is_ok() && g.pvt_subnet_net().is_ok()
            && g.arp_mode_kind().is_ok() && g.fwd_mode_kind().is_ok();
        if ok {
            prop_assert!(all_ok);
        }
    }

    #[test]
    fn netprofile_and_group_never_panic(
        s in prop::array::uniform9(field()), lists in prop::array::uniform2(list()),
        dscp in number(), burst in number(), derive in any::<bool>()
    ) {
        let [tenant, profile, bandwidth, group, network, pool, np, tag, _] = s;
        let p = keyed(Netprofile {
            tenant_name: tenant.clone(), profile_name: profile, bandwidth, dscp, burst,
            ..Default::default()
        }, derive);
        let ok = validates(&p);
        let all_ok = p.bandwidth_kbps().is_ok() && p.bandwidth_display().is_ok()
            && p.bandwidth_parsed().is_ok() && p.dscp_value().is_ok();
        if ok {
            prop_assert!(all_ok);
        }
        let [policies, ext] = lists;
        let g = keyed(EndpointGroup {
            tenant_name: tenant, group_name: group, network_name: network, ip_pool: pool,
            net_profile: np, cfgd_tag: tag, policies, ext_contracts_grps: ext, ..Default::default()
        }, derive);
        let ok = validates(&g);
        if ok {
            prop_assert!(g.ip_pool_range().is_ok());
        }
    }

    #[test]
    fn service_and_bgp_never_panic(
        s in prop::array::uniform9(field()), lists in prop::array::uniform2(list()),
        derive in any::<bool>()
    ) {
        let [tenant, network, service, ip, host, routerip, as_, nas, neighbor] = s;
        let [ports, selectors] = lists;
        let svc = keyed(ServiceLB {
            tenant_name: tenant, network_name: network, service_name: service, ip_address: ip,
            ports, selectors, ..Default::default()
        }, derive);
        let ok = validates(&svc);
        let all_ok = svc.port_specs().is_ok() && svc.selector_pairs().is_ok()
            && svc.preferred_ip().is_ok();
        if ok {
            prop_assert!(all_ok);
        }
        let b = keyed(Bgp {
            hostname: host, routerip, as_, neighbor_as: nas, neighbor, ..Default::default()
        }, derive);
        let ok = validates(&b);
        let all_ok = b.router_ip().is_ok() && b.neighbor_ip().is_ok() && b.as_number().is_ok()
            && b.neighbor_as_number().is_ok();
        if ok {
            prop_assert!(all_ok);
        }
    }

    #[test]
    fn other_objects_never_panic(
        s in prop::array::uniform12(field()), lists in prop::array::uniform2(list()),
        derive in any::<bool>()
    ) {
        let [tenant, dnet, policy, prof, grp, ctype, name, enforce, common, nodes, paths, domain] = s;
        let [groups, contracts] = lists;
        validates(&keyed(Tenant { tenant_name: tenant.clone(), default_network: dnet, ..Default::default() }, derive));
        validates(&keyed(Policy { tenant_name: tenant.clone(), policy_name: policy, ..Default::default() }, derive));
        validates(&keyed(AppProfile {
            tenant_name: tenant.clone(), app_profile_name: prof, endpoint_groups: groups, ..Default::default()
        }, derive));
        validates(&keyed(ExtContractsGroup {
            tenant_name: tenant, contracts_group_name: grp, contracts_type: ctype, contracts,
            ..Default::default()
        }, derive));
        validates(&keyed(AciGw {
            name, enforce_policies: enforce, include_common_tenant: common, node_bindings: nodes,
            path_bindings: paths, physical_domain: domain, ..Default::default()
        }, derive));
    }

    #[test]
    fn free_parsers_never_panic(s in field()) {
        let _ = (is_valid_name(&s), is_valid_object_name(&s), is_valid_tag(&s));
        let _ = (parse_ipv4_subnet("subnet", &s), parse_ipv6_subnet("ipv6Subnet", &s));
        let _ = (parse_vlan_range(&s), parse_vxlan_range(&s), parse_bandwidth(&s));
        let _ = (parse_port_spec(&s), parse_selector(&s));
        // an object name is always a name, a name always a tag
        prop_assert!(!is_valid_object_name(&s) || is_valid_name(&s));
        prop_assert!(!is_valid_name(&s) || is_valid_tag(&s));
    }

    #[test]
    fn valid_subnets_contain_their_window(a in any::<u32>(), b in any::<u32>(), len in 8u8..=30) {
        let (a, b) = (std::net::Ipv4Addr::from(a.min(b)), std::net::Ipv4Addr::from(a.max(b)));
        if let Ok(r) = parse_ipv4_subnet("subnet", &format!("{a}-{b}/{len}")) {
            prop_assert!(r.net.contains(&r.first) && r.net.contains(&r.last) && r.first <= r.last);
            prop_assert_eq!((r.first, r.last), (a, b));
        } else {
            // rejected only because b lies outside a's subnet, or the
            // subnet is a special-purpose block
            let net = ipnet::Ipv4Net::new(a, len).unwrap().trunc();
            prop_assert!(
                !net.contains(&b) || contiv_core::model::validate::reserved_ipv4_block(net).is_some()
            );
        }
    }

    /// Valid objects with one field replaced: many stay valid, so the
    /// "validates ⇒ every accessor succeeds" property is really exercised.
    #[test]
    fn one_field_off_a_valid_network(i in 0usize..10, v in field(), tag in number()) {
        let mut n = Network {
            tenant_name: "default".into(), network_name: "contiv".into(), nw_type: "data".into(),
            encap: "vlan".into(), subnet: "10.1.1.10-10.1.1.20/24".into(),
            gateway: "10.1.1.254".into(), pkt_tag: 112, ipv6_subnet: "2001:db8::/64".into(),
            ipv6_gateway: "2001:db8::1".into(), cfgd_tag: "tag".into(), ..Default::default()
        };
        match i {
            0 => n.tenant_name = v, 1 => n.network_name = v, 2 => n.nw_type = v,
            3 => n.encap = v, 4 => n.subnet = v, 5 => n.gateway = v, 6 => n.ipv6_subnet = v,
            7 => n.ipv6_gateway = v, 8 => n.cfgd_tag = v, _ => n.pkt_tag = tag,
        }
        let n = keyed(n, true);
        if n.validate().is_ok() {
            prop_assert!(n.ipv4_subnet().is_ok() && n.ipv4_gateway().is_ok());
            prop_assert!(n.ipv6_subnet().is_ok() && n.ipv6_gateway().is_ok() && n.encap_kind().is_ok());
            prop_assert!(n.address_plan().is_ok());
        }
    }

    #[test]
    fn one_field_off_a_valid_rule(i in 0usize..9, v in field(), x in number()) {
        let mut r = Rule {
            tenant_name: "default".into(), policy_name: "prod_web".into(), rule_id: "1".into(),
            direction: "in".into(), from_ip_address: "10.1.1.0/24".into(),
            to_ip_address: "10.1.2.3".into(), protocol: "tcp".into(), action: "allow".into(),
            priority: 10, port: 80, ..Default::default()
        };
        match i {
            0 => r.direction = v, 1 => r.from_ip_address = v, 2 => r.to_ip_address = v,
            3 => r.protocol = v, 4 => r.action = v, 5 => r.priority = x, 6 => r.port = x,
            7 => r.from_endpoint_group = v, _ => r.rule_id = v,
        }
        let r = keyed(r, true);
        if r.validate().is_ok() {
            prop_assert!(r.direction_kind().is_ok() && r.action_kind().is_ok());
            prop_assert!(r.protocol_number().is_ok() && r.priority_value().is_ok());
            prop_assert!(r.port_number().is_ok() && r.from_ip_net().is_ok() && r.to_ip_net().is_ok());
            prop_assert!(r.shape().is_ok());
        }
    }

    #[test]
    fn one_field_off_valid_global_profile_and_service(i in 0usize..12, v in field(), x in number()) {
        let mut g = Global::default_config();
        let mut p = Netprofile {
            key: "default:gold".into(), tenant_name: "default".into(), profile_name: "gold".into(),
            bandwidth: "100 Mbps".into(), dscp: 6, burst: 80,
        };
        let mut svc = ServiceLB {
            tenant_name: "default".into(), network_name: "yellow".into(), service_name: "redis".into(),
            ports: vec!["80:8080:TCP".into()], selectors: vec!["k=v".into()], ..Default::default()
        };
        match i {
            0 => g.vlans = v, 1 => g.vxlans = v, 2 => g.pvt_subnet = v, 3 => g.arp_mode = v,
            4 => g.fwd_mode = v, 5 => p.bandwidth = v, 6 => p.dscp = x, 7 => p.burst = x,
            8 => svc.ports.push(v), 9 => svc.selectors.push(v), 10 => svc.ip_address = v,
            _ => svc.ports[0] = v,
        }
        if g.validate().is_ok() {
            prop_assert!(g.vlan_range().is_ok() && g.vxlan_range().is_ok() && g.pvt_subnet_net().is_ok());
            prop_assert!(g.arp_mode_kind().is_ok() && g.fwd_mode_kind().is_ok());
        }
        if p.validate().is_ok() {
            prop_assert!(p.bandwidth_kbps().is_ok() && p.bandwidth_display().is_ok() && p.dscp_value().is_ok());
        }
        let svc = keyed(svc, true);
        if svc.validate().is_ok() {
            prop_assert!(svc.port_specs().is_ok() && svc.selector_pairs().is_ok() && svc.preferred_ip().is_ok());
        }
    }
}
