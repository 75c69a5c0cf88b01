//! `tenant`: the top-level isolation domain (a VRF).

use super::{EndpointGroupOper, EndpointOper, NetworkOper, PolicyOper, ServiceLBOper};
use super::{ModelObject, ValidationError, is_default};
use serde::{Deserialize, Serialize};

/// A tenant. Key: `tenantName`.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
pub struct Tenant {
    /// Object key (`tenantName`).
    #[serde(default, skip_serializing_if = "is_default")]
    pub key: String,
    /// Stored but unused by the original.
    #[serde(rename = "defaultNetwork", default, skip_serializing_if = "is_default")]
    pub default_network: String,
    /// Tenant name.
    #[serde(rename = "tenantName", default, skip_serializing_if = "is_default")]
    pub tenant_name: String,
}

/// Oper view of a tenant (`/api/v1/inspect/tenants/{key}/`).
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
pub struct TenantOper {
    /// EPGs of the tenant.
    #[serde(rename = "endpointGroups", default, skip_serializing_if = "is_default")]
    pub endpoint_groups: Vec<EndpointGroupOper>,
    /// Endpoints of the tenant.
    #[serde(default, skip_serializing_if = "is_default")]
    pub endpoints: Vec<EndpointOper>,
    /// Networks of the tenant.
    #[serde(default, skip_serializing_if = "is_default")]
    pub networks: Vec<NetworkOper>,
    /// Policies of the tenant.
    #[serde(default, skip_serializing_if = "is_default")]
    pub policies: Vec<PolicyOper>,
    /// Service LBs of the tenant.
    #[serde(default, skip_serializing_if = "is_default")]
    pub servicelbs: Vec<ServiceLBOper>,
    /// Number of app profiles.
    #[serde(
        rename = "totalAppProfiles",
        default,
        skip_serializing_if = "is_default"
    )]
    pub total_app_profiles: i64,
    /// Number of EPGs.
    #[serde(rename = "totalEPGs", default, skip_serializing_if = "is_default")]
    pub total_epgs: i64,
    /// Number of endpoints.
    #[serde(rename = "totalEndpoints", default, skip_serializing_if = "is_default")]
    pub total_endpoints: i64,
    /// Number of netprofiles.
    #[serde(
        rename = "totalNetprofiles",
        default,
        skip_serializing_if = "is_default"
    )]
    pub total_netprofiles: i64,
    /// Number of networks.
    #[serde(rename = "totalNetworks", default, skip_serializing_if = "is_default")]
    pub total_networks: i64,
    /// Number of policies.
    #[serde(rename = "totalPolicies", default, skip_serializing_if = "is_default")]
    pub total_policies: i64,
    /// Number of service LBs.
    #[serde(
        rename = "totalServicelbs",
        default,
        skip_serializing_if = "is_default"
    )]
    pub total_servicelbs: i64,
}

impl ModelObject for Tenant {
    const TYPE: &'static str = "tenant";
    const COLLECTION: &'static str = "tenants";
    fn derived_key(&self) -> String {
        self.tenant_name.clone()
    }
    fn key(&self) -> &str {
        &self.key
    }
    fn set_key(&mut self, key: String) {
        self.key = key;
    }
    fn validate(&self) -> Result<(), ValidationError> {
        super::validate::tenancy::validate_tenant(self)
    }
}
