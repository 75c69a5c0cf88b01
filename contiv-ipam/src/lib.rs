//! # contiv-ipam
//!
//! Allocators that never hand out a duplicate or leak: IPv4 and IPv6
//! addresses per network (with EPG ip-pools), VLAN ids, VXLAN VNIs (with the
//! host-local VLAN each VNI uses inside OVS), EPG ids and tenant ids. State
//! lives in a [`contiv_core::store::StateStore`] in a compact binary
//! encoding and every change is a conditional write.
//!
//! ## Layer 1: pure, synchronous pools
//!
//! | type | what | structure |
//! |---|---|---|
//! | [`Ipv4Pool`] | addresses of one network or EPG ip-pool | word bitmap over the assignable window, lowest-free via `trailing_zeros` and a "first possibly free word" hint |
//! | [`Ipv6Pool`] | addresses of one IPv6 network | interval set of allocated host ids (a `/64` never materialises 2^64 bits) |
//! | [`IdPool`] | VLAN, VNI, local VLAN, EPG id, tenant id | word bitmap over the span of its ranges |
//! | [`VxlanPool`] | VNI + local VLAN pairs | two [`IdPool`]s and the pairing |
//!
//! Shared rules:
//!
//! * **Lowest free first.** The first endpoint of `10.1.1.0/24` gets
//!   `10.1.1.1`; a released value is handed out again before any higher one.
//! * **Requested values are checked**, never blindly marked (the original
//!   set the bit of a preferred IP without looking): outside the pool →
//!   [`IpamError::OutOfRange`], taken → [`IpamError::AlreadyTaken`] naming
//!   the holder (allocation, gateway, EPG pool).
//! * **Reserved addresses**: the network and broadcast addresses are never
//!   in the window; the gateway is taken at creation; a subnet range
//!   `a-b/len` narrows the window. `/31` and `/32` are refused up front
//!   (the original accepted a `/31` that could never allocate).
//! * **EPG ip-pools** are carved out of the network
//!   ([`Ipv4Pool::reserve_group_pool`]: every address must be free; they
//!   become taken in the network) and allocated from their own pool
//!   ([`Ipv4Pool::new_group`]); [`Ipv4Pool::release_group_pool`] gives them
//!   back.
//! * **Range changes** ([`IdPool::set_ranges`],
//!   [`VxlanPool::set_vni_ranges`]) keep every id in use and refuse a range
//!   that would orphan one — every id is checked, not just the minimum and
//!   maximum as in the original.
//! * **Summaries** use the original's format: [`Ipv4Pool::allocated_summary`]
//!   (`10.1.1.1-10.1.1.3, 10.1.1.254`, gateway and carved pools included as
//!   the original did), [`IdPool::summary`] (`1-3, 10`).
//! * **Errors** are [`IpamError`] variants with messages that name the value
//!   and the pool; exhaustion keeps the original's text
//!   (`auto allocation failed - address exhaustion in subnet 10.1.1.0/24`).
//!
//! [`spec`] parses what pools are built from (`10.1.1.10-10.1.1.20/24`,
//! EPG `ipPool`s, global `vlans`/`vxlans` ranges) with the original's rules.
//!
//! ## Encoding
//!
//! [`codec`] describes the binary format: a version byte, a state tag, then
//! varints; allocated values are stored as runs (gap, length), so a `/16`
//! with 60 000 addresses in use or a `/8` with a million encodes in a few
//! bytes (the raw `/8` bitmap would be 2 MiB, over etcd's request limit).
//! Decoding rejects garbage with a typed error and never panics. The worst
//! case (every other address in use) costs about two bytes per allocated
//! address.
//!
//! ## Layer 2: persisted allocators
//!
//! [`Ipam`] keeps each pool under
//! [`Keys::alloc(kind, scope)`](contiv_core::store::keys::Keys::alloc); see
//! the [`persist`] module for the commit protocol (cached state +
//! `ModRevision` precondition, one round trip when uncontended, bounded
//! retry on conflict, an async mutex per scope, and [`AllocTxn`] to commit
//! "allocate address + write endpoint record" atomically).

mod bitmap;
pub mod codec;
mod error;
mod ids;
mod intervals;
mod ipv4;
mod ipv6;
pub mod persist;
pub mod spec;
mod state;
pub mod summary;
mod vxlan;

pub use error::{DecodeError, Holder, IpamError, IpamResult, Resource};
pub use ids::IdPool;
pub use ipv4::Ipv4Pool;
pub use ipv6::Ipv6Pool;
pub use persist::{AllocTxn, Ipam, Pool, RetryPolicy, TxnFuture};
pub use spec::{IdRanges, Ipv4Range, Ipv4Spec};
pub use state::AllocState;
pub use vxlan::{LOCAL_VLAN_RANGE, VxlanPool};
