//! The conformance suite: the same test bodies against PostgreSQL and SQLite.
//!
//! Every body below runs twice, as `postgres::<name>` (a fresh database on the server named by
//! `ZKFLEET_TEST_DATABASE_URL`; the test fails if it is not set) and `sqlite::<name>` (a fresh
//! file in a temporary directory).

// An integration test links every dependency of its package and uses only some.
#![allow(unused_crate_dependencies)]

mod harness;

mod batched;
mod catch_up_and_operator;
mod chain;
mod completion;
mod fixtures;
mod fleet_status;
mod inserts;
mod intake;
mod picking;
mod racing;
mod requeue;
mod rounds;
mod wakeups;

use batched::*;
use catch_up_and_operator::*;
use chain::*;
use completion::*;
use fleet_status::*;
use inserts::*;
use intake::*;
use picking::*;
use racing::*;
use requeue::*;
use rounds::*;
use wakeups::*;

conformance!(
    protocol_versions_are_idempotent_and_conflicts_are_errors,
    batches_are_idempotent_and_need_a_known_version,
    basic_witness_output_is_validated,
    chunked_insert_of_20_500_prover_jobs,
    sixteen_pickers_get_each_of_2000_jobs_exactly_once,
    heavy_light_and_any_picking,
    picks_filter_by_protocol_version,
    priority_overtakes_batch_age,
    completion_is_guarded_against_duplicates,
    failing_is_guarded,
    concurrent_completion_of_last_two_dependencies_queues_once,
    requeue_after_timeout,
    attempts_exhausted_is_terminal_until_operator_requeue,
    dependency_chain_of_a_small_batch,
    archive_moves_finished_batches_and_returns_blob_keys,
    catch_up_queues_what_completions_missed,
    restart_and_delete_batch,
    reports_count_queues_and_lag,
    fleet_status_views,
    concurrent_submissions_have_one_winner,
    permanent_failures_are_terminal_until_operator_requeue,
    failed_jobs_wait_out_their_retry_backoff,
    queued_work_wakes_subscribers,
    only_committed_work_is_announced,
    the_listener_reconnects_and_wakes_everyone,
    the_listener_uses_its_own_url,
    batched_pickers_race_and_complete_each_job_once,
    batched_picks_keep_classes_and_priorities,
    worker_killed_between_batched_pick_and_save,
    picks_keep_to_the_configured_rounds,
    worker_killed_between_pick_and_save,
    two_workers_saving_one_job_complete_it_once,
);
