//! The shared host-side pieces against the real kernel, in a private
//! network namespace: `tbf` shaping, the owned nftables table, the host
//! port and its routes — each idempotent (a second call writes nothing)
//! and removable.
#![allow(clippy::unwrap_used)]

use contiv_core::datapath::{MacAddr, ServiceProtocol};
use contiv_core::linux::netfilter::{self, Dnat, NatRules};
use contiv_core::linux::netns::{create_named_netns, delete_named_netns};
use contiv_core::linux::shaping::{self, Tbf};
use contiv_core::linux::{Netns, ensure_host_port, sync_link_routes};
use std::process::Command;

struct Ns(String);
impl Drop for Ns {
    fn drop(&mut self) {
        let _ = delete_named_netns(&self.0);
    }
}

fn ip(ns: &str, args: &[&str]) -> String {
    let out = Command::new("ip")
        .args(["-n", ns])
        .args(args)
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "ip {args:?}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout).into_owned()
}

fn tc(ns: &str, args: &[&str]) -> String {
    let out = Command::new("ip")
        .args(["netns", "exec", ns, "tc"])
        .args(args)
        .output()
        .unwrap();
    String::from_utf8_lossy(&out.stdout).into_owned()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn host_side_pieces_converge_and_go() {
    let name = format!("lhs{}", std::process::id());
    create_named_netns(&name).unwrap();
    let _g = Ns(name.clone());
    let ns = Netns::named(&name);

    // Host port: created once, then left alone.
    let mac = MacAddr([2, 2, 172, 19, 255, 254]);
    let addr = "172.19.255.254/16".parse().unwrap();
    assert!(
        ensure_host_port(&ns, "hp0", "hp0o", mac, addr)
            .await
            .unwrap()
    );
    assert!(
        !ensure_host_port(&ns, "hp0", "hp0o", mac, addr)
            .await
            .unwrap()
    );
    let link = ip(&name, &["link", "show", "hp0"]);
    assert!(
        link.contains("NOARP") && link.contains("02:02:ac:13:ff:fe"),
        "{link}"
    );
    assert!(ip(&name, &["-br", "addr", "show", "hp0"]).contains("172.19.255.254/16"));

    // Routes: exactly what is asked, the connected route untouched.
    let r1 = "10.1.2.3/32".parse().unwrap();
    let r2 = "10.1.2.4/32".parse().unwrap();
    assert_eq!(
        sync_link_routes(&ns, "hp0", &[r1, r2]).await.unwrap(),
        (2, 0)
    );
    assert_eq!(
        sync_link_routes(&ns, "hp0", &[r1, r2]).await.unwrap(),
        (0, 0)
    );
    assert_eq!(sync_link_routes(&ns, "hp0", &[r2]).await.unwrap(), (0, 1));
    let routes = ip(&name, &["route", "show", "dev", "hp0"]);
    assert!(
        routes.contains("10.1.2.4") && !routes.contains("10.1.2.3"),
        "{routes}"
    );
    assert!(routes.contains("172.19.0.0/16"), "{routes}");

    // nftables: one owned table, rewritten only when it differs.
    let mut rules = NatRules {
        table: "contiv_test".into(),
        host_ifname: "hp0".into(),
        masquerade: vec!["172.19.0.0/16".parse().unwrap()],
        dnat: vec![Dnat {
            protocol: ServiceProtocol::Tcp,
            host_ip: None,
            host_port: 9099,
            to: "10.1.2.4".parse().unwrap(),
            to_port: 80,
            tag: "ep-x".into(),
        }],
    };
    assert!(netfilter::ensure(&ns, &rules).await.unwrap());
    assert!(
        !netfilter::ensure(&ns, &rules).await.unwrap(),
        "in sync: nothing written"
    );
    let listing = netfilter::list(&ns, "contiv_test").await.unwrap().unwrap();
    assert!(listing.contains("dnat to 10.1.2.4:80"), "{listing}");
    rules.dnat.clear();
    assert!(netfilter::ensure(&ns, &rules).await.unwrap());
    assert!(
        !netfilter::list(&ns, "contiv_test")
            .await
            .unwrap()
            .unwrap()
            .contains("dnat to")
    );
    assert!(netfilter::remove(&ns, "contiv_test").await.unwrap());
    assert!(!netfilter::remove(&ns, "contiv_test").await.unwrap());

    // Shaping: a tbf root qdisc, read before written, removable.
    let t = Tbf::from_kbps(8000, 0);
    assert!(shaping::shape(&ns, "hp0o", t).await.unwrap());
    assert!(!shaping::shape(&ns, "hp0o", t).await.unwrap());
    let q = tc(&name, &["qdisc", "show", "dev", "hp0o"]);
    assert!(q.contains("tbf") && q.contains("rate 8Mbit"), "{q}");
    assert!(
        shaping::shape(&ns, "hp0o", Tbf::from_kbps(4000, 0))
            .await
            .unwrap()
    );
    assert!(tc(&name, &["qdisc", "show", "dev", "hp0o"]).contains("rate 4Mbit"));
    assert!(shaping::unshape(&ns, "hp0o").await.unwrap());
    assert!(!shaping::unshape(&ns, "hp0o").await.unwrap());
    assert!(!tc(&name, &["qdisc", "show", "dev", "hp0o"]).contains("tbf"));
}
