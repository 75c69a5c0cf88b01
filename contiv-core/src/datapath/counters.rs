//! Packet counters a datapath that counts packets reports: per local
//! endpoint (sent, delivered, dropped), per compiled rule (the new
//! connections it decided, and of those dropped) and drops by reason —
//! where "why was my packet dropped" starts. One set of types for the
//! backends that fill them and the agent API that serves them.

use serde::{Deserialize, Serialize};

/// Every counter of one datapath.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Counters {
    /// Per local endpoint, sorted by id.
    pub endpoints: Vec<EndpointCounters>,
    /// Per compiled rule, sorted by policy, rule, group.
    pub rules: Vec<RuleCounters>,
    /// Drops by reason (only reasons that occurred).
    pub drops: Vec<DropCounter>,
}

impl Counters {
    /// All drops, whatever the reason.
    pub fn total_drops(&self) -> u64 {
        self.drops.iter().map(|d| d.packets).sum()
    }

    /// The drops of `reason` (0 when none occurred).
    pub fn drops_of(&self, reason: &str) -> u64 {
        self.drops
            .iter()
            .filter(|d| d.reason == reason)
            .map(|d| d.packets)
            .sum()
    }
}

/// One local endpoint's counters.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct EndpointCounters {
    /// The endpoint id.
    pub id: String,
    /// Packets it sent.
    pub tx_packets: u64,
    /// Bytes it sent.
    pub tx_bytes: u64,
    /// Of what it sent, dropped (policy, spoofing, no route, rate limit).
    pub tx_drops: u64,
    /// Packets delivered to it.
    pub rx_packets: u64,
    /// Bytes delivered to it.
    pub rx_bytes: u64,
    /// Packets to it dropped by its ingress policy.
    pub rx_drops: u64,
}

/// One compiled rule's counters.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct RuleCounters {
    /// The compiled rule id (hex, as the oracle prints it).
    pub rule_id: String,
    /// `tenant:policy`.
    pub policy: String,
    /// The rule id within the policy.
    pub rule: String,
    /// `tenant:group` the policy is attached to.
    pub group: String,
    /// New connections it decided.
    pub packets: u64,
    /// Of those, dropped because of it.
    pub drops: u64,
}

/// Drops of one reason.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct DropCounter {
    /// Why (`policy`, `spoofed-source`, `no-route`, `rate-limit`, …).
    pub reason: String,
    /// How many packets.
    pub packets: u64,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn drop_totals_sum_by_reason() {
        let c = Counters {
            drops: vec![
                DropCounter {
                    reason: "policy".into(),
                    packets: 3,
                },
                DropCounter {
                    reason: "rate-limit".into(),
                    packets: 5,
                },
            ],
            ..Counters::default()
        };
        assert_eq!(c.total_drops(), 8);
        assert_eq!(c.drops_of("rate-limit"), 5);
        assert_eq!(c.drops_of("no-route"), 0);
    }
}
