//! The datapath conformance suite (`contiv_policy::conformance`) on the
//! VPP datapath against the wire-faithful VPP test server. No VPP runs
//! here, so the backend does not claim `forwards_packets`: it runs the
//! state-level scenarios and is exempt from the packet ones (printed as
//! such). A "host" is a test server — VPP's state survives an agent
//! restart, as a real VPP's does.

// Test code: a failed unwrap is a failed test.
#![allow(clippy::unwrap_used)]

use async_trait::async_trait;
use contiv_core::datapath::Capabilities;
use contiv_dp_vpp::datapath::{VppConfig, VppDatapath};
use contiv_dp_vpp::testing::VppTestServer;
use contiv_policy::conformance::{Harness, HarnessError, conformance_suite};

struct Vpp;

#[async_trait]
impl Harness for Vpp {
    type Host = VppTestServer;
    type Dp = VppDatapath;

    fn capabilities(&self) -> Capabilities {
        VppDatapath::CAPABILITIES
    }

    async fn host(&self) -> Result<VppTestServer, HarnessError> {
        VppTestServer::start()
            .await
            .map_err(HarnessError::from_display)
    }

    async fn start(&self, host: &mut VppTestServer) -> Result<VppDatapath, HarnessError> {
        let mut cfg = VppConfig::new(host.socket_path());
        cfg.vtep_ip = Some("192.0.2.1".parse().unwrap());
        cfg.uplink = Some("GigabitEthernet0/8/0".into());
        VppDatapath::connect(cfg)
            .await
            .map_err(HarnessError::from_display)
    }

    /// State-changing API calls this datapath instance sent.
    async fn writes(&self, _host: &VppTestServer, dp: &VppDatapath) -> Option<u64> {
        Some(dp.stats().await.calls)
    }
}

conformance_suite!(Vpp);

/// The scenarios VPP runs here are exactly the state-level ones; the
/// packet ones are exempt: VPP does not claim `forwards_packets`.
#[test]
fn vpp_runs_the_state_scenarios_and_is_exempt_from_the_packet_ones() {
    use contiv_policy::conformance::SCENARIOS;
    let caps = VppDatapath::CAPABILITIES;
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
            "refused_operations_change_nothing"
        ]
    );
    // Services are programmed (cnat translations, `tests/services.rs`)
    // but not claimed: cnat matches VIPs in table 0 only (see the crate
    // README), so `services_follow_endpoints` and
    // `service_load_balancing` are exempt and the agent reports services
    // as not enforced.
    assert!(!caps.has(contiv_core::datapath::Capability::Services));
}
