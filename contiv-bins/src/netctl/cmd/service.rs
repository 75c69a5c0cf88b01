//! `netctl service create / ls / inspect / rm` (service load balancers).

use super::{delete, key, list_in_tenant, post};
use crate::netctl::cli::{ListOpts, TenantOpt};
use crate::netctl::error::NetctlError;
use crate::netctl::request::Request;
use crate::netctl::session::Session;
use clap::{Args, Subcommand};
use contiv_core::model::ServiceLB;

/// Service subcommands.
#[derive(Debug, Subcommand)]
pub enum ServiceCmd {
    /// List service objects
    #[command(
        visible_alias = "list",
        after_help = "Example:\n  netctl service ls -a"
    )]
    Ls(ListOpts),
    /// Inspect a service
    #[command(after_help = "Example:\n  netctl service inspect web-svc")]
    Inspect(ServiceRef),
    /// Delete service object
    #[command(
        visible_alias = "delete",
        after_help = "Example:\n  netctl service rm web-svc"
    )]
    Rm(ServiceRef),
    /// Create Service object (only for docker version <= 1.12.x)
    #[command(after_help = "Example:
  netctl service create -s contiv-net -l app=web -p 80:8080:TCP --preferred-ip 20.1.1.100 web-svc")]
    Create(ServiceCreate),
}

/// A service of a tenant.
#[derive(Debug, Args)]
pub struct ServiceRef {
    /// Tenant of the service.
    #[command(flatten)]
    pub tenant: TenantOpt,
    /// Service name
    #[arg(value_name = "SERVICE")]
    pub name: String,
}

/// `service create` flags.
#[derive(Debug, Args)]
pub struct ServiceCreate {
    /// Tenant of the service.
    #[command(flatten)]
    pub tenant: TenantOpt,
    /// Service network name (the VIP is taken from it)
    #[arg(short = 's', long, value_name = "NETWORK")]
    pub network: Option<String>,
    /// Service selector, key=value (repeatable: --selector=key1=value1 --selector=key2=value2)
    #[arg(short = 'l', long, value_name = "KEY=VALUE")]
    pub selector: Vec<String>,
    /// Service/provider port, svcPort:provPort:protocol (repeatable)
    #[arg(short = 'p', long, value_name = "SVC:PROV:PROTO")]
    pub port: Vec<String>,
    /// Preferred ip address of the service
    #[arg(long = "preferred-ip", visible_alias = "ip", value_name = "IP")]
    pub preferred_ip: Option<String>,
    /// Service name
    #[arg(value_name = "SERVICE")]
    pub name: String,
}

impl ServiceCreate {
    /// The service object to POST.
    pub fn to_service(&self) -> ServiceLB {
        ServiceLB {
            tenant_name: self.tenant.tenant.clone(),
            service_name: self.name.clone(),
            network_name: self.network.clone().unwrap_or_default(),
            ip_address: self.preferred_ip.clone().unwrap_or_default(),
            selectors: self.selector.clone(),
            ports: self.port.clone(),
            ..Default::default()
        }
    }
}

/// Runs a service subcommand.
pub fn run(cmd: &ServiceCmd, s: &mut Session<'_>) -> Result<(), NetctlError> {
    match cmd {
        ServiceCmd::Ls(opts) => list_in_tenant::<ServiceLB>(s, opts),
        ServiceCmd::Inspect(r) => s.print_inspect(&Request::inspect::<ServiceLB>(&key(
            &r.tenant.tenant,
            &r.name,
        ))),
        ServiceCmd::Rm(r) => {
            s.info(&format!("Deleting Service  {},{}", r.name, r.tenant.tenant))?;
            delete::<ServiceLB>(s, &key(&r.tenant.tenant, &r.name))
        }
        ServiceCmd::Create(c) => {
            let svc = c.to_service();
            post(s, &svc)?;
            s.info(&format!(
                "Creating ServiceLB {}:{}",
                svc.tenant_name, svc.service_name
            ))
        }
    }
}
