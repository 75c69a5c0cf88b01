//! Conversions between etcd-client types and the store contract: key
//! values, revisions, lease ids, key ranges and errors.

use contiv_core::store::{KeyValue, LeaseId, Revision, StoreError};

/// An etcd revision (never negative in replies) as ours.
pub fn rev(r: i64) -> Revision {
    u64::try_from(r).unwrap_or(0)
}

/// Our revision as etcd's.
pub fn etcd_rev(r: Revision) -> Result<i64, StoreError> {
    i64::try_from(r)
        .map_err(|_| StoreError::InvalidArgument(format!("revision {r} is out of etcd's range")))
}

/// Parses our lease id into etcd's (a positive decimal number).
pub fn lease_num(id: &LeaseId) -> Result<i64, StoreError> {
    match id.0.parse::<i64>() {
        Ok(n) if n > 0 => Ok(n),
        _ => Err(StoreError::LeaseNotFound(id.clone())),
    }
}

/// etcd's lease number as our id (`None` for 0).
pub fn lease_id(n: i64) -> Option<LeaseId> {
    (n != 0).then(|| LeaseId(n.to_string()))
}

/// A key from etcd as a string; keys under our prefixes are UTF-8.
pub fn key_string(key: &[u8]) -> Result<String, StoreError> {
    String::from_utf8(key.to_vec()).map_err(|_| {
        StoreError::Backend(format!(
            "etcd holds a key that is not UTF-8 ({}); it was not written by contiv",
            String::from_utf8_lossy(key)
        ))
    })
}

/// Converts an etcd key-value.
pub fn kv(kv: &etcd_client::KeyValue) -> Result<KeyValue, StoreError> {
    Ok(KeyValue {
        key: key_string(kv.key())?,
        value: kv.value().to_vec(),
        create_revision: rev(kv.create_revision()),
        mod_revision: rev(kv.mod_revision()),
        version: u64::try_from(kv.version()).unwrap_or(0),
        lease: lease_id(kv.lease()),
    })
}

/// The end of the key range holding every key that starts with `prefix`
/// (etcd's convention: `"\0"` means "to the end" for the empty prefix).
pub fn prefix_end(prefix: &[u8]) -> Vec<u8> {
    let mut end = prefix.to_vec();
    while let Some(last) = end.pop() {
        if last < 0xff {
            end.push(last + 1);
            return end;
        }
    }
    vec![0]
}

/// The start key of a prefix range (etcd reads `"\0"` for "from the start").
pub fn prefix_start(prefix: &str) -> Vec<u8> {
    if prefix.is_empty() {
        vec![0]
    } else {
        prefix.as_bytes().to_vec()
    }
}

/// Maps an etcd-client error onto the contract.
pub fn error(context: &str, e: etcd_client::Error) -> StoreError {
    use etcd_client::Error as E;
    match e {
        E::GRpcStatus(status) => {
            let msg = status.message().to_owned();
            if msg.contains("requested lease not found") {
                // The caller knows which lease; see `lease_error`.
                return StoreError::LeaseNotFound(LeaseId(String::new()));
            }
            if msg.contains("duplicate key")
                || msg.contains("too many operations")
                || msg.contains("request is too large")
                || msg.contains("future revision")
            {
                return StoreError::InvalidArgument(format!("{context}: etcd says {msg}"));
            }
            match status.code() {
                tonic::Code::Unavailable
                | tonic::Code::DeadlineExceeded
                | tonic::Code::Cancelled
                | tonic::Code::Aborted => StoreError::Unavailable(format!("{context}: {msg}")),
                tonic::Code::Unknown if is_connection_error(&msg) => {
                    StoreError::Unavailable(format!("{context}: {msg}"))
                }
                code => StoreError::Backend(format!("{context}: etcd error {code:?}: {msg}")),
            }
        }
        E::TransportError(t) => StoreError::Unavailable(format!("{context}: {t}")),
        E::IoError(io) => StoreError::Unavailable(format!("{context}: {io}")),
        E::LeaseKeepAliveError(m) if m.contains("not found") => {
            StoreError::LeaseNotFound(LeaseId(String::new()))
        }
        E::WatchError(m) | E::LeaseKeepAliveError(m) => {
            StoreError::Unavailable(format!("{context}: {m}"))
        }
        E::InvalidArgs(m) => StoreError::InvalidArgument(format!("{context}: {m}")),
        other => StoreError::Backend(format!("{context}: {other}")),
    }
}

/// Whether a request failed before any member could have received it (the
/// connection to the chosen member could not be made), so sending it again
/// cannot apply it twice.
pub fn never_delivered(e: &etcd_client::Error) -> bool {
    let text = match e {
        etcd_client::Error::GRpcStatus(status) => status.message().to_ascii_lowercase(),
        etcd_client::Error::TransportError(t) => t.to_string().to_ascii_lowercase(),
        _ => return false,
    };
    text.contains("tcp connect error") || text.contains("connection refused")
}

/// Whether an `Unknown` status message is really a lost connection.
fn is_connection_error(msg: &str) -> bool {
    let m = msg.to_ascii_lowercase();
    m.contains("transport")
        || m.contains("connection")
        || m.contains("broken pipe")
        || m.contains("leader")
        || m.contains("timed out")
}

/// Fills in the lease of a [`StoreError::LeaseNotFound`] from [`error`].
pub fn with_lease(e: StoreError, id: &LeaseId) -> StoreError {
    match e {
        StoreError::LeaseNotFound(_) => StoreError::LeaseNotFound(id.clone()),
        other => other,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn prefix_ranges() {
        assert_eq!(prefix_end(b"/a"), b"/b".to_vec());
        assert_eq!(prefix_end(b"/a\xff"), b"/b".to_vec());
        assert_eq!(prefix_end(b"\xff\xff"), vec![0]);
        assert_eq!(prefix_end(b""), vec![0]);
        assert_eq!(prefix_start(""), vec![0]);
        // "ü" is C3 BC: the range ends at C3 BD.
        assert_eq!(prefix_end("/ü".as_bytes()), b"/\xc3\xbd".to_vec());
    }

    #[test]
    fn lease_ids() {
        assert_eq!(lease_num(&LeaseId("42".into())).unwrap(), 42);
        assert!(lease_num(&LeaseId("0".into())).is_err());
        assert!(lease_num(&LeaseId("-3".into())).is_err());
        assert!(lease_num(&LeaseId("x".into())).is_err());
        assert_eq!(lease_id(0), None);
        assert_eq!(lease_id(7), Some(LeaseId("7".into())));
    }
}
