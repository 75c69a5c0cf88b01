//! `policy`: a named list of rules attached to endpoint groups.

use super::EndpointOper;
use super::{ModelObject, ValidationError, is_default};
use serde::{Deserialize, Serialize};

/// A policy. Key: `tenantName:policyName`.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
pub struct Policy {
    /// Object key (the key fields joined with `:`).
    #[serde(default, skip_serializing_if = "is_default")]
    pub key: String,
    /// Policy name.
    #[serde(rename = "policyName", default, skip_serializing_if = "is_default")]
    pub policy_name: String,
    /// Tenant name.
    #[serde(rename = "tenantName", default, skip_serializing_if = "is_default")]
    pub tenant_name: String,
}

/// Oper view of a policy.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
pub struct PolicyOper {
    /// Endpoints the policy applies to.
    #[serde(default, skip_serializing_if = "is_default")]
    pub endpoints: Vec<EndpointOper>,
    /// Number of endpoints.
    #[serde(rename = "numEndpoints", default, skip_serializing_if = "is_default")]
    pub num_endpoints: i64,
    /// Policy violations (never filled by the original).
    #[serde(
        rename = "policyViolations",
        default,
        skip_serializing_if = "is_default"
    )]
    pub policy_violations: i64,
}

impl ModelObject for Policy {
    const TYPE: &'static str = "policy";
    const COLLECTION: &'static str = "policys";
    fn derived_key(&self) -> String {
        format!("{}:{}", self.tenant_name, self.policy_name)
    }
    fn key(&self) -> &str {
        &self.key
    }
    fn set_key(&mut self, key: String) {
        self.key = key;
    }
    fn validate(&self) -> Result<(), ValidationError> {
        super::validate::tenancy::validate_policy(self)
    }
}
