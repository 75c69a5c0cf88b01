//! Selecting the datapath backend, and the fault-injecting wrapper.
//!
//! `--datapath recording` is the in-memory reference of `contiv-policy`;
//! `--datapath ovs` connects to Open vSwitch (cargo feature `ovs`, on by
//! default) with the `--ovs-*` settings, waiting up to `--ovs-timeout` for
//! ovsdb-server and ovs-vswitchd to come up; `--datapath ebpf` loads the
//! tc/BPF programs (cargo feature `ebpf`, on by default) with the
//! `--bpf-*` settings, adopting what a previous agent pinned;
//! `--datapath vpp` connects to VPP's API socket `--vpp-socket` (cargo
//! feature `vpp`), waiting up to `--vpp-timeout`. Backends that count
//! packets ([`DatapathCounters`]) serve them on the agent's
//! `GET /counters`.

use super::config::{AgentConfig, DatapathKind};
use super::faults::{Faults, Step};
use async_trait::async_trait;
use contiv_core::datapath::{
    Capabilities, Datapath, DesiredState, DpError, DpOp, DpResult, ResyncReport,
};
use std::sync::Arc;

/// A backend's packet counters, for `GET /counters` and `netctl counters`.
#[async_trait]
pub trait DatapathCounters: Send + Sync {
    /// The counters now.
    async fn counters(&self) -> Result<crate::agent_api::wire::DatapathCounters, String>;
}

/// A datapath and, if it counts packets, its counters.
#[derive(Clone)]
pub struct Built {
    /// The datapath.
    pub dp: Arc<dyn Datapath>,
    /// Its counters.
    pub counters: Option<Arc<dyn DatapathCounters>>,
}

impl Built {
    /// A datapath without counters.
    pub fn plain(dp: Arc<dyn Datapath>) -> Built {
        Built { dp, counters: None }
    }
}

/// Builds the datapath `cfg` names.
pub async fn build(cfg: &AgentConfig) -> Result<Built, String> {
    match cfg.datapath {
        DatapathKind::Recording => Ok(Built::plain(Arc::new(
            contiv_policy::RecordingDatapath::new(),
        ))),
        DatapathKind::Ovs => ovs(cfg).await.map(Built::plain),
        DatapathKind::Ebpf => ebpf(cfg).await,
        DatapathKind::Vpp => vpp(cfg).await.map(Built::plain),
    }
}

/// The eBPF datapath configuration of `cfg`.
#[cfg(feature = "ebpf")]
pub fn ebpf_config(cfg: &AgentConfig) -> contiv_dp_ebpf::EbpfConfig {
    let e = &cfg.ebpf;
    let mut c = contiv_dp_ebpf::EbpfConfig::new();
    c.bpffs = e.bpffs.clone();
    c.pin_name = e.pin_name.clone();
    c.vxlan_device = e.vxlan_device.clone();
    c.vxlan_port = cfg.vxlan_port;
    c.uplink = cfg.vlan_if.clone().filter(|u| !u.is_empty());
    c.netns = e.netns_path();
    c
}

#[cfg(feature = "ebpf")]
async fn ebpf(cfg: &AgentConfig) -> Result<Built, String> {
    let ec = ebpf_config(cfg);
    if let Some(ns) = &ec.netns
        && !ns.exists()
    {
        return Err(format!(
            "the datapath namespace {} (--bpf-netns) does not exist",
            ns.display()
        ));
    }
    let dp = contiv_dp_ebpf::EbpfDatapath::connect(ec.clone())
        .await
        .map_err(|e| {
            format!(
                "cannot load the eBPF datapath (bpffs {}, pins {}): {e}",
                ec.bpffs.display(),
                ec.pin_root().display()
            )
        })?;
    tracing::info!(pins = %ec.pin_root().display(), "eBPF datapath ready");
    let dp = Arc::new(dp);
    Ok(Built {
        dp: dp.clone(),
        counters: Some(Arc::new(EbpfCounters(dp))),
    })
}

#[cfg(not(feature = "ebpf"))]
async fn ebpf(_cfg: &AgentConfig) -> Result<Built, String> {
    Err("this netplugin was built without the `ebpf` feature; rebuild with it or run with --datapath ovs".into())
}

/// The eBPF datapath's counters, in the agent's wire form.
#[cfg(feature = "ebpf")]
struct EbpfCounters(Arc<contiv_dp_ebpf::EbpfDatapath>);

#[cfg(feature = "ebpf")]
#[async_trait]
impl DatapathCounters for EbpfCounters {
    async fn counters(&self) -> Result<crate::agent_api::wire::DatapathCounters, String> {
        let c = self.0.counters().await.map_err(|e| e.to_string())?;
        Ok(crate::agent_api::wire::DatapathCounters {
            datapath: "ebpf".into(),
            endpoints: c.endpoints,
            rules: c.rules,
            drops: c.drops,
        })
    }
}

/// The VPP datapath configuration of `cfg` (`vtep`: this host's VTEP).
#[cfg(feature = "vpp")]
pub fn vpp_config(
    cfg: &AgentConfig,
    vtep: Option<std::net::IpAddr>,
) -> contiv_dp_vpp::datapath::VppConfig {
    let mut c = contiv_dp_vpp::datapath::VppConfig::new(&cfg.vpp.socket);
    c.vtep_ip = vtep;
    c.vxlan_port = cfg.vxlan_port;
    c.uplink = cfg.vpp.uplink.clone().filter(|u| !u.is_empty());
    c.policy = match cfg.vpp.policy.as_str() {
        "npol" => contiv_dp_vpp::datapath::PolicyEngine::Npol,
        "auto" => contiv_dp_vpp::datapath::PolicyEngine::Auto,
        _ => contiv_dp_vpp::datapath::PolicyEngine::Acl,
    };
    c
}

#[cfg(feature = "vpp")]
async fn vpp(cfg: &AgentConfig) -> Result<Arc<dyn Datapath>, String> {
    use contiv_dp_vpp::datapath::VppDatapath;
    // VXLAN tunnels need this host's VTEP as their source.
    let vtep = match cfg.vtep_ip {
        Some(ip) => Some(ip),
        None => match cfg.netmaster.first() {
            Some(url) => Some(super::default_vtep(url).await?),
            None => None,
        },
    };
    let vc = vpp_config(cfg, vtep);
    let deadline = tokio::time::Instant::now() + cfg.vpp.timeout;
    let mut warned = false;
    loop {
        match VppDatapath::connect(vc.clone()).await {
            Ok(dp) => {
                tracing::info!(socket = %vc.socket.display(), "connected to VPP");
                return Ok(Arc::new(dp));
            }
            Err(e) if tokio::time::Instant::now() < deadline => {
                if !warned {
                    tracing::warn!(error = %e, "VPP is not reachable yet; retrying");
                    warned = true;
                }
                tokio::time::sleep(std::time::Duration::from_millis(250)).await;
            }
            Err(e) => {
                return Err(format!(
                    "cannot use VPP (--vpp-socket {}) after {}s: {e}",
                    vc.socket.display(),
                    cfg.vpp.timeout.as_secs()
                ));
            }
        }
    }
}

#[cfg(not(feature = "vpp"))]
async fn vpp(_cfg: &AgentConfig) -> Result<Arc<dyn Datapath>, String> {
    Err("this netplugin was built without the `vpp` feature; rebuild with it or run with --datapath recording".into())
}

/// The OVS datapath configuration of `cfg`.
#[cfg(feature = "ovs")]
pub fn ovs_config(cfg: &AgentConfig) -> contiv_dp_ovs::datapath::OvsConfig {
    use contiv_core::linux::Netns;
    let o = &cfg.ovs;
    let mut c = contiv_dp_ovs::datapath::OvsConfig::new(&o.rundir);
    c.db_socket = o.db.clone();
    c.bridge = o.bridge.clone();
    c.datapath_type = o.datapath_type.clone();
    c.uplink = cfg.vlan_if.clone().filter(|u| !u.is_empty());
    c.vxlan_port = Some(cfg.vxlan_port);
    c.switch_netns = o.netns_path().map(Netns::Path).unwrap_or(Netns::Current);
    c.port_timeout = o.timeout;
    c.host_port = o.host_port.clone();
    c
}

#[cfg(feature = "ovs")]
async fn ovs(cfg: &AgentConfig) -> Result<Arc<dyn Datapath>, String> {
    use contiv_dp_ovs::datapath::OvsDatapath;
    let oc = ovs_config(cfg);
    if let Some(ns) = cfg.ovs.netns_path()
        && !ns.exists()
    {
        return Err(format!(
            "the switch namespace {} (--ovs-netns) does not exist",
            ns.display()
        ));
    }
    let deadline = tokio::time::Instant::now() + cfg.ovs.timeout;
    let mut warned = false;
    loop {
        match OvsDatapath::connect(oc.clone()).await {
            Ok(dp) => {
                tracing::info!(bridge = %oc.bridge, rundir = %oc.rundir.display(), "connected to Open vSwitch");
                return Ok(Arc::new(dp));
            }
            Err(e) if tokio::time::Instant::now() < deadline => {
                if !warned {
                    tracing::warn!(error = %e, "Open vSwitch is not reachable yet; retrying");
                    warned = true;
                }
                tokio::time::sleep(std::time::Duration::from_millis(250)).await;
            }
            Err(e) => {
                return Err(format!(
                    "cannot use Open vSwitch (--ovs-rundir {}, bridge {}) after {}s: {e}",
                    oc.rundir.display(),
                    oc.bridge,
                    cfg.ovs.timeout.as_secs()
                ));
            }
        }
    }
}

#[cfg(not(feature = "ovs"))]
async fn ovs(_cfg: &AgentConfig) -> Result<Arc<dyn Datapath>, String> {
    Err("this netplugin was built without the `ovs` feature; rebuild with it or run with --datapath recording".into())
}

/// A datapath that fails `AddLocalEndpoint` operations when the
/// [`Step::DpAddLocal`] fault fires (operations before the failing one are
/// applied, as a real backend may do).
pub struct FaultyDatapath {
    inner: Arc<dyn Datapath>,
    faults: Arc<Faults>,
}

impl FaultyDatapath {
    /// Wraps `inner`.
    pub fn new(inner: Arc<dyn Datapath>, faults: Arc<Faults>) -> Self {
        FaultyDatapath { inner, faults }
    }
}

#[async_trait]
impl Datapath for FaultyDatapath {
    fn name(&self) -> &'static str {
        self.inner.name()
    }

    fn capabilities(&self) -> Capabilities {
        self.inner.capabilities()
    }

    async fn apply(&self, ops: Vec<DpOp>) -> DpResult<()> {
        let failing = ops.iter().position(|op| {
            matches!(op, DpOp::AddLocalEndpoint(_)) && self.faults.check(Step::DpAddLocal).is_err()
        });
        match failing {
            None => self.inner.apply(ops).await,
            Some(i) => {
                let id = match &ops[i] {
                    DpOp::AddLocalEndpoint(e) => e.id.clone(),
                    _ => String::new(),
                };
                let mut ops = ops;
                ops.truncate(i);
                if !ops.is_empty() {
                    self.inner.apply(ops).await?;
                }
                Err(DpError::Plumbing(format!(
                    "operation {i} (AddLocalEndpoint {id}): fault injected at step dp_add_local (test hook)"
                )))
            }
        }
    }

    async fn resync(&self, desired: &DesiredState) -> DpResult<ResyncReport> {
        self.inner.resync(desired).await
    }
}

#[cfg(all(test, feature = "vpp"))]
mod vpp_tests {
    use super::*;
    use contiv_core::datapath::DesiredState;

    #[test]
    fn vpp_policy_flag_selects_the_engine() {
        use contiv_dp_vpp::datapath::PolicyEngine;
        let dir = tempfile::tempdir().expect("tempdir");
        let mut cfg = AgentConfig::new("h1", "http://127.0.0.1:9", dir.path());
        assert_eq!(vpp_config(&cfg, None).policy, PolicyEngine::Acl);
        for (flag, engine) in [
            ("npol", PolicyEngine::Npol),
            ("auto", PolicyEngine::Auto),
            ("acl", PolicyEngine::Acl),
        ] {
            cfg.vpp.policy = flag.into();
            assert_eq!(vpp_config(&cfg, None).policy, engine, "{flag}");
        }
    }

    // `--datapath vpp --vpp-socket <path>` drives VPP (here the crate's
    // wire-faithful test server; no VPP runs on these machines).
    #[tokio::test]
    async fn datapath_vpp_connects_to_the_socket_it_is_given() {
        let srv = contiv_dp_vpp::testing::VppTestServer::start()
            .await
            .expect("test server");
        let dir = tempfile::tempdir().expect("tempdir");
        let mut cfg = AgentConfig::new("h1", "http://127.0.0.1:9", dir.path());
        cfg.datapath = DatapathKind::Vpp;
        cfg.vpp.socket = srv.socket_path().to_owned();
        cfg.vtep_ip = Some("192.0.2.1".parse().expect("ip"));
        let dp = build(&cfg).await.expect("vpp datapath").dp;
        assert_eq!(dp.name(), "vpp");
        assert!(
            dp.capabilities()
                .has(contiv_core::datapath::Capability::StatefulPolicy)
        );
        assert!(
            !dp.capabilities()
                .has(contiv_core::datapath::Capability::ForwardsPackets)
        );
        let r = dp.resync(&DesiredState::default()).await.expect("resync");
        assert_eq!((r.added, r.removed), (0, 0));
        cfg.vpp.socket = dir.path().join("absent.sock");
        cfg.vpp.timeout = std::time::Duration::from_millis(300);
        let e = build(&cfg).await.err().expect("no VPP there");
        assert!(
            e.contains("--vpp-socket") && e.contains("absent.sock"),
            "{e}"
        );
    }
}
