//! The sequencer as the HTTP handlers and background loops share it: the [`Chain`] behind a
//! lock, the proof verifier, counters, and which batches were handed out when.
//!
//! Acceptance of a final proof, in order (each step refuses with a [`Refusal`] and changes
//! nothing):
//! 1. the batch was produced here, and the proof is for it and for our protocol version;
//! 2. the proof verifies under the final verifying key (cryptographically, off the async
//!    threads: it takes tens of milliseconds);
//! 3. the output it attests is the output sent beside it, and exactly the output this
//!    sequencer computed when it executed the batch;
//! 4. it is the next batch to prove (a batch already proven is answered as success, nothing
//!    changes); only then the proven state root moves.

use std::collections::HashMap;
use std::path::PathBuf;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex as StdMutex};
use std::time::{Duration, Instant};

use chrono::Utc;
use serde::{Deserialize, Serialize};
use tokio::sync::Mutex;
use tracing::warn;
use zkfleet_types::api::{Base64Bytes, FinalProof, L1VerifierConfig, ProofGenerationData};
use zkfleet_types::{BatchNumber, BatchPublicOutput, ChainId, HashDigest, L1BatchId, VkDigest};

use crate::chain::{AcceptError, Acceptance, Chain};
use crate::config::{ChainParameters, SequencerConfig, SequencerMode};
use crate::error::{Refusal, SequencerError, SubmitError};
use crate::ledger::BatchRecord;
use crate::metrics;
use crate::verifier::ProofVerifier;

/// What `GET /status` answers.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct SequencerStatus {
    /// The chain.
    pub chain_id: ChainId,
    /// How proofs reach this sequencer (pull or push).
    pub mode: SequencerMode,
    /// The last batch produced (0: none).
    pub latest_produced_batch: u32,
    /// The last batch whose final proof was verified and accepted (0: none).
    pub latest_proven_batch: u32,
    /// The state root the latest proven batch ends at (the genesis root before any).
    pub proven_state_root: HashDigest,
    /// The state root after the latest produced batch.
    pub head_state_root: HashDigest,
    /// The state root of the chain's genesis.
    pub genesis_state_root: HashDigest,
    /// Produced, not yet proven.
    pub pending_batches: u32,
    /// Final proofs accepted since this process started.
    pub proofs_accepted: u64,
    /// Final proofs refused since this process started.
    pub proofs_refused: u64,
    /// The reason of the last refusal, if any.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub last_refusal: Option<String>,
}

/// The running sequencer. Cheap to share (`Arc`).
pub struct Sequencer {
    chain: Arc<Mutex<Chain>>,
    verifier: Arc<dyn ProofVerifier>,
    params: ChainParameters,
    config: SequencerConfig,
    accepted: AtomicU64,
    refused: AtomicU64,
    last_refusal: StdMutex<Option<String>>,
    /// Pull mode: when each batch was last handed to a gateway.
    handed_out: StdMutex<HashMap<u32, Instant>>,
}

impl std::fmt::Debug for Sequencer {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Sequencer")
            .field("params", &self.params)
            .finish()
    }
}

impl Sequencer {
    /// Opens (or creates) the chain in `data_dir` and checks the configuration.
    pub fn open(
        data_dir: PathBuf,
        config: SequencerConfig,
        params: ChainParameters,
        verifier: Arc<dyn ProofVerifier>,
    ) -> Result<Self, SequencerError> {
        config.validate()?;
        let chain = Chain::open(&data_dir, &params, config.seed, config.accounts)?;
        metrics::register(chain.head().latest_produced, chain.head().latest_proven);
        Ok(Self {
            chain: Arc::new(Mutex::new(chain)),
            verifier,
            params,
            config,
            accepted: AtomicU64::new(0),
            refused: AtomicU64::new(0),
            last_refusal: StdMutex::new(None),
            handed_out: StdMutex::new(HashMap::new()),
        })
    }

    /// The configuration it runs with.
    pub fn config(&self) -> &SequencerConfig {
        &self.config
    }

    /// What it shares with the fleet (chain, protocol version, tree height, key digest).
    pub fn params(&self) -> &ChainParameters {
        &self.params
    }

    /// Produces the next batch unless the backpressure or `max_batches` limit holds.
    pub async fn produce_if_due(&self) -> Result<Option<BatchRecord>, SequencerError> {
        let mut chain = self.chain.clone().lock_owned().await;
        let head = chain.head();
        if chain.pending() >= self.config.max_pending_batches
            || self
                .config
                .max_batches
                .is_some_and(|max| head.latest_produced >= max)
        {
            return Ok(None);
        }
        let operations = self.config.operations_per_batch;
        // Signing and hashing take real CPU time (XMSS key generation per signature).
        let (chain, record) = tokio::task::spawn_blocking(move || {
            let record = chain.produce(operations, Utc::now());
            (chain, record)
        })
        .await
        .map_err(|e| SequencerError::Task(e.to_string()))?;
        let record = record?;
        ::metrics::counter!(metrics::BATCHES_PRODUCED).increment(1);
        metrics::record_heads(chain.head().latest_produced, chain.head().latest_proven);
        Ok(Some(record))
    }

    /// The batch as the fleet receives it.
    pub async fn proof_generation_data(
        &self,
        number: u32,
    ) -> Result<Option<ProofGenerationData>, SequencerError> {
        let chain = self.chain.lock().await;
        let Some(record) = chain.record(number)? else {
            return Ok(None);
        };
        let input = chain.witness_input(number)?;
        Ok(Some(ProofGenerationData {
            l1_batch_id: L1BatchId::new(self.params.chain_id, record.number),
            batch_sealed_at: record.sealed_at,
            protocol_version: self.params.protocol_version,
            l1_verifier_config: self.verifier_config(),
            witness_input: Base64Bytes(input),
        }))
    }

    /// What the fleet must prove batches under.
    pub fn verifier_config(&self) -> L1VerifierConfig {
        L1VerifierConfig {
            final_vk_digest: self.verifier.key_digest(),
            recursion_tree_vk_digest: self.params.recursion_tree_vk_digest,
        }
    }

    /// Pull mode: the oldest unproven batch not handed out within `handout_retry`, marked as
    /// handed out now. `None` when there is nothing to hand out, which ends a gateway's poll.
    pub async fn next_for_prover(&self) -> Result<Option<ProofGenerationData>, SequencerError> {
        let (proven, produced) = {
            let chain = self.chain.lock().await;
            (chain.head().latest_proven, chain.head().latest_produced)
        };
        let now = Instant::now();
        let number = {
            let mut handed = lock(&self.handed_out);
            handed.retain(|&n, _| n > proven);
            let number = (proven + 1..=produced).find(|n| {
                handed
                    .get(n)
                    .is_none_or(|at| now.duration_since(*at) >= self.config.handout_retry)
            });
            if let Some(n) = number {
                handed.insert(n, now);
            }
            number
        };
        match number {
            Some(n) => self.proof_generation_data(n).await,
            None => Ok(None),
        }
    }

    /// Batches produced and not yet proven, oldest first.
    pub async fn unproven(&self) -> Vec<u32> {
        let chain = self.chain.lock().await;
        (chain.head().latest_proven + 1..=chain.head().latest_produced).collect()
    }

    /// The next batch to prove, if it is produced.
    pub async fn next_to_prove(&self) -> Option<u32> {
        let chain = self.chain.lock().await;
        let next = chain.head().latest_proven + 1;
        (next <= chain.head().latest_produced).then_some(next)
    }

    /// Checks and accepts a final proof submitted for batch `number` (see the module doc).
    /// Counts and logs every refusal.
    pub async fn submit_proof(
        &self,
        number: u32,
        proof: &FinalProof,
    ) -> Result<Acceptance, SubmitError> {
        let result = self.check_and_accept(number, proof).await;
        match &result {
            Ok(Acceptance::Accepted) => {
                self.accepted.fetch_add(1, Ordering::Relaxed);
                ::metrics::counter!(metrics::PROOFS_ACCEPTED).increment(1);
            }
            Ok(Acceptance::AlreadyProven) => {}
            Err(SubmitError::Refused(refusal)) => self.count_refusal(number, refusal),
            Err(SubmitError::Internal(e)) => {
                warn!(batch = number, error = %e, "final proof not processed");
            }
        }
        result
    }

    /// Counts, remembers and logs a refused proof.
    pub fn count_refusal(&self, number: u32, refusal: &Refusal) {
        self.refused.fetch_add(1, Ordering::Relaxed);
        ::metrics::counter!(metrics::PROOFS_REFUSED, "reason" => refusal.reason()).increment(1);
        *lock(&self.last_refusal) = Some(refusal.to_string());
        warn!(batch = number, reason = refusal.reason(), error = %refusal, "final proof refused");
    }

    async fn check_and_accept(
        &self,
        number: u32,
        proof: &FinalProof,
    ) -> Result<Acceptance, SubmitError> {
        let expected = {
            let chain = self.chain.lock().await;
            let latest = chain.head().latest_produced;
            chain
                .record(number)?
                .ok_or(Refusal::UnknownBatch { number, latest })?
                .expected_output
        };
        if proof.public_output.batch_number != BatchNumber(number) {
            return Err(Refusal::BatchMismatch {
                path: number,
                proof: proof.public_output.batch_number,
            }
            .into());
        }
        if proof.protocol_version != self.params.protocol_version {
            return Err(Refusal::WrongProtocolVersion {
                got: proof.protocol_version,
                expected: self.params.protocol_version,
            }
            .into());
        }
        let attested = self.verify(number, proof.proof.clone()).await?;
        if attested != proof.public_output {
            return Err(Refusal::ClaimMismatch {
                number,
                differences: differences(&proof.public_output, &attested, "sent", "attested"),
            }
            .into());
        }
        if attested != expected {
            return Err(Refusal::WrongOutput {
                number,
                differences: differences(&attested, &expected, "proof", "expected"),
            }
            .into());
        }
        let mut chain = self.chain.lock().await;
        let outcome = chain.accept(number, &attested).map_err(|e| match e {
            AcceptError::Refused(r) => SubmitError::Refused(r),
            AcceptError::Internal(e) => SubmitError::Internal(e),
        })?;
        metrics::record_heads(chain.head().latest_produced, chain.head().latest_proven);
        Ok(outcome)
    }

    /// Runs the verifier on the blocking pool: CPU-bound, and a panic on hostile bytes (should
    /// plonky2 have one) ends that task only, reported as a refusal.
    async fn verify(
        &self,
        number: u32,
        proof: Base64Bytes,
    ) -> Result<BatchPublicOutput, SubmitError> {
        let verifier = self.verifier.clone();
        match tokio::task::spawn_blocking(move || verifier.verify(&proof.0)).await {
            Ok(Ok(output)) => Ok(output),
            Ok(Err(e)) => Err(Refusal::InvalidProof {
                number,
                reason: e.to_string(),
            }
            .into()),
            Err(e) if e.is_panic() => Err(Refusal::InvalidProof {
                number,
                reason: "the verifier panicked on these bytes".into(),
            }
            .into()),
            Err(e) => Err(SequencerError::Task(e.to_string()).into()),
        }
    }

    /// What `GET /status` answers, read now.
    pub async fn status(&self) -> Result<SequencerStatus, SequencerError> {
        let chain = self.chain.lock().await;
        let head = chain.head();
        Ok(SequencerStatus {
            chain_id: self.params.chain_id,
            mode: self.config.mode,
            latest_produced_batch: head.latest_produced,
            latest_proven_batch: head.latest_proven,
            proven_state_root: head.proven_state_root,
            head_state_root: chain.state_root()?,
            genesis_state_root: head.genesis_root,
            pending_batches: chain.pending(),
            proofs_accepted: self.accepted.load(Ordering::Relaxed),
            proofs_refused: self.refused.load(Ordering::Relaxed),
            last_refusal: lock(&self.last_refusal).clone(),
        })
    }

    /// The final verifying key digest this sequencer checks proofs with.
    pub fn final_vk_digest(&self) -> VkDigest {
        self.verifier.key_digest()
    }

    /// How long to wait before trying to produce again.
    pub fn batch_interval(&self) -> Duration {
        self.config.batch_interval
    }
}

/// A poisoned lock only means a panic elsewhere between two complete updates of plain data;
/// the value is whole, so keep going rather than propagate the panic.
fn lock<T>(mutex: &StdMutex<T>) -> std::sync::MutexGuard<'_, T> {
    mutex
        .lock()
        .unwrap_or_else(std::sync::PoisonError::into_inner)
}

/// The fields in which two outputs differ, `name: a_label A, b_label B; …`.
fn differences(
    a: &BatchPublicOutput,
    b: &BatchPublicOutput,
    a_label: &str,
    b_label: &str,
) -> String {
    let (Ok(serde_json::Value::Object(a)), Ok(serde_json::Value::Object(b))) =
        (serde_json::to_value(a), serde_json::to_value(b))
    else {
        return format!("{a_label} {a:?}, {b_label} {b:?}");
    };
    let diffs: Vec<String> = a
        .iter()
        .filter(|(name, value)| b.get(*name) != Some(value))
        .map(|(name, value)| {
            let other = b.get(name).map(ToString::to_string).unwrap_or_default();
            format!("{name}: {a_label} {value}, {b_label} {other}")
        })
        .collect();
    diffs.join("; ")
}
