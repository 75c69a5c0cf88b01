//! Connection behaviour against a scripted switch (our own codec on the
//! other end of a unix socket), for the cases a real OVS cannot be made to
//! produce on demand: out-of-order replies, split multipart replies, a
//! silent peer, refused versions, undecodable replies.

// Test code: a failed unwrap is a test failure with its message.
#![allow(clippy::unwrap_used)]

use contiv_dp_ovs::openflow::conn::{AsyncMessage, ConnConfig, ConnError, Connection, Events};
use contiv_dp_ovs::openflow::wire::*;
use std::time::Duration;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{UnixListener, UnixStream};

struct Fake {
    s: UnixStream,
    buf: Vec<u8>,
}

impl Fake {
    async fn recv_raw(&mut self) -> Option<Vec<u8>> {
        loop {
            if self.buf.len() >= 8 {
                let len = usize::from(u16::from_be_bytes([self.buf[2], self.buf[3]]));
                if self.buf.len() >= len {
                    let rest = self.buf.split_off(len);
                    return Some(std::mem::replace(&mut self.buf, rest));
                }
            }
            let mut chunk = [0u8; 65536];
            let n = self.s.read(&mut chunk).await.ok()?;
            if n == 0 {
                return None;
            }
            self.buf.extend_from_slice(&chunk[..n]);
        }
    }

    async fn recv(&mut self) -> (u32, Message) {
        let raw = tokio::time::timeout(Duration::from_secs(5), self.recv_raw())
            .await
            .expect("client sent nothing")
            .expect("client closed");
        let (xid, m, _) = decode(&raw).unwrap();
        (xid, m)
    }

    async fn send(&mut self, xid: u32, m: &Message) {
        let mut b = Vec::new();
        encode(m, xid, &mut b).unwrap();
        self.s.write_all(&b).await.unwrap();
    }

    async fn send_raw(&mut self, b: &[u8]) {
        self.s.write_all(b).await.unwrap();
    }
}

struct Pair {
    conn: Connection,
    events: Events,
    fake: Fake,
    _dir: tempfile::TempDir,
}

async fn pair(cfg: ConnConfig) -> Pair {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("sw.sock");
    let l = UnixListener::bind(&path).unwrap();
    let client = tokio::spawn(async move { Connection::connect_unix_with(path, cfg).await });
    let (s, _) = l.accept().await.unwrap();
    let mut fake = Fake { s, buf: Vec::new() };
    fake.send(1, &Message::Hello(Hello::v13())).await;
    let (_, hello) = fake.recv().await;
    let Message::Hello(h) = hello else {
        panic!("client did not start with hello: {hello:?}")
    };
    assert!(h.supports(OFP_VERSION) && !h.supports(1));
    let (xid, m) = fake.recv().await;
    assert_eq!(m, Message::FeaturesRequest);
    fake.send(
        xid,
        &Message::FeaturesReply(FeaturesReply {
            datapath_id: 0x42,
            n_tables: 254,
            ..FeaturesReply::default()
        }),
    )
    .await;
    let (conn, events) = client.await.unwrap().unwrap();
    Pair {
        conn,
        events,
        fake,
        _dir: dir,
    }
}

fn flow_stats(cookies: &[u64]) -> Vec<FlowStats> {
    cookies
        .iter()
        .map(|c| FlowStats {
            table_id: 0,
            duration_sec: 1,
            duration_nsec: 0,
            priority: 10,
            idle_timeout: 0,
            hard_timeout: 0,
            flags: 0,
            cookie: *c,
            packet_count: 0,
            byte_count: 0,
            r#match: Match::new().in_port_is(*c as u32),
            instructions: vec![Instruction::GotoTable(1)],
        })
        .collect()
}

#[tokio::test]
async fn handshake_features_and_switch_echo_requests() {
    let mut p = pair(ConnConfig::default()).await;
    assert_eq!(p.conn.datapath_id(), 0x42);
    assert_eq!(p.conn.features().n_tables, 254);
    p.fake
        .send(99, &Message::EchoRequest(b"ping".to_vec()))
        .await;
    let (xid, m) = p.fake.recv().await;
    assert_eq!((xid, m), (99, Message::EchoReply(b"ping".to_vec())));
}

#[tokio::test]
async fn multipart_replies_split_with_more_are_merged_in_order() {
    let mut p = pair(ConnConfig::default()).await;
    let c = p.conn.clone();
    let req = tokio::spawn(async move { c.flow_stats(FlowStatsRequest::all()).await });
    let (xid, m) = p.fake.recv().await;
    assert!(matches!(
        m,
        Message::MultipartRequest(MultipartRequest {
            body: MultipartRequestBody::Flow(_),
            ..
        })
    ));
    for (cookies, flags) in [(&[1u64, 2][..], 1u16), (&[3], 1), (&[4, 5, 6], 0)] {
        p.fake
            .send(
                xid,
                &Message::MultipartReply(MultipartReply {
                    flags,
                    body: MultipartReplyBody::Flow(flow_stats(cookies)),
                }),
            )
            .await;
    }
    let got = req.await.unwrap().unwrap();
    assert_eq!(got, flow_stats(&[1, 2, 3, 4, 5, 6]));
}

#[tokio::test]
async fn replies_are_matched_by_xid_not_by_arrival_order() {
    let mut p = pair(ConnConfig::default()).await;
    let (c1, c2) = (p.conn.clone(), p.conn.clone());
    let a = tokio::spawn(async move { c1.echo(b"a".to_vec()).await });
    let (xa, _) = p.fake.recv().await;
    let b = tokio::spawn(async move { c2.echo(b"b".to_vec()).await });
    let (xb, _) = p.fake.recv().await;
    assert_ne!(xa, xb);
    // Answer b first, and swap the payloads so a mix-up would show.
    p.fake
        .send(xb, &Message::EchoReply(b"for-b".to_vec()))
        .await;
    p.fake
        .send(xa, &Message::EchoReply(b"for-a".to_vec()))
        .await;
    assert_eq!(a.await.unwrap().unwrap(), b"for-a");
    assert_eq!(b.await.unwrap().unwrap(), b"for-b");
}

#[tokio::test]
async fn an_error_fails_only_the_request_it_names() {
    let mut p = pair(ConnConfig::default()).await;
    let (c1, c2) = (p.conn.clone(), p.conn.clone());
    let echo = tokio::spawn(async move { c1.echo(b"x".to_vec()).await });
    let (xe, raw_echo) = p.fake.recv().await;
    let barrier = tokio::spawn(async move { c2.barrier().await });
    let (xb, _) = p.fake.recv().await;
    let mut data = Vec::new();
    encode(&raw_echo, xe, &mut data).unwrap();
    p.fake
        .send(
            xe,
            &Message::Error(ErrorMsg::new(error_type::BAD_REQUEST, 5, data)),
        )
        .await;
    p.fake.send(xb, &Message::BarrierReply).await;
    match echo.await.unwrap() {
        Err(ConnError::Switch { what, error }) => {
            assert_eq!(what, "echo");
            assert_eq!(error.name(), Some("OFPBRC_EPERM"));
            assert_eq!(error.failed_xid(), Some(xe));
        }
        r => panic!("expected a switch error, got {r:?}"),
    }
    barrier.await.unwrap().unwrap();
}

#[tokio::test]
async fn unsolicited_messages_arrive_on_the_event_stream_in_order() {
    let mut p = pair(ConnConfig::default()).await;
    let pin = PacketIn {
        buffer_id: NO_BUFFER,
        total_len: 4,
        reason: packet_in_reason::NO_MATCH,
        table_id: 3,
        cookie: 9,
        r#match: Match::new().in_port_is(5).reg(0, 7),
        data: vec![1, 2, 3, 4],
    };
    let removed = FlowRemoved {
        cookie: 1,
        priority: 2,
        reason: 0,
        table_id: 1,
        duration_sec: 3,
        duration_nsec: 4,
        idle_timeout: 5,
        hard_timeout: 6,
        packet_count: 7,
        byte_count: 8,
        r#match: Match::new().eth_type(0x0800),
    };
    let err = ErrorMsg::new(error_type::FLOW_MOD_FAILED, 1, vec![]);
    let exp = Message::Experimenter {
        experimenter: NX_EXPERIMENTER,
        exp_type: 99,
        data: vec![0; 8],
    };
    p.fake.send(0, &Message::PacketIn(pin.clone())).await;
    p.fake.send(0, &Message::FlowRemoved(removed.clone())).await;
    p.fake.send(12345, &Message::Error(err.clone())).await;
    p.fake.send(7, &exp).await;
    // A reply nobody asked for.
    p.fake.send(4242, &Message::BarrierReply).await;
    let mut got = Vec::new();
    for _ in 0..5 {
        got.push(
            tokio::time::timeout(Duration::from_secs(5), p.events.recv())
                .await
                .unwrap()
                .unwrap(),
        );
    }
    assert_eq!(
        got,
        vec![
            AsyncMessage::PacketIn { xid: 0, msg: pin },
            AsyncMessage::FlowRemoved(removed),
            AsyncMessage::Error {
                xid: 12345,
                error: err
            },
            AsyncMessage::Other { xid: 7, msg: exp },
            AsyncMessage::Other {
                xid: 4242,
                msg: Message::BarrierReply
            },
        ]
    );
}

#[tokio::test]
async fn a_silent_peer_is_detected_by_echo_keepalive() {
    let cfg = ConnConfig {
        echo_interval: Duration::from_millis(100),
        echo_timeout: Duration::from_millis(300),
        ..ConnConfig::default()
    };
    let mut p = pair(cfg).await;
    // The fake reads but never answers.
    let (xid, m) = p.fake.recv().await;
    assert_eq!(m, Message::EchoRequest(b"keepalive".to_vec()));
    assert_ne!(xid, 0);
    tokio::time::timeout(Duration::from_secs(5), p.conn.closed())
        .await
        .expect("connection not closed by keepalive");
    assert!(
        p.conn.close_reason().unwrap().contains("echo"),
        "{:?}",
        p.conn.close_reason()
    );
    assert!(matches!(p.conn.barrier().await, Err(ConnError::Closed(_))));
    assert_eq!(
        tokio::time::timeout(Duration::from_secs(5), p.events.recv())
            .await
            .unwrap(),
        None
    );
}

#[tokio::test]
async fn a_disconnect_fails_pending_requests() {
    let mut p = pair(ConnConfig::default()).await;
    let c = p.conn.clone();
    let pending = tokio::spawn(async move { c.barrier().await });
    let _ = p.fake.recv().await;
    drop(p.fake);
    match pending.await.unwrap() {
        Err(ConnError::Closed(reason)) => assert!(reason.contains("peer closed"), "{reason}"),
        r => panic!("expected Closed, got {r:?}"),
    }
    assert!(p.conn.is_closed());
}

#[tokio::test]
async fn an_undecodable_reply_fails_its_request_and_the_connection_survives() {
    let mut p = pair(ConnConfig::default()).await;
    let c = p.conn.clone();
    let req = tokio::spawn(async move { c.flow_stats(FlowStatsRequest::all()).await });
    let (xid, _) = p.fake.recv().await;
    // A flow-stats reply whose single entry claims 200 bytes but has 48.
    let mut raw = vec![4, 19, 0, 0];
    raw.extend_from_slice(&xid.to_be_bytes());
    raw.extend_from_slice(&[0, 1, 0, 0, 0, 0, 0, 0]);
    let mut entry = vec![0u8; 48];
    entry[0..2].copy_from_slice(&200u16.to_be_bytes());
    raw.extend_from_slice(&entry);
    let len = raw.len() as u16;
    raw[2..4].copy_from_slice(&len.to_be_bytes());
    p.fake.send_raw(&raw).await;
    assert!(matches!(req.await.unwrap(), Err(ConnError::Codec(_))));
    let c = p.conn.clone();
    let b = tokio::spawn(async move { c.barrier().await });
    let (xb, m) = p.fake.recv().await;
    assert_eq!(m, Message::BarrierRequest);
    p.fake.send(xb, &Message::BarrierReply).await;
    b.await.unwrap().unwrap();
}

#[tokio::test]
async fn a_peer_without_openflow_13_is_refused_with_hello_failed() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("sw.sock");
    let l = UnixListener::bind(&path).unwrap();
    let client =
        tokio::spawn(
            async move { Connection::connect_unix_with(path, ConnConfig::default()).await },
        );
    let (s, _) = l.accept().await.unwrap();
    let mut fake = Fake { s, buf: Vec::new() };
    fake.send(
        1,
        &Message::Hello(Hello {
            version: 1,
            bitmaps: vec![1 << 1],
        }),
    )
    .await;
    match client.await.unwrap() {
        Err(ConnError::Handshake(msg)) => assert!(msg.contains("OpenFlow 1.3"), "{msg}"),
        r => panic!("expected a handshake error, got {r:?}"),
    }
    let (_, hello) = fake.recv().await;
    assert!(matches!(hello, Message::Hello(_)));
    let (_, err) = fake.recv().await;
    match err {
        Message::Error(e) => assert_eq!(e.name(), Some("OFPHFC_INCOMPATIBLE")),
        m => panic!("expected HELLO_FAILED, got {m:?}"),
    }
}

#[tokio::test]
async fn send_all_pipelines_with_consecutive_xids() {
    let mut p = pair(ConnConfig::default()).await;
    let msgs: Vec<Message> = (0..500u32)
        .map(|i| Message::FlowMod(FlowMod::add(0, i as u16).goto(1)))
        .collect();
    let first = p.conn.send_all(&msgs).await.unwrap();
    for (i, want) in msgs.iter().enumerate() {
        let (xid, m) = p.fake.recv().await;
        assert_eq!(xid, first + i as u32);
        assert_eq!(&m, want);
    }
}
