/* SPDX-License-Identifier: Apache-2.0 */
/*
 * The contiv tc datapath. Three classifiers on tc ingress (tcx):
 *
 *   from_endpoint  on each local endpoint's host-side veth: what a
 *                  container sends (spoof guard, DSCP, rate limit where no
 *                  tbf shapes the container side, ARP/ND
 *                  answers, the gateway, then forwarding with policy);
 *   from_vxlan     on the host's `vxlan external gbp` device: what peers
 *                  send (VNI -> network, the source group from VXLAN-GBP);
 *   from_uplink    on the VLAN uplink: tagged frames (VLAN -> network);
 *   from_host      on the datapath's end of the host port: what the host's
 *                  stack routes to a local endpoint with external access
 *                  (replies of egress NAT, published ports after DNAT).
 *
 * Forwarding is by destination address within the packet's network
 * (endpoints map), L2 fallbacks by MAC for link-local IPv6; local delivery
 * with bpf_redirect_peer (bpf_redirect through the host side's egress
 * qdisc when a tbf shapes what the endpoint receives), remote through the VXLAN device (tunnel key +
 * GBP option) or the uplink (VLAN push). New connections meet policy
 * (policy.h); replies and later packets pass through conntrack.
 *
 * External access: IPv4 a local endpoint of a network with `external` sends
 * to its gateway's MAC, for an address that is no endpoint of its network
 * and no network's subnet, goes to the host's stack through the host port
 * (after `out` policy and conntrack like any packet); the host masquerades
 * it and DNATs published ports (its nftables table).
 *
 * Services (service.h: DNAT to a backend, reverse NAT of the replies) slot
 * in between classification and the destination lookup.
 */
#include <linux/bpf.h>
#include <linux/pkt_cls.h>
#include <bpf/bpf_helpers.h>
#include <bpf/bpf_endian.h>

#include "abi.h"
#include "maps.h"
#include "parse.h"
#include "conntrack.h"
#include "policy.h"
#include "respond.h"
#include "service.h"

#ifndef ETH_P_8021Q
#define ETH_P_8021Q 0x8100
#endif
#define ETH_P_ARP_ 0x0806

#define GBP_POLICY_APPLIED (1u << 19)
#define GBP_ID_MASK 0xffffu

struct vxlan_md {
	__u32 gbp;
};

INLINE struct config *get_config(void)
{
	__u32 zero = 0;
	return bpf_map_lookup_elem(&config, &zero);
}

INLINE int drop(__u32 reason)
{
	__u64 *c = bpf_map_lookup_elem(&drop_reasons, &reason);
	if (c)
		*c += 1;
	return TC_ACT_SHOT;
}

INLINE void count_tx(__u32 ifindex, __u32 len)
{
	struct ep_stats *s = bpf_map_lookup_elem(&ep_stats, &ifindex);
	if (s) {
		s->tx_packets += 1;
		s->tx_bytes += len;
	}
}

INLINE void count_rx(__u32 ifindex, __u32 len)
{
	struct ep_stats *s = bpf_map_lookup_elem(&ep_stats, &ifindex);
	if (s) {
		s->rx_packets += 1;
		s->rx_bytes += len;
	}
}

/* A drop charged to the sending endpoint (tx) and/or the receiving one. */
INLINE int drop_ep(__u32 reason, __u32 tx_if, __u32 rx_if)
{
	if (tx_if) {
		struct ep_stats *s = bpf_map_lookup_elem(&ep_stats, &tx_if);
		if (s)
			s->tx_drops += 1;
	}
	if (rx_if) {
		struct ep_stats *s = bpf_map_lookup_elem(&ep_stats, &rx_if);
		if (s)
			s->rx_drops += 1;
	}
	return drop(reason);
}

INLINE struct target *ep_lookup(__u32 net, const struct ip_addr *ip)
{
	struct ep_key k;
	__builtin_memset(&k, 0, sizeof(k));
	k.net = net;
	k.ip = *ip;
	return bpf_map_lookup_elem(&endpoints, &k);
}

INLINE struct target *mac_lookup(__u32 net, const __u8 *mac)
{
	struct mac_key k;
	__builtin_memset(&k, 0, sizeof(k));
	k.net = net;
	mac_copy(k.mac, mac);
	return bpf_map_lookup_elem(&macs, &k);
}

INLINE int set_tunnel(struct __sk_buff *skb, const struct ip_addr *vtep, __u32 vni, __u32 epg)
{
	struct bpf_tunnel_key k;
	__builtin_memset(&k, 0, sizeof(k));
	k.tunnel_id = vni;
	k.tunnel_ttl = 64;
	__u64 flags = 0;
	if (vtep->w[0] == 0 && vtep->w[1] == 0 && vtep->w[2] == bpf_htonl(0xffff)) {
		k.remote_ipv4 = bpf_ntohl(vtep->w[3]);
		flags = BPF_F_ZERO_CSUM_TX;
	} else {
		__builtin_memcpy(k.remote_ipv6, vtep, 16);
		flags = BPF_F_TUNINFO_IPV6;
	}
	if (bpf_skb_set_tunnel_key(skb, &k, sizeof(k), flags))
		return -1;
	struct vxlan_md md = {.gbp = (epg & GBP_ID_MASK) | GBP_POLICY_APPLIED};
	if (bpf_skb_set_tunnel_opt(skb, &md, sizeof(md)))
		return -1;
	return 0;
}

/* The source's group: from VXLAN-GBP, else looked up once (only packets
 * that meet policy or leave through the tunnel need it). */
INLINE __u32 src_group(struct pkt *p)
{
	if (!p->hint_epg) {
		p->src_epg = member_of(p->tenant, &p->src);
		p->hint_epg = 1;
	}
	return p->src_epg;
}

/* ---- flooding ---------------------------------------------------------- */

struct flood_ctx {
	struct __sk_buff *skb;
	__u32 net;
	__u32 gen;
	__u32 skip_ifindex;
	__u32 local_only;
	__u32 vni;
	__u32 vlan;
	__u32 epg;
	__u32 vxlan_if;
	__u32 uplink_if;
	__u32 len;
	__u32 copies;
};

static long flood_one(__u32 idx, void *ctx)
{
	struct flood_ctx *c = ctx;
	struct list_entry_key k = {
		.k = {c->net, 0, 0},
		.slot = (c->gen << LIST_GEN_SHIFT) | idx,
	};
	struct target *t = bpf_map_lookup_elem(&flood, &k);
	if (!t)
		return 1;
	struct __sk_buff *skb = c->skb;
	if (t->kind == TARGET_LOCAL) {
		if (t->ifindex != c->skip_ifindex && bpf_clone_redirect(skb, t->ifindex, 0) == 0) {
			count_rx(t->ifindex, c->len);
			c->copies += 1;
		}
	} else if (c->local_only) {
		return 0;
	} else if (t->kind == TARGET_VXLAN && c->vxlan_if) {
		if (set_tunnel(skb, &t->vtep, c->vni, c->epg) == 0 &&
		    bpf_clone_redirect(skb, c->vxlan_if, 0) == 0)
			c->copies += 1;
	} else if (t->kind == TARGET_UPLINK && c->uplink_if) {
		if (bpf_skb_vlan_push(skb, bpf_htons(ETH_P_8021Q), c->vlan) == 0) {
			if (bpf_clone_redirect(skb, c->uplink_if, 0) == 0)
				c->copies += 1;
			bpf_skb_vlan_pop(skb);
		}
	}
	return 0;
}

/* Copies the frame to every target of the network's flood list (local
 * endpoints but the sender; from a local endpoint also every peer VTEP or
 * the uplink), then consumes the original: counted in flood_stats (frames
 * and copies sent), not as a drop. */
INLINE int flood_net(struct __sk_buff *skb, struct pkt *p, const struct network *net,
		     const struct config *cfg)
{
	struct list_key hk = {.k = {p->net, 0, 0}};
	struct list_head *h = bpf_map_lookup_elem(&flood_heads, &hk);
	if (!h)
		return TC_ACT_SHOT;
	struct flood_ctx c = {
		.skb = skb,
		.net = p->net,
		.gen = h->gen & 1,
		.skip_ifindex = p->origin == ORIGIN_LOCAL ? p->in_ifindex : 0,
		.local_only = p->origin != ORIGIN_LOCAL,
		.vni = net->vni,
		.vlan = net->vlan,
		.epg = p->origin == ORIGIN_LOCAL ? src_group(p) : 0,
		.vxlan_if = cfg->vxlan_ifindex,
		.uplink_if = cfg->uplink_ifindex,
		.len = p->len,
	};
	__u32 n = h->count;
	if (n > MAX_LIST)
		n = MAX_LIST;
	bpf_loop(n, flood_one, &c, 0);
	__u32 zero = 0;
	struct flood_stats *fs = bpf_map_lookup_elem(&flood_stats, &zero);
	if (fs) {
		fs->frames += 1;
		fs->copies += c.copies;
	}
	return TC_ACT_SHOT;
}

/* ---- delivery ---------------------------------------------------------- */

INLINE int deliver(struct __sk_buff *skb, struct pkt *p, const struct target *t,
		   const struct network *net, const struct config *cfg, int set_mac)
{
	if (t->kind == TARGET_LOCAL) {
		if (set_mac && !mac_eq(p->dmac, t->mac) && bpf_skb_store_bytes(skb, 0, t->mac, 6, 0))
			return drop(DROP_REDIRECT);
		count_rx(t->ifindex, p->len);
		/* A shaped endpoint's host side has a tbf root qdisc that
		 * redirect_peer would skip: go through its egress instead. */
		if (t->flags & TARGET_F_QDISC)
			return bpf_redirect(t->ifindex, 0);
		return bpf_redirect_peer(t->ifindex, 0);
	}
	if (p->origin != ORIGIN_LOCAL)
		return drop(DROP_NOT_LOCAL);
	if (t->kind == TARGET_VXLAN) {
		if (!cfg->vxlan_ifindex)
			return drop(DROP_NO_ROUTE);
		if (set_mac && !mac_eq(p->dmac, t->mac) && bpf_skb_store_bytes(skb, 0, t->mac, 6, 0))
			return drop(DROP_REDIRECT);
		if (set_tunnel(skb, &t->vtep, net->vni, src_group(p)))
			return drop(DROP_REDIRECT);
		return bpf_redirect(cfg->vxlan_ifindex, 0);
	}
	if (t->kind == TARGET_HOST) {
		if (!cfg->host_ifindex)
			return drop(DROP_NO_ROUTE);
		if (bpf_skb_store_bytes(skb, 0, cfg->host_mac, 6, 0))
			return drop(DROP_REDIRECT);
		return bpf_redirect(cfg->host_ifindex, 0);
	}
	if (t->kind == TARGET_UPLINK) {
		if (!cfg->uplink_ifindex)
			return drop(DROP_NO_ROUTE);
		if (bpf_skb_vlan_push(skb, bpf_htons(ETH_P_8021Q), net->vlan))
			return drop(DROP_REDIRECT);
		return bpf_redirect(cfg->uplink_ifindex, 0);
	}
	return drop(DROP_NO_ROUTE);
}

/* Unicast by destination MAC (ARP replies, link-local IPv6); on a VLAN
 * network an unknown MAC from a local endpoint goes to the uplink. */
INLINE struct target *l2_target(const struct pkt *p, const struct network *net,
				const struct config *cfg, struct target *uplink)
{
	struct target *t = mac_lookup(p->net, p->dmac);
	if (t)
		return t;
	if (p->origin == ORIGIN_LOCAL && (net->flags & NET_VLAN) && cfg->uplink_ifindex) {
		__builtin_memset(uplink, 0, sizeof(*uplink));
		uplink->kind = TARGET_UPLINK;
		return uplink;
	}
	return 0;
}

/* ---- ARP --------------------------------------------------------------- */

INLINE int handle_arp(struct __sk_buff *skb, struct pkt *p, const struct iface *ifc,
		      const struct network *net, const struct config *cfg)
{
	void *data = (void *)(long)skb->data;
	void *end = (void *)(long)skb->data_end;
	struct arp_eth *a = data + sizeof(struct ethhdr);
	if ((void *)(a + 1) > end)
		return drop(DROP_MALFORMED);
	if (a->htype != bpf_htons(1) || a->ptype != bpf_htons(ETH_P_IP) || a->hlen != 6 ||
	    a->plen != 4)
		return drop(DROP_MALFORMED);
	__u32 spa, tpa;
	__builtin_memcpy(&spa, a->spa, 4);
	__builtin_memcpy(&tpa, a->tpa, 4);
	__u16 op = bpf_ntohs(a->op);
	if (ifc) {
		if (!(ifc->flags & IF_V4) || spa != ifc->ip4 || !mac_eq(a->sha, ifc->mac))
			return drop_ep(DROP_SPOOF, p->in_ifindex, 0);
		/* Proxy mode: a gratuitous ARP (an announcement, tpa == spa,
		 * or a broadcast reply) tells nobody anything — the datapath
		 * answers for every endpoint and rewrites the destination MAC
		 * of what it forwards — so it is not flooded. */
		if ((cfg->flags & CFG_ARP_PROXY) && mac_multicast(p->dmac) &&
		    (tpa == spa || op == 2))
			return drop(DROP_MULTICAST);
		if (op == 1) {
			if ((net->flags & NET_GW4) && tpa == net->gw4)
				return arp_reply(skb, net->gw_mac, tpa);
			__u8 vmac[6];
			if (svc_vip_mac(p->net, tpa, vmac))
				return arp_reply(skb, vmac, tpa);
			if (cfg->flags & CFG_ARP_PROXY) {
				struct ip_addr t;
				v4_mapped(&t, tpa);
				struct target *e = ep_lookup(p->net, &t);
				if (e)
					return arp_reply(skb, e->mac, tpa);
			}
		}
	}
	if (mac_multicast(p->dmac))
		return flood_net(skb, p, net, cfg);
	struct target up;
	struct target *t = l2_target(p, net, cfg, &up);
	if (!t)
		return drop(DROP_NO_ROUTE);
	return deliver(skb, p, t, net, cfg, 0);
}

/* ---- neighbour discovery (bypasses conntrack and policy) --------------- */

/* The target address of a neighbour solicitation into *out; -1 if the
 * packet is too short to hold it. */
INLINE int nd_target(struct __sk_buff *skb, const struct pkt *p, struct ip_addr *out)
{
	void *data = (void *)(long)skb->data;
	void *end = (void *)(long)skb->data_end;
	struct ip_addr *tgt = data + l4_off(p) + 8;
	if ((void *)(tgt + 1) > end)
		return -1;
	*out = *tgt;
	return 0;
}

/* What proxy mode does with neighbour discovery a local endpoint sends to
 * a multicast address instead of flooding it. The datapath knows every
 * endpoint's address and answers solicitations for them, so a container's
 * autoconfiguration burst (duplicate address detection, router
 * solicitations, unsolicited advertisements, MLD reports) needs nobody
 * else: flooding it would copy every such frame to every endpoint of the
 * network (and every peer host), which is what overflowed the veths'
 * backlog when containers came up among hundreds.
 *
 *   DAD (a solicitation from ::): for the gateway or another endpoint's
 *     address the datapath defends it — an advertisement to all-nodes, as
 *     the owner (or a switch snooping ND) would send, so the newcomer's
 *     DAD fails instead of two containers sharing an address; for its own
 *     or an unknown address no answer (DAD succeeds), dropped;
 *   advertisements to a multicast address (unsolicited), router
 *     solicitations and advertisements (the gateway sends no RAs:
 *     containers get their addresses and routes from the agent), MLD
 *     (the datapath forwards no IP multicast): dropped.
 *
 * Everything counts as `multicast` drops. Solicitations with a source
 * address for an address the datapath does not know are still flooded
 * (link-local neighbours, hosts behind a VLAN uplink). Returns -1 when the
 * frame is not one of these. */
INLINE int nd_proxy(struct __sk_buff *skb, struct pkt *p, const struct iface *ifc,
		    const struct network *net)
{
	if (p->icmp_type == ND_NS) {
		if (!ip_zero(&p->src))
			return -1;
		struct ip_addr target;
		if (nd_target(skb, p, &target))
			return drop(DROP_MALFORMED);
		if ((net->flags & NET_GW6) && ip_eq(&target, &net->gw6))
			return nd_advert(skb, p, net->gw_mac, &target, ND_ADV_ROUTER | ND_ADV_DAD);
		if (!((ifc->flags & IF_V6) && ip_eq(&target, &ifc->ip6))) {
			struct target *e = ep_lookup(p->net, &target);
			if (e) {
				__u8 mac[6];
				mac_copy(mac, e->mac);
				return nd_advert(skb, p, mac, &target, ND_ADV_DAD);
			}
		}
		return drop(DROP_MULTICAST);
	}
	if (!mac_multicast(p->dmac) && !ip6_multicast(&p->dst))
		return -1;
	if (p->icmp_type == ND_NA || p->icmp_type == ND_RS || p->icmp_type == ND_RA ||
	    (p->icmp_type >= 130 && p->icmp_type <= 132) || p->icmp_type == 143)
		return drop(DROP_MULTICAST);
	return -1;
}

INLINE int handle_nd(struct __sk_buff *skb, struct pkt *p, const struct iface *ifc,
		     const struct network *net, const struct config *cfg)
{
	if (ifc && (cfg->flags & CFG_ARP_PROXY)) {
		int r = nd_proxy(skb, p, ifc, net);
		if (r >= 0)
			return r;
	}
	if (ifc && p->icmp_type == ND_NS && !ip_zero(&p->src)) {
		struct ip_addr target;
		if (nd_target(skb, p, &target))
			return drop(DROP_MALFORMED);
		if ((net->flags & NET_GW6) && ip_eq(&target, &net->gw6))
			return nd_advert(skb, p, net->gw_mac, &target, ND_ADV_ROUTER);
		if (cfg->flags & CFG_ARP_PROXY) {
			struct target *e = ep_lookup(p->net, &target);
			if (e) {
				__u8 mac[6];
				mac_copy(mac, e->mac);
				return nd_advert(skb, p, mac, &target, 0);
			}
		}
	}
	if (mac_multicast(p->dmac))
		return flood_net(skb, p, net, cfg);
	struct target *t = 0;
	struct target up;
	if (!ip6_link_local(&p->dst))
		t = ep_lookup(p->net, &p->dst);
	if (!t)
		t = l2_target(p, net, cfg, &up);
	if (!t)
		return drop(DROP_NO_ROUTE);
	return deliver(skb, p, t, net, cfg, 0);
}

/* ---- IP ---------------------------------------------------------------- */

INLINE int mark_dscp(struct __sk_buff *skb, const struct pkt *p, __u8 dscp)
{
	void *data = (void *)(long)skb->data;
	void *end = (void *)(long)skb->data_end;
	if (!p->is_v6) {
		struct iphdr *ip = data + sizeof(struct ethhdr);
		if ((void *)(ip + 1) > end)
			return -1;
		__be16 old = *(__be16 *)ip;
		__u8 tos = (dscp << 2) | (ip->tos & 3);
		if (tos == ip->tos)
			return 0;
		ip->tos = tos;
		__be16 new = *(__be16 *)ip;
		return bpf_l3_csum_replace(skb, sizeof(struct ethhdr) + 10, old, new, 2);
	}
	__be32 *w = data + sizeof(struct ethhdr);
	if ((void *)(w + 1) > end)
		return -1;
	__u32 v = bpf_ntohl(*w);
	v = (v & ~(0x3fu << 22)) | ((__u32)dscp << 22);
	*w = bpf_htonl(v);
	return 0;
}

INLINE int rate_ok(__u32 ifindex, const struct iface *ifc, __u32 len, __u64 now)
{
	struct bucket *b = bpf_map_lookup_elem(&buckets, &ifindex);
	if (!b)
		return 1;
	__u64 elapsed = now > b->last_ns ? now - b->last_ns : 0;
	__u64 tokens = b->tokens;
	if (elapsed >= NSEC)
		tokens = ifc->burst;
	else
		tokens += elapsed * ifc->rate_bps / NSEC;
	if (tokens > ifc->burst)
		tokens = ifc->burst;
	b->last_ns = now;
	if (tokens < len) {
		b->tokens = tokens;
		return 0;
	}
	b->tokens = tokens - len;
	return 1;
}

/* Whether IPv4 from a local endpoint leaves through the host port: there
 * is one, the frame is for the gateway's MAC, and the sender has external
 * access (its {NET_TAG_HOST, address} entry is its own interface). */
INLINE int goes_out(const struct pkt *p, const struct network *net, const struct config *cfg)
{
	if (p->origin != ORIGIN_LOCAL || p->is_v6 || !cfg->host_ifindex)
		return 0;
	if (!(net->flags & NET_GW4) || !mac_eq(p->dmac, net->gw_mac))
		return 0;
	struct target *self = ep_lookup(NET_TAG_HOST, &p->src);
	return self && self->ifindex == p->in_ifindex;
}

INLINE int handle_ip(struct __sk_buff *skb, struct pkt *p, const struct iface *ifc,
		     const struct network *net, const struct config *cfg)
{
	if (parse_ip(skb, p))
		return drop(DROP_MALFORMED);
	if (ifc) {
		int ok;
		if (!p->is_v6)
			ok = (ifc->flags & IF_V4) && p->src.w[3] == ifc->ip4;
		else
			ok = ((ifc->flags & IF_V6) && ip_eq(&p->src, &ifc->ip6)) ||
			     (p->proto == PROTO_ICMPV6 && (ip6_link_local(&p->src) || ip_zero(&p->src)));
		if (!ok)
			return drop_ep(DROP_SPOOF, p->in_ifindex, 0);
	}
	if (icmp6_nd(p))
		return handle_nd(skb, p, ifc, net, cfg);
	if (ifc) {
		int to_gw = p->is_v6 ? (net->flags & NET_GW6) && ip_eq(&p->dst, &net->gw6)
				     : (net->flags & NET_GW4) && p->dst.w[3] == net->gw4;
		if (to_gw) {
			int echo = p->is_v6 ? p->proto == PROTO_ICMPV6 && p->icmp_type == ICMP6_ECHO_REQ
					    : p->proto == PROTO_ICMP && p->icmp_type == ICMP_ECHO_REQ;
			if (echo && !p->frag)
				return echo_reply(skb, p, net->gw_mac);
			return drop(DROP_GATEWAY);
		}
	}
	if (mac_multicast(p->dmac) || (p->is_v6 && ip6_multicast(&p->dst)))
		return drop(DROP_MULTICAST);

	__u64 now = bpf_ktime_get_ns();
	int svc = SVC_NONE;
	if ((cfg->flags & CFG_SERVICES) && !p->is_v6 &&
	    (p->proto == PROTO_TCP || p->proto == PROTO_UDP)) {
		svc = svc_translate(skb, p, cfg, now);
		if (svc < 0)
			return drop_ep(-svc, ifc ? p->in_ifindex : 0, 0);
	} else if ((cfg->flags & CFG_SERVICES) && !p->is_v6 && !p->frag && icmp_error(p)) {
		svc = svc_icmp_error(skb, p, cfg, now);
		if (svc < 0)
			return drop(-svc);
	}
	if (svc == SVC_NONE && !p->is_v6 && (p->proto == PROTO_TCP || p->proto == PROTO_UDP)) {
		/* fragments judged as their datagram */
		int f = frag_track(skb, p, now);
		if (f < 0)
			return drop_ep(-f, ifc ? p->in_ifindex : 0, 0);
	}

	struct target up;
	struct target *t = 0;
	if (p->is_v6 && ip6_link_local(&p->dst))
		t = l2_target(p, net, cfg, &up);
	else
		t = ep_lookup(p->net, &p->dst);
	if (!t && goes_out(p, net, cfg)) {
		if (in_set(SET_INTERNAL, &p->dst, 0))
			return drop_ep(DROP_NO_ROUTE, p->in_ifindex, 0);
		__builtin_memset(&up, 0, sizeof(up));
		up.kind = TARGET_HOST;
		t = &up;
	}
	if (!t && p->origin == ORIGIN_LOCAL && (net->flags & NET_VLAN) && cfg->uplink_ifindex) {
		__builtin_memset(&up, 0, sizeof(up));
		up.kind = TARGET_UPLINK;
		t = &up;
	}
	if (!t)
		return drop_ep(DROP_NO_ROUTE, ifc ? p->in_ifindex : 0, 0);
	int dst_local = t->kind == TARGET_LOCAL;
	if (!dst_local && p->origin != ORIGIN_LOCAL)
		return drop(DROP_NOT_LOCAL);
	__u32 rx_if = dst_local ? t->ifindex : 0;
	__u32 tx_if = ifc ? p->in_ifindex : 0;

	if (svc != SVC_TRACKED && !ct_lookup(p, cfg, now) && !ct_related(skb, p, cfg, now)) {
		if (policy(p, p->origin == ORIGIN_LOCAL, dst_local, src_group(p)) != ACT_ALLOW)
			return drop_ep(DROP_POLICY, tx_if, rx_if);
		ct_create(p, now);
	}
	if (ifc && ifc->dscp && mark_dscp(skb, p, ifc->dscp & 0x3f))
		return drop(DROP_MALFORMED);
	return deliver(skb, p, t, net, cfg, 1);
}

/* ---- entry points ------------------------------------------------------ */

INLINE int dispatch(struct __sk_buff *skb, struct pkt *p, const struct iface *ifc,
		    const struct network *net, const struct config *cfg)
{
	if (parse_eth(skb, p))
		return drop(DROP_MALFORMED);
	if (mac_multicast(p->smac))
		return drop_ep(DROP_SPOOF, ifc ? p->in_ifindex : 0, 0);
	if (ifc && !mac_eq(p->smac, ifc->mac))
		return drop_ep(DROP_SPOOF, p->in_ifindex, 0);
	if (p->eth_proto == ETH_P_ARP_)
		return handle_arp(skb, p, ifc, net, cfg);
	if (p->eth_proto == ETH_P_IP || p->eth_proto == ETH_P_IPV6)
		return handle_ip(skb, p, ifc, net, cfg);
	return drop_ep(DROP_ETHERTYPE, ifc ? p->in_ifindex : 0, 0);
}

SEC("classifier")
int from_endpoint(struct __sk_buff *skb)
{
	struct config *cfg = get_config();
	if (!cfg)
		return TC_ACT_SHOT;
	__u32 ifindex = skb->ifindex;
	struct iface *ifc = bpf_map_lookup_elem(&interfaces, &ifindex);
	if (!ifc)
		return drop(DROP_UNKNOWN_IFACE);
	struct network *net = bpf_map_lookup_elem(&networks, &ifc->net);
	if (!net)
		return drop_ep(DROP_NO_NETWORK, ifindex, 0);
	count_tx(ifindex, skb->len);
	if (ifc->rate_bps && !rate_ok(ifindex, ifc, skb->len, bpf_ktime_get_ns()))
		return drop_ep(DROP_RATE, ifindex, 0);
	struct pkt p;
	__builtin_memset(&p, 0, sizeof(p));
	p.origin = ORIGIN_LOCAL;
	p.in_ifindex = ifindex;
	p.tenant = ifc->tenant;
	p.net = ifc->net;
	return dispatch(skb, &p, ifc, net, cfg);
}

SEC("classifier")
int from_vxlan(struct __sk_buff *skb)
{
	struct config *cfg = get_config();
	if (!cfg)
		return TC_ACT_SHOT;
	struct bpf_tunnel_key k;
	__builtin_memset(&k, 0, sizeof(k));
	struct ip_addr remote;
	if (bpf_skb_get_tunnel_key(skb, &k, sizeof(k), 0) == 0) {
		v4_mapped(&remote, bpf_htonl(k.remote_ipv4));
	} else if (bpf_skb_get_tunnel_key(skb, &k, sizeof(k), BPF_F_TUNINFO_IPV6) == 0) {
		__builtin_memcpy(&remote, k.remote_ipv6, 16);
	} else {
		return drop(DROP_MALFORMED);
	}
	if (!bpf_map_lookup_elem(&vteps, &remote))
		return drop(DROP_UNKNOWN_VTEP);
	__u32 vni = k.tunnel_id;
	__u32 *tag = bpf_map_lookup_elem(&vnis, &vni);
	if (!tag)
		return drop(DROP_NO_NETWORK);
	__u32 net_tag = *tag;
	struct network *net = bpf_map_lookup_elem(&networks, &net_tag);
	if (!net)
		return drop(DROP_NO_NETWORK);
	struct pkt p;
	__builtin_memset(&p, 0, sizeof(p));
	p.origin = ORIGIN_VXLAN;
	p.in_ifindex = skb->ifindex;
	p.tenant = net->tenant;
	p.net = net_tag;
	struct vxlan_md md = {};
	if (bpf_skb_get_tunnel_opt(skb, &md, sizeof(md)) == sizeof(md) &&
	    (md.gbp & GBP_POLICY_APPLIED)) {
		p.src_epg = md.gbp & GBP_ID_MASK;
		p.hint_epg = 1;
	}
	return dispatch(skb, &p, 0, net, cfg);
}

SEC("classifier")
int from_uplink(struct __sk_buff *skb)
{
	struct config *cfg = get_config();
	if (!cfg)
		return TC_ACT_SHOT;
	__u32 vid;
	if (skb->vlan_present) {
		vid = skb->vlan_tci & 0x0fff;
	} else {
		void *data = (void *)(long)skb->data;
		void *end = (void *)(long)skb->data_end;
		struct ethhdr *eth = data;
		if ((void *)(eth + 1) + 4 > end)
			return drop(DROP_MALFORMED);
		if (eth->h_proto != bpf_htons(ETH_P_8021Q))
			return drop(DROP_NO_NETWORK);
		vid = bpf_ntohs(*(__be16 *)(eth + 1)) & 0x0fff;
	}
	if (bpf_skb_vlan_pop(skb))
		return drop(DROP_MALFORMED);
	__u32 net_tag = NET_TAG_VLAN | vid;
	struct network *net = bpf_map_lookup_elem(&networks, &net_tag);
	if (!net)
		return drop(DROP_NO_NETWORK);
	struct pkt p;
	__builtin_memset(&p, 0, sizeof(p));
	p.origin = ORIGIN_UPLINK;
	p.in_ifindex = skb->ifindex;
	p.tenant = net->tenant;
	p.net = net_tag;
	return dispatch(skb, &p, 0, net, cfg);
}

SEC("classifier")
int from_host(struct __sk_buff *skb)
{
	struct config *cfg = get_config();
	if (!cfg)
		return TC_ACT_SHOT;
	void *data = (void *)(long)skb->data;
	void *end = (void *)(long)skb->data_end;
	struct ethhdr *eth = data;
	struct iphdr *ip = data + sizeof(struct ethhdr);
	if ((void *)(ip + 1) > end)
		return drop(DROP_MALFORMED);
	if (eth->h_proto != bpf_htons(ETH_P_IP))
		return drop(DROP_ETHERTYPE);
	struct ip_addr dst;
	v4_mapped(&dst, ip->daddr);
	/* Only endpoints with external access are reachable from the host. */
	struct target *t = ep_lookup(NET_TAG_HOST, &dst);
	if (!t)
		return drop(DROP_NO_ROUTE);
	__u32 ifindex = t->ifindex;
	struct iface *ifc = bpf_map_lookup_elem(&interfaces, &ifindex);
	if (!ifc)
		return drop(DROP_UNKNOWN_IFACE);
	struct network *net = bpf_map_lookup_elem(&networks, &ifc->net);
	if (!net)
		return drop(DROP_NO_NETWORK);
	/* From the gateway, as routed traffic is. */
	if ((net->flags & NET_GW4) && bpf_skb_store_bytes(skb, 6, net->gw_mac, 6, 0))
		return drop(DROP_REDIRECT);
	struct pkt p;
	__builtin_memset(&p, 0, sizeof(p));
	p.origin = ORIGIN_HOST;
	p.in_ifindex = skb->ifindex;
	p.tenant = ifc->tenant;
	p.net = ifc->net;
	return dispatch(skb, &p, 0, net, cfg);
}

char _license[] SEC("license") = "GPL";
