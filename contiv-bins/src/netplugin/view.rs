//! The agent's view of the cluster, built only from netmaster's watch
//! stream (`put`/`delete` lines with keys relative to the store root).
//!
//! A lean mirror of what an agent needs — model objects that matter to the
//! datapath and policy (global settings, networks, groups, rules,
//! netprofiles), netmaster's derived records (tenant, network and group
//! ids and tags), endpoints and nodes, and services (serviceLB objects and
//! their VIPs, for the built-in DNS). Applying a line returns what changed
//! so the policy compiler can be fed incrementally. Values that cannot be
//! decoded are logged and skipped; one bad record never stops the agent.

use crate::api::WatchLine;
use contiv_core::model::{
    Bgp, EndpointGroup, Global, ModelObject, Netprofile, Network, Rule, ServiceLB, Tenant,
};
use contiv_core::records::{
    EndpointRecord, EpgState, NetworkState, NodeRecord, ServiceState, TenantState,
};
use serde::Deserialize;
use serde::de::DeserializeOwned;
use std::collections::BTreeMap;
use tracing::warn;

/// What a watch line changed (keys as in [`HostView`]'s maps).
#[derive(Clone, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Change {
    /// The global settings.
    Global,
    /// A tenant's id (by tenant name).
    Tenant(String),
    /// A network object or its tags (by `tenant:network`).
    Network(String),
    /// A group object or its id (by `tenant:group`).
    Epg(String),
    /// A rule (by `tenant:policy:rule`).
    Rule(String),
    /// A netprofile (by `tenant:profile`).
    Netprofile(String),
    /// An endpoint (by `tenant:network/id`).
    Endpoint(String),
    /// A node (by hostname).
    Node(String),
    /// A service object or its VIP (by `tenant:service`).
    Service(String),
    /// A host's BGP settings (by hostname).
    Bgp(String),
}

/// Everything the agent knows about the cluster.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct HostView {
    /// Global settings (`obj/global/global`).
    pub global: Option<Global>,
    /// Tenant ids by tenant name (`oper/tenant/…`).
    pub tenants: BTreeMap<String, TenantState>,
    /// Networks by `tenant:network`.
    pub networks: BTreeMap<String, Network>,
    /// Allocated tags by network key (`oper/network/…`).
    pub network_states: BTreeMap<String, NetworkState>,
    /// Groups by `tenant:group`.
    pub epgs: BTreeMap<String, EndpointGroup>,
    /// Group ids by group key (`oper/endpointGroup/…`).
    pub epg_states: BTreeMap<String, EpgState>,
    /// Rules by `tenant:policy:rule`.
    pub rules: BTreeMap<String, Rule>,
    /// Netprofiles by `tenant:profile`.
    pub netprofiles: BTreeMap<String, Netprofile>,
    /// Endpoints by `tenant:network/id`.
    pub endpoints: BTreeMap<String, EndpointRecord>,
    /// Registered nodes by hostname.
    pub nodes: BTreeMap<String, NodeRecord>,
    /// Services (serviceLB objects) by `tenant:service`.
    pub service_lbs: BTreeMap<String, ServiceLB>,
    /// Service VIPs by `tenant:service` (`oper/serviceLB/…`).
    pub service_states: BTreeMap<String, ServiceState>,
    /// BGP settings by hostname (`obj/Bgp/…`).
    pub bgps: BTreeMap<String, Bgp>,
    /// The last store revision applied.
    pub revision: u64,
}

fn put_or_delete<T: DeserializeOwned>(
    map: &mut BTreeMap<String, T>,
    key: &str,
    value: Option<&serde_json::Value>,
) -> bool {
    match value {
        None => map.remove(key).is_some(),
        Some(v) => match T::deserialize(v) {
            Ok(t) => {
                map.insert(key.to_owned(), t);
                true
            }
            Err(e) => {
                warn!(key, error = %e, "ignoring an undecodable record from the watch stream");
                false
            }
        },
    }
}

impl HostView {
    /// Applies one `put` or `delete` line (or a snapshot's `nodes` line);
    /// other lines change nothing. Returns what changed, if the key is one
    /// the agent follows (for a `nodes` line: the first node; snapshots are
    /// installed whole, see [`HostView::all_changes`]).
    pub fn apply(&mut self, line: &WatchLine) -> Option<Change> {
        let (rev, key, value) = match line {
            WatchLine::Put { rev, key, value } => (*rev, key.as_str(), Some(value)),
            WatchLine::Delete { rev, key } => (*rev, key.as_str(), None),
            WatchLine::Nodes { rev, nodes } => {
                self.revision = self.revision.max(*rev);
                for n in nodes {
                    self.nodes.insert(n.0.clone(), n.record());
                }
                return nodes.first().map(|n| Change::Node(n.0.clone()));
            }
            _ => return None,
        };
        self.revision = self.revision.max(rev);
        self.apply_key(key, value)
    }

    /// Applies a value (`None` = deleted) at a key relative to the root.
    pub fn apply_key(&mut self, key: &str, value: Option<&serde_json::Value>) -> Option<Change> {
        let (area, rest) = key.split_once('/')?;
        match area {
            "obj" => {
                let (ty, k) = rest.split_once('/')?;
                match ty {
                    Global::TYPE => {
                        match value {
                            None => self.global = None,
                            Some(v) => match Global::deserialize(v) {
                                Ok(g) => self.global = Some(g),
                                Err(e) => {
                                    warn!(key, error = %e, "ignoring undecodable global settings");
                                    return None;
                                }
                            },
                        }
                        Some(Change::Global)
                    }
                    Network::TYPE => put_or_delete(&mut self.networks, k, value)
                        .then(|| Change::Network(k.to_owned())),
                    EndpointGroup::TYPE => {
                        put_or_delete(&mut self.epgs, k, value).then(|| Change::Epg(k.to_owned()))
                    }
                    Rule::TYPE => {
                        put_or_delete(&mut self.rules, k, value).then(|| Change::Rule(k.to_owned()))
                    }
                    Netprofile::TYPE => put_or_delete(&mut self.netprofiles, k, value)
                        .then(|| Change::Netprofile(k.to_owned())),
                    ServiceLB::TYPE => put_or_delete(&mut self.service_lbs, k, value)
                        .then(|| Change::Service(k.to_owned())),
                    Bgp::TYPE => {
                        put_or_delete(&mut self.bgps, k, value).then(|| Change::Bgp(k.to_owned()))
                    }
                    _ => None,
                }
            }
            "oper" => {
                let (ty, k) = rest.split_once('/')?;
                match ty {
                    Tenant::TYPE => put_or_delete(&mut self.tenants, k, value)
                        .then(|| Change::Tenant(k.to_owned())),
                    Network::TYPE => put_or_delete(&mut self.network_states, k, value)
                        .then(|| Change::Network(k.to_owned())),
                    EndpointGroup::TYPE => put_or_delete(&mut self.epg_states, k, value)
                        .then(|| Change::Epg(k.to_owned())),
                    ServiceLB::TYPE => put_or_delete(&mut self.service_states, k, value)
                        .then(|| Change::Service(k.to_owned())),
                    _ => None,
                }
            }
            "ep" => put_or_delete(&mut self.endpoints, rest, value)
                .then(|| Change::Endpoint(rest.to_owned())),
            "node" => {
                put_or_delete(&mut self.nodes, rest, value).then(|| Change::Node(rest.to_owned()))
            }
            _ => None,
        }
    }

    /// Every key of the view as a [`Change`] (for a full rebuild).
    pub fn all_changes(&self) -> Vec<Change> {
        let mut out = vec![Change::Global];
        out.extend(self.tenants.keys().map(|k| Change::Tenant(k.clone())));
        let nets: std::collections::BTreeSet<&String> = self
            .networks
            .keys()
            .chain(self.network_states.keys())
            .collect();
        out.extend(nets.into_iter().map(|k| Change::Network(k.clone())));
        let epgs: std::collections::BTreeSet<&String> =
            self.epgs.keys().chain(self.epg_states.keys()).collect();
        out.extend(epgs.into_iter().map(|k| Change::Epg(k.clone())));
        out.extend(self.rules.keys().map(|k| Change::Rule(k.clone())));
        out.extend(
            self.netprofiles
                .keys()
                .map(|k| Change::Netprofile(k.clone())),
        );
        out.extend(self.endpoints.keys().map(|k| Change::Endpoint(k.clone())));
        out.extend(self.nodes.keys().map(|k| Change::Node(k.clone())));
        let services: std::collections::BTreeSet<&String> = self
            .service_lbs
            .keys()
            .chain(self.service_states.keys())
            .collect();
        out.extend(services.into_iter().map(|k| Change::Service(k.clone())));
        out.extend(self.bgps.keys().map(|k| Change::Bgp(k.clone())));
        out
    }

    /// The endpoint with id `id` on any network.
    pub fn endpoint_by_id(&self, id: &str) -> Option<&EndpointRecord> {
        self.endpoints.values().find(|e| e.id == id)
    }

    /// The endpoint `id` on network `network_key`.
    pub fn endpoint(&self, network_key: &str, id: &str) -> Option<&EndpointRecord> {
        self.endpoints.get(&format!("{network_key}/{id}"))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn put(rev: u64, key: &str, value: serde_json::Value) -> WatchLine {
        WatchLine::Put {
            rev,
            key: key.into(),
            value,
        }
    }

    #[test]
    fn lines_update_the_maps_and_report_changes() {
        let mut v = HostView::default();
        let c = v.apply(&put(
            3,
            "obj/network/default:net",
            json!({"key":"default:net","tenantName":"default","networkName":"net","encap":"vxlan","subnet":"10.1.1.0/24"}),
        ));
        assert_eq!(c, Some(Change::Network("default:net".into())));
        assert_eq!(v.networks["default:net"].subnet, "10.1.1.0/24");
        let c = v.apply(&put(
            4,
            "oper/network/default:net",
            json!({"key":"default:net","tenant_id":1,"encap":"vxlan","pkt_tag":2,"ext_pkt_tag":5000}),
        ));
        assert_eq!(c, Some(Change::Network("default:net".into())));
        assert_eq!(v.network_states["default:net"].ext_pkt_tag, 5000);
        let c = v.apply(&put(
            5,
            "node/h1",
            json!({"hostname":"h1","vtep_ip":"192.0.2.1"}),
        ));
        assert_eq!(c, Some(Change::Node("h1".into())));
        assert_eq!(v.revision, 5);
        // Undecodable values are skipped, not fatal.
        assert_eq!(v.apply(&put(6, "node/h2", json!({"bogus": true}))), None);
        assert!(!v.nodes.contains_key("h2"));
        // Services and their VIPs.
        let c = v.apply(&put(
            7,
            "oper/serviceLB/default:web",
            json!({"key":"default:web","vip":"10.1.2.200"}),
        ));
        assert_eq!(c, Some(Change::Service("default:web".into())));
        assert_eq!(
            v.service_states["default:web"].vip,
            "10.1.2.200".parse::<std::net::Ipv4Addr>().unwrap()
        );
        // A host's BGP settings.
        let c = v.apply(&put(
            7,
            "obj/Bgp/h1",
            json!({"key":"h1","hostname":"h1","routerip":"50.1.1.1/24"}),
        ));
        assert_eq!(c, Some(Change::Bgp("h1".into())));
        assert_eq!(v.bgps["h1"].routerip, "50.1.1.1/24");
        // Keys the agent does not follow.
        assert_eq!(v.apply(&put(7, "obj/aciGw/aciGw", json!({}))), None);
        assert_eq!(v.apply(&WatchLine::Progress { rev: 9 }), None);
        let c = v.apply(&WatchLine::Delete {
            rev: 8,
            key: "node/h1".into(),
        });
        assert_eq!(c, Some(Change::Node("h1".into())));
        assert!(v.nodes.is_empty());
        assert_eq!(v.revision, 8);
        assert!(
            v.all_changes()
                .contains(&Change::Network("default:net".into()))
        );
    }

    #[test]
    fn a_compact_nodes_line_fills_the_nodes_as_their_puts_would() {
        let mut full = HostView::default();
        full.apply(&put(
            5,
            "node/h1",
            json!({"hostname":"h1","vtep_ip":"192.0.2.1","vxlan_port":4790}),
        ));
        let mut compact = HostView::default();
        let line: WatchLine = serde_json::from_value(json!(
            {"type":"nodes","rev":5,"nodes":[["h1","192.0.2.1",4790]]}
        ))
        .unwrap();
        assert_eq!(compact.apply(&line), Some(Change::Node("h1".into())));
        assert_eq!(compact, full);
    }
}
