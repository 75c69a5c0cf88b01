//! Running the official VPP Python binding (vpp-papi 2.4.2 from PyPI, in
//! the venv `make deps` creates) from tests.

#![allow(dead_code)]

use contiv_dp_vpp::api::{MESSAGES, papi_args};
use contiv_dp_vpp::wire::HeaderKind;
use serde_json::{Value, json};
use std::io::Write;
use std::path::PathBuf;
use std::process::{Command, Stdio};

/// The crate's copy of the `.api.json` files.
pub fn api_dir() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("api")
}

/// A script next to this file.
pub fn script(name: &str) -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("tests/papi")
        .join(name)
}

/// The venv's Python (`CONTIV_VPP_PAPI_PYTHON` overrides). A missing venv
/// fails the test with the command that installs it.
pub fn python() -> PathBuf {
    let p = std::env::var_os("CONTIV_VPP_PAPI_PYTHON")
        .map(PathBuf::from)
        .unwrap_or_else(|| {
            PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../.venvs/vpp-papi/bin/python3")
        });
    assert!(
        p.exists(),
        "vpp-papi venv missing at {} — run `make deps` (scripts/deps.sh installs vpp-papi 2.4.2 from PyPI)",
        p.display()
    );
    let ok = Command::new(&p)
        .args(["-c", "import vpp_papi"])
        .status()
        .map(|s| s.success())
        .unwrap_or(false);
    assert!(
        ok,
        "{} cannot import vpp_papi — run `make deps`",
        p.display()
    );
    p
}

/// Packs `(name, args)` pairs with vpp-papi; one result per input.
pub fn pack_all(items: &[(String, Value)]) -> Vec<Result<Vec<u8>, String>> {
    let input: Vec<Value> = items
        .iter()
        .map(|(n, a)| json!({"name": n, "args": a}))
        .collect();
    let mut child = Command::new(python())
        .arg(script("golden.py"))
        .arg(api_dir())
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("start golden.py");
    let body = serde_json::to_vec(&input).expect("json");
    let mut stdin = child.stdin.take().expect("stdin");
    let writer = std::thread::spawn(move || stdin.write_all(&body));
    let out = child.wait_with_output().expect("golden.py runs");
    writer.join().expect("writer").expect("write stdin");
    assert!(
        out.status.success(),
        "golden.py failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    let v: Vec<Value> = serde_json::from_slice(&out.stdout).expect("golden.py output");
    assert_eq!(v.len(), items.len());
    v.into_iter()
        .map(
            |r| match (r.get("hex").and_then(Value::as_str), r.get("error")) {
                (Some(h), _) => Ok((0..h.len())
                    .step_by(2)
                    .map(|i| u8::from_str_radix(&h[i..i + 2], 16).expect("hex"))
                    .collect()),
                (None, e) => Err(e.map(|e| e.to_string()).unwrap_or_default()),
            },
        )
        .collect()
}

/// vpp-papi's arguments for a raw message we encoded: the body decoded by
/// our codec, plus the header fields.
pub fn papi_form(name: &str, raw: &[u8]) -> Value {
    let (hdr, mut args) = papi_args(name, raw)
        .unwrap_or_else(|| panic!("unknown message {name}"))
        .unwrap_or_else(|e| panic!("our decoder refused our own {name}: {e}"));
    let kind = MESSAGES
        .iter()
        .find(|m| m.name == name)
        .map(|m| m.header)
        .expect("message info");
    let m = args.as_object_mut().expect("object");
    m.insert("_vl_msg_id".into(), json!(hdr.msg_id));
    if kind.client_index_offset().is_some() {
        m.insert("client_index".into(), json!(hdr.client_index));
    }
    if kind.context_offset().is_some() {
        m.insert("context".into(), json!(hdr.context));
    }
    let _ = HeaderKind::Bare;
    args
}

/// Checks raw messages against vpp-papi: for each, papi packs the values
/// our decoder reads from it, and the bytes must be identical. Returns the
/// names checked.
pub fn assert_papi_packs_identically(raw: &[(String, Vec<u8>)]) -> Vec<String> {
    let items: Vec<(String, Value)> = raw
        .iter()
        .map(|(n, b)| (n.clone(), papi_form(n, b)))
        .collect();
    let packed = pack_all(&items);
    let mut failures = Vec::new();
    for (((name, ours), (_, args)), theirs) in raw.iter().zip(&items).zip(packed) {
        match theirs {
            Ok(t) if &t == ours => {}
            Ok(t) => failures.push(format!(
                "{name}: ours {} != papi {} (args {args})",
                hex(ours),
                hex(&t)
            )),
            Err(e) => failures.push(format!("{name}: papi refused {args}: {e}")),
        }
    }
    assert!(
        failures.is_empty(),
        "{} of {} messages differ from vpp-papi:\n{}",
        failures.len(),
        raw.len(),
        failures.join("\n")
    );
    raw.iter().map(|(n, _)| n.clone()).collect()
}

/// Lower-case hex.
pub fn hex(b: &[u8]) -> String {
    b.iter().map(|x| format!("{x:02x}")).collect()
}

/// Runs the official client (`client.py`) against the socket at `sock`;
/// returns what it printed. Runs on a blocking thread so the server's
/// runtime keeps serving.
pub async fn run_official_client(sock: &std::path::Path) -> Value {
    let py = python();
    let sock = sock.to_owned();
    let out = tokio::task::spawn_blocking(move || {
        Command::new(py)
            .arg(script("client.py"))
            .arg(api_dir())
            .arg(sock)
            .output()
            .expect("run client.py")
    })
    .await
    .expect("join");
    assert!(
        out.status.success(),
        "vpp-papi client failed against the test server:\n{}",
        String::from_utf8_lossy(&out.stderr)
    );
    serde_json::from_slice(&out.stdout).expect("client.py prints JSON")
}
