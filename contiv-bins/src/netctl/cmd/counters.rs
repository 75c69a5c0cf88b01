//! `netctl counters`: the packet counters of this host's agent (its local
//! API on the CNI socket, not netmaster): per endpoint, per policy rule
//! (new connections each rule decided, and dropped), drops by reason —
//! where "why was my packet dropped" starts. Not in the original.

use crate::agent_api::wire::DatapathCounters;
use crate::netctl::error::NetctlError;
use crate::netctl::tabwriter::TabWriter;
use clap::Args;
use std::io::Write;
use std::path::PathBuf;
use std::time::Duration;

/// `netctl counters` flags.
#[derive(Debug, Args)]
pub struct CountersArgs {
    /// The agent's local API socket
    #[arg(
        long = "agent-socket",
        env = "CONTIV_CNI_SOCKET",
        default_value = "/run/contiv/contiv-cni.sock",
        value_name = "PATH"
    )]
    pub socket: PathBuf,
    /// Output in JSON format
    #[arg(short = 'j', long)]
    pub json: bool,
}

fn table(out: &mut String, rows: Vec<Vec<String>>) {
    let mut t = String::new();
    for r in rows {
        t.push_str(&r.join("\t"));
        t.push('\n');
    }
    out.push_str(&TabWriter::netctl(2).format(&t));
}

/// The three tables of `netctl counters`.
pub fn render(c: &DatapathCounters) -> String {
    let mut out = String::new();
    let mut rows = vec![
        [
            "Endpoint", "Sent", "Bytes", "Dropped", "Received", "Bytes", "Dropped",
        ]
        .map(String::from)
        .to_vec(),
        [
            "--------", "----", "-----", "-------", "--------", "-----", "-------",
        ]
        .map(String::from)
        .to_vec(),
    ];
    for e in &c.endpoints {
        rows.push(vec![
            e.id.clone(),
            e.tx_packets.to_string(),
            e.tx_bytes.to_string(),
            e.tx_drops.to_string(),
            e.rx_packets.to_string(),
            e.rx_bytes.to_string(),
            e.rx_drops.to_string(),
        ]);
    }
    table(&mut out, rows);
    out.push('\n');
    let mut rows = vec![
        [
            "Policy",
            "Rule",
            "Group",
            "Rule id",
            "Connections",
            "Dropped",
        ]
        .map(String::from)
        .to_vec(),
        [
            "------",
            "----",
            "-----",
            "-------",
            "-----------",
            "-------",
        ]
        .map(String::from)
        .to_vec(),
    ];
    for r in &c.rules {
        rows.push(vec![
            r.policy.clone(),
            r.rule.clone(),
            r.group.clone(),
            r.rule_id.clone(),
            r.packets.to_string(),
            r.drops.to_string(),
        ]);
    }
    table(&mut out, rows);
    out.push('\n');
    let mut rows = vec![
        ["Drop reason", "Packets"].map(String::from).to_vec(),
        ["-----------", "-------"].map(String::from).to_vec(),
    ];
    for d in &c.drops {
        rows.push(vec![d.reason.clone(), d.packets.to_string()]);
    }
    table(&mut out, rows);
    out
}

/// Fetches and prints the counters.
pub fn run(args: &CountersArgs, out: &mut dyn Write) -> Result<(), NetctlError> {
    let url = format!("unix:{}", args.socket.display());
    let (status, body) = crate::agent_api::client::call(
        &args.socket,
        "GET",
        "/counters",
        None,
        Duration::from_secs(10),
    )
    .map_err(|e| NetctlError::Request {
        url: url.clone(),
        reason: e.to_string(),
    })?;
    if !(200..300).contains(&status) {
        let message = serde_json::from_slice::<serde_json::Value>(&body)
            .ok()
            .and_then(|v| v.get("message").and_then(|m| m.as_str()).map(str::to_owned))
            .unwrap_or_else(|| String::from_utf8_lossy(&body).into_owned());
        return Err(NetctlError::Http { status, message });
    }
    let c: DatapathCounters =
        serde_json::from_slice(&body).map_err(|e| NetctlError::BadResponse {
            path: "/counters".into(),
            reason: e.to_string(),
        })?;
    let text = if args.json {
        let mut s = serde_json::to_string_pretty(&c).map_err(|e| NetctlError::BadResponse {
            path: "/counters".into(),
            reason: e.to_string(),
        })?;
        s.push('\n');
        s
    } else {
        render(&c)
    };
    out.write_all(text.as_bytes())
        .map_err(|e| NetctlError::io("writing the output", e))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::agent_api::wire::{DropCounter, EndpointCounters, RuleCounters};

    #[test]
    fn the_tables_show_every_counter() {
        let c = DatapathCounters {
            datapath: "ebpf".into(),
            endpoints: vec![EndpointCounters {
                id: "ctr-eth0".into(),
                tx_packets: 12,
                tx_bytes: 1500,
                tx_drops: 2,
                rx_packets: 10,
                rx_bytes: 1300,
                rx_drops: 1,
            }],
            rules: vec![RuleCounters {
                rule_id: "00000000000000ab".into(),
                policy: "default:db".into(),
                rule: "1".into(),
                group: "default:db".into(),
                packets: 3,
                drops: 3,
            }],
            drops: vec![DropCounter {
                reason: "policy".into(),
                packets: 3,
            }],
        };
        let t = render(&c);
        assert!(t.contains("ctr-eth0  12    1500   2"), "{t}");
        assert!(
            t.contains("default:db  1     default:db  00000000000000ab  3            3"),
            "{t}"
        );
        assert!(t.contains("policy       3"), "{t}");
    }
}
