//! The datapath conformance suite on the recording datapath: it forwards
//! nothing, so it runs the state-level scenarios (resync convergence,
//! restart adoption, refusals) and is exempt from the packet ones.

use async_trait::async_trait;
use contiv_core::datapath::{Capabilities, Datapath};
use contiv_policy::RecordingDatapath;
use contiv_policy::conformance::{Harness, HarnessError, conformance_suite};
use std::sync::Arc;

/// A "host" is the recording itself: a restarted agent gets the same
/// one back, as a restarted OVS agent finds the switch's flows.
struct Recording;

#[async_trait]
impl Harness for Recording {
    type Host = Arc<RecordingDatapath>;
    type Dp = Arc<RecordingDatapath>;

    fn capabilities(&self) -> Capabilities {
        RecordingDatapath::new().capabilities()
    }

    async fn host(&self) -> Result<Self::Host, HarnessError> {
        Ok(Arc::new(RecordingDatapath::new()))
    }

    async fn start(&self, host: &mut Self::Host) -> Result<Self::Dp, HarnessError> {
        Ok(Arc::clone(host))
    }
}

conformance_suite!(Recording);

/// The scenarios the recording runs and the ones it is exempt from are
/// exactly what its capabilities say.
#[test]
fn the_recording_is_exempt_from_exactly_the_packet_scenarios() {
    use contiv_core::datapath::Capability;
    use contiv_policy::conformance::SCENARIOS;
    let caps = RecordingDatapath::new().capabilities();
    let runs: Vec<&str> = SCENARIOS
        .iter()
        .filter(|(_, needs)| caps.missing(needs).is_empty())
        .map(|(n, _)| *n)
        .collect();
    assert_eq!(
        runs,
        [
            "resync_changes_nothing_when_in_sync",
            "stale_state_removed_after_restart",
            "refused_operations_change_nothing",
            "services_follow_endpoints"
        ]
    );
    assert!(!caps.has(Capability::ForwardsPackets));
}
