//! Nothing unverified is trusted: a submitted proof is verified under its job's circuit and its
//! public inputs are compared with the ones an honest proof of the job carries, before it is
//! stored or completes the job. Both steps are the circuits crate's, the same verification the
//! circuit prover runs on its own proofs (`BatchCircuits::verify_job_proof`,
//! `BatchCircuits::job_public_inputs`).

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::Instant;

use tokio::sync::Semaphore;
use zkfleet_circuits::recursion::BatchCircuits;
use zkfleet_store::{CircuitWitnessBytes, ObjectKey, Store};
use zkfleet_types::{AggregationRound, CircuitId};

use crate::error::ApiError;

/// Expected public inputs kept per job (a prover that sends many proofs for one job costs one
/// witness generation); beyond this the cache starts over.
const EXPECTED_CACHE: usize = 4096;

/// Why a proof is refused (the code is what the ledger and metrics record).
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Refusal {
    pub(crate) code: &'static str,
    pub(crate) detail: String,
}

/// The job a proof claims to be for.
#[derive(Debug, Clone)]
pub(crate) struct JobToCheck {
    pub(crate) job_id: i64,
    pub(crate) round: AggregationRound,
    pub(crate) circuit: CircuitId,
    pub(crate) circuit_blob_key: String,
}

#[derive(Clone)]
pub(crate) struct ProofChecker {
    circuits: Arc<BatchCircuits>,
    store: Store,
    expected: Arc<Mutex<HashMap<i64, Arc<Vec<u64>>>>>,
    permits: Arc<Semaphore>,
}

impl ProofChecker {
    pub(crate) fn new(circuits: Arc<BatchCircuits>, store: Store, concurrency: usize) -> Self {
        Self {
            circuits,
            store,
            expected: Arc::new(Mutex::new(HashMap::new())),
            permits: Arc::new(Semaphore::new(concurrency.max(1))),
        }
    }

    /// The job's stored witness (what a lease hands out as input).
    pub(crate) async fn load_input(&self, job: &JobToCheck) -> Result<Vec<u8>, ApiError> {
        let key = ObjectKey::parse(&job.circuit_blob_key)
            .map_err(|e| ApiError::internal("reading the job's circuit key", format!("{e}")))?;
        // The row's key must name this job's circuit: a key pointing elsewhere would hand out
        // (and check proofs against) another statement.
        match key {
            ObjectKey::CircuitWitness { round, circuit, .. }
                if round == job.round && circuit == job.circuit => {}
            _ => {
                return Err(ApiError::internal(
                    "checking the job's circuit key",
                    format!(
                        "{} is not a circuit witness of prover job {}",
                        job.circuit_blob_key, job.job_id
                    ),
                ))
            }
        }
        let blob: CircuitWitnessBytes =
            self.store.get(&key).await.map_err(|e| {
                ApiError::internal("loading the job's input from the object store", e)
            })?;
        Ok(blob.into_bytes().to_vec())
    }

    /// `Ok(Ok(()))`: the proof is valid for this job; `Ok(Err(refusal))`: it is not (the
    /// prover's fault); `Err`: checking failed on this side (nothing held against the prover).
    pub(crate) async fn check(
        &self,
        job: &JobToCheck,
        proof: Arc<Vec<u8>>,
    ) -> Result<Result<(), Refusal>, ApiError> {
        let _permit = self
            .permits
            .acquire()
            .await
            .map_err(|e| ApiError::internal("verification", e))?;
        let started = Instant::now();
        let circuits = self.circuits.clone();
        let (round, circuit) = (job.round, job.circuit);
        let submitted = {
            let proof = proof.clone();
            tokio::task::spawn_blocking(move || circuits.verify_job_proof(round, circuit, &proof))
                .await
        };
        crate::metrics::verify_time(round, started.elapsed());
        let submitted = match submitted {
            Ok(Ok(public_inputs)) => public_inputs,
            Ok(Err(e)) => {
                return Ok(Err(Refusal {
                    code: "invalid_proof",
                    detail: format!(
                        "the proof does not verify as a {round} proof of circuit {circuit}: {e}"
                    ),
                }))
            }
            // plonky2 panicking on crafted bytes is the bytes' fault, never a crash.
            Err(e) => {
                return Ok(Err(Refusal {
                    code: "invalid_proof",
                    detail: format!("the proof could not be verified (verifier panicked: {e})"),
                }))
            }
        };
        let expected = self.expected_public_inputs(job).await?;
        if submitted != *expected {
            let first = submitted
                .iter()
                .zip(expected.iter())
                .position(|(a, b)| a != b)
                .unwrap_or(submitted.len().min(expected.len()));
            return Ok(Err(Refusal {
                code: "wrong_public_inputs",
                detail: format!(
                    "the proof verifies but its public inputs are not prover job {}'s: they \
                     differ first at index {first} ({} submitted, {} expected): a proof of \
                     another job",
                    job.job_id,
                    submitted.len(),
                    expected.len()
                ),
            }));
        }
        Ok(Ok(()))
    }

    async fn expected_public_inputs(&self, job: &JobToCheck) -> Result<Arc<Vec<u64>>, ApiError> {
        if let Some(hit) = self.cache().get(&job.job_id) {
            return Ok(hit.clone());
        }
        let witness = self.load_input(job).await?;
        let circuits = self.circuits.clone();
        let (round, circuit) = (job.round, job.circuit);
        let expected = tokio::task::spawn_blocking(move || {
            circuits.job_public_inputs(round, circuit, &witness)
        })
        .await
        .map_err(|e| ApiError::internal("computing the job's public inputs", e))?
        .map_err(|e| ApiError::internal("computing the job's public inputs", e))?;
        let expected = Arc::new(expected);
        let mut cache = self.cache();
        if cache.len() >= EXPECTED_CACHE {
            cache.clear();
        }
        cache.insert(job.job_id, expected.clone());
        Ok(expected)
    }

    fn cache(&self) -> std::sync::MutexGuard<'_, HashMap<i64, Arc<Vec<u64>>>> {
        self.expected.lock().unwrap_or_else(|p| p.into_inner())
    }
}
