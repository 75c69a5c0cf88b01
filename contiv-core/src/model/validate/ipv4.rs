//! IPv4 address, prefix and range syntax, as the original's regexes accept
//! it: dotted quads of decimal octets 0..=255 without leading zeros, prefix
//! lengths without leading zeros.

use super::ValidationError;
use super::text::{is_digits, quoted};
use ipnet::Ipv4Net;
use std::net::Ipv4Addr;

/// Parses a strict dotted-quad IPv4 address (`10.1.1.1`): four decimal
/// octets 0..=255, no leading zeros, nothing else.
pub fn parse_ipv4(s: &str) -> Option<Ipv4Addr> {
    let mut octets = [0u8; 4];
    let mut parts = s.split('.');
    for octet in octets.iter_mut() {
        let p = parts.next()?;
        if !is_digits(p) || p.len() > 3 || (p.len() > 1 && p.starts_with('0')) {
            return None;
        }
        *octet = p.parse().ok()?;
    }
    if parts.next().is_some() {
        return None;
    }
    Some(Ipv4Addr::from(octets))
}

/// True if `s` is a strict dotted-quad IPv4 address.
pub fn is_valid_ipv4(s: &str) -> bool {
    parse_ipv4(s).is_some()
}

/// Parses a prefix length in `min..=max`, decimal without leading zeros.
pub(crate) fn parse_prefix_len(s: &str, min: u8, max: u8) -> Option<u8> {
    if !is_digits(s) || s.len() > 3 || (s.len() > 1 && s.starts_with('0')) {
        return None;
    }
    let len: u8 = s.parse().ok()?;
    (min..=max).contains(&len).then_some(len)
}

/// An IPv4 network subnet with its allocatable window.
///
/// Parsed from `A.B.C.D/len` (the window is the whole subnet) or
/// `A.B.C.D-E.F.G.H/len` (the window is the inclusive range). The IPAM
/// never hands out the network and broadcast addresses even when the window
/// includes them.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct SubnetRange {
    /// The subnet, normalised to its network address (`10.1.1.1/24` →
    /// `10.1.1.0/24`).
    pub net: Ipv4Net,
    /// First address of the window (the range start, or the network address).
    pub first: Ipv4Addr,
    /// Last address of the window (the range end, or the broadcast address).
    pub last: Ipv4Addr,
}

impl SubnetRange {
    /// True if `ip` lies in the window `first..=last`.
    pub fn contains(&self, ip: Ipv4Addr) -> bool {
        self.first <= ip && ip <= self.last
    }

    /// True if the window is narrower than the whole subnet (a range such
    /// as `10.1.1.10-10.1.1.20/24`).
    pub fn is_range(&self) -> bool {
        self.first != self.net.network() || self.last != self.net.broadcast()
    }
}

/// Smallest accepted network prefix length (the netmaster's limit).
pub const MIN_SUBNET_LEN: u8 = 8;
/// Largest accepted network prefix length: a `/31` or `/32` has no address
/// left once the network and broadcast addresses are reserved (the same
/// limit the allocator uses: it builds its pools from this parser).
pub const MAX_SUBNET_LEN: u8 = 30;

/// IPv4 blocks no network may overlap, with what they are: their addresses
/// are never unicast host addresses a container could own.
const RESERVED_V4: [([u8; 4], u8, &str); 5] = [
    ([0, 0, 0, 0], 8, "\"this network\" (0.0.0.0/8)"),
    ([127, 0, 0, 0], 8, "loopback (127.0.0.0/8)"),
    ([169, 254, 0, 0], 16, "link-local (169.254.0.0/16)"),
    ([224, 0, 0, 0], 4, "multicast (224.0.0.0/4)"),
    ([240, 0, 0, 0], 4, "reserved/broadcast (240.0.0.0/4)"),
];

/// The special-purpose block `net` overlaps (loopback, link-local,
/// multicast, "this network", reserved/broadcast), if any: such a subnet
/// cannot hold container addresses.
pub fn reserved_ipv4_block(net: Ipv4Net) -> Option<&'static str> {
    RESERVED_V4.iter().find_map(|(a, len, what)| {
        let block = Ipv4Net::new(Ipv4Addr::from(*a), *len).ok()?;
        (block.contains(&net.network()) || net.contains(&block.network())).then_some(*what)
    })
}

/// Parses a network subnet: `A.B.C.D/len` or `A.B.C.D-E.F.G.H/len` with
/// `len` in 8..=31, the range start not after its end and the range end
/// inside the subnet. `field` names the field in errors.
pub fn parse_ipv4_subnet(field: &'static str, s: &str) -> Result<SubnetRange, ValidationError> {
    let syntax = || {
        ValidationError::new(
            field,
            format!(
                "invalid {field} {}: expected A.B.C.D/len or A.B.C.D-E.F.G.H/len with len \
                 {MIN_SUBNET_LEN}..{MAX_SUBNET_LEN}",
                quoted(s)
            ),
        )
    };
    if s.is_empty() {
        return Err(ValidationError::new(
            field,
            format!(
                "{field} is required: expected A.B.C.D/len or A.B.C.D-E.F.G.H/len with len \
                 {MIN_SUBNET_LEN}..{MAX_SUBNET_LEN}"
            ),
        ));
    }
    let (addrs, len) = s.split_once('/').ok_or_else(syntax)?;
    let (first, last) = match addrs.split_once('-') {
        Some((a, b)) => (
            parse_ipv4(a).ok_or_else(syntax)?,
            Some(parse_ipv4(b).ok_or_else(syntax)?),
        ),
        None => (parse_ipv4(addrs).ok_or_else(syntax)?, None),
    };
    let len = match parse_prefix_len(len, 0, 32) {
        Some(l) if (MIN_SUBNET_LEN..=MAX_SUBNET_LEN).contains(&l) => l,
        Some(l) => {
            return Err(ValidationError::new(
                field,
                format!(
                    "invalid {field} {}: prefix length /{l} is not supported, use \
                     /{MIN_SUBNET_LEN}../{MAX_SUBNET_LEN}",
                    quoted(s)
                ),
            ));
        }
        None => return Err(syntax()),
    };
    let net = Ipv4Net::new(first, len).map_err(|_| syntax())?.trunc();
    if let Some(what) = reserved_ipv4_block(net) {
        return Err(ValidationError::new(
            field,
            format!(
                "invalid {field} {}: {net} lies in the {what} block, whose addresses cannot be \
                 given to containers; use a unicast range such as 10.0.0.0/8, 172.16.0.0/12 or \
                 192.168.0.0/16",
                quoted(s)
            ),
        ));
    }
    let Some(last) = last else {
        if first != net.network() {
            return Err(ValidationError::new(
                field,
                format!(
                    "invalid {field} {}: {first} has host bits set for a /{len}; write the \
                     network address {net}, or an allocation range such as {first}-{}/{len}",
                    quoted(s),
                    net.broadcast()
                ),
            ));
        }
        return Ok(SubnetRange {
            net,
            first: net.network(),
            last: net.broadcast(),
        });
    };
    if first > last {
        return Err(ValidationError::new(
            field,
            format!(
                "invalid {field} {}: the range start {first} is after its end {last}",
                quoted(s)
            ),
        ));
    }
    if !net.contains(&last) {
        return Err(ValidationError::new(
            field,
            format!(
                "invalid {field} {}: the range end {last} is outside the subnet {net}",
                quoted(s)
            ),
        ));
    }
    Ok(SubnetRange { net, first, last })
}

/// Parses an optional IPv4 address field (empty → `None`).
pub(crate) fn parse_opt_ipv4(
    field: &'static str,
    s: &str,
) -> Result<Option<Ipv4Addr>, ValidationError> {
    if s.is_empty() {
        return Ok(None);
    }
    parse_ipv4(s).map(Some).ok_or_else(|| {
        ValidationError::new(
            field,
            format!(
                "invalid {field} {}: expected an IPv4 address A.B.C.D",
                quoted(s)
            ),
        )
    })
}

/// Parses an endpoint-group IP pool: `A.B.C.D` or `A.B.C.D-E.F.G.H` with
/// the start not after the end (empty → `None`).
pub(crate) fn parse_ip_pool(
    field: &'static str,
    s: &str,
) -> Result<Option<(Ipv4Addr, Ipv4Addr)>, ValidationError> {
    if s.is_empty() {
        return Ok(None);
    }
    let syntax = || {
        ValidationError::new(
            field,
            format!(
                "invalid {field} {}: expected an IPv4 range A.B.C.D-E.F.G.H (or one address \
                 A.B.C.D)",
                quoted(s)
            ),
        )
    };
    let (first, last) = match s.split_once('-') {
        Some((a, b)) => (
            parse_ipv4(a).ok_or_else(syntax)?,
            parse_ipv4(b).ok_or_else(syntax)?,
        ),
        None => {
            let a = parse_ipv4(s).ok_or_else(syntax)?;
            (a, a)
        }
    };
    if first > last {
        return Err(ValidationError::new(
            field,
            format!(
                "invalid {field} {}: the pool start {first} is after its end {last}",
                quoted(s)
            ),
        ));
    }
    Ok(Some((first, last)))
}

/// Parses a rule address match: `A.B.C.D` (a host) or `A.B.C.D/len` with
/// `len` in 1..=31, normalised to the prefix (empty → `None`). The
/// original's `A.B.C.D-N` form is rejected: its datapath could not parse it.
pub(crate) fn parse_rule_ip(
    field: &'static str,
    s: &str,
) -> Result<Option<Ipv4Net>, ValidationError> {
    if s.is_empty() {
        return Ok(None);
    }
    let syntax = || {
        ValidationError::new(
            field,
            format!(
                "invalid {field} {}: expected A.B.C.D or A.B.C.D/len with len 1..31",
                quoted(s)
            ),
        )
    };
    let (addr, len) = match s.split_once('/') {
        Some((a, l)) => (a, Some(l)),
        None => (s, None),
    };
    if let Some((start, _)) = addr.split_once('-')
        && is_valid_ipv4(start)
    {
        return Err(ValidationError::new(
            field,
            format!(
                "invalid {field} {}: the A.B.C.D-N range form is not supported (the datapath \
                 matches only A.B.C.D or A.B.C.D/len); give a prefix such as {start}/24 instead",
                quoted(s)
            ),
        ));
    }
    let ip = parse_ipv4(addr).ok_or_else(syntax)?;
    let len = match len {
        Some(l) => parse_prefix_len(l, 1, 31).ok_or_else(syntax)?,
        None => 32,
    };
    Ipv4Net::new(ip, len)
        .map(|n| Some(n.trunc()))
        .map_err(|_| syntax())
}

/// Parses an interface address `A.B.C.D/len` with `len` in 1..=31, keeping
/// the host bits (a BGP router address is an address, not a prefix).
pub(crate) fn parse_interface_addr(
    field: &'static str,
    s: &str,
) -> Result<Ipv4Net, ValidationError> {
    let syntax = || {
        ValidationError::new(
            field,
            format!(
                "invalid {field} {}: expected an address with prefix length A.B.C.D/len, len \
                 1..31",
                quoted(s)
            ),
        )
    };
    let (addr, len) = s.split_once('/').ok_or_else(syntax)?;
    let ip = parse_ipv4(addr).ok_or_else(syntax)?;
    let len = parse_prefix_len(len, 1, 31).ok_or_else(syntax)?;
    Ipv4Net::new(ip, len).map_err(|_| syntax())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn dotted_quads_are_strict() {
        assert_eq!(parse_ipv4("10.1.1.1"), Some(Ipv4Addr::new(10, 1, 1, 1)));
        assert_eq!(parse_ipv4("0.0.0.0"), Some(Ipv4Addr::UNSPECIFIED));
        for bad in [
            "10.1.1",
            "10.1.1.256",
            "010.1.1.1",
            "10.1.1.1.1",
            "1.2.3.-4",
            "a.b.c.d",
            "",
            "1..2.3",
        ] {
            assert_eq!(parse_ipv4(bad), None, "{bad}");
        }
    }

    #[test]
    fn subnet_window_is_the_range_or_the_whole_subnet() {
        let r = parse_ipv4_subnet("subnet", "10.1.1.0/24").unwrap();
        assert_eq!(r.net, "10.1.1.0/24".parse::<Ipv4Net>().unwrap());
        assert_eq!(
            (r.first, r.last),
            (Ipv4Addr::new(10, 1, 1, 0), Ipv4Addr::new(10, 1, 1, 255))
        );
        assert!(!r.is_range());
        let r = parse_ipv4_subnet("subnet", "10.1.1.10-10.1.5.254/16").unwrap();
        assert_eq!(r.net, "10.1.0.0/16".parse::<Ipv4Net>().unwrap());
        assert_eq!(
            (r.first, r.last),
            (Ipv4Addr::new(10, 1, 1, 10), Ipv4Addr::new(10, 1, 5, 254))
        );
        assert!(r.is_range() && r.contains(Ipv4Addr::new(10, 1, 2, 3)));
        assert!(!r.contains(Ipv4Addr::new(10, 1, 1, 9)));
    }

    #[test]
    fn host_bits_special_blocks_and_tiny_subnets_are_refused() {
        for (bad, why) in [
            ("10.5.1.1/24", "host bits"),
            ("224.0.0.0/24", "multicast"),
            ("239.1.0.0/16", "multicast"),
            ("127.0.0.0/24", "loopback"),
            ("169.254.0.0/16", "link-local"),
            ("0.0.0.0/8", "this network"),
            ("255.255.255.0/24", "broadcast"),
            ("10.1.1.0/31", "/31"),
        ] {
            let e = parse_ipv4_subnet("subnet", bad).unwrap_err();
            assert!(e.message.contains(why), "{bad}: {}", e.message);
        }
        // A range may start anywhere inside its subnet.
        assert!(parse_ipv4_subnet("subnet", "10.5.1.1-10.5.1.9/24").is_ok());
        assert!(parse_ipv4_subnet("subnet", "10.1.1.0/30").is_ok());
        assert!(parse_ipv4_subnet("subnet", "223.255.255.0/24").is_ok());
    }

    #[test]
    fn rule_ips_normalise_and_reject_ranges() {
        let n = parse_rule_ip("fromIpAddress", "10.1.1.1/24")
            .unwrap()
            .unwrap();
        assert_eq!(n, "10.1.1.0/24".parse::<Ipv4Net>().unwrap());
        let n = parse_rule_ip("fromIpAddress", "10.1.1.7").unwrap().unwrap();
        assert_eq!(n, "10.1.1.7/32".parse::<Ipv4Net>().unwrap());
        let e = parse_rule_ip("toIpAddress", "10.1.1.1-20").unwrap_err();
        assert!(
            e.message.contains("range form is not supported"),
            "{}",
            e.message
        );
        assert!(parse_rule_ip("toIpAddress", "10.1.1.1/32").is_err());
        assert!(parse_rule_ip("toIpAddress", "10.1.1.1/0").is_err());
    }
}
