//! Plumbing shared by the daemons: logging setup and its format, config
//! files whose keys are long flag names, shutdown signals, private
//! directories.

use std::ffi::OsString;
use std::path::Path;

/// Log output format.
#[derive(Clone, Copy, Debug, PartialEq, Eq, clap::ValueEnum, Default)]
pub enum LogFormat {
    /// Human-readable lines.
    #[default]
    Text,
    /// One JSON object per line.
    Json,
}

/// Initialises `tracing` output to stderr: `filter` is an env-filter
/// directive (`info`, `contiv_bins=debug`), `format` text or JSON lines.
pub fn init_logging(filter: &str, format: LogFormat) {
    let env = tracing_subscriber::EnvFilter::try_new(filter)
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("info"));
    let builder = tracing_subscriber::fmt()
        .with_env_filter(env)
        .with_writer(std::io::stderr)
        .with_target(false);
    let _ = if format == LogFormat::Json {
        builder.json().try_init()
    } else {
        builder.with_ansi(false).try_init()
    };
}

/// Reads a TOML config file whose keys are long flag names
/// (`listen-url = "0.0.0.0:9999"`, `leader-ttl = "5s"`, `debug = true`)
/// and returns them as `--key=value` arguments.
pub fn config_file_args(path: &Path) -> Result<Vec<OsString>, String> {
    let text = std::fs::read_to_string(path)
        .map_err(|e| format!("cannot read config file {}: {e}", path.display()))?;
    let table: toml::Table = text
        .parse()
        .map_err(|e| format!("invalid config file {}: {e}", path.display()))?;
    let mut out = Vec::new();
    for (k, v) in table {
        let value = match v {
            toml::Value::String(s) => s,
            toml::Value::Integer(i) => i.to_string(),
            toml::Value::Float(f) => f.to_string(),
            toml::Value::Boolean(true) => {
                out.push(OsString::from(format!("--{k}")));
                continue;
            }
            toml::Value::Boolean(false) => continue,
            other => {
                return Err(format!(
                    "config file {}: key {k:?} must be a string, number or boolean, not {}",
                    path.display(),
                    other.type_str()
                ));
            }
        };
        out.push(OsString::from(format!("--{k}={value}")));
    }
    Ok(out)
}

/// Argument list with the config file's arguments inserted before the
/// user's own (so flags given on the command line win; clap must be built
/// with `args_override_self(true)`). The config path comes from
/// `--config <path>` / `--config=<path>` or the environment variable `env`.
///
/// Precedence is flag > environment > file > default: a file key is
/// dropped when the environment variable of its flag (as declared in
/// `cmd`) is set. A key that names no flag of `cmd` is an error.
pub fn args_with_config(cmd: &clap::Command, env: &str) -> Result<Vec<OsString>, String> {
    args_with_config_from(cmd, env, std::env::args_os().collect())
}

/// [`args_with_config`] over an explicit argument list (`args[0]` is the
/// program name).
pub fn args_with_config_from(
    cmd: &clap::Command,
    env: &str,
    args: Vec<OsString>,
) -> Result<Vec<OsString>, String> {
    let mut path: Option<OsString> = std::env::var_os(env);
    let mut it = args.iter().skip(1);
    while let Some(a) = it.next() {
        let s = a.to_string_lossy();
        if s == "--config" {
            path = it.next().cloned();
        } else if let Some(p) = s.strip_prefix("--config=") {
            path = Some(OsString::from(p));
        }
    }
    let mut out: Vec<OsString> = args.first().cloned().into_iter().collect();
    if let Some(p) = path {
        for a in config_file_args(Path::new(&p))? {
            let text = a.to_string_lossy();
            let name = text
                .trim_start_matches("--")
                .split('=')
                .next()
                .unwrap_or_default()
                .to_owned();
            let arg = cmd.get_arguments().find(|arg| {
                arg.get_long() == Some(name.as_str())
                    || arg
                        .get_all_aliases()
                        .is_some_and(|al| al.contains(&name.as_str()))
            });
            let Some(arg) = arg else {
                return Err(format!(
                    "config file {}: unknown setting {name:?} (keys are the long flag names; see --help)",
                    Path::new(&p).display()
                ));
            };
            if name == "config" {
                continue;
            }
            if arg.get_env().is_some_and(|e| std::env::var_os(e).is_some()) {
                continue;
            }
            out.push(a);
        }
    }
    out.extend(args.into_iter().skip(1));
    Ok(out)
}

/// Like [`args_with_config`] without a command to check keys against:
/// file keys always become flags (so they beat environment variables).
pub fn args_with_config_file(env: &str) -> Result<Vec<OsString>, String> {
    let args: Vec<OsString> = std::env::args_os().collect();
    let mut path: Option<OsString> = std::env::var_os(env);
    let mut it = args.iter().skip(1);
    while let Some(a) = it.next() {
        let s = a.to_string_lossy();
        if s == "--config" {
            path = it.next().cloned();
        } else if let Some(p) = s.strip_prefix("--config=") {
            path = Some(OsString::from(p));
        }
    }
    let mut out: Vec<OsString> = args.first().cloned().into_iter().collect();
    if let Some(p) = path {
        out.extend(config_file_args(Path::new(&p))?);
    }
    out.extend(args.into_iter().skip(1));
    Ok(out)
}

/// Creates `dir` and its missing parents with mode 0700 (owner only),
/// whatever the umask; an existing directory keeps its mode. The daemons'
/// state and socket directories are made with this.
pub fn create_private_dir(dir: &Path) -> std::io::Result<()> {
    use std::os::unix::fs::DirBuilderExt;
    std::fs::DirBuilder::new()
        .recursive(true)
        .mode(0o700)
        .create(dir)
}

/// Resolves when SIGINT or SIGTERM arrives.
pub async fn shutdown_signal() {
    use tokio::signal::unix::{SignalKind, signal};
    let mut term = match signal(SignalKind::terminate()) {
        Ok(s) => s,
        Err(_) => {
            let _ = tokio::signal::ctrl_c().await;
            return;
        }
    };
    tokio::select! {
        _ = tokio::signal::ctrl_c() => {}
        _ = term.recv() => {}
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn config_file_keys_become_flags() {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("c.toml");
        std::fs::write(&p, "listen-url = \"0.0.0.0:1\"\nleader-ttl = \"3s\"\nverbose = true\nquiet = false\nport = 7\n").unwrap();
        let mut args: Vec<String> = config_file_args(&p)
            .unwrap()
            .into_iter()
            .map(|s| s.into_string().unwrap())
            .collect();
        args.sort();
        assert_eq!(
            args,
            [
                "--leader-ttl=3s",
                "--listen-url=0.0.0.0:1",
                "--port=7",
                "--verbose"
            ]
        );
        std::fs::write(&p, "x = [1]\n").unwrap();
        assert!(
            config_file_args(&p)
                .unwrap_err()
                .contains("must be a string")
        );
        std::fs::write(&p, "x = \n").unwrap();
        assert!(
            config_file_args(&p)
                .unwrap_err()
                .contains("invalid config file")
        );
    }
}
