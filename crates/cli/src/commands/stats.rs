//! `zkfleet stats [--since 7d|RFC3339] [--json]`: end-to-end proving time of finished batches
//! (from insertion to the final proof), with median, min and max.

use std::time::Duration;

use anyhow::Context as _;
use chrono::{DateTime, Utc};
use serde::Serialize;
use zkfleet_dal::BatchProvingTime;

use crate::fleet::Fleet;
use crate::output::{duration, table};

#[derive(clap::Args)]
pub(crate) struct Args {
    /// Batches finished since: a duration back from now (`24h`, `7d`, `1w 2d`) or a moment
    /// (`2026-11-01T00:00:00Z`).
    #[arg(long, default_value = "7d", value_parser = parse_since)]
    since: Since,
    /// Print JSON for scripts.
    #[arg(long)]
    json: bool,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Since {
    Ago(Duration),
    At(DateTime<Utc>),
}

fn parse_since(s: &str) -> Result<Since, String> {
    if let Ok(at) = DateTime::parse_from_rfc3339(s) {
        return Ok(Since::At(at.with_timezone(&Utc)));
    }
    humantime::parse_duration(s)
        .map(Since::Ago)
        .map_err(|e| format!("{s:?} is neither a duration (24h, 7d) nor an RFC 3339 moment: {e}"))
}

impl Since {
    fn moment(self, now: DateTime<Utc>) -> anyhow::Result<DateTime<Utc>> {
        match self {
            Self::At(at) => Ok(at),
            Self::Ago(ago) => {
                let ago = chrono::Duration::from_std(ago).context("--since is too far back")?;
                now.checked_sub_signed(ago)
                    .context("--since is too far back")
            }
        }
    }
}

/// Median (mean of the two middle values for an even count), min and max.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub(crate) struct Summary {
    pub(crate) batches: usize,
    pub(crate) median: Duration,
    pub(crate) min: Duration,
    pub(crate) max: Duration,
}

pub(crate) fn summarise(times: &[BatchProvingTime]) -> Option<Summary> {
    let mut durations: Vec<Duration> = times.iter().map(|t| t.duration).collect();
    durations.sort();
    let n = durations.len();
    let (first, last) = (*durations.first()?, *durations.last()?);
    let median = if n % 2 == 1 {
        durations[n / 2]
    } else {
        (durations[n / 2 - 1] + durations[n / 2]) / 2
    };
    Some(Summary {
        batches: n,
        median,
        min: first,
        max: last,
    })
}

#[derive(Serialize)]
struct Report<'a> {
    since: DateTime<Utc>,
    batches: &'a [BatchProvingTime],
    summary: Option<Summary>,
}

pub(crate) async fn run(args: &Args, fleet: &Fleet) -> anyhow::Result<()> {
    let since = args.since.moment(Utc::now())?;
    let dal = fleet.dal().await?;
    let times = dal
        .batch_proving_times(since)
        .await
        .context("reading batch proving times")?;
    let summary = summarise(&times);
    if args.json {
        let report = Report {
            since,
            batches: &times,
            summary,
        };
        out!("{}", serde_json::to_string_pretty(&report)?);
        return Ok(());
    }
    let Some(summary) = summary else {
        out!(
            "no batch finished since {}",
            since.format("%Y-%m-%d %H:%M:%S UTC")
        );
        return Ok(());
    };
    let mut rows = table(["chain", "batch", "inserted", "finished", "end to end"]);
    for time in &times {
        rows.add_row(vec![
            time.batch.chain_id.to_string(),
            time.batch.batch_number.to_string(),
            time.inserted_at.format("%Y-%m-%d %H:%M:%S").to_string(),
            time.finished_at.format("%Y-%m-%d %H:%M:%S").to_string(),
            duration(time.duration),
        ]);
    }
    out!("{rows}");
    out!(
        "{} batches finished since {}: median {}, min {}, max {}",
        summary.batches,
        since.format("%Y-%m-%d %H:%M:%S UTC"),
        duration(summary.median),
        duration(summary.min),
        duration(summary.max)
    );
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use zkfleet_types::{BatchNumber, ChainId, L1BatchId};

    fn time(n: u32, secs: u64) -> BatchProvingTime {
        BatchProvingTime {
            batch: L1BatchId::new(ChainId(0), BatchNumber(n)),
            inserted_at: Utc::now(),
            finished_at: Utc::now(),
            duration: Duration::from_secs(secs),
        }
    }

    #[test]
    fn median_min_max() {
        assert_eq!(summarise(&[]), None);
        let s = summarise(&[time(1, 30), time(2, 10), time(3, 20)]).unwrap();
        assert_eq!(
            (s.median, s.min, s.max),
            (
                Duration::from_secs(20),
                Duration::from_secs(10),
                Duration::from_secs(30)
            )
        );
        let s = summarise(&[time(1, 10), time(2, 20)]).unwrap();
        assert_eq!(s.median, Duration::from_secs(15));
    }

    #[test]
    fn parses_since() {
        assert_eq!(
            parse_since("7d").unwrap(),
            Since::Ago(Duration::from_secs(7 * 86400))
        );
        assert!(matches!(
            parse_since("2026-11-01T00:00:00Z").unwrap(),
            Since::At(_)
        ));
        assert!(parse_since("last tuesday").is_err());
    }
}
