//! Rate-limited logging of refused requests.
//!
//! Every refusal used to be one `warn` line: an unauthenticated client sending garbage as fast
//! as it can would fill the disk with them. A [`RefusalLog`] lets a burst through (the first
//! refusals are what an operator needs to see), then drops lines until its window ends; the
//! next line logged says how many were dropped (`suppressed`). The metrics still count every
//! refusal (e.g. the gateway's `zkfleet_gateway_auth_failures_total` and
//! `zkfleet_gateway_requests_total`).

use std::sync::{Mutex, PoisonError};
use std::time::{Duration, Instant};

/// Lines logged per window at most, per [`RefusalLog`].
pub const BURST: u32 = 20;
/// The window.
pub const WINDOW: Duration = Duration::from_secs(60);

#[derive(Debug)]
struct Window {
    started: Option<Instant>,
    logged: u32,
    suppressed: u64,
}

/// One category of refusals (authentication, submissions) and its window.
#[derive(Debug)]
pub struct RefusalLog {
    window: Mutex<Window>,
}

impl RefusalLog {
    /// A log that has refused nothing yet.
    pub const fn new() -> Self {
        Self {
            window: Mutex::new(Window {
                started: None,
                logged: 0,
                suppressed: 0,
            }),
        }
    }

    /// Whether to log this refusal: `Some(n)` — log it, mentioning the `n` refusals dropped
    /// since the last line logged — or `None` — drop it.
    pub fn admit(&self) -> Option<u64> {
        self.admit_at(Instant::now())
    }

    fn admit_at(&self, now: Instant) -> Option<u64> {
        // A poisoned lock only means a panic elsewhere while counting: the counts are fine.
        let mut w = self.window.lock().unwrap_or_else(PoisonError::into_inner);
        let expired = w
            .started
            .is_none_or(|started| now.saturating_duration_since(started) >= WINDOW);
        if expired {
            w.started = Some(now);
            w.logged = 0;
        }
        if w.logged < BURST {
            w.logged += 1;
            Some(std::mem::take(&mut w.suppressed))
        } else {
            w.suppressed += 1;
            None
        }
    }
}

impl Default for RefusalLog {
    fn default() -> Self {
        Self::new()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lets_a_burst_through_then_reports_what_it_dropped() {
        let log = RefusalLog::new();
        let start = Instant::now();
        for _ in 0..BURST {
            assert_eq!(log.admit_at(start), Some(0));
        }
        for _ in 0..1000 {
            assert_eq!(log.admit_at(start + Duration::from_secs(1)), None);
        }
        assert_eq!(log.admit_at(start + WINDOW), Some(1000));
        assert_eq!(log.admit_at(start + WINDOW), Some(0));
    }
}
