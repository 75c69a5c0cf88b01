//! netmaster configuration: flags, environment and an optional TOML file.
//!
//! Precedence: command-line flag > environment variable > config file >
//! built-in default. Every flag has a `CONTIV_NETMASTER_*` (or documented)
//! environment variable; the config file uses the long flag names as keys
//! (`listen-url = "0.0.0.0:9999"`).

use clap::{Args, ValueEnum};

pub use crate::daemon::LogFormat;
pub use crate::duration::{MAX_TIMER, parse_duration};
use std::net::SocketAddr;
use std::path::PathBuf;
use std::time::Duration;

/// How the cluster's containers are scheduled (reported as `clusterMode`).
#[derive(Clone, Copy, Debug, PartialEq, Eq, ValueEnum, Default)]
pub enum ClusterMode {
    /// Docker with the CNM plugin.
    #[default]
    Docker,
    /// Kubernetes (CNI).
    Kubernetes,
    /// Docker swarm mode.
    SwarmMode,
    /// Tests: no scheduler integration.
    Test,
}

impl ClusterMode {
    /// The name the original reported.
    pub fn as_str(self) -> &'static str {
        match self {
            ClusterMode::Docker => "docker",
            ClusterMode::Kubernetes => "kubernetes",
            ClusterMode::SwarmMode => "swarm-mode",
            ClusterMode::Test => "test",
        }
    }
}

/// The network mode of the cluster (the original's `--netmode`): which
/// encapsulation new networks are expected to use. Reported in `/info`;
/// networks of either encapsulation are accepted (see `--help`).
#[derive(Clone, Copy, Debug, PartialEq, Eq, ValueEnum, Default)]
pub enum NetMode {
    /// VXLAN overlay networks.
    #[default]
    Vxlan,
    /// VLAN networks on an uplink.
    Vlan,
}

impl NetMode {
    /// The name the original used.
    pub fn as_str(self) -> &'static str {
        match self {
            NetMode::Vxlan => "vxlan",
            NetMode::Vlan => "vlan",
        }
    }
}

/// netmaster settings.
#[derive(Clone, Debug, Args)]
pub struct NetmasterConfig {
    /// Optional TOML config file whose keys are the long flag names.
    #[arg(long, env = "CONTIV_NETMASTER_CONFIG")]
    pub config: Option<PathBuf>,

    /// Address the REST API listens on (the original's --listen-url;
    /// `0.0.0.0:9999` to serve other hosts).
    #[arg(
        long = "listen-url",
        alias = "external-address",
        env = "CONTIV_NETMASTER_LISTEN_URL",
        default_value = "127.0.0.1:9999"
    )]
    pub listen: SocketAddr,

    /// URL other netmasters use to reach this one (forwarded writes go to
    /// the leader's control URL). Default: `http://<listen-url>`.
    #[arg(
        long = "control-url",
        alias = "internal-address",
        env = "CONTIV_NETMASTER_CONTROL_URL"
    )]
    pub control_url: Option<String>,

    /// State store: `embedded:<path>` (default), `etcd://host:port[,host:port…]`
    /// (every endpoint is used), `consul://host:port[,host:port…]` (agents
    /// tried in order; `consuls://` for HTTPS; token and CA from
    /// `CONSUL_HTTP_TOKEN` / `CONSUL_CACERT`) or `memory:` (tests).
    #[arg(
        long,
        env = "CONTIV_STORE",
        default_value = "embedded:/var/lib/contiv/netmaster.redb"
    )]
    pub store: String,

    /// etcd endpoints, comma separated (compatibility with the original's
    /// --etcd; overrides --store with `etcd://…`).
    #[arg(long = "etcd", alias = "etcd-endpoints", env = "CONTIV_ETCD")]
    pub etcd: Option<String>,

    /// Consul agent addresses, comma separated (compatibility with the
    /// original's --consul-endpoints; overrides --store with `consul://…`).
    #[arg(
        long = "consul-endpoints",
        env = "CONTIV_CONSUL",
        conflicts_with = "etcd"
    )]
    pub consul: Option<String>,

    /// Root prefix of every key in the store.
    #[arg(long, env = "CONTIV_STORE_ROOT", default_value = contiv_core::store::keys::DEFAULT_ROOT)]
    pub store_root: String,

    /// Scheduler integration, reported as `clusterMode`.
    #[arg(
        long = "mode",
        alias = "plugin-mode",
        alias = "cluster-mode",
        value_enum,
        env = "CONTIV_NETMASTER_MODE",
        default_value = "docker"
    )]
    pub mode: ClusterMode,

    /// Forwarding mode written to the global settings when they are first
    /// created (`bridge` or `routing`; change it later with
    /// `netctl global set --fwd-mode`).
    #[arg(long = "fwdmode", alias = "forward-mode", env = "CONTIV_NETMASTER_FORWARD_MODE", default_value = "bridge", value_parser = ["bridge", "routing"])]
    pub fwd_mode: String,

    /// Network mode (the original's --netmode). Unlike the original, vxlan
    /// with bridge forwarding is accepted, and networks of both
    /// encapsulations can be created in either mode.
    #[arg(
        long = "netmode",
        alias = "network-mode",
        value_enum,
        env = "CONTIV_NETMASTER_NETWORK_MODE",
        default_value = "vxlan"
    )]
    pub net_mode: NetMode,

    /// Fabric type written to the global settings when first created.
    #[arg(long = "infra", alias = "infra-type", env = "CONTIV_NETMASTER_INFRA", default_value = "default", value_parser = ["default", "aci", "aci-opflex"])]
    pub infra: String,

    /// Name of this netmaster in leader election (default: the control URL).
    #[arg(long, env = "CONTIV_NETMASTER_NAME")]
    pub name: Option<String>,

    /// Leader lease TTL; a dead leader is replaced within about twice this.
    #[arg(long, env = "CONTIV_NETMASTER_LEADER_TTL", value_parser = parse_duration, default_value = "5s")]
    pub leader_ttl: Duration,

    /// Node lease TTL agents must heartbeat within.
    #[arg(long, env = "CONTIV_NETMASTER_NODE_TTL", value_parser = parse_duration, default_value = "10s")]
    pub node_ttl: Duration,

    /// How long endpoints of a vanished node are kept before they are
    /// released (a node that comes back within it keeps them). Measured
    /// from when a leader first saw the node gone; a leader change does not
    /// restart it.
    #[arg(long, env = "CONTIV_NETMASTER_NODE_GC_GRACE", value_parser = parse_duration, default_value = "10m")]
    pub node_gc_grace: Duration,

    /// The admin token: require `Authorization: Bearer <token>` on every
    /// request except `/version`, `/health` and the OpenAPI document
    /// (`/metrics` included). Agents should get per-node tokens instead
    /// (--print-node-token, or `GET /api/v1/credentials/nodes/<host>/`):
    /// a node token allows only that host's agent calls and the watch.
    /// Without a token everything is open: keep netmaster on 127.0.0.1.
    #[arg(long, env = "CONTIV_API_TOKEN", hide_env_values = true)]
    pub token: Option<String>,

    /// Key of the per-node tokens (HMAC-SHA256). Default: the admin token.
    /// Changing it revokes every node token; all netmasters of a cluster
    /// need the same one.
    #[arg(long, env = "CONTIV_NODE_TOKEN_KEY", hide_env_values = true)]
    pub node_token_key: Option<String>,

    /// Print the node token of this host (for its agent's --token) and
    /// exit; needs --token (and --node-token-key if one is used).
    #[arg(long, value_name = "HOST")]
    pub print_node_token: Option<String>,

    /// Most client connections open at once; more wait in the listen
    /// backlog until one closes.
    #[arg(long, env = "CONTIV_NETMASTER_MAX_CONNECTIONS", default_value_t = 1000)]
    pub max_connections: usize,

    /// Recent changes held in memory, encoded, for the agents' watch
    /// streams: a stream resuming within this window (or lagging behind by
    /// less) is served from memory, an older one from the store's history.
    #[arg(long, env = "CONTIV_NETMASTER_WATCH_WINDOW", default_value_t = 8192)]
    pub watch_window: usize,

    /// Nice value (0–19) of the threads that serve agents' watch streams
    /// (they also run as SCHED_BATCH). Above 0, REST requests and
    /// heartbeats run first when the CPU is contended, and the streams
    /// (a change written to every agent, a mass reconnect's snapshots) get
    /// what is left — also behind any other process at normal priority on
    /// the host, which delays deliveries on a busy host (see
    /// BENCHMARKS.md, fan-out).
    #[arg(long, env = "CONTIV_NETMASTER_WATCH_NICE", default_value_t = 0, value_parser = clap::value_parser!(i32).range(0..=19))]
    pub watch_nice: i32,

    /// Time a client has to send a request's headers (also between the
    /// requests of a keep-alive connection) before the connection is closed.
    #[arg(long, env = "CONTIV_NETMASTER_HEADER_TIMEOUT", value_parser = parse_duration, default_value = "10s")]
    pub header_timeout: Duration,

    /// Time a client has to complete the TLS handshake.
    #[arg(long, env = "CONTIV_NETMASTER_TLS_HANDSHAKE_TIMEOUT", value_parser = parse_duration, default_value = "10s")]
    pub tls_handshake_timeout: Duration,

    /// Serve HTTPS with this PEM certificate (chain).
    #[arg(long, env = "CONTIV_TLS_CERT", requires = "tls_key")]
    pub tls_cert: Option<PathBuf>,

    /// Private key (PEM) for --tls-cert.
    #[arg(long, env = "CONTIV_TLS_KEY", requires = "tls_cert")]
    pub tls_key: Option<PathBuf>,

    /// CA certificates (PEM) a follower trusts when it forwards writes to
    /// an HTTPS leader. Default: the certificates of --tls-cert.
    #[arg(long, env = "CONTIV_TLS_CA")]
    pub tls_ca: Option<PathBuf>,

    /// Log level filter (e.g. `info`, `debug`, `contiv_bins=debug`).
    #[arg(long, env = "CONTIV_LOG_LEVEL", default_value = "info")]
    pub log_level: String,

    /// Log format.
    #[arg(long, value_enum, env = "CONTIV_LOG_FORMAT", default_value = "text")]
    pub log_format: LogFormat,
}

/// Longest lease TTL (etcd takes seconds as a 64-bit integer, but a lease
/// of more than a year is a mistake, not a setting).
pub const MAX_TTL: Duration = Duration::from_secs(365 * 24 * 3600);
impl NetmasterConfig {
    /// A configuration from `netmaster` flags (without the program name),
    /// for embedders and tests:
    ///
    /// ```
    /// use contiv_bins::netmaster::NetmasterConfig;
    /// let cfg = NetmasterConfig::from_args(["--store", "memory:", "--listen-url", "127.0.0.1:0"])
    ///     .unwrap();
    /// assert_eq!(cfg.store_url(), "memory:");
    /// assert!(NetmasterConfig::from_args(["--leader-ttl", "soon"]).is_err());
    /// ```
    ///
    /// Settings not given come from the `CONTIV_*` environment variables,
    /// then the defaults, as for the binary (the `--config` file is not
    /// read here). The error is clap's, naming the flag.
    pub fn from_args<I, T>(args: I) -> Result<NetmasterConfig, clap::Error>
    where
        I: IntoIterator<Item = T>,
        T: Into<std::ffi::OsString> + Clone,
    {
        use clap::FromArgMatches;
        let cmd = NetmasterConfig::augment_args(
            clap::Command::new("netmaster")
                .no_binary_name(true)
                .args_override_self(true),
        );
        NetmasterConfig::from_arg_matches(&cmd.try_get_matches_from(args)?)
    }

    /// The store URL after applying `--etcd`.
    pub fn store_url(&self) -> String {
        match &self.etcd {
            Some(eps) => {
                let hosts: Vec<String> = eps
                    .split(',')
                    .map(|e| {
                        e.trim()
                            .trim_start_matches("http://")
                            .trim_start_matches("https://")
                            .trim_end_matches('/')
                            .to_owned()
                    })
                    .filter(|e| !e.is_empty())
                    .collect();
                format!("etcd://{}", hosts.join(","))
            }
            None => match &self.consul {
                Some(eps) => {
                    let hosts: Vec<&str> = eps
                        .split(',')
                        .map(|e| e.trim().trim_start_matches("http://").trim_end_matches('/'))
                        .filter(|e| !e.is_empty())
                        .collect();
                    format!("consul://{}", hosts.join(","))
                }
                None => self.store.clone(),
            },
        }
    }

    /// The URL other netmasters forward requests to.
    pub fn control_url(&self) -> String {
        self.control_url_for(self.listen)
    }

    /// The control URL when the listener is bound to `addr` (differs from
    /// [`Self::control_url`] when `--listen-url` asks for port 0).
    pub fn control_url_for(&self, addr: SocketAddr) -> String {
        self.control_url.clone().unwrap_or_else(|| {
            let scheme = if self.tls_cert.is_some() {
                "https"
            } else {
                "http"
            };
            format!("{scheme}://{addr}")
        })
    }

    /// This netmaster's name in `/info` (default: the control URL).
    pub fn node_name(&self) -> String {
        self.name.clone().unwrap_or_else(|| self.control_url())
    }

    /// Checks settings that flags alone cannot: the control URL's form and
    /// the durations. The message says which setting is wrong.
    pub fn check(&self) -> Result<(), String> {
        let url = self.control_url();
        let rest = url
            .strip_prefix("http://")
            .or_else(|| url.strip_prefix("https://"))
            .ok_or_else(|| format!("--control-url {url:?} must start with http:// or https://"))?;
        if rest.is_empty() || rest.contains('/') && !rest.ends_with('/') {
            return Err(format!(
                "--control-url {url:?} must be http(s)://host:port with no path"
            ));
        }
        if self.leader_ttl < Duration::from_secs(1) {
            return Err(format!(
                "--leader-ttl {:?} is too short: etcd leases last at least 1s",
                self.leader_ttl
            ));
        }
        if self.node_ttl < Duration::from_secs(1) {
            return Err(format!(
                "--node-ttl {:?} is too short: use at least 1s",
                self.node_ttl
            ));
        }
        // Durations the store and the timers must be able to represent.
        for (flag, d, max) in [
            ("--leader-ttl", self.leader_ttl, MAX_TTL),
            ("--node-ttl", self.node_ttl, MAX_TTL),
            ("--node-gc-grace", self.node_gc_grace, MAX_TIMER),
            ("--header-timeout", self.header_timeout, MAX_TIMER),
            (
                "--tls-handshake-timeout",
                self.tls_handshake_timeout,
                MAX_TIMER,
            ),
        ] {
            if d > max {
                return Err(format!(
                    "{flag} {d:?} is too long: at most {}s",
                    max.as_secs()
                ));
            }
        }
        if self.max_connections == 0 {
            return Err("--max-connections must be at least 1".into());
        }
        if self.watch_window == 0 {
            return Err("--watch-window must be at least 1".into());
        }
        if self.print_node_token.is_some() && self.token.is_none() {
            return Err("--print-node-token needs the admin --token (node tokens derive from it or from --node-token-key)".into());
        }
        Ok(())
    }
}
