//! # contiv-bins
//!
//! The contiv-rs daemons and tools as a library: `netmaster` (intent REST
//! API, allocation, leader election, watch), `netplugin` (the host agent:
//! CNI and Docker CNM, DNS, BGP, datapath reconciliation), `netctl` (CLI),
//! the `contiv-cni` plugin and `contiv-store` (store migration). The
//! binaries in `src/bin/` only parse flags and call into this library.
//!
//! ## Module map
//!
//! The daemons never import each other; what two of them share lives in a
//! small module of its own.
//!
//! | module | what it holds | feature |
//! |---|---|---|
//! | [`netmaster`] | the control plane: REST handlers, allocation, leader election, the watch stream | `netmaster` |
//! | [`storetool`] | `contiv-store`: copying a state store between backends | `netmaster` |
//! | [`netplugin`] | the host agent: registration, watch follower, desired state, reconciler, CNI socket, Docker CNM, BGP | `netplugin` |
//! | [`dns`] | the built-in DNS the agent serves: name tables, resolution rules, servers | `netplugin` |
//! | [`cni`] | the `contiv-cni` plugin: environment, netconf, results, commands | `cni` |
//! | [`netctl`] | the `netctl` CLI | `netctl` |
//! | [`api`] | netmaster's REST bodies the agent sends and reads (agent API, watch lines) | `daemon` |
//! | [`auth`] | admin and node tokens, who presents them | `daemon` |
//! | [`daemon`] | logging and its format, config files, signals, private directories | `daemon` |
//! | [`tls`] | rustls client and server configs, the HTTPS connector | `daemon` |
//! | [`agent_api`] | the agent's local API: CNI ↔ agent bodies, error kinds, labels, a blocking client | always |
//! | [`duration`] | durations as flags take them (`500ms`, `5s`, `10m`) | always |
//!
//! ## Features
//!
//! All on by default. `netmaster`, `netplugin`, `cni` and `netctl` select
//! the daemons (and their binaries); `daemon` (implied by the first two) is
//! what both daemons share; `ovs`, `ebpf` and `vpp` the datapaths
//! `netplugin --datapath` may choose (each implies `netplugin`; the
//! recording datapath is always there). An embedder that runs only the
//! agent depends on
//!
//! ```toml
//! contiv-bins = { version = "0.1", default-features = false, features = ["netplugin", "ovs"] }
//! ```
//!
//! and compiles no control-plane code (no store, no IPAM); one that runs
//! only the control plane uses `features = ["netmaster"]`, and the CNI
//! plugin alone is `features = ["cni"]`.

pub mod agent_api;
#[cfg(feature = "daemon")]
pub mod api;
#[cfg(feature = "daemon")]
pub mod auth;
#[cfg(feature = "cni")]
pub mod cni;
#[cfg(feature = "daemon")]
pub mod daemon;
#[cfg(feature = "netplugin")]
pub mod dns;
pub mod duration;
#[cfg(feature = "netctl")]
pub mod netctl;
#[cfg(feature = "netmaster")]
pub mod netmaster;
#[cfg(feature = "netplugin")]
pub mod netplugin;
#[cfg(feature = "netmaster")]
pub mod storetool;
#[cfg(feature = "daemon")]
pub mod tls;
