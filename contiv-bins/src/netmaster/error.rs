//! API errors: a status class and a message a user can act on.
//!
//! The original answered every failure with HTTP 500 and the error text as a
//! `text/plain` body. We keep the text body (so clients written for the
//! original still print the message) but use status codes that mean
//! something: 400 invalid input, 404 unknown object, 409 conflict / in use /
//! refused update, 503 not ready or no leader, 500 only for real internal
//! failures.

use contiv_core::model::ValidationError;
use contiv_core::store::StoreError;
use std::fmt;

/// What kind of failure an [`ApiError`] is (maps to an HTTP status).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ErrorKind {
    /// Malformed or invalid input (400).
    Invalid,
    /// The object, or an object it refers to, does not exist (404).
    NotFound,
    /// Conflicts with existing state: overlap, name clash, in use,
    /// update refused, lost a concurrent race (409).
    Conflict,
    /// Not serving right now (no leader, shutting down, store down) (503).
    Unavailable,
    /// Authentication required or failed (401).
    Unauthorized,
    /// Authenticated, but this credential may not do this (403).
    Forbidden,
    /// The request body is not JSON (415).
    UnsupportedMediaType,
    /// A bug or an unexpected backend failure (500).
    Internal,
}

impl ErrorKind {
    /// The HTTP status code.
    pub fn status(self) -> u16 {
        match self {
            ErrorKind::Invalid => 400,
            ErrorKind::Unauthorized => 401,
            ErrorKind::Forbidden => 403,
            ErrorKind::UnsupportedMediaType => 415,
            ErrorKind::NotFound => 404,
            ErrorKind::Conflict => 409,
            ErrorKind::Internal => 500,
            ErrorKind::Unavailable => 503,
        }
    }
}

/// A failed API request.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ApiError {
    /// Status class.
    pub kind: ErrorKind,
    /// User-facing message.
    pub message: String,
}

/// Result alias for netmaster operations.
pub type ApiResult<T> = Result<T, ApiError>;

impl ApiError {
    /// A 400.
    pub fn invalid(msg: impl Into<String>) -> Self {
        ApiError {
            kind: ErrorKind::Invalid,
            message: msg.into(),
        }
    }
    /// A 404.
    pub fn not_found(msg: impl Into<String>) -> Self {
        ApiError {
            kind: ErrorKind::NotFound,
            message: msg.into(),
        }
    }
    /// A 409.
    pub fn conflict(msg: impl Into<String>) -> Self {
        ApiError {
            kind: ErrorKind::Conflict,
            message: msg.into(),
        }
    }
    /// A 503.
    pub fn unavailable(msg: impl Into<String>) -> Self {
        ApiError {
            kind: ErrorKind::Unavailable,
            message: msg.into(),
        }
    }
    /// A 500.
    pub fn internal(msg: impl Into<String>) -> Self {
        ApiError {
            kind: ErrorKind::Internal,
            message: msg.into(),
        }
    }
    /// A 401.
    pub fn unauthorized(msg: impl Into<String>) -> Self {
        ApiError {
            kind: ErrorKind::Unauthorized,
            message: msg.into(),
        }
    }
    /// A 403.
    pub fn forbidden(msg: impl Into<String>) -> Self {
        ApiError {
            kind: ErrorKind::Forbidden,
            message: msg.into(),
        }
    }
    /// A 415.
    pub fn unsupported_media_type(msg: impl Into<String>) -> Self {
        ApiError {
            kind: ErrorKind::UnsupportedMediaType,
            message: msg.into(),
        }
    }
    /// The HTTP status code.
    pub fn status(&self) -> u16 {
        self.kind.status()
    }
}

impl fmt::Display for ApiError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.message)
    }
}

impl std::error::Error for ApiError {}

impl From<crate::auth::ForeignHost> for ApiError {
    fn from(e: crate::auth::ForeignHost) -> Self {
        ApiError::forbidden(e.to_string())
    }
}

impl From<ValidationError> for ApiError {
    fn from(e: ValidationError) -> Self {
        ApiError::invalid(e.to_string())
    }
}

impl From<StoreError> for ApiError {
    fn from(e: StoreError) -> Self {
        match e {
            StoreError::PreconditionFailed { .. } => ApiError::conflict(format!(
                "the object was changed concurrently, retry the request ({e})"
            )),
            StoreError::Unavailable(_) | StoreError::Closed => ApiError::unavailable(e.to_string()),
            StoreError::InvalidArgument(_) => ApiError::invalid(e.to_string()),
            _ => ApiError::internal(e.to_string()),
        }
    }
}

impl From<contiv_ipam::IpamError> for ApiError {
    fn from(e: contiv_ipam::IpamError) -> Self {
        use contiv_ipam::IpamError as E;
        match &e {
            E::Store(s) => ApiError::from(s.clone()),
            E::Corrupt { .. } => ApiError::internal(e.to_string()),
            E::Contention { .. } => ApiError::unavailable(e.to_string()),
            E::UnknownPool { .. } => ApiError::not_found(e.to_string()),
            E::Exhausted { .. }
            | E::AlreadyTaken { .. }
            | E::RangeOrphans { .. }
            | E::PoolExists { .. }
            | E::PoolInUse { .. }
            | E::NotReleasable { .. } => ApiError::conflict(e.to_string()),
            _ => ApiError::invalid(e.to_string()),
        }
    }
}
