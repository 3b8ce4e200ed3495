//! Prover jobs of every round. The "prover" reads the job's circuit, checks it is the
//! benchmark's placeholder for exactly this job (round, circuit, depth, sequence), and writes
//! a placeholder proof under the job's proof key. It proves nothing: there is no circuit to
//! prove, only the traffic a prover causes in the database and the store.

use std::time::Duration;

use zkfleet_dal::{
    CompleteOutcome, DalResult, HeavySet, JobRef, ProofDone, ProverJob, ProverJobClass,
};
use zkfleet_store::ObjectKey;
use zkfleet_types::ids::ProverJobId;
use zkfleet_types::{AggregationRound, L1BatchId};

use super::{placeholder, Produced, Round};
use crate::error::BenchError;
use crate::fleet::Fleet;
use crate::placeholder::BENCHMARK_PROTOCOL_VERSION;
use crate::probe::{Op, Stage};

pub(crate) struct ProverRound;

#[derive(Debug, Clone)]
pub(crate) struct ProverMeta {
    id: ProverJobId,
    batch: L1BatchId,
    round: AggregationRound,
}

impl Round for ProverRound {
    const NAME: &'static str = "prover";
    const PICK: Op = Op::PickProverJob;
    const COMPLETE: Op = Op::CompleteProverJob;

    type Claimed = ProverJob;
    type Input = ();
    /// The path of the proof.
    type Record = String;
    type Meta = ProverMeta;

    async fn claim(fleet: &Fleet, worker: &str) -> DalResult<Option<ProverJob>> {
        fleet
            .dal
            .pick_prover_job(
                BENCHMARK_PROTOCOL_VERSION,
                ProverJobClass::Any,
                &HeavySet::default(),
                worker,
            )
            .await
    }

    async fn claim_many(fleet: &Fleet, worker: &str, limit: usize) -> DalResult<Vec<ProverJob>> {
        fleet
            .dal
            .pick_prover_jobs(
                BENCHMARK_PROTOCOL_VERSION,
                ProverJobClass::Any,
                &HeavySet::default(),
                worker,
                u32::try_from(limit).unwrap_or(u32::MAX),
            )
            .await
    }

    async fn complete_many(
        fleet: &Fleet,
        jobs: Vec<(ProverMeta, String, Duration)>,
    ) -> DalResult<Vec<CompleteOutcome>> {
        let proofs: Vec<ProofDone> = jobs
            .into_iter()
            .map(|(meta, proof_blob_key, time_taken)| ProofDone {
                id: meta.id,
                proof_blob_key,
                time_taken,
            })
            .collect();
        fleet.dal.complete_prover_jobs(&proofs).await
    }

    async fn load(fleet: &Fleet, job: ProverJob) -> Result<((), ProverMeta), BenchError> {
        let key = ObjectKey::parse(&job.circuit_blob_key)?;
        let expected = ObjectKey::CircuitWitness {
            chain: job.meta.batch.chain_id,
            batch: job.meta.batch.batch_number,
            round: job.aggregation_round,
            circuit: job.circuit_id,
            depth: job.depth,
            sequence: job.sequence_number,
        };
        if key != expected {
            return Err(BenchError::Inconsistent(format!(
                "prover job {} names circuit {key}, expected {expected}",
                job.id
            )));
        }
        fleet.get(&key).await?;
        let meta = ProverMeta {
            id: job.id,
            batch: job.meta.batch,
            round: job.aggregation_round,
        };
        Ok(((), meta))
    }

    fn execute(_fleet: &Fleet, (): (), meta: &ProverMeta) -> Result<Produced<String>, BenchError> {
        let proof = placeholder(ObjectKey::Proof {
            chain: meta.batch.chain_id,
            job: meta.id,
        })?;
        let path = proof.0.path();
        Ok(Produced {
            blobs: vec![proof],
            record: path,
        })
    }

    async fn complete(
        fleet: &Fleet,
        meta: &ProverMeta,
        proof_path: String,
        time_taken: Duration,
    ) -> DalResult<CompleteOutcome> {
        fleet
            .dal
            .complete_prover_job(meta.id, &proof_path, time_taken)
            .await
    }

    fn job(meta: &ProverMeta) -> JobRef {
        JobRef::Prover(meta.id)
    }

    fn stage(meta: &ProverMeta) -> Stage {
        match meta.round {
            AggregationRound::Basic => Stage::BasicProofs,
            AggregationRound::Leaf => Stage::LeafProofs,
            AggregationRound::Node => Stage::NodeProofs,
            AggregationRound::RecursionTip => Stage::RecursionTipProof,
            AggregationRound::Scheduler => Stage::SchedulerProof,
        }
    }
}
