//! `appProfile`: a named set of EPGs (ACI application profile).

use super::{ModelObject, ValidationError, is_default};
use serde::{Deserialize, Serialize};

/// An application profile. Key: `tenantName:appProfileName`.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
pub struct AppProfile {
    /// Object key (the key fields joined with `:`).
    #[serde(default, skip_serializing_if = "is_default")]
    pub key: String,
    /// Profile name.
    #[serde(rename = "appProfileName", default, skip_serializing_if = "is_default")]
    pub app_profile_name: String,
    /// EPG names in the tenant.
    #[serde(rename = "endpointGroups", default, skip_serializing_if = "is_default")]
    pub endpoint_groups: Vec<String>,
    /// Tenant name.
    #[serde(rename = "tenantName", default, skip_serializing_if = "is_default")]
    pub tenant_name: String,
}

impl ModelObject for AppProfile {
    const TYPE: &'static str = "appProfile";
    const COLLECTION: &'static str = "appProfiles";
    fn derived_key(&self) -> String {
        format!("{}:{}", self.tenant_name, self.app_profile_name)
    }
    fn key(&self) -> &str {
        &self.key
    }
    fn set_key(&mut self, key: String) {
        self.key = key;
    }
    fn validate(&self) -> Result<(), ValidationError> {
        super::validate::tenancy::validate_app_profile(self)
    }
}
