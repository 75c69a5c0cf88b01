//! contiv's built-in DNS: per-tenant service discovery for containers.
//!
//! Containers resolve, within their own tenant only, the names of
//! containers, of endpoint groups (all endpoints, rotated, at most 10
//! records) and of services (the VIP), bare (`web`) or qualified by a
//! network of the tenant (`web.contiv-net`); everything else is forwarded to
//! the host's resolvers. The rules are in [`names`].
//!
//! | module | what it holds |
//! |---|---|
//! | [`names`] | per-tenant name tables and the resolution rules |
//! | [`reply`] | parsing queries and building answers (pure, no I/O) |
//! | [`forward`] | forwarding unknown names to upstream resolvers |
//! | [`resolv_conf`] | reading the host's upstream resolvers |
//! | [`server`] | the UDP/TCP servers, one socket per (tenant, network) |
//! | [`netns`] | opening a socket inside a network namespace; named namespaces (re-exported from the shared `contiv_core::linux`, which also adds the link routes) |
//!
//! # How a container reaches it
//!
//! On every host, for every network that has local endpoints, the agent
//! plumbs a **DNS endpoint** into the network, like a container:
//!
//! 1. a network namespace owned by the agent (one per network), with a veth
//!    pair whose container side lives in it and whose host side is attached
//!    to the network's bridge port like any endpoint;
//! 2. the container side is addressed [`DNS_ADDR`] (`169.254.53.53/32`, a
//!    link-local address outside every subnet) with MAC [`DNS_MAC`]
//!    (`02:02:a9:fe:35:35`), and gets link-scope routes back to the
//!    network's subnet(s), so answers go straight back to the querier;
//! 3. the datapath treats it as a local endpoint of that network: proxy ARP
//!    answers for `169.254.53.53`, so queries never leave the host;
//! 4. containers get `nameserver 169.254.53.53` (the CNI result's
//!    `dns.nameservers`) and a link-scope route to it (`169.254.53.53 dev
//!    eth0 scope link`).
//!
//! The agent opens the listening sockets **inside** the DNS namespace with
//! [`netns::udp_socket_in_netns`] / [`netns::tcp_listener_in_netns`] (bound
//! to `169.254.53.53:53`), and the forwarding socket in the **host**
//! namespace (so the host's resolvers — even `127.0.0.53` — are reachable),
//! then runs [`server::DnsServer::spawn`] with a [`server::DnsContext`]
//! naming the tenant and network. Because each DNS endpoint belongs to one
//! network, the server knows the querier's tenant from the socket the query
//! arrived on: overlapping subnets of different tenants are never confused.
//!
//! ```no_run
//! # async fn wire() -> Result<(), Box<dyn std::error::Error>> {
//! use contiv_bins::dns::{self, forward, names, netns, server};
//! use std::net::SocketAddr;
//! use std::sync::Arc;
//!
//! let names = names::SharedNames::default(); // fed from the watch stream
//! let upstream = tokio::net::UdpSocket::bind("0.0.0.0:0").await?; // host netns
//! let fwd = forward::Forwarder::new(
//!     vec![upstream],
//!     forward::ForwardConfig::from_resolv_conf("/etc/resolv.conf".as_ref())?,
//! );
//! let server = Arc::new(server::DnsServer::new(names, Some(fwd)));
//! let addr = SocketAddr::from((dns::DNS_ADDR, 53));
//! let ns = std::path::Path::new("/var/run/netns/contiv-dns-1");
//! let udp = tokio::net::UdpSocket::from_std(netns::udp_socket_in_netns(ns, addr)?)?;
//! let tcp = tokio::net::TcpListener::from_std(netns::tcp_listener_in_netns(ns, addr)?)?;
//! let ctx = server::DnsContext::new("default", "contiv-net");
//! let handle = server.spawn(ctx, udp, Some(tcp)); // serving until dropped
//! # drop(handle); Ok(()) }
//! ```
//!
//! Answers from the tables have TTL [`DNS_TTL`] with the Authoritative and
//! Recursion-Available flags set (as the original). Unlike the original,
//! which dropped answers over 1024 bytes, UDP answers that do not fit the
//! client's limit (512 bytes, or its EDNS size) are truncated with TC set
//! so the client retries over TCP, which the server also serves.

pub mod forward;
pub mod names;
pub mod netns;
pub mod reply;
pub mod resolv_conf;
pub mod server;

use contiv_core::datapath::MacAddr;
use std::net::Ipv4Addr;

/// The address of the DNS endpoint on every network (link-local, outside
/// every subnet).
pub const DNS_ADDR: Ipv4Addr = Ipv4Addr::new(169, 254, 53, 53);

/// The MAC address of the DNS endpoint (`02:02:` + the four bytes of
/// [`DNS_ADDR`], contiv's endpoint MAC scheme).
pub const DNS_MAC: MacAddr = MacAddr([0x02, 0x02, 169, 254, 53, 53]);

/// TTL of the answers from the tables, in seconds (as the original).
pub const DNS_TTL: u32 = 120;

pub use names::{Lookup, NameTables, QueryKind, SharedNames};
pub use server::{DnsContext, DnsServer};
