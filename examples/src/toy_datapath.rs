//! Example (d): a datapath of your own. [`ToyDatapath`] "programs" a
//! [`ToySwitch`] — an in-memory table standing in for real hardware — and
//! forwards nothing, which it says in its [`Capabilities`]. The conformance
//! suite (`contiv_policy::conformance`) runs on it in
//! `examples/tests/toy_datapath_conformance.rs`: the state-level scenarios
//! run and must pass; every packet scenario reports itself exempt, because
//! the toy does not claim [`Capability::ForwardsPackets`].
//!
//! The shape is what a real backend has: the *switch* outlives the agent's
//! handle on it (a restarted agent finds what the previous one installed
//! and resyncs it), every operation is checked before anything is written
//! (a refused operation changes nothing), and writes are counted so the
//! suite can check that repeating an operation writes nothing.
//!
//! ```
//! use contiv_core::datapath::{Datapath, DpOp, GlobalSpec};
//! use contiv_examples::toy_datapath::{ToyDatapath, ToySwitch};
//! use std::sync::Arc;
//! # tokio::runtime::Builder::new_current_thread().build().unwrap().block_on(async {
//! let switch = Arc::new(ToySwitch::default());
//! let dp = ToyDatapath::attach(Arc::clone(&switch));
//! dp.apply(vec![DpOp::SetGlobal(GlobalSpec::default())]).await.unwrap();
//! dp.apply(vec![DpOp::SetGlobal(GlobalSpec::default())]).await.unwrap();
//! assert_eq!(switch.writes(), 0, "the default global settings are already there");
//! # });
//! ```

use async_trait::async_trait;
use contiv_core::datapath::{
    Capabilities, Capability, Datapath, DesiredState, DpOp, DpResult, HostState, ResyncReport,
    check_claimed, check_desired_claimed, in_op,
};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Mutex, MutexGuard, PoisonError};

/// What the toy claims: nothing. It keeps state but forwards no packet, so
/// it must not claim [`Capability::ForwardsPackets`] (or anything that
/// implies forwarding); the agent then reports its endpoints' reachability
/// and policy as not enforced instead of pretending.
pub const TOY_CAPABILITIES: Capabilities = Capabilities::of(&[]);

/// The "hardware" a [`ToyDatapath`] programs: the host state it holds and
/// how many writes it has taken. Outlives any one datapath handle.
#[derive(Debug, Default)]
pub struct ToySwitch {
    table: Mutex<HostState>,
    writes: AtomicU64,
}

impl ToySwitch {
    /// Writes taken so far (one per changed entry).
    pub fn writes(&self) -> u64 {
        self.writes.load(Ordering::Relaxed)
    }

    /// What the switch holds.
    pub fn snapshot(&self) -> DesiredState {
        self.table().snapshot()
    }

    fn table(&self) -> MutexGuard<'_, HostState> {
        self.table.lock().unwrap_or_else(PoisonError::into_inner)
    }
}

/// An agent's handle on a [`ToySwitch`].
#[derive(Debug)]
pub struct ToyDatapath {
    switch: std::sync::Arc<ToySwitch>,
}

impl ToyDatapath {
    /// Attaches to `switch`, adopting whatever it holds (as an agent
    /// restarted on a switch full of flows).
    pub fn attach(switch: std::sync::Arc<ToySwitch>) -> ToyDatapath {
        ToyDatapath { switch }
    }
}

#[async_trait]
impl Datapath for ToyDatapath {
    fn name(&self) -> &'static str {
        "toy"
    }

    fn capabilities(&self) -> Capabilities {
        debug_assert!(!TOY_CAPABILITIES.has(Capability::ForwardsPackets));
        TOY_CAPABILITIES
    }

    /// Applies `ops` in order; the first refused one stops the batch (the
    /// ones before it stay applied) and the error names it.
    async fn apply(&self, ops: Vec<DpOp>) -> DpResult<()> {
        let mut table = self.switch.table();
        for (i, op) in ops.iter().enumerate() {
            // What the toy does not claim (a routed uplink), it refuses.
            check_claimed(op, "toy", &TOY_CAPABILITIES).map_err(|e| in_op(i, op, e))?;
            table.check(op).map_err(|e| in_op(i, op, e))?;
            let before = table.clone();
            table.record(op);
            let changed = before.report(&table);
            self.switch
                .writes
                .fetch_add((changed.added + changed.removed) as u64, Ordering::Relaxed);
        }
        Ok(())
    }

    /// Converges to exactly `desired`; an inconsistent `desired` is
    /// refused as a whole.
    async fn resync(&self, desired: &DesiredState) -> DpResult<ResyncReport> {
        check_desired_claimed(desired, "toy", &TOY_CAPABILITIES)?;
        let target = HostState::from_desired(desired)?;
        let mut table = self.switch.table();
        let report = table.report(&target);
        *table = target;
        self.switch
            .writes
            .fetch_add((report.added + report.removed) as u64, Ordering::Relaxed);
        Ok(report)
    }
}
