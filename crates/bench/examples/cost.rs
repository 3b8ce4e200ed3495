//! The cost suite without the `zkfleet` binary (for a checkout whose other crates do not build,
//! and for quick looks): proves the sample batch and the batches given, at the default
//! `[proving]` configuration (default geometry, arity 2, standard compression), and prints
//! the report's JSON and its docs section. `zkfleet bench --suites cost` is the real entry.
//!
//! ```text
//! cargo run --release -p zkfleet-bench --example cost -- KEYS_DIR [OPERATIONS,...] [RUNS] [SIGS,OPS,DEPOSITS]
//! ```
//!
//! The last argument sets the geometry's items per instance (XMSS height stays the default);
//! circuits missing from KEYS_DIR are built there first (not counted).

use zkfleet_bench::cost::{run, CostOptions};
use zkfleet_bench::suites::{BenchReport, SuiteReports, SuiteRun};
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
    let command = format!(
        "cargo run --release -p zkfleet-bench --example cost -- {}",
        args.join(" ")
    );
    let report = run(&CostOptions {
        proving: ProvingConfiguration {
            geometry,
            arity: 2,
            compression: CompressionProfile::Standard,
        },
        keys_dir: keys_dir.into(),
        sample: true,
        sizes,
        runs,
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
