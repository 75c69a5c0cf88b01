//! `rule` rules: direction, action, protocol, port, priority (default 1),
//! the from/to addresses (`A.B.C.D[/len]`; the `-N` range form is rejected,
//! deliberate change (e)), the names, and the original's in/out peer
//! constraints with its exact messages.
//!
//! Field-level only: whether the policy and the referenced groups and
//! networks exist, duplicate rule ids, and the `in` + `toIpAddress` check
//! (the policy must be attached to exactly one group holding that address)
//! are netmaster checks.

use super::ipv4::parse_rule_ip;
use super::ipv6::parse_rule_ip6;
use super::names::{MAX_NAME_LEN, check_name, check_object_name, check_opt_object_name};
use super::text::{is_digits, quoted};
use super::{ValidationError, check_key};
use crate::ir::{Action, Direction};
use crate::model::{Rule, RulePeer, RuleShape};
use ipnet::IpNet;

/// Lowest rule priority (also the default when `priority` is 0).
pub const MIN_PRIORITY: i64 = 1;
/// Highest rule priority.
pub const MAX_PRIORITY: i64 = 100;
/// Highest L4 port.
pub const MAX_PORT: i64 = 65535;

pub(in crate::model) fn defaults(o: &mut Rule) {
    if o.priority == 0 {
        o.priority = MIN_PRIORITY;
    }
}

pub(in crate::model) fn direction(o: &Rule) -> Result<Direction, ValidationError> {
    match o.direction.as_str() {
        "in" => Ok(Direction::In),
        "out" => Ok(Direction::Out),
        other => Err(ValidationError::new(
            "direction",
            format!("invalid direction {}: expected in or out", quoted(other)),
        )),
    }
}

pub(in crate::model) fn action(o: &Rule) -> Result<Action, ValidationError> {
    match o.action.as_str() {
        "allow" => Ok(Action::Allow),
        "deny" => Ok(Action::Deny),
        other => Err(ValidationError::new(
            "action",
            format!("invalid action {}: expected allow or deny", quoted(other)),
        )),
    }
}

/// The IP protocol number; `None` means any protocol (empty, or `0`, which
/// the original's datapath treated as a wildcard).
pub(in crate::model) fn protocol(o: &Rule) -> Result<Option<u8>, ValidationError> {
    let p = o.protocol.as_str();
    let number = match p {
        "" => return Ok(None),
        "tcp" => 6,
        "udp" => 17,
        "icmp" => 1,
        _ if is_digits(p) && p.len() <= 3 => match p.parse::<u8>() {
            Ok(n) => n,
            Err(_) => {
                return Err(ValidationError::new(
                    "protocol",
                    format!(
                        "invalid protocol {}: IP protocol numbers are 0..255",
                        quoted(p)
                    ),
                ));
            }
        },
        _ => {
            return Err(ValidationError::new(
                "protocol",
                format!(
                    "invalid protocol {}: expected tcp, udp, icmp, a protocol number 0..255, or \
                     empty for any",
                    quoted(p)
                ),
            ));
        }
    };
    Ok((number != 0).then_some(number))
}

/// The effective priority (0 means the default, 1).
pub(in crate::model) fn priority(o: &Rule) -> Result<u8, ValidationError> {
    let p = if o.priority == 0 {
        MIN_PRIORITY
    } else {
        o.priority
    };
    if !(MIN_PRIORITY..=MAX_PRIORITY).contains(&p) {
        return Err(ValidationError::new(
            "priority",
            format!(
                "invalid priority {}: expected {MIN_PRIORITY}..{MAX_PRIORITY} (higher wins; 0 \
                 means the default, 1)",
                o.priority
            ),
        ));
    }
    u8::try_from(p).map_err(|_| ValidationError::new("priority", "priority out of range"))
}

/// The destination port; `None` means any port (0).
pub(in crate::model) fn port(o: &Rule) -> Result<Option<u16>, ValidationError> {
    let p = o.port;
    if !(0..=MAX_PORT).contains(&p) {
        return Err(ValidationError::new(
            "port",
            format!("invalid port {p}: expected 1..{MAX_PORT}, or 0 for any port"),
        ));
    }
    let port = u16::try_from(p).map_err(|_| ValidationError::new("port", "port out of range"))?;
    Ok((port != 0).then_some(port))
}

/// A rule address: IPv4 as the original (`A.B.C.D` or `A.B.C.D/1..31`),
/// or IPv6 (`addr` or `addr/1..127`), normalised to the prefix.
fn rule_ip(field: &'static str, s: &str) -> Result<Option<IpNet>, ValidationError> {
    if s.contains(':') {
        return parse_rule_ip6(field, s).map(|n| Some(IpNet::V6(n)));
    }
    parse_rule_ip(field, s).map(|n| n.map(IpNet::V4))
}

pub(in crate::model) fn from_ip(o: &Rule) -> Result<Option<IpNet>, ValidationError> {
    rule_ip("fromIpAddress", &o.from_ip_address)
}

pub(in crate::model) fn to_ip(o: &Rule) -> Result<Option<IpNet>, ValidationError> {
    rule_ip("toIpAddress", &o.to_ip_address)
}

/// The original's `RuleCreate` peer constraints, with its messages.
fn peers(o: &Rule, dir: Direction) -> Result<(), ValidationError> {
    let fail = |field: &'static str, msg: &str| Err(ValidationError::new(field, msg));
    match dir {
        Direction::In => {
            if !o.to_network.is_empty() || !o.to_endpoint_group.is_empty() {
                let field = if o.to_network.is_empty() {
                    "toEndpointGroup"
                } else {
                    "toNetwork"
                };
                return fail(field, "can not specify 'to' parameters in incoming rule");
            }
            if !o.from_network.is_empty() && !o.from_ip_address.is_empty() {
                return fail(
                    "fromIpAddress",
                    "can not specify both from network and from ip address",
                );
            }
            if !o.from_network.is_empty() && !o.from_endpoint_group.is_empty() {
                return fail(
                    "fromEndpointGroup",
                    "can not specify both from network and from EndpointGroup",
                );
            }
        }
        Direction::Out => {
            if !o.from_network.is_empty()
                || !o.from_endpoint_group.is_empty()
                || !o.from_ip_address.is_empty()
            {
                let field = if !o.from_network.is_empty() {
                    "fromNetwork"
                } else if !o.from_endpoint_group.is_empty() {
                    "fromEndpointGroup"
                } else {
                    "fromIpAddress"
                };
                return fail(field, "can not specify 'from' parameters in outgoing rule");
            }
            if !o.to_network.is_empty() && !o.to_ip_address.is_empty() {
                return fail(
                    "toIpAddress",
                    "can not specify both to-network and to-ip address",
                );
            }
            if !o.to_network.is_empty() && !o.to_endpoint_group.is_empty() {
                return fail(
                    "toEndpointGroup",
                    "can not specify both to-network and to-EndpointGroup",
                );
            }
        }
    }
    Ok(())
}

/// What the original left open and no datapath can realise: two peer
/// fields at once (a group and an address), and a port with a protocol
/// that has no ports.
fn realisable(
    o: &Rule,
    dir: Direction,
    proto: Option<u8>,
    port: Option<u16>,
) -> Result<(), ValidationError> {
    let (group, net, ip, names) = match dir {
        Direction::In => (
            &o.from_endpoint_group,
            &o.from_network,
            &o.from_ip_address,
            ["fromEndpointGroup", "fromNetwork", "fromIpAddress"],
        ),
        Direction::Out => (
            &o.to_endpoint_group,
            &o.to_network,
            &o.to_ip_address,
            ["toEndpointGroup", "toNetwork", "toIpAddress"],
        ),
    };
    let set = [!group.is_empty(), !net.is_empty(), !ip.is_empty()];
    if set.iter().filter(|b| **b).count() > 1 {
        let [g, n, i] = names;
        return Err(ValidationError::new(
            i,
            format!(
                "a rule names at most one peer: {g}, {n} or {i} (split the rule in two to match \
                 both)"
            ),
        ));
    }
    if port.is_some() && !matches!(proto, None | Some(6) | Some(17)) {
        return Err(ValidationError::new(
            "port",
            format!(
                "a port only applies to tcp or udp, but the protocol is {}: set protocol tcp or \
                 udp (or leave it empty for both), or leave the port out",
                quoted(&o.protocol)
            ),
        ));
    }
    Ok(())
}

pub(in crate::model) fn shape(o: &Rule) -> Result<RuleShape, ValidationError> {
    let action = action(o)?;
    let direction = direction(o)?;
    let from = from_ip(o)?;
    let port = port(o)?;
    let priority = priority(o)?;
    let protocol = protocol(o)?;
    let to = to_ip(o)?;
    peers(o, direction)?;
    realisable(o, direction, protocol, port)?;
    let (group, net, ip) = match direction {
        Direction::In => (&o.from_endpoint_group, &o.from_network, from),
        Direction::Out => (&o.to_endpoint_group, &o.to_network, to),
    };
    let peer = if !group.is_empty() {
        RulePeer::Group(group.clone())
    } else if !net.is_empty() {
        RulePeer::Network(net.clone())
    } else if let Some(ip) = ip {
        RulePeer::Cidr(ip)
    } else {
        RulePeer::Any
    };
    Ok(RuleShape {
        direction,
        action,
        peer,
        local: if direction == Direction::In { to } else { None },
        protocol,
        port,
        priority,
    })
}

/// Every field in the original's (alphabetical) order, then the shape
/// ([`shape`]: the original's peer constraints and what no datapath can
/// realise).
pub(in crate::model) fn validate(o: &Rule) -> Result<(), ValidationError> {
    check_key(o)?;
    action(o)?;
    direction(o)?;
    check_opt_object_name("fromEndpointGroup", &o.from_endpoint_group)?;
    from_ip(o)?;
    check_opt_object_name("fromNetwork", &o.from_network)?;
    check_name("policyName", &o.policy_name, MAX_NAME_LEN)?;
    port(o)?;
    priority(o)?;
    protocol(o)?;
    check_name("ruleId", &o.rule_id, MAX_NAME_LEN)?;
    check_object_name("tenantName", &o.tenant_name)?;
    check_opt_object_name("toEndpointGroup", &o.to_endpoint_group)?;
    to_ip(o)?;
    check_opt_object_name("toNetwork", &o.to_network)?;
    shape(o).map(|_| ())
}
