//! Bodies of the agent's local API (the unix socket `contiv-cni` and
//! `netctl` talk to): `POST /cni/add`, `POST /cni/del`, `POST /cni/check`,
//! `GET /status`, `GET /counters`, `GET /debug/desired`. Errors come back
//! as [`ErrorBody`] with a non-2xx status.

use contiv_core::datapath::MacAddr;
use ipnet::{IpNet, Ipv4Net, Ipv6Net};
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};
use std::path::PathBuf;

/// Label under which a CNI endpoint records the name of its CNI network
/// (the netconf's `name`), so GC can find the network's endpoints.
pub const LABEL_NETWORK: &str = "contiv.io/cni-network";
/// Label under which a CNI endpoint records its `CNI_IFNAME` (for GC).
pub const LABEL_IFNAME: &str = "contiv.io/cni-ifname";

/// What kind of failure an agent operation (or a call of the local API)
/// ended in; [`ErrorBody::kind`].
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum AgentErrorKind {
    /// The request is malformed (bad names, missing fields).
    Invalid,
    /// Something the request names does not exist (network, group,
    /// endpoint).
    NotFound,
    /// The request conflicts with existing state (endpoint exists with
    /// other parameters, address taken).
    Conflict,
    /// A transient condition: netmaster unreachable or without leader, the
    /// agent not yet synced, a timeout. Retrying later may succeed.
    Unavailable,
    /// The datapath refused or failed the operation.
    Datapath,
    /// CHECK: the container's interface, addresses or routes are not as
    /// ADD left them.
    Misconfigured,
    /// A failure injected on purpose by the fault-injection hook (tests).
    Injected,
    /// A bug or an unexpected failure.
    Internal,
}

impl AgentErrorKind {
    /// HTTP status used on the local API.
    pub fn status(self) -> u16 {
        match self {
            AgentErrorKind::Invalid => 400,
            AgentErrorKind::NotFound => 404,
            AgentErrorKind::Conflict | AgentErrorKind::Misconfigured => 409,
            AgentErrorKind::Unavailable | AgentErrorKind::Injected => 503,
            AgentErrorKind::Datapath | AgentErrorKind::Internal => 500,
        }
    }
}

/// `POST /cni/add`: attach a container interface.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct CniAddRequest {
    /// `CNI_CONTAINERID`.
    pub container_id: String,
    /// `CNI_IFNAME`.
    pub ifname: String,
    /// `CNI_NETNS`.
    pub netns: PathBuf,
    /// Tenant (default `default`).
    #[serde(default)]
    pub tenant: String,
    /// Network name (may be empty if `group` is given).
    #[serde(default)]
    pub network: String,
    /// Endpoint group, or empty.
    #[serde(default)]
    pub group: String,
    /// Pod (or container) name, for DNS.
    #[serde(default)]
    pub pod_name: String,
    /// Pod namespace.
    #[serde(default)]
    pub pod_namespace: String,
    /// Labels recorded on the endpoint.
    #[serde(default)]
    pub labels: BTreeMap<String, String>,
    /// A requested IPv4 address.
    #[serde(default)]
    pub ipv4: Option<Ipv4Addr>,
    /// Container MTU (default: the agent's).
    #[serde(default)]
    pub mtu: Option<u32>,
}

/// The interface an ADD created (also the answer to CHECK).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct CniAddResponse {
    /// Endpoint id (`<container-id>-<ifname>`).
    pub endpoint_id: String,
    /// Network key `tenant:network`.
    pub network_key: String,
    /// Endpoint group, or empty.
    pub group: String,
    /// Host-side interface name.
    pub host_ifname: String,
    /// Interface name in the container.
    pub ifname: String,
    /// Network namespace path.
    pub netns: PathBuf,
    /// MAC of the container interface.
    pub mac: String,
    /// MTU of the container interface.
    pub mtu: u32,
    /// IPv4 address with prefix.
    pub ipv4: Option<Ipv4Net>,
    /// IPv4 gateway (default route), if the network has one.
    pub gateway: Option<Ipv4Addr>,
    /// IPv6 address with prefix.
    pub ipv6: Option<Ipv6Net>,
    /// IPv6 gateway.
    pub gateway6: Option<Ipv6Addr>,
    /// The built-in DNS server the container can use (reached over a link
    /// route the agent added), if the agent serves DNS on its network.
    #[serde(default)]
    pub dns: Option<Ipv4Addr>,
}

/// `POST /cni/del`: detach (idempotent).
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct CniDelRequest {
    /// `CNI_CONTAINERID`.
    pub container_id: String,
    /// `CNI_IFNAME`.
    pub ifname: String,
    /// Tenant, if known (used when the agent has no record).
    #[serde(default)]
    pub tenant: String,
    /// Network, if known.
    #[serde(default)]
    pub network: String,
}

/// `POST /cni/check`: is the interface as ADD left it? The agent compares
/// the previous result with its record, then reads the container's
/// namespace (netplugin's `ifcheck`).
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct CniCheckRequest {
    /// `CNI_CONTAINERID`.
    pub container_id: String,
    /// `CNI_IFNAME`.
    pub ifname: String,
    /// `CNI_NETNS`: the namespace to inspect (empty: the one ADD plumbed).
    #[serde(default)]
    pub netns: PathBuf,
    /// What `prevResult` lists for the interface; `None` when the runtime
    /// sent no `prevResult` (then the record alone says what to expect).
    #[serde(default)]
    pub prev: Option<ListedInterface>,
}

/// What a CNI result lists for one container interface.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct ListedInterface {
    /// Its MAC, if listed.
    #[serde(default)]
    pub mac: Option<MacAddr>,
    /// Its MTU, if listed (results of 1.1.0 and later).
    #[serde(default)]
    pub mtu: Option<u32>,
    /// The addresses whose `interface` index names it.
    #[serde(default)]
    pub addresses: Vec<IpNet>,
    /// Every route of the result (a CNI result does not say which
    /// interface a route uses).
    #[serde(default)]
    pub routes: Vec<Route>,
}

/// A route of a CNI result, and of a container's routing table: a
/// destination, and a next hop unless it is a link (on-link) route.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct Route {
    /// Destination.
    pub dst: IpNet,
    /// Next hop; `None` for a link route.
    #[serde(default)]
    pub gw: Option<IpAddr>,
}

impl std::fmt::Display for Route {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self.gw {
            Some(g) => write!(f, "{} via {g}", self.dst),
            None => write!(f, "{} (link)", self.dst),
        }
    }
}

impl CniAddResponse {
    /// The container's addresses, IPv4 first.
    pub fn addresses(&self) -> Vec<IpNet> {
        let v4 = self.ipv4.map(IpNet::V4);
        let v6 = self.ipv6.map(IpNet::V6);
        v4.into_iter().chain(v6).collect()
    }

    /// The routes ADD puts into the container, in result order: the IPv4
    /// default route via the gateway, the link route to the built-in DNS,
    /// the IPv6 default route.
    pub fn routes(&self) -> Vec<Route> {
        let mut out = Vec::new();
        if let (Some(_), Some(g)) = (self.ipv4, self.gateway) {
            out.push(Route {
                dst: IpNet::V4(Ipv4Net::default()),
                gw: Some(IpAddr::V4(g)),
            });
        }
        if let Some(d) = self.dns {
            out.push(Route {
                dst: IpNet::V4(Ipv4Net::from(d)),
                gw: None,
            });
        }
        if let (Some(_), Some(g)) = (self.ipv6, self.gateway6) {
            out.push(Route {
                dst: IpNet::V6(Ipv6Net::default()),
                gw: Some(IpAddr::V6(g)),
            });
        }
        out
    }
}

/// `GET /status`.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct AgentStatus {
    /// Ready to serve ADD: registered with netmaster and synced.
    pub ready: bool,
    /// The node registration is current.
    pub registered: bool,
    /// netmaster's state has been received and the stream is connected.
    pub synced: bool,
    /// This host.
    pub host: String,
    /// Its VTEP.
    pub vtep: IpAddr,
    /// Datapath name.
    pub datapath: String,
    /// Last store revision seen.
    pub revision: u64,
    /// Resyncs done.
    pub resyncs: u64,
    /// The netmaster in use.
    pub netmaster: String,
    /// Why the agent is not ready, if it is not.
    #[serde(default)]
    pub reason: String,
    /// What the datapath enforces (capability names).
    #[serde(default)]
    pub capabilities: contiv_core::datapath::Capabilities,
    /// Local endpoints whose netprofile the datapath does not enforce,
    /// with the capabilities it lacks.
    #[serde(default, skip_serializing_if = "std::collections::BTreeMap::is_empty")]
    pub not_enforced: std::collections::BTreeMap<String, Vec<contiv_core::datapath::Capability>>,
}

/// `GET /counters`: the datapath's packet counters (datapaths that count
/// packets; others answer 404).
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct DatapathCounters {
    /// The datapath.
    pub datapath: String,
    /// Per local endpoint.
    pub endpoints: Vec<EndpointCounters>,
    /// Per compiled rule: the new connections it decided.
    pub rules: Vec<RuleCounters>,
    /// Drops by reason.
    pub drops: Vec<DropCounter>,
}

pub use contiv_core::datapath::counters::{DropCounter, EndpointCounters, RuleCounters};

/// An error answer.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct ErrorBody {
    /// Failure class.
    pub kind: AgentErrorKind,
    /// Message.
    pub message: String,
}

/// `GET /debug/desired`: the host's desired state. JSON maps cannot carry
/// the policy IR's composite keys, so the policy travels as the delta that
/// builds it from nothing.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct DesiredDump {
    /// Everything but the policy (left empty).
    pub state: contiv_core::datapath::DesiredState,
    /// The policy as a delta from an empty IR.
    pub policy: contiv_core::ir::PolicyDelta,
}

impl DesiredDump {
    /// Splits a desired state.
    pub fn from_state(mut d: contiv_core::datapath::DesiredState) -> Self {
        let policy = contiv_core::ir::PolicyIr::default().diff(&d.policy);
        d.policy = contiv_core::ir::PolicyIr::default();
        DesiredDump { state: d, policy }
    }

    /// The desired state again.
    pub fn into_state(self) -> contiv_core::datapath::DesiredState {
        let mut d = self.state;
        d.policy.apply(&self.policy);
        d
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use contiv_core::datapath::DesiredState;

    #[test]
    fn a_desired_state_with_policy_survives_json() {
        let mut d = DesiredState::default();
        d.policy.members.insert((3, "10.1.2.7".parse().unwrap()), 9);
        // The IR itself cannot be JSON (composite map keys)...
        assert!(serde_json::to_string(&d).is_err());
        // ...the dump can, and gives it back.
        let j = serde_json::to_string(&DesiredDump::from_state(d.clone())).unwrap();
        let back: DesiredDump = serde_json::from_str(&j).unwrap();
        assert_eq!(back.into_state(), d);
    }
}
