//! Property tests of the in-memory pools against simple models: random
//! sequences of allocate / request / release (and range changes, group-pool
//! carving) over random subnets and ranges.
//!
//! Checked after every step: no value is handed out twice, a release makes
//! the value available again, allocation is lowest-free-first, requests are
//! refused exactly when the model says so, the summary string equals the
//! one formatted from the model, and the encoding round-trips.

#![allow(clippy::unwrap_used, clippy::expect_used)]

use contiv_ipam::summary::{format_runs, runs_of};
use contiv_ipam::{
    AllocState, IdPool, IdRanges, IpamError, Ipv4Pool, Ipv4Range, Ipv4Spec, Ipv6Pool, Resource,
};
use proptest::prelude::*;
use std::collections::BTreeSet;
use std::net::{Ipv4Addr, Ipv6Addr};

#[derive(Clone, Debug)]
enum Op {
    Allocate,
    /// Request the address/id at this position of a widened span.
    Request(u32),
    /// Release the n-th allocated value (mod count), or a random position.
    ReleaseAllocated(usize),
    ReleaseAny(u32),
}

fn op() -> impl Strategy<Value = Op> {
    prop_oneof![
        4 => Just(Op::Allocate),
        2 => any::<u32>().prop_map(Op::Request),
        2 => any::<usize>().prop_map(Op::ReleaseAllocated),
        1 => any::<u32>().prop_map(Op::ReleaseAny),
    ]
}

/// A random IPv4 network: prefix /22../30, optional range, optional gateway.
fn v4_net() -> impl Strategy<Value = (Ipv4Spec, Option<Ipv4Addr>)> {
    (
        22u8..=30,
        any::<u32>(),
        any::<(u32, u32)>(),
        any::<Option<u32>>(),
    )
        .prop_filter_map("no assignable address", |(len, base, (ra, rb), gw)| {
            let size = 1u32 << (32 - len);
            let net = base & !(size - 1);
            let (mut a, mut b) = (ra % size, rb % size);
            if a > b {
                std::mem::swap(&mut a, &mut b);
            }
            // Half of the cases use the whole subnet.
            let range = (ra % 2 == 0)
                .then(|| Ipv4Range::new(Ipv4Addr::from(net + a), Ipv4Addr::from(net + b)).ok())
                .flatten();
            let subnet = ipnet::Ipv4Net::new(Ipv4Addr::from(net), len).ok()?;
            let spec = Ipv4Spec::new(subnet, range).ok()?;
            let gw = gw.map(|g| Ipv4Addr::from(net + 1 + g % (size - 2)));
            // Refuse specs without an assignable address.
            Ipv4Pool::new(spec, gw).ok()?;
            Some((spec, gw))
        })
}

struct V4Model {
    lo: u32,
    hi: u32,
    gateway: Option<u32>,
    taken: BTreeSet<u32>,
}

impl V4Model {
    fn lowest_free(&self) -> Option<u32> {
        (self.lo..=self.hi).find(|v| !self.taken.contains(v))
    }
    fn allocated(&self) -> Vec<u32> {
        self.taken
            .iter()
            .copied()
            .filter(|v| Some(*v) != self.gateway)
            .collect()
    }
    fn summary(&self) -> String {
        format_runs(
            runs_of(self.taken.iter().copied())
                .into_iter()
                .map(|(a, b)| (Ipv4Addr::from(a), Ipv4Addr::from(b))),
        )
    }
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(256))]

    #[test]
    fn ipv4_pool_matches_model((spec, gw) in v4_net(), ops in proptest::collection::vec(op(), 1..300)) {
        let mut pool = Ipv4Pool::new(spec, gw).unwrap();
        let win = pool.assignable();
        let (lo, hi) = (u32::from(win.first), u32::from(win.last));
        let mut m = V4Model { lo, hi, gateway: None, taken: BTreeSet::new() };
        if let Some(g) = gw.map(u32::from).filter(|g| (lo..=hi).contains(g)) {
            m.gateway = Some(g);
            m.taken.insert(g);
        }
        let net = u32::from(spec.subnet().network());
        let size = 1u64 << (32 - spec.subnet().prefix_len());
        for (step, op) in ops.into_iter().enumerate() {
            match op {
                Op::Allocate => match (pool.allocate(), m.lowest_free()) {
                    (Ok(a), Some(want)) => {
                        prop_assert_eq!(u32::from(a), want, "lowest free first");
                        prop_assert!(m.taken.insert(want), "handed out twice");
                    }
                    (Err(IpamError::Exhausted { .. }), None) => {}
                    (got, want) => prop_assert!(false, "allocate: got {:?}, model {:?}", got, want),
                },
                Op::Request(x) => {
                    // Cover the subnet plus a margin on both sides.
                    let v = net.wrapping_sub(2).wrapping_add((u64::from(x) % (size + 4)) as u32);
                    let got = pool.allocate_requested(Ipv4Addr::from(v));
                    if !(lo..=hi).contains(&v) {
                        let out_of_range = matches!(got, Err(IpamError::OutOfRange { .. }));
                        prop_assert!(out_of_range, "{:?}", got);
                    } else if m.taken.contains(&v) {
                        let taken = matches!(got, Err(IpamError::AlreadyTaken { .. }));
                        prop_assert!(taken, "{:?}", got);
                    } else {
                        prop_assert_eq!(got.map(u32::from), Ok(v));
                        m.taken.insert(v);
                    }
                }
                Op::ReleaseAllocated(n) => {
                    let alloc = m.allocated();
                    if !alloc.is_empty() {
                        let v = alloc[n % alloc.len()];
                        prop_assert_eq!(pool.release(Ipv4Addr::from(v)), Ok(true));
                        m.taken.remove(&v);
                        // Available again, and lowest first means it comes back
                        // if it is now the lowest free.
                        prop_assert!(!pool.is_taken(Ipv4Addr::from(v)));
                        if m.lowest_free() == Some(v) {
                            prop_assert_eq!(pool.allocate().map(u32::from), Ok(v));
                            m.taken.insert(v);
                        }
                    }
                }
                Op::ReleaseAny(x) => {
                    let v = net.wrapping_add((u64::from(x) % size) as u32);
                    let got = pool.release(Ipv4Addr::from(v));
                    if !(lo..=hi).contains(&v) || Some(v) == m.gateway {
                        let refused = matches!(got, Err(IpamError::NotReleasable { .. }));
                        prop_assert!(refused, "{:?}", got);
                    } else {
                        prop_assert_eq!(got, Ok(m.taken.remove(&v)));
                    }
                }
            }
            prop_assert_eq!(pool.allocated_summary(), m.summary());
            prop_assert_eq!(pool.allocated_count() as usize, m.allocated().len());
            if step % 25 == 0 {
                let back = Ipv4Pool::decode(&pool.encode()).unwrap();
                prop_assert_eq!(&back, &pool);
            }
        }
        let want: Vec<Ipv4Addr> = m.allocated().into_iter().map(Ipv4Addr::from).collect();
        prop_assert_eq!(pool.allocated_addresses(), want);
        prop_assert_eq!(Ipv4Pool::decode(&pool.encode()).unwrap(), pool);
    }

    /// Carving an EPG pool succeeds exactly when every address of it is
    /// assignable and free; the carved addresses are never handed out by
    /// the network, and releasing the pool gives them back.
    #[test]
    fn ipv4_group_pools_carve_only_free_ranges(
        (spec, gw) in v4_net(),
        pre in proptest::collection::vec(any::<u32>(), 0..20),
        carve in any::<(u32, u32)>(),
    ) {
        let mut net = Ipv4Pool::new(spec, gw).unwrap();
        let win = net.assignable();
        let (lo, hi) = (u32::from(win.first), u32::from(win.last));
        let span = hi - lo + 1;
        for p in pre {
            let _ = net.allocate_requested(Ipv4Addr::from(lo + p % span));
        }
        let (mut a, mut b) = (lo + carve.0 % span, lo + carve.1 % span);
        if a > b { std::mem::swap(&mut a, &mut b); }
        let range = Ipv4Range::new(Ipv4Addr::from(a), Ipv4Addr::from(b)).unwrap();
        let all_free = (a..=b).all(|v| !net.is_taken(Ipv4Addr::from(v)));
        let before = net.clone();
        match net.reserve_group_pool(range) {
            Ok(()) => {
                prop_assert!(all_free);
                while let Ok(x) = net.allocate() {
                    prop_assert!(!range.contains(x), "{} handed out from the carved pool", x);
                }
                let mut group = Ipv4Pool::new_group(net.spec(), range).unwrap();
                let mut n = 0u64;
                while let Ok(x) = group.allocate() {
                    prop_assert!(range.contains(x));
                    n += 1;
                }
                prop_assert_eq!(n, range.len());
                let mut back = Ipv4Pool::decode(&net.encode()).unwrap();
                back.release_group_pool(range).unwrap();
                prop_assert!((a..=b).all(|v| !back.is_taken(Ipv4Addr::from(v))));
            }
            Err(e) => {
                prop_assert!(!all_free, "refused although free: {}", e);
                prop_assert_eq!(net, before, "a refused carve changed the pool");
            }
        }
    }

    #[test]
    fn id_pool_matches_model(
        raw_ranges in proptest::collection::vec((1u32..300, 0u32..40), 1..4),
        ops in proptest::collection::vec(op(), 1..300),
        new_ranges in proptest::collection::vec((1u32..300, 0u32..60), 1..4),
    ) {
        let pairs: Vec<(u32, u32)> = raw_ranges.iter().map(|&(a, w)| (a, a + w)).collect();
        let ranges = IdRanges::new(Resource::Vlan, &pairs).unwrap();
        let mut pool = IdPool::new(Resource::Vlan, ranges.clone()).unwrap();
        let mut taken = BTreeSet::new();
        let lowest = |t: &BTreeSet<u32>| (1..=4094).find(|v| ranges.contains(*v) && !t.contains(v));
        for op in ops {
            match op {
                Op::Allocate => match (pool.allocate(), lowest(&taken)) {
                    (Ok(v), Some(w)) => {
                        prop_assert_eq!(v, w);
                        prop_assert!(taken.insert(v), "handed out twice");
                    }
                    (Err(IpamError::Exhausted { .. }), None) => {}
                    (got, want) => prop_assert!(false, "{:?} vs {:?}", got, want),
                },
                Op::Request(x) => {
                    let v = x % 400;
                    let got = pool.allocate_requested(v);
                    if !ranges.contains(v) {
                        let out = matches!(got, Err(IpamError::OutOfRange { .. }));
                        prop_assert!(out, "{:?}", got);
                    } else if taken.contains(&v) {
                        let dup = matches!(got, Err(IpamError::AlreadyTaken { .. }));
                        prop_assert!(dup, "{:?}", got);
                    } else {
                        prop_assert_eq!(got, Ok(v));
                        taken.insert(v);
                    }
                }
                Op::ReleaseAllocated(n) => {
                    if !taken.is_empty() {
                        let v = *taken.iter().nth(n % taken.len()).unwrap();
                        prop_assert!(pool.release(v));
                        taken.remove(&v);
                        prop_assert!(!pool.is_allocated(v));
                    }
                }
                Op::ReleaseAny(x) => {
                    let v = x % 400;
                    prop_assert_eq!(pool.release(v), taken.remove(&v));
                }
            }
            prop_assert_eq!(pool.summary(), format_runs(runs_of(taken.iter().copied())));
        }
        prop_assert_eq!(IdPool::decode(&pool.encode()).unwrap(), pool.clone());
        // A range change is refused exactly when an id in use falls outside.
        let pairs: Vec<(u32, u32)> = new_ranges.iter().map(|&(a, w)| (a, a + w)).collect();
        let next = IdRanges::new(Resource::Vlan, &pairs).unwrap();
        let orphans: Vec<u32> = taken.iter().copied().filter(|v| !next.contains(*v)).collect();
        let before = pool.clone();
        match pool.set_ranges(next.clone()) {
            Ok(()) => {
                prop_assert!(orphans.is_empty());
                prop_assert_eq!(pool.allocated_ids(), taken.iter().copied().collect::<Vec<_>>());
                if let Ok(v) = pool.allocate() {
                    prop_assert!(next.contains(v) && !taken.contains(&v));
                }
            }
            Err(IpamError::RangeOrphans { count, orphans: text, .. }) => {
                prop_assert_eq!(count as usize, orphans.len());
                prop_assert_eq!(text, format_runs(runs_of(orphans)));
                prop_assert_eq!(pool, before);
            }
            Err(e) => prop_assert!(false, "unexpected {}", e),
        }
    }

    #[test]
    fn ipv6_pool_matches_model(
        len in prop_oneof![Just(64u8), Just(120u8), Just(125u8)],
        gw in proptest::option::of(1u128..16),
        ops in proptest::collection::vec(op(), 1..300),
    ) {
        let subnet: ipnet::Ipv6Net = format!("2001:db8::/{len}").parse().unwrap();
        let base = u128::from(subnet.network());
        let max_host = (1u128 << (128 - u32::from(len))) - 1;
        let gw = gw.filter(|g| *g <= max_host);
        let mut pool = Ipv6Pool::new(subnet, gw.map(|g| Ipv6Addr::from(base + g))).unwrap();
        let mut taken: BTreeSet<u128> = gw.into_iter().collect();
        let lowest = |t: &BTreeSet<u128>| (1..=max_host.min(1000)).find(|h| !t.contains(h));
        for op in ops {
            match op {
                Op::Allocate => match (pool.allocate(), lowest(&taken)) {
                    (Ok(a), Some(h)) => {
                        prop_assert_eq!(u128::from(a) - base, h);
                        prop_assert!(taken.insert(h), "handed out twice");
                    }
                    (Err(IpamError::Exhausted { .. }), None) => prop_assert!(max_host < 1000),
                    (got, want) => prop_assert!(false, "{:?} vs {:?}", got, want),
                },
                Op::Request(x) => {
                    // Mostly small host ids, sometimes the top of the subnet.
                    let h = if x % 8 == 0 { max_host - u128::from(x % 3) } else { u128::from(x % 40) };
                    let got = pool.allocate_requested(Ipv6Addr::from(base + h));
                    if h == 0 || h > max_host {
                        let out = matches!(got, Err(IpamError::OutOfRange { .. }));
                        prop_assert!(out, "{:?}", got);
                    } else if taken.contains(&h) {
                        let dup = matches!(got, Err(IpamError::AlreadyTaken { .. }));
                        prop_assert!(dup, "{:?}", got);
                    } else {
                        prop_assert!(got.is_ok());
                        taken.insert(h);
                    }
                }
                Op::ReleaseAllocated(n) => {
                    let alloc: Vec<u128> = taken.iter().copied().filter(|h| Some(*h) != gw).collect();
                    if !alloc.is_empty() {
                        let h = alloc[n % alloc.len()];
                        prop_assert_eq!(pool.release(Ipv6Addr::from(base + h)), Ok(true));
                        taken.remove(&h);
                        prop_assert!(!pool.is_allocated(Ipv6Addr::from(base + h)));
                    }
                }
                Op::ReleaseAny(x) => {
                    let h = 1 + u128::from(x % 40);
                    let got = pool.release(Ipv6Addr::from(base + h));
                    if h > max_host || Some(h) == gw {
                        prop_assert!(got.is_err());
                    } else {
                        prop_assert_eq!(got, Ok(taken.remove(&h)));
                    }
                }
            }
            let model = format_runs(
                runs_u128(&taken).into_iter().map(|(a, b)| (Ipv6Addr::from(base + a), Ipv6Addr::from(base + b))),
            );
            prop_assert_eq!(pool.allocated_summary(), model);
        }
        prop_assert_eq!(Ipv6Pool::decode(&pool.encode()).unwrap(), pool);
    }
}

fn runs_u128(set: &BTreeSet<u128>) -> Vec<(u128, u128)> {
    let mut runs: Vec<(u128, u128)> = Vec::new();
    for &v in set {
        match runs.last_mut() {
            Some((_, last)) if *last + 1 == v => *last = v,
            _ => runs.push((v, v)),
        }
    }
    runs
}
