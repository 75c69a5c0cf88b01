//! `netctl`, the command line client of netmaster.
//!
//! Commands, flags, defaults, table layouts, messages and exit codes are
//! the original Contiv netctl's (reference/CONTIV.md §2), so existing
//! scripts and the tutorials keep working, with these deliberate
//! differences:
//!
//! * the default `--netmaster` is `http://127.0.0.1:9999` (our netmaster's
//!   default listen address) instead of `http://netmaster:9999`;
//! * `bgp ls -q` works, and `global set` sends back the current private
//!   subnet unless `-s` is given (reference §9.2 items 13 and 14);
//! * netmaster unreachable exits 2 (the original exited 3);
//! * `--token` / `NETCTL_TOKEN`, `--cacert` / `NETCTL_CACERT` (verify an
//!   https netmaster against a private CA instead of only `--insecure`) and
//!   `netctl completion <shell>` are new.
//!
//! Layout: [`cli`] declares the command tree and [`cmd`] implements each
//! object's subcommands; [`goflags`] accepts the Go-style flag spellings;
//! [`request`] holds the REST requests as plain values and [`transport`]
//! sends them; [`tables`] (on [`tabwriter`]), [`json_out`] and [`logline`]
//! reproduce the original's output byte for byte; [`testing`] runs command
//! lines against a scripted netmaster.

pub mod cli;
pub mod cmd;
pub mod config;
pub mod error;
pub mod goflags;
pub mod json_out;
pub mod logline;
pub mod request;
pub mod session;
pub mod tables;
pub mod tabwriter;
pub mod testing;
pub mod transport;

use clap::FromArgMatches;
use clap::error::ErrorKind;
use cli::{Cli, TopCommand};
use config::ClientConfig;
use error::{Exit, NetctlError};
use session::Session;
use std::ffi::OsString;
use std::io::{BufRead, IsTerminal, Write};
use std::path::{Path, PathBuf};
use std::time::SystemTime;
use transport::{HttpTransport, Transport};

/// The process environment netctl runs in: its streams and home directory.
pub struct Env<'a> {
    /// Standard output: results (tables, JSON, help).
    pub out: &'a mut dyn Write,
    /// Standard error: log lines (`Creating …`, errors) and usage errors.
    pub err: &'a mut dyn Write,
    /// Whether standard error is a terminal (coloured log format).
    pub err_is_tty: bool,
    /// Standard input (`netctl login` prompts).
    pub input: &'a mut dyn BufRead,
    /// Whether standard input is a terminal (password echo is turned off).
    pub input_is_tty: bool,
    /// The home directory holding `.netctl/config.json`.
    pub home: Option<PathBuf>,
}

/// Makes the transport for the resolved connection settings.
pub type Connect<'c> = dyn FnMut(&ClientConfig) -> Box<dyn Transport> + 'c;

/// Parses a command line (program name first), accepting the Go-style flag
/// spellings of the original.
pub fn parse<I, S>(argv: I) -> Result<Cli, clap::Error>
where
    I: IntoIterator<Item = S>,
    S: Into<String>,
{
    let cmd = cli::command();
    let argv = goflags::normalise(&cmd, argv.into_iter().map(Into::into).collect());
    let matches = cmd.try_get_matches_from(argv)?;
    Cli::from_arg_matches(&matches)
}

/// Runs netctl on a command line and returns its exit status.
pub fn run(argv: Vec<OsString>, env: Env<'_>, connect: &mut Connect<'_>) -> Exit {
    let Env {
        out,
        err,
        err_is_tty,
        input,
        input_is_tty,
        home,
    } = env;
    let argv: Vec<String> = match argv.into_iter().map(OsString::into_string).collect() {
        Ok(a) => a,
        Err(bad) => {
            // Best effort: if standard error is gone there is nobody to tell.
            let _ = writeln!(err, "error: argument is not valid UTF-8: {bad:?}");
            return Exit::Usage;
        }
    };
    let cli = match parse(argv.clone()) {
        Ok(cli) => cli,
        Err(e) => return clap_exit(&e, out, err),
    };
    if let TopCommand::Counters(args) = &cli.command {
        return match cmd::counters::run(args, out) {
            Ok(()) => Exit::Success,
            Err(e) => {
                let line = logline::format_line(
                    logline::Level::Error,
                    &e.to_string(),
                    err_is_tty,
                    0,
                    SystemTime::now(),
                );
                let _ = err.write_all(line.as_bytes());
                e.exit()
            }
        };
    }
    if let TopCommand::Completion(args) = &cli.command {
        return match cmd::misc::completion(args, out) {
            Ok(()) => Exit::Success,
            Err(e) => {
                let _ = writeln!(err, "{e}");
                e.exit()
            }
        };
    }

    let cfg = match ClientConfig::resolve(
        &cli.global.netmaster,
        cli.global.insecure,
        cli.global.token.as_deref(),
        home.as_deref(),
    )
    .and_then(|c| c.with_cacert(cli.global.cacert.as_deref()))
    {
        Ok(cfg) => cfg,
        Err(e) => {
            let line = logline::format_line(
                logline::Level::Error,
                &e.to_string(),
                err_is_tty,
                0,
                SystemTime::now(),
            );
            let _ = err.write_all(line.as_bytes());
            return e.exit();
        }
    };
    let mut transport = connect(&cfg);
    let mut session = Session::new(transport.as_mut(), out, err, err_is_tty);
    let login_input = cmd::misc::LoginInput {
        reader: input,
        is_tty: input_is_tty,
    };
    let result = dispatch(&cli, &mut session, &cfg, login_input, home.as_deref());
    finish(result, &mut session, &argv)
}

/// Runs the parsed command.
fn dispatch(
    cli: &Cli,
    s: &mut Session<'_>,
    cfg: &ClientConfig,
    login_input: cmd::misc::LoginInput<'_>,
    home: Option<&Path>,
) -> Result<(), NetctlError> {
    match &cli.command {
        TopCommand::AciGw(c) => cmd::aci_gw::run(c, s),
        TopCommand::AppProfile(c) => cmd::app_profile::run(c, s),
        TopCommand::Bgp(c) => cmd::bgp::run(c, s),
        TopCommand::Completion(args) => {
            let mut buf = Vec::new();
            cmd::misc::completion(args, &mut buf)?;
            s.print(&String::from_utf8_lossy(&buf))
        }
        TopCommand::Counters(_) => Err(NetctlError::usage(
            "netctl counters talks to the local agent, not to netmaster",
        )),
        TopCommand::Endpoint(c) => cmd::endpoint::run(c, s),
        TopCommand::ExternalContracts(c) => cmd::ext_contracts::run(c, s),
        TopCommand::Global(c) => cmd::global::run(c, s),
        TopCommand::Group(c) => cmd::group::run(c, s),
        TopCommand::Login => cmd::misc::login(s, cfg, login_input, home),
        TopCommand::Network(c) => cmd::network::run(c, s),
        TopCommand::Netprofile(c) => cmd::netprofile::run(c, s),
        TopCommand::Policy(c) => cmd::policy::run(c, s),
        TopCommand::Service(c) => cmd::service::run(c, s),
        TopCommand::Tenant(c) => cmd::tenant::run(c, s),
        TopCommand::Version => cmd::misc::version(s),
    }
}

/// Reports the outcome: an error becomes an error log line (and, for usage
/// errors that ask for it, the command's help), then the exit status.
fn finish(result: Result<(), NetctlError>, s: &mut Session<'_>, argv: &[String]) -> Exit {
    let exit = match result {
        Ok(()) => Exit::Success,
        Err(e) => {
            // If standard error is gone there is nobody left to tell.
            let _ = s.error(&e.to_string());
            if let NetctlError::Usage {
                show_help: true, ..
            } = &e
                && let Some(help) = subcommand_help(argv)
            {
                let _ = s.log_raw(&help);
            }
            e.exit()
        }
    };
    match s.flush() {
        Err(_) if exit == Exit::Success => Exit::Io,
        _ => exit,
    }
}

/// The help text of the (sub)command named on a command line.
pub fn subcommand_help(argv: &[String]) -> Option<String> {
    let cmd = cli::command();
    let normalised = goflags::normalise(&cmd, argv.to_vec());
    let matches = cmd.clone().try_get_matches_from(normalised).ok()?;
    let mut path = vec!["netctl".to_owned()];
    let mut m = &matches;
    while let Some((name, sub)) = m.subcommand() {
        path.push(name.to_owned());
        m = sub;
    }
    path.push("--help".to_owned());
    match cmd.try_get_matches_from(path) {
        Err(e) if e.kind() == ErrorKind::DisplayHelp => Some(e.render().to_string()),
        _ => None,
    }
}

/// The `netctl` binary: real streams, `$HOME`, HTTP transport.
pub fn main() -> std::process::ExitCode {
    let err_is_tty = std::io::stderr().is_terminal();
    let input_is_tty = std::io::stdin().is_terminal();
    let mut out = std::io::stdout().lock();
    let mut err = std::io::stderr().lock();
    let mut input = std::io::stdin().lock();
    let env = Env {
        out: &mut out,
        err: &mut err,
        err_is_tty,
        input: &mut input,
        input_is_tty,
        home: std::env::var_os("HOME").map(PathBuf::from),
    };
    let mut connect =
        |cfg: &ClientConfig| -> Box<dyn Transport> { Box::new(HttpTransport::new(cfg.clone())) };
    let exit = run(std::env::args_os().collect(), env, &mut connect);
    std::process::ExitCode::from(exit.code())
}

/// Prints clap's message: help and version to standard output (exit 0),
/// anything else to standard error (exit 1, usage).
fn clap_exit(e: &clap::Error, out: &mut dyn Write, err: &mut dyn Write) -> Exit {
    let text = e.render().to_string();
    match e.kind() {
        ErrorKind::DisplayHelp | ErrorKind::DisplayVersion => {
            match out.write_all(text.as_bytes()) {
                Ok(()) => Exit::Success,
                Err(_) => Exit::Io,
            }
        }
        _ => {
            let _ = err.write_all(text.as_bytes());
            Exit::Usage
        }
    }
}
