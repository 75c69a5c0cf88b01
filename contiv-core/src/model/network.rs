//! `network`: an L2/L3 network of a tenant, with its subnet and encap.

use super::EndpointOper;
use super::{AddressPlan, ModelObject, SubnetRange, ValidationError, is_default};
use crate::datapath::Encap;
use ipnet::Ipv6Net;
use serde::{Deserialize, Serialize};
use std::net::{Ipv4Addr, Ipv6Addr};

/// A network. Key: `tenantName:networkName`.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
pub struct Network {
    /// Object key (the key fields joined with `:`).
    #[serde(default, skip_serializing_if = "is_default")]
    pub key: String,
    /// Configured network tag (maps Docker swarm networks).
    #[serde(rename = "cfgdTag", default, skip_serializing_if = "is_default")]
    pub cfgd_tag: String,
    /// `vlan` or `vxlan` (required).
    #[serde(default, skip_serializing_if = "is_default")]
    pub encap: String,
    /// IPv4 gateway (optional; must lie in the subnet).
    #[serde(default, skip_serializing_if = "is_default")]
    pub gateway: String,
    /// IPv6 gateway (optional).
    #[serde(rename = "ipv6Gateway", default, skip_serializing_if = "is_default")]
    pub ipv6_gateway: String,
    /// IPv6 subnet `addr/len` (optional).
    #[serde(rename = "ipv6Subnet", default, skip_serializing_if = "is_default")]
    pub ipv6_subnet: String,
    /// Network name.
    #[serde(rename = "networkName", default, skip_serializing_if = "is_default")]
    pub network_name: String,
    /// `infra` or `data` (default `data`).
    #[serde(rename = "nwType", default, skip_serializing_if = "is_default")]
    pub nw_type: String,
    /// Requested VLAN id / VNI (0 = allocate).
    #[serde(rename = "pktTag", default, skip_serializing_if = "is_default")]
    pub pkt_tag: i64,
    /// IPv4 subnet `A.B.C.D[-E.F.G.H]/len` (required).
    #[serde(default, skip_serializing_if = "is_default")]
    pub subnet: String,
    /// Tenant name.
    #[serde(rename = "tenantName", default, skip_serializing_if = "is_default")]
    pub tenant_name: String,
}

/// Oper view of a network.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
pub struct NetworkOper {
    /// Number of allocated addresses.
    #[serde(
        rename = "allocatedAddressesCount",
        default,
        skip_serializing_if = "is_default"
    )]
    pub allocated_addresses_count: i64,
    /// Allocated addresses, e.g. `10.1.1.1-10.1.1.3, 10.1.1.254`.
    #[serde(
        rename = "allocatedIPAddresses",
        default,
        skip_serializing_if = "is_default"
    )]
    pub allocated_ip_addresses: String,
    /// Free addresses in the same format.
    #[serde(
        rename = "availableIPAddresses",
        default,
        skip_serializing_if = "is_default"
    )]
    pub available_ip_addresses: String,
    /// Endpoints on the network.
    #[serde(default, skip_serializing_if = "is_default")]
    pub endpoints: Vec<EndpointOper>,
    /// VNI (vxlan) or VLAN (vlan).
    #[serde(rename = "externalPktTag", default, skip_serializing_if = "is_default")]
    pub external_pkt_tag: i64,
    /// `cfgdTag`, else `<net>.<tenant>`.
    #[serde(rename = "networkTag", default, skip_serializing_if = "is_default")]
    pub network_tag: String,
    /// Number of endpoints.
    #[serde(rename = "numEndpoints", default, skip_serializing_if = "is_default")]
    pub num_endpoints: i64,
    /// Internal packet tag (local VLAN).
    #[serde(rename = "pktTag", default, skip_serializing_if = "is_default")]
    pub pkt_tag: i64,
}

impl ModelObject for Network {
    const TYPE: &'static str = "network";
    const COLLECTION: &'static str = "networks";
    fn derived_key(&self) -> String {
        format!("{}:{}", self.tenant_name, self.network_name)
    }
    fn key(&self) -> &str {
        &self.key
    }
    fn set_key(&mut self, key: String) {
        self.key = key;
    }
    fn apply_defaults(&mut self) {
        super::validate::network::defaults(self)
    }
    fn validate(&self) -> Result<(), ValidationError> {
        super::validate::network::validate(self)
    }
}

impl Network {
    /// The address plan (`subnet`, `gateway`, `ipv6Subnet`,
    /// `ipv6Gateway`), parsed and checked once; see [`AddressPlan`].
    pub fn address_plan(&self) -> Result<AddressPlan, ValidationError> {
        Ok(AddressPlan {
            v4: self.ipv4_subnet()?,
            gateway: self.ipv4_gateway()?,
            v6: self.ipv6_subnet()?,
            gateway6: self.ipv6_gateway()?,
        })
    }

    /// The IPv4 subnet and its allocatable window (`subnet`), normalised to
    /// the network address. Fails as [`ModelObject::validate`] would on this
    /// field.
    pub fn ipv4_subnet(&self) -> Result<SubnetRange, ValidationError> {
        super::validate::network::subnet(self)
    }

    /// The IPv4 gateway (`gateway`), `None` if the network has none. It is
    /// inside the subnet and neither its network nor broadcast address.
    pub fn ipv4_gateway(&self) -> Result<Option<Ipv4Addr>, ValidationError> {
        super::validate::network::gateway(self)
    }

    /// The IPv6 subnet (`ipv6Subnet`), normalised to the network address,
    /// `None` if the network has none.
    pub fn ipv6_subnet(&self) -> Result<Option<Ipv6Net>, ValidationError> {
        super::validate::network::ipv6_subnet(self)
    }

    /// The IPv6 gateway (`ipv6Gateway`), inside the IPv6 subnet, `None` if
    /// the network has none.
    pub fn ipv6_gateway(&self) -> Result<Option<Ipv6Addr>, ValidationError> {
        super::validate::network::ipv6_gateway(self)
    }

    /// The encapsulation (`encap`).
    pub fn encap_kind(&self) -> Result<Encap, ValidationError> {
        super::validate::network::encap(self)
    }
}
