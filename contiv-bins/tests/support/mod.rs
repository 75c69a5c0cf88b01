//! Shared support of the netmaster tests: an HTTP client, store fixtures
//! (embedded in a temp dir, a real etcd shared by the tests of one binary),
//! an in-process netmaster and the real `netmaster` binary as a child
//! process. Every process started here is killed by pid when its guard is
//! dropped (also on panic); every temp dir is removed.

#![allow(dead_code, unused_imports)]

pub mod client;
pub mod inproc;
pub mod process;
pub mod stores;

pub use client::{Client, Resp};
pub use inproc::TestNetmaster;
pub use process::NetmasterProcess;
pub use stores::Backend;

use std::time::{Duration, Instant};

/// A free TCP port on 127.0.0.1 (closed again before it is returned; a
/// caller that loses a race retries).
pub fn free_port() -> u16 {
    let l = std::net::TcpListener::bind("127.0.0.1:0").expect("bind a free port");
    l.local_addr().expect("local addr").port()
}

/// Polls `f` every 20 ms until it returns `Some`, at most `timeout`.
pub fn wait_until<T>(timeout: Duration, mut f: impl FnMut() -> Option<T>) -> Option<T> {
    let deadline = Instant::now() + timeout;
    loop {
        if let Some(v) = f() {
            return Some(v);
        }
        if Instant::now() > deadline {
            return None;
        }
        std::thread::sleep(Duration::from_millis(20));
    }
}
