//! `OFPT_FLOW_MOD`.

use super::buf::{Reader, Writer};
use super::{Action, Instruction, Match, NO_BUFFER, Result, group_no, port_no, table_no};

/// Flow-mod commands.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum FlowModCommand {
    /// Add (or replace an identical-match flow).
    Add,
    /// Modify matching flows (non-strict).
    Modify,
    /// Modify the flow with exactly this match and priority.
    ModifyStrict,
    /// Delete matching flows (non-strict; honours cookie/mask, out_port).
    Delete,
    /// Delete the flow with exactly this match and priority.
    DeleteStrict,
    /// A command number this codec does not know.
    Other(u8),
}

impl FlowModCommand {
    fn to_u8(self) -> u8 {
        match self {
            FlowModCommand::Add => 0,
            FlowModCommand::Modify => 1,
            FlowModCommand::ModifyStrict => 2,
            FlowModCommand::Delete => 3,
            FlowModCommand::DeleteStrict => 4,
            FlowModCommand::Other(v) => v,
        }
    }

    fn from_u8(v: u8) -> Self {
        match v {
            0 => FlowModCommand::Add,
            1 => FlowModCommand::Modify,
            2 => FlowModCommand::ModifyStrict,
            3 => FlowModCommand::Delete,
            4 => FlowModCommand::DeleteStrict,
            v => FlowModCommand::Other(v),
        }
    }
}

/// Flow-mod flags (`OFPFF_*`).
pub mod flow_mod_flags {
    /// Send flow-removed when the flow expires or is deleted.
    pub const SEND_FLOW_REM: u16 = 1 << 0;
    /// Check for overlapping entries first.
    pub const CHECK_OVERLAP: u16 = 1 << 1;
    /// Reset packet and byte counts.
    pub const RESET_COUNTS: u16 = 1 << 2;
    /// Do not keep packet counts.
    pub const NO_PKT_COUNTS: u16 = 1 << 3;
    /// Do not keep byte counts.
    pub const NO_BYT_COUNTS: u16 = 1 << 4;
}

/// `OFPT_FLOW_MOD`: add, modify or delete flows.
///
/// ```
/// use contiv_dp_ovs::openflow::wire::{Action, FlowMod, Instruction, Match};
/// // table=1,priority=100,cookie=0x5,ip,nw_dst=10.0.0.1
/// //   actions=set_field:…->eth_dst,goto_table:2
/// let f = FlowMod::add(1, 100)
///     .cookie(5)
///     .matching(Match::new().eth_type(0x0800).ipv4_dst("10.0.0.1".parse().unwrap()))
///     .apply(vec![Action::output(3)])
///     .goto(2);
/// assert_eq!(f.instructions.len(), 2);
/// // Delete everything an owner installed: all tables, cookie under a mask.
/// let d = FlowMod::delete_by_cookie(0x0100_0000_0000_0000, 0xff00_0000_0000_0000);
/// assert_eq!(d.table_id, 0xff);
/// ```
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct FlowMod {
    /// Opaque id chosen by the controller (ownership / resync marker).
    pub cookie: u64,
    /// For modify/delete: which cookie bits must match.
    pub cookie_mask: u64,
    /// Table (255 = all, for delete).
    pub table_id: u8,
    /// What to do.
    pub command: FlowModCommand,
    /// Idle timeout in seconds (0 = none).
    pub idle_timeout: u16,
    /// Hard timeout in seconds (0 = none).
    pub hard_timeout: u16,
    /// Priority (higher wins).
    pub priority: u16,
    /// Buffered packet to apply to, or [`NO_BUFFER`].
    pub buffer_id: u32,
    /// For delete: only flows that output to this port ([`port_no::ANY`] = any).
    pub out_port: u32,
    /// For delete: only flows that output to this group ([`group_no::ANY`]).
    pub out_group: u32,
    /// [`flow_mod_flags`] bits.
    pub flags: u16,
    /// The match.
    pub r#match: Match,
    /// The instructions (empty = drop).
    pub instructions: Vec<Instruction>,
}

impl FlowMod {
    /// Fixed part of the body (after the 8-byte header, before the match).
    const FIXED_LEN: usize = 40;

    fn base(command: FlowModCommand, table_id: u8, priority: u16) -> FlowMod {
        FlowMod {
            cookie: 0,
            cookie_mask: 0,
            table_id,
            command,
            idle_timeout: 0,
            hard_timeout: 0,
            priority,
            buffer_id: NO_BUFFER,
            out_port: port_no::ANY,
            out_group: group_no::ANY,
            flags: 0,
            r#match: Match::new(),
            instructions: Vec::new(),
        }
    }

    /// An `add` in `table_id` at `priority`, matching everything, dropping.
    pub fn add(table_id: u8, priority: u16) -> FlowMod {
        Self::base(FlowModCommand::Add, table_id, priority)
    }

    /// A strict modify of the flow with this table, priority and match.
    pub fn modify_strict(table_id: u8, priority: u16) -> FlowMod {
        Self::base(FlowModCommand::ModifyStrict, table_id, priority)
    }

    /// A non-strict delete in `table_id` (255 = all tables).
    pub fn delete(table_id: u8) -> FlowMod {
        Self::base(FlowModCommand::Delete, table_id, 0)
    }

    /// A strict delete of the flow with this table, priority and match.
    pub fn delete_strict(table_id: u8, priority: u16) -> FlowMod {
        Self::base(FlowModCommand::DeleteStrict, table_id, priority)
    }

    /// Deletes, in all tables, every flow whose cookie matches under `mask`.
    pub fn delete_by_cookie(cookie: u64, mask: u64) -> FlowMod {
        Self::delete(table_no::ALL).cookie_masked(cookie, mask)
    }

    /// Sets the cookie.
    pub fn cookie(mut self, cookie: u64) -> FlowMod {
        self.cookie = cookie;
        self
    }

    /// Sets the cookie and the cookie mask (for modify/delete).
    pub fn cookie_masked(mut self, cookie: u64, mask: u64) -> FlowMod {
        self.cookie = cookie;
        self.cookie_mask = mask;
        self
    }

    /// Sets the match.
    pub fn matching(mut self, m: Match) -> FlowMod {
        self.r#match = m;
        self
    }

    /// Appends an instruction.
    pub fn instruction(mut self, i: Instruction) -> FlowMod {
        self.instructions.push(i);
        self
    }

    /// Appends an apply-actions instruction.
    pub fn apply(self, actions: Vec<Action>) -> FlowMod {
        self.instruction(Instruction::ApplyActions(actions))
    }

    /// Appends `goto_table:<t>`.
    pub fn goto(self, t: u8) -> FlowMod {
        self.instruction(Instruction::GotoTable(t))
    }

    /// Appends `write_metadata:<value>/<mask>`.
    pub fn write_metadata(self, value: u64, mask: u64) -> FlowMod {
        self.instruction(Instruction::WriteMetadata { value, mask })
    }

    /// Sets the flags.
    pub fn flags(mut self, flags: u16) -> FlowMod {
        self.flags = flags;
        self
    }

    /// Sets idle and hard timeouts.
    pub fn timeouts(mut self, idle: u16, hard: u16) -> FlowMod {
        self.idle_timeout = idle;
        self.hard_timeout = hard;
        self
    }

    /// Body size (without the 8-byte message header).
    pub fn body_len(&self) -> usize {
        self.view().body_len()
    }

    pub(crate) fn write_body(&self, w: &mut Writer<'_>) -> Result<()> {
        self.view().write_body(w)
    }

    /// This flow-mod as a [`FlowModView`] (borrowing match and
    /// instructions).
    pub fn view(&self) -> FlowModView<'_> {
        FlowModView {
            cookie: self.cookie,
            cookie_mask: self.cookie_mask,
            table_id: self.table_id,
            command: self.command,
            idle_timeout: self.idle_timeout,
            hard_timeout: self.hard_timeout,
            priority: self.priority,
            buffer_id: self.buffer_id,
            out_port: self.out_port,
            out_group: self.out_group,
            flags: self.flags,
            r#match: &self.r#match,
            instructions: &self.instructions,
        }
    }

    pub(crate) fn read_body(r: &mut Reader<'_>) -> Result<FlowMod> {
        let cookie = r.u64()?;
        let cookie_mask = r.u64()?;
        let table_id = r.u8()?;
        let command = FlowModCommand::from_u8(r.u8()?);
        let idle_timeout = r.u16()?;
        let hard_timeout = r.u16()?;
        let priority = r.u16()?;
        let buffer_id = r.u32()?;
        let out_port = r.u32()?;
        let out_group = r.u32()?;
        let flags = r.u16()?;
        r.skip(2)?;
        let m = Match::read(r)?;
        let instructions = Instruction::read_list(r.rest())?;
        Ok(FlowMod {
            cookie,
            cookie_mask,
            table_id,
            command,
            idle_timeout,
            hard_timeout,
            priority,
            buffer_id,
            out_port,
            out_group,
            flags,
            r#match: m,
            instructions,
        })
    }
}

/// A [`FlowMod`] that borrows its match and instructions: encodes to the
/// same bytes without cloning them (the pipeline sends flows it keeps;
/// see [`encode_bundle_flow_mod`](super::encode_bundle_flow_mod)).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct FlowModView<'a> {
    /// See [`FlowMod::cookie`].
    pub cookie: u64,
    /// See [`FlowMod::cookie_mask`].
    pub cookie_mask: u64,
    /// See [`FlowMod::table_id`].
    pub table_id: u8,
    /// See [`FlowMod::command`].
    pub command: FlowModCommand,
    /// See [`FlowMod::idle_timeout`].
    pub idle_timeout: u16,
    /// See [`FlowMod::hard_timeout`].
    pub hard_timeout: u16,
    /// See [`FlowMod::priority`].
    pub priority: u16,
    /// See [`FlowMod::buffer_id`].
    pub buffer_id: u32,
    /// See [`FlowMod::out_port`].
    pub out_port: u32,
    /// See [`FlowMod::out_group`].
    pub out_group: u32,
    /// See [`FlowMod::flags`].
    pub flags: u16,
    /// The match.
    pub r#match: &'a Match,
    /// The instructions (empty = drop).
    pub instructions: &'a [Instruction],
}

impl<'a> FlowModView<'a> {
    fn base(command: FlowModCommand, table_id: u8, priority: u16, m: &'a Match) -> Self {
        FlowModView {
            cookie: 0,
            cookie_mask: 0,
            table_id,
            command,
            idle_timeout: 0,
            hard_timeout: 0,
            priority,
            buffer_id: NO_BUFFER,
            out_port: port_no::ANY,
            out_group: group_no::ANY,
            flags: 0,
            r#match: m,
            instructions: &[],
        }
    }

    /// Like [`FlowMod::add`] with `cookie`, `m` and `instructions`.
    pub fn add(
        table_id: u8,
        priority: u16,
        cookie: u64,
        m: &'a Match,
        instructions: &'a [Instruction],
    ) -> Self {
        FlowModView {
            cookie,
            instructions,
            ..Self::base(FlowModCommand::Add, table_id, priority, m)
        }
    }

    /// Like [`FlowMod::delete_strict`] matching `m`.
    pub fn delete_strict(table_id: u8, priority: u16, m: &'a Match) -> Self {
        Self::base(FlowModCommand::DeleteStrict, table_id, priority, m)
    }

    /// Body size (without the 8-byte message header).
    pub fn body_len(&self) -> usize {
        FlowMod::FIXED_LEN + self.r#match.buffer_len() + Instruction::list_len(self.instructions)
    }

    pub(crate) fn write_body(&self, w: &mut Writer<'_>) -> Result<()> {
        w.u64(self.cookie)?;
        w.u64(self.cookie_mask)?;
        w.u8(self.table_id)?;
        w.u8(self.command.to_u8())?;
        w.u16(self.idle_timeout)?;
        w.u16(self.hard_timeout)?;
        w.u16(self.priority)?;
        w.u32(self.buffer_id)?;
        w.u32(self.out_port)?;
        w.u32(self.out_group)?;
        w.u16(self.flags)?;
        w.zeros(2)?;
        self.r#match.write(w)?;
        Instruction::write_list(self.instructions, w)
    }

    /// An owned [`FlowMod`] with the same content (clones match and
    /// instructions).
    pub fn to_owned(&self) -> FlowMod {
        FlowMod {
            cookie: self.cookie,
            cookie_mask: self.cookie_mask,
            table_id: self.table_id,
            command: self.command,
            idle_timeout: self.idle_timeout,
            hard_timeout: self.hard_timeout,
            priority: self.priority,
            buffer_id: self.buffer_id,
            out_port: self.out_port,
            out_group: self.out_group,
            flags: self.flags,
            r#match: self.r#match.clone(),
            instructions: self.instructions.to_vec(),
        }
    }
}
