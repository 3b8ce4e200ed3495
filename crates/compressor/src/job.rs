//! A compression job as it travels from the picker to the saver: its identity, for logs,
//! metrics and error texts.

use std::fmt;
use std::time::Instant;

use zkfleet_dal::CompressionJob;
use zkfleet_store::ObjectKey;
use zkfleet_types::{L1BatchId, ProtocolSemanticVersion};

use crate::error::CompressorError;

/// What identifies a picked compression job.
#[derive(Debug, Clone)]
pub struct CompressionJobMeta {
    /// The batch whose scheduler proof is compressed (one compression job per batch).
    pub batch: L1BatchId,
    /// The job's protocol version: part of the final proof's key, so that proofs of two
    /// versions of one batch do not overwrite each other.
    pub protocol_version: ProtocolSemanticVersion,
    /// Attempts so far, this pick included.
    pub attempts: u32,
    /// When the job was picked: its `time_taken` runs from here to completion.
    pub picked_at: Instant,
}

impl CompressionJobMeta {
    /// The identity of `job`, just picked: its `time_taken` starts now.
    pub fn from_job(job: &CompressionJob) -> Self {
        Self {
            batch: job.meta.batch,
            protocol_version: job.meta.protocol_version,
            attempts: job.meta.attempts,
            picked_at: Instant::now(),
        }
    }

    /// Parses the row's scheduler proof key and checks that it is a proof of this job's chain
    /// (a key of another chain would compress another rollup's batch under this job).
    pub fn scheduler_proof_key(&self, key: &str) -> Result<ObjectKey, CompressorError> {
        let parsed = ObjectKey::parse(key).map_err(|e| CompressorError::BadProofKey {
            key: key.to_owned(),
            reason: e.reason,
        })?;
        match parsed {
            ObjectKey::Proof { chain, .. } if chain == self.batch.chain_id => Ok(parsed),
            ObjectKey::Proof { chain, .. } => Err(CompressorError::BadProofKey {
                key: key.to_owned(),
                reason: format!(
                    "it is a proof of chain {chain}, the job is of {}",
                    self.batch
                ),
            }),
            other => Err(CompressorError::BadProofKey {
                key: key.to_owned(),
                reason: format!("it is a {} key", other.kind().name()),
            }),
        }
    }

    /// Where the batch's aux output is (written by basic witness generation).
    pub fn aux_output_key(&self) -> ObjectKey {
        ObjectKey::AuxOutput {
            chain: self.batch.chain_id,
            batch: self.batch.batch_number,
        }
    }

    /// Where the final proof goes.
    pub fn final_proof_key(&self) -> ObjectKey {
        ObjectKey::FinalProof {
            chain: self.batch.chain_id,
            batch: self.batch.batch_number,
            protocol_version: self.protocol_version,
        }
    }
}

impl fmt::Display for CompressionJobMeta {
    /// `compression job of batch 3 of chain 270 (protocol version 0.1.0)`.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "compression job of {} (protocol version {})",
            self.batch, self.protocol_version
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use zkfleet_types::ids::ProverJobId;
    use zkfleet_types::{BatchNumber, ChainId};

    fn job() -> CompressionJobMeta {
        CompressionJobMeta {
            batch: L1BatchId::new(ChainId(270), BatchNumber(3)),
            protocol_version: ProtocolSemanticVersion::new(1, 0),
            attempts: 1,
            picked_at: Instant::now(),
        }
    }

    #[test]
    fn display_and_keys_name_the_batch() {
        let job = job();
        assert_eq!(
            job.to_string(),
            "compression job of batch 3 of chain 270 (protocol version 0.1.0)"
        );
        assert_eq!(job.final_proof_key().path(), "final_proofs/270/3_0.1.0.bin");
        assert_eq!(
            job.aux_output_key().path(),
            "scheduler_witness/270/3/aux_output.bin"
        );
    }

    #[test]
    fn the_scheduler_proof_key_must_be_a_proof_of_the_jobs_chain() {
        let job = job();
        let own = ObjectKey::Proof {
            chain: ChainId(270),
            job: ProverJobId(9),
        };
        assert_eq!(
            job.scheduler_proof_key(&own.path()).expect("own chain"),
            own
        );

        let other_chain = ObjectKey::Proof {
            chain: ChainId(271),
            job: ProverJobId(9),
        }
        .path();
        let error = job
            .scheduler_proof_key(&other_chain)
            .expect_err("another chain");
        assert!(error.to_string().contains("chain 271"), "{error}");

        let aux = job.aux_output_key().path();
        let error = job.scheduler_proof_key(&aux).expect_err("not a proof");
        assert!(error.to_string().contains("aux output"), "{error}");

        assert!(job.scheduler_proof_key("final/3").is_err());
    }
}
