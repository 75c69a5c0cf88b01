//! OpenFlow 1.3: the wire codec, an async connection, and a normaliser for
//! `ovs-ofctl dump-flows` text.
//!
//! A typical client session against a bridge's management socket:
//!
//! ```no_run
//! # async fn demo() -> Result<(), contiv_dp_ovs::openflow::conn::ConnError> {
//! use contiv_dp_ovs::openflow::conn::Connection;
//! use contiv_dp_ovs::openflow::wire::{Action, FlowMod, Match};
//!
//! let (conn, _events) = Connection::connect_unix("/run/openvswitch/br-int.mgmt").await?;
//! let flow = FlowMod::add(1, 100)
//!     .cookie(0x10)
//!     .matching(Match::new().eth_type(0x0800).ipv4_dst("10.0.0.1".parse().unwrap()))
//!     .apply(vec![Action::output(2)]);
//! conn.send_flow_mods_in_bundle(vec![flow]).await?;
//! # Ok(()) }
//! ```

pub mod conn;
pub mod dump;
pub mod wire;
