//! Consul's HTTP API as typed values: KV entries, `/v1/txn` operations,
//! results and errors, sessions — the JSON shapes of Consul's published API
//! (`/v1/kv`, `/v1/txn`, `/v1/session`), shared by the client and the test
//! server so both speak one definition.
//!
//! Field names are Consul's (PascalCase); values are base64 in JSON, as on
//! the wire. Durations are Go duration strings (`"10s"`, `"1.5s"`, `"15ms"`).

use base64::Engine;
use serde::{Deserialize, Deserializer, Serialize, Serializer};
use std::time::Duration;

/// The largest value one key may hold (Consul's default `kv_max_value_size`).
pub const MAX_VALUE_BYTES: usize = 512 * 1024;
/// The largest `/v1/txn` request body (Consul's default `txn_max_req_len`).
pub const MAX_TXN_BODY_BYTES: usize = 512 * 1024;
/// The most operations one `/v1/txn` request may hold.
pub const MAX_TXN_OPS: usize = 128;
/// The header carrying the index a reply reflects.
pub const INDEX_HEADER: &str = "X-Consul-Index";
/// The header carrying an ACL token.
pub const TOKEN_HEADER: &str = "X-Consul-Token";

/// One KV entry as Consul returns it (`GET /v1/kv/<key>`, txn results).
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct KvPair {
    /// Index of the write that created the key (since it last did not
    /// exist).
    #[serde(default)]
    pub create_index: u64,
    /// Index of the last write to the key.
    #[serde(default)]
    pub modify_index: u64,
    /// How many times a session acquired the key.
    #[serde(default)]
    pub lock_index: u64,
    /// The full key.
    pub key: String,
    /// An opaque number the writer attached.
    #[serde(default)]
    pub flags: u64,
    /// The value (`null` in write results and for `get-or-empty` misses).
    #[serde(default, with = "b64")]
    pub value: Option<Vec<u8>>,
    /// The session holding the key's lock, if any.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub session: Option<String>,
}

/// The verbs of a KV operation in `/v1/txn`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub enum KvVerb {
    /// Write the value.
    #[serde(rename = "set")]
    Set,
    /// Write if `Index` is the key's modify index (0: if absent).
    #[serde(rename = "cas")]
    Cas,
    /// Write and acquire the key's lock for `Session`.
    #[serde(rename = "lock")]
    Lock,
    /// Write and release the key's lock held by `Session`.
    #[serde(rename = "unlock")]
    Unlock,
    /// Read the key; fails if absent.
    #[serde(rename = "get")]
    Get,
    /// Read the key, or an empty entry if absent.
    #[serde(rename = "get-or-empty")]
    GetOrEmpty,
    /// Read every key with the prefix.
    #[serde(rename = "get-tree")]
    GetTree,
    /// Fail unless the key's modify index is `Index`.
    #[serde(rename = "check-index")]
    CheckIndex,
    /// Fail unless `Session` holds the key's lock.
    #[serde(rename = "check-session")]
    CheckSession,
    /// Fail if the key exists.
    #[serde(rename = "check-not-exists")]
    CheckNotExists,
    /// Delete the key.
    #[serde(rename = "delete")]
    Delete,
    /// Delete every key with the prefix.
    #[serde(rename = "delete-tree")]
    DeleteTree,
    /// Delete if `Index` is the key's modify index.
    #[serde(rename = "delete-cas")]
    DeleteCas,
}

impl KvVerb {
    /// Whether the verb changes the store (a transaction of only reads is
    /// served like a read).
    pub fn is_write(self) -> bool {
        matches!(
            self,
            KvVerb::Set
                | KvVerb::Cas
                | KvVerb::Lock
                | KvVerb::Unlock
                | KvVerb::Delete
                | KvVerb::DeleteTree
                | KvVerb::DeleteCas
        )
    }
}

/// A KV operation of `/v1/txn`.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct KvOp {
    /// What to do.
    pub verb: KvVerb,
    /// The key (or prefix for the `-tree` verbs).
    pub key: String,
    /// The value to write.
    #[serde(default, with = "b64", skip_serializing_if = "Option::is_none")]
    pub value: Option<Vec<u8>>,
    /// Flags to store with a write.
    #[serde(default, skip_serializing_if = "is_zero")]
    pub flags: u64,
    /// The index a CAS verb compares against.
    #[serde(default, skip_serializing_if = "is_zero")]
    pub index: u64,
    /// The session of `lock`/`unlock`/`check-session`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub session: Option<String>,
}

fn is_zero(n: &u64) -> bool {
    *n == 0
}

impl KvOp {
    fn new(verb: KvVerb, key: impl Into<String>) -> Self {
        KvOp {
            verb,
            key: key.into(),
            value: None,
            flags: 0,
            index: 0,
            session: None,
        }
    }
    /// `set key = value` with flags.
    pub fn set(key: impl Into<String>, value: Vec<u8>, flags: u64) -> Self {
        KvOp {
            value: Some(value),
            flags,
            ..KvOp::new(KvVerb::Set, key)
        }
    }
    /// `cas key = value` if the key's modify index is `index` (0: absent).
    pub fn cas(key: impl Into<String>, value: Vec<u8>, index: u64) -> Self {
        KvOp {
            value: Some(value),
            index,
            ..KvOp::new(KvVerb::Cas, key)
        }
    }
    /// `get-or-empty key`.
    pub fn get_or_empty(key: impl Into<String>) -> Self {
        KvOp::new(KvVerb::GetOrEmpty, key)
    }
    /// `get-tree prefix`.
    pub fn get_tree(prefix: impl Into<String>) -> Self {
        KvOp::new(KvVerb::GetTree, prefix)
    }
    /// `delete key`.
    pub fn delete(key: impl Into<String>) -> Self {
        KvOp::new(KvVerb::Delete, key)
    }
}

/// One operation of a `/v1/txn` request (only KV operations are modelled).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct TxnOp {
    /// The KV operation.
    #[serde(rename = "KV")]
    pub kv: KvOp,
}

impl From<KvOp> for TxnOp {
    fn from(kv: KvOp) -> Self {
        TxnOp { kv }
    }
}

/// One result of a successful transaction.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct TxnResult {
    /// The entry a KV operation read or wrote.
    #[serde(rename = "KV")]
    pub kv: Option<KvPair>,
}

/// Why one operation failed (a rolled-back transaction lists them all).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct TxnError {
    /// The index of the failed operation in the request.
    pub op_index: usize,
    /// Consul's message.
    pub what: String,
}

/// The body of a `/v1/txn` reply (200: applied, 409: rolled back).
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct TxnReply {
    /// One entry per operation that produced one, in order (`null` when
    /// rolled back).
    #[serde(default)]
    pub results: Option<Vec<TxnResult>>,
    /// Why the transaction was rolled back (`null` when applied).
    #[serde(default)]
    pub errors: Option<Vec<TxnError>>,
}

/// What happens to a session's locks when it is invalidated.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub enum SessionBehavior {
    /// Locks are released; the keys stay.
    #[default]
    #[serde(rename = "release")]
    Release,
    /// Locked keys are deleted.
    #[serde(rename = "delete")]
    Delete,
}

/// The body of `PUT /v1/session/create` (every field optional).
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct SessionCreate {
    /// A human-readable name.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub name: Option<String>,
    /// The node the session belongs to (default: the agent's).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub node: Option<String>,
    /// Time-to-live as a Go duration (`"10s"`); none means no TTL.
    #[serde(rename = "TTL", default, skip_serializing_if = "Option::is_none")]
    pub ttl: Option<String>,
    /// What invalidation does to held locks.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub behavior: Option<SessionBehavior>,
    /// Lock delay as a Go duration (`"15s"` by default, `"0s"` for none).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub lock_delay: Option<String>,
    /// Node health checks the session depends on (default `serfHealth`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub node_checks: Option<Vec<String>>,
    /// The pre-1.7 name of `NodeChecks`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub checks: Option<Vec<String>>,
}

/// The reply of `PUT /v1/session/create`.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct SessionId {
    /// The new session's UUID.
    #[serde(rename = "ID")]
    pub id: String,
}

/// A session as `/v1/session/info`, `/list` and `/renew` return it.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct SessionEntry {
    /// Its UUID.
    #[serde(rename = "ID")]
    pub id: String,
    /// Its name.
    #[serde(default)]
    pub name: String,
    /// The node it belongs to.
    #[serde(default)]
    pub node: String,
    /// Lock delay in nanoseconds.
    #[serde(default)]
    pub lock_delay: u64,
    /// What invalidation does to held locks.
    #[serde(default)]
    pub behavior: SessionBehavior,
    /// Time-to-live as a Go duration (empty: none).
    #[serde(rename = "TTL", default)]
    pub ttl: String,
    /// Node checks it depends on.
    #[serde(default)]
    pub node_checks: Option<Vec<String>>,
    /// Service checks it depends on.
    #[serde(default)]
    pub service_checks: Option<Vec<serde_json::Value>>,
    /// Index of its creation.
    #[serde(default)]
    pub create_index: u64,
    /// Index of its last change.
    #[serde(default)]
    pub modify_index: u64,
}

/// Formats a duration the way Go's `time.Duration.String` does for the
/// values Consul exchanges (`"10s"`, `"1.5s"`, `"250ms"`, `"0s"`).
pub fn go_duration(d: Duration) -> String {
    if d.is_zero() {
        return "0s".to_owned();
    }
    let nanos = d.as_nanos();
    if nanos < 1_000_000 {
        return format!("{}µs", trim_frac(nanos, 1_000));
    }
    if nanos < 1_000_000_000 {
        return format!("{}ms", trim_frac(nanos, 1_000_000));
    }
    format!("{}s", trim_frac(nanos, 1_000_000_000))
}

fn trim_frac(n: u128, unit: u128) -> String {
    let whole = n / unit;
    let frac = n % unit;
    if frac == 0 {
        return whole.to_string();
    }
    let width = unit.ilog10() as usize;
    let digits = format!("{frac:0width$}");
    format!("{whole}.{}", digits.trim_end_matches('0'))
}

/// Parses a Go duration string (`"10s"`, `"1m30s"`, `"1.5h"`, `"250ms"`,
/// `"0"`). `None` if it is not one.
pub fn parse_go_duration(s: &str) -> Option<Duration> {
    let s = s.trim();
    if s == "0" {
        return Some(Duration::ZERO);
    }
    if s.is_empty() || s.starts_with('-') {
        return None;
    }
    let s = s.strip_prefix('+').unwrap_or(s);
    let mut total = 0f64;
    let mut rest = s;
    while !rest.is_empty() {
        let num_end = rest
            .find(|c: char| !(c.is_ascii_digit() || c == '.'))
            .unwrap_or(rest.len());
        if num_end == 0 {
            return None;
        }
        let number: f64 = rest[..num_end].parse().ok()?;
        rest = &rest[num_end..];
        let unit_end = rest
            .find(|c: char| c.is_ascii_digit() || c == '.')
            .unwrap_or(rest.len());
        let seconds_per = match &rest[..unit_end] {
            "ns" => 1e-9,
            "us" | "µs" | "μs" => 1e-6,
            "ms" => 1e-3,
            "s" => 1.0,
            "m" => 60.0,
            "h" => 3600.0,
            _ => return None,
        };
        rest = &rest[unit_end..];
        total += number * seconds_per;
    }
    Duration::try_from_secs_f64(total).ok()
}

/// Base64 (standard alphabet) for optional byte values in JSON.
mod b64 {
    use super::*;

    pub fn serialize<S: Serializer>(v: &Option<Vec<u8>>, s: S) -> Result<S::Ok, S::Error> {
        match v {
            None => s.serialize_none(),
            Some(bytes) => {
                s.serialize_str(&base64::engine::general_purpose::STANDARD.encode(bytes))
            }
        }
    }

    pub fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<Option<Vec<u8>>, D::Error> {
        let text: Option<String> = Option::deserialize(d)?;
        text.map(|t| {
            base64::engine::general_purpose::STANDARD
                .decode(t.as_bytes())
                .map_err(serde::de::Error::custom)
        })
        .transpose()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn durations_round_trip() {
        for (d, s) in [
            (Duration::from_secs(10), "10s"),
            (Duration::from_millis(1500), "1.5s"),
            (Duration::from_millis(250), "250ms"),
            (Duration::ZERO, "0s"),
        ] {
            assert_eq!(go_duration(d), s);
            assert_eq!(parse_go_duration(s), Some(d));
        }
        assert_eq!(parse_go_duration("1m30s"), Some(Duration::from_secs(90)));
        assert_eq!(parse_go_duration("24h"), Some(Duration::from_secs(86400)));
        for bad in ["", "10", "s", "-1s", "1x", "1.2.3s"] {
            assert_eq!(parse_go_duration(bad), None, "{bad:?}");
        }
    }

    #[test]
    fn txn_op_wire_shape() {
        let op = TxnOp::from(KvOp::cas("a/b", b"hi".to_vec(), 7));
        let json = serde_json::to_value(&op).unwrap();
        assert_eq!(
            json,
            serde_json::json!({"KV": {"Verb": "cas", "Key": "a/b", "Value": "aGk=", "Index": 7}})
        );
        let back: TxnOp = serde_json::from_value(json).unwrap();
        assert_eq!(back, op);
        let reply: TxnReply = serde_json::from_str(
            r#"{"Results":null,"Errors":[{"OpIndex":0,"What":"failed to set key \"a/b\", index is stale"}]}"#,
        )
        .unwrap();
        assert_eq!(reply.errors.unwrap()[0].op_index, 0);
        let kv: KvPair = serde_json::from_str(
            r#"{"LockIndex":0,"Key":"k","Flags":3,"Value":null,"CreateIndex":5,"ModifyIndex":6}"#,
        )
        .unwrap();
        assert_eq!((kv.flags, kv.value, kv.modify_index), (3, None, 6));
    }
}
