//! # contiv-examples
//!
//! Small programs that embed contiv-rs crates directly; each is a binary in
//! `src/bin/` that compiles and runs in CI (`tests/` runs every one and
//! checks what it reports):
//!
//! | example | shows |
//! |---|---|
//! | `embedded-store-tour` | the embedded store: typed objects, revisions, watch, CAS |
//! | `policy-oracle` | compile an intent with `contiv-policy`; ask the oracle why a packet is allowed or denied |
//! | `ping-deny` | drive a real datapath (OVS with `contiv-dp-ovs`, or tc/eBPF with `contiv-dp-ebpf`) with `contiv-policy`: two namespaces ping, a deny rule stops them (root) |
//! | `embedded-control-plane` | netmaster (embedded store) and a netplugin agent in one process |
//! | [`toy_datapath`] | a `Datapath` of your own, run through the public conformance suite |
//! | `ipam-own-store` | `contiv-ipam` allocating on a `StateStore` of your own |

pub mod toy_datapath;
