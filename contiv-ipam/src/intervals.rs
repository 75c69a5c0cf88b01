//! A set of `u128` values stored as merged inclusive intervals.

use std::collections::BTreeMap;

/// Sorted, disjoint, non-adjacent inclusive intervals (`start -> end`).
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub(crate) struct IntervalSet {
    map: BTreeMap<u128, u128>,
    count: u128,
}

impl IntervalSet {
    /// Number of values in the set.
    pub(crate) fn count(&self) -> u128 {
        self.count
    }

    /// The interval containing `x`, if any.
    pub(crate) fn interval_of(&self, x: u128) -> Option<(u128, u128)> {
        self.map
            .range(..=x)
            .next_back()
            .filter(|(_, e)| **e >= x)
            .map(|(s, e)| (*s, *e))
    }

    /// True if `x` is in the set.
    pub(crate) fn contains(&self, x: u128) -> bool {
        self.interval_of(x).is_some()
    }

    /// True if any value of `a..=b` is in the set.
    pub(crate) fn intersects(&self, a: u128, b: u128) -> bool {
        self.map
            .range(..=b)
            .next_back()
            .is_some_and(|(_, e)| *e >= a)
    }

    /// Inserts `a..=b`, which must not intersect the set; merges neighbours.
    /// Returns false (and changes nothing) if it intersects.
    pub(crate) fn insert_range(&mut self, a: u128, b: u128) -> bool {
        if a > b || self.intersects(a, b) {
            return false;
        }
        let mut start = a;
        let mut end = b;
        if let Some(prev) = a.checked_sub(1)
            && let Some((ps, _)) = self.interval_of(prev)
        {
            self.map.remove(&ps);
            start = ps;
        }
        if let Some(next) = b.checked_add(1)
            && let Some(ne) = self.map.remove(&next)
        {
            end = ne;
        }
        self.map.insert(start, end);
        self.count += b - a + 1;
        true
    }

    /// Removes `x`; returns false if it was not present.
    pub(crate) fn remove(&mut self, x: u128) -> bool {
        let Some((s, e)) = self.interval_of(x) else {
            return false;
        };
        self.map.remove(&s);
        if s < x {
            self.map.insert(s, x - 1);
        }
        if x < e {
            self.map.insert(x + 1, e);
        }
        self.count -= 1;
        true
    }

    /// The lowest value `>= from` not in the set (may be past any bound).
    pub(crate) fn first_gap_from(&self, from: u128) -> Option<u128> {
        match self.interval_of(from) {
            None => Some(from),
            Some((_, e)) => e.checked_add(1),
        }
    }

    /// The intervals, in order.
    pub(crate) fn iter(&self) -> impl Iterator<Item = (u128, u128)> + '_ {
        self.map.iter().map(|(s, e)| (*s, *e))
    }

    /// Number of intervals.
    pub(crate) fn intervals(&self) -> usize {
        self.map.len()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn insert_merge_remove_split() {
        let mut s = IntervalSet::default();
        assert!(s.insert_range(1, 1));
        assert!(s.insert_range(3, 3));
        assert!(s.insert_range(2, 2));
        assert_eq!(s.iter().collect::<Vec<_>>(), vec![(1, 3)]);
        assert!(!s.insert_range(3, 5));
        assert_eq!(s.first_gap_from(1), Some(4));
        assert_eq!(s.first_gap_from(0), Some(0));
        assert!(s.remove(2));
        assert!(!s.remove(2));
        assert_eq!(s.iter().collect::<Vec<_>>(), vec![(1, 1), (3, 3)]);
        assert_eq!(s.first_gap_from(1), Some(2));
        assert_eq!(s.count(), 2);
        assert!(s.insert_range(u128::MAX - 1, u128::MAX));
        assert_eq!(s.first_gap_from(u128::MAX), None);
        assert!(s.intersects(0, 1) && !s.intersects(4, 100));
    }
}
