//! The command tree: global flags, top-level commands (sorted by name, as
//! the original listed them) and the option groups shared by many commands.
//! Each object's subcommands live in [`super::cmd`].

use super::cmd::{
    aci_gw::AciGwCmd, app_profile::AppProfileCmd, bgp::BgpCmd, endpoint::EndpointCmd,
    ext_contracts::ExtContractsCmd, global::GlobalCmd, group::GroupCmd, misc::CompletionArgs,
    netprofile::NetprofileCmd, network::NetworkCmd, policy::PolicyCmd, service::ServiceCmd,
    tenant::TenantCmd,
};
use super::config::DEFAULT_NETMASTER;
use clap::builder::FalseyValueParser;
use clap::{ArgAction, Args, CommandFactory, Parser, Subcommand};

const ABOUT: &str =
    "Command line client of the contiv-rs netmaster (policy-based container networking)";

const AFTER_HELP: &str = "\
Flags also work in the Go style of the original netctl: -name, -name=value,
--name value and --name=value (e.g. `-subnet=10.1.1.0/24`, `-s6 2001::/100`).

Exit codes: 0 success, 1 usage error, 2 netmaster unreachable,
3 netmaster answered with an error, 4 local I/O error.

Examples:
  netctl net create --subnet=20.1.1.0/24 --gateway=20.1.1.254 --pkt-tag=1001 contiv-net
  netctl policy rule-add prod-web 1 -direction=in -protocol=tcp -action=deny
  netctl --netmaster http://10.0.2.15:9999 net ls -a";

/// netctl's command line.
#[derive(Debug, Parser)]
#[command(
    name = "netctl",
    version,
    about = ABOUT,
    after_help = AFTER_HELP,
    subcommand_required = true,
    arg_required_else_help = true
)]
pub struct Cli {
    /// Flags that apply to every command.
    #[command(flatten)]
    pub global: GlobalOpts,
    /// The command to run.
    #[command(subcommand)]
    pub command: TopCommand,
}

/// Connection flags, accepted before or after the command.
#[derive(Debug, Args)]
pub struct GlobalOpts {
    /// URL of the netmaster (the original defaulted to http://netmaster:9999)
    #[arg(
        long,
        env = "NETMASTER",
        default_value = DEFAULT_NETMASTER,
        value_name = "URL",
        global = true,
        help_heading = "Global options"
    )]
    pub netmaster: String,
    /// Skip TLS certificate verification for an https:// netmaster
    #[arg(
        long,
        env = "INSECURE",
        action = ArgAction::SetTrue,
        value_parser = FalseyValueParser::new(),
        global = true,
        help_heading = "Global options"
    )]
    pub insecure: bool,
    /// CA certificate(s) (PEM) to verify an https:// netmaster with, instead of the public web roots
    #[arg(
        long,
        env = "NETCTL_CACERT",
        value_name = "FILE",
        global = true,
        help_heading = "Global options"
    )]
    pub cacert: Option<std::path::PathBuf>,
    /// Bearer token for an authenticating netmaster (default: the token saved by `netctl login` in ~/.netctl/config.json)
    #[arg(
        long,
        env = "NETCTL_TOKEN",
        hide_env_values = true,
        value_name = "TOKEN",
        global = true,
        help_heading = "Global options"
    )]
    pub token: Option<String>,
}

/// Top-level commands.
#[derive(Debug, Subcommand)]
pub enum TopCommand {
    /// ACI gateway information
    #[command(name = "aci-gw", subcommand)]
    AciGw(AciGwCmd),
    /// Application Profile manipulation tools
    #[command(name = "app-profile", subcommand)]
    AppProfile(AppProfileCmd),
    /// Router capability configuration
    #[command(subcommand)]
    Bgp(BgpCmd),
    /// Print a shell completion script
    Completion(CompletionArgs),
    /// Packet counters of this host's datapath (per endpoint, per policy rule, drops by reason), from the local agent
    #[command(
        after_help = "Example:\n  netctl counters\n  netctl counters -j --agent-socket /run/contiv/contiv-cni.sock"
    )]
    Counters(crate::netctl::cmd::counters::CountersArgs),
    /// Endpoint inspection
    #[command(visible_alias = "ep", subcommand)]
    Endpoint(EndpointCmd),
    /// External contracts
    #[command(name = "external-contracts", subcommand)]
    ExternalContracts(ExtContractsCmd),
    /// Global information
    #[command(subcommand)]
    Global(GlobalCmd),
    /// Endpoint Group manipulation tools
    #[command(subcommand)]
    Group(GroupCmd),
    /// Authenticate to an https auth_proxy/netmaster and save the token
    #[command(after_help = "Example:\n  netctl --netmaster https://contiv.example:10000 login")]
    Login,
    /// Network profile manipulation tools
    #[command(subcommand)]
    Netprofile(NetprofileCmd),
    /// Network manipulation tools
    #[command(visible_alias = "net", subcommand)]
    Network(NetworkCmd),
    /// Policy manipulation tools
    #[command(subcommand)]
    Policy(PolicyCmd),
    /// Service object creation (only for docker version <= 1.12.x)
    #[command(subcommand)]
    Service(ServiceCmd),
    /// Tenant manipulation tools
    #[command(subcommand)]
    Tenant(TenantCmd),
    /// Version information of netctl and of the netmaster
    #[command(after_help = "Example:\n  netctl version")]
    Version,
}

/// `-t, --tenant` (default `default`).
#[derive(Debug, Args)]
pub struct TenantOpt {
    /// Name of the tenant
    #[arg(
        short = 't',
        long = "tenant",
        default_value = "default",
        value_name = "TENANT"
    )]
    pub tenant: String,
}

/// Output switches of the listing commands.
#[derive(Debug, Args)]
pub struct OutputOpts {
    /// Output list in JSON format
    #[arg(short = 'j', long)]
    pub json: bool,
    /// Only display name field
    #[arg(short = 'q', long)]
    pub quiet: bool,
}

/// `-t -a -j -q` of the tenant-scoped listing commands.
#[derive(Debug, Args)]
pub struct ListOpts {
    /// Tenant to list.
    #[command(flatten)]
    pub tenant: TenantOpt,
    /// List items of all tenants
    #[arg(short = 'a', long)]
    pub all: bool,
    /// Output format.
    #[command(flatten)]
    pub output: OutputOpts,
}

/// The full command tree, with the settings every command shares: a flag
/// given twice keeps its last value (as Go's flag package did).
pub fn command() -> clap::Command {
    apply_settings(Cli::command())
}

fn apply_settings(cmd: clap::Command) -> clap::Command {
    let names: Vec<String> = cmd
        .get_subcommands()
        .map(|c| c.get_name().to_owned())
        .collect();
    let mut cmd = cmd.args_override_self(true);
    for name in names {
        cmd = cmd.mut_subcommand(name, apply_settings);
    }
    cmd
}

#[cfg(test)]
mod cli_tests {
    /// clap checks the flag definitions only when the command is built.
    #[test]
    fn flag_definitions_are_consistent() {
        <super::Cli as super::CommandFactory>::command().debug_assert();
    }
}
