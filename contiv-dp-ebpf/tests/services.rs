//! Services, packet by packet through the loaded `from_endpoint`
//! classifier (`BPF_PROG_TEST_RUN`, with its real effects on the maps):
//! the rewritten addresses, ports and checksums; an established connection
//! keeps its backend when the backend leaves the service while new ones
//! pick from the current backends; the reverse NAT of replies; hairpin;
//! no backend drops; a removed service leaves no entry behind. (Real
//! packets: the conformance suite's `service_load_balancing` and
//! `two_hosts.rs`'s cross-host service.)
#![allow(clippy::unwrap_used)]

mod support;

use contiv_core::datapath::{DpOp, LocalEndpoint, MacAddr, ServiceProtocol, ServiceSpec};
use std::net::{IpAddr, Ipv4Addr};
use support::frames::{L4, fold, ip_frame, sum16};
use support::*;

/// The IPv4 header and TCP/UDP checksums of `f` (an Ethernet frame), as
/// (ip, l4) offsets into the frame.
fn csum_offsets(f: &[u8]) -> (usize, usize) {
    let l4 = 14 + 20;
    (14 + 10, if f[14 + 9] == 6 { l4 + 16 } else { l4 + 6 })
}

fn l4_sum(f: &[u8]) -> u32 {
    let ip = &f[14..34];
    let l4 = &f[34..];
    let mut acc = sum16(&ip[12..20], 0);
    acc += u32::from(ip[9]);
    acc += l4.len() as u32;
    sum16(l4, acc)
}

/// Fills in correct checksums (the frame helper leaves them zero).
fn with_checksums(mut f: Vec<u8>) -> Vec<u8> {
    let (ipc, l4c) = csum_offsets(&f);
    f[ipc..ipc + 2].copy_from_slice(&[0, 0]);
    let c = fold(sum16(&f[14..34], 0));
    f[ipc..ipc + 2].copy_from_slice(&c.to_be_bytes());
    f[l4c..l4c + 2].copy_from_slice(&[0, 0]);
    let c = fold(l4_sum(&f));
    f[l4c..l4c + 2].copy_from_slice(&c.to_be_bytes());
    f
}

fn checksums_ok(f: &[u8]) -> bool {
    fold(sum16(&f[14..34], 0)) == 0 && fold(l4_sum(f)) == 0
}

struct Tuple {
    src: Ipv4Addr,
    sport: u16,
    dst: Ipv4Addr,
    dport: u16,
}

fn tuple(f: &[u8]) -> Tuple {
    let ip4 = |o: usize| Ipv4Addr::new(f[o], f[o + 1], f[o + 2], f[o + 3]);
    Tuple {
        src: ip4(14 + 12),
        dst: ip4(14 + 16),
        sport: u16::from_be_bytes([f[34], f[35]]),
        dport: u16::from_be_bytes([f[36], f[37]]),
    }
}

fn addr(ep: &LocalEndpoint) -> Ipv4Addr {
    ep.ipv4.unwrap().addr()
}

/// A TCP packet `from` (an endpoint) to `dst`, checksums filled in.
fn tcp(
    from: &LocalEndpoint,
    dmac: MacAddr,
    dst: Ipv4Addr,
    sport: u16,
    dport: u16,
    flags: u8,
) -> Vec<u8> {
    with_checksums(ip_frame(
        from.mac,
        dmac,
        IpAddr::V4(addr(from)),
        IpAddr::V4(dst),
        L4::Tcp {
            sport,
            dport,
            flags,
        },
    ))
}

const SYN: u8 = 0x02;
const SYN_ACK: u8 = 0x12;
const ACK: u8 = 0x10;

fn web(net: &str, vip: Ipv4Addr, backends: &[&str]) -> ServiceSpec {
    service(
        "t1:web",
        net,
        vip,
        (80, 8080),
        ServiceProtocol::Tcp,
        backends,
    )
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn translation_packet_by_packet() {
    let host = Host::new("es").await;
    let net = vxlan_net("t1:n", 1, 71, 7100);
    let (_ctrs, [c, b1, b2]) = client_and_two_backends(&host, &net, "sc").await;
    let dp = host.dp();
    let sizes0 = dp.map_sizes().await.unwrap();
    let vip: Ipv4Addr = "10.71.0.100".parse().unwrap();
    let vmac = MacAddr::from_ipv4(vip);
    host.apply(vec![DpOp::AddService(web(&net.key, vip, &["b1", "b2"]))])
        .await;

    // The first packet picks a backend: dst and port rewritten, checksums
    // still right; the backend's reply comes back from the VIP.
    let run = dp
        .run_packet("c", &tcp(&c, vmac, vip, 1000, 80, SYN))
        .await
        .unwrap();
    assert!(run.forwarded(), "{run:?}");
    assert!(checksums_ok(&run.frame), "checksums after DNAT");
    let t = tuple(&run.frame);
    assert_eq!((t.src, t.sport, t.dport), (addr(&c), 1000, 8080));
    let (x, y) = if t.dst == addr(&b1) {
        (&b1, &b2)
    } else {
        assert_eq!(t.dst, addr(&b2), "one of the backends");
        (&b2, &b1)
    };
    assert_eq!(&run.frame[0..6], &x.mac.0, "delivered to the backend's MAC");
    let run = dp
        .run_packet(&x.id, &tcp(x, c.mac, addr(&c), 8080, 1000, SYN_ACK))
        .await
        .unwrap();
    assert!(run.forwarded(), "{run:?}");
    assert!(checksums_ok(&run.frame), "checksums after reverse NAT");
    let t = tuple(&run.frame);
    assert_eq!((t.src, t.sport, t.dst, t.dport), (vip, 80, addr(&c), 1000));

    // x leaves the service: the established connection stays with it, new
    // connections go to y only.
    host.apply(vec![DpOp::AddService(web(&net.key, vip, &[&y.id]))])
        .await;
    let run = dp
        .run_packet("c", &tcp(&c, vmac, vip, 1000, 80, ACK))
        .await
        .unwrap();
    assert_eq!(
        tuple(&run.frame).dst,
        addr(x),
        "an established connection stays"
    );
    for sport in 2000..2020 {
        let run = dp
            .run_packet("c", &tcp(&c, vmac, vip, sport, 80, SYN))
            .await
            .unwrap();
        assert!(run.forwarded());
        assert_eq!(
            tuple(&run.frame).dst,
            addr(y),
            "a new connection from port {sport}"
        );
    }

    // Hairpin: y reaching its own service gets itself, from the VIP; its
    // answer goes back to it from the VIP.
    let run = dp
        .run_packet(&y.id, &tcp(y, vmac, vip, 3000, 80, SYN))
        .await
        .unwrap();
    assert!(run.forwarded() && checksums_ok(&run.frame));
    let t = tuple(&run.frame);
    assert_eq!((t.src, t.sport, t.dst, t.dport), (vip, 3000, addr(y), 8080));
    let run = dp
        .run_packet(&y.id, &tcp(y, vmac, vip, 8080, 3000, SYN_ACK))
        .await
        .unwrap();
    assert!(run.forwarded() && checksums_ok(&run.frame));
    let t = tuple(&run.frame);
    assert_eq!((t.src, t.sport, t.dst, t.dport), (vip, 80, addr(y), 3000));

    // Another port of the VIP, and a service without backends: dropped.
    let run = dp
        .run_packet("c", &tcp(&c, vmac, vip, 4000, 81, SYN))
        .await
        .unwrap();
    assert!(!run.forwarded());
    host.apply(vec![DpOp::AddService(web(&net.key, vip, &[]))])
        .await;
    let run = dp
        .run_packet("c", &tcp(&c, vmac, vip, 4001, 80, SYN))
        .await
        .unwrap();
    assert!(!run.forwarded());
    let n = dp.counters().await.unwrap();
    assert!(
        n.drops
            .iter()
            .any(|d| d.reason == "no-backend" && d.packets >= 1),
        "{n:?}"
    );

    // The service goes: nothing of it stays (the connections' entries go
    // with conntrack).
    host.apply(vec![DpOp::RemoveService("t1:web".into())]).await;
    let run = dp
        .run_packet("c", &tcp(&c, vmac, vip, 1000, 80, ACK))
        .await
        .unwrap();
    assert!(!run.forwarded(), "no service, no translation");
    dp.flush_conntrack().await.unwrap();
    assert_eq!(dp.map_sizes().await.unwrap(), sizes0, "map entries");
}

/// Backends follow their endpoints: an endpoint that goes leaves every
/// service; a service whose network goes goes with it.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn backends_follow_endpoints() {
    let host = Host::new("ef").await;
    let net = vxlan_net("t1:n", 1, 72, 7200);
    let ctrs = [Netns::new("sc"), Netns::new("sc")];
    let c = local_ep("c", &net, 2, 10, &ctrs[0]);
    let b = local_ep("b", &net, 11, 20, &ctrs[1]);
    let r = remote_of(
        &local_ep("r", &net, 12, 20, &ctrs[1]),
        "10.72.9.9".parse().unwrap(),
    );
    let vip: Ipv4Addr = "10.72.0.100".parse().unwrap();
    let vmac = MacAddr::from_ipv4(vip);
    host.apply(vec![
        DpOp::AddNetwork(net.clone()),
        DpOp::AddLocalEndpoint(c.clone()),
        DpOp::AddLocalEndpoint(b.clone()),
        DpOp::AddRemoteEndpoint(r.clone()),
        DpOp::AddService(web(&net.key, vip, &["b", "r"])),
    ])
    .await;
    let dp = host.dp();
    // b moves to another address (re-plumbed): still a backend, at the new
    // address.
    let b2 = local_ep("b", &net, 13, 20, &ctrs[1]);
    host.apply(vec![DpOp::AddLocalEndpoint(b2.clone())]).await;
    assert_eq!(dp.state().await.services[0].backends, ["b", "r"]);
    let mut seen = std::collections::BTreeSet::new();
    for sport in 900..940 {
        let run = dp
            .run_packet("c", &tcp(&c, vmac, vip, sport, 80, SYN))
            .await
            .unwrap();
        seen.insert(tuple(&run.frame).dst);
    }
    assert_eq!(
        seen,
        [addr(&b2), r.ipv4.unwrap()].into_iter().collect(),
        "the backends at their current addresses"
    );
    host.apply(vec![DpOp::RemoveLocalEndpoint("b".into())])
        .await;
    assert_eq!(dp.state().await.services[0].backends, ["r"]);
    for sport in 1000..1010 {
        let run = dp
            .run_packet("c", &tcp(&c, vmac, vip, sport, 80, SYN))
            .await
            .unwrap();
        assert_eq!(
            tuple(&run.frame).dst,
            r.ipv4.unwrap(),
            "only the remote backend is left"
        );
    }
    host.apply(vec![DpOp::RemoveRemoteEndpoint("r".into())])
        .await;
    let run = dp
        .run_packet("c", &tcp(&c, vmac, vip, 1100, 80, SYN))
        .await
        .unwrap();
    assert!(!run.forwarded(), "no backend left");
    host.apply(vec![DpOp::RemoveNetwork(net.key.clone())]).await;
    assert!(dp.state().await.services.is_empty());
    let sizes = dp.map_sizes().await.unwrap();
    for m in ["services", "svc_vips"] {
        assert_eq!(sizes.iter().find(|(n, _)| *n == m).unwrap().1, 0, "{m}");
    }
}
