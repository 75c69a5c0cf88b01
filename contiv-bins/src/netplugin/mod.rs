//! netplugin: the host agent.
//!
//! The agent registers its node with netmaster (a lease it heartbeats),
//! follows netmaster's watch stream, keeps the host's desired state —
//! networks, local and remote endpoints, peer VTEPs and the compiled policy
//! of the groups present on this host — and drives a
//! [`contiv_core::datapath::Datapath`] (Open vSwitch with `--datapath
//! ovs`, VPP with `--datapath vpp`, the recording reference with `--datapath
//! recording`). It never talks to the store: only to
//! netmaster, over REST and the watch stream.
//!
//! | module | what it holds |
//! |---|---|
//! | [`config`] | flags, environment, config file |
//! | [`client`] | netmaster REST client with failover, watch stream |
//! | [`registration`] | node registration and lease heartbeat |
//! | [`watcher`] | the watch loop: snapshot, batches, resume, resync |
//! | [`view`] | the cluster as the stream shows it |
//! | [`policy`] | incremental compiler fed from the view; the host's share of the IR |
//! | [`desired`] | desired state as a pure function of the view; diff to datapath ops |
//! | [`reconciler`] | the only writer of the datapath: batches, resyncs, retries |
//! | [`dns`] | the built-in DNS: a DNS endpoint per network, its server, the name tables |
//! | [`bgp`] | the BGP speaker (routing mode): gobgpd supervised and driven over gRPC |
//! | [`ctrl_api`] | the control API over TCP netmaster reads live state from (`/inspect/bgp`) |
//! | [`core`] | ADD / DEL / CHECK shared by CNI and Docker, with rollback |
//! | [`ifcheck`] | CHECK inside the container: its interface, addresses and routes read over rtnetlink |
//! | [`journal`] | crash-recovery journal of unfinished operations |
//! | [`faults`] | fault-injection hook between the steps (tests) |
//! | [`local_api`] | the CNI socket's HTTP API (its bodies: [`crate::agent_api::wire`]) |
//! | [`cnm`] | Docker remote network + IPAM driver, Docker network sync |
//! | [`unix`] | HTTP over unix sockets |
//! | [`datapath`], [`ifnames`] | backend selection; interface names |
//!
//! **Data flow.** Watch lines update the [`view::HostView`]; the changes
//! feed the incremental policy compiler; the desired state is computed
//! from the view, this host's identity and the local plumbing intents; the
//! difference to what was applied goes to the datapath as one `apply`
//! call per batch. On start and after every reconnect the datapath is
//! resynced with the full desired state.
//!
//! **Endpoints.** A CNI ADD or Docker `CreateEndpoint` sets a plumbing
//! intent, creates the endpoint at netmaster, and waits until the stream
//! delivered the record and the datapath plumbed it; any failure is
//! undone before answering (see [`core`]).

pub mod bgp;
pub mod client;
pub mod cnm;
pub mod config;
pub mod core;
pub mod ctrl_api;
pub mod datapath;
pub mod desired;
pub mod dns;
pub mod error;
pub mod faults;
pub mod ifcheck;
pub mod ifnames;
pub mod journal;
pub mod local_api;
pub mod policy;
pub mod reconciler;
pub mod registration;
pub mod unix;
pub mod view;
pub mod watcher;

pub use config::{AgentConfig, DatapathKind};
pub use error::{AgentError, AgentErrorKind, AgentResult};

use self::core::Core;
use crate::agent_api::wire;
use contiv_core::datapath::Datapath;
use contiv_core::records::NodeRecord;
use desired::HostIdentity;
use std::net::{IpAddr, SocketAddr};
use std::process::ExitCode;
use std::sync::Arc;
use std::sync::atomic::AtomicBool;
use std::time::{Duration, SystemTime, UNIX_EPOCH};
use tokio::task::JoinHandle;
use tracing::{error, info};
use unix::UnixServer;

/// A running agent.
pub struct Agent {
    core: Arc<Core>,
    tasks: Vec<JoinHandle<()>>,
    servers: Vec<UnixServer>,
}

impl std::fmt::Debug for Agent {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Agent").field("core", &self.core).finish()
    }
}

impl Agent {
    /// The shared core (endpoint operations, reconciler, client).
    pub fn core(&self) -> &Arc<Core> {
        &self.core
    }

    /// The agent's status.
    pub fn status(&self) -> wire::AgentStatus {
        local_api::agent_status(&self.core)
    }

    /// Waits until the agent is ready to serve ADD (registered, synced).
    pub async fn wait_ready(&self, timeout: Duration) -> bool {
        let deadline = tokio::time::Instant::now() + timeout;
        while tokio::time::Instant::now() < deadline {
            if self.core.not_ready_reason().is_none() {
                return true;
            }
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
        false
    }

    /// Stops gracefully: sockets closed and removed, loops stopped. The
    /// node is not deregistered (its lease expires unless it comes back).
    pub async fn shutdown(self) {
        for s in self.servers {
            s.shutdown().await;
        }
        for t in &self.tasks {
            t.abort();
        }
        for t in self.tasks {
            let _ = t.await;
        }
        if let Some(d) = self.core.recon.dns() {
            d.shutdown().await;
        }
        info!("netplugin stopped");
    }

    /// Stops at once without any cleanup, as `kill -9` would (sockets stay,
    /// the journal keeps unfinished operations); returns once every task is
    /// gone.
    pub async fn abort(self) {
        let mut handles = Vec::new();
        for s in self.servers {
            handles.push(s.abort());
        }
        for t in self.tasks {
            t.abort();
            handles.push(t);
        }
        for h in handles {
            let _ = h.await;
        }
    }

    /// Like [`abort`](Self::abort), without waiting (for `Drop`).
    pub fn abort_detached(self) {
        for s in self.servers {
            s.abort();
        }
        for t in self.tasks {
            t.abort();
        }
    }
}

/// The local address the kernel uses to reach `url`'s host (no packet is
/// sent).
async fn default_vtep(url: &str) -> Result<IpAddr, String> {
    let uri: axum::http::Uri = url
        .parse()
        .map_err(|e| format!("invalid netmaster URL {url}: {e}"))?;
    let host = uri.host().unwrap_or("127.0.0.1").trim_matches(['[', ']']);
    let port = uri.port_u16().unwrap_or(9999);
    let addr: SocketAddr = tokio::net::lookup_host((host, port))
        .await
        .map_err(|e| format!("cannot resolve netmaster host {host}: {e}; pass --vtep-ip"))?
        .next()
        .ok_or_else(|| format!("netmaster host {host} has no address; pass --vtep-ip"))?;
    let bind: SocketAddr = if addr.is_ipv4() {
        ([0, 0, 0, 0], 0).into()
    } else {
        (std::net::Ipv6Addr::UNSPECIFIED, 0).into()
    };
    let sock = std::net::UdpSocket::bind(bind)
        .map_err(|e| format!("cannot find the VTEP address: {e}; pass --vtep-ip"))?;
    sock.connect(addr)
        .and_then(|()| sock.local_addr())
        .map(|a| a.ip())
        .map_err(|e| format!("cannot find the VTEP address: {e}; pass --vtep-ip"))
}

/// Starts the agent with the datapath `cfg` names.
pub async fn start(cfg: AgentConfig) -> Result<Agent, String> {
    let built = datapath::build(&cfg).await?;
    start_built(cfg, built).await
}

/// Starts the agent driving `dp` (embedders and tests pass their own).
pub async fn start_with(cfg: AgentConfig, dp: Arc<dyn Datapath>) -> Result<Agent, String> {
    start_built(cfg, datapath::Built::plain(dp)).await
}

/// Starts the agent driving a built datapath (with its counters, if it
/// has them).
pub async fn start_built(cfg: AgentConfig, built: datapath::Built) -> Result<Agent, String> {
    cfg.check()?;
    let datapath::Built { dp, counters } = built;
    let host = cfg.host_name()?;
    if !contiv_core::model::validate::is_valid_host_name(&host) {
        return Err(format!(
            "invalid host name {host:?}: use letters, digits, '-' and '.' (pass --host)"
        ));
    }
    let client = Arc::new(client::NetmasterClient::with_tls(
        &cfg.netmaster,
        cfg.token.clone(),
        cfg.netmaster_ca.as_deref(),
    )?);
    let vtep = match cfg.vtep_ip {
        Some(ip) => ip,
        None => default_vtep(&client.urls()[0]).await?,
    };
    let faults = Arc::new(match &cfg.faults {
        Some(s) => faults::Faults::parse(s, cfg.fault_seed)?,
        None => faults::Faults::none(),
    });
    let dp: Arc<dyn Datapath> = if faults.active() {
        Arc::new(datapath::FaultyDatapath::new(dp, faults.clone()))
    } else {
        dp
    };
    crate::daemon::create_private_dir(&cfg.state_dir).map_err(|e| {
        format!(
            "cannot create the state directory {}: {e}",
            cfg.state_dir.display()
        )
    })?;
    let journal = journal::Journal::open(&cfg.state_dir)?;
    let me = HostIdentity {
        host: host.clone(),
        vtep,
        mtu: cfg.mtu,
    };
    let dns = if cfg.dns.disabled
        || !dp
            .capabilities()
            .has(contiv_core::datapath::Capability::ForwardsPackets)
    {
        None
    } else {
        let identity = dns::agent_identity(&host, &cfg.state_dir);
        Some(Arc::new(dns::DnsAgent::new(&cfg.dns, &identity).await?))
    };
    let dp_caps = dp.capabilities();
    let speaker = bgp::BgpSpeaker::new(
        cfg.bgp.clone(),
        &cfg.state_dir,
        cfg.ovs
            .netns_path()
            .map(contiv_core::linux::Netns::Path)
            .unwrap_or(contiv_core::linux::Netns::Current),
        &me,
        dp_caps,
        dp.name(),
    );
    let mut recon = reconciler::Reconciler::new(dp, me.clone()).with_bgp(speaker.clone());
    if let Some(d) = dns {
        recon = recon.with_dns(d);
    }
    let recon = Arc::new(recon);
    // Endpoints plumbed by a previous run keep their attachment.
    for p in journal.plumbed() {
        recon
            .set_intent(
                &p.id,
                desired::LocalIntent::Plumb {
                    attachment: p.attachment,
                    mtu: p.mtu,
                    error: None,
                },
            )
            .await;
    }
    let nanos = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_nanos())
        .unwrap_or_default();
    let core = Arc::new(Core {
        me,
        client,
        recon: recon.clone(),
        faults,
        journal,
        instance: format!("{host}-{}-{nanos:x}", std::process::id()),
        add_timeout: cfg.add_timeout,
        registered: AtomicBool::new(false),
        connected: AtomicBool::new(false),
        counters,
    });

    let mut servers = Vec::new();
    servers.push(
        UnixServer::bind(
            &cfg.cni_socket,
            cfg.socket_mode,
            local_api::router(core.clone()),
        )
        .await?,
    );
    let docker = match &cfg.docker_host {
        Some(h) => Some(cnm::docker::DockerClient::from_host(h)?),
        None => None,
    };
    if !cfg.no_docker_plugin {
        let plugin = Arc::new(cnm::Cnm::new(core.clone(), docker.clone(), &cfg.state_dir));
        match UnixServer::bind(&cfg.docker_socket(), cfg.socket_mode, cnm::router(plugin)).await {
            Ok(s) => servers.push(s),
            Err(e) => {
                for s in servers {
                    s.shutdown().await;
                }
                return Err(e);
            }
        }
    }

    let mut tasks = Vec::new();
    // The control API: where --ctrl-listen says (a failure is fatal), or
    // by default on the VTEP address (a failure only costs live state in
    // `netctl bgp inspect`).
    let explicit = cfg.ctrl_listen.is_some();
    let ctrl_addr = match cfg
        .ctrl_listen
        .unwrap_or(config::CtrlListen::At(SocketAddr::new(vtep, 0)))
    {
        config::CtrlListen::Off => String::new(),
        config::CtrlListen::At(addr) => {
            match ctrl_api::serve(addr, core.clone(), cfg.token.clone()).await {
                Ok((bound, task)) => {
                    tasks.push(task);
                    let ip = if bound.ip().is_unspecified() {
                        vtep
                    } else {
                        bound.ip()
                    };
                    format!("http://{}", SocketAddr::new(ip, bound.port()))
                }
                Err(e) if !explicit => {
                    tracing::warn!(
                        error = %e,
                        "no control API (pass --ctrl-listen): netctl bgp inspect will not show this host's live state"
                    );
                    String::new()
                }
                Err(e) => {
                    for s in servers {
                        s.shutdown().await;
                    }
                    return Err(e);
                }
            }
        }
    };
    let node = NodeRecord {
        hostname: host.clone(),
        vtep_ip: vtep,
        vxlan_port: cfg.vxlan_port,
        ctrl_addr,
        version: env!("CARGO_PKG_VERSION").to_owned(),
        capabilities: Some(dp_caps),
    };
    tasks.push(tokio::spawn(speaker.clone().run()));
    let kicked = recon.clone();
    let mut routes = speaker.routes_changed();
    tasks.push(tokio::spawn(async move {
        while routes.changed().await.is_ok() {
            kicked.kick().await;
        }
    }));
    tasks.extend([
        tokio::spawn(registration::run(core.clone(), node)),
        tokio::spawn(watcher::run(core.clone())),
        tokio::spawn(async move {
            loop {
                tokio::time::sleep(Duration::from_millis(250)).await;
                recon.tick().await;
            }
        }),
    ]);
    if let Some(d) = docker {
        tasks.push(tokio::spawn(cnm::docker::run_sync(
            core.clone(),
            d,
            cfg.plugin_name.clone(),
        )));
    }
    info!(
        host = %host,
        vtep = %vtep,
        datapath = core.recon.datapath().name(),
        cni_socket = %cfg.cni_socket.display(),
        netmaster = ?cfg.netmaster,
        "netplugin started"
    );
    Ok(Agent {
        core,
        tasks,
        servers,
    })
}

/// Runs the agent until SIGINT/SIGTERM. Exit code 22 on bad
/// configuration, 1 on a runtime failure.
pub fn run(cfg: AgentConfig) -> ExitCode {
    crate::daemon::init_logging(&cfg.log_level, cfg.log_format);
    let rt = match tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
    {
        Ok(rt) => rt,
        Err(e) => {
            eprintln!("netplugin: cannot start the runtime: {e}");
            return ExitCode::from(1);
        }
    };
    rt.block_on(async move {
        let agent = match start(cfg).await {
            Ok(a) => a,
            Err(e) => {
                error!("{e}");
                eprintln!("netplugin: {e}");
                return ExitCode::from(22);
            }
        };
        crate::daemon::shutdown_signal().await;
        info!("shutting down");
        agent.shutdown().await;
        ExitCode::SUCCESS
    })
}
