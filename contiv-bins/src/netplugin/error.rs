//! Errors of the agent's operations, with a kind that maps to an HTTP
//! status on the local API, to a CNI error code in `contiv-cni`, and to a
//! Docker plugin error.

use serde::{Deserialize, Serialize};
use std::fmt;

pub use crate::agent_api::wire::AgentErrorKind;

/// A failed agent operation: a kind and a message a user can act on.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, thiserror::Error)]
pub struct AgentError {
    /// Failure class.
    pub kind: AgentErrorKind,
    /// What went wrong and, where possible, what to do about it.
    pub message: String,
}

impl fmt::Display for AgentError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.message)
    }
}

/// Result alias for agent operations.
pub type AgentResult<T> = Result<T, AgentError>;

impl AgentError {
    /// An error of `kind`.
    pub fn new(kind: AgentErrorKind, message: impl Into<String>) -> Self {
        AgentError {
            kind,
            message: message.into(),
        }
    }
    /// An [`AgentErrorKind::Invalid`] error.
    pub fn invalid(message: impl Into<String>) -> Self {
        Self::new(AgentErrorKind::Invalid, message)
    }
    /// An [`AgentErrorKind::NotFound`] error.
    pub fn not_found(message: impl Into<String>) -> Self {
        Self::new(AgentErrorKind::NotFound, message)
    }
    /// An [`AgentErrorKind::Conflict`] error.
    pub fn conflict(message: impl Into<String>) -> Self {
        Self::new(AgentErrorKind::Conflict, message)
    }
    /// An [`AgentErrorKind::Unavailable`] error.
    pub fn unavailable(message: impl Into<String>) -> Self {
        Self::new(AgentErrorKind::Unavailable, message)
    }
    /// An [`AgentErrorKind::Datapath`] error.
    pub fn datapath(message: impl Into<String>) -> Self {
        Self::new(AgentErrorKind::Datapath, message)
    }
    /// An [`AgentErrorKind::Misconfigured`] error.
    pub fn misconfigured(message: impl Into<String>) -> Self {
        Self::new(AgentErrorKind::Misconfigured, message)
    }
    /// An [`AgentErrorKind::Internal`] error.
    pub fn internal(message: impl Into<String>) -> Self {
        Self::new(AgentErrorKind::Internal, message)
    }
    /// The same error with `context: ` prepended to the message.
    pub fn context(mut self, context: &str) -> Self {
        self.message = format!("{context}: {}", self.message);
        self
    }
}

impl From<contiv_core::datapath::DpError> for AgentError {
    fn from(e: contiv_core::datapath::DpError) -> Self {
        AgentError::datapath(e.to_string())
    }
}
