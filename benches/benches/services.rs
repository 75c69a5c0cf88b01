//! Services and external access, side by side in one run:
//!
//! 1. **Datapath entries** of 250 / 500 / 1 000 services × 10 backends on
//!    one host (OVS pipeline: flows + select groups) — they grow linearly —
//!    and what adding one backend to one service changes (O(1)).
//! 2. **Connection setup** (connect + first byte) through the VIP beside
//!    straight to a backend, interleaved, real OVS (root).
//! 3. **Egress NAT throughput** (iperf3 to an outside namespace) through
//!    OVS + the host's masquerade beside the plain kernel path (a veth,
//!    host routing, the same masquerade, no OVS) (root).
//! 4. **eBPF**: connection setup through the VIP beside straight to a
//!    backend (as 2.), and the classifier's time per packet
//!    (`BPF_PROG_TEST_RUN`) of a tracked connection with no service
//!    installed, with one (the packet not to a VIP), and through the VIP.
//!
//! `cargo bench -p contiv-benches --bench services` (parts 2 to 4 need
//! root, OVS, iperf3, python3 and nft; `SERVICES_BENCH_QUICK=1` runs only
//! part 1, `SERVICES_BENCH_EBPF=1` only part 4). The load average is
//! printed next to every figure.

#![allow(clippy::unwrap_used, clippy::expect_used)]

use contiv_core::datapath::{
    Datapath, DesiredState, DpOp, MacAddr, PortSpec, RemoteEndpoint, ServiceProtocol, ServiceSpec,
};
use contiv_dp_ovs::pipeline::{Pipeline, PortMap};
use contiv_policy::conformance::fixture::{Container, local_ep, vxlan_net};
use std::net::{IpAddr, Ipv4Addr};
use std::time::Instant;

fn load() -> String {
    std::fs::read_to_string("/proc/loadavg")
        .unwrap_or_default()
        .split_whitespace()
        .take(3)
        .collect::<Vec<_>>()
        .join(" ")
}

fn port() -> PortSpec {
    PortSpec {
        svc_port: 80,
        prov_port: 8080,
        protocol: ServiceProtocol::Tcp,
    }
}

/// `n` services × 10 remote backends each on one network.
fn services_state(n: usize) -> DesiredState {
    let mut net = vxlan_net("default", 1, "svc", 7000, "10.0.0.0/8");
    net.gateway = Some(Ipv4Addr::new(10, 255, 255, 254));
    let vtep: IpAddr = "192.0.2.2".parse().unwrap();
    let mut d = DesiredState {
        networks: vec![net.clone()],
        peers: vec![contiv_core::datapath::VtepPeer {
            host: "h2".into(),
            ip: vtep,
        }],
        ..DesiredState::default()
    };
    for s in 0..n {
        let mut backends = Vec::new();
        for b in 0..10 {
            let i = (s * 10 + b + 1) as u32;
            let ip = Ipv4Addr::from(0x0a00_0000 | i);
            let id = format!("b{i}");
            d.remote_endpoints.push(RemoteEndpoint {
                id: id.clone(),
                network: net.key.clone(),
                epg: 0,
                ipv4: Some(ip),
                ipv6: None,
                mac: MacAddr::from_ipv4(ip),
                vtep,
            });
            backends.push(id);
        }
        d.services.push(ServiceSpec {
            key: format!("default:s{s}"),
            network: net.key.clone(),
            vip: Ipv4Addr::from(0x0a80_0000 | s as u32),
            ports: vec![port()],
            backends,
        });
    }
    d
}

fn part1() {
    println!("== 1. datapath entries: services x 10 backends on one host (OVS pipeline)");
    println!("| services | flows | groups | entries | entries/service | compile | load |");
    println!("|---|---|---|---|---|---|---|");
    let mut base = None;
    for n in [0usize, 250, 500, 1000] {
        let d = services_state(n);
        let ports = PortMap {
            peers: [(d.peers[0].ip, 5)].into(),
            ..PortMap::default()
        };
        let t = Instant::now();
        let mut p = Pipeline::from_desired(&d, &ports);
        p.flush();
        p.take_group_changes();
        let took = t.elapsed();
        let entries = p.flow_count() + p.groups().len();
        let b = *base.get_or_insert(entries);
        println!(
            "| {n} | {} | {} | {entries} | {} | {took:.1?} | {} |",
            p.flow_count(),
            p.groups().len(),
            if n == 0 {
                "-".into()
            } else {
                format!("{:.1}", (entries - b) as f64 / n as f64)
            },
            load()
        );
        if n == 1000 {
            // One more backend for service 500.
            let ip = Ipv4Addr::new(10, 64, 0, 1);
            let ep = RemoteEndpoint {
                id: "extra".into(),
                network: d.networks[0].key.clone(),
                epg: 0,
                ipv4: Some(ip),
                ipv6: None,
                mac: MacAddr::from_ipv4(ip),
                vtep: d.peers[0].ip,
            };
            p.upsert_remote(ep);
            let c1 = p.flush().len();
            let mut sv = d.services[500].clone();
            sv.backends.push("extra".into());
            p.upsert_service(sv);
            let flows = p.flush().len();
            let g = p.take_group_changes();
            println!(
                "\nadding one backend to one of 1000 services: {flows} flow changes + {} group change(s) (its endpoint: {c1} flows)",
                g.upserts.len() + g.deletes.len()
            );
        }
    }
}

fn median(v: &mut [f64]) -> f64 {
    v.sort_by(|a, b| a.partial_cmp(b).unwrap());
    v[v.len() / 2]
}

/// A client and three backends (`<prefix>.2`, `<prefix>.10`–`.12`) for
/// the service `<prefix>.100`:80 → 8080.
struct Lb {
    client: Container,
    backends: [Container; 3],
    prefix: String,
}

impl Lb {
    async fn new(prefix: &str) -> Lb {
        Lb {
            client: Container::new(true).await,
            backends: [
                Container::new(true).await,
                Container::new(true).await,
                Container::new(true).await,
            ],
            prefix: prefix.to_owned(),
        }
    }

    /// The network and the four endpoints.
    fn ops(&self, net: &contiv_core::datapath::NetworkSpec) -> Vec<DpOp> {
        let p = &self.prefix;
        let mut ops = vec![
            DpOp::AddNetwork(net.clone()),
            DpOp::AddLocalEndpoint(local_ep("client", net, &format!("{p}.2"), 0, &self.client)),
        ];
        for (i, b) in self.backends.iter().enumerate() {
            ops.push(DpOp::AddLocalEndpoint(local_ep(
                &format!("b{i}"),
                net,
                &format!("{p}.1{i}"),
                0,
                b,
            )));
        }
        ops
    }

    fn service(&self, net: &contiv_core::datapath::NetworkSpec) -> ServiceSpec {
        ServiceSpec {
            key: "default:web".into(),
            network: net.key.clone(),
            vip: format!("{}.100", self.prefix).parse().unwrap(),
            ports: vec![port()],
            backends: vec!["b0".into(), "b1".into(), "b2".into()],
        }
    }

    /// Serves on the backends and prints connection setup through the VIP
    /// beside straight to b0, two runs of 300 each.
    async fn connect_table(&self, title: &str) {
        let mut srv = Vec::new();
        for (i, b) in self.backends.iter().enumerate() {
            srv.push(b.serve(8080, Some(&format!("b{i}"))).await);
        }
        let (vip, direct) = (
            format!("{}.100", self.prefix),
            format!("{}.10", self.prefix),
        );
        assert!(self.client.ping_eventually(&direct, 10).await);
        let _ = self.client.tally(&vip, 80, 5).await;
        println!("\n== {title} (connect + first byte), VIP vs straight to a backend, interleaved");
        println!("| run | via VIP median | direct median | ratio | load |");
        println!("|---|---|---|---|---|");
        for run in 1..=2 {
            let (mut v, mut d) = connect_times(&self.client, &vip, &direct, 300).await;
            let (mv, md) = (median(&mut v), median(&mut d));
            println!(
                "| {run} | {mv:.0} µs | {md:.0} µs | {:.2} | {} |",
                mv / md,
                load()
            );
        }
    }
}

/// Connect + first byte, `n` times each to `a` and `b`, interleaved; the
/// times in microseconds.
async fn connect_times(c: &Container, a: &str, b: &str, n: usize) -> (Vec<f64>, Vec<f64>) {
    let prog = format!(
        "import socket,time\n\
         ta=[];tb=[]\n\
         for i in range({n}):\n\
         \x20for (ip,port,t) in (('{a}',80,ta),('{b}',8080,tb)):\n\
         \x20\x20t0=time.perf_counter()\n\
         \x20\x20s=socket.create_connection((ip,port),timeout=2)\n\
         \x20\x20s.recv(64)\n\
         \x20\x20t.append((time.perf_counter()-t0)*1e6)\n\
         \x20\x20s.close()\n\
         print(' '.join('%.1f'%x for x in ta))\n\
         print(' '.join('%.1f'%x for x in tb))\n"
    );
    let out = c.exec(&["python3", "-c", &prog]).await;
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let text = String::from_utf8_lossy(&out.stdout).into_owned();
    let mut lines = text.lines().map(|l| {
        l.split_whitespace()
            .map(|x| x.parse::<f64>().unwrap())
            .collect::<Vec<_>>()
    });
    (lines.next().unwrap(), lines.next().unwrap())
}

async fn iperf(c: &Container, to: &str) -> f64 {
    let out = c
        .exec(&["iperf3", "-c", to, "-t", "4", "-O", "1", "-J"])
        .await;
    let text = String::from_utf8_lossy(&out.stdout).into_owned();
    let at = text.find("\"sum_received\"").expect("iperf3 report");
    let rest = &text[at..];
    let k = rest.find("\"bits_per_second\":").unwrap();
    let num: String = rest[k + 18..]
        .trim_start()
        .chars()
        .take_while(|c| c.is_ascii_digit() || *c == '.' || *c == 'e' || *c == '+')
        .collect();
    num.parse::<f64>().unwrap() / 1e6
}

fn sh(args: &[&str]) {
    let s = std::process::Command::new(args[0])
        .args(&args[1..])
        .status()
        .unwrap();
    assert!(s.success(), "{args:?}");
}

async fn parts23() {
    use contiv_core::linux::Netns;
    use contiv_core::linux::netns::{create_named_netns, delete_named_netns};
    use contiv_dp_ovs::datapath::{OvsConfig, OvsDatapath};
    use contiv_dp_ovs::testing::{Netns as FixtureNetns, OvsInstance, OvsOptions};
    let hname = format!("bsv{}", std::process::id());
    create_named_netns(&hname).unwrap();
    struct Gone(String);
    impl Drop for Gone {
        fn drop(&mut self) {
            let _ = delete_named_netns(&self.0);
        }
    }
    let _gone = Gone(hname.clone());
    sh(&["ip", "-n", &hname, "link", "set", "lo", "up"]);
    let ovs = OvsInstance::start_with(OvsOptions {
        netns: FixtureNetns::Existing(hname.clone()),
    })
    .expect("start OVS");
    let mut cfg = OvsConfig::new(ovs.rundir());
    cfg.switch_netns = Netns::named(&hname);
    let dp = OvsDatapath::connect(cfg).await.expect("connect OVS");
    let mut net = vxlan_net("default", 1, "svc", 7001, "10.1.0.0/24");
    net.gateway = "10.1.0.254".parse().ok();
    net.external = true;
    let lb = Lb::new("10.1.0").await;
    let mut ops = lb.ops(&net);
    ops.push(DpOp::AddService(lb.service(&net)));
    dp.apply(ops).await.expect("apply");
    lb.connect_table("2. connection setup").await;
    let c = &lb.client;

    // 3. Egress NAT: the outside, and a plain-kernel client beside.
    let outside = Container::new(true).await;
    let plain = Container::new(true).await;
    sh(&[
        "ip",
        "link",
        "add",
        "bsvout",
        "netns",
        &hname,
        "type",
        "veth",
        "peer",
        "name",
        "eth0",
        "netns",
        outside.name(),
    ]);
    sh(&[
        "ip",
        "-n",
        &hname,
        "addr",
        "add",
        "198.51.100.1/24",
        "dev",
        "bsvout",
    ]);
    sh(&["ip", "-n", &hname, "link", "set", "bsvout", "up"]);
    outside
        .ip(&["addr", "add", "198.51.100.2/24", "dev", "eth0"])
        .await;
    outside.ip(&["link", "set", "eth0", "up"]).await;
    sh(&[
        "ip",
        "link",
        "add",
        "bsvplain",
        "netns",
        &hname,
        "type",
        "veth",
        "peer",
        "name",
        "eth0",
        "netns",
        plain.name(),
    ]);
    sh(&[
        "ip",
        "-n",
        &hname,
        "addr",
        "add",
        "10.99.0.1/24",
        "dev",
        "bsvplain",
    ]);
    sh(&["ip", "-n", &hname, "link", "set", "bsvplain", "up"]);
    plain
        .ip(&["addr", "add", "10.99.0.2/24", "dev", "eth0"])
        .await;
    plain.ip(&["link", "set", "eth0", "up"]).await;
    plain
        .ip(&["route", "add", "default", "via", "10.99.0.1"])
        .await;
    // The plain path's masquerade (its own table in the bench's host).
    let rules = contiv_core::linux::netfilter::NatRules {
        table: "bench_plain".into(),
        host_ifname: "bsvplain".into(),
        masquerade: vec!["10.99.0.0/24".parse().unwrap()],
        dnat: vec![],
    };
    contiv_core::linux::netfilter::ensure(&Netns::named(&hname), &rules)
        .await
        .unwrap();
    let _srv = tokio::process::Command::new("ip")
        .args(["netns", "exec", outside.name(), "iperf3", "-s"])
        .stdout(std::process::Stdio::null())
        .kill_on_drop(true)
        .spawn()
        .unwrap();
    tokio::time::sleep(std::time::Duration::from_millis(300)).await;
    assert!(c.ping_eventually("198.51.100.2", 10).await);
    println!("\n== 3. egress NAT throughput to the outside (iperf3, 4 s)");
    println!(
        "| run | OVS + host masquerade | plain kernel (veth + routing + masquerade) | ratio | load |"
    );
    println!("|---|---|---|---|---|");
    for run in 1..=2 {
        let o = iperf(c, "198.51.100.2").await;
        let p = iperf(&plain, "198.51.100.2").await;
        println!(
            "| {run} | {o:.0} Mbit/s | {p:.0} Mbit/s | {:.2} | {} |",
            o / p,
            load()
        );
    }
    drop(dp);
}

/// A frame from `src` (its MAC) to `dst`:`dport` from port `sport`, TCP
/// with `flags` (checksums zero: the classifier does not check them).
fn tcp_frame(
    src: Ipv4Addr,
    dst: Ipv4Addr,
    dmac: MacAddr,
    sport: u16,
    dport: u16,
    flags: u8,
) -> Vec<u8> {
    let mut f = Vec::new();
    f.extend_from_slice(&dmac.0);
    f.extend_from_slice(&MacAddr::from_ipv4(src).0);
    f.extend_from_slice(&[0x08, 0x00, 0x45, 0, 0, 40, 0, 0, 0x40, 0, 64, 6, 0, 0]);
    f.extend_from_slice(&src.octets());
    f.extend_from_slice(&dst.octets());
    f.extend_from_slice(&sport.to_be_bytes());
    f.extend_from_slice(&dport.to_be_bytes());
    f.extend_from_slice(&[0, 0, 0, 0, 0, 0, 0, 0, 0x50, flags, 0xfa, 0xf0, 0, 0, 0, 0]);
    f
}

async fn part_ebpf() {
    use contiv_core::linux::netns::{create_named_netns, delete_named_netns};
    use contiv_dp_ebpf::{EbpfConfig, EbpfDatapath};
    let hname = format!("bse{}", std::process::id());
    create_named_netns(&hname).unwrap();
    struct Gone(String, tempfile::TempDir);
    impl Drop for Gone {
        fn drop(&mut self) {
            let _ = contiv_dp_ebpf::kernel::bpffs::unmount(self.1.path());
            let _ = delete_named_netns(&self.0);
        }
    }
    let bpffs = tempfile::tempdir().unwrap();
    contiv_dp_ebpf::kernel::bpffs::mount(bpffs.path()).unwrap();
    let mut cfg = EbpfConfig::new();
    cfg.bpffs = bpffs.path().to_owned();
    cfg.netns = Some(format!("/var/run/netns/{hname}").into());
    cfg.gc_interval = std::time::Duration::ZERO;
    let _gone = Gone(hname.clone(), bpffs);
    sh(&["ip", "-n", &hname, "link", "set", "lo", "up"]);
    let dp = EbpfDatapath::connect(cfg).await.expect("connect eBPF");
    let net = vxlan_net("default", 1, "svc", 7002, "10.2.0.0/24");
    let lb = Lb::new("10.2.0").await;
    dp.apply(lb.ops(&net)).await.expect("apply");
    let svc = lb.service(&net);
    // The classifier's time for a tracked packet, no service installed.
    let (client, b0, vip) = (
        Ipv4Addr::new(10, 2, 0, 2),
        Ipv4Addr::new(10, 2, 0, 10),
        Ipv4Addr::new(10, 2, 0, 100),
    );
    let direct = tcp_frame(client, b0, MacAddr::from_ipv4(b0), 41000, 8080, 0x10);
    dp.track(1, 6, client.into(), 41000, b0.into(), 8080)
        .await
        .unwrap();
    let mut t_none = Vec::new();
    for _ in 0..3 {
        let (r, t) = dp.time_packet("client", &direct, 200_000).await.unwrap();
        assert!(r.forwarded());
        t_none.push(t.as_nanos() as f64);
    }
    dp.apply(vec![DpOp::AddService(svc)])
        .await
        .expect("service");
    lb.connect_table("4. eBPF: connection setup").await;
    // Tracked packets with the service installed: not to the VIP, and
    // through it (the connection opened by a SYN first).
    let vmac = MacAddr::from_ipv4(vip);
    let syn = tcp_frame(client, vip, vmac, 42000, 80, 0x02);
    assert!(dp.run_packet("client", &syn).await.unwrap().forwarded());
    let via = tcp_frame(client, vip, vmac, 42000, 80, 0x10);
    let (mut t_other, mut t_vip) = (Vec::new(), Vec::new());
    for _ in 0..3 {
        let (r, t) = dp.time_packet("client", &direct, 200_000).await.unwrap();
        assert!(r.forwarded());
        t_other.push(t.as_nanos() as f64);
        let (r, t) = dp.time_packet("client", &via, 200_000).await.unwrap();
        assert!(r.forwarded());
        t_vip.push(t.as_nanos() as f64);
    }
    println!(
        "\nclassifier time per tracked packet (BPF_PROG_TEST_RUN, 3 × 200k runs, medians): \
         no service {:.0} ns; a service installed, packet not to it {:.0} ns; through the VIP {:.0} ns (load {})",
        median(&mut t_none),
        median(&mut t_other),
        median(&mut t_vip),
        load()
    );
    drop(dp);
}

fn main() {
    if std::env::args().any(|a| a == "--list") {
        return;
    }
    if std::env::var_os("SERVICES_BENCH_EBPF").is_some() {
        let rt = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(2)
            .enable_all()
            .build()
            .unwrap();
        rt.block_on(part_ebpf());
        return;
    }
    part1();
    if std::env::var_os("SERVICES_BENCH_QUICK").is_some() {
        return;
    }
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .unwrap();
    rt.block_on(parts23());
    rt.block_on(part_ebpf());
}
