//! Netprofiles with real packets: bandwidth measured with iperf3 in both
//! directions, DSCP seen on the receiving end's wire.

use super::fixture::{Container, local_ep, vxlan_net};
use super::{Harness, Outcome, gate, host, start};
use contiv_core::datapath::{Datapath, DpOp, Qos};
use std::process::Stdio;
use std::time::Duration;
use tokio::process::Command;

/// The bandwidth the scenario asks for (kbit/s): well below what a
/// userspace switch on a loaded 2-core machine forwards.
pub const PROFILE_KBPS: u32 = 20_000;

/// iperf3 from `client` to the server at `server_ip`:`port` for `secs`
/// (`reverse`: the server sends); the receiver's rate in kbit/s.
///
/// A server that is not listening yet ("Connection refused") or still
/// closing its previous test ("the server is busy running a test") is
/// asked again, for up to 5 s: both are the test's own timing, not the
/// datapath's.
async fn iperf(client: &Container, server_ip: &str, port: u16, reverse: bool, secs: u32) -> f64 {
    let t = secs.to_string();
    let p = port.to_string();
    let mut args = vec![
        "iperf3", "-c", server_ip, "-p", &p, "-J", "-t", &t, "-O", "1",
    ];
    if reverse {
        args.push("-R");
    }
    let mut attempts = 0;
    let text = loop {
        let out = client.exec(&args).await;
        let text = String::from_utf8_lossy(&out.stdout).into_owned();
        let not_ready = text.contains("server is busy") || text.contains("Connection refused");
        if not_ready && attempts < 20 {
            attempts += 1;
            tokio::time::sleep(Duration::from_millis(250)).await;
            continue;
        }
        assert!(out.status.success(), "iperf3 failed: {text}");
        break text;
    };
    // The "sum_received" bits_per_second of the JSON report.
    let at = text
        .find("\"sum_received\"")
        .unwrap_or_else(|| panic!("no sum_received in iperf3's report: {text}"));
    let rest = &text[at..];
    let k = rest
        .find("\"bits_per_second\":")
        .unwrap_or_else(|| panic!("no bits_per_second: {text}"));
    let num: String = rest[k + 18..]
        .trim_start()
        .chars()
        .take_while(|c| c.is_ascii_digit() || *c == '.' || *c == 'e' || *c == '+')
        .collect();
    num.parse::<f64>()
        .unwrap_or_else(|e| panic!("bits_per_second {num:?}: {e}"))
        / 1000.0
}

/// A one-off iperf3 server (`-1`: it serves one test, then exits) in
/// `c`'s namespace on `port`; killed when dropped.
fn iperf_server(c: &Container, port: u16) -> tokio::process::Child {
    Command::new("ip")
        .args(["netns", "exec", c.name(), "iperf3", "-s", "-1", "-p"])
        .arg(port.to_string())
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .kill_on_drop(true)
        .spawn()
        .unwrap_or_else(|e| panic!("cannot start iperf3 -s: {e}"))
}

/// An endpoint with a netprofile's bandwidth gets that rate (±20 %) in
/// both directions, measured with iperf3 against an unshaped peer.
pub async fn bandwidth_within_profile<H: Harness>(h: &H) -> Outcome {
    if let Err(o) = gate(h, "bandwidth_within_profile") {
        return o;
    }
    let mut host = host(h).await;
    let net = vxlan_net("default", 1, "bw", 5501, "10.1.40.0/24");
    let (a, b) = (Container::new(true).await, Container::new(true).await);
    let mut ea = local_ep("ep-a", &net, "10.1.40.2", 0, &a);
    ea.qos = Some(Qos {
        rate_kbps: PROFILE_KBPS,
        burst_kb: 0,
        dscp: 0,
    });
    let dp = start(h, &mut host).await;
    dp.apply(vec![
        DpOp::AddNetwork(net.clone()),
        DpOp::AddLocalEndpoint(ea),
        DpOp::AddLocalEndpoint(local_ep("ep-b", &net, "10.1.40.3", 0, &b)),
    ])
    .await
    .expect("apply");
    assert!(a.ping_eventually("10.1.40.3", 10).await, "a -> b");
    let want = f64::from(PROFILE_KBPS);
    // One server per direction, each on its own port: the second test
    // never meets the first one's server still closing.
    for (reverse, port) in [(false, 5201), (true, 5202)] {
        let server = iperf_server(&b, port);
        let got = iperf(&a, "10.1.40.3", port, reverse, 4).await;
        drop(server);
        let dir = if reverse { "to a" } else { "from a" };
        println!("conformance: bandwidth {dir}: {got:.0} kbit/s (profile {want} kbit/s)");
        assert!(
            (got - want).abs() <= want * 0.2,
            "bandwidth {dir}: {got:.0} kbit/s is not within 20 % of the profile's {want} kbit/s"
        );
    }
    Outcome::Passed
}

/// An endpoint whose netprofile marks DSCP 46 sends IPv4 packets that
/// arrive with DS field 0xb8 (46 << 2) (its application sets none).
pub async fn dscp_on_the_wire<H: Harness>(h: &H) -> Outcome {
    if let Err(o) = gate(h, "dscp_on_the_wire") {
        return o;
    }
    let mut host = host(h).await;
    let net = vxlan_net("default", 1, "dscp", 5502, "10.1.41.0/24");
    let (a, b) = (Container::new(true).await, Container::new(true).await);
    let mut ea = local_ep("ep-a", &net, "10.1.41.2", 0, &a);
    ea.qos = Some(Qos {
        rate_kbps: 0,
        burst_kb: 0,
        dscp: 46,
    });
    let dp = start(h, &mut host).await;
    dp.apply(vec![
        DpOp::AddNetwork(net.clone()),
        DpOp::AddLocalEndpoint(ea),
        DpOp::AddLocalEndpoint(local_ep("ep-b", &net, "10.1.41.3", 0, &b)),
    ])
    .await
    .expect("apply");
    assert!(a.ping_eventually("10.1.41.3", 10).await, "a -> b");
    // Capture on b's interface: a's echo requests, b's echo replies.
    let cap = Command::new("ip")
        .args([
            "netns",
            "exec",
            b.name(),
            "tcpdump",
            "-l",
            "-n",
            "-v",
            "-c",
            "4",
            "-i",
            "eth0",
            "icmp",
        ])
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .kill_on_drop(true)
        .spawn()
        .unwrap_or_else(|e| panic!("cannot start tcpdump: {e}"));
    tokio::time::sleep(Duration::from_millis(500)).await;
    let _ = a.ping("10.1.41.3").await;
    let out = tokio::time::timeout(Duration::from_secs(10), cap.wait_with_output())
        .await
        .unwrap_or_else(|_| panic!("tcpdump saw fewer than 4 packets"))
        .unwrap_or_else(|e| panic!("tcpdump: {e}"));
    let text = String::from_utf8_lossy(&out.stdout);
    let lines: Vec<&str> = text.lines().collect();
    let marked = |src: &str| {
        lines
            .windows(2)
            .any(|w| w[0].contains("tos 0xb8") && w[1].contains(&format!("{src} >")))
    };
    assert!(marked("10.1.41.2"), "a's packets carry DSCP 46: {text}");
    Outcome::Passed
}
