//! The `netctl` binary over real sockets on loopback: what goes on the wire
//! (method, path, headers, body), exit 2 when nothing listens, the
//! `NETMASTER` variable, and HTTPS with `--insecure` against `openssl
//! s_server` with a throw-away self-signed certificate.

#[cfg(test)]
mod netctl {
    use std::io::{BufRead, BufReader, Read, Write};
    use std::net::{TcpListener, TcpStream};
    use std::path::Path;
    use std::process::{Child, Command, Output, Stdio};
    use std::sync::{Arc, Mutex};
    use std::time::{Duration, Instant};

    const NETCTL: &str = env!("CARGO_BIN_EXE_netctl");

    /// One request as the test server received it.
    #[derive(Clone, Debug)]
    struct Captured {
        line: String,
        headers: Vec<(String, String)>,
        body: String,
    }

    impl Captured {
        fn header(&self, name: &str) -> Option<&str> {
            self.headers
                .iter()
                .find(|(k, _)| k.eq_ignore_ascii_case(name))
                .map(|(_, v)| v.as_str())
        }
    }

    /// A one-connection-per-request HTTP/1.1 server on 127.0.0.1 answering
    /// the given responses in order, recording the requests.
    struct Server {
        url: String,
        seen: Arc<Mutex<Vec<Captured>>>,
    }

    fn serve(responses: Vec<(u16, &'static str)>) -> Server {
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        let url = format!("http://{}", listener.local_addr().unwrap());
        let seen = Arc::new(Mutex::new(Vec::new()));
        let log = Arc::clone(&seen);
        std::thread::spawn(move || {
            for (status, body) in responses {
                let Ok((stream, _)) = listener.accept() else {
                    return;
                };
                let captured = read_request(&stream);
                log.lock().unwrap().push(captured);
                let mut stream = stream;
                let reply = format!(
                    "HTTP/1.1 {status} X\r\nContent-Type: application/json\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{body}",
                    body.len()
                );
                let _ = stream.write_all(reply.as_bytes());
            }
        });
        Server { url, seen }
    }

    fn read_request(stream: &TcpStream) -> Captured {
        let mut reader = BufReader::new(stream);
        let mut line = String::new();
        reader.read_line(&mut line).unwrap();
        let mut headers = Vec::new();
        loop {
            let mut h = String::new();
            reader.read_line(&mut h).unwrap();
            let h = h.trim_end();
            if h.is_empty() {
                break;
            }
            let (k, v) = h.split_once(':').unwrap();
            headers.push((k.trim().to_owned(), v.trim().to_owned()));
        }
        let len: usize = headers
            .iter()
            .find(|(k, _)| k.eq_ignore_ascii_case("content-length"))
            .map_or(0, |(_, v)| v.parse().unwrap());
        let mut body = vec![0; len];
        reader.read_exact(&mut body).unwrap();
        Captured {
            line: line.trim_end().to_owned(),
            headers,
            body: String::from_utf8(body).unwrap(),
        }
    }

    fn netctl(args: &[&str]) -> Output {
        Command::new(NETCTL)
            .args(args)
            .env_remove("NETMASTER")
            .env_remove("NETCTL_TOKEN")
            .env("HOME", "/nonexistent-netctl-test-home")
            .output()
            .unwrap()
    }

    fn text(b: &[u8]) -> String {
        String::from_utf8_lossy(b).into_owned()
    }

    #[test]
    fn create_sends_json_and_the_bearer_token() {
        let srv = serve(vec![(200, "{}")]);
        let out = netctl(&[
            "--netmaster",
            &srv.url,
            "--token",
            "sekret",
            "net",
            "create",
            "-subnet=10.1.1.0/24",
            "web",
        ]);
        assert_eq!(out.status.code(), Some(0), "{}", text(&out.stderr));
        let seen = srv.seen.lock().unwrap().clone();
        assert_eq!(seen.len(), 1);
        let req = &seen[0];
        assert_eq!(req.line, "POST /api/v1/networks/default:web/ HTTP/1.1");
        assert_eq!(req.header("authorization"), Some("Bearer sekret"));
        assert_eq!(req.header("x-auth-token"), Some("sekret"));
        assert_eq!(req.header("content-type"), Some("application/json"));
        let body: serde_json::Value = serde_json::from_str(&req.body).unwrap();
        assert_eq!(body["subnet"], "10.1.1.0/24");
        assert_eq!(body["key"], "default:web");
        let err = text(&out.stderr);
        assert!(
            err.contains("level=info msg=\"Creating network default:web\""),
            "{err}"
        );
    }

    #[test]
    fn listing_over_http_prints_the_table() {
        let srv = serve(vec![
            (200, r#"{"tenantName":"blue"}"#),
            (
                200,
                r#"[{"networkName":"n1","tenantName":"blue","encap":"vxlan","nwType":"data","subnet":"10.1.2.0/24"}]"#,
            ),
        ]);
        let out = netctl(&["net", "ls", "-t", "blue", "--netmaster", &srv.url]);
        assert_eq!(out.status.code(), Some(0), "{}", text(&out.stderr));
        let lines: Vec<String> = srv
            .seen
            .lock()
            .unwrap()
            .iter()
            .map(|c| c.line.clone())
            .collect();
        assert_eq!(
            lines,
            [
                "GET /api/v1/tenants/blue/ HTTP/1.1",
                "GET /api/v1/networks/ HTTP/1.1"
            ]
        );
        let stdout = text(&out.stdout);
        assert!(
            stdout.contains("\nblue    n1       data     vxlan       0           10.1.2.0/24  "),
            "{stdout}"
        );
        // No token anywhere: no auth headers.
        assert!(
            srv.seen.lock().unwrap()[0]
                .header("authorization")
                .is_none()
        );
    }

    #[test]
    fn server_error_exits_3_and_env_var_selects_the_netmaster() {
        let srv = serve(vec![(500, "network not found\n")]);
        let out = Command::new(NETCTL)
            .args(["net", "inspect", "nope"])
            .env("NETMASTER", &srv.url)
            .env("HOME", "/nonexistent-netctl-test-home")
            .output()
            .unwrap();
        assert_eq!(out.status.code(), Some(3));
        let err = text(&out.stderr);
        assert!(
            err.ends_with("level=error msg=\"network not found\n\" \n"),
            "{err:?}"
        );
        assert_eq!(
            srv.seen.lock().unwrap()[0].line,
            "GET /api/v1/inspect/networks/default:nope/ HTTP/1.1"
        );
    }

    #[test]
    fn nothing_listening_exits_2_naming_the_url() {
        let port = {
            let l = TcpListener::bind("127.0.0.1:0").unwrap();
            l.local_addr().unwrap().port()
        };
        let url = format!("http://127.0.0.1:{port}");
        let out = netctl(&["--netmaster", &url, "tenant", "ls"]);
        assert_eq!(out.status.code(), Some(2));
        let err = text(&out.stderr);
        assert!(err.contains(&format!("{url}/api/v1/tenants/")), "{err}");
        assert!(err.contains("level=error"), "{err}");
    }

    #[test]
    fn usage_error_from_the_binary_exits_1() {
        let out = netctl(&["net", "create", "contiv-net", "--subnet="]);
        assert_eq!(out.status.code(), Some(1));
        assert!(text(&out.stderr).contains("Subnet is required"));
    }

    /// `openssl s_server`, killed (by pid) when dropped.
    struct OpensslServer {
        child: Child,
        port: u16,
    }

    impl Drop for OpensslServer {
        fn drop(&mut self) {
            let _ = self.child.kill();
            let _ = self.child.wait();
        }
    }

    fn openssl(dir: &Path, args: &[&str]) {
        let status = Command::new("openssl")
            .args(args)
            .current_dir(dir)
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .status()
            .expect("openssl must be installed");
        assert!(status.success(), "openssl {args:?}");
    }

    /// Serves the files of `dir` over HTTPS (`-WWW`) with a fresh
    /// self-signed certificate.
    fn https_server(dir: &Path) -> OpensslServer {
        openssl(
            dir,
            &[
                "req",
                "-x509",
                "-newkey",
                "rsa:2048",
                "-nodes",
                "-keyout",
                "key.pem",
                "-out",
                "cert.pem",
                "-subj",
                "/CN=localhost",
                "-days",
                "1",
            ],
        );
        let port = {
            let l = TcpListener::bind("127.0.0.1:0").unwrap();
            l.local_addr().unwrap().port()
        };
        let child = Command::new("openssl")
            .args([
                "s_server", "-quiet", "-WWW", "-cert", "cert.pem", "-key", "key.pem",
            ])
            .args(["-accept", &format!("127.0.0.1:{port}")])
            .current_dir(dir)
            .stdin(Stdio::piped())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("openssl must be installed");
        let server = OpensslServer { child, port };
        let deadline = Instant::now() + Duration::from_secs(20);
        while TcpStream::connect(("127.0.0.1", port)).is_err() {
            assert!(Instant::now() < deadline, "openssl s_server did not start");
            std::thread::sleep(Duration::from_millis(50));
        }
        server
    }

    #[test]
    fn https_needs_insecure_for_a_self_signed_certificate() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(
            dir.path().join("version"),
            r#"{"Version":"9.9.9","GitCommit":"tls","BuildTime":"today"}"#,
        )
        .unwrap();
        let srv = https_server(dir.path());
        let url = format!("https://127.0.0.1:{}", srv.port);

        let out = netctl(&["--netmaster", &url, "version"]);
        assert_eq!(out.status.code(), Some(2), "{}", text(&out.stderr));
        assert!(text(&out.stderr).contains(&url), "{}", text(&out.stderr));

        let out = netctl(&["--netmaster", &url, "--insecure", "version"]);
        assert_eq!(out.status.code(), Some(0), "{}", text(&out.stderr));
        let stdout = text(&out.stdout);
        assert!(
            stdout.ends_with("Server Version:\nVersion: 9.9.9\nGitCommit: tls\nBuildTime: today\n"),
            "{stdout}"
        );
    }
}
