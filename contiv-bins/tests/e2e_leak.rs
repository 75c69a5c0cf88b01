//! The leak test on a real switch: 1,000 ADD/DEL cycles through the real
//! `contiv-cni` and `netplugin` (on a real Open vSwitch, real namespaces)
//! with faults injected at random between the agent's steps and in the
//! datapath. The test behaves as a CNI runtime does — DEL after a failed
//! ADD, DEL retried until it succeeds. Every failed ADD leaves nothing
//! (no record, no address, no port, no flow, no interface); at the end
//! netmaster holds no endpoint and no address, and the switch no port, no
//! interface and no flow owned by an endpoint (checked by cookie).

#[path = "netplugin_support/mod.rs"]
mod support;

#[path = "e2e_support/mod.rs"]
mod e2e;

#[cfg(test)]
mod e2e_leak {
    use super::e2e::{Ctr, Plugin, Switch, cni, netconf};
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

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn a_thousand_faulty_cni_cycles_on_ovs_leak_nothing() {
        let started = Instant::now();
        let c = Cluster::start(&[]).await;
        c.network("default", "contiv-net", "10.1.0.0/16", "10.1.255.254")
            .await;
        c.policy("p").await;
        c.group("contiv-net", "g", &["p"]).await;
        c.rule("p", "1", json!({"protocol": "tcp", "port": 22}))
            .await;
        let sw = Switch::start();
        let dir = c.dir.path().join("np");
        let mut p = Plugin::start(
            &c.url,
            &dir,
            &sw,
            "h1",
            &["--faults", "*=0.07", "--fault-seed", "42"],
        );
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
                assert!(
                    !sw.ports().contains(&host_ifname(&id)),
                    "failed ADD {id} left its port"
                );
                assert_eq!(
                    sw.flows_with_cookie(local_cookie(&id)),
                    0,
                    "failed ADD {id} left flows"
                );
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

        // Everything is gone: netmaster, switch ports, interfaces, flows.
        let clean = eventually(Duration::from_secs(30), async || {
            let ports: Vec<String> = sw
                .ports()
                .into_iter()
                .filter(|p| p.starts_with("vp") || p.starts_with("vd"))
                .collect();
            (c.endpoints().is_empty()
                && c.allocated("default:contiv-net").await == 0
                && ports.is_empty()
                && endpoint_flows(&sw).is_empty()
                && switch_links(&sw).is_empty())
            .then_some(())
        })
        .await;
        assert!(
            clean.is_some(),
            "left behind: endpoints {:?}, allocated {}, ports {:?}, flows {:#?}, links {:?}",
            c.endpoints().iter().map(|e| &e.id).collect::<Vec<_>>(),
            c.allocated("default:contiv-net").await,
            sw.ports(),
            endpoint_flows(&sw),
            switch_links(&sw)
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
    }
}
