//! The CNI environment: `CNI_COMMAND`, `CNI_CONTAINERID`, `CNI_NETNS`,
//! `CNI_IFNAME`, `CNI_ARGS`, `CNI_PATH`, and the `CNI_ARGS` keys the plugin
//! understands.

use super::error::{CniError, INVALID_ENVIRONMENT};
use std::path::PathBuf;

/// A CNI command.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Command {
    /// Attach.
    Add,
    /// Detach.
    Del,
    /// Verify.
    Check,
    /// Report versions.
    Version,
    /// Readiness (1.1.0).
    Status,
    /// Garbage collection (1.1.0).
    Gc,
}

impl Command {
    /// Parses `CNI_COMMAND`.
    pub fn parse(s: &str) -> Result<Self, CniError> {
        Ok(match s {
            "ADD" => Command::Add,
            "DEL" => Command::Del,
            "CHECK" => Command::Check,
            "VERSION" => Command::Version,
            "STATUS" => Command::Status,
            "GC" => Command::Gc,
            other => {
                return Err(CniError::new(
                    INVALID_ENVIRONMENT,
                    "unknown CNI_COMMAND",
                    format!("{other:?}: expected ADD, DEL, CHECK, VERSION, STATUS or GC"),
                ));
            }
        })
    }
}

/// Keys of `CNI_ARGS` (`K=V;K=V`).
///
/// | key | meaning |
/// |---|---|
/// | `IgnoreUnknown` | `1`/`true`: ignore keys not listed here (else an unknown key is an error) |
/// | `K8S_POD_NAMESPACE`, `K8S_POD_NAME` | recorded on the endpoint (labels `io.kubernetes.pod.*`, pod name for DNS) |
/// | `K8S_POD_INFRA_CONTAINER_ID` | accepted (the endpoint id uses `CNI_CONTAINERID`) |
/// | `K8S_POD_UID` | accepted, unused |
/// | `CONTIV_TENANT`, `CONTIV_NETWORK`, `CONTIV_GROUP` | choose the tenant, network and endpoint group, overriding the network configuration |
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct CniArgs {
    /// `IgnoreUnknown` was set.
    pub ignore_unknown: bool,
    /// `K8S_POD_NAMESPACE`.
    pub pod_namespace: Option<String>,
    /// `K8S_POD_NAME`.
    pub pod_name: Option<String>,
    /// `K8S_POD_INFRA_CONTAINER_ID`.
    pub infra_container_id: Option<String>,
    /// `CONTIV_TENANT`.
    pub tenant: Option<String>,
    /// `CONTIV_NETWORK`.
    pub network: Option<String>,
    /// `CONTIV_GROUP`.
    pub group: Option<String>,
}

impl CniArgs {
    /// Parses `CNI_ARGS`.
    pub fn parse(s: &str) -> Result<Self, CniError> {
        let mut a = CniArgs::default();
        let mut unknown = Vec::new();
        for pair in s.split(';').map(str::trim).filter(|p| !p.is_empty()) {
            let (k, v) = pair.split_once('=').ok_or_else(|| {
                CniError::new(
                    INVALID_ENVIRONMENT,
                    "invalid CNI_ARGS",
                    format!("{pair:?} is not KEY=VALUE"),
                )
            })?;
            let v = v.to_owned();
            match k {
                "IgnoreUnknown" => {
                    a.ignore_unknown = matches!(v.to_ascii_lowercase().as_str(), "1" | "true")
                }
                "K8S_POD_NAMESPACE" => a.pod_namespace = Some(v),
                "K8S_POD_NAME" => a.pod_name = Some(v),
                "K8S_POD_INFRA_CONTAINER_ID" => a.infra_container_id = Some(v),
                "K8S_POD_UID" => {}
                "CONTIV_TENANT" => a.tenant = Some(v),
                "CONTIV_NETWORK" => a.network = Some(v),
                "CONTIV_GROUP" => a.group = Some(v),
                other => unknown.push(other.to_owned()),
            }
        }
        if !unknown.is_empty() && !a.ignore_unknown {
            return Err(CniError::new(
                INVALID_ENVIRONMENT,
                "unknown CNI_ARGS",
                format!(
                    "{} (set IgnoreUnknown=1 to ignore them)",
                    unknown.join(", ")
                ),
            ));
        }
        Ok(a)
    }
}

/// The CNI environment of one invocation.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct CniEnv {
    /// The command.
    pub command: Command,
    /// `CNI_CONTAINERID`.
    pub container_id: String,
    /// `CNI_NETNS` (may be empty for DEL).
    pub netns: PathBuf,
    /// `CNI_IFNAME`.
    pub ifname: String,
    /// `CNI_ARGS`, parsed.
    pub args: CniArgs,
}

fn valid_container_id(id: &str) -> bool {
    let mut chars = id.chars();
    chars.next().is_some_and(|c| c.is_ascii_alphanumeric())
        && chars.all(|c| c.is_ascii_alphanumeric() || matches!(c, '_' | '.' | '-'))
}

fn valid_ifname(n: &str) -> bool {
    !n.is_empty()
        && n.len() <= 15
        && n != "."
        && n != ".."
        && !n.chars().any(|c| c == '/' || c == ':' || c.is_whitespace())
}

impl CniEnv {
    /// Reads and checks the environment through `var`.
    pub fn from_vars(var: &dyn Fn(&str) -> Option<String>) -> Result<Self, CniError> {
        let command = Command::parse(&var("CNI_COMMAND").unwrap_or_default())?;
        let get = |k: &str| var(k).unwrap_or_default();
        let env = CniEnv {
            command,
            container_id: get("CNI_CONTAINERID"),
            netns: PathBuf::from(get("CNI_NETNS")),
            ifname: get("CNI_IFNAME"),
            args: match command {
                Command::Add | Command::Del | Command::Check => CniArgs::parse(&get("CNI_ARGS"))?,
                _ => CniArgs::default(),
            },
        };
        if matches!(command, Command::Add | Command::Del | Command::Check) {
            if !valid_container_id(&env.container_id) {
                return Err(CniError::new(
                    INVALID_ENVIRONMENT,
                    "invalid CNI_CONTAINERID",
                    format!(
                        "{:?}: must start with a letter or digit, followed by letters, digits, '_', '.' or '-'",
                        env.container_id
                    ),
                ));
            }
            if !valid_ifname(&env.ifname) {
                return Err(CniError::new(
                    INVALID_ENVIRONMENT,
                    "invalid CNI_IFNAME",
                    format!(
                        "{:?}: 1-15 characters, not '.' or '..', no '/', ':' or whitespace",
                        env.ifname
                    ),
                ));
            }
            if command != Command::Del && env.netns.as_os_str().is_empty() {
                return Err(CniError::new(
                    INVALID_ENVIRONMENT,
                    "CNI_NETNS is required",
                    "",
                ));
            }
        }
        Ok(env)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::HashMap;

    fn env(pairs: &[(&str, &str)]) -> Result<CniEnv, CniError> {
        let m: HashMap<String, String> = pairs
            .iter()
            .map(|(k, v)| ((*k).into(), (*v).into()))
            .collect();
        CniEnv::from_vars(&|k| m.get(k).cloned())
    }

    #[test]
    fn environment_is_checked_per_command() {
        let ok = [
            ("CNI_COMMAND", "ADD"),
            ("CNI_CONTAINERID", "abc_1.2-x"),
            ("CNI_NETNS", "/run/netns/x"),
            ("CNI_IFNAME", "eth0"),
        ];
        let e = env(&ok).unwrap();
        assert_eq!(e.command, Command::Add);
        assert_eq!(e.ifname, "eth0");
        assert_eq!(
            env(&[("CNI_COMMAND", "VERSION")]).unwrap().command,
            Command::Version
        );
        for (k, bad) in [
            ("CNI_CONTAINERID", "-x"),
            ("CNI_CONTAINERID", ""),
            ("CNI_IFNAME", "a/b"),
            ("CNI_IFNAME", "0123456789abcdef"),
            ("CNI_IFNAME", ".."),
            ("CNI_NETNS", ""),
            ("CNI_COMMAND", "FOO"),
        ] {
            let mut v: Vec<(&str, &str)> = ok.iter().filter(|(x, _)| *x != k).copied().collect();
            v.push((k, bad));
            assert_eq!(env(&v).unwrap_err().code, INVALID_ENVIRONMENT, "{k}={bad}");
        }
        // DEL works without a netns.
        let del = [
            ("CNI_COMMAND", "DEL"),
            ("CNI_CONTAINERID", "c"),
            ("CNI_IFNAME", "eth0"),
        ];
        assert_eq!(env(&del).unwrap().command, Command::Del);
    }

    #[test]
    fn cni_args_parse_and_unknown_keys_need_ignore_unknown() {
        let a = CniArgs::parse(
            "IgnoreUnknown=1;K8S_POD_NAME=web;K8S_POD_NAMESPACE=ns;FOO=bar;CONTIV_GROUP=db",
        )
        .unwrap();
        assert!(a.ignore_unknown);
        assert_eq!(a.pod_name.as_deref(), Some("web"));
        assert_eq!(a.pod_namespace.as_deref(), Some("ns"));
        assert_eq!(a.group.as_deref(), Some("db"));
        let e = CniArgs::parse("FOO=bar").unwrap_err();
        assert_eq!(e.code, INVALID_ENVIRONMENT);
        assert!(e.details.contains("FOO"));
        assert!(CniArgs::parse("novalue").is_err());
        assert_eq!(CniArgs::parse("").unwrap(), CniArgs::default());
        let a = CniArgs::parse("CONTIV_TENANT=blue;CONTIV_NETWORK=n").unwrap();
        assert_eq!(
            (a.tenant.as_deref(), a.network.as_deref()),
            (Some("blue"), Some("n"))
        );
    }
}
