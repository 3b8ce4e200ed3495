//! `zkfleet restart --batch N | --job TABLE:ID`: start a batch over from its witness input, or
//! queue one job again with fresh attempts.

use std::str::FromStr;

use anyhow::Context as _;
use zkfleet_dal::{JobRef, TransitionOutcome};
use zkfleet_types::ids::{LeafJobId, NodeJobId, ProverJobId};
use zkfleet_types::{BatchNumber, ChainId, L1BatchId};

use crate::commands::batch_id;
use crate::fleet::Fleet;
use crate::output::row_counts;

#[derive(clap::Args)]
#[group(required = true, multiple = false)]
pub(crate) struct Args {
    /// Delete everything downstream of the batch's witness input and queue it again.
    #[arg(long, value_name = "N")]
    batch: Option<u32>,
    /// One job: `prover:ID`, `leaf:ID`, `node:ID` (job ids), or `basic:N`, `recursion_tip:N`,
    /// `scheduler:N`, `compression:N` (batch numbers of the --chain-id chain). Table names
    /// (`prover_jobs:ID`, `witness_inputs:N`, ...) are accepted too.
    #[arg(long, value_name = "TABLE:ID")]
    job: Option<JobSpec>,
}

/// A job as named on the command line, before the chain is known.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum JobSpec {
    Prover(i64),
    Leaf(i64),
    Node(i64),
    Basic(u32),
    RecursionTip(u32),
    Scheduler(u32),
    Compression(u32),
}

impl JobSpec {
    pub(crate) fn job_ref(self, chain: ChainId) -> JobRef {
        let batch = |n: u32| L1BatchId::new(chain, BatchNumber(n));
        match self {
            Self::Prover(id) => JobRef::Prover(ProverJobId(id)),
            Self::Leaf(id) => JobRef::LeafWitness(LeafJobId(id)),
            Self::Node(id) => JobRef::NodeWitness(NodeJobId(id)),
            Self::Basic(n) => JobRef::WitnessInput(batch(n)),
            Self::RecursionTip(n) => JobRef::RecursionTipWitness(batch(n)),
            Self::Scheduler(n) => JobRef::SchedulerWitness(batch(n)),
            Self::Compression(n) => JobRef::Compression(batch(n)),
        }
    }
}

impl FromStr for JobSpec {
    type Err = String;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let (table, id) = s
            .split_once(':')
            .ok_or_else(|| format!("expected TABLE:ID (e.g. prover:42), got {s:?}"))?;
        let job_id = || {
            id.parse::<i64>()
                .map_err(|_| format!("job id {id:?} is not a number"))
        };
        let batch = || {
            id.parse::<u32>()
                .map_err(|_| format!("batch number {id:?} is not a number in 0..=4294967295"))
        };
        Ok(match table.replace('-', "_").as_str() {
            "prover" | "prover_jobs" => Self::Prover(job_id()?),
            "leaf" | "leaf_witness_jobs" => Self::Leaf(job_id()?),
            "node" | "node_witness_jobs" => Self::Node(job_id()?),
            "basic" | "witness_inputs" => Self::Basic(batch()?),
            "recursion_tip" | "recursion_tip_witness_jobs" => Self::RecursionTip(batch()?),
            "scheduler" | "scheduler_witness_jobs" => Self::Scheduler(batch()?),
            "compression" | "proof_compression_jobs" => Self::Compression(batch()?),
            other => {
                return Err(format!(
                    "unknown job table {other:?} (expected prover, leaf, node, basic, \
                     recursion_tip, scheduler or compression)"
                ))
            }
        })
    }
}

pub(crate) async fn run(args: &Args, fleet: &Fleet) -> anyhow::Result<()> {
    let dal = fleet.dal().await?;
    if let Some(number) = args.batch {
        let id = batch_id(fleet, number);
        let deleted = dal
            .restart_batch(id)
            .await
            .with_context(|| format!("restarting {id}"))?;
        out!(
            "{id}: restarted; its basic witness job is queued with fresh attempts; deleted \
             {} downstream rows:\n{}",
            deleted.total(),
            row_counts(&deleted)
        );
    }
    if let Some(spec) = args.job {
        let job = spec.job_ref(fleet.chain_id());
        let outcome = dal
            .restart_job(job)
            .await
            .with_context(|| format!("restarting the {job}"))?;
        match outcome {
            TransitionOutcome::Applied => {
                out!("{job}: queued with fresh attempts")
            }
            TransitionOutcome::Unchanged { status } => anyhow::bail!(
                "{job} is {status}: only a job that is not waiting for its proofs can be \
                 restarted"
            ),
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_job_specs() {
        assert_eq!("prover:42".parse(), Ok(JobSpec::Prover(42)));
        assert_eq!("prover_jobs:7".parse(), Ok(JobSpec::Prover(7)));
        assert_eq!("recursion-tip:3".parse(), Ok(JobSpec::RecursionTip(3)));
        assert_eq!("basic:9".parse(), Ok(JobSpec::Basic(9)));
        assert_eq!(
            JobSpec::Basic(9).job_ref(ChainId(270)),
            JobRef::WitnessInput(L1BatchId::new(ChainId(270), BatchNumber(9)))
        );
        for bad in ["prover", "prover:x", "basic:-1", "disk:1"] {
            assert!(bad.parse::<JobSpec>().is_err(), "{bad}");
        }
    }
}
