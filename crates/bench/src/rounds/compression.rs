//! Compression: reads the scheduler proof and the batch's aux output and writes the final
//! proof, a placeholder stored as raw bytes (payload version 0), which the gateway (reading a
//! structured final proof, payload version 1) refuses. Its completion ends the run.

use std::time::Duration;

use zkfleet_dal::{CompleteOutcome, CompressionJob, DalResult, JobRef};
use zkfleet_store::ObjectKey;
use zkfleet_types::{L1BatchId, ProtocolSemanticVersion};

use super::{placeholder, Produced, Round};
use crate::error::BenchError;
use crate::fleet::Fleet;
use crate::placeholder::BENCHMARK_PROTOCOL_VERSION;
use crate::probe::{Op, Stage};

pub(crate) struct CompressionRound;

#[derive(Debug, Clone)]
pub(crate) struct CompressionMeta {
    batch: L1BatchId,
    protocol_version: ProtocolSemanticVersion,
}

impl Round for CompressionRound {
    const NAME: &'static str = "proof_compressor";
    const PICK: Op = Op::PickCompressionJob;
    const COMPLETE: Op = Op::CompleteCompressionJob;

    type Claimed = CompressionJob;
    type Input = ();
    /// The path of the final proof.
    type Record = String;
    type Meta = CompressionMeta;

    async fn claim(fleet: &Fleet, worker: &str) -> DalResult<Option<CompressionJob>> {
        fleet
            .dal
            .pick_compression_job(BENCHMARK_PROTOCOL_VERSION, worker)
            .await
    }

    async fn load(fleet: &Fleet, job: CompressionJob) -> Result<((), CompressionMeta), BenchError> {
        let batch = job.meta.batch;
        let aux_output = ObjectKey::AuxOutput {
            chain: batch.chain_id,
            batch: batch.batch_number,
        };
        fleet
            .get_all(vec![job.scheduler_proof_blob_key, aux_output.path()])
            .await?;
        let meta = CompressionMeta {
            batch,
            protocol_version: job.meta.protocol_version,
        };
        Ok(((), meta))
    }

    fn execute(
        _fleet: &Fleet,
        (): (),
        meta: &CompressionMeta,
    ) -> Result<Produced<String>, BenchError> {
        let final_proof = placeholder(ObjectKey::FinalProof {
            chain: meta.batch.chain_id,
            batch: meta.batch.batch_number,
            protocol_version: meta.protocol_version,
        })?;
        let path = final_proof.0.path();
        Ok(Produced {
            blobs: vec![final_proof],
            record: path,
        })
    }

    async fn complete(
        fleet: &Fleet,
        meta: &CompressionMeta,
        final_proof_path: String,
        time_taken: Duration,
    ) -> DalResult<CompleteOutcome> {
        fleet
            .dal
            .complete_compression_job(meta.batch, &final_proof_path, time_taken)
            .await
    }

    fn job(meta: &CompressionMeta) -> JobRef {
        JobRef::Compression(meta.batch)
    }

    fn stage(_: &CompressionMeta) -> Stage {
        Stage::Compression
    }

    fn after_completion(fleet: &Fleet, _meta: &CompressionMeta) {
        fleet.done.notify_one();
    }
}
