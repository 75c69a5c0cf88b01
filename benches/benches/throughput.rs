//! TCP throughput side by side (iperf3, real packets between network
//! namespaces), interleaved in one run:
//!
//! * **one host**: two containers on the plain Linux bridge + veth (the
//!   reference `bridge` CNI plugin's topology), on the eBPF datapath, and on
//!   Open vSwitch's userspace datapath (both driven through their
//!   `Datapath`);
//! * **two hosts over VXLAN**: kernel `vxlan` + Linux bridge on each host,
//!   and the eBPF datapath (its `vxlan external` device) on each;
//! * **100k rules**: the eBPF single-host pair with 100 000 rules installed
//!   (1 000 groups × 100), the server's group scanning 99 non-matching rules
//!   before the allow, against the same pair with no rules; plus the
//!   classifier's own time per packet (`BPF_PROG_TEST_RUN`, kernel-timed)
//!   for a packet that scans all 100 rules and one of a tracked connection.
//!
//! ```text
//! benches/throughput.sh [SECONDS=10] [ROUNDS=2]
//! cargo bench -p contiv-benches --bench throughput -- 10 2
//! ```
//!
//! Prints every run and a table of medians. Needs root, iperf3 and
//! openvswitch-switch (`make deps`).
#![allow(clippy::unwrap_used)]

use contiv_core::datapath::{
    Attachment, Datapath, DpOp, Encap, LocalEndpoint, MacAddr, NetworkSpec, RemoteEndpoint,
    VtepPeer,
};
use contiv_core::ir::{
    Action, Direction, IrRule, Membership, PeerMatch, PolicyDelta, PortRange, RuleId, RuleOrigin,
};
use contiv_core::linux::Netns;
use contiv_dp_ebpf::{EbpfConfig, EbpfDatapath};
use contiv_dp_ovs::datapath::{OvsConfig, OvsDatapath};
use contiv_dp_ovs::testing::OvsInstance;
use std::collections::BTreeMap;
use std::net::{IpAddr, Ipv4Addr};
use std::process::{Command, Stdio};
use std::time::Duration;

fn run(args: &[&str]) -> String {
    let out = Command::new(args[0])
        .args(&args[1..])
        .stdin(Stdio::null())
        .output()
        .unwrap_or_else(|e| panic!("cannot run {args:?}: {e}"));
    assert!(
        out.status.success(),
        "{args:?}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout).into_owned()
}

/// A namespace, deleted on drop.
struct Ns(String);

impl Ns {
    fn new(tag: &str) -> Ns {
        let name = format!("tp{}{tag}", std::process::id() % 10000);
        let _ = Command::new("ip").args(["netns", "delete", &name]).output();
        run(&["ip", "netns", "add", &name]);
        run(&["ip", "-n", &name, "link", "set", "lo", "up"]);
        Ns(name)
    }
    fn ip(&self, args: &[&str]) {
        let mut v = vec!["ip", "-n", self.0.as_str()];
        v.extend_from_slice(args);
        run(&v);
    }
    fn path(&self) -> std::path::PathBuf {
        std::path::Path::new("/var/run/netns").join(&self.0)
    }
}

impl Drop for Ns {
    fn drop(&mut self) {
        let _ = Command::new("ip")
            .args(["netns", "delete", &self.0])
            .output();
    }
}

/// A private bpffs, unmounted on drop.
struct Bpffs(tempfile::TempDir);

impl Bpffs {
    fn new() -> Bpffs {
        let d = tempfile::tempdir().unwrap();
        contiv_dp_ebpf::kernel::bpffs::mount(d.path()).unwrap();
        Bpffs(d)
    }
}

impl Drop for Bpffs {
    fn drop(&mut self) {
        let _ = contiv_dp_ebpf::kernel::bpffs::unmount(self.0.path());
    }
}

/// One iperf3 run from `client` to `server_ip` in `server`: Gbit/s.
fn iperf(client: &Ns, server: &Ns, server_ip: &str, secs: u32, streams: u32) -> f64 {
    let mut srv = Command::new("ip")
        .args([
            "netns", "exec", &server.0, "iperf3", "-s", "-1", "-p", "5201",
        ])
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    std::thread::sleep(Duration::from_millis(300));
    let out = Command::new("ip")
        .args([
            "netns", "exec", &client.0, "iperf3", "-J", "-c", server_ip, "-p", "5201",
        ])
        .args(["-t", &secs.to_string(), "-P", &streams.to_string()])
        .output()
        .unwrap();
    let _ = srv.kill();
    let _ = srv.wait();
    let v: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap_or_else(|e| {
        panic!(
            "iperf3 output: {e}: {}",
            String::from_utf8_lossy(&out.stdout)
        )
    });
    v["end"]["sum_received"]["bits_per_second"]
        .as_f64()
        .unwrap_or_else(|| panic!("iperf3 failed: {v}"))
        / 1e9
}

/// Two containers on one host; their namespaces and what to keep alive.
struct Pair {
    a: Ns,
    b: Ns,
    b_ip: String,
    _keep: Vec<Box<dyn std::any::Any>>,
}

fn net(key: &str, tenant_id: u32, vni: u32, subnet: &str) -> NetworkSpec {
    NetworkSpec {
        key: key.into(),
        tenant: "t".into(),
        tenant_id,
        encap: Encap::Vxlan,
        vlan: 0,
        vni: Some(vni),
        subnet: subnet.parse().ok(),
        gateway: None,
        subnet6: None,
        gateway6: None,
        external: false,
    }
}

fn ep(id: &str, net: &NetworkSpec, ip: Ipv4Addr, epg: u32, ctr: &Ns, mtu: u32) -> LocalEndpoint {
    LocalEndpoint {
        id: id.into(),
        network: net.key.clone(),
        epg,
        ipv4: Some(ipnet::Ipv4Net::new(ip, 24).unwrap()),
        ipv6: None,
        mac: MacAddr::from_ipv4(ip),
        host_ifname: format!("tv{}{id}", std::process::id() % 10000),
        attachment: Attachment::Netns {
            netns: ctr.path(),
            ifname: "eth0".into(),
        },
        mtu,
        qos: None,
    }
}

/// The reference topology: a Linux bridge and two veths.
fn bridge_pair() -> Pair {
    let host = Ns::new("bh");
    let (a, b) = (Ns::new("ba"), Ns::new("bb"));
    host.ip(&["link", "add", "br0", "type", "bridge"]);
    host.ip(&["link", "set", "br0", "up"]);
    for (c, ip) in [(&a, "10.91.0.2"), (&b, "10.91.0.3")] {
        host.ip(&[
            "link", "add", "v", "type", "veth", "peer", "name", "eth0", "netns", &c.0,
        ]);
        host.ip(&["link", "set", "v", "master", "br0", "up"]);
        let n = format!("v{}", &c.0[c.0.len() - 2..]);
        host.ip(&["link", "set", "v", "name", &n]);
        c.ip(&["addr", "add", &format!("{ip}/24"), "dev", "eth0"]);
        c.ip(&["link", "set", "eth0", "up"]);
    }
    Pair {
        a,
        b,
        b_ip: "10.91.0.3".into(),
        _keep: vec![Box::new(host)],
    }
}

async fn ebpf_host(ns: &Ns, bpffs: &Bpffs) -> EbpfDatapath {
    let mut cfg = EbpfConfig::new();
    cfg.bpffs = bpffs.0.path().to_owned();
    cfg.netns = Some(ns.path());
    cfg.gc_interval = Duration::ZERO;
    EbpfDatapath::connect(cfg).await.unwrap()
}

/// Two containers on the eBPF datapath, in groups 1 and 2 (namespace tag
/// `t`).
async fn ebpf_pair(t: &str) -> (Pair, std::sync::Arc<EbpfDatapath>, NetworkSpec) {
    let host = Ns::new(&format!("{t}h"));
    let bpffs = Bpffs::new();
    let (a, b) = (Ns::new(&format!("{t}a")), Ns::new(&format!("{t}b")));
    let dp = std::sync::Arc::new(ebpf_host(&host, &bpffs).await);
    let n = net("t:n", 1, 9100, "10.94.0.0/24");
    let (ea, eb) = (
        ep("a", &n, Ipv4Addr::new(10, 94, 0, 2), 1, &a, 1500),
        ep("b", &n, Ipv4Addr::new(10, 94, 0, 3), 2, &b, 1500),
    );
    dp.apply(vec![
        DpOp::AddNetwork(n.clone()),
        DpOp::AddLocalEndpoint(ea),
        DpOp::AddLocalEndpoint(eb),
        DpOp::Policy(PolicyDelta {
            members_added: vec![
                Membership {
                    tenant: 1,
                    ip: "10.94.0.2".parse().unwrap(),
                    epg: 1,
                },
                Membership {
                    tenant: 1,
                    ip: "10.94.0.3".parse().unwrap(),
                    epg: 2,
                },
            ],
            ..PolicyDelta::default()
        }),
    ])
    .await
    .unwrap();
    let pair = Pair {
        a,
        b,
        b_ip: "10.94.0.3".into(),
        _keep: vec![Box::new(bpffs), Box::new(host)],
    };
    (pair, dp, n)
}

/// Two containers on OVS (userspace datapath).
async fn ovs_pair() -> (Pair, OvsDatapath) {
    let ovs = OvsInstance::start().expect("a private Open vSwitch (make deps)");
    let mut cfg = OvsConfig::new(ovs.rundir());
    cfg.switch_netns = Netns::named(ovs.netns().expect("private namespace"));
    let dp = OvsDatapath::connect(cfg).await.unwrap();
    let (a, b) = (Ns::new("oa"), Ns::new("ob"));
    let n = net("t:n", 1, 9200, "10.95.0.0/24");
    dp.apply(vec![
        DpOp::AddNetwork(n.clone()),
        DpOp::AddLocalEndpoint(ep("a", &n, Ipv4Addr::new(10, 95, 0, 2), 0, &a, 1500)),
        DpOp::AddLocalEndpoint(ep("b", &n, Ipv4Addr::new(10, 95, 0, 3), 0, &b, 1500)),
    ])
    .await
    .unwrap();
    (
        Pair {
            a,
            b,
            b_ip: "10.95.0.3".into(),
            _keep: vec![Box::new(ovs)],
        },
        dp,
    )
}

/// Two hosts joined by a veth underlay (10.96.0.1 and .2).
fn underlay(tag: &str) -> (Ns, Ns) {
    let (ha, hb) = (Ns::new(&format!("{tag}a")), Ns::new(&format!("{tag}b")));
    ha.ip(&[
        "link", "add", "ul0", "type", "veth", "peer", "name", "ul0", "netns", &hb.0,
    ]);
    for (h, i) in [(&ha, 1), (&hb, 2)] {
        h.ip(&["addr", "add", &format!("10.96.0.{i}/24"), "dev", "ul0"]);
        h.ip(&["link", "set", "ul0", "up"]);
    }
    (ha, hb)
}

/// Kernel VXLAN + bridge on each of two hosts.
fn kernel_vxlan_pair() -> Pair {
    let (ha, hb) = underlay("k");
    let (a, b) = (Ns::new("ka2"), Ns::new("kb2"));
    for (h, c, me, peer, ip) in [
        (&ha, &a, "10.96.0.1", "10.96.0.2", "10.97.0.2"),
        (&hb, &b, "10.96.0.2", "10.96.0.1", "10.97.0.3"),
    ] {
        h.ip(&["link", "add", "br0", "type", "bridge"]);
        h.ip(&["link", "set", "br0", "up"]);
        h.ip(&[
            "link", "add", "vx0", "type", "vxlan", "id", "42", "local", me, "remote", peer,
            "dstport", "4789", "dev", "ul0",
        ]);
        h.ip(&["link", "set", "vx0", "master", "br0", "up"]);
        h.ip(&[
            "link", "add", "v0", "type", "veth", "peer", "name", "eth0", "netns", &c.0,
        ]);
        h.ip(&["link", "set", "v0", "master", "br0", "up"]);
        c.ip(&["addr", "add", &format!("{ip}/24"), "dev", "eth0"]);
        c.ip(&["link", "set", "eth0", "mtu", "1450", "up"]);
    }
    Pair {
        a,
        b,
        b_ip: "10.97.0.3".into(),
        _keep: vec![Box::new(ha), Box::new(hb)],
    }
}

/// The eBPF datapath on each of two hosts.
async fn ebpf_vxlan_pair() -> (Pair, Vec<EbpfDatapath>) {
    let (ha, hb) = underlay("x");
    let (fa, fb) = (Bpffs::new(), Bpffs::new());
    let (a, b) = (Ns::new("xa2"), Ns::new("xb2"));
    let n = net("t:n", 1, 9300, "10.98.0.0/24");
    let ea = ep("a", &n, Ipv4Addr::new(10, 98, 0, 2), 0, &a, 1450);
    let eb = ep("b", &n, Ipv4Addr::new(10, 98, 0, 3), 0, &b, 1450);
    let remote = |e: &LocalEndpoint, vtep: &str| RemoteEndpoint {
        id: e.id.clone(),
        network: e.network.clone(),
        epg: 0,
        ipv4: e.ipv4.map(|x| x.addr()),
        ipv6: None,
        mac: e.mac,
        vtep: vtep.parse().unwrap(),
    };
    let mut dps = Vec::new();
    for (h, f, local, other, peer) in [
        (&ha, &fa, &ea, &eb, "10.96.0.2"),
        (&hb, &fb, &eb, &ea, "10.96.0.1"),
    ] {
        let dp = ebpf_host(h, f).await;
        dp.apply(vec![
            DpOp::AddNetwork(n.clone()),
            DpOp::AddPeer(VtepPeer {
                host: "peer".into(),
                ip: peer.parse().unwrap(),
            }),
            DpOp::AddLocalEndpoint(local.clone()),
            DpOp::AddRemoteEndpoint(remote(other, peer)),
        ])
        .await
        .unwrap();
        dps.push(dp);
    }
    (
        Pair {
            a,
            b,
            b_ip: "10.98.0.3".into(),
            _keep: vec![Box::new(fa), Box::new(fb), Box::new(ha), Box::new(hb)],
        },
        dps,
    )
}

/// 100 000 rules: 1 000 groups (3..=1002) × 100 rules, and the server's
/// group 2 with 99 rules that do not match iperf before its allow.
fn hundred_k_rules() -> PolicyDelta {
    let rule = |id: u64, epg: u32, port: u16, priority: u8, action: Action| IrRule {
        id: RuleId(id),
        tenant: 1,
        epg,
        direction: Direction::In,
        peer: PeerMatch::Any,
        local: None,
        proto: Some(6),
        ports: Some(PortRange::single(port)),
        priority,
        action,
        origin: RuleOrigin {
            policy: "t:p".into(),
            rule: id.to_string(),
            epg: format!("t:g{epg}"),
        },
    };
    let mut rules = Vec::with_capacity(100_000);
    let mut id = 1;
    for g in 0..1000u32 {
        let epg = if g == 0 { 2 } else { 2 + g };
        for r in 0..100u16 {
            let (port, prio, action) = if r == 99 {
                (5201, 1, Action::Allow)
            } else {
                (20000 + r, 50, Action::Deny)
            };
            rules.push(rule(id, epg, port, prio, action));
            id += 1;
        }
    }
    PolicyDelta {
        rules_added: rules,
        ..PolicyDelta::default()
    }
}

fn median(v: &mut [f64]) -> f64 {
    v.sort_by(|a, b| a.total_cmp(b));
    let n = v.len();
    if n % 2 == 1 {
        v[n / 2]
    } else {
        (v[n / 2 - 1] + v[n / 2]) / 2.0
    }
}

fn main() {
    let nums: Vec<u32> = std::env::args()
        .skip(1)
        .filter(|a| !a.starts_with('-'))
        .filter_map(|a| a.parse().ok())
        .collect();
    let secs = nums.first().copied().unwrap_or(10);
    let rounds = nums.get(1).copied().unwrap_or(2);
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .unwrap();
    let load = std::fs::read_to_string("/proc/loadavg").unwrap_or_default();
    println!(
        "throughput: iperf3 {secs}s per run, {rounds} rounds; load average {}",
        load.trim()
    );

    let bridge = bridge_pair();
    let (ebpf, _ebpf_dp, _n) = rt.block_on(ebpf_pair("e"));
    // A second eBPF host with 100 000 rules, measured in the same rounds.
    let (rules, ebpf_dp, _n2) = rt.block_on(ebpf_pair("r"));
    println!("installing 100 000 rules (1 000 groups x 100) on the second eBPF host");
    let t = std::time::Instant::now();
    rt.block_on(ebpf_dp.apply(vec![DpOp::Policy(hundred_k_rules())]))
        .unwrap();
    println!("  installed in {:?}", t.elapsed());
    let (ovs, _ovs_dp) = rt.block_on(ovs_pair());
    let kvx = kernel_vxlan_pair();
    let (evx, _evx_dp) = rt.block_on(ebpf_vxlan_pair());
    // First contact (ARP, tunnels) before measuring.
    for p in [&bridge, &ebpf, &rules, &ovs, &kvx, &evx] {
        let _ = Command::new("ip")
            .args([
                "netns", "exec", &p.a.0, "ping", "-c", "2", "-W", "2", &p.b_ip,
            ])
            .output();
    }
    let mut results: BTreeMap<String, Vec<f64>> = BTreeMap::new();
    let mut record = |name: &str, gbps: f64| {
        println!("  {name:<44} {gbps:7.2} Gbit/s");
        results.entry(name.to_owned()).or_default().push(gbps);
    };
    for r in 0..rounds {
        println!("round {r}");
        for streams in [1, 4] {
            for (name, p) in [
                ("one host: Linux bridge + veth", &bridge),
                ("one host: eBPF", &ebpf),
                ("one host: eBPF, 100k rules", &rules),
                ("one host: OVS userspace", &ovs),
                ("two hosts: kernel vxlan + bridge", &kvx),
                ("two hosts: eBPF (VXLAN-GBP)", &evx),
            ] {
                let g = iperf(&p.a, &p.b, &p.b_ip, secs, streams);
                record(&format!("{name}, {streams} stream(s)"), g);
            }
        }
    }
    // The classifier's time for a new connection that scans the server
    // group's 100 rules (to a denied port: no conntrack entry, so every
    // repetition scans), and for a packet of a tracked connection.
    let syn = |dport: u16, flags: u8| {
        let mut f = Vec::new();
        f.extend_from_slice(&MacAddr::from_ipv4(Ipv4Addr::new(10, 94, 0, 3)).0);
        f.extend_from_slice(&MacAddr::from_ipv4(Ipv4Addr::new(10, 94, 0, 2)).0);
        f.extend_from_slice(&[0x08, 0x00, 0x45, 0, 0, 40, 0, 0, 0x40, 0, 64, 6, 0, 0]);
        f.extend_from_slice(&[10, 94, 0, 2, 10, 94, 0, 3]);
        f.extend_from_slice(&40000u16.to_be_bytes());
        f.extend_from_slice(&dport.to_be_bytes());
        f.extend_from_slice(&[0, 0, 0, 0, 0, 0, 0, 0, 0x50, flags, 0xfa, 0xf0, 0, 0, 0, 0]);
        f
    };
    let (run, scan) = rt
        .block_on(ebpf_dp.time_packet("a", &syn(20098, 0x02), 100_000))
        .unwrap();
    assert!(!run.forwarded(), "the probe to a denied port is dropped");
    rt.block_on(ebpf_dp.track(
        1,
        6,
        IpAddr::from([10, 94, 0, 2]),
        40000,
        IpAddr::from([10, 94, 0, 3]),
        5201,
    ))
    .unwrap();
    let (run, est) = rt
        .block_on(ebpf_dp.time_packet("a", &syn(5201, 0x10), 100_000))
        .unwrap();
    assert!(run.forwarded());
    println!();
    println!("| path | 1 stream | 4 streams |");
    println!("|---|---|---|");
    let names: Vec<String> = results
        .keys()
        .filter_map(|k| k.strip_suffix(", 1 stream(s)").map(str::to_owned))
        .collect();
    let mut med = BTreeMap::new();
    for n in &names {
        let m1 = median(results.get_mut(&format!("{n}, 1 stream(s)")).unwrap());
        let m4 = median(results.get_mut(&format!("{n}, 4 stream(s)")).unwrap());
        med.insert(n.clone(), (m1, m4));
        println!("| {n} | {m1:.2} Gbit/s | {m4:.2} Gbit/s |");
    }
    let ratio = |a: &str, b: &str| {
        let (x, y) = (med[a], med[b]);
        (x.0 / y.0, x.1 / y.1)
    };
    let r = ratio("one host: eBPF", "one host: Linux bridge + veth");
    println!(
        "\neBPF / bridge (one host): {:.2} (1 stream), {:.2} (4 streams); target >= 0.95",
        r.0, r.1
    );
    let r = ratio("one host: OVS userspace", "one host: Linux bridge + veth");
    println!(
        "OVS userspace / bridge (one host): {:.2} (1 stream), {:.2} (4 streams)",
        r.0, r.1
    );
    let r = ratio(
        "two hosts: eBPF (VXLAN-GBP)",
        "two hosts: kernel vxlan + bridge",
    );
    println!(
        "eBPF / kernel vxlan + bridge (two hosts): {:.2} (1 stream), {:.2} (4 streams); target >= 0.9",
        r.0, r.1
    );
    let r = ratio("one host: eBPF, 100k rules", "one host: eBPF");
    println!(
        "eBPF with 100k rules / no rules: {:.2} (1 stream), {:.2} (4 streams); target >= 0.9",
        r.0, r.1
    );
    println!(
        "classifier time per packet (BPF_PROG_TEST_RUN, 100k runs): new connection scanning 100 rules {:?}, tracked connection {:?}",
        scan, est
    );
    let load = std::fs::read_to_string("/proc/loadavg").unwrap_or_default();
    println!("load average at the end: {}", load.trim());
}
