//! The fault-injection hook: named steps of the endpoint operations where a
//! configured fraction of calls fails on purpose, so tests can prove that
//! no failure at any point leaves anything behind.
//!
//! Inert unless configured (`--faults` / `CONTIV_NETPLUGIN_FAULTS`):
//! `after_create=0.3,dp_add_local=0.1` fails 30 % of the passes through
//! `after_create` and 10 % of local-endpoint plumbing; `*=0.05` applies to
//! every step; `after_create@2000` makes every pass through the step wait
//! 2 s first (to kill the agent in the middle of an operation). The
//! generator is seeded (`--fault-seed`), so a run is reproducible for a
//! given order of calls.

use super::error::{AgentError, AgentErrorKind};
use std::collections::BTreeMap;
use std::fmt;
use std::str::FromStr;
use std::sync::Mutex;

/// A point in an endpoint operation where a fault can be injected.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Step {
    /// ADD: before the endpoint is created at netmaster.
    BeforeCreate,
    /// ADD: after netmaster created the endpoint, before local plumbing.
    AfterCreate,
    /// ADD: after the endpoint was plumbed, before the answer.
    AfterPlumb,
    /// DEL: before the local endpoint is removed.
    BeforeUnplumb,
    /// DEL: after the local endpoint was removed, before netmaster.
    AfterUnplumb,
    /// Docker IPAM: after netmaster reserved an address, before answering.
    AfterReserve,
    /// The datapath: an `AddLocalEndpoint` operation fails.
    DpAddLocal,
}

impl Step {
    /// Every step.
    pub const ALL: [Step; 7] = [
        Step::BeforeCreate,
        Step::AfterCreate,
        Step::AfterPlumb,
        Step::BeforeUnplumb,
        Step::AfterUnplumb,
        Step::AfterReserve,
        Step::DpAddLocal,
    ];

    /// The name used in the fault specification.
    pub fn name(self) -> &'static str {
        match self {
            Step::BeforeCreate => "before_create",
            Step::AfterCreate => "after_create",
            Step::AfterPlumb => "after_plumb",
            Step::BeforeUnplumb => "before_unplumb",
            Step::AfterUnplumb => "after_unplumb",
            Step::AfterReserve => "after_reserve",
            Step::DpAddLocal => "dp_add_local",
        }
    }
}

impl fmt::Display for Step {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

impl FromStr for Step {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Step::ALL
            .into_iter()
            .find(|st| st.name() == s)
            .ok_or_else(|| {
                let names: Vec<&str> = Step::ALL.iter().map(|s| s.name()).collect();
                format!(
                    "unknown fault step {s:?}; known steps: {}, *",
                    names.join(", ")
                )
            })
    }
}

/// The configured faults and their random generator.
#[derive(Debug, Default)]
pub struct Faults {
    plan: BTreeMap<Step, f64>,
    delays: BTreeMap<Step, std::time::Duration>,
    rng: Mutex<u64>,
    injected: Mutex<BTreeMap<Step, u64>>,
}

impl Faults {
    /// No faults.
    pub fn none() -> Self {
        Faults::default()
    }

    /// Parses `step=probability,…` (`*` for every step).
    pub fn parse(spec: &str, seed: u64) -> Result<Self, String> {
        let mut plan = BTreeMap::new();
        let mut delays = BTreeMap::new();
        for part in spec.split(',').map(str::trim).filter(|p| !p.is_empty()) {
            if let Some((step, ms)) = part.split_once('@') {
                let ms: u64 = ms.trim().parse().map_err(|_| {
                    format!("invalid fault delay in {part:?}: expected step@milliseconds")
                })?;
                delays.insert(step.trim().parse()?, std::time::Duration::from_millis(ms));
                continue;
            }
            let (step, p) = part
                .split_once('=')
                .ok_or_else(|| format!("invalid fault {part:?}: expected step=probability"))?;
            let p: f64 = p
                .trim()
                .parse()
                .map_err(|_| format!("invalid fault probability in {part:?}"))?;
            if !(0.0..=1.0).contains(&p) {
                return Err(format!(
                    "fault probability in {part:?} must be between 0 and 1"
                ));
            }
            if step.trim() == "*" {
                for s in Step::ALL {
                    plan.insert(s, p);
                }
            } else {
                plan.insert(step.trim().parse()?, p);
            }
        }
        Ok(Faults {
            plan,
            delays,
            rng: Mutex::new(seed.max(1)),
            injected: Mutex::new(BTreeMap::new()),
        })
    }

    /// True if any fault is configured.
    pub fn active(&self) -> bool {
        !self.plan.is_empty() || !self.delays.is_empty()
    }

    /// Waits for the configured delay of `step`, then [`check`](Self::check)s it.
    pub async fn hit(&self, step: Step) -> Result<(), AgentError> {
        if let Some(d) = self.delays.get(&step) {
            tokio::time::sleep(*d).await;
        }
        self.check(step)
    }

    /// Fails with an [`AgentErrorKind::Injected`] error if a fault fires at
    /// `step`.
    pub fn check(&self, step: Step) -> Result<(), AgentError> {
        let Some(&p) = self.plan.get(&step) else {
            return Ok(());
        };
        if self.draw() < p {
            *self
                .injected
                .lock()
                .unwrap_or_else(|e| e.into_inner())
                .entry(step)
                .or_default() += 1;
            return Err(AgentError::new(
                AgentErrorKind::Injected,
                format!("fault injected at step {step} (test hook); retry"),
            ));
        }
        Ok(())
    }

    /// How many faults fired, per step.
    pub fn injected(&self) -> BTreeMap<Step, u64> {
        self.injected
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .clone()
    }

    /// A uniform draw in [0, 1) from xorshift64*.
    fn draw(&self) -> f64 {
        let mut s = self.rng.lock().unwrap_or_else(|e| e.into_inner());
        let mut x = *s;
        x ^= x >> 12;
        x ^= x << 25;
        x ^= x >> 27;
        *s = x;
        let r = x.wrapping_mul(0x2545_f491_4f6c_dd1d);
        (r >> 11) as f64 / (1u64 << 53) as f64
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn specs_parse_and_fire_at_the_configured_rate() {
        let f = Faults::parse("after_create=0.5, dp_add_local=1", 7).unwrap();
        assert!(f.active());
        assert!(f.check(Step::BeforeCreate).is_ok());
        assert_eq!(
            f.check(Step::DpAddLocal).unwrap_err().kind,
            AgentErrorKind::Injected
        );
        let fired = (0..2000)
            .filter(|_| f.check(Step::AfterCreate).is_err())
            .count();
        assert!((800..1200).contains(&fired), "{fired}");
        assert_eq!(f.injected()[&Step::AfterCreate], fired as u64);
        let all = Faults::parse("*=1", 1).unwrap();
        assert!(Step::ALL.iter().all(|s| all.check(*s).is_err()));
        assert!(
            Faults::parse("nope=0.1", 1)
                .unwrap_err()
                .contains("unknown fault step")
        );
        assert!(Faults::parse("after_create=2", 1).is_err());
        assert!(Faults::parse("after_create", 1).is_err());
        let d = Faults::parse("after_plumb@5", 1).unwrap();
        assert!(d.active() && d.check(Step::AfterPlumb).is_ok());
        assert!(Faults::parse("after_plumb@x", 1).is_err());
        assert!(!Faults::none().active());
    }
}
