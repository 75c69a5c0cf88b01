//! The contract's services on the VPP datapath, against the wire-faithful
//! test server: each VIP port is one cnat translation whose paths are the
//! backends; translations follow the endpoints with O(1) calls; a resync
//! of an unchanged state sends nothing; a restarted VPP gets them back;
//! what cnat cannot hold is skipped, not refused. Also the test server's
//! cnat semantics (ids, updates replacing, dump order).

// Test code: a failed unwrap is a test failure with its message.
#![allow(clippy::unwrap_used)]

mod support;

use contiv_core::datapath::{Datapath, DesiredState, DpOp, PortSpec, ServiceProtocol, ServiceSpec};
use contiv_dp_vpp::api::types::{CnatEndpoint, CnatEndpointTuple, CnatTranslation, IpProto};
use contiv_dp_vpp::datapath::{VppDatapath, names};
use contiv_dp_vpp::errno;
use contiv_dp_vpp::testing::VppState;
use std::net::IpAddr;
use support::fixture::{self, scenario};

const VIP: &str = "10.1.0.100";

fn web(backends: &[&str]) -> ServiceSpec {
    ServiceSpec {
        key: "t1:web".into(),
        network: fixture::vxnet().key,
        vip: VIP.parse().unwrap(),
        ports: vec![
            PortSpec {
                svc_port: 80,
                prov_port: 8080,
                protocol: ServiceProtocol::Tcp,
            },
            PortSpec {
                svc_port: 53,
                prov_port: 5353,
                protocol: ServiceProtocol::Udp,
            },
        ],
        backends: backends.iter().map(|b| (*b).to_owned()).collect(),
    }
}

fn with_web(backends: &[&str]) -> DesiredState {
    let mut d = scenario();
    d.services = vec![web(backends)];
    d
}

/// The translations VPP holds: (VIP, port, proto) → (id, sorted
/// (backend, port, source)).
type Held = Vec<((IpAddr, u16, u8), u32, Vec<(IpAddr, u16, Option<IpAddr>)>)>;

fn held(st: &VppState) -> Held {
    st.cnat
        .iter()
        .map(|(id, t)| {
            let mut p: Vec<_> = t
                .paths
                .iter()
                .map(|p| {
                    (
                        p.dst_ep.addr.ip().unwrap(),
                        p.dst_ep.port,
                        p.src_ep.addr.ip().filter(|a| !a.is_unspecified()),
                    )
                })
                .collect();
            p.sort();
            ((t.vip.addr.ip().unwrap(), t.vip.port, t.ip_proto.0), *id, p)
        })
        .collect()
}

fn paths(st: &VppState, port: u16) -> Vec<(IpAddr, u16, Option<IpAddr>)> {
    held(st)
        .into_iter()
        .find(|(k, _, _)| k.1 == port)
        .map(|(_, _, p)| p)
        .unwrap_or_default()
}

fn ip(s: &str) -> IpAddr {
    s.parse().unwrap()
}

fn cnat_calls(srv: &contiv_dp_vpp::testing::VppTestServer) -> Vec<String> {
    srv.mutations()
        .into_iter()
        .filter(|m| m.starts_with("cnat_"))
        .collect()
}

#[tokio::test]
async fn each_vip_port_is_one_translation_to_the_backends() {
    let (srv, dp) = fixture::start().await;
    // Local (web1, web2) and remote (web3) backends.
    dp.resync(&with_web(&["web1", "web2", "web3"]))
        .await
        .unwrap();
    let st = srv.state();
    let gw = Some(ip("10.1.0.1"));
    let mut keys: Vec<_> = held(&st).into_iter().map(|(k, _, _)| k).collect();
    keys.sort();
    assert_eq!(keys, [(ip(VIP), 53, 17), (ip(VIP), 80, 6)]);
    assert_eq!(
        paths(&st, 80),
        [
            (ip("10.1.0.10"), 8080, gw),
            (ip("10.1.0.11"), 8080, gw),
            (ip("10.1.0.12"), 8080, gw)
        ],
        "paths are the backends with the provider port, source the gateway"
    );
    assert_eq!(paths(&st, 53)[0].1, 5353);
    // Proxy-ARP mode: the VIP resolves to the gateway (the BVI, where
    // cnat translates).
    let bd = st
        .bds
        .iter()
        .find(|(_, b)| b.tag == names::tag("bd", &fixture::vxnet().key))
        .map(|(k, _)| *k)
        .unwrap();
    assert_eq!(
        st.bd_ip_mac.get(&(bd, ip(VIP))),
        Some(&names::gateway_mac(&fixture::vxnet().key))
    );
    // In sync: a resync sends nothing, also from a new datapath.
    srv.clear_log();
    let r = dp
        .resync(&with_web(&["web1", "web2", "web3"]))
        .await
        .unwrap();
    assert_eq!((r.added, r.removed), (0, 0), "{r:?}");
    let dp2 = VppDatapath::connect(fixture::config(&srv)).await.unwrap();
    let r = dp2
        .resync(&with_web(&["web3", "web2", "web1"]))
        .await
        .unwrap();
    assert_eq!((r.added, r.removed), (0, 0), "backend order is no change");
    assert!(srv.mutations().is_empty(), "{:?}", srv.mutations());
}

#[tokio::test]
async fn in_flood_arp_mode_the_vip_alone_is_answered() {
    let (srv, dp) = fixture::start().await;
    let mut d = with_web(&["web1"]);
    d.global.arp_mode = contiv_core::datapath::ArpMode::Flood;
    dp.resync(&d).await.unwrap();
    let st = srv.state();
    let vx = fixture::vxnet().key;
    let bd_of = |net: &str| {
        st.bds
            .iter()
            .find(|(_, b)| b.tag == names::tag("bd", net))
            .map(|(k, b)| (*k, b.arp_term))
            .unwrap()
    };
    let (bd, term) = bd_of(&vx);
    assert!(term, "ARP termination answers the VIP, floods the rest");
    assert_eq!(
        st.bd_ip_mac.keys().collect::<Vec<_>>(),
        [&(bd, ip(VIP))],
        "no endpoint is answered for, only the VIP"
    );
    assert!(
        !bd_of(&fixture::vlannet().key).1,
        "no service, no termination"
    );
    // The service goes: the network floods ARP as before.
    dp.apply(vec![DpOp::RemoveService("t1:web".into())])
        .await
        .unwrap();
    let st = srv.state();
    assert!(st.bd_ip_mac.is_empty());
    assert!(!st.bds[&bd].arp_term);
}

#[tokio::test]
async fn translations_follow_the_endpoints_with_one_call_per_port() {
    let (srv, dp) = fixture::start().await;
    dp.resync(&with_web(&["web1", "web2", "web3"]))
        .await
        .unwrap();
    let ids: Vec<u32> = held(&srv.state()).iter().map(|(_, id, _)| *id).collect();
    // A backend endpoint goes: the contract takes it out of the service;
    // each translation is updated once, in place.
    srv.clear_log();
    dp.apply(vec![DpOp::RemoveRemoteEndpoint("web3".into())])
        .await
        .unwrap();
    assert_eq!(
        cnat_calls(&srv),
        ["cnat_translation_update", "cnat_translation_update"]
    );
    let st = srv.state();
    assert_eq!(
        held(&st).iter().map(|(_, id, _)| *id).collect::<Vec<_>>(),
        ids,
        "updated in place"
    );
    assert!(paths(&st, 80).iter().all(|p| p.0 != ip("10.1.0.12")));
    // A backend added: again one update per port, nothing else.
    srv.clear_log();
    dp.apply(vec![DpOp::AddService(web(&["web1", "web2", "web4"]))])
        .await
        .unwrap();
    assert_eq!(
        srv.mutations(),
        ["cnat_translation_update", "cnat_translation_update"]
    );
    assert_eq!(paths(&srv.state(), 80).len(), 3);
    // No backends left: no translation (nothing answers on the VIP), and
    // the VIP's ARP entry goes.
    srv.clear_log();
    dp.apply(vec![DpOp::AddService(web(&[]))]).await.unwrap();
    let mut m = srv.mutations();
    m.sort();
    assert_eq!(
        m,
        [
            "bd_ip_mac_add_del",
            "cnat_translation_del",
            "cnat_translation_del"
        ]
    );
    assert!(srv.state().cnat.is_empty());
    dp.apply(vec![DpOp::AddService(web(&["web1"]))])
        .await
        .unwrap();
    assert_eq!(srv.state().cnat.len(), 2);
    srv.clear_log();
    dp.apply(vec![DpOp::RemoveService("t1:web".into())])
        .await
        .unwrap();
    assert_eq!(cnat_calls(&srv).len(), 2);
    assert!(srv.state().cnat.is_empty());
    // The network goes: its services go with it.
    dp.apply(vec![DpOp::AddService(web(&["web1"]))])
        .await
        .unwrap();
    dp.apply(vec![DpOp::RemoveNetwork(fixture::vxnet().key)])
        .await
        .unwrap();
    assert!(srv.state().cnat.is_empty());
}

#[tokio::test]
async fn a_restarted_vpp_gets_its_translations_back_and_strangers_go() {
    let (srv, dp) = fixture::start().await;
    let d = with_web(&["web1", "web2"]);
    dp.resync(&d).await.unwrap();
    let before = held(&srv.state());
    srv.restart();
    tokio::time::sleep(std::time::Duration::from_millis(50)).await;
    dp.apply(vec![]).await.unwrap();
    let after: Vec<_> = held(&srv.state())
        .into_iter()
        .map(|(k, _, p)| (k, p))
        .collect();
    assert_eq!(
        after,
        before
            .into_iter()
            .map(|(k, _, p)| (k, p))
            .collect::<Vec<_>>()
    );
    // A translation VPP holds that the state does not name (an earlier
    // agent's), and one of ours changed behind the agent's back: a
    // resync deletes the first and repairs the second.
    srv.with_state(|s| {
        let mut t = s.cnat.values().next().unwrap().clone();
        t.paths.truncate(1);
        s.cnat_update(t.clone()).unwrap();
        t.vip.port = 9999;
        s.cnat_update(t).unwrap();
    });
    srv.clear_log();
    let r = dp.resync(&d).await.unwrap();
    assert_eq!((r.added, r.removed), (1, 1), "{r:?}");
    let mut m = srv.mutations();
    m.sort();
    assert_eq!(m, ["cnat_translation_del", "cnat_translation_update"]);
    assert_eq!(srv.state().cnat.len(), 2);
    assert_eq!(paths(&srv.state(), 80).len(), 2);
}

/// What cnat cannot hold is skipped, never refused (services are not a
/// claimed capability: the agent reports them, and the rest of the host
/// must still be programmed): two tenants' services on one VIP, port and
/// protocol (cnat keys in no table) get no translation; a network
/// without an IPv4 gateway (the return path's source) gets none.
#[tokio::test]
async fn what_cnat_cannot_hold_is_skipped_and_the_rest_programmed() {
    let (srv, dp) = fixture::start().await;
    let mut d = with_web(&["web1"]);
    let mut vx2 = fixture::vxnet();
    vx2.key = "t2:vx".into();
    vx2.tenant = "t2".into();
    vx2.tenant_id = 2;
    vx2.vni = Some(7002);
    let mut e = fixture::local("t2e", &vx2, 10, 0);
    e.attachment = contiv_core::datapath::Attachment::Existing;
    e.host_ifname = "t2e".into();
    let mut other = web(&["t2e"]);
    other.key = "t2:web".into();
    other.network = vx2.key.clone();
    // Only the TCP port collides.
    other.ports.truncate(1);
    d.networks.push(vx2);
    d.local_endpoints.push(e);
    d.services.push(other);
    let r = dp.resync(&d).await.unwrap();
    assert_eq!(r.removed, 0);
    let keys: Vec<_> = held(&srv.state()).into_iter().map(|(k, _, _)| k).collect();
    assert_eq!(keys, [(ip(VIP), 53, 17)], "the colliding port is left out");
    assert!(
        srv.state()
            .interfaces
            .values()
            .any(|i| i.tag == "cv:host:t2e"),
        "the rest of the host is programmed"
    );
    // The collision goes: t1's TCP port is translated.
    d.services.pop();
    srv.clear_log();
    dp.resync(&d).await.unwrap();
    assert_eq!(srv.mutations(), ["cnat_translation_update"]);
    // No IPv4 gateway: no translation, no VIP entry, the rest unchanged.
    d.networks[0].gateway = None;
    dp.resync(&d).await.unwrap();
    let st = srv.state();
    assert!(st.cnat.is_empty());
    assert!(!st.bd_ip_mac.keys().any(|(_, a)| *a == ip(VIP)));
    assert!(st.bd_ip_mac.len() > 1, "endpoints are still answered for");
}

fn translation(vip: &str, port: u16, proto: u8, backends: &[&str]) -> CnatTranslation {
    let ep = |a: &str, port: u16| CnatEndpoint {
        addr: contiv_dp_vpp::api::types::Address::from_ip(ip(a)),
        sw_if_index: u32::MAX,
        if_af: Default::default(),
        port,
    };
    CnatTranslation {
        vip: ep(vip, port),
        id: 12345,
        ip_proto: IpProto(proto),
        paths: backends
            .iter()
            .map(|b| CnatEndpointTuple {
                dst_ep: ep(b, 8080),
                src_ep: CnatEndpoint {
                    sw_if_index: u32::MAX,
                    ..Default::default()
                },
                flags: 0,
            })
            .collect(),
        ..Default::default()
    }
}

/// The server's cnat is the plugin's: found by VIP, port and protocol
/// (the request's id ignored), updates replace and keep the id, ids are
/// pool indices (the last freed reused first), no paths is refused.
#[test]
fn the_test_servers_cnat_keys_replaces_and_reuses_ids_as_vpp() {
    let mut s = VppState::new(&[]);
    let a = s.cnat_update(translation("10.0.0.1", 80, 6, &["10.1.0.1"]));
    let b = s.cnat_update(translation("10.0.0.1", 80, 17, &["10.1.0.1"]));
    let c = s.cnat_update(translation("10.0.0.1", 81, 6, &["10.1.0.1"]));
    assert_eq!((a, b, c), (Ok(0), Ok(1), Ok(2)));
    let again = s.cnat_update(translation("10.0.0.1", 80, 6, &["10.1.0.2", "10.1.0.3"]));
    assert_eq!(again, Ok(0), "same VIP, port, protocol: updated in place");
    assert_eq!(s.cnat[&0].paths.len(), 2, "the paths were replaced");
    assert_eq!(s.cnat[&0].id, 0, "the id is VPP's, not the request's");
    assert_eq!(s.cnat.len(), 3);
    s.cnat_del(0).unwrap();
    s.cnat_del(2).unwrap();
    assert_eq!(s.cnat_del(2), Err(errno::NO_SUCH_ENTRY));
    let d = s.cnat_update(translation("10.0.0.2", 80, 6, &["10.1.0.1"]));
    let e = s.cnat_update(translation("10.0.0.3", 80, 6, &["10.1.0.1"]));
    assert_eq!((d, e), (Ok(2), Ok(0)), "last freed first");
    assert_eq!(
        s.cnat_update(translation("10.0.0.4", 80, 6, &[])),
        Err(errno::INVALID_VALUE)
    );
    assert_eq!(s.cnat.keys().copied().collect::<Vec<_>>(), [0, 1, 2]);
}
