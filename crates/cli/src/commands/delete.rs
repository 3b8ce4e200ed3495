//! `zkfleet delete --batch N [--yes]`: remove every row of a batch. Destructive, so it asks the
//! operator to type the batch number on a terminal, and without a terminal it refuses unless
//! `--yes` is given: a script never deletes a batch by accident.

use std::io::{BufRead as _, IsTerminal as _, Write as _};
use std::process::ExitCode;

use anyhow::{bail, Context as _};

use crate::commands::batch_id;
use crate::fleet::Fleet;
use crate::output::row_counts;

#[derive(clap::Args)]
pub(crate) struct Args {
    /// The batch (of the chain given by --chain-id).
    #[arg(long, value_name = "N")]
    batch: u32,
    /// Do not ask for confirmation.
    #[arg(long)]
    yes: bool,
}

pub(crate) async fn run(args: &Args, fleet: &Fleet) -> anyhow::Result<ExitCode> {
    let dal = fleet.dal().await?;
    let id = batch_id(fleet, args.batch);
    let status = dal
        .batch_status(id)
        .await
        .with_context(|| format!("reading the status of {id}"))?;
    if !status.exists() {
        bail!("{id} not found");
    }
    if !args.yes {
        let stdin = std::io::stdin();
        if !stdin.is_terminal() {
            bail!(
                "refusing to delete {id} without confirmation: standard input is not a terminal; \
                 pass --yes to delete without asking"
            );
        }
        out_str!(
            "This deletes every job of {id} (archived prover jobs included). \
             Type the batch number to confirm: "
        );
        std::io::stdout().flush()?;
        let mut answer = String::new();
        stdin.lock().read_line(&mut answer)?;
        if answer.trim() != args.batch.to_string() {
            eprintln!("not confirmed; nothing deleted");
            return Ok(ExitCode::FAILURE);
        }
    }
    let deleted = dal
        .delete_batch(id)
        .await
        .with_context(|| format!("deleting {id}"))?;
    out!(
        "{id}: deleted {} rows:\n{}",
        deleted.total(),
        row_counts(&deleted)
    );
    out!("(its blobs stay in the object store)");
    Ok(ExitCode::SUCCESS)
}
