//! The async client against the wire-faithful VPP test server, and the
//! official Python client (vpp-papi) against the same server.

// Test code: a failed unwrap is a test failure with its message.
#![allow(clippy::unwrap_used)]

mod support;

use contiv_dp_vpp::api::interface::{
    SwInterfaceDump, SwInterfaceEvent, SwInterfaceSetFlags, WantInterfaceEvents,
};
use contiv_dp_vpp::api::l2::BviCreate;
use contiv_dp_vpp::api::types::{
    IfStatusFlags, NpolPolicyDefault, NpolRuleAction, NpolRuleFilterType,
};
use contiv_dp_vpp::client::{Client, ClientError};
use contiv_dp_vpp::errno;
use contiv_dp_vpp::testing::{ServerConfig, VppTestServer};
use serde_json::json;
use std::sync::Arc;

const UP: IfStatusFlags = IfStatusFlags::IF_STATUS_API_FLAG_ADMIN_UP;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn requests_dumps_errors_and_concurrency() {
    let srv = VppTestServer::start().await.unwrap();
    let c = Arc::new(Client::connect(srv.socket_path(), "t").await.unwrap());
    let ifs = c.dump(&SwInterfaceDump::default()).await.unwrap();
    let names: Vec<_> = ifs.iter().map(|i| i.interface_name.as_str()).collect();
    assert_eq!(names, ["local0", "GigabitEthernet0/8/0"]);
    // VPP's documented error for a bad index, named in the error text.
    let e = c
        .request(&SwInterfaceSetFlags {
            sw_if_index: 99,
            flags: UP,
        })
        .await
        .unwrap_err();
    assert_eq!(e.retval(), Some(errno::INVALID_SW_IF_INDEX));
    assert!(e.to_string().contains("Invalid sw_if_index"), "{e}");
    // Many concurrent calls on one socket, each gets its own reply.
    let mut tasks = Vec::new();
    for _ in 0..32 {
        let c = c.clone();
        tasks.push(tokio::spawn(async move {
            c.request(&BviCreate {
                mac: [0; 6],
                user_instance: u32::MAX,
            })
            .await
            .unwrap()
            .sw_if_index
        }));
    }
    let mut idx = Vec::new();
    for t in tasks {
        idx.push(t.await.unwrap());
    }
    idx.sort();
    idx.dedup();
    assert_eq!(idx.len(), 32, "every caller got its own interface");
    assert_eq!(srv.state().interfaces.len(), 34);
    assert_eq!(c.stats().sent.get("bvi_create"), Some(&32));
}

#[tokio::test]
async fn events_reach_subscribers() {
    let srv = VppTestServer::start().await.unwrap();
    let c = Client::connect(srv.socket_path(), "t").await.unwrap();
    let mut ev = c.events();
    c.request(&WantInterfaceEvents {
        enable_disable: 1,
        pid: 4242,
    })
    .await
    .unwrap();
    c.request(&SwInterfaceSetFlags {
        sw_if_index: 1,
        flags: UP,
    })
    .await
    .unwrap();
    let e = tokio::time::timeout(std::time::Duration::from_secs(5), ev.recv())
        .await
        .unwrap()
        .unwrap();
    let e: SwInterfaceEvent = e.decode().expect("an sw_interface_event");
    assert_eq!(
        (e.pid, e.sw_if_index, e.flags.0 & 1, e.deleted),
        (4242, 1, 1, false)
    );
}

#[tokio::test]
async fn crc_mismatch_and_missing_plugin_are_refused_before_sending() {
    let mut cfg = ServerConfig::default();
    cfg.crc_overrides.insert("bvi_create".into(), 0x1234_5678);
    cfg.omit.push("sw_interface_set_flags".into());
    let srv = VppTestServer::start_with(cfg).await.unwrap();
    let c = Client::connect(srv.socket_path(), "t").await.unwrap();
    let e = c.request(&BviCreate::default()).await.unwrap_err();
    assert!(
        matches!(
            e,
            ClientError::CrcMismatch {
                name: "bvi_create",
                theirs: 0x1234_5678,
                ..
            }
        ),
        "{e}"
    );
    let e = c
        .request(&SwInterfaceSetFlags::default())
        .await
        .unwrap_err();
    assert!(
        matches!(
            e,
            ClientError::Unsupported {
                name: "sw_interface_set_flags"
            }
        ),
        "{e}"
    );
    assert!(
        srv.mutations().is_empty(),
        "nothing was sent: {:?}",
        srv.mutations()
    );
}

#[tokio::test]
async fn reconnects_after_vpp_drops_the_connection() {
    let srv = VppTestServer::start().await.unwrap();
    let c = Client::connect(srv.socket_path(), "t").await.unwrap();
    assert_eq!(c.generation(), 1);
    srv.drop_connections();
    // The first call after the drop may fail (the client learns of it);
    // then the client reconnects by itself.
    let mut ok = false;
    for _ in 0..50 {
        match c.dump(&SwInterfaceDump::default()).await {
            Ok(_) => {
                ok = true;
                break;
            }
            Err(ClientError::Disconnected | ClientError::Io(_)) => {
                tokio::time::sleep(std::time::Duration::from_millis(20)).await;
            }
            Err(e) => panic!("unexpected {e}"),
        }
    }
    assert!(ok, "the client reconnected");
    assert_eq!(c.generation(), 2);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_official_python_client_completes_calls_against_the_test_server() {
    let srv = VppTestServer::start().await.unwrap();
    let out = support::papi::run_official_client(srv.socket_path()).await;
    let st = srv.state();
    let bd_id = out["bd"]["bd_id"].as_u64().unwrap() as u32;
    assert!(st.bds.contains_key(&bd_id));
    assert_eq!(out["bd"]["retval"], 0);
    let bvi = out["bvi"]["sw_if_index"].as_u64().unwrap() as u32;
    for k in [
        "ping",
        "tag",
        "table",
        "set_table",
        "addr",
        "bridge",
        "up",
        "acl_list",
        "ipset",
        "members",
        "rule",
        "policy",
        "configure",
    ] {
        assert_eq!(out[k], 0, "{k}: {out}");
    }
    assert_eq!(out["bad_index"], errno::INVALID_SW_IF_INDEX);
    assert_eq!(out["acl_in_use"], errno::ACL_IN_USE_INBOUND);
    assert_eq!(
        out["interfaces"],
        json!([
            ["GigabitEthernet0/8/0", "", 0],
            ["bvi0", "papi-bvi", 3],
            ["local0", "", 0]
        ])
    );
    assert_eq!(out["acls"], json!([["papi-acl", 2, 2, "10.9.0.0/24"]]));
    assert_eq!(out["bds"], json!([["papi-bd", bvi, 1, true]]));
    assert_eq!(out["addrs"], json!(["10.9.0.1/24"]));
    // cnat as the plugin keeps it: found by VIP, port and protocol (the
    // request's id ignored), updated in place, the freed id reused.
    assert_eq!(out["cnat"]["a"], json!([0, 0]));
    assert_eq!(out["cnat"]["b"], json!([0, 1]));
    assert_eq!(out["cnat"]["a_again"], json!([0, 0]));
    assert_eq!(
        out["cnat"]["dump"],
        json!([
            [0, "10.96.0.1", 80, 6, ["10.9.0.7"], ["10.9.0.1"]],
            [1, "10.96.0.1", 80, 17, ["10.9.0.5"], ["10.9.0.1"]]
        ])
    );
    assert_eq!(out["cnat"]["del"], 0);
    assert_eq!(out["cnat"]["del_again"], errno::NO_SUCH_ENTRY);
    assert_eq!(out["cnat"]["reused"], json!([0, 0]));
    assert_eq!(
        out["tables"],
        json!([
            [0, false, "ipv4-VRF:0"],
            [0, true, "ipv6-VRF:0"],
            [7, false, "t7"]
        ])
    );
    // The server's state is what papi asked for.
    let i = &st.interfaces[&bvi];
    assert_eq!(
        (i.tag.as_str(), i.admin_up, i.table4),
        ("papi-bvi", true, 7)
    );
    assert_eq!(i.acl_in.len(), 1);
    // npol: each union arm papi packed is read as the arm its type names;
    // VPP does not check the sets a rule names, does check interfaces
    // (INVALID_SW_IF_INDEX) and policies (its error path returns 1).
    assert_eq!(out["rule_bad_set"], 0);
    assert_eq!(out["configure_bad_index"], errno::INVALID_SW_IF_INDEX);
    assert_eq!(out["configure_bad_policy"], 1);
    let id = |k: &str| out["npol_ids"][k].as_u64().unwrap() as u32;
    let members: Vec<String> = st.npol.ipsets[&id("set")]
        .members
        .iter()
        .map(ToString::to_string)
        .collect();
    assert_eq!(members, ["10.9.0.5/32", "fd00::5/128"]);
    let rule = &st.npol.rules[&id("rule")];
    assert_eq!(rule.action, NpolRuleAction::NPOL_DENY);
    assert_eq!(
        (rule.filters[0].r#type, rule.filters[0].value),
        (NpolRuleFilterType::NPOL_RULE_FILTER_L4_PROTO, 6)
    );
    let m = &rule.matches;
    assert_eq!(m.len(), 3);
    assert!(m[0].is_src && !m[0].is_not);
    assert_eq!(m[0].data.set_id().set_id, id("set"));
    assert_eq!(m[1].data.cidr().net(), Some("10.9.0.0/24".parse().unwrap()));
    assert!(!m[2].is_src && m[2].is_not);
    let p = m[2].data.port_range();
    assert_eq!((p.start, p.end), (80, 88));
    assert_eq!(st.npol.policies[&id("policy")].len(), 1);
    let cfg = &st.npol.interfaces[&bvi];
    assert_eq!(
        (cfg.rx.clone(), cfg.tx.clone()),
        (vec![id("policy")], vec![])
    );
    assert_eq!(
        cfg.policy_default,
        (
            NpolPolicyDefault::NPOL_DEFAULT_DENY,
            NpolPolicyDefault::NPOL_DEFAULT_ALLOW
        )
    );
    assert_eq!(cfg.profile_default.1, NpolPolicyDefault::NPOL_DEFAULT_PASS);
    assert!(srv.unhandled().is_empty(), "{:?}", srv.unhandled());
}
