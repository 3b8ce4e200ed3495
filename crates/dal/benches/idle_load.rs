//! Idle load: what a fleet of idle workers costs the PostgreSQL server, polling or woken.
//!
//! 100 idle prover workers, each a real `JobRunner` over its own `Dal` (its own pool and, with
//! wake-ups, its own listener connection: as 100 separate processes would be), pick from an
//! empty queue. The server's CPU is read from `/proc` (utime + stime of the postmaster and every
//! process it forked: backends, listener connections and background workers) over a window
//! once every worker's idle backoff has reached its ceiling. Modes:
//!
//! - `server alone`: no workers (the server's own background work);
//! - `polling 1–5 s`: the components' default `[polling]` (idle backoff 1 s doubling to 5 s);
//! - `polling 50–250 ms`: the pace `zkfleet prove` and the scaling benchmark use;
//! - `wake-ups`: the components' default polling with wake-ups (`LISTEN/NOTIFY`), so the
//!   backoff grows to the 30 s safety poll.
//!
//! After each window, 100 prover jobs are queued in one transaction and the time until every
//! one is picked is measured (how long idle workers take to notice work).
//!
//! `cargo bench -p zkfleet-dal --bench idle_load` (with `ZKFLEET_TEST_DATABASE_URL` naming a
//! server on this machine) writes `docs/benchmarks/dal-idle-load.json` and the `dal-idle-load`
//! section of `docs/benchmarks.md`. `IDLE_LOAD_WORKERS` and `IDLE_LOAD_WINDOW_SECS` change the
//! fleet size (100) and the window (30 s); `IDLE_LOAD_NO_DOCS=1` prints only.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use rand::Rng;
use serde_json::json;
use sqlx::Connection;
use zkfleet_dal::{
    BasicWitnessOutput, Dal, HeavySet, JobTable, NewBasicProverJob, NewBatch, NewLeafWitnessJob,
    PoolOptions, ProverJob, ProverJobClass,
};
use zkfleet_runner::{
    CancellationToken, Executor, JobError, JobPicker, JobRunner, JobRunnerConfig, JobSaver,
};
use zkfleet_types::{
    BatchNumber, ChainId, CircuitId, HashDigest, L1BatchId, ProtocolSemanticVersion,
    ProtocolVersion, VkDigest,
};

const VERSION: ProtocolSemanticVersion = ProtocolSemanticVersion::new(1, 0);
const BEGIN_MARKER: &str = "<!-- BEGIN dal-idle-load -->";
const END_MARKER: &str = "<!-- END dal-idle-load -->";
const COMMAND: &str = "cargo bench -p zkfleet-dal --bench idle_load";

type BenchResult<T> = Result<T, Box<dyn std::error::Error + Send + Sync>>;

#[derive(Debug, Clone, Copy)]
struct Mode {
    name: &'static str,
    workers: bool,
    idle_initial: Duration,
    idle_max: Duration,
    wake: bool,
}

impl Mode {
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

const MODES: [Mode; 4] = [
    Mode {
        name: "server alone",
        workers: false,
        idle_initial: Duration::from_secs(1),
        idle_max: Duration::from_secs(5),
        wake: false,
    },
    Mode {
        name: "polling 1–5 s",
        workers: true,
        idle_initial: Duration::from_secs(1),
        idle_max: Duration::from_secs(5),
        wake: false,
    },
    Mode {
        name: "polling 50–250 ms",
        workers: true,
        idle_initial: Duration::from_millis(50),
        idle_max: Duration::from_millis(250),
        wake: false,
    },
    Mode {
        name: "wake-ups (LISTEN/NOTIFY), polling 1–5 s → 30 s",
        workers: true,
        idle_initial: Duration::from_secs(1),
        idle_max: Duration::from_secs(5),
        wake: true,
    },
];

struct Measured {
    mode: Mode,
    workers: usize,
    window_s: f64,
    server_cpu_s: f64,
    client_cpu_s: f64,
    picks: u64,
    connections: i64,
    /// Time from queuing `workers` jobs in one commit until every one is picked.
    notice_s: Option<f64>,
}

impl Measured {
    fn server_core_percent(&self) -> f64 {
        100.0 * self.server_cpu_s / self.window_s
    }
}

// --- A worker: a real job runner whose picker asks the database, whose work is nothing. -----

struct Picker {
    dal: Dal,
    name: String,
    polls: Arc<AtomicU64>,
    picked: Arc<AtomicU64>,
}

impl JobPicker for Picker {
    type Input = ();
    type Metadata = i64;
    type Error = zkfleet_dal::DalError;

    async fn pick(&mut self) -> Result<Option<((), i64)>, zkfleet_dal::DalError> {
        self.polls.fetch_add(1, Ordering::Relaxed);
        let job: Option<ProverJob> = self
            .dal
            .pick_prover_job(
                VERSION,
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
    let rest = &stat[stat.rfind(')')? + 2..];
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

// --- The benchmark. --------------------------------------------------------------------------

fn with_database(url: &str, name: &str) -> String {
    let (base, query) = match url.split_once('?') {
        Some((b, q)) => (b, format!("?{q}")),
        None => (url, String::new()),
    };
    let scheme_end = base.find("://").map(|i| i + 3).unwrap_or(0);
    let root = match base[scheme_end..].find('/') {
        Some(i) => &base[..scheme_end + i],
        None => base,
    };
    format!("{root}/{name}{query}")
}

/// Queues `n` prover jobs of a new batch in one transaction (the basic witness job's
/// completion).
async fn queue_jobs(dal: &Dal, number: u32, n: u32) -> BenchResult<()> {
    let batch = L1BatchId::new(ChainId(270), BatchNumber(number));
    dal.insert_batch(&NewBatch {
        batch,
        protocol_version: VERSION,
        witness_input_blob_key: format!("witness_inputs/{number}"),
        priority: 0,
        batch_sealed_at: chrono::Utc::now(),
    })
    .await?;
    dal.pick_basic_witness_job(VERSION, "bench")
        .await?
        .ok_or("the batch's basic witness job was not queued")?;
    let output = BasicWitnessOutput {
        prover_jobs: (0..n)
            .map(|i| NewBasicProverJob {
                circuit_id: CircuitId(1),
                sequence_number: i,
                circuit_blob_key: format!("circuits/{number}/{i}"),
            })
            .collect(),
        leaf_jobs: vec![NewLeafWitnessJob {
            circuit_id: CircuitId(1),
            number_of_basic_circuits: n,
            closed_form_inputs_blob_key: format!("closed_form/{number}"),
        }],
        scheduler_partial_input_blob_key: format!("scheduler/{number}"),
    };
    dal.complete_basic_witness_job(batch, &output, Duration::ZERO)
        .await?;
    Ok(())
}

async fn measure(
    admin_url: &str,
    mode: Mode,
    workers: usize,
    window: Duration,
    ticks_per_s: f64,
) -> BenchResult<Measured> {
    let name = format!("zkfleet_idle_{:016x}", rand::thread_rng().gen::<u64>());
    let mut admin = sqlx::PgConnection::connect(admin_url).await?;
    let backend_pid: i32 = sqlx::query_scalar("SELECT pg_backend_pid()")
        .fetch_one(&mut admin)
        .await?;
    let postmaster = proc_stat(backend_pid as u32)
        .ok_or("cannot read the server's processes in /proc: is it on this machine?")?
        .0;
    sqlx::query(&format!("CREATE DATABASE {name}"))
        .execute(&mut admin)
        .await?;
    let url = with_database(admin_url, &name);
    let result = async {
        let setup = Dal::connect_with(&url, &PoolOptions::default()).await?;
        setup
            .insert_protocol_version(&ProtocolVersion {
                version: VERSION,
                recursion_tree_vk_digest: VkDigest(HashDigest::ZERO),
                final_vk_digest: VkDigest(HashDigest::ZERO),
            })
            .await?;
        let polls = Arc::new(AtomicU64::new(0));
        let picked = Arc::new(AtomicU64::new(0));
        let cancel = CancellationToken::new();
        let mut dals = Vec::new();
        let mut handles = Vec::new();
        let fleet = if mode.workers { workers } else { 0 };
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
                Picker {
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
        tokio::time::sleep(mode.warm_up()).await;
        let connections: i64 =
            sqlx::query_scalar("SELECT COUNT(*) FROM pg_stat_activity WHERE datname = $1")
                .bind(&name)
                .fetch_one(&mut admin)
                .await?;
        let polls_before = polls.load(Ordering::Relaxed);
        let server_before = server_ticks(postmaster);
        let own_before = own_ticks();
        let started = Instant::now();
        tokio::time::sleep(window).await;
        let window_s = started.elapsed().as_secs_f64();
        let server_cpu_s = spent(&server_before, &server_ticks(postmaster)) as f64 / ticks_per_s;
        let client_cpu_s = own_ticks().saturating_sub(own_before) as f64 / ticks_per_s;
        let window_polls = polls.load(Ordering::Relaxed) - polls_before;

        let notice_s = if fleet > 0 {
            let queued = Instant::now();
            queue_jobs(&setup, 1, fleet as u32).await?;
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
            handle.await?;
        }
        for dal in dals {
            dal.close().await;
        }
        setup.close().await;
        Ok::<_, Box<dyn std::error::Error + Send + Sync>>(Measured {
            mode,
            workers: fleet,
            window_s,
            server_cpu_s,
            client_cpu_s,
            picks: window_polls,
            connections,
            notice_s,
        })
    }
    .await;
    sqlx::query(&format!("DROP DATABASE IF EXISTS {name} WITH (FORCE)"))
        .execute(&mut admin)
        .await?;
    result
}

fn command_output(program: &str, args: &[&str]) -> String {
    std::process::Command::new(program)
        .args(args)
        .output()
        .ok()
        .filter(|o| o.status.success())
        .map(|o| String::from_utf8_lossy(&o.stdout).trim().to_owned())
        .unwrap_or_else(|| "unknown".to_owned())
}

fn load_average() -> String {
    std::fs::read_to_string("/proc/loadavg")
        .ok()
        .map(|l| l.split_whitespace().take(3).collect::<Vec<_>>().join(" "))
        .unwrap_or_else(|| "unknown".to_owned())
}

fn docs_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../../docs")
}

fn write_results(results: &[Measured], load_before: &str, window: Duration) -> BenchResult<()> {
    let load_after = load_average();
    let nproc = std::thread::available_parallelism().map_or(0, |n| n.get());
    let mut commit = command_output("git", &["rev-parse", "--short", "HEAD"]);
    let crate_dir = env!("CARGO_MANIFEST_DIR");
    if !command_output("git", &["status", "--porcelain", "--", crate_dir]).is_empty() {
        commit.push_str("+uncommitted changes to crates/dal");
    }
    let date = chrono::Utc::now().format("%Y-%m-%d %H:%M UTC").to_string();
    let docs = docs_dir();
    std::fs::create_dir_all(docs.join("benchmarks"))?;
    let json = json!({
        "benchmark": "dal-idle-load",
        "what": "PostgreSQL server CPU while idle workers wait for jobs, polling or woken",
        "command": COMMAND,
        "window_seconds": window.as_secs_f64(),
        "machine": { "nproc": nproc, "load_average_before": load_before, "load_average_after": load_after },
        "git_commit": commit,
        "date": date,
        "results": results.iter().map(|m| json!({
            "mode": m.mode.name,
            "workers": m.workers,
            "window_seconds": m.window_s,
            "server_cpu_seconds": m.server_cpu_s,
            "server_percent_of_one_core": m.server_core_percent(),
            "client_cpu_seconds": m.client_cpu_s,
            "polls_per_second": m.picks as f64 / m.window_s,
            "connections": m.connections,
            "seconds_until_all_picked": m.notice_s,
        })).collect::<Vec<_>>(),
    });
    std::fs::write(
        docs.join("benchmarks/dal-idle-load.json"),
        serde_json::to_string_pretty(&json)? + "\n",
    )?;
    let workers = results.iter().map(|m| m.workers).max().unwrap_or(0);
    let mut section = format!(
        "{BEGIN_MARKER}\n\
         {workers} idle prover workers, each a job runner over its own `Dal` (own pool; with \
         wake-ups, own listener connection: as {workers} separate processes), picking from an \
         empty queue on the PostgreSQL server of this machine. Server CPU = utime + stime of the \
         postmaster and every process it forked (backends, listeners, background workers), from \
         `/proc`, over a {:.0} s window once every worker's idle wait has reached its ceiling. \
         Then {workers} prover jobs are queued in one commit: *until all picked* is the time \
         until every one of them is picked.\n\n\
         | mode | server CPU (% of one core) | polls/s | connections | bench process CPU (% of one core) | until all picked (s) |\n\
         |---|---:|---:|---:|---:|---:|\n",
        window.as_secs_f64()
    );
    for m in results {
        section.push_str(&format!(
            "| {} | {:.2} | {:.1} | {} | {:.2} | {} |\n",
            m.mode.name,
            m.server_core_percent(),
            m.picks as f64 / m.window_s,
            m.connections,
            100.0 * m.client_cpu_s / m.window_s,
            m.notice_s.map_or("—".to_owned(), |s| format!("{s:.2}")),
        ));
    }
    section.push_str(&format!(
        "\nCommand: `{COMMAND}` (with `ZKFLEET_TEST_DATABASE_URL` naming a server on this \
         machine). Machine: {nproc} CPUs, shared with other agents' builds and tests while \
         measuring (load average {load_before} before, {load_after} after): the server's figures \
         are its own processes' CPU time, which other work on the machine slows but does not add \
         to. Commit `{commit}`, {date}. Raw figures: \
         [`benchmarks/dal-idle-load.json`](benchmarks/dal-idle-load.json).\n{END_MARKER}\n"
    ));
    let path = docs.join("benchmarks.md");
    let existing = std::fs::read_to_string(&path)?;
    let updated = match (existing.find(BEGIN_MARKER), existing.find(END_MARKER)) {
        (Some(begin), Some(end)) if end > begin => {
            let end = end + END_MARKER.len();
            let rest = existing[end..]
                .strip_prefix('\n')
                .unwrap_or(&existing[end..]);
            format!("{}{section}{rest}", &existing[..begin])
        }
        _ => format!(
            "{}\n{section}",
            existing.trim_end_matches('\n').to_owned() + "\n"
        ),
    };
    std::fs::write(&path, updated)?;
    eprintln!(
        "wrote {} and docs/benchmarks/dal-idle-load.json",
        path.display()
    );
    Ok(())
}

#[tokio::main(flavor = "multi_thread")]
async fn main() -> BenchResult<()> {
    let Ok(admin_url) = std::env::var("ZKFLEET_TEST_DATABASE_URL") else {
        return Err(
            "ZKFLEET_TEST_DATABASE_URL is not set (start the services of scripts/test)".into(),
        );
    };
    let workers: usize = std::env::var("IDLE_LOAD_WORKERS")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or(100);
    let window = Duration::from_secs(
        std::env::var("IDLE_LOAD_WINDOW_SECS")
            .ok()
            .and_then(|s| s.parse().ok())
            .unwrap_or(30),
    );
    let ticks = clock_ticks();
    let load_before = load_average();
    let mut results = Vec::new();
    for mode in MODES {
        let m = measure(&admin_url, mode, workers, window, ticks).await?;
        eprintln!(
            "{:<50} server {:>6.2} % of a core, {:>7.1} polls/s, {} connections, all picked after {:?} s",
            mode.name,
            m.server_core_percent(),
            m.picks as f64 / m.window_s,
            m.connections,
            m.notice_s
        );
        results.push(m);
    }
    if std::env::var("IDLE_LOAD_NO_DOCS").is_ok_and(|v| v == "1") {
        return Ok(());
    }
    write_results(&results, &load_before, window)
}
