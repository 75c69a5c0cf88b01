//! Field validation of the model objects: the original's rules, with the
//! deliberate changes listed in the [model documentation](super#deliberate-changes).
//!
//! Every object's [`ModelObject::validate`] checks, in this order: the key
//! (`"Invalid Key"` unless it equals the key fields joined with `:`), then
//! each field in the original's (alphabetical) order, then the rules that
//! tie fields of the same object together (a gateway inside its subnet, a
//! rule's in/out peer constraints…). The first failure is returned as a
//! [`ValidationError`] naming the JSON field and saying what is allowed.
//!
//! Cross-object rules (does the tenant exist, do subnets overlap, is a tag
//! inside the global range, is a rule id already used…) belong to netmaster.
//!
//! One module per concern:
//!
//! * `names` — names, object names (no dots), tags;
//! * `ipv4`, `ipv6` — addresses, subnets and ranges;
//! * `network`, `endpoint_group`, `rule`, `global`, `netprofile`,
//!   `service_lb`, `bgp`, `aci`, `tenancy` — each object's rules.
//!
//! The parsers netmaster and netctl reuse are public here: [`is_valid_name`],
//! [`is_valid_object_name`], [`is_valid_tag`], [`parse_ipv4`],
//! [`parse_ipv4_subnet`], [`parse_ipv6_subnet`], [`parse_vlan_range`],
//! [`parse_vxlan_range`], [`parse_bandwidth`], [`parse_port_spec`],
//! [`parse_selector`], [`reserved_ipv4_block`], [`reserved_ipv6_block`],
//! and the agent API's [`check_endpoint_id`] and [`check_host_name`]. All
//! of them are hand-written (no regex engine) and never panic on any input.
//! A network's address plan ([`super::Network::address_plan`]) and a rule's
//! shape ([`super::Rule::shape`]) are parsed here once for every consumer:
//! netmaster, the allocator (`contiv-ipam`) and the policy compiler.

pub(in crate::model) mod aci;
pub(in crate::model) mod bgp;
pub(in crate::model) mod endpoint_group;
pub(in crate::model) mod global;
mod ipv4;
mod ipv6;
mod names;
pub(in crate::model) mod netprofile;
pub(in crate::model) mod network;
pub(in crate::model) mod rule;
pub(in crate::model) mod service_lb;
pub(in crate::model) mod tenancy;
mod text;

pub use global::{
    GLOBAL_NAME, MAX_VLAN, MAX_VXLAN, MAX_VXLAN_WIDTH, PVT_SUBNET_LEN, parse_vlan_range,
    parse_vxlan_range,
};
pub use ipv4::{
    MAX_SUBNET_LEN, MIN_SUBNET_LEN, SubnetRange, is_valid_ipv4, parse_ipv4, parse_ipv4_subnet,
    reserved_ipv4_block,
};
pub use ipv6::{
    MAX_SUBNET6_LEN, MIN_SUBNET6_LEN, parse_ipv6, parse_ipv6_subnet, reserved_ipv6_block,
};
pub use names::{
    MAX_ENDPOINT_ID_LEN, MAX_HOST_NAME_LEN, MAX_LONG_NAME_LEN, MAX_NAME_LEN, MAX_TAG_LEN,
    check_endpoint_id, check_host_name, is_name_syntax, is_valid_host_name, is_valid_name,
    is_valid_object_name, is_valid_tag,
};
pub use netprofile::{
    Bandwidth, BandwidthUnit, MAX_BANDWIDTH_LEN, MAX_BURST, MAX_DSCP, parse_bandwidth,
};
pub use network::{DEFAULT_NW_TYPE, MAX_PKT_TAG, MAX_VLAN_ID};
pub use rule::{MAX_PORT, MAX_PRIORITY, MIN_PRIORITY};
pub use service_lb::{PortSpec, ServiceProtocol, parse_port_spec, parse_selector};

use super::ModelObject;
use text::quoted;

/// A validation failure: which field, and a message a user can act on.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{message}")]
pub struct ValidationError {
    /// The JSON field name at fault (`subnet`, `key`, …).
    pub field: &'static str,
    /// The user-facing message.
    pub message: String,
}

impl ValidationError {
    /// A failure of `field` with `message`.
    pub fn new(field: &'static str, message: impl Into<String>) -> Self {
        ValidationError {
            field,
            message: message.into(),
        }
    }
}

/// The key must equal the key fields joined with `:` (the original's
/// `"Invalid Key"`).
fn check_key<T: ModelObject>(o: &T) -> Result<(), ValidationError> {
    let expected = o.derived_key();
    if o.key() != expected {
        return Err(ValidationError::new(
            "key",
            format!(
                "Invalid Key: expected {} (the key fields joined with ':'), got {}",
                quoted(&expected),
                quoted(o.key())
            ),
        ));
    }
    Ok(())
}
