//! netctl errors and the process exit codes they map to.
//!
//! The exit codes are the original's (`netctl/exit.go`): 0 success, 1 help
//! or usage error, 2 request error (netmaster unreachable), 3 invalid
//! (netmaster answered with an error, or an answer we cannot read), 4 I/O.

use std::fmt;

/// A netctl exit status.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Exit {
    /// 0: the command did what was asked.
    Success,
    /// 1: bad usage (unknown flag, missing argument, invalid value).
    Usage,
    /// 2: the request could not be sent (connection refused, DNS, TLS, timeout).
    Request,
    /// 3: netmaster answered with an error, or with a body we cannot read.
    Invalid,
    /// 4: local I/O failed (writing output, reading or writing the config file).
    Io,
}

impl Exit {
    /// The numeric process exit code.
    pub const fn code(self) -> u8 {
        match self {
            Exit::Success => 0,
            Exit::Usage => 1,
            Exit::Request => 2,
            Exit::Invalid => 3,
            Exit::Io => 4,
        }
    }
}

impl fmt::Display for Exit {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}", self.code())
    }
}

/// Everything that can make a netctl command fail.
#[derive(Debug, thiserror::Error)]
pub enum NetctlError {
    /// The command line is wrong; `show_help` asks for the command's help
    /// to be printed after the message (as the original's `errExit(…, true)`).
    #[error("{message}")]
    Usage {
        /// What is wrong, in the original's words where it had some.
        message: String,
        /// Print the command's help after the message.
        show_help: bool,
    },
    /// netmaster could not be reached.
    #[error("Error connecting to netmaster at {url}: {reason}")]
    Request {
        /// The URL that was tried.
        url: String,
        /// Why it failed (connection refused, unknown host, TLS, …).
        reason: String,
    },
    /// netmaster answered with a non-2xx status.
    #[error("{message}")]
    Http {
        /// The HTTP status code.
        status: u16,
        /// The server's error message (its response body).
        message: String,
    },
    /// netmaster answered 2xx but the body is not what the API promises.
    #[error("unexpected response from netmaster for {path}: {reason}")]
    BadResponse {
        /// The request path.
        path: String,
        /// What could not be decoded.
        reason: String,
    },
    /// The netctl config file (`~/.netctl/config.json`) is not usable.
    #[error("error processing netctl config {path}: {reason}")]
    Config {
        /// The config file path.
        path: String,
        /// What is wrong with it.
        reason: String,
    },
    /// Local I/O failed.
    #[error("{context}: {source}")]
    Io {
        /// What netctl was doing.
        context: String,
        /// The underlying error.
        source: std::io::Error,
    },
}

impl NetctlError {
    /// A usage error that prints the command's help after the message.
    pub fn usage_with_help(message: impl Into<String>) -> Self {
        NetctlError::Usage {
            message: message.into(),
            show_help: true,
        }
    }

    /// A usage error without the help text.
    pub fn usage(message: impl Into<String>) -> Self {
        NetctlError::Usage {
            message: message.into(),
            show_help: false,
        }
    }

    /// An I/O error with what netctl was doing at the time.
    pub fn io(context: impl Into<String>, source: std::io::Error) -> Self {
        NetctlError::Io {
            context: context.into(),
            source,
        }
    }

    /// The exit status this error ends netctl with.
    pub fn exit(&self) -> Exit {
        match self {
            NetctlError::Usage { .. } => Exit::Usage,
            NetctlError::Request { .. } => Exit::Request,
            NetctlError::Http { .. } | NetctlError::BadResponse { .. } => Exit::Invalid,
            NetctlError::Config { .. } => Exit::Invalid,
            NetctlError::Io { .. } => Exit::Io,
        }
    }
}
