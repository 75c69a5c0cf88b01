//! The original's basic system tests (reference §8.1) on a three-host
//! namespace cluster (one netmaster, embedded store), each in a VXLAN and
//! a VLAN variant: BasicStartRemoveContainer (with an EPG ip-pool),
//! NetworkAddDelete (cross-network ping must fail), NetworkAddDeleteNoGateway,
//! NetworkAddDeleteTenant (overlapping subnets stay isolated), and
//! ArpModeChange (proxy ↔ flood with connectivity kept). One cluster
//! serves every case, in sequence; each case removes what it created.

mod cluster;

use cluster::checks::{Encap, SETTLE, all_pairs_ping, no_ping, remove_all};
use cluster::{Attach, Cluster, ClusterSpec, Container};

/// Creates network `name` with `flags` (netctl syntax), encap `e`.
fn net_create(c: &mut Cluster, e: Encap, name: &str, flags: &[&str]) {
    let mut args = vec!["net", "create", "-e", e.as_str()];
    args.extend_from_slice(flags);
    args.push(name);
    c.netctl(&args);
}

/// One container per host on `at`, names `<prefix>-<host>`.
fn one_per_host(c: &Cluster, prefix: &str, at: &Attach) -> Vec<Container> {
    c.host_names()
        .iter()
        .map(|h| c.run(h, &format!("{prefix}-{h}"), at))
        .collect()
}

/// Every endpoint of network `tenant:net` is gone from netmaster, and
/// every host's switch holds no flows for them.
fn assert_endpoints_gone(c: &mut Cluster, ids: &[String]) {
    for id in ids {
        let e = c.endpoint(id);
        assert!(e.is_none(), "endpoint {id} still in netmaster: {e:?}");
    }
    for h in &c.hosts {
        for id in ids {
            cluster::eventually(
                &format!("{}: no flows left for endpoint {id}", h.name),
                SETTLE,
                || (!h.has_local_endpoint(id) && !h.has_remote_endpoint(id)).then_some(()),
            );
        }
    }
}

/// Pings from `from` to `to` (on host h1) and checks on h1's hub-side
/// port that the traffic crossed the underlay encapsulated: VXLAN with
/// VNI `tag` on the underlay, or 802.1Q VLAN `tag` on the trunk
/// (`tcpdump -e`, as the tutorial's chapter 4 shows).
fn on_the_wire(c: &Cluster, e: Encap, from: &Container, to: &Container, tag: u16) {
    assert_eq!(to.host, "h1");
    let (iface, filter, want) = match e {
        Encap::Vxlan => ("h1u", "udp port 4789".to_owned(), format!("vni {tag}")),
        Encap::Vlan => ("h1v", format!("vlan {tag} and icmp"), format!("vlan {tag}")),
    };
    let out = c.dir().join(format!("tcpdump-{}.txt", e.as_str()));
    let mut cap = c.hub.capture(iface, &filter, &out);
    assert!(
        from.ping(&to.ip.to_string()),
        "{} -> {}",
        from.name,
        to.name
    );
    let seen = cluster::within(SETTLE, || {
        // tcpdump prints a VXLAN packet's inner frame on the next line.
        std::fs::read_to_string(&out)
            .is_ok_and(|t| t.contains(&want) && t.contains(&format!("> {}: ICMP", to.ip)))
    });
    cap.terminate(std::time::Duration::from_secs(2));
    assert!(
        seen.is_some(),
        "no {want} frame to {} on {iface}:\n{}",
        to.ip,
        std::fs::read_to_string(&out).unwrap_or_default()
    );
}

/// TestBasicStartRemoveContainer: net `private` 10.1.0.0/16, gateway
/// 10.1.1.254, tag 1001; two rounds of one container per host → all-pairs
/// ping → remove; then group `epg1` with ip-pool 10.1.0.1-10.1.0.10:
/// containers get addresses from the pool and ping; delete group and
/// network.
fn basic_start_remove(c: &mut Cluster, e: Encap) {
    let net = format!("private-{}", e.as_str());
    net_create(
        c,
        e,
        &net,
        &["-s", "10.1.0.0/16", "-g", "10.1.1.254", "-p", "1001"],
    );
    for round in 0..2 {
        c.step(&format!("round {round}"));
        let cs = one_per_host(c, &format!("r{round}"), &Attach::net(&net));
        let refs: Vec<&Container> = cs.iter().collect();
        all_pairs_ping(&refs);
        if round == 0 {
            on_the_wire(c, e, &cs[1], &cs[0], 1001);
        }
        let ids: Vec<String> = cs.iter().map(Container::endpoint_id).collect();
        remove_all(cs);
        assert_endpoints_gone(c, &ids);
    }
    c.step("group epg1 with an ip-pool");
    c.netctl(&["group", "create", "-r", "10.1.0.1-10.1.0.10", &net, "epg1"]);
    let cs = one_per_host(c, "epg", &Attach::net(&net).group("epg1"));
    for ct in &cs {
        let o = ct.ip.octets();
        assert!(
            o[0] == 10 && o[1] == 1 && o[2] == 0 && (1..=10).contains(&o[3]),
            "{} got {} outside the group's pool 10.1.0.1-10.1.0.10",
            ct.name,
            ct.ip
        );
    }
    let refs: Vec<&Container> = cs.iter().collect();
    all_pairs_ping(&refs);
    remove_all(cs);
    c.netctl(&["group", "rm", "epg1"]);
    c.netctl(&["net", "rm", &net]);
}

fn basic_start_remove_vxlan(c: &mut Cluster) {
    basic_start_remove(c, Encap::Vxlan);
}

fn basic_start_remove_vlan(c: &mut Cluster) {
    basic_start_remove(c, Encap::Vlan);
}

/// IPv6 pings between every pair that has a v6 address (each may settle
/// for [`SETTLE`]).
fn all_pairs_ping6(cs: &[&Container]) {
    for a in cs {
        for b in cs {
            if a.cid == b.cid {
                continue;
            }
            let (Some(_), Some(b6)) = (&a.ipv6, &b.ipv6) else {
                continue;
            };
            assert!(
                a.ping_within(b6, SETTLE),
                "{}@{} -> {}@{} ({b6}) over IPv6",
                a.name,
                a.host,
                b.name,
                b.host
            );
        }
    }
}

/// TestNetworkAddDelete: three networks (every other one with an IPv6
/// subnet), one container per host in each; all-pairs ping within each
/// network (v4, and v6 where configured); pings across networks fail
/// (bridge mode: no routing between networks); cleanup.
fn network_add_delete(c: &mut Cluster, e: Encap, gateway: bool) {
    let base = if gateway { 20 } else { 30 } + if e == Encap::Vlan { 5 } else { 0 };
    let mut nets = Vec::new();
    for n in 0..3u8 {
        let name = format!(
            "net{n}-{}-{}",
            e.as_str(),
            if gateway { "gw" } else { "nogw" }
        );
        let subnet = format!("10.{}.{n}.0/24", base);
        let gw = format!("10.{}.{n}.254", base);
        let s6 = format!("1001:{base}:{n}::/120");
        let g6 = format!("1001:{base}:{n}::fe");
        let mut flags = vec!["-s", subnet.as_str()];
        if gateway {
            flags.extend_from_slice(&["-g", gw.as_str()]);
        }
        if n % 2 == 0 {
            flags.extend_from_slice(&["--subnetv6", s6.as_str()]);
            if gateway {
                flags.extend_from_slice(&["--gatewayv6", g6.as_str()]);
            }
        }
        net_create(c, e, &name, &flags);
        nets.push(name);
    }
    let mut all: Vec<Vec<Container>> = Vec::new();
    for (n, name) in nets.iter().enumerate() {
        let cs = if gateway {
            one_per_host(c, &format!("n{n}"), &Attach::net(name))
        } else {
            // The original started these serially, pinging as it went.
            let mut cs: Vec<Container> = Vec::new();
            for h in c.host_names() {
                let ct = c.run(&h, &format!("n{n}-{h}"), &Attach::net(name));
                if let Some(prev) = cs.last() {
                    assert!(
                        ct.ping_within(&prev.ip.to_string(), SETTLE),
                        "{} -> {}",
                        ct.name,
                        prev.name
                    );
                }
                cs.push(ct);
            }
            cs
        };
        if n % 2 == 0 {
            assert!(
                cs.iter().all(|ct| ct.ipv6.is_some()),
                "containers on {name} have IPv6 addresses: {:?}",
                cs.iter().map(|ct| &ct.result).collect::<Vec<_>>()
            );
        }
        all.push(cs);
    }
    for cs in &all {
        let refs: Vec<&Container> = cs.iter().collect();
        all_pairs_ping(&refs);
        all_pairs_ping6(&refs);
    }
    // Across networks: from each network's first container to a container
    // of each other network on another host.
    let mut pairs = Vec::new();
    for (i, a) in all.iter().enumerate() {
        for (j, b) in all.iter().enumerate() {
            if i != j {
                pairs.push((&a[0], b[1].ip));
            }
        }
    }
    no_ping(&pairs);
    for cs in all {
        remove_all(cs);
    }
    for name in &nets {
        c.netctl(&["net", "rm", name]);
    }
}

fn network_add_delete_vxlan(c: &mut Cluster) {
    network_add_delete(c, Encap::Vxlan, true);
}

fn network_add_delete_vlan(c: &mut Cluster) {
    network_add_delete(c, Encap::Vlan, true);
}

fn no_gateway_vxlan(c: &mut Cluster) {
    network_add_delete(c, Encap::Vxlan, false);
}

fn no_gateway_vlan(c: &mut Cluster) {
    network_add_delete(c, Encap::Vlan, false);
}

/// TestNetworkAddDeleteTenant: two tenants, each with two networks
/// `10.4T.N.0/24`, plus the same subnet `10.49.0.0/24` in both tenants
/// (tutorial chapter 3: arbitrary, overlapping IPs). Pings within each
/// network work; the overlapping addresses reach only their own tenant's
/// container; cleanup including the tenants.
fn tenants(c: &mut Cluster, e: Encap) {
    let tag = e.as_str();
    let tenants = [format!("blue-{tag}"), format!("red-{tag}")];
    let hosts = c.host_names();
    let mut shared = Vec::new();
    for (t, tenant) in tenants.iter().enumerate() {
        c.netctl(&["tenant", "create", tenant]);
        for n in 0..2 {
            let name = format!("tnet{n}");
            let subnet = format!("10.4{t}.{n}.0/24");
            c.netctl(&[
                "net", "create", "-t", tenant, "-e", tag, "-s", &subnet, &name,
            ]);
            let cs = one_per_host(c, &format!("t{t}n{n}"), &Attach::tenant_net(tenant, &name));
            let refs: Vec<&Container> = cs.iter().collect();
            all_pairs_ping(&refs);
            remove_all(cs);
            c.netctl(&["net", "rm", "-t", tenant, &name]);
        }
        c.netctl(&[
            "net",
            "create",
            "-t",
            tenant,
            "-e",
            tag,
            "-s",
            "10.49.0.0/24",
            "shared",
        ]);
    }
    // Tenant 0: containers on hosts 1 and 2 (.1, .2); tenant 1: on hosts
    // 1, 2 and 3 (.1, .2, .3).
    let at0 = Attach::tenant_net(&tenants[0], "shared");
    let at1 = Attach::tenant_net(&tenants[1], "shared");
    shared.push(c.run(&hosts[0], "s0a", &at0));
    shared.push(c.run(&hosts[1], "s0b", &at0));
    shared.push(c.run(&hosts[0], "s1a", &at1));
    shared.push(c.run(&hosts[1], "s1b", &at1));
    shared.push(c.run(&hosts[2 % hosts.len()], "s1c", &at1));
    assert_eq!(shared[0].ip, shared[2].ip, "both tenants allocate from .1");
    assert_eq!(shared[1].ip, shared[3].ip);
    all_pairs_ping(&[&shared[0], &shared[1]]);
    all_pairs_ping(&[&shared[2], &shared[3], &shared[4]]);
    // The same address answers, from the right tenant: the MAC the pinger
    // learned is its own tenant's container.
    for (a, b) in [(&shared[0], &shared[1]), (&shared[2], &shared[3])] {
        let neigh = a.ns.must(&["ip", "neigh", "show", &b.ip.to_string()]);
        assert!(
            neigh.contains(&b.mac),
            "{} resolved {} to {neigh:?}, not {}'s MAC {}",
            a.name,
            b.ip,
            b.name,
            b.mac
        );
    }
    // Tenant 0 cannot reach tenant 1's third address.
    no_ping(&[(&shared[0], shared[4].ip), (&shared[1], shared[4].ip)]);
    remove_all(shared);
    for tenant in &tenants {
        c.netctl(&["net", "rm", "-t", tenant, "shared"]);
        c.netctl(&["tenant", "rm", tenant]);
    }
}

fn tenants_vxlan(c: &mut Cluster) {
    tenants(c, Encap::Vxlan);
}

fn tenants_vlan(c: &mut Cluster) {
    tenants(c, Encap::Vlan);
}

/// TestNetworkAddDeleteTenantArpModeChange: containers on both encaps
/// keep pinging across hosts while the global ARP mode goes proxy →
/// flood → proxy, and containers started in flood mode (fresh ARP caches)
/// reach the others.
fn arp_mode_change(c: &mut Cluster) {
    c.netctl(&[
        "net",
        "create",
        "-e",
        "vxlan",
        "-s",
        "10.60.0.0/24",
        "arp-vx",
    ]);
    c.netctl(&[
        "net",
        "create",
        "-e",
        "vlan",
        "-s",
        "10.61.0.0/24",
        "arp-vl",
    ]);
    let vx = one_per_host(c, "avx", &Attach::net("arp-vx"));
    let vl = one_per_host(c, "avl", &Attach::net("arp-vl"));
    let check = |vx: &[Container], vl: &[Container]| {
        all_pairs_ping(&vx.iter().collect::<Vec<_>>());
        all_pairs_ping(&vl.iter().collect::<Vec<_>>());
    };
    check(&vx, &vl);
    for (round, mode) in ["flood", "proxy", "flood", "proxy"].iter().enumerate() {
        c.step(&format!("arp mode {mode}"));
        c.netctl(&["global", "set", "--arp-mode", mode]);
        let g = c.netctl(&["global", "info"]);
        assert!(g.contains(mode), "global info after set: {g}");
        // The datapaths follow: they answer ARP for known addresses in
        // proxy mode only (OVS: responder flows; eBPF: the proxy flag).
        for h in &c.hosts {
            cluster::eventually(
                &format!("{}: ARP answering matches mode {mode}", h.name),
                SETTLE,
                || (h.arp_proxy() == Some(*mode == "proxy")).then_some(()),
            );
        }
        for ct in vx.iter().chain(&vl) {
            ct.ns.must(&["ip", "neigh", "flush", "all"]);
        }
        check(&vx, &vl);
        // A newcomer with an empty ARP cache reaches everyone.
        let h = c.host_names()[round % c.hosts.len()].clone();
        let mut nvx = vec![c.run(&h, &format!("nvx{round}"), &Attach::net("arp-vx"))];
        let mut nvl = vec![c.run(&h, &format!("nvl{round}"), &Attach::net("arp-vl"))];
        for ct in &vx {
            assert!(
                nvx[0].ping_within(&ct.ip.to_string(), SETTLE),
                "{} -> {}",
                nvx[0].name,
                ct.name
            );
        }
        for ct in &vl {
            assert!(
                nvl[0].ping_within(&ct.ip.to_string(), SETTLE),
                "{} -> {}",
                nvl[0].name,
                ct.name
            );
        }
        remove_all(std::mem::take(&mut nvx));
        remove_all(std::mem::take(&mut nvl));
    }
    remove_all(vx);
    remove_all(vl);
    c.netctl(&["net", "rm", "arp-vx"]);
    c.netctl(&["net", "rm", "arp-vl"]);
}

fn main_cases() -> Vec<cluster::Case> {
    vec![
        ("BasicStartRemoveContainerVXLAN", basic_start_remove_vxlan),
        ("BasicStartRemoveContainerVLAN", basic_start_remove_vlan),
        ("NetworkAddDeleteVXLAN", network_add_delete_vxlan),
        ("NetworkAddDeleteVLAN", network_add_delete_vlan),
        ("NetworkAddDeleteNoGatewayVXLAN", no_gateway_vxlan),
        ("NetworkAddDeleteNoGatewayVLAN", no_gateway_vlan),
        ("NetworkAddDeleteTenantVXLAN", tenants_vxlan),
        ("NetworkAddDeleteTenantVLAN", tenants_vlan),
        ("NetworkAddDeleteTenantArpModeChange", arp_mode_change),
    ]
}

#[test]
fn cluster_basic_system_tests_on_three_hosts() {
    let mut c = Cluster::start(ClusterSpec::new(3));
    cluster::run_cases(&mut c, &main_cases());
    c.teardown();
}

#[test]
fn cluster_basic_system_tests_on_three_hosts_ebpf() {
    let mut c = Cluster::start(ClusterSpec::new(3).ebpf());
    cluster::run_cases(&mut c, &main_cases());
    c.teardown();
}
