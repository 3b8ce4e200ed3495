//! The benchmark's report: per (backend, workers) cell, every run and its median and range;
//! the machine and commit measured; where the 60-second target stands.

use serde::{Deserialize, Serialize};

use crate::environment::PostgresSettings;
use crate::figure::summary;
use crate::probe::round3;
use crate::run::RunMeasurement;
use crate::shape::{BasicType, JobCounts, TreeShape};

/// The target of issue #7: the whole mainnet-shaped tree on PostgreSQL in under a minute.
pub const TARGET_SECONDS: f64 = 60.0;

/// Everything one invocation of the benchmark measured.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct OrchestrationReport {
    pub benchmark: String,
    /// The command that produced the report.
    pub command: String,
    /// `git rev-parse --short HEAD`, with a note when the measured crates had uncommitted
    /// changes.
    pub git_commit: String,
    /// UTC, `YYYY-MM-DD HH:MM UTC`.
    pub date: String,
    pub machine: MachineInfo,
    pub shape: ShapeReport,
    pub runs_per_cell: usize,
    /// Present when PostgreSQL was measured.
    pub postgres: Option<PostgresSettings>,
    pub cells: Vec<CellReport>,
    pub target: TargetAssessment,
}

/// The machine, which is shared: figures only mean something with its load.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct MachineInfo {
    pub cores: usize,
    pub cpu_model: String,
    /// `/proc/loadavg`'s 1, 5 and 15-minute averages before and after the benchmark.
    pub load_average_before: String,
    pub load_average_after: String,
}

/// The tree every run completed.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ShapeReport {
    pub name: String,
    pub arity: u32,
    pub types: Vec<BasicType>,
    pub jobs: JobCounts,
    pub prover_jobs: u64,
    pub all_jobs: u64,
}

impl ShapeReport {
    pub fn of(shape: &TreeShape) -> Self {
        let jobs = shape.job_counts();
        Self {
            name: shape.name.clone(),
            arity: shape.arity,
            types: shape.types.clone(),
            jobs,
            prover_jobs: jobs.prover_jobs(),
            all_jobs: jobs.all_jobs(),
        }
    }

    /// Whether this is the full mainnet shape (the one the target is about).
    pub fn is_mainnet(&self) -> bool {
        let mainnet = TreeShape::mainnet();
        self.arity == mainnet.arity && self.types == mainnet.types
    }
}

/// All runs of one (backend, workers) pair.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct CellReport {
    pub backend: String,
    /// Concurrent prover workers.
    pub workers: usize,
    pub median_seconds: f64,
    pub min_seconds: f64,
    pub max_seconds: f64,
    pub median_jobs_per_second: f64,
    pub min_jobs_per_second: f64,
    pub max_jobs_per_second: f64,
    pub runs: Vec<RunMeasurement>,
}

impl CellReport {
    /// Summarises `runs` (at least one).
    pub fn of(backend: &str, workers: usize, runs: Vec<RunMeasurement>) -> Self {
        let seconds: Vec<f64> = runs.iter().map(|r| r.seconds).collect();
        let rates: Vec<f64> = runs.iter().map(|r| r.jobs_per_second).collect();
        let (median_seconds, min_seconds, max_seconds) = summary(&seconds);
        let (median_rate, min_rate, max_rate) = summary(&rates);
        Self {
            backend: backend.to_owned(),
            workers,
            median_seconds: round3(median_seconds),
            min_seconds,
            max_seconds,
            median_jobs_per_second: median_rate.round(),
            min_jobs_per_second: min_rate,
            max_jobs_per_second: max_rate,
            runs,
        }
    }

    /// The run whose time is the median (the lower one of an even count).
    pub fn median_run(&self) -> Option<&RunMeasurement> {
        let mut runs: Vec<&RunMeasurement> = self.runs.iter().collect();
        runs.sort_by(|a, b| a.seconds.total_cmp(&b.seconds));
        runs.get(runs.len().saturating_sub(1) / 2).copied()
    }
}

/// Where the target stands.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct TargetAssessment {
    pub target_seconds: f64,
    /// `None` when the report cannot say: the full shape on PostgreSQL was not measured.
    pub met: Option<bool>,
    /// The fastest PostgreSQL cell of the full shape: (workers, median seconds).
    pub best_postgres_cell: Option<(usize, f64)>,
    /// One sentence for the docs.
    pub statement: String,
}

impl TargetAssessment {
    pub fn assess(shape: &ShapeReport, cells: &[CellReport]) -> Self {
        let best = cells
            .iter()
            .filter(|c| c.backend == "postgresql")
            .min_by(|a, b| a.median_seconds.total_cmp(&b.median_seconds))
            .map(|c| (c.workers, c.median_seconds));
        let (met, statement) = match best {
            _ if !shape.is_mainnet() => (
                None,
                format!(
                    "Not assessed: the target ({TARGET_SECONDS:.0} s for the full mainnet-shaped \
                     tree on PostgreSQL) needs the full shape, this report is for `{}`.",
                    shape.name
                ),
            ),
            None => (
                None,
                format!(
                    "Not assessed: PostgreSQL was not measured (target: the full tree in under \
                     {TARGET_SECONDS:.0} s on PostgreSQL)."
                ),
            ),
            Some((workers, seconds)) => {
                let met = seconds < TARGET_SECONDS;
                let verdict = if met { "met" } else { "not met" };
                let meeting: Vec<String> = cells
                    .iter()
                    .filter(|c| c.backend == "postgresql" && c.median_seconds < TARGET_SECONDS)
                    .map(|c| c.workers.to_string())
                    .collect();
                let which = if meeting.is_empty() {
                    "no worker count meets it".to_owned()
                } else {
                    format!("met with {} workers", meeting.join(", "))
                };
                (
                    Some(met),
                    format!(
                        "Target ({TARGET_SECONDS:.0} s for the whole {}-job tree on PostgreSQL): \
                         **{verdict}**. Fastest PostgreSQL cell: {workers} workers, median \
                         {seconds:.1} s ({which}).",
                        shape.all_jobs
                    ),
                )
            }
        };
        Self {
            target_seconds: TARGET_SECONDS,
            met,
            best_postgres_cell: best,
            statement,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn run(seconds: f64) -> RunMeasurement {
        RunMeasurement {
            seconds,
            jobs_per_second: (1000.0 / seconds).round(),
            milestones: Vec::new(),
            operations: Vec::new(),
        }
    }

    #[test]
    fn cells_summarise_their_runs() {
        let cell = CellReport::of("sqlite", 8, vec![run(3.0), run(1.0), run(2.0)]);
        assert_eq!(
            (cell.median_seconds, cell.min_seconds, cell.max_seconds),
            (2.0, 1.0, 3.0)
        );
        assert_eq!(cell.median_jobs_per_second, 500.0);
        assert_eq!(cell.median_run().map(|r| r.seconds), Some(2.0));
        let even = CellReport::of("sqlite", 1, vec![run(4.0), run(2.0)]);
        assert_eq!(even.median_seconds, 3.0);
        assert_eq!(even.median_run().map(|r| r.seconds), Some(2.0));
    }

    #[test]
    fn the_target_is_judged_on_postgres_with_the_full_shape_only() {
        let full = ShapeReport::of(&TreeShape::mainnet());
        let cells = vec![
            CellReport::of("sqlite", 1, vec![run(10.0)]),
            CellReport::of("postgresql", 1, vec![run(70.0)]),
            CellReport::of("postgresql", 8, vec![run(40.0)]),
        ];
        let target = TargetAssessment::assess(&full, &cells);
        assert_eq!(target.met, Some(true));
        assert_eq!(target.best_postgres_cell, Some((8, 40.0)));
        assert!(
            target.statement.contains("met with 8 workers"),
            "{}",
            target.statement
        );

        let slow = vec![CellReport::of("postgresql", 8, vec![run(61.0)])];
        assert_eq!(TargetAssessment::assess(&full, &slow).met, Some(false));
        let sqlite_only = vec![CellReport::of("sqlite", 8, vec![run(1.0)])];
        assert_eq!(TargetAssessment::assess(&full, &sqlite_only).met, None);
        let quick = ShapeReport::of(&TreeShape::quick());
        assert_eq!(TargetAssessment::assess(&quick, &cells).met, None);
    }
}
