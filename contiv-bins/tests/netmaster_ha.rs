//! High availability with real processes, once per store: a 3-member etcd
//! cluster on loopback, and the wire-faithful Consul test server with three
//! agents (each netmaster prefers its own agent and fails over to the
//! others). Three `netmaster` processes run on the store (leader TTL 2 s).
//! Two clients stream endpoint creates, one through a follower and one
//! through the leader; the leader is killed with SIGKILL mid-stream,
//! restarted, and the new leader killed again — three times. Checked after
//! every kill: a new leader serves writes within TTL × (1 + the store's
//! lease expiry factor) of the kill (etcd expires a lease on time, Consul up
//! to twice its TTL; a property of the lease, not a speed benchmark); at the
//! end: every acknowledged create is in the store with the address it was
//! acknowledged with, no two endpoints share an address, and the network's
//! allocator state holds exactly the live endpoints' addresses.

mod support;

#[cfg(test)]
mod netmaster {
    use super::support::process::NetmasterProcess;
    use super::support::stores::{consul_env, consul_server, unique_root};
    use super::support::{Client, free_port, wait_until};
    use contiv_core::records::EndpointRecord;
    use contiv_core::store::keys::Keys;
    use contiv_ipam::Ipam;
    use contiv_store::testing::{ConsulTestServer, EtcdCluster};
    use serde_json::{Value, json};
    use std::collections::{BTreeMap, BTreeSet};
    use std::net::Ipv4Addr;
    use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
    use std::sync::{Arc, Mutex};
    use std::time::{Duration, Instant};

    const TTL: Duration = Duration::from_secs(2);

    /// The store an HA test runs on.
    enum HaStore {
        /// A 3-member etcd cluster.
        Etcd(EtcdCluster),
        /// The Consul test server with `n` agents on one state.
        Consul(ConsulTestServer),
    }

    impl HaStore {
        fn etcd() -> Self {
            HaStore::Etcd(EtcdCluster::start(3).expect("start a 3-member etcd cluster"))
        }

        fn consul(agents: usize) -> Self {
            HaStore::Consul(consul_server(agents))
        }

        /// The store URL of netmaster `i` (Consul: its own agent first).
        fn url(&self, i: usize) -> String {
            match self {
                HaStore::Etcd(c) => c.store_url(),
                HaStore::Consul(s) => {
                    let mut agents = s.addresses();
                    let n = agents.len();
                    agents.rotate_left(i % n);
                    format!("consul://{}", agents.join(","))
                }
            }
        }

        /// The environment a netmaster process on this store needs.
        fn env(&self) -> Vec<(&'static str, &'static str)> {
            match self {
                HaStore::Etcd(_) => Vec::new(),
                HaStore::Consul(_) => consul_env(),
            }
        }

        /// How long a takeover may take after the leader died: its lease
        /// runs out (Consul: up to twice the TTL), then one more TTL for
        /// the new leader to be elected and serve.
        fn takeover_bound(&self, ttl: Duration) -> Duration {
            let factor = match self {
                HaStore::Etcd(_) => 1,
                HaStore::Consul(_) => 2,
            };
            ttl * (1 + factor)
        }
    }

    /// The index of the netmaster every live one names as leader.
    fn agreed_leader(clients: &[Option<Client>]) -> Option<usize> {
        let mut leader_urls = BTreeSet::new();
        let mut leaders = Vec::new();
        for (i, c) in clients.iter().enumerate() {
            let Some(c) = c else { continue };
            let info = c.try_send("GET", "/info", None).ok()?;
            if info.status != 200 {
                return None;
            }
            let info = info.json();
            if info["current-state"] == "leader" {
                leaders.push(i);
            }
            leader_urls.insert(info["leader-ip"].as_str()?.to_owned());
        }
        (leaders.len() == 1
            && leader_urls.len() == 1
            && leader_urls.contains(clients[leaders[0]].as_ref()?.base()))
        .then(|| leaders[0])
    }

    /// What one writer saw acknowledged: endpoint id → address.
    type Acks = Arc<Mutex<BTreeMap<String, Ipv4Addr>>>;

    /// Creates endpoints `<prefix>-0..` through `targets[0]` (falling back
    /// to the others when it stops answering), retrying a failed create
    /// with the same id (creates are idempotent), until `stop`.
    /// When each acknowledged request was sent and answered.
    type Times = Arc<Mutex<Vec<(Instant, Instant)>>>;

    fn writer(
        prefix: &'static str,
        targets: Vec<Client>,
        acks: Acks,
        stop: Arc<AtomicBool>,
        times: Times,
        errors: Arc<AtomicUsize>,
    ) -> std::thread::JoinHandle<()> {
        std::thread::spawn(move || {
            let mut n = 0u32;
            let mut t = 0usize;
            while !stop.load(Ordering::Relaxed) {
                let id = format!("{prefix}-{n}");
                let body = json!({"id": id, "network": "n1", "host": format!("host-{prefix}")});
                let sent = Instant::now();
                match targets[t].try_send(
                    "POST",
                    "/api/v1/agent/endpoints/",
                    Some(&body.to_string()),
                ) {
                    Ok(r) if r.status == 200 => {
                        let ip: Ipv4Addr = r.json()["endpoint"]["ipv4"]
                            .as_str()
                            .unwrap()
                            .parse()
                            .unwrap();
                        let prev = acks.lock().unwrap().insert(id, ip);
                        if let Some(p) = prev {
                            assert_eq!(p, ip, "a retried create got another address");
                        }
                        times.lock().unwrap().push((sent, Instant::now()));
                        n += 1;
                    }
                    Ok(r) => {
                        // 503 (no leader / leader unreachable) is expected
                        // during the switch; anything else is a bug.
                        assert!(
                            r.status == 503 || r.status == 504,
                            "create {id}: {} {}",
                            r.status,
                            r.body
                        );
                        errors.fetch_add(1, Ordering::Relaxed);
                        std::thread::sleep(Duration::from_millis(20));
                    }
                    Err(_) => {
                        errors.fetch_add(1, Ordering::Relaxed);
                        t = (t + 1) % targets.len();
                        std::thread::sleep(Duration::from_millis(20));
                    }
                }
            }
        })
    }

    #[test]
    fn etcd_leader_killed_repeatedly_loses_nothing() {
        leader_killed_repeatedly_loses_nothing(HaStore::etcd(), 3);
    }

    #[test]
    fn consul_leader_killed_repeatedly_loses_nothing() {
        leader_killed_repeatedly_loses_nothing(HaStore::consul(3), 3);
    }

    fn spawn_netmaster(
        dir: &std::path::Path,
        store: &HaStore,
        root: &str,
        i: usize,
        port: u16,
    ) -> NetmasterProcess {
        let url = store.url(i);
        let ttl = format!("{}s", TTL.as_secs());
        let mut p = NetmasterProcess::spawn(
            dir,
            &format!("nm{i}"),
            Some(port),
            &[
                "--store",
                &url,
                "--store-root",
                root,
                "--leader-ttl",
                &ttl,
                "--mode",
                "test",
            ],
            &store.env(),
        );
        p.wait_listening(Duration::from_secs(30));
        p
    }

    fn leader_killed_repeatedly_loses_nothing(store: HaStore, kills: usize) {
        let dir = tempfile::Builder::new()
            .prefix("contiv-nm-ha-")
            .tempdir()
            .unwrap();
        let root = unique_root();
        let ports: Vec<u16> = (0..3).map(|_| free_port()).collect();
        let mut procs: Vec<Option<NetmasterProcess>> = ports
            .iter()
            .enumerate()
            .map(|(i, p)| Some(spawn_netmaster(dir.path(), &store, &root, i, *p)))
            .collect();
        let mut clients: Vec<Option<Client>> = procs
            .iter()
            .map(|p| p.as_ref().map(|p| p.client()))
            .collect();
        let leader = wait_until(Duration::from_secs(30), || agreed_leader(&clients))
            .expect("the three netmasters agree on one leader");
        let followers: Vec<usize> = (0..3).filter(|i| *i != leader).collect();
        let any = clients[followers[0]].clone().unwrap();
        assert!(
            wait_until(Duration::from_secs(30), || any
                .try_send("GET", "/api/v1/tenants/default/", None)
                .ok()
                .filter(|r| r.status == 200))
            .is_some()
        );
        let r = any.post(
            "/api/v1/networks/default:n1/",
            &json!({"tenantName": "default", "networkName": "n1",
            "encap": "vxlan", "subnet": "10.50.0.0/16", "gateway": "10.50.255.254"}),
        );
        assert_eq!(r.status, 200, "{}", r.body);

        // Two writers: through the first follower and through the leader,
        // each falling back to the others (a killed netmaster comes back
        // on its port).
        let stop = Arc::new(AtomicBool::new(false));
        let errors = Arc::new(AtomicUsize::new(0));
        let times: Times = Arc::default();
        let acks_f: Acks = Arc::default();
        let acks_l: Acks = Arc::default();
        let c = |i: usize| clients[i].clone().unwrap();
        let wf = writer(
            "f",
            vec![c(followers[0]), c(followers[1]), c(leader)],
            acks_f.clone(),
            stop.clone(),
            times.clone(),
            errors.clone(),
        );
        let wl = writer(
            "l",
            vec![c(leader), c(followers[0]), c(followers[1])],
            acks_l.clone(),
            stop.clone(),
            times.clone(),
            errors.clone(),
        );
        let progressed = |f: usize, l: usize| {
            wait_until(Duration::from_secs(60), || {
                (acks_f.lock().unwrap().len() >= f && acks_l.lock().unwrap().len() >= l)
                    .then_some(())
            })
            .is_some()
        };
        assert!(progressed(100, 100), "writers made no progress");

        let bound = store.takeover_bound(TTL);
        let mut leader = leader;
        for round in 1..=kills {
            // Kill the leader mid-stream.
            let before_kill = (acks_f.lock().unwrap().len(), acks_l.lock().unwrap().len());
            let killed_at = Instant::now();
            procs[leader].as_mut().unwrap().kill9();
            clients[leader] = None;
            // Failover: the first write that was sent after the kill (so
            // only a new leader can have served it) and acknowledged.
            let elected = wait_until(Duration::from_secs(30), || {
                agreed_leader(&clients).map(|l| (l, killed_at.elapsed()))
            })
            .expect("the survivors agree on a new leader");
            let first_write = wait_until(Duration::from_secs(30), || {
                times
                    .lock()
                    .unwrap()
                    .iter()
                    .filter(|(sent, _)| *sent > killed_at)
                    .map(|(_, acked)| *acked)
                    .min()
            })
            .expect("no write was acknowledged after the leader was killed");
            let new_leader = elected.0;
            assert_ne!(new_leader, leader);
            let serve_gap = first_write.saturating_duration_since(killed_at);
            assert!(
                serve_gap <= bound,
                "round {round}: a new leader served writes {serve_gap:?} after the kill (TTL {TTL:?}, bound {bound:?})"
            );
            eprintln!(
                "round {round}: new leader nm{new_leader}, first acknowledged write {serve_gap:?} after the kill (agreement seen at {:?}); {} retried requests",
                elected.1,
                errors.load(Ordering::Relaxed)
            );
            // Keep streaming through the new term, then bring the killed
            // netmaster back (it rejoins as a follower).
            assert!(
                progressed(before_kill.0 + 50, before_kill.1 + 50),
                "writers stalled after the failover"
            );
            procs[leader] = Some(spawn_netmaster(
                dir.path(),
                &store,
                &root,
                leader,
                ports[leader],
            ));
            clients[leader] = procs[leader].as_ref().map(|p| p.client());
            leader = wait_until(Duration::from_secs(30), || agreed_leader(&clients))
                .expect("three netmasters agree again");
            assert_eq!(leader, new_leader, "the restarted netmaster took over");
        }
        stop.store(true, Ordering::Relaxed);
        wf.join().expect("follower writer");
        wl.join().expect("leader writer");

        // Check the store directly.
        let rt = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .unwrap();
        let store_handle = rt
            .block_on(contiv_store::open_store(&store.url(0)))
            .expect("open the store");
        let keys = Keys::new(&root);
        let list = rt
            .block_on(store_handle.list(&keys.endpoints_of("default:n1")))
            .unwrap();
        let mut stored: BTreeMap<String, Ipv4Addr> = BTreeMap::new();
        for kv in &list.kvs {
            let rec: EndpointRecord = serde_json::from_slice(&kv.value).unwrap();
            stored.insert(rec.id.clone(), rec.ipv4.expect("an IPv4 address"));
        }
        let acked: BTreeMap<String, Ipv4Addr> = acks_f
            .lock()
            .unwrap()
            .iter()
            .chain(acks_l.lock().unwrap().iter())
            .map(|(k, v)| (k.clone(), *v))
            .collect();
        assert!(
            acked.len() >= 200 + 100 * kills,
            "{} acknowledged creates",
            acked.len()
        );
        for (id, ip) in &acked {
            assert_eq!(
                stored.get(id),
                Some(ip),
                "acknowledged endpoint {id} ({ip}) is missing or changed"
            );
        }
        // Unacknowledged creates (the ones in flight at the kills) may
        // exist; nothing else.
        let extra: Vec<&String> = stored.keys().filter(|k| !acked.contains_key(*k)).collect();
        assert!(
            extra.len() <= 2 * kills,
            "endpoints nobody created: {extra:?}"
        );
        let ips: BTreeSet<Ipv4Addr> = stored.values().copied().collect();
        assert_eq!(ips.len(), stored.len(), "two endpoints share an address");
        // The allocator holds exactly the live addresses.
        let ipam = Ipam::with_options(store_handle.clone(), keys.clone(), Default::default());
        let allocated: BTreeSet<Ipv4Addr> = rt
            .block_on(
                ipam.network_v4("default:n1")
                    .read(|p| p.allocated_addresses()),
            )
            .unwrap()
            .into_iter()
            .collect();
        assert_eq!(
            allocated, ips,
            "allocator state differs from the live endpoints"
        );
        // Every netmaster's cache agrees with the store.
        for c in clients.iter().flatten() {
            let ok = wait_until(Duration::from_secs(10), || {
                let o: Value = c.get("/api/v1/inspect/networks/default:n1/").json();
                (o["Oper"]["numEndpoints"] == stored.len()).then_some(())
            });
            assert!(ok.is_some(), "{} disagrees with the store", c.base());
        }
        drop(store_handle);
        drop(procs);
        drop(store);
    }

    fn signal(p: &NetmasterProcess, sig: libc::c_int) {
        let pid = libc::pid_t::try_from(p.pid()).unwrap();
        // SAFETY: kill(2) has no memory-safety preconditions; the pid is
        // our own running child.
        assert_eq!(unsafe { libc::kill(pid, sig) }, 0);
    }

    /// Fencing: a leader that is paused (SIGSTOP) past its lease is
    /// replaced; when it resumes, requests it had queued and new ones are
    /// either refused (503, nothing written) or handled correctly — it can
    /// never commit as a stale leader. Afterwards every acknowledged create
    /// is stored, addresses are unique and the allocator matches.
    #[test]
    fn etcd_paused_leader_cannot_commit_after_losing_its_lease() {
        let etcd = super::support::stores::shared_etcd();
        paused_leader_cannot_commit_after_losing_its_lease(&etcd.store_url(), &[]);
    }

    #[test]
    fn consul_paused_leader_cannot_commit_after_losing_its_lease() {
        let consul = consul_server(2);
        paused_leader_cannot_commit_after_losing_its_lease(&consul.store_url(), &consul_env());
    }

    fn paused_leader_cannot_commit_after_losing_its_lease(store_url: &str, env: &[(&str, &str)]) {
        let dir = tempfile::Builder::new()
            .prefix("contiv-nm-fence-")
            .tempdir()
            .unwrap();
        let root = unique_root();
        let ports = [free_port(), free_port()];
        let procs: Vec<NetmasterProcess> = ports
            .iter()
            .enumerate()
            .map(|(i, p)| {
                let mut n = NetmasterProcess::spawn(
                    dir.path(),
                    &format!("nm{i}"),
                    Some(*p),
                    &[
                        "--store",
                        store_url,
                        "--store-root",
                        &root,
                        "--leader-ttl",
                        "1s",
                        "--mode",
                        "test",
                    ],
                    env,
                );
                n.wait_listening(Duration::from_secs(30));
                n
            })
            .collect();
        let clients: Vec<Option<Client>> = procs.iter().map(|p| Some(p.client())).collect();
        let old =
            wait_until(Duration::from_secs(30), || agreed_leader(&clients)).expect("a leader");
        let new = 1 - old;
        let oc = clients[old].clone().unwrap();
        let nc = clients[new].clone().unwrap();
        assert!(
            wait_until(Duration::from_secs(30), || oc
                .try_send("GET", "/api/v1/tenants/default/", None)
                .ok()
                .filter(|r| r.status == 200))
            .is_some()
        );
        let r = oc.post(
            "/api/v1/networks/default:n1/",
            &json!({"tenantName": "default", "networkName": "n1",
            "encap": "vxlan", "subnet": "10.60.0.0/24"}),
        );
        assert_eq!(r.status, 200, "{}", r.body);

        signal(&procs[old], libc::SIGSTOP);
        // Requests sent to the paused leader wait in its socket backlog.
        let queued: Vec<std::thread::JoinHandle<(String, Result<super::support::Resp, String>)>> =
            (0..8)
                .map(|i| {
                    let c = oc.clone();
                    std::thread::spawn(move || {
                        let id = format!("old-{i}");
                        let body = json!({"id": id, "network": "n1", "host": "h1"}).to_string();
                        (
                            id,
                            c.try_send("POST", "/api/v1/agent/endpoints/", Some(&body)),
                        )
                    })
                })
                .collect();
        // The other netmaster takes over and serves writes.
        let took_over = wait_until(Duration::from_secs(10), || {
            let i = nc.try_send("GET", "/info", None).ok()?.json();
            (i["current-state"] == "leader").then_some(())
        });
        assert!(
            took_over.is_some(),
            "no takeover:\n{}",
            procs[new].log_text()
        );
        let mut acked: BTreeMap<String, Ipv4Addr> = BTreeMap::new();
        for i in 0..5 {
            let id = format!("new-{i}");
            let body = json!({"id": id, "network": "n1", "host": "h1"}).to_string();
            // A new leader answers 503 ("starting its leader term …;
            // retry") until it has completed interrupted changes: retry
            // that, as an agent does, and nothing else.
            let r = wait_until(Duration::from_secs(10), || {
                let r = nc
                    .try_send("POST", "/api/v1/agent/endpoints/", Some(&body))
                    .ok()?;
                (r.status != 503).then_some(r)
            })
            .expect("the new leader finishes starting its term");
            assert_eq!(r.status, 200, "{}", r.body);
            acked.insert(
                id,
                r.json()["endpoint"]["ipv4"]
                    .as_str()
                    .unwrap()
                    .parse()
                    .unwrap(),
            );
        }
        signal(&procs[old], libc::SIGCONT);
        let mut refused = 0;
        let mut reasons = BTreeSet::new();
        for h in queued {
            let (id, r) = h.join().unwrap();
            match r {
                Ok(r) if r.status == 200 => {
                    acked.insert(
                        id,
                        r.json()["endpoint"]["ipv4"]
                            .as_str()
                            .unwrap()
                            .parse()
                            .unwrap(),
                    );
                }
                Ok(r) => {
                    assert_eq!(r.status, 503, "{id}: {}", r.body);
                    reasons.insert(r.body.trim().to_owned());
                    refused += 1;
                }
                Err(e) => panic!("{id}: no answer from the resumed netmaster: {e}"),
            }
        }
        // The resumed netmaster follows the new leader.
        let follows = wait_until(Duration::from_secs(10), || {
            let i = oc.try_send("GET", "/info", None).ok()?.json();
            (i["current-state"] == "follower").then_some(())
        });
        assert!(
            follows.is_some(),
            "the old leader did not step down:\n{}",
            procs[old].log_text()
        );
        eprintln!(
            "fencing: {refused} of 8 queued requests refused with 503 ({reasons:?}), the rest served after the switch"
        );

        let rt = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .unwrap();
        let store = rt.block_on(contiv_store::open_store(store_url)).unwrap();
        let keys = Keys::new(&root);
        let list = rt
            .block_on(store.list(&keys.endpoints_of("default:n1")))
            .unwrap();
        let stored: BTreeMap<String, Ipv4Addr> = list
            .kvs
            .iter()
            .map(|kv| {
                let rec: EndpointRecord = serde_json::from_slice(&kv.value).unwrap();
                (rec.id.clone(), rec.ipv4.unwrap())
            })
            .collect();
        for (id, ip) in &acked {
            assert_eq!(
                stored.get(id),
                Some(ip),
                "acknowledged {id} missing or changed"
            );
        }
        assert_eq!(
            stored.len(),
            acked.len(),
            "a refused request left an endpoint: {stored:?}"
        );
        let ips: BTreeSet<Ipv4Addr> = stored.values().copied().collect();
        assert_eq!(ips.len(), stored.len(), "two endpoints share an address");
        let ipam = Ipam::with_options(store.clone(), keys, Default::default());
        let allocated: BTreeSet<Ipv4Addr> = rt
            .block_on(
                ipam.network_v4("default:n1")
                    .read(|p| p.allocated_addresses()),
            )
            .unwrap()
            .into_iter()
            .collect();
        assert_eq!(allocated, ips);
        drop(store);
        drop(procs);
    }

    /// A leader whose lock was taken over behind its back (the key now has
    /// another revision) cannot commit: its next write fails the fence
    /// check in the store, answers 503 and writes nothing.
    #[test]
    fn etcd_a_write_with_a_stale_fence_is_refused() {
        a_write_with_a_stale_fence_is_refused(super::support::Backend::Etcd);
    }

    #[test]
    fn consul_a_write_with_a_stale_fence_is_refused() {
        a_write_with_a_stale_fence_is_refused(super::support::Backend::Consul);
    }

    fn a_write_with_a_stale_fence_is_refused(backend: super::support::Backend) {
        use super::support::TestNetmaster;
        use contiv_core::store::{Precondition, PutOptions};
        // A long TTL: the leader checks its key only every TTL/3 = 2 s
        // (Consul rounds it up to its 10 s minimum: every 3.3 s).
        let tn = TestNetmaster::start_with(backend, &["--leader-ttl", "6s"]);
        tn.create(
            "networks",
            "default:n1",
            json!({"tenantName": "default", "networkName": "n1", "encap": "vxlan", "subnet": "10.1.1.0/24"}),
        );
        let leader_key = Keys::new(&tn.root).leader();
        tn.block_on(tn.store.put(
            &leader_key,
            b"http://someone-else:9999".to_vec(),
            PutOptions {
                precondition: Precondition::Any,
                lease: None,
            },
        ))
        .unwrap();
        let r = tn.fails(
            "POST",
            "/api/v1/agent/endpoints/",
            Some(&json!({"id": "ep1", "network": "n1", "host": "h1"})),
            503,
            "lost the leadership",
        );
        assert!(r.body.contains("nothing was written"), "{}", r.body);
        tn.fails(
            "POST",
            "/api/v1/tenants/t1/",
            Some(&json!({"tenantName": "t1"})),
            503,
            "",
        );
        // It notices and follows the new holder.
        let follows = wait_until(Duration::from_secs(10), || {
            let i = tn.client.try_send("GET", "/info", None).ok()?.json();
            (i["current-state"] == "follower" && i["leader-ip"] == "http://someone-else:9999")
                .then_some(())
        });
        assert!(follows.is_some());
    }
}
