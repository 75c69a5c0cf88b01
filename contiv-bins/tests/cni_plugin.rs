//! The `contiv-cni` binary as a runtime calls it (environment + netconf on
//! stdin, result or error JSON on stdout, exit code), against a live agent
//! socket and a real netmaster, with real network namespaces: every
//! command, every result format, the error codes, DEL idempotency.

#[path = "netplugin_support/mod.rs"]
mod support;

#[cfg(test)]
mod cni {
    use super::support::{Cluster, Netns, TestAgent};
    use serde_json::{Value, json};
    use std::path::Path;
    use tokio::io::AsyncWriteExt;

    const BIN: &str = env!("CARGO_BIN_EXE_contiv-cni");

    /// An error case: what, environment, stdin, expected code.
    type Case<'a> = (&'a str, Vec<(&'a str, &'a str)>, Vec<u8>, u64);

    struct Out {
        code: i32,
        json: Value,
        raw: String,
    }

    async fn cni(cmd: &str, env: &[(&str, &str)], conf: &Value) -> Out {
        cni_raw(cmd, env, conf.to_string().as_bytes()).await
    }

    async fn cni_raw(cmd: &str, env: &[(&str, &str)], stdin: &[u8]) -> Out {
        let mut c = tokio::process::Command::new(BIN);
        c.env_clear()
            .env("CNI_COMMAND", cmd)
            .env("CNI_PATH", "/nonexistent");
        for (k, v) in env {
            c.env(k, v);
        }
        c.stdin(std::process::Stdio::piped())
            .stdout(std::process::Stdio::piped());
        let mut child = c.spawn().expect("contiv-cni runs");
        let mut si = child.stdin.take().expect("stdin");
        si.write_all(stdin).await.expect("write stdin");
        drop(si);
        let out = child.wait_with_output().await.expect("contiv-cni exits");
        let raw = String::from_utf8_lossy(&out.stdout).into_owned();
        Out {
            code: out.status.code().unwrap_or(-1),
            json: serde_json::from_str(raw.trim()).unwrap_or(Value::Null),
            raw,
        }
    }

    fn conf(version: &str, socket: &Path, extra: Value) -> Value {
        let mut c = json!({"cniVersion": version, "name": "contiv-net", "type": "contiv-cni",
                           "network": "contiv-net", "socket": socket.display().to_string()});
        for (k, v) in extra.as_object().expect("object") {
            c[k] = v.clone();
        }
        c
    }

    fn env<'a>(cid: &'a str, ns: &'a Netns, args: &'a str) -> Vec<(&'static str, &'a str)> {
        vec![
            ("CNI_CONTAINERID", cid),
            ("CNI_NETNS", ns.path.to_str().expect("utf-8")),
            ("CNI_IFNAME", "eth0"),
            ("CNI_ARGS", args),
        ]
    }

    async fn setup() -> (Cluster, TestAgent) {
        let c = Cluster::start(&[]).await;
        c.network("default", "contiv-net", "10.1.2.0/24", "10.1.2.254")
            .await;
        c.network("default", "other-net", "10.3.0.0/16", "").await;
        c.group("contiv-net", "db", &[]).await;
        let a = TestAgent::start(&c, "h1", "192.0.2.1").await;
        (c, a)
    }

    /// ADD, CHECK and DEL in every result format, each in its own netns.
    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn add_check_del_in_every_format() {
        let (c, a) = setup().await;
        let sock = a.cfg.cni_socket.clone();
        for (i, v) in ["0.3.0", "0.3.1", "0.4.0", "1.0.0", "1.1.0"]
            .into_iter()
            .enumerate()
        {
            let ns = Netns::new(&format!("f{i}"));
            let cid = format!("ctr{i}");
            let e = env(
                &cid,
                &ns,
                "IgnoreUnknown=1;K8S_POD_NAME=web;K8S_POD_NAMESPACE=ns1;FOO=bar",
            );
            let out = cni(
                "ADD",
                &e,
                &conf(v, &sock, json!({"dns": {"nameservers": ["10.1.2.254"]}})),
            )
            .await;
            assert_eq!(out.code, 0, "{v}: {}", out.raw);
            let r = &out.json;
            assert_eq!(r["cniVersion"], v);
            // Each round released its address: lowest free first again.
            assert_eq!(r["ips"][0]["address"], "10.1.2.1/24", "{v}");
            assert_eq!(r["ips"][0]["gateway"], "10.1.2.254");
            assert_eq!(r["ips"][0]["interface"], 1);
            assert_eq!(
                r["ips"][0].get("version").is_some(),
                v.starts_with("0."),
                "{v}: {r}"
            );
            assert_eq!(r["interfaces"][1]["name"], "eth0");
            assert_eq!(r["interfaces"][1]["sandbox"], ns.path.to_str().unwrap());
            assert_eq!(r["interfaces"][1]["mac"], "02:02:0a:01:02:01");
            assert_eq!(r["interfaces"][1].get("mtu").is_some(), v == "1.1.0", "{v}");
            assert!(
                r["interfaces"][0]["name"]
                    .as_str()
                    .unwrap()
                    .starts_with("vp")
            );
            assert_eq!(
                r["routes"],
                json!([{"dst": "0.0.0.0/0", "gw": "10.1.2.254"}])
            );
            assert_eq!(r["dns"], json!({"nameservers": ["10.1.2.254"]}));
            let rec = c
                .endpoints()
                .into_iter()
                .find(|e| e.id == format!("{cid}-eth0"))
                .expect("recorded");
            assert_eq!(rec.container_name, "web");
            assert_eq!(rec.labels["io.kubernetes.pod.namespace"], "ns1");

            let check_conf = conf(v, &sock, json!({"prevResult": r.clone()}));
            let chk = cni("CHECK", &e, &check_conf).await;
            if v.starts_with("0.3") {
                assert_eq!(
                    (chk.code, chk.json["code"].as_u64()),
                    (1, Some(1)),
                    "CHECK needs 0.4.0: {}",
                    chk.raw
                );
            } else {
                assert_eq!(chk.code, 0, "{v}: {}", chk.raw);
                assert!(chk.raw.trim().is_empty());
                let mut wrong = r.clone();
                wrong["ips"][0]["address"] = json!("10.1.2.200/24");
                let bad = cni("CHECK", &e, &conf(v, &sock, json!({"prevResult": wrong}))).await;
                assert_eq!(bad.json["code"], 100, "{}", bad.raw);
                let garbled = json!({"prevResult": {"ips": [{"address": "not-an-address"}]}});
                let bad = cni("CHECK", &e, &conf(v, &sock, garbled)).await;
                assert_eq!(bad.json["code"], 6, "undecodable prevResult: {}", bad.raw);
            }
            for _ in 0..2 {
                let del = cni("DEL", &e, &conf(v, &sock, json!({"prevResult": r.clone()}))).await;
                assert_eq!(del.code, 0, "DEL {v}: {}", del.raw);
                assert!(del.raw.trim().is_empty());
            }
            assert!(c.endpoints().is_empty());
            assert!(a.dp.state().local_endpoints.is_empty());
        }
        assert_eq!(c.allocated("default:contiv-net").await, 0);
    }

    /// Tenant/network/group by precedence; labels and requested addresses
    /// from `args.cni`; MTU from the netconf.
    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn selection_labels_and_static_addresses() {
        let (c, a) = setup().await;
        let sock = a.cfg.cni_socket.clone();
        let ns = Netns::new("sel");
        // CNI_ARGS beat the netconf.
        let out = cni(
            "ADD",
            &env("s1", &ns, "CONTIV_NETWORK=other-net"),
            &conf("1.0.0", &sock, json!({"mtu": 1400})),
        )
        .await;
        assert_eq!(out.code, 0, "{}", out.raw);
        assert_eq!(out.json["ips"][0]["address"], "10.3.0.1/16");
        assert_eq!(
            out.json["routes"],
            json!([]),
            "no gateway, no default route"
        );
        assert_eq!(a.dp.state().local_endpoints[0].mtu, 1400);
        // The original's pod labels pick the group; its network follows.
        let labels = json!({"args": {"cni": {"labels": [{"key": "io.contiv.net-group", "value": "db"}, {"key": "app", "value": "x"}],
                                             "ips": ["10.1.2.50/24"]}}});
        let mut nc = conf("1.0.0", &sock, labels);
        nc.as_object_mut().unwrap().remove("network");
        let out = cni("ADD", &env("s2", &ns, ""), &nc).await;
        assert_eq!(out.code, 0, "{}", out.raw);
        assert_eq!(out.json["ips"][0]["address"], "10.1.2.50/24");
        let rec = c
            .endpoints()
            .into_iter()
            .find(|e| e.id == "s2-eth0")
            .unwrap();
        assert_eq!(
            (
                rec.group.as_str(),
                rec.network.as_str(),
                rec.labels["app"].as_str()
            ),
            ("db", "contiv-net", "x")
        );
        // The same static address again is refused, and nothing is left.
        let out = cni("ADD", &env("s3", &ns, ""), &nc).await;
        assert_eq!(out.json["code"], 100, "{}", out.raw);
        assert!(c.endpoints().iter().all(|e| e.id != "s3-eth0"));
        for cid in ["s1", "s2", "s3"] {
            assert_eq!(cni("DEL", &env(cid, &ns, ""), &nc).await.code, 0);
        }
        assert!(c.endpoints().is_empty());
    }

    /// VERSION, STATUS and GC.
    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn version_status_and_gc() {
        let (c, mut a) = setup().await;
        let sock = a.cfg.cni_socket.clone();
        let v = cni_raw("VERSION", &[], b"").await;
        assert_eq!(v.code, 0);
        assert_eq!(
            v.json,
            json!({"cniVersion": "1.1.0", "supportedVersions": ["0.3.0", "0.3.1", "0.4.0", "1.0.0", "1.1.0"]})
        );
        let v = cni_raw("VERSION", &[], br#"{"cniVersion":"0.4.0"}"#).await;
        assert_eq!(v.json["cniVersion"], "0.4.0");
        let st = cni("STATUS", &[], &conf("1.1.0", &sock, json!({}))).await;
        assert_eq!((st.code, st.raw.trim()), (0, ""));

        let ns = Netns::new("gc");
        for cid in ["g1", "g2", "g3"] {
            assert_eq!(
                cni("ADD", &env(cid, &ns, ""), &conf("1.1.0", &sock, json!({})))
                    .await
                    .code,
                0
            );
        }
        let valid = json!({"cni.dev/valid-attachments": [{"containerID": "g1", "ifname": "eth0"}, {"containerID": "g3", "ifname": "eth0"}]});
        let gc = cni("GC", &[], &conf("1.1.0", &sock, valid)).await;
        assert_eq!(gc.code, 0, "{}", gc.raw);
        let mut ids: Vec<String> = c.endpoints().into_iter().map(|e| e.id).collect();
        ids.sort();
        assert_eq!(ids, ["g1-eth0", "g3-eth0"]);

        a.stop().await;
        let st = cni("STATUS", &[], &conf("1.1.0", &sock, json!({}))).await;
        assert_eq!(
            (st.code, st.json["code"].as_u64()),
            (1, Some(50)),
            "{}",
            st.raw
        );
        // DEL with the agent gone must be retried: code 11.
        let del = cni("DEL", &env("g1", &ns, ""), &conf("1.0.0", &sock, json!({}))).await;
        assert_eq!(del.json["code"], 11, "{}", del.raw);
        assert!(del.json["msg"].as_str().unwrap().contains("not reachable"));
    }

    /// Every error class with its code, as JSON on stdout and exit 1.
    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn errors_carry_the_spec_codes() {
        let (c, a) = setup().await;
        let sock = a.cfg.cni_socket.clone();
        let ns = Netns::new("err");
        let ok_env = env("e1", &ns, "");
        let cases: Vec<Case<'_>> = vec![
            ("undecodable netconf", ok_env.clone(), b"{nope".to_vec(), 6),
            (
                "missing cniVersion",
                ok_env.clone(),
                br#"{"name":"n","type":"contiv-cni"}"#.to_vec(),
                7,
            ),
            (
                "unsupported version",
                ok_env.clone(),
                br#"{"cniVersion":"0.2.0","name":"n","type":"contiv-cni"}"#.to_vec(),
                1,
            ),
            (
                "no CNI_IFNAME",
                vec![
                    ("CNI_CONTAINERID", "e1"),
                    ("CNI_NETNS", ns.path.to_str().unwrap()),
                ],
                conf("1.0.0", &sock, json!({})).to_string().into_bytes(),
                4,
            ),
            (
                "unknown CNI_ARGS",
                env("e1", &ns, "FOO=1"),
                conf("1.0.0", &sock, json!({})).to_string().into_bytes(),
                4,
            ),
            (
                "missing netns",
                vec![
                    ("CNI_CONTAINERID", "e1"),
                    ("CNI_NETNS", "/run/netns/does-not-exist-ctv"),
                    ("CNI_IFNAME", "eth0"),
                ],
                conf("1.0.0", &sock, json!({})).to_string().into_bytes(),
                3,
            ),
            (
                "unknown network",
                ok_env.clone(),
                conf("1.0.0", &sock, json!({"network": "nope"}))
                    .to_string()
                    .into_bytes(),
                100,
            ),
            (
                "agent unreachable",
                ok_env.clone(),
                conf(
                    "1.0.0",
                    Path::new("/run/contiv-nothing-here.sock"),
                    json!({}),
                )
                .to_string()
                .into_bytes(),
                11,
            ),
        ];
        for (what, e, stdin, code) in cases {
            let out = cni_raw("ADD", &e, &stdin).await;
            assert_eq!(out.code, 1, "{what}: {}", out.raw);
            assert_eq!(out.json["code"].as_u64(), Some(code), "{what}: {}", out.raw);
            assert!(
                out.json["msg"].as_str().is_some_and(|m| !m.is_empty()),
                "{what}"
            );
            assert!(out.json.get("details").is_some(), "{what}");
            assert!(out.json["cniVersion"].is_string(), "{what}");
        }
        let bad = cni_raw("FROB", &ok_env, b"{}").await;
        assert_eq!(bad.json["code"], 4);
        assert!(c.endpoints().is_empty(), "no failed ADD left a record");
    }
}
