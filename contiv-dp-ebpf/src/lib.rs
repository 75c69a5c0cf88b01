//! # contiv-dp-ebpf
//!
//! The tc/BPF datapath (work in progress).

pub mod abi;
pub mod compile;
pub mod config;
pub mod datapath;
pub mod gc;
pub mod kernel;
pub mod netns;
mod object;
pub mod plumbing;
pub mod sets;
pub mod state;
pub mod stats;
pub mod sync;
pub mod tables;

pub use config::{CtTimeouts, EbpfConfig};
pub use datapath::{EbpfDatapath, EbpfStats, PacketRun};
pub use stats::{Counters, EndpointCounters, RuleCounters};
