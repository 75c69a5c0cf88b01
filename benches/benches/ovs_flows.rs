//! OVS pipeline benchmarks (contiv-dp-ovs), on the synthetic intent of
//! `SyntheticSpec::default()`: 4 tenants × 4 networks, 1 000 groups with
//! 100 rules each (100 000 rules), 10 000 endpoints (one in ten dual-stack)
//! — 200 of them local to the host, the rest behind 16 VXLAN peers.
//!
//! * `ovs_flows/compile/ir_to_flows` — the IR and host state compiled to
//!   the typed flow set from scratch (`Pipeline::from_desired` + `flush`);
//! * `ovs_flows/compile/ir_to_openflow` — the same, encoded as OpenFlow
//!   1.3 bundle-add messages (the bytes sent to the switch);
//! * `ovs_flows/compile/intent_to_openflow` — intent → IR
//!   (`contiv_policy::compile`) → flows → OpenFlow bytes;
//! * `ovs_flows/change/endpoint_join` — one endpoint joining a group
//!   (membership add + flush) on the loaded pipeline;
//! * `ovs_flows/change/rule_add` — one rule added to a group's policy.
//!
//! Before criterion runs, the binary prints the flow counts (total and per
//! owner kind), the flow count of 100 EPGs × 100 endpoints with an
//! all-pairs allow on one port, the flow changes of single joins, and the
//! thread CPU time of each compile stage (`ovs_flows/cold/*`: the number
//! to compare on a shared machine).
//!
//! Run: `taskset -c 0 cargo bench -p contiv-benches --bench ovs_flows`.

use contiv_core::datapath::DesiredState;
use contiv_core::ir::{
    Action, Direction, IrRule, Membership, PeerMatch, PolicyDelta, PolicyIr, PortRange, RuleId,
    RuleOrigin,
};
use contiv_dp_ovs::openflow::wire::{bundle_flags, encode_bundle_flow_mod};
use contiv_dp_ovs::pipeline::{CookieKind, FlowChange, Pipeline, PortMap};
use contiv_policy::compile;
use contiv_policy::synthetic::{SyntheticSpec, generate};
use criterion::{Criterion, Throughput};
use std::collections::BTreeMap;
use std::hint::black_box;
use std::net::{IpAddr, Ipv4Addr};
use std::time::{Duration, Instant};

mod common;

use common::host_state;

/// Encodes changes as the bundle-add messages the datapath sends (each
/// flow-mod straight from the flow, nothing cloned).
fn encode(changes: &[FlowChange]) -> Vec<u8> {
    let mut buf = Vec::with_capacity(changes.len() * 120);
    let flags = bundle_flags::ATOMIC | bundle_flags::ORDERED;
    for (i, c) in changes.iter().enumerate() {
        encode_bundle_flow_mod(1, flags, i as u32, &c.flow_mod_view(), &mut buf).expect("encode");
    }
    buf
}

/// The host state of `desired` with another policy (nothing of the old
/// policy is cloned).
fn with_policy(desired: &DesiredState, policy: PolicyIr) -> DesiredState {
    DesiredState {
        global: desired.global.clone(),
        networks: desired.networks.clone(),
        local_endpoints: desired.local_endpoints.clone(),
        remote_endpoints: desired.remote_endpoints.clone(),
        peers: desired.peers.clone(),
        policy,
        fabric: desired.fabric,
        routes: desired.routes.clone(),
        services: desired.services.clone(),
        published: desired.published.clone(),
    }
}

/// Intent → IR → flows → OpenFlow bytes; the state is returned so the
/// caller decides when to drop it.
fn intent_to_openflow(
    intent: &contiv_policy::Intent,
    desired: &DesiredState,
    ports: &PortMap,
) -> (Vec<u8>, Pipeline, DesiredState) {
    let ir = compile(intent).expect("compile");
    let d = with_policy(desired, ir);
    let mut p = Pipeline::from_desired(&d, ports);
    let ch = p.flush();
    (encode(&ch), p, d)
}

fn counts(p: &Pipeline) -> BTreeMap<String, usize> {
    let mut m = BTreeMap::new();
    for f in p.flows_unordered() {
        let k = CookieKind::of(f.cookie).map_or("foreign".to_owned(), |k| k.to_string());
        *m.entry(k).or_insert(0) += 1;
    }
    m
}

/// 100 EPGs × 100 endpoints, every EPG allowing tcp/8080 in from every EPG.
fn all_pairs_count() {
    let mut ir = PolicyIr::default();
    for g in 1..=100u32 {
        for h in 1..=100u32 {
            let id = RuleId(u64::from(g) * 1000 + u64::from(h));
            ir.rules.insert(
                id,
                IrRule {
                    id,
                    tenant: 1,
                    epg: g,
                    direction: Direction::In,
                    peer: PeerMatch::Epg(h),
                    local: None,
                    proto: Some(6),
                    ports: Some(PortRange::single(8080)),
                    priority: 10,
                    action: Action::Allow,
                    origin: RuleOrigin {
                        policy: "t:p".into(),
                        rule: id.0.to_string(),
                        epg: format!("t:g{g}"),
                    },
                },
            );
        }
        for k in 0..100u32 {
            let n = (g - 1) * 100 + k;
            ir.members.insert(
                (
                    1,
                    IpAddr::V4(Ipv4Addr::new(10, 1, (n / 250) as u8, (n % 250) as u8 + 1)),
                ),
                g,
            );
        }
    }
    let mut p = Pipeline::from_desired(
        &DesiredState {
            policy: ir,
            ..DesiredState::default()
        },
        &PortMap::default(),
    );
    p.flush();
    let c = counts(&p);
    let member = c.get("membership").copied().unwrap_or(0);
    let policy = c.get("rule").copied().unwrap_or(0) + c.get("rule-group").copied().unwrap_or(0);
    println!(
        "ovs_flows/count/all_pairs_100x100: classification={member} policy={policy} \
         classification+policy={} total_with_fixed={} (target <= 20.2k; N x M would be ~1M)",
        member + policy,
        p.flow_count()
    );
}

/// CPU time (user + system) of this thread (`CLOCK_THREAD_CPUTIME_ID`).
fn thread_cpu() -> Duration {
    let mut ts = libc::timespec {
        tv_sec: 0,
        tv_nsec: 0,
    };
    // SAFETY: `ts` is a valid, writable timespec.
    let rc = unsafe { libc::clock_gettime(libc::CLOCK_THREAD_CPUTIME_ID, &mut ts) };
    if rc != 0 {
        return Duration::ZERO;
    }
    Duration::new(ts.tv_sec as u64, ts.tv_nsec as u32)
}

/// Wall and CPU time of `n` cold runs of `f`, per run, the drop of its
/// result excluded: the machine is shared, so CPU time is the number to
/// compare with the one-core target.
fn cold_cpu<T>(name: &str, n: u32, mut f: impl FnMut() -> T) {
    let (mut wall, mut cpu) = (Duration::ZERO, Duration::ZERO);
    for _ in 0..n {
        let (w1, c1) = (Instant::now(), thread_cpu());
        let out = black_box(f());
        wall += w1.elapsed();
        cpu += thread_cpu() - c1;
        drop(out);
    }
    println!(
        "ovs_flows/cold/{name}: per run wall {:?}, cpu {:?} (n={n}, drop of the result excluded)",
        wall / n,
        cpu / n
    );
}

fn percentile(sorted: &[Duration], p: f64) -> Duration {
    let i = ((sorted.len() as f64 - 1.0) * p).round() as usize;
    sorted[i.min(sorted.len() - 1)]
}

fn joins(d: &DesiredState, n: usize) -> Vec<Membership> {
    // Join the groups that are most often named as peers.
    let mut refs: BTreeMap<u32, usize> = BTreeMap::new();
    for r in d.policy.rules.values() {
        if let PeerMatch::Epg(g) = r.peer {
            *refs.entry(g).or_default() += 1;
        }
    }
    let mut busiest: Vec<(usize, u32)> = refs.into_iter().map(|(g, k)| (k, g)).collect();
    busiest.sort_unstable_by(|a, b| b.cmp(a));
    busiest
        .iter()
        .cycle()
        .take(n)
        .enumerate()
        .map(|(i, &(_, g))| Membership {
            tenant: 1 + (g - 1) % 4,
            ip: IpAddr::V4(Ipv4Addr::new(10, 250, (i / 250) as u8, (i % 250) as u8 + 1)),
            epg: g,
        })
        .collect()
}

fn report(d: &DesiredState, ports: &PortMap) {
    let start = Instant::now();
    let mut p = Pipeline::from_desired(d, ports);
    let t_load = start.elapsed();
    let changes = p.flush();
    let t = start.elapsed();
    println!(
        "ovs_flows/count/synthetic: rules={} members={} flows={} groups={} by_kind={:?} (one cold compile {t:?}: load {t_load:?}, flush {:?})",
        d.policy.rules.len(),
        d.policy.members.len(),
        changes.len(),
        p.rule_group_count(),
        counts(&p),
        t - t_load
    );
    let ms = joins(d, 1000);
    let mut times = Vec::with_capacity(ms.len());
    let mut max_changes = 0;
    for m in &ms {
        let start = Instant::now();
        p.apply_policy(&PolicyDelta {
            members_added: vec![*m],
            ..PolicyDelta::default()
        });
        let ch = p.flush();
        times.push(start.elapsed());
        max_changes = max_changes.max(ch.len());
        p.apply_policy(&PolicyDelta {
            members_removed: vec![*m],
            ..PolicyDelta::default()
        });
        p.flush();
    }
    times.sort_unstable();
    println!(
        "ovs_flows/tail/endpoint_join: n={} p50={:?} p99={:?} max={:?} max_flow_changes={max_changes} (target <= 3)",
        times.len(),
        percentile(&times, 0.5),
        percentile(&times, 0.99),
        times[times.len() - 1]
    );
}

fn new_rule(i: usize) -> IrRule {
    IrRule {
        id: RuleId(0xbe00_0000 + i as u64),
        tenant: 1,
        epg: 1 + (i as u32 * 37) % 1000,
        direction: Direction::In,
        peer: PeerMatch::Epg(1 + (i as u32 * 13) % 1000),
        local: None,
        proto: Some(6),
        ports: Some(PortRange::single(9000 + i as u16)),
        priority: 50,
        action: Action::Deny,
        origin: RuleOrigin {
            policy: "bench".into(),
            rule: i.to_string(),
            epg: "bench".into(),
        },
    }
}

fn main() {
    let spec = SyntheticSpec::default();
    let intent = generate(&spec);
    let ir = compile(&intent).expect("synthetic intent compiles");
    let (desired, ports) = host_state(&intent, ir);
    all_pairs_count();
    report(&desired, &ports);
    cold_cpu("ir_to_flows", 10, || {
        let mut p = Pipeline::from_desired(&desired, &ports);
        let ch = p.flush();
        (p, ch)
    });
    cold_cpu("ir_to_openflow", 10, || {
        let mut p = Pipeline::from_desired(&desired, &ports);
        let ch = p.flush();
        (encode(&ch), p)
    });
    cold_cpu("intent_to_ir", 10, || compile(&intent).expect("compile"));
    cold_cpu("intent_to_openflow", 10, || {
        intent_to_openflow(&intent, &desired, &ports)
    });

    let mut c = Criterion::default().configure_from_args();
    let mut g = c.benchmark_group("ovs_flows/compile");
    g.sample_size(10);
    g.measurement_time(Duration::from_secs(20));
    g.throughput(Throughput::Elements(desired.policy.rules.len() as u64));
    g.bench_function("ir_to_flows", |b| {
        b.iter_with_large_drop(|| {
            let mut p = Pipeline::from_desired(black_box(&desired), &ports);
            let ch = p.flush();
            (p, ch)
        })
    });
    g.bench_function("ir_to_openflow", |b| {
        b.iter_with_large_drop(|| {
            let mut p = Pipeline::from_desired(black_box(&desired), &ports);
            let ch = p.flush();
            (encode(&ch), p)
        })
    });
    g.bench_function("intent_to_openflow", |b| {
        b.iter_with_large_drop(|| intent_to_openflow(black_box(&intent), &desired, &ports))
    });
    g.finish();

    let mut p = Pipeline::from_desired(&desired, &ports);
    p.flush();
    let mut g = c.benchmark_group("ovs_flows/change");
    g.throughput(Throughput::Elements(1));
    let ms = joins(&desired, 64);
    g.bench_function("endpoint_join", |b| {
        b.iter_custom(|iters| {
            let mut total = Duration::ZERO;
            for i in 0..iters as usize {
                let m = ms[i % ms.len()];
                let start = Instant::now();
                p.apply_policy(&PolicyDelta {
                    members_added: vec![m],
                    ..PolicyDelta::default()
                });
                black_box(p.flush());
                total += start.elapsed();
                p.apply_policy(&PolicyDelta {
                    members_removed: vec![m],
                    ..PolicyDelta::default()
                });
                p.flush();
            }
            total
        })
    });
    g.bench_function("rule_add", |b| {
        b.iter_custom(|iters| {
            let mut total = Duration::ZERO;
            for i in 0..iters as usize {
                let r = new_rule(i % 64);
                let id = r.id;
                let start = Instant::now();
                p.apply_policy(&PolicyDelta {
                    rules_added: vec![r],
                    ..PolicyDelta::default()
                });
                black_box(p.flush());
                total += start.elapsed();
                p.apply_policy(&PolicyDelta {
                    rules_removed: vec![id],
                    ..PolicyDelta::default()
                });
                p.flush();
            }
            total
        })
    });
    g.finish();
    c.final_summary();
}
