//! The picker's idle backoff: wait `initial`, then twice as long each time nothing was found,
//! up to `max`; back to `initial` as soon as a job is picked.

use std::time::Duration;

/// The picker's wait between two empty picks.
#[derive(Debug, Clone)]
pub struct IdleBackoff {
    initial: Duration,
    max: Duration,
    next: Duration,
}

impl IdleBackoff {
    /// Starts at `initial` (at most `max`) and doubles up to `max`.
    pub fn new(initial: Duration, max: Duration) -> Self {
        let initial = initial.min(max);
        Self {
            initial,
            max,
            next: initial,
        }
    }

    /// The delay to wait now; the following one is twice as long (capped).
    pub fn next_delay(&mut self) -> Duration {
        let delay = self.next;
        self.next = self.next.saturating_mul(2).min(self.max);
        delay
    }

    /// Called when a job was picked.
    pub fn reset(&mut self) {
        self.next = self.initial;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn doubles_caps_and_resets() {
        let ms = Duration::from_millis;
        let mut b = IdleBackoff::new(ms(1000), ms(5000));
        let seq: Vec<Duration> = (0..5).map(|_| b.next_delay()).collect();
        assert_eq!(seq, [ms(1000), ms(2000), ms(4000), ms(5000), ms(5000)]);
        b.reset();
        assert_eq!(b.next_delay(), ms(1000));
        // An initial delay above the ceiling is clamped to it.
        let mut b = IdleBackoff::new(ms(10), ms(3));
        assert_eq!(b.next_delay(), ms(3));
    }
}
