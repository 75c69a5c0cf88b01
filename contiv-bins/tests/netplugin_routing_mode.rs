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

/// `inspect` of a `Bgp` object is read live from the host's agent, on its
/// control API, with the host's node token (the agent refuses anything
/// else) and says why its speaker does not run.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn bgp_inspect_is_read_live_from_the_agent_with_its_node_token() {
    use contiv_bins::auth::Credentials;
    use contiv_bins::netplugin::client::NetmasterClient;
    use contiv_bins::netplugin::config::CtrlListen;
    const ADMIN: &str = "route-admin-token";
    let c = Cluster::start(&["--token", ADMIN]).await;
    let admin = NetmasterClient::new(std::slice::from_ref(&c.url), Some(ADMIN.into())).unwrap();
    let node_token = Credentials::new(Some(ADMIN.into()), None)
        .node_token("h3")
        .unwrap();
    let a = TestAgent::start_cfg(&c, "h3", "127.0.0.1", |cfg| {
        cfg.token = Some(node_token.clone());
        cfg.ctrl_listen = Some(CtrlListen::At("127.0.0.1:0".parse().unwrap()));
    })
    .await;
    let ctrl = c.netmaster().cache().read().nodes["h3"].ctrl_addr.clone();
    assert!(ctrl.starts_with("http://127.0.0.1:"), "{ctrl}");
    // The control API wants the node's credential.
    let get = move |auth: Option<&str>| {
        let mut r = ureq::get(&format!("{ctrl}/inspect/bgp"));
        if let Some(t) = auth {
            r = r.header("Authorization", &format!("Bearer {t}"));
        }
        r.config()
            .http_status_as_error(false)
            .build()
            .call()
            .unwrap()
    };
    let (no, wrong, ok) = tokio::task::spawn_blocking(move || {
        (
            get(None).status().as_u16(),
            get(Some(ADMIN)).status().as_u16(),
            get(Some(&node_token)).into_body().read_to_string().unwrap(),
        )
    })
    .await
    .unwrap();
    assert_eq!((no, wrong), (401, 401));
    assert!(ok.contains("no Bgp configuration for host h3"), "{ok}");
    // netmaster reads it for netctl bgp inspect.
    let bgp = json!({"hostname": "h3", "routerip": "50.1.1.1/24", "as": "65001",
                     "neighbor-as": "65000", "neighbor": "50.1.1.254"});
    let _: Value = admin
        .json(Method::POST, "/api/v1/Bgps/h3/", Some(&bgp))
        .await
        .unwrap();
    let oper = eventually(T, async || {
        let v: Value = admin
            .json::<(), _>(Method::GET, "/api/v1/inspect/Bgps/h3/", None)
            .await
            .ok()?;
        let e = v["Oper"]["error"].as_str()?.to_owned();
        e.contains("forwarding mode").then_some(v["Oper"].clone())
    })
    .await
    .expect("the agent's answer through netmaster");
    assert_eq!(
        oper["error"], "the forwarding mode is bridge (BGP runs in routing mode)",
        "{oper}"
    );
    drop(a);
}
