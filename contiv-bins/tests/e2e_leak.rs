//! The leak test on a real datapath: 1,000 ADD/DEL cycles through the real
//! `contiv-cni` and `netplugin` (on a real Open vSwitch, and on the eBPF
//! datapath; real namespaces) with faults injected at random between the
//! agent's steps and in the datapath. The test behaves as a CNI runtime
//! does — DEL after a failed ADD, DEL retried until it succeeds. Every
//! failed ADD leaves nothing (no record, no address, no port or
//! attachment, no flow or map entry, no interface); at the end netmaster
//! holds no endpoint and no address, the switch no port, no interface and
//! no flow owned by an endpoint (checked by cookie), and the eBPF datapath
//! no attachment, no pinned link and no endpoint map entry.

#[path = "netplugin_support/mod.rs"]
mod support;

#[path = "e2e_support/mod.rs"]
mod e2e;

#[cfg(test)]
mod e2e_leak {
    use super::e2e::{BpfHost, Ctr, Plugin, Switch, cni, netconf};
    use super::support::{Cluster, eventually};
    use contiv_bins::netplugin::ifnames::host_ifname;
    use contiv_dp_ovs::pipeline::CookieKind;
    use contiv_dp_ovs::pipeline::forwarding::local_cookie;
    use serde_json::json;
    use std::time::{Duration, Instant};

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

    fn endpoint_flows(sw: &Switch) -> Vec<String> {
        sw.flows()
            .into_iter()
            .filter(|f| {
                matches!(
                    CookieKind::of(f.cookie),
                    Some(CookieKind::LocalEndpoint | CookieKind::Membership)
                )
            })
            .map(|f| f.to_string_with_cookie())
            .collect()
    }

    fn switch_links(sw: &Switch) -> Vec<String> {
        let out = std::process::Command::new("ip")
            .args(["-n", &sw.netns(), "-o", "link", "show"])
            .output()
            .unwrap();
        String::from_utf8_lossy(&out.stdout)
            .lines()
            .filter_map(|l| l.split(": ").nth(1))
            .map(|n| n.split('@').next().unwrap_or(n).to_owned())
            .filter(|n| n.starts_with("vp") || n.starts_with("vd") || n.starts_with("ctmp"))
            .collect()
    }

    /// The datapath under test.
    enum Dataplane {
        Ovs(Switch),
        Ebpf(BpfHost),
    }

    impl Dataplane {
        fn plugin(&self, url: &str, dir: &std::path::Path, extra: &[&str]) -> Plugin {
            match self {
                Dataplane::Ovs(sw) => Plugin::start(url, dir, sw, "h1", extra),
                Dataplane::Ebpf(bh) => Plugin::start_ebpf(url, dir, bh, "h1", extra),
            }
        }

        /// Asserts that endpoint `id` is plugged in (the positive control
        /// of [`Dataplane::leftovers`]).
        fn assert_plugged(&self, id: &str) {
            let ifname = host_ifname(id);
            match self {
                Dataplane::Ovs(sw) => assert!(sw.ports().contains(&ifname), "no port {ifname}"),
                Dataplane::Ebpf(bh) => assert!(
                    bh.endpoint_filters().contains(&ifname),
                    "no endpoint filter on {ifname}"
                ),
            }
        }

        /// What endpoint `id` left in the datapath, if anything.
        fn left_by(&self, id: &str) -> Option<String> {
            let ifname = host_ifname(id);
            match self {
                Dataplane::Ovs(sw) => {
                    if sw.ports().contains(&ifname) {
                        return Some(format!("port {ifname}"));
                    }
                    let n = sw.flows_with_cookie(local_cookie(id));
                    (n > 0).then(|| format!("{n} flows"))
                }
                Dataplane::Ebpf(bh) => bh
                    .links()
                    .contains(&ifname)
                    .then(|| format!("interface {ifname}")),
            }
        }

        /// Whatever endpoints left in the datapath (empty: clean).
        fn leftovers(&self) -> Vec<String> {
            match self {
                Dataplane::Ovs(sw) => {
                    let mut v: Vec<String> = sw
                        .ports()
                        .into_iter()
                        .filter(|p| p.starts_with("vp") || p.starts_with("vd"))
                        .map(|p| format!("port {p}"))
                        .collect();
                    v.extend(endpoint_flows(sw).into_iter().map(|f| format!("flow {f}")));
                    v.extend(switch_links(sw).into_iter().map(|l| format!("link {l}")));
                    v
                }
                Dataplane::Ebpf(bh) => {
                    let mut v: Vec<String> = bh
                        .endpoint_links()
                        .into_iter()
                        .map(|l| format!("pinned link {l}"))
                        .collect();
                    v.extend(
                        bh.endpoint_filters()
                            .into_iter()
                            .map(|l| format!("endpoint filter on {l}")),
                    );
                    v.extend(
                        bh.links()
                            .into_iter()
                            .filter(|n| {
                                n.starts_with("vp") || n.starts_with("vd") || n.starts_with("ctmp")
                            })
                            .map(|l| format!("interface {l}")),
                    );
                    let sizes = bh.map_sizes();
                    assert!(!sizes.is_empty(), "the pinned maps are readable");
                    for (m, n) in sizes {
                        let endpoint_map = matches!(
                            m,
                            "interfaces"
                                | "endpoints"
                                | "macs"
                                | "membership"
                                | "flood"
                                | "ep_stats"
                                | "buckets"
                        );
                        if endpoint_map && n > 0 {
                            v.push(format!("{n} entries in map {m}"));
                        }
                    }
                    v
                }
            }
        }
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn a_thousand_faulty_cni_cycles_on_ovs_leak_nothing() {
        cycles(Dataplane::Ovs(Switch::start())).await;
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn a_thousand_faulty_cni_cycles_on_ebpf_leak_nothing() {
        cycles(Dataplane::Ebpf(BpfHost::start())).await;
    }

    async fn cycles(dp: Dataplane) {
        let started = Instant::now();
        let c = Cluster::start(&[]).await;
        c.network("default", "contiv-net", "10.1.0.0/16", "10.1.255.254")
            .await;
        c.policy("p").await;
        c.group("contiv-net", "g", &["p"]).await;
        c.rule("p", "1", json!({"protocol": "tcp", "port": 22}))
            .await;
        let dir = c.dir.path().join("np");
        let mut p = dp.plugin(&c.url, &dir, &["--faults", "*=0.07", "--fault-seed", "42"]);
        p.wait_ready().await;
        let pool: Vec<Ctr> = (0..8).map(|i| Ctr::new(&format!("k{i}"))).collect();
        let mut rng = Rng(0x1234_5678_9abc_def1);
        let (mut added, mut failed_adds, mut failed_dels) = (0, 0, 0);
        for i in 0..CYCLES {
            let ctr = &pool[i % pool.len()];
            let cid = format!("c{i}");
            let id = format!("{cid}-eth0");
            let extra = if rng.below(2) == 0 {
                json!({"group": "g"})
            } else {
                json!({})
            };
            let conf = netconf(&p.sock, extra);
            let before = c.allocated("default:contiv-net").await;
            let out = cni("ADD", ctr, &cid, "IgnoreUnknown=1", &conf).await;
            if out.code == 0 {
                added += 1;
                if added == 1 {
                    dp.assert_plugged(&id);
                }
                if rng.below(4) == 0 {
                    let mut chk = conf.clone();
                    chk["prevResult"] = out.json.clone();
                    let r = cni("CHECK", ctr, &cid, "IgnoreUnknown=1", &chk).await;
                    assert_eq!(r.code, 0, "CHECK after a successful ADD: {}", r.raw);
                }
            } else {
                failed_adds += 1;
                let code = out.json["code"].as_u64();
                assert!(
                    matches!(code, Some(11 | 101)),
                    "a failed ADD is retryable or a datapath failure: {}",
                    out.raw
                );
                // A failed ADD left nothing behind.
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
                    !ctr.has_link("eth0").await,
                    "failed ADD {id} left its interface"
                );
                let left = dp.left_by(&id);
                assert!(left.is_none(), "failed ADD {id} left {left:?}");
            }
            // DEL, retried until it succeeds (as a runtime does).
            let mut ok = false;
            for _ in 0..50 {
                let r = cni("DEL", ctr, &cid, "IgnoreUnknown=1", &conf).await;
                if r.code == 0 {
                    ok = true;
                    break;
                }
                failed_dels += 1;
            }
            assert!(ok, "DEL {id} kept failing");
            assert!(!ctr.has_link("eth0").await, "DEL {id} left the interface");
        }
        assert!(added > CYCLES / 2, "too few ADDs succeeded: {added}");
        assert!(failed_adds > 20, "faults fired too rarely: {failed_adds}");

        // Everything is gone: netmaster, the datapath's ports or
        // attachments, flows or map entries, interfaces.
        let clean = eventually(Duration::from_secs(30), async || {
            (c.endpoints().is_empty()
                && c.allocated("default:contiv-net").await == 0
                && dp.leftovers().is_empty())
            .then_some(())
        })
        .await;
        assert!(
            clean.is_some(),
            "left behind: endpoints {:?}, allocated {}, in the datapath {:#?}",
            c.endpoints().iter().map(|e| &e.id).collect::<Vec<_>>(),
            c.allocated("default:contiv-net").await,
            dp.leftovers()
        );
        assert!(c.reservations().await.is_empty());
        assert!(
            contiv_bins::dns::netns::named_netns_with_prefix(&p.dns_netns_prefix()).is_empty(),
            "the DNS namespace went with the last endpoint"
        );
        eprintln!(
            "{CYCLES} cycles: {added} ADDs succeeded, {failed_adds} failed, {failed_dels} DEL retries, {:.1}s",
            started.elapsed().as_secs_f64()
        );
        drop(p);
        drop(dp);
    }
}
