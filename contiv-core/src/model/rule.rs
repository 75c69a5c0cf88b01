//! `rule`: one allow/deny match of a policy.

use super::validate::rule as rules;
use super::{ModelObject, ValidationError, is_default};
use crate::ir::{Action, Direction};
use ipnet::IpNet;
use serde::{Deserialize, Serialize};

/// A rule. Key: `tenantName:policyName:ruleId`.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
pub struct Rule {
    /// Object key (the key fields joined with `:`).
    #[serde(default, skip_serializing_if = "is_default")]
    pub key: String,
    /// `allow` or `deny`.
    #[serde(default, skip_serializing_if = "is_default")]
    pub action: String,
    /// `in` or `out`.
    #[serde(default, skip_serializing_if = "is_default")]
    pub direction: String,
    /// Source EPG (in rules).
    #[serde(
        rename = "fromEndpointGroup",
        default,
        skip_serializing_if = "is_default"
    )]
    pub from_endpoint_group: String,
    /// Source address/prefix (in rules).
    #[serde(rename = "fromIpAddress", default, skip_serializing_if = "is_default")]
    pub from_ip_address: String,
    /// Source network (in rules).
    #[serde(rename = "fromNetwork", default, skip_serializing_if = "is_default")]
    pub from_network: String,
    /// Policy name.
    #[serde(rename = "policyName", default, skip_serializing_if = "is_default")]
    pub policy_name: String,
    /// Destination port (0 = any).
    #[serde(default, skip_serializing_if = "is_default")]
    pub port: i64,
    /// 1..=100, higher wins (default 1).
    #[serde(default, skip_serializing_if = "is_default")]
    pub priority: i64,
    /// `tcp`, `udp`, `icmp`, a number, or empty for any.
    #[serde(default, skip_serializing_if = "is_default")]
    pub protocol: String,
    /// Rule id.
    #[serde(rename = "ruleId", default, skip_serializing_if = "is_default")]
    pub rule_id: String,
    /// Tenant name.
    #[serde(rename = "tenantName", default, skip_serializing_if = "is_default")]
    pub tenant_name: String,
    /// Destination EPG (out rules).
    #[serde(
        rename = "toEndpointGroup",
        default,
        skip_serializing_if = "is_default"
    )]
    pub to_endpoint_group: String,
    /// Destination address/prefix.
    #[serde(rename = "toIpAddress", default, skip_serializing_if = "is_default")]
    pub to_ip_address: String,
    /// Destination network (out rules).
    #[serde(rename = "toNetwork", default, skip_serializing_if = "is_default")]
    pub to_network: String,
}

impl ModelObject for Rule {
    const TYPE: &'static str = "rule";
    const COLLECTION: &'static str = "rules";
    fn derived_key(&self) -> String {
        format!("{}:{}:{}", self.tenant_name, self.policy_name, self.rule_id)
    }
    fn key(&self) -> &str {
        &self.key
    }
    fn set_key(&mut self, key: String) {
        self.key = key;
    }
    fn apply_defaults(&mut self) {
        super::validate::rule::defaults(self)
    }
    fn validate(&self) -> Result<(), ValidationError> {
        super::validate::rule::validate(self)
    }
}

/// The peer a rule names: the source of an `in` rule, the destination of
/// an `out` rule.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub enum RulePeer {
    /// No peer field: any peer.
    Any,
    /// An endpoint group of the rule's tenant, by name.
    Group(String),
    /// A network of the rule's tenant (its whole prefixes), by name.
    Network(String),
    /// An address or prefix (IPv4 or IPv6), normalised to its prefix.
    Cidr(IpNet),
}

/// A rule's shape, checked and typed: what the policy compiler realises.
///
/// [`Rule::shape`] is the one check of which field combinations a rule may
/// have; netmaster's validation and the compiler both use it, so a rule the
/// API accepts is a rule every agent compiles.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct RuleShape {
    /// In or out.
    pub direction: Direction,
    /// Allow or deny.
    pub action: Action,
    /// The peer (at most one peer field is set).
    pub peer: RulePeer,
    /// `toIpAddress` of an `in` rule: the protected endpoint's own address
    /// must lie in it.
    pub local: Option<IpNet>,
    /// IP protocol number, `None` = any.
    pub protocol: Option<u8>,
    /// Destination port, `None` = any (only with tcp, udp or any protocol).
    pub port: Option<u16>,
    /// Effective priority 1..=100.
    pub priority: u8,
}

impl Rule {
    /// The rule's shape: direction, action, one peer, protocol, port and
    /// priority, checked together (see [`RuleShape`]). Names and the key
    /// are not part of the shape; [`ModelObject::validate`] checks them too.
    pub fn shape(&self) -> Result<RuleShape, ValidationError> {
        rules::shape(self)
    }

    /// The direction (`direction`).
    pub fn direction_kind(&self) -> Result<Direction, ValidationError> {
        rules::direction(self)
    }

    /// The action (`action`).
    pub fn action_kind(&self) -> Result<Action, ValidationError> {
        rules::action(self)
    }

    /// The IP protocol number (`protocol`): `tcp` = 6, `udp` = 17,
    /// `icmp` = 1, or the number given. `None` means any protocol (empty,
    /// or `0`, which the original's datapath treated as a wildcard).
    pub fn protocol_number(&self) -> Result<Option<u8>, ValidationError> {
        rules::protocol(self)
    }

    /// The effective priority 1..=100 (`priority`; 0 means the default, 1).
    pub fn priority_value(&self) -> Result<u8, ValidationError> {
        rules::priority(self)
    }

    /// The destination port (`port`); `None` means any port (0).
    pub fn port_number(&self) -> Result<Option<u16>, ValidationError> {
        rules::port(self)
    }

    /// The source address match (`fromIpAddress`) as a prefix: a bare
    /// address is a /32, `A.B.C.D/len` is normalised to its network
    /// address. `None` if unset.
    pub fn from_ip_net(&self) -> Result<Option<IpNet>, ValidationError> {
        rules::from_ip(self)
    }

    /// The destination address match (`toIpAddress`), as
    /// [`from_ip_net`](Self::from_ip_net).
    pub fn to_ip_net(&self) -> Result<Option<IpNet>, ValidationError> {
        rules::to_ip(self)
    }
}
