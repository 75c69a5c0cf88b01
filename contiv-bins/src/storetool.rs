//! `contiv-store`: store maintenance from the command line. Today one
//! command, `copy SRC DST`, which moves netmaster's state from one store
//! to another (embedded → etcd → Consul, or back) with
//! [`contiv_store::copy::copy`].
//!
//! ```text
//! contiv-store copy embedded:/var/lib/contiv/netmaster.redb etcd://10.0.0.1:2379
//! contiv-store copy etcd://10.0.0.1:2379 consul://10.0.0.1:8500,10.0.0.2:8500
//! ```
//!
//! Stop the netmasters first; start them on the destination afterwards
//! (`--store …`). Exit codes: 0 copied, 1 the copy was refused or failed
//! (nothing is written when a check fails up front), 2 bad usage.

use clap::{Parser, Subcommand};
use contiv_store::copy::{CopyOptions, copy};
use std::process::ExitCode;

/// Store maintenance for contiv-rs.
#[derive(Parser, Debug)]
#[command(name = "contiv-store", version, about, long_about = None)]
pub struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand, Debug)]
enum Command {
    /// Copy every key under a prefix from SRC to DST (store URLs:
    /// `embedded:<path>`, `etcd://host:port[,…]`, `consul://host:port[,…]`,
    /// `consuls://…`). Lease-bound keys (leader lock, node registrations)
    /// are skipped: their owners write them again. DST must hold nothing
    /// under the prefix unless --overwrite. Stop the netmasters first.
    Copy {
        /// Source store URL.
        src: String,
        /// Destination store URL.
        dst: String,
        /// Key prefix to copy (netmaster's --store-root; '' for every key).
        #[arg(long, default_value = contiv_core::store::keys::DEFAULT_ROOT)]
        prefix: String,
        /// Overwrite keys the destination already holds under the prefix.
        #[arg(long)]
        overwrite: bool,
    },
}

async fn run(cli: Cli) -> Result<String, String> {
    match cli.command {
        Command::Copy {
            src,
            dst,
            prefix,
            overwrite,
        } => {
            let from = contiv_store::open_store(&src)
                .await
                .map_err(|e| format!("cannot open the source {src}: {e}"))?;
            let to = contiv_store::open_store(&dst)
                .await
                .map_err(|e| format!("cannot open the destination {dst}: {e}"))?;
            let report = copy(
                from.as_ref(),
                to.as_ref(),
                &CopyOptions { prefix, overwrite },
            )
            .await
            .map_err(|e| format!("copy {src} -> {dst}: {e}"))?;
            Ok(format!(
                "copied {} keys ({} bytes) from {src} (revision {}) to {dst} in {} transactions; skipped {} lease-bound keys",
                report.copied,
                report.bytes,
                report.source_revision,
                report.transactions,
                report.skipped_leased
            ))
        }
    }
}

/// The `contiv-store` binary.
pub fn main() -> ExitCode {
    let cli = match Cli::try_parse() {
        Ok(cli) => cli,
        Err(e) => {
            let _ = e.print();
            return if e.use_stderr() {
                ExitCode::from(2)
            } else {
                ExitCode::SUCCESS
            };
        }
    };
    let rt = match tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
    {
        Ok(rt) => rt,
        Err(e) => {
            eprintln!("contiv-store: cannot start the runtime: {e}");
            return ExitCode::FAILURE;
        }
    };
    match rt.block_on(run(cli)) {
        Ok(msg) => {
            println!("{msg}");
            ExitCode::SUCCESS
        }
        Err(msg) => {
            eprintln!("contiv-store: {msg}");
            ExitCode::FAILURE
        }
    }
}

#[cfg(test)]
mod cli_tests {
    use clap::CommandFactory;

    /// clap checks the flag definitions only when the command is built.
    #[test]
    fn flag_definitions_are_consistent() {
        super::Cli::command().debug_assert();
    }
}
