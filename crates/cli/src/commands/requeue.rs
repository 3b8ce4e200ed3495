//! `zkfleet requeue --batch N`: give a batch's failed and attempts-exhausted jobs a fresh set of
//! attempts (after the operator fixed what made them fail).

use anyhow::{bail, Context as _};

use crate::commands::batch_id;
use crate::fleet::Fleet;
use crate::output::row_counts;

#[derive(clap::Args)]
pub(crate) struct Args {
    /// The batch (of the chain given by --chain-id).
    #[arg(long, value_name = "N")]
    batch: u32,
}

pub(crate) async fn run(args: &Args, fleet: &Fleet) -> anyhow::Result<()> {
    let dal = fleet.dal().await?;
    let id = batch_id(fleet, args.batch);
    if !dal
        .batch_status(id)
        .await
        .with_context(|| format!("reading the status of {id}"))?
        .exists()
    {
        bail!("{id} not found");
    }
    let counts = dal
        .requeue_batch(id)
        .await
        .with_context(|| format!("requeuing the jobs of {id}"))?;
    if counts.total() == 0 {
        out!("{id}: no failed or attempts_exhausted job; nothing requeued");
    } else {
        out!(
            "{id}: requeued {} jobs (attempts reset to {}):\n{}",
            counts.total(),
            zkfleet_dal::ATTEMPTS_AFTER_OPERATOR_REQUEUE,
            row_counts(&counts)
        );
    }
    Ok(())
}
