//! Port ranges as bitwise (value, mask) matches.

use contiv_core::ir::PortRange;

/// The smallest list of `(value, mask)` pairs over 16 bits whose union is
/// exactly `range` (prefix decomposition). A single port is `(p, 0xffff)`;
/// the full range is `(0, 0)`.
pub fn port_masks(range: PortRange) -> Vec<(u16, u16)> {
    let (mut lo, hi) = (u32::from(range.start), u32::from(range.end));
    let mut out = Vec::new();
    if lo > hi {
        return out;
    }
    while lo <= hi {
        // Largest aligned block starting at `lo` that fits in [lo, hi].
        let mut size = if lo == 0 {
            1 << 16
        } else {
            lo & lo.wrapping_neg()
        };
        while lo + size - 1 > hi {
            size >>= 1;
        }
        let mask = (!(size - 1)) & 0xffff;
        out.push((lo as u16, mask as u16));
        lo += size;
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn common_ranges() {
        assert_eq!(port_masks(PortRange::single(80)), vec![(80, 0xffff)]);
        assert_eq!(
            port_masks(PortRange {
                start: 0,
                end: 65535
            }),
            vec![(0, 0)]
        );
        assert_eq!(
            port_masks(PortRange {
                start: 1024,
                end: 2047
            }),
            vec![(1024, 0xfc00)]
        );
        assert_eq!(
            port_masks(PortRange { start: 1, end: 3 }),
            vec![(1, 0xffff), (2, 0xfffe)]
        );
        assert!(port_masks(PortRange { start: 5, end: 4 }).is_empty());
    }

    proptest! {
        #[test]
        fn masks_cover_exactly_the_range(a in any::<u16>(), b in any::<u16>(), p in any::<u16>()) {
            let r = PortRange { start: a.min(b), end: a.max(b) };
            let m = port_masks(r);
            let hits = m.iter().filter(|(v, k)| p & k == *v).count();
            prop_assert_eq!(hits, usize::from(r.contains(p)), "port {} in {:?} via {:?}", p, r, m);
            prop_assert!(m.len() <= 30);
            for (v, k) in &m {
                prop_assert_eq!(v & !k, 0);
            }
        }
    }
}
