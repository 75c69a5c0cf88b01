//! Reading VPP back: the dumps a resync makes, turned into the [`Model`]
//! shape (by tag) plus the VPP ids of every object and what is stale.

use super::model::{
    BdSpec, CnatKey, CnatPath, Create, IfSpec, Model, PolicerSpec, TapSpec, Translation,
};
use super::names::{self, AclKey, IfKey, TAG_PREFIX};
use crate::api::types::{AddressFamily, Sse2QosActionType};
use crate::api::{acl, af_packet, cnat, interface, ip, ip_neighbor, l2, policer, tapv2, vxlan};
use crate::client::{Client, ClientError};
use std::collections::{BTreeMap, HashMap};

/// Something of ours in VPP that no desired key names.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Stale {
    /// An interface (with what deleting it needs).
    Iface {
        /// Its index.
        sw_if_index: u32,
        /// How it was created.
        create: Create,
    },
    /// A bridge domain.
    Bd(u32),
    /// An ACL.
    Acl(u32),
    /// A table.
    Table(bool, u32),
    /// A policer.
    Policer(String),
}

/// What VPP holds, as far as this datapath is concerned.
#[derive(Clone, Debug, Default)]
pub struct Observed {
    /// Our objects, in model form.
    pub model: Model,
    /// Interface ids.
    pub ifs: BTreeMap<IfKey, u32>,
    /// Bridge-domain ids.
    pub bds: BTreeMap<String, u32>,
    /// ACL indices.
    pub acls: BTreeMap<AclKey, u32>,
    /// cnat translation ids.
    pub cnat: BTreeMap<CnatKey, u32>,
    /// Objects to remove.
    pub stale: Vec<Stale>,
    /// The uplink's index, if configured and present.
    pub uplink: Option<u32>,
}

/// Tag → key maps of the desired model (tags may be hashes).
pub struct TagIndex {
    ifs: HashMap<String, IfKey>,
    bds: HashMap<String, String>,
}

impl TagIndex {
    /// Indexes the keys of `m`.
    pub fn new(m: &Model) -> TagIndex {
        TagIndex {
            ifs: m.ifaces.keys().map(|k| (k.tag(), k.clone())).collect(),
            bds: m
                .bds
                .keys()
                .map(|k| (names::bd_tag(k), k.clone()))
                .collect(),
        }
    }
}

fn is_ours(tag: &str) -> bool {
    tag.starts_with(TAG_PREFIX)
}

fn policer_name(ep: &str) -> String {
    names::tag("qos", ep)
}

/// The policer name of an endpoint's interface.
pub fn policer_of(key: &IfKey) -> Option<String> {
    match key {
        IfKey::Tap(e) | IfKey::Host(e) => Some(policer_name(e)),
        _ => None,
    }
}

/// Reads VPP's state. `desired` gives the tags to recognise.
pub async fn read(
    c: &Client,
    desired: &Model,
    uplink: Option<&str>,
) -> Result<Observed, ClientError> {
    let idx = TagIndex::new(desired);
    let mut o = Observed::default();
    let ifaces = c.dump(&interface::SwInterfaceDump::default()).await?;
    o.uplink = uplink.and_then(|u| {
        ifaces
            .iter()
            .find(|i| i.interface_name == u)
            .map(|i| i.sw_if_index)
    });
    let taps: HashMap<u32, tapv2::SwInterfaceTapV2Details> = c
        .dump(&tapv2::SwInterfaceTapV2Dump::default())
        .await?
        .into_iter()
        .map(|t| (t.sw_if_index, t))
        .collect();
    let afp: HashMap<u32, String> = c
        .dump(&af_packet::AfPacketDump::default())
        .await?
        .into_iter()
        .map(|a| (a.sw_if_index, a.host_if_name))
        .collect();
    let vx: HashMap<u32, vxlan::VxlanTunnelV2Details> = c
        .dump(&vxlan::VxlanTunnelV2Dump {
            sw_if_index: u32::MAX,
        })
        .await?
        .into_iter()
        .map(|t| (t.sw_if_index, t))
        .collect();
    let policers: HashMap<String, policer::PolicerDetails> = c
        .dump(&policer::PolicerDump::default())
        .await?
        .into_iter()
        .map(|p| (p.name.clone(), p))
        .collect();
    let mut by_index: HashMap<u32, IfKey> = HashMap::new();
    for i in &ifaces {
        if !is_ours(&i.tag) {
            continue;
        }
        let create = if let Some(t) = taps.get(&i.sw_if_index) {
            Create::Tap(TapSpec {
                host_if_name: t.host_if_name.clone(),
                host_ns: (!t.host_namespace.is_empty()).then(|| t.host_namespace.clone()),
                host_mac: t.host_mac_addr,
                ip4: t
                    .host_ip4_prefix
                    .net()
                    .filter(|n| n.prefix_len() > 0 || !n.addr().is_unspecified()),
                ip6: t
                    .host_ip6_prefix
                    .net()
                    .filter(|n| n.prefix_len() > 0 || !n.addr().is_unspecified()),
                gw4: None,
                gw6: None,
                mtu: t.host_mtu_size,
            })
        } else if let Some(h) = afp.get(&i.sw_if_index) {
            Create::AfPacket {
                host_if_name: h.clone(),
            }
        } else if let Some(t) = vx.get(&i.sw_if_index) {
            match (t.src_address.ip(), t.dst_address.ip()) {
                (Some(src), Some(dst)) => Create::Vxlan {
                    src,
                    dst,
                    vni: t.vni,
                    port: t.dst_port,
                },
                _ => continue,
            }
        } else if i.sub_number_of_tags > 0 || i.sup_sw_if_index != i.sw_if_index {
            Create::Vlan {
                vlan: i.sub_outer_vlan_id,
            }
        } else if i.interface_name.starts_with("bvi") || i.interface_dev_type == "Loopback" {
            Create::Bvi { mac: i.l2_address }
        } else {
            continue;
        };
        let key = idx.ifs.get(&i.tag).cloned();
        let Some(key) = key else {
            o.stale.push(Stale::Iface {
                sw_if_index: i.sw_if_index,
                create,
            });
            continue;
        };
        let mut spec = IfSpec::bare(create);
        spec.up = i.flags.0 & 1 != 0;
        spec.pop1 = i.vtr_op == 3;
        if let Some(p) = policer_of(&key).and_then(|n| policers.get(&n)) {
            spec.policer = Some(PolicerSpec {
                cir_kbps: p.cir,
                cb_bytes: p.cb,
                dscp: if p.conform_action.r#type
                    == Sse2QosActionType::SSE2_QOS_ACTION_API_MARK_AND_TRANSMIT
                {
                    p.conform_action.dscp
                } else {
                    0
                },
            });
        }
        if matches!(key, IfKey::Bvi(_)) {
            for v6 in [false, true] {
                let t = c
                    .request(&interface::SwInterfaceGetTable {
                        sw_if_index: i.sw_if_index,
                        is_ipv6: v6,
                    })
                    .await?;
                if !v6 {
                    spec.table = Some(t.vrf_id);
                } else if spec.table != Some(t.vrf_id) {
                    // Families in different tables: not ours to keep.
                    spec.table = None;
                }
                for a in c
                    .dump(&ip::IpAddressDump {
                        sw_if_index: i.sw_if_index,
                        is_ipv6: v6,
                    })
                    .await?
                {
                    if let Some(n) = a.prefix.net() {
                        spec.addrs.insert(n);
                    }
                }
            }
        }
        by_index.insert(i.sw_if_index, key.clone());
        o.ifs.insert(key.clone(), i.sw_if_index);
        o.model.ifaces.insert(key, spec);
    }
    // Policers of ours no interface names.
    for name in policers.keys().filter(|n| is_ours(n)) {
        let used = o
            .model
            .ifaces
            .keys()
            .any(|k| policer_of(k).as_deref() == Some(name.as_str()));
        if !used {
            o.stale.push(Stale::Policer(name.clone()));
        }
    }
    // Bridge domains and membership.
    let mut bd_net: HashMap<u32, String> = HashMap::new();
    for b in c
        .dump(&l2::BridgeDomainDump {
            bd_id: u32::MAX,
            sw_if_index: u32::MAX,
        })
        .await?
    {
        if !is_ours(&b.bd_tag) {
            continue;
        }
        let Some(net) = idx.bds.get(&b.bd_tag).cloned() else {
            o.stale.push(Stale::Bd(b.bd_id));
            continue;
        };
        for m in &b.sw_if_details {
            if let Some(k) = by_index.get(&m.sw_if_index)
                && let Some(s) = o.model.ifaces.get_mut(k)
            {
                s.bridge = Some((net.clone(), m.sw_if_index == b.bvi_sw_if_index, m.shg));
            }
        }
        o.model.bds.insert(
            net.clone(),
            BdSpec {
                arp_term: b.arp_term,
            },
        );
        o.bds.insert(net.clone(), b.bd_id);
        bd_net.insert(b.bd_id, net);
    }
    for e in c.dump(&l2::L2FibTableDump { bd_id: u32::MAX }).await? {
        if !e.static_mac || e.bvi_mac {
            continue;
        }
        if let (Some(net), Some(k)) = (bd_net.get(&e.bd_id), by_index.get(&e.sw_if_index)) {
            o.model.l2fib.insert((net.clone(), e.mac), k.clone());
        }
    }
    for e in c.dump(&l2::BdIpMacDump { bd_id: u32::MAX }).await? {
        if let (Some(net), Some(ip)) = (bd_net.get(&e.entry.bd_id), e.entry.ip.ip()) {
            o.model.arp.insert((net.clone(), ip), e.entry.mac);
        }
    }
    for af in [AddressFamily::ADDRESS_IP4, AddressFamily::ADDRESS_IP6] {
        for n in c
            .dump(&ip_neighbor::IpNeighborDump {
                sw_if_index: u32::MAX,
                af,
            })
            .await?
        {
            let nb = &n.neighbor;
            if nb.flags.0 & 1 == 0 {
                continue;
            }
            if let (Some(IfKey::Bvi(net)), Some(ip)) =
                (by_index.get(&nb.sw_if_index), nb.ip_address.ip())
            {
                o.model.neigh.insert((net.clone(), ip), nb.mac_address);
            }
        }
    }
    for t in c.dump(&ip::IpTableDump::default()).await? {
        let k = (t.table.is_ip6, t.table.table_id);
        if !is_ours(&t.table.name) {
            continue;
        }
        if desired.tables.contains_key(&k) {
            o.model.tables.insert(k, t.table.name);
        } else {
            o.stale.push(Stale::Table(k.0, k.1));
        }
    }
    let mut acl_by_index: HashMap<u32, AclKey> = HashMap::new();
    for a in c
        .dump(&acl::AclDump {
            acl_index: u32::MAX,
        })
        .await?
    {
        if !is_ours(&a.tag) {
            continue;
        }
        match AclKey::from_tag(&a.tag) {
            Some(k) if desired.acls.contains_key(&k) && !o.acls.contains_key(&k) => {
                acl_by_index.insert(a.acl_index, k);
                o.acls.insert(k, a.acl_index);
                o.model.acls.insert(k, a.r);
            }
            _ => o.stale.push(Stale::Acl(a.acl_index)),
        }
    }
    for l in c
        .dump(&acl::AclInterfaceListDump {
            sw_if_index: u32::MAX,
        })
        .await?
    {
        let Some(k) = by_index.get(&l.sw_if_index) else {
            continue;
        };
        let n = usize::from(l.n_input).min(l.acls.len());
        // An index we do not know (someone else's ACL) keeps the list
        // different from any desired one, so it is rewritten.
        let key = |i: &u32| {
            acl_by_index.get(i).copied().unwrap_or(AclKey {
                tenant: u32::MAX,
                epg: u32::MAX,
                dir: contiv_core::ir::Direction::In,
            })
        };
        if let Some(s) = o.model.ifaces.get_mut(k) {
            s.acl_in = l.acls[..n].iter().map(key).collect();
            s.acl_out = l.acls[n..].iter().map(key).collect();
        }
    }
    for t in c.dump(&cnat::CnatTranslationDump::default()).await? {
        let tr = &t.translation;
        let Some(vip) = tr.vip.addr.ip() else {
            continue;
        };
        let key = (vip, tr.vip.port, tr.ip_proto.0);
        let mut paths: Vec<CnatPath> = tr
            .paths
            .iter()
            .filter_map(|p| {
                Some(CnatPath {
                    backend: (p.dst_ep.addr.ip()?, p.dst_ep.port),
                    snat: p.src_ep.addr.ip().filter(|a| !a.is_unspecified()),
                })
            })
            .collect();
        paths.sort();
        o.cnat.insert(key, tr.id);
        o.model.services.insert(key, Translation { paths });
    }
    Ok(o)
}
