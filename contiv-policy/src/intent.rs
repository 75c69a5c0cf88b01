//! The compiler's input: tenants (with their ids), networks, endpoint
//! groups (with their ids), rules and endpoints. [`Intent`] is a complete
//! snapshot of it, for [`compile`](crate::compile) and
//! [`Compiler::from_intent`](crate::Compiler::from_intent); the
//! [`Compiler`](crate::Compiler) takes the same objects one change at a
//! time.

use contiv_core::ir::{EpgId, TenantId};
use contiv_core::model::{EndpointGroup, ModelObject, Network, Rule};
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;
use std::net::IpAddr;

/// An endpoint as the compiler needs it.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct EndpointInput {
    /// Endpoint id, unique in the cluster.
    pub id: String,
    /// Tenant name.
    pub tenant: String,
    /// Network key (`tenant:network`). Not needed to compile (network peers
    /// match by address); checked to belong to `tenant` when not empty.
    pub network: String,
    /// Group key (`tenant:group`), or `None` for an endpoint in no group.
    pub epg: Option<String>,
    /// Its addresses (IPv4 and/or IPv6); duplicates are ignored.
    pub ips: Vec<IpAddr>,
}

impl EndpointInput {
    /// An endpoint of `tenant` on network `tenant:network` (none if
    /// `network` is empty), in group `tenant:group` if `group` is given.
    pub fn new(
        id: impl Into<String>,
        tenant: &str,
        network: &str,
        group: Option<&str>,
        ips: impl IntoIterator<Item = IpAddr>,
    ) -> Self {
        EndpointInput {
            id: id.into(),
            tenant: tenant.to_owned(),
            network: if network.is_empty() {
                String::new()
            } else {
                format!("{tenant}:{network}")
            },
            epg: group.map(|g| format!("{tenant}:{g}")),
            ips: ips.into_iter().collect(),
        }
    }
}

/// An endpoint group with the id netmaster allocated for it.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct IntentEpg {
    /// The model object (its `policies` are the attached policy names).
    pub group: EndpointGroup,
    /// Its id (1..=[`MAX_EPG_ID`](contiv_core::ir::MAX_EPG_ID)).
    pub id: EpgId,
}

/// A complete snapshot of the compiler's input, keyed as the store keys
/// the objects.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Intent {
    /// Tenant name → tenant (VRF) id.
    pub tenants: BTreeMap<String, TenantId>,
    /// Networks by key (`tenant:network`).
    pub networks: BTreeMap<String, Network>,
    /// Groups by key (`tenant:group`).
    pub epgs: BTreeMap<String, IntentEpg>,
    /// Rules by key (`tenant:policy:ruleId`).
    pub rules: BTreeMap<String, Rule>,
    /// Endpoints by id.
    pub endpoints: BTreeMap<String, EndpointInput>,
}

impl Intent {
    /// Adds or replaces a tenant.
    pub fn insert_tenant(&mut self, name: &str, id: TenantId) {
        self.tenants.insert(name.to_owned(), id);
    }

    /// Adds or replaces a network (keyed by its derived key).
    pub fn insert_network(&mut self, network: Network) {
        self.networks.insert(network.derived_key(), network);
    }

    /// Adds or replaces a group (keyed by its derived key).
    pub fn insert_epg(&mut self, group: EndpointGroup, id: EpgId) {
        self.epgs
            .insert(group.derived_key(), IntentEpg { group, id });
    }

    /// Adds or replaces a rule (keyed by its derived key).
    pub fn insert_rule(&mut self, rule: Rule) {
        self.rules.insert(rule.derived_key(), rule);
    }

    /// Adds or replaces an endpoint.
    pub fn insert_endpoint(&mut self, endpoint: EndpointInput) {
        self.endpoints.insert(endpoint.id.clone(), endpoint);
    }
}
