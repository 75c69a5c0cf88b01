//! Services ([`ServiceSpec`]) in the maps of `bpf/service.h`: the layouts
//! (mirrored field by field, sizes checked below) and what a service puts
//! in the maps — one `services` entry per port (`{tenant, VIP, port,
//! proto}` → network, backends' port, backend slots) and one `svc_vips`
//! entry (the VIP answers ARP on its network). The per-connection NAT
//! entries (`svc_nat`) and the per-datagram fragment entries (`svc_frags`:
//! later IPv4 fragments get their first fragment's translation) are
//! written by the programs only.

use crate::abi::{CtKey, EpKey, IpKey};
use crate::compile::{Contrib, net_tag};
use contiv_core::datapath::{DpError, DpResult, HostState, ServiceSpec};
use std::net::IpAddr;

/// `struct config.flags`: some service exists (packets look services up).
pub const CFG_SERVICES: u32 = 2;
/// The most backends one service may have (the slots of an entry).
pub const SVC_MAX_BACKENDS: usize = 256;
/// `NatEntry::flags`: keyed by the client's tuple.
pub const NAT_FWD: u32 = 1;
/// `NatEntry::flags`: keyed by the backend's reply.
pub const NAT_REV: u32 = 2;
/// `NatEntry::flags`: the client picked itself (its source became the VIP).
pub const NAT_HAIRPIN: u32 = 4;

/// `struct svc_key`.
#[repr(C)]
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash)]
pub struct SvcKey {
    /// The tenant.
    pub tenant: u32,
    /// The VIP.
    pub vip: IpKey,
    /// The service port, network order in memory.
    pub port: u16,
    /// 6 or 17.
    pub proto: u8,
    /// Zero.
    pub pad: u8,
}

/// `struct svc`: one service port.
#[repr(C)]
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Svc {
    /// The service's network tag (only its endpoints are clients).
    pub net: u32,
    /// Backend slots in use.
    pub count: u32,
    /// The backends' port, network order in memory.
    pub port: u16,
    /// Zero.
    pub pad: u16,
    /// Zero.
    pub pad2: u32,
    /// The backends' addresses (`count` of them).
    pub backends: [IpKey; SVC_MAX_BACKENDS],
}

impl Default for Svc {
    fn default() -> Self {
        Svc {
            net: 0,
            count: 0,
            port: 0,
            pad: 0,
            pad2: 0,
            backends: [IpKey::default(); SVC_MAX_BACKENDS],
        }
    }
}

/// `struct nat_entry`: the tuple a packet of a translated connection gets.
#[repr(C)]
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct NatEntry {
    /// New source.
    pub src: IpKey,
    /// New destination.
    pub dst: IpKey,
    /// New source port (network order).
    pub sport: u16,
    /// New destination port (network order).
    pub dport: u16,
    /// `NAT_*`.
    pub flags: u32,
}

// SAFETY: `#[repr(C)]`, only integers and byte arrays, every padding byte
// an explicit field: any bit pattern is valid, no byte is uninitialised.
unsafe impl aya::Pod for SvcKey {}
// SAFETY: as above.
unsafe impl aya::Pod for Svc {}
// SAFETY: as above.
unsafe impl aya::Pod for NatEntry {}

/// `struct frag_key`: an IPv4 datagram as it arrived (before translation),
/// the key of `svc_frags`.
#[repr(C)]
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash)]
pub struct FragKey {
    /// The tenant.
    pub tenant: u32,
    /// Source address.
    pub src: IpKey,
    /// Destination address (the VIP for a client's datagram).
    pub dst: IpKey,
    /// The IPv4 identification (network order in memory).
    pub id: u16,
    /// 6 or 17.
    pub proto: u8,
    /// Zero.
    pub pad: u8,
}

/// `struct frag_entry`: the translation a datagram's first fragment got,
/// for its later fragments (written by the programs only).
#[repr(C)]
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct FragEntry {
    /// The tuple the first fragment got.
    pub nat: NatEntry,
    /// The first fragment's source port as it arrived (network order).
    pub sport: u16,
    /// The first fragment's destination port as it arrived.
    pub dport: u16,
    /// Zero.
    pub pad: u32,
    /// When the first fragment passed (`CLOCK_MONOTONIC` ns).
    pub created_ns: u64,
}

// SAFETY: as above.
unsafe impl aya::Pod for FragKey {}
// SAFETY: as above.
unsafe impl aya::Pod for FragEntry {}

/// How long the programs use a fragment entry (Linux's default
/// `ipfrag_time`); the garbage collector deletes older ones.
pub const FRAG_TIMEOUT: std::time::Duration = std::time::Duration::from_secs(30);

/// `struct svc_scratch` (the programs' temporaries; never read here).
pub type SvcScratch = [u8; 288];

/// The key type of `svc_nat` (a directional `struct ct_key`).
pub type NatKey = CtKey;

/// A port as the programs hold it: network order in memory.
fn raw_port(p: u16) -> u16 {
    u16::from_ne_bytes(p.to_be_bytes())
}

/// Refuses what the maps cannot hold: more than [`SVC_MAX_BACKENDS`]
/// backends.
pub fn check(sv: &ServiceSpec) -> DpResult<()> {
    if sv.backends.len() > SVC_MAX_BACKENDS {
        return Err(DpError::Unsupported(format!(
            "service {}: {} backends, the eBPF datapath balances over at most {SVC_MAX_BACKENDS}",
            sv.key,
            sv.backends.len()
        )));
    }
    Ok(())
}

/// A service's entries, its backends resolved from `state` (an id that is
/// not an endpoint with an IPv4 address on the service's network is left
/// out; the state's checks and cascades keep that from happening).
pub fn contrib(sv: &ServiceSpec, state: &HostState) -> Contrib {
    let Some(net) = state.networks.get(&sv.network) else {
        return Contrib::default();
    };
    let tag = net_tag(net);
    let mut slots = [IpKey::default(); SVC_MAX_BACKENDS];
    let mut count = 0;
    for b in &sv.backends {
        if count == SVC_MAX_BACKENDS {
            break;
        }
        if let Some((n, Some(ip))) = state.endpoint_v4(b)
            && n == sv.network
        {
            slots[count] = IpKey::of(IpAddr::V4(ip));
            count += 1;
        }
    }
    let vip = IpKey::of(IpAddr::V4(sv.vip));
    let mut c = Contrib::default();
    for p in &sv.ports {
        c.services.push((
            SvcKey {
                tenant: net.tenant_id,
                vip,
                port: raw_port(p.svc_port),
                proto: p.protocol.ip_proto(),
                pad: 0,
            },
            Svc {
                net: tag,
                count: count as u32,
                port: raw_port(p.prov_port),
                backends: slots,
                ..Svc::default()
            },
        ));
    }
    c.vips.push((EpKey { net: tag, ip: vip }, 1));
    c
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::mem::size_of;

    #[test]
    fn sizes_match_the_c_layout() {
        assert_eq!(size_of::<SvcKey>(), 24);
        assert_eq!(size_of::<Svc>(), 16 + 16 * SVC_MAX_BACKENDS);
        assert_eq!(size_of::<NatEntry>(), 40);
        assert_eq!(size_of::<FragKey>(), 40);
        assert_eq!(size_of::<FragEntry>(), 56);
        assert_eq!(size_of::<SvcScratch>(), 2 * 44 + 2 * 40 + 24 + 40 + 56);
    }

    #[test]
    fn more_backends_than_slots_are_refused() {
        let mut sv = ServiceSpec {
            key: "t:s".into(),
            network: "t:n".into(),
            vip: "10.0.0.9".parse().unwrap(),
            ports: vec![],
            backends: (0..SVC_MAX_BACKENDS).map(|i| format!("e{i}")).collect(),
        };
        assert!(check(&sv).is_ok());
        sv.backends.push("one-more".into());
        let e = check(&sv).unwrap_err();
        assert!(matches!(e, DpError::Unsupported(_)), "{e}");
        assert!(e.to_string().contains("at most 256"), "{e}");
    }
}
