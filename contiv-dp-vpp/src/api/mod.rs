//! The typed VPP binary API, generated at build time from the `.api.json`
//! files in `contiv-dp-vpp/api/` (VPP's own `vppapigen` output).
//!
//! * [`types`]: every type, enum (a newtype with associated constants, so
//!   values this build does not know still decode), union (raw bytes with
//!   a constructor and accessor per arm) and alias;
//! * one module per API file ([`interface`], [`l2`], [`acl`], [`vxlan`],
//!   [`tapv2`], [`ip`], [`ip_neighbor`], [`cnat`], [`policer`], …) with a
//!   struct per message implementing [`Message`](crate::wire::Message),
//!   and [`Request`](crate::wire::Request) / [`Dump`](crate::wire::Dump)
//!   from the file's `services`;
//! * [`MESSAGES`]: every message's name, CRC and header layout.
//!
//! Header fields (`_vl_msg_id`, a leading `client_index`, `context`) are
//! not struct members: the client fills them. A count field of a
//! `T name[count]` vector is not a member either: it is the vector's
//! length.
//!
//! [`convert`] adds conversions between the API's address types and
//! `std::net` / `ipnet` / [`MacAddr`](contiv_core::datapath::MacAddr).

#[allow(
    clippy::all,
    clippy::pedantic,
    non_camel_case_types,
    non_upper_case_globals,
    unused_mut,
    unused_variables
)]
mod generated {
    include!(concat!(env!("OUT_DIR"), "/vpp_api.rs"));
}

pub mod convert;

pub use generated::*;
