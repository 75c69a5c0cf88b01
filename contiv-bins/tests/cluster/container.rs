//! "Containers": network namespaces attached by running the real
//! `contiv-cni` binary inside a host's namespace, exactly as a runtime
//! would (CNI environment + netconf on stdin), with the result's DNS
//! written into the container's resolv.conf. Ping, TCP connect and TCP
//! listeners run inside with `ip netns exec`.

use super::netns::Netns;
use super::sys::Proc;
use serde_json::{Value, json};
use std::io::Write;
use std::net::Ipv4Addr;
use std::path::PathBuf;
use std::process::Stdio;
use std::time::{Duration, Instant};

/// The CNI error code "try again later".
pub const CNI_TRY_AGAIN_LATER: u64 = 11;
/// How long an ADD answered "try again later" is retried.
pub const TRY_AGAIN: Duration = Duration::from_secs(30);

/// Where a container goes: tenant, network and optional group.
#[derive(Clone, Debug)]
pub struct Attach {
    /// Tenant (`default` when empty).
    pub tenant: String,
    /// Network name.
    pub network: String,
    /// Endpoint group, if any.
    pub group: Option<String>,
    /// A requested address (`args.cni.ips`), if any.
    pub ip: Option<Ipv4Addr>,
}

impl Attach {
    /// Network `network` of tenant `default`.
    pub fn net(network: &str) -> Attach {
        Attach {
            tenant: "default".into(),
            network: network.into(),
            group: None,
            ip: None,
        }
    }

    /// Network `network` of `tenant`.
    pub fn tenant_net(tenant: &str, network: &str) -> Attach {
        Attach {
            tenant: tenant.into(),
            network: network.into(),
            group: None,
            ip: None,
        }
    }

    /// The same, asking for address `ip`.
    pub fn with_ip(mut self, ip: Ipv4Addr) -> Attach {
        self.ip = Some(ip);
        self
    }

    /// The same, in group `group`.
    pub fn group(mut self, group: &str) -> Attach {
        self.group = Some(group.into());
        self
    }

    fn cni_args(&self, name: &str) -> String {
        let mut a = format!(
            "IgnoreUnknown=1;K8S_POD_NAME={name};CONTIV_TENANT={};CONTIV_NETWORK={}",
            self.tenant, self.network
        );
        if let Some(g) = &self.group {
            a.push_str(&format!(";CONTIV_GROUP={g}"));
        }
        a
    }
}

/// What a container runtime needs to call the plugin on a host.
#[derive(Clone, Debug)]
pub struct Runtime {
    /// The `contiv-cni` binary.
    pub cni: PathBuf,
    /// The host's namespace name (the plugin runs there).
    pub host_ns: String,
    /// The host's name.
    pub host: String,
    /// The agent's socket.
    pub socket: PathBuf,
}

/// The outcome of one `contiv-cni` run.
#[derive(Clone, Debug)]
pub struct CniOutput {
    /// Exit code.
    pub code: i32,
    /// Standard output.
    pub stdout: String,
}

impl Runtime {
    /// Runs `contiv-cni` with `CNI_COMMAND=cmd` for container `cid` in
    /// namespace `netns`, asking for address `ip` if given.
    pub fn cni(
        &self,
        cmd: &str,
        cid: &str,
        netns: &std::path::Path,
        args: &str,
        ip: Option<Ipv4Addr>,
    ) -> CniOutput {
        let mut conf = json!({
            "cniVersion": "1.0.0",
            "name": "contiv-net",
            "type": "contiv-cni",
            "socket": self.socket.display().to_string(),
        });
        if let Some(ip) = ip {
            conf["args"] = json!({"cni": {"ips": [ip.to_string()]}});
        }
        let mut c = std::process::Command::new("ip");
        c.args(["netns", "exec", self.host_ns.as_str()])
            .arg(&self.cni)
            .env_clear()
            .env("PATH", std::env::var_os("PATH").unwrap_or_default())
            .env("CNI_COMMAND", cmd)
            .env("CNI_PATH", "/nonexistent")
            .env("CNI_CONTAINERID", cid)
            .env("CNI_NETNS", netns)
            .env("CNI_IFNAME", "eth0")
            .env("CNI_ARGS", args)
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped());
        let mut child = c
            .spawn()
            .unwrap_or_else(|e| panic!("cannot run contiv-cni: {e}"));
        child
            .stdin
            .take()
            .expect("stdin")
            .write_all(conf.to_string().as_bytes())
            .expect("write the netconf");
        let out = child.wait_with_output().expect("contiv-cni exits");
        CniOutput {
            code: out.status.code().unwrap_or(-1),
            stdout: String::from_utf8_lossy(&out.stdout).into_owned(),
        }
    }
}

/// A container. [`Container::remove`] is the orderly CNI DEL (it must
/// succeed); dropping one that was not removed tries a DEL and deletes
/// the namespace (the veth goes with it).
#[derive(Debug)]
pub struct Container {
    /// Its name (`K8S_POD_NAME`: the name DNS answers for).
    pub name: String,
    /// Its container id.
    pub cid: String,
    /// The host it runs on.
    pub host: String,
    /// Its IPv4 address.
    pub ip: Ipv4Addr,
    /// Its IPv6 address, if the network has a v6 subnet.
    pub ipv6: Option<String>,
    /// Its MAC.
    pub mac: String,
    /// The CNI result.
    pub result: Value,
    args: String,
    requested: Option<Ipv4Addr>,
    runtime: Runtime,
    removed: bool,
    /// Its namespace.
    pub ns: Netns,
}

impl Container {
    /// Attaches a new container `name` through `rt` (CNI ADD, retried
    /// while the plugin answers "try again later", as runtimes do); panics
    /// with the plugin's answer if the ADD fails.
    pub fn add(rt: &Runtime, name: &str, at: &Attach) -> Container {
        Self::try_add(rt, name, at).unwrap_or_else(|e| panic!("{e}"))
    }

    /// [`Container::add`] returning the failure (the namespace is removed).
    pub fn try_add(rt: &Runtime, name: &str, at: &Attach) -> Result<Container, String> {
        let ns = Netns::create("ctvc");
        let cid = format!("{}-{}", name, ns.name());
        let args = at.cni_args(name);
        // CNI code 11 is "try again later" (e.g. the agent is re-registering
        // after a netmaster switchover); a runtime retries it, and so do we.
        let start = Instant::now();
        let deadline = start + TRY_AGAIN;
        let mut retries = 0;
        let out = loop {
            let out = rt.cni("ADD", &cid, &ns.path(), &args, at.ip);
            let again = out.code != 0
                && serde_json::from_str::<Value>(out.stdout.trim())
                    .is_ok_and(|v| v["code"] == CNI_TRY_AGAIN_LATER);
            if !again || Instant::now() >= deadline {
                break out;
            }
            retries += 1;
            std::thread::sleep(Duration::from_millis(200));
        };
        if retries > 0 {
            eprintln!(
                "[cni] ADD of {name} on {}: \"try again later\" {retries}x, done after {:.1}s",
                rt.host,
                start.elapsed().as_secs_f64()
            );
        }
        if out.code != 0 {
            return Err(format!(
                "CNI ADD of {name} on {} into {:?} failed ({}): {}",
                rt.host, at, out.code, out.stdout
            ));
        }
        let result: Value = serde_json::from_str(out.stdout.trim())
            .map_err(|e| format!("ADD result is not JSON ({e}): {}", out.stdout))?;
        let mut ip = None;
        let mut ipv6 = None;
        for a in result["ips"].as_array().into_iter().flatten() {
            let addr = a["address"].as_str().unwrap_or_default();
            let host = addr.split('/').next().unwrap_or_default();
            if let Ok(v4) = host.parse::<Ipv4Addr>() {
                ip = Some(v4);
            } else if !host.is_empty() {
                ipv6 = Some(host.to_owned());
            }
        }
        let ip = ip.ok_or_else(|| format!("no IPv4 address in {result}"))?;
        let mac = result["interfaces"]
            .as_array()
            .into_iter()
            .flatten()
            .find(|i| i["name"] == "eth0")
            .and_then(|i| i["mac"].as_str())
            .unwrap_or_default()
            .to_owned();
        let servers: Vec<String> = result["dns"]["nameservers"]
            .as_array()
            .into_iter()
            .flatten()
            .filter_map(|s| s.as_str().map(str::to_owned))
            .collect();
        let search: Vec<String> = result["dns"]["search"]
            .as_array()
            .into_iter()
            .flatten()
            .filter_map(|s| s.as_str().map(str::to_owned))
            .collect();
        if !servers.is_empty() {
            ns.set_resolvers(&servers, &search);
        }
        Ok(Container {
            name: name.to_owned(),
            cid,
            host: rt.host.clone(),
            ip,
            ipv6,
            mac,
            result,
            args,
            requested: at.ip,
            runtime: rt.clone(),
            removed: false,
            ns,
        })
    }

    /// The endpoint id the agent registers (`<container id>-<ifname>`).
    pub fn endpoint_id(&self) -> String {
        format!("{}-eth0", self.cid)
    }

    /// CNI DEL (must succeed), then the namespace goes with the drop.
    pub fn remove(mut self) {
        self.del();
    }

    fn del(&mut self) {
        let out = self.runtime.cni(
            "DEL",
            &self.cid,
            &self.ns.path(),
            &self.args,
            self.requested,
        );
        assert_eq!(
            out.code, 0,
            "CNI DEL of {} on {} failed: {}",
            self.name, self.host, out.stdout
        );
        self.removed = true;
    }

    /// Whether two pings to `target` (an address or a name) are answered.
    pub fn ping(&self, target: &str) -> bool {
        self.ns
            .exec(&["ping", "-c", "2", "-i", "0.2", "-W", "1", target])
            .status
            .success()
    }

    /// Whether one ping to `target` is answered within `timeout` (retried:
    /// ARP, tunnels and flows settle).
    pub fn ping_within(&self, target: &str, timeout: Duration) -> bool {
        let deadline = Instant::now() + timeout;
        loop {
            if self
                .ns
                .exec(&["ping", "-c", "1", "-W", "1", target])
                .status
                .success()
            {
                return true;
            }
            if Instant::now() >= deadline {
                return false;
            }
        }
    }

    /// Whether a TCP connection to `ip:port` is accepted within 1 s.
    pub fn connects(&self, ip: Ipv4Addr, port: u16) -> bool {
        self.ns
            .exec(&["nc", "-z", "-w", "1", &ip.to_string(), &port.to_string()])
            .status
            .success()
    }

    /// Whether a TCP connection to `ip:port` is accepted within `timeout`
    /// (retried).
    pub fn connects_within(&self, ip: Ipv4Addr, port: u16, timeout: Duration) -> bool {
        let deadline = Instant::now() + timeout;
        loop {
            if self.connects(ip, port) {
                return true;
            }
            if Instant::now() >= deadline {
                return false;
            }
        }
    }

    /// TCP listeners on `ports` (`nc -lk`), stopped when the returned
    /// processes drop; returns once all of them listen.
    pub fn listen(&self, ports: &[u16], logdir: &std::path::Path) -> Vec<Proc> {
        let procs: Vec<Proc> = ports
            .iter()
            .map(|p| {
                let mut cmd = self.ns.command("nc");
                cmd.args(["-lk", &p.to_string()]);
                Proc::spawn(
                    &format!("nc -lk {p} in {}", self.name),
                    cmd,
                    &logdir.join(format!("nc-{}-{p}.log", self.ns.name())),
                )
            })
            .collect();
        let deadline = Instant::now() + Duration::from_secs(5);
        loop {
            let out = self.ns.exec(&["ss", "-ltnH"]);
            let text = String::from_utf8_lossy(&out.stdout).into_owned();
            if ports.iter().all(|p| text.contains(&format!(":{p} "))) {
                return procs;
            }
            assert!(
                Instant::now() < deadline,
                "nc did not listen on {ports:?} in {}: {text}",
                self.name
            );
            std::thread::sleep(Duration::from_millis(20));
        }
    }

    /// Whether the container was removed with CNI DEL.
    pub fn is_removed(&self) -> bool {
        self.removed
    }
}

impl Drop for Container {
    /// A container dropped without [`Container::remove`] (a failed test)
    /// still gets a best-effort CNI DEL, so its endpoint does not hold its
    /// network; then its namespace is deleted.
    fn drop(&mut self) {
        if !self.removed {
            let _ = self.runtime.cni(
                "DEL",
                &self.cid,
                &self.ns.path(),
                &self.args,
                self.requested,
            );
        }
    }
}
