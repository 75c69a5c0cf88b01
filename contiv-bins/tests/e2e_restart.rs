//! Restarts on a real switch: `kill -9` of the real `netplugin` while
//! endpoints exist, and while a policy change is in flight. Traffic keeps
//! flowing while the agent is gone (the flows stay in OVS): a continuous
//! ping loses nothing and an established TCP connection keeps echoing.
//! After the restart the switch's flows equal a fresh compile of the
//! agent's desired state, the ports are exactly the endpoints', and the
//! policy changes made meanwhile are in force.

#[path = "netplugin_support/mod.rs"]
mod support;

#[path = "e2e_support/mod.rs"]
mod e2e;

#[cfg(test)]
mod e2e_restart {
    use super::e2e::{Ctr, Plugin, Switch, add, del};
    use super::support::{Cluster, eventually};
    use serde_json::json;
    use std::io::{BufRead, BufReader, Write};
    use std::time::Duration;

    /// One line out, the same line back.
    fn echo(conn: &mut std::net::TcpStream, reader: &mut BufReader<std::net::TcpStream>, n: u32) {
        let line = format!("tick {n}\n");
        conn.write_all(line.as_bytes())
            .expect("write on the connection");
        let mut back = String::new();
        reader.read_line(&mut back).expect("echo within 2 s");
        assert_eq!(back, line, "the connection echoes");
    }

    /// Waits until the switch holds exactly a fresh compile of the agent's
    /// desired state; returns it.
    async fn converged(sw: &Switch, p: &Plugin) -> Vec<String> {
        let mut last = (Vec::new(), Vec::new());
        let ok = eventually(Duration::from_secs(20), async || {
            let desired = p.desired().await;
            let fresh = sw.fresh_compile(&desired);
            let have = sw.openflow_flows().await;
            if fresh == have {
                return Some(have);
            }
            last = (fresh, have);
            None
        })
        .await;
        ok.unwrap_or_else(|| {
            let (fresh, have) = &last;
            let missing: Vec<&String> = fresh.iter().filter(|f| !have.contains(f)).collect();
            let stale: Vec<&String> = have.iter().filter(|f| !fresh.contains(f)).collect();
            panic!("switch != fresh compile\nmissing: {missing:#?}\nstale: {stale:#?}")
        })
    }

    fn endpoint_ports(sw: &Switch) -> Vec<String> {
        let mut v: Vec<String> = sw
            .ports()
            .into_iter()
            .filter(|p| p.starts_with("vp") || p.starts_with("vd"))
            .collect();
        v.sort();
        v
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn kill_9_keeps_traffic_and_restart_converges() {
        let c = Cluster::start(&[]).await;
        c.network("default", "contiv-net", "10.1.2.0/24", "").await;
        c.policy("db-policy").await;
        c.rule("db-policy", "1", json!({"protocol": "tcp"})).await;
        c.rule(
            "db-policy",
            "2",
            json!({"protocol": "tcp", "port": 8888, "action": "allow", "priority": 10}),
        )
        .await;
        c.group("contiv-net", "db", &["db-policy"]).await;
        let sw = Switch::start();
        let dir = c.dir.path().join("np");
        let mut p = Plugin::start(&c.url, &dir, &sw, "h1", &[]);
        p.wait_ready().await;

        let web = Ctr::new("web");
        let db = Ctr::new("db");
        let w = add(&p.sock, &web, "cid-web", "contiv-web", json!({})).await;
        let d = add(&p.sock, &db, "cid-db", "contiv-db", json!({"group": "db"})).await;
        let db_ip = d.ip();
        assert!(web.ping_eventually(&db_ip, 10).await);

        // The policy is in force: 8888 allowed, 8889 denied.
        let listener = db.tcp_listener(8888);
        let server = std::thread::spawn(move || {
            // Echo every line of the first connection.
            let (s, _) = listener.accept().expect("accept");
            let mut r = BufReader::new(s.try_clone().expect("clone"));
            let mut s = s;
            let mut line = String::new();
            while r.read_line(&mut line).map(|n| n > 0).unwrap_or(false) {
                if s.write_all(line.as_bytes()).is_err() {
                    break;
                }
                line.clear();
            }
        });
        let _l8889 = db.listen(8889).await;
        let _l8890 = db.listen(8890).await;
        assert!(!web.tcp_connects(&db_ip, 8889, 1).await, "8889 is denied");
        let mut conn = web.tcp_connect(&db_ip, 8888);
        let mut reader = BufReader::new(conn.try_clone().unwrap());
        echo(&mut conn, &mut reader, 0);
        let steady = converged(&sw, &p).await;
        let ports = endpoint_ports(&sw);
        assert_eq!(
            ports.len(),
            3,
            "two endpoints and the DNS endpoint: {ports:?}"
        );

        // A continuous ping spanning the first kill and restart.
        let ping = tokio::process::Command::new("ip")
            .args([
                "netns", "exec", &web.name, "ping", "-i", "0.05", "-c", "120", "-W", "1", &db_ip,
            ])
            .stdout(std::process::Stdio::piped())
            .kill_on_drop(true)
            .spawn()
            .unwrap();
        tokio::time::sleep(Duration::from_millis(500)).await;

        // 1. kill -9 with endpoints present; a policy change while it is
        //    gone (open 8889).
        p.kill9();
        for n in 1..=5 {
            tokio::task::block_in_place(|| echo(&mut conn, &mut reader, n));
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
        assert_eq!(
            sw.openflow_flows().await,
            steady,
            "flows stay while the agent is gone"
        );
        c.rule(
            "db-policy",
            "3",
            json!({"protocol": "tcp", "port": 8889, "action": "allow", "priority": 10}),
        )
        .await;
        p.spawn();
        p.wait_ready().await;
        for n in 6..=10 {
            tokio::task::block_in_place(|| echo(&mut conn, &mut reader, n));
        }
        let after = converged(&sw, &p).await;
        assert_ne!(after, steady, "the new rule was compiled in");
        assert!(
            web.tcp_connects(&db_ip, 8889, 2).await,
            "8889 opened while the agent was down"
        );
        assert_eq!(
            endpoint_ports(&sw),
            ports,
            "the same ports, none stale, none missing"
        );
        let out = ping.wait_with_output().await.unwrap();
        let text = String::from_utf8_lossy(&out.stdout);
        assert!(
            text.contains("120 packets transmitted, 120 received"),
            "the continuous ping lost packets across the restart:\n{text}"
        );

        // 2. kill -9 right after a policy change (open 8890): in flight.
        assert!(!web.tcp_connects(&db_ip, 8890, 1).await);
        c.rule(
            "db-policy",
            "4",
            json!({"protocol": "tcp", "port": 8890, "action": "allow", "priority": 10}),
        )
        .await;
        p.kill9();
        tokio::task::block_in_place(|| echo(&mut conn, &mut reader, 11));
        p.spawn();
        p.wait_ready().await;
        converged(&sw, &p).await;
        assert!(web.tcp_connects(&db_ip, 8890, 2).await, "8890 opened");
        assert!(
            !web.tcp_connects(&db_ip, 8891, 1).await,
            "the deny rule still holds"
        );
        tokio::task::block_in_place(|| echo(&mut conn, &mut reader, 12));
        assert_eq!(endpoint_ports(&sw), ports);

        // 3. kill -9 with nothing changed: the restart sends no flow-mod
        //    that changes anything — the flows are the same.
        let before = sw.openflow_flows().await;
        p.kill9();
        p.spawn();
        p.wait_ready().await;
        assert_eq!(converged(&sw, &p).await, before);

        drop(conn);
        drop(reader);
        let _ = server.join();
        del(&p.sock, &web, "cid-web", json!({})).await;
        del(&p.sock, &db, "cid-db", json!({"group": "db"})).await;
        assert!(endpoint_ports(&sw).is_empty(), "{:?}", sw.ports());
        assert_eq!(c.allocated("default:contiv-net").await, 0);
        let _ = w;
    }
}
