//! `contiv-cni` as podman's CNI plugin (podman 4 with the CNI backend,
//! REAL_COMPONENTS §3): `podman run --network contiv-net` containers get
//! their interface from the real `netplugin` on a real Open vSwitch, ping
//! each other, resolve each other by name, and podman's DEL on removal
//! gives the addresses back. Podman's state, images and configuration
//! live in a temporary directory.

#[path = "netplugin_support/mod.rs"]
mod support;

#[path = "e2e_support/mod.rs"]
mod e2e;

#[cfg(test)]
mod cni_podman {
    use super::e2e::{self, CONTIV_CNI, Plugin, Switch};
    use super::support::Cluster;
    use serde_json::json;
    use std::path::PathBuf;
    use std::process::{Command, Stdio};

    /// Podman with every path under a temporary directory; containers are
    /// removed on drop.
    struct Podman {
        dir: tempfile::TempDir,
        conf: PathBuf,
        started: Vec<String>,
    }

    impl Podman {
        fn new() -> Podman {
            let dir = tempfile::tempdir().expect("tempdir");
            let t = dir.path();
            for d in ["podman/cni", "podman/tmp", "cni/bin"] {
                std::fs::create_dir_all(t.join(d)).unwrap();
            }
            std::os::unix::fs::symlink(CONTIV_CNI, t.join("cni/bin/contiv-cni")).unwrap();
            let conf = t.join("podman/containers.conf");
            std::fs::write(
                &conf,
                format!(
                    r#"[containers]
netns = "bridge"
default_ulimits = ["nofile=20000:20000", "nproc=4096:4096"]
[network]
network_backend = "cni"
cni_plugin_dirs = ["{t}/cni/bin", "/usr/lib/cni"]
network_config_dir = "{t}/podman/cni"
default_subnet = "10.88.0.0/16"
[engine]
runtime = "runc"
cgroup_manager = "cgroupfs"
events_logger = "file"
events_logfile_path = "{t}/podman/events.log"
tmp_dir = "{t}/podman/tmp"
"#,
                    t = t.display()
                ),
            )
            .unwrap();
            Podman {
                dir,
                conf,
                started: Vec::new(),
            }
        }

        fn cmd(&self) -> Command {
            let t = self.dir.path();
            let mut c = Command::new("podman");
            c.env("CONTAINERS_CONF", &self.conf)
                .arg("--root")
                .arg(t.join("podman/root"))
                .arg("--runroot")
                .arg(t.join("podman/run"))
                .args(["--storage-driver", "overlay"]);
            c
        }

        /// Runs podman; returns (success, stdout + stderr).
        fn run(&self, args: &[&str]) -> (bool, String) {
            let out = self
                .cmd()
                .args(args)
                .stdin(Stdio::null())
                .output()
                .expect("podman runs (install podman: make deps)");
            (
                out.status.success(),
                format!(
                    "{}{}",
                    String::from_utf8_lossy(&out.stdout),
                    String::from_utf8_lossy(&out.stderr)
                ),
            )
        }

        fn ok(&self, args: &[&str]) -> String {
            let (ok, out) = self.run(args);
            assert!(ok, "podman {args:?}: {out}");
            out
        }

        /// Imports a busybox image built offline from busybox-static.
        fn import_busybox(&self) {
            let mut import = self.cmd();
            import.args([
                "import",
                "--change",
                "CMD [\"/bin/sh\"]",
                "-",
                "localhost/busybox:local",
            ]);
            e2e::import_busybox(self.dir.path(), import);
        }

        fn start(&mut self, name: &str, network: &str) -> String {
            self.started.push(name.to_owned());
            self.ok(&[
                "run",
                "-d",
                "--name",
                name,
                "--network",
                network,
                "localhost/busybox:local",
                "sleep",
                "600",
            ])
        }

        fn ip_of(&self, name: &str) -> String {
            let out = self.ok(&["exec", name, "ip", "-4", "-o", "addr", "show", "eth0"]);
            let word = out
                .split_whitespace()
                .skip_while(|w| *w != "inet")
                .nth(1)
                .unwrap_or_else(|| panic!("no address: {out}"));
            word.split('/').next().unwrap().to_owned()
        }
    }

    impl Drop for Podman {
        fn drop(&mut self) {
            for n in std::mem::take(&mut self.started) {
                let _ = self.run(&["rm", "-f", "-t", "0", &n]);
            }
            // Unmount podman's storage before the directory goes.
            let _ = self.run(&["system", "reset", "--force"]);
        }
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn podman_containers_on_contiv_ping_each_other() {
        let c = Cluster::start(&[]).await;
        c.network("default", "contiv-net", "10.1.2.0/24", "10.1.2.254")
            .await;
        let sw = Switch::start();
        let dir = c.dir.path().join("np");
        let mut p = Plugin::start(&c.url, &dir, &sw, "h1", &[]);
        p.wait_ready().await;

        let mut pm = Podman::new();
        let conflist = json!({"cniVersion": "1.0.0", "name": "contiv-net", "plugins": [
            {"type": "contiv-cni", "network": "contiv-net", "socket": p.sock.display().to_string()}
        ]});
        std::fs::write(
            pm.dir.path().join("podman/cni/contiv-net.conflist"),
            conflist.to_string(),
        )
        .unwrap();
        pm.import_busybox();
        let pm_ref = &mut pm;
        tokio::task::block_in_place(|| {
            pm_ref.start("pod-a", "contiv-net");
            pm_ref.start("pod-b", "contiv-net");
        });
        let (a, b) = tokio::task::block_in_place(|| (pm.ip_of("pod-a"), pm.ip_of("pod-b")));
        assert!(
            a.starts_with("10.1.2.") && b.starts_with("10.1.2."),
            "{a} {b}"
        );
        assert_eq!(c.allocated("default:contiv-net").await, 2);
        // The endpoints carry podman's container names (for DNS).
        let mut names: Vec<String> = c
            .endpoints()
            .iter()
            .map(|e| e.container_name.clone())
            .collect();
        names.sort();
        assert_eq!(names, ["pod-a", "pod-b"]);
        tokio::task::block_in_place(|| {
            let out = pm.ok(&["exec", "pod-a", "ping", "-c", "2", "-W", "2", &b]);
            assert!(out.contains("2 packets received"), "{out}");
            let out = pm.ok(&["exec", "pod-b", "ping", "-c", "2", "-W", "2", &a]);
            assert!(out.contains("2 packets received"), "{out}");
            // By name, through the built-in DNS.
            let out = pm.ok(&["exec", "pod-a", "nslookup", "pod-b", "169.254.53.53"]);
            assert!(out.contains(&b), "{out}");
        });

        // podman rm: podman calls DEL; the addresses come back.
        tokio::task::block_in_place(|| {
            pm.ok(&["rm", "-f", "-t", "0", "pod-a", "pod-b"]);
        });
        pm.started.clear();
        assert_eq!(c.allocated("default:contiv-net").await, 0);
        assert!(c.endpoints().is_empty());
        let left: Vec<String> = sw
            .ports()
            .into_iter()
            .filter(|p| p.starts_with("vp"))
            .collect();
        assert!(left.is_empty(), "{left:?}");
        drop(pm);
    }
}
