//! Example (b): program a real datapath from your own code with
//! `contiv-policy` and a backend — Open vSwitch (`ping-deny ovs`, the
//! default) or tc/eBPF (`ping-deny ebpf`): two namespaces ping each other,
//! then a deny rule stops them, then removing it lets them through again.
//!
//! Needs root (and the OVS binaries for `ovs`, `make deps`). Each backend
//! gets a private "host", removed on drop: for OVS an ovsdb-server +
//! ovs-vswitchd (userspace datapath) in its own network namespace
//! ([`OvsInstance`]; on a host whose OVS already runs use
//! `OvsConfig::new("/run/openvswitch")`), for eBPF a network namespace and a
//! private bpffs mount. The "containers" are network namespaces
//! ([`Container`], removed on drop). Past the setup the code only knows
//! `dyn Datapath`.
//!
//! The intent goes through the incremental [`Compiler`]; each change yields
//! a [`PolicyDelta`](contiv_core::ir::PolicyDelta) that is sent to the
//! datapath as one [`DpOp::Policy`]. The oracle is asked the same question
//! as the datapath, so the example also shows that the two agree.

use contiv_core::datapath::{Datapath, DpOp, GlobalSpec};
use contiv_core::linux::Netns;
use contiv_core::linux::netns::{create_named_netns, delete_named_netns};
use contiv_core::model::{EndpointGroup, Rule};
use contiv_dp_ebpf::{EbpfConfig, EbpfDatapath, kernel::bpffs};
use contiv_dp_ovs::datapath::{OvsConfig, OvsDatapath};
use contiv_dp_ovs::testing::OvsInstance;
use contiv_policy::conformance::fixture::{Container, local_ep, vxlan_net};
use contiv_policy::{Compiler, EndpointInput, Packet, PacketEnd, evaluate};
use std::net::IpAddr;
use std::process::ExitCode;

type Error = Box<dyn std::error::Error>;

/// What a backend's private host is made of; dropped after the datapath.
enum Host {
    /// A private OVS, stopped on drop.
    Ovs { _switch: OvsInstance },
    /// A network namespace (by name) and a bpffs mounted at a temp dir.
    Ebpf(String, tempfile::TempDir),
}

impl Drop for Host {
    fn drop(&mut self) {
        if let Host::Ebpf(ns, bpf) = self {
            let _ = bpffs::unmount(bpf.path());
            let _ = delete_named_netns(ns);
        }
    }
}

/// Starts a private host for `backend` and connects a datapath to it.
async fn connect(backend: &str) -> Result<(Box<dyn Datapath>, Host), Error> {
    if backend == "ebpf" {
        let name = format!("pd-{}", std::process::id());
        let host = Host::Ebpf(name.clone(), tempfile::tempdir()?);
        let Host::Ebpf(_, bpf) = &host else {
            unreachable!()
        };
        let mut cfg = EbpfConfig::new();
        cfg.netns = Some(create_named_netns(&name)?);
        cfg.bpffs = bpf.path().to_owned();
        return Ok((Box::new(EbpfDatapath::connect(cfg).await?), host));
    }
    if backend != "ovs" {
        return Err(format!("unknown backend {backend:?} (ovs or ebpf)").into());
    }
    let ovs = OvsInstance::start()?;
    let mut cfg = OvsConfig::new(ovs.rundir());
    cfg.switch_netns = Netns::named(ovs.netns().ok_or("OVS runs in no namespace")?);
    Ok((
        Box::new(OvsDatapath::connect(cfg).await?),
        Host::Ovs { _switch: ovs },
    ))
}

fn group(name: &str, policies: &[&str]) -> EndpointGroup {
    EndpointGroup {
        tenant_name: "default".into(),
        group_name: name.into(),
        network_name: "contiv-net".into(),
        policies: policies.iter().map(|p| (*p).to_owned()).collect(),
        ..EndpointGroup::default()
    }
}

/// `netctl policy rule-add db-policy 1 -direction=in -protocol=icmp -action=deny`
fn deny_icmp() -> Rule {
    Rule {
        tenant_name: "default".into(),
        policy_name: "db-policy".into(),
        rule_id: "1".into(),
        direction: "in".into(),
        protocol: "icmp".into(),
        action: "deny".into(),
        priority: 1,
        ..Rule::default()
    }
}

async fn run() -> Result<(), Error> {
    let backend = std::env::args().nth(1).unwrap_or_else(|| "ovs".into());
    let (dp, host) = connect(&backend).await?;
    println!("connected to a private {} datapath", dp.name());

    // Two containers on one VXLAN network: web (group 10), db (group 11).
    let (web, db) = (Container::new(true).await, Container::new(true).await);
    let net = vxlan_net("default", 1, "contiv-net", 5001, "10.1.2.0/24");
    let web_ep = local_ep("web-1", &net, "10.1.2.1", 10, &web);
    let db_ep = local_ep("db-1", &net, "10.1.2.2", 11, &db);

    // Policy intent through the compiler: every change is a delta.
    let mut compiler = Compiler::new();
    let mut ops = vec![
        DpOp::SetGlobal(GlobalSpec::default()),
        DpOp::AddNetwork(net),
        DpOp::AddLocalEndpoint(web_ep),
        DpOp::AddLocalEndpoint(db_ep),
    ];
    let (web_ip, db_ip): (IpAddr, IpAddr) = ("10.1.2.1".parse()?, "10.1.2.2".parse()?);
    for delta in [
        compiler.upsert_tenant("default", 1)?,
        compiler.upsert_epg(&group("web", &[]), 10)?,
        compiler.upsert_epg(&group("db", &["db-policy"]), 11)?,
        compiler.upsert_endpoint(&EndpointInput::new(
            "web-1",
            "default",
            "contiv-net",
            Some("web"),
            [web_ip],
        ))?,
        compiler.upsert_endpoint(&EndpointInput::new(
            "db-1",
            "default",
            "contiv-net",
            Some("db"),
            [db_ip],
        ))?,
    ] {
        ops.push(DpOp::Policy(delta));
    }
    dp.apply(ops).await?;
    let ping = Packet::icmp(PacketEnd::addr(1, web_ip), PacketEnd::addr(1, db_ip));

    if !web.ping_eventually("10.1.2.2", 10).await {
        return Err("web cannot ping db".into());
    }
    println!(
        "web -> db ping: answered (oracle: {})",
        evaluate(compiler.ir(), &ping)
    );

    // The deny rule: one delta, one batch of flows.
    let delta = compiler.upsert_rule(&deny_icmp())?;
    dp.apply(vec![DpOp::Policy(delta)]).await?;
    if web.ping("10.1.2.2").await {
        return Err("the deny rule did not stop web -> db".into());
    }
    let verdict = evaluate(compiler.ir(), &ping);
    println!("web -> db ping after the deny rule: dropped (oracle: {verdict})");
    if verdict.allowed() {
        return Err("the oracle disagrees with the switch".into());
    }

    // Removing the rule lets pings through again.
    let delta = compiler.remove_rule("default:db-policy:1")?;
    dp.apply(vec![DpOp::Policy(delta)]).await?;
    if !web.ping_eventually("10.1.2.2", 10).await {
        return Err("web cannot ping db after the rule was removed".into());
    }
    println!("web -> db ping after removing the rule: answered");
    println!("ping-deny ok on {backend}");
    // Drop order: the datapath, the containers, then the host.
    drop(dp);
    drop((web, db));
    drop(host);
    Ok(())
}

#[tokio::main(flavor = "multi_thread", worker_threads = 2)]
async fn main() -> ExitCode {
    match run().await {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("ping-deny: {e}");
            ExitCode::FAILURE
        }
    }
}
