//! `netctl aci-gw set / info / inspect` (ACI gateway settings).

use super::post;
use crate::netctl::cli::TenantOpt;
use crate::netctl::error::NetctlError;
use crate::netctl::json_out::OrderedJson;
use crate::netctl::request::Request;
use crate::netctl::session::Session;
use crate::netctl::tables;
use clap::{Args, Subcommand};
use contiv_core::model::AciGw;

/// Name (and key) of the ACI gateway settings object.
pub const ACI_GW_KEY: &str = "aciGw";

/// ACI gateway subcommands.
#[derive(Debug, Subcommand)]
pub enum AciGwCmd {
    /// Show aci gateway information
    #[command(after_help = "Example:\n  netctl aci-gw info")]
    Info(AciGwInfo),
    /// Inspect aci gateway operational information
    #[command(after_help = "Example:\n  netctl aci-gw inspect")]
    Inspect,
    /// Set aci-gw parameters (every setting is replaced by the flags' values)
    #[command(after_help = "Example:
  netctl aci-gw set -p topology/pod-1/paths-101/pathep-[eth1/14] -n topology/pod-1/node-101 -d containerDom")]
    Set(AciGwSet),
}

/// `aci-gw info` flags (`-t`/`-a` accepted for compatibility, ignored).
#[derive(Debug, Args)]
pub struct AciGwInfo {
    /// Accepted for compatibility; ignored.
    #[command(flatten)]
    pub tenant: TenantOpt,
    /// Accepted for compatibility; ignored
    #[arg(short = 'a', long)]
    pub all: bool,
    /// Output in JSON format
    #[arg(short = 'j', long)]
    pub json: bool,
}

/// `aci-gw set` flags.
#[derive(Debug, Args)]
pub struct AciGwSet {
    /// Blank or comma separated paths of the form topology/pod-1/paths-101/pathep-[eth1/14]
    #[arg(short = 'p', long = "path-bindings", value_name = "PATHS")]
    pub path_bindings: Option<String>,
    /// Blank or comma separated nodes of the form topology/pod-1/node-101
    #[arg(short = 'n', long = "node-bindings", value_name = "NODES")]
    pub node_bindings: Option<String>,
    /// ACI physical domain name (e.g. containerDom)
    #[arg(short = 'd', long = "phys-dom", value_name = "DOMAIN")]
    pub phys_dom: Option<String>,
    /// Should security policies be enforced (yes,no)
    #[arg(
        short = 'e',
        long = "enforce-policies",
        default_value = "yes",
        value_name = "YES_NO"
    )]
    pub enforce_policies: String,
    /// Should gateway look up objects in common tenant as well (yes,no)
    #[arg(
        short = 'i',
        long = "include-common-tenant",
        default_value = "no",
        value_name = "YES_NO"
    )]
    pub include_common_tenant: String,
}

impl AciGwSet {
    /// The settings to POST: as the original, every field is set from the
    /// flags (missing ones become empty), on top of the existing object.
    pub fn apply(&self, current: Option<AciGw>) -> AciGw {
        let mut gw = current.unwrap_or_default();
        gw.name = ACI_GW_KEY.to_owned();
        gw.enforce_policies = self.enforce_policies.clone();
        gw.include_common_tenant = self.include_common_tenant.clone();
        gw.node_bindings = self.node_bindings.clone().unwrap_or_default();
        gw.path_bindings = self.path_bindings.clone().unwrap_or_default();
        gw.physical_domain = self.phys_dom.clone().unwrap_or_default();
        gw
    }
}

/// Runs an ACI gateway subcommand.
pub fn run(cmd: &AciGwCmd, s: &mut Session<'_>) -> Result<(), NetctlError> {
    match cmd {
        AciGwCmd::Info(info) => {
            let listed = s.fetch_list::<AciGw>(&Request::list::<AciGw>())?;
            if info.json {
                let raw: Vec<&OrderedJson> = listed.iter().map(|l| &l.raw).collect();
                s.print_json(&raw)
            } else {
                let gws: Vec<AciGw> = listed.into_iter().map(|l| l.obj).collect();
                s.print(&tables::aci_gw_info(&gws))
            }
        }
        AciGwCmd::Inspect => s.print_inspect(&Request::inspect::<AciGw>(ACI_GW_KEY)),
        AciGwCmd::Set(set) => {
            // A missing object is created (the original ignored the GET error).
            let current = s.fetch::<AciGw>(&Request::get::<AciGw>(ACI_GW_KEY)).ok();
            post(s, &set.apply(current))
        }
    }
}
