//! How the VPP datapath connects and what it may assume about the host.

pub use super::npol::PolicyEngine;
use std::net::IpAddr;
use std::path::PathBuf;
use std::time::Duration;

/// Configuration of a [`VppDatapath`](super::VppDatapath).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct VppConfig {
    /// VPP's API socket (`socksvr { socket-name … }`), by default
    /// `/run/vpp/api.sock`.
    pub socket: PathBuf,
    /// The name this client registers with (`sockclnt_create`).
    pub client_name: String,
    /// This host's underlay address: the source of VXLAN tunnels. Needed
    /// as soon as a VXLAN network has a peer.
    pub vtep_ip: Option<IpAddr>,
    /// UDP port of VXLAN tunnels (both ends).
    pub vxlan_port: u16,
    /// VPP's name of the VLAN uplink (e.g. `GigabitEthernet0/8/0`); VLAN
    /// networks get a dot1q sub-interface on it. Without one, VLAN
    /// networks are host-local.
    pub uplink: Option<String>,
    /// Reply timeout of every API call.
    pub timeout: Duration,
    /// Which VPP plugin realises policy (default: the ACL plugin; see
    /// [`PolicyEngine`]).
    pub policy: PolicyEngine,
}

impl VppConfig {
    /// Defaults for the socket at `socket`.
    pub fn new(socket: impl Into<PathBuf>) -> VppConfig {
        VppConfig {
            socket: socket.into(),
            client_name: "contiv-netplugin".into(),
            vtep_ip: None,
            vxlan_port: 4789,
            uplink: None,
            timeout: Duration::from_secs(10),
            policy: PolicyEngine::Acl,
        }
    }
}

impl Default for VppConfig {
    fn default() -> Self {
        VppConfig::new("/run/vpp/api.sock")
    }
}
