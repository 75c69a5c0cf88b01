//! The Docker remote NetworkDriver and IpamDriver (see the [module
//! docs](super) for the protocol and the address lifecycle).

use super::docker::DockerClient;
use super::names::{Target, resolve};
use super::pool;
use super::protocol::*;
use crate::api::ReservationRequest;
use crate::netplugin::core::{AddSpec, Core};
use crate::netplugin::desired::network_spec;
use crate::netplugin::error::{AgentError, AgentResult};
use crate::netplugin::faults::Step;
use crate::netplugin::ifnames::peer_ifname;
use crate::netplugin::journal::Release;
use crate::netplugin::view::HostView;
use axum::Router;
use axum::body::Bytes;
use axum::extract::State;
use axum::http::{StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::post;
use contiv_core::datapath::{Attachment, Capability, PublishedPort};
use ipnet::Ipv4Net;
use serde::Serialize;
use serde::de::DeserializeOwned;
use serde_json::json;
use std::collections::BTreeMap;
use std::net::Ipv4Addr;
use std::path::PathBuf;
use std::sync::{Arc, Mutex};
use tracing::{info, warn};

/// The label of endpoints whose address came from Docker's IPAM calls
/// (kept reserved between `DeleteEndpoint` and `ReleaseAddress`).
pub const IPAM_LABEL: &str = "contiv.io/docker-ipam";

/// The Docker plugin's state: Docker network id → contiv target,
/// persisted in the state directory (Docker announces a network once).
pub struct Cnm {
    core: Arc<Core>,
    docker: Option<DockerClient>,
    networks: Mutex<BTreeMap<String, Target>>,
    path: PathBuf,
    /// Held from the host-port check of a publishing `CreateEndpoint` until
    /// its record is seen, so two containers cannot both take a host port.
    publishing: tokio::sync::Mutex<()>,
}

impl std::fmt::Debug for Cnm {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Cnm").field("path", &self.path).finish()
    }
}

fn reply<T: Serialize>(r: AgentResult<T>) -> Response {
    let (status, body) = match r {
        Ok(v) => (
            StatusCode::OK,
            serde_json::to_vec(&v).unwrap_or_else(|_| b"{}".to_vec()),
        ),
        Err(e) => {
            warn!(error = %e, "Docker plugin call failed");
            (
                StatusCode::INTERNAL_SERVER_ERROR,
                serde_json::to_vec(&ErrorResponse { err: e.message }).unwrap_or_default(),
            )
        }
    };
    (status, [(header::CONTENT_TYPE, CONTENT_TYPE)], body).into_response()
}

fn parse<T: DeserializeOwned + Default>(b: &[u8]) -> AgentResult<T> {
    if b.iter().all(|c| c.is_ascii_whitespace()) || b == b"null" {
        return Ok(T::default());
    }
    serde_json::from_slice(b).map_err(|e| AgentError::invalid(format!("invalid request body: {e}")))
}

/// `a.b.c.d` or `a.b.c.d/len` → the address.
fn addr_of(s: &str) -> AgentResult<Option<Ipv4Addr>> {
    if s.is_empty() {
        return Ok(None);
    }
    let a = s.split('/').next().unwrap_or(s);
    a.parse()
        .map(Some)
        .map_err(|_| AgentError::invalid(format!("invalid IPv4 address {s:?}")))
}

fn check_target(view: &HostView, t: &Target) -> AgentResult<Ipv4Net> {
    let key = t.network_key();
    let n = view.networks.get(&key).ok_or_else(|| {
        AgentError::not_found(format!(
            "contiv network {key} does not exist; create it first (netctl net create)"
        ))
    })?;
    if !t.group.is_empty() {
        let gk = format!("{}:{}", t.tenant, t.group);
        match view.epgs.get(&gk) {
            Some(g) if g.network_name == t.network => {}
            Some(g) => {
                return Err(AgentError::invalid(format!(
                    "endpoint group {gk} belongs to network {}, not {}",
                    g.network_name, t.network
                )));
            }
            None => {
                return Err(AgentError::not_found(format!(
                    "endpoint group {gk} does not exist"
                )));
            }
        }
    }
    n.ipv4_subnet()
        .map(|s| s.net)
        .map_err(|e| AgentError::invalid(format!("network {key} has an invalid subnet: {e}")))
}

/// The unique network with subnet `pool`.
fn by_subnet(view: &HostView, pool: &str) -> AgentResult<Target> {
    let want: Ipv4Net = pool
        .parse::<Ipv4Net>()
        .map(|n| n.trunc())
        .map_err(|_| AgentError::invalid(format!("invalid pool {pool:?}")))?;
    let found: Vec<Target> = view
        .networks
        .values()
        .filter(|n| n.ipv4_subnet().is_ok_and(|s| s.net == want))
        .map(|n| Target {
            tenant: n.tenant_name.clone(),
            network: n.network_name.clone(),
            group: String::new(),
        })
        .collect();
    match found.len() {
        1 => Ok(found.into_iter().next().unwrap_or_default()),
        0 => Err(AgentError::not_found(format!(
            "no contiv network has subnet {want}; create it with netctl net create --subnet {want} <name>, \
             or pass --ipam-opt network=<name> [--ipam-opt tenant=<t>]"
        ))),
        _ => Err(AgentError::invalid(format!(
            "several contiv networks have subnet {want}; choose one with --ipam-opt network=<name> --ipam-opt tenant=<t>"
        ))),
    }
}

fn target_from_options(opts: &BTreeMap<String, String>) -> Option<Target> {
    let network = opts.get("network").filter(|n| !n.is_empty())?;
    Some(Target {
        tenant: opts
            .get("tenant")
            .filter(|t| !t.is_empty())
            .cloned()
            .unwrap_or_else(|| "default".into()),
        network: network.clone(),
        group: opts.get("group").cloned().unwrap_or_default(),
    })
}

impl Cnm {
    /// The plugin for `core`; `docker` resolves networks created while the
    /// agent was down. Mappings persist under `state_dir`.
    pub fn new(core: Arc<Core>, docker: Option<DockerClient>, state_dir: &std::path::Path) -> Self {
        let path = state_dir.join("docker-networks.json");
        let networks = std::fs::read(&path)
            .ok()
            .and_then(|b| serde_json::from_slice(&b).ok())
            .unwrap_or_default();
        Cnm {
            core,
            docker,
            networks: Mutex::new(networks),
            path,
            publishing: tokio::sync::Mutex::new(()),
        }
    }

    fn save(&self, map: &BTreeMap<String, Target>) {
        let tmp = self.path.with_extension("json.tmp");
        let r = serde_json::to_vec_pretty(map)
            .map_err(std::io::Error::other)
            .and_then(|b| std::fs::write(&tmp, b))
            .and_then(|()| std::fs::rename(&tmp, &self.path));
        if let Err(e) = r {
            warn!(file = %self.path.display(), error = %e, "cannot persist Docker network mappings");
        }
    }

    fn remember(&self, id: &str, t: Target) {
        let mut m = self.networks.lock().unwrap_or_else(|e| e.into_inner());
        if m.get(id) != Some(&t) {
            m.insert(id.to_owned(), t);
            self.save(&m);
        }
    }

    fn forget(&self, id: &str) {
        let mut m = self.networks.lock().unwrap_or_else(|e| e.into_inner());
        if m.remove(id).is_some() {
            self.save(&m);
        }
    }

    /// The contiv target of Docker network `id`.
    pub async fn target_of(&self, id: &str) -> AgentResult<Target> {
        if let Some(t) = self
            .networks
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .get(id)
            .cloned()
        {
            return Ok(t);
        }
        if let Some(d) = &self.docker
            && let Ok(Some(n)) = d.inspect_network(id).await
        {
            let t = match target_from_options(&n.options) {
                Some(t) => Some(t),
                None => self.core.recon.with_view(|v| resolve(v, &n.name)).await,
            };
            if let Some(t) = t {
                self.remember(id, t.clone());
                return Ok(t);
            }
        }
        Err(AgentError::not_found(format!(
            "Docker network {id} is unknown to the contiv plugin (created while the agent was down?); \
             remove and create it again"
        )))
    }

    async fn create_network(&self, req: CreateNetworkRequest) -> AgentResult<serde_json::Value> {
        let generic: BTreeMap<String, String> = req
            .options
            .get(GENERIC_OPTIONS)
            .and_then(|v| v.as_object())
            .map(|o| {
                o.iter()
                    .filter_map(|(k, v)| v.as_str().map(|s| (k.clone(), s.to_owned())))
                    .collect()
            })
            .unwrap_or_default();
        let view_target = |v: &HostView| -> AgentResult<Target> {
            let t = match target_from_options(&generic) {
                Some(t) => t,
                None => match req.ipv4_data.first().filter(|d| !d.pool.is_empty()) {
                    Some(d) => by_subnet(v, &d.pool)?,
                    None => {
                        return Err(AgentError::invalid(
                            "name the contiv network with -o network=<name> [-o tenant=<t>] [-o group=<g>], or give its --subnet",
                        ));
                    }
                },
            };
            check_target(v, &t)?;
            Ok(t)
        };
        let t = self.core.recon.with_view(view_target).await?;
        info!(docker_network = %req.network_id, tenant = %t.tenant, network = %t.network, group = %t.group, "Docker network mapped");
        self.remember(&req.network_id, t);
        Ok(json!({}))
    }

    async fn request_pool(&self, req: RequestPoolRequest) -> AgentResult<RequestPoolResponse> {
        if req.v6 {
            return Err(AgentError::invalid(
                "IPv6 pools are not served by the contiv IPAM driver yet; create the Docker network without --ipv6",
            ));
        }
        let (t, subnet) = self
            .core
            .recon
            .with_view(|v| -> AgentResult<(Target, Ipv4Net)> {
                let t = match target_from_options(&req.options) {
                    Some(t) => t,
                    None if !req.pool.is_empty() => by_subnet(v, &req.pool)?,
                    None => {
                        return Err(AgentError::invalid(
                            "give the contiv network's subnet (--subnet) or --ipam-opt network=<name>",
                        ));
                    }
                };
                let subnet = check_target(v, &t)?;
                if !req.pool.is_empty() {
                    let asked: Ipv4Net = req
                        .pool
                        .parse::<Ipv4Net>()
                        .map_err(|_| AgentError::invalid(format!("invalid pool {:?}", req.pool)))?;
                    if asked.trunc() != subnet {
                        return Err(AgentError::invalid(format!(
                            "pool {} does not match subnet {subnet} of contiv network {}",
                            req.pool,
                            t.network_key()
                        )));
                    }
                }
                Ok((t, subnet))
            })
            .await?;
        Ok(RequestPoolResponse {
            pool_id: pool::encode(&t, subnet),
            pool: subnet.to_string(),
            data: BTreeMap::new(),
        })
    }

    async fn request_address(&self, req: AddressRequest) -> AgentResult<AddressResponse> {
        let (t, subnet) = pool::decode(&req.pool_id).map_err(AgentError::invalid)?;
        let asked = addr_of(&req.address)?;
        let fmt = |a: Ipv4Addr| AddressResponse {
            address: format!("{a}/{}", subnet.prefix_len()),
            data: BTreeMap::new(),
        };
        if req.options.get(REQUEST_ADDRESS_TYPE).map(String::as_str) == Some(GATEWAY_REQUEST) {
            // Answered locally, never allocated: the network's gateway, or
            // the subnet's network address, which no endpoint can get.
            let gw = self
                .core
                .recon
                .with_view(|v| network_spec(v, &t.network_key()).and_then(|s| s.gateway))
                .await;
            return Ok(fmt(asked.or(gw).unwrap_or(subnet.network())));
        }
        let r = self
            .core
            .client
            .reserve(&ReservationRequest {
                tenant: t.tenant.clone(),
                network: t.network.clone(),
                group: t.group.clone(),
                host: self.core.me.host.clone(),
                owner: self.core.instance.clone(),
                ipv4: asked,
            })
            .await?;
        if let Err(e) = self.core.faults.hit(Step::AfterReserve).await {
            if let Err(u) = self
                .core
                .client
                .release(&t.network_key(), r.ipv4, &self.core.me.host)
                .await
            {
                warn!(error = %u, "cannot release a reservation after an injected fault");
            }
            return Err(e);
        }
        Ok(fmt(r.ipv4))
    }

    async fn release_address(&self, req: AddressRequest) -> AgentResult<serde_json::Value> {
        let (t, subnet) = pool::decode(&req.pool_id).map_err(AgentError::invalid)?;
        let Some(a) = addr_of(&req.address)? else {
            return Ok(json!({}));
        };
        let gw = self
            .core
            .recon
            .with_view(|v| network_spec(v, &t.network_key()).and_then(|s| s.gateway))
            .await;
        if a == subnet.network() || Some(a) == gw {
            return Ok(json!({}));
        }
        self.core
            .client
            .release(&t.network_key(), a, &self.core.me.host)
            .await?;
        Ok(json!({}))
    }

    async fn create_endpoint(
        &self,
        req: CreateEndpointRequest,
    ) -> AgentResult<CreateEndpointResponse> {
        let published = published_ports(&req.endpoint_id, &req.options)
            .map_err(|e| AgentError::invalid(format!("endpoint {}: {e}", req.endpoint_id)))?;
        let t = self.target_of(&req.network_id).await?;
        let _publishing = if published.is_empty() {
            None
        } else {
            let guard = self.publishing.lock().await;
            self.check_publishable(&t, &req.endpoint_id, &published)
                .await?;
            Some(guard)
        };
        let iface = req.interface.clone().unwrap_or_default();
        let ipv4 = addr_of(&iface.address)?;
        // An address from Docker's IPAM call (ours) stays reserved after
        // DeleteEndpoint until ReleaseAddress; one allocated here is freed
        // with the endpoint.
        let mut labels = BTreeMap::new();
        let release = if ipv4.is_some() {
            labels.insert(IPAM_LABEL.to_owned(), "true".to_owned());
            Release::Demote
        } else {
            Release::Free
        };
        let added = self
            .core
            .add(AddSpec {
                id: req.endpoint_id.clone(),
                tenant: t.tenant.clone(),
                network: t.network.clone(),
                group: t.group.clone(),
                container_id: String::new(),
                container_name: String::new(),
                labels,
                ipv4,
                attachment: Attachment::HostVeth {
                    peer_name: peer_ifname(&req.endpoint_id),
                },
                mtu: self.core.me.mtu,
                release,
                published,
            })
            .await?;
        let mut out = super::protocol::EndpointInterface::default();
        if iface.mac_address.is_empty() {
            out.mac_address = added.endpoint.mac.to_string();
        }
        if iface.address.is_empty()
            && let Some(a) = added.local.ipv4
        {
            out.address = a.to_string();
        }
        Ok(CreateEndpointResponse {
            interface: (out != super::protocol::EndpointInterface::default()).then_some(out),
        })
    }

    /// Whether `published` can be realised for endpoint `id` on network
    /// `t`: the datapath publishes ports, the network has external access
    /// and a gateway (the container's way back to clients outside it), and
    /// no other endpoint of this host has one of the host ports.
    async fn check_publishable(
        &self,
        t: &Target,
        id: &str,
        published: &[PublishedPort],
    ) -> AgentResult<()> {
        let dp = self.core.recon.datapath();
        if !dp.capabilities().has(Capability::PublishedPorts) {
            return Err(AgentError::invalid(format!(
                "endpoint {id}: the {} datapath of this host lacks the {} capability, so `docker run -p` cannot be honoured; run the container without -p and reach it through a contiv service or its address",
                dp.name(),
                Capability::PublishedPorts.name()
            )));
        }
        let key = t.network_key();
        let spec = self.core.recon.with_view(|v| network_spec(v, &key)).await;
        if let Some(n) = spec {
            if !n.external {
                return Err(AgentError::invalid(format!(
                    "endpoint {id}: network {key} has no external access (nwType infra), so no host port can be published to it"
                )));
            }
            if n.gateway.is_none() {
                return Err(AgentError::invalid(format!(
                    "endpoint {id}: network {key} has no gateway, so its containers cannot answer clients outside it; give the network a --gateway to publish ports"
                )));
            }
        }
        // What the datapath is to hold: endpoints being removed are out
        // already (`docker rm` then `docker run -p` the same port works).
        let held = self.core.recon.desired_published().await;
        for p in published {
            let k = p.key();
            if let Some(q) = held
                .iter()
                .find(|q| q.endpoint != id && q.key().overlaps(&k))
            {
                return Err(AgentError::conflict(format!(
                    "endpoint {id}: host port {k} is already published to endpoint {} ({})",
                    q.endpoint,
                    q.key()
                )));
            }
        }
        Ok(())
    }

    /// `ProgramExternalConnectivity`: the ports were recorded and are
    /// realised with the endpoint (`CreateEndpoint`); Docker names them
    /// again, which must match what the endpoint's record holds.
    async fn program_external(
        &self,
        req: ExternalConnectivityRequest,
    ) -> AgentResult<serde_json::Value> {
        let id = &req.endpoint_id;
        let mut asked = published_ports(id, &req.options)
            .map_err(|e| AgentError::invalid(format!("endpoint {id}: {e}")))?;
        if asked.is_empty() {
            return Ok(json!({}));
        }
        let mut recorded = self
            .core
            .recon
            .with_view(|v| v.endpoint_by_id(id).map(|e| e.published.clone()))
            .await
            .unwrap_or_default();
        asked.sort_by_key(PublishedPort::key);
        recorded.sort_by_key(PublishedPort::key);
        if asked != recorded {
            let show = |ps: &[PublishedPort]| {
                ps.iter()
                    .map(|p| format!("{}->{}", p.key(), p.port))
                    .collect::<Vec<_>>()
                    .join(", ")
            };
            return Err(AgentError::conflict(format!(
                "endpoint {id}: Docker asks to publish [{}] but the endpoint was created with [{}]; remove the container and run it again",
                show(&asked),
                show(&recorded)
            )));
        }
        Ok(json!({}))
    }

    async fn join(&self, req: JoinRequest) -> AgentResult<JoinResponse> {
        let local = self
            .core
            .recon
            .local_endpoint(&req.endpoint_id)
            .await
            .ok_or_else(|| {
                AgentError::not_found(format!(
                    "endpoint {} was not created on this host",
                    req.endpoint_id
                ))
            })?;
        let spec = self
            .core
            .recon
            .with_view(|v| network_spec(v, &local.network))
            .await;
        let gw = spec.as_ref().and_then(|s| s.gateway);
        let mut static_routes = Vec::new();
        if let Some(d) = self.core.recon.dns()
            && d.serving(&local.network).await
        {
            static_routes.push(super::protocol::StaticRoute {
                destination: format!("{}/32", crate::dns::DNS_ADDR),
                route_type: super::protocol::ROUTE_CONNECTED,
                next_hop: String::new(),
            });
        }
        Ok(JoinResponse {
            interface_name: InterfaceName {
                src_name: match &local.attachment {
                    Attachment::HostVeth { peer_name } => peer_name.clone(),
                    _ => peer_ifname(&req.endpoint_id),
                },
                dst_prefix: "eth".into(),
            },
            gateway: gw.map(|g| g.to_string()).unwrap_or_default(),
            gateway_ipv6: spec
                .as_ref()
                .and_then(|s| s.gateway6)
                .map(|g| g.to_string())
                .unwrap_or_default(),
            disable_gateway_service: gw.is_none(),
            static_routes,
        })
    }

    async fn delete_endpoint(&self, req: EndpointRequest) -> AgentResult<serde_json::Value> {
        let hint = self
            .target_of(&req.network_id)
            .await
            .ok()
            .map(|t| t.network_key());
        let from_ipam = self
            .core
            .recon
            .with_view(|v| {
                v.endpoint_by_id(&req.endpoint_id)
                    .map(|e| e.labels.contains_key(IPAM_LABEL))
            })
            .await;
        // Without a record, demoting and deleting are both no-ops.
        let release = match from_ipam {
            Some(false) => Release::Free,
            _ => Release::Demote,
        };
        self.core.del(&req.endpoint_id, hint, release).await?;
        Ok(json!({}))
    }
}

macro_rules! handler {
    ($name:ident, $req:ty, $method:ident) => {
        async fn $name(State(cnm): State<Arc<Cnm>>, b: Bytes) -> Response {
            match parse::<$req>(&b) {
                Ok(r) => reply(cnm.$method(r).await),
                Err(e) => reply::<()>(Err(e)),
            }
        }
    };
}

handler!(h_create_network, CreateNetworkRequest, create_network);
handler!(h_request_pool, RequestPoolRequest, request_pool);
handler!(h_request_address, AddressRequest, request_address);
handler!(h_release_address, AddressRequest, release_address);
handler!(h_create_endpoint, CreateEndpointRequest, create_endpoint);
handler!(h_join, JoinRequest, join);
handler!(h_delete_endpoint, EndpointRequest, delete_endpoint);
handler!(
    h_program_external,
    ExternalConnectivityRequest,
    program_external
);

async fn h_delete_network(State(cnm): State<Arc<Cnm>>, b: Bytes) -> Response {
    match parse::<NetworkRequest>(&b) {
        Ok(r) => {
            cnm.forget(&r.network_id);
            reply(Ok(json!({})))
        }
        Err(e) => reply::<()>(Err(e)),
    }
}

async fn activate() -> Response {
    reply(Ok(ActivateResponse {
        implements: vec!["NetworkDriver".into(), "IpamDriver".into()],
    }))
}

async fn capabilities() -> Response {
    // Docker without a cluster store refuses `global` scope.
    reply(Ok(CapabilitiesResponse {
        scope: "local".into(),
        connectivity_scope: "local".into(),
    }))
}

async fn ipam_capabilities() -> Response {
    reply(Ok(
        json!({"RequiresMACAddress": false, "RequiresRequestReplay": false}),
    ))
}

async fn address_spaces() -> Response {
    reply(Ok(AddressSpacesResponse {
        local: "contiv".into(),
        global: "contiv-global".into(),
    }))
}

async fn empty() -> Response {
    reply(Ok(json!({})))
}

async fn oper_info() -> Response {
    reply(Ok(json!({"Value": {}})))
}

async fn unknown(uri: axum::http::Uri) -> Response {
    let body = ErrorResponse {
        err: format!(
            "{} is not implemented by the contiv plugin",
            uri.path().trim_start_matches('/')
        ),
    };
    (
        StatusCode::NOT_FOUND,
        [(header::CONTENT_TYPE, CONTENT_TYPE)],
        serde_json::to_vec(&body).unwrap_or_default(),
    )
        .into_response()
}

/// The router of the Docker plugin socket.
pub fn router(cnm: Arc<Cnm>) -> Router {
    Router::new()
        .route("/Plugin.Activate", post(activate))
        .route("/NetworkDriver.GetCapabilities", post(capabilities))
        .route("/NetworkDriver.CreateNetwork", post(h_create_network))
        .route("/NetworkDriver.DeleteNetwork", post(h_delete_network))
        .route("/NetworkDriver.AllocateNetwork", post(empty))
        .route("/NetworkDriver.FreeNetwork", post(empty))
        .route("/NetworkDriver.CreateEndpoint", post(h_create_endpoint))
        .route("/NetworkDriver.DeleteEndpoint", post(h_delete_endpoint))
        .route("/NetworkDriver.EndpointOperInfo", post(oper_info))
        .route("/NetworkDriver.Join", post(h_join))
        .route("/NetworkDriver.Leave", post(empty))
        .route("/NetworkDriver.DiscoverNew", post(empty))
        .route("/NetworkDriver.DiscoverDelete", post(empty))
        .route(
            "/NetworkDriver.ProgramExternalConnectivity",
            post(h_program_external),
        )
        .route("/NetworkDriver.RevokeExternalConnectivity", post(empty))
        .route("/IpamDriver.GetCapabilities", post(ipam_capabilities))
        .route("/IpamDriver.GetDefaultAddressSpaces", post(address_spaces))
        .route("/IpamDriver.RequestPool", post(h_request_pool))
        .route("/IpamDriver.ReleasePool", post(empty))
        .route("/IpamDriver.RequestAddress", post(h_request_address))
        .route("/IpamDriver.ReleaseAddress", post(h_release_address))
        .fallback(unknown)
        .with_state(cnm)
}
