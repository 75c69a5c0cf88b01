//! `netctl policy create / ls / inspect / rm / rule-add / rule-rm / rule-ls`.

use super::{delete, key, list_in_tenant, post};
use crate::netctl::cli::{ListOpts, OutputOpts, TenantOpt};
use crate::netctl::error::NetctlError;
use crate::netctl::json_out::OrderedJson;
use crate::netctl::request::Request;
use crate::netctl::session::Session;
use crate::netctl::tables;
use clap::{Args, Subcommand};
use contiv_core::model::{Policy, Rule};

/// Policy subcommands.
// Parsed once per process: the size difference of the variants is irrelevant.
#[allow(clippy::large_enum_variant)]
#[derive(Debug, Subcommand)]
pub enum PolicyCmd {
    /// Create a new policy
    #[command(after_help = "Example:\n  netctl policy create prod-web")]
    Create(PolicyRef),
    /// Delete a policy (its rules are deleted with it)
    #[command(
        visible_alias = "delete",
        after_help = "Example:\n  netctl policy rm prod-web"
    )]
    Rm(PolicyRef),
    /// List policies
    #[command(
        visible_alias = "list",
        after_help = "Example:\n  netctl policy ls -t blue"
    )]
    Ls(ListOpts),
    /// Inspect a policy
    #[command(after_help = "Example:\n  netctl policy inspect prod-web")]
    Inspect(PolicyRef),
    /// List rules for a given tenant,policy (ascending priority)
    #[command(
        name = "rule-ls",
        after_help = "Example:\n  netctl policy rule-ls prod-web"
    )]
    RuleLs(RuleLs),
    /// Delete a rule from the policy
    #[command(
        name = "rule-rm",
        after_help = "Example:\n  netctl policy rule-rm prod-web 2"
    )]
    RuleRm(RuleRef),
    /// Add a new rule to the policy
    #[command(
        name = "rule-add",
        after_help = "Examples:
  netctl policy rule-add prod-web 1 -direction=in -protocol=tcp -action=deny
  netctl policy rule-add prod-web 2 -direction=in -protocol=tcp -port=80 -action=allow -priority=10
  netctl policy rule-add prod-web 3 -d out -e db -l tcp -P 5432 -j allow -p 10"
    )]
    RuleAdd(RuleAdd),
}

/// A policy of a tenant.
#[derive(Debug, Args)]
pub struct PolicyRef {
    /// Tenant of the policy.
    #[command(flatten)]
    pub tenant: TenantOpt,
    /// Policy name
    #[arg(value_name = "POLICY")]
    pub name: String,
}

/// `rule-ls` flags.
#[derive(Debug, Args)]
pub struct RuleLs {
    /// Tenant of the policy.
    #[command(flatten)]
    pub tenant: TenantOpt,
    /// Output format.
    #[command(flatten)]
    pub output: OutputOpts,
    /// Policy name
    #[arg(value_name = "POLICY")]
    pub policy: String,
}

/// A rule of a policy.
#[derive(Debug, Args)]
pub struct RuleRef {
    /// Tenant of the policy.
    #[command(flatten)]
    pub tenant: TenantOpt,
    /// Policy name
    #[arg(value_name = "POLICY")]
    pub policy: String,
    /// Rule id
    #[arg(value_name = "RULE_ID")]
    pub rule_id: String,
}

/// `rule-add` flags.
#[derive(Debug, Args)]
pub struct RuleAdd {
    /// Tenant of the policy.
    #[command(flatten)]
    pub tenant: TenantOpt,
    /// Priority Indicator (1-100, higher wins)
    #[arg(short = 'p', long, default_value_t = 1, value_name = "N")]
    pub priority: i64,
    /// Direction of traffic (in/out)
    #[arg(short = 'd', long, default_value = "in", value_name = "DIR")]
    pub direction: String,
    /// From Endpoint Group Name (Valid in incoming direction only)
    #[arg(short = 'g', long = "from-group", value_name = "GROUP")]
    pub from_group: Option<String>,
    /// To Endpoint Group Name (Valid in outgoing direction only)
    #[arg(short = 'e', long = "to-group", value_name = "GROUP")]
    pub to_group: Option<String>,
    /// From Network name (Valid in incoming direction only)
    #[arg(short = 'n', long = "from-network", value_name = "NETWORK")]
    pub from_network: Option<String>,
    /// To Network name (Valid in outgoing direction only)
    #[arg(short = 'o', long = "to-network", value_name = "NETWORK")]
    pub to_network: Option<String>,
    /// From IP address/CIDR (Valid in incoming direction only)
    #[arg(short = 'i', long = "from-ip-address", value_name = "CIDR")]
    pub from_ip_address: Option<String>,
    /// To IP address/CIDR (Valid in outgoing direction only)
    #[arg(short = 's', long = "to-ip-address", value_name = "CIDR")]
    pub to_ip_address: Option<String>,
    /// Protocol (e.g., tcp, udp, icmp, or a number)
    #[arg(short = 'l', long, value_name = "PROTO")]
    pub protocol: Option<String>,
    /// Port (0 = any)
    #[arg(short = 'P', long, default_value_t = 0, value_name = "PORT")]
    pub port: i64,
    /// Action to take (allow or deny)
    #[arg(short = 'j', long, default_value = "allow", value_name = "ACTION")]
    pub action: String,
    /// Policy name
    #[arg(value_name = "POLICY")]
    pub policy: String,
    /// Rule id
    #[arg(value_name = "RULE_ID")]
    pub rule_id: String,
}

impl RuleAdd {
    /// The rule object to POST, after the original's direction checks.
    pub fn to_rule(&self) -> Result<Rule, NetctlError> {
        let given = |v: &Option<String>| v.as_deref().is_some_and(|s| !s.is_empty());
        let fail = |m: &str| Err(NetctlError::usage(m));
        match self.direction.as_str() {
            "in" => {
                if given(&self.to_group) {
                    return fail("Cant specify to-group for incoming rule");
                }
                if given(&self.to_network) {
                    return fail("Cant specify to-network for incoming rule");
                }
                if given(&self.from_group) && given(&self.from_network) {
                    return fail("Can't specify both from-group argument and -from-network ");
                }
            }
            "out" => {
                if given(&self.from_group) {
                    return fail("Cant specify from-group for outgoing rule");
                }
                if given(&self.from_network) {
                    return fail("Cant specify from-network for outgoing rule");
                }
                if given(&self.from_ip_address) {
                    return fail("Cant specify from-ip-address for outgoing rule");
                }
                if given(&self.to_group) && given(&self.to_network) {
                    return fail("Can't specify both -to-group and -to-network");
                }
            }
            _ => return fail("Unknown direction"),
        }
        let s = |v: &Option<String>| v.clone().unwrap_or_default();
        Ok(Rule {
            tenant_name: self.tenant.tenant.clone(),
            policy_name: self.policy.clone(),
            rule_id: self.rule_id.clone(),
            priority: self.priority,
            direction: self.direction.clone(),
            from_endpoint_group: s(&self.from_group),
            to_endpoint_group: s(&self.to_group),
            from_network: s(&self.from_network),
            to_network: s(&self.to_network),
            from_ip_address: s(&self.from_ip_address),
            to_ip_address: s(&self.to_ip_address),
            protocol: s(&self.protocol),
            port: self.port,
            action: self.action.clone(),
            ..Default::default()
        })
    }
}

/// Runs a policy subcommand.
pub fn run(cmd: &PolicyCmd, s: &mut Session<'_>) -> Result<(), NetctlError> {
    match cmd {
        PolicyCmd::Create(r) => {
            let policy = Policy {
                tenant_name: r.tenant.tenant.clone(),
                policy_name: r.name.clone(),
                ..Default::default()
            };
            post(s, &policy)?;
            s.info(&format!("Creating policy {}:{}", r.tenant.tenant, r.name))
        }
        PolicyCmd::Rm(r) => {
            s.info(&format!("Deleting policy {}:{}", r.tenant.tenant, r.name))?;
            delete::<Policy>(s, &key(&r.tenant.tenant, &r.name))
        }
        PolicyCmd::Ls(opts) => list_in_tenant::<Policy>(s, opts),
        PolicyCmd::Inspect(r) => {
            s.print_inspect(&Request::inspect::<Policy>(&key(&r.tenant.tenant, &r.name)))
        }
        PolicyCmd::RuleLs(r) => list_rules(r, s),
        PolicyCmd::RuleRm(r) => delete::<Rule>(
            s,
            &format!("{}:{}:{}", r.tenant.tenant, r.policy, r.rule_id),
        ),
        PolicyCmd::RuleAdd(a) => {
            let rule = a.to_rule()?;
            post(s, &rule)
        }
    }
}

/// `rule-ls`: checks the tenant and the policy exist, then prints the
/// policy's rules by ascending priority.
fn list_rules(r: &RuleLs, s: &mut Session<'_>) -> Result<(), NetctlError> {
    let tenant = &r.tenant.tenant;
    s.ensure_tenant(tenant)?;
    s.call(&Request::get::<Policy>(&key(tenant, &r.policy)))?;
    let listed = s.fetch_list::<Rule>(&Request::list::<Rule>())?;
    let mut mine: Vec<_> = listed
        .into_iter()
        .filter(|l| &l.obj.tenant_name == tenant && l.obj.policy_name == r.policy)
        .collect();
    mine.sort_by_key(|l| l.obj.priority);
    if r.output.json {
        let raw: Vec<&OrderedJson> = mine.iter().map(|l| &l.raw).collect();
        s.print_json(&raw)
    } else if r.output.quiet {
        let ids: String = mine
            .iter()
            .map(|l| format!("{}\n", l.obj.rule_id))
            .collect();
        s.print(&ids)
    } else {
        let rules: Vec<Rule> = mine.into_iter().map(|l| l.obj).collect();
        s.print(&tables::rules(&rules))
    }
}
