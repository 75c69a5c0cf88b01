//! Interface plumbing on its own (rtnetlink in real namespaces): every
//! attachment kind, idempotence, repair of half-gone pairs, and errors
//! that name what is wrong.
// Test code: a failed unwrap is a failed test.
#![allow(clippy::unwrap_used)]

#[path = "support/hosts.rs"]
mod hosts;
#[path = "support/model.rs"]
mod model;

use contiv_core::datapath::Attachment;
use contiv_core::linux::{PlumbError, Plumber, ethtool};
use hosts::{NetnsGuard, unique};
use model::*;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn netns_attachment_is_idempotent_and_repairs_a_missing_container_side() {
    let sw = NetnsGuard::new("sw");
    let ctr = NetnsGuard::new("ctr");
    let mut net = vxlan_net("t", 1, "n", 100, "10.7.0.0/24");
    net.gateway = Some("10.7.0.1".parse().unwrap());
    let mut ep = local_ep("e1", &net, "10.7.0.5", 0, &unique("vh"));
    ep.attachment = Attachment::Netns {
        netns: ctr.path(),
        ifname: "eth1".into(),
    };
    ep.mtu = 1400;
    let p = Plumber::new(sw.netns());
    p.ensure(&ep, &net).await.unwrap();
    // Twice: nothing changes, nothing fails.
    p.ensure(&ep, &net).await.unwrap();
    let addrs = ctr.ip(&["-br", "addr", "show", "eth1"]);
    assert_eq!(addrs.matches("10.7.0.5/24").count(), 1, "{addrs}");
    assert!(ctr.ip(&["link", "show", "eth1"]).contains("mtu 1400"));
    assert!(
        sw.ip(&["link", "show", &ep.host_ifname])
            .contains("mtu 1400")
    );
    assert!(ctr.ip(&["route"]).contains("default via 10.7.0.1 dev eth1"));
    assert!(!ethtool::tx_checksum(&ctr.netns(), "eth1").await.unwrap());
    assert!(
        !ethtool::tx_checksum(&sw.netns(), &ep.host_ifname)
            .await
            .unwrap()
    );
    // The container side disappears (namespace recreated by a runtime…):
    // ensure puts the pair back.
    ctr.ip(&["link", "del", "eth1"]);
    assert!(
        !p.host_link_exists(&ep.host_ifname).await.unwrap(),
        "veth pairs die together"
    );
    p.ensure(&ep, &net).await.unwrap();
    assert!(
        ctr.ip(&["-br", "addr", "show", "eth1"])
            .contains("10.7.0.5/24")
    );
    // Removal deletes both ends; removing again succeeds.
    p.remove(&ep).await.unwrap();
    p.remove(&ep).await.unwrap();
    assert!(!ctr.exec(&["ip", "link", "show", "eth1"]).status.success());
    assert!(!p.host_link_exists(&ep.host_ifname).await.unwrap());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn host_veth_and_existing_attachments() {
    let sw = NetnsGuard::new("sw");
    let net = vxlan_net("t", 1, "n", 100, "10.8.0.0/24");
    let mut ep = local_ep("e1", &net, "10.8.0.5", 0, &unique("vh"));
    let peer = unique("vp");
    ep.attachment = Attachment::HostVeth {
        peer_name: peer.clone(),
    };
    let p = Plumber::new(sw.netns());
    p.ensure(&ep, &net).await.unwrap();
    let link = sw.ip(&["link", "show", &peer]);
    assert!(
        link.contains("02:02:0a:08:00:05") && link.contains("mtu 1450"),
        "{link}"
    );
    assert!(!ethtool::tx_checksum(&sw.netns(), &peer).await.unwrap());
    p.remove(&ep).await.unwrap();
    assert!(!sw.exec(&["ip", "link", "show", &peer]).status.success());

    // `Existing`: only attached; a missing interface is an error naming it.
    let mut ex = local_ep("e2", &net, "10.8.0.6", 0, "nosuchif0");
    ex.attachment = Attachment::Existing;
    let err = p.ensure(&ex, &net).await.unwrap_err();
    assert!(
        matches!(&err, PlumbError::Invalid(m) if m.contains("nosuchif0") && m.contains("does not exist")),
        "{err}"
    );
    let name = unique("ex");
    sw.ip(&[
        "link",
        "add",
        &name,
        "type",
        "veth",
        "peer",
        "name",
        &format!("{name}p"),
    ]);
    ex.host_ifname = name.clone();
    p.ensure(&ex, &net).await.unwrap();
    assert!(sw.ip(&["link", "show", &name]).contains("state"), "exists");
    assert!(!ethtool::tx_checksum(&sw.netns(), &name).await.unwrap());
    // Removing an `Existing` endpoint leaves the interface alone.
    p.remove(&ex).await.unwrap();
    assert!(sw.exec(&["ip", "link", "show", &name]).status.success());
    // Bad names are refused before anything is touched.
    ex.host_ifname = "a-name-longer-than-15".into();
    assert!(matches!(
        p.ensure(&ex, &net).await,
        Err(PlumbError::Invalid(_))
    ));
}
