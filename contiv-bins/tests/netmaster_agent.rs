//! The agent-facing API of a real netmaster over HTTP, on the embedded
//! store and on a real etcd: endpoint create/delete (address + MAC +
//! record in one transaction, requested addresses, idempotency), node
//! registration with a lease (expiry, then endpoint cleanup after the
//! grace period), and the watch stream (snapshot, ordered deltas, resume
//! by revision, `resync` after compaction).

mod support;

#[cfg(test)]
mod netmaster {
    use super::support::{TestNetmaster, wait_until};
    use contiv_bins::api::WatchLine;
    use serde_json::{Value, json};
    use std::sync::mpsc::{Receiver, RecvTimeoutError};
    use std::time::{Duration, Instant};

    fn create_net(tn: &TestNetmaster, name: &str, extra: Value) {
        let mut n = json!({"tenantName": "default", "networkName": name, "encap": "vxlan",
            "subnet": "10.1.1.0/24", "gateway": "10.1.1.254"});
        for (k, v) in extra.as_object().unwrap() {
            n[k] = v.clone();
        }
        tn.create("networks", &format!("default:{name}"), n);
    }

    fn ep_req(id: &str, network: &str, host: &str) -> Value {
        json!({"id": id, "network": network, "host": host})
    }

    fn create_ep(tn: &TestNetmaster, body: &Value) -> Value {
        tn.ok("POST", "/api/v1/agent/endpoints/", Some(body))
    }

    fn delete_ep(tn: &TestNetmaster, net: &str, id: &str) -> Value {
        tn.ok(
            "DELETE",
            &format!("/api/v1/agent/endpoints/{net}/{id}/"),
            None,
        )
    }

    fn allocated(tn: &TestNetmaster, net: &str) -> String {
        tn.inspect("networks", net)["Oper"]["allocatedIPAddresses"]
            .as_str()
            .unwrap_or_default()
            .to_owned()
    }

    /// Create allocates the lowest free address, derives the MAC, records
    /// everything and answers what the agent needs; requested addresses
    /// are honoured when free and refused (with nothing written) when
    /// taken; re-creating is idempotent; delete releases.
    fn endpoint_create_and_delete(tn: &TestNetmaster) {
        create_net(tn, "n1", json!({"pktTag": 5001}));
        let r = create_ep(tn, &ep_req("ep1", "n1", "h1"));
        let e = &r["endpoint"];
        assert_eq!(e["ipv4"], "10.1.1.1");
        assert_eq!(e["ipv4_prefix"], 24);
        assert_eq!(e["mac"], "02:02:0a:01:01:01");
        assert_eq!(e["tenant"], "default", "tenant defaults to default");
        let n = &r["network"];
        assert_eq!(n["key"], "default:n1");
        assert_eq!(n["encap"], "vxlan");
        assert_eq!(n["ext_pkt_tag"], 5001);
        assert_eq!(n["pkt_tag"], 1);
        assert_eq!(n["subnet"], "10.1.1.0/24");
        assert_eq!(n["gateway"], "10.1.1.254");
        assert!(n["tenant_id"].as_u64().unwrap() >= 1);
        assert_eq!(
            tn.keys_under("ep/"),
            [format!("{}ep/default:n1/ep1", tn.root)],
            "the record is stored"
        );
        // The agent API's network info matches.
        let info = tn.ok("GET", "/api/v1/agent/networks/default:n1/", None);
        assert_eq!(&info, n);

        // A requested address.
        let r = create_ep(
            tn,
            &json!({"id": "ep2", "network": "n1", "host": "h1", "ipv4": "10.1.1.7"}),
        );
        assert_eq!(r["endpoint"]["ipv4"], "10.1.1.7");
        assert_eq!(r["endpoint"]["mac"], "02:02:0a:01:01:07");
        // Taken, gateway, outside: refused, nothing written.
        tn.fails(
            "POST",
            "/api/v1/agent/endpoints/",
            Some(&json!({"id": "ep3", "network": "n1", "host": "h1", "ipv4": "10.1.1.7"})),
            409,
            "10.1.1.7",
        );
        tn.fails(
            "POST",
            "/api/v1/agent/endpoints/",
            Some(&json!({"id": "ep3", "network": "n1", "host": "h1", "ipv4": "10.1.1.254"})),
            409,
            "10.1.1.254",
        );
        tn.fails(
            "POST",
            "/api/v1/agent/endpoints/",
            Some(&json!({"id": "ep3", "network": "n1", "host": "h1", "ipv4": "10.9.9.9"})),
            400,
            "10.9.9.9",
        );
        // Bad requests.
        tn.fails(
            "POST",
            "/api/v1/agent/endpoints/",
            Some(&ep_req("ep3", "nope", "h1")),
            404,
            "network default:nope not found",
        );
        tn.fails(
            "POST",
            "/api/v1/agent/endpoints/",
            Some(&ep_req("a/b", "n1", "h1")),
            400,
            "invalid endpoint id",
        );
        tn.fails(
            "POST",
            "/api/v1/agent/endpoints/",
            Some(&ep_req("ep3", "n1", "")),
            400,
            "host is required",
        );
        tn.fails(
            "POST",
            "/api/v1/agent/endpoints/",
            Some(&json!({"id": "ep3", "network": "n1", "host": "h1", "group": "g9"})),
            404,
            "endpoint group default:g9 not found",
        );
        let r = tn
            .client
            .send("POST", "/api/v1/agent/endpoints/", Some("{"));
        assert_eq!(r.status, 400, "{}", r.body);

        // Idempotent re-create (same host), conflict on another host.
        let before = tn.snapshot();
        let again = create_ep(tn, &ep_req("ep1", "n1", "h1"));
        assert_eq!(again["endpoint"]["ipv4"], "10.1.1.1");
        assert!(
            before == tn.snapshot(),
            "an idempotent re-create wrote to the store"
        );
        tn.fails(
            "POST",
            "/api/v1/agent/endpoints/",
            Some(&ep_req("ep1", "n1", "h2")),
            409,
            "already exists",
        );

        // Delete releases; the lowest free address is reused.
        assert_eq!(
            allocated(tn, "default:n1"),
            "10.1.1.1, 10.1.1.7, 10.1.1.254"
        );
        assert_eq!(delete_ep(tn, "default:n1", "ep1"), json!({"deleted": true}));
        assert_eq!(
            delete_ep(tn, "default:n1", "ep1"),
            json!({"deleted": false}),
            "delete is idempotent"
        );
        assert_eq!(allocated(tn, "default:n1"), "10.1.1.7, 10.1.1.254");
        let r = create_ep(tn, &ep_req("ep4", "n1", "h1"));
        assert_eq!(r["endpoint"]["ipv4"], "10.1.1.1");
    }

    /// TestGetAllocatedIPs: lowest-first allocation and the summary format
    /// after deletes in the middle.
    fn allocated_ips_summary(tn: &TestNetmaster) {
        create_net(tn, "n1", json!({}));
        for i in 1..=7 {
            let r = create_ep(tn, &ep_req(&format!("ep{i}"), "n1", "h1"));
            assert_eq!(r["endpoint"]["ipv4"], format!("10.1.1.{i}"));
        }
        for i in [3, 4, 6] {
            delete_ep(tn, "default:n1", &format!("ep{i}"));
        }
        assert_eq!(
            allocated(tn, "default:n1"),
            "10.1.1.1-10.1.1.2, 10.1.1.5, 10.1.1.7, 10.1.1.254"
        );
        let o = tn.inspect("networks", "default:n1")["Oper"].clone();
        assert_eq!(o["numEndpoints"], 4);
    }

    /// IPv6 networks give endpoints a v6 address too; both are released.
    fn endpoint_ipv6(tn: &TestNetmaster) {
        create_net(
            tn,
            "n6",
            json!({"ipv6Subnet": "2001:db8::/120", "ipv6Gateway": "2001:db8::fe"}),
        );
        let r = create_ep(tn, &ep_req("ep1", "n6", "h1"));
        assert_eq!(r["endpoint"]["ipv6"], "2001:db8::1");
        assert_eq!(r["endpoint"]["ipv6_prefix"], 120);
        assert_eq!(r["network"]["subnet6"], "2001:db8::/120");
        let r = create_ep(
            tn,
            &json!({"id": "ep2", "network": "n6", "host": "h1", "ipv6": "2001:db8::10"}),
        );
        assert_eq!(r["endpoint"]["ipv6"], "2001:db8::10");
        tn.fails(
            "POST",
            "/api/v1/agent/endpoints/",
            Some(&json!({"id": "ep3", "network": "n6", "host": "h1", "ipv6": "2001:db8::10"})),
            409,
            "2001:db8::10",
        );
        delete_ep(tn, "default:n6", "ep1");
        let r = create_ep(tn, &ep_req("ep3", "n6", "h1"));
        assert_eq!(
            r["endpoint"]["ipv6"], "2001:db8::1",
            "the released v6 address is reused"
        );
    }

    /// Many concurrent creates on one network (they are committed in
    /// shared batches): every one gets its own address, two creates of one
    /// id get the same endpoint, of two requests for one address exactly
    /// one wins, and the allocator holds exactly the live addresses.
    fn concurrent_creates(tn: &TestNetmaster) {
        create_net(
            tn,
            "n1",
            json!({"subnet": "10.2.0.0/16", "gateway": "10.2.255.254"}),
        );
        let results: Vec<(String, u16, Value)> = std::thread::scope(|s| {
            let handles: Vec<_> = (0..96)
                .map(|i| {
                    let c = tn.client.clone();
                    s.spawn(move || {
                        // ids 0..80 once, 80..88 twice (same request), and
                        // 8 pairs asking for the same address.
                        let (id, body) = if i < 80 {
                            let id = format!("ep{i}");
                            (id.clone(), json!({"id": id, "network": "n1", "host": "h1"}))
                        } else if i < 88 {
                            let id = format!("ep{}", i - 8);
                            (id.clone(), json!({"id": id, "network": "n1", "host": "h1"}))
                        } else {
                            let id = format!("req{i}");
                            let ip = format!("10.2.100.{}", (i - 88) / 2);
                            (
                                id.clone(),
                                json!({"id": id, "network": "n1", "host": "h1", "ipv4": ip}),
                            )
                        };
                        let r = c.post("/api/v1/agent/endpoints/", &body);
                        let v = if r.status == 200 {
                            r.json()
                        } else {
                            json!(r.body)
                        };
                        (id, r.status, v)
                    })
                })
                .collect();
            handles.into_iter().map(|h| h.join().unwrap()).collect()
        });
        let mut by_id: std::collections::BTreeMap<String, String> = Default::default();
        let mut refused = 0;
        for (id, status, v) in &results {
            if id.starts_with("req") && *status == 409 {
                refused += 1;
                continue;
            }
            assert_eq!(*status, 200, "{id}: {v}");
            let ip = v["endpoint"]["ipv4"].as_str().unwrap().to_owned();
            if let Some(prev) = by_id.insert(id.clone(), ip.clone()) {
                assert_eq!(prev, ip, "two creates of {id} got different addresses");
            }
        }
        assert_eq!(
            refused, 4,
            "one of each pair asking for the same address loses"
        );
        assert_eq!(by_id.len(), 80 + 4);
        let ips: std::collections::BTreeSet<&String> = by_id.values().collect();
        assert_eq!(ips.len(), by_id.len(), "an address was handed out twice");
        let o = tn.inspect("networks", "default:n1")["Oper"].clone();
        assert_eq!(o["numEndpoints"], 84);
        assert_eq!(o["allocatedAddressesCount"], 84);
        // 80 lowest addresses, the 4 requested ones and the gateway.
        assert_eq!(
            o["allocatedIPAddresses"],
            "10.2.0.1-10.2.0.80, 10.2.100.0-10.2.100.3, 10.2.255.254"
        );
    }

    fn register(tn: &TestNetmaster, host: &str, vtep: &str) -> Value {
        tn.ok(
            "POST",
            &format!("/api/v1/agent/nodes/{host}/"),
            Some(&json!({"node": {"hostname": host, "vtep_ip": vtep}})),
        )
    }

    fn nodes(tn: &TestNetmaster) -> Vec<String> {
        let info = tn.ok("GET", "/info", None);
        info["netplugin-nodes"]
            .as_array()
            .unwrap()
            .iter()
            .map(|v| v.as_str().unwrap().to_owned())
            .collect()
    }

    fn endpoint_ids(tn: &TestNetmaster) -> Vec<String> {
        let o = tn.inspect("networks", "default:n1")["Oper"].clone();
        o["endpoints"]
            .as_array()
            .map(|a| {
                a.iter()
                    .map(|e| e["endpointID"].as_str().unwrap().to_owned())
                    .collect()
            })
            .unwrap_or_default()
    }

    /// A node registers with a lease and heartbeats; when heartbeats stop
    /// it disappears with its lease, its endpoints stay for the grace
    /// period and are then deleted and their addresses released. A node
    /// that comes back within the grace period keeps its endpoints.
    fn node_lease_and_gc(tn: &TestNetmaster) {
        create_net(tn, "n1", json!({}));
        let lease = register(tn, "h1", "192.0.2.1");
        assert_eq!(lease["ttl_ms"], 1000);
        register(tn, "h2", "192.0.2.2");
        assert_eq!(nodes(tn), ["h1", "h2"]);
        create_ep(tn, &ep_req("ep-h1", "n1", "h1"));
        create_ep(tn, &ep_req("ep-h2", "n1", "h2"));
        // The vtep of a node shows in endpoint inspect.
        let e = tn.ok("GET", "/api/v1/inspect/endpoints/ep-h1/", None);
        assert_eq!(e["Oper"]["vtepIP"], "192.0.2.1");
        // Heartbeats keep both alive past the TTL.
        let until = Instant::now() + Duration::from_millis(1600);
        while Instant::now() < until {
            register(tn, "h1", "192.0.2.1");
            register(tn, "h2", "192.0.2.2");
            std::thread::sleep(Duration::from_millis(250));
        }
        assert_eq!(nodes(tn), ["h1", "h2"]);
        // h1 stops; h2 keeps beating. h1 vanishes within the TTL (+ the
        // store's expiry granularity).
        let stopped = Instant::now();
        let gone = wait_until(Duration::from_secs(5), || {
            register(tn, "h2", "192.0.2.2");
            (nodes(tn) == ["h2"]).then_some(())
        });
        assert!(gone.is_some(), "h1 did not vanish: {:?}", nodes(tn));
        // Its endpoint stays during the grace period (5 s from when the
        // leader noticed the node was gone) …
        assert_eq!(endpoint_ids(tn), ["ep-h1", "ep-h2"]);
        // … and is deleted after it, releasing its address.
        let cleaned = wait_until(Duration::from_secs(12), || {
            register(tn, "h2", "192.0.2.2");
            (endpoint_ids(tn) == ["ep-h2"]).then_some(())
        });
        assert!(
            cleaned.is_some(),
            "endpoints after the grace period: {:?}",
            endpoint_ids(tn)
        );
        assert!(
            stopped.elapsed() >= Duration::from_secs(5),
            "cleaned before the grace period ended"
        );
        assert_eq!(allocated(tn, "default:n1"), "10.1.1.2, 10.1.1.254");

        // h2 goes away but comes back within the grace period: it keeps
        // its endpoint.
        let gone = wait_until(Duration::from_secs(5), || {
            nodes(tn).is_empty().then_some(())
        });
        assert!(gone.is_some());
        std::thread::sleep(Duration::from_millis(1500));
        register(tn, "h2", "192.0.2.2");
        let until = Instant::now() + Duration::from_secs(4);
        while Instant::now() < until {
            register(tn, "h2", "192.0.2.2");
            std::thread::sleep(Duration::from_millis(250));
        }
        assert_eq!(
            endpoint_ids(tn),
            ["ep-h2"],
            "a returning node keeps its endpoints"
        );
        // Explicit deregistration removes the node at once.
        tn.ok("DELETE", "/api/v1/agent/nodes/h2/", None);
        assert_eq!(nodes(tn), Vec::<String>::new());
        // Bad registrations.
        tn.fails(
            "POST",
            "/api/v1/agent/nodes/h3/",
            Some(&json!({"node": {"hostname": "other", "vtep_ip": "192.0.2.3"}})),
            400,
            "must be a valid name and match the URL",
        );
        tn.fails(
            "POST",
            "/api/v1/agent/nodes/h3/",
            Some(&json!({"node": {"hostname": "h3"}})),
            400,
            "invalid node registration body",
        );
    }

    fn next_line(rx: &Receiver<String>) -> WatchLine {
        let line = rx
            .recv_timeout(Duration::from_secs(10))
            .expect("a watch line within 10 s");
        serde_json::from_str(&line).unwrap_or_else(|e| panic!("bad watch line {line:?}: {e}"))
    }

    /// Lines up to (and including) the first one `stop` accepts.
    fn lines_until(rx: &Receiver<String>, stop: impl Fn(&WatchLine) -> bool) -> Vec<WatchLine> {
        let mut out = Vec::new();
        loop {
            let l = next_line(rx);
            let done = stop(&l);
            out.push(l);
            if done {
                return out;
            }
        }
    }

    fn key_of(l: &WatchLine) -> Option<&str> {
        match l {
            WatchLine::Put { key, .. } | WatchLine::Delete { key, .. } => Some(key),
            _ => None,
        }
    }

    fn rev_of(l: &WatchLine) -> u64 {
        match l {
            WatchLine::Put { rev, .. }
            | WatchLine::Delete { rev, .. }
            | WatchLine::Synced { rev }
            | WatchLine::Progress { rev }
            | WatchLine::Nodes { rev, .. } => *rev,
            WatchLine::Resync { .. } => 0,
        }
    }

    /// The watch stream: a snapshot (objects, derived records, endpoints,
    /// nodes — never allocator state), `synced`, then every change in
    /// revision order; a client resumes from the revision after the last
    /// one it saw and gets exactly what it missed.
    fn watch_snapshot_deltas_resume(tn: &TestNetmaster) {
        create_net(tn, "n1", json!({}));
        create_ep(tn, &ep_req("ep1", "n1", "h1"));
        register(tn, "h1", "192.0.2.1");
        let (status, rx) = tn.client.stream_lines("/api/v1/watch");
        assert_eq!(status, 200);
        let snap = lines_until(&rx, |l| matches!(l, WatchLine::Synced { .. }));
        let keys: Vec<&str> = snap.iter().filter_map(key_of).collect();
        for k in [
            "obj/tenant/default",
            "obj/global/global",
            "obj/network/default:n1",
            "oper/network/default:n1",
            "oper/tenant/default",
            "ep/default:n1/ep1",
            "node/h1",
        ] {
            assert!(keys.contains(&k), "snapshot lacks {k}: {keys:?}");
        }
        assert!(
            keys.iter()
                .all(|k| !k.starts_with("alloc/") && *k != "leader"),
            "{keys:?}"
        );
        let synced = rev_of(snap.last().unwrap());
        assert!(snap.iter().all(|l| rev_of(l) <= synced));
        // Endpoint values are the records agents use.
        let ep = snap
            .iter()
            .find(|l| key_of(l) == Some("ep/default:n1/ep1"))
            .unwrap();
        let WatchLine::Put { value, .. } = ep else {
            panic!()
        };
        assert_eq!(value["ipv4"], "10.1.1.1");
        // The compact snapshot: the nodes in one line, the rest the same.
        let (_, crx) = tn.client.stream_lines("/api/v1/watch?compact=true");
        let csnap = lines_until(&crx, |l| matches!(l, WatchLine::Synced { .. }));
        drop(crx);
        let nodes: Vec<&WatchLine> = csnap
            .iter()
            .filter(|l| matches!(l, WatchLine::Nodes { .. }))
            .collect();
        let [WatchLine::Nodes { nodes, .. }] = nodes[..] else {
            panic!("one nodes line expected: {csnap:?}")
        };
        assert_eq!(
            nodes,
            &[contiv_bins::api::NodeEntry(
                "h1".into(),
                "192.0.2.1".parse().unwrap(),
                4789
            )]
        );
        let ckeys: Vec<&str> = csnap.iter().filter_map(key_of).collect();
        let full: Vec<&str> = keys
            .iter()
            .copied()
            .filter(|k| !k.starts_with("node/"))
            .collect();
        assert_eq!(ckeys, full);

        // Deltas, in order.
        create_ep(tn, &ep_req("ep2", "n1", "h1"));
        tn.create(
            "policys",
            "default:p1",
            json!({"tenantName": "default", "policyName": "p1"}),
        );
        delete_ep(tn, "default:n1", "ep1");
        let deltas = lines_until(
            &rx,
            |l| matches!(l, WatchLine::Delete { key, .. } if key == "ep/default:n1/ep1"),
        );
        let deltas: Vec<&WatchLine> = deltas.iter().filter(|l| key_of(l).is_some()).collect();
        let dkeys: Vec<&str> = deltas.iter().filter_map(|l| key_of(l)).collect();
        assert_eq!(
            dkeys,
            [
                "ep/default:n1/ep2",
                "obj/policy/default:p1",
                "ep/default:n1/ep1"
            ]
        );
        let revs: Vec<u64> = deltas.iter().map(|l| rev_of(l)).collect();
        assert!(
            revs.windows(2).all(|w| w[0] < w[1]) && revs[0] > synced,
            "{revs:?}"
        );
        drop(rx);

        // Resume after the first delta: the client gets the other two.
        let (_, rx) = tn
            .client
            .stream_lines(&format!("/api/v1/watch?from={}", revs[0] + 1));
        let resumed = lines_until(&rx, |l| matches!(l, WatchLine::Delete { .. }));
        let rkeys: Vec<&str> = resumed.iter().filter_map(key_of).collect();
        assert_eq!(rkeys, ["obj/policy/default:p1", "ep/default:n1/ep1"]);
        assert!(
            !resumed
                .iter()
                .any(|l| matches!(l, WatchLine::Synced { .. })),
            "no snapshot on resume"
        );
        // An idle stream carries progress lines.
        let progress = lines_until(&rx, |l| matches!(l, WatchLine::Progress { .. }));
        assert!(rev_of(progress.last().unwrap()) >= revs[2]);
        let r = tn.client.get("/api/v1/watch?from=abc");
        assert_eq!(r.status, 400, "{}", r.body);
    }

    /// A client that fell behind the store's history gets one `resync`
    /// line and the stream ends; reconnecting without `from` works.
    fn watch_resync_after_compaction(tn: &TestNetmaster) {
        create_net(tn, "n1", json!({}));
        let (_, rx) = tn.client.stream_lines("/api/v1/watch");
        let snap = lines_until(&rx, |l| matches!(l, WatchLine::Synced { .. }));
        let seen = rev_of(snap.last().unwrap());
        drop(rx);
        for i in 0..5 {
            create_ep(tn, &ep_req(&format!("ep{i}"), "n1", "h1"));
        }
        // Older than what netmaster holds in memory (`--watch-window 4`):
        // the gap comes from the store's history, then the stream joins
        // the shared log and gets later changes from there.
        let (_, rx) = tn
            .client
            .stream_lines(&format!("/api/v1/watch?from={}", seen + 1));
        let caught = lines_until(&rx, |l| key_of(l) == Some("ep/default:n1/ep4"));
        let ckeys: Vec<&str> = caught.iter().filter_map(key_of).collect();
        assert_eq!(
            ckeys,
            (0..5)
                .map(|i| format!("ep/default:n1/ep{i}"))
                .collect::<Vec<_>>()
        );
        create_ep(tn, &ep_req("ep5", "n1", "h1"));
        let more = lines_until(&rx, |l| key_of(l).is_some());
        assert_eq!(key_of(more.last().unwrap()), Some("ep/default:n1/ep5"));
        drop(rx);
        let now = tn.block_on(tn.store.current_revision()).unwrap();
        tn.block_on(tn.store.compact(now - 1)).unwrap();
        let (status, rx) = tn
            .client
            .stream_lines(&format!("/api/v1/watch?from={}", seen + 1));
        assert_eq!(status, 200);
        let l = next_line(&rx);
        let WatchLine::Resync { reason } = &l else {
            panic!("expected resync, got {l:?}");
        };
        assert!(reason.contains("compacted"), "{reason}");
        assert!(
            matches!(
                rx.recv_timeout(Duration::from_secs(10)),
                Err(RecvTimeoutError::Disconnected)
            ),
            "the stream ends after resync"
        );
        // From the compaction point on, resuming still works.
        let (_, rx) = tn.client.stream_lines(&format!("/api/v1/watch?from={now}"));
        let l = next_line(&rx);
        assert!(
            matches!(&l, WatchLine::Put { key, .. } if key == "ep/default:n1/ep5"),
            "{l:?}"
        );
        let (_, rx) = tn.client.stream_lines("/api/v1/watch");
        let snap = lines_until(&rx, |l| matches!(l, WatchLine::Synced { .. }));
        assert_eq!(
            snap.iter()
                .filter(|l| key_of(l).is_some_and(|k| k.starts_with("ep/")))
                .count(),
            6
        );
    }

    macro_rules! on_every_store {
        ($($case:ident),* $(,)?) => {
            mod embedded {
                $( #[test] fn $case() {
                    let tn = super::TestNetmaster::start_with(super::super::support::Backend::Embedded,
                        &["--node-ttl", "1s", "--node-gc-grace", "5s", "--watch-window", "4"]);
                    assert_eq!(tn.store.backend_name(), "embedded");
                    super::$case(&tn);
                } )*
            }
            mod etcd {
                $( #[test] fn $case() {
                    let tn = super::TestNetmaster::start_with(super::super::support::Backend::Etcd,
                        &["--node-ttl", "1s", "--node-gc-grace", "5s", "--watch-window", "4"]);
                    assert_eq!(tn.store.backend_name(), "etcd");
                    super::$case(&tn);
                } )*
            }
        };
    }

    on_every_store!(
        endpoint_create_and_delete,
        allocated_ips_summary,
        endpoint_ipv6,
        concurrent_creates,
        node_lease_and_gc,
        watch_snapshot_deltas_resume,
        watch_resync_after_compaction,
    );

    /// Sends a raw `GET /api/v1/watch` on a new connection (its first
    /// request, as agents do).
    fn raw_watch(addr: std::net::SocketAddr) -> std::net::TcpStream {
        use std::io::Write;
        let mut s = std::net::TcpStream::connect(addr).unwrap();
        s.write_all(b"GET /api/v1/watch?compact=true HTTP/1.1\r\nHost: x\r\n\r\n")
            .unwrap();
        s
    }

    /// Reads from `s` until `needle` was seen (or the stream ended).
    fn read_until(s: &mut std::net::TcpStream, needle: &str) -> String {
        use std::io::Read;
        s.set_read_timeout(Some(Duration::from_secs(30))).unwrap();
        let mut got = Vec::new();
        let mut buf = [0u8; 4096];
        while !String::from_utf8_lossy(&got).contains(needle) {
            match s.read(&mut buf) {
                Ok(0) | Err(_) => break,
                Ok(n) => got.extend_from_slice(&buf[..n]),
            }
        }
        String::from_utf8_lossy(&got).into_owned()
    }

    /// Issue 19: agents' watch streams are served on their own
    /// lower-priority threads, so a heartbeat or a write never waits behind
    /// them. Every watch thread is held busy here: heartbeats and writes
    /// are still answered, a new watch is not (it is queued on the watch
    /// threads) until they are free again, and then it gets its snapshot
    /// and the write made meanwhile.
    #[test]
    fn heartbeats_and_writes_are_answered_while_every_watch_thread_is_busy() {
        let tn = TestNetmaster::start(super::support::Backend::Embedded);
        let addr = tn.running().addr;
        let threads = tn.running().watch_threads().clone();
        let served = threads.served();
        let mut first = raw_watch(addr);
        assert!(read_until(&mut first, "\"synced\"").contains("\"synced\""));
        assert_eq!(
            threads.served(),
            served + 1,
            "the watch ran on a watch thread"
        );
        let hb = json!({"node": {"hostname": "h1", "vtep_ip": "10.9.0.1", "vxlan_port": 4789}});
        tn.ok("POST", "/api/v1/agent/nodes/h1/", Some(&hb));
        assert_eq!(
            threads.served(),
            served + 1,
            "requests stay on the main runtime"
        );

        // Occupy every watch thread.
        let (entered_tx, entered_rx) = std::sync::mpsc::channel();
        let mut release = Vec::new();
        for h in threads.handles() {
            let (tx, rx) = std::sync::mpsc::channel::<()>();
            release.push(tx);
            let entered = entered_tx.clone();
            h.spawn(async move {
                entered.send(()).unwrap();
                let _ = rx.recv();
            });
        }
        for _ in threads.handles() {
            entered_rx.recv_timeout(Duration::from_secs(30)).unwrap();
        }
        let mut second = raw_watch(addr);
        // Heartbeats and writes do not queue behind the busy watch threads.
        let (done_tx, done_rx) = std::sync::mpsc::channel();
        let client = tn.client.clone();
        std::thread::spawn(move || {
            let hb = client.post("/api/v1/agent/nodes/h1/", &hb);
            let net = client.post(
                "/api/v1/networks/default:busy/",
                &json!({"tenantName": "default", "networkName": "busy", "encap": "vxlan",
                    "subnet": "10.7.0.0/24"}),
            );
            let _ = done_tx.send((hb.status, net.status));
        });
        let answered = done_rx.recv_timeout(Duration::from_secs(60));
        assert_eq!(
            answered.ok(),
            Some((200, 200)),
            "a heartbeat and a write were not answered while the watch threads were busy"
        );
        // The new watch waits for its thread.
        second
            .set_read_timeout(Some(Duration::from_millis(300)))
            .unwrap();
        let mut buf = [0u8; 64];
        let early = std::io::Read::read(&mut second, &mut buf);
        assert!(
            early.is_err(),
            "a watch was answered although every watch thread was busy: {early:?}"
        );
        for tx in release {
            tx.send(()).unwrap();
        }
        let snap = read_until(&mut second, "\"synced\"");
        assert!(snap.contains("obj/network/default:busy"), "{snap}");
        assert!(snap.contains("\"synced\""), "{snap}");
        let live = read_until(&mut first, "obj/network/default:busy");
        assert!(live.contains("obj/network/default:busy"), "{live}");
        // Streams are woken through one relay per watch thread (one
        // cross-thread wake-up per thread and change, not per stream).
        let mut more: Vec<_> = (0..8).map(|_| raw_watch(addr)).collect();
        for s in &mut more {
            assert!(read_until(s, "\"synced\"").contains("\"synced\""));
        }
        assert!(
            tn.nm.watch_subscribers() <= threads.handles().len(),
            "{} subscribers for 10 streams on {} threads",
            tn.nm.watch_subscribers(),
            threads.handles().len()
        );
        tn.create(
            "networks",
            "default:more",
            json!({"tenantName": "default", "networkName": "more", "encap": "vxlan",
                "subnet": "10.7.1.0/24"}),
        );
        for s in more.iter_mut().chain([&mut first, &mut second]) {
            let l = read_until(s, "obj/network/default:more");
            assert!(l.contains("obj/network/default:more"), "{l}");
        }
    }
}
