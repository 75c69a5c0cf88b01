//! Rules of the contract every backend applies the same way: transaction
//! validation (size, duplicate writes, empty keys), precondition evaluation
//! against a key's current modification revision, and the first revision a
//! watch asks for.

use contiv_core::store::{MAX_TXN_OPS, Precondition, Revision, StoreError, StoreResult, TxnOp};
use std::collections::HashSet;

/// Checks the shape of a transaction: at most [`MAX_TXN_OPS`] operations,
/// no empty key, and no key written (put or delete) twice.
///
/// Checks may share a key with a write: every precondition is evaluated
/// against the state before the transaction, so that is well defined.
pub fn validate_ops(ops: &[TxnOp]) -> StoreResult<()> {
    if ops.len() > MAX_TXN_OPS {
        return Err(StoreError::InvalidArgument(format!(
            "transaction has {} operations; at most {MAX_TXN_OPS} are allowed, split it",
            ops.len()
        )));
    }
    let mut written: HashSet<&str> = HashSet::with_capacity(ops.len());
    for op in ops {
        if op.key().is_empty() {
            return Err(StoreError::InvalidArgument(
                "transaction operation with an empty key".to_owned(),
            ));
        }
        if matches!(op, TxnOp::Check { .. }) {
            continue;
        }
        if !written.insert(op.key()) {
            return Err(StoreError::InvalidArgument(format!(
                "key {:?} is written twice in one transaction",
                op.key()
            )));
        }
    }
    Ok(())
}

/// Whether `precondition` holds for a key whose last write happened at
/// `current` (`None` if the key does not exist).
pub fn precondition_holds(precondition: &Precondition, current: Option<Revision>) -> bool {
    match precondition {
        Precondition::Any => true,
        Precondition::Absent => current.is_none(),
        Precondition::ModRevision(want) => current == Some(*want),
    }
}

/// The normalised first revision a watch `from` asks for (`Some(0)` means
/// "from the beginning", i.e. revision 1).
pub fn first_wanted(from: Revision) -> Revision {
    from.max(1)
}

/// The leases the puts of a transaction bind keys to (for the backends
/// whose leases live in a server).
#[cfg(any(feature = "etcd", feature = "consul"))]
pub fn leases_of(ops: &[TxnOp]) -> std::collections::BTreeSet<&contiv_core::store::LeaseId> {
    ops.iter()
        .filter_map(|op| match op {
            TxnOp::Put { lease, .. } => lease.as_ref(),
            _ => None,
        })
        .collect()
}

/// The error for a failed precondition on `key`.
pub fn conflict(key: &str) -> StoreError {
    StoreError::PreconditionFailed {
        key: key.to_owned(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn preconditions() {
        assert!(precondition_holds(&Precondition::Any, None));
        assert!(precondition_holds(&Precondition::Any, Some(3)));
        assert!(precondition_holds(&Precondition::Absent, None));
        assert!(!precondition_holds(&Precondition::Absent, Some(3)));
        assert!(precondition_holds(&Precondition::ModRevision(3), Some(3)));
        assert!(!precondition_holds(&Precondition::ModRevision(3), Some(4)));
        assert!(!precondition_holds(&Precondition::ModRevision(3), None));
        assert!(!precondition_holds(&Precondition::ModRevision(0), None));
    }

    #[test]
    fn validation() {
        let too_many: Vec<TxnOp> = (0..=MAX_TXN_OPS)
            .map(|i| TxnOp::put(format!("/k{i}"), vec![]))
            .collect();
        assert!(matches!(
            validate_ops(&too_many),
            Err(StoreError::InvalidArgument(_))
        ));
        assert!(validate_ops(&too_many[..MAX_TXN_OPS]).is_ok());
        let dup = vec![TxnOp::put("/a", vec![]), TxnOp::delete("/a")];
        assert!(
            matches!(validate_ops(&dup), Err(StoreError::InvalidArgument(m)) if m.contains("/a"))
        );
        let check_and_put = vec![
            TxnOp::Check {
                key: "/a".into(),
                precondition: Precondition::Absent,
            },
            TxnOp::put("/a", vec![]),
        ];
        assert!(validate_ops(&check_and_put).is_ok());
        assert!(validate_ops(&[TxnOp::put("", vec![])]).is_err());
    }
}
