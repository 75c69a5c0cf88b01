//! `Bgp`: per-host BGP peering (routing mode).

use super::validate::bgp as rules;
use super::{ModelObject, ValidationError, is_default};
use ipnet::Ipv4Net;
use serde::{Deserialize, Serialize};
use std::net::Ipv4Addr;

/// BGP settings of a host. Key: `hostname`.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
pub struct Bgp {
    /// Object key (the key fields joined with `:`).
    #[serde(default, skip_serializing_if = "is_default")]
    pub key: String,
    /// Local AS.
    #[serde(rename = "as", default, skip_serializing_if = "is_default")]
    pub as_: String,
    /// Host label of the netplugin.
    #[serde(default, skip_serializing_if = "is_default")]
    pub hostname: String,
    /// Neighbor IPv4 address.
    #[serde(default, skip_serializing_if = "is_default")]
    pub neighbor: String,
    /// Neighbor AS.
    #[serde(rename = "neighbor-as", default, skip_serializing_if = "is_default")]
    pub neighbor_as: String,
    /// Router address `A.B.C.D/len`.
    #[serde(default, skip_serializing_if = "is_default")]
    pub routerip: String,
}

/// Oper view of BGP: the host's speaker as its agent reports it live (the
/// original's fields, plus prefix counters, the session uptime and why
/// the speaker is not running, if it is not).
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
pub struct BgpOper {
    /// Admin status of the neighbor (`up`, `down`).
    #[serde(rename = "adminStatus", default, skip_serializing_if = "is_default")]
    pub admin_status: String,
    /// Session state with the neighbor (`Established`, `Active`, `Idle`, …).
    #[serde(rename = "neighborStatus", default, skip_serializing_if = "is_default")]
    pub neighbor_status: String,
    /// Number of routes in the speaker's RIB.
    #[serde(rename = "numRoutes", default, skip_serializing_if = "is_default")]
    pub num_routes: i64,
    /// The RIB's routes (`prefix via next-hop`).
    #[serde(default, skip_serializing_if = "is_default")]
    pub routes: Vec<String>,
    /// Prefixes received from the neighbor.
    #[serde(
        rename = "prefixesReceived",
        default,
        skip_serializing_if = "is_default"
    )]
    pub prefixes_received: u64,
    /// Prefixes advertised to the neighbor.
    #[serde(rename = "prefixesSent", default, skip_serializing_if = "is_default")]
    pub prefixes_sent: u64,
    /// How long the session has been established (`4m05s`).
    #[serde(default, skip_serializing_if = "is_default")]
    pub uptime: String,
    /// Why the speaker is not running or could not be read.
    #[serde(default, skip_serializing_if = "is_default")]
    pub error: String,
}

impl ModelObject for Bgp {
    const TYPE: &'static str = "Bgp";
    const COLLECTION: &'static str = "Bgps";
    fn derived_key(&self) -> String {
        self.hostname.clone()
    }
    fn key(&self) -> &str {
        &self.key
    }
    fn set_key(&mut self, key: String) {
        self.key = key;
    }
    fn validate(&self) -> Result<(), ValidationError> {
        super::validate::bgp::validate(self)
    }
}

impl Bgp {
    /// The router interface address with its prefix length (`routerip`),
    /// host bits kept (`50.1.1.1/24` stays `50.1.1.1/24`).
    pub fn router_ip(&self) -> Result<Ipv4Net, ValidationError> {
        rules::router_ip(self)
    }

    /// The neighbor address (`neighbor`), `None` if unset.
    pub fn neighbor_ip(&self) -> Result<Option<Ipv4Addr>, ValidationError> {
        rules::neighbor(self)
    }

    /// The local AS number (`as`), `None` if unset.
    pub fn as_number(&self) -> Result<Option<u32>, ValidationError> {
        rules::parse_as("as", &self.as_)
    }

    /// The neighbor's AS number (`neighbor-as`), `None` if unset.
    pub fn neighbor_as_number(&self) -> Result<Option<u32>, ValidationError> {
        rules::parse_as("neighbor-as", &self.neighbor_as)
    }
}
