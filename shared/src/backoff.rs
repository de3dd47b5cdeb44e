//! Reconnection delays: exponential backoff with jitter, as socket.io-client computes it.

use std::time::Duration;

/// The delay rule a client applies between reconnection attempts.
///
/// The n-th attempt waits `min * factor^n`, moved up or down by up to `jitter` of itself,
/// and never more than `max`. Randomness comes in as an argument so the rule stays
/// deterministic and testable.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Backoff {
    /// Delay before the first attempt (socket.io-client's `reconnectionDelay`).
    pub min: Duration,
    /// Upper bound of any delay (`reconnectionDelayMax`).
    pub max: Duration,
    /// Growth per attempt.
    pub factor: f64,
    /// Randomization between 0 and 1 (`randomizationFactor`).
    pub jitter: f64,
}

impl Default for Backoff {
    fn default() -> Self {
        Backoff {
            min: Duration::from_millis(1000),
            max: Duration::from_millis(5000),
            factor: 2.0,
            jitter: 0.5,
        }
    }
}

impl Backoff {
    /// The delay before attempt number `attempt` (0 for the first), given a uniform
    /// random number `random` in `[0, 1)`.
    pub fn delay(&self, attempt: u32, random: f64) -> Duration {
        let min = self.min.as_millis() as f64;
        let max = self.max.as_millis() as f64;
        let mut ms = min * self.factor.powi(attempt.min(64) as i32);
        if self.jitter > 0.0 {
            let deviation = (random * self.jitter * ms).floor();
            // socket.io-client picks the direction from the same random draw.
            if ((random * 10.0).floor() as u64) & 1 == 0 {
                ms -= deviation;
            } else {
                ms += deviation;
            }
        }
        let ms = if ms.is_finite() {
            ms.clamp(0.0, max)
        } else {
            max
        };
        Duration::from_millis(ms as u64)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn grows_exponentially_and_caps() {
        let b = Backoff {
            jitter: 0.0,
            ..Backoff::default()
        };
        assert_eq!(b.delay(0, 0.3), Duration::from_millis(1000));
        assert_eq!(b.delay(1, 0.3), Duration::from_millis(2000));
        assert_eq!(b.delay(2, 0.3), Duration::from_millis(4000));
        assert_eq!(b.delay(3, 0.3), Duration::from_millis(5000));
        assert_eq!(b.delay(1000, 0.3), Duration::from_millis(5000));
    }

    #[test]
    fn jitter_moves_both_ways_within_bounds() {
        let b = Backoff::default();
        // floor(0.05 * 10) = 0 -> even -> shorter
        assert_eq!(b.delay(0, 0.05), Duration::from_millis(975));
        // floor(0.15 * 10) = 1 -> odd -> longer
        assert_eq!(b.delay(0, 0.15), Duration::from_millis(1075));
        for i in 0..100 {
            let d = b.delay(0, i as f64 / 100.0);
            assert!(d >= Duration::from_millis(500) && d <= Duration::from_millis(1500));
        }
    }
}
