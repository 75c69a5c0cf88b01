//! The threads agents' watch streams are served on, at a lower scheduling
//! priority than the rest of netmaster.
//!
//! A change is written to every agent's stream, and a mass reconnect
//! sends every agent a snapshot: with thousands of agents that is the
//! bulk of netmaster's CPU (mostly kernel time in the socket writes). If
//! it ran on the runtime that answers REST requests, a write's answer and
//! the agents' heartbeats would queue behind it, so a connection whose
//! first request is `GET /api/v1/watch` is handed (by the accept loop,
//! [`super::serve`]) to one of these threads and served there for its
//! whole life: the snapshot, the `synced` line and every later line.
//!
//! Each thread runs its own single-threaded tokio runtime, so a request
//! never waits in a run queue behind thousands of stream tasks. At start
//! each thread sets its own policy to `SCHED_BATCH` (its wake-ups do not
//! preempt a running thread) and its nice value to `--watch-nice`
//! (default 0). With a nice above 0 the kernel runs REST and heartbeat
//! threads first whenever both are runnable and the streams use what is
//! left — but also what other processes at normal priority leave, so on a
//! busy host deliveries slow down (measured in BENCHMARKS.md, fan-out).
//! Lowering one's own priority needs no privilege; if the kernel refuses
//! it (a seccomp profile), netmaster logs a warning and the streams still
//! work, at normal priority.
//!
//! Connections over TLS are served on the main runtime: the request is
//! only readable after the handshake (not isolated; the plain-HTTP path is
//! what agents on a trusted network use by default).

use std::future::Future;
use std::io;
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use tokio::runtime::Handle;
use tokio::task::JoinHandle;
use tracing::warn;

/// A nice value for the watch threads at which a busy watch thread gets
/// about a tenth of the CPU a busy normal thread gets when they compete
/// (`--watch-nice 10`; the default is 0).
pub const LOW_NICE: i32 = 10;

/// Name prefix of the watch threads (`nm-watch-0`, …; visible in `ps -L`,
/// `top -H`, `/proc/<pid>/task/*/comm`).
pub const THREAD_NAME: &str = "nm-watch";

/// Lowers the calling thread's scheduling priority: `SCHED_BATCH`, nice
/// `nice`.
pub fn lower_own_priority(nice: i32) -> io::Result<()> {
    // SAFETY: gettid has no preconditions.
    let tid = unsafe { libc::gettid() };
    let param = libc::sched_param { sched_priority: 0 };
    // SAFETY: `param` is a valid sched_param; tid is this thread.
    if unsafe { libc::sched_setscheduler(tid, libc::SCHED_BATCH, &param) } != 0 {
        return Err(io::Error::last_os_error());
    }
    // SAFETY: plain syscall on this thread's id.
    if unsafe { libc::setpriority(libc::PRIO_PROCESS, tid as libc::id_t, nice) } != 0 {
        return Err(io::Error::last_os_error());
    }
    Ok(())
}

/// The watch threads (see the module docs). Dropping it stops them (the
/// connections they serve are closed).
pub struct WatchThreads {
    handles: Vec<Handle>,
    next: AtomicUsize,
    served: AtomicU64,
    stop: tokio::sync::watch::Sender<bool>,
}

impl std::fmt::Debug for WatchThreads {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("WatchThreads")
            .field("threads", &self.handles.len())
            .field("served", &self.served.load(Ordering::Relaxed))
            .finish()
    }
}

impl WatchThreads {
    /// Starts `threads` threads (at least one) at nice `nice`.
    pub fn start(threads: usize, nice: i32) -> io::Result<Self> {
        let (stop, _) = tokio::sync::watch::channel(false);
        let mut handles = Vec::new();
        for i in 0..threads.max(1) {
            let (tx, rx) = std::sync::mpsc::channel();
            let mut stopped = stop.subscribe();
            std::thread::Builder::new()
                .name(format!("{THREAD_NAME}-{i}"))
                .spawn(move || {
                    if let Err(e) = lower_own_priority(nice) {
                        warn!(error = %e, "cannot lower the watch threads' priority; agents' streams compete with requests");
                    }
                    let rt = match tokio::runtime::Builder::new_current_thread()
                        .enable_all()
                        .build()
                    {
                        Ok(rt) => rt,
                        Err(e) => {
                            let _ = tx.send(Err(e));
                            return;
                        }
                    };
                    let _ = tx.send(Ok(rt.handle().clone()));
                    rt.block_on(async move {
                        let _ = stopped.wait_for(|s| *s).await;
                    });
                    // Dropping the runtime cancels the connections left.
                })?;
            let handle = rx
                .recv()
                .map_err(|_| io::Error::other("a watch thread died at start"))??;
            handles.push(handle);
        }
        Ok(WatchThreads {
            handles,
            next: AtomicUsize::new(0),
            served: AtomicU64::new(0),
            stop,
        })
    }

    /// Runs `fut` (a watch connection) on the next thread, round robin.
    pub fn spawn<F>(&self, fut: F) -> JoinHandle<F::Output>
    where
        F: Future + Send + 'static,
        F::Output: Send + 'static,
    {
        let i = self.next.fetch_add(1, Ordering::Relaxed) % self.handles.len();
        self.served.fetch_add(1, Ordering::Relaxed);
        self.handles[i].spawn(fut)
    }

    /// The runtimes of the threads (tests use them to occupy the threads).
    pub fn handles(&self) -> &[Handle] {
        &self.handles
    }

    /// Connections handed to the threads so far.
    pub fn served(&self) -> u64 {
        self.served.load(Ordering::Relaxed)
    }

    /// Stops the threads (also on drop).
    pub fn stop(&self) {
        let _ = self.stop.send(true);
    }
}

impl Drop for WatchThreads {
    fn drop(&mut self) {
        self.stop();
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Field `n` (1-based, after the command name) of
    /// `/proc/self/task/<tid>/stat`.
    fn stat_field(tid: i32, n: usize) -> i64 {
        let s = std::fs::read_to_string(format!("/proc/self/task/{tid}/stat")).unwrap();
        let after = &s[s.rfind(')').unwrap() + 2..];
        after.split(' ').nth(n - 3).unwrap().parse().unwrap()
    }

    #[test]
    fn the_threads_run_at_batch_policy_and_the_lower_nice() {
        let w = WatchThreads::start(2, LOW_NICE).unwrap();
        let mut tids = Vec::new();
        for h in w.handles() {
            let (tx, rx) = std::sync::mpsc::channel();
            h.spawn(async move {
                // SAFETY: no preconditions.
                let _ = tx.send(unsafe { libc::gettid() });
            });
            tids.push(rx.recv().unwrap());
        }
        // SAFETY: no preconditions.
        let me = unsafe { libc::gettid() };
        assert!(!tids.contains(&me));
        assert_ne!(tids[0], tids[1]);
        for tid in tids {
            let comm = std::fs::read_to_string(format!("/proc/self/task/{tid}/comm")).unwrap();
            assert!(comm.starts_with(THREAD_NAME), "{comm}");
            // Field 19: nice; field 41: policy.
            assert_eq!(stat_field(tid, 19), i64::from(LOW_NICE));
            assert_eq!(stat_field(tid, 41), i64::from(libc::SCHED_BATCH));
        }
        // The caller's priority is untouched.
        assert_eq!(stat_field(me, 41), i64::from(libc::SCHED_OTHER));
        assert_eq!(w.served(), 0);
        let j = w.spawn(async { 7 });
        let rt = tokio::runtime::Builder::new_current_thread()
            .build()
            .unwrap();
        assert_eq!(rt.block_on(j).unwrap(), 7);
        assert_eq!(w.served(), 1);
    }
}
