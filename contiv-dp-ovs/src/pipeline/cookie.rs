//! Flow cookies: every flow names its owner, so a resync (or an operator
//! with `ovs-ofctl dump-flows cookie=…/0xff00000000000000`) can tell whose
//! flow it is and what is stale.
//!
//! Layout: bits 63..56 the owner [`CookieKind`], bits 55..0 a stable id of
//! the owner within its kind (a hash of the network key / endpoint id /
//! peer address / (tenant, address), the low 56 bits of a policy
//! [`RuleId`](contiv_core::ir::RuleId), or a conjunction id). Ids are
//! computed from the owner's identity only, never from process state, so
//! a restarted agent computes the same cookies.

use std::fmt;

/// Mask of the kind byte.
pub const KIND_MASK: u64 = 0xff00_0000_0000_0000;
/// Mask of the id bits.
pub const ID_MASK: u64 = 0x00ff_ffff_ffff_ffff;

/// Who owns a flow.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
#[repr(u8)]
pub enum CookieKind {
    /// The fixed skeleton of the pipeline.
    Base = 0x01,
    /// A network (tunnel/uplink classification, flooding).
    Network = 0x02,
    /// A local endpoint (port classification, spoof guard, ARP, L2).
    LocalEndpoint = 0x03,
    /// A remote endpoint (ARP, L2 towards its VTEP).
    RemoteEndpoint = 0x04,
    /// An EPG membership (source/destination classification).
    Membership = 0x05,
    /// One policy rule (a flow group holding exactly one compiled rule).
    Rule = 0x06,
    /// A group of policy rules sharing a conjunction.
    RuleGroup = 0x07,
    /// A service (VIP, load balancing, hairpin, its backends' flows).
    Service = 0x08,
    /// External access: the host port's flows and each tenant's SNAT.
    External = 0x09,
    /// The host's router on the fabric (routing mode with BGP).
    Fabric = 0x0a,
    /// A route to an external prefix learned from the fabric.
    Route = 0x0b,
}

impl CookieKind {
    /// The kind of a cookie, if it is one of ours.
    pub fn of(cookie: u64) -> Option<CookieKind> {
        Some(match (cookie >> 56) as u8 {
            0x01 => CookieKind::Base,
            0x02 => CookieKind::Network,
            0x03 => CookieKind::LocalEndpoint,
            0x04 => CookieKind::RemoteEndpoint,
            0x05 => CookieKind::Membership,
            0x06 => CookieKind::Rule,
            0x07 => CookieKind::RuleGroup,
            0x08 => CookieKind::Service,
            0x09 => CookieKind::External,
            0x0a => CookieKind::Fabric,
            0x0b => CookieKind::Route,
            _ => return None,
        })
    }

    /// The cookie of owner `id` of this kind (`id` is truncated to 56 bits).
    pub const fn cookie(self, id: u64) -> u64 {
        ((self as u64) << 56) | (id & ID_MASK)
    }

    /// The `(cookie, mask)` pair that selects every flow of this kind.
    pub const fn selector(self) -> (u64, u64) {
        ((self as u64) << 56, KIND_MASK)
    }
}

impl fmt::Display for CookieKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            CookieKind::Base => "base",
            CookieKind::Network => "network",
            CookieKind::LocalEndpoint => "local-endpoint",
            CookieKind::RemoteEndpoint => "remote-endpoint",
            CookieKind::Membership => "membership",
            CookieKind::Rule => "rule",
            CookieKind::RuleGroup => "rule-group",
            CookieKind::Service => "service",
            CookieKind::External => "external",
            CookieKind::Fabric => "fabric",
            CookieKind::Route => "route",
        })
    }
}

/// FNV-1a 64 over byte slices, each followed by a 0 separator: stable
/// across processes and platforms.
pub fn stable_hash(parts: &[&[u8]]) -> u64 {
    let mut h = StableHasher::new();
    for p in parts {
        h.part(p);
    }
    h.finish()
}

/// [`stable_hash`] fed part by part (no allocation).
#[derive(Clone, Copy, Debug)]
pub struct StableHasher(u64);

impl Default for StableHasher {
    fn default() -> Self {
        StableHasher::new()
    }
}

impl StableHasher {
    /// The FNV-1a offset basis.
    pub const fn new() -> StableHasher {
        StableHasher(0xcbf2_9ce4_8422_2325)
    }

    /// Adds `bytes` as a part (followed by the 0 separator).
    pub fn part(&mut self, bytes: &[u8]) -> &mut StableHasher {
        for b in bytes.iter().chain(std::iter::once(&0u8)) {
            self.0 ^= u64::from(*b);
            self.0 = self.0.wrapping_mul(0x0000_0100_0000_01b3);
        }
        self
    }

    /// The hash.
    pub const fn finish(&self) -> u64 {
        self.0
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn kind_round_trips_and_ids_are_truncated() {
        let c = CookieKind::Membership.cookie(u64::MAX);
        assert_eq!(CookieKind::of(c), Some(CookieKind::Membership));
        assert_eq!(c & ID_MASK, ID_MASK);
        assert_eq!(CookieKind::of(0), None);
        assert_eq!(CookieKind::of(0xff00_0000_0000_0001), None);
        let (v, m) = CookieKind::Rule.selector();
        assert_eq!(CookieKind::Rule.cookie(42) & m, v);
    }

    #[test]
    fn stable_hash_separates_parts() {
        assert_ne!(stable_hash(&[b"ab", b"c"]), stable_hash(&[b"a", b"bc"]));
        // Pinned: a change here would change every cookie on upgrade.
        assert_eq!(stable_hash(&[b"default:net"]), 0x8bf4_3fe3_ea9a_3ed5);
    }
}
