//! `extContractsGroup`: ACI external contracts.

use super::{ModelObject, ValidationError, is_default};
use serde::{Deserialize, Serialize};

/// External contracts. Key: `tenantName:contractsGroupName`.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
pub struct ExtContractsGroup {
    /// Object key (the key fields joined with `:`).
    #[serde(default, skip_serializing_if = "is_default")]
    pub key: String,
    /// Contract DNs.
    #[serde(default, skip_serializing_if = "is_default")]
    pub contracts: Vec<String>,
    /// Group name.
    #[serde(
        rename = "contractsGroupName",
        default,
        skip_serializing_if = "is_default"
    )]
    pub contracts_group_name: String,
    /// `provided` or `consumed`.
    #[serde(rename = "contractsType", default, skip_serializing_if = "is_default")]
    pub contracts_type: String,
    /// Tenant name.
    #[serde(rename = "tenantName", default, skip_serializing_if = "is_default")]
    pub tenant_name: String,
}

impl ModelObject for ExtContractsGroup {
    const TYPE: &'static str = "extContractsGroup";
    const COLLECTION: &'static str = "extContractsGroups";
    fn derived_key(&self) -> String {
        format!("{}:{}", self.tenant_name, self.contracts_group_name)
    }
    fn key(&self) -> &str {
        &self.key
    }
    fn set_key(&mut self, key: String) {
        self.key = key;
    }
    fn validate(&self) -> Result<(), ValidationError> {
        super::validate::aci::validate_ext_contracts(self)
    }
}
