//! Typed views of the model objects the compiler consumes: a [`Rule`]
//! parsed into a [`RuleSpec`], a [`Network`] into its prefixes, names
//! checked. This is where field values and combinations are validated
//! (the compiler's own checks; netmaster's REST validation runs earlier).

use crate::PolicyError;
use crate::intent::EndpointInput;
use contiv_core::ir::{Action, AddrSetId, Direction, EpgId, MAX_EPG_ID, NO_EPG, PortRange};
use contiv_core::model::{EndpointGroup, Network, Rule, RulePeer};
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
    /// The IR id of the peer's address set (`Network` and `Cidr` peers),
    /// named once here rather than per compiled pair.
    pub peer_set: Option<AddrSetId>,
    /// The IR id of the `local` prefix's set.
    pub local_set: Option<AddrSetId>,
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
        // The one check of a rule's shape, shared with netmaster's
        // validation: what the API accepts compiles here.
        let shape = rule.shape().map_err(|e| bad(e.message))?;
        let peer = match shape.peer {
            RulePeer::Any => PeerSpec::Any,
            RulePeer::Group(g) => {
                check_name("peer group", &g).map_err(bad)?;
                PeerSpec::Epg(Arc::from(format!("{tenant}:{g}")))
            }
            RulePeer::Network(n) => {
                check_name("peer network", &n).map_err(bad)?;
                PeerSpec::Network(Arc::from(format!("{tenant}:{n}")))
            }
            RulePeer::Cidr(net) => PeerSpec::Cidr(net),
        };
        let (direction, action, priority, proto, local) = (
            shape.direction,
            shape.action,
            shape.priority,
            shape.protocol,
            shape.local,
        );
        let ports = shape.port.map(PortRange::single);
        let peer_set = match &peer {
            PeerSpec::Network(k) => Some(network_set_id(k)),
            PeerSpec::Cidr(n) => Some(cidr_set_id(n)),
            PeerSpec::Any | PeerSpec::Epg(_) => None,
        };
        let local_set = local.as_ref().map(cidr_set_id);

        Ok(RuleSpec {
            peer_set,
            local_set,
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

/// The prefixes of a network, parsed by its address plan's parsers
/// ([`Network::address_plan`], what netmaster and the allocator use):
/// its whole IPv4 subnet (an allocation range `a-b/len` does not narrow
/// it) and its IPv6 subnet.
pub(crate) fn network_prefixes(net: &Network) -> Result<Vec<IpNet>, PolicyError> {
    let key = format!("{}:{}", net.tenant_name, net.network_name);
    let bad = |reason: String| PolicyError::InvalidNetwork {
        network: key.clone(),
        reason,
    };
    check_name("tenantName", &net.tenant_name).map_err(bad)?;
    check_name("networkName", &net.network_name).map_err(bad)?;
    // Field by field (a network the compiler is told about may lack one
    // family), with the address plan's own parsers.
    let mut out = Vec::with_capacity(2);
    if !net.subnet.is_empty() {
        out.push(IpNet::V4(
            net.ipv4_subnet().map_err(|e| bad(e.message))?.net,
        ));
    }
    if let Some(v6) = net.ipv6_subnet().map_err(|e| bad(e.message))? {
        out.push(IpNet::V6(v6));
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
        assert!(reason(&r).contains("can not specify 'to' parameters in incoming rule"));
        let mut r = rule("out");
        r.from_endpoint_group = "g".into();
        assert!(reason(&r).contains("can not specify 'from' parameters in outgoing rule"));
        let mut r = rule("out");
        r.from_ip_address = "1.2.3.4".into();
        assert!(reason(&r).contains("can not specify 'from' parameters in outgoing rule"));
        let mut r = rule("in");
        r.from_endpoint_group = "g".into();
        r.from_ip_address = "1.2.3.4".into();
        assert!(reason(&r).contains("at most one peer"));
        let mut r = rule("out");
        r.to_network = "n".into();
        r.to_ip_address = "1.2.3.4".into();
        assert!(reason(&r).contains("can not specify both to-network and to-ip address"));
        let mut r = rule("out");
        r.to_endpoint_group = "g".into();
        r.to_ip_address = "1.2.3.4".into();
        assert!(reason(&r).contains("at most one peer"));
    }

    #[test]
    fn rule_addresses_reject_ranges_and_garbage() {
        let mut r = rule("in");
        r.from_ip_address = "10.1.1.1-20".into();
        assert!(reason(&r).contains("range form is not supported"));
        r.from_ip_address = "10.1.1".into();
        assert!(reason(&r).contains("expected A.B.C.D or A.B.C.D/len"));
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
            ipv6_subnet: "2001:db8:1::/64".into(),
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
