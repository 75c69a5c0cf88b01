//! The oracle's answer: the action and why.

use contiv_core::ir::{Action, EpgId, IrRule, NO_EPG, RuleId, RuleOrigin, TenantId};
use serde::{Deserialize, Serialize};
use std::fmt;

/// A policy stage a new connection passes through.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Stage {
    /// The `out` rules of the source's group.
    Egress,
    /// The `in` rules of the destination's group.
    Ingress,
}

impl fmt::Display for Stage {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Stage::Egress => "egress",
            Stage::Ingress => "ingress",
        })
    }
}

/// The compiled rule that decided a stage.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct DecidingRule {
    /// Its id.
    pub id: RuleId,
    /// Its priority.
    pub priority: u8,
    /// Its action.
    pub action: Action,
    /// The policy, rule id and group it was compiled from.
    pub origin: RuleOrigin,
}

impl From<&IrRule> for DecidingRule {
    fn from(r: &IrRule) -> Self {
        DecidingRule {
            id: r.id,
            priority: r.priority,
            action: r.action,
            origin: r.origin.clone(),
        }
    }
}

/// The outcome of one stage.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct StageVerdict {
    /// Which stage.
    pub stage: Stage,
    /// The group whose rules were evaluated ([`NO_EPG`]: the endpoint is in
    /// no group, so no rules apply).
    pub epg: EpgId,
    /// The stage's action.
    pub action: Action,
    /// The rule that decided it; `None` = no rule matched (default allow).
    pub rule: Option<DecidingRule>,
}

impl fmt::Display for StageVerdict {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let side = match self.stage {
            Stage::Egress => "source",
            Stage::Ingress => "destination",
        };
        match &self.rule {
            _ if self.epg == NO_EPG => write!(
                f,
                "{}: {side} is in no group, no rules apply (allow)",
                self.stage
            ),
            None => write!(
                f,
                "{}: no rule of group id {} matched (default allow)",
                self.stage, self.epg
            ),
            Some(r) => write!(
                f,
                "{}: rule {} of policy {} on group {} (priority {}, id {}) {}",
                self.stage,
                r.origin.rule,
                r.origin.policy,
                r.origin.epg,
                r.priority,
                r.id,
                match r.action {
                    Action::Allow => "allows",
                    Action::Deny => "denies",
                }
            ),
        }
    }
}

/// Why a packet got its action.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub enum Cause {
    /// Source and destination are in different tenants.
    TenantIsolation {
        /// The source tenant.
        src: TenantId,
        /// The destination tenant.
        dst: TenantId,
    },
    /// The packet belongs to an allowed connection.
    Reply,
    /// A new connection, judged by both stages.
    Policy {
        /// The source group's `out` rules.
        egress: StageVerdict,
        /// The destination group's `in` rules.
        ingress: StageVerdict,
    },
}

/// The oracle's verdict on a packet, with its explanation. `Display`
/// renders the explanation as one line.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Verdict {
    /// Allow or deny.
    pub action: Action,
    /// Why.
    pub cause: Cause,
}

impl Verdict {
    /// True if the packet passes.
    pub fn allowed(&self) -> bool {
        self.action == Action::Allow
    }

    /// The stage that decided a policy verdict: the first denying stage
    /// (egress before ingress) for a deny; for an allow, the ingress stage
    /// if a rule decided it, else the egress stage if a rule decided it,
    /// else none (both stages allowed by default). `None` for isolation
    /// and replies.
    pub fn deciding_stage(&self) -> Option<&StageVerdict> {
        let Cause::Policy { egress, ingress } = &self.cause else {
            return None;
        };
        match self.action {
            Action::Deny if egress.action == Action::Deny => Some(egress),
            Action::Deny => Some(ingress),
            Action::Allow if ingress.rule.is_some() => Some(ingress),
            Action::Allow if egress.rule.is_some() => Some(egress),
            Action::Allow => None,
        }
    }

    /// The rule that decided the verdict (see [`Verdict::deciding_stage`]);
    /// `None` for isolation, replies and default allows.
    pub fn deciding_rule(&self) -> Option<&DecidingRule> {
        self.deciding_stage().and_then(|s| s.rule.as_ref())
    }
}

impl fmt::Display for Verdict {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match &self.cause {
            Cause::TenantIsolation { src, dst } => write!(
                f,
                "deny: source tenant id {src} and destination tenant id {dst} differ; tenants never reach each other"
            ),
            Cause::Reply => write!(f, "allow: reply of an allowed connection"),
            Cause::Policy { egress, ingress } => match self.deciding_stage() {
                Some(decider) => {
                    let other = if decider.stage == Stage::Egress {
                        ingress
                    } else {
                        egress
                    };
                    write!(
                        f,
                        "{}: decided at {decider}; {other}",
                        action_word(self.action)
                    )
                }
                None => write!(
                    f,
                    "{}: no rule matched (default allow); {egress}; {ingress}",
                    action_word(self.action)
                ),
            },
        }
    }
}

fn action_word(a: Action) -> &'static str {
    match a {
        Action::Allow => "allow",
        Action::Deny => "deny",
    }
}
