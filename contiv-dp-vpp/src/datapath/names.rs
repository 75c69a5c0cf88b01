//! Stable names of what the datapath creates in VPP.
//!
//! VPP assigns interface indices, bridge-domain ids and ACL indices
//! itself; the datapath recognises its objects after a restart by the
//! **tags** it gives them (interface tags, bridge-domain tags, ACL tags,
//! table names), all starting with [`TAG_PREFIX`]. Anything tagged so that
//! the desired state does not name is stale and removed by a resync;
//! anything else in VPP is left alone.

use contiv_core::ir::{Direction, EpgId, TenantId};
use std::net::IpAddr;

/// Prefix of every tag this datapath writes.
pub const TAG_PREFIX: &str = "cv:";

/// VPP tags hold at most 63 bytes.
const TAG_MAX: usize = 63;

/// FNV-1a 64 (stable across processes).
pub fn fnv64(s: &str) -> u64 {
    let mut h: u64 = 0xcbf2_9ce4_8422_2325;
    for b in s.bytes() {
        h ^= u64::from(b);
        h = h.wrapping_mul(0x0100_0000_01b3);
    }
    h
}

/// `cv:<kind>:<name>`, with the name replaced by its hash if the tag would
/// not fit or the name is not plain ASCII.
pub fn tag(kind: &str, name: &str) -> String {
    let t = format!("{TAG_PREFIX}{kind}:{name}");
    if t.len() <= TAG_MAX && name.bytes().all(|b| b.is_ascii_graphic()) {
        t
    } else {
        format!("{TAG_PREFIX}{kind}:#{:016x}", fnv64(name))
    }
}

/// The tag of a network's bridge domain.
pub fn bd_tag(net: &str) -> String {
    tag("bd", net)
}

/// The ACL of a group's `in` or `out` rules.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct AclKey {
    /// Tenant id.
    pub tenant: TenantId,
    /// Group id.
    pub epg: EpgId,
    /// Which rules.
    pub dir: Direction,
}

impl AclKey {
    /// Its tag.
    pub fn tag(&self) -> String {
        let d = match self.dir {
            Direction::In => "in",
            Direction::Out => "out",
        };
        format!("{TAG_PREFIX}acl:{}:{}:{d}", self.tenant, self.epg)
    }

    /// Parses a tag written by [`AclKey::tag`].
    pub fn from_tag(t: &str) -> Option<AclKey> {
        let rest = t.strip_prefix(TAG_PREFIX)?.strip_prefix("acl:")?;
        let mut p = rest.split(':');
        let tenant = p.next()?.parse().ok()?;
        let epg = p.next()?.parse().ok()?;
        let dir = match p.next()? {
            "in" => Direction::In,
            "out" => Direction::Out,
            _ => return None,
        };
        p.next().is_none().then_some(AclKey { tenant, epg, dir })
    }
}

/// Identity of an interface the datapath owns.
#[derive(Clone, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum IfKey {
    /// A network's BVI (its gateway).
    Bvi(String),
    /// A local endpoint's TAP.
    Tap(String),
    /// A local endpoint's existing host interface (af_packet).
    Host(String),
    /// The VXLAN tunnel of a network to a peer.
    Vxlan(String, IpAddr),
    /// A VLAN network's dot1q sub-interface on the uplink.
    Vlan(String),
}

impl IfKey {
    /// Its interface tag.
    pub fn tag(&self) -> String {
        match self {
            IfKey::Bvi(n) => tag("bvi", n),
            IfKey::Tap(e) => tag("tap", e),
            IfKey::Host(e) => tag("host", e),
            IfKey::Vxlan(n, ip) => tag("vx", &format!("{ip}/{n}")),
            IfKey::Vlan(n) => tag("vlan", n),
        }
    }
}

/// A network's gateway MAC: the same on every host (a distributed
/// gateway), locally administered, derived from the network key.
pub fn gateway_mac(net: &str) -> [u8; 6] {
    let h = fnv64(net).to_be_bytes();
    [0x02, 0xfe, h[0], h[1], h[2], h[3]]
}

/// The VRF (table id, both families) of a network: its tenant's id in
/// routing mode; in bridge mode every network has its own table, so no
/// traffic is routed between networks (ids with the top bit set, from the
/// VLAN or VNI, which are unique per host).
pub fn vrf(routing: bool, tenant: TenantId, vxlan: bool, vlan: u16, vni: Option<u32>) -> u32 {
    if routing {
        tenant
    } else if vxlan {
        0xc000_0000 | vni.unwrap_or(0)
    } else {
        0x8000_0000 | u32::from(vlan)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tags_fit_and_round_trip() {
        assert_eq!(tag("bvi", "default:net"), "cv:bvi:default:net");
        let long = "x".repeat(100);
        let t = tag("bvi", &long);
        assert!(t.len() <= 63 && t.starts_with("cv:bvi:#"), "{t}");
        assert_eq!(tag("bvi", &long), t);
        let k = AclKey {
            tenant: 3,
            epg: 77,
            dir: Direction::Out,
        };
        assert_eq!(AclKey::from_tag(&k.tag()), Some(k));
        assert_eq!(AclKey::from_tag("cv:acl:3:77:sideways"), None);
        assert_eq!(gateway_mac("a:b"), gateway_mac("a:b"));
        assert_ne!(gateway_mac("a:b"), gateway_mac("a:c"));
    }
}
