//! [`EbpfConfig`]: where the datapath pins its objects and which host
//! interfaces it uses.

use std::path::PathBuf;
use std::time::Duration;

/// Connection-tracking timeouts (how long an idle connection stays known).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct CtTimeouts {
    /// TCP before the responder answered.
    pub tcp_syn: Duration,
    /// Established TCP.
    pub tcp_established: Duration,
    /// TCP after a RST or both FINs.
    pub tcp_closing: Duration,
    /// UDP.
    pub udp: Duration,
    /// ICMP and every other protocol.
    pub other: Duration,
}

impl Default for CtTimeouts {
    fn default() -> Self {
        CtTimeouts {
            tcp_syn: Duration::from_secs(60),
            tcp_established: Duration::from_secs(6 * 3600),
            tcp_closing: Duration::from_secs(10),
            udp: Duration::from_secs(60),
            other: Duration::from_secs(30),
        }
    }
}

/// Configuration of an [`EbpfDatapath`](crate::EbpfDatapath).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct EbpfConfig {
    /// A bpffs mount point; mounted if it is not one yet.
    pub bpffs: PathBuf,
    /// The directory under `bpffs` this datapath owns: maps, programs and
    /// attachments are pinned below `<bpffs>/<pin_name>/v<ABI>/`, so a
    /// restarted agent adopts them. Two datapaths on one host need two
    /// names.
    pub pin_name: String,
    /// The network namespace the datapath's interfaces live in (host sides
    /// of veths, the VXLAN device, the uplink); `None`: this process's.
    pub netns: Option<PathBuf>,
    /// The host's `vxlan external gbp` device (created if missing).
    pub vxlan_device: String,
    /// Its UDP port.
    pub vxlan_port: u16,
    /// The VLAN uplink (an existing interface): VLAN networks leave and
    /// enter through it, tagged.
    pub uplink: Option<String>,
    /// Conntrack timeouts.
    pub conntrack: CtTimeouts,
    /// The host's end of the host port (created when a network has
    /// external access; the datapath's end is this name + `p`): the host's
    /// stack masquerades what endpoints send out through it and DNATs
    /// published ports into it.
    pub host_port: String,
    /// How often the conntrack garbage collector runs (zero: only when
    /// [`EbpfDatapath::gc`](crate::EbpfDatapath::gc) is called).
    pub gc_interval: Duration,
}

impl EbpfConfig {
    /// Defaults: `/sys/fs/bpf`, pin name `contiv`, VXLAN device
    /// `contiv_vxlan` on port 4789, no uplink, host port `contivbh0`, GC
    /// every 30 s.
    pub fn new() -> EbpfConfig {
        EbpfConfig {
            bpffs: PathBuf::from("/sys/fs/bpf"),
            pin_name: "contiv".into(),
            netns: None,
            vxlan_device: "contiv_vxlan".into(),
            vxlan_port: 4789,
            uplink: None,
            host_port: "contivbh0".into(),
            conntrack: CtTimeouts::default(),
            gc_interval: Duration::from_secs(30),
        }
    }

    /// The host port (names and NAT table: `<pin_name>_ebpf`, other
    /// characters replaced by `_`) in the datapath's namespace.
    pub fn host_port(&self) -> contiv_core::linux::host_port::HostPort {
        let table: String = format!("{}_ebpf", self.pin_name)
            .chars()
            .map(|c| {
                if c.is_ascii_alphanumeric() || c == '-' {
                    c
                } else {
                    '_'
                }
            })
            .collect();
        contiv_core::linux::host_port::HostPort {
            ns: self
                .netns
                .clone()
                .map(contiv_core::linux::Netns::Path)
                .unwrap_or_default(),
            host: self.host_port.clone(),
            peer: format!("{}p", self.host_port),
            table,
        }
    }

    /// The directory of this layout's pins.
    pub fn pin_root(&self) -> PathBuf {
        self.bpffs
            .join(&self.pin_name)
            .join(format!("v{}", crate::abi::ABI_VERSION))
    }
}

impl Default for EbpfConfig {
    fn default() -> Self {
        EbpfConfig::new()
    }
}
