//! # contiv-dp-ebpf
//!
//! The tc/BPF datapath: programs on the host side of each veth, written in
//! C and loaded with aya, with maps for endpoints, EPG policy and
//! connection tracking. This crate is filled by a later issue; today it only
//! declares itself.
