//! JSON shape of the model objects: the original's field names, key order
//! (`key` first, then alphabetical) and `omitempty` behaviour.

use contiv_core::model::*;
use serde_json::json;

/// The `Config` block of `netctl global inspect` printed by the original Go
/// netctl against the original netmaster (`fwdmode routing`), copied from
/// `contiv-bins/tests/fixtures/netctl-golden.txt` and re-indented to the top
/// level (`json.MarshalIndent(obj, "", "  ")`).
const GOLDEN_GLOBAL_CONFIG: &str = r#"{
  "key": "global",
  "arpMode": "proxy",
  "fwdMode": "routing",
  "name": "global",
  "networkInfraType": "default",
  "pvtSubnet": "172.19.0.0/16",
  "vlans": "1-4094",
  "vxlans": "1-10000"
}"#;

#[test]
fn global_inspect_config_matches_the_golden_output() {
    let g = Global {
        fwd_mode: "routing".into(),
        ..Global::default_config()
    };
    g.validate().unwrap();
    assert_eq!(
        serde_json::to_string_pretty(&g).unwrap(),
        GOLDEN_GLOBAL_CONFIG
    );
    let back: Global = serde_json::from_str(GOLDEN_GLOBAL_CONFIG).unwrap();
    assert_eq!(back, g);
}

#[test]
fn network_from_the_original_parses_and_reserialises_without_empty_fields() {
    // As the original netmaster stores and returns it: links and link-sets
    // included, no gateway/IPv6/cfgdTag (omitempty).
    let original = json!({
        "key": "default:contiv-net",
        "encap": "vxlan",
        "networkName": "contiv-net",
        "nwType": "data",
        "pktTag": 1001,
        "subnet": "20.1.1.0/24",
        "tenantName": "default",
        "link-sets": {"EndpointGroups": {"default:web": {"type": "endpointGroup", "key": "default:web"}}},
        "links": {"Tenant": {"type": "tenant", "key": "default"}}
    });
    let n: Network = serde_json::from_value(original).unwrap();
    n.validate().unwrap();
    assert_eq!(n.pkt_tag, 1001);
    assert_eq!(
        serde_json::to_string(&n).unwrap(),
        r#"{"key":"default:contiv-net","encap":"vxlan","networkName":"contiv-net","nwType":"data","pktTag":1001,"subnet":"20.1.1.0/24","tenantName":"default"}"#
    );
}

#[test]
fn zero_and_empty_fields_are_omitted() {
    assert_eq!(serde_json::to_string(&Network::default()).unwrap(), "{}");
    assert_eq!(serde_json::to_string(&Rule::default()).unwrap(), "{}");
    assert_eq!(
        serde_json::to_string(&EndpointGroup::default()).unwrap(),
        "{}"
    );
    let mut r = Rule {
        key: "default:prod_web:1".into(),
        tenant_name: "default".into(),
        policy_name: "prod_web".into(),
        rule_id: "1".into(),
        direction: "in".into(),
        protocol: "tcp".into(),
        action: "deny".into(),
        ..Default::default()
    };
    r.validate().unwrap();
    assert_eq!(
        serde_json::to_string(&r).unwrap(),
        r#"{"key":"default:prod_web:1","action":"deny","direction":"in","policyName":"prod_web","protocol":"tcp","ruleId":"1","tenantName":"default"}"#
    );
    r.apply_defaults();
    let v = serde_json::to_value(&r).unwrap();
    assert_eq!(v["priority"], 1, "priority 0 is filled with the default 1");
}

#[test]
fn unusual_field_names_match_the_original() {
    let p = Netprofile {
        key: "default:gold".into(),
        dscp: 6,
        bandwidth: "6 Mbps".into(),
        burst: 80,
        profile_name: "gold".into(),
        tenant_name: "default".into(),
    };
    p.validate().unwrap();
    assert_eq!(
        serde_json::to_string(&p).unwrap(),
        r#"{"key":"default:gold","DSCP":6,"bandwidth":"6 Mbps","burst":80,"profileName":"gold","tenantName":"default"}"#
    );
    let b: Bgp = serde_json::from_str(
        r#"{"key":"host1","as":"65002","hostname":"host1","neighbor":"50.1.1.2","neighbor-as":"500","routerip":"50.1.1.1/24"}"#,
    )
    .unwrap();
    b.validate().unwrap();
    assert_eq!(b.as_, "65002");
    assert_eq!(b.neighbor_as, "500");
    let s: ServiceLB = serde_json::from_str(
        r#"{"key":"default:redis","ipAddress":"10.1.1.3","networkName":"yellow","ports":["80:8080:TCP"],"selectors":["key1=value1"],"serviceName":"redis","tenantName":"default"}"#,
    )
    .unwrap();
    s.validate().unwrap();
    assert_eq!(
        serde_json::to_value(&s).unwrap(),
        json!({"key":"default:redis","ipAddress":"10.1.1.3","networkName":"yellow","ports":["80:8080:TCP"],"selectors":["key1=value1"],"serviceName":"redis","tenantName":"default"})
    );
}

#[test]
fn endpoint_group_round_trip_keeps_lists_and_tags() {
    let body = r#"{"key":"default:web","cfgdTag":"web-tag","groupName":"web","ipPool":"20.1.1.10-20.1.1.20","netProfile":"gold","networkName":"contiv-net","policies":["prod_web"],"tenantName":"default"}"#;
    let g: EndpointGroup = serde_json::from_str(body).unwrap();
    g.validate().unwrap();
    assert_eq!(serde_json::to_string(&g).unwrap(), body);
}
