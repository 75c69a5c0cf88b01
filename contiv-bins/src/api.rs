//! The agent-facing API between netplugin and netmaster: request and
//! response bodies of `/api/v1/agent/*` and the lines of the watch stream
//! (`GET /api/v1/watch`). Shared by both sides so they cannot drift.

use contiv_core::datapath::{Encap, PublishedPort};
use contiv_core::ir::TenantId;
use contiv_core::records::EndpointRecord;
use ipnet::{Ipv4Net, Ipv6Net};
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;
use std::net::{Ipv4Addr, Ipv6Addr};

/// `POST /api/v1/agent/endpoints/`: create (or idempotently re-create) an
/// endpoint: allocates its addresses and MAC and writes its record in one
/// store transaction.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct EndpointRequest {
    /// Endpoint id, unique in the cluster (e.g. `<container-id>-<ifname>`).
    pub id: String,
    /// Tenant name (default `default`).
    #[serde(default)]
    pub tenant: String,
    /// Network name; may be empty if `group` is given (the group's network).
    #[serde(default)]
    pub network: String,
    /// Endpoint group name, or empty.
    #[serde(default)]
    pub group: String,
    /// The host the endpoint lives on.
    pub host: String,
    /// Host-side interface name.
    #[serde(default)]
    pub intf_name: String,
    /// Container id.
    #[serde(default)]
    pub container_id: String,
    /// Container/pod name (DNS).
    #[serde(default)]
    pub container_name: String,
    /// Labels (service selectors).
    #[serde(default)]
    pub labels: BTreeMap<String, String>,
    /// A requested (static) IPv4 address; refused if taken.
    #[serde(default)]
    pub ipv4: Option<Ipv4Addr>,
    /// A requested IPv6 address.
    #[serde(default)]
    pub ipv6: Option<Ipv6Addr>,
    /// Ports of `host` published to the endpoint (Docker `-p`), each
    /// naming this endpoint ([`PublishedPort::check_set`]).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub published: Vec<PublishedPort>,
}

/// What an agent needs to know about an endpoint's network.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct NetworkInfo {
    /// Network key `tenant:network`.
    pub key: String,
    /// Tenant name.
    pub tenant: String,
    /// The tenant's VRF id.
    pub tenant_id: TenantId,
    /// Encapsulation.
    pub encap: Encap,
    /// Internal packet tag (wire VLAN for vlan, local VLAN for vxlan).
    pub pkt_tag: u16,
    /// VNI (vxlan) or VLAN (vlan).
    pub ext_pkt_tag: u32,
    /// IPv4 subnet.
    pub subnet: Ipv4Net,
    /// IPv4 gateway.
    pub gateway: Option<Ipv4Addr>,
    /// IPv6 subnet.
    pub subnet6: Option<Ipv6Net>,
    /// IPv6 gateway.
    pub gateway6: Option<Ipv6Addr>,
}

/// Answer to an endpoint create.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct EndpointResponse {
    /// The endpoint as recorded.
    pub endpoint: EndpointRecord,
    /// Its network.
    pub network: NetworkInfo,
}

/// `POST /api/v1/agent/nodes/<host>/`: register or refresh a node.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct NodeRegistration {
    /// The node record to publish.
    pub node: contiv_core::records::NodeRecord,
}

/// Answer to a node registration.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct NodeLease {
    /// The lease TTL in milliseconds; heartbeat at least every third of it.
    pub ttl_ms: u64,
}

/// One line of the watch stream (newline-delimited JSON).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(tag = "type", rename_all = "lowercase")]
pub enum WatchLine {
    /// A key was created or changed. `key` is relative to the store root
    /// (`obj/network/default:net`, `oper/…`, `ep/…`, `node/…`).
    Put {
        /// Store revision of the change.
        rev: u64,
        /// Key relative to the root.
        key: String,
        /// The JSON value.
        value: serde_json::Value,
    },
    /// A key was deleted.
    Delete {
        /// Store revision of the change.
        rev: u64,
        /// Key relative to the root.
        key: String,
    },
    /// The initial snapshot is complete: everything up to `rev` was sent.
    Synced {
        /// Revision of the snapshot.
        rev: u64,
    },
    /// Keep-alive: nothing changed up to `rev`.
    Progress {
        /// Current revision.
        rev: u64,
    },
    /// The requested `from` revision is no longer available (the client
    /// fell too far behind): reconnect without `from` and rebuild state.
    Resync {
        /// Why.
        reason: String,
    },
    /// Every registered node in the compact form, sent in a snapshot
    /// (before `synced`) instead of one `put` per `node/<host>` key when
    /// the client asked for `compact=true`. Later node changes come as
    /// ordinary `put`/`delete` lines.
    Nodes {
        /// Revision of the snapshot.
        rev: u64,
        /// The nodes.
        nodes: Vec<NodeEntry>,
    },
}

/// A node as agents need it (what tunnels to it take), encoded as a JSON
/// array `["host", "vtep-ip", vxlan-port]`: a third of a full `put` line,
/// which matters when thousands of agents each take a snapshot holding
/// every node.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct NodeEntry(pub String, pub std::net::IpAddr, pub u16);

impl NodeEntry {
    /// The compact form of a node record.
    pub fn of(n: &contiv_core::records::NodeRecord) -> Self {
        NodeEntry(n.hostname.clone(), n.vtep_ip, n.vxlan_port)
    }

    /// The node record it stands for (the control address, version and
    /// capabilities, which agents do not use, are left empty).
    pub fn record(&self) -> contiv_core::records::NodeRecord {
        contiv_core::records::NodeRecord {
            hostname: self.0.clone(),
            vtep_ip: self.1,
            vxlan_port: self.2,
            ctrl_addr: String::new(),
            version: String::new(),
            capabilities: None,
        }
    }
}

/// `POST /api/v1/agent/reservations/`: reserve an IPv4 address for an
/// endpoint that does not exist yet (Docker's `IpamDriver.RequestAddress`
/// comes before `CreateEndpoint` and carries no endpoint id). The address
/// and the reservation record are committed in one transaction.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct ReservationRequest {
    /// Tenant name (default `default`).
    #[serde(default)]
    pub tenant: String,
    /// Network name.
    pub network: String,
    /// Endpoint group name, or empty (a group with an ip-pool allocates
    /// from its pool).
    #[serde(default)]
    pub group: String,
    /// The host the address is reserved for.
    pub host: String,
    /// The agent instance asking (a sweep by a later instance releases
    /// what an earlier one left).
    #[serde(default)]
    pub owner: String,
    /// A requested address; refused if taken.
    #[serde(default)]
    pub ipv4: Option<Ipv4Addr>,
}

/// An address reservation as netmaster records it under
/// `<root>state/reservation/<tenant:network>/<ipv4>`.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Reservation {
    /// Network key `tenant:network`.
    pub network_key: String,
    /// Tenant name.
    pub tenant: String,
    /// Network name.
    pub network: String,
    /// Group name the address was reserved for, or empty.
    #[serde(default)]
    pub group: String,
    /// The group key whose ip-pool holds the address, if it came from a
    /// group pool (else the network's pool holds it).
    #[serde(default)]
    pub pool_group: Option<String>,
    /// Host the address is reserved for.
    pub host: String,
    /// Agent instance that made (or last held) the reservation.
    #[serde(default)]
    pub owner: String,
    /// The address.
    pub ipv4: Ipv4Addr,
    /// Prefix length of the network.
    pub ipv4_prefix: u8,
}

/// `POST /api/v1/agent/reservations/demote/`: turn an endpoint back into a
/// reservation of its address in one transaction (Docker's
/// `DeleteEndpoint`: the address stays allocated until Docker's
/// `ReleaseAddress`, exactly as long as Docker believes it is in use).
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct DemoteRequest {
    /// Network key `tenant:network`.
    pub network_key: String,
    /// Endpoint id.
    pub id: String,
    /// Agent instance that will own the reservation.
    #[serde(default)]
    pub owner: String,
}

/// `POST /api/v1/agent/reservations/sweep/`: release the reservations of
/// `host` made by agent instances other than `keep_owner` (an agent does
/// this when it starts: requests of its predecessor will never complete).
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct SweepRequest {
    /// The host whose reservations are swept.
    pub host: String,
    /// The instance whose reservations are kept.
    #[serde(default)]
    pub keep_owner: String,
}

/// What a release, demote or sweep let go of.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Released {
    /// A reservation (its address is free again, or now a reservation for
    /// a demote).
    Reservation,
    /// An endpoint (deleted, its addresses free; or demoted).
    Endpoint,
    /// Nothing held the address (idempotent repeat).
    None,
}

/// Answer of a release, demote or sweep.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct ReleaseResponse {
    /// What was let go of (for a sweep: `reservation` if any).
    pub released: Released,
    /// How many records were let go of.
    #[serde(default)]
    pub count: usize,
}
