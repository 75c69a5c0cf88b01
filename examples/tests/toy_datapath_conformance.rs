//! Example (d), the test half: the public conformance suite on
//! `contiv_examples::toy_datapath`. The harness below is everything a
//! backend author writes; `conformance_suite!` generates one test per
//! scenario. The toy forwards nothing and says so, so the packet
//! scenarios are exempt (printed) and the state-level ones must pass.

use async_trait::async_trait;
use contiv_core::datapath::{Capabilities, Capability, Datapath};
use contiv_examples::toy_datapath::{TOY_CAPABILITIES, ToyDatapath, ToySwitch};
use contiv_policy::conformance::{
    self, Harness, HarnessError, Outcome, SCENARIOS, conformance_suite,
};
use std::sync::Arc;

/// A "host" is a toy switch; starting a datapath attaches to it.
struct Toy;

#[async_trait]
impl Harness for Toy {
    type Host = Arc<ToySwitch>;
    type Dp = ToyDatapath;

    fn capabilities(&self) -> Capabilities {
        TOY_CAPABILITIES
    }

    async fn host(&self) -> Result<Arc<ToySwitch>, HarnessError> {
        Ok(Arc::new(ToySwitch::default()))
    }

    async fn start(&self, host: &mut Arc<ToySwitch>) -> Result<ToyDatapath, HarnessError> {
        Ok(ToyDatapath::attach(Arc::clone(host)))
    }

    /// The suite checks that repeated operations and in-sync resyncs
    /// write nothing.
    async fn writes(&self, host: &Arc<ToySwitch>, _dp: &ToyDatapath) -> Option<u64> {
        Some(host.writes())
    }
}

conformance_suite!(Toy);

fn run<F: std::future::Future>(f: F) -> F::Output {
    tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .expect("runtime")
        .block_on(f)
}

/// The toy runs exactly the scenarios that need no forwarding, and a
/// packet scenario reports the missing capability instead of passing.
#[test]
fn the_toy_is_exempt_from_exactly_the_packet_scenarios() {
    let runs: Vec<&str> = SCENARIOS
        .iter()
        .filter(|(_, needs)| TOY_CAPABILITIES.missing(needs).is_empty())
        .map(|(n, _)| *n)
        .collect();
    assert_eq!(
        runs,
        [
            "resync_changes_nothing_when_in_sync",
            "stale_state_removed_after_restart",
            "refused_operations_change_nothing"
        ]
    );
    assert_eq!(
        run(conformance::ping_on_one_network(&Toy)),
        Outcome::Exempt(vec![Capability::ForwardsPackets])
    );
}

/// A harness that claims forwarding for a datapath that does not is
/// caught: the suite compares the claim with the datapath's own.
struct Boastful;

#[async_trait]
impl Harness for Boastful {
    type Host = Arc<ToySwitch>;
    type Dp = ToyDatapath;

    fn capabilities(&self) -> Capabilities {
        Capabilities::of(&[Capability::ForwardsPackets])
    }

    async fn host(&self) -> Result<Arc<ToySwitch>, HarnessError> {
        Toy.host().await
    }

    async fn start(&self, host: &mut Arc<ToySwitch>) -> Result<ToyDatapath, HarnessError> {
        Toy.start(host).await
    }
}

#[test]
#[should_panic(expected = "the harness must declare exactly the datapath's capabilities")]
fn claiming_what_the_datapath_does_not_do_fails() {
    let dp = run(Boastful.start(&mut Arc::new(ToySwitch::default()))).expect("start");
    assert!(!dp.capabilities().has(Capability::ForwardsPackets));
    run(conformance::refused_operations_change_nothing(&Boastful));
}
