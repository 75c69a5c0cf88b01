//! `netctl endpoint|ep inspect`.

use crate::netctl::error::NetctlError;
use crate::netctl::request::Request;
use crate::netctl::session::Session;
use clap::{Args, Subcommand};

/// Endpoint subcommands.
#[derive(Debug, Subcommand)]
pub enum EndpointCmd {
    /// Inspect an endpoint (matched by endpoint id, container id or container name)
    #[command(after_help = "Example:\n  netctl ep inspect 27eedc376ef4")]
    Inspect(EndpointRef),
}

/// An endpoint search key.
#[derive(Debug, Args)]
pub struct EndpointRef {
    /// Endpoint id, container id or container name (a substring is enough)
    #[arg(value_name = "EPID")]
    pub epid: String,
}

/// Runs an endpoint subcommand.
pub fn run(cmd: &EndpointCmd, s: &mut Session<'_>) -> Result<(), NetctlError> {
    match cmd {
        EndpointCmd::Inspect(r) => s.print_inspect(&Request::inspect_endpoint(&r.epid)),
    }
}
