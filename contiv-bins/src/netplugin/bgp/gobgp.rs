//! A typed client of gobgpd's gRPC API (gobgp 3.10, `apipb.GobgpApi`)
//! over its unix socket: what the BGP speaker needs — start the global
//! instance, one neighbor, add and delete IPv4 unicast paths, list the
//! neighbor's state, the local RIB and the routes received from the
//! neighbor, and watch for changes.
//!
//! The message types are generated at build time from `proto/gobgp`
//! (`build.rs`); path attributes and NLRI travel as `google.protobuf.Any`
//! (`type.googleapis.com/apipb.<Message>`).

use ipnet::Ipv4Net;
use prost::Message;
use std::collections::BTreeMap;
use std::net::Ipv4Addr;
use std::path::{Path, PathBuf};
use std::time::Duration;
use tonic::transport::{Channel, Endpoint};

/// The generated API (`apipb` package of gobgp's `.proto` files).
#[allow(missing_docs, clippy::all, clippy::pedantic, rust_2018_idioms)]
pub mod apipb {
    tonic::include_proto!("apipb");
}

use apipb::gobgp_api_client::GobgpApiClient;

/// A failed API call, with what was being done.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("gobgpd: {what}: {message}")]
pub struct GobgpError {
    /// What was being done.
    pub what: String,
    /// gobgpd's (or the transport's) answer.
    pub message: String,
}

fn err(what: &str) -> impl FnOnce(tonic::Status) -> GobgpError + '_ {
    move |s| GobgpError {
        what: what.to_owned(),
        message: format!("{} ({:?})", s.message(), s.code()),
    }
}

const TYPE_PREFIX: &str = "type.googleapis.com/apipb.";

fn any<M: Message>(name: &str, m: &M) -> prost_types::Any {
    prost_types::Any {
        type_url: format!("{TYPE_PREFIX}{name}"),
        value: m.encode_to_vec(),
    }
}

fn unpack<M: Message + Default>(a: &prost_types::Any, name: &str) -> Option<M> {
    (a.type_url.strip_prefix(TYPE_PREFIX) == Some(name))
        .then(|| M::decode(a.value.as_slice()).ok())
        .flatten()
}

/// IPv4 unicast.
fn ipv4_unicast() -> apipb::Family {
    apipb::Family {
        afi: apipb::family::Afi::Ip as i32,
        safi: apipb::family::Safi::Unicast as i32,
    }
}

/// The neighbor the speaker peers with.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct PeerSpec {
    /// Neighbor address.
    pub address: Ipv4Addr,
    /// Neighbor AS.
    pub asn: u32,
    /// Local address of the session (the router address).
    pub local: Ipv4Addr,
    /// ConnectRetry timer.
    pub connect_retry: Duration,
    /// Hold time (keepalive every third).
    pub hold_time: Duration,
}

/// A neighbor as gobgpd reports it.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct PeerStatus {
    /// Session state: `Idle`, `Connect`, `Active`, `OpenSent`,
    /// `OpenConfirm`, `Established` (`Unknown` otherwise).
    pub session: String,
    /// `up`, `down`, or `prefix-limit`.
    pub admin: String,
    /// When the session was last established (`None` when it is not).
    pub established_at: Option<std::time::SystemTime>,
    /// Prefixes received from the neighbor.
    pub received: u64,
    /// Prefixes accepted from the neighbor.
    pub accepted: u64,
    /// Prefixes advertised to the neighbor.
    pub advertised: u64,
}

/// A route in a RIB: prefix and next hop.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub struct RibRoute {
    /// The prefix.
    pub prefix: Ipv4Net,
    /// Its next hop.
    pub next_hop: Ipv4Addr,
}

/// A connection to gobgpd's API.
#[derive(Clone, Debug)]
pub struct Gobgp {
    client: GobgpApiClient<Channel>,
    socket: PathBuf,
}

impl Gobgp {
    /// Connects to gobgpd's API on the unix socket `path` (fails if
    /// nothing listens there within `timeout`).
    pub async fn connect_unix(path: &Path, timeout: Duration) -> Result<Gobgp, GobgpError> {
        let p = path.to_owned();
        // The URI is a placeholder: the connector ignores it.
        let ep = Endpoint::from_static("http://gobgpd.sock")
            .connect_timeout(timeout)
            .timeout(Duration::from_secs(10));
        let channel = ep
            .connect_with_connector(tower::service_fn(move |_: tonic::transport::Uri| {
                let p = p.clone();
                async move {
                    let s = tokio::net::UnixStream::connect(p).await?;
                    Ok::<_, std::io::Error>(hyper_util::rt::TokioIo::new(s))
                }
            }))
            .await
            .map_err(|e| GobgpError {
                what: format!("connecting to {}", path.display()),
                message: e.to_string(),
            })?;
        Ok(Gobgp {
            client: GobgpApiClient::new(channel),
            socket: path.to_owned(),
        })
    }

    /// The socket this client talks to.
    pub fn socket(&self) -> &Path {
        &self.socket
    }

    /// The running global instance: `(asn, router id, listen port)`,
    /// `None` if BGP is not started.
    pub async fn global(&mut self) -> Result<Option<(u32, String, i32)>, GobgpError> {
        let r = self
            .client
            .get_bgp(apipb::GetBgpRequest {})
            .await
            .map_err(err("reading the global configuration"))?
            .into_inner();
        Ok(r.global
            .filter(|g| g.asn != 0)
            .map(|g| (g.asn, g.router_id, g.listen_port)))
    }

    /// Starts BGP: AS `asn`, router id and listen address `router`, TCP
    /// port `port`.
    pub async fn start(&mut self, asn: u32, router: Ipv4Addr, port: u16) -> Result<(), GobgpError> {
        self.client
            .start_bgp(apipb::StartBgpRequest {
                global: Some(apipb::Global {
                    asn,
                    router_id: router.to_string(),
                    listen_port: i32::from(port),
                    listen_addresses: vec![router.to_string()],
                    ..apipb::Global::default()
                }),
            })
            .await
            .map_err(err("starting BGP"))?;
        Ok(())
    }

    /// Stops BGP (every session closes, every path goes).
    pub async fn stop(&mut self) -> Result<(), GobgpError> {
        self.client
            .stop_bgp(apipb::StopBgpRequest {})
            .await
            .map_err(err("stopping BGP"))?;
        Ok(())
    }

    /// Adds a neighbor (IPv4 unicast).
    pub async fn add_peer(&mut self, p: &PeerSpec) -> Result<(), GobgpError> {
        let secs = |d: Duration| d.as_secs().max(1);
        let peer = apipb::Peer {
            conf: Some(apipb::PeerConf {
                neighbor_address: p.address.to_string(),
                peer_asn: p.asn,
                ..apipb::PeerConf::default()
            }),
            timers: Some(apipb::Timers {
                config: Some(apipb::TimersConfig {
                    connect_retry: secs(p.connect_retry),
                    hold_time: secs(p.hold_time).max(3),
                    keepalive_interval: (secs(p.hold_time) / 3).max(1),
                    ..apipb::TimersConfig::default()
                }),
                state: None,
            }),
            transport: Some(apipb::Transport {
                local_address: p.local.to_string(),
                ..apipb::Transport::default()
            }),
            afi_safis: vec![apipb::AfiSafi {
                config: Some(apipb::AfiSafiConfig {
                    family: Some(ipv4_unicast()),
                    enabled: true,
                }),
                ..apipb::AfiSafi::default()
            }],
            ..apipb::Peer::default()
        };
        self.client
            .add_peer(apipb::AddPeerRequest { peer: Some(peer) })
            .await
            .map_err(err(&format!("adding neighbor {}", p.address)))?;
        Ok(())
    }

    /// Deletes a neighbor (absent is fine).
    pub async fn delete_peer(&mut self, address: Ipv4Addr) -> Result<(), GobgpError> {
        match self
            .client
            .delete_peer(apipb::DeletePeerRequest {
                address: address.to_string(),
                interface: String::new(),
            })
            .await
        {
            Ok(_) => Ok(()),
            // gobgpd 3.x answers an absent neighbor with "can't delete a
            // peer configuration for <address>" (code Unknown).
            Err(s)
                if s.message().contains("not found")
                    || s.message().contains("can't delete a peer configuration") =>
            {
                Ok(())
            }
            Err(s) => Err(err(&format!("deleting neighbor {address}"))(s)),
        }
    }

    /// The configured neighbors: address → (AS, local address, timers as
    /// (connect retry, hold time) in seconds).
    /// With `counts`, gobgpd also counts the paths advertised to each
    /// (a walk of its table: O(paths)).
    pub async fn peers(
        &mut self,
        counts: bool,
    ) -> Result<BTreeMap<Ipv4Addr, apipb::Peer>, GobgpError> {
        let mut s = self
            .client
            .list_peer(apipb::ListPeerRequest {
                address: String::new(),
                enable_advertised: counts,
            })
            .await
            .map_err(err("listing neighbors"))?
            .into_inner();
        let mut out = BTreeMap::new();
        while let Some(r) = s.message().await.map_err(err("listing neighbors"))? {
            let Some(p) = r.peer else { continue };
            let addr = p
                .conf
                .as_ref()
                .and_then(|c| c.neighbor_address.parse::<Ipv4Addr>().ok());
            if let Some(a) = addr {
                out.insert(a, p);
            }
        }
        Ok(out)
    }

    /// The status of neighbor `address` (`None`: not configured).
    pub async fn peer_status(
        &mut self,
        address: Ipv4Addr,
    ) -> Result<Option<PeerStatus>, GobgpError> {
        Ok(self
            .peers(true)
            .await?
            .remove(&address)
            .map(|p| status_of(&p)))
    }

    fn path(r: &RibRoute) -> apipb::Path {
        apipb::Path {
            nlri: Some(any(
                "IPAddressPrefix",
                &apipb::IpAddressPrefix {
                    prefix_len: u32::from(r.prefix.prefix_len()),
                    prefix: r.prefix.network().to_string(),
                },
            )),
            pattrs: vec![
                // IGP
                any("OriginAttribute", &apipb::OriginAttribute { origin: 0 }),
                any(
                    "NextHopAttribute",
                    &apipb::NextHopAttribute {
                        next_hop: r.next_hop.to_string(),
                    },
                ),
            ],
            family: Some(ipv4_unicast()),
            ..apipb::Path::default()
        }
    }

    /// Originates `r` (replacing a local path to the same prefix).
    pub async fn add_path(&mut self, r: &RibRoute) -> Result<(), GobgpError> {
        self.client
            .add_path(apipb::AddPathRequest {
                table_type: apipb::TableType::Global as i32,
                vrf_id: String::new(),
                path: Some(Self::path(r)),
            })
            .await
            .map_err(err(&format!("advertising {}", r.prefix)))?;
        Ok(())
    }

    /// Withdraws the local path `r`.
    pub async fn delete_path(&mut self, r: &RibRoute) -> Result<(), GobgpError> {
        self.client
            .delete_path(apipb::DeletePathRequest {
                table_type: apipb::TableType::Global as i32,
                vrf_id: String::new(),
                family: Some(ipv4_unicast()),
                path: Some(Self::path(r)),
                uuid: Vec::new(),
            })
            .await
            .map_err(err(&format!("withdrawing {}", r.prefix)))?;
        Ok(())
    }

    async fn list(
        &mut self,
        table: apipb::TableType,
        name: &str,
    ) -> Result<Vec<apipb::Path>, GobgpError> {
        let what = format!("listing the {table:?} table");
        let mut s = self
            .client
            .list_path(apipb::ListPathRequest {
                table_type: table as i32,
                name: name.to_owned(),
                family: Some(ipv4_unicast()),
                ..apipb::ListPathRequest::default()
            })
            .await
            .map_err(err(&what))?
            .into_inner();
        let mut out = Vec::new();
        while let Some(r) = s.message().await.map_err(err(&what))? {
            if let Some(d) = r.destination {
                out.extend(d.paths);
            }
        }
        Ok(out)
    }

    /// The paths this speaker originated (the local paths of the global
    /// RIB).
    pub async fn local_paths(&mut self) -> Result<Vec<RibRoute>, GobgpError> {
        let paths = self.list(apipb::TableType::Global, "").await?;
        Ok(paths
            .iter()
            .filter(|p| !p.is_withdraw && is_local(p))
            .filter_map(route_of)
            .collect())
    }

    /// The best path of every prefix in the global RIB.
    pub async fn rib(&mut self) -> Result<Vec<RibRoute>, GobgpError> {
        let paths = self.list(apipb::TableType::Global, "").await?;
        let mut v: Vec<RibRoute> = paths
            .iter()
            .filter(|p| p.best && !p.is_withdraw)
            .filter_map(route_of)
            .collect();
        v.sort();
        v.dedup();
        Ok(v)
    }

    /// The routes received from `neighbor` (its Adj-RIB-In).
    pub async fn received(&mut self, neighbor: Ipv4Addr) -> Result<Vec<RibRoute>, GobgpError> {
        let paths = self
            .list(apipb::TableType::AdjIn, &neighbor.to_string())
            .await?;
        let mut v: Vec<RibRoute> = paths
            .iter()
            .filter(|p| !p.is_withdraw && !p.is_nexthop_invalid)
            .filter_map(route_of)
            .collect();
        v.sort();
        v.dedup();
        Ok(v)
    }

    /// A stream that yields whenever a neighbor changes state or the best
    /// paths change (the events themselves are not interpreted: the
    /// speaker reads the state again).
    pub async fn watch(
        &mut self,
    ) -> Result<tonic::Streaming<apipb::WatchEventResponse>, GobgpError> {
        use apipb::watch_event_request::{Peer, Table, table::Filter, table::filter::Type};
        Ok(self
            .client
            .watch_event(apipb::WatchEventRequest {
                peer: Some(Peer {}),
                table: Some(Table {
                    filters: vec![
                        Filter {
                            r#type: Type::Best as i32,
                            init: false,
                        },
                        Filter {
                            r#type: Type::Adjin as i32,
                            init: false,
                        },
                    ],
                }),
            })
            .await
            .map_err(err("watching events"))?
            .into_inner())
    }
}

/// Whether an event concerns the neighbor — a session state change, or a
/// path learned from it or withdrawn by it — rather than only paths this
/// speaker originated (which it knows about: it sent them).
pub fn about_neighbors(ev: &apipb::WatchEventResponse) -> bool {
    use apipb::watch_event_response::Event;
    match &ev.event {
        Some(Event::Table(t)) => t.paths.iter().any(|p| !is_local(p)),
        Some(Event::Peer(_)) | None => true,
    }
}

/// Whether a path was originated by this speaker (not learned).
fn is_local(p: &apipb::Path) -> bool {
    p.neighbor_ip.parse::<Ipv4Addr>().is_err() || p.neighbor_ip == "0.0.0.0"
}

fn route_of(p: &apipb::Path) -> Option<RibRoute> {
    let pfx: apipb::IpAddressPrefix = unpack(p.nlri.as_ref()?, "IPAddressPrefix")?;
    let addr: Ipv4Addr = pfx.prefix.parse().ok()?;
    let prefix = Ipv4Net::new(addr, u8::try_from(pfx.prefix_len).ok()?).ok()?;
    let next_hop = p.pattrs.iter().find_map(|a| {
        let nh: apipb::NextHopAttribute = unpack(a, "NextHopAttribute")?;
        nh.next_hop.parse().ok()
    })?;
    Some(RibRoute { prefix, next_hop })
}

/// The status fields of a neighbor.
pub fn status_of(p: &apipb::Peer) -> PeerStatus {
    use apipb::peer_state::{AdminState, SessionState};
    let st = p.state.clone().unwrap_or_default();
    let session = match SessionState::try_from(st.session_state).unwrap_or(SessionState::Unknown) {
        SessionState::Unknown => "Unknown",
        SessionState::Idle => "Idle",
        SessionState::Connect => "Connect",
        SessionState::Active => "Active",
        SessionState::Opensent => "OpenSent",
        SessionState::Openconfirm => "OpenConfirm",
        SessionState::Established => "Established",
    };
    let admin = match AdminState::try_from(st.admin_state).unwrap_or(AdminState::Up) {
        AdminState::Up => "up",
        AdminState::Down => "down",
        AdminState::PfxCt => "prefix-limit",
    };
    let established_at = (session == "Established")
        .then(|| {
            p.timers
                .as_ref()?
                .state
                .as_ref()?
                .uptime
                .as_ref()
                .and_then(|t| {
                    let secs = u64::try_from(t.seconds).ok()?;
                    Some(std::time::UNIX_EPOCH + Duration::from_secs(secs))
                })
        })
        .flatten();
    let (mut received, mut accepted, mut advertised) = (0, 0, 0);
    for a in &p.afi_safis {
        if let Some(s) = &a.state {
            received += s.received;
            accepted += s.accepted;
            advertised += s.advertised;
        }
    }
    PeerStatus {
        session: session.to_owned(),
        admin: admin.to_owned(),
        established_at,
        received,
        accepted,
        advertised,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn paths_round_trip_through_any() {
        let r = RibRoute {
            prefix: "10.1.2.3/32".parse().unwrap(),
            next_hop: "50.1.1.1".parse().unwrap(),
        };
        let p = Gobgp::path(&r);
        assert_eq!(
            p.nlri.as_ref().unwrap().type_url,
            "type.googleapis.com/apipb.IPAddressPrefix"
        );
        assert_eq!(route_of(&p), Some(r));
        assert!(is_local(&p));
        let mut learned = p.clone();
        learned.neighbor_ip = "50.1.1.254".into();
        assert!(!is_local(&learned));
        // An attribute of another type is not taken for the next hop.
        let mut odd = p;
        odd.pattrs
            .retain(|a| a.type_url.ends_with("OriginAttribute"));
        assert_eq!(route_of(&odd), None);
    }

    #[test]
    fn only_events_about_the_neighbor_wake_the_speaker() {
        use apipb::watch_event_response::{Event, PeerEvent, TableEvent};
        let r = RibRoute {
            prefix: "10.1.2.3/32".parse().unwrap(),
            next_hop: "50.1.1.1".parse().unwrap(),
        };
        let own = Gobgp::path(&r);
        let mut learned = own.clone();
        learned.neighbor_ip = "50.1.1.254".into();
        let table = |paths| apipb::WatchEventResponse {
            event: Some(Event::Table(TableEvent { paths })),
        };
        assert!(!about_neighbors(&table(vec![own.clone()])));
        assert!(about_neighbors(&table(vec![own, learned])));
        assert!(about_neighbors(&apipb::WatchEventResponse {
            event: Some(Event::Peer(PeerEvent::default())),
        }));
    }
}
