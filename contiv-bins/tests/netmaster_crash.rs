//! Crash consistency (issue 12, point 3): netmaster is killed with SIGKILL
//! at spread-out points while it deletes a policy of 2,000 rules (more
//! than one store transaction holds) and, concurrently, creates and
//! deletes networks, endpoint groups with ip-pools, endpoints and services
//! — every multi-object write it has. After each kill a new netmaster
//! starts on the same file; once it accepts writes, the store must be
//! exactly "before" or "after" each change:
//!
//! * the policy exists with all 2,000 rules, or neither it nor any rule;
//! * no rule of a policy that does not exist; no intent record left;
//! * every network has its derived state, address pool and VNI and
//!   nothing else holds a VNI; every group its id (and ip-pool) and nothing
//!   else holds a group id; every service its VIP; every allocated address
//!   is held by exactly one endpoint or VIP, and every endpoint's and VIP's
//!   address is allocated.
//!
//! The state right after each kill (before recovery) is read too, so the
//! test shows that it did kill in the middle of the large delete (an
//! intent record on disk) — the case that left 1,664–1,944 of 2,000 rules
//! before.

mod support;

use contiv_core::model::{EndpointGroup, ModelObject, Network, Policy, Rule, ServiceLB};
use contiv_core::records::{EndpointRecord, EpgState, NetworkState, ServiceState};
use contiv_core::store::keys::Keys;
use contiv_core::store::{KeyValue, StateStore, TxnOp};
use contiv_ipam::{Ipam, Ipv4Pool};
use contiv_store::embedded::EmbeddedStore;
use serde_json::{Value, json};
use std::collections::{BTreeMap, BTreeSet};
use std::net::Ipv4Addr;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};
use support::{Client, NetmasterProcess, free_port};

const RULES: usize = 2000;
const ROUNDS: usize = 8;
const READY: Duration = Duration::from_secs(30);

fn rt() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .expect("runtime")
}

fn start(dir: &Path, name: &str, store: &Path) -> NetmasterProcess {
    let url = format!("embedded:{}", store.display());
    let mut p = NetmasterProcess::spawn(
        dir,
        name,
        Some(free_port()),
        &["--store", &url, "--mode", "test"],
        &[],
    );
    p.wait_ready(READY);
    p
}

/// The seed store: defaults, network `base`, policy `big` with 2,000
/// rules (written straight into the file: 2,000 API calls would take long).
fn seed(dir: &Path) -> PathBuf {
    let path = dir.join("seed.redb");
    let mut p = start(dir, "seed", &path);
    let c = p.client();
    for (path, body) in [
        (
            "/api/v1/networks/default:base/",
            json!({"tenantName": "default", "networkName": "base", "encap": "vxlan",
                "subnet": "10.250.0.0/24", "gateway": "10.250.0.254"}),
        ),
        (
            "/api/v1/policys/default:big/",
            json!({"tenantName": "default", "policyName": "big"}),
        ),
    ] {
        let r = c.post(path, &body);
        assert_eq!(r.status, 200, "{path}: {}", r.body);
    }
    assert_eq!(p.terminate(Duration::from_secs(10)).code(), Some(0));
    let keys = Keys::default();
    let store = EmbeddedStore::open(&path).expect("open the seed");
    let rt = rt();
    let rules: Vec<TxnOp> = (0..RULES)
        .map(|i| {
            let mut r = Rule {
                tenant_name: "default".into(),
                policy_name: "big".into(),
                rule_id: format!("r{i}"),
                direction: "in".into(),
                action: "deny".into(),
                protocol: "tcp".into(),
                port: 1 + i as i64,
                ..Rule::default()
            };
            r.key = r.derived_key();
            r.apply_defaults();
            r.validate().expect("a valid rule");
            TxnOp::put(
                keys.object(Rule::TYPE, &r.key),
                serde_json::to_vec(&r).expect("encode"),
            )
        })
        .collect();
    for chunk in rules.chunks(60) {
        rt.block_on(store.txn(chunk.to_vec())).expect("seed rules");
    }
    drop(store);
    path
}

/// The churn of one round: create and delete networks, groups with
/// ip-pools, endpoints and services until netmaster stops answering.
fn churn(c: &Client, stop: &AtomicBool) {
    let ok = |r: Result<support::Resp, String>| r.is_ok();
    for i in 1..=120u32 {
        if stop.load(Ordering::Relaxed) {
            return;
        }
        let n = format!("n{i}");
        let g = format!("g{i}");
        let steps: Vec<(&str, String, Option<Value>)> = vec![
            (
                "POST",
                format!("/api/v1/networks/default:{n}/"),
                Some(json!({"tenantName": "default",
                "networkName": n, "encap": "vxlan", "subnet": format!("10.{i}.0.0/24"),
                "gateway": format!("10.{i}.0.254")})),
            ),
            (
                "POST",
                format!("/api/v1/endpointGroups/default:{g}/"),
                Some(json!({"tenantName": "default",
                "groupName": g, "networkName": n, "ipPool": format!("10.{i}.0.100-10.{i}.0.110")})),
            ),
            (
                "POST",
                "/api/v1/agent/endpoints/".into(),
                Some(json!({"id": format!("e{i}a"),
                "network": n, "group": g, "host": "h1"})),
            ),
            (
                "POST",
                "/api/v1/agent/endpoints/".into(),
                Some(json!({"id": format!("e{i}b"),
                "network": n, "host": "h1"})),
            ),
            (
                "POST",
                format!("/api/v1/serviceLBs/default:s{i}/"),
                Some(json!({"tenantName": "default",
                "serviceName": format!("s{i}"), "networkName": n, "selectors": [format!("app=s{i}")],
                "ports": ["80:8080:TCP"]})),
            ),
        ];
        let teardown: Vec<(&str, String, Option<Value>)> = if i % 2 == 0 {
            vec![
                (
                    "DELETE",
                    format!("/api/v1/agent/endpoints/default:{n}/e{i}a/"),
                    None,
                ),
                (
                    "DELETE",
                    format!("/api/v1/agent/endpoints/default:{n}/e{i}b/"),
                    None,
                ),
                ("DELETE", format!("/api/v1/serviceLBs/default:s{i}/"), None),
                (
                    "DELETE",
                    format!("/api/v1/endpointGroups/default:{g}/"),
                    None,
                ),
                ("DELETE", format!("/api/v1/networks/default:{n}/"), None),
            ]
        } else {
            Vec::new()
        };
        for (method, path, body) in steps.into_iter().chain(teardown) {
            let text = body.map(|b| b.to_string());
            if !ok(c.try_send(method, &path, text.as_deref())) {
                return;
            }
        }
    }
}

/// What the store holds, decoded.
struct Snapshot {
    kvs: BTreeMap<String, KeyValue>,
    keys: Keys,
    pools: BTreeMap<String, Ipv4Pool>,
    group_pools: BTreeMap<String, Ipv4Pool>,
    vnis: BTreeSet<u32>,
    epg_ids: BTreeSet<u32>,
}

impl Snapshot {
    fn read(path: &Path) -> Snapshot {
        let keys = Keys::default();
        let store: Arc<dyn StateStore> = Arc::new(EmbeddedStore::open(path).expect("open"));
        let rt = rt();
        let list = rt.block_on(store.list(keys.root())).expect("list");
        let kvs: BTreeMap<String, KeyValue> = list
            .kvs
            .into_iter()
            .map(|kv| (kv.key.clone(), kv))
            .collect();
        let ipam = Ipam::with_options(store.clone(), keys.clone(), Default::default());
        let mut pools = BTreeMap::new();
        let mut group_pools = BTreeMap::new();
        let prefix = keys.alloc("ipv4", "");
        let group_prefix = keys.alloc("ipv4-pool", "");
        for k in kvs.keys() {
            if let Some(net) = k.strip_prefix(&prefix) {
                let p = rt
                    .block_on(ipam.network_v4(net).read(|p| p.clone()))
                    .expect("decode a network pool");
                pools.insert(net.to_owned(), p);
            } else if let Some(g) = k.strip_prefix(&group_prefix) {
                let p = rt
                    .block_on(ipam.group_v4(g).read(|p| p.clone()))
                    .expect("decode a group pool");
                group_pools.insert(g.to_owned(), p);
            }
        }
        let vnis = rt
            .block_on(ipam.vxlans().read(|p| p.vnis().allocated_ids()))
            .expect("vxlan pool")
            .into_iter()
            .collect();
        let epg_ids = rt
            .block_on(ipam.epg_ids().read(|p| p.allocated_ids()))
            .expect("epg pool")
            .into_iter()
            .collect();
        drop(ipam);
        drop(store);
        Snapshot {
            kvs,
            keys,
            pools,
            group_pools,
            vnis,
            epg_ids,
        }
    }

    fn values<T: serde::de::DeserializeOwned>(&self, prefix: &str) -> Vec<(String, T)> {
        self.kvs
            .range(prefix.to_owned()..)
            .take_while(|(k, _)| k.starts_with(prefix))
            .map(|(k, kv)| {
                let v = serde_json::from_slice(&kv.value)
                    .unwrap_or_else(|e| panic!("undecodable {k}: {e}"));
                (k[prefix.len()..].to_owned(), v)
            })
            .collect()
    }

    fn objects<T: ModelObject>(&self) -> BTreeMap<String, T> {
        self.values(&self.keys.objects(T::TYPE))
            .into_iter()
            .collect()
    }

    fn opers<T: serde::de::DeserializeOwned>(&self, ty: &str) -> BTreeMap<String, T> {
        self.values(&self.keys.opers(ty)).into_iter().collect()
    }

    fn rules_of(&self, policy: &str) -> usize {
        self.objects::<Rule>()
            .values()
            .filter(|r| r.policy_name == policy)
            .count()
    }

    fn intents(&self) -> usize {
        self.values::<Value>(&self.keys.state("intent/")).len()
    }

    /// Every invariant of the module docs; the first violation.
    fn check(&self) -> Result<(), String> {
        let policies = self.objects::<Policy>();
        let rules = self.objects::<Rule>();
        match (policies.contains_key("default:big"), self.rules_of("big")) {
            (true, RULES) | (false, 0) => {}
            (present, n) => {
                return Err(format!(
                    "policy big present={present} with {n} of {RULES} rules"
                ));
            }
        }
        if let Some(r) = rules
            .values()
            .find(|r| !policies.contains_key(&format!("{}:{}", r.tenant_name, r.policy_name)))
        {
            return Err(format!("rule {} of a missing policy", r.key));
        }
        if self.intents() != 0 {
            return Err("an intent record is left".into());
        }
        let networks = self.objects::<Network>();
        let net_states = self.opers::<NetworkState>(Network::TYPE);
        let same = |a: BTreeSet<&String>, b: BTreeSet<&String>, what: &str| {
            if a == b {
                Ok(())
            } else {
                Err(format!("{what}: {a:?} vs {b:?}"))
            }
        };
        same(
            networks.keys().collect(),
            net_states.keys().collect(),
            "networks vs their states",
        )?;
        same(
            networks.keys().collect(),
            self.pools.keys().collect(),
            "networks vs their pools",
        )?;
        let vnis: BTreeSet<u32> = net_states.values().map(|s| s.ext_pkt_tag).collect();
        if vnis != self.vnis {
            return Err(format!("VNIs held {:?} vs allocated {:?}", vnis, self.vnis));
        }
        let groups = self.objects::<EndpointGroup>();
        let group_states = self.opers::<EpgState>(EndpointGroup::TYPE);
        same(
            groups.keys().collect(),
            group_states.keys().collect(),
            "groups vs their states",
        )?;
        let ids: BTreeSet<u32> = group_states.values().map(|s| s.epg_id).collect();
        if ids != self.epg_ids {
            return Err(format!(
                "group ids held {ids:?} vs allocated {:?}",
                self.epg_ids
            ));
        }
        let pooled: BTreeSet<&String> = groups
            .iter()
            .filter(|(_, g)| !g.ip_pool.is_empty())
            .map(|(k, _)| k)
            .collect();
        same(
            pooled,
            self.group_pools.keys().collect(),
            "ip-pool groups vs their pools",
        )?;
        let services = self.objects::<ServiceLB>();
        let service_states = self.opers::<ServiceState>(ServiceLB::TYPE);
        same(
            services.keys().collect(),
            service_states.keys().collect(),
            "services vs their VIPs",
        )?;
        // Who holds each address.
        let mut held: BTreeMap<String, BTreeSet<Ipv4Addr>> = BTreeMap::new();
        let mut held_in_group: BTreeMap<String, BTreeSet<Ipv4Addr>> = BTreeMap::new();
        for (_, e) in self.values::<EndpointRecord>(&self.keys.all_endpoints()) {
            let ip = e
                .ipv4
                .ok_or_else(|| format!("endpoint {} has no address", e.id))?;
            let gk = e.group_key();
            let slot = match gk.filter(|k| self.group_pools.contains_key(k)) {
                Some(k) => held_in_group.entry(k).or_default(),
                None => held.entry(e.network_key()).or_default(),
            };
            if !slot.insert(ip) {
                return Err(format!("address {ip} held twice"));
            }
        }
        for (k, s) in &service_states {
            let net = services
                .get(k)
                .map(|s| format!("{}:{}", s.tenant_name, s.network_name))
                .ok_or_else(|| format!("VIP of a missing service {k}"))?;
            if !held.entry(net).or_default().insert(s.vip) {
                return Err(format!("VIP {} held twice", s.vip));
            }
        }
        for (net, pool) in &self.pools {
            let allocated: BTreeSet<Ipv4Addr> = pool.allocated_addresses().into_iter().collect();
            let holders = held.remove(net).unwrap_or_default();
            if allocated != holders {
                return Err(format!(
                    "network {net}: allocated {allocated:?} but held {holders:?}"
                ));
            }
        }
        if let Some((net, h)) = held.into_iter().next() {
            return Err(format!("addresses {h:?} held on {net}, which has no pool"));
        }
        for (g, pool) in &self.group_pools {
            let allocated: BTreeSet<Ipv4Addr> = pool.allocated_addresses().into_iter().collect();
            let holders = held_in_group.remove(g).unwrap_or_default();
            if allocated != holders {
                return Err(format!(
                    "group {g}: allocated {allocated:?} but held {holders:?}"
                ));
            }
        }
        Ok(())
    }
}

#[test]
fn kill_9_during_multi_object_writes_leaves_every_change_whole() {
    let dir = tempfile::tempdir().expect("tmp");
    let seed = seed(dir.path());
    assert!(Snapshot::read(&seed).check().is_ok());

    // Calibration: how long the large delete takes under churn.
    let calib = dir.path().join("calibrate.redb");
    std::fs::copy(&seed, &calib).expect("copy");
    let mut p = start(dir.path(), "calibrate", &calib);
    let c = p.client();
    let stop = Arc::new(AtomicBool::new(false));
    let churner = {
        let (c, stop) = (c.clone(), stop.clone());
        std::thread::spawn(move || churn(&c, &stop))
    };
    let t0 = Instant::now();
    let r = c.delete("/api/v1/policys/default:big/");
    let took = t0.elapsed();
    assert_eq!(r.status, 200, "{}", r.body);
    stop.store(true, Ordering::Relaxed);
    churner.join().expect("churn");
    assert_eq!(p.terminate(Duration::from_secs(10)).code(), Some(0));
    let after = Snapshot::read(&calib);
    after.check().expect("a clean run is consistent");
    assert_eq!(after.rules_of("big"), 0);

    // The rounds: kills spread over the delete's duration (plus a little
    // beyond it, into the churn).
    let mut seed_rng = u64::from(std::process::id()) ^ 0x9e37_79b9_7f4a_7c15;
    let mut mid_delete = 0;
    for round in 0..ROUNDS {
        seed_rng = seed_rng
            .wrapping_mul(6_364_136_223_846_793_005)
            .wrapping_add(1_442_695_040_888_963_407);
        let jitter = (seed_rng >> 33) as f64 / f64::from(1u32 << 31);
        let delay = took.mul_f64((round as f64 + jitter) / ROUNDS as f64 * 1.25);
        let file = dir.path().join(format!("round{round}.redb"));
        std::fs::copy(&seed, &file).expect("copy");
        let mut p = start(dir.path(), &format!("round{round}"), &file);
        let c = p.client();
        let stop = Arc::new(AtomicBool::new(false));
        let churner = {
            let (c, stop) = (c.clone(), stop.clone());
            std::thread::spawn(move || churn(&c, &stop))
        };
        let deleter = {
            let c = c.clone();
            std::thread::spawn(move || c.try_send("DELETE", "/api/v1/policys/default:big/", None))
        };
        std::thread::sleep(delay);
        p.kill9();
        stop.store(true, Ordering::Relaxed);
        let _ = deleter.join();
        churner.join().expect("churn");
        // The state the crash left.
        let crashed = Snapshot::read(&file);
        let interrupted = crashed.intents() > 0;
        if interrupted {
            mid_delete += 1;
            assert!(
                !crashed.objects::<Policy>().contains_key("default:big"),
                "round {round}: an intent record but the policy is still there"
            );
        } else {
            // Without an intent record the store is already whole.
            crashed
                .check()
                .unwrap_or_else(|e| panic!("round {round} (killed after {delay:?}): {e}"));
        }
        // Recovery: a new netmaster completes what was decided before it
        // accepts a write.
        let mut p = start(dir.path(), &format!("recover{round}"), &file);
        let r = p
            .client()
            .post("/api/v1/tenants/after/", &json!({"tenantName": "after"}));
        assert_eq!(r.status, 200, "round {round}: {}", r.body);
        assert_eq!(p.terminate(Duration::from_secs(10)).code(), Some(0));
        Snapshot::read(&file).check().unwrap_or_else(|e| {
            panic!(
                "round {round} (killed after {delay:?}, intent on disk: {interrupted}): {e}\n{}",
                p.log_text()
            )
        });
    }
    eprintln!(
        "crash rounds: {ROUNDS}, policy delete took {took:?}, {mid_delete} kill(s) inside it"
    );
    assert!(
        mid_delete > 0,
        "no kill landed inside the {took:?} policy delete in {ROUNDS} rounds"
    );
}
