//! The sequencer's data directory: what survives a restart.
//!
//! ```text
//! DATA_DIR/
//!   sequencer.json           the head: chain identity, latest produced and proven batch,
//!                            proven state root (rewritten atomically on every change)
//!   genesis.json             the genesis state (rollup `Genesis` JSON), written once
//!   keyring.json             the genesis accounts' key seeds (rollup `Keyring` JSON), once
//!   state.redb               the rollup state after the latest produced batch (`DiskState`)
//!   batches/0000000007.json  batch 7's record: expected public output, counters after it
//!   batches/0000000007.input batch 7's witness input, exactly the bytes the fleet receives
//! ```
//!
//! Every file is written to a temporary name, synced and renamed, so a crash leaves the old
//! file or the new one, never half of one. The files are written in an order that a restart can
//! always finish (see `Chain::open`): a batch's record and input first, then the state, then
//! the head. The state and the head cannot change in one atomic step (two files), so the head
//! is the commit point and the state is rolled forward from the record when they disagree.

use std::io::Write as _;
use std::path::{Path, PathBuf};

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use zkfleet_types::{
    BatchNumber, BatchPublicOutput, ChainId, HashDigest, ProtocolSemanticVersion, VkDigest,
};

use crate::error::SequencerError;

/// Version of the head and record formats this build writes and reads.
pub const LEDGER_FORMAT_VERSION: u16 = 1;

const HEAD_FILE: &str = "sequencer.json";
const GENESIS_FILE: &str = "genesis.json";
const KEYRING_FILE: &str = "keyring.json";
const STATE_FILE: &str = "state.redb";
const BATCHES_DIR: &str = "batches";

/// The head of the ledger: who this chain is and how far it got.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Head {
    /// The data directory's format version (a newer one is refused, not misread).
    pub format_version: u16,
    /// What the directory was created with; reopening with other values is refused.
    pub identity: ChainIdentity,
    /// Root of the genesis state (what batch 1 starts from).
    pub genesis_root: HashDigest,
    /// The L1 priority serial batch 1's first deposit takes.
    pub first_priority_serial: u64,
    /// The last batch produced (0: none yet).
    pub latest_produced: u32,
    /// The last batch whose final proof was verified and accepted (0: none yet).
    pub latest_proven: u32,
    /// The state root the latest proven batch ends at (the genesis root before any).
    pub proven_state_root: HashDigest,
}

/// What a chain's batches depend on: change any of them and the produced batches could no
/// longer be proven (tree height, keys) or would be another chain's (chain id, seed).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ChainIdentity {
    /// The chain's id.
    pub chain_id: ChainId,
    /// The seed every batch's operations and every account's keys are derived from.
    pub seed: u64,
    /// Accounts the genesis state holds.
    pub genesis_accounts: u32,
    /// Height of every account's one-time-key tree (the circuits' `xmss_height`).
    pub tree_height: usize,
    /// The protocol version batches are proven under.
    pub protocol_version: ProtocolSemanticVersion,
    /// The recursion-tree key digest every final proof must attest.
    pub recursion_tree_vk_digest: VkDigest,
}

/// One produced batch.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct BatchRecord {
    /// The batch's number.
    pub number: BatchNumber,
    /// When it was sealed.
    pub sealed_at: DateTime<Utc>,
    /// Operations it holds.
    pub operations: usize,
    /// The output a final proof of this batch must attest, exactly (the sequencer executed the
    /// batch itself; `recursion_tree_vk_digest` is the chain's).
    pub expected_output: BatchPublicOutput,
    /// Accounts after the batch: ids `0..accounts_after` exist (deposits create them in order).
    pub accounts_after: u32,
    /// The L1 priority serial the next batch's first deposit takes.
    pub next_priority_serial: u64,
}

/// The directory and its files.
#[derive(Debug, Clone)]
pub struct DataDir {
    root: PathBuf,
}

impl DataDir {
    /// The data directory at `root` (nothing is read or created yet).
    pub fn new(root: impl Into<PathBuf>) -> Self {
        Self { root: root.into() }
    }

    /// The directory.
    pub fn root(&self) -> &Path {
        &self.root
    }

    /// The file of the rollup state after the latest produced batch.
    pub fn state_path(&self) -> PathBuf {
        self.root.join(STATE_FILE)
    }

    /// The file of the genesis state.
    pub fn genesis_path(&self) -> PathBuf {
        self.root.join(GENESIS_FILE)
    }

    /// The file of the genesis accounts' key seeds.
    pub fn keyring_path(&self) -> PathBuf {
        self.root.join(KEYRING_FILE)
    }

    fn head_path(&self) -> PathBuf {
        self.root.join(HEAD_FILE)
    }

    fn record_path(&self, number: u32) -> PathBuf {
        self.root
            .join(BATCHES_DIR)
            .join(format!("{number:010}.json"))
    }

    fn input_path(&self, number: u32) -> PathBuf {
        self.root
            .join(BATCHES_DIR)
            .join(format!("{number:010}.input"))
    }

    /// Creates the directory and its `batches/` subdirectory.
    pub fn create(&self) -> Result<(), SequencerError> {
        std::fs::create_dir_all(self.root.join(BATCHES_DIR))
            .map_err(|e| SequencerError::io("creating", &self.root, e))
    }

    /// The head, or `None` for a directory never initialised (or whose initialisation did
    /// not finish: the head is written last).
    pub fn read_head(&self) -> Result<Option<Head>, SequencerError> {
        let Some(text) = read_optional(&self.head_path())? else {
            return Ok(None);
        };
        let head: Head = serde_json::from_slice(&text)
            .map_err(|e| SequencerError::corrupt(&self.head_path(), e.to_string()))?;
        if head.format_version != LEDGER_FORMAT_VERSION {
            return Err(SequencerError::corrupt(
                &self.head_path(),
                format!(
                    "format version {}, this build reads {LEDGER_FORMAT_VERSION}",
                    head.format_version
                ),
            ));
        }
        Ok(Some(head))
    }

    /// Writes the head (the chain's identity and progress).
    pub fn write_head(&self, head: &Head) -> Result<(), SequencerError> {
        write_json(&self.head_path(), head)
    }

    /// Writes `text` to `path` (a file of this directory).
    pub fn write_text(&self, path: &Path, text: &str) -> Result<(), SequencerError> {
        write_atomic(path, text.as_bytes())
    }

    /// Reads the text file `path` of this directory.
    pub fn read_text(&self, path: &Path) -> Result<String, SequencerError> {
        std::fs::read_to_string(path).map_err(|e| SequencerError::io("reading", path, e))
    }

    /// Stores a batch: input first, then the record (whose presence says the batch exists).
    pub fn write_batch(&self, record: &BatchRecord, input: &[u8]) -> Result<(), SequencerError> {
        write_atomic(&self.input_path(record.number.0), input)?;
        write_json(&self.record_path(record.number.0), record)
    }

    /// The record of batch `number`, `None` if it was never written.
    pub fn read_record(&self, number: u32) -> Result<Option<BatchRecord>, SequencerError> {
        let path = self.record_path(number);
        let Some(bytes) = read_optional(&path)? else {
            return Ok(None);
        };
        let record: BatchRecord = serde_json::from_slice(&bytes)
            .map_err(|e| SequencerError::corrupt(&path, e.to_string()))?;
        if record.number.0 != number {
            return Err(SequencerError::corrupt(
                &path,
                format!("holds batch {}", record.number),
            ));
        }
        Ok(Some(record))
    }

    /// The witness input written for batch `number`.
    pub fn read_input(&self, number: u32) -> Result<Vec<u8>, SequencerError> {
        let path = self.input_path(number);
        std::fs::read(&path).map_err(|e| SequencerError::io("reading", &path, e))
    }

    /// Removes what an initialisation that did not finish may have left (no head yet).
    pub fn clear_unfinished_init(&self) -> Result<(), SequencerError> {
        for path in [self.state_path(), self.genesis_path(), self.keyring_path()] {
            match std::fs::remove_file(&path) {
                Ok(()) => {}
                Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
                Err(e) => return Err(SequencerError::io("removing", &path, e)),
            }
        }
        Ok(())
    }
}

fn read_optional(path: &Path) -> Result<Option<Vec<u8>>, SequencerError> {
    match std::fs::read(path) {
        Ok(bytes) => Ok(Some(bytes)),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(None),
        Err(e) => Err(SequencerError::io("reading", path, e)),
    }
}

fn write_json<T: Serialize>(path: &Path, value: &T) -> Result<(), SequencerError> {
    let text = serde_json::to_vec_pretty(value)
        .map_err(|e| SequencerError::corrupt(path, format!("cannot encode: {e}")))?;
    write_atomic(path, &text)
}

/// Writes `bytes` to a temporary file beside `path`, syncs it, renames it over `path` and
/// syncs the directory: readers (and a restart after a crash) see the old or the new content.
fn write_atomic(path: &Path, bytes: &[u8]) -> Result<(), SequencerError> {
    let dir = path.parent().unwrap_or_else(|| Path::new("."));
    let name = path
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_default();
    let tmp = dir.join(format!(".{name}.tmp"));
    let result = (|| {
        let mut file = std::fs::File::create(&tmp)?;
        file.write_all(bytes)?;
        file.sync_all()?;
        std::fs::rename(&tmp, path)?;
        // The rename is durable once the directory is synced.
        std::fs::File::open(dir)?.sync_all()
    })();
    result.map_err(|e| SequencerError::io("writing", path, e))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn records_round_trip_and_a_missing_head_is_none() {
        let tmp = tempfile::tempdir().expect("tmp");
        let dir = DataDir::new(tmp.path().join("seq"));
        dir.create().expect("create");
        assert!(dir.read_head().expect("read").is_none());
        let record = BatchRecord {
            number: BatchNumber(3),
            sealed_at: Utc::now(),
            operations: 2,
            expected_output: BatchPublicOutput {
                chain_id: ChainId(270),
                batch_number: BatchNumber(3),
                prev_state_root: HashDigest([1, 2, 3, 4]),
                new_state_root: HashDigest([5, 6, 7, 8]),
                operations_commitment: HashDigest::ZERO,
                deposits_consumed: 1,
                deposits_commitment: HashDigest::ZERO,
                withdrawals_commitment: HashDigest::ZERO,
                pubdata_commitment: HashDigest::ZERO,
                recursion_tree_vk_digest: HashDigest::ZERO,
            },
            accounts_after: 5,
            next_priority_serial: 9,
        };
        dir.write_batch(&record, b"input").expect("write");
        assert_eq!(dir.read_record(3).expect("read"), Some(record));
        assert_eq!(dir.read_input(3).expect("input"), b"input");
        assert_eq!(dir.read_record(4).expect("read"), None);
        std::fs::write(dir.head_path(), "{not json").expect("write");
        let err = dir.read_head().unwrap_err().to_string();
        assert!(err.contains("sequencer.json"), "{err}");
    }
}
