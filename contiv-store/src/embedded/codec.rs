//! Byte layouts of the embedded store's records (all integers little
//! endian). Decoding never panics: a short or malformed record is a
//! [`StoreError::Backend`] naming what was corrupt.
//!
//! * key record (`kv` table value): `create u64 | mod u64 | version u64 |
//!   lease u64 (0 = none) | value bytes…`
//! * history row (`history` table value, keyed by revision): a sequence of
//!   events `kind u8 (0 put, 1 delete) | key_len u32 | key | create u64 |
//!   version u64 | lease u64 | value_len u32 | value`

use contiv_core::store::{
    EventKind, KeyValue, LeaseId, Revision, StoreError, StoreResult, WatchEvent,
};

/// Size of the fixed header of a key record.
pub const RECORD_HEADER: usize = 32;

/// The metadata of a stored key (its record header).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct RecordMeta {
    /// Revision of creation.
    pub create_revision: Revision,
    /// Revision of the last write.
    pub mod_revision: Revision,
    /// Writes since creation.
    pub version: u64,
    /// Bound lease number, 0 for none.
    pub lease: u64,
}

fn corrupt(what: &str) -> StoreError {
    StoreError::Backend(format!(
        "embedded store file is corrupt: malformed {what}; restore it from a backup"
    ))
}

/// A little reader over a byte slice.
struct Cursor<'a> {
    buf: &'a [u8],
    what: &'static str,
}

impl<'a> Cursor<'a> {
    fn take(&mut self, n: usize) -> StoreResult<&'a [u8]> {
        if self.buf.len() < n {
            return Err(corrupt(self.what));
        }
        let (head, tail) = self.buf.split_at(n);
        self.buf = tail;
        Ok(head)
    }
    fn u64(&mut self) -> StoreResult<u64> {
        let b = self.take(8)?;
        let mut a = [0u8; 8];
        a.copy_from_slice(b);
        Ok(u64::from_le_bytes(a))
    }
    fn u32(&mut self) -> StoreResult<u32> {
        let b = self.take(4)?;
        let mut a = [0u8; 4];
        a.copy_from_slice(b);
        Ok(u32::from_le_bytes(a))
    }
    fn u8(&mut self) -> StoreResult<u8> {
        Ok(self.take(1)?[0])
    }
}

/// Lease number → optional id (0 means no lease).
pub fn lease_id(n: u64) -> Option<LeaseId> {
    (n != 0).then(|| LeaseId(n.to_string()))
}

/// Encodes a key record.
pub fn encode_record(meta: &RecordMeta, value: &[u8]) -> Vec<u8> {
    let mut out = Vec::with_capacity(RECORD_HEADER + value.len());
    out.extend_from_slice(&meta.create_revision.to_le_bytes());
    out.extend_from_slice(&meta.mod_revision.to_le_bytes());
    out.extend_from_slice(&meta.version.to_le_bytes());
    out.extend_from_slice(&meta.lease.to_le_bytes());
    out.extend_from_slice(value);
    out
}

/// Decodes only the header of a key record.
pub fn decode_meta(bytes: &[u8]) -> StoreResult<RecordMeta> {
    let mut c = Cursor {
        buf: bytes,
        what: "key record",
    };
    Ok(RecordMeta {
        create_revision: c.u64()?,
        mod_revision: c.u64()?,
        version: c.u64()?,
        lease: c.u64()?,
    })
}

/// Decodes a key record into a [`KeyValue`].
pub fn decode_record(key: &str, bytes: &[u8]) -> StoreResult<KeyValue> {
    let meta = decode_meta(bytes)?;
    Ok(KeyValue {
        key: key.to_owned(),
        value: bytes[RECORD_HEADER..].to_vec(),
        create_revision: meta.create_revision,
        mod_revision: meta.mod_revision,
        version: meta.version,
        lease: lease_id(meta.lease),
    })
}

fn len_u32(n: usize, what: &str) -> StoreResult<u32> {
    u32::try_from(n).map_err(|_| {
        StoreError::InvalidArgument(format!("{what} of {n} bytes is too large for the store"))
    })
}

/// Appends one event to a history row.
pub fn encode_event(out: &mut Vec<u8>, ev: &WatchEvent) -> StoreResult<()> {
    out.push(match ev.kind {
        EventKind::Put => 0,
        EventKind::Delete => 1,
    });
    out.extend_from_slice(&len_u32(ev.kv.key.len(), "a key")?.to_le_bytes());
    out.extend_from_slice(ev.kv.key.as_bytes());
    out.extend_from_slice(&ev.kv.create_revision.to_le_bytes());
    out.extend_from_slice(&ev.kv.version.to_le_bytes());
    let lease = match &ev.kv.lease {
        Some(id) => {
            id.0.parse::<u64>()
                .map_err(|_| StoreError::LeaseNotFound(id.clone()))?
        }
        None => 0,
    };
    out.extend_from_slice(&lease.to_le_bytes());
    out.extend_from_slice(&len_u32(ev.kv.value.len(), "a value")?.to_le_bytes());
    out.extend_from_slice(&ev.kv.value);
    Ok(())
}

/// Decodes a history row of revision `rev`, keeping events whose key
/// starts with `prefix`.
pub fn decode_events(
    rev: Revision,
    bytes: &[u8],
    prefix: &str,
    out: &mut Vec<WatchEvent>,
) -> StoreResult<()> {
    let mut c = Cursor {
        buf: bytes,
        what: "history row",
    };
    while !c.buf.is_empty() {
        let kind = match c.u8()? {
            0 => EventKind::Put,
            1 => EventKind::Delete,
            _ => return Err(corrupt("history event kind")),
        };
        let klen = c.u32()? as usize;
        let key = std::str::from_utf8(c.take(klen)?).map_err(|_| corrupt("history key"))?;
        let create_revision = c.u64()?;
        let version = c.u64()?;
        let lease = c.u64()?;
        let vlen = c.u32()? as usize;
        let value = c.take(vlen)?;
        if key.starts_with(prefix) {
            out.push(WatchEvent {
                kind,
                kv: KeyValue {
                    key: key.to_owned(),
                    value: value.to_vec(),
                    create_revision,
                    mod_revision: rev,
                    version,
                    lease: lease_id(lease),
                },
            });
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn record_roundtrip() {
        let meta = RecordMeta {
            create_revision: 3,
            mod_revision: 9,
            version: 4,
            lease: 7,
        };
        let bytes = encode_record(&meta, b"hello");
        assert_eq!(decode_meta(&bytes).unwrap(), meta);
        let kv = decode_record("/k", &bytes).unwrap();
        assert_eq!(kv.value, b"hello");
        assert_eq!(kv.lease, Some(LeaseId("7".into())));
        assert!(decode_meta(&bytes[..10]).is_err());
    }

    #[test]
    fn events_roundtrip_and_filter() {
        let ev = |kind, key: &str, value: &[u8]| WatchEvent {
            kind,
            kv: KeyValue {
                key: key.into(),
                value: value.to_vec(),
                create_revision: if kind == EventKind::Put { 5 } else { 0 },
                mod_revision: 5,
                version: u64::from(kind == EventKind::Put),
                lease: None,
            },
        };
        let events = vec![
            ev(EventKind::Put, "/a/x", b"v"),
            ev(EventKind::Delete, "/b/y", b""),
        ];
        let mut row = Vec::new();
        for e in &events {
            encode_event(&mut row, e).unwrap();
        }
        let mut out = Vec::new();
        decode_events(5, &row, "", &mut out).unwrap();
        assert_eq!(out, events);
        out.clear();
        decode_events(5, &row, "/b/", &mut out).unwrap();
        assert_eq!(out, events[1..]);
        assert!(decode_events(5, &row[..row.len() - 1], "", &mut out).is_err());
    }
}
