//! # contiv-dp-ovs
//!
//! The Open vSwitch datapath: an OpenFlow 1.3 codec and async switch
//! connection, an OVSDB (RFC 7047) client, and the contiv pipeline that
//! realises networks, endpoints and the policy IR as flows.
//!
//! * [`openflow::wire`] — typed views over byte buffers and `Repr` types
//!   (parse / `buffer_len` / emit, in the style of smoltcp's `wire`) for the
//!   OpenFlow 1.3 messages the pipeline needs, the Nicira/OVS match fields
//!   (registers, conntrack, tunnel, conjunction) and actions (`ct`, `nat`,
//!   `resubmit`, `conjunction`, register moves/loads, …), plus the ONF
//!   bundle extension.
//! * [`openflow::conn`] — an async (tokio) connection: as a client of a
//!   bridge's `.mgmt` socket or as a controller OVS connects to; xid → reply
//!   matching, errors tied to the request that caused them, barriers,
//!   pipelined atomic bundles, echo keep-alive, reconnect with resync, and
//!   an unbounded stream of asynchronous messages (packet-in, port-status,
//!   flow-removed).
//! * [`openflow::dump`] — a normaliser for `ovs-ofctl dump-flows` text, for
//!   assertions in tests.
//! * [`ovsdb`] — a JSON-RPC 1.0 OVSDB client (transact, monitor, echo) with
//!   typed values and operations, and [`ovsdb::vswitch`], the idempotent
//!   convenience layer the pipeline uses (bridges, ports, interfaces,
//!   ownership marks, ingress policing, VLAN tags).
//! * Endpoint interfaces (veth pairs, namespaces, addresses, routes) are
//!   plumbed by the shared `contiv_core::linux::Plumber`.
//! * `testing` (feature `testing`) — `OvsInstance`, a private ovsdb-server
//!   + ovs-vswitchd per test, torn down on drop.
//!
//! No part of the library shells out to `ovs-ofctl` or `ovs-vsctl`; only the
//! test fixture does, for assertions.

pub mod datapath;
pub mod openflow;
pub mod ovsdb;
pub mod pipeline;

#[cfg(feature = "testing")]
pub mod testing;
