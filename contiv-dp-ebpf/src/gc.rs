//! Conntrack garbage collection: entries idle longer than their timeout
//! (the programs already treat them as absent) are deleted, and so are the
//! service NAT entries of connections conntrack no longer holds, and the
//! fragment entries older than the reassembly time. The LRU maps also
//! evict the oldest entries on their own when they are full.

use crate::abi::{CT_FIN_A, CT_FIN_B, CT_RST, CT_SEEN_REPLY, CtEntry, CtKey, IpKey};
use crate::config::CtTimeouts;
use crate::service::{FRAG_TIMEOUT, FragEntry, FragKey, NAT_FWD, NatEntry, NatKey};
use aya::maps::{HashMap as BpfHash, MapData};
use contiv_core::datapath::{DpError, DpResult};
use std::path::Path;
use std::time::Duration;

/// `CLOCK_MONOTONIC` in nanoseconds (the clock of `bpf_ktime_get_ns`).
pub fn monotonic_ns() -> u64 {
    let mut ts = libc::timespec {
        tv_sec: 0,
        tv_nsec: 0,
    };
    // SAFETY: `ts` is a valid, writable timespec.
    unsafe { libc::clock_gettime(libc::CLOCK_MONOTONIC, &mut ts) };
    ts.tv_sec as u64 * 1_000_000_000 + ts.tv_nsec as u64
}

/// The timeout of entry `e` of protocol `proto` (as the programs compute
/// it).
pub fn timeout(proto: u8, e: &CtEntry, t: &CtTimeouts) -> Duration {
    let f = e.flags;
    let closed = f & CT_RST != 0 || f & (CT_FIN_A | CT_FIN_B) == (CT_FIN_A | CT_FIN_B);
    let d = match proto {
        6 if closed => t.tcp_closing,
        6 if f & CT_SEEN_REPLY == 0 => t.tcp_syn,
        6 => t.tcp_established,
        17 => t.udp,
        _ => t.other,
    };
    Duration::from_secs(d.as_secs().max(1))
}

/// Deletes the entries of `m` (the map `name`) for which `stale` holds;
/// returns how many.
fn remove_where<K: aya::Pod, V: aya::Pod>(
    m: &mut BpfHash<MapData, K, V>,
    name: &str,
    mut stale: impl FnMut(&K, &V) -> bool,
) -> DpResult<usize> {
    let mut doomed = Vec::new();
    for r in m.iter() {
        let (k, v) = match r {
            Ok(kv) => kv,
            // An entry evicted or deleted while iterating.
            Err(aya::maps::MapError::KeyNotFound) => continue,
            Err(e) => return Err(DpError::Backend(format!("reading {name}: {e}"))),
        };
        if stale(&k, &v) {
            doomed.push(k);
        }
    }
    let mut n = 0;
    for k in doomed {
        if m.remove(&k).is_ok() {
            n += 1;
        }
    }
    Ok(n)
}

/// Deletes expired entries of `ct`; returns how many.
pub fn sweep(ct: &mut BpfHash<MapData, CtKey, CtEntry>, t: &CtTimeouts) -> DpResult<usize> {
    let now = monotonic_ns();
    remove_where(ct, "conntrack", |k, e| {
        now.saturating_sub(e.seen_ns) > timeout(k.proto, e, t).as_nanos() as u64
    })
}

/// Deletes the service NAT entries whose connection is not in `ct` (run
/// after [`sweep`]); returns how many.
pub fn sweep_nat(
    nat: &mut BpfHash<MapData, NatKey, NatEntry>,
    ct: &BpfHash<MapData, CtKey, CtEntry>,
) -> DpResult<usize> {
    remove_where(nat, "svc_nat", |k, e| {
        // Conntrack holds the translated connection: the forward entry's
        // result, the reverse entry's key.
        let (s, ps, d, pd) = if e.flags & NAT_FWD != 0 {
            (e.src, e.sport, e.dst, e.dport)
        } else {
            (k.a, k.pa, k.b, k.pb)
        };
        let (ck, _) = normalised(k.tenant, k.proto, s, ps, d, pd);
        ct.get(&ck, 0).is_err()
    })
}

/// Deletes the fragment entries older than [`FRAG_TIMEOUT`] (the programs
/// already ignore them); returns how many.
pub fn sweep_frags(frags: &mut BpfHash<MapData, FragKey, FragEntry>) -> DpResult<usize> {
    let now = monotonic_ns();
    let limit = FRAG_TIMEOUT.as_nanos() as u64;
    remove_where(frags, "svc_frags", |_, e| {
        now.saturating_sub(e.created_ns) > limit
    })
}

/// [`sweep`], [`sweep_nat`] and [`sweep_frags`] on the maps pinned in
/// `maps_dir`.
pub fn sweep_pinned(maps_dir: &Path, t: &CtTimeouts) -> DpResult<usize> {
    let mut ct: BpfHash<MapData, CtKey, CtEntry> =
        crate::kernel::maps::open(maps_dir, "conntrack")?;
    let mut nat: BpfHash<MapData, NatKey, NatEntry> =
        crate::kernel::maps::open(maps_dir, "svc_nat")?;
    let mut frags: BpfHash<MapData, FragKey, FragEntry> =
        crate::kernel::maps::open(maps_dir, "svc_frags")?;
    let n = sweep(&mut ct, t)?;
    Ok(n + sweep_nat(&mut nat, &ct)? + sweep_frags(&mut frags)?)
}

/// Deletes every entry of `m` (conntrack, service NAT, fragments); returns
/// how many.
pub fn flush<K: aya::Pod, V: aya::Pod>(m: &mut BpfHash<MapData, K, V>) -> DpResult<usize> {
    let keys: Vec<K> = m.keys().filter_map(Result::ok).collect();
    let mut n = 0;
    for k in keys {
        if m.remove(&k).is_ok() {
            n += 1;
        }
    }
    Ok(n)
}

/// The conntrack key of (src, sport) → (dst, dport) as the programs build
/// it (the smaller (address, port) end first, compared as the raw memory
/// words the programs compare), and whether the source is side a.
pub fn key_of(
    tenant: u32,
    proto: u8,
    src: std::net::IpAddr,
    sport: u16,
    dst: std::net::IpAddr,
    dport: u16,
) -> (CtKey, bool) {
    // Ports as the programs hold them: network order in memory.
    let raw = |p: u16| u16::from_ne_bytes(p.to_be_bytes());
    normalised(
        tenant,
        proto,
        IpKey::of(src),
        raw(sport),
        IpKey::of(dst),
        raw(dport),
    )
}

/// [`key_of`] with addresses and ports as the maps hold them.
fn normalised(tenant: u32, proto: u8, s: IpKey, ps: u16, d: IpKey, pd: u16) -> (CtKey, bool) {
    let words = |k: &IpKey| -> [u32; 4] {
        let b = k.0;
        [0, 4, 8, 12].map(|i| u32::from_ne_bytes([b[i], b[i + 1], b[i + 2], b[i + 3]]))
    };
    let src_first = (words(&s), ps) <= (words(&d), pd);
    let (a, pa, b, pb) = if src_first {
        (s, ps, d, pd)
    } else {
        (d, pd, s, ps)
    };
    (
        CtKey {
            tenant,
            proto,
            pad: [0; 3],
            a,
            b,
            pa,
            pb,
        },
        src_first,
    )
}
