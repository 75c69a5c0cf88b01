//! Two hosts (namespaces, each with its own bpffs and datapath) joined by
//! a veth underlay (VXLAN between their `vxlan external gbp` devices):
//! `in` rules are judged where the destination lives with the source group
//! carried in VXLAN-GBP (the receiving host need not know the sender's
//! group), `out` rules where the source lives. (Plain two-host VXLAN and
//! VLAN forwarding is the conformance suite's.)
#![allow(clippy::unwrap_used)]

mod support;

use contiv_core::datapath::{DpOp, LocalEndpoint, NetworkSpec, VtepPeer};
use contiv_core::ir::{
    Action, Direction, IrRule, Membership, PeerMatch, PolicyDelta, PortRange, RuleId, RuleOrigin,
};
use std::net::IpAddr;
use support::*;

/// Two hosts linked by an underlay (10.<n>.0.1 and .2 on `ul0`) and a trunk
/// (`tr0` on both, the VLAN uplink).
async fn pair(n: u8) -> (Host, Host) {
    let mut a = Host::bare("ea");
    let mut b = Host::bare("eb");
    a.ns.ip(&[
        "link", "add", "ul0", "type", "veth", "peer", "name", "ul0", "netns", &b.ns.name,
    ]);
    a.ns.ip(&[
        "link", "add", "tr0", "type", "veth", "peer", "name", "tr0", "netns", &b.ns.name,
    ]);
    for (h, i) in [(&a, 1), (&b, 2)] {
        h.ns.ip(&["addr", "add", &format!("10.{n}.0.{i}/24"), "dev", "ul0"]);
        h.ns.ip(&["link", "set", "ul0", "up"]);
        h.ns.ip(&["link", "set", "tr0", "up"]);
    }
    a.cfg.uplink = Some("tr0".into());
    b.cfg.uplink = Some("tr0".into());
    a.start().await;
    b.start().await;
    (a, b)
}

fn vtep(n: u8, i: u8) -> IpAddr {
    format!("10.{n}.0.{i}").parse().unwrap()
}

fn members(ep: &LocalEndpoint, tenant: u32, epg: u32) -> Vec<Membership> {
    [
        ep.ipv4.map(|a| a.addr().into()),
        ep.ipv6.map(|a| a.addr().into()),
    ]
    .into_iter()
    .flatten()
    .map(|ip| Membership { tenant, ip, epg })
    .collect()
}

fn rule(id: u64, epg: u32, dir: Direction, peer: PeerMatch, port: Option<u16>) -> IrRule {
    IrRule {
        id: RuleId(id),
        tenant: 1,
        epg,
        direction: dir,
        peer,
        local: None,
        proto: port.map(|_| 6),
        ports: port.map(PortRange::single),
        priority: 1,
        action: Action::Deny,
        origin: RuleOrigin {
            policy: "t1:p".into(),
            rule: id.to_string(),
            epg: format!("t1:g{epg}"),
        },
    }
}

/// Host `h` gets network `net`, its local endpoint `l` and the other
/// host's endpoint `r` (at `vtep`).
async fn setup(h: &Host, net: &NetworkSpec, l: &LocalEndpoint, r: &LocalEndpoint, peer: IpAddr) {
    h.apply(vec![
        DpOp::AddNetwork(net.clone()),
        DpOp::AddPeer(VtepPeer {
            host: "peer".into(),
            ip: peer,
        }),
        DpOp::AddLocalEndpoint(l.clone()),
        DpOp::AddRemoteEndpoint(remote_of(r, peer)),
    ])
    .await;
}

/// Two hosts (underlay `10.<n>.0.0/24`) with endpoint a (group 10) on
/// host A and b (group 11) on host B, on network `10.<n+1>.0.0/24`, each
/// host told of the other's endpoint.
struct World {
    ha: Host,
    hb: Host,
    a_ns: Netns,
    b_ns: Netns,
    a: LocalEndpoint,
    b: LocalEndpoint,
    net: NetworkSpec,
}

async fn world(n: u8) -> World {
    let (ha, hb) = pair(n).await;
    let net = vxlan_net("t1:n", 1, n + 1, 100 * u32::from(n + 1));
    let a_ns = Netns::new("ec");
    let b_ns = Netns::new("ec");
    let a = local_ep("a", &net, 2, 10, &a_ns);
    let b = local_ep("b", &net, 3, 11, &b_ns);
    setup(&ha, &net, &a, &b, vtep(n, 2)).await;
    setup(&hb, &net, &b, &a, vtep(n, 1)).await;
    World {
        ha,
        hb,
        a_ns,
        b_ns,
        a,
        b,
        net,
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn vxlan_carries_traffic_and_the_source_group() {
    let World {
        ha,
        hb,
        a_ns,
        b_ns,
        a,
        b,
        ..
    } = world(66).await;
    assert!(a_ns.ping(&v4(&b)), "a reaches b across the VXLAN underlay");
    assert!(
        eventually(std::time::Duration::from_secs(5), || b_ns.ping(&v6(&a))),
        "b reaches a over IPv6 (once duplicate address detection is done)"
    );
    let _l = b_ns.spawn(&["nc", "-l", "-k", "-p", "80"]);
    let _m = a_ns.spawn(&["nc", "-l", "-k", "-p", "81"]);
    assert!(
        eventually(std::time::Duration::from_secs(3), || a_ns.tcp(&v4(&b), 80)),
        "a connects to b:80"
    );

    // Host A knows a is in group 10; host B is told nothing about a's
    // group: b's rule "deny in from group 10" must still apply, with the
    // group taken from VXLAN-GBP.
    ha.apply(vec![DpOp::Policy(PolicyDelta {
        members_added: members(&a, 1, 10),
        ..PolicyDelta::default()
    })])
    .await;
    hb.apply(vec![DpOp::Policy(PolicyDelta {
        rules_added: vec![rule(1, 11, Direction::In, PeerMatch::Epg(10), None)],
        members_added: members(&b, 1, 11),
        ..PolicyDelta::default()
    })])
    .await;
    assert!(
        !a_ns.ping(&v4(&b)),
        "b's ingress rule drops a (group 10 from GBP)"
    );
    assert!(!a_ns.tcp(&v4(&b), 80));
    // b's own connections to a pass, and their replies come back.
    assert!(b_ns.ping(&v4(&a)), "b reaches a; the replies pass b's rule");
    assert!(b_ns.tcp(&v4(&a), 81));
    let c = hb.dp().counters().await.unwrap();
    assert!(
        c.rules.iter().any(|r| r.rule == "1" && r.drops >= 2),
        "{c:?}"
    );

    // An out rule is judged at the source: a (group 10) may not open
    // TCP 81 anywhere — host B's view of a does not matter.
    hb.apply(vec![DpOp::Policy(PolicyDelta {
        rules_removed: vec![RuleId(1)],
        ..PolicyDelta::default()
    })])
    .await;
    ha.apply(vec![DpOp::Policy(PolicyDelta {
        rules_added: vec![rule(2, 10, Direction::Out, PeerMatch::Any, Some(80))],
        ..PolicyDelta::default()
    })])
    .await;
    assert!(
        !a_ns.tcp(&v4(&b), 80),
        "a's out rule drops a -> b:80 at host A"
    );
    assert!(a_ns.ping(&v4(&b)), "ICMP still passes");
    let c = ha.dp().counters().await.unwrap();
    assert!(
        c.rules.iter().any(|r| r.rule == "2" && r.drops >= 1),
        "{c:?}"
    );
    let ea = c.endpoints.iter().find(|e| e.id == "a").unwrap();
    assert!(ea.tx_drops >= 1, "{ea:?}");
}

/// A UDP echo server on `port` in `ns` (python3: what the test images
/// have; no socat).
fn udp_echo(ns: &Netns, port: u16) -> Bg {
    let code = format!(
        "import socket\ns=socket.socket(socket.AF_INET,socket.SOCK_DGRAM)\n\
         s.bind(('0.0.0.0',{port}))\nwhile True:\n d,a=s.recvfrom(65535)\n s.sendto(d,a)\n"
    );
    ns.spawn(&["python3", "-c", &code])
}

/// One datagram of `len` bytes to `dst:port` from a connected socket:
/// `echo` (the same bytes came back from exactly `dst:port`: the kernel
/// drops it otherwise, and drops a bad checksum), `refused` (an ICMP port
/// unreachable quoting exactly this socket's datagram came back) or
/// `timeout`.
fn udp_exchange(ns: &Netns, dst: &str, port: u16, len: usize) -> String {
    let code = format!(
        "import socket\ns=socket.socket(socket.AF_INET,socket.SOCK_DGRAM)\n\
         s.settimeout(1)\ns.connect(('{dst}',{port}))\n\
         p=bytes(i%251 for i in range({len}))\ns.send(p)\n\
         try:\n print('echo' if s.recv(65535)==p else 'other')\n\
         except ConnectionRefusedError:\n print('refused')\n\
         except socket.timeout:\n print('timeout')\n"
    );
    let out = ns.exec(&["python3", "-c", &code]);
    String::from_utf8_lossy(&out.stdout).trim().to_owned()
}

fn udp_roundtrip(ns: &Netns, dst: &str, port: u16) -> bool {
    udp_exchange(ns, dst, port, 4) == "echo"
}

/// A service whose backend lives on the other host: the client's host
/// DNATs to the backend and sends it over VXLAN; the reply comes back over
/// VXLAN and gets its reverse NAT in `from_vxlan` (TCP and UDP, the kernel
/// checks every checksum); the backend's `in` rule is judged at the
/// backend's host on the translated packet (the client's group from GBP).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn service_backend_on_the_other_host() {
    use contiv_core::datapath::{PortSpec, ServiceProtocol, ServiceSpec};
    let World {
        ha,
        hb,
        a_ns,
        b_ns,
        a,
        b,
        net,
    } = world(68).await;
    let vip = "10.69.0.100";
    let svc = ServiceSpec {
        key: "t1:web".into(),
        network: net.key.clone(),
        vip: vip.parse().unwrap(),
        ports: vec![
            PortSpec {
                svc_port: 80,
                prov_port: 8080,
                protocol: ServiceProtocol::Tcp,
            },
            PortSpec {
                svc_port: 53,
                prov_port: 5353,
                protocol: ServiceProtocol::Udp,
            },
        ],
        backends: vec!["b".into()],
    };
    // Every host is told every service (as the agent does).
    ha.apply(vec![DpOp::AddService(svc.clone())]).await;
    hb.apply(vec![DpOp::AddService(svc.clone())]).await;
    let _t = b_ns.spawn(&["nc", "-l", "-k", "-p", "8080"]);
    let u = udp_echo(&b_ns, 5353);
    assert!(a_ns.ping(&v4(&b)), "a reaches b across the underlay");
    assert!(
        eventually(std::time::Duration::from_secs(3), || a_ns.tcp(vip, 80)),
        "a connects to the VIP; the backend's SYN-ACK comes back as the VIP's"
    );
    assert!(
        eventually(std::time::Duration::from_secs(3), || udp_roundtrip(
            &a_ns, vip, 53
        )),
        "a UDP exchange with the VIP, answered from the VIP"
    );
    assert!(!a_ns.tcp(vip, 81), "a port the service does not have");
    // The backend's port closes: its ICMP port unreachable comes back over
    // VXLAN and is translated like the connection it quotes (a refusal,
    // not a timeout).
    drop(u);
    assert_eq!(udp_exchange(&a_ns, vip, 53, 4), "refused");
    let _u = udp_echo(&b_ns, 5353);
    assert!(
        eventually(std::time::Duration::from_secs(3), || udp_roundtrip(
            &a_ns, vip, 53
        )),
        "the echo is back"
    );
    // A datagram above the MTU: its later fragments get the first one's
    // translation at A (forward) and, over VXLAN, the reverse one.
    assert_eq!(
        udp_exchange(&a_ns, vip, 53, 4000),
        "echo",
        "4,000 bytes through the VIP, fragmented both ways"
    );
    let c = ha.dp().counters().await.unwrap();
    assert_eq!(c.drops_of("fragment-unknown"), 0, "{c:?}");
    let sizes = ha.dp().map_sizes().await.unwrap();
    let nat = sizes.iter().find(|(m, _)| *m == "svc_nat").unwrap().1;
    assert!(nat >= 4, "two entries per connection at the client's host");
    let sizes = hb.dp().map_sizes().await.unwrap();
    let nat = sizes.iter().find(|(m, _)| *m == "svc_nat").unwrap().1;
    assert_eq!(nat, 0, "the backend's host translates nothing");

    // The backend's in rule (deny TCP 8080 from group 10) is judged at
    // host B, on the translated packet, with a's group from VXLAN-GBP.
    ha.apply(vec![DpOp::Policy(PolicyDelta {
        members_added: members(&a, 1, 10),
        ..PolicyDelta::default()
    })])
    .await;
    hb.apply(vec![DpOp::Policy(PolicyDelta {
        rules_added: vec![rule(3, 11, Direction::In, PeerMatch::Epg(10), Some(8080))],
        members_added: members(&b, 1, 11),
        ..PolicyDelta::default()
    })])
    .await;
    assert!(!a_ns.tcp(vip, 80), "b's in rule refuses a through the VIP");
    assert!(udp_roundtrip(&a_ns, vip, 53), "UDP is not refused");
    let c = hb.dp().counters().await.unwrap();
    assert!(
        c.rules.iter().any(|r| r.rule == "3" && r.drops >= 1),
        "{c:?}"
    );

    // Without backends the VIP refuses (drops) new connections.
    let none = ServiceSpec {
        backends: vec![],
        ..svc
    };
    ha.apply(vec![DpOp::AddService(none)]).await;
    assert!(!udp_roundtrip(&a_ns, vip, 53), "no backend, no answer");
    let c = ha.dp().counters().await.unwrap();
    assert!(
        c.drops
            .iter()
            .any(|d| d.reason == "no-backend" && d.packets >= 1),
        "{c:?}"
    );
}
