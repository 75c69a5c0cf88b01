//! The map layouts shared with the BPF programs: `bpf/abi.h` mirrored field
//! by field (`#[repr(C)]`, explicit padding, sizes checked in the tests
//! below). Addresses are 16 bytes in network order, IPv4 v4-mapped.

#![allow(missing_docs)] // each item is documented in bpf/abi.h

use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};

/// Version of this layout; it names the pin directory (`v<N>`), so an
/// agent never adopts maps of another layout.
pub const ABI_VERSION: u32 = 3;

pub const NET_TAG_VXLAN: u32 = 0x0100_0000;
pub const NET_TAG_VLAN: u32 = 0x0200_0000;
/// The `endpoints` key space of the host port: local endpoints with
/// external access.
pub const NET_TAG_HOST: u32 = 0x0300_0000;
/// The `addr_sets` id of the subnets never reached through the host port.
pub const SET_INTERNAL: u32 = 0;

pub const TARGET_LOCAL: u32 = 1;
pub const TARGET_VXLAN: u32 = 2;
pub const TARGET_UPLINK: u32 = 3;
/// `Target::flags`: deliver through the host side's egress qdisc (a
/// `tbf` shapes what the endpoint receives; `bpf_redirect_peer` would
/// skip it).
pub const TARGET_F_QDISC: u8 = 1;

pub const CFG_ARP_PROXY: u32 = 1;

pub const NET_GW4: u8 = 1;
pub const NET_GW6: u8 = 2;
pub const NET_VLAN: u8 = 4;

pub const IF_V4: u32 = 1;
pub const IF_V6: u32 = 2;
/// The datapath created the veth (a stale one is deleted).
pub const IF_OWNED: u32 = 4;

pub const DIR_IN: u32 = 0;
pub const DIR_OUT: u32 = 1;

pub const PEER_ANY: u8 = 0;
pub const PEER_EPG: u8 = 1;
pub const PEER_SET: u8 = 2;

pub const ACT_ALLOW: u8 = 0;
pub const ACT_DENY: u8 = 1;

pub const RULE_PORTS: u8 = 1;
pub const RULE_PROTO: u8 = 2;

pub const LIST_GEN_SHIFT: u32 = 31;
/// The longest list (rules of one group, flood targets of one network) the
/// programs walk.
pub const MAX_LIST: usize = 65536;

/// Bit 31 of an address-set key's set word: the prefix is IPv6.
pub const SET_V6: u32 = 0x8000_0000;

/// Drop reasons, by index of the `drop_reasons` array.
pub const DROP_REASONS: [(u32, &str); 15] = [
    (1, "unknown-interface"),
    (2, "no-network"),
    (3, "malformed"),
    (4, "spoofed-source"),
    (5, "ethertype"),
    (6, "no-route"),
    (7, "policy"),
    (8, "unknown-vtep"),
    (9, "not-local"),
    (10, "multicast"),
    (11, "gateway"),
    (12, "redirect-failed"),
    (13, "rate-limit"),
    (14, "no-backend"),
    (15, "fragment-unknown"),
];
pub const DROP_REASON_SLOTS: u32 = 16;

/// A 16-byte address (network order; IPv4 v4-mapped).
#[repr(C)]
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct IpKey(pub [u8; 16]);

impl IpKey {
    /// The key of `ip`.
    pub fn of(ip: IpAddr) -> IpKey {
        match ip {
            IpAddr::V4(a) => IpKey(a.to_ipv6_mapped().octets()),
            IpAddr::V6(a) => IpKey(a.octets()),
        }
    }

    /// The address back.
    pub fn ip(&self) -> IpAddr {
        let v6 = Ipv6Addr::from(self.0);
        match v6.to_ipv4_mapped() {
            Some(v4) => IpAddr::V4(v4),
            None => IpAddr::V6(v6),
        }
    }
}

/// An IPv4 address as the programs hold it (network order in memory).
pub fn ip4_word(a: Ipv4Addr) -> u32 {
    u32::from_ne_bytes(a.octets())
}

#[repr(C)]
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Config {
    pub flags: u32,
    pub vxlan_ifindex: u32,
    pub uplink_ifindex: u32,
    pub ct_tcp_syn: u32,
    pub ct_tcp_est: u32,
    pub ct_tcp_close: u32,
    pub ct_udp: u32,
    pub ct_other: u32,
    pub host_ifindex: u32,
    pub host_mac: [u8; 6],
    pub pad: [u8; 2],
}

#[repr(C)]
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Iface {
    pub net: u32,
    pub tenant: u32,
    pub epg: u32,
    pub flags: u32,
    pub mac: [u8; 6],
    pub dscp: u8,
    pub pad: u8,
    pub ip4: u32,
    pub ip6: IpKey,
    pub pad2: u32,
    pub rate_bps: u64,
    pub burst: u64,
}

#[repr(C)]
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Network {
    pub tenant: u32,
    pub vni: u32,
    pub vlan: u16,
    pub flags: u8,
    pub pad0: u8,
    pub gw_mac: [u8; 6],
    pub pad1: [u8; 2],
    pub gw4: u32,
    pub gw6: IpKey,
}

#[repr(C)]
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct EpKey {
    pub net: u32,
    pub ip: IpKey,
}

#[repr(C)]
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct MacKey {
    pub net: u32,
    pub mac: [u8; 6],
    pub pad: [u8; 2],
}

#[repr(C)]
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash)]
pub struct Target {
    pub kind: u32,
    pub ifindex: u32,
    pub epg: u32,
    pub mac: [u8; 6],
    pub flags: u8,
    pub pad: u8,
    pub vtep: IpKey,
}

#[repr(C)]
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct MemberKey {
    pub tenant: u32,
    pub ip: IpKey,
}

/// The data part of an address-set LPM key (the prefix length is aya's
/// `lpm_trie::Key` wrapper).
#[repr(C)]
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct SetData {
    pub set: u32,
    pub ip: IpKey,
}

#[repr(C)]
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct ListKey {
    pub k: [u32; 3],
}

#[repr(C)]
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct ListHead {
    pub gen_: u32,
    pub count: u32,
}

#[repr(C)]
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct ListEntryKey {
    pub k: [u32; 3],
    pub slot: u32,
}

impl ListEntryKey {
    /// Entry `idx` of generation `gen_` of list `list`.
    pub fn new(list: ListKey, gen_: u32, idx: u32) -> ListEntryKey {
        ListEntryKey {
            k: list.k,
            slot: (gen_ << LIST_GEN_SHIFT) | idx,
        }
    }
    /// The list.
    pub fn list(&self) -> ListKey {
        ListKey { k: self.k }
    }
    /// The generation.
    pub fn gen_(&self) -> u32 {
        self.slot >> LIST_GEN_SHIFT
    }
    /// The index within the generation.
    pub fn idx(&self) -> u32 {
        self.slot & !(1 << LIST_GEN_SHIFT)
    }
}

#[repr(C)]
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash)]
pub struct Rule {
    pub id: u64,
    pub peer: u32,
    pub local_set: u32,
    pub port_lo: u16,
    pub port_hi: u16,
    pub peer_kind: u8,
    pub proto: u8,
    pub action: u8,
    pub flags: u8,
    pub priority: u8,
    pub pad: [u8; 7],
}

#[repr(C)]
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash)]
pub struct CtKey {
    pub tenant: u32,
    pub proto: u8,
    pub pad: [u8; 3],
    pub a: IpKey,
    pub b: IpKey,
    pub pa: u16,
    pub pb: u16,
}

#[repr(C)]
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct CtEntry {
    pub created_ns: u64,
    pub seen_ns: u64,
    pub flags: u32,
    pub pad: u32,
}

pub const CT_SEEN_REPLY: u32 = 1;
pub const CT_FIN_A: u32 = 2;
pub const CT_FIN_B: u32 = 4;
pub const CT_RST: u32 = 8;
pub const CT_A_INIT: u32 = 16;

#[repr(C)]
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct EpStats {
    pub tx_packets: u64,
    pub tx_bytes: u64,
    pub tx_drops: u64,
    pub rx_packets: u64,
    pub rx_bytes: u64,
    pub rx_drops: u64,
}

#[repr(C)]
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct RuleStats {
    pub packets: u64,
    pub drops: u64,
}

/// `flood_stats[0]`: frames flooded and the copies sent (per CPU).
#[repr(C)]
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct FloodStats {
    pub frames: u64,
    pub copies: u64,
}

#[repr(C)]
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Bucket {
    pub tokens: u64,
    pub last_ns: u64,
}

macro_rules! pod {
    ($($t:ty),+ $(,)?) => {
        $(
            // SAFETY: `#[repr(C)]`, only integer fields and byte arrays,
            // every padding byte an explicit field: any bit pattern is valid
            // and no byte is uninitialised.
            unsafe impl aya::Pod for $t {}
        )+
    };
}

pod!(
    IpKey,
    Config,
    Iface,
    Network,
    EpKey,
    MacKey,
    Target,
    MemberKey,
    SetData,
    ListKey,
    ListHead,
    ListEntryKey,
    Rule,
    CtKey,
    CtEntry,
    EpStats,
    RuleStats,
    FloodStats,
    Bucket,
);

#[cfg(test)]
mod tests {
    use super::*;
    use std::mem::size_of;

    /// The sizes bpf/abi.h has (clang lays the C structs out the same way;
    /// the loader also checks every pinned map's key and value sizes).
    #[test]
    fn sizes_match_the_c_layout() {
        assert_eq!(size_of::<Config>(), 44);
        assert_eq!(size_of::<Iface>(), 64);
        assert_eq!(size_of::<Network>(), 40);
        assert_eq!(size_of::<EpKey>(), 20);
        assert_eq!(size_of::<MacKey>(), 12);
        assert_eq!(size_of::<Target>(), 36);
        assert_eq!(size_of::<MemberKey>(), 20);
        assert_eq!(size_of::<SetData>(), 20);
        assert_eq!(size_of::<ListKey>(), 12);
        assert_eq!(size_of::<ListHead>(), 8);
        assert_eq!(size_of::<ListEntryKey>(), 16);
        assert_eq!(size_of::<Rule>(), 32);
        assert_eq!(size_of::<CtKey>(), 44);
        assert_eq!(size_of::<CtEntry>(), 24);
        assert_eq!(size_of::<EpStats>(), 48);
        assert_eq!(size_of::<RuleStats>(), 16);
        assert_eq!(size_of::<FloodStats>(), 16);
        assert_eq!(size_of::<Bucket>(), 16);
    }

    #[test]
    fn addresses_round_trip_v4_mapped() {
        let a: IpAddr = "10.1.2.3".parse().unwrap();
        assert_eq!(IpKey::of(a).0[10..], [0xff, 0xff, 10, 1, 2, 3]);
        assert_eq!(IpKey::of(a).ip(), a);
        let b: IpAddr = "fd00::7".parse().unwrap();
        assert_eq!(IpKey::of(b).ip(), b);
    }
}
