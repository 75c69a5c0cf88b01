//! The agent's built-in DNS (see [`crate::dns`] for the server and the
//! resolution rules).
//!
//! For every network with at least one local endpoint the agent adds a
//! **DNS endpoint** to the host's desired state: a local endpoint with id
//! `dns/<tenant:network>` (a `/` no netmaster endpoint id can contain),
//! address [`DNS_ADDR`]`/32`, MAC [`DNS_MAC`], no group, plumbed with
//! [`Attachment::Netns`] into a namespace the agent owns
//! (`cdns<host>-<network>`, both parts hashes). It is host-local: there is
//! no netmaster record, the datapath treats it like any local endpoint of
//! the network (proxy ARP answers for `169.254.53.53`, L2 delivers to its
//! port), and since it is part of the desired state a resync keeps it.
//!
//! Once the datapath has plumbed it, the agent adds link-scope routes to
//! the network's subnet inside the namespace, opens the UDP and TCP
//! sockets there (bound to `169.254.53.53:53`) and serves them with one
//! [`DnsServer`] whose tables follow the agent's view (endpoints, groups,
//! services). Names it does not know are forwarded through sockets in the
//! host namespace to `--dns-upstream` or the `--dns-resolv-conf`
//! nameservers. When the network's last local endpoint goes, the DNS
//! endpoint is removed from the datapath, its server stopped and its
//! namespace deleted.
//!
//! Containers are told in their CNI result (`dns.nameservers`) and get a
//! link route `169.254.53.53/32 dev <ifname>` (added by the agent at ADD).
//!
//! DNS is served only by datapaths that forward packets (not the
//! recording reference) and not with `--no-dns`.

use super::config::DnsSettings;
use super::view::{Change, HostView};
use crate::dns::forward::{ForwardConfig, Forwarder};
use crate::dns::names::{GroupEntry, NameTables, ServiceEntry, SharedNames};
use crate::dns::server::{DnsContext, DnsServer, ServeHandle};
use crate::dns::{DNS_ADDR, DNS_MAC, netns};
use contiv_core::datapath::HostState;
use contiv_core::datapath::{Attachment, DesiredState, LocalEndpoint, NetworkSpec};
use contiv_core::ir::NO_EPG;
use contiv_core::linux::Netns;
use ipnet::Ipv4Net;
use std::collections::{BTreeMap, BTreeSet};
use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::Arc;
use tokio::sync::Mutex;
use tracing::{info, warn};

/// Prefix of DNS endpoint ids.
pub const ENDPOINT_PREFIX: &str = "dns/";

/// Interface name of the DNS endpoint inside its namespace.
pub const DNS_IFNAME: &str = "eth0";

/// Whether `id` is a DNS endpoint's.
pub fn is_dns_endpoint(id: &str) -> bool {
    id.starts_with(ENDPOINT_PREFIX)
}

/// The DNS endpoint id of network `key`.
pub fn endpoint_id(network_key: &str) -> String {
    format!("{ENDPOINT_PREFIX}{network_key}")
}

/// The identity of an agent for its DNS namespaces: host name and state
/// directory (stable across restarts, distinct for two agents on one
/// machine).
pub fn agent_identity(host: &str, state_dir: &std::path::Path) -> String {
    format!("{host}\0{}", state_dir.display())
}

/// The prefix of the DNS namespaces of the agent `identity` names
/// (`cdns<hash>-`).
pub fn netns_prefix(identity: &str) -> String {
    format!("cdns{}-", hex(identity.as_bytes(), 6))
}

fn hex(bytes: &[u8], digits: usize) -> String {
    let h = contiv_policy::fnv1a64(bytes);
    format!("{h:016x}")[16 - digits..].to_owned()
}

/// A running server.
struct Serving {
    subnet: Option<Ipv4Net>,
    handle: ServeHandle,
}

/// The agent's DNS (see the [module documentation](self)).
pub struct DnsAgent {
    prefix: String,
    names: SharedNames,
    server: Arc<DnsServer>,
    serving: Mutex<BTreeMap<String, Serving>>,
    swept: std::sync::atomic::AtomicBool,
}

impl std::fmt::Debug for DnsAgent {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("DnsAgent")
            .field("netns_prefix", &self.prefix)
            .finish_non_exhaustive()
    }
}

impl DnsAgent {
    /// The DNS of the agent `identity` names (its host name and state
    /// directory: stable across restarts, distinct for two agents on one
    /// machine), forwarding as `settings` say. Must be called inside a
    /// tokio runtime (the forwarder's receive tasks).
    pub async fn new(settings: &DnsSettings, identity: &str) -> Result<DnsAgent, String> {
        let upstreams: Vec<SocketAddr> = if settings.upstreams.is_empty() {
            match crate::dns::resolv_conf::read(&settings.resolv_conf) {
                Ok(u) => u,
                Err(e) => {
                    warn!(file = %settings.resolv_conf.display(), error = %e,
                          "cannot read the host's resolvers; names outside contiv will not resolve");
                    Vec::new()
                }
            }
        } else {
            settings.upstreams.clone()
        };
        let forwarder = if upstreams.is_empty() {
            warn!("no upstream resolver: names outside contiv get NXDOMAIN (pass --dns-upstream)");
            None
        } else {
            let mut sockets = Vec::new();
            if upstreams.iter().any(SocketAddr::is_ipv4) {
                sockets.push(
                    tokio::net::UdpSocket::bind(("0.0.0.0", 0))
                        .await
                        .map_err(|e| format!("cannot open the DNS forwarding socket: {e}"))?,
                );
            }
            if upstreams.iter().any(SocketAddr::is_ipv6) {
                match tokio::net::UdpSocket::bind(("::", 0)).await {
                    Ok(s) => sockets.push(s),
                    Err(e) => {
                        warn!(error = %e, "no IPv6 forwarding socket; IPv6 upstreams are skipped")
                    }
                }
            }
            info!(upstreams = ?upstreams, "the built-in DNS forwards unknown names");
            Some(Forwarder::new(sockets, ForwardConfig::new(upstreams)))
        };
        let names = SharedNames::default();
        Ok(DnsAgent {
            prefix: netns_prefix(identity),
            server: Arc::new(DnsServer::new(names.clone(), forwarder)),
            names,
            serving: Mutex::new(BTreeMap::new()),
            swept: std::sync::atomic::AtomicBool::new(false),
        })
    }

    /// The name tables the server answers from.
    pub fn names(&self) -> &SharedNames {
        &self.names
    }

    /// Prefix of the namespaces of this agent's DNS endpoints.
    pub fn netns_prefix(&self) -> &str {
        &self.prefix
    }

    /// The namespace name of network `key`'s DNS endpoint.
    pub fn netns_name(&self, network_key: &str) -> String {
        format!("{}{}", self.prefix, hex(network_key.as_bytes(), 8))
    }

    /// The DNS endpoint of network `net`.
    pub fn endpoint(&self, net: &NetworkSpec, mtu: u32) -> LocalEndpoint {
        LocalEndpoint {
            id: endpoint_id(&net.key),
            network: net.key.clone(),
            epg: NO_EPG,
            ipv4: Some(Ipv4Net::from(DNS_ADDR)),
            ipv6: None,
            mac: DNS_MAC,
            host_ifname: format!("vd{}", hex(net.key.as_bytes(), 12)),
            attachment: Attachment::Netns {
                netns: netns::named_netns_path(&self.netns_name(&net.key)),
                ifname: DNS_IFNAME.into(),
            },
            mtu,
            qos: None,
        }
    }

    /// Adds the DNS endpoints to `d`: one per IPv4 network with a local
    /// endpoint. With `create`, their namespaces are created first, and a
    /// network whose namespace cannot be created gets none (logged).
    pub fn augment(&self, d: &mut DesiredState, mtu: u32, create: bool) {
        let used: BTreeSet<&str> = d
            .local_endpoints
            .iter()
            .filter(|e| !is_dns_endpoint(&e.id))
            .map(|e| e.network.as_str())
            .collect();
        let present: BTreeSet<&str> = d
            .local_endpoints
            .iter()
            .filter(|e| is_dns_endpoint(&e.id))
            .map(|e| e.network.as_str())
            .collect();
        let mut add = Vec::new();
        for n in d.networks.iter().filter(|n| used.contains(n.key.as_str())) {
            if n.subnet.is_none() || present.contains(n.key.as_str()) {
                continue;
            }
            if create && let Err(e) = netns::create_named_netns(&self.netns_name(&n.key)) {
                warn!(network = %n.key, error = %e, "cannot create the DNS namespace; no DNS on this network");
                continue;
            }
            add.push(self.endpoint(n, mtu));
        }
        d.local_endpoints.extend(add);
    }

    /// Whether the DNS of network `key` is being served.
    pub async fn serving(&self, network_key: &str) -> bool {
        self.serving.lock().await.contains_key(network_key)
    }

    /// Serves every DNS endpoint the datapath holds, and stops serving
    /// (and deletes the namespaces of) those it no longer holds.
    pub async fn realise(&self, applied: &HostState) {
        let wanted: BTreeMap<&str, Option<Ipv4Net>> = applied
            .local
            .values()
            .filter(|e| is_dns_endpoint(&e.id))
            .map(|e| {
                let subnet = applied.networks.get(&e.network).and_then(|n| n.subnet);
                (e.network.as_str(), subnet)
            })
            .collect();
        let mut serving = self.serving.lock().await;
        let gone: Vec<String> = serving
            .iter()
            .filter(|(k, s)| wanted.get(k.as_str()) != Some(&s.subnet))
            .map(|(k, _)| k.clone())
            .collect();
        for k in gone {
            if let Some(s) = serving.remove(&k) {
                s.handle.stop().await;
            }
            if !wanted.contains_key(k.as_str()) {
                let name = self.netns_name(&k);
                match netns::delete_named_netns(&name) {
                    Ok(()) => info!(network = %k, "stopped the DNS endpoint"),
                    Err(e) => warn!(network = %k, error = %e, "cannot delete the DNS namespace"),
                }
            }
        }
        for (key, subnet) in &wanted {
            if serving.contains_key(*key) {
                continue;
            }
            match self.serve(key, *subnet).await {
                Ok(handle) => {
                    info!(network = %key, addr = %DNS_ADDR, "serving DNS");
                    serving.insert(
                        (*key).to_owned(),
                        Serving {
                            subnet: *subnet,
                            handle,
                        },
                    );
                }
                Err(e) => warn!(network = %key, error = %e, "cannot serve DNS on this network"),
            }
        }
        // Namespaces a previous run left for networks that have no local
        // endpoint any more.
        if !self.swept.swap(true, std::sync::atomic::Ordering::Relaxed) {
            let keep: BTreeSet<String> = wanted.keys().map(|k| self.netns_name(k)).collect();
            for name in netns::named_netns_with_prefix(&self.prefix) {
                if !keep.contains(&name) {
                    info!(netns = %name, "removing a DNS namespace a previous run left");
                    if let Err(e) = netns::delete_named_netns(&name) {
                        warn!(netns = %name, error = %e, "cannot delete a stale DNS namespace");
                    }
                }
            }
        }
    }

    async fn serve(&self, key: &str, subnet: Option<Ipv4Net>) -> Result<ServeHandle, String> {
        let (tenant, network) = key
            .split_once(':')
            .ok_or_else(|| format!("invalid network key {key:?}"))?;
        let path: PathBuf = netns::named_netns_path(&self.netns_name(key));
        if let Some(s) = subnet {
            contiv_core::linux::add_link_routes(
                &Netns::Path(path.clone()),
                DNS_IFNAME,
                &[s.trunc()],
            )
            .await
            .map_err(|e| e.to_string())?;
        }
        let addr = SocketAddr::from((DNS_ADDR, 53));
        let p = path.clone();
        let (udp, tcp) = tokio::task::spawn_blocking(move || {
            let udp = netns::udp_socket_in_netns(&p, addr)?;
            let tcp = netns::tcp_listener_in_netns(&p, addr)?;
            Ok::<_, netns::NetnsError>((udp, tcp))
        })
        .await
        .map_err(|e| e.to_string())?
        .map_err(|e| e.to_string())?;
        let udp = tokio::net::UdpSocket::from_std(udp).map_err(|e| e.to_string())?;
        let tcp = tokio::net::TcpListener::from_std(tcp).map_err(|e| e.to_string())?;
        Ok(self
            .server
            .spawn(DnsContext::new(tenant, network), udp, Some(tcp)))
    }

    /// Rebuilds the name tables from `view` (a new snapshot).
    pub fn rebuild(&self, view: &HostView) {
        let services = view
            .service_states
            .iter()
            .filter_map(|(key, state)| ServiceEntry::from_state(state, view.service_lbs.get(key)));
        self.names.replace(NameTables::from_records(
            view.endpoints.values(),
            view.epgs.values().map(GroupEntry::from),
            services,
        ));
    }

    /// Applies what `changes` changed in `view` to the name tables.
    pub fn update(&self, view: &HostView, changes: &[Change]) {
        if !changes
            .iter()
            .any(|c| matches!(c, Change::Endpoint(_) | Change::Epg(_) | Change::Service(_)))
        {
            return;
        }
        let mut t = self.names.write();
        for c in changes {
            match c {
                Change::Endpoint(k) => match view.endpoints.get(k) {
                    Some(e) => t.put_endpoint(e),
                    None => {
                        if let Some((_, id)) = k.split_once('/') {
                            t.delete_endpoint(id);
                        }
                    }
                },
                Change::Epg(k) => match view.epgs.get(k) {
                    Some(g) => t.put_group(&GroupEntry::from(g)),
                    None => {
                        if let Some((tenant, name)) = k.split_once(':') {
                            t.delete_group(tenant, name);
                        }
                    }
                },
                Change::Service(k) => {
                    let entry = view
                        .service_states
                        .get(k)
                        .and_then(|s| ServiceEntry::from_state(s, view.service_lbs.get(k)));
                    match entry {
                        Some(e) => t.put_service(&e),
                        None => {
                            if let Some((tenant, name)) = k.split_once(':') {
                                t.delete_service(tenant, name);
                            }
                        }
                    }
                }
                _ => {}
            }
        }
    }

    /// Stops every server (the namespaces stay: a restarted agent finds
    /// its DNS endpoints plumbed).
    pub async fn shutdown(&self) {
        let mut serving = self.serving.lock().await;
        for (_, s) in std::mem::take(&mut *serving) {
            s.handle.stop().await;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use contiv_core::datapath::Encap;

    fn net(key: &str, subnet: Option<&str>) -> NetworkSpec {
        let (tenant, _) = key.split_once(':').unwrap();
        NetworkSpec {
            key: key.into(),
            tenant: tenant.into(),
            tenant_id: 1,
            encap: Encap::Vxlan,
            vlan: 2,
            vni: Some(5000),
            subnet: subnet.map(|s| s.parse().unwrap()),
            gateway: None,
            subnet6: None,
            gateway6: None,
            external: false,
        }
    }

    #[tokio::test]
    async fn dns_endpoints_only_where_there_are_local_endpoints() {
        let a = DnsAgent::new(
            &DnsSettings {
                upstreams: vec!["127.0.0.1:53".parse().unwrap()],
                ..DnsSettings::default()
            },
            "h1",
        )
        .await
        .unwrap();
        let b = DnsAgent::new(&DnsSettings::default(), "h2").await.unwrap();
        let used = net("default:used", Some("10.1.2.0/24"));
        let mut d = DesiredState {
            networks: vec![
                used.clone(),
                net("default:empty", Some("10.1.3.0/24")),
                net("blue:used", Some("10.1.2.0/24")),
                net("default:nov4", None),
            ],
            ..DesiredState::default()
        };
        let mut ep = a.endpoint(&used, 1450);
        ep.id = "c1-eth0".into();
        d.local_endpoints.push(ep.clone());
        ep.id = "c2-eth0".into();
        ep.network = "default:nov4".into();
        d.local_endpoints.push(ep);
        a.augment(&mut d, 1400, false);
        let dns: Vec<&LocalEndpoint> = d
            .local_endpoints
            .iter()
            .filter(|e| is_dns_endpoint(&e.id))
            .collect();
        assert_eq!(dns.len(), 1, "{dns:?}");
        let e = dns[0];
        assert_eq!(e.id, "dns/default:used");
        assert_eq!(e.ipv4, Some("169.254.53.53/32".parse().unwrap()));
        assert_eq!(e.mac.to_string(), "02:02:a9:fe:35:35");
        assert_eq!(e.mtu, 1400);
        assert_eq!(e.epg, NO_EPG);
        assert!(e.host_ifname.len() <= 15 && e.host_ifname.starts_with("vd"));
        // Stable names, distinct per network and per host.
        assert_eq!(e.host_ifname, a.endpoint(&used, 1).host_ifname);
        assert_ne!(a.netns_name("default:used"), a.netns_name("blue:used"));
        assert_ne!(a.netns_name("default:used"), b.netns_name("default:used"));
        assert!(matches!(&e.attachment, Attachment::Netns { netns, ifname }
            if ifname == "eth0" && netns.ends_with(a.netns_name("default:used"))));
        // Adding again changes nothing.
        let before = d.clone();
        a.augment(&mut d, 1400, false);
        assert_eq!(d, before);
    }
}
