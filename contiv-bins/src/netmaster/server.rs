//! Running a netmaster: store, election, leader duties, HTTP(S) serving.
//! (Forwarding of writes from followers to the leader is in
//! [`super::forward`].)

use super::auth::Credentials;
use super::forward::Forwarder;
use super::http::{self, HttpOptions};
use super::leader::{Election, Role};
use super::watch_threads::WatchThreads;
use super::{Netmaster, NetmasterConfig, RuntimeSettings, members, serve};
use crate::daemon;
use axum::Router;
use contiv_core::store::keys::Keys;
use std::process::ExitCode;
use std::sync::Arc;
use std::time::Duration;
use tokio::net::TcpListener;
use tokio::task::JoinHandle;
use tracing::{error, info, warn};

/// How often the leader looks for vanished nodes.
const NODE_GC_PERIOD: Duration = Duration::from_secs(1);

/// Runs netmaster until SIGINT/SIGTERM. Exit code 22 on bad configuration
/// (as the original), 1 on a runtime failure.
pub fn run(cfg: NetmasterConfig) -> ExitCode {
    if let Some(host) = &cfg.print_node_token {
        return print_node_token(&cfg, host);
    }
    daemon::init_logging(&cfg.log_level, cfg.log_format);
    let rt = match tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
    {
        Ok(rt) => rt,
        Err(e) => {
            eprintln!("netmaster: cannot start the runtime: {e}");
            return ExitCode::from(1);
        }
    };
    match rt.block_on(serve(cfg)) {
        Ok(()) => ExitCode::SUCCESS,
        Err(ServeError::Config(e)) => {
            error!("{e}");
            eprintln!("netmaster: {e}");
            ExitCode::from(22)
        }
        Err(ServeError::Runtime(e)) => {
            error!("{e}");
            eprintln!("netmaster: {e}");
            ExitCode::from(1)
        }
    }
}

/// `--print-node-token <host>`: prints the host's node token and exits.
fn print_node_token(cfg: &NetmasterConfig, host: &str) -> ExitCode {
    if let Err(e) = cfg.check() {
        eprintln!("netmaster: {e}");
        return ExitCode::from(22);
    }
    let creds = Credentials::new(cfg.token.clone(), cfg.node_token_key.clone());
    match creds.node_token(host) {
        Some(t) => {
            println!("{t}");
            ExitCode::SUCCESS
        }
        None => {
            eprintln!(
                "netmaster: invalid host name {host:?}: letters, digits, '-' and '_' in dot-separated labels"
            );
            ExitCode::from(22)
        }
    }
}

/// Why serving stopped.
#[derive(Debug)]
pub enum ServeError {
    /// Bad configuration (exit 22).
    Config(String),
    /// Runtime failure (exit 1).
    Runtime(String),
}

impl std::fmt::Display for ServeError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            ServeError::Config(m) => write!(f, "configuration error: {m}"),
            ServeError::Runtime(m) => write!(f, "runtime error: {m}"),
        }
    }
}

impl std::error::Error for ServeError {}

/// A running netmaster (for tests and embedders): its address and a handle
/// to stop it.
pub struct Running {
    /// The bound address.
    pub addr: std::net::SocketAddr,
    /// The service.
    pub netmaster: Arc<Netmaster>,
    stop: tokio::sync::watch::Sender<bool>,
    server: JoinHandle<()>,
    background: Vec<JoinHandle<()>>,
    watch_threads: Arc<WatchThreads>,
}

impl Running {
    /// Stops serving: the listener closes, a leader resigns (another
    /// netmaster takes over at once), the cache stops following the store;
    /// waits for the tasks.
    pub async fn stop(self) {
        self.netmaster.shutdown();
        let _ = self.stop.send(true);
        let mut server = self.server;
        if tokio::time::timeout(Duration::from_secs(5), &mut server)
            .await
            .is_err()
        {
            warn!("connections did not close within 5s; dropping them");
            server.abort();
        }
        for t in self.background {
            let _ = t.await;
        }
        self.netmaster.election.resign().await;
        self.netmaster.cache.stop();
        self.watch_threads.stop();
    }

    /// The threads watch connections are served on.
    pub fn watch_threads(&self) -> &Arc<WatchThreads> {
        &self.watch_threads
    }
}

/// Starts a netmaster from `cfg` inside the current runtime and returns
/// once it is listening.
pub async fn start(cfg: NetmasterConfig) -> Result<Running, ServeError> {
    cfg.check().map_err(ServeError::Config)?;
    let url = cfg.store_url();
    let store = contiv_store::open_store(&url)
        .await
        .map_err(|e| ServeError::Config(format!("cannot open store {url}: {e}")))?;
    let keys = Keys::new(&cfg.store_root);
    let listener = TcpListener::bind(cfg.listen)
        .await
        .map_err(|e| ServeError::Config(format!("cannot listen on {}: {e}", cfg.listen)))?;
    let addr = listener
        .local_addr()
        .map_err(|e| ServeError::Runtime(e.to_string()))?;
    let me = cfg.control_url_for(addr);
    // Stores several netmasters can share (the others are one process's).
    let shared = matches!(store.backend_name(), "etcd" | "consul");
    let election = if shared {
        Election::start(store.clone(), keys.leader(), me.clone(), cfg.leader_ttl)
    } else {
        Election::single(keys.leader(), me.clone())
    };
    let tls = match (&cfg.tls_cert, &cfg.tls_key) {
        (Some(c), Some(k)) => Some(tls_config(c, k).map_err(ServeError::Config)?),
        _ => None,
    };
    let forwarder = match (&cfg.tls_ca, &cfg.tls_cert) {
        (Some(ca), _) | (None, Some(ca)) => {
            Forwarder::with_tls_roots(ca).map_err(ServeError::Config)?
        }
        (None, None) => Forwarder::http_only(),
    };
    let nm = match Netmaster::new(
        store.clone(),
        keys.clone(),
        RuntimeSettings::from_config(&cfg),
        election.clone(),
    )
    .await
    {
        Ok(nm) => nm,
        Err(e) => {
            election.resign().await;
            return Err(ServeError::Runtime(format!("cannot load state: {e}")));
        }
    };
    if !shared {
        // A single netmaster leads from the start: complete interrupted
        // changes and create the defaults before the first request, so no
        // client ever meets a "starting" answer.
        if let Err(e) = nm.initialize().await {
            nm.cache.stop();
            return Err(ServeError::Runtime(format!(
                "cannot initialise the state: {e}"
            )));
        }
    }
    let (stop_tx, stop_rx) = tokio::sync::watch::channel(false);
    let mut background = vec![tokio::spawn(leader_duties(nm.clone(), stop_rx.clone()))];
    if shared {
        background.push(tokio::spawn(members::run(
            store,
            keys,
            me,
            cfg.leader_ttl,
            stop_rx.clone(),
        )));
    }
    let credentials = Credentials::new(cfg.token.clone(), cfg.node_token_key.clone());
    if !credentials.enabled() && !addr.ip().is_loopback() {
        warn!(
            %addr,
            "netmaster listens beyond loopback WITHOUT credentials: anyone who reaches it can change the network; set --token (and --tls-cert/--tls-key), see the README's secure deployment"
        );
    }
    let app: Router = http::router(
        nm.clone(),
        HttpOptions {
            credentials: Arc::new(credentials),
            forwarder,
        },
    );
    info!(%addr, store = %url, tls = tls.is_some(), "netmaster listening");
    let limits = serve::Limits {
        max_connections: cfg.max_connections,
        header_timeout: cfg.header_timeout,
        tls_handshake_timeout: cfg.tls_handshake_timeout,
    };
    let threads = std::thread::available_parallelism().map_or(1, usize::from);
    let watch_threads = Arc::new(
        WatchThreads::start(threads, cfg.watch_nice)
            .map_err(|e| ServeError::Runtime(format!("cannot start the watch threads: {e}")))?,
    );
    let server = tokio::spawn(serve::serve(
        listener,
        app,
        tls,
        limits,
        Some(watch_threads.clone()),
        stop_rx,
    ));
    Ok(Running {
        addr,
        netmaster: nm,
        stop: stop_tx,
        server,
        background,
        watch_threads,
    })
}

async fn serve(cfg: NetmasterConfig) -> Result<(), ServeError> {
    let running = start(cfg).await?;
    daemon::shutdown_signal().await;
    info!("shutting down");
    running.stop().await;
    Ok(())
}

/// Runs the leader's duties while this netmaster leads: initial objects,
/// then the vanished-node cleanup.
async fn leader_duties(nm: Arc<Netmaster>, mut stop: tokio::sync::watch::Receiver<bool>) {
    let mut roles = nm.election.subscribe();
    loop {
        if *stop.borrow() {
            return;
        }
        let is_leader = matches!(*roles.borrow_and_update(), Role::Leader { .. });
        if is_leader {
            // Initialise until it works (the store may be briefly busy).
            loop {
                match nm.initialize().await {
                    Ok(()) => break,
                    Err(e) => {
                        warn!(error = %e, "leader initialisation failed; retrying");
                        tokio::time::sleep(Duration::from_millis(500)).await;
                        if !nm.election.is_leader() || *stop.borrow() {
                            break;
                        }
                    }
                }
            }
            let (gc_stop_tx, gc_stop_rx) = tokio::sync::watch::channel(false);
            let gc = tokio::spawn(nm.clone().run_node_gc(NODE_GC_PERIOD, gc_stop_rx));
            // Hold the duties until the role changes or we stop.
            loop {
                tokio::select! {
                    r = roles.changed() => {
                        if r.is_err() || !matches!(*roles.borrow(), Role::Leader { .. }) { break; }
                    }
                    _ = stop.wait_for(|s| *s) => break,
                }
            }
            nm.step_down();
            let _ = gc_stop_tx.send(true);
            let _ = gc.await;
        } else {
            tokio::select! {
                r = roles.changed() => if r.is_err() { return },
                _ = stop.wait_for(|s| *s) => return,
            }
        }
    }
}

fn tls_config(
    cert: &std::path::Path,
    key: &std::path::Path,
) -> Result<tokio_rustls::TlsAcceptor, String> {
    use rustls_pki_types::pem::PemObject;
    use rustls_pki_types::{CertificateDer, PrivateKeyDer};
    let certs: Vec<CertificateDer<'static>> = CertificateDer::pem_file_iter(cert)
        .map_err(|e| format!("cannot read TLS certificate {}: {e}", cert.display()))?
        .collect::<Result<_, _>>()
        .map_err(|e| format!("invalid TLS certificate {}: {e}", cert.display()))?;
    if certs.is_empty() {
        return Err(format!("no certificate in {}", cert.display()));
    }
    let key = PrivateKeyDer::from_pem_file(key)
        .map_err(|e| format!("cannot read TLS key {}: {e}", key.display()))?;
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let config = rustls::ServerConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .map_err(|e| format!("TLS setup failed: {e}"))?
        .with_no_client_auth()
        .with_single_cert(certs, key)
        .map_err(|e| format!("TLS certificate/key rejected: {e}"))?;
    Ok(tokio_rustls::TlsAcceptor::from(Arc::new(config)))
}
