//! Bounds-checked big-endian readers and writers used by every decoder and
//! encoder in [`wire`](super). Nothing here panics on short buffers: reads
//! and writes past the end return [`Error::Truncated`] / [`Error::BufferTooSmall`].

use super::Error;

/// A cursor over a byte slice that reads big-endian integers.
#[derive(Debug, Clone)]
pub(crate) struct Reader<'a> {
    buf: &'a [u8],
    pos: usize,
    what: &'static str,
}

impl<'a> Reader<'a> {
    /// A reader over `buf`; `what` names the structure in error messages.
    pub(crate) fn new(buf: &'a [u8], what: &'static str) -> Self {
        Reader { buf, pos: 0, what }
    }

    /// Bytes not yet read.
    pub(crate) fn remaining(&self) -> usize {
        self.buf.len() - self.pos
    }

    /// Takes the next `n` bytes.
    pub(crate) fn bytes(&mut self, n: usize) -> Result<&'a [u8], Error> {
        let end = self.pos.checked_add(n).filter(|e| *e <= self.buf.len());
        match end {
            Some(end) => {
                let s = &self.buf[self.pos..end];
                self.pos = end;
                Ok(s)
            }
            None => Err(Error::Truncated {
                what: self.what,
                need: self.pos.saturating_add(n),
                have: self.buf.len(),
            }),
        }
    }

    /// Takes everything that is left.
    pub(crate) fn rest(&mut self) -> &'a [u8] {
        let s = &self.buf[self.pos..];
        self.pos = self.buf.len();
        s
    }

    /// Skips `n` bytes.
    pub(crate) fn skip(&mut self, n: usize) -> Result<(), Error> {
        self.bytes(n).map(|_| ())
    }

    /// Reads `N` bytes into an array.
    pub(crate) fn array<const N: usize>(&mut self) -> Result<[u8; N], Error> {
        let s = self.bytes(N)?;
        let mut a = [0u8; N];
        a.copy_from_slice(s);
        Ok(a)
    }

    pub(crate) fn u8(&mut self) -> Result<u8, Error> {
        Ok(self.array::<1>()?[0])
    }

    pub(crate) fn u16(&mut self) -> Result<u16, Error> {
        Ok(u16::from_be_bytes(self.array()?))
    }

    pub(crate) fn u32(&mut self) -> Result<u32, Error> {
        Ok(u32::from_be_bytes(self.array()?))
    }

    pub(crate) fn u64(&mut self) -> Result<u64, Error> {
        Ok(u64::from_be_bytes(self.array()?))
    }

    pub(crate) fn u128(&mut self) -> Result<u128, Error> {
        Ok(u128::from_be_bytes(self.array()?))
    }
}

/// A cursor over a mutable byte slice that writes big-endian integers.
#[derive(Debug)]
pub(crate) struct Writer<'a> {
    buf: &'a mut [u8],
    pos: usize,
}

impl<'a> Writer<'a> {
    /// A writer over `buf`, starting at offset 0.
    pub(crate) fn new(buf: &'a mut [u8]) -> Self {
        Writer { buf, pos: 0 }
    }

    /// Bytes written so far.
    pub(crate) fn pos(&self) -> usize {
        self.pos
    }

    /// Reserves the next `n` bytes and returns them for the caller to fill.
    pub(crate) fn slot(&mut self, n: usize) -> Result<&mut [u8], Error> {
        let have = self.buf.len();
        let end = self
            .pos
            .checked_add(n)
            .filter(|e| *e <= have)
            .ok_or(Error::BufferTooSmall {
                need: self.pos.saturating_add(n),
                have,
            })?;
        let s = &mut self.buf[self.pos..end];
        self.pos = end;
        Ok(s)
    }

    pub(crate) fn bytes(&mut self, b: &[u8]) -> Result<(), Error> {
        self.slot(b.len())?.copy_from_slice(b);
        Ok(())
    }

    pub(crate) fn zeros(&mut self, n: usize) -> Result<(), Error> {
        self.slot(n)?.fill(0);
        Ok(())
    }

    pub(crate) fn u8(&mut self, v: u8) -> Result<(), Error> {
        self.bytes(&[v])
    }

    pub(crate) fn u16(&mut self, v: u16) -> Result<(), Error> {
        self.bytes(&v.to_be_bytes())
    }

    pub(crate) fn u32(&mut self, v: u32) -> Result<(), Error> {
        self.bytes(&v.to_be_bytes())
    }

    pub(crate) fn u64(&mut self, v: u64) -> Result<(), Error> {
        self.bytes(&v.to_be_bytes())
    }

    pub(crate) fn u128(&mut self, v: u128) -> Result<(), Error> {
        self.bytes(&v.to_be_bytes())
    }

    /// Writes a 16-bit length that was measured by the caller, failing if it
    /// does not fit.
    pub(crate) fn len16(&mut self, len: usize) -> Result<(), Error> {
        let v = u16::try_from(len).map_err(|_| Error::TooLong(len))?;
        self.u16(v)
    }
}

/// Rounds `n` up to a multiple of 8 (OpenFlow's alignment).
pub(crate) const fn pad8(n: usize) -> usize {
    (n + 7) & !7
}
