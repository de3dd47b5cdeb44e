//! When to reconnect after the connection is lost.

use crate::Backoff;
use std::time::Duration;

/// Reconnection attempts with backoff, bounded by an optional maximum count.
#[derive(Debug, Clone)]
pub struct Reconnection {
    backoff: Backoff,
    max_attempts: Option<u32>,
    attempts: u32,
}

impl Reconnection {
    /// Reconnection with this backoff, giving up after `max_attempts` (never if `None`).
    pub fn new(backoff: Backoff, max_attempts: Option<u32>) -> Self {
        Reconnection {
            backoff,
            max_attempts,
            attempts: 0,
        }
    }

    /// Attempts made since the last success.
    pub fn attempts(&self) -> u32 {
        self.attempts
    }

    /// The delay before the next attempt, or `None` when the client should give up
    /// (`reconnect_failed`). `random` is uniform in `[0, 1)`.
    pub fn next_delay(&mut self, random: f64) -> Option<Duration> {
        if self.max_attempts.is_some_and(|max| self.attempts >= max) {
            return None;
        }
        let delay = self.backoff.delay(self.attempts, random);
        self.attempts += 1;
        Some(delay)
    }

    /// Carries the attempt count over (when the settings change mid-reconnection).
    pub fn set_attempts(&mut self, attempts: u32) {
        self.attempts = attempts;
    }

    /// The connection is up again: the next loss starts from the first delay.
    pub fn reset(&mut self) {
        self.attempts = 0;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn gives_up_after_max_attempts_and_resets() {
        let backoff = Backoff {
            jitter: 0.0,
            ..Backoff::default()
        };
        let mut r = Reconnection::new(backoff, Some(2));
        assert_eq!(r.next_delay(0.5), Some(Duration::from_millis(1000)));
        assert_eq!(r.next_delay(0.5), Some(Duration::from_millis(2000)));
        assert_eq!(r.next_delay(0.5), None);
        assert_eq!(r.attempts(), 2);
        r.reset();
        assert_eq!(r.next_delay(0.5), Some(Duration::from_millis(1000)));
    }
}
