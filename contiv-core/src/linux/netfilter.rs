//! Host-side NAT rules in the kernel's netfilter (nftables), owned like
//! flows: every rule lives in **one table per owner** (`ip <table>`), which
//! nothing else writes and this module never looks outside of. [`ensure`]
//! makes the table hold exactly a [`NatRules`] set — reading it first and
//! writing nothing when it already does (a resync in sync changes
//! nothing), else replacing the whole table in one atomic `nft`
//! transaction (a half-written rule set never exists); [`remove`] deletes
//! the table. Rules we do not own (other tables: Docker's, the host's
//! firewall) are never read or touched.
//!
//! What a [`NatRules`] holds — the host side of external access every
//! datapath backend needs:
//! * **masquerade**: traffic from a private source range leaving through
//!   any interface but the datapath's host interface gets the address of
//!   that interface (egress NAT);
//! * **published ports** ([`Dnat`]): connections to a host port (on one
//!   address or any local address) are translated to an endpoint's address
//!   and port, arriving from outside (`prerouting`) or from the host itself
//!   (`output`; from `localhost` too, which is masqueraded towards the host
//!   interface);
//! * **forward guard**: traffic may only turn around on the host interface
//!   (in and out again) when it was translated to a published port — so
//!   the host never routes one tenant's traffic into another's.
//!
//! The rules are applied with the `nft` command (nftables' supported
//! interface) run inside the namespace.

use super::PlumbError;
use super::netns::{Netns, run_in};
use crate::datapath::ServiceProtocol;
use ipnet::Ipv4Net;
use std::io::Write;
use std::net::Ipv4Addr;
use std::process::{Command, Stdio};

/// One published port: `proto host_ip:host_port` → `to:to_port`.
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub struct Dnat {
    /// TCP or UDP.
    pub protocol: ServiceProtocol,
    /// Only connections to this host address (`None`: any local address).
    pub host_ip: Option<Ipv4Addr>,
    /// The host port.
    pub host_port: u16,
    /// The endpoint's address.
    pub to: Ipv4Addr,
    /// The endpoint's port.
    pub to_port: u16,
    /// A tag for the rule's comment (e.g. the endpoint id); printable ASCII
    /// without `"` (other characters are replaced).
    pub tag: String,
}

/// The NAT rules of one owner. See the [module documentation](self).
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct NatRules {
    /// The nftables table (family `ip`) holding them.
    pub table: String,
    /// The datapath's host interface (where traffic to endpoints leaves
    /// the host's stack).
    pub host_ifname: String,
    /// Sources masqueraded when leaving through another interface.
    pub masquerade: Vec<Ipv4Net>,
    /// Published ports.
    pub dnat: Vec<Dnat>,
}

fn clean(tag: &str) -> String {
    tag.chars()
        .map(|c| {
            if c.is_ascii_graphic() && c != '"' && c != '\\' {
                c
            } else {
                '_'
            }
        })
        .take(100)
        .collect()
}

fn proto(p: ServiceProtocol) -> &'static str {
    match p {
        ServiceProtocol::Tcp => "tcp",
        ServiceProtocol::Udp => "udp",
    }
}

impl NatRules {
    /// The table's body in the form `nft list table` prints it (so a
    /// listing can be compared with it line by line).
    pub fn render_body(&self) -> String {
        let h = &self.host_ifname;
        let mut s = String::new();
        s.push_str("\tcomment \"contiv: owned by the datapath, rewritten on resync\"\n");
        s.push_str("\tchain postrouting {\n\t\ttype nat hook postrouting priority srcnat; policy accept;\n");
        for m in &self.masquerade {
            s.push_str(&format!(
                "\t\tip saddr {m} oifname != \"{h}\" masquerade comment \"egress nat\"\n"
            ));
        }
        if !self.dnat.is_empty() {
            s.push_str(&format!(
                "\t\tip saddr 127.0.0.0/8 oifname \"{h}\" masquerade comment \"published ports from localhost\"\n"
            ));
        }
        s.push_str("\t}\n\n");
        for (chain, hook, prio) in [
            ("prerouting", "prerouting", "dstnat"),
            ("output", "output", "-100"),
        ] {
            s.push_str(&format!(
                "\tchain {chain} {{\n\t\ttype nat hook {hook} priority {prio}; policy accept;\n"
            ));
            for d in &self.dnat {
                let dst = match d.host_ip {
                    Some(ip) => format!("ip daddr {ip}"),
                    None => "fib daddr type local".into(),
                };
                s.push_str(&format!(
                    "\t\t{dst} {} dport {} dnat to {}:{} comment \"published {}\"\n",
                    proto(d.protocol),
                    d.host_port,
                    d.to,
                    d.to_port,
                    clean(&d.tag)
                ));
            }
            s.push_str("\t}\n\n");
        }
        s.push_str(
            "\tchain forward {\n\t\ttype filter hook forward priority filter; policy accept;\n",
        );
        s.push_str(&format!(
            "\t\tiifname \"{h}\" oifname \"{h}\" ct status != dnat drop comment \"no turning around but to published ports\"\n"
        ));
        s.push_str("\t}\n");
        s
    }

    /// The script that replaces the table atomically.
    pub fn render_script(&self) -> String {
        let t = &self.table;
        format!(
            "table ip {t} {{}}\ndelete table ip {t}\ntable ip {t} {{\n{}}}\n",
            self.render_body()
        )
    }
}

fn normalize(s: &str) -> Vec<String> {
    s.lines()
        .map(str::trim)
        .filter(|l| !l.is_empty())
        .map(str::to_owned)
        .collect()
}

fn check_table_name(t: &str) -> Result<(), PlumbError> {
    if t.is_empty()
        || t.len() > 64
        || !t
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || c == '_' || c == '-')
    {
        return Err(PlumbError::Invalid(format!(
            "nftables table name {t:?}: 1 to 64 letters, digits, '_' or '-'"
        )));
    }
    Ok(())
}

/// Runs `nft <args>` in `ns` with `stdin`; returns stdout, or stderr as
/// the error.
async fn nft(ns: &Netns, args: Vec<String>, stdin: Option<String>) -> Result<String, PlumbError> {
    let shown = format!("nft {}", args.join(" "));
    let what = ns.describe();
    run_in(ns, move || {
        let mut child = Command::new("nft")
            .args(&args)
            .stdin(if stdin.is_some() {
                Stdio::piped()
            } else {
                Stdio::null()
            })
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .map_err(|e| {
                PlumbError::Invalid(format!(
                    "cannot run nft (is the nftables package installed?): {e}"
                ))
            })?;
        if let (Some(input), Some(mut w)) = (stdin, child.stdin.take()) {
            w.write_all(input.as_bytes())
                .map_err(|e| PlumbError::Invalid(format!("{shown}: writing the rules: {e}")))?;
        }
        let out = child
            .wait_with_output()
            .map_err(|e| PlumbError::Invalid(format!("{shown}: {e}")))?;
        if out.status.success() {
            Ok(String::from_utf8_lossy(&out.stdout).into_owned())
        } else {
            Err(PlumbError::Invalid(format!(
                "{shown} in {what}: {}",
                String::from_utf8_lossy(&out.stderr).trim()
            )))
        }
    })
    .await
}

/// The table's current listing, `None` if it does not exist.
pub async fn list(ns: &Netns, table: &str) -> Result<Option<String>, PlumbError> {
    check_table_name(table)?;
    let tables = nft(ns, vec!["list".into(), "tables".into(), "ip".into()], None).await?;
    if !tables
        .lines()
        .any(|l| l.trim() == format!("table ip {table}"))
    {
        return Ok(None);
    }
    nft(
        ns,
        vec!["list".into(), "table".into(), "ip".into(), table.into()],
        None,
    )
    .await
    .map(Some)
}

/// Makes `rules.table` in `ns` hold exactly `rules`; returns whether it
/// wrote anything (nothing when the table already matched).
pub async fn ensure(ns: &Netns, rules: &NatRules) -> Result<bool, PlumbError> {
    check_table_name(&rules.table)?;
    let want = normalize(&format!(
        "table ip {} {{\n{}}}",
        rules.table,
        rules.render_body()
    ));
    if let Some(have) = list(ns, &rules.table).await?
        && normalize(&have) == want
    {
        return Ok(false);
    }
    nft(
        ns,
        vec!["-f".into(), "-".into()],
        Some(rules.render_script()),
    )
    .await?;
    Ok(true)
}

/// Deletes `table` from `ns` (absent is fine); returns whether it existed.
pub async fn remove(ns: &Netns, table: &str) -> Result<bool, PlumbError> {
    if list(ns, table).await?.is_none() {
        return Ok(false);
    }
    nft(
        ns,
        vec!["delete".into(), "table".into(), "ip".into(), table.into()],
        None,
    )
    .await?;
    Ok(true)
}

/// Sets a sysctl under `/proc/sys/` (e.g. `net/ipv4/ip_forward`) inside
/// `ns` to `value`, if it is not already.
pub async fn sysctl(ns: &Netns, key: &str, value: &str) -> Result<(), PlumbError> {
    if key.contains("..") {
        return Err(PlumbError::Invalid(format!("sysctl {key:?}")));
    }
    let path = std::path::Path::new("/proc/sys").join(key);
    let value = value.to_owned();
    run_in(ns, move || {
        let cur = std::fs::read_to_string(&path).unwrap_or_default();
        if cur.trim() == value {
            return Ok(());
        }
        std::fs::write(&path, format!("{value}\n"))
            .map_err(|e| PlumbError::Invalid(format!("writing {}: {e}", path.display())))
    })
    .await
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn script_replaces_the_table_and_tags_are_sanitised() {
        let r = NatRules {
            table: "contiv_x".into(),
            host_ifname: "contivh0".into(),
            masquerade: vec!["172.19.0.0/16".parse().unwrap_or_else(|_| unreachable!())],
            dnat: vec![Dnat {
                protocol: ServiceProtocol::Tcp,
                host_ip: None,
                host_port: 9099,
                to: Ipv4Addr::new(10, 1, 2, 3),
                to_port: 80,
                tag: "ep \"x\"".into(),
            }],
        };
        let s = r.render_script();
        assert!(s.starts_with("table ip contiv_x {}\ndelete table ip contiv_x\n"));
        assert!(s.contains(
            "fib daddr type local tcp dport 9099 dnat to 10.1.2.3:80 comment \"published ep__x_\""
        ));
        assert!(s.contains("ip saddr 172.19.0.0/16 oifname != \"contivh0\" masquerade"));
        assert!(check_table_name("bad name").is_err());
    }
}
