//! The database suite's section of docs/benchmarks.md.

use std::fmt::Write as _;

use super::DbReport;

/// The section's Markdown without its markers: what was measured, the picks and idle-load
/// tables, the targets, and the provenance line.
pub fn section(report: &DbReport, command: &str, json_name: &str) -> String {
    let r = report;
    let mut s = String::new();
    let _ = writeln!(
        s,
        "**Picks per second.** Each run queues one batch of {} prover jobs (three circuit \
         types), then N concurrent workers loop *pick (any class) + complete* until the queue is \
         empty; picks/s = jobs ÷ wall time. {} run(s) per cell; median (min–max). Batch 1: one \
         job per statement — `pick_prover_job`, then `complete_prover_job` (two commits per \
         job; on PostgreSQL two statements, each committing by itself: the pick, and the \
         server-side completion that queues the dependents). Batch 8: a worker picks up to 8 \
         jobs of one circuit (`pick_prover_jobs`) and completes them in one transaction \
         (`complete_prover_jobs`, dependents queued in it as before). Pools of 20 connections. \
         On PostgreSQL the job tables are vacuumed (`VACUUM (ANALYZE)`) after every run, so each \
         run starts from the same state. SQLite: a WAL file on local disk, synchronous = \
         NORMAL. *postgresql, wake-up triggers \
         disabled* repeats batch 1 with the job tables' notification triggers off: what \
         announcing work costs. *load* is the 1-minute load average when the cell started (the \
         2 cores are shared with the workers, the server and anything else running).\n",
        r.jobs_per_run, r.runs_per_cell
    );
    let _ = writeln!(
        s,
        "| backend | batch | workers | picks + completions per second | load |\n|---|---:|---:|---:|---:|"
    );
    for c in &r.picks {
        let _ = writeln!(
            s,
            "| {} | {} | {} | {} | {} |",
            c.backend,
            c.batch,
            c.workers,
            c.picks_per_s.display(0),
            c.load_1m
        );
    }
    if let Some(pg) = &r.postgres {
        let _ = writeln!(
            s,
            "\nPostgreSQL {} on loopback, fsync = {}, synchronous_commit = {}{}.",
            pg.server_version,
            pg.fsync,
            pg.synchronous_commit,
            if pg.fsync == "off" || pg.synchronous_commit == "off" {
                " (the test cluster of `scripts/services.sh`: a commit waits for no disk flush, \
                 so a production server's commits cost more)"
            } else {
                ""
            }
        );
    }
    if r.idle.is_empty() {
        let _ = writeln!(
            s,
            "\n**Idle load**: not measured (it needs a PostgreSQL server on this machine: \
             `--postgres-url` or `ZKFLEET_TEST_DATABASE_URL`)."
        );
    } else {
        let _ = writeln!(
            s,
            "\n**Idle load.** {w} idle prover workers, each a job runner over its own `Dal` \
             (own pool; with wake-ups, own listener connection: as {w} separate processes), \
             picking from an empty queue on the PostgreSQL server of this machine. Server CPU = \
             utime + stime of the postmaster and every process it forked (backends, listeners, \
             background workers), from `/proc`, over a {:.0} s window once every worker's idle \
             wait has reached its ceiling (10 ms ticks: figures under ~0.2 % are at the \
             resolution's edge). Then {w} prover jobs are queued in one commit: *until all \
             picked* is the wake-up latency of the whole fleet.\n",
            r.idle_window_s,
            w = r.idle_workers
        );
        let _ = writeln!(
            s,
            "| mode | server CPU (% of one core) | polls/s | connections | bench process CPU (% of one core) | until all picked (s) | load |\n\
             |---|---:|---:|---:|---:|---:|---:|"
        );
        for c in &r.idle {
            let _ = writeln!(
                s,
                "| {} | {:.2} | {:.1} | {} | {:.2} | {} | {} |",
                c.mode,
                c.server_core_percent,
                c.polls_per_s,
                c.connections,
                c.client_core_percent,
                c.until_all_picked_s
                    .map_or_else(|| "—".to_owned(), |t| format!("{t:.2}")),
                c.load_1m
            );
        }
    }
    let _ = writeln!(s, "\nTargets (issue 21):\n");
    for t in &r.targets {
        let verdict = match t.met {
            Some(true) => "**met**",
            Some(false) => "**not met**",
            None => "not measured",
        };
        let figure = if t.figure.is_empty() {
            String::new()
        } else {
            format!(" ({})", t.figure)
        };
        let _ = writeln!(s, "- {}: {verdict}{figure}", t.target);
    }
    let m = &r.machine;
    let _ = writeln!(
        s,
        "\nCommand: `{command}`. Machine: {} cores, {} (load average {} before, {} after). \
         Commit `{}`, {}. Raw figures: [`{json_name}`]({json_name}).",
        m.cores, m.cpu_model, m.load_average_before, m.load_average_after, r.git_commit, r.date
    );
    s
}
