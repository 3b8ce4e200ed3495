//! Metric names (documented in `docs/gateway.md`), emitted through the `metrics` facade; the
//! process installs the Prometheus recorder.

/// Counter: HTTP requests answered, labelled `endpoint` (the route, or `unmatched`) and
/// `status` (the HTTP status code).
pub const REQUESTS: &str = "zkfleet_gateway_requests_total";
/// Histogram: seconds from request to response, labelled `endpoint`.
pub const REQUEST_SECONDS: &str = "zkfleet_gateway_request_seconds";
/// Counter: requests refused by authentication, labelled `reason` (`missing`, `malformed`,
/// `invalid`).
pub const AUTH_FAILURES: &str = "zkfleet_gateway_auth_failures_total";
/// Counter: pull-mode failures, labelled `op` (`proof_generation_data`, `submit_proof`,
/// `ingest` for a batch the upstream sent that the gateway refused, `read_proof`).
pub const UPSTREAM_ERRORS: &str = "zkfleet_gateway_upstream_errors_total";
/// Counter: batches accepted (newly inserted), labelled `mode` (`push`, `pull`).
pub const BATCHES_RECEIVED: &str = "zkfleet_gateway_batches_received_total";
/// Counter: final proofs delivered (first delivery only), labelled `mode`.
pub const PROOFS_DELIVERED: &str = "zkfleet_gateway_proofs_delivered_total";

/// Registers the gateway's counters at 0 for every label value known before the first
/// request (refusal reasons, pull-mode operations, both modes), so that alerts and rates over
/// them read 0 from the first scrape rather than "no data". `requests_total` and
/// `request_seconds` carry the endpoint and the answer's status, known only per request.
/// A push-mode gateway reports its pull-mode counters at 0, which is what they are.
pub fn register() {
    for reason in ["missing", "malformed", "invalid"] {
        ::metrics::counter!(AUTH_FAILURES, "reason" => reason).increment(0);
    }
    for op in [
        "proof_generation_data",
        "submit_proof",
        "ingest",
        "read_proof",
    ] {
        ::metrics::counter!(UPSTREAM_ERRORS, "op" => op).increment(0);
    }
    for mode in ["push", "pull"] {
        ::metrics::counter!(BATCHES_RECEIVED, "mode" => mode).increment(0);
        ::metrics::counter!(PROOFS_DELIVERED, "mode" => mode).increment(0);
    }
}
