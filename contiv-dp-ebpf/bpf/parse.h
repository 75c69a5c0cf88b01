/* SPDX-License-Identifier: Apache-2.0 */
/* Packet parsing into struct pkt: Ethernet, ARP, IPv4, IPv6, L4 ports,
 * ICMP type and id. */
#ifndef CONTIV_PARSE_H
#define CONTIV_PARSE_H

#include <linux/bpf.h>
#include <linux/if_ether.h>
#include <linux/ip.h>
#include <linux/ipv6.h>
#include <linux/in.h>
#include <linux/tcp.h>
#include <linux/udp.h>
#include <bpf/bpf_helpers.h>
#include <bpf/bpf_endian.h>
#include "abi.h"

#define INLINE static __always_inline

#define PROTO_ICMP 1
#define PROTO_TCP 6
#define PROTO_UDP 17
#define PROTO_ICMPV6 58

#define ICMP_ECHO_REQ 8
#define ICMP_ECHO_REP 0
#define ICMP6_ECHO_REQ 128
#define ICMP6_ECHO_REP 129
#define ND_RS 133
#define ND_RA 134
#define ND_NS 135
#define ND_NA 136
#define ND_REDIRECT 137

struct arp_eth {
	__be16 htype;
	__be16 ptype;
	__u8 hlen;
	__u8 plen;
	__be16 op;
	__u8 sha[6];
	__u8 spa[4];
	__u8 tha[6];
	__u8 tpa[4];
} __attribute__((packed));

/* What the programs know about a packet. */
struct pkt {
	__u32 tenant;
	__u32 net;
	__u32 origin;
	__u32 in_ifindex;
	__u32 src_epg;     /* the source group, if known (hint_epg) */
	__u32 hint_epg;    /* 1 if src_epg came with the packet (VXLAN-GBP) */
	struct ip_addr src;
	struct ip_addr dst;
	__u16 eth_proto;   /* host order */
	__u16 l3_off;
	__u16 l4_off;
	__u8 is_v6;
	__u8 proto;
	__be16 sport;      /* TCP/UDP ports; ICMP echo: the id in both */
	__be16 dport;
	__u8 icmp_type;
	__u8 icmp_code;
	__u8 tcp_flags;
	__u8 frag;         /* a non-first IPv4 fragment (no L4 header) */
	__u8 smac[6];
	__u8 dmac[6];
	__u32 len;
};

#define TCPF_FIN 0x01
#define TCPF_SYN 0x02
#define TCPF_RST 0x04
#define TCPF_ACK 0x10

INLINE void v4_mapped(struct ip_addr *a, __u32 v4)
{
	a->w[0] = 0;
	a->w[1] = 0;
	a->w[2] = bpf_htonl(0xffff);
	a->w[3] = v4;
}

INLINE int ip_eq(const struct ip_addr *a, const struct ip_addr *b)
{
	return a->w[0] == b->w[0] && a->w[1] == b->w[1] && a->w[2] == b->w[2] &&
	       a->w[3] == b->w[3];
}

INLINE int ip_zero(const struct ip_addr *a)
{
	return (a->w[0] | a->w[1] | a->w[2] | a->w[3]) == 0;
}

/* fe80::/10 */
INLINE int ip6_link_local(const struct ip_addr *a)
{
	return (bpf_ntohl(a->w[0]) & 0xffc00000) == 0xfe800000;
}

INLINE int ip6_multicast(const struct ip_addr *a)
{
	return (bpf_ntohl(a->w[0]) >> 24) == 0xff;
}

INLINE int mac_eq(const __u8 *a, const __u8 *b)
{
	return a[0] == b[0] && a[1] == b[1] && a[2] == b[2] && a[3] == b[3] &&
	       a[4] == b[4] && a[5] == b[5];
}

INLINE void mac_copy(__u8 *d, const __u8 *s)
{
	__builtin_memcpy(d, s, 6);
}

INLINE int mac_multicast(const __u8 *m)
{
	return m[0] & 1;
}

INLINE void ip6_copy(struct ip_addr *d, const void *s)
{
	__builtin_memcpy(d, s, 16);
}

/* Ethernet header: MACs and the ethertype. -1 if truncated. */
INLINE int parse_eth(struct __sk_buff *skb, struct pkt *p)
{
	void *data = (void *)(long)skb->data;
	void *end = (void *)(long)skb->data_end;
	struct ethhdr *eth = data;
	if ((void *)(eth + 1) > end)
		return -1;
	mac_copy(p->dmac, eth->h_dest);
	mac_copy(p->smac, eth->h_source);
	p->eth_proto = bpf_ntohs(eth->h_proto);
	p->l3_off = sizeof(*eth);
	p->len = skb->len;
	return 0;
}

/* p->l4_off bounded for the verifier (parse_ip refuses more than 0x3ff). */
INLINE __u32 l4_off(const struct pkt *p)
{
	return p->l4_off & 0x3ff;
}

/* L4 fields at p->l4_off. -1 if truncated. */
INLINE int parse_l4(struct __sk_buff *skb, struct pkt *p)
{
	void *data = (void *)(long)skb->data;
	void *end = (void *)(long)skb->data_end;
	void *l4 = data + l4_off(p);
	if (p->frag)
		return 0;
	if (p->proto == PROTO_TCP) {
		struct tcphdr *t = l4;
		if ((void *)(t + 1) > end)
			return -1;
		p->sport = t->source;
		p->dport = t->dest;
		p->tcp_flags = ((__u8 *)t)[13];
	} else if (p->proto == PROTO_UDP) {
		struct udphdr *u = l4;
		if ((void *)(u + 1) > end)
			return -1;
		p->sport = u->source;
		p->dport = u->dest;
	} else if (p->proto == PROTO_ICMP || p->proto == PROTO_ICMPV6) {
		/* type, code, checksum, then id (echo) */
		__u8 *h = l4;
		if ((void *)(h + 8) > end)
			return -1;
		p->icmp_type = h[0];
		p->icmp_code = h[1];
		int echo = p->proto == PROTO_ICMP
				   ? (h[0] == ICMP_ECHO_REQ || h[0] == ICMP_ECHO_REP)
				   : (h[0] == ICMP6_ECHO_REQ || h[0] == ICMP6_ECHO_REP);
		if (echo) {
			p->sport = *(__be16 *)(h + 4);
			p->dport = p->sport;
		}
	}
	return 0;
}

/* IPv4 or IPv6 header at p->l3_off, then L4. -1 if malformed. */
INLINE int parse_ip(struct __sk_buff *skb, struct pkt *p)
{
	void *data = (void *)(long)skb->data;
	void *end = (void *)(long)skb->data_end;
	if (p->eth_proto == ETH_P_IP) {
		struct iphdr *ip = data + p->l3_off;
		if ((void *)(ip + 1) > end)
			return -1;
		if (ip->version != 4 || ip->ihl < 5)
			return -1;
		v4_mapped(&p->src, ip->saddr);
		v4_mapped(&p->dst, ip->daddr);
		p->proto = ip->protocol;
		p->frag = (bpf_ntohs(ip->frag_off) & 0x1fff) != 0;
		p->l4_off = p->l3_off + ip->ihl * 4;
	} else {
		struct ipv6hdr *ip6 = data + p->l3_off;
		if ((void *)(ip6 + 1) > end)
			return -1;
		if (ip6->version != 6)
			return -1;
		ip6_copy(&p->src, &ip6->saddr);
		ip6_copy(&p->dst, &ip6->daddr);
		p->proto = ip6->nexthdr;
		p->is_v6 = 1;
		p->l4_off = p->l3_off + sizeof(*ip6);
		/* Skip up to two extension headers (hop-by-hop, routing,
		 * destination options, fragment) to the L4 protocol. */
#pragma unroll
		for (int i = 0; i < 2; i++) {
			__u8 nh = p->proto;
			if (nh != 0 && nh != 43 && nh != 60 && nh != 44)
				break;
			__u8 *ext = data + l4_off(p);
			if ((void *)(ext + 8) > end)
				return -1;
			if (nh == 44) {
				/* a fragment: only the first one has the L4 header */
				p->frag = (bpf_ntohs(*(__be16 *)(ext + 2)) & 0xfff8) != 0;
				p->l4_off += 8;
			} else {
				p->l4_off += (ext[1] + 1) * 8;
			}
			p->proto = ext[0];
		}
		if (p->l4_off > 0x3ff)
			return -1;
	}
	return parse_l4(skb, p);
}

/* Neighbour discovery and MLD: bypass conntrack and policy (as on OVS). */
INLINE int icmp6_nd(const struct pkt *p)
{
	return p->is_v6 && p->proto == PROTO_ICMPV6 &&
	       ((p->icmp_type >= 130 && p->icmp_type <= 137) || p->icmp_type == 143);
}

#endif
