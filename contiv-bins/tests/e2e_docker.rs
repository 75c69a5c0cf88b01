//! The seed tutorial's Docker flow against a real Docker engine: a
//! `dockerd` started by the test (REAL_COMPONENTS §1: `--iptables=false
//! --bridge=none`, data and exec roots in a temporary directory, a busybox
//! image imported offline from busybox-static) uses the real `netplugin`
//! (on a real Open vSwitch) as its remote network and IPAM plugin. The
//! agent creates the Docker networks named as the original did;
//! `docker run --net=contiv-net` and `--net web.contiv-net` containers
//! ping each other; `docker run -p` publishes a port reached from the
//! host and closed with the container; removing them gives every address
//! back.

#[path = "netplugin_support/mod.rs"]
mod support;

#[path = "e2e_support/mod.rs"]
mod e2e;

#[cfg(test)]
mod e2e_docker {
    use super::e2e::{self, Plugin, Switch};
    use super::support::{Cluster, eventually};
    use std::path::{Path, PathBuf};
    use std::process::{Child, Command, Stdio};
    use std::time::{Duration, Instant};

    /// A private dockerd (and the containerd it starts), stopped by pid on
    /// drop with everything it mounted.
    struct Dockerd {
        child: Option<Child>,
        dir: Option<tempfile::TempDir>,
        sock: PathBuf,
    }

    fn signal(pid: u32, sig: libc::c_int) {
        if let Ok(p) = libc::pid_t::try_from(pid) {
            // SAFETY: kill(2) has no memory-safety preconditions.
            unsafe {
                libc::kill(p, sig);
            }
        }
    }

    impl Dockerd {
        fn start() -> Dockerd {
            let dir = tempfile::Builder::new()
                .prefix("dockerd-")
                .tempdir()
                .expect("tempdir");
            let t = dir.path();
            std::fs::create_dir_all(t.join("data")).unwrap();
            std::fs::create_dir_all(t.join("exec")).unwrap();
            let sock = t.join("docker.sock");
            let log = std::fs::File::create(t.join("dockerd.log")).unwrap();
            let child = Command::new("dockerd")
                .arg("-H")
                .arg(format!("unix://{}", sock.display()))
                .arg("--data-root")
                .arg(t.join("data"))
                .arg("--exec-root")
                .arg(t.join("exec"))
                .arg("--pidfile")
                .arg(t.join("dockerd.pid"))
                .args([
                    "--iptables=false",
                    "--ip6tables=false",
                    "--bridge=none",
                    "--storage-driver",
                    "overlay2",
                ])
                .stdin(Stdio::null())
                .stdout(log.try_clone().unwrap())
                .stderr(log)
                .spawn()
                .expect("dockerd starts (install docker.io: make deps)");
            let d = Dockerd {
                child: Some(child),
                dir: Some(dir),
                sock,
            };
            let deadline = Instant::now() + Duration::from_secs(30);
            loop {
                if d.docker(&["version", "--format", "{{.Server.Version}}"]).0 {
                    break;
                }
                assert!(
                    Instant::now() < deadline,
                    "dockerd did not come up: {}",
                    d.log()
                );
                std::thread::sleep(Duration::from_millis(100));
            }
            d
        }

        fn dir(&self) -> &Path {
            self.dir.as_ref().expect("dir").path()
        }

        fn log(&self) -> String {
            std::fs::read_to_string(self.dir().join("dockerd.log")).unwrap_or_default()
        }

        /// Runs the docker CLI against this daemon.
        fn docker(&self, args: &[&str]) -> (bool, String) {
            let out = Command::new("docker")
                .env("DOCKER_HOST", format!("unix://{}", self.sock.display()))
                .args(args)
                .stdin(Stdio::null())
                .output()
                .expect("docker CLI runs");
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
            let (ok, out) = self.docker(args);
            assert!(ok, "docker {args:?}: {out}\ndockerd log:\n{}", self.log());
            out
        }

        /// `busybox:local`, built offline from busybox-static.
        fn import_busybox(&self) {
            let mut import = Command::new("docker");
            import
                .env("DOCKER_HOST", format!("unix://{}", self.sock.display()))
                .args(["import", "-c", "CMD [\"/bin/sh\"]", "-", "busybox:local"]);
            e2e::import_busybox(self.dir(), import);
        }

        fn ip_of(&self, name: &str) -> String {
            self.ok(&[
                "inspect",
                "--format",
                "{{range .NetworkSettings.Networks}}{{.IPAddress}}{{end}}",
                name,
            ])
            .trim()
            .to_owned()
        }
    }

    impl Drop for Dockerd {
        fn drop(&mut self) {
            let (_, ids) = self.docker(&["ps", "-aq"]);
            for id in ids.split_whitespace() {
                let _ = self.docker(&["rm", "-f", id]);
            }
            let containerd = self
                .dir
                .as_ref()
                .and_then(|d| {
                    std::fs::read_to_string(d.path().join("exec/containerd/containerd.pid")).ok()
                })
                .and_then(|s| s.trim().parse::<u32>().ok());
            if let Some(mut c) = self.child.take() {
                signal(c.id(), libc::SIGTERM);
                let deadline = Instant::now() + Duration::from_secs(20);
                while Instant::now() < deadline {
                    if let Ok(Some(_)) = c.try_wait() {
                        break;
                    }
                    std::thread::sleep(Duration::from_millis(50));
                }
                let _ = c.kill();
                let _ = c.wait();
            }
            // The containerd dockerd started, if it outlived dockerd.
            if let Some(pid) = containerd {
                let comm = std::fs::read_to_string(format!("/proc/{pid}/comm")).unwrap_or_default();
                if comm.trim() == "containerd" {
                    signal(pid, libc::SIGKILL);
                }
            }
            // Anything still mounted under the directory.
            if let Some(d) = self.dir.take() {
                let prefix = d.path().display().to_string();
                let mounts = std::fs::read_to_string("/proc/mounts").unwrap_or_default();
                let mut points: Vec<&str> = mounts
                    .lines()
                    .filter_map(|l| l.split_whitespace().nth(1))
                    .filter(|p| p.starts_with(&prefix))
                    .collect();
                points.sort_by_key(|p| std::cmp::Reverse(p.len()));
                for p in points {
                    let _ = Command::new("umount").args(["-l", p]).status();
                }
                let _ = d.close();
            }
        }
    }

    /// `GET /hostname` from `127.0.0.1:port`: the answer, or `None` when
    /// the port does not answer.
    fn http_get(port: u16) -> Option<String> {
        use std::io::{Read, Write};
        let addr = std::net::SocketAddr::from(([127, 0, 0, 1], port));
        let mut s = std::net::TcpStream::connect_timeout(&addr, Duration::from_secs(2)).ok()?;
        s.set_read_timeout(Some(Duration::from_secs(2))).ok()?;
        s.write_all(b"GET /hostname HTTP/1.0\r\n\r\n").ok()?;
        let mut out = String::new();
        s.read_to_string(&mut out).ok()?;
        (!out.is_empty()).then_some(out)
    }

    /// Removes every container of a dockerd on drop: declared after the
    /// agent, so a failing test removes them while the agent can still
    /// delete their endpoints (Docker moves the interfaces back to the
    /// host at Leave; without the agent they would stay).
    struct RemoveContainers(PathBuf);

    impl Drop for RemoveContainers {
        fn drop(&mut self) {
            let docker = |args: &[&str]| {
                Command::new("docker")
                    .env("DOCKER_HOST", format!("unix://{}", self.0.display()))
                    .args(args)
                    .stdin(Stdio::null())
                    .output()
                    .ok()
            };
            if let Some(out) = docker(&["ps", "-aq"]) {
                for id in String::from_utf8_lossy(&out.stdout).split_whitespace() {
                    let _ = docker(&["rm", "-f", id]);
                }
            }
        }
    }

    /// A file removed on drop.
    struct RemoveOnDrop(PathBuf);

    impl Drop for RemoveOnDrop {
        fn drop(&mut self) {
            let _ = std::fs::remove_file(&self.0);
        }
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn docker_run_on_contiv_networks_and_groups() {
        let c = Cluster::start(&[]).await;
        // The seed: `netctl net create --subnet=10.1.2.0/24 --gateway
        // 10.1.2.254 contiv-net`,
        // `netctl group create contiv-net web`.
        // (With a gateway: the way back from a published port's clients.)
        c.network("default", "contiv-net", "10.1.2.0/24", "10.1.2.254")
            .await;
        c.group("contiv-net", "web", &[]).await;
        let d = tokio::task::block_in_place(|| {
            let d = Dockerd::start();
            d.import_busybox();
            d
        });
        // Docker looks for the container-side veth in its own namespace:
        // the switch runs in the host namespace, as on a real host.
        let sw = Switch::start_in_host();
        let dir = c.dir.path().join("np");
        let plugin = format!("contivt{}", std::process::id());
        // The plugin socket lives in Docker's fixed directory: removed
        // whatever happens (after the agent is gone).
        let _sock = RemoveOnDrop(PathBuf::from(format!("/run/docker/plugins/{plugin}.sock")));
        let docker_host = format!("unix://{}", d.sock.display());
        let mut p = Plugin::start(
            &c.url,
            &dir,
            &sw,
            "h1",
            &[
                "--plugin-name",
                &plugin,
                "--docker-plugin-dir",
                "/run/docker/plugins",
                "--docker-host",
                &docker_host,
            ],
        );
        p.wait_ready().await;
        let _containers = RemoveContainers(d.sock.clone());
        // The agent creates the Docker networks, named as the original.
        let nets = eventually(Duration::from_secs(30), async || {
            let (_, out) = d.docker(&["network", "ls", "--format", "{{.Name}} {{.Driver}}"]);
            (out.contains(&format!("contiv-net {plugin}"))
                && out.contains(&format!("web.contiv-net {plugin}")))
            .then_some(out)
        })
        .await;
        assert!(nets.is_some(), "Docker networks not created:\n{}", p.log());

        tokio::task::block_in_place(|| {
            d.ok(&[
                "run",
                "-d",
                "--name",
                "contiv-c1",
                "--net=contiv-net",
                "busybox:local",
                "sleep",
                "600",
            ]);
            d.ok(&[
                "run",
                "-d",
                "--name",
                "contiv-c2",
                "--net=contiv-net",
                "busybox:local",
                "sleep",
                "600",
            ]);
            d.ok(&[
                "run",
                "-d",
                "--name",
                "contiv-web",
                "--net",
                "web.contiv-net",
                "busybox:local",
                "sleep",
                "600",
            ]);
        });
        let (c1, c2, w) = tokio::task::block_in_place(|| {
            (
                d.ip_of("contiv-c1"),
                d.ip_of("contiv-c2"),
                d.ip_of("contiv-web"),
            )
        });
        for ip in [&c1, &c2, &w] {
            assert!(ip.starts_with("10.1.2."), "{c1} {c2} {w}");
        }
        // netmaster holds the three endpoints, the group member among them.
        let eps = c.endpoints();
        assert_eq!(eps.len(), 3, "{eps:?}");
        assert_eq!(eps.iter().filter(|e| e.group == "web").count(), 1);
        // `docker run -p HOSTPORT:80`: a web server in the container is
        // reached at the host port from the host (loopback: the OVS
        // datapath's nftables DNAT), and is gone with the container.
        let host_port = 20000 + (std::process::id() % 20000) as u16;
        let published = format!("{host_port}:80");
        tokio::task::block_in_place(|| {
            d.ok(&[
                "run",
                "-d",
                "--name",
                "contiv-pub",
                "--net=contiv-net",
                "-p",
                &published,
                "busybox:local",
                "httpd",
                "-f",
                "-p",
                "80",
                "-h",
                "/etc",
            ]);
        });
        let rec = c
            .endpoints()
            .into_iter()
            .find(|e| !e.published.is_empty())
            .expect("the published container's endpoint records its port");
        assert_eq!(
            (rec.published[0].host_port, rec.published[0].port),
            (host_port, 80)
        );
        let got = eventually(Duration::from_secs(20), async || {
            tokio::task::block_in_place(|| http_get(host_port)).filter(|r| r.contains(" 200 "))
        })
        .await;
        assert!(
            got.is_some(),
            "published port {host_port} not reached:\n{}",
            p.log()
        );
        // A second container cannot take the same host port.
        let (ran, out) = tokio::task::block_in_place(|| {
            d.docker(&[
                "run",
                "-d",
                "--name",
                "contiv-pub2",
                "--net=contiv-net",
                "-p",
                &published,
                "busybox:local",
                "sleep",
                "600",
            ])
        });
        assert!(!ran, "a taken host port must be refused: {out}");
        assert!(out.contains("already published"), "{out}");
        tokio::task::block_in_place(|| {
            d.ok(&["rm", "-f", "contiv-pub"]);
            let _ = d.docker(&["rm", "-f", "contiv-pub2"]);
        });
        let closed = eventually(Duration::from_secs(20), async || {
            tokio::task::block_in_place(|| http_get(host_port))
                .is_none()
                .then_some(())
        })
        .await;
        assert!(
            closed.is_some(),
            "port {host_port} still open after docker rm"
        );
        assert_eq!(c.endpoints().len(), 3, "{:?}", c.endpoints());

        tokio::task::block_in_place(|| {
            let out = d.ok(&["exec", "contiv-c1", "ping", "-c", "2", "-W", "2", &c2]);
            assert!(out.contains("2 packets received"), "{out}");
            let out = d.ok(&["exec", "contiv-web", "ping", "-c", "2", "-W", "2", &c1]);
            assert!(out.contains("2 packets received"), "{out}");
            // The interface Docker moved in: eth0, contiv's MAC scheme.
            let link = d.ok(&["exec", "contiv-c2", "ip", "link", "show", "eth0"]);
            let o: Vec<u8> = c2.split('.').map(|x| x.parse().unwrap()).collect();
            let mac = format!("02:02:{:02x}:{:02x}:{:02x}:{:02x}", o[0], o[1], o[2], o[3]);
            assert!(link.contains(&mac), "{link}");
            // By name: Docker's own DNS on a network...
            let out = d.ok(&[
                "exec",
                "contiv-c1",
                "ping",
                "-c",
                "1",
                "-W",
                "2",
                "contiv-c2",
            ]);
            assert!(out.contains(&c2), "{out}");
            // ...and contiv's across Docker networks: the group name.
            let out = d.ok(&["exec", "contiv-c1", "nslookup", "web", "169.254.53.53"]);
            assert!(out.contains(&w), "{out}");
        });

        // Removing the containers gives every address back.
        tokio::task::block_in_place(|| {
            d.ok(&["rm", "-f", "contiv-c1", "contiv-c2", "contiv-web"]);
        });
        let freed = eventually(Duration::from_secs(20), async || {
            (c.endpoints().is_empty() && c.reservations().await.is_empty()).then_some(())
        })
        .await;
        assert!(freed.is_some(), "endpoints: {:?}", c.endpoints());
        let left: Vec<String> = sw
            .ports()
            .into_iter()
            .filter(|p| p.starts_with("vp"))
            .collect();
        assert!(left.is_empty(), "{left:?}");
        p.stop();
        drop(d);
        drop(sw);
        assert!(
            !std::path::Path::new(&format!(
                "/sys/class/net/ctvb{}",
                std::process::id() % 100_000
            ))
            .exists(),
            "the bridge's tap device is gone"
        );
    }
}
