//! Errors of the policy compiler.
//!
//! Every update the [`Compiler`](crate::Compiler) refuses leaves it exactly
//! as it was (no partial change, no delta), so a caller can report the error
//! and carry on.

use contiv_core::ir::{EpgId, RuleId, TenantId};
use std::net::IpAddr;

/// Why the compiler refused an input.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum PolicyError {
    /// A rule cannot be compiled (bad field value or field combination).
    #[error("rule {rule}: {reason}")]
    InvalidRule {
        /// The rule key (`tenant:policy:ruleId`).
        rule: String,
        /// What is wrong and how to fix it.
        reason: String,
    },
    /// A network's subnets cannot be parsed.
    #[error("network {network}: {reason}")]
    InvalidNetwork {
        /// The network key (`tenant:network`).
        network: String,
        /// What is wrong and how to fix it.
        reason: String,
    },
    /// An endpoint group is malformed (names, id range).
    #[error("endpoint group {epg}: {reason}")]
    InvalidEpg {
        /// The group key (`tenant:group`).
        epg: String,
        /// What is wrong and how to fix it.
        reason: String,
    },
    /// An endpoint is malformed (names, group of another tenant).
    #[error("endpoint {endpoint}: {reason}")]
    InvalidEndpoint {
        /// The endpoint id.
        endpoint: String,
        /// What is wrong and how to fix it.
        reason: String,
    },
    /// A tenant name is malformed.
    #[error("tenant {tenant:?}: {reason}")]
    InvalidTenant {
        /// The tenant name.
        tenant: String,
        /// What is wrong and how to fix it.
        reason: String,
    },
    /// Two tenants were given the same id.
    #[error(
        "tenant id {id} is already used by tenant {owner}; remove or renumber {owner} before giving the id to {tenant}"
    )]
    TenantIdInUse {
        /// The contested id.
        id: TenantId,
        /// The tenant that asked for it.
        tenant: String,
        /// The tenant that has it.
        owner: String,
    },
    /// Two endpoint groups were given the same id.
    #[error(
        "endpoint group id {id} is already used by {owner}; remove or renumber {owner} before giving the id to {epg}"
    )]
    EpgIdInUse {
        /// The contested id.
        id: EpgId,
        /// The group that asked for it.
        epg: String,
        /// The group that has it.
        owner: String,
    },
    /// Two endpoints of one tenant claim the same address.
    #[error(
        "address {ip} in tenant {tenant} already belongs to endpoint {owner}; remove {owner} before adding {endpoint}"
    )]
    AddressInUse {
        /// The contested address.
        ip: IpAddr,
        /// The tenant name.
        tenant: String,
        /// The endpoint that asked for it.
        endpoint: String,
        /// The endpoint that has it.
        owner: String,
    },
    /// A policy was attached to or detached from a group the compiler does
    /// not know.
    #[error(
        "endpoint group {epg} does not exist; create it (upsert_epg) before attaching or detaching policies"
    )]
    UnknownEpg {
        /// The group key.
        epg: String,
    },
    /// Two (group, rule) pairs hash to the same [`RuleId`]. Practically
    /// impossible by accident (64-bit hash); refused so that one tenant can
    /// never overwrite another tenant's compiled rule in a datapath.
    #[error(
        "compiled rule id {id} of rule {rule} on group {epg} collides with rule {other_rule} on group {other_epg}; rename one of the rules"
    )]
    RuleIdCollision {
        /// The colliding id.
        id: RuleId,
        /// The group of the refused pair.
        epg: String,
        /// The rule key of the refused pair.
        rule: String,
        /// The group of the pair that holds the id.
        other_epg: String,
        /// The rule key of the pair that holds the id.
        other_rule: String,
    },
}
