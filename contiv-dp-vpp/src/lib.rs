//! # contiv-dp-vpp
//!
//! The VPP datapath: a client of VPP's binary API over its unix socket
//! (message definitions from FDio/vpp `.api.json`) realising bridge domains,
//! VXLAN tunnels and ACLs. This crate is filled by a later issue; today it
//! only declares itself.
