//! `contiv-cni` driven by a real CNI runtime: a harness over Debian's
//! libcni (what container runtimes link) execs the plugin from CNI_PATH
//! for ADD, CHECK (with the cached result) and DEL, for several
//! namespaces, against the real `netplugin` on a real Open vSwitch.

#[path = "netplugin_support/mod.rs"]
mod support;

#[path = "e2e_support/mod.rs"]
mod e2e;

#[path = "cni_support/mod.rs"]
mod cni_support;

#[cfg(test)]
mod cni_libcni {
    use super::cni_support::Harness;
    use super::e2e::{CONTIV_CNI, Ctr, Plugin, Switch};
    use super::support::Cluster;
    use serde_json::json;
    use std::path::Path;

    fn conflist(sock: &Path, network: &str) -> serde_json::Value {
        json!({"cniVersion": "1.0.0", "name": network, "plugins": [
            {"type": "contiv-cni", "network": network, "socket": sock.display().to_string()}
        ]})
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn libcni_add_check_del_for_several_namespaces() {
        let h = Harness::build(Path::new(CONTIV_CNI));
        let c = Cluster::start(&[]).await;
        c.network("default", "contiv-net", "10.1.2.0/24", "10.1.2.254")
            .await;
        let sw = Switch::start();
        let dir = c.dir.path().join("np");
        let mut p = Plugin::start(&c.url, &dir, &sw, "h1", &[]);
        p.wait_ready().await;
        let list = h.conflist("contiv-net", &conflist(&p.sock, "contiv-net"));
        let list = list.to_str().unwrap();

        let ctrs: Vec<Ctr> = (0..4).map(|i| Ctr::new(&format!("l{i}"))).collect();
        let mut ips = Vec::new();
        for (i, ctr) in ctrs.iter().enumerate() {
            let id = format!("libcni-{i}");
            let args = format!("IgnoreUnknown=1;K8S_POD_NAME=pod{i}");
            let r = h
                .run(&["add", list, ctr.path.to_str().unwrap(), &id, "eth0", &args])
                .await;
            assert_eq!(r.code, 0, "ADD {id}: {}", r.stdout);
            let j = &r.json;
            assert_eq!(j["cniVersion"], "1.0.0", "{}", r.stdout);
            assert_eq!(j["interfaces"][1]["name"], "eth0");
            assert_eq!(
                j["interfaces"][1]["sandbox"],
                ctr.path.to_str().unwrap(),
                "{}",
                r.stdout
            );
            assert_eq!(j["dns"]["nameservers"], json!(["169.254.53.53"]));
            let ip = j["ips"][0]["address"].as_str().unwrap().to_owned();
            assert_eq!(ip, format!("10.1.2.{}/24", i + 1));
            ips.push(ip.split('/').next().unwrap().to_owned());
            // CHECK gets the cached result as prevResult.
            let r = h
                .run(&[
                    "check",
                    list,
                    ctr.path.to_str().unwrap(),
                    &id,
                    "eth0",
                    &args,
                ])
                .await;
            assert_eq!(r.code, 0, "CHECK {id}: {}", r.stdout);
        }
        // Every namespace reaches the next one (a ring covers every port).
        for i in 0..ctrs.len() {
            let to = &ips[(i + 1) % ips.len()];
            assert!(
                ctrs[i].ping_eventually(to, 10).await,
                "{} cannot reach {to}",
                ctrs[i].name
            );
        }
        // By name through the built-in DNS.
        let ns = ctrs[0]
            .run(&["busybox", "nslookup", "pod3", "169.254.53.53"])
            .await;
        assert!(ns.contains(&ips[3]), "{ns}");
        assert_eq!(c.allocated("default:contiv-net").await, 4);

        // A CHECK of something that was never added fails with a CNI error.
        let r = h
            .run(&[
                "check",
                list,
                ctrs[0].path.to_str().unwrap(),
                "never-added",
                "eth0",
                "",
            ])
            .await;
        assert_ne!(r.code, 0, "{}", r.stdout);

        // A refused ADD (unknown network) leaves nothing.
        let bad = h.conflist("nope", &conflist(&p.sock, "nope"));
        let extra = Ctr::new("lx");
        let r = h
            .run(&[
                "add",
                bad.to_str().unwrap(),
                extra.path.to_str().unwrap(),
                "libcni-x",
                "eth0",
                "",
            ])
            .await;
        assert_eq!(r.code, 1, "{}", r.stdout);
        assert!(r.stdout.contains("nope"), "{}", r.stdout);
        assert!(!extra.has_link("eth0").await);
        assert!(c.endpoints().iter().all(|e| e.id != "libcni-x-eth0"));

        // DEL, twice (idempotent): addresses, ports and flows are gone.
        for (i, ctr) in ctrs.iter().enumerate() {
            let id = format!("libcni-{i}");
            for _ in 0..2 {
                let r = h
                    .run(&["del", list, ctr.path.to_str().unwrap(), &id, "eth0", ""])
                    .await;
                assert_eq!(r.code, 0, "DEL {id}: {}", r.stdout);
            }
            assert!(!ctr.has_link("eth0").await);
        }
        assert_eq!(c.allocated("default:contiv-net").await, 0);
        assert!(c.endpoints().is_empty());
        let ports: Vec<String> = sw
            .ports()
            .into_iter()
            .filter(|p| p.starts_with("vp") || p.starts_with("vd"))
            .collect();
        assert!(ports.is_empty(), "{ports:?}");
        let owned = sw
            .flows()
            .into_iter()
            .filter(|f| {
                matches!(
                    contiv_dp_ovs::pipeline::CookieKind::of(f.cookie),
                    Some(contiv_dp_ovs::pipeline::CookieKind::LocalEndpoint)
                        | Some(contiv_dp_ovs::pipeline::CookieKind::Membership)
                )
            })
            .count();
        assert_eq!(owned, 0, "no endpoint flows are left");
    }
}
