//! IPv4 fragments of datagrams to a service VIP and of their replies
//! (`bpf/service.h`, `svc_frags`): the later fragments (no UDP header) get
//! their first fragment's translation; a later fragment to a VIP whose
//! first fragment was not seen is dropped as `fragment-unknown`, never
//! sent on to the VIP; an entry older than the reassembly time counts as
//! absent and the collector deletes it; policy judges the later fragments
//! as the first one's connection. Packet by packet through the loaded
//! classifier (`BPF_PROG_TEST_RUN`: addresses, IP checksums, the
//! reassembled UDP checksum), then with real sockets: a 4,000-byte datagram over an MTU
//! of 1,500 reaches the chosen backend whole and its 4,000-byte answer
//! reaches the client whole from the VIP; a lone fragment crafted on a
//! packet socket is dropped and counted.
#![allow(clippy::unwrap_used)]

mod support;

use aya::maps::{HashMap as BpfHash, MapData};
use contiv_core::datapath::{DpOp, LocalEndpoint, MacAddr, ServiceProtocol, ServiceSpec};
use contiv_core::ir::{Direction, IrRule, Membership, PolicyDelta, RuleId};
use contiv_dp_ebpf::abi::IpKey;
use contiv_dp_ebpf::service::{FRAG_TIMEOUT, FragEntry, FragKey};
use std::net::{Ipv4Addr, SocketAddr, UdpSocket};
use std::path::Path;
use std::time::Duration;
use support::frames::{fold, sum16};
use support::*;

const SVC_PORT: u16 = 5000;
const BACKEND_PORT: u16 = 8080;

fn ip4(f: &[u8], o: usize) -> Ipv4Addr {
    Ipv4Addr::new(f[o], f[o + 1], f[o + 2], f[o + 3])
}

/// A UDP datagram (header + `len` bytes of a pattern) src → dst with its
/// checksum.
fn udp_datagram(src: Ipv4Addr, sport: u16, dst: Ipv4Addr, dport: u16, len: usize) -> Vec<u8> {
    let mut d = vec![0u8; 8 + len];
    d[0..2].copy_from_slice(&sport.to_be_bytes());
    d[2..4].copy_from_slice(&dport.to_be_bytes());
    d[4..6].copy_from_slice(&((8 + len) as u16).to_be_bytes());
    for (i, b) in d[8..].iter_mut().enumerate() {
        *b = (i % 251) as u8;
    }
    let c = fold(udp_sum(src, dst, &d));
    d[6..8].copy_from_slice(&c.to_be_bytes());
    d
}

fn udp_sum(src: Ipv4Addr, dst: Ipv4Addr, d: &[u8]) -> u32 {
    let mut acc = sum16(&src.octets(), 0);
    acc = sum16(&dst.octets(), acc);
    acc += 17 + d.len() as u32;
    sum16(d, acc)
}

/// The Ethernet frames of `datagram` (UDP) fragmented with IP id `id`
/// into pieces of at most `mtu` bytes of IP packet.
#[allow(clippy::too_many_arguments)]
fn fragments(
    smac: MacAddr,
    dmac: MacAddr,
    src: Ipv4Addr,
    dst: Ipv4Addr,
    id: u16,
    datagram: &[u8],
    mtu: usize,
) -> Vec<Vec<u8>> {
    let chunk = (mtu - 20) / 8 * 8;
    let pieces: Vec<&[u8]> = datagram.chunks(chunk).collect();
    let n = pieces.len();
    pieces
        .iter()
        .enumerate()
        .map(|(i, p)| frame_of(smac, dmac, src, dst, id, i * chunk / 8, i + 1 < n, p))
        .collect()
}

/// One IPv4 UDP fragment (offset in 8-byte units) in an Ethernet frame,
/// IP checksum filled in.
#[allow(clippy::too_many_arguments)]
fn frame_of(
    smac: MacAddr,
    dmac: MacAddr,
    src: Ipv4Addr,
    dst: Ipv4Addr,
    id: u16,
    offset: usize,
    more: bool,
    body: &[u8],
) -> Vec<u8> {
    let mut f = Vec::with_capacity(34 + body.len());
    f.extend_from_slice(&dmac.0);
    f.extend_from_slice(&smac.0);
    f.extend_from_slice(&0x0800u16.to_be_bytes());
    let mut h = [0u8; 20];
    h[0] = 0x45;
    h[2..4].copy_from_slice(&((20 + body.len()) as u16).to_be_bytes());
    h[4..6].copy_from_slice(&id.to_be_bytes());
    let fo = (offset as u16) | if more { 0x2000 } else { 0 };
    h[6..8].copy_from_slice(&fo.to_be_bytes());
    h[8] = 64;
    h[9] = 17;
    h[12..16].copy_from_slice(&src.octets());
    h[16..20].copy_from_slice(&dst.octets());
    let c = fold(sum16(&h, 0));
    h[10..12].copy_from_slice(&c.to_be_bytes());
    f.extend_from_slice(&h);
    f.extend_from_slice(body);
    f
}

fn ip_checksum_ok(f: &[u8]) -> bool {
    fold(sum16(&f[14..34], 0)) == 0
}

/// The fragments' payloads joined (in order), as the receiver reassembles
/// them.
fn reassemble(frames: &[Vec<u8>]) -> Vec<u8> {
    frames.iter().flat_map(|f| f[34..].to_vec()).collect()
}

/// Rule `id`: group `epg` denies UDP `port` in, from anyone.
fn deny_udp_in(id: u64, epg: u32, port: u16) -> IrRule {
    IrRule {
        proto: Some(17),
        ..deny_tcp(id, epg, Direction::In, port)
    }
}

fn addr(ep: &LocalEndpoint) -> Ipv4Addr {
    ep.ipv4.unwrap().addr()
}

fn echo_service(net: &str, vip: Ipv4Addr, backends: &[&str]) -> ServiceSpec {
    service(
        "t1:echo",
        net,
        vip,
        (SVC_PORT, BACKEND_PORT),
        ServiceProtocol::Udp,
        backends,
    )
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn fragments_packet_by_packet() {
    let host = Host::new("fp").await;
    let net = vxlan_net("t1:n", 1, 73, 7300);
    let (_ctrs, [c, b1, b2]) = client_and_two_backends(&host, &net, "fc").await;
    let dp = host.dp();
    let sizes0 = dp.map_sizes().await.unwrap();
    let vip: Ipv4Addr = "10.73.0.100".parse().unwrap();
    let vmac = MacAddr::from_ipv4(vip);
    host.apply(vec![DpOp::AddService(echo_service(
        &net.key,
        vip,
        &["b1", "b2"],
    ))])
    .await;

    // A later fragment whose first one never came: dropped, counted, and
    // charged to the sender.
    let lone = frame_of(c.mac, vmac, addr(&c), vip, 7, 185, true, &[0xab; 64]);
    let run = dp.run_packet("c", &lone).await.unwrap();
    assert!(!run.forwarded(), "a lone fragment to the VIP: {run:?}");
    let n = dp.counters().await.unwrap();
    assert_eq!(n.drops_of("fragment-unknown"), 1, "{n:?}");
    assert_eq!(n.drops_of("no-route"), 0, "{n:?}");

    // A 4,000-byte datagram in three fragments: every one goes to the
    // same backend, addresses and IP checksums right; the reassembled
    // datagram has the backend's port and a right UDP checksum.
    let d = udp_datagram(addr(&c), 40000, vip, SVC_PORT, 4000);
    let frags = fragments(c.mac, vmac, addr(&c), vip, 8, &d, 1500);
    assert_eq!(frags.len(), 3);
    let mut out = Vec::new();
    for f in &frags {
        let run = dp.run_packet("c", f).await.unwrap();
        assert!(run.forwarded(), "{run:?}");
        assert!(ip_checksum_ok(&run.frame), "IP checksum after DNAT");
        out.push(run.frame);
    }
    let x = if ip4(&out[0], 30) == addr(&b1) {
        &b1
    } else {
        &b2
    };
    for f in &out {
        assert_eq!((ip4(f, 26), ip4(f, 30)), (addr(&c), addr(x)));
        assert_eq!(&f[0..6], &x.mac.0, "to the backend's MAC");
    }
    let got = reassemble(&out);
    assert_eq!(got.len(), d.len());
    assert_eq!(u16::from_be_bytes([got[2], got[3]]), BACKEND_PORT);
    assert_eq!(fold(udp_sum(addr(&c), addr(x), &got)), 0, "UDP checksum");
    assert_eq!(got[8..], d[8..], "payload unchanged");

    // The backend's fragmented answer: from the VIP:port, every fragment.
    let r = udp_datagram(addr(x), BACKEND_PORT, addr(&c), 40000, 4000);
    let frags = fragments(x.mac, c.mac, addr(x), addr(&c), 9, &r, 1500);
    let mut out = Vec::new();
    for f in &frags {
        let run = dp.run_packet(&x.id, f).await.unwrap();
        assert!(run.forwarded(), "{run:?}");
        assert!(ip_checksum_ok(&run.frame), "IP checksum after reverse NAT");
        assert_eq!((ip4(&run.frame, 26), ip4(&run.frame, 30)), (vip, addr(&c)));
        out.push(run.frame);
    }
    let got = reassemble(&out);
    assert_eq!(u16::from_be_bytes([got[0], got[1]]), SVC_PORT);
    assert_eq!(fold(udp_sum(vip, addr(&c), &got)), 0, "UDP checksum");

    // A later fragment from the backend of a datagram never seen is no
    // service's: it passes as it is (only the client can tell).
    let other = frame_of(x.mac, c.mac, addr(x), addr(&c), 10, 185, false, &[1; 16]);
    let run = dp.run_packet(&x.id, &other).await.unwrap();
    assert!(run.forwarded(), "{run:?}");
    assert_eq!(ip4(&run.frame, 26), addr(x));
    assert_eq!(dp.counters().await.unwrap().drops_of("fragment-unknown"), 1);

    // An entry older than the reassembly time counts as absent (a later
    // fragment of its datagram is dropped), and the collector deletes it.
    let dir = contiv_dp_ebpf::kernel::load::maps_dir(dp.pin_root());
    let mut pinned: BpfHash<MapData, FragKey, FragEntry> =
        contiv_dp_ebpf::kernel::maps::open(&dir, "svc_frags").unwrap();
    let id8 = u16::from_ne_bytes(8u16.to_be_bytes());
    let (k, mut e) = pinned
        .iter()
        .filter_map(Result::ok)
        .find(|(k, _)| k.id == id8 && k.dst == IpKey::of(vip.into()))
        .expect("the entry of datagram 8");
    e.created_ns -= FRAG_TIMEOUT.as_nanos() as u64 + 1_000_000_000;
    pinned.insert(k, e, 0).unwrap();
    let again = fragments(c.mac, vmac, addr(&c), vip, 8, &d, 1500);
    let run = dp.run_packet("c", &again[1]).await.unwrap();
    assert!(!run.forwarded(), "an expired entry translates nothing");
    assert_eq!(dp.counters().await.unwrap().drops_of("fragment-unknown"), 2);
    let before = pinned.keys().count();
    assert!(dp.gc().await.unwrap() >= 1);
    assert_eq!(pinned.keys().count(), before - 1, "the old entry went");
    assert!(pinned.get(&k, 0).is_err());

    // Policy is still judged on the backend: the backends' group denies
    // UDP 8080 in; a new datagram's first fragment is denied and so are its
    // later ones (they carry the first one's connection), none is taken
    // for an unknown fragment.
    let members: Vec<Membership> = [&b1, &b2]
        .iter()
        .map(|b| Membership {
            tenant: 1,
            ip: addr(b).into(),
            epg: 20,
        })
        .collect();
    host.apply(vec![DpOp::Policy(PolicyDelta {
        members_added: members.clone(),
        rules_added: vec![deny_udp_in(1, 20, BACKEND_PORT)],
        ..PolicyDelta::default()
    })])
    .await;
    let d = udp_datagram(addr(&c), 40001, vip, SVC_PORT, 4000);
    for f in fragments(c.mac, vmac, addr(&c), vip, 11, &d, 1500) {
        let run = dp.run_packet("c", &f).await.unwrap();
        assert!(!run.forwarded(), "denied by the backend's in rule");
    }
    let n = dp.counters().await.unwrap();
    assert_eq!(n.drops_of("policy"), 3, "{n:?}");
    assert_eq!(n.drops_of("fragment-unknown"), 2, "{n:?}");
    host.apply(vec![DpOp::Policy(PolicyDelta {
        members_removed: members,
        rules_removed: vec![RuleId(1)],
        ..PolicyDelta::default()
    })])
    .await;

    // Entries are per datagram and go with the connections.
    let sizes = dp.map_sizes().await.unwrap();
    let frag_entries = sizes.iter().find(|(m, _)| *m == "svc_frags").unwrap().1;
    assert_eq!(
        frag_entries, 2,
        "one per fragmented datagram translated (one collected)"
    );
    host.apply(vec![DpOp::RemoveService("t1:echo".into())])
        .await;
    dp.flush_conntrack().await.unwrap();
    // (the removed rule's list entry is retired after a grace period)
    let settled = |v: Vec<(&'static str, usize)>| -> Vec<(&'static str, usize)> {
        v.into_iter().filter(|(m, _)| *m != "rules").collect()
    };
    assert_eq!(
        settled(dp.map_sizes().await.unwrap()),
        settled(sizes0),
        "map entries"
    );
}

/// A UDP socket bound to `bind` inside the namespace at `ns` (it stays
/// there after the thread that made it returns).
fn udp_in(ns: &Path, bind: SocketAddr) -> UdpSocket {
    let s = contiv_core::linux::netns::run_in_netns(ns, move || UdpSocket::bind(bind))
        .unwrap()
        .unwrap();
    s.set_read_timeout(Some(Duration::from_millis(200)))
        .unwrap();
    s
}

/// Sends `frame` out of `ifname` in the namespace at `ns` on a packet
/// socket (as crafted: the kernel's IP stack does not touch it).
fn send_frame(ns: &Path, ifname: &str, frame: Vec<u8>) {
    let ifname = ifname.to_owned();
    contiv_core::linux::netns::run_in_netns(ns, move || {
        let c = std::ffi::CString::new(ifname).unwrap();
        // SAFETY: plain libc calls with valid arguments; the descriptor is
        // closed before returning.
        unsafe {
            let index = libc::if_nametoindex(c.as_ptr());
            assert_ne!(index, 0, "no interface");
            let fd = libc::socket(libc::AF_PACKET, libc::SOCK_RAW | libc::SOCK_CLOEXEC, 0);
            assert!(fd >= 0, "{}", std::io::Error::last_os_error());
            let mut sll: libc::sockaddr_ll = std::mem::zeroed();
            sll.sll_family = libc::AF_PACKET as u16;
            sll.sll_ifindex = index as i32;
            sll.sll_halen = 6;
            sll.sll_addr[..6].copy_from_slice(&frame[0..6]);
            let n = libc::sendto(
                fd,
                frame.as_ptr().cast(),
                frame.len(),
                0,
                &sll as *const libc::sockaddr_ll as *const libc::sockaddr,
                std::mem::size_of::<libc::sockaddr_ll>() as u32,
            );
            let err = std::io::Error::last_os_error();
            libc::close(fd);
            assert_eq!(n, frame.len() as isize, "sendto: {err}");
        }
    })
    .unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn fragmented_datagrams_through_a_vip() {
    let host = Host::new("fr").await;
    let net = vxlan_net("t1:n", 1, 74, 7400);
    let ctrs = [Netns::new("fc"), Netns::new("fc"), Netns::new("fc")];
    let mtu = |mut e: LocalEndpoint| {
        e.mtu = 1500;
        e
    };
    let c = mtu(local_ep("c", &net, 2, 10, &ctrs[0]));
    let b1 = mtu(local_ep("b1", &net, 11, 20, &ctrs[1]));
    let b2 = mtu(local_ep("b2", &net, 12, 20, &ctrs[2]));
    let vip: Ipv4Addr = "10.74.0.100".parse().unwrap();
    host.apply(vec![
        DpOp::AddNetwork(net.clone()),
        DpOp::AddLocalEndpoint(c.clone()),
        DpOp::AddLocalEndpoint(b1.clone()),
        DpOp::AddLocalEndpoint(b2.clone()),
        DpOp::AddService(echo_service(&net.key, vip, &["b1", "b2"])),
    ])
    .await;
    let dp = host.dp();
    let any = |p: u16| SocketAddr::from((Ipv4Addr::UNSPECIFIED, p));
    let servers = [
        udp_in(&ctrs[1].path(), any(BACKEND_PORT)),
        udp_in(&ctrs[2].path(), any(BACKEND_PORT)),
    ];
    let client = udp_in(&ctrs[0].path(), any(0));
    client.connect((vip, SVC_PORT)).unwrap();
    let request: Vec<u8> = (0..4000u32).map(|i| (i % 253) as u8).collect();
    let answer: Vec<u8> = (0..4000u32).map(|i| (i % 241) as u8).collect();

    // The first datagram also makes the client resolve the VIP (the
    // datapath answers its ARP): retry a few times.
    let mut buf = vec![0u8; 9000];
    let mut served = None;
    for _ in 0..10 {
        client.send(&request).unwrap();
        for (i, s) in servers.iter().enumerate() {
            if let Ok((n, from)) = s.recv_from(&mut buf) {
                served = Some((i, n, from));
            }
        }
        if served.is_some() {
            break;
        }
    }
    let (i, n, from) = served.expect("the datagram reached a backend");
    assert_eq!(n, request.len(), "whole: reassembled by the backend");
    assert_eq!(buf[..n], request[..]);
    assert_eq!(from.ip(), std::net::IpAddr::V4(addr(&c)), "from the client");
    servers[i].send_to(&answer, from).unwrap();
    let n = client
        .recv(&mut buf)
        .expect("the answer reached the client");
    assert_eq!(n, answer.len(), "whole: reassembled by the client");
    assert_eq!(buf[..n], answer[..], "from the VIP (a connected socket)");
    let counters = dp.counters().await.unwrap();
    assert_eq!(counters.drops_of("fragment-unknown"), 0, "{counters:?}");
    let sizes = dp.map_sizes().await.unwrap();
    assert!(
        sizes.iter().any(|(m, n)| *m == "svc_frags" && *n >= 2),
        "both datagrams went fragmented: {sizes:?}"
    );

    // A lone later fragment to the VIP (crafted; its first never sent):
    // dropped and counted, nothing reaches a backend.
    let delivered = |n: &contiv_core::datapath::counters::Counters| -> u64 {
        n.endpoints
            .iter()
            .filter(|e| e.id != "c")
            .map(|e| e.rx_packets)
            .sum()
    };
    let before = delivered(&dp.counters().await.unwrap());
    let vmac = MacAddr::from_ipv4(vip);
    let lone = frame_of(c.mac, vmac, addr(&c), vip, 4242, 185, false, &[7; 100]);
    send_frame(&ctrs[0].path(), "eth0", lone);
    let mut n = dp.counters().await.unwrap();
    for _ in 0..100 {
        if n.drops_of("fragment-unknown") > 0 {
            break;
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
        n = dp.counters().await.unwrap();
    }
    assert_eq!(n.drops_of("fragment-unknown"), 1, "{n:?}");
    assert_eq!(delivered(&n), before, "nothing reached a backend: {n:?}");
}
