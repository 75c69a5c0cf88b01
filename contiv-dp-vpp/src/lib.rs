//! # contiv-dp-vpp
//!
//! The VPP datapath (see the crate README).

pub mod api;
pub mod wire;
