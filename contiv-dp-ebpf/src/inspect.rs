//! Reading a datapath's pinned maps from another process (a running or a
//! dead agent's): which peers it tunnels to, where an address of a network
//! goes, the global settings, how full each map is. Read-only.

use crate::abi::{
    CFG_ARP_PROXY, Config, DROP_REASONS, EpKey, FloodStats, IpKey, ListEntryKey, ListHead, ListKey,
    Rule, TARGET_LOCAL, Target,
};
use crate::kernel::load::maps_dir;
use crate::kernel::maps::open;
use aya::maps::{Array, HashMap as BpfHash, MapData, PerCpuArray};
use contiv_core::datapath::{DpResult, NetworkSpec};
use std::net::IpAddr;
use std::path::{Path, PathBuf};

/// Where an address of a network is forwarded.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Location {
    /// To a local endpoint's veth (its host-side ifindex).
    Local(u32),
    /// To a remote endpoint, through the VXLAN device or the uplink.
    Remote,
}

/// The pinned maps of one datapath (by its pin root,
/// [`EbpfConfig::pin_root`](crate::EbpfConfig::pin_root)).
#[derive(Clone, Debug)]
pub struct Pinned {
    dir: PathBuf,
}

impl Pinned {
    /// The datapath pinned under `pin_root`.
    pub fn new(pin_root: &Path) -> Pinned {
        Pinned {
            dir: maps_dir(pin_root),
        }
    }

    /// True if its maps are pinned (a datapath loaded there).
    pub fn exists(&self) -> bool {
        self.dir.join("config").exists()
    }

    /// The VTEPs it accepts tunnelled packets from (peers, and the hosts
    /// of its remote endpoints), sorted.
    pub fn vteps(&self) -> DpResult<Vec<IpAddr>> {
        let m: BpfHash<MapData, IpKey, u32> = open(&self.dir, "vteps")?;
        let mut v: Vec<IpAddr> = m.keys().filter_map(Result::ok).map(|k| k.ip()).collect();
        v.sort();
        Ok(v)
    }

    /// Where `ip` on network `net` goes, if the datapath knows it.
    pub fn locate(&self, net: &NetworkSpec, ip: IpAddr) -> DpResult<Option<Location>> {
        let m: BpfHash<MapData, EpKey, Target> = open(&self.dir, "endpoints")?;
        let k = EpKey {
            net: crate::compile::net_tag(net),
            ip: IpKey::of(ip),
        };
        Ok(m.get(&k, 0).ok().map(|t| {
            if t.kind == TARGET_LOCAL {
                Location::Local(t.ifindex)
            } else {
                Location::Remote
            }
        }))
    }

    /// Whether compiled rule `id` is in force: in the active generation of
    /// its group's rule list.
    pub fn rule_enforced(&self, id: u64) -> DpResult<bool> {
        let heads: BpfHash<MapData, ListKey, ListHead> = open(&self.dir, "rule_heads")?;
        let rules: BpfHash<MapData, ListEntryKey, Rule> = open(&self.dir, "rules")?;
        for (k, r) in rules.iter().filter_map(Result::ok) {
            if r.id != id {
                continue;
            }
            if let Ok(h) = heads.get(&k.list(), 0)
                && h.gen_ == k.gen_()
                && k.idx() < h.count
            {
                return Ok(true);
            }
        }
        Ok(false)
    }

    /// The number of entries of every map but the arrays, by name.
    pub fn sizes(&self) -> DpResult<Vec<(&'static str, usize)>> {
        crate::stats::sizes(&crate::kernel::maps::Maps::open(&self.dir)?)
    }

    /// Whether ARP and neighbour solicitations are answered in BPF (proxy
    /// mode) rather than flooded.
    pub fn arp_proxy(&self) -> DpResult<bool> {
        let m: Array<MapData, Config> = open(&self.dir, "config")?;
        let c = m
            .get(&0, 0)
            .map_err(|e| contiv_core::datapath::DpError::Backend(format!("reading config: {e}")))?;
        Ok(c.flags & CFG_ARP_PROXY != 0)
    }

    /// The drop counters by reason (every reason, zero or not), summed
    /// over the CPUs: what a "why was my packet dropped" starts from.
    pub fn drops(&self) -> DpResult<Vec<(&'static str, u64)>> {
        let m: PerCpuArray<MapData, u64> = open(&self.dir, "drop_reasons")?;
        DROP_REASONS
            .iter()
            .map(|&(i, name)| {
                m.get(&i, 0).map(|v| (name, v.iter().sum())).map_err(|e| {
                    contiv_core::datapath::DpError::Backend(format!("reading drop counters: {e}"))
                })
            })
            .collect()
    }

    /// The flood counters, summed over the CPUs: frames copied to every
    /// endpoint of their network (and its peers), and the copies sent. A
    /// flood consumes its frame; it is no drop.
    pub fn floods(&self) -> DpResult<FloodStats> {
        crate::stats::floods(&open(&self.dir, "flood_stats")?)
    }
}
