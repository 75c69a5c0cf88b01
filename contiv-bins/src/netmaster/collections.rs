//! The REST collections of `/api/v1/` and the generic object flow.
//!
//! Create = update (POST and PUT on `/api/v1/<collection>/<key>/` both
//! upsert, as the original). The flow for every object:
//!
//! 1. decode the body, copy the URL key into `key`, fill defaults,
//!    validate fields (400 on failure);
//! 2. under the model lock, look the key up in the cache: absent → the
//!    type's create behaviour, present and identical → nothing to do (an
//!    idempotent re-send answers 200), present and different → the type's
//!    update behaviour (many types refuse updates, as the original did);
//! 3. the behaviour checks references and guards against the cache and
//!    stages allocations, derived records and preconditions in one
//!    transaction, to which the object write is added;
//! 4. commit; if another writer changed an allocator in between, redo
//!    from step 2; then wait until the cache reflects the commit.

use super::objects::Handler;
use super::{ApiError, ApiResult, Netmaster};
use contiv_core::model::{
    AciGw, AppProfile, Bgp, EndpointGroup, ExtContractsGroup, Global, ModelObject, Netprofile,
    Network, Policy, Rule, ServiceLB, Tenant,
};
use contiv_core::store::TxnOp;
use serde_json::Value;
use tracing::info;

/// One REST collection of the original's `/api/v1/`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Collection {
    /// `tenants`
    Tenants,
    /// `networks`
    Networks,
    /// `endpointGroups`
    EndpointGroups,
    /// `policys` (sic)
    Policys,
    /// `rules`
    Rules,
    /// `appProfiles`
    AppProfiles,
    /// `netprofiles`
    Netprofiles,
    /// `serviceLBs`
    ServiceLBs,
    /// `globals`
    Globals,
    /// `Bgps`
    Bgps,
    /// `extContractsGroups`
    ExtContractsGroups,
    /// `aciGws`
    AciGws,
}

impl Collection {
    /// Every collection.
    pub const ALL: [Collection; 12] = [
        Collection::Tenants,
        Collection::Networks,
        Collection::EndpointGroups,
        Collection::Policys,
        Collection::Rules,
        Collection::AppProfiles,
        Collection::Netprofiles,
        Collection::ServiceLBs,
        Collection::Globals,
        Collection::Bgps,
        Collection::ExtContractsGroups,
        Collection::AciGws,
    ];

    /// The path segment (`networks`).
    pub fn path(self) -> &'static str {
        match self {
            Collection::Tenants => Tenant::COLLECTION,
            Collection::Networks => Network::COLLECTION,
            Collection::EndpointGroups => EndpointGroup::COLLECTION,
            Collection::Policys => Policy::COLLECTION,
            Collection::Rules => Rule::COLLECTION,
            Collection::AppProfiles => AppProfile::COLLECTION,
            Collection::Netprofiles => Netprofile::COLLECTION,
            Collection::ServiceLBs => ServiceLB::COLLECTION,
            Collection::Globals => Global::COLLECTION,
            Collection::Bgps => Bgp::COLLECTION,
            Collection::ExtContractsGroups => ExtContractsGroup::COLLECTION,
            Collection::AciGws => AciGw::COLLECTION,
        }
    }

    /// The model type name (`network`).
    pub fn type_name(self) -> &'static str {
        match self {
            Collection::Tenants => Tenant::TYPE,
            Collection::Networks => Network::TYPE,
            Collection::EndpointGroups => EndpointGroup::TYPE,
            Collection::Policys => Policy::TYPE,
            Collection::Rules => Rule::TYPE,
            Collection::AppProfiles => AppProfile::TYPE,
            Collection::Netprofiles => Netprofile::TYPE,
            Collection::ServiceLBs => ServiceLB::TYPE,
            Collection::Globals => Global::TYPE,
            Collection::Bgps => Bgp::TYPE,
            Collection::ExtContractsGroups => ExtContractsGroup::TYPE,
            Collection::AciGws => AciGw::TYPE,
        }
    }

    /// Looks a collection up by its path segment.
    pub fn from_path(p: &str) -> Option<Collection> {
        Collection::ALL.into_iter().find(|c| c.path() == p)
    }
}

macro_rules! dispatch {
    ($coll:expr, $t:ident => $body:expr) => {
        match $coll {
            Collection::Tenants => {
                type $t = Tenant;
                $body
            }
            Collection::Networks => {
                type $t = Network;
                $body
            }
            Collection::EndpointGroups => {
                type $t = EndpointGroup;
                $body
            }
            Collection::Policys => {
                type $t = Policy;
                $body
            }
            Collection::Rules => {
                type $t = Rule;
                $body
            }
            Collection::AppProfiles => {
                type $t = AppProfile;
                $body
            }
            Collection::Netprofiles => {
                type $t = Netprofile;
                $body
            }
            Collection::ServiceLBs => {
                type $t = ServiceLB;
                $body
            }
            Collection::Globals => {
                type $t = Global;
                $body
            }
            Collection::Bgps => {
                type $t = Bgp;
                $body
            }
            Collection::ExtContractsGroups => {
                type $t = ExtContractsGroup;
                $body
            }
            Collection::AciGws => {
                type $t = AciGw;
                $body
            }
        }
    };
}

fn to_value<T: serde::Serialize>(v: &T) -> ApiResult<Value> {
    serde_json::to_value(v).map_err(|e| ApiError::internal(format!("cannot encode response: {e}")))
}

fn not_found(type_name: &str) -> ApiError {
    ApiError::not_found(format!("{type_name} not found"))
}

impl Netmaster {
    /// `GET /api/v1/<c>/`: every object of the collection, sorted by key.
    pub fn list(&self, coll: Collection) -> ApiResult<Value> {
        dispatch!(coll, T => {
            let view = self.cache.read();
            let items: Vec<&T> = T::map(&view).values().collect();
            to_value(&items)
        })
    }

    /// `GET /api/v1/<c>/<key>/`.
    pub fn get(&self, coll: Collection, key: &str) -> ApiResult<Value> {
        dispatch!(coll, T => {
            let view = self.cache.read();
            match T::map(&view).get(key) {
                Some(o) => to_value(o),
                None => Err(not_found(T::TYPE)),
            }
        })
    }

    /// `POST|PUT /api/v1/<c>/<key>/`: create or update from a JSON body.
    pub async fn upsert(&self, coll: Collection, key: &str, body: &[u8]) -> ApiResult<Value> {
        dispatch!(coll, T => {
            let mut obj: T = serde_json::from_slice(body).map_err(|e| {
                ApiError::invalid(format!("invalid {} body: {e}", T::TYPE))
            })?;
            obj.set_key(key.to_owned());
            let obj = self.upsert_object(obj).await?;
            to_value(&obj)
        })
    }

    /// `DELETE /api/v1/<c>/<key>/`.
    pub async fn delete(&self, coll: Collection, key: &str) -> ApiResult<()> {
        dispatch!(coll, T => self.delete_object::<T>(key).await)
    }

    /// `GET /api/v1/inspect/<c>/<key>/`: `{"Config": …, "Oper": …}`.
    pub async fn inspect(&self, coll: Collection, key: &str) -> ApiResult<Value> {
        dispatch!(coll, T => {
            let obj = {
                let view = self.cache.read();
                T::map(&view).get(key).cloned()
            };
            let Some(obj) = obj else {
                return Err(not_found(T::TYPE));
            };
            let oper = T::oper(self, &obj).await?;
            let mut out = serde_json::Map::new();
            out.insert("Config".into(), to_value(&obj)?);
            if let Some(oper) = oper {
                out.insert("Oper".into(), oper);
            }
            Ok(Value::Object(out))
        })
    }

    /// Creates or updates one object (the generic flow of the module docs).
    pub(crate) async fn upsert_object<T: Handler>(&self, mut obj: T) -> ApiResult<T> {
        obj.apply_defaults();
        obj.validate()?;
        let _guard = self.model_lock.lock().await;
        let full_key = self.keys.object(T::TYPE, obj.key());
        let value = serde_json::to_vec(&obj)
            .map_err(|e| ApiError::internal(format!("cannot encode {}: {e}", T::TYPE)))?;
        let mut attempt = 1u32;
        loop {
            let old = T::map(&self.cache.read()).get(obj.key()).cloned();
            let mut tx = self.begin()?;
            match &old {
                None => T::create(self, &obj, &mut tx).await?,
                Some(old) if *old == obj => return Ok(obj),
                Some(old) => T::update(self, old, &obj, &mut tx).await?,
            }
            tx.push(TxnOp::Put {
                key: full_key.clone(),
                value: value.clone(),
                precondition: self.unchanged(&full_key),
                lease: None,
            });
            if let Some(rev) = self.commit_or_retry(tx, &mut attempt).await? {
                self.settle(rev).await;
                info!(
                    kind = T::TYPE,
                    key = obj.key(),
                    revision = rev,
                    "{}",
                    if old.is_none() { "created" } else { "updated" }
                );
                return Ok(obj);
            }
        }
    }

    /// Deletes one object after its type's guards pass.
    pub(crate) async fn delete_object<T: Handler>(&self, key: &str) -> ApiResult<()> {
        let _guard = self.model_lock.lock().await;
        let full_key = self.keys.object(T::TYPE, key);
        let mut attempt = 1u32;
        loop {
            let Some(obj) = T::map(&self.cache.read()).get(key).cloned() else {
                return Err(not_found(T::TYPE));
            };
            let mut tx = self.begin()?;
            self.unstage_intents();
            if let Err(e) = T::delete(self, &obj, &mut tx).await {
                self.unstage_intents();
                return Err(e);
            }
            tx.push(TxnOp::Delete {
                key: full_key.clone(),
                precondition: self.unchanged(&full_key),
            });
            let committed = self.commit_or_retry(tx, &mut attempt).await;
            match committed {
                Ok(Some(rev)) => {
                    self.settle(rev).await;
                    info!(kind = T::TYPE, key, revision = rev, "deleted");
                    // A change larger than one transaction: complete it.
                    self.finish_staged_intents().await;
                    return Ok(());
                }
                Ok(None) => self.unstage_intents(),
                Err(e) => {
                    self.unstage_intents();
                    return Err(e);
                }
            }
        }
    }

    /// A JSON error for a collection path that does not exist.
    pub fn unknown_collection(path: &str) -> ApiError {
        ApiError::not_found(format!(
            "unknown collection {path:?}; known: {}",
            Collection::ALL.map(|c| c.path()).join(", ")
        ))
    }
}
