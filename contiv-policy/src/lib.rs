//! # contiv-policy
//!
//! Compiles Contiv intent (policies, rules, EPG membership, networks,
//! endpoints) into the datapath-neutral IR of [`contiv_core::ir`],
//! incrementally ([`Compiler`]) or from scratch ([`compile`]); evaluates
//! packets against the IR with an explanation ([`evaluate`], the oracle);
//! and provides a recording in-memory [`contiv_core::datapath::Datapath`]
//! ([`RecordingDatapath`]). With feature `testing`, `conformance` is the
//! datapath conformance suite every backend runs (it needs the oracle, so
//! it lives here, above `contiv-core` and below the backends, which
//! dev-depend on it).
//!
//! The seed tutorial, compiled and asked about three packets:
//!
//! ```
//! use contiv_core::model::{EndpointGroup, Rule};
//! use contiv_policy::{compile, EndpointInput, Intent, Packet, PacketEnd};
//!
//! let mut intent = Intent::default();
//! intent.insert_tenant("default", 1);
//! let rule = |id: &str, port: i64, action: &str, priority: i64| Rule {
//!     tenant_name: "default".into(), policy_name: "db-policy".into(),
//!     rule_id: id.into(), direction: "in".into(), protocol: "tcp".into(),
//!     port, action: action.into(), priority, ..Rule::default()
//! };
//! // netctl policy rule-add db-policy 1 -direction=in -protocol=tcp -action=deny
//! intent.insert_rule(rule("1", 0, "deny", 1));
//! // netctl policy rule-add db-policy 2 -direction=in -protocol=tcp -port=8888 -action=allow -priority=10
//! intent.insert_rule(rule("2", 8888, "allow", 10));
//! // netctl group create contiv-net db -policy=db-policy
//! intent.insert_epg(EndpointGroup {
//!     tenant_name: "default".into(), group_name: "db".into(),
//!     network_name: "contiv-net".into(), policies: vec!["db-policy".into()],
//!     ..EndpointGroup::default()
//! }, 1);
//! let db_ip = "10.1.2.7".parse().unwrap();
//! let web_ip = "10.1.2.8".parse().unwrap();
//! intent.insert_endpoint(EndpointInput::new("contiv-db", "default", "contiv-net", Some("db"), [db_ip]));
//! intent.insert_endpoint(EndpointInput::new("contiv-web", "default", "contiv-net", None, [web_ip]));
//! let ir = compile(&intent).unwrap();
//!
//! let web = PacketEnd::addr(1, web_ip);
//! let db = PacketEnd::addr(1, db_ip);
//! let v = contiv_policy::evaluate(&ir, &Packet::tcp(web, db, 8888));
//! assert!(v.allowed());
//! assert_eq!(v.deciding_rule().unwrap().origin.rule, "2");
//!
//! let v = contiv_policy::evaluate(&ir, &Packet::tcp(web, db, 8889));
//! assert!(!v.allowed());
//! assert_eq!(v.to_string(),
//!     "deny: decided at ingress: rule 1 of policy default:db-policy on group default:db \
//!      (priority 1, id ".to_owned() + &v.deciding_rule().unwrap().id.to_string() +
//!     ") denies; egress: source is in no group, no rules apply (allow)");
//!
//! // db's own outbound connection, and its replies, are not "incoming tcp".
//! let out = Packet::tcp(db, web, 80);
//! assert!(contiv_policy::evaluate(&ir, &out).allowed());
//! assert!(contiv_policy::evaluate(&ir, &out.reply()).allowed());
//! ```
//!
//! ## Semantics
//!
//! A policy holds rules; attaching it to an endpoint group (EPG) makes its
//! rules protect the group's endpoints.
//!
//! * **Direction.** An `in` rule governs connections *arriving at* the
//!   group's endpoints; its peer is the source. An `out` rule governs
//!   connections the group's endpoints *open*; its peer is the destination.
//! * **Peers.** None (any peer); a group (`fromEndpointGroup` /
//!   `toEndpointGroup`: the peer is a member); a network (`fromNetwork` /
//!   `toNetwork`: the peer's address lies in the network's IPv4 subnet or
//!   IPv6 subnet — the whole prefix, also when the subnet is written with an
//!   allocation range `a.b.c.d-e.f.g.h/len`); a CIDR (`fromIpAddress` /
//!   `toIpAddress`: an address or prefix, v4 or v6). An `in` rule may also
//!   have `toIpAddress`: the protected endpoint's own address must then lie
//!   in it.
//! * **Protocol.** Empty (or `0`, as the original's datapath) = any;
//!   `tcp` = 6, `udp` = 17, `icmp` = 1, or an IP protocol number 1..255. `icmp` (protocol 1) matches ICMP for IPv4
//!   **and ICMPv6 (58) for IPv6** traffic, so "deny icmp" means the same on
//!   both families; any other number matches exactly that protocol (`58`
//!   matches ICMPv6 only).
//! * **Port.** The destination port of the connection; 0 = any. A port
//!   with protocol `tcp` or `udp` matches that protocol; a port with an
//!   **empty protocol matches TCP and UDP** with that destination port; a
//!   port with any other protocol is refused. The IR carries port *ranges*
//!   ([`PortRange`](contiv_core::ir::PortRange)) and the oracle evaluates
//!   them, but the model's `port` field is a single port, so the compiler
//!   only produces single-port ranges (the model was not extended).
//! * **Priority** 1..100 (0 means the default, 1). Among the rules that
//!   match a packet, the **highest priority decides; at equal priority deny
//!   wins** (the original left ties to OpenFlow, i.e. undefined); at equal
//!   priority and action the smaller rule id is reported, so explanations
//!   are deterministic.
//! * **Stateful.** Rules judge **new connections**; every later packet of
//!   an allowed connection, in both directions, passes. "deny incoming tcp"
//!   blocks connections to the group, not the replies to connections the
//!   group's endpoints opened.
//! * **Two stages.** A new connection from S to D is judged by the `out`
//!   rules of S's group (egress stage, peer = D) and by the `in` rules of
//!   D's group (ingress stage, peer = S). Each stage allows unless its
//!   deciding rule denies; **no matching rule → allow** (as the original);
//!   the connection passes only if **both** stages allow. An endpoint in no
//!   group has no rules in its stage.
//! * **Tenants never reach each other**: a packet whose ends are in
//!   different tenants is denied before any rule is looked at.
//!
//! ## From the model to the IR
//!
//! If policy P is attached to k groups, each of its rules compiles to k
//! [`IrRule`](contiv_core::ir::IrRule)s, one per (group G, rule): `epg` =
//! id(G), `tenant` = id(G's tenant), `direction`, `proto`, `ports`,
//! `priority`, `action` as above, and
//!
//! | rule field | IR |
//! |---|---|
//! | `in`: `fromEndpointGroup` g / `out`: `toEndpointGroup` g | `peer: Epg(id(tenant:g))` |
//! | `in`: `fromNetwork` n / `out`: `toNetwork` n | `peer: AddrSet("net:<tenant>:<n>")` |
//! | `in`: `fromIpAddress` / `out`: `toIpAddress` c | `peer: AddrSet("cidr:<c>")` (`c` truncated to its prefix) |
//! | none of them | `peer: Any` |
//! | `in`: `toIpAddress` c | `local: Some(AddrSet("cidr:<c>"))` |
//!
//! An address set is in the IR exactly while a compiled rule references
//! it; a network's set holds its subnets (empty while the network is
//! unknown), so a subnet change is one set update however many rules name
//! the network. Membership is one entry per endpoint address: (tenant id,
//! ip) → group id; endpoints in no group have none.
//!
//! Ids come from netmaster: the compiler takes tenant ids
//! ([`Compiler::upsert_tenant`]) and group ids ([`Compiler::upsert_epg`])
//! as given. Objects may arrive in any order: a pair compiles once its
//! group, its tenant's id and (for a group peer) the peer group exist; a
//! rule naming a group that does not exist matches nothing, so it is left
//! out until the group appears.
//!
//! **Rule identity.** [`RuleId`](contiv_core::ir::RuleId) = FNV-1a 64 of
//! `epg_key ‖ 0 ‖ policy_key ‖ 0 ‖ ruleId` ([`rule_id`]): stable across
//! processes, restarts and recompiles, never derived from process state.
//! Two pairs with one id are refused ([`PolicyError::RuleIdCollision`]) so a
//! name crafted in one tenant can never replace another tenant's rule in a
//! datapath.
//!
//! ## Deliberate differences from the original
//!
//! * Stateful (the original was stateless: `in icmp deny` on A broke A's
//!   own pings; here A's pings and their replies pass).
//! * Deterministic ties (deny wins); IPv6 rules and ICMPv6.
//! * Network peers use the network's whole prefix (the original copied the
//!   `a-b/len` range text, which its datapath could not parse).
//! * A rule names at most one peer (the original also accepted a group
//!   together with an address, meaning both must match; the IR has one
//!   peer per rule, so such a rule is refused with a hint to split it).
//!   The shape check is [`Rule::shape`](contiv_core::model::Rule::shape)
//!   in `contiv-core`, the same one netmaster's validation runs, so the
//!   API refuses every rule the compiler would refuse (property-tested in
//!   `tests/prop_rule_shapes.rs`); a network's prefixes come from its
//!   address plan's parsers, the ones the allocator uses.
//! * Rule address ranges (`a.b.c.d-N`) are refused instead of being stored
//!   and then failing in the datapath.
//! * `in` rules are judged where the destination lives and `out` rules
//!   where the source lives (the datapaths' business; the IR says which).

mod compiler;
#[cfg(feature = "testing")]
pub mod conformance;
mod emit;
mod error;
mod full;
mod intent;
pub mod oracle;
pub mod recording;
mod rule_id;
mod spec;
pub mod synthetic;

pub use compiler::Compiler;
pub use error::PolicyError;
pub use full::compile;
pub use intent::{EndpointInput, Intent, IntentEpg};
pub use oracle::{
    Cause, ConnState, DecidingRule, Packet, PacketEnd, Stage, StageVerdict, Verdict, evaluate,
};
pub use recording::{Recorded, RecordingDatapath};
pub use rule_id::{fnv1a64, rule_id};
pub use spec::{PROTO_ICMP, PROTO_ICMPV6, PROTO_TCP, PROTO_UDP};
