//! A normaliser for `ovs-ofctl dump-flows` output.
//!
//! Tests (ours and the pipeline's) assert on flows in the text form OVS
//! prints, without the volatile parts (durations, counters, ages):
//!
//! ```
//! use contiv_dp_ovs::openflow::dump::normalize;
//! let text = "OFPST_FLOW reply (OF1.3) (xid=0x2):\n \
//!   cookie=0x5, duration=37.564s, table=1, n_packets=3, n_bytes=180, priority=100,ip,nw_dst=10.0.0.1 actions=goto_table:2\n \
//!   cookie=0x0, duration=1.2s, table=0, n_packets=0, n_bytes=0, priority=0 actions=drop\n";
//! let flows = normalize(text);
//! assert_eq!(flows[0].to_string(), "table=0 priority=0 actions=drop");
//! assert_eq!(flows[1].to_string(), "table=1 priority=100,ip,nw_dst=10.0.0.1 actions=goto_table:2");
//! assert_eq!(flows[1].cookie, 5);
//! ```

use std::fmt;

/// One flow from `dump-flows`, without statistics.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct FlowLine {
    /// Table id.
    pub table: u8,
    /// Priority (OVS omits the default, 32768).
    pub priority: u16,
    /// The match as OVS prints it, without `priority=` (empty = match all).
    pub matches: String,
    /// The actions as OVS prints them.
    pub actions: String,
    /// Cookie.
    pub cookie: u64,
    /// Other flow properties OVS printed (`idle_timeout=10`,
    /// `send_flow_rem`, …), in order.
    pub properties: Vec<String>,
}

/// Default flow priority OVS does not print.
const DEFAULT_PRIORITY: u16 = 32768;

/// Statistics keys dropped by the normaliser.
const VOLATILE: [&str; 5] = ["duration", "n_packets", "n_bytes", "idle_age", "hard_age"];

impl fmt::Display for FlowLine {
    /// `table=T [props ]priority=P[,match] actions=A` — the form ofnet's
    /// tests and CONTIV.md use.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "table={} ", self.table)?;
        for p in &self.properties {
            write!(f, "{p} ")?;
        }
        write!(f, "priority={}", self.priority)?;
        if !self.matches.is_empty() {
            write!(f, ",{}", self.matches)?;
        }
        write!(f, " actions={}", self.actions)
    }
}

impl FlowLine {
    /// The display form prefixed with `cookie=0x…`.
    pub fn to_string_with_cookie(&self) -> String {
        format!("cookie={:#x} {self}", self.cookie)
    }

    /// Parses one flow line; `None` for lines that are not flows (the
    /// `OFPST_FLOW reply` header, blank lines).
    pub fn parse(line: &str) -> Option<FlowLine> {
        let line = line.trim();
        let (head, actions) = line
            .split_once(" actions=")
            .or_else(|| line.strip_prefix("actions=").map(|a| ("", a)))?;
        let mut fl = FlowLine {
            table: 0,
            priority: DEFAULT_PRIORITY,
            matches: String::new(),
            actions: actions.trim().to_owned(),
            cookie: 0,
            properties: Vec::new(),
        };
        // "k=v, k=v, ..., priority=P,match" — the last ", "-separated token
        // is the match (which itself uses bare commas).
        let tokens: Vec<&str> = head.split(", ").collect();
        let (props, last) = match tokens.split_last() {
            Some((last, props)) => (props, *last),
            None => (&[][..], ""),
        };
        for t in props.iter().map(|t| t.trim().trim_end_matches(',')) {
            let key = t.split('=').next().unwrap_or(t);
            match key {
                "cookie" => fl.cookie = parse_u64(t.split_once('=')?.1)?,
                "table" => fl.table = t.split_once('=')?.1.parse().ok()?,
                k if VOLATILE.contains(&k) => {}
                "" => {}
                _ => fl.properties.push(t.to_owned()),
            }
        }
        let mut rest = Vec::new();
        for item in last.trim().trim_end_matches(',').split(',') {
            let item = item.trim();
            if item.is_empty() {
                continue;
            }
            match item.split_once('=') {
                Some(("priority", p)) => fl.priority = p.parse().ok()?,
                Some(("cookie", c)) => fl.cookie = parse_u64(c)?,
                Some(("table", t)) => fl.table = t.parse().ok()?,
                Some((k, _)) if VOLATILE.contains(&k) => {}
                _ => rest.push(item),
            }
        }
        fl.matches = rest.join(",");
        Some(fl)
    }
}

fn parse_u64(s: &str) -> Option<u64> {
    match s.strip_prefix("0x") {
        Some(h) => u64::from_str_radix(h, 16).ok(),
        None => s.parse().ok(),
    }
}

/// Parses `ovs-ofctl dump-flows` output into flows sorted by table,
/// descending priority, then text; non-flow lines are skipped.
pub fn normalize(text: &str) -> Vec<FlowLine> {
    let mut v: Vec<FlowLine> = text.lines().filter_map(FlowLine::parse).collect();
    v.sort_by(|a, b| {
        (
            a.table,
            std::cmp::Reverse(a.priority),
            &a.matches,
            &a.actions,
        )
            .cmp(&(
                b.table,
                std::cmp::Reverse(b.priority),
                &b.matches,
                &b.actions,
            ))
    });
    v
}

/// [`normalize`] rendered with [`FlowLine`]'s `Display` form.
pub fn normalize_to_strings(text: &str) -> Vec<String> {
    normalize(text).iter().map(ToString::to_string).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn strips_stats_and_keeps_properties() {
        let t = " cookie=0x1f, duration=0.227s, table=3, n_packets=0, n_bytes=0, idle_timeout=10, \
                 idle_age=3, priority=8,conj_id=12,ct_state=+new-est+trk,tcp actions=ct(commit,zone=1),CONTROLLER:65535";
        let f = FlowLine::parse(t).unwrap();
        assert_eq!(f.cookie, 0x1f);
        assert_eq!(f.table, 3);
        assert_eq!(f.priority, 8);
        assert_eq!(f.properties, vec!["idle_timeout=10".to_owned()]);
        assert_eq!(f.matches, "conj_id=12,ct_state=+new-est+trk,tcp");
        assert_eq!(
            f.to_string(),
            "table=3 idle_timeout=10 priority=8,conj_id=12,ct_state=+new-est+trk,tcp \
             actions=ct(commit,zone=1),CONTROLLER:65535"
        );
    }

    #[test]
    fn no_stats_form_and_default_priority() {
        // `dump-flows --no-stats` output and a flow at the default priority.
        let f = FlowLine::parse(" priority=10,in_port=1 actions=drop").unwrap();
        assert_eq!(
            (f.table, f.priority, f.matches.as_str()),
            (0, 10, "in_port=1")
        );
        let f = FlowLine::parse(" table=2, in_port=1 actions=drop").unwrap();
        assert_eq!((f.table, f.priority), (2, 32768));
        let f = FlowLine::parse(
            " cookie=0x0, duration=1s, table=0, n_packets=0, n_bytes=0, actions=NORMAL",
        )
        .unwrap();
        assert_eq!(
            (f.priority, f.matches.as_str(), f.actions.as_str()),
            (32768, "", "NORMAL")
        );
        assert!(FlowLine::parse("OFPST_FLOW reply (OF1.3) (xid=0x2):").is_none());
    }

    #[test]
    fn sorted_by_table_then_priority_descending() {
        let t = " table=1, priority=5 actions=drop\n table=0, priority=1 actions=drop\n table=0, priority=9 actions=drop\n";
        let v = normalize_to_strings(t);
        assert_eq!(
            v,
            vec![
                "table=0 priority=9 actions=drop",
                "table=0 priority=1 actions=drop",
                "table=1 priority=5 actions=drop"
            ]
        );
    }
}
