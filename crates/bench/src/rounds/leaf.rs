//! Round 1 witness generation: a leaf job of one basic type reads the type's closed-form
//! inputs and every basic proof of the type, and cuts them into chunks of `arity` proofs: one
//! leaf circuit (round-1 prover job) per chunk, plus the aggregation list the node job of
//! depth 0 reads.

use std::time::Duration;

use zkfleet_dal::{
    CompleteOutcome, DalResult, JobRef, LeafWitnessJob, LeafWitnessOutput, NewAggregationProverJob,
};
use zkfleet_store::ObjectKey;
use zkfleet_types::ids::LeafJobId;
use zkfleet_types::{AggregationRound, CircuitId, L1BatchId};

use super::{placeholder, read_proofs, Produced, Round};
use crate::error::BenchError;
use crate::fleet::Fleet;
use crate::placeholder::BENCHMARK_PROTOCOL_VERSION;
use crate::probe::{Op, Stage};

pub(crate) struct LeafWitnessRound;

#[derive(Debug, Clone)]
pub(crate) struct LeafMeta {
    id: LeafJobId,
    batch: L1BatchId,
    circuit: CircuitId,
}

impl Round for LeafWitnessRound {
    const NAME: &'static str = "leaf_witness_generator";
    const PICK: Op = Op::PickWitnessJob;
    const COMPLETE: Op = Op::CompleteWitnessJob;

    type Claimed = LeafWitnessJob;
    /// The number of basic proofs read.
    type Input = u32;
    type Record = LeafWitnessOutput;
    type Meta = LeafMeta;

    async fn claim(fleet: &Fleet, worker: &str) -> DalResult<Option<LeafWitnessJob>> {
        fleet
            .dal
            .pick_leaf_witness_job(BENCHMARK_PROTOCOL_VERSION, worker)
            .await
    }

    async fn load(fleet: &Fleet, job: LeafWitnessJob) -> Result<(u32, LeafMeta), BenchError> {
        let what = format!("leaf witness job {}", job.id);
        fleet.get_path(&job.closed_form_inputs_blob_key).await?;
        read_proofs(
            fleet,
            &what,
            &job.basic_proofs,
            job.number_of_basic_circuits,
        )
        .await?;
        let meta = LeafMeta {
            id: job.id,
            batch: job.meta.batch,
            circuit: job.circuit_id,
        };
        Ok((job.number_of_basic_circuits, meta))
    }

    fn execute(
        fleet: &Fleet,
        proofs: u32,
        meta: &LeafMeta,
    ) -> Result<Produced<LeafWitnessOutput>, BenchError> {
        let (chain, batch) = (meta.batch.chain_id, meta.batch.batch_number);
        let leaves = proofs.div_ceil(fleet.arity);
        let mut blobs = Vec::with_capacity(leaves as usize + 1);
        let mut prover_jobs = Vec::with_capacity(leaves as usize);
        for sequence in 0..leaves {
            let (key, payload) = placeholder(ObjectKey::CircuitWitness {
                chain,
                batch,
                round: AggregationRound::Leaf,
                circuit: meta.circuit,
                depth: 0,
                sequence,
            })?;
            prover_jobs.push(NewAggregationProverJob {
                sequence_number: sequence,
                circuit_blob_key: key.path(),
            });
            blobs.push((key, payload));
        }
        let aggregations = placeholder(ObjectKey::AggregationList {
            chain,
            batch,
            circuit: meta.circuit,
            depth: 0,
        })?;
        let node_aggregations_blob_key = Some(aggregations.0.path());
        blobs.push(aggregations);
        Ok(Produced {
            blobs,
            record: LeafWitnessOutput {
                prover_jobs,
                node_aggregations_blob_key,
            },
        })
    }

    async fn complete(
        fleet: &Fleet,
        meta: &LeafMeta,
        record: LeafWitnessOutput,
        time_taken: Duration,
    ) -> DalResult<CompleteOutcome> {
        fleet
            .dal
            .complete_leaf_witness_job(meta.id, &record, time_taken)
            .await
    }

    fn job(meta: &LeafMeta) -> JobRef {
        JobRef::LeafWitness(meta.id)
    }

    fn stage(_: &LeafMeta) -> Stage {
        Stage::LeafWitness
    }
}
