//! Runs every example binary and checks what it reports (the examples also
//! check themselves and exit non-zero on any mismatch). `ping-deny`
//! needs root (and the OVS binaries for `ovs`), like the datapath tests:
//! without them it fails, never skips.

use std::process::Command;

/// Runs `cmd` (a binary and its arguments); asserts success and that
/// stdout holds every `expected`.
fn runs(cmd: &[&str], expected: &[&str]) {
    let bin = cmd[0];
    let out = Command::new(bin)
        .args(&cmd[1..])
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
        &[env!("CARGO_BIN_EXE_policy-oracle")],
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

/// What `ping-deny` must report on every backend.
const PING_DENY: [&str; 3] = [
    "web -> db ping: answered (oracle: allow",
    "web -> db ping after the deny rule: dropped (oracle: deny: decided at ingress: rule 1",
    "web -> db ping after removing the rule: answered",
];

#[test]
fn ping_deny_on_ovs_pings_then_blocks_then_pings() {
    let mut expected = PING_DENY.to_vec();
    expected.extend(["a private ovs datapath", "ping-deny ok on ovs"]);
    runs(&[env!("CARGO_BIN_EXE_ping-deny"), "ovs"], &expected);
}

#[test]
fn ping_deny_on_ebpf_pings_then_blocks_then_pings() {
    let mut expected = PING_DENY.to_vec();
    expected.extend(["a private ebpf datapath", "ping-deny ok on ebpf"]);
    runs(&[env!("CARGO_BIN_EXE_ping-deny"), "ebpf"], &expected);
}

#[test]
fn embedded_control_plane_reaches_the_datapath() {
    runs(
        &[env!("CARGO_BIN_EXE_embedded-control-plane")],
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
        &[env!("CARGO_BIN_EXE_ipam-own-store")],
        &[
            "two allocators handed out 40 addresses, 40 distinct, 10.1.2.1 to 10.1.2.40",
            "requesting 10.1.2.254: refused",
            "released 10.1.2.7; the next allocation got 10.1.2.7",
            "ipam-own-store ok",
        ],
    );
}
