//! What scenarios are made of: containers (network namespaces the suite
//! creates and deletes), packets (`ping`, `nc`), and builders for the
//! datapath model values. Public so a backend's own tests can use them.

use contiv_core::datapath::{
    Attachment, Encap, LocalEndpoint, MacAddr, NetworkSpec, RemoteEndpoint,
};
use contiv_core::ir::{
    Action, Direction, EpgId, IrRule, PeerMatch, PortRange, RuleId, RuleOrigin, TenantId,
};
use contiv_core::linux::netns;
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};
use std::path::PathBuf;
use std::process::{Output, Stdio};
use std::sync::atomic::{AtomicU32, Ordering};
use std::time::{Duration, Instant};
use tokio::process::{Child, Command};

static NEXT: AtomicU32 = AtomicU32::new(0);

/// The `'<key>' <count>` lines the Python tally clients print.
fn parse_tally(stdout: &[u8]) -> std::collections::BTreeMap<String, usize> {
    String::from_utf8_lossy(stdout)
        .lines()
        .filter_map(|l| {
            let (k, v) = l.rsplit_once(' ')?;
            Some((k.trim_matches('\'').to_owned(), v.parse().ok()?))
        })
        .collect()
}

/// A name unique in this process and among concurrent test processes:
/// `<prefix><pid % 10000>x<n>` (≤ 15 bytes for prefixes up to 4 bytes).
pub fn unique(prefix: &str) -> String {
    format!(
        "{prefix}{}x{}",
        std::process::id() % 10000,
        NEXT.fetch_add(1, Ordering::Relaxed)
    )
}

/// A container: a network namespace created by the suite (only when the
/// backend forwards packets; otherwise a name that is never opened),
/// deleted on drop — also when the scenario panics.
#[derive(Debug)]
pub struct Container {
    name: String,
    real: bool,
}

impl Container {
    /// A fresh container; `real` creates the namespace (loopback up).
    pub async fn new(real: bool) -> Container {
        let name = unique("ctr");
        let c = Container { name, real };
        if real {
            netns::create_named_netns(&c.name)
                .unwrap_or_else(|e| panic!("create namespace {}: {e}", c.name));
            c.ip(&["link", "set", "lo", "up"]).await;
        }
        c
    }

    /// Its namespace name.
    pub fn name(&self) -> &str {
        &self.name
    }

    /// Its namespace path.
    pub fn path(&self) -> PathBuf {
        netns::named_netns_path(&self.name)
    }

    /// How the datapath plumbs an endpoint into it (`eth0`).
    pub fn attachment(&self) -> Attachment {
        Attachment::Netns {
            netns: self.path(),
            ifname: "eth0".into(),
        }
    }

    /// Runs a command inside, whatever its result.
    pub async fn exec(&self, args: &[&str]) -> Output {
        assert!(self.real, "container {} has no namespace", self.name);
        Command::new("ip")
            .args(["netns", "exec", &self.name])
            .args(args)
            .stdin(Stdio::null())
            .output()
            .await
            .unwrap_or_else(|e| panic!("cannot run {args:?} in {}: {e}", self.name))
    }

    /// Links this namespace, as "the outside world", to the host
    /// namespace named `host_netns` the way
    /// [`Harness::join_outside`](super::Harness::join_outside) describes:
    /// a veth, the host's end with [`OUTSIDE_HOST_ADDR`](super::OUTSIDE_HOST_ADDR)/24,
    /// this one's with [`OUTSIDE_ADDR`](super::OUTSIDE_ADDR)/24, no route back.
    pub async fn link_outside(&self, host_netns: &str) {
        let (h, o) = (unique("oh"), unique("oo"));
        // Not ours: `real: false`, so dropping it deletes nothing.
        let host = Container {
            name: host_netns.to_owned(),
            real: false,
        };
        host.ip(&[
            "link", "add", &h, "type", "veth", "peer", "name", &o, "netns", &self.name,
        ])
        .await;
        host.ip(&[
            "addr",
            "add",
            &format!("{}/24", super::OUTSIDE_HOST_ADDR),
            "dev",
            &h,
        ])
        .await;
        host.ip(&["link", "set", &h, "up"]).await;
        self.ip(&[
            "addr",
            "add",
            &format!("{}/24", super::OUTSIDE_ADDR),
            "dev",
            &o,
        ])
        .await;
        self.ip(&["link", "set", &o, "up"]).await;
    }

    /// `ip -n <ns> <args>`; panics if it fails.
    pub async fn ip(&self, args: &[&str]) -> String {
        let out = Command::new("ip")
            .args(["-n", &self.name])
            .args(args)
            .stdin(Stdio::null())
            .output()
            .await
            .unwrap_or_else(|e| panic!("cannot run ip {args:?}: {e}"));
        assert!(
            out.status.success(),
            "ip -n {} {args:?} failed: {}",
            self.name,
            String::from_utf8_lossy(&out.stderr)
        );
        String::from_utf8_lossy(&out.stdout).into_owned()
    }

    /// Whether two pings to `ip` get an answer (within about 2 s).
    pub async fn ping(&self, ip: &str) -> bool {
        self.exec(&["ping", "-c", "2", "-i", "0.2", "-W", "1", ip])
            .await
            .status
            .success()
    }

    /// Pings until one answers (ARP/ND, DAD and flows settle), up to
    /// `secs`.
    pub async fn ping_eventually(&self, ip: &str, secs: u64) -> bool {
        let deadline = Instant::now() + Duration::from_secs(secs);
        while Instant::now() < deadline {
            if self
                .exec(&["ping", "-c", "1", "-W", "1", ip])
                .await
                .status
                .success()
            {
                return true;
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
        false
    }

    /// Whether `ip` stops answering within `secs` and then stays silent
    /// (two pings in a row unanswered): for a change the datapath realises
    /// when its cached flows are revalidated (OVS userspace keeps
    /// forwarding on a cached megaflow for a fraction of a second after
    /// the OpenFlow flow is gone).
    pub async fn unreachable_within(&self, ip: &str, secs: u64) -> bool {
        let deadline = Instant::now() + Duration::from_secs(secs);
        let mut silent = 0;
        while Instant::now() < deadline {
            if self.ping(ip).await {
                silent = 0;
            } else {
                silent += 1;
                if silent == 2 {
                    return true;
                }
            }
        }
        false
    }

    /// Whether a TCP connection to `ip:port` is accepted within 2 s.
    pub async fn tcp_connects(&self, ip: &str, port: u16) -> bool {
        self.exec(&["nc", "-z", "-w", "2", ip, &port.to_string()])
            .await
            .status
            .success()
    }

    /// Like [`Container::tcp_connects`], retried for up to `secs` (the
    /// first connection across hosts waits for ARP and tunnels).
    pub async fn tcp_connects_eventually(&self, ip: &str, port: u16, secs: u64) -> bool {
        let deadline = Instant::now() + Duration::from_secs(secs);
        while Instant::now() < deadline {
            if self.tcp_connects(ip, port).await {
                return true;
            }
        }
        false
    }

    /// A TCP listener on `port` (all IPv4 addresses, or all IPv6 ones with
    /// `v6`), killed on drop.
    pub async fn listen(&self, port: u16, v6: bool) -> Listener {
        let p = port.to_string();
        let mut args = vec!["netns", "exec", &self.name, "nc"];
        if v6 {
            args.push("-6");
        }
        args.extend(["-lk", p.as_str()]);
        let child = Command::new("ip")
            .args(&args)
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .kill_on_drop(true)
            .spawn()
            .unwrap_or_else(|e| panic!("cannot start nc in {}: {e}", self.name));
        self.when_bound(child, "-ltnH", port).await
    }

    /// `child`, once a socket of the kind `ss_flags` lists (`-ltnH`: TCP
    /// listeners, `-lunH`: bound UDP sockets) is bound to `port` inside;
    /// panics after 5 s.
    async fn when_bound(&self, child: Child, ss_flags: &str, port: u16) -> Listener {
        let deadline = Instant::now() + Duration::from_secs(5);
        let want = format!(":{port} ");
        while Instant::now() < deadline {
            let out = self.exec(&["ss", ss_flags]).await;
            if String::from_utf8_lossy(&out.stdout).contains(&want) {
                return Listener(child);
            }
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
        panic!("nothing bound to {port} ({ss_flags}) in {}", self.name);
    }

    /// A TCP server on `port` that answers every connection with `reply`
    /// (`None`: with the address the connection came from) and closes it;
    /// killed on drop.
    pub async fn serve(&self, port: u16, reply: Option<&str>) -> Listener {
        let answer = match reply {
            Some(r) => format!("{r:?}.encode()"),
            None => "a[0].encode()".into(),
        };
        let prog = format!(
            "import socket\n\
             s=socket.socket()\n\
             s.setsockopt(socket.SOL_SOCKET,socket.SO_REUSEADDR,1)\n\
             s.bind(('0.0.0.0',{port}))\n\
             s.listen(256)\n\
             while True:\n\
             \x20c,a=s.accept()\n\
             \x20try:\n\
             \x20\x20c.sendall({answer}+b'\\n')\n\
             \x20except OSError:\n\
             \x20\x20pass\n\
             \x20c.close()\n"
        );
        let child = self.spawn_python(&prog);
        self.when_bound(child, "-ltnH", port).await
    }

    /// A UDP server on `port` that answers every datagram with
    /// `<name>:` followed by the datagram's bytes, to its sender; killed on
    /// drop.
    pub async fn udp_echo(&self, port: u16, name: &str) -> Listener {
        let prog = format!(
            "import socket\n\
             s=socket.socket(socket.AF_INET,socket.SOCK_DGRAM)\n\
             s.bind(('0.0.0.0',{port}))\n\
             while True:\n\
             \x20d,a=s.recvfrom(65535)\n\
             \x20s.sendto({name:?}.encode()+b':'+d,a)\n"
        );
        let child = self.spawn_python(&prog);
        self.when_bound(child, "-lunH", port).await
    }

    /// A Python server program running inside, killed on drop.
    fn spawn_python(&self, prog: &str) -> Child {
        Command::new("ip")
            .args(["netns", "exec", &self.name, "python3", "-c", prog])
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .kill_on_drop(true)
            .spawn()
            .unwrap_or_else(|e| panic!("cannot start a server in {}: {e}", self.name))
    }

    /// Sends `n` datagrams of `size` bytes to `ip:port`, each from a new
    /// socket (a new source port), and waits for each one's answer from a
    /// [`udp_echo`](Self::udp_echo) server (a datagram is sent again after
    /// 1 s without one, at most 3 times). Counts the answers by what they
    /// say: the server's name when the answer came from `ip:port` and
    /// carries the datagram whole, `from <addr>:<port>` when it came from
    /// elsewhere, `mangled` when its bytes differ, `""` when none came.
    pub async fn udp_tally(
        &self,
        ip: &str,
        port: u16,
        size: usize,
        n: usize,
    ) -> std::collections::BTreeMap<String, usize> {
        let prog = format!(
            "import socket,collections\n\
             c=collections.Counter()\n\
             for i in range({n}):\n\
             \x20d=bytes((i*7+k)%251 for k in range({size}))\n\
             \x20s=socket.socket(socket.AF_INET,socket.SOCK_DGRAM)\n\
             \x20s.settimeout(1)\n\
             \x20got=''\n\
             \x20for t in range(3):\n\
             \x20\x20try:\n\
             \x20\x20\x20s.sendto(d,('{ip}',{port}))\n\
             \x20\x20\x20r,a=s.recvfrom(65535)\n\
             \x20\x20except OSError:\n\
             \x20\x20\x20continue\n\
             \x20\x20name,_,rest=r.partition(b':')\n\
             \x20\x20if a!=('{ip}',{port}):\n\
             \x20\x20\x20got='from %s:%d'%a\n\
             \x20\x20elif rest!=d:\n\
             \x20\x20\x20got='mangled'\n\
             \x20\x20else:\n\
             \x20\x20\x20got=name.decode('ascii','replace')\n\
             \x20\x20break\n\
             \x20c[got]+=1\n\
             \x20s.close()\n\
             for k,v in c.items():\n\
             \x20print(repr(k),v)\n"
        );
        self.run_tally(&prog).await
    }

    /// Opens `n` TCP connections to `ip:port` one after another (each
    /// from a new source port) and counts the first line each answered
    /// (a connection that failed counts as `""`).
    pub async fn tally(
        &self,
        ip: &str,
        port: u16,
        n: usize,
    ) -> std::collections::BTreeMap<String, usize> {
        let prog = format!(
            "import socket,collections\n\
             c=collections.Counter()\n\
             for i in range({n}):\n\
             \x20try:\n\
             \x20\x20s=socket.create_connection(('{ip}',{port}),timeout=2)\n\
             \x20\x20s.settimeout(2)\n\
             \x20\x20c[s.makefile().readline().strip()]+=1\n\
             \x20\x20s.close()\n\
             \x20except OSError:\n\
             \x20\x20c['']+=1\n\
             for k,v in c.items():\n\
             \x20print(repr(k),v)\n"
        );
        self.run_tally(&prog).await
    }

    /// Runs a Python tally client inside and reads its counts.
    async fn run_tally(&self, prog: &str) -> std::collections::BTreeMap<String, usize> {
        let out = self.exec(&["python3", "-c", prog]).await;
        assert!(
            out.status.success(),
            "the client in {} failed: {}",
            self.name,
            String::from_utf8_lossy(&out.stderr)
        );
        parse_tally(&out.stdout)
    }

    /// The first line `ip:port` answers, if a connection succeeds within
    /// 2 s.
    pub async fn read_line(&self, ip: &str, port: u16) -> Option<String> {
        let t = self.tally(ip, port, 1).await;
        t.into_keys().find(|k| !k.is_empty())
    }

    /// The neighbour entry for `ip` (`ip neigh show <ip>`).
    pub async fn neigh(&self, ip: &str) -> String {
        self.ip(&["neigh", "show", ip]).await
    }

    /// Whether interface `ifname` exists inside.
    pub async fn has_link(&self, ifname: &str) -> bool {
        self.exec(&["ip", "link", "show", ifname])
            .await
            .status
            .success()
    }
}

impl Drop for Container {
    fn drop(&mut self) {
        if self.real {
            let _ = netns::delete_named_netns(&self.name);
        }
    }
}

/// A background process (a listener), killed by pid on drop.
#[derive(Debug)]
pub struct Listener(Child);

impl Listener {
    /// The process id, if it is still running.
    pub fn id(&self) -> Option<u32> {
        self.0.id()
    }
}

/// A VXLAN network `tenant:name`.
pub fn vxlan_net(
    tenant: &str,
    tenant_id: TenantId,
    name: &str,
    vni: u32,
    subnet: &str,
) -> NetworkSpec {
    NetworkSpec {
        key: format!("{tenant}:{name}"),
        tenant: tenant.into(),
        tenant_id,
        encap: Encap::Vxlan,
        vlan: 0,
        vni: Some(vni),
        subnet: Some(subnet.parse().unwrap_or_else(|e| panic!("{subnet}: {e}"))),
        gateway: None,
        subnet6: None,
        gateway6: None,
        external: false,
    }
}

/// A VLAN network `tenant:name`.
pub fn vlan_net(
    tenant: &str,
    tenant_id: TenantId,
    name: &str,
    vlan: u16,
    subnet: &str,
) -> NetworkSpec {
    NetworkSpec {
        encap: Encap::Vlan,
        vlan,
        vni: None,
        ..vxlan_net(tenant, tenant_id, name, 1, subnet)
    }
}

/// `s` as an IP address (panics on a typo in a scenario).
pub fn ip(s: &str) -> IpAddr {
    s.parse().unwrap_or_else(|e| panic!("{s}: {e}"))
}

/// A local endpoint with the contiv MAC of its IPv4 address, plumbed into
/// `ctr`, on a fresh host interface name, MTU 1450.
pub fn local_ep(
    id: &str,
    net: &NetworkSpec,
    v4: &str,
    epg: EpgId,
    ctr: &Container,
) -> LocalEndpoint {
    let a: Ipv4Addr = v4.parse().unwrap_or_else(|e| panic!("{v4}: {e}"));
    let plen = net.subnet.map_or(24, |s| s.prefix_len());
    LocalEndpoint {
        id: id.into(),
        network: net.key.clone(),
        epg,
        ipv4: ipnet::Ipv4Net::new(a, plen).ok(),
        ipv6: None,
        mac: MacAddr::from_ipv4(a),
        host_ifname: unique("vh"),
        attachment: ctr.attachment(),
        mtu: 1450,
        qos: None,
    }
}

/// `ep` with IPv6 address `v6` (prefix of the network's IPv6 subnet, /64
/// without one).
pub fn with_v6(mut ep: LocalEndpoint, net: &NetworkSpec, v6: &str) -> LocalEndpoint {
    let a: Ipv6Addr = v6.parse().unwrap_or_else(|e| panic!("{v6}: {e}"));
    ep.ipv6 = ipnet::Ipv6Net::new(a, net.subnet6.map_or(64, |s| s.prefix_len())).ok();
    ep
}

/// A remote endpoint behind `vtep`.
pub fn remote_ep(
    id: &str,
    net: &NetworkSpec,
    v4: &str,
    epg: EpgId,
    vtep: IpAddr,
) -> RemoteEndpoint {
    let a: Ipv4Addr = v4.parse().unwrap_or_else(|e| panic!("{v4}: {e}"));
    RemoteEndpoint {
        id: id.into(),
        network: net.key.clone(),
        epg,
        ipv4: Some(a),
        ipv6: None,
        mac: MacAddr::from_ipv4(a),
        vtep,
    }
}

/// A rule of the IR (what the compiler makes of a `netctl policy
/// rule-add`).
#[derive(Clone, Debug)]
pub struct RuleBuilder(IrRule);

impl RuleBuilder {
    /// Rule `id` protecting group `epg` of `tenant`, direction in, any
    /// peer, any protocol, priority 1, allow.
    pub fn new(id: u64, tenant: TenantId, epg: EpgId) -> RuleBuilder {
        RuleBuilder(IrRule {
            id: RuleId(id),
            tenant,
            epg,
            direction: Direction::In,
            peer: PeerMatch::Any,
            local: None,
            proto: None,
            ports: None,
            priority: 1,
            action: Action::Allow,
            origin: RuleOrigin {
                policy: format!("p{epg}"),
                rule: id.to_string(),
                epg: format!("g{epg}"),
            },
        })
    }
    /// Direction out.
    pub fn outbound(mut self) -> Self {
        self.0.direction = Direction::Out;
        self
    }
    /// Protocol (6 tcp, 17 udp, 1 icmp).
    pub fn proto(mut self, p: u8) -> Self {
        self.0.proto = Some(p);
        self
    }
    /// Destination port.
    pub fn port(mut self, p: u16) -> Self {
        self.0.ports = Some(PortRange::single(p));
        self
    }
    /// Peer group.
    pub fn peer_epg(mut self, g: EpgId) -> Self {
        self.0.peer = PeerMatch::Epg(g);
        self
    }
    /// Priority.
    pub fn priority(mut self, p: u8) -> Self {
        self.0.priority = p;
        self
    }
    /// Deny.
    pub fn deny(mut self) -> Self {
        self.0.action = Action::Deny;
        self
    }
    /// The rule.
    pub fn build(self) -> IrRule {
        self.0
    }
}
