//! The `netplugin` binary as a process: `kill -9` in the middle of an ADD
//! (after netmaster created the endpoint and the datapath plumbed it, and
//! before the answer) leaves nothing once the agent is started again — the
//! journal undoes the unfinished ADD; and bad configurations exit 22.

#[path = "netplugin_support/mod.rs"]
mod support;

#[cfg(test)]
mod netplugin {
    use super::support::{Cluster, eventually};
    use axum::http::Method;
    use contiv_bins::netplugin::unix;
    use serde_json::json;
    use std::path::{Path, PathBuf};
    use std::process::{Child, Command, Stdio};
    use std::time::Duration;

    const BIN: &str = env!("CARGO_BIN_EXE_netplugin");

    /// A netplugin process, killed (by pid) on drop.
    struct Proc(Child);

    impl Drop for Proc {
        fn drop(&mut self) {
            let _ = self.0.kill();
            let _ = self.0.wait();
        }
    }

    fn spawn(c: &Cluster, dir: &Path, faults: Option<&str>) -> Proc {
        let log = std::fs::File::create(dir.join(format!("netplugin-{}.log", faults.is_some())))
            .expect("log");
        let mut cmd = Command::new(BIN);
        cmd.args([
            "--datapath",
            "recording",
            "--host",
            "h1",
            "--vtep-ip",
            "192.0.2.1",
            "--netmaster",
            &c.url,
        ])
        .arg("--cni-socket")
        .arg(dir.join("cni.sock"))
        .arg("--docker-plugin-dir")
        .arg(dir)
        .arg("--state-dir")
        .arg(dir.join("state"))
        .env_remove("CONTIV_NETPLUGIN_FAULTS")
        .stdout(Stdio::null())
        .stderr(log);
        if let Some(f) = faults {
            cmd.args(["--faults", f]);
        }
        Proc(cmd.spawn().expect("netplugin starts"))
    }

    async fn ready(sock: &Path) -> bool {
        eventually(Duration::from_secs(20), async || {
            let (s, b) = unix::request(sock, Method::GET, "/status", None, Duration::from_secs(2))
                .await
                .ok()?;
            let v: serde_json::Value = serde_json::from_slice(&b).ok()?;
            (s.is_success() && v["ready"] == true).then_some(())
        })
        .await
        .is_some()
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn kill_9_during_an_add_leaves_nothing_after_restart() {
        let c = Cluster::start(&[]).await;
        c.network("default", "contiv-net", "10.1.2.0/24", "").await;
        let dir: PathBuf = c.dir.path().join("np");
        std::fs::create_dir_all(&dir).unwrap();
        let sock = dir.join("cni.sock");
        let mut p = spawn(&c, &dir, Some("after_plumb@60000"));
        assert!(ready(&sock).await, "netplugin did not become ready");
        let s2 = sock.clone();
        let add = tokio::spawn(async move {
            let body = json!({"container_id": "c1", "ifname": "eth0", "netns": "/run/netns/x", "network": "contiv-net"});
            unix::request(
                &s2,
                Method::POST,
                "/cni/add",
                Some(body.to_string().into_bytes()),
                Duration::from_secs(90),
            )
            .await
        });
        eventually(Duration::from_secs(15), async || {
            (c.endpoints().len() == 1).then_some(())
        })
        .await
        .expect("netmaster created the endpoint");
        assert_eq!(c.allocated("default:contiv-net").await, 1);
        assert!(
            dir.join("state/pending").read_dir().unwrap().count() == 1,
            "the ADD is journalled"
        );
        p.0.kill().expect("kill -9");
        p.0.wait().expect("reaped");
        assert!(add.await.unwrap().is_err(), "the ADD never answered");
        assert_eq!(
            c.endpoints().len(),
            1,
            "the endpoint is still at netmaster while the agent is down"
        );

        let _p2 = spawn(&c, &dir, None);
        assert!(ready(&sock).await, "netplugin did not start again");
        eventually(Duration::from_secs(15), async || {
            (c.endpoints().is_empty() && c.allocated("default:contiv-net").await == 0).then_some(())
        })
        .await
        .expect("the restarted agent undid the unfinished ADD");
        assert_eq!(dir.join("state/pending").read_dir().unwrap().count(), 0);
    }

    #[test]
    fn bad_configurations_exit_22() {
        let out = Command::new(BIN).arg("--no-such-flag").output().unwrap();
        assert_eq!(out.status.code(), Some(22));
        let dir = tempfile::tempdir().unwrap();
        let out = Command::new(BIN)
            .args([
                "--datapath",
                "ovs",
                "--host",
                "h1",
                "--vtep-ip",
                "192.0.2.1",
                "--netmaster",
                "http://127.0.0.1:1",
            ])
            .arg("--cni-socket")
            .arg(dir.path().join("s.sock"))
            .arg("--state-dir")
            .arg(dir.path())
            .arg("--no-docker-plugin")
            .arg("--ovs-rundir")
            .arg(dir.path().join("no-ovs-here"))
            .args(["--ovs-timeout", "1s"])
            .output()
            .unwrap();
        assert_eq!(out.status.code(), Some(22));
        let err = String::from_utf8_lossy(&out.stderr);
        assert!(
            err.contains("cannot use Open vSwitch") && err.contains("no-ovs-here"),
            "{err}"
        );
        let out = Command::new(BIN)
            .args([
                "--datapath",
                "recording",
                "--host",
                "bad name!",
                "--vtep-ip",
                "192.0.2.1",
            ])
            .arg("--state-dir")
            .arg(dir.path())
            .output()
            .unwrap();
        assert_eq!(out.status.code(), Some(22));
        assert!(String::from_utf8_lossy(&out.stderr).contains("invalid host name"));
        // Issue 12 point 5: durations that overflow were a panic.
        for (flag, value, msg) in [
            ("--add-timeout", "99999999999999999999999h", "too long"),
            ("--ovs-timeout", "99999999999999999999999h", "too long"),
            ("--add-timeout", "5000000000000000h", "--add-timeout"),
        ] {
            let out = Command::new(BIN)
                .args([
                    "--datapath",
                    "recording",
                    "--host",
                    "h1",
                    "--vtep-ip",
                    "192.0.2.1",
                ])
                .args([flag, value])
                .arg("--state-dir")
                .arg(dir.path())
                .output()
                .unwrap();
            let err = String::from_utf8_lossy(&out.stderr);
            assert_eq!(out.status.code(), Some(22), "{flag} {value}: {err}");
            assert!(err.contains(msg), "{flag} {value}: {err}");
            assert!(!err.contains("panicked"), "{err}");
        }
    }
}
