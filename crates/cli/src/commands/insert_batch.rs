//! `zkfleet insert-batch`: hand a batch to the fleet by hand (what the gateway does for a
//! sequencer): build the batch's witness input (the batch plus the state it starts from, so
//! that stateless witness generators can execute it), then hand it to
//! [`zkfleet_intake::submit`] — the gateway's own intake — which checks it (decodes, label,
//! native execution), arbitrates with any concurrent submission in the job database, stores
//! it and queues the basic witness job.

use std::path::{Path, PathBuf};

use anyhow::{bail, Context as _};
use chrono::Utc;
use zkfleet_intake::{Accepted, Submission};
use zkfleet_rollup::batch::Batch;
use zkfleet_rollup::encoding;
use zkfleet_rollup::genesis::Genesis;
use zkfleet_rollup::witness_input::{BatchWitnessInput, WITNESS_INPUT_MAGIC};
use zkfleet_store::codec;
use zkfleet_types::ProtocolSemanticVersion;

use crate::commands::batch_id;
use crate::fleet::{describe_store, Fleet};

#[derive(clap::Args)]
pub(crate) struct Args {
    /// The batch number (must match the input's).
    #[arg(long)]
    number: u32,
    /// The protocol version to prove it under, `0.MINOR.PATCH` (inserted with insert-version).
    #[arg(long)]
    version: ProtocolSemanticVersion,
    /// The batch: its binary encoding (batch.bin) or its JSON (batch.json), as written by
    /// `zkfleet rollup generate` — then --genesis is required — or a complete witness input
    /// (batch + pre-state, magic `ZKWI`), raw or as the store keeps it (in its `ZKFL`
    /// envelope, e.g. copied out of the witness_inputs bucket). The chain must match
    /// --chain-id.
    #[arg(long, value_name = "FILE")]
    input: PathBuf,
    /// The state the batch starts from (genesis.json of `zkfleet rollup generate`); its root
    /// must equal the batch's previous state root.
    #[arg(long, value_name = "FILE")]
    genesis: Option<PathBuf>,
    /// Higher is picked first, in every round of the batch.
    #[arg(long, default_value_t = 0, allow_negative_numbers = true)]
    priority: i32,
}

/// Reads a batch file, binary or JSON, and returns the batch with its binary encoding (what
/// the witness input blob holds).
pub(crate) fn read_batch(path: &Path) -> anyhow::Result<(Batch, Vec<u8>)> {
    let bytes =
        std::fs::read(path).with_context(|| format!("reading the batch {}", path.display()))?;
    let looks_like_json = bytes
        .iter()
        .find(|b| !b.is_ascii_whitespace())
        .is_some_and(|b| *b == b'{');
    if looks_like_json {
        let text = std::str::from_utf8(&bytes)
            .with_context(|| format!("{} is not UTF-8 JSON", path.display()))?;
        let batch = encoding::json::decode(text)
            .with_context(|| format!("{} is not a valid batch (JSON)", path.display()))?;
        let binary = encoding::binary::encode(&batch)
            .with_context(|| format!("encoding the batch of {}", path.display()))?;
        Ok((batch, binary))
    } else {
        let batch = encoding::binary::decode(&bytes)
            .with_context(|| format!("{} is not a valid batch (binary)", path.display()))?;
        Ok((batch, bytes))
    }
}

/// Reads `--input` (and `--genesis`) into the witness input blob: the batch with the accounts
/// of the state it starts from, checked against the batch's previous state root.
pub(crate) fn read_witness_input(
    input: &Path,
    genesis: Option<&Path>,
) -> anyhow::Result<(Batch, Vec<u8>)> {
    let file =
        std::fs::read(input).with_context(|| format!("reading the batch {}", input.display()))?;
    // A blob copied out of the store: its payload is the witness input.
    let bytes = if file.starts_with(&codec::MAGIC) {
        zkfleet_intake::unwrap_stored_input(&file)
            .with_context(|| {
                format!(
                    "{} is a stored blob (ZKFL envelope) but not a witness input",
                    input.display()
                )
            })?
            .to_vec()
    } else {
        file
    };
    if bytes.starts_with(&WITNESS_INPUT_MAGIC) {
        if genesis.is_some() {
            bail!(
                "{} is already a witness input (it carries its pre-state); drop --genesis",
                input.display()
            );
        }
        let decoded = BatchWitnessInput::decode(&bytes)
            .with_context(|| format!("{} is not a valid witness input", input.display()))?;
        let prepared = decoded
            .prepare()
            .with_context(|| format!("{} is not a valid witness input", input.display()))?;
        return Ok((prepared.batch, bytes));
    }
    let (batch, _) = read_batch(input)?;
    let Some(genesis_path) = genesis else {
        bail!(
            "the fleet is stateless: it needs the state {} starts from; give --genesis FILE \
             (genesis.json written by `zkfleet rollup generate`) or a witness input file",
            input.display()
        );
    };
    let text = std::fs::read_to_string(genesis_path)
        .with_context(|| format!("reading the genesis {}", genesis_path.display()))?;
    let genesis = Genesis::from_json(&text)
        .with_context(|| format!("{} is not a valid genesis", genesis_path.display()))?;
    let witness_input = BatchWitnessInput::from_genesis(&batch, &genesis).with_context(|| {
        format!(
            "{} does not start from the state of {}",
            input.display(),
            genesis_path.display()
        )
    })?;
    let encoded = witness_input
        .encode()
        .context("encoding the witness input")?;
    Ok((batch, encoded))
}

pub(crate) async fn run(args: &Args, fleet: &Fleet) -> anyhow::Result<()> {
    let (batch, binary) = read_witness_input(&args.input, args.genesis.as_deref())?;
    let id = batch_id(fleet, args.number);
    if batch.chain_id != id.chain_id || batch.number != id.batch_number {
        bail!(
            "{} holds {}, not {id} (check --number and --chain-id)",
            args.input.display(),
            batch.id()
        );
    }
    let dal = fleet.dal().await?;
    let store = fleet.store()?;
    insert(
        fleet,
        &dal,
        &store,
        &batch,
        binary,
        args.version,
        args.priority,
    )
    .await
}

/// Hands a batch's witness input to intake ([`zkfleet_intake::submit`]): checked, arbitrated
/// in the database, stored, queued. A batch already in the fleet with the same input is left
/// as it is (and reported); with another input it is an error — the first submission stands.
pub(crate) async fn insert(
    fleet: &Fleet,
    dal: &zkfleet_dal::Dal,
    store: &zkfleet_store::Store,
    batch: &Batch,
    binary: Vec<u8>,
    version: ProtocolSemanticVersion,
    priority: i32,
) -> anyhow::Result<()> {
    let id = batch.id();
    if dal
        .protocol_version(version)
        .await
        .context("reading protocol versions")?
        .is_none()
    {
        bail!(
            "unknown protocol version {}: insert it first (`zkfleet insert-version`)",
            version
        );
    }
    let accepted = zkfleet_intake::submit(
        dal,
        store,
        Submission {
            batch: id,
            protocol_version: version,
            witness_input: &binary,
            priority,
            batch_sealed_at: Utc::now(),
        },
    )
    .await;
    match accepted {
        Ok(Accepted::Inserted { key, .. }) => out!(
            "inserted {id} ({} operations, protocol version {}, priority {}): input stored at {}",
            batch.operations.len(),
            version,
            priority,
            key.path()
        ),
        Ok(Accepted::AlreadyKnown { status, .. }) => {
            out!("{id} already exists with the same input (status {status}); nothing changed")
        }
        Err(e @ zkfleet_intake::IntakeError::ConflictingInput { .. }) => bail!(
            "{e}; delete it first (`zkfleet delete --batch {}`) to insert another",
            id.batch_number
        ),
        Err(e @ zkfleet_intake::IntakeError::Store(_)) => {
            return Err(e).with_context(|| {
                format!(
                    "storing the input of {id} in the {}",
                    describe_store(&fleet.store_config())
                )
            })
        }
        Err(e) => return Err(e).with_context(|| format!("inserting {id}")),
    }
    Ok(())
}
