//! How long each vanished host has been gone, kept in the store so the node
//! GC grace period survives a leader change.
//!
//! The leader's cleanup ([`Netmaster::gc_vanished`]) releases what a host
//! holds once the host has had no node record for `--node-gc-grace`. When that clock
//! lived in the leader's memory, every failover restarted it: with leaders
//! changing more often than the grace period, a dead host's addresses were
//! never released. The clock is now one JSON record,
//! `<root>state/node-absence` (`{"sinceMs": {"<host>": <unix ms>}}`): the
//! time each absent host was first seen absent, written with
//! compare-and-swap. A host that comes back is dropped from it, so a later
//! absence starts a fresh grace period.
//!
//! Times are wall-clock milliseconds, so netmasters whose clocks disagree
//! shift the release by their difference; a clock that jumps back never
//! makes a duration negative (it saturates at zero).

use super::Netmaster;
use contiv_core::store::{PutOptions, StoreError, StoreExt, StoreResult};
use serde::{Deserialize, Serialize};
use std::collections::{BTreeMap, BTreeSet};
use std::time::{Duration, SystemTime, UNIX_EPOCH};
use tracing::info;

/// The stored record.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
struct AbsenceRecord {
    /// Host → when it was first seen without a node record (unix ms).
    since_ms: BTreeMap<String, u64>,
}

/// How many times a lost compare-and-swap is retried.
const CAS_ATTEMPTS: usize = 8;

fn now_ms() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| u64::try_from(d.as_millis()).unwrap_or(u64::MAX))
}

impl Netmaster {
    /// The key of the absence record.
    fn absence_key(&self) -> String {
        self.keys.state("node-absence")
    }

    /// Records that exactly the hosts in `absent` are absent now (a host
    /// new to the record gets "now", a host no longer absent is dropped)
    /// and returns how long each of them has been absent.
    pub async fn note_absent_hosts(
        &self,
        absent: &BTreeSet<String>,
    ) -> StoreResult<BTreeMap<String, Duration>> {
        let key = self.absence_key();
        for _ in 0..CAS_ATTEMPTS {
            let stored = self.store.get_json::<AbsenceRecord>(&key).await?;
            let (old, rev) = match &stored {
                Some(kv) => (kv.value.clone(), Some(kv.mod_revision)),
                None => (AbsenceRecord::default(), None),
            };
            let now = now_ms();
            let mut new = AbsenceRecord::default();
            for host in absent {
                let since = old.since_ms.get(host).copied().unwrap_or(now);
                new.since_ms.insert(host.clone(), since);
            }
            if new != old {
                let opts = match rev {
                    Some(r) => PutOptions::at_revision(r),
                    None => PutOptions::absent(),
                };
                match self.store.put_json(&key, &new, opts).await {
                    Ok(_) => {}
                    Err(e) if e.is_conflict() => continue,
                    Err(e) => return Err(e),
                }
                for host in old.since_ms.keys().filter(|h| !absent.contains(*h)) {
                    info!(
                        host,
                        "node is back (or holds nothing): its GC grace period is reset"
                    );
                }
            }
            return Ok(new
                .since_ms
                .into_iter()
                .map(|(h, since)| (h, Duration::from_millis(now.saturating_sub(since))))
                .collect());
        }
        Err(StoreError::Unavailable(format!(
            "cannot update {key}: {CAS_ATTEMPTS} compare-and-swap attempts lost to other writers"
        )))
    }
}
