//! The database suite (issue 21): the job database at GPU speed.
//!
//! - **Picks per second** ([`picks`]): a batch of queued prover jobs drained by 1, 4 and 16
//!   concurrent workers picking and completing one job per statement or 8 at a time, on SQLite
//!   (a WAL file in a temporary directory) and on PostgreSQL (a fresh database on the server
//!   the plan names, dropped afterwards). On PostgreSQL the single-job path is measured once
//!   more with the job tables' wake-up triggers disabled: what announcing work costs.
//! - **Idle load** ([`idle`], PostgreSQL only: SQLite has no server): 100 idle workers, each
//!   a job runner over its own pool, polling at the components' default and at `zkfleet
//!   prove`'s pace, or woken by `LISTEN/NOTIFY`; the server's CPU over a window and the time
//!   until 100 new jobs are all picked.
//!
//! Targets (issue 21): PostgreSQL ≥ 2,000 picks + completions per second with 16 workers;
//! SQLite no slower than 1,600 (the low end of the 1,600–1,800 measured before the issue);
//! 100 idle workers with wake-ups cost the server < 5 % of one core.

pub mod idle;
pub mod picks;
mod section;

use serde::{Deserialize, Serialize};
use zkfleet_dal::{Dal, PoolOptions};
use zkfleet_types::{HashDigest, ProtocolSemanticVersion, ProtocolVersion, VkDigest};

pub use idle::{IdleCell, IdleMode, IdleOptions, IDLE_MODES};
pub use picks::{PicksCell, PicksOptions};
pub use section::section;

use crate::environment::{self, DatabaseBackend, PostgresDatabase, PostgresSettings};
use crate::error::BenchError;
use crate::machine;
use crate::report::MachineInfo;

/// The protocol version of the suite's jobs (its databases hold nothing else).
const BENCH_VERSION: ProtocolSemanticVersion = ProtocolSemanticVersion::new(1, 0);

/// PostgreSQL target: picks + completions per second with [`TARGET_WORKERS`] workers.
pub const POSTGRES_TARGET_PER_S: f64 = 2_000.0;
/// Workers of the PostgreSQL target.
pub const TARGET_WORKERS: usize = 16;
/// SQLite: no slower than before the issue (1,600–1,800; the low end).
pub const SQLITE_FLOOR_PER_S: f64 = 1_600.0;
/// Idle fleet with wake-ups: server CPU below this share of one core.
pub const IDLE_TARGET_CORE_PERCENT: f64 = 5.0;

/// Connections of each picks database's pool (16 workers hold at most one each at a time).
const PICKS_POOL: u32 = 20;

/// What the database suite measures.
#[derive(Debug, Clone, PartialEq)]
pub struct DbOptions {
    /// SQLite and, when given, a PostgreSQL server.
    pub backends: Vec<DatabaseBackend>,
    /// The picks-per-second measurement.
    pub picks: PicksOptions,
    /// PostgreSQL's single-job path again with the wake-up triggers disabled.
    pub triggers_disabled_comparison: bool,
    /// The idle-load measurement (PostgreSQL only; `None`: skipped).
    pub idle: Option<IdleOptions>,
}

impl DbOptions {
    /// The full suite: 2,000 jobs per run, 1/4/16 workers, batches of 1 and 8, `runs` runs;
    /// 100 idle workers over a 30 s window in every mode.
    pub fn full(backends: Vec<DatabaseBackend>, runs: usize) -> Self {
        Self {
            backends,
            picks: PicksOptions {
                jobs_per_run: 2_000,
                runs,
                workers: vec![1, 4, TARGET_WORKERS],
                batches: vec![1, 8],
            },
            triggers_disabled_comparison: true,
            idle: Some(IdleOptions {
                workers: 100,
                window: std::time::Duration::from_secs(30),
                modes: IDLE_MODES.to_vec(),
                warm_up_cap: None,
            }),
        }
    }

    /// Seconds, not minutes: 200 jobs per run, 1 and 16 workers, one run; on PostgreSQL 10
    /// idle workers, 1 s of warm-up and window, no polling-only slow mode.
    pub fn quick(backends: Vec<DatabaseBackend>) -> Self {
        Self {
            backends,
            picks: PicksOptions {
                jobs_per_run: 200,
                runs: 1,
                workers: vec![1, TARGET_WORKERS],
                batches: vec![1, 8],
            },
            triggers_disabled_comparison: false,
            idle: Some(IdleOptions {
                workers: 10,
                window: std::time::Duration::from_secs(1),
                modes: vec![IDLE_MODES[0], IDLE_MODES[2], IDLE_MODES[3]],
                warm_up_cap: Some(std::time::Duration::from_secs(1)),
            }),
        }
    }

    fn validate(&self) -> Result<(), BenchError> {
        let invalid = |reason: &str| Err(BenchError::InvalidOptions(reason.to_owned()));
        let p = &self.picks;
        if self.backends.is_empty() {
            return invalid("no database backend to measure");
        }
        if p.runs == 0 || p.jobs_per_run == 0 {
            return invalid("the database suite needs at least one run of at least one job");
        }
        if p.workers.is_empty() || p.workers.contains(&0) {
            return invalid("worker counts must be given and at least 1");
        }
        if p.batches.is_empty() || p.batches.contains(&0) {
            return invalid("pick batches must be given and at least 1");
        }
        if let Some(idle) = &self.idle {
            if idle.workers == 0 || idle.window.is_zero() || idle.modes.is_empty() {
                return invalid("the idle load needs workers, a window and a mode");
            }
        }
        Ok(())
    }
}

/// What the database suite measured.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct DbReport {
    /// The commit the binary was built from.
    pub git_commit: String,
    /// When the suite ran (`YYYY-MM-DD HH:MM UTC`).
    pub date: String,
    /// The machine, with its load before and after.
    pub machine: MachineInfo,
    /// Prover jobs queued for each run of the picks measurement.
    pub jobs_per_run: u32,
    /// Runs per picks cell.
    pub runs_per_cell: usize,
    /// Present when PostgreSQL was measured: what a commit costs there.
    pub postgres: Option<PostgresSettings>,
    /// One per (backend, jobs per statement, workers).
    pub picks: Vec<PicksCell>,
    /// Empty when no PostgreSQL server was given (or the idle load was not asked for).
    pub idle: Vec<IdleCell>,
    /// Idle workers of the idle-load measurement, and its window.
    pub idle_workers: usize,
    /// The idle-load measurement's window (s).
    pub idle_window_s: f64,
    /// The targets and where they stand.
    pub targets: Vec<TargetStatus>,
}

/// Where one of the targets stands in this run.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct TargetStatus {
    /// The target, in words.
    pub target: String,
    /// `None`: not measured in this run.
    pub met: Option<bool>,
    /// The figures it was judged on.
    pub figure: String,
}

/// Runs the suite.
pub async fn run(options: &DbOptions) -> Result<DbReport, BenchError> {
    options.validate()?;
    let mut machine = machine::machine_info();
    let mut picks = Vec::new();
    let mut idle = Vec::new();
    let mut postgres = None;
    for backend in &options.backends {
        match backend {
            DatabaseBackend::Sqlite => picks.extend(sqlite_picks(options).await?),
            DatabaseBackend::Postgres { server_url } => {
                postgres = Some(environment::postgres_settings(server_url).await?);
                picks.extend(postgres_picks(server_url, options).await?);
                if let Some(idle_options) = &options.idle {
                    idle = idle::measure(server_url, idle_options).await?;
                }
            }
        }
    }
    machine.load_average_after = machine::load_average();
    let targets = assess(&picks, &idle);
    Ok(DbReport {
        git_commit: machine::git_commit(),
        date: machine::now(),
        machine,
        jobs_per_run: options.picks.jobs_per_run,
        runs_per_cell: options.picks.runs,
        postgres,
        picks,
        idle,
        idle_workers: options.idle.as_ref().map_or(0, |i| i.workers),
        idle_window_s: options
            .idle
            .as_ref()
            .map_or(0.0, |i| i.window.as_secs_f64()),
        targets,
    })
}

async fn sqlite_picks(options: &DbOptions) -> Result<Vec<PicksCell>, BenchError> {
    let dir = tempfile::Builder::new()
        .prefix("zkfleet-bench-db-")
        .tempdir()
        .map_err(|e| BenchError::io("creating the SQLite file's directory", e))?;
    let url = format!("sqlite://{}", dir.path().join("jobs.db").display());
    let dal = Dal::connect_with(&url, &pool()).await?;
    let result = async {
        register_version(&dal).await?;
        let mut next = 0;
        picks::measure(
            "sqlite",
            &dal,
            &options.picks,
            &options.picks.batches,
            &mut next,
            None,
        )
        .await
    }
    .await;
    dal.close().await;
    result
}

async fn postgres_picks(
    server_url: &str,
    options: &DbOptions,
) -> Result<Vec<PicksCell>, BenchError> {
    let database = PostgresDatabase::create(server_url, "picks").await?;
    let result = async {
        let dal = Dal::connect_with(&database.url(), &pool()).await?;
        let measured = async {
            register_version(&dal).await?;
            let mut next = 0;
            let p = &options.picks;
            let url = database.url();
            let vacuum = Some(url.as_str());
            let mut cells =
                picks::measure("postgresql", &dal, p, &p.batches, &mut next, vacuum).await?;
            if options.triggers_disabled_comparison {
                disable_wake_triggers(&database).await?;
                cells.extend(
                    picks::measure(
                        "postgresql, wake-up triggers disabled",
                        &dal,
                        p,
                        &[1],
                        &mut next,
                        vacuum,
                    )
                    .await?,
                );
            }
            Ok::<_, BenchError>(cells)
        }
        .await;
        dal.close().await;
        measured
    }
    .await;
    database.drop_database().await?;
    result
}

/// The job tables' notification triggers off (`ALTER TABLE … DISABLE TRIGGER USER`), on the
/// suite's own database only.
async fn disable_wake_triggers(database: &PostgresDatabase) -> Result<(), BenchError> {
    use sqlx::Connection;
    let error = |source| BenchError::PostgresAdmin {
        what: "disable the wake-up triggers",
        source,
    };
    let mut conn = sqlx::PgConnection::connect(&database.url())
        .await
        .map_err(error)?;
    for table in zkfleet_dal::JobTable::ALL {
        sqlx::query(&format!("ALTER TABLE {table} DISABLE TRIGGER USER"))
            .execute(&mut conn)
            .await
            .map_err(error)?;
    }
    conn.close().await.map_err(error)?;
    Ok(())
}

fn pool() -> PoolOptions {
    PoolOptions {
        max_connections: PICKS_POOL,
        ..PoolOptions::default()
    }
}

async fn register_version(dal: &Dal) -> Result<(), BenchError> {
    dal.insert_protocol_version(&ProtocolVersion {
        version: BENCH_VERSION,
        recursion_tree_vk_digest: VkDigest(HashDigest::ZERO),
        final_vk_digest: VkDigest(HashDigest::ZERO),
    })
    .await?;
    Ok(())
}

/// The first of `/proc/loadavg`'s three figures.
fn one_minute_load() -> String {
    machine::load_average()
        .split_whitespace()
        .next()
        .unwrap_or("unknown")
        .to_owned()
}

/// The targets against what was measured.
fn assess(picks: &[PicksCell], idle: &[IdleCell]) -> Vec<TargetStatus> {
    let mut targets = Vec::new();
    let cell = |backend: &str, batch: u32, workers: usize| {
        picks
            .iter()
            .find(|c| c.backend == backend && c.batch == batch && c.workers == workers)
    };
    let best_pg = [1, 8]
        .into_iter()
        .filter_map(|batch| cell("postgresql", batch, TARGET_WORKERS))
        .max_by(|a, b| a.picks_per_s.median.total_cmp(&b.picks_per_s.median));
    targets.push(TargetStatus {
        target: format!(
            "PostgreSQL ≥ {POSTGRES_TARGET_PER_S:.0} picks + completions per second with \
             {TARGET_WORKERS} workers"
        ),
        met: best_pg.map(|c| c.picks_per_s.median >= POSTGRES_TARGET_PER_S),
        figure: [1, 8]
            .into_iter()
            .filter_map(|batch| cell("postgresql", batch, TARGET_WORKERS))
            .map(|c| format!("batch {}: {:.0}/s", c.batch, c.picks_per_s.median))
            .collect::<Vec<_>>()
            .join(", "),
    });
    let sqlite_single: Vec<&PicksCell> = picks
        .iter()
        .filter(|c| c.backend == "sqlite" && c.batch == 1)
        .collect();
    let slowest = sqlite_single
        .iter()
        .min_by(|a, b| a.picks_per_s.median.total_cmp(&b.picks_per_s.median));
    targets.push(TargetStatus {
        target: format!(
            "SQLite no slower than before (≥ {SQLITE_FLOOR_PER_S:.0}/s, one job per statement, \
             every worker count)"
        ),
        met: slowest.map(|c| c.picks_per_s.median >= SQLITE_FLOOR_PER_S),
        figure: slowest.map_or_else(String::new, |c| {
            format!(
                "slowest: {:.0}/s with {} workers",
                c.picks_per_s.median, c.workers
            )
        }),
    });
    let woken = idle.iter().find(|c| c.mode.starts_with("wake-ups"));
    targets.push(TargetStatus {
        target: format!(
            "idle fleet with wake-ups: server CPU < {IDLE_TARGET_CORE_PERCENT:.0} % of one core"
        ),
        met: woken.map(|c| c.server_core_percent < IDLE_TARGET_CORE_PERCENT),
        figure: woken.map_or_else(String::new, |c| {
            format!(
                "{:.2} % with {} workers; all {} new jobs picked after {}",
                c.server_core_percent,
                c.workers,
                c.workers,
                c.until_all_picked_s
                    .map_or_else(|| "— (not all)".to_owned(), |s| format!("{s:.2} s"))
            )
        }),
    });
    targets
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::figure::Figure;

    fn cell(backend: &str, batch: u32, workers: usize, median: f64) -> PicksCell {
        PicksCell {
            backend: backend.into(),
            batch,
            workers,
            picks_per_s: Figure::of(vec![median]),
            load_1m: "1.00".into(),
        }
    }

    #[test]
    fn targets_take_the_better_postgres_path_and_the_slowest_sqlite_cell() {
        let picks = [
            cell("postgresql", 1, 16, 1_500.0),
            cell("postgresql", 8, 16, 2_100.0),
            cell("sqlite", 1, 1, 1_700.0),
            cell("sqlite", 1, 16, 1_550.0),
            cell("sqlite", 8, 16, 900.0),
        ];
        let targets = assess(&picks, &[]);
        assert_eq!(targets[0].met, Some(true), "{targets:?}");
        assert!(targets[0].figure.contains("batch 1: 1500/s"));
        // Batched SQLite cells do not count against the floor; the slowest single one does.
        assert_eq!(targets[1].met, Some(false), "{targets:?}");
        assert!(targets[1].figure.contains("1550/s with 16 workers"));
        // No idle measurement: not measured rather than met.
        assert_eq!(targets[2].met, None);
        assert_eq!(assess(&[], &[])[0].met, None);
    }

    #[test]
    fn options_that_measure_nothing_are_refused() {
        let mut options = DbOptions::quick(vec![DatabaseBackend::Sqlite]);
        options.picks.workers = vec![0];
        assert!(options.validate().is_err());
        let options = DbOptions::quick(Vec::new());
        assert!(options.validate().is_err());
        assert!(DbOptions::full(vec![DatabaseBackend::Sqlite], 3)
            .validate()
            .is_ok());
    }
}
