//! # contiv-bins
//!
//! Assembly of the contiv-rs daemons and tools from the library crates:
//! `netmaster` (intent REST API, allocation, leader election), `netplugin`
//! (host agent: CNI and Docker CNM, drives a datapath), `netctl` (CLI),
//! the `contiv-cni` plugin and `contiv-store` (store migration). The binaries in `src/bin/` only parse flags and
//! call into this library.

pub mod api;
pub mod cni;
pub mod daemon;
pub mod dns;
pub mod netctl;
pub mod netmaster;
pub mod netplugin;
pub mod storetool;
pub mod tls;
