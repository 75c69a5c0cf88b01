//! `netprofile`: bandwidth / DSCP / burst applied to endpoint groups.

use super::validate::netprofile as rules;
use super::{Bandwidth, ModelObject, ValidationError, is_default};
use serde::{Deserialize, Serialize};

/// A network profile. Key: `tenantName:profileName`.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
pub struct Netprofile {
    /// Object key (the key fields joined with `:`).
    #[serde(default, skip_serializing_if = "is_default")]
    pub key: String,
    /// DSCP value 0..=63.
    #[serde(rename = "DSCP", default, skip_serializing_if = "is_default")]
    pub dscp: i64,
    /// Bandwidth, e.g. `10kbps`, `100 Mbps`, `1g`.
    #[serde(default, skip_serializing_if = "is_default")]
    pub bandwidth: String,
    /// Burst size in kbytes (≤ 10486).
    #[serde(default, skip_serializing_if = "is_default")]
    pub burst: i64,
    /// Profile name.
    #[serde(rename = "profileName", default, skip_serializing_if = "is_default")]
    pub profile_name: String,
    /// Tenant name.
    #[serde(rename = "tenantName", default, skip_serializing_if = "is_default")]
    pub tenant_name: String,
}

impl ModelObject for Netprofile {
    const TYPE: &'static str = "netprofile";
    const COLLECTION: &'static str = "netprofiles";
    fn derived_key(&self) -> String {
        format!("{}:{}", self.tenant_name, self.profile_name)
    }
    fn key(&self) -> &str {
        &self.key
    }
    fn set_key(&mut self, key: String) {
        self.key = key;
    }
    fn validate(&self) -> Result<(), ValidationError> {
        super::validate::netprofile::validate(self)
    }
}

impl Netprofile {
    /// The parsed bandwidth (`bandwidth`), `None` for no limit.
    pub fn bandwidth_parsed(&self) -> Result<Option<Bandwidth>, ValidationError> {
        rules::bandwidth(self)
    }

    /// The rate limit in kbit/s as the original computed it for OVS
    /// (number × 1024^unit / 1000: `100 Mbps` → 104857), `None` for no
    /// limit.
    pub fn bandwidth_kbps(&self) -> Result<Option<u64>, ValidationError> {
        Ok(self.bandwidth_parsed()?.and_then(|b| b.kbps()))
    }

    /// The bandwidth as `netctl netprofile ls` prints it (`100Mbps`,
    /// `10Kbps`, `1Gbps`), `None` for no limit.
    pub fn bandwidth_display(&self) -> Result<Option<String>, ValidationError> {
        Ok(self.bandwidth_parsed()?.map(|b| b.to_string()))
    }

    /// The DSCP value 0..=63 (`DSCP`; 0 leaves packets unmarked).
    pub fn dscp_value(&self) -> Result<u8, ValidationError> {
        rules::dscp(self)
    }
}
