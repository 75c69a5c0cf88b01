//! Exit codes and error reporting (usage 1, unreachable 2, server error 3,
//! I/O 4), connection settings (`--netmaster`, `--token`,
//! `~/.netctl/config.json`) and `netctl login`, against a scripted
//! netmaster.

#[cfg(test)]
mod netctl {
    use contiv_bins::netctl::error::{Exit, NetctlError};
    use contiv_bins::netctl::request::Method::{Get, Post};
    use contiv_bins::netctl::testing::ScriptedNetmaster;
    use contiv_bins::netctl::transport::Transport;
    use contiv_bins::netctl::{Env, run};
    use std::ffi::OsString;
    use std::os::unix::fs::PermissionsExt;

    fn tenant_ok() -> ScriptedNetmaster {
        ScriptedNetmaster::new().get("/api/v1/tenants/default/", r#"{"tenantName":"default"}"#)
    }

    #[test]
    fn exit_codes_are_the_originals() {
        assert_eq!(
            [
                Exit::Success,
                Exit::Usage,
                Exit::Request,
                Exit::Invalid,
                Exit::Io
            ]
            .map(Exit::code),
            [0, 1, 2, 3, 4]
        );
        let io = std::io::Error::other("disk on fire");
        let cases: Vec<(NetctlError, Exit)> = vec![
            (NetctlError::usage("x"), Exit::Usage),
            (
                NetctlError::Request {
                    url: "http://h".into(),
                    reason: "refused".into(),
                },
                Exit::Request,
            ),
            (
                NetctlError::Http {
                    status: 500,
                    message: "m".into(),
                },
                Exit::Invalid,
            ),
            (
                NetctlError::BadResponse {
                    path: "/p".into(),
                    reason: "r".into(),
                },
                Exit::Invalid,
            ),
            (
                NetctlError::Config {
                    path: "/c".into(),
                    reason: "r".into(),
                },
                Exit::Invalid,
            ),
            (NetctlError::io("writing", io), Exit::Io),
        ];
        for (err, exit) in cases {
            assert_eq!(err.exit(), exit, "{err}");
        }
    }

    #[test]
    fn usage_errors_exit_1_before_any_request() {
        let nm = ScriptedNetmaster::new().fallback(200, "{}");
        let cases = [
            ("net ls --bogus", "unexpected argument"),
            ("net create -s 10.1.1.0/24", "required"),
            ("net create -p twelve -s 10.1.1.0/24 n", "invalid value"),
            ("frobnicate", "unrecognized subcommand"),
            ("net", "Usage: netctl network"),
            (
                "net create -g 10.1.1.300 -s 10.1.1.0/24 n",
                "Invalid gateway",
            ),
            (
                "policy rule-add -d in -e db p 1",
                "Cant specify to-group for incoming rule",
            ),
            (
                "policy rule-add -d out -g web p 1",
                "Cant specify from-group for outgoing rule",
            ),
            (
                "policy rule-add -d out -i 1.1.1.1 p 1",
                "Cant specify from-ip-address",
            ),
            (
                "policy rule-add -d in -g a -n b p 1",
                "Can't specify both from-group",
            ),
            ("policy rule-add -d both p 1", "Unknown direction"),
            (
                "bgp create h --router-ip=1.1.1.1 --as=1 --neighbor-as=2 --neighbor=1.1.1.2",
                "Wrong CIDR",
            ),
            (
                "bgp create h --router-ip=1.1.1.1/24 --as=1 --neighbor-as=2 --neighbor=x",
                "Wrong IP",
            ),
            (
                "bgp create h --router-ip=1.1.1.1/24 --neighbor-as=2 --neighbor=1.1.1.2",
                "Missing attributes",
            ),
            (
                "external-contracts create -c -p -a x n",
                "Cannot use both provided and consumed",
            ),
            (
                "external-contracts create -a x n",
                "Either provided or consumed",
            ),
            ("external-contracts create -c n", "Contracts not provided"),
            (
                "--netmaster netmaster:9999 net ls",
                "must begin with http://",
            ),
            (
                "--netmaster http://10.9.9.9:9999 --token t net ls",
                "refusing to send the auth token",
            ),
        ];
        for (cmd, msg) in cases {
            let args: Vec<&str> = cmd.split_whitespace().collect();
            let out = nm.run(&args);
            assert_eq!(out.exit, Exit::Usage, "netctl {cmd}: {}", out.stderr);
            assert!(
                out.requests.is_empty(),
                "netctl {cmd} sent {:?}",
                out.requests
            );
            assert!(out.stderr.contains(msg), "netctl {cmd}: {}", out.stderr);
        }
    }

    #[test]
    fn help_and_version_exit_0_on_stdout() {
        let nm = ScriptedNetmaster::new();
        for args in [
            &["--help"][..],
            &["net", "create", "--help"],
            &["policy", "rule-add", "-help"],
        ] {
            let out = nm.run(args);
            assert_eq!(out.exit, Exit::Success, "{args:?}");
            assert!(
                out.stdout.contains("Usage: netctl"),
                "{args:?}: {}",
                out.stdout
            );
            assert!(out.stdout.contains("Example"), "{args:?}: {}", out.stdout);
        }
        let out = nm.run(&["--version"]);
        assert_eq!(out.exit, Exit::Success);
        assert_eq!(
            out.stdout,
            format!("netctl {}\n", env!("CARGO_PKG_VERSION"))
        );
    }

    #[test]
    fn server_errors_exit_3_with_the_servers_message() {
        let cases = [
            (500, "network not found\n", "msg=\"network not found\n\" \n"),
            (404, "", "msg=\"Page not found!\" \n"),
            (403, "", "msg=\"Access denied!\" \n"),
            (
                409,
                r#"{"error":"subnet overlaps blue:web"}"#,
                "msg=\"subnet overlaps blue:web\" \n",
            ),
            (
                400,
                r#"{"message":"invalid key"}"#,
                "msg=\"invalid key\" \n",
            ),
            (502, "  ", "msg=\"netmaster answered HTTP 502\" \n"),
        ];
        for (status, body, line_end) in cases {
            let nm = ScriptedNetmaster::new().on(
                Get,
                "/api/v1/inspect/networks/default:x/",
                status,
                body,
            );
            let out = nm.run(&["net", "inspect", "x"]);
            assert_eq!(out.exit, Exit::Invalid, "{status}");
            assert_eq!(out.stdout, "");
            assert!(out.stderr.ends_with(line_end), "{status}: {:?}", out.stderr);
            assert!(out.stderr.starts_with("time=\""), "{}", out.stderr);
            assert!(out.stderr.contains(" level=error "), "{}", out.stderr);
        }
    }

    #[test]
    fn a_failed_create_does_not_claim_success() {
        let nm = ScriptedNetmaster::new().on(
            Post,
            "/api/v1/networks/default:n/",
            500,
            "tenant not found",
        );
        let out = nm.run(&["net", "create", "-s", "10.1.1.0/24", "n"]);
        assert_eq!(out.exit, Exit::Invalid);
        assert!(!out.stderr.contains("Creating network"), "{}", out.stderr);
        assert!(
            out.stderr.contains("msg=\"tenant not found\""),
            "{}",
            out.stderr
        );
    }

    #[test]
    fn unreadable_answers_exit_3() {
        let cases = [
            ("/api/v1/networks/", "{}", vec!["net", "ls"]),
            (
                "/api/v1/networks/",
                "[{\"pktTag\":\"x\"}]",
                vec!["net", "ls"],
            ),
            (
                "/api/v1/inspect/networks/default:x/",
                "not json",
                vec!["net", "inspect", "x"],
            ),
            ("/version", "[1]", vec!["version"]),
        ];
        for (path, body, args) in cases {
            let out = tenant_ok().get(path, body).run(&args);
            assert_eq!(out.exit, Exit::Invalid, "{args:?} {}", out.stderr);
            assert!(
                out.stderr.contains("unexpected response from netmaster"),
                "{}",
                out.stderr
            );
        }
    }

    struct BrokenPipe;
    impl std::io::Write for BrokenPipe {
        fn write(&mut self, _: &[u8]) -> std::io::Result<usize> {
            Err(std::io::Error::from(std::io::ErrorKind::BrokenPipe))
        }
        fn flush(&mut self) -> std::io::Result<()> {
            Ok(())
        }
    }

    #[test]
    fn output_failure_exits_4() {
        let mut out = BrokenPipe;
        let mut err = Vec::new();
        let mut input: &[u8] = b"";
        let env = Env {
            out: &mut out,
            err: &mut err,
            err_is_tty: false,
            input: &mut input,
            input_is_tty: false,
            home: None,
        };
        let nm_tenants = r#"[{"tenantName":"default"}]"#.to_owned();
        let mut connect =
            move |_: &contiv_bins::netctl::config::ClientConfig| -> Box<dyn Transport> {
                let body = nm_tenants.clone();
                Box::new(Fixed(body))
            };
        let argv = ["netctl", "tenant", "ls"].map(OsString::from).to_vec();
        assert_eq!(run(argv, env, &mut connect), Exit::Io);
        let err = String::from_utf8(err).unwrap();
        assert!(err.contains("writing output"), "{err}");
    }

    /// Answers every request with 200 and the same body.
    struct Fixed(String);
    impl Transport for Fixed {
        fn send(
            &mut self,
            _: &contiv_bins::netctl::request::Request,
        ) -> Result<contiv_bins::netctl::transport::Response, NetctlError> {
            Ok(contiv_bins::netctl::transport::Response::new(
                200,
                self.0.clone(),
            ))
        }
    }

    #[test]
    fn token_comes_from_flag_or_config_file() {
        let home = tempfile::tempdir().unwrap();
        let nm = tenant_ok()
            .home(home.path().to_path_buf())
            .fallback(200, "[]");
        // No config file: no token.
        let out = nm.run(&["net", "ls"]);
        assert_eq!(out.exit, Exit::Success, "{}", out.stderr);
        let cfg = out.config.unwrap();
        assert_eq!(cfg.token, None);
        assert_eq!(cfg.netmaster, "http://127.0.0.1:9999");

        std::fs::create_dir(home.path().join(".netctl")).unwrap();
        let file = home.path().join(".netctl/config.json");
        std::fs::write(&file, r#"{"token":"from-file"}"#).unwrap();
        let out = nm.run(&["--netmaster", "https://contiv.example:10000/", "net", "ls"]);
        assert_eq!(out.exit, Exit::Success, "{}", out.stderr);
        let cfg = out.config.unwrap();
        assert_eq!(cfg.token.as_deref(), Some("from-file"));
        assert_eq!(cfg.netmaster, "https://contiv.example:10000");

        let out = nm.run(&["net", "ls", "--token", "from-flag", "-insecure"]);
        let cfg = out.config.unwrap();
        assert_eq!(cfg.token.as_deref(), Some("from-flag"));
        assert!(cfg.insecure);

        // A file token is not sent in clear text to a remote host (the
        // original refused with exit 3 as well).
        let out = nm.run(&["--netmaster", "http://10.9.9.9:9999", "net", "ls"]);
        assert_eq!(out.exit, Exit::Invalid, "{}", out.stderr);
        assert!(out.stderr.contains("https://"), "{}", out.stderr);

        std::fs::write(&file, "{not json").unwrap();
        let out = nm.run(&["net", "ls"]);
        assert_eq!(out.exit, Exit::Invalid);
        assert!(
            out.stderr.contains("error processing netctl config"),
            "{}",
            out.stderr
        );
        assert!(out.requests.is_empty());
    }

    #[test]
    fn login_posts_credentials_and_saves_the_token() {
        let home = tempfile::tempdir().unwrap();
        let nm = ScriptedNetmaster::new()
            .on(
                Post,
                "/api/v1/auth_proxy/login/",
                200,
                r#"{"token":"tok-123"}"#,
            )
            .home(home.path().to_path_buf())
            .stdin("alice\nsecret\n");
        let out = nm.run(&["--netmaster", "https://contiv.example:10000", "login"]);
        assert_eq!(out.exit, Exit::Success, "{}", out.stderr);
        assert_eq!(out.requests.len(), 1);
        assert_eq!(out.requests[0].path, "/api/v1/auth_proxy/login/");
        assert_eq!(
            out.requests[0].body_json().unwrap(),
            serde_json::json!({"username": "alice", "password": "secret"})
        );
        assert!(
            out.stdout
                .starts_with("Username: Password: \nLogin succeeded."),
            "{}",
            out.stdout
        );
        let file = home.path().join(".netctl/config.json");
        assert_eq!(
            std::fs::read_to_string(&file).unwrap(),
            r#"{"token":"tok-123"}"#
        );
        assert_eq!(
            std::fs::metadata(&file).unwrap().permissions().mode() & 0o777,
            0o600
        );
        let dir = home.path().join(".netctl");
        assert_eq!(
            std::fs::metadata(dir).unwrap().permissions().mode() & 0o777,
            0o700
        );

        // The saved token is used by the next command.
        let out = nm.clone().fallback(200, "[]").run(&[
            "--netmaster",
            "https://contiv.example:10000",
            "tenant",
            "ls",
        ]);
        assert_eq!(out.config.unwrap().token.as_deref(), Some("tok-123"));
    }

    #[test]
    fn login_failures() {
        let home = tempfile::tempdir().unwrap();
        let base = ScriptedNetmaster::new().home(home.path().to_path_buf());
        let out = base.clone().stdin("a\nb\n").run(&["login"]);
        assert_eq!(out.exit, Exit::Usage);
        assert!(
            out.stderr.contains("login requires a https"),
            "{}",
            out.stderr
        );
        assert!(out.requests.is_empty());

        let https = ["--netmaster", "https://h", "login"];
        let out = base
            .clone()
            .on(Post, "/api/v1/auth_proxy/login/", 401, "")
            .stdin("alice\nwrong\n")
            .run(&https);
        assert_eq!(out.exit, Exit::Invalid);
        assert!(
            out.stderr.contains("Bad username or password"),
            "{}",
            out.stderr
        );
        assert!(!home.path().join(".netctl/config.json").exists());

        let out = base.clone().stdin("\n").run(&https);
        assert_eq!(out.exit, Exit::Usage);
        assert!(
            out.stderr.contains("you must specify a username"),
            "{}",
            out.stderr
        );
    }
}
