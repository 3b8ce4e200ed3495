//! The cost suite without the `zkfleet` binary (for a checkout whose other crates do not build,
//! and for quick looks): proves the sample batch and the batches given, at the default
//! `[proving]` configuration (default geometry and arity, standard compression), and prints
//! the report's JSON and its docs section. `zkfleet bench --suites cost` is the real entry.
//!
//! ```text
//! cargo run --release -p zkfleet-bench --example cost -- KEYS_DIR [OPERATIONS,...] [RUNS] [SIGS,OPS,DEPOSITS] [ZKFLEET]
//! ```
//!
//! With ZKFLEET (a `zkfleet` executable), each batch is also proven through `zkfleet prove` on
//! the same keystore and geometry, and that process's CPU time is reported.
//!
//! The last argument sets the geometry's items per instance (XMSS height stays the default);
//! circuits missing from KEYS_DIR are built there first (not counted).
//! `ZKFLEET_COST_ARITY=N` in the environment proves at recursion arity N instead of the fleet's
//! default (`zkfleet_circuits::DEFAULT_ARITY`, 3).
//! `ZKFLEET_COST_PROVER=plonky2` proves every job with plonky2's own `prove` instead of the
//! default CPU prover (zkfleet's prover over the batched Merkle hasher, issue 18).

// An example links every dependency of its package and uses only some.
#![allow(unused_crate_dependencies)]

use zkfleet_bench::cost::{run, CostOptions, PipelineCommand};
use zkfleet_bench::suites::{BenchReport, SuiteReports, SuiteRun};
use zkfleet_circuits::pipeline::CpuProver;
use zkfleet_circuits::recursion::CompressionProfile;
use zkfleet_circuits::{BasicGeometry, ProvingConfiguration};

fn main() -> Result<(), Box<dyn std::error::Error>> {
    tracing_subscriber::fmt()
        .with_writer(std::io::stderr)
        .init();
    let args: Vec<String> = std::env::args().skip(1).collect();
    let Some(keys_dir) = args.first() else {
        return Err("usage: cost KEYS_DIR [OPERATIONS,...] [RUNS]".into());
    };
    let sizes = match args.get(1) {
        Some(list) if !list.is_empty() => list
            .split(',')
            .map(|n| n.parse::<usize>())
            .collect::<Result<Vec<_>, _>>()?,
        _ => Vec::new(),
    };
    let runs = args.get(2).map(|r| r.parse()).transpose()?.unwrap_or(1);
    let mut geometry = BasicGeometry::default();
    if let Some(items) = args.get(3) {
        let items: Vec<u32> = items
            .split(',')
            .map(|n| n.parse::<u32>())
            .collect::<Result<_, _>>()?;
        let [signatures, operations, deposits] = items[..] else {
            return Err("the geometry is SIGS,OPS,DEPOSITS".into());
        };
        geometry.signatures_per_instance = signatures;
        geometry.operations_per_instance = operations;
        geometry.deposits_per_instance = deposits;
    }
    // The recursion arity (docs/proofs.md, "Choosing the arity"): the fleet's default unless
    // ZKFLEET_COST_ARITY says otherwise, so that the sweep can try other arities on the same
    // command line.
    let arity: u32 = match std::env::var("ZKFLEET_COST_ARITY") {
        Ok(value) => value.parse()?,
        Err(_) => zkfleet_circuits::DEFAULT_ARITY,
    };
    // The CPU prover of the jobs (issue 18): the default (the batched Merkle hasher) unless
    // ZKFLEET_COST_PROVER=plonky2 asks for plonky2's own `prove`, the before of a before/after.
    let cpu_prover: CpuProver = match std::env::var("ZKFLEET_COST_PROVER") {
        Ok(value) => value.parse()?,
        Err(_) => CpuProver::default(),
    };
    let command = format!(
        "{}{}cargo run --release -p zkfleet-bench --example cost -- {}",
        if arity == zkfleet_circuits::DEFAULT_ARITY {
            String::new()
        } else {
            format!("ZKFLEET_COST_ARITY={arity} ")
        },
        if cpu_prover == CpuProver::default() {
            String::new()
        } else {
            format!("ZKFLEET_COST_PROVER={cpu_prover} ")
        },
        args.join(" ")
    );
    let pipeline = match args.get(4) {
        Some(zkfleet) => {
            let keys = std::path::absolute(keys_dir)?;
            Some(PipelineCommand {
                zkfleet: std::path::absolute(zkfleet)?,
                proving_config_toml: format!(
                    "[proving]\nkeys_dir = {:?}\narity = {}\ncompression = \"standard\"\n\n\
                     [proving.geometry]\nsignatures_per_instance = {}\n\
                     operations_per_instance = {}\ndeposits_per_instance = {}\nxmss_height = {}\n",
                    keys.display().to_string(),
                    arity,
                    geometry.signatures_per_instance,
                    geometry.operations_per_instance,
                    geometry.deposits_per_instance,
                    geometry.xmss_height
                ),
                work_dir: std::env::temp_dir().join(format!("zkfleet-cost-{}", std::process::id())),
            })
        }
        None => None,
    };
    let report = run(&CostOptions {
        proving: ProvingConfiguration {
            geometry,
            arity,
            compression: CompressionProfile::Standard,
        },
        keys_dir: keys_dir.into(),
        sample: true,
        sizes,
        runs,
        pipeline,
        cpu_prover,
    })?;
    let bench = BenchReport {
        command: command.clone(),
        date: report.date.clone(),
        git_commit: report.git_commit.clone(),
        machine: report.machine.clone(),
        quick: false,
        suites: SuiteReports {
            cost: Some(SuiteRun {
                command,
                quick: false,
                report,
            }),
            ..SuiteReports::default()
        },
    };
    println!("{}", serde_json::to_string_pretty(&bench)?);
    for (_, _, section) in zkfleet_bench::sections::render(&bench, "benchmarks/bench.json") {
        eprintln!("{section}");
    }
    Ok(())
}
