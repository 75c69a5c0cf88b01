//! Lowering the policy IR's rules to flows, incrementally.
//!
//! Rules that share everything but their owner EPG and peer — direction,
//! priority, action, protocol, ports, local address set: the [`RuleKey`] —
//! are grouped. Per key, each owner EPG has a set of peers; owners with the
//! same peer set form one group, i.e. the cross product *owners × peers*.
//! A group is emitted as `|owners| + |peers| + 1` flows with a
//! `conjunction` (or as the plain cross product when that is no larger),
//! so 100 EPGs each allowing every other EPG on one port is 201 flows, not
//! 10 000. Owners and peers are EPG ids in registers, so a group's flows do
//! not depend on how many endpoints the EPGs have: an endpoint joining an
//! EPG changes only its classification flows.
//!
//! A group's conjunction id is a stable hash of its key and peer set (with
//! linear probing on the rare collision); its flows carry the cookie of
//! its only rule ([`CookieKind::Rule`] with the rule id) or, for groups of
//! several rules, [`CookieKind::RuleGroup`] with the conjunction id.

mod dims;

use super::cookie::{CookieKind, StableHasher};
use super::flow::FlowKey;
use super::flow_table::Body;
use super::fxhash::{FxHashMap, FxHashSet};
use contiv_core::ir::{
    Action, AddrSet, AddrSetId, Direction, EpgId, IrRule, PeerMatch, PolicyDelta, PolicyIr,
    PortRange, RuleId,
};
use std::hash::Hash;
use std::sync::Arc;

/// What rules of one group share.
#[derive(Clone, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct RuleKey {
    /// Direction.
    pub direction: Direction,
    /// Rule priority.
    pub priority: u8,
    /// Allow or deny.
    pub action: Action,
    /// IP protocol (`None` = any).
    pub proto: Option<u8>,
    /// Destination ports.
    pub ports: Option<PortRange>,
    /// The owner-side address set (`in` rules with `toIpAddress`).
    pub local: Option<AddrSetId>,
}

impl RuleKey {
    fn of(r: &IrRule) -> RuleKey {
        RuleKey {
            direction: r.direction,
            priority: r.priority,
            action: r.action,
            proto: r.proto,
            ports: r.ports,
            local: r.local.clone(),
        }
    }
}

/// Values interned as small ids (ids are process-local; nothing that
/// reaches the switch depends on them).
#[derive(Debug)]
struct Interner<T: Eq + Hash + Clone> {
    values: Vec<T>,
    ids: FxHashMap<T, u32>,
}

impl<T: Eq + Hash + Clone> Default for Interner<T> {
    fn default() -> Self {
        Interner {
            values: Vec::new(),
            ids: FxHashMap::default(),
        }
    }
}

impl<T: Eq + Hash + Clone> Interner<T> {
    fn id(&mut self, v: &T) -> u32 {
        if let Some(&i) = self.ids.get(v) {
            return i;
        }
        let i = self.values.len() as u32;
        self.values.push(v.clone());
        self.ids.insert(v.clone(), i);
        i
    }

    fn get(&self, i: u32) -> &T {
        &self.values[i as usize]
    }
}

/// A group's identity: the interned key and the (sorted) interned peers.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
struct GroupKey {
    key: u32,
    peers: Arc<[u32]>,
}

/// A group resolved for lowering: the key and the peers (sorted by value).
#[derive(Debug)]
pub struct GroupDef<'a> {
    /// The shared rule key.
    pub key: &'a RuleKey,
    ids: &'a [u32],
    names: &'a Interner<PeerMatch>,
}

impl<'a> GroupDef<'a> {
    /// The peers every owner of the group has, sorted by value.
    pub fn peers(&self) -> impl Iterator<Item = &'a PeerMatch> + '_ {
        self.ids.iter().map(|i| self.names.get(*i))
    }

    /// How many peers.
    pub fn peer_count(&self) -> usize {
        self.ids.len()
    }
}

#[derive(Debug)]
struct Group {
    key: GroupKey,
    /// Sorted, distinct.
    owners: Vec<EpgId>,
    /// The group's only rule, if it has exactly one, as found when the
    /// group was formed by [`PolicyLowering::load`] (`None`: not known,
    /// look it up): saves a lookup per group in a full compile. Every
    /// change to the group's owners or their rules goes through
    /// [`PolicyLowering::moved`], which clears it.
    only_rule: Option<Option<RuleId>>,
}

#[derive(Clone, Copy, Debug)]
struct RuleRef {
    key: u32,
    epg: EpgId,
    peer: u32,
}

/// The incremental lowering state. See the [module documentation](self).
#[derive(Debug, Default)]
pub struct PolicyLowering {
    keys: Interner<RuleKey>,
    peers: Interner<PeerMatch>,
    rules: FxHashMap<RuleId, RuleRef>,
    /// (key, owner) → its (peer, rule) pairs, sorted.
    owners: FxHashMap<(u32, EpgId), Vec<(u32, RuleId)>>,
    sets: FxHashMap<AddrSetId, AddrSet>,
    /// Group identity → conjunction id.
    groups: FxHashMap<GroupKey, u32>,
    /// Conjunction id → group.
    by_conj: FxHashMap<u32, Group>,
    set_users: FxHashMap<AddrSetId, FxHashSet<u32>>,
    dirty: Vec<u32>,
    /// Every group is dirty (after [`PolicyLowering::load`]).
    all_dirty: bool,
}

/// The distinct peers of sorted (peer, rule) pairs, sorted by value (so a
/// group's peers never need sorting again).
fn peer_set(names: &Interner<PeerMatch>, pairs: &[(u32, RuleId)]) -> Arc<[u32]> {
    if let [(p, _)] = pairs {
        // The common case: one rule, one peer (one allocation).
        return Arc::from(&[*p][..]);
    }
    let mut v: Vec<u32> = pairs.iter().map(|(p, _)| *p).collect();
    v.dedup();
    if v.len() > 1 {
        v.sort_unstable_by(|a, b| names.get(*a).cmp(names.get(*b)));
    }
    Arc::from(v)
}

fn add_owner(owners: &mut Vec<EpgId>, epg: EpgId) {
    if let Err(at) = owners.binary_search(&epg) {
        owners.insert(at, epg);
    }
}

impl PolicyLowering {
    /// Empty state.
    pub fn new() -> PolicyLowering {
        PolicyLowering::default()
    }

    /// Number of compiled rules held.
    pub fn rule_count(&self) -> usize {
        self.rules.len()
    }

    /// Number of rule groups.
    pub fn group_count(&self) -> usize {
        self.groups.len()
    }

    /// Loads a whole IR's rules and address sets in one pass (every
    /// owner's final peer set is known before groups are formed, so no
    /// intermediate group is ever built). Anything held before is
    /// replaced; every group becomes dirty.
    pub fn load(&mut self, ir: &PolicyIr) {
        let old: Vec<u32> = self.by_conj.keys().copied().collect();
        *self = PolicyLowering::default();
        self.dirty = old;
        for s in ir.addr_sets.values() {
            self.sets.insert(s.id.clone(), s.clone());
        }
        let n = ir.rules.len();
        self.rules.reserve(n);
        self.owners.reserve(n);
        self.groups.reserve(n);
        self.by_conj.reserve(n);
        for r in ir.rules.values() {
            let key = self.keys.id(&RuleKey::of(r));
            let peer = self.peers.id(&r.peer);
            self.rules.insert(
                r.id,
                RuleRef {
                    key,
                    epg: r.epg,
                    peer,
                },
            );
            self.owners
                .entry((key, r.epg))
                .or_default()
                .push((peer, r.id));
        }
        // The map's iteration order is a function of the insertion order
        // (the IR's, sorted by rule id) and the fixed hasher, so groups are
        // formed in the same order by every process.
        let mut formed: Vec<(GroupKey, EpgId, Option<RuleId>)> =
            Vec::with_capacity(self.owners.len());
        for (&(key, epg), pairs) in &mut self.owners {
            pairs.sort_unstable();
            let only = match pairs.as_slice() {
                [(_, id)] => Some(*id),
                _ => None,
            };
            formed.push((
                GroupKey {
                    key,
                    peers: peer_set(&self.peers, pairs),
                },
                epg,
                only,
            ));
        }
        for (gk, epg, only) in formed {
            let conj = self.ensure_group(gk);
            if let Some(g) = self.by_conj.get_mut(&conj) {
                // A fresh group has its first owner's only rule; a second
                // owner makes it a group of several rules.
                g.only_rule = Some(if g.owners.is_empty() { only } else { None });
                add_owner(&mut g.owners, epg);
            }
        }
        self.all_dirty = true;
    }

    /// Applies the rule and address-set parts of a delta (memberships are
    /// the pipeline's); affected groups become dirty.
    pub fn apply(&mut self, d: &PolicyDelta) {
        for id in &d.rules_removed {
            self.remove_rule(*id);
        }
        for id in &d.sets_removed {
            self.sets.remove(id);
            self.mark_set_users(id);
        }
        for r in &d.rules_added {
            self.remove_rule(r.id);
            self.add_rule(r);
        }
        for s in &d.sets_upserted {
            if self.sets.get(&s.id) == Some(s) {
                continue;
            }
            self.sets.insert(s.id.clone(), s.clone());
            self.mark_set_users(&s.id);
        }
    }

    fn mark_set_users(&mut self, id: &AddrSetId) {
        if let Some(users) = self.set_users.get(id) {
            self.dirty.extend(users.iter().copied());
        }
    }

    fn add_rule(&mut self, r: &IrRule) {
        let key = self.keys.id(&RuleKey::of(r));
        let peer = self.peers.id(&r.peer);
        self.rules.insert(
            r.id,
            RuleRef {
                key,
                epg: r.epg,
                peer,
            },
        );
        let pairs = self.owners.entry((key, r.epg)).or_default();
        let old = peer_set(&self.peers, pairs);
        let at = pairs.partition_point(|x| *x < (peer, r.id));
        pairs.insert(at, (peer, r.id));
        let new = peer_set(&self.peers, pairs);
        self.moved(key, r.epg, old, new);
    }

    fn remove_rule(&mut self, id: RuleId) {
        let Some(r) = self.rules.remove(&id) else {
            return;
        };
        let Some(pairs) = self.owners.get_mut(&(r.key, r.epg)) else {
            return;
        };
        let old = peer_set(&self.peers, pairs);
        pairs.retain(|x| *x != (r.peer, id));
        let new = peer_set(&self.peers, pairs);
        if pairs.is_empty() {
            self.owners.remove(&(r.key, r.epg));
        }
        self.moved(r.key, r.epg, old, new);
    }

    /// Owner `epg` of `key` had peer set `old` and now has `new`.
    fn moved(&mut self, key: u32, epg: EpgId, old: Arc<[u32]>, new: Arc<[u32]>) {
        if old == new {
            // Same group; its rule set (hence maybe its cookie) changed.
            if let Some(&c) = self.groups.get(&GroupKey { key, peers: new }) {
                self.dirty.push(c);
                if let Some(g) = self.by_conj.get_mut(&c) {
                    g.only_rule = None;
                }
            }
            return;
        }
        if !old.is_empty()
            && let Some(&c) = self.groups.get(&GroupKey { key, peers: old })
        {
            self.dirty.push(c);
            let empty = match self.by_conj.get_mut(&c) {
                Some(g) => {
                    g.only_rule = None;
                    if let Ok(at) = g.owners.binary_search(&epg) {
                        g.owners.remove(at);
                    }
                    g.owners.is_empty()
                }
                None => false,
            };
            if empty {
                self.delete_group(c);
            }
        }
        if !new.is_empty() {
            let conj = self.ensure_group(GroupKey { key, peers: new });
            if let Some(g) = self.by_conj.get_mut(&conj) {
                g.only_rule = None;
                add_owner(&mut g.owners, epg);
            }
            self.dirty.push(conj);
        }
    }

    /// The group's definition with peers by value, sorted by value.
    fn def<'a>(&'a self, gk: &'a GroupKey) -> GroupDef<'a> {
        def_of(&self.keys, &self.peers, gk)
    }

    fn ensure_group(&mut self, gk: GroupKey) -> u32 {
        use std::collections::hash_map::Entry;
        let e = match self.groups.entry(gk) {
            Entry::Occupied(o) => return *o.get(),
            Entry::Vacant(v) => v,
        };
        let def = def_of(&self.keys, &self.peers, e.key());
        let h = group_hash(&def);
        let mut id = (h ^ (h >> 32)) as u32;
        while id == 0 || self.by_conj.contains_key(&id) {
            id = id.wrapping_add(1);
        }
        for s in set_refs(&def) {
            match self.set_users.get_mut(s) {
                Some(u) => {
                    u.insert(id);
                }
                None => {
                    self.set_users
                        .insert(s.clone(), std::iter::once(id).collect());
                }
            }
        }
        let key = e.key().clone();
        e.insert(id);
        self.by_conj.insert(
            id,
            Group {
                key,
                owners: Vec::new(),
                only_rule: None,
            },
        );
        id
    }

    fn delete_group(&mut self, conj: u32) {
        let Some(g) = self.by_conj.remove(&conj) else {
            return;
        };
        self.groups.remove(&g.key);
        self.dirty.push(conj);
        let sets: Vec<AddrSetId> = set_refs(&self.def(&g.key)).cloned().collect();
        for s in sets {
            if let Some(users) = self.set_users.get_mut(&s) {
                users.remove(&conj);
                if users.is_empty() {
                    self.set_users.remove(&s);
                }
            }
        }
    }

    /// The conjunction ids of groups changed since the last call (groups
    /// that no longer exist included: their flows must go).
    ///
    /// After [`PolicyLowering::load`] this is every group (and the groups
    /// of what was loaded before); see [`PolicyLowering::take_dirty_all`]
    /// for the cheaper form.
    pub fn take_dirty(&mut self) -> Vec<u32> {
        let (mut v, all) = self.take_dirty_all();
        if all {
            v.extend(self.by_conj.keys().copied());
        }
        v.sort_unstable();
        v.dedup();
        v
    }

    /// The dirty groups, and whether every existing group is dirty too (in
    /// which case the list holds only groups besides those, e.g. removed
    /// ones; iterate [`PolicyLowering::each_group_flows`] for the rest).
    pub fn take_dirty_all(&mut self) -> (Vec<u32>, bool) {
        let mut v = std::mem::take(&mut self.dirty);
        v.sort_unstable();
        v.dedup();
        (v, std::mem::take(&mut self.all_dirty))
    }

    /// Whether a group with this conjunction id exists.
    pub fn has_group(&self, conj: u32) -> bool {
        self.by_conj.contains_key(&conj)
    }

    /// Calls `f` with every group's conjunction id and flows, in storage
    /// order (memory-friendly for a full compile).
    pub fn each_group_flows(&self, mut f: impl FnMut(u32, Vec<(FlowKey, Body)>)) {
        for (&conj, g) in &self.by_conj {
            f(conj, self.flows_of_group(conj, g));
        }
    }

    /// Every group's conjunction id.
    pub fn group_ids(&self) -> Vec<u32> {
        let mut v: Vec<u32> = self.by_conj.keys().copied().collect();
        v.sort_unstable();
        v
    }

    /// The flows of the group with conjunction id `conj` (none if it does
    /// not exist).
    pub fn group_flows(&self, conj: u32) -> Vec<(FlowKey, Body)> {
        match self.by_conj.get(&conj) {
            Some(g) => self.flows_of_group(conj, g),
            None => Vec::new(),
        }
    }

    fn flows_of_group(&self, conj: u32, g: &Group) -> Vec<(FlowKey, Body)> {
        dims::group_flows(&dims::GroupView {
            def: self.def(&g.key),
            owners: &g.owners,
            conj_id: conj,
            cookie: self.group_cookie(conj, g),
            sets: &self.sets,
        })
    }

    /// The rule cookie if the group holds exactly one rule, else the group
    /// cookie.
    fn group_cookie(&self, conj: u32, g: &Group) -> u64 {
        match g.only_rule {
            Some(Some(id)) => return CookieKind::Rule.cookie(id.0),
            Some(None) => return CookieKind::RuleGroup.cookie(u64::from(conj)),
            None => {}
        }
        if let [owner] = g.owners.as_slice()
            && let Some([(_, id)]) = self.owners.get(&(g.key.key, *owner)).map(Vec::as_slice)
        {
            return CookieKind::Rule.cookie(id.0);
        }
        CookieKind::RuleGroup.cookie(u64::from(conj))
    }
}

fn def_of<'a>(
    keys: &'a Interner<RuleKey>,
    peers: &'a Interner<PeerMatch>,
    gk: &'a GroupKey,
) -> GroupDef<'a> {
    GroupDef {
        key: keys.get(gk.key),
        ids: &gk.peers,
        names: peers,
    }
}

/// A stable hash of a group's key and peer values (never of interned ids,
/// so every process computes the same conjunction ids).
fn group_hash(def: &GroupDef<'_>) -> u64 {
    let k = def.key;
    let mut h = StableHasher::new();
    h.part(&[
        match k.direction {
            Direction::In => 1,
            Direction::Out => 2,
        },
        k.priority,
        match k.action {
            Action::Allow => 1,
            Action::Deny => 2,
        },
        k.proto.map_or(0, |_| 1),
        k.proto.unwrap_or(0),
    ]);
    match k.ports {
        Some(p) => {
            let (a, b) = (p.start.to_be_bytes(), p.end.to_be_bytes());
            h.part(&[a[0], a[1], b[0], b[1]])
        }
        None => h.part(&[]),
    };
    h.part(k.local.as_ref().map_or(&[][..], |s| s.0.as_bytes()));
    for p in def.peers() {
        match p {
            PeerMatch::Any => h.part(b"*"),
            PeerMatch::Epg(g) => {
                let b = g.to_be_bytes();
                h.part(&[b'e', b[0], b[1], b[2], b[3]])
            }
            PeerMatch::AddrSet(s) => {
                let mut v = Vec::with_capacity(s.0.len() + 1);
                v.push(b's');
                v.extend_from_slice(s.0.as_bytes());
                h.part(&v)
            }
        };
    }
    h.finish()
}

fn set_refs<'a>(def: &'a GroupDef<'a>) -> impl Iterator<Item = &'a AddrSetId> {
    def.peers()
        .filter_map(|p| match p {
            PeerMatch::AddrSet(s) => Some(s),
            _ => None,
        })
        .chain(def.key.local.as_ref())
}
