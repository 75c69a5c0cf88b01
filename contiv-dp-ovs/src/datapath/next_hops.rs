//! The next hops of external routes: the switch cannot ARP, so the
//! datapath reads the MAC the switch namespace's kernel learned on the
//! fabric router port ([`contiv_core::linux::neigh`]), and a background
//! task keeps it current — it probes a next hop the kernel does not know
//! yet (routes through it get flows as soon as it answers) and follows a
//! MAC that changes (a replaced top-of-rack switch).

use super::{Inner, OvsConfig, plumbing};
use contiv_core::datapath::{DpResult, MacAddr};
use contiv_core::linux::neigh;
use std::collections::BTreeMap;
use std::net::Ipv4Addr;
use std::sync::Weak;
use std::time::Duration;
use tokio::sync::Mutex;
use tracing::{info, warn};

/// How often unknown next hops are probed.
const PROBE_EVERY: Duration = Duration::from_millis(200);
/// How often known next hops are read again.
const REFRESH_EVERY: Duration = Duration::from_secs(2);

/// The MAC the kernel knows for `ip` on the router port, if any (no
/// waiting).
pub(super) async fn lookup(cfg: &OvsConfig, ip: Ipv4Addr) -> DpResult<Option<MacAddr>> {
    neigh::lookup_v4(&cfg.switch_netns, &cfg.router_port, ip)
        .await
        .map_err(plumbing)
}

/// The resolver loop; ends when the datapath is dropped.
pub(super) async fn run(inner: Weak<Mutex<Inner>>, cfg: OvsConfig) {
    let mut since_refresh = Duration::ZERO;
    loop {
        tokio::time::sleep(PROBE_EVERY).await;
        since_refresh += PROBE_EVERY;
        let Some(inner) = inner.upgrade() else {
            return;
        };
        // What to look at, without holding the lock over netlink calls.
        let (known, unknown) = {
            let g = inner.lock().await;
            if g.state.fabric.is_none() {
                continue;
            }
            let mut known = BTreeMap::new();
            let mut unknown = Vec::new();
            for r in g.state.routes.values() {
                match g.ports.next_hops.get(&r.next_hop) {
                    Some(m) => {
                        known.insert(r.next_hop, *m);
                    }
                    None if !unknown.contains(&r.next_hop) => unknown.push(r.next_hop),
                    None => {}
                }
            }
            (known, unknown)
        };
        let refresh = since_refresh >= REFRESH_EVERY;
        if refresh {
            since_refresh = Duration::ZERO;
        }
        let mut found: Vec<(Ipv4Addr, Option<MacAddr>)> = Vec::new();
        for ip in unknown {
            match lookup(&cfg, ip).await {
                Ok(Some(m)) => found.push((ip, Some(m))),
                Ok(None) => {
                    if let Err(e) = neigh::probe_v4(&cfg.switch_netns, ip).await {
                        warn!(next_hop = %ip, error = %e, "cannot probe an external route's next hop");
                    }
                }
                Err(e) => warn!(next_hop = %ip, error = %e, "cannot read the neighbour table"),
            }
        }
        if refresh {
            for (ip, old) in known {
                match lookup(&cfg, ip).await {
                    Ok(Some(m)) if m != old => found.push((ip, Some(m))),
                    // Keep the last MAC while the kernel re-resolves.
                    Ok(_) => {}
                    Err(e) => warn!(next_hop = %ip, error = %e, "cannot read the neighbour table"),
                }
            }
        }
        if found.is_empty() {
            continue;
        }
        let mut g = inner.lock().await;
        for (ip, mac) in found {
            if g.state.routes.values().any(|r| r.next_hop == ip) {
                info!(next_hop = %ip, mac = ?mac.map(|m| m.to_string()), "external route next hop resolved");
                g.set_next_hop(ip, mac);
            }
        }
        if let Err(e) = g.ensure_connected(&cfg).await {
            warn!(error = %e, "cannot reach the switch to install routes");
            continue;
        }
        if let Err(e) = g.flush(&cfg).await {
            warn!(error = %e, "cannot install the flows of resolved routes");
        }
    }
}
