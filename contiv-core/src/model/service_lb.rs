//! `serviceLB`: a load-balanced service VIP with label-selected providers.

use super::EndpointOper;
use super::validate::service_lb as rules;
use super::{ModelObject, PortSpec, ValidationError, is_default};
use serde::{Deserialize, Serialize};
use std::net::Ipv4Addr;

/// A service. Key: `tenantName:serviceName`.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
pub struct ServiceLB {
    /// Object key (the key fields joined with `:`).
    #[serde(default, skip_serializing_if = "is_default")]
    pub key: String,
    /// Preferred VIP (optional).
    #[serde(rename = "ipAddress", default, skip_serializing_if = "is_default")]
    pub ip_address: String,
    /// Network the VIP is taken from.
    #[serde(rename = "networkName", default, skip_serializing_if = "is_default")]
    pub network_name: String,
    /// Port specs `svcPort:provPort:protocol`.
    #[serde(default, skip_serializing_if = "is_default")]
    pub ports: Vec<String>,
    /// Label selectors `key=value`.
    #[serde(default, skip_serializing_if = "is_default")]
    pub selectors: Vec<String>,
    /// Service name.
    #[serde(rename = "serviceName", default, skip_serializing_if = "is_default")]
    pub service_name: String,
    /// Tenant name.
    #[serde(rename = "tenantName", default, skip_serializing_if = "is_default")]
    pub tenant_name: String,
}

/// Oper view of a service.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
pub struct ServiceLBOper {
    /// Number of providers.
    #[serde(rename = "numProviders", default, skip_serializing_if = "is_default")]
    pub num_providers: i64,
    /// Provider endpoints.
    #[serde(default, skip_serializing_if = "is_default")]
    pub providers: Vec<EndpointOper>,
    /// Allocated VIP.
    #[serde(rename = "serviceVip", default, skip_serializing_if = "is_default")]
    pub service_vip: String,
}

impl ModelObject for ServiceLB {
    const TYPE: &'static str = "serviceLB";
    const COLLECTION: &'static str = "serviceLBs";
    fn derived_key(&self) -> String {
        format!("{}:{}", self.tenant_name, self.service_name)
    }
    fn key(&self) -> &str {
        &self.key
    }
    fn set_key(&mut self, key: String) {
        self.key = key;
    }
    fn validate(&self) -> Result<(), ValidationError> {
        super::validate::service_lb::validate(self)
    }
}

impl ServiceLB {
    /// Every port mapping (`ports`), each checked; at least one is required.
    pub fn port_specs(&self) -> Result<Vec<PortSpec>, ValidationError> {
        rules::ports(self)
    }

    /// Every label selector (`selectors`) as `(key, value)`; at least one is
    /// required.
    pub fn selector_pairs(&self) -> Result<Vec<(&str, &str)>, ValidationError> {
        rules::selectors(self)
    }

    /// The preferred VIP (`ipAddress`), `None` to let netmaster allocate one.
    pub fn preferred_ip(&self) -> Result<Option<Ipv4Addr>, ValidationError> {
        rules::preferred_ip(self)
    }
}
