//! The prover API's metrics (through the `metrics` facade; docs/prover-api.md, "Metrics").
//!
//! Counters count what this process saw; the `zkfleet_outside_prover_*` gauges are the ledger's
//! totals, read from the database at every sweep, so they agree across API replicas and
//! restarts.

use std::time::Duration;

use zkfleet_dal::OutsideProverStats;
use zkfleet_types::AggregationRound;

pub(crate) fn request(endpoint: &'static str, status: u16) {
    metrics::counter!("zkfleet_prover_api_requests_total",
        "endpoint" => endpoint, "status" => status.to_string())
    .increment(1);
}

pub(crate) fn leased(prover: &str, round: AggregationRound) {
    metrics::counter!("zkfleet_prover_api_leases_total",
        "prover" => prover.to_owned(), "round" => round.name())
    .increment(1);
}

pub(crate) fn accepted(prover: &str, round: AggregationRound, proving: Duration, earnings: u64) {
    metrics::counter!("zkfleet_prover_api_proofs_accepted_total",
        "prover" => prover.to_owned(), "round" => round.name())
    .increment(1);
    metrics::histogram!("zkfleet_prover_api_lease_to_accept_seconds",
        "round" => round.name())
    .record(proving.as_secs_f64());
    metrics::counter!("zkfleet_prover_api_earnings_total", "prover" => prover.to_owned())
        .increment(earnings);
}

pub(crate) fn refused(prover: &str, reason: &'static str) {
    metrics::counter!("zkfleet_prover_api_proofs_refused_total",
        "prover" => prover.to_owned(), "reason" => reason)
    .increment(1);
}

pub(crate) fn missed(prover: &str) {
    metrics::counter!("zkfleet_prover_api_deadlines_missed_total", "prover" => prover.to_owned())
        .increment(1);
}

pub(crate) fn suspended(prover: &str, cause: &'static str) {
    metrics::counter!("zkfleet_prover_api_suspensions_total",
        "prover" => prover.to_owned(), "cause" => cause)
    .increment(1);
}

pub(crate) fn rate_limited(scope: &'static str) {
    metrics::counter!("zkfleet_prover_api_rate_limited_total", "scope" => scope).increment(1);
}

pub(crate) fn login_refused(reason: &'static str) {
    metrics::counter!("zkfleet_prover_api_login_refusals_total", "reason" => reason).increment(1);
}

pub(crate) fn verify_time(round: AggregationRound, elapsed: Duration) {
    metrics::histogram!("zkfleet_prover_api_verify_seconds", "round" => round.name())
        .record(elapsed.as_secs_f64());
}

/// The ledger's totals per prover, as gauges.
pub(crate) fn ledger(stats: &[OutsideProverStats]) {
    for s in stats {
        let name = s.name.clone();
        let gauge = |kind: &'static str, value: u64| {
            metrics::gauge!("zkfleet_outside_prover_jobs",
                "prover" => name.clone(), "kind" => kind)
            .set(value as f64);
        };
        gauge("leased", s.leased);
        gauge("accepted", s.accepted);
        gauge("refused", s.refused);
        gauge("missed", s.missed);
        gauge("active_leases", s.active_leases);
        metrics::gauge!("zkfleet_outside_prover_earnings", "prover" => name.clone())
            .set(s.earnings as f64);
        metrics::gauge!("zkfleet_outside_prover_proving_seconds", "prover" => name.clone())
            .set(s.proving_ms as f64 / 1000.0);
        metrics::gauge!("zkfleet_outside_prover_suspended", "prover" => name.clone()).set(
            if s.status == Some(zkfleet_dal::OutsideProverStatus::Suspended) {
                1.0
            } else {
                0.0
            },
        );
    }
}
