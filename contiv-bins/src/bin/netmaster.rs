//! `netmaster`: the contiv-rs intent API server. All logic lives in
//! `contiv_bins::netmaster`; this only parses flags and runs it.

use clap::{CommandFactory, FromArgMatches, Parser};
use contiv_bins::netmaster::{NetmasterConfig, run};

/// contiv-rs netmaster: serves the Contiv v1 REST API, allocates addresses,
/// VLANs, VXLAN ids and group ids in the state store, and streams desired
/// state to host agents. Several netmasters on one etcd elect a leader.
///
/// Single node (the default store is a local file):
///   netmaster --store embedded:/var/lib/contiv/netmaster.redb
///
/// High availability: run several netmasters on one etcd cluster, each with
/// its own --listen-url (and --control-url if other hosts reach it at
/// another address). One is the leader; the others answer reads and watches
/// themselves and forward writes to it. A dead leader is replaced within
/// about twice --leader-ttl.
///   netmaster --store etcd://10.0.0.1:2379,10.0.0.2:2379,10.0.0.3:2379 \
///             --listen-url 0.0.0.0:9999 --control-url http://10.0.0.1:9999
///
/// Settings come from flags, then CONTIV_* environment variables (shown
/// below), then an optional TOML file (--config; its keys are the long flag
/// names, e.g. `listen-url = "0.0.0.0:9999"`), then the defaults.
///
/// Security: --tls-cert/--tls-key serve HTTPS; --token (the admin token)
/// requires `Authorization: Bearer <token>` on everything but /version,
/// /health and the OpenAPI document. Give each agent its own node token
/// (`netmaster --token … --print-node-token <host>`): it allows only that
/// host's registration, endpoints and addresses, and the watch. Request
/// bodies must be `Content-Type: application/json`. Without --token keep
/// netmaster on 127.0.0.1. Exit codes: 0 after SIGINT/SIGTERM, 22 for a bad
/// configuration (as the original), 1 for a runtime failure.
#[derive(Parser, Debug)]
#[command(
    name = "netmaster",
    version,
    args_override_self = true,
    verbatim_doc_comment
)]
struct Cli {
    #[command(flatten)]
    config: NetmasterConfig,
}

fn main() -> std::process::ExitCode {
    let args =
        match contiv_bins::daemon::args_with_config(&Cli::command(), "CONTIV_NETMASTER_CONFIG") {
            Ok(a) => a,
            Err(e) => {
                eprintln!("netmaster: {e}");
                return std::process::ExitCode::from(22);
            }
        };
    let matches = match Cli::command().try_get_matches_from(args) {
        Ok(m) => m,
        Err(e) => {
            let code = if e.use_stderr() { 22 } else { 0 };
            let _ = e.print();
            return std::process::ExitCode::from(code);
        }
    };
    let cli = match Cli::from_arg_matches(&matches) {
        Ok(c) => c,
        Err(e) => {
            let _ = e.print();
            return std::process::ExitCode::from(22);
        }
    };
    run(cli.config)
}

#[cfg(test)]
mod tests {
    use clap::CommandFactory;

    /// clap checks the flag definitions (unique ids, valid defaults) only
    /// when the command is built: do it here, not at a user's first start.
    #[test]
    fn flag_definitions_are_consistent() {
        super::Cli::command().debug_assert();
    }
}
