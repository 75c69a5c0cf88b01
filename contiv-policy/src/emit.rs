//! The mapping of one (group, rule) pair to its compiled [`IrRule`], shared
//! by the from-scratch compile and the incremental compiler so both agree
//! by construction on what a pair compiles to (the proptests check that
//! they agree on *which* pairs are compiled).

use crate::rule_id::rule_id;
use crate::spec::{PeerSpec, RuleSpec, cidr_set_id, network_set_id};
use contiv_core::ir::{EpgId, IrRule, PeerMatch, RuleOrigin, TenantId};

/// The resolved group a policy is attached to.
#[derive(Clone, Copy, Debug)]
pub(crate) struct Owner<'a> {
    /// Its key (`tenant:group`).
    pub key: &'a str,
    /// Its id.
    pub id: EpgId,
    /// Its tenant's id.
    pub tenant_id: TenantId,
}

/// Compiles `spec` for `owner`. `peer_epg_id` resolves a peer group key to
/// its id; if the rule names a peer group that does not resolve, the pair
/// compiles to nothing (a rule about a group that does not exist matches no
/// packet, so leaving it out is equivalent and keeps datapaths lean).
pub(crate) fn ir_rule(
    spec: &RuleSpec,
    owner: Owner<'_>,
    peer_epg_id: impl FnOnce(&str) -> Option<EpgId>,
) -> Option<IrRule> {
    let peer = match &spec.peer {
        PeerSpec::Any => PeerMatch::Any,
        PeerSpec::Epg(key) => PeerMatch::Epg(peer_epg_id(key)?),
        PeerSpec::Network(key) => {
            PeerMatch::AddrSet(spec.peer_set.clone().unwrap_or_else(|| network_set_id(key)))
        }
        PeerSpec::Cidr(net) => {
            PeerMatch::AddrSet(spec.peer_set.clone().unwrap_or_else(|| cidr_set_id(net)))
        }
    };
    Some(IrRule {
        id: rule_id(owner.key, spec.policy_key(), spec.rule_id()),
        tenant: owner.tenant_id,
        epg: owner.id,
        direction: spec.direction,
        peer,
        local: match &spec.local_set {
            Some(id) => Some(id.clone()),
            None => spec.local.as_ref().map(cidr_set_id),
        },
        proto: spec.proto,
        ports: spec.ports,
        priority: spec.priority,
        action: spec.action,
        origin: RuleOrigin {
            policy: spec.policy_key().to_owned(),
            rule: spec.rule_id().to_owned(),
            epg: owner.key.to_owned(),
        },
    })
}
