/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Services (load balancers): DNAT from a VIP:port to one of its backends,
 * per connection, at the client's host; reverse NAT of the replies there.
 *
 *   services     {tenant, VIP, port, proto} -> the service's network, the
 *                backends' port and the backend slots (addresses);
 *   svc_vips     {network, VIP} -> 1: the VIP answers ARP (with 02:02:+VIP);
 *   svc_nat      LRU, by the directional tuple a packet has -> the tuple it
 *                gets. Two entries per connection: the forward one keyed by
 *                the client's tuple (client -> VIP:port), the reverse one by
 *                the backend's reply (backend -> client).
 *
 * The first packet of a connection to a VIP port from an endpoint on the
 * service's network picks a backend by a hash of its 5-tuple and records
 * both entries; then it is rewritten and meets conntrack and policy as a
 * packet to the backend (its group, its port), like OVS's ct(nat) does.
 * Later packets reuse the forward entry while the translated connection is
 * live in conntrack (a backend taken out of the service keeps its
 * connections; a new connection picks from the current slots). A reply
 * whose (untranslated) connection is live in conntrack gets the reverse
 * rewrite — on a local endpoint's veth or from the VXLAN device alike; an
 * entry whose connection expired is ignored (as OVS forgets the NAT with
 * the conntrack entry). Hairpin: a client that picked itself also gets its
 * source rewritten to the VIP, so the backend answers the VIP and the
 * reply comes back through here. ICMPv4 errors quoting a translated
 * connection are translated back too. A service without backends drops.
 *
 * IPv4 fragments: only the first fragment of a datagram (offset 0, MF)
 * has the L4 header the tuples need. When it is translated (either way),
 *   svc_frags    LRU, {tenant, src, dst, IP id, proto} of the datagram as it
 *                arrived -> the translation it got and its own ports
 * remembers it, and the later fragments of that datagram (same key) get
 * the same addresses (IP checksum only: they have no L4 header) and are
 * tracked and judged as packets of the first one's connection (its ports).
 * A later fragment to a VIP from a local client without an entry (it came
 * before the first, or the entry was evicted or is older than the kernel's
 * reassembly time) is dropped (DROP_FRAG_UNKNOWN), never sent on to the
 * VIP; one of a reply without an entry passes untranslated, as a fragment
 * of no service does. Entries expire after FRAG_TIMEOUT_NS (and the
 * agent's garbage collector deletes them). IPv6 services do not exist
 * here (the VIP is IPv4), so IPv6 fragments are never translated.
 *
 * Fragments of datagrams no service translates use the same map
 * (frag_track): the first fragment leaves an entry without a translation
 * (nat.flags 0), and its later fragments take its ports, so conntrack and
 * port rules judge every fragment as its datagram (as a kernel that
 * reassembles before its firewall does). A later fragment whose first was
 * not seen keeps ports 0: a rule naming ports does not allow it.
 */
#ifndef CONTIV_SERVICE_H
#define CONTIV_SERVICE_H

#include "maps.h"
#include "parse.h"
#include "conntrack.h"
#include "policy.h"

/* struct config.flags: some service exists (else no packet looks one up) */
#define CFG_SERVICES 2u

#define DROP_NO_BACKEND 14
/* a later IPv4 fragment to a VIP whose first fragment was not seen */
#define DROP_FRAG_UNKNOWN 15

/* How long a fragment entry lives (Linux's default ipfrag_time, 30 s). */
#define FRAG_TIMEOUT_NS (30 * NSEC)

/* Most backends of one service port. */
#define SVC_MAX_BACKENDS 256

/* struct nat_entry.flags */
#define NAT_FWD 1u
#define NAT_REV 2u
#define NAT_HAIRPIN 4u

struct svc_key {
	__u32 tenant;
	struct ip_addr vip;
	__be16 port;
	__u8 proto;
	__u8 pad;
};

struct svc {
	__u32 net;
	__u32 count;
	__be16 port; /* the backends' port */
	__u16 pad;
	__u32 pad2;
	struct ip_addr backends[SVC_MAX_BACKENDS];
};

/* svc_nat keys are struct ct_key, not normalised: a = source, b =
 * destination. */
struct nat_entry {
	struct ip_addr src;
	struct ip_addr dst;
	__be16 sport;
	__be16 dport;
	__u32 flags;
};

struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, 16384);
	__uint(map_flags, BPF_F_NO_PREALLOC);
	__type(key, struct svc_key);
	__type(value, struct svc);
} services SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, 16384);
	__uint(map_flags, BPF_F_NO_PREALLOC);
	__type(key, struct ep_key);
	__type(value, __u32);
} svc_vips SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_LRU_HASH);
	__uint(max_entries, 131072);
	__type(key, struct ct_key);
	__type(value, struct nat_entry);
} svc_nat SEC(".maps");

/* svc_frags: the datagram as it arrived (before translation). */
struct frag_key {
	__u32 tenant;
	struct ip_addr src;
	struct ip_addr dst;
	__be16 id;
	__u8 proto;
	__u8 pad;
};

struct frag_entry {
	struct nat_entry nat; /* the tuple the first fragment got */
	__be16 sport;         /* the first fragment's ports as it arrived */
	__be16 dport;
	__u32 pad;
	__u64 created_ns;
};

struct {
	__uint(type, BPF_MAP_TYPE_LRU_HASH);
	__uint(max_entries, 16384);
	__type(key, struct frag_key);
	__type(value, struct frag_entry);
} svc_frags SEC(".maps");

/* The translation's temporaries (the programs' stack is full). */
struct svc_scratch {
	struct ct_key k;
	struct ct_key rk;
	struct nat_entry e;
	struct nat_entry r;
	struct svc_key sk;
	struct frag_key fk;
	struct frag_entry fe;
};

struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
	__uint(max_entries, 1);
	__type(key, __u32);
	__type(value, struct svc_scratch);
} svc_scratch SEC(".maps");

#define SVC_NONE 0
#define SVC_DNAT 1    /* translated to a backend: conntrack and policy follow */
#define SVC_TRACKED 2 /* a reply translated back: its connection is live */

INLINE void nat_key_of(struct ct_key *k, __u32 tenant, __u8 proto, const struct ip_addr *src,
		       __be16 sport, const struct ip_addr *dst, __be16 dport)
{
	__builtin_memset(k, 0, sizeof(*k));
	k->tenant = tenant;
	k->proto = proto;
	k->a = *src;
	k->pa = sport;
	k->b = *dst;
	k->pb = dport;
}

/* The VIP's MAC for an ARP answer, if `ip4` is a VIP on network `net`. */
INLINE int svc_vip_mac(__u32 net, __u32 ip4, __u8 *mac)
{
	struct ep_key k;
	__builtin_memset(&k, 0, sizeof(k));
	k.net = net;
	v4_mapped(&k.ip, ip4);
	if (!bpf_map_lookup_elem(&svc_vips, &k))
		return 0;
	mac[0] = 0x02;
	mac[1] = 0x02;
	__builtin_memcpy(mac + 2, &ip4, 4);
	return 1;
}

/* 1 if the connection (src, sport) -> (dst, dport) is live in conntrack
 * and `tcp_flags` do not open a new one on it (nothing is changed). */
INLINE int ct_alive(__u32 tenant, __u8 proto, const struct ip_addr *src, __be16 sport,
		    const struct ip_addr *dst, __be16 dport, __u8 tcp_flags,
		    const struct config *cfg, __u64 now)
{
	struct ct_key k;
	ct_key_of(&k, tenant, proto, src, sport, dst, dport);
	struct ct_entry *e = bpf_map_lookup_elem(&conntrack, &k);
	if (!e)
		return 0;
	if (now > e->seen_ns && now - e->seen_ns > ct_timeout(e, proto, cfg))
		return 0;
	__u32 f = e->flags;
	if (proto == PROTO_TCP && ((f & CT_RST) || (f & (CT_FIN_A | CT_FIN_B)) == (CT_FIN_A | CT_FIN_B)) &&
	    (tcp_flags & (TCPF_SYN | TCPF_ACK)) == TCPF_SYN)
		return 0;
	return 1;
}

/* murmur3's finaliser over the 5-tuple: the backend slot of a connection. */
INLINE __u32 svc_hash(const struct pkt *p)
{
	__u32 h = p->src.w[3] ^ ((__u32)p->sport << 16 | p->dport) ^ ((__u32)p->proto << 24);
	h ^= p->dst.w[3] * 0x9e3779b1u;
	h ^= h >> 16;
	h *= 0x85ebca6bu;
	h ^= h >> 13;
	h *= 0xc2b2ae35u;
	h ^= h >> 16;
	return h;
}

/* Replaces the IPv4 address at `off` (old -> new) and fixes both
 * checksums (L4 at `csum`). */
INLINE int nat_addr(struct __sk_buff *skb, __u32 off, __u32 csum, __u64 mangled0, __be32 old,
		    __be32 new)
{
	if (old == new)
		return 0;
	if (bpf_l4_csum_replace(skb, csum, old, new, BPF_F_PSEUDO_HDR | mangled0 | 4) ||
	    bpf_l3_csum_replace(skb, sizeof(struct ethhdr) + 10, old, new, 4) ||
	    bpf_skb_store_bytes(skb, off, &new, 4, 0))
		return -1;
	return 0;
}

/* Replaces the port at `off` (old -> new) and fixes the L4 checksum. */
INLINE int nat_port(struct __sk_buff *skb, __u32 off, __u32 csum, __u64 mangled0, __be16 old,
		    __be16 new)
{
	if (old == new)
		return 0;
	if (bpf_l4_csum_replace(skb, csum, old, new, mangled0 | 2) ||
	    bpf_skb_store_bytes(skb, off, &new, 2, 0))
		return -1;
	return 0;
}

/* Rewrites the IPv4 TCP/UDP packet to (src, sport) -> (dst, dport), with
 * the IP and L4 checksums fixed, and `p` to match. -1 on failure. */
INLINE int nat_rewrite(struct __sk_buff *skb, struct pkt *p, const struct nat_entry *n)
{
	const __u32 l3 = sizeof(struct ethhdr);
	__u32 l4 = l4_off(p);
	__u32 csum = l4 + (p->proto == PROTO_TCP ? 16 : 6);
	/* UDP without a checksum keeps none */
	__u64 m0 = p->proto == PROTO_UDP ? BPF_F_MARK_MANGLED_0 : 0;
	if (nat_addr(skb, l3 + 12, csum, m0, p->src.w[3], n->src.w[3]) ||
	    nat_addr(skb, l3 + 16, csum, m0, p->dst.w[3], n->dst.w[3]) ||
	    nat_port(skb, l4, csum, m0, p->sport, n->sport) ||
	    nat_port(skb, l4 + 2, csum, m0, p->dport, n->dport))
		return -1;
	p->src = n->src;
	p->dst = n->dst;
	p->sport = n->sport;
	p->dport = n->dport;
	return 0;
}

/* Replaces an IPv4 address at `off` in a header covered by the IP
 * checksum at `csum` only (a later fragment, which has no L4 header; the
 * outer header of an ICMP error, or the packet it quotes: ICMP has no
 * pseudo-header, and a quoted header's address and checksum changes
 * cancel out in the ICMP checksum). */
INLINE int nat_addr_l3(struct __sk_buff *skb, __u32 off, __u32 csum, __be32 old, __be32 new)
{
	if (old == new)
		return 0;
	if (bpf_l3_csum_replace(skb, csum, old, new, 4) ||
	    bpf_skb_store_bytes(skb, off, &new, 4, 0))
		return -1;
	return 0;
}

/* The IPv4 header's id into *id; 1 if the packet is the first fragment
 * of several (offset 0, MF set), 0 if not, -1 if truncated. */
INLINE int ip4_first_frag(struct __sk_buff *skb, __be16 *id)
{
	void *data = (void *)(long)skb->data;
	void *end = (void *)(long)skb->data_end;
	struct iphdr *ip = data + sizeof(struct ethhdr);
	if ((void *)(ip + 1) > end)
		return -1;
	*id = ip->id;
	return (bpf_ntohs(ip->frag_off) & 0x3fff) == 0x2000;
}

/* The svc_frags key of packet `p` (as it arrived) into w->fk; -1 if
 * truncated, else whether it is a first fragment (ip4_first_frag). */
INLINE int frag_key_of(struct __sk_buff *skb, struct svc_scratch *w, const struct pkt *p)
{
	struct frag_key *fk = &w->fk;
	__builtin_memset(fk, 0, sizeof(*fk));
	fk->tenant = p->tenant;
	fk->src = p->src;
	fk->dst = p->dst;
	fk->proto = p->proto;
	return ip4_first_frag(skb, &fk->id);
}

/* Before the first fragment of a datagram gets translation `e`: remembers
 * it for the later fragments. */
INLINE void frag_remember(struct __sk_buff *skb, struct svc_scratch *w, const struct pkt *p,
			  const struct nat_entry *e, __u64 now)
{
	if (frag_key_of(skb, w, p) != 1)
		return;
	struct frag_entry *fe = &w->fe;
	__builtin_memset(fe, 0, sizeof(*fe));
	fe->nat = *e;
	fe->sport = p->sport;
	fe->dport = p->dport;
	fe->created_ns = now;
	bpf_map_update_elem(&svc_frags, &w->fk, fe, BPF_ANY);
}

/* 1 if `ip` is a VIP on network `net`. */
INLINE int svc_is_vip(__u32 net, const struct ip_addr *ip)
{
	struct ep_key k;
	__builtin_memset(&k, 0, sizeof(k));
	k.net = net;
	k.ip = *ip;
	return bpf_map_lookup_elem(&svc_vips, &k) != 0;
}

/* A later IPv4 fragment (no L4 header): the translation of its datagram's
 * first fragment, addresses and IP checksum only; `p` takes the translated
 * tuple with the connection's ports, so conntrack and policy see the
 * first fragment's connection. SVC_NONE, SVC_DNAT, SVC_TRACKED or
 * -(drop reason). */
INLINE int svc_frag(struct __sk_buff *skb, struct pkt *p, struct svc_scratch *w,
		    const struct config *cfg, __u64 now)
{
	if (frag_key_of(skb, w, p) < 0)
		return -DROP_MALFORMED;
	struct frag_entry *f = bpf_map_lookup_elem(&svc_frags, &w->fk);
	if (!f || (now > f->created_ns && now - f->created_ns > FRAG_TIMEOUT_NS)) {
		if (p->origin == ORIGIN_LOCAL && svc_is_vip(p->net, &p->dst))
			return -DROP_FRAG_UNKNOWN;
		return SVC_NONE;
	}
	w->fe = *f;
	struct frag_entry *fe = &w->fe;
	p->sport = fe->sport;
	p->dport = fe->dport;
	/* a datagram no service translated (frag_track's entry) */
	if (!(fe->nat.flags & (NAT_FWD | NAT_REV)))
		return SVC_NONE;
	int rev = fe->nat.flags & NAT_REV;
	/* a reply: only while the backend's connection is live (as its
	 * first fragment) */
	if (rev && !ct_lookup(p, cfg, now))
		return SVC_NONE;
	if (fe->nat.flags & NAT_HAIRPIN) {
		p->src_epg = member_of(p->tenant, &p->src);
		p->hint_epg = 1;
	}
	const __u32 l3 = sizeof(struct ethhdr);
	if (nat_addr_l3(skb, l3 + 12, l3 + 10, p->src.w[3], fe->nat.src.w[3]) ||
	    nat_addr_l3(skb, l3 + 16, l3 + 10, p->dst.w[3], fe->nat.dst.w[3]))
		return -DROP_MALFORMED;
	p->src = fe->nat.src;
	p->dst = fe->nat.dst;
	p->sport = fe->nat.sport;
	p->dport = fe->nat.dport;
	return rev ? SVC_TRACKED : SVC_DNAT;
}

/* Service translation of an IPv4 TCP/UDP packet (see the top; a later
 * fragment: svc_frag): SVC_NONE, SVC_DNAT, SVC_TRACKED, or -(drop reason). */
INLINE int svc_translate(struct __sk_buff *skb, struct pkt *p, const struct config *cfg,
			 __u64 now)
{
	__u32 zero = 0;
	struct svc_scratch *w = bpf_map_lookup_elem(&svc_scratch, &zero);
	if (!w)
		return SVC_NONE;
	if (p->frag)
		return svc_frag(skb, p, w, cfg, now);
	nat_key_of(&w->k, p->tenant, p->proto, &p->src, p->sport, &p->dst, p->dport);
	struct nat_entry *n = bpf_map_lookup_elem(&svc_nat, &w->k);
	struct nat_entry *e = &w->e;
	if (n && (n->flags & NAT_REV)) {
		/* A reply: tracked as the backend's connection, then translated. */
		*e = *n;
		if (!ct_lookup(p, cfg, now))
			return SVC_NONE;
		frag_remember(skb, w, p, e, now);
		if (nat_rewrite(skb, p, e))
			return -DROP_MALFORMED;
		return SVC_TRACKED;
	}
	if (p->origin != ORIGIN_LOCAL)
		return SVC_NONE;
	struct svc_key *sk = &w->sk;
	__builtin_memset(sk, 0, sizeof(*sk));
	sk->tenant = p->tenant;
	sk->vip = p->dst;
	sk->port = p->dport;
	sk->proto = p->proto;
	struct svc *s = bpf_map_lookup_elem(&services, sk);
	if (!s || s->net != p->net)
		return SVC_NONE;
	if (n && (n->flags & NAT_FWD) &&
	    ct_alive(p->tenant, p->proto, &n->src, n->sport, &n->dst, n->dport, p->tcp_flags, cfg,
		     now)) {
		*e = *n;
	} else {
		__u32 count = s->count;
		if (count == 0 || count > SVC_MAX_BACKENDS)
			return -DROP_NO_BACKEND;
		__u32 i = svc_hash(p) % count;
		/* keep the bound the verifier needs (clang knows i < count) */
		asm volatile("" : "+r"(i));
		__builtin_memset(e, 0, sizeof(*e));
		e->flags = NAT_FWD;
		e->dst = s->backends[i & (SVC_MAX_BACKENDS - 1)];
		e->dport = s->port;
		e->sport = p->sport;
		if (ip_eq(&e->dst, &p->src)) {
			/* hairpin: the backend must answer through here */
			e->src = p->dst;
			e->flags |= NAT_HAIRPIN;
		} else {
			e->src = p->src;
		}
		bpf_map_update_elem(&svc_nat, &w->k, e, BPF_ANY);
		nat_key_of(&w->rk, p->tenant, p->proto, &e->dst, e->dport, &e->src, e->sport);
		struct nat_entry *r = &w->r;
		r->src = p->dst;
		r->dst = p->src;
		r->sport = p->dport;
		r->dport = p->sport;
		r->flags = NAT_REV;
		bpf_map_update_elem(&svc_nat, &w->rk, r, BPF_ANY);
	}
	if (e->flags & NAT_HAIRPIN) {
		/* policy judges the client, whose address the rewrite hides */
		p->src_epg = member_of(p->tenant, &p->src);
		p->hint_epg = 1;
	}
	frag_remember(skb, w, p, e, now);
	if (nat_rewrite(skb, p, e))
		return -DROP_MALFORMED;
	return SVC_DNAT;
}

/* An IPv4 TCP/UDP fragment no service translated: the first fragment
 * of a datagram leaves its ports in svc_frags (no translation), a later
 * one takes them from there (see the top). 0, or -(drop reason). */
INLINE int frag_track(struct __sk_buff *skb, struct pkt *p, __u64 now)
{
	void *data = (void *)(long)skb->data;
	void *end = (void *)(long)skb->data_end;
	struct iphdr *ip = data + sizeof(struct ethhdr);
	if ((void *)(ip + 1) > end)
		return -DROP_MALFORMED;
	/* not a fragment: nothing to do (most packets) */
	if (!(ip->frag_off & bpf_htons(0x3fff)))
		return 0;
	__u32 zero = 0;
	struct svc_scratch *w = bpf_map_lookup_elem(&svc_scratch, &zero);
	if (!w)
		return 0;
	int first = frag_key_of(skb, w, p);
	if (first < 0)
		return -DROP_MALFORMED;
	if (first) {
		struct frag_entry *fe = &w->fe;
		__builtin_memset(fe, 0, sizeof(*fe));
		fe->sport = p->sport;
		fe->dport = p->dport;
		fe->created_ns = now;
		bpf_map_update_elem(&svc_frags, &w->fk, fe, BPF_ANY);
		return 0;
	}
	if (!p->frag)
		return 0;
	struct frag_entry *f = bpf_map_lookup_elem(&svc_frags, &w->fk);
	if (!f || (now > f->created_ns && now - f->created_ns > FRAG_TIMEOUT_NS))
		return 0;
	p->sport = f->sport;
	p->dport = f->dport;
	return 0;
}

/* An ICMPv4 error about a translated connection, arriving at the client's
 * host: if the connection it quotes (client -> backend) is live, the quote
 * becomes client -> VIP:port and an error the backend sent comes from the
 * VIP (hairpin: to the client), as conntrack's NAT of related packets
 * does. SVC_TRACKED when translated, else SVC_NONE (or -reason). */
INLINE int svc_icmp_error(struct __sk_buff *skb, struct pkt *p, const struct config *cfg,
			  __u64 now)
{
	void *data = (void *)(long)skb->data;
	void *end = (void *)(long)skb->data_end;
	__u32 in3 = l4_off(p) + 8;
	struct iphdr *ip = data + in3;
	if ((void *)(ip + 1) > end)
		return SVC_NONE;
	if (ip->protocol != PROTO_TCP && ip->protocol != PROTO_UDP)
		return SVC_NONE;
	__u32 in4 = in3 + ((__u32)ip->ihl & 0xf) * 4;
	__be16 *ports = data + in4;
	if ((void *)(ports + 2) > end)
		return SVC_NONE;
	__u32 zero = 0;
	struct svc_scratch *w = bpf_map_lookup_elem(&svc_scratch, &zero);
	if (!w)
		return SVC_NONE;
	struct ip_addr qs, qd;
	v4_mapped(&qs, ip->saddr);
	v4_mapped(&qd, ip->daddr);
	__be16 qsp = ports[0], qdp = ports[1];
	__u8 proto = ip->protocol;
	/* the quoted packet's reply is the reverse entry's key */
	nat_key_of(&w->k, p->tenant, proto, &qd, qdp, &qs, qsp);
	struct nat_entry *n = bpf_map_lookup_elem(&svc_nat, &w->k);
	if (!n || !(n->flags & NAT_REV))
		return SVC_NONE;
	w->r = *n;
	if (!ct_related(skb, p, cfg, now))
		return SVC_NONE;
	struct nat_entry *r = &w->r;
	/* quote: (src, sport) -> (dst, dport) becomes r's reverse:
	 * (r.dst, r.dport) -> (r.src, r.sport) */
	__u32 icsum = l4_off(p) + 2;
	__u32 qcsum = in3 + 10;
	if (nat_addr_l3(skb, in3 + 12, qcsum, qs.w[3], r->dst.w[3]) ||
	    nat_addr_l3(skb, in3 + 16, qcsum, qd.w[3], r->src.w[3]) ||
	    nat_port(skb, in4, icsum, 0, qsp, r->dport) ||
	    nat_port(skb, in4 + 2, icsum, 0, qdp, r->sport))
		return -DROP_MALFORMED;
	/* the outer header: from the backend -> from the VIP; to the
	 * translated client -> to the client */
	const __u32 l3 = sizeof(struct ethhdr);
	__be32 src = p->src.w[3] == qd.w[3] ? r->src.w[3] : p->src.w[3];
	__be32 dst = p->dst.w[3] == qs.w[3] ? r->dst.w[3] : p->dst.w[3];
	if (nat_addr_l3(skb, l3 + 12, l3 + 10, p->src.w[3], src) ||
	    nat_addr_l3(skb, l3 + 16, l3 + 10, p->dst.w[3], dst))
		return -DROP_MALFORMED;
	p->src.w[3] = src;
	p->dst.w[3] = dst;
	return SVC_TRACKED;
}

#endif
