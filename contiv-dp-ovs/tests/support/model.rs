//! Builders for datapath model values (networks, endpoints, IR rules) so
//! tests read as the scenario they describe.
#![allow(dead_code, unused_imports)]

use contiv_core::datapath::{Attachment, LocalEndpoint, MacAddr, NetworkSpec, RemoteEndpoint};
use contiv_core::ir::{
    Action, AddrSet, AddrSetId, Direction, EpgId, IrRule, PeerMatch, PortRange, RuleId, RuleOrigin,
    TenantId,
};
use std::net::Ipv4Addr;

pub use contiv_policy::conformance::fixture::{ip, vlan_net, vxlan_net};

/// A local endpoint with the contiv MAC of its address, on an existing
/// host interface.
pub fn local_ep(id: &str, net: &NetworkSpec, ip: &str, epg: EpgId, host_if: &str) -> LocalEndpoint {
    let a: Ipv4Addr = ip.parse().expect("ip");
    let plen = net.subnet.map_or(24, |s| s.prefix_len());
    LocalEndpoint {
        id: id.into(),
        network: net.key.clone(),
        epg,
        ipv4: Some(ipnet::Ipv4Net::new(a, plen).expect("prefix")),
        ipv6: None,
        mac: MacAddr::from_ipv4(a),
        host_ifname: host_if.into(),
        attachment: Attachment::Existing,
        mtu: 1450,
        qos: None,
    }
}

/// A remote endpoint behind `vtep`.
pub fn remote_ep(id: &str, net: &NetworkSpec, ip: &str, epg: EpgId, vtep: &str) -> RemoteEndpoint {
    let a: Ipv4Addr = ip.parse().expect("ip");
    RemoteEndpoint {
        id: id.into(),
        network: net.key.clone(),
        epg,
        ipv4: Some(a),
        ipv6: None,
        mac: MacAddr::from_ipv4(a),
        vtep: vtep.parse().expect("vtep"),
    }
}

/// An IR rule.
#[allow(clippy::too_many_arguments)]
pub fn rule(
    id: u64,
    tenant: TenantId,
    epg: EpgId,
    direction: Direction,
    peer: PeerMatch,
    proto: Option<u8>,
    port: Option<u16>,
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
        ports: port.map(PortRange::single),
        priority,
        action,
        origin: RuleOrigin {
            policy: "t:p".into(),
            rule: id.to_string(),
            epg: format!("t:g{epg}"),
        },
    }
}

/// An address set of CIDRs.
pub fn addr_set(name: &str, cidrs: &[&str]) -> AddrSet {
    let mut prefixes: Vec<ipnet::IpNet> = cidrs.iter().map(|c| c.parse().expect("cidr")).collect();
    prefixes.sort();
    prefixes.dedup();
    AddrSet {
        id: AddrSetId(name.into()),
        prefixes,
    }
}
