//! The witness input of a batch: everything basic witness generation needs, in one blob.
//!
//! A format shared by producers (the gateway's clients, `zkfleet insert-batch`, the sequencer),
//! intake (`zkfleet-intake`, which checks it before a batch is accepted) and the witness
//! generator (which executes it), so it lives here, in the rollup's library crate, rather than
//! in any one component.
//!
//! The fleet is stateless — it keeps no rollup state between batches — so executing a batch
//! needs the state the batch starts from to travel with it. A [`BatchWitnessInput`] carries
//! the batch (in the rollup's binary encoding) and the pre-state: every account of the state
//! the batch applies to. The witness generator rebuilds that state in memory, checks that its
//! root is the batch's `prev_state_root` (and refuses the job otherwise), then executes.
//!
//! Why the whole pre-state rather than Merkle paths of the touched accounts (ZKsync's input
//! carries paths): the rollup crate offers no partial state built from proofs, and rebuilding
//! the full state is sound and cheap at the reference rollup's sizes. The format is versioned
//! so that a sparse variant can be added as version 2.
//!
//! Byte layout (stored as the raw payload of a `WitnessInputBytes` blob, so the store's
//! envelope and checksum wrap it): magic `ZKWI`, format version u16 little-endian, then the
//! postcard encoding of the body.

use crate::batch::Batch;
use crate::encoding::{binary, DecodeError as BatchDecodeError};
use crate::genesis::{Genesis, GenesisAccount};
use crate::spec::digest_to_hash_digest;
use crate::state::{MemoryState, StateError, StateTree};
use serde::{Deserialize, Serialize};
use zkfleet_types::{HashDigest, L1BatchId};

/// First bytes of every witness input.
pub const WITNESS_INPUT_MAGIC: [u8; 4] = *b"ZKWI";
/// The format this build writes and reads.
pub const WITNESS_INPUT_FORMAT_VERSION: u16 = 1;

const HEADER_LEN: usize = WITNESS_INPUT_MAGIC.len() + 2;

/// A batch and the state it starts from.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct BatchWitnessInput {
    /// The batch in the rollup's binary encoding (`crate::encoding::binary`).
    pub batch: Vec<u8>,
    /// Every account of the pre-state, in id order.
    pub pre_state: Vec<GenesisAccount>,
}

/// Why a witness input could not be built or read.
#[derive(Debug, thiserror::Error)]
pub enum WitnessInputError {
    /// The bytes do not start with [`WITNESS_INPUT_MAGIC`].
    #[error("not a witness input: expected magic {expected:?}, found {found:?}")]
    BadMagic {
        /// [`WITNESS_INPUT_MAGIC`].
        expected: [u8; 4],
        /// The first bytes found (up to four).
        found: Vec<u8>,
    },
    /// The input was written in a format version this build does not read.
    #[error(
        "unsupported witness input format version {found} (this build reads version \
         {WITNESS_INPUT_FORMAT_VERSION})"
    )]
    UnsupportedVersion {
        /// The version the input declares.
        found: u16,
    },
    /// The body after the header is not the postcard encoding of a [`BatchWitnessInput`].
    #[error("malformed witness input body: {0}")]
    Body(String),
    /// The body decodes but its batch bytes are not a valid binary batch.
    #[error("malformed batch in the witness input: {0}")]
    Batch(#[from] BatchDecodeError),
    /// A producer's batch cannot be put in the binary encoding.
    #[error("cannot encode the batch: {0}")]
    EncodeBatch(String),
    /// Two pre-state entries for one account id.
    #[error("pre-state lists account {0} twice")]
    DuplicateAccount(u32),
    /// The pre-state's root is not the batch's `prev_state_root`.
    #[error(
        "pre-state root {pre_state} is not the batch's previous state root {batch}: the input \
         does not carry the state the batch applies to"
    )]
    PreStateMismatch {
        /// The batch's `prev_state_root`.
        batch: HashDigest,
        /// The root of the state the input carries.
        pre_state: HashDigest,
    },
    /// The in-memory state failed while the pre-state was rebuilt.
    #[error("rebuilding the pre-state: {0}")]
    State(String),
}

impl From<StateError> for WitnessInputError {
    fn from(e: StateError) -> Self {
        Self::State(e.to_string())
    }
}

/// A decoded witness input: the batch and its pre-state, root checked.
#[derive(Debug)]
pub struct PreparedBatch {
    /// The decoded batch.
    pub batch: Batch,
    /// The pre-state, whose root is the batch's `prev_state_root`: execute the batch on it.
    pub state: MemoryState,
}

impl BatchWitnessInput {
    /// The input of `batch` applied to `state` (for producers: CLI, gateway clients, tests).
    /// Refuses a state whose root is not the batch's `prev_state_root`, so a wrong input is
    /// caught where it is made rather than by a witness generator later.
    pub fn from_state(batch: &Batch, state: &MemoryState) -> Result<Self, WitnessInputError> {
        let root = state.root()?;
        if root != batch.prev_state_root {
            return Err(WitnessInputError::PreStateMismatch {
                batch: digest_to_hash_digest(batch.prev_state_root),
                pre_state: digest_to_hash_digest(root),
            });
        }
        let pre_state = state
            .accounts()
            .into_iter()
            .map(|(id, a)| GenesisAccount {
                id,
                public_key: a.public_key,
                balance: a.balance,
                nonce: a.nonce,
            })
            .collect();
        Self::unchecked(batch, pre_state)
    }

    /// The input of `batch` applied to the state snapshot `genesis` (root checked likewise).
    pub fn from_genesis(batch: &Batch, genesis: &Genesis) -> Result<Self, WitnessInputError> {
        let state = genesis
            .to_memory_state()
            .map_err(|e| WitnessInputError::State(e.to_string()))?;
        Self::from_state(batch, &state)
    }

    /// An input without the root check: only for building deliberately wrong inputs (tests
    /// of the witness generator's own check).
    pub fn unchecked(
        batch: &Batch,
        mut pre_state: Vec<GenesisAccount>,
    ) -> Result<Self, WitnessInputError> {
        pre_state.sort_by_key(|a| a.id);
        let batch =
            binary::encode(batch).map_err(|e| WitnessInputError::EncodeBatch(e.to_string()))?;
        Ok(Self { batch, pre_state })
    }

    /// The stored bytes: header then postcard body.
    pub fn encode(&self) -> Result<Vec<u8>, WitnessInputError> {
        let body = postcard::to_stdvec(self).map_err(|e| WitnessInputError::Body(e.to_string()))?;
        let mut out = Vec::with_capacity(HEADER_LEN + body.len());
        out.extend_from_slice(&WITNESS_INPUT_MAGIC);
        out.extend_from_slice(&WITNESS_INPUT_FORMAT_VERSION.to_le_bytes());
        out.extend_from_slice(&body);
        Ok(out)
    }

    /// Reads stored bytes, checking magic, version and that nothing trails the body.
    pub fn decode(bytes: &[u8]) -> Result<Self, WitnessInputError> {
        if bytes.len() < HEADER_LEN || bytes[..4] != WITNESS_INPUT_MAGIC {
            return Err(WitnessInputError::BadMagic {
                expected: WITNESS_INPUT_MAGIC,
                found: bytes[..bytes.len().min(4)].to_vec(),
            });
        }
        let version = u16::from_le_bytes([bytes[4], bytes[5]]);
        if version != WITNESS_INPUT_FORMAT_VERSION {
            return Err(WitnessInputError::UnsupportedVersion { found: version });
        }
        let (input, rest): (Self, _) = postcard::take_from_bytes(&bytes[HEADER_LEN..])
            .map_err(|e| WitnessInputError::Body(e.to_string()))?;
        if !rest.is_empty() {
            return Err(WitnessInputError::Body(format!(
                "{} bytes left over after the body",
                rest.len()
            )));
        }
        Ok(input)
    }

    /// Decodes the batch, rebuilds the pre-state and checks its root against the batch's
    /// `prev_state_root`.
    pub fn prepare(&self) -> Result<PreparedBatch, WitnessInputError> {
        let batch = binary::decode(&self.batch)?;
        let mut previous = None;
        for account in &self.pre_state {
            // Sorted by `unchecked`; a decoded input from elsewhere may not be, so check here.
            if previous.is_some_and(|p| p >= account.id) {
                return Err(if previous == Some(account.id) {
                    WitnessInputError::DuplicateAccount(account.id)
                } else {
                    WitnessInputError::Body("pre-state accounts are not in id order".to_owned())
                });
            }
            previous = Some(account.id);
        }
        // Built in bulk, each node hashed once (the tree of setting the accounts one by one).
        let state = MemoryState::with_accounts(self.pre_state.iter().map(|account| {
            (
                account.id,
                crate::state::Account {
                    public_key: account.public_key,
                    balance: account.balance,
                    nonce: account.nonce,
                },
            )
        }));
        let root = state.root()?;
        if root != batch.prev_state_root {
            return Err(WitnessInputError::PreStateMismatch {
                batch: digest_to_hash_digest(batch.prev_state_root),
                pre_state: digest_to_hash_digest(root),
            });
        }
        Ok(PreparedBatch { batch, state })
    }
}

impl PreparedBatch {
    /// The batch's chain and number.
    pub fn id(&self) -> L1BatchId {
        self.batch.id()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::generate::{generate, GeneratorConfig};

    fn generated() -> crate::generate::Generated {
        generate(&GeneratorConfig {
            accounts: 3,
            operations: 4,
            tree_height: 2,
            ..GeneratorConfig::default()
        })
        .expect("generate a batch")
    }

    #[test]
    fn round_trips_and_rebuilds_the_pre_state() {
        let g = generated();
        let input = BatchWitnessInput::from_genesis(&g.batch, &g.genesis).expect("input");
        let bytes = input.encode().expect("encode");
        assert_eq!(&bytes[..4], b"ZKWI");
        let decoded = BatchWitnessInput::decode(&bytes).expect("decode");
        assert_eq!(decoded, input);
        let prepared = decoded.prepare().expect("prepare");
        assert_eq!(prepared.batch, g.batch);
        assert_eq!(prepared.state.root().unwrap(), g.batch.prev_state_root);
    }

    #[test]
    fn refuses_bad_header_trailing_bytes_and_wrong_state() {
        let g = generated();
        let input = BatchWitnessInput::from_genesis(&g.batch, &g.genesis).expect("input");
        let bytes = input.encode().expect("encode");

        let err = BatchWitnessInput::decode(b"nope").unwrap_err();
        assert!(matches!(err, WitnessInputError::BadMagic { .. }), "{err}");
        let mut v2 = bytes.clone();
        v2[4] = 2;
        let err = BatchWitnessInput::decode(&v2).unwrap_err();
        assert!(
            matches!(err, WitnessInputError::UnsupportedVersion { found: 2 }),
            "{err}"
        );
        let mut trailing = bytes.clone();
        trailing.push(0);
        let err = BatchWitnessInput::decode(&trailing).unwrap_err();
        assert!(err.to_string().contains("left over"), "{err}");

        let mut pre_state = input.pre_state.clone();
        pre_state[0].balance += 1;
        let wrong = BatchWitnessInput::unchecked(&g.batch, pre_state).expect("input");
        let err = wrong.prepare().unwrap_err();
        assert!(
            matches!(err, WitnessInputError::PreStateMismatch { .. }),
            "{err}"
        );
        let state = {
            let mut genesis = g.genesis.clone();
            genesis.accounts.pop();
            genesis.to_memory_state().expect("state")
        };
        let err = BatchWitnessInput::from_state(&g.batch, &state).unwrap_err();
        assert!(
            matches!(err, WitnessInputError::PreStateMismatch { .. }),
            "{err}"
        );
    }
}
