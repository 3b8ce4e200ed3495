//! The gateway over real HTTP, against a real database and a real local-directory store.
//!
//! Every body runs twice, as `postgres::<name>` (a fresh database on the server named by
//! `ZKFLEET_TEST_DATABASE_URL`; the test fails if it is not set) and `sqlite::<name>` (a fresh
//! file in a temporary directory).

// An integration test links every dependency of its package and uses only some.
#![allow(unused_crate_dependencies)]

mod harness;

mod auth;
mod pull;
mod push;
mod startup;

use auth::*;
use pull::*;
use push::*;
use startup::*;

backend_tests!(
    submit_stores_the_input_and_inserts_the_batch,
    resubmission_is_idempotent_and_changes_nothing,
    concurrent_submissions_of_one_batch_insert_it_once,
    gateway_processes_racing_agree_on_one_winner_per_batch,
    unprovable_inputs_are_refused_with_422,
    poll_of_a_failed_batch_answers_410_with_the_failure,
    conflicting_resubmission_is_refused_with_409,
    oversized_bodies_and_inputs_are_refused_with_413,
    malformed_requests_are_refused_with_a_message,
    unknown_versions_and_mismatched_digests_are_refused,
    poll_answers_null_until_the_proof_is_ready_then_the_proof,
    requests_without_a_valid_token_get_401_and_change_nothing,
    revoked_tokens_are_refused_after_reload,
    pull_mode_fetches_batches_and_submits_proofs,
    pull_mode_survives_a_failing_upstream,
    startup_refuses_unsafe_or_inconsistent_configurations,
);
