//! The Docker plugin socket driven as Docker drives it (the call sequence
//! of REAL_COMPONENTS §1d, JSON over HTTP on the unix socket — the test
//! plays Docker), against a real netmaster: reservation → adoption →
//! demotion → release leaves the allocated set as before; gateway
//! requests allocate nothing; unknown calls are 404; reservations left by
//! a killed agent are swept when it starts again; the Docker network
//! sync against a Docker-API fake.

#[path = "netplugin_support/mod.rs"]
mod support;

#[cfg(test)]
mod netplugin {
    use super::support::{Cluster, TestAgent, eventually};
    use axum::http::Method;
    use contiv_bins::netplugin::ifnames::peer_ifname;
    use contiv_core::datapath::{Attachment, Capability, DpOp, PublishedPort, ServiceProtocol};
    use serde_json::{Value, json};
    use std::time::Duration;

    const NET: &str = "default:contiv-net";

    async fn setup() -> (Cluster, TestAgent) {
        let c = Cluster::start(&[]).await;
        c.network("default", "contiv-net", "10.1.2.0/24", "10.1.2.254")
            .await;
        c.group("contiv-net", "web", &[]).await;
        let a = TestAgent::start(&c, "h1", "192.0.2.1").await;
        (c, a)
    }

    async fn ok(a: &TestAgent, call: &str, body: Value) -> Value {
        let (s, r) = a.docker(call, body.clone()).await;
        assert_eq!(s, 200, "{call} {body}: {r}");
        assert!(r.get("Err").is_none(), "{call}: {r}");
        r
    }

    /// Docker's full sequence for `network create`, two `docker run`s (one
    /// on the group's network), `docker rm` and `network rm`.
    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn the_docker_call_sequence_end_to_end() {
        let (c, a) = setup().await;
        let before = c.allocated(NET).await;
        // docker network create -d netplugin --ipam-driver netplugin ...
        assert_eq!(
            ok(&a, "Plugin.Activate", json!(null)).await,
            json!({"Implements": ["NetworkDriver", "IpamDriver"]})
        );
        let caps = ok(&a, "NetworkDriver.GetCapabilities", json!({})).await;
        assert_eq!(caps["Scope"], "local");
        ok(&a, "IpamDriver.GetCapabilities", json!({})).await;
        ok(&a, "IpamDriver.GetDefaultAddressSpaces", json!({})).await;
        let pool = ok(
            &a,
            "IpamDriver.RequestPool",
            json!({"AddressSpace": "contiv", "Pool": "10.1.2.0/24", "SubPool": "", "Options": {"tenant": "default", "network": "contiv-net"}, "V6": false}),
        )
        .await;
        let pool_id = pool["PoolID"].as_str().unwrap().to_owned();
        assert_eq!(pool_id, "default:contiv-net:|10.1.2.0/24");
        assert_eq!(pool["Pool"], "10.1.2.0/24");
        let gw = ok(
            &a,
            "IpamDriver.RequestAddress",
            json!({"PoolID": pool_id, "Address": "", "Options": {"RequestAddressType": "com.docker.network.gateway"}}),
        )
        .await;
        assert_eq!(gw["Address"], "10.1.2.254/24");
        assert_eq!(
            c.allocated(NET).await,
            before,
            "a gateway request allocates nothing"
        );
        ok(
            &a,
            "NetworkDriver.CreateNetwork",
            json!({"NetworkID": "dn1", "Options": {"com.docker.network.generic": {"tenant": "default", "network": "contiv-net"}},
                   "IPv4Data": [{"AddressSpace": "contiv", "Pool": "10.1.2.0/24", "Gateway": "10.1.2.254/24"}], "IPv6Data": []}),
        )
        .await;
        // The group's network, mapped by its subnet-less options.
        let gpool = ok(
            &a,
            "IpamDriver.RequestPool",
            json!({"Pool": "10.1.2.0/24", "Options": {"network": "contiv-net", "group": "web"}}),
        )
        .await["PoolID"]
            .as_str()
            .unwrap()
            .to_owned();
        ok(
            &a,
            "NetworkDriver.CreateNetwork",
            json!({"NetworkID": "dn2", "Options": {"com.docker.network.generic": {"network": "contiv-net", "group": "web"}}}),
        )
        .await;

        // docker run --net=contiv-net
        let addr = ok(
            &a,
            "IpamDriver.RequestAddress",
            json!({"PoolID": pool_id, "Address": "", "Options": {}}),
        )
        .await;
        assert_eq!(addr["Address"], "10.1.2.1/24");
        let res = c.reservations().await;
        assert_eq!(res.len(), 1);
        assert_eq!(
            (res[0].host.as_str(), res[0].ipv4.to_string()),
            ("h1", "10.1.2.1".into())
        );
        assert_eq!(c.allocated(NET).await, before + 1);
        let ep = ok(
            &a,
            "NetworkDriver.CreateEndpoint",
            json!({"NetworkID": "dn1", "EndpointID": "ep1", "Interface": {"Address": "10.1.2.1/24", "AddressIPv6": "", "MacAddress": ""}, "Options": {}}),
        )
        .await;
        assert_eq!(
            ep,
            json!({"Interface": {"MacAddress": "02:02:0a:01:02:01"}})
        );
        assert!(
            c.reservations().await.is_empty(),
            "the endpoint adopted the reservation"
        );
        assert_eq!(
            c.allocated(NET).await,
            before + 1,
            "adoption allocates nothing more"
        );
        let rec = c.endpoints();
        assert_eq!(
            (rec.len(), rec[0].id.as_str(), rec[0].host.as_str()),
            (1, "ep1", "h1")
        );
        let le = a.dp.state().local_endpoints[0].clone();
        assert_eq!(
            le.attachment,
            Attachment::HostVeth {
                peer_name: peer_ifname("ep1")
            }
        );
        let join = ok(
            &a,
            "NetworkDriver.Join",
            json!({"NetworkID": "dn1", "EndpointID": "ep1", "SandboxKey": "/var/run/docker/netns/x", "Options": {}}),
        )
        .await;
        assert_eq!(
            join["InterfaceName"],
            json!({"SrcName": peer_ifname("ep1"), "DstPrefix": "eth"})
        );
        assert_eq!(join["Gateway"], "10.1.2.254");
        assert_eq!(join["DisableGatewayService"], false);
        for _ in 0..2 {
            assert_eq!(
                ok(
                    &a,
                    "NetworkDriver.EndpointOperInfo",
                    json!({"NetworkID": "dn1", "EndpointID": "ep1"})
                )
                .await,
                json!({"Value": {}})
            );
        }

        // docker run --net=web.contiv-net, with an explicit address
        let addr2 = ok(
            &a,
            "IpamDriver.RequestAddress",
            json!({"PoolID": gpool, "Address": "10.1.2.77", "Options": {}}),
        )
        .await;
        assert_eq!(addr2["Address"], "10.1.2.77/24");
        ok(
            &a,
            "NetworkDriver.CreateEndpoint",
            json!({"NetworkID": "dn2", "EndpointID": "ep2", "Interface": {"Address": "10.1.2.77/24", "MacAddress": "02:00:00:00:00:77"}}),
        )
        .await;
        let ep2 = c
            .endpoints()
            .into_iter()
            .find(|e| e.id == "ep2")
            .expect("ep2 recorded");
        assert_eq!(ep2.group, "web");
        assert_ne!(ep2.epg_id, 0);
        // The address is taken while reserved/held: asking for it fails.
        let (s, r) = a
            .docker(
                "IpamDriver.RequestAddress",
                json!({"PoolID": pool_id, "Address": "10.1.2.77"}),
            )
            .await;
        assert_eq!(s, 500);
        assert!(r["Err"].as_str().unwrap().contains("10.1.2.77"), "{r}");

        // docker rm: Leave → DeleteEndpoint → ReleaseAddress
        for (id, ip, net) in [
            ("ep1", "10.1.2.1/24", "dn1"),
            ("ep2", "10.1.2.77/24", "dn2"),
        ] {
            let pid = if id == "ep1" { &pool_id } else { &gpool };
            ok(
                &a,
                "NetworkDriver.Leave",
                json!({"NetworkID": net, "EndpointID": id}),
            )
            .await;
            ok(
                &a,
                "NetworkDriver.DeleteEndpoint",
                json!({"NetworkID": net, "EndpointID": id}),
            )
            .await;
            assert!(c.endpoints().iter().all(|e| e.id != id));
            assert!(
                c.reservations()
                    .await
                    .iter()
                    .any(|r| r.ipv4.to_string() == ip.split('/').next().unwrap()),
                "DeleteEndpoint keeps the address reserved until ReleaseAddress"
            );
            for _ in 0..2 {
                ok(
                    &a,
                    "IpamDriver.ReleaseAddress",
                    json!({"PoolID": pid, "Address": ip}),
                )
                .await;
            }
        }
        assert!(a.dp.state().local_endpoints.is_empty());
        assert!(c.reservations().await.is_empty());
        // docker network rm
        ok(
            &a,
            "IpamDriver.ReleaseAddress",
            json!({"PoolID": pool_id, "Address": "10.1.2.254/24"}),
        )
        .await;
        ok(&a, "IpamDriver.ReleasePool", json!({"PoolID": pool_id})).await;
        ok(
            &a,
            "NetworkDriver.DeleteNetwork",
            json!({"NetworkID": "dn1"}),
        )
        .await;
        assert_eq!(
            c.allocated(NET).await,
            before,
            "the allocated set is as before"
        );
        let (s, r) = a
            .docker(
                "NetworkDriver.CreateEndpoint",
                json!({"NetworkID": "dn1", "EndpointID": "ep3"}),
            )
            .await;
        assert_eq!(s, 500, "a forgotten network is refused: {r}");
        let (s, r) = a.docker("NetworkDriver.Bogus", json!({})).await;
        assert_eq!(s, 404);
        assert!(r["Err"].as_str().unwrap().contains("NetworkDriver.Bogus"));
    }

    /// Docker's rollback when CreateEndpoint fails: ReleaseAddress frees
    /// the reservation; nothing stays.
    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn a_failed_create_endpoint_is_released_by_docker() {
        let (c, a) = setup().await;
        let pool = ok(&a, "IpamDriver.RequestPool", json!({"Pool": "10.1.2.0/24"})).await["PoolID"]
            .as_str()
            .unwrap()
            .to_owned();
        ok(
            &a,
            "NetworkDriver.CreateNetwork",
            json!({"NetworkID": "dn", "IPv4Data": [{"Pool": "10.1.2.0/24"}]}),
        )
        .await;
        let addr = ok(&a, "IpamDriver.RequestAddress", json!({"PoolID": pool})).await["Address"]
            .as_str()
            .unwrap()
            .to_owned();
        // An invalid endpoint id makes CreateEndpoint fail.
        let (s, _) = a
            .docker(
                "NetworkDriver.CreateEndpoint",
                json!({"NetworkID": "dn", "EndpointID": "bad id", "Interface": {"Address": addr}}),
            )
            .await;
        assert_eq!(s, 500);
        assert_eq!(c.reservations().await.len(), 1);
        ok(
            &a,
            "IpamDriver.ReleaseAddress",
            json!({"PoolID": pool, "Address": addr}),
        )
        .await;
        assert!(c.reservations().await.is_empty());
        assert_eq!(c.allocated(NET).await, 0);
        assert!(c.endpoints().is_empty());
    }

    fn port_map(ep: &str, net: &str, host_port: u64, port: u64) -> Value {
        json!({"NetworkID": net, "EndpointID": ep, "Interface": {},
               "Options": {"com.docker.network.portmap": [
                   {"Proto": 6, "IP": "", "Port": port, "HostIP": "", "HostPort": host_port, "HostPortEnd": host_port}]}})
    }

    /// `docker run -p 19099:80`: the ports are recorded with the endpoint
    /// at netmaster, the desired state carries them (they survive an agent
    /// restart), they go with the endpoint; a taken or unchosen host port
    /// is refused before anything is made.
    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn published_ports_live_with_the_endpoint() {
        let (c, mut a) = setup().await;
        ok(
            &a,
            "NetworkDriver.CreateNetwork",
            json!({"NetworkID": "dn", "IPv4Data": [{"Pool": "10.1.2.0/24"}]}),
        )
        .await;
        ok(
            &a,
            "NetworkDriver.CreateEndpoint",
            port_map("ep1", "dn", 19099, 80),
        )
        .await;
        let want = PublishedPort {
            endpoint: "ep1".into(),
            protocol: ServiceProtocol::Tcp,
            host_ip: None,
            host_port: 19099,
            port: 80,
        };
        let rec = c.endpoints();
        assert_eq!(rec[0].published, vec![want.clone()]);
        assert_eq!(a.dp.state().published, vec![want.clone()]);
        // Docker names them again for the gateway endpoint: they match.
        ok(
            &a,
            "NetworkDriver.ProgramExternalConnectivity",
            port_map("ep1", "dn", 19099, 80),
        )
        .await;
        let (s, r) = a
            .docker(
                "NetworkDriver.ProgramExternalConnectivity",
                port_map("ep1", "dn", 19100, 80),
            )
            .await;
        assert_eq!(s, 500);
        assert!(
            r["Err"].as_str().unwrap().contains("was created with"),
            "{r}"
        );

        // The host port is taken: refused, nothing recorded.
        let (s, r) = a
            .docker(
                "NetworkDriver.CreateEndpoint",
                port_map("ep2", "dn", 19099, 8080),
            )
            .await;
        assert_eq!(s, 500);
        assert!(
            r["Err"]
                .as_str()
                .unwrap()
                .contains("already published to endpoint ep1"),
            "{r}"
        );
        // `-p 80`, `-p 70000:80`: refused with the reason.
        for (hp, msg) in [
            (0, "give the host port explicitly"),
            (70000, "not in 1..=65535"),
        ] {
            let (s, r) = a
                .docker(
                    "NetworkDriver.CreateEndpoint",
                    port_map("ep3", "dn", hp, 80),
                )
                .await;
            assert_eq!(s, 500);
            assert!(r["Err"].as_str().unwrap().contains(msg), "{r}");
        }
        // A network without a gateway: the container could not answer.
        c.network("default", "nogw", "10.1.3.0/24", "").await;
        ok(
            &a,
            "NetworkDriver.CreateNetwork",
            json!({"NetworkID": "dn3", "IPv4Data": [{"Pool": "10.1.3.0/24"}]}),
        )
        .await;
        let ok_nogw = eventually(Duration::from_secs(10), async || {
            let (_, r) = a
                .docker(
                    "NetworkDriver.CreateEndpoint",
                    port_map("ep4", "dn3", 19200, 80),
                )
                .await;
            r["Err"]
                .as_str()
                .filter(|e| e.contains("has no gateway"))
                .map(str::to_owned)
        })
        .await;
        assert!(ok_nogw.is_some());
        assert_eq!(c.endpoints().len(), 1, "refused endpoints are not made");
        assert_eq!(c.allocated(NET).await, 1);

        // An agent restart keeps them: the record is the source.
        a.stop().await;
        a.launch().await;
        let kept = eventually(Duration::from_secs(10), async || {
            a.agent()
                .status()
                .ready
                .then(|| a.dp.state().published)
                .filter(|p| !p.is_empty())
        })
        .await;
        assert_eq!(kept, Some(vec![want.clone()]));

        // docker rm: the ports go with the endpoint.
        ok(
            &a,
            "NetworkDriver.DeleteEndpoint",
            json!({"NetworkID": "dn", "EndpointID": "ep1"}),
        )
        .await;
        assert!(a.dp.state().published.is_empty());
        assert!(a.dp.ops().contains(&DpOp::RemovePublishedPort(want.key())));
        // ...and the host port is free again.
        ok(
            &a,
            "NetworkDriver.CreateEndpoint",
            port_map("ep2", "dn", 19099, 8080),
        )
        .await;
    }

    /// A datapath that does not publish ports: `docker run -p` is refused
    /// at CreateEndpoint, naming the missing capability.
    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn published_ports_need_the_capability() {
        let (c, mut a) = setup().await;
        a.stop().await;
        a.hidden = vec![Capability::PublishedPorts];
        a.launch().await;
        ok(
            &a,
            "NetworkDriver.CreateNetwork",
            json!({"NetworkID": "dn", "IPv4Data": [{"Pool": "10.1.2.0/24"}]}),
        )
        .await;
        let (s, r) = a
            .docker(
                "NetworkDriver.CreateEndpoint",
                port_map("ep1", "dn", 19099, 80),
            )
            .await;
        assert_eq!(s, 500);
        assert!(
            r["Err"]
                .as_str()
                .unwrap()
                .contains("lacks the published_ports capability"),
            "{r}"
        );
        assert!(c.endpoints().is_empty());
        // Without -p the same datapath serves the container.
        ok(
            &a,
            "NetworkDriver.CreateEndpoint",
            json!({"NetworkID": "dn", "EndpointID": "ep1", "Interface": {}}),
        )
        .await;
    }

    /// Without an IPAM address (another IPAM driver gave none), the
    /// endpoint gets one from netmaster, reports it, and DeleteEndpoint
    /// frees it with the endpoint.
    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn an_endpoint_without_an_ipam_address_is_freed_with_it() {
        let (c, a) = setup().await;
        ok(
            &a,
            "NetworkDriver.CreateNetwork",
            json!({"NetworkID": "dn", "IPv4Data": [{"Pool": "10.1.2.0/24"}]}),
        )
        .await;
        let r = ok(
            &a,
            "NetworkDriver.CreateEndpoint",
            json!({"NetworkID": "dn", "EndpointID": "ep9", "Interface": {}}),
        )
        .await;
        assert_eq!(
            r,
            json!({"Interface": {"Address": "10.1.2.1/24", "MacAddress": "02:02:0a:01:02:01"}})
        );
        assert_eq!(c.allocated(NET).await, 1);
        ok(
            &a,
            "NetworkDriver.DeleteEndpoint",
            json!({"NetworkID": "dn", "EndpointID": "ep9"}),
        )
        .await;
        assert!(c.reservations().await.is_empty());
        assert_eq!(c.allocated(NET).await, 0);
    }

    /// A reservation of a killed agent is released when the agent starts
    /// again (its instance is older); a vanished node's reservations are
    /// released by netmaster's cleanup after the grace period.
    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn stale_reservations_are_swept() {
        let c = Cluster::start(&["--node-gc-grace", "1s", "--node-ttl", "1s"]).await;
        c.network("default", "contiv-net", "10.1.2.0/24", "").await;
        let mut a = TestAgent::start(&c, "h1", "192.0.2.1").await;
        let pool = ok(&a, "IpamDriver.RequestPool", json!({"Pool": "10.1.2.0/24"})).await["PoolID"]
            .as_str()
            .unwrap()
            .to_owned();
        ok(&a, "IpamDriver.RequestAddress", json!({"PoolID": pool})).await;
        assert_eq!(c.reservations().await.len(), 1);
        a.kill().await;
        a.launch().await;
        eventually(Duration::from_secs(15), async || {
            c.reservations().await.is_empty().then_some(())
        })
        .await
        .expect("the restarted agent sweeps its predecessor's reservation");
        assert_eq!(c.allocated(NET).await, 0);

        // Another host reserves, then vanishes.
        let mut b = TestAgent::start(&c, "h2", "192.0.2.2").await;
        ok(&b, "IpamDriver.RequestAddress", json!({"PoolID": pool})).await;
        b.kill().await;
        eventually(Duration::from_secs(15), async || {
            (!c.nodes().contains(&"h2".to_owned())).then_some(())
        })
        .await
        .expect("h2's lease expires");
        let nm = c.netmaster().clone();
        assert_eq!(
            nm.gc_vanished().await.reservations,
            0,
            "not before the grace period"
        );
        tokio::time::sleep(Duration::from_millis(1100)).await;
        assert_eq!(nm.gc_vanished().await.reservations, 1);
        assert!(c.reservations().await.is_empty());
        assert_eq!(c.allocated(NET).await, 0);
    }

    /// A Docker engine API fake (the three calls the sync makes), on a unix
    /// socket: the agent creates one Docker network per contiv network and
    /// group with the original's names, removes those whose object went,
    /// and leaves hand-made networks alone.
    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn docker_networks_follow_contiv_networks_and_groups() {
        use axum::extract::{Path as AxPath, State};
        use axum::routing::{delete, get, post};
        use axum::{Json, Router};
        use std::sync::{Arc, Mutex};
        type Nets = Arc<Mutex<Vec<Value>>>;
        let nets: Nets = Arc::new(Mutex::new(vec![
            json!({"Name": "mine", "Id": "id-mine", "Driver": "netplugin", "Labels": {}}),
        ]));
        async fn list(State(n): State<Nets>) -> Json<Value> {
            Json(Value::Array(n.lock().unwrap().clone()))
        }
        async fn create(State(n): State<Nets>, Json(mut b): Json<Value>) -> Json<Value> {
            let id = format!("id-{}", b["Name"].as_str().unwrap());
            b["Id"] = json!(id);
            n.lock().unwrap().push(b);
            Json(json!({"Id": id}))
        }
        async fn remove(
            State(n): State<Nets>,
            AxPath(id): AxPath<String>,
        ) -> axum::http::StatusCode {
            n.lock().unwrap().retain(|x| x["Id"] != id);
            axum::http::StatusCode::NO_CONTENT
        }
        let c = Cluster::start(&[]).await;
        let sock = c.dir.path().join("docker.sock");
        let app = Router::new()
            .route("/networks", get(list))
            .route("/networks/create", post(create))
            .route("/networks/{id}", delete(remove))
            .with_state(nets.clone());
        let server = contiv_bins::netplugin::unix::UnixServer::bind(&sock, 0o600, app)
            .await
            .unwrap();
        c.network("default", "contiv-net", "10.1.2.0/24", "10.1.2.254")
            .await;
        c.group("contiv-net", "web", &[]).await;
        c.tenant("blue").await;
        c.network("blue", "contiv-net", "10.1.2.0/24", "").await;
        let host = format!("unix://{}", sock.display());
        let _a =
            TestAgent::start_cfg(&c, "h1", "192.0.2.1", |cfg| cfg.docker_host = Some(host)).await;
        let names = || {
            let mut v: Vec<String> = nets
                .lock()
                .unwrap()
                .iter()
                .map(|n| n["Name"].as_str().unwrap().to_owned())
                .collect();
            v.sort();
            v
        };
        eventually(Duration::from_secs(15), async || {
            (names().len() == 4).then_some(())
        })
        .await
        .unwrap_or_else(|| panic!("Docker networks: {:?}", names()));
        assert_eq!(
            names(),
            ["contiv-net", "contiv-net/blue", "mine", "web.contiv-net"]
        );
        let web = nets
            .lock()
            .unwrap()
            .iter()
            .find(|n| n["Name"] == "web.contiv-net")
            .cloned()
            .unwrap();
        assert_eq!(web["Driver"], "netplugin");
        assert_eq!(web["IPAM"]["Driver"], "netplugin");
        assert_eq!(
            web["IPAM"]["Config"],
            json!([{"Subnet": "10.1.2.0/24", "Gateway": "10.1.2.254"}])
        );
        assert_eq!(
            web["IPAM"]["Options"],
            json!({"tenant": "default", "network": "contiv-net", "group": "web"})
        );
        assert_eq!(web["Options"]["encap"], "vxlan");
        assert_eq!(web["Attachable"], true);
        let blue = nets
            .lock()
            .unwrap()
            .iter()
            .find(|n| n["Name"] == "contiv-net/blue")
            .cloned()
            .unwrap();
        assert!(blue["IPAM"]["Config"][0].get("Gateway").is_none());
        c.ok(Method::DELETE, "/api/v1/endpointGroups/default:web/", None)
            .await;
        eventually(Duration::from_secs(15), async || {
            (names().len() == 3).then_some(())
        })
        .await
        .unwrap_or_else(|| panic!("Docker networks: {:?}", names()));
        assert_eq!(names(), ["contiv-net", "contiv-net/blue", "mine"]);
        server.shutdown().await;
    }
}
