//! Round 2 witness generation: a node job of one type at depth d reads its aggregation list
//! and the proofs it aggregates (the type's leaf proofs at depth 0, its node proofs of depth
//! d − 1 otherwise) and cuts them into chunks of `arity`: one node circuit per chunk. A single
//! chunk is the type's final node proof; more need the node job of depth d + 1, whose
//! aggregation list is written here.

use std::time::Duration;

use zkfleet_dal::{
    CompleteOutcome, DalResult, JobRef, NewAggregationProverJob, NodeWitnessJob, NodeWitnessOutput,
};
use zkfleet_store::ObjectKey;
use zkfleet_types::ids::NodeJobId;
use zkfleet_types::{AggregationRound, CircuitId, L1BatchId};

use super::{placeholder, read_proofs, Produced, Round};
use crate::error::BenchError;
use crate::fleet::Fleet;
use crate::placeholder::BENCHMARK_PROTOCOL_VERSION;
use crate::probe::{Op, Stage};

pub(crate) struct NodeWitnessRound;

#[derive(Debug, Clone)]
pub(crate) struct NodeMeta {
    id: NodeJobId,
    batch: L1BatchId,
    circuit: CircuitId,
    depth: u32,
}

impl Round for NodeWitnessRound {
    const NAME: &'static str = "node_witness_generator";
    const PICK: Op = Op::PickWitnessJob;
    const COMPLETE: Op = Op::CompleteWitnessJob;

    type Claimed = NodeWitnessJob;
    /// The number of proofs read.
    type Input = u32;
    type Record = NodeWitnessOutput;
    type Meta = NodeMeta;

    async fn claim(fleet: &Fleet, worker: &str) -> DalResult<Option<NodeWitnessJob>> {
        fleet
            .dal
            .pick_node_witness_job(BENCHMARK_PROTOCOL_VERSION, worker)
            .await
    }

    async fn load(fleet: &Fleet, job: NodeWitnessJob) -> Result<(u32, NodeMeta), BenchError> {
        let what = format!("node witness job {} (depth {})", job.id, job.depth);
        let aggregations = job.aggregations_blob_key.as_deref().ok_or_else(|| {
            BenchError::Inconsistent(format!("{what} was queued without its aggregation list"))
        })?;
        fleet.get_path(aggregations).await?;
        let count = u32::try_from(job.proofs.len())
            .map_err(|_| BenchError::Inconsistent(format!("{what}: too many proofs")))?;
        if count == 0 {
            return Err(BenchError::Inconsistent(format!(
                "{what} was queued with no proof to aggregate"
            )));
        }
        read_proofs(fleet, &what, &job.proofs, count).await?;
        let meta = NodeMeta {
            id: job.id,
            batch: job.meta.batch,
            circuit: job.circuit_id,
            depth: job.depth,
        };
        Ok((count, meta))
    }

    fn execute(
        fleet: &Fleet,
        proofs: u32,
        meta: &NodeMeta,
    ) -> Result<Produced<NodeWitnessOutput>, BenchError> {
        let (chain, batch) = (meta.batch.chain_id, meta.batch.batch_number);
        let nodes = proofs.div_ceil(fleet.arity);
        let mut blobs = Vec::with_capacity(nodes as usize + 1);
        let mut prover_jobs = Vec::with_capacity(nodes as usize);
        for sequence in 0..nodes {
            let (key, payload) = placeholder(ObjectKey::CircuitWitness {
                chain,
                batch,
                round: AggregationRound::Node,
                circuit: meta.circuit,
                depth: meta.depth,
                sequence,
            })?;
            prover_jobs.push(NewAggregationProverJob {
                sequence_number: sequence,
                circuit_blob_key: key.path(),
            });
            blobs.push((key, payload));
        }
        let next_aggregations_blob_key = if nodes > 1 {
            let next = placeholder(ObjectKey::AggregationList {
                chain,
                batch,
                circuit: meta.circuit,
                depth: meta.depth + 1,
            })?;
            let path = next.0.path();
            blobs.push(next);
            Some(path)
        } else {
            None
        };
        Ok(Produced {
            blobs,
            record: NodeWitnessOutput {
                prover_jobs,
                next_aggregations_blob_key,
            },
        })
    }

    async fn complete(
        fleet: &Fleet,
        meta: &NodeMeta,
        record: NodeWitnessOutput,
        time_taken: Duration,
    ) -> DalResult<CompleteOutcome> {
        fleet
            .dal
            .complete_node_witness_job(meta.id, &record, time_taken)
            .await
    }

    fn job(meta: &NodeMeta) -> JobRef {
        JobRef::NodeWitness(meta.id)
    }

    fn stage(_: &NodeMeta) -> Stage {
        Stage::NodeWitness
    }
}
