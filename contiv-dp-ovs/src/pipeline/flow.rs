//! The typed flow the pipeline compiles to: easy to diff, to render like
//! `ovs-ofctl dump-flows`, and to encode as a [`FlowMod`].

use crate::openflow::wire::{Action, FlowMod, FlowModView, FlowStats, Instruction, Match};
use std::fmt;
use std::sync::Arc;

/// What identifies a flow in a switch: table, priority and match (an
/// OpenFlow `add` with the same key replaces the flow; a strict delete
/// removes it).
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct FlowKey {
    /// Table id.
    pub table: u8,
    /// Priority.
    pub priority: u16,
    /// Match (fields in canonical order).
    pub r#match: Match,
}

/// Shared, immutable instruction lists (many policy flows share one).
pub type Instructions = Arc<[Instruction]>;

/// One flow: key, instructions (empty = drop) and owner cookie.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct Flow {
    /// Table, priority, match (shared with the flow table's index).
    pub key: Arc<FlowKey>,
    /// Instructions, normalised (see [`normalize_instructions`]).
    pub instructions: Instructions,
    /// Owner cookie ([`CookieKind`](super::CookieKind) layout).
    pub cookie: u64,
}

impl Flow {
    /// A flow in `table` at `priority`.
    pub fn new(
        table: u8,
        priority: u16,
        r#match: Match,
        instructions: Instructions,
        cookie: u64,
    ) -> Flow {
        Flow {
            key: Arc::new(FlowKey {
                table,
                priority,
                r#match,
            }),
            instructions,
            cookie,
        }
    }

    /// The `add` flow-mod that installs (or replaces) this flow.
    pub fn to_flow_mod(&self) -> FlowMod {
        self.flow_mod_view().to_owned()
    }

    /// [`Flow::to_flow_mod`] borrowing this flow's match and instructions
    /// (to encode without cloning them).
    pub fn flow_mod_view(&self) -> FlowModView<'_> {
        FlowModView::add(
            self.key.table,
            self.key.priority,
            self.cookie,
            &self.key.r#match,
            &self.instructions,
        )
    }

    /// A flow read back from the switch, instructions normalised.
    pub fn from_stats(s: &FlowStats) -> Flow {
        Flow::new(
            s.table_id,
            s.priority,
            s.r#match.clone(),
            normalize_instructions(s.instructions.clone()).into(),
            s.cookie,
        )
    }
}

impl FlowKey {
    /// The strict delete of exactly this flow.
    pub fn to_delete(&self) -> FlowMod {
        self.delete_view().to_owned()
    }

    /// [`FlowKey::to_delete`] borrowing the match.
    pub fn delete_view(&self) -> FlowModView<'_> {
        FlowModView::delete_strict(self.table, self.priority, &self.r#match)
    }
}

/// Puts an instruction list into the one form this crate compares:
/// instructions in OpenFlow execution order (apply-actions, clear,
/// write-actions, write-metadata, goto — the order OVS reports them in),
/// empty apply-actions dropped, and `conjunction` actions (whose order
/// OVS does not preserve and which mean the same in any order) sorted.
pub fn normalize_instructions(mut v: Vec<Instruction>) -> Vec<Instruction> {
    v.retain(|i| !matches!(i, Instruction::ApplyActions(a) if a.is_empty()));
    for i in &mut v {
        if let Instruction::ApplyActions(actions) = i
            && actions
                .iter()
                .all(|a| matches!(a, Action::Conjunction { .. }))
        {
            actions.sort_by_key(|a| match a {
                Action::Conjunction {
                    id,
                    clause,
                    n_clauses,
                } => (*id, *clause, *n_clauses),
                _ => (0, 0, 0),
            });
        }
    }
    v.sort_by_key(instruction_rank);
    v
}

fn instruction_rank(i: &Instruction) -> u8 {
    match i {
        Instruction::Meter(_) => 0,
        Instruction::ApplyActions(_) => 1,
        Instruction::ClearActions => 2,
        Instruction::WriteActions(_) => 3,
        Instruction::WriteMetadata { .. } => 4,
        Instruction::GotoTable(_) => 5,
        Instruction::Unknown { .. } => 6,
    }
}

impl fmt::Display for FlowKey {
    /// `table=T priority=P[,match]`.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "table={} priority={}", self.table, self.priority)?;
        let m = super::render::match_text(&self.r#match);
        if !m.is_empty() {
            write!(f, ",{m}")?;
        }
        Ok(())
    }
}

impl fmt::Display for Flow {
    /// `table=T priority=P[,match] actions=A` (the form of
    /// [`FlowLine`](crate::openflow::dump::FlowLine), without the cookie;
    /// `{:#}` prefixes `cookie=0x…`).
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if f.alternate() {
            write!(f, "cookie={:#x} ", self.cookie)?;
        }
        write!(
            f,
            "{} actions={}",
            self.key,
            super::render::instructions_text(&self.instructions)
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn normalisation_orders_instructions_and_sorts_conjunctions() {
        let v = vec![
            Instruction::GotoTable(3),
            Instruction::ApplyActions(vec![]),
            Instruction::ApplyActions(vec![
                Action::conjunction(9, 2, 2),
                Action::conjunction(3, 1, 2),
            ]),
        ];
        assert_eq!(
            normalize_instructions(v),
            vec![
                Instruction::ApplyActions(vec![
                    Action::conjunction(3, 1, 2),
                    Action::conjunction(9, 2, 2),
                ]),
                Instruction::GotoTable(3),
            ]
        );
    }

    #[test]
    fn flow_mod_carries_key_cookie_and_instructions() {
        let f = Flow::new(
            4,
            100,
            Match::new().reg(3, 7),
            vec![Instruction::GotoTable(5)].into(),
            0x0500_0000_0000_0001,
        );
        let fm = f.to_flow_mod();
        assert_eq!((fm.table_id, fm.priority, fm.cookie), (4, 100, f.cookie));
        assert_eq!(fm.instructions, vec![Instruction::GotoTable(5)]);
        let d = f.key.to_delete();
        assert_eq!((d.table_id, d.priority), (4, 100));
        assert_eq!(d.r#match, f.key.r#match);
        assert_eq!(
            f.to_string(),
            "table=4 priority=100,reg3=0x7 actions=goto_table:5"
        );
    }
}
