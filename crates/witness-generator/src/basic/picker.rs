//! Picks the next basic witness job and loads its witness input from the store.

use std::time::Instant;

use bytes::Bytes;
use tracing::info;
use zkfleet_dal::{Dal, DalError};
use zkfleet_runner::traits::{JobPicker, LoadedInput, Picked};
use zkfleet_store::{BlobKind, ObjectKey, Store, WitnessInputBytes};
use zkfleet_types::{L1BatchId, ProtocolSemanticVersion};

use super::{BasicJobMeta, BasicWitnessError};

/// Picks basic witness jobs of one protocol version.
pub struct BasicPicker {
    dal: Dal,
    store: Store,
    version: ProtocolSemanticVersion,
    picked_by: String,
}

impl BasicPicker {
    /// A picker of `version`'s basic witness jobs, recording `picked_by` on each, reading the
    /// witness inputs from `store`.
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

    /// The witness input's bytes, or why they cannot be had.
    async fn load(
        &self,
        batch: L1BatchId,
        blob_key: &str,
    ) -> LoadedInput<Bytes, BasicWitnessError> {
        let key = match ObjectKey::parse(blob_key) {
            Ok(key) if key.kind() == BlobKind::WitnessInput => key,
            Ok(other) => {
                return Err(BasicWitnessError::InputKey {
                    batch,
                    reason: format!(
                        "{blob_key} names a {} blob, not a witness input",
                        other.kind().name()
                    ),
                })
            }
            Err(e) => {
                return Err(BasicWitnessError::InputKey {
                    batch,
                    reason: format!("{blob_key}: {e}"),
                })
            }
        };
        self.store
            .get::<WitnessInputBytes>(&key)
            .await
            .map(WitnessInputBytes::into_bytes)
            .map_err(|source| BasicWitnessError::LoadInput {
                batch,
                source: Box::new(source),
            })
    }
}

impl JobPicker for BasicPicker {
    type Input = LoadedInput<Bytes, BasicWitnessError>;
    type Metadata = BasicJobMeta;
    type Error = DalError;

    /// A job whose input cannot be loaded goes on with the cause, as the runner's convention
    /// has it (`zkfleet_runner::JobPicker`): the executor returns it and the saver fails the
    /// job — `failed_permanently` for a bad key or a missing or corrupt blob, `failed` (retried
    /// while attempts last) for a store still down after its retries.
    async fn pick(&mut self) -> Picked<Self> {
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
        let input = self.load(meta.batch, &job.witness_input_blob_key).await;
        match &input {
            Ok(bytes) => {
                info!(batch = %meta.batch, attempts = meta.attempts, size = bytes.len(), "picked basic witness job")
            }
            Err(error) => {
                info!(batch = %meta.batch, attempts = meta.attempts, %error, "picked basic witness job; its input cannot be loaded")
            }
        }
        Ok(Some((input, meta)))
    }
}
