//! `zkfleet`: every component of the fleet and every operator command, as subcommands of one
//! binary (DESIGN.md §6).

use clap::{Parser, Subcommand};

#[derive(Parser)]
#[command(
    name = "zkfleet",
    version,
    about = "A distributed prover fleet for rollup batches"
)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Prove a batch end to end in one process on the embedded default (SQLite + local store).
    Prove {
        /// Generate and prove a sample batch.
        #[arg(long)]
        example: bool,
    },
}

fn main() -> anyhow::Result<()> {
    let cli = Cli::parse();
    match cli.command {
        Command::Prove { .. } => {
            println!("zkfleet prove: not yet — the proving pipeline lands with issue #5.");
        }
    }
    Ok(())
}
