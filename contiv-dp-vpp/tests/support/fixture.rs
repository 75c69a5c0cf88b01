//! A host state exercising every object kind, and a datapath on a fresh
//! test server.

use contiv_core::datapath::{
    ArpMode, Attachment, Datapath, DesiredState, DpOp, Encap, FwdMode, GlobalSpec, LocalEndpoint,
    MacAddr, NetworkSpec, Qos, RemoteEndpoint, VtepPeer,
};
use contiv_core::ir::{
    Action, AddrSet, AddrSetId, Direction, IrRule, Membership, PeerMatch, PolicyDelta, PolicyIr,
    PortRange, RuleId, RuleOrigin,
};
use contiv_dp_vpp::datapath::{VppConfig, VppDatapath};
use contiv_dp_vpp::testing::VppTestServer;
use std::net::{IpAddr, Ipv4Addr};
use std::path::PathBuf;

/// This host's VTEP.
pub const VTEP: &str = "192.0.2.1";
/// The uplink the server has.
pub const UPLINK: &str = "GigabitEthernet0/8/0";

/// A server and a datapath connected to it.
pub async fn start() -> (VppTestServer, VppDatapath) {
    let srv = VppTestServer::start().await.expect("test server");
    let dp = VppDatapath::connect(config(&srv)).await.expect("connect");
    (srv, dp)
}

/// A server and a datapath with the npol policy engine.
pub async fn start_npol() -> (VppTestServer, VppDatapath) {
    let srv = VppTestServer::start().await.expect("test server");
    let dp = VppDatapath::connect(npol_config(&srv))
        .await
        .expect("connect");
    (srv, dp)
}

/// The datapath configuration for `srv`, npol policy engine.
pub fn npol_config(srv: &VppTestServer) -> VppConfig {
    let mut cfg = config(srv);
    cfg.policy = contiv_dp_vpp::datapath::PolicyEngine::Npol;
    cfg
}

/// The datapath configuration for `srv`.
pub fn config(srv: &VppTestServer) -> VppConfig {
    let mut cfg = VppConfig::new(srv.socket_path());
    cfg.vtep_ip = Some(VTEP.parse().expect("ip"));
    cfg.uplink = Some(UPLINK.into());
    cfg
}

/// A VXLAN network of tenant 1.
pub fn vxnet() -> NetworkSpec {
    NetworkSpec {
        key: "t1:web".into(),
        tenant: "t1".into(),
        tenant_id: 1,
        encap: Encap::Vxlan,
        vlan: 10,
        vni: Some(5010),
        subnet: Some("10.1.0.0/24".parse().expect("net")),
        gateway: Some("10.1.0.1".parse().expect("ip")),
        subnet6: Some("fd00:1::/64".parse().expect("net")),
        gateway6: Some("fd00:1::1".parse().expect("ip")),
        external: false,
    }
}

/// A VLAN network of tenant 1.
pub fn vlannet() -> NetworkSpec {
    NetworkSpec {
        key: "t1:db".into(),
        tenant: "t1".into(),
        tenant_id: 1,
        encap: Encap::Vlan,
        vlan: 100,
        vni: None,
        subnet: Some("10.2.0.0/24".parse().expect("net")),
        gateway: Some("10.2.0.1".parse().expect("ip")),
        subnet6: None,
        gateway6: None,
        external: false,
    }
}

/// A local endpoint in a namespace.
pub fn local(id: &str, net: &NetworkSpec, host: u8, epg: u32) -> LocalEndpoint {
    let base = match net.subnet {
        Some(s) => s.addr().octets(),
        None => [10, 9, 0, 0],
    };
    let ip = Ipv4Addr::new(base[0], base[1], base[2], host);
    LocalEndpoint {
        id: id.into(),
        network: net.key.clone(),
        epg,
        ipv4: Some(ipnet::Ipv4Net::new(ip, 24).expect("prefix")),
        ipv6: None,
        mac: MacAddr::from_ipv4(ip),
        host_ifname: format!("vh{host}"),
        attachment: Attachment::Netns {
            netns: PathBuf::from(format!("/var/run/netns/{id}")),
            ifname: "eth0".into(),
        },
        mtu: 1450,
        qos: None,
    }
}

/// A remote endpoint behind `vtep`.
pub fn remote(id: &str, net: &NetworkSpec, host: u8, epg: u32, vtep: &str) -> RemoteEndpoint {
    let base = net.subnet.map_or([10, 9, 0, 0], |s| s.addr().octets());
    let ip = Ipv4Addr::new(base[0], base[1], base[2], host);
    RemoteEndpoint {
        id: id.into(),
        network: net.key.clone(),
        epg,
        ipv4: Some(ip),
        ipv6: None,
        mac: MacAddr::from_ipv4(ip),
        vtep: vtep.parse().expect("ip"),
    }
}

/// A compiled rule.
#[allow(clippy::too_many_arguments)]
pub fn rule(
    id: u64,
    tenant: u32,
    epg: u32,
    direction: Direction,
    peer: PeerMatch,
    proto: Option<u8>,
    ports: Option<PortRange>,
    priority: u8,
    action: Action,
) -> IrRule {
    IrRule {
        id: RuleId(id),
        tenant,
        epg,
        direction,
        peer,
        local: None,
        proto,
        ports,
        priority,
        action,
        origin: RuleOrigin {
            policy: format!("t{tenant}:p"),
            rule: id.to_string(),
            epg: format!("t{tenant}:g{epg}"),
        },
    }
}

/// The full scenario: two networks, proxy ARP, routing mode, three local
/// endpoints (one with QoS, one Docker-style), two remote endpoints behind
/// two peers, a VLAN-network remote endpoint, and a policy on group 1.
pub fn scenario() -> DesiredState {
    let (vx, vl) = (vxnet(), vlannet());
    let mut web1 = local("web1", &vx, 10, 1);
    web1.ipv6 = Some("fd00:1::10/64".parse().expect("net"));
    let mut web2 = local("web2", &vx, 11, 2);
    web2.qos = Some(Qos {
        rate_kbps: 10_000,
        burst_kb: 0,
        dscp: 46,
    });
    let mut db1 = local("db1", &vl, 20, 0);
    db1.attachment = Attachment::HostVeth {
        peer_name: "db1-c".into(),
    };
    let mut policy = PolicyIr::default();
    let cidr = AddrSetId("cidr:10.2.0.0/24".into());
    policy.addr_sets.insert(
        cidr.clone(),
        AddrSet {
            id: cidr.clone(),
            prefixes: vec!["10.2.0.0/24".parse().expect("net")],
        },
    );
    for r in [
        rule(
            1,
            1,
            1,
            Direction::In,
            PeerMatch::Any,
            Some(6),
            None,
            1,
            Action::Deny,
        ),
        rule(
            2,
            1,
            1,
            Direction::In,
            PeerMatch::Epg(2),
            Some(6),
            Some(PortRange::single(80)),
            10,
            Action::Allow,
        ),
        rule(
            3,
            1,
            1,
            Direction::Out,
            PeerMatch::AddrSet(cidr),
            None,
            None,
            5,
            Action::Deny,
        ),
        rule(
            4,
            1,
            1,
            Direction::In,
            PeerMatch::Any,
            Some(1),
            None,
            5,
            Action::Allow,
        ),
    ] {
        policy.rules.insert(r.id, r);
    }
    for (ip, g) in [
        ("10.1.0.10", 1),
        ("10.1.0.11", 2),
        ("10.1.0.12", 2),
        ("10.1.0.13", 1),
    ] {
        policy
            .members
            .insert((1, ip.parse::<IpAddr>().expect("ip")), g);
    }
    DesiredState {
        global: GlobalSpec {
            arp_mode: ArpMode::Proxy,
            fwd_mode: FwdMode::Routing,
            ..GlobalSpec::default()
        },
        networks: vec![vx.clone(), vl.clone()],
        local_endpoints: vec![web1, web2, db1],
        remote_endpoints: vec![
            remote("web3", &vx, 12, 2, "192.0.2.2"),
            remote("web4", &vx, 13, 1, "192.0.2.3"),
            remote("db2", &vl, 21, 0, "192.0.2.2"),
        ],
        peers: vec![
            VtepPeer {
                host: "h2".into(),
                ip: "192.0.2.2".parse().expect("ip"),
            },
            VtepPeer {
                host: "h3".into(),
                ip: "192.0.2.3".parse().expect("ip"),
            },
        ],
        policy,
        ..DesiredState::default()
    }
}

/// Moves [`scenario`]'s `web2` (10.1.0.11, group 2) into group 1, as the
/// agent would: the endpoint with its new group and the membership change.
pub async fn move_web2_to_group_1(dp: &VppDatapath, d: &DesiredState) -> IpAddr {
    let mut web2 = d.local_endpoints[1].clone();
    web2.epg = 1;
    let ip: IpAddr = "10.1.0.11".parse().expect("address");
    dp.apply(vec![
        DpOp::AddLocalEndpoint(web2),
        DpOp::Policy(PolicyDelta {
            members_added: vec![Membership {
                tenant: 1,
                ip,
                epg: 1,
            }],
            ..PolicyDelta::default()
        }),
    ])
    .await
    .expect("move web2 to group 1");
    ip
}
