//! The original's table layouts, rendered through [`TabWriter`].
//!
//! Headers, dash rows (including their odd lengths, such as the nine dashes
//! under `From IpAddress`) and the cells of every row are the original's
//! (`netctl/netctl.go`), so the bytes match `netctl-golden.txt`, trailing
//! spaces included.

use super::tabwriter::TabWriter;
use contiv_core::model::{
    AciGw, AppProfile, Bgp, EndpointGroup, ExtContractsGroup, Global, Netprofile, Network, Policy,
    Rule, ServiceLB, Tenant,
};

/// Appends one line: cells joined by tabs, then a newline.
fn line(out: &mut String, cells: &[&str]) {
    out.push_str(&cells.join("\t"));
    out.push('\n');
}

/// Go's `%v` of a `[]string`: `[a b c]`.
pub fn go_slice(items: &[String]) -> String {
    format!("[{}]", items.join(" "))
}

/// `net ls`: ten columns; the header's last cell is `Cfgd Tag ` (with a
/// space) and the packet tag is the configured one (0 = auto).
pub fn networks(list: &[Network]) -> String {
    let mut t = String::new();
    line(
        &mut t,
        &[
            "Tenant",
            "Network",
            "Nw Type",
            "Encap type",
            "Packet tag",
            "Subnet",
            "Gateway",
            "IPv6Subnet",
            "IPv6Gateway",
            "Cfgd Tag ",
        ],
    );
    line(
        &mut t,
        &[
            "------",
            "-------",
            "-------",
            "----------",
            "----------",
            "-------",
            "------",
            "----------",
            "-----------",
            "---------",
        ],
    );
    for n in list {
        let tag = n.pkt_tag.to_string();
        line(
            &mut t,
            &[
                &n.tenant_name,
                &n.network_name,
                &n.nw_type,
                &n.encap,
                &tag,
                &n.subnet,
                &n.gateway,
                &n.ipv6_subnet,
                &n.ipv6_gateway,
                &n.cfgd_tag,
            ],
        );
    }
    TabWriter::netctl(2).format(&t)
}

/// `group ls`: policies comma-joined.
pub fn groups(list: &[EndpointGroup]) -> String {
    let mut t = String::new();
    line(
        &mut t,
        &[
            "Tenant",
            "Group",
            "Network",
            "IP Pool",
            "CfgdTag",
            "Policies",
            "Network profile",
        ],
    );
    line(
        &mut t,
        &[
            "------",
            "-----",
            "-------",
            "-------",
            "-------",
            "--------",
            "---------------",
        ],
    );
    for g in list {
        let policies = g.policies.join(",");
        line(
            &mut t,
            &[
                &g.tenant_name,
                &g.group_name,
                &g.network_name,
                &g.ip_pool,
                &g.cfgd_tag,
                &policies,
                &g.net_profile,
            ],
        );
    }
    TabWriter::netctl(2).format(&t)
}

/// `policy ls`.
pub fn policies(list: &[Policy]) -> String {
    let mut t = String::new();
    line(&mut t, &["Tenant", "Policy"]);
    line(&mut t, &["------", "------"]);
    for p in list {
        line(&mut t, &[&p.tenant_name, &p.policy_name]);
    }
    TabWriter::netctl(2).format(&t)
}

/// Rules in `rule-ls` order: ascending priority, list order kept among
/// equal priorities (the original grouped by priority, then sorted).
pub fn sort_rules(mut rules: Vec<Rule>) -> Vec<Rule> {
    rules.sort_by_key(|r| r.priority);
    rules
}

/// `policy rule-ls`: an `Incoming Rules:` section with the `in` rules and
/// an `Outgoing Rules:` section with the `out` rules, in the given order.
pub fn rules(list: &[Rule]) -> String {
    let mut t = String::from("Incoming Rules:\n");
    line(
        &mut t,
        &[
            "Rule",
            "Priority",
            "From EndpointGroup",
            "From Network",
            "From IpAddress",
            "To IpAddress",
            "Protocol",
            "Port",
            "Action",
        ],
    );
    line(
        &mut t,
        &[
            "----",
            "--------",
            "------------------",
            "------------",
            "---------",
            "------------",
            "--------",
            "----",
            "------",
        ],
    );
    for r in list.iter().filter(|r| r.direction == "in") {
        let (prio, port) = (r.priority.to_string(), r.port.to_string());
        line(
            &mut t,
            &[
                &r.rule_id,
                &prio,
                &r.from_endpoint_group,
                &r.from_network,
                &r.from_ip_address,
                &r.to_ip_address,
                &r.protocol,
                &port,
                &r.action,
            ],
        );
    }
    t.push_str("Outgoing Rules:\n");
    line(
        &mut t,
        &[
            "Rule",
            "Priority",
            "To EndpointGroup",
            "To Network",
            "To IpAddress",
            "Protocol",
            "Port",
            "Action",
        ],
    );
    line(
        &mut t,
        &[
            "----",
            "--------",
            "----------------",
            "----------",
            "---------",
            "--------",
            "----",
            "------",
        ],
    );
    for r in list.iter().filter(|r| r.direction == "out") {
        let (prio, port) = (r.priority.to_string(), r.port.to_string());
        line(
            &mut t,
            &[
                &r.rule_id,
                &prio,
                &r.to_endpoint_group,
                &r.to_network,
                &r.to_ip_address,
                &r.protocol,
                &port,
                &r.action,
            ],
        );
    }
    TabWriter::netctl(2).format(&t)
}

/// `tenant ls` (tabwidth 4; every cell tab-terminated).
pub fn tenants(list: &[Tenant]) -> String {
    let mut t = String::from("Name\t\n------\t\n");
    for tenant in list {
        t.push_str(&tenant.tenant_name);
        t.push_str("\t\n");
    }
    TabWriter::netctl(4).format(&t)
}

/// `netprofile ls`, bandwidth normalised to `<n>Gbps|Mbps|Kbps` (a value
/// netmaster should have refused is shown as stored). Unlike the original,
/// the burst column is filled for profiles without a bandwidth too (the
/// original dropped it there).
pub fn netprofiles(list: &[Netprofile]) -> String {
    let mut t = String::new();
    line(
        &mut t,
        &["Name", "Tenant", "Bandwidth", "DSCP", "burst size"],
    );
    line(
        &mut t,
        &["------", "------", "---------", "--------", "----------"],
    );
    for p in list {
        let bw = match p.bandwidth_display() {
            Ok(Some(normalised)) => normalised,
            Ok(None) => String::new(),
            Err(_) => p.bandwidth.clone(),
        };
        let (dscp, burst) = (p.dscp.to_string(), p.burst.to_string());
        line(
            &mut t,
            &[&p.profile_name, &p.tenant_name, &bw, &dscp, &burst],
        );
    }
    TabWriter::netctl(2).format(&t)
}

/// `bgp ls`.
pub fn bgps(list: &[Bgp]) -> String {
    let mut t = String::new();
    line(
        &mut t,
        &["HostName", "RouterIP", "AS", "Neighbor", "NeighborAS"],
    );
    line(
        &mut t,
        &["---------", "--------", "-------", "--------", "-------"],
    );
    for b in list {
        line(
            &mut t,
            &[
                &b.hostname,
                &b.routerip,
                &b.as_,
                &b.neighbor,
                &b.neighbor_as,
            ],
        );
    }
    TabWriter::netctl(2).format(&t)
}

/// `app-profile ls`: groups comma-joined.
pub fn app_profiles(list: &[AppProfile]) -> String {
    let mut t = String::new();
    line(&mut t, &["Tenant", "AppProfile", "Groups"]);
    line(&mut t, &["------", "----------", "------"]);
    for p in list {
        let groups = p.endpoint_groups.join(",");
        line(&mut t, &[&p.tenant_name, &p.app_profile_name, &groups]);
    }
    TabWriter::netctl(2).format(&t)
}

/// `service ls`: selectors as a Go slice, each row ending with a tab.
pub fn services(list: &[ServiceLB]) -> String {
    let mut t = String::new();
    line(&mut t, &["ServiceName", "Tenant", "Network", "Selectors"]);
    line(&mut t, &["---------", "--------", "-------", "-------"]);
    for s in list {
        let selectors = go_slice(&s.selectors);
        line(
            &mut t,
            &[
                &s.service_name,
                &s.tenant_name,
                &s.network_name,
                &selectors,
                "",
            ],
        );
    }
    TabWriter::netctl(2).format(&t)
}

/// `external-contracts ls` (the original's uneven tab layout kept).
pub fn ext_contracts(list: &[ExtContractsGroup]) -> String {
    let mut t =
        String::from("Tenant\tName\t\tType\t\tContracts\n------\t------\t\t------\t\t-------\n");
    for c in list {
        let contracts = go_slice(&c.contracts);
        line(
            &mut t,
            &[
                &c.tenant_name,
                &c.contracts_group_name,
                "",
                &c.contracts_type,
                &contracts,
            ],
        );
    }
    TabWriter::netctl(2).format(&t)
}

/// `global info`: six lines per global object.
pub fn global_info(list: &[Global]) -> String {
    let mut t = String::new();
    for g in list {
        t.push_str(&format!(
            "Fabric mode: {}\nForward mode: {}\nARP mode: {}\nVlan Range: {}\nVxlan range: {}\nPrivate subnet: {}\n",
            g.network_infra_type, g.fwd_mode, g.arp_mode, g.vlans, g.vxlans, g.pvt_subnet
        ));
    }
    TabWriter::netctl(4).format(&t)
}

/// `aci-gw info`: five lines per aciGw object.
pub fn aci_gw_info(list: &[AciGw]) -> String {
    let mut t = String::new();
    for g in list {
        t.push_str(&format!(
            "Path bindings: {}\nNode bindings: {}\nPhysical domain: {}\nEnforce policies: {}\nInclude Common-Tenant: {}\n",
            g.path_bindings,
            g.node_bindings,
            g.physical_domain,
            g.enforce_policies,
            g.include_common_tenant
        ));
    }
    TabWriter::netctl(4).format(&t)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn netprofile_table_normalises_bandwidth_and_keeps_burst() {
        let p = |name: &str, bw: &str, burst: i64| Netprofile {
            profile_name: name.into(),
            tenant_name: "default".into(),
            bandwidth: bw.into(),
            dscp: 6,
            burst,
            ..Default::default()
        };
        let out = netprofiles(&[
            p("gold", "100 Mbps", 80),
            p("free", "", 5),
            p("odd", "fast", 0),
        ]);
        assert_eq!(
            out,
            "Name    Tenant   Bandwidth  DSCP      burst size\n\
             ------  ------   ---------  --------  ----------\n\
             gold    default  100Mbps    6         80\n\
             free    default             6         5\n\
             odd     default  fast       6         0\n"
        );
    }

    #[test]
    fn go_slices() {
        assert_eq!(go_slice(&[]), "[]");
        assert_eq!(go_slice(&["a=b".into(), "c=d".into()]), "[a=b c=d]");
    }
}
