//! Typed (serde JSON) helpers over any [`StateStore`].

use super::{KeyValue, PutOptions, Revision, StateStore, StoreError, StoreResult};
use async_trait::async_trait;
use serde::Serialize;
use serde::de::DeserializeOwned;

/// A decoded value together with the key metadata needed for a later
/// conditional write.
#[derive(Clone, Debug, PartialEq)]
pub struct TypedKv<T> {
    /// The full key.
    pub key: String,
    /// The decoded value.
    pub value: T,
    /// Revision of the last write (use it in [`PutOptions::at_revision`]).
    pub mod_revision: Revision,
}

/// Encodes a value as JSON for the store.
pub fn encode_json<T: Serialize + ?Sized>(key: &str, value: &T) -> StoreResult<Vec<u8>> {
    serde_json::to_vec(value).map_err(|e| StoreError::Codec {
        key: key.to_owned(),
        message: e.to_string(),
    })
}

/// Decodes a stored JSON value.
pub fn decode_json<T: DeserializeOwned>(kv: &KeyValue) -> StoreResult<T> {
    serde_json::from_slice(&kv.value).map_err(|e| StoreError::Codec {
        key: kv.key.clone(),
        message: e.to_string(),
    })
}

/// JSON helpers available on every [`StateStore`] (including
/// `dyn StateStore`).
#[async_trait]
pub trait StoreExt: StateStore {
    /// Reads and decodes one key.
    async fn get_json<T: DeserializeOwned + Send>(
        &self,
        key: &str,
    ) -> StoreResult<Option<TypedKv<T>>> {
        match self.get(key).await? {
            None => Ok(None),
            Some(kv) => Ok(Some(TypedKv {
                value: decode_json(&kv)?,
                mod_revision: kv.mod_revision,
                key: kv.key,
            })),
        }
    }

    /// Encodes and writes one key under the given options.
    async fn put_json<T: Serialize + Sync + ?Sized>(
        &self,
        key: &str,
        value: &T,
        opts: PutOptions,
    ) -> StoreResult<Revision> {
        let bytes = encode_json(key, value)?;
        self.put(key, bytes, opts).await
    }

    /// Lists and decodes every key under `prefix`; returns the values and
    /// the revision of the listing.
    async fn list_json<T: DeserializeOwned + Send>(
        &self,
        prefix: &str,
    ) -> StoreResult<(Vec<TypedKv<T>>, Revision)> {
        let resp = self.list(prefix).await?;
        let mut out = Vec::with_capacity(resp.kvs.len());
        for kv in resp.kvs {
            out.push(TypedKv {
                value: decode_json(&kv)?,
                mod_revision: kv.mod_revision,
                key: kv.key,
            });
        }
        Ok((out, resp.revision))
    }
}

impl<S: StateStore + ?Sized> StoreExt for S {}
