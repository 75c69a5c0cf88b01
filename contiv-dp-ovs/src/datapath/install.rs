//! Getting compiled flows into the switch: changes as one atomic bundle,
//! and the resync diff between the compiled set and what the switch holds.

use crate::openflow::conn::Connection;
use crate::openflow::wire::{
    FlowMod, FlowStats, FlowStatsRequest, GroupDesc, GroupMod, Message, MultipartReplyBody,
    MultipartRequestBody,
};
use crate::pipeline::compiler::GroupChanges;
use crate::pipeline::fxhash::FxHashMap;
use crate::pipeline::service::GroupSpec;
use crate::pipeline::{Flow, FlowChange, FlowKey, Instructions};
use contiv_core::datapath::DpError;
use std::collections::BTreeMap;
use std::sync::Arc;

/// The flow-mod of one change (`add` replaces a flow with the same key;
/// deletes are strict).
pub fn flow_mod(c: &FlowChange) -> FlowMod {
    c.flow_mod_view().to_owned()
}

/// Sends `changes` as one atomic bundle. Returns the number of flow-mods.
pub async fn send_bundle(conn: &Connection, changes: &[FlowChange]) -> Result<usize, DpError> {
    if changes.is_empty() {
        return Ok(0);
    }
    let msgs: Vec<Message> = changes
        .iter()
        .map(|c| Message::FlowMod(flow_mod(c)))
        .collect();
    conn.send_in_bundle(&msgs).await.map_err(|e| {
        DpError::Backend(format!(
            "OpenFlow: installing {} flow changes: {e}",
            msgs.len()
        ))
    })?;
    Ok(msgs.len())
}

/// Reads every flow of the bridge.
pub async fn installed(conn: &Connection) -> Result<Vec<FlowStats>, DpError> {
    conn.flow_stats(FlowStatsRequest::all())
        .await
        .map_err(|e| DpError::Backend(format!("OpenFlow: reading the installed flows: {e}")))
}

/// What a resync must do.
#[derive(Debug, Default)]
pub struct Diff {
    /// Flows to add or replace.
    pub changes: Vec<FlowChange>,
    /// Flows to add or replace (count).
    pub added: usize,
    /// Stale flows to delete (count).
    pub removed: usize,
    /// Flows already right.
    pub unchanged: usize,
}

/// Compares the compiled flows with the switch's: keys match on (table,
/// priority, match); a flow is right when its normalised instructions and
/// cookie are equal too. Deletes come first.
pub fn diff(desired: impl Iterator<Item = Flow>, switch: &[FlowStats]) -> Diff {
    let mut have: FxHashMap<Arc<FlowKey>, (Instructions, u64)> = switch
        .iter()
        .map(|s| {
            let f = Flow::from_stats(s);
            (f.key, (f.instructions, f.cookie))
        })
        .collect();
    let mut d = Diff::default();
    let mut adds = Vec::new();
    for f in desired {
        match have.remove(&*f.key) {
            Some((ins, cookie)) if ins == f.instructions && cookie == f.cookie => d.unchanged += 1,
            _ => adds.push(FlowChange::Add(f)),
        }
    }
    d.removed = have.len();
    d.added = adds.len();
    d.changes = have.into_keys().map(FlowChange::Delete).collect();
    d.changes.extend(adds);
    d
}

/// Sends group upserts, then `changes`, then group deletes, as one atomic
/// bundle (flows never point at a missing group). Returns the number of
/// messages.
pub async fn send_bundle_with_groups(
    conn: &Connection,
    groups: &GroupChanges,
    changes: &[FlowChange],
) -> Result<usize, DpError> {
    if groups.is_empty() {
        return send_bundle(conn, changes).await;
    }
    let mut msgs: Vec<Message> = groups
        .upserts
        .iter()
        .map(|(id, g, new)| {
            let b = g.buckets.clone();
            Message::GroupMod(if *new {
                GroupMod::add(*id, g.group_type, b)
            } else {
                GroupMod::modify(*id, g.group_type, b)
            })
        })
        .collect();
    msgs.extend(changes.iter().map(|c| Message::FlowMod(flow_mod(c))));
    msgs.extend(
        groups
            .deletes
            .iter()
            .map(|id| Message::GroupMod(GroupMod::delete(*id))),
    );
    conn.send_in_bundle(&msgs).await.map_err(|e| {
        DpError::Backend(format!(
            "OpenFlow: installing {} flow and group changes: {e}",
            msgs.len()
        ))
    })?;
    Ok(msgs.len())
}

/// Reads every group of the bridge.
pub async fn installed_groups(conn: &Connection) -> Result<Vec<GroupDesc>, DpError> {
    match conn.multipart(MultipartRequestBody::GroupDesc).await {
        Ok(MultipartReplyBody::GroupDesc(v)) => Ok(v),
        Ok(_) => Err(DpError::Backend(
            "OpenFlow: unexpected reply to a group description request".into(),
        )),
        Err(e) => Err(DpError::Backend(format!(
            "OpenFlow: reading the installed groups: {e}"
        ))),
    }
}

/// What turns the switch's groups into `want`: creates, modifies (a
/// different type or buckets) and deletes (every group not wanted).
pub fn diff_groups(want: &BTreeMap<u32, GroupSpec>, have: &[GroupDesc]) -> GroupChanges {
    let have: BTreeMap<u32, &GroupDesc> = have.iter().map(|g| (g.group_id, g)).collect();
    let mut out = GroupChanges::default();
    for (id, g) in want {
        match have.get(id) {
            Some(h) if h.group_type == g.group_type && h.buckets == g.buckets => {}
            Some(_) => out.upserts.push((*id, g.clone(), false)),
            None => out.upserts.push((*id, g.clone(), true)),
        }
    }
    out.deletes = have
        .keys()
        .filter(|id| !want.contains_key(id))
        .copied()
        .collect();
    out
}
