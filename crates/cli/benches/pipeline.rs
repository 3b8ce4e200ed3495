//! Pipeline efficiency as a cargo bench: `zkfleet bench --suites pipeline` (the measuring is
//! `zkfleet_bench::pipeline`, shared with the command) at the default geometry, with the
//! keystore in `target/tmp/bench-keys` (built once).
//!
//! `cargo bench -p zkfleet-cli --bench pipeline`; `ZKFLEET_BENCH_OPERATIONS` (default `256`,
//! comma-separated for several sizes), `ZKFLEET_BENCH_RUNS` (default 3). Writes
//! `docs/benchmarks/bench.json` and the `pipeline` section of docs/benchmarks.md.

// A benchmark links every dependency of its package and uses only some.
#![allow(unused_crate_dependencies)]

use std::path::PathBuf;
use std::process::{Command, ExitCode};

fn main() -> ExitCode {
    let tmp = PathBuf::from(env!("CARGO_TARGET_TMPDIR"));
    let work = tmp.join("bench-pipeline");
    let config = work.join("zkfleet.toml");
    let written = std::fs::create_dir_all(&work).and_then(|()| {
        let keys = tmp.join("bench-keys");
        std::fs::write(
            &config,
            format!("[proving]\nkeys_dir = \"{}\"\n", keys.display()),
        )
    });
    if let Err(e) = written {
        eprintln!("error: writing {}: {e}", config.display());
        return ExitCode::FAILURE;
    }
    let sizes = std::env::var("ZKFLEET_BENCH_OPERATIONS").unwrap_or_else(|_| "256".into());
    let runs = std::env::var("ZKFLEET_BENCH_RUNS").unwrap_or_else(|_| "3".into());
    let status = Command::new(env!("CARGO_BIN_EXE_zkfleet"))
        .arg("--config")
        .arg(&config)
        .arg("--data-dir")
        .arg(&work)
        .args(["bench", "--suites", "pipeline", "--operations", &sizes])
        .args(["--runs", &runs])
        .env_remove("ZKFLEET_CONFIG")
        .status();
    match status {
        Ok(status) if status.success() => ExitCode::SUCCESS,
        Ok(status) => {
            eprintln!("error: zkfleet bench exited with {status}");
            ExitCode::FAILURE
        }
        Err(e) => {
            eprintln!("error: running zkfleet bench: {e}");
            ExitCode::FAILURE
        }
    }
}
