//! `zkfleet bench --quick`, run as a child process on the small test keystore so that the
//! command cannot rot: every suite runs to completion and its report holds sane figures.
//! Not timed (the figures of a shared test machine mean nothing); the checks are on what the
//! figures must be whatever the machine: positive times, finite ratios, the orchestration
//! tree's job counts, every kind of prover job measured, a verified pipeline proof, both
//! scaling layouts measured against the first. A quick run
//! must never write the docs: the tests point `--docs-dir` at an empty directory and check it
//! stays empty.

// An integration test links every dependency of its package and uses only some.
#![allow(unused_crate_dependencies)]

use std::path::{Path, PathBuf};
use std::process::Command;

use zkfleet_bench::figure::Figure;
use zkfleet_bench::{BenchReport, TreeShape};

mod support;

use support::small_keys::{keys_dir, proving_section, CONFIG};
use zkfleet_test_support::database::DATABASE_URL_VAR;

/// The configuration of the other CLI tests' small keystore (`test-keys-small-light`, shared
/// by every test binary of the workspace: the same geometry finds the same entries).
fn small_keystore_config(dir: &Path) -> PathBuf {
    let config = dir.join("zkfleet.toml");
    std::fs::write(&config, proving_section(keys_dir())).expect("write the test configuration");
    config
}

/// Runs `zkfleet bench --quick` on the embedded default and returns its report.
fn quick_bench() -> BenchReport {
    let dir = tempfile::tempdir().expect("temp dir");
    let config = small_keystore_config(dir.path());
    let out = dir.path().join("bench.json");
    let docs = dir.path().join("docs");
    std::fs::create_dir_all(&docs).expect("docs dir");
    let mut command = Command::new(env!("CARGO_BIN_EXE_zkfleet"));
    command
        .arg("--config")
        .arg(&config)
        .arg("--data-dir")
        .arg(dir.path().join("data"))
        .args(["bench", "--quick", "--out"])
        .arg(&out)
        .arg("--docs-dir")
        .arg(&docs)
        .env_remove("ZKFLEET_CONFIG")
        .env_remove("ZKFLEET_DATABASE_URL")
        .env_remove(DATABASE_URL_VAR);
    let output = command.output().expect("run zkfleet bench");
    assert!(
        output.status.success(),
        "zkfleet bench --quick failed:\n{}\n{}",
        String::from_utf8_lossy(&output.stdout),
        String::from_utf8_lossy(&output.stderr)
    );
    let stdout = String::from_utf8_lossy(&output.stdout);
    let text = std::fs::read_to_string(&out).expect("the report was written to --out");
    let report: BenchReport = serde_json::from_str(&text).expect("the report parses");
    assert!(report.quick);
    let written: Vec<_> = std::fs::read_dir(&docs).expect("docs dir").collect();
    assert!(
        written.is_empty(),
        "a quick run wrote the docs: {written:?}"
    );
    // The tables are printed with their markers.
    assert!(stdout.contains("<!-- BEGIN "), "{stdout}");
    report
}

fn assert_positive(what: &str, figure: &Figure) {
    assert!(!figure.runs.is_empty(), "{what}: no run");
    for value in figure
        .runs
        .iter()
        .chain([&figure.median, &figure.min, &figure.max])
    {
        assert!(value.is_finite() && *value > 0.0, "{what}: {figure:?}");
    }
    assert!(
        figure.min <= figure.median && figure.median <= figure.max,
        "{what}: {figure:?}"
    );
}

fn assert_orchestration(report: &BenchReport, backends: &[&str]) {
    let run = report
        .suites
        .orchestration
        .as_ref()
        .expect("the orchestration suite ran");
    let orchestration = &run.report;
    let expected = TreeShape::quick().job_counts();
    assert_eq!(orchestration.shape.jobs, expected);
    assert_eq!(orchestration.shape.all_jobs, expected.all_jobs());
    let cell_backends: Vec<&str> = orchestration
        .cells
        .iter()
        .map(|c| c.backend.as_str())
        .collect();
    for backend in backends {
        assert!(cell_backends.contains(backend), "{cell_backends:?}");
    }
    for cell in &orchestration.cells {
        assert_eq!(cell.runs.len(), 1, "quick: one run per cell");
        let measured = &cell.runs[0];
        assert!(measured.seconds > 0.0 && measured.jobs_per_second > 0.0);
        // Every prover job of the tree was picked and completed once.
        let count = |name: &str| {
            measured
                .operations
                .iter()
                .find(|o| o.operation.starts_with(name))
                .map_or(0, |o| o.count)
        };
        assert_eq!(count("db: pick prover job"), expected.prover_jobs());
        assert_eq!(count("db: complete prover job"), expected.prover_jobs());
    }
}

fn assert_pipeline(report: &BenchReport, backends: &[&str]) {
    let pipeline = &report
        .suites
        .pipeline
        .as_ref()
        .expect("the pipeline ran")
        .report;
    assert_eq!(pipeline.cells.len(), backends.len());
    for (cell, backend) in pipeline.cells.iter().zip(backends) {
        assert_eq!(cell.backend, *backend);
        assert_eq!(cell.operations, 4);
        // Basic, leaf, node, tip, scheduler and compression at the least.
        assert!(cell.jobs >= 6, "{cell:?}");
        assert_positive("isolated sum", &cell.isolated_sum_s);
        assert_positive("pipeline wall", &cell.pipeline_wall_s);
        assert_positive("efficiency", &cell.efficiency);
    }
    // The quick batch is not the 1,024-operation batch the target is about.
    assert_eq!(pipeline.target.met, None);
}

fn assert_scaling(report: &BenchReport, backends: &[&str]) {
    let scaling = &report
        .suites
        .scaling
        .as_ref()
        .expect("the scaling suite ran")
        .report;
    assert_eq!(scaling.operations, 4);
    // Basic, leaf, node, tip and scheduler prover jobs at the least.
    assert!(scaling.prover_jobs >= 5, "{scaling:?}");
    assert_eq!(scaling.cells.len(), 2 * backends.len(), "{scaling:?}");
    for backend in backends {
        let cells: Vec<_> = scaling
            .cells
            .iter()
            .filter(|c| c.backend == *backend)
            .collect();
        let provers: Vec<usize> = cells.iter().map(|c| c.layout.provers).collect();
        assert_eq!(provers, [1, 2], "{backend}: {cells:?}");
        // The first layout is the baseline of its backend.
        assert!((cells[0].speedup - 1.0).abs() < 1e-9, "{cells:?}");
        for cell in cells {
            assert_positive("provers' phase", &cell.provers_wall_s);
            assert_positive("to final proof", &cell.wall_s);
            assert_positive("prover jobs/s", &cell.prover_jobs_per_s);
            let cpu = cell.cpu_utilisation.as_ref().expect("Linux: CPU figures");
            assert_positive("CPU utilisation", cpu);
            // Child processes' CPU over the phase cannot exceed every core (10 % for rounding
            // of the 10 ms ticks and the polling moment).
            assert!(cpu.max <= 1.1, "{cell:?}");
            assert!(cell.provers_wall_s.median <= cell.wall_s.median, "{cell:?}");
            assert!(cell.speedup.is_finite() && cell.speedup > 0.0, "{cell:?}");
        }
    }
}

fn assert_db(report: &BenchReport) {
    let db = &report.suites.db.as_ref().expect("the db suite ran").report;
    // 1 and 16 workers, one job and 8 per statement, on SQLite only (no server given).
    assert_eq!(db.picks.len(), 4, "{:?}", db.picks);
    for cell in &db.picks {
        assert_eq!(cell.backend, "sqlite");
        assert_positive("picks per second", &cell.picks_per_s);
    }
    assert!(db.idle.is_empty() && db.postgres.is_none());
}

/// One quick run of every suite on the embedded default, as a user runs it. The PostgreSQL
/// paths of the database suites are the same code with another URL (`zkfleet bench --quick
/// --postgres-url URL` runs them; the orchestration benchmark's own tests run it on
/// PostgreSQL): a second quick run here would repeat every proof of this one in CI.
#[test]
fn quick_bench_runs_every_suite_on_sqlite() {
    let report = quick_bench();
    let backends = ["sqlite"];
    assert_orchestration(&report, &backends);
    assert_pipeline(&report, &backends);
    assert_scaling(&report, &backends);
    assert_db(&report);

    let cost = &report
        .suites
        .proving_cost
        .as_ref()
        .expect("the proving-cost suite ran")
        .report;
    let kinds: Vec<&str> = cost.jobs.iter().map(|j| j.job.as_str()).collect();
    for kind in ["node", "recursion tip", "scheduler"] {
        assert!(kinds.contains(&kind), "{kind} not measured: {kinds:?}");
    }
    for prefix in ["basic ", "leaf "] {
        assert!(kinds.iter().any(|k| k.starts_with(prefix)), "{kinds:?}");
    }
    for job in &cost.jobs {
        assert_positive(&format!("{} ours", job.job), &job.ours_s);
        assert_positive(&format!("{} plonky2", job.job), &job.plonky2_prove_s);
        assert_positive(&format!("{} ratio", job.job), &job.ratio);
        assert!(
            job.ours_witness_vector_s.median < job.ours_s.median,
            "{job:?}"
        );
        // The small test geometry's basic circuits are 2^6 (priority operations) to 2^11,
        // the aggregation circuits 2^13-2^14.
        assert!(
            (4..=20).contains(&job.degree_bits) && job.proof_bytes > 0,
            "{job:?}"
        );
        if let Some(peak) = &job.ours_peak_rss_mib {
            assert_positive(&format!("{} peak RSS", job.job), peak);
        }
    }

    let per_child = &report
        .suites
        .recursion_per_child
        .as_ref()
        .expect("the recursion-per-child suite ran")
        .report;
    // The arity of the small keystore's `[proving]` section the bench ran with (2), not the
    // fleet's default.
    assert_eq!(per_child.arity, CONFIG.arity);
    assert_positive("per child", &per_child.per_child_s);
    assert!(per_child.ratio_to_anchor_high.is_finite() && per_child.ratio_to_anchor_high > 0.0);
    // The node of the proving-cost suite, halved.
    let node = cost.jobs.iter().find(|j| j.job == "node").expect("node");
    assert!((per_child.node_s.median - node.ours_s.median).abs() < 1e-9);
}

#[test]
fn unknown_suites_are_refused() {
    let output = Command::new(env!("CARGO_BIN_EXE_zkfleet"))
        .args(["bench", "--quick", "--suites", "proving"])
        .output()
        .expect("run zkfleet bench");
    assert!(!output.status.success());
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(stderr.contains("proving-cost"), "{stderr}");
}

/// The gpu-fleet suite's three fleets, on this host's CPU: with `require_gpu` off each GPU
/// prover falls back to the CPU (and says so), so the suite's process handling, its attribution
/// of every prover job to the prover that picked it, and the mixed fleet's checks (both provers
/// proved jobs, every heavy job on the CPU prover) run where CI runs. On a card the suite runs
/// as `zkfleet bench --suites gpu-fleet` (crates/gpu/scripts/device-bench.sh), where a GPU
/// prover that did not start on the card fails the run (a unit test of the suite checks that).
#[test]
fn the_gpu_fleet_suite_proves_one_batch_with_each_fleet() {
    use zkfleet_bench::gpu_fleet::{FleetKind, GpuFleetOptions, FLEETS, QUICK_OPERATIONS};
    use zkfleet_bench::scaling::FleetSetup;
    let dir = tempfile::tempdir().expect("temp dir");
    let options = GpuFleetOptions {
        setup: FleetSetup {
            zkfleet: PathBuf::from(env!("CARGO_BIN_EXE_zkfleet")),
            proving_config_toml: proving_section(keys_dir()),
            proving: CONFIG,
            protocol_version: support::V1,
            keys_dir: keys_dir().to_owned(),
        },
        operations: QUICK_OPERATIONS,
        fleets: FLEETS.to_vec(),
        runs: 1,
        run_limit: std::time::Duration::from_secs(600),
        require_gpu: false,
        work_dir: dir.path().to_owned(),
    };
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .expect("runtime");
    let report = zkfleet_bench::gpu_fleet::run(&options, &runtime).expect("the gpu-fleet suite");
    assert!(report.prover_jobs > 0);
    let fleets: Vec<FleetKind> = report.cells.iter().map(|c| c.fleet).collect();
    assert_eq!(fleets, FLEETS.to_vec());
    for cell in &report.cells {
        assert_positive("ready", &cell.ready_s);
        assert_positive("wall", &cell.wall_s);
        assert!(cell.provers_wall_s.median <= cell.wall_s.median, "{cell:?}");
        let proved: usize = cell.jobs_by_prover.iter().map(|(_, n)| n).sum();
        assert_eq!(proved, report.prover_jobs, "{cell:?}");
        assert!(cell.speedup.is_some_and(|x| x.is_finite() && x > 0.0));
    }
    let mixed = &report.cells[2];
    assert_eq!(mixed.jobs_by_prover.len(), 2, "{mixed:?}");
    assert!(
        mixed.jobs_by_prover.iter().all(|(_, n)| *n > 0),
        "{mixed:?}"
    );
    assert!(report.cells[0].speedup == Some(1.0));
}
