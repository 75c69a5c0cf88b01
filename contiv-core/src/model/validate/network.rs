//! `network` rules: names, `nwType`, `encap`, `pktTag`, the IPv4 subnet and
//! gateway, the IPv6 subnet and gateway, `cfgdTag`.
//!
//! Field-level only: whether the tenant exists, whether the subnet overlaps
//! another network of the tenant and whether the tag lies in the global
//! VLAN/VXLAN range are netmaster checks.

use super::ipv4::{SubnetRange, parse_ipv4, parse_ipv4_subnet};
use super::ipv6::{parse_ipv6_subnet, parse_opt_ipv6};
use super::names::{check_object_name, check_opt_tag};
use super::text::quoted;
use super::{ValidationError, check_key};
use crate::datapath::Encap;
use crate::model::Network;
use ipnet::Ipv6Net;
use std::net::{Ipv4Addr, Ipv6Addr};

/// Largest `pktTag` the original accepted (`pktTag` max in `network.json`).
pub const MAX_PKT_TAG: i64 = 16_777_216;
/// Largest VLAN id usable as a VLAN network's `pktTag` (4095 is reserved).
pub const MAX_VLAN_ID: i64 = 4094;

/// The default `nwType`.
pub const DEFAULT_NW_TYPE: &str = "data";

pub(in crate::model) fn defaults(o: &mut Network) {
    if o.nw_type.is_empty() {
        o.nw_type = DEFAULT_NW_TYPE.into();
    }
}

pub(in crate::model) fn encap(o: &Network) -> Result<Encap, ValidationError> {
    match o.encap.as_str() {
        "vlan" => Ok(Encap::Vlan),
        "vxlan" => Ok(Encap::Vxlan),
        "" => Err(ValidationError::new(
            "encap",
            "encap is required: expected vlan or vxlan",
        )),
        other => Err(ValidationError::new(
            "encap",
            format!("invalid encap {}: expected vlan or vxlan", quoted(other)),
        )),
    }
}

pub(in crate::model) fn subnet(o: &Network) -> Result<SubnetRange, ValidationError> {
    parse_ipv4_subnet("subnet", &o.subnet)
}

/// The gateway's syntax alone (checked before the subnet, as the original).
fn gateway_syntax(o: &Network) -> Result<Option<Ipv4Addr>, ValidationError> {
    if o.gateway.is_empty() {
        return Ok(None);
    }
    parse_ipv4(&o.gateway).map(Some).ok_or_else(|| {
        ValidationError::new(
            "gateway",
            format!(
                "invalid gateway {}: expected an IPv4 address A.B.C.D inside the subnet",
                quoted(&o.gateway)
            ),
        )
    })
}

pub(in crate::model) fn gateway(o: &Network) -> Result<Option<Ipv4Addr>, ValidationError> {
    let Some(gw) = gateway_syntax(o)? else {
        return Ok(None);
    };
    let net = subnet(o)?.net;
    if !net.contains(&gw) {
        return Err(ValidationError::new(
            "gateway",
            format!("invalid gateway {gw}: it is outside the subnet {net}"),
        ));
    }
    if gw == net.network() || gw == net.broadcast() {
        return Err(ValidationError::new(
            "gateway",
            format!(
                "invalid gateway {gw}: it is the network or broadcast address of {net}; use a \
                 host address"
            ),
        ));
    }
    Ok(Some(gw))
}

pub(in crate::model) fn ipv6_subnet(o: &Network) -> Result<Option<Ipv6Net>, ValidationError> {
    if o.ipv6_subnet.is_empty() {
        return Ok(None);
    }
    parse_ipv6_subnet("ipv6Subnet", &o.ipv6_subnet).map(Some)
}

pub(in crate::model) fn ipv6_gateway(o: &Network) -> Result<Option<Ipv6Addr>, ValidationError> {
    let Some(gw) = parse_opt_ipv6("ipv6Gateway", &o.ipv6_gateway)? else {
        return Ok(None);
    };
    let Some(net) = ipv6_subnet(o)? else {
        return Err(ValidationError::new(
            "ipv6Gateway",
            format!("ipv6Gateway {gw} needs an ipv6Subnet to belong to; set ipv6Subnet too"),
        ));
    };
    if !net.contains(&gw) {
        return Err(ValidationError::new(
            "ipv6Gateway",
            format!("invalid ipv6Gateway {gw}: it is outside the ipv6Subnet {net}"),
        ));
    }
    Ok(Some(gw))
}

fn nw_type(o: &Network) -> Result<(), ValidationError> {
    match o.nw_type.as_str() {
        // Empty means the default (`data`), filled by `apply_defaults`.
        "" | "infra" | "data" => Ok(()),
        other => Err(ValidationError::new(
            "nwType",
            format!("invalid nwType {}: expected infra or data", quoted(other)),
        )),
    }
}

fn pkt_tag(o: &Network, encap: Encap) -> Result<(), ValidationError> {
    let tag = o.pkt_tag;
    if !(0..=MAX_PKT_TAG).contains(&tag) {
        return Err(ValidationError::new(
            "pktTag",
            format!("invalid pktTag {tag}: expected 0 (allocate) or a tag up to {MAX_PKT_TAG}"),
        ));
    }
    if encap == Encap::Vlan && tag > MAX_VLAN_ID {
        return Err(ValidationError::new(
            "pktTag",
            format!(
                "invalid pktTag {tag}: a vlan network needs a VLAN id 1..{MAX_VLAN_ID} (or 0 to \
                 allocate one)"
            ),
        ));
    }
    Ok(())
}

pub(in crate::model) fn validate(o: &Network) -> Result<(), ValidationError> {
    check_key(o)?;
    check_opt_tag("cfgdTag", &o.cfgd_tag)?;
    let encap = encap(o)?;
    gateway_syntax(o)?;
    parse_opt_ipv6("ipv6Gateway", &o.ipv6_gateway)?;
    ipv6_subnet(o)?;
    check_object_name("networkName", &o.network_name)?;
    nw_type(o)?;
    pkt_tag(o, encap)?;
    subnet(o)?;
    check_object_name("tenantName", &o.tenant_name)?;
    gateway(o)?;
    ipv6_gateway(o)?;
    Ok(())
}
