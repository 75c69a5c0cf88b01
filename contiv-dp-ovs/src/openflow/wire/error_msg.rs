//! `OFPT_ERROR` with readable names for the OpenFlow 1.3 and ONF bundle
//! error codes.

use super::buf::{Reader, Writer};
use super::{Header, ONF_EXPERIMENTER, Result};
use std::fmt;

/// Error types (`OFPET_*`).
pub mod error_type {
    /// Hello protocol failed.
    pub const HELLO_FAILED: u16 = 0;
    /// Request was not understood.
    pub const BAD_REQUEST: u16 = 1;
    /// Error in an action.
    pub const BAD_ACTION: u16 = 2;
    /// Error in an instruction.
    pub const BAD_INSTRUCTION: u16 = 3;
    /// Error in a match.
    pub const BAD_MATCH: u16 = 4;
    /// Problem modifying a flow entry.
    pub const FLOW_MOD_FAILED: u16 = 5;
    /// Problem modifying a group entry.
    pub const GROUP_MOD_FAILED: u16 = 6;
    /// Port-mod failed.
    pub const PORT_MOD_FAILED: u16 = 7;
    /// Table-mod failed.
    pub const TABLE_MOD_FAILED: u16 = 8;
    /// Queue operation failed.
    pub const QUEUE_OP_FAILED: u16 = 9;
    /// Switch config failed.
    pub const SWITCH_CONFIG_FAILED: u16 = 10;
    /// Role request failed.
    pub const ROLE_REQUEST_FAILED: u16 = 11;
    /// Meter-mod failed.
    pub const METER_MOD_FAILED: u16 = 12;
    /// Table-features failed.
    pub const TABLE_FEATURES_FAILED: u16 = 13;
    /// Experimenter error (`code` is the experimenter's code).
    pub const EXPERIMENTER: u16 = 0xffff;
}

/// ONF bundle error: a message in the bundle failed at commit
/// (`OFPBFC_MSG_FAILED`).
pub(crate) const OFPBFC_MSG_FAILED: u16 = 2313;

/// `OFPT_ERROR`.
///
/// For experimenter errors (`err_type == 0xffff`), `code` is the
/// experimenter's code and `experimenter` its id. `data` holds (at least
/// the start of) the message that failed; [`ErrorMsg::failed_xid`] and
/// [`ErrorMsg::failed_type`] read its header.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct ErrorMsg {
    /// `OFPET_*` type (see [`error_type`]).
    pub err_type: u16,
    /// Code within the type.
    pub code: u16,
    /// Experimenter id for experimenter errors.
    pub experimenter: Option<u32>,
    /// The offending request (or a prefix of it), or an ASCII explanation
    /// for hello failures.
    pub data: Vec<u8>,
}

impl ErrorMsg {
    /// Builds a standard error.
    pub fn new(err_type: u16, code: u16, data: Vec<u8>) -> ErrorMsg {
        ErrorMsg {
            err_type,
            code,
            experimenter: None,
            data,
        }
    }

    /// Body size.
    pub fn body_len(&self) -> usize {
        4 + if self.experimenter.is_some() { 4 } else { 0 } + self.data.len()
    }

    pub(crate) fn write_body(&self, w: &mut Writer<'_>) -> Result<()> {
        w.u16(self.err_type)?;
        w.u16(self.code)?;
        if let Some(e) = self.experimenter {
            w.u32(e)?;
        }
        w.bytes(&self.data)
    }

    pub(crate) fn read_body(r: &mut Reader<'_>) -> Result<ErrorMsg> {
        let err_type = r.u16()?;
        let code = r.u16()?;
        let experimenter = if err_type == error_type::EXPERIMENTER {
            Some(r.u32()?)
        } else {
            None
        };
        Ok(ErrorMsg {
            err_type,
            code,
            experimenter,
            data: r.rest().to_vec(),
        })
    }

    /// The xid of the failed request, read from the echoed header in `data`.
    pub fn failed_xid(&self) -> Option<u32> {
        (self.data.len() >= 8).then(|| Header::new_unchecked(&self.data[..]).xid())
    }

    /// The message type of the failed request.
    pub fn failed_type(&self) -> Option<u8> {
        (self.data.len() >= 8).then(|| Header::new_unchecked(&self.data[..]).msg_type())
    }

    /// Whether this is the ONF "a message in the bundle failed" error a
    /// bundle commit gets after the offending message's own error.
    pub fn is_bundle_msg_failed(&self) -> bool {
        self.experimenter == Some(ONF_EXPERIMENTER) && self.code == OFPBFC_MSG_FAILED
    }

    /// The symbolic name, e.g. `OFPBAC_BAD_OUT_GROUP`, if known.
    pub fn name(&self) -> Option<&'static str> {
        if let Some(exp) = self.experimenter {
            return (exp == ONF_EXPERIMENTER)
                .then(|| bundle_name(self.code))
                .flatten();
        }
        let table: &[&str] = match self.err_type {
            error_type::HELLO_FAILED => &["OFPHFC_INCOMPATIBLE", "OFPHFC_EPERM"],
            error_type::BAD_REQUEST => &[
                "OFPBRC_BAD_VERSION",
                "OFPBRC_BAD_TYPE",
                "OFPBRC_BAD_MULTIPART",
                "OFPBRC_BAD_EXPERIMENTER",
                "OFPBRC_BAD_EXP_TYPE",
                "OFPBRC_EPERM",
                "OFPBRC_BAD_LEN",
                "OFPBRC_BUFFER_EMPTY",
                "OFPBRC_BUFFER_UNKNOWN",
                "OFPBRC_BAD_TABLE_ID",
                "OFPBRC_IS_SLAVE",
                "OFPBRC_BAD_PORT",
                "OFPBRC_BAD_PACKET",
                "OFPBRC_MULTIPART_BUFFER_OVERFLOW",
            ],
            error_type::BAD_ACTION => &[
                "OFPBAC_BAD_TYPE",
                "OFPBAC_BAD_LEN",
                "OFPBAC_BAD_EXPERIMENTER",
                "OFPBAC_BAD_EXP_TYPE",
                "OFPBAC_BAD_OUT_PORT",
                "OFPBAC_BAD_ARGUMENT",
                "OFPBAC_EPERM",
                "OFPBAC_TOO_MANY",
                "OFPBAC_BAD_QUEUE",
                "OFPBAC_BAD_OUT_GROUP",
                "OFPBAC_MATCH_INCONSISTENT",
                "OFPBAC_UNSUPPORTED_ORDER",
                "OFPBAC_BAD_TAG",
                "OFPBAC_BAD_SET_TYPE",
                "OFPBAC_BAD_SET_LEN",
                "OFPBAC_BAD_SET_ARGUMENT",
            ],
            error_type::BAD_INSTRUCTION => &[
                "OFPBIC_UNKNOWN_INST",
                "OFPBIC_UNSUP_INST",
                "OFPBIC_BAD_TABLE_ID",
                "OFPBIC_UNSUP_METADATA",
                "OFPBIC_UNSUP_METADATA_MASK",
                "OFPBIC_BAD_EXPERIMENTER",
                "OFPBIC_BAD_EXP_TYPE",
                "OFPBIC_BAD_LEN",
                "OFPBIC_EPERM",
            ],
            error_type::BAD_MATCH => &[
                "OFPBMC_BAD_TYPE",
                "OFPBMC_BAD_LEN",
                "OFPBMC_BAD_TAG",
                "OFPBMC_BAD_DL_ADDR_MASK",
                "OFPBMC_BAD_NW_ADDR_MASK",
                "OFPBMC_BAD_WILDCARDS",
                "OFPBMC_BAD_FIELD",
                "OFPBMC_BAD_VALUE",
                "OFPBMC_BAD_MASK",
                "OFPBMC_BAD_PREREQ",
                "OFPBMC_DUP_FIELD",
                "OFPBMC_EPERM",
            ],
            error_type::FLOW_MOD_FAILED => &[
                "OFPFMFC_UNKNOWN",
                "OFPFMFC_TABLE_FULL",
                "OFPFMFC_BAD_TABLE_ID",
                "OFPFMFC_OVERLAP",
                "OFPFMFC_EPERM",
                "OFPFMFC_BAD_TIMEOUT",
                "OFPFMFC_BAD_COMMAND",
                "OFPFMFC_BAD_FLAGS",
            ],
            error_type::GROUP_MOD_FAILED => &[
                "OFPGMFC_GROUP_EXISTS",
                "OFPGMFC_INVALID_GROUP",
                "OFPGMFC_WEIGHT_UNSUPPORTED",
                "OFPGMFC_OUT_OF_GROUPS",
                "OFPGMFC_OUT_OF_BUCKETS",
                "OFPGMFC_CHAINING_UNSUPPORTED",
                "OFPGMFC_WATCH_UNSUPPORTED",
                "OFPGMFC_LOOP",
                "OFPGMFC_UNKNOWN_GROUP",
                "OFPGMFC_CHAINED_GROUP",
                "OFPGMFC_BAD_TYPE",
                "OFPGMFC_BAD_COMMAND",
                "OFPGMFC_BAD_BUCKET",
                "OFPGMFC_BAD_WATCH",
                "OFPGMFC_EPERM",
            ],
            error_type::PORT_MOD_FAILED => &[
                "OFPPMFC_BAD_PORT",
                "OFPPMFC_BAD_HW_ADDR",
                "OFPPMFC_BAD_CONFIG",
                "OFPPMFC_BAD_ADVERTISE",
                "OFPPMFC_EPERM",
            ],
            error_type::TABLE_MOD_FAILED => {
                &["OFPTMFC_BAD_TABLE", "OFPTMFC_BAD_CONFIG", "OFPTMFC_EPERM"]
            }
            error_type::SWITCH_CONFIG_FAILED => {
                &["OFPSCFC_BAD_FLAGS", "OFPSCFC_BAD_LEN", "OFPSCFC_EPERM"]
            }
            error_type::ROLE_REQUEST_FAILED => {
                &["OFPRRFC_STALE", "OFPRRFC_UNSUP", "OFPRRFC_BAD_ROLE"]
            }
            _ => &[],
        };
        table.get(usize::from(self.code)).copied()
    }
}

fn bundle_name(code: u16) -> Option<&'static str> {
    const NAMES: [&str; 16] = [
        "OFPBFC_UNKNOWN",
        "OFPBFC_EPERM",
        "OFPBFC_BAD_ID",
        "OFPBFC_BUNDLE_EXIST",
        "OFPBFC_BUNDLE_CLOSED",
        "OFPBFC_OUT_OF_BUNDLES",
        "OFPBFC_BAD_TYPE",
        "OFPBFC_BAD_FLAGS",
        "OFPBFC_MSG_BAD_LEN",
        "OFPBFC_MSG_BAD_XID",
        "OFPBFC_MSG_UNSUP",
        "OFPBFC_MSG_CONFLICT",
        "OFPBFC_MSG_TOO_MANY",
        "OFPBFC_MSG_FAILED",
        "OFPBFC_TIMEOUT",
        "OFPBFC_BUNDLE_IN_PROGRESS",
    ];
    code.checked_sub(2300)
        .and_then(|i| NAMES.get(usize::from(i)).copied())
}

impl fmt::Display for ErrorMsg {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match (self.name(), self.experimenter) {
            (Some(n), Some(e)) => write!(f, "{n} (experimenter {e:#x}, code {})", self.code)?,
            (Some(n), None) => write!(f, "{n} (type {}, code {})", self.err_type, self.code)?,
            (None, Some(e)) => write!(f, "experimenter {e:#x} error code {}", self.code)?,
            (None, None) => write!(f, "error type {}, code {}", self.err_type, self.code)?,
        }
        if self.err_type == error_type::HELLO_FAILED && !self.data.is_empty() {
            write!(f, ": {}", String::from_utf8_lossy(&self.data))?;
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_for_errors_ovs_sent_on_a_failed_bundle() {
        let e = ErrorMsg::new(2, 9, vec![]);
        assert_eq!(e.to_string(), "OFPBAC_BAD_OUT_GROUP (type 2, code 9)");
        let c = ErrorMsg {
            err_type: 0xffff,
            code: 0x0909,
            experimenter: Some(ONF_EXPERIMENTER),
            data: vec![],
        };
        assert!(c.is_bundle_msg_failed());
        assert_eq!(c.name(), Some("OFPBFC_MSG_FAILED"));
        assert_eq!(ErrorMsg::new(99, 1, vec![]).name(), None);
        assert_eq!(ErrorMsg::new(1, 200, vec![]).name(), None);
    }
}
