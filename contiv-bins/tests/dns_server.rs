//! The built-in DNS server on real loopback sockets, queried with `dig` and
//! with a hickory-proto client, forwarding to a real upstream resolver
//! (dnsmasq, or a second instance of the server itself).

#![allow(clippy::unwrap_used, clippy::expect_used)] // test code: a failed step fails the test

mod dns_support;

use contiv_bins::dns::forward::{ForwardConfig, Forwarder};
use contiv_bins::dns::names::{GroupEntry, NameTables, ServiceEntry, SharedNames};
use contiv_bins::dns::server::{DnsContext, DnsServer, ServeHandle};
use dns_support::{Dig, Dnsmasq, a_records, dig, endpoint, query, query_from, query_tcp};
use hickory_proto::op::{Message, OpCode, Query, ResponseCode};
use hickory_proto::rr::rdata::A;
use hickory_proto::rr::{Name, RData, Record, RecordType};
use std::collections::HashSet;
use std::net::{Ipv4Addr, SocketAddr};
use std::sync::Arc;
use std::time::Duration;

/// Blue and red tenants with overlapping subnets; blue has two networks.
fn tables() -> NameTables {
    let eps = [
        endpoint("b-web1", "blue", "contiv-net", "web", "web1", "10.1.1.11"),
        endpoint("b-web2", "blue", "contiv-net", "web", "web2", "10.1.1.12"),
        endpoint("b-web3", "blue", "contiv-net", "web", "web3", "10.1.1.13"),
        endpoint("b-db", "blue", "contiv-net", "", "/db", "10.1.1.20"),
        endpoint("b-api", "blue", "backend", "api", "api1", "10.1.2.5"),
        endpoint("r-db", "red", "contiv-net", "", "db", "10.1.1.99"),
        endpoint("r-secret", "red", "contiv-net", "", "secret", "10.1.1.77"),
    ];
    let groups = [
        GroupEntry {
            tenant: "blue".into(),
            name: "web".into(),
            network: "contiv-net".into(),
        },
        GroupEntry {
            tenant: "blue".into(),
            name: "api".into(),
            network: "backend".into(),
        },
    ];
    let services = [ServiceEntry {
        tenant: "blue".into(),
        name: "lb".into(),
        network: Some("contiv-net".into()),
        vip: "10.1.1.200".parse().unwrap(),
    }];
    NameTables::from_records(&eps, groups, services)
}

fn big_txt_args() -> Vec<String> {
    let chunk = format!("\"{}\"", "a".repeat(250));
    vec![format!(
        "--txt-record=big.example,{}",
        vec![chunk; 6].join(",")
    )]
}

fn upstream() -> Dnsmasq {
    let mut args = vec![
        "--address=/fwd.example/192.0.2.7".to_owned(),
        "--address=/secret/192.0.2.99".to_owned(),
        "--local=/nx.example/".to_owned(),
    ];
    args.extend(big_txt_args());
    Dnsmasq::start(&args)
}

/// Serves `ctx` on a loopback port (UDP and TCP on the same port).
async fn serve(server: &Arc<DnsServer>, ctx: DnsContext) -> (SocketAddr, ServeHandle) {
    for _ in 0..50 {
        let udp = tokio::net::UdpSocket::bind("127.0.0.1:0").await.unwrap();
        let addr = udp.local_addr().unwrap();
        if let Ok(tcp) = tokio::net::TcpListener::bind(addr).await {
            return (addr, server.spawn(ctx, udp, Some(tcp)));
        }
    }
    panic!("no free loopback port for UDP and TCP");
}

async fn forwarder_to(upstreams: Vec<SocketAddr>, timeout: Duration, max: usize) -> Forwarder {
    let sock = tokio::net::UdpSocket::bind("127.0.0.1:0").await.unwrap();
    let mut cfg = ForwardConfig::new(upstreams);
    cfg.timeout = timeout;
    cfg.max_in_flight = max;
    Forwarder::new(vec![sock], cfg)
}

struct Fixture {
    server: Arc<DnsServer>,
    upstream: Dnsmasq,
    /// blue/contiv-net, blue/backend, red/contiv-net.
    blue: SocketAddr,
    blue_backend: SocketAddr,
    red: SocketAddr,
    handles: Vec<ServeHandle>,
}

impl Fixture {
    async fn start() -> Self {
        let upstream = upstream();
        let fwd = forwarder_to(vec![upstream.addr()], Duration::from_secs(2), 64).await;
        let server = Arc::new(DnsServer::new(SharedNames::new(tables()), Some(fwd)));
        let (blue, h1) = serve(&server, DnsContext::new("blue", "contiv-net")).await;
        let (blue_backend, h2) = serve(&server, DnsContext::new("blue", "backend")).await;
        let (red, h3) = serve(&server, DnsContext::new("red", "contiv-net")).await;
        Fixture {
            server,
            upstream,
            blue,
            blue_backend,
            red,
            handles: vec![h1, h2, h3],
        }
    }

    async fn stop(self) {
        for h in self.handles {
            h.stop().await;
        }
    }
}

async fn dig_at(addr: SocketAddr, args: &[&str]) -> Dig {
    dig(None, addr.ip(), addr.port(), args).await
}

fn ips(list: &[&str]) -> Vec<Ipv4Addr> {
    list.iter().map(|s| s.parse().unwrap()).collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn dns_dig_resolves_containers_groups_and_services_with_ttl_aa_ra() {
    let f = Fixture::start().await;
    let d = dig_at(f.blue, &["db"]).await;
    assert_eq!(d.status, "NOERROR", "{}", d.raw);
    assert!(d.flag("aa") && d.flag("ra") && d.flag("qr"), "{}", d.raw);
    assert_eq!(d.a(), ips(&["10.1.1.20"]));
    assert_eq!(d.answers[0].0, "db.");
    assert_eq!(d.answers[0].1, 120, "TTL");

    let d = dig_at(f.blue, &["lb", "A"]).await;
    assert_eq!(d.a(), ips(&["10.1.1.200"]));
    let d = dig_at(f.blue, &["web"]).await;
    let got: HashSet<_> = d.a().into_iter().collect();
    assert_eq!(
        got,
        ips(&["10.1.1.11", "10.1.1.12", "10.1.1.13"])
            .into_iter()
            .collect()
    );
    // Upper case and trailing dot.
    let d = dig_at(f.blue, &["WEB1."]).await;
    assert_eq!(d.a(), ips(&["10.1.1.11"]));
    // `<epg>.<network>` from another network of the tenant, both ways.
    let d = dig_at(f.blue_backend, &["web.contiv-net"]).await;
    assert_eq!(d.a().len(), 3, "{}", d.raw);
    let d = dig_at(f.blue, &["api.backend"]).await;
    assert_eq!(d.a(), ips(&["10.1.2.5"]));
    // A service has no IPv6 address: known name, no records, not forwarded.
    let d = dig_at(f.blue, &["lb", "AAAA"]).await;
    assert_eq!(d.status, "NOERROR");
    assert!(d.flag("aa"));
    assert!(d.answers.is_empty());
    assert_eq!(f.upstream.queries_for("lb"), 0, "{}", f.upstream.log());
    f.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn dns_group_answers_rotate_across_queries() {
    let f = Fixture::start().await;
    let mut firsts = HashSet::new();
    for _ in 0..3 {
        let d = dig_at(f.blue, &["web"]).await;
        assert_eq!(d.a().len(), 3);
        firsts.insert(d.a()[0]);
    }
    assert_eq!(
        firsts.len(),
        3,
        "each of three queries starts with another member"
    );
    // The Rust client sees the same rotation.
    let a = a_records(&query(f.blue, "web.", RecordType::A).await);
    let b = a_records(&query(f.blue, "web.", RecordType::A).await);
    assert_eq!(b[0], a[1]);
    f.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn dns_tenants_are_isolated_by_the_socket_queried() {
    let f = Fixture::start().await;
    // Same name, overlapping subnets: each tenant gets its own container.
    assert_eq!(dig_at(f.blue, &["db"]).await.a(), ips(&["10.1.1.20"]));
    assert_eq!(dig_at(f.red, &["db"]).await.a(), ips(&["10.1.1.99"]));
    // red's `secret` is not answered from the tables for blue: blue's query
    // goes to the upstream, which has its own (different) answer.
    let before = f.upstream.queries_for("secret");
    let d = dig_at(f.blue, &["secret"]).await;
    assert_eq!(d.a(), ips(&["192.0.2.99"]), "{}", d.raw);
    assert_eq!(
        f.upstream.queries_for("secret"),
        before + 1,
        "{}",
        f.upstream.log()
    );
    // red resolves it locally, without asking the upstream.
    let m = query(f.red, "secret.", RecordType::A).await;
    assert_eq!(a_records(&m), ips(&["10.1.1.77"]));
    assert!(m.metadata.authoritative);
    assert_eq!(f.upstream.queries_for("secret"), before + 1);
    // Not through the network-qualified form either.
    let d = dig_at(f.blue, &["secret.contiv-net"]).await;
    assert!(!d.a().contains(&"10.1.1.77".parse().unwrap()), "{}", d.raw);
    f.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn dns_unknown_names_are_forwarded_to_the_upstream() {
    let f = Fixture::start().await;
    let d = dig_at(f.blue, &["fwd.example"]).await;
    assert_eq!(d.status, "NOERROR", "{}", d.raw);
    assert_eq!(d.a(), ips(&["192.0.2.7"]));
    assert_eq!(
        f.upstream.queries_for("fwd.example"),
        1,
        "{}",
        f.upstream.log()
    );
    let m = query(f.red, "FWD.example.", RecordType::A).await;
    assert_eq!(a_records(&m), ips(&["192.0.2.7"]));
    assert_eq!(
        m.queries[0].name().to_ascii(),
        "FWD.example.",
        "question echoed as asked"
    );
    // NXDOMAIN comes from the upstream, relayed.
    let d = dig_at(f.blue, &["nothing.nx.example"]).await;
    assert_eq!(d.status, "NXDOMAIN", "{}", d.raw);
    assert_eq!(f.upstream.queries_for("nothing.nx.example"), 1);
    f.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn dns_tcp_queries_and_truncated_upstream_answers() {
    let f = Fixture::start().await;
    let d = dig_at(f.blue, &["db", "+tcp"]).await;
    assert_eq!(d.a(), ips(&["10.1.1.20"]));
    let m = query_tcp(f.blue, "web.", RecordType::A).await;
    assert_eq!(a_records(&m).len(), 3);
    let m = query_tcp(f.red, "fwd.example.", RecordType::A).await;
    assert_eq!(a_records(&m), ips(&["192.0.2.7"]));
    // ~1.5 kB of TXT: over UDP the client is told to retry (TC)…
    let d = dig_at(f.blue, &["big.example", "TXT", "+ignore"]).await;
    assert!(d.flag("tc"), "{}", d.raw);
    assert!(d.answers.is_empty());
    // …and over TCP it gets it all (refetched from the upstream over TCP).
    let d = dig_at(f.blue, &["big.example", "TXT", "+tcp"]).await;
    assert!(!d.flag("tc"), "{}", d.raw);
    assert_eq!(d.answers.len(), 1);
    assert!(d.answers[0].3.len() > 1400, "{}", d.raw);
    f.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn dns_forwards_to_a_second_instance_of_itself() {
    // The "host resolver" is another DnsServer with its own tables and no
    // forwarder.
    let far = NameTables::from_records(
        [&endpoint("far1", "up", "n", "", "far", "10.9.9.9")],
        [],
        [],
    );
    let upstream_server = Arc::new(DnsServer::new(SharedNames::new(far), None));
    let (up_addr, up_handle) = serve(&upstream_server, DnsContext::new("up", "n")).await;
    let fwd = forwarder_to(vec![up_addr], Duration::from_secs(2), 16).await;
    let server = Arc::new(DnsServer::new(SharedNames::new(tables()), Some(fwd)));
    let (addr, handle) = serve(&server, DnsContext::new("blue", "contiv-net")).await;

    let d = dig_at(addr, &["far"]).await;
    assert_eq!(d.a(), ips(&["10.9.9.9"]), "{}", d.raw);
    // The upstream is authoritative for it; we relay its flags.
    assert!(d.flag("aa"));
    // Unknown upstream too: its NXDOMAIN is relayed.
    let m = query(addr, "nowhere.", RecordType::A).await;
    assert_eq!(m.metadata.response_code, ResponseCode::NXDomain);
    // Local names still come from the local tables.
    assert_eq!(dig_at(addr, &["db"]).await.a(), ips(&["10.1.1.20"]));
    handle.stop().await;
    up_handle.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn dns_failed_forwarding_is_servfail_and_no_forwarder_is_nxdomain() {
    // A socket that receives and never answers.
    let silent = tokio::net::UdpSocket::bind("127.0.0.1:0").await.unwrap();
    let fwd = forwarder_to(
        vec![silent.local_addr().unwrap()],
        Duration::from_millis(300),
        16,
    )
    .await;
    let server = Arc::new(DnsServer::new(SharedNames::new(tables()), Some(fwd)));
    let (addr, handle) = serve(&server, DnsContext::new("blue", "contiv-net")).await;
    let m = query(addr, "fwd.example.", RecordType::A).await;
    assert_eq!(m.metadata.response_code, ResponseCode::ServFail);
    // Local names do not depend on the upstream.
    assert_eq!(
        a_records(&query(addr, "db.", RecordType::A).await),
        ips(&["10.1.1.20"])
    );
    handle.stop().await;

    let server = Arc::new(DnsServer::new(SharedNames::new(tables()), None));
    let (addr, handle) = serve(&server, DnsContext::new("blue", "contiv-net")).await;
    let d = dig_at(addr, &["fwd.example"]).await;
    assert_eq!(d.status, "NXDOMAIN");
    assert!(
        !d.flag("aa"),
        "not authoritative for names it does not know"
    );
    handle.stop().await;
    drop(silent);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn dns_in_flight_forwards_are_bounded() {
    let silent = tokio::net::UdpSocket::bind("127.0.0.1:0").await.unwrap();
    let fwd = forwarder_to(
        vec![silent.local_addr().unwrap()],
        Duration::from_secs(2),
        1,
    )
    .await;
    let server = Arc::new(DnsServer::new(SharedNames::new(tables()), Some(fwd)));
    let (addr, handle) = serve(&server, DnsContext::new("blue", "contiv-net")).await;
    let client = tokio::net::UdpSocket::bind("127.0.0.1:0").await.unwrap();
    // The first forward holds the only slot until it times out.
    client
        .send_to(
            &dns_support::query_bytes(1, "first.example.", RecordType::A, false),
            addr,
        )
        .await
        .unwrap();
    // Make sure the first one reached the upstream (holds the slot).
    let mut buf = [0u8; 512];
    let (n, _) = tokio::time::timeout(Duration::from_secs(5), silent.recv_from(&mut buf))
        .await
        .expect("first query forwarded")
        .unwrap();
    assert!(n > 12);
    // The second is refused at once: its SERVFAIL arrives before the
    // first one's.
    let second = query_from(&client, addr, "second.example.", RecordType::A).await;
    assert_eq!(second.metadata.response_code, ResponseCode::ServFail);
    let mut buf = vec![0u8; 512];
    let (n, _) = tokio::time::timeout(Duration::from_secs(10), client.recv_from(&mut buf))
        .await
        .unwrap()
        .unwrap();
    let first = Message::from_vec(&buf[..n]).unwrap();
    assert_eq!(first.metadata.id, 1);
    assert_eq!(first.metadata.response_code, ResponseCode::ServFail);
    handle.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn dns_garbage_does_not_stop_the_server() {
    let f = Fixture::start().await;
    let junk = tokio::net::UdpSocket::bind("127.0.0.1:0").await.unwrap();
    let mut response = dns_support::query_bytes(9, "db.", RecordType::A, false);
    response[2] |= 0x80;
    for pkt in [vec![], vec![0u8; 3], vec![0xff; 600], response] {
        junk.send_to(&pkt, f.blue).await.unwrap();
    }
    // None of them is answered…
    let mut buf = [0u8; 512];
    assert!(
        tokio::time::timeout(Duration::from_millis(300), junk.recv_from(&mut buf))
            .await
            .is_err(),
        "garbage and responses get no reply"
    );
    // …and TCP garbage only closes that connection.
    let mut tcp = tokio::net::TcpStream::connect(f.blue).await.unwrap();
    tokio::io::AsyncWriteExt::write_all(&mut tcp, &[0, 4, 1, 2, 3, 4])
        .await
        .unwrap();
    let mut rest = Vec::new();
    let n = tokio::time::timeout(
        Duration::from_secs(5),
        tokio::io::AsyncReadExt::read_to_end(&mut tcp, &mut rest),
    )
    .await
    .unwrap()
    .unwrap();
    assert_eq!(n, 0, "closed without an answer");
    // The server still answers.
    assert_eq!(dig_at(f.blue, &["db"]).await.a(), ips(&["10.1.1.20"]));
    assert_eq!(
        a_records(&query_tcp(f.blue, "db.", RecordType::A).await),
        ips(&["10.1.1.20"])
    );
    f.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn dns_table_updates_are_answered_live() {
    let f = Fixture::start().await;
    let before = f.upstream.queries_for("newbie");
    f.server.names().write().put_endpoint(&endpoint(
        "b-new",
        "blue",
        "contiv-net",
        "web",
        "newbie",
        "10.1.1.42",
    ));
    assert_eq!(dig_at(f.blue, &["newbie"]).await.a(), ips(&["10.1.1.42"]));
    assert_eq!(dig_at(f.blue, &["web"]).await.a().len(), 4);
    f.server.names().write().delete_endpoint("b-new");
    let d = dig_at(f.blue, &["newbie"]).await;
    assert!(d.answers.is_empty(), "{}", d.raw);
    // Now unknown locally, so it was forwarded (dnsmasq refuses it).
    assert_eq!(d.status, "REFUSED");
    assert_eq!(f.upstream.queries_for("newbie"), before + 1);
    f.stop().await;
}

/// A scripted upstream on loopback: for each query it receives, sends the
/// packets `script` returns, each from its own socket (`false`) or from a
/// second, foreign socket (`true`).
async fn scripted_upstream(
    script: impl Fn(&Message) -> Vec<(bool, Message)> + Send + 'static,
) -> (SocketAddr, tokio::task::JoinHandle<()>) {
    let sock = tokio::net::UdpSocket::bind("127.0.0.1:0").await.unwrap();
    let foreign = tokio::net::UdpSocket::bind("127.0.0.1:0").await.unwrap();
    let addr = sock.local_addr().unwrap();
    let task = tokio::spawn(async move {
        let mut buf = vec![0u8; 2048];
        loop {
            let (n, peer) = sock.recv_from(&mut buf).await.unwrap();
            let Ok(q) = Message::from_vec(&buf[..n]) else {
                continue;
            };
            for (from_foreign, msg) in script(&q) {
                let s = if from_foreign { &foreign } else { &sock };
                s.send_to(&msg.to_vec().unwrap(), peer).await.unwrap();
            }
        }
    });
    (addr, task)
}

/// A response to `q` with this id, question name and A record.
fn answer(q: &Message, id: u16, name: &str, ip: &str) -> Message {
    let mut m = Message::response(id, OpCode::Query);
    let qname = Name::from_ascii(name).unwrap();
    m.add_query(Query::query(qname.clone(), q.queries[0].query_type()));
    m.add_answer(Record::from_rdata(
        qname,
        60,
        RData::A(A(ip.parse().unwrap())),
    ));
    m
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn dns_forwarder_ignores_spoofed_answers() {
    let (up, task) = scripted_upstream(|q| {
        let id = q.metadata.id;
        let name = q.queries[0].name().to_ascii();
        vec![
            (false, answer(q, id.wrapping_add(1), &name, "192.0.2.66")), // wrong id
            (false, answer(q, id, "other.example.", "192.0.2.67")),      // wrong question
            (true, answer(q, id, &name, "192.0.2.68")),                  // wrong source
            (false, answer(q, id, &name, "192.0.2.10")),                 // the real one
        ]
    })
    .await;
    let fwd = forwarder_to(vec![up], Duration::from_secs(2), 16).await;
    let server = Arc::new(DnsServer::new(SharedNames::new(tables()), Some(fwd)));
    let (addr, handle) = serve(&server, DnsContext::new("blue", "contiv-net")).await;
    for _ in 0..3 {
        let m = query(addr, "spoof.example.", RecordType::A).await;
        assert_eq!(a_records(&m), ips(&["192.0.2.10"]));
    }
    handle.stop().await;
    task.abort();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn dns_failing_upstreams_are_skipped_in_order() {
    // First upstream: SERVFAIL for everything. Second: silent. Third: dnsmasq.
    let (failing, task) = scripted_upstream(|q| {
        let mut m = Message::response(q.metadata.id, OpCode::Query);
        m.add_queries(q.queries.clone());
        m.metadata.response_code = ResponseCode::ServFail;
        vec![(false, m)]
    })
    .await;
    let silent = tokio::net::UdpSocket::bind("127.0.0.1:0").await.unwrap();
    let dnsmasq = upstream();
    let upstreams = vec![failing, silent.local_addr().unwrap(), dnsmasq.addr()];
    let fwd = forwarder_to(upstreams, Duration::from_millis(300), 16).await;
    let server = Arc::new(DnsServer::new(SharedNames::new(tables()), Some(fwd)));
    let (addr, handle) = serve(&server, DnsContext::new("blue", "contiv-net")).await;
    let m = query(addr, "fwd.example.", RecordType::A).await;
    assert_eq!(m.metadata.response_code, ResponseCode::NoError);
    assert_eq!(a_records(&m), ips(&["192.0.2.7"]));
    // Only failing upstreams: the last failure is relayed.
    let fwd = forwarder_to(vec![failing], Duration::from_millis(300), 16).await;
    let server = Arc::new(DnsServer::new(SharedNames::new(tables()), Some(fwd)));
    let (addr2, handle2) = serve(&server, DnsContext::new("blue", "contiv-net")).await;
    let m = query(addr2, "fwd.example.", RecordType::A).await;
    assert_eq!(m.metadata.response_code, ResponseCode::ServFail);
    handle.stop().await;
    handle2.stop().await;
    task.abort();
}
