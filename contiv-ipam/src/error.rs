//! The typed errors of every allocator.

use contiv_core::store::StoreError;
use std::fmt;

/// Result alias of this crate.
pub type IpamResult<T> = Result<T, IpamError>;

/// What an allocator hands out; used to word error messages.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Resource {
    /// An IPv4 or IPv6 address.
    Address,
    /// A VLAN id of a VLAN-encap network (global pool).
    Vlan,
    /// A VXLAN network identifier.
    Vxlan,
    /// The host-local VLAN OVS uses for a VXLAN network.
    LocalVlan,
    /// An endpoint-group id.
    EpgId,
    /// A tenant id.
    TenantId,
}

impl Resource {
    /// Singular noun (`"vlan"`).
    pub fn noun(self) -> &'static str {
        match self {
            Resource::Address => "address",
            Resource::Vlan => "vlan",
            Resource::Vxlan => "vxlan",
            Resource::LocalVlan => "local vlan",
            Resource::EpgId => "epg id",
            Resource::TenantId => "tenant id",
        }
    }

    /// Plural noun (`"vlans"`).
    pub fn plural(self) -> &'static str {
        match self {
            Resource::Address => "addresses",
            Resource::Vlan => "vlans",
            Resource::Vxlan => "vxlans",
            Resource::LocalVlan => "local vlans",
            Resource::EpgId => "epg ids",
            Resource::TenantId => "tenant ids",
        }
    }
}

impl fmt::Display for Resource {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.noun())
    }
}

/// Why a value that was asked for is not free.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Holder {
    /// Handed out earlier (to an endpoint, a network, a group…).
    Allocated,
    /// It is the network's gateway.
    Gateway,
    /// It lies in the range reserved for an endpoint-group ip-pool.
    GroupPool(String),
}

impl fmt::Display for Holder {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Holder::Allocated => f.write_str("it is already allocated"),
            Holder::Gateway => f.write_str("it is the network gateway"),
            Holder::GroupPool(p) => write!(f, "it is reserved for the endpoint-group ip-pool {p}"),
        }
    }
}

/// Every way an allocation, release, range change or persisted update can
/// fail. Messages name the value and the pool so a user can act on them.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum IpamError {
    /// No free value is left. For addresses the message is the original
    /// Contiv text (`auto allocation failed - address exhaustion in subnet
    /// 10.1.1.0/24`).
    #[error("{}", exhausted_message(*resource, within))]
    Exhausted {
        /// What ran out.
        resource: Resource,
        /// The subnet, pool or range that is full (`subnet 10.1.1.0/24`,
        /// `pool 10.1.1.10-10.1.1.20`, `range 1-4094`).
        within: String,
    },
    /// A requested value lies outside what the pool may hand out.
    #[error("requested {resource} {value} is out of range: {why}")]
    OutOfRange {
        /// What was asked for.
        resource: Resource,
        /// The value asked for.
        value: String,
        /// Where it should have been (`it is outside the assignable addresses
        /// 10.1.1.1-10.1.1.254 of subnet 10.1.1.0/24`).
        why: String,
    },
    /// A requested value is taken.
    #[error("requested {resource} {value} not available: {holder}")]
    AlreadyTaken {
        /// What was asked for.
        resource: Resource,
        /// The value asked for.
        value: String,
        /// Who holds it.
        holder: Holder,
    },
    /// A value cannot be released (it is the gateway, part of a group pool
    /// reservation, or outside the pool).
    #[error("cannot release {resource} {value}: {why}")]
    NotReleasable {
        /// What was released.
        resource: Resource,
        /// The value.
        value: String,
        /// Why not.
        why: String,
    },
    /// The allocator (or group pool) does not exist.
    #[error("unknown pool {pool}: create it first (or check the network/group name)")]
    UnknownPool {
        /// The pool's name or key.
        pool: String,
    },
    /// An allocator with that key exists already.
    #[error("pool {pool} already exists")]
    PoolExists {
        /// The pool's name or key.
        pool: String,
    },
    /// The pool still has allocations and cannot be removed.
    #[error("pool {pool} still has {count} allocated {what}: release them first")]
    PoolInUse {
        /// The pool's name or key.
        pool: String,
        /// How many values are still handed out.
        count: u64,
        /// What they are (`addresses`, `vlans`).
        what: &'static str,
    },
    /// A subnet, range or pool specification is malformed or unusable.
    #[error("invalid {what} {input:?}: {why}")]
    InvalidSpec {
        /// What was being parsed (`subnet`, `vlan range`, `ip pool`).
        what: &'static str,
        /// The text given.
        input: String,
        /// What is wrong and what is accepted.
        why: String,
    },
    /// A new range would leave values that are in use outside it.
    #[error(
        "cannot change the {resource} range to {range}: {count} {plural} in use would fall outside it ({orphans}); release them or choose a range that covers them",
        plural = resource.plural()
    )]
    RangeOrphans {
        /// The kind of id.
        resource: Resource,
        /// The range that was refused.
        range: String,
        /// How many in-use values are outside it.
        count: u64,
        /// Those values as a summary string (`10, 300-302`).
        orphans: String,
    },
    /// Stored allocator state could not be decoded.
    #[error("allocator state at {key} is corrupt: {why}")]
    Corrupt {
        /// The store key (or `<bytes>` when decoding loose bytes).
        key: String,
        /// What was wrong.
        why: String,
    },
    /// The conditional write kept losing to concurrent writers.
    #[error(
        "allocator state at {key} changed concurrently {attempts} times in a row; giving up (retry later)"
    )]
    Contention {
        /// The contended key.
        key: String,
        /// How many attempts were made.
        attempts: u32,
    },
    /// The store failed (including a precondition failure on a key that is
    /// not allocator state, e.g. the caller's endpoint record).
    #[error(transparent)]
    Store(#[from] StoreError),
}

fn exhausted_message(resource: Resource, within: &str) -> String {
    match resource {
        Resource::Address => format!("auto allocation failed - address exhaustion in {within}"),
        r => format!("no {} available in {within}", r.plural()),
    }
}

impl IpamError {
    /// True for [`IpamError::Exhausted`].
    pub fn is_exhausted(&self) -> bool {
        matches!(self, IpamError::Exhausted { .. })
    }

    pub(crate) fn invalid(what: &'static str, input: &str, why: impl Into<String>) -> Self {
        IpamError::InvalidSpec {
            what,
            input: input.to_owned(),
            why: why.into(),
        }
    }
}

/// A decoding failure of the binary state encoding (see [`crate::codec`]).
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[error("{0}")]
pub struct DecodeError(pub String);

impl DecodeError {
    /// Turns a decode failure into [`IpamError::Corrupt`] naming `key`.
    pub fn at(self, key: &str) -> IpamError {
        IpamError::Corrupt {
            key: key.to_owned(),
            why: self.0,
        }
    }
}

impl From<DecodeError> for IpamError {
    fn from(e: DecodeError) -> Self {
        e.at("<bytes>")
    }
}
