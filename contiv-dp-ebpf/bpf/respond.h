/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Answers given in BPF, sent back out of the interface the question came
 * in on: ARP replies and IPv6 neighbour advertisements (proxy mode, and
 * always for the gateway), echo replies from the gateway.
 */
#ifndef CONTIV_RESPOND_H
#define CONTIV_RESPOND_H

#include <linux/pkt_cls.h>
#include "parse.h"

INLINE __u16 csum_fold(__s64 sum)
{
	__u64 s = (__u64)sum;
	s = (s & 0xffff) + (s >> 16);
	s = (s & 0xffff) + (s >> 16);
	s = (s & 0xffff) + (s >> 16);
	return ~(__u16)s;
}

/* Turns the ARP request in `skb` into the reply "`ip` is at `mac`". */
INLINE int arp_reply(struct __sk_buff *skb, const __u8 *mac, __u32 ip)
{
	void *data = (void *)(long)skb->data;
	void *end = (void *)(long)skb->data_end;
	struct ethhdr *eth = data;
	struct arp_eth *a = (void *)(eth + 1);
	if ((void *)(a + 1) > end)
		return TC_ACT_SHOT;
	__u8 req_mac[6];
	__u8 req_ip[4];
	__builtin_memcpy(req_mac, a->sha, 6);
	__builtin_memcpy(req_ip, a->spa, 4);
	a->op = bpf_htons(2);
	__builtin_memcpy(a->tha, req_mac, 6);
	__builtin_memcpy(a->tpa, req_ip, 4);
	__builtin_memcpy(a->sha, mac, 6);
	__builtin_memcpy(a->spa, &ip, 4);
	__builtin_memcpy(eth->h_dest, req_mac, 6);
	__builtin_memcpy(eth->h_source, mac, 6);
	return bpf_redirect(skb->ifindex, 0);
}

/* nd_advert flags */
#define ND_ADV_ROUTER 1 /* the R flag: the target is a router (the gateway) */
#define ND_ADV_DAD 2    /* the solicitation came from :: (duplicate address
			   detection): to all-nodes, not solicited (RFC 4861
			   7.2.4) */

/* Turns the neighbour solicitation in `skb` into the advertisement
 * "`target` is at `mac`": to its sender, solicited; with ND_ADV_DAD to
 * all-nodes (ff02::1), not solicited. */
INLINE int nd_advert(struct __sk_buff *skb, const struct pkt *p, const __u8 *mac,
		     const struct ip_addr *target, int flags)
{
	const __u32 len = sizeof(struct ethhdr) + sizeof(struct ipv6hdr) + 32;
	if (bpf_skb_change_tail(skb, len, 0))
		return TC_ACT_SHOT;
	void *data = (void *)(long)skb->data;
	void *end = (void *)(long)skb->data_end;
	if (data + len > end)
		return TC_ACT_SHOT;
	/* all-nodes: ff02::1, 33:33:00:00:00:01 */
	struct ip_addr dst = p->src;
	if (flags & ND_ADV_DAD) {
		dst.w[0] = bpf_htonl(0xff020000);
		dst.w[1] = 0;
		dst.w[2] = 0;
		dst.w[3] = bpf_htonl(1);
	}
	struct ethhdr *eth = data;
	if (flags & ND_ADV_DAD) {
		const __u8 all_nodes[6] = {0x33, 0x33, 0, 0, 0, 1};
		__builtin_memcpy(eth->h_dest, all_nodes, 6);
	} else {
		__builtin_memcpy(eth->h_dest, p->smac, 6);
	}
	__builtin_memcpy(eth->h_source, mac, 6);
	eth->h_proto = bpf_htons(ETH_P_IPV6);
	struct ipv6hdr *ip6 = (void *)(eth + 1);
	*(__be32 *)ip6 = bpf_htonl(0x60000000);
	ip6->payload_len = bpf_htons(32);
	ip6->nexthdr = PROTO_ICMPV6;
	ip6->hop_limit = 255;
	__builtin_memcpy(&ip6->saddr, target, 16);
	__builtin_memcpy(&ip6->daddr, &dst, 16);
	/* ICMPv6: type, code, checksum; flags; target; target link-layer
	 * address option */
	__u32 body[8];
	body[0] = bpf_htonl(ND_NA << 24);
	/* R, S (not to a DAD probe), O */
	body[1] = bpf_htonl(((flags & ND_ADV_ROUTER) ? 0x80000000u : 0) |
			    ((flags & ND_ADV_DAD) ? 0 : 0x40000000u) | 0x20000000u);
	body[2] = target->w[0];
	body[3] = target->w[1];
	body[4] = target->w[2];
	body[5] = target->w[3];
	__u8 *opt = (__u8 *)&body[6];
	opt[0] = 2;
	opt[1] = 1;
	__builtin_memcpy(opt + 2, mac, 6);
	__u32 ph[10];
	ph[0] = target->w[0];
	ph[1] = target->w[1];
	ph[2] = target->w[2];
	ph[3] = target->w[3];
	ph[4] = dst.w[0];
	ph[5] = dst.w[1];
	ph[6] = dst.w[2];
	ph[7] = dst.w[3];
	ph[8] = bpf_htonl(32);
	ph[9] = bpf_htonl(PROTO_ICMPV6);
	__s64 sum = bpf_csum_diff(0, 0, ph, sizeof(ph), 0);
	sum = bpf_csum_diff(0, 0, body, sizeof(body), (__u32)sum);
	((__u16 *)body)[1] = csum_fold(sum);
	if (bpf_skb_store_bytes(skb, sizeof(struct ethhdr) + sizeof(struct ipv6hdr), body,
				sizeof(body), 0))
		return TC_ACT_SHOT;
	return bpf_redirect(skb->ifindex, 0);
}

/* Turns the echo request in `skb` into the gateway's echo reply. */
INLINE int echo_reply(struct __sk_buff *skb, const struct pkt *p, const __u8 *gw_mac)
{
	void *data = (void *)(long)skb->data;
	void *end = (void *)(long)skb->data_end;
	struct ethhdr *eth = data;
	if ((void *)(eth + 1) > end)
		return TC_ACT_SHOT;
	__builtin_memcpy(eth->h_dest, p->smac, 6);
	__builtin_memcpy(eth->h_source, gw_mac, 6);
	__u8 *icmp;
	__u8 reply;
	if (!p->is_v6) {
		struct iphdr *ip = data + sizeof(*eth);
		if ((void *)(ip + 1) > end)
			return TC_ACT_SHOT;
		__be32 s = ip->saddr;
		ip->saddr = ip->daddr;
		ip->daddr = s;
		reply = ICMP_ECHO_REP;
	} else {
		struct ipv6hdr *ip6 = data + sizeof(*eth);
		if ((void *)(ip6 + 1) > end)
			return TC_ACT_SHOT;
		struct in6_addr s = ip6->saddr;
		ip6->saddr = ip6->daddr;
		ip6->daddr = s;
		reply = ICMP6_ECHO_REP;
	}
	icmp = data + l4_off(p);
	if ((void *)(icmp + 4) > end)
		return TC_ACT_SHOT;
	__be16 old = *(__be16 *)icmp;
	icmp[0] = reply;
	__be16 new = *(__be16 *)icmp;
	if (bpf_l4_csum_replace(skb, l4_off(p) + 2, old, new, sizeof(__u16)))
		return TC_ACT_SHOT;
	return bpf_redirect(skb->ifindex, 0);
}

#endif
