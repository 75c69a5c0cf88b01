//! The `Oper` half of `inspect` answers, computed from the cache and the
//! allocator pools, with the original's field names.

use super::cache::ClusterView;
use super::{ApiError, ApiResult, Netmaster};
use contiv_core::model::{
    EndpointGroup, EndpointGroupOper, EndpointOper, Global, GlobalOper, ModelObject, Network,
    NetworkOper, Policy, PolicyOper, ServiceLB, ServiceLBOper, Tenant, TenantOper,
};
use contiv_core::records::EndpointRecord;
use serde_json::Value;

fn to_value<T: serde::Serialize>(v: &T) -> ApiResult<Value> {
    serde_json::to_value(v)
        .map_err(|e| ApiError::internal(format!("cannot encode oper state: {e}")))
}

/// The original's rendering of an endpoint.
pub fn endpoint_oper(view: &ClusterView, e: &EndpointRecord) -> EndpointOper {
    let labels = format!(
        "map[{}]",
        e.labels
            .iter()
            .map(|(k, v)| format!("{k}:{v}"))
            .collect::<Vec<_>>()
            .join(" ")
    );
    EndpointOper {
        key: e.id.clone(),
        container_id: e.container_id.clone(),
        container_name: e.container_name.clone(),
        endpoint_group_id: i64::from(e.epg_id),
        endpoint_group_key: if e.group.is_empty() {
            String::new()
        } else {
            format!("{}:{}", e.group, e.tenant)
        },
        endpoint_id: e.id.clone(),
        homing_host: e.host.clone(),
        intf_name: e.intf_name.clone(),
        ip_address: vec![
            e.ipv4.map(|a| a.to_string()).unwrap_or_default(),
            e.ipv6.map(|a| a.to_string()).unwrap_or_default(),
        ],
        labels,
        mac_address: e.mac.to_string(),
        network: format!("{}.{}", e.network, e.tenant),
        service_name: e.group.clone(),
        virtual_port: if e.intf_name.is_empty() {
            String::new()
        } else {
            format!("v{}", e.intf_name)
        },
        vtep_ip: view
            .nodes
            .get(&e.host)
            .map(|n| n.vtep_ip.to_string())
            .unwrap_or_default(),
        not_enforced: not_enforced(view, e),
    }
}

/// What the endpoint's netprofile and its network's external access ask
/// for that its host's datapath (as its agent registered it) does not
/// enforce.
fn not_enforced(view: &ClusterView, e: &EndpointRecord) -> Vec<String> {
    let Some(caps) = view.nodes.get(&e.host).and_then(|n| n.capabilities) else {
        return Vec::new();
    };
    let qos = e
        .group_key()
        .and_then(|g| view.epgs.get(&g))
        .filter(|g| !g.net_profile.is_empty())
        .and_then(|g| {
            view.netprofiles
                .get(&format!("{}:{}", e.tenant, g.net_profile))
                .map(|p| &**p)
        })
        .and_then(contiv_core::datapath::Qos::from_netprofile);
    let mut missing = qos.map(|q| q.not_enforced(&caps)).unwrap_or_default();
    // Data networks have external access (egress NAT, published ports).
    if view
        .networks
        .get(&e.network_key())
        .is_some_and(|n| n.nw_type != "infra")
    {
        missing.extend(caps.missing(&[
            contiv_core::datapath::Capability::EgressNat,
            contiv_core::datapath::Capability::PublishedPorts,
        ]));
        // Another tenant's endpoint with the same address on the same
        // host, also with external access (overlapping subnets).
        let overlapping = contiv_core::datapath::Capability::EgressNatOverlapping;
        if !caps.has(overlapping)
            && e.ipv4.is_some()
            && view.endpoints.values().any(|o| {
                o.host == e.host
                    && o.tenant != e.tenant
                    && o.ipv4 == e.ipv4
                    && view
                        .networks
                        .get(&o.network_key())
                        .is_some_and(|n| n.nw_type != "infra")
            })
        {
            missing.push(overlapping);
        }
    }
    missing.iter().map(|c| c.name().to_owned()).collect()
}

/// Oper of a network.
pub async fn network(nm: &Netmaster, n: &Network) -> ApiResult<Value> {
    let key = n.derived_key();
    let (allocated, available, count) = match nm
        .ipam
        .network_v4(&key)
        .read(|p| {
            (
                p.allocated_summary(),
                p.available_summary(),
                p.allocated_count(),
            )
        })
        .await
    {
        Ok(x) => x,
        Err(contiv_ipam::IpamError::UnknownPool { .. }) => (String::new(), String::new(), 0),
        Err(e) => return Err(e.into()),
    };
    let v = nm.cache.read();
    let st = v.network_states.get(&key);
    let endpoints: Vec<EndpointOper> = v.endpoints_on(&key).map(|e| endpoint_oper(&v, e)).collect();
    to_value(&NetworkOper {
        allocated_addresses_count: i64::from(count),
        allocated_ip_addresses: allocated,
        available_ip_addresses: available,
        num_endpoints: endpoints.len() as i64,
        endpoints,
        external_pkt_tag: st.map(|s| i64::from(s.ext_pkt_tag)).unwrap_or_default(),
        network_tag: if n.cfgd_tag.is_empty() {
            format!("{}.{}", n.network_name, n.tenant_name)
        } else {
            n.cfgd_tag.clone()
        },
        pkt_tag: st.map(|s| i64::from(s.pkt_tag)).unwrap_or_default(),
    })
}

/// Oper of an endpoint group.
pub async fn endpoint_group(nm: &Netmaster, g: &EndpointGroup) -> ApiResult<Value> {
    let key = g.derived_key();
    let (allocated, available) = if g.ip_pool.is_empty() {
        (String::new(), String::new())
    } else {
        match nm
            .ipam
            .group_v4(&key)
            .read(|p| (p.allocated_summary(), p.available_summary()))
            .await
        {
            Ok(x) => x,
            Err(contiv_ipam::IpamError::UnknownPool { .. }) => (String::new(), String::new()),
            Err(e) => return Err(e.into()),
        }
    };
    let v = nm.cache.read();
    let st = v
        .network_states
        .get(&format!("{}:{}", g.tenant_name, g.network_name));
    let endpoints: Vec<EndpointOper> = v
        .endpoints_in_group(&g.tenant_name, &g.group_name)
        .map(|e| endpoint_oper(&v, e))
        .collect();
    to_value(&EndpointGroupOper {
        allocated_ip_addresses: allocated,
        available_ip_addresses: available,
        num_endpoints: endpoints.len() as i64,
        endpoints,
        external_pkt_tag: st.map(|s| i64::from(s.ext_pkt_tag)).unwrap_or_default(),
        group_tag: if g.cfgd_tag.is_empty() {
            format!("{}.{}", g.group_name, g.tenant_name)
        } else {
            g.cfgd_tag.clone()
        },
        pkt_tag: st.map(|s| i64::from(s.pkt_tag)).unwrap_or_default(),
    })
}

fn policy_oper(v: &ClusterView, p: &Policy) -> PolicyOper {
    let mut endpoints = Vec::new();
    for g in v.epgs_using_policy(&p.tenant_name, &p.policy_name) {
        endpoints.extend(
            v.endpoints_in_group(&g.tenant_name, &g.group_name)
                .map(|e| endpoint_oper(v, e)),
        );
    }
    PolicyOper {
        num_endpoints: endpoints.len() as i64,
        endpoints,
        policy_violations: 0,
    }
}

/// Oper of a policy.
pub fn policy(nm: &Netmaster, p: &Policy) -> ApiResult<Value> {
    let v = nm.cache.read();
    to_value(&policy_oper(&v, p))
}

/// Oper of a tenant.
pub async fn tenant(nm: &Netmaster, t: &Tenant) -> ApiResult<Value> {
    let name = t.tenant_name.as_str();
    let (networks, groups): (Vec<Network>, Vec<EndpointGroup>) = {
        let v = nm.cache.read();
        (
            v.networks_of(name).cloned().collect(),
            v.epgs
                .values()
                .filter(|g| g.tenant_name == name)
                .map(|g| (**g).clone())
                .collect(),
        )
    };
    let mut net_opers = Vec::new();
    for n in &networks {
        net_opers
            .push(serde_json::from_value::<NetworkOper>(network(nm, n).await?).unwrap_or_default());
    }
    let mut epg_opers = Vec::new();
    for g in &groups {
        epg_opers.push(
            serde_json::from_value::<EndpointGroupOper>(endpoint_group(nm, g).await?)
                .unwrap_or_default(),
        );
    }
    let v = nm.cache.read();
    let endpoints: Vec<EndpointOper> = v
        .endpoints_of_tenant(name)
        .map(|e| endpoint_oper(&v, e))
        .collect();
    let policies: Vec<PolicyOper> = v
        .policies
        .values()
        .filter(|p| p.tenant_name == name)
        .map(|p| policy_oper(&v, p))
        .collect();
    let services: Vec<ServiceLBOper> = v
        .service_lbs
        .values()
        .filter(|s| s.tenant_name == name)
        .map(|s| service_oper(&v, s))
        .collect();
    to_value(&TenantOper {
        total_app_profiles: v
            .app_profiles
            .values()
            .filter(|p| p.tenant_name == name)
            .count() as i64,
        total_epgs: groups.len() as i64,
        total_endpoints: endpoints.len() as i64,
        total_netprofiles: v
            .netprofiles
            .values()
            .filter(|p| p.tenant_name == name)
            .count() as i64,
        total_networks: networks.len() as i64,
        total_policies: policies.len() as i64,
        total_servicelbs: services.len() as i64,
        endpoint_groups: epg_opers,
        endpoints,
        networks: net_opers,
        policies,
        servicelbs: services,
    })
}

/// Oper of the global settings.
pub async fn global(nm: &Netmaster, g: &Global) -> ApiResult<Value> {
    let vlans = nm
        .ipam
        .vlans()
        .read(|p| p.summary())
        .await
        .unwrap_or_default();
    let vxlans = nm
        .ipam
        .vxlans()
        .read(|p| p.summary())
        .await
        .unwrap_or_default();
    let free_start = g
        .vxlan_range()
        .map(|(a, _)| i64::from(a) - 1)
        .unwrap_or_default();
    let v = nm.cache.read();
    to_value(&GlobalOper {
        cluster_mode: nm.settings.cluster_mode.clone(),
        default_network: String::new(),
        free_vxlans_start: free_start,
        num_networks: v.networks.len() as i64,
        vlans_in_use: vlans,
        vxlans_in_use: vxlans,
    })
}

fn service_oper(v: &ClusterView, s: &ServiceLB) -> ServiceLBOper {
    let selectors: Vec<(String, String)> = s
        .selector_pairs()
        .map(|p| {
            p.into_iter()
                .map(|(a, b)| (a.to_owned(), b.to_owned()))
                .collect()
        })
        .unwrap_or_default();
    let providers: Vec<EndpointOper> = v
        .endpoints_of_tenant(&s.tenant_name)
        .filter(|e| {
            !selectors.is_empty()
                && selectors
                    .iter()
                    .all(|(k, val)| e.labels.get(k).is_some_and(|x| x == val))
        })
        .map(|e| endpoint_oper(v, e))
        .collect();
    ServiceLBOper {
        num_providers: providers.len() as i64,
        providers,
        service_vip: v
            .service_states
            .get(&s.derived_key())
            .map(|st| st.vip.to_string())
            .unwrap_or_default(),
    }
}

/// Oper of a service.
pub fn service_lb(nm: &Netmaster, s: &ServiceLB) -> ApiResult<Value> {
    let v = nm.cache.read();
    to_value(&service_oper(&v, s))
}

/// `GET /api/v1/inspect/endpoints/{key}/`: the first endpoint whose id,
/// container id or container name contains `key` (as the original).
pub fn endpoint(nm: &Netmaster, key: &str) -> ApiResult<Value> {
    let v = nm.cache.read();
    let found = v.endpoints.values().find(|e| {
        e.id.contains(key)
            || (!e.container_id.is_empty() && e.container_id.contains(key))
            || (!e.container_name.is_empty() && e.container_name.contains(key))
    });
    match found {
        Some(e) => to_value(&contiv_core::model::EndpointInspect {
            oper: endpoint_oper(&v, e),
        }),
        None => Err(ApiError::not_found("endpoint not found")),
    }
}
