//! `global`: cluster-wide settings (the singleton named `global`).

use super::validate::global as rules;
use super::{ModelObject, ValidationError, is_default};
use crate::datapath::{ArpMode, FwdMode};
use ipnet::Ipv4Net;
use serde::{Deserialize, Serialize};

/// Global settings. Key: `name` (must be `global`).
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
pub struct Global {
    /// Object key (the key fields joined with `:`).
    #[serde(default, skip_serializing_if = "is_default")]
    pub key: String,
    /// `proxy` or `flood`.
    #[serde(rename = "arpMode", default, skip_serializing_if = "is_default")]
    pub arp_mode: String,
    /// `bridge` or `routing`.
    #[serde(rename = "fwdMode", default, skip_serializing_if = "is_default")]
    pub fwd_mode: String,
    /// Must be `global`.
    #[serde(default, skip_serializing_if = "is_default")]
    pub name: String,
    /// `default`, `aci` or `aci-opflex`.
    #[serde(
        rename = "networkInfraType",
        default,
        skip_serializing_if = "is_default"
    )]
    pub network_infra_type: String,
    /// Private subnet for host access (a /16).
    #[serde(rename = "pvtSubnet", default, skip_serializing_if = "is_default")]
    pub pvt_subnet: String,
    /// Allowed VLAN range `a-b`.
    #[serde(default, skip_serializing_if = "is_default")]
    pub vlans: String,
    /// Allowed VXLAN range `a-b`.
    #[serde(default, skip_serializing_if = "is_default")]
    pub vxlans: String,
}

/// Oper view of the global settings.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
pub struct GlobalOper {
    /// Cluster mode (`docker`, `kubernetes`, `test`, …).
    #[serde(rename = "clusterMode", default, skip_serializing_if = "is_default")]
    pub cluster_mode: String,
    /// Default network.
    #[serde(rename = "defaultNetwork", default, skip_serializing_if = "is_default")]
    pub default_network: String,
    /// First free VNI offset.
    #[serde(
        rename = "freeVXLANsStart",
        default,
        skip_serializing_if = "is_default"
    )]
    pub free_vxlans_start: i64,
    /// Number of networks.
    #[serde(rename = "numNetworks", default, skip_serializing_if = "is_default")]
    pub num_networks: i64,
    /// VLANs in use, e.g. `1-3, 10`.
    #[serde(rename = "vlansInUse", default, skip_serializing_if = "is_default")]
    pub vlans_in_use: String,
    /// VNIs in use.
    #[serde(rename = "vxlansInUse", default, skip_serializing_if = "is_default")]
    pub vxlans_in_use: String,
}

impl ModelObject for Global {
    const TYPE: &'static str = "global";
    const COLLECTION: &'static str = "globals";
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
        super::validate::global::validate(self)
    }
}

impl Global {
    /// The settings the original's netmaster created at first start:
    /// `networkInfraType=default`, `fwdMode=bridge`, `arpMode=proxy`,
    /// `pvtSubnet=172.19.0.0/16`, `vlans=1-4094`, `vxlans=1-10000`, with
    /// key and name `global`.
    pub fn default_config() -> Self {
        Global {
            key: rules::GLOBAL_NAME.into(),
            arp_mode: "proxy".into(),
            fwd_mode: "bridge".into(),
            name: rules::GLOBAL_NAME.into(),
            network_infra_type: "default".into(),
            pvt_subnet: "172.19.0.0/16".into(),
            vlans: "1-4094".into(),
            vxlans: "1-10000".into(),
        }
    }

    /// The VLAN range (`vlans`) as inclusive `(first, last)`.
    pub fn vlan_range(&self) -> Result<(u16, u16), ValidationError> {
        rules::vlans(self)
    }

    /// The VXLAN (VNI) range (`vxlans`) as inclusive `(first, last)`.
    pub fn vxlan_range(&self) -> Result<(u32, u32), ValidationError> {
        rules::vxlans(self)
    }

    /// The private host-access subnet (`pvtSubnet`, a /16), normalised to
    /// its network address.
    pub fn pvt_subnet_net(&self) -> Result<Ipv4Net, ValidationError> {
        rules::pvt_subnet(self)
    }

    /// The ARP mode (`arpMode`); empty means the default, proxy.
    pub fn arp_mode_kind(&self) -> Result<ArpMode, ValidationError> {
        rules::arp_mode(self)
    }

    /// The forwarding mode (`fwdMode`); empty means the default, bridge
    /// (netmaster refuses networks while `fwdMode` is unset — check the
    /// field itself for that).
    pub fn fwd_mode_kind(&self) -> Result<FwdMode, ValidationError> {
        rules::fwd_mode(self)
    }
}
