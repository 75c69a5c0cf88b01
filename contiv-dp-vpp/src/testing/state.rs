//! The VPP state the test server holds, changed the way VPP's handlers
//! change it (and refused with the return values they use).

use crate::api::types::{AclRule, CnatTranslation, IfStatusFlags, L2PortType, PolicerConfig};
use crate::errno;
use ipnet::IpNet;
use std::collections::{BTreeMap, BTreeSet};
use std::net::IpAddr;

/// What kind of interface, with its creation parameters.
#[derive(Clone, Debug, PartialEq)]
pub enum IfKind {
    /// `local0`.
    Local,
    /// A physical (pre-existing) interface, e.g. the uplink.
    Ethernet,
    /// A BVI loopback (`bvi_create`).
    Bvi {
        /// Its instance number.
        instance: u32,
    },
    /// A TAP v2 interface (`tap_create_v3`).
    Tap {
        /// Its id (`tap<id>`).
        id: u32,
        /// Host-side parameters as given.
        host: TapHost,
    },
    /// A VXLAN tunnel (`vxlan_add_del_tunnel_v3`).
    Vxlan(VxlanKey),
    /// A dot1q sub-interface (`create_vlan_subif`).
    VlanSubif {
        /// The parent.
        parent: u32,
        /// The VLAN id.
        vlan: u16,
    },
    /// An af_packet interface on a host interface.
    AfPacket {
        /// The host interface name.
        host_if_name: String,
    },
}

/// Host side of a TAP.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct TapHost {
    /// Host interface name.
    pub if_name: String,
    /// Host network namespace.
    pub namespace: String,
    /// Host MAC.
    pub mac: [u8; 6],
    /// Host IPv4 address/len.
    pub ip4: Option<IpNet>,
    /// Host IPv6 address/len.
    pub ip6: Option<IpNet>,
    /// Host IPv4 gateway.
    pub ip4_gw: Option<IpAddr>,
    /// Host IPv6 gateway.
    pub ip6_gw: Option<IpAddr>,
    /// Host MTU (0 = unset).
    pub mtu: u32,
}

/// A VXLAN tunnel's identity and parameters.
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct VxlanKey {
    /// Instance (`vxlan_tunnel<instance>`).
    pub instance: u32,
    /// Source address.
    pub src: IpAddr,
    /// Destination address.
    pub dst: IpAddr,
    /// UDP source port.
    pub src_port: u16,
    /// UDP destination port.
    pub dst_port: u16,
    /// VNI.
    pub vni: u32,
    /// Encap VRF.
    pub encap_vrf_id: u32,
    /// Decap next node.
    pub decap_next_index: u32,
}

/// An L2 port: bridge membership.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct L2Port {
    /// Bridge domain id.
    pub bd_id: u32,
    /// Port type.
    pub port_type: L2PortType,
    /// Split-horizon group.
    pub shg: u8,
}

/// One interface.
#[derive(Clone, Debug, PartialEq)]
pub struct Iface {
    /// Name (`tap3`, `bvi0`, `vxlan_tunnel2`, `eth0.100`…).
    pub name: String,
    /// Kind and creation parameters.
    pub kind: IfKind,
    /// Tag (empty = none).
    pub tag: String,
    /// Admin state.
    pub admin_up: bool,
    /// MAC (VPP side).
    pub mac: [u8; 6],
    /// IPv4 table.
    pub table4: u32,
    /// IPv6 table.
    pub table6: u32,
    /// Addresses.
    pub addrs: BTreeSet<IpNet>,
    /// Bridge membership.
    pub l2: Option<L2Port>,
    /// VLAN tag rewrite operation (`l2_interface_vlan_tag_rewrite`).
    pub vtr_op: u32,
    /// Input ACLs, in order.
    pub acl_in: Vec<u32>,
    /// Output ACLs, in order.
    pub acl_out: Vec<u32>,
    /// Input policer name.
    pub policer_in: Option<String>,
}

/// A bridge domain.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Bd {
    /// Flood.
    pub flood: bool,
    /// Unknown-unicast flood.
    pub uu_flood: bool,
    /// Forward.
    pub forward: bool,
    /// Learn.
    pub learn: bool,
    /// ARP termination.
    pub arp_term: bool,
    /// ARP unicast forward.
    pub arp_ufwd: bool,
    /// MAC age (minutes).
    pub mac_age: u8,
    /// Tag.
    pub tag: String,
}

/// An l2fib entry.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct L2fib {
    /// Output interface.
    pub sw_if_index: u32,
    /// Static.
    pub static_mac: bool,
    /// The BVI's own MAC.
    pub bvi_mac: bool,
}

/// An ACL.
#[derive(Clone, Debug, PartialEq)]
pub struct Acl {
    /// Tag.
    pub tag: String,
    /// Rules, in order.
    pub rules: Vec<AclRule>,
}

/// A policer.
#[derive(Clone, Debug, PartialEq)]
pub struct Policer {
    /// Its index.
    pub index: u32,
    /// Configuration.
    pub config: PolicerConfig,
}

/// An IP table.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Table {
    /// Name.
    pub name: String,
    /// Created through the API (holds the API's lock).
    pub api_locked: bool,
}

/// Everything the test server holds.
#[derive(Clone, Debug)]
pub struct VppState {
    /// Interfaces by sw_if_index.
    pub interfaces: BTreeMap<u32, Iface>,
    /// Bridge domains by id (bd 0 always exists).
    pub bds: BTreeMap<u32, Bd>,
    /// l2fib by (bd, mac).
    pub l2fib: BTreeMap<(u32, [u8; 6]), L2fib>,
    /// ARP-termination entries by (bd, ip).
    pub bd_ip_mac: BTreeMap<(u32, IpAddr), [u8; 6]>,
    /// IP tables by (is_ip6, id); table 0 of both families always exists.
    pub tables: BTreeMap<(bool, u32), Table>,
    /// Static neighbours by (sw_if_index, ip).
    pub neighbors: BTreeMap<(u32, IpAddr), ([u8; 6], u8)>,
    /// ACLs by index.
    pub acls: BTreeMap<u32, Acl>,
    /// cnat translations by id (VPP's pool index).
    pub cnat: BTreeMap<u32, CnatTranslation>,
    /// Freed cnat ids, reused last-freed first (VPP's pool free list).
    cnat_free: Vec<u32>,
    /// Policers by name.
    pub policers: BTreeMap<String, Policer>,
    /// The npol plugin's objects.
    pub npol: super::npol::NpolState,
    next_bd_seed: u32,
    next_cnat_id: u32,
    next_policer: u32,
}

/// Result of a handler: VPP's `retval`.
pub type Rv = i32;

fn ok_if(cond: bool, rv: Rv) -> Result<(), Rv> {
    if cond { Ok(()) } else { Err(rv) }
}

impl VppState {
    /// A fresh VPP: `local0` and the given physical interfaces, bridge
    /// domain 0, tables 0.
    pub fn new(physical: &[&str]) -> VppState {
        let mut s = VppState {
            interfaces: BTreeMap::new(),
            bds: BTreeMap::new(),
            l2fib: BTreeMap::new(),
            bd_ip_mac: BTreeMap::new(),
            tables: BTreeMap::new(),
            neighbors: BTreeMap::new(),
            acls: BTreeMap::new(),
            cnat: BTreeMap::new(),
            cnat_free: Vec::new(),
            policers: BTreeMap::new(),
            npol: super::npol::NpolState::default(),
            next_bd_seed: 0x5eed,
            next_cnat_id: 0,
            next_policer: 0,
        };
        s.add_iface("local0".into(), IfKind::Local, [0; 6]);
        for (i, p) in physical.iter().enumerate() {
            let mac = [0x02, 0xfe, 0, 0, 0, i as u8 + 1];
            s.add_iface((*p).to_owned(), IfKind::Ethernet, mac);
        }
        s.bds.insert(0, Bd::default());
        for v6 in [false, true] {
            let name = if v6 { "ipv6-VRF:0" } else { "ipv4-VRF:0" };
            s.tables.insert(
                (v6, 0),
                Table {
                    name: name.into(),
                    api_locked: true,
                },
            );
        }
        s
    }

    /// Adds an interface at the lowest free sw_if_index.
    pub fn add_iface(&mut self, name: String, kind: IfKind, mac: [u8; 6]) -> u32 {
        let idx = (0..)
            .find(|i| !self.interfaces.contains_key(i))
            .unwrap_or(u32::MAX);
        self.interfaces.insert(
            idx,
            Iface {
                name,
                kind,
                tag: String::new(),
                admin_up: false,
                mac,
                table4: 0,
                table6: 0,
                addrs: BTreeSet::new(),
                l2: None,
                vtr_op: 0,
                acl_in: Vec::new(),
                acl_out: Vec::new(),
                policer_in: None,
            },
        );
        idx
    }

    fn iface(&mut self, idx: u32) -> Result<&mut Iface, Rv> {
        self.interfaces
            .get_mut(&idx)
            .ok_or(errno::INVALID_SW_IF_INDEX)
    }

    /// Removes an interface and everything that refers to it (as VPP's
    /// interface-delete callbacks do).
    pub fn remove_iface(&mut self, idx: u32) {
        self.interfaces.remove(&idx);
        self.l2fib.retain(|_, e| e.sw_if_index != idx);
        self.neighbors.retain(|(i, _), _| *i != idx);
        self.npol.interfaces.remove(&idx);
        for (_, i) in self.interfaces.iter_mut() {
            if let IfKind::VlanSubif { parent, .. } = i.kind
                && parent == idx
            {
                i.l2 = None;
            }
        }
    }

    /// Admin state.
    pub fn set_flags(&mut self, idx: u32, flags: IfStatusFlags) -> Result<(), Rv> {
        self.iface(idx)?.admin_up = flags.0 & IfStatusFlags::IF_STATUS_API_FLAG_ADMIN_UP.0 != 0;
        Ok(())
    }

    /// `sw_interface_tag_add_del`.
    pub fn tag(&mut self, idx: u32, is_add: bool, tag: &str) -> Result<(), Rv> {
        let i = self.iface(idx)?;
        if is_add {
            ok_if(!tag.is_empty(), errno::INVALID_VALUE)?;
            i.tag = tag.to_owned();
        } else {
            i.tag.clear();
        }
        Ok(())
    }

    fn table_visible(&self, v6: bool, id: u32) -> bool {
        self.tables
            .get(&(v6, id))
            .is_some_and(|t| t.api_locked || self.table_bound(v6, id))
    }

    fn table_bound(&self, v6: bool, id: u32) -> bool {
        self.interfaces
            .values()
            .any(|i| if v6 { i.table6 == id } else { i.table4 == id })
    }

    /// `ip_table_add_del`.
    pub fn table_add_del(&mut self, is_add: bool, v6: bool, id: u32, name: &str) {
        if id == 0 {
            return;
        }
        if is_add {
            let name = if name.is_empty() {
                format!("{}-VRF:{id}", if v6 { "ipv6" } else { "ipv4" })
            } else {
                name.to_owned()
            };
            self.tables.insert(
                (v6, id),
                Table {
                    name,
                    api_locked: true,
                },
            );
        } else {
            if let Some(t) = self.tables.get_mut(&(v6, id)) {
                t.api_locked = false;
            }
            if !self.table_bound(v6, id) {
                self.tables.remove(&(v6, id));
            }
        }
    }

    /// Tables as `ip_table_dump` lists them.
    pub fn visible_tables(&self) -> Vec<(bool, u32, String)> {
        self.tables
            .iter()
            .filter(|((v6, id), _)| self.table_visible(*v6, *id))
            .map(|((v6, id), t)| (*v6, *id, t.name.clone()))
            .collect()
    }

    /// `sw_interface_set_table`.
    pub fn set_table(&mut self, idx: u32, v6: bool, id: u32) -> Result<(), Rv> {
        self.iface(idx)?;
        ok_if(self.table_visible(v6, id), errno::NO_SUCH_FIB)?;
        let i = self.iface(idx)?;
        ok_if(
            !i.addrs.iter().any(|a| a.addr().is_ipv6() == v6),
            errno::ADDRESS_FOUND_FOR_INTERFACE,
        )?;
        let old = if v6 { i.table6 } else { i.table4 };
        if v6 {
            i.table6 = id;
        } else {
            i.table4 = id;
        }
        // A table only the interface held disappears with the binding.
        if old != id
            && let Some(t) = self.tables.get(&(v6, old))
            && !t.api_locked
            && !self.table_bound(v6, old)
        {
            self.tables.remove(&(v6, old));
        }
        Ok(())
    }

    /// `sw_interface_add_del_address`.
    pub fn address(&mut self, idx: u32, is_add: bool, del_all: bool, p: IpNet) -> Result<(), Rv> {
        self.iface(idx)?;
        if del_all {
            self.iface(idx)?.addrs.clear();
            return Ok(());
        }
        if !is_add {
            let i = self.iface(idx)?;
            ok_if(i.addrs.remove(&p), errno::ADDRESS_NOT_FOUND_FOR_INTERFACE)?;
            return Ok(());
        }
        let v6 = p.addr().is_ipv6();
        let table = {
            let i = &self.interfaces[&idx];
            if v6 { i.table6 } else { i.table4 }
        };
        for (j, other) in &self.interfaces {
            let t = if v6 { other.table6 } else { other.table4 };
            if t != table {
                continue;
            }
            for a in other.addrs.iter().filter(|a| a.addr().is_ipv6() == v6) {
                if *a == p {
                    return Err(errno::DUPLICATE_IF_ADDRESS);
                }
                let overlap = a.contains(&p.addr()) || p.contains(&a.addr());
                let same_subnet_here = *j == idx && a.prefix_len() == p.prefix_len();
                if overlap && !same_subnet_here {
                    return Err(errno::ADDRESS_IN_USE);
                }
            }
        }
        self.iface(idx)?.addrs.insert(p);
        Ok(())
    }

    /// `bridge_domain_add_del(_v2)`; returns the id used.
    pub fn bd_add_del(&mut self, is_add: bool, bd_id: u32, bd: Bd) -> Result<u32, (Rv, u32)> {
        const L2_BD_ID_MAX: u32 = (1 << 24) - 1;
        let mut id = bd_id;
        if is_add && id == u32::MAX {
            // VPP picks a pseudo-random unused id; so do we, reproducibly.
            loop {
                self.next_bd_seed = self
                    .next_bd_seed
                    .wrapping_mul(1_103_515_245)
                    .wrapping_add(12345);
                let c = self.next_bd_seed & L2_BD_ID_MAX;
                if c != 0 && !self.bds.contains_key(&c) {
                    id = c;
                    break;
                }
            }
        }
        if is_add {
            if self.bds.contains_key(&id) {
                return Err((errno::BD_ALREADY_EXISTS, id));
            }
            if id > L2_BD_ID_MAX {
                return Err((errno::BD_ID_EXCEED_MAX, id));
            }
            self.bds.insert(id, bd);
        } else {
            if !self.bds.contains_key(&id) {
                return Err((errno::NO_SUCH_ENTRY, id));
            }
            if id == 0 {
                return Err((errno::BD_NOT_MODIFIABLE, id));
            }
            if self
                .interfaces
                .values()
                .any(|i| i.l2.is_some_and(|l| l.bd_id == id))
            {
                return Err((errno::BD_IN_USE, id));
            }
            self.bds.remove(&id);
            self.l2fib.retain(|(b, _), _| *b != id);
            self.bd_ip_mac.retain(|(b, _), _| *b != id);
        }
        Ok(id)
    }

    /// `sw_interface_set_l2_bridge`.
    pub fn set_l2_bridge(&mut self, idx: u32, enable: bool, port: L2Port) -> Result<(), Rv> {
        self.iface(idx)?;
        if !enable {
            let i = self.iface(idx)?;
            i.l2 = None;
            self.l2fib
                .retain(|_, e| e.sw_if_index != idx || e.static_mac);
            return Ok(());
        }
        ok_if(self.bds.contains_key(&port.bd_id), errno::NO_SUCH_ENTRY)?;
        ok_if(port.bd_id != 0, errno::BD_NOT_MODIFIABLE)?;
        if port.port_type == L2PortType::L2_API_PORT_TYPE_BVI {
            ok_if(
                matches!(self.interfaces[&idx].kind, IfKind::Bvi { .. }),
                errno::NON_ETHERNET,
            )?;
            let has_other_bvi = self.interfaces.iter().any(|(j, i)| {
                *j != idx
                    && i.l2.is_some_and(|l| {
                        l.bd_id == port.bd_id && l.port_type == L2PortType::L2_API_PORT_TYPE_BVI
                    })
            });
            ok_if(!has_other_bvi, errno::BD_ALREADY_HAS_BVI)?;
        }
        self.iface(idx)?.l2 = Some(port);
        Ok(())
    }

    /// `l2fib_add_del`.
    pub fn l2fib(
        &mut self,
        is_add: bool,
        bd: u32,
        mac: [u8; 6],
        idx: u32,
        e: L2fib,
    ) -> Result<(), Rv> {
        ok_if(self.bds.contains_key(&bd), errno::NO_SUCH_ENTRY)?;
        if is_add {
            let i = self
                .interfaces
                .get(&idx)
                .ok_or(errno::INVALID_SW_IF_INDEX)?;
            ok_if(i.l2.is_some(), errno::INVALID_SW_IF_INDEX)?;
            self.l2fib.insert(
                (bd, mac),
                L2fib {
                    sw_if_index: idx,
                    ..e
                },
            );
        } else {
            ok_if(
                self.l2fib.remove(&(bd, mac)).is_some(),
                errno::NO_SUCH_ENTRY,
            )?;
        }
        Ok(())
    }

    /// `bd_ip_mac_add_del`.
    pub fn bd_ip_mac(&mut self, is_add: bool, bd: u32, ip: IpAddr, mac: [u8; 6]) -> Result<(), Rv> {
        ok_if(self.bds.contains_key(&bd), errno::NO_SUCH_ENTRY)?;
        if is_add {
            self.bd_ip_mac.insert((bd, ip), mac);
        } else {
            ok_if(
                self.bd_ip_mac.remove(&(bd, ip)).is_some(),
                errno::NO_SUCH_ENTRY,
            )?;
        }
        Ok(())
    }

    /// `acl_add_replace`; returns the index.
    pub fn acl_add_replace(
        &mut self,
        index: u32,
        tag: &str,
        rules: Vec<AclRule>,
    ) -> Result<u32, Rv> {
        ok_if(tag.len() < 64, errno::INVALID_VALUE)?;
        for r in &rules {
            let (s, d) = (r.src_prefix.net(), r.dst_prefix.net());
            ok_if(s.is_some(), errno::INVALID_SRC_ADDRESS)?;
            ok_if(d.is_some(), errno::INVALID_DST_ADDRESS)?;
            ok_if(
                r.src_prefix.address.af == r.dst_prefix.address.af,
                errno::INVALID_SRC_ADDRESS,
            )?;
            ok_if(
                r.srcport_or_icmptype_first <= r.srcport_or_icmptype_last
                    && r.dstport_or_icmpcode_first <= r.dstport_or_icmpcode_last,
                errno::INVALID_VALUE_2,
            )?;
        }
        let idx = if index == u32::MAX {
            (0..)
                .find(|i| !self.acls.contains_key(i))
                .unwrap_or(u32::MAX)
        } else {
            ok_if(self.acls.contains_key(&index), errno::NO_SUCH_ENTRY)?;
            index
        };
        self.acls.insert(
            idx,
            Acl {
                tag: tag.to_owned(),
                rules,
            },
        );
        Ok(idx)
    }

    /// `acl_del`.
    pub fn acl_del(&mut self, index: u32) -> Result<(), Rv> {
        ok_if(self.acls.contains_key(&index), errno::NO_SUCH_ENTRY)?;
        ok_if(
            !self.interfaces.values().any(|i| i.acl_in.contains(&index)),
            errno::ACL_IN_USE_INBOUND,
        )?;
        ok_if(
            !self.interfaces.values().any(|i| i.acl_out.contains(&index)),
            errno::ACL_IN_USE_OUTBOUND,
        )?;
        self.acls.remove(&index);
        Ok(())
    }

    /// `acl_interface_set_acl_list`.
    pub fn set_acl_list(&mut self, idx: u32, n_input: usize, acls: &[u32]) -> Result<(), Rv> {
        self.iface(idx)?;
        ok_if(
            acls.iter().all(|a| self.acls.contains_key(a)),
            errno::NO_SUCH_ENTRY,
        )?;
        let n = n_input.min(acls.len());
        let i = self.iface(idx)?;
        i.acl_in = acls[..n].to_vec();
        i.acl_out = acls[n..].to_vec();
        Ok(())
    }

    /// `ip_neighbor_add_del`.
    pub fn neighbor(
        &mut self,
        is_add: bool,
        idx: u32,
        ip: IpAddr,
        mac: [u8; 6],
        flags: u8,
    ) -> Result<(), Rv> {
        self.iface(idx)?;
        if is_add {
            self.neighbors.insert((idx, ip), (mac, flags));
        } else {
            ok_if(
                self.neighbors.remove(&(idx, ip)).is_some(),
                errno::NO_SUCH_ENTRY,
            )?;
        }
        Ok(())
    }

    /// `cnat_translation_update`, as the cnat plugin's handler does it:
    /// a translation is found by its VIP address, port and protocol (in
    /// no table); an update replaces its paths, flags and load-balancing
    /// settings and keeps its id; the `id` the request carries is
    /// ignored; a new one takes a pool index (freed ones first, last
    /// freed first). The reply carries the id. Refused: a translation
    /// without paths (VPP's handler does not guard `n_paths == 0`; the
    /// server does, with `INVALID_VALUE`) and a VIP without an address.
    pub fn cnat_update(&mut self, mut t: CnatTranslation) -> Result<u32, Rv> {
        ok_if(!t.paths.is_empty(), errno::INVALID_VALUE)?;
        let vip = t.vip.addr.ip().ok_or(errno::INVALID_VALUE)?;
        let existing = self
            .cnat
            .iter()
            .find(|(_, o)| {
                o.vip.addr.ip() == Some(vip) && o.vip.port == t.vip.port && o.ip_proto == t.ip_proto
            })
            .map(|(id, _)| *id);
        let id = match existing {
            Some(id) => id,
            None => self.cnat_free.pop().unwrap_or_else(|| {
                let id = self.next_cnat_id;
                self.next_cnat_id += 1;
                id
            }),
        };
        t.id = id;
        self.cnat.insert(id, t);
        Ok(id)
    }

    /// `cnat_translation_del`: an unknown id is `NO_SUCH_ENTRY`; the id
    /// goes back to the pool.
    pub fn cnat_del(&mut self, id: u32) -> Result<(), Rv> {
        ok_if(self.cnat.remove(&id).is_some(), errno::NO_SUCH_ENTRY)?;
        self.cnat_free.push(id);
        Ok(())
    }

    /// `policer_add_del`.
    pub fn policer_add_del(
        &mut self,
        is_add: bool,
        name: &str,
        config: PolicerConfig,
    ) -> Result<u32, Rv> {
        if is_add {
            ok_if(!self.policers.contains_key(name), errno::VALUE_EXIST)?;
            ok_if(
                config.rate_type.0 < 2 && config.r#type.0 < 5,
                errno::INVALID_VALUE,
            )?;
            let index = self.next_policer;
            self.next_policer += 1;
            self.policers
                .insert(name.to_owned(), Policer { index, config });
            Ok(index)
        } else {
            let p = self.policers.remove(name).ok_or(errno::NO_SUCH_ENTRY)?;
            for i in self.interfaces.values_mut() {
                if i.policer_in.as_deref() == Some(name) {
                    i.policer_in = None;
                }
            }
            Ok(p.index)
        }
    }

    /// `policer_input`.
    pub fn policer_input(&mut self, name: &str, idx: u32, apply: bool) -> Result<(), Rv> {
        ok_if(self.policers.contains_key(name), errno::NO_SUCH_ENTRY)?;
        let i = self.iface(idx)?;
        i.policer_in = apply.then(|| name.to_owned());
        Ok(())
    }

    /// The sw_if_index of the interface named `name`.
    pub fn by_name(&self, name: &str) -> Option<u32> {
        self.interfaces
            .iter()
            .find(|(_, i)| i.name == name)
            .map(|(k, _)| *k)
    }

    /// The sw_if_index of the interface tagged `tag`.
    pub fn by_tag(&self, tag: &str) -> Option<u32> {
        self.interfaces
            .iter()
            .find(|(_, i)| i.tag == tag)
            .map(|(k, _)| *k)
    }
}
