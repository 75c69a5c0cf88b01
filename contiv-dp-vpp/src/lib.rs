//! # contiv-dp-vpp
//!
//! The VPP datapath (see the crate README).

pub mod api;
pub mod client;
pub mod datapath;
pub mod errno;
#[cfg(feature = "testing")]
pub mod testing;
pub mod wire;
