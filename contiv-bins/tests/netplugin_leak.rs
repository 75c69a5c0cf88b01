//! The leak test: 1,000 attach/detach cycles through the CNI API and the
//! Docker plugin with faults injected at random between every step (and in
//! the datapath). The test behaves as the runtimes do — a CNI runtime
//! calls DEL after a failed ADD and retries a failed DEL; Docker calls
//! ReleaseAddress after a failed CreateEndpoint and after DeleteEndpoint
//! whatever its outcome — and at the end netmaster holds no endpoint, no
//! reservation and no allocated address, and the datapath no local
//! endpoint and no membership.

#[path = "netplugin_support/mod.rs"]
mod support;

#[cfg(test)]
mod netplugin {
    use super::support::{Cluster, TestAgent, eventually};
    use contiv_bins::netplugin::faults::Step;
    use serde_json::{Value, json};
    use std::time::Duration;

    const CYCLES: usize = 1000;

    struct Rng(u64);
    impl Rng {
        fn below(&mut self, n: u64) -> u64 {
            self.0 ^= self.0 << 13;
            self.0 ^= self.0 >> 7;
            self.0 ^= self.0 << 17;
            self.0 % n
        }
    }

    async fn until_ok(a: &TestAgent, what: &str, mut f: impl AsyncFnMut() -> (u16, Value)) {
        for _ in 0..50 {
            let (s, r) = f().await;
            if s == 200 && r.get("Err").is_none() {
                return;
            }
            let _ = a;
        }
        panic!("{what} kept failing");
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn a_thousand_faulty_cycles_leak_nothing() {
        let c = Cluster::start(&[]).await;
        c.network("default", "contiv-net", "10.1.0.0/16", "10.1.255.254")
            .await;
        c.policy("p").await;
        c.group("contiv-net", "g", &["p"]).await;
        c.rule("p", "1", json!({"protocol": "tcp", "port": 22}))
            .await;
        let a = TestAgent::start_cfg(&c, "h1", "192.0.2.1", |cfg| {
            cfg.faults = Some("*=0.07".into());
            cfg.fault_seed = 42;
        })
        .await;
        let pool = {
            let (s, r) = a
                .docker("IpamDriver.RequestPool", json!({"Pool": "10.1.0.0/16"}))
                .await;
            assert_eq!(s, 200, "{r}");
            r["PoolID"].as_str().unwrap().to_owned()
        };
        let (s, r) = a
            .docker(
                "NetworkDriver.CreateNetwork",
                json!({"NetworkID": "dn", "IPv4Data": [{"Pool": "10.1.0.0/16"}]}),
            )
            .await;
        assert_eq!(s, 200, "{r}");
        let mut rng = Rng(0x1234_5678_9abc_def1);
        let (mut added, mut failed_adds) = (0, 0);
        for i in 0..CYCLES {
            if rng.below(2) == 0 {
                // CNI: ADD [CHECK] DEL, DEL retried until it succeeds.
                let cid = format!("c{i}");
                let group = if rng.below(2) == 0 { "g" } else { "" };
                let body = json!({"container_id": cid, "ifname": "eth0", "netns": "/run/netns/x",
                                  "network": "contiv-net", "group": group});
                let before = c.allocated("default:contiv-net").await;
                let (s, _) = a.cni("/cni/add", body).await;
                if s == 200 {
                    added += 1;
                    if rng.below(4) == 0 {
                        let (s, r) = a
                            .cni("/cni/check", json!({"container_id": cid, "ifname": "eth0"}))
                            .await;
                        assert_eq!(s, 200, "CHECK after a successful ADD: {r}");
                    }
                } else {
                    // A failed ADD left nothing: no record, no address, no
                    // local endpoint.
                    failed_adds += 1;
                    let id = format!("{cid}-eth0");
                    assert!(
                        c.endpoints().iter().all(|e| e.id != id),
                        "failed ADD {id} left its record"
                    );
                    assert_eq!(
                        c.allocated("default:contiv-net").await,
                        before,
                        "failed ADD {id} left its address"
                    );
                    assert!(
                        a.dp.state().local_endpoints.iter().all(|e| e.id != id),
                        "failed ADD {id} left its port"
                    );
                }
                until_ok(&a, "DEL", async || {
                    a.cni(
                        "/cni/del",
                        json!({"container_id": cid, "ifname": "eth0", "network": "contiv-net"}),
                    )
                    .await
                })
                .await;
            } else {
                // Docker: RequestAddress, CreateEndpoint, Join, Leave,
                // DeleteEndpoint, ReleaseAddress.
                let (s, r) = a
                    .docker("IpamDriver.RequestAddress", json!({"PoolID": pool}))
                    .await;
                if s != 200 {
                    continue;
                }
                let addr = r["Address"].as_str().unwrap().to_owned();
                let ep = format!("ep{i}");
                let (s, _) = a
                    .docker("NetworkDriver.CreateEndpoint", json!({"NetworkID": "dn", "EndpointID": ep, "Interface": {"Address": addr}}))
                    .await;
                if s == 200 {
                    added += 1;
                    let (s, r) = a
                        .docker(
                            "NetworkDriver.Join",
                            json!({"NetworkID": "dn", "EndpointID": ep}),
                        )
                        .await;
                    assert_eq!(s, 200, "Join after a successful CreateEndpoint: {r}");
                    a.docker(
                        "NetworkDriver.Leave",
                        json!({"NetworkID": "dn", "EndpointID": ep}),
                    )
                    .await;
                    a.docker(
                        "NetworkDriver.DeleteEndpoint",
                        json!({"NetworkID": "dn", "EndpointID": ep}),
                    )
                    .await;
                } else {
                    // The address stays reserved for Docker's
                    // ReleaseAddress; nothing else stays.
                    failed_adds += 1;
                    assert!(
                        c.endpoints().iter().all(|e| e.id != ep),
                        "failed CreateEndpoint {ep} left its record"
                    );
                    assert!(
                        a.dp.state().local_endpoints.iter().all(|e| e.id != ep),
                        "failed CreateEndpoint {ep} left its port"
                    );
                    let ip = addr.split('/').next().unwrap();
                    assert!(
                        c.reservations()
                            .await
                            .iter()
                            .any(|r| r.ipv4.to_string() == ip)
                    );
                }
                until_ok(&a, "ReleaseAddress", async || {
                    a.docker(
                        "IpamDriver.ReleaseAddress",
                        json!({"PoolID": pool, "Address": addr}),
                    )
                    .await
                })
                .await;
            }
        }
        let injected = a.agent().core().faults().injected();
        for step in Step::ALL {
            assert!(
                injected.get(&step).copied().unwrap_or(0) > 0,
                "no fault fired at {step}: {injected:?}"
            );
        }
        assert!(
            added > 300 && failed_adds > 50,
            "added {added}, failed {failed_adds}"
        );

        let settled = eventually(Duration::from_secs(20), async || {
            let st = a.dp.state();
            (c.endpoints().is_empty()
                && c.reservations().await.is_empty()
                && c.allocated("default:contiv-net").await == 0
                && st.local_endpoints.is_empty()
                && st.policy.members.is_empty())
            .then_some(())
        })
        .await;
        let st = a.dp.state();
        assert!(
            settled.is_some(),
            "leaked: {} endpoints, {} reservations, {} addresses at netmaster; {} local endpoints, {} memberships in the datapath",
            c.endpoints().len(),
            c.reservations().await.len(),
            c.allocated("default:contiv-net").await,
            st.local_endpoints.len(),
            st.policy.members.len()
        );
        // The rule of the group stays only while the group has local
        // endpoints.
        assert!(st.policy.rules.is_empty());
        assert!(a.agent().core().reconciler().status().ops_failed > 0);
    }
}
