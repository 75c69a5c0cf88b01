//! From (desired, observed) to the API calls that make VPP match: each
//! [`Action`] is exactly one request. [`plan`] orders them so every call
//! finds what it refers to (tables and bridge domains before interfaces,
//! ACLs before bindings, interfaces in their bridge domain before l2fib
//! entries; removals of entries before interfaces, of ACLs, bridge domains
//! and tables last). When nothing differs the plan is empty.

use super::model::{CnatKey, Create, IfSpec, Model, PolicerSpec, Translation};
use super::names::{self, AclKey, IfKey};
use super::observe::{Observed, Stale, policer_of};
use crate::api::types::{
    AclRule, Address, BdFlags, BdIpMac, CnatEndpoint, CnatEndpointTuple, CnatLbType,
    CnatTranslation, IfStatusFlags, Ip4Prefix, Ip6Prefix, IpFlowHashConfigV2, IpNeighbor,
    IpNeighborFlags, IpProto, IpTable, L2PortType, Prefix, Sse2QosAction, Sse2QosActionType,
    Sse2QosPolicerType, Sse2QosRateType, Sse2QosRoundType, TapFlags,
};
use crate::api::{acl, af_packet, cnat, interface, ip, ip_neighbor, l2, policer, tapv2, vxlan};
use crate::client::{Client, ClientError};
use crate::wire::{self, Message, MsgHeader, Request};
use ipnet::IpNet;
use std::collections::BTreeSet;
use std::net::IpAddr;

/// One API call of a plan. Fields name objects by their keys: `net` a
/// network key, `key` an interface ([`IfKey`]) or ACL ([`AclKey`]), `via`
/// the interface an l2fib entry points to.
#[derive(Clone, Debug, PartialEq)]
#[allow(missing_docs)]
pub enum Action {
    /// Remove a static l2fib entry.
    DelL2fib {
        net: String,
        mac: [u8; 6],
        via: IfKey,
    },
    /// Remove an ARP-termination entry.
    DelArp {
        net: String,
        ip: IpAddr,
        mac: [u8; 6],
    },
    /// Remove a static neighbour from a network's BVI.
    DelNeigh {
        net: String,
        ip: IpAddr,
        mac: [u8; 6],
    },
    /// Delete one of our interfaces.
    DelIface { key: IfKey, create: Create },
    /// Remove something stale.
    DelStale(Stale),
    /// Create an IP table.
    AddTable { v6: bool, id: u32, name: String },
    /// Remove an IP table.
    DelTable { v6: bool, id: u32 },
    /// Create a network's bridge domain.
    AddBd { net: String, arp_term: bool },
    /// Switch ARP termination.
    SetArpTerm { net: String, on: bool },
    /// Remove a bridge domain.
    DelBd { net: String },
    /// Create or replace an ACL.
    PutAcl { key: AclKey, rules: Vec<AclRule> },
    /// Remove an ACL.
    DelAcl { key: AclKey },
    /// Create an interface.
    Create { key: IfKey, create: Create },
    /// Tag an interface (all but TAPs, which are tagged at creation).
    Tag { key: IfKey },
    /// Bind an interface to a table.
    SetTable { key: IfKey, v6: bool, id: u32 },
    /// Add or remove an interface address.
    Addr { key: IfKey, net: IpNet, add: bool },
    /// Put an interface into a bridge domain.
    Bridge {
        key: IfKey,
        net: String,
        bvi: bool,
        shg: u8,
    },
    /// Take an interface out of its bridge domain.
    Unbridge { key: IfKey },
    /// Pop one VLAN tag on ingress.
    Pop1 { key: IfKey },
    /// Admin up.
    Up { key: IfKey },
    /// Set an interface's ACL lists.
    AclList {
        key: IfKey,
        acl_in: Vec<AclKey>,
        acl_out: Vec<AclKey>,
    },
    /// Create an endpoint's policer.
    PolicerAdd { key: IfKey, spec: PolicerSpec },
    /// Remove an endpoint's policer.
    PolicerDel { key: IfKey },
    /// Apply the endpoint's policer on its interface's input.
    PolicerBind { key: IfKey },
    /// Add a static l2fib entry.
    AddL2fib {
        net: String,
        mac: [u8; 6],
        via: IfKey,
    },
    /// Add an ARP-termination entry.
    AddArp {
        net: String,
        ip: IpAddr,
        mac: [u8; 6],
    },
    /// Add a static neighbour on a network's BVI.
    AddNeigh {
        net: String,
        ip: IpAddr,
        mac: [u8; 6],
    },
    /// Create or update a cnat translation (VPP replaces the one with the
    /// same VIP, port and protocol, keeping its id).
    PutService { key: CnatKey, t: Translation },
    /// Remove a cnat translation.
    DelService { key: CnatKey },
}

impl Action {
    /// True for calls that only remove.
    pub fn is_removal(&self) -> bool {
        matches!(
            self,
            Action::DelL2fib { .. }
                | Action::DelArp { .. }
                | Action::DelNeigh { .. }
                | Action::DelIface { .. }
                | Action::DelStale(_)
                | Action::DelTable { .. }
                | Action::DelBd { .. }
                | Action::DelAcl { .. }
                | Action::PolicerDel { .. }
                | Action::DelService { .. }
        )
    }
}

fn create_matches(desired: &Create, observed: &Create) -> bool {
    match (desired, observed) {
        (Create::Tap(d), Create::Tap(o)) => d.matches_observed(o),
        (d, o) => d == o,
    }
}

/// The calls that turn `obs` into `want`.
pub fn plan(want: &Model, obs: &Observed) -> Vec<Action> {
    let o = &obs.model;
    let mut p = Vec::new();
    // Entries that go or change.
    for ((net, mac), via) in &o.l2fib {
        if want.l2fib.get(&(net.clone(), *mac)) != Some(via) {
            p.push(Action::DelL2fib {
                net: net.clone(),
                mac: *mac,
                via: via.clone(),
            });
        }
    }
    for ((net, ip), mac) in &o.arp {
        if want.arp.get(&(net.clone(), *ip)) != Some(mac) {
            p.push(Action::DelArp {
                net: net.clone(),
                ip: *ip,
                mac: *mac,
            });
        }
    }
    for ((net, ip), mac) in &o.neigh {
        if want.neigh.get(&(net.clone(), *ip)) != Some(mac) {
            p.push(Action::DelNeigh {
                net: net.clone(),
                ip: *ip,
                mac: *mac,
            });
        }
    }
    // Interfaces that go or must be created again.
    let mut recreate = BTreeSet::new();
    for (k, s) in &o.ifaces {
        let gone = match want.ifaces.get(k) {
            None => true,
            Some(d) if !create_matches(&d.create, &s.create) => {
                recreate.insert(k.clone());
                true
            }
            Some(_) => false,
        };
        if gone {
            if s.policer.is_some() {
                p.push(Action::PolicerDel { key: k.clone() });
            }
            p.push(Action::DelIface {
                key: k.clone(),
                create: s.create.clone(),
            });
        }
    }
    for s in &obs.stale {
        if matches!(s, Stale::Iface { .. } | Stale::Policer(_)) {
            p.push(Action::DelStale(s.clone()));
        }
    }
    for ((v6, id), name) in &want.tables {
        if !o.tables.contains_key(&(*v6, *id)) {
            p.push(Action::AddTable {
                v6: *v6,
                id: *id,
                name: name.clone(),
            });
        }
    }
    for (net, b) in &want.bds {
        match o.bds.get(net) {
            None => p.push(Action::AddBd {
                net: net.clone(),
                arp_term: b.arp_term,
            }),
            Some(ob) if ob.arp_term != b.arp_term => p.push(Action::SetArpTerm {
                net: net.clone(),
                on: b.arp_term,
            }),
            Some(_) => {}
        }
    }
    for (k, rules) in &want.acls {
        if o.acls.get(k) != Some(rules) {
            p.push(Action::PutAcl {
                key: *k,
                rules: rules.clone(),
            });
        }
    }
    for (k, d) in &want.ifaces {
        let fresh;
        let cur: &IfSpec = match o.ifaces.get(k).filter(|_| !recreate.contains(k)) {
            Some(s) => s,
            None => {
                p.push(Action::Create {
                    key: k.clone(),
                    create: d.create.clone(),
                });
                if !matches!(d.create, Create::Tap(_)) {
                    p.push(Action::Tag { key: k.clone() });
                }
                fresh = IfSpec::bare(d.create.clone());
                &fresh
            }
        };
        diff_iface(k, d, cur, &mut p);
    }
    for ((net, mac), via) in &want.l2fib {
        if o.l2fib.get(&(net.clone(), *mac)) != Some(via) || recreate.contains(via) {
            p.push(Action::AddL2fib {
                net: net.clone(),
                mac: *mac,
                via: via.clone(),
            });
        }
    }
    for ((net, ip), mac) in &want.arp {
        if o.arp.get(&(net.clone(), *ip)) != Some(mac) {
            p.push(Action::AddArp {
                net: net.clone(),
                ip: *ip,
                mac: *mac,
            });
        }
    }
    for ((net, ip), mac) in &want.neigh {
        let bvi_new = recreate.contains(&IfKey::Bvi(net.clone()));
        if o.neigh.get(&(net.clone(), *ip)) != Some(mac) || bvi_new {
            p.push(Action::AddNeigh {
                net: net.clone(),
                ip: *ip,
                mac: *mac,
            });
        }
    }
    for (k, t) in &want.services {
        if o.services.get(k) != Some(t) {
            p.push(Action::PutService {
                key: *k,
                t: t.clone(),
            });
        }
    }
    for k in o.services.keys() {
        if !want.services.contains_key(k) {
            p.push(Action::DelService { key: *k });
        }
    }
    for k in o.acls.keys() {
        if !want.acls.contains_key(k) {
            p.push(Action::DelAcl { key: *k });
        }
    }
    for net in o.bds.keys() {
        if !want.bds.contains_key(net) {
            p.push(Action::DelBd { net: net.clone() });
        }
    }
    for (v6, id) in o.tables.keys() {
        if !want.tables.contains_key(&(*v6, *id)) {
            p.push(Action::DelTable { v6: *v6, id: *id });
        }
    }
    for s in &obs.stale {
        if matches!(s, Stale::Acl(_) | Stale::Bd(_) | Stale::Table(..)) {
            p.push(Action::DelStale(s.clone()));
        }
    }
    p
}

fn diff_iface(k: &IfKey, d: &IfSpec, cur: &IfSpec, p: &mut Vec<Action>) {
    let mut have = cur.addrs.clone();
    if let Some(t) = d.table
        && cur.table != Some(t)
    {
        // VPP refuses to move an addressed interface to another table.
        for a in &have {
            p.push(Action::Addr {
                key: k.clone(),
                net: *a,
                add: false,
            });
        }
        have.clear();
        for v6 in [false, true] {
            p.push(Action::SetTable {
                key: k.clone(),
                v6,
                id: t,
            });
        }
    }
    for a in have.difference(&d.addrs) {
        p.push(Action::Addr {
            key: k.clone(),
            net: *a,
            add: false,
        });
    }
    for a in d.addrs.difference(&have) {
        p.push(Action::Addr {
            key: k.clone(),
            net: *a,
            add: true,
        });
    }
    if d.bridge != cur.bridge {
        match &d.bridge {
            Some((net, bvi, shg)) => p.push(Action::Bridge {
                key: k.clone(),
                net: net.clone(),
                bvi: *bvi,
                shg: *shg,
            }),
            None => p.push(Action::Unbridge { key: k.clone() }),
        }
    }
    if d.pop1 && !cur.pop1 {
        p.push(Action::Pop1 { key: k.clone() });
    }
    if (d.acl_in.as_slice(), d.acl_out.as_slice())
        != (cur.acl_in.as_slice(), cur.acl_out.as_slice())
    {
        p.push(Action::AclList {
            key: k.clone(),
            acl_in: d.acl_in.clone(),
            acl_out: d.acl_out.clone(),
        });
    }
    if d.policer != cur.policer {
        if cur.policer.is_some() {
            p.push(Action::PolicerDel { key: k.clone() });
        }
        if let Some(spec) = d.policer {
            p.push(Action::PolicerAdd {
                key: k.clone(),
                spec,
            });
            p.push(Action::PolicerBind { key: k.clone() });
        }
    }
    if d.up && !cur.up {
        p.push(Action::Up { key: k.clone() });
    }
}

/// VPP ids the calls refer to.
pub trait Ids {
    /// An interface's index.
    fn sw_if_index(&self, k: &IfKey) -> Option<u32>;
    /// A network's bridge-domain id.
    fn bd_id(&self, net: &str) -> Option<u32>;
    /// An ACL's index.
    fn acl_index(&self, k: &AclKey) -> Option<u32>;
    /// A service's cnat id.
    fn cnat_id(&self, k: &CnatKey) -> Option<u32>;
    /// The uplink's index.
    fn uplink(&self) -> Option<u32>;
}

impl Ids for Observed {
    fn sw_if_index(&self, k: &IfKey) -> Option<u32> {
        self.ifs.get(k).copied()
    }
    fn bd_id(&self, net: &str) -> Option<u32> {
        self.bds.get(net).copied()
    }
    fn acl_index(&self, k: &AclKey) -> Option<u32> {
        self.acls.get(k).copied()
    }
    fn cnat_id(&self, k: &CnatKey) -> Option<u32> {
        self.cnat.get(k).copied()
    }
    fn uplink(&self) -> Option<u32> {
        self.uplink
    }
}

macro_rules! calls {
    ($($v:ident($t:ty) => |$r:ident| $id:expr;)*) => {
        /// One typed request.
        #[derive(Clone, Debug, PartialEq)]
        #[allow(clippy::large_enum_variant)]
        pub enum Call { $(
            #[doc = concat!("`", stringify!($t), "`")]
            $v($t),
        )* }

        impl Call {
            /// Sends it; returns the id the reply carries (a created
            /// interface, bridge domain, ACL…), or 0.
            pub async fn send(&self, c: &Client) -> Result<u32, ClientError> {
                match self { $(
                    Call::$v(m) => {
                        #[allow(unused_variables)]
                        let $r = c.request(m).await?;
                        Ok($id)
                    }
                )* }
            }

            /// Appends its encoding (as sent on a connection whose ids are
            /// `msg_id`) to `out`.
            pub fn encode(&self, msg_id: u16, out: &mut Vec<u8>) -> wire::Result<()> {
                let hdr = MsgHeader { msg_id, client_index: 1, context: 1 };
                match self { $( Call::$v(m) => wire::encode(m, hdr, out), )* }
            }

            /// The message name.
            pub fn name(&self) -> &'static str {
                match self { $( Call::$v(_) => <$t as Message>::NAME, )* }
            }
        }

        /// Every request type the datapath sends, by name (for checks that
        /// the golden vectors cover them).
        pub const SENT_MESSAGES: &[&str] = &[$( <$t as Message>::NAME, )*];

        #[allow(dead_code)]
        fn _all_are_requests() {
            fn is_request<T: Request>() {}
            $( is_request::<$t>(); )*
        }
    };
}

calls! {
    L2fibAddDel(l2::L2fibAddDel) => |r| 0;
    BdIpMacAddDel(l2::BdIpMacAddDel) => |r| 0;
    IpNeighborAddDel(ip_neighbor::IpNeighborAddDel) => |r| 0;
    TapDelete(tapv2::TapDeleteV2) => |r| 0;
    BviDelete(l2::BviDelete) => |r| 0;
    Vxlan(vxlan::VxlanAddDelTunnelV3) => |r| r.sw_if_index;
    DeleteSubif(interface::DeleteSubif) => |r| 0;
    AfPacketDelete(af_packet::AfPacketDelete) => |r| 0;
    IpTableAddDel(ip::IpTableAddDel) => |r| 0;
    BridgeDomain(l2::BridgeDomainAddDelV2) => |r| r.bd_id;
    BridgeFlags(l2::BridgeFlags) => |r| 0;
    AclAddReplace(acl::AclAddReplace) => |r| r.acl_index;
    AclDel(acl::AclDel) => |r| 0;
    BviCreate(l2::BviCreate) => |r| r.sw_if_index;
    TapCreate(tapv2::TapCreateV3) => |r| r.sw_if_index;
    AfPacketCreate(af_packet::AfPacketCreateV3) => |r| r.sw_if_index;
    CreateVlanSubif(interface::CreateVlanSubif) => |r| r.sw_if_index;
    Tag(interface::SwInterfaceTagAddDel) => |r| 0;
    SetTable(interface::SwInterfaceSetTable) => |r| 0;
    Address(interface::SwInterfaceAddDelAddress) => |r| 0;
    L2Bridge(l2::SwInterfaceSetL2Bridge) => |r| 0;
    VlanTagRewrite(l2::L2InterfaceVlanTagRewrite) => |r| 0;
    SetFlags(interface::SwInterfaceSetFlags) => |r| 0;
    AclList(acl::AclInterfaceSetAclList) => |r| 0;
    PolicerAddDel(policer::PolicerAddDel) => |r| r.policer_index;
    PolicerInput(policer::PolicerInput) => |r| 0;
    CnatUpdate(cnat::CnatTranslationUpdate) => |r| r.id;
    CnatDel(cnat::CnatTranslationDel) => |r| 0;
}

fn missing(what: &str, k: &dyn std::fmt::Debug) -> String {
    format!("internal: {what} {k:?} is not known in VPP")
}

/// The `l2_interface_vlan_tag_rewrite` operation "pop one tag".
const L2_VTR_POP_1: u32 = 3;
/// VXLAN decap to l2-input.
const VXLAN_INPUT_NEXT_L2_INPUT: u32 = 1;

fn delete_call(create: &Create, idx: u32) -> Call {
    match create {
        Create::Tap(_) => Call::TapDelete(tapv2::TapDeleteV2 { sw_if_index: idx }),
        Create::Bvi { .. } => Call::BviDelete(l2::BviDelete { sw_if_index: idx }),
        Create::Vlan { .. } => Call::DeleteSubif(interface::DeleteSubif { sw_if_index: idx }),
        Create::AfPacket { host_if_name } => Call::AfPacketDelete(af_packet::AfPacketDelete {
            host_if_name: host_if_name.clone(),
        }),
        Create::Vxlan {
            src,
            dst,
            vni,
            port,
        } => Call::Vxlan(vxlan_msg(false, *src, *dst, *vni, *port)),
    }
}

fn vxlan_msg(
    is_add: bool,
    src: IpAddr,
    dst: IpAddr,
    vni: u32,
    port: u16,
) -> vxlan::VxlanAddDelTunnelV3 {
    vxlan::VxlanAddDelTunnelV3 {
        is_add,
        instance: u32::MAX,
        src_address: Address::from_ip(src),
        dst_address: Address::from_ip(dst),
        src_port: port,
        dst_port: port,
        mcast_sw_if_index: u32::MAX,
        encap_vrf_id: 0,
        decap_next_index: VXLAN_INPUT_NEXT_L2_INPUT,
        vni,
        is_l3: false,
    }
}

fn policer_msg(is_add: bool, name: String, s: PolicerSpec) -> policer::PolicerAddDel {
    let conform = if s.dscp == 0 {
        Sse2QosAction {
            r#type: Sse2QosActionType::SSE2_QOS_ACTION_API_TRANSMIT,
            dscp: 0,
        }
    } else {
        Sse2QosAction {
            r#type: Sse2QosActionType::SSE2_QOS_ACTION_API_MARK_AND_TRANSMIT,
            dscp: s.dscp,
        }
    };
    let drop = Sse2QosAction {
        r#type: Sse2QosActionType::SSE2_QOS_ACTION_API_DROP,
        dscp: 0,
    };
    policer::PolicerAddDel {
        is_add,
        name,
        cir: s.cir_kbps,
        eir: 0,
        cb: s.cb_bytes,
        eb: 0,
        rate_type: Sse2QosRateType::SSE2_QOS_RATE_API_KBPS,
        round_type: Sse2QosRoundType::SSE2_QOS_ROUND_API_TO_CLOSEST,
        r#type: Sse2QosPolicerType::SSE2_QOS_POLICER_TYPE_API_1R2C,
        color_aware: false,
        conform_action: conform,
        exceed_action: drop,
        violate_action: drop,
    }
}

fn flags(up: bool) -> IfStatusFlags {
    if up {
        IfStatusFlags::IF_STATUS_API_FLAG_ADMIN_UP
    } else {
        IfStatusFlags(0)
    }
}

/// The request an action is, with ids resolved through `ids`.
pub fn build(a: &Action, ids: &dyn Ids) -> Result<Call, String> {
    let ifx = |k: &IfKey| ids.sw_if_index(k).ok_or_else(|| missing("interface", k));
    let bd = |n: &str| {
        ids.bd_id(n)
            .ok_or_else(|| missing("bridge domain of network", &n))
    };
    let bvi = |n: &str| ifx(&IfKey::Bvi(n.to_owned()));
    let neigh = |is_add: bool, net: &str, ip: &IpAddr, mac: &[u8; 6]| -> Result<Call, String> {
        Ok(Call::IpNeighborAddDel(ip_neighbor::IpNeighborAddDel {
            is_add,
            neighbor: IpNeighbor {
                sw_if_index: bvi(net)?,
                flags: IpNeighborFlags::IP_API_NEIGHBOR_FLAG_STATIC,
                mac_address: *mac,
                ip_address: Address::from_ip(*ip),
            },
        }))
    };
    let arp = |is_add: bool, net: &str, ip: &IpAddr, mac: &[u8; 6]| -> Result<Call, String> {
        Ok(Call::BdIpMacAddDel(l2::BdIpMacAddDel {
            is_add,
            entry: BdIpMac {
                bd_id: bd(net)?,
                ip: Address::from_ip(*ip),
                mac: *mac,
            },
        }))
    };
    let l2fib = |is_add: bool, net: &str, mac: &[u8; 6], via: &IfKey| -> Result<Call, String> {
        Ok(Call::L2fibAddDel(l2::L2fibAddDel {
            mac: *mac,
            bd_id: bd(net)?,
            sw_if_index: ifx(via)?,
            is_add,
            static_mac: true,
            filter_mac: false,
            bvi_mac: false,
        }))
    };
    let table = |is_add: bool, v6: bool, id: u32, name: String| {
        Call::IpTableAddDel(ip::IpTableAddDel {
            is_add,
            table: IpTable {
                table_id: id,
                is_ip6: v6,
                name,
            },
        })
    };
    let acl_list = |l: &[AclKey]| -> Result<Vec<u32>, String> {
        l.iter()
            .map(|k| ids.acl_index(k).ok_or_else(|| missing("ACL", k)))
            .collect()
    };
    let pol_name = |k: &IfKey| policer_of(k).ok_or_else(|| missing("policer of", k));
    Ok(match a {
        Action::DelL2fib { net, mac, via } => l2fib(false, net, mac, via)?,
        Action::AddL2fib { net, mac, via } => l2fib(true, net, mac, via)?,
        Action::DelArp { net, ip, mac } => arp(false, net, ip, mac)?,
        Action::AddArp { net, ip, mac } => arp(true, net, ip, mac)?,
        Action::DelNeigh { net, ip, mac } => neigh(false, net, ip, mac)?,
        Action::AddNeigh { net, ip, mac } => neigh(true, net, ip, mac)?,
        Action::DelIface { key, create } => delete_call(create, ifx(key)?),
        Action::DelStale(s) => match s {
            Stale::Iface {
                sw_if_index,
                create,
            } => delete_call(create, *sw_if_index),
            Stale::Bd(id) => Call::BridgeDomain(l2::BridgeDomainAddDelV2 {
                bd_id: *id,
                is_add: false,
                ..Default::default()
            }),
            Stale::Acl(i) => Call::AclDel(acl::AclDel { acl_index: *i }),
            Stale::Table(v6, id) => table(false, *v6, *id, String::new()),
            Stale::Policer(n) => Call::PolicerAddDel(policer_msg(
                false,
                n.clone(),
                PolicerSpec {
                    cir_kbps: 0,
                    cb_bytes: 0,
                    dscp: 0,
                },
            )),
        },
        Action::AddTable { v6, id, name } => table(true, *v6, *id, name.clone()),
        Action::DelTable { v6, id } => table(false, *v6, *id, String::new()),
        Action::AddBd { net, arp_term } => Call::BridgeDomain(l2::BridgeDomainAddDelV2 {
            bd_id: u32::MAX,
            flood: true,
            uu_flood: true,
            forward: true,
            learn: true,
            arp_term: *arp_term,
            arp_ufwd: false,
            mac_age: 0,
            bd_tag: names::bd_tag(net),
            is_add: true,
        }),
        Action::SetArpTerm { net, on } => Call::BridgeFlags(l2::BridgeFlags {
            bd_id: bd(net)?,
            is_set: *on,
            flags: BdFlags::BRIDGE_API_FLAG_ARP_TERM,
        }),
        Action::DelBd { net } => Call::BridgeDomain(l2::BridgeDomainAddDelV2 {
            bd_id: bd(net)?,
            is_add: false,
            ..Default::default()
        }),
        Action::PutAcl { key, rules } => Call::AclAddReplace(acl::AclAddReplace {
            acl_index: ids.acl_index(key).unwrap_or(u32::MAX),
            tag: key.tag(),
            r: rules.clone(),
        }),
        Action::DelAcl { key } => Call::AclDel(acl::AclDel {
            acl_index: ids.acl_index(key).ok_or_else(|| missing("ACL", key))?,
        }),
        Action::Create { key, create } => match create {
            Create::Bvi { mac } => Call::BviCreate(l2::BviCreate {
                mac: *mac,
                user_instance: u32::MAX,
            }),
            Create::Tap(t) => Call::TapCreate(tapv2::TapCreateV3 {
                id: u32::MAX,
                use_random_mac: true,
                host_mtu_set: t.mtu != 0,
                host_mtu_size: t.mtu,
                host_mac_addr_set: true,
                host_mac_addr: t.host_mac,
                host_ip4_prefix_set: t.ip4.is_some(),
                host_ip4_prefix: t.ip4.map(Ip4Prefix::from_net).unwrap_or_default(),
                host_ip6_prefix_set: t.ip6.is_some(),
                host_ip6_prefix: t.ip6.map(Ip6Prefix::from_net).unwrap_or_default(),
                host_ip4_gw_set: t.gw4.is_some(),
                host_ip4_gw: t.gw4.map(|g| g.octets()).unwrap_or_default(),
                host_ip6_gw_set: t.gw6.is_some(),
                host_ip6_gw: t.gw6.map(|g| g.octets()).unwrap_or_default(),
                tap_flags: TapFlags(0),
                host_namespace_set: t.host_ns.is_some(),
                host_namespace: t.host_ns.clone().unwrap_or_default(),
                host_if_name_set: true,
                host_if_name: t.host_if_name.clone(),
                tag: key.tag(),
                ..Default::default()
            }),
            Create::AfPacket { host_if_name } => {
                Call::AfPacketCreate(af_packet::AfPacketCreateV3 {
                    use_random_hw_addr: true,
                    host_if_name: host_if_name.clone(),
                    ..Default::default()
                })
            }
            Create::Vxlan {
                src,
                dst,
                vni,
                port,
            } => Call::Vxlan(vxlan_msg(true, *src, *dst, *vni, *port)),
            Create::Vlan { vlan } => Call::CreateVlanSubif(interface::CreateVlanSubif {
                sw_if_index: ids
                    .uplink()
                    .ok_or("the VLAN uplink is not present in VPP (--vpp-uplink)")?,
                vlan_id: u32::from(*vlan),
            }),
        },
        Action::Tag { key } => Call::Tag(interface::SwInterfaceTagAddDel {
            is_add: true,
            sw_if_index: ifx(key)?,
            tag: key.tag(),
        }),
        Action::SetTable { key, v6, id } => Call::SetTable(interface::SwInterfaceSetTable {
            sw_if_index: ifx(key)?,
            is_ipv6: *v6,
            vrf_id: *id,
        }),
        Action::Addr { key, net, add } => Call::Address(interface::SwInterfaceAddDelAddress {
            sw_if_index: ifx(key)?,
            is_add: *add,
            del_all: false,
            prefix: Prefix::from_net(*net),
        }),
        Action::Bridge { key, net, bvi, shg } => Call::L2Bridge(l2::SwInterfaceSetL2Bridge {
            rx_sw_if_index: ifx(key)?,
            bd_id: bd(net)?,
            port_type: if *bvi {
                L2PortType::L2_API_PORT_TYPE_BVI
            } else {
                L2PortType::L2_API_PORT_TYPE_NORMAL
            },
            shg: *shg,
            enable: true,
        }),
        Action::Unbridge { key } => Call::L2Bridge(l2::SwInterfaceSetL2Bridge {
            rx_sw_if_index: ifx(key)?,
            bd_id: 0,
            port_type: L2PortType::L2_API_PORT_TYPE_NORMAL,
            shg: 0,
            enable: false,
        }),
        Action::Pop1 { key } => Call::VlanTagRewrite(l2::L2InterfaceVlanTagRewrite {
            sw_if_index: ifx(key)?,
            vtr_op: L2_VTR_POP_1,
            push_dot1q: 0,
            tag1: 0,
            tag2: 0,
        }),
        Action::Up { key } => Call::SetFlags(interface::SwInterfaceSetFlags {
            sw_if_index: ifx(key)?,
            flags: flags(true),
        }),
        Action::AclList {
            key,
            acl_in,
            acl_out,
        } => {
            let mut acls = acl_list(acl_in)?;
            acls.extend(acl_list(acl_out)?);
            Call::AclList(acl::AclInterfaceSetAclList {
                sw_if_index: ifx(key)?,
                n_input: u8::try_from(acl_in.len()).map_err(|_| "too many input ACLs")?,
                acls,
            })
        }
        Action::PolicerAdd { key, spec } => {
            Call::PolicerAddDel(policer_msg(true, pol_name(key)?, *spec))
        }
        Action::PolicerDel { key } => Call::PolicerAddDel(policer_msg(
            false,
            pol_name(key)?,
            PolicerSpec {
                cir_kbps: 0,
                cb_bytes: 0,
                dscp: 0,
            },
        )),
        Action::PolicerBind { key } => Call::PolicerInput(policer::PolicerInput {
            name: pol_name(key)?,
            sw_if_index: ifx(key)?,
            apply: true,
        }),
        Action::PutService { key, t } => Call::CnatUpdate(cnat::CnatTranslationUpdate {
            translation: CnatTranslation {
                vip: endpoint(key.0, key.1),
                // VPP finds the translation by VIP, port and protocol and
                // ignores this; sent as VPP last reported it.
                id: ids.cnat_id(key).unwrap_or(u32::MAX),
                ip_proto: IpProto(key.2),
                is_real_ip: 0,
                flags: 0,
                lb_type: CnatLbType::CNAT_LB_TYPE_DEFAULT,
                flow_hash_config: IpFlowHashConfigV2(0),
                paths: t
                    .paths
                    .iter()
                    .map(|p| CnatEndpointTuple {
                        dst_ep: endpoint(p.backend.0, p.backend.1),
                        src_ep: match p.snat {
                            // Port 0: cnat keeps the client's port.
                            Some(a) => endpoint(a, 0),
                            None => CnatEndpoint {
                                sw_if_index: u32::MAX,
                                ..Default::default()
                            },
                        },
                        flags: 0,
                    })
                    .collect(),
            },
        }),
        Action::DelService { key } => Call::CnatDel(cnat::CnatTranslationDel {
            id: ids
                .cnat_id(key)
                .ok_or_else(|| missing("cnat translation", key))?,
        }),
    })
}

fn endpoint(ip: IpAddr, port: u16) -> CnatEndpoint {
    CnatEndpoint {
        addr: Address::from_ip(ip),
        sw_if_index: u32::MAX,
        if_af: Default::default(),
        port,
    }
}

impl Observed {
    /// Records the effect of a completed action (`id`: what the reply
    /// carried) so later calls and diffs see VPP as it now is.
    pub fn record(&mut self, a: &Action, id: u32) {
        let m = &mut self.model;
        match a {
            Action::DelL2fib { net, mac, .. } => {
                m.l2fib.remove(&(net.clone(), *mac));
            }
            Action::DelArp { net, ip, .. } => {
                m.arp.remove(&(net.clone(), *ip));
            }
            Action::DelNeigh { net, ip, .. } => {
                m.neigh.remove(&(net.clone(), *ip));
            }
            Action::DelIface { key, .. } => {
                m.ifaces.remove(key);
                self.ifs.remove(key);
                m.l2fib.retain(|_, v| v != key);
                if let IfKey::Bvi(net) = key {
                    m.neigh.retain(|(n, _), _| n != net);
                }
            }
            Action::DelStale(s) => self.stale.retain(|x| x != s),
            Action::AddTable { v6, id, name } => {
                m.tables.insert((*v6, *id), name.clone());
            }
            Action::DelTable { v6, id } => {
                m.tables.remove(&(*v6, *id));
            }
            Action::AddBd { net, arp_term } => {
                m.bds.insert(
                    net.clone(),
                    super::model::BdSpec {
                        arp_term: *arp_term,
                    },
                );
                self.bds.insert(net.clone(), id);
            }
            Action::SetArpTerm { net, on } => {
                if let Some(b) = m.bds.get_mut(net) {
                    b.arp_term = *on;
                }
            }
            Action::DelBd { net } => {
                m.bds.remove(net);
                self.bds.remove(net);
                m.l2fib.retain(|(n, _), _| n != net);
                m.arp.retain(|(n, _), _| n != net);
            }
            Action::PutAcl { key, rules } => {
                m.acls.insert(*key, rules.clone());
                self.acls.insert(*key, id);
            }
            Action::DelAcl { key } => {
                m.acls.remove(key);
                self.acls.remove(key);
            }
            Action::Create { key, create } => {
                // A recreated interface starts from scratch.
                m.l2fib.retain(|_, v| v != key);
                m.ifaces.insert(key.clone(), IfSpec::bare(create.clone()));
                self.ifs.insert(key.clone(), id);
            }
            Action::Tag { .. } | Action::PolicerBind { .. } => {}
            Action::SetTable { key, id: t, .. } => {
                if let Some(s) = m.ifaces.get_mut(key) {
                    s.table = Some(*t);
                }
            }
            Action::Addr { key, net, add } => {
                if let Some(s) = m.ifaces.get_mut(key) {
                    if *add {
                        s.addrs.insert(*net);
                    } else {
                        s.addrs.remove(net);
                    }
                }
            }
            Action::Bridge { key, net, bvi, shg } => {
                if let Some(s) = m.ifaces.get_mut(key) {
                    s.bridge = Some((net.clone(), *bvi, *shg));
                }
            }
            Action::Unbridge { key } => {
                if let Some(s) = m.ifaces.get_mut(key) {
                    s.bridge = None;
                }
            }
            Action::Pop1 { key } => {
                if let Some(s) = m.ifaces.get_mut(key) {
                    s.pop1 = true;
                }
            }
            Action::Up { key } => {
                if let Some(s) = m.ifaces.get_mut(key) {
                    s.up = true;
                }
            }
            Action::AclList {
                key,
                acl_in,
                acl_out,
            } => {
                if let Some(s) = m.ifaces.get_mut(key) {
                    s.acl_in = acl_in.clone();
                    s.acl_out = acl_out.clone();
                }
            }
            Action::PolicerAdd { key, spec } => {
                if let Some(s) = m.ifaces.get_mut(key) {
                    s.policer = Some(*spec);
                }
            }
            Action::PolicerDel { key } => {
                if let Some(s) = m.ifaces.get_mut(key) {
                    s.policer = None;
                }
            }
            Action::AddL2fib { net, mac, via } => {
                m.l2fib.insert((net.clone(), *mac), via.clone());
            }
            Action::AddArp { net, ip, mac } => {
                m.arp.insert((net.clone(), *ip), *mac);
            }
            Action::AddNeigh { net, ip, mac } => {
                m.neigh.insert((net.clone(), *ip), *mac);
            }
            Action::PutService { key, t } => {
                m.services.insert(*key, t.clone());
                self.cnat.insert(*key, id);
            }
            Action::DelService { key } => {
                m.services.remove(key);
                self.cnat.remove(key);
            }
        }
    }
}

/// Encodes a whole plan as the calls it is, with ids VPP would assign
/// simulated (for benches and sizing): returns the bytes and the calls.
pub fn encode_plan(actions: &[Action], uplink: Option<u32>) -> Result<(Vec<u8>, usize), String> {
    let mut sim = Observed {
        uplink,
        ..Observed::default()
    };
    let mut out = Vec::new();
    let mut next = 1000u32;
    for a in actions {
        let call = build(a, &sim)?;
        call.encode(1, &mut out).map_err(|e| e.to_string())?;
        next += 1;
        sim.record(a, next);
    }
    Ok((out, actions.len()))
}
