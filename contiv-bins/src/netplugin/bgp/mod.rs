//! The BGP speaker: the hand-off of routing mode to the top-of-rack
//! switch (`netctl bgp create <host> --router-ip … --as … --neighbor-as …
//! --neighbor …`).
//!
//! When the cluster is in routing mode and a `Bgp` object names this host,
//! the agent
//! * gives the datapath the host's router on the fabric
//!   ([`FabricSpec`]: the router address, the `default` tenant — the VRF
//!   the fabric reaches) and the routes learned from the neighbor
//!   ([`ExternalRoute`]s, next hops on the fabric subnet);
//! * runs Debian's `gobgpd` ([`process`]) in the switch namespace, once the
//!   datapath holds the router address, and drives it over its gRPC API
//!   ([`gobgp`]): BGP with the object's AS and the router address as
//!   router id and listen address, the one neighbor, and one `/32` per
//!   local endpoint of the fabric's tenant with the router address as next
//!   hop ([`advertised`]: not the host-local DNS endpoint) — added when an
//!   endpoint is realised, withdrawn when it leaves. Only the delta is
//!   sent ([`announce`]): gobgpd's table is read in full when the speaker
//!   (re)connects, after a failed call, and every
//!   [`FULL_RECONCILE_EVERY`], so an endpoint costs O(1) calls whatever
//!   the number advertised;
//! * follows gobgpd's events (those about the neighbor; the best-path
//!   events of its own paths are skipped): routes the neighbor sends become external
//!   routes of the desired state (the reconciler is kicked), the session's
//!   state and counters are what `GET /inspect/bgp` on the control API
//!   answers ([`BgpSpeaker::oper`]; netmaster serves it as `netctl bgp
//!   inspect`).
//!
//! gobgpd outlives the agent: a restarted agent adopts it and finds its
//! paths already there, so routes that did not change do not flap. It is
//! stopped when the `Bgp` object goes, the mode leaves routing, or the
//! datapath cannot realise the fabric. Only IPv4 unicast is exchanged.

pub mod announce;
pub mod gobgp;
pub mod process;

use super::config::BgpSettings;
use super::desired::HostIdentity;
use super::dns::is_dns_endpoint;
use super::view::HostView;
use announce::Announced;
use contiv_core::datapath::{
    Capabilities, Capability, DesiredState, ExternalRoute, FabricSpec, FwdMode, HostState,
};
use contiv_core::linux::Netns;
use contiv_core::model::BgpOper;
use gobgp::{Gobgp, PeerSpec, RibRoute};
use ipnet::Ipv4Net;
use process::SpeakerFiles;
use std::collections::BTreeSet;
use std::net::Ipv4Addr;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant, SystemTime};
use tokio::sync::watch;
use tracing::{debug, info, warn};

/// The tenant whose endpoints the fabric reaches.
pub const FABRIC_TENANT: &str = "default";

/// How often the speaker checks gobgpd is alive and re-reads its state.
const SUPERVISE_EVERY: Duration = Duration::from_secs(1);

/// How often the speaker reads gobgpd's whole table again to repair any
/// drift (between, it sends only what changed).
pub const FULL_RECONCILE_EVERY: Duration = Duration::from_secs(30);

/// Why the speaker's loop woke.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Wake {
    /// The reconciler sent a new target (endpoints or configuration).
    Target,
    /// The supervision tick.
    Tick,
    /// gobgpd reported something about the neighbor (session state, a
    /// route learned or withdrawn).
    Neighbor,
    /// gobgpd reported only paths of the speaker's own (nothing to do).
    Own,
    /// The event stream ended (gobgpd went away, or the connection).
    StreamEnded,
}

/// A host's BGP configuration, parsed from its `Bgp` object.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct BgpConfig {
    /// Local AS.
    pub asn: u32,
    /// The router address with the fabric subnet's length.
    pub router: Ipv4Net,
    /// The neighbor.
    pub neighbor: Ipv4Addr,
    /// The neighbor's AS.
    pub neighbor_as: u32,
    /// The fabric's tenant id.
    pub tenant_id: u32,
}

impl BgpConfig {
    /// The fabric this configuration asks the datapath for.
    pub fn fabric(&self) -> FabricSpec {
        FabricSpec {
            tenant_id: self.tenant_id,
            router: self.router,
        }
    }
}

/// What the view asks of the speaker on `host`: `Ok(None)` when BGP does
/// not apply (no `Bgp` object for the host, or bridge mode), `Err` with
/// the reason when it applies but cannot be done.
pub fn intent(
    view: &HostView,
    host: &str,
    caps: &Capabilities,
    datapath: &str,
) -> Result<Option<BgpConfig>, String> {
    let Some(b) = view.bgps.get(host) else {
        return Ok(None);
    };
    let routing = super::desired::global_spec(view).fwd_mode == FwdMode::Routing;
    if !routing {
        return Err("the forwarding mode is bridge (BGP runs in routing mode)".into());
    }
    if !caps.has(Capability::RoutedUplink) {
        return Err(format!(
            "the {datapath} datapath cannot route to the fabric (it lacks {})",
            Capability::RoutedUplink
        ));
    }
    let bad = |e: contiv_core::model::ValidationError| format!("invalid Bgp object: {e}");
    let router = b.router_ip().map_err(bad)?;
    let neighbor = b
        .neighbor_ip()
        .map_err(bad)?
        .ok_or("the Bgp object has no neighbor")?;
    let asn = b
        .as_number()
        .map_err(bad)?
        .ok_or("the Bgp object has no AS")?;
    let neighbor_as = b
        .neighbor_as_number()
        .map_err(bad)?
        .ok_or("the Bgp object has no neighbor AS")?;
    if !router.contains(&neighbor) || neighbor == router.addr() {
        return Err(format!(
            "the neighbor {neighbor} is not another address of the router's subnet {}",
            router.trunc()
        ));
    }
    let tenant_id = view
        .tenants
        .get(FABRIC_TENANT)
        .map(|t| t.tenant_id)
        .ok_or_else(|| format!("tenant {FABRIC_TENANT} is not known yet"))?;
    Ok(Some(BgpConfig {
        asn,
        router,
        neighbor,
        neighbor_as,
        tenant_id,
    }))
}

/// The addresses the host advertises: those of its local endpoints in
/// the fabric's tenant, except the DNS endpoint's (`169.254.53.53` is
/// host-local, every host has one: advertising it would leak a
/// link-local address to the fabric, make the ToR pick one host's, and
/// count it among the host's prefixes).
pub fn advertised(applied: &HostState, cfg: &BgpConfig) -> BTreeSet<Ipv4Addr> {
    applied
        .local
        .values()
        .filter(|e| !is_dns_endpoint(&e.id))
        .filter(|e| {
            applied
                .networks
                .get(&e.network)
                .is_some_and(|n| n.tenant_id == cfg.tenant_id)
        })
        .filter_map(|e| e.ipv4.map(|a| a.addr()))
        .collect()
}

/// What the speaker should be doing (sent by the reconciler after each
/// pass).
#[derive(Clone, Debug, Default, PartialEq, Eq)]
enum Target {
    /// The agent has not seen netmaster's state yet: touch nothing (an
    /// adopted gobgpd keeps running as it is).
    #[default]
    Unknown,
    /// No BGP here (with the reason, if a `Bgp` object exists but cannot be
    /// honoured): stop gobgpd.
    Off(Option<String>),
    /// BGP wanted, but the datapath does not hold the router address yet:
    /// leave gobgpd as it is.
    Pending(String),
    /// Run with this configuration, advertising these endpoint addresses.
    On(BgpConfig, BTreeSet<Ipv4Addr>),
}

#[derive(Debug, Default)]
struct Shared {
    /// Routes received from the neighbor (for the desired state).
    learned: Vec<ExternalRoute>,
    /// A connected client, if gobgpd runs.
    client: Option<Gobgp>,
    /// The last error, shown by `inspect`.
    error: Option<String>,
}

/// The BGP speaker. See the [module documentation](self).
#[derive(Debug)]
pub struct BgpSpeaker {
    settings: BgpSettings,
    files: SpeakerFiles,
    ns: Netns,
    host: String,
    caps: Capabilities,
    datapath: &'static str,
    target: watch::Sender<Target>,
    routes_changed: watch::Sender<u64>,
    shared: Mutex<Shared>,
}

impl BgpSpeaker {
    /// A speaker for `me` whose gobgpd runs in `ns` (the switch
    /// namespace) with its files under `<state_dir>/bgp`.
    pub fn new(
        settings: BgpSettings,
        state_dir: &std::path::Path,
        ns: Netns,
        me: &HostIdentity,
        caps: Capabilities,
        datapath: &'static str,
    ) -> Arc<BgpSpeaker> {
        Arc::new(BgpSpeaker {
            settings,
            files: SpeakerFiles::new(state_dir),
            ns,
            host: me.host.clone(),
            caps,
            datapath,
            target: watch::channel(Target::Unknown).0,
            routes_changed: watch::channel(0).0,
            shared: Mutex::new(Shared::default()),
        })
    }

    fn shared(&self) -> std::sync::MutexGuard<'_, Shared> {
        self.shared.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// The files of the speaker (socket, pid file, log).
    pub fn files(&self) -> &SpeakerFiles {
        &self.files
    }

    /// Adds the fabric and the learned routes to the desired state.
    pub fn augment(&self, d: &mut DesiredState, view: &HostView) {
        let Ok(Some(cfg)) = intent(view, &self.host, &self.caps, self.datapath) else {
            return;
        };
        let f = cfg.fabric();
        d.fabric = Some(f);
        d.routes = self
            .shared()
            .learned
            .iter()
            .filter(|r| f.router.contains(&r.next_hop) && r.next_hop != f.router.addr())
            .copied()
            .collect();
    }

    /// Tells the speaker what the datapath now holds (after a pass).
    pub fn realise(&self, applied: &HostState, view: &HostView) {
        let t = match intent(view, &self.host, &self.caps, self.datapath) {
            Ok(None) => Target::Off(None),
            Err(e) => Target::Off(Some(e)),
            Ok(Some(cfg)) if applied.fabric != Some(cfg.fabric()) => {
                Target::Pending("the datapath does not hold the router address yet".into())
            }
            Ok(Some(cfg)) => {
                let ips = advertised(applied, &cfg);
                Target::On(cfg, ips)
            }
        };
        self.target.send_if_modified(|cur| {
            let changed = *cur != t;
            *cur = t;
            changed
        });
    }

    /// Resolves when the routes learned from the neighbor changed (the
    /// reconciler then recomputes the desired state).
    pub fn routes_changed(&self) -> watch::Receiver<u64> {
        self.routes_changed.subscribe()
    }

    /// The speaker's state as netctl shows it (`Bgp` Oper fields), read
    /// live from gobgpd.
    pub async fn oper(&self) -> BgpOper {
        let target = self.target.borrow().clone();
        let cfg = match target {
            Target::On(cfg, _) => cfg,
            Target::Unknown => return inactive("the agent has not synced with netmaster yet"),
            Target::Off(None) => {
                return inactive(&format!("no Bgp configuration for host {}", self.host));
            }
            Target::Off(Some(why)) | Target::Pending(why) => return inactive(&why),
        };
        let (client, error) = {
            let s = self.shared();
            (s.client.clone(), s.error.clone())
        };
        let Some(mut c) = client else {
            return inactive(&error.unwrap_or_else(|| "gobgpd is starting".into()));
        };
        let status = match c.peer_status(cfg.neighbor).await {
            Ok(s) => s.unwrap_or_default(),
            Err(e) => return inactive(&e.to_string()),
        };
        let rib = match c.rib().await {
            Ok(r) => r,
            Err(e) => return inactive(&e.to_string()),
        };
        let uptime = status
            .established_at
            .and_then(|t| SystemTime::now().duration_since(t).ok());
        BgpOper {
            admin_status: status.admin,
            neighbor_status: status.session,
            num_routes: i64::try_from(rib.len()).unwrap_or(i64::MAX),
            routes: rib
                .iter()
                .map(|r| format!("{} via {}", r.prefix, r.next_hop))
                .collect(),
            prefixes_received: status.received,
            prefixes_sent: status.advertised,
            uptime: uptime.map(format_uptime).unwrap_or_default(),
            error: error.unwrap_or_default(),
        }
    }

    /// Runs the speaker until the agent stops (see the module docs).
    pub async fn run(self: Arc<Self>) {
        let mut rx = self.target.subscribe();
        let mut events: Option<tonic::Streaming<gobgp::apipb::WatchEventResponse>> = None;
        let mut tick = tokio::time::interval(SUPERVISE_EVERY);
        tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        let mut announced = Announced::default();
        let mut configured: Option<BgpConfig> = None;
        let mut last_full = Instant::now();
        loop {
            let wake = {
                let event = async {
                    match events.as_mut() {
                        Some(s) => match s.message().await {
                            Ok(Some(ev)) if gobgp::about_neighbors(&ev) => Wake::Neighbor,
                            Ok(Some(_)) => Wake::Own,
                            _ => Wake::StreamEnded,
                        },
                        None => std::future::pending().await,
                    }
                };
                tokio::select! {
                    r = rx.changed() => {
                        if r.is_err() {
                            return;
                        }
                        Wake::Target
                    }
                    w = event => w,
                    _ = tick.tick() => Wake::Tick,
                }
            };
            match wake {
                Wake::Own => continue,
                Wake::StreamEnded => events = None,
                Wake::Target | Wake::Tick | Wake::Neighbor => {}
            }
            let full = wake == Wake::Tick && last_full.elapsed() >= FULL_RECONCILE_EVERY;
            if full {
                last_full = Instant::now();
            }
            let target = rx.borrow_and_update().clone();
            match self
                .step(&target, wake, &mut announced, &mut configured, full)
                .await
            {
                Ok(()) => self.shared().error = None,
                Err(e) => {
                    announced.forget();
                    configured = None;
                    let mut s = self.shared();
                    if s.error.as_deref() != Some(e.as_str()) {
                        warn!(error = %e, "BGP speaker");
                    }
                    s.error = Some(e);
                    s.client = None;
                    events = None;
                }
            }
            let client = self.shared().client.clone();
            if events.is_none()
                && let Some(mut c) = client
            {
                events = c.watch().await.ok();
            }
        }
    }

    /// One reconciliation of gobgpd with `target`, after `wake`:
    /// `announced` is what gobgpd is known to originate, `configured` the
    /// configuration last checked on it, `full` asks to read its table
    /// again.
    async fn step(
        &self,
        target: &Target,
        wake: Wake,
        announced: &mut Announced,
        configured: &mut Option<BgpConfig>,
        full: bool,
    ) -> Result<(), String> {
        match target {
            Target::Unknown | Target::Pending(_) => Ok(()),
            Target::Off(_) => {
                announced.forget();
                *configured = None;
                let running = self.files.running_pid().is_some();
                {
                    let mut s = self.shared();
                    s.client = None;
                    if !s.learned.is_empty() {
                        s.learned.clear();
                        self.routes_changed.send_modify(|g| *g += 1);
                    }
                }
                if running {
                    info!("no BGP for this host any more: stopping gobgpd");
                    process::stop(&self.files).await;
                }
                Ok(())
            }
            Target::On(cfg, ips) => {
                let (mut c, fresh) = self.client().await?;
                if fresh {
                    announced.forget();
                }
                // An endpoint change does not touch the configuration:
                // checked again on a new client, a changed one, the tick
                // and the neighbor's events.
                if fresh || wake != Wake::Target || configured.as_ref() != Some(cfg) {
                    *configured = None;
                    if self.configure(&mut c, cfg).await? {
                        announced.forget();
                    }
                    *configured = Some(cfg.clone());
                }
                self.advertise(&mut c, cfg, ips, announced, full).await?;
                // Learned routes change only with the neighbor's events
                // (the tick catches a missed one).
                if fresh || wake != Wake::Target {
                    self.learn(&mut c, cfg).await?;
                }
                self.shared().client = Some(c);
                Ok(())
            }
        }
    }

    /// A client of a running gobgpd: the cached one while gobgpd lives,
    /// else (`true`: a fresh connection, whose table the speaker has not
    /// read) the adopted or a freshly started one.
    async fn client(&self) -> Result<(Gobgp, bool), String> {
        let alive = self.files.running_pid().is_some();
        if alive && let Some(c) = self.shared().client.clone() {
            return Ok((c, false));
        }
        if !alive {
            if self.files.pidfile().exists() {
                warn!("gobgpd is not running any more; starting it again");
            }
            process::spawn(&self.settings.gobgpd, &self.files, &self.ns)?;
            if !process::wait_socket(&self.files, Duration::from_secs(10)).await {
                return Err(format!(
                    "gobgpd did not open its API socket {} within 10s (see {})",
                    self.files.socket().display(),
                    self.files.log().display()
                ));
            }
        } else {
            debug!("adopting the running gobgpd");
        }
        Gobgp::connect_unix(&self.files.socket(), Duration::from_secs(5))
            .await
            .map(|c| (c, true))
            .map_err(|e| e.to_string())
    }

    /// BGP started with `cfg`'s AS and router address, and exactly `cfg`'s
    /// neighbor; `true` if BGP was (re)started (its paths are gone).
    async fn configure(&self, c: &mut Gobgp, cfg: &BgpConfig) -> Result<bool, String> {
        let router = cfg.router.addr();
        let want = (cfg.asn, router.to_string(), i32::from(self.settings.port));
        let started = match c.global().await.map_err(|e| e.to_string())? {
            Some(g) if g == want => false,
            Some(g) => {
                info!(old = ?g, new = ?want, "BGP configuration changed: restarting BGP");
                c.stop().await.map_err(|e| e.to_string())?;
                c.start(cfg.asn, router, self.settings.port)
                    .await
                    .map_err(|e| e.to_string())?;
                true
            }
            None => {
                info!(asn = cfg.asn, router = %router, "starting BGP");
                c.start(cfg.asn, router, self.settings.port)
                    .await
                    .map_err(|e| e.to_string())?;
                true
            }
        };
        let want = PeerSpec {
            address: cfg.neighbor,
            asn: cfg.neighbor_as,
            local: router,
            connect_retry: self.settings.connect_retry,
            hold_time: self.settings.hold_time,
        };
        let peers = c.peers(false).await.map_err(|e| e.to_string())?;
        let mut present = false;
        for (addr, p) in &peers {
            if *addr == cfg.neighbor && peer_matches(p, &want) {
                present = true;
                continue;
            }
            info!(neighbor = %addr, "removing a BGP neighbor");
            c.delete_peer(*addr).await.map_err(|e| e.to_string())?;
        }
        if !present {
            info!(neighbor = %cfg.neighbor, asn = cfg.neighbor_as, "adding the BGP neighbor");
            c.add_peer(&want).await.map_err(|e| e.to_string())?;
        }
        Ok(started)
    }

    /// Exactly one `/32` per address in `ips`, next hop the router: only
    /// the difference to what `announced` knows gobgpd holds is sent.
    async fn advertise(
        &self,
        c: &mut Gobgp,
        cfg: &BgpConfig,
        ips: &BTreeSet<Ipv4Addr>,
        announced: &mut Announced,
        full: bool,
    ) -> Result<(), String> {
        let nh = cfg.router.addr();
        let want: BTreeSet<RibRoute> = ips
            .iter()
            .map(|ip| RibRoute {
                prefix: Ipv4Net::from(*ip),
                next_hop: nh,
            })
            .collect();
        let rep = announced
            .sync(c, &want, full)
            .await
            .map_err(|e| e.to_string())?;
        if rep.read_table && rep.withdrawn + rep.announced > 0 {
            info!(
                withdrawn = rep.withdrawn,
                announced = rep.announced,
                "gobgpd's table read and brought to the endpoints"
            );
        }
        Ok(())
    }

    /// The routes received from the neighbor, kept for the desired state;
    /// the reconciler is told when they change.
    async fn learn(&self, c: &mut Gobgp, cfg: &BgpConfig) -> Result<(), String> {
        let rx = c.received(cfg.neighbor).await.map_err(|e| e.to_string())?;
        let mut routes: Vec<ExternalRoute> = rx
            .into_iter()
            .filter(|r| cfg.router.contains(&r.next_hop) && r.next_hop != cfg.router.addr())
            .map(|r| ExternalRoute {
                prefix: r.prefix.trunc(),
                next_hop: r.next_hop,
            })
            .collect();
        routes.sort();
        routes.dedup_by_key(|r| r.prefix);
        let mut s = self.shared();
        if s.learned != routes {
            info!(
                routes = routes.len(),
                "routes from the BGP neighbor changed"
            );
            s.learned = routes;
            self.routes_changed.send_modify(|g| *g += 1);
        }
        Ok(())
    }
}

/// Whether a configured neighbor matches what is wanted.
fn peer_matches(p: &gobgp::apipb::Peer, want: &PeerSpec) -> bool {
    let asn = p.conf.as_ref().map(|c| c.peer_asn);
    let local = p
        .transport
        .as_ref()
        .map(|t| t.local_address.clone())
        .unwrap_or_default();
    let timers = p.timers.as_ref().and_then(|t| t.config.as_ref());
    asn == Some(want.asn)
        && local == want.local.to_string()
        && timers.is_some_and(|t| {
            t.connect_retry == want.connect_retry.as_secs().max(1)
                && t.hold_time == want.hold_time.as_secs().max(3)
        })
}

fn inactive(why: &str) -> BgpOper {
    BgpOper {
        admin_status: "down".into(),
        neighbor_status: "Idle".into(),
        error: why.to_owned(),
        ..BgpOper::default()
    }
}

/// `1h02m03s`, `4m05s`, `6s`.
pub fn format_uptime(d: Duration) -> String {
    let s = d.as_secs();
    let (h, m, s) = (s / 3600, (s / 60) % 60, s % 60);
    match (h, m) {
        (0, 0) => format!("{s}s"),
        (0, _) => format!("{m}m{s:02}s"),
        _ => format!("{h}h{m:02}m{s:02}s"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn view(fwd: &str, bgp: serde_json::Value) -> HostView {
        let mut v = HostView::default();
        v.apply_key(
            "obj/global/global",
            Some(&json!({"name":"global","fwdMode":fwd})),
        );
        v.apply_key(
            "oper/tenant/default",
            Some(&json!({"name":"default","tenant_id":1})),
        );
        v.apply_key("obj/Bgp/h1", Some(&bgp));
        v
    }

    fn caps() -> Capabilities {
        Capabilities::of(&[Capability::RoutedUplink])
    }

    #[test]
    fn intent_follows_mode_object_and_datapath() {
        let b = json!({"key":"h1","hostname":"h1","routerip":"50.1.1.1/24","as":"65001","neighbor-as":"65000","neighbor":"50.1.1.254"});
        let v = view("routing", b.clone());
        let cfg = intent(&v, "h1", &caps(), "ovs").unwrap().unwrap();
        assert_eq!(cfg.asn, 65001);
        assert_eq!(cfg.fabric().router.to_string(), "50.1.1.1/24");
        assert_eq!(cfg.tenant_id, 1);
        assert_eq!(intent(&v, "h2", &caps(), "ovs"), Ok(None));
        let e = intent(&v, "h1", &Capabilities::NONE, "recording").unwrap_err();
        assert!(e.contains("lacks routed_uplink"), "{e}");
        let e = intent(&view("bridge", b), "h1", &caps(), "ovs").unwrap_err();
        assert!(e.contains("bridge"), "{e}");
        let far = json!({"key":"h1","hostname":"h1","routerip":"50.1.1.1/24","as":"65001","neighbor-as":"65000","neighbor":"50.2.1.254"});
        let e = intent(&view("routing", far), "h1", &caps(), "ovs").unwrap_err();
        assert!(e.contains("not another address"), "{e}");
    }

    #[test]
    fn advertises_the_fabric_tenants_endpoints_but_not_the_dns_endpoint() {
        use contiv_core::datapath::{Attachment, Encap, LocalEndpoint, NetworkSpec};
        let net = |key: &str, tenant_id| NetworkSpec {
            key: key.into(),
            tenant: key.split(':').next().unwrap().into(),
            tenant_id,
            encap: Encap::Vxlan,
            vlan: 0,
            vni: Some(5000),
            subnet: Some("10.1.0.0/16".parse().unwrap()),
            gateway: None,
            subnet6: None,
            gateway6: None,
            external: false,
        };
        let ep = |id: &str, network: &str, ip: &str| LocalEndpoint {
            id: id.into(),
            network: network.into(),
            epg: contiv_core::ir::NO_EPG,
            ipv4: Some(ip.parse().unwrap()),
            ipv6: None,
            mac: crate::dns::DNS_MAC,
            host_ifname: "v".into(),
            attachment: Attachment::Netns {
                netns: "/run/netns/x".into(),
                ifname: "eth0".into(),
            },
            mtu: 1450,
            qos: None,
        };
        let mut applied = HostState::default();
        for n in [net("default:n1", 1), net("blue:n1", 2)] {
            applied.networks.insert(n.key.clone(), n);
        }
        for e in [
            ep("c1", "default:n1", "10.1.2.3/16"),
            ep("c2", "blue:n1", "10.1.2.4/16"),
            ep(
                &super::super::dns::endpoint_id("default:n1"),
                "default:n1",
                "169.254.53.53/32",
            ),
        ] {
            applied.local.insert(e.id.clone(), e);
        }
        let b = json!({"key":"h1","hostname":"h1","routerip":"50.1.1.1/24","as":"65001","neighbor-as":"65000","neighbor":"50.1.1.254"});
        let cfg = intent(&view("routing", b), "h1", &caps(), "ovs")
            .unwrap()
            .unwrap();
        let want: BTreeSet<Ipv4Addr> = ["10.1.2.3".parse().unwrap()].into();
        assert_eq!(advertised(&applied, &cfg), want);
    }

    #[test]
    fn uptimes_read_like_a_router_cli() {
        assert_eq!(format_uptime(Duration::from_secs(6)), "6s");
        assert_eq!(format_uptime(Duration::from_secs(245)), "4m05s");
        assert_eq!(format_uptime(Duration::from_secs(3723)), "1h02m03s");
    }
}
