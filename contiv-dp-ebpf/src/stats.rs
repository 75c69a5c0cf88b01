//! Reading the programs' counters: per endpoint (sent, delivered,
//! dropped), per rule (new connections it decided, and dropped), drops by
//! reason — where "why was my packet dropped" starts — and floods (frames
//! copied to every endpoint of a network, and how many copies).

use crate::abi::{DROP_REASONS, EpStats, FloodStats, RuleStats};
use crate::kernel::maps::Maps;
use crate::tables::KvMap;
use contiv_core::datapath::counters::{Counters, DropCounter, EndpointCounters, RuleCounters};
use contiv_core::datapath::{DpError, DpResult};
use contiv_core::ir::{PolicyIr, RuleId};

fn sum_ep(v: &aya::maps::PerCpuValues<EpStats>) -> EpStats {
    let mut s = EpStats::default();
    for c in v.iter() {
        s.tx_packets += c.tx_packets;
        s.tx_bytes += c.tx_bytes;
        s.tx_drops += c.tx_drops;
        s.rx_packets += c.rx_packets;
        s.rx_bytes += c.rx_bytes;
        s.rx_drops += c.rx_drops;
    }
    s
}

/// Reads the counters of endpoints `eps` (id, ifindex) and `rules`.
pub fn read(
    maps: &Maps,
    eps: &[(String, u32)],
    rules: &[RuleId],
    ir: &PolicyIr,
) -> DpResult<Counters> {
    let mut out = Counters::default();
    for (id, ifindex) in eps {
        let s = match maps.ep_stats.get(ifindex, 0) {
            Ok(v) => sum_ep(&v),
            Err(_) => EpStats::default(),
        };
        out.endpoints.push(EndpointCounters {
            id: id.clone(),
            tx_packets: s.tx_packets,
            tx_bytes: s.tx_bytes,
            tx_drops: s.tx_drops,
            rx_packets: s.rx_packets,
            rx_bytes: s.rx_bytes,
            rx_drops: s.rx_drops,
        });
    }
    out.endpoints.sort_by(|a, b| a.id.cmp(&b.id));
    for id in rules {
        let Some(r) = ir.rules.get(id) else { continue };
        let mut s = RuleStats::default();
        if let Ok(v) = maps.rule_stats.get(&id.0, 0) {
            for c in v.iter() {
                s.packets += c.packets;
                s.drops += c.drops;
            }
        }
        out.rules.push(RuleCounters {
            rule_id: id.to_string(),
            policy: r.origin.policy.clone(),
            rule: r.origin.rule.clone(),
            group: r.origin.epg.clone(),
            packets: s.packets,
            drops: s.drops,
        });
    }
    out.rules
        .sort_by(|a, b| (&a.policy, &a.rule, &a.group).cmp(&(&b.policy, &b.rule, &b.group)));
    for (i, name) in DROP_REASONS {
        let n: u64 = match maps.drop_reasons.get(&i, 0) {
            Ok(v) => v.iter().sum(),
            Err(e) => return Err(DpError::Backend(format!("reading drop counters: {e}"))),
        };
        if n > 0 {
            out.drops.push(DropCounter {
                reason: name.to_owned(),
                packets: n,
            });
        }
    }
    Ok(out)
}

/// The flood counters of `m` (`flood_stats`), summed over the CPUs.
pub fn floods(m: &aya::maps::PerCpuArray<aya::maps::MapData, FloodStats>) -> DpResult<FloodStats> {
    let v = m
        .get(&0, 0)
        .map_err(|e| DpError::Backend(format!("reading flood counters: {e}")))?;
    Ok(v.iter().fold(FloodStats::default(), |a, c| FloodStats {
        frames: a.frames + c.frames,
        copies: a.copies + c.copies,
    }))
}

fn count<K, V>(m: &impl KvMap<K, V>) -> DpResult<usize> {
    m.entries().map(|v| v.len()).map_err(DpError::Backend)
}

/// The number of entries of every map but the arrays.
pub fn sizes(maps: &Maps) -> DpResult<Vec<(&'static str, usize)>> {
    let ct = maps.conntrack.keys().filter(|k| k.is_ok()).count();
    Ok(vec![
        ("interfaces", count(&maps.interfaces)?),
        ("networks", count(&maps.networks)?),
        ("vnis", count(&maps.vnis)?),
        ("vteps", count(&maps.vteps)?),
        ("endpoints", count(&maps.endpoints)?),
        ("macs", count(&maps.macs)?),
        ("membership", count(&maps.membership)?),
        ("addr_sets", count(&maps.addr_sets)?),
        ("set_ids", count(&maps.set_ids)?),
        ("rule_heads", count(&maps.rule_heads)?),
        ("rules", count(&maps.rules)?),
        ("flood_heads", count(&maps.flood_heads)?),
        ("flood", count(&maps.flood)?),
        ("conntrack", ct),
        ("ep_stats", count(&maps.ep_stats)?),
        ("rule_stats", count(&maps.rule_stats)?),
        ("buckets", count(&maps.buckets)?),
        ("services", count(&maps.services)?),
        ("svc_vips", count(&maps.svc_vips)?),
        ("svc_nat", maps.svc_nat.keys().filter(|k| k.is_ok()).count()),
        (
            "svc_frags",
            maps.svc_frags.keys().filter(|k| k.is_ok()).count(),
        ),
    ])
}
