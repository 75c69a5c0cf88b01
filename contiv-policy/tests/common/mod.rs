//! Helpers shared by the integration tests: terse builders for model
//! objects, a brute-force evaluator of the *intent* (independent of the
//! compiler and the oracle), and delta normalisation.
#![allow(dead_code)] // each test binary uses a different subset
#![allow(clippy::unwrap_used)] // test code: a panic is a test failure

use contiv_core::ir::{Action, PolicyDelta};
use contiv_core::model::{EndpointGroup, Network, Rule};
use contiv_policy::{ConnState, Intent, Packet, rule_id};
use std::net::IpAddr;

/// A rule builder: `rule("default", "pol", "1").inbound().tcp().port(80).deny()`.
#[derive(Clone, Debug)]
pub struct RuleB(pub Rule);

pub fn rule(tenant: &str, policy: &str, id: &str) -> RuleB {
    RuleB(Rule {
        tenant_name: tenant.into(),
        policy_name: policy.into(),
        rule_id: id.into(),
        direction: "in".into(),
        action: "allow".into(),
        ..Rule::default()
    })
}

impl RuleB {
    pub fn inbound(mut self) -> Self {
        self.0.direction = "in".into();
        self
    }
    pub fn outbound(mut self) -> Self {
        self.0.direction = "out".into();
        self
    }
    pub fn proto(mut self, p: &str) -> Self {
        self.0.protocol = p.into();
        self
    }
    pub fn tcp(self) -> Self {
        self.proto("tcp")
    }
    pub fn udp(self) -> Self {
        self.proto("udp")
    }
    pub fn icmp(self) -> Self {
        self.proto("icmp")
    }
    pub fn port(mut self, p: i64) -> Self {
        self.0.port = p;
        self
    }
    pub fn prio(mut self, p: i64) -> Self {
        self.0.priority = p;
        self
    }
    pub fn allow(mut self) -> Self {
        self.0.action = "allow".into();
        self
    }
    pub fn deny(mut self) -> Self {
        self.0.action = "deny".into();
        self
    }
    pub fn src_group(mut self, g: &str) -> Self {
        self.0.from_endpoint_group = g.into();
        self
    }
    pub fn dst_group(mut self, g: &str) -> Self {
        self.0.to_endpoint_group = g.into();
        self
    }
    pub fn src_net(mut self, n: &str) -> Self {
        self.0.from_network = n.into();
        self
    }
    pub fn dst_net(mut self, n: &str) -> Self {
        self.0.to_network = n.into();
        self
    }
    pub fn src_ip(mut self, c: &str) -> Self {
        self.0.from_ip_address = c.into();
        self
    }
    pub fn dst_ip(mut self, c: &str) -> Self {
        self.0.to_ip_address = c.into();
        self
    }
    pub fn build(self) -> Rule {
        self.0
    }
}

pub fn group(tenant: &str, name: &str, network: &str, policies: &[&str]) -> EndpointGroup {
    EndpointGroup {
        tenant_name: tenant.into(),
        group_name: name.into(),
        network_name: network.into(),
        policies: policies.iter().map(|p| (*p).to_owned()).collect(),
        ..EndpointGroup::default()
    }
}

pub fn network(tenant: &str, name: &str, subnet: &str, subnet6: &str) -> Network {
    Network {
        tenant_name: tenant.into(),
        network_name: name.into(),
        encap: "vxlan".into(),
        subnet: subnet.into(),
        ipv6_subnet: subnet6.into(),
        ..Network::default()
    }
}

pub fn ip(s: &str) -> IpAddr {
    s.parse().unwrap()
}

/// Sorts every list of a delta so two deltas with the same effect compare
/// equal.
pub fn normalized(mut d: PolicyDelta) -> PolicyDelta {
    d.rules_removed.sort();
    d.rules_added.sort_by_key(|r| r.id);
    d.sets_removed.sort();
    d.sets_upserted.sort_by(|a, b| a.id.cmp(&b.id));
    d.members_removed.sort();
    d.members_added.sort();
    d
}

// ----- brute-force evaluation of the intent -------------------------------

/// The deciding rule as (policy key, rule id, group key).
pub type Origin = (String, String, String);

/// An independent reading of the semantics straight from the model objects
/// (strings parsed here, not by the crate): returns the action and the
/// deciding rule's origin, chosen as `Verdict::deciding_rule` documents.
pub fn brute_verdict(intent: &Intent, p: &Packet) -> (Action, Option<Origin>) {
    if p.src.tenant != p.dst.tenant {
        return (Action::Deny, None);
    }
    if p.state == ConnState::Reply {
        return (Action::Allow, None);
    }
    let Some(tenant) = intent
        .tenants
        .iter()
        .find(|(_, id)| **id == p.src.tenant)
        .map(|(n, _)| n.clone())
    else {
        return (Action::Allow, None);
    };
    let src_g = group_of(intent, &tenant, p.src.ip);
    let dst_g = group_of(intent, &tenant, p.dst.ip);
    let egress = stage(
        intent,
        &tenant,
        p,
        "out",
        src_g.as_deref(),
        p.src.ip,
        dst_g.as_deref(),
        p.dst.ip,
    );
    let ingress = stage(
        intent,
        &tenant,
        p,
        "in",
        dst_g.as_deref(),
        p.dst.ip,
        src_g.as_deref(),
        p.src.ip,
    );
    let deny = |s: &Option<(Action, Origin)>| matches!(s, Some((Action::Deny, _)));
    if deny(&egress) {
        return (Action::Deny, egress.map(|s| s.1));
    }
    if deny(&ingress) {
        return (Action::Deny, ingress.map(|s| s.1));
    }
    (Action::Allow, ingress.or(egress).map(|s| s.1))
}

fn group_of(intent: &Intent, tenant: &str, addr: IpAddr) -> Option<String> {
    let ep = intent
        .endpoints
        .values()
        .find(|e| e.tenant == tenant && e.ips.contains(&addr))?;
    let g = ep.epg.clone()?;
    intent.epgs.contains_key(&g).then_some(g)
}

fn parse_net(s: &str) -> Option<ipnet::IpNet> {
    if let Ok(n) = s.parse::<ipnet::IpNet>() {
        return Some(n);
    }
    s.parse::<IpAddr>().ok().map(ipnet::IpNet::from)
}

fn network_contains(intent: &Intent, key: &str, addr: IpAddr) -> bool {
    let Some(n) = intent.networks.get(key) else {
        return false;
    };
    let v4 = match n.subnet.split_once('-') {
        // "a.b.c.d-e.f.g.h/len": the network is a.b.c.d/len
        Some((start, rest)) => format!("{start}/{}", rest.rsplit_once('/').map_or("", |x| x.1)),
        None => n.subnet.clone(),
    };
    [v4, n.ipv6_subnet.clone()]
        .iter()
        .filter(|s| !s.is_empty())
        .filter_map(|s| parse_net(s))
        .any(|net| net.contains(&addr))
}

#[allow(clippy::too_many_arguments)]
fn stage(
    intent: &Intent,
    tenant: &str,
    p: &Packet,
    dir: &str,
    local_group: Option<&str>,
    local_ip: IpAddr,
    peer_group: Option<&str>,
    peer_ip: IpAddr,
) -> Option<(Action, Origin)> {
    let g = local_group?;
    let epg = &intent.epgs.get(g)?.group;
    let mut best: Option<(u8, bool, u64, Action, Origin)> = None;
    for pol in &epg.policies {
        for r in intent.rules.values() {
            if r.tenant_name != tenant || r.policy_name != *pol || r.direction != dir {
                continue;
            }
            let (pg, pn, pi) = if dir == "in" {
                (&r.from_endpoint_group, &r.from_network, &r.from_ip_address)
            } else {
                (&r.to_endpoint_group, &r.to_network, &r.to_ip_address)
            };
            let peer_ok = if !pg.is_empty() {
                peer_group == Some(format!("{tenant}:{pg}").as_str())
            } else if !pn.is_empty() {
                network_contains(intent, &format!("{tenant}:{pn}"), peer_ip)
            } else if !pi.is_empty() {
                parse_net(pi).is_some_and(|n| n.contains(&peer_ip))
            } else {
                true
            };
            let local_ok = dir != "in"
                || r.to_ip_address.is_empty()
                || parse_net(&r.to_ip_address).is_some_and(|n| n.contains(&local_ip));
            let proto_ok = match r.protocol.as_str() {
                "" | "0" => true,
                "tcp" => p.proto == 6,
                "udp" => p.proto == 17,
                "icmp" => p.proto == 1 || (p.proto == 58 && p.dst.ip.is_ipv6()),
                n => n.parse::<u8>().ok() == Some(p.proto),
            };
            let port_ok =
                r.port == 0 || ((p.proto == 6 || p.proto == 17) && i64::from(p.dst_port) == r.port);
            if !(peer_ok && local_ok && proto_ok && port_ok) {
                continue;
            }
            let prio = if r.priority == 0 { 1 } else { r.priority as u8 };
            let deny = r.action == "deny";
            let pkey = format!("{tenant}:{pol}");
            let id = rule_id(g, &pkey, &r.rule_id).0;
            let better = match &best {
                None => true,
                Some((bp, bd, bid, _, _)) => {
                    (prio, deny, std::cmp::Reverse(id)) > (*bp, *bd, std::cmp::Reverse(*bid))
                }
            };
            if better {
                let action = if deny { Action::Deny } else { Action::Allow };
                best = Some((
                    prio,
                    deny,
                    id,
                    action,
                    (pkey, r.rule_id.clone(), g.to_owned()),
                ));
            }
        }
    }
    best.map(|(_, _, _, a, o)| (a, o))
}
