//! # contiv-core
//!
//! ```
//! use contiv_core::model::{ModelObject, Network};
//!
//! // A network exactly as `netctl net create` POSTs it to the original API.
//! let body = r#"{"key": "default:contiv-net", "tenantName": "default",
//!     "networkName": "contiv-net", "encap": "vxlan",
//!     "subnet": "10.1.2.0/24", "gateway": "10.1.2.254"}"#;
//! let mut net: Network = serde_json::from_str(body).unwrap();
//! net.apply_defaults();
//! net.validate().unwrap();
//! assert_eq!(net.derived_key(), "default:contiv-net");
//!
//! // Bad input is refused with a message naming the field.
//! net.gateway = "10.9.9.9".into();
//! let err = net.validate().unwrap_err();
//! assert!(err.to_string().contains("gateway"), "{err}");
//! ```
//!
//! The foundation every other contiv-rs crate stands on:
//!
//! * [`model`] — every Contiv object (tenant, network, endpointGroup, policy,
//!   rule, appProfile, netprofile, serviceLB, global, Bgp, extContractsGroup,
//!   aciGw, and the endpoint oper view) with JSON field names identical to the
//!   original REST bodies, key derivation, defaults and validation.
//! * [`store`] — the [`store::StateStore`] trait: a revisioned key-value store
//!   with conditional writes, atomic transactions, resumable watches and
//!   leases (the shape etcd v3 and Consul both support), typed JSON helpers
//!   and the documented key layout.
//! * [`ir`] — the datapath-neutral policy IR (EPG ids, address sets, compiled
//!   rules, membership) and the deltas a datapath consumes.
//! * [`records`] — runtime records netmaster derives (allocated tags and ids,
//!   endpoints, node registrations) that agents consume.
//! * [`datapath`] — the [`datapath::Datapath`] trait: host-local desired state
//!   handed to a backend (OVS, eBPF, VPP) as idempotent operations, plus
//!   `resync`.
//!
//! * `linux` (feature `linux`) — host plumbing every datapath backend and
//!   the agent's DNS endpoint share: network namespaces, veth pairs,
//!   addresses and routes over rtnetlink, the ethtool checksum switch.
//!
//! Without the `linux` feature nothing in this crate performs I/O;
//! backends live in `contiv-store` and `contiv-dp-*`.

pub mod datapath;
pub mod ir;
#[cfg(all(feature = "linux", target_os = "linux"))]
pub mod linux;
pub mod model;
pub mod records;
pub mod store;
