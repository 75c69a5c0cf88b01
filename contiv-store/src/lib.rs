//! # contiv-store
//!
//! ```
//! use contiv_core::store::{PutOptions, StoreError, StoreExt};
//! use contiv_store::open_store;
//! # tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap().block_on(async {
//! // `embedded:/var/lib/contiv/state.redb`, `etcd://…` and `consul://…` work the same way.
//! let store = open_store("memory:").await.unwrap();
//! let key = "/contiv/v1/obj/tenant/default";
//! let rev = store.put_json(key, &"v1", PutOptions::absent()).await.unwrap();
//!
//! // A compare-and-swap write against a stale revision changes nothing.
//! store.put_json(key, &"v2", PutOptions::at_revision(rev)).await.unwrap();
//! let stale = store.put_json(key, &"v3", PutOptions::at_revision(rev)).await;
//! assert!(matches!(stale, Err(StoreError::PreconditionFailed { .. })));
//! assert_eq!(store.get_json::<String>(key).await.unwrap().unwrap().value, "v2");
//! # });
//! ```
//!
//! Backends of [`contiv_core::store::StateStore`], each behind a cargo
//! feature:
//!
//! | feature | type | what it is |
//! |---|---|---|
//! | `memory` (default) | [`memory::MemoryStore`] | in-process, full semantics, nothing persisted |
//! | `embedded` (default) | [`embedded::EmbeddedStore`] | a durable redb file with group commit; the zero-setup default |
//! | `etcd` | [`etcd::EtcdStore`] | etcd v3 through etcd-client |
//! | `consul` | [`consul::ConsulStore`] | Consul's HTTP API (KV, `/v1/txn`, sessions, blocking queries) with an event log kept in Consul |
//! | `testing` | `testing` | the conformance suite every backend passes, real-etcd fixtures and the wire-faithful Consul test server |
//!
//! Daemons take a `--store` URL and call [`open_store`]:
//! `memory:`, `embedded:/var/lib/contiv/state.redb`,
//! `etcd://10.0.0.1:2379,10.0.0.2:2379` (or `http://…`),
//! `consul://10.0.0.1:8500,10.0.0.2:8500` (`consuls://` for HTTPS).
//! [`copy::copy`] moves a store's keys to another backend (the
//! `contiv-store copy SRC DST` command of contiv-bins).
//!
//! Building the `etcd` feature needs `protoc` and the protobuf well-known
//! types (Debian: `protobuf-compiler libprotobuf-dev`). The crate's own
//! tests always run every backend, against a real `etcd` binary and — no
//! Consul server can be installed here — the wire-faithful Consul test
//! server of the `testing` feature, itself checked with PyPI's `py-consul`.

#[cfg(feature = "consul")]
pub mod consul;
#[cfg(any(
    feature = "memory",
    feature = "embedded",
    feature = "etcd",
    feature = "consul"
))]
mod contract;
pub mod copy;
#[cfg(feature = "embedded")]
pub mod embedded;
#[cfg(feature = "etcd")]
pub mod etcd;
#[cfg(any(feature = "memory", feature = "embedded"))]
mod hub;
#[cfg(feature = "memory")]
pub mod memory;
mod open;
#[cfg(feature = "testing")]
pub mod testing;

pub use open::{StoreUrl, open_store};
