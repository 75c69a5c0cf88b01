//! Per-object behaviour on create, update and delete: the original's
//! checks (references, overlaps, name clashes, refused updates, delete
//! guards) with its user-facing messages, plus allocation.
//!
//! Each behaviour reads the view of its [`Stage`] (the cache plus the
//! writes staged before it in the same group commit), stages allocator
//! changes and derived records into the stage's [`AllocTxn`], and adds
//! `Check` preconditions on the objects it relies on, so the commit fails
//! (and is retried or reported) if any of them changed meanwhile.

mod endpoint_group;
mod global;
mod network;
mod policy;
mod simple;
mod tenant;

use super::cache::{ClusterView, Map};
use super::{ApiError, ApiResult, ErrorKind, Netmaster};
use async_trait::async_trait;
use contiv_core::model::{ModelObject, Tenant};
use contiv_core::store::{Precondition, TxnOp};
use contiv_ipam::AllocTxn;
use serde_json::Value;
use std::sync::Arc;

/// Where a change is checked and staged: the view it is checked against
/// (the cache, plus the changes staged before it in the same group
/// commit — see [`super::collections`]) and the transaction it goes into.
pub(crate) struct Stage<'a> {
    /// The service.
    pub nm: &'a Netmaster,
    /// The view checks run against.
    pub view: Arc<ClusterView>,
    /// The transaction being built.
    pub tx: AllocTxn,
}

impl Stage<'_> {
    /// A precondition that the full store key still has the revision the
    /// view holds (or is absent if the view has no such key).
    pub fn unchanged(&self, full_key: &str) -> Precondition {
        match self.view.rev(full_key) {
            Some(r) => Precondition::ModRevision(r),
            None => Precondition::Absent,
        }
    }

    /// Adds a precondition that the object `ty/key` still exists unchanged.
    pub fn require(&mut self, ty: &str, key: &str) {
        let full = self.nm.keys.object(ty, key);
        let precondition = self.unchanged(&full);
        self.tx.push(TxnOp::Check {
            key: full,
            precondition,
        });
    }

    /// Puts a derived (oper) record as JSON.
    pub fn put_oper<T: serde::Serialize>(
        &mut self,
        ty: &str,
        key: &str,
        value: &T,
    ) -> ApiResult<()> {
        let full = self.nm.keys.oper(ty, key);
        let bytes = serde_json::to_vec(value)
            .map_err(|e| ApiError::internal(format!("cannot encode {ty} state: {e}")))?;
        let precondition = self.unchanged(&full);
        self.tx.push(TxnOp::Put {
            key: full,
            value: bytes,
            precondition,
            lease: None,
        });
        Ok(())
    }

    /// Deletes a derived (oper) record.
    pub fn delete_oper(&mut self, ty: &str, key: &str) {
        let full = self.nm.keys.oper(ty, key);
        self.tx.push(TxnOp::Delete {
            key: full,
            precondition: Precondition::Any,
        });
    }
}

/// Behaviour of one model type.
#[async_trait]
pub(crate) trait Handler: ModelObject + PartialEq {
    /// The cached objects of this type, by key.
    fn map(view: &ClusterView) -> &Map<Self>;

    /// Checks and stages the creation of `obj`.
    async fn create(s: &mut Stage<'_>, obj: &Self) -> ApiResult<()>;

    /// Checks and stages an update from `old` to `new` (they differ). By
    /// default nothing beyond the new object itself is written.
    async fn update(_s: &mut Stage<'_>, _old: &Self, _new: &Self) -> ApiResult<()> {
        Ok(())
    }

    /// Checks and stages the deletion of `obj`. By default nothing guards
    /// it and nothing derived is removed.
    async fn delete(_s: &mut Stage<'_>, _obj: &Self) -> ApiResult<()> {
        Ok(())
    }

    /// The `Oper` part of `inspect`, if the type has one.
    async fn oper(_nm: &Netmaster, _obj: &Self) -> ApiResult<Option<Value>> {
        Ok(None)
    }
}

/// Checks that `tenant` is named and exists, and makes the transaction
/// depend on it staying unchanged.
pub(super) fn require_tenant(s: &mut Stage<'_>, tenant: &str) -> ApiResult<()> {
    if tenant.is_empty() {
        return Err(ApiError::invalid("Invalid tenant name"));
    }
    if !s.view.tenants.contains_key(tenant) {
        return Err(ApiError::not_found(format!("Tenant {tenant} not found")));
    }
    s.require(Tenant::TYPE, tenant);
    Ok(())
}

/// The original's message for a missing tenant where it names none (its
/// netprofile and policy handlers).
pub(super) fn unnamed_tenant(e: ApiError) -> ApiError {
    if e.kind == ErrorKind::NotFound {
        ApiError::not_found("Tenant not found")
    } else {
        e
    }
}

/// The "refused update" error, unless `old` and `new` are the same.
pub(crate) fn refuse_update(msg: &str) -> ApiError {
    ApiError::conflict(msg)
}
