//! The datapath conformance suite (`contiv_policy::conformance`) on OVS:
//! every scenario, with real packets between namespaces on private
//! ovsdb-server + ovs-vswitchd instances (userspace datapath). The
//! harness below is all a backend writes to run it.
// Test code: a failed unwrap is a failed test.
#![allow(clippy::unwrap_used)]

#[path = "support/hosts.rs"]
mod hosts;

use async_trait::async_trait;
use contiv_core::datapath::Capabilities;
use contiv_dp_ovs::datapath::OvsDatapath;
use contiv_policy::conformance::fixture::Container;
use contiv_policy::conformance::{Harness, HarnessError, Probe, ProbeIngress, conformance_suite};
use hosts::{Host, fabric, forwards, trunk, underlay};
use std::net::IpAddr;
use std::sync::atomic::{AtomicU8, Ordering};

/// Underlay subnets, one per joined pair (hosts are private namespaces,
/// so only pairs within this process must differ).
static SUBNET: AtomicU8 = AtomicU8::new(100);

/// Runs the suite on OVS.
struct Ovs;

#[async_trait]
impl Harness for Ovs {
    type Host = Host;
    type Dp = OvsDatapath;

    fn capabilities(&self) -> Capabilities {
        OvsDatapath::CAPABILITIES
    }

    async fn host(&self) -> Result<Host, HarnessError> {
        tokio::task::spawn_blocking(Host::new)
            .await
            .map_err(HarnessError::from_display)
    }

    async fn start(&self, host: &mut Host) -> Result<OvsDatapath, HarnessError> {
        OvsDatapath::connect(host.config())
            .await
            .map_err(HarnessError::from_display)
    }

    async fn join_underlay(
        &self,
        a: &mut Host,
        b: &mut Host,
    ) -> Result<(IpAddr, IpAddr), HarnessError> {
        let (va, vb) = underlay(a, b, SUBNET.fetch_add(1, Ordering::Relaxed));
        Ok((va.parse().unwrap(), vb.parse().unwrap()))
    }

    async fn join_trunk(&self, a: &mut Host, b: &mut Host) -> Result<(), HarnessError> {
        let (ua, ub) = trunk(a, b);
        a.uplink = Some(ua);
        b.uplink = Some(ub);
        Ok(())
    }

    async fn join_fabric(
        &self,
        host: &mut Host,
        netns: &str,
        ifname: &str,
    ) -> Result<(), HarnessError> {
        host.uplink = Some(fabric(host, netns, ifname));
        Ok(())
    }

    async fn join_outside(&self, host: &mut Host, outside: &Container) -> Result<(), HarnessError> {
        outside.link_outside(&host.ns.name).await;
        Ok(())
    }

    async fn writes(&self, _host: &Host, dp: &OvsDatapath) -> Option<u64> {
        Some(dp.stats().await.flow_mods)
    }

    /// `ofproto/trace` through the installed flows, conntrack state given
    /// with `--ct-next`.
    async fn probe(
        &self,
        host: &Host,
        dp: &OvsDatapath,
        p: &Probe,
    ) -> Result<Option<bool>, HarnessError> {
        let inp = match &p.ingress {
            ProbeIngress::Endpoint(id) => format!(
                "in_port={}",
                dp.ofport_of(id)
                    .await
                    .ok_or_else(|| HarnessError::Failed(format!("no port for {id}")))?
            ),
            ProbeIngress::Tunnel { peer, vni } => format!(
                "in_port={},tun_id={vni}",
                dp.peer_ofport(*peer)
                    .await
                    .ok_or_else(|| HarnessError::Failed(format!("no tunnel to {peer}")))?
            ),
        };
        let (s, d) = (p.src, p.dst);
        let v6 = s.is_ipv6();
        let l4 = match (p.proto, v6) {
            (6, false) => format!(
                "tcp,nw_src={s},nw_dst={d},tp_src={},tp_dst={}",
                p.src_port, p.dst_port
            ),
            (6, true) => format!(
                "tcp6,ipv6_src={s},ipv6_dst={d},tp_src={},tp_dst={}",
                p.src_port, p.dst_port
            ),
            (17, false) => format!(
                "udp,nw_src={s},nw_dst={d},udp_src={},udp_dst={}",
                p.src_port, p.dst_port
            ),
            (17, true) => format!(
                "udp6,ipv6_src={s},ipv6_dst={d},udp_src={},udp_dst={}",
                p.src_port, p.dst_port
            ),
            (1, false) => format!("icmp,nw_src={s},nw_dst={d},icmp_type=8,icmp_code=0"),
            (58, true) => {
                format!("icmp6,ipv6_src={s},ipv6_dst={d},icmpv6_type=128,icmpv6_code=0")
            }
            (n, false) => format!("ip,nw_proto={n},nw_src={s},nw_dst={d}"),
            (n, true) => format!("ipv6,nw_proto={n},ipv6_src={s},ipv6_dst={d}"),
        };
        let flow = format!("{inp},dl_src={},dl_dst={},{l4}", p.src_mac, p.dst_mac);
        let ct = if p.established { "trk,est" } else { "trk,new" };
        let actions = host
            .try_trace(&flow, Some(ct))
            .map_err(HarnessError::Failed)?;
        Ok(Some(forwards(&actions)))
    }
}

conformance_suite!(Ovs);

/// OVS does not translate fragments to a service (it does not claim
/// `service_fragments`): a datagram larger than the MTU to a VIP is lost,
/// and leaves nothing behind that breaks the socket — a small datagram
/// from the same socket afterwards still reaches the backend through the
/// VIP.
#[test]
fn a_fragmented_datagram_to_a_vip_is_dropped_and_leaves_no_entry() {
    use contiv_core::datapath::{Datapath, DpOp, PortSpec, ServiceProtocol, ServiceSpec};
    use contiv_policy::conformance::fixture::{local_ep, vxlan_net};
    contiv_policy::conformance::block_on("ovs_vip_fragments", async {
        let h = Ovs;
        let mut host = h.host().await.unwrap();
        let net = vxlan_net("default", 1, "svcf", 5391, "10.1.24.0/24");
        let (client, b1) = (Container::new(true).await, Container::new(true).await);
        let dp = h.start(&mut host).await.unwrap();
        dp.apply(vec![
            DpOp::AddNetwork(net.clone()),
            DpOp::AddLocalEndpoint(local_ep("client", &net, "10.1.24.2", 0, &client)),
            DpOp::AddLocalEndpoint(local_ep("b1", &net, "10.1.24.11", 0, &b1)),
            DpOp::AddService(ServiceSpec {
                key: "default:dns".into(),
                network: net.key.clone(),
                vip: "10.1.24.100".parse().unwrap(),
                ports: vec![PortSpec {
                    svc_port: 5000,
                    prov_port: 8080,
                    protocol: ServiceProtocol::Udp,
                }],
                backends: vec!["b1".into()],
            }),
        ])
        .await
        .unwrap();
        let _s = b1.udp_echo(8080, "b1").await;
        let prog = "import socket\n\
            s=socket.socket(socket.AF_INET,socket.SOCK_DGRAM)\n\
            s.settimeout(1)\n\
            def ask(n):\n\
            \x20for t in range(3):\n\
            \x20\x20s.sendto(b'x'*n,('10.1.24.100',5000))\n\
            \x20\x20try:\n\
            \x20\x20\x20return len(s.recvfrom(65535)[0])\n\
            \x20\x20except OSError:\n\
            \x20\x20\x20pass\n\
            \x20return 0\n\
            print(ask(4000), ask(100))\n";
        let out = client.exec(&["python3", "-c", prog]).await;
        let text = String::from_utf8_lossy(&out.stdout).trim().to_owned();
        assert_eq!(
            text, "0 103",
            "(answer to a 4,000-byte datagram, then to a 100-byte one from the same socket)"
        );
        contiv_policy::conformance::Outcome::Passed
    });
}
