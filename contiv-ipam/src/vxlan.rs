//! VXLAN allocation: a VNI plus the host-local VLAN the OVS backend uses for
//! that VNI on the VXLAN bridge, allocated and released as a pair.

use crate::codec::{Reader, Tag, Writer};
use crate::error::{DecodeError, IpamError, IpamResult, Resource};
use crate::ids::IdPool;
use crate::spec::IdRanges;
use crate::state::AllocState;
use std::collections::BTreeMap;

/// The local VLAN range every VXLAN network draws from (as the original).
pub const LOCAL_VLAN_RANGE: (u32, u32) = (1, 4094);

/// VNIs within the global `vxlans` range, each paired with a local VLAN.
///
/// Auto allocation takes the lowest free VNI and the lowest free local VLAN
/// (the first VXLAN network gets `(vni 1, local vlan 1)` with the default
/// range, the next `(2, 2)`; a requested VNI 1000 still gets the lowest
/// local VLAN). Releasing a VNI releases its local VLAN.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct VxlanPool {
    vnis: IdPool,
    local: IdPool,
    pairs: BTreeMap<u32, u32>,
}

impl VxlanPool {
    /// A pool over `vni_ranges` with local VLANs 1-4094.
    pub fn new(vni_ranges: IdRanges) -> IpamResult<Self> {
        let local = IdRanges::new(Resource::LocalVlan, &[LOCAL_VLAN_RANGE])?;
        Self::with_local_vlans(vni_ranges, local)
    }

    /// A pool over `vni_ranges` with the given local VLAN ranges.
    pub fn with_local_vlans(vni_ranges: IdRanges, local: IdRanges) -> IpamResult<Self> {
        Ok(VxlanPool {
            vnis: IdPool::new(Resource::Vxlan, vni_ranges)?,
            local: IdPool::new(Resource::LocalVlan, local)?,
            pairs: BTreeMap::new(),
        })
    }

    /// The VNI pool.
    pub fn vnis(&self) -> &IdPool {
        &self.vnis
    }

    /// The local VLAN pool.
    pub fn local_vlans(&self) -> &IdPool {
        &self.local
    }

    /// The local VLAN paired with `vni`, if it is allocated.
    pub fn local_vlan_of(&self, vni: u32) -> Option<u32> {
        self.pairs.get(&vni).copied()
    }

    /// Every allocated `(vni, local vlan)` pair, by VNI.
    pub fn pairs(&self) -> impl Iterator<Item = (u32, u32)> + '_ {
        self.pairs.iter().map(|(v, l)| (*v, *l))
    }

    /// Allocates a VNI (`req`, or the lowest free) and the lowest free local
    /// VLAN. Nothing changes on error.
    pub fn allocate(&mut self, req: Option<u32>) -> IpamResult<(u32, u32)> {
        let vni = self.vnis.allocate_with(req)?;
        match self.local.allocate() {
            Ok(vlan) => {
                self.pairs.insert(vni, vlan);
                Ok((vni, vlan))
            }
            Err(e) => {
                self.vnis.release(vni);
                Err(e)
            }
        }
    }

    /// Releases `vni` and its local VLAN; returns the local VLAN, or `None`
    /// if the VNI was not allocated.
    pub fn release(&mut self, vni: u32) -> Option<u32> {
        let vlan = self.pairs.remove(&vni)?;
        self.vnis.release(vni);
        self.local.release(vlan);
        Some(vlan)
    }

    /// The VNIs in use as a summary string (`vxlansInUse`: `1000-1001, 2000`).
    pub fn summary(&self) -> String {
        self.vnis.summary()
    }

    /// Changes the VNI ranges, keeping every VNI in use (refused with
    /// [`IpamError::RangeOrphans`] otherwise). Local VLANs are unchanged.
    pub fn set_vni_ranges(&mut self, ranges: IdRanges) -> IpamResult<()> {
        self.vnis.set_ranges(ranges)
    }
}

/// Layout after the header: the VNI ranges as runs, the local VLAN ranges
/// as runs, the pair count, then per pair (by VNI) the VNI's distance from
/// the previous one (the first: the VNI itself) and the local VLAN.
impl AllocState for VxlanPool {
    fn kind(&self) -> &'static str {
        "vxlan"
    }

    fn in_use(&self) -> u64 {
        self.pairs.len() as u64
    }

    fn in_use_noun(&self) -> &'static str {
        "vxlans"
    }

    fn encode(&self) -> Vec<u8> {
        let mut w = Writer::new(Tag::Vxlan);
        self.vnis.write_ranges(&mut w);
        self.local.write_ranges(&mut w);
        w.varint(self.pairs.len() as u128);
        let mut prev = 0u32;
        for (&vni, &vlan) in &self.pairs {
            w.varint(u128::from(vni - prev));
            w.varint(u128::from(vlan));
            prev = vni;
        }
        w.finish()
    }

    fn decode(bytes: &[u8]) -> Result<Self, DecodeError> {
        let bad = |e: IpamError| DecodeError(e.to_string());
        let mut r = Reader::new(bytes, Tag::Vxlan)?;
        let vni_ranges = IdPool::read_ranges(&mut r, Resource::Vxlan)?;
        let local_ranges = IdPool::read_ranges(&mut r, Resource::LocalVlan)?;
        let mut pool = VxlanPool::with_local_vlans(vni_ranges, local_ranges).map_err(bad)?;
        let count = r.varint()?;
        if count > (r.remaining() / 2) as u128 {
            return Err(DecodeError(format!(
                "pair count {count} exceeds the bytes left"
            )));
        }
        let mut prev: u32 = 0;
        for i in 0..count {
            let delta = r.varint_max(u128::from(u32::MAX), "vni delta")?;
            if i > 0 && delta == 0 {
                return Err(DecodeError("pairs are not sorted by vni".into()));
            }
            let vni = u32::try_from(u128::from(prev) + delta)
                .map_err(|_| DecodeError("vni overflows".into()))?;
            let vlan = r.varint_max(u128::from(u32::MAX), "local vlan")? as u32;
            pool.vnis.allocate_requested(vni).map_err(bad)?;
            pool.local.allocate_requested(vlan).map_err(bad)?;
            pool.pairs.insert(vni, vlan);
            prev = vni;
        }
        r.finish()?;
        Ok(pool)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn pool(s: &str) -> VxlanPool {
        VxlanPool::new(IdRanges::parse(Resource::Vxlan, s).unwrap()).unwrap()
    }

    /// objapi TestNetworkPktRanges (vxlan part).
    #[test]
    fn network_pkt_ranges() {
        let mut p = pool("1-10000");
        assert_eq!(p.allocate(None).unwrap(), (1, 1));
        assert_eq!(p.allocate(None).unwrap(), (2, 2));
        assert_eq!(p.allocate(Some(1000)).unwrap(), (1000, 3));
        for v in [1, 2, 1000] {
            assert!(p.release(v).is_some());
        }
        // Duplicate requested tags fail.
        p.allocate(Some(1)).unwrap();
        assert!(matches!(
            p.allocate(Some(1)),
            Err(IpamError::AlreadyTaken { .. })
        ));
        p.release(1);
        // Shrunk to 1001-2000: 2001 and 1000 are out of range.
        p.set_vni_ranges(IdRanges::parse(Resource::Vxlan, "1001-2000").unwrap())
            .unwrap();
        for bad in [2001, 1000] {
            assert!(matches!(
                p.allocate(Some(bad)),
                Err(IpamError::OutOfRange { .. })
            ));
        }
    }

    /// objapi TestDynamicGlobalVxlanRange.
    #[test]
    fn dynamic_global_vxlan_range() {
        let mut p = pool("1-10000");
        assert_eq!(p.allocate(Some(1000)).unwrap(), (1000, 1));
        assert_eq!(p.allocate(Some(1001)).unwrap(), (1001, 2));
        assert_eq!(p.allocate(Some(2000)).unwrap(), (2000, 3));
        p.set_vni_ranges(IdRanges::parse(Resource::Vxlan, "1000-2500").unwrap())
            .unwrap();
        assert!(p.allocate(Some(1000)).is_err());
        assert!(p.allocate(Some(2501)).is_err());
        assert_eq!(p.allocate(Some(2200)).unwrap(), (2200, 4));
        assert!(
            p.set_vni_ranges(IdRanges::parse(Resource::Vxlan, "2000-10000").unwrap())
                .is_err()
        );
        assert!(
            p.set_vni_ranges(IdRanges::parse(Resource::Vxlan, "1000-2000").unwrap())
                .is_err()
        );
        p.set_vni_ranges(IdRanges::parse(Resource::Vxlan, "1000-9000").unwrap())
            .unwrap();
        assert_eq!(p.allocate(Some(3200)).unwrap(), (3200, 5));
        assert_eq!(p.release(3200), Some(5));
        assert_eq!(p.allocate(Some(3200)).unwrap(), (3200, 5));
        assert_eq!(p.summary(), "1000-1001, 2000, 2200, 3200");
    }

    /// gstate_test.go TestGlobalConfigDefaultVXLANWithVLANs.
    #[test]
    fn gstate_vxlan_allocation() {
        let mut p = pool("10000-12000");
        let (vni, vlan) = p.allocate(None).unwrap();
        assert_eq!(vni, 10000);
        assert_ne!(vlan, 0);
        assert_eq!(p.release(vni), Some(vlan));
    }

    #[test]
    fn local_vlan_exhaustion_rolls_back_the_vni() {
        let mut p = VxlanPool::with_local_vlans(
            IdRanges::parse(Resource::Vxlan, "1-10").unwrap(),
            IdRanges::new(Resource::LocalVlan, &[(1, 2)]).unwrap(),
        )
        .unwrap();
        p.allocate(None).unwrap();
        p.allocate(None).unwrap();
        let e = p.allocate(None).unwrap_err();
        assert_eq!(e.to_string(), "no local vlans available in range 1-2");
        assert_eq!(p.vnis().allocated_count(), 2);
        let bytes = p.encode();
        assert_eq!(VxlanPool::decode(&bytes).unwrap(), p);
    }

    #[test]
    fn vni_exhaustion_message() {
        let mut p = pool("5-5");
        p.allocate(None).unwrap();
        assert_eq!(
            p.allocate(None).unwrap_err().to_string(),
            "no vxlans available in range 5"
        );
    }
}
