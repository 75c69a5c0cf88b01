//! Assertions the system tests share: all-pairs reachability, isolation,
//! TCP allowed/blocked, and the encapsulation variants.

use super::Container;
use std::net::Ipv4Addr;
use std::time::Duration;

/// How long a first contact may take (ARP, tunnel neighbour resolution
/// and flows settling). A property bound, not a speed target.
pub const SETTLE: Duration = Duration::from_secs(10);

/// The two network encapsulations every applicable test runs with.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Encap {
    /// VXLAN: one tunnel per peer host.
    Vxlan,
    /// VLAN: tagged frames over the trunk uplinks.
    Vlan,
}

impl Encap {
    /// `vxlan` / `vlan` (netctl's `-e`).
    pub fn as_str(self) -> &'static str {
        match self {
            Encap::Vxlan => "vxlan",
            Encap::Vlan => "vlan",
        }
    }
}

/// Every container reaches every other one by ping (each ordered pair, in
/// parallel; each pair may take up to [`SETTLE`]).
pub fn all_pairs_ping(cs: &[&Container]) {
    let failures: Vec<String> = std::thread::scope(|s| {
        let mut handles = Vec::new();
        for a in cs {
            for b in cs {
                if a.cid == b.cid {
                    continue;
                }
                handles.push(s.spawn(move || {
                    (!a.ping_within(&b.ip.to_string(), SETTLE)).then(|| {
                        format!("{}@{} -> {}@{} ({})", a.name, a.host, b.name, b.host, b.ip)
                    })
                }));
            }
        }
        handles
            .into_iter()
            .filter_map(|h| h.join().expect("ping thread"))
            .collect()
    });
    assert!(failures.is_empty(), "pings failed: {failures:?}");
}

/// None of `(from, to)` pairs gets a ping answered (run in parallel).
pub fn no_ping(pairs: &[(&Container, Ipv4Addr)]) {
    let answered: Vec<String> = std::thread::scope(|s| {
        let handles: Vec<_> = pairs
            .iter()
            .map(|(a, ip)| {
                s.spawn(move || {
                    a.ping(&ip.to_string())
                        .then(|| format!("{}@{} -> {ip}", a.name, a.host))
                })
            })
            .collect();
        handles
            .into_iter()
            .filter_map(|h| h.join().expect("ping thread"))
            .collect()
    });
    assert!(
        answered.is_empty(),
        "these pings must fail but were answered: {answered:?}"
    );
}

/// One TCP expectation: `(from, to, port, allowed)`.
pub type Expect<'a> = (&'a Container, &'a Container, u16, bool);

/// TCP expectations `(from, to, port, allowed)`. The blocked ones are
/// checked first (in parallel; each must fail twice in a row within
/// [`SETTLE`]: after a policy change the block may take a moment), then
/// the allowed ones (each may take up to [`SETTLE`]). Checking blocks
/// first makes an allowed result mean something: the rules that block
/// are in force, so the allow is the policy's doing, not the policy not
/// having arrived yet.
pub fn tcp(expect: &[Expect<'_>]) {
    for want in [false, true] {
        let group: Vec<_> = expect.iter().filter(|e| e.3 == want).collect();
        let wrong: Vec<String> = std::thread::scope(|s| {
            let handles: Vec<_> = group
                .iter()
                .map(|(a, b, port, allowed)| {
                    s.spawn(move || {
                        let ok = if *allowed {
                            a.connects_within(b.ip, *port, SETTLE)
                        } else {
                            blocked_within(a, b.ip, *port, SETTLE)
                        };
                        (!ok).then(|| {
                            format!(
                                "{}@{} -> {}@{}:{port} should be {}",
                                a.name,
                                a.host,
                                b.name,
                                b.host,
                                if *allowed { "allowed" } else { "blocked" }
                            )
                        })
                    })
                })
                .collect();
            handles
                .into_iter()
                .filter_map(|h| h.join().expect("tcp thread"))
                .collect()
        });
        assert!(wrong.is_empty(), "TCP expectations not met: {wrong:?}");
    }
}

/// Whether two connection attempts in a row to `ip:port` fail, within
/// `timeout`.
pub fn blocked_within(a: &Container, ip: Ipv4Addr, port: u16, timeout: Duration) -> bool {
    let deadline = std::time::Instant::now() + timeout;
    loop {
        if !a.connects(ip, port) && !a.connects(ip, port) {
            return true;
        }
        if std::time::Instant::now() >= deadline {
            return false;
        }
    }
}

/// Removes every container with CNI DEL (in order).
pub fn remove_all(cs: Vec<Container>) {
    for c in cs {
        c.remove();
    }
}
