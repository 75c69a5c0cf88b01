//! The Contiv object model.
//!
//! One module per object; every struct serialises with exactly the JSON
//! field names of the original REST bodies (`contivmodel`), in the same
//! order (`key` first, then alphabetical), omitting empty fields as the
//! original's `omitempty` did. [`ModelObject`] ties each object to its store
//! type name, its REST collection, its key derivation and its validation.
//!
//! Validation ([`validate`]) follows the original's rules field by field —
//! the regexes of `contivmodel/*.json`, the limits of the netmaster
//! (`netutils`) and the semantic checks of `apiController.go` that look at a
//! single object — with the changes below. Objects also have typed
//! accessors (`Network::ipv4_subnet`, `Rule::direction_kind`,
//! `Global::vlan_range`, …) that parse a field exactly as validation does,
//! so a caller never re-parses strings: when `validate()` succeeds, every
//! accessor of that object succeeds.
//!
//! # Deliberate changes
//!
//! | | the original | contiv-rs | why |
//! |---|---|---|---|
//! | (a) | names (the DNS-label regex) reject `_` | `_` is accepted wherever `-` is (inside a label), in every field that used the name rule | the seed documents use a policy named `prod_web` |
//! | (b) | tenant, network and group names may contain dots | tenant, network and endpoint-group names — and every reference to one (`networkName`, `fromNetwork`, `toEndpointGroup`, `defaultNetwork`, app-profile `endpointGroups`, …) — reject dots; tags and other names keep them | internal ids join names with `.` (`<net>.<tenant>`), and Docker network names (`<group>/<tenant>`) and DNS names would become ambiguous (CONTIV.md §9.2.15) |
//! | (c) | `ipv6Subnet` prefix lengths 108, 109, 118 and 119 fail the regex | every length 16..=127 is accepted | a regex typo, not a rule (CONTIV.md §9.2.10) |
//! | (d) | serviceLB `validatePorts` checks only the first port and indexes past the end of an entry with fewer than three parts | every entry is checked: exactly `svc:prov:proto`, ports 1..=65535 (the original accepted any integer), protocol TCP/UDP in any case (the original: `TCP`, `tcp`, `Tcp`, `UDP`, `udp`, `Udp`) | a panic on user input, and mappings the datapath cannot program (CONTIV.md §9.2.5) |
//! | (e) | rule `fromIpAddress`/`toIpAddress` accept `A.B.C.D-N[/len]` | the range form is rejected with a message that suggests a prefix | the datapath parses only `ip` or `ip/len`, so the master stored rules every agent then refused (CONTIV.md §9.2.16) |
//! | (f) | integer fields checked only against their maximum (`pktTag`, `port`, `burst`; DSCP's minimum 0 was never enforced) | negative values are rejected | they have no meaning and wrapped around in the datapath |
//! | (g) | bandwidth regex `[kmgKMG{1}]` after a space also matched `{`, `1` and `}`; huge numbers overflowed silently | only `k`/`m`/`g` units; a number whose kbit/s overflows 64 bits is rejected | the conversion turned those into a 0 (unlimited) rate |
//! | (h) | a gateway equal to the subnet's network or broadcast address was accepted | rejected | it can never be a host's gateway |
//! | (i) | rule `protocol` accepted any 1–3 digit number | 0..=255 | IP protocol numbers are 8 bits |
//! | (j) | `vlans` allowed up to 4095 (`ParseTagRanges`); a VLAN network's `pktTag` was bounded only by the global range | `vlans` ≤ 4094 and a `vlan` network's `pktTag` ≤ 4094 here | 4095 is reserved by 802.1Q (the global-range check stays in netmaster) |
//! | (k) | netprofile `profileName` and a group's `netProfile` had no format rule | the name rule | a `:` or `/` would make the key and the REST URL ambiguous |
//! | (l) | Bgp `as`/`neighbor-as` were free text; `routerip` accepted an `A.B.C.D-N/len` form | AS numbers 1..=4294967295 when set; `routerip` is `A.B.C.D/len` | the agent parses them as integers and a CIDR |
//! | (m) | `ipPool` `a-b` with a > b passed; a single address passed the regex but the netmaster split it on `-` and read a missing second half (not verified) | a > b is rejected; `A.B.C.D` is a one-address pool | an empty or crashing pool |
//! | (n) | list entries (group `policies`, `extContractsGrps`, app-profile `endpointGroups`) were only looked up later | each entry must be a valid name | a clear error instead of "not found" for a name that can never exist |
//! | (o) | a subnet with host bits (`10.5.1.1/24`) was truncated; multicast, loopback, link-local, broadcast and "this network" subnets (`224.0.0.0/24`, `127.0.0.0/24`, `fe80::/64`) were accepted | refused (IPv4 and IPv6); the range form `A.B.C.D-E.F.G.H/len` may still start anywhere | such addresses can never be container addresses; a typo must not silently become another subnet |
//! | (p) | IPv4 subnets `/8`../`/31` | `/8`../`/30` | a `/31` has no address left once the network and broadcast addresses are reserved: the allocator refused it after the model accepted it |
//! | (q) | a rule could name a group **and** an address as its peer, and a port with protocol `icmp` | refused (at most one peer; a port needs tcp, udp or any protocol) — [`Rule::shape`] is the one check, shared with the policy compiler | no datapath could realise them: the agents refused such rules forever |
//! | (r) | rule addresses were IPv4 only | `fromIpAddress`/`toIpAddress` also take IPv6 (`addr` or `addr/1..127`) | the compiler and the datapaths enforce IPv6 peers |
//! | (s) | serviceLB selectors `["a=b","a=c"]` were accepted | refused | selectors are ANDed: such a service selects nothing |
//!
//! Everything else — which fields are required, the value sets, the length
//! limits, `nwType` defaulting to `data`, `priority` 0 meaning 1, the
//! subnet forms, the global VLAN/VXLAN limits, the
//! burst size rule — is the original's. Empty optional fields are accepted
//! where the original's regex ended in `?`.

mod aci_gw;
mod address_plan;
mod app_profile;
mod bgp;
mod endpoint;
mod endpoint_group;
mod ext_contracts;
mod global;
mod netprofile;
mod network;
mod policy;
mod rule;
mod service_lb;
mod tenant;
pub mod validate;

pub use aci_gw::AciGw;
pub use address_plan::{AddressPlan, Family};
pub use app_profile::AppProfile;
pub use bgp::{Bgp, BgpOper};
pub use endpoint::{EndpointInspect, EndpointOper};
pub use endpoint_group::{EndpointGroup, EndpointGroupOper};
pub use ext_contracts::ExtContractsGroup;
pub use global::{Global, GlobalOper};
pub use netprofile::Netprofile;
pub use network::{Network, NetworkOper};
pub use policy::{Policy, PolicyOper};
pub use rule::{Rule, RulePeer, RuleShape};
pub use service_lb::{ServiceLB, ServiceLBOper};
pub use tenant::{Tenant, TenantOper};
pub use validate::{
    Bandwidth, BandwidthUnit, PortSpec, ServiceProtocol, SubnetRange, ValidationError,
};

use serde::Serialize;
use serde::de::DeserializeOwned;

/// Behaviour shared by every configurable model object.
pub trait ModelObject: Serialize + DeserializeOwned + Clone + Send + Sync + 'static {
    /// The type name used in the store layout (`network`, `endpointGroup`,
    /// `Bgp`, …), as the original's modeldb types.
    const TYPE: &'static str;
    /// The REST collection (`networks`, `endpointGroups`, `policys`,
    /// `Bgps`, …), as in `/api/v1/<collection>/`.
    const COLLECTION: &'static str;

    /// The key derived from the key fields, joined with `:`
    /// (e.g. `tenant:network`).
    fn derived_key(&self) -> String;

    /// The `key` field as sent/stored.
    fn key(&self) -> &str;

    /// Sets the `key` field (the REST layer copies the URL key into it
    /// before validation, as the original did).
    fn set_key(&mut self, key: String);

    /// Fills defaults the original filled during validation (e.g. a
    /// network's `nwType` = `data`, a rule's `priority` = 1).
    fn apply_defaults(&mut self) {}

    /// Checks every field rule of the original (and the documented
    /// deliberate changes). Cross-object checks (does the tenant exist,
    /// overlapping subnets, …) belong to netmaster, not here.
    fn validate(&self) -> Result<(), ValidationError>;
}

/// `true` for the default value of a type; used for Go-style `omitempty`.
pub(crate) fn is_default<T: Default + PartialEq>(v: &T) -> bool {
    *v == T::default()
}
