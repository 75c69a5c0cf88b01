//! Bounds-checked big-endian readers and writers, and the [`Codec`] of the
//! VPP API's base types. Nothing here panics on short or hostile input:
//! reads past the end return [`Error::Truncated`], element counts larger
//! than the bytes that could hold them are refused before allocating.

use super::{Error, Result};

/// A cursor over a byte slice.
#[derive(Debug, Clone)]
pub struct Reader<'a> {
    buf: &'a [u8],
    pos: usize,
}

impl<'a> Reader<'a> {
    /// A reader over `buf`.
    pub fn new(buf: &'a [u8]) -> Self {
        Reader { buf, pos: 0 }
    }

    /// Bytes not yet read.
    pub fn remaining(&self) -> usize {
        self.buf.len() - self.pos
    }

    /// Bytes read so far.
    pub fn position(&self) -> usize {
        self.pos
    }

    /// Takes the next `n` bytes.
    pub fn bytes(&mut self, n: usize) -> Result<&'a [u8]> {
        match self.pos.checked_add(n).filter(|e| *e <= self.buf.len()) {
            Some(end) => {
                let s = &self.buf[self.pos..end];
                self.pos = end;
                Ok(s)
            }
            None => Err(Error::Truncated {
                need: self.pos.saturating_add(n),
                have: self.buf.len(),
            }),
        }
    }

    /// Reads `N` bytes into an array.
    pub fn array<const N: usize>(&mut self) -> Result<[u8; N]> {
        let mut a = [0u8; N];
        a.copy_from_slice(self.bytes(N)?);
        Ok(a)
    }

    /// A `string name[n]`: `n` bytes, the text up to the first NUL.
    pub fn fixed_str(&mut self, n: usize) -> Result<String> {
        let b = self.bytes(n)?;
        let end = b.iter().position(|c| *c == 0).unwrap_or(b.len());
        Ok(String::from_utf8_lossy(&b[..end]).into_owned())
    }

    /// A `string name[]`: a u32 length, then that many bytes.
    pub fn var_str(&mut self) -> Result<String> {
        let len = u32::parse(self)? as usize;
        let b = self.bytes(len)?;
        Ok(String::from_utf8_lossy(b).into_owned())
    }

    /// `count` elements of `T` (a `T name[count]` field). Refuses a count
    /// the remaining bytes cannot hold before allocating.
    pub fn vec<T: Codec>(&mut self, count: usize, what: &'static str) -> Result<Vec<T>> {
        // Every element takes at least one byte.
        if count > self.remaining() {
            return Err(Error::Malformed {
                what,
                why: "element count exceeds the bytes left in the message",
            });
        }
        let mut v = Vec::with_capacity(count);
        for _ in 0..count {
            v.push(T::parse(self)?);
        }
        Ok(v)
    }

    /// Elements of `T` until the message ends (a legacy `T name[]`).
    pub fn rest_vec<T: Codec>(&mut self) -> Result<Vec<T>> {
        let mut v = Vec::new();
        while self.remaining() > 0 {
            v.push(T::parse(self)?);
        }
        Ok(v)
    }
}

/// An appending writer.
#[derive(Debug)]
pub struct Writer<'a> {
    buf: &'a mut Vec<u8>,
}

impl<'a> Writer<'a> {
    /// A writer appending to `buf`.
    pub fn new(buf: &'a mut Vec<u8>) -> Self {
        Writer { buf }
    }

    /// Appends raw bytes.
    pub fn bytes(&mut self, b: &[u8]) {
        self.buf.extend_from_slice(b);
    }

    /// Writes the element count of a vector into a count field of type `T`.
    pub fn count<T: TryFrom<usize> + Codec>(
        &mut self,
        len: usize,
        what: &'static str,
    ) -> Result<()> {
        T::try_from(len)
            .map_err(|_| Error::Unencodable {
                what,
                why: "too many elements for the count field",
            })?
            .emit(self)
    }

    /// A `string name[n]`: at most `n - 1` ASCII characters, NUL-padded.
    pub fn fixed_str(&mut self, s: &str, n: usize, what: &'static str) -> Result<()> {
        check_str(s, n, what)?;
        self.bytes(s.as_bytes());
        self.buf.resize(self.buf.len() + (n - s.len()), 0);
        Ok(())
    }

    /// A `string name[]`: a u32 length and the bytes (`limit` 0 = none).
    pub fn var_str(&mut self, s: &str, limit: usize, what: &'static str) -> Result<()> {
        check_str(s, limit, what)?;
        let len = u32::try_from(s.len()).map_err(|_| Error::Unencodable {
            what,
            why: "string longer than 4 GiB",
        })?;
        len.emit(self)?;
        self.bytes(s.as_bytes());
        Ok(())
    }
}

fn check_str(s: &str, limit: usize, what: &'static str) -> Result<()> {
    if limit > 0 && s.len() > limit - 1 {
        return Err(Error::Unencodable {
            what,
            why: "string too long for its field (it needs a terminating NUL)",
        });
    }
    if !s.is_ascii() || s.bytes().any(|b| b == 0) {
        return Err(Error::Unencodable {
            what,
            why: "API strings are ASCII without NUL bytes",
        });
    }
    Ok(())
}

/// A value with a fixed wire encoding: the base types, arrays, and every
/// generated type.
pub trait Codec: Sized {
    /// Appends the value's encoding.
    fn emit(&self, w: &mut Writer<'_>) -> Result<()>;
    /// Reads one value.
    fn parse(r: &mut Reader<'_>) -> Result<Self>;
}

macro_rules! int_codec {
    ($($t:ty),*) => {$(
        impl Codec for $t {
            fn emit(&self, w: &mut Writer<'_>) -> Result<()> {
                w.bytes(&self.to_be_bytes());
                Ok(())
            }
            fn parse(r: &mut Reader<'_>) -> Result<Self> {
                Ok(<$t>::from_be_bytes(r.array()?))
            }
        }
    )*};
}
int_codec!(u8, i8, u16, i16, u32, i32, u64, i64);

impl Codec for bool {
    fn emit(&self, w: &mut Writer<'_>) -> Result<()> {
        w.bytes(&[u8::from(*self)]);
        Ok(())
    }
    fn parse(r: &mut Reader<'_>) -> Result<Self> {
        Ok(r.array::<1>()?[0] != 0)
    }
}

/// `f64` travels in host byte order: VPP's `clib_net_to_host_f64` is the
/// identity and vpp-papi packs it with `=d` (native). This codec fixes it
/// to little-endian, the order of every platform VPP runs on.
impl Codec for f64 {
    fn emit(&self, w: &mut Writer<'_>) -> Result<()> {
        w.bytes(&self.to_le_bytes());
        Ok(())
    }
    fn parse(r: &mut Reader<'_>) -> Result<Self> {
        Ok(f64::from_le_bytes(r.array()?))
    }
}

impl<T: Codec, const N: usize> Codec for [T; N] {
    fn emit(&self, w: &mut Writer<'_>) -> Result<()> {
        self.iter().try_for_each(|x| x.emit(w))
    }
    fn parse(r: &mut Reader<'_>) -> Result<Self> {
        let mut v = Vec::with_capacity(N);
        for _ in 0..N {
            v.push(T::parse(r)?);
        }
        v.try_into().map_err(|_| Error::Malformed {
            what: "array",
            why: "length mismatch",
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn strings_follow_the_api_rules() {
        let mut b = Vec::new();
        let mut w = Writer::new(&mut b);
        w.fixed_str("ab", 4, "t").unwrap();
        w.var_str("xyz", 0, "t").unwrap();
        assert_eq!(b, [b'a', b'b', 0, 0, 0, 0, 0, 3, b'x', b'y', b'z']);
        let mut r = Reader::new(&b);
        assert_eq!(r.fixed_str(4).unwrap(), "ab");
        assert_eq!(r.var_str().unwrap(), "xyz");
        assert_eq!(r.remaining(), 0);
        let mut b = Vec::new();
        let mut w = Writer::new(&mut b);
        // 4 bytes leave no room for the NUL.
        assert!(w.fixed_str("abcd", 4, "t").is_err());
        assert!(w.fixed_str("a\u{e9}", 8, "t").is_err());
        assert!(w.var_str("a\0b", 0, "t").is_err());
    }

    #[test]
    fn hostile_counts_are_refused_before_allocating() {
        let b = [0u8; 8];
        let mut r = Reader::new(&b);
        assert!(matches!(
            r.vec::<u32>(usize::MAX, "x"),
            Err(Error::Malformed { .. })
        ));
        let mut r = Reader::new(&[0, 0, 0, 9, 1]);
        assert!(matches!(r.var_str(), Err(Error::Truncated { .. })));
    }

    #[test]
    fn integers_are_big_endian_and_f64_native_little_endian() {
        let mut b = Vec::new();
        let mut w = Writer::new(&mut b);
        0x0102u16.emit(&mut w).unwrap();
        (-2i32).emit(&mut w).unwrap();
        true.emit(&mut w).unwrap();
        1.0f64.emit(&mut w).unwrap();
        assert_eq!(
            b,
            [
                1, 2, 0xff, 0xff, 0xff, 0xfe, 1, 0, 0, 0, 0, 0, 0, 0xf0, 0x3f
            ]
        );
        let mut r = Reader::new(&b);
        assert_eq!(u16::parse(&mut r).unwrap(), 0x0102);
        assert_eq!(i32::parse(&mut r).unwrap(), -2);
        assert!(bool::parse(&mut r).unwrap());
        assert_eq!(f64::parse(&mut r).unwrap(), 1.0);
    }
}
