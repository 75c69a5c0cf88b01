//! The `netmaster` binary itself: `--help`, exit codes, settings from
//! flags / environment / config file (and their precedence), bearer-token
//! auth, HTTPS (with a throwaway certificate from `openssl req`), clean
//! shutdown on SIGTERM with the state kept, Prometheus metrics, JSON
//! request logs, `/info` roles on a shared etcd, forwarding from a
//! follower to an HTTPS leader, and the OpenAPI document checked by a real
//! validator (`openapi-spec-validator` from PyPI).

mod support;

#[cfg(test)]
mod netmaster {
    use super::support::process::{NetmasterProcess, run_netmaster};
    use super::support::stores::{shared_etcd, unique_root};
    use super::support::{Client, free_port, wait_until};
    use serde_json::{Value, json};
    use std::path::Path;
    use std::process::Command;
    use std::time::{Duration, Instant};

    const READY: Duration = Duration::from_secs(30);

    fn tmp() -> tempfile::TempDir {
        tempfile::Builder::new()
            .prefix("contiv-nm-daemon-")
            .tempdir()
            .expect("temp dir")
    }

    fn embedded(dir: &Path) -> String {
        format!("embedded:{}", dir.join("state.redb").display())
    }

    fn start_embedded(dir: &Path, name: &str, extra: &[&str]) -> NetmasterProcess {
        let store = embedded(dir);
        let mut args = vec!["--store", store.as_str(), "--mode", "test"];
        args.extend_from_slice(extra);
        let mut p = NetmasterProcess::spawn(dir, name, Some(free_port()), &args, &[]);
        p.wait_ready(READY);
        p
    }

    #[test]
    fn help_explains_every_setting() {
        let (code, out, err) = run_netmaster(&["--help"], &[]);
        assert_eq!(code, 0, "{err}");
        for needle in [
            "--listen-url",
            "127.0.0.1:9999",
            "--store",
            "embedded:",
            "etcd://",
            "--control-url",
            "--leader-ttl",
            "--node-ttl",
            "--node-gc-grace",
            "--fwdmode",
            "--netmode",
            "--mode",
            "--token",
            "--tls-cert",
            "--tls-key",
            "--tls-ca",
            "--node-token-key",
            "--print-node-token",
            "--max-connections",
            "--header-timeout",
            "--tls-handshake-timeout",
            "--log-format",
            "--config",
            "CONTIV_NETMASTER_LISTEN_URL",
            "CONTIV_STORE",
            "High availability",
            "Exit codes",
        ] {
            assert!(out.contains(needle), "--help lacks {needle}:\n{out}");
        }
        let (code, out, _) = run_netmaster(&["--version"], &[]);
        assert_eq!(code, 0);
        assert!(out.starts_with("netmaster "), "{out}");
    }

    #[test]
    fn bad_configuration_exits_22_with_a_message() {
        let dir = tmp();
        let cfg = dir.path().join("bad.toml");
        std::fs::write(&cfg, "listen-url = \"127.0.0.1:1\"\nno-such-setting = 1\n").unwrap();
        let cfg_arg = format!("--config={}", cfg.display());
        let broken = dir.path().join("broken.toml");
        std::fs::write(&broken, "listen-url = \n").unwrap();
        let broken_arg = format!("--config={}", broken.display());
        let cases: Vec<(Vec<&str>, &str)> = vec![
            (vec!["--bogus"], "unexpected argument"),
            (vec!["--fwdmode", "xyz"], "invalid value 'xyz'"),
            (vec!["--netmode", "xyz"], "invalid value 'xyz'"),
            (vec!["--listen-url", "not-an-address"], "--listen-url"),
            (vec!["--store", "bogus://x"], "store URL"),
            (vec!["--store", "etcd://:2379"], "store URL"),
            (vec!["--leader-ttl", "10ms"], "--leader-ttl"),
            (vec!["--node-ttl", "5x"], "invalid duration unit"),
            // Issue 12: these panicked (a Duration overflow).
            (vec!["--node-ttl", "99999999999999999999999h"], "too long"),
            (
                vec!["--node-gc-grace", "99999999999999999999999h"],
                "too long",
            ),
            (vec!["--leader-ttl", "5000000000000h"], "--leader-ttl"),
            (vec!["--header-timeout", "1e999"], "invalid duration"),
            (vec!["--max-connections", "0"], "--max-connections"),
            (vec!["--print-node-token", "n1"], "needs the admin --token"),
            (vec!["--control-url", "ftp://x:1"], "--control-url"),
            (
                vec![
                    "--tls-cert",
                    "/nonexistent/cert.pem",
                    "--tls-key",
                    "/nonexistent/key.pem",
                ],
                "cannot read TLS certificate",
            ),
            (vec!["--tls-cert", "/nonexistent/cert.pem"], "--tls-key"),
            (
                vec![cfg_arg.as_str()],
                "unknown setting \"no-such-setting\"",
            ),
            (vec![broken_arg.as_str()], "invalid config file"),
        ];
        for (args, msg) in cases {
            let store = embedded(dir.path());
            let mut all = vec!["--store", store.as_str(), "--listen-url", "127.0.0.1:0"];
            // Later flags win (the store case overrides the default above).
            all.extend_from_slice(&args);
            let (code, _out, err) = run_netmaster(&all, &[]);
            assert_eq!(code, 22, "netmaster {args:?} exited {code}: {err}");
            assert!(
                err.contains(msg),
                "netmaster {args:?}: stderr lacks {msg:?}:\n{err}"
            );
        }
        // A port in use is a configuration error too.
        let busy = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        let addr = busy.local_addr().unwrap().to_string();
        let store = embedded(dir.path());
        let (code, _, err) = run_netmaster(&["--store", &store, "--listen-url", &addr], &[]);
        assert_eq!(code, 22, "{err}");
        assert!(err.contains("cannot listen on"), "{err}");
    }

    /// Which of `ports` accept connections.
    fn answering(ports: &[u16]) -> Vec<u16> {
        ports
            .iter()
            .copied()
            .filter(|p| std::net::TcpStream::connect(("127.0.0.1", *p)).is_ok())
            .collect()
    }

    /// Flag > environment > config file > default, and only the chosen
    /// port answers (TestBasicNetmasterPortListen).
    #[test]
    fn settings_precedence_and_port() {
        let dir = tmp();
        let (a, b, c) = (free_port(), free_port(), free_port());
        let cfg = dir.path().join("netmaster.toml");
        let store = embedded(dir.path());
        std::fs::write(
            &cfg,
            format!("listen-url = \"127.0.0.1:{a}\"\nstore = \"{store}\"\nmode = \"test\"\nfwdmode = \"routing\"\n"),
        )
        .unwrap();
        let cfg_arg = format!("--config={}", cfg.display());
        let env_listen = format!("127.0.0.1:{b}");
        let flag_listen = format!("127.0.0.1:{c}");
        type Case<'a> = (&'a str, Vec<&'a str>, Vec<(&'a str, &'a str)>, u16);
        let cases: Vec<Case<'_>> = vec![
            ("file", vec![cfg_arg.as_str()], vec![], a),
            (
                "env",
                vec![cfg_arg.as_str()],
                vec![("CONTIV_NETMASTER_LISTEN_URL", env_listen.as_str())],
                b,
            ),
            (
                "flag",
                vec![cfg_arg.as_str(), "--listen-url", flag_listen.as_str()],
                vec![("CONTIV_NETMASTER_LISTEN_URL", env_listen.as_str())],
                c,
            ),
            (
                "env-config",
                vec![],
                vec![("CONTIV_NETMASTER_CONFIG", cfg.to_str().unwrap())],
                a,
            ),
        ];
        for (name, args, env, port) in cases {
            let mut p = NetmasterProcess::spawn(dir.path(), name, None, &args, &env);
            p.port = port;
            p.url = format!("http://127.0.0.1:{port}");
            p.wait_ready(READY);
            assert_eq!(answering(&[a, b, c]), [port], "{name}");
            // Settings from the file are used (fwdmode routing for a new
            // global config, mode test).
            let g = p.client().get("/api/v1/inspect/globals/global/").json();
            assert_eq!(g["Config"]["fwdMode"], "routing", "{name}");
            assert_eq!(g["Oper"]["clusterMode"], "test", "{name}");
            let st = p.terminate(Duration::from_secs(10));
            assert_eq!(st.code(), Some(0), "{name}: {}", p.log_text());
        }
    }

    #[test]
    fn bearer_token_is_required_on_the_api() {
        let dir = tmp();
        let store = embedded(dir.path());
        let mut p = NetmasterProcess::spawn(
            dir.path(),
            "token",
            Some(free_port()),
            &["--store", &store, "--token", "s3cret"],
            &[],
        );
        p.wait_listening(READY);
        let ok = p.client().with_token("s3cret");
        assert!(
            wait_until(READY, || ok
                .try_send("GET", "/api/v1/tenants/default/", None)
                .ok()
                .filter(|r| r.status == 200))
            .is_some()
        );
        let anon = p.client();
        let r = anon.get("/api/v1/tenants/");
        assert_eq!(r.status, 401, "{}", r.body);
        assert!(r.body.contains("missing bearer token"), "{}", r.body);
        let r = anon.post("/api/v1/tenants/t1/", &json!({"tenantName": "t1"}));
        assert_eq!(r.status, 401);
        for path in [
            "/api/v1/watch",
            "/info",
            "/metrics",
            "/api/v1/inspect/globals/global/",
        ] {
            assert_eq!(anon.get(path).status, 401, "{path}");
        }
        let wrong = p.client().with_token("s3cre7");
        let r = wrong.get("/api/v1/tenants/");
        assert_eq!(r.status, 401);
        assert!(r.body.contains("invalid bearer token"), "{}", r.body);
        assert_eq!(ok.get("/api/v1/tenants/").status, 200);
        assert_eq!(
            ok.post("/api/v1/tenants/t1/", &json!({"tenantName": "t1"}))
                .status,
            200
        );
        // Health, version and the API description stay open; metrics
        // need the token once one is set.
        for path in ["/version", "/health", "/api/v1/openapi.json"] {
            assert_eq!(anon.get(path).status, 200, "{path}");
        }
        assert_eq!(ok.get("/metrics").status, 200);
        // netctl sends the token from its config file.
        let home = tmp();
        std::fs::create_dir_all(home.path().join(".netctl")).unwrap();
        std::fs::write(
            home.path().join(".netctl/config.json"),
            r#"{"token":"s3cret"}"#,
        )
        .unwrap();
        let out = Command::new(super::support::process::netctl_bin())
            .args(["tenant", "ls", "-q"])
            .env("NETMASTER", &p.url)
            .env("HOME", home.path())
            .output()
            .unwrap();
        assert!(
            out.status.success(),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
        assert_eq!(String::from_utf8_lossy(&out.stdout), "default\nt1\n");
    }

    /// Makes a self-signed certificate for 127.0.0.1 with `openssl req`.
    fn make_cert(dir: &Path) -> (std::path::PathBuf, std::path::PathBuf) {
        let cert = dir.join("cert.pem");
        let key = dir.join("key.pem");
        let out = Command::new("openssl")
            .args([
                "req",
                "-x509",
                "-newkey",
                "rsa:2048",
                "-nodes",
                "-days",
                "1",
                "-subj",
                "/CN=127.0.0.1",
            ])
            .args([
                "-addext",
                "subjectAltName=IP:127.0.0.1",
                "-addext",
                "basicConstraints=critical,CA:FALSE",
            ])
            .arg("-keyout")
            .arg(&key)
            .arg("-out")
            .arg(&cert)
            .output()
            .expect("run openssl (it must be installed)");
        assert!(
            out.status.success(),
            "openssl req: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        (cert, key)
    }

    fn https_client(port: u16, cert: &Path) -> Client {
        Client::with_ca(
            &format!("https://127.0.0.1:{port}"),
            &std::fs::read(cert).unwrap(),
        )
    }

    #[test]
    fn https_serving() {
        let dir = tmp();
        let (cert, key) = make_cert(dir.path());
        let port = free_port();
        let store = embedded(dir.path());
        let mut p = NetmasterProcess::spawn(
            dir.path(),
            "tls",
            Some(port),
            &[
                "--store",
                &store,
                "--tls-cert",
                cert.to_str().unwrap(),
                "--tls-key",
                key.to_str().unwrap(),
            ],
            &[],
        );
        let c = https_client(port, &cert);
        let ready = wait_until(READY, || {
            assert!(
                p.try_exit().is_none(),
                "netmaster exited:\n{}",
                p.log_text()
            );
            c.try_send("GET", "/api/v1/tenants/default/", None)
                .ok()
                .filter(|r| r.status == 200)
        });
        assert!(
            ready.is_some(),
            "HTTPS netmaster not ready:\n{}",
            p.log_text()
        );
        assert_eq!(
            c.post("/api/v1/tenants/t1/", &json!({"tenantName": "t1"}))
                .status,
            200
        );
        let info = c.get("/info").json();
        assert_eq!(info["local-ip"], format!("https://127.0.0.1:{port}"));
        // Plain HTTP on the TLS port gets no HTTP answer.
        let plain = Client::new(&format!("http://127.0.0.1:{port}"));
        let r = plain.try_send("GET", "/version", None);
        assert!(
            r.is_err() || r.as_ref().is_ok_and(|r| r.status != 200),
            "{r:?}"
        );
        // A client that does not trust the certificate fails the handshake.
        let other_dir = tmp();
        let (other_cert, _) = make_cert(other_dir.path());
        assert!(
            https_client(port, &other_cert)
                .try_send("GET", "/version", None)
                .is_err()
        );
        // netctl over https with --insecure.
        let out = Command::new(super::support::process::netctl_bin())
            .args(["--insecure", "tenant", "ls", "-q"])
            .env("NETMASTER", format!("https://127.0.0.1:{port}"))
            .output()
            .unwrap();
        assert!(
            out.status.success(),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
        assert_eq!(String::from_utf8_lossy(&out.stdout), "default\nt1\n");
        assert_eq!(p.terminate(Duration::from_secs(10)).code(), Some(0));
    }

    /// SIGTERM stops the daemon promptly (even with a watch stream open)
    /// with exit 0; a new netmaster on the same file has the same state.
    #[test]
    fn sigterm_stops_cleanly_and_state_persists() {
        let dir = tmp();
        let mut p = start_embedded(dir.path(), "first", &[]);
        let c = p.client();
        let r = c.post("/api/v1/networks/default:n1/",
            &json!({"tenantName": "default", "networkName": "n1", "encap": "vxlan", "subnet": "10.1.1.0/24"}));
        assert_eq!(r.status, 200, "{}", r.body);
        let r = c.post(
            "/api/v1/agent/endpoints/",
            &json!({"id": "ep1", "network": "n1", "host": "h1"}),
        );
        assert_eq!(r.status, 200, "{}", r.body);
        let (_, rx) = c.stream_lines("/api/v1/watch");
        assert!(rx.recv_timeout(Duration::from_secs(5)).is_ok());
        let t = Instant::now();
        let st = p.terminate(Duration::from_secs(10));
        assert_eq!(st.code(), Some(0), "{}", p.log_text());
        assert!(
            t.elapsed() < Duration::from_secs(8),
            "shutdown took {:?}",
            t.elapsed()
        );
        assert!(p.log_text().contains("shutting down"));
        let p2 = start_embedded(dir.path(), "second", &[]);
        let c2 = p2.client();
        let n = c2.get("/api/v1/inspect/networks/default:n1/").json();
        assert_eq!(n["Oper"]["allocatedIPAddresses"], "10.1.1.1");
        let r = c2.post(
            "/api/v1/agent/endpoints/",
            &json!({"id": "ep2", "network": "n1", "host": "h1"}),
        );
        assert_eq!(
            r.json()["endpoint"]["ipv4"],
            "10.1.1.2",
            "the allocator state survived"
        );
        // A second netmaster cannot open the same embedded file.
        let (code, _, err) = run_netmaster(
            &[
                "--store",
                &embedded(dir.path()),
                "--listen-url",
                "127.0.0.1:0",
            ],
            &[],
        );
        assert_eq!(code, 22, "{err}");
        assert!(err.contains("cannot open store"), "{err}");
    }

    fn metric(text: &str, name: &str) -> f64 {
        text.lines()
            .find(|l| l.starts_with(name) && !l.starts_with('#'))
            .and_then(|l| l.rsplit(' ').next())
            .and_then(|v| v.parse().ok())
            .unwrap_or_else(|| panic!("no metric {name} in:\n{text}"))
    }

    #[test]
    fn metrics_and_json_request_logs() {
        let dir = tmp();
        let p = start_embedded(dir.path(), "metrics", &["--log-format", "json"]);
        let c = p.client();
        let m0 = c.get("/metrics");
        assert_eq!(m0.status, 200);
        assert!(
            m0.content_type.starts_with("text/plain; version=0.0.4"),
            "{}",
            m0.content_type
        );
        let ok0 = metric(&m0.body, "contiv_netmaster_requests_total{class=\"2xx\"}");
        let bad0 = metric(&m0.body, "contiv_netmaster_requests_total{class=\"4xx\"}");
        assert_eq!(c.post("/api/v1/networks/default:n1/",
            &json!({"tenantName": "default", "networkName": "n1", "encap": "vxlan", "subnet": "10.1.1.0/24"})).status, 200);
        assert_eq!(
            c.post(
                "/api/v1/agent/endpoints/",
                &json!({"id": "ep1", "network": "n1", "host": "h1"})
            )
            .status,
            200
        );
        assert_eq!(c.get("/api/v1/networks/default:nope/").status, 404);
        let m = c.get("/metrics").body;
        assert!(metric(&m, "contiv_netmaster_requests_total{class=\"2xx\"}") >= ok0 + 3.0);
        assert_eq!(
            metric(&m, "contiv_netmaster_requests_total{class=\"4xx\"}"),
            bad0 + 1.0
        );
        assert_eq!(metric(&m, "contiv_netmaster_endpoints_created_total"), 1.0);
        assert_eq!(metric(&m, "contiv_netmaster_networks"), 1.0);
        assert_eq!(metric(&m, "contiv_netmaster_endpoints"), 1.0);
        assert!(metric(&m, "contiv_netmaster_store_revision") > 0.0);
        // Every log line is JSON; writes are logged with method, path, status.
        let log = p.log_text();
        let lines: Vec<Value> = log
            .lines()
            .map(|l| serde_json::from_str(l).unwrap_or_else(|e| panic!("not JSON ({e}): {l}")))
            .collect();
        let post = lines
            .iter()
            .find(|l| {
                l["fields"]["method"] == "POST"
                    && l["fields"]["path"] == "/api/v1/networks/default:n1/"
            })
            .unwrap_or_else(|| panic!("no request log of the POST in:\n{log}"));
        assert_eq!(post["fields"]["status"], 200);
        assert!(post["fields"]["micros"].is_number());
    }

    /// Two netmasters on one etcd, both serving HTTPS: `/info` reports the
    /// real roles and the leader's URL; a write sent to the follower is
    /// forwarded to the HTTPS leader and readable from the follower at
    /// once.
    #[test]
    fn info_roles_and_https_forwarding_on_etcd() {
        let dir = tmp();
        let (cert, key) = make_cert(dir.path());
        let etcd = shared_etcd();
        let root = unique_root();
        let store = etcd.store_url();
        let ports = [free_port(), free_port()];
        let mut procs: Vec<NetmasterProcess> = ports
            .iter()
            .enumerate()
            .map(|(i, port)| {
                NetmasterProcess::spawn(
                    dir.path(),
                    &format!("nm{i}"),
                    Some(*port),
                    &[
                        "--store",
                        &store,
                        "--store-root",
                        &root,
                        "--leader-ttl",
                        "2s",
                        "--mode",
                        "test",
                        "--tls-cert",
                        cert.to_str().unwrap(),
                        "--tls-key",
                        key.to_str().unwrap(),
                    ],
                    &[],
                )
            })
            .collect();
        let clients: Vec<Client> = ports.iter().map(|p| https_client(*p, &cert)).collect();
        let infos = wait_until(READY, || {
            for p in procs.iter_mut() {
                assert!(
                    p.try_exit().is_none(),
                    "netmaster exited:\n{}",
                    p.log_text()
                );
            }
            let infos: Vec<Value> = clients
                .iter()
                .filter_map(|c| {
                    c.try_send("GET", "/info", None)
                        .ok()
                        .filter(|r| r.status == 200)
                        .map(|r| r.json())
                })
                .collect();
            let leaders = infos
                .iter()
                .filter(|i| i["current-state"] == "leader")
                .count();
            let followers = infos
                .iter()
                .filter(|i| i["current-state"] == "follower")
                .count();
            (infos.len() == 2
                && leaders == 1
                && followers == 1
                && infos.iter().all(|i| {
                    i["netmaster-nodes"]
                        .as_array()
                        .is_some_and(|a| a.len() == 2)
                }))
            .then_some(infos)
        })
        .unwrap_or_else(|| {
            panic!(
                "no leader/follower pair:\n{}\n{}",
                procs[0].log_text(),
                procs[1].log_text()
            )
        });
        let leader = infos
            .iter()
            .position(|i| i["current-state"] == "leader")
            .unwrap();
        let follower = 1 - leader;
        let leader_url = format!("https://127.0.0.1:{}", ports[leader]);
        for i in &infos {
            assert_eq!(i["leader-ip"], leader_url.as_str());
            assert_eq!(i["store"], "etcd");
            let mut masters: Vec<String> = ports
                .iter()
                .map(|p| format!("https://127.0.0.1:{p}"))
                .collect();
            masters.sort();
            assert_eq!(i["netmaster-nodes"], json!(masters));
        }
        assert_eq!(
            infos[follower]["local-ip"],
            format!("https://127.0.0.1:{}", ports[follower])
        );
        // Only the leader accepts writes (a follower forwards them).
        assert_eq!(infos[follower]["writable"], false);
        // Wait for the leader's defaults, then write through the follower.
        let fc = &clients[follower];
        assert!(
            wait_until(READY, || fc
                .try_send("GET", "/api/v1/tenants/default/", None)
                .ok()
                .filter(|r| r.status == 200))
            .is_some()
        );
        let r = fc.post("/api/v1/networks/default:n1/",
            &json!({"tenantName": "default", "networkName": "n1", "encap": "vxlan", "subnet": "10.1.1.0/24"}));
        assert_eq!(r.status, 200, "forwarded write: {}", r.body);
        let r = fc.get("/api/v1/networks/default:n1/");
        assert_eq!(r.status, 200, "read-your-write on the follower: {}", r.body);
        let r = fc.post(
            "/api/v1/agent/endpoints/",
            &json!({"id": "ep1", "network": "n1", "host": "h1"}),
        );
        assert_eq!(r.json()["endpoint"]["ipv4"], "10.1.1.1");
        assert_eq!(
            fc.get("/api/v1/inspect/networks/default:n1/").json()["Oper"]["numEndpoints"],
            1
        );
        // Errors come back from the leader unchanged.
        let r = fc.post("/api/v1/networks/default:n2/",
            &json!({"tenantName": "default", "networkName": "n2", "encap": "vxlan", "subnet": "10.1.1.0/25"}));
        assert_eq!(
            (r.status, r.body.as_str()),
            (409, "network n1 conflicts with subnet 10.1.1.0/25\n")
        );
        // A leader that stops normally resigns: the follower takes over at
        // once (well within the 2 s TTL).
        let t = Instant::now();
        assert_eq!(
            procs[leader].terminate(Duration::from_secs(10)).code(),
            Some(0)
        );
        let took_over = wait_until(Duration::from_secs(10), || {
            let i = fc.try_send("GET", "/info", None).ok()?.json();
            (i["current-state"] == "leader").then_some(t.elapsed())
        });
        let took =
            took_over.unwrap_or_else(|| panic!("no takeover:\n{}", procs[follower].log_text()));
        assert!(
            took < Duration::from_secs(2),
            "takeover after a clean stop took {took:?}"
        );
        // A new leader answers 503 ("starting its leader term …; retry")
        // until it has completed interrupted changes; /info says when it
        // accepts writes.
        let writable = wait_until(Duration::from_secs(10), || {
            let i = fc.try_send("GET", "/info", None).ok()?.json();
            (i["writable"] == true).then_some(())
        });
        assert!(
            writable.is_some(),
            "the new leader never finished starting its term:\n{}",
            procs[follower].log_text()
        );
        let r = fc.post(
            "/api/v1/agent/endpoints/",
            &json!({"id": "ep2", "network": "n1", "host": "h1"}),
        );
        assert_eq!(r.status, 200, "{}", r.body);
        assert_eq!(r.json()["endpoint"]["ipv4"], "10.1.1.2");
        drop(etcd);
    }

    /// The OpenAPI document is valid OpenAPI 3 according to
    /// `openapi-spec-validator` and describes every collection and the
    /// agent API.
    #[test]
    fn openapi_document_is_valid() {
        let dir = tmp();
        let p = start_embedded(dir.path(), "openapi", &[]);
        let r = p.client().get("/api/v1/openapi.json");
        assert_eq!(r.status, 200);
        let doc = r.json();
        let file = dir.path().join("openapi.json");
        std::fs::write(&file, &r.body).unwrap();
        let out = Command::new("python3")
            .args(["-m", "openapi_spec_validator"])
            .arg(&file)
            .output()
            .expect("python3 must be installed");
        assert!(
            out.status.success(),
            "openapi-spec-validator rejected the document (install it with `pip install openapi-spec-validator` if it is missing):\n{}{}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        );
        let paths = doc["paths"].as_object().unwrap();
        for c in [
            "tenants",
            "networks",
            "endpointGroups",
            "policys",
            "rules",
            "appProfiles",
            "netprofiles",
            "serviceLBs",
            "globals",
            "Bgps",
            "extContractsGroups",
            "aciGws",
        ] {
            for p in [
                format!("/api/v1/{c}/"),
                format!("/api/v1/{c}/{{key}}/"),
                format!("/api/v1/inspect/{c}/{{key}}/"),
            ] {
                assert!(paths.contains_key(&p), "{p}");
            }
        }
        for p in [
            "/api/v1/agent/endpoints/",
            "/api/v1/agent/endpoints/{network}/{id}/",
            "/api/v1/agent/nodes/{host}/",
            "/api/v1/agent/networks/{network}/",
            "/api/v1/watch",
            "/api/v1/inspect/endpoints/{key}/",
            "/info",
            "/version",
            "/metrics",
            "/health",
        ] {
            assert!(paths.contains_key(p), "{p}");
        }
        // Every operation has an id and a 200 answer; ids are unique.
        let mut ids = std::collections::BTreeSet::new();
        for (path, item) in paths {
            for (method, op) in item.as_object().unwrap() {
                if method == "parameters" {
                    continue;
                }
                let id = op["operationId"]
                    .as_str()
                    .unwrap_or_else(|| panic!("{method} {path} has no operationId"));
                assert!(ids.insert(id.to_owned()), "duplicate operationId {id}");
                assert!(op["responses"]["200"].is_object(), "{method} {path}");
            }
        }
        // Every $ref resolves.
        fn refs(v: &Value, out: &mut Vec<String>) {
            match v {
                Value::Object(m) => {
                    if let Some(Value::String(r)) = m.get("$ref") {
                        out.push(r.clone());
                    }
                    m.values().for_each(|x| refs(x, out));
                }
                Value::Array(a) => a.iter().for_each(|x| refs(x, out)),
                _ => {}
            }
        }
        let mut all = Vec::new();
        refs(&doc, &mut all);
        assert!(!all.is_empty());
        for r in all {
            let name = r
                .strip_prefix("#/components/schemas/")
                .unwrap_or_else(|| panic!("external ref {r}"));
            assert!(
                doc["components"]["schemas"][name].is_object(),
                "dangling {r}"
            );
        }
    }
}
