//! Routing mode with the BGP hand-off to a real top-of-rack switch (FRR
//! `bgpd` + `zebra`, and BIRD 2), on namespace hosts running OVS and
//! netplugin (the cluster harness), driven by `netctl` and `contiv-cni`:
//!
//! * `netctl bgp create <host> …` brings the session to Established, and
//!   `netctl bgp inspect` shows it (neighbor status, uptime, prefixes
//!   sent and received, the routes) live from the agent;
//! * the ToR's RIB holds every container as a `/32` with its host's router
//!   address as next hop, and its kernel routes them;
//! * a server behind the ToR reaches containers and containers reach it,
//!   both without NAT (each side sees the other's own address);
//!   containers on two networks of the tenant on two hosts reach each other;
//! * killing netplugin and starting it again sends the ToR no update (the
//!   speaker is adopted, nothing flaps);
//! * deleting a container withdraws its route (the latency is printed; the
//!   bench measures it).

mod cluster;

use cluster::tor::{self, OUTSIDE_IP, Speaker, TOR_AS, TOR_IP, Tor};
use cluster::{Attach, Cluster, ClusterSpec, Container, eventually};
use ipnet::Ipv4Net;
use serde_json::Value;
use std::net::Ipv4Addr;
use std::time::{Duration, Instant};

/// Generous deadline for BGP events (sessions come up within a few
/// seconds with 1 s connect-retry timers).
const BGP: Duration = Duration::from_secs(30);

fn spec(hosts: usize) -> ClusterSpec {
    let mut s = ClusterSpec::new(hosts);
    s.agent_flags = ["--bgp-connect-retry", "1s", "--bgp-hold-time", "9s"]
        .map(str::to_owned)
        .to_vec();
    s
}

/// Routing mode, two networks of the default tenant.
fn routed_networks(c: &mut Cluster) {
    c.netctl(&["global", "set", "--fwd-mode", "routing"]);
    c.netctl(&[
        "net",
        "create",
        "-s",
        "10.40.1.0/24",
        "-g",
        "10.40.1.254",
        "net1",
    ]);
    c.netctl(&[
        "net",
        "create",
        "-s",
        "10.40.2.0/24",
        "-g",
        "10.40.2.254",
        "net2",
    ]);
}

/// `netctl bgp create` for host `hN`.
fn bgp_create(c: &mut Cluster, n: u8) {
    c.netctl(&[
        "bgp",
        "create",
        &format!("h{n}"),
        "--router-ip",
        &format!("{}/{}", tor::router_ip(n), tor::FABRIC_LEN),
        "--as",
        &tor::host_as(n).to_string(),
        "--neighbor-as",
        &TOR_AS.to_string(),
        "--neighbor",
        &TOR_IP.to_string(),
    ]);
}

/// `netctl bgp inspect hN`'s Oper.
fn inspect(c: &mut Cluster, n: u8) -> Value {
    let out = c.netctl(&["bgp", "inspect", &format!("h{n}")]);
    let v: Value = serde_json::from_str(&out).unwrap_or_else(|e| panic!("{e}: {out}"));
    v["Oper"].clone()
}

fn host_route(ip: Ipv4Addr) -> Ipv4Net {
    Ipv4Net::from(ip)
}

/// Waits until the ToR's session with every host is Established.
fn wait_established(tor: &Tor, hosts: u8) {
    for n in 1..=hosts {
        let peer = tor::router_ip(n);
        eventually(
            &format!("the ToR's session with h{n} ({peer}) is Established"),
            BGP,
            || tor.established(peer).then_some(()),
        );
    }
}

/// Listens once on `port` in the outside server, connects from `ctr`, and
/// returns the peer address the server saw.
fn outside_sees(tor: &Tor, ctr: &Container, port: u16) -> String {
    let p = port.to_string();
    let listener = tor
        .outside
        .command("timeout")
        .args(["10", "nc", "-l", "-v", "-n", &p])
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .expect("nc in the outside namespace");
    eventually("the outside server listens", Duration::from_secs(5), || {
        let out = tor.outside.exec(&["ss", "-ltnH"]);
        String::from_utf8_lossy(&out.stdout)
            .contains(&format!(":{port} "))
            .then_some(())
    });
    assert!(
        ctr.connects(OUTSIDE_IP, port),
        "{} cannot connect to the outside server",
        ctr.name
    );
    let out = listener.wait_with_output().expect("nc output");
    let text = String::from_utf8_lossy(&out.stderr).into_owned();
    text.lines()
        .find_map(|l| l.split_once("received on "))
        .and_then(|(_, rest)| rest.split_whitespace().next())
        .unwrap_or_default()
        .to_owned()
}

/// The whole hand-off with one ToR implementation over `hosts` hosts.
fn hand_off(speaker: Speaker, hosts: u8) {
    let mut c = Cluster::start(spec(usize::from(hosts)));
    routed_networks(&mut c);
    let tor = Tor::start(&c.hub, speaker, hosts);
    c.step("ToR started");
    for n in 1..=hosts {
        bgp_create(&mut c, n);
    }
    wait_established(&tor, hosts);
    c.step("sessions Established");
    let oper = eventually("netctl bgp inspect h1: Established", BGP, || {
        let o = inspect(&mut c, 1);
        (o["neighborStatus"] == "Established").then_some(o)
    });
    assert_eq!(oper["adminStatus"], "up", "{oper}");
    assert!(
        oper["uptime"].as_str().is_some_and(|u| u.ends_with('s')),
        "{oper}"
    );

    // Containers: net1 on h1, net2 on the last host.
    let last = format!("h{hosts}");
    let c1 = c.run("h1", "c1", &Attach::net("net1"));
    let c2 = c.run(&last, "c2", &Attach::net("net2"));
    for (ctr, n) in [(&c1, 1), (&c2, hosts)] {
        let want = (host_route(ctr.ip), tor::router_ip(n));
        eventually(
            &format!("the ToR's RIB holds {} via {}", want.0, want.1),
            BGP,
            || (tor.rib().get(&want.0) == Some(&want.1)).then_some(()),
        );
    }
    c.step("container routes in the ToR's RIB");
    let kr = tor.kernel_route(c1.ip);
    assert!(
        kr.contains(&format!("via {}", tor::router_ip(1))),
        "the ToR's kernel routes {} via h1: {kr}",
        c1.ip
    );
    // The outside reaches the containers and they reach it (the route to
    // the outside was learned from the ToR).
    for ctr in [&c1, &c2] {
        assert!(
            ctr.ping_within(&OUTSIDE_IP.to_string(), BGP),
            "{} cannot reach the outside server",
            ctr.name
        );
        let ok = tor
            .outside
            .exec(&[
                "ping",
                "-c",
                "2",
                "-i",
                "0.2",
                "-W",
                "2",
                &ctr.ip.to_string(),
            ])
            .status
            .success();
        assert!(ok, "the outside server cannot reach {}", ctr.name);
    }
    // No NAT: the server sees the container's own address.
    assert_eq!(outside_sees(&tor, &c1, 7100), c1.ip.to_string());
    // Within the tenant, across networks and hosts: routed, not via the ToR.
    assert!(c1.ping_within(&c2.ip.to_string(), BGP), "c1 -> c2");
    let oper = inspect(&mut c, 1);
    assert!(oper["prefixesReceived"].as_u64() >= Some(1), "{oper}");
    assert!(oper["prefixesSent"].as_u64() >= Some(1), "{oper}");
    let routes: Vec<String> = oper["routes"]
        .as_array()
        .into_iter()
        .flatten()
        .filter_map(|r| r.as_str().map(str::to_owned))
        .collect();
    assert!(
        routes.contains(&format!("{} via {TOR_IP}", tor::OUTSIDE_NET))
            && routes.contains(&format!("{}/32 via {}", c1.ip, tor::router_ip(1))),
        "{routes:?}"
    );

    // Killing netplugin and starting it again does not flap anything.
    let updates = tor.updates_from(tor::router_ip(1));
    let speaker_pid = c.host("h1").speaker_pid().expect("gobgpd runs on h1");
    c.host_mut("h1").kill_agent();
    c.host_mut("h1").start_agent();
    c.host_mut("h1").wait_agent_ready(Duration::from_secs(60));
    eventually(
        "the restarted agent's BGP inspect is Established",
        BGP,
        || (inspect(&mut c, 1)["neighborStatus"] == "Established").then_some(()),
    );
    // Give a flap time to show (hold and connect timers are 1-9 s).
    std::thread::sleep(Duration::from_secs(4));
    assert_eq!(
        c.host("h1").speaker_pid(),
        Some(speaker_pid),
        "the restarted agent adopted the running gobgpd"
    );
    assert!(tor.established(tor::router_ip(1)));
    assert_eq!(
        tor.updates_from(tor::router_ip(1)),
        updates,
        "the ToR received updates from h1 after the agent restart (a flap)"
    );
    assert_eq!(tor.rib().get(&host_route(c1.ip)), Some(&tor::router_ip(1)));
    c.step("agent restarted without a flap");

    // Deleting the container withdraws its route.
    let gone = host_route(c1.ip);
    let t = Instant::now();
    c1.remove();
    eventually(&format!("the ToR withdrew {gone}"), BGP, || {
        (!tor.rib().contains_key(&gone)).then_some(())
    });
    eprintln!(
        "[bgp] {speaker:?}: withdraw of {gone} seen by the ToR {:.0} ms after CNI DEL started",
        t.elapsed().as_secs_f64() * 1000.0
    );
    assert_eq!(
        tor.rib().get(&host_route(c2.ip)),
        Some(&tor::router_ip(hosts)),
        "other routes stay"
    );
    drop(c2);
    drop(tor);
    c.teardown();
}

#[test]
fn frr_tor_two_hosts() {
    hand_off(Speaker::Frr, 2);
}

#[test]
fn bird_tor_one_host() {
    hand_off(Speaker::Bird, 1);
}

/// The routes the ToR's RIB holds via host `n`.
fn routes_via(tor: &Tor, n: u8) -> std::collections::BTreeSet<Ipv4Net> {
    tor.rib()
        .into_iter()
        .filter(|(_, nh)| *nh == tor::router_ip(n))
        .map(|(p, _)| p)
        .collect()
}

/// 40 CNI ADDs, four at a time, on one host: the ToR holds exactly their
/// 40 `/32`s (not the host-local DNS endpoint's `169.254.53.53`, which an
/// earlier agent advertised as a 41st prefix), the speaker counts 40
/// sent, and after a warm restart of netplugin it still does, with no
/// UPDATE to the ToR.
#[test]
fn frr_tor_concurrent_adds_exact_prefixes_through_restart() {
    const N: usize = 40;
    let mut c = Cluster::start(spec(1));
    routed_networks(&mut c);
    let tor = Tor::start(&c.hub, Speaker::Frr, 1);
    bgp_create(&mut c, 1);
    wait_established(&tor, 1);
    let rt = c.runtime("h1");
    let ctrs: Vec<Container> = std::thread::scope(|s| {
        let rt = &rt;
        let hs: Vec<_> = (0..4)
            .map(|w| {
                s.spawn(move || {
                    (0..N)
                        .filter(|i| i % 4 == w)
                        .map(|i| Container::add(rt, &format!("k{i}"), &Attach::net("net1")))
                        .collect::<Vec<_>>()
                })
            })
            .collect();
        hs.into_iter().flat_map(|h| h.join().unwrap()).collect()
    });
    c.step("40 concurrent ADDs");
    let want: std::collections::BTreeSet<Ipv4Net> =
        ctrs.iter().map(|ctr| host_route(ctr.ip)).collect();
    assert_eq!(want.len(), N, "40 distinct addresses");
    let router = tor::router_ip(1);
    eventually("the ToR's RIB holds every container's /32", BGP, || {
        (routes_via(&tor, 1) == want && tor.prefixes_from(router) == N as u64).then_some(())
    });
    let dns = Ipv4Net::from(Ipv4Addr::new(169, 254, 53, 53));
    assert!(
        !tor.rib().contains_key(&dns),
        "the DNS address is host-local"
    );
    let sent = |c: &mut Cluster| {
        let o = inspect(c, 1);
        (o["neighborStatus"] == "Established" && o["prefixesSent"] == N as u64).then_some(())
    };
    eventually("netctl bgp inspect: 40 prefixes sent", BGP, || sent(&mut c));
    c.step("every /32 in the ToR's RIB");

    // Warm restart: gobgpd adopted, the count unchanged, no UPDATE.
    let updates = tor.updates_from(router);
    c.host_mut("h1").kill_agent();
    c.host_mut("h1").start_agent();
    c.host_mut("h1").wait_agent_ready(Duration::from_secs(60));
    eventually(
        "the restarted speaker reports 40 prefixes sent",
        BGP,
        || sent(&mut c),
    );
    std::thread::sleep(Duration::from_secs(3));
    assert_eq!(
        tor.updates_from(router),
        updates,
        "the ToR received updates from h1 after the agent restart (a flap)"
    );
    assert_eq!(tor.prefixes_from(router), N as u64);
    assert_eq!(routes_via(&tor, 1), want);
    c.step("warm restart without a flap");
    drop(ctrs);
    drop(tor);
    c.teardown();
}

/// The eBPF datapath does not realise routing mode (it claims neither
/// `routing` nor `routed_uplink`), so on eBPF hosts the switch is refused
/// with the host and the missing capability named, the cluster stays in
/// bridge mode with its agent ready, and a `Bgp` object for the host is
/// reported inactive with the reason — never accepted silently.
#[test]
fn ebpf_hosts_refuse_routing_mode_and_report_bgp_inactive() {
    let mut c = Cluster::start(spec(1).ebpf());
    let e = c
        .try_netctl(&["global", "set", "--fwd-mode", "routing"])
        .expect_err("routing mode on an eBPF host must be refused");
    assert!(
        e.contains("Unable to update forwarding mode to routing")
            && e.contains("host h1")
            && e.contains("lacks routing"),
        "{e}"
    );
    let info = c.netctl(&["global", "info"]);
    assert!(info.contains("bridge"), "{info}");
    bgp_create(&mut c, 1);
    let oper = eventually("netctl bgp inspect h1 says why BGP is off", BGP, || {
        let o = inspect(&mut c, 1);
        o["error"]
            .as_str()
            .is_some_and(|e| e.contains("forwarding mode is bridge"))
            .then_some(o)
    });
    assert_eq!(oper["neighborStatus"], "Idle", "{oper}");
    assert_eq!(c.host("h1").speaker_pid(), None, "no gobgpd on h1");
    c.host_mut("h1").wait_agent_ready(Duration::from_secs(30));
    c.teardown();
}
