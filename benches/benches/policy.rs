//! Policy compiler benchmarks (contiv-policy), on the synthetic intent of
//! `SyntheticSpec::default()`: 4 tenants × 4 networks, 1 000 groups each
//! with its own policy of 100 rules (100 000 rules mixing group, network,
//! CIDR and any peers, in and out, tcp/udp/icmp/any, ports), and 10 000
//! endpoints spread over the groups (one in ten dual-stack).
//!
//! * `policy/cold/compile_scratch` — `compile(&intent)`: the whole IR from
//!   scratch;
//! * `policy/cold/compiler_from_intent` — `Compiler::from_intent`: the
//!   incremental compiler's cold start (indexes + IR);
//! * `policy/change/endpoint_join` — one endpoint joining a group named as
//!   peer by many rules, with the full set loaded (the leave that restores
//!   the state runs untimed);
//! * `policy/change/rule_add` — one rule added to a group's policy (the
//!   removal runs untimed);
//! * `policy/oracle/evaluate` — one verdict from the 100k-rule IR.
//!
//! Before criterion runs, the binary prints p50/p99/max latency and the
//! largest delta of 10 000 single joins and 10 000 single rule adds
//! (criterion reports means and medians, not tail latency).
//!
//! Run: `cargo bench -p contiv-benches --bench policy` (prefix with
//! `taskset -c 0` to hold it to one core).

use contiv_core::ir::{PeerMatch, PolicyDelta};
use contiv_core::model::Rule;
use contiv_policy::synthetic::{
    SyntheticSpec, generate, group_name, host_v4, network_of_group, policy_name, tenant_name,
    tenant_of_group,
};
use contiv_policy::{Compiler, EndpointInput, Intent, Packet, PacketEnd, compile, evaluate};
use criterion::{Criterion, Throughput};
use std::collections::HashMap;
use std::hint::black_box;
use std::net::IpAddr;
use std::time::{Duration, Instant};

/// Joins for the groups named as peer by the most rules (cycled through).
fn joins(spec: &SyntheticSpec, c: &Compiler, n: usize) -> Vec<EndpointInput> {
    let mut refs: HashMap<u32, usize> = HashMap::new();
    for r in c.ir().rules.values() {
        if let PeerMatch::Epg(g) = r.peer {
            *refs.entry(g).or_default() += 1;
        }
    }
    let mut busiest: Vec<(usize, u32)> = refs.into_iter().map(|(g, k)| (k, g)).collect();
    busiest.sort_unstable_by(|a, b| b.cmp(a));
    busiest
        .iter()
        .take(n)
        .enumerate()
        .map(|(i, &(_, g))| {
            let k = g as usize - 1;
            let (t, j) = (tenant_of_group(spec, k), network_of_group(spec, k));
            EndpointInput::new(
                format!("bench-{i}"),
                &tenant_name(t),
                &format!("n{j}"),
                Some(&group_name(k)),
                [IpAddr::V4(host_v4(t, j, 3000 + i))],
            )
        })
        .collect()
}

/// New rules for `n` groups' policies, mixing peer kinds.
fn new_rules(spec: &SyntheticSpec, n: usize) -> Vec<Rule> {
    (0..n)
        .map(|i| {
            let k = (i * 37) % spec.epgs;
            let t = tenant_of_group(spec, k);
            let mut r = Rule {
                tenant_name: tenant_name(t),
                policy_name: policy_name(k),
                rule_id: format!("bench-{i}"),
                direction: "in".into(),
                action: "deny".into(),
                protocol: "tcp".into(),
                port: 9000 + i as i64,
                priority: 50,
                ..Rule::default()
            };
            match i % 3 {
                0 => r.from_endpoint_group = group_name((k + spec.tenants) % spec.epgs),
                1 => r.from_network = "n1".into(),
                _ => r.from_ip_address = format!("172.16.{}.0/24", i % 256),
            }
            r
        })
        .collect()
}

fn loaded(intent: &Intent) -> Compiler {
    Compiler::from_intent(intent).expect("synthetic intent compiles")
}

fn percentile(sorted: &[Duration], p: f64) -> Duration {
    let i = ((sorted.len() as f64 - 1.0) * p).round() as usize;
    sorted[i.min(sorted.len() - 1)]
}

/// Times `n` single changes one by one; prints p50/p99/max and the largest
/// delta.
fn tail_latency(
    name: &str,
    n: usize,
    mut change: impl FnMut(usize) -> PolicyDelta,
    mut undo: impl FnMut(usize),
) {
    let mut times = Vec::with_capacity(n);
    let mut max_delta = 0;
    for i in 0..n {
        let start = Instant::now();
        let d = change(i);
        times.push(start.elapsed());
        max_delta = max_delta.max(d.len());
        undo(i);
    }
    times.sort_unstable();
    println!(
        "policy/tail/{name}: n={n} p50={:?} p99={:?} max={:?} largest_delta={max_delta}",
        percentile(&times, 0.50),
        percentile(&times, 0.99),
        times[n - 1],
    );
}

fn tail_report(spec: &SyntheticSpec, intent: &Intent) {
    let mut c = loaded(intent);
    let eps = joins(spec, &c, 64);
    let ids: Vec<String> = eps.iter().map(|e| e.id.clone()).collect();
    let c = std::cell::RefCell::new(&mut c);
    tail_latency(
        "endpoint_join",
        10_000,
        |i| {
            c.borrow_mut()
                .upsert_endpoint(&eps[i % eps.len()])
                .expect("join")
        },
        |i| {
            c.borrow_mut()
                .remove_endpoint(&ids[i % ids.len()])
                .expect("leave");
        },
    );
    let rules = new_rules(spec, 64);
    let keys: Vec<String> = rules
        .iter()
        .map(|r| format!("{}:{}:{}", r.tenant_name, r.policy_name, r.rule_id))
        .collect();
    tail_latency(
        "rule_add",
        10_000,
        |i| {
            c.borrow_mut()
                .upsert_rule(&rules[i % rules.len()])
                .expect("add")
        },
        |i| {
            c.borrow_mut()
                .remove_rule(&keys[i % keys.len()])
                .expect("remove");
        },
    );
}

fn cold(c: &mut Criterion, intent: &Intent) {
    let mut g = c.benchmark_group("policy/cold");
    g.sample_size(10);
    g.measurement_time(Duration::from_secs(20));
    g.throughput(Throughput::Elements(intent.rules.len() as u64));
    g.bench_function("compile_scratch", |b| {
        b.iter_with_large_drop(|| compile(black_box(intent)).expect("compile"))
    });
    g.bench_function("compiler_from_intent", |b| {
        b.iter_with_large_drop(|| loaded(black_box(intent)))
    });
    g.finish();
}

fn change(c: &mut Criterion, spec: &SyntheticSpec, intent: &Intent) {
    let mut comp = loaded(intent);
    let mut g = c.benchmark_group("policy/change");
    g.throughput(Throughput::Elements(1));

    let eps = joins(spec, &comp, 64);
    g.bench_function("endpoint_join", |b| {
        b.iter_custom(|iters| {
            let mut total = Duration::ZERO;
            for i in 0..iters as usize {
                let ep = &eps[i % eps.len()];
                let start = Instant::now();
                black_box(comp.upsert_endpoint(ep).expect("join"));
                total += start.elapsed();
                comp.remove_endpoint(&ep.id).expect("leave");
            }
            total
        })
    });

    let rules = new_rules(spec, 64);
    g.bench_function("rule_add", |b| {
        b.iter_custom(|iters| {
            let mut total = Duration::ZERO;
            for i in 0..iters as usize {
                let r = &rules[i % rules.len()];
                let start = Instant::now();
                black_box(comp.upsert_rule(r).expect("add"));
                total += start.elapsed();
                comp.remove_rule(&format!(
                    "{}:{}:{}",
                    r.tenant_name, r.policy_name, r.rule_id
                ))
                .expect("remove");
            }
            total
        })
    });
    g.finish();

    let mut g = c.benchmark_group("policy/oracle");
    g.throughput(Throughput::Elements(1));
    let ir = comp.into_ir();
    let (src, dst) = (host_v4(0, 0, 1), host_v4(0, 0, 2));
    let p = Packet::tcp(
        PacketEnd::addr(1, src.into()),
        PacketEnd::addr(1, dst.into()),
        443,
    );
    g.bench_function("evaluate", |b| {
        b.iter(|| evaluate(black_box(&ir), black_box(&p)))
    });
    g.finish();
}

fn main() {
    let spec = SyntheticSpec::default();
    let intent = generate(&spec);
    tail_report(&spec, &intent);
    let mut c = Criterion::default().configure_from_args();
    cold(&mut c, &intent);
    change(&mut c, &spec, &intent);
    c.final_summary();
}
