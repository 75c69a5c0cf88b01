//! The REST collections of `/api/v1/` and the generic object flow.
//!
//! Create = update (POST and PUT on `/api/v1/<collection>/<key>/` both
//! upsert, as the original). The flow for every object:
//!
//! 1. decode the body, copy the URL key into `key`, fill defaults,
//!    validate fields (400 on failure);
//! 2. under the model lock, look the key up in the view: absent → the
//!    type's create behaviour, present and identical → nothing to do (an
//!    idempotent re-send answers 200), present and different → the type's
//!    update behaviour (many types refuse updates, as the original did);
//! 3. the behaviour checks references and guards against the cache and
//!    stages allocations, derived records and preconditions in one
//!    transaction, to which the object write is added;
//! 4. commit; if another writer changed an allocator in between, redo
//!    from step 2; then wait until the cache reflects the commit.
//!
//! Concurrent writes go through steps 2–4 together: [`super::writes`]
//! checks each against the view plus the writes before it and commits
//! them as one group.

use super::cache::{Map, values};
use super::objects::Handler;
use super::{ApiError, ApiResult, Netmaster};
use bytes::Bytes;
use contiv_core::model::{
    AciGw, AppProfile, Bgp, EndpointGroup, ExtContractsGroup, Global, ModelObject, Netprofile,
    Network, Policy, Rule, ServiceLB, Tenant,
};
use serde_json::Value;

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

/// Encodes a response body straight to JSON bytes.
fn to_body<T: serde::Serialize + ?Sized>(v: &T) -> ApiResult<Bytes> {
    let mut out = Vec::with_capacity(4096);
    serde_json::to_writer(&mut out, v)
        .map_err(|e| ApiError::internal(format!("cannot encode response: {e}")))?;
    Ok(Bytes::from(out))
}

/// A JSON array of the values of a map, encoded as it is iterated.
struct Values<'a, T>(&'a Map<T>);

impl<T: serde::Serialize> serde::Serialize for Values<'_, T> {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.collect_seq(values(self.0))
    }
}

fn not_found(type_name: &str) -> ApiError {
    ApiError::not_found(format!("{type_name} not found"))
}

impl Netmaster {
    /// `GET /api/v1/<c>/`: every object of the collection, sorted by key,
    /// as the JSON body. Encoded straight from the cache's snapshot (no
    /// intermediate tree, no lock held while encoding).
    pub fn list(&self, coll: Collection) -> ApiResult<Bytes> {
        dispatch!(coll, T => {
            let view = self.cache.read();
            let mut out = Vec::with_capacity(256 * T::map(&view).len() + 2);
            serde_json::to_writer(&mut out, &Values(T::map(&view)))
                .map_err(|e| ApiError::internal(format!("cannot encode response: {e}")))?;
            Ok(Bytes::from(out))
        })
    }

    /// `GET /api/v1/<c>/<key>/`, as the JSON body.
    pub fn get(&self, coll: Collection, key: &str) -> ApiResult<Bytes> {
        dispatch!(coll, T => {
            let view = self.cache.read();
            match T::map(&view).get(key) {
                Some(o) => to_body(&**o),
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
            let obj = T::map(&self.cache.read()).get(key).cloned();
            let Some(obj) = obj else {
                return Err(not_found(T::TYPE));
            };
            let oper = T::oper(self, &obj).await?;
            let mut out = serde_json::Map::new();
            out.insert("Config".into(), to_value(&*obj)?);
            if let Some(oper) = oper {
                out.insert("Oper".into(), oper);
            }
            Ok(Value::Object(out))
        })
    }

    /// Creates or updates one object (the generic flow of the module
    /// docs; committed in a group with concurrent writes, see
    /// [`super::writes`]).
    pub(crate) async fn upsert_object<T: Handler + Send + Sync + 'static>(
        &self,
        mut obj: T,
    ) -> ApiResult<T> {
        obj.apply_defaults();
        obj.validate()?;
        self.write_upsert(obj).await
    }

    /// Deletes one object after its type's guards pass.
    pub(crate) async fn delete_object<T: Handler + Send + Sync + 'static>(
        &self,
        key: &str,
    ) -> ApiResult<()> {
        self.write_delete::<T>(key).await
    }

    /// A JSON error for a collection path that does not exist.
    pub fn unknown_collection(path: &str) -> ApiError {
        ApiError::not_found(format!(
            "unknown collection {path:?}; known: {}",
            Collection::ALL.map(|c| c.path()).join(", ")
        ))
    }
}
