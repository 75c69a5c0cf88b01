//! The agent's local API: the protocol between netplugin and its local
//! clients (`contiv-cni`, `netctl`) over the agent's unix socket. Both
//! sides import it from here, so the CNI plugin does not pull in the agent
//! and the agent does not pull in the plugin.
//!
//! | module | what it holds |
//! |---|---|
//! | [`wire`] | the bodies: requests, replies, error kinds, endpoint labels |
//! | [`client`] | a blocking HTTP/1.1 client of the socket (one call, no runtime) |
//!
//! The server side is netplugin's `local_api`.

pub mod client;
pub mod wire;
