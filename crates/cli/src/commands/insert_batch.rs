//! `zkfleet insert-batch`: hand a batch to the fleet by hand (what the gateway does for a
//! sequencer): build and validate the batch's witness input (the batch plus the state it starts
//! from, so that stateless witness generators can execute it), store it, insert the basic
//! witness job, queued.

use std::path::{Path, PathBuf};

use anyhow::{bail, Context as _};
use chrono::Utc;
use zkfleet_dal::{InsertOutcome, NewBatch};
use zkfleet_rollup::batch::Batch;
use zkfleet_rollup::encoding;
use zkfleet_rollup::genesis::Genesis;
use zkfleet_store::{ObjectKey, WitnessInputBytes};
use zkfleet_types::ProtocolSemanticVersion;
use zkfleet_witness_generator::input::WITNESS_INPUT_MAGIC;
use zkfleet_witness_generator::BatchWitnessInput;

use crate::commands::batch_id;
use crate::fleet::{describe_store, Fleet};

#[derive(clap::Args)]
pub struct Args {
    /// The batch number (must match the input's).
    #[arg(long)]
    number: u32,
    /// The protocol version to prove it under, `0.MINOR.PATCH` (inserted with insert-version).
    #[arg(long)]
    version: ProtocolSemanticVersion,
    /// The batch: its binary encoding (batch.bin) or its JSON (batch.json), as written by
    /// `zkfleet rollup generate` — then --genesis is required — or a complete witness input
    /// (batch + pre-state, magic `ZKWI`). The chain must match --chain-id.
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
pub fn read_batch(path: &Path) -> anyhow::Result<(Batch, Vec<u8>)> {
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
pub fn read_witness_input(
    input: &Path,
    genesis: Option<&Path>,
) -> anyhow::Result<(Batch, Vec<u8>)> {
    let bytes =
        std::fs::read(input).with_context(|| format!("reading the batch {}", input.display()))?;
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

pub async fn run(args: &Args, fleet: &Fleet) -> anyhow::Result<()> {
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

/// Stores a batch's witness input and inserts its basic witness job, queued. A batch already
/// in the fleet with the same input is left as it is (and reported); with another input it is
/// an error.
pub async fn insert(
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
    let key = ObjectKey::WitnessInput {
        chain: id.chain_id,
        batch: id.batch_number,
    };
    let existing = dal
        .batch_status(id)
        .await
        .with_context(|| format!("reading the status of {id}"))?
        .witness_input;
    if let Some(row) = existing {
        // Never overwrite the input of a batch already in the fleet: its jobs were cut from it.
        let stored = store
            .get::<WitnessInputBytes>(&key)
            .await
            .with_context(|| format!("reading the stored input of {id}"))?;
        if stored.0.as_ref() != binary.as_slice() {
            bail!(
                "{id} already exists (protocol version {}, status {}) with a different input; \
                 delete it first (`zkfleet delete --batch {}`) to insert another",
                row.protocol_version,
                row.status,
                id.batch_number
            );
        }
        println!("{id} already exists with the same input; nothing changed");
        return Ok(());
    }
    let path = store
        .put(&key, &WitnessInputBytes::new(binary))
        .await
        .with_context(|| {
            format!(
                "storing the input of {id} in the {}",
                describe_store(&fleet.store_config())
            )
        })?;
    let outcome = dal
        .insert_batch(&NewBatch {
            batch: id,
            protocol_version: version,
            witness_input_blob_key: path.clone(),
            priority,
            batch_sealed_at: Utc::now(),
        })
        .await
        .with_context(|| format!("inserting {id}"))?;
    match outcome {
        InsertOutcome::Inserted => println!(
            "inserted {id} ({} operations, protocol version {}, priority {}): input stored at {path}",
            batch.operations.len(),
            version,
            priority
        ),
        InsertOutcome::AlreadyPresent => {
            println!("{id} already exists with the same input; nothing changed")
        }
    }
    Ok(())
}
