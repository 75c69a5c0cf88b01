//! Example (c): netmaster (embedded store) and a netplugin agent inside one
//! process of your own — intent → netmaster → watch → netplugin →
//! `Datapath`.
//!
//! netmaster serves its REST API on a free loopback port (other tools can
//! use it meanwhile) and keeps its state in a redb file in a temporary
//! directory. The intent is written through the in-process service
//! ([`Netmaster::upsert`](contiv_bins::netmaster::Netmaster::upsert), the
//! same code path as `POST /api/v1/<collection>/<key>/`). The agent runs
//! on a [`RecordingDatapath`] — swap in an `OvsDatapath` (example b) to
//! program a real switch. A container is added in-process through the
//! agent's core (what its CNI socket does), then a rule is added at
//! netmaster and arrives in the datapath through the watch.

use contiv_bins::netmaster::{self, NetmasterConfig, collections::Collection};
use contiv_bins::netplugin::core::AddSpec;
use contiv_bins::netplugin::journal::Release;
use contiv_bins::netplugin::{self, AgentConfig};
use contiv_core::datapath::{Attachment, Datapath};
use contiv_core::ir::Action;
use contiv_policy::RecordingDatapath;
use serde_json::json;
use std::process::ExitCode;
use std::sync::Arc;
use std::time::{Duration, Instant};

type Error = Box<dyn std::error::Error>;

/// Waits up to 10 s for `f` to hold.
async fn eventually(what: &str, mut f: impl FnMut() -> bool) -> Result<(), Error> {
    let deadline = Instant::now() + Duration::from_secs(10);
    while !f() {
        if Instant::now() > deadline {
            return Err(format!("timed out waiting until {what}").into());
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    Ok(())
}

async fn run() -> Result<(), Error> {
    let dir = tempfile::tempdir()?;

    // netmaster on an embedded store.
    let store = format!("embedded:{}", dir.path().join("netmaster.redb").display());
    let cfg = NetmasterConfig::from_args(["--store", &store, "--listen-url", "127.0.0.1:0"])?;
    let running = netmaster::start(cfg).await?;
    let nm = Arc::clone(&running.netmaster);
    println!("netmaster listening on http://{}", running.addr);

    // The intent (as `netctl` would send it).
    for (coll, key, body) in [
        (
            Collection::Networks,
            "default:contiv-net",
            json!({"tenantName": "default", "networkName": "contiv-net", "encap": "vxlan",
                   "subnet": "10.1.2.0/24", "gateway": "10.1.2.254"}),
        ),
        (
            Collection::Policys,
            "default:db-policy",
            json!({"tenantName": "default", "policyName": "db-policy"}),
        ),
        (
            Collection::EndpointGroups,
            "default:db",
            json!({"tenantName": "default", "groupName": "db", "networkName": "contiv-net",
                   "policies": ["db-policy"]}),
        ),
    ] {
        nm.upsert(coll, key, body.to_string().as_bytes()).await?;
        println!("created {} {key}", coll.type_name());
    }

    // The agent, driving a datapath of our choice.
    let dp = Arc::new(RecordingDatapath::new());
    let mut acfg = AgentConfig::new(
        "host-1",
        &format!("http://{}", running.addr),
        &dir.path().join("agent"),
    );
    acfg.vtep_ip = Some("192.0.2.1".parse()?);
    acfg.no_docker_plugin = true;
    let shared: Arc<dyn Datapath> = dp.clone();
    let agent = netplugin::start_with(acfg, shared).await?;
    if !agent.wait_ready(Duration::from_secs(20)).await {
        return Err(format!("agent not ready: {:?}", agent.status()).into());
    }
    println!("netplugin on host-1 registered and synced");

    // A container joins group db (in-process; CNI ADD does the same).
    let added = agent
        .core()
        .add(AddSpec {
            id: "db-1".into(),
            tenant: "default".into(),
            network: "contiv-net".into(),
            group: "db".into(),
            container_id: "c-db-1".into(),
            container_name: "db-1".into(),
            labels: Default::default(),
            ipv4: None,
            attachment: Attachment::Netns {
                netns: dir.path().join("netns-db-1"),
                ifname: "eth0".into(),
            },
            mtu: 1450,
            release: Release::Free,
            published: Vec::new(),
        })
        .await?;
    let ip = added
        .endpoint
        .ipv4
        .ok_or("netmaster gave db-1 no IPv4 address")?;
    println!(
        "endpoint db-1 got {ip} (mac {}) from netmaster",
        added.endpoint.mac
    );

    // A rule added at netmaster reaches the datapath through the watch.
    nm.upsert(
        Collection::Rules,
        "default:db-policy:1",
        json!({"tenantName": "default", "policyName": "db-policy", "ruleId": "1",
               "direction": "in", "protocol": "tcp", "port": 22, "action": "deny"})
        .to_string()
        .as_bytes(),
    )
    .await?;
    eventually("the deny rule is in the datapath", || {
        dp.state()
            .policy
            .rules
            .values()
            .any(|r| r.action == Action::Deny)
    })
    .await?;
    let st = dp.state();
    println!(
        "datapath holds {} network(s), {} local endpoint(s), {} rule(s), {} membership(s)",
        st.networks.len(),
        st.local_endpoints.len(),
        st.policy.rules.len(),
        st.policy.members.len()
    );
    if st.local_endpoints.len() != 1 || st.policy.members.len() != 1 {
        return Err("the datapath does not hold what netmaster says".into());
    }

    agent.shutdown().await;
    running.stop().await;
    println!("embedded-control-plane ok");
    Ok(())
}

#[tokio::main(flavor = "multi_thread", worker_threads = 2)]
async fn main() -> ExitCode {
    match run().await {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("embedded-control-plane: {e}");
            ExitCode::FAILURE
        }
    }
}
