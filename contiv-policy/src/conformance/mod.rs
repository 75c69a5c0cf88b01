//! The datapath conformance suite (feature `testing`): what a backend must
//! do to be "a datapath", written once as backend-neutral scenarios and run
//! by every backend's tests — in the spirit of object_store's
//! `integration.rs`.
//!
//! A backend implements [`Harness`] (make a host, start a datapath on it,
//! join two hosts' underlays or trunks, count dataplane writes, probe a
//! verdict) in its test file and calls [`conformance_suite!`], which
//! generates one `#[test]` per scenario. Every scenario is also a public
//! `async fn(&impl Harness) -> Outcome` a test can call on its own.
//!
//! Scenarios use real network namespaces as containers
//! ([`Attachment::Netns`](contiv_core::datapath::Attachment::Netns)) and real
//! packets (`ping`, `nc`) wherever the backend forwards packets; the
//! oracle differential compares the real dataplane's verdict (through the
//! backend's [`Harness::probe`]) with [`crate::evaluate`] for random
//! policies × random packets.
//!
//! # Exemptions are declared, never silent
//!
//! Each scenario needs some [`Capability`]s (listed in [`SCENARIOS`]). A
//! backend whose [`Harness::capabilities`] lacks one gets
//! [`Outcome::Exempt`] for that scenario, printed in the test output; it
//! runs everything else. So a backend claims a capability exactly when the
//! suite shows it: claim it, and its scenarios must pass. The state-level
//! scenarios need no capability and every backend runs them (the recording
//! datapath runs only those).
//!
//! # Running the suite for a new backend
//!
//! ```text
//! // my-backend/tests/conformance.rs
//! use contiv_core::datapath::{Capabilities, Capability};
//! use contiv_policy::conformance::{Harness, HarnessError, Probe, conformance_suite};
//!
//! struct MyHarness;
//! struct MyHost { /* a namespace, a daemon, … removed on drop */ }
//!
//! #[async_trait::async_trait]
//! impl Harness for MyHarness {
//!     type Host = MyHost;
//!     type Dp = MyDatapath;
//!     fn capabilities(&self) -> Capabilities {
//!         // Exactly what MyDatapath::capabilities() says; the suite checks.
//!         Capabilities::of(&[Capability::ForwardsPackets, Capability::Vxlan])
//!     }
//!     async fn host(&self) -> Result<MyHost, HarnessError> { MyHost::new().await }
//!     async fn start(&self, host: &mut MyHost) -> Result<MyDatapath, HarnessError> {
//!         MyDatapath::connect(host.config()).await.map_err(HarnessError::from_display)
//!     }
//!     // join_underlay / join_trunk / writes / probe: override what applies.
//! }
//!
//! conformance_suite!(MyHarness);
//! ```
//!
//! `cargo test -p my-backend --test conformance` then runs every scenario
//! (two at a time on a 2-core machine; each makes its own hosts, so they
//! never share anything), prints `exempt: … (needs …)` for the ones the
//! backend does not claim, and fails on anything else. The OVS backend's
//! `contiv-dp-ovs/tests/conformance.rs` and the recording datapath's
//! `contiv-policy/tests/conformance.rs` are complete examples.
//!
//! # Stability
//!
//! [`Harness`] is the contract between the suite and the backends: new
//! scenarios are added to [`conformance_suite!`] (every backend picks them
//! up) and new [`Capability`] variants gate them; the trait's required
//! methods do not change, and new methods come with defaults.

mod differential;
mod external;
pub mod fixture;
mod multi_host;
mod qos;
mod routing;
mod services;
mod single_host;
mod state;

pub use differential::oracle_differential;
pub use external::{
    egress_nat_overlapping_tenants, egress_nat_to_outside, published_port_from_outside,
};
pub use multi_host::{two_host_vxlan, vlan_over_trunk};
pub use qos::{bandwidth_within_profile, dscp_on_the_wire};
pub use routing::{fabric_routes_without_nat, routing_two_hosts, routing_within_tenant};
pub use services::{service_load_balancing, service_udp_fragments, services_follow_endpoints};
pub use single_host::{
    arp_flood, arp_proxy, gateway_answers_arp_and_ping, gateway6_answers_nd_and_ping, icmp_policy,
    ipv6_forwarding_and_policy, overlapping_tenants_isolated, ping_on_one_network,
    stateful_replies_pass, tutorial_policy, udp_fragments_meet_port_rules,
};
pub use state::{
    refused_operations_change_nothing, resync_changes_nothing_when_in_sync,
    stale_state_removed_after_restart,
};

use async_trait::async_trait;
use contiv_core::datapath::{Capabilities, Capability, Datapath, MacAddr};
use std::net::IpAddr;

/// Why a harness could not do what a scenario asked.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum HarnessError {
    /// The harness cannot do this at all (e.g. no trunk between hosts): a
    /// scenario that needs it fails, naming it.
    #[error("the harness does not support {0}")]
    Unsupported(String),
    /// Setting something up failed.
    #[error("{0}")]
    Failed(String),
}

impl HarnessError {
    /// A [`HarnessError::Failed`] from anything printable.
    pub fn from_display(e: impl std::fmt::Display) -> HarnessError {
        HarnessError::Failed(e.to_string())
    }
}

/// Where a [`Probe`] packet enters the host.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum ProbeIngress {
    /// From the local endpoint with this id (its container interface).
    Endpoint(String),
    /// From the VXLAN tunnel of peer `peer`, with VNI `vni`.
    Tunnel {
        /// The peer's VTEP address.
        peer: IpAddr,
        /// The VNI.
        vni: u32,
    },
}

/// A packet whose fate the real dataplane is asked about
/// ([`Harness::probe`]).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Probe {
    /// Where it enters.
    pub ingress: ProbeIngress,
    /// Ethernet source.
    pub src_mac: MacAddr,
    /// Ethernet destination.
    pub dst_mac: MacAddr,
    /// IP source (the family of `src` and `dst` is the same).
    pub src: IpAddr,
    /// IP destination.
    pub dst: IpAddr,
    /// IP protocol: 6, 17, 1 (ICMP echo request; for IPv6 this is 58,
    /// ICMPv6 echo request), or any other number.
    pub proto: u8,
    /// TCP/UDP source port (0 otherwise).
    pub src_port: u16,
    /// TCP/UDP destination port (0 otherwise).
    pub dst_port: u16,
    /// Part of an established connection (a reply or later packet); else
    /// the first packet of a new connection.
    pub established: bool,
}

/// How a backend plugs into the suite. See the [module docs](self).
///
/// A *host* is whatever one machine is for the backend (OVS: a namespace
/// running its own ovsdb-server and ovs-vswitchd; eBPF: a namespace with
/// its bpffs pins; the recording datapath: the state it keeps). Dropping a
/// host removes everything it created. Containers are network namespaces
/// the suite creates; the datapath plumbs them as
/// [`Attachment::Netns`](contiv_core::datapath::Attachment::Netns) says,
/// with the host side of each veth in the host's switch namespace.
#[async_trait]
pub trait Harness: Send + Sync + 'static {
    /// One simulated host.
    type Host: Send + Sync;
    /// The datapath an agent runs on a host.
    type Dp: Datapath;

    /// What the backend claims. Must equal its datapath's
    /// [`Datapath::capabilities`] (every scenario checks); scenarios that
    /// need a capability not claimed are [`Outcome::Exempt`].
    fn capabilities(&self) -> Capabilities;

    /// A fresh host with nothing on it.
    async fn host(&self) -> Result<Self::Host, HarnessError>;

    /// Starts an agent's datapath on `host`. Called again after the suite
    /// dropped the previous one, it is an **agent restart**: the new
    /// instance adopts what the host's dataplane holds (ports, flows,
    /// maps), and the suite resyncs it.
    async fn start(&self, host: &mut Self::Host) -> Result<Self::Dp, HarnessError>;

    /// Joins two hosts' underlays so VXLAN between them works; returns
    /// their VTEP addresses. Called before [`Harness::start`] on either.
    /// Needed by backends claiming [`Capability::Vxlan`] and forwarding.
    async fn join_underlay(
        &self,
        a: &mut Self::Host,
        b: &mut Self::Host,
    ) -> Result<(IpAddr, IpAddr), HarnessError> {
        let _ = (a, b);
        Err(HarnessError::Unsupported("joining underlays".into()))
    }

    /// Joins two hosts with an 802.1Q trunk, each end becoming that
    /// host's uplink. Called before [`Harness::start`] on either. Needed
    /// by backends claiming [`Capability::Vlan`] and forwarding.
    async fn join_trunk(&self, a: &mut Self::Host, b: &mut Self::Host) -> Result<(), HarnessError> {
        let _ = (a, b);
        Err(HarnessError::Unsupported("trunks between hosts".into()))
    }

    /// Connects `host`'s uplink to a new interface `ifname` in the network
    /// namespace `netns` (the top-of-rack switch of a fabric scenario):
    /// untagged frames the host sends out its uplink arrive there and vice
    /// versa. Called before [`Harness::start`]. Needed by backends
    /// claiming [`Capability::RoutedUplink`].
    async fn join_fabric(
        &self,
        host: &mut Self::Host,
        netns: &str,
        ifname: &str,
    ) -> Result<(), HarnessError> {
        let _ = (host, netns, ifname);
        Err(HarnessError::Unsupported("a fabric on the uplink".into()))
    }

    /// How many writes `dp` has made to the dataplane so far (flow-mods,
    /// map updates, API calls), if the backend counts them: the suite
    /// checks that repeated operations and in-sync resyncs write nothing.
    async fn writes(&self, host: &Self::Host, dp: &Self::Dp) -> Option<u64> {
        let _ = (host, dp);
        None
    }

    /// Connects network namespace `outside` (a [`Container`](fixture::Container)
    /// the suite made: "the outside world") to `host` with a link the host
    /// routes to — the host's side gets [`OUTSIDE_HOST_ADDR`]/24, the
    /// outside's [`OUTSIDE_ADDR`]/24 (on their own: no route back into the
    /// cluster). Needed by backends claiming [`Capability::EgressNat`] or
    /// [`Capability::PublishedPorts`] and forwarding.
    async fn join_outside(
        &self,
        host: &mut Self::Host,
        outside: &fixture::Container,
    ) -> Result<(), HarnessError> {
        let _ = (host, outside);
        Err(HarnessError::Unsupported("an outside network".into()))
    }

    /// The real dataplane's verdict on `probe` (true: forwarded
    /// somewhere; false: dropped), e.g. OVS `ofproto/trace`, eBPF
    /// `BPF_PROG_TEST_RUN` — it must exercise the installed dataplane, not
    /// a model of it. `None`: no probe. A forwarding backend claiming
    /// [`Capability::StatefulPolicy`] must supply one (the oracle
    /// differential needs it).
    async fn probe(
        &self,
        host: &Self::Host,
        dp: &Self::Dp,
        probe: &Probe,
    ) -> Result<Option<bool>, HarnessError> {
        let _ = (host, dp, probe);
        Ok(None)
    }
}

/// The host's address on the link to the outside namespace
/// ([`Harness::join_outside`]).
pub const OUTSIDE_HOST_ADDR: &str = "198.51.100.1";
/// The outside namespace's address.
pub const OUTSIDE_ADDR: &str = "198.51.100.2";

/// What a scenario did.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Outcome {
    /// It ran and passed (a failure panics, like any test).
    Passed,
    /// The backend does not claim these capabilities; nothing ran.
    Exempt(Vec<Capability>),
}

/// Every scenario with the capabilities it needs, in the order
/// [`conformance_suite!`] lists them.
pub const SCENARIOS: &[(&str, &[Capability])] = &[
    ("resync_changes_nothing_when_in_sync", &[]),
    ("stale_state_removed_after_restart", &[]),
    ("refused_operations_change_nothing", &[]),
    ("ping_on_one_network", &[Capability::ForwardsPackets]),
    (
        "overlapping_tenants_isolated",
        &[Capability::ForwardsPackets],
    ),
    (
        "tutorial_policy",
        &[Capability::ForwardsPackets, Capability::StatefulPolicy],
    ),
    (
        "stateful_replies_pass",
        &[Capability::ForwardsPackets, Capability::StatefulPolicy],
    ),
    (
        "icmp_policy",
        &[Capability::ForwardsPackets, Capability::StatefulPolicy],
    ),
    (
        "ipv6_forwarding_and_policy",
        &[
            Capability::ForwardsPackets,
            Capability::Ipv6,
            Capability::StatefulPolicy,
        ],
    ),
    (
        "arp_proxy",
        &[
            Capability::ForwardsPackets,
            Capability::ProxyArp,
            Capability::Vxlan,
        ],
    ),
    (
        "arp_flood",
        &[
            Capability::ForwardsPackets,
            Capability::FloodArp,
            Capability::Vxlan,
        ],
    ),
    (
        "two_host_vxlan",
        &[Capability::ForwardsPackets, Capability::Vxlan],
    ),
    (
        "vlan_over_trunk",
        &[Capability::ForwardsPackets, Capability::Vlan],
    ),
    (
        "gateway_answers_arp_and_ping",
        &[Capability::ForwardsPackets, Capability::Gateway],
    ),
    (
        "gateway6_answers_nd_and_ping",
        &[
            Capability::ForwardsPackets,
            Capability::Ipv6,
            Capability::Gateway6,
        ],
    ),
    (
        "routing_within_tenant",
        &[Capability::ForwardsPackets, Capability::Routing],
    ),
    (
        "routing_two_hosts",
        &[
            Capability::ForwardsPackets,
            Capability::Routing,
            Capability::Vxlan,
        ],
    ),
    (
        "fabric_routes_without_nat",
        &[
            Capability::ForwardsPackets,
            Capability::Routing,
            Capability::RoutedUplink,
        ],
    ),
    (
        "oracle_differential",
        &[
            Capability::ForwardsPackets,
            Capability::StatefulPolicy,
            Capability::Vxlan,
        ],
    ),
    (
        "services_follow_endpoints",
        &[Capability::Services, Capability::PublishedPorts],
    ),
    (
        "service_load_balancing",
        &[
            Capability::ForwardsPackets,
            Capability::Services,
            Capability::StatefulPolicy,
        ],
    ),
    (
        "udp_fragments_meet_port_rules",
        &[Capability::ForwardsPackets, Capability::StatefulPolicy],
    ),
    (
        "service_udp_fragments",
        &[
            Capability::ForwardsPackets,
            Capability::Services,
            Capability::ServiceFragments,
            Capability::StatefulPolicy,
        ],
    ),
    (
        "egress_nat_to_outside",
        &[Capability::ForwardsPackets, Capability::EgressNat],
    ),
    (
        "egress_nat_overlapping_tenants",
        &[
            Capability::ForwardsPackets,
            Capability::EgressNat,
            Capability::EgressNatOverlapping,
        ],
    ),
    (
        "published_port_from_outside",
        &[Capability::ForwardsPackets, Capability::PublishedPorts],
    ),
    (
        "bandwidth_within_profile",
        &[Capability::ForwardsPackets, Capability::QosBandwidth],
    ),
    (
        "dscp_on_the_wire",
        &[Capability::ForwardsPackets, Capability::QosDscp],
    ),
];

/// The capabilities scenario `name` needs.
pub fn needs(name: &str) -> &'static [Capability] {
    SCENARIOS
        .iter()
        .find(|(n, _)| *n == name)
        .map(|(_, c)| *c)
        .unwrap_or(&[])
}

/// Checks the harness against its datapath and decides whether scenario
/// `name` runs: `Err(outcome)` when the backend is exempt (printed).
pub(crate) fn gate<H: Harness>(h: &H, name: &str) -> Result<Capabilities, Outcome> {
    let caps = h.capabilities();
    let missing = caps.missing(needs(name));
    if missing.is_empty() {
        return Ok(caps);
    }
    let shown: Vec<&str> = missing.iter().map(|c| c.name()).collect();
    println!(
        "conformance: exempt: {name} (the backend does not claim {})",
        shown.join(", ")
    );
    Err(Outcome::Exempt(missing))
}

/// Starts a datapath and checks it claims what the harness says.
pub(crate) async fn start<H: Harness>(h: &H, host: &mut H::Host) -> H::Dp {
    let dp = h
        .start(host)
        .await
        .unwrap_or_else(|e| panic!("start the datapath: {e}"));
    assert_eq!(
        dp.capabilities(),
        h.capabilities(),
        "the harness must declare exactly the datapath's capabilities"
    );
    dp
}

/// Makes a host or fails the scenario.
pub(crate) async fn host<H: Harness>(h: &H) -> H::Host {
    h.host()
        .await
        .unwrap_or_else(|e| panic!("make a host: {e}"))
}

/// Runs a scenario future on a fresh 2-worker runtime and prints its
/// outcome (what [`conformance_suite!`]'s tests call).
pub fn block_on<F: std::future::Future<Output = Outcome>>(name: &str, f: F) {
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .unwrap_or_else(|e| panic!("cannot build a tokio runtime: {e}"));
    match rt.block_on(f) {
        Outcome::Passed => println!("conformance: passed: {name}"),
        Outcome::Exempt(_) => {}
    }
}

/// Generates one `#[test]` per conformance scenario for a harness: call it
/// once at the top level of a backend's test file with an expression that
/// makes the [`Harness`] (evaluated once per test).
///
/// ```text
/// contiv_policy::conformance_suite!(OvsHarness::default());
/// ```
#[macro_export]
macro_rules! conformance_suite {
    ($make:expr) => {
        $crate::conformance_suite!(@each $make;
            resync_changes_nothing_when_in_sync,
            stale_state_removed_after_restart,
            refused_operations_change_nothing,
            ping_on_one_network,
            overlapping_tenants_isolated,
            tutorial_policy,
            stateful_replies_pass,
            icmp_policy,
            udp_fragments_meet_port_rules,
            ipv6_forwarding_and_policy,
            arp_proxy,
            arp_flood,
            two_host_vxlan,
            vlan_over_trunk,
            gateway_answers_arp_and_ping,
            gateway6_answers_nd_and_ping,
            routing_within_tenant,
            routing_two_hosts,
            fabric_routes_without_nat,
            oracle_differential,
            services_follow_endpoints,
            service_load_balancing,
            service_udp_fragments,
            egress_nat_to_outside,
            egress_nat_overlapping_tenants,
            published_port_from_outside,
            bandwidth_within_profile,
            dscp_on_the_wire
        );
    };
    (@each $make:expr; $($name:ident),* $(,)?) => {
        $(
            #[test]
            fn $name() {
                let harness = $make;
                $crate::conformance::block_on(
                    stringify!($name),
                    $crate::conformance::$name(&harness),
                );
            }
        )*
    };
}

pub use crate::conformance_suite;
