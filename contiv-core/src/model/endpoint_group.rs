//! `endpointGroup`: a policy domain of containers within a network.

use super::EndpointOper;
use super::{ModelObject, ValidationError, is_default};
use serde::{Deserialize, Serialize};
use std::net::Ipv4Addr;

/// An endpoint group. Key: `tenantName:groupName`.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
pub struct EndpointGroup {
    /// Object key (the key fields joined with `:`).
    #[serde(default, skip_serializing_if = "is_default")]
    pub key: String,
    /// Configured group tag.
    #[serde(rename = "cfgdTag", default, skip_serializing_if = "is_default")]
    pub cfgd_tag: String,
    /// External contract groups (ACI).
    #[serde(
        rename = "extContractsGrps",
        default,
        skip_serializing_if = "is_default"
    )]
    pub ext_contracts_grps: Vec<String>,
    /// Group name.
    #[serde(rename = "groupName", default, skip_serializing_if = "is_default")]
    pub group_name: String,
    /// IPv4 pool `A.B.C.D-E.F.G.H` carved out of the network.
    #[serde(rename = "ipPool", default, skip_serializing_if = "is_default")]
    pub ip_pool: String,
    /// Network profile name.
    #[serde(rename = "netProfile", default, skip_serializing_if = "is_default")]
    pub net_profile: String,
    /// Network name.
    #[serde(rename = "networkName", default, skip_serializing_if = "is_default")]
    pub network_name: String,
    /// Attached policy names.
    #[serde(default, skip_serializing_if = "is_default")]
    pub policies: Vec<String>,
    /// Tenant name.
    #[serde(rename = "tenantName", default, skip_serializing_if = "is_default")]
    pub tenant_name: String,
}

/// Oper view of an endpoint group.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
pub struct EndpointGroupOper {
    /// Allocated pool addresses.
    #[serde(
        rename = "allocatedIPAddresses",
        default,
        skip_serializing_if = "is_default"
    )]
    pub allocated_ip_addresses: String,
    /// Free pool addresses.
    #[serde(
        rename = "availableIPAddresses",
        default,
        skip_serializing_if = "is_default"
    )]
    pub available_ip_addresses: String,
    /// Endpoints in the group.
    #[serde(default, skip_serializing_if = "is_default")]
    pub endpoints: Vec<EndpointOper>,
    /// External packet tag.
    #[serde(rename = "externalPktTag", default, skip_serializing_if = "is_default")]
    pub external_pkt_tag: i64,
    /// `cfgdTag`, else `<group>.<tenant>`.
    #[serde(rename = "groupTag", default, skip_serializing_if = "is_default")]
    pub group_tag: String,
    /// Number of endpoints.
    #[serde(rename = "numEndpoints", default, skip_serializing_if = "is_default")]
    pub num_endpoints: i64,
    /// Internal packet tag.
    #[serde(rename = "pktTag", default, skip_serializing_if = "is_default")]
    pub pkt_tag: i64,
}

impl ModelObject for EndpointGroup {
    const TYPE: &'static str = "endpointGroup";
    const COLLECTION: &'static str = "endpointGroups";
    fn derived_key(&self) -> String {
        format!("{}:{}", self.tenant_name, self.group_name)
    }
    fn key(&self) -> &str {
        &self.key
    }
    fn set_key(&mut self, key: String) {
        self.key = key;
    }
    fn validate(&self) -> Result<(), ValidationError> {
        super::validate::endpoint_group::validate(self)
    }
}

impl EndpointGroup {
    /// The IP pool (`ipPool`) as an inclusive `(first, last)` range, `None`
    /// if the group has no pool. A single address `A.B.C.D` is the range
    /// `(A.B.C.D, A.B.C.D)`.
    pub fn ip_pool_range(&self) -> Result<Option<(Ipv4Addr, Ipv4Addr)>, ValidationError> {
        super::validate::endpoint_group::ip_pool(self)
    }
}
