//! Views: the socket frame and the message header.

use super::{Error, HeaderKind, MsgHeader, Result};

/// Length of the socket transport's frame header (`>QII`).
pub const FRAME_HEADER_LEN: usize = 16;

/// The largest message this codec accepts from a peer (VPP's own socket
/// transport refuses messages above its buffer size; 64 MiB is far above
/// any real dump record and keeps a hostile length from allocating more).
pub const MAX_MESSAGE_LEN: usize = 64 << 20;

/// A view of one socket frame: 16 header bytes — `u64` zero, `u32`
/// big-endian payload length, `u32` zero (VPP's `msgbuf_t`: queue
/// pointer, data length, gc mark) — and the payload, one API message.
///
/// [`Frame::new_checked`] guarantees the buffer holds the header and the
/// whole payload its length announces.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Frame<T: AsRef<[u8]>> {
    buffer: T,
}

impl<T: AsRef<[u8]>> Frame<T> {
    /// Wraps a buffer without checking it.
    pub const fn new_unchecked(buffer: T) -> Frame<T> {
        Frame { buffer }
    }

    /// Wraps a buffer and checks it with [`Frame::check_len`].
    pub fn new_checked(buffer: T) -> Result<Frame<T>> {
        let f = Frame::new_unchecked(buffer);
        f.check_len()?;
        Ok(f)
    }

    /// Checks that the header and the announced payload are present and
    /// that the length is within [`MAX_MESSAGE_LEN`].
    pub fn check_len(&self) -> Result<()> {
        let have = self.buffer.as_ref().len();
        if have < FRAME_HEADER_LEN {
            return Err(Error::Truncated {
                need: FRAME_HEADER_LEN,
                have,
            });
        }
        let len = self.payload_len();
        if len > MAX_MESSAGE_LEN {
            return Err(Error::Malformed {
                what: "socket frame",
                why: "payload length above the 64 MiB limit",
            });
        }
        if have < FRAME_HEADER_LEN + len {
            return Err(Error::Truncated {
                need: FRAME_HEADER_LEN + len,
                have,
            });
        }
        Ok(())
    }

    /// The payload length field.
    pub fn payload_len(&self) -> usize {
        let b = self.buffer.as_ref();
        u32::from_be_bytes([b[8], b[9], b[10], b[11]]) as usize
    }

    /// The payload (one message).
    pub fn payload(&self) -> &[u8] {
        &self.buffer.as_ref()[FRAME_HEADER_LEN..FRAME_HEADER_LEN + self.payload_len()]
    }

    /// Total frame length: header plus payload.
    pub fn total_len(&self) -> usize {
        FRAME_HEADER_LEN + self.payload_len()
    }
}

impl<T: AsRef<[u8]> + AsMut<[u8]>> Frame<T> {
    /// Writes the header for a payload of `len` bytes (zeros around it).
    pub fn set_header(&mut self, len: u32) {
        let b = self.buffer.as_mut();
        b[..8].fill(0);
        b[8..12].copy_from_slice(&len.to_be_bytes());
        b[12..16].fill(0);
    }
}

/// Prefixes `msg` with its socket frame header.
pub fn frame(msg: &[u8]) -> Result<Vec<u8>> {
    let len = u32::try_from(msg.len())
        .ok()
        .filter(|l| (*l as usize) <= MAX_MESSAGE_LEN)
        .ok_or(Error::Unencodable {
            what: "socket frame",
            why: "message above the 64 MiB limit",
        })?;
    let mut out = vec![0u8; FRAME_HEADER_LEN];
    Frame::new_unchecked(&mut out[..]).set_header(len);
    out.extend_from_slice(msg);
    Ok(out)
}

/// Splits the first complete frame off `buf`: `Ok(Some((payload, used)))`,
/// `Ok(None)` if more bytes are needed, an error if the header is invalid.
pub fn split_frame(buf: &[u8]) -> Result<Option<(&[u8], usize)>> {
    match Frame::new_checked(buf) {
        Ok(f) => {
            let total = f.total_len();
            Ok(Some((&buf[FRAME_HEADER_LEN..total], total)))
        }
        Err(Error::Truncated { .. }) => {
            // An over-long length is an error even before its bytes arrive.
            if buf.len() >= FRAME_HEADER_LEN
                && Frame::new_unchecked(buf).payload_len() > MAX_MESSAGE_LEN
            {
                return Err(Error::Malformed {
                    what: "socket frame",
                    why: "payload length above the 64 MiB limit",
                });
            }
            Ok(None)
        }
        Err(e) => Err(e),
    }
}

/// A view of a message's header: `_vl_msg_id` and, per [`HeaderKind`],
/// `client_index` and `context`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct MsgView<T: AsRef<[u8]>> {
    buffer: T,
    kind: HeaderKind,
}

impl<T: AsRef<[u8]>> MsgView<T> {
    /// Wraps a buffer without checking it.
    pub const fn new_unchecked(buffer: T, kind: HeaderKind) -> MsgView<T> {
        MsgView { buffer, kind }
    }

    /// Wraps a buffer, checking that it holds the header.
    pub fn new_checked(buffer: T, kind: HeaderKind) -> Result<MsgView<T>> {
        let have = buffer.as_ref().len();
        if have < kind.header_len() {
            return Err(Error::Truncated {
                need: kind.header_len(),
                have,
            });
        }
        Ok(MsgView::new_unchecked(buffer, kind))
    }

    /// The message id (also readable before the kind is known: it is the
    /// first two bytes of every message).
    pub fn msg_id(&self) -> u16 {
        let b = self.buffer.as_ref();
        u16::from_be_bytes([b[0], b[1]])
    }

    fn u32_at(&self, off: Option<usize>) -> u32 {
        off.map_or(0, |o| {
            let b = &self.buffer.as_ref()[o..o + 4];
            u32::from_be_bytes([b[0], b[1], b[2], b[3]])
        })
    }

    /// `client_index` (0 if the header has none).
    pub fn client_index(&self) -> u32 {
        self.u32_at(self.kind.client_index_offset())
    }

    /// `context` (0 if the header has none).
    pub fn context(&self) -> u32 {
        self.u32_at(self.kind.context_offset())
    }

    /// All header values.
    pub fn header(&self) -> MsgHeader {
        MsgHeader {
            msg_id: self.msg_id(),
            client_index: self.client_index(),
            context: self.context(),
        }
    }

    /// The bytes after the header.
    pub fn body(&self) -> &[u8] {
        &self.buffer.as_ref()[self.kind.header_len()..]
    }
}

impl<T: AsRef<[u8]> + AsMut<[u8]>> MsgView<T> {
    /// Sets the message id.
    pub fn set_msg_id(&mut self, id: u16) {
        self.buffer.as_mut()[..2].copy_from_slice(&id.to_be_bytes());
    }

    /// Sets `context` (no-op if the header has none).
    pub fn set_context(&mut self, ctx: u32) {
        if let Some(o) = self.kind.context_offset() {
            self.buffer.as_mut()[o..o + 4].copy_from_slice(&ctx.to_be_bytes());
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn frames_split_and_refuse_lies() {
        let f = frame(&[1, 2, 3]).unwrap();
        assert_eq!(&f[..16], &[0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 3, 0, 0, 0, 0]);
        let mut two = f.clone();
        two.extend_from_slice(&f);
        let (p, used) = split_frame(&two).unwrap().unwrap();
        assert_eq!((p, used), (&[1u8, 2, 3][..], 19));
        assert_eq!(split_frame(&two[..18]).unwrap(), None);
        assert_eq!(split_frame(&two[..5]).unwrap(), None);
        let mut huge = vec![0u8; 16];
        huge[8..12].copy_from_slice(&u32::MAX.to_be_bytes());
        assert!(split_frame(&huge).is_err());
    }

    #[test]
    fn message_header_views() {
        let b = [0, 5, 0, 0, 0, 9, 0, 0, 0, 7, 0xaa];
        let v = MsgView::new_checked(&b[..], HeaderKind::ClientContext).unwrap();
        assert_eq!(
            v.header(),
            MsgHeader {
                msg_id: 5,
                client_index: 9,
                context: 7
            }
        );
        assert_eq!(v.body(), &[0xaa]);
        let v = MsgView::new_checked(&b[..], HeaderKind::Context).unwrap();
        assert_eq!((v.client_index(), v.context()), (0, 9));
        assert!(MsgView::new_checked(&b[..3], HeaderKind::Context).is_err());
        let mut m = b;
        let mut v = MsgView::new_unchecked(&mut m[..], HeaderKind::ClientContext);
        v.set_msg_id(0x102);
        v.set_context(0x0a0b0c0d);
        assert_eq!(&m[..10], &[1, 2, 0, 0, 0, 9, 0xa, 0xb, 0xc, 0xd]);
    }
}
