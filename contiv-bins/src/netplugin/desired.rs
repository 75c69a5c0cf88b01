//! The host's desired state as a pure function of the view, this host's
//! identity, the local plumbing intents and the host policy — and the
//! difference between two states as datapath operations.
//!
//! * **networks**: every network whose derived record (tags) is known;
//! * **local endpoints**: endpoint records with `host == me` whose network
//!   is present, plumbed as the agent was asked (`Netns` for a CNI ADD,
//!   `HostVeth` for Docker) or, for endpoints the agent did not plumb in
//!   this run (a restart), `Existing` with the recorded interface name;
//!   endpoints being removed or whose plumbing failed are left out;
//! * **remote endpoints**: records on other hosts that have a node record
//!   (the VTEP comes from it) — a vanished node's endpoints disappear;
//! * **peers**: every other node's VTEP (one per address);
//! * **services**: every serviceLB with a VIP on a present network, its
//!   backends the endpoints above on that network whose labels match all
//!   its selectors (see [`services`]);
//! * **published ports**: the host ports recorded with the local
//!   endpoints above (Docker `-p`) that have an IPv4 address on a network
//!   with external access (see [`published`]);
//! * **policy**: the [`HostPolicy`](super::policy::HostPolicy) IR.
//!
//! Networks get external access unless their `nwType` is `infra`; the
//! private subnet is the global `pvtSubnet`.

use super::view::HostView;
use contiv_core::datapath::{
    ArpMode, Attachment, DesiredState, Encap, FwdMode, GlobalSpec, LocalEndpoint, NetworkSpec,
    PublishedKey, PublishedPort, Qos, RemoteEndpoint, ServiceSpec, VtepPeer,
};
use contiv_core::ir::{EpgId, NO_EPG, TenantId};
use contiv_core::records::EndpointRecord;
use ipnet::{Ipv4Net, Ipv6Net};
use std::collections::{BTreeMap, BTreeSet};
use std::net::IpAddr;
use std::time::Instant;

/// Who this host is.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct HostIdentity {
    /// Host name (the node record's key).
    pub host: String,
    /// This host's VTEP address.
    pub vtep: IpAddr,
    /// Default container MTU.
    pub mtu: u32,
}

/// How the agent was asked to plumb a local endpoint in this run.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum LocalIntent {
    /// Plumb it with `attachment` and `mtu`; `error` is set once the
    /// datapath refused, which keeps it out of the desired state until the
    /// operation that asked for it has cleaned up.
    Plumb {
        /// How the container side is plumbed.
        attachment: Attachment,
        /// Container MTU.
        mtu: u32,
        /// The datapath's refusal, if any.
        error: Option<String>,
    },
    /// Being removed: left out of the desired state until netmaster's
    /// delete of the record has been seen (or a while has passed).
    Removing {
        /// When the removal started.
        since: Instant,
    },
}

/// The desired non-policy state plus the groups and tenants with local
/// endpoints (the host policy's inputs).
#[derive(Clone, Debug, Default, PartialEq)]
pub struct HostDesired {
    /// Everything except `policy` (left empty here).
    pub state: DesiredState,
    /// Groups with a local endpoint.
    pub local_epgs: BTreeSet<EpgId>,
    /// Tenants with a local endpoint.
    pub local_tenants: BTreeSet<TenantId>,
}

/// The global modes from the settings (defaults when absent or invalid).
pub fn global_spec(view: &HostView) -> GlobalSpec {
    match &view.global {
        Some(g) => GlobalSpec {
            arp_mode: g.arp_mode_kind().unwrap_or(ArpMode::Proxy),
            fwd_mode: g.fwd_mode_kind().unwrap_or(FwdMode::Bridge),
            private_subnet: g
                .pvt_subnet_net()
                .unwrap_or(contiv_core::datapath::DEFAULT_PRIVATE_SUBNET),
        },
        None => GlobalSpec::default(),
    }
}

/// The datapath spec of network `key`, if both the object and its derived
/// record are known and valid.
pub fn network_spec(view: &HostView, key: &str) -> Option<NetworkSpec> {
    let n = view.networks.get(key)?;
    let st = view.network_states.get(key)?;
    let subnet = n.ipv4_subnet().ok()?.net;
    Some(NetworkSpec {
        key: key.to_owned(),
        tenant: n.tenant_name.clone(),
        tenant_id: st.tenant_id,
        encap: st.encap,
        // The wire VLAN of a VLAN network; a VXLAN network's `pkt_tag` is
        // netmaster's bookkeeping (shown by netctl), not the datapath's.
        vlan: if st.encap == Encap::Vlan {
            st.pkt_tag
        } else {
            0
        },
        vni: (st.encap == Encap::Vxlan).then_some(st.ext_pkt_tag),
        subnet: Some(subnet),
        gateway: n.ipv4_gateway().ok().flatten(),
        subnet6: n.ipv6_subnet().ok().flatten(),
        gateway6: n.ipv6_gateway().ok().flatten(),
        // External access: `data` networks (the default type) have it,
        // `infra` networks do not.
        external: n.nw_type != "infra",
    })
}

/// The rate limit of an endpoint's group, from its netprofile.
fn qos_of(view: &HostView, e: &EndpointRecord) -> Option<Qos> {
    let g = view.epgs.get(&e.group_key()?)?;
    if g.net_profile.is_empty() {
        return None;
    }
    let p = view
        .netprofiles
        .get(&format!("{}:{}", e.tenant, g.net_profile))?;
    Qos::from_netprofile(p)
}

/// The local endpoint for record `e` with `attachment` and `mtu`.
pub fn local_endpoint(
    view: &HostView,
    e: &EndpointRecord,
    attachment: Attachment,
    mtu: u32,
) -> LocalEndpoint {
    LocalEndpoint {
        id: e.id.clone(),
        network: e.network_key(),
        epg: e.epg_id,
        ipv4: e.ipv4.and_then(|a| Ipv4Net::new(a, e.ipv4_prefix).ok()),
        ipv6: e.ipv6.and_then(|a| Ipv6Net::new(a, e.ipv6_prefix).ok()),
        mac: e.mac,
        host_ifname: if e.intf_name.is_empty() {
            super::ifnames::host_ifname(&e.id)
        } else {
            e.intf_name.clone()
        },
        attachment,
        mtu,
        qos: qos_of(view, e),
    }
}

/// Computes the desired state (without policy) — see the module docs.
pub fn desired(
    view: &HostView,
    me: &HostIdentity,
    intents: &BTreeMap<String, LocalIntent>,
) -> HostDesired {
    let mut out = HostDesired {
        state: DesiredState {
            global: global_spec(view),
            ..DesiredState::default()
        },
        ..HostDesired::default()
    };
    let mut nets = BTreeMap::new();
    for key in view.network_states.keys() {
        if let Some(spec) = network_spec(view, key) {
            nets.insert(key.clone(), spec);
        }
    }
    for e in view.endpoints.values() {
        let net_key = e.network_key();
        let Some(net) = nets.get(&net_key) else {
            continue;
        };
        if e.host == me.host {
            let (attachment, mtu) = match intents.get(&e.id) {
                Some(LocalIntent::Plumb {
                    attachment,
                    mtu,
                    error: None,
                }) => (attachment.clone(), *mtu),
                Some(_) => continue,
                None => (Attachment::Existing, me.mtu),
            };
            if e.epg_id != NO_EPG {
                out.local_epgs.insert(e.epg_id);
            }
            out.local_tenants.insert(net.tenant_id);
            out.state
                .local_endpoints
                .push(local_endpoint(view, e, attachment, mtu));
        } else if let Some(node) = view.nodes.get(&e.host) {
            out.state.remote_endpoints.push(RemoteEndpoint {
                id: e.id.clone(),
                network: net_key,
                epg: e.epg_id,
                ipv4: e.ipv4,
                ipv6: e.ipv6,
                mac: e.mac,
                vtep: node.vtep_ip,
            });
        }
    }
    // Endpoint ids are one namespace in a datapath; a duplicate id on two
    // networks keeps the first.
    let mut seen = BTreeSet::new();
    out.state
        .local_endpoints
        .retain(|e| seen.insert(e.id.clone()));
    out.state
        .remote_endpoints
        .retain(|e| seen.insert(e.id.clone()));
    let mut peer_ips = BTreeSet::new();
    peer_ips.insert(me.vtep);
    for n in view.nodes.values() {
        if n.hostname != me.host && peer_ips.insert(n.vtep_ip) {
            out.state.peers.push(VtepPeer {
                host: n.hostname.clone(),
                ip: n.vtep_ip,
            });
        }
    }
    out.state.networks = nets.into_values().collect();
    out.state.services = services(view, &out.state);
    out.state.published = published(view, &out.state);
    out
}

/// The published ports of the view, as the datapath realises them: those
/// recorded with a local endpoint of the desired state (the record's
/// ports, each naming it) that has an IPv4 address on a network with
/// external access. Records are checked when netmaster writes them; a
/// host port two records claim (a race between agents' checks cannot
/// happen on one host, but a hand-written record can) goes to the first
/// in the view's order and is logged, never handed to the datapath twice.
pub fn published(view: &HostView, state: &DesiredState) -> Vec<PublishedPort> {
    let external: BTreeSet<&str> = state
        .networks
        .iter()
        .filter(|n| n.external)
        .map(|n| n.key.as_str())
        .collect();
    let local: BTreeMap<&str, &LocalEndpoint> = state
        .local_endpoints
        .iter()
        .filter(|e| e.ipv4.is_some() && external.contains(e.network.as_str()))
        .map(|e| (e.id.as_str(), e))
        .collect();
    let mut out: Vec<PublishedPort> = Vec::new();
    let mut keys: Vec<PublishedKey> = Vec::new();
    for e in view.endpoints.values() {
        if local
            .get(e.id.as_str())
            .is_none_or(|l| l.network != e.network_key())
        {
            continue;
        }
        for p in e.published.iter().filter(|p| p.endpoint == e.id) {
            let k = p.key();
            if p.host_port == 0 || p.port == 0 {
                continue;
            }
            if let Some(o) = keys.iter().find(|o| o.overlaps(&k)) {
                tracing::warn!(endpoint = %e.id, published = %k, taken = %o, "published port left out: the host port is taken");
                continue;
            }
            keys.push(k);
            out.push(p.clone());
        }
    }
    out
}

/// The services of the view, as the datapath realises them: every
/// serviceLB whose VIP netmaster allocated and whose network is present,
/// with the ports of its spec and as backends the endpoints of the
/// desired state that are on the service's network and carry every label
/// of its selectors (the original's providers; providers on other networks
/// of the tenant are not backends — the service's network is where
/// clients and backends meet).
pub fn services(view: &HostView, state: &DesiredState) -> Vec<ServiceSpec> {
    let mut out = Vec::new();
    for (key, lb) in &view.service_lbs {
        let Some(st) = view.service_states.get(key) else {
            continue;
        };
        let network = format!("{}:{}", lb.tenant_name, lb.network_name);
        if !state.networks.iter().any(|n| n.key == network) {
            continue;
        }
        let (Ok(ports), Ok(selectors)) = (lb.port_specs(), lb.selector_pairs()) else {
            continue;
        };
        let in_state: BTreeSet<&str> = state
            .local_endpoints
            .iter()
            .filter(|e| e.network == network && e.ipv4.is_some())
            .map(|e| e.id.as_str())
            .chain(
                state
                    .remote_endpoints
                    .iter()
                    .filter(|e| e.network == network && e.ipv4.is_some())
                    .map(|e| e.id.as_str()),
            )
            .collect();
        let mut backends: Vec<String> = view
            .endpoints
            .values()
            .filter(|e| e.network_key() == network && in_state.contains(e.id.as_str()))
            .filter(|e| {
                selectors
                    .iter()
                    .all(|(k, v)| e.labels.get(*k).is_some_and(|x| x == v))
            })
            .map(|e| e.id.clone())
            .collect();
        backends.sort();
        backends.dedup();
        out.push(ServiceSpec {
            key: key.clone(),
            network,
            vip: st.vip,
            ports,
            backends,
        });
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use contiv_core::datapath::{DpOp, HostState};
    use contiv_core::ir::PolicyDelta;
    use serde_json::json;

    fn view() -> HostView {
        let mut v = HostView::default();
        for (k, val) in [
            (
                "obj/network/default:net",
                json!({"tenantName":"default","networkName":"net","encap":"vxlan","subnet":"10.1.1.0/24","gateway":"10.1.1.254"}),
            ),
            (
                "oper/network/default:net",
                json!({"key":"default:net","tenant_id":1,"encap":"vxlan","pkt_tag":2,"ext_pkt_tag":5000}),
            ),
            (
                "obj/network/default:nostate",
                json!({"tenantName":"default","networkName":"nostate","encap":"vxlan","subnet":"10.2.1.0/24"}),
            ),
            ("node/me", json!({"hostname":"me","vtep_ip":"192.0.2.1"})),
            (
                "node/other",
                json!({"hostname":"other","vtep_ip":"192.0.2.2"}),
            ),
            (
                "node/clone",
                json!({"hostname":"clone","vtep_ip":"192.0.2.2"}),
            ),
            (
                "ep/default:net/a",
                json!({"id":"a","tenant":"default","network":"net","epg_id":0,"ipv4":"10.1.1.1","ipv4_prefix":24,"mac":"02:02:0a:01:01:01","host":"me","intf_name":"vpa"}),
            ),
            (
                "ep/default:net/b",
                json!({"id":"b","tenant":"default","network":"net","group":"g","epg_id":7,"ipv4":"10.1.1.2","ipv4_prefix":24,"mac":"02:02:0a:01:01:02","host":"other"}),
            ),
            (
                "ep/default:net/c",
                json!({"id":"c","tenant":"default","network":"net","ipv4":"10.1.1.3","ipv4_prefix":24,"mac":"02:02:0a:01:01:03","host":"gone"}),
            ),
            (
                "ep/default:nostate/d",
                json!({"id":"d","tenant":"default","network":"nostate","ipv4":"10.2.1.3","ipv4_prefix":24,"mac":"02:02:0a:02:01:03","host":"me"}),
            ),
            (
                "ep/default:net/e",
                json!({"id":"e","tenant":"default","network":"net","group":"g","epg_id":7,"ipv4":"10.1.1.5","ipv4_prefix":24,"mac":"02:02:0a:01:01:05","host":"me"}),
            ),
        ] {
            assert!(v.apply_key(k, Some(&val)).is_some(), "{k}");
        }
        v
    }

    fn me() -> HostIdentity {
        HostIdentity {
            host: "me".into(),
            vtep: "192.0.2.1".parse().unwrap(),
            mtu: 1450,
        }
    }

    #[test]
    fn desired_state_follows_the_rules_of_the_module_docs() {
        let v = view();
        let mut intents = BTreeMap::new();
        intents.insert(
            "e".to_owned(),
            LocalIntent::Plumb {
                attachment: Attachment::Netns {
                    netns: "/run/netns/x".into(),
                    ifname: "eth0".into(),
                },
                mtu: 1400,
                error: None,
            },
        );
        let d = desired(&v, &me(), &intents);
        let s = &d.state;
        assert_eq!(s.networks.len(), 1, "the network without tags is left out");
        assert_eq!(s.networks[0].vni, Some(5000));
        assert_eq!(
            s.networks[0].vlan, 0,
            "a VXLAN network carries no VLAN: the host-local one is the backend's business"
        );
        assert_eq!(s.networks[0].gateway, Some("10.1.1.254".parse().unwrap()));
        let ids: Vec<&str> = s.local_endpoints.iter().map(|e| e.id.as_str()).collect();
        assert_eq!(ids, ["a", "e"]);
        assert_eq!(s.local_endpoints[0].attachment, Attachment::Existing);
        assert_eq!(s.local_endpoints[0].host_ifname, "vpa");
        assert_eq!(s.local_endpoints[0].mtu, 1450);
        assert_eq!(
            s.local_endpoints[0].ipv4,
            Some("10.1.1.1/24".parse().unwrap())
        );
        assert!(matches!(
            s.local_endpoints[1].attachment,
            Attachment::Netns { .. }
        ));
        assert_eq!(s.local_endpoints[1].mtu, 1400);
        assert_eq!(
            s.local_endpoints[1].host_ifname,
            super::super::ifnames::host_ifname("e")
        );
        // b is remote with its node's VTEP; c's node is gone.
        assert_eq!(s.remote_endpoints.len(), 1);
        assert_eq!(s.remote_endpoints[0].id, "b");
        assert_eq!(
            s.remote_endpoints[0].vtep,
            "192.0.2.2".parse::<IpAddr>().unwrap()
        );
        // One peer per address, never ourselves.
        assert_eq!(s.peers.len(), 1);
        assert_eq!(d.local_epgs, BTreeSet::from([7]));
        assert_eq!(d.local_tenants, BTreeSet::from([1]));

        // Removing / failed intents keep the endpoint out.
        intents.insert(
            "a".into(),
            LocalIntent::Removing {
                since: Instant::now(),
            },
        );
        intents.insert(
            "e".into(),
            LocalIntent::Plumb {
                attachment: Attachment::Existing,
                mtu: 1,
                error: Some("refused".into()),
            },
        );
        let d = desired(&v, &me(), &intents);
        assert!(d.state.local_endpoints.is_empty());
        assert!(d.local_epgs.is_empty() && d.local_tenants.is_empty());
    }

    #[test]
    fn diff_reaches_the_target_and_is_empty_when_equal() {
        let v = view();
        let d = desired(&v, &me(), &BTreeMap::new()).state;
        let ops = HostState::default().diff(&d, PolicyDelta::default());
        assert!(matches!(ops[0], DpOp::AddNetwork(_)), "{ops:?}");
        let mut applied = HostState::default();
        for op in &ops {
            applied.record(op);
        }
        assert_eq!(applied, HostState::from_desired_unchecked(&d));
        assert!(applied.diff(&d, PolicyDelta::default()).is_empty());

        // The node of b vanishes: exactly its endpoint and the peer go.
        let mut v2 = v.clone();
        v2.apply_key("node/other", None);
        v2.apply_key("node/clone", None);
        let d2 = desired(&v2, &me(), &BTreeMap::new()).state;
        let ops = applied.diff(&d2, PolicyDelta::default());
        assert_eq!(
            ops,
            vec![
                DpOp::RemoveRemoteEndpoint("b".into()),
                DpOp::RemovePeer("192.0.2.2".parse().unwrap())
            ]
        );
    }

    #[test]
    fn published_ports_follow_their_local_endpoints() {
        use contiv_core::datapath::ServiceProtocol;
        let mut v = view();
        let pp = |ep: &str, host_port: u16| json!({"endpoint": ep, "protocol": "tcp", "host_ip": null, "host_port": host_port, "port": 80});
        for (k, val) in [
            // a: local, on an external network: its port is realised.
            (
                "ep/default:net/a",
                json!({"id":"a","tenant":"default","network":"net","epg_id":0,"ipv4":"10.1.1.1","ipv4_prefix":24,"mac":"02:02:0a:01:01:01","host":"me","intf_name":"vpa","published":[pp("a", 9099)]}),
            ),
            // b: on another host: its host port is not ours.
            (
                "ep/default:net/b",
                json!({"id":"b","tenant":"default","network":"net","epg_id":7,"ipv4":"10.1.1.2","ipv4_prefix":24,"mac":"02:02:0a:01:01:02","host":"other","published":[pp("b", 9100)]}),
            ),
            // e: local, but claims a's host port (and names someone else).
            (
                "ep/default:net/e",
                json!({"id":"e","tenant":"default","network":"net","group":"g","epg_id":7,"ipv4":"10.1.1.5","ipv4_prefix":24,"mac":"02:02:0a:01:01:05","host":"me","published":[pp("e", 9099), pp("a", 9101), pp("e", 9102)]}),
            ),
        ] {
            assert!(v.apply_key(k, Some(&val)).is_some(), "{k}");
        }
        let d = desired(&v, &me(), &BTreeMap::new()).state;
        let got: Vec<(&str, u16)> = d
            .published
            .iter()
            .map(|p| (p.endpoint.as_str(), p.host_port))
            .collect();
        assert_eq!(got, [("a", 9099), ("e", 9102)]);
        assert_eq!(d.published[0].protocol, ServiceProtocol::Tcp);
        assert_eq!(d.published[0].port, 80);
        // The datapath's own checks accept the state as a whole.
        HostState::from_desired(&d).expect("a consistent desired state");

        // The endpoint's removal takes its ports with it, in the diff too.
        let mut applied = HostState::default();
        for op in HostState::default().diff(&d, PolicyDelta::default()) {
            applied.record(&op);
        }
        let mut intents = BTreeMap::new();
        intents.insert(
            "a".to_owned(),
            LocalIntent::Removing {
                since: Instant::now(),
            },
        );
        let d2 = desired(&v, &me(), &intents).state;
        // e's record asked for 9099 too: with a gone it takes the port
        // (replaced by key), and keeps 9102.
        let got: Vec<(&str, u16)> = d2
            .published
            .iter()
            .map(|p| (p.endpoint.as_str(), p.host_port))
            .collect();
        assert_eq!(got, [("e", 9099), ("e", 9102)]);
        for op in applied.diff(&d2, PolicyDelta::default()) {
            applied.record(&op);
        }
        assert!(applied.published.values().all(|p| p.endpoint == "e"));
        // Both gone: every port is removed.
        intents.insert(
            "e".to_owned(),
            LocalIntent::Removing {
                since: Instant::now(),
            },
        );
        let d3 = desired(&v, &me(), &intents).state;
        assert!(d3.published.is_empty());
        let ops = applied.diff(&d3, PolicyDelta::default());
        for k in applied.published.keys() {
            assert!(ops.contains(&DpOp::RemovePublishedPort(*k)), "{ops:?}");
        }

        // Without external access (an infra network) nothing is published.
        let mut v3 = v.clone();
        v3.apply_key(
            "obj/network/default:net",
            Some(&json!({"tenantName":"default","networkName":"net","encap":"vxlan","subnet":"10.1.1.0/24","gateway":"10.1.1.254","nwType":"infra"})),
        );
        assert!(
            desired(&v3, &me(), &BTreeMap::new())
                .state
                .published
                .is_empty()
        );
    }

    #[test]
    fn services_take_labelled_endpoints_of_their_network_as_backends() {
        let mut v = view();
        for (k, val) in [
            (
                "obj/serviceLB/default:web",
                json!({"tenantName":"default","serviceName":"web","networkName":"net","selectors":["app=web"],"ports":["80:8080:TCP"]}),
            ),
            (
                "oper/serviceLB/default:web",
                json!({"key":"default:web","vip":"10.1.1.100"}),
            ),
            (
                "obj/serviceLB/default:novip",
                json!({"tenantName":"default","serviceName":"novip","networkName":"net","selectors":["app=web"],"ports":["81:8080:TCP"]}),
            ),
            (
                "ep/default:net/a",
                json!({"id":"a","tenant":"default","network":"net","epg_id":0,"ipv4":"10.1.1.1","ipv4_prefix":24,"mac":"02:02:0a:01:01:01","host":"me","intf_name":"vpa","labels":{"app":"web"}}),
            ),
            (
                "ep/default:net/b",
                json!({"id":"b","tenant":"default","network":"net","group":"g","epg_id":7,"ipv4":"10.1.1.2","ipv4_prefix":24,"mac":"02:02:0a:01:01:02","host":"other","labels":{"app":"web","x":"y"}}),
            ),
            (
                "ep/default:net/c",
                json!({"id":"c","tenant":"default","network":"net","ipv4":"10.1.1.3","ipv4_prefix":24,"mac":"02:02:0a:01:01:03","host":"gone","labels":{"app":"web"}}),
            ),
            (
                "ep/default:net/e",
                json!({"id":"e","tenant":"default","network":"net","group":"g","epg_id":7,"ipv4":"10.1.1.5","ipv4_prefix":24,"mac":"02:02:0a:01:01:05","host":"me","labels":{"app":"db"}}),
            ),
        ] {
            assert!(v.apply_key(k, Some(&val)).is_some(), "{k}");
        }
        let d = desired(&v, &me(), &BTreeMap::new()).state;
        assert_eq!(d.services.len(), 1, "no VIP, no service: {:?}", d.services);
        let sv = &d.services[0];
        assert_eq!(sv.vip, "10.1.1.100".parse::<std::net::Ipv4Addr>().unwrap());
        assert_eq!(sv.network, "default:net");
        assert_eq!(sv.ports[0].svc_port, 80);
        assert_eq!(sv.ports[0].prov_port, 8080);
        // a (local) and b (remote) match; c's node is gone; e's label differs.
        assert_eq!(sv.backends, ["a", "b"]);
        // The state is one the datapath accepts.
        HostState::from_desired(&d).unwrap();
        // A provider leaving its node: the service follows.
        v.apply_key("node/other", None);
        v.apply_key("node/clone", None);
        let d = desired(&v, &me(), &BTreeMap::new()).state;
        assert_eq!(d.services[0].backends, ["a"]);
        // Data networks have external access, infra ones do not.
        assert!(d.networks[0].external);
    }
}
