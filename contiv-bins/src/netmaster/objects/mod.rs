//! Per-object behaviour on create, update and delete: the original's
//! checks (references, overlaps, name clashes, refused updates, delete
//! guards) with its user-facing messages, plus allocation.
//!
//! Each behaviour reads the cache, stages allocator changes and derived
//! records into the caller's [`AllocTxn`], and adds `Check` preconditions on
//! the objects it relies on, so the single commit fails (and is retried or
//! reported) if any of them changed meanwhile.

mod endpoint_group;
mod global;
mod network;
mod policy;
mod simple;
mod tenant;

use super::cache::ClusterView;
use super::{ApiError, ApiResult, Netmaster};
use async_trait::async_trait;
use contiv_core::model::ModelObject;
use contiv_core::store::{Precondition, TxnOp};
use contiv_ipam::AllocTxn;
use serde_json::Value;
use std::collections::BTreeMap;

/// Behaviour of one model type.
#[async_trait]
pub(crate) trait Handler: ModelObject + PartialEq {
    /// The cached objects of this type, by key.
    fn map(view: &ClusterView) -> &BTreeMap<String, Self>;

    /// Checks and stages the creation of `obj`.
    async fn create(nm: &Netmaster, obj: &Self, tx: &mut AllocTxn) -> ApiResult<()>;

    /// Checks and stages an update from `old` to `new` (they differ).
    async fn update(nm: &Netmaster, old: &Self, new: &Self, tx: &mut AllocTxn) -> ApiResult<()>;

    /// Checks and stages the deletion of `obj`.
    async fn delete(nm: &Netmaster, obj: &Self, tx: &mut AllocTxn) -> ApiResult<()>;

    /// The `Oper` part of `inspect`, if the type has one.
    async fn oper(_nm: &Netmaster, _obj: &Self) -> ApiResult<Option<Value>> {
        Ok(None)
    }
}

impl Netmaster {
    /// Adds a precondition that the object `ty/key` still exists unchanged.
    pub(crate) fn require(&self, tx: &mut AllocTxn, ty: &str, key: &str) {
        let full = self.keys.object(ty, key);
        let precondition = self.unchanged(&full);
        tx.push(TxnOp::Check {
            key: full,
            precondition,
        });
    }

    /// Puts a derived (oper) record as JSON.
    pub(crate) fn put_oper<T: serde::Serialize>(
        &self,
        tx: &mut AllocTxn,
        ty: &str,
        key: &str,
        value: &T,
    ) -> ApiResult<()> {
        let full = self.keys.oper(ty, key);
        let bytes = serde_json::to_vec(value)
            .map_err(|e| ApiError::internal(format!("cannot encode {ty} state: {e}")))?;
        let precondition = self.unchanged(&full);
        tx.push(TxnOp::Put {
            key: full,
            value: bytes,
            precondition,
            lease: None,
        });
        Ok(())
    }

    /// Deletes a derived (oper) record.
    pub(crate) fn delete_oper(&self, tx: &mut AllocTxn, ty: &str, key: &str) {
        let full = self.keys.oper(ty, key);
        tx.push(TxnOp::Delete {
            key: full,
            precondition: Precondition::Any,
        });
    }
}

/// The "refused update" error, unless `old` and `new` are the same.
pub(crate) fn refuse_update(msg: &str) -> ApiError {
    ApiError::conflict(msg)
}
