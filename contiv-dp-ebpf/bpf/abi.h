/* SPDX-License-Identifier: Apache-2.0 */
/*
 * The ABI between the BPF programs and the loader: map keys, map values and
 * constants. `src/abi.rs` mirrors every struct here field by field (and a
 * test checks the sizes); change both together and bump ABI_VERSION, which
 * names the pin directory, so an agent never adopts maps of another layout.
 *
 * Addresses are 16 bytes in network order; IPv4 is stored v4-mapped
 * (::ffff:a.b.c.d). Ports in rules are host order; everything copied from a
 * packet (addresses, conntrack ports) stays in network order.
 */
#ifndef CONTIV_ABI_H
#define CONTIV_ABI_H

#include <linux/types.h>

#define ABI_VERSION 3

/* Network tags: the key of a network, derived from its encapsulation. */
#define NET_TAG_VXLAN 0x01000000u
#define NET_TAG_VLAN 0x02000000u
/* The `endpoints` key space of the host port: {NET_TAG_HOST, ip} -> the
 * target of a local endpoint with external access (its network's
 * `external`); what the host sends through the host port goes to it, and
 * only such endpoints send through the host. */
#define NET_TAG_HOST 0x03000000u

/* The `addr_sets` id (never a policy set's: those start at 1) holding
 * every network subnet and the private subnet: never a destination
 * through the host port (tenants do not meet through the host). */
#define SET_INTERNAL 0u

/* Where a packet entered the datapath. */
#define ORIGIN_LOCAL 1
#define ORIGIN_VXLAN 2
#define ORIGIN_UPLINK 3
#define ORIGIN_HOST 4 /* the host port: the host's stack (NAT, published ports) */

/* Where a packet leaves (struct target.kind). */
#define TARGET_LOCAL 1  /* a local endpoint: ifindex of its host-side veth */
#define TARGET_VXLAN 2  /* a remote endpoint or peer behind VTEP `vtep` */
#define TARGET_UPLINK 3 /* the VLAN uplink */
#define TARGET_HOST 4   /* the host's stack through the host port (never in a map) */

/* struct target.flags */
#define TARGET_F_QDISC 1u /* local: deliver through the host side's egress
			     qdisc (bpf_redirect, not _peer): it is shaped */

/* struct config.flags */
#define CFG_ARP_PROXY 1u

/* struct network.flags */
#define NET_GW4 1u
#define NET_GW6 2u
#define NET_VLAN 4u

/* struct iface.flags */
#define IF_V4 1u
#define IF_V6 2u
#define IF_OWNED 4u /* the datapath created the veth (the programs ignore it) */

/* Rule directions (struct list_key.k[2] of the rule lists). */
#define DIR_IN 0
#define DIR_OUT 1

/* struct rule.peer_kind */
#define PEER_ANY 0
#define PEER_EPG 1
#define PEER_SET 2

/* struct rule.action */
#define ACT_ALLOW 0
#define ACT_DENY 1

/* struct rule.flags */
#define RULE_PORTS 1u  /* port_lo..port_hi applies (TCP/UDP only) */
#define RULE_PROTO 2u  /* proto applies (else any protocol) */

/* struct ct_entry.flags */
#define CT_SEEN_REPLY 1u /* a packet from the responder was seen */
#define CT_FIN_A 2u
#define CT_FIN_B 4u
#define CT_RST 8u
#define CT_A_INIT 16u /* side a of the key opened the connection */

/* Drop reasons (index of the drop_reasons array). */
#define DROP_UNKNOWN_IFACE 1
#define DROP_NO_NETWORK 2
#define DROP_MALFORMED 3
#define DROP_SPOOF 4
#define DROP_ETHERTYPE 5
#define DROP_NO_ROUTE 6
#define DROP_POLICY 7
#define DROP_UNKNOWN_VTEP 8
#define DROP_NOT_LOCAL 9
#define DROP_MULTICAST 10
#define DROP_GATEWAY 11
#define DROP_REDIRECT 12
#define DROP_RATE 13
#define DROP_REASONS 16

/* Lists (flood targets, rules) are written to the inactive generation and
 * switched by one head update: slot = gen << 31 | index. */
#define LIST_GEN_SHIFT 31

/* Largest list the programs walk (rules of one group, flood targets of one
 * network). */
#define MAX_LIST 65536

struct ip_addr {
	__u32 w[4];
};

/* config[0] */
struct config {
	__u32 flags;
	__u32 vxlan_ifindex;
	__u32 uplink_ifindex;
	/* conntrack timeouts in seconds */
	__u32 ct_tcp_syn;
	__u32 ct_tcp_est;
	__u32 ct_tcp_close;
	__u32 ct_udp;
	__u32 ct_other;
	/* external access: the datapath's end of the host port (0: none) and
	 * the MAC of the host's end */
	__u32 host_ifindex;
	__u8 host_mac[6];
	__u8 pad[2];
};

/* interfaces: ifindex -> iface (local endpoints' host-side veths) */
struct iface {
	__u32 net;
	__u32 tenant;
	__u32 epg;
	__u32 flags;
	__u8 mac[6];
	__u8 dscp; /* DSCP to mark, 0 = leave unchanged */
	__u8 pad;
	__u32 ip4; /* network order */
	struct ip_addr ip6;
	__u32 pad2;
	/* token bucket of the endpoint's rate limit (0 = none) */
	__u64 rate_bps;   /* bytes per second */
	__u64 burst;      /* bytes */
};

/* networks: tag -> network */
struct network {
	__u32 tenant;
	__u32 vni;
	__u16 vlan;
	__u8 flags;
	__u8 pad0;
	__u8 gw_mac[6];
	__u8 pad1[2];
	__u32 gw4; /* network order */
	struct ip_addr gw6;
};

/* endpoints: {net, ip} -> target; macs: {net, mac} -> target;
 * flood lists: entries are targets too. */
struct ep_key {
	__u32 net;
	struct ip_addr ip;
};

struct mac_key {
	__u32 net;
	__u8 mac[6];
	__u8 pad[2];
};

struct target {
	__u32 kind;
	__u32 ifindex;
	__u32 epg;
	__u8 mac[6];
	__u8 flags; /* TARGET_F_* */
	__u8 pad;
	struct ip_addr vtep;
};

/* membership: {tenant, ip} -> epg */
struct member_key {
	__u32 tenant;
	struct ip_addr ip;
};

/* address sets: LPM {prefixlen, set, ip} -> 1 (prefixlen counts the 32
 * bits of `set` too) */
struct set_key {
	__u32 prefixlen;
	__u32 set;
	struct ip_addr ip;
};

/* list heads: rules {tenant, epg, dir}, flood {net, 0, 0} */
struct list_key {
	__u32 k[3];
};

struct list_head {
	__u32 gen;
	__u32 count;
};

struct list_entry_key {
	__u32 k[3];
	__u32 slot;
};

struct rule {
	__u64 id;
	__u32 peer;      /* epg id or set id */
	__u32 local_set; /* set id, 0 = none */
	__u16 port_lo;
	__u16 port_hi;
	__u8 peer_kind;
	__u8 proto;
	__u8 action;
	__u8 flags;
	__u8 priority;
	__u8 pad[7];
};

/* conntrack: LRU {tenant, proto, (a, pa) < (b, pb)} -> entry */
struct ct_key {
	__u32 tenant;
	__u8 proto;
	__u8 pad[3];
	struct ip_addr a;
	struct ip_addr b;
	__u16 pa;
	__u16 pb;
};

struct ct_entry {
	__u64 created_ns;
	__u64 seen_ns;
	__u32 flags;
	__u32 pad;
};

/* per-CPU counters */
struct ep_stats {
	__u64 tx_packets; /* sent by the endpoint */
	__u64 tx_bytes;
	__u64 tx_drops;
	__u64 rx_packets; /* delivered to the endpoint */
	__u64 rx_bytes;
	__u64 rx_drops;
};

struct rule_stats {
	__u64 packets; /* new connections this rule decided */
	__u64 drops;   /* of those, dropped because of it */
};

/* flood_stats[0]: what flood_net did (the original frame of a flood is
 * consumed, not dropped: it is counted here, not in drop_reasons). An
 * additive map: no existing layout changed, so ABI_VERSION stays. */
struct flood_stats {
	__u64 frames; /* frames flooded */
	__u64 copies; /* copies sent (local endpoints, VTEPs, the uplink) */
};

/* token bucket state of a rate-limited endpoint */
struct bucket {
	__u64 tokens;
	__u64 last_ns;
};

#endif
