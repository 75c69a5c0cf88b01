//! The DNS server inside network namespaces, wired as the agent wires it:
//! the listening socket opened inside a per-network DNS namespace at
//! 169.254.53.53, queries from a "container" namespace over a veth pair,
//! forwarding through a socket in the host namespace to a resolver on the
//! host's loopback.

#![allow(clippy::unwrap_used, clippy::expect_used)] // test code: a failed step fails the test

mod dns_support;

use contiv_bins::dns::DNS_ADDR;
use contiv_bins::dns::forward::{ForwardConfig, Forwarder};
use contiv_bins::dns::names::{NameTables, SharedNames};
use contiv_bins::dns::netns::{
    NetnsError, run_in_netns, tcp_listener_in_netns, udp_socket_in_netns,
};
use contiv_bins::dns::server::{DnsContext, DnsServer};
use dns_support::{Dnsmasq, Netns, a_records, dig, endpoint, ip, query_from, unique};
use hickory_proto::rr::RecordType;
use std::net::{IpAddr, SocketAddr};
use std::sync::Arc;

fn dns_sock() -> SocketAddr {
    SocketAddr::from((DNS_ADDR, 53))
}

#[test]
fn dns_netns_helper_binds_inside_the_namespace() {
    let mut ns = Netns::default();
    let name = unique("ctvdns");
    let path = ns.add(&name);
    ip(&["-n", &name, "addr", "add", "169.254.53.53/32", "dev", "lo"]);
    // The host has no such address: binding it here fails…
    assert!(
        std::net::UdpSocket::bind(dns_sock()).is_err(),
        "the host must not own {DNS_ADDR} for this test to mean anything"
    );
    // …inside the namespace it works, and the socket stays there.
    let udp = udp_socket_in_netns(&path, dns_sock()).unwrap();
    let tcp = tcp_listener_in_netns(&path, dns_sock()).unwrap();
    assert_eq!(udp.local_addr().unwrap(), dns_sock());
    assert_eq!(tcp.local_addr().unwrap(), dns_sock());
    // A client inside the namespace reaches it (round trip through the
    // kernel of that namespace).
    let client = run_in_netns(&path, || std::net::UdpSocket::bind("169.254.53.53:0"))
        .unwrap()
        .unwrap();
    client.send_to(b"ping", dns_sock()).unwrap();
    udp.set_nonblocking(false).unwrap();
    udp.set_read_timeout(Some(std::time::Duration::from_secs(5)))
        .unwrap();
    let mut buf = [0u8; 8];
    let (n, from) = udp.recv_from(&mut buf).unwrap();
    assert_eq!(&buf[..n], b"ping");
    assert_eq!(from, client.local_addr().unwrap());
    // The calling thread never left the host namespace.
    assert!(std::net::UdpSocket::bind(dns_sock()).is_err());
}

#[test]
fn dns_netns_helper_reports_bad_namespaces() {
    let err = udp_socket_in_netns("/nonexistent/netns".as_ref(), dns_sock()).unwrap_err();
    assert!(matches!(err, NetnsError::Open { .. }), "{err}");
    assert!(err.to_string().contains("/nonexistent/netns"));
    // A file that is not a namespace cannot be entered.
    let file = tempfile::NamedTempFile::new().unwrap();
    let err = udp_socket_in_netns(file.path(), dns_sock()).unwrap_err();
    assert!(matches!(err, NetnsError::Enter { .. }), "{err}");
    // A namespace without the address: the bind error names both.
    let mut ns = Netns::default();
    let name = unique("ctvdnsb");
    let path = ns.add(&name);
    let err = udp_socket_in_netns(&path, dns_sock()).unwrap_err();
    assert!(matches!(err, NetnsError::Bind { .. }), "{err}");
    assert!(err.to_string().contains("169.254.53.53:53"), "{err}");
}

/// A container namespace and a DNS namespace joined by a veth pair, as the
/// agent's DNS endpoint (minus the OVS bridge between them).
struct Topology {
    _ns: Netns,
    client: String,
    dns: std::path::PathBuf,
}

fn topology() -> Topology {
    let mut ns = Netns::default();
    let client = unique("ctvc");
    let dns_name = unique("ctvd");
    ns.add(&client);
    let dns = ns.add(&dns_name);
    let (vc, vd) = (unique("vc"), unique("vd"));
    ip(&[
        "link", "add", &vc, "netns", &client, "type", "veth", "peer", "name", &vd, "netns",
        &dns_name,
    ]);
    ip(&["-n", &client, "addr", "add", "10.253.7.2/24", "dev", &vc]);
    ip(&["-n", &client, "link", "set", &vc, "up"]);
    ip(&[
        "-n",
        &client,
        "route",
        "add",
        "169.254.53.53/32",
        "dev",
        &vc,
        "scope",
        "link",
    ]);
    ip(&[
        "-n",
        &dns_name,
        "addr",
        "add",
        "169.254.53.53/32",
        "dev",
        &vd,
    ]);
    ip(&["-n", &dns_name, "link", "set", &vd, "up"]);
    ip(&[
        "-n",
        &dns_name,
        "route",
        "add",
        "10.253.7.0/24",
        "dev",
        &vd,
        "scope",
        "link",
    ]);
    Topology {
        _ns: ns,
        client,
        dns,
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn dns_served_from_a_dns_namespace_to_a_container_namespace() {
    let upstream = Dnsmasq::start(&["--address=/fwd.example/192.0.2.7".to_owned()]);
    let topo = topology();

    let eps = [
        endpoint("e1", "blue", "contiv-net", "web", "web1", "10.253.7.11"),
        endpoint("e2", "blue", "contiv-net", "web", "web2", "10.253.7.12"),
        endpoint("e3", "red", "contiv-net", "", "redbox", "10.253.7.13"),
    ];
    let names = SharedNames::new(NameTables::from_records(&eps, [], []));
    // The forwarding socket lives in the host namespace (this thread's).
    let up_sock = tokio::net::UdpSocket::bind("127.0.0.1:0").await.unwrap();
    let fwd = Forwarder::new(vec![up_sock], ForwardConfig::new(vec![upstream.addr()]));
    let server = Arc::new(DnsServer::new(names, Some(fwd)));
    let udp = tokio::net::UdpSocket::from_std(udp_socket_in_netns(&topo.dns, dns_sock()).unwrap())
        .unwrap();
    let tcp =
        tokio::net::TcpListener::from_std(tcp_listener_in_netns(&topo.dns, dns_sock()).unwrap())
            .unwrap();
    let handle = server.spawn(DnsContext::new("blue", "contiv-net"), udp, Some(tcp));

    let dns_ip = IpAddr::V4(DNS_ADDR);
    let ns = Some(topo.client.as_str());
    // dig inside the container namespace, as a container would.
    let d = dig(ns, dns_ip, 53, &["web"]).await;
    assert_eq!(d.status, "NOERROR", "{}", d.raw);
    assert!(d.flag("aa"), "{}", d.raw);
    assert_eq!(d.a().len(), 2, "{}", d.raw);
    let d = dig(ns, dns_ip, 53, &["web1", "+tcp"]).await;
    assert_eq!(
        d.a(),
        vec!["10.253.7.11".parse::<std::net::Ipv4Addr>().unwrap()]
    );
    // Forwarded from the DNS namespace to the host's loopback resolver.
    let d = dig(ns, dns_ip, 53, &["fwd.example"]).await;
    assert_eq!(
        d.a(),
        vec!["192.0.2.7".parse::<std::net::Ipv4Addr>().unwrap()],
        "{}",
        d.raw
    );
    assert_eq!(upstream.queries_for("fwd.example"), 1, "{}", upstream.log());
    // Another tenant's container is not answered from the tables.
    let d = dig(ns, dns_ip, 53, &["redbox"]).await;
    assert!(d.answers.is_empty(), "{}", d.raw);
    assert_eq!(upstream.queries_for("redbox"), 1);

    // The Rust client, from a socket opened in the container namespace.
    let client_ns = contiv_bins::dns::netns::named_netns_path(&topo.client);
    let client = run_in_netns(&client_ns, || {
        let s = std::net::UdpSocket::bind("10.253.7.2:0")?;
        s.set_nonblocking(true)?;
        Ok::<_, std::io::Error>(s)
    })
    .unwrap()
    .unwrap();
    let client = tokio::net::UdpSocket::from_std(client).unwrap();
    let m = query_from(&client, dns_sock(), "WEB2.", RecordType::A).await;
    assert_eq!(
        a_records(&m),
        vec!["10.253.7.12".parse::<std::net::Ipv4Addr>().unwrap()]
    );

    handle.stop().await;
    // Stopped: the port in the DNS namespace is free again.
    let again = udp_socket_in_netns(&topo.dns, dns_sock());
    assert!(again.is_ok(), "socket closed on stop: {again:?}");
}
