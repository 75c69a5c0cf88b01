//! The network configuration on stdin, and the spec versions the plugin
//! speaks.
//!
//! ```json
//! {"cniVersion": "1.0.0", "name": "contiv-net", "type": "contiv-cni",
//!  "tenant": "default", "network": "contiv-net", "group": "web",
//!  "socket": "/run/contiv/contiv-cni.sock", "mtu": 1450,
//!  "dns": {"nameservers": ["10.1.2.254"]},
//!  "args": {"cni": {"labels": [{"key": "io.contiv.net-group", "value": "db"}],
//!                   "ips": ["10.1.2.9/24"]}}}
//! ```
//!
//! Only `cniVersion`, `name` and `type` are required. `args.cni.labels`
//! and `args.cni.ips` follow the CNI conventions; the labels
//! `io.contiv.tenant`, `io.contiv.network` and `io.contiv.net-group` (the
//! original's pod labels) choose tenant, network and group; every label is
//! recorded on the endpoint.

use super::error::{CniError, DECODE_FAILURE, INCOMPATIBLE_VERSION, INVALID_NETWORK_CONFIG};
use super::result::CniResult;
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;
use std::net::IpAddr;
use std::path::PathBuf;

/// Spec versions the plugin speaks, oldest first.
pub const SUPPORTED_VERSIONS: [&str; 5] = ["0.3.0", "0.3.1", "0.4.0", "1.0.0", "1.1.0"];

/// The newest supported version.
pub const LATEST: &str = "1.1.0";

/// True if `v` is supported.
pub fn supported(v: &str) -> bool {
    SUPPORTED_VERSIONS.contains(&v)
}

/// `(major, minor, patch)` of a version string (0.0.0 if unparsable).
pub fn version_tuple(v: &str) -> (u32, u32, u32) {
    let mut it = v.split('.').map(|p| p.parse::<u32>().unwrap_or(0));
    (
        it.next().unwrap_or(0),
        it.next().unwrap_or(0),
        it.next().unwrap_or(0),
    )
}

/// DNS settings (passed through to the result).
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Dns {
    /// Name servers.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub nameservers: Vec<String>,
    /// Local domain.
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub domain: String,
    /// Search domains.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub search: Vec<String>,
    /// Resolver options.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub options: Vec<String>,
}

/// One `args.cni.labels` entry.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Label {
    /// Key.
    pub key: String,
    /// Value.
    pub value: String,
}

/// `args.cni`.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct CniConventionArgs {
    /// Labels.
    #[serde(default)]
    pub labels: Vec<Label>,
    /// Requested addresses (`10.1.2.9/24` or `10.1.2.9`).
    #[serde(default)]
    pub ips: Vec<String>,
}

/// `args`.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct NetConfArgs {
    /// The CNI conventions' section.
    #[serde(default)]
    pub cni: CniConventionArgs,
}

/// One `cni.dev/valid-attachments` entry (GC).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct ValidAttachment {
    /// Container id.
    #[serde(rename = "containerID")]
    pub container_id: String,
    /// Interface name.
    pub ifname: String,
}

/// The network configuration.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct NetConf {
    /// Spec version of the configuration (and of the output).
    #[serde(rename = "cniVersion", default)]
    pub cni_version: String,
    /// Network name.
    #[serde(default)]
    pub name: String,
    /// Plugin type.
    #[serde(rename = "type", default)]
    pub plugin_type: String,
    /// Tenant (default `default`).
    #[serde(default)]
    pub tenant: Option<String>,
    /// Contiv network name.
    #[serde(default)]
    pub network: Option<String>,
    /// Endpoint group.
    #[serde(default)]
    pub group: Option<String>,
    /// The agent's socket (default `/run/contiv/contiv-cni.sock`).
    #[serde(default)]
    pub socket: Option<PathBuf>,
    /// Container MTU (default: the agent's).
    #[serde(default)]
    pub mtu: Option<u32>,
    /// DNS settings for the result.
    #[serde(default)]
    pub dns: Option<Dns>,
    /// Conventions' `args`.
    #[serde(default)]
    pub args: Option<NetConfArgs>,
    /// The previous result (CHECK, DEL).
    #[serde(rename = "prevResult", default)]
    pub prev_result: Option<serde_json::Value>,
    /// GC: the attachments still in use.
    #[serde(rename = "cni.dev/valid-attachments", default)]
    pub valid_attachments: Option<Vec<ValidAttachment>>,
}

impl NetConf {
    /// Decodes stdin (error 6) and checks the required fields (7) and the
    /// version (1).
    pub fn parse(stdin: &[u8]) -> Result<Self, CniError> {
        let nc: NetConf = serde_json::from_slice(stdin).map_err(|e| {
            CniError::new(
                DECODE_FAILURE,
                "cannot decode the network configuration",
                e.to_string(),
            )
        })?;
        if nc.cni_version.is_empty() {
            return Err(CniError::new(
                INVALID_NETWORK_CONFIG,
                "cniVersion is required",
                "",
            ));
        }
        if !supported(&nc.cni_version) {
            return Err(CniError::new(
                INCOMPATIBLE_VERSION,
                "incompatible CNI version",
                format!(
                    "config version {:?}; supported: {}",
                    nc.cni_version,
                    SUPPORTED_VERSIONS.join(", ")
                ),
            ));
        }
        if nc.name.is_empty() || nc.plugin_type.is_empty() {
            return Err(CniError::new(
                INVALID_NETWORK_CONFIG,
                "the network configuration needs \"name\" and \"type\"",
                "",
            ));
        }
        Ok(nc)
    }

    /// The conventions' labels as a map.
    pub fn labels(&self) -> BTreeMap<String, String> {
        self.args
            .iter()
            .flat_map(|a| a.cni.labels.iter())
            .map(|l| (l.key.clone(), l.value.clone()))
            .collect()
    }

    /// The first requested IPv4 address from `args.cni.ips`.
    pub fn requested_ipv4(&self) -> Result<Option<std::net::Ipv4Addr>, CniError> {
        for s in self.args.iter().flat_map(|a| a.cni.ips.iter()) {
            let a = s.split('/').next().unwrap_or(s);
            match a.parse::<IpAddr>() {
                Ok(IpAddr::V4(v4)) => return Ok(Some(v4)),
                Ok(IpAddr::V6(_)) => {}
                Err(_) => {
                    return Err(CniError::new(
                        INVALID_NETWORK_CONFIG,
                        "invalid address in args.cni.ips",
                        format!("{s:?}"),
                    ));
                }
            }
        }
        Ok(None)
    }

    /// `prevResult`, parsed; `None` if there is none. A `prevResult` that
    /// is not a CNI result fails with code 6.
    pub fn prev(&self) -> Result<Option<CniResult>, CniError> {
        self.prev_result
            .as_ref()
            .map(|p| {
                CniResult::parse(p).map_err(|e| {
                    CniError::new(DECODE_FAILURE, "cannot decode prevResult", e.to_string())
                })
            })
            .transpose()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn netconf_fields_labels_and_ips() {
        let nc = NetConf::parse(
            br#"{"cniVersion":"0.4.0","name":"n","type":"contiv-cni","network":"contiv-net","mtu":1400,
                 "args":{"cni":{"labels":[{"key":"io.contiv.net-group","value":"db"}],"ips":["2001::5/64","10.1.2.9/24"]}},
                 "prevResult":{"ips":[{"version":"4","address":"10.1.2.9/24"}]},"extra":1}"#,
        )
        .unwrap();
        assert_eq!(nc.network.as_deref(), Some("contiv-net"));
        assert_eq!(nc.mtu, Some(1400));
        assert_eq!(nc.labels()["io.contiv.net-group"], "db");
        assert_eq!(
            nc.requested_ipv4().unwrap(),
            Some("10.1.2.9".parse().unwrap())
        );
        let prev = nc.prev().unwrap().unwrap();
        assert_eq!(prev.ips[0].address, "10.1.2.9/24".parse().unwrap());
        let bad = NetConf::parse(
            br#"{"cniVersion":"1.0.0","name":"n","type":"t","prevResult":{"ips":[{"address":"x"}]}}"#,
        )
        .unwrap();
        assert_eq!(bad.prev().unwrap_err().code, DECODE_FAILURE);
    }

    #[test]
    fn bad_configs_get_the_right_codes() {
        assert_eq!(NetConf::parse(b"{").unwrap_err().code, DECODE_FAILURE);
        assert_eq!(
            NetConf::parse(br#"{"name":"n","type":"t"}"#)
                .unwrap_err()
                .code,
            INVALID_NETWORK_CONFIG
        );
        assert_eq!(
            NetConf::parse(br#"{"cniVersion":"0.2.0","name":"n","type":"t"}"#)
                .unwrap_err()
                .code,
            INCOMPATIBLE_VERSION
        );
        assert_eq!(
            NetConf::parse(br#"{"cniVersion":"1.0.0","type":"t"}"#)
                .unwrap_err()
                .code,
            INVALID_NETWORK_CONFIG
        );
        let bad_ip = NetConf::parse(
            br#"{"cniVersion":"1.0.0","name":"n","type":"t","args":{"cni":{"ips":["x"]}}}"#,
        )
        .unwrap();
        assert_eq!(
            bad_ip.requested_ipv4().unwrap_err().code,
            INVALID_NETWORK_CONFIG
        );
        assert_eq!(version_tuple("0.4.0"), (0, 4, 0));
        assert!(version_tuple("0.3.1") < version_tuple("0.4.0"));
    }
}
