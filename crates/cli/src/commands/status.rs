//! `zkfleet status batch N [N…] [--verbose] [--json]`: where a batch is, round by round.

use std::fmt::Write as _;
use std::process::ExitCode;
use std::time::Duration;

use anyhow::Context as _;
use clap::Subcommand;
use zkfleet_dal::{BatchStatus, JobSummary, RoundStatus};
use zkfleet_types::{AggregationRound, JobStatus};

use crate::commands::batch_id;
use crate::fleet::Fleet;
use crate::output::{duration, or_dash, table};

#[derive(Subcommand)]
pub(crate) enum StatusCommand {
    /// Per round: witness and prover jobs by status, attempts, time taken; then compression.
    Batch(BatchArgs),
}

#[derive(clap::Args)]
pub(crate) struct BatchArgs {
    /// Batch numbers (of the chain given by --chain-id).
    #[arg(required = true, value_name = "N")]
    batches: Vec<u32>,
    /// Also list every job, with its error and the worker that picked it.
    #[arg(long, short)]
    verbose: bool,
    /// Print the statuses as JSON (one array, one element per batch) for scripts.
    #[arg(long)]
    json: bool,
}

/// Exits with failure when a batch is not in the database (after printing the others).
pub(crate) async fn run(command: StatusCommand, fleet: &Fleet) -> anyhow::Result<ExitCode> {
    let StatusCommand::Batch(args) = command;
    let dal = fleet.dal().await?;
    let mut statuses = Vec::with_capacity(args.batches.len());
    for &number in &args.batches {
        let id = batch_id(fleet, number);
        let status = dal
            .batch_status(id)
            .await
            .with_context(|| format!("reading the status of {id}"))?;
        statuses.push(status);
    }
    let missing = statuses.iter().filter(|s| !s.exists()).count();
    if args.json {
        out!("{}", serde_json::to_string_pretty(&statuses)?);
    } else {
        for status in &statuses {
            out_str!("{}", render(status, args.verbose));
        }
    }
    if missing > 0 {
        eprintln!(
            "{missing} of {} batches not found on chain {}",
            statuses.len(),
            fleet.chain_id()
        );
        return Ok(ExitCode::FAILURE);
    }
    Ok(ExitCode::SUCCESS)
}

/// The human report of one batch.
pub(crate) fn render(status: &BatchStatus, verbose: bool) -> String {
    let mut out = String::new();
    if !status.exists() {
        let _ = writeln!(out, "{}: not found\n", status.batch);
        return out;
    }
    let _ = write!(out, "{}", status.batch);
    if let Some(input) = &status.witness_input {
        let _ = write!(
            out,
            ": protocol version {}, priority {}, inserted {}",
            input.protocol_version,
            input.priority,
            input.created_at.format("%Y-%m-%d %H:%M:%S UTC")
        );
    }
    let _ = writeln!(out);

    let mut rounds = table([
        "round",
        "witness jobs",
        "prover jobs",
        "attempts (max)",
        "time taken",
        "errors",
    ]);
    for round in &status.rounds {
        let witness_jobs = witness_jobs(status, round);
        let jobs: Vec<&JobSummary> = witness_jobs
            .iter()
            .copied()
            .chain(&round.prover_jobs)
            .collect();
        rounds.add_row(vec![
            round.round.name().to_owned(),
            by_status(&witness_jobs),
            by_status(&round.prover_jobs.iter().collect::<Vec<_>>()),
            attempts(&jobs),
            total_time(&jobs),
            errors(&jobs),
        ]);
    }
    match &status.compression {
        Some(job) => rounds.add_row(vec![
            "compression".to_owned(),
            job.status.to_string(),
            "-".to_owned(),
            attempts(&[job]),
            total_time(&[job]),
            errors(&[job]),
        ]),
        None => rounds.add_row(vec!["compression", "not yet", "-", "-", "-", "-"]),
    };
    let _ = writeln!(out, "{rounds}");
    if status.archived_prover_jobs > 0 {
        let _ = writeln!(out, "archived prover jobs: {}", status.archived_prover_jobs);
    }
    if verbose {
        let _ = writeln!(out, "{}", jobs_table(status));
    }
    let _ = writeln!(out);
    out
}

/// Every job of the batch, one row each.
fn jobs_table(status: &BatchStatus) -> comfy_table::Table {
    let mut jobs = table([
        "job",
        "round",
        "circuit",
        "depth",
        "seq",
        "status",
        "attempts",
        "picked by",
        "time taken",
        "error",
    ]);
    let all = status
        .rounds
        .iter()
        .flat_map(|round| {
            witness_jobs(status, round)
                .into_iter()
                .chain(&round.prover_jobs)
        })
        .chain(&status.compression);
    for job in all {
        jobs.add_row(vec![
            job.job.to_string(),
            job.aggregation_round
                .map_or_else(|| "compression".to_owned(), |r| r.name().to_owned()),
            job.circuit_id
                .map_or_else(|| "-".to_owned(), |c| format!("{} ({})", c.0, c.name())),
            or_dash(job.depth),
            or_dash(job.sequence_number),
            job.status.to_string(),
            job.attempts.to_string(),
            or_dash(job.picked_by.as_deref()),
            or_dash(job.time_taken.map(duration)),
            or_dash(job.error.as_deref()),
        ]);
    }
    jobs
}

/// The witness generation jobs of a round: the batch's witness input for the basic round (the
/// database reports it on its own), the round's witness job rows otherwise.
fn witness_jobs<'a>(status: &'a BatchStatus, round: &'a RoundStatus) -> Vec<&'a JobSummary> {
    if round.round == AggregationRound::Basic {
        status.witness_input.iter().collect()
    } else {
        round.witness_jobs.iter().collect()
    }
}

/// `queued 3, in_progress 1`, or `-` when the round has no job of that kind.
fn by_status(jobs: &[&JobSummary]) -> String {
    let counts: Vec<String> = JobStatus::ALL
        .into_iter()
        .map(|s| (s, jobs.iter().filter(|j| j.status == s).count()))
        .filter(|(_, n)| *n > 0)
        .map(|(status, n)| format!("{status} {n}"))
        .collect();
    if counts.is_empty() {
        "-".to_owned()
    } else {
        counts.join(", ")
    }
}

/// Sum of attempts and the most any single job took.
fn attempts(jobs: &[&JobSummary]) -> String {
    if jobs.is_empty() {
        return "-".to_owned();
    }
    let total: u64 = jobs.iter().map(|j| u64::from(j.attempts)).sum();
    let max = jobs.iter().map(|j| j.attempts).max().unwrap_or(0);
    format!("{total} ({max})")
}

/// Sum of the time taken by the jobs that finished.
fn total_time(jobs: &[&JobSummary]) -> String {
    let times: Vec<Duration> = jobs.iter().filter_map(|j| j.time_taken).collect();
    if times.is_empty() {
        return "-".to_owned();
    }
    duration(times.iter().sum())
}

/// How many jobs carry an error text.
fn errors(jobs: &[&JobSummary]) -> String {
    let n = jobs.iter().filter(|j| j.error.is_some()).count();
    if n == 0 {
        "-".to_owned()
    } else {
        n.to_string()
    }
}
