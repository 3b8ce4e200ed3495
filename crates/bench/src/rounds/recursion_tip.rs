//! Round 3 witness generation: the recursion tip job of the batch reads the final node proof
//! of every basic type and produces the recursion tip circuit.

use std::time::Duration;

use zkfleet_dal::{CompleteOutcome, DalResult, JobRef, RecursionTipWitnessJob};
use zkfleet_store::ObjectKey;
use zkfleet_types::{AggregationRound, CircuitId, L1BatchId};

use super::{placeholder, Produced, Round};
use crate::error::BenchError;
use crate::fleet::Fleet;
use crate::placeholder::BENCHMARK_PROTOCOL_VERSION;
use crate::probe::{Op, Stage};

pub(crate) struct RecursionTipWitnessRound;

impl Round for RecursionTipWitnessRound {
    const NAME: &'static str = "recursion_tip_witness_generator";
    const PICK: Op = Op::PickWitnessJob;
    const COMPLETE: Op = Op::CompleteWitnessJob;

    type Claimed = RecursionTipWitnessJob;
    type Input = ();
    /// The path of the recursion tip circuit.
    type Record = String;
    type Meta = L1BatchId;

    async fn claim(fleet: &Fleet, worker: &str) -> DalResult<Option<RecursionTipWitnessJob>> {
        fleet
            .dal
            .pick_recursion_tip_witness_job(BENCHMARK_PROTOCOL_VERSION, worker)
            .await
    }

    async fn load(
        fleet: &Fleet,
        job: RecursionTipWitnessJob,
    ) -> Result<((), L1BatchId), BenchError> {
        let batch = job.meta.batch;
        if job.final_node_proofs.len() != job.number_of_final_node_jobs as usize {
            return Err(BenchError::Inconsistent(format!(
                "recursion tip job of {batch} expects {} final node proofs, got {}",
                job.number_of_final_node_jobs,
                job.final_node_proofs.len()
            )));
        }
        fleet
            .get_all(
                job.final_node_proofs
                    .iter()
                    .map(|p| p.proof_blob_key.clone())
                    .collect(),
            )
            .await?;
        Ok(((), batch))
    }

    fn execute(_fleet: &Fleet, (): (), batch: &L1BatchId) -> Result<Produced<String>, BenchError> {
        let circuit = placeholder(ObjectKey::CircuitWitness {
            chain: batch.chain_id,
            batch: batch.batch_number,
            round: AggregationRound::RecursionTip,
            circuit: CircuitId::RECURSION_TIP,
            depth: 0,
            sequence: 0,
        })?;
        let path = circuit.0.path();
        Ok(Produced {
            blobs: vec![circuit],
            record: path,
        })
    }

    async fn complete(
        fleet: &Fleet,
        batch: &L1BatchId,
        circuit_path: String,
        time_taken: Duration,
    ) -> DalResult<CompleteOutcome> {
        fleet
            .dal
            .complete_recursion_tip_witness_job(*batch, &circuit_path, time_taken)
            .await
    }

    fn job(batch: &L1BatchId) -> JobRef {
        JobRef::RecursionTipWitness(*batch)
    }

    fn stage(_: &L1BatchId) -> Stage {
        Stage::RecursionTipWitness
    }
}
