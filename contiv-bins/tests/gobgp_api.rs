//! The gobgpd client and process handling against Debian's real gobgpd:
//! the vendored `.proto` files are the installed package's; gobgpd is
//! started in a private network namespace (through `nsenter`), found
//! again by pid file, driven over its unix socket (BGP, a neighbor, paths
//! added, listed and withdrawn), and stopped.

use contiv_bins::netplugin::bgp::gobgp::{Gobgp, PeerSpec, RibRoute};
use contiv_bins::netplugin::bgp::process::{self, SpeakerFiles};
use contiv_core::linux::{Netns, netns};
use std::path::Path;
use std::time::Duration;

/// Where Debian's golang-github-osrg-gobgp-dev puts gobgp's API.
const DEBIAN_PROTOS: &str = "/usr/share/gocode/src/github.com/osrg/gobgp/api";

#[test]
fn vendored_protos_are_the_installed_gobgps() {
    for f in ["gobgp.proto", "attribute.proto", "capability.proto"] {
        let ours = std::fs::read(
            Path::new(env!("CARGO_MANIFEST_DIR"))
                .join("proto/gobgp")
                .join(f),
        )
        .unwrap_or_else(|e| panic!("proto/gobgp/{f}: {e}"));
        let theirs = std::fs::read(Path::new(DEBIAN_PROTOS).join(f)).unwrap_or_else(|e| {
            panic!("{DEBIAN_PROTOS}/{f}: {e} (install golang-github-osrg-gobgp-dev: make deps)")
        });
        assert!(
            ours == theirs,
            "proto/gobgp/{f} differs from {DEBIAN_PROTOS}/{f}"
        );
    }
}

struct NsGuard(String);

impl Drop for NsGuard {
    fn drop(&mut self) {
        let _ = netns::delete_named_netns(&self.0);
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn gobgpd_is_started_adopted_driven_and_stopped() {
    let name = format!("gbg{}", std::process::id() % 100_000);
    let path = netns::create_named_netns(&name).expect("namespace");
    let _ns = NsGuard(name.clone());
    for args in [
        vec!["link", "set", "lo", "up"],
        vec!["addr", "add", "50.9.9.1/32", "dev", "lo"],
    ] {
        let ok = std::process::Command::new("ip")
            .args(["-n", &name])
            .args(&args)
            .status()
            .expect("ip")
            .success();
        assert!(ok, "ip {args:?}");
    }
    let dir = tempfile::tempdir().expect("tempdir");
    let files = SpeakerFiles::new(dir.path());
    assert_eq!(files.running_pid(), None);
    let pid = process::spawn(Path::new("gobgpd"), &files, &Netns::Path(path)).expect("spawn");
    // Stopped by pid whatever happens below.
    struct Stop(SpeakerFiles);
    impl Drop for Stop {
        fn drop(&mut self) {
            if let Some(pid) = self.0.running_pid() {
                // SAFETY: a plain syscall on the gobgpd we started.
                unsafe {
                    libc::kill(pid as libc::pid_t, libc::SIGKILL);
                }
            }
        }
    }
    let _stop = Stop(files.clone());
    assert!(process::wait_socket(&files, Duration::from_secs(10)).await);
    assert_eq!(files.running_pid(), Some(pid), "found again by pid file");

    let mut c = Gobgp::connect_unix(&files.socket(), Duration::from_secs(5))
        .await
        .expect("connect");
    assert_eq!(c.global().await.expect("global"), None, "not started yet");
    let router = "50.9.9.1".parse().unwrap();
    c.start(65001, router, 179).await.expect("start");
    assert_eq!(
        c.global().await.expect("global"),
        Some((65001, "50.9.9.1".into(), 179))
    );
    let peer = PeerSpec {
        address: "50.9.9.254".parse().unwrap(),
        asn: 65000,
        local: router,
        connect_retry: Duration::from_secs(1),
        hold_time: Duration::from_secs(9),
    };
    c.add_peer(&peer).await.expect("add peer");
    let peers = c.peers(true).await.expect("peers");
    assert_eq!(
        peers.keys().copied().collect::<Vec<_>>(),
        vec![peer.address]
    );
    let st = c
        .peer_status(peer.address)
        .await
        .expect("status")
        .expect("peer");
    assert_ne!(st.session, "Established", "nobody is there: {st:?}");
    assert!(st.established_at.is_none());

    let r = |p: &str| RibRoute {
        prefix: p.parse().unwrap(),
        next_hop: router,
    };
    c.add_path(&r("10.9.0.1/32")).await.expect("add");
    c.add_path(&r("10.9.0.2/32")).await.expect("add");
    let mut local = c.local_paths().await.expect("local");
    local.sort();
    assert_eq!(local, vec![r("10.9.0.1/32"), r("10.9.0.2/32")]);
    assert_eq!(c.rib().await.expect("rib").len(), 2);
    c.delete_path(&r("10.9.0.1/32")).await.expect("delete");
    assert_eq!(
        c.local_paths().await.expect("local"),
        vec![r("10.9.0.2/32")]
    );
    assert!(c.received(peer.address).await.expect("adj-in").is_empty());
    c.delete_peer(peer.address).await.expect("delete peer");
    c.delete_peer(peer.address)
        .await
        .expect("again: absent is fine");
    assert!(c.peers(true).await.expect("peers").is_empty());

    process::stop(&files).await;
    assert_eq!(files.running_pid(), None);
    assert!(
        !Path::new(&format!("/proc/{pid}/cmdline")).exists() || {
            // Reaped a moment later (its parent's reaper thread).
            tokio::time::sleep(Duration::from_millis(500)).await;
            !Path::new(&format!("/proc/{pid}/cmdline")).exists()
                || std::fs::read(format!("/proc/{pid}/cmdline")).is_ok_and(|b| b.is_empty())
        }
    );
    assert!(!files.socket().exists() && !files.pidfile().exists());
}
