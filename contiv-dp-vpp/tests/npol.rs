//! The npol policy engine against the test server: an endpoint joining a
//! group costs a constant number of calls however many groups name it;
//! resync sends nothing when nothing differs; a VPP restart or a dropped
//! connection is recovered; the engine is chosen from the message table;
//! the server answers bad npol requests with VPP's return values.

// Test code: a failed unwrap is a test failure with its message.
#![allow(clippy::unwrap_used)]

mod support;

use contiv_core::datapath::{Datapath, DesiredState, DpOp};
use contiv_core::ir::{Action, Direction, Membership, PeerMatch, PolicyDelta, RuleId};
use contiv_dp_vpp::api::npol;
use contiv_dp_vpp::api::types::{
    NpolEntryData, NpolEntrySetId, NpolEntryType, NpolPolicyDefault, NpolRule, NpolRuleEntry,
};
use contiv_dp_vpp::datapath::{PolicyEngine, VppDatapath};
use contiv_dp_vpp::errno;
use contiv_dp_vpp::testing::{ServerConfig, VppTestServer};
use std::net::IpAddr;
use support::fixture::{self, scenario};

/// `n` local groups (10..10+n), one member each, each with an `in` rule
/// allowing TCP from group 2; plus the scenario.
fn many_groups_naming_2(n: u32) -> DesiredState {
    let mut d = scenario();
    let vx = fixture::vxnet();
    for i in 0..n {
        let g = 10 + i;
        let host = u8::try_from(100 + i).unwrap();
        let e = fixture::local(&format!("g{g}"), &vx, host, g);
        d.policy
            .members
            .insert((1, IpAddr::V4(e.ipv4.unwrap().addr())), g);
        d.local_endpoints.push(e);
        let r = fixture::rule(
            100 + u64::from(i),
            1,
            g,
            Direction::In,
            PeerMatch::Epg(2),
            Some(6),
            None,
            1,
            Action::Allow,
        );
        d.policy.rules.insert(r.id, r);
    }
    d
}

fn npol_calls(m: &[String]) -> Vec<String> {
    m.iter()
        .filter(|n| n.starts_with("npol_"))
        .cloned()
        .collect()
}

/// Mutations of: a new endpoint joins group 2 (named by `n` groups).
async fn join_cost(n: u32, engine: PolicyEngine) -> Vec<String> {
    let srv = VppTestServer::start().await.unwrap();
    let mut cfg = fixture::config(&srv);
    cfg.policy = engine;
    let dp = VppDatapath::connect(cfg).await.unwrap();
    dp.resync(&many_groups_naming_2(n)).await.unwrap();
    srv.clear_log();
    let e = fixture::local("joiner", &fixture::vxnet(), 77, 2);
    let ip: IpAddr = IpAddr::V4(e.ipv4.unwrap().addr());
    dp.apply(vec![
        DpOp::AddLocalEndpoint(e),
        DpOp::Policy(PolicyDelta {
            members_added: vec![Membership {
                tenant: 1,
                ip,
                epg: 2,
            }],
            ..PolicyDelta::default()
        }),
    ])
    .await
    .unwrap();
    // The joiner is enforced: in group 2's set (npol) or in the ACLs of
    // the groups naming group 2 (ACL engine).
    let st = srv.state();
    if engine == PolicyEngine::Npol {
        assert!(st.npol.ipsets.values().any(|s| s.contains(&ip)));
    } else {
        let host = contiv_dp_vpp::api::types::Prefix::from_net(ipnet::IpNet::from(ip));
        let naming = st
            .acls
            .values()
            .filter(|a| a.rules.iter().any(|r| r.src_prefix == host))
            .count();
        // The n groups and the scenario's group 1 name group 2.
        assert_eq!(
            naming as u32,
            n + 1,
            "one ACL per naming group holds the joiner"
        );
    }
    srv.mutations()
}

#[tokio::test]
async fn a_join_costs_the_same_calls_however_many_groups_name_the_group() {
    let few = join_cost(1, PolicyEngine::Npol).await;
    let many = join_cost(24, PolicyEngine::Npol).await;
    assert_eq!(few, many, "join cost independent of the naming groups");
    // Group 2 has no rules of its own: the join is one set update.
    assert_eq!(npol_calls(&many), ["npol_ipset_add_del_members"]);
    // The ACL engine rewrites one ACL per naming group.
    let acl = join_cost(24, PolicyEngine::Acl).await;
    let rewrites = acl.iter().filter(|m| *m == "acl_add_replace").count();
    assert_eq!(rewrites, 24 + 1, "24 naming groups + group 1");
}

#[tokio::test]
async fn a_member_joining_a_group_with_rules_is_two_npol_calls() {
    let (srv, dp) = fixture::start_npol().await;
    let d = many_groups_naming_2(6);
    dp.resync(&d).await.unwrap();
    let st = srv.state();
    // One policy per local group with rules: group 1 and the six.
    assert_eq!(st.npol.policies.len(), 7);
    assert_eq!(st.npol.ipsets.len(), 1, "one set: group 2");
    let set = st.npol.ipsets.values().next().unwrap();
    let ips: Vec<String> = set.members.iter().map(ToString::to_string).collect();
    assert_eq!(ips, ["10.1.0.11/32", "10.1.0.12/32"]);
    // An existing endpoint of group 2 moves to group 1: one set update
    // (leaves group 2), one interface configuration (group 1's policy).
    srv.clear_log();
    let ip = fixture::move_web2_to_group_1(&dp, &d).await;
    assert_eq!(
        srv.mutations(),
        ["npol_ipset_add_del_members", "npol_configure_policies"]
    );
    let st = srv.state();
    let set = st.npol.ipsets.values().next().unwrap();
    assert!(!set.contains(&ip));
    let web2_if = st.by_tag("cv:tap:web2").unwrap();
    let web1_if = st.by_tag("cv:tap:web1").unwrap();
    assert_eq!(st.npol.interfaces[&web2_if], st.npol.interfaces[&web1_if]);
    // No ACL at all under npol.
    assert!(st.acls.is_empty());
}

#[tokio::test]
async fn resync_sends_nothing_when_nothing_differs_and_cleans_up() {
    let (srv, dp) = fixture::start_npol().await;
    let d = many_groups_naming_2(3);
    let r = dp.resync(&d).await.unwrap();
    assert!(r.added > 0);
    let before = srv.state().npol;
    srv.clear_log();
    let r = dp.resync(&d).await.unwrap();
    assert_eq!((r.added, r.removed), (0, 0));
    assert!(srv.mutations().is_empty(), "{:?}", srv.mutations());
    // A changed rule is one update; removing a group's rules removes its
    // policy, the rule, and unconfigures its member.
    let mut d2 = d.clone();
    d2.policy.rules.get_mut(&RuleId(100)).unwrap().action = Action::Deny;
    d2.policy.rules.remove(&RuleId(101));
    srv.clear_log();
    dp.resync(&d2).await.unwrap();
    let mut m = srv.mutations();
    m.sort();
    assert_eq!(
        m,
        [
            "npol_configure_policies",
            "npol_policy_delete",
            "npol_rule_delete",
            "npol_rule_update"
        ]
    );
    // Everything gone with the policy: the plugin is empty again.
    dp.resync(&DesiredState::default()).await.unwrap();
    let st = srv.state().npol;
    assert!(st.ipsets.is_empty() && st.rules.is_empty() && st.policies.is_empty());
    assert!(st.interfaces.is_empty());
    assert!(!before.rules.is_empty());
}

#[tokio::test]
async fn a_restarted_vpp_or_a_dropped_connection_gets_the_same_npol_state() {
    let (srv, dp) = fixture::start_npol().await;
    let d = many_groups_naming_2(2);
    dp.resync(&d).await.unwrap();
    let shape = |s: &contiv_dp_vpp::testing::npol::NpolState| {
        (
            s.ipsets.len(),
            s.rules.len(),
            s.policies.len(),
            s.interfaces.len(),
            s.ipsets
                .values()
                .map(|x| x.members.clone())
                .collect::<Vec<_>>(),
        )
    };
    let want = shape(&srv.state().npol);
    // VPP restarts: everything is recreated on the next call.
    srv.restart();
    // (as in datapath_server.rs: the client notices the closed socket)
    tokio::time::sleep(std::time::Duration::from_millis(50)).await;
    dp.apply(vec![]).await.unwrap();
    assert_eq!(shape(&srv.state().npol), want);
    // The connection drops, VPP keeps its state: the old objects are
    // deleted, not leaked.
    srv.drop_connections();
    tokio::time::sleep(std::time::Duration::from_millis(50)).await;
    dp.apply(vec![]).await.unwrap();
    assert_eq!(shape(&srv.state().npol), want);
    assert_eq!(dp.stats().await.reconnect_resyncs, 2);
}

#[tokio::test]
async fn the_engine_is_chosen_from_the_message_table() {
    let omit: Vec<String> = contiv_dp_vpp::api::MESSAGES
        .iter()
        .filter(|m| m.name.starts_with("npol_"))
        .map(|m| m.name.to_owned())
        .collect();
    let srv = VppTestServer::start_with(ServerConfig {
        omit,
        ..ServerConfig::default()
    })
    .await
    .unwrap();
    let err = VppDatapath::connect(fixture::npol_config(&srv))
        .await
        .unwrap_err();
    assert!(err.to_string().contains("npol"), "{err}");
    let mut cfg = fixture::config(&srv);
    cfg.policy = PolicyEngine::Auto;
    let dp = VppDatapath::connect(cfg).await.unwrap();
    assert_eq!(dp.config().policy, PolicyEngine::Acl);
    dp.resync(&scenario()).await.unwrap();
    assert!(!srv.state().acls.is_empty());
    // With npol announced, Auto picks npol; taking over from the ACL
    // engine removes its ACLs.
    let srv = VppTestServer::start().await.unwrap();
    let acl = VppDatapath::connect(fixture::config(&srv)).await.unwrap();
    acl.resync(&scenario()).await.unwrap();
    assert!(!srv.state().acls.is_empty());
    let mut cfg = fixture::config(&srv);
    cfg.policy = PolicyEngine::Auto;
    let dp = VppDatapath::connect(cfg).await.unwrap();
    assert_eq!(dp.config().policy, PolicyEngine::Npol);
    dp.resync(&scenario()).await.unwrap();
    let st = srv.state();
    assert!(st.acls.is_empty());
    assert!(st.interfaces.values().all(|i| i.acl_in.is_empty()));
    assert_eq!(st.npol.policies.len(), 1);
}

#[tokio::test]
async fn the_server_answers_npol_requests_as_the_plugins_handlers_do() {
    let (srv, dp) = fixture::start_npol().await;
    let c = dp.client();
    let rv = |e: contiv_dp_vpp::client::ClientError| e.retval();
    let set_rule = |set_id| NpolRule {
        matches: vec![NpolRuleEntry {
            is_src: true,
            is_not: false,
            r#type: NpolEntryType::NPOL_IP_SET,
            data: NpolEntryData::from_set_id(&NpolEntrySetId { set_id }),
        }],
        ..NpolRule::default()
    };
    // Ids come from one pool per kind: the first set, rule and policy are
    // all 0.
    let s = c.request(&npol::NpolIpsetCreate::default()).await.unwrap();
    assert_eq!(s.set_id, 0);
    // VPP does not check the sets a rule names.
    let r = c
        .request(&npol::NpolRuleCreate { rule: set_rule(99) })
        .await
        .unwrap();
    assert_eq!(r.rule_id, 0);
    // An entry of an unknown type is -1.
    let mut bad = set_rule(0);
    bad.matches[0].r#type = NpolEntryType(9);
    let e = c
        .request(&npol::NpolRuleCreate { rule: bad })
        .await
        .unwrap_err();
    assert_eq!(rv(e), Some(errno::UNSPECIFIED));
    // Updating an unknown rule creates one.
    c.request(&npol::NpolRuleUpdate {
        rule_id: 77,
        rule: set_rule(s.set_id),
    })
    .await
    .unwrap();
    assert_eq!(srv.state().npol.rules.len(), 2);
    assert!(!srv.state().npol.rules.contains_key(&77));
    // Deleting unknown objects is NO_SUCH_ENTRY; a freed id is reused.
    for e in [
        c.request(&npol::NpolIpsetDelete { set_id: 99 })
            .await
            .unwrap_err(),
        c.request(&npol::NpolRuleDelete { rule_id: 99 })
            .await
            .unwrap_err(),
        c.request(&npol::NpolPolicyDelete { policy_id: 99 })
            .await
            .unwrap_err(),
    ] {
        assert_eq!(rv(e), Some(errno::NO_SUCH_ENTRY));
    }
    c.request(&npol::NpolIpsetDelete { set_id: s.set_id })
        .await
        .unwrap();
    let again = c.request(&npol::NpolIpsetCreate::default()).await.unwrap();
    assert_eq!(again.set_id, s.set_id);
    // Members: unknown set, duplicates kept, one removed per removal.
    let add = |set_id, is_add, ip: &str| npol::NpolIpsetAddDelMembers {
        set_id,
        is_add,
        members: vec![contiv_dp_vpp::api::types::NpolIpsetMember {
            val: contiv_dp_vpp::api::types::NpolIpsetMemberVal::from_address(
                &contiv_dp_vpp::api::types::Address::from_ip(ip.parse().unwrap()),
            ),
        }],
    };
    let e = c.request(&add(42, true, "10.0.0.1")).await.unwrap_err();
    assert_eq!(rv(e), Some(errno::NO_SUCH_ENTRY));
    c.request(&add(again.set_id, true, "10.0.0.1"))
        .await
        .unwrap();
    c.request(&add(again.set_id, true, "10.0.0.1"))
        .await
        .unwrap();
    c.request(&add(again.set_id, false, "10.0.0.1"))
        .await
        .unwrap();
    let ip: IpAddr = "10.0.0.1".parse().unwrap();
    assert!(srv.state().npol.ipsets[&again.set_id].contains(&ip));
    // Policies do not check their rules.
    let p = c
        .request(&npol::NpolPolicyCreate {
            rules: vec![contiv_dp_vpp::api::types::NpolPolicyItem {
                is_inbound: true,
                rule_id: 42,
            }],
        })
        .await
        .unwrap();
    let cfg = |sw_if_index, rx, ids: Vec<u32>| npol::NpolConfigurePolicies {
        sw_if_index,
        num_rx_policies: rx,
        num_tx_policies: 0,
        invert_rx_tx: 0,
        policy_default_rx: NpolPolicyDefault::NPOL_DEFAULT_ALLOW,
        policy_default_tx: NpolPolicyDefault::NPOL_DEFAULT_ALLOW,
        profile_default_rx: NpolPolicyDefault::NPOL_DEFAULT_ALLOW,
        profile_default_tx: NpolPolicyDefault::NPOL_DEFAULT_ALLOW,
        policy_ids: ids,
    };
    let e = c
        .request(&cfg(777, 1, vec![p.policy_id]))
        .await
        .unwrap_err();
    assert_eq!(rv(e), Some(errno::INVALID_SW_IF_INDEX));
    let e = c
        .request(&cfg(0, 1, vec![p.policy_id + 1]))
        .await
        .unwrap_err();
    assert_eq!(rv(e), Some(1));
    // (the server's own guard: VPP would underflow the profile count)
    let e = c.request(&cfg(0, 2, vec![p.policy_id])).await.unwrap_err();
    assert_eq!(rv(e), Some(errno::INVALID_VALUE));
    c.request(&cfg(0, 1, vec![p.policy_id])).await.unwrap();
    // No ids: configured with empty lists (the defaults decide).
    c.request(&cfg(0, 0, vec![])).await.unwrap();
    let st = srv.state();
    assert!(st.npol.interfaces[&0].rx.is_empty());
    // The version VPP's handler reports.
    let v = c.request(&npol::NpolGetVersion::default()).await.unwrap();
    assert_eq!((v.major, v.minor), (0, 0));
}
