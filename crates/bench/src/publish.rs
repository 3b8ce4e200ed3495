//! Writing a report where the project keeps its figures: the JSON in
//! `docs/benchmarks/orchestration.json` and the `orchestration` section of
//! `docs/benchmarks.md` (between its markers; appended under `## Orchestration` when absent).

use std::fmt::Write as _;
use std::path::{Path, PathBuf};

use crate::error::BenchError;
use crate::report::{CellReport, OrchestrationReport};

pub(crate) const BEGIN_MARKER: &str = "<!-- BEGIN orchestration -->";
pub(crate) const END_MARKER: &str = "<!-- END orchestration -->";
const JSON_NAME: &str = "benchmarks/orchestration.json";

/// The workspace's `docs` directory (where this crate was built from).
pub fn default_docs_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../../docs")
}

/// Writes `docs_dir/benchmarks/orchestration.json` and the section of
/// `docs_dir/benchmarks.md`.
pub fn write_report(report: &OrchestrationReport, docs_dir: &Path) -> Result<(), BenchError> {
    let json_path = docs_dir.join(JSON_NAME);
    if let Some(parent) = json_path.parent() {
        std::fs::create_dir_all(parent)
            .map_err(|e| BenchError::io(format!("creating {}", parent.display()), e))?;
    }
    std::fs::write(&json_path, serde_json::to_string_pretty(report)? + "\n")
        .map_err(|e| BenchError::io(format!("writing {}", json_path.display()), e))?;
    write_section(docs_dir, "orchestration", "Orchestration", &section(report))
}

/// Reads a report written by [`write_report`] (to republish it, e.g. after a change of the
/// section's layout, without measuring again).
pub fn read_report(docs_dir: &Path) -> Result<OrchestrationReport, BenchError> {
    let json_path = docs_dir.join(JSON_NAME);
    let text = std::fs::read_to_string(&json_path)
        .map_err(|e| BenchError::io(format!("reading {}", json_path.display()), e))?;
    Ok(serde_json::from_str(&text)?)
}

/// `document` with the text between the markers replaced by `section` (which carries the
/// markers), or with `## Orchestration` and the section appended when the markers are absent.
pub fn replace_section(document: &str, section: &str) -> String {
    replace_named_section(document, "orchestration", "Orchestration", section)
}

/// `document` with the text between `<!-- BEGIN name -->` and `<!-- END name -->` replaced by
/// `section` (which carries those markers), or with `## heading` and the section appended when
/// the markers are absent.
pub fn replace_named_section(document: &str, name: &str, heading: &str, section: &str) -> String {
    let (begin_marker, end_marker) = markers(name);
    match (document.find(&begin_marker), document.find(&end_marker)) {
        (Some(begin), Some(end)) if end > begin => {
            let end = end + end_marker.len();
            let rest = document[end..]
                .strip_prefix('\n')
                .unwrap_or(&document[end..]);
            format!("{}{section}{rest}", &document[..begin])
        }
        _ => format!(
            "{}\n\n## {heading}\n\n{section}",
            document.trim_end_matches('\n')
        ),
    }
}

/// The BEGIN and END markers of the section `name`.
pub fn markers(name: &str) -> (String, String) {
    (
        format!("<!-- BEGIN {name} -->"),
        format!("<!-- END {name} -->"),
    )
}

/// Replaces (or appends) one section of `docs_dir/benchmarks.md`.
pub fn write_section(
    docs_dir: &Path,
    name: &str,
    heading: &str,
    section: &str,
) -> Result<(), BenchError> {
    let md_path = docs_dir.join("benchmarks.md");
    let existing = match std::fs::read_to_string(&md_path) {
        Ok(text) => text,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => "# Benchmarks\n".to_owned(),
        Err(e) => return Err(BenchError::io(format!("reading {}", md_path.display()), e)),
    };
    let updated = replace_named_section(&existing, name, heading, section);
    std::fs::write(&md_path, updated)
        .map_err(|e| BenchError::io(format!("writing {}", md_path.display()), e))
}

/// The Markdown section, markers included.
pub fn section(report: &OrchestrationReport) -> String {
    let shape = &report.shape;
    let jobs = &shape.jobs;
    let mut s = String::new();
    let _ = writeln!(s, "{BEGIN_MARKER}");
    let _ = writeln!(
        s,
        "What the fleet itself costs, with proving taken out: one batch shaped like a ZKsync \
         mainnet batch flows through the real job database, object store and job runners \
         (picker → executor → saver), whose executors build placeholder blobs instead of \
         circuits and proofs (`crates/bench`; the placeholders cannot pass for proofs). Time = \
         from the batch's insertion to its compression job's completion. Every job picks its \
         row, reads its input blobs, writes its output blobs and completes in the database, \
         which queues dependents in the same transaction.\n"
    );
    let _ = writeln!(
        s,
        "Tree: {} — {} basic prover jobs over {} circuit types, {} leaf, {} node, {} recursion \
         tip, {} scheduler ({} prover jobs), plus {} witness generation jobs and {} compression \
         job: **{} jobs**. Arity {}. Fleet per run: N prover workers, one worker per witness \
         round and one compressor, each a job runner with its own picker and saver (as separate \
         processes would be); store: a local directory; idle backoff 2–50 ms. {} runs per cell; \
         median and range (min–max).\n",
        shape.name,
        jobs.basic_prover_jobs,
        shape.types.len(),
        jobs.leaf_prover_jobs,
        jobs.node_prover_jobs,
        jobs.recursion_tip_prover_jobs,
        jobs.scheduler_prover_jobs,
        shape.prover_jobs,
        jobs.witness_jobs(),
        jobs.compression_jobs,
        shape.all_jobs,
        shape.arity,
        report.runs_per_cell,
    );
    let _ = writeln!(
        s,
        "| backend | workers | median time (s) | min–max (s) | median jobs/s | min–max jobs/s |\n\
         |---|---:|---:|---:|---:|---:|"
    );
    for c in &report.cells {
        let _ = writeln!(
            s,
            "| {} | {} | {:.1} | {:.1}–{:.1} | {:.0} | {:.0}–{:.0} |",
            c.backend,
            c.workers,
            c.median_seconds,
            c.min_seconds,
            c.max_seconds,
            c.median_jobs_per_second,
            c.min_jobs_per_second,
            c.max_jobs_per_second
        );
    }
    let _ = writeln!(s, "\n{}\n", report.target.statement);
    if let Some(cell) = breakdown_cell(&report.cells) {
        write_breakdown(&mut s, cell);
    }
    if let Some(pg) = &report.postgres {
        let _ = writeln!(
            s,
            "PostgreSQL {} on loopback, fsync = {}, synchronous_commit = {}{}. SQLite: WAL file \
             on local disk, synchronous = NORMAL.\n",
            pg.server_version,
            pg.fsync,
            pg.synchronous_commit,
            if pg.fsync == "off" || pg.synchronous_commit == "off" {
                " (a commit waits for no disk flush: a production server's commits cost more)"
            } else {
                ""
            }
        );
    }
    let m = &report.machine;
    let _ = writeln!(
        s,
        "Command: `{}`. Machine: {} cores, {}, shared with other work (load average {} before, \
         {} after). Commit `{}`, {}. Raw figures: [`{JSON_NAME}`]({JSON_NAME}).",
        report.command,
        m.cores,
        m.cpu_model,
        m.load_average_before,
        m.load_average_after,
        report.git_commit,
        report.date
    );
    let _ = writeln!(s, "{END_MARKER}");
    s
}

/// The cell whose median run is broken down: the fastest PostgreSQL cell, else the fastest.
fn breakdown_cell(cells: &[CellReport]) -> Option<&CellReport> {
    let fastest = |backend: Option<&str>| {
        cells
            .iter()
            .filter(|c| backend.is_none_or(|b| c.backend == b))
            .min_by(|a, b| a.median_seconds.total_cmp(&b.median_seconds))
    };
    fastest(Some("postgresql")).or_else(|| fastest(None))
}

fn write_breakdown(s: &mut String, cell: &CellReport) {
    let Some(run) = cell.median_run() else {
        return;
    };
    let _ = writeln!(
        s,
        "Where the time goes — median run of {} with {} workers ({:.1} s).\n",
        cell.backend, cell.workers, run.seconds
    );
    let milestone = |prefix: &str| {
        run.milestones
            .iter()
            .find(|m| m.stage.starts_with(prefix))
            .map(|m| m.done_after_seconds)
    };
    let operation = |prefix: &str| {
        run.operations
            .iter()
            .find(|o| o.operation.starts_with(prefix))
    };
    if let (Some(basic), Some(proofs), Some(write), Some(insert)) = (
        milestone("basic witness"),
        milestone("basic proofs"),
        operation("store: basic witness generation writes"),
        operation("db: complete basic witness job"),
    ) {
        let _ = writeln!(
            s,
            "Basic witness generation (one job) takes {basic:.1} s, {:.0} % of the run: {:.1} s \
             writing its circuit blobs to the store and {:.1} s in the one transaction that \
             inserts the tree's jobs. The basic proofs then drain in {:.1} s; everything after \
             them (leaf to compression, {:.1} s) is short because those rounds have few jobs.\n",
            100.0 * basic / run.seconds,
            write.total_seconds,
            insert.total_seconds,
            proofs - basic,
            run.seconds - proofs,
        );
    }
    let _ = writeln!(
        s,
        "When the last job of each stage completed, counted from the batch's insertion:\n"
    );
    let _ = writeln!(s, "| stage | done after (s) |\n|---|---:|");
    for m in &run.milestones {
        let _ = writeln!(s, "| {} | {:.2} |", m.stage, m.done_after_seconds);
    }
    let _ = writeln!(
        s,
        "\nOperations, summed over all workers (they overlap, so the sums exceed the wall \
         time):\n"
    );
    let _ = writeln!(
        s,
        "| operation | count | total (s) | mean (ms) |\n|---|---:|---:|---:|"
    );
    for o in &run.operations {
        let _ = writeln!(
            s,
            "| {} | {} | {:.2} | {:.3} |",
            o.operation, o.count, o.total_seconds, o.mean_ms
        );
    }
    let _ = writeln!(s);
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn replaces_between_markers_and_keeps_the_rest() {
        let doc = format!("# B\n\nintro\n\n{BEGIN_MARKER}\nold\n{END_MARKER}\n\n## Next\ntext\n");
        let section = format!("{BEGIN_MARKER}\nnew\n{END_MARKER}\n");
        let out = replace_section(&doc, &section);
        assert_eq!(
            out,
            format!("# B\n\nintro\n\n{BEGIN_MARKER}\nnew\n{END_MARKER}\n\n## Next\ntext\n")
        );
        // Idempotent.
        assert_eq!(replace_section(&out, &section), out);
    }

    fn report() -> OrchestrationReport {
        use crate::probe::{Milestone, OperationTime};
        use crate::report::{MachineInfo, ShapeReport, TargetAssessment};
        use crate::run::RunMeasurement;
        use crate::shape::TreeShape;
        let shape = ShapeReport::of(&TreeShape::mainnet());
        let run = RunMeasurement {
            seconds: 20.0,
            jobs_per_second: 884.0,
            milestones: vec![
                Milestone {
                    stage: "basic witness generation".into(),
                    done_after_seconds: 5.0,
                },
                Milestone {
                    stage: "basic proofs".into(),
                    done_after_seconds: 19.0,
                },
            ],
            operations: vec![
                OperationTime {
                    operation: "store: basic witness generation writes all its blobs".into(),
                    count: 1,
                    total_seconds: 4.0,
                    mean_ms: 4000.0,
                },
                OperationTime {
                    operation: "db: complete basic witness job".into(),
                    count: 1,
                    total_seconds: 1.0,
                    mean_ms: 1000.0,
                },
            ],
        };
        let cells = vec![CellReport::of("postgresql", 8, vec![run])];
        OrchestrationReport {
            benchmark: "orchestration".into(),
            command: "zkfleet-bench-orchestration".into(),
            git_commit: "abc1234".into(),
            date: "2026-11-25 04:00 UTC".into(),
            machine: MachineInfo {
                cores: 2,
                cpu_model: "cpu".into(),
                load_average_before: "1 1 1".into(),
                load_average_after: "2 2 2".into(),
            },
            target: TargetAssessment::assess(&shape, &cells),
            shape,
            runs_per_cell: 1,
            postgres: None,
            cells,
        }
    }

    #[test]
    fn writes_json_and_section_and_reads_them_back() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(dir.path().join("benchmarks.md"), "# Benchmarks\n").unwrap();
        let report = report();
        write_report(&report, dir.path()).unwrap();
        assert_eq!(read_report(dir.path()).unwrap(), report);
        let md = std::fs::read_to_string(dir.path().join("benchmarks.md")).unwrap();
        assert!(md.starts_with("# Benchmarks\n\n## Orchestration\n\n<!-- BEGIN orchestration -->"));
        assert!(
            md.contains("| postgresql | 8 | 20.0 | 20.0–20.0 | 884 | 884–884 |"),
            "{md}"
        );
        assert!(md.contains("**met**"), "{md}");
        assert!(
            md.contains("takes 5.0 s, 25 % of the run: 4.0 s writing"),
            "{md}"
        );
        assert!(md.trim_end().ends_with(END_MARKER));
        // A second write replaces the section instead of appending another.
        write_report(&report, dir.path()).unwrap();
        let again = std::fs::read_to_string(dir.path().join("benchmarks.md")).unwrap();
        assert_eq!(again, md);
    }

    #[test]
    fn appends_a_heading_and_the_section_when_markers_are_absent() {
        let section = format!("{BEGIN_MARKER}\nnew\n{END_MARKER}\n");
        let out = replace_section("# B\n\ntext\n", &section);
        assert_eq!(out, format!("# B\n\ntext\n\n## Orchestration\n\n{section}"));
        assert_eq!(replace_section(&out, &section), out);
    }
}
