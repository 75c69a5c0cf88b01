//! `netctl external-contracts create / ls / rm` (ACI external contracts).

use super::{delete, key, list_in_tenant, post, split_list};
use crate::netctl::cli::{ListOpts, TenantOpt};
use crate::netctl::error::NetctlError;
use crate::netctl::session::Session;
use clap::{Args, Subcommand};
use contiv_core::model::ExtContractsGroup;

/// External contracts subcommands.
#[derive(Debug, Subcommand)]
pub enum ExtContractsCmd {
    /// List external contracts
    #[command(
        visible_alias = "list",
        after_help = "Example:\n  netctl external-contracts ls -a"
    )]
    Ls(ListOpts),
    /// Delete external contracts
    #[command(
        visible_alias = "delete",
        after_help = "Example:\n  netctl external-contracts rm common-contracts"
    )]
    Rm(ExtContractsRef),
    /// Create external contracts
    #[command(after_help = "Example:
  netctl external-contracts create -c -a uni/tn-common/brc-default common-contracts")]
    Create(ExtContractsCreate),
}

/// An external contracts group of a tenant.
#[derive(Debug, Args)]
pub struct ExtContractsRef {
    /// Tenant of the group.
    #[command(flatten)]
    pub tenant: TenantOpt,
    /// Contracts group name
    #[arg(value_name = "NAME")]
    pub name: String,
}

/// `external-contracts create` flags.
#[derive(Debug, Args)]
pub struct ExtContractsCreate {
    /// Tenant of the group.
    #[command(flatten)]
    pub tenant: TenantOpt,
    /// External contracts type - consumed
    #[arg(short = 'c', long)]
    pub consumed: bool,
    /// External contracts type - provided
    #[arg(short = 'p', long)]
    pub provided: bool,
    /// Contract DN (repeatable, at least one)
    #[arg(short = 'a', long = "contract", value_name = "DN")]
    pub contract: Vec<String>,
    /// Contracts group name
    #[arg(value_name = "NAME")]
    pub name: String,
}

impl ExtContractsCreate {
    /// The contracts group to POST, after the original's checks.
    pub fn to_group(&self) -> Result<ExtContractsGroup, NetctlError> {
        let contracts_type = match (self.provided, self.consumed) {
            (true, true) => {
                return Err(NetctlError::usage("Cannot use both provided and consumed"));
            }
            (true, false) => "provided",
            (false, true) => "consumed",
            (false, false) => {
                return Err(NetctlError::usage(
                    "Either provided or consumed must be specified",
                ));
            }
        };
        let contracts = split_list(&self.contract);
        if contracts.is_empty() {
            return Err(NetctlError::usage("Contracts not provided"));
        }
        Ok(ExtContractsGroup {
            tenant_name: self.tenant.tenant.clone(),
            contracts_group_name: self.name.clone(),
            contracts_type: contracts_type.to_owned(),
            contracts,
            ..Default::default()
        })
    }
}

/// Runs an external contracts subcommand.
pub fn run(cmd: &ExtContractsCmd, s: &mut Session<'_>) -> Result<(), NetctlError> {
    match cmd {
        ExtContractsCmd::Ls(opts) => list_in_tenant::<ExtContractsGroup>(s, opts),
        ExtContractsCmd::Rm(r) => {
            s.info(&format!(
                "Deleting external contracts group {} in tenant {}",
                r.name, r.tenant.tenant
            ))?;
            delete::<ExtContractsGroup>(s, &key(&r.tenant.tenant, &r.name))
        }
        ExtContractsCmd::Create(c) => {
            let group = c.to_group()?;
            post(s, &group)?;
            s.info(&format!(
                "Creating ExternalContracts {}:{}",
                group.tenant_name, group.contracts_group_name
            ))
        }
    }
}
