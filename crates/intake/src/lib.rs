//! Intake: the one way a batch enters the fleet. The gateway (push and pull mode),
//! `zkfleet insert-batch` and `zkfleet prove` all call [`submit`], so they accept and refuse
//! exactly the same things and arbitrate through the same row.
//!
//! What a submission goes through, in order:
//!
//! 1. **Check** ([`check_witness_input`], CPU only, nothing written): the bytes decode as a
//!    witness input (`ZKWI`, batch + pre-state), the pre-state's root is the batch's previous
//!    state root, the batch is the one the submitter named (chain and number), it has
//!    operations, and it executes natively against its pre-state — every signature, nonce and
//!    balance rule the circuits will check. A batch the fleet could never prove is refused
//!    here, with the reason, instead of failing in the witness generator.
//! 2. **Arbitrate** in the job database: the `witness_inputs` row of a batch carries the
//!    SHA-256 of its input. If the row exists, the submission is compared with it and nothing
//!    is written: same digest and version is "already known", anything else a conflict.
//! 3. **Store** the input under a content-addressed key
//!    (`witness_inputs/{chain}/{batch}/{sha256}.bin`): two different inputs never share a key,
//!    so no submission can overwrite another's blob, whoever wins.
//! 4. **Insert** the row (`Dal::submit_batch`, `ON CONFLICT DO NOTHING`). Exactly one of any
//!    number of concurrent inserts wins, in any number of processes; every loser reads the
//!    winner's digest and answers as in step 2. The row goes after the blob because the row
//!    makes the batch visible to witness generators: a crash in between leaves an
//!    unreferenced blob that a retry rewrites (same content, same key), never a row without
//!    its input. A loser's blob (only in a true race: a known batch is answered before
//!    anything is written) stays unreferenced under the batch's prefix
//!    `witness_inputs/{chain}/{batch}/`. It is not deleted: a concurrent submission of the same
//!    content could be about to reference it, and telling the two apart needs the database.

// The unit tests link the dev-dependencies the integration tests use.
#![cfg_attr(test, allow(unused_crate_dependencies))]

use std::fmt;

use chrono::{DateTime, Utc};
use tracing::{info, warn};
use zkfleet_dal::{Dal, DalError, NewBatch, SubmitOutcome, SubmittedBatch};
use zkfleet_rollup::execute::{execute_batch, ExecutionError};
use zkfleet_rollup::witness_input::{BatchWitnessInput, PreparedBatch, WitnessInputError};
use zkfleet_store::codec::{self, BlobKind};
use zkfleet_store::{ContentDigest, ObjectKey, Store, StoreError, WitnessInputBytes};
use zkfleet_types::{JobStatus, L1BatchId, ProtocolSemanticVersion, ProtocolVersion};

/// Why a witness input can never be proven as the batch it was submitted for. Every variant is
/// the submitter's to fix (HTTP 422 at the gateway).
#[derive(Debug, thiserror::Error)]
pub enum InputError {
    /// No bytes at all.
    #[error("witness_input is empty")]
    Empty,
    /// The bytes do not decode as a witness input, or its pre-state's root is not the batch's
    /// previous state root.
    #[error("witness_input is not a valid witness input: {0}")]
    Malformed(#[source] WitnessInputError),
    /// The input is a valid witness input of another batch than the one named.
    #[error("witness_input holds {found}, not {submitted}")]
    WrongBatch {
        /// The batch the submitter named.
        submitted: L1BatchId,
        /// The batch the input holds.
        found: L1BatchId,
    },
    /// The batch has no operations: there is no circuit to prove.
    #[error("{0} has no operations: there is nothing to prove")]
    NoOperations(L1BatchId),
    /// Native execution rejected the batch: a rule the circuits would refuse too.
    #[error("{batch} is invalid: {source}")]
    Invalid {
        /// The batch.
        batch: L1BatchId,
        /// The executor's error, naming the operation and the broken rule.
        #[source]
        source: ExecutionError,
    },
}

/// A witness input that passed every check of [`check_witness_input`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CheckedInput {
    /// The batch the input holds (the one the submitter named).
    pub batch: L1BatchId,
    /// How many operations the batch has (for logs).
    pub operations: usize,
    /// SHA-256 of the input's bytes: its key in the store and its identity in the database.
    pub digest: ContentDigest,
}

/// Decodes `bytes` as the witness input of `expected` and executes it natively (step 1 of the
/// module documentation). CPU-bound (signature checks): call it off the async runtime for
/// large inputs, as [`submit`] does.
pub fn check_witness_input(expected: L1BatchId, bytes: &[u8]) -> Result<CheckedInput, InputError> {
    if bytes.is_empty() {
        return Err(InputError::Empty);
    }
    let decoded = BatchWitnessInput::decode(bytes).map_err(InputError::Malformed)?;
    let PreparedBatch { batch, mut state } = decoded.prepare().map_err(InputError::Malformed)?;
    let found = batch.id();
    if found != expected {
        return Err(InputError::WrongBatch {
            submitted: expected,
            found,
        });
    }
    if batch.operations.is_empty() {
        return Err(InputError::NoOperations(found));
    }
    // The same execution the basic witness generator runs first: what it would refuse after
    // the job was queued is refused here, before anything is written.
    execute_batch(&mut state, &batch).map_err(|source| InputError::Invalid {
        batch: found,
        source,
    })?;
    Ok(CheckedInput {
        batch: found,
        operations: batch.operations.len(),
        digest: ContentDigest::of(bytes),
    })
}

/// A file holding a witness input may be the raw input (`ZKWI…`, as producers write it) or the
/// blob as the store keeps it (the envelope `ZKFL…` around the raw input, e.g. copied out of a
/// bucket): returns the raw input either way. An envelope of another kind, or a damaged one,
/// is an error naming what it holds.
pub fn unwrap_stored_input(bytes: &[u8]) -> Result<&[u8], codec::DecodeError> {
    if bytes.starts_with(&codec::MAGIC) {
        return codec::decode(bytes, BlobKind::WitnessInput).map(|envelope| envelope.payload);
    }
    Ok(bytes)
}

/// A batch handed to the fleet.
#[derive(Debug, Clone, Copy)]
pub struct Submission<'a> {
    /// The batch the submitter names (checked against the input's own label).
    pub batch: L1BatchId,
    /// The protocol version to prove it under; must already be in the database (or be
    /// registered by [`submit_checked`]).
    pub protocol_version: ProtocolSemanticVersion,
    /// The raw witness input (`ZKWI…`).
    pub witness_input: &'a [u8],
    /// Higher is picked first, in every round of the batch.
    pub priority: i32,
    /// When the batch was sealed: older batches are proven first.
    pub batch_sealed_at: DateTime<Utc>,
}

/// What happened to an accepted submission.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Accepted {
    /// This submission won: its input is stored and the batch is queued.
    Inserted {
        /// The checked input.
        input: CheckedInput,
        /// Where the input is stored.
        key: ObjectKey,
    },
    /// The batch was already in the fleet with this very input and version: nothing changed.
    AlreadyKnown {
        /// The checked input (the same as the stored one).
        input: CheckedInput,
        /// The state of the batch's basic witness job.
        status: JobStatus,
    },
}

impl Accepted {
    /// Whether this submission queued the batch (the gateway's `newly_inserted`).
    pub fn newly_inserted(&self) -> bool {
        matches!(self, Self::Inserted { .. })
    }

    /// The checked input, whichever way the submission was accepted.
    pub fn input(&self) -> &CheckedInput {
        match self {
            Self::Inserted { input, .. } | Self::AlreadyKnown { input, .. } => input,
        }
    }
}

/// Why a submission was not accepted.
#[derive(Debug, thiserror::Error)]
pub enum IntakeError {
    /// The input can never be proven as this batch.
    #[error(transparent)]
    Input(#[from] InputError),
    /// The batch is already in the fleet with another input (another digest): the first
    /// submission stands.
    #[error("{batch} was already submitted with a different witness_input")]
    ConflictingInput {
        /// The batch.
        batch: L1BatchId,
    },
    /// The batch is already in the fleet under another protocol version.
    #[error("{batch} was already submitted under protocol version {stored}, not {given}")]
    ConflictingVersion {
        /// The batch.
        batch: L1BatchId,
        /// The version its row carries.
        stored: ProtocolSemanticVersion,
        /// The version this submission named.
        given: ProtocolSemanticVersion,
    },
    /// The submission names a protocol version the database does not know.
    #[error("unknown protocol version {0}: insert it first (`zkfleet insert-version`)")]
    UnknownProtocolVersion(ProtocolSemanticVersion),
    /// The row of a known batch names a blob that is not a witness input key.
    #[error("{batch}: its row names {key:?}, which is not a witness input key")]
    BadRowKey {
        /// The batch.
        batch: L1BatchId,
        /// The blob key its row holds.
        key: String,
    },
    /// The database knows the version to register with other digests: an operator error (the
    /// fleet's configuration), not the submitter's.
    #[error("this fleet's keys disagree with the job database: {0}")]
    FleetVersionConflict(#[source] DalError),
    /// The job database failed.
    #[error("job database: {0}")]
    Dal(#[source] DalError),
    /// The object store failed.
    #[error("object store: {0}")]
    Store(#[from] StoreError),
    /// The blocking task that checks the input panicked or was cancelled.
    #[error("checking the input: {0}")]
    Join(String),
}

impl IntakeError {
    /// What kind of refusal this is, for HTTP statuses and exit codes.
    pub fn kind(&self) -> IntakeErrorKind {
        match self {
            Self::Input(_) => IntakeErrorKind::Unprocessable,
            Self::ConflictingInput { .. } | Self::ConflictingVersion { .. } => {
                IntakeErrorKind::Conflict
            }
            Self::UnknownProtocolVersion(_) => IntakeErrorKind::Unprocessable,
            Self::BadRowKey { .. }
            | Self::FleetVersionConflict(_)
            | Self::Dal(_)
            | Self::Store(_)
            | Self::Join(_) => IntakeErrorKind::Internal,
        }
    }
}

impl From<DalError> for IntakeError {
    fn from(e: DalError) -> Self {
        match e {
            DalError::UnknownProtocolVersion(v) => Self::UnknownProtocolVersion(v),
            e => Self::Dal(e),
        }
    }
}

/// The three answers a refusal maps to.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum IntakeErrorKind {
    /// The submission itself is wrong (422).
    Unprocessable,
    /// Another submission of the batch won (409).
    Conflict,
    /// The fleet failed (500): retry later.
    Internal,
}

impl fmt::Display for IntakeErrorKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Self::Unprocessable => "unprocessable",
            Self::Conflict => "conflict",
            Self::Internal => "internal",
        })
    }
}

/// Checks, arbitrates, stores and inserts one batch (see the module documentation). The
/// protocol version must already be in the database (`insert-version`, or the gateway's own
/// registration at start of a submission).
pub async fn submit(
    dal: &Dal,
    store: &Store,
    submission: Submission<'_>,
) -> Result<Accepted, IntakeError> {
    let input = check(&submission).await?;
    submit_checked(dal, store, submission, input, None).await
}

/// Step 1 on a blocking thread (native execution verifies every signature).
pub async fn check(submission: &Submission<'_>) -> Result<CheckedInput, IntakeError> {
    let batch = submission.batch;
    let bytes = submission.witness_input.to_vec();
    let checked = tokio::task::spawn_blocking(move || check_witness_input(batch, &bytes))
        .await
        .map_err(|e| IntakeError::Join(e.to_string()))??;
    Ok(checked)
}

/// Steps 2 to 4 for an input [`check`] accepted. With `register`, the protocol version is
/// inserted (a no-op when present) once the batch is known to be new, before its row: what the
/// gateway does, so that a refused or repeated submission writes nothing at all.
pub async fn submit_checked(
    dal: &Dal,
    store: &Store,
    submission: Submission<'_>,
    input: CheckedInput,
    register: Option<&ProtocolVersion>,
) -> Result<Accepted, IntakeError> {
    let batch = submission.batch;
    debug_assert_eq!(input.digest, ContentDigest::of(submission.witness_input));
    let digest_hex = input.digest.to_hex();

    // Known already: answer from the row, write nothing.
    if let Some(row) = dal.submitted_batch(batch).await? {
        return compare(store, &submission, input, &row).await;
    }
    if let Some(version) = register {
        match dal.insert_protocol_version(version).await {
            Ok(_) => {}
            Err(e @ DalError::ProtocolVersionConflict(_)) => {
                return Err(IntakeError::FleetVersionConflict(e))
            }
            Err(e) => return Err(e.into()),
        }
    }

    let key = ObjectKey::WitnessInputContent {
        chain: batch.chain_id,
        batch: batch.batch_number,
        digest: input.digest,
    };
    store
        .put(
            &key,
            &WitnessInputBytes::new(submission.witness_input.to_vec()),
        )
        .await?;
    let outcome = dal
        .submit_batch(
            &NewBatch {
                batch,
                protocol_version: submission.protocol_version,
                witness_input_blob_key: key.path(),
                priority: submission.priority,
                batch_sealed_at: submission.batch_sealed_at,
            },
            &digest_hex,
        )
        .await?;
    match outcome {
        SubmitOutcome::Inserted => {
            info!(
                %batch,
                protocol_version = %submission.protocol_version,
                operations = input.operations,
                witness_input_bytes = submission.witness_input.len(),
                digest = %input.digest,
                "batch queued for proving"
            );
            Ok(Accepted::Inserted { input, key })
        }
        // Another submission inserted the batch between our read and our insert (another
        // gateway, a CLI): its row won. Our blob, if its content differs, is unreferenced.
        SubmitOutcome::Present(row) => compare(store, &submission, input, &row).await,
    }
}

/// A submission of a batch whose row exists: the same one, or a conflict.
async fn compare(
    store: &Store,
    submission: &Submission<'_>,
    input: CheckedInput,
    row: &SubmittedBatch,
) -> Result<Accepted, IntakeError> {
    let batch = submission.batch;
    if row.protocol_version != submission.protocol_version {
        return Err(IntakeError::ConflictingVersion {
            batch,
            stored: row.protocol_version,
            given: submission.protocol_version,
        });
    }
    let key = ObjectKey::parse(&row.witness_input_blob_key)
        .ok()
        .filter(|k| k.kind() == BlobKind::WitnessInput)
        .ok_or_else(|| IntakeError::BadRowKey {
            batch,
            key: row.witness_input_blob_key.clone(),
        })?;
    let same = match &row.witness_input_digest {
        Some(digest) => *digest == input.digest.to_hex(),
        // A row inserted without a digest (before intake recorded one, or by a test helper):
        // compare with its blob.
        None => match store.get::<WitnessInputBytes>(&key).await {
            Ok(stored) => stored.0.as_ref() == submission.witness_input,
            Err(StoreError::NotFound { .. }) => {
                return restore_lost_blob(store, submission, input, row, key).await
            }
            Err(e) => return Err(e.into()),
        },
    };
    if !same {
        return Err(IntakeError::ConflictingInput { batch });
    }
    // Same input: make sure the row's blob still exists (a wiped bucket), and put it back if
    // not — this submission is the only copy the fleet will get.
    if !store.exists(&key).await? {
        return restore_lost_blob(store, submission, input, row, key).await;
    }
    Ok(Accepted::AlreadyKnown {
        input,
        status: row.status,
    })
}

/// The row of a known batch outlived its blob (lost bucket, manual cleanup). The submission
/// is stored under the row's key when it is provably the row's input: its digest matches the
/// row's, or the row has none (legacy rows, which named the batch's fixed key).
async fn restore_lost_blob(
    store: &Store,
    submission: &Submission<'_>,
    input: CheckedInput,
    row: &SubmittedBatch,
    key: ObjectKey,
) -> Result<Accepted, IntakeError> {
    let batch = submission.batch;
    let provable = match &row.witness_input_digest {
        Some(digest) => *digest == input.digest.to_hex(),
        None => true,
    };
    if !provable {
        return Err(IntakeError::ConflictingInput { batch });
    }
    warn!(%batch, key = %key, "witness input blob missing for a known batch; storing the resubmitted input");
    store
        .put(
            &key,
            &WitnessInputBytes::new(submission.witness_input.to_vec()),
        )
        .await?;
    Ok(Accepted::AlreadyKnown {
        input,
        status: row.status,
    })
}
