//! The chain the sequencer keeps: its state, its produced batches and how far they are proven.
//!
//! [`Chain`] is synchronous and single-owner (the async [`crate::Sequencer`] holds it behind a
//! lock): producing a batch and accepting a proof are each one short sequence of file writes.
//! It does no cryptography itself; [`Chain::accept`] takes the output a verifier attested.

use std::path::Path;

use chrono::{DateTime, Utc};
use tracing::{info, warn};
use zkfleet_rollup::execute::execute_batch;
use zkfleet_rollup::generate::{generate, GeneratorConfig};
use zkfleet_rollup::genesis::Genesis;
use zkfleet_rollup::keyring::Keyring;
use zkfleet_rollup::spec::digest_to_hash_digest;
use zkfleet_rollup::state::{DiskState, MemoryState, StateTree};
use zkfleet_rollup::witness_input::BatchWitnessInput;
use zkfleet_types::{BatchNumber, BatchPublicOutput, HashDigest};

use crate::config::ChainParameters;
use crate::error::{Refusal, SequencerError};
use crate::ledger::{BatchRecord, ChainIdentity, DataDir, Head, LEDGER_FORMAT_VERSION};
use crate::producer::{BatchStart, OperationSource};

/// What [`Chain::accept`] did with a verified proof.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Acceptance {
    /// The batch is now proven; the proven state root moved to its new root.
    Accepted,
    /// The batch was proven before (a repeated submission, e.g. after a lost answer): nothing
    /// changed. Answered as success, since the proof is valid and the batch is proven.
    AlreadyProven,
}

/// A chain's state, batches and proven head, on disk.
pub struct Chain {
    dir: DataDir,
    head: Head,
    /// The state after the latest produced batch.
    state: DiskState,
    source: OperationSource,
    /// Counters after the latest produced batch (from its record, or the genesis).
    accounts: u32,
    next_priority_serial: u64,
}

impl std::fmt::Debug for Chain {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Chain")
            .field("dir", &self.dir.root())
            .field("head", &self.head)
            .finish()
    }
}

impl Chain {
    /// Opens the chain in `dir`, creating its genesis from `seed` and `genesis_accounts` if the
    /// directory is new. A directory made with other chain parameters is refused. A batch
    /// whose production was interrupted (record written, head not yet) is finished.
    pub fn open(
        dir: &Path,
        params: &ChainParameters,
        seed: u64,
        genesis_accounts: u32,
    ) -> Result<Self, SequencerError> {
        let dir = DataDir::new(dir);
        dir.create()?;
        let identity = ChainIdentity {
            chain_id: params.chain_id,
            seed,
            genesis_accounts,
            tree_height: params.tree_height,
            protocol_version: params.protocol_version,
            recursion_tree_vk_digest: params.recursion_tree_vk_digest,
        };
        let head = match dir.read_head()? {
            Some(head) => {
                if head.identity != identity {
                    return Err(SequencerError::IdentityMismatch {
                        dir: dir.root().to_owned(),
                        stored: format!("{:?}", head.identity),
                        configured: format!("{identity:?}"),
                    });
                }
                head
            }
            None => initialise(&dir, identity)?,
        };
        let genesis = Genesis::from_json(&dir.read_text(&dir.genesis_path())?)
            .map_err(|e| SequencerError::corrupt(&dir.genesis_path(), e.to_string()))?;
        let keyring = Keyring::from_json(&dir.read_text(&dir.keyring_path())?)
            .map_err(|e| SequencerError::corrupt(&dir.keyring_path(), e.to_string()))?;
        let state = DiskState::open(&dir.state_path()).map_err(SequencerError::state)?;
        let source = OperationSource::new(seed, params.tree_height, keyring);
        let (accounts, next_priority_serial) = match head.latest_produced {
            0 => (genesis.accounts.len() as u32, head.first_priority_serial),
            n => {
                let record = dir.read_record(n)?.ok_or_else(|| {
                    SequencerError::corrupt(
                        dir.root(),
                        format!("the record of batch {n} is missing"),
                    )
                })?;
                (record.accounts_after, record.next_priority_serial)
            }
        };
        let mut chain = Self {
            dir,
            head,
            state,
            source,
            accounts,
            next_priority_serial,
        };
        chain.recover()?;
        Ok(chain)
    }

    /// Brings the state and the head together after a crash between writing a batch's record
    /// and writing the head (the head is the commit point; see the ledger's module doc).
    fn recover(&mut self) -> Result<(), SequencerError> {
        let next = self.head.latest_produced + 1;
        let root = digest_to_hash_digest(self.state.root().map_err(SequencerError::state)?);
        if let Some(record) = self.dir.read_record(next)? {
            warn!(
                batch = next,
                "finishing the production of a batch interrupted by a stop"
            );
            if root == record.expected_output.prev_state_root {
                let input = self.dir.read_input(next)?;
                let batch = decode_batch(next, &input)?;
                execute_batch(&mut self.state, &batch)
                    .map_err(|e| SequencerError::corrupt(&self.dir.state_path(), e.to_string()))?;
            } else if root != record.expected_output.new_state_root {
                return Err(SequencerError::corrupt(
                    &self.dir.state_path(),
                    format!(
                        "root {root} is neither batch {next}'s previous nor its new state root"
                    ),
                ));
            }
            self.commit_produced(&record)?;
            return Ok(());
        }
        let expected = self.head_root()?;
        if root != expected {
            return Err(SequencerError::corrupt(
                &self.dir.state_path(),
                format!(
                    "root {root} is not the root {expected} after batch {}",
                    self.head.latest_produced
                ),
            ));
        }
        Ok(())
    }

    /// The root after the latest produced batch, as the ledger records it.
    fn head_root(&self) -> Result<HashDigest, SequencerError> {
        match self.head.latest_produced {
            0 => Ok(self.head.genesis_root),
            n => Ok(self
                .dir
                .read_record(n)?
                .ok_or_else(|| {
                    SequencerError::corrupt(
                        self.dir.root(),
                        format!("the record of batch {n} is missing"),
                    )
                })?
                .expected_output
                .new_state_root),
        }
    }

    fn commit_produced(&mut self, record: &BatchRecord) -> Result<(), SequencerError> {
        let mut head = self.head.clone();
        head.latest_produced = record.number.0;
        self.dir.write_head(&head)?;
        self.head = head;
        self.accounts = record.accounts_after;
        self.next_priority_serial = record.next_priority_serial;
        Ok(())
    }

    /// The chain's head: the latest batch produced and the latest proven.
    pub fn head(&self) -> &Head {
        &self.head
    }

    /// Batches produced and not proven yet.
    pub fn pending(&self) -> u32 {
        self.head.latest_produced - self.head.latest_proven
    }

    /// The current state root (after the latest produced batch).
    pub fn state_root(&self) -> Result<HashDigest, SequencerError> {
        Ok(digest_to_hash_digest(
            self.state.root().map_err(SequencerError::state)?,
        ))
    }

    /// The record of produced batch `number` (its output and state roots), `None` for a batch
    /// not produced.
    pub fn record(&self, number: u32) -> Result<Option<BatchRecord>, SequencerError> {
        if number == 0 || number > self.head.latest_produced {
            return Ok(None);
        }
        self.dir.read_record(number)
    }

    /// The witness input of batch `number` as the fleet is given it (encoded bytes).
    pub fn witness_input(&self, number: u32) -> Result<Vec<u8>, SequencerError> {
        self.dir.read_input(number)
    }

    /// Makes, executes and stores the next batch of `operations` operations.
    pub fn produce(
        &mut self,
        operations: usize,
        sealed_at: DateTime<Utc>,
    ) -> Result<BatchRecord, SequencerError> {
        let number =
            self.head
                .latest_produced
                .checked_add(1)
                .ok_or_else(|| SequencerError::Generate {
                    batch: u32::MAX,
                    reason: "batch numbers are exhausted".into(),
                })?;
        let pre_state = self.memory_state()?;
        let start = BatchStart {
            chain_id: self.head.identity.chain_id,
            number: BatchNumber(number),
            state: &pre_state,
            accounts: self.accounts,
            first_priority_serial: self.next_priority_serial,
        };
        let made =
            self.source
                .make_batch(&start, operations)
                .map_err(|e| SequencerError::Generate {
                    batch: number,
                    reason: e.to_string(),
                })?;
        // The fleet's witness input: the batch and the whole state it applies to, root checked.
        let input = BatchWitnessInput::from_state(&made.batch, &pre_state)
            .and_then(|input| input.encode())
            .map_err(|e| SequencerError::WitnessInput {
                batch: number,
                reason: e.to_string(),
            })?;
        // Executed on a copy first: the record must exist before the state moves (recovery
        // rolls the state forward from it, never back).
        let mut scratch = pre_state;
        let executed =
            execute_batch(&mut scratch, &made.batch).map_err(|e| SequencerError::Generate {
                batch: number,
                reason: e.to_string(),
            })?;
        let mut expected_output = executed.public_output;
        expected_output.recursion_tree_vk_digest = self.head.identity.recursion_tree_vk_digest.0;
        let record = BatchRecord {
            number: BatchNumber(number),
            sealed_at,
            operations: made.batch.operations.len(),
            expected_output,
            accounts_after: made.accounts_after,
            next_priority_serial: made.next_priority_serial,
        };
        self.dir.write_batch(&record, &input)?;
        execute_batch(&mut self.state, &made.batch)
            .map_err(|e| SequencerError::State(e.to_string()))?;
        self.commit_produced(&record)?;
        info!(
            batch = number,
            operations = record.operations,
            new_state_root = %record.expected_output.new_state_root,
            "batch produced"
        );
        Ok(record)
    }

    /// The state as an in-memory tree (what a witness input carries), read account by account
    /// from the disk state: ids `0..accounts` are every account there is.
    fn memory_state(&self) -> Result<MemoryState, SequencerError> {
        let mut memory = MemoryState::new();
        for id in 0..self.accounts {
            if let Some(account) = self.state.account(id).map_err(SequencerError::state)? {
                memory
                    .set_account(id, account)
                    .map_err(SequencerError::state)?;
            }
        }
        memory.commit().map_err(SequencerError::state)?;
        let (memory_root, disk_root) = (
            memory.root().map_err(SequencerError::state)?,
            self.state.root().map_err(SequencerError::state)?,
        );
        if memory_root != disk_root {
            return Err(SequencerError::corrupt(
                &self.dir.state_path(),
                format!(
                    "accounts 0..{} do not make up the state (an account outside them?)",
                    self.accounts
                ),
            ));
        }
        Ok(memory)
    }

    /// Accepts batch `number`, whose final proof verified and attested `attested`, if it is
    /// the next one to prove. The caller has checked `attested` against
    /// [`Chain::record`]'s expected output; this checks the order and moves the proven head.
    pub fn accept(
        &mut self,
        number: u32,
        attested: &BatchPublicOutput,
    ) -> Result<Acceptance, AcceptError> {
        let proven = self.head.latest_proven;
        if number <= proven {
            return Ok(Acceptance::AlreadyProven);
        }
        let next = proven + 1;
        if number != next {
            return Err(AcceptError::Refused(Refusal::OutOfOrder {
                number,
                next,
                proven,
            }));
        }
        if attested.prev_state_root != self.head.proven_state_root {
            // Cannot happen with outputs checked against the records (each batch starts where
            // the previous one ends); refuse rather than break the chain of roots.
            return Err(AcceptError::Refused(Refusal::WrongOutput {
                number,
                differences: format!(
                    "prev_state_root: proof {}, proven state root {}",
                    attested.prev_state_root, self.head.proven_state_root
                ),
            }));
        }
        let mut head = self.head.clone();
        head.latest_proven = number;
        head.proven_state_root = attested.new_state_root;
        self.dir.write_head(&head).map_err(AcceptError::Internal)?;
        self.head = head;
        info!(
            batch = number,
            proven_state_root = %self.head.proven_state_root,
            "final proof accepted"
        );
        Ok(Acceptance::Accepted)
    }
}

/// Why [`Chain::accept`] did not accept.
#[derive(Debug, thiserror::Error)]
pub enum AcceptError {
    /// The proof was refused; the chain is unchanged.
    #[error(transparent)]
    Refused(Refusal),
    /// The chain could not record the acceptance.
    #[error(transparent)]
    Internal(SequencerError),
}

/// Creates the genesis: the rollup generator's genesis state and keyring for this seed. Writes
/// the head last, so an interrupted initialisation is simply done again.
fn initialise(dir: &DataDir, identity: ChainIdentity) -> Result<Head, SequencerError> {
    dir.clear_unfinished_init()?;
    let generated = generate(&GeneratorConfig {
        accounts: identity.genesis_accounts,
        operations: 0,
        seed: identity.seed,
        tree_height: identity.tree_height,
        chain_id: identity.chain_id,
        batch_number: BatchNumber(1),
        invalid: None,
    })
    .map_err(|e| SequencerError::Generate {
        batch: 0,
        reason: format!("genesis: {e}"),
    })?;
    let mut state = DiskState::open(&dir.state_path()).map_err(SequencerError::state)?;
    let root = generated
        .genesis
        .load_into(&mut state)
        .map_err(SequencerError::state)?;
    drop(state);
    dir.write_text(&dir.genesis_path(), &generated.genesis.to_json())?;
    dir.write_text(&dir.keyring_path(), &generated.keyring.to_json())?;
    // The first priority serial the generator drew is kept in the head, since the genesis
    // JSON has no field for it.
    let genesis_root = digest_to_hash_digest(root);
    let head = Head {
        format_version: LEDGER_FORMAT_VERSION,
        identity,
        genesis_root,
        latest_produced: 0,
        latest_proven: 0,
        proven_state_root: genesis_root,
        first_priority_serial: generated.batch.first_priority_serial,
    };
    dir.write_head(&head)?;
    info!(dir = %dir.root().display(), %genesis_root, "new chain initialised");
    Ok(head)
}

/// The batch inside a stored witness input.
fn decode_batch(number: u32, input: &[u8]) -> Result<zkfleet_rollup::batch::Batch, SequencerError> {
    BatchWitnessInput::decode(input)
        .and_then(|input| input.prepare())
        .map(|prepared| prepared.batch)
        .map_err(|e| SequencerError::WitnessInput {
            batch: number,
            reason: e.to_string(),
        })
}
