//! Mid-size synthetic intent (the bench's shape, scaled down for debug
//! builds): cold load equals scratch compile in any load order, and a
//! single change yields an O(1) delta however much policy is loaded. Sizes,
//! not times: speed lives in `benches/benches/policy.rs`.
#![allow(clippy::unwrap_used)] // test code: a panic is a test failure

use contiv_core::ir::{Direction, PeerMatch};
use contiv_core::model::Rule;
use contiv_policy::synthetic::{
    SyntheticSpec, generate, group_name, host_v4, network_of_group, tenant_name, tenant_of_group,
};
use contiv_policy::{Compiler, EndpointInput, compile};
use std::collections::HashMap;
use std::net::IpAddr;

fn spec() -> SyntheticSpec {
    SyntheticSpec {
        tenants: 3,
        networks_per_tenant: 3,
        epgs: 150,
        rules_per_policy: 20,
        endpoints: 1500,
        seed: 7,
    }
}

#[test]
fn synthetic_intent_has_the_advertised_shape() {
    let s = spec();
    let intent = generate(&s);
    assert_eq!(intent.epgs.len(), 150);
    assert_eq!(intent.rules.len(), 3000);
    assert_eq!(intent.endpoints.len(), 1500);
    let ir = compile(&intent).unwrap();
    assert_eq!(
        ir.rules.len(),
        3000,
        "one policy per group, every pair resolves"
    );
    assert_eq!(
        ir.members.len(),
        1500 + 150,
        "one in ten endpoints also has IPv6"
    );
    let mut kinds: HashMap<&str, usize> = HashMap::new();
    for r in ir.rules.values() {
        let k = match &r.peer {
            PeerMatch::Any => "any",
            PeerMatch::Epg(_) => "epg",
            PeerMatch::AddrSet(id) if id.0.starts_with("net:") => "net",
            PeerMatch::AddrSet(_) => "cidr",
        };
        *kinds.entry(k).or_default() += 1;
        *kinds
            .entry(if r.direction == Direction::In {
                "in"
            } else {
                "out"
            })
            .or_default() += 1;
    }
    for k in ["any", "epg", "net", "cidr", "in", "out"] {
        assert!(kinds.get(k).copied().unwrap_or(0) > 150, "{k}: {kinds:?}");
    }
    // Same seed, same intent.
    assert_eq!(generate(&s), intent);
}

#[test]
fn cold_load_in_any_order_equals_scratch_compile() {
    let intent = generate(&spec());
    let scratch = compile(&intent).unwrap();
    assert_eq!(Compiler::from_intent(&intent).unwrap().ir(), &scratch);

    // Dependencies last: every pair resolves only at the very end.
    let mut c = Compiler::new();
    for ep in intent.endpoints.values().rev() {
        c.upsert_endpoint(ep).unwrap();
    }
    for r in intent.rules.values().rev() {
        c.upsert_rule(r).unwrap();
    }
    for e in intent.epgs.values().rev() {
        c.upsert_epg(&e.group, e.id).unwrap();
    }
    for n in intent.networks.values() {
        c.upsert_network(n).unwrap();
    }
    assert!(c.ir().rules.is_empty(), "no tenant id yet");
    for (name, &id) in &intent.tenants {
        c.upsert_tenant(name, id).unwrap();
    }
    assert_eq!(c.ir(), &scratch);
}

#[test]
fn single_changes_yield_constant_size_deltas_at_scale() {
    let s = spec();
    let intent = generate(&s);
    let mut c = Compiler::from_intent(&intent).unwrap();
    // The group named as peer by the most rules.
    let ir = c.ir();
    let mut refs: HashMap<u32, usize> = HashMap::new();
    for r in ir.rules.values() {
        if let PeerMatch::Epg(g) = r.peer {
            *refs.entry(g).or_default() += 1;
        }
    }
    let (&busiest, &nrefs) = refs.iter().max_by_key(|(g, n)| (**n, **g)).unwrap();
    assert!(nrefs >= 10, "the busiest group is named by {nrefs} rules");
    let k = busiest as usize - 1;
    let (t, j) = (tenant_of_group(&s, k), network_of_group(&s, k));
    let addr = IpAddr::V4(host_v4(t, j, 3000));

    let join = EndpointInput::new(
        "new",
        &tenant_name(t),
        &format!("n{j}"),
        Some(&group_name(k)),
        [addr],
    );
    let d = c.upsert_endpoint(&join).unwrap();
    assert_eq!(d.len(), 1, "joining a group named by {nrefs} rules: {d:?}");
    let d = c.remove_endpoint("new").unwrap();
    assert_eq!(d.len(), 1);

    let r = Rule {
        tenant_name: tenant_name(t),
        policy_name: format!("p{k}"),
        rule_id: "extra".into(),
        direction: "in".into(),
        action: "deny".into(),
        protocol: "tcp".into(),
        port: 9999,
        from_ip_address: "172.16.0.0/12".into(),
        ..Rule::default()
    };
    let d = c.upsert_rule(&r).unwrap();
    assert_eq!(
        (d.rules_added.len(), d.sets_upserted.len(), d.len()),
        (1, 1, 2),
        "{d:?}"
    );
    let d = c
        .remove_rule(&format!("{}:p{k}:extra", tenant_name(t)))
        .unwrap();
    assert_eq!(
        (d.rules_removed.len(), d.sets_removed.len(), d.len()),
        (1, 1, 2),
        "{d:?}"
    );
    assert_eq!(c.ir(), &compile(&intent).unwrap());
}
