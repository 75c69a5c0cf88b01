//! `netctl global info / inspect / set`.

use super::post;
use crate::netctl::cli::TenantOpt;
use crate::netctl::error::NetctlError;
use crate::netctl::json_out::OrderedJson;
use crate::netctl::request::Request;
use crate::netctl::session::Session;
use crate::netctl::tables;
use clap::{Args, Subcommand};
use contiv_core::model::Global;

/// Name (and key) of the global settings object.
pub const GLOBAL_KEY: &str = "global";

/// Global subcommands.
#[derive(Debug, Subcommand)]
pub enum GlobalCmd {
    /// Show global information
    #[command(after_help = "Examples:\n  netctl global info\n  netctl global info -j")]
    Info(GlobalInfo),
    /// Inspect global operational information
    #[command(after_help = "Example:\n  netctl global inspect")]
    Inspect,
    /// Set global parameters (only the flags given are changed)
    #[command(after_help = "Examples:
  netctl global set --fwd-mode routing
  netctl global set -v 100-200 -x 10000-20000 -a flood")]
    Set(GlobalSet),
}

/// `global info` flags (`-t` and `-a` are accepted for compatibility and
/// have no effect: there is one global object).
#[derive(Debug, Args)]
pub struct GlobalInfo {
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

/// `global set` flags.
#[derive(Debug, Args)]
pub struct GlobalSet {
    /// Fabric mode (aci, aci-opflex or default)
    #[arg(short = 'f', long = "fabric-mode", value_name = "MODE")]
    pub fabric_mode: Option<String>,
    /// Allowed Vlan id range (e.g. 1-4094)
    #[arg(short = 'v', long = "vlan-range", value_name = "RANGE")]
    pub vlan_range: Option<String>,
    /// Allowed Vxlan VNID range (e.g. 1-10000)
    #[arg(short = 'x', long = "vxlan-range", value_name = "RANGE")]
    pub vxlan_range: Option<String>,
    /// Forwarding mode (bridge,routing)
    #[arg(short = 'b', long = "fwd-mode", value_name = "MODE")]
    pub fwd_mode: Option<String>,
    /// ARP mode (proxy,flood)
    #[arg(short = 'a', long = "arp-mode", value_name = "MODE")]
    pub arp_mode: Option<String>,
    /// Select a /16 private subnet for host access (unchanged unless given; the original always re-sent 172.19.0.0/16)
    #[arg(short = 's', long = "private-subnet", value_name = "CIDR")]
    pub private_subnet: Option<String>,
}

impl GlobalSet {
    /// The settings to POST: `current` with only the flags the user gave
    /// (and non-empty) applied. Everything else, the private subnet
    /// included, is sent back as it was.
    pub fn overlay(&self, current: Global) -> Global {
        let mut g = current;
        let set = |field: &mut String, v: &Option<String>| {
            if let Some(v) = v.as_deref().filter(|v| !v.is_empty()) {
                *field = v.to_owned();
            }
        };
        set(&mut g.network_infra_type, &self.fabric_mode);
        set(&mut g.vlans, &self.vlan_range);
        set(&mut g.vxlans, &self.vxlan_range);
        set(&mut g.fwd_mode, &self.fwd_mode);
        set(&mut g.arp_mode, &self.arp_mode);
        set(&mut g.pvt_subnet, &self.private_subnet);
        if g.name.is_empty() {
            g.name = GLOBAL_KEY.to_owned();
        }
        g
    }
}

/// Runs a global subcommand.
pub fn run(cmd: &GlobalCmd, s: &mut Session<'_>) -> Result<(), NetctlError> {
    match cmd {
        GlobalCmd::Info(info) => {
            let listed = s.fetch_list::<Global>(&Request::list::<Global>())?;
            if info.json {
                let raw: Vec<&OrderedJson> = listed.iter().map(|l| &l.raw).collect();
                s.print_json(&raw)
            } else {
                let globals: Vec<Global> = listed.into_iter().map(|l| l.obj).collect();
                s.print(&tables::global_info(&globals))
            }
        }
        GlobalCmd::Inspect => s.print_inspect(&Request::inspect::<Global>(GLOBAL_KEY)),
        GlobalCmd::Set(set) => {
            let current: Global = s.fetch(&Request::get::<Global>(GLOBAL_KEY))?;
            post(s, &set.overlay(current))
        }
    }
}
