//! Fixtures shared by the OVS benches (`ovs_flows`, `ovs_install`).

use contiv_core::datapath::{
    Attachment, DesiredState, Encap, LocalEndpoint, MacAddr, NetworkSpec, RemoteEndpoint, VtepPeer,
};
use contiv_core::ir::PolicyIr;
use contiv_dp_ovs::pipeline::PortMap;
use contiv_policy::Intent;
use std::net::{IpAddr, Ipv4Addr};

/// Endpoints local to the benchmarked host (the rest are remote).
pub const LOCAL: usize = 200;
/// VXLAN peers the remote endpoints live behind.
pub const PEERS: u8 = 16;

/// The host view of the synthetic intent: networks, 200 local endpoints,
/// the rest remote, 16 peers, and the compiled IR.
pub fn host_state(intent: &Intent, ir: PolicyIr) -> (DesiredState, PortMap) {
    let mut d = DesiredState {
        policy: ir,
        ..DesiredState::default()
    };
    let mut ports = PortMap::default();
    for (i, (key, n)) in intent.networks.iter().enumerate() {
        d.networks.push(NetworkSpec {
            key: key.clone(),
            tenant: n.tenant_name.clone(),
            tenant_id: intent.tenants[&n.tenant_name],
            encap: Encap::Vxlan,
            vlan: i as u16 + 1,
            vni: Some(10_000 + i as u32),
            subnet: n.subnet.parse().ok(),
            gateway: None,
            subnet6: None,
            gateway6: None,
            external: false,
        });
    }
    for p in 0..PEERS {
        let ip = IpAddr::V4(Ipv4Addr::new(172, 31, p, 2));
        d.peers.push(VtepPeer {
            host: format!("h{p}"),
            ip,
        });
        ports.peers.insert(ip, 10 + u32::from(p));
    }
    for (i, e) in intent.endpoints.values().enumerate() {
        let v4 = e.ips.iter().find_map(|ip| match ip {
            IpAddr::V4(a) => Some(*a),
            IpAddr::V6(_) => None,
        });
        let v6 = e.ips.iter().find_map(|ip| match ip {
            IpAddr::V6(a) => Some(*a),
            IpAddr::V4(_) => None,
        });
        let Some(a) = v4 else { continue };
        let epg = e
            .epg
            .as_ref()
            .and_then(|g| intent.epgs.get(g))
            .map_or(0, |g| g.id);
        if i < LOCAL {
            d.local_endpoints.push(LocalEndpoint {
                id: e.id.clone(),
                network: e.network.clone(),
                epg,
                ipv4: Some(ipnet::Ipv4Net::new(a, 20).expect("prefix")),
                ipv6: v6.map(|b| ipnet::Ipv6Net::new(b, 64).expect("prefix")),
                mac: MacAddr::from_ipv4(a),
                host_ifname: format!("vh{i}"),
                attachment: Attachment::Existing,
                mtu: 1450,
                qos: None,
            });
            ports.endpoints.insert(e.id.clone(), 100 + i as u32);
        } else {
            d.remote_endpoints.push(RemoteEndpoint {
                id: e.id.clone(),
                network: e.network.clone(),
                epg,
                ipv4: Some(a),
                ipv6: v6,
                mac: MacAddr::from_ipv4(a),
                vtep: IpAddr::V4(Ipv4Addr::new(172, 31, (i % usize::from(PEERS)) as u8, 2)),
            });
        }
    }
    (d, ports)
}
