//! VPP datapath benchmarks (contiv-dp-vpp), on the synthetic intent of
//! `contiv_policy::synthetic` (1k groups, 100k rules, 10k endpoints) seen
//! from one host — 200 endpoints local, the rest behind 16 VXLAN peers
//! (the host view the OVS benches use):
//!
//! * `vpp_calls/cold/compile_and_encode` — host state + IR → the VPP
//!   objects (bridge domains, BVIs, TAPs, tunnels, l2fib, ARP, ACLs) → the
//!   plan of API calls against an empty VPP → every call encoded; wall and
//!   thread CPU per run, median of 10 (target ≤ 300 ms on one core);
//! * `vpp_calls/count` — ACL entries vs the rules they realise, calls and
//!   bytes of the initial programming;
//! * `vpp_calls/join` — API calls for one endpoint joining a group, at
//!   1/10, 1/2 and the full size (target: O(1), the same at every size);
//! * `vpp_calls/engine` — the same joins sent by the datapath itself to the
//!   wire-faithful VPP *test server* (not VPP), once per policy engine:
//!   ACL plugin vs npol plugin (ipsets); also the npol objects and entries
//!   vs the rules they realise.
//!
//! `taskset -c 0 cargo bench -p contiv-benches --bench vpp_calls`

mod common;

use common::host_state;
use contiv_core::datapath::Datapath;
use contiv_core::datapath::{DesiredState, DpOp, LocalEndpoint};
use contiv_core::ir::{Membership, PolicyDelta};
use contiv_dp_vpp::datapath::host::HostState;
use contiv_dp_vpp::datapath::observe::Observed;
use contiv_dp_vpp::datapath::{Model, PolicyEngine, VppConfig, VppDatapath, acl, plan};
use contiv_dp_vpp::testing::VppTestServer;
use contiv_policy::compile;
use contiv_policy::synthetic::{SyntheticSpec, generate};
use std::hint::black_box;
use std::time::{Duration, Instant};

fn cfg() -> VppConfig {
    let mut c = VppConfig::new("/run/vpp/api.sock");
    c.vtep_ip = Some("172.31.255.1".parse().expect("ip"));
    c
}

fn thread_cpu() -> Duration {
    let s = std::fs::read_to_string("/proc/thread-self/stat").unwrap_or_default();
    let rest = s.rsplit_once(") ").map_or("", |(_, r)| r);
    let f: Vec<&str> = rest.split_whitespace().collect();
    let field = |i: usize| f.get(i).and_then(|x| x.parse::<u64>().ok()).unwrap_or(0);
    Duration::from_millis((field(11) + field(12)) * 10)
}

fn median(mut v: Vec<Duration>) -> Duration {
    v.sort();
    v[v.len() / 2]
}

fn host_view(spec: &SyntheticSpec) -> DesiredState {
    let intent = generate(spec);
    let ir = compile(&intent).expect("synthetic intent compiles");
    host_state(&intent, ir).0
}

/// Compile + plan against an empty VPP + encode: (calls, bytes, model).
fn compile_and_encode(d: &DesiredState) -> (usize, usize, Model) {
    let h = HostState::from_desired(d).expect("valid host state");
    let m = Model::compile(&h, &cfg()).expect("model");
    let actions = plan::plan(&m, &Observed::default());
    let (bytes, calls) = plan::encode_plan(&actions, Some(1)).expect("encodes");
    (calls, bytes.len(), m)
}

fn cold(d: &DesiredState, n: usize) {
    let (mut walls, mut cpus) = (Vec::new(), Vec::new());
    let mut last = (0, 0);
    for _ in 0..n {
        let (w, c) = (Instant::now(), thread_cpu());
        let (calls, bytes, m) = compile_and_encode(black_box(d));
        walls.push(w.elapsed());
        cpus.push(thread_cpu() - c);
        last = (calls, bytes);
        drop(black_box(m));
    }
    println!(
        "vpp_calls/cold/compile_and_encode: {} calls, {} bytes; median wall {:?}, cpu {:?} (n={n}; min wall {:?})",
        last.0,
        last.1,
        median(walls.clone()),
        median(cpus),
        walls.iter().min().copied().unwrap_or_default()
    );
}

fn count(d: &DesiredState) {
    let (calls, bytes, m) = compile_and_encode(d);
    let h = HostState::from_desired(d).expect("valid");
    let local = acl::local_groups(&h);
    let owned = d
        .policy
        .rules
        .values()
        .filter(|r| local.contains(&(r.tenant, r.epg)))
        .count();
    let entries = acl::entry_count(&m.acls);
    println!(
        "vpp_calls/count: IR rules {} (of which {owned} owned by the {} groups with local members); \
         {} ACLs with {entries} entries ({:.2} entries per realised rule, 2 defaults per ACL included); \
         {} interfaces, {} l2fib, {} ARP, {} neighbours; {calls} calls, {bytes} bytes to program from empty",
        d.policy.rules.len(),
        local.len(),
        m.acls.len(),
        entries as f64 / owned.max(1) as f64,
        m.ifaces.len(),
        m.l2fib.len(),
        m.arp.len(),
        m.neigh.len(),
    );
}

/// Calls for the ops, as a diff of the models before and after.
fn calls_for(d: &DesiredState, ops: &[DpOp]) -> Vec<&'static str> {
    let mut h = HostState::from_desired(d).expect("valid");
    let before = Model::compile(&h, &cfg()).expect("model");
    for op in ops {
        h.apply(op).expect("op applies");
    }
    let after = Model::compile(&h, &cfg()).expect("model");
    let obs = Observed {
        model: before,
        ..Observed::default()
    };
    plan::plan(&after, &obs)
        .iter()
        .map(|a| plan::build(a, &FakeIds).map(|c| c.name()).unwrap_or("?"))
        .collect()
}

struct FakeIds;
impl plan::Ids for FakeIds {
    fn sw_if_index(&self, _: &contiv_dp_vpp::datapath::names::IfKey) -> Option<u32> {
        Some(1)
    }
    fn bd_id(&self, _: &str) -> Option<u32> {
        Some(1)
    }
    fn acl_index(&self, _: &contiv_dp_vpp::datapath::names::AclKey) -> Option<u32> {
        Some(1)
    }
    fn cnat_id(&self, _: &(std::net::IpAddr, u16, u8)) -> Option<u32> {
        Some(1)
    }
    fn uplink(&self) -> Option<u32> {
        Some(1)
    }
}

fn joins(scale: &str, spec: &SyntheticSpec) {
    let d = host_view(spec);
    // A local endpoint already in a group moves to another group that has
    // local members (one membership change, one interface rebinding); a
    // new endpoint joins that group.
    let (moved, new) = join_ops(&d);
    let calls = calls_for(&d, &moved);
    let acl_rewrites = calls.iter().filter(|c| **c == "acl_add_replace").count();
    let calls_new = calls_for(&d, &new);
    println!(
        "vpp_calls/join/{scale}: rules {}, endpoints {}: an endpoint changing group = {} calls ({} ACL rewrites of groups naming its old or new group as a peer, {:?}); a new endpoint joining = {} calls",
        d.policy.rules.len(),
        d.local_endpoints.len() + d.remote_endpoints.len(),
        calls.len(),
        acl_rewrites,
        calls,
        calls_new.len()
    );
}

/// The join ops of [`joins`]: (an endpoint moving to another group with
/// local members, a new endpoint joining that group).
fn join_ops(d: &DesiredState) -> (Vec<DpOp>, Vec<DpOp>) {
    let e: &LocalEndpoint = &d.local_endpoints[0];
    let tenant = d
        .networks
        .iter()
        .find(|n| n.key == e.network)
        .map_or(0, |n| n.tenant_id);
    let target = d
        .local_endpoints
        .iter()
        .find(|o| o.epg != e.epg && o.network == e.network && o.epg != 0)
        .map_or(e.epg, |o| o.epg);
    let member = |ip| {
        DpOp::Policy(PolicyDelta {
            members_added: vec![Membership {
                tenant,
                ip,
                epg: target,
            }],
            ..PolicyDelta::default()
        })
    };
    let mut moved = e.clone();
    moved.epg = target;
    let ip = e.ipv4.map(|n| std::net::IpAddr::V4(n.addr())).expect("v4");
    let mut new = e.clone();
    new.id = "bench-new".into();
    new.epg = target;
    new.host_ifname = "vhnew".into();
    let nip = std::net::Ipv4Addr::new(10, 255, 255, 254);
    new.ipv4 = Some(ipnet::Ipv4Net::new(nip, 20).expect("prefix"));
    new.mac = contiv_core::datapath::MacAddr::from_ipv4(nip);
    (
        vec![DpOp::AddLocalEndpoint(moved), member(ip)],
        vec![
            DpOp::AddLocalEndpoint(new),
            member(std::net::IpAddr::V4(nip)),
        ],
    )
}

/// Counts the calls of a mutation list: `name×n` sorted by name.
fn tally(calls: &[String]) -> String {
    let mut m: std::collections::BTreeMap<&str, usize> = Default::default();
    for c in calls {
        *m.entry(c.as_str()).or_default() += 1;
    }
    m.iter()
        .map(|(k, v)| format!("{k}×{v}"))
        .collect::<Vec<_>>()
        .join(", ")
}

/// The datapath programs `d` into the test server with `engine`, then
/// each join is applied and its calls counted.
async fn engine_joins(scale: &str, d: &DesiredState, engine: PolicyEngine) {
    let srv = VppTestServer::start().await.expect("test server");
    let mut c = cfg();
    c.socket = srv.socket_path().to_owned();
    c.policy = engine;
    let dp = VppDatapath::connect(c).await.expect("connect");
    let t = Instant::now();
    dp.resync(d).await.expect("resync");
    let initial = srv.mutations().len();
    let took = t.elapsed();
    let st = srv.state();
    let objects = match engine {
        PolicyEngine::Npol => {
            let entries: usize = st.npol.rules.values().map(|r| r.matches.len()).sum();
            let members: usize = st.npol.ipsets.values().map(|s| s.members.len()).sum();
            format!(
                "{} ipsets ({members} members), {} npol rules ({entries} entries), {} policies",
                st.npol.ipsets.len(),
                st.npol.rules.len(),
                st.npol.policies.len()
            )
        }
        _ => format!(
            "{} ACLs ({} entries)",
            st.acls.len(),
            st.acls.values().map(|a| a.rules.len()).sum::<usize>()
        ),
    };
    let (moved, new) = join_ops(d);
    srv.clear_log();
    dp.apply(moved).await.expect("move");
    let m = srv.mutations();
    srv.clear_log();
    dp.apply(new).await.expect("join");
    let n = srv.mutations();
    println!(
        "vpp_calls/engine/{engine:?}/{scale}: initial programming {initial} calls ({took:?} through the socket) → {objects}; \
         endpoint changing group = {} calls [{}]; new endpoint joining = {} calls [{}]",
        m.len(),
        tally(&m),
        n.len(),
        tally(&n)
    );
}

fn main() {
    let spec = SyntheticSpec::default();
    let d = host_view(&spec);
    count(&d);
    cold(&d, 10);
    for (name, div) in [("1/10", 10), ("1/2", 2), ("full", 1)] {
        let s = SyntheticSpec {
            epgs: spec.epgs / div,
            endpoints: spec.endpoints / div,
            ..spec
        };
        joins(name, &s);
    }
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .expect("runtime");
    for (name, div) in [("1/10", 10), ("1/2", 2), ("full", 1)] {
        let s = SyntheticSpec {
            epgs: spec.epgs / div,
            endpoints: spec.endpoints / div,
            ..spec
        };
        let d = host_view(&s);
        for engine in [PolicyEngine::Acl, PolicyEngine::Npol] {
            rt.block_on(engine_joins(name, &d, engine));
        }
    }
}
