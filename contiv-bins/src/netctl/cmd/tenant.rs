//! `netctl tenant create / ls / inspect / rm`.

use super::{delete, list_all, post};
use crate::netctl::cli::OutputOpts;
use crate::netctl::error::NetctlError;
use crate::netctl::request::Request;
use crate::netctl::session::Session;
use clap::{Args, Subcommand};
use contiv_core::model::Tenant;

/// Tenant subcommands.
#[derive(Debug, Subcommand)]
pub enum TenantCmd {
    /// List tenants
    #[command(visible_alias = "list", after_help = "Example:\n  netctl tenant ls")]
    Ls(OutputOpts),
    /// Delete a tenant
    #[command(
        visible_alias = "delete",
        after_help = "Example:\n  netctl tenant rm blue"
    )]
    Rm(TenantRef),
    /// Create a tenant
    #[command(after_help = "Example:\n  netctl tenant create blue")]
    Create(TenantRef),
    /// Inspect a tenant
    #[command(after_help = "Example:\n  netctl tenant inspect blue")]
    Inspect(TenantRef),
}

/// A tenant name.
#[derive(Debug, Args)]
pub struct TenantRef {
    /// Tenant name
    #[arg(value_name = "TENANT")]
    pub name: String,
}

/// Runs a tenant subcommand.
pub fn run(cmd: &TenantCmd, s: &mut Session<'_>) -> Result<(), NetctlError> {
    match cmd {
        TenantCmd::Ls(output) => list_all::<Tenant>(s, output),
        TenantCmd::Rm(r) => {
            s.info(&format!("Deleting tenant {}", r.name))?;
            delete::<Tenant>(s, &r.name)
        }
        TenantCmd::Create(r) => {
            let tenant = Tenant {
                tenant_name: r.name.clone(),
                ..Default::default()
            };
            post(s, &tenant)?;
            s.info(&format!("Creating tenant: {}", r.name))
        }
        TenantCmd::Inspect(r) => s.print_inspect(&Request::inspect::<Tenant>(&r.name)),
    }
}
