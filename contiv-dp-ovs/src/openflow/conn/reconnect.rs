//! [`Reconnecting`]: keep a connection up and resync after each reconnect.

use super::{AsyncMessage, ConnConfig, ConnError, Connection, Events};
use std::future::Future;
use std::path::PathBuf;
use std::pin::Pin;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;
use tokio::sync::{mpsc, watch};
use tokio::task::JoinHandle;

/// A boxed, sendable future (the callbacks' return type).
pub type BoxFuture<T> = Pin<Box<dyn Future<Output = T> + Send + 'static>>;

/// Exponential backoff between connection attempts.
#[derive(Debug, Clone, Copy)]
pub struct Backoff {
    /// First delay.
    pub initial: Duration,
    /// Largest delay.
    pub max: Duration,
}

impl Default for Backoff {
    fn default() -> Self {
        Backoff {
            initial: Duration::from_millis(50),
            max: Duration::from_secs(2),
        }
    }
}

/// What the supervisor reports.
#[derive(Debug)]
pub enum ReconnectEvent {
    /// A connection is up and the resync callback succeeded.
    Connected {
        /// 1 for the first connection, +1 per reconnect.
        generation: u64,
        /// The switch's datapath id.
        datapath_id: u64,
    },
    /// An asynchronous message from the current connection.
    Message(AsyncMessage),
    /// The connection closed; a reconnect follows.
    Disconnected {
        /// Why it closed.
        reason: String,
    },
    /// The resync callback failed; the connection is dropped and retried.
    ResyncFailed(ConnError),
}

type Connector = dyn Fn() -> BoxFuture<Result<(Connection, Events), ConnError>> + Send + Sync;
type OnConnect = dyn Fn(Connection) -> BoxFuture<Result<(), ConnError>> + Send + Sync;

/// Keeps an OpenFlow connection up: connects (with backoff), runs the
/// user's resync callback on every new connection before publishing it,
/// forwards asynchronous messages, and reconnects when it drops.
///
/// ```no_run
/// # async fn demo() -> Result<(), contiv_dp_ovs::openflow::conn::ConnError> {
/// use contiv_dp_ovs::openflow::conn::{Backoff, ConnConfig, Reconnecting};
/// let (rc, mut events) = Reconnecting::unix(
///     "/run/openvswitch/br-int.mgmt".into(),
///     ConnConfig::default(),
///     Backoff::default(),
///     |conn| Box::pin(async move {
///         // resync now: reinstall every flow this agent owns
///         conn.barrier().await
///     }),
/// );
/// let conn = rc.connected(std::time::Duration::from_secs(5)).await?;
/// # Ok(()) }
/// ```
pub struct Reconnecting {
    current: watch::Receiver<Option<Connection>>,
    generation: Arc<AtomicU64>,
    task: JoinHandle<()>,
}

impl std::fmt::Debug for Reconnecting {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Reconnecting")
            .field("generation", &self.generation())
            .field("connected", &self.current().is_some())
            .finish()
    }
}

impl Reconnecting {
    /// Starts the supervisor with a custom connector.
    pub fn spawn(
        connect: impl Fn() -> BoxFuture<Result<(Connection, Events), ConnError>> + Send + Sync + 'static,
        backoff: Backoff,
        on_connect: impl Fn(Connection) -> BoxFuture<Result<(), ConnError>> + Send + Sync + 'static,
    ) -> (Reconnecting, mpsc::UnboundedReceiver<ReconnectEvent>) {
        let (cur_tx, cur_rx) = watch::channel(None);
        let (ev_tx, ev_rx) = mpsc::unbounded_channel();
        let generation = Arc::new(AtomicU64::new(0));
        let task = tokio::spawn(supervise(
            Arc::new(connect),
            Arc::new(on_connect),
            backoff,
            cur_tx,
            ev_tx,
            generation.clone(),
        ));
        (
            Reconnecting {
                current: cur_rx,
                generation,
                task,
            },
            ev_rx,
        )
    }

    /// Supervises a connection to a unix socket (e.g. a bridge's `.mgmt`).
    pub fn unix(
        path: PathBuf,
        config: ConnConfig,
        backoff: Backoff,
        on_connect: impl Fn(Connection) -> BoxFuture<Result<(), ConnError>> + Send + Sync + 'static,
    ) -> (Reconnecting, mpsc::UnboundedReceiver<ReconnectEvent>) {
        let connect = move || -> BoxFuture<Result<(Connection, Events), ConnError>> {
            let (p, c) = (path.clone(), config.clone());
            Box::pin(async move { Connection::connect_unix_with(p, c).await })
        };
        Self::spawn(connect, backoff, on_connect)
    }

    /// The current connection, if one is up (and resynced).
    pub fn current(&self) -> Option<Connection> {
        self.current.borrow().clone()
    }

    /// How many connections have been established so far.
    pub fn generation(&self) -> u64 {
        self.generation.load(Ordering::Relaxed)
    }

    /// Waits up to `timeout` for a connection.
    pub async fn connected(&self, timeout: Duration) -> Result<Connection, ConnError> {
        let mut rx = self.current.clone();
        let got = tokio::time::timeout(timeout, async {
            rx.wait_for(Option::is_some)
                .await
                .ok()
                .and_then(|c| c.clone())
        })
        .await;
        match got {
            Ok(Some(c)) => Ok(c),
            Ok(None) => Err(ConnError::Closed("reconnecting supervisor stopped".into())),
            Err(_) => Err(ConnError::Timeout {
                what: "a switch connection",
                after: timeout,
            }),
        }
    }

    /// Stops the supervisor and closes the current connection.
    pub fn shutdown(&self) {
        self.task.abort();
        if let Some(c) = self.current() {
            c.shutdown();
        }
    }
}

impl Drop for Reconnecting {
    fn drop(&mut self) {
        self.shutdown();
    }
}

async fn supervise(
    connect: Arc<Connector>,
    on_connect: Arc<OnConnect>,
    backoff: Backoff,
    current: watch::Sender<Option<Connection>>,
    events: mpsc::UnboundedSender<ReconnectEvent>,
    generation: Arc<AtomicU64>,
) {
    let mut delay = backoff.initial;
    loop {
        let (conn, mut conn_events) = match connect().await {
            Ok(c) => c,
            Err(e) => {
                tracing::debug!(error = %e, ?delay, "OpenFlow connect failed; retrying");
                tokio::time::sleep(delay).await;
                delay = (delay * 2).min(backoff.max);
                continue;
            }
        };
        if let Err(e) = on_connect(conn.clone()).await {
            tracing::warn!(error = %e, "resync after connect failed; reconnecting");
            let _ = events.send(ReconnectEvent::ResyncFailed(e));
            conn.shutdown();
            tokio::time::sleep(delay).await;
            delay = (delay * 2).min(backoff.max);
            continue;
        }
        delay = backoff.initial;
        let g = generation.fetch_add(1, Ordering::Relaxed) + 1;
        current.send_replace(Some(conn.clone()));
        let _ = events.send(ReconnectEvent::Connected {
            generation: g,
            datapath_id: conn.datapath_id(),
        });
        while let Some(m) = conn_events.recv().await {
            let _ = events.send(ReconnectEvent::Message(m));
        }
        current.send_replace(None);
        let reason = conn
            .close_reason()
            .unwrap_or_else(|| "connection closed".into());
        tracing::info!(%reason, "OpenFlow connection lost; reconnecting");
        let _ = events.send(ReconnectEvent::Disconnected { reason });
    }
}
