//! Client behaviour against a scripted OVSDB server: answers to the
//! server's echo, responses matched by id whatever their order and
//! fragmentation, update routing per monitor, errors and disconnects.

// Test code: a failed unwrap is a test failure with its message.
#![allow(clippy::unwrap_used)]

use contiv_dp_ovs::ovsdb::framing::JsonSplitter;
use contiv_dp_ovs::ovsdb::{Client, ClientConfig, MonitorRequest, OvsdbError};
use serde_json::{Value as Json, json};
use std::collections::BTreeMap;
use std::time::Duration;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{UnixListener, UnixStream};

struct Server {
    s: UnixStream,
    split: JsonSplitter,
}

impl Server {
    async fn recv(&mut self) -> Json {
        loop {
            if let Some(m) = self.split.next_message().unwrap() {
                return serde_json::from_slice(&m).unwrap();
            }
            let mut b = [0u8; 4096];
            let n = tokio::time::timeout(Duration::from_secs(5), self.s.read(&mut b))
                .await
                .expect("client sent nothing")
                .unwrap();
            assert!(n > 0, "client closed");
            self.split.push(&b[..n]);
        }
    }

    /// Sends `j` a few bytes at a time.
    async fn send_fragmented(&mut self, j: &Json) {
        for c in j.to_string().as_bytes().chunks(3) {
            self.s.write_all(c).await.unwrap();
            self.s.flush().await.unwrap();
        }
    }
}

async fn pair() -> (Client, Server, tempfile::TempDir) {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("db.sock");
    let l = UnixListener::bind(&path).unwrap();
    let c = Client::connect_unix_with(
        &path,
        ClientConfig {
            request_timeout: Duration::from_secs(5),
        },
    )
    .await
    .unwrap();
    let (s, _) = l.accept().await.unwrap();
    (
        c,
        Server {
            s,
            split: JsonSplitter::new(),
        },
        dir,
    )
}

#[tokio::test]
async fn server_echo_is_answered_and_replies_match_by_id() {
    let (c, mut srv, _d) = pair().await;
    let (c1, c2) = (c.clone(), c.clone());
    let dbs = tokio::spawn(async move { c1.list_dbs().await });
    let r1 = srv.recv().await;
    let schema = tokio::spawn(async move { c2.get_schema("Open_vSwitch").await });
    let r2 = srv.recv().await;
    assert_eq!(r1["method"], "list_dbs");
    assert_eq!(r2["method"], "get_schema");
    assert_eq!(r2["params"], json!(["Open_vSwitch"]));
    assert_ne!(r1["id"], r2["id"]);

    // The server's keep-alive echo gets its params back under its id.
    srv.send_fragmented(&json!({"method": "echo", "params": ["hb", 1], "id": "echo"}))
        .await;
    let reply = srv.recv().await;
    assert_eq!(
        reply,
        json!({"id": "echo", "result": ["hb", 1], "error": null})
    );

    // Answer in reverse order, fragmented.
    srv.send_fragmented(
        &json!({"id": r2["id"], "result": {"name": "Open_vSwitch"}, "error": null}),
    )
    .await;
    srv.send_fragmented(
        &json!({"id": r1["id"], "result": ["Open_vSwitch", "_Server"], "error": null}),
    )
    .await;
    assert_eq!(
        dbs.await.unwrap().unwrap(),
        vec!["Open_vSwitch".to_owned(), "_Server".to_owned()]
    );
    assert_eq!(schema.await.unwrap().unwrap()["name"], "Open_vSwitch");
}

#[tokio::test]
async fn updates_reach_the_monitor_they_name() {
    let (c, mut srv, _d) = pair().await;
    let mut reqs = BTreeMap::new();
    reqs.insert("Bridge".to_owned(), MonitorRequest::columns(&["name"]));
    let (ca, cb) = (c.clone(), c.clone());
    let (ra, rb) = (reqs.clone(), reqs.clone());
    let ma = tokio::spawn(async move { ca.monitor("Open_vSwitch", &ra).await });
    let qa = srv.recv().await;
    let mb = tokio::spawn(async move { cb.monitor("Open_vSwitch", &rb).await });
    let qb = srv.recv().await;
    assert_eq!(qa["method"], "monitor");
    assert_eq!(
        qa["params"][2],
        json!({"Bridge": {"columns": ["name"], "select": {"initial": true, "insert": true, "delete": true, "modify": true}}})
    );
    let (ida, idb) = (qa["params"][1].clone(), qb["params"][1].clone());
    assert_ne!(ida, idb);
    let u1 = "00000000-0000-0000-0000-00000000000a";
    let u2 = "00000000-0000-0000-0000-00000000000b";
    srv.send_fragmented(&json!({"id": qa["id"], "result": {"Bridge": {u1: {"new": {"name": "br-a"}}}}, "error": null}))
        .await;
    srv.send_fragmented(&json!({"id": qb["id"], "result": {}, "error": null}))
        .await;
    let mut ma = ma.await.unwrap().unwrap();
    let mut mb = mb.await.unwrap().unwrap();
    assert_eq!(ma.initial["Bridge"].len(), 1);
    assert!(mb.initial.is_empty());
    // An update for a monitor nobody has is ignored; the others are routed.
    srv.send_fragmented(&json!({"method": "update", "params": ["nobody", {"Bridge": {u2: {"new": {"name": "x"}}}}], "id": null}))
        .await;
    srv.send_fragmented(&json!({"method": "update", "params": [idb, {"Bridge": {u2: {"new": {"name": "br-b"}}}}], "id": null}))
        .await;
    srv.send_fragmented(&json!({"method": "update", "params": [ida, {"Bridge": {u1: {"old": {"name": "br-a"}}}}], "id": null}))
        .await;
    let b = tokio::time::timeout(Duration::from_secs(5), mb.next())
        .await
        .unwrap()
        .unwrap();
    let row = b["Bridge"].values().next().unwrap();
    assert_eq!(row.new.as_ref().unwrap()["name"].as_str(), Some("br-b"));
    let a = tokio::time::timeout(Duration::from_secs(5), ma.next())
        .await
        .unwrap()
        .unwrap();
    let row = a["Bridge"].values().next().unwrap();
    assert!(row.new.is_none());
    assert!(
        tokio::time::timeout(Duration::from_millis(100), mb.next())
            .await
            .is_err(),
        "the update for another monitor id leaked"
    );
}

#[tokio::test]
async fn rpc_errors_and_disconnects_fail_the_request() {
    let (c, mut srv, _d) = pair().await;
    let c1 = c.clone();
    let t = tokio::spawn(async move { c1.transact("Open_vSwitch", vec![]).await });
    let q = srv.recv().await;
    assert_eq!(q["params"], json!(["Open_vSwitch"]));
    srv.send_fragmented(
        &json!({"id": q["id"], "result": null, "error": {"error": "unknown database"}}),
    )
    .await;
    match t.await.unwrap() {
        Err(OvsdbError::Rpc { method, error }) => {
            assert_eq!(method, "transact");
            assert_eq!(error["error"], "unknown database");
        }
        r => panic!("expected an RPC error, got {r:?}"),
    }
    let c2 = c.clone();
    let t = tokio::spawn(async move { c2.echo().await });
    let _ = srv.recv().await;
    drop(srv);
    match t.await.unwrap() {
        Err(OvsdbError::Closed(reason)) => assert!(reason.contains("server closed"), "{reason}"),
        r => panic!("expected Closed, got {r:?}"),
    }
    tokio::time::timeout(Duration::from_secs(5), c.closed())
        .await
        .unwrap();
    assert!(matches!(c.echo().await, Err(OvsdbError::Closed(_))));
}

#[tokio::test]
async fn garbage_from_the_server_closes_the_connection() {
    let (c, mut srv, _d) = pair().await;
    srv.s.write_all(b"{\"id\":1} nonsense").await.unwrap();
    tokio::time::timeout(Duration::from_secs(5), c.closed())
        .await
        .unwrap();
    assert!(matches!(c.list_dbs().await, Err(OvsdbError::Closed(_))));
}
