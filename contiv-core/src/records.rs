//! Runtime records netmaster persists next to the model objects, and that
//! agents receive through netmaster's watch stream.
//!
//! Model objects (`obj/<type>/<key>`) hold the intent exactly as users
//! posted it. These records hold what netmaster derived from it — allocated
//! tags and ids, endpoint addresses, node registrations — under the key
//! layout of [`crate::store::keys`]:
//!
//! | record | key |
//! |---|---|
//! | [`TenantState`] | `<root>oper/tenant/<tenant>` |
//! | [`NetworkState`] | `<root>oper/network/<tenant:network>` |
//! | [`EpgState`] | `<root>oper/endpointGroup/<tenant:group>` |
//! | [`ServiceState`] | `<root>oper/serviceLB/<tenant:service>` |
//! | [`EndpointRecord`] | `<root>ep/<tenant:network>/<endpoint-id>` |
//! | [`NodeRecord`] | `<root>node/<hostname>` (bound to the node's lease) |

use crate::datapath::{Encap, MacAddr, PublishedPort};
use crate::ir::{EpgId, TenantId};
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};

/// What netmaster allocated for a tenant.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct TenantState {
    /// Tenant name.
    pub name: String,
    /// Cluster-wide VRF id.
    pub tenant_id: TenantId,
}

/// What netmaster allocated for a network.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct NetworkState {
    /// Network key `tenant:network`.
    pub key: String,
    /// The tenant's VRF id.
    pub tenant_id: TenantId,
    /// Encapsulation.
    pub encap: Encap,
    /// Internal packet tag: the VLAN on the wire (vlan) or the host-local
    /// VLAN inside the switch (vxlan) — the original's `pktTag`.
    pub pkt_tag: u16,
    /// The VNI (vxlan) or the VLAN (vlan) — the original's `extPktTag`.
    pub ext_pkt_tag: u32,
}

/// What netmaster allocated for an endpoint group.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct EpgState {
    /// Group key `tenant:group`.
    pub key: String,
    /// Cluster-wide EPG id.
    pub epg_id: EpgId,
}

/// What netmaster allocated for a service (serviceLB).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct ServiceState {
    /// Service key `tenant:service`.
    pub key: String,
    /// The virtual IP, allocated from the service's network.
    pub vip: Ipv4Addr,
}

/// An endpoint (a container interface) as netmaster records it.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct EndpointRecord {
    /// Endpoint id (cluster-wide unique; e.g. the CNI container id +
    /// interface, or Docker's endpoint id).
    pub id: String,
    /// Tenant name.
    pub tenant: String,
    /// Network name (within the tenant).
    pub network: String,
    /// EPG name, empty if none.
    #[serde(default)]
    pub group: String,
    /// EPG id ([`crate::ir::NO_EPG`] if none).
    #[serde(default)]
    pub epg_id: EpgId,
    /// IPv4 address.
    pub ipv4: Option<Ipv4Addr>,
    /// IPv4 prefix length of the network.
    #[serde(default)]
    pub ipv4_prefix: u8,
    /// IPv6 address.
    #[serde(default)]
    pub ipv6: Option<Ipv6Addr>,
    /// IPv6 prefix length.
    #[serde(default)]
    pub ipv6_prefix: u8,
    /// MAC address.
    pub mac: MacAddr,
    /// Host (node name) the endpoint lives on.
    pub host: String,
    /// Host-side interface name.
    #[serde(default)]
    pub intf_name: String,
    /// Container id.
    #[serde(default)]
    pub container_id: String,
    /// Container (or pod) name, used by DNS.
    #[serde(default)]
    pub container_name: String,
    /// Labels.
    #[serde(default)]
    pub labels: BTreeMap<String, String>,
    /// Ports of the endpoint's host published to it (Docker `-p`), each
    /// naming this endpoint, checked with [`PublishedPort::check_set`]; the
    /// host's agent realises them while the endpoint exists.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub published: Vec<PublishedPort>,
}

impl EndpointRecord {
    /// The network key `tenant:network`.
    pub fn network_key(&self) -> String {
        format!("{}:{}", self.tenant, self.network)
    }
    /// The EPG key `tenant:group`, if the endpoint is in a group.
    pub fn group_key(&self) -> Option<String> {
        (!self.group.is_empty()).then(|| format!("{}:{}", self.tenant, self.group))
    }
}

/// A registered host agent.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct NodeRecord {
    /// Host name (the agent's host label).
    pub hostname: String,
    /// The VTEP (underlay) address other hosts tunnel to.
    pub vtep_ip: IpAddr,
    /// VXLAN UDP port.
    #[serde(default = "default_vxlan_port")]
    pub vxlan_port: u16,
    /// Address of the agent's control/debug API, if it serves one.
    #[serde(default)]
    pub ctrl_addr: String,
    /// Agent version.
    #[serde(default)]
    pub version: String,
    /// What the host's datapath enforces (absent from agents that do not
    /// say: nothing is then reported as not enforced).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub capabilities: Option<crate::datapath::Capabilities>,
}

fn default_vxlan_port() -> u16 {
    4789
}
