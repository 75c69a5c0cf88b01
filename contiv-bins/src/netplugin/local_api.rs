//! The local API on the CNI socket (default `/run/contiv/contiv-cni.sock`,
//! mode 0600): what `contiv-cni` calls. See [`crate::agent_api::wire`] for bodies.
//!
//! | call | does |
//! |---|---|
//! | `GET /status` | readiness (registered, synced) |
//! | `POST /cni/add` | ADD: endpoint `<container-id>-<ifname>`, plumbed into the netns |
//! | `POST /cni/del` | DEL (idempotent) |
//! | `POST /cni/check` | CHECK: records, then the container's namespace ([`super::ifcheck`]) |
//! | `POST /cni/gc` | GC: delete this host's endpoints of a CNI network that are not in the valid list |
//! | `GET /debug/desired` | the host's full desired state (what a resync converges to), as JSON |
//! | `GET /counters` | the datapath's packet counters: per endpoint, per rule, drops by reason (404 if the datapath does not count) |

use super::core::{AddSpec, Added, Core};
use super::error::{AgentError, AgentResult};
use super::ifcheck;
use super::journal::Release;
use crate::agent_api::wire::{
    AgentStatus, CniAddRequest, CniAddResponse, CniCheckRequest, CniDelRequest, ErrorBody,
};
use axum::body::Bytes;
use axum::extract::State;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::{Json, Router};
use contiv_core::datapath::Attachment;
use std::sync::Arc;
use std::sync::atomic::Ordering;

impl IntoResponse for AgentError {
    fn into_response(self) -> Response {
        let status =
            StatusCode::from_u16(self.kind.status()).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
        (
            status,
            Json(ErrorBody {
                kind: self.kind,
                message: self.message,
            }),
        )
            .into_response()
    }
}

/// The endpoint id of a CNI attachment.
pub fn cni_endpoint_id(container_id: &str, ifname: &str) -> String {
    format!("{container_id}-{ifname}")
}

/// The router of the CNI socket.
pub fn router(core: Arc<Core>) -> Router {
    Router::new()
        .route("/status", get(status))
        .route("/cni/add", post(add))
        .route("/cni/del", post(del))
        .route("/cni/check", post(check))
        .route("/cni/gc", post(gc))
        .route("/debug/desired", get(desired_state))
        .route("/counters", get(counters))
        .with_state(core)
}

/// The agent's status.
pub fn agent_status(core: &Core) -> AgentStatus {
    let rs = core.recon.status();
    let reason = core.not_ready_reason();
    AgentStatus {
        ready: reason.is_none(),
        registered: core.registered.load(Ordering::Relaxed),
        synced: rs.synced && core.connected.load(Ordering::Relaxed),
        host: core.me.host.clone(),
        vtep: core.me.vtep,
        datapath: core.recon.datapath().name().to_owned(),
        revision: rs.revision,
        resyncs: rs.resyncs,
        netmaster: core.client.current_url().to_owned(),
        reason: reason.unwrap_or_default(),
        capabilities: core.recon.datapath().capabilities(),
        not_enforced: rs.not_enforced,
    }
}

async fn status(State(core): State<Arc<Core>>) -> Json<AgentStatus> {
    Json(agent_status(&core))
}

async fn counters(
    State(core): State<Arc<Core>>,
) -> AgentResult<Json<crate::agent_api::wire::DatapathCounters>> {
    let Some(c) = &core.counters else {
        return Err(AgentError::not_found(format!(
            "the {} datapath keeps no packet counters",
            core.recon.datapath().name()
        )));
    };
    c.counters()
        .await
        .map(Json)
        .map_err(|e| AgentError::internal(format!("reading the datapath counters: {e}")))
}

async fn desired_state(State(core): State<Arc<Core>>) -> Json<crate::agent_api::wire::DesiredDump> {
    Json(crate::agent_api::wire::DesiredDump::from_state(
        core.recon.desired_state().await,
    ))
}

fn body<T: serde::de::DeserializeOwned>(b: &[u8]) -> AgentResult<T> {
    serde_json::from_slice(b).map_err(|e| AgentError::invalid(format!("invalid request body: {e}")))
}

fn response(
    a: &Added,
    ifname: &str,
    netns: &std::path::Path,
    dns: Option<std::net::Ipv4Addr>,
) -> CniAddResponse {
    CniAddResponse {
        endpoint_id: a.endpoint.id.clone(),
        network_key: a.endpoint.network_key(),
        group: a.endpoint.group.clone(),
        host_ifname: a.local.host_ifname.clone(),
        ifname: ifname.to_owned(),
        netns: netns.to_owned(),
        mac: a.endpoint.mac.to_string(),
        mtu: a.local.mtu,
        ipv4: a.local.ipv4,
        gateway: a.network.gateway,
        ipv6: a.local.ipv6,
        gateway6: a.network.gateway6,
        dns,
    }
}

/// The built-in DNS address for a container on `network_key`, if the
/// agent serves DNS there.
async fn dns_for(core: &Core, network_key: &str) -> Option<std::net::Ipv4Addr> {
    match core.recon.dns() {
        Some(d) if d.serving(network_key).await => Some(crate::dns::DNS_ADDR),
        _ => None,
    }
}

async fn add(State(core): State<Arc<Core>>, b: Bytes) -> AgentResult<Json<CniAddResponse>> {
    let req: CniAddRequest = body(&b)?;
    if req.netns.as_os_str().is_empty() {
        return Err(AgentError::invalid("CNI_NETNS is required for ADD"));
    }
    let mut labels = req.labels.clone();
    if !req.pod_namespace.is_empty() {
        labels.insert(
            "io.kubernetes.pod.namespace".into(),
            req.pod_namespace.clone(),
        );
    }
    if !req.pod_name.is_empty() {
        labels.insert("io.kubernetes.pod.name".into(), req.pod_name.clone());
    }
    let spec = AddSpec {
        id: cni_endpoint_id(&req.container_id, &req.ifname),
        tenant: req.tenant.clone(),
        network: req.network.clone(),
        group: req.group.clone(),
        container_id: req.container_id.clone(),
        container_name: req.pod_name.clone(),
        labels,
        ipv4: req.ipv4,
        attachment: Attachment::Netns {
            netns: req.netns.clone(),
            ifname: req.ifname.clone(),
        },
        mtu: req.mtu.unwrap_or(core.me.mtu),
        release: Release::Free,
        // CNI users publish ports by chaining the `portmap` plugin.
        published: Vec::new(),
    };
    let added = core.add(spec).await?;
    let net_key = added.endpoint.network_key();
    let dns = dns_for(&core, &net_key).await;
    if dns.is_some() {
        // The container reaches the DNS endpoint over a link route.
        let route = ipnet::Ipv4Net::from(crate::dns::DNS_ADDR);
        let ns = contiv_core::linux::Netns::Path(req.netns.clone());
        if let Err(e) = contiv_core::linux::add_link_routes(&ns, &req.ifname, &[route]).await {
            let undo = core
                .del(&added.endpoint.id, Some(net_key), Release::Free)
                .await;
            let msg = format!(
                "cannot add the route to the built-in DNS in {}: {e}",
                req.netns.display()
            );
            return Err(match undo {
                Ok(()) => AgentError::datapath(msg),
                Err(u) => AgentError::datapath(format!("{msg}; undoing the ADD failed too: {u}")),
            });
        }
    }
    Ok(Json(response(&added, &req.ifname, &req.netns, dns)))
}

async fn del(State(core): State<Arc<Core>>, b: Bytes) -> AgentResult<Json<serde_json::Value>> {
    let req: CniDelRequest = body(&b)?;
    let hint = (!req.network.is_empty()).then(|| {
        let t = if req.tenant.is_empty() {
            "default"
        } else {
            &req.tenant
        };
        format!("{t}:{}", req.network)
    });
    core.del(
        &cni_endpoint_id(&req.container_id, &req.ifname),
        hint,
        Release::Free,
    )
    .await?;
    Ok(Json(serde_json::json!({})))
}

async fn check(State(core): State<Arc<Core>>, b: Bytes) -> AgentResult<Json<CniAddResponse>> {
    let req: CniCheckRequest = body(&b)?;
    let id = cni_endpoint_id(&req.container_id, &req.ifname);
    let (rec, local) = core.check(&id).await?;
    let (netns, ifname) = match &local.attachment {
        Attachment::Netns { netns, ifname } => (netns.clone(), ifname.clone()),
        _ => (Default::default(), req.ifname.clone()),
    };
    let net = core
        .recon
        .with_view(|v| super::desired::network_spec(v, &rec.network_key()))
        .await;
    let added = CniAddResponse {
        endpoint_id: rec.id.clone(),
        network_key: rec.network_key(),
        group: rec.group.clone(),
        host_ifname: local.host_ifname.clone(),
        ifname,
        netns,
        mac: rec.mac.to_string(),
        mtu: local.mtu,
        ipv4: local.ipv4,
        gateway: net.as_ref().and_then(|n| n.gateway),
        ipv6: local.ipv6,
        gateway6: net.as_ref().and_then(|n| n.gateway6),
        dns: dns_for(&core, &rec.network_key()).await,
    };
    let want = ifcheck::Expected::new(&added, req.prev.as_ref()).map_err(AgentError::conflict)?;
    if core
        .recon
        .datapath()
        .capabilities()
        .has(contiv_core::datapath::Capability::ForwardsPackets)
    {
        let netns = if req.netns.as_os_str().is_empty() {
            &added.netns
        } else {
            &req.netns
        };
        ifcheck::verify(netns, &want)
            .await
            .map_err(|e| e.context(&format!("CHECK of endpoint {id}")))?;
    } else {
        // The recording reference plumbs no interfaces: the records are all
        // there is to compare.
        tracing::debug!(endpoint = %id, "CHECK: the datapath plumbs no interfaces; namespace not read");
    }
    Ok(Json(added))
}

/// `POST /cni/gc`.
#[derive(Debug, serde::Deserialize)]
struct GcRequest {
    network_name: String,
    #[serde(default)]
    valid: Vec<(String, String)>,
}

async fn gc(State(core): State<Arc<Core>>, b: Bytes) -> AgentResult<Json<serde_json::Value>> {
    let req: GcRequest = body(&b)?;
    let valid: std::collections::BTreeSet<(String, String)> = req.valid.into_iter().collect();
    let host = core.me.host.clone();
    let stale: Vec<(String, String)> = core
        .recon
        .with_view(|v| {
            v.endpoints
                .values()
                .filter(|e| {
                    e.host == host
                        && e.labels.get(crate::agent_api::wire::LABEL_NETWORK)
                            == Some(&req.network_name)
                })
                .filter(|e| {
                    let ifname = e
                        .labels
                        .get(crate::agent_api::wire::LABEL_IFNAME)
                        .cloned()
                        .unwrap_or_default();
                    !valid.contains(&(e.container_id.clone(), ifname))
                })
                .map(|e| (e.id.clone(), e.network_key()))
                .collect()
        })
        .await;
    for (id, net) in &stale {
        core.del(id, Some(net.clone()), Release::Free).await?;
    }
    Ok(Json(serde_json::json!({ "deleted": stale.len() })))
}
