//! All wanted tables of the datapath and their synchronisation with the
//! kernel maps: flushes in a safe order (see [`Tables::flush`]) and
//! resyncs that read the maps back and write only the difference.

use crate::abi::*;
use crate::compile::Contrib;
use crate::kernel::maps::Maps;
use crate::service::{Svc, SvcKey};
use crate::tables::{Counts, CreateOnly, ListMaps, ListTable, SetEntry, Table};
use contiv_core::datapath::DpError;
use std::collections::HashMap;

/// Everything the maps must hold (the complete contents, for a resync).
#[derive(Debug, Default)]
pub struct Full {
    /// `interfaces`.
    pub interfaces: HashMap<u32, Iface>,
    /// `networks`.
    pub networks: HashMap<u32, Network>,
    /// `vnis`.
    pub vnis: HashMap<u32, u32>,
    /// `vteps`.
    pub vteps: HashMap<IpKey, u32>,
    /// `endpoints`.
    pub endpoints: HashMap<EpKey, Target>,
    /// `macs`.
    pub macs: HashMap<MacKey, Target>,
    /// `membership`.
    pub members: HashMap<MemberKey, u32>,
    /// `addr_sets`.
    pub sets: HashMap<SetEntry, u32>,
    /// `set_ids`.
    pub set_ids: HashMap<u32, u64>,
    /// `ep_stats` keys.
    pub ep_stats: HashMap<u32, ()>,
    /// `rule_stats` keys.
    pub rule_stats: HashMap<u64, ()>,
    /// `buckets` keys.
    pub buckets: HashMap<u32, ()>,
    /// `services`.
    pub services: HashMap<SvcKey, Svc>,
    /// `svc_vips`.
    pub vips: HashMap<EpKey, u32>,
    /// Rule lists.
    pub rules: HashMap<ListKey, Vec<Rule>>,
    /// Flood lists.
    pub flood: HashMap<ListKey, Vec<Target>>,
}

impl Full {
    /// Adds an object's contribution (a later one wins a shared key).
    pub fn add(&mut self, c: &Contrib) {
        self.interfaces.extend(c.ifaces.iter().copied());
        self.networks.extend(c.networks.iter().copied());
        self.vnis.extend(c.vnis.iter().copied());
        self.endpoints.extend(c.endpoints.iter().copied());
        self.macs.extend(c.macs.iter().copied());
        self.members.extend(c.members.iter().copied());
        self.sets.extend(c.sets.iter().copied());
        self.set_ids.extend(c.set_ids.iter().copied());
        self.ep_stats.extend(c.ep_stats.iter().copied());
        self.rule_stats.extend(c.rule_stats.iter().copied());
        self.buckets.extend(c.buckets.iter().copied());
        self.services.extend(c.services.iter().copied());
        self.vips.extend(c.vips.iter().copied());
    }
}

/// The wanted contents of every map (but conntrack, which only the
/// programs and the garbage collector write).
#[derive(Debug)]
pub struct Tables {
    /// `interfaces`.
    pub interfaces: Table<u32, Iface>,
    /// `networks`.
    pub networks: Table<u32, Network>,
    /// `vnis`.
    pub vnis: Table<u32, u32>,
    /// `vteps`.
    pub vteps: Table<IpKey, u32>,
    /// `endpoints`.
    pub endpoints: Table<EpKey, Target>,
    /// `macs`.
    pub macs: Table<MacKey, Target>,
    /// `membership`.
    pub members: Table<MemberKey, u32>,
    /// `addr_sets`.
    pub sets: Table<SetEntry, u32>,
    /// `set_ids`.
    pub set_ids: Table<u32, u64>,
    /// `ep_stats`.
    pub ep_stats: Table<u32, ()>,
    /// `rule_stats`.
    pub rule_stats: Table<u64, ()>,
    /// `buckets`.
    pub buckets: Table<u32, ()>,
    /// `services`.
    pub services: Table<SvcKey, Svc>,
    /// `svc_vips`.
    pub vips: Table<EpKey, u32>,
    /// Rule lists.
    pub rules: ListTable<Rule>,
    /// Flood lists.
    pub flood: ListTable<Target>,
}

impl Default for Tables {
    fn default() -> Self {
        Tables {
            interfaces: Table::new("interfaces"),
            networks: Table::new("networks"),
            vnis: Table::new("vnis"),
            vteps: Table::new("vteps"),
            endpoints: Table::new("endpoints"),
            macs: Table::new("macs"),
            members: Table::new("membership"),
            sets: Table::new("addr_sets"),
            set_ids: Table::new("set_ids"),
            ep_stats: Table::new("ep_stats"),
            rule_stats: Table::new("rule_stats"),
            buckets: Table::new("buckets"),
            services: Table::new("services"),
            vips: Table::new("svc_vips"),
            rules: ListTable::new("rules"),
            flood: ListTable::new("flood"),
        }
    }
}

fn be(e: String) -> DpError {
    DpError::Backend(e)
}

/// The tables that say what a packet is and how it is judged (interfaces,
/// networks, groups, address sets, counters, buckets): written before an
/// endpoint becomes reachable, deleted after it stopped being.
macro_rules! state_tables {
    ($self:ident, $maps:ident, $m:ident, $acc:expr) => {{
        let mut n = 0;
        n += $self.interfaces.$m(&mut $maps.interfaces).map_err(be)?;
        n += $self.networks.$m(&mut $maps.networks).map_err(be)?;
        n += $self.vnis.$m(&mut $maps.vnis).map_err(be)?;
        n += $self.vteps.$m(&mut $maps.vteps).map_err(be)?;
        n += $self.members.$m(&mut $maps.membership).map_err(be)?;
        n += $self.sets.$m(&mut $maps.addr_sets).map_err(be)?;
        n += $self.set_ids.$m(&mut $maps.set_ids).map_err(be)?;
        n += $self.ep_stats.$m(&mut $maps.ep_stats).map_err(be)?;
        n += $self.rule_stats.$m(&mut $maps.rule_stats).map_err(be)?;
        n += $self
            .buckets
            .$m(&mut CreateOnly(&mut $maps.buckets))
            .map_err(be)?;
        $acc += n;
    }};
}

/// The tables that make an address reachable (endpoints, MACs, service
/// VIPs and their backends).
macro_rules! reach_tables {
    ($self:ident, $maps:ident, $m:ident, $acc:expr) => {{
        let mut n = 0;
        n += $self.endpoints.$m(&mut $maps.endpoints).map_err(be)?;
        n += $self.macs.$m(&mut $maps.macs).map_err(be)?;
        n += $self.services.$m(&mut $maps.services).map_err(be)?;
        n += $self.vips.$m(&mut $maps.svc_vips).map_err(be)?;
        $acc += n;
    }};
}

impl Tables {
    /// Replaces `old`'s entries with `new`'s.
    pub fn apply(&mut self, old: &Contrib, new: &Contrib) {
        self.interfaces.replace(&old.ifaces, &new.ifaces);
        self.networks.replace(&old.networks, &new.networks);
        self.vnis.replace(&old.vnis, &new.vnis);
        self.endpoints.replace(&old.endpoints, &new.endpoints);
        self.macs.replace(&old.macs, &new.macs);
        self.members.replace(&old.members, &new.members);
        self.sets.replace(&old.sets, &new.sets);
        self.set_ids.replace(&old.set_ids, &new.set_ids);
        self.ep_stats.replace(&old.ep_stats, &new.ep_stats);
        self.rule_stats.replace(&old.rule_stats, &new.rule_stats);
        self.buckets.replace(&old.buckets, &new.buckets);
        self.services.replace(&old.services, &new.services);
        self.vips.replace(&old.vips, &new.vips);
    }

    /// Writes what changed: the puts of the state tables, the lists (rules,
    /// floods), the puts of the reachability tables, then the deletes —
    /// reachability first. So a new endpoint is reachable only once its
    /// group (membership) and its group's rules are in the maps: a packet
    /// arriving in between would otherwise meet no `in` rules, be allowed,
    /// and its connection tracked past the rules for its whole lifetime.
    pub fn flush(&mut self, maps: &mut Maps) -> Result<Counts, DpError> {
        let mut c = Counts::default();
        state_tables!(self, maps, flush_puts, c.added);
        let (w, d) = self
            .rules
            .flush(&mut ListMaps {
                heads: &mut maps.rule_heads,
                entries: &mut maps.rules,
            })
            .map_err(be)?;
        c.added += w;
        c.removed += d;
        let (w, d) = self
            .flood
            .flush(&mut ListMaps {
                heads: &mut maps.flood_heads,
                entries: &mut maps.flood,
            })
            .map_err(be)?;
        c.added += w;
        c.removed += d;
        reach_tables!(self, maps, flush_puts, c.added);
        reach_tables!(self, maps, flush_dels, c.removed);
        state_tables!(self, maps, flush_dels, c.removed);
        Ok(c)
    }

    /// True if retired list generations wait to be deleted.
    pub fn has_retired(&self) -> bool {
        self.rules.has_retired() || self.flood.has_retired()
    }

    /// Deletes every retired list generation now.
    pub fn reap_all(&mut self, maps: &mut Maps) -> Result<usize, DpError> {
        let a = self
            .rules
            .reap(
                &mut ListMaps {
                    heads: &mut maps.rule_heads,
                    entries: &mut maps.rules,
                },
                true,
            )
            .map_err(be)?;
        let b = self
            .flood
            .reap(
                &mut ListMaps {
                    heads: &mut maps.flood_heads,
                    entries: &mut maps.flood,
                },
                true,
            )
            .map_err(be)?;
        Ok(a + b)
    }

    /// Reads the lists' heads back (at start, so the first switch of a
    /// list writes the generation no program reads); deletes orphaned
    /// entries.
    pub fn adopt_lists(&mut self, maps: &mut Maps) -> Result<usize, DpError> {
        let a = self
            .rules
            .adopt(&mut ListMaps {
                heads: &mut maps.rule_heads,
                entries: &mut maps.rules,
            })
            .map_err(be)?;
        let b = self
            .flood
            .adopt(&mut ListMaps {
                heads: &mut maps.flood_heads,
                entries: &mut maps.flood,
            })
            .map_err(be)?;
        Ok(a + b)
    }

    /// Compares every map with `full`, marks the differences dirty and
    /// flushes them. Returns what was written, deleted and found right.
    pub fn resync(&mut self, maps: &mut Maps, full: Full) -> Result<Counts, DpError> {
        let mut c = Counts::default();
        // Old generations earlier flushes retired are that flush's work,
        // not differences; entries no head points at are.
        self.reap_all(maps)?;
        c.removed += self.adopt_lists(maps)?;
        c += self
            .interfaces
            .resync(&maps.interfaces, full.interfaces)
            .map_err(be)?;
        c += self
            .networks
            .resync(&maps.networks, full.networks)
            .map_err(be)?;
        c += self.vnis.resync(&maps.vnis, full.vnis).map_err(be)?;
        c += self.vteps.resync(&maps.vteps, full.vteps).map_err(be)?;
        c += self
            .endpoints
            .resync(&maps.endpoints, full.endpoints)
            .map_err(be)?;
        c += self.macs.resync(&maps.macs, full.macs).map_err(be)?;
        c += self
            .members
            .resync(&maps.membership, full.members)
            .map_err(be)?;
        c += self.sets.resync(&maps.addr_sets, full.sets).map_err(be)?;
        c += self
            .set_ids
            .resync(&maps.set_ids, full.set_ids)
            .map_err(be)?;
        c += self
            .ep_stats
            .resync(&maps.ep_stats, full.ep_stats)
            .map_err(be)?;
        c += self
            .rule_stats
            .resync(&maps.rule_stats, full.rule_stats)
            .map_err(be)?;
        c += self
            .buckets
            .resync(&CreateOnly(&mut maps.buckets), full.buckets)
            .map_err(be)?;
        c += self
            .services
            .resync(&maps.services, full.services)
            .map_err(be)?;
        c += self.vips.resync(&maps.svc_vips, full.vips).map_err(be)?;
        c.unchanged += self.rules.resync(full.rules);
        c.unchanged += self.flood.resync(full.flood);
        let f = self.flush(maps)?;
        c.added += f.added;
        c.removed += f.removed;
        Ok(c)
    }
}
