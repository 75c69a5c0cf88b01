//! Fixtures of the eBPF datapath tests: a "host" is a network namespace
//! with its own bpffs mount and an [`EbpfDatapath`] whose interfaces live
//! in it; "containers" are namespaces the datapath plumbs veths into.
//! Everything is removed on drop, also when a test panics: the datapath
//! first, then the bpffs (pins, so programs, links and maps go), then the
//! namespaces (veths, the VXLAN device).
#![allow(dead_code)]

pub mod frames;

use contiv_core::datapath::{
    Attachment, Datapath, DpOp, Encap, LocalEndpoint, MacAddr, NetworkSpec, RemoteEndpoint,
};
use contiv_core::ir::EpgId;
use contiv_dp_ebpf::{EbpfConfig, EbpfDatapath};
use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};
use std::sync::atomic::{AtomicU32, Ordering};
use std::time::{Duration, Instant};

static NEXT: AtomicU32 = AtomicU32::new(0);

/// A unique short name: `<prefix><pid % 10000>x<n>` (≤ 15 bytes for
/// prefixes up to 4 bytes).
pub fn unique(prefix: &str) -> String {
    format!(
        "{prefix}{}x{}",
        std::process::id() % 10000,
        NEXT.fetch_add(1, Ordering::Relaxed)
    )
}

/// Runs a command; panics with its output if it fails.
pub fn run(args: &[&str]) -> String {
    let out = Command::new(args[0])
        .args(&args[1..])
        .stdin(Stdio::null())
        .output()
        .unwrap_or_else(|e| panic!("cannot run {args:?}: {e}"));
    assert!(
        out.status.success(),
        "{args:?} failed: {}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout).into_owned()
}

/// A network namespace, deleted on drop.
#[derive(Debug)]
pub struct Netns {
    pub name: String,
}

impl Netns {
    /// `ip netns add <unique name>` with loopback up.
    pub fn new(prefix: &str) -> Netns {
        let name = unique(prefix);
        run(&["ip", "netns", "add", &name]);
        let n = Netns { name };
        n.ip(&["link", "set", "lo", "up"]);
        n
    }

    /// Its path.
    pub fn path(&self) -> PathBuf {
        Path::new("/var/run/netns").join(&self.name)
    }

    /// `ip -n <ns> <args>` (must succeed).
    pub fn ip(&self, args: &[&str]) -> String {
        let mut v = vec!["ip", "-n", self.name.as_str()];
        v.extend_from_slice(args);
        run(&v)
    }

    /// `ip netns exec <ns> <args>`, whatever the result.
    pub fn exec(&self, args: &[&str]) -> Output {
        Command::new("ip")
            .args(["netns", "exec", &self.name])
            .args(args)
            .stdin(Stdio::null())
            .output()
            .expect("run ip netns exec")
    }

    /// `ip netns exec <ns> <args>` in the background.
    pub fn spawn(&self, args: &[&str]) -> Bg {
        let child = Command::new("ip")
            .args(["netns", "exec", &self.name])
            .args(args)
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("spawn in netns");
        Bg(child)
    }

    /// One ping to `dst` (1 s timeout): answered?
    pub fn ping(&self, dst: &str) -> bool {
        let v6 = dst.contains(':');
        let mut a = vec!["ping", "-c1", "-W1"];
        if v6 {
            a.push("-6");
        }
        a.push(dst);
        self.exec(&a).status.success()
    }

    /// `tc qdisc show dev <dev>` in the namespace.
    pub fn qdiscs(&self, dev: &str) -> String {
        run(&["tc", "-n", &self.name, "qdisc", "show", "dev", dev])
    }

    /// The program id of the datapath's endpoint filter on `dev`'s tc
    /// ingress (`tc filter show`: priority 1, handle 0x1, named
    /// `contiv_from_endpoint`, direct-action), if it is there.
    pub fn ep_filter(&self, dev: &str) -> Option<u32> {
        let out = Command::new("tc")
            .args(["-n", &self.name, "filter", "show", "dev", dev, "ingress"])
            .stdin(Stdio::null())
            .output()
            .expect("run tc");
        let out = String::from_utf8_lossy(&out.stdout);
        out.lines()
            .find(|l| {
                l.contains("pref 1 bpf")
                    && l.contains("handle 0x1 contiv_from_endpoint ")
                    && l.contains("direct-action")
            })
            .and_then(|l| {
                let w: Vec<&str> = l.split_whitespace().collect();
                w.windows(2)
                    .find(|p| p[0] == "id")
                    .and_then(|p| p[1].parse().ok())
            })
    }

    /// Whether `dev`'s root qdisc is a `tbf` of `rate` (as tc prints it,
    /// e.g. `1Mbit`).
    pub fn has_tbf(&self, dev: &str, rate: &str) -> bool {
        self.qdiscs(dev).lines().any(|l| {
            l.starts_with("qdisc tbf") && l.contains("root") && l.contains(&format!("rate {rate} "))
        })
    }

    /// A TCP connect to `dst`:`port` (1 s timeout): established?
    pub fn tcp(&self, dst: &str, port: u16) -> bool {
        let p = port.to_string();
        self.exec(&["nc", "-z", "-w1", dst, &p]).status.success()
    }
}

impl Drop for Netns {
    fn drop(&mut self) {
        let _ = Command::new("ip")
            .args(["netns", "delete", &self.name])
            .stdin(Stdio::null())
            .output();
    }
}

/// A background process, killed (by pid) on drop.
#[derive(Debug)]
pub struct Bg(pub std::process::Child);

impl Drop for Bg {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

/// A private bpffs mount, unmounted on drop.
#[derive(Debug)]
pub struct Bpffs {
    pub dir: tempfile::TempDir,
}

impl Bpffs {
    pub fn new() -> Bpffs {
        let dir = tempfile::Builder::new()
            .prefix("contiv-bpffs")
            .tempdir()
            .expect("tempdir");
        contiv_dp_ebpf::kernel::bpffs::mount(dir.path()).expect("mount a bpffs");
        Bpffs { dir }
    }

    pub fn path(&self) -> &Path {
        self.dir.path()
    }
}

impl Drop for Bpffs {
    fn drop(&mut self) {
        let _ = contiv_dp_ebpf::kernel::bpffs::unmount(self.dir.path());
    }
}

/// A host: namespace + bpffs + datapath. Drop order: datapath, bpffs,
/// namespace.
pub struct Host {
    pub dp: Option<EbpfDatapath>,
    pub cfg: EbpfConfig,
    pub bpffs: Bpffs,
    pub ns: Netns,
}

impl Host {
    /// A host namespace with a fresh bpffs; the datapath is not started.
    pub fn bare(prefix: &str) -> Host {
        let ns = Netns::new(prefix);
        let bpffs = Bpffs::new();
        let mut cfg = EbpfConfig::new();
        cfg.bpffs = bpffs.path().to_owned();
        cfg.netns = Some(ns.path());
        cfg.vxlan_device = "ctvx0".into();
        cfg.gc_interval = Duration::ZERO;
        Host {
            dp: None,
            cfg,
            bpffs,
            ns,
        }
    }

    /// A host with its datapath connected.
    pub async fn new(prefix: &str) -> Host {
        let mut h = Host::bare(prefix);
        h.start().await;
        h
    }

    /// Connects the datapath.
    pub async fn start(&mut self) {
        let dp = EbpfDatapath::connect(self.cfg.clone())
            .await
            .unwrap_or_else(|e| panic!("connect the eBPF datapath: {e}"));
        self.dp = Some(dp);
    }

    pub fn dp(&self) -> &EbpfDatapath {
        self.dp.as_ref().expect("the datapath runs")
    }

    pub async fn apply(&self, ops: Vec<DpOp>) {
        self.dp()
            .apply(ops)
            .await
            .unwrap_or_else(|e| panic!("apply: {e}"));
    }
}

impl Drop for Host {
    fn drop(&mut self) {
        self.dp = None;
    }
}

/// A VXLAN network `key` in tenant `tenant_id`, subnet `10.<n>.0.0/24`,
/// gateway `.1`, IPv6 `fd<n>::/64` with gateway `::1`.
pub fn vxlan_net(key: &str, tenant_id: u32, n: u8, vni: u32) -> NetworkSpec {
    NetworkSpec {
        key: key.into(),
        tenant: key.split(':').next().unwrap_or("t").into(),
        tenant_id,
        encap: Encap::Vxlan,
        vlan: 0,
        vni: Some(vni),
        subnet: Some(format!("10.{n}.0.0/24").parse().unwrap()),
        gateway: Some(format!("10.{n}.0.1").parse().unwrap()),
        subnet6: Some(format!("fd{n:02x}::/64").parse().unwrap()),
        gateway6: Some(format!("fd{n:02x}::1").parse().unwrap()),
        external: false,
    }
}

/// A one-port service `key` on network `net` with VIP `vip`: `svc_port` →
/// `prov_port` over `protocol`, load-balanced over the endpoints named
/// `backends`.
pub fn service(
    key: &str,
    net: &str,
    vip: std::net::Ipv4Addr,
    (svc_port, prov_port): (u16, u16),
    protocol: contiv_core::datapath::ServiceProtocol,
    backends: &[&str],
) -> contiv_core::datapath::ServiceSpec {
    contiv_core::datapath::ServiceSpec {
        key: key.into(),
        network: net.into(),
        vip,
        ports: vec![contiv_core::datapath::PortSpec {
            svc_port,
            prov_port,
            protocol,
        }],
        backends: backends.iter().map(|b| (*b).to_owned()).collect(),
    }
}

/// Plugs a client `c` (`.2`, group 10) and two backends `b1` and `b2`
/// (`.11` and `.12`, group 20) of `net` into `host`, each in a container
/// named after `ns_prefix`; the network is added too. The containers are
/// returned so they live as long as the caller needs them.
pub async fn client_and_two_backends(
    host: &Host,
    net: &NetworkSpec,
    ns_prefix: &str,
) -> ([Netns; 3], [LocalEndpoint; 3]) {
    let ctrs = [
        Netns::new(ns_prefix),
        Netns::new(ns_prefix),
        Netns::new(ns_prefix),
    ];
    let eps = [
        local_ep("c", net, 2, 10, &ctrs[0]),
        local_ep("b1", net, 11, 20, &ctrs[1]),
        local_ep("b2", net, 12, 20, &ctrs[2]),
    ];
    let mut ops = vec![DpOp::AddNetwork(net.clone())];
    ops.extend(eps.iter().cloned().map(DpOp::AddLocalEndpoint));
    host.apply(ops).await;
    (ctrs, eps)
}

/// A VLAN network.
pub fn vlan_net(key: &str, tenant_id: u32, n: u8, vlan: u16) -> NetworkSpec {
    NetworkSpec {
        encap: Encap::Vlan,
        vlan,
        vni: None,
        ..vxlan_net(key, tenant_id, n, 0)
    }
}

/// A local endpoint `.host` on `net` (IPv4 and IPv6) in container `ctr`.
pub fn local_ep(id: &str, net: &NetworkSpec, host: u8, epg: EpgId, ctr: &Netns) -> LocalEndpoint {
    let v4 = net.subnet.expect("subnet").network().octets();
    let ip4 = std::net::Ipv4Addr::new(v4[0], v4[1], v4[2], host);
    let mut s6 = net.subnet6.expect("subnet6").network().segments();
    s6[7] = u16::from(host);
    LocalEndpoint {
        id: id.into(),
        network: net.key.clone(),
        epg,
        ipv4: Some(format!("{ip4}/24").parse().unwrap()),
        ipv6: Some(
            format!("{}/64", std::net::Ipv6Addr::from(s6))
                .parse()
                .unwrap(),
        ),
        mac: MacAddr::from_ipv4(ip4),
        host_ifname: unique("vh"),
        attachment: Attachment::Netns {
            netns: ctr.path(),
            ifname: "eth0".into(),
        },
        mtu: 1450,
        qos: None,
    }
}

/// The remote twin of a local endpoint spec (as another host sees it).
pub fn remote_of(ep: &LocalEndpoint, vtep: std::net::IpAddr) -> RemoteEndpoint {
    RemoteEndpoint {
        id: ep.id.clone(),
        network: ep.network.clone(),
        epg: ep.epg,
        ipv4: ep.ipv4.map(|a| a.addr()),
        ipv6: ep.ipv6.map(|a| a.addr()),
        mac: ep.mac,
        vtep,
    }
}

/// Polls `f` every 20 ms until it is true or `timeout` passes.
pub fn eventually(timeout: Duration, mut f: impl FnMut() -> bool) -> bool {
    let end = Instant::now() + timeout;
    loop {
        if f() {
            return true;
        }
        if Instant::now() >= end {
            return false;
        }
        std::thread::sleep(Duration::from_millis(20));
    }
}

/// The address of endpoint `ep` (v4) as text.
pub fn v4(ep: &LocalEndpoint) -> String {
    ep.ipv4.expect("ipv4").addr().to_string()
}

/// The address of endpoint `ep` (v6) as text.
pub fn v6(ep: &LocalEndpoint) -> String {
    ep.ipv6.expect("ipv6").addr().to_string()
}

/// A raw packet socket on one interface of a namespace: sees the frames
/// the interface receives.
pub struct Tap {
    fd: std::os::fd::OwnedFd,
}

impl Tap {
    /// Opens `ifname` in the namespace at `netns`.
    pub fn open(netns: &Path, ifname: &str) -> Result<Tap, String> {
        let ifname = ifname.to_owned();
        contiv_core::linux::netns::run_in_netns(netns, move || -> Result<Tap, String> {
            use std::os::fd::FromRawFd;
            let c = std::ffi::CString::new(ifname.clone()).map_err(|e| e.to_string())?;
            // SAFETY: plain libc calls with valid arguments; the returned
            // descriptor is owned by the OwnedFd.
            unsafe {
                let index = libc::if_nametoindex(c.as_ptr());
                if index == 0 {
                    return Err(format!("no {ifname}"));
                }
                let proto = (libc::ETH_P_ALL as u16).to_be();
                let fd = libc::socket(
                    libc::AF_PACKET,
                    libc::SOCK_RAW | libc::SOCK_NONBLOCK | libc::SOCK_CLOEXEC,
                    i32::from(proto),
                );
                if fd < 0 {
                    return Err(std::io::Error::last_os_error().to_string());
                }
                let fd = std::os::fd::OwnedFd::from_raw_fd(fd);
                let mut sll: libc::sockaddr_ll = std::mem::zeroed();
                sll.sll_family = libc::AF_PACKET as u16;
                sll.sll_protocol = proto;
                sll.sll_ifindex = index as i32;
                let rc = libc::bind(
                    std::os::fd::AsRawFd::as_raw_fd(&fd),
                    &sll as *const libc::sockaddr_ll as *const libc::sockaddr,
                    std::mem::size_of::<libc::sockaddr_ll>() as u32,
                );
                if rc != 0 {
                    return Err(std::io::Error::last_os_error().to_string());
                }
                Ok(Tap { fd })
            }
        })
        .map_err(|e| e.to_string())?
    }

    /// The frames received since the last call (not those sent).
    pub fn received(&self) -> Vec<Vec<u8>> {
        let mut out = Vec::new();
        loop {
            let mut buf = vec![0u8; 2048];
            // SAFETY: `buf` and `sll` are valid for the sizes given.
            let (n, pkttype) = unsafe {
                let mut sll: libc::sockaddr_ll = std::mem::zeroed();
                let mut len = std::mem::size_of::<libc::sockaddr_ll>() as u32;
                let n = libc::recvfrom(
                    std::os::fd::AsRawFd::as_raw_fd(&self.fd),
                    buf.as_mut_ptr().cast(),
                    buf.len(),
                    0,
                    &mut sll as *mut libc::sockaddr_ll as *mut libc::sockaddr,
                    &mut len,
                );
                (n, sll.sll_pkttype)
            };
            if n <= 0 {
                return out;
            }
            if pkttype != libc::PACKET_OUTGOING {
                buf.truncate(n as usize);
                out.push(buf);
            }
        }
    }
}

/// Rule `id` of tenant 1's policy `p`: group `epg` denies TCP `port` in
/// `direction`, from or to anyone.
pub fn deny_tcp(
    id: u64,
    epg: EpgId,
    direction: contiv_core::ir::Direction,
    port: u16,
) -> contiv_core::ir::IrRule {
    use contiv_core::ir::{Action, IrRule, PeerMatch, PortRange, RuleId, RuleOrigin};
    IrRule {
        id: RuleId(id),
        tenant: 1,
        epg,
        direction,
        peer: PeerMatch::Any,
        local: None,
        proto: Some(6),
        ports: Some(PortRange::single(port)),
        priority: 1,
        action: Action::Deny,
        origin: RuleOrigin {
            policy: "t1:p".into(),
            rule: id.to_string(),
            epg: "t1:g".into(),
        },
    }
}
