//! A forwarding mode a host's datapath cannot realise is never accepted
//! silently: netmaster refuses to switch to it while such a host is
//! connected, and an agent that finds the cluster in it reports not ready
//! (with the reason, in `/status`; ADDs are refused with it) instead of
//! `ready: true`. The recording datapath plays the host that cannot route.

#[path = "netplugin_support/mod.rs"]
mod support;

use axum::http::Method;
use contiv_bins::netplugin::Agent;
use contiv_core::datapath::Datapath;
use serde_json::{Value, json};
use std::sync::Arc;
use std::time::Duration;
use support::{Cluster, TestAgent, eventually};

const T: Duration = Duration::from_secs(20);

async fn set_mode(c: &Cluster, mode: &str) -> Result<Value, String> {
    let mut g: Value = c.ok(Method::GET, "/api/v1/globals/global/", None).await;
    g["fwdMode"] = json!(mode);
    c.api
        .json(Method::POST, "/api/v1/globals/global/", Some(&g))
        .await
        .map_err(|e| e.to_string())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_mode_a_host_cannot_realise_is_refused_and_reported() {
    let c = Cluster::start(&[]).await;

    // A connected host that cannot route: the switch is refused, naming
    // the host and what its datapath lacks.
    let a = TestAgent::start(&c, "h1", "192.0.2.1").await;
    let e = set_mode(&c, "routing").await.unwrap_err();
    assert!(e.contains("host h1") && e.contains("lacks routing"), "{e}");
    let g: Value = c.ok(Method::GET, "/api/v1/globals/global/", None).await;
    assert_eq!(g["fwdMode"], "bridge", "nothing was changed");
    assert!(a.agent().status().ready);
    drop(a);
    // Once the node is gone, the switch is accepted...
    c.netmaster()
        .deregister_node("h1")
        .await
        .expect("deregister h1");
    set_mode(&c, "routing")
        .await
        .expect("routing without hosts");

    // ...and a host that cannot route joining later reports not ready,
    // with the reason, and refuses ADDs with it.
    let dir = c.dir.path().join("agent-h2");
    std::fs::create_dir_all(&dir).expect("agent dir");
    let mut cfg = contiv_bins::netplugin::AgentConfig::new("h2", &c.url, &dir);
    cfg.vtep_ip = Some("192.0.2.2".parse().expect("vtep"));
    let dp: Arc<dyn Datapath> = Arc::new(contiv_policy::RecordingDatapath::new());
    let agent: Agent = contiv_bins::netplugin::start_with(cfg, dp)
        .await
        .expect("agent starts");
    let st = eventually(T, async || {
        let st = agent.status();
        (st.synced && st.registered).then_some(st)
    })
    .await
    .expect("the agent syncs and registers");
    assert!(!st.ready, "ready while refusing the mode: {st:?}");
    assert!(
        st.reason.contains("forwarding mode routing")
            && st.reason.contains("recording datapath")
            && st.reason.contains("lacks routing"),
        "{}",
        st.reason
    );
    // Still not ready a while later (no flapping).
    tokio::time::sleep(Duration::from_millis(1500)).await;
    assert!(!agent.status().ready);

    // Back to bridge mode: the agent is ready again.
    set_mode(&c, "bridge").await.expect("bridge mode");
    assert!(
        agent.wait_ready(T).await,
        "not ready in bridge mode: {:?}",
        agent.status()
    );
    agent.abort().await;
}
