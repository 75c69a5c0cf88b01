//! `OFPT_GROUP_MOD` and group buckets.

use super::buf::{Reader, Writer};
use super::{Action, Error, Result, group_no, port_no};

/// Group-mod commands.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum GroupModCommand {
    /// Create a group.
    Add,
    /// Replace a group's type and buckets.
    Modify,
    /// Delete a group ([`group_no::ALL`] = every group).
    Delete,
    /// A command number this codec does not know.
    Other(u16),
}

impl GroupModCommand {
    fn to_u16(self) -> u16 {
        match self {
            GroupModCommand::Add => 0,
            GroupModCommand::Modify => 1,
            GroupModCommand::Delete => 2,
            GroupModCommand::Other(v) => v,
        }
    }
    fn from_u16(v: u16) -> Self {
        match v {
            0 => GroupModCommand::Add,
            1 => GroupModCommand::Modify,
            2 => GroupModCommand::Delete,
            v => GroupModCommand::Other(v),
        }
    }
}

/// Group types.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum GroupType {
    /// Execute all buckets (flooding, multicast).
    All,
    /// Execute one bucket (load balancing).
    Select,
    /// Execute the single bucket.
    Indirect,
    /// Execute the first live bucket.
    FastFailover,
    /// A type number this codec does not know.
    Other(u8),
}

impl GroupType {
    pub(crate) fn to_u8(self) -> u8 {
        match self {
            GroupType::All => 0,
            GroupType::Select => 1,
            GroupType::Indirect => 2,
            GroupType::FastFailover => 3,
            GroupType::Other(v) => v,
        }
    }
    pub(crate) fn from_u8(v: u8) -> Self {
        match v {
            0 => GroupType::All,
            1 => GroupType::Select,
            2 => GroupType::Indirect,
            3 => GroupType::FastFailover,
            v => GroupType::Other(v),
        }
    }
}

/// One bucket of a group.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct Bucket {
    /// Relative weight (select groups; 0 otherwise).
    pub weight: u16,
    /// Port whose liveness gates the bucket (fast-failover).
    pub watch_port: u32,
    /// Group whose liveness gates the bucket (fast-failover).
    pub watch_group: u32,
    /// The bucket's actions.
    pub actions: Vec<Action>,
}

impl Bucket {
    const FIXED_LEN: usize = 16;

    /// A bucket with these actions, weight 0 and no watch port/group.
    pub fn new(actions: Vec<Action>) -> Bucket {
        Bucket {
            weight: 0,
            watch_port: port_no::ANY,
            watch_group: group_no::ANY,
            actions,
        }
    }

    /// Encoded size.
    pub fn buffer_len(&self) -> usize {
        Self::FIXED_LEN + Action::list_len(&self.actions)
    }

    pub(crate) fn write(&self, w: &mut Writer<'_>) -> Result<()> {
        w.len16(self.buffer_len())?;
        w.u16(self.weight)?;
        w.u32(self.watch_port)?;
        w.u32(self.watch_group)?;
        w.zeros(4)?;
        Action::write_list(&self.actions, w)
    }

    /// Parses back-to-back buckets filling `buf`.
    pub(crate) fn read_list(mut buf: &[u8]) -> Result<Vec<Bucket>> {
        let mut out = Vec::new();
        while !buf.is_empty() {
            let mut r = Reader::new(buf, "group bucket");
            let len = usize::from(r.u16()?);
            if len < Self::FIXED_LEN || len > buf.len() {
                return Err(Error::Malformed {
                    what: "group bucket",
                    why: "bucket length is shorter than 16 or overruns the message",
                });
            }
            let weight = r.u16()?;
            let watch_port = r.u32()?;
            let watch_group = r.u32()?;
            r.skip(4)?;
            let actions = Action::read_list(&buf[Self::FIXED_LEN..len])?;
            out.push(Bucket {
                weight,
                watch_port,
                watch_group,
                actions,
            });
            buf = &buf[len..];
        }
        Ok(out)
    }
}

/// `OFPT_GROUP_MOD`.
///
/// ```
/// use contiv_dp_ovs::openflow::wire::{Action, Bucket, GroupMod, GroupType};
/// // group_id=7,type=all,bucket=output:1,bucket=output:2
/// let g = GroupMod::add(7, GroupType::All, vec![
///     Bucket::new(vec![Action::output(1)]),
///     Bucket::new(vec![Action::output(2)]),
/// ]);
/// assert_eq!(g.buckets.len(), 2);
/// ```
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct GroupMod {
    /// What to do.
    pub command: GroupModCommand,
    /// The group type.
    pub group_type: GroupType,
    /// The group id.
    pub group_id: u32,
    /// The buckets.
    pub buckets: Vec<Bucket>,
}

impl GroupMod {
    /// Adds a group.
    pub fn add(group_id: u32, group_type: GroupType, buckets: Vec<Bucket>) -> GroupMod {
        GroupMod {
            command: GroupModCommand::Add,
            group_type,
            group_id,
            buckets,
        }
    }

    /// Replaces a group.
    pub fn modify(group_id: u32, group_type: GroupType, buckets: Vec<Bucket>) -> GroupMod {
        GroupMod {
            command: GroupModCommand::Modify,
            ..Self::add(group_id, group_type, buckets)
        }
    }

    /// Deletes a group ([`group_no::ALL`] for all).
    pub fn delete(group_id: u32) -> GroupMod {
        GroupMod {
            command: GroupModCommand::Delete,
            ..Self::add(group_id, GroupType::All, Vec::new())
        }
    }

    /// Body size.
    pub fn body_len(&self) -> usize {
        8 + self.buckets.iter().map(Bucket::buffer_len).sum::<usize>()
    }

    pub(crate) fn write_body(&self, w: &mut Writer<'_>) -> Result<()> {
        w.u16(self.command.to_u16())?;
        w.u8(self.group_type.to_u8())?;
        w.zeros(1)?;
        w.u32(self.group_id)?;
        self.buckets.iter().try_for_each(|b| b.write(w))
    }

    pub(crate) fn read_body(r: &mut Reader<'_>) -> Result<GroupMod> {
        let command = GroupModCommand::from_u16(r.u16()?);
        let group_type = GroupType::from_u8(r.u8()?);
        r.skip(1)?;
        let group_id = r.u32()?;
        let buckets = Bucket::read_list(r.rest())?;
        Ok(GroupMod {
            command,
            group_type,
            group_id,
            buckets,
        })
    }
}
