//! What every benchmark worker shares: the job database, the object store, the probe, and the
//! run's outcome signals (the compression job is done; a worker failed).

use std::sync::{Arc, Mutex, PoisonError};
use std::time::Instant;

use bytes::Bytes;
use futures::{StreamExt, TryStreamExt};
use tokio::sync::Notify;
use zkfleet_dal::Dal;
use zkfleet_runner::CancellationToken;
use zkfleet_store::{
    AggregationListBytes, AuxOutputBytes, BlobKind, CircuitWitnessBytes, ClosedFormInputsBytes,
    FinalProofBytes, ObjectKey, ProofBytes, SchedulerInputBytes, Store, VerifyingKeyBytes,
    WitnessInputBytes,
};

use crate::error::BenchError;
use crate::placeholder;
use crate::probe::{Op, Probe};

/// Read and write placeholders in parallel when a job moves many blobs (basic witness
/// generation writes every circuit of the batch; a leaf reads up to `arity` proofs).
pub(crate) const BLOB_CONCURRENCY: usize = 16;

/// The handles of one run, cloned into every worker.
#[derive(Clone)]
pub(crate) struct Fleet {
    pub(crate) dal: Dal,
    pub(crate) store: Store,
    pub(crate) probe: Arc<Probe>,
    pub(crate) arity: u32,
    /// Signalled once, when the compression job of the batch is successful.
    pub(crate) done: Arc<Notify>,
    /// Cancelled when a worker fails: the run stops at once instead of waiting for its limit.
    pub(crate) abort: CancellationToken,
    failure: Arc<Mutex<Option<(String, String)>>>,
}

impl Fleet {
    pub(crate) fn new(dal: Dal, store: Store, probe: Arc<Probe>, arity: u32) -> Self {
        Self {
            dal,
            store,
            probe,
            arity,
            done: Arc::new(Notify::new()),
            abort: CancellationToken::new(),
            failure: Arc::new(Mutex::new(None)),
        }
    }

    /// Records the first failure of the run (later ones are consequences) and stops the run.
    pub(crate) fn fail(&self, worker: &str, error: &dyn std::fmt::Display) {
        let mut slot = self.failure.lock().unwrap_or_else(PoisonError::into_inner);
        if slot.is_none() {
            *slot = Some((worker.to_owned(), error.to_string()));
        }
        self.abort.cancel();
    }

    pub(crate) fn failure(&self) -> Option<BenchError> {
        self.failure
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .clone()
            .map(|(worker, reason)| BenchError::WorkerFailed { worker, reason })
    }

    /// Reads the placeholder under `key` and returns its body.
    pub(crate) async fn get(&self, key: &ObjectKey) -> Result<Bytes, BenchError> {
        let began = Instant::now();
        let payload = match key.kind() {
            BlobKind::WitnessInput => self.store.get::<WitnessInputBytes>(key).await?.0,
            BlobKind::CircuitWitness => self.store.get::<CircuitWitnessBytes>(key).await?.0,
            BlobKind::ClosedFormInputs => self.store.get::<ClosedFormInputsBytes>(key).await?.0,
            BlobKind::AggregationList => self.store.get::<AggregationListBytes>(key).await?.0,
            BlobKind::SchedulerInput => self.store.get::<SchedulerInputBytes>(key).await?.0,
            BlobKind::AuxOutput => self.store.get::<AuxOutputBytes>(key).await?.0,
            BlobKind::Proof => self.store.get::<ProofBytes>(key).await?.0,
            BlobKind::FinalProof => self.store.get::<FinalProofBytes>(key).await?.0,
            BlobKind::VerifyingKey => self.store.get::<VerifyingKeyBytes>(key).await?.0,
        };
        self.probe.record(Op::StoreGet, began);
        let body = placeholder::check(key, &payload)?;
        Ok(payload.slice_ref(body))
    }

    /// Reads the placeholder a job row names by path; returns its key and body.
    pub(crate) async fn get_path(&self, path: &str) -> Result<(ObjectKey, Bytes), BenchError> {
        let key = ObjectKey::parse(path)?;
        let body = self.get(&key).await?;
        Ok((key, body))
    }

    /// Writes a placeholder payload (encoded for `key`) as a blob of the key's kind.
    pub(crate) async fn put(&self, key: &ObjectKey, payload: Bytes) -> Result<(), BenchError> {
        let began = Instant::now();
        match key.kind() {
            BlobKind::WitnessInput => {
                self.store
                    .put(key, &WitnessInputBytes::new(payload))
                    .await?
            }
            BlobKind::CircuitWitness => {
                self.store
                    .put(key, &CircuitWitnessBytes::new(payload))
                    .await?
            }
            BlobKind::ClosedFormInputs => {
                self.store
                    .put(key, &ClosedFormInputsBytes::new(payload))
                    .await?
            }
            BlobKind::AggregationList => {
                self.store
                    .put(key, &AggregationListBytes::new(payload))
                    .await?
            }
            BlobKind::SchedulerInput => {
                self.store
                    .put(key, &SchedulerInputBytes::new(payload))
                    .await?
            }
            BlobKind::AuxOutput => self.store.put(key, &AuxOutputBytes::new(payload)).await?,
            BlobKind::Proof => self.store.put(key, &ProofBytes::new(payload)).await?,
            BlobKind::FinalProof => self.store.put(key, &FinalProofBytes::new(payload)).await?,
            BlobKind::VerifyingKey => {
                self.store
                    .put(key, &VerifyingKeyBytes::new(payload))
                    .await?
            }
        };
        self.probe.record(Op::StorePut, began);
        Ok(())
    }

    /// Writes blobs [`BLOB_CONCURRENCY`] at a time.
    pub(crate) async fn put_all(&self, blobs: Vec<(ObjectKey, Bytes)>) -> Result<(), BenchError> {
        futures::stream::iter(blobs)
            .map(|(key, payload)| async move { self.put(&key, payload).await })
            .buffer_unordered(BLOB_CONCURRENCY)
            .try_collect::<Vec<()>>()
            .await?;
        Ok(())
    }

    /// Reads the placeholders under `paths`, [`BLOB_CONCURRENCY`] at a time; their bodies in
    /// the order of `paths`.
    pub(crate) async fn get_all(&self, paths: Vec<String>) -> Result<Vec<Bytes>, BenchError> {
        futures::stream::iter(paths)
            .map(|path| async move { self.get_path(&path).await.map(|(_, body)| body) })
            .buffered(BLOB_CONCURRENCY)
            .try_collect()
            .await
    }
}
