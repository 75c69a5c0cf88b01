//! Our transactions as etcd `Txn`s.
//!
//! * compares: `Absent` → `create_revision == 0`; `ModRevision(r)` →
//!   `mod_revision == r` (plus `version > 0` when `r == 0`, which etcd would
//!   otherwise accept for a missing key);
//! * success branch: the puts and deletes in order (checks need no op);
//! * failure branch: a keys-only `Range` of every key, so the first failing
//!   precondition can be found in the same snapshot that failed.

use super::convert::{etcd_rev, lease_num, rev};
use crate::contract::{conflict, precondition_holds};
use contiv_core::store::{OpOutcome, Precondition, StoreError, TxnOp};
use etcd_client::{
    Compare, CompareOp, GetOptions, PutOptions as EtcdPut, Txn, TxnOp as EtcdOp, TxnOpResponse,
};

/// Builds the etcd transaction for `ops` (already validated).
pub fn build(ops: &[TxnOp]) -> Result<Txn, StoreError> {
    let mut compares = Vec::new();
    let mut success = Vec::new();
    let mut failure = Vec::new();
    for op in ops {
        let key = op.key().as_bytes().to_vec();
        match op.precondition() {
            Precondition::Any => {}
            Precondition::Absent => {
                compares.push(Compare::create_revision(key.clone(), CompareOp::Equal, 0));
            }
            Precondition::ModRevision(r) => {
                compares.push(Compare::mod_revision(
                    key.clone(),
                    CompareOp::Equal,
                    etcd_rev(*r)?,
                ));
                if *r == 0 {
                    compares.push(Compare::version(key.clone(), CompareOp::Greater, 0));
                }
            }
        }
        failure.push(EtcdOp::get(
            key.clone(),
            Some(GetOptions::new().with_keys_only()),
        ));
        match op {
            TxnOp::Put { value, lease, .. } => {
                let opts = match lease {
                    Some(id) => Some(EtcdPut::new().with_lease(lease_num(id)?)),
                    None => None,
                };
                success.push(EtcdOp::put(key, value.clone(), opts));
            }
            TxnOp::Delete { .. } => success.push(EtcdOp::delete(key, None)),
            TxnOp::Check { .. } => {}
        }
    }
    Ok(Txn::new().when(compares).and_then(success).or_else(failure))
}

/// The outcome of each op from the success branch's responses.
pub fn outcomes(ops: &[TxnOp], responses: &[TxnOpResponse]) -> Result<Vec<OpOutcome>, StoreError> {
    let mut responses = responses.iter();
    let mut out = Vec::with_capacity(ops.len());
    for op in ops {
        let outcome = match op {
            TxnOp::Check { .. } => OpOutcome::Checked,
            TxnOp::Put { .. } => match responses.next() {
                Some(TxnOpResponse::Put(_)) => OpOutcome::Written,
                other => return Err(unexpected(other)),
            },
            TxnOp::Delete { .. } => match responses.next() {
                Some(TxnOpResponse::Delete(d)) if d.deleted() > 0 => OpOutcome::Deleted,
                Some(TxnOpResponse::Delete(_)) => OpOutcome::Absent,
                other => return Err(unexpected(other)),
            },
        };
        out.push(outcome);
    }
    Ok(out)
}

fn unexpected(resp: Option<&TxnOpResponse>) -> StoreError {
    StoreError::Backend(format!(
        "etcd txn returned an unexpected response: {:?}",
        resp.map(|r| match r {
            TxnOpResponse::Put(_) => "put",
            TxnOpResponse::Get(_) => "range",
            TxnOpResponse::Delete(_) => "delete",
            TxnOpResponse::Txn(_) => "txn",
        })
    ))
}

/// The conflict error naming the first op whose precondition fails in the
/// failure branch's snapshot.
pub fn failure(ops: &[TxnOp], responses: &[TxnOpResponse]) -> StoreError {
    for (op, resp) in ops.iter().zip(responses) {
        let current = match resp {
            TxnOpResponse::Get(g) => g.kvs().first().map(|kv| rev(kv.mod_revision())),
            _ => continue,
        };
        if !precondition_holds(op.precondition(), current) {
            return conflict(op.key());
        }
    }
    // Every precondition holds in the snapshot yet etcd reported a failed
    // compare: name the first conditional op (cannot happen with etcd's
    // serializable txns, but never invent success).
    let key = ops
        .iter()
        .find(|op| *op.precondition() != Precondition::Any)
        .map_or("", |op| op.key());
    conflict(key)
}
