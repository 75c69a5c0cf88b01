//! A network's address plan, parsed once: the IPv4 subnet with its
//! allocation window and gateway, the optional IPv6 subnet and gateway.
//!
//! [`Network::address_plan`](super::Network::address_plan) is the one
//! parser of these four fields: netmaster validates with it, the allocator
//! (`contiv-ipam`) builds its pools from it, the policy compiler takes a
//! network's prefixes from it and the agent its subnet and gateway, so a
//! subnet the API accepts is a subnet every consumer accepts, with the same
//! limits (prefix lengths /8../30 and /16../127, no host bits, no
//! special-purpose blocks).

use super::SubnetRange;
use ipnet::{IpNet, Ipv4Net, Ipv6Net};
use std::net::{Ipv4Addr, Ipv6Addr};

/// The address plan of a network.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct AddressPlan {
    /// The IPv4 subnet and the window addresses are allocated from.
    pub v4: SubnetRange,
    /// The IPv4 gateway: a host address of the subnet.
    pub gateway: Option<Ipv4Addr>,
    /// The IPv6 subnet, if the network is dual-stack.
    pub v6: Option<Ipv6Net>,
    /// The IPv6 gateway, inside the IPv6 subnet.
    pub gateway6: Option<Ipv6Addr>,
}

impl AddressPlan {
    /// The IPv4 subnet (the whole prefix, also when a narrower allocation
    /// window was given).
    pub fn subnet(&self) -> Ipv4Net {
        self.v4.net
    }

    /// True if the network has an IPv6 subnet.
    pub fn has_ipv6(&self) -> bool {
        self.v6.is_some()
    }

    /// Every prefix of the network (IPv4 first, then IPv6): what a rule
    /// naming the network as its peer matches.
    pub fn prefixes(&self) -> Vec<IpNet> {
        let mut out = vec![IpNet::V4(self.v4.net)];
        out.extend(self.v6.map(IpNet::V6));
        out
    }

    /// Which family, if any, makes two plans clash: their IPv4 allocation
    /// windows overlap, or their IPv6 subnets do (the original's per-tenant
    /// overlap rule).
    pub fn clash(&self, other: &AddressPlan) -> Option<Family> {
        if self.v4.first <= other.v4.last && other.v4.first <= self.v4.last {
            return Some(Family::V4);
        }
        match (self.v6, other.v6) {
            (Some(a), Some(b)) if a.contains(&b.network()) || b.contains(&a.network()) => {
                Some(Family::V6)
            }
            _ => None,
        }
    }
}

/// An address family.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Family {
    /// IPv4.
    V4,
    /// IPv6.
    V6,
}
