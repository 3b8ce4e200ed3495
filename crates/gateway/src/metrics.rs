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
