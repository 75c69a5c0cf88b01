//! The npol plugin's state in the test server: ipsets, rules, policies
//! and interface configurations, with the checks and return values of
//! the plugin's handlers (FDio/vpp `src/plugins/npol`, read for this):
//!
//! * ids come from one pool per kind (ipsets, rules, policies), each
//!   starting at 0, a freed id reused first — ids of different kinds
//!   collide, as in VPP;
//! * `npol_ipset_create` always succeeds; `npol_ipset_add_del_members` on
//!   an unknown set is `NO_SUCH_ENTRY`; members are decoded as the set's
//!   type, an added member is appended (a duplicate is a second member)
//!   and a removal removes one equal member;
//! * `npol_rule_create` / `_update` and `npol_policy_create` / `_update`
//!   do **not** check the ipsets or rules they name; an update of an
//!   unknown id creates a new object (whose id the reply does not carry);
//!   an entry of an unknown type is `UNSPECIFIED` (-1);
//! * `*_delete` of an unknown id is `NO_SUCH_ENTRY`;
//! * `npol_configure_policies` on an unknown interface is
//!   `INVALID_SW_IF_INDEX`, naming an unknown policy is 1; no policy ids
//!   leaves the interface configured with empty lists (its defaults
//!   decide); deleting an interface removes its configuration.
//!
//! Where VPP does not check and would misbehave, the server refuses
//! instead, with `INVALID_VALUE`: `num_rx_policies + num_tx_policies`
//! above `total_ids` (VPP computes the profile count by unsigned
//! subtraction), a member the server cannot decode (it models `NPOL_IP`
//! sets' addresses and `NPOL_NET` sets' prefixes only: other types are
//! `UNIMPLEMENTED`). npol has no dump messages: tests read this state
//! directly ([`VppTestServer::state`](super::VppTestServer::state)).

use super::state::Rv;
use crate::api::types::{
    NpolEntryType, NpolIpsetMember, NpolIpsetType, NpolPolicyDefault, NpolPolicyItem, NpolRule,
};
use crate::errno;
use ipnet::IpNet;
use std::collections::BTreeMap;
use std::net::IpAddr;

/// An ipset.
#[derive(Clone, Debug, PartialEq)]
pub struct Ipset {
    /// Its type.
    pub kind: NpolIpsetType,
    /// Its members in the order added (`NPOL_IP`: host prefixes;
    /// `NPOL_NET`: prefixes), duplicates kept as VPP keeps them.
    pub members: Vec<IpNet>,
}

impl Ipset {
    /// True if `ip` is a member (an address of an `NPOL_IP` set, or in a
    /// prefix of an `NPOL_NET` set).
    pub fn contains(&self, ip: &IpAddr) -> bool {
        self.members.iter().any(|n| n.contains(ip))
    }
}

/// A pool of ids as VPP's `pool_get` hands them out: the most recently
/// freed first, else the next new one.
#[derive(Clone, Debug, Default)]
struct Pool {
    free: Vec<u32>,
    next: u32,
}

impl Pool {
    fn get(&mut self) -> u32 {
        self.free.pop().unwrap_or_else(|| {
            self.next += 1;
            self.next - 1
        })
    }

    fn put(&mut self, id: u32) {
        self.free.push(id);
    }
}

/// An interface's npol configuration (`npol_configure_policies`).
#[derive(Clone, Debug, PartialEq)]
pub struct NpolIface {
    /// RX policies (packets the interface sends into VPP).
    pub rx: Vec<u32>,
    /// TX policies (packets VPP sends out of it).
    pub tx: Vec<u32>,
    /// Profiles (evaluated after the policies, both directions).
    pub profiles: Vec<u32>,
    /// RX and TX swapped.
    pub invert: bool,
    /// Policy defaults (rx, tx).
    pub policy_default: (NpolPolicyDefault, NpolPolicyDefault),
    /// Profile defaults (rx, tx).
    pub profile_default: (NpolPolicyDefault, NpolPolicyDefault),
}

/// The npol plugin's state.
#[derive(Clone, Debug, Default)]
pub struct NpolState {
    /// Ipsets by id.
    pub ipsets: BTreeMap<u32, Ipset>,
    /// Rules by id.
    pub rules: BTreeMap<u32, NpolRule>,
    /// Policies (their items) by id.
    pub policies: BTreeMap<u32, Vec<NpolPolicyItem>>,
    /// Configured interfaces by sw_if_index.
    pub interfaces: BTreeMap<u32, NpolIface>,
    set_ids: Pool,
    rule_ids: Pool,
    policy_ids: Pool,
}

fn ok_if(c: bool, rv: Rv) -> Result<(), Rv> {
    if c { Ok(()) } else { Err(rv) }
}

impl NpolState {
    /// `npol_ipset_create` (VPP does not check the type).
    pub fn ipset_create(&mut self, kind: NpolIpsetType) -> Result<u32, Rv> {
        let id = self.set_ids.get();
        self.ipsets.insert(
            id,
            Ipset {
                kind,
                members: Vec::new(),
            },
        );
        Ok(id)
    }

    /// `npol_ipset_add_del_members`: member by member, stopping at the
    /// first that cannot be decoded (those before it stay applied).
    pub fn ipset_members(
        &mut self,
        id: u32,
        is_add: bool,
        members: &[NpolIpsetMember],
    ) -> Result<(), Rv> {
        let set = self.ipsets.get_mut(&id).ok_or(errno::NO_SUCH_ENTRY)?;
        for m in members {
            let net = match set.kind {
                NpolIpsetType::NPOL_IP => m.val.address().ip().map(IpNet::from),
                NpolIpsetType::NPOL_NET => m.val.prefix().net(),
                _ => return Err(errno::UNIMPLEMENTED),
            }
            .ok_or(errno::INVALID_VALUE)?;
            if is_add {
                set.members.push(net);
            } else if let Some(i) = set.members.iter().position(|n| *n == net) {
                set.members.remove(i);
            }
        }
        Ok(())
    }

    /// `npol_ipset_delete`.
    pub fn ipset_delete(&mut self, id: u32) -> Result<(), Rv> {
        self.ipsets.remove(&id).ok_or(errno::NO_SUCH_ENTRY)?;
        self.set_ids.put(id);
        Ok(())
    }

    /// An entry of a known type (VPP decodes each; a prefix that does not
    /// decode is refused too).
    fn check_rule(r: &NpolRule) -> Result<(), Rv> {
        for e in &r.matches {
            match e.r#type {
                NpolEntryType::NPOL_CIDR => {
                    ok_if(e.data.cidr().net().is_some(), errno::INVALID_VALUE)?;
                }
                NpolEntryType::NPOL_PORT_RANGE
                | NpolEntryType::NPOL_IP_SET
                | NpolEntryType::NPOL_PORT_IP_SET => {}
                _ => return Err(errno::UNSPECIFIED),
            }
        }
        Ok(())
    }

    /// `npol_rule_create`.
    pub fn rule_create(&mut self, r: NpolRule) -> Result<u32, Rv> {
        Self::check_rule(&r)?;
        let id = self.rule_ids.get();
        self.rules.insert(id, r);
        Ok(id)
    }

    /// `npol_rule_update` (an unknown id creates a new rule).
    pub fn rule_update(&mut self, id: u32, r: NpolRule) -> Result<(), Rv> {
        Self::check_rule(&r)?;
        if let Some(have) = self.rules.get_mut(&id) {
            *have = r;
        } else {
            self.rule_create(r)?;
        }
        Ok(())
    }

    /// `npol_rule_delete`.
    pub fn rule_delete(&mut self, id: u32) -> Result<(), Rv> {
        self.rules.remove(&id).ok_or(errno::NO_SUCH_ENTRY)?;
        self.rule_ids.put(id);
        Ok(())
    }

    /// `npol_policy_create` (rule ids are not checked).
    pub fn policy_create(&mut self, items: Vec<NpolPolicyItem>) -> Result<u32, Rv> {
        let id = self.policy_ids.get();
        self.policies.insert(id, items);
        Ok(id)
    }

    /// `npol_policy_update` (an unknown id creates a new policy).
    pub fn policy_update(&mut self, id: u32, items: Vec<NpolPolicyItem>) -> Result<(), Rv> {
        if let Some(have) = self.policies.get_mut(&id) {
            *have = items;
        } else {
            self.policy_create(items)?;
        }
        Ok(())
    }

    /// `npol_policy_delete`.
    pub fn policy_delete(&mut self, id: u32) -> Result<(), Rv> {
        self.policies.remove(&id).ok_or(errno::NO_SUCH_ENTRY)?;
        self.policy_ids.put(id);
        Ok(())
    }

    /// `npol_configure_policies` (`exists`: the interface does).
    pub fn configure(
        &mut self,
        exists: bool,
        m: &crate::api::npol::NpolConfigurePolicies,
    ) -> Result<(), Rv> {
        ok_if(exists, errno::INVALID_SW_IF_INDEX)?;
        let (rx, tx) = (m.num_rx_policies as usize, m.num_tx_policies as usize);
        ok_if(
            rx.checked_add(tx).is_some_and(|n| n <= m.policy_ids.len()),
            errno::INVALID_VALUE,
        )?;
        // VPP's `goto error` path returns 1.
        ok_if(
            m.policy_ids.iter().all(|p| self.policies.contains_key(p)),
            1,
        )?;
        self.interfaces.insert(
            m.sw_if_index,
            NpolIface {
                rx: m.policy_ids[..rx].to_vec(),
                tx: m.policy_ids[rx..rx + tx].to_vec(),
                profiles: m.policy_ids[rx + tx..].to_vec(),
                invert: m.invert_rx_tx != 0,
                policy_default: (m.policy_default_rx, m.policy_default_tx),
                profile_default: (m.profile_default_rx, m.profile_default_tx),
            },
        );
        Ok(())
    }
}
