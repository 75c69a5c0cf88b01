//! The datapath conformance suite (`contiv_policy::conformance`) on the
//! eBPF datapath: every scenario, with real packets between namespaces.
//! A host is a network namespace with a private bpffs (where the datapath
//! pins its maps, programs and links; a restart adopts them); containers
//! are namespaces the datapath plumbs veths into.
//!
//! The probe of the oracle differential runs the installed dataplane:
//! packets from a local endpoint go through the `from_endpoint` classifier
//! attached to its veth with `BPF_PROG_TEST_RUN`; packets from a peer are
//! real VXLAN packets sent from the peer host's namespace to this host's
//! VXLAN device, judged by `from_vxlan` (the verdict read from the
//! counters: delivered to the endpoint, or dropped). Established
//! connections are tracked in the real conntrack map first.
#![allow(clippy::unwrap_used)]

mod support;

use async_trait::async_trait;
use contiv_core::datapath::Capabilities;
use contiv_dp_ebpf::{EbpfConfig, EbpfDatapath};
use contiv_policy::conformance::{Harness, HarnessError, Probe, ProbeIngress, conformance_suite};
use std::net::{IpAddr, SocketAddr};
use std::path::PathBuf;
use std::sync::atomic::{AtomicU8, Ordering};
use std::time::{Duration, Instant};
use support::frames::{L4, ip_frame};
use support::{Bpffs, Netns, Tap};

/// Underlay subnets, one per joined pair.
static SUBNET: AtomicU8 = AtomicU8::new(120);

/// One host: its namespace, its bpffs, the peer it is joined to.
struct EbpfHost {
    cfg: EbpfConfig,
    /// The joined peer: its namespace and VTEP, and this host's VTEP.
    peer: Option<(PathBuf, IpAddr, IpAddr)>,
    _bpffs: Bpffs,
    ns: Netns,
}

struct Ebpf;

#[async_trait]
impl Harness for Ebpf {
    type Host = EbpfHost;
    type Dp = EbpfDatapath;

    fn capabilities(&self) -> Capabilities {
        EbpfDatapath::CAPABILITIES
    }

    async fn host(&self) -> Result<EbpfHost, HarnessError> {
        let ns = Netns::new("ch");
        let bpffs = Bpffs::new();
        let mut cfg = EbpfConfig::new();
        cfg.bpffs = bpffs.path().to_owned();
        cfg.netns = Some(ns.path());
        cfg.gc_interval = Duration::ZERO;
        Ok(EbpfHost {
            cfg,
            peer: None,
            _bpffs: bpffs,
            ns,
        })
    }

    async fn start(&self, host: &mut EbpfHost) -> Result<EbpfDatapath, HarnessError> {
        EbpfDatapath::connect(host.cfg.clone())
            .await
            .map_err(HarnessError::from_display)
    }

    async fn join_underlay(
        &self,
        a: &mut EbpfHost,
        b: &mut EbpfHost,
    ) -> Result<(IpAddr, IpAddr), HarnessError> {
        let n = SUBNET.fetch_add(1, Ordering::Relaxed);
        a.ns.ip(&[
            "link", "add", "ul0", "type", "veth", "peer", "name", "ul0", "netns", &b.ns.name,
        ]);
        let mut vteps = Vec::new();
        for (h, i) in [(&*a, 1), (&*b, 2)] {
            h.ns.ip(&["addr", "add", &format!("10.{n}.0.{i}/24"), "dev", "ul0"]);
            h.ns.ip(&["link", "set", "ul0", "up"]);
            vteps.push(format!("10.{n}.0.{i}").parse::<IpAddr>().unwrap());
        }
        a.peer = Some((b.ns.path(), vteps[1], vteps[0]));
        b.peer = Some((a.ns.path(), vteps[0], vteps[1]));
        Ok((vteps[0], vteps[1]))
    }

    async fn join_trunk(&self, a: &mut EbpfHost, b: &mut EbpfHost) -> Result<(), HarnessError> {
        a.ns.ip(&[
            "link", "add", "tr0", "type", "veth", "peer", "name", "tr0", "netns", &b.ns.name,
        ]);
        for h in [&mut *a, &mut *b] {
            h.ns.ip(&["link", "set", "tr0", "up"]);
            h.cfg.uplink = Some("tr0".into());
        }
        Ok(())
    }

    async fn writes(&self, _host: &EbpfHost, dp: &EbpfDatapath) -> Option<u64> {
        let s = dp.stats().await;
        Some(s.map_writes + s.map_deletes + s.attaches)
    }

    async fn probe(
        &self,
        host: &EbpfHost,
        dp: &EbpfDatapath,
        p: &Probe,
    ) -> Result<Option<bool>, HarnessError> {
        let st = dp.state().await;
        let ports = matches!(p.proto, 6 | 17);
        let (sport, dport) = if ports {
            (p.src_port, p.dst_port)
        } else {
            (0, 0)
        };
        let l4 = match p.proto {
            6 => L4::Tcp {
                sport,
                dport,
                flags: if p.established { 0x10 } else { 0x02 },
            },
            17 => L4::Udp { sport, dport },
            1 | 58 => L4::Echo {
                id: 0,
                reply: false,
            },
            n => L4::Other(n),
        };
        let frame = ip_frame(p.src_mac, p.dst_mac, p.src, p.dst, l4);
        let tenant = match &p.ingress {
            ProbeIngress::Endpoint(id) => st
                .local_endpoints
                .iter()
                .find(|e| e.id == *id)
                .and_then(|e| st.networks.iter().find(|n| n.key == e.network)),
            ProbeIngress::Tunnel { vni, .. } => st.networks.iter().find(|n| n.vni == Some(*vni)),
        }
        .map(|n| n.tenant_id)
        .ok_or_else(|| HarnessError::Failed(format!("no network for {:?}", p.ingress)))?;
        // Each probe is judged on its own: no connection of an earlier
        // probe may make it "established".
        dp.flush_conntrack()
            .await
            .map_err(HarnessError::from_display)?;
        if p.established {
            dp.track(tenant, p.proto, p.src, sport, p.dst, dport)
                .await
                .map_err(HarnessError::from_display)?;
        }
        match &p.ingress {
            ProbeIngress::Endpoint(id) => {
                let run = dp
                    .run_packet(id, &frame)
                    .await
                    .map_err(HarnessError::from_display)?;
                Ok(Some(run.forwarded()))
            }
            ProbeIngress::Tunnel { peer, vni } => {
                let Some((peer_ns, peer_vtep, my_vtep)) = &host.peer else {
                    return Err(HarnessError::Failed("the host has no joined peer".into()));
                };
                if peer_vtep != peer {
                    return Err(HarnessError::Failed(format!(
                        "probe from {peer}, but the joined peer is {peer_vtep}"
                    )));
                }
                tunnelled(dp, &st, peer_ns, *peer_vtep, *my_vtep, *vni, p.dst, &frame)
                    .await
                    .map(Some)
            }
        }
    }
}

/// Sends `frame` as a real VXLAN packet (VNI `vni`, no GBP option: the
/// source group comes from membership) from the peer's namespace to this
/// host's VXLAN device. Delivered: the destination container's interface
/// receives it (a raw socket there sees it); dropped: a drop counter moved
/// and the frame did not arrive.
#[allow(clippy::too_many_arguments)]
async fn tunnelled(
    dp: &EbpfDatapath,
    st: &contiv_core::datapath::DesiredState,
    peer_ns: &std::path::Path,
    peer_vtep: IpAddr,
    my_vtep: IpAddr,
    vni: u32,
    dst: IpAddr,
    frame: &[u8],
) -> Result<bool, HarnessError> {
    use contiv_core::datapath::Attachment;
    let net = st.networks.iter().find(|n| n.vni == Some(vni));
    // The container the address belongs to in the packet's network.
    let tap = st
        .local_endpoints
        .iter()
        .find(|e| {
            net.is_some_and(|n| n.key == e.network)
                && (e.ipv4.map(|a| IpAddr::from(a.addr())) == Some(dst)
                    || e.ipv6.map(|a| IpAddr::from(a.addr())) == Some(dst))
        })
        .and_then(|e| match &e.attachment {
            Attachment::Netns { netns, ifname } => Some((netns.clone(), ifname.clone())),
            _ => None,
        })
        .map(|(ns, ifname)| Tap::open(&ns, &ifname))
        .transpose()
        .map_err(HarnessError::Failed)?;
    if let Some(t) = &tap {
        t.received();
    }
    // The IP header the frame carries (after the Ethernet header).
    let ip_hdr = frame[14..].to_vec();
    let arrived = |t: &Tap| {
        t.received()
            .iter()
            .any(|f| f.len() >= 14 && f[14..].starts_with(&ip_hdr[..20]))
    };
    let drops = |c: &contiv_dp_ebpf::Counters| -> u64 { c.total_drops() };
    let before = drops(&dp.counters().await.map_err(HarnessError::from_display)?);
    let mut pkt = vec![0x08, 0, 0, 0];
    pkt.extend_from_slice(&(vni << 8).to_be_bytes());
    pkt.extend_from_slice(frame);
    let sock =
        contiv_core::linux::netns::udp_socket_in_netns(peer_ns, SocketAddr::new(peer_vtep, 0))
            .map_err(HarnessError::from_display)?;
    sock.set_nonblocking(false)
        .map_err(HarnessError::from_display)?;
    sock.send_to(&pkt, SocketAddr::new(my_vtep, 4789))
        .map_err(HarnessError::from_display)?;
    let deadline = Instant::now() + Duration::from_secs(3);
    let mut dropped_at: Option<Instant> = None;
    loop {
        if tap.as_ref().is_some_and(arrived) {
            return Ok(true);
        }
        if dropped_at.is_none()
            && drops(&dp.counters().await.map_err(HarnessError::from_display)?) > before
        {
            dropped_at = Some(Instant::now());
        }
        // A drop counter moved: give a frame in flight a moment.
        if dropped_at.is_some_and(|t| t.elapsed() > Duration::from_millis(20)) {
            return Ok(false);
        }
        if Instant::now() > deadline {
            return Err(HarnessError::Failed(format!(
                "the tunnelled packet to {dst} was neither delivered nor dropped within 3 s"
            )));
        }
        tokio::time::sleep(Duration::from_millis(1)).await;
    }
}

conformance_suite!(Ebpf);
