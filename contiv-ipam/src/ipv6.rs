//! IPv6 address allocation for one network, sized for `/64` and larger
//! subnets: the allocated host ids are an interval set, never a bitmap.

use crate::codec::{Reader, Tag, Writer};
use crate::error::{DecodeError, Holder, IpamError, IpamResult, Resource};
use crate::intervals::IntervalSet;
use crate::spec::{check_ipv6_gateway, check_ipv6_subnet};
use crate::state::AllocState;
use crate::summary::format_runs;
use ipnet::Ipv6Net;
use std::net::Ipv6Addr;

/// The IPv6 addresses of one network.
///
/// Host ids are offsets in the subnet. Host id 0 (the subnet-router anycast
/// address) is never handed out; the gateway is reserved. Allocation is
/// lowest-free-first (the first gap after `::1`), so the guarantees match
/// [`Ipv4Pool`](crate::Ipv4Pool): no duplicates, released addresses are
/// reused lowest first, requested addresses are checked. Memory and the
/// encoding grow with the number of *runs* of allocated addresses, not with
/// the subnet size (the original kept a `map[hostID]bool` and allocated
/// sequentially after the last host with wrap-around).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Ipv6Pool {
    subnet: Ipv6Net,
    gateway: Option<Ipv6Addr>,
    gw_host: Option<u128>,
    max_host: u128,
    taken: IntervalSet,
}

impl Ipv6Pool {
    /// The pool of `subnet` (prefix 16..=127, normalised to its network
    /// address) with an optional gateway inside it.
    pub fn new(subnet: Ipv6Net, gateway: Option<Ipv6Addr>) -> IpamResult<Self> {
        let subnet = check_ipv6_subnet(subnet)
            .map_err(|why| IpamError::invalid("ipv6 subnet", &subnet.to_string(), why))?;
        if let Some(gw) = gateway {
            check_ipv6_gateway(subnet, gw)?;
        }
        let bits = 128 - u32::from(subnet.prefix_len());
        let max_host = u128::MAX >> (128 - bits);
        let base = u128::from(subnet.network());
        let gw_host = gateway.map(|g| u128::from(g) - base);
        let mut taken = IntervalSet::default();
        if let Some(h) = gw_host {
            taken.insert_range(h, h);
        }
        Ok(Ipv6Pool {
            subnet,
            gateway,
            gw_host,
            max_host,
            taken,
        })
    }

    /// The subnet.
    pub fn subnet(&self) -> Ipv6Net {
        self.subnet
    }

    /// The gateway, if any.
    pub fn gateway(&self) -> Option<Ipv6Addr> {
        self.gateway
    }

    /// Addresses handed out by allocation (not the gateway).
    pub fn allocated_count(&self) -> u128 {
        self.taken.count() - u128::from(self.gw_host.is_some())
    }

    fn addr(&self, host: u128) -> Ipv6Addr {
        Ipv6Addr::from(u128::from(self.subnet.network()) + host)
    }

    fn host(&self, addr: Ipv6Addr) -> Option<u128> {
        if !self.subnet.contains(&addr) {
            return None;
        }
        let h = u128::from(addr) - u128::from(self.subnet.network());
        (h >= 1).then_some(h)
    }

    fn outside_why(&self) -> String {
        format!(
            "it is outside the assignable addresses {}-{} of subnet {}",
            self.addr(1),
            self.addr(self.max_host),
            self.subnet
        )
    }

    /// True if `addr` is allocated (not counting the gateway).
    pub fn is_allocated(&self, addr: Ipv6Addr) -> bool {
        self.host(addr)
            .is_some_and(|h| Some(h) != self.gw_host && self.taken.contains(h))
    }

    /// Allocates the lowest free address.
    pub fn allocate(&mut self) -> IpamResult<Ipv6Addr> {
        match self.taken.first_gap_from(1).filter(|h| *h <= self.max_host) {
            Some(h) => {
                self.taken.insert_range(h, h);
                Ok(self.addr(h))
            }
            None => Err(IpamError::Exhausted {
                resource: Resource::Address,
                within: format!("subnet {}", self.subnet),
            }),
        }
    }

    /// Allocates exactly `addr` if it is assignable and free.
    pub fn allocate_requested(&mut self, addr: Ipv6Addr) -> IpamResult<Ipv6Addr> {
        let Some(h) = self.host(addr) else {
            return Err(IpamError::OutOfRange {
                resource: Resource::Address,
                value: addr.to_string(),
                why: self.outside_why(),
            });
        };
        if !self.taken.insert_range(h, h) {
            return Err(IpamError::AlreadyTaken {
                resource: Resource::Address,
                value: addr.to_string(),
                holder: if Some(h) == self.gw_host {
                    Holder::Gateway
                } else {
                    Holder::Allocated
                },
            });
        }
        Ok(addr)
    }

    /// [`allocate_requested`](Self::allocate_requested) if `req` is given,
    /// else [`allocate`](Self::allocate).
    pub fn allocate_with(&mut self, req: Option<Ipv6Addr>) -> IpamResult<Ipv6Addr> {
        match req {
            Some(a) => self.allocate_requested(a),
            None => self.allocate(),
        }
    }

    /// Releases an allocated address: `Ok(true)` if it was allocated,
    /// `Ok(false)` if it was free; an error for the gateway or an address
    /// outside the subnet.
    pub fn release(&mut self, addr: Ipv6Addr) -> IpamResult<bool> {
        let not = |why: String| IpamError::NotReleasable {
            resource: Resource::Address,
            value: addr.to_string(),
            why,
        };
        let Some(h) = self.host(addr) else {
            return Err(not(self.outside_why()));
        };
        if Some(h) == self.gw_host {
            return Err(not("it is the network gateway".into()));
        }
        Ok(self.taken.remove(h))
    }

    /// Runs of allocated host ids (gateway excluded).
    fn allocation_runs(&self) -> Vec<(u128, u128)> {
        let mut out = Vec::with_capacity(self.taken.intervals());
        for (a, b) in self.taken.iter() {
            match self.gw_host {
                Some(g) if (a..=b).contains(&g) => {
                    if a < g {
                        out.push((a, g - 1));
                    }
                    if g < b {
                        out.push((g + 1, b));
                    }
                }
                _ => out.push((a, b)),
            }
        }
        out
    }

    /// Maximal runs of taken addresses (allocations and the gateway) in the
    /// original's summary format (`2001::1-2001::3, 2001::fe`).
    pub fn allocated_summary(&self) -> String {
        format_runs(self.taken.iter().map(|(a, b)| (self.addr(a), self.addr(b))))
    }

    /// Allocated addresses as inclusive runs, lowest first.
    pub fn allocated_ranges(&self) -> Vec<(Ipv6Addr, Ipv6Addr)> {
        self.allocation_runs()
            .into_iter()
            .map(|(a, b)| (self.addr(a), self.addr(b)))
            .collect()
    }
}

/// Layout after the header: flags (u8: 1 = has gateway), the subnet's
/// network address (16 bytes), prefix length (u8), the gateway (16 bytes, if
/// flagged), allocated host ids as runs.
impl AllocState for Ipv6Pool {
    fn kind(&self) -> &'static str {
        "ipv6"
    }

    fn in_use(&self) -> u64 {
        u64::try_from(self.allocated_count()).unwrap_or(u64::MAX)
    }

    fn in_use_noun(&self) -> &'static str {
        "addresses"
    }

    fn encode(&self) -> Vec<u8> {
        let mut w = Writer::new(Tag::Ipv6);
        w.u8(u8::from(self.gateway.is_some()));
        w.bytes(&self.subnet.network().octets());
        w.u8(self.subnet.prefix_len());
        if let Some(g) = self.gateway {
            w.bytes(&g.octets());
        }
        let runs = self.allocation_runs();
        w.runs(runs.len(), runs);
        w.finish()
    }

    fn decode(bytes: &[u8]) -> Result<Self, DecodeError> {
        let bad = |why: String| DecodeError(why);
        let mut r = Reader::new(bytes, Tag::Ipv6)?;
        let flags = r.u8()?;
        if flags > 1 {
            return Err(bad(format!("unknown flags {flags:#x}")));
        }
        let net = Ipv6Addr::from(r.array::<16>()?);
        let len = r.u8()?;
        let gateway = if flags == 1 {
            Some(Ipv6Addr::from(r.array::<16>()?))
        } else {
            None
        };
        let subnet =
            Ipv6Net::new(net, len).map_err(|e| bad(format!("bad prefix length {len}: {e}")))?;
        if subnet.network() != net {
            return Err(bad(format!("{net}/{len} is not a network address")));
        }
        let mut pool = Ipv6Pool::new(subnet, gateway).map_err(|e| bad(e.to_string()))?;
        for (a, b) in r.runs(pool.max_host)? {
            if a == 0 {
                return Err(bad("host id 0 cannot be allocated".into()));
            }
            if !pool.taken.insert_range(a, b) {
                return Err(bad(format!(
                    "allocated address {} overlaps the gateway",
                    pool.addr(a)
                )));
            }
        }
        r.finish()?;
        Ok(pool)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn a(s: &str) -> Ipv6Addr {
        s.parse().unwrap()
    }

    #[test]
    fn lowest_first_with_gateway_and_reuse() {
        let mut p = Ipv6Pool::new("1001:2::/120".parse().unwrap(), Some(a("1001:2::2"))).unwrap();
        assert_eq!(p.allocate().unwrap(), a("1001:2::1"));
        assert_eq!(p.allocate().unwrap(), a("1001:2::3"));
        assert_eq!(p.allocate().unwrap(), a("1001:2::4"));
        assert!(p.release(a("1001:2::3")).unwrap());
        assert!(!p.release(a("1001:2::3")).unwrap());
        assert!(p.release(a("1001:2::2")).is_err());
        assert_eq!(p.allocate().unwrap(), a("1001:2::3"));
        assert_eq!(p.allocated_summary(), "1001:2::1-1001:2::4");
        assert_eq!(p.allocated_count(), 3);
        let e = p.allocate_requested(a("1001:2::2")).unwrap_err();
        assert!(e.to_string().contains("gateway"), "{e}");
        assert!(matches!(
            p.allocate_requested(a("1001:3::1")),
            Err(IpamError::OutOfRange { .. })
        ));
        assert!(matches!(
            p.allocate_requested(a("1001:2::")),
            Err(IpamError::OutOfRange { .. })
        ));
    }

    #[test]
    fn a_64_is_cheap_and_exhaustion_is_reported() {
        let mut p = Ipv6Pool::new("2016:430::/64".parse().unwrap(), None).unwrap();
        p.allocate_requested(a("2016:430::ffff:ffff:ffff:ffff"))
            .unwrap();
        for _ in 0..10_000 {
            p.allocate().unwrap();
        }
        let bytes = p.encode();
        assert!(bytes.len() < 64, "{}", bytes.len());
        assert_eq!(Ipv6Pool::decode(&bytes).unwrap(), p);
        // A /126 has host ids 1..=3.
        let mut small = Ipv6Pool::new("2001::/126".parse().unwrap(), None).unwrap();
        for _ in 0..3 {
            small.allocate().unwrap();
        }
        assert_eq!(
            small.allocate().unwrap_err().to_string(),
            "auto allocation failed - address exhaustion in subnet 2001::/126"
        );
    }

    #[test]
    fn decode_rejects_overlap_with_gateway() {
        let p = Ipv6Pool::new("2001::/64".parse().unwrap(), Some(a("2001::5"))).unwrap();
        let mut w = Writer::new(Tag::Ipv6);
        w.u8(1);
        w.bytes(&a("2001::").octets());
        w.u8(64);
        w.bytes(&a("2001::5").octets());
        w.runs(1, [(1u128, 9u128)]);
        assert!(Ipv6Pool::decode(&w.finish()).is_err());
        assert_eq!(Ipv6Pool::decode(&p.encode()).unwrap(), p);
    }
}
