//! `contiv-store copy SRC DST` moves a netmaster's state to another
//! store: a netmaster on the embedded store creates a network, a group
//! and endpoints; it is stopped; the binary copies its store to the Consul
//! test server; a netmaster started on Consul (same key root) serves the
//! same objects and allocates the next address after the copied ones.
//! A second copy into the now non-empty store is refused (exit 1), bad
//! usage exits 2.

mod support;

use serde_json::json;
use std::process::Command;
use support::TestNetmaster;
use support::stores::{Backend, StoreSpot, shared_consul};

fn contiv_store(args: &[&str]) -> (i32, String, String) {
    let out = Command::new(env!("CARGO_BIN_EXE_contiv-store"))
        .args(args)
        .output()
        .expect("run contiv-store");
    (
        out.status.code().unwrap_or(-1),
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

#[test]
fn copy_moves_a_netmaster_from_embedded_to_consul() {
    let tn = TestNetmaster::start(Backend::Embedded);
    tn.create(
        "networks",
        "default:n1",
        json!({"tenantName": "default", "networkName": "n1", "encap": "vxlan", "subnet": "10.7.0.0/24"}),
    );
    tn.create(
        "endpointGroups",
        "default:web",
        json!({"tenantName": "default", "groupName": "web", "networkName": "n1"}),
    );
    let mut ips = Vec::new();
    for i in 0..3 {
        let r = tn.ok(
            "POST",
            "/api/v1/agent/endpoints/",
            Some(&json!({"id": format!("ep{i}"), "network": "n1", "host": "h1"})),
        );
        ips.push(r["endpoint"]["ipv4"].as_str().unwrap().to_owned());
    }
    let spot = tn.stop();
    let consul = shared_consul();
    let dst = consul.store_url();
    let (code, out, err) = contiv_store(&["copy", "--prefix", &spot.root, &spot.url, &dst]);
    assert_eq!(code, 0, "{out}{err}");
    assert!(out.starts_with("copied "), "{out}");
    assert!(out.contains("lease-bound keys"), "{out}");

    let on_consul = TestNetmaster::start_at(
        StoreSpot {
            url: dst.clone(),
            root: spot.root.clone(),
            dir: tempfile::tempdir().unwrap(),
            etcd: None,
            consul: Some(consul.clone()),
        },
        &[],
    );
    let net = on_consul.inspect("networks", "default:n1");
    assert_eq!(net["Config"]["subnet"], "10.7.0.0/24", "{net}");
    assert_eq!(net["Oper"]["numEndpoints"], 3, "{net}");
    let group = on_consul.inspect("endpointGroups", "default:web");
    assert_eq!(group["Config"]["groupName"], "web", "{group}");
    let r = on_consul.ok(
        "POST",
        "/api/v1/agent/endpoints/",
        Some(&json!({"id": "ep-new", "network": "n1", "host": "h1"})),
    );
    let new_ip = r["endpoint"]["ipv4"].as_str().unwrap().to_owned();
    assert!(
        !ips.contains(&new_ip),
        "{new_ip} was already allocated: {ips:?}"
    );
    drop(on_consul);

    // Copying again into the non-empty destination is refused.
    let (code, _, err) = contiv_store(&["copy", "--prefix", &spot.root, &spot.url, &dst]);
    assert_eq!(code, 1, "{err}");
    assert!(err.contains("--overwrite"), "{err}");
    // Bad usage.
    let (code, _, err) = contiv_store(&["copy", &spot.url]);
    assert_eq!(code, 2, "{err}");
    let (code, _, err) = contiv_store(&["copy", "redis://x:1", &dst]);
    assert_eq!(code, 1, "{err}");
    assert!(err.contains("store URL"), "{err}");
    drop(spot);
}
