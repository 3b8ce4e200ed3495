//! Idle load: what a fleet of idle workers costs the PostgreSQL server, polling or woken, and
//! how long they take to notice work.
//!
//! N idle prover workers, each a real `JobRunner` over its own `Dal` (its own pool and, with
//! wake-ups, its own listener connection: as N separate processes would be), pick from an empty
//! queue. The server's CPU is read from `/proc` (utime + stime of the postmaster and every
//! process it forked: backends, listener connections, background workers) over a window once
//! every worker's idle wait has reached its ceiling. Then N prover jobs are queued in one
//! transaction and the time until every one is picked is measured.

use std::collections::BTreeMap;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use serde::{Deserialize, Serialize};
use sqlx::Connection;
use zkfleet_dal::{Dal, DalError, HeavySet, JobTable, PoolOptions, ProverJobClass};
use zkfleet_runner::{
    CancellationToken, Executor, JobError, JobPicker, JobRunner, JobRunnerConfig, JobSaver,
};

use super::{one_minute_load, picks, register_version, BENCH_VERSION};
use crate::environment::PostgresDatabase;
use crate::error::BenchError;

/// How the idle workers wait.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct IdleMode {
    /// The mode in words, as the report names it (`polling 1–5 s`...).
    pub name: &'static str,
    /// No workers at all: the server's own background work.
    pub workers: bool,
    /// A worker's first idle wait.
    pub idle_initial: Duration,
    /// The longest its wait grows to between polls.
    pub idle_max: Duration,
    /// Woken by `LISTEN/NOTIFY` (the idle wait then grows to the 30 s safety poll).
    pub wake: bool,
}

impl IdleMode {
    /// How long until every worker's idle wait has reached its ceiling.
    fn warm_up(&self) -> Duration {
        if !self.workers {
            return Duration::from_secs(2);
        }
        let ceiling = if self.wake {
            zkfleet_dal::CROSS_PROCESS_SAFETY_POLL.max(self.idle_max)
        } else {
            self.idle_max
        };
        // initial + 2 initial + ... up to the ceiling, then one more wait.
        let mut total = Duration::ZERO;
        let mut next = self.idle_initial;
        while next < ceiling {
            total += next;
            next *= 2;
        }
        total + Duration::from_secs(2)
    }
}

/// The modes the suite compares: no workers; the components' default polling; the fast
/// polling of `zkfleet prove` and the scaling suite; the default polling with wake-ups.
pub const IDLE_MODES: [IdleMode; 4] = [
    IdleMode {
        name: "server alone",
        workers: false,
        idle_initial: Duration::from_secs(1),
        idle_max: Duration::from_secs(5),
        wake: false,
    },
    IdleMode {
        name: "polling 1–5 s",
        workers: true,
        idle_initial: Duration::from_secs(1),
        idle_max: Duration::from_secs(5),
        wake: false,
    },
    IdleMode {
        name: "polling 50–250 ms",
        workers: true,
        idle_initial: Duration::from_millis(50),
        idle_max: Duration::from_millis(250),
        wake: false,
    },
    IdleMode {
        name: "wake-ups (LISTEN/NOTIFY), polling 1–5 s → 30 s",
        workers: true,
        idle_initial: Duration::from_secs(1),
        idle_max: Duration::from_secs(5),
        wake: true,
    },
];

/// What the idle-load measurement runs.
#[derive(Debug, Clone, PartialEq)]
pub struct IdleOptions {
    /// Idle workers (the fleet: 100).
    pub workers: usize,
    /// The measuring window, once every worker's wait has reached its ceiling.
    pub window: Duration,
    /// Each way of waiting measured.
    pub modes: Vec<IdleMode>,
    /// Quick mode: measure after at most this long instead of waiting for every wait to reach
    /// its ceiling (the figures are then not the settled idle load).
    pub warm_up_cap: Option<Duration>,
}

/// One mode's figures.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct IdleCell {
    /// The mode's name.
    pub mode: String,
    /// Idle workers (0 for the server alone).
    pub workers: usize,
    /// The measuring window (s).
    pub window_s: f64,
    /// CPU time the server's processes used over the window (s).
    pub server_cpu_s: f64,
    /// Server CPU over the window, in % of one core.
    pub server_core_percent: f64,
    /// This benchmark process's CPU (the workers' side) over the window, in % of one core.
    pub client_core_percent: f64,
    /// Pick attempts the workers made per second over the window.
    pub polls_per_s: f64,
    /// Connections to the measured database during the window.
    pub connections: i64,
    /// From queuing `workers` jobs in one commit until every one is picked (none without
    /// workers).
    pub until_all_picked_s: Option<f64>,
    /// The 1-minute load average when the mode started.
    pub load_1m: String,
}

/// Every mode of `options` on the server of `server_url`, each on a fresh database.
pub(super) async fn measure(
    server_url: &str,
    options: &IdleOptions,
) -> Result<Vec<IdleCell>, BenchError> {
    let ticks_per_s = clock_ticks();
    let mut cells = Vec::new();
    for &mode in &options.modes {
        let database = PostgresDatabase::create(server_url, "idle").await?;
        let result = measure_mode(server_url, &database, mode, options, ticks_per_s).await;
        database.drop_database().await?;
        let cell = result?;
        tracing::info!(
            mode = mode.name,
            server_percent = cell.server_core_percent,
            polls_per_s = cell.polls_per_s,
            until_all_picked_s = cell.until_all_picked_s,
            "db suite: idle load"
        );
        cells.push(cell);
    }
    Ok(cells)
}

fn admin_error(what: &'static str) -> impl Fn(sqlx::Error) -> BenchError {
    move |source| BenchError::PostgresAdmin { what, source }
}

async fn measure_mode(
    server_url: &str,
    database: &PostgresDatabase,
    mode: IdleMode,
    options: &IdleOptions,
    ticks_per_s: f64,
) -> Result<IdleCell, BenchError> {
    let load_1m = one_minute_load();
    let mut admin = sqlx::PgConnection::connect(server_url)
        .await
        .map_err(admin_error("connect"))?;
    let backend_pid: i32 = sqlx::query_scalar("SELECT pg_backend_pid()")
        .fetch_one(&mut admin)
        .await
        .map_err(admin_error("read the backend's pid"))?;
    let postmaster = u32::try_from(backend_pid)
        .ok()
        .and_then(proc_stat)
        .ok_or_else(|| {
            BenchError::Inconsistent(
                "cannot read the PostgreSQL server's processes in /proc: the idle-load \
                 measurement needs the server on this machine"
                    .into(),
            )
        })?
        .0;
    let url = database.url();
    let setup = Dal::connect_with(&url, &PoolOptions::default()).await?;
    register_version(&setup).await?;
    let polls = Arc::new(AtomicU64::new(0));
    let picked = Arc::new(AtomicU64::new(0));
    let cancel = CancellationToken::new();
    let fleet = if mode.workers { options.workers } else { 0 };
    let mut dals = Vec::with_capacity(fleet);
    let mut handles = Vec::with_capacity(fleet);
    for w in 0..fleet {
        // A prover process's pool: it holds one connection while idle.
        let dal = Dal::connect_with(
            &url,
            &PoolOptions {
                max_connections: 2,
                ..PoolOptions::default()
            },
        )
        .await?;
        let config = JobRunnerConfig {
            idle_backoff_initial: mode.idle_initial,
            idle_backoff_max: mode.idle_max,
            ..JobRunnerConfig::new(format!("idle-{w}"), 1)
        };
        let mut runner = JobRunner::new(
            IdlePicker {
                dal: dal.clone(),
                name: format!("idle-{w}"),
                polls: polls.clone(),
                picked: picked.clone(),
            },
            Nothing,
            Forget,
            config,
        )?;
        if mode.wake {
            let wake = dal.job_wakeups(JobTable::ProverJobs);
            runner = runner.with_wake(wake.receiver.clone(), wake.idle_ceiling());
        }
        handles.push(runner.run(cancel.clone()));
        dals.push(dal);
    }
    let warm_up = match options.warm_up_cap {
        Some(cap) => mode.warm_up().min(cap),
        None => mode.warm_up(),
    };
    tokio::time::sleep(warm_up).await;
    let connections: i64 =
        sqlx::query_scalar("SELECT COUNT(*) FROM pg_stat_activity WHERE datname = $1")
            .bind(database_name(&url))
            .fetch_one(&mut admin)
            .await
            .map_err(admin_error("count connections"))?;
    let polls_before = polls.load(Ordering::Relaxed);
    let server_before = server_ticks(postmaster);
    let own_before = own_ticks();
    let started = Instant::now();
    tokio::time::sleep(options.window).await;
    let window_s = started.elapsed().as_secs_f64();
    let server_cpu_s = spent(&server_before, &server_ticks(postmaster)) as f64 / ticks_per_s;
    let client_cpu_s = own_ticks().saturating_sub(own_before) as f64 / ticks_per_s;
    let window_polls = polls.load(Ordering::Relaxed) - polls_before;

    let until_all_picked_s = if fleet > 0 {
        let queued = Instant::now();
        picks::queue_batch(&setup, 1, fleet as u32).await?;
        let deadline = queued + Duration::from_secs(120);
        while picked.load(Ordering::Relaxed) < fleet as u64 && Instant::now() < deadline {
            tokio::time::sleep(Duration::from_millis(5)).await;
        }
        (picked.load(Ordering::Relaxed) >= fleet as u64).then(|| queued.elapsed().as_secs_f64())
    } else {
        None
    };
    cancel.cancel();
    for handle in handles {
        // A runner that died shows as jobs never picked, reported above.
        let _ = handle.await;
    }
    for dal in dals {
        dal.close().await;
    }
    setup.close().await;
    let _ = admin.close().await;
    Ok(IdleCell {
        mode: mode.name.to_owned(),
        workers: fleet,
        window_s,
        server_cpu_s,
        server_core_percent: 100.0 * server_cpu_s / window_s,
        client_core_percent: 100.0 * client_cpu_s / window_s,
        polls_per_s: window_polls as f64 / window_s,
        connections,
        until_all_picked_s,
        load_1m,
    })
}

/// The database a URL names (the path after the host, without the query).
fn database_name(url: &str) -> &str {
    let path = url.split('?').next().unwrap_or(url);
    path.rsplit('/').next().unwrap_or(path)
}

// --- A worker: a real job runner whose picker asks the database, whose work is nothing. -----

struct IdlePicker {
    dal: Dal,
    name: String,
    polls: Arc<AtomicU64>,
    picked: Arc<AtomicU64>,
}

impl JobPicker for IdlePicker {
    type Input = ();
    type Metadata = i64;
    type Error = DalError;

    async fn pick(&mut self) -> Result<Option<((), i64)>, DalError> {
        self.polls.fetch_add(1, Ordering::Relaxed);
        let job = self
            .dal
            .pick_prover_job(
                BENCH_VERSION,
                ProverJobClass::Any,
                &HeavySet::default(),
                &self.name,
            )
            .await?;
        Ok(job.map(|job| {
            self.picked.fetch_add(1, Ordering::Relaxed);
            ((), job.id.0)
        }))
    }
}

struct Nothing;

impl Executor for Nothing {
    type Input = ();
    type Output = ();
    type Metadata = i64;
    type Error = String;

    fn execute(&self, (): (), _: &i64) -> Result<(), String> {
        Ok(())
    }
}

struct Forget;

impl JobSaver for Forget {
    type Output = ();
    type Metadata = i64;
    type ExecutorError = String;
    type Error = String;

    async fn save(&mut self, _: i64, _: Result<(), JobError<String>>) -> Result<(), String> {
        Ok(())
    }
}

// --- The server's CPU time, from /proc. ------------------------------------------------------

fn clock_ticks() -> f64 {
    std::process::Command::new("getconf")
        .arg("CLK_TCK")
        .output()
        .ok()
        .and_then(|o| String::from_utf8_lossy(&o.stdout).trim().parse().ok())
        .unwrap_or(100.0)
}

/// (parent pid, utime + stime in ticks) of a process.
fn proc_stat(pid: u32) -> Option<(u32, u64)> {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
    // The command name may hold spaces: fields are counted after its closing parenthesis.
    let rest = stat.get(stat.rfind(')')? + 2..)?;
    let fields: Vec<&str> = rest.split_whitespace().collect();
    let ppid = fields.get(1)?.parse().ok()?;
    let utime: u64 = fields.get(11)?.parse().ok()?;
    let stime: u64 = fields.get(12)?.parse().ok()?;
    Some((ppid, utime + stime))
}

/// CPU ticks of the postmaster and each of its children, by pid.
fn server_ticks(postmaster: u32) -> BTreeMap<u32, u64> {
    let mut ticks = BTreeMap::new();
    if let Some((_, t)) = proc_stat(postmaster) {
        ticks.insert(postmaster, t);
    }
    if let Ok(entries) = std::fs::read_dir("/proc") {
        for entry in entries.flatten() {
            let Some(pid) = entry
                .file_name()
                .to_str()
                .and_then(|s| s.parse::<u32>().ok())
            else {
                continue;
            };
            if let Some((ppid, t)) = proc_stat(pid) {
                if ppid == postmaster {
                    ticks.insert(pid, t);
                }
            }
        }
    }
    ticks
}

/// Ticks spent between two samples (a process born in between counts from zero).
fn spent(before: &BTreeMap<u32, u64>, after: &BTreeMap<u32, u64>) -> u64 {
    after
        .iter()
        .map(|(pid, t)| t.saturating_sub(before.get(pid).copied().unwrap_or(0)))
        .sum()
}

fn own_ticks() -> u64 {
    proc_stat(std::process::id()).map_or(0, |(_, t)| t)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_this_process_and_counts_new_processes_from_zero() {
        let (ppid, _) = proc_stat(std::process::id()).expect("Linux /proc");
        assert!(ppid > 0);
        let before = BTreeMap::from([(1, 10), (2, 5)]);
        let after = BTreeMap::from([(1, 15), (2, 5), (3, 7)]);
        assert_eq!(spent(&before, &after), 5 + 7);
    }

    #[test]
    fn names_the_database_of_a_url() {
        assert_eq!(
            database_name("postgres://u:p@h:5432/db_1?sslmode=disable"),
            "db_1"
        );
        assert_eq!(database_name("postgres://h/db_2"), "db_2");
    }

    #[test]
    fn warm_up_reaches_each_ceiling() {
        let [alone, slow, fast, wake] = IDLE_MODES;
        assert_eq!(alone.warm_up(), Duration::from_secs(2));
        // 1 + 2 + 4 s, then the 5 s ceiling is reached; 2 s more.
        assert_eq!(slow.warm_up(), Duration::from_secs(9));
        assert_eq!(fast.warm_up(), Duration::from_millis(50 + 100 + 200 + 2000));
        // Woken: up to the 30 s safety poll.
        assert_eq!(wake.warm_up(), Duration::from_secs(1 + 2 + 4 + 8 + 16 + 2));
    }
}
