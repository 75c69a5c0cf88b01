//! The netplugin agent against a real netmaster (in-process, embedded
//! store) with recording datapaths: registration and heartbeat, endpoints
//! created through the local API, remote endpoints and peers, policy
//! deltas, resync after a restart (with the exact report), watch
//! resumption after a netmaster restart, and vanished nodes.

#[path = "netplugin_support/mod.rs"]
mod support;

#[cfg(test)]
mod netplugin {
    use super::support::{Cluster, TestAgent, eventually};
    use axum::http::Method;
    use contiv_core::datapath::{Attachment, DpOp, Encap, LocalEndpoint};
    use contiv_core::ir::Action;
    use serde_json::{Value, json};
    use std::net::IpAddr;
    use std::time::Duration;

    const T: Duration = Duration::from_secs(15);

    fn add_body(cid: &str, network: &str, group: &str) -> Value {
        json!({"container_id": cid, "ifname": "eth0", "netns": format!("/run/netns/{cid}"),
               "network": network, "group": group, "pod_name": format!("pod-{cid}")})
    }

    /// netmaster's `notEnforced` for endpoint `id`, once it shows one.
    async fn inspect_not_enforced(c: &Cluster, id: &str) -> Value {
        let oper = eventually(T, async || {
            let v = c
                .ok(
                    Method::GET,
                    &format!("/api/v1/inspect/endpoints/{id}/"),
                    None,
                )
                .await;
            v["Oper"].get("notEnforced").is_some().then_some(v)
        })
        .await
        .expect("netmaster's inspect shows notEnforced");
        oper["Oper"]["notEnforced"].clone()
    }

    async fn register_node(c: &Cluster, host: &str, vtep: &str) {
        c.ok(
            Method::POST,
            &format!("/api/v1/agent/nodes/{host}/"),
            Some(json!({"node": {"hostname": host, "vtep_ip": vtep}})),
        )
        .await;
    }

    async fn remote_endpoint(c: &Cluster, id: &str, network: &str, host: &str) -> Value {
        c.ok(
            Method::POST,
            "/api/v1/agent/endpoints/",
            Some(json!({"id": id, "network": network, "host": host})),
        )
        .await
    }

    fn local(a: &TestAgent, id: &str) -> Option<LocalEndpoint> {
        a.dp.state()
            .local_endpoints
            .into_iter()
            .find(|e| e.id == id)
    }

    /// Issue 12 point 8: the agent's state directory (crash journal,
    /// Docker mappings) and its socket directory are created owner-only
    /// (0700) whatever the umask; `--add-timeout` values a timer cannot hold
    /// are refused, not a panic.
    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn state_directories_are_private() {
        use std::os::unix::fs::PermissionsExt;
        let c = Cluster::start(&[]).await;
        // SAFETY: umask(2) only changes this process's file-creation mask.
        let old = unsafe { libc::umask(0o000) };
        let a = TestAgent::start_cfg(&c, "h1", "192.0.2.1", |cfg| {
            cfg.state_dir = cfg.state_dir.join("deep/state");
            cfg.cni_socket = cfg.state_dir.join("../../run/cni.sock");
        })
        .await;
        // SAFETY: as above; restores the previous mask.
        unsafe { libc::umask(old) };
        let mode =
            |p: &std::path::Path| std::fs::metadata(p).expect("stat").permissions().mode() & 0o777;
        let state = &a.cfg.state_dir;
        for d in [
            state.clone(),
            state.join("pending"),
            state.join("plumbed"),
            state.parent().expect("parent").to_path_buf(),
            a.dir.join("state/run"),
        ] {
            assert_eq!(mode(&d), 0o700, "{}", d.display());
        }
        let mut bad = a.cfg.clone();
        bad.add_timeout = Duration::from_secs(u64::MAX / 2);
        let started = contiv_bins::netplugin::start_with(
            bad,
            std::sync::Arc::new(contiv_policy::RecordingDatapath::new()),
        )
        .await;
        let Err(e) = started else {
            panic!("an absurd --add-timeout was accepted");
        };
        assert!(e.contains("--add-timeout"), "{e}");
    }

    /// The node record appears, outlives several lease TTLs thanks to the
    /// heartbeat, and the agent reports ready.
    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn agent_registers_and_heartbeats() {
        let c = Cluster::start(&["--node-ttl", "1s"]).await;
        let a = TestAgent::start(&c, "h1", "192.0.2.1").await;
        assert_eq!(c.nodes(), vec!["h1".to_owned()]);
        let rec = c.netmaster().cache().read().nodes["h1"].clone();
        assert_eq!(rec.vtep_ip, "192.0.2.1".parse::<IpAddr>().unwrap());
        // Three TTLs later the lease is still held.
        tokio::time::sleep(Duration::from_secs(3)).await;
        assert_eq!(
            c.nodes(),
            vec!["h1".to_owned()],
            "the heartbeat did not keep the lease"
        );
        let st = a.agent().status();
        assert!(st.ready && st.registered && st.synced, "{st:?}");
        assert_eq!(st.datapath, "recording");
        // Both sockets are 0600 while served, and removed on a stop.
        use std::os::unix::fs::PermissionsExt;
        for sock in [a.cfg.cni_socket.clone(), a.cfg.docker_socket()] {
            let mode = std::fs::metadata(&sock).unwrap().permissions().mode();
            assert_eq!(mode & 0o777, 0o600, "{}", sock.display());
        }
        // A stopped agent's lease expires.
        let mut a = a;
        a.stop().await;
        assert!(!a.cfg.cni_socket.exists() && !a.cfg.docker_socket().exists());
        assert!(
            eventually(T, async || c.nodes().is_empty().then_some(()))
                .await
                .is_some(),
            "the node record did not expire after the agent stopped"
        );
    }

    /// ADD through the local API: the endpoint is at netmaster on this
    /// host and in the datapath with the network's spec and a netns
    /// attachment; CHECK passes; DEL removes both and is idempotent.
    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn endpoint_add_check_del_through_the_local_api() {
        let c = Cluster::start(&[]).await;
        c.network("default", "contiv-net", "10.1.2.0/24", "10.1.2.254")
            .await;
        let a = TestAgent::start(&c, "h1", "192.0.2.1").await;
        let (s, r) = a.cni("/cni/add", add_body("c1", "contiv-net", "")).await;
        assert_eq!(s, 200, "{r}");
        assert_eq!(r["endpoint_id"], "c1-eth0");
        assert_eq!(r["ipv4"], "10.1.2.1/24");
        assert_eq!(r["gateway"], "10.1.2.254");
        assert_eq!(r["mac"], "02:02:0a:01:02:01");
        assert_eq!(r["mtu"], 1450);

        let eps = c.endpoints();
        assert_eq!(eps.len(), 1);
        assert_eq!(eps[0].host, "h1");
        assert_eq!(eps[0].container_name, "pod-c1");
        let st = c.netmaster().cache().read().network_states["default:contiv-net"].clone();
        let dps = a.dp.state();
        assert_eq!(dps.networks.len(), 1);
        let n = &dps.networks[0];
        assert_eq!(n.key, "default:contiv-net");
        assert_eq!(n.encap, Encap::Vxlan);
        assert_eq!(n.vni, Some(st.ext_pkt_tag));
        assert_eq!(n.vlan, 0, "a VXLAN network carries no VLAN to the datapath");
        assert!(
            st.pkt_tag > 0,
            "netmaster still allocates (and netctl shows) a pkt tag"
        );
        assert_eq!(n.tenant_id, st.tenant_id);
        assert_eq!(n.subnet, Some("10.1.2.0/24".parse().unwrap()));
        assert_eq!(n.gateway, Some("10.1.2.254".parse().unwrap()));
        let le = local(&a, "c1-eth0").expect("local endpoint");
        assert_eq!(
            le.attachment,
            Attachment::Netns {
                netns: "/run/netns/c1".into(),
                ifname: "eth0".into()
            }
        );
        assert_eq!(le.ipv4, Some("10.1.2.1/24".parse().unwrap()));
        assert_eq!(le.host_ifname, eps[0].intf_name);

        let (s, r) = a
            .cni(
                "/cni/check",
                json!({"container_id": "c1", "ifname": "eth0",
                        "prev": {"addresses": ["10.1.2.1/24"]}}),
            )
            .await;
        assert_eq!(s, 200, "{r}");
        let (s, r) = a
            .cni(
                "/cni/check",
                json!({"container_id": "c1", "ifname": "eth0",
                        "prev": {"addresses": ["10.1.2.9/24"]}}),
            )
            .await;
        assert_eq!((s, r["kind"].as_str()), (409, Some("conflict")), "{r}");
        // An ADD naming an unknown network is refused and leaves nothing.
        let (s, r) = a.cni("/cni/add", add_body("c2", "nope", "")).await;
        assert_eq!((s, r["kind"].as_str()), (404, Some("not_found")), "{r}");
        assert!(local(&a, "c2-eth0").is_none());

        for _ in 0..2 {
            let (s, r) = a
                .cni("/cni/del", json!({"container_id": "c1", "ifname": "eth0"}))
                .await;
            assert_eq!(s, 200, "{r}");
            assert!(c.endpoints().is_empty());
            assert!(a.dp.state().local_endpoints.is_empty());
        }
        assert_eq!(
            c.allocated("default:contiv-net").await,
            0,
            "the address was released"
        );
        let (s, _) = a
            .cni(
                "/cni/check",
                json!({"container_id": "c1", "ifname": "eth0"}),
            )
            .await;
        assert_eq!(s, 404);
    }

    /// Endpoints of another host appear as remote endpoints with that
    /// host's VTEP, the host as a peer; and the other way round.
    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn remote_endpoints_carry_their_nodes_vtep() {
        let c = Cluster::start(&[]).await;
        c.network("default", "contiv-net", "10.1.2.0/24", "").await;
        let a = TestAgent::start(&c, "h1", "192.0.2.1").await;
        let b = TestAgent::start(&c, "h2", "192.0.2.2").await;
        let (s, r) = b.cni("/cni/add", add_body("cb", "contiv-net", "")).await;
        assert_eq!(s, 200, "{r}");
        let (s, r) = a.cni("/cni/add", add_body("ca", "contiv-net", "")).await;
        assert_eq!(s, 200, "{r}");
        let got = eventually(T, async || {
            let st = a.dp.state();
            st.remote_endpoints
                .iter()
                .find(|e| e.id == "cb-eth0")
                .cloned()
        })
        .await
        .expect("h1 sees cb as remote");
        assert_eq!(got.vtep, "192.0.2.2".parse::<IpAddr>().unwrap());
        assert_eq!(got.ipv4, Some("10.1.2.1".parse().unwrap()));
        let st = a.dp.state();
        assert_eq!(st.peers.len(), 1);
        assert_eq!(
            (st.peers[0].host.as_str(), st.peers[0].ip),
            ("h2", "192.0.2.2".parse().unwrap())
        );
        let back = eventually(T, async || {
            b.dp.state()
                .remote_endpoints
                .iter()
                .find(|e| e.id == "ca-eth0")
                .cloned()
        })
        .await
        .expect("h2 sees ca as remote");
        assert_eq!(back.vtep, "192.0.2.1".parse::<IpAddr>().unwrap());
        assert!(
            b.dp.state()
                .local_endpoints
                .iter()
                .all(|e| e.id == "cb-eth0")
        );
    }

    /// A rule added at netmaster reaches the datapath as one policy delta
    /// with that rule, and the oracle on the datapath's IR enforces it.
    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn a_rule_added_at_netmaster_becomes_a_policy_delta() {
        let c = Cluster::start(&[]).await;
        c.network("default", "contiv-net", "10.1.2.0/24", "").await;
        c.policy("db-policy").await;
        c.group("contiv-net", "db", &["db-policy"]).await;
        let a = TestAgent::start(&c, "h1", "192.0.2.1").await;
        assert_eq!(a.cni("/cni/add", add_body("db1", "", "db")).await.0, 200);
        assert_eq!(
            a.cni("/cni/add", add_body("web1", "contiv-net", ""))
                .await
                .0,
            200
        );
        a.dp.clear_log();
        c.rule("db-policy", "1", json!({"protocol": "tcp", "port": 8888}))
            .await;
        let delta = eventually(T, async || {
            a.dp.ops().into_iter().find_map(|op| match op {
                DpOp::Policy(d) if !d.rules_added.is_empty() => Some(d),
                _ => None,
            })
        })
        .await
        .expect("a policy delta arrives");
        assert_eq!(delta.rules_added.len(), 1, "{delta:?}");
        let r = &delta.rules_added[0];
        assert_eq!(
            (r.origin.rule.as_str(), r.action, r.proto),
            ("1", Action::Deny, Some(6))
        );
        assert!(delta.rules_removed.is_empty() && delta.members_added.is_empty());
        let p =
            a.dp.packet_between("web1-eth0", "db1-eth0", 6, 8888)
                .unwrap();
        assert!(!a.dp.verdict(&p).allowed());
        let p =
            a.dp.packet_between("web1-eth0", "db1-eth0", 6, 8889)
                .unwrap();
        assert!(a.dp.verdict(&p).allowed());
        // Removing the rule is a delta too.
        a.dp.clear_log();
        c.ok(Method::DELETE, "/api/v1/rules/default:db-policy:1/", None)
            .await;
        eventually(T, async || {
            a.dp.ops()
                .iter()
                .any(|op| matches!(op, DpOp::Policy(d) if d.rules_removed.len() == 1))
                .then_some(())
        })
        .await
        .expect("the removal arrives");
        assert!(a.dp.policy().rules.is_empty());
    }

    /// Killed agent, changes while it is down, restart: the first act is a
    /// resync whose report counts exactly what changed (one remote endpoint
    /// and one rule added, one remote endpoint removed) and the datapath
    /// then equals the desired state.
    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn restart_resyncs_and_reports_exactly_what_changed() {
        let c = Cluster::start(&["--node-ttl", "60s"]).await;
        c.network("default", "contiv-net", "10.1.2.0/24", "10.1.2.254")
            .await;
        c.policy("p").await;
        c.group("contiv-net", "g", &["p"]).await;
        c.rule("p", "1", json!({"protocol": "tcp"})).await;
        register_node(&c, "h2", "192.0.2.2").await;
        remote_endpoint(&c, "r0", "contiv-net", "h2").await;
        let mut a = TestAgent::start(&c, "h1", "192.0.2.1").await;
        assert_eq!(a.cni("/cni/add", add_body("e1", "", "g")).await.0, 200);
        eventually(T, async || {
            a.dp.state()
                .remote_endpoints
                .iter()
                .any(|e| e.id == "r0")
                .then_some(())
        })
        .await
        .expect("r0 arrives");
        a.kill().await;
        c.ok(
            Method::DELETE,
            "/api/v1/agent/endpoints/default:contiv-net/r0/",
            None,
        )
        .await;
        remote_endpoint(&c, "r1", "contiv-net", "h2").await;
        c.rule(
            "p",
            "2",
            json!({"protocol": "tcp", "port": 443, "action": "allow", "priority": 10}),
        )
        .await;
        let before = a.dp.state();
        a.launch().await;
        let report = a
            .agent()
            .core()
            .reconciler()
            .status()
            .last_resync
            .expect("a resync ran");
        assert_eq!((report.added, report.removed), (2, 1), "{report:?}");
        let unchanged = 1
            + before.networks.len()
            + before.local_endpoints.len()
            + before.peers.len()
            + before.policy.rules.len()
            + before.policy.addr_sets.len()
            + before.policy.members.len();
        assert_eq!(report.unchanged, unchanged, "{report:?}");
        let desired = a.agent().core().reconciler().desired_state().await;
        assert_eq!(a.dp.state(), desired);
        let ids: Vec<String> =
            a.dp.state()
                .remote_endpoints
                .iter()
                .map(|e| e.id.clone())
                .collect();
        assert_eq!(ids, ["r1"]);
        assert_eq!(a.dp.policy().rules.len(), 2);
        // The plumbing survived the restart unchanged.
        assert!(matches!(
            local(&a, "e1-eth0").unwrap().attachment,
            Attachment::Netns { .. }
        ));
    }

    /// A policy change in flight when the agent is killed: after restart
    /// the datapath equals the desired state, which has the change.
    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn kill_during_a_policy_change_converges_after_restart() {
        let c = Cluster::start(&[]).await;
        c.network("default", "contiv-net", "10.1.2.0/24", "").await;
        c.policy("p").await;
        c.group("contiv-net", "g", &["p"]).await;
        let mut a = TestAgent::start(&c, "h1", "192.0.2.1").await;
        for i in 0..3 {
            assert_eq!(
                a.cni("/cni/add", add_body(&format!("e{i}"), "", "g"))
                    .await
                    .0,
                200
            );
        }
        for i in 0..5 {
            c.rule(
                "p",
                &i.to_string(),
                json!({"protocol": "tcp", "port": 1000 + i}),
            )
            .await;
        }
        a.kill().await;
        a.launch().await;
        let desired = a.agent().core().reconciler().desired_state().await;
        assert_eq!(a.dp.state(), desired);
        assert_eq!(desired.policy.rules.len(), 5);
        assert_eq!(desired.local_endpoints.len(), 3);
    }

    /// netmaster restarts under a running agent: the agent resumes the
    /// watch (resyncing) and follows changes made after the restart.
    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn the_watch_resumes_after_a_netmaster_restart() {
        let mut c = Cluster::start(&[]).await;
        c.network("default", "contiv-net", "10.1.2.0/24", "").await;
        let a = TestAgent::start(&c, "h1", "192.0.2.1").await;
        assert_eq!(
            a.cni("/cni/add", add_body("e1", "contiv-net", "")).await.0,
            200
        );
        let resyncs = a.agent().core().reconciler().status().resyncs;
        c.stop().await;
        c.start_again().await;
        c.network("default", "other-net", "10.9.0.0/16", "").await;
        eventually(Duration::from_secs(30), async || {
            a.dp.state()
                .networks
                .iter()
                .any(|n| n.key == "default:other-net")
                .then_some(())
        })
        .await
        .expect("the agent follows changes after the restart");
        assert!(
            a.agent().core().reconciler().status().resyncs > resyncs,
            "no resync after the reconnect"
        );
        eventually(T, async || {
            c.nodes().contains(&"h1".to_owned()).then_some(())
        })
        .await
        .expect("the agent re-registered");
        // The old endpoint is still there and a new one works.
        assert!(local(&a, "e1-eth0").is_some());
        let (s, r) = a.cni("/cni/add", add_body("e2", "other-net", "")).await;
        assert_eq!(s, 200, "{r}");
    }

    /// When a node's lease expires, its endpoints leave the other hosts'
    /// datapaths and its VTEP stops being a peer.
    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn a_vanished_nodes_endpoints_leave_the_peers() {
        let c = Cluster::start(&["--node-ttl", "1s"]).await;
        c.network("default", "contiv-net", "10.1.2.0/24", "").await;
        let a = TestAgent::start(&c, "h1", "192.0.2.1").await;
        let mut b = TestAgent::start(&c, "h2", "192.0.2.2").await;
        assert_eq!(
            b.cni("/cni/add", add_body("cb", "contiv-net", "")).await.0,
            200
        );
        eventually(T, async || {
            (a.dp.state().remote_endpoints.len() == 1).then_some(())
        })
        .await
        .expect("the remote endpoint arrives");
        b.kill().await;
        eventually(T, async || {
            let st = a.dp.state();
            (st.remote_endpoints.is_empty() && st.peers.is_empty()).then_some(())
        })
        .await
        .expect("the vanished node's endpoint and VTEP go");
        // The record stays at netmaster (grace period) — only the node went.
        assert_eq!(c.endpoints().len(), 1);
    }

    /// A netprofile the datapath cannot enforce is reported, never
    /// silently accepted: in the agent's status (and one log line), and in
    /// netmaster's endpoint inspect (`notEnforced`), from the capabilities
    /// the agent registered. (Before: nothing said so anywhere.)
    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn an_unenforced_netprofile_is_reported_by_agent_and_netmaster() {
        let c = Cluster::start(&[]).await;
        c.network("default", "contiv-net", "10.1.2.0/24", "").await;
        c.ok(
            Method::POST,
            "/api/v1/netprofiles/default:gold/",
            Some(json!({"tenantName": "default", "profileName": "gold",
                        "bandwidth": "6 mbps", "DSCP": 10, "burst": 100})),
        )
        .await;
        c.ok(
            Method::POST,
            "/api/v1/endpointGroups/default:db/",
            Some(json!({"tenantName": "default", "groupName": "db",
                        "networkName": "contiv-net", "netProfile": "gold"})),
        )
        .await;
        let a = TestAgent::start(&c, "h1", "192.0.2.1").await;
        let (s, r) = a.cni("/cni/add", add_body("c1", "contiv-net", "db")).await;
        assert_eq!(s, 200, "{r}");
        let q = local(&a, "c1-eth0").and_then(|e| e.qos).expect("qos");
        assert!(q.rate_kbps > 6000 && q.dscp == 10, "{q:?}");
        let st = eventually(T, async || {
            let st = a.agent().status();
            (!st.not_enforced.is_empty()).then_some(st)
        })
        .await
        .expect("the agent reports the unenforced netprofile");
        use contiv_core::datapath::Capability;
        assert_eq!(
            st.not_enforced["c1-eth0"],
            vec![Capability::QosBandwidth, Capability::QosDscp]
        );
        assert!(!st.capabilities.has(Capability::QosBandwidth));
        assert_eq!(
            inspect_not_enforced(&c, "c1-eth0").await,
            json!(["qos_bandwidth", "qos_dscp"])
        );
    }

    /// A UDP service on a datapath that does not translate fragmented
    /// datagrams (no `service_fragments`: the recording reference, like
    /// OVS) is reported as not enforced, by the agent's status; a TCP-only
    /// service is not.
    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn a_udp_service_without_fragment_translation_is_reported() {
        use contiv_core::datapath::Capability;
        let c = Cluster::start(&[]).await;
        c.network("default", "contiv-net", "10.1.2.0/24", "").await;
        for (name, port) in [("dnssvc", "53:5353:UDP"), ("websvc", "80:8080:TCP")] {
            c.ok(
                Method::POST,
                &format!("/api/v1/serviceLBs/default:{name}/"),
                Some(json!({"tenantName": "default", "serviceName": name,
                            "networkName": "contiv-net", "ports": [port],
                            "selectors": ["app=web"]})),
            )
            .await;
        }
        let a = TestAgent::start(&c, "h1", "192.0.2.1").await;
        let (s, r) = a.cni("/cni/add", add_body("c1", "contiv-net", "")).await;
        assert_eq!(s, 200, "{r}");
        assert!(
            !a.agent()
                .status()
                .capabilities
                .has(Capability::ServiceFragments)
        );
        let st = eventually(T, async || {
            let st = a.agent().status();
            st.not_enforced
                .contains_key("service default:dnssvc")
                .then_some(st)
        })
        .await
        .expect("the agent reports the UDP service");
        assert_eq!(
            st.not_enforced["service default:dnssvc"],
            vec![Capability::ServiceFragments]
        );
        assert!(
            !st.not_enforced.contains_key("service default:websvc"),
            "{:?}",
            st.not_enforced
        );
    }

    /// Two tenants with the same subnet, an endpoint at the same address in
    /// each on one host, both with external access: a datapath that cannot
    /// keep their outside traffic apart (no `egress_nat_overlapping`) has
    /// both reported as not enforced, by the agent and by netmaster; with
    /// the capability, nothing is reported.
    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn overlapping_external_addresses_are_reported_without_the_capability() {
        use contiv_core::datapath::Capability;
        let c = Cluster::start(&[]).await;
        c.tenant("blue").await;
        c.network("default", "contiv-net", "10.1.2.0/24", "").await;
        c.network("blue", "contiv-net", "10.1.2.0/24", "").await;
        let mut a = TestAgent::start(&c, "h1", "192.0.2.1").await;
        for (cid, tenant) in [("c1", "default"), ("c2", "blue")] {
            let mut body = add_body(cid, "contiv-net", "");
            body["tenant"] = json!(tenant);
            let (s, r) = a.cni("/cni/add", body).await;
            assert_eq!(s, 200, "{r}");
        }
        let (l1, l2) = (
            local(&a, "c1-eth0").expect("c1"),
            local(&a, "c2-eth0").expect("c2"),
        );
        assert_eq!(l1.ipv4, l2.ipv4, "the same first address in both tenants");
        // The recording datapath claims the capability: nothing to report.
        tokio::time::sleep(Duration::from_millis(300)).await;
        assert!(
            a.agent().status().not_enforced.is_empty(),
            "{:?}",
            a.agent().status().not_enforced
        );
        a.stop().await;
        a.hidden = vec![Capability::EgressNatOverlapping];
        a.launch().await;
        let st = eventually(T, async || {
            let st = a.agent().status();
            (st.not_enforced.len() == 2).then_some(st)
        })
        .await
        .expect("the agent reports both endpoints");
        for id in ["c1-eth0", "c2-eth0"] {
            assert_eq!(st.not_enforced[id], vec![Capability::EgressNatOverlapping]);
        }
        assert_eq!(
            inspect_not_enforced(&c, "c2-eth0").await,
            json!(["egress_nat_overlapping"])
        );
        // c2 gone: c1 clashes with nobody any more.
        let (s, r) = a.cni("/cni/del", add_body("c2", "contiv-net", "")).await;
        assert_eq!(s, 200, "{r}");
        eventually(T, async || {
            a.agent().status().not_enforced.is_empty().then_some(())
        })
        .await
        .expect("nothing reported once the address is no longer shared");
    }
}
