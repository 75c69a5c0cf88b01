//! Shared test support.
#![allow(dead_code)]
pub mod fixture;
pub mod papi;
pub mod vpp_acl;
pub mod vpp_npol;
