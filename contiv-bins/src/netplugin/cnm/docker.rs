//! The Docker engine API client (over its unix socket) and the sync that
//! keeps one Docker network per contiv network and group.
//!
//! For every data network with allocated tags the agent wants a Docker
//! network named as in [`super::names`], with driver and IPAM driver = the
//! plugin name, the network's subnet and gateway, IPAM options and driver
//! options `tenant`/`network`/`group` (plus `encap` and `pkt-tag`, as the
//! original), attachable, and the label `io.contiv.managed=true`. The sync
//! creates what is missing and removes managed networks whose contiv
//! object is gone (Docker refuses while containers are attached; the sync
//! retries). Networks created by hand are never touched.

use super::names::{Target, docker_name};
use crate::netplugin::core::Core;
use crate::netplugin::desired::network_spec;
use crate::netplugin::unix;
use crate::netplugin::view::HostView;
use axum::http::Method;
use contiv_core::datapath::Encap;
use serde::{Deserialize, Serialize};
use serde_json::json;
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;
use tracing::{info, warn};

/// The label marking networks the agent manages.
pub const MANAGED_LABEL: &str = "io.contiv.managed";

const TIMEOUT: Duration = Duration::from_secs(30);

/// A Docker network as the engine lists it.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default)]
pub struct DockerNetwork {
    /// Name.
    #[serde(rename = "Name")]
    pub name: String,
    /// Id.
    #[serde(rename = "Id")]
    pub id: String,
    /// Driver.
    #[serde(rename = "Driver")]
    pub driver: String,
    /// Driver options.
    #[serde(rename = "Options")]
    pub options: BTreeMap<String, String>,
    /// Labels.
    #[serde(rename = "Labels")]
    pub labels: BTreeMap<String, String>,
}

/// A client of the Docker engine API.
#[derive(Clone, Debug)]
pub struct DockerClient {
    socket: PathBuf,
}

impl DockerClient {
    /// A client for `unix:///path` (or a plain socket path).
    pub fn from_host(host: &str) -> Result<Self, String> {
        let path = host.strip_prefix("unix://").unwrap_or(host);
        if path.is_empty() || host.starts_with("tcp://") || host.starts_with("http") {
            return Err(format!(
                "unsupported Docker host {host:?}: only unix sockets (unix:///var/run/docker.sock) are supported"
            ));
        }
        Ok(DockerClient {
            socket: PathBuf::from(path),
        })
    }

    /// The socket.
    pub fn socket(&self) -> &Path {
        &self.socket
    }

    async fn call(
        &self,
        method: Method,
        path: &str,
        body: Option<serde_json::Value>,
    ) -> Result<(u16, bytes::Bytes), String> {
        let body = body.map(|b| serde_json::to_vec(&b).unwrap_or_default());
        let (status, bytes) = unix::request(&self.socket, method, path, body, TIMEOUT).await?;
        Ok((status.as_u16(), bytes))
    }

    fn err(what: &str, status: u16, body: &[u8]) -> String {
        let msg = serde_json::from_slice::<serde_json::Value>(body)
            .ok()
            .and_then(|v| v.get("message").and_then(|m| m.as_str()).map(str::to_owned))
            .unwrap_or_else(|| String::from_utf8_lossy(body).trim().to_owned());
        format!("Docker refused to {what} (HTTP {status}): {msg}")
    }

    /// Every network.
    pub async fn list_networks(&self) -> Result<Vec<DockerNetwork>, String> {
        let (status, body) = self.call(Method::GET, "/networks", None).await?;
        if status != 200 {
            return Err(Self::err("list networks", status, &body));
        }
        serde_json::from_slice(&body)
            .map_err(|e| format!("cannot decode Docker's network list: {e}"))
    }

    /// One network by id or name (`None` if unknown).
    pub async fn inspect_network(&self, id: &str) -> Result<Option<DockerNetwork>, String> {
        let (status, body) = self
            .call(Method::GET, &format!("/networks/{id}"), None)
            .await?;
        match status {
            200 => serde_json::from_slice(&body)
                .map(Some)
                .map_err(|e| format!("cannot decode Docker network {id}: {e}")),
            404 => Ok(None),
            s => Err(Self::err("inspect a network", s, &body)),
        }
    }

    /// Creates a network from a `POST /networks/create` body.
    pub async fn create_network(&self, body: serde_json::Value) -> Result<(), String> {
        let (status, b) = self
            .call(Method::POST, "/networks/create", Some(body))
            .await?;
        match status {
            200 | 201 => Ok(()),
            s => Err(Self::err("create a network", s, &b)),
        }
    }

    /// Removes a network by id.
    pub async fn remove_network(&self, id: &str) -> Result<(), String> {
        let (status, b) = self
            .call(Method::DELETE, &format!("/networks/{id}"), None)
            .await?;
        match status {
            200 | 204 | 404 => Ok(()),
            s => Err(Self::err("remove a network", s, &b)),
        }
    }
}

/// The Docker networks the view calls for, by name, with their
/// `POST /networks/create` bodies.
pub fn desired_networks(view: &HostView, plugin: &str) -> BTreeMap<String, serde_json::Value> {
    let mut out = BTreeMap::new();
    let mut add = |t: Target| {
        let Some(spec) = network_spec(view, &t.network_key()) else {
            return;
        };
        let Some(subnet) = spec.subnet else {
            return;
        };
        let name = docker_name(&t);
        let mut cfg = json!({ "Subnet": subnet.to_string() });
        if let Some(gw) = spec.gateway {
            cfg["Gateway"] = json!(gw.to_string());
        }
        let pkt_tag = match spec.encap {
            Encap::Vxlan => spec.vni.unwrap_or_default(),
            Encap::Vlan => u32::from(spec.vlan),
        };
        let opts = json!({"tenant": t.tenant, "network": t.network, "group": t.group});
        let mut driver_opts = opts.clone();
        driver_opts["encap"] = json!(if spec.encap == Encap::Vxlan {
            "vxlan"
        } else {
            "vlan"
        });
        driver_opts["pkt-tag"] = json!(pkt_tag.to_string());
        out.insert(
            name.clone(),
            json!({
                "Name": name,
                "CheckDuplicate": true,
                "Driver": plugin,
                "EnableIPv6": false,
                "IPAM": { "Driver": plugin, "Config": [cfg], "Options": opts },
                "Internal": false,
                "Attachable": true,
                "Options": driver_opts,
                "Labels": { MANAGED_LABEL: "true" },
            }),
        );
    };
    for n in view.networks.values() {
        if n.nw_type != "infra" {
            add(Target {
                tenant: n.tenant_name.clone(),
                network: n.network_name.clone(),
                group: String::new(),
            });
        }
    }
    for g in view.epgs.values() {
        add(Target {
            tenant: g.tenant_name.clone(),
            network: g.network_name.clone(),
            group: g.group_name.clone(),
        });
    }
    out
}

/// One sync pass; returns true if everything is in place.
pub async fn sync_once(
    docker: &DockerClient,
    plugin: &str,
    want: &BTreeMap<String, serde_json::Value>,
) -> Result<bool, String> {
    let have = docker.list_networks().await?;
    let mut ok = true;
    let names: std::collections::BTreeSet<&str> = have.iter().map(|n| n.name.as_str()).collect();
    for (name, body) in want {
        if !names.contains(name.as_str()) {
            match docker.create_network(body.clone()).await {
                Ok(()) => info!(network = %name, "created Docker network"),
                Err(e) => {
                    warn!(network = %name, error = %e, "cannot create Docker network");
                    ok = false;
                }
            }
        }
    }
    for n in &have {
        let managed =
            n.driver == plugin && n.labels.get(MANAGED_LABEL).is_some_and(|v| v == "true");
        if managed && !want.contains_key(&n.name) {
            match docker.remove_network(&n.id).await {
                Ok(()) => info!(network = %n.name, "removed Docker network"),
                Err(e) => {
                    warn!(network = %n.name, error = %e, "cannot remove Docker network yet");
                    ok = false;
                }
            }
        }
    }
    Ok(ok)
}

/// Keeps Docker's networks in line with the view, forever.
pub async fn run_sync(core: Arc<Core>, docker: DockerClient, plugin: String) {
    let mut last: Option<BTreeMap<String, serde_json::Value>> = None;
    let mut since = std::time::Instant::now();
    loop {
        tokio::time::sleep(Duration::from_millis(500)).await;
        if !core.recon.status().synced {
            continue;
        }
        let want = core.recon.with_view(|v| desired_networks(v, &plugin)).await;
        let stale = since.elapsed() > Duration::from_secs(30);
        if last.as_ref() == Some(&want) && !stale {
            continue;
        }
        since = std::time::Instant::now();
        match sync_once(&docker, &plugin, &want).await {
            Ok(true) => last = Some(want),
            Ok(false) => {
                last = None;
                tokio::time::sleep(Duration::from_secs(5)).await;
            }
            Err(e) => {
                warn!(error = %e, "cannot sync Docker networks");
                last = None;
                tokio::time::sleep(Duration::from_secs(5)).await;
            }
        }
    }
}
