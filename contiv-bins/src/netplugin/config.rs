//! netplugin configuration: flags, environment and an optional TOML file
//! (`--config`, keys are the long flag names, as for netmaster).

use crate::daemon::LogFormat;
use crate::duration::parse_duration;
use clap::{Args, ValueEnum};
use std::net::{IpAddr, SocketAddr};
use std::path::{Path, PathBuf};
use std::time::Duration;

/// Which datapath backend the agent drives.
#[derive(Clone, Copy, Debug, PartialEq, Eq, ValueEnum)]
pub enum DatapathKind {
    /// The in-memory recording reference of `contiv-policy`: keeps and
    /// logs what it is told, forwards no packets (tests, dry runs).
    Recording,
    /// Open vSwitch (`contiv-dp-ovs`).
    Ovs,
    /// tc/BPF programs on the endpoints' veths (`contiv-dp-ebpf`).
    Ebpf,
    /// VPP over its binary API (`contiv-dp-vpp`, cargo feature `vpp`).
    Vpp,
}

impl DatapathKind {
    /// The name used on the command line.
    pub fn as_str(self) -> &'static str {
        match self {
            DatapathKind::Recording => "recording",
            DatapathKind::Ovs => "ovs",
            DatapathKind::Ebpf => "ebpf",
            DatapathKind::Vpp => "vpp",
        }
    }
}

/// netplugin settings.
#[derive(Clone, Debug, Args)]
pub struct AgentConfig {
    /// Optional TOML config file whose keys are the long flag names.
    #[arg(long, env = "CONTIV_NETPLUGIN_CONFIG")]
    pub config: Option<PathBuf>,

    /// This host's name in the cluster (the original's --host-label).
    /// Default: the hostname.
    #[arg(long = "host", alias = "host-label", env = "CONTIV_NETPLUGIN_HOST")]
    pub host: Option<String>,

    /// Underlay address other hosts tunnel to. Default: the local address
    /// the kernel picks to reach the first netmaster.
    #[arg(long = "vtep-ip", env = "CONTIV_NETPLUGIN_VTEP_IP")]
    pub vtep_ip: Option<IpAddr>,

    /// VXLAN UDP port announced to peers.
    #[arg(
        long = "vxlan-port",
        env = "CONTIV_NETPLUGIN_VXLAN_PORT",
        default_value_t = 4789
    )]
    pub vxlan_port: u16,

    /// netmaster URLs, comma separated, tried in order (any of them works:
    /// followers forward writes to the leader).
    #[arg(
        long = "netmaster",
        env = "CONTIV_NETMASTER",
        value_delimiter = ',',
        default_value = "http://127.0.0.1:9999"
    )]
    pub netmaster: Vec<String>,

    /// Bearer token for netmaster, if it requires one: this host's node
    /// token (`netmaster --print-node-token <host>`), which allows only
    /// this host's registration and endpoints and the watch.
    #[arg(long, env = "CONTIV_API_TOKEN", hide_env_values = true)]
    pub token: Option<String>,

    /// CA certificate(s) (PEM) that signed netmaster's TLS certificate;
    /// required for `https://` netmaster URLs.
    #[arg(long = "netmaster-ca", env = "CONTIV_NETMASTER_CA")]
    pub netmaster_ca: Option<PathBuf>,

    /// Datapath backend.
    #[arg(
        long,
        value_enum,
        env = "CONTIV_NETPLUGIN_DATAPATH",
        default_value = "ovs"
    )]
    pub datapath: DatapathKind,

    /// VLAN uplink: an existing interface (in the switch namespace for
    /// OVS) carrying VLAN networks tagged, as a trunk (the original's
    /// `--vlan-if`).
    #[arg(long = "vlan-if", alias = "uplink", env = "CONTIV_VLAN_IF")]
    pub vlan_if: Option<String>,

    /// Open vSwitch settings (used with `--datapath ovs`).
    #[command(flatten)]
    pub ovs: OvsSettings,

    /// eBPF settings (used with `--datapath ebpf`).
    #[command(flatten)]
    pub ebpf: EbpfSettings,
    /// VPP settings (used with `--datapath vpp`).
    #[command(flatten)]
    pub vpp: VppSettings,

    /// Built-in DNS settings.
    #[command(flatten)]
    pub dns: DnsSettings,

    /// BGP speaker settings (routing mode with a `Bgp` object for this
    /// host).
    #[command(flatten)]
    pub bgp: BgpSettings,

    /// The agent's control API (`GET /inspect/bgp`, what netmaster serves
    /// as `netctl bgp inspect`), as `ip:port`, or `none`. Default: the
    /// VTEP address (the one facing netmaster) with a port the kernel
    /// picks; the address is announced in the node record.
    #[arg(long = "ctrl-listen", env = "CONTIV_NETPLUGIN_CTRL_LISTEN", value_parser = parse_ctrl_listen)]
    pub ctrl_listen: Option<CtrlListen>,

    /// Unix socket of the local API that `contiv-cni` talks to.
    #[arg(
        long = "cni-socket",
        env = "CONTIV_CNI_SOCKET",
        default_value = "/run/contiv/contiv-cni.sock"
    )]
    pub cni_socket: PathBuf,

    /// Docker plugin name (driver and IPAM driver name in `docker network
    /// create -d <name>`).
    #[arg(
        long = "plugin-name",
        alias = "name",
        env = "CONTIV_PLUGIN_NAME",
        default_value = "netplugin"
    )]
    pub plugin_name: String,

    /// Directory of the Docker plugin socket `<dir>/<plugin-name>.sock`
    /// (Docker only looks in /run/docker/plugins).
    #[arg(
        long = "docker-plugin-dir",
        env = "CONTIV_DOCKER_PLUGIN_DIR",
        default_value = "/run/docker/plugins"
    )]
    pub docker_plugin_dir: PathBuf,

    /// Do not serve the Docker network/IPAM plugin.
    #[arg(long = "no-docker-plugin", env = "CONTIV_NO_DOCKER_PLUGIN")]
    pub no_docker_plugin: bool,

    /// Docker engine API (`unix:///var/run/docker.sock`). When given, the
    /// agent creates a Docker network for every contiv network and group
    /// (`net`, `epg.net`, `net/tenant`, `epg.net/tenant`).
    #[arg(long = "docker-host", env = "CONTIV_DOCKER_HOST")]
    pub docker_host: Option<String>,

    /// MTU of container interfaces (a CNI netconf `mtu` overrides it).
    #[arg(long, env = "CONTIV_NETPLUGIN_MTU", default_value_t = 1450)]
    pub mtu: u32,

    /// Directory for the agent's crash-recovery journal and Docker network
    /// mappings.
    #[arg(
        long = "state-dir",
        env = "CONTIV_NETPLUGIN_STATE_DIR",
        default_value = "/var/lib/contiv/netplugin"
    )]
    pub state_dir: PathBuf,

    /// Permission bits of the local sockets (octal).
    #[arg(long = "socket-mode", env = "CONTIV_NETPLUGIN_SOCKET_MODE", default_value = "600", value_parser = parse_mode)]
    pub socket_mode: u32,

    /// How long an ADD waits for its endpoint to be realised before it is
    /// rolled back.
    #[arg(long = "add-timeout", env = "CONTIV_NETPLUGIN_ADD_TIMEOUT", value_parser = parse_duration, default_value = "10s")]
    pub add_timeout: Duration,

    /// Fault injection for tests: `step=probability,…` (steps:
    /// `before_create`, `after_create`, `after_plumb`, `before_unplumb`,
    /// `after_unplumb`, `after_reserve`, `dp_add_local`, or `*`).
    #[arg(long, env = "CONTIV_NETPLUGIN_FAULTS", hide = true)]
    pub faults: Option<String>,

    /// Seed of the fault-injection random generator.
    #[arg(
        long = "fault-seed",
        env = "CONTIV_NETPLUGIN_FAULT_SEED",
        hide = true,
        default_value_t = 1
    )]
    pub fault_seed: u64,

    /// Log level filter (e.g. `info`, `debug`, `contiv_bins=debug`).
    #[arg(long = "log-level", env = "CONTIV_LOG_LEVEL", default_value = "info")]
    pub log_level: String,

    /// Log format.
    #[arg(
        long = "log-format",
        value_enum,
        env = "CONTIV_LOG_FORMAT",
        default_value = "text"
    )]
    pub log_format: LogFormat,
}

/// Where the Open vSwitch the agent drives is and how to use it.
#[derive(Clone, Debug, Args, PartialEq, Eq)]
pub struct OvsSettings {
    /// OVS run directory (`OVS_RUNDIR`): `db.sock` and `<bridge>.mgmt`
    /// live there.
    #[arg(
        long = "ovs-rundir",
        env = "CONTIV_OVS_RUNDIR",
        default_value = "/run/openvswitch"
    )]
    pub rundir: PathBuf,

    /// OVSDB socket, if not `<ovs-rundir>/db.sock`.
    #[arg(long = "ovs-db", env = "CONTIV_OVS_DB")]
    pub db: Option<PathBuf>,

    /// The integration bridge (created if missing).
    #[arg(
        long = "ovs-bridge",
        env = "CONTIV_OVS_BRIDGE",
        default_value = "contivbr"
    )]
    pub bridge: String,

    /// `datapath_type` of the bridge: `netdev` (OVS userspace datapath,
    /// works without the openvswitch kernel module) or `system` (kernel).
    #[arg(
        long = "ovs-datapath-type",
        env = "CONTIV_OVS_DATAPATH_TYPE",
        default_value = "netdev",
        value_parser = ["netdev", "system"]
    )]
    pub datapath_type: String,

    /// The network namespace ovs-vswitchd runs in (a name from `ip netns`
    /// or a path such as `/proc/<pid>/ns/net`); the host sides of the
    /// container veths are created there. Default: the agent's own.
    #[arg(long = "ovs-netns", env = "CONTIV_OVS_NETNS")]
    pub netns: Option<String>,

    /// How long to wait for Open vSwitch at start (the agent retries until
    /// then) and for OVS to number a new port.
    #[arg(long = "ovs-timeout", env = "CONTIV_OVS_TIMEOUT", value_parser = parse_duration, default_value = "30s")]
    pub timeout: Duration,

    /// The host's end of the host port (external access: egress NAT and
    /// published ports); the bridge's end is this name + `o`. At most 14
    /// bytes. One per switch: two agents sharing a namespace need two.
    #[arg(
        long = "ovs-host-port",
        env = "CONTIV_OVS_HOST_PORT",
        default_value = "contivh0",
        value_parser = parse_host_port
    )]
    pub host_port: String,
}

/// A host-port name: 1–14 bytes (its datapath end adds a letter; Linux
/// allows 15), no `/`, whitespace or `:`.
fn parse_host_port(s: &str) -> Result<String, String> {
    if s.is_empty() || s.len() > 14 {
        return Err(format!(
            "{s:?}: a host-port name has 1 to 14 bytes (the datapath's end adds a letter)"
        ));
    }
    if s.chars().any(|c| c == '/' || c == ':' || c.is_whitespace()) {
        return Err(format!(
            "{s:?}: an interface name has no '/', ':' or spaces"
        ));
    }
    Ok(s.to_owned())
}

impl Default for OvsSettings {
    fn default() -> Self {
        OvsSettings {
            rundir: PathBuf::from("/run/openvswitch"),
            db: None,
            bridge: "contivbr".into(),
            datapath_type: "netdev".into(),
            netns: None,
            timeout: Duration::from_secs(30),
            host_port: "contivh0".into(),
        }
    }
}

impl OvsSettings {
    /// The switch namespace as a path: `None` for the agent's own, a name
    /// without `/` is `/var/run/netns/<name>`.
    pub fn netns_path(&self) -> Option<PathBuf> {
        netns_path(self.netns.as_deref())
    }
}

/// Where the eBPF datapath pins its objects and which device it tunnels
/// through.
#[derive(Clone, Debug, Args, PartialEq, Eq)]
pub struct EbpfSettings {
    /// A bpffs mount point (mounted if it is not one yet).
    #[arg(long = "bpf-fs", env = "CONTIV_BPF_FS", default_value = "/sys/fs/bpf")]
    pub bpffs: PathBuf,

    /// The directory under the bpffs this agent owns: maps, programs and
    /// attachments are pinned there, so a restarted agent adopts them
    /// (forwarding never stops with the agent).
    #[arg(
        long = "bpf-pin-name",
        env = "CONTIV_BPF_PIN_NAME",
        default_value = "contiv"
    )]
    pub pin_name: String,

    /// The host's VXLAN device (`vxlan external gbp`, created if missing).
    #[arg(
        long = "vxlan-device",
        env = "CONTIV_VXLAN_DEVICE",
        default_value = "contiv_vxlan"
    )]
    pub vxlan_device: String,

    /// The network namespace the datapath's interfaces live in (the host
    /// sides of the container veths, the VXLAN device, the uplink): a name
    /// from `ip netns` or a path. Default: the agent's own.
    #[arg(long = "bpf-netns", env = "CONTIV_BPF_NETNS")]
    pub bpf_netns: Option<String>,

    /// The host's end of the host port (external access: egress NAT and
    /// published ports, made when a network has external access); the
    /// datapath's end is this name + `p`. At most 14 bytes. Two agents
    /// sharing a namespace need two.
    #[arg(
        long = "bpf-host-port",
        env = "CONTIV_BPF_HOST_PORT",
        default_value = "contivbh0",
        value_parser = parse_host_port
    )]
    pub bpf_host_port: String,
}

impl EbpfSettings {
    /// The datapath namespace as a path (see [`netns_path`]).
    pub fn netns_path(&self) -> Option<PathBuf> {
        netns_path(self.bpf_netns.as_deref())
    }
}

/// A namespace flag as a path: `None` for the agent's own, a name without
/// `/` is `/var/run/netns/<name>`.
pub fn netns_path(ns: Option<&str>) -> Option<PathBuf> {
    let ns = ns.filter(|s| !s.is_empty())?;
    Some(if ns.contains('/') {
        PathBuf::from(ns)
    } else {
        Path::new("/var/run/netns").join(ns)
    })
}

impl Default for EbpfSettings {
    fn default() -> Self {
        EbpfSettings {
            bpffs: PathBuf::from("/sys/fs/bpf"),
            pin_name: "contiv".into(),
            vxlan_device: "contiv_vxlan".into(),
            bpf_netns: None,
            bpf_host_port: "contivbh0".into(),
        }
    }
}

/// Where the control API listens.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum CtrlListen {
    /// Not served.
    Off,
    /// On this address.
    At(SocketAddr),
}

/// Parses `--ctrl-listen`: `ip:port` or `none`.
pub fn parse_ctrl_listen(s: &str) -> Result<CtrlListen, String> {
    if s.eq_ignore_ascii_case("none") {
        return Ok(CtrlListen::Off);
    }
    s.parse::<SocketAddr>().map(CtrlListen::At).map_err(|_| {
        format!("invalid --ctrl-listen {s:?}: expected ip:port (such as 0.0.0.0:9090) or none")
    })
}

/// The BGP speaker: Debian's `gobgpd`, started and supervised by the agent
/// and driven over its gRPC API on a unix socket in the state directory.
/// It outlives an agent restart (the next agent adopts it, so routes do
/// not flap) and stops when the host's `Bgp` object is deleted.
#[derive(Clone, Debug, Args, PartialEq, Eq)]
pub struct BgpSettings {
    /// The gobgpd binary.
    #[arg(long = "gobgpd", env = "CONTIV_GOBGPD", default_value = "gobgpd")]
    pub gobgpd: PathBuf,

    /// BGP ConnectRetry timer: how long after a failed connection to the
    /// neighbor gobgpd tries again.
    #[arg(long = "bgp-connect-retry", env = "CONTIV_BGP_CONNECT_RETRY", value_parser = parse_duration, default_value = "5s")]
    pub connect_retry: Duration,

    /// BGP hold time offered to the neighbor (keepalives every third of
    /// it).
    #[arg(long = "bgp-hold-time", env = "CONTIV_BGP_HOLD_TIME", value_parser = parse_duration, default_value = "90s")]
    pub hold_time: Duration,

    /// The TCP port gobgpd listens on (on the router address only).
    #[arg(long = "bgp-port", env = "CONTIV_BGP_PORT", default_value_t = 179)]
    pub port: u16,
}

impl Default for BgpSettings {
    fn default() -> Self {
        BgpSettings {
            gobgpd: PathBuf::from("gobgpd"),
            connect_retry: Duration::from_secs(5),
            hold_time: Duration::from_secs(90),
            port: 179,
        }
    }
}

/// Where the VPP the agent drives is.
#[derive(Clone, Debug, Args, PartialEq, Eq)]
pub struct VppSettings {
    /// VPP's binary-API socket (`socksvr { socket-name … }` in
    /// startup.conf).
    #[arg(
        id = "vpp_socket",
        value_name = "PATH",
        long = "vpp-socket",
        env = "CONTIV_VPP_SOCKET",
        default_value = "/run/vpp/api.sock"
    )]
    pub socket: PathBuf,

    /// VPP's name of the VLAN uplink (e.g. `GigabitEthernet0/8/0`); VLAN
    /// networks get a dot1q sub-interface on it.
    #[arg(
        id = "vpp_uplink",
        value_name = "IFNAME",
        long = "vpp-uplink",
        env = "CONTIV_VPP_UPLINK"
    )]
    pub uplink: Option<String>,

    /// How long to wait for VPP at start (the agent retries until then).
    #[arg(id = "vpp_timeout", value_name = "DURATION", long = "vpp-timeout", env = "CONTIV_VPP_TIMEOUT", value_parser = parse_duration, default_value = "30s")]
    pub timeout: Duration,

    /// How VPP enforces policy: `acl` (the ACL plugin; dumpable, so a
    /// resync reads VPP back; a join rewrites every ACL naming the group),
    /// `npol` (the npol plugin's ipsets: a join is O(1) calls; refused at
    /// connect if VPP lacks npol) or `auto` (npol when VPP has it).
    #[arg(
        id = "vpp_policy",
        value_name = "ENGINE",
        long = "vpp-policy",
        env = "CONTIV_VPP_POLICY",
        default_value = "acl",
        value_parser = ["acl", "npol", "auto"]
    )]
    pub policy: String,
}

impl Default for VppSettings {
    fn default() -> Self {
        VppSettings {
            socket: PathBuf::from("/run/vpp/api.sock"),
            uplink: None,
            timeout: Duration::from_secs(30),
            policy: "acl".into(),
        }
    }
}

/// The built-in DNS.
#[derive(Clone, Debug, Args, PartialEq, Eq)]
pub struct DnsSettings {
    /// Do not serve the built-in DNS (containers get no nameserver from
    /// contiv). DNS is only served on datapaths that forward packets.
    #[arg(long = "no-dns", env = "CONTIV_NO_DNS")]
    pub disabled: bool,

    /// Upstream resolvers for names the tables do not know, as
    /// `ip[:port]`, comma separated. Default: the nameservers of
    /// `--dns-resolv-conf`.
    #[arg(
        long = "dns-upstream",
        env = "CONTIV_DNS_UPSTREAM",
        value_delimiter = ',',
        value_parser = parse_upstream
    )]
    pub upstreams: Vec<SocketAddr>,

    /// The resolv.conf whose nameservers unknown names are forwarded to.
    #[arg(
        long = "dns-resolv-conf",
        env = "CONTIV_DNS_RESOLV_CONF",
        default_value = "/etc/resolv.conf"
    )]
    pub resolv_conf: PathBuf,
}

impl Default for DnsSettings {
    fn default() -> Self {
        DnsSettings {
            disabled: false,
            upstreams: Vec::new(),
            resolv_conf: PathBuf::from("/etc/resolv.conf"),
        }
    }
}

/// Parses an upstream resolver: `ip`, `ip:port` or `[v6]:port`.
pub fn parse_upstream(s: &str) -> Result<SocketAddr, String> {
    if let Ok(a) = s.parse::<SocketAddr>() {
        return Ok(a);
    }
    s.parse::<IpAddr>()
        .map(|ip| SocketAddr::new(ip, 53))
        .map_err(|_| {
            format!(
                "invalid DNS upstream {s:?}: expected an address such as 10.0.0.2 or 127.0.0.1:5353"
            )
        })
}

/// Parses an octal permission mode (`600`, `0660`).
pub fn parse_mode(s: &str) -> Result<u32, String> {
    let m = u32::from_str_radix(s.trim_start_matches("0o"), 8).map_err(|_| {
        format!("invalid socket mode {s:?}: expected octal digits such as 600 or 0660")
    })?;
    if m > 0o777 {
        return Err(format!("invalid socket mode {s:?}: at most 777"));
    }
    Ok(m)
}

impl AgentConfig {
    /// A configuration with every default, for `host`, talking to
    /// `netmaster`, with sockets and state under `dir`, driving the
    /// recording datapath. Embedders and tests adjust fields from here.
    pub fn new(host: &str, netmaster: &str, dir: &std::path::Path) -> Self {
        AgentConfig {
            config: None,
            host: Some(host.to_owned()),
            vtep_ip: None,
            vxlan_port: 4789,
            netmaster: vec![netmaster.to_owned()],
            token: None,
            netmaster_ca: None,
            datapath: DatapathKind::Recording,
            vlan_if: None,
            ovs: OvsSettings::default(),
            ebpf: EbpfSettings::default(),
            vpp: VppSettings::default(),
            dns: DnsSettings::default(),
            bgp: BgpSettings::default(),
            ctrl_listen: None,
            cni_socket: dir.join("contiv-cni.sock"),
            plugin_name: "netplugin".into(),
            docker_plugin_dir: dir.to_owned(),
            no_docker_plugin: false,
            docker_host: None,
            mtu: 1450,
            state_dir: dir.join("state"),
            socket_mode: 0o600,
            add_timeout: Duration::from_secs(10),
            faults: None,
            fault_seed: 1,
            log_level: "info".into(),
            log_format: LogFormat::Text,
        }
    }

    /// Checks settings that flags alone cannot: durations must be ones the
    /// timers can represent. The message names the setting.
    pub fn check(&self) -> Result<(), String> {
        let max = crate::duration::MAX_TIMER;
        for (flag, d) in [
            ("--add-timeout", self.add_timeout),
            ("--ovs-timeout", self.ovs.timeout),
        ] {
            if d > max {
                return Err(format!(
                    "{flag} {d:?} is too long: at most {}s",
                    max.as_secs()
                ));
            }
        }
        Ok(())
    }

    /// Path of the Docker plugin socket.
    pub fn docker_socket(&self) -> PathBuf {
        self.docker_plugin_dir
            .join(format!("{}.sock", self.plugin_name))
    }

    /// The host name: `--host`, else the kernel's hostname.
    pub fn host_name(&self) -> Result<String, String> {
        if let Some(h) = &self.host {
            return Ok(h.clone());
        }
        let h = std::fs::read_to_string("/proc/sys/kernel/hostname")
            .map_err(|e| format!("cannot read the hostname ({e}); pass --host"))?;
        let h = h.trim().to_owned();
        if h.is_empty() {
            return Err("the hostname is empty; pass --host".into());
        }
        Ok(h)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_flags_are_consistent() {
        #[derive(clap::Parser)]
        struct Cli {
            #[command(flatten)]
            cfg: AgentConfig,
        }
        <Cli as clap::CommandFactory>::command().debug_assert();
    }

    #[test]
    fn socket_modes_parse_as_octal() {
        assert_eq!(parse_mode("600").unwrap(), 0o600);
        assert_eq!(parse_mode("0660").unwrap(), 0o660);
        assert!(parse_mode("999").is_err());
        assert!(parse_mode("7777").is_err());
    }

    #[test]
    fn upstreams_and_switch_namespaces_parse() {
        assert_eq!(
            parse_upstream("10.0.0.2").unwrap(),
            "10.0.0.2:53".parse().unwrap()
        );
        assert_eq!(
            parse_upstream("127.0.0.1:5353").unwrap(),
            "127.0.0.1:5353".parse().unwrap()
        );
        assert_eq!(
            parse_upstream("[::1]:54").unwrap(),
            "[::1]:54".parse().unwrap()
        );
        assert!(parse_upstream("dns.example").is_err());
        let mut o = OvsSettings::default();
        assert_eq!(o.netns_path(), None);
        o.netns = Some("sw1".into());
        assert_eq!(o.netns_path(), Some(PathBuf::from("/var/run/netns/sw1")));
        o.netns = Some("/proc/1/ns/net".into());
        assert_eq!(o.netns_path(), Some(PathBuf::from("/proc/1/ns/net")));
    }
}
