//! The network's IPv6 gateway answering its local endpoints, in the
//! switch: neighbour solicitations for the gateway address get a
//! neighbour advertisement (router, solicited and override flags, the
//! gateway MAC as target link-layer address), ICMPv6 echo requests to it an
//! echo reply — both built from the request in place and sent back out the
//! port it came in on, like the IPv4 gateway's ARP and ping answers.
//!
//! The advertisement rewrites the solicitation: Ethernet and IPv6
//! addresses swapped (the source becomes the gateway), ICMPv6 type 135 →
//! 136, the reserved word → the R|S|O flags (`nd_reserved`), the source
//! link-layer option → a target link-layer option (`nd_options_type`,
//! `nd_tll`). The last two fields are OVS extensions (OXM class `0x1000`,
//! OVS 2.11+); OVS recomputes the ICMPv6 checksum.

use super::build::{actions, actions_then, eth, plain};
use super::flow::FlowKey;
use super::flow_table::Body;
use super::forwarding::{network_gateway_mac, tag_of};
use super::tables::{Table, flags, prio, reg};
use crate::openflow::wire::{Action, Masked, Match, NxmHeader, OxmField, UnknownOxm, port_no};
use contiv_core::datapath::NetworkSpec;

type Entry = (FlowKey, Body);

/// OXM class of the `ERICOXM_OF_*` fields (`nd_reserved`,
/// `nd_options_type`).
pub const ERICOXM_CLASS: u16 = 0x1000;

/// ICMPv6 neighbour solicitation.
pub const ND_NS: u8 = 135;
/// ICMPv6 neighbour advertisement.
pub const ND_NA: u8 = 136;
/// ICMPv6 echo request.
pub const ECHO_REQUEST: u8 = 128;
/// ICMPv6 echo reply.
pub const ECHO_REPLY: u8 = 129;
/// The R (router), S (solicited) and O (override) flags of a neighbour
/// advertisement, as the first word after the ICMPv6 header.
pub const NA_FLAGS_ROUTER_SOLICITED_OVERRIDE: u32 = 0xe000_0000;
/// ND option type "target link-layer address".
pub const OPT_TARGET_LL: u8 = 2;

/// `set_field:<v>->nd_reserved` (the 32-bit word after the ICMPv6
/// header of an ND message: the NA flags).
pub fn set_nd_reserved(v: u32) -> Action {
    Action::SetField(OxmField::Unknown(UnknownOxm {
        class: ERICOXM_CLASS,
        field: 1,
        has_mask: false,
        experimenter: None,
        payload: v.to_be_bytes().to_vec(),
    }))
}

/// `set_field:<v>->nd_options_type` (the type of the ND message's
/// link-layer address option).
pub fn set_nd_options_type(v: u8) -> Action {
    Action::SetField(OxmField::Unknown(UnknownOxm {
        class: ERICOXM_CLASS,
        field: 2,
        has_mask: false,
        experimenter: None,
        payload: vec![v],
    }))
}

fn icmp6_to_gateway(net: &NetworkSpec) -> Match {
    Match::new()
        .eth_type(eth::IPV6)
        .reg(reg::NETWORK, tag_of(net))
        .reg_masked(reg::FLAGS, flags::FROM_LOCAL, flags::FROM_LOCAL)
        .ip_proto(58)
}

/// The IPv6 gateway's flows for `net` (none without `gateway6`): the
/// neighbour advertisement and the echo reply, both for requests from
/// local ports only (a request from a tunnel or uplink is answered by the
/// host it came from).
///
/// The advertisement takes two steps because OVS checks a `set_field`'s
/// prerequisites against the flow's match: [`Table::Arp`] turns the
/// solicitation into an advertisement from the gateway (addresses, type),
/// and [`Table::Conntrack`] — matching that rewritten packet, which only
/// this rewrite makes: a local port cannot send from the gateway address
/// past the spoof guard — fills in the flags and the target link-layer
/// option and sends it back.
pub fn gateway6_flows(net: &NetworkSpec, cookie: u64) -> Vec<Entry> {
    let (Some(gw), Some(mac)) = (net.gateway6, network_gateway_mac(net)) else {
        return Vec::new();
    };
    let swap_to_gateway = |ty: u8| {
        vec![
            Action::move_field(NxmHeader::ETH_SRC, NxmHeader::ETH_DST),
            Action::SetField(OxmField::EthSrc(Masked::exact(mac))),
            Action::move_field(NxmHeader::IPV6_SRC, NxmHeader::IPV6_DST),
            Action::SetField(OxmField::Ipv6Src(Masked::exact(gw))),
            Action::SetField(OxmField::Icmpv6Type(ty)),
        ]
    };
    let mut echo = swap_to_gateway(ECHO_REPLY);
    echo.push(Action::output(port_no::IN_PORT));
    vec![
        plain(
            Table::Arp,
            prio::OBJECT,
            icmp6_to_gateway(net)
                .field(OxmField::Icmpv6Type(ND_NS))
                .field(OxmField::Ipv6NdTarget(gw)),
            actions_then(swap_to_gateway(ND_NA), Table::Conntrack),
            cookie,
        ),
        plain(
            Table::Conntrack,
            prio::GUARD + 1,
            icmp6_to_gateway(net)
                .field(OxmField::Ipv6Src(Masked::exact(gw)))
                .field(OxmField::Icmpv6Type(ND_NA))
                .field(OxmField::Ipv6NdTarget(gw)),
            actions(vec![
                set_nd_reserved(NA_FLAGS_ROUTER_SOLICITED_OVERRIDE),
                set_nd_options_type(OPT_TARGET_LL),
                Action::SetField(OxmField::Ipv6NdTll(mac)),
                Action::output(port_no::IN_PORT),
            ]),
            cookie,
        ),
        plain(
            Table::Arp,
            prio::OBJECT,
            icmp6_to_gateway(net)
                .field(OxmField::Ipv6Dst(Masked::exact(gw)))
                .field(OxmField::Icmpv6Type(ECHO_REQUEST)),
            actions(echo),
            cookie,
        ),
    ]
}
