//! `netctl version`, `netctl login` and `netctl completion`.

use crate::netctl::cli;
use crate::netctl::config::{ClientConfig, write_config};
use crate::netctl::error::NetctlError;
use crate::netctl::request::Request;
use crate::netctl::session::{Session, http_error};
use clap::Args;
use serde::Deserialize;
use std::io::{BufRead, Write};
use std::path::Path;

/// Version information, as `GET /version` returns it.
#[derive(Clone, Debug, Default, PartialEq, Eq, Deserialize)]
#[serde(default)]
pub struct VersionInfo {
    /// Release version.
    #[serde(rename = "Version")]
    pub version: String,
    /// Git commit the binary was built from.
    #[serde(rename = "GitCommit")]
    pub git_commit: String,
    /// Build time.
    #[serde(rename = "BuildTime")]
    pub build_time: String,
}

impl VersionInfo {
    /// This netctl's version (commit and build time from the
    /// `CONTIV_GIT_COMMIT` / `CONTIV_BUILD_TIME` build environment).
    pub fn client() -> Self {
        VersionInfo {
            version: env!("CARGO_PKG_VERSION").to_owned(),
            git_commit: option_env!("CONTIV_GIT_COMMIT")
                .unwrap_or("unknown")
                .to_owned(),
            build_time: option_env!("CONTIV_BUILD_TIME")
                .unwrap_or("unknown")
                .to_owned(),
        }
    }

    /// The original's three-line rendering.
    pub fn render(&self) -> String {
        format!(
            "Version: {}\nGitCommit: {}\nBuildTime: {}\n",
            self.version, self.git_commit, self.build_time
        )
    }
}

/// `netctl version`: the client version, then the server's.
pub fn version(s: &mut Session<'_>) -> Result<(), NetctlError> {
    s.print(&format!(
        "Client Version:\n{}\n",
        VersionInfo::client().render()
    ))?;
    let server: VersionInfo = s.fetch(&Request::version())?;
    s.print(&format!("Server Version:\n{}", server.render()))
}

/// `netctl completion <shell>` arguments.
#[derive(Debug, Args)]
#[command(after_help = "Examples:
  netctl completion bash > /etc/bash_completion.d/netctl
  netctl completion zsh > \"${fpath[1]}/_netctl\"")]
pub struct CompletionArgs {
    /// Shell to generate the completion script for
    #[arg(value_enum, value_name = "SHELL")]
    pub shell: clap_complete::Shell,
}

/// Writes the completion script for a shell.
pub fn completion(args: &CompletionArgs, out: &mut dyn Write) -> Result<(), NetctlError> {
    let mut cmd = cli::command();
    let mut buf = Vec::new();
    clap_complete::generate(args.shell, &mut cmd, "netctl", &mut buf);
    out.write_all(&buf)
        .map_err(|e| NetctlError::io("writing the completion script", e))
}

/// Terminal input of `netctl login`.
pub struct LoginInput<'a> {
    /// Where the username and password are read from.
    pub reader: &'a mut dyn BufRead,
    /// Whether the reader is a terminal (echo is turned off for the password).
    pub is_tty: bool,
}

/// `netctl login`: asks for a username and password, posts them to the
/// auth_proxy login endpoint and saves the answer (`{"token": …}`) as
/// `~/.netctl/config.json`.
pub fn login(
    s: &mut Session<'_>,
    cfg: &ClientConfig,
    input: LoginInput<'_>,
    home: Option<&Path>,
) -> Result<(), NetctlError> {
    if !cfg.is_https() {
        return Err(NetctlError::usage_with_help(
            "login requires a https auth_proxy URL (give it with --netmaster https://…)",
        ));
    }
    let home =
        home.ok_or_else(|| NetctlError::usage("cannot save the login token: HOME is not set"))?;
    s.print("Username: ")?;
    s.flush()?;
    let username = read_line(input.reader)?;
    if username.is_empty() {
        return Err(NetctlError::usage("you must specify a username"));
    }
    s.print("Password: ")?;
    s.flush()?;
    let password = {
        let _echo = input.is_tty.then(EchoOff::new).flatten();
        read_line(input.reader)?
    };
    s.print("\n")?;

    let resp = s.call_raw(&Request::login(&username, &password))?;
    if resp.status == 401 {
        return Err(NetctlError::Http {
            status: 401,
            message: "Login failed: Bad username or password.".into(),
        });
    }
    if !resp.is_success() {
        let detail = http_error(&resp);
        return Err(NetctlError::Http {
            status: resp.status,
            message: format!(
                "Login failed: unexpected response code ({}): {detail}",
                resp.status
            ),
        });
    }
    let path = write_config(home, &resp.body)?;
    s.print(&format!(
        "Login succeeded. Token saved in {}\n",
        path.display()
    ))
}

fn read_line(reader: &mut dyn BufRead) -> Result<String, NetctlError> {
    let mut line = String::new();
    reader
        .read_line(&mut line)
        .map_err(|e| NetctlError::io("reading from standard input", e))?;
    Ok(line.trim().to_owned())
}

/// Turns terminal echo off on standard input while alive.
struct EchoOff {
    saved: libc::termios,
}

impl EchoOff {
    fn new() -> Option<Self> {
        // SAFETY: termios is a plain C struct for which all-zero bytes are a
        // valid value; tcgetattr/tcsetattr only read/write the struct we
        // pass, on fd 0, and report failure through their return value.
        unsafe {
            let mut t: libc::termios = std::mem::zeroed();
            if libc::tcgetattr(libc::STDIN_FILENO, &mut t) != 0 {
                return None;
            }
            let saved = t;
            t.c_lflag &= !libc::ECHO;
            if libc::tcsetattr(libc::STDIN_FILENO, libc::TCSANOW, &t) != 0 {
                return None;
            }
            Some(EchoOff { saved })
        }
    }
}

impl Drop for EchoOff {
    fn drop(&mut self) {
        // SAFETY: restores the attributes read in `new` on the same fd.
        unsafe {
            libc::tcsetattr(libc::STDIN_FILENO, libc::TCSANOW, &self.saved);
        }
    }
}
