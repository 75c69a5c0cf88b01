//! The compiled flow set: every owner (the base skeleton, a network, an
//! endpoint, a membership, a policy rule group) contributes flows; the
//! table merges contributions that land on the same key and records what
//! changed since the last [`FlowTable::take_changes`].
//!
//! Merging: two owners can produce the same (table, priority, match).
//! Conjunction clauses from several rule groups merge into one flow with
//! several `conjunction` actions (OVS allows that). A plain flow wins over
//! conjunction clauses with the same key — in the policy tables a key's
//! priority fixes its action, so the plain flow decides exactly as the
//! conjunction would have. Between plain flows the owner with the smallest
//! (cookie, owner) wins, so the result does not depend on insertion order.

use super::flow::{Flow, FlowKey, Instructions};
use super::fxhash::FxHashMap;
use crate::openflow::wire::{Action, FlowModView, Instruction};
use contiv_core::ir::TenantId;
use std::net::IpAddr;
use std::sync::Arc;

/// Who contributed a flow.
#[derive(Clone, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Owner {
    /// The fixed skeleton.
    Base,
    /// A network, by key.
    Network(Arc<str>),
    /// A local endpoint, by id.
    Local(Arc<str>),
    /// A remote endpoint, by id.
    Remote(Arc<str>),
    /// A membership (tenant, address).
    Member(TenantId, IpAddr),
    /// A policy rule group, by its conjunction id.
    Group(u32),
    /// A service, by key.
    Service(Arc<str>),
    /// The host port (external access).
    External,
    /// One tenant's external access.
    ExternalTenant(TenantId),
    /// The host's router on the fabric.
    Fabric,
    /// An external route, by prefix.
    Route(ipnet::Ipv4Net),
}

/// What an owner puts at a key.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Body {
    /// A plain flow.
    Plain {
        /// Its instructions.
        instructions: Instructions,
        /// Its cookie.
        cookie: u64,
    },
    /// Conjunction clauses: `(id, clause (0-based), n_clauses)`.
    Conj {
        /// The clauses this owner needs at the key.
        clauses: Vec<(u32, u8, u8)>,
        /// The owner's cookie.
        cookie: u64,
    },
}

impl Body {
    fn cookie(&self) -> u64 {
        match self {
            Body::Plain { cookie, .. } | Body::Conj { cookie, .. } => *cookie,
        }
    }
}

/// One change to the installed flows.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum FlowChange {
    /// Install or replace (an OpenFlow `add` replaces a flow with the same
    /// key).
    Add(Flow),
    /// Remove the flow with this key.
    Delete(Arc<FlowKey>),
}

impl FlowChange {
    /// The flow-mod that makes this change (`add`, or a strict delete),
    /// borrowing the flow: encode it with
    /// [`encode_bundle_flow_mod`](crate::openflow::wire::encode_bundle_flow_mod).
    pub fn flow_mod_view(&self) -> FlowModView<'_> {
        match self {
            FlowChange::Add(f) => f.flow_mod_view(),
            FlowChange::Delete(k) => k.delete_view(),
        }
    }
}

type Merged = (Instructions, u64);

/// The contributions at one key (almost always exactly one, kept inline).
#[derive(Debug)]
enum Contribs {
    Empty,
    One((Owner, Body)),
    Many(Vec<(Owner, Body)>),
}

impl Contribs {
    fn is_empty(&self) -> bool {
        matches!(self, Contribs::Empty)
    }

    fn as_slice(&self) -> &[(Owner, Body)] {
        match self {
            Contribs::Empty => &[],
            Contribs::One(p) => std::slice::from_ref(p),
            Contribs::Many(v) => v,
        }
    }

    fn find_mut(&mut self, owner: &Owner) -> Option<&mut Body> {
        match self {
            Contribs::Empty => None,
            Contribs::One((o, b)) => (o == owner).then_some(b),
            Contribs::Many(v) => v.iter_mut().find(|(o, _)| o == owner).map(|(_, b)| b),
        }
    }

    fn push(&mut self, owner: Owner, body: Body) {
        *self = match std::mem::replace(self, Contribs::Empty) {
            Contribs::Empty => Contribs::One((owner, body)),
            Contribs::One(p) => Contribs::Many(vec![p, (owner, body)]),
            Contribs::Many(mut v) => {
                v.push((owner, body));
                Contribs::Many(v)
            }
        };
    }

    fn remove(&mut self, owner: &Owner) {
        *self = match std::mem::replace(self, Contribs::Empty) {
            Contribs::One((o, _)) if o == *owner => Contribs::Empty,
            Contribs::Many(mut v) => {
                v.retain(|(o, _)| o != owner);
                match v.len() {
                    0 => Contribs::Empty,
                    1 => Contribs::One(v.remove(0)),
                    _ => Contribs::Many(v),
                }
            }
            other => other,
        };
    }
}

#[derive(Debug)]
struct Slot {
    key: Arc<FlowKey>,
    contribs: Contribs,
    /// The merged flow as of the last `take_changes`, recorded at the first
    /// touch since (`None` = not touched).
    before: Option<Option<Merged>>,
}

/// The merged flow set with change tracking. See the
/// [module documentation](self).
#[derive(Debug, Default)]
pub struct FlowTable {
    index: FxHashMap<Arc<FlowKey>, u32>,
    slots: Vec<Option<Slot>>,
    free: Vec<u32>,
    owned: FxHashMap<Owner, Vec<u32>>,
    touched: Vec<u32>,
    live: usize,
}

fn merge(contribs: &[(Owner, Body)]) -> Option<Merged> {
    if let [
        (
            _,
            Body::Plain {
                instructions,
                cookie,
            },
        ),
    ] = contribs
    {
        return Some((instructions.clone(), *cookie));
    }
    let plain = contribs
        .iter()
        .filter_map(|(o, b)| match b {
            Body::Plain {
                instructions,
                cookie,
            } => Some((*cookie, o, instructions)),
            Body::Conj { .. } => None,
        })
        .min_by(|a, b| (a.0, a.1).cmp(&(b.0, b.1)));
    if let Some((cookie, _, ins)) = plain {
        return Some((ins.clone(), cookie));
    }
    let cookie = contribs.iter().map(|(_, b)| b.cookie()).min()?;
    let mut clauses: Vec<(u32, u8, u8)> = contribs
        .iter()
        .flat_map(|(_, b)| match b {
            Body::Conj { clauses, .. } => clauses.as_slice(),
            Body::Plain { .. } => &[],
        })
        .copied()
        .collect();
    clauses.sort_unstable();
    clauses.dedup();
    let actions = clauses
        .into_iter()
        .map(|(id, clause, n_clauses)| Action::Conjunction {
            id,
            clause,
            n_clauses,
        })
        .collect();
    Some((Arc::from(vec![Instruction::ApplyActions(actions)]), cookie))
}

impl FlowTable {
    /// An empty table.
    pub fn new() -> FlowTable {
        FlowTable::default()
    }

    /// Makes room for `flows` more flows of `owners` more owners (avoids
    /// rehashing during a large compile).
    pub fn reserve(&mut self, flows: usize, owners: usize) {
        self.index.reserve(flows);
        self.slots.reserve(flows);
        self.touched.reserve(flows);
        self.owned.reserve(owners);
    }

    /// Number of distinct flows.
    pub fn len(&self) -> usize {
        self.live
    }

    /// Whether there are no flows.
    pub fn is_empty(&self) -> bool {
        self.live == 0
    }

    fn slot(&self, idx: u32) -> Option<&Slot> {
        self.slots.get(idx as usize).and_then(Option::as_ref)
    }

    fn slot_mut(&mut self, idx: u32) -> Option<&mut Slot> {
        self.slots.get_mut(idx as usize).and_then(Option::as_mut)
    }

    /// Records the merged flow at `idx` before its first change.
    fn touch(&mut self, idx: u32) {
        let Some(slot) = self.slot_mut(idx) else {
            return;
        };
        if slot.before.is_none() {
            slot.before = Some(merge(slot.contribs.as_slice()));
            self.touched.push(idx);
        }
    }

    fn slot_for(&mut self, key: FlowKey) -> u32 {
        use std::collections::hash_map::Entry;
        let key = Arc::new(key);
        let next = match self.free.last() {
            Some(&i) => i,
            None => self.slots.len() as u32,
        };
        match self.index.entry(key) {
            Entry::Occupied(e) => *e.get(),
            Entry::Vacant(e) => {
                // A new key: "before" is known (no flow), no merge needed.
                let slot = Slot {
                    key: e.key().clone(),
                    contribs: Contribs::Empty,
                    before: Some(None),
                };
                e.insert(next);
                self.touched.push(next);
                if self.free.pop().is_some() {
                    self.slots[next as usize] = Some(slot);
                } else {
                    self.slots.push(Some(slot));
                }
                next
            }
        }
    }

    /// Replaces everything `owner` contributes with `flows` (an empty list
    /// removes the owner). Two entries with the same key are combined:
    /// the first plain flow wins, conjunction clauses accumulate.
    pub fn replace(&mut self, owner: &Owner, flows: Vec<(FlowKey, Body)>) {
        if let Some(old) = self.owned.remove(owner) {
            for idx in old {
                self.touch(idx);
                if let Some(slot) = self.slot_mut(idx) {
                    let was = !slot.contribs.is_empty();
                    slot.contribs.remove(owner);
                    if was && slot.contribs.is_empty() {
                        // Kept (with its key) until `take_changes`, so a
                        // re-add in the same batch finds the same slot.
                        self.live -= 1;
                    }
                }
            }
        }
        if flows.is_empty() {
            return;
        }
        let mut mine: Vec<u32> = Vec::with_capacity(flows.len());
        for (key, body) in flows {
            let idx = self.slot_for(key);
            self.touch(idx);
            let Some(slot) = self.slots.get_mut(idx as usize).and_then(Option::as_mut) else {
                continue;
            };
            if slot.contribs.is_empty() {
                self.live += 1;
            }
            match slot.contribs.find_mut(owner) {
                None => {
                    slot.contribs.push(owner.clone(), body);
                    mine.push(idx);
                }
                Some(existing) => {
                    if let (Body::Conj { clauses, .. }, Body::Conj { clauses: more, .. }) =
                        (existing, body)
                    {
                        clauses.extend(more);
                    }
                }
            }
        }
        self.owned.insert(owner.clone(), mine);
    }

    /// Whether `owner` contributes anything.
    pub fn has_owner(&self, owner: &Owner) -> bool {
        self.owned.contains_key(owner)
    }

    /// The flows `owner` contributes to (merged as installed).
    pub fn flows_of(&self, owner: &Owner) -> Vec<Flow> {
        self.owned
            .get(owner)
            .map(|v| v.iter().filter_map(|&i| self.flow_at(i)).collect())
            .unwrap_or_default()
    }

    fn flow_at(&self, idx: u32) -> Option<Flow> {
        let slot = self.slot(idx)?;
        let (instructions, cookie) = merge(slot.contribs.as_slice())?;
        Some(Flow {
            key: slot.key.clone(),
            instructions,
            cookie,
        })
    }

    /// The merged flow at `key`, if any.
    pub fn get(&self, key: &FlowKey) -> Option<Flow> {
        self.flow_at(*self.index.get(key)?)
    }

    /// Every flow, merged, in no particular order.
    pub fn flows(&self) -> impl Iterator<Item = Flow> + '_ {
        (0..self.slots.len() as u32).filter_map(|i| self.flow_at(i))
    }

    /// What changed since the previous call: one entry per key whose merged
    /// flow differs (added, replaced, or removed). Deletes come first, then
    /// adds; both in slot order (deterministic for a given history).
    pub fn take_changes(&mut self) -> Vec<FlowChange> {
        let mut touched = std::mem::take(&mut self.touched);
        touched.sort_unstable();
        let mut deletes = Vec::new();
        let mut adds = Vec::with_capacity(touched.len());
        for idx in touched {
            let Some(slot) = self.slots.get_mut(idx as usize).and_then(Option::as_mut) else {
                continue;
            };
            let old = slot.before.take().flatten();
            if slot.contribs.is_empty() {
                let key = slot.key.clone();
                self.index.remove(&*key);
                self.slots[idx as usize] = None;
                self.free.push(idx);
                if old.is_some() {
                    deletes.push(FlowChange::Delete(key));
                }
                continue;
            }
            let Some((instructions, cookie)) = merge(slot.contribs.as_slice()) else {
                continue;
            };
            match old {
                Some((ins, c)) if ins == instructions && c == cookie => {}
                _ => adds.push(FlowChange::Add(Flow {
                    key: slot.key.clone(),
                    instructions,
                    cookie,
                })),
            }
        }
        if deletes.is_empty() {
            return adds;
        }
        deletes.append(&mut adds);
        deletes
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::openflow::wire::Match;

    fn key(reg: u32) -> FlowKey {
        FlowKey {
            table: 7,
            priority: 120,
            r#match: Match::new().reg(3, reg),
        }
    }

    fn plain(cookie: u64, t: u8) -> Body {
        Body::Plain {
            instructions: Arc::from(vec![Instruction::GotoTable(t)]),
            cookie,
        }
    }

    fn conj(id: u32, k: u8, cookie: u64) -> Body {
        Body::Conj {
            clauses: vec![(id, k, 2)],
            cookie,
        }
    }

    #[test]
    fn conjunction_clauses_from_several_owners_merge_into_one_flow() {
        let mut t = FlowTable::new();
        t.replace(&Owner::Group(1), vec![(key(5), conj(1, 0, 0x70))]);
        t.replace(&Owner::Group(2), vec![(key(5), conj(2, 0, 0x60))]);
        let ch = t.take_changes();
        assert_eq!(ch.len(), 1);
        let f = t.get(&key(5)).unwrap();
        assert_eq!(f.cookie, 0x60);
        assert_eq!(
            f.instructions.as_ref(),
            &[Instruction::ApplyActions(vec![
                Action::conjunction(1, 1, 2),
                Action::conjunction(2, 1, 2)
            ])]
        );
        // Removing one owner rewrites the flow; removing both deletes it.
        t.replace(&Owner::Group(1), vec![]);
        let ch = t.take_changes();
        assert!(matches!(&ch[..], [FlowChange::Add(f)] if f.instructions.len() == 1));
        t.replace(&Owner::Group(2), vec![]);
        assert_eq!(t.take_changes(), vec![FlowChange::Delete(Arc::new(key(5)))]);
        assert!(t.is_empty());
    }

    #[test]
    fn plain_flow_wins_over_clauses_and_smallest_cookie_wins_between_plain() {
        let mut t = FlowTable::new();
        t.replace(&Owner::Group(1), vec![(key(5), conj(1, 0, 0x10))]);
        t.replace(&Owner::Group(9), vec![(key(5), plain(0x90, 8))]);
        t.replace(&Owner::Group(8), vec![(key(5), plain(0x80, 8))]);
        t.take_changes();
        let f = t.get(&key(5)).unwrap();
        assert_eq!(f.cookie, 0x80);
        assert_eq!(f.instructions.as_ref(), &[Instruction::GotoTable(8)]);
        assert_eq!(t.len(), 1);
    }

    #[test]
    fn re_adding_the_same_flows_reports_no_change_and_slots_are_reused() {
        let mut t = FlowTable::new();
        let flows = vec![(key(1), plain(1, 8)), (key(2), plain(1, 8))];
        t.replace(&Owner::Base, flows.clone());
        assert_eq!(t.take_changes().len(), 2);
        t.replace(&Owner::Base, vec![]);
        t.replace(&Owner::Base, flows.clone());
        assert!(t.take_changes().is_empty());
        // Remove one key and add another in the same batch.
        t.replace(
            &Owner::Base,
            vec![(key(1), plain(1, 8)), (key(3), plain(1, 8))],
        );
        let ch = t.take_changes();
        assert_eq!(ch.len(), 2);
        assert_eq!(ch[0], FlowChange::Delete(Arc::new(key(2))));
        assert!(matches!(&ch[1], FlowChange::Add(f) if *f.key == key(3)));
        assert_eq!(t.len(), 2);
        assert_eq!(t.flows().count(), 2);
    }
}
