//! `endpoint`: the oper-only endpoint view (`/api/v1/inspect/endpoints/{key}/`).

use super::is_default;
use serde::{Deserialize, Serialize};

/// Oper view of one endpoint.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
pub struct EndpointOper {
    /// Object key (the key fields joined with `:`).
    #[serde(default, skip_serializing_if = "is_default")]
    pub key: String,
    /// Container id.
    #[serde(rename = "containerID", default, skip_serializing_if = "is_default")]
    pub container_id: String,
    /// Container name.
    #[serde(rename = "containerName", default, skip_serializing_if = "is_default")]
    pub container_name: String,
    /// EPG id (0 = none).
    #[serde(
        rename = "endpointGroupId",
        default,
        skip_serializing_if = "is_default"
    )]
    pub endpoint_group_id: i64,
    /// EPG key (`group:tenant`, as the original).
    #[serde(
        rename = "endpointGroupKey",
        default,
        skip_serializing_if = "is_default"
    )]
    pub endpoint_group_key: String,
    /// Endpoint id.
    #[serde(rename = "endpointID", default, skip_serializing_if = "is_default")]
    pub endpoint_id: String,
    /// Host the endpoint lives on.
    #[serde(rename = "homingHost", default, skip_serializing_if = "is_default")]
    pub homing_host: String,
    /// Host-side interface name.
    #[serde(rename = "intfName", default, skip_serializing_if = "is_default")]
    pub intf_name: String,
    /// Addresses: IPv4 first, then IPv6 if any.
    #[serde(rename = "ipAddress", default, skip_serializing_if = "is_default")]
    pub ip_address: Vec<String>,
    /// Labels, formatted as the original (`map[k:v]`).
    #[serde(default, skip_serializing_if = "is_default")]
    pub labels: String,
    /// MAC address.
    #[serde(rename = "macAddress", default, skip_serializing_if = "is_default")]
    pub mac_address: String,
    /// Network id (`net.tenant`).
    #[serde(default, skip_serializing_if = "is_default")]
    pub network: String,
    /// EPG name.
    #[serde(rename = "serviceName", default, skip_serializing_if = "is_default")]
    pub service_name: String,
    /// What the endpoint's intent asks for that the datapath of its host
    /// does not enforce (capability names, e.g. `qos_bandwidth` for a
    /// netprofile bandwidth on a backend that cannot police). Not in the
    /// original; absent when everything is enforced.
    #[serde(rename = "notEnforced", default, skip_serializing_if = "is_default")]
    pub not_enforced: Vec<String>,
    /// `v` + port name.
    #[serde(rename = "virtualPort", default, skip_serializing_if = "is_default")]
    pub virtual_port: String,
    /// VTEP of the homing host.
    #[serde(rename = "vtepIP", default, skip_serializing_if = "is_default")]
    pub vtep_ip: String,
}

/// Body of `/api/v1/inspect/endpoints/{key}/`: `{"Oper": …}`.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
pub struct EndpointInspect {
    /// The endpoint.
    #[serde(rename = "Oper")]
    pub oper: EndpointOper,
}
