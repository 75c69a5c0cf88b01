//! Runs every example binary and checks what it reports (the examples also
//! check themselves and exit non-zero on any mismatch). `ovs-ping-deny`
//! needs root and the OVS binaries, like the OVS tests: without them it
//! fails, never skips.

use std::process::Command;

/// Runs `bin`; asserts success and that stdout holds every `expected`.
fn runs(bin: &str, expected: &[&str]) {
    let out = Command::new(bin)
        .output()
        .unwrap_or_else(|e| panic!("run {bin}: {e}"));
    let stdout = String::from_utf8_lossy(&out.stdout);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        out.status.success(),
        "{bin}: exit {:?}\n{stdout}\n{stderr}",
        out.status
    );
    for e in expected {
        assert!(stdout.contains(e), "missing {e:?} in:\n{stdout}");
    }
}

#[test]
fn policy_oracle_explains_its_verdicts() {
    runs(
        env!("CARGO_BIN_EXE_policy-oracle"),
        &[
            "compiled: 2 rules, 2 memberships",
            "web -> db tcp/5432     allow: decided at ingress: rule 2 of policy default:db-policy",
            "web -> db tcp/22       deny: decided at ingress: rule 1 of policy default:db-policy",
            "reply of db -> web     allow: reply of an allowed connection",
            "rule 3 added: delta adds 1 rule(s), removes 0",
            "policy-oracle ok",
        ],
    );
}

#[test]
fn ovs_ping_deny_pings_then_blocks_then_pings() {
    runs(
        env!("CARGO_BIN_EXE_ovs-ping-deny"),
        &[
            "web -> db ping: answered (oracle: allow",
            "web -> db ping after the deny rule: dropped (oracle: deny: decided at ingress: rule 1",
            "web -> db ping after removing the rule: answered",
            "ovs-ping-deny ok",
        ],
    );
}

#[test]
fn embedded_control_plane_reaches_the_datapath() {
    runs(
        env!("CARGO_BIN_EXE_embedded-control-plane"),
        &[
            "created network default:contiv-net",
            "netplugin on host-1 registered and synced",
            "endpoint db-1 got 10.1.2.1 (mac 02:02:0a:01:02:01) from netmaster",
            "datapath holds 1 network(s), 1 local endpoint(s), 1 rule(s), 1 membership(s)",
            "embedded-control-plane ok",
        ],
    );
}

#[test]
fn ipam_on_an_own_store_never_duplicates() {
    runs(
        env!("CARGO_BIN_EXE_ipam-own-store"),
        &[
            "two allocators handed out 40 addresses, 40 distinct, 10.1.2.1 to 10.1.2.40",
            "requesting 10.1.2.254: refused",
            "released 10.1.2.7; the next allocation got 10.1.2.7",
            "ipam-own-store ok",
        ],
    );
}
