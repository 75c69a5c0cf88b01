//! Node registration with netmaster and the lease heartbeat.
//!
//! The agent posts its node record (`POST /api/v1/agent/nodes/<host>/`)
//! and repeats it every third of the lease TTL netmaster answers with. The
//! same call re-registers after the lease expired (netmaster grants a new
//! one), so a netmaster restart or a long pause heals by itself. The agent
//! does not deregister when it stops: a restart must not make every peer
//! drop its endpoints; if it does not come back, the lease expires.
//!
//! A failed heartbeat does not make the agent unready at once: the lease
//! granted by the last successful heartbeat is still valid, so ADDs keep
//! being served (e.g. across a netmaster leader switchover) until that
//! lease's TTL has really run out. Failed heartbeats are retried quickly.

use super::core::Core;
use crate::api::NodeRegistration;
use contiv_core::records::NodeRecord;
use std::sync::Arc;
use std::sync::atomic::Ordering;
use std::time::{Duration, Instant};
use tracing::{info, warn};

/// Registers and heartbeats forever.
pub async fn run(core: Arc<Core>, node: NodeRecord) {
    let reg = NodeRegistration { node };
    let host = reg.node.hostname.clone();
    // When the lease of the last successful heartbeat runs out.
    let mut lease_until: Option<Instant> = None;
    loop {
        // The lease is granted after the request leaves, so it lasts at
        // least until `sent + ttl`.
        let sent = Instant::now();
        let delay = match core.client.register_node(&host, &reg).await {
            Ok(lease) => {
                lease_until = Some(sent + Duration::from_millis(lease.ttl_ms));
                if !core.registered.swap(true, Ordering::Relaxed) {
                    info!(host = %host, ttl_ms = lease.ttl_ms, "registered with netmaster");
                }
                Duration::from_millis((lease.ttl_ms / 3).max(100))
            }
            Err(e) => {
                let still_valid = lease_until.is_some_and(|t| Instant::now() < t);
                if still_valid {
                    warn!(error = %e, "node heartbeat failed; the lease is still valid, retrying");
                } else if core.registered.swap(false, Ordering::Relaxed) {
                    warn!(error = %e, "node lease ran out without a heartbeat; retrying");
                } else {
                    tracing::debug!(error = %e, "node registration failed; retrying");
                }
                Duration::from_millis(200)
            }
        };
        tokio::time::sleep(delay).await;
    }
}
