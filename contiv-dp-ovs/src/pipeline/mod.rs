//! The contiv OpenFlow pipeline: one integration bridge, a fixed list of
//! tables, and the compilation of networks, endpoints, peers and the policy
//! IR into flows — incrementally, with an owner cookie on every flow.
//!
//! # Tables
//!
//! | id | table | purpose |
//! |---|---|---|
//! | 0 | [`Classify`](Table::Classify) | local port (`in_port`) → tenant `reg0`, network `reg1`, `FROM_LOCAL`; VXLAN (`tun_id=VNI`) → `FROM_TUNNEL`; VLAN uplink (`in_port`,`dl_vlan`, tag popped) → `FROM_UPLINK`; the fabric (uplink untagged): to the router MAC → the fabric tenant, `FROM_UPLINK`+`ROUTED`, the rest ↔ the router port; multicast source MAC and unknown ports drop |
//! | 1 | [`SpoofGuard`](Table::SpoofGuard) | local ports only: `dl_src` = the endpoint's MAC with `nw_src` / `arp_spa`+`arp_sha` / `ipv6_src` its own (IPv6 link-local and `::` only for ICMPv6); DSCP marking of a netprofile; anything else drops |
//! | 2 | [`Arp`](Table::Arp) | proxy mode: `arp_op=1` for a known endpoint IP of the network is answered in place (`IN_PORT`); other ARP (and all ARP from tunnels/uplinks) → L2; IPv4/IPv6 → conntrack; the network's gateway answers ARP, ND ([`gateway6`]) and ICMP/ICMPv6 echo from local ports in both ARP modes (MAC `02:02:<gateway IPv4>`); routing mode: IP to the gateway MAC → `ROUTED`; other ethertypes drop |
//! | 3 | [`Conntrack`](Table::Conntrack) | L4 summary into `reg6` (protocol, TCP/UDP destination port, ICMP flag — one policy match for both families), then `ct(table=4, zone=reg0[0..15])`; ICMPv6 RS/RA/NS/NA/MLD bypass to L2 |
//! | 4 | [`CtState`](Table::CtState) | `+trk+inv` drop; `+trk+est` and `+trk+rel` → L2 (reverse-DNATed service replies via 6); `+trk+new` → 5 |
//! | 5 | [`ServiceLb`](Table::ServiceLb) | services ([`service`]): (tenant, VIP, protocol, port) of a new connection → the service's select group (DNAT to one backend, recirculate to 6); else → 7 |
//! | 6 | [`ServiceFwd`](Table::ServiceFwd) | after DNAT: the backend's MAC (and `HAIRPIN` when a backend reached itself); after reverse DNAT of a hairpin reply: the client's MAC |
//! | 7 | [`SrcEpg`](Table::SrcEpg) | (tenant `reg0`, source IP) → source EPG `reg2` (one flow per member address) |
//! | 8 | [`DstEpg`](Table::DstEpg) | (tenant, destination IP) → destination EPG `reg3`, plus `DST_LOCAL` when a local endpoint has that address |
//! | 9 | [`Egress`](Table::Egress) | `out` rules of the source EPG; skipped (priority 1000) unless `FROM_LOCAL`; allow → 10, deny → drop, no match → 10 |
//! | 10 | [`Ingress`](Table::Ingress) | `in` rules of the destination EPG; skipped unless `DST_LOCAL` — traffic from tunnels and uplinks **is** policed where it lands; allow → 11, deny → drop, no match → 11 |
//! | 11 | [`Commit`](Table::Commit) | `ct(commit, zone=reg0[0..15])` (hairpin: SNAT to the VIP), → 12 |
//! | 12 | [`L2Forward`](Table::L2Forward) | (`reg1`, `dl_dst`) → local port; → `set_field:VNI->tun_id` + the peer's VXLAN port; → `push_vlan` + tag + uplink; broadcast/multicast → every local port + head-end replication to every peer (or the uplink), and from a tunnel/uplink only to local ports; VLAN unknown unicast → uplink; the gateway MAC of a network with external access → 14; `ROUTED` → 13 |
//! | 13 | [`L3Forward`](Table::L3Forward) | routing mode ([`routing`]): (tenant, destination IP) → gateway MAC as source, the endpoint's MAC, `dec_ttl`, its port / tunnel with its network's VNI / uplink with its tag; external prefixes (longest first) → router MAC, next hop MAC, `dec_ttl`, uplink untagged; the rest of a network with external access → 14; miss drops |
//! | 14 | [`ExternalOut`](Table::ExternalOut) | external access ([`nat`]): replies of host-opened connections → host port; to a network or the private subnet: drop; else SNAT to the tenant's private address → host port |
//!
//! # Registers
//!
//! | register | holds |
//! |---|---|
//! | `reg0` | tenant (VRF) id; bits 0..15 are the conntrack zone |
//! | `reg1` | network tag: `0x0100_0000 \| VNI` (VXLAN), `0x0200_0000 \| VLAN` (VLAN) |
//! | `reg2` | source EPG id (0 = none) |
//! | `reg3` | destination EPG id (0 = none) |
//! | `reg4` | flags: bit 0 `FROM_LOCAL`, 1 `FROM_TUNNEL`, 2 `FROM_UPLINK`, 3 `DST_LOCAL`, 4 `FROM_HOST`, 5 `SERVICE`, 6 `HAIRPIN`, 7 `UNSNAT_DONE`, 8 `SNAT_DONE`, 9 `ROUTED` |
//! | `reg5` | the VIP a new service connection was addressed to (the hairpin SNAT uses it) |
//! | `reg6` | L4: bits 0..15 destination port, 16..23 IP protocol, 24 ICMP (v4 or v6) |
//!
//! # Policy
//!
//! Stateful, per the DESIGN §3.4 semantics: only `+new` connections meet
//! the rules; the egress stage (source's `out` rules) runs where the source
//! is a local port, the ingress stage (destination's `in` rules) where the
//! destination is local; both must allow; `ct(commit)` then lets every
//! later packet of the connection (both directions) through as `+est`. A
//! rule flow's priority is `100 + 2·priority + deny`: the highest priority
//! wins and deny wins ties; no matching rule falls through to the table
//! miss, which allows. Tenants never meet: L2 is per network, conntrack
//! zones and EPG classification are per tenant.
//!
//! Lowering ([`policy`]): rules sharing (direction, priority, action,
//! protocol, ports, local set) are grouped; owners with identical peer
//! sets form a cross product emitted with `conjunction` as
//! `|owners| + |peers| + 1` flows (or directly when that is not larger).
//! Flow count is O(endpoints + rules): classification is 2 flows per member
//! address, so one endpoint joining an EPG changes 2 flows, and 100 EPGs ×
//! 100 endpoints with an all-pairs allow on one port is 20 000
//! classification flows + 201 policy flows.
//!
//! # Cookies and resync
//!
//! Every flow carries its owner's cookie ([`cookie`]): base skeleton,
//! network, local/remote endpoint, membership, rule, rule group. The flows
//! are compiled to typed [`Flow`]s ([`Pipeline`], [`FlowTable`]) that diff
//! cheaply: a change yields exactly the flows to add/replace and to delete,
//! and a resync compares the switch's flows (read back with flow-stats)
//! with the compiled set and sends only the difference, in one bundle.

pub mod build;
pub mod compiler;
pub mod cookie;
pub mod flow;
pub mod flow_table;
pub mod forwarding;
pub mod fxhash;
pub mod gateway6;
pub mod nat;
pub mod policy;
pub mod ports;
pub mod render;
pub mod routing;
pub mod service;
pub mod tables;

pub use compiler::{Pipeline, PortMap};
pub use cookie::CookieKind;
pub use flow::{Flow, FlowKey, Instructions, normalize_instructions};
pub use flow_table::{FlowChange, FlowTable, Owner};
pub use tables::{Table, flags, l4, network_tag, prio, reg, rule_priority};
