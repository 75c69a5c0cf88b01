//! The compact binary encoding of allocator state.
//!
//! Every encoded state starts with two bytes: the format version
//! ([`FORMAT_VERSION`]) and a state tag ([`Tag`]). The rest is a sequence of
//! LEB128 varints (unsigned, at most 19 bytes for a `u128`, overlong or
//! overflowing encodings rejected) and fixed-size fields, described by each
//! state type. Sets of allocated values are stored as **runs**: a count,
//! then for every run the gap from the end of the previous run (or from 0)
//! and the run length minus one. Lowest-first allocation keeps the number
//! of runs small, so a `/16` with 60 000 addresses in use encodes in a few
//! bytes instead of the 8 KiB bitmap (a `/8` bitmap would be 2 MiB, above
//! etcd's default request limit).
//!
//! Decoding never panics and never trusts a length: counts are checked
//! against the bytes left, values against the bounds the state declares,
//! trailing bytes are an error.

use crate::error::DecodeError;

/// The version byte written first. A decoder refuses any other.
pub const FORMAT_VERSION: u8 = 1;

/// Which state type follows the header.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[repr(u8)]
pub enum Tag {
    /// [`crate::Ipv4Pool`].
    Ipv4 = 1,
    /// [`crate::Ipv6Pool`].
    Ipv6 = 2,
    /// [`crate::IdPool`].
    Id = 3,
    /// [`crate::VxlanPool`].
    Vxlan = 4,
}

impl Tag {
    fn name(self) -> &'static str {
        match self {
            Tag::Ipv4 => "ipv4",
            Tag::Ipv6 => "ipv6",
            Tag::Id => "id",
            Tag::Vxlan => "vxlan",
        }
    }
    fn from_byte(b: u8) -> Option<Tag> {
        match b {
            1 => Some(Tag::Ipv4),
            2 => Some(Tag::Ipv6),
            3 => Some(Tag::Id),
            4 => Some(Tag::Vxlan),
            _ => None,
        }
    }
}

/// Appends encoded fields to a byte vector.
#[derive(Debug, Default)]
pub(crate) struct Writer {
    buf: Vec<u8>,
}

impl Writer {
    /// A writer that starts with the header for `tag`.
    pub(crate) fn new(tag: Tag) -> Self {
        let mut buf = Vec::with_capacity(64);
        buf.push(FORMAT_VERSION);
        buf.push(tag as u8);
        Writer { buf }
    }

    pub(crate) fn u8(&mut self, v: u8) {
        self.buf.push(v);
    }

    pub(crate) fn bytes(&mut self, v: &[u8]) {
        self.buf.extend_from_slice(v);
    }

    pub(crate) fn varint(&mut self, mut v: u128) {
        loop {
            let byte = (v & 0x7f) as u8;
            v >>= 7;
            if v == 0 {
                self.buf.push(byte);
                return;
            }
            self.buf.push(byte | 0x80);
        }
    }

    /// Writes sorted, disjoint inclusive runs.
    pub(crate) fn runs<I>(&mut self, count: usize, runs: I)
    where
        I: IntoIterator<Item = (u128, u128)>,
    {
        self.varint(count as u128);
        let mut next = 0u128;
        for (first, last) in runs {
            self.varint(first - next);
            self.varint(last - first);
            next = last + 1;
        }
    }

    pub(crate) fn finish(self) -> Vec<u8> {
        self.buf
    }
}

/// Reads encoded fields, failing with a [`DecodeError`] on anything odd.
#[derive(Debug)]
pub(crate) struct Reader<'a> {
    buf: &'a [u8],
    pos: usize,
}

fn err<T>(msg: impl Into<String>) -> Result<T, DecodeError> {
    Err(DecodeError(msg.into()))
}

impl<'a> Reader<'a> {
    /// Checks the header and expects state `tag`.
    pub(crate) fn new(buf: &'a [u8], tag: Tag) -> Result<Self, DecodeError> {
        match buf {
            [] | [_] => err("too short: missing the 2-byte header"),
            [v, _, ..] if *v != FORMAT_VERSION => err(format!(
                "unsupported format version {v} (this build reads version {FORMAT_VERSION})"
            )),
            [_, t, ..] => match Tag::from_byte(*t) {
                Some(found) if found == tag => Ok(Reader { buf, pos: 2 }),
                Some(found) => err(format!(
                    "expected {} allocator state, found {} state",
                    tag.name(),
                    found.name()
                )),
                None => err(format!("unknown state tag {t}")),
            },
        }
    }

    pub(crate) fn remaining(&self) -> usize {
        self.buf.len() - self.pos
    }

    pub(crate) fn u8(&mut self) -> Result<u8, DecodeError> {
        match self.buf.get(self.pos) {
            Some(b) => {
                self.pos += 1;
                Ok(*b)
            }
            None => err(format!("truncated at byte {}", self.pos)),
        }
    }

    pub(crate) fn array<const N: usize>(&mut self) -> Result<[u8; N], DecodeError> {
        let end = self.pos.checked_add(N).filter(|e| *e <= self.buf.len());
        match end.and_then(|e| self.buf.get(self.pos..e)) {
            Some(s) => {
                let mut out = [0u8; N];
                out.copy_from_slice(s);
                self.pos += N;
                Ok(out)
            }
            None => err(format!("truncated at byte {}", self.pos)),
        }
    }

    pub(crate) fn varint(&mut self) -> Result<u128, DecodeError> {
        let start = self.pos;
        let mut v: u128 = 0;
        for i in 0..19u32 {
            let b = self.u8()?;
            let bits = u128::from(b & 0x7f);
            let shift = 7 * i;
            if shift == 126 && bits > 0b11 {
                return err(format!("varint at byte {start} overflows 128 bits"));
            }
            v |= bits << shift;
            if b & 0x80 == 0 {
                if b == 0 && i > 0 {
                    return err(format!("overlong varint at byte {start}"));
                }
                return Ok(v);
            }
        }
        err(format!("varint at byte {start} is longer than 19 bytes"))
    }

    /// A varint that must be `<= max`.
    pub(crate) fn varint_max(&mut self, max: u128, what: &str) -> Result<u128, DecodeError> {
        let at = self.pos;
        let v = self.varint()?;
        if v > max {
            return err(format!("{what} {v} at byte {at} exceeds {max}"));
        }
        Ok(v)
    }

    /// Reads runs written by [`Writer::runs`]; every value must be `<= max`.
    pub(crate) fn runs(&mut self, max: u128) -> Result<Vec<(u128, u128)>, DecodeError> {
        let count = self.varint()?;
        // Each run takes at least two bytes.
        if count > (self.remaining() / 2) as u128 {
            return err(format!(
                "run count {count} is larger than the {} bytes left allow",
                self.remaining()
            ));
        }
        let mut out = Vec::with_capacity(count as usize);
        let mut next: Option<u128> = Some(0);
        for _ in 0..count {
            let gap = self.varint()?;
            let len_minus_one = self.varint()?;
            let first = next.and_then(|n| n.checked_add(gap));
            let last = first.and_then(|f| f.checked_add(len_minus_one));
            match (first, last) {
                (Some(f), Some(l)) if l <= max => {
                    out.push((f, l));
                    next = l.checked_add(1);
                }
                _ => return err(format!("run past the end of the pool (max {max})")),
            }
        }
        Ok(out)
    }

    /// Fails if bytes are left over.
    pub(crate) fn finish(self) -> Result<(), DecodeError> {
        if self.pos != self.buf.len() {
            return err(format!(
                "{} trailing bytes after the state",
                self.buf.len() - self.pos
            ));
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn varints_round_trip_and_reject_overlong() {
        for v in [0u128, 1, 127, 128, 300, u64::MAX as u128, u128::MAX] {
            let mut w = Writer::new(Tag::Id);
            w.varint(v);
            let bytes = w.finish();
            let mut r = Reader::new(&bytes, Tag::Id).unwrap();
            assert_eq!(r.varint().unwrap(), v);
            r.finish().unwrap();
        }
        let overlong = [FORMAT_VERSION, Tag::Id as u8, 0x80, 0x00];
        assert!(Reader::new(&overlong, Tag::Id).unwrap().varint().is_err());
        let mut too_big = vec![FORMAT_VERSION, Tag::Id as u8];
        too_big.extend([0xff; 18]);
        too_big.push(0x7f);
        assert!(Reader::new(&too_big, Tag::Id).unwrap().varint().is_err());
    }

    #[test]
    fn header_is_checked() {
        assert!(Reader::new(&[], Tag::Id).is_err());
        assert!(Reader::new(&[2, 3], Tag::Id).is_err());
        let e = Reader::new(&[1, 1], Tag::Id).unwrap_err();
        assert!(
            e.0.contains("expected id allocator state, found ipv4"),
            "{e}"
        );
        assert!(Reader::new(&[1, 9], Tag::Id).is_err());
    }

    #[test]
    fn runs_round_trip_and_bounds() {
        let runs = vec![(0u128, 3u128), (5, 5), (100, 200)];
        let mut w = Writer::new(Tag::Id);
        w.runs(runs.len(), runs.clone());
        let bytes = w.finish();
        let mut r = Reader::new(&bytes, Tag::Id).unwrap();
        assert_eq!(r.runs(200).unwrap(), runs);
        let mut r = Reader::new(&bytes, Tag::Id).unwrap();
        assert!(r.runs(199).is_err());
    }
}
