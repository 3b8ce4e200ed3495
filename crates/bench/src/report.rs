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
    /// Which benchmark the report is of (`orchestration`).
    pub benchmark: String,
    /// The command that produced the report.
    pub command: String,
    /// `git rev-parse --short HEAD`, with a note when the measured crates had uncommitted
    /// changes.
    pub git_commit: String,
    /// UTC, `YYYY-MM-DD HH:MM UTC`.
    pub date: String,
    /// The machine it ran on, with its load.
    pub machine: MachineInfo,
    /// The job tree every run completed.
    pub shape: ShapeReport,
    /// Runs of every (backend, workers) cell.
    pub runs_per_cell: usize,
    /// Present when PostgreSQL was measured.
    pub postgres: Option<PostgresSettings>,
    /// One entry per (backend, workers) pair measured.
    pub cells: Vec<CellReport>,
    /// Where the 60-second target stands.
    pub target: TargetAssessment,
}

/// The machine, which is shared: figures only mean something with its load.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct MachineInfo {
    /// Logical cores the benchmark saw.
    pub cores: usize,
    /// The CPU's model name.
    pub cpu_model: String,
    /// `/proc/loadavg`'s 1, 5 and 15-minute averages before and after the benchmark.
    pub load_average_before: String,
    /// The same averages after it.
    pub load_average_after: String,
}

/// The tree every run completed.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ShapeReport {
    /// The shape's name ([`TreeShape::name`]).
    pub name: String,
    /// Children per node proof.
    pub arity: u32,
    /// The basic circuit types of the batch and their instance counts.
    pub types: Vec<BasicType>,
    /// Jobs per table and round.
    pub jobs: JobCounts,
    /// Prover jobs of every round together.
    pub prover_jobs: u64,
    /// Every job of the tree: prover, witness generation and compression jobs.
    pub all_jobs: u64,
}

impl ShapeReport {
    /// The report of `shape`.
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
    /// The job database: `sqlite` or `postgresql`.
    pub backend: String,
    /// Concurrent prover workers.
    pub workers: usize,
    /// Median time from the batch's insertion to its compression job's completion.
    pub median_seconds: f64,
    /// The fastest run.
    pub min_seconds: f64,
    /// The slowest run.
    pub max_seconds: f64,
    /// Median jobs completed per second (all jobs of the tree over the run's time).
    pub median_jobs_per_second: f64,
    /// The slowest run's rate.
    pub min_jobs_per_second: f64,
    /// The fastest run's rate.
    pub max_jobs_per_second: f64,
    /// Every run, in run order.
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
    /// The target: the whole tree in under this many seconds.
    pub target_seconds: f64,
    /// `None` when the report cannot say: the full shape on PostgreSQL was not measured.
    pub met: Option<bool>,
    /// The fastest PostgreSQL cell of the full shape: (workers, median seconds).
    pub best_postgres_cell: Option<(usize, f64)>,
    /// One sentence for the docs.
    pub statement: String,
}

impl TargetAssessment {
    /// Judges the target on the full mainnet shape's PostgreSQL cells; other shapes and backends are not assessed.
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
