//! Policy in VPP's `npol` plugin (network policies with IP sets, as
//! Calico-VPP programs VPP): the engine of [`PolicyEngine::Npol`].
//!
//! The semantics this realisation relies on (npol plugin, `npol.api`):
//!
//! * an **ipset** (`npol_ipset_create`, type `NPOL_IP`) holds addresses;
//!   `npol_ipset_add_del_members` adds or removes members in one call;
//! * a **rule** (`npol_rule_create` / `_update`) has an action (allow,
//!   deny, pass, log), up to three filters (here: `L4_PROTO` = the IP
//!   protocol) and entries; an entry names the source (`is_src`) or the
//!   destination side and is a CIDR, a port range (destination ports) or
//!   an ipset. A rule matches when every filter holds and, per side and
//!   kind, the packet matches at least one of the rule's positive entries
//!   of that kind (none of the `is_not` ones);
//! * a **policy** (`npol_policy_create` / `_update`) lists rule ids, each
//!   `is_inbound` (evaluated for the interface's RX: packets the interface
//!   sends into VPP) or not (TX: packets VPP sends out of it);
//! * `npol_configure_policies` gives an interface its RX and TX policies
//!   and defaults. The first matching rule of the first policy with a
//!   match decides; no match takes the policy default. An allowed
//!   connection is tracked: its later packets, both directions, pass
//!   without evaluation (the session layer npol runs behind).
//!
//! The realisation: per group G named as a peer, one ipset of G's member
//! addresses — **an endpoint joining G is one `npol_ipset_add_del_members`
//! plus one `npol_configure_policies` on its own interface**, however many
//! groups' rules name G. Per local group with rules one policy: its `out`
//! rules inbound (RX: what members send), its `in` rules outbound (TX:
//! what they receive), in the oracle's decision order
//! ([`acl::decision_order`]); defaults allow (the contract's default).
//! Each IR rule becomes one npol rule per protocol (none; TCP and UDP for
//! a port without protocol; ICMP and ICMPv6 for ICMP).
//!
//! npol has **no dump messages**, so what VPP holds cannot be read back:
//! the datapath keeps a [`Ledger`] of the objects it created on the
//! current connection and diffs against it (zero calls when nothing
//! differs). After a reconnect the ledger's objects are deleted
//! best-effort (VPP answers `NO_SUCH_ENTRY` if it restarted) and the state
//! is created anew.

use super::acl::{self, decision_order};
use super::host::HostState;
use super::names::IfKey;
use crate::api::npol;
use crate::api::types::{
    Address, NpolEntryData, NpolEntrySetId, NpolEntryType, NpolIpsetMember, NpolIpsetMemberVal,
    NpolIpsetType, NpolPolicyDefault, NpolPolicyItem, NpolPortRange, NpolRule, NpolRuleAction,
    NpolRuleEntry, NpolRuleFilter, NpolRuleFilterType, Prefix,
};
use crate::client::{Client, ClientError};
use crate::errno;
use contiv_core::datapath::Attachment;
use contiv_core::ir::{
    Action, AddrSetId, Direction, EpgId, IrRule, NO_EPG, PeerMatch, PolicyIr, RuleId, TenantId,
};
use ipnet::IpNet;
use std::collections::{BTreeMap, BTreeSet};
use std::net::IpAddr;

/// Lists the npol requests the engine sends: [`SENT_MESSAGES`] (for the
/// golden-vector checks) and [`announced`] (all of them in VPP's table).
macro_rules! sent {
    ($($t:ty),* $(,)?) => {
        /// Every npol request the engine sends, by name.
        pub const SENT_MESSAGES: &[&str] = &[$(<$t as crate::wire::Message>::NAME),*];

        /// True if VPP's message table has every npol request the engine
        /// sends (with our CRCs).
        pub fn announced(t: &crate::client::MsgTable) -> bool {
            true $(&& t.id::<$t>().is_ok())*
        }
    };
}

sent!(
    npol::NpolIpsetCreate,
    npol::NpolIpsetAddDelMembers,
    npol::NpolIpsetDelete,
    npol::NpolRuleCreate,
    npol::NpolRuleUpdate,
    npol::NpolRuleDelete,
    npol::NpolPolicyCreate,
    npol::NpolPolicyUpdate,
    npol::NpolPolicyDelete,
    npol::NpolConfigurePolicies,
);

/// Which VPP plugin realises policy.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum PolicyEngine {
    /// The ACL plugin: peers expanded into ACL entries; fully dumpable
    /// (resync reads VPP back), but a join costs one `acl_add_replace`
    /// per group naming the joined group.
    #[default]
    Acl,
    /// The npol plugin: peers are ipsets, a join is O(1) calls. Connecting
    /// fails if VPP does not announce the npol messages.
    Npol,
    /// npol if VPP announces it at connect time, else the ACL plugin.
    Auto,
}

/// A group: (tenant, group).
pub type Group = (TenantId, EpgId);

/// One npol rule of an IR rule: (rule, protocol variant).
pub type RuleKey = (RuleId, u8);

/// The peer side of a rule.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Peer {
    /// Anything.
    Any,
    /// A group's members (its ipset).
    Set(Group),
    /// Prefixes (an address set).
    Cidrs(Vec<IpNet>),
}

/// One npol rule, with sets named by group (ids are VPP's).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct RuleSpec {
    /// Allow or deny.
    pub allow: bool,
    /// `in` rule (peer = source) or `out` (peer = destination).
    pub inbound_rule: bool,
    /// The peer.
    pub peer: Peer,
    /// The protected side's prefixes (`in` rules with a local set).
    pub local: Vec<IpNet>,
    /// IP protocol filter.
    pub proto: Option<u8>,
    /// Destination ports.
    pub ports: Option<(u16, u16)>,
}

/// The npol objects a host state needs.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Desired {
    /// Ipsets of the groups rules name, with their members.
    pub sets: BTreeMap<Group, BTreeSet<IpAddr>>,
    /// Rules.
    pub rules: BTreeMap<RuleKey, RuleSpec>,
    /// Per local group with rules: (is_inbound, rule) in decision order.
    pub policies: BTreeMap<Group, Vec<(bool, RuleKey)>>,
    /// Interfaces of local members of those groups → their group.
    pub bindings: BTreeMap<IfKey, Group>,
}

fn prefixes(ir: &PolicyIr, id: &AddrSetId) -> Vec<IpNet> {
    ir.addr_sets
        .get(id)
        .map(|s| s.prefixes.iter().map(IpNet::trunc).collect())
        .unwrap_or_default()
}

/// The npol rules of one IR rule (none if it can match nothing).
fn expand(ir: &PolicyIr, r: &IrRule) -> Vec<RuleSpec> {
    let peer = match &r.peer {
        PeerMatch::Any => Peer::Any,
        PeerMatch::Epg(g) if *g == NO_EPG => return Vec::new(),
        PeerMatch::Epg(g) => Peer::Set((r.tenant, *g)),
        PeerMatch::AddrSet(id) => {
            let p = prefixes(ir, id);
            if p.is_empty() {
                return Vec::new();
            }
            Peer::Cidrs(p)
        }
    };
    let local = match (&r.direction, &r.local) {
        (Direction::In, Some(id)) => {
            let p = prefixes(ir, id);
            if p.is_empty() {
                return Vec::new();
            }
            p
        }
        _ => Vec::new(),
    };
    let protos: Vec<Option<u8>> = match (r.proto, r.ports) {
        (None, None) => vec![None],
        (None, Some(_)) => vec![Some(6), Some(17)],
        (Some(1), _) => vec![Some(1), Some(58)],
        (Some(p), _) => vec![Some(p)],
    };
    protos
        .into_iter()
        // A port only matches TCP and UDP connections.
        .filter(|p| r.ports.is_none() || matches!(p, Some(6 | 17)))
        .map(|proto| RuleSpec {
            allow: r.action == Action::Allow,
            inbound_rule: r.direction == Direction::In,
            peer: peer.clone(),
            local: local.clone(),
            proto,
            ports: r.ports.map(|x| (x.start, x.end)),
        })
        .collect()
}

/// The interface key of a local endpoint.
fn if_key(e: &contiv_core::datapath::LocalEndpoint) -> IfKey {
    match e.attachment {
        Attachment::Existing => IfKey::Host(e.id.clone()),
        _ => IfKey::Tap(e.id.clone()),
    }
}

/// Compiles the npol objects of `h`.
pub fn compile(h: &HostState) -> Desired {
    let ir = &h.policy;
    let mut by_owner: BTreeMap<Group, Vec<&IrRule>> = BTreeMap::new();
    for r in ir.rules.values() {
        by_owner.entry((r.tenant, r.epg)).or_default().push(r);
    }
    let mut d = Desired::default();
    for g in acl::local_groups(h) {
        let Some(rules) = by_owner.get_mut(&g) else {
            continue;
        };
        rules.sort_by(|a, b| decision_order(a, b));
        let mut items = Vec::new();
        for r in rules.iter() {
            for (v, spec) in expand(ir, r).into_iter().enumerate() {
                let key = (r.id, u8::try_from(v).unwrap_or(u8::MAX));
                if let Peer::Set(s) = spec.peer {
                    d.sets.entry(s).or_default();
                }
                // Inbound (RX) = what members send = their `out` rules.
                items.push((!spec.inbound_rule, key));
                d.rules.insert(key, spec);
            }
        }
        d.policies.insert(g, items);
    }
    for (&(t, ip), &g) in &ir.members {
        if let Some(m) = d.sets.get_mut(&(t, g)) {
            m.insert(ip);
        }
    }
    for e in h.local.values() {
        let Some(n) = h.networks.get(&e.network) else {
            continue;
        };
        let g = (n.tenant_id, e.epg);
        if e.epg != NO_EPG && d.policies.contains_key(&g) {
            d.bindings.insert(if_key(e), g);
        }
    }
    d
}

/// What this connection created in VPP's npol plugin (npol cannot be
/// dumped): VPP ids and the wire form last sent.
#[derive(Clone, Debug, Default)]
pub struct Ledger {
    /// The client generation the ids belong to.
    pub generation: u64,
    /// Ipsets: id and members.
    pub sets: BTreeMap<Group, (u32, BTreeSet<IpAddr>)>,
    /// Rules: id and the rule as sent.
    pub rules: BTreeMap<RuleKey, (u32, NpolRule)>,
    /// Policies: id and items as sent.
    pub policies: BTreeMap<Group, (u32, Vec<NpolPolicyItem>)>,
    /// Configured interfaces: key → (sw_if_index, policy ids).
    pub bound: BTreeMap<IfKey, (u32, Vec<u32>)>,
}

impl Ledger {
    /// True if the ledger holds nothing.
    pub fn is_empty(&self) -> bool {
        self.sets.is_empty()
            && self.rules.is_empty()
            && self.policies.is_empty()
            && self.bound.is_empty()
    }
}

/// Sends calls and counts them.
struct Sender<'a> {
    client: &'a Client,
    sent: u64,
}

impl Sender<'_> {
    async fn call<M: crate::wire::Request>(&mut self, m: &M) -> Result<M::Reply, ClientError> {
        self.sent += 1;
        self.client.request(m).await
    }
}

/// Why a sync stopped: calls sent, the error.
pub type SyncError = (u64, ClientError);

fn wire_rule(spec: &RuleSpec, sets: &BTreeMap<Group, (u32, BTreeSet<IpAddr>)>) -> NpolRule {
    let mut filters: [NpolRuleFilter; 3] = Default::default();
    if let Some(p) = spec.proto {
        filters[0] = NpolRuleFilter {
            value: u32::from(p),
            r#type: NpolRuleFilterType::NPOL_RULE_FILTER_L4_PROTO,
            should_match: 1,
        };
    }
    let peer_is_src = spec.inbound_rule;
    let mut matches = Vec::new();
    let cidr = |net: &IpNet, is_src: bool| NpolRuleEntry {
        is_src,
        is_not: false,
        r#type: NpolEntryType::NPOL_CIDR,
        data: NpolEntryData::from_cidr(&Prefix::from_net(*net)),
    };
    match &spec.peer {
        Peer::Any => {}
        Peer::Set(g) => matches.push(NpolRuleEntry {
            is_src: peer_is_src,
            is_not: false,
            r#type: NpolEntryType::NPOL_IP_SET,
            data: NpolEntryData::from_set_id(&NpolEntrySetId {
                set_id: sets.get(g).map_or(u32::MAX, |s| s.0),
            }),
        }),
        Peer::Cidrs(nets) => matches.extend(nets.iter().map(|n| cidr(n, peer_is_src))),
    }
    // The local side of an `in` rule is the destination.
    matches.extend(spec.local.iter().map(|n| cidr(n, false)));
    if let Some((start, end)) = spec.ports {
        matches.push(NpolRuleEntry {
            is_src: false,
            is_not: false,
            r#type: NpolEntryType::NPOL_PORT_RANGE,
            data: NpolEntryData::from_port_range(&NpolPortRange { start, end }),
        });
    }
    NpolRule {
        action: if spec.allow {
            NpolRuleAction::NPOL_ALLOW
        } else {
            NpolRuleAction::NPOL_DENY
        },
        filters,
        matches,
    }
}

fn members(ips: &BTreeSet<&IpAddr>) -> Vec<NpolIpsetMember> {
    ips.iter()
        .map(|ip| NpolIpsetMember {
            val: NpolIpsetMemberVal::from_address(&Address::from_ip(**ip)),
        })
        .collect()
}

fn configure(sw_if_index: u32, ids: Vec<u32>) -> npol::NpolConfigurePolicies {
    let n = u32::from(!ids.is_empty());
    npol::NpolConfigurePolicies {
        sw_if_index,
        num_rx_policies: n,
        num_tx_policies: n,
        invert_rx_tx: 0,
        policy_default_rx: NpolPolicyDefault::NPOL_DEFAULT_ALLOW,
        policy_default_tx: NpolPolicyDefault::NPOL_DEFAULT_ALLOW,
        profile_default_rx: NpolPolicyDefault::NPOL_DEFAULT_ALLOW,
        profile_default_tx: NpolPolicyDefault::NPOL_DEFAULT_ALLOW,
        policy_ids: ids,
    }
}

/// Ignores "no such entry" (the object is already gone: VPP restarted).
fn gone_ok<T>(r: Result<T, ClientError>) -> Result<(), ClientError> {
    match r {
        Ok(_) => Ok(()),
        Err(e) if e.retval() == Some(errno::NO_SUCH_ENTRY) => Ok(()),
        Err(e) if e.retval() == Some(errno::INVALID_SW_IF_INDEX) => Ok(()),
        Err(e) => Err(e),
    }
}

/// Deletes, best-effort, everything `l` holds (after a reconnect, when
/// it is unknown whether VPP still has it) and empties it.
async fn forget(s: &mut Sender<'_>, l: &mut Ledger) -> Result<(), ClientError> {
    for (_, (sw, _)) in std::mem::take(&mut l.bound) {
        gone_ok(s.call(&configure(sw, Vec::new())).await)?;
    }
    for (_, (id, _)) in std::mem::take(&mut l.policies) {
        gone_ok(s.call(&npol::NpolPolicyDelete { policy_id: id }).await)?;
    }
    for (_, (id, _)) in std::mem::take(&mut l.rules) {
        gone_ok(s.call(&npol::NpolRuleDelete { rule_id: id }).await)?;
    }
    for (_, (id, _)) in std::mem::take(&mut l.sets) {
        gone_ok(s.call(&npol::NpolIpsetDelete { set_id: id }).await)?;
    }
    Ok(())
}

/// Brings VPP's npol state from `l` to `d`. `ifs`: our interfaces' ids;
/// `recreated`: interfaces created in this round (a new interface has no
/// npol configuration, whatever its index). Returns the calls sent.
pub async fn sync(
    client: &Client,
    l: &mut Ledger,
    d: &Desired,
    ifs: &BTreeMap<IfKey, u32>,
    recreated: &BTreeSet<IfKey>,
) -> Result<u64, SyncError> {
    let mut s = Sender { client, sent: 0 };
    match run(&mut s, l, d, ifs, recreated).await {
        Ok(()) => Ok(s.sent),
        Err(e) => Err((s.sent, e)),
    }
}

/// The keys the ledger holds that the desired state no longer has.
fn stale<K: Ord + Clone, V, W>(have: &BTreeMap<K, V>, want: &BTreeMap<K, W>) -> Vec<K> {
    have.keys()
        .filter(|k| !want.contains_key(*k))
        .cloned()
        .collect()
}

async fn run(
    s: &mut Sender<'_>,
    l: &mut Ledger,
    d: &Desired,
    ifs: &BTreeMap<IfKey, u32>,
    recreated: &BTreeSet<IfKey>,
) -> Result<(), ClientError> {
    if l.generation != s.client.generation() {
        if !l.is_empty() {
            tracing::warn!("VPP API connection re-established: recreating the npol state");
            forget(s, l).await?;
        }
        l.generation = s.client.generation();
    }
    // 1. Ipsets and their members.
    for (g, want) in &d.sets {
        if !l.sets.contains_key(g) {
            let r = s
                .call(&npol::NpolIpsetCreate {
                    r#type: NpolIpsetType::NPOL_IP,
                })
                .await?;
            l.sets.insert(*g, (r.set_id, BTreeSet::new()));
        }
        let Some((id, have)) = l.sets.get_mut(g) else {
            continue;
        };
        for (is_add, diff) in [
            (true, want.difference(have).collect::<BTreeSet<_>>()),
            (false, have.difference(want).collect::<BTreeSet<_>>()),
        ] {
            if diff.is_empty() {
                continue;
            }
            s.call(&npol::NpolIpsetAddDelMembers {
                set_id: *id,
                is_add,
                members: members(&diff),
            })
            .await?;
        }
        *have = want.clone();
    }
    // 2. Rules (sets resolved to ids).
    for (k, spec) in &d.rules {
        let rule = wire_rule(spec, &l.sets);
        match l.rules.get(k) {
            Some((_, have)) if *have == rule => {}
            Some(&(id, _)) => {
                s.call(&npol::NpolRuleUpdate {
                    rule_id: id,
                    rule: rule.clone(),
                })
                .await?;
                l.rules.insert(*k, (id, rule));
            }
            None => {
                let r = s.call(&npol::NpolRuleCreate { rule: rule.clone() }).await?;
                l.rules.insert(*k, (r.rule_id, rule));
            }
        }
    }
    // 3. Policies.
    for (g, items) in &d.policies {
        let want: Vec<NpolPolicyItem> = items
            .iter()
            .filter_map(|(inb, k)| {
                l.rules.get(k).map(|r| NpolPolicyItem {
                    is_inbound: *inb,
                    rule_id: r.0,
                })
            })
            .collect();
        match l.policies.get(g) {
            Some((_, have)) if *have == want => {}
            Some(&(id, _)) => {
                s.call(&npol::NpolPolicyUpdate {
                    policy_id: id,
                    rules: want.clone(),
                })
                .await?;
                l.policies.insert(*g, (id, want));
            }
            None => {
                let r = s
                    .call(&npol::NpolPolicyCreate {
                        rules: want.clone(),
                    })
                    .await?;
                l.policies.insert(*g, (r.policy_id, want));
            }
        }
    }
    // 4. Interfaces: bind, then unbind what no longer should be.
    for k in recreated {
        l.bound.remove(k);
    }
    l.bound
        .retain(|k, (sw, _)| ifs.get(k).is_some_and(|now| now == sw));
    for (k, g) in &d.bindings {
        let (Some(&sw), Some(&(pid, _))) = (ifs.get(k), l.policies.get(g)) else {
            continue;
        };
        let ids = vec![pid, pid];
        if l.bound.get(k).is_some_and(|b| b.1 == ids) {
            continue;
        }
        s.call(&configure(sw, ids.clone())).await?;
        l.bound.insert(k.clone(), (sw, ids));
    }
    for k in stale(&l.bound, &d.bindings) {
        if let Some((sw, _)) = l.bound.get(&k) {
            s.call(&configure(*sw, Vec::new())).await?;
        }
        l.bound.remove(&k);
    }
    // 5. Deletions, dependents first (an object leaves the ledger once
    // VPP confirmed it gone).
    for g in stale(&l.policies, &d.policies) {
        if let Some(&(policy_id, _)) = l.policies.get(&g) {
            s.call(&npol::NpolPolicyDelete { policy_id }).await?;
        }
        l.policies.remove(&g);
    }
    for k in stale(&l.rules, &d.rules) {
        if let Some(&(rule_id, _)) = l.rules.get(&k) {
            s.call(&npol::NpolRuleDelete { rule_id }).await?;
        }
        l.rules.remove(&k);
    }
    for g in stale(&l.sets, &d.sets) {
        if let Some(&(set_id, _)) = l.sets.get(&g) {
            s.call(&npol::NpolIpsetDelete { set_id }).await?;
        }
        l.sets.remove(&g);
    }
    Ok(())
}
