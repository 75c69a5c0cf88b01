//! The background task that expires leases of a memory store on time.

use super::Shared;
use std::sync::{PoisonError, Weak};
use tokio::time::Instant;

/// Expires leases at their deadlines until the store is dropped or holds no
/// lease (the next grant starts a new reaper).
pub(super) async fn run(shared: Weak<Shared>) {
    loop {
        let Some(strong) = shared.upgrade() else {
            return;
        };
        let notify = strong.lease_added.clone();
        let next = {
            let mut state = strong.state.lock().unwrap_or_else(PoisonError::into_inner);
            let expired = state.expire_due(Instant::now());
            strong.hub.publish(expired);
            let next = state.next_deadline();
            if next.is_none() {
                // Decide under the state lock so a concurrent grant either
                // sees `running == false` or is seen here.
                let mut running = strong
                    .reaper_running
                    .lock()
                    .unwrap_or_else(PoisonError::into_inner);
                *running = false;
                return;
            }
            next
        };
        drop(strong);
        if let Some(deadline) = next {
            // Either the deadline passes or a new lease is granted.
            let _ = tokio::time::timeout_at(deadline, notify.notified()).await;
        }
    }
}
