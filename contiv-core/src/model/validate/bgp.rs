//! `Bgp` rules: the host name, the router address `A.B.C.D/len`, the
//! neighbor address and the AS numbers.
//!
//! The original's `routerip` regex also accepted an `A.B.C.D-N/len` range
//! form and its AS fields were free text; the agent parses the router
//! address as a CIDR and the AS numbers as integers, so both are checked
//! here.

use super::ipv4::{parse_interface_addr, parse_opt_ipv4};
use super::names::{MAX_LONG_NAME_LEN, check_name};
use super::text::{parse_digits, quoted};
use super::{ValidationError, check_key};
use crate::model::Bgp;
use ipnet::Ipv4Net;
use std::net::Ipv4Addr;

/// Longest accepted AS string (the original's length limit).
pub const MAX_AS_LEN: usize = 64;

/// Parses an AS number 1..=4294967295 (empty → `None`).
pub(crate) fn parse_as(field: &'static str, s: &str) -> Result<Option<u32>, ValidationError> {
    if s.is_empty() {
        return Ok(None);
    }
    match parse_digits(s).and_then(|n| u32::try_from(n).ok()) {
        Some(n) if n >= 1 && s.len() <= MAX_AS_LEN => Ok(Some(n)),
        _ => Err(ValidationError::new(
            field,
            format!(
                "invalid {field} {}: expected an AS number 1..4294967295",
                quoted(s)
            ),
        )),
    }
}

pub(in crate::model) fn router_ip(o: &Bgp) -> Result<Ipv4Net, ValidationError> {
    parse_interface_addr("routerip", &o.routerip)
}

pub(in crate::model) fn neighbor(o: &Bgp) -> Result<Option<Ipv4Addr>, ValidationError> {
    parse_opt_ipv4("neighbor", &o.neighbor)
}

pub(in crate::model) fn validate(o: &Bgp) -> Result<(), ValidationError> {
    check_key(o)?;
    parse_as("as", &o.as_)?;
    check_name("hostname", &o.hostname, MAX_LONG_NAME_LEN)?;
    neighbor(o)?;
    parse_as("neighbor-as", &o.neighbor_as)?;
    router_ip(o)?;
    Ok(())
}
