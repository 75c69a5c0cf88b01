//! How often and how patiently a conditional write is retried.

use std::hash::{BuildHasher, RandomState};
use std::time::Duration;

/// Retry policy of persisted allocations.
///
/// Attempt 1 uses the cached state; after a lost compare-and-swap the state
/// is re-read and the next attempt follows at once; later ones wait an
/// exponentially growing, jittered delay between `base_delay` and
/// `max_delay`. After `max_attempts` the operation fails with
/// [`IpamError::Contention`](crate::IpamError::Contention).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct RetryPolicy {
    /// Attempts in total, at least 1. Default 100.
    pub max_attempts: u32,
    /// First backoff delay. Default 500 µs.
    pub base_delay: Duration,
    /// Largest backoff delay. Default 50 ms.
    pub max_delay: Duration,
}

impl Default for RetryPolicy {
    fn default() -> Self {
        RetryPolicy {
            max_attempts: 100,
            base_delay: Duration::from_micros(500),
            max_delay: Duration::from_millis(50),
        }
    }
}

impl RetryPolicy {
    /// The delay before attempt `attempt` (1-based; attempts 1 and 2 do not
    /// wait): a random value in `[d/2, d]` with `d = base * 2^(attempt-3)`
    /// capped at `max_delay`.
    pub fn delay(&self, attempt: u32) -> Duration {
        if attempt <= 2 {
            return Duration::ZERO;
        }
        let exp = (attempt - 3).min(20);
        let d = self
            .base_delay
            .saturating_mul(1u32 << exp)
            .min(self.max_delay);
        let nanos = u64::try_from(d.as_nanos()).unwrap_or(u64::MAX);
        if nanos < 2 {
            return d;
        }
        let jitter = RandomState::new().hash_one(attempt) % (nanos / 2);
        Duration::from_nanos(nanos / 2 + jitter)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn delays_grow_and_are_capped() {
        let p = RetryPolicy::default();
        assert_eq!(p.delay(1), Duration::ZERO);
        assert_eq!(p.delay(2), Duration::ZERO);
        let d3 = p.delay(3);
        assert!(
            d3 >= Duration::from_micros(250) && d3 <= Duration::from_micros(500),
            "{d3:?}"
        );
        let d50 = p.delay(50);
        assert!(
            d50 >= Duration::from_millis(25) && d50 <= Duration::from_millis(50),
            "{d50:?}"
        );
    }
}
