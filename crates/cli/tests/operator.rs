//! The operator commands of the real `zkfleet` binary against a real PostgreSQL database (a
//! fresh one per test) and a local store, plus the embedded SQLite default via `--data-dir`.

// An integration test links every dependency of its package and uses only some.
#![allow(unused_crate_dependencies)]

mod support;

use std::time::Duration;

use zkfleet_dal::{JobRef, JobTable};
use zkfleet_store::{ObjectKey, Store, StoreConfig, WitnessInputBytes};
use zkfleet_types::{BatchNumber, ChainId, JobStatus};

use support::{batch_id, TestFleet, FINAL_VK, RECURSION_VK, V1, VERSION};

#[test]
fn postgres_insert_version_then_same_again_then_conflicting() {
    let fleet = TestFleet::postgres();
    let out = fleet.insert_version();
    assert!(out.contains("inserted protocol version 0.1.0"), "{out}");
    let out = fleet.insert_version();
    assert!(
        out.contains("already exists with the same digests"),
        "{out}"
    );
    let other = "0x3333333333333333333333333333333333333333333333333333333333333333";
    let err = fleet.fails(&[
        "insert-version",
        "--version",
        VERSION,
        "--recursion-tree-vk",
        RECURSION_VK,
        "--final-vk",
        other,
    ]);
    assert!(
        err.contains("already exists with other verifying-key digests"),
        "{err}"
    );
    let stored = fleet
        .runtime
        .block_on(fleet.dal.protocol_version(V1))
        .unwrap()
        .unwrap();
    assert_eq!(stored.final_vk_digest.to_string(), FINAL_VK);
    let err = fleet.fails(&[
        "insert-version",
        "--version",
        "1.2.3",
        "--recursion-tree-vk",
        RECURSION_VK,
        "--final-vk",
        FINAL_VK,
    ]);
    assert!(err.contains("major version must be 0"), "{err}");
}

#[test]
fn postgres_insert_batch_stores_the_input_and_queues_the_batch_once() {
    let fleet = TestFleet::postgres();
    fleet.insert_version();
    let (binary, json) = fleet.write_batch(5);

    // The JSON form with its genesis is accepted and stored as the witness input.
    let out = fleet.ok(&[
        "--chain-id",
        "270",
        "insert-batch",
        "--number",
        "5",
        "--version",
        VERSION,
        "--input",
        json.to_str().unwrap(),
        "--genesis",
        fleet.path("genesis-5.json").to_str().unwrap(),
        "--priority",
        "3",
    ]);
    assert!(out.contains("inserted batch 5 of chain 270"), "{out}");
    let status = fleet
        .runtime
        .block_on(fleet.dal.batch_status(batch_id(5)))
        .unwrap();
    let row = status.witness_input.expect("the witness input row");
    assert_eq!(row.status, JobStatus::Queued);
    assert_eq!(row.priority, 3);
    assert_eq!(row.protocol_version, V1);
    // Content-addressed: witness_inputs/270/5/{sha256}.bin.
    let key = ObjectKey::parse(row.input_blob_key.as_deref().expect("a key")).unwrap();
    assert!(
        matches!(
            key,
            ObjectKey::WitnessInputContent {
                chain: ChainId(270),
                batch: BatchNumber(5),
                ..
            }
        ),
        "{key}"
    );
    let store = Store::open(&StoreConfig::local(fleet.store_root())).unwrap();
    let stored = fleet
        .runtime
        .block_on(store.get::<WitnessInputBytes>(&key))
        .unwrap();
    assert_eq!(
        stored.0.as_ref(),
        std::fs::read(&binary).unwrap().as_slice()
    );

    // Again, from the binary file: the same batch, nothing changes.
    let out = fleet.ok(&[
        "--chain-id",
        "270",
        "insert-batch",
        "--number",
        "5",
        "--version",
        VERSION,
        "--input",
        binary.to_str().unwrap(),
    ]);
    assert!(out.contains("already exists with the same input"), "{out}");

    // The input as the store keeps it (its envelope, copied out of the bucket) is accepted as
    // well: the same batch again. Logs carry no colour codes when stderr is not a terminal.
    let copied = fleet.path("copied-from-the-store.bin");
    std::fs::copy(fleet.store_root().join(key.path()), &copied).unwrap();
    let output = fleet
        .command()
        .env("RUST_LOG", "info")
        .args([
            "--chain-id",
            "270",
            "insert-batch",
            "--number",
            "5",
            "--version",
            VERSION,
        ])
        .arg("--input")
        .arg(&copied)
        .output()
        .unwrap();
    let (out, err) = (
        String::from_utf8_lossy(&output.stdout),
        String::from_utf8_lossy(&output.stderr),
    );
    assert!(output.status.success(), "{out}{err}");
    assert!(out.contains("already exists with the same input"), "{out}");
    assert!(
        !err.contains('\x1b'),
        "colour codes in a log that is not a terminal: {err:?}"
    );

    // Another batch's input under number 5 is refused, the stored input is untouched.
    let (other, _) = fleet.write_batch(6);
    let err = fleet.fails(&[
        "--chain-id",
        "270",
        "insert-batch",
        "--number",
        "5",
        "--version",
        VERSION,
        "--input",
        other.to_str().unwrap(),
    ]);
    assert!(err.contains("holds batch 6 of chain 270"), "{err}");

    // The chain must match too.
    let err = fleet.fails(&[
        "insert-batch",
        "--number",
        "6",
        "--version",
        VERSION,
        "--input",
        other.to_str().unwrap(),
    ]);
    assert!(err.contains("not batch 6 of chain 0"), "{err}");

    // A malformed file is refused with the decoder's error; nothing is inserted or stored.
    let mut corrupt = std::fs::read(&other).unwrap();
    corrupt.truncate(corrupt.len() / 2);
    let corrupt_path = fleet.path("corrupt.bin");
    std::fs::write(&corrupt_path, &corrupt).unwrap();
    let err = fleet.fails(&[
        "--chain-id",
        "270",
        "insert-batch",
        "--number",
        "6",
        "--version",
        VERSION,
        "--input",
        corrupt_path.to_str().unwrap(),
    ]);
    assert!(err.contains("not a valid witness input"), "{err}");
    let status = fleet
        .runtime
        .block_on(fleet.dal.batch_status(batch_id(6)))
        .unwrap();
    assert!(!status.exists());
    assert!(!fleet.store_root().join("witness_inputs/270/6").exists());

    // An unknown protocol version is refused before anything is stored.
    let err = fleet.fails(&[
        "--chain-id",
        "270",
        "insert-batch",
        "--number",
        "6",
        "--version",
        "0.9.0",
        "--input",
        other.to_str().unwrap(),
    ]);
    assert!(err.contains("unknown protocol version 0.9.0"), "{err}");
    assert!(!fleet.store_root().join("witness_inputs/270/6").exists());

    // A batch that breaks a rule is refused at the door, with the rule (issue 15).
    let invalid = fleet.write_invalid_batch(6, zkfleet_rollup::generate::InvalidKind::BadSignature);
    let err = fleet.fails(&[
        "--chain-id",
        "270",
        "insert-batch",
        "--number",
        "6",
        "--version",
        VERSION,
        "--input",
        invalid.to_str().unwrap(),
    ]);
    assert!(err.contains("invalid signature"), "{err}");
    assert!(!fleet.store_root().join("witness_inputs/270/6").exists());
}

#[test]
fn postgres_status_shows_rounds_counts_and_json() {
    let fleet = TestFleet::postgres();
    fleet.insert_version();
    fleet.insert_batch(1);
    fleet.run_basic_witness_generation(1);
    let job = fleet.pick_prover_job().expect("the basic prover job");
    fleet
        .runtime
        .block_on(
            fleet
                .dal
                .fail_job(JobRef::Prover(job.id), "out of memory in the prover"),
        )
        .unwrap();

    let out = fleet.ok(&["--chain-id", "270", "status", "batch", "1"]);
    for round in [
        "basic",
        "leaf",
        "node",
        "recursion_tip",
        "scheduler",
        "compression",
    ] {
        assert!(out.contains(round), "{round} missing:\n{out}");
    }
    assert!(out.contains("successful 1"), "{out}");
    assert!(out.contains("failed 1"), "{out}");
    assert!(out.contains("waiting_for_proofs 1"), "{out}");
    assert!(
        !out.contains("out of memory"),
        "errors only with --verbose:\n{out}"
    );

    let out = fleet.ok(&["--chain-id", "270", "status", "batch", "1", "--verbose"]);
    assert!(out.contains("out of memory in the prover"), "{out}");
    assert!(out.contains("prover-test"), "{out}");
    assert!(out.contains(&format!("prover job {}", job.id)), "{out}");

    let out = fleet.ok(&["--chain-id", "270", "status", "batch", "1", "--json"]);
    let json: serde_json::Value = serde_json::from_str(&out).expect("status --json is JSON");
    let batch = &json[0];
    assert_eq!(batch["batch"]["batch_number"], 1);
    assert_eq!(batch["batch"]["chain_id"], 270);
    assert_eq!(batch["rounds"].as_array().unwrap().len(), 5);
    assert_eq!(batch["rounds"][0]["prover_jobs"][0]["status"], "failed");
    assert_eq!(batch["witness_input"]["status"], "successful");

    // A batch of another chain, or not inserted, is reported and the exit code says so.
    let output = fleet.run(&["status", "batch", "1"]);
    assert!(!output.status.success());
    let stdout = String::from_utf8_lossy(&output.stdout);
    assert!(stdout.contains("batch 1 of chain 0: not found"), "{stdout}");
}

#[test]
fn postgres_status_of_several_batches_names_the_missing_one() {
    let fleet = TestFleet::postgres();
    fleet.insert_version();
    fleet.insert_batch(1);
    fleet.insert_batch(2);
    fleet.run_basic_witness_generation(1);

    // Both batches are reported, in the order asked, and the missing one makes the command
    // fail after the others were printed.
    let output = fleet.run(&["--chain-id", "270", "status", "batch", "2", "99", "1"]);
    let stdout = String::from_utf8_lossy(&output.stdout);
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(!output.status.success(), "{stdout}");
    let at = |needle: &str| {
        stdout
            .find(needle)
            .unwrap_or_else(|| panic!("{needle:?} missing:\n{stdout}"))
    };
    let (two, missing, one) = (
        at("batch 2 of chain 270"),
        at("batch 99 of chain 270: not found"),
        at("batch 1 of chain 270"),
    );
    assert!(two < missing && missing < one, "{stdout}");
    assert!(
        stderr.contains("1 of 3 batches not found on chain 270"),
        "{stderr}"
    );

    // --verbose lists the jobs of each batch: batch 1's basic prover job, not batch 2's.
    let out = fleet.ok(&[
        "--chain-id",
        "270",
        "status",
        "batch",
        "1",
        "2",
        "--verbose",
    ]);
    let (first, second) = out
        .split_once("batch 2 of chain 270")
        .unwrap_or_else(|| panic!("no batch 2:\n{out}"));
    // Job rows start with the job's name ("prover job 1"); the headers say "prover jobs".
    assert!(first.contains("| prover job "), "{out}");
    assert!(!second.contains("| prover job "), "{out}");
    assert!(
        second.contains("| basic witness job of batch 2 of chain 270"),
        "{out}"
    );

    // --json: one element per batch, each with its own state.
    let out = fleet.ok(&["--chain-id", "270", "status", "batch", "1", "2", "--json"]);
    let json: serde_json::Value = serde_json::from_str(&out).expect("status --json is JSON");
    let batches = json.as_array().expect("an array");
    assert_eq!(batches.len(), 2, "{out}");
    assert_eq!(batches[0]["batch"]["batch_number"], 1);
    assert_eq!(batches[0]["witness_input"]["status"], "successful");
    assert_eq!(
        batches[0]["rounds"][0]["prover_jobs"][0]["status"],
        "queued"
    );
    assert_eq!(batches[1]["batch"]["batch_number"], 2);
    assert_eq!(batches[1]["witness_input"]["status"], "queued");
    assert_eq!(
        batches[1]["rounds"][0]["prover_jobs"]
            .as_array()
            .map(Vec::len),
        Some(0)
    );
}

#[test]
fn postgres_requeue_brings_back_a_failed_witness_job() {
    let fleet = TestFleet::postgres();
    fleet.insert_version();
    fleet.insert_batch(5);
    let basic = JobRef::WitnessInput(batch_id(5));
    fleet.runtime.block_on(async {
        let job = fleet
            .dal
            .pick_basic_witness_job(V1, "bwg")
            .await
            .unwrap()
            .expect("the basic witness job");
        assert_eq!(job.meta.batch, batch_id(5));
        fleet
            .dal
            .fail_job(basic, "disk full while uploading circuits")
            .await
            .unwrap();
    });
    let failed = fleet
        .runtime
        .block_on(fleet.dal.job(basic))
        .unwrap()
        .unwrap();
    assert_eq!(failed.status, JobStatus::Failed);
    assert_eq!(failed.attempts, 1);

    // A failed job (not yet exhausted) is requeued too, in its own table.
    let out = fleet.ok(&["--chain-id", "270", "requeue", "--batch", "5"]);
    assert!(out.contains("requeued 1 jobs"), "{out}");
    assert!(out.contains("witness_inputs: 1"), "{out}");
    let requeued = fleet
        .runtime
        .block_on(fleet.dal.job(basic))
        .unwrap()
        .unwrap();
    assert_eq!(requeued.status, JobStatus::Queued);
    assert_eq!(
        requeued.attempts,
        zkfleet_dal::ATTEMPTS_AFTER_OPERATOR_REQUEUE
    );
    // A witness generator gets it again.
    fleet.run_basic_witness_generation(5);
}

#[test]
fn postgres_requeue_brings_back_jobs_past_max_attempts() {
    let fleet = TestFleet::postgres();
    fleet.insert_version();
    fleet.insert_batch(2);
    fleet.run_basic_witness_generation(2);
    // The basic prover job fails on its only allowed attempt: the monitor's requeue (max
    // attempts 1) moves it to the terminal attempts_exhausted.
    let job = fleet.pick_prover_job().expect("the basic prover job");
    let prover = JobRef::Prover(job.id);
    fleet.runtime.block_on(async {
        fleet
            .dal
            .fail_job(prover, "constraint not satisfied")
            .await
            .unwrap();
        let counts = fleet
            .dal
            .requeue_stuck_jobs(JobTable::ProverJobs, Duration::from_secs(3600), 1)
            .await
            .unwrap();
        assert_eq!((counts.requeued, counts.exhausted), (0, 1));
        // And the monitor leaves it there.
        let counts = fleet
            .dal
            .requeue_stuck_jobs(JobTable::ProverJobs, Duration::from_secs(3600), 1)
            .await
            .unwrap();
        assert_eq!((counts.requeued, counts.exhausted), (0, 0));
    });
    let summary = fleet
        .runtime
        .block_on(fleet.dal.job(prover))
        .unwrap()
        .unwrap();
    assert_eq!(summary.status, JobStatus::AttemptsExhausted);
    assert_eq!(summary.attempts, 1);
    assert!(fleet.pick_prover_job().is_none());

    let out = fleet.ok(&["--chain-id", "270", "status", "batch", "2"]);
    assert!(out.contains("attempts_exhausted 1"), "{out}");

    let out = fleet.ok(&["--chain-id", "270", "requeue", "--batch", "2"]);
    assert!(out.contains("requeued 1 jobs"), "{out}");
    assert!(out.contains("prover_jobs: 1"), "{out}");
    let summary = fleet
        .runtime
        .block_on(fleet.dal.job(prover))
        .unwrap()
        .unwrap();
    assert_eq!(summary.status, JobStatus::Queued);
    assert_eq!(
        summary.attempts,
        zkfleet_dal::ATTEMPTS_AFTER_OPERATOR_REQUEUE
    );
    let again = fleet
        .pick_prover_job()
        .expect("picked again after the requeue");
    assert_eq!(again.id, job.id);

    // Nothing left to requeue; an unknown batch is an error.
    let out = fleet.ok(&["--chain-id", "270", "requeue", "--batch", "2"]);
    assert!(out.contains("nothing requeued"), "{out}");
    let err = fleet.fails(&["--chain-id", "270", "requeue", "--batch", "99"]);
    assert!(err.contains("batch 99 of chain 270 not found"), "{err}");
}

#[test]
fn postgres_restart_a_job_and_a_batch() {
    let fleet = TestFleet::postgres();
    fleet.insert_version();
    fleet.insert_batch(3);
    fleet.run_basic_witness_generation(3);
    let job = fleet.pick_prover_job().expect("the basic prover job");
    let prover = JobRef::Prover(job.id);
    fleet
        .runtime
        .block_on(fleet.dal.fail_job(prover, "killed"))
        .unwrap();

    let spec = format!("prover:{}", job.id);
    let out = fleet.ok(&["--chain-id", "270", "restart", "--job", &spec]);
    assert!(out.contains("queued with fresh attempts"), "{out}");
    let summary = fleet
        .runtime
        .block_on(fleet.dal.job(prover))
        .unwrap()
        .unwrap();
    assert_eq!(summary.status, JobStatus::Queued);

    // The leaf job still waits for its proof: restarting it is refused, nothing changes.
    let status = fleet
        .runtime
        .block_on(fleet.dal.batch_status(batch_id(3)))
        .unwrap();
    let leaf = status.rounds[1].witness_jobs[0].job;
    let JobRef::LeafWitness(leaf_id) = leaf else {
        panic!("{leaf:?}")
    };
    let err = fleet.fails(&["restart", "--job", &format!("leaf:{leaf_id}")]);
    assert!(err.contains("waiting_for_proofs"), "{err}");
    let err = fleet.fails(&["restart", "--job", "disk:1"]);
    assert!(err.contains("unknown job table"), "{err}");

    // The whole batch: downstream rows go, the basic witness job is queued again.
    let out = fleet.ok(&["--chain-id", "270", "restart", "--batch", "3"]);
    assert!(out.contains("restarted"), "{out}");
    assert!(out.contains("prover_jobs: 1"), "{out}");
    assert!(out.contains("leaf_witness_jobs: 1"), "{out}");
    let status = fleet
        .runtime
        .block_on(fleet.dal.batch_status(batch_id(3)))
        .unwrap();
    assert_eq!(status.witness_input.unwrap().status, JobStatus::Queued);
    assert!(status.rounds.iter().all(|r| r.prover_jobs.is_empty()));
    assert!(fleet
        .runtime
        .block_on(fleet.dal.job(prover))
        .unwrap()
        .is_none());

    let err = fleet.fails(&["--chain-id", "270", "restart", "--batch", "42"]);
    assert!(err.contains("not found"), "{err}");

    // Jobs named by batch number: the finished batch's compression and basic witness jobs
    // are queued again with fresh attempts (a job downstream of them is not touched).
    fleet.run_basic_witness_generation(3);
    fleet.drive_to_completion();
    let compression = JobRef::Compression(batch_id(3));
    let done = fleet
        .runtime
        .block_on(fleet.dal.job(compression))
        .unwrap()
        .expect("the compression job");
    assert_eq!(done.status, JobStatus::Successful);
    assert_eq!(done.attempts, 1);
    let out = fleet.ok(&["--chain-id", "270", "restart", "--job", "compression:3"]);
    assert!(out.contains("queued with fresh attempts"), "{out}");
    let again = fleet
        .runtime
        .block_on(fleet.dal.job(compression))
        .unwrap()
        .unwrap();
    assert_eq!((again.status, again.attempts), (JobStatus::Queued, 0));
    let out = fleet.ok(&["--chain-id", "270", "restart", "--job", "basic:3"]);
    assert!(out.contains("queued with fresh attempts"), "{out}");
    let basic = fleet
        .runtime
        .block_on(fleet.dal.job(JobRef::WitnessInput(batch_id(3))))
        .unwrap()
        .unwrap();
    assert_eq!((basic.status, basic.attempts), (JobStatus::Queued, 0));
    // On another chain the same batch number names no job.
    let err = fleet.fails(&["--chain-id", "271", "restart", "--job", "compression:3"]);
    assert!(err.contains("chain 271"), "{err}");
}

#[test]
fn postgres_delete_needs_confirmation() {
    let fleet = TestFleet::postgres();
    fleet.insert_version();
    fleet.insert_batch(4);
    fleet.run_basic_witness_generation(4);

    // No terminal, no --yes: refused, nothing deleted.
    let err = fleet.fails(&["--chain-id", "270", "delete", "--batch", "4"]);
    assert!(
        err.contains("refusing to delete batch 4 of chain 270"),
        "{err}"
    );
    assert!(err.contains("--yes"), "{err}");
    let status = fleet
        .runtime
        .block_on(fleet.dal.batch_status(batch_id(4)))
        .unwrap();
    assert!(status.witness_input.is_some());

    // On a terminal: a wrong answer deletes nothing, the batch number confirms.
    let args = ["--chain-id", "270", "delete", "--batch", "4"];
    let output = fleet.run_on_terminal(&args, "44\n");
    let out = String::from_utf8_lossy(&output.stdout);
    assert!(!output.status.success(), "{out}");
    assert!(out.contains("Type the batch number to confirm"), "{out}");
    assert!(out.contains("not confirmed; nothing deleted"), "{out}");
    let status = fleet
        .runtime
        .block_on(fleet.dal.batch_status(batch_id(4)))
        .unwrap();
    assert!(status.witness_input.is_some());
    let output = fleet.run_on_terminal(&args, "4\n");
    let out = String::from_utf8_lossy(&output.stdout);
    assert!(output.status.success(), "{out}");
    assert!(
        out.contains("deleted") && out.contains("prover_jobs: 1"),
        "{out}"
    );
    assert!(!fleet
        .runtime
        .block_on(fleet.dal.batch_status(batch_id(4)))
        .unwrap()
        .exists());

    // --yes needs no terminal.
    fleet.insert_batch(4);
    let out = fleet.ok(&["--chain-id", "270", "delete", "--batch", "4", "--yes"]);
    assert!(out.contains("deleted"), "{out}");
    assert!(out.contains("witness_inputs: 1"), "{out}");
    let status = fleet
        .runtime
        .block_on(fleet.dal.batch_status(batch_id(4)))
        .unwrap();
    assert!(!status.exists(), "{status:?}");

    let err = fleet.fails(&["--chain-id", "270", "delete", "--batch", "4", "--yes"]);
    assert!(err.contains("not found"), "{err}");
}

#[test]
fn postgres_stats_reports_finished_batches() {
    let fleet = TestFleet::postgres();
    fleet.insert_version();
    let out = fleet.ok(&["stats"]);
    assert!(out.contains("no batch finished"), "{out}");

    for number in [7, 8] {
        fleet.insert_batch(number);
        fleet.run_basic_witness_generation(number);
    }
    fleet.drive_to_completion();
    let status = fleet
        .runtime
        .block_on(fleet.dal.batch_status(batch_id(7)))
        .unwrap();
    assert_eq!(status.compression.unwrap().status, JobStatus::Successful);

    let out = fleet.ok(&["stats", "--since", "1h"]);
    assert!(out.contains("2 batches finished"), "{out}");
    assert!(out.contains("median"), "{out}");
    let out = fleet.ok(&["stats", "--json"]);
    let json: serde_json::Value = serde_json::from_str(&out).expect("stats --json is JSON");
    assert_eq!(json["summary"]["batches"], 2);
    let numbers: Vec<u64> = json["batches"]
        .as_array()
        .unwrap()
        .iter()
        .map(|b| b["batch"]["batch_number"].as_u64().unwrap())
        .collect();
    assert_eq!(numbers.len(), 2);
    assert!(numbers.contains(&7) && numbers.contains(&8), "{numbers:?}");

    // A moment in the future: nothing.
    let out = fleet.ok(&["stats", "--since", "2999-01-01T00:00:00Z"]);
    assert!(out.contains("no batch finished"), "{out}");
    let err = fleet.fails(&["stats", "--since", "last tuesday"]);
    assert!(err.contains("neither a duration"), "{err}");
}

#[test]
fn postgres_file_info_decodes_a_stored_batch_input() {
    let fleet = TestFleet::postgres();
    fleet.insert_version();
    fleet.insert_batch(9);
    let key = fleet
        .runtime
        .block_on(fleet.dal.batch_status(batch_id(9)))
        .unwrap()
        .witness_input
        .and_then(|w| w.input_blob_key)
        .expect("the row's input key");
    let blob = fleet.store_root().join(&key);
    let out = fleet.ok(&["file-info", blob.to_str().unwrap()]);
    assert!(out.contains(&format!("object key:       {key}")), "{out}");
    assert!(out.contains("checksum:         ok"), "{out}");
    assert!(out.contains("kind:             witness input"), "{out}");
    assert!(out.contains("batch 9 of chain 270"), "{out}");
    assert!(out.contains("operations:       4"), "{out}");
    assert!(out.contains("prev state root:  0x"), "{out}");
}

#[test]
fn sqlite_embedded_default_through_data_dir() {
    let fleet = TestFleet::sqlite();
    fleet.insert_version();
    fleet.insert_batch(1);
    assert!(fleet.data_dir().join("zkfleet.sqlite").exists());
    let status = fleet
        .runtime
        .block_on(fleet.dal.batch_status(batch_id(1)))
        .unwrap();
    let key = status
        .witness_input
        .as_ref()
        .and_then(|w| w.input_blob_key.clone());
    assert!(fleet
        .data_dir()
        .join("store")
        .join(key.expect("the row's input key"))
        .exists());
    assert_eq!(status.witness_input.unwrap().status, JobStatus::Queued);
    fleet.run_basic_witness_generation(1);
    let out = fleet.ok(&["--chain-id", "270", "status", "batch", "1", "--json"]);
    let json: serde_json::Value = serde_json::from_str(&out).unwrap();
    assert_eq!(json[0]["rounds"][0]["prover_jobs"][0]["status"], "queued");
    let out = fleet.ok(&["config", "show"]);
    assert!(out.contains("embedded default"), "{out}");
    assert!(out.contains("zkfleet.sqlite"), "{out}");
}

/// Issue 15, with real processes: three `zkfleet gateway` processes on one database and store,
/// and `zkfleet insert-batch` processes, all submitting conflicting inputs of the same batches
/// at the same moment. For every batch exactly one submission wins (one `newly_inserted: true`
/// or one "inserted"); every submission of the winner's input is accepted as already known,
/// every other one refused (409, or an error naming the different input); the row names the
/// winner's blob, holding the winner's input.
#[test]
fn postgres_gateway_processes_and_insert_batch_race_to_one_winner_per_batch() {
    use std::process::{Child, Stdio};
    use zkfleet_rollup::generate::{generate, GeneratorConfig};
    use zkfleet_types::api::{Base64Bytes, L1VerifierConfig, ProofGenerationData};

    const GATEWAYS: usize = 3;
    const VARIANTS: u64 = 3;
    const BATCHES: [u32; 3] = [11, 12, 13];

    struct Killed(Vec<Child>);
    impl Drop for Killed {
        fn drop(&mut self) {
            for child in &mut self.0 {
                let _ = child.kill();
                let _ = child.wait();
            }
        }
    }

    let fleet = TestFleet::postgres();
    fleet.insert_version();
    let config = fleet.path("gateway.toml");
    std::fs::write(
        &config,
        format!(
            "[gateway]\n[[gateway.protocol_versions]]\nversion = \"{VERSION}\"\n\
             recursion_tree_vk_digest = \"{RECURSION_VK}\"\nfinal_vk_digest = \"{FINAL_VK}\"\n"
        ),
    )
    .unwrap();
    let ports: Vec<u16> = (0..GATEWAYS)
        .map(|_| {
            std::net::TcpListener::bind("127.0.0.1:0")
                .and_then(|l| l.local_addr())
                .map(|a| a.port())
                .unwrap()
        })
        .collect();
    let mut gateways = Killed(Vec::new());
    let log = |port: &u16| fleet.path(&format!("gateway-{port}.log"));
    for port in &ports {
        gateways.0.push(
            fleet
                .command()
                .arg("--config")
                .arg(&config)
                .arg("gateway")
                .env(
                    "ZKFLEET_GATEWAY__LISTEN_ADDRESS",
                    format!("127.0.0.1:{port}"),
                )
                // One metrics listener per process.
                .env("ZKFLEET_METRICS__GATEWAY", "127.0.0.1:0")
                .stdout(Stdio::null())
                .stderr(std::fs::File::create(log(port)).unwrap())
                .spawn()
                .expect("start a gateway"),
        );
    }
    let client = reqwest::Client::new();
    let deadline = std::time::Instant::now() + Duration::from_secs(60);
    for port in &ports {
        while fleet
            .runtime
            .block_on(
                client
                    .get(format!("http://127.0.0.1:{port}/healthz"))
                    .send(),
            )
            .is_err()
        {
            assert!(
                std::time::Instant::now() < deadline,
                "gateway {port} did not start: {}",
                std::fs::read_to_string(log(port)).unwrap_or_default()
            );
            std::thread::sleep(Duration::from_millis(100));
        }
    }

    // Different valid inputs of every batch (other seeds: other keys and operations).
    let mut inputs = std::collections::HashMap::new();
    for number in BATCHES {
        for variant in 0..VARIANTS {
            let generated = generate(&GeneratorConfig {
                accounts: 3,
                operations: 3,
                seed: 100 * u64::from(number) + variant,
                tree_height: 2,
                chain_id: ChainId(270),
                batch_number: BatchNumber(number),
                invalid: None,
            })
            .unwrap();
            let bytes = zkfleet_witness_generator::BatchWitnessInput::from_genesis(
                &generated.batch,
                &generated.genesis,
            )
            .unwrap()
            .encode()
            .unwrap();
            let path = fleet.path(&format!("race-{number}-{variant}.bin"));
            std::fs::write(&path, &bytes).unwrap();
            inputs.insert((number, variant), (bytes, path));
        }
    }

    // insert-batch processes first (they start slower), then the HTTP submissions.
    let mut cli = Vec::new();
    for number in BATCHES {
        for variant in 0..VARIANTS {
            let child = fleet
                .command()
                .args(["--chain-id", "270", "insert-batch", "--number"])
                .arg(number.to_string())
                .args(["--version", VERSION, "--input"])
                .arg(&inputs[&(number, variant)].1)
                .stdout(Stdio::piped())
                .stderr(Stdio::piped())
                .spawn()
                .unwrap();
            cli.push((number, variant, child));
        }
    }
    let verifier = L1VerifierConfig {
        recursion_tree_vk_digest: RECURSION_VK.parse().unwrap(),
        final_vk_digest: FINAL_VK.parse().unwrap(),
    };
    let requests = BATCHES.iter().flat_map(|&number| {
        let inputs = &inputs;
        let client = &client;
        let ports = &ports;
        (0..VARIANTS).flat_map(move |variant| {
            (0..2).map(move |copy| {
                let port = ports[(variant as usize + copy) % GATEWAYS];
                let body = ProofGenerationData {
                    l1_batch_id: batch_id(number),
                    batch_sealed_at: chrono::Utc::now(),
                    protocol_version: V1,
                    l1_verifier_config: verifier,
                    witness_input: Base64Bytes(inputs[&(number, variant)].0.clone()),
                };
                async move {
                    let response = client
                        .post(format!("http://127.0.0.1:{port}/submit_request_for_proofs"))
                        .json(&body)
                        .send()
                        .await
                        .expect("the gateway answers");
                    let status = response.status().as_u16();
                    let text = response.text().await.unwrap_or_default();
                    (number, variant, status, text)
                }
            })
        })
    });
    let answers = fleet.runtime.block_on(futures::future::join_all(requests));
    let cli: Vec<(u32, u64, std::process::Output)> = cli
        .into_iter()
        .map(|(n, v, child)| (n, v, child.wait_with_output().unwrap()))
        .collect();

    let store = Store::open(&StoreConfig::local(fleet.store_root())).unwrap();
    for number in BATCHES {
        let row = fleet
            .runtime
            .block_on(fleet.dal.batch_status(batch_id(number)))
            .unwrap()
            .witness_input
            .expect("the batch row");
        let key = ObjectKey::parse(row.input_blob_key.as_deref().unwrap()).unwrap();
        let stored = fleet
            .runtime
            .block_on(store.get::<WitnessInputBytes>(&key))
            .unwrap();
        let winner = (0..VARIANTS)
            .find(|v| inputs[&(number, *v)].0.as_slice() == stored.0.as_ref())
            .unwrap_or_else(|| panic!("batch {number}: the stored input is nobody's"));
        let mut inserted = 0;
        for (_, variant, status, text) in answers.iter().filter(|a| a.0 == number) {
            if *variant == winner {
                assert_eq!(*status, 200, "batch {number} variant {variant}: {text}");
                if text.contains("\"newly_inserted\":true") {
                    inserted += 1;
                }
            } else {
                assert_eq!(*status, 409, "batch {number} variant {variant}: {text}");
            }
        }
        for (_, variant, output) in cli.iter().filter(|c| c.0 == number) {
            let (out, err) = (
                String::from_utf8_lossy(&output.stdout),
                String::from_utf8_lossy(&output.stderr),
            );
            if *variant == winner {
                assert!(output.status.success(), "batch {number}: {out}{err}");
                if out.contains("inserted batch") {
                    inserted += 1;
                }
            } else {
                assert!(!output.status.success(), "batch {number}: {out}");
                assert!(err.contains("different witness_input"), "{err}");
            }
        }
        assert_eq!(
            inserted, 1,
            "batch {number}: exactly one submission inserts it"
        );
    }
}
