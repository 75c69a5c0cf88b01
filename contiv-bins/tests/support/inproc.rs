//! A real netmaster server inside the test process
//! (`contiv_bins::netmaster::start`), on its own tokio runtime, serving
//! HTTP on a free loopback port. Tests talk to it over HTTP like any
//! client and may look at its store directly to check what was persisted.

use super::client::{Client, Resp};
use super::stores::{Backend, StoreSpot};
use clap::Parser;
use contiv_bins::netmaster::{Netmaster, NetmasterConfig, Running, start};
use contiv_core::store::StateStore;
use serde_json::Value;
use std::sync::Arc;
use std::time::Duration;

#[derive(Parser)]
#[command(args_override_self = true)]
struct Cli {
    #[command(flatten)]
    cfg: NetmasterConfig,
}

/// A netmaster config from command-line style arguments.
pub fn config(args: &[&str]) -> NetmasterConfig {
    let mut all = vec!["netmaster"];
    all.extend_from_slice(args);
    Cli::try_parse_from(all)
        .unwrap_or_else(|e| panic!("bad test config {args:?}: {e}"))
        .cfg
}

/// One in-process netmaster and its store.
pub struct TestNetmaster {
    /// A client of its HTTP API.
    pub client: Client,
    /// The service itself.
    pub nm: Arc<Netmaster>,
    /// Its store.
    pub store: Arc<dyn StateStore>,
    /// The key root.
    pub root: String,
    /// The store URL.
    pub store_url: String,
    running: Option<Running>,
    rt: Option<tokio::runtime::Runtime>,
    // Dropped last: the temp dir and the etcd handle.
    spot: Option<StoreSpot>,
}

impl TestNetmaster {
    /// Starts one on `backend` with default settings (`--mode test`).
    pub fn start(backend: Backend) -> Self {
        Self::start_with(backend, &[])
    }

    /// Starts one on `backend` with extra flags.
    pub fn start_with(backend: Backend, extra: &[&str]) -> Self {
        Self::start_at(StoreSpot::new(backend), extra)
    }

    /// Starts one on an existing spot.
    pub fn start_at(spot: StoreSpot, extra: &[&str]) -> Self {
        let mut args = vec![
            "--store",
            &spot.url,
            "--store-root",
            &spot.root,
            "--listen-url",
            "127.0.0.1:0",
            "--mode",
            "test",
            "--leader-ttl",
            "2s",
        ];
        args.extend_from_slice(extra);
        let cfg = config(&args);
        let rt = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(2)
            .enable_all()
            .build()
            .expect("runtime");
        let running = rt
            .block_on(start(cfg))
            .unwrap_or_else(|e| panic!("netmaster did not start: {e:?}"));
        let mut client = Client::new(&format!("http://{}", running.addr));
        // With --token the test client is the admin.
        if let Some(i) = extra.iter().position(|a| *a == "--token")
            && let Some(t) = extra.get(i + 1)
        {
            client = client.with_token(t);
        }
        let tn = TestNetmaster {
            client,
            nm: running.netmaster.clone(),
            store: running.netmaster.store().clone(),
            root: spot.root.clone(),
            store_url: spot.url.clone(),
            running: Some(running),
            rt: Some(rt),
            spot: Some(spot),
        };
        tn.wait_ready();
        tn
    }

    /// Waits until the netmaster leads and has created its defaults.
    pub fn wait_ready(&self) {
        let ok = super::wait_until(Duration::from_secs(20), || {
            let t = self
                .client
                .try_send("GET", "/api/v1/tenants/default/", None)
                .ok()?;
            let g = self
                .client
                .try_send("GET", "/api/v1/globals/global/", None)
                .ok()?;
            (t.status == 200 && g.status == 200 && self.nm.is_ready()).then_some(())
        });
        assert!(ok.is_some(), "netmaster did not become ready in 20s");
    }

    /// The running server (its watch threads).
    pub fn running(&self) -> &Running {
        self.running.as_ref().expect("running")
    }

    /// Runs a future on the netmaster's runtime.
    pub fn block_on<F: std::future::Future>(&self, f: F) -> F::Output {
        self.rt.as_ref().expect("runtime").block_on(f)
    }

    /// Every key under the root with its value and mod revision.
    pub fn snapshot(&self) -> Vec<(String, Vec<u8>, u64)> {
        let list = self
            .block_on(self.store.list(&self.root))
            .expect("list the store");
        list.kvs
            .into_iter()
            .map(|kv| (kv.key, kv.value, kv.mod_revision))
            .collect()
    }

    /// Keys under `<root><rel>`.
    pub fn keys_under(&self, rel: &str) -> Vec<String> {
        let list = self
            .block_on(self.store.list(&format!("{}{rel}", self.root)))
            .expect("list the store");
        list.kvs.into_iter().map(|kv| kv.key).collect()
    }

    /// `method path body` must succeed with 200; returns the body (JSON, or
    /// `Null` if empty).
    pub fn ok(&self, method: &str, path: &str, body: Option<&Value>) -> Value {
        let text = body.map(|b| b.to_string());
        let r = self.client.send(method, path, text.as_deref());
        assert_eq!(r.status, 200, "{method} {path} {text:?}: {}", r.body);
        if r.body.is_empty() {
            Value::Null
        } else {
            r.json()
        }
    }

    /// `method path body` must fail with `status` and a text body that
    /// contains `msg`, and must not change anything in the store.
    pub fn fails(
        &self,
        method: &str,
        path: &str,
        body: Option<&Value>,
        status: u16,
        msg: &str,
    ) -> Resp {
        let before = self.snapshot();
        let text = body.map(|b| b.to_string());
        let r = self.client.send(method, path, text.as_deref());
        assert_eq!(r.status, status, "{method} {path} {text:?}: {}", r.body);
        assert!(
            r.body.contains(msg),
            "{method} {path} {text:?}: body {:?} lacks {msg:?}",
            r.body
        );
        assert!(
            r.content_type.starts_with("text/plain"),
            "{method} {path}: error content type {}",
            r.content_type
        );
        assert!(r.body.ends_with('\n'), "error body ends with a newline");
        let after = self.snapshot();
        assert!(
            before == after,
            "{method} {path} {text:?} failed with {status} but changed the store:\n{}",
            diff(&before, &after)
        );
        r
    }

    /// `POST /api/v1/<coll>/<key>/` must succeed.
    pub fn create(&self, coll: &str, key: &str, body: Value) -> Value {
        self.ok("POST", &format!("/api/v1/{coll}/{key}/"), Some(&body))
    }

    /// `DELETE /api/v1/<coll>/<key>/` must succeed.
    pub fn remove(&self, coll: &str, key: &str) {
        self.ok("DELETE", &format!("/api/v1/{coll}/{key}/"), None);
    }

    /// `GET /api/v1/inspect/<coll>/<key>/` must succeed.
    pub fn inspect(&self, coll: &str, key: &str) -> Value {
        self.ok("GET", &format!("/api/v1/inspect/{coll}/{key}/"), None)
    }

    /// The keys of every object in a collection.
    pub fn list_keys(&self, coll: &str) -> Vec<String> {
        let v = self.ok("GET", &format!("/api/v1/{coll}/"), None);
        v.as_array()
            .unwrap_or_else(|| panic!("list of {coll} is not an array: {v}"))
            .iter()
            .map(|o| o["key"].as_str().unwrap_or_default().to_owned())
            .collect()
    }

    /// Stops the server (as a process stop would) and returns its spot so
    /// a new netmaster can start on the same state.
    pub fn stop(mut self) -> StoreSpot {
        self.shutdown();
        self.spot.take().expect("the spot is there until stop")
    }

    fn shutdown(&mut self) {
        if let (Some(running), Some(rt)) = (self.running.take(), self.rt.as_ref()) {
            rt.block_on(running.stop());
        }
        if let Some(rt) = self.rt.take() {
            rt.shutdown_timeout(Duration::from_secs(5));
        }
    }
}

impl Drop for TestNetmaster {
    fn drop(&mut self) {
        self.shutdown();
    }
}

fn diff(a: &[(String, Vec<u8>, u64)], b: &[(String, Vec<u8>, u64)]) -> String {
    let mut out = String::new();
    for x in a {
        if !b.contains(x) {
            out.push_str(&format!("- {} (rev {})\n", x.0, x.2));
        }
    }
    for x in b {
        if !a.contains(x) {
            out.push_str(&format!("+ {} (rev {})\n", x.0, x.2));
        }
    }
    out
}
