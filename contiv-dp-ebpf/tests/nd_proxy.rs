//! Proxy mode floods nothing when a container comes up: its IPv6
//! autoconfiguration (duplicate address detection, router solicitations,
//! MLD reports) and ARP announcements reach no other endpoint — the
//! datapath answers ARP and ND itself — while the first ping and ping6
//! between endpoints are answered; DAD for another endpoint's or the
//! gateway's address fails (the datapath defends it). Flood mode floods
//! as before, and the flood counters count it. Real containers
//! (namespaces), real kernel ND; the other endpoints' own interface
//! counters are the evidence.
#![allow(clippy::unwrap_used)]

mod support;

use contiv_core::datapath::{ArpMode, DpOp, GlobalSpec, LocalEndpoint};
use std::time::Duration;
use support::*;

/// Frames `ns`'s `eth0` received (the kernel's own counter, in the
/// container).
fn rx_packets(ns: &Netns) -> u64 {
    let out = ns.exec(&["cat", "/sys/class/net/eth0/statistics/rx_packets"]);
    String::from_utf8_lossy(&out.stdout).trim().parse().unwrap()
}

/// `ip -6 addr show dev eth0` in `ns`.
fn addrs6(ns: &Netns) -> String {
    ns.ip(&["-6", "addr", "show", "dev", "eth0"])
}

/// The line of `addr` in `ip -6 addr` output, with its flags.
fn addr_line(ns: &Netns, addr: &str) -> Option<String> {
    addrs6(ns)
        .lines()
        .find(|l| l.contains(&format!("inet6 {addr}/")))
        .map(str::to_owned)
}

/// Waits until DAD is over for every address of `ns`'s `eth0` (none is
/// tentative unless it failed).
fn settled(ns: &Netns) -> bool {
    eventually(Duration::from_secs(5), || {
        addrs6(ns)
            .lines()
            .filter(|l| l.contains("inet6"))
            .all(|l| !l.contains("tentative") || l.contains("dadfailed"))
    })
}

/// `ping -c 3 -i 0.2` from `ns` to `dst`: its output, which must show the
/// first request answered (no ARP/ND retransmission wait).
fn first_ping_answered(ns: &Netns, dst: &str) -> (bool, String) {
    let mut a = vec!["ping", "-n", "-c", "3", "-i", "0.2", "-W", "1"];
    if dst.contains(':') {
        a.push("-6");
    }
    a.push(dst);
    let out = ns.exec(&a);
    let text = String::from_utf8_lossy(&out.stdout).into_owned();
    (text.contains("icmp_seq=1 "), text)
}

/// A host whose endpoint veths have no IPv6 on their host side: that
/// side's own autoconfiguration (the host's stack, not the datapath) would
/// otherwise reach each container through its veth and blur what the
/// datapath delivered.
async fn host_without_host_side_ipv6() -> Host {
    let host = Host::new("en").await;
    let out = host
        .ns
        .exec(&["sysctl", "-qw", "net.ipv6.conf.default.disable_ipv6=1"]);
    assert!(out.status.success(), "{out:?}");
    host
}

fn drops_of(host: &Host, reason: &str) -> u64 {
    contiv_dp_ebpf::inspect::Pinned::new(&host.cfg.pin_root())
        .drops()
        .unwrap()
        .into_iter()
        .find(|d| d.0 == reason)
        .unwrap()
        .1
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_new_container_floods_nothing_in_proxy_mode() {
    let host = host_without_host_side_ipv6().await;
    let net = vxlan_net("t1:n", 1, 79, 7900);
    // Four endpoints already up, their own autoconfiguration over.
    let others_ns: Vec<Netns> = (0..4).map(|_| Netns::new("ec")).collect();
    let others: Vec<LocalEndpoint> = others_ns
        .iter()
        .enumerate()
        .map(|(i, ns)| local_ep(&format!("b{i}"), &net, 10 + i as u8, 10, ns))
        .collect();
    let mut ops = vec![DpOp::AddNetwork(net.clone())];
    ops.extend(others.iter().cloned().map(DpOp::AddLocalEndpoint));
    host.apply(ops).await;
    for ns in &others_ns {
        assert!(settled(ns), "{}", addrs6(ns));
    }
    let pinned = contiv_dp_ebpf::inspect::Pinned::new(&host.cfg.pin_root());
    let floods0 = pinned.floods().unwrap();
    let multicast0 = drops_of(&host, "multicast");
    let rx0: Vec<u64> = others_ns.iter().map(rx_packets).collect();

    // The newcomer: IPv4 and IPv6, DAD of its link-local and global
    // address, router solicitations, MLD reports.
    let new_ns = Netns::new("ec");
    let new = local_ep("new", &net, 2, 10, &new_ns);
    host.apply(vec![DpOp::AddLocalEndpoint(new.clone())]).await;
    assert!(settled(&new_ns), "{}", addrs6(&new_ns));
    let global = addr_line(&new_ns, &v6(&new)).unwrap();
    assert!(!global.contains("dadfailed"), "its own address: {global}");
    // The first router solicitation follows link-local DAD by up to 1 s.
    std::thread::sleep(Duration::from_millis(1500));
    let rx1: Vec<u64> = others_ns.iter().map(rx_packets).collect();
    assert_eq!(
        rx1, rx0,
        "no frame of the newcomer reached another endpoint"
    );
    assert_eq!(
        pinned.floods().unwrap(),
        floods0,
        "the newcomer's bring-up flooded nothing"
    );
    assert!(
        drops_of(&host, "multicast") >= multicast0 + 2,
        "its DAD probes and solicitations were dropped as multicast"
    );

    // The first ping and ping6 each way are answered.
    for (from, to) in [(&new_ns, &others[0]), (&others_ns[1], &new)] {
        for dst in [v4(to), v6(to)] {
            let (ok, out) = first_ping_answered(from, &dst);
            assert!(ok, "the first echo to {dst} is answered: {out}");
        }
    }
    // Nobody else heard any of it: the answers came from the datapath.
    assert_eq!(
        rx_packets(&others_ns[2]),
        rx0[2],
        "an uninvolved endpoint received nothing"
    );
    assert_eq!(pinned.floods().unwrap(), floods0);

    // DAD for an address that is another endpoint's, or the gateway's,
    // fails: the datapath advertises it to the newcomer. An address
    // nobody has passes DAD (no answer).
    let taken = v6(&others[3]);
    let gw = net.gateway6.unwrap().to_string();
    let free = "fd4f::99";
    for a in [&taken, &gw, &free.to_owned()] {
        new_ns.ip(&["-6", "addr", "add", &format!("{a}/64"), "dev", "eth0"]);
    }
    assert!(settled(&new_ns), "{}", addrs6(&new_ns));
    for a in [&taken, &gw] {
        let l = addr_line(&new_ns, a).unwrap();
        assert!(l.contains("dadfailed"), "{a} is defended: {l}");
    }
    let l = addr_line(&new_ns, free).unwrap();
    assert!(!l.contains("dadfailed"), "{free} is nobody's: {l}");
    assert_eq!(
        rx_packets(&others_ns[3]),
        rx0[3],
        "the owner of {taken} never saw the probe"
    );
    assert_eq!(pinned.floods().unwrap(), floods0);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn flood_mode_floods_a_new_containers_discovery_and_counts_it() {
    let host = host_without_host_side_ipv6().await;
    let net = vxlan_net("t1:n", 1, 80, 8000);
    let others_ns: Vec<Netns> = (0..2).map(|_| Netns::new("ec")).collect();
    let others: Vec<LocalEndpoint> = others_ns
        .iter()
        .enumerate()
        .map(|(i, ns)| local_ep(&format!("b{i}"), &net, 10 + i as u8, 10, ns))
        .collect();
    let mut ops = vec![
        DpOp::SetGlobal(GlobalSpec {
            arp_mode: ArpMode::Flood,
            ..GlobalSpec::default()
        }),
        DpOp::AddNetwork(net.clone()),
    ];
    ops.extend(others.iter().cloned().map(DpOp::AddLocalEndpoint));
    host.apply(ops).await;
    for ns in &others_ns {
        assert!(settled(ns), "{}", addrs6(ns));
    }
    let floods0 = host.dp().floods().await.unwrap();
    let rx0: Vec<u64> = others_ns.iter().map(rx_packets).collect();
    let new_ns = Netns::new("ec");
    let new = local_ep("new", &net, 2, 10, &new_ns);
    host.apply(vec![DpOp::AddLocalEndpoint(new.clone())]).await;
    assert!(settled(&new_ns), "{}", addrs6(&new_ns));
    let (ok, out) = first_ping_answered(&new_ns, &v4(&others[0]));
    assert!(ok, "flooded ARP is answered by the owner: {out}");
    let floods = host.dp().floods().await.unwrap();
    assert!(
        floods.frames >= floods0.frames + 2,
        "DAD and the ARP request were flooded: {floods0:?} -> {floods:?}"
    );
    // Each flooded frame went to the other endpoints (one or two, as the
    // newcomer joined; no peer hosts).
    let (frames, copies) = (
        floods.frames - floods0.frames,
        floods.copies - floods0.copies,
    );
    assert!(
        copies >= frames && copies <= 2 * frames,
        "{floods0:?} -> {floods:?}"
    );
    for (ns, before) in others_ns.iter().zip(rx0) {
        assert!(
            rx_packets(ns) >= before + 2,
            "the other endpoints received the floods"
        );
    }
    // The pinned maps tell another process the same.
    let pinned = contiv_dp_ebpf::inspect::Pinned::new(&host.cfg.pin_root());
    assert_eq!(pinned.floods().unwrap(), host.dp().floods().await.unwrap());
}
