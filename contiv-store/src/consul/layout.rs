//! How the store lives in Consul's KV: the key layout under a prefix, the
//! envelope that carries a key's metadata with its value, the event-log
//! record of one revision and the lease index.
//!
//! | Consul key | value |
//! |---|---|
//! | `<prefix>data<key>` | an [`Envelope`]: create/mod revision, version, lease, then the value bytes (`Flags` = mod revision, for people reading Consul) |
//! | `<prefix>meta/revision` | the store revision, decimal; every write `cas`es it (the serialisation point) |
//! | `<prefix>meta/compacted` | the explicit compaction point, decimal |
//! | `<prefix>meta/leases` | JSON `{lease: [key, …]}`: which keys are bound to which lease |
//! | `<prefix>log/<revision, 20 digits>` | a [`LogRecord`]: every event of that revision with values |
//!
//! The binary formats start with a magic byte and a format number so a
//! foreign value is reported, not misread.

use contiv_core::store::{EventKind, KeyValue, LeaseId, Revision, StoreError, WatchEvent};
use std::collections::{BTreeMap, BTreeSet};

const ENVELOPE_MAGIC: u8 = 0xC5;
const LOG_MAGIC: u8 = 0xC6;
const FORMAT: u8 = 1;

/// The Consul keys of one store.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Layout {
    prefix: String,
}

impl Layout {
    /// A layout under `prefix` (a trailing `/` is added if missing).
    pub fn new(prefix: &str) -> Self {
        let mut prefix = prefix.trim_start_matches('/').to_owned();
        if !prefix.ends_with('/') {
            prefix.push('/');
        }
        Layout { prefix }
    }

    /// The prefix (ends with `/`).
    pub fn prefix(&self) -> &str {
        &self.prefix
    }

    /// The Consul key holding store key `key`.
    pub fn data(&self, key: &str) -> String {
        format!("{}data{key}", self.prefix)
    }

    /// The store key of a Consul data key, if it is one.
    pub fn key_of<'a>(&self, consul_key: &'a str) -> Option<&'a str> {
        consul_key
            .strip_prefix(self.prefix.as_str())
            .and_then(|k| k.strip_prefix("data"))
    }

    /// The revision counter.
    pub fn revision(&self) -> String {
        format!("{}meta/revision", self.prefix)
    }

    /// The explicit compaction point.
    pub fn compacted(&self) -> String {
        format!("{}meta/compacted", self.prefix)
    }

    /// The lease index.
    pub fn leases(&self) -> String {
        format!("{}meta/leases", self.prefix)
    }

    /// The log record of revision `rev`.
    pub fn log(&self, rev: Revision) -> String {
        format!("{}log/{rev:020}", self.prefix)
    }
}

/// Parses a decimal counter value (`None`/empty: 0).
pub fn parse_counter(key: &str, value: Option<&[u8]>) -> Result<Revision, StoreError> {
    match value {
        None | Some([]) => Ok(0),
        Some(v) => std::str::from_utf8(v)
            .ok()
            .and_then(|s| s.trim().parse::<u64>().ok())
            .ok_or_else(|| foreign(key, "not a decimal revision")),
    }
}

fn foreign(key: &str, what: &str) -> StoreError {
    StoreError::Backend(format!(
        "Consul key {key:?} was not written by contiv-store ({what}); is another program using the prefix?"
    ))
}

/// A key's metadata stored in front of its value.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Envelope {
    /// Revision of the key's creation.
    pub create_revision: Revision,
    /// Revision of its last write.
    pub mod_revision: Revision,
    /// Writes since creation.
    pub version: u64,
    /// The lease it is bound to.
    pub lease: Option<LeaseId>,
    /// The value.
    pub value: Vec<u8>,
}

struct Reader<'a> {
    key: &'a str,
    buf: &'a [u8],
}

impl<'a> Reader<'a> {
    fn take(&mut self, n: usize) -> Result<&'a [u8], StoreError> {
        if self.buf.len() < n {
            return Err(foreign(self.key, "truncated record"));
        }
        let (head, rest) = self.buf.split_at(n);
        self.buf = rest;
        Ok(head)
    }
    fn u8(&mut self) -> Result<u8, StoreError> {
        Ok(self.take(1)?[0])
    }
    fn u32(&mut self) -> Result<u32, StoreError> {
        let b = self.take(4)?;
        Ok(u32::from_le_bytes([b[0], b[1], b[2], b[3]]))
    }
    fn u64(&mut self) -> Result<u64, StoreError> {
        let b = self.take(8)?;
        let mut a = [0u8; 8];
        a.copy_from_slice(b);
        Ok(u64::from_le_bytes(a))
    }
    fn bytes(&mut self) -> Result<&'a [u8], StoreError> {
        let n = self.u32()? as usize;
        self.take(n)
    }
    fn string(&mut self) -> Result<String, StoreError> {
        let b = self.bytes()?;
        String::from_utf8(b.to_vec()).map_err(|_| foreign(self.key, "a key is not UTF-8"))
    }
    fn lease(&mut self) -> Result<Option<LeaseId>, StoreError> {
        let s = self.string()?;
        Ok((!s.is_empty()).then_some(LeaseId(s)))
    }
}

fn put_bytes(out: &mut Vec<u8>, b: &[u8]) {
    out.extend_from_slice(&u32::try_from(b.len()).unwrap_or(u32::MAX).to_le_bytes());
    out.extend_from_slice(b);
}

impl Envelope {
    /// Encodes the envelope.
    pub fn encode(&self) -> Vec<u8> {
        let mut out = Vec::with_capacity(self.value.len() + 64);
        out.push(ENVELOPE_MAGIC);
        out.push(FORMAT);
        out.extend_from_slice(&self.create_revision.to_le_bytes());
        out.extend_from_slice(&self.mod_revision.to_le_bytes());
        out.extend_from_slice(&self.version.to_le_bytes());
        put_bytes(
            &mut out,
            self.lease.as_ref().map_or(&b""[..], |l| l.0.as_bytes()),
        );
        out.extend_from_slice(&self.value);
        out
    }

    /// Decodes the envelope of Consul key `consul_key`.
    pub fn decode(consul_key: &str, bytes: &[u8]) -> Result<Self, StoreError> {
        let mut r = Reader {
            key: consul_key,
            buf: bytes,
        };
        if r.u8()? != ENVELOPE_MAGIC || r.u8()? != FORMAT {
            return Err(foreign(consul_key, "no contiv-store envelope"));
        }
        let create_revision = r.u64()?;
        let mod_revision = r.u64()?;
        let version = r.u64()?;
        let lease = r.lease()?;
        Ok(Envelope {
            create_revision,
            mod_revision,
            version,
            lease,
            value: r.buf.to_vec(),
        })
    }

    /// The key-value of the contract for store key `key`.
    pub fn into_kv(self, key: String) -> KeyValue {
        KeyValue {
            key,
            value: self.value,
            create_revision: self.create_revision,
            mod_revision: self.mod_revision,
            version: self.version,
            lease: self.lease,
        }
    }
}

/// Everything that happened at one revision.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct LogRecord {
    /// A random number the writer chose, to recognise its own record after
    /// a write whose outcome it did not learn.
    pub nonce: u64,
    /// The events, in operation order (puts carry their full metadata).
    pub events: Vec<WatchEvent>,
}

impl LogRecord {
    /// Encodes the record.
    pub fn encode(&self) -> Vec<u8> {
        let size: usize = self
            .events
            .iter()
            .map(|e| e.kv.key.len() + e.kv.value.len() + 64)
            .sum();
        let mut out = Vec::with_capacity(size + 16);
        out.push(LOG_MAGIC);
        out.push(FORMAT);
        out.extend_from_slice(&self.nonce.to_le_bytes());
        out.extend_from_slice(
            &u32::try_from(self.events.len())
                .unwrap_or(u32::MAX)
                .to_le_bytes(),
        );
        for ev in &self.events {
            out.push(match ev.kind {
                EventKind::Put => 1,
                EventKind::Delete => 2,
            });
            put_bytes(&mut out, ev.kv.key.as_bytes());
            out.extend_from_slice(&ev.kv.create_revision.to_le_bytes());
            out.extend_from_slice(&ev.kv.version.to_le_bytes());
            put_bytes(
                &mut out,
                ev.kv.lease.as_ref().map_or(&b""[..], |l| l.0.as_bytes()),
            );
            put_bytes(&mut out, &ev.kv.value);
        }
        out
    }

    /// Decodes the record of revision `rev` stored at `consul_key`.
    pub fn decode(consul_key: &str, rev: Revision, bytes: &[u8]) -> Result<Self, StoreError> {
        let mut r = Reader {
            key: consul_key,
            buf: bytes,
        };
        if r.u8()? != LOG_MAGIC || r.u8()? != FORMAT {
            return Err(foreign(consul_key, "no contiv-store log record"));
        }
        let nonce = r.u64()?;
        let n = r.u32()? as usize;
        let mut events = Vec::with_capacity(n.min(1024));
        for _ in 0..n {
            let kind = match r.u8()? {
                1 => EventKind::Put,
                2 => EventKind::Delete,
                _ => return Err(foreign(consul_key, "unknown event kind")),
            };
            let key = r.string()?;
            let create_revision = r.u64()?;
            let version = r.u64()?;
            let lease = r.lease()?;
            let value = r.bytes()?.to_vec();
            events.push(WatchEvent {
                kind,
                kv: KeyValue {
                    key,
                    value,
                    create_revision,
                    mod_revision: rev,
                    version,
                    lease,
                },
            });
        }
        Ok(LogRecord { nonce, events })
    }
}

/// Which keys are bound to which lease.
pub type LeaseIndex = BTreeMap<String, BTreeSet<String>>;

/// Decodes the lease index (absent: empty).
pub fn decode_leases(key: &str, value: Option<&[u8]>) -> Result<LeaseIndex, StoreError> {
    match value {
        None | Some([]) => Ok(LeaseIndex::new()),
        Some(v) => serde_json::from_slice(v).map_err(|_| foreign(key, "not a lease index")),
    }
}

/// Encodes the lease index.
pub fn encode_leases(index: &LeaseIndex) -> Vec<u8> {
    serde_json::to_vec(index).unwrap_or_default()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn envelope_round_trip() {
        let env = Envelope {
            create_revision: 3,
            mod_revision: 9,
            version: 4,
            lease: Some(LeaseId("0b6d1a9e-0000-4000-8000-000000000001".into())),
            value: b"hello".to_vec(),
        };
        let bytes = env.encode();
        assert_eq!(Envelope::decode("k", &bytes).unwrap(), env);
        assert!(Envelope::decode("k", b"plain text").is_err());
        assert!(Envelope::decode("k", &bytes[..10]).is_err());
    }

    #[test]
    fn log_round_trip() {
        let rec = LogRecord {
            nonce: 42,
            events: vec![
                WatchEvent {
                    kind: EventKind::Put,
                    kv: KeyValue {
                        key: "/a/ü".into(),
                        value: vec![0, 1, 2],
                        create_revision: 5,
                        mod_revision: 7,
                        version: 2,
                        lease: None,
                    },
                },
                WatchEvent {
                    kind: EventKind::Delete,
                    kv: KeyValue {
                        key: "/b".into(),
                        value: vec![],
                        create_revision: 0,
                        mod_revision: 7,
                        version: 0,
                        lease: None,
                    },
                },
            ],
        };
        assert_eq!(LogRecord::decode("l", 7, &rec.encode()).unwrap(), rec);
    }

    #[test]
    fn layout() {
        let l = Layout::new("/contiv-store");
        assert_eq!(l.data("/x/y"), "contiv-store/data/x/y");
        assert_eq!(l.key_of("contiv-store/data/x/y"), Some("/x/y"));
        assert_eq!(l.key_of("contiv-store/log/1"), None);
        assert_eq!(l.log(42), "contiv-store/log/00000000000000000042");
        assert!(!l.revision().starts_with(&l.data("")));
    }
}
