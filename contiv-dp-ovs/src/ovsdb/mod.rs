//! An OVSDB client (RFC 7047): JSON-RPC 1.0 over a unix socket
//! (`<rundir>/db.sock`) or TCP.
//!
//! * [`value`] — atoms, sets, maps, UUIDs and named UUIDs in RFC 7047 JSON
//!   notation (including the single-element set shorthand).
//! * [`ops`] — typed operations (insert, select, update, mutate, delete,
//!   wait, commit, abort, comment, assert) and results.
//! * [`Client`] — request ids, `transact` (errors name the failing
//!   operation), `monitor` with an update stream, `echo` replies to the
//!   server, `list_dbs`, `get_schema`.
//! * [`vswitch`] — the idempotent `Open_vSwitch` operations the pipeline
//!   needs: bridges, ports and interfaces (system/veth, internal, VXLAN with
//!   `key=flow`), ownership marks in `external_ids`, ofport, ingress
//!   policing, VLAN tags and trunks, controllers.

mod client;
pub mod framing;
pub mod ops;
pub mod value;
pub mod vswitch;

pub use client::{
    Client, ClientConfig, Monitor, MonitorRequest, RowUpdate, TableUpdates, parse_table_updates,
};
pub use ops::{Condition, Function, Mutation, Mutator, OpResult, Operation, WaitUntil};
pub use value::{Atom, Row, Uuid, Value};

use std::time::Duration;

/// OVSDB failures, each with what a user needs to act on it.
#[derive(Debug, Clone, thiserror::Error)]
pub enum OvsdbError {
    /// Connecting, reading or writing failed.
    #[error("OVSDB I/O error while {what}: {message}")]
    Io {
        /// What was being done.
        what: &'static str,
        /// The OS error text.
        message: String,
    },
    /// The server sent something that is not valid OVSDB JSON-RPC.
    #[error("OVSDB protocol error: {0}")]
    Protocol(String),
    /// The server answered a request with a JSON-RPC error.
    #[error("OVSDB {method} failed: {error}")]
    Rpc {
        /// The request method.
        method: String,
        /// The server's error object.
        error: serde_json::Value,
    },
    /// An operation of a transaction failed; nothing was committed.
    #[error("OVSDB transaction failed at operation #{index} ({op}): {error}{}", details.as_ref().map(|d| format!(": {d}")).unwrap_or_default())]
    Transaction {
        /// Index of the failing operation.
        index: usize,
        /// What it was (`insert into Bridge`).
        op: String,
        /// The RFC 7047 error tag (`constraint violation`, `timed out`, …).
        error: String,
        /// The server's details.
        details: Option<String>,
    },
    /// The operations succeeded but the commit failed (constraint or
    /// referential-integrity violation); nothing was committed.
    #[error("OVSDB commit failed: {error}{}", details.as_ref().map(|d| format!(": {d}")).unwrap_or_default())]
    Commit {
        /// The RFC 7047 error tag.
        error: String,
        /// The server's details.
        details: Option<String>,
    },
    /// The connection is closed.
    #[error("OVSDB connection closed: {0}")]
    Closed(String),
    /// No response in time.
    #[error("no OVSDB response to {what} within {after:?}")]
    Timeout {
        /// The request.
        what: String,
        /// The timeout.
        after: Duration,
    },
    /// A named object does not exist.
    #[error("{0}")]
    NotFound(String),
    /// The request itself is invalid (bad name, conflicting state).
    #[error("{0}")]
    Invalid(String),
}

impl OvsdbError {
    /// Whether this is a failed `wait` precondition (someone else changed
    /// the rows first): retrying the read-modify-write is the fix.
    pub fn is_wait_failure(&self) -> bool {
        matches!(self, OvsdbError::Transaction { error, .. } if error == "timed out")
    }
}
