//! IPv6 address and prefix syntax: hex groups and colons (no embedded IPv4,
//! no zone), prefix lengths 16..=127 — all of them, without the original's
//! regex holes at 108, 109, 118 and 119 (deliberate change (c)).

use super::ValidationError;
use super::ipv4::parse_prefix_len;
use super::text::quoted;
use ipnet::Ipv6Net;
use std::net::Ipv6Addr;

/// Smallest accepted IPv6 network prefix length.
pub const MIN_SUBNET6_LEN: u8 = 16;
/// Largest accepted IPv6 network prefix length (`/128` leaves no host).
pub const MAX_SUBNET6_LEN: u8 = 127;

/// IPv6 blocks no network may overlap, with what they are.
const RESERVED_V6: [(Ipv6Addr, u8, &str); 4] = [
    (Ipv6Addr::UNSPECIFIED, 128, "unspecified (::/128)"),
    (Ipv6Addr::LOCALHOST, 128, "loopback (::1/128)"),
    (
        Ipv6Addr::new(0xfe80, 0, 0, 0, 0, 0, 0, 0),
        10,
        "link-local (fe80::/10)",
    ),
    (
        Ipv6Addr::new(0xff00, 0, 0, 0, 0, 0, 0, 0),
        8,
        "multicast (ff00::/8)",
    ),
];

/// The special-purpose block `net` overlaps (unspecified, loopback,
/// link-local, multicast), if any.
pub fn reserved_ipv6_block(net: Ipv6Net) -> Option<&'static str> {
    RESERVED_V6.iter().find_map(|(a, len, what)| {
        let block = Ipv6Net::new(*a, *len).ok()?;
        (block.contains(&net.network()) || net.contains(&block.network())).then_some(*what)
    })
}

/// Parses an IPv6 address written with hex groups and colons only
/// (`2001:db8::1`, `::`); embedded-IPv4 and zone forms are rejected.
pub fn parse_ipv6(s: &str) -> Option<Ipv6Addr> {
    if s.is_empty() || !s.bytes().all(|b| b.is_ascii_hexdigit() || b == b':') {
        return None;
    }
    s.parse().ok()
}

/// Parses an IPv6 network `addr/len` with `len` in 16..=127: the address
/// must be the network address (no host bits) and the prefix must not
/// overlap a special-purpose block ([`reserved_ipv6_block`]). `field`
/// names the field in errors.
pub fn parse_ipv6_subnet(field: &'static str, s: &str) -> Result<Ipv6Net, ValidationError> {
    let syntax = || {
        ValidationError::new(
            field,
            format!(
                "invalid {field} {}: expected an IPv6 prefix addr/len with len \
                 {MIN_SUBNET6_LEN}..{MAX_SUBNET6_LEN}",
                quoted(s)
            ),
        )
    };
    let (addr, len) = s.split_once('/').ok_or_else(syntax)?;
    let addr = parse_ipv6(addr).ok_or_else(syntax)?;
    let len = parse_prefix_len(len, MIN_SUBNET6_LEN, MAX_SUBNET6_LEN).ok_or_else(syntax)?;
    let net = Ipv6Net::new(addr, len)
        .map(|n| n.trunc())
        .map_err(|_| syntax())?;
    if let Some(what) = reserved_ipv6_block(net) {
        return Err(ValidationError::new(
            field,
            format!(
                "invalid {field} {}: {net} overlaps the {what} block, whose addresses cannot be \
                 given to containers; use a global or unique-local prefix such as fd00:1::/64",
                quoted(s)
            ),
        ));
    }
    if addr != net.network() {
        return Err(ValidationError::new(
            field,
            format!(
                "invalid {field} {}: {addr} has host bits set for a /{len}; write the network \
                 address {net}",
                quoted(s)
            ),
        ));
    }
    Ok(net)
}

/// Parses an IPv6 rule address match: `addr` (a host, /128) or `addr/len`
/// with `len` in 1..=127, normalised to the prefix.
pub(crate) fn parse_rule_ip6(field: &'static str, s: &str) -> Result<Ipv6Net, ValidationError> {
    let syntax = || {
        ValidationError::new(
            field,
            format!(
                "invalid {field} {}: expected an IPv6 address or prefix addr/len with len 1..127",
                quoted(s)
            ),
        )
    };
    let (addr, len) = match s.split_once('/') {
        Some((a, l)) => (a, parse_prefix_len(l, 1, 127).ok_or_else(syntax)?),
        None => (s, 128),
    };
    let addr = parse_ipv6(addr).ok_or_else(syntax)?;
    Ipv6Net::new(addr, len)
        .map(|n| n.trunc())
        .map_err(|_| syntax())
}

/// Parses an optional IPv6 address field (empty → `None`).
pub(crate) fn parse_opt_ipv6(
    field: &'static str,
    s: &str,
) -> Result<Option<Ipv6Addr>, ValidationError> {
    if s.is_empty() {
        return Ok(None);
    }
    parse_ipv6(s).map(Some).ok_or_else(|| {
        ValidationError::new(
            field,
            format!(
                "invalid {field} {}: expected an IPv6 address of hex groups and colons",
                quoted(s)
            ),
        )
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_prefix_length_from_16_to_127_is_accepted() {
        for len in 16..=127 {
            let s = format!("2001::/{len}");
            assert!(parse_ipv6_subnet("ipv6Subnet", &s).is_ok(), "{s}");
        }
        for len in ["0", "15", "128", "129", "064", ""] {
            let s = format!("2001:db8::/{len}");
            assert!(parse_ipv6_subnet("ipv6Subnet", &s).is_err(), "{s}");
        }
    }

    #[test]
    fn addresses_are_hex_and_colons_only() {
        assert!(parse_ipv6("2016:0617::").is_some());
        assert!(parse_ipv6("::").is_some());
        assert!(parse_ipv6("::ffff:1.2.3.4").is_none());
        assert!(parse_ipv6("fe80::1%eth0").is_none());
        assert!(parse_ipv6("1::2::3").is_none());
        let n = parse_ipv6_subnet("ipv6Subnet", "2001:db8::/64").unwrap();
        assert_eq!(n, "2001:db8::/64".parse::<Ipv6Net>().unwrap());
        for (bad, why) in [
            ("2001:db8::5/64", "host bits"),
            ("fe80::/64", "link-local"),
            ("ff02::/16", "multicast"),
            ("::/16", "unspecified"),
        ] {
            let e = parse_ipv6_subnet("ipv6Subnet", bad).unwrap_err();
            assert!(e.message.contains(why), "{bad}: {}", e.message);
        }
    }
}
