//! End to end on a real switch: netmaster (in-process, embedded store),
//! a private Open vSwitch (userspace datapath), the real `netplugin`
//! binary with `--datapath ovs`, and "containers" (network namespaces)
//! attached by running the real `contiv-cni` binary as a runtime does.

#[path = "netplugin_support/mod.rs"]
mod support;

#[path = "e2e_support/mod.rs"]
mod e2e;

#[cfg(test)]
mod e2e_ovs {
    use super::e2e::{BRIDGE, Ctr, Plugin, Switch, add, cni, del, netconf};
    use super::support::Cluster;
    use contiv_bins::netplugin::ifnames::host_ifname;
    use contiv_dp_ovs::pipeline::forwarding::local_cookie;
    use serde_json::json;

    /// Two containers attached through `contiv-cni` ping each other; the
    /// result describes what was plumbed; DEL removes the veth, the OVS
    /// port and every flow of the endpoint, and releases the address; a
    /// second DEL succeeds and changes nothing.
    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn cni_containers_on_ovs_ping_and_del_cleans_up() {
        let c = Cluster::start(&[]).await;
        c.network("default", "contiv-net", "10.1.2.0/24", "10.1.2.254")
            .await;
        let sw = Switch::start();
        let dir = c.dir.path().join("np");
        let mut p = Plugin::start(&c.url, &dir, &sw, "h1", &["--no-dns"]);
        p.wait_ready().await;
        let st = p.status().await.unwrap();
        assert_eq!(st["datapath"], "ovs", "{st}");
        assert!(
            sw.ovs
                .vsctl(&["list-br"])
                .unwrap()
                .lines()
                .any(|l| l == sw.bridge && l == BRIDGE),
            "netplugin created the bridge"
        );

        let (c1, c2) = (Ctr::new("a"), Ctr::new("b"));
        let r1 = add(&p.sock, &c1, "cid1", "contiv-c1", json!({})).await;
        let r2 = add(&p.sock, &c2, "cid2", "contiv-c2", json!({})).await;
        assert_eq!(r1.ip(), "10.1.2.1");
        assert_eq!(r2.ip(), "10.1.2.2");
        let j = &r2.json;
        assert_eq!(j["interfaces"][0]["name"], host_ifname("cid2-eth0"));
        assert_eq!(j["interfaces"][1]["name"], "eth0");
        assert_eq!(j["interfaces"][1]["mac"], "02:02:0a:01:02:02");
        assert_eq!(
            j["routes"],
            json!([{"dst": "0.0.0.0/0", "gw": "10.1.2.254"}])
        );

        // What the result says is what the namespace has.
        let addr = c2.run(&["ip", "-br", "addr", "show", "eth0"]).await;
        assert!(addr.contains("10.1.2.2/24"), "{addr}");
        let link = c2.run(&["ip", "link", "show", "eth0"]).await;
        assert!(
            link.contains("02:02:0a:01:02:02") && link.contains("mtu 1450"),
            "{link}"
        );
        let route = c2.run(&["ip", "route", "show", "default"]).await;
        assert!(route.contains("via 10.1.2.254 dev eth0"), "{route}");

        assert!(c1.ping_eventually("10.1.2.2", 10).await, "c1 -> c2");
        assert!(c2.ping("10.1.2.1").await, "c2 -> c1");

        let ports = sw.ports();
        let vp2 = host_ifname("cid2-eth0");
        assert!(ports.contains(&vp2), "{ports:?}");
        assert!(ports.contains(&host_ifname("cid1-eth0")), "{ports:?}");
        let cookie2 = local_cookie("cid2-eth0");
        assert!(sw.flows_with_cookie(cookie2) >= 4, "c2's flows installed");
        assert_eq!(c.allocated("default:contiv-net").await, 2);

        // CHECK with the previous result passes.
        let chk = cni(
            "CHECK",
            &c2,
            "cid2",
            "IgnoreUnknown=1",
            &netconf(&p.sock, json!({"prevResult": r2.json.clone()})),
        )
        .await;
        assert_eq!(chk.code, 0, "{}", chk.raw);

        // DEL: veth, port, flows and address are gone.
        del(&p.sock, &c2, "cid2", json!({})).await;
        assert!(!c2.has_link("eth0").await, "the container side is gone");
        assert!(!sw.has_link(&vp2), "the host side is gone");
        assert!(!sw.ports().contains(&vp2), "{:?}", sw.ports());
        assert_eq!(sw.flows_with_cookie(cookie2), 0, "c2's flows removed");
        assert_eq!(c.allocated("default:contiv-net").await, 1);
        assert!(c.endpoints().iter().all(|e| e.id != "cid2-eth0"));
        assert!(!c1.ping("10.1.2.2").await, "c2 is unreachable");
        // Idempotent.
        del(&p.sock, &c2, "cid2", json!({})).await;
        assert_eq!(c.allocated("default:contiv-net").await, 1);

        // The other endpoint is untouched; a new ADD gets the freed address.
        let c3 = Ctr::new("c");
        let r3 = add(&p.sock, &c3, "cid3", "contiv-c3", json!({})).await;
        assert_eq!(r3.ip(), "10.1.2.2");
        assert!(c3.ping_eventually("10.1.2.1", 10).await, "c3 -> c1");
        del(&p.sock, &c3, "cid3", json!({})).await;
        del(&p.sock, &c1, "cid1", json!({})).await;
        assert_eq!(c.allocated("default:contiv-net").await, 0);
        let left: Vec<String> = sw
            .ports()
            .into_iter()
            .filter(|p| p.starts_with("vp"))
            .collect();
        assert!(left.is_empty(), "{left:?}");
    }
}
