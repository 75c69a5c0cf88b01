//! One host, real packets: containers in namespaces plumbed by the eBPF
//! datapath ping and connect; policy drops and passes; the gateway and
//! ARP/ND are answered in BPF.
#![allow(clippy::unwrap_used)]

mod support;

use contiv_core::datapath::{DpOp, GlobalSpec};
use support::*;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_containers_reach_each_other_and_the_gateway() {
    let host = Host::new("eh").await;
    let net = vxlan_net("t1:n1", 1, 61, 6100);
    let a_ns = Netns::new("ec");
    let b_ns = Netns::new("ec");
    let a = local_ep("a", &net, 2, 0, &a_ns);
    let b = local_ep("b", &net, 3, 0, &b_ns);
    host.apply(vec![
        DpOp::SetGlobal(GlobalSpec::default()),
        DpOp::AddNetwork(net.clone()),
        DpOp::AddLocalEndpoint(a.clone()),
        DpOp::AddLocalEndpoint(b.clone()),
    ])
    .await;
    assert!(a_ns.ping(&v4(&b)), "a pings b");
    assert!(b_ns.ping(&v4(&a)), "b pings a");
    assert!(a_ns.ping("10.61.0.1"), "a pings the gateway");
    assert!(a_ns.ping(&v6(&b)), "a pings b over IPv6");
    assert!(a_ns.ping("fd3d::1"), "a pings the IPv6 gateway");
    let c = host.dp().counters().await.unwrap();
    eprintln!("{c:#?}");
}
