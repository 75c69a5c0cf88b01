//! IPv4 address allocation for one network (or one endpoint-group
//! ip-pool): a word bitmap over the assignable addresses.

use crate::bitmap::Bitmap;
use crate::codec::{Reader, Tag, Writer};
use crate::error::{DecodeError, Holder, IpamError, IpamResult, Resource};
use crate::spec::{Ipv4Range, Ipv4Spec};
use crate::state::AllocState;
use crate::summary::format_runs;
use ipnet::Ipv4Net;
use std::net::Ipv4Addr;

/// The addresses of one IPv4 network (or endpoint-group ip-pool).
///
/// * The **window** is the part of the subnet that may be handed out: the
///   spec's range without the network and broadcast addresses. One bit per
///   window address, set = taken.
/// * The gateway (if inside the window) is taken from the start.
/// * Allocation is lowest-free-first: the first endpoint gets `.1`, a
///   released address is the next one handed out again.
/// * Requested (static/preferred) addresses are checked: outside the window
///   → [`IpamError::OutOfRange`], taken → [`IpamError::AlreadyTaken`].
/// * An endpoint-group ip-pool is **carved** out of a network with
///   [`Ipv4Pool::reserve_group_pool`] (every address in it must be free;
///   they become taken in the network) and allocated from a separate
///   [`Ipv4Pool::new_group`] pool; [`Ipv4Pool::release_group_pool`] gives
///   the range back.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Ipv4Pool {
    spec: Ipv4Spec,
    group: bool,
    gateway: Option<Ipv4Addr>,
    lo: u32,
    hi: u32,
    taken: Bitmap,
    gw_bit: Option<u32>,
    carved: Vec<(u32, u32)>,
    allocated: u32,
}

fn ip(v: u32) -> Ipv4Addr {
    Ipv4Addr::from(v)
}

impl Ipv4Pool {
    /// The pool of a network: `spec` (subnet and optional range) and an
    /// optional gateway (inside the subnet; reserved if inside the range).
    pub fn new(spec: Ipv4Spec, gateway: Option<Ipv4Addr>) -> IpamResult<Self> {
        if let Some(gw) = gateway {
            spec.check_gateway(gw)?;
        }
        Self::build(spec, gateway, false)
    }

    /// The pool of an endpoint-group ip-pool `pool` inside the network
    /// `network` (allocate from it after carving the same range out of the
    /// network's pool with [`Ipv4Pool::reserve_group_pool`]).
    pub fn new_group(network: &Ipv4Spec, pool: Ipv4Range) -> IpamResult<Self> {
        let subnet = network.subnet();
        if !subnet.contains(&pool.first) || !subnet.contains(&pool.last) {
            return Err(IpamError::invalid(
                "ip pool",
                &pool.to_string(),
                format!("it is not inside the network subnet {subnet}"),
            ));
        }
        let spec = Ipv4Spec::new(subnet, Some(pool))?;
        Self::build(spec, None, true)
    }

    fn build(spec: Ipv4Spec, gateway: Option<Ipv4Addr>, group: bool) -> IpamResult<Self> {
        let net = spec.subnet();
        let range = spec.range();
        let lo = u32::from(range.first).max(u32::from(net.network()) + 1);
        let hi = u32::from(range.last).min(u32::from(net.broadcast()) - 1);
        if lo > hi {
            return Err(IpamError::invalid(
                if group { "ip pool" } else { "subnet" },
                &spec.to_string(),
                "it has no assignable address (the network and broadcast addresses are reserved)",
            ));
        }
        let mut taken = Bitmap::new(hi - lo + 1);
        let gw_bit = gateway
            .map(u32::from)
            .filter(|g| (lo..=hi).contains(g))
            .map(|g| g - lo);
        if let Some(b) = gw_bit {
            taken.set(b);
        }
        Ok(Ipv4Pool {
            spec,
            group,
            gateway,
            lo,
            hi,
            taken,
            gw_bit,
            carved: Vec::new(),
            allocated: 0,
        })
    }

    /// The subnet and range this pool was built from.
    pub fn spec(&self) -> &Ipv4Spec {
        &self.spec
    }

    /// The subnet.
    pub fn subnet(&self) -> Ipv4Net {
        self.spec.subnet()
    }

    /// The gateway, if any.
    pub fn gateway(&self) -> Option<Ipv4Addr> {
        self.gateway
    }

    /// True for an endpoint-group ip-pool.
    pub fn is_group(&self) -> bool {
        self.group
    }

    /// The addresses that may be handed out (range minus network/broadcast).
    pub fn assignable(&self) -> Ipv4Range {
        Ipv4Range {
            first: ip(self.lo),
            last: ip(self.hi),
        }
    }

    /// Number of assignable addresses.
    pub fn capacity(&self) -> u32 {
        self.taken.len()
    }

    /// Addresses handed out by allocation (not the gateway, not carved
    /// group pools).
    pub fn allocated_count(&self) -> u32 {
        self.allocated
    }

    /// Addresses still free.
    pub fn free_count(&self) -> u32 {
        self.taken.len() - self.taken.count_ones()
    }

    /// The carved endpoint-group ip-pools.
    pub fn group_pools(&self) -> Vec<Ipv4Range> {
        self.carved
            .iter()
            .map(|&(a, b)| Ipv4Range {
                first: ip(self.lo + a),
                last: ip(self.lo + b),
            })
            .collect()
    }

    fn within(&self) -> String {
        if self.group {
            format!("pool {}", self.assignable())
        } else {
            format!("subnet {}", self.spec.subnet())
        }
    }

    fn outside_why(&self) -> String {
        format!(
            "it is outside the assignable addresses {} of {}",
            self.assignable(),
            self.within()
        )
    }

    fn index(&self, addr: Ipv4Addr) -> Option<u32> {
        let v = u32::from(addr);
        (self.lo..=self.hi).contains(&v).then(|| v - self.lo)
    }

    fn carve_of(&self, i: u32) -> Option<(u32, u32)> {
        let k = self.carved.partition_point(|c| c.1 < i);
        self.carved.get(k).copied().filter(|c| c.0 <= i)
    }

    fn holder(&self, i: u32) -> Holder {
        if Some(i) == self.gw_bit {
            Holder::Gateway
        } else if let Some((a, b)) = self.carve_of(i) {
            Holder::GroupPool(
                Ipv4Range {
                    first: ip(self.lo + a),
                    last: ip(self.lo + b),
                }
                .to_string(),
            )
        } else {
            Holder::Allocated
        }
    }

    /// True if `addr` is taken (allocated, gateway or carved).
    pub fn is_taken(&self, addr: Ipv4Addr) -> bool {
        self.index(addr).is_some_and(|i| self.taken.test(i))
    }

    /// True if `addr` was handed out by allocation.
    pub fn is_allocated(&self, addr: Ipv4Addr) -> bool {
        self.index(addr)
            .is_some_and(|i| self.taken.test(i) && self.holder(i) == Holder::Allocated)
    }

    /// Allocates the lowest free address.
    pub fn allocate(&mut self) -> IpamResult<Ipv4Addr> {
        match self.taken.first_clear() {
            Some(i) => {
                self.taken.set(i);
                self.allocated += 1;
                Ok(ip(self.lo + i))
            }
            None => Err(IpamError::Exhausted {
                resource: Resource::Address,
                within: self.within(),
            }),
        }
    }

    /// Allocates exactly `addr` if it is assignable and free.
    pub fn allocate_requested(&mut self, addr: Ipv4Addr) -> IpamResult<Ipv4Addr> {
        let Some(i) = self.index(addr) else {
            return Err(IpamError::OutOfRange {
                resource: Resource::Address,
                value: addr.to_string(),
                why: self.outside_why(),
            });
        };
        if self.taken.test(i) {
            return Err(IpamError::AlreadyTaken {
                resource: Resource::Address,
                value: addr.to_string(),
                holder: self.holder(i),
            });
        }
        self.taken.set(i);
        self.allocated += 1;
        Ok(addr)
    }

    /// [`allocate_requested`](Self::allocate_requested) if `req` is given,
    /// else [`allocate`](Self::allocate).
    pub fn allocate_with(&mut self, req: Option<Ipv4Addr>) -> IpamResult<Ipv4Addr> {
        match req {
            Some(a) => self.allocate_requested(a),
            None => self.allocate(),
        }
    }

    /// Releases an allocated address. `Ok(true)` if it was allocated,
    /// `Ok(false)` if it was already free; an error for the gateway, a
    /// carved group-pool address or an address outside the pool.
    pub fn release(&mut self, addr: Ipv4Addr) -> IpamResult<bool> {
        let not = |why: String| IpamError::NotReleasable {
            resource: Resource::Address,
            value: addr.to_string(),
            why,
        };
        let Some(i) = self.index(addr) else {
            return Err(not(self.outside_why()));
        };
        if !self.taken.test(i) {
            return Ok(false);
        }
        match self.holder(i) {
            Holder::Allocated => {
                self.taken.clear(i);
                self.allocated -= 1;
                Ok(true)
            }
            Holder::Gateway => Err(not("it is the network gateway".into())),
            Holder::GroupPool(p) => Err(not(format!(
                "it belongs to the endpoint-group ip-pool {p}; release it from that group's pool"
            ))),
        }
    }

    /// Carves the endpoint-group ip-pool `pool` out of this network: every
    /// address must be assignable and free; they become taken here.
    pub fn reserve_group_pool(&mut self, pool: Ipv4Range) -> IpamResult<()> {
        let (Some(a), Some(b)) = (self.index(pool.first), self.index(pool.last)) else {
            return Err(IpamError::OutOfRange {
                resource: Resource::Address,
                value: format!("ip-pool {pool}"),
                why: self.outside_why(),
            });
        };
        if let Some(i) = self.taken.next_set(a).filter(|i| *i <= b) {
            return Err(IpamError::AlreadyTaken {
                resource: Resource::Address,
                value: format!("{} (in ip-pool {pool})", ip(self.lo + i)),
                holder: self.holder(i),
            });
        }
        self.taken.set_range(a, b);
        let k = self.carved.partition_point(|c| c.0 < a);
        self.carved.insert(k, (a, b));
        Ok(())
    }

    /// Gives a carved endpoint-group ip-pool back to the network.
    pub fn release_group_pool(&mut self, pool: Ipv4Range) -> IpamResult<()> {
        let found = match (self.index(pool.first), self.index(pool.last)) {
            (Some(a), Some(b)) => self.carved.iter().position(|c| *c == (a, b)),
            _ => None,
        };
        let Some(k) = found else {
            return Err(IpamError::UnknownPool {
                pool: format!("ip-pool {pool} of subnet {}", self.spec.subnet()),
            });
        };
        let (a, b) = self.carved.remove(k);
        self.taken.clear_range(a, b);
        Ok(())
    }

    /// The "allocated addresses" string of the original: maximal runs of
    /// taken addresses in the range (allocations, the gateway and carved
    /// group pools), e.g. `10.1.1.1-10.1.1.3, 10.1.1.254`.
    pub fn allocated_summary(&self) -> String {
        let lo = self.lo;
        format_runs(
            self.taken
                .set_runs(0, self.hi - self.lo)
                .map(|(a, b)| (ip(lo + a), ip(lo + b))),
        )
    }

    /// The free addresses in the same format.
    pub fn available_summary(&self) -> String {
        let lo = self.lo;
        format_runs(
            self.taken
                .clear_runs(0, self.hi - self.lo)
                .map(|(a, b)| (ip(lo + a), ip(lo + b))),
        )
    }

    /// Runs (window offsets) of addresses handed out by allocation only.
    fn allocation_runs(&self) -> Vec<(u32, u32)> {
        let mut excluded: Vec<(u32, u32)> = self.carved.clone();
        if let Some(g) = self.gw_bit {
            let k = excluded.partition_point(|c| c.0 < g);
            excluded.insert(k, (g, g));
        }
        let mut out = Vec::new();
        let mut ex = excluded.iter().peekable();
        for (mut a, b) in self.taken.set_runs(0, self.hi - self.lo) {
            while let Some(&&(ea, eb)) = ex.peek() {
                if eb < a {
                    ex.next();
                    continue;
                }
                if ea > b {
                    break;
                }
                if ea > a {
                    out.push((a, ea - 1));
                }
                if eb >= b {
                    a = b + 1;
                    break;
                }
                a = eb + 1;
                ex.next();
            }
            if a <= b {
                out.push((a, b));
            }
        }
        out
    }

    /// Every address handed out by allocation, lowest first.
    pub fn allocated_addresses(&self) -> Vec<Ipv4Addr> {
        let lo = self.lo;
        self.allocation_runs()
            .into_iter()
            .flat_map(|(a, b)| (a..=b).map(move |i| ip(lo + i)))
            .collect()
    }
}

const FLAG_GROUP: u8 = 1;
const FLAG_GATEWAY: u8 = 2;

/// Layout after the header: flags (u8: 1 = group pool, 2 = has gateway),
/// network address (4 bytes), prefix length (u8), range first and last
/// (4 bytes each), the gateway (4 bytes, if flagged), carved group pools as
/// runs of window offsets, allocated addresses as runs of window offsets.
impl AllocState for Ipv4Pool {
    fn kind(&self) -> &'static str {
        if self.group { "ipv4-pool" } else { "ipv4" }
    }

    fn in_use(&self) -> u64 {
        u64::from(self.allocated)
    }

    fn in_use_noun(&self) -> &'static str {
        "addresses"
    }

    fn encode(&self) -> Vec<u8> {
        let mut w = Writer::new(Tag::Ipv4);
        let mut flags = 0;
        if self.group {
            flags |= FLAG_GROUP;
        }
        if self.gateway.is_some() {
            flags |= FLAG_GATEWAY;
        }
        w.u8(flags);
        w.bytes(&self.spec.subnet().network().octets());
        w.u8(self.spec.subnet().prefix_len());
        w.bytes(&self.spec.range().first.octets());
        w.bytes(&self.spec.range().last.octets());
        if let Some(g) = self.gateway {
            w.bytes(&g.octets());
        }
        w.runs(
            self.carved.len(),
            self.carved
                .iter()
                .map(|&(a, b)| (u128::from(a), u128::from(b))),
        );
        let runs = self.allocation_runs();
        w.runs(
            runs.len(),
            runs.iter().map(|&(a, b)| (u128::from(a), u128::from(b))),
        );
        w.finish()
    }

    fn decode(bytes: &[u8]) -> Result<Self, DecodeError> {
        let bad = |why: String| DecodeError(why);
        let mut r = Reader::new(bytes, Tag::Ipv4)?;
        let flags = r.u8()?;
        if flags & !(FLAG_GROUP | FLAG_GATEWAY) != 0 {
            return Err(bad(format!("unknown flags {flags:#x}")));
        }
        let net = Ipv4Addr::from(r.array::<4>()?);
        let len = r.u8()?;
        let first = Ipv4Addr::from(r.array::<4>()?);
        let last = Ipv4Addr::from(r.array::<4>()?);
        let gateway = if flags & FLAG_GATEWAY != 0 {
            Some(Ipv4Addr::from(r.array::<4>()?))
        } else {
            None
        };
        let subnet =
            Ipv4Net::new(net, len).map_err(|e| bad(format!("bad prefix length {len}: {e}")))?;
        let range = Ipv4Range::new(first, last).map_err(|e| bad(e.to_string()))?;
        let spec = Ipv4Spec::new(subnet, Some(range)).map_err(|e| bad(e.to_string()))?;
        let mut pool = if flags & FLAG_GROUP != 0 {
            if gateway.is_some() {
                return Err(bad("a group pool cannot have a gateway".into()));
            }
            Ipv4Pool::new_group(&spec, range)
        } else {
            Ipv4Pool::new(spec, gateway)
        }
        .map_err(|e| bad(e.to_string()))?;
        let max = u128::from(pool.hi - pool.lo);
        for (a, b) in r.runs(max)? {
            // Values are bounded by `max`, which fits in u32.
            let (a, b) = (a as u32, b as u32);
            pool.reserve_group_pool(Ipv4Range {
                first: ip(pool.lo + a),
                last: ip(pool.lo + b),
            })
            .map_err(|e| bad(format!("carved pool: {e}")))?;
        }
        for (a, b) in r.runs(max)? {
            let (a, b) = (a as u32, b as u32);
            if let Some(i) = pool.taken.next_set(a).filter(|i| *i <= b) {
                return Err(bad(format!(
                    "allocated address {} overlaps the gateway or a carved pool",
                    ip(pool.lo + i)
                )));
            }
            pool.taken.set_range(a, b);
            pool.allocated += b - a + 1;
        }
        r.finish()?;
        Ok(pool)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn pool(spec: &str, gw: Option<&str>) -> Ipv4Pool {
        Ipv4Pool::new(
            Ipv4Spec::parse(spec).unwrap(),
            gw.map(|g| g.parse().unwrap()),
        )
        .unwrap()
    }

    fn a(s: &str) -> Ipv4Addr {
        s.parse().unwrap()
    }

    /// netmaster_test.go TestGetAllocatedIPs, network by network.
    #[test]
    fn get_allocated_ips_of_the_original() {
        // orange: gateway, 3 endpoints.
        let mut p = pool("10.1.1.0/24", Some("10.1.1.254"));
        for _ in 0..3 {
            p.allocate().unwrap();
        }
        assert_eq!(p.allocated_summary(), "10.1.1.1-10.1.1.3, 10.1.1.254");
        // blue: no gateway, 4 endpoints.
        let mut p = pool("10.1.1.0/24", None);
        for _ in 0..4 {
            p.allocate().unwrap();
        }
        assert_eq!(p.allocated_summary(), "10.1.1.1-10.1.1.4");
        // green: gateway only.
        assert_eq!(
            pool("10.1.1.0/24", Some("10.1.1.254")).allocated_summary(),
            "10.1.1.254"
        );
        // red: nothing.
        assert_eq!(pool("10.1.1.0/24", None).allocated_summary(), "");
        // yellow: 7 endpoints, delete .3 .4 .6.
        let mut p = pool("10.1.1.0/24", Some("10.1.1.254"));
        for i in 1..=7 {
            assert_eq!(p.allocate().unwrap(), a(&format!("10.1.1.{i}")));
        }
        for d in ["10.1.1.3", "10.1.1.4", "10.1.1.6"] {
            assert!(p.release(a(d)).unwrap());
        }
        assert_eq!(
            p.allocated_summary(),
            "10.1.1.1-10.1.1.2, 10.1.1.5, 10.1.1.7, 10.1.1.254"
        );
        // Freed addresses are reused lowest first.
        assert_eq!(p.allocate().unwrap(), a("10.1.1.3"));
        assert_eq!(p.allocate().unwrap(), a("10.1.1.4"));
        assert_eq!(p.allocate().unwrap(), a("10.1.1.6"));
        assert_eq!(p.allocate().unwrap(), a("10.1.1.8"));
    }

    #[test]
    fn exhaustion_names_the_subnet_and_the_pool() {
        let mut p = pool("10.1.1.0/30", None);
        assert_eq!(p.allocate().unwrap(), a("10.1.1.1"));
        assert_eq!(p.allocate().unwrap(), a("10.1.1.2"));
        let e = p.allocate().unwrap_err();
        assert_eq!(
            e.to_string(),
            "auto allocation failed - address exhaustion in subnet 10.1.1.0/30"
        );
        let net = Ipv4Spec::parse("10.1.0.0/16").unwrap();
        let mut g =
            Ipv4Pool::new_group(&net, Ipv4Range::parse("10.1.0.1-10.1.0.2").unwrap()).unwrap();
        g.allocate().unwrap();
        g.allocate().unwrap();
        assert_eq!(
            g.allocate().unwrap_err().to_string(),
            "auto allocation failed - address exhaustion in pool 10.1.0.1-10.1.0.2"
        );
    }

    #[test]
    fn ranges_limit_the_window() {
        let mut p = pool("10.1.1.10-10.1.1.12/24", Some("10.1.1.254"));
        assert_eq!(p.capacity(), 3);
        assert_eq!(p.allocate().unwrap(), a("10.1.1.10"));
        let e = p.allocate_requested(a("10.1.1.9")).unwrap_err();
        assert!(matches!(e, IpamError::OutOfRange { .. }), "{e}");
        assert!(e.to_string().contains("10.1.1.10-10.1.1.12"), "{e}");
        // The gateway outside the range is not listed (as the original).
        assert_eq!(p.allocated_summary(), "10.1.1.10");
        assert_eq!(p.available_summary(), "10.1.1.11-10.1.1.12");
        // Network and broadcast are never assignable.
        let mut full = pool("10.1.1.0-10.1.1.255/24", None);
        assert_eq!(full.capacity(), 254);
        assert!(full.allocate_requested(a("10.1.1.0")).is_err());
        assert!(full.allocate_requested(a("10.1.1.255")).is_err());
    }

    #[test]
    fn requested_addresses_are_checked() {
        let mut p = pool("10.1.1.0/24", Some("10.1.1.254"));
        assert_eq!(p.allocate_requested(a("10.1.1.3")).unwrap(), a("10.1.1.3"));
        let e = p.allocate_requested(a("10.1.1.3")).unwrap_err();
        assert_eq!(
            e,
            IpamError::AlreadyTaken {
                resource: Resource::Address,
                value: "10.1.1.3".into(),
                holder: Holder::Allocated
            }
        );
        let e = p.allocate_requested(a("10.1.1.254")).unwrap_err();
        assert!(e.to_string().contains("gateway"), "{e}");
        let e = p.allocate_requested(a("10.1.2.3")).unwrap_err();
        assert!(matches!(e, IpamError::OutOfRange { .. }));
        // Lowest-first skips the requested one.
        assert_eq!(p.allocate().unwrap(), a("10.1.1.1"));
        assert_eq!(p.allocate().unwrap(), a("10.1.1.2"));
        assert_eq!(p.allocate().unwrap(), a("10.1.1.4"));
    }

    #[test]
    fn release_refuses_gateway_and_reports_free() {
        let mut p = pool("10.1.1.0/24", Some("10.1.1.254"));
        assert!(!p.release(a("10.1.1.7")).unwrap());
        assert!(matches!(
            p.release(a("10.1.1.254")),
            Err(IpamError::NotReleasable { .. })
        ));
        assert!(matches!(
            p.release(a("10.9.9.9")),
            Err(IpamError::NotReleasable { .. })
        ));
    }

    /// objapi TestIPAddrRange-style: an EPG pool needs every address free.
    #[test]
    fn group_pools_are_carved_and_given_back() {
        let mut net = pool("10.1.0.0/16", Some("10.1.1.254"));
        net.allocate().unwrap(); // 10.1.0.1
        let range = Ipv4Range::parse("10.1.0.1-10.1.0.10").unwrap();
        let e = net.reserve_group_pool(range).unwrap_err();
        assert!(matches!(e, IpamError::AlreadyTaken { .. }), "{e}");
        assert!(e.to_string().contains("10.1.0.1"), "{e}");
        net.release(a("10.1.0.1")).unwrap();
        net.reserve_group_pool(range).unwrap();
        // Network allocation skips the pool.
        assert_eq!(net.allocate().unwrap(), a("10.1.0.11"));
        let e = net.allocate_requested(a("10.1.0.5")).unwrap_err();
        assert!(e.to_string().contains("ip-pool 10.1.0.1-10.1.0.10"), "{e}");
        assert!(net.release(a("10.1.0.5")).is_err());
        // Overlapping pools are refused.
        assert!(
            net.reserve_group_pool(Ipv4Range::parse("10.1.0.10-10.1.0.12").unwrap())
                .is_err()
        );
        assert_eq!(net.allocated_summary(), "10.1.0.1-10.1.0.11, 10.1.1.254");
        assert_eq!(net.allocated_count(), 1);
        assert_eq!(net.allocated_addresses(), vec![a("10.1.0.11")]);
        let mut g = Ipv4Pool::new_group(net.spec(), range).unwrap();
        assert_eq!(g.allocate().unwrap(), a("10.1.0.1"));
        assert!(g.allocate_requested(a("10.1.0.11")).is_err());
        // Unknown pools cannot be released; known ones give addresses back.
        assert!(matches!(
            net.release_group_pool(Ipv4Range::parse("10.1.0.1-10.1.0.9").unwrap()),
            Err(IpamError::UnknownPool { .. })
        ));
        net.release_group_pool(range).unwrap();
        assert_eq!(net.allocate().unwrap(), a("10.1.0.1"));
        // A pool outside the range is out of range.
        let mut ranged = pool("10.1.1.10-10.1.1.20/24", None);
        assert!(matches!(
            ranged.reserve_group_pool(Ipv4Range::parse("10.1.1.5-10.1.1.12").unwrap()),
            Err(IpamError::OutOfRange { .. })
        ));
    }

    #[test]
    fn encoding_round_trips_with_carves_and_gateway() {
        let mut net = pool("10.1.0.0/16", Some("10.1.0.5"));
        for _ in 0..10 {
            net.allocate().unwrap();
        }
        net.reserve_group_pool(Ipv4Range::parse("10.1.2.0-10.1.2.255").unwrap())
            .unwrap();
        net.allocate_requested(a("10.1.3.3")).unwrap();
        net.release(a("10.1.0.2")).unwrap();
        let bytes = net.encode();
        assert!(bytes.len() < 64, "{} bytes", bytes.len());
        let back = Ipv4Pool::decode(&bytes).unwrap();
        assert_eq!(back.allocated_summary(), net.allocated_summary());
        assert_eq!(back.allocated_addresses(), net.allocated_addresses());
        assert_eq!(back.allocated_count(), net.allocated_count());
        assert_eq!(back.group_pools(), net.group_pools());
        assert_eq!(back.encode(), bytes);
        // A /8 with a million addresses in use is still tiny.
        let mut big = pool("10.0.0.0/8", None);
        for _ in 0..1_000_000 {
            big.allocate().unwrap();
        }
        assert!(big.encode().len() < 32);
    }
}
