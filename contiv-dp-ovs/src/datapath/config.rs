//! [`OvsConfig`]: where the switch is and how the datapath uses it.

use contiv_core::linux::Netns;
use std::path::{Path, PathBuf};
use std::time::Duration;

/// Configuration of an [`OvsDatapath`](super::OvsDatapath).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct OvsConfig {
    /// OVS's run directory (`OVS_RUNDIR`, `/run/openvswitch` on a host):
    /// `db.sock` and `<bridge>.mgmt` live there.
    pub rundir: PathBuf,
    /// The OVSDB socket, if not `<rundir>/db.sock`.
    pub db_socket: Option<PathBuf>,
    /// The integration bridge (created if missing).
    pub bridge: String,
    /// `datapath_type` of the bridge: `netdev` (userspace; what these
    /// machines have) or `system`.
    pub datapath_type: String,
    /// The `external_ids:contiv-owner` value marking what this datapath
    /// creates.
    pub owner: String,
    /// The VLAN uplink (an existing interface in the switch namespace),
    /// attached as a trunk: VLAN networks leave and enter through it.
    pub uplink: Option<String>,
    /// VXLAN UDP port (`None` = 4789).
    pub vxlan_port: Option<u16>,
    /// The internal port holding the host's router address on the fabric
    /// (routing mode with BGP), created in the switch namespace when a
    /// fabric is set.
    pub router_port: String,
    /// The namespace ovs-vswitchd runs in, where the host sides of veths
    /// must be created.
    pub switch_netns: Netns,
    /// How long to wait for OVS to give a new port an OpenFlow number.
    pub port_timeout: Duration,
    /// The host's end of the host port (external access; the bridge's
    /// end is this name + `o`). At most 14 bytes.
    pub host_port: String,
}

impl OvsConfig {
    /// Defaults for a switch run from `rundir`: bridge `contivbr`,
    /// userspace datapath, owner `contiv`, no uplink, router port
    /// `contivrtr`, this namespace.
    pub fn new(rundir: impl Into<PathBuf>) -> OvsConfig {
        OvsConfig {
            rundir: rundir.into(),
            db_socket: None,
            bridge: "contivbr".into(),
            datapath_type: "netdev".into(),
            owner: "contiv".into(),
            uplink: None,
            vxlan_port: None,
            router_port: "contivrtr".into(),
            switch_netns: Netns::Current,
            port_timeout: Duration::from_secs(10),
            host_port: "contivh0".into(),
        }
    }

    /// The bridge's end of the host port.
    pub fn host_port_peer(&self) -> String {
        format!("{}o", self.host_port)
    }

    /// The nftables table holding this datapath's host NAT rules
    /// (`<owner>_<bridge>`, other characters replaced by `_`).
    pub fn nat_table(&self) -> String {
        format!("{}_{}", self.owner, self.bridge)
            .chars()
            .map(|c| {
                if c.is_ascii_alphanumeric() || c == '-' {
                    c
                } else {
                    '_'
                }
            })
            .take(64)
            .collect()
    }

    /// The OVSDB socket.
    pub fn db_path(&self) -> PathBuf {
        self.db_socket
            .clone()
            .unwrap_or_else(|| self.rundir.join("db.sock"))
    }

    /// The bridge's OpenFlow management socket.
    pub fn mgmt_path(&self) -> PathBuf {
        Path::new(&self.rundir).join(format!("{}.mgmt", self.bridge))
    }
}
