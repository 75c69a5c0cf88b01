//! Integer id pools: VLANs, VXLAN VNIs, host-local VLANs, EPG ids, tenant
//! ids.

use crate::bitmap::Bitmap;
use crate::codec::{Reader, Tag, Writer};
use crate::error::{DecodeError, Holder, IpamError, IpamResult, Resource};
use crate::spec::IdRanges;
use crate::state::AllocState;
use crate::summary::format_runs;

/// A pool of integer ids within a set of ranges.
///
/// A word bitmap spans `min..=max` of the ranges; ids between ranges are
/// pre-set so lowest-free-first is one scan. Requested ids are checked
/// (outside the ranges → [`IpamError::OutOfRange`], taken →
/// [`IpamError::AlreadyTaken`]). [`IdPool::set_ranges`] changes the ranges
/// while keeping every id in use and refuses a change that would leave an
/// in-use id outside (the original compared only the minimum and maximum in
/// use; this checks every id).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct IdPool {
    resource: Resource,
    ranges: IdRanges,
    base: u32,
    taken: Bitmap,
    allocated: u32,
}

impl IdPool {
    /// An empty pool of `resource` ids within `ranges`.
    pub fn new(resource: Resource, ranges: IdRanges) -> IpamResult<Self> {
        if resource == Resource::Address {
            return Err(IpamError::invalid(
                "id pool",
                &ranges.to_string(),
                "addresses are allocated by Ipv4Pool/Ipv6Pool",
            ));
        }
        // Re-check the bounds: `ranges` may have been built for another kind.
        let ranges = IdRanges::new(resource, ranges.ranges())?;
        let base = ranges.min();
        let mut taken = Bitmap::new(ranges.max() - base + 1);
        for w in ranges.ranges().windows(2) {
            taken.set_range(w[0].1 + 1 - base, w[1].0 - 1 - base);
        }
        Ok(IdPool {
            resource,
            ranges,
            base,
            taken,
            allocated: 0,
        })
    }

    /// What the ids are.
    pub fn resource(&self) -> Resource {
        self.resource
    }

    /// The configured ranges.
    pub fn ranges(&self) -> &IdRanges {
        &self.ranges
    }

    /// Ids in use.
    pub fn allocated_count(&self) -> u32 {
        self.allocated
    }

    /// Ids in the ranges.
    pub fn capacity(&self) -> u64 {
        self.ranges.count()
    }

    /// True if at least one id is free.
    pub fn has_free(&self) -> bool {
        u64::from(self.allocated) < self.ranges.count()
    }

    /// True if `id` is in use.
    pub fn is_allocated(&self, id: u32) -> bool {
        self.ranges.contains(id) && self.taken.test(id - self.base)
    }

    /// Allocates the lowest free id.
    pub fn allocate(&mut self) -> IpamResult<u32> {
        match self.taken.first_clear() {
            Some(i) => {
                self.taken.set(i);
                self.allocated += 1;
                Ok(self.base + i)
            }
            None => Err(IpamError::Exhausted {
                resource: self.resource,
                within: format!("range {}", self.ranges),
            }),
        }
    }

    /// Allocates exactly `id` if it is in the ranges and free.
    pub fn allocate_requested(&mut self, id: u32) -> IpamResult<u32> {
        if !self.ranges.contains(id) {
            return Err(IpamError::OutOfRange {
                resource: self.resource,
                value: id.to_string(),
                why: format!("it is outside the {} range {}", self.resource, self.ranges),
            });
        }
        if !self.taken.set(id - self.base) {
            return Err(IpamError::AlreadyTaken {
                resource: self.resource,
                value: id.to_string(),
                holder: Holder::Allocated,
            });
        }
        self.allocated += 1;
        Ok(id)
    }

    /// [`allocate_requested`](Self::allocate_requested) if `req` is given,
    /// else [`allocate`](Self::allocate).
    pub fn allocate_with(&mut self, req: Option<u32>) -> IpamResult<u32> {
        match req {
            Some(id) => self.allocate_requested(id),
            None => self.allocate(),
        }
    }

    /// Releases `id`: `true` if it was in use, `false` if it was free (or
    /// outside the ranges, where it cannot be in use).
    pub fn release(&mut self, id: u32) -> bool {
        if !self.ranges.contains(id) {
            return false;
        }
        let released = self.taken.clear(id - self.base);
        if released {
            self.allocated -= 1;
        }
        released
    }

    /// Maximal runs of ids in use.
    pub fn allocated_runs(&self) -> Vec<(u32, u32)> {
        let base = self.base;
        self.ranges
            .ranges()
            .iter()
            .flat_map(|&(a, b)| {
                self.taken
                    .set_runs(a - base, b - base)
                    .map(move |(x, y)| (x + base, y + base))
            })
            .collect()
    }

    /// Every id in use, lowest first.
    pub fn allocated_ids(&self) -> Vec<u32> {
        self.allocated_runs()
            .into_iter()
            .flat_map(|(a, b)| a..=b)
            .collect()
    }

    /// The in-use string of the original (`vlansInUse`): `1-3, 10`.
    pub fn summary(&self) -> String {
        format_runs(self.allocated_runs())
    }

    /// Changes the ranges, keeping every id in use. Refused with
    /// [`IpamError::RangeOrphans`] if an id in use is outside `ranges`.
    pub fn set_ranges(&mut self, ranges: IdRanges) -> IpamResult<()> {
        let mut next = IdPool::new(self.resource, ranges)?;
        let runs = self.allocated_runs();
        let orphans: Vec<(u32, u32)> = runs
            .iter()
            .flat_map(|&(a, b)| outside(&next.ranges, a, b))
            .collect();
        if !orphans.is_empty() {
            return Err(IpamError::RangeOrphans {
                resource: self.resource,
                range: next.ranges.to_string(),
                count: orphans.iter().map(|&(a, b)| u64::from(b - a) + 1).sum(),
                orphans: format_runs(orphans),
            });
        }
        for (a, b) in runs {
            next.taken.set_range(a - next.base, b - next.base);
            next.allocated += b - a + 1;
        }
        *self = next;
        Ok(())
    }
}

/// The parts of `a..=b` not covered by `ranges`.
fn outside(ranges: &IdRanges, a: u32, b: u32) -> Vec<(u32, u32)> {
    let mut out = Vec::new();
    let mut pos = a;
    for &(ra, rb) in ranges.ranges() {
        if rb < pos {
            continue;
        }
        if ra > b {
            break;
        }
        if ra > pos {
            out.push((pos, ra - 1));
        }
        if rb >= b {
            return out;
        }
        pos = rb + 1;
    }
    out.push((pos, b));
    out
}

pub(crate) fn resource_byte(r: Resource) -> u8 {
    match r {
        Resource::Address => 0,
        Resource::Vlan => 1,
        Resource::Vxlan => 2,
        Resource::LocalVlan => 3,
        Resource::EpgId => 4,
        Resource::TenantId => 5,
    }
}

pub(crate) fn resource_from_byte(b: u8) -> Option<Resource> {
    match b {
        1 => Some(Resource::Vlan),
        2 => Some(Resource::Vxlan),
        3 => Some(Resource::LocalVlan),
        4 => Some(Resource::EpgId),
        5 => Some(Resource::TenantId),
        _ => None,
    }
}

impl IdPool {
    pub(crate) fn write_ranges(&self, w: &mut Writer) {
        let r = self.ranges.ranges();
        w.runs(
            r.len(),
            r.iter().map(|&(a, b)| (u128::from(a), u128::from(b))),
        );
    }

    pub(crate) fn read_ranges(
        r: &mut Reader<'_>,
        resource: Resource,
    ) -> Result<IdRanges, DecodeError> {
        let runs = r.runs(u128::from(u32::MAX))?;
        // Bounded by u32::MAX above.
        let pairs: Vec<(u32, u32)> = runs.iter().map(|&(a, b)| (a as u32, b as u32)).collect();
        IdRanges::new(resource, &pairs).map_err(|e| DecodeError(e.to_string()))
    }
}

/// Layout after the header: the resource (u8: 1 vlan, 2 vxlan, 3 local vlan,
/// 4 epg id, 5 tenant id), the ranges as runs, the ids in use as runs.
impl AllocState for IdPool {
    fn kind(&self) -> &'static str {
        match self.resource {
            Resource::Vlan => "vlan",
            Resource::Vxlan => "vni",
            Resource::LocalVlan => "local-vlan",
            Resource::EpgId => "epg",
            Resource::TenantId => "tenant",
            Resource::Address => "address",
        }
    }

    fn in_use(&self) -> u64 {
        u64::from(self.allocated)
    }

    fn in_use_noun(&self) -> &'static str {
        self.resource.plural()
    }

    fn encode(&self) -> Vec<u8> {
        let mut w = Writer::new(Tag::Id);
        w.u8(resource_byte(self.resource));
        self.write_ranges(&mut w);
        let runs = self.allocated_runs();
        w.runs(
            runs.len(),
            runs.iter().map(|&(a, b)| (u128::from(a), u128::from(b))),
        );
        w.finish()
    }

    fn decode(bytes: &[u8]) -> Result<Self, DecodeError> {
        let mut r = Reader::new(bytes, Tag::Id)?;
        let rb = r.u8()?;
        let resource =
            resource_from_byte(rb).ok_or_else(|| DecodeError(format!("unknown id kind {rb}")))?;
        let ranges = IdPool::read_ranges(&mut r, resource)?;
        let mut pool = IdPool::new(resource, ranges).map_err(|e| DecodeError(e.to_string()))?;
        for (a, b) in r.runs(u128::from(pool.ranges.max()))? {
            let (a, b) = (a as u32, b as u32);
            if !outside(&pool.ranges, a, b).is_empty() {
                return Err(DecodeError(format!(
                    "ids {a}-{b} in use lie outside the ranges {}",
                    pool.ranges
                )));
            }
            pool.taken.set_range(a - pool.base, b - pool.base);
            pool.allocated += b - a + 1;
        }
        r.finish()?;
        Ok(pool)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn pool(r: Resource, s: &str) -> IdPool {
        IdPool::new(r, IdRanges::parse(r, s).unwrap()).unwrap()
    }

    /// gstate_test.go: TestGlobalConfigAutoVLANs / DefaultVXLANWithVLANs.
    #[test]
    fn gstate_vlan_allocation() {
        let mut v = pool(Resource::Vlan, "1-10");
        assert_eq!(v.allocate().unwrap(), 1);
        assert!(v.release(1));
        let mut v = pool(Resource::Vlan, "100-400,500-900");
        assert_eq!(v.allocate().unwrap(), 100);
        assert!(v.release(100));
    }

    /// objapi TestDynamicGlobalVlanRange.
    #[test]
    fn dynamic_global_vlan_range() {
        let mut v = pool(Resource::Vlan, "1-4094");
        for t in [10, 11, 300] {
            v.allocate_requested(t).unwrap();
        }
        v.set_ranges(IdRanges::parse(Resource::Vlan, "9-301").unwrap())
            .unwrap();
        // An active tag cannot be requested again; out of range fails.
        assert!(matches!(
            v.allocate_requested(10),
            Err(IpamError::AlreadyTaken { .. })
        ));
        let e = v.allocate_requested(302).unwrap_err();
        assert!(matches!(e, IpamError::OutOfRange { .. }), "{e}");
        assert_eq!(
            e.to_string(),
            "requested vlan 302 is out of range: it is outside the vlan range 9-301"
        );
        v.allocate_requested(299).unwrap();
        // Shrinking below or above an active tag fails, with every orphan named.
        let e = v
            .set_ranges(IdRanges::parse(Resource::Vlan, "50-301").unwrap())
            .unwrap_err();
        assert_eq!(
            e,
            IpamError::RangeOrphans {
                resource: Resource::Vlan,
                range: "50-301".into(),
                count: 2,
                orphans: "10-11".into()
            }
        );
        assert!(
            v.set_ranges(IdRanges::parse(Resource::Vlan, "1-200").unwrap())
                .is_err()
        );
        // Growing works and keeps everything.
        v.set_ranges(IdRanges::parse(Resource::Vlan, "1-800").unwrap())
            .unwrap();
        v.allocate_requested(700).unwrap();
        assert_eq!(v.summary(), "10-11, 299-300, 700");
        assert!(v.release(700));
        assert_eq!(v.allocate_requested(700).unwrap(), 700);
    }

    /// objapi TestNetworkPktRanges (vlan part).
    #[test]
    fn network_pkt_ranges_vlan() {
        let mut v = pool(Resource::Vlan, "1-4094");
        assert_eq!(v.allocate().unwrap(), 1);
        assert!(v.release(1));
        v.allocate_requested(1).unwrap();
        assert!(matches!(
            v.allocate_requested(1),
            Err(IpamError::AlreadyTaken { .. })
        ));
        assert!(v.release(1));
        v.set_ranges(IdRanges::parse(Resource::Vlan, "100-1000").unwrap())
            .unwrap();
        for bad in [1001, 99] {
            assert!(matches!(
                v.allocate_requested(bad),
                Err(IpamError::OutOfRange { .. })
            ));
        }
        assert_eq!(v.allocate().unwrap(), 100);
    }

    /// The original only compared min/max in use; a hole in the new ranges
    /// that hits an id in the middle must be refused too.
    #[test]
    fn range_change_checks_every_id_not_just_min_and_max() {
        let mut v = pool(Resource::Vlan, "1-100");
        for t in [5, 50, 95] {
            v.allocate_requested(t).unwrap();
        }
        let e = v
            .set_ranges(IdRanges::parse(Resource::Vlan, "1-40, 60-100").unwrap())
            .unwrap_err();
        assert!(e.to_string().contains("(50)"), "{e}");
        v.set_ranges(IdRanges::parse(Resource::Vlan, "1-50, 60-100").unwrap())
            .unwrap();
        assert_eq!(v.allocate().unwrap(), 1);
        // 2..=49 without 5: 47 more, then 1..=50 is full and 60 is next.
        for _ in 0..47 {
            v.allocate().unwrap();
        }
        assert_eq!(v.allocate().unwrap(), 60);
    }

    #[test]
    fn exhaustion_and_summary() {
        let mut v = pool(Resource::EpgId, "1-3,10-10");
        for want in [1, 2, 3, 10] {
            assert_eq!(v.allocate().unwrap(), want);
        }
        assert_eq!(v.summary(), "1-3, 10");
        let e = v.allocate().unwrap_err();
        assert_eq!(e.to_string(), "no epg ids available in range 1-3, 10");
        assert!(v.release(2));
        assert!(!v.release(2));
        assert!(!v.release(7));
        assert_eq!(v.allocate().unwrap(), 2);
    }

    #[test]
    fn epg_ids_cover_two_to_the_sixteen() {
        let mut v = IdPool::new(
            Resource::EpgId,
            IdRanges::new(Resource::EpgId, &[(1, 1 << 16)]).unwrap(),
        )
        .unwrap();
        for want in 1..=(1u32 << 16) {
            assert_eq!(v.allocate().unwrap(), want);
        }
        assert!(v.allocate().unwrap_err().is_exhausted());
        let bytes = v.encode();
        assert!(bytes.len() < 16, "{}", bytes.len());
        assert_eq!(IdPool::decode(&bytes).unwrap(), v);
    }

    #[test]
    fn encoding_rejects_ids_outside_ranges() {
        let mut v = pool(Resource::Vlan, "1-10, 20-30");
        v.allocate_requested(25).unwrap();
        let good = v.encode();
        assert_eq!(IdPool::decode(&good).unwrap().summary(), "25");
        // Hand-craft: ranges 1-10, allocated 15.
        let mut w = Writer::new(Tag::Id);
        w.u8(1);
        w.runs(1, [(1u128, 10u128)]);
        w.runs(1, [(5u128, 15u128)]);
        assert!(IdPool::decode(&w.finish()).is_err());
    }
}
