//! `aciGw`: ACI gateway settings (the singleton named `aciGw`).

use super::{ModelObject, ValidationError, is_default};
use serde::{Deserialize, Serialize};

/// ACI gateway settings. Key: `name` (must be `aciGw`).
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
pub struct AciGw {
    /// Object key (the key fields joined with `:`).
    #[serde(default, skip_serializing_if = "is_default")]
    pub key: String,
    /// `yes` or `no`.
    #[serde(
        rename = "enforcePolicies",
        default,
        skip_serializing_if = "is_default"
    )]
    pub enforce_policies: String,
    /// `yes` or `no`.
    #[serde(
        rename = "includeCommonTenant",
        default,
        skip_serializing_if = "is_default"
    )]
    pub include_common_tenant: String,
    /// Must be `aciGw`.
    #[serde(default, skip_serializing_if = "is_default")]
    pub name: String,
    /// `topology/pod-N/node-N`, comma list.
    #[serde(rename = "nodeBindings", default, skip_serializing_if = "is_default")]
    pub node_bindings: String,
    /// `topology/pod-N/paths-N/pathep-[ethX/Y]`, comma list.
    #[serde(rename = "pathBindings", default, skip_serializing_if = "is_default")]
    pub path_bindings: String,
    /// Physical domain.
    #[serde(rename = "physicalDomain", default, skip_serializing_if = "is_default")]
    pub physical_domain: String,
}

impl ModelObject for AciGw {
    const TYPE: &'static str = "aciGw";
    const COLLECTION: &'static str = "aciGws";
    fn derived_key(&self) -> String {
        self.name.clone()
    }
    fn key(&self) -> &str {
        &self.key
    }
    fn set_key(&mut self, key: String) {
        self.key = key;
    }
    fn validate(&self) -> Result<(), ValidationError> {
        super::validate::aci::validate_aci_gw(self)
    }
}
