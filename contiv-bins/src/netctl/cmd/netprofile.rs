//! `netctl netprofile create / ls / inspect / rm`.

use super::{delete, key, list_in_tenant, post};
use crate::netctl::cli::{ListOpts, TenantOpt};
use crate::netctl::error::NetctlError;
use crate::netctl::request::Request;
use crate::netctl::session::Session;
use clap::{Args, Subcommand};
use contiv_core::model::Netprofile;

/// Network profile subcommands.
#[derive(Debug, Subcommand)]
pub enum NetprofileCmd {
    /// Create a network profile
    #[command(after_help = "Example:\n  netctl netprofile create -b 100Mbps -d 6 -s 80 gold")]
    Create(NetprofileCreate),
    /// Delete a network profile
    #[command(
        visible_alias = "delete",
        after_help = "Example:\n  netctl netprofile rm gold"
    )]
    Rm(NetprofileRef),
    /// List network profiles
    #[command(
        visible_alias = "list",
        after_help = "Example:\n  netctl netprofile ls -a"
    )]
    Ls(ListOpts),
    /// Inspect a network profile
    #[command(after_help = "Example:\n  netctl netprofile inspect gold")]
    Inspect(NetprofileRef),
}

/// A network profile of a tenant.
#[derive(Debug, Args)]
pub struct NetprofileRef {
    /// Tenant of the profile.
    #[command(flatten)]
    pub tenant: TenantOpt,
    /// Profile name
    #[arg(value_name = "NETPROFILE")]
    pub name: String,
}

/// `netprofile create` flags.
#[derive(Debug, Args)]
pub struct NetprofileCreate {
    /// Tenant of the profile.
    #[command(flatten)]
    pub tenant: TenantOpt,
    /// Bandwidth (e.g., 10 kbps, 100 mbps, 1gbps)
    #[arg(short = 'b', long, value_name = "RATE")]
    pub bandwidth: Option<String>,
    /// DSCP value to mark packets with (0-63)
    #[arg(short = 'd', long, default_value_t = 0, value_name = "DSCP")]
    pub dscp: i64,
    /// Burst size (must be in kilobytes)
    #[arg(short = 's', long, default_value_t = 0, value_name = "KBYTES")]
    pub burst: i64,
    /// Profile name
    #[arg(value_name = "NETPROFILE")]
    pub name: String,
}

impl NetprofileCreate {
    /// The profile object to POST.
    pub fn to_netprofile(&self) -> Netprofile {
        Netprofile {
            tenant_name: self.tenant.tenant.clone(),
            profile_name: self.name.clone(),
            bandwidth: self.bandwidth.clone().unwrap_or_default(),
            dscp: self.dscp,
            burst: self.burst,
            ..Default::default()
        }
    }
}

/// Runs a network profile subcommand.
pub fn run(cmd: &NetprofileCmd, s: &mut Session<'_>) -> Result<(), NetctlError> {
    match cmd {
        NetprofileCmd::Create(c) => {
            let p = c.to_netprofile();
            post(s, &p)?;
            s.info(&format!(
                "Creating netprofile {}:{}",
                p.tenant_name, p.profile_name
            ))
        }
        NetprofileCmd::Rm(r) => delete::<Netprofile>(s, &key(&r.tenant.tenant, &r.name)),
        NetprofileCmd::Ls(opts) => list_in_tenant::<Netprofile>(s, opts),
        NetprofileCmd::Inspect(r) => s.print_inspect(&Request::inspect::<Netprofile>(&key(
            &r.tenant.tenant,
            &r.name,
        ))),
    }
}
