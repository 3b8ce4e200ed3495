//! Metric names (recorded through the `metrics` facade; `zkfleet sequencer` exports them on
//! `GET /metrics` of its own listener).

/// Counter: batches produced (executed, stored, ready for the fleet).
pub const BATCHES_PRODUCED: &str = "zkfleet_sequencer_batches_produced_total";
/// Counter: final proofs verified and accepted (each batch once).
pub const PROOFS_ACCEPTED: &str = "zkfleet_sequencer_proofs_accepted_total";
/// Counter, label `reason` ([`crate::Refusal::reason`]): final proofs refused.
pub const PROOFS_REFUSED: &str = "zkfleet_sequencer_proofs_refused_total";
/// Gauge: the latest produced batch number.
pub const LATEST_PRODUCED: &str = "zkfleet_sequencer_latest_produced_batch";
/// Gauge: the latest proven (accepted) batch number.
pub const LATEST_PROVEN: &str = "zkfleet_sequencer_latest_proven_batch";
/// Counter, label `op` (`submit`, `poll`): failed exchanges with a push-mode gateway.
pub const GATEWAY_ERRORS: &str = "zkfleet_sequencer_gateway_errors_total";
/// Counter, labels `endpoint`, `status`: HTTP answers of the sequencer's own server.
pub const REQUESTS: &str = "zkfleet_sequencer_requests_total";

/// Registers the counters whose labels are known at start at 0 (and the two gauges), so a
/// healthy sequencer's page already shows its refusal and error series.
pub fn register(latest_produced: u32, latest_proven: u32) {
    ::metrics::counter!(BATCHES_PRODUCED).increment(0);
    ::metrics::counter!(PROOFS_ACCEPTED).increment(0);
    for reason in crate::Refusal::REASONS {
        ::metrics::counter!(PROOFS_REFUSED, "reason" => reason).increment(0);
    }
    for op in ["submit", "poll"] {
        ::metrics::counter!(GATEWAY_ERRORS, "op" => op).increment(0);
    }
    record_heads(latest_produced, latest_proven);
}

/// Records the two gauges (after a change, and at start so they exist before the first one).
pub fn record_heads(latest_produced: u32, latest_proven: u32) {
    ::metrics::gauge!(LATEST_PRODUCED).set(f64::from(latest_produced));
    ::metrics::gauge!(LATEST_PROVEN).set(f64::from(latest_proven));
}
