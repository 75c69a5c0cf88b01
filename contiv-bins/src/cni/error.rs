//! CNI errors: the spec's error codes and the error JSON printed on stdout.

use serde::{Deserialize, Serialize};
use std::fmt;

/// 1: incompatible CNI version.
pub const INCOMPATIBLE_VERSION: u32 = 1;
/// 2: unsupported field in the network configuration.
pub const UNSUPPORTED_FIELD: u32 = 2;
/// 3: container unknown or does not exist (no cleanup needed).
pub const UNKNOWN_CONTAINER: u32 = 3;
/// 4: invalid necessary environment variables.
pub const INVALID_ENVIRONMENT: u32 = 4;
/// 5: I/O failure.
pub const IO_FAILURE: u32 = 5;
/// 6: failed to decode content.
pub const DECODE_FAILURE: u32 = 6;
/// 7: invalid network configuration.
pub const INVALID_NETWORK_CONFIG: u32 = 7;
/// 11: try again later (a transient condition).
pub const TRY_AGAIN_LATER: u32 = 11;
/// 50 (STATUS): the plugin is not available.
pub const PLUGIN_NOT_AVAILABLE: u32 = 50;
/// 100 (ours): netmaster refused the endpoint (unknown network or group,
/// conflicting endpoint, address taken).
pub const REFUSED: u32 = 100;
/// 101 (ours): the datapath could not plumb or find the interface.
pub const DATAPATH_FAILURE: u32 = 101;
/// 102 (ours): an unexpected failure in the agent.
pub const INTERNAL: u32 = 102;
/// 103 (ours, CHECK): the container's interface, addresses or routes are
/// not as ADD left them (the message names each difference); the runtime
/// should DEL and ADD again.
pub const MISCONFIGURED: u32 = 103;

/// A CNI error.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, thiserror::Error)]
pub struct CniError {
    /// The error code.
    pub code: u32,
    /// A short message.
    pub msg: String,
    /// Details.
    #[serde(default)]
    pub details: String,
}

impl fmt::Display for CniError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{} (code {})", self.msg, self.code)?;
        if !self.details.is_empty() {
            write!(f, ": {}", self.details)?;
        }
        Ok(())
    }
}

impl CniError {
    /// An error with `code`.
    pub fn new(code: u32, msg: impl Into<String>, details: impl Into<String>) -> Self {
        CniError {
            code,
            msg: msg.into(),
            details: details.into(),
        }
    }

    /// The error JSON for `version`.
    pub fn to_json(&self, version: &str) -> serde_json::Value {
        serde_json::json!({
            "cniVersion": version,
            "code": self.code,
            "msg": self.msg,
            "details": self.details,
        })
    }
}
