//! Network namespaces the harness creates (hosts, the hub, containers),
//! deleted when dropped, and TCP connections opened from inside one.

use super::sys::{must, quiet, run, unique};
use std::fs::File;
use std::net::{SocketAddr, TcpStream};
use std::os::fd::AsRawFd;
use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};
use std::time::Duration;

/// A network namespace (`ip netns add`), with loopback up; deleted (and
/// its `/etc/netns/<name>` directory removed) on drop.
#[derive(Debug)]
pub struct Netns {
    name: String,
}

impl Netns {
    /// Creates `<prefix><pid>x<n>`.
    pub fn create(prefix: &str) -> Netns {
        let name = unique(prefix);
        must(&["ip", "netns", "add", &name]);
        let ns = Netns { name };
        ns.ip(&["link", "set", "lo", "up"]);
        ns
    }

    /// Its name (`ip netns exec <name>`).
    pub fn name(&self) -> &str {
        &self.name
    }

    /// Its file, `/var/run/netns/<name>`.
    pub fn path(&self) -> PathBuf {
        Path::new("/var/run/netns").join(&self.name)
    }

    /// `ip -n <name> <args>`; panics if it fails.
    pub fn ip(&self, args: &[&str]) -> String {
        self.try_ip(args).unwrap_or_else(|e| panic!("{e}"))
    }

    /// `ip -n <name> <args>`.
    pub fn try_ip(&self, args: &[&str]) -> Result<String, String> {
        run(Command::new("ip")
            .args(["-n", self.name.as_str()])
            .args(args))
    }

    /// A command that runs `prog` inside the namespace (`ip netns exec`,
    /// which execs `prog`: the child's pid is the program's).
    pub fn command(&self, prog: impl AsRef<std::ffi::OsStr>) -> Command {
        let mut c = Command::new("ip");
        c.args(["netns", "exec", self.name.as_str()]).arg(prog);
        c
    }

    /// A command that runs `prog` in this network namespace only: the child
    /// joins it with setns(2) between fork and exec, as `nsenter --net`
    /// does. Unlike [`Netns::command`] there is no `ip` process, no private
    /// mount namespace and no sysfs remount — `ip netns exec` copies every
    /// mount, one per namespace under `/run/netns`, so with a cluster's
    /// hundreds of containers it costs milliseconds per run, more than a
    /// short client such as `netctl` takes itself. For programs that need
    /// nothing of the namespace but its network (no `/sys`, no
    /// `/etc/netns` resolvers).
    pub fn net_command(&self, prog: impl AsRef<std::ffi::OsStr>) -> std::io::Result<Command> {
        use std::os::unix::process::CommandExt;
        let file = File::open(self.path())?;
        let mut c = Command::new(prog);
        // SAFETY: only setns(2), which is async-signal-safe, runs between
        // fork and exec; the descriptor stays open (the closure owns
        // `file`) and is closed on exec.
        unsafe {
            c.pre_exec(move || {
                if libc::setns(file.as_raw_fd(), libc::CLONE_NEWNET) != 0 {
                    return Err(std::io::Error::last_os_error());
                }
                Ok(())
            });
        }
        Ok(c)
    }

    /// Runs `args` inside the namespace to completion, whatever the result.
    pub fn exec(&self, args: &[&str]) -> Output {
        let (prog, rest) = args.split_first().expect("a command line");
        self.command(prog)
            .args(rest)
            .stdin(Stdio::null())
            .output()
            .unwrap_or_else(|e| panic!("cannot run {args:?} in {}: {e}", self.name))
    }

    /// Runs `args` inside the namespace; its stdout, panicking if it fails.
    pub fn must(&self, args: &[&str]) -> String {
        let o = self.exec(args);
        assert!(
            o.status.success(),
            "{args:?} in {} failed ({}): {}{}",
            self.name,
            o.status,
            String::from_utf8_lossy(&o.stdout),
            String::from_utf8_lossy(&o.stderr)
        );
        String::from_utf8_lossy(&o.stdout).into_owned()
    }

    /// Makes programs run with `ip netns exec` in this namespace use
    /// `servers` as resolvers (`/etc/netns/<name>/resolv.conf`, removed on
    /// drop), as a container runtime writes the CNI result's DNS into the
    /// container.
    pub fn set_resolvers(&self, servers: &[String], search: &[String]) {
        let dir = Path::new("/etc/netns").join(&self.name);
        std::fs::create_dir_all(&dir)
            .unwrap_or_else(|e| panic!("cannot create {}: {e}", dir.display()));
        let mut text = String::new();
        for s in servers {
            text.push_str(&format!("nameserver {s}\n"));
        }
        if !search.is_empty() {
            text.push_str(&format!("search {}\n", search.join(" ")));
        }
        text.push_str("options timeout:1 attempts:2\n");
        std::fs::write(dir.join("resolv.conf"), text).expect("write resolv.conf");
    }

    /// A TCP connection to `addr` opened from inside this namespace (the
    /// socket lives there; the calling thread does not move).
    pub fn connect_tcp(&self, addr: SocketAddr, timeout: Duration) -> std::io::Result<TcpStream> {
        in_netns(&self.path(), move || {
            TcpStream::connect_timeout(&addr, timeout)
        })
    }
}

impl Drop for Netns {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(Path::new("/etc/netns").join(&self.name));
        quiet(&["ip", "netns", "delete", self.name.as_str()]);
    }
}

/// Runs `f` on a short-lived thread that first joins the network
/// namespace at `path`; sockets `f` creates stay in that namespace.
pub fn in_netns<T: Send>(
    path: &Path,
    f: impl FnOnce() -> std::io::Result<T> + Send,
) -> std::io::Result<T> {
    let file = File::open(path)?;
    std::thread::scope(|s| {
        s.spawn(move || {
            // SAFETY: setns(2) only reads the descriptor, which `file` keeps
            // open during the call; it moves this private thread only, and
            // the thread ends when `f` returns.
            let rc = unsafe { libc::setns(file.as_raw_fd(), libc::CLONE_NEWNET) };
            if rc != 0 {
                return Err(std::io::Error::last_os_error());
            }
            f()
        })
        .join()
        .unwrap_or_else(|_| Err(std::io::Error::other("the namespace thread panicked")))
    })
}
