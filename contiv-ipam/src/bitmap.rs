//! A fixed-size word bitmap with a "first possibly free word" hint and a
//! second level that skips empty and full words.
//!
//! Bit `i` lives in word `i / 64`, bit `i % 64`. Padding bits past `len` in
//! the last word are kept **set**, so a scan for a clear bit never has to
//! look at `len`. `hint` is the index of the lowest word that may still hold
//! a clear bit: every word below it is known to be full. Finding the lowest
//! clear bit is therefore amortised O(1) for lowest-first allocation, and a
//! release moves the hint back down.
//!
//! Two summary bitmaps hold one bit per word: `nonempty` (the word has a set
//! bit) and `nonfull` (the word has a clear bit). Searches for the next set
//! or clear bit jump over runs of empty or full words 64 words at a time, so
//! walking the runs of a sparse `/8` (2^24 bits) costs in proportion to the
//! number of runs plus `2^24 / 4096` summary words, not to its size — that
//! walk is what every commit's encoding does.

/// A bitmap of `len` bits (set = taken). Equality ignores the hint; the
/// debug form shows the set runs, not the words.
#[derive(Clone)]
pub(crate) struct Bitmap {
    words: Vec<u64>,
    nonempty: Vec<u64>,
    nonfull: Vec<u64>,
    len: u32,
    ones: u32,
    hint: usize,
}

impl PartialEq for Bitmap {
    fn eq(&self, other: &Self) -> bool {
        self.len == other.len && self.ones == other.ones && self.words == other.words
    }
}

impl Eq for Bitmap {}

impl std::fmt::Debug for Bitmap {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let runs: Vec<(u32, u32)> = self
            .set_runs(0, self.len.saturating_sub(1))
            .take(16)
            .collect();
        f.debug_struct("Bitmap")
            .field("len", &self.len)
            .field("ones", &self.ones)
            .field("first_set_runs", &runs)
            .finish()
    }
}

impl Bitmap {
    /// A bitmap of `len` clear bits.
    pub(crate) fn new(len: u32) -> Self {
        let nwords = (len as usize).div_ceil(64);
        let nsum = nwords.div_ceil(64);
        let mut b = Bitmap {
            words: vec![0u64; nwords],
            nonempty: vec![0u64; nsum],
            nonfull: vec![!0u64; nsum],
            len,
            ones: 0,
            hint: 0,
        };
        // Summary bits past the last word read as "empty" and "full".
        let stail = nwords % 64;
        if stail != 0
            && let Some(last) = b.nonfull.last_mut()
        {
            *last = (1u64 << stail) - 1;
        }
        let tail = len % 64;
        if tail != 0
            && let Some(last) = b.words.last_mut()
        {
            *last = !0u64 << tail;
            b.sync(nwords - 1);
        }
        b
    }

    /// Updates the summary bits of word `wi`.
    fn sync(&mut self, wi: usize) {
        let w = self.words[wi];
        let (si, m) = (wi / 64, 1u64 << (wi % 64));
        if w != 0 {
            self.nonempty[si] |= m;
        } else {
            self.nonempty[si] &= !m;
        }
        if w != !0u64 {
            self.nonfull[si] |= m;
        } else {
            self.nonfull[si] &= !m;
        }
    }

    /// The first word index `>= from` whose bit is set in `summary`.
    fn next_word(summary: &[u64], from: usize) -> Option<usize> {
        let mut si = from / 64;
        let mut s = *summary.get(si)? & (!0u64 << (from % 64));
        loop {
            if s != 0 {
                return Some(si * 64 + s.trailing_zeros() as usize);
            }
            si += 1;
            s = *summary.get(si)?;
        }
    }

    /// Number of bits.
    pub(crate) fn len(&self) -> u32 {
        self.len
    }

    /// Number of set bits.
    pub(crate) fn count_ones(&self) -> u32 {
        self.ones
    }

    /// True if bit `i` is set. Bits past the end read as set.
    pub(crate) fn test(&self, i: u32) -> bool {
        if i >= self.len {
            return true;
        }
        self.words[(i / 64) as usize] & (1u64 << (i % 64)) != 0
    }

    /// Sets bit `i`; returns true if it was clear. Out-of-range is a no-op.
    pub(crate) fn set(&mut self, i: u32) -> bool {
        if i >= self.len {
            return false;
        }
        let wi = (i / 64) as usize;
        let w = &mut self.words[wi];
        let m = 1u64 << (i % 64);
        if *w & m != 0 {
            return false;
        }
        *w |= m;
        self.ones += 1;
        self.sync(wi);
        true
    }

    /// Clears bit `i`; returns true if it was set. Out-of-range is a no-op.
    pub(crate) fn clear(&mut self, i: u32) -> bool {
        if i >= self.len {
            return false;
        }
        let wi = (i / 64) as usize;
        let w = &mut self.words[wi];
        let m = 1u64 << (i % 64);
        if *w & m == 0 {
            return false;
        }
        *w &= !m;
        self.ones -= 1;
        self.sync(wi);
        if wi < self.hint {
            self.hint = wi;
        }
        true
    }

    /// Mask of bits `lo..=hi` (both `< 64`, `lo <= hi`) within one word.
    fn mask(lo: u32, hi: u32) -> u64 {
        let upper = if hi == 63 {
            !0u64
        } else {
            (1u64 << (hi + 1)) - 1
        };
        upper & (!0u64 << lo)
    }

    /// Sets every bit in `a..=b` (clipped to the bitmap).
    pub(crate) fn set_range(&mut self, a: u32, b: u32) {
        if self.len == 0 || a > b || a >= self.len {
            return;
        }
        let b = b.min(self.len - 1);
        let (wa, wb) = ((a / 64) as usize, (b / 64) as usize);
        for wi in wa..=wb {
            let lo = if wi == wa { a % 64 } else { 0 };
            let hi = if wi == wb { b % 64 } else { 63 };
            let m = Self::mask(lo, hi);
            let w = &mut self.words[wi];
            self.ones += (m & !*w).count_ones();
            *w |= m;
            self.sync(wi);
        }
    }

    /// Clears every bit in `a..=b` (clipped to the bitmap).
    pub(crate) fn clear_range(&mut self, a: u32, b: u32) {
        if self.len == 0 || a > b || a >= self.len {
            return;
        }
        let b = b.min(self.len - 1);
        let (wa, wb) = ((a / 64) as usize, (b / 64) as usize);
        for wi in wa..=wb {
            let lo = if wi == wa { a % 64 } else { 0 };
            let hi = if wi == wb { b % 64 } else { 63 };
            let m = Self::mask(lo, hi);
            let w = &mut self.words[wi];
            self.ones -= (m & *w).count_ones();
            *w &= !m;
            self.sync(wi);
        }
        if wa < self.hint {
            self.hint = wa;
        }
    }

    /// The lowest clear bit, updating the hint.
    pub(crate) fn first_clear(&mut self) -> Option<u32> {
        let w = *self.words.get(self.hint)?;
        if w == !0u64 {
            self.hint = match Self::next_word(&self.nonfull, self.hint + 1) {
                Some(h) => h,
                None => {
                    self.hint = self.words.len();
                    return None;
                }
            };
        }
        let w = self.words[self.hint];
        let i = self.hint as u32 * 64 + (!w).trailing_zeros();
        (i < self.len).then_some(i)
    }

    /// The lowest set bit at or after `from`.
    pub(crate) fn next_set(&self, from: u32) -> Option<u32> {
        if from >= self.len {
            return None;
        }
        let wi = (from / 64) as usize;
        let w = self.words[wi] & (!0u64 << (from % 64));
        let (wi, w) = if w != 0 {
            (wi, w)
        } else {
            let next = Self::next_word(&self.nonempty, wi + 1)?;
            (next, self.words[next])
        };
        let i = wi as u32 * 64 + w.trailing_zeros();
        (i < self.len).then_some(i)
    }

    /// The lowest clear bit at or after `from`.
    pub(crate) fn next_clear(&self, from: u32) -> Option<u32> {
        if from >= self.len {
            return None;
        }
        let wi = (from / 64) as usize;
        let w = !self.words[wi] & (!0u64 << (from % 64));
        let (wi, w) = if w != 0 {
            (wi, w)
        } else {
            let next = Self::next_word(&self.nonfull, wi + 1)?;
            (next, !self.words[next])
        };
        let i = wi as u32 * 64 + w.trailing_zeros();
        (i < self.len).then_some(i)
    }

    /// Maximal runs `(first, last)` of set bits inside `a..=b`, in order.
    pub(crate) fn set_runs(&self, a: u32, b: u32) -> Runs<'_> {
        Runs {
            bm: self,
            pos: a,
            end: b,
            set: true,
            done: false,
        }
    }

    /// Maximal runs `(first, last)` of clear bits inside `a..=b`, in order.
    pub(crate) fn clear_runs(&self, a: u32, b: u32) -> Runs<'_> {
        Runs {
            bm: self,
            pos: a,
            end: b,
            set: false,
            done: false,
        }
    }
}

/// Iterator over runs of equal bits, see [`Bitmap::set_runs`].
pub(crate) struct Runs<'a> {
    bm: &'a Bitmap,
    pos: u32,
    end: u32,
    set: bool,
    done: bool,
}

impl Iterator for Runs<'_> {
    type Item = (u32, u32);

    fn next(&mut self) -> Option<(u32, u32)> {
        if self.done || self.pos > self.end {
            return None;
        }
        let found = if self.set {
            self.bm.next_set(self.pos)
        } else {
            self.bm.next_clear(self.pos)
        };
        let start = match found {
            Some(s) if s <= self.end => s,
            _ => {
                self.done = true;
                return None;
            }
        };
        let stop = if self.set {
            self.bm.next_clear(start)
        } else {
            self.bm.next_set(start)
        };
        let last = match stop {
            Some(s) => (s - 1).min(self.end),
            None => self.end.min(self.bm.len - 1),
        };
        if last >= self.end {
            self.done = true;
        } else {
            self.pos = last + 1;
        }
        Some((start, last))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn first_clear_is_lowest_and_release_moves_hint_back() {
        let mut b = Bitmap::new(200);
        for i in 0..130 {
            assert_eq!(b.first_clear(), Some(i));
            assert!(b.set(i));
        }
        assert!(b.clear(5));
        assert_eq!(b.first_clear(), Some(5));
        assert!(b.set(5));
        assert_eq!(b.first_clear(), Some(130));
        assert_eq!(b.count_ones(), 130);
    }

    #[test]
    fn padding_is_never_reported_free() {
        let mut b = Bitmap::new(3);
        b.set_range(0, 2);
        assert_eq!(b.first_clear(), None);
        assert_eq!(b.next_clear(0), None);
        assert_eq!(b.count_ones(), 3);
        assert!(b.test(3));
    }

    #[test]
    fn ranges_and_runs() {
        let mut b = Bitmap::new(300);
        b.set_range(10, 140);
        b.set(200);
        b.set(299);
        assert_eq!(b.count_ones(), 131 + 2);
        let runs: Vec<_> = b.set_runs(0, 299).collect();
        assert_eq!(runs, vec![(10, 140), (200, 200), (299, 299)]);
        let runs: Vec<_> = b.set_runs(100, 250).collect();
        assert_eq!(runs, vec![(100, 140), (200, 200)]);
        let free: Vec<_> = b.clear_runs(0, 299).collect();
        assert_eq!(free, vec![(0, 9), (141, 199), (201, 298)]);
        b.clear_range(64, 127);
        assert_eq!(b.count_ones(), 131 + 2 - 64);
        assert_eq!(b.next_clear(10), Some(64));
        assert_eq!(b.next_set(64), Some(128));
    }

    /// The summary levels never disagree with a naive scan.
    #[test]
    fn searches_match_a_naive_scan() {
        let len = 64 * 64 * 3 + 17;
        let mut b = Bitmap::new(len);
        let mut naive = vec![false; len as usize];
        let mut x: u64 = 0x9e37_79b9_7f4a_7c15;
        for step in 0..5_000u32 {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            let i = (x % u64::from(len)) as u32;
            match step % 5 {
                0 | 1 => {
                    assert_eq!(b.set(i), !naive[i as usize]);
                    naive[i as usize] = true;
                }
                2 => {
                    assert_eq!(b.clear(i), naive[i as usize]);
                    naive[i as usize] = false;
                }
                3 => {
                    let j = (i + (x >> 40) as u32 % 5000).min(len - 1);
                    b.set_range(i, j);
                    naive[i as usize..=j as usize]
                        .iter_mut()
                        .for_each(|v| *v = true);
                }
                _ => {
                    let j = (i + (x >> 40) as u32 % 5000).min(len - 1);
                    b.clear_range(i, j);
                    naive[i as usize..=j as usize]
                        .iter_mut()
                        .for_each(|v| *v = false);
                }
            }
            let from = ((x >> 20) % u64::from(len)) as u32;
            let want_set = (from..len).find(|k| naive[*k as usize]);
            let want_clear = (from..len).find(|k| !naive[*k as usize]);
            assert_eq!(b.next_set(from), want_set);
            assert_eq!(b.next_clear(from), want_clear);
            assert_eq!(b.first_clear(), (0..len).find(|k| !naive[*k as usize]));
            assert_eq!(
                b.count_ones() as usize,
                naive.iter().filter(|v| **v).count()
            );
        }
    }

    #[test]
    fn empty_bitmap_is_harmless() {
        let mut b = Bitmap::new(0);
        assert_eq!(b.first_clear(), None);
        assert!(!b.set(0));
        b.set_range(0, 10);
        assert_eq!(b.set_runs(0, 10).count(), 0);
    }
}
