//! # contiv-dp-ebpf
//!
//! The tc/BPF datapath of contiv-rs: C classifiers on tc ingress,
//! built by `build.rs` with clang and embedded in the crate, loaded and fed
//! with aya. No bridge, no switch: every forwarding decision is made in BPF
//! with maps the agent fills.
//!
//! ```no_run
//! # async fn demo() -> Result<(), contiv_core::datapath::DpError> {
//! use contiv_core::datapath::{Datapath, DesiredState};
//! use contiv_dp_ebpf::{EbpfConfig, EbpfDatapath};
//! let dp = EbpfDatapath::connect(EbpfConfig::new()).await?;
//! let report = dp.resync(&DesiredState::default()).await?;
//! println!("{report:?} {:?}", dp.counters().await?);
//! # Ok(()) }
//! ```
//!
//! ## Where the programs run
//!
//! | classifier | attached to (tc ingress) | sees |
//! |---|---|---|
//! | `from_endpoint` | each local endpoint's host-side veth | what a container sends |
//! | `from_vxlan` | the host's `vxlan external gbp` device ([`EbpfConfig::vxlan_device`]) | what peers tunnel here (VNI → network, source group from VXLAN-GBP, outer source must be a known VTEP) |
//! | `from_uplink` | the VLAN uplink ([`EbpfConfig::uplink`]) | tagged frames (VLAN → network) |
//! | `from_host` | the datapath's end of the host port (`<`[`EbpfConfig::host_port`]`>p`) | what the host's stack routes to a local endpoint with external access |
//!
//! ## External access (`egress_nat`, `published_ports`)
//!
//! With a network whose `external` is set, the datapath makes a host port
//! (a veth into the host's own stack), the host's `/32` route to each
//! local endpoint of such networks through it, and one nftables table
//! (masquerade of those networks' subnets, DNAT of published ports, a
//! forward guard: nothing turns around on the host port but to a
//! published port) — derived and converged by
//! [`contiv_core::linux::host_port`], which the OVS backend uses too.
//! `from_endpoint` sends IPv4 for the gateway's MAC to an address that is
//! no endpoint of the network and in no network's subnet (nor the private
//! subnet: the `SET_INTERNAL` address set) into the host port, after `out`
//! policy and conntrack like any packet, when the sender has external
//! access (its `{NET_TAG_HOST, address}` entry is its own interface).
//! `from_host` finds the endpoint by that same entry and delivers through
//! conntrack and its `in` rules, from the gateway's MAC. Switching
//! `external` off removes the entries (egress stops at once) and, with
//! the last such network, the port, routes, table and attachment.
//!
//! `from_endpoint` checks the source (MAC, IPv4/IPv6 address; IPv6
//! link-local and `::` only for ICMPv6), marks DSCP, answers ARP and neighbour solicitations for
//! the gateway and (in proxy mode) for every known endpoint, answers pings
//! to the gateway, then forwards. Forwarding is by destination address
//! within the packet's network (`endpoints` map; IPv6 link-local by MAC):
//! to a local endpoint with `bpf_redirect_peer` (a shaped one: see
//! below), to a remote one through the
//! VXLAN device (`bpf_skb_set_tunnel_key` + the source group in the GBP
//! option) or the uplink (`bpf_skb_vlan_push`); unknown unicast of a VLAN
//! network goes to the uplink; broadcast ARP and multicast ND are copied to
//! the network's flood list (local endpoints, then every peer VTEP or the
//! uplink). Traffic from a tunnel or the uplink is only ever delivered to
//! local endpoints.
//!
//! ## ARP and ND: proxy and flood mode
//!
//! In flood mode every broadcast ARP and multicast ND frame is flooded. In
//! proxy mode (the default) the datapath knows every endpoint and answers
//! for it, so what a container sends while it comes up is not flooded —
//! each flood is one copy per endpoint of the network on every host, and
//! those bursts overflowed the veths' backlog (lost first ARP requests,
//! ~1 s first replies) when containers came up among hundreds. Dropped as
//! `multicast`: duplicate address detection probes (a solicitation from
//! `::`) for the sender's own or an unknown address (DAD succeeds),
//! advertisements to a multicast address (unsolicited), router
//! solicitations and advertisements (the gateway sends no RAs: addresses
//! and routes come from the agent), MLD (no IP multicast is forwarded),
//! and gratuitous ARP (announcements, broadcast replies: the datapath
//! rewrites the destination MAC of what it forwards, so no cache needs
//! them). A DAD probe for the gateway's or another endpoint's address is
//! defended as the owner (or a switch snooping ND) would: an
//! advertisement to all-nodes, so the newcomer's DAD fails instead of two
//! containers sharing an address. Solicitations with a source address
//! for an address the datapath does not know (link-local neighbours,
//! hosts behind a VLAN uplink) and ARP requests for unknown addresses are
//! still flooded. `flood_stats` counts flooded frames and the copies
//! sent ([`EbpfDatapath::floods`], [`inspect::Pinned::floods`]); a flood
//! consumes its frame, it is no drop.
//!
//! ## Bandwidth (`qos_bandwidth`)
//!
//! A netprofile's rate and burst become `tbf` root qdiscs on the ends of
//! the endpoint's veth that [`contiv_core::linux::shaping::endpoint_sides`]
//! names — the same decision and code as the OVS backend: the host side's
//! egress shapes what the endpoint receives, its container side's egress
//! (CNI attachments) what it sends. The `tbf` coexists with the ingress
//! filter (`from_endpoint` still sees every packet the container
//! sends). `bpf_redirect_peer` hands a packet to the container side's
//! ingress and so skips the host side's qdisc: the endpoint's `endpoints`
//! and `macs` entries carry `TARGET_F_QDISC`, and delivery to it uses
//! `bpf_redirect` to the host side's egress instead (measured: 19.1 Mbit/s
//! for a 20 Mbit/s profile; with `_peer`, 11.5 Gbit/s — unshaped). Where
//! no container side can carry a `tbf` (Docker moves it and resets its
//! qdiscs; `Existing` interfaces), `from_endpoint` polices what the
//! endpoint sends with a token bucket (`buckets` map), as before. `apply`
//! converges the shapers when an endpoint has or had a rate; `resync`
//! converges every endpoint's (shapers as wanted are adopted, stale ones
//! removed); removing an `Existing` endpoint removes its shaper.
//!
//! ## Policy and conntrack
//!
//! Exactly the IR's semantics (`contiv_core::ir`, checked against the
//! oracle of `contiv-policy` packet by packet in `tests/oracle_differential.rs`):
//! a new connection meets the `out` rules of its source's group where the
//! source is local, and the `in` rules of its destination's group where the
//! destination is local; each is a list per {tenant, group, direction},
//! sorted by priority (deny first at equal priority), first match decides,
//! no match allows; both must allow. Groups come from `membership`
//! ({tenant, address} → group) or, for tunnelled packets, from VXLAN-GBP.
//! An allowed connection gets a conntrack entry (LRU hash keyed by tenant,
//! protocol and the normalised 5-tuple, ICMP echo by its id), so its later
//! packets in both directions, and ICMP errors quoting it, pass without
//! meeting the rules. Entries expire by protocol and TCP state
//! ([`CtTimeouts`]); a garbage collector deletes expired ones. Tenants are
//! VRFs: a network belongs to one tenant, lookups are keyed by network or
//! tenant, so overlapping subnets never meet.
//!
//! ## Maps (see `bpf/abi.h` and [`abi`])
//!
//! `config`, `interfaces` (ifindex → tenant, network, group, MAC,
//! addresses, QoS), `networks`, `vnis`, `vteps`, `endpoints` ({network,
//! address} → local ifindex or remote VTEP, MAC, group), `macs`,
//! `membership`, `addr_sets` (one LPM trie for every address set, keyed by
//! set id), `set_ids`, `rule_heads`/`rules` and `flood_heads`/`flood`
//! (lists switched atomically by generation), `conntrack`, counters
//! (`ep_stats`, `rule_stats`, `drop_reasons`, `flood_stats`), `buckets`, and the services'
//! `services`, `svc_vips`, `svc_nat`, `svc_frags` and `svc_scratch`
//! ([`service`]).
//!
//! ## Services (`services`, `bpf/service.h`)
//!
//! At the client's host, in `from_endpoint`: the first packet of a TCP or
//! UDP connection from an endpoint on a service's network to `VIP:port`
//! picks a backend slot of its `services` entry by a hash of the 5-tuple
//! and is rewritten to `backend:prov_port` (`bpf_l3_csum_replace` /
//! `bpf_l4_csum_replace`), recording two `svc_nat` entries (LRU): the
//! forward one by the client's tuple, the reverse one by the backend's
//! reply. The rewritten packet then meets conntrack and policy as a packet
//! to the backend (its group, its `in` rules where it lives, the client's
//! `out` rules towards it), as OVS's `ct(nat)` does. Later packets reuse
//! the forward entry while the translated connection is live in conntrack:
//! a backend taken out of a service keeps its connections, new ones pick
//! from the current slots. A reply whose connection is live gets the
//! reverse rewrite, on a local veth or in `from_vxlan` alike. Hairpin (the
//! client picked itself) also rewrites the source to the VIP, so the reply
//! comes back through the datapath. An ICMPv4 error quoting a translated
//! connection (a backend's port unreachable) is translated like it (quote,
//! outer addresses, checksums), so the client sees a refusal. A service
//! without backends drops
//! (`no-backend`); the VIP answers ARP (`svc_vips`, MAC `02:02:`+VIP) on its
//! network. Backends follow endpoints (a removed endpoint leaves every
//! service); the garbage collector deletes NAT entries of connections
//! conntrack no longer holds. At most [`service::SVC_MAX_BACKENDS`]
//! backends per service (more are refused).
//!
//! IPv4 fragments: only a datagram's first fragment (offset 0, more
//! fragments) carries the UDP/TCP header the lookups need. When it is
//! translated, forward or reverse, the programs remember the translation
//! in `svc_frags` (LRU, 16,384 entries) keyed by the datagram as it arrived
//! (`{tenant, source, destination, IP id, protocol}`), and the datagram's
//! later fragments get the same addresses (IP checksum only; the first
//! fragment's incremental UDP/TCP checksum update covers the whole
//! datagram), so the receiver reassembles it. They then meet conntrack and
//! policy with the first fragment's ports, i.e. as packets of its
//! connection: they pass where the first passed (the backend's `in` rules
//! apply where the first fragment met them). A later fragment to a VIP from
//! a local client without an entry (it came before its first fragment, or
//! the entry was evicted or is older than [`service::FRAG_TIMEOUT`], the
//! kernel's default reassembly time) is dropped with reason
//! `fragment-unknown` (charged to the sender), never sent on to the VIP; a
//! later fragment of a reply without an entry cannot be told from any
//! fragment between two endpoints and passes untranslated. The garbage
//! collector deletes entries older than [`service::FRAG_TIMEOUT`]. Where a
//! backend lives on another host, its host sees the translated later
//! fragments as it sees any later fragment of no service: they carry no
//! ports, so conntrack does not place them in the connection and they meet
//! the backend's `in` rules as a port-less packet of their protocol (a
//! rule naming ports does not match them; no matching rule allows). IPv6
//! services do not exist (a service's VIP is IPv4), so no IPv6 fragment is
//! service-translated.
//!
//! ## Pins, restarts and resync
//!
//! Maps, programs and links (one pinned tcx link per hooked device: the
//! VXLAN device, the uplink, the host port) live under
//! `<bpffs>/<pin_name>/v<ABI>/` ([`EbpfConfig::pin_root`]). An endpoint's
//! veth runs `from_endpoint` as a netlink `cls_bpf` filter (`clsact`
//! ingress, priority 1, handle 1, named `contiv_from_endpoint`): a tcx
//! attach waits for an RCU grace period, 8–18 ms of every CNI ADD, the
//! filter takes ~0.1 ms ([`kernel::clsbpf`]). It needs no pin — it lives
//! as long as the veth — and a restarted agent finds it by a dump. When
//! the agent dies, nothing is undone: forwarding and policy go on. A new
//! [`EbpfDatapath::connect`] adopts the pinned maps (checking their
//! layout), keeps the pinned programs if they are the same (else pins the
//! new ones and moves every link and filter over atomically), and
//! [`Datapath::resync`](contiv_core::datapath::Datapath::resync) reads every
//! map back and writes only the difference — nothing when nothing differs
//! — and removes only what is stale: entries, links, filters, and the
//! veths the datapath made for endpoints that are gone. The `ep_<ifindex>`
//! tcx links an agent of the previous version pinned for endpoints are
//! replaced by filters (the filter first, then the pin goes, so no packet
//! runs the program twice) or removed when stale.
//!
//! ## Observability
//!
//! [`EbpfDatapath::counters`]: per endpoint (sent, delivered, dropped each
//! way), per rule (new connections it decided, and dropped — the start of
//! "why was my packet dropped"), and drops by reason;
//! [`EbpfDatapath::floods`]: frames flooded and copies sent (not part of
//! the backend-neutral [`Counters`] the agent's status shows);
//! [`EbpfDatapath::run_packet`] runs a frame through the loaded classifier
//! (`BPF_PROG_TEST_RUN`); [`inspect::Pinned`] reads another process's
//! pinned maps.
//!
//! ## Requirements
//!
//! Linux ≥ 6.6 (tcx, `cls_bpf`, `bpf_loop`, `bpf_redirect_peer`), root (CAP_BPF,
//! CAP_NET_ADMIN; CAP_SYS_ADMIN to mount the bpffs), clang, llvm and
//! libbpf-dev at build time (`make deps`).

pub mod abi;
pub mod compile;
pub mod config;
pub mod datapath;
pub mod gc;
pub mod inspect;
pub mod kernel;
mod object;
pub mod plumbing;
pub mod service;
pub mod sets;
pub mod stats;
pub mod sync;
pub mod tables;

pub use config::{CtTimeouts, EbpfConfig};
pub use contiv_core::datapath::counters::{Counters, DropCounter, EndpointCounters, RuleCounters};
pub use datapath::{EbpfDatapath, EbpfStats, PacketRun};
