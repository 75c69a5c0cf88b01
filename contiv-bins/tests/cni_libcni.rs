//! `contiv-cni` driven by a real CNI runtime: a harness over Debian's
//! libcni (what container runtimes link) execs the plugin from CNI_PATH
//! for ADD, CHECK (with the cached result) and DEL, for several
//! namespaces, against the real `netplugin` on a real Open vSwitch; and
//! CHECK finding each way a container's interface can be broken after ADD.

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
    use std::path::{Path, PathBuf};

    fn conflist(sock: &Path, network: &str) -> serde_json::Value {
        json!({"cniVersion": "1.0.0", "name": network, "plugins": [
            {"type": "contiv-cni", "network": network, "socket": sock.display().to_string()}
        ]})
    }

    /// A host: netmaster with network `contiv-net` (10.1.2.0/24, gateway
    /// .254), a private OVS, netplugin on it, the libcni harness and its
    /// conflist. Dropped in field order: the agent first.
    struct Host {
        p: Plugin,
        sw: Switch,
        c: Cluster,
        h: Harness,
        list: PathBuf,
    }

    impl Host {
        async fn start() -> Host {
            let h = Harness::build(Path::new(CONTIV_CNI));
            let c = Cluster::start(&[]).await;
            c.network("default", "contiv-net", "10.1.2.0/24", "10.1.2.254")
                .await;
            let sw = Switch::start();
            let dir = c.dir.path().join("np");
            let mut p = Plugin::start(&c.url, &dir, &sw, "h1", &[]);
            p.wait_ready().await;
            let list = h.conflist("contiv-net", &conflist(&p.sock, "contiv-net"));
            Host { p, sw, c, h, list }
        }
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn libcni_add_check_del_for_several_namespaces() {
        let Host { p, sw, c, h, list } = &Host::start().await;
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

    /// CHECK reads the container's namespace (CNI spec 1.0.0 `CHECK`): after
    /// each defect, libcni's CHECK (with the cached result as prevResult)
    /// fails with code 103 naming exactly what differs; the untouched
    /// container still passes, and a repaired one passes again.
    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn libcni_check_finds_what_changed_in_the_namespace() {
        let Host { c, h, list, .. } = &Host::start().await;
        let list = list.to_str().unwrap();

        // (tag, defect commands, what CHECK must name, repair commands).
        type Case = (
            &'static str,
            &'static [&'static [&'static str]],
            &'static [&'static str],
            &'static [&'static [&'static str]],
        );
        let cases: &[Case] = &[
            ("ok", &[], &[], &[]),
            (
                "flush",
                &[&["ip", "addr", "flush", "dev", "eth0"]],
                &["address 10.1.2.2/24 is missing"],
                &[],
            ),
            (
                "del",
                &[&["ip", "link", "del", "eth0"]],
                &["interface eth0 does not exist"],
                &[],
            ),
            (
                "mtu",
                &[&["ip", "link", "set", "eth0", "mtu", "1400"]],
                &["MTU is 1400, expected 1450"],
                &[&["ip", "link", "set", "eth0", "mtu", "1450"]],
            ),
            (
                "route",
                &[&["ip", "route", "del", "default"]],
                &["route 0.0.0.0/0 via 10.1.2.254 is missing"],
                &[&[
                    "ip",
                    "route",
                    "add",
                    "default",
                    "via",
                    "10.1.2.254",
                    "dev",
                    "eth0",
                ]],
            ),
            (
                "dns",
                &[&["ip", "route", "del", "169.254.53.53/32"]],
                &["route 169.254.53.53/32 (link) is missing"],
                &[&[
                    "ip",
                    "route",
                    "add",
                    "169.254.53.53/32",
                    "dev",
                    "eth0",
                    "scope",
                    "link",
                ]],
            ),
            (
                "down",
                &[&["ip", "link", "set", "eth0", "down"]],
                &["interface eth0 is down"],
                &[],
            ),
            (
                "mac",
                &[&["ip", "link", "set", "eth0", "address", "02:00:00:00:00:99"]],
                &["MAC is 02:00:00:00:00:99, expected 02:02:0a:01:02:08"],
                &[&["ip", "link", "set", "eth0", "address", "02:02:0a:01:02:08"]],
            ),
        ];
        let ctrs: Vec<Ctr> = cases.iter().map(|(tag, ..)| Ctr::new(tag)).collect();
        let check = async |ctr: &Ctr, id: &str| {
            h.run(&["check", list, ctr.path.to_str().unwrap(), id, "eth0", ""])
                .await
        };
        for (i, ctr) in ctrs.iter().enumerate() {
            let id = format!("chk-{i}");
            let r = h
                .run(&["add", list, ctr.path.to_str().unwrap(), &id, "eth0", ""])
                .await;
            assert_eq!(r.code, 0, "ADD {id}: {}", r.stdout);
            assert_eq!(
                r.json["ips"][0]["address"],
                format!("10.1.2.{}/24", i + 1),
                "addresses go in order, as the cases expect"
            );
            let r = check(ctr, &id).await;
            assert_eq!(r.code, 0, "CHECK {id} right after ADD: {}", r.stdout);
        }
        for (i, ((tag, defect, named, repair), ctr)) in cases.iter().zip(&ctrs).enumerate() {
            let id = format!("chk-{i}");
            for cmd in *defect {
                ctr.run(cmd).await;
            }
            let r = check(ctr, &id).await;
            if named.is_empty() {
                assert_eq!(r.code, 0, "{tag}: untouched, CHECK passes: {}", r.stdout);
                continue;
            }
            assert_eq!(r.code, 1, "{tag}: CHECK must fail: {}", r.stdout);
            assert_eq!(r.json["code"], 103, "{tag}: {}", r.stdout);
            let msg = r.json["msg"].as_str().unwrap_or_default();
            for what in *named {
                assert!(msg.contains(what), "{tag}: {what:?} not in {msg:?}");
            }
            assert!(
                msg.contains(ctr.path.to_str().unwrap()),
                "{tag}: names the namespace: {msg}"
            );
            if !repair.is_empty() {
                for cmd in *repair {
                    ctr.run(cmd).await;
                }
                let r = check(ctr, &id).await;
                assert_eq!(r.code, 0, "{tag}: repaired, CHECK passes: {}", r.stdout);
            }
        }
        // The container's namespace is gone.
        let gone = &ctrs[0];
        let st = std::process::Command::new("ip")
            .args(["netns", "delete", &gone.name])
            .status()
            .expect("ip runs");
        assert!(st.success());
        let r = check(gone, "chk-0").await;
        assert_eq!(r.json["code"], 103, "{}", r.stdout);
        assert!(
            r.json["msg"]
                .as_str()
                .is_some_and(|m| m.contains("does not exist")),
            "{}",
            r.stdout
        );
        // DEL still cleans up every one of them.
        for (i, ctr) in ctrs.iter().enumerate() {
            let id = format!("chk-{i}");
            let r = h
                .run(&["del", list, ctr.path.to_str().unwrap(), &id, "eth0", ""])
                .await;
            assert_eq!(r.code, 0, "DEL {id}: {}", r.stdout);
        }
        assert!(c.endpoints().is_empty());
        assert_eq!(c.allocated("default:contiv-net").await, 0);
    }
}
