//! # contiv-dp-vpp
//!
//! The VPP datapath of contiv-rs, in layers usable on their own:
//!
//! * [`api`]: every message of VPP's `.api.json` files (copied into the
//!   crate from FDio/vpp), generated at build time — typed structs,
//!   CRCs, request/reply and dump/details pairs;
//! * [`wire`]: the codec (socket frames, message headers, parse/emit);
//! * [`client`]: an async client of VPP's API socket — CRC-checked message
//!   ids, concurrent calls, dumps, events, reconnect;
//! * [`datapath`]: [`datapath::VppDatapath`], the
//!   [`Datapath`](contiv_core::datapath::Datapath) contract realised in VPP
//!   (TAPs, a VRF per tenant, bridge domains with a BVI gateway, a VXLAN
//!   tunnel per peer with static l2fib, VLAN sub-interfaces, stateful
//!   policy in the ACL plugin (default) or the npol plugin, policers, the
//!   contract's services as cnat translations — programmed, not claimed);
//! * `testing` (feature `testing`): a **wire-faithful VPP test server** —
//!   not VPP — that the backend is proven against, since no VPP runs where
//!   this crate is tested; see the crate README for what that does and
//!   does not prove.
//!
//! [`errno`] names VPP's return values.

pub mod api;
pub mod client;
pub mod datapath;
pub mod errno;
#[cfg(feature = "testing")]
pub mod testing;
pub mod wire;
