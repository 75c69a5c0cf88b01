//! Typed views of the model objects the compiler consumes: a [`Rule`]
//! parsed into a [`RuleSpec`], a [`Network`] into its prefixes, names
//! checked. This is where field values and combinations are validated
//! (the compiler's own checks; netmaster's REST validation runs earlier).

use crate::PolicyError;
use crate::intent::EndpointInput;
use contiv_core::ir::{Action, AddrSetId, Direction, EpgId, MAX_EPG_ID, NO_EPG, PortRange};
use contiv_core::model::{EndpointGroup, Network, Rule};
use ipnet::IpNet;
use std::collections::BTreeSet;
use std::net::IpAddr;
use std::sync::Arc;

/// IP protocol number of ICMP.
pub const PROTO_ICMP: u8 = 1;
/// IP protocol number of TCP.
pub const PROTO_TCP: u8 = 6;
/// IP protocol number of UDP.
pub const PROTO_UDP: u8 = 17;
/// IP protocol number of ICMPv6.
pub const PROTO_ICMPV6: u8 = 58;

/// The peer a model rule names.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) enum PeerSpec {
    /// No peer field: any peer.
    Any,
    /// A group, by key (`tenant:group`).
    Epg(Arc<str>),
    /// A network, by key (`tenant:network`).
    Network(Arc<str>),
    /// A literal prefix.
    Cidr(IpNet),
}

/// Where an address set's prefixes come from.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) enum SetSource {
    /// The subnets of a network (by key).
    Network(Arc<str>),
    /// One literal prefix.
    Cidr(IpNet),
}

impl SetSource {
    /// The set's name in the IR.
    pub(crate) fn id(&self) -> AddrSetId {
        match self {
            SetSource::Network(key) => network_set_id(key),
            SetSource::Cidr(net) => cidr_set_id(net),
        }
    }
}

/// `net:<tenant>:<network>`.
pub(crate) fn network_set_id(network_key: &str) -> AddrSetId {
    AddrSetId(format!("net:{network_key}"))
}

/// `cidr:<prefix>` (the prefix in canonical, truncated form).
pub(crate) fn cidr_set_id(net: &IpNet) -> AddrSetId {
    AddrSetId(format!("cidr:{net}"))
}

/// A model rule, validated and typed.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) struct RuleSpec {
    /// `tenant:policy:ruleId`.
    pub key: Arc<str>,
    /// Length of the `tenant:policy` prefix of `key`.
    policy_len: usize,
    /// In or out.
    pub direction: Direction,
    /// The peer.
    pub peer: PeerSpec,
    /// `toIpAddress` of an `in` rule: the protected endpoint's address.
    pub local: Option<IpNet>,
    /// Protocol number, `None` = any.
    pub proto: Option<u8>,
    /// Destination port, `None` = any.
    pub ports: Option<PortRange>,
    /// 1..=100.
    pub priority: u8,
    /// Allow or deny.
    pub action: Action,
}

impl RuleSpec {
    /// Parses and validates a model rule.
    pub(crate) fn parse(rule: &Rule) -> Result<Self, PolicyError> {
        let key = format!("{}:{}:{}", rule.tenant_name, rule.policy_name, rule.rule_id);
        let bad = |reason: String| PolicyError::InvalidRule {
            rule: key.clone(),
            reason,
        };
        check_name("tenantName", &rule.tenant_name).map_err(bad)?;
        check_name("policyName", &rule.policy_name).map_err(bad)?;
        check_name("ruleId", &rule.rule_id).map_err(bad)?;
        let tenant = rule.tenant_name.as_str();

        let direction = match rule.direction.as_str() {
            "in" => Direction::In,
            "out" => Direction::Out,
            other => {
                return Err(bad(format!(
                    "direction {other:?} is not valid: use \"in\" or \"out\""
                )));
            }
        };
        let action = match rule.action.as_str() {
            "allow" => Action::Allow,
            "deny" => Action::Deny,
            other => {
                return Err(bad(format!(
                    "action {other:?} is not valid: use \"allow\" or \"deny\""
                )));
            }
        };
        let priority = match rule.priority {
            0 => 1,
            p @ 1..=100 => {
                u8::try_from(p).map_err(|_| bad(format!("priority {p} out of range")))?
            }
            p => {
                return Err(bad(format!(
                    "priority {p} is out of range: use 1..100 (higher wins; 0 means the default, 1)"
                )));
            }
        };
        let proto = parse_protocol(&rule.protocol).map_err(bad)?;
        let ports = match rule.port {
            0 => None,
            p @ 1..=65535 => Some(PortRange::single(
                u16::try_from(p).map_err(|_| bad(format!("port {p} out of range")))?,
            )),
            p => {
                return Err(bad(format!(
                    "port {p} is out of range: use 1..65535, or 0 for any port"
                )));
            }
        };
        if ports.is_some() && !matches!(proto, None | Some(PROTO_TCP) | Some(PROTO_UDP)) {
            return Err(bad(format!(
                "a port only applies to tcp or udp, but the protocol is {:?}: set protocol tcp or udp (or leave it empty for both), or set port 0",
                rule.protocol
            )));
        }

        let (peer_group, peer_net, peer_ip, forbidden): (_, _, _, &[(&str, &String)]) =
            match direction {
                Direction::In => (
                    &rule.from_endpoint_group,
                    &rule.from_network,
                    &rule.from_ip_address,
                    &[
                        ("toEndpointGroup", &rule.to_endpoint_group),
                        ("toNetwork", &rule.to_network),
                    ],
                ),
                Direction::Out => (
                    &rule.to_endpoint_group,
                    &rule.to_network,
                    &rule.to_ip_address,
                    &[
                        ("fromEndpointGroup", &rule.from_endpoint_group),
                        ("fromNetwork", &rule.from_network),
                        ("fromIpAddress", &rule.from_ip_address),
                    ],
                ),
            };
        for (field, value) in forbidden {
            if !value.is_empty() {
                let hint = match direction {
                    Direction::In => {
                        "an in rule names its peer with fromEndpointGroup, fromNetwork or fromIpAddress"
                    }
                    Direction::Out => {
                        "an out rule names its peer with toEndpointGroup, toNetwork or toIpAddress"
                    }
                };
                return Err(bad(format!(
                    "{field} cannot be used in an {} rule: {hint}",
                    rule.direction
                )));
            }
        }
        let named = [
            !peer_group.is_empty(),
            !peer_net.is_empty(),
            !peer_ip.is_empty(),
        ];
        if named.iter().filter(|&&b| b).count() > 1 {
            let (g, n, i) = match direction {
                Direction::In => ("fromEndpointGroup", "fromNetwork", "fromIpAddress"),
                Direction::Out => ("toEndpointGroup", "toNetwork", "toIpAddress"),
            };
            return Err(bad(format!(
                "name at most one peer: {g}, {n} or {i} (split the rule in two to match both)"
            )));
        }
        let peer = if !peer_group.is_empty() {
            check_name("peer group", peer_group).map_err(bad)?;
            PeerSpec::Epg(Arc::from(format!("{tenant}:{peer_group}")))
        } else if !peer_net.is_empty() {
            check_name("peer network", peer_net).map_err(bad)?;
            PeerSpec::Network(Arc::from(format!("{tenant}:{peer_net}")))
        } else if !peer_ip.is_empty() {
            PeerSpec::Cidr(parse_rule_prefix(peer_ip).map_err(bad)?)
        } else {
            PeerSpec::Any
        };
        let local = if direction == Direction::In && !rule.to_ip_address.is_empty() {
            Some(parse_rule_prefix(&rule.to_ip_address).map_err(bad)?)
        } else {
            None
        };

        Ok(RuleSpec {
            policy_len: tenant.len() + 1 + rule.policy_name.len(),
            key: Arc::from(key),
            direction,
            peer,
            local,
            proto,
            ports,
            priority,
            action,
        })
    }

    /// `tenant:policy`.
    pub(crate) fn policy_key(&self) -> &str {
        self.key.get(..self.policy_len).unwrap_or_default()
    }

    /// The `ruleId`.
    pub(crate) fn rule_id(&self) -> &str {
        self.key.get(self.policy_len + 1..).unwrap_or_default()
    }

    /// The group this rule names as peer, if any.
    pub(crate) fn peer_epg(&self) -> Option<&Arc<str>> {
        match &self.peer {
            PeerSpec::Epg(k) => Some(k),
            _ => None,
        }
    }

    /// The address sets the compiled rule references (peer, then local).
    pub(crate) fn sets(&self) -> impl Iterator<Item = SetSource> + '_ {
        let peer = match &self.peer {
            PeerSpec::Network(k) => Some(SetSource::Network(k.clone())),
            PeerSpec::Cidr(n) => Some(SetSource::Cidr(*n)),
            PeerSpec::Any | PeerSpec::Epg(_) => None,
        };
        peer.into_iter().chain(self.local.map(SetSource::Cidr))
    }
}

/// `tcp`/`udp`/`icmp`/a number 0..255/empty; empty and `0` mean any (the
/// original's datapath treated protocol 0 as a wildcard).
fn parse_protocol(s: &str) -> Result<Option<u8>, String> {
    match s {
        "" => Ok(None),
        n if !n.is_empty() && n.len() <= 3 && n.bytes().all(|b| b == b'0') => Ok(None),
        "tcp" => Ok(Some(PROTO_TCP)),
        "udp" => Ok(Some(PROTO_UDP)),
        "icmp" => Ok(Some(PROTO_ICMP)),
        n if !n.is_empty() && n.len() <= 3 && n.bytes().all(|b| b.is_ascii_digit()) => n
            .parse::<u8>()
            .map(Some)
            .map_err(|_| format!("protocol number {n} is out of range: use 0..255")),
        other => Err(format!(
            "protocol {other:?} is not valid: use tcp, udp, icmp, an IP protocol number, or leave it empty for any"
        )),
    }
}

/// A rule address: `a.b.c.d`, `a.b.c.d/len`, or the IPv6 forms; host bits
/// beyond the prefix are cleared.
fn parse_rule_prefix(s: &str) -> Result<IpNet, String> {
    if s.contains('-') {
        return Err(format!(
            "address range {s:?} is not supported in rules: use a prefix such as 10.1.1.0/24"
        ));
    }
    if let Ok(net) = s.parse::<IpNet>() {
        return Ok(net.trunc());
    }
    if let Ok(ip) = s.parse::<IpAddr>() {
        return Ok(IpNet::from(ip));
    }
    Err(format!(
        "{s:?} is not an address or prefix: use e.g. 10.1.1.5, 10.1.1.0/24 or 2001:db8::/64"
    ))
}

/// The prefixes of a network: its IPv4 `subnet` (the `-E.F.G.H` pool part
/// is dropped: the network is the whole prefix) and its `ipv6Subnet`,
/// truncated, sorted and de-duplicated.
pub(crate) fn network_prefixes(net: &Network) -> Result<Vec<IpNet>, PolicyError> {
    let key = format!("{}:{}", net.tenant_name, net.network_name);
    let bad = |reason: String| PolicyError::InvalidNetwork {
        network: key.clone(),
        reason,
    };
    check_name("tenantName", &net.tenant_name).map_err(bad)?;
    check_name("networkName", &net.network_name).map_err(bad)?;
    let mut out = Vec::with_capacity(2);
    if !net.subnet.is_empty() {
        let text = match (net.subnet.split_once('-'), net.subnet.rsplit_once('/')) {
            (Some((start, _)), Some((_, len))) => format!("{start}/{len}"),
            _ => net.subnet.clone(),
        };
        match text.parse::<IpNet>() {
            Ok(n @ IpNet::V4(_)) => out.push(n.trunc()),
            _ => {
                return Err(bad(format!(
                    "subnet {:?} is not an IPv4 prefix: use A.B.C.D/len or A.B.C.D-E.F.G.H/len",
                    net.subnet
                )));
            }
        }
    }
    if !net.ipv6_subnet.is_empty() {
        match net.ipv6_subnet.parse::<IpNet>() {
            Ok(n @ IpNet::V6(_)) => out.push(n.trunc()),
            _ => {
                return Err(bad(format!(
                    "ipv6Subnet {:?} is not an IPv6 prefix: use e.g. 2001:db8:1::/64",
                    net.ipv6_subnet
                )));
            }
        }
    }
    out.sort();
    out.dedup();
    Ok(out)
}

/// An endpoint group, validated.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) struct EpgSpec {
    /// `tenant:group`.
    pub key: Arc<str>,
    /// The tenant name.
    pub tenant: Arc<str>,
    /// Its id.
    pub id: EpgId,
    /// Keys (`tenant:policy`) of the attached policies.
    pub policies: BTreeSet<Arc<str>>,
}

impl EpgSpec {
    /// Validates a group and the id given to it.
    pub(crate) fn parse(group: &EndpointGroup, id: EpgId) -> Result<Self, PolicyError> {
        let key = format!("{}:{}", group.tenant_name, group.group_name);
        let bad = |reason: String| PolicyError::InvalidEpg {
            epg: key.clone(),
            reason,
        };
        check_name("tenantName", &group.tenant_name).map_err(bad)?;
        check_name("groupName", &group.group_name).map_err(bad)?;
        if id == NO_EPG || id > MAX_EPG_ID {
            return Err(bad(format!(
                "group id {id} is out of range: ids are 1..{MAX_EPG_ID}"
            )));
        }
        let mut policies = BTreeSet::new();
        for name in &group.policies {
            check_name("policy", name).map_err(bad)?;
            policies.insert(Arc::from(format!("{}:{name}", group.tenant_name)));
        }
        Ok(EpgSpec {
            key: Arc::from(key.as_str()),
            tenant: Arc::from(group.tenant_name.as_str()),
            id,
            policies,
        })
    }
}

/// An endpoint, validated.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) struct EndpointSpec {
    /// Endpoint id.
    pub id: Arc<str>,
    /// Tenant name.
    pub tenant: Arc<str>,
    /// Group key, if any.
    pub epg: Option<Arc<str>>,
    /// Addresses, sorted and de-duplicated.
    pub ips: Vec<IpAddr>,
}

impl EndpointSpec {
    /// Validates an endpoint: names, and that its network and group belong
    /// to its tenant.
    pub(crate) fn parse(ep: &EndpointInput) -> Result<Self, PolicyError> {
        let bad = |reason: String| PolicyError::InvalidEndpoint {
            endpoint: ep.id.clone(),
            reason,
        };
        if ep.id.is_empty() {
            return Err(bad("the endpoint id is empty".into()));
        }
        check_name("tenant", &ep.tenant).map_err(bad)?;
        let in_tenant = |field: &str, key: &str| -> Result<(), String> {
            match key.split_once(':') {
                Some((t, name)) if t == ep.tenant && check_name(field, name).is_ok() => Ok(()),
                _ => Err(format!(
                    "{field} {key:?} is not a key of tenant {}: expected \"{}:<name>\"",
                    ep.tenant, ep.tenant
                )),
            }
        };
        if !ep.network.is_empty() {
            in_tenant("network", &ep.network).map_err(bad)?;
        }
        if let Some(g) = &ep.epg {
            in_tenant("group", g).map_err(bad)?;
        }
        let mut ips = ep.ips.clone();
        ips.sort();
        ips.dedup();
        Ok(EndpointSpec {
            id: Arc::from(ep.id.as_str()),
            tenant: Arc::from(ep.tenant.as_str()),
            epg: ep.epg.as_deref().map(Arc::from),
            ips,
        })
    }
}

/// A name usable inside a `:`-joined key.
pub(crate) fn check_name(field: &str, value: &str) -> Result<(), String> {
    if value.is_empty() {
        return Err(format!("{field} is empty"));
    }
    if value.contains(':') || value.contains('\0') {
        return Err(format!(
            "{field} {value:?} contains ':' or NUL, which cannot appear in a name"
        ));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn rule(dir: &str) -> Rule {
        Rule {
            tenant_name: "default".into(),
            policy_name: "p".into(),
            rule_id: "1".into(),
            direction: dir.into(),
            action: "allow".into(),
            ..Rule::default()
        }
    }

    fn reason(r: &Rule) -> String {
        match RuleSpec::parse(r) {
            Err(PolicyError::InvalidRule { reason, .. }) => reason,
            other => panic!("expected InvalidRule, got {other:?}"),
        }
    }

    #[test]
    fn protocol_names_and_numbers_map_to_ip_protocols() {
        for (text, want) in [
            ("", None),
            ("tcp", Some(6)),
            ("udp", Some(17)),
            ("icmp", Some(1)),
            ("47", Some(47)),
            ("0", None),
            ("000", None),
            ("255", Some(255)),
        ] {
            let mut r = rule("in");
            r.protocol = text.into();
            assert_eq!(RuleSpec::parse(&r).unwrap().proto, want, "{text:?}");
        }
        for text in ["256", "xyz", "TCP", "1234", "-1"] {
            let mut r = rule("in");
            r.protocol = text.into();
            assert!(reason(&r).contains("protocol"), "{text:?}");
        }
    }

    #[test]
    fn defaults_and_ranges_of_priority_and_port() {
        let mut r = rule("in");
        assert_eq!(RuleSpec::parse(&r).unwrap().priority, 1);
        r.priority = 100;
        assert_eq!(RuleSpec::parse(&r).unwrap().priority, 100);
        r.priority = 101;
        assert!(reason(&r).contains("priority 101"));
        r.priority = -3;
        assert!(reason(&r).contains("priority -3"));
        r.priority = 5;
        r.port = 65535;
        assert_eq!(
            RuleSpec::parse(&r).unwrap().ports,
            Some(PortRange::single(65535))
        );
        r.port = 65536;
        assert!(reason(&r).contains("port 65536"));
        r.port = 80;
        r.protocol = "icmp".into();
        assert!(reason(&r).contains("only applies to tcp or udp"));
    }

    #[test]
    fn direction_and_action_must_be_known_words() {
        assert!(reason(&rule("both")).contains("direction \"both\""));
        let mut r = rule("in");
        r.action = "accept".into();
        assert!(reason(&r).contains("action \"accept\""));
    }

    #[test]
    fn peers_follow_the_direction() {
        let mut r = rule("in");
        r.from_endpoint_group = "web".into();
        assert_eq!(
            RuleSpec::parse(&r).unwrap().peer,
            PeerSpec::Epg("default:web".into())
        );
        r.from_endpoint_group.clear();
        r.from_network = "net1".into();
        assert_eq!(
            RuleSpec::parse(&r).unwrap().peer,
            PeerSpec::Network("default:net1".into())
        );
        r.from_network.clear();
        r.from_ip_address = "10.1.1.7/24".into();
        r.to_ip_address = "10.2.0.5".into();
        let s = RuleSpec::parse(&r).unwrap();
        assert_eq!(s.peer, PeerSpec::Cidr("10.1.1.0/24".parse().unwrap()));
        assert_eq!(s.local, Some("10.2.0.5/32".parse().unwrap()));

        let mut o = rule("out");
        o.to_ip_address = "2001:db8::1".into();
        let s = RuleSpec::parse(&o).unwrap();
        assert_eq!(s.peer, PeerSpec::Cidr("2001:db8::1/128".parse().unwrap()));
        assert_eq!(s.local, None);
    }

    #[test]
    fn conflicting_peer_fields_are_refused_with_a_hint() {
        let mut r = rule("in");
        r.to_network = "n".into();
        assert!(reason(&r).contains("toNetwork cannot be used in an in rule"));
        let mut r = rule("out");
        r.from_endpoint_group = "g".into();
        assert!(reason(&r).contains("fromEndpointGroup cannot be used in an out rule"));
        let mut r = rule("out");
        r.from_ip_address = "1.2.3.4".into();
        assert!(reason(&r).contains("fromIpAddress cannot be used in an out rule"));
        let mut r = rule("in");
        r.from_endpoint_group = "g".into();
        r.from_ip_address = "1.2.3.4".into();
        assert!(reason(&r).contains("name at most one peer"));
        let mut r = rule("out");
        r.to_network = "n".into();
        r.to_ip_address = "1.2.3.4".into();
        assert!(reason(&r).contains("name at most one peer"));
    }

    #[test]
    fn rule_addresses_reject_ranges_and_garbage() {
        let mut r = rule("in");
        r.from_ip_address = "10.1.1.1-20".into();
        assert!(reason(&r).contains("address range"));
        r.from_ip_address = "10.1.1".into();
        assert!(reason(&r).contains("not an address or prefix"));
        let mut r = rule("in");
        r.policy_name = "a:b".into();
        assert!(reason(&r).contains("policyName"));
    }

    #[test]
    fn network_prefixes_take_the_whole_subnet_and_ipv6() {
        let n = Network {
            tenant_name: "t".into(),
            network_name: "n".into(),
            subnet: "10.1.1.10-10.1.1.20/24".into(),
            ipv6_subnet: "2001:db8:1::5/64".into(),
            ..Network::default()
        };
        let p = network_prefixes(&n).unwrap();
        assert_eq!(
            p,
            vec![
                "10.1.1.0/24".parse::<IpNet>().unwrap(),
                "2001:db8:1::/64".parse().unwrap()
            ]
        );
        let mut bad = n.clone();
        bad.subnet = "2001:db8::/64".into();
        assert!(matches!(
            network_prefixes(&bad),
            Err(PolicyError::InvalidNetwork { .. })
        ));
        let mut bad = n;
        bad.ipv6_subnet = "10.0.0.0/8".into();
        assert!(network_prefixes(&bad).is_err());
    }
}
