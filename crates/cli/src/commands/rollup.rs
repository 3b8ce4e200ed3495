//! `zkfleet rollup generate`: sample genesis, keyring and batch of the reference rollup.

use std::path::PathBuf;

use clap::Subcommand;

use crate::GlobalArgs;

/// The chain `rollup generate` writes batches for when `--chain-id` is not given.
const DEFAULT_GENERATED_CHAIN_ID: u64 = 270;

#[derive(Subcommand)]
pub(crate) enum RollupCommand {
    /// Write a genesis state, its accounts' key seeds and a batch that applies to it:
    /// genesis.json, keyring.json, batch.json, batch.bin (and public_output.json if valid).
    Generate(RollupGenerateArgs),
}

#[derive(clap::Args)]
pub(crate) struct RollupGenerateArgs {
    /// Accounts in the genesis state (account 0 is the operator).
    #[arg(long, default_value_t = 8)]
    accounts: u32,
    /// Operations in the batch (a mix of deposits, transfers and withdrawals).
    #[arg(long, default_value_t = 16)]
    operations: usize,
    /// Seed of the generator: the same arguments always write the same files.
    #[arg(long, default_value_t = 0)]
    seed: u64,
    /// Height of every account's one-time-key tree (2^H signatures per account).
    #[arg(long, default_value_t = zkfleet_rollup::spec::DEFAULT_XMSS_HEIGHT)]
    tree_height: usize,
    #[arg(long, default_value_t = 1)]
    batch_number: u32,
    /// Directory to write into (created if missing).
    #[arg(long, default_value = "rollup-batch")]
    out: PathBuf,
    /// Make the batch break one rule, for negative tests: prev-state-root, priority-serial,
    /// deposit-without-key, deposit-key-mismatch, unknown-sender, unknown-recipient,
    /// unknown-operator, nonce, reused-key, key-not-nonce, keys-exhausted, bad-signature,
    /// fee-overflow, insufficient-balance, recipient-overflow, operator-overflow.
    #[arg(long)]
    invalid: Option<zkfleet_rollup::generate::InvalidKind>,
}

pub(crate) fn run(command: RollupCommand, global: &GlobalArgs) -> anyhow::Result<()> {
    match command {
        // The global `--chain-id` names the generated batch's chain (270 when absent, as
        // before the flag became global).
        RollupCommand::Generate(args) => {
            generate(args, global.chain_id.unwrap_or(DEFAULT_GENERATED_CHAIN_ID))
        }
    }
}

/// `zkfleet rollup generate`: generate, write, and execute the batch once to report its
/// outcome (the public output of a valid batch, the rejection of an invalid one).
fn generate(args: RollupGenerateArgs, chain_id: u64) -> anyhow::Result<()> {
    use zkfleet_rollup::generate::{generate, write_to_dir, GeneratorConfig};
    let config = GeneratorConfig {
        accounts: args.accounts,
        operations: args.operations,
        seed: args.seed,
        tree_height: args.tree_height,
        chain_id: zkfleet_types::ChainId(chain_id),
        batch_number: zkfleet_types::BatchNumber(args.batch_number),
        invalid: args.invalid,
    };
    let started = std::time::Instant::now();
    let generated = generate(&config)?;
    let generation = started.elapsed();
    let files = write_to_dir(&generated, &args.out)?;
    let mut state = generated.genesis.to_memory_state()?;
    let started = std::time::Instant::now();
    let outcome = zkfleet_rollup::execute::execute_batch(&mut state, &generated.batch);
    let execution = started.elapsed();
    out!(
        "generated {} with {} operations over {} genesis accounts (tree height {}) in {:.2?}",
        generated.batch.id(),
        generated.batch.operations.len(),
        generated.genesis.accounts.len(),
        config.tree_height,
        generation
    );
    for path in [
        &files.genesis,
        &files.keyring,
        &files.batch_json,
        &files.batch_binary,
    ] {
        out!("  wrote {}", path.display());
    }
    match (outcome, config.invalid) {
        (Ok(executed), None) => {
            let path = args.out.join("public_output.json");
            std::fs::write(
                &path,
                serde_json::to_string_pretty(&executed.public_output)?,
            )?;
            out!("  wrote {}", path.display());
            out!(
                "executed in {execution:.2?}: new state root {}",
                executed.public_output.new_state_root
            );
        }
        (Err(e), Some(kind)) if kind.matches(&e) => {
            out!("invalid batch ({kind}) is rejected as intended: {e}");
        }
        (Err(e), _) => anyhow::bail!("generated batch rejected unexpectedly: {e}"),
        (Ok(_), Some(kind)) => anyhow::bail!("invalid batch ({kind}) was accepted"),
    }
    Ok(())
}
