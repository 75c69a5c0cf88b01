//! Parsing and validation of what pools are built from: IPv4 subnets with an
//! optional address range (`10.1.1.10-10.1.1.20/24`), endpoint-group
//! ip-pools (`10.1.1.10-10.1.1.20`), IPv6 subnets and id ranges
//! (`100-400, 500-900`), with the original's rules.

use crate::error::{IpamError, IpamResult, Resource};
use crate::summary::format_runs;
use contiv_core::model::SubnetRange;
use contiv_core::model::validate;
use ipnet::{Ipv4Net, Ipv6Net};
use std::fmt;
use std::net::{Ipv4Addr, Ipv6Addr};
use std::str::FromStr;

/// Smallest IPv4 prefix length accepted: the model's limit
/// ([`contiv_core::model::validate::MIN_SUBNET_LEN`]), one value for both.
pub const MIN_IPV4_PREFIX: u8 = validate::MIN_SUBNET_LEN;
/// Largest IPv4 prefix length accepted: a /31 or /32 has no address left
/// once the network and broadcast addresses are reserved (the model's
/// [`contiv_core::model::validate::MAX_SUBNET_LEN`]).
pub const MAX_IPV4_PREFIX: u8 = validate::MAX_SUBNET_LEN;
/// Smallest IPv6 prefix length accepted (the model's).
pub const MIN_IPV6_PREFIX: u8 = validate::MIN_SUBNET6_LEN;
/// Largest IPv6 prefix length accepted (`/128` is refused, as the original).
pub const MAX_IPV6_PREFIX: u8 = validate::MAX_SUBNET6_LEN;

/// An inclusive range of IPv4 addresses (`first <= last`).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct Ipv4Range {
    /// First address.
    pub first: Ipv4Addr,
    /// Last address (inclusive).
    pub last: Ipv4Addr,
}

impl Ipv4Range {
    /// A range; fails if `first > last`.
    pub fn new(first: Ipv4Addr, last: Ipv4Addr) -> IpamResult<Self> {
        if u32::from(first) > u32::from(last) {
            return Err(IpamError::invalid(
                "address range",
                &format!("{first}-{last}"),
                "the first address is greater than the last",
            ));
        }
        Ok(Ipv4Range { first, last })
    }

    /// Parses an endpoint-group ip-pool: `A.B.C.D` or `A.B.C.D-E.F.G.H`.
    pub fn parse(s: &str) -> IpamResult<Self> {
        let bad = |why: &str| IpamError::invalid("ip pool", s, why);
        let (a, b) = match s.split_once('-') {
            Some((a, b)) => (a, b),
            None => (s, s),
        };
        let first = Ipv4Addr::from_str(a)
            .map_err(|_| bad("expected A.B.C.D or A.B.C.D-E.F.G.H with full IPv4 addresses"))?;
        let last = Ipv4Addr::from_str(b)
            .map_err(|_| bad("expected A.B.C.D or A.B.C.D-E.F.G.H with full IPv4 addresses"))?;
        if u32::from(first) > u32::from(last) {
            return Err(bad("the first address is greater than the last"));
        }
        Ok(Ipv4Range { first, last })
    }

    /// Number of addresses.
    pub fn len(&self) -> u64 {
        u64::from(u32::from(self.last)) - u64::from(u32::from(self.first)) + 1
    }

    /// Always false (a range holds at least one address); for clippy.
    pub fn is_empty(&self) -> bool {
        false
    }

    /// True if `addr` lies in the range.
    pub fn contains(&self, addr: Ipv4Addr) -> bool {
        (u32::from(self.first)..=u32::from(self.last)).contains(&u32::from(addr))
    }

    /// True if the two ranges share an address.
    pub fn overlaps(&self, other: &Ipv4Range) -> bool {
        u32::from(self.first) <= u32::from(other.last)
            && u32::from(other.first) <= u32::from(self.last)
    }
}

impl fmt::Display for Ipv4Range {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.first == self.last {
            write!(f, "{}", self.first)
        } else {
            write!(f, "{}-{}", self.first, self.last)
        }
    }
}

/// An IPv4 network subnet with the range of it that may be handed out —
/// the network's `subnet` field, `A.B.C.D[-E.F.G.H]/len`.
///
/// The subnet address is normalised to the network address (`10.1.1.1/24`
/// → `10.1.1.0/24`); the range defaults to the whole subnet.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct Ipv4Spec {
    subnet: Ipv4Net,
    range: Ipv4Range,
}

impl Ipv4Spec {
    /// Parses `A.B.C.D/len` or `A.B.C.D-E.F.G.H/len` with the model's
    /// parser ([`validate::parse_ipv4_subnet`]: `len` 8..=30, no host bits
    /// in the plain form, no special-purpose block, the range inside the
    /// subnet) — a subnet netmaster accepts is a subnet this accepts.
    pub fn parse(s: &str) -> IpamResult<Self> {
        let range = validate::parse_ipv4_subnet("subnet", s)
            .map_err(|e| IpamError::invalid("subnet", s, e.message))?;
        Ipv4Spec::from_subnet(&range)
    }

    /// The spec of a network's parsed IPv4 subnet (from
    /// [`contiv_core::model::AddressPlan::v4`]).
    pub fn from_subnet(range: &SubnetRange) -> IpamResult<Self> {
        let window = if range.is_range() {
            Some(Ipv4Range::new(range.first, range.last)?)
        } else {
            None
        };
        Ipv4Spec::new(range.net, window)
    }

    /// A spec from a subnet (normalised to its network address) and an
    /// optional range that must lie inside it.
    pub fn new(subnet: Ipv4Net, range: Option<Ipv4Range>) -> IpamResult<Self> {
        let subnet = subnet_v4(subnet.addr(), subnet.prefix_len())
            .map_err(|why| IpamError::invalid("subnet", &subnet.to_string(), why))?;
        let whole = Ipv4Range {
            first: subnet.network(),
            last: subnet.broadcast(),
        };
        let range = match range {
            None => whole,
            Some(r) => {
                if !subnet.contains(&r.first) || !subnet.contains(&r.last) {
                    return Err(IpamError::invalid(
                        "subnet",
                        &format!("{r}/{}", subnet.prefix_len()),
                        format!("the range {r} is not inside the subnet {subnet}"),
                    ));
                }
                r
            }
        };
        Ok(Ipv4Spec { subnet, range })
    }

    /// The subnet (network address and prefix length).
    pub fn subnet(&self) -> Ipv4Net {
        self.subnet
    }

    /// The range that may be handed out (the whole subnet if none was given).
    pub fn range(&self) -> Ipv4Range {
        self.range
    }

    /// True if a range narrower than the subnet was given.
    pub fn has_range(&self) -> bool {
        self.range.first != self.subnet.network() || self.range.last != self.subnet.broadcast()
    }

    /// Checks a gateway: it must be inside the subnet and must not be the
    /// network or broadcast address.
    pub fn check_gateway(&self, gw: Ipv4Addr) -> IpamResult<()> {
        let bad = |why: String| IpamError::invalid("gateway", &gw.to_string(), why);
        if !self.subnet.contains(&gw) {
            return Err(bad(format!("it is outside the subnet {}", self.subnet)));
        }
        if gw == self.subnet.network() || gw == self.subnet.broadcast() {
            return Err(bad(format!(
                "it is the network or broadcast address of {}",
                self.subnet
            )));
        }
        Ok(())
    }
}

impl fmt::Display for Ipv4Spec {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.has_range() {
            write!(
                f,
                "{}-{}/{}",
                self.range.first,
                self.range.last,
                self.subnet.prefix_len()
            )
        } else {
            write!(f, "{}", self.subnet)
        }
    }
}

impl FromStr for Ipv4Spec {
    type Err = IpamError;
    fn from_str(s: &str) -> IpamResult<Self> {
        Ipv4Spec::parse(s)
    }
}

fn subnet_v4(addr: Ipv4Addr, len: u8) -> Result<Ipv4Net, String> {
    if !(MIN_IPV4_PREFIX..=MAX_IPV4_PREFIX).contains(&len) {
        return Err(format!(
            "prefix length /{len} is not supported: use /{MIN_IPV4_PREFIX} to /{MAX_IPV4_PREFIX} \
             (a /31 or /32 has no address left once the network and broadcast addresses are reserved)"
        ));
    }
    let net = Ipv4Net::new(addr, len)
        .map(|n| n.trunc())
        .map_err(|e| e.to_string())?;
    if let Some(what) = validate::reserved_ipv4_block(net) {
        return Err(format!(
            "{net} lies in the {what} block, whose addresses cannot be allocated"
        ));
    }
    Ok(net)
}

/// Parses an IPv6 subnet `addr/len` with the model's parser
/// ([`validate::parse_ipv6_subnet`]: `len` 16..=127, no host bits, no
/// special-purpose block).
pub fn parse_ipv6_subnet(s: &str) -> IpamResult<Ipv6Net> {
    validate::parse_ipv6_subnet("ipv6Subnet", s)
        .map_err(|e| IpamError::invalid("ipv6 subnet", s, e.message))
}

pub(crate) fn check_ipv6_subnet(net: Ipv6Net) -> Result<Ipv6Net, String> {
    let len = net.prefix_len();
    if !(MIN_IPV6_PREFIX..=MAX_IPV6_PREFIX).contains(&len) {
        return Err(format!(
            "prefix length /{len} is not supported: use /{MIN_IPV6_PREFIX} to /{MAX_IPV6_PREFIX}"
        ));
    }
    let net = net.trunc();
    if let Some(what) = validate::reserved_ipv6_block(net) {
        return Err(format!(
            "{net} overlaps the {what} block, whose addresses cannot be allocated"
        ));
    }
    Ok(net)
}

/// Checks an IPv6 gateway against its subnet (inside it, not the subnet's
/// `::` address).
pub fn check_ipv6_gateway(subnet: Ipv6Net, gw: Ipv6Addr) -> IpamResult<()> {
    if !subnet.contains(&gw) {
        return Err(IpamError::invalid(
            "ipv6 gateway",
            &gw.to_string(),
            format!("it is outside the subnet {subnet}"),
        ));
    }
    if gw == subnet.network() {
        return Err(IpamError::invalid(
            "ipv6 gateway",
            &gw.to_string(),
            format!("it is the subnet-router address of {subnet}"),
        ));
    }
    Ok(())
}

/// The hard limits of each id kind: every id must lie in `min..=max`.
pub fn id_bounds(resource: Resource) -> (u32, u32) {
    match resource {
        Resource::Vlan | Resource::LocalVlan => (1, 4094),
        Resource::Vxlan | Resource::EpgId | Resource::TenantId => (1, (1 << 24) - 1),
        Resource::Address => (0, 0),
    }
}

/// A set of id ranges (sorted, disjoint, non-adjacent), e.g. the global
/// `vlans` (`100-400, 500-900`) or `vxlans` (`1-10000`) settings.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct IdRanges {
    ranges: Vec<(u32, u32)>,
}

impl IdRanges {
    /// Builds a set from `(first, last)` pairs for `resource`: each pair
    /// must have `first <= last` and lie within [`id_bounds`]. Overlapping
    /// or adjacent pairs are merged.
    pub fn new(resource: Resource, pairs: &[(u32, u32)]) -> IpamResult<Self> {
        let what = range_what(resource);
        let text = format_runs(pairs.iter().copied());
        if pairs.is_empty() {
            return Err(IpamError::invalid(
                what,
                &text,
                "at least one range is needed",
            ));
        }
        let (min, max) = id_bounds(resource);
        let mut v = pairs.to_vec();
        for &(a, b) in &v {
            if a > b {
                return Err(IpamError::invalid(
                    what,
                    &text,
                    format!("in {a}-{b} the minimum is greater than the maximum"),
                ));
            }
            if a < min || b > max {
                return Err(IpamError::invalid(
                    what,
                    &text,
                    format!("{} values must be within {min}-{max}", resource.plural()),
                ));
            }
        }
        v.sort_unstable();
        let mut merged: Vec<(u32, u32)> = Vec::with_capacity(v.len());
        for (a, b) in v {
            match merged.last_mut() {
                Some((_, last)) if a <= last.saturating_add(1) => *last = (*last).max(b),
                _ => merged.push((a, b)),
            }
        }
        Ok(IdRanges { ranges: merged })
    }

    /// Parses a range list with the original's global-config rules
    /// (`netutils.ParseTagRanges`):
    ///
    /// * `a-b` items separated by `,` (spaces around items allowed), every
    ///   item exactly `min-max` with `1 <= min <= max`;
    /// * vlan: several ranges, values up to 4095 (4095 — like 0 — is
    ///   reserved and never handed out);
    /// * vxlan: a single range, max 65535, width (max − min) at most 16000;
    /// * other kinds: several ranges within [`id_bounds`].
    ///
    /// [`IdRanges::new`] accepts the full 24-bit VNI space for embedders
    /// that are not bound by the original's REST limits.
    pub fn parse(resource: Resource, s: &str) -> IpamResult<Self> {
        let what = range_what(resource);
        let bad = |why: String| IpamError::invalid(what, s, why);
        let items: Vec<&str> = s.split(',').collect();
        if resource == Resource::Vxlan && items.len() > 1 {
            return Err(bad("only one vxlan range is supported".into()));
        }
        let mut pairs = Vec::with_capacity(items.len());
        for item in items {
            let item = item.trim_matches(' ');
            let nums: Vec<&str> = item.split('-').collect();
            let [a, b] = nums.as_slice() else {
                return Err(bad(format!(
                    "{item:?} is not a range; use min-max items separated by commas, e.g. 10-50,70-100"
                )));
            };
            let parse = |t: &str| {
                if t.is_empty() || !t.bytes().all(|c| c.is_ascii_digit()) {
                    return Err(bad(format!("{t:?} in {item:?} is not a number")));
                }
                t.parse::<u32>()
                    .map_err(|_| bad(format!("{t:?} in {item:?} is too large")))
            };
            let (a, b) = (parse(a)?, parse(b)?);
            if a > b {
                return Err(bad(format!(
                    "in {item} the minimum is greater than the maximum"
                )));
            }
            if a < 1 {
                return Err(bad(format!("in {item} values must be at least 1")));
            }
            match resource {
                Resource::Vlan | Resource::LocalVlan if b > 4095 => {
                    return Err(bad(format!(
                        "in {item} vlan values exceed the maximum 4095"
                    )));
                }
                Resource::Vxlan if b > 65535 => {
                    return Err(bad(format!(
                        "in {item} vxlan values exceed the maximum 65535"
                    )));
                }
                Resource::Vxlan if b - a > 16000 => {
                    return Err(bad(format!(
                        "the vxlan range {item} is wider than 16000 values"
                    )));
                }
                _ => {}
            }
            pairs.push((a, b));
        }
        // Clip the reserved vlan 4095 like the original (which clears it).
        let (_, max) = id_bounds(resource);
        let clipped: Vec<(u32, u32)> = pairs
            .into_iter()
            .filter(|&(a, _)| a <= max)
            .map(|(a, b)| (a, b.min(max)))
            .collect();
        if clipped.is_empty() {
            return Err(bad(format!(
                "no usable {} left: {} is reserved",
                resource.plural(),
                max + 1
            )));
        }
        IdRanges::new(resource, &clipped).map_err(|e| match e {
            IpamError::InvalidSpec { why, .. } => bad(why),
            other => other,
        })
    }

    /// The merged ranges, sorted.
    pub fn ranges(&self) -> &[(u32, u32)] {
        &self.ranges
    }

    /// Smallest id.
    pub fn min(&self) -> u32 {
        self.ranges.first().map_or(0, |r| r.0)
    }

    /// Largest id.
    pub fn max(&self) -> u32 {
        self.ranges.last().map_or(0, |r| r.1)
    }

    /// True if `id` is in one of the ranges.
    pub fn contains(&self, id: u32) -> bool {
        let i = self.ranges.partition_point(|r| r.1 < id);
        self.ranges.get(i).is_some_and(|r| r.0 <= id)
    }

    /// Total number of ids.
    pub fn count(&self) -> u64 {
        self.ranges.iter().map(|&(a, b)| u64::from(b - a) + 1).sum()
    }
}

impl fmt::Display for IdRanges {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&format_runs(self.ranges.iter().copied()))
    }
}

fn range_what(resource: Resource) -> &'static str {
    match resource {
        Resource::Vlan => "vlan range",
        Resource::Vxlan => "vxlan range",
        Resource::LocalVlan => "local vlan range",
        Resource::EpgId => "epg id range",
        Resource::TenantId => "tenant id range",
        Resource::Address => "range",
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn subnet_specs_of_the_original_tests() {
        // TestNetworkAddDelete: valid.
        for ok in [
            "10.1.1.0/24",
            "10.1.1.10-10.1.1.20/24",
            "10.1.1.10-10.1.5.254/16",
        ] {
            Ipv4Spec::parse(ok).unwrap();
        }
        // netutils TestValidNetworkRangeParams.
        for ok in [
            "11.2.1.10-11.2.1.100/24",
            "10.123.16.0/26",
            "10.123.16.64/26",
            "10.123.16.10-10.123.16.100/22",
        ] {
            Ipv4Spec::parse(ok).unwrap();
        }
        // TestNetworkAddDelete and netutils TestInvalidNetworkRangeParams: invalid.
        for bad in [
            "10.1.1.10-20/24",
            "10.1.1.10-10.1.20/24",
            "10.1.1.10-10.1.1.1/24",
            "10.1.1.10-10.1.2.30/24",
            "10.1.1.10-10.2.1.30/16",
            "10.1.1.10-10.1.1.1.30/24",
            "10.1.1/24",
            "10.1.1.256/24",
            "10.1.1.1-70/26",
            "10.1.1.1/32",
            "10.123.16.10-10.123.16.100/26",
            "10.123.16.60-10.123.16.100/26",
            "10.1.1.0/1",
            "10.1.1.0/33",
            "10.1.1.0",
            // The model's rules (one parser): host bits, special blocks, /31.
            "10.123.16.66/26",
            "10.1.1.1/24",
            "224.0.0.0/24",
            "127.0.0.0/24",
            "10.1.1.0/31",
        ] {
            assert!(Ipv4Spec::parse(bad).is_err(), "{bad} should be refused");
        }
        let s = Ipv4Spec::parse("10.1.1.70-10.1.1.100/26").unwrap();
        assert_eq!(s.subnet().to_string(), "10.1.1.64/26");
        assert_eq!(s.to_string(), "10.1.1.70-10.1.1.100/26");
        assert_eq!(
            Ipv4Spec::parse("10.1.0.0/16").unwrap().to_string(),
            "10.1.0.0/16"
        );
    }

    #[test]
    fn gateway_outside_the_subnet_is_refused() {
        let s = Ipv4Spec::parse("10.1.1.0/24").unwrap();
        s.check_gateway("10.1.1.254".parse().unwrap()).unwrap();
        let e = s.check_gateway("10.1.2.254".parse().unwrap()).unwrap_err();
        assert!(
            e.to_string().contains("outside the subnet 10.1.1.0/24"),
            "{e}"
        );
        assert!(s.check_gateway("10.1.1.0".parse().unwrap()).is_err());
        assert!(s.check_gateway("10.1.1.255".parse().unwrap()).is_err());
    }

    #[test]
    fn tag_ranges_follow_parse_tag_ranges() {
        IdRanges::parse(Resource::Vlan, "5-100, 101-200").unwrap();
        IdRanges::parse(Resource::Vxlan, "10000-16000").unwrap();
        for (r, bad) in [
            (Resource::Vlan, "5--100, 101-200"),
            (Resource::Vlan, "5-100, 101-5000"),
            (Resource::Vlan, "5-100, 200-101"),
            (Resource::Vlan, "5-100,,101-200"),
            (Resource::Vxlan, "101-400, 10000-15000"),
            (Resource::Vxlan, "101-75535"),
            (Resource::Vxlan, "8000-7999"),
            // TestGlobalSetting.
            (Resource::Vlan, "1-5000"),
            (Resource::Vlan, "0-4094"),
            (Resource::Vlan, "1"),
            (Resource::Vlan, "1?2"),
            (Resource::Vlan, "abcd"),
            (Resource::Vxlan, "1-100000"),
            (Resource::Vxlan, "1-20000"),
            // gstate tests.
            (Resource::Vlan, "100-400,900-500"),
            (Resource::Vlan, ""),
        ] {
            assert!(IdRanges::parse(r, bad).is_err(), "{bad} should be refused");
        }
        let v = IdRanges::parse(Resource::Vlan, "1-4095").unwrap();
        assert_eq!(v.to_string(), "1-4094");
        let v = IdRanges::parse(Resource::Vlan, "100-400,500-900").unwrap();
        assert_eq!(v.ranges(), &[(100, 400), (500, 900)]);
        assert!(v.contains(400) && !v.contains(450) && v.contains(500));
        assert_eq!(v.count(), 301 + 401);
        let merged = IdRanges::new(Resource::EpgId, &[(5, 10), (1, 4), (8, 20)]).unwrap();
        assert_eq!(merged.ranges(), &[(1, 20)]);
        assert!(IdRanges::new(Resource::Vxlan, &[(1, 1 << 24)]).is_err());
        IdRanges::new(Resource::Vxlan, &[(1, (1 << 24) - 1)]).unwrap();
    }

    #[test]
    fn ip_pools_parse() {
        let r = Ipv4Range::parse("10.1.0.1-10.1.0.10").unwrap();
        assert_eq!(r.len(), 10);
        assert_eq!(r.to_string(), "10.1.0.1-10.1.0.10");
        assert_eq!(Ipv4Range::parse("10.1.0.1").unwrap().len(), 1);
        assert!(Ipv4Range::parse("10.1.0.10-10.1.0.1").is_err());
        assert!(Ipv4Range::parse("10.1.0.1-20").is_err());
    }

    #[test]
    fn ipv6_subnets() {
        assert_eq!(
            parse_ipv6_subnet("2016:430::/64").unwrap().to_string(),
            "2016:430::/64"
        );
        assert!(parse_ipv6_subnet("2016:430::5/64").is_err());
        assert!(parse_ipv6_subnet("fe80::/64").is_err());
        assert!(parse_ipv6_subnet("2016:430::/128").is_err());
        assert!(parse_ipv6_subnet("2001::/8").is_err());
        assert!(parse_ipv6_subnet("10.1.1.0/24").is_err());
    }
}
