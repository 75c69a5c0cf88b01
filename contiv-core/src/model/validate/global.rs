//! `global` rules: the name, the modes, the VLAN and VXLAN ranges (one
//! `a-b` range each, with the original's limits) and the private subnet.
//!
//! Field-level only: whether a new range still covers every tag in use and
//! whether the forwarding mode or private subnet may change while networks
//! exist are netmaster checks.

use super::ipv4::parse_ipv4;
use super::text::{is_digits, quoted};
use super::{ValidationError, check_key};
use crate::datapath::{ArpMode, FwdMode};
use crate::model::Global;
use ipnet::Ipv4Net;

/// The only valid name (and key) of the global object.
pub const GLOBAL_NAME: &str = "global";
/// Largest usable VLAN id (4095 is reserved by 802.1Q).
pub const MAX_VLAN: u16 = 4094;
/// Largest VNI the original supported.
pub const MAX_VXLAN: u32 = 65535;
/// Widest VXLAN range the original supported (`b - a`).
pub const MAX_VXLAN_WIDTH: u32 = 16000;
/// Prefix length of the private (host-access) subnet.
pub const PVT_SUBNET_LEN: u8 = 16;

/// Splits `a-b` with each side 1..=`max_digits` ASCII digits.
fn split_range(s: &str, max_digits: usize) -> Option<(u64, u64)> {
    let (a, b) = s.split_once('-')?;
    let side = |x: &str| {
        if is_digits(x) && x.len() <= max_digits {
            x.parse::<u64>().ok()
        } else {
            None
        }
    };
    Some((side(a)?, side(b)?))
}

/// Parses a VLAN range `a-b` with `1 <= a <= b <= 4094`.
pub fn parse_vlan_range(s: &str) -> Result<(u16, u16), ValidationError> {
    let rule = format!("expected a single range a-b with 1 <= a <= b <= {MAX_VLAN}, e.g. 1-4094");
    let bad =
        |why: &str| ValidationError::new("vlans", format!("invalid vlans {}: {why}", quoted(s)));
    let (a, b) = split_range(s, 4).ok_or_else(|| bad(&rule))?;
    if a < 1 || a > b || b > u64::from(MAX_VLAN) {
        return Err(bad(&rule));
    }
    let a = u16::try_from(a).map_err(|_| bad(&rule))?;
    let b = u16::try_from(b).map_err(|_| bad(&rule))?;
    Ok((a, b))
}

/// Parses a VXLAN range `a-b` with `1 <= a <= b <= 65535` and
/// `b - a <= 16000`.
pub fn parse_vxlan_range(s: &str) -> Result<(u32, u32), ValidationError> {
    let rule = format!(
        "expected a single range a-b with 1 <= a <= b <= {MAX_VXLAN} and b - a <= \
         {MAX_VXLAN_WIDTH}, e.g. 1-10000"
    );
    let bad =
        |why: &str| ValidationError::new("vxlans", format!("invalid vxlans {}: {why}", quoted(s)));
    let (a, b) = split_range(s, 8).ok_or_else(|| bad(&rule))?;
    if a < 1 || a > b {
        return Err(bad(&rule));
    }
    if b > u64::from(MAX_VXLAN) {
        return Err(bad(&format!(
            "VNIs above {MAX_VXLAN} are not supported ({rule})"
        )));
    }
    if b - a > u64::from(MAX_VXLAN_WIDTH) {
        return Err(bad(&format!(
            "a VXLAN range may span at most {MAX_VXLAN_WIDTH} VNIs ({rule})"
        )));
    }
    let a = u32::try_from(a).map_err(|_| bad(&rule))?;
    let b = u32::try_from(b).map_err(|_| bad(&rule))?;
    Ok((a, b))
}

pub(in crate::model) fn vlans(o: &Global) -> Result<(u16, u16), ValidationError> {
    parse_vlan_range(&o.vlans)
}

pub(in crate::model) fn vxlans(o: &Global) -> Result<(u32, u32), ValidationError> {
    parse_vxlan_range(&o.vxlans)
}

/// The private subnet `A.B.C.D/16`, normalised to its network address.
pub(in crate::model) fn pvt_subnet(o: &Global) -> Result<Ipv4Net, ValidationError> {
    let s = o.pvt_subnet.as_str();
    let bad = || {
        ValidationError::new(
            "pvtSubnet",
            format!(
                "invalid pvtSubnet {}: expected an IPv4 /{PVT_SUBNET_LEN} subnet A.B.C.D/16, e.g. \
                 172.19.0.0/16",
                quoted(s)
            ),
        )
    };
    let (addr, len) = s.split_once('/').ok_or_else(bad)?;
    let ip = parse_ipv4(addr).ok_or_else(bad)?;
    if len != "16" {
        return Err(bad());
    }
    Ipv4Net::new(ip, PVT_SUBNET_LEN)
        .map(|n| n.trunc())
        .map_err(|_| bad())
}

/// The ARP mode; empty means the default, proxy.
pub(in crate::model) fn arp_mode(o: &Global) -> Result<ArpMode, ValidationError> {
    match o.arp_mode.as_str() {
        "" | "proxy" => Ok(ArpMode::Proxy),
        "flood" => Ok(ArpMode::Flood),
        other => Err(ValidationError::new(
            "arpMode",
            format!("invalid arpMode {}: expected proxy or flood", quoted(other)),
        )),
    }
}

/// The forwarding mode; empty means the default, bridge.
pub(in crate::model) fn fwd_mode(o: &Global) -> Result<FwdMode, ValidationError> {
    match o.fwd_mode.as_str() {
        "" | "bridge" => Ok(FwdMode::Bridge),
        "routing" => Ok(FwdMode::Routing),
        other => Err(ValidationError::new(
            "fwdMode",
            format!(
                "invalid fwdMode {}: expected bridge or routing",
                quoted(other)
            ),
        )),
    }
}

fn infra_type(o: &Global) -> Result<(), ValidationError> {
    match o.network_infra_type.as_str() {
        "" | "default" | "aci" | "aci-opflex" => Ok(()),
        other => Err(ValidationError::new(
            "networkInfraType",
            format!(
                "invalid networkInfraType {}: expected default, aci or aci-opflex",
                quoted(other)
            ),
        )),
    }
}

pub(in crate::model) fn validate(o: &Global) -> Result<(), ValidationError> {
    check_key(o)?;
    arp_mode(o)?;
    fwd_mode(o)?;
    if o.name != GLOBAL_NAME {
        return Err(ValidationError::new(
            "name",
            format!(
                "invalid name {}: the global settings object is always named {GLOBAL_NAME:?}",
                quoted(&o.name)
            ),
        ));
    }
    infra_type(o)?;
    pvt_subnet(o)?;
    vlans(o)?;
    vxlans(o)?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn vlan_ranges() {
        assert_eq!(parse_vlan_range("1-4094").unwrap(), (1, 4094));
        assert_eq!(parse_vlan_range("100-100").unwrap(), (100, 100));
        for bad in [
            "1-5000", "0-4094", "1", "1?2", "abcd", "1-4095", "900-500", "1-2,5-6", "-1-5", "1-",
        ] {
            assert!(parse_vlan_range(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn vxlan_ranges() {
        assert_eq!(parse_vxlan_range("1-10000").unwrap(), (1, 10000));
        assert_eq!(parse_vxlan_range("1-16001").unwrap(), (1, 16001));
        assert_eq!(parse_vxlan_range("49535-65535").unwrap(), (49535, 65535));
        let e = parse_vxlan_range("1-20000").unwrap_err();
        assert!(e.message.contains("at most 16000"), "{}", e.message);
        let e = parse_vxlan_range("1-100000").unwrap_err();
        assert!(e.message.contains("above 65535"), "{}", e.message);
        assert!(parse_vxlan_range("1-16002").is_err());
        assert!(parse_vxlan_range("0-10").is_err());
    }
}
