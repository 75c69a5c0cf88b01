//! The table list, register layout and fixed priorities of the pipeline —
//! the one place that says what each table is for (see the
//! [module documentation](super) for the walk-through).

use std::fmt;

/// The OpenFlow tables of the pipeline, in the order a packet visits them.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
#[repr(u8)]
pub enum Table {
    /// Port → tenant/VRF, network and origin flags. Local ports (by
    /// `in_port`), VXLAN (by `tun_id`), the VLAN uplink (by `in_port` +
    /// `dl_vlan`, tag popped). Multicast source MACs and unknown ports drop.
    Classify = 0,
    /// Spoof guard for local ports: only the endpoint's own MAC with its own
    /// IPv4/IPv6 addresses (ARP: `arp_spa`/`arp_sha`) passes.
    SpoofGuard = 1,
    /// ARP responder (proxy mode: requests for known endpoints are answered
    /// in the switch) and protocol dispatch (ARP → L2, IP → conntrack,
    /// anything else drops).
    Arp = 2,
    /// L4 classification into `reg6` (protocol, destination port, ICMP flag)
    /// and `ct(table=CtState, zone=tenant)`; ICMPv6 ND/RS/RA/MLD bypass
    /// conntrack and policy.
    Conntrack = 3,
    /// Connection state: `+est`/`+rel` skip policy (reverse-DNATed replies
    /// pass [`ServiceFwd`](Table::ServiceFwd) first), `+inv` drops, `+new`
    /// goes through service load balancing, classification and policy
    /// (TCP/UDP with the destination port read again into `reg6`: after a
    /// reassembling `ct()`, fragments come out with the registers of the
    /// fragment that completed the datagram).
    CtState = 4,
    /// Service load balancing: (tenant, VIP, protocol, port) of a new
    /// connection → the service's select group, whose buckets commit the
    /// DNAT to one backend (`ct(commit, nat(dst=…))`) and recirculate to
    /// [`ServiceFwd`](Table::ServiceFwd).
    ServiceLb = 5,
    /// After DNAT: the backend's network and MAC (and the hairpin mark when
    /// a backend reached itself); after reverse DNAT of a hairpin reply:
    /// the client's MAC.
    ServiceFwd = 6,
    /// Source classification: (tenant, source IP) → source EPG.
    SrcEpg = 7,
    /// Destination classification: (tenant, destination IP) → destination
    /// EPG, plus the "destination is local" flag.
    DstEpg = 8,
    /// Egress policy: the `out` rules of the source EPG, only where the
    /// source is a local port. A later fragment (`nw_frag=later`, no
    /// ports) skips the rules: it follows its first fragment, which the
    /// rules judge, into the commit's reassembly.
    Egress = 9,
    /// Ingress policy: the `in` rules of the destination EPG, only where the
    /// destination is local (also for traffic from tunnels and uplinks);
    /// later fragments skip it as in [`Egress`](Table::Egress).
    Ingress = 10,
    /// `ct(commit)` of the new connection in the tenant's zone (service
    /// connections were committed with their DNAT; hairpin ones get their
    /// SNAT to the VIP here).
    Commit = 11,
    /// L2 forwarding and output: local MACs → their port, remote MACs →
    /// VXLAN with the VNI or the VLAN uplink with the tag, broadcast and
    /// multicast → head-end replication / uplink; the gateway MAC of a
    /// network with external access → [`ExternalOut`](Table::ExternalOut).
    /// Routed packets (flag `ROUTED`) go on to [`Table::L3Forward`].
    L2Forward = 12,
    /// Routing mode: (tenant, destination IP) → the endpoint's MACs, TTL
    /// decrement and its port / tunnel / uplink; external prefixes learned
    /// from the fabric → the next hop through the uplink; the rest, from a
    /// network with external access → [`ExternalOut`](Table::ExternalOut).
    L3Forward = 13,
    /// External access out: replies of connections the host opened go back
    /// to the host port as they are; new traffic to outside the cluster's
    /// networks is SNATed to the tenant's private address and sent to the
    /// host port (the host masquerades it).
    ExternalOut = 14,
}

impl Table {
    /// Every table, in pipeline order.
    pub const ALL: [Table; 15] = [
        Table::Classify,
        Table::SpoofGuard,
        Table::Arp,
        Table::Conntrack,
        Table::CtState,
        Table::ServiceLb,
        Table::ServiceFwd,
        Table::SrcEpg,
        Table::DstEpg,
        Table::Egress,
        Table::Ingress,
        Table::Commit,
        Table::L2Forward,
        Table::L3Forward,
        Table::ExternalOut,
    ];

    /// The OpenFlow table id.
    pub const fn id(self) -> u8 {
        self as u8
    }

    /// The table with this id, if it is one of ours.
    pub fn from_id(id: u8) -> Option<Table> {
        Table::ALL.get(usize::from(id)).copied()
    }

    /// A short name.
    pub const fn name(self) -> &'static str {
        match self {
            Table::Classify => "classify",
            Table::SpoofGuard => "spoof-guard",
            Table::Arp => "arp",
            Table::Conntrack => "conntrack",
            Table::CtState => "ct-state",
            Table::ServiceLb => "service-lb",
            Table::ServiceFwd => "service-fwd",
            Table::SrcEpg => "src-epg",
            Table::DstEpg => "dst-epg",
            Table::Egress => "egress",
            Table::Ingress => "ingress",
            Table::Commit => "commit",
            Table::L2Forward => "l2-forward",
            Table::L3Forward => "l3-forward",
            Table::ExternalOut => "external-out",
        }
    }

    /// What the table is for (one line).
    pub const fn purpose(self) -> &'static str {
        match self {
            Table::Classify => "port -> tenant (reg0), network (reg1), origin flags (reg4)",
            Table::SpoofGuard => "local ports: only the endpoint's MAC + IPs pass",
            Table::Arp => {
                "proxy ARP for known endpoints; the gateway answers ARP and ping; ARP -> L2, IP -> conntrack"
            }
            Table::Conntrack => "L4 -> reg6; ct(table=ct-state, zone=reg0[0..15])",
            Table::CtState => {
                "+est/+rel -> L2 (reverse-DNATed replies via service-fwd), +inv drop, +new -> service-lb"
            }
            Table::ServiceLb => {
                "(tenant, VIP, proto, port) of a new connection -> select group (DNAT)"
            }
            Table::ServiceFwd => {
                "after DNAT: backend network + MAC, hairpin mark; hairpin replies: client MAC"
            }
            Table::SrcEpg => "(tenant, src IP) -> src EPG (reg2)",
            Table::DstEpg => "(tenant, dst IP) -> dst EPG (reg3), dst-local flag",
            Table::Egress => "out rules of the src EPG (source local only)",
            Table::Ingress => "in rules of the dst EPG (destination local only)",
            Table::Commit => "ct(commit) in the tenant zone",
            Table::L2Forward => {
                "dst MAC -> local port / VXLAN tunnel / VLAN uplink; flood; gateway MAC -> external-out; routed -> l3-forward"
            }
            Table::L3Forward => {
                "routing mode: (tenant, dst IP) -> endpoint MACs, dec_ttl, port/tunnel/uplink; external routes -> fabric; else -> external-out"
            }
            Table::ExternalOut => {
                "host-opened replies -> host port; else SNAT to the tenant's private address -> host port"
            }
        }
    }
}

impl fmt::Display for Table {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{} ({})", self.id(), self.name())
    }
}

/// Register assignments (Nicira `reg0`–`reg15`, 32 bits each).
pub mod reg {
    /// The tenant (VRF) id. Its low 16 bits are the conntrack zone.
    pub const TENANT: u8 = 0;
    /// The network tag ([`network_tag`](super::network_tag)).
    pub const NETWORK: u8 = 1;
    /// The source EPG id (0 = no group).
    pub const SRC_EPG: u8 = 2;
    /// The destination EPG id (0 = no group).
    pub const DST_EPG: u8 = 3;
    /// Origin/locality flags ([`flags`](super::flags)).
    pub const FLAGS: u8 = 4;
    /// L4 summary: bits 0..15 the TCP/UDP destination port, bits 16..23
    /// the IP protocol, bit 24 "ICMP" (ICMPv4 or ICMPv6) — so policy flows
    /// match L4 once for both address families.
    pub const L4: u8 = 6;
    /// The VIP a new service connection was addressed to (set by
    /// [`Table::ServiceLb`](super::Table::ServiceLb); the hairpin SNAT uses
    /// it).
    pub const VIP: u8 = 5;
}

/// Bits of [`reg::FLAGS`].
pub mod flags {
    /// The packet entered on a local endpoint port.
    pub const FROM_LOCAL: u32 = 1 << 0;
    /// The packet entered through a VXLAN tunnel.
    pub const FROM_TUNNEL: u32 = 1 << 1;
    /// The packet entered through the VLAN uplink.
    pub const FROM_UPLINK: u32 = 1 << 2;
    /// The destination IP belongs to a local endpoint (set by
    /// [`Table::DstEpg`](super::Table::DstEpg)).
    pub const DST_LOCAL: u32 = 1 << 3;
    /// The packet entered through the host port (external access).
    pub const FROM_HOST: u32 = 1 << 4;
    /// A new service connection: DNAT committed by a group bucket (the
    /// commit stage skips it).
    pub const SERVICE: u32 = 1 << 5;
    /// A service connection whose backend is its client (hairpin): SNAT to
    /// the VIP at the commit stage.
    pub const HAIRPIN: u32 = 1 << 6;
    /// The reverse SNAT lookup was done (the tenant's NAT zone first, then
    /// its own zone; never twice).
    pub const UNSNAT_DONE: u32 = 1 << 7;
    /// The external SNAT was done (external-out sends it to the host).
    pub const SNAT_DONE: u32 = 1 << 8;
    /// Routing mode: the packet is routed (it was sent to a gateway's MAC,
    /// or came from the fabric to the host's router MAC); L2 forwarding
    /// hands it to [`Table::L3Forward`](super::Table::L3Forward).
    pub const ROUTED: u32 = 1 << 9;
    /// Bit numbers of the flags, for partial register loads.
    pub mod bit {
        /// Bit of `FROM_LOCAL`.
        pub const FROM_LOCAL: u16 = 0;
        /// Bit of `FROM_TUNNEL`.
        pub const FROM_TUNNEL: u16 = 1;
        /// Bit of `FROM_UPLINK`.
        pub const FROM_UPLINK: u16 = 2;
        /// Bit of `DST_LOCAL`.
        pub const DST_LOCAL: u16 = 3;
        /// Bit of `FROM_HOST`.
        pub const FROM_HOST: u16 = 4;
        /// Bit of `SERVICE`.
        pub const SERVICE: u16 = 5;
        /// Bit of `HAIRPIN`.
        pub const HAIRPIN: u16 = 6;
        /// Bit of `UNSNAT_DONE`.
        pub const UNSNAT_DONE: u16 = 7;
        /// Bit of `SNAT_DONE`.
        pub const SNAT_DONE: u16 = 8;
        /// Bit of `ROUTED`.
        pub const ROUTED: u16 = 9;
    }
}

/// Layout of [`reg::L4`].
pub mod l4 {
    /// Mask of the destination port bits.
    pub const PORT_MASK: u32 = 0x0000_ffff;
    /// Shift of the protocol byte.
    pub const PROTO_SHIFT: u32 = 16;
    /// Mask of the protocol byte.
    pub const PROTO_MASK: u32 = 0x00ff_0000;
    /// The "ICMP (v4 or v6)" flag.
    pub const ICMP_FLAG: u32 = 1 << 24;
    /// Bit number of the ICMP flag.
    pub const ICMP_BIT: u16 = 24;
}

/// Flow priorities.
pub mod prio {
    /// Table-miss / default flows.
    pub const MISS: u16 = 0;
    /// Dispatch flows that match a whole protocol.
    pub const DISPATCH: u16 = 10;
    /// Per-object flows (a port, a MAC, an address).
    pub const OBJECT: u16 = 100;
    /// Flows that must win over per-object flows (drops, bypasses).
    pub const GUARD: u16 = 200;
    /// Policy rule flows: `RULE_BASE + 2 * rule priority + deny`, so the
    /// highest rule priority wins and deny wins ties.
    pub const RULE_BASE: u16 = 100;
    /// "This stage does not apply here" flows of the policy tables.
    pub const SKIP_STAGE: u16 = 1000;
    /// L2: flooding of broadcast/multicast from a local port.
    pub const FLOOD: u16 = 50;
    /// L2: flooding of broadcast/multicast that came from a tunnel/uplink.
    pub const FLOOD_REMOTE: u16 = 60;
    /// L2 (VLAN networks): unknown unicast to the uplink.
    pub const UNKNOWN_UNICAST: u16 = 10;
    /// L3: an external route, `ROUTE_BASE + prefix length` (the longest
    /// prefix wins; every endpoint route, at [`OBJECT`], wins over them).
    pub const ROUTE_BASE: u16 = 40;
}

/// The value [`reg::NETWORK`] holds for a network: unique per encap and
/// segment on the host, and the same on every run (flows must be
/// reproducible for resync). VXLAN: `0x0100_0000 | vni`; VLAN:
/// `0x0200_0000 | vlan`.
pub fn network_tag(encap: contiv_core::datapath::Encap, vlan: u16, vni: Option<u32>) -> u32 {
    match encap {
        contiv_core::datapath::Encap::Vxlan => 0x0100_0000 | (vni.unwrap_or(0) & 0x00ff_ffff),
        contiv_core::datapath::Encap::Vlan => 0x0200_0000 | u32::from(vlan & 0x0fff),
    }
}

/// Flow priority of a policy rule: higher rule priority wins, deny wins
/// ties.
pub fn rule_priority(priority: u8, deny: bool) -> u16 {
    prio::RULE_BASE + 2 * u16::from(priority) + u16::from(deny)
}

#[cfg(test)]
mod tests {
    use super::*;
    use contiv_core::datapath::Encap;

    #[test]
    fn tables_are_numbered_in_pipeline_order() {
        for (i, t) in Table::ALL.iter().enumerate() {
            assert_eq!(usize::from(t.id()), i);
            assert_eq!(Table::from_id(t.id()), Some(*t));
        }
        assert_eq!(Table::from_id(15), None);
    }

    #[test]
    fn rule_priorities_order_by_priority_then_deny() {
        assert!(rule_priority(10, false) > rule_priority(9, true));
        assert!(rule_priority(5, true) > rule_priority(5, false));
        assert!(rule_priority(255, true) < prio::SKIP_STAGE);
        assert!(rule_priority(0, false) > prio::MISS);
    }

    #[test]
    fn network_tags_do_not_collide_across_encaps() {
        assert_ne!(
            network_tag(Encap::Vxlan, 0, Some(100)),
            network_tag(Encap::Vlan, 100, None)
        );
        assert_eq!(network_tag(Encap::Vxlan, 7, Some(5000)), 0x0100_1388);
    }
}
