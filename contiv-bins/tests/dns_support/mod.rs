//! Shared fixtures for the DNS integration tests: a real upstream resolver
//! (dnsmasq), test network namespaces, `dig`, and a small DNS client built
//! on hickory-proto. Every process and namespace is removed on drop.

#![allow(dead_code, clippy::unwrap_used, clippy::expect_used)]

use contiv_core::datapath::MacAddr;
use contiv_core::records::EndpointRecord;
use hickory_proto::op::{Edns, Message, MessageType, OpCode, Query};
use hickory_proto::rr::{Name, RecordType};
use std::net::{IpAddr, Ipv4Addr, SocketAddr, TcpListener, UdpSocket};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::atomic::{AtomicU32, Ordering};
use std::time::Duration;
use tokio::io::{AsyncReadExt, AsyncWriteExt};

/// The path of a required tool; a missing tool fails the test.
pub fn require(tool: &str) -> PathBuf {
    for dir in ["/usr/sbin", "/usr/bin", "/sbin", "/bin", "/usr/local/bin"] {
        let p = Path::new(dir).join(tool);
        if p.exists() {
            return p;
        }
    }
    panic!("{tool} is required for this test; install it with scripts/deps.sh");
}

/// A loopback port free for both UDP and TCP right now.
pub fn free_port() -> u16 {
    for _ in 0..100 {
        let udp = UdpSocket::bind("127.0.0.1:0").unwrap();
        let port = udp.local_addr().unwrap().port();
        if TcpListener::bind(("127.0.0.1", port)).is_ok() {
            return port;
        }
    }
    panic!("no free loopback port");
}

/// An endpoint record for the tables.
pub fn endpoint(
    id: &str,
    tenant: &str,
    network: &str,
    group: &str,
    name: &str,
    ip: &str,
) -> EndpointRecord {
    let ipv4: Ipv4Addr = ip.parse().unwrap();
    EndpointRecord {
        id: id.to_owned(),
        tenant: tenant.to_owned(),
        network: network.to_owned(),
        group: group.to_owned(),
        epg_id: 0,
        ipv4: Some(ipv4),
        ipv4_prefix: 24,
        ipv6: None,
        ipv6_prefix: 0,
        mac: MacAddr::from_ipv4(ipv4),
        host: "host1".to_owned(),
        intf_name: String::new(),
        container_id: format!("cid-{id}"),
        container_name: name.to_owned(),
        labels: Default::default(),
        published: Vec::new(),
    }
}

/// A dnsmasq instance on a loopback port, acting as the host resolver.
pub struct Dnsmasq {
    child: Child,
    /// Its UDP/TCP port on 127.0.0.1.
    pub port: u16,
    dir: tempfile::TempDir,
}

impl Dnsmasq {
    /// Starts dnsmasq with these extra options (e.g. `--address=/x/1.2.3.4`)
    /// and waits until it answers.
    pub fn start(extra: &[String]) -> Self {
        let bin = require("dnsmasq");
        let dir = tempfile::tempdir().unwrap();
        let port = free_port();
        let mut cmd = Command::new(bin);
        cmd.args([
            "-k",
            "-C",
            "/dev/null",
            "--no-resolv",
            "--no-hosts",
            "--no-poll",
            "--bind-interfaces",
            "--listen-address=127.0.0.1",
            "--user=root",
            "--group=root",
            "--log-queries",
            "--address=/ready.probe/192.0.2.1",
        ])
        .arg(format!("--port={port}"))
        .arg(format!("--pid-file={}", dir.path().join("pid").display()))
        .arg(format!(
            "--log-facility={}",
            dir.path().join("log").display()
        ))
        .args(extra)
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::null());
        let child = cmd.spawn().expect("start dnsmasq");
        let mut me = Dnsmasq { child, port, dir };
        me.wait_ready();
        me
    }

    fn wait_ready(&mut self) {
        let sock = UdpSocket::bind("127.0.0.1:0").unwrap();
        sock.set_read_timeout(Some(Duration::from_millis(100)))
            .unwrap();
        let q = contiv_bins::dns::reply::build_query(7, "ready.probe.", RecordType::A).unwrap();
        let mut buf = [0u8; 512];
        for _ in 0..100 {
            if let Some(status) = self.child.try_wait().unwrap() {
                panic!(
                    "dnsmasq exited during start-up: {status}; log:\n{}",
                    self.log()
                );
            }
            sock.send_to(&q, self.addr()).unwrap();
            if sock.recv_from(&mut buf).is_ok() {
                return;
            }
        }
        panic!(
            "dnsmasq did not answer on port {}; log:\n{}",
            self.port,
            self.log()
        );
    }

    /// Its address.
    pub fn addr(&self) -> SocketAddr {
        SocketAddr::from(([127, 0, 0, 1], self.port))
    }

    /// Its query log so far.
    pub fn log(&self) -> String {
        std::fs::read_to_string(self.dir.path().join("log")).unwrap_or_default()
    }

    /// How many queries for `name` it has logged.
    pub fn queries_for(&self, name: &str) -> usize {
        let needle = format!(" {name} from ");
        self.log()
            .lines()
            .filter(|l| l.contains("query[") && l.contains(&needle))
            .count()
    }
}

impl Drop for Dnsmasq {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// Runs `ip` with these arguments; panics with its stderr on failure.
pub fn ip(args: &[&str]) {
    let out = Command::new(require("ip")).args(args).output().unwrap();
    assert!(
        out.status.success(),
        "ip {}: {}",
        args.join(" "),
        String::from_utf8_lossy(&out.stderr)
    );
}

static SEQ: AtomicU32 = AtomicU32::new(0);

/// A short name unique to this test process (for namespaces and links).
pub fn unique(prefix: &str) -> String {
    let n = SEQ.fetch_add(1, Ordering::Relaxed);
    format!("{prefix}{}{n}", std::process::id() % 100_000)
}

/// Network namespaces created by a test, deleted on drop (which also
/// removes the interfaces inside them).
#[derive(Default)]
pub struct Netns {
    names: Vec<String>,
}

impl Netns {
    /// Creates a namespace named `name` with its loopback up.
    pub fn add(&mut self, name: &str) -> PathBuf {
        ip(&["netns", "add", name]);
        self.names.push(name.to_owned());
        ip(&["-n", name, "link", "set", "lo", "up"]);
        contiv_bins::dns::netns::named_netns_path(name)
    }
}

impl Drop for Netns {
    fn drop(&mut self) {
        for n in self.names.iter().rev() {
            let _ = Command::new("ip").args(["netns", "del", n]).status();
        }
    }
}

/// A query message (with an EDNS option when `edns` is set).
pub fn query_bytes(id: u16, name: &str, rtype: RecordType, edns: bool) -> Vec<u8> {
    let mut msg = Message::new(id, MessageType::Query, OpCode::Query);
    msg.metadata.recursion_desired = true;
    msg.add_query(Query::query(Name::from_ascii(name).unwrap(), rtype));
    if edns {
        let mut e = Edns::new();
        e.set_max_payload(1232);
        msg.set_edns(e);
    }
    msg.to_vec().unwrap()
}

/// Asks `server` over UDP from `socket`, waits (bounded) for the answer with
/// the query's id.
pub async fn query_from(
    socket: &tokio::net::UdpSocket,
    server: SocketAddr,
    name: &str,
    rtype: RecordType,
) -> Message {
    let id = rand_id();
    socket
        .send_to(&query_bytes(id, name, rtype, false), server)
        .await
        .unwrap();
    let mut buf = vec![0u8; 65535];
    let wait = async {
        loop {
            let (n, _) = socket.recv_from(&mut buf).await.unwrap();
            let msg = Message::from_vec(&buf[..n]).unwrap();
            if msg.metadata.id == id {
                return msg;
            }
        }
    };
    tokio::time::timeout(Duration::from_secs(10), wait)
        .await
        .unwrap_or_else(|_| panic!("no answer from {server} for {name}"))
}

/// Asks `server` over UDP from a fresh loopback socket.
pub async fn query(server: SocketAddr, name: &str, rtype: RecordType) -> Message {
    let sock = tokio::net::UdpSocket::bind("127.0.0.1:0").await.unwrap();
    query_from(&sock, server, name, rtype).await
}

/// Asks `server` over TCP.
pub async fn query_tcp(server: SocketAddr, name: &str, rtype: RecordType) -> Message {
    let exchange = async {
        let mut s = tokio::net::TcpStream::connect(server).await.unwrap();
        let q = query_bytes(rand_id(), name, rtype, false);
        let mut out = (q.len() as u16).to_be_bytes().to_vec();
        out.extend_from_slice(&q);
        s.write_all(&out).await.unwrap();
        let len = s.read_u16().await.unwrap();
        let mut buf = vec![0u8; usize::from(len)];
        s.read_exact(&mut buf).await.unwrap();
        Message::from_vec(&buf).unwrap()
    };
    tokio::time::timeout(Duration::from_secs(10), exchange)
        .await
        .unwrap_or_else(|_| panic!("no TCP answer from {server} for {name}"))
}

fn rand_id() -> u16 {
    use std::hash::{BuildHasher, RandomState};
    (RandomState::new().hash_one(SEQ.fetch_add(1, Ordering::Relaxed)) & 0xffff) as u16
}

/// The IPv4 addresses in an answer, in order.
pub fn a_records(msg: &Message) -> Vec<Ipv4Addr> {
    msg.answers
        .iter()
        .filter_map(|r| match &r.data {
            hickory_proto::rr::RData::A(a) => Some(a.0),
            _ => None,
        })
        .collect()
}

/// What dig printed, parsed.
#[derive(Debug)]
pub struct Dig {
    /// `NOERROR`, `NXDOMAIN`, ….
    pub status: String,
    /// Header flags (`qr`, `aa`, `tc`, `rd`, `ra`).
    pub flags: Vec<String>,
    /// Answer records: (owner, ttl, type, data).
    pub answers: Vec<(String, u32, String, String)>,
    /// The whole output.
    pub raw: String,
}

impl Dig {
    /// The data of the A records.
    pub fn a(&self) -> Vec<Ipv4Addr> {
        self.answers
            .iter()
            .filter(|a| a.2 == "A")
            .map(|a| a.3.parse().unwrap())
            .collect()
    }
    /// Whether a header flag is set.
    pub fn flag(&self, f: &str) -> bool {
        self.flags.iter().any(|x| x == f)
    }
}

/// Runs `dig @server -p port ARGS +noall +comments +answer` (inside
/// network namespace `netns` if given) and parses the output.
pub async fn dig(netns: Option<&str>, server: IpAddr, port: u16, args: &[&str]) -> Dig {
    let dig = require("dig");
    let mut cmd = match netns {
        Some(ns) => {
            let mut c = tokio::process::Command::new(require("ip"));
            c.args(["netns", "exec", ns]).arg(&dig);
            c
        }
        None => tokio::process::Command::new(&dig),
    };
    cmd.arg(format!("@{server}"))
        .args(["-p", &port.to_string()])
        .args(args)
        .args(["+noall", "+comments", "+answer", "+time=3", "+tries=1"])
        .kill_on_drop(true);
    let out = cmd.output().await.unwrap();
    let raw = String::from_utf8_lossy(&out.stdout).into_owned();
    assert!(
        out.status.success(),
        "dig {args:?} failed: {raw}{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let mut status = String::new();
    let mut flags = Vec::new();
    let mut answers = Vec::new();
    for line in raw.lines() {
        if let Some(rest) = line.split("status: ").nth(1) {
            status = rest.split(',').next().unwrap_or_default().to_owned();
        } else if let Some(rest) = line.strip_prefix(";; flags: ") {
            flags = rest
                .split(';')
                .next()
                .unwrap_or_default()
                .split_whitespace()
                .map(str::to_owned)
                .collect();
        } else if !line.starts_with(';') && !line.trim().is_empty() {
            let mut w = line.split_whitespace();
            let owner = w.next().unwrap().to_owned();
            let ttl = w.next().unwrap().parse().unwrap();
            let _class = w.next();
            let rtype = w.next().unwrap().to_owned();
            let data = w.collect::<Vec<_>>().join(" ");
            answers.push((owner, ttl, rtype, data));
        }
    }
    assert!(!status.is_empty(), "dig printed no header: {raw}");
    Dig {
        status,
        flags,
        answers,
        raw,
    }
}
