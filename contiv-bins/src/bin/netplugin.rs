//! `netplugin`: the contiv-rs host agent. All logic lives in
//! `contiv_bins::netplugin`; this only parses flags and runs it.

use clap::{CommandFactory, FromArgMatches, Parser};
use contiv_bins::netplugin::{AgentConfig, run};

/// contiv-rs netplugin: registers this host with netmaster, follows its
/// desired state and programs the datapath; serves the CNI back-end
/// (`contiv-cni`) and the Docker network and IPAM plugin.
#[derive(Parser, Debug)]
#[command(name = "netplugin", version, args_override_self = true)]
struct Cli {
    #[command(flatten)]
    config: AgentConfig,
}

fn main() -> std::process::ExitCode {
    let args = match contiv_bins::daemon::args_with_config_file("CONTIV_NETPLUGIN_CONFIG") {
        Ok(a) => a,
        Err(e) => {
            eprintln!("netplugin: {e}");
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
    match Cli::from_arg_matches(&matches) {
        Ok(c) => run(c.config),
        Err(e) => {
            let _ = e.print();
            std::process::ExitCode::from(22)
        }
    }
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
