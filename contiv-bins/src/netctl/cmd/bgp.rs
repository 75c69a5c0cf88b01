//! `netctl bgp create / ls / rm / inspect` (per-host BGP peering).

use super::{delete, list_all, post};
use crate::netctl::cli::OutputOpts;
use crate::netctl::error::NetctlError;
use crate::netctl::request::Request;
use crate::netctl::session::Session;
use clap::{Args, Subcommand};
use contiv_core::model::Bgp;
use std::net::IpAddr;

/// BGP subcommands.
#[derive(Debug, Subcommand)]
pub enum BgpCmd {
    /// List BGP configuration
    #[command(
        visible_alias = "list",
        after_help = "Examples:\n  netctl bgp ls\n  netctl bgp ls -q"
    )]
    Ls(OutputOpts),
    /// Delete BGP configuration
    #[command(
        visible_alias = "delete",
        after_help = "Example:\n  netctl bgp rm host1"
    )]
    Rm(BgpRef),
    /// Add BGP configuration
    #[command(after_help = "Example:
  netctl bgp create host1 --router-ip=50.1.1.1/24 --as=65002 --neighbor-as=500 --neighbor=50.1.1.2")]
    Create(BgpCreate),
    /// Inspect BGP
    #[command(after_help = "Example:\n  netctl bgp inspect host1")]
    Inspect(BgpRef),
}

/// A BGP host.
#[derive(Debug, Args)]
pub struct BgpRef {
    /// Host name (the netplugin host label)
    #[arg(value_name = "HOSTNAME")]
    pub hostname: String,
}

/// `bgp create` flags (all required).
#[derive(Debug, Args)]
pub struct BgpCreate {
    /// BGP my-router ip (A.B.C.D/len)
    #[arg(long = "router-ip", value_name = "CIDR")]
    pub router_ip: Option<String>,
    /// Self AS id
    #[arg(long = "as", value_name = "AS")]
    pub as_: Option<String>,
    /// BGP neighbor AS id
    #[arg(long = "neighbor-as", value_name = "AS")]
    pub neighbor_as: Option<String>,
    /// BGP neighbor to be added
    #[arg(long, value_name = "IP")]
    pub neighbor: Option<String>,
    /// Host name (the netplugin host label)
    #[arg(value_name = "HOSTNAME")]
    pub hostname: String,
}

impl BgpCreate {
    /// The BGP object to POST, after the original's checks.
    pub fn to_bgp(&self) -> Result<Bgp, NetctlError> {
        let v = |o: &Option<String>| o.clone().unwrap_or_default();
        let (router_ip, as_, neighbor_as, neighbor) = (
            v(&self.router_ip),
            v(&self.as_),
            v(&self.neighbor_as),
            v(&self.neighbor),
        );
        if router_ip.parse::<ipnet::IpNet>().is_err() {
            return Err(NetctlError::usage_with_help(
                "Wrong CIDR format. Enter in x.x.x.x/len format",
            ));
        }
        if neighbor.parse::<IpAddr>().is_err() {
            return Err(NetctlError::usage_with_help(
                "Wrong IP format. Enter in x.x.x.x format",
            ));
        }
        if as_.is_empty() || neighbor_as.is_empty() {
            return Err(NetctlError::usage_with_help("Missing attributes"));
        }
        Ok(Bgp {
            hostname: self.hostname.clone(),
            routerip: router_ip,
            as_,
            neighbor_as,
            neighbor,
            ..Default::default()
        })
    }
}

/// Runs a BGP subcommand.
pub fn run(cmd: &BgpCmd, s: &mut Session<'_>) -> Result<(), NetctlError> {
    match cmd {
        // `-q` works here (the original checked a misspelt "quite" flag).
        BgpCmd::Ls(output) => list_all::<Bgp>(s, output),
        BgpCmd::Rm(r) => {
            s.info(&format!("Deleting Bgp router config: {}", r.hostname))?;
            delete::<Bgp>(s, &r.hostname)
        }
        BgpCmd::Create(c) => {
            let bgp = c.to_bgp()?;
            post(s, &bgp)
        }
        BgpCmd::Inspect(r) => s.print_inspect(&Request::inspect::<Bgp>(&r.hostname)),
    }
}
