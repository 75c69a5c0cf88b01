/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Policy for new connections, exactly as the IR says: the source group's
 * `out` rules where the source is local (egress stage), the destination
 * group's `in` rules where the destination is local (ingress stage); each
 * stage's rules are one list per {tenant, group, direction}, sorted by the
 * loader (priority descending, deny before allow, rule id ascending), so
 * the first matching rule decides; no match allows; both stages must allow.
 */
#ifndef CONTIV_POLICY_H
#define CONTIV_POLICY_H

#include "maps.h"
#include "parse.h"

/* Set ids are below 2^31; bit 31 of the key's set word marks IPv6, so an
 * IPv6 prefix never matches a (v4-mapped) IPv4 address. */
#define SET_V6 0x80000000u

INLINE int in_set(__u32 set, const struct ip_addr *ip, int v6)
{
	struct set_key k;
	__builtin_memset(&k, 0, sizeof(k));
	k.prefixlen = 32 + 128;
	k.set = set | (v6 ? SET_V6 : 0);
	k.ip = *ip;
	return bpf_map_lookup_elem(&addr_sets, &k) != 0;
}

INLINE __u32 member_of(__u32 tenant, const struct ip_addr *ip)
{
	struct member_key k;
	__builtin_memset(&k, 0, sizeof(k));
	k.tenant = tenant;
	k.ip = *ip;
	__u32 *e = bpf_map_lookup_elem(&membership, &k);
	return e ? *e : 0;
}

struct scan {
	struct ip_addr peer_ip;
	struct ip_addr local_ip;
	__u32 k[3];
	__u32 gen;
	__u32 peer_epg;
	__u32 found;
	__u32 action;
	__u16 dport; /* host order */
	__u8 proto;
	__u8 is_v6;
	__u64 rule_id;
};

INLINE int rule_matches(const struct rule *r, const struct scan *s)
{
	if (r->peer_kind == PEER_EPG) {
		if (r->peer == 0 || r->peer != s->peer_epg)
			return 0;
	} else if (r->peer_kind == PEER_SET) {
		if (!in_set(r->peer, &s->peer_ip, s->is_v6))
			return 0;
	}
	if (r->local_set && !in_set(r->local_set, &s->local_ip, s->is_v6))
		return 0;
	if (r->flags & RULE_PROTO) {
		if (r->proto == PROTO_ICMP) {
			/* `icmp` means ICMPv6 for IPv6 traffic too */
			if (!(s->proto == PROTO_ICMP || (s->proto == PROTO_ICMPV6 && s->is_v6)))
				return 0;
		} else if (r->proto != s->proto) {
			return 0;
		}
	}
	if (r->flags & RULE_PORTS) {
		if (s->proto != PROTO_TCP && s->proto != PROTO_UDP)
			return 0;
		if (s->dport < r->port_lo || s->dport > r->port_hi)
			return 0;
	}
	return 1;
}

static long scan_rule(__u32 idx, void *ctx)
{
	struct scan *s = ctx;
	struct list_entry_key k = {
		.k = {s->k[0], s->k[1], s->k[2]},
		.slot = (s->gen << LIST_GEN_SHIFT) | idx,
	};
	struct rule *r = bpf_map_lookup_elem(&rules, &k);
	if (!r)
		return 1;
	if (!rule_matches(r, s))
		return 0;
	s->found = 1;
	s->action = r->action;
	s->rule_id = r->id;
	return 1;
}

/* One stage: ACT_ALLOW or ACT_DENY; *rule the deciding rule id (0: none). */
INLINE int stage(const struct pkt *p, __u32 epg, __u32 dir, __u32 peer_epg,
		 const struct ip_addr *peer_ip, const struct ip_addr *local_ip, __u64 *rule)
{
	*rule = 0;
	if (epg == 0)
		return ACT_ALLOW;
	struct list_key hk = {.k = {p->tenant, epg, dir}};
	struct list_head *h = bpf_map_lookup_elem(&rule_heads, &hk);
	if (!h || h->count == 0)
		return ACT_ALLOW;
	struct scan s;
	__builtin_memset(&s, 0, sizeof(s));
	s.peer_ip = *peer_ip;
	s.local_ip = *local_ip;
	s.k[0] = p->tenant;
	s.k[1] = epg;
	s.k[2] = dir;
	s.gen = h->gen & 1;
	s.peer_epg = peer_epg;
	s.dport = bpf_ntohs(p->dport);
	s.proto = p->proto;
	s.is_v6 = p->is_v6;
	__u32 n = h->count;
	if (n > MAX_LIST)
		n = MAX_LIST;
	bpf_loop(n, scan_rule, &s, 0);
	if (!s.found)
		return ACT_ALLOW;
	*rule = s.rule_id;
	struct rule_stats *st = bpf_map_lookup_elem(&rule_stats, &s.rule_id);
	if (st) {
		st->packets += 1;
		if (s.action == ACT_DENY)
			st->drops += 1;
	}
	return s.action;
}

/* The verdict on a new connection: ACT_ALLOW or ACT_DENY. */
INLINE int policy(const struct pkt *p, int src_local, int dst_local, __u32 src_epg)
{
	__u32 dst_epg = member_of(p->tenant, &p->dst);
	__u64 rule;
	if (src_local &&
	    stage(p, src_epg, DIR_OUT, dst_epg, &p->dst, &p->src, &rule) == ACT_DENY)
		return ACT_DENY;
	if (dst_local &&
	    stage(p, dst_epg, DIR_IN, src_epg, &p->src, &p->dst, &rule) == ACT_DENY)
		return ACT_DENY;
	return ACT_ALLOW;
}

#endif
