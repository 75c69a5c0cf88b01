//! The built-in DNS as containers see it: the real `netplugin` binary on a
//! real Open vSwitch serves a DNS endpoint (169.254.53.53) on every
//! network with local endpoints; containers attached by the real
//! `contiv-cni` are told about it in their result, reach it over the
//! switch, and resolve container, group and service names of their own
//! tenant; other names go to the upstream resolver (dnsmasq on loopback).

#[path = "netplugin_support/mod.rs"]
mod support;

#[path = "e2e_support/mod.rs"]
mod e2e;

#[path = "dns_support/mod.rs"]
mod dns_support;

#[cfg(test)]
mod dns_agent {
    use super::dns_support::{Dnsmasq, dig};
    use super::e2e::{Ctr, Plugin, Switch, add, del};
    use super::support::Cluster;
    use axum::http::Method;
    use contiv_bins::netplugin::dns::{agent_identity, endpoint_id, netns_prefix};
    use serde_json::json;
    use std::net::{IpAddr, Ipv4Addr};

    const DNS: IpAddr = IpAddr::V4(Ipv4Addr::new(169, 254, 53, 53));

    fn a(s: &str) -> Ipv4Addr {
        s.parse().unwrap()
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn containers_resolve_names_of_their_tenant_and_the_rest_is_forwarded() {
        let c = Cluster::start(&[]).await;
        c.network("default", "contiv-net", "10.1.2.0/24", "10.1.2.254")
            .await;
        c.tenant("blue").await;
        c.network("blue", "contiv-net", "10.1.2.0/24", "").await;
        c.group("contiv-net", "db", &[]).await;
        c.ok(
            Method::POST,
            "/api/v1/serviceLBs/default:websvc/",
            Some(json!({"tenantName": "default", "serviceName": "websvc",
                        "networkName": "contiv-net", "ports": ["80:8080:TCP"],
                        "selectors": ["app=web"]})),
        )
        .await;
        let upstream = Dnsmasq::start(&["--address=/outside.test/192.0.2.77".into()]);
        let sw = Switch::start();
        let dir = c.dir.path().join("np");
        let up = upstream.addr().to_string();
        let mut p = Plugin::start(&c.url, &dir, &sw, "h1", &["--dns-upstream", &up]);
        p.wait_ready().await;

        let c1 = Ctr::new("c1");
        let c2 = Ctr::new("c2");
        let r1 = add(&p.sock, &c1, "cid-c1", "contiv-c1", json!({})).await;
        // The result names the built-in DNS and its route.
        assert_eq!(
            r1.json["dns"]["nameservers"],
            json!(["169.254.53.53"]),
            "{}",
            r1.raw
        );
        assert!(
            r1.json["routes"]
                .as_array()
                .unwrap()
                .contains(&json!({"dst": "169.254.53.53/32"})),
            "{}",
            r1.raw
        );
        let route = c1.run(&["ip", "route", "get", "169.254.53.53"]).await;
        assert!(
            route.contains("dev eth0") && !route.contains("via"),
            "{route}"
        );
        let r2 = add(&p.sock, &c2, "cid-c2", "contiv-c2", json!({})).await;
        // netconf nameservers come after ours.
        let c3 = Ctr::new("c3");
        let r3 = add(
            &p.sock,
            &c3,
            "cid-c3",
            "contiv-c3",
            json!({"dns": {"nameservers": ["10.9.9.9"], "search": ["corp"]}}),
        )
        .await;
        assert_eq!(
            r3.json["dns"],
            json!({"nameservers": ["169.254.53.53", "10.9.9.9"], "search": ["corp"]})
        );

        // By container name, through the container's own resolver: ping
        // resolves contiv-c2 over the switch.
        c1.use_resolver("169.254.53.53");
        let out = c1.exec(&["ping", "-c", "1", "-W", "2", "contiv-c2"]).await;
        let text = String::from_utf8_lossy(&out.stdout);
        assert!(
            out.status.success() && text.contains(&r2.ip()),
            "ping contiv-c2: {text}{}",
            String::from_utf8_lossy(&out.stderr)
        );
        // busybox's nslookup, as in a busybox container.
        let ns = c2
            .run(&["busybox", "nslookup", "contiv-c1", "169.254.53.53"])
            .await;
        assert!(ns.contains(&r1.ip()), "{ns}");

        // Group names: all members, rotated.
        let d1 = Ctr::new("d1");
        let d2 = Ctr::new("d2");
        let db1 = add(&p.sock, &d1, "cid-d1", "contiv-db1", json!({"group": "db"})).await;
        let db2 = add(&p.sock, &d2, "cid-d2", "contiv-db2", json!({"group": "db"})).await;
        let first = dig(Some(&c1.name), DNS, 53, &["db"]).await;
        let second = dig(Some(&c1.name), DNS, 53, &["db"]).await;
        let mut all = first.a();
        all.sort();
        assert_eq!(all, vec![a(&db1.ip()), a(&db2.ip())], "{}", first.raw);
        assert_eq!(first.status, "NOERROR");
        assert!(first.flag("aa"), "{}", first.raw);
        assert_ne!(first.a()[0], second.a()[0], "answers rotate");
        // The documented form from other networks of the tenant.
        let q = dig(Some(&c1.name), DNS, 53, &["db.contiv-net"]).await;
        assert_eq!(q.a().len(), 2, "{}", q.raw);
        // Over TCP too.
        let t = dig(Some(&c2.name), DNS, 53, &["+tcp", "contiv-db1"]).await;
        assert_eq!(t.a(), vec![a(&db1.ip())], "{}", t.raw);

        // Service names: the VIP.
        let vip = c
            .netmaster()
            .cache()
            .read()
            .service_states
            .get("default:websvc")
            .map(|s| s.vip)
            .expect("service VIP");
        let s = dig(Some(&c1.name), DNS, 53, &["websvc"]).await;
        assert_eq!(s.a(), vec![vip], "{}", s.raw);

        // Unknown names go upstream.
        let f = dig(Some(&c1.name), DNS, 53, &["outside.test"]).await;
        assert_eq!(f.a(), vec![a("192.0.2.77")], "{}", f.raw);
        assert!(upstream.queries_for("outside.test") >= 1);
        assert_eq!(
            upstream.queries_for("contiv-c2"),
            0,
            "local names stay local"
        );

        // Tenant blue: the same subnet, its own DNS endpoint, its own names.
        let b1 = Ctr::new("b1");
        let b2 = Ctr::new("b2");
        let blue = json!({"tenant": "blue"});
        let rb1 = add(&p.sock, &b1, "cid-b1", "contiv-blue-c1", blue.clone()).await;
        let rb2 = add(&p.sock, &b2, "cid-b2", "contiv-c1", blue.clone()).await;
        assert_eq!(
            rb2.ip(),
            r1.ip(),
            "overlapping subnets: the same address in both tenants"
        );
        let q = dig(Some(&b1.name), DNS, 53, &["contiv-c1"]).await;
        assert_eq!(q.a(), vec![a(&rb2.ip())], "blue's contiv-c1: {}", q.raw);
        let q = dig(Some(&b2.name), DNS, 53, &["contiv-blue-c1"]).await;
        assert_eq!(q.a(), vec![a(&rb1.ip())], "{}", q.raw);
        let q = dig(Some(&b1.name), DNS, 53, &["contiv-c2"]).await;
        assert!(
            q.a().is_empty(),
            "default's names are not blue's: {}",
            q.raw
        );
        let q = dig(Some(&b1.name), DNS, 53, &["websvc"]).await;
        assert!(q.a().is_empty(), "{}", q.raw);
        let q = dig(Some(&c1.name), DNS, 53, &["contiv-blue-c1"]).await;
        assert!(q.a().is_empty(), "{}", q.raw);
        b1.use_resolver("169.254.53.53");
        let out = b1.exec(&["ping", "-c", "1", "-W", "2", "contiv-c1"]).await;
        assert!(out.status.success(), "blue pings blue's contiv-c1 by name");

        // Two DNS endpoints (one per network), each a local endpoint of
        // its network; the last endpoint of blue's network takes blue's
        // DNS endpoint (port and namespace) with it.
        let blue_dns = p
            .status()
            .await
            .map(|_| endpoint_id("blue:contiv-net"))
            .unwrap();
        let dns_ports = |sw: &Switch| {
            sw.ports()
                .into_iter()
                .filter(|p| p.starts_with("vd"))
                .count()
        };
        assert_eq!(dns_ports(&sw), 2, "{:?}", sw.ports());
        let cookie = contiv_dp_ovs::pipeline::forwarding::local_cookie(&blue_dns);
        assert!(sw.flows_with_cookie(cookie) > 0);
        let prefix = netns_prefix(&agent_identity("h1", &dir.join("state")));
        let dns_namespaces = || contiv_bins::dns::netns::named_netns_with_prefix(&prefix);
        let before: Vec<String> = dns_namespaces();
        assert_eq!(before.len(), 2, "{before:?}");
        del(&p.sock, &b1, "cid-b1", blue.clone()).await;
        del(&p.sock, &b2, "cid-b2", blue.clone()).await;
        assert_eq!(dns_ports(&sw), 1, "{:?}", sw.ports());
        assert_eq!(sw.flows_with_cookie(cookie), 0);
        assert_eq!(dns_namespaces().len(), 1, "{:?}", dns_namespaces());
        // Default's DNS still answers.
        let q = dig(Some(&c1.name), DNS, 53, &["contiv-c2"]).await;
        assert_eq!(q.a(), vec![a(&r2.ip())]);

        for (ctr, cid) in [(&c1, "cid-c1"), (&c2, "cid-c2"), (&c3, "cid-c3")] {
            del(&p.sock, ctr, cid, json!({})).await;
        }
        del(&p.sock, &d1, "cid-d1", json!({})).await;
        del(&p.sock, &d2, "cid-d2", json!({})).await;
        assert_eq!(dns_ports(&sw), 0, "{:?}", sw.ports());
        assert!(dns_namespaces().is_empty(), "{:?}", dns_namespaces());
        drop(p);
    }
}
