//! `netctl group create / ls / inspect / rm` (endpoint groups).

use super::{delete, key, list_in_tenant, post, split_list};
use crate::netctl::cli::{ListOpts, TenantOpt};
use crate::netctl::error::NetctlError;
use crate::netctl::request::Request;
use crate::netctl::session::Session;
use clap::{Args, Subcommand};
use contiv_core::model::EndpointGroup;

/// Endpoint group subcommands.
#[derive(Debug, Subcommand)]
pub enum GroupCmd {
    /// Create an endpoint group
    #[command(after_help = "Examples:
  netctl group create contiv-net web -policy=prod-web
  netctl group create -t blue -p db-policy -p audit -r 10.1.2.10-10.1.2.20 contiv-net db")]
    Create(GroupCreate),
    /// Inspect an endpoint group
    #[command(after_help = "Example:\n  netctl group inspect web")]
    Inspect(GroupRef),
    /// Delete an endpoint group
    #[command(
        visible_alias = "delete",
        after_help = "Example:\n  netctl group rm -t blue db"
    )]
    Rm(GroupRef),
    /// List endpoint groups
    #[command(
        visible_alias = "list",
        after_help = "Examples:\n  netctl group ls\n  netctl group ls -a -q"
    )]
    Ls(ListOpts),
}

/// An endpoint group of a tenant.
#[derive(Debug, Args)]
pub struct GroupRef {
    /// Tenant of the group.
    #[command(flatten)]
    pub tenant: TenantOpt,
    /// Group name
    #[arg(value_name = "GROUP")]
    pub name: String,
}

/// `group create` flags.
#[derive(Debug, Args)]
pub struct GroupCreate {
    /// Tenant of the group.
    #[command(flatten)]
    pub tenant: TenantOpt,
    /// Policy to attach (repeat the flag, or separate names with commas)
    #[arg(short = 'p', long, value_name = "POLICY")]
    pub policy: Vec<String>,
    /// Network profile
    #[arg(short = 'n', long, value_name = "NETPROFILE")]
    pub networkprofile: Option<String>,
    /// External contracts group (repeatable)
    #[arg(short = 'e', long = "external-contract", value_name = "CONTRACTS")]
    pub external_contract: Vec<String>,
    /// IP address range of the group, example 10.36.0.1-10.36.0.10
    #[arg(short = 'r', long = "ip-pool", value_name = "RANGE")]
    pub ip_pool: Option<String>,
    /// Configured Group Tag
    #[arg(long = "epg-tag", visible_alias = "tag", value_name = "TAG")]
    pub epg_tag: Option<String>,
    /// Network the group belongs to
    #[arg(value_name = "NETWORK")]
    pub network: String,
    /// Group name
    #[arg(value_name = "GROUP")]
    pub group: String,
}

impl GroupCreate {
    /// The endpoint group object to POST.
    pub fn to_group(&self) -> EndpointGroup {
        EndpointGroup {
            tenant_name: self.tenant.tenant.clone(),
            network_name: self.network.clone(),
            group_name: self.group.clone(),
            net_profile: self.networkprofile.clone().unwrap_or_default(),
            ip_pool: self.ip_pool.clone().unwrap_or_default(),
            policies: split_list(&self.policy),
            ext_contracts_grps: split_list(&self.external_contract),
            cfgd_tag: self.epg_tag.clone().unwrap_or_default(),
            ..Default::default()
        }
    }
}

/// Runs an endpoint group subcommand.
pub fn run(cmd: &GroupCmd, s: &mut Session<'_>) -> Result<(), NetctlError> {
    match cmd {
        GroupCmd::Create(c) => {
            let group = c.to_group();
            post(s, &group)?;
            s.info(&format!(
                "Creating EndpointGroup {}:{}",
                group.tenant_name, group.group_name
            ))
        }
        GroupCmd::Inspect(r) => s.print_inspect(&Request::inspect::<EndpointGroup>(&key(
            &r.tenant.tenant,
            &r.name,
        ))),
        GroupCmd::Rm(r) => delete::<EndpointGroup>(s, &key(&r.tenant.tenant, &r.name)),
        GroupCmd::Ls(opts) => list_in_tenant::<EndpointGroup>(s, opts),
    }
}
