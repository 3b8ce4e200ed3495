//! Which failures are worth another try, and how long to wait before it.
//!
//! The store is the only retry layer: object_store's own HTTP retries are switched off when a
//! backend is built, so the policy here is what runs, what the metrics count and what the tests
//! check. Transient = the same request may well succeed in a moment: connection failures,
//! timeouts, interrupted transfers, HTTP 5xx, 429 (throttling) and 408. Everything else — not
//! found, permission denied, bad request, a blob that fails to decode — is permanent and
//! returned at once.

use std::error::Error as StdError;
use std::io;
use std::time::Duration;

use rand::Rng;

/// Exponential backoff with jitter.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct RetryPolicy {
    /// Retries after the first attempt.
    pub max_retries: u32,
    /// Delay before the first retry.
    pub initial_backoff: Duration,
    /// Ceiling of the delay.
    pub max_backoff: Duration,
    /// Each delay is scaled by a random factor in `[1 - jitter, 1 + jitter]`, so that workers
    /// failing together do not retry together.
    pub jitter: f64,
}

impl Default for RetryPolicy {
    fn default() -> Self {
        Self {
            max_retries: 5,
            initial_backoff: Duration::from_secs(1),
            max_backoff: Duration::from_secs(30),
            jitter: 0.2,
        }
    }
}

impl RetryPolicy {
    /// A policy that never retries.
    pub fn none() -> Self {
        Self {
            max_retries: 0,
            ..Self::default()
        }
    }

    /// The delay before retry number `retry` (0-based), without jitter:
    /// `min(initial × 2^retry, max)`.
    pub fn base_delay(&self, retry: u32) -> Duration {
        let factor = 2u32.saturating_pow(retry.min(31));
        self.initial_backoff
            .saturating_mul(factor)
            .min(self.max_backoff)
    }

    /// The delay before retry number `retry`, with jitter.
    pub fn delay(&self, retry: u32) -> Duration {
        let base = self.base_delay(retry).as_secs_f64();
        let jitter = self.jitter.clamp(0.0, 1.0);
        let factor = if jitter > 0.0 {
            rand::thread_rng().gen_range(1.0 - jitter..=1.0 + jitter)
        } else {
            1.0
        };
        Duration::from_secs_f64(base * factor)
    }
}

/// Whether an object_store error is worth retrying.
pub fn is_transient(error: &object_store::Error) -> bool {
    use object_store::Error as E;
    match error {
        E::Generic { source, .. } => generic_is_transient(source.as_ref()),
        // JoinError: a panicked blocking task in the local backend; retrying repeats the panic.
        E::NotFound { .. }
        | E::InvalidPath { .. }
        | E::JoinError { .. }
        | E::NotSupported { .. }
        | E::AlreadyExists { .. }
        | E::Precondition { .. }
        | E::NotModified { .. }
        | E::NotImplemented
        | E::PermissionDenied { .. }
        | E::Unauthenticated { .. }
        | E::UnknownConfigurationKey { .. } => false,
        // object_store::Error is non-exhaustive: a variant added later is not retried blindly.
        _ => false,
    }
}

/// Walks the cause chain of a `Generic` error. The first cause that says what happened decides;
/// a cause chain that says nothing recognisable is retried, as ZKsync's store retries every
/// error it does not know to be permanent.
fn generic_is_transient(error: &(dyn StdError + 'static)) -> bool {
    let mut current: Option<&(dyn StdError + 'static)> = Some(error);
    while let Some(e) = current {
        if let Some(io_error) = e.downcast_ref::<io::Error>() {
            return io_kind_is_transient(io_error.kind());
        }
        if let Some(http) = e.downcast_ref::<object_store::client::HttpError>() {
            use object_store::client::HttpErrorKind as K;
            return matches!(
                http.kind(),
                K::Connect | K::Request | K::Timeout | K::Interrupted
            );
        }
        if let Some(http) = e.downcast_ref::<reqwest::Error>() {
            // A request that could not be built or was redirected wrongly fails the same way
            // every time; anything that went wrong on the wire may not.
            return !(http.is_builder() || http.is_redirect());
        }
        if let Some(status) = http_status_in_message(&e.to_string()) {
            return status_is_transient(status);
        }
        current = e.source();
    }
    true
}

/// I/O failures that a later attempt can get past.
pub fn io_kind_is_transient(kind: io::ErrorKind) -> bool {
    use io::ErrorKind as K;
    matches!(
        kind,
        K::TimedOut
            | K::Interrupted
            | K::WouldBlock
            | K::ConnectionReset
            | K::ConnectionAborted
            | K::ConnectionRefused
            | K::NotConnected
            | K::BrokenPipe
            | K::UnexpectedEof
    )
}

/// HTTP statuses worth retrying: server errors, throttling, request timeout.
pub fn status_is_transient(status: u16) -> bool {
    status >= 500 || status == 429 || status == 408
}

/// object_store reports an HTTP failure as an error type it does not export, whose message reads
/// "Server returned non-2xx status code: 503 Service Unavailable: …". The message is the only
/// public way to the status, so read it from there.
fn http_status_in_message(message: &str) -> Option<u16> {
    const MARKER: &str = "status code: ";
    let start = message.find(MARKER)? + MARKER.len();
    let digits = message.get(start..start + 3)?;
    digits
        .bytes()
        .all(|b| b.is_ascii_digit())
        .then(|| digits.parse().ok())
        .flatten()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn generic(source: impl StdError + Send + Sync + 'static) -> object_store::Error {
        object_store::Error::Generic {
            store: "test",
            source: Box::new(source),
        }
    }

    #[derive(Debug, thiserror::Error)]
    #[error(
        "Error performing PUT http://x in 1ms - Server returned non-2xx status code: {0}: body"
    )]
    struct StatusLike(&'static str);

    #[test]
    fn classifies_errors() {
        let not_found = object_store::Error::NotFound {
            path: "p".into(),
            source: Box::new(io::Error::from(io::ErrorKind::NotFound)),
        };
        assert!(!is_transient(&not_found));
        let denied = object_store::Error::PermissionDenied {
            path: "p".into(),
            source: Box::new(io::Error::from(io::ErrorKind::PermissionDenied)),
        };
        assert!(!is_transient(&denied));
        assert!(is_transient(&generic(io::Error::from(
            io::ErrorKind::ConnectionReset
        ))));
        assert!(is_transient(&generic(io::Error::from(
            io::ErrorKind::TimedOut
        ))));
        assert!(!is_transient(&generic(io::Error::from(
            io::ErrorKind::PermissionDenied
        ))));
        assert!(!is_transient(&generic(io::Error::other("disk is on fire"))));
        assert!(is_transient(&generic(StatusLike(
            "503 Service Unavailable"
        ))));
        assert!(is_transient(&generic(StatusLike("429 Too Many Requests"))));
        assert!(!is_transient(&generic(StatusLike("400 Bad Request"))));
        assert!(is_transient(&generic(
            object_store::client::HttpError::new(
                object_store::client::HttpErrorKind::Connect,
                io::Error::other("refused"),
            )
        )));
        assert!(!is_transient(&generic(
            object_store::client::HttpError::new(
                object_store::client::HttpErrorKind::Decode,
                io::Error::other("bad xml"),
            )
        )));
    }

    #[test]
    fn reads_status_codes_from_messages() {
        assert_eq!(
            http_status_in_message("Server returned non-2xx status code: 503 Service Unavailable"),
            Some(503)
        );
        assert_eq!(http_status_in_message("status code: 50"), None);
        assert_eq!(http_status_in_message("no status here"), None);
    }

    #[test]
    fn backoff_doubles_up_to_the_ceiling_with_bounded_jitter() {
        let policy = RetryPolicy {
            max_retries: 10,
            initial_backoff: Duration::from_millis(100),
            max_backoff: Duration::from_millis(1000),
            jitter: 0.2,
        };
        let base: Vec<u64> = (0..6)
            .map(|r| policy.base_delay(r).as_millis() as u64)
            .collect();
        assert_eq!(base, [100, 200, 400, 800, 1000, 1000]);
        assert_eq!(policy.base_delay(u32::MAX), Duration::from_millis(1000));
        let mut distinct = std::collections::BTreeSet::new();
        for _ in 0..200 {
            let d = policy.delay(1).as_secs_f64();
            assert!((0.16..=0.24).contains(&d), "{d}");
            distinct.insert((d * 1e6) as u64);
        }
        assert!(distinct.len() > 10, "jitter must vary the delay");
        let exact = RetryPolicy {
            jitter: 0.0,
            ..policy
        };
        assert_eq!(exact.delay(2), Duration::from_millis(400));
    }
}
