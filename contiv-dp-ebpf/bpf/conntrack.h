/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Connection tracking in an LRU hash: one entry per connection, keyed by
 * tenant + protocol + the normalised 5-tuple (the smaller (address, port)
 * end first, so both directions find the same entry; ICMP echo by its id).
 * Entries expire by protocol and TCP state (timeouts in struct config); an
 * expired entry counts as absent, and the agent's garbage collector deletes
 * it. ICMP errors about a tracked connection ("related") pass.
 */
#ifndef CONTIV_CONNTRACK_H
#define CONTIV_CONNTRACK_H

#include "maps.h"
#include "parse.h"

#define NSEC 1000000000ull
/* Refresh an entry's last-seen time at most this often. */
#define CT_REFRESH_NS (NSEC / 10)

INLINE int ip_lt(const struct ip_addr *a, const struct ip_addr *b)
{
	if (a->w[0] != b->w[0])
		return a->w[0] < b->w[0];
	if (a->w[1] != b->w[1])
		return a->w[1] < b->w[1];
	if (a->w[2] != b->w[2])
		return a->w[2] < b->w[2];
	return a->w[3] < b->w[3];
}

/* Fills `k` for (src, sport) -> (dst, dport); returns 1 if the source is
 * side a of the key. */
INLINE int ct_key_of(struct ct_key *k, __u32 tenant, __u8 proto, const struct ip_addr *src,
		     __be16 sport, const struct ip_addr *dst, __be16 dport)
{
	__builtin_memset(k, 0, sizeof(*k));
	k->tenant = tenant;
	k->proto = proto;
	int src_first = ip_lt(src, dst) || (ip_eq(src, dst) && sport <= dport);
	if (src_first) {
		k->a = *src;
		k->pa = sport;
		k->b = *dst;
		k->pb = dport;
	} else {
		k->a = *dst;
		k->pa = dport;
		k->b = *src;
		k->pb = sport;
	}
	return src_first;
}

INLINE __u64 ct_timeout(const struct ct_entry *e, __u8 proto, const struct config *cfg)
{
	__u32 f = e->flags;
	__u32 s;
	if (proto == PROTO_TCP) {
		if ((f & CT_RST) || (f & (CT_FIN_A | CT_FIN_B)) == (CT_FIN_A | CT_FIN_B))
			s = cfg->ct_tcp_close;
		else if (!(f & CT_SEEN_REPLY))
			s = cfg->ct_tcp_syn;
		else
			s = cfg->ct_tcp_est;
	} else if (proto == PROTO_UDP) {
		s = cfg->ct_udp;
	} else {
		s = cfg->ct_other;
	}
	return (__u64)s * NSEC;
}

INLINE __u32 ct_tcp_flags(__u32 f, __u8 tcp, int from_a)
{
	if (tcp & TCPF_RST)
		f |= CT_RST;
	if (tcp & TCPF_FIN)
		f |= from_a ? CT_FIN_A : CT_FIN_B;
	return f;
}

/* 1 if the packet belongs to a live tracked connection (the entry is
 * refreshed); 0 if it starts a new one. */
INLINE int ct_lookup(const struct pkt *p, const struct config *cfg, __u64 now)
{
	struct ct_key k;
	int a_is_src = ct_key_of(&k, p->tenant, p->proto, &p->src, p->sport, &p->dst, p->dport);
	struct ct_entry *e = bpf_map_lookup_elem(&conntrack, &k);
	if (!e)
		return 0;
	__u64 seen = e->seen_ns;
	if (now > seen && now - seen > ct_timeout(e, p->proto, cfg))
		return 0;
	__u32 f = e->flags;
	if (p->proto == PROTO_TCP) {
		int closed = (f & CT_RST) || (f & (CT_FIN_A | CT_FIN_B)) == (CT_FIN_A | CT_FIN_B);
		/* a new SYN on a closed connection is a new connection */
		if (closed && (p->tcp_flags & (TCPF_SYN | TCPF_ACK)) == TCPF_SYN)
			return 0;
		f = ct_tcp_flags(f, p->tcp_flags, a_is_src);
	}
	int from_init = a_is_src == !!(f & CT_A_INIT);
	if (!from_init)
		f |= CT_SEEN_REPLY;
	if (f != e->flags)
		e->flags = f;
	if (now > seen + CT_REFRESH_NS)
		e->seen_ns = now;
	return 1;
}

INLINE void ct_create(const struct pkt *p, __u64 now)
{
	struct ct_key k;
	int a_is_src = ct_key_of(&k, p->tenant, p->proto, &p->src, p->sport, &p->dst, p->dport);
	struct ct_entry e = {
		.created_ns = now,
		.seen_ns = now,
		.flags = a_is_src ? CT_A_INIT : 0,
	};
	if (p->proto == PROTO_TCP)
		e.flags = ct_tcp_flags(e.flags, p->tcp_flags, a_is_src);
	bpf_map_update_elem(&conntrack, &k, &e, BPF_ANY);
}

INLINE int icmp_error(const struct pkt *p)
{
	if (p->proto == PROTO_ICMP)
		return p->icmp_type == 3 || p->icmp_type == 11 || p->icmp_type == 12;
	if (p->proto == PROTO_ICMPV6)
		return p->icmp_type >= 1 && p->icmp_type <= 4;
	return 0;
}

/* 1 if `p` is an ICMP error about a live tracked connection (the packet it
 * quotes). */
INLINE int ct_related(struct __sk_buff *skb, const struct pkt *p, const struct config *cfg,
		      __u64 now)
{
	if (!icmp_error(p))
		return 0;
	void *data = (void *)(long)skb->data;
	void *end = (void *)(long)skb->data_end;
	struct ip_addr src, dst;
	__u8 proto;
	__u8 *l4;
	if (!p->is_v6) {
		struct iphdr *ip = data + l4_off(p) + 8;
		if ((void *)(ip + 1) > end)
			return 0;
		v4_mapped(&src, ip->saddr);
		v4_mapped(&dst, ip->daddr);
		proto = ip->protocol;
		l4 = (__u8 *)ip + ip->ihl * 4;
	} else {
		struct ipv6hdr *ip6 = data + l4_off(p) + 8;
		if ((void *)(ip6 + 1) > end)
			return 0;
		ip6_copy(&src, &ip6->saddr);
		ip6_copy(&dst, &ip6->daddr);
		proto = ip6->nexthdr;
		l4 = (__u8 *)(ip6 + 1);
	}
	__be16 sport = 0, dport = 0;
	if ((void *)(l4 + 8) > end)
		return 0;
	if (proto == PROTO_TCP || proto == PROTO_UDP) {
		sport = *(__be16 *)l4;
		dport = *(__be16 *)(l4 + 2);
	} else if (proto == PROTO_ICMP || proto == PROTO_ICMPV6) {
		sport = *(__be16 *)(l4 + 4);
		dport = sport;
	}
	struct ct_key k;
	ct_key_of(&k, p->tenant, proto, &src, sport, &dst, dport);
	struct ct_entry *e = bpf_map_lookup_elem(&conntrack, &k);
	if (!e)
		return 0;
	return !(now > e->seen_ns && now - e->seen_ns > ct_timeout(e, proto, cfg));
}

#endif
