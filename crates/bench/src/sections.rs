//! The docs sections of the proving suites (`proving-cost`, `recursion-per-child`,
//! `pipeline`) and the writing of `zkfleet bench`'s report: the JSON (merged with the suites
//! of earlier invocations) and each suite's section of `docs/benchmarks.md`.

use std::fmt::Write as _;
use std::path::Path;

use crate::cost::CostReport;
use crate::error::BenchError;
use crate::figure::Figure;
use crate::pipeline::PipelineReport;
use crate::proving_cost::ProvingCostReport;
use crate::publish;
use crate::recursion_per_child::RecursionPerChildReport;
use crate::report::MachineInfo;
use crate::scaling::ScalingReport;
use crate::suites::{BenchReport, SuiteRun};

/// Writes `report` to `out`, keeping the suites of the report already there that this one did
/// not run (a file that is not such a report is replaced).
pub fn write_json(report: BenchReport, out: &Path) -> Result<BenchReport, BenchError> {
    let merged = match std::fs::read_to_string(out) {
        Ok(text) => match serde_json::from_str::<BenchReport>(&text) {
            Ok(older) => report.merged_into(older),
            Err(e) => {
                tracing::warn!(file = %out.display(), error = %e, "replacing a file that is not a bench report");
                report
            }
        },
        Err(_) => report,
    };
    if let Some(parent) = out.parent().filter(|p| !p.as_os_str().is_empty()) {
        std::fs::create_dir_all(parent)
            .map_err(|e| BenchError::io(format!("creating {}", parent.display()), e))?;
    }
    std::fs::write(out, serde_json::to_string_pretty(&merged)? + "\n")
        .map_err(|e| BenchError::io(format!("writing {}", out.display()), e))?;
    Ok(merged)
}

/// Every section of `report`'s suites: (marker name, heading, Markdown with its markers);
/// `json_name` is how the sections link the JSON.
pub fn render(report: &BenchReport, json_name: &str) -> Vec<(&'static str, &'static str, String)> {
    let suites = &report.suites;
    let mut out = Vec::new();
    if let Some(run) = &suites.orchestration {
        out.push((
            "orchestration",
            "Orchestration",
            publish::section(&run.report),
        ));
    }
    if let Some(run) = &suites.proving_cost {
        out.push((
            "proving-cost",
            "Proving cost",
            proving_cost_section(run, json_name),
        ));
    }
    if let Some(run) = &suites.recursion_per_child {
        out.push((
            "recursion-per-child",
            "Recursion cost per child",
            recursion_section(run, json_name),
        ));
    }
    if let Some(run) = &suites.pipeline {
        out.push((
            "pipeline",
            "Pipeline efficiency",
            pipeline_section(run, json_name),
        ));
    }
    if let Some(run) = &suites.scaling {
        out.push(("scaling", "Scaling", scaling_section(run, json_name)));
    }
    if let Some(run) = &suites.cost {
        out.push(("cost", "Cost per operation", cost_section(run, json_name)));
    }
    if let Some(run) = &suites.db {
        let body = crate::db::section(&run.report, &run.command, json_name);
        out.push(("db", "Job database", wrap("db", body)));
    }
    if let Some(run) = &suites.gpu {
        let body = crate::gpu::section(&run.report, &run.command, json_name);
        out.push(("gpu", "GPU prover", wrap("gpu", body)));
    }
    if let Some(run) = &suites.gpu_fleet {
        let body = crate::gpu_fleet::section(&run.report, &run.command, json_name);
        out.push(("gpu-fleet", "GPU fleet", wrap("gpu-fleet", body)));
    }
    out
}

/// Rewrites the docs section of every suite in `report` (`json_name`: how the sections link
/// the JSON, relative to `docs_dir`). The orchestration suite also writes its own
/// `benchmarks/orchestration.json`, which its section links.
pub fn write_sections(
    report: &BenchReport,
    docs_dir: &Path,
    json_name: &str,
) -> Result<(), BenchError> {
    if let Some(run) = &report.suites.orchestration {
        publish::write_report(&run.report, docs_dir)?;
    }
    for (name, heading, body) in render(report, json_name) {
        if name != "orchestration" {
            publish::write_section(docs_dir, name, heading, &body)?;
        }
    }
    Ok(())
}

fn wrap(name: &str, body: String) -> String {
    let (begin, end) = publish::markers(name);
    format!("{begin}\n{}\n{end}\n", body.trim())
}

/// The line every section ends with: command, machine and its load, commit, date, JSON.
fn provenance(
    s: &mut String,
    command: &str,
    machine: &MachineInfo,
    commit: &str,
    date: &str,
    json_name: &str,
) {
    let _ = writeln!(
        s,
        "\nCommand: `{command}` (release build). Machine: {} cores, {}, {} (load average {} \
         before, {} after). Commit `{commit}`, {date}. Raw figures: [`{json_name}`]({json_name}).",
        machine.cores,
        machine.cpu_model,
        contention(machine),
        machine.load_average_before,
        machine.load_average_after
    );
}

/// Whether other work shared the cores, read off the 1-minute load average at the end of the
/// run: the benchmark keeps at most every core busy, so more load than cores means something
/// else ran beside it. (The load before includes the decay of whatever ran just before, so it
/// is reported, not judged.)
fn contention(machine: &MachineInfo) -> &'static str {
    let one_minute = |load: &str| {
        load.split_whitespace()
            .next()
            .and_then(|l| l.parse::<f64>().ok())
    };
    let cores = machine.cores.max(1) as f64;
    match one_minute(&machine.load_average_after) {
        Some(after) if after <= cores + 0.5 => "no more load at the end than the benchmark's own",
        Some(_) => "shared with other builds and tests — figures are contended",
        None => "load unknown",
    }
}

fn mib(figure: &Option<Figure>) -> String {
    figure
        .as_ref()
        .map_or_else(|| "–".to_owned(), |f| format!("{:.0}", f.median))
}

fn proving_cost_section(run: &SuiteRun<ProvingCostReport>, json_name: &str) -> String {
    let r = &run.report;
    let c = &r.configuration;
    let mut s = String::new();
    let _ = writeln!(
        s,
        "Each kind of prover job of a generated {}-operation batch (geometry {:?}, arity {}), \
         proven {} times by our path (what a circuit prover runs: `witness_vector` — decode, \
         native checks, witness generation — then `prove_job` — prove, verify) and by plonky2's \
         `CircuitData::prove` on the same circuit data with the same assigned inputs; the two \
         alternate which goes first. Ratio = ours ÷ plonky2 per run; median (min–max). Peak RSS \
         = the process's peak resident memory while the job ran (every circuit of the \
         configuration is loaded); job memory = that peak above the resident size at the job's \
         start (`/proc/self/clear_refs` reset, then `VmHWM`). Circuits loaded in {:.1} s.\n",
        r.operations, c.geometry, c.arity, r.runs, r.circuit_loading_s
    );
    let _ = writeln!(
        s,
        "| job | degree | proof (B) | ours (s) | of which witness vector (s) | plonky2 `prove` (s) | plonky2 `verify` (s) | ratio | peak RSS ours / plonky2 (MiB) | job memory ours / plonky2 (MiB) |\n\
         |---|---|---:|---:|---:|---:|---:|---:|---:|---:|"
    );
    for j in &r.jobs {
        let _ = writeln!(
            s,
            "| {} | 2^{} | {} | {} | {} | {} | {} | **{}** | {} / {} | {} / {} |",
            j.job,
            j.degree_bits,
            j.proof_bytes,
            j.ours_s.display(3),
            j.ours_witness_vector_s.display(3),
            j.plonky2_prove_s.display(3),
            j.plonky2_verify_s.display(4),
            j.ratio.display(3),
            mib(&j.ours_peak_rss_mib),
            mib(&j.plonky2_peak_rss_mib),
            mib(&j.ours_job_memory_mib),
            mib(&j.plonky2_job_memory_mib),
        );
    }
    let verdict = if r.target.met { "met" } else { "not met" };
    let worst = r
        .target
        .worst
        .as_ref()
        .map(|(job, ratio)| format!(" Largest median ratio: {ratio:.3} ({job})."))
        .unwrap_or_default();
    let _ = writeln!(
        s,
        "\nTarget (our path ≤ {:.2} × plonky2's `prove` for every job kind): **{verdict}**.{worst}",
        r.target.target_ratio
    );
    provenance(
        &mut s,
        &run.command,
        &r.machine,
        &r.git_commit,
        &r.date,
        json_name,
    );
    wrap("proving-cost", s)
}

fn recursion_section(run: &SuiteRun<RecursionPerChildReport>, json_name: &str) -> String {
    let r = &run.report;
    let (low, high) = r.anchor_per_child_s;
    let mut s = String::new();
    let _ = writeln!(
        s,
        "The node job (2^{} rows, aggregating {} children) from the proving-cost measurement, \
         divided by the arity. Anchor: a plain plonky2 2^12 aggregation costs {low:.2}–{high:.2} \
         s per child (proof-system-notes.md §1.4, 2 contended vCPUs).\n",
        r.node_degree_bits, r.arity
    );
    let _ = writeln!(
        s,
        "| arity | node, ours (s) | per child, ours (s) | per child, plonky2 `prove` (s) | ÷ {high:.2} s | ÷ {low:.2} s |\n|---:|---:|---:|---:|---:|---:|"
    );
    let _ = writeln!(
        s,
        "| {} | {} | **{}** | {} | {:.2} | {:.2} |",
        r.arity,
        r.node_s.display(3),
        r.per_child_s.display(3),
        r.plonky2_per_child_s.display(3),
        r.ratio_to_anchor_high,
        r.ratio_to_anchor_low
    );
    let verdict = if r.within_anchor {
        "within the anchor or below it"
    } else {
        "above the anchor"
    };
    let _ = writeln!(
        s,
        "\nMedian per child: {:.3} s, {verdict}.",
        r.per_child_s.median
    );
    provenance(
        &mut s,
        &run.command,
        &r.machine,
        &r.git_commit,
        &r.date,
        json_name,
    );
    wrap("recursion-per-child", s)
}

fn pipeline_section(run: &SuiteRun<PipelineReport>, json_name: &str) -> String {
    let r = &run.report;
    let c = &r.configuration;
    let mut s = String::new();
    let _ = writeln!(
        s,
        "Each batch is proven {} time(s) in isolation (`pipeline::prove_sequentially`: job by \
         job, one proof at a time with the whole machine) and through the pipeline ({}; \
         geometry {:?}, arity {}, {:?} compression), each run on a fresh data directory and, \
         on PostgreSQL, a fresh database. Efficiency = (isolated sum ÷ provers) ÷ the pipeline's \
         wall time for the batch (insertion to final proof; loading the circuits excluded), per \
         run; median (min–max).\n",
        r.runs, r.fleet, c.geometry, c.arity, c.compression
    );
    let _ = writeln!(
        s,
        "| operations | backend | jobs | isolated sum (s) | pipeline wall (s) | provers | efficiency |\n|---:|---|---:|---:|---:|---:|---:|"
    );
    for cell in &r.cells {
        let _ = writeln!(
            s,
            "| {} | {} | {} | {} | {} | {} | **{}** |",
            cell.operations,
            cell.backend,
            cell.jobs,
            cell.isolated_sum_s.display(1),
            cell.pipeline_wall_s.display(1),
            cell.provers,
            cell.efficiency.display(3)
        );
    }
    let t = &r.target;
    let statement = match (t.met, t.worst_median) {
        (Some(met), Some(worst)) => format!(
            "**{}** (lowest median efficiency of the {}-operation batch: {worst:.3})",
            if met { "met" } else { "not met" },
            t.operations
        ),
        _ => format!(
            "**not measured** (no {}-operation batch in this run)",
            t.operations
        ),
    };
    let _ = writeln!(
        s,
        "\nTarget (efficiency ≥ {:.2} for the {}-operation batch): {statement}.",
        t.target_efficiency, t.operations
    );
    provenance(
        &mut s,
        &run.command,
        &r.machine,
        &r.git_commit,
        &r.date,
        json_name,
    );
    wrap("pipeline", s)
}

fn cost_section(run: &SuiteRun<CostReport>, json_name: &str) -> String {
    // The witness "round" is CPU between jobs, not jobs.
    let jobs = |n: usize| {
        if n == 0 {
            "–".to_owned()
        } else {
            n.to_string()
        }
    };
    let r = &run.report;
    let c = &r.configuration;
    let mut s = String::new();
    let _ = writeln!(
        s,
        "Each batch is proven {} time(s) in one process, job by job on every core \
         (`pipeline::prove_sequentially_with`: the pipeline's witnesses, `witness_vector` + \
         `prove_job`, compression), geometry {:?}, arity {}, {:?} compression. CPU = the \
         process's user + system time (`/proc/self/stat`, every thread) read around every job; \
         *witness* is the CPU spent between jobs (cutting the batch, building the next round's \
         witnesses). CPU-seconds per operation, median (min–max) over runs; wall seconds beside \
         them. Loading the circuits ({:.1} s) is not counted.\n",
        r.runs, c.geometry, c.arity, c.compression, r.circuit_loading_s
    );
    let _ = writeln!(
        s,
        "| batch | operations | round | jobs | CPU (s) | CPU-s per operation | wall (s) |\n|---|---:|---|---:|---:|---:|---:|"
    );
    for b in &r.batches {
        for round in &b.rounds {
            let _ = writeln!(
                s,
                "| {} | {} | {} | {} | {} | {} | {} |",
                b.batch,
                b.operations,
                round.round,
                jobs(round.jobs),
                round.cpu_s.display(1),
                round.cpu_per_operation_s.display(3),
                round.wall_s.display(1)
            );
        }
        let _ = writeln!(
            s,
            "| {} | {} | **total** | | **{}** | **{}** | {} |",
            b.batch,
            b.operations,
            b.cpu_s.display(1),
            b.cpu_per_operation_s.display(3),
            b.wall_s.display(1)
        );
        if let Some(p) = &b.pipeline {
            let _ = writeln!(
                s,
                "| {} | {} | *through `zkfleet prove`* (whole process, loading {} s wall included) | | {} | {} | {} |",
                b.batch,
                b.operations,
                p.loading_wall_s.display(1),
                p.cpu_s.display(1),
                p.cpu_per_operation_s.display(3),
                p.wall_s.display(1)
            );
        }
    }
    if let Some(e) = &r.estimate {
        let _ = writeln!(
            s,
            "\n**Estimate, not a measurement:** the {}-operation batch from the {}-operation \
             batch's mean CPU per job of each kind × the number of such jobs in the {}-operation \
             batch (counted by cutting it into instances); recursion tip, scheduler and \
             compression as measured, witness scaled by operations.\n",
            e.operations, e.from_operations, e.operations
        );
        let _ = writeln!(
            s,
            "| round | jobs | CPU (s, estimated) | CPU-s per operation (estimated) |\n|---|---:|---:|---:|"
        );
        for round in &e.rounds {
            let _ = writeln!(
                s,
                "| {} | {} | {:.1} | {:.3} |",
                round.round,
                jobs(round.jobs),
                round.cpu_s,
                round.cpu_per_operation_s
            );
        }
        let _ = writeln!(
            s,
            "| **total** | | **{:.1}** | **{:.3}** |",
            e.cpu_s, e.cpu_per_operation_s
        );
    }
    let measured_target = r
        .batches
        .iter()
        .find(|b| b.batch == "generated" && b.operations == crate::cost::TARGET_OPERATIONS)
        .map(|b| (b.cpu_per_operation_s.median, "measured"))
        .or_else(|| {
            r.estimate
                .as_ref()
                .map(|e| (e.cpu_per_operation_s, "estimated"))
        });
    let statement = match measured_target {
        Some((per_op, how)) => format!(
            "**{}** ({how}: {per_op:.3} CPU-s per operation)",
            if per_op <= crate::cost::TARGET_CPU_PER_OPERATION {
                "met"
            } else {
                "not met"
            }
        ),
        None => "**not measured**".to_owned(),
    };
    let _ = writeln!(
        s,
        "\nTarget (≤ {:.2} CPU-s per operation on the {}-operation batch): {statement}.",
        crate::cost::TARGET_CPU_PER_OPERATION,
        crate::cost::TARGET_OPERATIONS
    );
    provenance(
        &mut s,
        &run.command,
        &r.machine,
        &r.git_commit,
        &r.date,
        json_name,
    );
    wrap("cost", s)
}

fn scaling_section(run: &SuiteRun<ScalingReport>, json_name: &str) -> String {
    let r = &run.report;
    let c = &r.configuration;
    let mut s = String::new();
    let _ = writeln!(
        s,
        "A generated {}-operation batch ({} prover jobs and the compression job; geometry {:?}, \
         arity {}, {:?} compression) proven {} time(s) per layout by separate processes — \
         `zkfleet witness-generator --all-rounds`, `zkfleet circuit-prover` (its proving pool \
         sized by `RAYON_NUM_THREADS`), `zkfleet compressor` — on one job database and one \
         local store, each run on a fresh data directory (and, on PostgreSQL, a fresh \
         database). The batch is inserted once every process has loaded its circuits. Provers' \
         phase = insertion to the scheduler proof; throughput = prover jobs ÷ that phase; \
         CPU = CPU time of every process in that phase ÷ (phase × cores), 1.00 = every core \
         busy; \
         speedup = throughput ÷ the first layout's on the same backend. Idle components poll \
         {}.\n",
        r.operations,
        r.prover_jobs,
        c.geometry,
        c.arity,
        c.compression,
        r.runs,
        match r.idle_backoff_ms {
            Some((initial, max)) => format!("every {initial}–{max} ms (`[polling]`)"),
            None => "at the components' defaults (1–5 s; the compressor up to 10 s)".to_owned(),
        }
    );
    let _ = writeln!(
        s,
        "| backend | layout | provers' phase (s) | to final proof (s) | prover jobs/s | CPU | speedup |\n|---|---|---:|---:|---:|---:|---:|"
    );
    for cell in &r.cells {
        let _ = writeln!(
            s,
            "| {} | {} | {} | {} | {} | {} | **{:.2}** |",
            cell.backend,
            cell.layout.describe(),
            cell.provers_wall_s.display(1),
            cell.wall_s.display(1),
            cell.prover_jobs_per_s.display(3),
            cell.cpu_utilisation
                .as_ref()
                .map_or_else(|| "–".to_owned(), |f| f.display(2)),
            cell.speedup
        );
    }
    provenance(
        &mut s,
        &run.command,
        &r.machine,
        &r.git_commit,
        &r.date,
        json_name,
    );
    wrap("scaling", s)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn machine(before: &str, after: &str) -> MachineInfo {
        MachineInfo {
            cores: 2,
            cpu_model: "test".into(),
            load_average_before: before.into(),
            load_average_after: after.into(),
        }
    }

    #[test]
    fn contention_is_judged_by_the_load_at_the_end() {
        // A busy build just before, the benchmark alone during the run.
        assert!(contention(&machine("3.80 2.00 1.50", "1.92 1.93 1.94")).starts_with("no more"));
        assert!(contention(&machine("0.10 0.10 0.10", "5.10 3.00 2.00")).starts_with("shared"));
        assert_eq!(contention(&machine("unknown", "unknown")), "load unknown");
    }
}
