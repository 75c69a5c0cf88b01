//! The reference evaluator (the oracle): the verdict of a packet computed
//! straight from a [`PolicyIr`](contiv_core::ir::PolicyIr), with the stage
//! and rule that decided it.
//!
//! Every datapath is differentially tested against it, and it is the engine
//! of "why was this packet dropped": [`Verdict`]'s `Display` is a one-line
//! explanation, and its fields name the deciding stage and the rule's
//! origin (policy, rule id, group).

mod eval;
mod packet;
mod verdict;

pub use eval::evaluate;
pub use packet::{ConnState, Packet, PacketEnd};
pub use verdict::{Cause, DecidingRule, Stage, StageVerdict, Verdict};
