//! Small constructors shared by the flow builders: instruction lists,
//! register loads, the tenant conntrack zone, keyed plain flows.

use super::flow::{FlowKey, Instructions};
use super::flow_table::Body;
use super::tables::{Table, reg};
use crate::openflow::wire::{Action, CtZone, Instruction, Masked, Match, NxmHeader, OxmField};
use std::sync::Arc;

/// `goto_table:<t>`.
pub fn goto(t: Table) -> Instructions {
    Arc::from(vec![Instruction::GotoTable(t.id())])
}

/// No instructions: drop.
pub fn drop() -> Instructions {
    Arc::from(Vec::new())
}

/// Apply `actions`, then `goto_table:<t>`.
pub fn actions_then(actions: Vec<Action>, t: Table) -> Instructions {
    if actions.is_empty() {
        return goto(t);
    }
    Arc::from(vec![
        Instruction::ApplyActions(actions),
        Instruction::GotoTable(t.id()),
    ])
}

/// Apply `actions` (and stop).
pub fn actions(actions: Vec<Action>) -> Instructions {
    if actions.is_empty() {
        return drop();
    }
    Arc::from(vec![Instruction::ApplyActions(actions)])
}

/// `set_field:<v>->reg<n>` (the whole register).
pub fn set_reg(index: u8, value: u32) -> Action {
    Action::SetField(OxmField::Reg {
        index,
        value: Masked::exact(value),
    })
}

/// `load:1->NXM_NX_REG<n>[bit]`.
pub fn set_bit(index: u8, bit: u16) -> Action {
    Action::load(NxmHeader::reg(index), bit, 1, 1)
}

/// The conntrack zone of the packet's tenant: `reg0[0..15]`.
pub fn tenant_zone() -> CtZone {
    CtZone::Field {
        field: NxmHeader::reg(reg::TENANT),
        ofs: 0,
        n_bits: 16,
    }
}

/// A plain flow entry for [`FlowTable::replace`](super::flow_table::FlowTable::replace).
pub fn plain(
    table: Table,
    priority: u16,
    r#match: Match,
    instructions: Instructions,
    cookie: u64,
) -> (FlowKey, Body) {
    (
        FlowKey {
            table: table.id(),
            priority,
            r#match,
        },
        Body::Plain {
            instructions,
            cookie,
        },
    )
}

/// Ethertypes.
pub mod eth {
    /// IPv4.
    pub const IPV4: u16 = 0x0800;
    /// IPv6.
    pub const IPV6: u16 = 0x86dd;
    /// ARP.
    pub const ARP: u16 = 0x0806;
    /// 802.1Q.
    pub const VLAN: u16 = 0x8100;
}

/// The broadcast/multicast destination-MAC match (group bit set).
pub fn multicast_dst(m: Match) -> Match {
    let b = crate::openflow::wire::MacAddr([1, 0, 0, 0, 0, 0]);
    m.eth_dst_masked(b, b)
}
