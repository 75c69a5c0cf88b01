//! Interface names the agent derives from endpoint ids.
//!
//! Names are a pure function of the endpoint id, so they survive restarts
//! (a resync after a crash finds the same ports) and two endpoints never
//! share one: `vp` + 12 hex digits of the id's FNV-1a hash for the
//! host-side veth the switch attaches, `vc` + the same digits for the
//! container side while it is still in the host namespace (Docker moves
//! and renames it). 14 bytes, within Linux's 15-byte limit.

/// The host-side interface name of endpoint `id`.
pub fn host_ifname(id: &str) -> String {
    format!("vp{}", digits(id))
}

/// The container-side veth name of endpoint `id` while it is in the host
/// namespace (Docker CNM).
pub fn peer_ifname(id: &str) -> String {
    format!("vc{}", digits(id))
}

fn digits(id: &str) -> String {
    let h = contiv_policy::fnv1a64(id.as_bytes());
    format!("{:012x}", h & 0xffff_ffff_ffff)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_are_stable_short_and_distinct() {
        let a = host_ifname("c1-eth0");
        assert_eq!(a, host_ifname("c1-eth0"));
        assert_eq!(a.len(), 14);
        assert!(a.starts_with("vp"));
        assert_ne!(a, host_ifname("c1-eth1"));
        let p = peer_ifname("c1-eth0");
        assert_eq!(&p[2..], &a[2..]);
        assert!(p.starts_with("vc"));
    }
}
