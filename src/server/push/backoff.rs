//! When a push tries its upstream again: 1 s after the first failure, doubling to at most
//! 30 s, each delay shortened by up to a quarter at random so that pushes that failed
//! together (one network outage) do not all come back in the same instant.
//!
//! The random part is passed in, so the schedule is testable.

use std::time::Duration;

/// The first delay.
pub const FIRST_DELAY: Duration = Duration::from_secs(1);
/// The longest delay.
pub const MAX_DELAY: Duration = Duration::from_secs(30);

/// Capped exponential backoff with jitter.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Backoff {
    failures: u32,
}

impl Backoff {
    /// A backoff with no failure yet.
    pub fn new() -> Self {
        Backoff { failures: 0 }
    }

    /// Failures since the last reset.
    pub fn failures(&self) -> u32 {
        self.failures
    }

    /// Forgets earlier failures (the upstream took the stream for a good while).
    pub fn reset(&mut self) {
        self.failures = 0;
    }

    /// Counts a failure; returns how long to wait before the next attempt. `random` picks
    /// the jitter: the delay is the full step less `random / 2^32` of a quarter of it.
    pub fn next_delay(&mut self, random: u32) -> Duration {
        let step = self.failures.min(5);
        self.failures = self.failures.saturating_add(1);
        let full = FIRST_DELAY.saturating_mul(1 << step).min(MAX_DELAY);
        let quarter_ms = full.as_millis() as u64 / 4;
        let jitter_ms = quarter_ms * u64::from(random) / (u64::from(u32::MAX) + 1);
        full - Duration::from_millis(jitter_ms)
    }
}

impl Default for Backoff {
    fn default() -> Self {
        Backoff::new()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn delays_double_from_one_second_to_thirty_and_stay_there() {
        let mut backoff = Backoff::new();
        let delays: Vec<u64> = (0..8).map(|_| backoff.next_delay(0).as_secs()).collect();
        assert_eq!(delays, [1, 2, 4, 8, 16, 30, 30, 30]);
        assert_eq!(backoff.failures(), 8);
        backoff.reset();
        assert_eq!(backoff.next_delay(0), FIRST_DELAY);
    }

    #[test]
    fn jitter_shortens_a_delay_by_at_most_a_quarter() {
        let mut backoff = Backoff::new();
        assert_eq!(
            backoff.next_delay(u32::MAX / 2 + 1),
            Duration::from_millis(875)
        );
        let mut backoff = Backoff::new();
        let shortest = backoff.next_delay(u32::MAX);
        assert!(shortest > Duration::from_millis(750) && shortest < FIRST_DELAY);
        let mut capped = Backoff { failures: 40 };
        let delay = capped.next_delay(u32::MAX);
        assert!(
            delay >= MAX_DELAY * 3 / 4 && delay <= MAX_DELAY,
            "{delay:?}"
        );
    }
}
