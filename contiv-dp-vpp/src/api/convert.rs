//! Conversions between the API's address types and `std::net` / `ipnet`.

use super::policer::PolicerAddDel;
use super::types::{
    Address, AddressFamily, AddressUnion, Ip4Prefix, Ip6Prefix, PolicerConfig, Prefix,
};
use ipnet::{IpNet, Ipv4Net, Ipv6Net};
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};

impl Address {
    /// The API form of `ip`.
    pub fn from_ip(ip: IpAddr) -> Address {
        match ip {
            IpAddr::V4(a) => Address {
                af: AddressFamily::ADDRESS_IP4,
                un: AddressUnion::from_ip4(&a.octets()),
            },
            IpAddr::V6(a) => Address {
                af: AddressFamily::ADDRESS_IP6,
                un: AddressUnion::from_ip6(&a.octets()),
            },
        }
    }

    /// The address, if `af` is a known family.
    pub fn ip(&self) -> Option<IpAddr> {
        match self.af {
            AddressFamily::ADDRESS_IP4 => Some(IpAddr::V4(Ipv4Addr::from(self.un.ip4()))),
            AddressFamily::ADDRESS_IP6 => Some(IpAddr::V6(Ipv6Addr::from(self.un.ip6()))),
            _ => None,
        }
    }
}

impl Prefix {
    /// The API form of `net` (address and length as given, not truncated).
    pub fn from_net(net: IpNet) -> Prefix {
        Prefix {
            address: Address::from_ip(net.addr()),
            len: net.prefix_len(),
        }
    }

    /// The prefix, if the family is known and the length fits it.
    pub fn net(&self) -> Option<IpNet> {
        IpNet::new(self.address.ip()?, self.len).ok()
    }
}

impl Ip4Prefix {
    /// The API form of `net`.
    pub fn from_net(net: Ipv4Net) -> Ip4Prefix {
        Ip4Prefix {
            address: net.addr().octets(),
            len: net.prefix_len(),
        }
    }

    /// The prefix, if the length is at most 32.
    pub fn net(&self) -> Option<Ipv4Net> {
        Ipv4Net::new(Ipv4Addr::from(self.address), self.len).ok()
    }
}

impl Ip6Prefix {
    /// The API form of `net`.
    pub fn from_net(net: Ipv6Net) -> Ip6Prefix {
        Ip6Prefix {
            address: net.addr().octets(),
            len: net.prefix_len(),
        }
    }

    /// The prefix, if the length is at most 128.
    pub fn net(&self) -> Option<Ipv6Net> {
        Ipv6Net::new(Ipv6Addr::from(self.address), self.len).ok()
    }
}

impl PolicerAddDel {
    /// The policer configuration the request carries.
    pub fn config(&self) -> PolicerConfig {
        PolicerConfig {
            cir: self.cir,
            eir: self.eir,
            cb: self.cb,
            eb: self.eb,
            rate_type: self.rate_type,
            round_type: self.round_type,
            r#type: self.r#type,
            color_aware: self.color_aware,
            conform_action: self.conform_action,
            exceed_action: self.exceed_action,
            violate_action: self.violate_action,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn addresses_and_prefixes_round_trip() {
        for s in ["10.1.2.3", "fd00::1"] {
            let ip: IpAddr = s.parse().unwrap();
            assert_eq!(Address::from_ip(ip).ip(), Some(ip));
        }
        for s in ["10.1.2.0/24", "fd00::/64"] {
            let n: IpNet = s.parse().unwrap();
            assert_eq!(Prefix::from_net(n).net(), Some(n));
        }
        let a = Address::from_ip("10.0.0.1".parse().unwrap());
        assert_eq!(&a.un.0[..4], &[10, 0, 0, 1]);
        assert!(a.un.0[4..].iter().all(|b| *b == 0));
        let bad = Address {
            af: AddressFamily(7),
            ..a
        };
        assert_eq!(bad.ip(), None);
    }
}
