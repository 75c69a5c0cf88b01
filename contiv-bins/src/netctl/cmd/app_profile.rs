//! `netctl app-profile create / update / ls / rm / group-ls`.

use super::{delete, key, list_in_tenant, post, split_list};
use crate::netctl::cli::{ListOpts, OutputOpts, TenantOpt};
use crate::netctl::error::NetctlError;
use crate::netctl::json_out::OrderedJson;
use crate::netctl::request::Request;
use crate::netctl::session::Session;
use clap::{Args, Subcommand};
use contiv_core::model::AppProfile;

/// Application profile subcommands.
#[derive(Debug, Subcommand)]
pub enum AppProfileCmd {
    /// Create an application profile
    #[command(after_help = "Example:\n  netctl app-profile create -g web,db shop")]
    Create(AppProfileSet),
    /// Update an application profile (replaces its group list)
    #[command(after_help = "Example:\n  netctl app-profile update -g web,db,cache shop")]
    Update(AppProfileSet),
    /// Delete an application profile
    #[command(
        visible_alias = "delete",
        after_help = "Example:\n  netctl app-profile rm shop"
    )]
    Rm(AppProfileRef),
    /// List application profiles
    #[command(
        visible_alias = "list",
        after_help = "Example:\n  netctl app-profile ls -a"
    )]
    Ls(ListOpts),
    /// List groups in an app-profile
    #[command(
        name = "group-ls",
        visible_alias = "group-list",
        after_help = "Example:\n  netctl app-profile group-ls shop"
    )]
    GroupLs(AppProfileGroups),
}

/// An application profile of a tenant.
#[derive(Debug, Args)]
pub struct AppProfileRef {
    /// Tenant of the profile.
    #[command(flatten)]
    pub tenant: TenantOpt,
    /// Application profile name
    #[arg(value_name = "APP_PROFILE")]
    pub name: String,
}

/// `app-profile create|update` flags.
#[derive(Debug, Args)]
pub struct AppProfileSet {
    /// Tenant of the profile.
    #[command(flatten)]
    pub tenant: TenantOpt,
    /// Endpoint Group List (separated by commas)
    #[arg(short = 'g', long, value_name = "GROUPS")]
    pub group: Option<String>,
    /// Application profile name
    #[arg(value_name = "APP_PROFILE")]
    pub name: String,
}

impl AppProfileSet {
    /// The profile object to POST.
    pub fn to_app_profile(&self) -> AppProfile {
        AppProfile {
            tenant_name: self.tenant.tenant.clone(),
            app_profile_name: self.name.clone(),
            endpoint_groups: split_list(self.group.as_slice()),
            ..Default::default()
        }
    }
}

/// `app-profile group-ls` flags.
#[derive(Debug, Args)]
pub struct AppProfileGroups {
    /// Tenant of the profile.
    #[command(flatten)]
    pub tenant: TenantOpt,
    /// Accepted for compatibility; ignored
    #[arg(short = 'a', long)]
    pub all: bool,
    /// Output format.
    #[command(flatten)]
    pub output: OutputOpts,
    /// Application profile name
    #[arg(value_name = "APP_PROFILE")]
    pub name: String,
}

/// Runs an application profile subcommand.
pub fn run(cmd: &AppProfileCmd, s: &mut Session<'_>) -> Result<(), NetctlError> {
    match cmd {
        AppProfileCmd::Create(c) => {
            let p = c.to_app_profile();
            post(s, &p)?;
            s.info(&format!(
                "Creating AppProfile {}:{}",
                p.tenant_name, p.app_profile_name
            ))
        }
        AppProfileCmd::Update(c) => post(s, &c.to_app_profile()),
        AppProfileCmd::Rm(r) => delete::<AppProfile>(s, &key(&r.tenant.tenant, &r.name)),
        AppProfileCmd::Ls(opts) => list_in_tenant::<AppProfile>(s, opts),
        AppProfileCmd::GroupLs(g) => {
            let req = Request::get::<AppProfile>(&key(&g.tenant.tenant, &g.name));
            if g.output.json {
                let body = s.call(&req)?;
                let raw = OrderedJson::parse(&body).map_err(|e| NetctlError::BadResponse {
                    path: req.path.clone(),
                    reason: e.to_string(),
                })?;
                s.print_json(&raw)
            } else {
                let p: AppProfile = s.fetch(&req)?;
                let sep = if g.output.quiet { "\n" } else { "," };
                s.print(&format!("{}\n", p.endpoint_groups.join(sep)))
            }
        }
    }
}
