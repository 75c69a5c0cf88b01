//! `netctl network|net create / ls / inspect / rm`.

use super::{delete, key, list_in_tenant, post};
use crate::netctl::cli::{ListOpts, TenantOpt};
use crate::netctl::error::NetctlError;
use crate::netctl::request::Request;
use crate::netctl::session::Session;
use clap::{Args, Subcommand};
use contiv_core::model::Network;
use std::net::IpAddr;

/// Network subcommands.
#[derive(Debug, Subcommand)]
pub enum NetworkCmd {
    /// List networks
    #[command(
        visible_alias = "list",
        after_help = "Examples:\n  netctl net ls\n  netctl net ls -t blue\n  netctl net ls -a -j"
    )]
    Ls(ListOpts),
    /// Inspect a network (configuration and operational state)
    #[command(after_help = "Example:\n  netctl net inspect -t blue contiv-net")]
    Inspect(NetworkRef),
    /// Delete a network
    #[command(
        visible_alias = "delete",
        after_help = "Example:\n  netctl net rm -t blue contiv-net"
    )]
    Rm(NetworkRef),
    /// Create a network
    #[command(after_help = "Examples:
  netctl net create --subnet=20.1.1.0/24 --gateway=20.1.1.254 --pkt-tag=1001 contiv-net
  netctl net create -p 112 -e vlan -s 10.1.3.0/24 contiv-vlan
  netctl net create -t blue -s 10.1.2.0/24 -s6 2001::/100 contiv-net")]
    Create(NetworkCreate),
}

/// A network of a tenant.
#[derive(Debug, Args)]
pub struct NetworkRef {
    /// Tenant of the network.
    #[command(flatten)]
    pub tenant: TenantOpt,
    /// Network name
    #[arg(value_name = "NETWORK")]
    pub name: String,
}

/// `net create` flags.
#[derive(Debug, Args)]
pub struct NetworkCreate {
    /// Tenant of the network.
    #[command(flatten)]
    pub tenant: TenantOpt,
    /// Network Type (infra or data)
    #[arg(
        short = 'n',
        long = "nw-type",
        default_value = "data",
        value_name = "TYPE"
    )]
    pub nw_type: String,
    /// Encap type (vlan or vxlan)
    #[arg(short = 'e', long, default_value = "vxlan", value_name = "ENCAP")]
    pub encap: String,
    /// Packet tag (Vlan ID/VNI); 0 allocates one
    #[arg(short = 'p', long = "pkt-tag", default_value_t = 0, value_name = "TAG")]
    pub pkt_tag: i64,
    /// Subnet CIDR, optionally with an address range (A.B.C.D-E.F.G.H/len) - REQUIRED
    #[arg(short = 's', long, value_name = "CIDR")]
    pub subnet: Option<String>,
    /// Gateway
    #[arg(short = 'g', long, value_name = "IP")]
    pub gateway: Option<String>,
    /// IPv6 Subnet CIDR
    #[arg(long = "subnetv6", visible_alias = "s6", value_name = "CIDR")]
    pub subnetv6: Option<String>,
    /// IPv6 Gateway
    #[arg(long = "gatewayv6", visible_alias = "g6", value_name = "IP")]
    pub gatewayv6: Option<String>,
    /// Configured Network Tag
    #[arg(long = "nw-tag", visible_alias = "tag", value_name = "TAG")]
    pub nw_tag: Option<String>,
    /// Network name
    #[arg(value_name = "NETWORK")]
    pub name: String,
}

impl NetworkCreate {
    /// The network object to POST, after the original's client-side checks
    /// (subnet required, gateways must parse as IP addresses).
    pub fn to_network(&self) -> Result<Network, NetctlError> {
        let subnet = self.subnet.clone().unwrap_or_default();
        if subnet.is_empty() {
            return Err(NetctlError::usage_with_help("Subnet is required"));
        }
        let gateway = self.gateway.clone().unwrap_or_default();
        if !gateway.is_empty() && gateway.parse::<IpAddr>().is_err() {
            return Err(NetctlError::usage_with_help(
                "Invalid gateway - Enter in A.B.C.D format",
            ));
        }
        let gatewayv6 = self.gatewayv6.clone().unwrap_or_default();
        if !gatewayv6.is_empty() && gatewayv6.parse::<IpAddr>().is_err() {
            return Err(NetctlError::usage_with_help("Invalid IPv6 gateway"));
        }
        Ok(Network {
            tenant_name: self.tenant.tenant.clone(),
            network_name: self.name.clone(),
            encap: self.encap.clone(),
            subnet,
            gateway,
            ipv6_subnet: self.subnetv6.clone().unwrap_or_default(),
            ipv6_gateway: gatewayv6,
            pkt_tag: self.pkt_tag,
            nw_type: self.nw_type.clone(),
            cfgd_tag: self.nw_tag.clone().unwrap_or_default(),
            ..Default::default()
        })
    }
}

/// Runs a network subcommand.
pub fn run(cmd: &NetworkCmd, s: &mut Session<'_>) -> Result<(), NetctlError> {
    match cmd {
        NetworkCmd::Ls(opts) => list_in_tenant::<Network>(s, opts),
        NetworkCmd::Inspect(r) => s.print_inspect(&Request::inspect::<Network>(&key(
            &r.tenant.tenant,
            &r.name,
        ))),
        NetworkCmd::Rm(r) => {
            s.info(&format!("Deleting network {}:{}", r.tenant.tenant, r.name))?;
            delete::<Network>(s, &key(&r.tenant.tenant, &r.name))
        }
        NetworkCmd::Create(c) => {
            let net = c.to_network()?;
            post(s, &net)?;
            s.info(&format!(
                "Creating network {}:{}",
                net.tenant_name, net.network_name
            ))
        }
    }
}
