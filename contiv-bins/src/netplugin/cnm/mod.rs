//! The Docker CNM plugin: a remote NetworkDriver and IpamDriver on
//! `/run/docker/plugins/<name>.sock` (default name `netplugin`), speaking
//! libnetwork's remote driver protocol (JSON over HTTP POST, one path per
//! call, errors as `{"Err": "..."}`).
//!
//! Docker's call sequence (REAL_COMPONENTS §1d) and what each call does:
//!
//! | call | here |
//! |---|---|
//! | `Plugin.Activate` | `{"Implements":["NetworkDriver","IpamDriver"]}` |
//! | `NetworkDriver.GetCapabilities` | scope `local` (Docker without a cluster store refuses `global`) |
//! | `IpamDriver.GetCapabilities` / `GetDefaultAddressSpaces` | constants |
//! | `IpamDriver.RequestPool` | pool id `<tenant>:<network>:<group>\|<subnet>` from `--ipam-opt tenant/network/group` or the subnet |
//! | `IpamDriver.RequestAddress` (gateway) | answered locally, no allocation: the network's gateway, else its network address |
//! | `NetworkDriver.CreateNetwork` | maps Docker's network id to the contiv network/group (driver options, else the subnet) |
//! | `IpamDriver.RequestAddress` | netmaster **reserves** an address for this host (address + reservation record in one txn) |
//! | `NetworkDriver.CreateEndpoint` | the agent's ADD; netmaster **adopts** the reservation into the endpoint in one txn; the datapath creates a veth pair whose container side stays in the host namespace; answers the MAC. `docker run -p` ports (`com.docker.network.portmap`, parsed once into `PublishedPort`s) are checked (datapath capability `published_ports`, the network's external access, the host port free on this host, explicit single host ports) and **recorded with the endpoint**; the agent realises them from the record |
//! | `NetworkDriver.Join` | `{"InterfaceName":{"SrcName":<container-side veth>,"DstPrefix":"eth"},"Gateway":…}`, plus a connected `StaticRoutes` entry to the built-in DNS (169.254.53.53/32) when it is served |
//! | `NetworkDriver.Leave` | nothing to do (Docker takes the interface back) |
//! | `NetworkDriver.DeleteEndpoint` | the agent's DEL; the endpoint is **demoted** back to a reservation in one txn; its published ports go with its record |
//! | `IpamDriver.ReleaseAddress` | netmaster releases whatever holds the address on this host (reservation or endpoint); idempotent |
//! | `NetworkDriver.ProgramExternalConnectivity` | checks that the ports Docker names are those recorded at `CreateEndpoint` (they are realised already); a no-op otherwise |
//! | `ReleasePool`, `DeleteNetwork`, discovery, `RevokeExternalConnectivity` | no-ops (the mapping is forgotten) |
//!
//! **No address leaks** (the original leaked here, CONTIV.md §9.1 #1133):
//! an address lives exactly as long as Docker believes it is allocated —
//! from `RequestAddress` to `ReleaseAddress` — as a reservation, then an
//! endpoint, then a reservation again. It is never freed at
//! `DeleteEndpoint`, so a late `ReleaseAddress` can never free an address
//! another container got in between. Reservations a crashed agent left
//! are swept when the agent starts (they belong to an older instance) and
//! netmaster releases those of vanished nodes.
//!
//! **Docker networks**: with `--docker-host`, the agent creates one Docker
//! network per contiv network and group ([`docker`], named by [`names`]),
//! so `docker run --net=contiv-net` and `--net=web.contiv-net` work
//! unchanged.

pub mod docker;
pub mod driver;
pub mod names;
pub mod pool;
pub mod protocol;

pub use driver::{Cnm, router};
