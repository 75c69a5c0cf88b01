//! The Consul test server checked with an independent client: PyPI's
//! `py-consul` (installed by `make deps` into the venv `<repo>/.venvs/py-consul`,
//! or the interpreter named by `CONTIV_PYTHON`) runs
//! `tests/consul/pyconsul_check.py` against it: KV with CAS, recursion,
//! keys/separator, blocking queries, the 512 KiB limit, `/v1/txn` results,
//! its 409 `Errors` shape and 413 limits, sessions with TTL expiry,
//! behaviours and lock delay, one global index and the ACL token.
//! A missing interpreter or package is a failure, never a skip.

use contiv_store::testing::{ConsulServerConfig, ConsulTestServer};
use std::process::Command;
use std::time::Duration;

fn python() -> String {
    std::env::var("CONTIV_PYTHON").unwrap_or_else(|_| {
        concat!(
            env!("CARGO_MANIFEST_DIR"),
            "/../.venvs/py-consul/bin/python3"
        )
        .to_owned()
    })
}

#[test]
fn py_consul_agrees_with_the_test_server() {
    let token = format!("token-{}", std::process::id());
    let server = ConsulTestServer::start_with(ConsulServerConfig {
        session_ttl_min: Duration::from_secs(1),
        ..ConsulServerConfig::default()
    })
    .expect("start the Consul test server");
    let acl = ConsulTestServer::start_with(ConsulServerConfig {
        acl_token: Some(token.clone()),
        ..ConsulServerConfig::default()
    })
    .expect("start the Consul test server with ACLs");
    let addr = server.addresses()[0].clone();
    let (host, port) = addr.rsplit_once(':').expect("host:port");
    let acl_addr = acl.addresses()[0].clone();
    let (_, acl_port) = acl_addr.rsplit_once(':').expect("host:port");
    let script = concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/tests/consul/pyconsul_check.py"
    );
    let out = Command::new(python())
        .args([script, host, port, acl_port, &token])
        .output()
        .unwrap_or_else(|e| {
            panic!(
                "cannot run {} ({e}): run `make deps` (it installs py-consul into <repo>/.venvs/py-consul)",
                python()
            )
        });
    let stdout = String::from_utf8_lossy(&out.stdout);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        out.status.success(),
        "py-consul checks failed ({}):\n{stdout}\n{stderr}",
        out.status
    );
    let oks = stdout.lines().filter(|l| l.starts_with("ok ")).count();
    assert!(oks >= 13, "expected every check to run, got:\n{stdout}");
    assert!(
        stdout.contains(&format!("{oks} passed, 0 failed")),
        "{stdout}"
    );
    eprintln!("{stdout}");
}
