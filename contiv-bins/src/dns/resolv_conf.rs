//! Reading the host's resolvers from `resolv.conf`.
//!
//! Only `nameserver` lines matter: each holds one IPv4 or IPv6 address
//! (port 53). An IPv6 address may carry a numeric zone (`fe80::1%2`); a
//! named zone (`%eth0`) is skipped, as is anything that does not parse.
//! Comments start with `#` or `;`.

use std::net::{IpAddr, Ipv6Addr, SocketAddr, SocketAddrV6};
use std::path::Path;

/// The DNS port.
pub const DNS_PORT: u16 = 53;

/// The upstream resolvers named in `resolv.conf` text, in order.
pub fn parse(text: &str) -> Vec<SocketAddr> {
    text.lines()
        .filter_map(|line| {
            let line = line.split(['#', ';']).next().unwrap_or_default();
            let mut words = line.split_whitespace();
            (words.next() == Some("nameserver"))
                .then(|| words.next())
                .flatten()
                .and_then(parse_addr)
        })
        .collect()
}

fn parse_addr(word: &str) -> Option<SocketAddr> {
    if let Ok(ip) = word.parse::<IpAddr>() {
        return Some(SocketAddr::new(ip, DNS_PORT));
    }
    let (addr, zone) = word.split_once('%')?;
    let ip: Ipv6Addr = addr.parse().ok()?;
    let scope: u32 = zone.parse().ok()?;
    Some(SocketAddr::V6(SocketAddrV6::new(ip, DNS_PORT, 0, scope)))
}

/// Reads and parses a `resolv.conf` file.
pub fn read(path: &Path) -> std::io::Result<Vec<SocketAddr>> {
    Ok(parse(&std::fs::read_to_string(path)?))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn nameserver_lines_in_order() {
        let text = "\
# generated
search corp.example
nameserver 10.0.0.2
nameserver   2001:db8::53 # v6
options ndots:2
;nameserver 10.9.9.9
nameserver fe80::1%3
nameserver fe80::1%eth0
nameserver not-an-ip
nameserver
nameserver127.0.0.1
";
        let got = parse(text);
        assert_eq!(
            got,
            vec![
                "10.0.0.2:53".parse().unwrap(),
                "[2001:db8::53]:53".parse().unwrap(),
                SocketAddr::V6(SocketAddrV6::new("fe80::1".parse().unwrap(), 53, 0, 3)),
            ]
        );
    }

    #[test]
    fn reads_a_file() {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("resolv.conf");
        std::fs::write(&p, "nameserver 127.0.0.53\n").unwrap();
        assert_eq!(read(&p).unwrap(), vec!["127.0.0.53:53".parse().unwrap()]);
        assert!(read(&dir.path().join("missing")).is_err());
    }
}
