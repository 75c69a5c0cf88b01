//! One rule-shape validation for the API and the compiler (issue 12,
//! point 1): every rule netmaster's model validation accepts, the
//! incremental compiler accepts, and — names and key being valid — every
//! rule the compiler accepts, the model accepts. Before the shared
//! `Rule::shape`, a rule naming a group and an address was stored by
//! netmaster and refused by every agent forever.

use contiv_core::model::{ModelObject, Rule};
use contiv_policy::Compiler;
use proptest::prelude::*;

/// Field values that matter to the shape: empty, valid, and invalid ones.
fn peer_name() -> impl Strategy<Value = String> {
    prop_oneof![
        Just(String::new()),
        Just("web".to_owned()),
        Just("net1".to_owned())
    ]
}

fn ip() -> impl Strategy<Value = String> {
    prop_oneof![
        3 => Just(String::new()),
        1 => Just("10.1.1.7".to_owned()),
        1 => Just("10.1.0.0/16".to_owned()),
        1 => Just("10.1.1.7/32".to_owned()),
        1 => Just("10.1.1.1-20".to_owned()),
        1 => Just("2001:db8::1".to_owned()),
        1 => Just("fd00::/120".to_owned()),
        1 => Just("fd00::/128".to_owned()),
        1 => Just("garbage".to_owned()),
    ]
}

fn rule() -> impl Strategy<Value = Rule> {
    (
        prop_oneof![Just("in"), Just("out"), Just("both"), Just("")],
        prop_oneof![Just("allow"), Just("deny"), Just("accept")],
        (
            peer_name(),
            peer_name(),
            ip(),
            peer_name(),
            peer_name(),
            ip(),
        ),
        prop_oneof![
            Just(""),
            Just("tcp"),
            Just("udp"),
            Just("icmp"),
            Just("0"),
            Just("47"),
            Just("256"),
            Just("TCP")
        ],
        prop_oneof![Just(0i64), Just(80), Just(65535), Just(65536), Just(-1)],
        prop_oneof![Just(0i64), Just(1), Just(100), Just(101), Just(-3)],
    )
        .prop_map(|(dir, action, peers, proto, port, prio)| {
            let (fg, fnet, fip, tg, tnet, tip) = peers;
            let mut r = Rule {
                key: "default:p:1".into(),
                tenant_name: "default".into(),
                policy_name: "p".into(),
                rule_id: "1".into(),
                direction: dir.into(),
                action: action.into(),
                from_endpoint_group: fg,
                from_network: fnet,
                from_ip_address: fip,
                to_endpoint_group: tg,
                to_network: tnet,
                to_ip_address: tip,
                protocol: proto.into(),
                port,
                priority: prio,
            };
            r.apply_defaults();
            r
        })
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(4000))]

    #[test]
    fn the_api_and_the_compiler_accept_the_same_rules(r in rule()) {
        let api = r.validate();
        let compiled = Compiler::new().upsert_rule(&r);
        if api.is_ok() {
            prop_assert!(compiled.is_ok(), "netmaster accepts {r:?} but the compiler refuses it: {:?}", compiled.err());
        } else {
            prop_assert!(compiled.is_err(), "the compiler realises {r:?} but netmaster refuses it: {:?}", api.err());
        }
    }
}

/// The case the issue reproduced, spelled out.
#[test]
fn a_group_and_an_address_as_peers_is_refused_by_both() {
    let mut r = Rule {
        key: "default:p:1".into(),
        tenant_name: "default".into(),
        policy_name: "p".into(),
        rule_id: "1".into(),
        direction: "in".into(),
        action: "deny".into(),
        from_endpoint_group: "web".into(),
        from_ip_address: "10.1.1.0/24".into(),
        ..Rule::default()
    };
    r.apply_defaults();
    let e = r.validate().unwrap_err();
    assert!(e.message.contains("at most one peer"), "{e}");
    assert!(Compiler::new().upsert_rule(&r).is_err());
}
