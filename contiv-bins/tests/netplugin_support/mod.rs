//! Shared fixtures of the netplugin / contiv-cni tests: a real netmaster
//! (in-process, embedded store in a temp dir, free loopback port) that can
//! be restarted on the same state and port, agents driving recording
//! datapaths, HTTP over the agents' unix sockets, real network namespaces
//! (removed on drop), and polling helpers.

#![allow(dead_code)]

use axum::http::Method;
use clap::Parser;
use contiv_bins::netmaster::{NetmasterConfig, Running};
use contiv_bins::netplugin::client::NetmasterClient;
use contiv_bins::netplugin::{Agent, AgentConfig, unix};
use contiv_core::datapath::Datapath;
use contiv_policy::RecordingDatapath;
use serde_json::{Value, json};
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::{Duration, Instant};

#[derive(Parser)]
struct Cli {
    #[command(flatten)]
    cfg: NetmasterConfig,
}

/// Polls `f` every 20 ms until it returns `Some`, at most `timeout`.
pub async fn eventually<T>(timeout: Duration, mut f: impl AsyncFnMut() -> Option<T>) -> Option<T> {
    let deadline = Instant::now() + timeout;
    loop {
        if let Some(v) = f().await {
            return Some(v);
        }
        if Instant::now() >= deadline {
            return None;
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

/// A netmaster on an embedded store in a temp dir.
pub struct Cluster {
    pub dir: tempfile::TempDir,
    pub addr: SocketAddr,
    pub url: String,
    pub api: NetmasterClient,
    extra: Vec<String>,
    running: Option<Running>,
}

impl Cluster {
    /// Starts one (`--mode test`), with extra flags; `api` presents the
    /// admin token when `extra` has `--token`.
    pub async fn start(extra: &[&str]) -> Self {
        let dir = tempfile::tempdir().expect("tempdir");
        let extra: Vec<String> = extra.iter().map(|s| (*s).to_owned()).collect();
        let token = extra
            .windows(2)
            .find(|w| w[0] == "--token")
            .map(|w| w[1].clone());
        let running = Self::launch(dir.path(), "127.0.0.1:0", &extra).await;
        let addr = running.addr;
        let url = format!("http://{addr}");
        let c = Cluster {
            api: NetmasterClient::new(std::slice::from_ref(&url), token).expect("client"),
            dir,
            addr,
            url,
            extra,
            running: Some(running),
        };
        c.wait_ready().await;
        c
    }

    async fn launch(dir: &Path, listen: &str, extra: &[String]) -> Running {
        Self::try_launch(dir, listen, extra)
            .await
            .unwrap_or_else(|e| panic!("netmaster did not start: {e}"))
    }

    async fn try_launch(dir: &Path, listen: &str, extra: &[String]) -> Result<Running, String> {
        let store = format!("embedded:{}", dir.join("nm.redb").display());
        let mut args = vec![
            "netmaster".to_owned(),
            "--store".into(),
            store,
            "--listen-url".into(),
            listen.into(),
            "--mode".into(),
            "test".into(),
        ];
        args.extend(extra.iter().cloned());
        let cfg = Cli::try_parse_from(&args).expect("netmaster flags").cfg;
        contiv_bins::netmaster::start(cfg)
            .await
            .map_err(|e| format!("{e:?}"))
    }

    async fn wait_ready(&self) {
        let ok = eventually(Duration::from_secs(20), async || {
            let t: Result<Value, _> = self
                .api
                .json::<(), _>(Method::GET, "/api/v1/tenants/default/", None)
                .await;
            let g: Result<Value, _> = self
                .api
                .json::<(), _>(Method::GET, "/api/v1/globals/global/", None)
                .await;
            (t.is_ok() && g.is_ok()).then_some(())
        })
        .await;
        assert!(ok.is_some(), "netmaster did not become ready");
    }

    /// The running service.
    pub fn netmaster(&self) -> &Arc<contiv_bins::netmaster::Netmaster> {
        &self.running.as_ref().expect("running").netmaster
    }

    /// Stops it.
    pub async fn stop(&mut self) {
        if let Some(r) = self.running.take() {
            tokio::time::timeout(Duration::from_secs(20), r.stop())
                .await
                .expect("netmaster stops in time");
        }
    }

    /// Starts it again on the same store and port.
    pub async fn start_again(&mut self) {
        let listen = self.addr.to_string();
        let mut last = None;
        for _ in 0..50 {
            // The old listener may linger for a moment.
            match Self::try_launch(self.dir.path(), &listen, &self.extra).await {
                Ok(r) => {
                    self.running = Some(r);
                    self.wait_ready().await;
                    return;
                }
                Err(e) => last = Some(e),
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
        panic!("netmaster did not start again: {last:?}");
    }

    /// A JSON request that must succeed.
    pub async fn ok(&self, method: Method, path: &str, body: Option<Value>) -> Value {
        self.api
            .json(method.clone(), path, body.as_ref())
            .await
            .unwrap_or_else(|e| panic!("{method} {path}: {e}"))
    }

    /// Creates network `tenant:name`.
    pub async fn network(&self, tenant: &str, name: &str, subnet: &str, gateway: &str) {
        let mut b =
            json!({"tenantName": tenant, "networkName": name, "encap": "vxlan", "subnet": subnet});
        if !gateway.is_empty() {
            b["gateway"] = json!(gateway);
        }
        self.ok(
            Method::POST,
            &format!("/api/v1/networks/{tenant}:{name}/"),
            Some(b),
        )
        .await;
    }

    /// Creates tenant `name`.
    pub async fn tenant(&self, name: &str) {
        self.ok(
            Method::POST,
            &format!("/api/v1/tenants/{name}/"),
            Some(json!({"tenantName": name})),
        )
        .await;
    }

    /// Creates group `default:group` on `network` with `policies`.
    pub async fn group(&self, network: &str, group: &str, policies: &[&str]) {
        self.ok(
            Method::POST,
            &format!("/api/v1/endpointGroups/default:{group}/"),
            Some(json!({"tenantName": "default", "groupName": group, "networkName": network, "policies": policies})),
        )
        .await;
    }

    /// Creates policy `default:name`.
    pub async fn policy(&self, name: &str) {
        self.ok(
            Method::POST,
            &format!("/api/v1/policys/default:{name}/"),
            Some(json!({"tenantName": "default", "policyName": name})),
        )
        .await;
    }

    /// Adds a rule to `default:policy`.
    pub async fn rule(&self, policy: &str, id: &str, extra: Value) {
        let mut b = json!({"tenantName": "default", "policyName": policy, "ruleId": id, "direction": "in", "action": "deny"});
        for (k, v) in extra.as_object().expect("object") {
            b[k] = v.clone();
        }
        self.ok(
            Method::POST,
            &format!("/api/v1/rules/default:{policy}:{id}/"),
            Some(b),
        )
        .await;
    }

    /// Endpoint records netmaster holds.
    pub fn endpoints(&self) -> Vec<contiv_core::records::EndpointRecord> {
        self.netmaster()
            .cache()
            .read()
            .endpoints
            .values()
            .map(|e| (**e).clone())
            .collect()
    }

    /// Registered node names.
    pub fn nodes(&self) -> Vec<String> {
        self.netmaster()
            .cache()
            .read()
            .nodes
            .keys()
            .cloned()
            .collect()
    }

    /// Addresses allocated (by endpoints or reservations) on a network's
    /// IPv4 pool.
    pub async fn allocated(&self, net_key: &str) -> u32 {
        let pool = self.netmaster().ipam().network_v4(net_key);
        pool.refresh().await;
        pool.read(|p| p.allocated_count()).await.expect("pool")
    }

    /// Reservations netmaster holds.
    pub async fn reservations(&self) -> Vec<contiv_bins::api::Reservation> {
        self.netmaster().reservations().await.expect("reservations")
    }
}

impl Drop for Cluster {
    fn drop(&mut self) {
        if let Some(r) = self.running.take() {
            // Best effort: the runtime may be gone already.
            drop(r);
        }
    }
}

/// An agent on a recording datapath.
pub struct TestAgent {
    pub cfg: AgentConfig,
    pub dp: Arc<RecordingDatapath>,
    /// Capabilities the agent is told its datapath lacks (a backend that
    /// does not realise them).
    pub hidden: Vec<contiv_core::datapath::Capability>,
    pub dir: PathBuf,
    pub agent: Option<Agent>,
}

/// The recording datapath without some of its capabilities.
struct Hiding {
    inner: Arc<RecordingDatapath>,
    hidden: Vec<contiv_core::datapath::Capability>,
}

#[async_trait::async_trait]
impl Datapath for Hiding {
    fn name(&self) -> &'static str {
        "recording-hiding"
    }
    fn capabilities(&self) -> contiv_core::datapath::Capabilities {
        let have = self.inner.capabilities();
        let keep: Vec<_> = contiv_core::datapath::Capability::ALL
            .iter()
            .copied()
            .filter(|c| have.has(*c) && !self.hidden.contains(c))
            .collect();
        contiv_core::datapath::Capabilities::of(&keep)
    }
    async fn apply(
        &self,
        ops: Vec<contiv_core::datapath::DpOp>,
    ) -> contiv_core::datapath::DpResult<()> {
        self.inner.apply(ops).await
    }
    async fn resync(
        &self,
        desired: &contiv_core::datapath::DesiredState,
    ) -> contiv_core::datapath::DpResult<contiv_core::datapath::ResyncReport> {
        self.inner.resync(desired).await
    }
}

impl TestAgent {
    /// An agent for `host` with VTEP `vtep`, sockets and state under a new
    /// directory of `cluster`'s temp dir.
    pub async fn start(cluster: &Cluster, host: &str, vtep: &str) -> Self {
        Self::start_cfg(cluster, host, vtep, |_| {}).await
    }

    /// Same, adjusting the configuration first.
    pub async fn start_cfg(
        cluster: &Cluster,
        host: &str,
        vtep: &str,
        adjust: impl FnOnce(&mut AgentConfig),
    ) -> Self {
        let dir = cluster.dir.path().join(format!("agent-{host}"));
        std::fs::create_dir_all(&dir).expect("agent dir");
        let mut cfg = AgentConfig::new(host, &cluster.url, &dir);
        cfg.vtep_ip = Some(vtep.parse().expect("vtep"));
        cfg.add_timeout = Duration::from_secs(10);
        adjust(&mut cfg);
        let dp = Arc::new(RecordingDatapath::new());
        let mut a = TestAgent {
            cfg,
            dp,
            hidden: Vec::new(),
            dir,
            agent: None,
        };
        a.launch().await;
        a
    }

    /// Starts the agent (again) with the same datapath and state.
    pub async fn launch(&mut self) {
        let dp: Arc<dyn Datapath> = if self.hidden.is_empty() {
            self.dp.clone()
        } else {
            Arc::new(Hiding {
                inner: self.dp.clone(),
                hidden: self.hidden.clone(),
            })
        };
        let agent = contiv_bins::netplugin::start_with(self.cfg.clone(), dp)
            .await
            .expect("agent starts");
        assert!(
            agent.wait_ready(Duration::from_secs(20)).await,
            "agent not ready: {:?}",
            agent.status()
        );
        self.agent = Some(agent);
    }

    /// The running agent.
    pub fn agent(&self) -> &Agent {
        self.agent.as_ref().expect("agent running")
    }

    /// Kills it (no cleanup).
    pub async fn kill(&mut self) {
        if let Some(a) = self.agent.take() {
            a.abort().await;
        }
    }

    /// Stops it gracefully.
    pub async fn stop(&mut self) {
        if let Some(a) = self.agent.take() {
            a.shutdown().await;
        }
    }

    /// A request on the CNI socket: status and JSON body.
    pub async fn cni(&self, path: &str, body: Value) -> (u16, Value) {
        let (s, b) = unix::request(
            &self.cfg.cni_socket,
            Method::POST,
            path,
            Some(serde_json::to_vec(&body).expect("json")),
            Duration::from_secs(60),
        )
        .await
        .expect("CNI socket answers");
        (
            s.as_u16(),
            serde_json::from_slice(&b).unwrap_or(Value::Null),
        )
    }

    /// A call on the Docker plugin socket.
    pub async fn docker(&self, call: &str, body: Value) -> (u16, Value) {
        let (s, b) = unix::request(
            &self.cfg.docker_socket(),
            Method::POST,
            &format!("/{call}"),
            Some(serde_json::to_vec(&body).expect("json")),
            Duration::from_secs(60),
        )
        .await
        .expect("plugin socket answers");
        (
            s.as_u16(),
            serde_json::from_slice(&b).unwrap_or(Value::Null),
        )
    }
}

impl Drop for TestAgent {
    fn drop(&mut self) {
        if let Some(a) = self.agent.take() {
            a.abort_detached();
        }
    }
}

/// A network namespace created for a test, deleted on drop.
pub struct Netns {
    pub name: String,
    pub path: PathBuf,
}

impl Netns {
    /// `ip netns add <name>` (a unique name per process).
    pub fn new(tag: &str) -> Self {
        let name = format!("ctvnp-{}-{tag}", std::process::id());
        let st = std::process::Command::new("ip")
            .args(["netns", "add", &name])
            .status()
            .expect("ip runs");
        assert!(st.success(), "ip netns add {name} failed");
        Netns {
            path: PathBuf::from(format!("/run/netns/{name}")),
            name,
        }
    }
}

impl Drop for Netns {
    fn drop(&mut self) {
        let _ = std::process::Command::new("ip")
            .args(["netns", "delete", &self.name])
            .status();
    }
}
