//! The plugin's commands: one invocation in, stdout text and an exit code
//! out.

use super::env::{CniEnv, Command};
use super::error::*;
use super::netconf::{LATEST, NetConf, SUPPORTED_VERSIONS, supported, version_tuple};
use super::result::{CniResult, Interface, IpConfig};
use crate::agent_api::client::{CallError, call};
use crate::agent_api::wire::{
    AgentErrorKind, AgentStatus, CniAddRequest, CniAddResponse, CniCheckRequest, CniDelRequest,
    ErrorBody,
};
pub use crate::agent_api::wire::{LABEL_IFNAME, LABEL_NETWORK};
use serde::Serialize;
use serde::de::DeserializeOwned;
use std::net::IpAddr;
use std::path::{Path, PathBuf};
use std::time::Duration;

/// The default agent socket.
pub const DEFAULT_SOCKET: &str = "/run/contiv/contiv-cni.sock";

/// The default network when none is chosen (the original's k8s default).
pub const DEFAULT_NETWORK: &str = "default-net";

/// How long a call to the agent may take.
const CALL_TIMEOUT: Duration = Duration::from_secs(60);

/// What an invocation prints and returns.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Outcome {
    /// Text for stdout (may be empty).
    pub stdout: String,
    /// Exit code.
    pub code: i32,
}

fn ok_json(v: &serde_json::Value) -> Outcome {
    Outcome {
        stdout: format!("{v}\n"),
        code: 0,
    }
}

fn fail(e: &CniError, version: &str) -> Outcome {
    Outcome {
        stdout: format!("{}\n", e.to_json(version)),
        code: 1,
    }
}

/// Runs one invocation: environment through `var`, netconf on `stdin`.
pub fn run(var: &dyn Fn(&str) -> Option<String>, stdin: &[u8]) -> Outcome {
    // The version errors are reported in: the config's if usable.
    let version = serde_json::from_slice::<serde_json::Value>(stdin)
        .ok()
        .and_then(|v| {
            v.get("cniVersion")
                .and_then(|s| s.as_str())
                .map(str::to_owned)
        })
        .filter(|v| supported(v))
        .unwrap_or_else(|| "1.0.0".to_owned());
    let env = match CniEnv::from_vars(var) {
        Ok(e) => e,
        Err(e) => return fail(&e, &version),
    };
    if env.command == Command::Version {
        return ok_json(&serde_json::json!({
            "cniVersion": if version_requested(stdin) { version.as_str() } else { LATEST },
            "supportedVersions": SUPPORTED_VERSIONS,
        }));
    }
    let nc = match NetConf::parse(stdin) {
        Ok(n) => n,
        Err(e) => return fail(&e, &version),
    };
    let socket = nc
        .socket
        .clone()
        .or_else(|| var("CONTIV_CNI_SOCKET").map(PathBuf::from))
        .unwrap_or_else(|| PathBuf::from(DEFAULT_SOCKET));
    let r = match env.command {
        Command::Add => add(&env, &nc, &socket),
        Command::Del => del(&env, &nc, &socket).map(|()| None),
        Command::Check => check(&env, &nc, &socket).map(|()| None),
        Command::Status => status(&socket).map(|()| None),
        Command::Gc => gc(&nc, &socket).map(|()| None),
        Command::Version => Ok(None),
    };
    match r {
        Ok(Some(v)) => ok_json(&v),
        Ok(None) => Outcome {
            stdout: String::new(),
            code: 0,
        },
        Err(e) => fail(&e, &nc.cni_version),
    }
}

fn version_requested(stdin: &[u8]) -> bool {
    serde_json::from_slice::<serde_json::Value>(stdin)
        .ok()
        .and_then(|v| v.get("cniVersion").and_then(|s| s.as_str()).map(supported))
        .unwrap_or(false)
}

fn agent_error(e: ErrorBody, status: u16) -> CniError {
    let code = match e.kind {
        AgentErrorKind::Invalid => INVALID_NETWORK_CONFIG,
        AgentErrorKind::NotFound | AgentErrorKind::Conflict => REFUSED,
        AgentErrorKind::Unavailable | AgentErrorKind::Injected => TRY_AGAIN_LATER,
        AgentErrorKind::Datapath => DATAPATH_FAILURE,
        AgentErrorKind::Misconfigured => MISCONFIGURED,
        AgentErrorKind::Internal => INTERNAL,
    };
    CniError::new(
        code,
        format!("contiv: {}", e.message),
        format!("agent answered HTTP {status}"),
    )
}

fn request<B: Serialize, T: DeserializeOwned>(
    socket: &Path,
    method: &str,
    path: &str,
    body: Option<&B>,
) -> Result<T, CniError> {
    let bytes = match body {
        Some(b) => Some(
            serde_json::to_vec(b)
                .map_err(|e| CniError::new(INTERNAL, "cannot encode a request", e.to_string()))?,
        ),
        None => None,
    };
    let (status, resp) =
        call(socket, method, path, bytes.as_deref(), CALL_TIMEOUT).map_err(|e| match e {
            CallError::Connect { .. } => CniError::new(
                TRY_AGAIN_LATER,
                "the contiv agent is not reachable",
                e.to_string(),
            ),
            CallError::Protocol(_) => CniError::new(
                IO_FAILURE,
                "talking to the contiv agent failed",
                e.to_string(),
            ),
        })?;
    if !(200..300).contains(&status) {
        return Err(match serde_json::from_slice::<ErrorBody>(&resp) {
            Ok(b) => agent_error(b, status),
            Err(_) => CniError::new(
                INTERNAL,
                format!("the contiv agent answered HTTP {status}"),
                String::from_utf8_lossy(&resp).into_owned(),
            ),
        });
    }
    serde_json::from_slice(&resp).map_err(|e| {
        CniError::new(
            DECODE_FAILURE,
            "cannot decode the agent's answer",
            e.to_string(),
        )
    })
}

/// Tenant, network and group by precedence: `CNI_ARGS` `CONTIV_*`, then
/// the `io.contiv.*` labels of `args.cni.labels`, then the netconf fields,
/// then `default` / [`DEFAULT_NETWORK`] / none.
pub fn selection(env: &CniEnv, nc: &NetConf) -> (String, String, String) {
    let labels = nc.labels();
    let pick = |arg: &Option<String>, label: &str, field: &Option<String>| {
        arg.clone()
            .filter(|s| !s.is_empty())
            .or_else(|| labels.get(label).cloned().filter(|s| !s.is_empty()))
            .or_else(|| field.clone().filter(|s| !s.is_empty()))
    };
    let tenant =
        pick(&env.args.tenant, "io.contiv.tenant", &nc.tenant).unwrap_or_else(|| "default".into());
    let group = pick(&env.args.group, "io.contiv.net-group", &nc.group).unwrap_or_default();
    let network = pick(&env.args.network, "io.contiv.network", &nc.network).unwrap_or_else(|| {
        if group.is_empty() {
            DEFAULT_NETWORK.into()
        } else {
            String::new()
        }
    });
    (tenant, network, group)
}

fn add(env: &CniEnv, nc: &NetConf, socket: &Path) -> Result<Option<serde_json::Value>, CniError> {
    if !env.netns.exists() {
        return Err(CniError::new(
            UNKNOWN_CONTAINER,
            "the network namespace does not exist",
            env.netns.display().to_string(),
        ));
    }
    let (tenant, network, group) = selection(env, nc);
    let mut labels = nc.labels();
    labels.insert(LABEL_NETWORK.into(), nc.name.clone());
    labels.insert(LABEL_IFNAME.into(), env.ifname.clone());
    let req = CniAddRequest {
        container_id: env.container_id.clone(),
        ifname: env.ifname.clone(),
        netns: env.netns.clone(),
        tenant,
        network,
        group,
        pod_name: env.args.pod_name.clone().unwrap_or_default(),
        pod_namespace: env.args.pod_namespace.clone().unwrap_or_default(),
        labels,
        ipv4: nc.requested_ipv4()?,
        mtu: nc.mtu,
    };
    let r: CniAddResponse = request(socket, "POST", "/cni/add", Some(&req))?;
    Ok(Some(to_result(&r, nc).to_json(&nc.cni_version)))
}

/// The CNI result of an ADD answer.
pub fn to_result(r: &CniAddResponse, nc: &NetConf) -> CniResult {
    let mut res = CniResult {
        interfaces: vec![
            Interface {
                name: r.host_ifname.clone(),
                mac: None,
                sandbox: None,
                mtu: None,
            },
            Interface {
                name: r.ifname.clone(),
                mac: Some(r.mac.clone()),
                sandbox: Some(r.netns.display().to_string()),
                mtu: Some(r.mtu),
            },
        ],
        dns: nc.dns.clone().unwrap_or_default(),
        ..CniResult::default()
    };
    for address in r.addresses() {
        res.ips.push(IpConfig {
            address,
            gateway: match address {
                ipnet::IpNet::V4(_) => r.gateway.map(IpAddr::V4),
                ipnet::IpNet::V6(_) => r.gateway6.map(IpAddr::V6),
            },
            interface: Some(1),
        });
    }
    res.routes = r.routes();
    if let Some(d) = r.dns {
        // The built-in DNS first, then whatever the netconf names.
        let ours = d.to_string();
        res.dns.nameservers.retain(|n| *n != ours);
        res.dns.nameservers.insert(0, ours);
    }
    res
}

fn del(env: &CniEnv, nc: &NetConf, socket: &Path) -> Result<(), CniError> {
    let (tenant, network, _) = selection(env, nc);
    let req = CniDelRequest {
        container_id: env.container_id.clone(),
        ifname: env.ifname.clone(),
        tenant,
        network,
    };
    let _: serde_json::Value = request(socket, "POST", "/cni/del", Some(&req))?;
    Ok(())
}

fn check(env: &CniEnv, nc: &NetConf, socket: &Path) -> Result<(), CniError> {
    if version_tuple(&nc.cni_version) < (0, 4, 0) {
        return Err(CniError::new(
            INCOMPATIBLE_VERSION,
            "CHECK needs cniVersion 0.4.0 or later",
            format!("config version {}", nc.cni_version),
        ));
    }
    let prev = match nc.prev()? {
        Some(p) => Some(
            p.listed(&env.ifname)
                .map_err(|e| CniError::new(DECODE_FAILURE, "cannot decode prevResult", e))?,
        ),
        None => None,
    };
    let req = CniCheckRequest {
        container_id: env.container_id.clone(),
        ifname: env.ifname.clone(),
        netns: env.netns.clone(),
        prev,
    };
    let _: CniAddResponse = request(socket, "POST", "/cni/check", Some(&req))?;
    Ok(())
}

fn status(socket: &Path) -> Result<(), CniError> {
    let s: AgentStatus = request::<(), _>(socket, "GET", "/status", None).map_err(|e| {
        CniError::new(
            PLUGIN_NOT_AVAILABLE,
            "the contiv agent is not available",
            e.to_string(),
        )
    })?;
    if !s.ready {
        return Err(CniError::new(
            PLUGIN_NOT_AVAILABLE,
            "the contiv agent is not ready",
            s.reason,
        ));
    }
    Ok(())
}

fn gc(nc: &NetConf, socket: &Path) -> Result<(), CniError> {
    let valid: Vec<(String, String)> = nc
        .valid_attachments
        .iter()
        .flatten()
        .map(|a| (a.container_id.clone(), a.ifname.clone()))
        .collect();
    let body = serde_json::json!({ "network_name": nc.name, "valid": valid });
    let _: serde_json::Value = request(socket, "POST", "/cni/gc", Some(&body))?;
    Ok(())
}
