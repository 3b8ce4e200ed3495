//! Picks the next basic witness job and loads its witness input from the store.

use std::time::Instant;

use bytes::Bytes;
use tracing::{info, warn};
use zkfleet_dal::{Dal, DalError, JobRef};
use zkfleet_runner::traits::{JobPicker, Picked};
use zkfleet_store::{BlobKind, ObjectKey, Store, WitnessInputBytes};
use zkfleet_types::{FailureKind, ProtocolSemanticVersion};

use super::{BasicJobMeta, ROUND};
use crate::metrics::{self, JobOutcome};

/// Picks basic witness jobs of one protocol version.
pub struct BasicPicker {
    dal: Dal,
    store: Store,
    version: ProtocolSemanticVersion,
    picked_by: String,
}

impl BasicPicker {
    pub fn new(
        dal: Dal,
        store: Store,
        version: ProtocolSemanticVersion,
        picked_by: String,
    ) -> Self {
        Self {
            dal,
            store,
            version,
            picked_by,
        }
    }

    /// The witness input's bytes, or why they cannot be had and whether a retry can help.
    async fn load(&self, blob_key: &str) -> Result<Bytes, (FailureKind, String)> {
        let key = match ObjectKey::parse(blob_key) {
            Ok(key) if key.kind() == BlobKind::WitnessInput => key,
            Ok(other) => {
                return Err((
                    FailureKind::Permanent,
                    format!(
                        "witness input blob key {blob_key} names a {} blob, not a witness input",
                        other.kind().name()
                    ),
                ))
            }
            Err(e) => {
                return Err((
                    FailureKind::Permanent,
                    format!("witness input blob key {blob_key}: {e}"),
                ))
            }
        };
        self.store
            .get::<WitnessInputBytes>(&key)
            .await
            .map(WitnessInputBytes::into_bytes)
            .map_err(|e| (e.failure_kind(), format!("loading the witness input: {e}")))
    }
}

impl JobPicker for BasicPicker {
    type Input = Bytes;
    type Metadata = BasicJobMeta;
    type Error = DalError;

    /// A job whose input cannot be loaded is marked failed with the reason at once and the
    /// next job is picked: the runner never holds a job it cannot run. A missing or corrupt
    /// input ends the job (`failed_permanently`); the store down after its retries is retried
    /// while attempts last.
    async fn pick(&mut self) -> Picked<Self> {
        loop {
            let Some(job) = self
                .dal
                .pick_basic_witness_job(self.version, &self.picked_by)
                .await?
            else {
                return Ok(None);
            };
            let meta = BasicJobMeta {
                batch: job.meta.batch,
                attempts: job.meta.attempts,
                picked_at: Instant::now(),
            };
            match self.load(&job.witness_input_blob_key).await {
                Ok(bytes) => {
                    info!(batch = %meta.batch, attempts = meta.attempts, size = bytes.len(), "picked basic witness job");
                    return Ok(Some((bytes, meta)));
                }
                Err((kind, reason)) => {
                    warn!(batch = %meta.batch, failure = %kind, %reason, "basic witness job failed before execution");
                    self.dal
                        .record_failure(JobRef::WitnessInput(meta.batch), kind, &reason)
                        .await?;
                    metrics::job_finished(ROUND, JobOutcome::Failed);
                }
            }
        }
    }
}
