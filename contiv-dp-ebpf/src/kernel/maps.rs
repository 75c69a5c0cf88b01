//! The typed maps (see `bpf/maps.h`), taken from the loaded object or
//! opened from their pins.

use crate::abi::*;
use crate::service::{FragEntry, FragKey, NatEntry, NatKey, Svc, SvcKey, SvcScratch};
use aya::Ebpf;
use aya::maps::lpm_trie::LpmTrie;
use aya::maps::{Array, HashMap, Map, MapData, PerCpuArray, PerCpuHashMap};
use contiv_core::datapath::DpError;
use std::collections::HashSet;
use std::path::Path;

/// Every map's name (its pin file name).
pub const NAMES: [&str; 25] = [
    "config",
    "interfaces",
    "networks",
    "vnis",
    "vteps",
    "endpoints",
    "macs",
    "membership",
    "addr_sets",
    "set_ids",
    "rule_heads",
    "rules",
    "flood_heads",
    "flood",
    "conntrack",
    "ep_stats",
    "rule_stats",
    "drop_reasons",
    "flood_stats",
    "buckets",
    "services",
    "svc_vips",
    "svc_nat",
    "svc_frags",
    "svc_scratch",
];

/// The datapath's maps.
pub struct Maps {
    /// Global settings (one entry).
    pub config: Array<MapData, Config>,
    /// ifindex → local endpoint interface.
    pub interfaces: HashMap<MapData, u32, Iface>,
    /// network tag → network.
    pub networks: HashMap<MapData, u32, Network>,
    /// VNI → network tag.
    pub vnis: HashMap<MapData, u32, u32>,
    /// Peer VTEPs.
    pub vteps: HashMap<MapData, IpKey, u32>,
    /// {network, address} → where it is.
    pub endpoints: HashMap<MapData, EpKey, Target>,
    /// {network, MAC} → where it is.
    pub macs: HashMap<MapData, MacKey, Target>,
    /// {tenant, address} → EPG.
    pub membership: HashMap<MapData, MemberKey, u32>,
    /// Address sets (LPM).
    pub addr_sets: LpmTrie<MapData, SetData, u32>,
    /// Set id → hash of the set's name.
    pub set_ids: HashMap<MapData, u32, u64>,
    /// Rule list heads.
    pub rule_heads: HashMap<MapData, ListKey, ListHead>,
    /// Rule list entries.
    pub rules: HashMap<MapData, ListEntryKey, Rule>,
    /// Flood list heads.
    pub flood_heads: HashMap<MapData, ListKey, ListHead>,
    /// Flood list entries.
    pub flood: HashMap<MapData, ListEntryKey, Target>,
    /// Connection tracking.
    pub conntrack: HashMap<MapData, CtKey, CtEntry>,
    /// Per-endpoint counters (per CPU).
    pub ep_stats: PerCpuHashMap<MapData, u32, EpStats>,
    /// Per-rule counters (per CPU).
    pub rule_stats: PerCpuHashMap<MapData, u64, RuleStats>,
    /// Drop counters by reason (per CPU).
    pub drop_reasons: PerCpuArray<MapData, u64>,
    /// Frames flooded and copies sent (per CPU; one entry). Added after
    /// ABI 3 was released without changing any other layout: a v3 pin
    /// directory without it gets it created on the next load.
    pub flood_stats: PerCpuArray<MapData, FloodStats>,
    /// Token buckets of rate-limited endpoints.
    pub buckets: HashMap<MapData, u32, Bucket>,
    /// Service ports → backend slots.
    pub services: HashMap<MapData, SvcKey, Svc>,
    /// {network, VIP} of every service (ARP answers).
    pub svc_vips: HashMap<MapData, EpKey, u32>,
    /// Service connections' NAT (forward and reverse).
    pub svc_nat: HashMap<MapData, NatKey, NatEntry>,
    /// Later IPv4 fragments' translations (by their datagram).
    pub svc_frags: HashMap<MapData, FragKey, FragEntry>,
    /// The service programs' per-CPU temporaries (pinned so a restart
    /// keeps the programs).
    pub svc_scratch: PerCpuArray<MapData, SvcScratch>,
    /// The kernel ids of all of them.
    pub ids: HashSet<u32>,
}

impl std::fmt::Debug for Maps {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Maps").field("ids", &self.ids).finish()
    }
}

fn check_sizes<K, V>(name: &str, data: &MapData) -> Result<(), DpError> {
    let info = data
        .info()
        .map_err(|e| DpError::Backend(format!("map {name}: {e}")))?;
    let (k, v) = (size_of::<K>() as u32, size_of::<V>() as u32);
    // Per-CPU and LPM maps report the raw sizes: the LPM key carries its
    // 4-byte prefix length in front of the data.
    let k_ok = info.key_size() == k || (name == "addr_sets" && info.key_size() == k + 4);
    if !k_ok || info.value_size() != v {
        return Err(DpError::Backend(format!(
            "pinned map {name} has key/value sizes {}/{} but this datapath needs {k}/{v}: \
             it was made by another version; remove its pin directory to start over",
            info.key_size(),
            info.value_size()
        )));
    }
    Ok(())
}

fn take<T>(ebpf: &mut Ebpf, name: &str) -> Result<T, DpError>
where
    T: TryFrom<Map, Error = aya::maps::MapError>,
{
    let m = ebpf
        .take_map(name)
        .ok_or_else(|| DpError::Backend(format!("the BPF object has no map {name}")))?;
    T::try_from(m).map_err(|e| DpError::Backend(format!("map {name}: {e}")))
}

/// Opens the pinned map `name` under `dir`.
pub fn open<T>(dir: &Path, name: &str) -> Result<T, DpError>
where
    T: TryFrom<Map, Error = aya::maps::MapError>,
{
    let p = dir.join(name);
    let data = MapData::from_pin(&p)
        .map_err(|e| DpError::Backend(format!("opening pinned map {}: {e}", p.display())))?;
    let m = Map::from_map_data(data)
        .map_err(|e| DpError::Backend(format!("map {}: {e}", p.display())))?;
    T::try_from(m).map_err(|e| DpError::Backend(format!("map {}: {e}", p.display())))
}

fn map_data<'a>(name: &str, m: &'a Map) -> Result<&'a MapData, DpError> {
    match m {
        Map::HashMap(d)
        | Map::LruHashMap(d)
        | Map::PerCpuHashMap(d)
        | Map::Array(d)
        | Map::PerCpuArray(d)
        | Map::LpmTrie(d) => Ok(d),
        _ => Err(DpError::Backend(format!(
            "map {name} has an unexpected type"
        ))),
    }
}

macro_rules! checked {
    ($ebpf:expr, $ids:expr, $name:literal, $k:ty, $v:ty) => {{
        let m = $ebpf
            .map($name)
            .ok_or_else(|| DpError::Backend(format!("the BPF object has no map {}", $name)))?;
        let data = map_data($name, m)?;
        check_sizes::<$k, $v>($name, data)?;
        let info = data
            .info()
            .map_err(|e| DpError::Backend(format!("map {}: {e}", $name)))?;
        $ids.insert(info.id());
        take($ebpf, $name)?
    }};
}

impl Maps {
    /// Takes every map out of the loaded object, checking that adopted
    /// pins have this layout.
    pub fn take(ebpf: &mut Ebpf) -> Result<Maps, DpError> {
        let mut ids = HashSet::new();
        Ok(Maps {
            config: checked!(ebpf, ids, "config", u32, Config),
            interfaces: checked!(ebpf, ids, "interfaces", u32, Iface),
            networks: checked!(ebpf, ids, "networks", u32, Network),
            vnis: checked!(ebpf, ids, "vnis", u32, u32),
            vteps: checked!(ebpf, ids, "vteps", IpKey, u32),
            endpoints: checked!(ebpf, ids, "endpoints", EpKey, Target),
            macs: checked!(ebpf, ids, "macs", MacKey, Target),
            membership: checked!(ebpf, ids, "membership", MemberKey, u32),
            addr_sets: checked!(ebpf, ids, "addr_sets", SetData, u32),
            set_ids: checked!(ebpf, ids, "set_ids", u32, u64),
            rule_heads: checked!(ebpf, ids, "rule_heads", ListKey, ListHead),
            rules: checked!(ebpf, ids, "rules", ListEntryKey, Rule),
            flood_heads: checked!(ebpf, ids, "flood_heads", ListKey, ListHead),
            flood: checked!(ebpf, ids, "flood", ListEntryKey, Target),
            conntrack: checked!(ebpf, ids, "conntrack", CtKey, CtEntry),
            ep_stats: checked!(ebpf, ids, "ep_stats", u32, EpStats),
            rule_stats: checked!(ebpf, ids, "rule_stats", u64, RuleStats),
            drop_reasons: checked!(ebpf, ids, "drop_reasons", u32, u64),
            flood_stats: checked!(ebpf, ids, "flood_stats", u32, FloodStats),
            buckets: checked!(ebpf, ids, "buckets", u32, Bucket),
            services: checked!(ebpf, ids, "services", SvcKey, Svc),
            svc_vips: checked!(ebpf, ids, "svc_vips", EpKey, u32),
            svc_nat: checked!(ebpf, ids, "svc_nat", NatKey, NatEntry),
            svc_frags: checked!(ebpf, ids, "svc_frags", FragKey, FragEntry),
            svc_scratch: checked!(ebpf, ids, "svc_scratch", u32, SvcScratch),
            ids,
        })
    }
}

impl Maps {
    /// Opens every map pinned in `dir` (another process's datapath), with
    /// the same layout checks as adoption.
    pub fn open(dir: &Path) -> Result<Maps, DpError> {
        let mut ids = HashSet::new();
        macro_rules! pinned {
            ($name:literal, $k:ty, $v:ty) => {{
                let p = dir.join($name);
                let data = MapData::from_pin(&p).map_err(|e| {
                    DpError::Backend(format!("opening pinned map {}: {e}", p.display()))
                })?;
                check_sizes::<$k, $v>($name, &data)?;
                if let Ok(i) = data.info() {
                    ids.insert(i.id());
                }
                let m = Map::from_map_data(data)
                    .map_err(|e| DpError::Backend(format!("map {}: {e}", $name)))?;
                m.try_into().map_err(|e: aya::maps::MapError| {
                    DpError::Backend(format!("map {}: {e}", $name))
                })?
            }};
        }
        Ok(Maps {
            config: pinned!("config", u32, Config),
            interfaces: pinned!("interfaces", u32, Iface),
            networks: pinned!("networks", u32, Network),
            vnis: pinned!("vnis", u32, u32),
            vteps: pinned!("vteps", IpKey, u32),
            endpoints: pinned!("endpoints", EpKey, Target),
            macs: pinned!("macs", MacKey, Target),
            membership: pinned!("membership", MemberKey, u32),
            addr_sets: pinned!("addr_sets", SetData, u32),
            set_ids: pinned!("set_ids", u32, u64),
            rule_heads: pinned!("rule_heads", ListKey, ListHead),
            rules: pinned!("rules", ListEntryKey, Rule),
            flood_heads: pinned!("flood_heads", ListKey, ListHead),
            flood: pinned!("flood", ListEntryKey, Target),
            conntrack: pinned!("conntrack", CtKey, CtEntry),
            ep_stats: pinned!("ep_stats", u32, EpStats),
            rule_stats: pinned!("rule_stats", u64, RuleStats),
            drop_reasons: pinned!("drop_reasons", u32, u64),
            flood_stats: pinned!("flood_stats", u32, FloodStats),
            buckets: pinned!("buckets", u32, Bucket),
            services: pinned!("services", SvcKey, Svc),
            svc_vips: pinned!("svc_vips", EpKey, u32),
            svc_nat: pinned!("svc_nat", NatKey, NatEntry),
            svc_frags: pinned!("svc_frags", FragKey, FragEntry),
            svc_scratch: pinned!("svc_scratch", u32, SvcScratch),
            ids,
        })
    }
}
