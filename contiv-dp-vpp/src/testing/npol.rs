//! The npol plugin's state in the test server: ipsets, rules, policies
//! and interface configurations, with the plugin's checks and return
//! values (unknown ids: `NO_SUCH_ENTRY`; unknown interfaces:
//! `INVALID_SW_IF_INDEX`; counts that do not add up, a member of another
//! kind than its set: `INVALID_VALUE`). npol has no dump messages: tests
//! read this state directly ([`VppTestServer::state`](super::VppTestServer::state)).

use super::state::Rv;
use crate::api::types::{
    NpolEntryType, NpolIpsetMember, NpolIpsetType, NpolPolicyDefault, NpolPolicyItem, NpolRule,
};
use crate::errno;
use std::collections::{BTreeMap, BTreeSet};
use std::net::IpAddr;

/// An ipset.
#[derive(Clone, Debug, PartialEq)]
pub struct Ipset {
    /// Its type.
    pub kind: NpolIpsetType,
    /// Its members (type `NPOL_IP`: addresses).
    pub members: BTreeSet<IpAddr>,
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
    next: u32,
}

fn ok_if(c: bool, rv: Rv) -> Result<(), Rv> {
    if c { Ok(()) } else { Err(rv) }
}

impl NpolState {
    fn id(&mut self) -> u32 {
        // VPP's pools: ids per object kind; one counter keeps them unique.
        self.next += 1;
        self.next - 1
    }

    /// `npol_ipset_create`.
    pub fn ipset_create(&mut self, kind: NpolIpsetType) -> Result<u32, Rv> {
        ok_if(kind.0 <= NpolIpsetType::NPOL_NET.0, errno::INVALID_VALUE)?;
        let id = self.id();
        self.ipsets.insert(
            id,
            Ipset {
                kind,
                members: BTreeSet::new(),
            },
        );
        Ok(id)
    }

    /// `npol_ipset_add_del_members`: all or nothing.
    pub fn ipset_members(
        &mut self,
        id: u32,
        is_add: bool,
        members: &[NpolIpsetMember],
    ) -> Result<(), Rv> {
        let set = self.ipsets.get_mut(&id).ok_or(errno::NO_SUCH_ENTRY)?;
        // This server models address sets only.
        ok_if(set.kind == NpolIpsetType::NPOL_IP, errno::UNIMPLEMENTED)?;
        let ips: Vec<IpAddr> = members
            .iter()
            .map(|m| m.val.address().ip().ok_or(errno::INVALID_VALUE))
            .collect::<Result<_, _>>()?;
        for ip in ips {
            if is_add {
                set.members.insert(ip);
            } else {
                set.members.remove(&ip);
            }
        }
        Ok(())
    }

    /// `npol_ipset_delete`.
    pub fn ipset_delete(&mut self, id: u32) -> Result<(), Rv> {
        self.ipsets
            .remove(&id)
            .map(|_| ())
            .ok_or(errno::NO_SUCH_ENTRY)
    }

    fn check_rule(&self, r: &NpolRule) -> Result<(), Rv> {
        for e in &r.matches {
            match e.r#type {
                NpolEntryType::NPOL_CIDR => {
                    ok_if(e.data.cidr().net().is_some(), errno::INVALID_VALUE)?;
                }
                NpolEntryType::NPOL_PORT_RANGE => {
                    let p = e.data.port_range();
                    ok_if(p.start <= p.end, errno::INVALID_VALUE)?;
                }
                NpolEntryType::NPOL_IP_SET | NpolEntryType::NPOL_PORT_IP_SET => {
                    ok_if(
                        self.ipsets.contains_key(&e.data.set_id().set_id),
                        errno::NO_SUCH_ENTRY,
                    )?;
                }
                _ => return Err(errno::INVALID_VALUE),
            }
        }
        Ok(())
    }

    /// `npol_rule_create`.
    pub fn rule_create(&mut self, r: NpolRule) -> Result<u32, Rv> {
        self.check_rule(&r)?;
        let id = self.id();
        self.rules.insert(id, r);
        Ok(id)
    }

    /// `npol_rule_update`.
    pub fn rule_update(&mut self, id: u32, r: NpolRule) -> Result<(), Rv> {
        ok_if(self.rules.contains_key(&id), errno::NO_SUCH_ENTRY)?;
        self.check_rule(&r)?;
        self.rules.insert(id, r);
        Ok(())
    }

    /// `npol_rule_delete`.
    pub fn rule_delete(&mut self, id: u32) -> Result<(), Rv> {
        self.rules
            .remove(&id)
            .map(|_| ())
            .ok_or(errno::NO_SUCH_ENTRY)
    }

    fn check_items(&self, items: &[NpolPolicyItem]) -> Result<(), Rv> {
        ok_if(
            items.iter().all(|i| self.rules.contains_key(&i.rule_id)),
            errno::NO_SUCH_ENTRY,
        )
    }

    /// `npol_policy_create`.
    pub fn policy_create(&mut self, items: Vec<NpolPolicyItem>) -> Result<u32, Rv> {
        self.check_items(&items)?;
        let id = self.id();
        self.policies.insert(id, items);
        Ok(id)
    }

    /// `npol_policy_update`.
    pub fn policy_update(&mut self, id: u32, items: Vec<NpolPolicyItem>) -> Result<(), Rv> {
        ok_if(self.policies.contains_key(&id), errno::NO_SUCH_ENTRY)?;
        self.check_items(&items)?;
        self.policies.insert(id, items);
        Ok(())
    }

    /// `npol_policy_delete`.
    pub fn policy_delete(&mut self, id: u32) -> Result<(), Rv> {
        self.policies
            .remove(&id)
            .map(|_| ())
            .ok_or(errno::NO_SUCH_ENTRY)
    }

    /// `npol_configure_policies` (`exists`: the interface does). No
    /// policy ids at all clears the interface.
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
        ok_if(
            m.policy_ids.iter().all(|p| self.policies.contains_key(p)),
            errno::NO_SUCH_ENTRY,
        )?;
        if m.policy_ids.is_empty() {
            self.interfaces.remove(&m.sw_if_index);
            return Ok(());
        }
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
